/*
 * test_optimizer.c — the optimizers: every update rule against an
 * independent double-precision re-derivation, convergence on a quadratic,
 * reset, learning-rate changes, AdamW's decoupled decay, allocation-free
 * steps, parameter validation and handle lifetime.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ew.h"
#include "internal.h"
#include "threadpool.h"

#define N 5
#define NKINDS 7

static const int32_t all_kinds[NKINDS] = {GF_OPT_SGD,     GF_OPT_MOMENTUM, GF_OPT_NESTEROV, GF_OPT_RMSPROP,
                                          GF_OPT_ADAGRAD, GF_OPT_ADAM,     GF_OPT_ADAMW};

/* A start point and three gradients with mixed signs, a zero and a large one. */
static const float w_start[N] = {0.5f, -1.25f, 2.0f, 0.0f, -3.5f};
static const float grads[3][N] = {
    {0.3f, -0.7f, 0.0f, 1.5f, -2.0f},
    {-0.1f, 0.4f, 0.25f, 1.0f, 3.0f},
    {0.6f, -0.2f, -0.5f, 0.05f, -1.0f},
};

/* What a failed create must leave in *out untouched. */
static gf_optimizer sentinel_opt;

static gf_optimizer *make_opt(int32_t kind, double lr)
{
    gf_optimizer *o = NULL;
    assert_int_equal(gf_optimizer_create(&o, kind, lr), GF_OK);
    assert_non_null(o);
    return o;
}

static void set_ok(gf_optimizer *o, int32_t param, double value)
{
    assert_int_equal(gf_optimizer_set(o, param, value), GF_OK);
}

static double get_ok(const gf_optimizer *o, int32_t param)
{
    double x = NAN;
    assert_int_equal(gf_optimizer_get(o, param, &x), GF_OK);
    return x;
}

/* ------------------------------------------------------------------ */
/* Reference: the formulas written out again in double                 */
/* ------------------------------------------------------------------ */

typedef struct ref_opt {
    int32_t kind;
    double lr, mu, b1, b2, eps, rho, wd;
    double m[N], v[N];
    int t;
} ref_opt;

static void ref_step(ref_opt *r, double *w, const float *gf)
{
    r->t++;
    for (int i = 0; i < N; i++) {
        double g = gf[i];
        if (r->kind == GF_OPT_ADAMW)
            w[i] = w[i] - r->lr * r->wd * w[i];
        else
            g = g + r->wd * w[i];
        switch (r->kind) {
        case GF_OPT_SGD:
            w[i] = w[i] - r->lr * g;
            break;
        case GF_OPT_MOMENTUM:
            r->m[i] = r->mu * r->m[i] + g;
            w[i] = w[i] - r->lr * r->m[i];
            break;
        case GF_OPT_NESTEROV:
            r->m[i] = r->mu * r->m[i] + g;
            w[i] = w[i] - r->lr * (g + r->mu * r->m[i]);
            break;
        case GF_OPT_RMSPROP:
            r->v[i] = r->rho * r->v[i] + (1 - r->rho) * g * g;
            w[i] = w[i] - r->lr * g / (sqrt(r->v[i]) + r->eps);
            break;
        case GF_OPT_ADAGRAD:
            r->v[i] = r->v[i] + g * g;
            w[i] = w[i] - r->lr * g / (sqrt(r->v[i]) + r->eps);
            break;
        default: { /* adam, adamw */
            r->m[i] = r->b1 * r->m[i] + (1 - r->b1) * g;
            r->v[i] = r->b2 * r->v[i] + (1 - r->b2) * g * g;
            double mhat = r->m[i] / (1 - pow(r->b1, r->t));
            double vhat = r->v[i] / (1 - pow(r->b2, r->t));
            w[i] = w[i] - r->lr * mhat / (sqrt(vhat) + r->eps);
            break;
        }
        }
    }
}

/* Non-default hyper-parameters per kind, so set() is exercised too. */
static void configure(int32_t kind, gf_optimizer *o, ref_opt *r)
{
    memset(r, 0, sizeof *r);
    r->kind = kind;
    r->lr = 0.1;
    r->wd = 0.05;
    switch (kind) {
    case GF_OPT_MOMENTUM:
    case GF_OPT_NESTEROV:
        r->mu = 0.8;
        set_ok(o, GF_OPT_MOMENTUM_MU, r->mu);
        break;
    case GF_OPT_RMSPROP:
        r->rho = 0.9;
        r->eps = 1e-6;
        set_ok(o, GF_OPT_RHO, r->rho);
        set_ok(o, GF_OPT_EPS, r->eps);
        break;
    case GF_OPT_ADAGRAD:
        r->eps = 1e-6;
        set_ok(o, GF_OPT_EPS, r->eps);
        break;
    case GF_OPT_ADAM:
    case GF_OPT_ADAMW:
        r->b1 = 0.8;
        r->b2 = 0.95;
        r->eps = 1e-6;
        set_ok(o, GF_OPT_BETA1, r->b1);
        set_ok(o, GF_OPT_BETA2, r->b2);
        set_ok(o, GF_OPT_EPS, r->eps);
        if (kind == GF_OPT_ADAMW)
            r->wd = 0.1;
        break;
    default:
        break;
    }
    set_ok(o, GF_OPT_WEIGHT_DECAY, r->wd);
}

/* Three steps of the library against the reference; float per element, so
 * each weight must agree to 1e-5 relative (absolute below magnitude 1). */
