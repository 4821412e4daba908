/* test_alloc_fail.c — allocation-failure injection, the SQLite way.  Each scenario is a sequence of library calls
 * run from scratch with the k-th allocation failing, for k = 1, 2, ... until the scenario completes without
 * reaching k: once failing only the k-th allocation (one-shot), once failing it and every one after
 * (persistent).  At every k the first call that fails must return GF_ERR_NOMEM and leave the state bit-identical
 * to before it (parameters, gradients, optimizer state and step counts, the generator, the diagnostics history,
 * origin and counters, the net's configuration); after the scenario's objects are destroyed nothing may be
 * live.  Crashes and leaks show under `make check SANITIZE=1` and valgrind, which run this suite too.
 *
 * Adding a scenario (a new layer kind, model files): write
 *     static int scenario_conv(ctx *c) { CALL(c, gf_net_create(&c->net, 16, 1)); CALL(c, ...); return GF_OK; }
 * — every library call that may allocate inside CALL(c, expr), handles kept in ctx so ctx_free destroys them —
 * and add one row { "conv", scenario_conv } to SCENARIOS.  A call that takes a layer handle sets c->layer
 * (and clears it once a net owns it).  If the new objects hold state a failed call must not change, add it to
 * snapshot().  GF_ALLOC_FAIL_VERBOSE=1 prints every failure point. */
#define _POSIX_C_SOURCE 200809L /* getpid */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state_snapshot.h"

/* ---- the failing allocator ---- */

static long alloc_count; /* allocations attempted since arming */
static long fail_at;     /* 1-based allocation to refuse; 0: never */
static bool persistent;  /* refuse every allocation from fail_at on */
static long injected;    /* allocations refused */

static bool refuse(void)
{
    long n = ++alloc_count;
    bool no = fail_at && (n == fail_at || (persistent && n > fail_at));
    injected += no;
    return no;
}

static void *fail_malloc(void *u, size_t n) { (void)u; return refuse() ? NULL : malloc(n); }
static void *fail_realloc(void *u, void *p, size_t n) { (void)u; return refuse() ? NULL : realloc(p, n); }
static void fail_free(void *u, void *p) { (void)u; free(p); }

typedef struct ctx {
    gf_net *net;
    gf_diag *d;
    gf_layer *layer; /* created, not yet owned by the net */
    gf_optimizer *opt;
    gf_loss *loss;
    gf_init *init;
    gf_penalty *pen;
    gf_activation *act;
    gf_schedule *sched;
    gf_fit *fit;
    gf_net *loaded; /* from a model file */
    void *model;    /* a saved model (plain malloc) */
    size_t model_size;
    char path[64];
    blob before;
    const char *failed_call; /* the call that returned non-OK, for the message */
} ctx;

static void snapshot(const ctx *c, blob *s)
{
    s->n = 0;
    snapshot_net(s, c->net);
    snapshot_diag(s, c->d);
    bool layer = c->layer != NULL, opt = c->opt != NULL;
    PUT(s, layer);
    PUT(s, opt);
    if (c->opt)
        snapshot_optimizer(s, c->opt);
}

static void ctx_free(ctx *c)
{
    gf_diag_destroy(c->d);
    gf_net_destroy(c->net);
    gf_layer_destroy(c->layer);
    gf_optimizer_destroy(c->opt);
    gf_loss_destroy(c->loss);
    gf_init_destroy(c->init);
    gf_penalty_destroy(c->pen);
    gf_activation_destroy(c->act);
    gf_schedule_destroy(c->sched);
    gf_fit_destroy(c->fit);
    gf_net_destroy(c->loaded);
    free(c->model);
    if (c->path[0])
        remove(c->path);
    free(c->before.b);
    memset(c, 0, sizeof *c);
}

/* The first failing call must be out of memory and have changed nothing. */
static int step_failed(ctx *c, int rc, const char *call)
{
    c->failed_call = call;
    if (rc != GF_ERR_NOMEM)
        fail_msg("allocation %ld refused: %s returned %d (%s: %s), not GF_ERR_NOMEM", fail_at, call, rc,
                 gf_strerror(rc), gf_last_error());
    blob after = {0};
    snapshot(c, &after);
    bool same = blob_equal(&after, &c->before);
    free(after.b);
    if (!same)
        fail_msg("allocation %ld refused: %s returned GF_ERR_NOMEM but changed the state", fail_at, call);
    return rc;
}

