/*
 * signals.c — a 1-D convolutional net classifies synthetic signals: a sine, a square wave and noise, each
 * 64 samples long at a random frequency, phase and amplitude, over noise, drawn from a seed.
 * conv1d 5 -> 8 ReLU, max-pool 2, conv1d 5 -> 16 ReLU, global average pooling, dense 3; softmax
 * cross-entropy, Adam.  Prints the held-out accuracy (exit 1 under 95 %) and the conv layers' filter maps.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "gradflow.h"

#define LEN 64
#define CLASSES 3
#define TRAIN 1500
#define TEST 600

static uint64_t lcg;
static double uniform(void)
{
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(lcg >> 11) / 9007199254740992.0;
}

/* Class 0 a sine, 1 a square wave, 2 noise alone; 2 to 6 periods over the signal. */
static void draw(float *s, int c)
{
    const double pi = 3.14159265358979323846;
    double periods = 2 + 4 * uniform(), phase = 2 * pi * uniform(), amp = 0.5 + uniform();
    for (int t = 0; t < LEN; t++) {
        double w = sin(2 * pi * periods * t / LEN + phase), v = c == 0 ? w : c == 1 ? (w >= 0 ? 1 : -1) : 0;
        s[t] = (float)(amp * v + (c == 2 ? 1.0 : 0.3) * (2 * uniform() - 1));
    }
}

#define CHECK(call)                                                                                                  \
    do {                                                                                                             \
        int rc_ = (call);                                                                                            \
        if (rc_) {                                                                                                   \
            fprintf(stderr, "signals: %s failed: %s (%s)\n", #call, gf_strerror(rc_), gf_last_error());             \
            exit(1);                                                                                                 \
        }                                                                                                            \
    } while (0)

int main(void)
{
    static float xtr[TRAIN * LEN], ltr[TRAIN], xte[TEST * LEN], lte[TEST], y[TEST * CLASSES];
    lcg = 7;
    for (int i = 0; i < TRAIN; i++)
        draw(xtr + i * LEN, i % CLASSES), ltr[i] = (float)(i % CLASSES);
    for (int i = 0; i < TEST; i++)
        draw(xte + i * LEN, i % CLASSES), lte[i] = (float)(i % CLASSES);

    gf_net *net;
    const int64_t dims[2] = {1, LEN}; /* SIGNAL: channels x length */
    CHECK(gf_net_create_shaped(&net, GF_SHAPE_SIGNAL, dims, 2, 3));
    CHECK(gf_net_add_conv1d(net, 8, 5, 1, 2, GF_ACT_RELU, NULL));
    CHECK(gf_net_add_maxpool1d(net, 2, 0, NULL));
    CHECK(gf_net_add_conv1d(net, 16, 5, 1, 2, GF_ACT_RELU, NULL));
    CHECK(gf_net_add_global_avgpool(net, NULL));
    CHECK(gf_net_add_dense(net, CLASSES, GF_ACT_IDENTITY, NULL));
    gf_loss *loss;
    CHECK(gf_loss_create(&loss, GF_LOSS_SOFTMAX_CE_LABELS));
    CHECK(gf_net_set_loss(net, loss));
    gf_loss_destroy(loss);
    gf_optimizer *opt;
    CHECK(gf_optimizer_create(&opt, GF_OPT_ADAM, 3e-3));
    CHECK(gf_net_set_optimizer(net, opt));
    gf_diag *d;
    CHECK(gf_diag_create(&d, net));
    CHECK(gf_diag_enable(d, 1));
    CHECK(gf_diag_set_option(d, GF_DIAG_EVERY, 10));

    double mean;
    CHECK(gf_net_fit(net, xtr, TRAIN * LEN, ltr, TRAIN, TRAIN, 32, 15, NULL, NULL, &mean));
    CHECK(gf_net_predict(net, xte, TEST * LEN, TEST, y, TEST * CLASSES));
    int right = 0;
    for (int i = 0; i < TEST; i++) {
        int best = 0;
        for (int c = 1; c < CLASSES; c++)
            if (y[i * CLASSES + c] > y[i * CLASSES + best])
                best = c;
        right += best == (int)lte[i];
    }
    double acc = (double)right / TEST;
    printf("sine / square / noise, %d samples each of length %d: training loss %.4f, held-out accuracy %.1f %%\n",
           TRAIN / CLASSES, LEN, mean, 100 * acc);
    int32_t v;
    CHECK(gf_diag_verdict(d, -1, &v));
    printf("diagnostics: net %s\n", gf_verdict_name(v));
    for (int32_t i = 0; i <= 2; i += 2) { /* the conv layers */
        double dead[16];
        int64_t n;
        CHECK(gf_diag_series(d, i, GF_SERIES_DEAD_CHANNELS, dead, 16, &n));
        printf("  layer %d conv1d: %lld dead filter maps\n", (int)i, (long long)n);
    }
    gf_diag_destroy(d);
    gf_net_destroy(net);
    if (acc < 0.95) {
        fprintf(stderr, "signals: held-out accuracy %.1f %% is under 95 %%\n", 100 * acc);
        return 1;
    }
    return 0;
}