static void check_three_steps_match_reference(int32_t kind)
{
    gf_optimizer *o = make_opt(kind, 0.1);
    ref_opt r;
    configure(kind, o, &r);
    float w[N];
    double wr[N];
    for (int i = 0; i < N; i++) {
        w[i] = w_start[i];
        wr[i] = w_start[i];
    }
    assert_int_equal(gfi_opt_prepare(o, N), GF_OK);
    for (int s = 0; s < 3; s++) {
        gfi_opt_update(o, w, grads[s], N);
        ref_step(&r, wr, grads[s]);
        for (int i = 0; i < N; i++) {
            double tol = 1e-5 * fmax(1.0, fabs(wr[i]));
            if (fabs(w[i] - wr[i]) > tol)
                fail_msg("kind %d step %d w[%d] = %.9g, reference %.9g (tol %g)", (int)kind, s + 1, i,
                         (double)w[i], wr[i], tol);
        }
    }
    assert_int_equal(gf_optimizer_steps(o), 3);
    gf_optimizer_destroy(o);
}

static void test_sgd_matches_reference_over_three_steps(void **s) { check_three_steps_match_reference(GF_OPT_SGD); }
static void test_momentum_matches_reference_over_three_steps(void **s)
{
    check_three_steps_match_reference(GF_OPT_MOMENTUM);
}
static void test_nesterov_matches_reference_over_three_steps(void **s)
{
    check_three_steps_match_reference(GF_OPT_NESTEROV);
}
static void test_rmsprop_matches_reference_over_three_steps(void **s)
{
    check_three_steps_match_reference(GF_OPT_RMSPROP);
}
static void test_adagrad_matches_reference_over_three_steps(void **s)
{
    check_three_steps_match_reference(GF_OPT_ADAGRAD);
}
static void test_adam_matches_reference_over_three_steps(void **s) { check_three_steps_match_reference(GF_OPT_ADAM); }
static void test_adamw_matches_reference_over_three_steps(void **s)
{
    check_three_steps_match_reference(GF_OPT_ADAMW);
}

/* ------------------------------------------------------------------ */
/* Convergence on f(w) = sum (w - 3)^2                                 */
/* ------------------------------------------------------------------ */

static double quad(const float *w)
{
    double f = 0;
    for (int i = 0; i < N; i++)
        f += ((double)w[i] - 3) * ((double)w[i] - 3);
    return f;
}

/* Whether this machine honours MXCSR flush-to-zero: x86 hardware does;
 * valgrind's emulation and other architectures do not (the library's flush
 * is then a no-op, and the tests below have nothing to check). */
static bool ftz_honoured(void)
{
#if defined(__x86_64__) || defined(__SSE2__) || (defined(__aarch64__) && defined(__GNUC__))
    gfi_fpmode m = gfi_ftz_begin();
    volatile float a = 1e-20f, b = 1e-20f;
    volatile float r = a * b; /* 1e-40: denormal unless flushed; volatile keeps it between the mode switches */
    gfi_ftz_end(m);
    return r == 0.0f;
#else
    return false;
#endif
}

/* A parameter whose gradient stays 0: Adam's first moment decays by 0.9 a step
 * and would sink through the denormal range (slow on x86); the update flushes
 * it to exactly 0 instead, on every thread count and code path. */
static void check_vanished_moment_reaches_zero_not_denormal(struct gfi_pool *pool)
{
    if (!ftz_honoured()) {
        print_message("flush-to-zero not honoured here (valgrind, or neither x86 nor AArch64): skipped\n");
        skip();
    }
    enum { M = 70000 }; /* past the split threshold, so two threads share it */
    gf_optimizer *o = make_opt(GF_OPT_ADAM, 1e-3);
    float *w = calloc(M, sizeof *w), *g = calloc(M, sizeof *g);
    assert_true(w && g);
    assert_int_equal(gfi_opt_prepare(o, M), GF_OK);
    for (int i = 0; i < M; i++)
        g[i] = 1.0f;
    gfi_opt_update_pool(o, pool, w, g, M); /* m = 0.1 */
    memset(g, 0, M * sizeof *g);
    for (int s = 0; s < 900; s++) /* 0.1 * 0.9^900 = 5e-43 without the flush */
        gfi_opt_update_pool(o, pool, w, g, M);
    for (int i = 0; i < M; i++)
        if (o->m[i] != 0.0f)
            fail_msg("m[%d] = %g after 900 zero gradients, expected exactly 0", i, (double)o->m[i]);
    free(w);
    free(g);
    gf_optimizer_destroy(o);
}

static void test_vanished_adam_moment_is_flushed_to_zero_not_left_denormal(void **s)
{
    (void)s;
    check_vanished_moment_reaches_zero_not_denormal(NULL);
}

static void test_vanished_adam_moment_is_flushed_to_zero_on_two_threads(void **s)
{
    (void)s;
    struct gfi_pool *pool;
    assert_int_equal(gfi_pool_create(&pool, 2), GF_OK);
    check_vanished_moment_reaches_zero_not_denormal(pool);
    gfi_pool_destroy(pool);
}

static void test_update_leaves_the_callers_floating_point_mode_unchanged(void **s)
{
    (void)s;
    gf_optimizer *o = make_opt(GF_OPT_MOMENTUM, 0.1);
    float w[N] = {0}, g[N] = {1, 2, 3, 4};
    assert_int_equal(gfi_opt_prepare(o, N), GF_OK);
    volatile float tiny = 1e-39f; /* denormal */
    gfi_opt_update(o, w, g, N);
    /* still gradual underflow here: the flush is the update's own business */
    assert_true(tiny * 0.5f != 0.0f);
    assert_true(tiny != 0.0f && tiny + 0.0f == 1e-39f);
    gf_optimizer_destroy(o);
}

/* 200 steps from w = 0 with default hyper-parameters except lr; every
 * weight must end within 0.05 of 3 (AdamW's default decay of 0.01 pulls it
 * slightly below 3, by about 0.02). */
