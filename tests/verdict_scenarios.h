/*
 * verdict_scenarios.h — the verdict accuracy suite: nets whose right verdict follows from the literature, built,
 * probed and trained through the public API, and the figures that say how often the verdict was right.
 *
 * Shared by bench/verdict_bench.c (`make verdict-bench`: every scenario x 8 seeds) and tests/test_accuracy.c (a fast
 * subset under `make check`).  Each scenario's expected verdict is derived in the comment above its table row; the
 * thresholds it meets are in docs/verdicts.md.  The notation: n is the width, L the number of hidden layers, sigma_w^2
 * the weight variance times fan_in, chi the per-layer gain of the squared backpropagated signal (Poole et al. 2016,
 * Schoenholz et al. 2017: chi = sigma_w^2 E[phi'(z)^2]), so the end-to-end gain of delta is about chi^(L/2).
 *
 * A scenario-seed is correct when the verdict after training (and, for the init scenarios, after the probe too)
 * is the expected one.  On healthy scenarios every step's verdict is read: a healthy -> non-healthy change is a flip.
 */
#ifndef GF_VERDICT_SCENARIOS_H
#define GF_VERDICT_SCENARIOS_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradflow.h"

#define VS_SEEDS 8
#define VS_MAX_IN 256
#define VS_POINTS 512

enum vs_data {
    VS_TEACHER,  /* x ~ N(0, 1)^16, y = a random 8-unit tanh teacher, scaled to unit variance: regression, MSE */
    VS_TABULAR,  /* 12 features of unequal scale and offset (like raw tabular data), 4 anisotropic classes, softmax CE */
    VS_PIXELS,   /* 8x8 "digits": strokes in [0, 1] on a dark field, 10 classes, mostly zeros, softmax CE */
    VS_ADDING,   /* the adding problem (Hochreiter & Schmidhuber 1997): T steps of (value, marker), regression */
    VS_SIGNALS,  /* 1 x 64 signals: sine, square, sawtooth or noise of random frequency and phase, 4 classes */
    VS_BINARY    /* the teacher's inputs, y = 1 where the teacher is above its median, else 0 (-1 for a tanh output):
                  * targets at the output activation's asymptotes, regression loss */
};

/* The net around the scenario's hidden layers (depth, width, act, var and bias describe them in each case). */
enum vs_arch {
    VS_DENSE = 0, /* `depth` dense layers of `width` */
    VS_RNN,       /* one Elman RNN of `width` units (act), last step -> dense */
    VS_LSTM,      /* one LSTM of `width` units, last step -> dense */
    VS_GRU,       /* one GRU of `width` units, last step -> dense */
    VS_CONV2D,    /* `depth` 3x3 conv layers (padding 1) of `width` filter maps on 1 x 8 x 8, max-pooled 2 after the
                   * 2nd and 4th when depth <= 4 (deeper stacks keep 8 x 8), flatten -> dense */
    VS_CONV1D     /* `depth` conv1d layers (kernel 5, padding 2) of `width` maps on 1 x 64, max-pooled 2 after each
                   * when depth <= 4, flatten -> dense */
};

typedef struct {
    int32_t arch;      /* enum vs_arch */
    int32_t seq;       /* recurrent: T */
    double rec_scale;  /* recurrent: weight_hh_l0 = rec_scale x Q, Q orthogonal (0: the layer's default init) */
    int32_t truncate;  /* recurrent: GF_LAYER_TRUNCATE (0: full backpropagation through time) */
    int32_t gate_set;  /* 1: LSTM forget bias / GRU update-gate (z) bias = gate_bias (else the defaults: 1 / 0) */
    double gate_bias;
    int32_t zero_bias; /* RNN: biases 0 (else PyTorch's U(+-1/sqrt(H))) */
    int32_t out_act;   /* the output layer's activation (0: identity) */
    int32_t loss;      /* the loss of a regression (0: MSE); classes always take softmax cross-entropy on labels */
    double target_scale; /* a regression's targets are multiplied by it (0: by 1) */
    double out_bias;   /* constant bias init of the output layer (0: the layer's default) */
    int32_t restart;   /* > 0: the rate follows cosine annealing from lr toward 0 with a warm restart every `restart`
                        * steps (SGDR, Loshchilov & Hutter 2017), set before each step (0: lr throughout) */
    double input_scale; /* the inputs are multiplied by it (0: by 1) */
    int32_t avg_pool;  /* conv: a 2-wide average pool (2 x 2 for conv2d) after every conv layer, for the max pools */
    int32_t warmup;    /* > 0: the rate rises linearly from lr / warmup to lr over the first `warmup` steps (a warm-up,
                        * Goyal et al. 2017), set before each step */
} vs_arch_opts;

typedef struct {
    const char *name;
    int32_t act;       /* hidden activation */
    int32_t depth;     /* hidden layers (the output layer is one more) */
    int32_t width;
    double var;        /* hidden weight variance as a multiple of the activation's right one (vs_right_var) */
    int32_t orthogonal;/* 1: orthogonal init with gain sqrt(var * right) */
    double bias;       /* constant bias init of the hidden layers */
    int32_t opt;
    double lr, l1, l2;
    int32_t data;
    int32_t batch, steps;
    int32_t expect;    /* GF_VERDICT_* */
    int32_t geometry;  /* 1: the init decides the verdict, so the probe must give it too */
    vs_arch_opts a;    /* recurrent and conv scenarios, and the output and targets ({0}: the defaults) */
} vs_scenario;

/* The weight variance x fan_in that keeps the signal's scale through a layer (chi = 1): He et al. 2015 for the
 * ReLU family (2, and 2 / (1 + a^2) for leaky ReLU), LeCun / Klambauer et al. 2017 for SELU (1), the mean-field edge
 * of chaos at zero bias for tanh (1), and the fixed points of chi = 1 found numerically for ELU and GELU. */
static inline double vs_right_var(int32_t act)
{
    switch (act) {
    case GF_ACT_RELU: return 2.0;
    case GF_ACT_LEAKY_RELU: return 2.0 / (1.0 + 0.01 * 0.01);
    case GF_ACT_ELU: return 1.55;
    case GF_ACT_GELU: return 2.35;
    default: return 1.0;
    }
}

/* ---- data ---- */

