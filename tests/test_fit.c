/* test_fit.c — gf_net_fit_v2: validation, early stopping with best-weight restore, schedules in the loop,
 * the per-epoch record and its callback, the progress line, and refusals that change nothing. */
#define _POSIX_C_SOURCE 200809L /* dup/dup2/mkstemp, to capture the progress line on stderr */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gradflow.h"
#include "internal.h" /* gfi_progress: a fit whose time left is beyond any int of hours */

/* |a - b| within tol of b's size (absolute near zero). */
#define assert_close(a, b, tol) assert_true(fabs((a) - (b)) <= (tol) * fmax(1.0, fabs(b)))

#define FEATURES 4
#define CLASSES 3
#define NTRAIN 240
#define NVAL 90

/* Three overlapping Gaussian blobs from the test's own generator. */
static uint64_t lcg;
static double uniform(void)
{
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return ((lcg >> 11) + 0.5) / 9007199254740992.0;
}
static double normal(void) { return sqrt(-2.0 * log(uniform())) * cos(6.283185307179586 * uniform()); }

static void blobs(float *x, float *labels, int n, uint64_t seed)
{
    lcg = seed;
    for (int i = 0; i < n; i++) {
        int c = i % CLASSES;
        labels[i] = (float)c;
        for (int j = 0; j < FEATURES; j++)
            x[i * FEATURES + j] = (float)((j == c ? 1.6 : 0.0) + normal());
    }
}

static float tx[NTRAIN * FEATURES], ty[NTRAIN], vx[NVAL * FEATURES], vy[NVAL];

static int setup_data(void **state)
{
    (void)state;
    blobs(tx, ty, NTRAIN, 11);
    blobs(vx, vy, NVAL, 12);
    return 0;
}

static gf_net *classifier(uint64_t seed, double lr)
{
    gf_net *net;
    gf_loss *loss;
    gf_optimizer *opt;
    assert_int_equal(gf_net_create(&net, FEATURES, seed), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 16, GF_ACT_TANH, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, CLASSES, GF_ACT_IDENTITY, NULL), GF_OK);
    assert_int_equal(gf_loss_create(&loss, GF_LOSS_SOFTMAX_CE_LABELS), GF_OK);
    assert_int_equal(gf_net_set_loss(net, loss), GF_OK);
    gf_loss_destroy(loss);
    assert_int_equal(gf_optimizer_create(&opt, GF_OPT_ADAM, lr), GF_OK);
    assert_int_equal(gf_net_set_optimizer(net, opt), GF_OK);
    assert_int_equal(gf_net_add_metric(net, GF_METRIC_ACCURACY, NAN), GF_OK);
    return net;
}

/* Records the callback saw, copied. */
typedef struct seen {
    int calls, stop_after;
    gf_epoch_record recs[64];
} seen;

static int remember(void *user, const gf_epoch_record *r)
{
    seen *s = user;
    assert_true(r->size >= sizeof *r);
    s->recs[s->calls++] = *r;
    return s->stop_after && s->calls >= s->stop_after;
}

#define MAX_EPOCHS 60
#define PATIENCE 4

/* Early stopping on validation accuracy, restore best, cosine over the planned epochs. */
static gf_fit *early_stopping_options(gf_schedule **sched, seen *s)
{
    gf_fit *f;
    assert_int_equal(gf_fit_create(&f), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_EPOCHS, MAX_EPOCHS), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_BATCH, 16), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_PATIENCE, PATIENCE), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_MONITOR, GF_MONITOR_VAL_METRIC), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_RESTORE_BEST, 1), GF_OK);
    assert_int_equal(gf_fit_set_validation(f, vx, sizeof vx / sizeof *vx, vy, NVAL, NVAL), GF_OK);
    assert_int_equal(gf_schedule_create(sched, GF_SCHED_COSINE, 0.05), GF_OK);
    assert_int_equal(gf_schedule_set(*sched, GF_SCHED_PERIOD, MAX_EPOCHS), GF_OK);
    assert_int_equal(gf_fit_set_schedule(f, *sched), GF_OK);
    if (s)
        assert_int_equal(gf_fit_set_callback(f, remember, s), GF_OK);
    return f;
}

static int32_t fit_with_early_stopping(gf_net *net, seen *s)
{
    gf_schedule *sched;
    gf_fit *f = early_stopping_options(&sched, s);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    gf_fit_destroy(f);
    gf_schedule_destroy(sched);
    return gf_net_epoch_count(net);
}

static gf_epoch_record record(const gf_net *net, int32_t e)
{
    gf_epoch_record r;
    r.size = sizeof r;
    assert_int_equal(gf_net_epoch_record(net, e, &r), GF_OK);
    return r;
}

static void test_early_stopping_stops_patience_epochs_after_the_best_validation_accuracy(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.05);
    int32_t n = fit_with_early_stopping(net, NULL);
    assert_true(n < MAX_EPOCHS); /* it did stop early */
    gf_epoch_record last = record(net, n - 1);
    assert_int_equal(last.best_epoch, n - 1 - PATIENCE);
    /* The best epoch's accuracy is the first maximum, and no later epoch beat it. */
    double best = record(net, last.best_epoch).val_metric;
    for (int32_t e = 0; e < n; e++) {
        double v = record(net, e).val_metric;
        if (e < last.best_epoch)
            assert_true(v < best);
        else
            assert_true(v <= best);
    }
    gf_net_destroy(net);
}

static void test_restored_weights_give_the_best_epochs_validation_loss_and_accuracy(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.05);
    int32_t n = fit_with_early_stopping(net, NULL);
    gf_epoch_record best = record(net, record(net, n - 1).best_epoch);
    double loss, acc;
    assert_int_equal(gf_net_evaluate_v2(net, vx, sizeof vx / sizeof *vx, vy, NVAL, NVAL, 16, &loss, &acc, 1), GF_OK);
    assert_true(acc == best.val_metric);
    assert_true(loss == best.val_loss);
    gf_net_destroy(net);
}

static void test_records_match_what_the_callback_saw(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.05);
    seen s = {0};
    int32_t n = fit_with_early_stopping(net, &s);
    assert_int_equal(s.calls, n);
    for (int32_t e = 0; e < n; e++) {
        gf_epoch_record r = record(net, e);
        assert_memory_equal(&r, &s.recs[e], sizeof r);
        assert_int_equal(r.epoch, e);
        assert_int_equal(r.epochs, MAX_EPOCHS);
    }
    gf_net_destroy(net);
}

static void test_cosine_schedule_sets_each_epochs_learning_rate(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.05);
    int32_t n = fit_with_early_stopping(net, NULL);
    for (int32_t e = 0; e < n; e++) {
        double want = 0.05 * (1.0 + cos(3.14159265358979323846 * e / MAX_EPOCHS)) / 2.0;
        assert_close(record(net, e).lr, want, 1e-15);
    }
    double lr;
    assert_int_equal(gf_optimizer_get(gf_net_optimizer(net), GF_OPT_LR, &lr), GF_OK);
    assert_true(lr == record(net, n - 1).lr); /* the optimizer reads back the rate in force */
    gf_net_destroy(net);
}

static void test_per_step_schedule_records_the_last_steps_rate(void **state)
{
    (void)state;
    gf_net *net = classifier(5, 0.05);
    gf_schedule *s;
    gf_fit *f;
    assert_int_equal(gf_schedule_create(&s, GF_SCHED_EXPONENTIAL, 0.05), GF_OK);
    assert_int_equal(gf_schedule_set(s, GF_SCHED_GAMMA, 0.99), GF_OK);
    assert_int_equal(gf_schedule_set(s, GF_SCHED_PER_STEP, 1), GF_OK);
    assert_int_equal(gf_schedule_set(s, GF_SCHED_WARMUP, 5), GF_OK);
    assert_int_equal(gf_fit_create(&f), GF_OK);
    assert_int_equal(gf_fit_set_schedule(f, s), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_EPOCHS, 3), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_BATCH, 50), GF_OK); /* 5 steps per epoch: 50 x 4 + 40 */
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    for (int32_t e = 0; e < 3; e++) {
        gf_epoch_record r = record(net, e);
        assert_int_equal(r.steps, 5 * (e + 1));
        int64_t last = 5 * (e + 1) - 1; /* the epoch's last step */
        double want = last < 5 ? 0.05 * (1.0 / 3.0 + (2.0 / 3.0) * (double)last / 5.0) /* warm-up */
                               : 0.05 * pow(0.99, (double)(last - 5));
        assert_close(r.lr, want, 1e-15);
    }
    gf_fit_destroy(f);
    gf_schedule_destroy(s);
    gf_net_destroy(net);
}