static void check_converges_to_three(int32_t kind, double lr)
{
    gf_optimizer *o = make_opt(kind, lr);
    float w[N] = {0}, g[N];
    double f0 = quad(w);
    assert_int_equal(gfi_opt_prepare(o, N), GF_OK);
    for (int s = 0; s < 200; s++) {
        for (int i = 0; i < N; i++)
            g[i] = 2.0f * (w[i] - 3.0f);
        gfi_opt_update(o, w, g, N);
    }
    assert_true(quad(w) < f0);
    for (int i = 0; i < N; i++)
        if (fabs(w[i] - 3.0) > 0.05)
            fail_msg("w[%d] = %g after 200 steps, expected 3 +- 0.05", i, (double)w[i]);
    gf_optimizer_destroy(o);
}

static void test_sgd_converges_on_quadratic(void **s) { check_converges_to_three(GF_OPT_SGD, 0.1); }
static void test_momentum_converges_on_quadratic(void **s) { check_converges_to_three(GF_OPT_MOMENTUM, 0.05); }
static void test_nesterov_converges_on_quadratic(void **s) { check_converges_to_three(GF_OPT_NESTEROV, 0.05); }
static void test_rmsprop_converges_on_quadratic(void **s) { check_converges_to_three(GF_OPT_RMSPROP, 0.05); }
static void test_adagrad_converges_on_quadratic(void **s) { check_converges_to_three(GF_OPT_ADAGRAD, 1.0); }
static void test_adam_converges_on_quadratic(void **s) { check_converges_to_three(GF_OPT_ADAM, 0.1); }
static void test_adamw_converges_on_quadratic(void **s) { check_converges_to_three(GF_OPT_ADAMW, 0.1); }

/* ------------------------------------------------------------------ */
/* Reset, steps and learning-rate changes                              */
/* ------------------------------------------------------------------ */

static void test_reset_makes_next_step_bit_identical_to_fresh_optimizer(void **s)
{
    for (int k = 0; k < NKINDS; k++) {
        gf_optimizer *used = make_opt(all_kinds[k], 0.1), *fresh = make_opt(all_kinds[k], 0.1);
        float wu[N], wf[N];
        memcpy(wu, w_start, sizeof wu);
        assert_int_equal(gfi_opt_prepare(used, N), GF_OK);
        assert_int_equal(gfi_opt_prepare(fresh, N), GF_OK);
        for (int st = 0; st < 3; st++)
            gfi_opt_update(used, wu, grads[st], N);

        assert_int_equal(gf_optimizer_reset(used), GF_OK);
        assert_int_equal(gf_optimizer_steps(used), 0);
        for (size_t i = 0; i < N; i++) {
            if (used->m)
                assert_true(used->m[i] == 0.0f);
            if (used->v)
                assert_true(used->v[i] == 0.0f);
        }

        memcpy(wu, w_start, sizeof wu);
        memcpy(wf, w_start, sizeof wf);
        gfi_opt_update(used, wu, grads[0], N);
        gfi_opt_update(fresh, wf, grads[0], N);
        assert_memory_equal(wu, wf, sizeof wu);
        gf_optimizer_destroy(used);
        gf_optimizer_destroy(fresh);
    }
}

static void test_reset_keeps_buffers_and_hyperparameters(void **s)
{
    gf_optimizer *o = make_opt(GF_OPT_ADAM, 0.1);
    set_ok(o, GF_OPT_BETA1, 0.5);
    assert_int_equal(gfi_opt_prepare(o, N), GF_OK);
    float *m = o->m, *v = o->v, w[N];
    memcpy(w, w_start, sizeof w);
    gfi_opt_update(o, w, grads[0], N);
    assert_int_equal(gf_optimizer_reset(o), GF_OK);
    assert_ptr_equal(o->m, m);
    assert_ptr_equal(o->v, v);
    assert_true(get_ok(o, GF_OPT_BETA1) == 0.5);
    assert_true(get_ok(o, GF_OPT_LR) == 0.1);
    gf_optimizer_destroy(o);
}

static void test_steps_counts_updates(void **s)
{
    gf_optimizer *o = make_opt(GF_OPT_MOMENTUM, 0.1);
    float w[N];
    memcpy(w, w_start, sizeof w);
    assert_int_equal(gf_optimizer_steps(o), 0);
    assert_int_equal(gfi_opt_prepare(o, N), GF_OK);
    for (int st = 0; st < 3; st++) {
        gfi_opt_update(o, w, grads[st], N);
        assert_int_equal(gf_optimizer_steps(o), st + 1);
    }
    gf_optimizer_destroy(o);
}

/* Every rule is linear in lr given the state, so after an identical first
 * step, halving lr must halve the second step (float: 1e-6 absolute). */
static void test_changing_lr_between_steps_takes_effect_on_next_step(void **s)
{
    for (int k = 0; k < NKINDS; k++) {
        gf_optimizer *a = make_opt(all_kinds[k], 0.1), *b = make_opt(all_kinds[k], 0.1);
        float wa[N], wb[N];
        memcpy(wa, w_start, sizeof wa);
        memcpy(wb, w_start, sizeof wb);
        assert_int_equal(gfi_opt_prepare(a, N), GF_OK);
        assert_int_equal(gfi_opt_prepare(b, N), GF_OK);
        gfi_opt_update(a, wa, grads[0], N);
        gfi_opt_update(b, wb, grads[0], N);
        assert_memory_equal(wa, wb, sizeof wa);

        float before[N];
        memcpy(before, wa, sizeof before);
        set_ok(b, GF_OPT_LR, 0.05);
        gfi_opt_update(a, wa, grads[1], N);
        gfi_opt_update(b, wb, grads[1], N);
        for (int i = 0; i < N; i++) {
            double da = (double)wa[i] - before[i], db = (double)wb[i] - before[i];
            if (fabs(db - 0.5 * da) > 1e-6)
                fail_msg("kind %d w[%d]: step with lr 0.05 is %g, half the lr 0.1 step is %g", (int)all_kinds[k],
                         i, db, 0.5 * da);
        }
        gf_optimizer_destroy(a);
        gf_optimizer_destroy(b);
    }
}

