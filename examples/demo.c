/*
 * demo.c — the flagship demo: one deep MLP (12 hidden layers of 64 units) on a
 * built-in synthetic regression task, trained four ways, with libgradflow's
 * diagnostics watching every step:
 *   (a) sigmoid hidden layers, small init      -> vanishing gradients
 *   (b) ReLU with large weights, high rate     -> exploding, NaN/Inf caught at
 *                                                 its origin by the guard
 *   (c) ReLU, He init, bias 0.1                -> healthy, the loss falls
 *   (d) the net of (b) with clipping + L2      -> trains
 * For each run it prints the per-layer table, the verdict with its reason and
 * remedy, and writes an SVG chart (into argv[1] if given, else the current
 * directory).  Every remedy it prints is then followed: the demo reads it as
 * numbers (gf_diag_remedy_value), trains the net again with it, and shows the
 * verdict and the loss that result.  Usage: demo [output-dir]
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradflow.h"

#define INPUTS 16
#define HIDDEN 64
#define DEPTH 12   /* hidden layers */
#define SAMPLES 512
#define BATCH 64
#define STEPS 300

static float xs[SAMPLES * INPUTS], ts[SAMPLES];

/* y = sin(x . u) + 0.5 x0 x1: smooth, nonlinear, learnable by a healthy deep net. */
static void make_task(void)
{
    unsigned s = 12345;
    float u[INPUTS];
    for (int k = 0; k < INPUTS; k++)
        u[k] = (k % 3 == 0 ? 0.5f : -0.25f);
    for (int i = 0; i < SAMPLES * INPUTS; i++) {
        /* Irwin-Hall approximation of N(0,1) from a small LCG: the demo needs no library RNG. */
        double a = 0;
        for (int r = 0; r < 12; r++) {
            s = s * 1103515245u + 12345u;
            a += (s >> 8) / 16777216.0;
        }
        xs[i] = (float)(a - 6.0);
    }
    for (int i = 0; i < SAMPLES; i++) {
        double d = 0;
        for (int k = 0; k < INPUTS; k++)
            d += u[k] * xs[i * INPUTS + k];
        ts[i] = (float)(sin(d) + 0.5 * xs[i * INPUTS] * xs[i * INPUTS + 1]);
    }
}

static int check(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "demo: %s failed: %s (%s)\n", what, gf_strerror(rc), gf_last_error());
        exit(1);
    }
    return rc;
}

typedef struct {
    const char *tag, *title;
    int32_t act;
    gf_init *winit, *binit; /* owned here, copied into each layer */
    int32_t opt;
    double lr, clip, l2;
    double wscale;          /* factor on the hidden layers' initial weights (0: 1) */
} recipe;

/* Multiplies every hidden layer's initial weights by f. */
static void scale_hidden_weights(gf_net *net, double f)
{
    static float w[HIDDEN * HIDDEN];
    for (int32_t i = 0; i + 1 < gf_net_layer_count(net); i++) {
        gf_layer *l = gf_net_layer(net, i);
        size_t n = (size_t)gf_layer_weight_count(l);
        check(gf_layer_get_weights(l, w, n), "gf_layer_get_weights");
        for (size_t k = 0; k < n; k++)
            w[k] = (float)(w[k] * f);
        check(gf_layer_set_weights(l, w, n), "gf_layer_set_weights");
    }
}