static void test_fit_v2_with_default_options_reproduces_gf_net_fit(void **state)
{
    (void)state;
    gf_net *a = classifier(9, 0.01), *b = classifier(9, 0.01);
    gf_fit *f;
    assert_int_equal(gf_fit_create(&f), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_EPOCHS, 4), GF_OK);
    assert_int_equal(gf_net_fit_v2(a, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    double loss;
    assert_int_equal(gf_net_fit(b, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, 32, 4, NULL, NULL, &loss), GF_OK);
    float wa[64], wb[64];
    assert_int_equal(gf_layer_get_weights(gf_net_layer(a, 0), wa, 64), GF_OK);
    assert_int_equal(gf_layer_get_weights(gf_net_layer(b, 0), wb, 64), GF_OK);
    assert_memory_equal(wa, wb, sizeof wa);
    assert_true(record(a, 3).loss == loss);
    gf_fit_destroy(f);
    gf_net_destroy(a);
    gf_net_destroy(b);
}

static gf_fit *split_options(double split, int32_t epochs)
{
    gf_fit *f;
    assert_int_equal(gf_fit_create(&f), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_VALIDATION_SPLIT, split), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_EPOCHS, epochs), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_BATCH, 32), GF_OK);
    return f;
}

static void test_validation_split_holds_out_the_fraction_and_trains_on_the_rest(void **state)
{
    (void)state;
    gf_net *net = classifier(4, 0.01);
    gf_fit *f = split_options(0.25, 2);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    gf_epoch_record r = record(net, 1);
    assert_int_equal(r.steps, 2 * 6); /* 180 training rows in batches of 32: 6 steps an epoch */
    assert_true(isfinite(r.val_loss) && isfinite(r.val_metric));
    gf_fit_destroy(f);
    gf_net_destroy(net);
}

/* Copies every parameter of src into dst (same architecture). */
static void copy_weights(gf_net *dst, gf_net *src)
{
    float buf[64];
    for (int32_t i = 0; i < gf_net_layer_count(src); i++) {
        gf_layer *a = gf_net_layer(src, i), *b = gf_net_layer(dst, i);
        size_t nw = (size_t)gf_layer_weight_count(a), nb = (size_t)gf_layer_bias_count(a);
        assert_int_equal(gf_layer_get_weights(a, buf, nw), GF_OK);
        assert_int_equal(gf_layer_set_weights(b, buf, nw), GF_OK);
        assert_int_equal(gf_layer_get_bias(a, buf, nb), GF_OK);
        assert_int_equal(gf_layer_set_bias(b, buf, nb), GF_OK);
    }
}

static void test_validation_split_is_drawn_from_the_nets_seed(void **state)
{
    (void)state;
    gf_net *a = classifier(4, 0.01), *b = classifier(4, 0.01), *c = classifier(77, 0.01);
    copy_weights(c, a); /* same weights, another generator: only the split differs */
    gf_fit *f = split_options(0.25, 1);
    assert_int_equal(gf_fit_set(f, GF_FIT_SHUFFLE, 0), GF_OK);
    assert_int_equal(gf_net_fit_v2(a, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    assert_int_equal(gf_net_fit_v2(b, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    assert_int_equal(gf_net_fit_v2(c, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    assert_true(record(a, 0).val_loss == record(b, 0).val_loss);
    assert_true(record(a, 0).val_loss != record(c, 0).val_loss);
    gf_fit_destroy(f);
    gf_net_destroy(a);
    gf_net_destroy(b);
    gf_net_destroy(c);
}

static void test_callback_returning_nonzero_stops_after_that_epoch(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.01);
    seen s = {.stop_after = 3};
    gf_fit *f = split_options(0.2, 20);
    assert_int_equal(gf_fit_set_callback(f, remember, &s), GF_OK);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    assert_int_equal(s.calls, 3);
    assert_int_equal(gf_net_epoch_count(net), 3);
    gf_fit_destroy(f);
    gf_net_destroy(net);
}

static void test_restore_best_without_early_stopping_ends_on_the_best_epoch(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.3); /* a rate high enough that the validation loss is not monotone */
    gf_fit *f = split_options(0, 25);
    assert_int_equal(gf_fit_set(f, GF_FIT_RESTORE_BEST, 1), GF_OK);
    assert_int_equal(gf_fit_set_validation(f, vx, sizeof vx / sizeof *vx, vy, NVAL, NVAL), GF_OK);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    assert_int_equal(gf_net_epoch_count(net), 25);
    gf_epoch_record best = record(net, record(net, 24).best_epoch);
    assert_int_not_equal(best.epoch, 24);
    for (int32_t e = 0; e < 25; e++)
        assert_true(record(net, e).val_loss >= best.val_loss);
    double loss, acc;
    assert_int_equal(gf_net_evaluate_v2(net, vx, sizeof vx / sizeof *vx, vy, NVAL, NVAL, 32, &loss, &acc, 1), GF_OK);
    assert_true(loss == best.val_loss);
    gf_fit_destroy(f);
    gf_net_destroy(net);
}

static int loss_hook(void *user, const gf_epoch_record *r)
{
    (void)r;
    return gf_net_fit_v2(user, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, NULL) == GF_ERR_STATE ? 0 : 1;
}

static void test_fit_v2_from_its_own_callback_is_refused(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.01);
    gf_fit *f = split_options(0.2, 2);
    assert_int_equal(gf_fit_set_callback(f, loss_hook, net), GF_OK);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    assert_int_equal(gf_net_epoch_count(net), 2); /* the inner call was refused every time */
    assert_int_equal(gf_net_add_metric(net, GF_METRIC_MAE, NAN), GF_OK); /* and the net is free again */
    gf_fit_destroy(f);
    gf_net_destroy(net);
}

typedef struct nest {
    gf_net *net;
    int calls, refused;
} nest;

/* gf_net_fit's callback: fits the same net again, once with each fit. */
static int fit_again(void *user, int32_t epoch, double loss)
{
    (void)epoch;
    (void)loss;
    nest *n = user;
    n->calls++;
    n->refused += gf_net_fit(n->net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, 8, 1, NULL, NULL, NULL) ==
                  GF_ERR_STATE;
    n->refused += gf_net_fit_v2(n->net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, NULL) == GF_ERR_STATE;
    return 0;
}

static void test_fit_or_fit_v2_from_a_fit_callback_is_refused_and_changes_nothing(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.01), *ref = classifier(3, 0.01);
    nest n = {net, 0, 0};
    assert_int_equal(gf_net_fit(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, 8, 3, fit_again, &n, NULL), GF_OK);
    assert_int_equal(n.calls, 3);
    assert_int_equal(n.refused, 6);
    /* the refused fits took no step and drew nothing: the same weights as a fit without the callback */
    assert_int_equal(gf_net_fit(ref, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, 8, 3, NULL, NULL, NULL), GF_OK);
    assert_int_equal(gf_net_steps(net), gf_net_steps(ref));
    float a[64], b[64];
    assert_int_equal(gf_layer_get_weights(gf_net_layer(net, 0), a, 64), GF_OK);
    assert_int_equal(gf_layer_get_weights(gf_net_layer(ref, 0), b, 64), GF_OK);
    assert_memory_equal(a, b, sizeof a);
    /* and the net can be fitted again once the fit returned */
    assert_int_equal(gf_net_fit(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, 8, 1, NULL, NULL, NULL), GF_OK);
    gf_net_destroy(net);
    gf_net_destroy(ref);
}

static int fit_v1_hook(void *user, const gf_epoch_record *r)
{
    (void)r;
    return gf_net_fit(user, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, 8, 1, NULL, NULL, NULL) == GF_ERR_STATE
               ? 0
               : 1;
}

static void test_fit_from_a_fit_v2_callback_is_refused(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.01);
    gf_fit *f = split_options(0.2, 2);
    assert_int_equal(gf_fit_set_callback(f, fit_v1_hook, net), GF_OK);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    assert_int_equal(gf_net_epoch_count(net), 2); /* every inner call was refused, so none stopped the fit */
    gf_fit_destroy(f);
    gf_net_destroy(net);
}

static int swap_loss(void *user, const gf_epoch_record *r)
{
    (void)r;
    gf_loss *mse;
    assert_int_equal(gf_loss_create(&mse, GF_LOSS_MSE), GF_OK);
    assert_int_equal(gf_net_set_loss(user, mse), GF_OK);
    gf_loss_destroy(mse);
    return 0;
}

static void test_changing_the_loss_in_the_callback_stops_the_fit_with_a_state_error(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.01);
    gf_fit *f = split_options(0.2, 5);
    assert_int_equal(gf_fit_set_callback(f, swap_loss, net), GF_OK);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_ERR_STATE);
    assert_int_equal(gf_net_epoch_count(net), 1);
    gf_fit_destroy(f);
    gf_net_destroy(net);
}