/* ------------------------------------------------------------------ */
/* AdamW versus Adam with L2                                           */
/* ------------------------------------------------------------------ */

/* With a gradient independent of w, AdamW's step is Adam's (no decay) plus
 * exactly -lr*wd*w: the decay bypasses the moments. */
static void test_adamw_step_is_adam_step_minus_lr_wd_w(void **s)
{
    const double lr = 0.1, wd = 0.2;
    gf_optimizer *adamw = make_opt(GF_OPT_ADAMW, lr), *adam = make_opt(GF_OPT_ADAM, lr);
    set_ok(adamw, GF_OPT_WEIGHT_DECAY, wd);
    float ww[N], wa[N];
    memcpy(ww, w_start, sizeof ww);
    memcpy(wa, w_start, sizeof wa);
    assert_int_equal(gfi_opt_prepare(adamw, N), GF_OK);
    assert_int_equal(gfi_opt_prepare(adam, N), GF_OK);
    gfi_opt_update(adamw, ww, grads[0], N);
    gfi_opt_update(adam, wa, grads[0], N);
    for (int i = 0; i < N; i++)
        assert_true(fabs(((double)ww[i] - wa[i]) - (-lr * wd * w_start[i])) <= 1e-6);
    gf_optimizer_destroy(adamw);
    gf_optimizer_destroy(adam);
}

/* Where the loss gradient is 0, Adam+L2 normalises wd*w into a full
 * lr-sized step, while AdamW shrinks w by only lr*wd*w. */
static void test_adam_l2_decay_is_normalised_but_adamw_decay_is_not(void **s)
{
    const double lr = 0.01, wd = 0.1;
    gf_optimizer *adamw = make_opt(GF_OPT_ADAMW, lr), *adam = make_opt(GF_OPT_ADAM, lr);
    set_ok(adamw, GF_OPT_WEIGHT_DECAY, wd);
    set_ok(adam, GF_OPT_WEIGHT_DECAY, wd);
    float ww[1] = {2.0f}, wa[1] = {2.0f};
    const float g[1] = {0.0f};
    assert_int_equal(gfi_opt_prepare(adamw, 1), GF_OK);
    assert_int_equal(gfi_opt_prepare(adam, 1), GF_OK);
    gfi_opt_update(adamw, ww, g, 1);
    gfi_opt_update(adam, wa, g, 1);
    assert_true(fabs((double)wa[0] - (2.0 - lr)) <= 1e-6);           /* ~ 1.99 */
    assert_true(fabs((double)ww[0] - (2.0 - lr * wd * 2.0)) <= 1e-6); /* 1.998 */
    gf_optimizer_destroy(adamw);
    gf_optimizer_destroy(adam);
}

/* ------------------------------------------------------------------ */
/* Allocation                                                          */
/* ------------------------------------------------------------------ */

static int alloc_calls;
static int fail_after = -1; /* allocations allowed before failing; -1 never */

static void *count_malloc(void *u, size_t n)
{
    (void)u;
    if (fail_after == 0)
        return NULL;
    if (fail_after > 0)
        fail_after--;
    alloc_calls++;
    return malloc(n);
}
static void *count_realloc(void *u, void *p, size_t n)
{
    (void)u;
    alloc_calls++;
    return realloc(p, n);
}
static void count_free(void *u, void *p)
{
    (void)u;
    free(p);
}

static void use_counting_allocator(void)
{
    alloc_calls = 0;
    fail_after = -1;
    assert_int_equal(gf_set_allocator(count_malloc, count_realloc, count_free, NULL), GF_OK);
}

