/*
 * cnn.c — a small convolutional net on a built-in image task, and what the diagnostics say about it.
 *
 * The task: 16 x 16 grey images of six shapes (a horizontal bar, a vertical bar, the two diagonals, a hollow
 * square, a plus sign) at random places, sizes and brightness, over noise, drawn from a seed.  The net:
 * conv 3x3 -> 8, ReLU, max-pool 2, conv 3x3 -> 16, ReLU, max-pool 2, flatten, dense 6; softmax
 * cross-entropy, Adam.  It prints the held-out accuracy (the target is 95 %) and the per-layer verdicts.
 * Then the same net with sigmoid in place of ReLU is trained for the same steps: its diagnostics say the
 * gradient vanishes on the way down to the first filters, where the ReLU net's are healthy.
 *
 *   cnn              train both, print accuracy and verdicts; exit 1 if the ReLU net misses 95 %
 *   cnn --report     also print both nets' text reports (with the filter maps of the conv layers)
 *   cnn --svg PREFIX also write PREFIX-relu.svg and PREFIX-sigmoid.svg, the charts
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradflow.h"

#define SIDE 16
#define PIXELS (SIDE * SIDE)
#define CLASSES 6
#define TRAIN 3000
#define TEST 1000

static const char *const class_names[CLASSES] = {"h-bar", "v-bar", "diagonal", "anti-diagonal", "square", "plus"};

/* ---- the image task, from a seed ---- */

static uint64_t lcg;
static double uniform(void)
{
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(lcg >> 11) / 9007199254740992.0;
}
static int below(int n) { return (int)(uniform() * n); }

static void plot(float *img, int y, int x, float v)
{
    if (y >= 0 && y < SIDE && x >= 0 && x < SIDE)
        img[y * SIDE + x] = v;
}

/* One image of class c: the shape at a random place, size and brightness, then noise. */
static void draw(float *img, int c)
{
    for (int i = 0; i < PIXELS; i++)
        img[i] = (float)(0.15 * uniform());
    int len = 7 + below(6), y0 = below(SIDE - len + 1), x0 = below(SIDE - len + 1);
    float v = (float)(0.6 + 0.4 * uniform());
    int mid = len / 2;
    for (int k = 0; k < len; k++) {
        switch (c) {
        case 0: plot(img, y0 + mid, x0 + k, v); break;
        case 1: plot(img, y0 + k, x0 + mid, v); break;
        case 2: plot(img, y0 + k, x0 + k, v); break;
        case 3: plot(img, y0 + k, x0 + len - 1 - k, v); break;
        case 4:
            plot(img, y0, x0 + k, v), plot(img, y0 + len - 1, x0 + k, v);
            plot(img, y0 + k, x0, v), plot(img, y0 + k, x0 + len - 1, v);
            break;
        default: plot(img, y0 + mid, x0 + k, v), plot(img, y0 + k, x0 + mid, v); break;
        }
    }
}

static void make_set(float *x, float *labels, int n)
{
    for (int i = 0; i < n; i++) {
        int c = i % CLASSES;
        draw(x + (size_t)i * PIXELS, c);
        labels[i] = (float)c;
    }
}

/* ---- the net ---- */