#define CALL(c, expr)                                                                                                 \
    do {                                                                                                              \
        snapshot((c), &(c)->before);                                                                                  \
        int rc_ = (expr);                                                                                             \
        if (rc_)                                                                                                      \
            return step_failed((c), rc_, #expr);                                                                      \
    } while (0)

/* ---- data ---- */

enum { IN = 6, HID = 12, OUT = 3, N = 24 };
static float X[N * IN], Y[N * OUT];

static void make_data(void)
{
    for (int i = 0; i < N * IN; i++)
        X[i] = (float)((i * 37 % 23) - 11) / 11.0f;
    for (int i = 0; i < N * OUT; i++)
        Y[i] = (float)((i * 11 % 7) - 3) / 3.0f;
}

/* A net of every activation family, built through both ways of adding a layer. */
static int build_net(ctx *c)
{
    CALL(c, gf_net_create(&c->net, IN, 7));
    CALL(c, gf_net_add_dense(c->net, HID, GF_ACT_TANH, NULL));
    CALL(c, gf_layer_dense_create(&c->layer, HID, HID));
    CALL(c, gf_activation_create(&c->act, GF_ACT_LEAKY_RELU));
    CALL(c, gf_layer_set_activation(c->layer, c->act));
    CALL(c, gf_init_create(&c->init, GF_INIT_ORTHOGONAL)); /* allocates while drawing */
    CALL(c, gf_layer_set_weight_init(c->layer, c->init));
    CALL(c, gf_net_add(c->net, c->layer));
    c->layer = NULL; /* the net owns it */
    CALL(c, gf_net_add_dense(c->net, OUT, GF_ACT_IDENTITY, NULL));
    return GF_OK;
}

/* ---- scenarios ---- */

static int scenario_build(ctx *c)
{
    CALL(c, build_net(c));
    CALL(c, gf_loss_create(&c->loss, GF_LOSS_HUBER));
    CALL(c, gf_net_set_loss(c->net, c->loss));
    CALL(c, gf_penalty_create(&c->pen, 0.01, 0.001));
    CALL(c, gf_net_set_penalty(c->net, c->pen));
    CALL(c, gf_layer_set_penalty(gf_net_layer(c->net, 0), c->pen));
    CALL(c, gf_layer_set_bias_init(gf_net_layer(c->net, 2), c->init) == GF_ERR_INVALID ? GF_OK : -1);
    CALL(c, gf_layer_set_weight_init(gf_net_layer(c->net, 2), c->init)); /* redraws in place */
    CALL(c, gf_net_set_input_grad(c->net, 1));
    return GF_OK;
}

static int train_with(ctx *c, int32_t kind, int32_t clip)
{
    CALL(c, build_net(c));
    CALL(c, gf_optimizer_create(&c->opt, kind, 0.01));
    CALL(c, gf_net_set_optimizer(c->net, c->opt));
    c->opt = NULL; /* the net owns it */
    CALL(c, gf_net_set_threads(c->net, 2));
    if (clip)
        CALL(c, gf_net_set_clip(c->net, clip, 1.0));
    CALL(c, gf_net_train_step(c->net, X, N * IN, Y, N * OUT, N, NULL));
    CALL(c, gf_net_train_step(c->net, X, 8 * IN, Y, 8 * OUT, 8, NULL));
    CALL(c, gf_net_forward(c->net, X, N * IN, N, NULL, 0));
    CALL(c, gf_net_backward(c->net, Y, N * OUT, NULL));
    CALL(c, gf_net_clip_grad_norm(c->net, 10.0, NULL));
    CALL(c, gf_net_step(c->net));
    CALL(c, gf_net_set_input_grad(c->net, 1));
    CALL(c, gf_net_train_step(c->net, X, N * IN, Y, N * OUT, N, NULL));
    CALL(c, gf_net_set_threads(c->net, 3));
    CALL(c, gf_net_train_step(c->net, X, N * IN, Y, N * OUT, N, NULL));
    return GF_OK;
}

static int scenario_sgd(ctx *c) { return train_with(c, GF_OPT_SGD, GF_CLIP_NONE); }
static int scenario_momentum(ctx *c) { return train_with(c, GF_OPT_MOMENTUM, GF_CLIP_VALUE); }
static int scenario_nesterov(ctx *c) { return train_with(c, GF_OPT_NESTEROV, GF_CLIP_NONE); }
static int scenario_rmsprop(ctx *c) { return train_with(c, GF_OPT_RMSPROP, GF_CLIP_NORM); }
static int scenario_adagrad(ctx *c) { return train_with(c, GF_OPT_ADAGRAD, GF_CLIP_LAYER_NORM); }
static int scenario_adam(ctx *c) { return train_with(c, GF_OPT_ADAM, GF_CLIP_NORM); }
static int scenario_adamw(ctx *c) { return train_with(c, GF_OPT_ADAMW, GF_CLIP_NONE); }

/* A report into a buffer: the size query (GF_ERR_BUFFER or GF_OK for a zero capacity), then the text. */
static int report_to_buffer(const gf_diag *d, int32_t format)
{
    size_t need = 0;
    int rc = gf_diag_report(d, format, NULL, 0, &need);
    if (rc && rc != GF_ERR_BUFFER)
        return rc;
    char *buf = malloc(need);
    rc = gf_diag_report(d, format, buf, need, NULL);
    free(buf);
    return rc;
}

static int verdict_texts(const gf_diag *d, int32_t layer)
{
    char buf[4096];
    int32_t v;
    uint32_t flags;
    int rc = gf_diag_verdict(d, layer, &v);
    if (!rc)
        rc = gf_diag_verdict_flags(d, layer, &flags);
    if (!rc)
        rc = gf_diag_verdict_reason(d, layer, buf, sizeof buf, NULL);
    if (!rc)
        rc = gf_diag_verdict_remedy(d, layer, buf, sizeof buf, NULL);
    return rc;
}

static int scenario_diagnostics(ctx *c)
{
    CALL(c, build_net(c));
    CALL(c, gf_diag_create(&c->d, c->net));
    CALL(c, gf_diag_set_option(c->d, GF_DIAG_GUARD, 1));
    CALL(c, gf_diag_probe(c->d, 16, 3));
    CALL(c, verdict_texts(c->d, -1));
    CALL(c, gf_net_train_step(c->net, X, N * IN, Y, N * OUT, N, NULL));
    CALL(c, gf_diag_set_option(c->d, GF_DIAG_HISTORY, 5)); /* resizes the ring */
    for (int s = 0; s < 7; s++)
        CALL(c, gf_net_train_step(c->net, X, N * IN, Y, N * OUT, N, NULL));
    CALL(c, gf_diag_probe(c->d, 40, 4)); /* a larger batch than training's */
    for (int32_t l = -1; l < 3; l++)
        CALL(c, verdict_texts(c->d, l));
    for (int32_t f = GF_REPORT_TEXT; f <= GF_REPORT_SVG; f++) {
        CALL(c, report_to_buffer(c->d, f));
        CALL(c, gf_diag_report_file(c->d, f, c->path));
    }
    CALL(c, gf_diag_enable(c->d, 0));
    CALL(c, gf_diag_enable(c->d, 1));
    CALL(c, gf_diag_reset(c->d));
    return GF_OK;
}

static int scenario_fit(ctx *c)
{
    CALL(c, build_net(c));
    CALL(c, gf_diag_create(&c->d, c->net));
    CALL(c, gf_net_set_clip(c->net, GF_CLIP_NORM, 5.0));
    CALL(c, gf_net_fit(c->net, X, N * IN, Y, N * OUT, N, 5, 2, NULL, NULL, NULL));
    CALL(c, gf_net_fit(c->net, X, N * IN, Y, N * OUT, N, 7, 1, NULL, NULL, NULL)); /* a wider batch */
    return GF_OK;
}

static int describe(const gf_net *net)
{
    size_t need = 0;
    int rc = gf_net_describe(net, NULL, 0, &need);
    if (rc && rc != GF_ERR_BUFFER)
        return rc;
    char *buf = malloc(need);
    rc = gf_net_describe(net, buf, need, NULL);
    free(buf);
    return rc;
}

static int scenario_describe_reinit_inference(ctx *c)
{
    CALL(c, build_net(c));
    CALL(c, describe(c->net));
    CALL(c, gf_net_reinit(c->net, 42));
    float y[N * OUT];
    double loss;
    CALL(c, gf_net_predict(c->net, X, N * IN, N, y, N * OUT));
    CALL(c, gf_net_evaluate(c->net, X, N * IN, Y, N * OUT, N, &loss));
    CALL(c, gf_net_train_step(c->net, X, N * IN, Y, N * OUT, N, NULL));
    CALL(c, gf_net_reinit(c->net, 43));
    CALL(c, describe(c->net));
    return GF_OK;
}

/* gf_net_step on its own: the default optimizer created by the first step, Adam's moments by a later one. */
static int scenario_step_alone(ctx *c)
{
    CALL(c, build_net(c));
    CALL(c, gf_net_forward(c->net, X, N * IN, N, NULL, 0));
    CALL(c, gf_net_backward(c->net, Y, N * OUT, NULL));
    CALL(c, gf_net_step(c->net));
    CALL(c, gf_optimizer_create(&c->opt, GF_OPT_ADAM, 0.01));
    CALL(c, gf_net_set_optimizer(c->net, c->opt));
    c->opt = NULL;
    CALL(c, gf_diag_create(&c->d, c->net));
    CALL(c, gf_diag_set_option(c->d, GF_DIAG_GUARD, 1));
    CALL(c, gf_net_forward(c->net, X, N * IN, N, NULL, 0));
    CALL(c, gf_net_backward(c->net, Y, N * OUT, NULL));
    CALL(c, gf_net_step(c->net));
    return GF_OK;
}

/* Every layer kind on shaped data: dense on each step of a sequence, flatten, dense; layers made by kind and
 * option; parameter blocks; the per-time-step series of the diagnostics. */
static int scenario_layer_kinds(ctx *c)
{
    const int64_t dims[2] = {4, 3}; /* 4 steps x 3 features: 12 values a sample */
    CALL(c, gf_net_create_shaped(&c->net, GF_SHAPE_SEQUENCE, dims, 2, 5));
    CALL(c, gf_layer_create(&c->layer, GF_LAYER_DENSE));
    CALL(c, gf_layer_set_option(c->layer, GF_LAYER_OUTPUTS, 5));
    CALL(c, gf_net_add(c->net, c->layer));
    c->layer = NULL;
    CALL(c, gf_net_add_flatten(c->net, NULL));
    CALL(c, gf_net_add_dense(c->net, OUT, GF_ACT_IDENTITY, NULL));
    CALL(c, gf_diag_create(&c->d, c->net));
    CALL(c, gf_net_train_step(c->net, X, 12 * 8, Y, 8 * OUT, 8, NULL));
    CALL(c, gf_net_train_step(c->net, X, 12 * 2, Y, 2 * OUT, 2, NULL));
    float w[64];
    int32_t block;
    CALL(c, gf_layer_param_block_find(gf_net_layer(c->net, 0), "weight", &block));
    CALL(c, gf_layer_get_param(gf_net_layer(c->net, 0), block, w, 15));
    CALL(c, gf_layer_set_param(gf_net_layer(c->net, 0), block, w, 15));
    double series[8];
    int64_t len;
    CALL(c, gf_diag_series(c->d, 0, GF_SERIES_DELTA_TIME_NORM, series, 8, &len));
    CALL(c, gf_diag_probe(c->d, 6, 1));
    return GF_OK;
}

/* The training loop: metrics, a schedule, a validation split, early stopping with the best weights restored,
 * batched evaluation and the epoch records.  The fit's options and schedule live in ctx's scratch slots. */
static int scenario_fit_v2(ctx *c)
{
    CALL(c, build_net(c));
    CALL(c, gf_diag_create(&c->d, c->net));
    CALL(c, gf_net_add_metric(c->net, GF_METRIC_MAE, NAN));
    CALL(c, gf_net_add_metric(c->net, GF_METRIC_RMSE, NAN));
    CALL(c, gf_schedule_create(&c->sched, GF_SCHED_COSINE, 0.05));
    CALL(c, gf_fit_create(&c->fit));
    CALL(c, gf_fit_set(c->fit, GF_FIT_EPOCHS, 3));
    CALL(c, gf_fit_set(c->fit, GF_FIT_BATCH, 5));
    CALL(c, gf_fit_set(c->fit, GF_FIT_VALIDATION_SPLIT, 0.25));
    CALL(c, gf_fit_set(c->fit, GF_FIT_RESTORE_BEST, 1));
    CALL(c, gf_fit_set(c->fit, GF_FIT_PROGRESS, 0));
    CALL(c, gf_fit_set_schedule(c->fit, c->sched));
    CALL(c, gf_net_fit_v2(c->net, X, N * IN, Y, N * OUT, N, c->fit));
    double loss, values[2];
    CALL(c, gf_net_evaluate_v2(c->net, X, N * IN, Y, N * OUT, N, 7, &loss, values, 2));
    gf_epoch_record rec = {.size = sizeof rec};
    CALL(c, gf_net_epoch_record(c->net, 0, &rec));
    return GF_OK;
}

/* Model files: the size query, a save into a buffer and to a file (with and without training state), the
 * loads of both and the model's fields.  A loaded net lands in c->loaded. */
static int save_to_buffer(ctx *c, uint32_t flags)
{
    size_t need = 0;
    int rc = gf_net_save_buffer(c->net, flags, NULL, 0, &need);
    if (rc)
        return rc;
    free(c->model);
    c->model = malloc(need);
    c->model_size = need;
    return gf_net_save_buffer(c->net, flags, c->model, need, NULL);
}

static int scenario_model_files(ctx *c)
{
    CALL(c, build_net(c));
    CALL(c, gf_optimizer_create(&c->opt, GF_OPT_ADAM, 0.01));
    CALL(c, gf_net_set_optimizer(c->net, c->opt));
    c->opt = NULL;
    CALL(c, gf_net_add_metric(c->net, GF_METRIC_MAE, NAN));
    CALL(c, gf_net_train_step(c->net, X, N * IN, Y, N * OUT, N, NULL));
    CALL(c, save_to_buffer(c, GF_SAVE_TRAINING_STATE));
    int64_t layers;
    CALL(c, gf_model_info(c->model, c->model_size, GF_MODEL_LAYERS, &layers));
    CALL(c, gf_net_load_buffer(&c->loaded, c->model, c->model_size));
    gf_net_destroy(c->loaded);
    c->loaded = NULL;
    CALL(c, save_to_buffer(c, 0));
    CALL(c, gf_net_save(c->net, c->path, GF_SAVE_TRAINING_STATE));
    CALL(c, gf_net_save(c->net, c->path, 0)); /* over the earlier file */
    CALL(c, gf_net_load(&c->loaded, c->path));
    CALL(c, gf_net_train_step(c->loaded, X, N * IN, Y, N * OUT, N, NULL));
    return GF_OK;
}

/* Convolution and pooling: an image net (conv2d, max pooling, a depthwise conv made by options, average
 * pooling, flatten, dense) and a signal net (conv1d, pooling, global average pooling), trained and probed on
 * two threads with the guard on, then saved and loaded. */
static int scenario_conv(ctx *c)
{
    static float img[6 * 2 * 6 * 6], sig[6 * 2 * 8];
    for (size_t i = 0; i < sizeof img / sizeof *img; i++)
        img[i] = (float)((i * 29 % 17) - 8) / 8.0f;
    for (size_t i = 0; i < sizeof sig / sizeof *sig; i++)
        sig[i] = (float)((i * 13 % 11) - 5) / 5.0f;
    const int64_t image[3] = {2, 6, 6}, signal[2] = {2, 8};
    CALL(c, gf_net_create_shaped(&c->net, GF_SHAPE_IMAGE, image, 3, 3));
    CALL(c, gf_net_add_conv2d(c->net, 4, 3, 1, 1, GF_ACT_RELU, NULL));
    CALL(c, gf_net_add_maxpool2d(c->net, 2, 0, NULL));
    CALL(c, gf_layer_create(&c->layer, GF_LAYER_CONV2D));
    CALL(c, gf_layer_set_option(c->layer, GF_LAYER_OUTPUTS, 4));
    CALL(c, gf_layer_set_option(c->layer, GF_LAYER_KERNEL_H, 3));
    CALL(c, gf_layer_set_option(c->layer, GF_LAYER_KERNEL_W, 3));
    CALL(c, gf_layer_set_option(c->layer, GF_LAYER_PAD_H, 1));
    CALL(c, gf_layer_set_option(c->layer, GF_LAYER_PAD_W, 1));
    CALL(c, gf_layer_set_option(c->layer, GF_LAYER_GROUPS, 4));
    CALL(c, gf_net_add(c->net, c->layer));
    c->layer = NULL;
    CALL(c, gf_net_add_avgpool2d(c->net, 3, 1, NULL));
    CALL(c, gf_net_add_flatten(c->net, NULL));
    CALL(c, gf_net_add_dense(c->net, OUT, GF_ACT_IDENTITY, NULL));
    CALL(c, gf_net_set_threads(c->net, 2));
    CALL(c, gf_diag_create(&c->d, c->net));
    CALL(c, gf_diag_set_option(c->d, GF_DIAG_GUARD, 1));
    CALL(c, gf_net_train_step(c->net, img, sizeof img / sizeof *img, Y, 6 * OUT, 6, NULL));
    CALL(c, gf_diag_probe(c->d, 4, 2));
    CALL(c, report_to_buffer(c->d, GF_REPORT_JSON));
    CALL(c, save_to_buffer(c, GF_SAVE_TRAINING_STATE));
    CALL(c, gf_net_load_buffer(&c->loaded, c->model, c->model_size));
    gf_net_destroy(c->loaded);
    c->loaded = NULL;
    gf_diag_destroy(c->d);
    c->d = NULL;
    gf_net_destroy(c->net);
    c->net = NULL;
    CALL(c, gf_net_create_shaped(&c->net, GF_SHAPE_SIGNAL, signal, 2, 4));
    CALL(c, gf_net_add_conv1d(c->net, 3, 3, 1, 0, GF_ACT_TANH, NULL));
    CALL(c, gf_net_add_maxpool1d(c->net, 2, 0, NULL));
    CALL(c, gf_net_add_avgpool1d(c->net, 1, 1, NULL));
    CALL(c, gf_net_add_global_avgpool(c->net, NULL));
    CALL(c, gf_net_add_dense(c->net, OUT, GF_ACT_IDENTITY, NULL));
    CALL(c, gf_net_train_step(c->net, sig, sizeof sig / sizeof *sig, Y, 6 * OUT, 6, NULL));
    return GF_OK;
}

/* Recurrent layers: RNN -> LSTM -> GRU on a sequence, with an initial state and variable lengths, trained
 * on two threads with diagnostics across time, then the final state and a model round trip. */
static int scenario_recurrent(ctx *c)
{
    const int64_t seq[2] = {5, 3}, lengths[4] = {5, 3, 4, 1};
    static float xs[4 * 5 * 3], h0[4 * 4], fin[4 * 2 * 6];
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++)
        xs[i] = (float)((i * 7 % 13) - 6) / 6.0f;
    for (size_t i = 0; i < sizeof h0 / sizeof *h0; i++)
        h0[i] = 0.1f * (float)(i % 5);
    CALL(c, gf_net_create_shaped(&c->net, GF_SHAPE_SEQUENCE, seq, 2, 8));
    CALL(c, gf_net_add_rnn(c->net, 4, GF_ACT_TANH, 1, NULL));
    CALL(c, gf_net_add_lstm(c->net, 6, 1, NULL));
    CALL(c, gf_net_add_gru(c->net, 5, 0, NULL));
    CALL(c, gf_net_add_dense(c->net, OUT, GF_ACT_IDENTITY, NULL));
    CALL(c, gf_net_set_threads(c->net, 2));
    CALL(c, gf_diag_create(&c->d, c->net));
    CALL(c, gf_layer_set_initial_state(gf_net_layer(c->net, 0), h0, 16, 4));
    CALL(c, gf_layer_set_lengths(gf_net_layer(c->net, 1), lengths, 4));
    CALL(c, gf_net_train_step(c->net, xs, 60, Y, 4 * OUT, 4, NULL));
    CALL(c, gf_net_train_step(c->net, xs, 60, Y, 4 * OUT, 4, NULL));
    CALL(c, gf_layer_final_state(gf_net_layer(c->net, 1), fin, 4 * 12));
    return GF_OK;
}