static int turn_per_step_on(void *user, const gf_epoch_record *r)
{
    (void)r;
    gf_loss *labels;
    assert_int_equal(gf_loss_create(&labels, GF_LOSS_SOFTMAX_CE_LABELS), GF_OK);
    assert_int_equal(gf_loss_set(labels, GF_LOSS_PARAM_PER_STEP, 1.0), GF_OK);
    assert_int_equal(gf_net_set_loss(user, labels), GF_OK);
    gf_loss_destroy(labels);
    return 0;
}

/* The per-step layout tests' net: an RNN over T = 5 steps of F = 3 into C = 6 classes, one label per sample
 * (softmax CE labels) in x (N x T x F) and t (N), each valid for the whole output, never a class of one step. */
enum { LBL_T = 5, LBL_F = 3, LBL_C = 6, LBL_N = 8 };
static gf_net *sequence_label_net(float *x, float *t)
{
    int64_t dims[2] = {LBL_T, LBL_F};
    gf_net *net;
    gf_loss *labels;
    assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_SEQUENCE, dims, 2, 1), GF_OK);
    assert_int_equal(gf_net_add_rnn(net, 4, GF_ACT_TANH, 1, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, LBL_C, GF_ACT_IDENTITY, NULL), GF_OK);
    assert_int_equal(gf_loss_create(&labels, GF_LOSS_SOFTMAX_CE_LABELS), GF_OK);
    assert_int_equal(gf_net_set_loss(net, labels), GF_OK);
    gf_loss_destroy(labels);
    for (int i = 0; i < LBL_N * LBL_T * LBL_F; i++)
        x[i] = (float)(i % 7) / 7.0f - 0.5f;
    for (int i = 0; i < LBL_N; i++)
        t[i] = (float)(LBL_T * LBL_C - 1 - i);
    return net;
}

/* Same kind, other layout: one label in [0, T*C) per sample becomes T labels in [0, C) per sample, which the fit's
 * gathered one-per-sample targets do not hold. */
static void test_turning_per_step_on_in_the_callback_stops_the_fit_with_a_state_error(void **state)
{
    (void)state;
    enum { T = LBL_T, F = LBL_F, N = LBL_N };
    float x[N * T * F], t[N];
    gf_net *net = sequence_label_net(x, t);
    gf_fit *f;
    assert_int_equal(gf_fit_create(&f), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_EPOCHS, 3), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_BATCH, 4), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_PROGRESS, 0), GF_OK);
    assert_int_equal(gf_fit_set_callback(f, turn_per_step_on, net), GF_OK);
    assert_int_equal(gf_net_fit_v2(net, x, N * T * F, t, N, N, f), GF_ERR_STATE);
    assert_int_equal(gf_net_epoch_count(net), 1);
    gf_fit_destroy(f);
    gf_net_destroy(net);
}

/* gf_net_fit's callbacks, as swap_loss and turn_per_step_on: the loss the fit did not begin with. */
static int swap_loss_v1(void *user, int32_t epoch, double mean_loss)
{
    (void)epoch;
    (void)mean_loss;
    return swap_loss(user, NULL);
}

static int turn_per_step_on_v1(void *user, int32_t epoch, double mean_loss)
{
    (void)epoch;
    (void)mean_loss;
    return turn_per_step_on(user, NULL);
}

/* Labels (one target per sample) to MSE (three): gf_net_fit ended on its next step's target count (GF_ERR_SHAPE)
 * where gf_net_fit_v2 names the change (GF_ERR_STATE). */
static void test_changing_the_loss_in_a_gf_net_fit_callback_stops_the_fit_with_a_state_error(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.01);
    assert_int_equal(gf_net_fit(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, 32, 5, swap_loss_v1, net, NULL),
                     GF_ERR_STATE);
    assert_non_null(strstr(gf_last_error(), "callback"));
    assert_int_equal(gf_net_steps(net), (NTRAIN + 31) / 32); /* the first epoch's steps are kept */
    gf_net_destroy(net);
}

/* MSE to MAE reads the same targets, but the fit checked and began with another loss: gf_net_fit went on with it
 * while gf_net_fit_v2 stopped. */
static void test_a_loss_swap_of_the_same_target_width_in_a_gf_net_fit_callback_is_a_state_error(void **state)
{
    (void)state;
    gf_net *net;
    gf_loss *mse;
    assert_int_equal(gf_net_create(&net, FEATURES, 4), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 1, GF_ACT_IDENTITY, NULL), GF_OK);
    assert_int_equal(gf_loss_create(&mse, GF_LOSS_MAE), GF_OK); /* swap_loss sets MSE */
    assert_int_equal(gf_net_set_loss(net, mse), GF_OK);
    gf_loss_destroy(mse);
    assert_int_equal(gf_net_fit(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, 32, 3, swap_loss_v1, net, NULL),
                     GF_ERR_STATE);
    assert_int_equal(gf_net_steps(net), (NTRAIN + 31) / 32);
    gf_net_destroy(net);
}

/* The sequence net of the gf_net_fit_v2 test above: per-step labels are T per sample, the fit gathered one. */
static void test_turning_per_step_on_in_a_gf_net_fit_callback_stops_the_fit_with_a_state_error(void **state)
{
    (void)state;
    enum { T = LBL_T, F = LBL_F, N = LBL_N };
    float x[N * T * F], t[N];
    gf_net *net = sequence_label_net(x, t);
    assert_int_equal(gf_net_fit(net, x, N * T * F, t, N, N, 4, 3, turn_per_step_on_v1, net, NULL), GF_ERR_STATE);
    assert_non_null(strstr(gf_last_error(), "per-step"));
    assert_int_equal(gf_net_steps(net), N / 4);
    gf_net_destroy(net);
}

/* A swap in the callback of the last epoch: both entry points give the same answer. */
static int swap_loss_and_stop_v1(void *user, int32_t epoch, double mean_loss)
{
    swap_loss_v1(user, epoch, mean_loss);
    return 1;
}
static int swap_loss_and_stop(void *user, const gf_epoch_record *r)
{
    swap_loss(user, r);
    return 1;
}

static void test_a_loss_changed_by_a_callback_that_stops_the_fit_gives_both_fits_a_state_error(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.01);
    assert_int_equal(gf_net_fit(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, 32, 5, swap_loss_and_stop_v1, net,
                                NULL),
                     GF_ERR_STATE);
    gf_net_destroy(net);
    net = classifier(3, 0.01);
    gf_fit *f = split_options(0.2, 5);
    assert_int_equal(gf_fit_set_callback(f, swap_loss_and_stop, net), GF_OK);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_ERR_STATE);
    gf_fit_destroy(f);
    gf_net_destroy(net);
}