#define CHECK(call)                                                                                                  \
    do {                                                                                                             \
        int rc_ = (call);                                                                                            \
        if (rc_) {                                                                                                   \
            fprintf(stderr, "cnn: %s failed: %s (%s)\n", #call, gf_strerror(rc_), gf_last_error());                 \
            exit(1);                                                                                                 \
        }                                                                                                            \
    } while (0)

static gf_net *build(int32_t act)
{
    gf_net *net;
    const int64_t dims[3] = {1, SIDE, SIDE};
    CHECK(gf_net_create_shaped(&net, GF_SHAPE_IMAGE, dims, 3, 7));
    CHECK(gf_net_add_conv2d(net, 8, 3, 1, 1, act, NULL));
    CHECK(gf_net_add_maxpool2d(net, 2, 0, NULL));
    CHECK(gf_net_add_conv2d(net, 16, 3, 1, 1, act, NULL));
    CHECK(gf_net_add_maxpool2d(net, 2, 0, NULL));
    CHECK(gf_net_add_flatten(net, NULL));
    CHECK(gf_net_add_dense(net, CLASSES, GF_ACT_IDENTITY, NULL));
    gf_loss *loss;
    CHECK(gf_loss_create(&loss, GF_LOSS_SOFTMAX_CE_LABELS));
    CHECK(gf_net_set_loss(net, loss));
    gf_loss_destroy(loss);
    gf_optimizer *opt;
    CHECK(gf_optimizer_create(&opt, GF_OPT_ADAM, 3e-3));
    CHECK(gf_net_set_optimizer(net, opt));
    return net;
}

static double accuracy(gf_net *net, const float *x, const float *labels, int n)
{
    static float y[TEST * CLASSES];
    CHECK(gf_net_predict(net, x, (size_t)n * PIXELS, n, y, (size_t)n * CLASSES));
    int right = 0;
    for (int i = 0; i < n; i++) {
        int best = 0;
        for (int c = 1; c < CLASSES; c++)
            if (y[i * CLASSES + c] > y[i * CLASSES + best])
                best = c;
        right += best == (int)labels[i];
    }
    return (double)right / n;
}

/* Trains with the diagnostics observing, prints accuracy and every layer's verdict; returns the accuracy. */
static const char *svg_prefix;

static double train_and_judge(const char *name, int32_t act, int epochs, const float *xtr, const float *ltr,
                              const float *xte, const float *lte, int32_t *net_verdict, bool report)
{
    gf_net *net = build(act);
    gf_diag *d;
    CHECK(gf_diag_create(&d, net));
    CHECK(gf_diag_enable(d, 1));
    CHECK(gf_diag_set_option(d, GF_DIAG_EVERY, 10));
    double mean = 0;
    CHECK(gf_net_fit(net, xtr, (size_t)TRAIN * PIXELS, ltr, TRAIN, TRAIN, 32, epochs, NULL, NULL, &mean));
    double acc = accuracy(net, xte, lte, TEST);
    printf("%s net: %d epochs, training loss %.4f, held-out accuracy %.1f %% (%d images)\n", name, epochs, mean,
           100.0 * acc, TEST);
    for (int32_t i = 0; i < gf_net_layer_count(net); i++) {
        int32_t v;
        double g;
        CHECK(gf_diag_verdict(d, i, &v));
        CHECK(gf_diag_value(d, i, GF_STAT_DELTA_PRE_RMS, &g));
        printf("  layer %d %-9s delta rms %9.3g  %s\n", (int)i, gf_layer_kind_name(gf_layer_kind(gf_net_layer(net, i))),
               g, gf_verdict_name(v));
    }
    char text[2048];
    size_t need;
    CHECK(gf_diag_verdict(d, -1, net_verdict));
    CHECK(gf_diag_verdict_reason(d, -1, text, sizeof text, &need));
    printf("  net: %s\n  reason: %s\n", gf_verdict_name(*net_verdict), text);
    CHECK(gf_diag_verdict_remedy(d, -1, text, sizeof text, &need));
    printf("  remedy: %s\n", text);
    if (report) {
        CHECK(gf_diag_report(d, GF_REPORT_TEXT, NULL, 0, &need));
        char *buf = malloc(need);
        if (buf && !gf_diag_report(d, GF_REPORT_TEXT, buf, need, &need))
            fputs(buf, stdout);
        free(buf);
    }
    if (svg_prefix) {
        char path[512];
        snprintf(path, sizeof path, "%s-%s.svg", svg_prefix, act == GF_ACT_RELU ? "relu" : "sigmoid");
        CHECK(gf_diag_report_file(d, GF_REPORT_SVG, path));
        printf("  chart: %s\n", path);
    }
    gf_diag_destroy(d);
    gf_net_destroy(net);
    return acc;
}

int main(int argc, char **argv)
{
    bool report = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--report"))
            report = true;
        else if (!strcmp(argv[i], "--svg") && i + 1 < argc)
            svg_prefix = argv[++i];
        else {
            fprintf(stderr, "usage: cnn [--report] [--svg PREFIX]\n");
            return 2;
        }
    }
    static float xtr[TRAIN * PIXELS], ltr[TRAIN], xte[TEST * PIXELS], lte[TEST];
    lcg = 2024;
    make_set(xtr, ltr, TRAIN);
    make_set(xte, lte, TEST);
    printf("task: %d training and %d held-out 16x16 images of %d shapes (", TRAIN, TEST, CLASSES);
    for (int c = 0; c < CLASSES; c++)
        printf("%s%s", c ? ", " : "", class_names[c]);
    printf(")\n");
    int32_t relu_verdict, sigmoid_verdict;
    double acc = train_and_judge("ReLU", GF_ACT_RELU, 8, xtr, ltr, xte, lte, &relu_verdict, report);
    train_and_judge("sigmoid", GF_ACT_SIGMOID, 8, xtr, ltr, xte, lte, &sigmoid_verdict, report);
    if (acc < 0.95) {
        fprintf(stderr, "cnn: held-out accuracy %.1f %% is under 95 %%\n", 100.0 * acc);
        return 1;
    }
    return 0;
}