/* A recurrent net's report: its time remedies are checked on copies of the net (a model round trip and a pass
 * each), so the net is kept small: every failure point reruns the scenario up to it.  W_hh = 0.1 I makes the
 * gradient vanish across the 8 steps, so the report's remedies (switch to an LSTM, orthogonal W_hh) run their
 * checks, and a check that runs out of memory must fail the report, never shorten its text. */
static int scenario_recurrent_report(ctx *c)
{
    const int64_t seq[2] = {8, 2};
    static float xs[2 * 8 * 2];
    static const float whh[9] = {0.1f, 0, 0, 0, 0.1f, 0, 0, 0, 0.1f};
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++)
        xs[i] = (float)((i * 7 % 13) - 6) / 6.0f;
    gf_layer *rnn = NULL;
    int32_t block;
    CALL(c, gf_net_create_shaped(&c->net, GF_SHAPE_SEQUENCE, seq, 2, 9));
    CALL(c, gf_net_add_rnn(c->net, 3, GF_ACT_TANH, 0, &rnn));
    CALL(c, gf_layer_param_block_find(rnn, "weight_hh_l0", &block));
    CALL(c, gf_layer_set_param(rnn, block, whh, 9));
    CALL(c, gf_net_add_dense(c->net, OUT, GF_ACT_IDENTITY, NULL));
    CALL(c, gf_diag_create(&c->d, c->net));
    CALL(c, gf_net_train_step(c->net, xs, 32, Y, 2 * OUT, 2, NULL));
    CALL(c, report_to_buffer(c->d, GF_REPORT_TEXT));
    return GF_OK;
}

