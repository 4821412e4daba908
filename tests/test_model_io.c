/* test_model_io.c — model files: round trips (bit-identical predictions, configuration, training resumed
 * bit-exactly for every optimizer), the caller-buffer rules, a loader that refuses every truncation, bit flip
 * and inconsistency with GF_ERR_FORMAT naming the offset, versions, and saves that fail without touching the
 * earlier file.  Hand-made files are edited copies of real ones, resealed (size field and CRC-32). */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, fork, setrlimit */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

/* ---- nets and data ---- */

#define N_SAMPLES 40
#define N_IN 4
#define N_OUT 3
static float X[N_SAMPLES * N_IN], T[N_SAMPLES * N_OUT];

static void make_data(void)
{
    for (int i = 0; i < N_SAMPLES * N_IN; i++)
        X[i] = (float)sin(0.37 * i) * 1.5f;
    for (int i = 0; i < N_SAMPLES * N_OUT; i++)
        T[i] = (float)cos(0.11 * i);
}

static gf_init *init_of(int32_t kind)
{
    gf_init *in;
    assert_int_equal(gf_init_create(&in, kind), GF_OK);
    return in;
}

/* 4 -> 6 (leaky 0.2, He normal fan-out, L1) -> 5 (ELU 0.5, bias 0.1) -> 3 (identity, Xavier gain 2); net L2,
 * Huber 0.5, norm clipping 1, RMSE and top-2 metrics, and the optimizer `opt` with non-default
 * hyper-parameters. */
static gf_net *rich_net(int32_t opt, uint64_t seed)
{
    gf_net *net;
    gf_layer *l0, *l1, *l2;
    assert_int_equal(gf_net_create(&net, N_IN, seed), GF_OK);
    assert_int_equal(gf_layer_dense_create(&l0, N_IN, 6), GF_OK);
    gf_activation *a;
    assert_int_equal(gf_activation_create(&a, GF_ACT_LEAKY_RELU), GF_OK);
    assert_int_equal(gf_activation_set(a, GF_ACT_PARAM_SLOPE, 0.2), GF_OK);
    assert_int_equal(gf_layer_set_activation(l0, a), GF_OK);
    gf_activation_destroy(a);
    gf_init *he = init_of(GF_INIT_HE_NORMAL);
    assert_int_equal(gf_init_set_mode(he, GF_FAN_OUT), GF_OK);
    assert_int_equal(gf_layer_set_weight_init(l0, he), GF_OK);
    gf_init_destroy(he);
    gf_penalty *p;
    assert_int_equal(gf_penalty_create(&p, 1e-3, 0.0), GF_OK);
    assert_int_equal(gf_layer_set_penalty(l0, p), GF_OK);
    gf_penalty_destroy(p);
    assert_int_equal(gf_net_add(net, l0), GF_OK);

    assert_int_equal(gf_layer_dense_create(&l1, 6, 5), GF_OK);
    assert_int_equal(gf_activation_create(&a, GF_ACT_ELU), GF_OK);
    assert_int_equal(gf_activation_set(a, GF_ACT_PARAM_ALPHA, 0.5), GF_OK);
    assert_int_equal(gf_layer_set_activation(l1, a), GF_OK);
    gf_activation_destroy(a);
    gf_init *c = init_of(GF_INIT_CONSTANT);
    assert_int_equal(gf_init_set_range(c, 0.1, 0.0), GF_OK);
    assert_int_equal(gf_layer_set_bias_init(l1, c), GF_OK);
    gf_init_destroy(c);
    assert_int_equal(gf_net_add(net, l1), GF_OK);

    assert_int_equal(gf_layer_dense_create(&l2, 5, N_OUT), GF_OK);
    gf_init *x = init_of(GF_INIT_XAVIER_UNIFORM);
    assert_int_equal(gf_init_set_gain(x, 2.0), GF_OK);
    assert_int_equal(gf_layer_set_weight_init(l2, x), GF_OK);
    gf_init_destroy(x);
    assert_int_equal(gf_net_add(net, l2), GF_OK);

    assert_int_equal(gf_penalty_create(&p, 0.0, 1e-4), GF_OK);
    assert_int_equal(gf_penalty_set_include_bias(p, 1), GF_OK);
    assert_int_equal(gf_net_set_penalty(net, p), GF_OK);
    gf_penalty_destroy(p);
    gf_loss *loss;
    assert_int_equal(gf_loss_create(&loss, GF_LOSS_HUBER), GF_OK);
    assert_int_equal(gf_loss_set(loss, GF_LOSS_PARAM_DELTA, 0.5), GF_OK);
    assert_int_equal(gf_net_set_loss(net, loss), GF_OK);
    gf_loss_destroy(loss);
    assert_int_equal(gf_net_set_clip(net, GF_CLIP_NORM, 1.0), GF_OK);
    assert_int_equal(gf_net_add_metric(net, GF_METRIC_RMSE, NAN), GF_OK);
    assert_int_equal(gf_net_add_metric(net, GF_METRIC_TOP_K, 2), GF_OK);
    gf_optimizer *o;
    assert_int_equal(gf_optimizer_create(&o, opt, 0.02), GF_OK);
    gf_optimizer_set(o, GF_OPT_MOMENTUM_MU, 0.8); /* each applies to some kinds only */
    gf_optimizer_set(o, GF_OPT_BETA1, 0.85);
    gf_optimizer_set(o, GF_OPT_EPS, 1e-6);
    gf_optimizer_set(o, GF_OPT_RHO, 0.95);
    assert_int_equal(gf_optimizer_set(o, GF_OPT_WEIGHT_DECAY, 1e-3), GF_OK);
    assert_int_equal(gf_net_set_optimizer(net, o), GF_OK);
    return net;
}

/* 4 -> 3 (tanh), default everything: the layout the hand-edited files below rely on. */
static gf_net *plain_net(void)
{
    gf_net *net;
    assert_int_equal(gf_net_create(&net, N_IN, 5), GF_OK);
    assert_int_equal(gf_net_add_dense(net, N_OUT, GF_ACT_TANH, NULL), GF_OK);
    return net;
}

static uint8_t *save(const gf_net *net, uint32_t flags, size_t *size)
{
    assert_int_equal(gf_net_save_buffer(net, flags, NULL, 0, size), GF_OK);
    uint8_t *buf = malloc(*size);
    assert_int_equal(gf_net_save_buffer(net, flags, buf, *size, NULL), GF_OK);
    return buf;
}

static gf_net *load(const uint8_t *buf, size_t size)
{
    gf_net *net = NULL;
    int rc = gf_net_load_buffer(&net, buf, size);
    if (rc)
        fail_msg("load failed: %s", gf_last_error());
    return net;
}

static void predict(gf_net *net, float *y)
{
    assert_int_equal(gf_net_predict(net, X, N_SAMPLES * N_IN, N_SAMPLES, y, N_SAMPLES * N_OUT), GF_OK);
}

static void assert_same_predictions(gf_net *a, gf_net *b)
{
    float ya[N_SAMPLES * N_OUT], yb[N_SAMPLES * N_OUT];
    predict(a, ya);
    predict(b, yb);
    assert_memory_equal(ya, yb, sizeof ya);
}

static void assert_same_params(gf_net *a, gf_net *b)
{
    assert_int_equal(gf_net_layer_count(a), gf_net_layer_count(b));
    for (int32_t i = 0; i < gf_net_layer_count(a); i++) {
        gf_layer *la = gf_net_layer(a, i), *lb = gf_net_layer(b, i);
        size_t nw = (size_t)gf_layer_weight_count(la), nb = (size_t)gf_layer_bias_count(la);
        assert_int_equal(nw, gf_layer_weight_count(lb));
        float *wa = malloc(4 * (nw + nb)), *wb = malloc(4 * (nw + nb));
        assert_int_equal(gf_layer_get_weights(la, wa, nw), GF_OK);
        assert_int_equal(gf_layer_get_bias(la, wa + nw, nb), GF_OK);
        assert_int_equal(gf_layer_get_weights(lb, wb, nw), GF_OK);
        assert_int_equal(gf_layer_get_bias(lb, wb + nw, nb), GF_OK);
        assert_memory_equal(wa, wb, 4 * (nw + nb));
        free(wa);
        free(wb);
    }
}

static void train_steps(gf_net *net, int steps)
{
    for (int s = 0; s < steps; s++) {
        int off = (s * 8) % (N_SAMPLES - 8);
        assert_int_equal(gf_net_train_step(net, X + off * N_IN, 8 * N_IN, T + off * N_OUT, 8 * N_OUT, 8, NULL), GF_OK);
    }
}

/* 10 steps per epoch, shuffled from the net's generator. */
static void fit_epochs(gf_net *net, int epochs)
{
    assert_int_equal(gf_net_fit(net, X, sizeof X / 4, T, sizeof T / 4, N_SAMPLES, 4, epochs, NULL, NULL, NULL), GF_OK);
}

/* ---- editing files ---- */