/* A sequence net whose recurrent layer takes per-sample settings, and data for it (n samples of T x F). */
enum { SEQ_T = 4, SEQ_F = 2, SEQ_N = 16, SEQ_BATCH = 4 };

static gf_net *sequence_net(float *x, float *t)
{
    int64_t dims[2] = {SEQ_T, SEQ_F};
    gf_net *net;
    assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_SEQUENCE, dims, 2, 3), GF_OK);
    assert_int_equal(gf_net_add_lstm(net, 3, 0, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL), GF_OK);
    for (int i = 0; i < SEQ_N * SEQ_T * SEQ_F; i++)
        x[i] = (float)(i % 7) / 7.0f - 0.5f;
    for (int i = 0; i < SEQ_N * 2; i++)
        t[i] = (float)(i % 3) / 3.0f;
    return net;
}

/* Sets per-sample lengths (user 0) or an initial state (user 1) for the fit's batch on the net's first layer. */
static gf_net *per_sample_net;
static int set_per_sample_settings(gf_net *net, int what)
{
    gf_layer *l = gf_net_layer(net, 0);
    if (what == 0) {
        int64_t lengths[SEQ_BATCH] = {1, 2, 3, 4};
        return gf_layer_set_lengths(l, lengths, SEQ_BATCH);
    }
    float h0[SEQ_BATCH * 6] = {0.5f};
    return gf_layer_set_initial_state(l, h0, SEQ_BATCH * 6, SEQ_BATCH);
}

static int per_sample_settings_from_a_v2_callback(void *user, const gf_epoch_record *r)
{
    (void)r;
    assert_int_equal(set_per_sample_settings(per_sample_net, *(int *)user), GF_OK);
    return 0;
}

static int per_sample_settings_from_a_callback(void *user, int32_t epoch, double loss)
{
    (void)epoch;
    (void)loss;
    assert_int_equal(set_per_sample_settings(per_sample_net, *(int *)user), GF_OK);
    return 0;
}

/* Lengths and an initial state go by batch position, so a fit that shuffles refuses them before it starts; set
 * from its callback they would be given to the next epoch's shuffled samples: the fit stops there instead. */
static void test_per_sample_settings_set_in_a_fit_v2_callback_stop_a_shuffling_fit(void **state)
{
    (void)state;
    for (int what = 0; what < 2; what++) {
        float x[SEQ_N * SEQ_T * SEQ_F], t[SEQ_N * 2];
        gf_net *net = per_sample_net = sequence_net(x, t);
        gf_fit *f;
        assert_int_equal(gf_fit_create(&f), GF_OK);
        assert_int_equal(gf_fit_set(f, GF_FIT_EPOCHS, 3), GF_OK);
        assert_int_equal(gf_fit_set(f, GF_FIT_BATCH, SEQ_BATCH), GF_OK);
        assert_int_equal(gf_fit_set(f, GF_FIT_PROGRESS, 0), GF_OK);
        assert_int_equal(gf_fit_set_callback(f, per_sample_settings_from_a_v2_callback, &what), GF_OK);
        assert_int_equal(gf_net_fit_v2(net, x, sizeof x / sizeof *x, t, sizeof t / sizeof *t, SEQ_N, f), GF_ERR_STATE);
        assert_non_null(strstr(gf_last_error(), "callback"));
        assert_int_equal(gf_net_epoch_count(net), 1);
        assert_int_equal(gf_net_steps(net), SEQ_N / SEQ_BATCH);
        gf_fit_destroy(f);
        gf_net_destroy(net);
    }
}

/* In order and with the batch they were set for, the same settings are what the fit allows from the start. */
static void test_per_sample_settings_set_in_a_fit_v2_callback_are_kept_by_an_ordered_fit(void **state)
{
    (void)state;
    int what = 0;
    float x[SEQ_N * SEQ_T * SEQ_F], t[SEQ_N * 2];
    gf_net *net = per_sample_net = sequence_net(x, t);
    gf_fit *f;
    assert_int_equal(gf_fit_create(&f), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_EPOCHS, 3), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_BATCH, SEQ_BATCH), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_SHUFFLE, 0), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_PROGRESS, 0), GF_OK);
    assert_int_equal(gf_fit_set_callback(f, per_sample_settings_from_a_v2_callback, &what), GF_OK);
    assert_int_equal(gf_net_fit_v2(net, x, sizeof x / sizeof *x, t, sizeof t / sizeof *t, SEQ_N, f), GF_OK);
    assert_int_equal(gf_net_epoch_count(net), 3);
    gf_fit_destroy(f);
    gf_net_destroy(net);
}

/* gf_net_fit always shuffles: settings from its callback stop it before the next epoch. */
static void test_per_sample_settings_set_in_a_fit_callback_stop_the_fit(void **state)
{
    (void)state;
    for (int what = 0; what < 2; what++) {
        float x[SEQ_N * SEQ_T * SEQ_F], t[SEQ_N * 2];
        gf_net *net = per_sample_net = sequence_net(x, t);
        assert_int_equal(gf_net_fit(net, x, sizeof x / sizeof *x, t, sizeof t / sizeof *t, SEQ_N, SEQ_BATCH, 3,
                                    per_sample_settings_from_a_callback, &what, NULL),
                         GF_ERR_STATE);
        assert_non_null(strstr(gf_last_error(), "callback"));
        assert_int_equal(gf_net_steps(net), SEQ_N / SEQ_BATCH);
        gf_net_destroy(net);
    }
}

/* Weights after one plain epoch: equal for two nets exactly when their generators were in the same state. */
static void weights_after_a_fit(gf_net *net, float *w)
{
    assert_int_equal(gf_net_fit(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, 32, 1, NULL, NULL, NULL), GF_OK);
    assert_int_equal(gf_layer_get_weights(gf_net_layer(net, 0), w, 64), GF_OK);
}

static void test_refused_fits_change_nothing(void **state)
{
    (void)state;
    gf_net *net = classifier(6, 0.01), *ref = classifier(6, 0.01);
    gf_fit *f = split_options(0.2, 1);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    assert_int_equal(gf_net_fit_v2(ref, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    gf_epoch_record before = record(net, 0);
    /* Both validation data and a split. */
    assert_int_equal(gf_fit_set_validation(f, vx, sizeof vx / sizeof *vx, vy, NVAL, NVAL), GF_OK);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_ERR_INVALID);
    /* Validation data of the wrong width. */
    assert_int_equal(gf_fit_set(f, GF_FIT_VALIDATION_SPLIT, 0), GF_OK);
    assert_int_equal(gf_fit_set_validation(f, vx, sizeof vx / sizeof *vx - 1, vy, NVAL, NVAL), GF_OK);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_ERR_SHAPE);
    /* A split that leaves no training sample. */
    assert_int_equal(gf_fit_set(f, GF_FIT_VALIDATION_SPLIT, 0.999), GF_OK);
    assert_int_equal(gf_fit_set_validation(f, NULL, 0, NULL, 0, 0), GF_OK);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_ERR_INVALID);
    assert_int_equal(gf_fit_set(f, GF_FIT_VALIDATION_SPLIT, 0), GF_OK);
    /* A monitor on validation data there is none of. */
    assert_int_equal(gf_fit_set_validation(f, NULL, 0, NULL, 0, 0), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_MONITOR, GF_MONITOR_VAL_LOSS), GF_OK);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_ERR_INVALID);
    /* A label out of range, in the last sample. */
    assert_int_equal(gf_fit_set(f, GF_FIT_MONITOR, -1), GF_OK);
    float bad[NTRAIN];
    memcpy(bad, ty, sizeof bad);
    bad[NTRAIN - 1] = CLASSES;
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, bad, NTRAIN, NTRAIN, f), GF_ERR_RANGE);
    /* The records of the last successful fit are still there, and the generator was not touched. */
    assert_int_equal(gf_net_epoch_count(net), 1);
    gf_epoch_record after = record(net, 0);
    assert_memory_equal(&before, &after, sizeof before);
    float wn[64], wr[64];
    weights_after_a_fit(net, wn);
    weights_after_a_fit(ref, wr);
    assert_memory_equal(wn, wr, sizeof wn);
    gf_fit_destroy(f);
    gf_net_destroy(net);
    gf_net_destroy(ref);
}

