/*
 * test_penalty.c — specification of the L1/L2 penalty: value and gradient by
 * hand and against finite differences, sign(0) = 0, double accumulation,
 * argument validation and the handle's life cycle.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static gf_penalty *make_penalty(double l1, double l2)
{
    gf_penalty *p = NULL;
    assert_int_equal(gf_penalty_create(&p, l1, l2), GF_OK);
    assert_non_null(p);
    return p;
}

static void assert_near(double got, double want, double tol)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("got %.17g, want %.17g (tol %g)", got, want, tol);
}

static void test_value_matches_hand_computation(void **state)
{
    gfi_penalty c = {.l1 = 0.1, .l2 = 0.5, .include_bias = 0};
    const float w[4] = {1.0f, -2.0f, 0.0f, 3.0f};
    /* 0.1 * (1 + 2 + 0 + 3) + 0.5 * 0.5 * (1 + 4 + 0 + 9) = 0.6 + 3.5 */
    assert_near(gfi_penalty_value(&c, w, 4), 4.1, 1e-12);
}

static void test_gradient_adds_l1_sign_and_l2_weight_by_hand(void **state)
{
    gfi_penalty c = {.l1 = 0.25, .l2 = 0.5, .include_bias = 0};
    const float w[4] = {1.0f, -2.0f, 0.0f, 3.0f};
    float g[4] = {1.0f, 1.0f, 1.0f, 1.0f};
    gfi_penalty_grad(&c, w, g, 4);
    /* 1 + 0.25 sign(w) + 0.5 w; sign(0) = 0 */
    const float want[4] = {1.75f, -0.25f, 1.0f, 2.75f};
    for (int i = 0; i < 4; i++)
        assert_true(g[i] == want[i]);
}

/*
 * Central differences in double: weights are multiples of 2^-16 at least
 * 0.05 from 0 and the step is 2^-12, so w +- h is exact in float and never
 * crosses the kink.  The penalty is then quadratic around each point, so the
 * quotient is exact up to rounding; tolerance 1e-6 norm-wise relative.
 */
static void test_gradient_matches_finite_differences_away_from_zero(void **state)
{
    enum { N = 64 };
    const double h = 1.0 / 4096.0, tol = 1e-6;
    gfi_penalty c = {.l1 = 0.3, .l2 = 0.7, .include_bias = 0};
    gfi_rng r;
    gfi_rng_seed(&r, 11);
    float w[N], g[N] = {0};
    for (int i = 0; i < N; i++) {
        double m = 0.05 + 1.95 * gfi_rng_uniform(&r);
        w[i] = (float)(round((gfi_rng_uniform(&r) < 0.5 ? -m : m) * 65536.0) / 65536.0);
    }
    gfi_penalty_grad(&c, w, g, N);
    double diff2 = 0.0, ref2 = 0.0;
    for (int i = 0; i < N; i++) {
        float x = w[i];
        w[i] = (float)(x + h);
        double up = gfi_penalty_value(&c, w, N);
        w[i] = (float)(x - h);
        double down = gfi_penalty_value(&c, w, N);
        w[i] = x;
        double fd = (up - down) / (2.0 * h);
        diff2 += (g[i] - fd) * (g[i] - fd);
        ref2 += fd * fd;
    }
    double err = sqrt(diff2 / ref2);
    if (!(err <= tol))
        fail_msg("relative gradient error %g exceeds %g", err, tol);
}

static void test_zero_weight_gets_zero_gradient(void **state)
{
    gfi_penalty c = {.l1 = 1.0, .l2 = 1.0, .include_bias = 0};
    const float w[3] = {0.0f, -0.0f, 0.0f};
    float g[3] = {0.0f, 0.0f, 0.0f};
    gfi_penalty_grad(&c, w, g, 3);
    for (int i = 0; i < 3; i++)
        assert_true(g[i] == 0.0f);
    assert_true(gfi_penalty_value(&c, w, 3) == 0.0);
}