static void restore_allocator(void)
{
    assert_int_equal(gf_live_allocations(), 0);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

static void test_update_allocates_nothing(void **s)
{
    use_counting_allocator();
    for (int k = 0; k < NKINDS; k++) {
        gf_optimizer *o = make_opt(all_kinds[k], 0.1);
        set_ok(o, GF_OPT_WEIGHT_DECAY, 0.01);
        float w[N];
        memcpy(w, w_start, sizeof w);
        assert_int_equal(gfi_opt_prepare(o, N), GF_OK);
        int before = alloc_calls;
        for (int st = 0; st < 10; st++)
            gfi_opt_update(o, w, grads[st % 3], N);
        assert_int_equal(alloc_calls, before);
        gf_optimizer_destroy(o);
    }
    restore_allocator();
}

static void test_prepare_allocates_only_the_buffers_the_kind_needs(void **s)
{
    /* m: velocity or first moment; v: running squares. */
    static const bool want_m[NKINDS] = {false, true, true, false, false, true, true};
    static const bool want_v[NKINDS] = {false, false, false, true, true, true, true};
    for (int k = 0; k < NKINDS; k++) {
        int64_t live = gf_live_allocations();
        gf_optimizer *o = make_opt(all_kinds[k], 0.1);
        assert_int_equal(gfi_opt_prepare(o, N), GF_OK);
        assert_int_equal(o->m != NULL, want_m[k]);
        assert_int_equal(o->v != NULL, want_v[k]);
        assert_int_equal(gf_live_allocations(), live + 1 + want_m[k] + want_v[k]);
        for (size_t i = 0; i < N; i++) {
            if (o->m)
                assert_true(o->m[i] == 0.0f);
            if (o->v)
                assert_true(o->v[i] == 0.0f);
        }
        gf_optimizer_destroy(o);
        assert_int_equal(gf_live_allocations(), live);
    }
}

static void test_prepare_is_noop_when_already_sized(void **s)
{
    use_counting_allocator();
    gf_optimizer *o = make_opt(GF_OPT_ADAM, 0.1);
    assert_int_equal(gfi_opt_prepare(o, N), GF_OK);
    float *m = o->m, *v = o->v, w[N];
    memcpy(w, w_start, sizeof w);
    gfi_opt_update(o, w, grads[0], N);
    float m0 = m[0];
    int before = alloc_calls;
    assert_int_equal(gfi_opt_prepare(o, N), GF_OK);
    assert_int_equal(alloc_calls, before);
    assert_ptr_equal(o->m, m);
    assert_ptr_equal(o->v, v);
    assert_true(o->m[0] == m0); /* state kept */
    assert_int_equal(gf_optimizer_steps(o), 1);
    gf_optimizer_destroy(o);
    restore_allocator();
}

static void test_prepare_with_new_size_reallocates_zeroed(void **s)
{
    gf_optimizer *o = make_opt(GF_OPT_ADAM, 0.1);
    float w[N];
    memcpy(w, w_start, sizeof w);
    assert_int_equal(gfi_opt_prepare(o, N), GF_OK);
    gfi_opt_update(o, w, grads[0], N);
    assert_int_equal(gfi_opt_prepare(o, 2 * N), GF_OK);
    assert_int_equal(o->nparams, 2 * N);
    for (size_t i = 0; i < 2 * N; i++) {
        assert_true(o->m[i] == 0.0f);
        assert_true(o->v[i] == 0.0f);
    }
    assert_int_equal(gf_optimizer_steps(o), 0);
    gf_optimizer_destroy(o);
}

/* fail_at: how many allocations of the resize succeed before one fails. */
static void check_prepare_failure_changes_nothing(int fail_at)
{
    use_counting_allocator();
    gf_optimizer *o = make_opt(GF_OPT_ADAM, 0.1);
    float w[N];
    memcpy(w, w_start, sizeof w);
    assert_int_equal(gfi_opt_prepare(o, N), GF_OK);
    gfi_opt_update(o, w, grads[0], N);
    float *m = o->m, *v = o->v, m0 = o->m[0], v0 = o->v[0];
    int64_t live = gf_live_allocations();
    fail_after = fail_at;
    assert_int_equal(gfi_opt_prepare(o, 2 * N), GF_ERR_NOMEM);
    fail_after = -1;
    assert_int_equal(gf_live_allocations(), live);
    assert_ptr_equal(o->m, m);
    assert_ptr_equal(o->v, v);
    assert_int_equal(o->nparams, N);
    assert_true(o->m[0] == m0 && o->v[0] == v0);
    assert_int_equal(gf_optimizer_steps(o), 1);
    gf_optimizer_destroy(o);
    restore_allocator();
}

static void test_prepare_failure_on_first_buffer_changes_nothing(void **s)
{
    check_prepare_failure_changes_nothing(0);
}
static void test_prepare_failure_on_second_buffer_changes_nothing(void **s)
{
    check_prepare_failure_changes_nothing(1);
}

static void test_update_without_prepare_changes_nothing(void **s)
{
    gf_optimizer *o = make_opt(GF_OPT_MOMENTUM, 0.1);
    float w[N];
    memcpy(w, w_start, sizeof w);
    gfi_opt_update(o, w, grads[0], N);
    assert_memory_equal(w, w_start, sizeof w);
    assert_int_equal(gf_optimizer_steps(o), 0);
    gf_optimizer_destroy(o);
}

static void test_create_fails_cleanly_when_out_of_memory(void **s)
{
    use_counting_allocator();
    gf_optimizer *sentinel = &sentinel_opt, *o = sentinel; /* must stay untouched */
    fail_after = 0;
    assert_int_equal(gf_optimizer_create(&o, GF_OPT_SGD, 0.1), GF_ERR_NOMEM);
    fail_after = -1;
    assert_ptr_equal(o, sentinel);
    restore_allocator();
}

/* ------------------------------------------------------------------ */
/* Parameters                                                          */
/* ------------------------------------------------------------------ */

static void test_defaults_follow_pytorch(void **s)
{
    gf_optimizer *mom = make_opt(GF_OPT_MOMENTUM, 0.1), *rms = make_opt(GF_OPT_RMSPROP, 0.1),
                 *ada = make_opt(GF_OPT_ADAGRAD, 0.1), *adam = make_opt(GF_OPT_ADAM, 0.1),
                 *adamw = make_opt(GF_OPT_ADAMW, 0.1), *sgd = make_opt(GF_OPT_SGD, 0.25);
    assert_true(get_ok(sgd, GF_OPT_LR) == 0.25);
    assert_true(get_ok(sgd, GF_OPT_WEIGHT_DECAY) == 0.0);
    assert_true(get_ok(mom, GF_OPT_MOMENTUM_MU) == 0.9);
    assert_true(get_ok(rms, GF_OPT_RHO) == 0.99);
    assert_true(get_ok(rms, GF_OPT_EPS) == 1e-8);
    assert_true(get_ok(ada, GF_OPT_EPS) == 1e-10);
    assert_true(get_ok(adam, GF_OPT_BETA1) == 0.9);
    assert_true(get_ok(adam, GF_OPT_BETA2) == 0.999);
    assert_true(get_ok(adam, GF_OPT_EPS) == 1e-8);
    assert_true(get_ok(adam, GF_OPT_WEIGHT_DECAY) == 0.0);
    assert_true(get_ok(adamw, GF_OPT_WEIGHT_DECAY) == 0.01);
    gf_optimizer *all[] = {mom, rms, ada, adam, adamw, sgd};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        gf_optimizer_destroy(all[i]);
}

static void test_kind_reports_the_created_kind(void **s)
{
    for (int k = 0; k < NKINDS; k++) {
        gf_optimizer *o = make_opt(all_kinds[k], 0.1);
        assert_int_equal(gf_optimizer_kind(o), all_kinds[k]);
        gf_optimizer_destroy(o);
    }
}

static void test_set_then_get_returns_the_value(void **s)
{
    gf_optimizer *o = make_opt(GF_OPT_RMSPROP, 0.1);
    set_ok(o, GF_OPT_RHO, 0.0);
    set_ok(o, GF_OPT_EPS, 1e-3);
    set_ok(o, GF_OPT_LR, 3.0);
    set_ok(o, GF_OPT_WEIGHT_DECAY, 0.5);
    assert_true(get_ok(o, GF_OPT_RHO) == 0.0);
    assert_true(get_ok(o, GF_OPT_EPS) == 1e-3);
    assert_true(get_ok(o, GF_OPT_LR) == 3.0);
    assert_true(get_ok(o, GF_OPT_WEIGHT_DECAY) == 0.5);
    gf_optimizer_destroy(o);
}

static void test_set_rejects_out_of_domain_values_and_keeps_old_value(void **s)
{
    static const struct {
        int32_t kind, param;
        double bad;
    } cases[] = {
        {GF_OPT_SGD, GF_OPT_LR, 1e39},
        {GF_OPT_SGD, GF_OPT_LR, -0.1},
        {GF_OPT_SGD, GF_OPT_LR, NAN},
        {GF_OPT_SGD, GF_OPT_LR, INFINITY},
        {GF_OPT_MOMENTUM, GF_OPT_MOMENTUM_MU, 1.0},
        {GF_OPT_NESTEROV, GF_OPT_MOMENTUM_MU, -0.01},
        {GF_OPT_MOMENTUM, GF_OPT_MOMENTUM_MU, NAN},
        {GF_OPT_ADAM, GF_OPT_BETA1, 1.0},
        {GF_OPT_ADAM, GF_OPT_BETA1, -1e-9},
        {GF_OPT_ADAMW, GF_OPT_BETA2, 1.0},
        {GF_OPT_ADAM, GF_OPT_BETA2, NAN},
        {GF_OPT_ADAM, GF_OPT_EPS, 0.0},
        {GF_OPT_ADAGRAD, GF_OPT_EPS, -1e-8},
        {GF_OPT_RMSPROP, GF_OPT_EPS, INFINITY},
        {GF_OPT_RMSPROP, GF_OPT_RHO, 1.0},
        {GF_OPT_RMSPROP, GF_OPT_RHO, -0.5},
        {GF_OPT_SGD, GF_OPT_WEIGHT_DECAY, -0.01},
        {GF_OPT_ADAMW, GF_OPT_WEIGHT_DECAY, NAN},
        {GF_OPT_ADAGRAD, GF_OPT_WEIGHT_DECAY, INFINITY},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        gf_optimizer *o = make_opt(cases[c].kind, 0.1);
        double before = get_ok(o, cases[c].param);
        gf_clear_error();
        assert_int_equal(gf_optimizer_set(o, cases[c].param, cases[c].bad), GF_ERR_INVALID);
        assert_non_null(strstr(gf_last_error(), "gf_optimizer_set"));
        assert_true(get_ok(o, cases[c].param) == before);
        gf_optimizer_destroy(o);
    }
}

static void test_set_rejects_a_parameter_the_kind_does_not_use(void **s)
{
    static const struct {
        int32_t kind, param;
    } cases[] = {
        {GF_OPT_SGD, GF_OPT_MOMENTUM_MU}, {GF_OPT_SGD, GF_OPT_EPS},       {GF_OPT_MOMENTUM, GF_OPT_BETA1},
        {GF_OPT_RMSPROP, GF_OPT_BETA2},   {GF_OPT_ADAGRAD, GF_OPT_RHO},   {GF_OPT_ADAM, GF_OPT_MOMENTUM_MU},
        {GF_OPT_ADAMW, GF_OPT_RHO},       {GF_OPT_NESTEROV, GF_OPT_EPS},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        gf_optimizer *o = make_opt(cases[c].kind, 0.1);
        assert_int_equal(gf_optimizer_set(o, cases[c].param, 0.5), GF_ERR_INVALID);
        assert_non_null(strstr(gf_last_error(), "does not apply"));
        double x = 42;
        assert_int_equal(gf_optimizer_get(o, cases[c].param, &x), GF_ERR_INVALID);
        assert_true(x == 42);
        gf_optimizer_destroy(o);
    }
}

static void test_set_and_get_reject_unknown_parameter(void **s)
{
    gf_optimizer *o = make_opt(GF_OPT_ADAM, 0.1);
    double x = 42;
    assert_int_equal(gf_optimizer_set(o, 7, 0.5), GF_ERR_INVALID);
    assert_int_equal(gf_optimizer_set(o, -1, 0.5), GF_ERR_INVALID);
    assert_int_equal(gf_optimizer_get(o, 7, &x), GF_ERR_INVALID);
    assert_true(x == 42);
    gf_optimizer_destroy(o);
}

static void test_get_with_null_value_returns_null_error(void **s)
{
    gf_optimizer *o = make_opt(GF_OPT_SGD, 0.1);
    assert_int_equal(gf_optimizer_get(o, GF_OPT_LR, NULL), GF_ERR_NULL);
    gf_optimizer_destroy(o);
}

static void test_create_rejects_unknown_kind_and_leaves_out_unchanged(void **s)
{
    gf_optimizer *sentinel = &sentinel_opt, *o = sentinel;
    assert_int_equal(gf_optimizer_create(&o, 7, 0.1), GF_ERR_INVALID);
    assert_int_equal(gf_optimizer_create(&o, -1, 0.1), GF_ERR_INVALID);
    assert_ptr_equal(o, sentinel);
    assert_non_null(strstr(gf_last_error(), "gf_optimizer_create"));
}

static void test_create_rejects_lr_that_is_negative_or_not_finite(void **s)
{
    const double bad[] = {-1.0, -1e-300, NAN, INFINITY, -INFINITY};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        gf_optimizer *sentinel = &sentinel_opt, *o = sentinel;
        assert_int_equal(gf_optimizer_create(&o, GF_OPT_ADAM, bad[i]), GF_ERR_INVALID);
        assert_ptr_equal(o, sentinel);
    }
}