static int64_t counted;
static void *count_malloc(void *u, size_t n) { (void)u; counted++; return malloc(n); }
static void *count_realloc(void *u, void *p, size_t n) { (void)u; counted++; return realloc(p, n); }
static void count_free(void *u, void *p) { (void)u; free(p); }

static void test_epochs_allocate_nothing_once_the_first_fit_sized_the_buffers(void **state)
{
    (void)state;
    assert_int_equal(gf_set_allocator(count_malloc, count_realloc, count_free, NULL), GF_OK);
    gf_net *net = classifier(3, 0.01);
    gf_schedule *sched;
    gf_fit *f = early_stopping_options(&sched, NULL);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    counted = 0;
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    assert_true(gf_net_epoch_count(net) > 1);
    assert_int_equal(counted, 0);
    gf_fit_destroy(f);
    gf_schedule_destroy(sched);
    gf_net_destroy(net);
    assert_int_equal(gf_live_allocations(), 0);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

/* Fails the fail_at-th allocation (counting from 1) while fail_at is nonzero. */
static int64_t fail_at, seen_allocs;
static void *failing_malloc(void *u, size_t n)
{
    (void)u;
    return fail_at && ++seen_allocs == fail_at ? NULL : malloc(n);
}
static void *failing_realloc(void *u, void *p, size_t n)
{
    (void)u;
    return fail_at && ++seen_allocs == fail_at ? NULL : realloc(p, n);
}

static void test_a_fit_that_runs_out_of_memory_changes_nothing(void **state)
{
    (void)state;
    assert_int_equal(gf_set_allocator(failing_malloc, failing_realloc, count_free, NULL), GF_OK);
    gf_net *net = classifier(6, 0.01), *ref = classifier(6, 0.01);
    gf_fit *small = split_options(0.2, 1), *big;
    gf_schedule *sched;
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, small), GF_OK);
    assert_int_equal(gf_net_fit_v2(ref, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, small), GF_OK);
    gf_epoch_record before = record(net, 0);
    big = early_stopping_options(&sched, NULL); /* more epochs, the best-weight copy, a bigger batch buffer */
    assert_int_equal(gf_fit_set(big, GF_FIT_BATCH, 64), GF_OK);
    int failures = 0;
    for (int64_t k = 1; k < 100; k++) {
        fail_at = k;
        seen_allocs = 0;
        int rc = gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, big);
        fail_at = 0;
        if (seen_allocs < k) { /* the fit made fewer than k allocations: it ran, so stop here */
            assert_int_equal(rc, GF_OK);
            break;
        }
        assert_int_equal(rc, GF_ERR_NOMEM);
        failures++;
        gf_epoch_record after = record(net, 0);
        assert_int_equal(gf_net_epoch_count(net), 1);
        assert_memory_equal(&before, &after, sizeof before);
    }
    assert_true(failures >= 3); /* records, row lists, gather buffers, best copy, batch buffers were all tried */
    /* The last, successful fit started from the state every failure left: the same as ref's. */
    assert_int_equal(gf_net_fit_v2(ref, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, big), GF_OK);
    assert_int_equal(gf_net_epoch_count(net), gf_net_epoch_count(ref));
    for (int32_t e = 0; e < gf_net_epoch_count(net); e++) {
        gf_epoch_record a = record(net, e), b = record(ref, e);
        a.seconds = b.seconds = 0.0;
        assert_memory_equal(&a, &b, sizeof a);
    }
    gf_fit_destroy(small);
    gf_fit_destroy(big);
    gf_schedule_destroy(sched);
    gf_net_destroy(net);
    gf_net_destroy(ref);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

static void test_record_holds_the_net_verdict_when_diagnostics_are_on(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.01);
    gf_fit *f = split_options(0.2, 2);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    assert_int_equal(record(net, 1).verdict, GF_VERDICT_UNKNOWN);
    gf_diag *d;
    assert_int_equal(gf_diag_create(&d, net), GF_OK);
    assert_int_equal(gf_diag_enable(d, 1), GF_OK);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    int32_t v;
    assert_int_equal(gf_diag_verdict(d, -1, &v), GF_OK);
    assert_int_equal(record(net, 1).verdict, v);
    assert_int_not_equal(v, GF_VERDICT_UNKNOWN);
    gf_diag_destroy(d);
    gf_fit_destroy(f);
    gf_net_destroy(net);
}

static void test_plateau_schedule_cuts_the_rate_after_patience_epochs_without_improvement(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.001);
    gf_schedule *s;
    assert_int_equal(gf_schedule_create(&s, GF_SCHED_PLATEAU, 0.001), GF_OK);
    assert_int_equal(gf_schedule_set(s, GF_SCHED_PATIENCE, 2), GF_OK);
    assert_int_equal(gf_schedule_set(s, GF_SCHED_GAMMA, 0.5), GF_OK);
    assert_int_equal(gf_schedule_set(s, GF_SCHED_THRESHOLD, 0.5), GF_OK); /* only halving the loss counts */
    gf_fit *f = split_options(0.2, 7);
    assert_int_equal(gf_fit_set_schedule(f, s), GF_OK);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    /* Epoch 0 sets the best; 1, 2, 3 are bad; after the third (> patience) the rate halves. */
    const double want[7] = {0.001, 0.001, 0.001, 0.001, 0.0005, 0.0005, 0.0005};
    for (int32_t e = 0; e < 7; e++)
        assert_close(record(net, e).lr, want[e], 1e-18);
    gf_fit_destroy(f);
    gf_schedule_destroy(s);
    gf_net_destroy(net);
}

static void test_a_reader_with_an_older_smaller_record_gets_its_prefix(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.01);
    gf_fit *f = split_options(0.2, 1);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    gf_epoch_record r;
    memset(&r, 0x5a, sizeof r);
    r.size = offsetof(gf_epoch_record, metric); /* a reader that knew size, epoch, epochs and loss */
    assert_int_equal(gf_net_epoch_record(net, 0, &r), GF_OK);
    assert_int_equal(r.size, offsetof(gf_epoch_record, metric));
    assert_true(GF_RECORD_HAS(&r, loss));
    assert_false(GF_RECORD_HAS(&r, metric));
    assert_true(r.loss == record(net, 0).loss);
    unsigned char untouched[sizeof r.metric];
    memset(untouched, 0x5a, sizeof untouched);
    assert_memory_equal(&r.metric, untouched, sizeof untouched);
    r.size = 4;
    assert_int_equal(gf_net_epoch_record(net, 0, &r), GF_ERR_INVALID);
    assert_int_equal(gf_net_epoch_record(net, 1, &r), GF_ERR_RANGE);
    gf_fit_destroy(f);
    gf_net_destroy(net);
}

static void test_epoch_metric_reads_every_metric_of_both_sets(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.01);
    assert_int_equal(gf_net_add_metric(net, GF_METRIC_TOP_K, 2), GF_OK);
    gf_fit *f = split_options(0.2, 1);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    double acc, top2, vacc;
    assert_int_equal(gf_net_epoch_metric(net, 0, 0, 0, &acc), GF_OK);
    assert_int_equal(gf_net_epoch_metric(net, 0, 1, 0, &top2), GF_OK);
    assert_int_equal(gf_net_epoch_metric(net, 0, 0, 1, &vacc), GF_OK);
    assert_true(acc == record(net, 0).metric && vacc == record(net, 0).val_metric);
    assert_true(top2 >= acc); /* the true class among the top two at least as often as on top */
    assert_int_equal(gf_net_epoch_metric(net, 0, 2, 0, &acc), GF_ERR_RANGE);
    assert_int_equal(gf_net_epoch_metric(net, 0, 0, 2, &acc), GF_ERR_INVALID);
    gf_fit_destroy(f);
    gf_net_destroy(net);
}