typedef struct { uint64_t s; } vs_rng;
static inline uint64_t vs_next(vs_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline double vs_unif(vs_rng *r) { return (double)(vs_next(r) >> 11) / 9007199254740992.0; }
static inline double vs_gauss(vs_rng *r)
{
    double u = vs_unif(r), v = vs_unif(r);
    return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

typedef struct {
    int32_t in, out, classes; /* out: the net's output width; classes 0 for regression */
    float x[VS_POINTS * VS_MAX_IN], t[VS_POINTS * 10];
} vs_dataset;

static inline void vs_teacher(vs_dataset *ds, vs_rng *r)
{
    ds->in = 16, ds->out = 1, ds->classes = 0;
    double u[8][16], a[8], mean = 0, sq = 0;
    for (int k = 0; k < 8; k++) {
        a[k] = vs_gauss(r);
        for (int j = 0; j < 16; j++)
            u[k][j] = vs_gauss(r) / 4.0;
    }
    for (int p = 0; p < VS_POINTS; p++) {
        double y = 0;
        for (int j = 0; j < 16; j++)
            ds->x[p * 16 + j] = (float)vs_gauss(r);
        for (int k = 0; k < 8; k++) {
            double s = 0;
            for (int j = 0; j < 16; j++)
                s += u[k][j] * ds->x[p * 16 + j];
            y += a[k] * tanh(s);
        }
        ds->t[p] = (float)y;
        mean += y / VS_POINTS;
        sq += y * y / VS_POINTS;
    }
    double sd = sqrt(fmax(sq - mean * mean, 1e-12));
    for (int p = 0; p < VS_POINTS; p++)
        ds->t[p] = (float)((ds->t[p] - mean) / sd);
}

static inline void vs_tabular(vs_dataset *ds, vs_rng *r)
{
    ds->in = 12, ds->out = 4, ds->classes = 4;
    double center[4][12], scale[12], offset[12];
    for (int j = 0; j < 12; j++) {
        scale[j] = pow(10.0, vs_unif(r) * 2.0 - 1.0); /* 0.1 .. 10 */
        offset[j] = vs_gauss(r) * 3.0;
    }
    for (int c = 0; c < 4; c++)
        for (int j = 0; j < 12; j++)
            center[c][j] = vs_gauss(r) * 1.2;
    for (int p = 0; p < VS_POINTS; p++) {
        int c = (int)(vs_next(r) % 4);
        double shared = vs_gauss(r);
        for (int j = 0; j < 12; j++)
            ds->x[p * 12 + j] = (float)(offset[j] + scale[j] * (center[c][j] + 0.6 * shared + vs_gauss(r)));
        ds->t[p] = (float)c;
    }
}

static inline void vs_pixels(vs_dataset *ds, vs_rng *r)
{
    ds->in = 64, ds->out = 10, ds->classes = 10;
    for (int p = 0; p < VS_POINTS; p++) {
        int c = (int)(vs_next(r) % 10);
        float *img = ds->x + p * 64;
        memset(img, 0, 64 * sizeof *img);
        /* Class c: a stroke of direction c through a jittered centre, plus speckle. */
        double ang = c * 0.314159, cx = 3.5 + vs_gauss(r) * 0.6, cy = 3.5 + vs_gauss(r) * 0.6;
        for (double s = -3.5; s <= 3.5; s += 0.5) {
            int xx = (int)lround(cx + s * cos(ang)), yy = (int)lround(cy + s * sin(ang) * (c % 2 ? 1.0 : 0.5));
            if (xx >= 0 && xx < 8 && yy >= 0 && yy < 8)
                img[yy * 8 + xx] = (float)fmin(1.0, 0.7 + 0.3 * vs_unif(r));
        }
        for (int k = 0; k < 3; k++)
            img[vs_next(r) % 64] = (float)vs_unif(r);
        ds->t[p] = (float)c;
    }
}

/* The adding problem over T steps (T * 2 <= VS_MAX_IN): x_t = (v_t ~ U(0, 1), marker), one marker in each half;
 * the target is the sum of the two marked values, centred (predicting 0 scores MSE 1/6). */
static inline void vs_adding(vs_dataset *ds, vs_rng *r, int32_t T)
{
    ds->in = 2 * T, ds->out = 1, ds->classes = 0;
    for (int p = 0; p < VS_POINTS; p++) {
        int a = (int)(vs_next(r) % (uint64_t)(T / 2)), b = T / 2 + (int)(vs_next(r) % (uint64_t)(T - T / 2));
        float *x = ds->x + (size_t)p * ds->in;
        double y = 0;
        for (int t = 0; t < T; t++) {
            x[2 * t] = (float)vs_unif(r);
            x[2 * t + 1] = t == a || t == b;
            y += t == a || t == b ? x[2 * t] : 0.0;
        }
        ds->t[p] = (float)(y - 1.0);
    }
}

/* Sensor-like signals of 64 samples: class 0 sine, 1 square, 2 sawtooth, 3 noise, each of random frequency
 * (1.5 to 6 periods), phase and amplitude (0.5 to 1.5), with additive noise of std 0.2. */
static inline void vs_signals(vs_dataset *ds, vs_rng *r)
{
    ds->in = 64, ds->out = 4, ds->classes = 4;
    for (int p = 0; p < VS_POINTS; p++) {
        int c = (int)(vs_next(r) % 4);
        double f = 1.5 + 4.5 * vs_unif(r), ph = vs_unif(r), amp = 0.5 + vs_unif(r);
        for (int k = 0; k < 64; k++) {
            double u = f * k / 64.0 + ph, frac = u - floor(u), v;
            v = c == 0 ? sin(6.283185307179586 * u) : c == 1 ? (frac < 0.5 ? 1.0 : -1.0) : c == 2 ? 2 * frac - 1
                                                                                              : vs_gauss(r);
            ds->x[p * 64 + k] = (float)(amp * v + 0.2 * vs_gauss(r));
        }
        ds->t[p] = (float)c;
    }
}

static inline void vs_make_data(vs_dataset *ds, int32_t kind, uint64_t seed)
{
    vs_rng r = {seed * 7919u + 17u};
    if (kind == VS_TABULAR)
        vs_tabular(ds, &r);
    else if (kind == VS_PIXELS)
        vs_pixels(ds, &r);
    else if (kind == VS_SIGNALS)
        vs_signals(ds, &r);
    else
        vs_teacher(ds, &r);
}

/* The scenario's data (the adding problem takes its length from the scenario): binary targets at the output
 * activation's asymptotes (0 / 1, or -1 / 1 for tanh), and a regression's targets scaled by target_scale. */
static inline void vs_data_for(vs_dataset *ds, const vs_scenario *sc, uint64_t seed)
{
    vs_rng r = {seed * 7919u + 17u};
    if (sc->data == VS_ADDING)
        vs_adding(ds, &r, sc->a.seq);
    else
        vs_make_data(ds, sc->data == VS_BINARY ? VS_TEACHER : sc->data, seed);
    if (sc->data == VS_BINARY)
        for (int p = 0; p < VS_POINTS; p++)
            ds->t[p] = ds->t[p] > 0 ? 1.0f : sc->a.out_act == GF_ACT_TANH ? -1.0f : 0.0f;
    if (!ds->classes && sc->a.target_scale > 0)
        for (int p = 0; p < VS_POINTS * ds->out; p++)
            ds->t[p] = (float)(ds->t[p] * sc->a.target_scale);
    if (sc->a.input_scale > 0)
        for (int p = 0; p < VS_POINTS * ds->in; p++)
            ds->x[p] = (float)(ds->x[p] * sc->a.input_scale);
}

/* ---- nets ---- */

static inline int vs_init_layer(gf_layer *l, int32_t kind, double a, double b, double gain)
{
    gf_init *init;
    int rc = gf_init_create(&init, kind);
    if (!rc && (kind == GF_INIT_NORMAL || kind == GF_INIT_CONSTANT))
        rc = gf_init_set_range(init, a, b);
    if (!rc && kind == GF_INIT_ORTHOGONAL)
        rc = gf_init_set_gain(init, gain);
    if (!rc)
        rc = b < 0 ? GF_ERR_INVALID : gf_layer_set_weight_init(l, init);
    gf_init_destroy(init);
    return rc;
}

static inline int vs_set_bias(gf_layer *l, double bias)
{
    gf_init *init;
    int rc = gf_init_create(&init, GF_INIT_CONSTANT);
    if (!rc)
        rc = gf_init_set_range(init, bias, 0);
    if (!rc)
        rc = gf_layer_set_bias_init(l, init);
    gf_init_destroy(init);
    return rc;
}

/* An initializer of kind with gain (fan-based kinds: N(0, gain / sqrt(fan_in))) as the layer's weight init. */
static inline int vs_gain_init(gf_layer *l, int32_t kind, double gain)
{
    gf_init *init;
    int rc = gf_init_create(&init, kind);
    if (!rc && kind != GF_INIT_LECUN_NORMAL)
        rc = gf_init_set_gain(init, gain);
    if (!rc)
        rc = gf_layer_set_weight_init(l, init);
    gf_init_destroy(init);
    return rc;
}

/* depth dense layers of width, then the output layer, LeCun-initialized (identity: variance 1 / fan_in). */
static inline int vs_add_dense(gf_net *net, const vs_scenario *sc, const vs_dataset *ds)
{
    int rc = 0;
    for (int32_t i = 0; i <= sc->depth && !rc; i++) {
        bool top = i == sc->depth;
        int64_t fan_in = i ? sc->width : ds->in, out = top ? ds->out : sc->width;
        gf_layer *l;
        rc = gf_net_add_dense(net, out, top ? sc->a.out_act : sc->act, &l);
        double v = top ? 1.0 : sc->var * vs_right_var(sc->act);
        if (!rc && sc->orthogonal && !top)
            rc = vs_init_layer(l, GF_INIT_ORTHOGONAL, 0, 0, sqrt(v));
        else if (!rc)
            rc = vs_init_layer(l, GF_INIT_NORMAL, 0.0, sqrt(v / (double)fan_in), 0);
        if (!rc && !top)
            rc = vs_set_bias(l, sc->bias);
        if (!rc && top && sc->a.out_bias != 0)
            rc = vs_set_bias(l, sc->a.out_bias);
    }
    return rc;
}

/* Conv layers whose weights have variance var x right / fan_in, fan_in = C_in x kh x kw (He et al. 2015). */
static inline int vs_add_conv(gf_net *net, const vs_scenario *sc)
{
    int rc = 0;
    bool two_d = sc->a.arch == VS_CONV2D;
    for (int32_t i = 0; i < sc->depth && !rc; i++) {
        gf_layer *l;
        rc = two_d ? gf_net_add_conv2d(net, sc->width, 3, 1, 1, sc->act, &l)
                   : gf_net_add_conv1d(net, sc->width, 5, 1, 2, sc->act, &l);
        if (!rc && sc->var > 0) /* var 0: the layer's own default, PyTorch's */
            rc = vs_gain_init(l, GF_INIT_HE_NORMAL, sqrt(sc->var * vs_right_var(sc->act)));
        if (!rc && sc->var > 0)
            rc = vs_set_bias(l, sc->bias);
        if (!rc && sc->a.avg_pool)
            rc = two_d ? gf_net_add_avgpool2d(net, 2, 0, NULL) : gf_net_add_avgpool1d(net, 2, 0, NULL);
        else if (!rc && sc->depth <= 4 && (!two_d || i % 2 == 1))
            rc = two_d ? gf_net_add_maxpool2d(net, 2, 0, NULL) : gf_net_add_maxpool1d(net, 2, 0, NULL);
    }
    return rc ? rc : gf_net_add_flatten(net, NULL);
}

static inline int vs_add_recurrent(gf_net *net, const vs_scenario *sc)
{
    static const int32_t kind[] = {[VS_RNN] = GF_LAYER_RNN, [VS_LSTM] = GF_LAYER_LSTM, [VS_GRU] = GF_LAYER_GRU};
    gf_layer *l;
    int rc = gf_layer_create(&l, kind[sc->a.arch]);
    if (!rc)
        rc = gf_layer_set_option(l, GF_LAYER_HIDDEN, sc->width);
    if (!rc && sc->a.truncate)
        rc = gf_layer_set_option(l, GF_LAYER_TRUNCATE, sc->a.truncate);
    if (!rc && sc->a.gate_set && sc->a.arch == VS_LSTM)
        rc = gf_layer_set_option(l, GF_LAYER_FORGET_BIAS, sc->a.gate_bias);
    if (!rc && sc->a.zero_bias)
        rc = vs_set_bias(l, 0.0);
    if (!rc && sc->a.arch == VS_RNN) {
        gf_activation *a;
        rc = gf_activation_create(&a, sc->act);
        if (!rc)
            rc = gf_layer_set_activation(l, a);
        gf_activation_destroy(a);
    }
    if (!rc)
        rc = gf_net_add(net, l);
    else
        gf_layer_destroy(l);
    return rc;
}

/* The hidden layers and the output layer for the scenario's arch. */
static inline int vs_add_layers(gf_net *net, const vs_scenario *sc, const vs_dataset *ds)
{
    if (sc->a.arch == VS_DENSE)
        return vs_add_dense(net, sc, ds);
    int rc = sc->a.arch == VS_CONV2D || sc->a.arch == VS_CONV1D ? vs_add_conv(net, sc) : vs_add_recurrent(net, sc);
    gf_layer *top;
    if (!rc)
        rc = gf_net_add_dense(net, ds->out, sc->a.out_act, &top);
    return rc ? rc : vs_gain_init(top, GF_INIT_LECUN_NORMAL, 1.0);
}

/* After the init: weight_hh_l0 = rec_scale x Q (Q orthogonal, from the seed), the GRU's z bias. */
static inline int vs_set_recurrence(gf_net *net, const vs_scenario *sc, uint64_t seed)
{
    gf_layer *l = gf_net_layer(net, 0);
    int32_t b;
    int rc = GF_OK;
    if (sc->a.rec_scale > 0 && !(rc = gf_layer_param_block_find(l, "weight_hh_l0", &b))) {
        int64_t dims[2];
        int32_t rank;
        size_t n = (size_t)gf_layer_param_block_size(l, b);
        float *q = malloc(n * sizeof *q);
        gf_init *o = NULL;
        rc = !q ? GF_ERR_NOMEM : gf_layer_param_block_dims(l, b, dims, 2, &rank);
        if (!rc)
            rc = gf_init_create(&o, GF_INIT_ORTHOGONAL);
        if (!rc)
            rc = gf_init_set_gain(o, sc->a.rec_scale);
        if (!rc)
            rc = gf_init_fill(o, q, n, dims[0], dims[1], seed ^ 0x0a7eull);
        if (!rc)
            rc = gf_layer_set_param(l, b, q, n);
        gf_init_destroy(o);
        free(q);
    }
    if (!rc && sc->a.gate_set && sc->a.arch == VS_GRU && !(rc = gf_layer_param_block_find(l, "bias_ih_l0", &b))) {
        float z[3 * 512];
        int64_t H = sc->width;
        if (H > 512 || (rc = gf_layer_get_param(l, b, z, (size_t)(3 * H))))
            return rc ? rc : GF_ERR_INVALID;
        for (int64_t j = H; j < 2 * H; j++)
            z[j] = (float)sc->a.gate_bias;
        rc = gf_layer_set_param(l, b, z, (size_t)(3 * H));
    }
    return rc;
}

/* The net the scenario's input shape calls for. */
static inline int vs_create(gf_net **net, const vs_scenario *sc, const vs_dataset *ds, uint64_t seed)
{
    int64_t dims[3];
    switch (sc->a.arch) {
    case VS_RNN: case VS_LSTM: case VS_GRU:
        dims[0] = sc->a.seq, dims[1] = 2;
        return gf_net_create_shaped(net, GF_SHAPE_SEQUENCE, dims, 2, seed);
    case VS_CONV2D:
        dims[0] = 1, dims[1] = 8, dims[2] = 8;
        return gf_net_create_shaped(net, GF_SHAPE_IMAGE, dims, 3, seed);
    case VS_CONV1D:
        dims[0] = 1, dims[1] = 64;
        return gf_net_create_shaped(net, GF_SHAPE_SIGNAL, dims, 2, seed);
    default:
        return gf_net_create(net, ds->in, seed);
    }
}

/* The scenario's net on ds, seeded; NULL on failure. */
static inline gf_net *vs_build(const vs_scenario *sc, const vs_dataset *ds, uint64_t seed)
{
    gf_net *net;
    if (vs_create(&net, sc, ds, seed))
        return NULL;
    int rc = vs_add_layers(net, sc, ds);
    gf_optimizer *o = NULL;
    if (!rc)
        rc = gf_optimizer_create(&o, sc->opt, sc->lr);
    if (!rc)
        rc = gf_net_set_optimizer(net, o);
    if (!rc && (ds->classes || sc->a.loss != GF_LOSS_MSE)) {
        gf_loss *loss;
        rc = gf_loss_create(&loss, ds->classes ? GF_LOSS_SOFTMAX_CE_LABELS : sc->a.loss);
        if (!rc)
            rc = gf_net_set_loss(net, loss);
        gf_loss_destroy(loss);
    }
    if (!rc && (sc->l1 > 0 || sc->l2 > 0)) {
        gf_penalty *p;
        rc = gf_penalty_create(&p, sc->l1, sc->l2);
        if (!rc)
            rc = gf_net_set_penalty(net, p);
        gf_penalty_destroy(p);
    }
    if (!rc)
        rc = gf_net_reinit(net, seed);
    if (!rc && sc->a.arch >= VS_RNN && sc->a.arch <= VS_GRU)
        rc = vs_set_recurrence(net, sc, seed);
    if (rc) {
        gf_net_destroy(net);
        return NULL;
    }
    return net;
}

/* ---- one run ---- */

typedef struct {
    int32_t probe, final;       /* verdicts */
    int64_t steps_judged, flips; /* healthy scenarios: steps whose verdict was read, healthy -> other changes */
    /* Other scenarios: steps judged once the expected verdict was established (-1: never), and how often the verdict
     * left it after that (a state of the net that holds must read the same at every step). */
    int64_t steps_held, relapses;
    int32_t ok;                  /* 0: the run could not be set up */
} vs_result;

/* The rate of step s: lr, under warm restarts lr (1 + cos(pi (s mod P) / P)) / 2, P = restart, and during a warm-up
 * over W steps lr (s + 1) / W. */
static inline double vs_rate_at(const vs_scenario *sc, int32_t s)
{
    int32_t P = sc->a.restart, W = sc->a.warmup;
    if (W > 0 && s < W)
        return sc->lr * (s + 1.0) / W;
    return P > 0 ? sc->lr * 0.5 * (1.0 + cos(3.141592653589793 * (double)(s % P) / P)) : sc->lr;
}

/* One training step of sc on batch b of ds at the scenario's rate for step s. */
static inline int vs_step(gf_net *net, const vs_scenario *sc, const vs_dataset *ds, int32_t s)
{
    int32_t tw = ds->classes ? 1 : ds->out, b = s % (VS_POINTS / sc->batch);
    if ((sc->a.restart > 0 || sc->a.warmup > 0) && gf_optimizer_set(gf_net_optimizer(net), GF_OPT_LR, vs_rate_at(sc, s)))
        return GF_ERR_INVALID;
    return gf_net_train_step(net, ds->x + (size_t)b * sc->batch * ds->in, (size_t)sc->batch * ds->in,
                             ds->t + (size_t)b * sc->batch * tw, (size_t)sc->batch * tw, sc->batch, NULL);
}

/* Consecutive steps the expected verdict of a non-healthy scenario must be read at before a step that leaves it counts
 * as a relapse: a state holds for the records a whole window spans (GFI_PERSIST, src/judge.h).  Before that the net
 * may still be on its way into the state: strong L2 under momentum takes the weights to x0.07 of their start in 8
 * steps, through "weights going to zero", and back up to x0.2 at the 9th as the momentum overshoots. */
#define VS_ESTABLISHED 9

/* Nonzero: vs_run prints the reason of every healthy -> non-healthy flip. */
static int vs_verbose;

/* Trains sc on its data with seed; every step is judged when per_step is set: a healthy scenario's for flips, any
 * other's for relapses once its expected verdict was read. */
static inline vs_result vs_run(const vs_scenario *sc, uint64_t seed, int per_step)
{
    vs_result res = {GF_VERDICT_UNKNOWN, GF_VERDICT_UNKNOWN, 0, 0, -1, 0, 0};
    static vs_dataset ds;
    vs_data_for(&ds, sc, seed);
    gf_net *net = vs_build(sc, &ds, seed);
    gf_diag *d = NULL;
    if (!net || gf_diag_create(&d, net) || gf_diag_set_option(d, GF_DIAG_GUARD, 1)) {
        gf_diag_destroy(d);
        gf_net_destroy(net);
        return res;
    }
    if (gf_diag_probe(d, 256, seed ^ 0x5eedull) == GF_OK)
        gf_diag_verdict(d, -1, &res.probe);
    gf_diag_reset(d);
    gf_diag_enable(d, 1);
    int32_t prev = GF_VERDICT_HEALTHY, run = 0; /* run: consecutive steps read as expected, before established */
    for (int32_t s = 0; s < sc->steps; s++) {
        int rc = vs_step(net, sc, &ds, s);
        if (rc == GF_ERR_GUARD)
            break; /* the guard kept the weights; the diag has the step that blew up */
        if (rc)
            break;
        if (per_step && sc->expect == GF_VERDICT_HEALTHY) {
            int32_t v;
            gf_diag_verdict(d, -1, &v);
            res.steps_judged++;
            bool flip = prev == GF_VERDICT_HEALTHY && v != GF_VERDICT_HEALTHY;
            res.flips += flip;
            if (flip && vs_verbose) {
                static char why[4096];
                gf_diag_verdict_reason(d, -1, why, sizeof why, NULL);
                printf("    seed %llu step %d flipped: %s\n", (unsigned long long)seed, (int)s, why);
            }
            prev = v;
        } else if (per_step) {
            int32_t v;
            gf_diag_verdict(d, -1, &v);
            if (res.steps_held < 0) {
                run = v == sc->expect ? run + 1 : 0;
                if (run >= VS_ESTABLISHED)
                    res.steps_held = 0;
                prev = v;
                continue;
            }
            res.steps_held++;
            bool relapse = prev == sc->expect && v != sc->expect;
            res.relapses += relapse;
            if (relapse && vs_verbose) {
                static char why[4096];
                gf_diag_verdict_reason(d, -1, why, sizeof why, NULL);
                printf("    seed %llu step %d relapsed to %s: %s\n", (unsigned long long)seed, (int)s,
                       gf_verdict_name(v), why);
            }
            prev = v;
        }
    }
    gf_diag_verdict(d, -1, &res.final);
    res.ok = 1;
    gf_diag_destroy(d);
    gf_net_destroy(net);
    return res;
}

/* Whether a run met its scenario. */
static inline int vs_correct(const vs_scenario *sc, const vs_result *r)
{
    return r->ok && r->final == sc->expect && (!sc->geometry || r->probe == sc->expect);
}


/* ---- the scenarios ---- */

#define H GF_VERDICT_HEALTHY
#define V GF_VERDICT_VANISHING
#define E GF_VERDICT_EXPLODING
#define D GF_VERDICT_DEAD
#define S GF_VERDICT_SATURATED

/* name, act, depth, width, var, orthogonal, bias, opt, lr, l1, l2, data, batch, steps, expect, geometry */
static const vs_scenario vs_scenarios[] = {
    /* He et al. 2015: sigma_w^2 = 2 gives chi = 1 for ReLU, so delta keeps its scale at any depth; only the
     * finite-width spread (Hanin 2018: Var log gain ~ 5 L / n) moves it, a few x at these sizes. */
    {"relu_he_10x64", GF_ACT_RELU, 10, 64, 1, 0, 0, GF_OPT_SGD, 0.01, 0, 0, VS_TEACHER, 32, 300, H, 1, {0}},
    {"relu_he_50x64", GF_ACT_RELU, 50, 64, 1, 0, 0, GF_OPT_SGD, 0.002, 0, 0, VS_TEACHER, 32, 200, H, 1, {0}},
    {"relu_he_100x32", GF_ACT_RELU, 100, 32, 1, 0, 0, GF_OPT_SGD, 1e-3, 0, 0, VS_TEACHER, 32, 150, H, 1, {0}},
    {"relu_he_3x512", GF_ACT_RELU, 3, 512, 1, 0, 0, GF_OPT_SGD, 0.002, 0, 0, VS_TEACHER, 32, 150, H, 1, {0}},
    {"relu_he_3x16", GF_ACT_RELU, 3, 16, 1, 0, 0, GF_OPT_SGD, 0.02, 0, 0, VS_TEACHER, 16, 400, H, 1, {0}},
    /* 0.25 x He: chi = 0.25, delta loses x0.5 per layer: 0.5^20 = 1e-6 end to end. */
    {"relu_quarter_he_20x64", GF_ACT_RELU, 20, 64, 0.25, 0, 0, GF_OPT_SGD, 0.01, 0, 0, VS_TEACHER, 32, 100, V, 1, {0}},
    /* 0.5 x He: x0.71 per layer, 0.71^30 = 3e-5. */
    {"relu_half_he_30x64", GF_ACT_RELU, 30, 64, 0.5, 0, 0, GF_OPT_SGD, 0.01, 0, 0, VS_TEACHER, 32, 100, V, 1, {0}},
    /* 0.81 x He (0.9 x its std): 0.9^100 = 3e-5 end to end, though only x0.9 per layer (issue 14, item 1). */
    {"relu_0.81he_100x64", GF_ACT_RELU, 100, 64, 0.81, 0, 0, GF_OPT_SGD, 0.001, 0, 0, VS_TEACHER, 32, 60, V, 1, {0}},
    /* 1.25 x He (1.12 x its std): 1.12^100 = 8e4 end to end: exploding, though only x1.12 per layer. */
    {"relu_1.25he_100x64", GF_ACT_RELU, 100, 64, 1.25, 0, 0, GF_OPT_SGD, 0.001, 0, 0, VS_TEACHER, 32, 60, E, 1, {0}},
    /* 2 x He: x1.41 per layer, 1.41^12 = 64. */
    {"relu_2he_12x64", GF_ACT_RELU, 12, 64, 2, 0, 0, GF_OPT_SGD, 0.001, 0, 0, VS_TEACHER, 32, 100, E, 1, {0}},
    /* 4 x He: x2 per layer, 2^10 = 1e3. */
    {"relu_4he_10x64", GF_ACT_RELU, 10, 64, 4, 0, 0, GF_OPT_SGD, 0.001, 0, 0, VS_TEACHER, 32, 100, E, 1, {0}},
    /* Leaky ReLU with its He variance 2 / (1 + a^2): chi = 1. */
    {"leaky_he_20x64", GF_ACT_LEAKY_RELU, 20, 64, 1, 0, 0, GF_OPT_SGD, 0.005, 0, 0, VS_TEACHER, 32, 300, H, 1, {0}},
    /* Leaky ReLU with 0.25 x its right variance: x0.5 per layer, 0.5^20 = 1e-6. */
    {"leaky_quarter_he_20x64", GF_ACT_LEAKY_RELU, 20, 64, 0.25, 0, 0, GF_OPT_SGD, 0.01, 0, 0, VS_TEACHER, 32, 100, V, 1, {0}},
    /* Bias -3 against pre-activations of std ~1.4 at layer 0 and ~0 above: every unit above layer 0 is on the
     * negative side for every sample, so delta passes at slope 0.01 per layer: 0.01^9 — dead units are the cause. */
    {"leaky_bias_minus3_10x64", GF_ACT_LEAKY_RELU, 10, 64, 1, 0, -3, GF_OPT_SGD, 0.01, 0, 0, VS_TEACHER, 32, 100, D, 1, {0}},
    /* ReLU with bias -2: the same, and a unit off for every sample passes nothing: delta is 0 below it. */
    {"relu_bias_minus2_10x64", GF_ACT_RELU, 10, 64, 1, 0, -2, GF_OPT_SGD, 0.01, 0, 0, VS_TEACHER, 32, 100, D, 1, {0}},
    /* ReLU with bias -1 on a 6-layer net: layer 0 keeps ~1/4 of its units on per sample, the mean activation falls
     * layer by layer until no unit is on for any sample. */
    {"relu_bias_minus1_6x64", GF_ACT_RELU, 6, 64, 1, 0, -1, GF_OPT_SGD, 0.01, 0, 0, VS_TEACHER, 32, 100, D, 1, {0}},
    /* ELU at its chi = 1 variance (1.55 / fan_in, numerically): healthy. */
    {"elu_right_20x64", GF_ACT_ELU, 20, 64, 1, 0, 0, GF_OPT_SGD, 0.005, 0, 0, VS_TEACHER, 32, 300, H, 1, {0}},
    /* SELU with LeCun init is self-normalizing (Klambauer et al. 2017; 32 layers is the deepest they trained).  Its
     * chi at the fixed point is ~1.07 (lambda^2 (1/2 + alpha^2 e^2 Phi(-2))), so delta grows x1.035 per layer
     * (Philipp et al. 2018): x3 over 32 layers, within a decade. */
    {"selu_lecun_32x64", GF_ACT_SELU, 32, 64, 1, 0, 0, GF_OPT_SGD, 0.001, 0, 0, VS_TEACHER, 32, 100, H, 1, {0}},
    {"selu_lecun_8x128_tabular", GF_ACT_SELU, 8, 128, 1, 0, 0, GF_OPT_ADAM, 1e-3, 0, 0, VS_TABULAR, 32, 300, H, 1, {0}},
    /* SELU with 4 x LeCun: q* ~ 4, chi = 4 E[phi'^2] ~ 2.3 (lambda^2 / 2 on the positive side): x1.5 per layer,
     * 1.5^20 = 3e3. */
    {"selu_4x_20x64", GF_ACT_SELU, 20, 64, 4, 0, 0, GF_OPT_SGD, 0.001, 0, 0, VS_TEACHER, 32, 60, E, 1, {0}},
    /* GELU at its chi = 1 variance (2.35 / fan_in, numerically). */
    {"gelu_right_20x64", GF_ACT_GELU, 20, 64, 1, 0, 0, GF_OPT_ADAM, 3e-4, 0, 0, VS_TEACHER, 32, 300, H, 1, {0}},
    /* GELU at 0.25 x: the negative half passes little and chi ~ 0.2: x0.45 per layer. */
    {"gelu_quarter_20x64", GF_ACT_GELU, 20, 64, 0.25, 0, 0, GF_OPT_SGD, 0.01, 0, 0, VS_TEACHER, 32, 100, V, 1, {0}},
    /* tanh at sigma_w^2 = 1, zero bias: the edge of chaos (Poole et al. 2016), chi = 1 at q* = 0; q_l falls like
     * 1 / (2 l), so delta keeps within a few x over 10 layers. */
    {"tanh_lecun_10x64", GF_ACT_TANH, 10, 64, 1, 0, 0, GF_OPT_SGD, 0.01, 0, 0, VS_TEACHER, 32, 300, H, 1, {0}},
    {"tanh_lecun_3x128_pixels", GF_ACT_TANH, 3, 128, 1, 0, 0, GF_OPT_ADAM, 1e-3, 0, 0, VS_PIXELS, 32, 300, H, 1, {0}},
    /* tanh at sigma_w^2 = 0.25: ordered phase, chi = 0.25, x0.5 per layer: 1e-6 over 20. */
    {"tanh_quarter_20x64", GF_ACT_TANH, 20, 64, 0.25, 0, 0, GF_OPT_SGD, 0.01, 0, 0, VS_TEACHER, 32, 100, V, 1, {0}},
    /* tanh at sigma_w^2 = 16 on a shallow net: pre-activations of std ~4 sit in the flat tails (|z| > 3 for a
     * derivative under 1 %) for about half of the samples: saturated.  Over 4 layers chi ~ 16 * 0.15 stays within
     * a decade end to end, so saturation, not explosion, is the finding. */
    {"tanh_16x_4x64", GF_ACT_TANH, 4, 64, 16, 0, 0, GF_OPT_SGD, 0.01, 0, 0, VS_TEACHER, 32, 60, S, 1, {0}},
    /* sigmoid with sigma_w^2 = 1: sigmoid' <= 1/4, chi ~ 1/16 near 0: x0.25 per layer, 1e-6 over 10 (Glorot &
     * Bengio 2010). */
    {"sigmoid_lecun_10x64", GF_ACT_SIGMOID, 10, 64, 1, 0, 0, GF_OPT_SGD, 0.1, 0, 0, VS_TEACHER, 32, 100, V, 1, {0}},
    /* sigmoid with sigma_w^2 = 100 over 3 layers: z of std ~6 pinned at 0 or 1. */
    {"sigmoid_100x_3x64", GF_ACT_SIGMOID, 3, 64, 100, 0, 0, GF_OPT_SGD, 0.01, 0, 0, VS_TEACHER, 32, 60, S, 1, {0}},
    /* A 2-hidden-layer sigmoid net at LeCun scale loses x0.25 once: within a decade.  (On raw tabular features of
     * scale 10 its first layer saturates, which is a finding, not a false alarm: hence pixels in [0, 1].) */
    {"sigmoid_lecun_2x64_pixels", GF_ACT_SIGMOID, 2, 64, 1, 0, 0, GF_OPT_ADAM, 3e-3, 0, 0, VS_PIXELS, 32, 300, H, 1, {0}},
    /* A deep linear net with orthogonal weights has every singular value 1 (Saxe et al. 2014): healthy at 100. */
    {"identity_orthogonal_100x64", GF_ACT_IDENTITY, 100, 64, 1, 1, 0, GF_OPT_SGD, 0.001, 0, 0, VS_TEACHER, 32, 100, H, 1, {0}},
    /* A deep linear net at 4 x LeCun: x2 per layer, 2^10 = 1e3. */
    {"identity_4x_10x64", GF_ACT_IDENTITY, 10, 64, 4, 0, 0, GF_OPT_SGD, 1e-4, 0, 0, VS_TEACHER, 32, 60, E, 1, {0}},
    /* Learning rates: 1e-7 moves each weight by ~1e-7 of itself per step: the loss cannot move (stagnation). */
    {"relu_he_sgd_lr1e-7", GF_ACT_RELU, 6, 64, 1, 0, 0, GF_OPT_SGD, 1e-7, 0, 0, VS_TEACHER, 32, 120, V, 0, {0}},
    {"relu_he_adam_lr1e-7", GF_ACT_RELU, 6, 64, 1, 0, 0, GF_OPT_ADAM, 1e-7, 0, 0, VS_TABULAR, 32, 120, V, 0, {0}},
    /* SGD at 5 on a unit-scale regression: the first steps multiply the weights many times over (NaN). */
    {"relu_he_sgd_lr5", GF_ACT_RELU, 6, 64, 1, 0, 0, GF_OPT_SGD, 5, 0, 0, VS_TEACHER, 32, 100, E, 0, {0}},
    /* Adam at 1: every weight moves by ~1 per step against weights of ~0.2: the loss avalanches. */
    {"relu_he_adam_lr1", GF_ACT_RELU, 6, 64, 1, 0, 0, GF_OPT_ADAM, 1.0, 0, 0, VS_TABULAR, 32, 100, E, 0, {0}},
    /* Strong L2: lr * l2 = 0.05 off every weight per step, 0.95^200 = 4e-5: the weights go to zero. */
    {"relu_he_l2_strong", GF_ACT_RELU, 6, 64, 1, 0, 0, GF_OPT_SGD, 0.02, 0, 2.5, VS_TEACHER, 32, 200, V, 0, {0}},
    /* Strong L1: 0.02 * 0.5 = 0.01 off |w| per step against He weights of rms 0.18: gone within ~20 steps. */
    {"relu_he_l1_strong", GF_ACT_RELU, 6, 64, 1, 0, 0, GF_OPT_SGD, 0.02, 0.5, 0, VS_TEACHER, 32, 200, V, 0, {0}},
    /* Sound training on "real-looking" data must read healthy throughout. */
    {"relu_he_4x64_tabular_adam", GF_ACT_RELU, 4, 64, 1, 0, 0, GF_OPT_ADAM, 1e-3, 0, 0, VS_TABULAR, 32, 500, H, 1, {0}},
    {"relu_he_3x128_pixels_sgd", GF_ACT_RELU, 3, 128, 1, 0, 0, GF_OPT_MOMENTUM, 0.01, 0, 0, VS_PIXELS, 32, 500, H, 1, {0}},
    {"relu_he_4x32_batch1", GF_ACT_RELU, 4, 32, 1, 0, 0, GF_OPT_SGD, 0.005, 0, 0, VS_TEACHER, 1, 1000, H, 1, {0}},
    /* A small classifier trained one sample at a time: a live unit is off for most single samples (read 75 % dead
     * on 1 step in 8 before units needed 32 values of evidence), and one sample's cross-entropy is skewed (read
     * "the loss rose" before the rank test). */
    {"relu_he_1x8_tabular_batch1", GF_ACT_RELU, 1, 8, 1, 0, 0, GF_OPT_SGD, 0.005, 0, 0, VS_TABULAR, 1, 1500, H, 0, {0}},
    /* Two hidden layers of 4 units trained one sample at a time: one sample leaves every unit of a layer off now
     * and then, and that step passes no delta below it (read vanishing on 54 steps of 12,000 before).  He's variance
     * gives chi = 1 in expectation over samples; the thin batches' window is pooled and a live layer's all-off
     * sample is no measurement of it (docs/verdicts.md, "Thin batches").  The 4-unit layers scatter by 5 / n. */
    {"relu_he_2x4_batch1", GF_ACT_RELU, 2, 4, 1, 0, 0, GF_OPT_SGD, 0.005, 0, 0, VS_TEACHER, 1, 1500, H, 0, {0}},
    {"relu_he_6x64_l2_1e-4", GF_ACT_RELU, 6, 64, 1, 0, 0, GF_OPT_SGD, 0.01, 0, 1e-4, VS_TEACHER, 32, 400, H, 1, {0}},
    /* More shapes, data and optimizers: the rules must not depend on the ones above. */
    {"relu_he_8x256_tabular_adam", GF_ACT_RELU, 8, 256, 1, 0, 0, GF_OPT_ADAM, 1e-3, 0, 0, VS_TABULAR, 64, 300, H, 1, {0}},
    {"relu_he_20x128_pixels_momentum", GF_ACT_RELU, 20, 128, 1, 0, 0.0, GF_OPT_MOMENTUM, 2e-3, 0, 0, VS_PIXELS, 32, 300, H, 1, {0}},
    {"relu_he_bias0.1_10x64", GF_ACT_RELU, 10, 64, 1, 0, 0.1, GF_OPT_SGD, 0.003, 0, 0, VS_TEACHER, 32, 300, H, 1, {0}},
    {"leaky_he_50x32", GF_ACT_LEAKY_RELU, 50, 32, 1, 0, 0, GF_OPT_SGD, 1e-3, 0, 0, VS_TEACHER, 32, 200, H, 1, {0}},
    /* Orthogonal weights with the ReLU gain sqrt(2): chi = 1 (Saxe et al. 2014 for the linear part). */
    {"relu_orthogonal_50x64", GF_ACT_RELU, 50, 64, 1, 1, 0, GF_OPT_SGD, 1e-3, 0, 0, VS_TEACHER, 32, 200, H, 1, {0}},
    /* A deep linear net at sigma_w^2 = 1: chi = 1 exactly. */
    {"identity_lecun_50x64", GF_ACT_IDENTITY, 50, 64, 1, 0, 0, GF_OPT_SGD, 1e-4, 0, 0, VS_TEACHER, 32, 200, H, 1, {0}},
    /* tanh with sigma_w^2 = 1 over 30 layers: q_l ~ 1 / (2 l), delta ~ L^(-1/2) = x0.18, within a decade. */
    {"tanh_lecun_30x64_adam", GF_ACT_TANH, 30, 64, 1, 0, 0, GF_OPT_ADAM, 3e-4, 0, 0, VS_TEACHER, 32, 300, H, 1, {0}},
    /* Four sigmoid layers lose x1/4 each: x1/64 over the three steps between them. */
    {"sigmoid_lecun_4x64_pixels", GF_ACT_SIGMOID, 4, 64, 1, 0, 0, GF_OPT_SGD, 0.1, 0, 0, VS_PIXELS, 32, 200, V, 1, {0}},
    /* ELU, SELU at 0.25 x: chi ~ 0.25-0.3, x0.5 per layer over 20. */
    {"elu_quarter_20x64", GF_ACT_ELU, 20, 64, 0.25, 0, 0, GF_OPT_SGD, 0.01, 0, 0, VS_TEACHER, 32, 100, V, 1, {0}},
    {"selu_quarter_20x64", GF_ACT_SELU, 20, 64, 0.25, 0, 0, GF_OPT_SGD, 0.01, 0, 0, VS_TABULAR, 32, 100, V, 1, {0}},
    /* GELU at 4 x: large inputs make it ReLU-like, chi ~ 4 * 1/2 = 2: x1.4 per layer, 1e3 over 20. */
    {"gelu_4x_20x64", GF_ACT_GELU, 20, 64, 4, 0, 0, GF_OPT_SGD, 1e-3, 0, 0, VS_TEACHER, 32, 60, E, 1, {0}},
    /* ReLU at 0.25 x He over 5 layers: x0.5^4 = 0.06. */
    {"relu_quarter_he_5x128_pixels", GF_ACT_RELU, 5, 128, 0.25, 0, 0, GF_OPT_SGD, 0.01, 0, 0, VS_PIXELS, 32, 100, V, 1, {0}},
    /* SGD at 0.5 on a 10-layer He net: past the stable step size, the loss leaves its start (or overflows). */
    {"relu_he_sgd_lr0.5", GF_ACT_RELU, 10, 64, 1, 0, 0, GF_OPT_SGD, 0.5, 0, 0, VS_TEACHER, 32, 150, E, 0, {0}},
    /* SGD at 1e-7 on a classifier: stagnation whatever the loss. */
    {"tanh_lecun_sgd_lr1e-7_pixels", GF_ACT_TANH, 4, 64, 1, 0, 0, GF_OPT_SGD, 1e-7, 0, 0, VS_PIXELS, 32, 120, V, 0, {0}},
    /* Momentum with an L2 of 5: lr * l2 = 0.05 per step (x20 with momentum): the weights go to zero. */
    /* Adaptive optimizers and longer training on sound nets: healthy throughout, solved classifier included. */
    {"relu_he_20x64_adam", GF_ACT_RELU, 20, 64, 1, 0, 0, GF_OPT_ADAM, 1e-3, 0, 0, VS_TEACHER, 32, 400, H, 1, {0}},
    {"relu_he_4x128_pixels_solved", GF_ACT_RELU, 4, 128, 1, 0, 0, GF_OPT_MOMENTUM, 0.05, 0, 0, VS_PIXELS, 64, 1500, H, 1, {0}},
    {"leaky_he_10x64_tabular_rmsprop", GF_ACT_LEAKY_RELU, 10, 64, 1, 0, 0, GF_OPT_RMSPROP, 1e-3, 0, 0, VS_TABULAR, 32, 400, H, 1, {0}},
    {"selu_lecun_16x64_pixels_sgd", GF_ACT_SELU, 16, 64, 1, 0, 0, GF_OPT_SGD, 0.01, 0, 0, VS_PIXELS, 32, 400, H, 1, {0}},
    {"elu_right_8x128_tabular_adam", GF_ACT_ELU, 8, 128, 1, 0, 0, GF_OPT_ADAM, 1e-3, 0, 0, VS_TABULAR, 32, 400, H, 1, {0}},
    /* AdamW's default decoupled decay (0.01 x lr per step) is far from collapsing the weights. */
    {"relu_he_6x64_adamw", GF_ACT_RELU, 6, 64, 1, 0, 0, GF_OPT_ADAMW, 1e-2, 0, 0, VS_TEACHER, 32, 400, H, 1, {0}},
    /* SGD at 0.1 on a 6-layer He regression: past the stable step size for unit-scale inputs; the loss leaves its
     * start or overflows within a few hundred steps. */
    {"relu_he_sgd_lr0.1_6x64", GF_ACT_RELU, 6, 64, 1, 0, 0, GF_OPT_SGD, 0.1, 0, 0, VS_TEACHER, 32, 300, E, 0, {0}},
    {"relu_he_momentum_l2_strong", GF_ACT_RELU, 4, 64, 1, 0, 0, GF_OPT_MOMENTUM, 0.01, 0, 5.0, VS_PIXELS, 32, 300, V, 0, {0}},
    /* Cosine annealing with warm restarts every 100 (200) steps (SGDR, Loshchilov & Hutter 2017): the rate falls to
     * ~2.5e-4 of its peak at the end of each period, where the steps are small on purpose (not judged: "learning
     * stagnates" claims the rate is too small for the net, and an annealed rate is set small), then jumps back.  For
     * 8 records after a restart the window's update ratios are still the annealed steps': read stagnation on 63 steps
     * of 16,000 over 8 seeds (SGD) and 17 of 12,000 (momentum) before each window was judged by the rates its steps
     * were taken at (docs/verdicts.md, "Learning stagnates"). */
    {.name = "relu_he_4x64_sgd_sgdr", .act = GF_ACT_RELU, .depth = 4, .width = 64, .var = 1, .opt = GF_OPT_SGD,
     .lr = 0.02, .data = VS_TEACHER, .batch = 32, .steps = 2000, .expect = H, .a = {.restart = 100}},
    {.name = "relu_he_4x64_tab_momentum_sgdr", .act = GF_ACT_RELU, .depth = 4, .width = 64, .var = 1,
     .opt = GF_OPT_MOMENTUM, .lr = 0.005, .data = VS_TABULAR, .batch = 32, .steps = 1500, .expect = H,
     .a = {.restart = 200}},

    /* ---- Recurrent nets: one layer of 32 units on the adding problem, last step -> dense 1, Adam 1e-3. ----
     * Going back one step, dL/dh_{t-1} = W_hh^T diag(phi'(a_t)) dL/dh_t (Bengio, Simard & Frasconi 1994), so over
     * T steps ||dL/dh_0|| / ||dL/dh_T|| <= (gamma sigma_max(W_hh))^T with gamma the largest phi' (1 for tanh,
     * 1/4 for sigmoid): below 1/gamma vanishing is certain, above it exploding is possible (Pascanu, Mikolov &
     * Bengio 2013).  With W_hh = s Q (Q orthogonal, Saxe et al. 2014) every direction is scaled by exactly s, and
     * the adding input drives the 32 units to pre-activations of std ~0.06 (W_ih ~ U(+-1/sqrt(32))), where
     * tanh' > 0.99: the gain over T steps is s^T to within a few percent.  The time rules judge that gain over
     * the whole sequence against 1e-3 / 1e3 (docs/verdicts.md, "Across time"). */
    /* s = 0.5: 0.5^20 = 1e-6, 0.5^50 = 9e-16, 0.5^100 = 8e-31: vanishing at every length. */
    {.name = "rnn_tanh_0.5Q_T20", .act = GF_ACT_TANH, .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4, .data = VS_ADDING,
     .batch = 32, .steps = 150, .expect = V, .geometry = 1, .a = {.arch = VS_RNN, .seq = 20, .rec_scale = 0.5}},
    {.name = "rnn_tanh_0.5Q_T50", .act = GF_ACT_TANH, .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4, .data = VS_ADDING,
     .batch = 32, .steps = 150, .expect = V, .geometry = 1, .a = {.arch = VS_RNN, .seq = 50, .rec_scale = 0.5}},
    {.name = "rnn_tanh_0.5Q_T100", .act = GF_ACT_TANH, .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4, .data = VS_ADDING,
     .batch = 32, .steps = 150, .expect = V, .geometry = 1, .a = {.arch = VS_RNN, .seq = 100, .rec_scale = 0.5}},
    /* s = 0.9 (issue 16's decay bound): 0.9^100 = 2.7e-5. */
    {.name = "rnn_tanh_0.9Q_T100", .act = GF_ACT_TANH, .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4, .data = VS_ADDING,
     .batch = 32, .steps = 150, .expect = V, .geometry = 1, .a = {.arch = VS_RNN, .seq = 100, .rec_scale = 0.9}},
    /* s = 0.9 over 20 steps: 0.9^20 = 0.12, a tenth of the gradient reaches h_0: well inside 1e-3. */
    {.name = "rnn_tanh_0.9Q_T20", .act = GF_ACT_TANH, .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4, .data = VS_ADDING,
     .batch = 32, .steps = 150, .expect = H, .geometry = 1, .a = {.arch = VS_RNN, .seq = 20, .rec_scale = 0.9}},
    /* s = 1: orthogonal W_hh keeps ||dL/dh_t|| (Saxe et al. 2014; Arjovsky et al. 2016), but only as far as tanh'
     * stays 1.  The biases and the input drive each unit towards a fixed point h* of variance q, where each step
     * back keeps E[(1 - h*^2)^2] ~ 1 - 2q of ||dL/dh||^2 (the mean-field chi of Chen, Pennington & Schoenholz 2018).
     * With zero biases only the input drives it (q ~ 0.04 on the adding data, ~0.1 on the probe's N(0, 1)
     * input): x0.9-0.96 per step, 0.9^50 = 5e-3 at worst: healthy over 50 steps.  PyTorch's default biases U(+-1/sqrt(32)) add q ~ 0.1 more: x0.9 per step, healthy over 20
     * steps (0.12) but vanishing over 100 (3e-5) although sigma_max is exactly 1. */
    {.name = "rnn_tanh_1.0Q_T20", .act = GF_ACT_TANH, .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4, .data = VS_ADDING,
     .batch = 32, .steps = 150, .expect = H, .geometry = 1, .a = {.arch = VS_RNN, .seq = 20, .rec_scale = 1.0}},
    {.name = "rnn_tanh_1.0Q_T50_bias0", .act = GF_ACT_TANH, .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4,
     .data = VS_ADDING, .batch = 32, .steps = 150, .expect = H, .geometry = 1,
     .a = {.arch = VS_RNN, .seq = 50, .rec_scale = 1.0, .zero_bias = 1}},
    {.name = "rnn_tanh_1.0Q_T100", .act = GF_ACT_TANH, .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4, .data = VS_ADDING,
     .batch = 32, .steps = 150, .expect = V, .geometry = 1, .a = {.arch = VS_RNN, .seq = 100, .rec_scale = 1.0}},
    /* s > 1 = 1/gamma makes exploding possible, not certain (Pascanu et al. 2013): the state grows until tanh
     * saturates, at the fixed point q* of q = E[tanh(a)^2], a ~ N(0, s^2 q), and each step back keeps
     * chi = s^2 E[tanh'(a)^2] of ||dL/dh||^2 (the chaotic phase of Poole et al. 2016 and Chen et al. 2018).
     * s = 1.5: q* ~ 0.45, chi ~ 1.15, x1.07 per step: 1.07^50 = 30 over 50 steps, healthy (over 100 steps it is
     * x900, at the threshold, so not in the suite).  s = 3: q* ~ 0.8, chi ~ 1.8, x1.35 per step: 1.35^50 = 3e6,
     * exploding (and a quarter of the pre-activations in the flat tails). */
    {.name = "rnn_tanh_1.5Q_T50", .act = GF_ACT_TANH, .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4, .data = VS_ADDING,
     .batch = 32, .steps = 150, .expect = H, .geometry = 1, .a = {.arch = VS_RNN, .seq = 50, .rec_scale = 1.5}},
    {.name = "rnn_tanh_3Q_T50", .act = GF_ACT_TANH, .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4, .data = VS_ADDING,
     .batch = 32, .steps = 100, .expect = E, .geometry = 1, .a = {.arch = VS_RNN, .seq = 50, .rec_scale = 3}},
    /* ReLU RNN at W_hh = Q: a random rotation moves the gradient onto units of which about half are off, so each
     * step back keeps ~1/2 of ||dL/dh||^2: x0.7 per step, 0.7^50 = 2e-8: vanishing though sigma_max is the bound
     * (the identity of Le et al. 2015 keeps the same units on, a rotation does not).  At 0.5 Q: x0.35 per step. */
    {.name = "rnn_relu_1.0Q_T50", .act = GF_ACT_RELU, .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4, .data = VS_ADDING,
     .batch = 32, .steps = 150, .expect = V, .geometry = 1, .a = {.arch = VS_RNN, .seq = 50, .rec_scale = 1.0}},
    {.name = "rnn_relu_0.5Q_T50", .act = GF_ACT_RELU, .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4, .data = VS_ADDING,
     .batch = 32, .steps = 150, .expect = V, .geometry = 1, .a = {.arch = VS_RNN, .seq = 50, .rec_scale = 0.5}},
    /* ReLU RNN with W_hh = 2 Q, past the bound 1/gamma = 1: about half the units pass, x2/sqrt(2) = x1.4 per step
     * back, 1.4^50 = 3e7 (and the forward state grows the same way until it overflows): exploding. */
    {.name = "rnn_relu_2Q_T50", .act = GF_ACT_RELU, .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4, .data = VS_ADDING,
     .batch = 32, .steps = 100, .expect = E, .geometry = 1, .a = {.arch = VS_RNN, .seq = 50, .rec_scale = 2.0}},
    /* Sigmoid RNN with W_hh = Q: gamma = 1/4, so sigma_max 1 is under 1/gamma = 4 and each step keeps <= 1/4:
     * 0.25^20 = 1e-12. */
    {.name = "rnn_sigmoid_1.0Q_T20", .act = GF_ACT_SIGMOID, .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4,
     .data = VS_ADDING, .batch = 32, .steps = 150, .expect = V, .geometry = 1, .a = {.arch = VS_RNN, .seq = 20, .rec_scale = 1.0}},
    /* Truncated backpropagation (Williams & Peng 1990): the gradient travels back k steps only, so the gain is
     * judged over those k: a 0.5 Q tanh RNN over T = 100 truncated to k = 4 keeps 0.5^4 = 0.06 of it: healthy. */
    {.name = "rnn_tanh_0.5Q_T100_trunc4", .act = GF_ACT_TANH, .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4,
     .data = VS_ADDING, .batch = 32, .steps = 150, .expect = H, .geometry = 1, .a = {.arch = VS_RNN, .seq = 100, .rec_scale = 0.5, .truncate = 4}},
    /* ... while truncated to k = 25 it keeps 0.5^25 = 3e-8: vanishing within the chunk. */
    {.name = "rnn_tanh_0.5Q_T100_trunc25", .act = GF_ACT_TANH, .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4,
     .data = VS_ADDING, .batch = 32, .steps = 150, .expect = V, .geometry = 1, .a = {.arch = VS_RNN, .seq = 100, .rec_scale = 0.5, .truncate = 25}},
    /* LSTM (Hochreiter & Schmidhuber 1997) with the forget-gate bias 1 (Gers et al. 2000; Jozefowicz et al. 2015):
     * f ~ sigmoid(1) = 0.73 in the sigmoid's sensitive range, so the cell's path can open where the task needs
     * memory: healthy. */
    {.name = "lstm_forget1_T50", .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4, .data = VS_ADDING, .batch = 32,
     .steps = 150, .expect = H, .geometry = 1, .a = {.arch = VS_LSTM, .seq = 50}},
    {.name = "lstm_forget1_T100", .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4, .data = VS_ADDING, .batch = 32,
     .steps = 150, .expect = H, .geometry = 1, .a = {.arch = VS_LSTM, .seq = 100}},
    /* Forget bias 0 (f ~ 0.5): still in the sensitive range, where the gate learns (Jozefowicz et al. 2015 found
     * bias 1 better, not 0 unusable): healthy. */
    {.name = "lstm_forget0_T50", .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4, .data = VS_ADDING, .batch = 32,
     .steps = 150, .expect = H, .geometry = 1, .a = {.arch = VS_LSTM, .seq = 50, .gate_set = 1, .gate_bias = 0}},
    /* A forget gate forced near 0 (bias -6: f ~ 0.0025) cuts the cell's path every step; what is left goes through
     * W_hh and three sigmoid gates (<= 1/4 each): vanishing, and the gate is saturated so training cannot open it. */
    {.name = "lstm_forget_closed_T20", .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4, .data = VS_ADDING, .batch = 32,
     .steps = 150, .expect = V, .geometry = 1, .a = {.arch = VS_LSTM, .seq = 20, .gate_set = 1, .gate_bias = -6}},
    {.name = "lstm_forget_closed_T50", .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4, .data = VS_ADDING, .batch = 32,
     .steps = 150, .expect = V, .geometry = 1, .a = {.arch = VS_LSTM, .seq = 50, .gate_set = 1, .gate_bias = -6}},
    /* GRU (Cho et al. 2014) as PyTorch initializes it: z ~ 0.5 in its sensitive range: healthy. */
    {.name = "gru_default_T50", .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4, .data = VS_ADDING, .batch = 32,
     .steps = 150, .expect = H, .geometry = 1, .a = {.arch = VS_GRU, .seq = 50}},
    {.name = "gru_default_T100", .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4, .data = VS_ADDING, .batch = 32,
     .steps = 150, .expect = H, .geometry = 1, .a = {.arch = VS_GRU, .seq = 100}},
    /* A GRU whose update gate is forced near 0 (z bias -6): h_t = n_t, the state is replaced every step and the
     * gradient passes only through n's tanh, r (~1/2) and W_hn: vanishing. */
    {.name = "gru_update_closed_T50", .width = 32, .opt = GF_OPT_ADAM, .lr = 1e-4, .data = VS_ADDING, .batch = 32,
     .steps = 150, .expect = V, .geometry = 1, .a = {.arch = VS_GRU, .seq = 50, .gate_set = 1, .gate_bias = -6}},

    /* ---- Convolutional nets on 1 x 8 x 8 images (VS_PIXELS) and 1 x 64 signals (VS_SIGNALS). ----
     * A conv layer is a dense layer on every patch, with fan_in = C_in x kh x kw (He et al. 2015), so the mean-field
     * gains of the dense rows hold: ReLU at variance 2 / fan_in keeps delta's scale, sigmoid passes <= 1/4 per
     * layer.  Max pooling routes each window's gradient to its maximum and changes only the size. */
    /* ---- Regressions on targets at a sigmoid or tanh output's asymptotes (VS_BINARY: 0 / 1, or -1 / 1 for tanh).
     * The minimum of the loss is at the asymptote (sigma(z) -> 1 needs z -> inf), so a net that fits them drives
     * the output's pre-activations into the flat tails: saturated toward the targets, with a small residual, which
     * is the fit, not a stall.  An output at the wrong asymptote is the stall (Glorot & Bengio 2010: under a
     * quadratic cost a saturated sigmoid output passes no gradient for its error); its loss is then about that of
     * predicting the majority value everywhere (docs/verdicts.md, "Saturated toward the targets"). */
    {.name = "relu_he_2x64_sigmoid_out_mse", .act = GF_ACT_RELU, .depth = 2, .width = 64, .var = 1,
     .opt = GF_OPT_ADAM, .lr = 1e-3, .data = VS_BINARY, .batch = 32, .steps = 1000, .expect = H, .a = {.out_act = GF_ACT_SIGMOID}},
    {.name = "relu_he_2x64_tanh_out_mse", .act = GF_ACT_RELU, .depth = 2, .width = 64, .var = 1,
     .opt = GF_OPT_ADAM, .lr = 1e-3, .data = VS_BINARY, .batch = 32, .steps = 1000, .expect = H, .a = {.out_act = GF_ACT_TANH}},
    {.name = "relu_he_2x64_sigmoid_out_huber", .act = GF_ACT_RELU, .depth = 2, .width = 64, .var = 1,
     .opt = GF_OPT_ADAM, .lr = 1e-3, .data = VS_BINARY, .batch = 32, .steps = 1000, .expect = H,
     .a = {.out_act = GF_ACT_SIGMOID, .loss = GF_LOSS_HUBER}},
    /* An output bias of -10 puts every output at sigmoid(-10) = 4.5e-5, the wrong asymptote for half the targets,
     * where sigmoid' = 4.5e-5 passes nothing of the error: the loss stays at that of predicting 0 (0.5): saturated. */
    {.name = "relu_he_sigmoid_out_bias_m10", .act = GF_ACT_RELU, .depth = 2, .width = 64, .var = 1,
     .opt = GF_OPT_SGD, .lr = 0.1, .data = VS_BINARY, .batch = 32, .steps = 300, .expect = S, .geometry = 1,
     .a = {.out_act = GF_ACT_SIGMOID, .out_bias = -10}},

    /* ---- Regression targets off the output's scale.  Every init gives outputs of variance ~1; targets x1e-3 or
     * x1e-4 (variance 1e-6, 1e-8) leave the loss to the output's own spread, which SGD shrinks slowly (its fall
     * like 1/t): after 1000 steps the loss is 2e3 - 5e5 times the targets' variance, worse than their mean, and
     * not on its way to a decade above it within a thousand steps: vanishing (learning stagnates).  Targets x0.07
     * (variance 0.005, a decade under 1 as well) are learned: the loss reaches their variance: healthy
     * (docs/verdicts.md, "Targets off the output's scale"). */
    {.name = "relu_he_4x64_targets_x1e-3", .act = GF_ACT_RELU, .depth = 4, .width = 64, .var = 1, .opt = GF_OPT_SGD,
     .lr = 0.01, .data = VS_TEACHER, .batch = 32, .steps = 1000, .expect = V, .a = {.target_scale = 1e-3}},
    {.name = "relu_he_4x64_targets_x1e-4", .act = GF_ACT_RELU, .depth = 4, .width = 64, .var = 1, .opt = GF_OPT_SGD,
     .lr = 0.01, .data = VS_TEACHER, .batch = 32, .steps = 1000, .expect = V, .a = {.target_scale = 1e-4}},
    {.name = "relu_he_4x64_targets_x0.07", .act = GF_ACT_RELU, .depth = 4, .width = 64, .var = 1, .opt = GF_OPT_SGD,
     .lr = 0.01, .data = VS_TEACHER, .batch = 32, .steps = 1000, .expect = H, .a = {.target_scale = 0.07}},
    /* Adam at 1e-3 on targets x0.03 (variance 9e-4) learns them (loss 0.002 - 0.14 times v after 1000 steps), its loss
     * bouncing up now and then on the way: read vanishing for a step in 2 seeds of 8 while one window's loss sat over
     * the decade; a state is entered only once its test held for a window of windows (docs/verdicts.md, "Persistence"). */
    {.name = "relu_he_4x64_targets_x0.03_adam", .act = GF_ACT_RELU, .depth = 4, .width = 64, .var = 1,
     .opt = GF_OPT_ADAM, .lr = 1e-3, .data = VS_TEACHER, .batch = 32, .steps = 1000, .expect = H,
     .a = {.target_scale = 0.03}},
    /* The same two under cosine annealing with warm restarts every 100 steps (SGDR): the stuck SGD net is stuck at
     * every rate of the schedule, and the annealed end of each period (under a tenth of the peak) holds the reading
     * of its last step at a working rate; Adam still learns its targets (docs/verdicts.md, "Targets off the output's
     * scale").  The stuck net read healthy over each annealed stretch, back to vanishing 274 times in 6,000 steps
     * over 4 seeds. */
    {.name = "relu_he_4x64_targets_x1e-3_sgdr", .act = GF_ACT_RELU, .depth = 4, .width = 64, .var = 1,
     .opt = GF_OPT_SGD, .lr = 0.01, .data = VS_TEACHER, .batch = 32, .steps = 1500, .expect = V,
     .a = {.target_scale = 1e-3, .restart = 100}},
    {.name = "relu_he_4x64_targets_x0.03_adam_sgdr", .act = GF_ACT_RELU, .depth = 4, .width = 64, .var = 1,
     .opt = GF_OPT_ADAM, .lr = 1e-3, .data = VS_TEACHER, .batch = 32, .steps = 1500, .expect = H,
     .a = {.target_scale = 0.03, .restart = 100}},

    {.name = "conv2d_relu_he_4x16", .act = GF_ACT_RELU, .depth = 4, .width = 16, .var = 1, .opt = GF_OPT_ADAM,
     .lr = 1e-3, .data = VS_PIXELS, .batch = 32, .steps = 200, .expect = H, .geometry = 1, .a = {.arch = VS_CONV2D}},
    {.name = "conv2d_relu_he_2x8_momentum", .act = GF_ACT_RELU, .depth = 2, .width = 8, .var = 1,
     .opt = GF_OPT_MOMENTUM, .lr = 0.01, .data = VS_PIXELS, .batch = 32, .steps = 200, .expect = H, .geometry = 1, .a = {.arch = VS_CONV2D}},
    /* tanh at variance 1 / fan_in: the edge of chaos as in the dense rows: healthy. */
    {.name = "conv2d_tanh_lecun_4x16", .act = GF_ACT_TANH, .depth = 4, .width = 16, .var = 1, .opt = GF_OPT_ADAM,
     .lr = 1e-3, .data = VS_PIXELS, .batch = 32, .steps = 200, .expect = H, .geometry = 1, .a = {.arch = VS_CONV2D}},
    /* Sigmoid CNN: <= 1/4 per layer, 0.25^4 = 4e-3 over four layers: vanishing. */
    {.name = "conv2d_sigmoid_lecun_4x16", .act = GF_ACT_SIGMOID, .depth = 4, .width = 16, .var = 1,
     .opt = GF_OPT_SGD, .lr = 0.05, .data = VS_PIXELS, .batch = 32, .steps = 150, .expect = V, .geometry = 1, .a = {.arch = VS_CONV2D}},
    /* A bias of -3 against pre-activations of std ~1: every filter map is on the negative side for every sample
     * and position, no gradient passes: dead. */
    {.name = "conv2d_relu_bias_minus3_4x16", .act = GF_ACT_RELU, .depth = 4, .width = 16, .var = 1, .bias = -3,
     .opt = GF_OPT_SGD, .lr = 0.01, .data = VS_PIXELS, .batch = 32, .steps = 100, .expect = D, .geometry = 1, .a = {.arch = VS_CONV2D}},
    /* Deep stacks on 8 x 8 maps: padding leaves 0.84 of a 3 x 3 kernel's taps inside the map on average, so the
     * weights pass sigma_w^2 x 0.84 of ||delta||^2 and ReLU half of it, and the digits' empty background (pre-
     * activation 0, where ReLU passes nothing) less again.  Four times He's variance: x1.8 per layer, 1.8^9 = 2e2
     * over ten layers: exploding.  He's: x0.92 per layer, 0.92^9 = 0.5: healthy.  (Twice He's is x1.3 per layer,
     * ~x10 over twenty layers on these images: at the threshold, so it is judged on signals below, which fill
     * every position.) */
    {.name = "conv2d_relu_4he_10x16", .act = GF_ACT_RELU, .depth = 10, .width = 16, .var = 4, .opt = GF_OPT_SGD,
     .lr = 1e-4, .data = VS_PIXELS, .batch = 32, .steps = 60, .expect = E, .geometry = 1, .a = {.arch = VS_CONV2D}},
    {.name = "conv2d_relu_he_10x16", .act = GF_ACT_RELU, .depth = 10, .width = 16, .var = 1, .opt = GF_OPT_ADAM,
     .lr = 1e-3, .data = VS_PIXELS, .batch = 32, .steps = 150, .expect = H, .geometry = 1, .a = {.arch = VS_CONV2D}},
    /* A quarter of He's: x0.46 per layer, 0.46^9 = 1e-3: vanishing. */
    {.name = "conv2d_relu_quarter_he_10x16", .act = GF_ACT_RELU, .depth = 10, .width = 16, .var = 0.25,
     .opt = GF_OPT_SGD, .lr = 0.01, .data = VS_PIXELS, .batch = 32, .steps = 60, .expect = V, .geometry = 1,
     .a = {.arch = VS_CONV2D}},
    /* PyTorch's default conv init, kaiming_uniform(a = sqrt 5): variance 1 / (3 fan_in), a sixth of He's, so a
     * ReLU layer keeps x0.41 of ||delta||: over the two conv layers of a small CNN (examples/cnn.c's recipe) the
     * stack keeps ~0.7 x 0.41 = 0.3, healthy; over four, 0.7 x 0.41^3 = 0.05, vanishing; a sigmoid CNN keeps
     * 0.25 x 0.25 x 0.58 = 0.04 over two: vanishing (issue 17's sigmoid variant). */
    {.name = "conv2d_relu_default_2x8", .act = GF_ACT_RELU, .depth = 2, .width = 8, .opt = GF_OPT_MOMENTUM,
     .lr = 0.01, .data = VS_PIXELS, .batch = 32, .steps = 200, .expect = H, .geometry = 1, .a = {.arch = VS_CONV2D}},
    {.name = "conv2d_relu_default_4x16", .act = GF_ACT_RELU, .depth = 4, .width = 16, .opt = GF_OPT_SGD,
     .lr = 0.01, .data = VS_PIXELS, .batch = 32, .steps = 100, .expect = V, .geometry = 1, .a = {.arch = VS_CONV2D}},
    {.name = "conv2d_sigmoid_default_2x8", .act = GF_ACT_SIGMOID, .depth = 2, .width = 8, .opt = GF_OPT_SGD,
     .lr = 0.05, .data = VS_PIXELS, .batch = 32, .steps = 100, .expect = V, .geometry = 1, .a = {.arch = VS_CONV2D}},
    {.name = "conv1d_relu_he_3x16", .act = GF_ACT_RELU, .depth = 3, .width = 16, .var = 1, .opt = GF_OPT_ADAM,
     .lr = 1e-3, .data = VS_SIGNALS, .batch = 32, .steps = 200, .expect = H, .geometry = 1, .a = {.arch = VS_CONV1D}},
    /* conv1d, kernel 5 on 64 samples: 0.98 of the taps inside; twice He's variance: x1.4 per layer, 1.4^15 = 1.6e2
     * over sixteen layers (and the forward signal as much, so the step size is kept small): exploding. */
    {.name = "conv1d_relu_2he_16x16", .act = GF_ACT_RELU, .depth = 16, .width = 16, .var = 2, .opt = GF_OPT_SGD,
     .lr = 1e-5, .data = VS_SIGNALS, .batch = 32, .steps = 60, .expect = E, .geometry = 1, .a = {.arch = VS_CONV1D}},
    {.name = "conv1d_sigmoid_lecun_4x16", .act = GF_ACT_SIGMOID, .depth = 4, .width = 16, .var = 1,
     .opt = GF_OPT_SGD, .lr = 0.05, .data = VS_SIGNALS, .batch = 32, .steps = 150, .expect = V, .geometry = 1, .a = {.arch = VS_CONV1D}},
    {.name = "conv1d_relu_bias_minus3_3x16", .act = GF_ACT_RELU, .depth = 3, .width = 16, .var = 1, .bias = -3,
     .opt = GF_OPT_SGD, .lr = 0.01, .data = VS_SIGNALS, .batch = 32, .steps = 100, .expect = D, .geometry = 1, .a = {.arch = VS_CONV1D}},

    /* ---- Targets at a sigmoid or tanh output's asymptotes under MAE (VS_BINARY, as the MSE and Huber rows above).
     * MAE's gradient is sign(y - t) / N whatever the residual, so the fit drives the outputs into the tails toward
     * their targets early, while the rest are still in transit; an output half way costs half a miss under MAE (a
     * quarter under MSE), so the loss alone left room for 21 - 29 % of the outputs at the wrong asymptote (of
     * the loss of predicting the majority value) while at most one of a batch of 32 was there, and these read
     * saturated for a stretch (5 flips in 8,000 steps for sigmoid, 8 for tanh).  The rule reads the mean square
     * residual that the MAE loss and the outputs' mean and variance bound (docs/verdicts.md, "Saturated toward the
     * targets"): healthy at every step. */
    {.name = "relu_he_2x64_sigmoid_out_mae", .act = GF_ACT_RELU, .depth = 2, .width = 64, .var = 1,
     .opt = GF_OPT_ADAM, .lr = 1e-3, .data = VS_BINARY, .batch = 32, .steps = 1000, .expect = H,
     .a = {.out_act = GF_ACT_SIGMOID, .loss = GF_LOSS_MAE}},
    {.name = "relu_he_2x64_tanh_out_mae", .act = GF_ACT_RELU, .depth = 2, .width = 64, .var = 1,
     .opt = GF_OPT_ADAM, .lr = 1e-3, .data = VS_BINARY, .batch = 32, .steps = 1000, .expect = H,
     .a = {.out_act = GF_ACT_TANH, .loss = GF_LOSS_MAE}},
    /* An output bias of -10 under MAE: every output at the lower asymptote, the wrong one for half the targets, where
     * the derivative (4.5e-5 for sigmoid, 8e-9 for tanh) passes nothing of sign(y - t); the outputs have no spread
     * inside the range, so the bound is the whole loss, that of predicting the lower value (0.5, or 1 for tanh):
     * saturated. */
    {.name = "relu_he_sigmoid_mae_bias_m10", .act = GF_ACT_RELU, .depth = 2, .width = 64, .var = 1,
     .opt = GF_OPT_SGD, .lr = 0.1, .data = VS_BINARY, .batch = 32, .steps = 300, .expect = S, .geometry = 1,
     .a = {.out_act = GF_ACT_SIGMOID, .loss = GF_LOSS_MAE, .out_bias = -10}},
    {.name = "relu_he_tanh_mae_bias_m10", .act = GF_ACT_RELU, .depth = 2, .width = 64, .var = 1,
     .opt = GF_OPT_SGD, .lr = 0.1, .data = VS_BINARY, .batch = 32, .steps = 300, .expect = S, .geometry = 1,
     .a = {.out_act = GF_ACT_TANH, .loss = GF_LOSS_MAE, .out_bias = -10}},

    /* ---- Inputs off unit scale (x1e-3 and x0.01 on the teacher, variance 1e-6 and 1e-4; x0.03 on the pixels, ~1e-4).
     * A ReLU net is positively homogeneous, so at init its outputs are x s of the scale the init assumes and every
     * gradient is x s of its weights: under SGD at 0.01 on inputs x1e-3 the steps move the net ~1e-5 of its norm x s
     * and the loss stays at the targets' variance: vanishing (learning stagnates; on inputs x0.01 SGD's batch losses
     * fall x0.6 in 600 steps while the full data's stays at ~1: a band, not in the suite).  Adam and RMSProp step by
     * lr per weight whatever the gradient's scale, grow the weights until the outputs are on scale, and fit (the
     * teacher to 4 - 6 % of its variance in 600 steps, the pixels to 0.4 of ln 10): healthy, the loss shows the
     * outputs on the targets' scale (docs/verdicts.md, "Learning stagnates": read stagnating from step ~160 on). */
    {.name = "relu_he_4x64_inputs_x1e-3_sgd", .act = GF_ACT_RELU, .depth = 4, .width = 64, .var = 1,
     .opt = GF_OPT_SGD, .lr = 0.01, .data = VS_TEACHER, .batch = 32, .steps = 600, .expect = V,
     .a = {.input_scale = 1e-3}},
    {.name = "relu_he_4x64_inputs_x0.01_adam", .act = GF_ACT_RELU, .depth = 4, .width = 64, .var = 1,
     .opt = GF_OPT_ADAM, .lr = 1e-3, .data = VS_TEACHER, .batch = 32, .steps = 600, .expect = H,
     .a = {.input_scale = 0.01}},
    {.name = "relu_he_4x64_inputs_x0.01_rmsprop", .act = GF_ACT_RELU, .depth = 4, .width = 64, .var = 1,
     .opt = GF_OPT_RMSPROP, .lr = 1e-3, .data = VS_TEACHER, .batch = 32, .steps = 600, .expect = H,
     .a = {.input_scale = 0.01}},
    {.name = "tanh_lecun_4x64_inputs_x0.01_adam", .act = GF_ACT_TANH, .depth = 4, .width = 64, .var = 1,
     .opt = GF_OPT_ADAM, .lr = 1e-3, .data = VS_TEACHER, .batch = 32, .steps = 600, .expect = H,
     .a = {.input_scale = 0.01}},
    {.name = "relu_he_4x64_pixels_x0.03_adam", .act = GF_ACT_RELU, .depth = 4, .width = 64, .var = 1,
     .opt = GF_OPT_ADAM, .lr = 1e-3, .data = VS_PIXELS, .batch = 32, .steps = 600, .expect = H,
     .a = {.input_scale = 0.03}},

    /* ---- A linear warm-up from ~0 (Goyal et al. 2017): the rate climbs to its peak over the first 500 - 1000 steps,
     * so the first steps are small on purpose (Adam at 2e-6, momentum at 1e-5 of their peaks) and were read "learning
     * stagnates" for 2 - 22 steps in 8 seeds of 8 while each net learned; windows of steps at a rising rate are not
     * judged (docs/verdicts.md, "Learning stagnates"): healthy.  A warm-up to a rate that is too small (1e-7) is judged
     * once the rate stops rising: vanishing. */
    {.name = "relu_he_6x64_adam_warmup500", .act = GF_ACT_RELU, .depth = 6, .width = 64, .var = 1,
     .opt = GF_OPT_ADAM, .lr = 1e-3, .data = VS_TEACHER, .batch = 32, .steps = 700, .expect = H,
     .a = {.warmup = 500}},
    {.name = "relu_he_6x64_pixels_momentum_warmup1000", .act = GF_ACT_RELU, .depth = 6, .width = 64, .var = 1,
     .opt = GF_OPT_MOMENTUM, .lr = 0.01, .data = VS_PIXELS, .batch = 32, .steps = 600, .expect = H,
     .a = {.warmup = 1000}},
    /* ---- Conv stacks with a 2-wide average pool after each of five 1-D convs (64 samples down to 2).  An average
     * pool hands each of its n inputs 1/n of its output's delta, x1/sqrt(n) in norm, which the conv rule undoes
     * (docs/verdicts.md, "Conv stacks").  He's variance keeps the stack's gain near 1 at init; under Adam the filters
     * align with their inputs as they fit (loss 1.4 -> 0.02, weights still at He's scale) and the gradient through
     * the convs grows x13 - 19, x2.1 - 2.9 of it the alignment the forward pass shares: healthy (it read exploding
     * from step ~165 on).  Eight times He's variance passes x2 a layer: x30 over the stack at init: exploding. */
    {.name = "conv1d_relu_he_avgpool_5x16_adam", .act = GF_ACT_RELU, .depth = 5, .width = 16, .var = 1,
     .opt = GF_OPT_ADAM, .lr = 1e-3, .data = VS_SIGNALS, .batch = 32, .steps = 300, .expect = H, .geometry = 1,
     .a = {.arch = VS_CONV1D, .avg_pool = 1}},
    {.name = "conv1d_relu_8he_avgpool_5x16", .act = GF_ACT_RELU, .depth = 5, .width = 16, .var = 8,
     .opt = GF_OPT_SGD, .lr = 1e-5, .data = VS_SIGNALS, .batch = 32, .steps = 60, .expect = E, .geometry = 1,
     .a = {.arch = VS_CONV1D, .avg_pool = 1}},
    {.name = "relu_he_sgd_lr1e-7_warmup100", .act = GF_ACT_RELU, .depth = 6, .width = 64, .var = 1,
     .opt = GF_OPT_SGD, .lr = 1e-7, .data = VS_TEACHER, .batch = 32, .steps = 250, .expect = V,
     .a = {.warmup = 100}},
};
#define VS_COUNT ((int)(sizeof vs_scenarios / sizeof *vs_scenarios))

#undef H
#undef V
#undef E
#undef D
#undef S

#endif /* GF_VERDICT_SCENARIOS_H */