static void test_create_with_null_out_returns_null_error(void **s)
{
    assert_int_equal(gf_optimizer_create(NULL, GF_OPT_SGD, 0.1), GF_ERR_NULL);
}

/* ------------------------------------------------------------------ */
/* Handles                                                             */
/* ------------------------------------------------------------------ */

static void test_calls_on_null_handle_report_null(void **s)
{
    double x;
    assert_int_equal(gf_optimizer_set(NULL, GF_OPT_LR, 0.1), GF_ERR_NULL);
    assert_int_equal(gf_optimizer_get(NULL, GF_OPT_LR, &x), GF_ERR_NULL);
    assert_int_equal(gf_optimizer_reset(NULL), GF_ERR_NULL);
    assert_int_equal(gf_optimizer_kind(NULL), -1);
    assert_int_equal(gf_optimizer_steps(NULL), -1);
}

static void test_calls_on_wrong_handle_kind_report_kind(void **s)
{
    gf_optimizer fake;
    memset(&fake, 0, sizeof fake);
    fake.magic = GFI_MAGIC_LOSS;
    double x;
    assert_int_equal(gf_optimizer_set(&fake, GF_OPT_LR, 0.1), GF_ERR_KIND);
    assert_int_equal(gf_optimizer_get(&fake, GF_OPT_LR, &x), GF_ERR_KIND);
    assert_int_equal(gf_optimizer_reset(&fake), GF_ERR_KIND);
    assert_int_equal(gf_optimizer_kind(&fake), -1);
    assert_int_equal(gf_optimizer_steps(&fake), -1);
    gf_optimizer_destroy(&fake); /* ignored: not an optimizer */
    assert_int_equal(fake.magic, GFI_MAGIC_LOSS);
}