static void test_epoch_metric_of_a_metric_added_after_the_fit_is_out_of_range(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.01);
    gf_fit *f = split_options(0.2, 1);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    assert_int_equal(gf_net_add_metric(net, GF_METRIC_TOP_K, 2), GF_OK); /* the fit never computed it */
    double v = -1.0;
    assert_int_equal(gf_net_epoch_metric(net, 0, 1, 0, &v), GF_ERR_RANGE);
    assert_int_equal(gf_net_epoch_metric(net, 0, 1, 1, &v), GF_ERR_RANGE);
    assert_true(v == -1.0);
    assert_int_equal(gf_net_epoch_metric(net, 0, 0, 0, &v), GF_OK); /* the one it did is still there */
    assert_true(v == record(net, 0).metric);
    gf_fit_destroy(f);
    gf_net_destroy(net);
}

static void test_epoch_metric_after_the_metrics_were_replaced_is_a_state_error(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.01); /* accuracy */
    gf_fit *f = split_options(0.2, 1);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    assert_int_equal(gf_net_clear_metrics(net), GF_OK);
    assert_int_equal(gf_net_add_metric(net, GF_METRIC_TOP_K, 2), GF_OK); /* now metric 0, never computed */
    double v = -1.0;
    assert_int_equal(gf_net_epoch_metric(net, 0, 0, 0, &v), GF_ERR_STATE);
    assert_true(v == -1.0);
    assert_non_null(strstr(gf_net_last_error(net), "changed"));
    assert_int_equal(gf_net_clear_metrics(net), GF_OK); /* none at all: the record's accuracy names nothing now */
    assert_int_equal(gf_net_epoch_metric(net, 0, 0, 0, &v), GF_ERR_STATE);
    assert_int_equal(gf_net_add_metric(net, GF_METRIC_ACCURACY, NAN), GF_OK); /* the same metric again */
    assert_int_equal(gf_net_epoch_metric(net, 0, 0, 0, &v), GF_OK);
    assert_true(v == record(net, 0).metric);
    gf_fit_destroy(f);
    gf_net_destroy(net);
}

static void test_a_fit_refused_at_its_first_step_keeps_the_metrics_of_the_previous_records(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.01); /* accuracy */
    gf_fit *f = split_options(0.2, 1);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_OK);
    double before;
    assert_int_equal(gf_net_epoch_metric(net, 0, 0, 0, &before), GF_OK);
    assert_int_equal(gf_net_add_metric(net, GF_METRIC_TOP_K, 2), GF_OK);
    /* Output weights of 3e38 overflow the logits: the first step's gradients are NaN and its clip refuses them. */
    gf_layer *out = gf_net_layer(net, 1);
    float w[16 * CLASSES];
    for (size_t i = 0; i < sizeof w / sizeof *w; i++)
        w[i] = 3e38f;
    assert_int_equal(gf_layer_set_weights(out, w, sizeof w / sizeof *w), GF_OK);
    assert_int_equal(gf_net_set_clip(net, GF_CLIP_NORM, 1.0), GF_OK);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f), GF_ERR_NONFINITE);
    assert_int_equal(gf_net_epoch_count(net), 1); /* the previous fit's record, which has accuracy only */
    double v;
    assert_int_equal(gf_net_epoch_metric(net, 0, 0, 0, &v), GF_OK);
    assert_true(v == before);
    assert_int_equal(gf_net_epoch_metric(net, 0, 1, 0, &v), GF_ERR_RANGE);
    gf_fit_destroy(f);
    gf_net_destroy(net);
}

/* Runs a fit with stderr sent to a file; returns the file's text (caller frees). */
static char *fit_capturing_stderr(gf_net *net, gf_fit *f)
{
    char path[] = "/tmp/gf-progress-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    int rc = gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    assert_int_equal(rc, GF_OK);
    char *text = calloc(1, 8192);
    lseek(fd, 0, SEEK_SET);
    assert_true(read(fd, text, 8191) >= 0);
    close(fd);
    unlink(path);
    return text;
}

static void test_progress_writes_one_line_per_epoch_when_stderr_is_not_a_terminal(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.01);
    gf_fit *f = split_options(0.2, 3);
    assert_int_equal(gf_fit_set(f, GF_FIT_PROGRESS, 1), GF_OK);
    char *text = fit_capturing_stderr(net, f);
    int lines = 0;
    for (char *p = text; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, 3);
    assert_null(strchr(text, '\r'));
    assert_non_null(strstr(text, "epoch 1/3 ["));
    assert_non_null(strstr(text, "epoch 3/3 [====================]"));
    assert_non_null(strstr(text, "samples/s"));
    assert_non_null(strstr(text, "val_loss"));
    assert_non_null(strstr(text, "val_accuracy"));
    assert_non_null(strstr(text, "ETA"));
    free(text);
    gf_fit_destroy(f);
    gf_net_destroy(net);
}

/* A fit of the most epochs GF_FIT_EPOCHS takes, an epoch of two hours so far: the time left (4e9 hours) is
 * shown as a bound, not an int conversion out of range (undefined; "-2147483648h" on x86). */
static void test_progress_shows_a_time_left_beyond_any_int_of_hours_as_a_bound(void **state)
{
    (void)state;
    char path[] = "/tmp/gf-progress-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    gfi_progress p;
    gfi_progress_begin(&p, 2, INT32_MAX, 1000, NULL);
    p.start = p.epoch_start = gfi_now() - 7200.0;
    gf_epoch_record r = {.size = sizeof r, .epoch = 0, .epochs = INT32_MAX, .loss = 1.0, .val_loss = NAN};
    gfi_progress_epoch_end(&p, &r, false);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    char text[512] = {0};
    lseek(fd, 0, SEEK_SET);
    assert_true(read(fd, text, sizeof text - 1) > 0);
    close(fd);
    unlink(path);
    assert_non_null(strstr(text, "ETA >1000000h"));
    assert_null(strstr(text, "-2147483648"));
}

static void test_progress_is_off_by_default(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.01);
    gf_fit *f = split_options(0.2, 2);
    char *text = fit_capturing_stderr(net, f);
    assert_string_equal(text, "");
    free(text);
    assert_int_equal(gf_net_set_progress(net, 1), GF_OK); /* the net's flag turns it on */
    text = fit_capturing_stderr(net, f);
    assert_non_null(strstr(text, "epoch 2/2"));
    free(text);
    gf_fit_destroy(f);
    gf_net_destroy(net);
}

/* y = sin(x0) + x1 / 2 on the blobs' inputs. */
static void sine_targets(float *y, const float *x, int n)
{
    for (int i = 0; i < n; i++)
        y[i] = (float)(sin(x[i * FEATURES]) + 0.5 * x[i * FEATURES + 1]);
}

/* A 4-8-1 tanh regressor with RMSE as its metric. */
static gf_net *regressor(void)
{
    gf_net *net;
    gf_optimizer *opt;
    assert_int_equal(gf_net_create(&net, FEATURES, 8), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 8, GF_ACT_TANH, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 1, GF_ACT_IDENTITY, NULL), GF_OK);
    assert_int_equal(gf_optimizer_create(&opt, GF_OPT_ADAM, 0.05), GF_OK);
    assert_int_equal(gf_net_set_optimizer(net, opt), GF_OK);
    assert_int_equal(gf_net_add_metric(net, GF_METRIC_RMSE, NAN), GF_OK);
    return net;
}