static void test_value_accumulates_in_double_without_overflow(void **state)
{
    enum { N = 1024 };
    static float w[N];
    for (int i = 0; i < N; i++)
        w[i] = 2e19f; /* w^2 = 4e38 overflows float */
    gfi_penalty c = {.l1 = 0.0, .l2 = 1.0, .include_bias = 0};
    double v = gfi_penalty_value(&c, w, N);
    double want = 0.5 * N * (double)2e19f * (double)2e19f;
    assert_true(isfinite(v));
    assert_near(v / want, 1.0, 1e-12);
}

static void test_zero_strengths_leave_gradient_unchanged_and_are_inactive(void **state)
{
    gfi_penalty c = {.l1 = 0.0, .l2 = 0.0, .include_bias = 0};
    const float w[2] = {1.5f, -3.0f};
    float g[2] = {0.5f, -0.5f};
    gfi_penalty_grad(&c, w, g, 2);
    assert_true(g[0] == 0.5f && g[1] == -0.5f);
    assert_true(gfi_penalty_value(&c, w, 2) == 0.0);
    assert_false(gfi_penalty_active(&c));
}

static void test_active_with_any_positive_strength(void **state)
{
    gfi_penalty l1 = {.l1 = 1e-6, .l2 = 0.0, .include_bias = 0};
    gfi_penalty l2 = {.l1 = 0.0, .l2 = 1e-6, .include_bias = 0};
    assert_true(gfi_penalty_active(&l1));
    assert_true(gfi_penalty_active(&l2));
}

static void test_create_stores_strengths_and_excludes_bias_by_default(void **state)
{
    gf_penalty *p = make_penalty(0.01, 0.002);
    double l1 = 0, l2 = 0;
    int32_t bias = -1;
    assert_int_equal(gf_penalty_get(p, &l1, &l2, &bias), GF_OK);
    assert_true(l1 == 0.01 && l2 == 0.002);
    assert_int_equal(bias, 0);
    gf_penalty_destroy(p);
}

static void test_create_rejects_negative_and_nonfinite_strengths(void **state)
{
    int64_t before = gf_live_allocations();
    const double bad[] = {-1e-9, -1.0, NAN, INFINITY, -INFINITY};
    gf_penalty *p = (gf_penalty *)&p; /* any non-NULL marker */
    gf_penalty *const marker = p;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(gf_penalty_create(&p, bad[i], 0.1), GF_ERR_INVALID);
        assert_int_equal(gf_penalty_create(&p, 0.1, bad[i]), GF_ERR_INVALID);
    }
    assert_ptr_equal(p, marker);
    assert_int_equal(gf_live_allocations(), before);
}

static void test_create_rejects_null_out(void **state)
{
    assert_int_equal(gf_penalty_create(NULL, 0.1, 0.1), GF_ERR_NULL);
}

static void test_get_accepts_null_outputs(void **state)
{
    gf_penalty *p = make_penalty(0.5, 0.25);
    double l2 = 0;
    assert_int_equal(gf_penalty_get(p, NULL, NULL, NULL), GF_OK);
    assert_int_equal(gf_penalty_get(p, NULL, &l2, NULL), GF_OK);
    assert_true(l2 == 0.25);
    gf_penalty_destroy(p);
}

static void test_set_include_bias_accepts_0_and_1_only(void **state)
{
    gf_penalty *p = make_penalty(0.1, 0.0);
    int32_t bias = -1;
    assert_int_equal(gf_penalty_set_include_bias(p, 1), GF_OK);
    assert_int_equal(gf_penalty_get(p, NULL, NULL, &bias), GF_OK);
    assert_int_equal(bias, 1);
    assert_int_equal(gf_penalty_set_include_bias(p, 2), GF_ERR_INVALID);
    assert_int_equal(gf_penalty_set_include_bias(p, -1), GF_ERR_INVALID);
    assert_int_equal(gf_penalty_get(p, NULL, NULL, &bias), GF_OK);
    assert_int_equal(bias, 1);
    assert_int_equal(gf_penalty_set_include_bias(p, 0), GF_OK);
    assert_int_equal(gf_penalty_get(p, NULL, NULL, &bias), GF_OK);
    assert_int_equal(bias, 0);
    gf_penalty_destroy(p);
}