static uint64_t rd64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static void wr32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}

static void wr64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}

/* Writes the size field and the checksum of an edited file, so only the edit is wrong. */
static void reseal(uint8_t *buf, size_t size)
{
    wr64(buf + 24, size);
    wr32(buf + size - 4, gfi_crc32(0, buf, size - 4));
}

/* Offset of the header of the nth record of type `type` (records start at 32). */
static size_t record_at(const uint8_t *buf, size_t size, uint32_t type, int nth)
{
    for (size_t at = 32; at + 16 <= size - 4; at += 16 + (size_t)rd64(buf + at + 8))
        if (rd32(buf + at) == type && nth-- == 0)
            return at;
    fail_msg("record type %u not found", (unsigned)type);
    return 0;
}

/* Field offsets in the body of plain_net's layer record (docs/format.md, "Layer record"): dense's options
 * are outputs (key 0) and inputs (key 1, 0 = inferred). */
enum {
    L_KIND = 0, L_NAME = 4, L_SHAPE_KIND = 10, L_SHAPE = 14, L_IN = 18, L_OPTS = 26, L_OUTPUTS = 34, L_INPUTS = 46,
    L_ACT = 54, L_INITS = 62, L_PENALTY = 90, L_BLOCKS = 91, L_WNAME = 95, L_WDIM0 = 106, L_WDATA = 122
};

static size_t layer_body(const uint8_t *buf, size_t size) { return record_at(buf, size, 2, 0) + 16; }

/* A copy with n bytes inserted at `at` (and the enclosing record's length grown by n). */
static uint8_t *insert(const uint8_t *buf, size_t size, size_t rec, size_t at, const void *bytes, size_t n)
{
    uint8_t *out = malloc(size + n);
    memcpy(out, buf, at);
    memcpy(out + at, bytes, n);
    memcpy(out + at + n, buf + at, size - at);
    wr64(out + rec + 8, rd64(out + rec + 8) + n);
    reseal(out, size + n);
    return out;
}

/* Loads an edited file: it must fail with `code` and a message holding `want` (and no handle, no leak). */
static void assert_refused(const uint8_t *buf, size_t size, int code, const char *want)
{
    int64_t live = gf_live_allocations();
    uint8_t *exact = malloc(size ? size : 1); /* exactly sized: ASan sees any over-read */
    memcpy(exact, buf, size);
    gf_net *net = (gf_net *)exact;
    int rc = gf_net_load_buffer(&net, exact, size);
    free(exact);
    if (rc != code || net != NULL || (want && !strstr(gf_last_error(), want)))
        fail_msg("expected %d with \"%s\", got %d: %s", code, want ? want : "", rc, gf_last_error());
    assert_int_equal(gf_live_allocations(), live);
}

/* ---- round trips ---- */

static void test_crc32_gives_the_standard_check_value_in_any_split(void **state)
{
    (void)state;
    assert_int_equal(gfi_crc32(0, "123456789", 9), 0xcbf43926u); /* the CRC-32/ISO-HDLC check value */
    uint8_t b[1000];
    for (int i = 0; i < 1000; i++)
        b[i] = (uint8_t)(i * 31 + 7);
    uint32_t whole = gfi_crc32(0, b, sizeof b), parts = 0;
    for (size_t at = 0, k = 1; at < sizeof b; at += k, k = k * 3 % 17 + 1)
        parts = gfi_crc32(parts, b + at, at + k <= sizeof b ? k : sizeof b - at);
    assert_int_equal(parts, whole);
    assert_int_equal(gfi_crc32(0, NULL, 0), 0);
}

static void test_round_trip_gives_bit_identical_predictions(void **state)
{
    (void)state;
    gf_net *a = rich_net(GF_OPT_ADAM, 11);
    train_steps(a, 20);
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    gf_net *b = load(buf, size);
    assert_same_params(a, b);
    assert_same_predictions(a, b);
    free(buf);
    gf_net_destroy(a);
    gf_net_destroy(b);
}

static void test_round_trip_keeps_the_whole_configuration(void **state)
{
    (void)state;
    gf_net *a = rich_net(GF_OPT_RMSPROP, 3);
    assert_int_equal(gf_net_set_input_grad(a, 1), GF_OK);
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    gf_net *b = load(buf, size);
    assert_int_equal(gf_net_input_size(b), N_IN);
    assert_int_equal(gf_net_output_size(b), N_OUT);
    assert_int_equal(gf_net_param_count(b), gf_net_param_count(a));
    assert_int_equal(gf_net_loss_kind(b), GF_LOSS_HUBER);
    assert_int_equal(gf_net_input_grad_enabled(b), 1);
    const int32_t acts[3] = {GF_ACT_LEAKY_RELU, GF_ACT_ELU, GF_ACT_IDENTITY};
    for (int i = 0; i < 3; i++)
        assert_int_equal(gf_layer_activation_kind(gf_net_layer(b, i)), acts[i]);
    int32_t mk;
    double mp;
    assert_int_equal(gf_net_metric_count(b), 2);
    assert_int_equal(gf_net_metric(b, 1, &mk, &mp), GF_OK);
    assert_int_equal(mk, GF_METRIC_TOP_K);
    assert_true(mp == 2.0);
    gf_optimizer *o = gf_net_optimizer(b);
    assert_int_equal(gf_optimizer_kind(o), GF_OPT_RMSPROP);
    double v;
    assert_int_equal(gf_optimizer_get(o, GF_OPT_LR, &v), GF_OK);
    assert_true(v == 0.02);
    assert_int_equal(gf_optimizer_get(o, GF_OPT_RHO, &v), GF_OK);
    assert_true(v == 0.95);
    assert_int_equal(gf_optimizer_get(o, GF_OPT_EPS, &v), GF_OK);
    assert_true(v == 1e-6);
    /* Loss, penalties and clipping act alike: the same step from the same weights. */
    double la, lb;
    assert_int_equal(gf_net_evaluate(a, X, sizeof X / 4, T, sizeof T / 4, N_SAMPLES, &la), GF_OK);
    assert_int_equal(gf_net_evaluate(b, X, sizeof X / 4, T, sizeof T / 4, N_SAMPLES, &lb), GF_OK);
    assert_true(la == lb);
    train_steps(a, 1);
    train_steps(b, 1);
    assert_same_params(a, b);
    /* Initializers and seed: reinit draws the same values in both. */
    assert_int_equal(gf_net_reinit(a, 99), GF_OK);
    assert_int_equal(gf_net_reinit(b, 99), GF_OK);
    assert_same_params(a, b);
    free(buf);
    gf_net_destroy(a);
    gf_net_destroy(b);
}

/* A shaped net of every layer kind and the shapes they take, through a file and back. */
static void assert_round_trip_of(gf_net *a, size_t in_per_sample, size_t out_per_sample)
{
    float x[2 * 64], ya[2 * 64], yb[2 * 64];
    for (size_t i = 0; i < 2 * in_per_sample; i++)
        x[i] = (float)sin(0.3 * (double)i);
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    gf_net *b = load(buf, size);
    int32_t ka, kb, ra, rb;
    int64_t da[4], db[4];
    assert_int_equal(gf_net_input_shape(a, &ka, da, 4, &ra), GF_OK);
    assert_int_equal(gf_net_input_shape(b, &kb, db, 4, &rb), GF_OK);
    assert_int_equal(ka, kb);
    assert_int_equal(ra, rb);
    assert_memory_equal(da, db, (size_t)ra * sizeof da[0]);
    assert_int_equal(gf_net_predict(a, x, 2 * in_per_sample, 2, ya, 2 * out_per_sample), GF_OK);
    assert_int_equal(gf_net_predict(b, x, 2 * in_per_sample, 2, yb, 2 * out_per_sample), GF_OK);
    assert_memory_equal(ya, yb, 2 * out_per_sample * sizeof(float));
    free(buf);
    gf_net_destroy(b);
}