static void test_a_lower_is_better_metric_is_watched_for_its_minimum(void **state)
{
    (void)state;
    static float ry[NTRAIN], rvy[NVAL];
    sine_targets(ry, tx, NTRAIN);
    sine_targets(rvy, vx, NVAL);
    gf_net *net = regressor();
    gf_fit *f = split_options(0, 30);
    assert_int_equal(gf_fit_set_validation(f, vx, sizeof vx / sizeof *vx, rvy, NVAL, NVAL), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_MONITOR, GF_MONITOR_VAL_METRIC), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_RESTORE_BEST, 1), GF_OK);
    assert_int_equal(gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ry, NTRAIN, NTRAIN, f), GF_OK);
    int32_t best = record(net, 29).best_epoch;
    for (int32_t e = 0; e < 30; e++) {
        gf_epoch_record r = record(net, e);
        assert_true(r.val_metric >= record(net, best).val_metric);
        /* RMSE is the root of the MSE loss (no penalty here), each summed in its own way. */
        assert_close(r.val_metric, sqrt(r.val_loss), 1e-12);
    }
    gf_fit_destroy(f);
    gf_net_destroy(net);
}

static void test_fit_options_refuse_values_outside_their_domain(void **state)
{
    (void)state;
    gf_fit *f;
    double v;
    assert_int_equal(gf_fit_create(&f), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_EPOCHS, 0), GF_ERR_INVALID);
    assert_int_equal(gf_fit_set(f, GF_FIT_BATCH, 2.5), GF_ERR_INVALID);
    assert_int_equal(gf_fit_set(f, GF_FIT_VALIDATION_SPLIT, 1.0), GF_ERR_INVALID);
    assert_int_equal(gf_fit_set(f, GF_FIT_MIN_DELTA, NAN), GF_ERR_INVALID);
    assert_int_equal(gf_fit_set(f, GF_FIT_MONITOR, 4), GF_ERR_INVALID);
    assert_int_equal(gf_fit_set(f, GF_FIT_PROGRESS, 3), GF_ERR_INVALID);
    assert_int_equal(gf_fit_set(f, 99, 1), GF_ERR_INVALID);
    assert_int_equal(gf_fit_get(f, GF_FIT_BATCH, &v), GF_OK);
    assert_true(v == 32.0); /* the refusals changed nothing */
    assert_int_equal(gf_fit_set_validation(f, vx, 4, NULL, 0, 1), GF_ERR_NULL);
    assert_int_equal(gf_fit_set_schedule(f, (const gf_schedule *)f), GF_ERR_KIND);
    assert_int_equal(gf_fit_set(NULL, GF_FIT_EPOCHS, 1), GF_ERR_NULL);
    gf_fit_destroy(f);
    gf_fit_destroy(NULL);
}

/* A fit of `epochs` with schedule s (batch 60: 4 steps an epoch); returns gf_net_fit_v2's status. */
static int fit_scheduled(gf_net *net, gf_schedule *s, int32_t epochs)
{
    gf_fit *f;
    assert_int_equal(gf_fit_create(&f), GF_OK);
    assert_int_equal(gf_fit_set_schedule(f, s), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_EPOCHS, epochs), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_BATCH, 60), GF_OK);
    int rc = gf_net_fit_v2(net, tx, sizeof tx / sizeof *tx, ty, NTRAIN, NTRAIN, f);
    gf_fit_destroy(f);
    return rc;
}

/* PyTorch's CosineAnnealingLR with eta_min 0 ends at lr 0: the net keeps that rate and a saved copy loads. */
static void test_a_cosine_fit_ending_at_rate_zero_leaves_a_net_that_saves_and_loads(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.05), *back = NULL;
    gf_schedule *s;
    assert_int_equal(gf_schedule_create(&s, GF_SCHED_COSINE, 0.05), GF_OK);
    assert_int_equal(gf_schedule_set(s, GF_SCHED_PERIOD, 3), GF_OK);
    assert_int_equal(fit_scheduled(net, s, 5), GF_OK);
    double lr = -1.0;
    assert_int_equal(gf_optimizer_get(gf_net_optimizer(net), GF_OPT_LR, &lr), GF_OK);
    assert_true(lr == 0.0);
    size_t need = 0;
    assert_int_equal(gf_net_save_buffer(net, GF_SAVE_TRAINING_STATE, NULL, 0, &need), GF_OK);
    void *buf = malloc(need);
    assert_non_null(buf);
    assert_int_equal(gf_net_save_buffer(net, GF_SAVE_TRAINING_STATE, buf, need, &need), GF_OK);
    assert_int_equal(gf_net_load_buffer(&back, buf, need), GF_OK);
    assert_int_equal(gf_optimizer_get(gf_net_optimizer(back), GF_OPT_LR, &lr), GF_OK);
    assert_true(lr == 0.0);
    free(buf);
    gf_net_destroy(back);
    gf_schedule_destroy(s);
    gf_net_destroy(net);
}

/* An exponential schedule with gamma 1e300: epoch 1's rate (1e299) is beyond a float.  The fit fails there,
 * before any step at that rate: the weights are those after epoch 0, all finite, and the rate is epoch 0's. */
static void test_a_schedule_rate_beyond_the_float_range_stops_the_fit_before_the_epoch(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.05), *ref = classifier(3, 0.05);
    gf_schedule *s;
    assert_int_equal(gf_schedule_create(&s, GF_SCHED_EXPONENTIAL, 0.05), GF_OK);
    assert_int_equal(gf_schedule_set(s, GF_SCHED_GAMMA, 1e300), GF_OK);
    assert_int_equal(fit_scheduled(ref, s, 1), GF_OK); /* the same net after its one good epoch */
    gf_clear_error();
    assert_int_equal(fit_scheduled(net, s, 4), GF_ERR_INVALID);
    assert_non_null(strstr(gf_last_error(), "epoch 1"));
    assert_non_null(strstr(gf_last_error(), "[0, 3.4e38]"));
    assert_int_equal(gf_net_epoch_count(net), 1);
    assert_int_equal(gf_net_steps(net), 4);
    int64_t n = gf_layer_weight_count(gf_net_layer(net, 0));
    float w[64], wr[64];
    assert_int_equal(gf_layer_get_weights(gf_net_layer(net, 0), w, (size_t)n), GF_OK);
    assert_int_equal(gf_layer_get_weights(gf_net_layer(ref, 0), wr, (size_t)n), GF_OK);
    assert_memory_equal(w, wr, (size_t)n * sizeof *w);
    double lr;
    assert_int_equal(gf_optimizer_get(gf_net_optimizer(net), GF_OPT_LR, &lr), GF_OK);
    assert_true(lr == 0.05);
    gf_schedule_destroy(s);
    gf_net_destroy(ref);
    gf_net_destroy(net);
}

/* Per step: a step schedule (period 1, gamma 1e300) refuses step 1's rate before that step is taken. */
static void test_a_per_step_schedule_rate_beyond_the_float_range_stops_the_fit_before_the_step(void **state)
{
    (void)state;
    gf_net *net = classifier(3, 0.05);
    gf_schedule *s;
    assert_int_equal(gf_schedule_create(&s, GF_SCHED_STEP, 0.05), GF_OK);
    assert_int_equal(gf_schedule_set(s, GF_SCHED_PERIOD, 1), GF_OK);
    assert_int_equal(gf_schedule_set(s, GF_SCHED_GAMMA, 1e300), GF_OK);
    assert_int_equal(gf_schedule_set(s, GF_SCHED_PER_STEP, 1), GF_OK);
    gf_clear_error();
    assert_int_equal(fit_scheduled(net, s, 2), GF_ERR_INVALID);
    assert_non_null(strstr(gf_last_error(), "step 1"));
    assert_int_equal(gf_net_steps(net), 1);
    int64_t n = gf_layer_weight_count(gf_net_layer(net, 0));
    float w[64];
    assert_int_equal(gf_layer_get_weights(gf_net_layer(net, 0), w, (size_t)n), GF_OK);
    for (int64_t i = 0; i < n; i++)
        assert_true(isfinite(w[i]));
    gf_schedule_destroy(s);
    gf_net_destroy(net);
}

/* An allocator that pads every block with SLACK guard bytes and checks them when the block is
 * freed or moved, so a write past a block's end shows up as guard_broken; refuses a realloc of
 * exactly refuse_realloc bytes once while that is nonzero. */