static void test_destroy_null_is_noop(void **s)
{
    int64_t live = gf_live_allocations();
    gf_optimizer_destroy(NULL);
    assert_int_equal(gf_live_allocations(), live);
}

static void test_destroy_frees_everything(void **s)
{
    int64_t live = gf_live_allocations();
    gf_optimizer *o = make_opt(GF_OPT_ADAM, 0.1);
    assert_int_equal(gfi_opt_prepare(o, N), GF_OK);
    gf_optimizer_destroy(o);
    assert_int_equal(gf_live_allocations(), live);
}

static void test_destroy_of_net_owned_optimizer_is_noop_until_net_frees_it(void **s)
{
    static gf_net fake_net;
    int64_t live = gf_live_allocations();
    gf_optimizer *o = make_opt(GF_OPT_ADAM, 0.1);
    assert_int_equal(gfi_opt_prepare(o, N), GF_OK);
    o->owner = &fake_net;
    gf_optimizer_destroy(o);
    assert_int_equal(gf_live_allocations(), live + 3);
    assert_int_equal(gf_optimizer_kind(o), GF_OPT_ADAM); /* still a live handle */
    gfi_opt_destroy_owned(o);
    assert_int_equal(gf_live_allocations(), live);
}

static void test_values_outside_float_range_are_refused(void **state)
{
    (void)state;
    gf_optimizer *o;
    assert_int_equal(gf_optimizer_create(&o, GF_OPT_ADAM, 1e39), GF_ERR_INVALID);
    assert_int_equal(gf_optimizer_create(&o, GF_OPT_ADAM, 1e-3), GF_OK);
    assert_int_equal(gf_optimizer_set(o, GF_OPT_LR, 1e39), GF_ERR_INVALID);  /* would be Inf in float */
    assert_int_equal(gf_optimizer_set(o, GF_OPT_EPS, 1e-50), GF_ERR_INVALID); /* would be 0: 0/0 = NaN */
    assert_int_equal(gf_optimizer_set(o, GF_OPT_WEIGHT_DECAY, 1e39), GF_ERR_INVALID);
    double v;
    assert_int_equal(gf_optimizer_get(o, GF_OPT_LR, &v), GF_OK);
    assert_true(v == 1e-3);
    assert_int_equal(gf_optimizer_get(o, GF_OPT_EPS, &v), GF_OK);
    assert_true(v == 1e-8);
    gf_optimizer_destroy(o);
}

/* PyTorch's optimizers take lr = 0 (they check 0 <= lr): a step at it leaves every weight as it was. */
static void test_a_rate_of_zero_is_accepted_and_a_step_at_it_leaves_the_weights(void **state)
{
    (void)state;
    for (int32_t kind = GF_OPT_SGD; kind <= GF_OPT_ADAMW; kind++) {
        gf_optimizer *o = make_opt(kind, 0.0);
        float w[4] = {0.5f, -1.0f, 2.0f, 0.25f}, w0[4], g[4] = {1.0f, -2.0f, 0.5f, 3.0f};
        memcpy(w0, w, sizeof w);
        assert_int_equal(gfi_opt_prepare(o, 4), GF_OK);
        gfi_opt_update(o, w, g, 4);
        assert_memory_equal(w, w0, sizeof w);
        gf_optimizer_destroy(o);
    }
}

