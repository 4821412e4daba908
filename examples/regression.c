/* regression.c — fit sin(x) on [-pi, pi] with a 1-32-32-1 tanh net to a mean squared error below 1e-3. */
#include <math.h>
#include <stdio.h>

#include "gradflow.h"

#define N 256
#define PI 3.14159265358979323846

static int report(void *user, int32_t epoch, double loss)
{
    (void)user;
    if ((epoch + 1) % 500 == 0)
        printf("  epoch %4d  mse %.6f\n", (int)epoch + 1, loss);
    return loss < 2e-4; /* good enough: stop early */
}

int main(void)
{
    static float x[N], t[N];
    for (int i = 0; i < N; i++) {
        x[i] = (float)(-PI + 2 * PI * i / (N - 1));
        t[i] = (float)sin(x[i]);
    }
    gf_net *net = NULL;
    gf_optimizer *opt = NULL;
    int rc;
    if ((rc = gf_net_create(&net, 1, 7)) || (rc = gf_net_add_dense(net, 32, GF_ACT_TANH, NULL)) ||
        (rc = gf_net_add_dense(net, 32, GF_ACT_TANH, NULL)) || (rc = gf_net_add_dense(net, 1, GF_ACT_IDENTITY, NULL)) ||
        (rc = gf_optimizer_create(&opt, GF_OPT_ADAM, 0.01)) || (rc = gf_net_set_optimizer(net, opt))) {
        fprintf(stderr, "regression: setup failed: %s (%s)\n", gf_strerror(rc), gf_last_error());
        gf_optimizer_destroy(opt);
        gf_net_destroy(net);
        return 1;
    }
    double mse = 1.0;
    rc = gf_net_fit(net, x, N, t, N, N, 32, 3000, report, NULL, &mse);
    if (!rc)
        rc = gf_net_evaluate(net, x, N, t, N, N, &mse);
    if (rc) {
        fprintf(stderr, "regression: %s (%s)\n", gf_strerror(rc), gf_last_error());
        gf_net_destroy(net);
        return 1;
    }
    printf("sin(x) on [-pi, pi]: final mse %.6f (target < 1e-3)\n", mse);
    gf_net_destroy(net);
    return mse < 1e-3 ? 0 : 1;
}