typedef struct {
    const char *name;
    int (*run)(ctx *c);
} scenario;

static const scenario SCENARIOS[] = {
    {"build", scenario_build},
    {"train-sgd", scenario_sgd},
    {"train-momentum", scenario_momentum},
    {"train-nesterov", scenario_nesterov},
    {"train-rmsprop", scenario_rmsprop},
    {"train-adagrad", scenario_adagrad},
    {"train-adam", scenario_adam},
    {"train-adamw", scenario_adamw},
    {"diagnostics", scenario_diagnostics},
    {"fit", scenario_fit},
    {"describe-reinit-inference", scenario_describe_reinit_inference},
    {"step-alone", scenario_step_alone},
    {"layer-kinds", scenario_layer_kinds},
    {"fit-v2", scenario_fit_v2},
    {"model-files", scenario_model_files},
    {"conv", scenario_conv},
    {"recurrent", scenario_recurrent},
    {"recurrent-report", scenario_recurrent_report},
};

/* ---- the loop ---- */

/* Whether a failed atomic write left its temporary ("<path>.tmp-...") in /tmp. */
static bool temporary_left(const char *path)
{
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    char prefix[96];
    snprintf(prefix, sizeof prefix, "%s.tmp-", base);
    DIR *d = opendir("/tmp");
    bool found = false;
    for (struct dirent *e; d && !found && (e = readdir(d));)
        found = !strncmp(e->d_name, prefix, strlen(prefix));
    if (d)
        closedir(d);
    return found;
}