static void test_calls_reject_null_and_wrong_handle(void **state)
{
    gf_penalty fake;
    memset(&fake, 0, sizeof fake);
    fake.magic = GFI_MAGIC_LOSS;
    double l1 = -7;
    assert_int_equal(gf_penalty_set_include_bias(NULL, 1), GF_ERR_NULL);
    assert_int_equal(gf_penalty_get(NULL, &l1, NULL, NULL), GF_ERR_NULL);
    assert_int_equal(gf_penalty_set_include_bias(&fake, 1), GF_ERR_KIND);
    assert_int_equal(gf_penalty_get(&fake, &l1, NULL, NULL), GF_ERR_KIND);
    assert_true(l1 == -7);
    assert_int_equal(fake.cfg.include_bias, 0);
    gf_penalty_destroy(&fake); /* not a penalty: left alone */
    assert_int_equal(fake.magic, GFI_MAGIC_LOSS);
}

static void *failing_malloc(void *u, size_t n) { (void)u; (void)n; return NULL; }
static void *plain_realloc(void *u, void *p, size_t n) { (void)u; return realloc(p, n); }
static void plain_free(void *u, void *p) { (void)u; free(p); }

static void test_create_reports_nomem_when_the_allocator_fails(void **state)
{
    assert_int_equal(gf_set_allocator(failing_malloc, plain_realloc, plain_free, NULL), GF_OK);
    gf_penalty *p = NULL;
    int rc = gf_penalty_create(&p, 0.1, 0.1);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
    assert_int_equal(rc, GF_ERR_NOMEM);
    assert_null(p);
}

static void test_destroy_frees_and_null_is_a_noop(void **state)
{
    int64_t before = gf_live_allocations();
    gf_penalty_destroy(NULL);
    gf_penalty *p = make_penalty(0.0, 0.0);
    assert_int_equal(gf_live_allocations(), before + 1);
    gf_penalty_destroy(p);
    assert_int_equal(gf_live_allocations(), before);
}

static void test_strengths_outside_float_range_are_refused(void **state)
{
    (void)state;
    gf_penalty *p = NULL;
    assert_int_equal(gf_penalty_create(&p, 0.0, 1e300), GF_ERR_INVALID);
    assert_int_equal(gf_penalty_create(&p, 1e39, 0.0), GF_ERR_INVALID);
    assert_null(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* First: swapping the allocator needs no live allocations, which a
         * failed test (leaking its handle) elsewhere could break. */
        cmocka_unit_test(test_create_reports_nomem_when_the_allocator_fails),
        cmocka_unit_test(test_value_matches_hand_computation),
        cmocka_unit_test(test_gradient_adds_l1_sign_and_l2_weight_by_hand),
        cmocka_unit_test(test_gradient_matches_finite_differences_away_from_zero),
        cmocka_unit_test(test_zero_weight_gets_zero_gradient),
        cmocka_unit_test(test_value_accumulates_in_double_without_overflow),
        cmocka_unit_test(test_zero_strengths_leave_gradient_unchanged_and_are_inactive),
        cmocka_unit_test(test_active_with_any_positive_strength),
        cmocka_unit_test(test_create_stores_strengths_and_excludes_bias_by_default),
        cmocka_unit_test(test_create_rejects_negative_and_nonfinite_strengths),
        cmocka_unit_test(test_create_rejects_null_out),
        cmocka_unit_test(test_get_accepts_null_outputs),
        cmocka_unit_test(test_set_include_bias_accepts_0_and_1_only),
        cmocka_unit_test(test_calls_reject_null_and_wrong_handle),
        cmocka_unit_test(test_destroy_frees_and_null_is_a_noop),
        cmocka_unit_test(test_strengths_outside_float_range_are_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