static gf_net *build(const recipe *r)
{
    gf_net *net;
    check(gf_net_create(&net, INPUTS, 7), "gf_net_create");
    /* Off by default (no parameter needs it); on here so the diagnostics follow
     * the gradient all the way down to the data, layer 0's delta-in included. */
    check(gf_net_set_input_grad(net, 1), "gf_net_set_input_grad");
    for (int i = 0; i <= DEPTH; i++) {
        gf_layer *l;
        gf_activation *a;
        check(gf_layer_dense_create(&l, i ? HIDDEN : INPUTS, i == DEPTH ? 1 : HIDDEN), "gf_layer_dense_create");
        check(gf_activation_create(&a, i == DEPTH ? GF_ACT_IDENTITY : r->act), "gf_activation_create");
        check(gf_layer_set_activation(l, a), "gf_layer_set_activation");
        gf_activation_destroy(a);
        check(gf_layer_set_weight_init(l, r->winit), "gf_layer_set_weight_init");
        if (r->binit)
            check(gf_layer_set_bias_init(l, r->binit), "gf_layer_set_bias_init");
        check(gf_net_add(net, l), "gf_net_add");
    }
    gf_optimizer *o;
    check(gf_optimizer_create(&o, r->opt, r->lr), "gf_optimizer_create");
    check(gf_net_set_optimizer(net, o), "gf_net_set_optimizer");
    if (r->clip > 0)
        check(gf_net_set_clip(net, GF_CLIP_NORM, r->clip), "gf_net_set_clip");
    if (r->l2 > 0) {
        gf_penalty *p;
        check(gf_penalty_create(&p, 0.0, r->l2), "gf_penalty_create");
        check(gf_net_set_penalty(net, p), "gf_net_set_penalty");
        gf_penalty_destroy(p);
    }
    if (r->wscale > 0 && r->wscale != 1.0)
        scale_hidden_weights(net, r->wscale);
    return net;
}

static double full_loss(gf_net *net)
{
    double loss = NAN;
    gf_net_evaluate(net, xs, SAMPLES * INPUTS, ts, SAMPLES, SAMPLES, &loss);
    return loss;
}

static int weights_finite(gf_net *net)
{
    static float w[HIDDEN * HIDDEN];
    for (int32_t i = 0; i < gf_net_layer_count(net); i++) {
        gf_layer *l = gf_net_layer(net, i);
        size_t n = (size_t)gf_layer_weight_count(l);
        check(gf_layer_get_weights(l, w, n), "gf_layer_get_weights");
        for (size_t k = 0; k < n; k++)
            if (!isfinite(w[k]))
                return 0;
    }
    return 1;
}

static void print_text(const gf_diag *d, int32_t format)
{
    size_t need = 0;
    gf_diag_report(d, format, NULL, 0, &need);
    char *buf = malloc(need);
    check(gf_diag_report(d, format, buf, need, NULL), "gf_diag_report");
    fputs(buf, stdout);
    free(buf);
}

/* The remedy the diag found, as numbers; each field NAN (act -1) when the remedy does not call for it. */
typedef struct {
    double wscale, lr, bias, l1, l2, clip;
    int32_t act;
    int any;
} remedy;

static double remedy_value(const gf_diag *d, int32_t which, int *any)
{
    int32_t present = 0;
    double v = NAN;
    check(gf_diag_remedy_value(d, which, &present, &v), "gf_diag_remedy_value");
    *any |= present;
    return present ? v : NAN;
}

static remedy read_remedy(const gf_diag *d)
{
    remedy m;
    m.any = 0;
    m.wscale = remedy_value(d, GF_REMEDY_INIT_SCALE, &m.any);
    m.lr = remedy_value(d, GF_REMEDY_LEARNING_RATE, &m.any);
    m.bias = remedy_value(d, GF_REMEDY_BIAS, &m.any);
    m.l1 = remedy_value(d, GF_REMEDY_L1, &m.any);
    m.l2 = remedy_value(d, GF_REMEDY_L2, &m.any);
    m.clip = remedy_value(d, GF_REMEDY_CLIP, &m.any);
    double act = remedy_value(d, GF_REMEDY_ACTIVATION, &m.any);
    m.act = isnan(act) ? -1 : (int32_t)act;
    return m;
}