static long total_points;

/* Runs one scenario at every failure point in one mode; returns the points exercised. */
static long run_all_points(const scenario *s, bool persist)
{
    bool verbose = getenv("GF_ALLOC_FAIL_VERBOSE") != NULL;
    long points = 0;
    for (long k = 1;; k++) {
        ctx c = {0};
        snprintf(c.path, sizeof c.path, "/tmp/gf_alloc_fail_%ld.out", (long)getpid());
        alloc_count = 0;
        injected = 0;
        persistent = persist;
        fail_at = k;
        int rc = s->run(&c);
        fail_at = 0;
        bool hit = injected > 0;
        if (verbose && hit)
            printf("  %s %s k=%ld: %s -> %d\n", s->name, persist ? "persistent" : "one-shot", k,
                   c.failed_call ? c.failed_call : "(completed)", rc);
        char path[sizeof c.path];
        memcpy(path, c.path, sizeof path);
        ctx_free(&c);
        if (temporary_left(path))
            fail_msg("%s, allocation %ld refused: a temporary of %s was left behind", s->name, k, path);
        if (gf_live_allocations() != 0)
            fail_msg("%s, allocation %ld refused: %lld allocations leaked", s->name, k,
                     (long long)gf_live_allocations());
        if (!hit) {
            assert_int_equal(rc, GF_OK);
            break;
        }
        points++;
    }
    return points;
}

static void test_every_allocation_failure_is_nomem_and_changes_nothing(void **state)
{
    (void)state;
    make_data();
    assert_int_equal(gf_set_allocator(fail_malloc, fail_realloc, fail_free, NULL), GF_OK);
    for (size_t i = 0; i < sizeof SCENARIOS / sizeof *SCENARIOS; i++) {
        long one = run_all_points(&SCENARIOS[i], false);
        long all = run_all_points(&SCENARIOS[i], true);
        printf("alloc-fail: %-26s %4ld one-shot, %4ld persistent failure points\n", SCENARIOS[i].name, one, all);
        assert_true(one > 0 && all > 0);
        total_points += one + all;
    }
    printf("alloc-fail: %ld failure points exercised in %zu scenarios\n", total_points,
           sizeof SCENARIOS / sizeof *SCENARIOS);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_allocation_failure_is_nomem_and_changes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