static void test_an_image_net_with_flatten_round_trips(void **state)
{
    (void)state;
    gf_net *a;
    const int64_t image[3] = {2, 3, 3};
    assert_int_equal(gf_net_create_shaped(&a, GF_SHAPE_IMAGE, image, 3, 4), GF_OK);
    assert_int_equal(gf_net_add_flatten(a, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(a, 5, GF_ACT_TANH, NULL), GF_OK);
    assert_round_trip_of(a, 18, 5);
    gf_net_destroy(a);
}

static void test_a_dense_layer_on_a_sequence_round_trips(void **state)
{
    (void)state;
    gf_net *a;
    const int64_t seq[2] = {4, 3};
    assert_int_equal(gf_net_create_shaped(&a, GF_SHAPE_SEQUENCE, seq, 2, 4), GF_OK);
    assert_int_equal(gf_net_add_dense(a, 2, GF_ACT_RELU, NULL), GF_OK);
    assert_round_trip_of(a, 12, 8);
    gf_net_destroy(a);
}

/* A CNN whose layers use every conv and pooling option away from its default. */
static gf_net *conv_net(uint64_t seed)
{
    gf_net *a;
    const int64_t image[3] = {2, 5, 5};
    assert_int_equal(gf_net_create_shaped(&a, GF_SHAPE_IMAGE, image, 3, seed), GF_OK);
    gf_layer *l;
    assert_int_equal(gf_layer_create(&l, GF_LAYER_CONV2D), GF_OK);
    const int32_t keys[] = {GF_LAYER_OUTPUTS, GF_LAYER_INPUTS, GF_LAYER_KERNEL_H, GF_LAYER_KERNEL_W, GF_LAYER_STRIDE_H,
                            GF_LAYER_STRIDE_W, GF_LAYER_PAD_H, GF_LAYER_PAD_W, GF_LAYER_DILATION_H, GF_LAYER_DILATION_W,
                            GF_LAYER_GROUPS};
    const double values[] = {4, 2, 3, 2, 1, 2, 2, 1, 2, 1, 2};
    for (int k = 0; k < 11; k++)
        assert_int_equal(gf_layer_set_option(l, keys[k], values[k]), GF_OK);
    assert_int_equal(gf_net_add(a, l), GF_OK); /* 4 x 5 x 3 */
    assert_int_equal(gf_net_add_maxpool2d(a, 2, 1, NULL), GF_OK); /* 4 x 4 x 2 */
    assert_int_equal(gf_net_add_avgpool2d(a, 2, 0, NULL), GF_OK); /* 4 x 2 x 1 */
    assert_int_equal(gf_net_add_global_avgpool(a, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(a, 3, GF_ACT_IDENTITY, NULL), GF_OK);
    return a;
}

static void test_conv_and_pooling_layers_round_trip_with_every_option(void **state)
{
    (void)state;
    gf_net *a = conv_net(6);
    assert_round_trip_of(a, 50, 3);
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    gf_net *b = load(buf, size);
    for (int32_t i = 0; i < gf_net_layer_count(a); i++) {
        gf_layer *la = gf_net_layer(a, i), *lb = gf_net_layer(b, i);
        assert_int_equal(gf_layer_kind(la), gf_layer_kind(lb));
        assert_int_equal(gf_layer_option_count(la), gf_layer_option_count(lb));
        for (int32_t k = 0; k < gf_layer_option_count(la); k++) {
            double va, vb;
            assert_int_equal(gf_layer_get_option(la, gf_layer_option_key(la, k), &va), GF_OK);
            assert_int_equal(gf_layer_get_option(lb, gf_layer_option_key(la, k), &vb), GF_OK);
            assert_true(va == vb);
        }
    }
    free(buf);
    gf_net_destroy(a);
    gf_net_destroy(b);
    const int64_t signal[2] = {3, 12};
    assert_int_equal(gf_net_create_shaped(&a, GF_SHAPE_SIGNAL, signal, 2, 2), GF_OK);
    assert_int_equal(gf_net_add_conv1d(a, 4, 3, 2, 1, GF_ACT_RELU, NULL), GF_OK);
    assert_int_equal(gf_net_add_maxpool1d(a, 2, 0, NULL), GF_OK);
    assert_int_equal(gf_net_add_avgpool1d(a, 2, 1, NULL), GF_OK);
    assert_round_trip_of(a, 36, 8);
    gf_net_destroy(a);
}

/* 6 train steps, save with training state, load, 6 more: the same bits as 12 without a break. */
static void test_training_a_cnn_resumes_bit_exactly(void **state)
{
    (void)state;
    float x[4 * 50], t[4 * 3];
    for (int i = 0; i < 4 * 50; i++)
        x[i] = (float)sin(0.37 * i);
    for (int i = 0; i < 12; i++)
        t[i] = (float)cos(0.5 * i);
    gf_net *whole = conv_net(9), *first = conv_net(9);
    gf_optimizer *o1, *o2;
    assert_int_equal(gf_optimizer_create(&o1, GF_OPT_ADAM, 0.01), GF_OK);
    assert_int_equal(gf_optimizer_create(&o2, GF_OPT_ADAM, 0.01), GF_OK);
    assert_int_equal(gf_net_set_optimizer(whole, o1), GF_OK);
    assert_int_equal(gf_net_set_optimizer(first, o2), GF_OK);
    for (int s = 0; s < 6; s++) {
        assert_int_equal(gf_net_train_step(whole, x, 200, t, 12, 4, NULL), GF_OK);
        assert_int_equal(gf_net_train_step(first, x, 200, t, 12, 4, NULL), GF_OK);
    }
    size_t size;
    uint8_t *buf = save(first, GF_SAVE_TRAINING_STATE, &size);
    gf_net_destroy(first);
    gf_net *resumed = load(buf, size);
    free(buf);
    for (int s = 0; s < 6; s++) {
        assert_int_equal(gf_net_train_step(whole, x, 200, t, 12, 4, NULL), GF_OK);
        assert_int_equal(gf_net_train_step(resumed, x, 200, t, 12, 4, NULL), GF_OK);
    }
    assert_same_params(whole, resumed);
    gf_net_destroy(whole);
    gf_net_destroy(resumed);
}

/* Every recurrent option and block survives: an RNN (relu, every step) into an LSTM (forget bias -0.5,
 * truncation 3) into a GRU (last step); a trained copy keeps training bit-exactly (the resume tests' rule). */
static void test_recurrent_layers_round_trip(void **state)
{
    (void)state;
    gf_net *a;
    const int64_t seq[2] = {5, 3};
    assert_int_equal(gf_net_create_shaped(&a, GF_SHAPE_SEQUENCE, seq, 2, 4), GF_OK);
    assert_int_equal(gf_net_add_rnn(a, 4, GF_ACT_RELU, 1, NULL), GF_OK);
    gf_layer *l;
    assert_int_equal(gf_layer_create(&l, GF_LAYER_LSTM), GF_OK);
    assert_int_equal(gf_layer_set_option(l, GF_LAYER_HIDDEN, 3), GF_OK);
    assert_int_equal(gf_layer_set_option(l, GF_LAYER_RETURN_SEQUENCES, 1), GF_OK);
    assert_int_equal(gf_layer_set_option(l, GF_LAYER_TRUNCATE, 3), GF_OK);
    assert_int_equal(gf_layer_set_option(l, GF_LAYER_FORGET_BIAS, -0.5), GF_OK);
    assert_int_equal(gf_net_add(a, l), GF_OK);
    assert_int_equal(gf_net_add_gru(a, 2, 0, NULL), GF_OK);
    assert_round_trip_of(a, 15, 2);
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    gf_net *b = load(buf, size);
    const int32_t keys[4] = {GF_LAYER_HIDDEN, GF_LAYER_RETURN_SEQUENCES, GF_LAYER_TRUNCATE, GF_LAYER_FORGET_BIAS};
    for (int k = 0; k < 4; k++) {
        double va, vb;
        assert_int_equal(gf_layer_get_option(gf_net_layer(a, 1), keys[k], &va), GF_OK);
        assert_int_equal(gf_layer_get_option(gf_net_layer(b, 1), keys[k], &vb), GF_OK);
        assert_true(va == vb);
    }
    assert_int_equal(gf_layer_activation_kind(gf_net_layer(b, 0)), GF_ACT_RELU);
    free(buf);
    gf_net_destroy(b);
    gf_net_destroy(a);
}

static void test_a_per_step_loss_round_trips(void **state)
{
    (void)state;
    gf_net *a;
    const int64_t seq[2] = {5, 3};
    assert_int_equal(gf_net_create_shaped(&a, GF_SHAPE_SEQUENCE, seq, 2, 4), GF_OK);
    assert_int_equal(gf_net_add_gru(a, 4, 1, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(a, 3, GF_ACT_IDENTITY, NULL), GF_OK);
    gf_loss *loss;
    assert_int_equal(gf_loss_create(&loss, GF_LOSS_SOFTMAX_CE_LABELS), GF_OK);
    assert_int_equal(gf_loss_set(loss, GF_LOSS_PARAM_PER_STEP, 1), GF_OK);
    assert_int_equal(gf_net_set_loss(a, loss), GF_OK);
    gf_loss_destroy(loss);
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    gf_net *b = load(buf, size);
    assert_int_equal(gf_net_loss_kind(b), GF_LOSS_SOFTMAX_CE_LABELS);
    assert_int_equal(gf_net_target_size(b), 5); /* a label per step, not one per sample */
    free(buf);
    gf_net_destroy(b);
    gf_net_destroy(a);
}

/* docs/format.md tells bias blocks from weight blocks by name, so a reader that knows no kind can still map
 * the moment vectors: every kind must keep to that rule. */
static void test_bias_blocks_are_exactly_those_named_bias(void **state)
{
    (void)state;
    gf_net *a;
    const int64_t seq[2] = {3, 4};
    assert_int_equal(gf_net_create_shaped(&a, GF_SHAPE_SEQUENCE, seq, 2, 1), GF_OK);
    assert_int_equal(gf_net_add_rnn(a, 3, GF_ACT_TANH, 1, NULL), GF_OK);
    assert_int_equal(gf_net_add_lstm(a, 3, 1, NULL), GF_OK);
    assert_int_equal(gf_net_add_gru(a, 3, 1, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(a, 2, GF_ACT_TANH, NULL), GF_OK);
    assert_int_equal(gf_net_add_flatten(a, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(a, 2, GF_ACT_TANH, NULL), GF_OK);
    /* The convolution and pooling kinds, on an image and on a signal. */
    gf_net *b, *c;
    const int64_t image[3] = {2, 6, 6}, signal[2] = {2, 8};
    assert_int_equal(gf_net_create_shaped(&b, GF_SHAPE_IMAGE, image, 3, 1), GF_OK);
    assert_int_equal(gf_net_add_conv2d(b, 4, 3, 1, 1, GF_ACT_RELU, NULL), GF_OK);
    assert_int_equal(gf_net_add_maxpool2d(b, 2, 0, NULL), GF_OK);
    assert_int_equal(gf_net_add_avgpool2d(b, 2, 1, NULL), GF_OK);
    assert_int_equal(gf_net_add_global_avgpool(b, NULL), GF_OK);
    assert_int_equal(gf_net_create_shaped(&c, GF_SHAPE_SIGNAL, signal, 2, 1), GF_OK);
    assert_int_equal(gf_net_add_conv1d(c, 3, 3, 1, 0, GF_ACT_TANH, NULL), GF_OK);
    assert_int_equal(gf_net_add_maxpool1d(c, 2, 0, NULL), GF_OK);
    assert_int_equal(gf_net_add_avgpool1d(c, 3, 1, NULL), GF_OK);
    bool seen[64] = {false};
    const gf_net *nets[3] = {a, b, c};
    for (int n = 0; n < 3; n++)
        for (int32_t i = 0; i < nets[n]->nlayers; i++) {
            const gf_layer *l = nets[n]->layers[i];
            seen[l->kind] = true;
            for (int32_t k = 0; k < l->nblocks; k++)
                assert_int_equal(l->block[k].bias, strncmp(l->block[k].name, "bias", 4) == 0);
        }
    gf_net_destroy(a);
    gf_net_destroy(b);
    gf_net_destroy(c);
    for (int32_t k = 0; k < 64; k++) /* a new kind must join a net above */
        if (gfi_layer_kind_ops(k) && !seen[k])
            fail_msg("layer kind %d (%s) is not checked here: add it", (int)k, gfi_layer_kind_ops(k)->name);
}

static void test_saving_a_loaded_net_gives_the_same_bytes(void **state)
{
    (void)state;
    gf_net *a = rich_net(GF_OPT_ADAMW, 8);
    fit_epochs(a, 2);
    for (uint32_t flags = 0; flags <= 1; flags++) {
        size_t n1, n2;
        uint8_t *b1 = save(a, flags, &n1);
        gf_net *b = load(b1, n1);
        uint8_t *b2 = save(b, flags, &n2);
        assert_int_equal(n1, n2);
        assert_memory_equal(b1, b2, n1);
        free(b1);
        free(b2);
        gf_net_destroy(b);
    }
    gf_net_destroy(a);
}

/* 50 steps, save with training state, load, 100 more steps (fit, which shuffles from the generator, and
 * train steps): bit-identical weights to a net trained 150 steps without interruption. */
static void resume_is_bit_exact(int32_t opt)
{
    gf_net *whole = rich_net(opt, 21), *first = rich_net(opt, 21);
    fit_epochs(whole, 5);
    fit_epochs(first, 5);
    size_t size;
    uint8_t *buf = save(first, GF_SAVE_TRAINING_STATE, &size);
    gf_net_destroy(first);
    gf_net *resumed = load(buf, size);
    free(buf);
    assert_int_equal(gf_net_steps(resumed), 50);
    assert_int_equal(gf_optimizer_steps(gf_net_optimizer(resumed)), 50);
    fit_epochs(whole, 5);
    fit_epochs(resumed, 5);
    train_steps(whole, 50);
    train_steps(resumed, 50);
    assert_int_equal(gf_net_steps(resumed), 150);
    assert_same_params(whole, resumed);
    assert_same_predictions(whole, resumed);
    gf_net_destroy(whole);
    gf_net_destroy(resumed);
}

static void test_resume_is_bit_exact_with_sgd(void **state) { (void)state; resume_is_bit_exact(GF_OPT_SGD); }
static void test_resume_is_bit_exact_with_momentum(void **state) { (void)state; resume_is_bit_exact(GF_OPT_MOMENTUM); }
static void test_resume_is_bit_exact_with_nesterov(void **state) { (void)state; resume_is_bit_exact(GF_OPT_NESTEROV); }
static void test_resume_is_bit_exact_with_rmsprop(void **state) { (void)state; resume_is_bit_exact(GF_OPT_RMSPROP); }
static void test_resume_is_bit_exact_with_adagrad(void **state) { (void)state; resume_is_bit_exact(GF_OPT_ADAGRAD); }
static void test_resume_is_bit_exact_with_adam(void **state) { (void)state; resume_is_bit_exact(GF_OPT_ADAM); }
static void test_resume_is_bit_exact_with_adamw(void **state) { (void)state; resume_is_bit_exact(GF_OPT_ADAMW); }

/* The optimizer's step count goes on from the file's, also for the kinds that keep no moments (SGD saves none:
 * its first step after the load took it for an unsized optimizer and started the count again from 0). */
static void optimizer_steps_go_on_after_a_resume(int32_t opt)
{
    gf_net *whole = rich_net(opt, 21), *first = rich_net(opt, 21);
    train_steps(whole, 7);
    train_steps(first, 7);
    size_t size;
    uint8_t *buf = save(first, GF_SAVE_TRAINING_STATE, &size);
    gf_net_destroy(first);
    gf_net *resumed = load(buf, size);
    free(buf);
    train_steps(whole, 3);
    train_steps(resumed, 3);
    assert_int_equal(gf_optimizer_steps(gf_net_optimizer(whole)), 10);
    assert_int_equal(gf_optimizer_steps(gf_net_optimizer(resumed)), 10);
    gf_net_destroy(whole);
    gf_net_destroy(resumed);
}

static void test_the_optimizer_step_count_goes_on_after_a_resume_for_every_kind(void **state)
{
    (void)state;
    for (int32_t opt = GF_OPT_SGD; opt <= GF_OPT_ADAMW; opt++)
        optimizer_steps_go_on_after_a_resume(opt);
}

static void test_without_training_state_the_optimizer_starts_afresh(void **state)
{
    (void)state;
    gf_net *a = rich_net(GF_OPT_ADAM, 4);
    train_steps(a, 10);
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    gf_net *b = load(buf, size);
    assert_int_equal(gf_net_steps(b), 0);
    assert_int_equal(gf_optimizer_steps(gf_net_optimizer(b)), 0);
    /* Not begun: the loaded net can still grow (a new head for fine-tuning). */
    assert_int_equal(gf_net_add_dense(b, 2, GF_ACT_SIGMOID, NULL), GF_OK);
    free(buf);
    gf_net_destroy(a);
    gf_net_destroy(b);
}

static void test_training_state_keeps_the_net_closed_to_new_layers(void **state)
{
    (void)state;
    gf_net *a = rich_net(GF_OPT_SGD, 4);
    train_steps(a, 3);
    size_t size;
    uint8_t *buf = save(a, GF_SAVE_TRAINING_STATE, &size);
    gf_net *b = load(buf, size);
    assert_int_equal(gf_net_add_dense(b, 2, GF_ACT_SIGMOID, NULL), GF_ERR_STATE);
    free(buf);
    gf_net_destroy(a);
    gf_net_destroy(b);
}

static void test_a_net_without_optimizer_loads_without_one(void **state)
{
    (void)state;
    gf_net *a = plain_net();
    size_t size;
    uint8_t *buf = save(a, GF_SAVE_TRAINING_STATE, &size);
    gf_net *b = load(buf, size);
    assert_null(gf_net_optimizer(b));
    train_steps(a, 5);
    train_steps(b, 5);
    assert_same_params(a, b);
    free(buf);
    gf_net_destroy(a);
    gf_net_destroy(b);
}

static void test_file_round_trip_and_model_info(void **state)
{
    (void)state;
    char dir[] = "/tmp/gf_model_XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/net.gfm", dir);
    gf_net *a = rich_net(GF_OPT_NESTEROV, 2);
    train_steps(a, 7);
    assert_int_equal(gf_net_save(a, path, GF_SAVE_TRAINING_STATE), GF_OK);
    gf_net *b;
    assert_int_equal(gf_net_load(&b, path), GF_OK);
    assert_same_predictions(a, b);
    size_t size;
    uint8_t *buf = save(a, GF_SAVE_TRAINING_STATE, &size);
    const int64_t want[8] = {GF_FORMAT_VERSION_MAJOR, GF_FORMAT_VERSION_MINOR, GF_VERSION_NUMBER, 3,
                             gf_net_param_count(a), 1, 7, N_IN};
    for (int32_t f = GF_MODEL_FORMAT_MAJOR; f <= GF_MODEL_INPUTS; f++) {
        int64_t v = -1;
        assert_int_equal(gf_model_info(buf, size, f, &v), GF_OK);
        assert_int_equal(v, want[f]);
    }
    int64_t v;
    assert_int_equal(gf_model_info(buf, size, 99, &v), GF_ERR_INVALID);
    assert_int_equal(gf_model_info(buf, size - 1, GF_MODEL_LAYERS, &v), GF_ERR_FORMAT);
    free(buf);
    remove(path);
    rmdir(dir);
    gf_net_destroy(a);
    gf_net_destroy(b);
}

/* ---- the caller's buffer ---- */

static void test_save_buffer_answers_the_size_query_and_refuses_a_small_buffer_untouched(void **state)
{
    (void)state;
    gf_net *a = plain_net();
    size_t need = 0;
    gf_clear_error();
    assert_int_equal(gf_net_save_buffer(a, 0, NULL, 0, &need), GF_OK); /* the size query succeeds */
    assert_string_equal(gf_last_error(), "");
    assert_true(need > 36);
    uint8_t *buf = malloc(need);
    memset(buf, 0xab, need);
    size_t again = 0;
    assert_int_equal(gf_net_save_buffer(a, 0, buf, need - 1, &again), GF_ERR_BUFFER);
    assert_int_equal(again, need);
    for (size_t i = 0; i < need; i++)
        assert_int_equal(buf[i], 0xab);
    assert_int_equal(gf_net_save_buffer(a, 0, buf, need, NULL), GF_OK);
    assert_memory_equal(buf, "\x89GFM\r\n\x1a\n", 8);
    free(buf);
    gf_net_destroy(a);
}

static void test_save_and_load_refuse_bad_arguments(void **state)
{
    (void)state;
    gf_net *a = plain_net(), *b = (gf_net *)&b;
    uint8_t buf[8];
    size_t need;
    assert_int_equal(gf_net_save_buffer(NULL, 0, NULL, 0, &need), GF_ERR_NULL);
    assert_int_equal(gf_net_save_buffer(a, 0, NULL, 8, &need), GF_ERR_NULL);
    assert_int_equal(gf_net_save_buffer(a, 6, NULL, 0, &need), GF_ERR_INVALID);
    assert_int_equal(gf_net_save(a, NULL, 0), GF_ERR_NULL);
    assert_int_equal(gf_net_save(NULL, "/tmp/x", 0), GF_ERR_NULL);
    assert_int_equal(gf_net_load_buffer(NULL, buf, 8), GF_ERR_NULL);
    assert_int_equal(gf_net_load_buffer(&b, NULL, 8), GF_ERR_NULL);
    assert_null(b);
    assert_int_equal(gf_net_load(&b, NULL), GF_ERR_NULL);
    gf_loss *l;
    assert_int_equal(gf_loss_create(&l, GF_LOSS_MSE), GF_OK);
    assert_int_equal(gf_net_save_buffer((const gf_net *)l, 0, NULL, 0, &need), GF_ERR_KIND);
    gf_loss_destroy(l);
    gf_net_destroy(a);
}

static void test_a_net_with_nonfinite_weights_is_not_saved(void **state)
{
    (void)state;
    gf_net *a = plain_net();
    a->params[5] = NAN;
    size_t need = 0;
    assert_int_equal(gf_net_save_buffer(a, 0, NULL, 0, &need), GF_ERR_NONFINITE);
    assert_non_null(strstr(gf_last_error(), "parameter 5"));
    gf_net_destroy(a);
}

/* ---- a loader that trusts nothing ---- */

static void test_every_truncation_is_a_format_error(void **state)
{
    (void)state;
    gf_net *a = rich_net(GF_OPT_ADAM, 6);
    train_steps(a, 2);
    size_t size;
    uint8_t *buf = save(a, GF_SAVE_TRAINING_STATE, &size);
    for (size_t n = 0; n < size; n++)
        assert_refused(buf, n, GF_ERR_FORMAT, "offset");
    free(buf);
    gf_net_destroy(a);
}

static void test_ten_thousand_single_bit_flips_are_detected(void **state)
{
    (void)state;
    gf_net *a = rich_net(GF_OPT_MOMENTUM, 6);
    train_steps(a, 2);
    size_t size;
    uint8_t *buf = save(a, GF_SAVE_TRAINING_STATE, &size);
    uint64_t r = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 10000; i++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        size_t bit = (size_t)(r >> 33) % (size * 8);
        buf[bit / 8] ^= (uint8_t)(1u << bit % 8);
        assert_refused(buf, size, GF_ERR_FORMAT, "offset");
        buf[bit / 8] ^= (uint8_t)(1u << bit % 8);
    }
    gf_net_destroy(load(buf, size));
    free(buf);
    gf_net_destroy(a);
}

static void test_a_wrong_magic_is_named(void **state)
{
    (void)state;
    assert_refused((const uint8_t *)"\x7f" "ELF\2\1\1\0\0\0\0\0\0\0\0\0", 16, GF_ERR_FORMAT, "not a gradflow model file");
    assert_refused((const uint8_t *)"{\"weights\": []}", 15, GF_ERR_FORMAT, "magic");
}

static void test_a_future_major_version_names_both_versions(void **state)
{
    (void)state;
    gf_net *a = plain_net();
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    buf[8] = 2; /* major 2, minor 3 */
    buf[10] = 3;
    assert_refused(buf, size, GF_ERR_FORMAT, "format version 2.3 is newer than this library's 1.0");
    buf[8] = 0;
    assert_refused(buf, size, GF_ERR_FORMAT, "does not exist");
    free(buf);
    gf_net_destroy(a);
}

static void test_trailing_garbage_is_refused(void **state)
{
    (void)state;
    gf_net *a = plain_net();
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    uint8_t *more = calloc(1, size + 5);
    memcpy(more, buf, size);
    assert_refused(more, size + 5, GF_ERR_FORMAT, "5 bytes of trailing garbage");
    free(more);
    free(buf);
    gf_net_destroy(a);
}

static void test_an_unknown_layer_kind_is_named(void **state)
{
    (void)state;
    gf_net *a = plain_net();
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    size_t body = layer_body(buf, size);
    wr32(buf + body + L_KIND, 30); /* a kind no branch has reserved */
    memcpy(buf + body + L_NAME + 1, "lstmx", 5);
    reseal(buf, size);
    assert_refused(buf, size, GF_ERR_FORMAT, "unknown layer kind 30 (\"lstmx\"); this library reads dense");
    free(buf);
    gf_net_destroy(a);
}

static void test_a_kind_whose_name_disagrees_is_refused(void **state)
{
    (void)state;
    gf_net *a = plain_net();
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    size_t body = layer_body(buf, size);
    memcpy(buf + body + L_NAME + 1, "dunce", 5);
    reseal(buf, size);
    assert_refused(buf, size, GF_ERR_FORMAT, "file names it \"dunce\"");
    free(buf);
    gf_net_destroy(a);
}

static void test_a_block_shape_that_disagrees_with_the_layer_is_refused(void **state)
{
    (void)state;
    gf_net *a = plain_net();
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    size_t body = layer_body(buf, size);
    assert_memory_equal(buf + body + L_WNAME, "\6weight", 7);
    wr64(buf + body + L_WDIM0, N_OUT + 1);
    reseal(buf, size);
    assert_refused(buf, size, GF_ERR_FORMAT, "weight is 4 x 4; the layer's configuration needs 3 x 4");
    free(buf);
    gf_net_destroy(a);
}

static void test_an_input_shape_that_does_not_chain_is_refused(void **state)
{
    (void)state;
    gf_net *a = plain_net();
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    size_t body = layer_body(buf, size);
    wr64(buf + body + L_IN, 5);
    reseal(buf, size);
    assert_refused(buf, size, GF_ERR_FORMAT, "takes input vector 5, but the layers before give vector 4");
    wr64(buf + body + L_IN, 4);
    wr32(buf + body + L_SHAPE_KIND, 1); /* a sequence: no dense layer in this version takes one */
    reseal(buf, size);
    assert_refused(buf, size, GF_ERR_FORMAT, "takes input sequence 4, but the layers before give vector 4");
    wr32(buf + body + L_SHAPE_KIND, 9);
    reseal(buf, size);
    assert_refused(buf, size, GF_ERR_FORMAT, "unknown shape kind 9");
    free(buf);
    gf_net_destroy(a);
}

static void test_a_nan_parameter_in_a_file_is_refused(void **state)
{
    (void)state;
    gf_net *a = plain_net();
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    size_t body = layer_body(buf, size);
    wr32(buf + body + L_WDATA + 8, 0x7fc00000u);
    reseal(buf, size);
    char want[64];
    snprintf(want, sizeof want, "offset %zu: layer 0 (dense): weight[2] is nan", body + L_WDATA + 8);
    assert_refused(buf, size, GF_ERR_FORMAT, want);
    free(buf);
    gf_net_destroy(a);
}

/* Offset of the first value of moment vector "v" in the training record (docs/format.md, "Training record"). */
static size_t moment_v_at(const uint8_t *buf, size_t size, size_t nparams)
{
    size_t rec = record_at(buf, size, 4, 0), end = rec + 16 + (size_t)rd64(buf + rec + 8);
    for (size_t at = rec + 16; at + 11 <= end; at++)
        if (buf[at] == 1 && buf[at + 1] == 'v' && rd64(buf + at + 2) == nparams)
            return at + 10;
    fail_msg("moment v not found");
    return 0;
}

static void test_a_negative_second_moment_in_a_file_is_refused(void **state)
{
    (void)state;
    /* v is a mean or sum of squares: loaded negative, the next step took its square root into the weights (NaN). */
    const int32_t kinds[] = {GF_OPT_RMSPROP, GF_OPT_ADAGRAD, GF_OPT_ADAM, GF_OPT_ADAMW};
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        gf_net *a = rich_net(kinds[k], 5);
        train_steps(a, 3);
        size_t size;
        uint8_t *buf = save(a, GF_SAVE_TRAINING_STATE, &size);
        size_t v = moment_v_at(buf, size, (size_t)gf_net_param_count(a)) + 4 * 3;
        wr32(buf + v, 0xbf800000u); /* -1.0f */
        reseal(buf, size);
        char want[96];
        snprintf(want, sizeof want, "offset %zu: training: moment v[3] is -1", v);
        assert_refused(buf, size, GF_ERR_FORMAT, want);
        wr32(buf + v, 0x80000000u); /* -0.0f is zero: loads */
        reseal(buf, size);
        gf_net *b = load(buf, size);
        gf_net_destroy(b);
        free(buf);
        gf_net_destroy(a);
    }
}

static void test_an_out_of_range_activation_setting_is_refused(void **state)
{
    (void)state;
    gf_net *a = plain_net();
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    size_t body = layer_body(buf, size);
    wr32(buf + body + L_ACT, 42);
    reseal(buf, size);
    assert_refused(buf, size, GF_ERR_FORMAT, "unknown activation kind 42");
    free(buf);
    gf_net_destroy(a);
}

/* A tiny file claiming a huge layer is refused before anything near that size is allocated. */
static size_t largest_block;
static void *tracking_malloc(void *u, size_t n)
{
    (void)u;
    if (n > largest_block)
        largest_block = n;
    return malloc(n);
}
static void *tracking_realloc(void *u, void *p, size_t n)
{
    (void)u;
    if (n > largest_block)
        largest_block = n;
    return realloc(p, n);
}
static void tracking_free(void *u, void *p) { (void)u; free(p); }

static void test_huge_sizes_in_a_small_file_allocate_nothing_large(void **state)
{
    (void)state;
    gf_net *a = plain_net();
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    gf_net_destroy(a);
    assert_int_equal(gf_set_allocator(tracking_malloc, tracking_realloc, tracking_free, NULL), GF_OK);
    size_t body = layer_body(buf, size);
    uint8_t *edit = malloc(size);
    const struct { size_t at; uint64_t value; int width; const char *want; } cases[] = {
        {L_OUTPUTS, UINT64_C(1) << 36, 8, "needs more parameters than the record's"},
        {L_OUTPUTS, UINT64_C(1) << 62, 8, "sizes overflow"},
        {L_OUTPUTS, (UINT64_C(1) << 62) + 1, 8, "past what an option holds exactly"},
        {L_OUTPUTS, 0, 8, "layer 0 (dense): gf_layer_set_option"},
        {L_INPUTS, 5, 8, "expects 5 input features"},
        {L_OPTS, 0xffffffffu, 4, "more than the 64 allowed"},
        {L_INITS, 0x7fffffffu, 4, "a layer has 2"},
        {L_BLOCKS, 0xffffffffu, 4, "this layer has 2"},
        {L_SHAPE, 0xffffffffu, 4, "not 1..8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(edit, buf, size);
        if (cases[i].width == 8)
            wr64(edit + body + cases[i].at, cases[i].value);
        else
            wr32(edit + body + cases[i].at, (uint32_t)cases[i].value);
        reseal(edit, size);
        largest_block = 0;
        assert_refused(edit, size, GF_ERR_FORMAT, cases[i].want);
        assert_true(largest_block < (1u << 20));
    }
    /* The record length itself: past the end of the file. */
    memcpy(edit, buf, size);
    wr64(edit + body - 8, UINT64_C(1) << 60);
    reseal(edit, size);
    assert_refused(edit, size, GF_ERR_FORMAT, "remain before the checksum");
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
    free(edit);
    free(buf);
}

static void test_an_unknown_option_is_refused_unless_marked_ignorable(void **state)
{
    (void)state;
    gf_net *a = plain_net();
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    size_t rec = record_at(buf, size, 2, 0), body = rec + 16;
    uint8_t entry[12] = {9, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0}; /* key 9, int, flags 0, value 1 */
    buf[body + L_OPTS] = 3;
    uint8_t *e = insert(buf, size, rec, body + L_OPTS + 4, entry, sizeof entry);
    assert_refused(e, size + 12, GF_ERR_FORMAT, "layer 0 (dense): unknown option key 9");
    free(e);
    entry[3] = 1; /* ignorable */
    e = insert(buf, size, rec, body + L_OPTS + 4, entry, sizeof entry);
    gf_net *b = load(e, size + 12);
    assert_same_predictions(a, b);
    gf_net_destroy(b);
    free(e);
    free(buf);
    gf_net_destroy(a);
}

/* A record appended after the others, of an unknown type. */
static uint8_t *with_extra_record(const uint8_t *buf, size_t size, uint32_t flags, uint16_t minor)
{
    uint8_t rec[16 + 3] = {0};
    wr32(rec, 77);
    wr32(rec + 4, flags);
    wr64(rec + 8, 3);
    memcpy(rec + 16, "abc", 3);
    uint8_t *out = malloc(size + sizeof rec);
    memcpy(out, buf, size - 4);
    memcpy(out + size - 4, rec, sizeof rec);
    out[10] = (uint8_t)minor;
    reseal(out, size + sizeof rec);
    return out;
}

static void test_a_newer_minor_versions_skippable_record_is_skipped(void **state)
{
    (void)state;
    gf_net *a = plain_net();
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    uint8_t *e = with_extra_record(buf, size, 1, GF_FORMAT_VERSION_MINOR + 1);
    gf_net *b = load(e, size + 19);
    assert_same_predictions(a, b);
    int64_t minor;
    assert_int_equal(gf_model_info(e, size + 19, GF_MODEL_FORMAT_MINOR, &minor), GF_OK);
    assert_int_equal(minor, GF_FORMAT_VERSION_MINOR + 1);
    gf_net_destroy(b);
    free(e);
    free(buf);
    gf_net_destroy(a);
}

static void test_an_unknown_record_that_may_not_be_skipped_is_refused(void **state)
{
    (void)state;
    gf_net *a = plain_net();
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    uint8_t *e = with_extra_record(buf, size, 0, GF_FORMAT_VERSION_MINOR + 1);
    assert_refused(e, size + 19, GF_ERR_FORMAT, "unknown record type 77");
    free(e);
    /* Marked skippable, but the file claims this library's own version, which has no such record. */
    e = with_extra_record(buf, size, 1, GF_FORMAT_VERSION_MINOR);
    assert_refused(e, size + 19, GF_ERR_FORMAT, "unknown record type 77");
    free(e);
    free(buf);
    gf_net_destroy(a);
}

static void test_a_header_that_disagrees_about_training_state_is_refused(void **state)
{
    (void)state;
    gf_net *a = plain_net();
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    buf[12] = 1;
    reseal(buf, size);
    assert_refused(buf, size, GF_ERR_FORMAT, "promises training state");
    free(buf);
    gf_net_destroy(a);
}

static void test_a_missing_file_and_a_directory_are_io_errors(void **state)
{
    (void)state;
    gf_net *b = (gf_net *)&b;
    assert_int_equal(gf_net_load(&b, "/nonexistent/dir/net.gfm"), GF_ERR_IO);
    assert_null(b);
    assert_non_null(strstr(gf_last_error(), "/nonexistent/dir/net.gfm"));
    assert_int_equal(gf_net_load(&b, "/tmp"), GF_ERR_IO);
}

/* ---- failed saves leave the earlier file ---- */

typedef struct scratch {
    char dir[32], path[64];
    uint8_t *earlier;
    size_t earlier_size;
    gf_net *net;
} scratch;

/* The earlier file is the untrained net; the net then trains, so a new save would differ. */
static int setup_scratch(void **state)
{
    scratch *s = calloc(1, sizeof *s);
    strcpy(s->dir, "/tmp/gf_save_XXXXXX");
    if (!mkdtemp(s->dir))
        return -1;
    snprintf(s->path, sizeof s->path, "%s/model.gfm", s->dir);
    *state = s;
    return 0;
}

static void make_earlier(scratch *s)
{
    s->net = rich_net(GF_OPT_ADAM, 1);
    assert_int_equal(gf_net_save(s->net, s->path, 0), GF_OK);
    FILE *f = fopen(s->path, "rb");
    s->earlier = malloc(1 << 16);
    s->earlier_size = fread(s->earlier, 1, 1 << 16, f);
    fclose(f);
    train_steps(s->net, 3);
}

static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void assert_earlier_intact(scratch *s)
{
    FILE *f = fopen(s->path, "rb");
    assert_non_null(f);
    uint8_t *now = malloc(1 << 16);
    size_t n = fread(now, 1, 1 << 16, f);
    fclose(f);
    assert_int_equal(n, s->earlier_size);
    assert_memory_equal(now, s->earlier, n);
    free(now);
    assert_int_equal(entries(s->dir), 1); /* no temporary left behind */
}

static int teardown_scratch(void **state)
{
    scratch *s = *state;
    gfi_io_set_fault(NULL);
    chmod(s->dir, 0700);
    gf_net_destroy(s->net);
    DIR *d = opendir(s->dir);
    char p[300];
    for (struct dirent *e; (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            snprintf(p, sizeof p, "%s/%s", s->dir, e->d_name);
            remove(p);
        }
    closedir(d);
    rmdir(s->dir);
    free(s->earlier);
    free(s);
    return 0;
}

static long fail_at = -1, alloc_calls;
static void *failing_malloc(void *u, size_t n)
{
    (void)u;
    return fail_at >= 0 && alloc_calls++ == fail_at ? NULL : malloc(n);
}
static void *failing_realloc(void *u, void *p, size_t n)
{
    (void)u;
    return fail_at >= 0 && alloc_calls++ == fail_at ? NULL : realloc(p, n);
}
static void failing_free(void *u, void *p) { (void)u; free(p); }

/* An allocator that refuses any block over 16 MiB, so a loader that reads an endless stream fails fast. */
static void *capped_malloc(void *u, size_t n) { (void)u; return n > (16u << 20) ? NULL : malloc(n); }
static void *capped_realloc(void *u, void *p, size_t n) { (void)u; return n > (16u << 20) ? NULL : realloc(p, n); }
static void capped_free(void *u, void *p) { (void)u; free(p); }

/* /dev/zero never ends: its first bytes are no magic, and reading on until memory runs out is no answer. */
static void test_loading_an_endless_stream_that_is_no_model_is_a_format_error(void **state)
{
    (void)state;
    FILE *probe = fopen("/dev/zero", "rb");
    if (!probe)
        skip();
    fclose(probe);
    assert_int_equal(gf_set_allocator(capped_malloc, capped_realloc, capped_free, NULL), GF_OK);
    gf_net *b = (gf_net *)&b;
    int rc = gf_net_load(&b, "/dev/zero");
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
    assert_int_equal(rc, GF_ERR_FORMAT);
    assert_null(b);
    assert_non_null(strstr(gf_last_error(), "magic"));
}

/* A child writes head (size bytes) into the FIFO at path, then zeros until the reader goes away; the
 * parent loads from the FIFO under the 16 MiB allocator.  Returns the load's code (*net its result). */
static int load_from_endless_fifo(const char *path, const uint8_t *head, size_t size, gf_net **net)
{
    assert_int_equal(mkfifo(path, 0600), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        FILE *w = fopen(path, "wb");
        if (!w)
            _exit(1);
        static const uint8_t zeros[4096];
        if (fwrite(head, 1, size, w) == size)
            while (fwrite(zeros, 1, sizeof zeros, w) == sizeof zeros) /* SIGPIPE ends it once the reader closes */
                ;
        _exit(0);
    }
    assert_int_equal(gf_set_allocator(capped_malloc, capped_realloc, capped_free, NULL), GF_OK);
    int rc = gf_net_load(net, path);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    remove(path);
    return rc;
}

/* A plain net's model, its header's declared size replaced by declared (unless 0), whose first head bytes
 * (all when 0) come from an endless FIFO: gf_net_load must refuse it with GF_ERR_FORMAT naming want. */
static void assert_endless_stream_refused(const scratch *s, uint64_t declared, size_t head, const char *want)
{
    gf_net *a = plain_net();
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    gf_net_destroy(a); /* the allocator changes only with no object alive */
    for (int i = 0; declared && i < 8; i++)
        buf[24 + i] = (uint8_t)(declared >> (8 * i)); /* little-endian, as the format stores it */
    gf_net *b = (gf_net *)&b;
    int rc = load_from_endless_fifo(s->path, buf, head ? head : size, &b);
    if (rc != GF_ERR_FORMAT || !strstr(gf_last_error(), want))
        fail_msg("expected a format error with \"%s\", got %d: %s", want, rc, gf_last_error());
    assert_null(b);
    free(buf);
}

/* A stream that goes on after a whole model is read to one byte past it, not until memory runs out. */
static void test_a_stream_that_goes_on_after_its_model_is_read_no_further(void **state)
{
    assert_endless_stream_refused(*state, 0, 0, "trailing garbage: the file goes on after the model");
}

/* A header declaring more bytes than any buffer holds ends the reading right after the header. */
static void test_a_stream_declaring_an_impossible_size_is_refused_after_its_header(void **state)
{
    assert_endless_stream_refused(*state, UINT64_MAX, 32, "truncated");
}

/* A header declaring fewer bytes than any model, in a stream that goes on: the header's own error. */
static void test_a_stream_declaring_less_than_a_header_is_refused_for_that(void **state)
{
    assert_endless_stream_refused(*state, 10, 32, "less than the smallest model file");
}

/* A file with more than one byte after its model: the same refusal as from a stream. */
static void test_a_file_with_bytes_after_its_model_is_refused(void **state)
{
    scratch *s = *state;
    gf_net *a = plain_net();
    size_t size;
    uint8_t *buf = save(a, 0, &size);
    FILE *f = fopen(s->path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, size, f), size);
    assert_int_equal(fwrite("garbage", 1, 7, f), 7);
    fclose(f);
    gf_net *b = (gf_net *)&b;
    assert_int_equal(gf_net_load(&b, s->path), GF_ERR_FORMAT);
    assert_null(b);
    assert_non_null(strstr(gf_last_error(), "trailing garbage"));
    remove(s->path);
    free(buf);
    gf_net_destroy(a);
}

static void test_a_save_out_of_memory_at_any_point_keeps_the_earlier_file(void **state)
{
    scratch *s = *state;
    assert_int_equal(gf_set_allocator(failing_malloc, failing_realloc, failing_free, NULL), GF_OK);
    make_earlier(s);
    int points = 0, rc;
    for (long k = 0;; k++) {
        alloc_calls = 0;
        fail_at = k;
        rc = gf_net_save(s->net, s->path, GF_SAVE_TRAINING_STATE);
        fail_at = -1;
        if (rc == GF_OK)
            break;
        assert_int_equal(rc, GF_ERR_NOMEM);
        assert_earlier_intact(s);
        points++;
    }
    assert_true(points >= 2); /* the staging buffer and the temporary's name */
    gf_net_destroy(s->net);
    s->net = NULL;
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

static int fault_step, fault_errno;
static size_t fault_cut;
static int fault(int step, size_t *max)
{
    if (step != fault_step)
        return 0;
    if (step == GFI_IO_WRITE && fault_cut) { /* a part goes through, then the disk is full */
        *max = fault_cut;
        fault_cut = 0;
        return 0;
    }
    return fault_errno;
}

static void test_a_save_failing_at_any_io_step_keeps_the_earlier_file(void **state)
{
    scratch *s = *state;
    make_earlier(s);
    const int steps[5] = {GFI_IO_OPEN, GFI_IO_WRITE, GFI_IO_SYNC, GFI_IO_CLOSE, GFI_IO_RENAME};
    for (int i = 0; i < 5; i++) {
        fault_step = steps[i];
        fault_errno = steps[i] == GFI_IO_WRITE ? ENOSPC : EIO;
        fault_cut = steps[i] == GFI_IO_WRITE ? 100 : 0;
        gfi_io_set_fault(fault);
        int rc = gf_net_save(s->net, s->path, GF_SAVE_TRAINING_STATE);
        gfi_io_set_fault(NULL);
        assert_int_equal(rc, GF_ERR_IO);
        assert_non_null(strstr(gf_last_error(), "gf_net_save"));
        assert_non_null(strstr(gf_last_error(), strerror(fault_errno)));
        assert_earlier_intact(s);
    }
}

/* The kernel's own failure part way through: a file-size limit below the model's size (EFBIG). */
static void test_a_save_cut_short_by_the_file_size_limit_keeps_the_earlier_file(void **state)
{
    scratch *s = *state;
    make_earlier(s);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 600;
    void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = gf_net_save(s->net, s->path, GF_SAVE_TRAINING_STATE);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, was);
    assert_int_equal(rc, GF_ERR_IO);
    assert_non_null(strstr(gf_last_error(), strerror(EFBIG)));
    assert_earlier_intact(s);
}

/* A directory the caller may not write to.  root may write anywhere, so as root the save runs in a child
 * that dropped to an unprivileged user. */
static void test_a_save_into_an_unwritable_directory_keeps_the_earlier_file(void **state)
{
    scratch *s = *state;
    make_earlier(s);
    assert_int_equal(chmod(s->dir, 0555), 0);
    int rc;
    if (geteuid() == 0) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            if (setgid(65534) || setuid(65534))
                _exit(100);
            _exit(gf_net_save(s->net, s->path, 0));
        }
        int status = 0;
        waitpid(pid, &status, 0);
        assert_true(WIFEXITED(status));
        rc = WEXITSTATUS(status);
        if (rc == 100)
            skip(); /* cannot drop privileges here */
    } else {
        rc = gf_net_save(s->net, s->path, 0);
    }
    chmod(s->dir, 0700);
    assert_int_equal(rc, GF_ERR_IO);
    assert_earlier_intact(s);
}

/* A decaying schedule leaves the rate in the denormals (0.1 x 0.1^39 = 1e-40): the optimizer holds it, so the
 * file that stores it loads, with the rate bit for bit. */
static void test_a_net_whose_rate_decayed_to_a_denormal_saves_and_loads_it(void **state)
{
    (void)state;
    gf_net *a = plain_net();
    gf_optimizer *o;
    assert_int_equal(gf_optimizer_create(&o, GF_OPT_SGD, 1e-40), GF_OK);
    assert_int_equal(gf_net_set_optimizer(a, o), GF_OK);
    size_t size;
    uint8_t *buf = save(a, GF_SAVE_TRAINING_STATE, &size);
    gf_net *b = load(buf, size);
    double v = -1.0;
    assert_int_equal(gf_optimizer_get(gf_net_optimizer(b), GF_OPT_LR, &v), GF_OK);
    assert_true(v == 1e-40);
    free(buf);
    gf_net_destroy(b);
    gf_net_destroy(a);
}

/* A cap of (size_t)-1 passed the "cap >= size" test and the model was written into whatever buf was. */
static void test_save_buffer_with_a_cap_beyond_any_buffer_is_refused_and_writes_nothing(void **state)
{
    (void)state;
    gf_net *net = plain_net();
    uint8_t buf[16];
    memset(buf, 0xab, sizeof buf);
    assert_int_equal(gf_net_save_buffer(net, 0, buf, (size_t)-1, NULL), GF_ERR_OVERFLOW);
    assert_true(buf[0] == 0xab && buf[15] == 0xab);
    gf_net_destroy(net);
}

/* A size of (size_t)-1 is no buffer's size: GF_ERR_OVERFLOW, as for every other count, not a format error. */
static void test_load_buffer_of_a_size_beyond_any_buffer_is_refused_as_overflow(void **state)
{
    (void)state;
    gf_net *net = plain_net(), *back = net;
    size_t size;
    uint8_t *buf = save(net, 0, &size);
    assert_int_equal(gf_net_load_buffer(&back, buf, (size_t)-1), GF_ERR_OVERFLOW);
    assert_null(back);
    free(buf);
    gf_net_destroy(net);
}

int main(void)
{
    make_data();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_gives_the_standard_check_value_in_any_split),
        cmocka_unit_test(test_round_trip_gives_bit_identical_predictions),
        cmocka_unit_test(test_round_trip_keeps_the_whole_configuration),
        cmocka_unit_test(test_an_image_net_with_flatten_round_trips),
        cmocka_unit_test(test_a_dense_layer_on_a_sequence_round_trips),
        cmocka_unit_test(test_conv_and_pooling_layers_round_trip_with_every_option),
        cmocka_unit_test(test_training_a_cnn_resumes_bit_exactly),
        cmocka_unit_test(test_recurrent_layers_round_trip),
        cmocka_unit_test(test_a_per_step_loss_round_trips),
        cmocka_unit_test(test_bias_blocks_are_exactly_those_named_bias),
        cmocka_unit_test(test_saving_a_loaded_net_gives_the_same_bytes),
        cmocka_unit_test(test_resume_is_bit_exact_with_sgd),
        cmocka_unit_test(test_resume_is_bit_exact_with_momentum),
        cmocka_unit_test(test_resume_is_bit_exact_with_nesterov),
        cmocka_unit_test(test_resume_is_bit_exact_with_rmsprop),
        cmocka_unit_test(test_resume_is_bit_exact_with_adagrad),
        cmocka_unit_test(test_resume_is_bit_exact_with_adam),
        cmocka_unit_test(test_resume_is_bit_exact_with_adamw),
        cmocka_unit_test(test_the_optimizer_step_count_goes_on_after_a_resume_for_every_kind),
        cmocka_unit_test(test_without_training_state_the_optimizer_starts_afresh),
        cmocka_unit_test(test_training_state_keeps_the_net_closed_to_new_layers),
        cmocka_unit_test(test_a_net_without_optimizer_loads_without_one),
        cmocka_unit_test(test_file_round_trip_and_model_info),
        cmocka_unit_test(test_save_buffer_answers_the_size_query_and_refuses_a_small_buffer_untouched),
        cmocka_unit_test(test_save_and_load_refuse_bad_arguments),
        cmocka_unit_test(test_a_net_with_nonfinite_weights_is_not_saved),
        cmocka_unit_test(test_every_truncation_is_a_format_error),
        cmocka_unit_test(test_ten_thousand_single_bit_flips_are_detected),
        cmocka_unit_test(test_a_wrong_magic_is_named),
        cmocka_unit_test(test_a_future_major_version_names_both_versions),
        cmocka_unit_test(test_trailing_garbage_is_refused),
        cmocka_unit_test(test_an_unknown_layer_kind_is_named),
        cmocka_unit_test(test_a_kind_whose_name_disagrees_is_refused),
        cmocka_unit_test(test_a_block_shape_that_disagrees_with_the_layer_is_refused),
        cmocka_unit_test(test_an_input_shape_that_does_not_chain_is_refused),
        cmocka_unit_test(test_a_nan_parameter_in_a_file_is_refused),
        cmocka_unit_test(test_a_negative_second_moment_in_a_file_is_refused),
        cmocka_unit_test(test_an_out_of_range_activation_setting_is_refused),
        cmocka_unit_test(test_huge_sizes_in_a_small_file_allocate_nothing_large),
        cmocka_unit_test(test_an_unknown_option_is_refused_unless_marked_ignorable),
        cmocka_unit_test(test_a_newer_minor_versions_skippable_record_is_skipped),
        cmocka_unit_test(test_an_unknown_record_that_may_not_be_skipped_is_refused),
        cmocka_unit_test(test_a_header_that_disagrees_about_training_state_is_refused),
        cmocka_unit_test(test_a_missing_file_and_a_directory_are_io_errors),
        cmocka_unit_test_setup_teardown(test_a_save_out_of_memory_at_any_point_keeps_the_earlier_file, setup_scratch,
                                        teardown_scratch),
        cmocka_unit_test_setup_teardown(test_a_save_failing_at_any_io_step_keeps_the_earlier_file, setup_scratch,
                                        teardown_scratch),
        cmocka_unit_test_setup_teardown(test_a_save_cut_short_by_the_file_size_limit_keeps_the_earlier_file,
                                        setup_scratch, teardown_scratch),
        cmocka_unit_test_setup_teardown(test_a_save_into_an_unwritable_directory_keeps_the_earlier_file,
                                        setup_scratch, teardown_scratch),
        cmocka_unit_test(test_a_net_whose_rate_decayed_to_a_denormal_saves_and_loads_it),
        cmocka_unit_test(test_save_buffer_with_a_cap_beyond_any_buffer_is_refused_and_writes_nothing),
        cmocka_unit_test(test_load_buffer_of_a_size_beyond_any_buffer_is_refused_as_overflow),
        cmocka_unit_test(test_loading_an_endless_stream_that_is_no_model_is_a_format_error),
        cmocka_unit_test_setup_teardown(test_a_stream_that_goes_on_after_its_model_is_read_no_further, setup_scratch,
                                        teardown_scratch),
        cmocka_unit_test_setup_teardown(test_a_stream_declaring_an_impossible_size_is_refused_after_its_header,
                                        setup_scratch, teardown_scratch),
        cmocka_unit_test_setup_teardown(test_a_stream_declaring_less_than_a_header_is_refused_for_that, setup_scratch,
                                        teardown_scratch),
        cmocka_unit_test_setup_teardown(test_a_file_with_bytes_after_its_model_is_refused, setup_scratch,
                                        teardown_scratch),
    };
    return cmocka_run_group_tests_name("model_io", tests, NULL, NULL);
}