/* Trains one recipe; returns the net verdict and, in *m, the remedy it found. */
static int32_t run(const recipe *r, const char *dir, remedy *m)
{
    printf("\n==== (%s) %s ====\n", r->tag, r->title);
    gf_net *net = build(r);
    gf_diag *d;
    check(gf_diag_create(&d, net), "gf_diag_create");
    check(gf_diag_enable(d, 1), "gf_diag_enable");
    check(gf_diag_set_option(d, GF_DIAG_GUARD, 1), "gf_diag_set_option");
    double first = full_loss(net);
    int steps = 0, refused = 0;
    for (int s = 0; s < STEPS; s++) {
        int b = s % (SAMPLES / BATCH);
        int rc = gf_net_train_step(net, xs + b * BATCH * INPUTS, BATCH * INPUTS, ts + b * BATCH, BATCH, BATCH, NULL);
        if (rc == GF_ERR_GUARD) {
            refused = 1;
            printf("step %d refused by the guard: %s\n", s, gf_last_error());
            break;
        }
        check(rc, "gf_net_train_step");
        steps++;
    }
    double last = full_loss(net);
    printf("%d step%s; full-data loss %.4g -> %.4g%s\n", steps, steps == 1 ? "" : "s", first, last,
           refused ? " (training stopped: the next step would have written NaN/Inf into the weights)" : "");
    if (refused)
        printf("weights after the refused step: %s\n", weights_finite(net) ? "all finite (kept intact by the guard)"
                                                                           : "NOT finite");
    int32_t found = 0, layer = -1, phase = 0, tensor = 0;
    int64_t at = 0;
    check(gf_diag_origin(d, &found, &at, &layer, &phase, &tensor), "gf_diag_origin");
    if (found)
        printf("first NaN/Inf: step %lld, layer %d, phase %s, tensor %s\n", (long long)at, (int)layer,
               gf_phase_name(phase), gf_tensor_name(tensor));
    print_text(d, GF_REPORT_TEXT);
    char path[1024];
    snprintf(path, sizeof path, "%s/demo_%s.svg", dir, r->tag);
    check(gf_diag_report_file(d, GF_REPORT_SVG, path), "gf_diag_report_file");
    printf("chart: %s\n", path);
    int32_t v;
    check(gf_diag_verdict(d, -1, &v), "gf_diag_verdict");
    *m = read_remedy(d);
    gf_diag_destroy(d);
    gf_net_destroy(net);
    return v;
}

static gf_init *make_init(int32_t kind, double a, double b, double gain)
{
    gf_init *i;
    check(gf_init_create(&i, kind), "gf_init_create");
    if (kind == GF_INIT_NORMAL || kind == GF_INIT_CONSTANT)
        check(gf_init_set_range(i, a, b), "gf_init_set_range");
    if (gain > 0)
        check(gf_init_set_gain(i, gain), "gf_init_set_gain");
    return i;
}

/* The recipe r with the remedy m applied: another activation comes with He init; the other changes are
 * numbers on the recipe (a bias, a penalty strength or a clip the remedy names replaces the recipe's). */
