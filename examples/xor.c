/* xor.c — the smallest real problem a linear model cannot solve: a 2-8-1 net learns XOR. */
#include <stdio.h>

#include "gradflow.h"

static int check(int rc, const char *what)
{
    if (rc != GF_OK)
        fprintf(stderr, "xor: %s failed: %s (%s)\n", what, gf_strerror(rc), gf_last_error());
    return rc;
}

int main(void)
{
    const float x[8] = {0, 0, 0, 1, 1, 0, 1, 1};
    const float t[4] = {0, 1, 1, 0};
    gf_net *net = NULL;
    gf_optimizer *opt = NULL;
    gf_loss *loss = NULL;
    double mean = 1.0;
    int rc;
    if ((rc = check(gf_net_create(&net, 2, 2024), "create")) ||
        (rc = check(gf_net_add_dense(net, 8, GF_ACT_TANH, NULL), "add hidden")) ||
        (rc = check(gf_net_add_dense(net, 1, GF_ACT_IDENTITY, NULL), "add output")) ||
        (rc = check(gf_loss_create(&loss, GF_LOSS_BCE_LOGITS), "loss")) ||
        (rc = check(gf_net_set_loss(net, loss), "set loss")) ||
        (rc = check(gf_optimizer_create(&opt, GF_OPT_ADAM, 0.05), "optimizer")) ||
        (rc = check(gf_net_set_optimizer(net, opt), "set optimizer")))
        goto done;
    opt = NULL; /* the net owns it now */
    if ((rc = check(gf_net_fit(net, x, 8, t, 4, 4, 4, 2000, NULL, NULL, &mean), "fit")))
        goto done;
    float y[4];
    if ((rc = check(gf_net_predict(net, x, 8, 4, y, 4), "predict")))
        goto done;
    printf("xor after 2000 epochs: loss %.5f\n", mean);
    for (int i = 0; i < 4; i++)
        printf("  %g xor %g -> logit %+.3f (target %g)\n", x[2 * i], x[2 * i + 1], y[i], t[i]);
    if (mean >= 0.01) {
        fprintf(stderr, "xor: loss %.5f did not reach 0.01\n", mean);
        rc = 1;
    }
done:
    gf_optimizer_destroy(opt);
    gf_loss_destroy(loss);
    gf_net_destroy(net);
    return rc ? 1 : 0;
}
