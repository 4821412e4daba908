/*
 * examples/consumer/main.c — a program outside this tree that uses an installed
 * libgradflow: built by the CMakeLists.txt and the Makefile beside it, shared and
 * static.  It checks that header and library are the same release, trains XOR
 * and prints the net's verdict; exit status 0 when all of that worked.
 */
#include <gradflow.h>

#include <stdio.h>

#define CHECK(call)                                                                      \
    do {                                                                                 \
        if ((rc = (call)) != GF_OK) {                                                    \
            fprintf(stderr, "consumer: %s: %s\n", #call, gf_last_error());               \
            goto done;                                                                   \
        }                                                                                \
    } while (0)

int main(void)
{
    static const float x[4 * 2] = {0, 0, 0, 1, 1, 0, 1, 1};
    static const float y[4 * 1] = {0, 1, 1, 0};
    gf_net *net = NULL;
    gf_diag *diag = NULL;
    gf_optimizer *opt = NULL;
    double loss = 0.0;
    int32_t verdict = GF_VERDICT_UNKNOWN;
    int rc = GF_OK;

    if (gf_version() != GF_VERSION_NUMBER) {
        fprintf(stderr, "consumer: header %s but library %s\n", GF_VERSION_STRING, gf_version_string());
        return 1;
    }
    CHECK(gf_net_create(&net, 2, /*seed*/ 1));
    CHECK(gf_net_add_dense(net, 8, GF_ACT_TANH, NULL));
    CHECK(gf_net_add_dense(net, 1, GF_ACT_SIGMOID, NULL));
    CHECK(gf_optimizer_create(&opt, GF_OPT_ADAM, 0.05));
    CHECK(gf_net_set_optimizer(net, opt)); /* the net owns it from here */
    opt = NULL;
    CHECK(gf_diag_create(&diag, net));
    for (int step = 0; step < 1000; step++)
        CHECK(gf_net_train_step(net, x, 8, y, 4, 4, &loss));
    CHECK(gf_diag_verdict(diag, -1, &verdict));
    printf("consumer: libgradflow %s, XOR loss %.4f, verdict %s\n", gf_version_string(), loss,
           gf_verdict_name(verdict));
    if (!(loss < 0.01)) {
        fprintf(stderr, "consumer: XOR did not train (loss %g)\n", loss);
        rc = GF_ERR_STATE;
    }
done:
    gf_optimizer_destroy(opt);
    gf_diag_destroy(diag);
    gf_net_destroy(net);
    return rc == GF_OK ? 0 : 1;
}