/* A decaying schedule passes through the denormals: such a rate is held, and the update reads it as 0. */
static void test_a_denormal_rate_is_accepted_and_acts_as_zero(void **state)
{
    (void)state;
    gf_optimizer *o = make_opt(GF_OPT_SGD, 0.1);
    set_ok(o, GF_OPT_LR, 1e-40);
    assert_true(get_ok(o, GF_OPT_LR) == 1e-40);
    float w[2] = {0.5f, -1.0f}, g[2] = {1.0f, -2.0f};
    gfi_opt_update(o, w, g, 2);
    assert_true(w[0] == 0.5f && w[1] == -1.0f);
    gf_optimizer_destroy(o);
}

/* The message states the rule that was broken, not a stricter one. */
static void test_a_refused_rate_names_the_accepted_range(void **state)
{
    (void)state;
    gf_optimizer *o = NULL;
    gf_clear_error();
    assert_int_equal(gf_optimizer_create(&o, GF_OPT_SGD, -1e-3), GF_ERR_INVALID);
    assert_non_null(strstr(gf_last_error(), "lr must be in [0, 3.4e38]"));
    assert_null(o);
}

int main(void)
{
    /* Tests that swap the allocator come first: gf_set_allocator needs no
     * live allocations, which a failed test elsewhere could leave behind. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_update_allocates_nothing),
        cmocka_unit_test(test_prepare_is_noop_when_already_sized),
        cmocka_unit_test(test_prepare_failure_on_first_buffer_changes_nothing),
        cmocka_unit_test(test_prepare_failure_on_second_buffer_changes_nothing),
        cmocka_unit_test(test_create_fails_cleanly_when_out_of_memory),
        cmocka_unit_test(test_sgd_matches_reference_over_three_steps),
        cmocka_unit_test(test_momentum_matches_reference_over_three_steps),
        cmocka_unit_test(test_nesterov_matches_reference_over_three_steps),
        cmocka_unit_test(test_rmsprop_matches_reference_over_three_steps),
        cmocka_unit_test(test_adagrad_matches_reference_over_three_steps),
        cmocka_unit_test(test_adam_matches_reference_over_three_steps),
        cmocka_unit_test(test_adamw_matches_reference_over_three_steps),
        cmocka_unit_test(test_vanished_adam_moment_is_flushed_to_zero_not_left_denormal),
        cmocka_unit_test(test_vanished_adam_moment_is_flushed_to_zero_on_two_threads),
        cmocka_unit_test(test_update_leaves_the_callers_floating_point_mode_unchanged),
        cmocka_unit_test(test_sgd_converges_on_quadratic),
        cmocka_unit_test(test_momentum_converges_on_quadratic),
        cmocka_unit_test(test_nesterov_converges_on_quadratic),
        cmocka_unit_test(test_rmsprop_converges_on_quadratic),
        cmocka_unit_test(test_adagrad_converges_on_quadratic),
        cmocka_unit_test(test_adam_converges_on_quadratic),
        cmocka_unit_test(test_adamw_converges_on_quadratic),
        cmocka_unit_test(test_reset_makes_next_step_bit_identical_to_fresh_optimizer),
        cmocka_unit_test(test_reset_keeps_buffers_and_hyperparameters),
        cmocka_unit_test(test_steps_counts_updates),
        cmocka_unit_test(test_changing_lr_between_steps_takes_effect_on_next_step),
        cmocka_unit_test(test_adamw_step_is_adam_step_minus_lr_wd_w),
        cmocka_unit_test(test_adam_l2_decay_is_normalised_but_adamw_decay_is_not),
        cmocka_unit_test(test_prepare_allocates_only_the_buffers_the_kind_needs),
        cmocka_unit_test(test_prepare_with_new_size_reallocates_zeroed),
        cmocka_unit_test(test_update_without_prepare_changes_nothing),
        cmocka_unit_test(test_defaults_follow_pytorch),
        cmocka_unit_test(test_kind_reports_the_created_kind),
        cmocka_unit_test(test_set_then_get_returns_the_value),
        cmocka_unit_test(test_set_rejects_out_of_domain_values_and_keeps_old_value),
        cmocka_unit_test(test_set_rejects_a_parameter_the_kind_does_not_use),
        cmocka_unit_test(test_set_and_get_reject_unknown_parameter),
        cmocka_unit_test(test_get_with_null_value_returns_null_error),
        cmocka_unit_test(test_create_rejects_unknown_kind_and_leaves_out_unchanged),
        cmocka_unit_test(test_create_rejects_lr_that_is_negative_or_not_finite),
        cmocka_unit_test(test_create_with_null_out_returns_null_error),
        cmocka_unit_test(test_calls_on_null_handle_report_null),
        cmocka_unit_test(test_calls_on_wrong_handle_kind_report_kind),
        cmocka_unit_test(test_destroy_null_is_noop),
        cmocka_unit_test(test_destroy_frees_everything),
        cmocka_unit_test(test_destroy_of_net_owned_optimizer_is_noop_until_net_frees_it),
        cmocka_unit_test(test_values_outside_float_range_are_refused),
        cmocka_unit_test(test_a_rate_of_zero_is_accepted_and_a_step_at_it_leaves_the_weights),
        cmocka_unit_test(test_a_denormal_rate_is_accepted_and_acts_as_zero),
        cmocka_unit_test(test_a_refused_rate_names_the_accepted_range),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