#define SLACK 65536
#define HEAD 16
static int guard_broken;
static size_t refuse_realloc;
static void check_guard(const unsigned char *base)
{
    size_t n;
    memcpy(&n, base, sizeof n);
    for (size_t i = 0; i < SLACK; i++)
        if (base[HEAD + n + i] != 0xA5) {
            guard_broken = 1;
            return;
        }
}
static void *guard_place(unsigned char *base, size_t n)
{
    if (!base)
        return NULL;
    memcpy(base, &n, sizeof n);
    memset(base + HEAD + n, 0xA5, SLACK);
    return base + HEAD;
}
static void *guard_malloc(void *u, size_t n)
{
    (void)u;
    return guard_place(malloc(HEAD + n + SLACK), n);
}
static void *guard_realloc(void *u, void *p, size_t n)
{
    (void)u;
    if (refuse_realloc && n == refuse_realloc) {
        refuse_realloc = 0;
        return NULL;
    }
    if (!p)
        return guard_malloc(u, n);
    unsigned char *base = (unsigned char *)p - HEAD;
    check_guard(base);
    return guard_place(realloc(base, HEAD + n + SLACK), n);
}
static void guard_free(void *u, void *p)
{
    (void)u;
    if (!p)
        return;
    check_guard((unsigned char *)p - HEAD);
    free((unsigned char *)p - HEAD);
}

/* A fit at a smaller target width whose target-buffer growth fails must not leave the input
 * buffer smaller than the next fit believes it is. */
static void test_a_fit_after_a_failed_buffer_growth_stays_inside_its_buffers(void **state)
{
    (void)state;
    enum { IN = 50, OUT = 10, N = 64 };
    static float x[N * IN], t[N * OUT], lab[N];
    for (int i = 0; i < N * IN; i++)
        x[i] = sinf((float)i);
    for (int i = 0; i < N; i++)
        lab[i] = (float)(i % OUT);
    guard_broken = 0;
    assert_int_equal(gf_set_allocator(guard_malloc, guard_realloc, guard_free, NULL), GF_OK);
    gf_net *net;
    gf_fit *f;
    gf_loss *labels, *mse;
    assert_int_equal(gf_net_create(&net, IN, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, OUT, GF_ACT_IDENTITY, NULL), GF_OK);
    assert_int_equal(gf_loss_create(&labels, GF_LOSS_SOFTMAX_CE_LABELS), GF_OK);
    assert_int_equal(gf_loss_create(&mse, GF_LOSS_MSE), GF_OK);
    assert_int_equal(gf_fit_create(&f), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_BATCH, 32), GF_OK);
    assert_int_equal(gf_net_fit_v2(net, x, N * IN, t, N * OUT, N, f), GF_OK); /* 32 x 50 in, 32 x 10 out */
    assert_int_equal(gf_net_set_loss(net, labels), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_BATCH, 8), GF_OK);
    refuse_realloc = 8 * sizeof(float); /* the 8 x 1 label buffer, should it be reallocated */
    int rc = gf_net_fit_v2(net, x, N * IN, lab, N, N, f);
    refuse_realloc = 0;
    assert_true(rc == GF_OK || rc == GF_ERR_NOMEM);
    assert_int_equal(gf_net_set_loss(net, mse), GF_OK);
    assert_int_equal(gf_fit_set(f, GF_FIT_BATCH, 32), GF_OK);
    assert_int_equal(gf_net_fit_v2(net, x, N * IN, t, N * OUT, N, f), GF_OK);
    gf_fit_destroy(f);
    gf_loss_destroy(labels);
    gf_loss_destroy(mse);
    gf_net_destroy(net);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
    assert_false(guard_broken);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_early_stopping_stops_patience_epochs_after_the_best_validation_accuracy),
        cmocka_unit_test(test_restored_weights_give_the_best_epochs_validation_loss_and_accuracy),
        cmocka_unit_test(test_records_match_what_the_callback_saw),
        cmocka_unit_test(test_cosine_schedule_sets_each_epochs_learning_rate),
        cmocka_unit_test(test_per_step_schedule_records_the_last_steps_rate),
        cmocka_unit_test(test_fit_v2_with_default_options_reproduces_gf_net_fit),
        cmocka_unit_test(test_validation_split_holds_out_the_fraction_and_trains_on_the_rest),
        cmocka_unit_test(test_validation_split_is_drawn_from_the_nets_seed),
        cmocka_unit_test(test_callback_returning_nonzero_stops_after_that_epoch),
        cmocka_unit_test(test_restore_best_without_early_stopping_ends_on_the_best_epoch),
        cmocka_unit_test(test_fit_v2_from_its_own_callback_is_refused),
        cmocka_unit_test(test_fit_or_fit_v2_from_a_fit_callback_is_refused_and_changes_nothing),
        cmocka_unit_test(test_fit_from_a_fit_v2_callback_is_refused),
        cmocka_unit_test(test_changing_the_loss_in_the_callback_stops_the_fit_with_a_state_error),
        cmocka_unit_test(test_turning_per_step_on_in_the_callback_stops_the_fit_with_a_state_error),
        cmocka_unit_test(test_changing_the_loss_in_a_gf_net_fit_callback_stops_the_fit_with_a_state_error),
        cmocka_unit_test(test_a_loss_swap_of_the_same_target_width_in_a_gf_net_fit_callback_is_a_state_error),
        cmocka_unit_test(test_turning_per_step_on_in_a_gf_net_fit_callback_stops_the_fit_with_a_state_error),
        cmocka_unit_test(test_a_loss_changed_by_a_callback_that_stops_the_fit_gives_both_fits_a_state_error),
        cmocka_unit_test(test_per_sample_settings_set_in_a_fit_v2_callback_stop_a_shuffling_fit),
        cmocka_unit_test(test_per_sample_settings_set_in_a_fit_v2_callback_are_kept_by_an_ordered_fit),
        cmocka_unit_test(test_per_sample_settings_set_in_a_fit_callback_stop_the_fit),
        cmocka_unit_test(test_refused_fits_change_nothing),
        cmocka_unit_test(test_epochs_allocate_nothing_once_the_first_fit_sized_the_buffers),
        cmocka_unit_test(test_a_fit_that_runs_out_of_memory_changes_nothing),
        cmocka_unit_test(test_a_fit_after_a_failed_buffer_growth_stays_inside_its_buffers),
        cmocka_unit_test(test_record_holds_the_net_verdict_when_diagnostics_are_on),
        cmocka_unit_test(test_plateau_schedule_cuts_the_rate_after_patience_epochs_without_improvement),
        cmocka_unit_test(test_a_reader_with_an_older_smaller_record_gets_its_prefix),
        cmocka_unit_test(test_epoch_metric_reads_every_metric_of_both_sets),
        cmocka_unit_test(test_epoch_metric_of_a_metric_added_after_the_fit_is_out_of_range),
        cmocka_unit_test(test_epoch_metric_after_the_metrics_were_replaced_is_a_state_error),
        cmocka_unit_test(test_a_fit_refused_at_its_first_step_keeps_the_metrics_of_the_previous_records),
        cmocka_unit_test(test_progress_writes_one_line_per_epoch_when_stderr_is_not_a_terminal),
        cmocka_unit_test(test_progress_shows_a_time_left_beyond_any_int_of_hours_as_a_bound),
        cmocka_unit_test(test_progress_is_off_by_default),
        cmocka_unit_test(test_a_lower_is_better_metric_is_watched_for_its_minimum),
        cmocka_unit_test(test_fit_options_refuse_values_outside_their_domain),
        cmocka_unit_test(test_a_cosine_fit_ending_at_rate_zero_leaves_a_net_that_saves_and_loads),
        cmocka_unit_test(test_a_schedule_rate_beyond_the_float_range_stops_the_fit_before_the_epoch),
        cmocka_unit_test(test_a_per_step_schedule_rate_beyond_the_float_range_stops_the_fit_before_the_step),
    };
    return cmocka_run_group_tests(tests, setup_data, NULL);
}
