/* demo.c — placeholder flagship demo: trains XOR and prints the net (replaced by the diagnostics demo). */
#include <stdio.h>

#include "gradflow.h"

int main(void)
{
    const float x[8] = {0, 0, 0, 1, 1, 0, 1, 1}, t[4] = {0, 1, 1, 0};
    gf_net *net;
    gf_optimizer *opt;
    double loss = 0;
    char desc[1024];
    if (gf_net_create(&net, 2, 1) || gf_net_add_dense(net, 8, GF_ACT_TANH, NULL) ||
        gf_net_add_dense(net, 1, GF_ACT_SIGMOID, NULL) || gf_optimizer_create(&opt, GF_OPT_ADAM, 0.05) ||
        gf_net_set_optimizer(net, opt) || gf_net_fit(net, x, 8, t, 4, 4, 4, 1000, NULL, NULL, &loss) ||
        gf_net_describe(net, desc, sizeof desc, NULL)) {
        fprintf(stderr, "demo: %s\n", gf_last_error());
        return 1;
    }
    printf("libgradflow %s\n%sXOR loss after 1000 epochs: %.5f\n", gf_version_string(), desc, loss);
    gf_net_destroy(net);
    return 0;
}