static recipe follow(const recipe *r, const remedy *m, gf_init *he, gf_init **bias_init, char *title, size_t cap)
{
    recipe f = *r;
    int n = snprintf(title, cap, "(%s) with its remedy:", r->tag);
    if (m->act >= 0) {
        f.act = m->act;
        f.winit = he;
        f.wscale = 1.0;
        n += snprintf(title + n, cap - (size_t)n, " %s with He init", gf_activation_name(m->act));
    }
    if (!isnan(m->wscale)) {
        f.wscale = m->wscale;
        n += snprintf(title + n, cap - (size_t)n, " init x%.3g", m->wscale);
    }
    if (!isnan(m->bias)) {
        check(gf_init_create(bias_init, GF_INIT_CONSTANT), "gf_init_create");
        check(gf_init_set_range(*bias_init, m->bias, 0), "gf_init_set_range");
        f.binit = *bias_init;
        n += snprintf(title + n, cap - (size_t)n, " bias %g", m->bias);
    }
    if (!isnan(m->lr)) {
        f.lr = m->lr;
        n += snprintf(title + n, cap - (size_t)n, " lr %g", m->lr);
    }
    if (!isnan(m->l2)) {
        f.l2 = m->l2;
        n += snprintf(title + n, cap - (size_t)n, " L2 %g", m->l2);
    }
    if (!isnan(m->clip)) {
        f.clip = m->clip;
        snprintf(title + n, cap - (size_t)n, " clip %g", m->clip);
    }
    f.title = title;
    return f;
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : ".";
    make_task();
    printf("libgradflow %s demo: a %d-layer MLP (%d -> %d x %d -> 1) on y = sin(x.u) + 0.5 x0 x1, %d samples,\n"
           "batch %d, %d steps per run.  The diagnostics observe every step; the guard is on.\n",
           gf_version_string(), DEPTH + 1, INPUTS, DEPTH, HIDDEN, SAMPLES, BATCH, STEPS);
    gf_init *small = make_init(GF_INIT_NORMAL, 0.0, 0.05, 0);
    gf_init *large = make_init(GF_INIT_NORMAL, 0.0, 2.0 / 8.0, 0); /* std sqrt(4/64): twice He's variance */
    gf_init *he = make_init(GF_INIT_HE_NORMAL, 0, 0, sqrt(2.0));
    gf_init *b01 = make_init(GF_INIT_CONSTANT, 0.1, 0, 0);
    gf_init *b0 = make_init(GF_INIT_CONSTANT, 0.0, 0, 0);
    const recipe runs[] = {
        {"a_vanishing", "sigmoid hidden layers, weights N(0, 0.05^2), SGD lr 0.1", GF_ACT_SIGMOID, small, b0, GF_OPT_SGD,
         0.1, 0, 0, 1},
        {"b_exploding", "ReLU, weights N(0, 4/fan_in) (2x He), SGD lr 0.05", GF_ACT_RELU, large, b0, GF_OPT_SGD, 0.05, 0,
         0, 1},
        {"c_healthy", "ReLU, He init, bias 0.1, SGD lr 0.01", GF_ACT_RELU, he, b01, GF_OPT_SGD, 0.01, 0, 0, 1},
        {"d_rescued", "the net of (b) with gradient clipping at norm 1 and L2 1e-3", GF_ACT_RELU, large, b0, GF_OPT_SGD,
         0.05, 1.0, 1e-3, 1},
    };
    int32_t got[4], fixed[4];
    char titles[4][256], tags[4][32];
    recipe followed[4];
    for (int k = 0; k < 4; k++) {
        remedy m;
        got[k] = run(&runs[k], dir, &m);
        fixed[k] = -1;
        if (got[k] == GF_VERDICT_HEALTHY || !m.any)
            continue;
        /* Follow the remedy the demo just printed, and show what it does. */
        gf_init *bias_init = NULL;
        followed[k] = follow(&runs[k], &m, he, &bias_init, titles[k], sizeof titles[k]);
        snprintf(tags[k], sizeof tags[k], "%s_remedied", runs[k].tag);
        followed[k].tag = tags[k];
        fixed[k] = run(&followed[k], dir, &m);
        gf_init_destroy(bias_init);
    }
    printf("\n==== summary ====\n");
    for (int k = 0; k < 4; k++) {
        printf("(%s) %-60s verdict: %s\n", runs[k].tag, runs[k].title, gf_verdict_name(got[k]));
        if (fixed[k] >= 0)
            /* The remedy's numbers are in the run's header above: CI compares these lines across CPUs. */
            printf("    %-67s verdict: %s\n", "with the remedy it printed, followed", gf_verdict_name(fixed[k]));
    }
    printf("\nWhat this shows: (a) the sigmoid net's delta shrinks by orders of magnitude from the top hidden layer\n"
           "to the bottom one, so its lower layers never learn; the remedy, ReLU with He init, was checked on a copy\n"
           "of the net before it was printed, and the net trained with it reads healthy.  (b) twice He's variance\n"
           "grows delta x1.4 per layer and one SGD step overflows: the guard refused it and named where the first\n"
           "Inf/NaN appeared; the remedy scales the init by ~1/sqrt(2) and lowers the learning rate, both checked, and\n"
           "followed they train.  (c) He init keeps delta flat across depth and the loss falls.  (d) clipping + L2\n"
           "bound every step, so the same init trains; its gain per layer stays within the spread a healthy net shows.\n");
    gf_init_destroy(small);
    gf_init_destroy(large);
    gf_init_destroy(he);
    gf_init_destroy(b01);
    gf_init_destroy(b0);
    return 0;
}
