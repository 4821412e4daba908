/* test_init.c — initializer distributions, orthogonality, gains, determinism and the gf_init handle. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "picky_alloc.h"

#define NKINDS 11
/* Large fills: 256 x 512 = 131072 values (fan_in 512, fan_out 256). */
#define ROWS 256
#define COLS 512
#define N ((size_t)ROWS * COLS)

static float big[N];

static gf_init *make(int32_t kind)
{
    gf_init *init = NULL;
    assert_int_equal(gf_init_create(&init, kind), GF_OK);
    assert_non_null(init);
    return init;
}

static void fill_big(const gf_init *init, uint64_t seed)
{
    assert_int_equal(gf_init_fill(init, big, N, ROWS, COLS, seed), GF_OK);
}

/*
 * Sample mean and std (in double) against the documented distribution.
 * Tolerances: |mean - want_mean| <= 5 sd/sqrt(n) (5 standard errors) and
 * |std/want_std - 1| <= 0.02 (the sample std's relative spread is ~1/sqrt(2n)
 * = 0.002 here, so 0.02 is 10 of them).
 */
static void check_stats(const float *x, size_t n, double want_mean, double want_std)
{
    double sum = 0.0, sq = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += x[i];
    double mean = sum / (double)n;
    for (size_t i = 0; i < n; i++)
        sq += (x[i] - mean) * (x[i] - mean);
    double sd = sqrt(sq / (double)(n - 1));
    if (fabs(mean - want_mean) > 5.0 * want_std / sqrt((double)n))
        fail_msg("mean %g, want %g (std %g)", mean, want_mean, want_std);
    if (fabs(sd / want_std - 1.0) > 0.02)
        fail_msg("std %g, want %g", sd, want_std);
}

/* Every value in [lo, hi], and both ends approached to within 1%. */
static void check_bounds(const float *x, size_t n, double lo, double hi)
{
    double mn = INFINITY, mx = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        mn = fmin(mn, x[i]);
        mx = fmax(mx, x[i]);
    }
    if (mn < lo || mx > hi)
        fail_msg("range [%g, %g] outside [%g, %g]", mn, mx, lo, hi);
    if (mn > lo + 0.01 * (hi - lo) || mx < hi - 0.01 * (hi - lo))
        fail_msg("range [%g, %g] does not fill [%g, %g]", mn, mx, lo, hi);
}

/* ---- determinism ---- */

static void test_same_seed_gives_bit_identical_buffers(void **state)
{
    (void)state;
    static float a[64 * 48], b[64 * 48];
    for (int32_t k = 0; k < NKINDS; k++) {
        gf_init *init = make(k);
        memset(a, 0xA5, sizeof a);
        memset(b, 0x5A, sizeof b);
        assert_int_equal(gf_init_fill(init, a, 64 * 48, 64, 48, 1234), GF_OK);
        assert_int_equal(gf_init_fill(init, b, 64 * 48, 64, 48, 1234), GF_OK);
        assert_memory_equal(a, b, sizeof a);
        gf_init_destroy(init);
    }
}

static void test_different_seeds_give_different_buffers(void **state)
{
    (void)state;
    static float a[64 * 48], b[64 * 48];
    for (int32_t k = GF_INIT_UNIFORM; k < NKINDS; k++) {
        gf_init *init = make(k);
        assert_int_equal(gf_init_fill(init, a, 64 * 48, 64, 48, 1), GF_OK);
        assert_int_equal(gf_init_fill(init, b, 64 * 48, 64, 48, 2), GF_OK);
        size_t same = 0;
        for (size_t i = 0; i < 64 * 48; i++)
            same += a[i] == b[i];
        if (same > 10)
            fail_msg("kind %d: %zu equal values across seeds", (int)k, same);
        gf_init_destroy(init);
    }
}

static void test_internal_fill_draws_the_same_as_public_fill(void **state)
{
    (void)state;
    static float a[30 * 20], b[30 * 20];
    gf_init *init = make(GF_INIT_XAVIER_NORMAL);
    gfi_rng rng;
    gfi_rng_seed(&rng, 99);
    assert_int_equal(gfi_init_fill(&init->cfg, a, 30, 20, &rng), GF_OK);
    assert_int_equal(gf_init_fill(init, b, 600, 30, 20, 99), GF_OK);
    assert_memory_equal(a, b, sizeof a);
    gf_init_destroy(init);
}

/* ---- distributions ---- */

static void test_zeros_and_constant_fill_their_value(void **state)
{
    (void)state;
    float buf[12];
    gf_init *z = make(GF_INIT_ZEROS), *c = make(GF_INIT_CONSTANT);
    for (int i = 0; i < 12; i++)
        buf[i] = 3.0f;
    assert_int_equal(gf_init_fill(z, buf, 12, 3, 4, 7), GF_OK);
    for (int i = 0; i < 12; i++)
        assert_true(buf[i] == 0.0f);
    for (int i = 0; i < 12; i++)
        buf[i] = 3.0f;
    assert_int_equal(gf_init_fill(c, buf, 12, 3, 4, 7), GF_OK); /* default a = 0 */
    for (int i = 0; i < 12; i++)
        assert_true(buf[i] == 0.0f);
    assert_int_equal(gf_init_set_range(c, 0.1, 0.0), GF_OK);
    assert_int_equal(gf_init_fill(c, buf, 12, 3, 4, 7), GF_OK);
    for (int i = 0; i < 12; i++)
        assert_true(buf[i] == 0.1f);
    gf_init_destroy(z);
    gf_init_destroy(c);
}

static void test_uniform_defaults_to_zero_one(void **state)
{
    (void)state;
    gf_init *init = make(GF_INIT_UNIFORM);
    fill_big(init, 11);
    check_bounds(big, N, 0.0, 1.0);
    check_stats(big, N, 0.5, 1.0 / sqrt(12.0));
    gf_init_destroy(init);
}

static void test_uniform_respects_its_range(void **state)
{
    (void)state;
    gf_init *init = make(GF_INIT_UNIFORM);
    assert_int_equal(gf_init_set_range(init, -2.0, 5.0), GF_OK);
    fill_big(init, 12);
    check_bounds(big, N, -2.0, 5.0);
    check_stats(big, N, 1.5, 7.0 / sqrt(12.0));
    gf_init_destroy(init);
}

static void test_normal_follows_mean_and_std(void **state)
{
    (void)state;
    gf_init *init = make(GF_INIT_NORMAL);
    fill_big(init, 13);
    check_stats(big, N, 0.0, 1.0); /* default N(0, 1) */
    assert_int_equal(gf_init_set_range(init, -3.0, 0.25), GF_OK);
    fill_big(init, 14);
    check_stats(big, N, -3.0, 0.25);
    gf_init_destroy(init);
}

static void test_xavier_uniform_has_variance_2_gain2_over_fan_sum(void **state)
{
    (void)state;
    gf_init *init = make(GF_INIT_XAVIER_UNIFORM);
    assert_int_equal(gf_init_set_gain(init, 1.5), GF_OK);
    fill_big(init, 15);
    double l = 1.5 * sqrt(6.0 / (COLS + ROWS));
    check_bounds(big, N, -l, l);
    check_stats(big, N, 0.0, 1.5 * sqrt(2.0 / (COLS + ROWS)));
    gf_init_destroy(init);
}

static void test_xavier_normal_has_std_gain_sqrt_2_over_fan_sum(void **state)
{
    (void)state;
    gf_init *init = make(GF_INIT_XAVIER_NORMAL);
    fill_big(init, 16);
    check_stats(big, N, 0.0, sqrt(2.0 / (COLS + ROWS)));
    assert_int_equal(gf_init_set_gain(init, 5.0 / 3.0), GF_OK);
    fill_big(init, 17);
    check_stats(big, N, 0.0, 5.0 / 3.0 * sqrt(2.0 / (COLS + ROWS)));
    gf_init_destroy(init);
}

static void test_he_normal_defaults_to_relu_gain_over_fan_in(void **state)
{
    (void)state;
    gf_init *init = make(GF_INIT_HE_NORMAL);
    fill_big(init, 18);
    check_stats(big, N, 0.0, sqrt(2.0 / COLS));
    gf_init_destroy(init);
}

static void test_he_normal_fan_out_with_gain_has_std_gain_over_sqrt_fan_out(void **state)
{
    (void)state;
    gf_init *init = make(GF_INIT_HE_NORMAL);
    assert_int_equal(gf_init_set_mode(init, GF_FAN_OUT), GF_OK);
    assert_int_equal(gf_init_set_gain(init, 0.75), GF_OK);
    fill_big(init, 19);
    check_stats(big, N, 0.0, 0.75 / sqrt(ROWS));
    gf_init_destroy(init);
}

static void test_he_uniform_bound_is_gain_sqrt_3_over_fan_in_both_modes(void **state)
{
    (void)state;
    gf_init *init = make(GF_INIT_HE_UNIFORM);
    fill_big(init, 20);
    double l = sqrt(2.0) * sqrt(3.0 / COLS);
    check_bounds(big, N, -l, l);
    check_stats(big, N, 0.0, sqrt(2.0 / COLS));
    assert_int_equal(gf_init_set_mode(init, GF_FAN_OUT), GF_OK);
    assert_int_equal(gf_init_set_gain(init, 1.0), GF_OK);
    fill_big(init, 21);
    l = sqrt(3.0 / ROWS);
    check_bounds(big, N, -l, l);
    check_stats(big, N, 0.0, 1.0 / sqrt(ROWS));
    gf_init_destroy(init);
}

static void test_lecun_normal_has_std_one_over_sqrt_fan_in(void **state)
{
    (void)state;
    gf_init *init = make(GF_INIT_LECUN_NORMAL);
    fill_big(init, 22);
    check_stats(big, N, 0.0, 1.0 / sqrt(COLS));
    gf_init_destroy(init);
}

static void test_default_is_uniform_plus_minus_one_over_sqrt_fan_in(void **state)
{
    (void)state;
    gf_init *init = make(GF_INIT_DEFAULT);
    fill_big(init, 23);
    double l = 1.0 / sqrt(COLS);
    check_bounds(big, N, -l, l);
    check_stats(big, N, 0.0, l / sqrt(3.0));
    gf_init_destroy(init);
}

static void test_fill_fan_uses_the_given_fans_for_a_bias(void **state)
{
    (void)state;
    /* A bias of 4096 outputs of a layer with 400 inputs. */
    static float bias[4096];
    gf_init *def = make(GF_INIT_DEFAULT), *xav = make(GF_INIT_XAVIER_UNIFORM);
    gfi_rng rng;
    gfi_rng_seed(&rng, 5);
    assert_int_equal(gfi_init_fill_fan(&def->cfg, bias, 4096, 400, 4096, &rng), GF_OK);
    check_bounds(bias, 4096, -0.05, 0.05);
    assert_int_equal(gfi_init_fill_fan(&xav->cfg, bias, 4096, 400, 4096, &rng), GF_OK);
    check_bounds(bias, 4096, -sqrt(6.0 / 4496.0), sqrt(6.0 / 4496.0));
    gf_init_destroy(def);
    gf_init_destroy(xav);
}

/* ---- orthogonal ---- */

/* Max |(W W^T or W^T W) - gain^2 I|, over the smaller Gram matrix. */
static double gram_error(const float *w, int rows, int cols, double gain)
{
    bool by_rows = rows <= cols;
    int k = by_rows ? rows : cols, m = by_rows ? cols : rows;
    double worst = 0.0;
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) {
            double s = 0.0;
            for (int t = 0; t < m; t++) {
                double a = by_rows ? w[i * cols + t] : w[t * cols + i];
                double b = by_rows ? w[j * cols + t] : w[t * cols + j];
                s += a * b;
            }
            worst = fmax(worst, fabs(s - (i == j ? gain * gain : 0.0)));
        }
    return worst;
}

static void check_orthogonal(int rows, int cols, double gain, uint64_t seed)
{
    gf_init *init = make(GF_INIT_ORTHOGONAL);
    if (gain != 1.0)
        assert_int_equal(gf_init_set_gain(init, gain), GF_OK);
    size_t n = (size_t)rows * (size_t)cols;
    float *w = malloc(n * sizeof *w);
    assert_non_null(w);
    assert_int_equal(gf_init_fill(init, w, n, rows, cols, seed), GF_OK);
    double err = gram_error(w, rows, cols, gain);
    free(w);
    gf_init_destroy(init);
    /* Tolerance 1e-4 * gain^2 (float rounding of the entries gives ~1e-6). */
    if (err > 1e-4 * gain * gain)
        fail_msg("%d x %d gain %g: Gram error %g", rows, cols, gain, err);
}

static void test_orthogonal_square_matrix_has_w_wt_equal_gain2_identity(void **state)
{
    (void)state;
    check_orthogonal(64, 64, 1.0, 31);
    check_orthogonal(64, 64, 1.7, 32);
}

static void test_orthogonal_wide_matrix_has_orthonormal_rows(void **state)
{
    (void)state;
    check_orthogonal(32, 96, 1.0, 33);
    check_orthogonal(1, 50, 2.0, 34);
}

static void test_orthogonal_tall_matrix_has_orthonormal_columns(void **state)
{
    (void)state;
    check_orthogonal(96, 32, 1.0, 35);
    check_orthogonal(50, 1, 0.5, 36);
}

static void test_orthogonal_needs_a_full_matrix(void **state)
{
    (void)state;
    float buf[10];
    gf_init *init = make(GF_INIT_ORTHOGONAL);
    gfi_rng rng;
    gfi_rng_seed(&rng, 1);
    for (int i = 0; i < 10; i++)
        buf[i] = 9.0f;
    assert_int_equal(gfi_init_fill_fan(&init->cfg, buf, 10, 4, 10, &rng), GF_ERR_SHAPE);
    for (int i = 0; i < 10; i++)
        assert_true(buf[i] == 9.0f);
    gf_init_destroy(init);
}

static int64_t fail_after;
static void *failing_malloc(void *u, size_t n)
{
    (void)u;
    return fail_after-- > 0 ? malloc(n) : NULL;
}
static void *plain_realloc(void *u, void *p, size_t n) { (void)u; return realloc(p, n); }
static void plain_free(void *u, void *p) { (void)u; free(p); }

static void test_orthogonal_reports_nomem_and_leaves_the_buffer(void **state)
{
    (void)state;
    float buf[16];
    for (int i = 0; i < 16; i++)
        buf[i] = 9.0f;
    fail_after = 1; /* the handle, then the scratch matrix fails */
    assert_int_equal(gf_set_allocator(failing_malloc, plain_realloc, plain_free, NULL), GF_OK);
    gf_init *init = NULL;
    int create_rc = gf_init_create(&init, GF_INIT_ORTHOGONAL);
    int fill_rc = create_rc == GF_OK ? gf_init_fill(init, buf, 16, 4, 4, 3) : -1;
    gf_init_destroy(init);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
    assert_int_equal(create_rc, GF_OK);
    assert_int_equal(fill_rc, GF_ERR_NOMEM);
    for (int i = 0; i < 16; i++)
        assert_true(buf[i] == 9.0f);
}

/* ---- gains ---- */

/* This cmocka has no assert_double_equal. */
#define assert_close(a, b, tol) assert_true(fabs((a) - (b)) <= (tol))

static void test_gain_table_matches_calculate_gain(void **state)
{
    (void)state;
    assert_true(gf_init_gain(GF_ACT_SIGMOID, 0.0) == 1.0);
    assert_close(gf_init_gain(GF_ACT_TANH, 0.0), 5.0 / 3.0, 1e-15);
    assert_close(gf_init_gain(GF_ACT_RELU, 0.0), 1.4142135623730951, 1e-15);
    assert_close(gf_init_gain(GF_ACT_LEAKY_RELU, 0.01), sqrt(2.0 / 1.0001), 1e-15);
    assert_close(gf_init_gain(GF_ACT_LEAKY_RELU, 1.0), 1.0, 1e-15);
    assert_true(gf_init_gain(GF_ACT_SELU, 0.0) == 0.75);
    assert_true(gf_init_gain(GF_ACT_IDENTITY, 0.0) == 1.0);
    assert_true(gf_init_gain(GF_ACT_ELU, 0.0) == 1.0);
    assert_true(gf_init_gain(GF_ACT_SOFTPLUS, 0.0) == 1.0);
    assert_true(gf_init_gain(GF_ACT_GELU, 0.0) == 1.0);
    assert_true(isnan(gf_init_gain(9, 0.0)));
    assert_true(isnan(gf_init_gain(-1, 0.0)));
}

/* A slope the caller gives is used as given: 0 is the ReLU gain (PyTorch's
 * calculate_gain('leaky_relu', 0) and kaiming_*_ with its default a=0). */
static void test_leaky_gain_of_slope_0_is_the_relu_gain(void **state)
{
    (void)state;
    assert_true(gf_init_gain(GF_ACT_LEAKY_RELU, 0.0) == gf_init_gain(GF_ACT_RELU, 0.0));
}

/* NaN stands for PyTorch's param=None: the activation's default slope, the one
 * a default leaky ReLU layer has. */
static void test_leaky_gain_of_nan_uses_the_default_slope_of_the_activation(void **state)
{
    (void)state;
    gf_activation *act;
    double slope = 0.0;
    assert_int_equal(gf_activation_create(&act, GF_ACT_LEAKY_RELU), GF_OK);
    assert_int_equal(gf_activation_get(act, GF_ACT_PARAM_SLOPE, &slope), GF_OK);
    gf_activation_destroy(act);
    assert_true(slope == 0.01);
    assert_true(gf_init_gain(GF_ACT_LEAKY_RELU, NAN) == gf_init_gain(GF_ACT_LEAKY_RELU, slope));
    assert_close(gf_init_gain(GF_ACT_LEAKY_RELU, NAN), sqrt(2.0 / 1.0001), 1e-15);
    assert_true(gf_init_gain(GF_ACT_RELU, NAN) == gf_init_gain(GF_ACT_RELU, 0.0)); /* ignored elsewhere */
}

static void test_default_gain_is_sqrt2_for_he_and_1_otherwise(void **state)
{
    (void)state;
    for (int32_t k = 0; k < NKINDS; k++) {
        gf_init *init = make(k);
        double want = (k == GF_INIT_HE_UNIFORM || k == GF_INIT_HE_NORMAL) ? sqrt(2.0) : 1.0;
        assert_true(init->cfg.gain == want);
        assert_int_equal(init->cfg.mode, GF_FAN_IN);
        gf_init_destroy(init);
    }
}

/* ---- argument validation: codes, and nothing changes ---- */

static void test_set_range_only_applies_to_constant_uniform_normal(void **state)
{
    (void)state;
    for (int32_t k = 0; k < NKINDS; k++) {
        gf_init *init = make(k);
        gfi_init before = init->cfg;
        int rc = gf_init_set_range(init, -0.5, 0.5);
        bool has = k == GF_INIT_CONSTANT || k == GF_INIT_UNIFORM || k == GF_INIT_NORMAL;
        assert_int_equal(rc, has ? GF_OK : GF_ERR_INVALID);
        if (!has) {
            assert_memory_equal(&before, &init->cfg, sizeof before);
            assert_non_null(strstr(gf_last_error(), "gf_init_set_range"));
        }
        gf_init_destroy(init);
    }
}

static void test_set_range_rejects_out_of_domain_values(void **state)
{
    (void)state;
    gf_init *u = make(GF_INIT_UNIFORM), *nrm = make(GF_INIT_NORMAL), *c = make(GF_INIT_CONSTANT);
    gfi_init bu = u->cfg, bn = nrm->cfg, bc = c->cfg;
    assert_int_equal(gf_init_set_range(u, 1.0, 1.0), GF_ERR_INVALID);
    assert_int_equal(gf_init_set_range(u, 2.0, 1.0), GF_ERR_INVALID);
    assert_int_equal(gf_init_set_range(u, NAN, 1.0), GF_ERR_INVALID);
    assert_int_equal(gf_init_set_range(u, 0.0, INFINITY), GF_ERR_INVALID);
    assert_int_equal(gf_init_set_range(u, -1e39, 0.0), GF_ERR_INVALID); /* beyond float */
    assert_int_equal(gf_init_set_range(nrm, 0.0, -1.0), GF_ERR_INVALID);
    assert_int_equal(gf_init_set_range(nrm, 0.0, 1e38), GF_ERR_INVALID); /* draws would overflow */
    assert_int_equal(gf_init_set_range(c, NAN, 0.0), GF_ERR_INVALID);
    assert_int_equal(gf_init_set_range(c, 1.0, NAN), GF_ERR_INVALID);
    assert_memory_equal(&bu, &u->cfg, sizeof bu);
    assert_memory_equal(&bn, &nrm->cfg, sizeof bn);
    assert_memory_equal(&bc, &c->cfg, sizeof bc);
    assert_int_equal(gf_init_set_range(nrm, 1.0, 0.0), GF_OK); /* std 0 is allowed */
    gf_init_destroy(u);
    gf_init_destroy(nrm);
    gf_init_destroy(c);
}

static void test_set_gain_rejects_nonpositive_nonfinite_and_gainless_kinds(void **state)
{
    (void)state;
    gf_init *x = make(GF_INIT_XAVIER_NORMAL), *u = make(GF_INIT_UNIFORM), *l = make(GF_INIT_LECUN_NORMAL);
    gfi_init bx = x->cfg, bu = u->cfg, bl = l->cfg;
    assert_int_equal(gf_init_set_gain(x, 0.0), GF_ERR_INVALID);
    assert_int_equal(gf_init_set_gain(x, -1.0), GF_ERR_INVALID);
    assert_int_equal(gf_init_set_gain(x, NAN), GF_ERR_INVALID);
    assert_int_equal(gf_init_set_gain(x, INFINITY), GF_ERR_INVALID);
    assert_int_equal(gf_init_set_gain(x, 1e300), GF_ERR_INVALID);
    assert_int_equal(gf_init_set_gain(u, 2.0), GF_ERR_INVALID);
    assert_int_equal(gf_init_set_gain(l, 2.0), GF_ERR_INVALID);
    assert_non_null(strstr(gf_last_error(), "gf_init_set_gain"));
    assert_memory_equal(&bx, &x->cfg, sizeof bx);
    assert_memory_equal(&bu, &u->cfg, sizeof bu);
    assert_memory_equal(&bl, &l->cfg, sizeof bl);
    gf_init_destroy(x);
    gf_init_destroy(u);
    gf_init_destroy(l);
}

static void test_set_mode_accepts_only_fan_in_or_fan_out_on_he(void **state)
{
    (void)state;
    gf_init *he = make(GF_INIT_HE_UNIFORM), *x = make(GF_INIT_XAVIER_UNIFORM);
    gfi_init bhe = he->cfg, bx = x->cfg;
    assert_int_equal(gf_init_set_mode(he, 2), GF_ERR_INVALID);
    assert_int_equal(gf_init_set_mode(he, -1), GF_ERR_INVALID);
    assert_int_equal(gf_init_set_mode(x, GF_FAN_OUT), GF_ERR_INVALID);
    assert_memory_equal(&bhe, &he->cfg, sizeof bhe);
    assert_memory_equal(&bx, &x->cfg, sizeof bx);
    assert_int_equal(gf_init_set_mode(he, GF_FAN_OUT), GF_OK);
    assert_int_equal(he->cfg.mode, GF_FAN_OUT);
    gf_init_destroy(he);
    gf_init_destroy(x);
}

static void test_create_rejects_unknown_kind_and_null_out(void **state)
{
    (void)state;
    gf_init *init = (gf_init *)(uintptr_t)0x1;
    assert_int_equal(gf_init_create(&init, NKINDS), GF_ERR_INVALID);
    assert_int_equal(gf_init_create(&init, -1), GF_ERR_INVALID);
    assert_ptr_equal(init, (gf_init *)(uintptr_t)0x1);
    assert_int_equal(gf_init_create(NULL, GF_INIT_ZEROS), GF_ERR_NULL);
    assert_non_null(strstr(gf_last_error(), "gf_init_create"));
}

static void test_fill_rejects_bad_arguments_and_leaves_the_buffer(void **state)
{
    (void)state;
    float buf[6] = {4, 4, 4, 4, 4, 4};
    gf_init *init = make(GF_INIT_NORMAL);
    assert_int_equal(gf_init_fill(NULL, buf, 6, 2, 3, 1), GF_ERR_NULL);
    assert_int_equal(gf_init_fill(init, NULL, 6, 2, 3, 1), GF_ERR_NULL);
    assert_int_equal(gf_init_fill(init, buf, 5, 2, 3, 1), GF_ERR_SHAPE);
    assert_non_null(strstr(gf_last_error(), "gf_init_fill"));
    assert_int_equal(gf_init_fill(init, buf, 6, 0, 3, 1), GF_ERR_INVALID);
    assert_int_equal(gf_init_fill(init, buf, 6, 2, -3, 1), GF_ERR_INVALID);
    assert_int_equal(gf_init_fill(init, buf, 6, INT64_MAX, INT64_MAX, 1), GF_ERR_OVERFLOW);
    for (int i = 0; i < 6; i++)
        assert_true(buf[i] == 4.0f);
    gf_init_destroy(init);
}

static void test_wrong_handle_kind_is_err_kind_and_null_handle_is_err_null(void **state)
{
    (void)state;
    gf_activation *act = NULL;
    assert_int_equal(gf_activation_create(&act, GF_ACT_RELU), GF_OK);
    gf_init *wrong = (gf_init *)(void *)act;
    float buf[4];
    assert_int_equal(gf_init_fill(wrong, buf, 4, 2, 2, 1), GF_ERR_KIND);
    assert_int_equal(gf_init_set_range(wrong, 0.0, 1.0), GF_ERR_KIND);
    assert_int_equal(gf_init_set_gain(wrong, 1.0), GF_ERR_KIND);
    assert_int_equal(gf_init_set_mode(wrong, GF_FAN_IN), GF_ERR_KIND);
    assert_int_equal(gf_init_set_range(NULL, 0.0, 1.0), GF_ERR_NULL);
    assert_int_equal(gf_init_set_gain(NULL, 1.0), GF_ERR_NULL);
    assert_int_equal(gf_init_set_mode(NULL, GF_FAN_IN), GF_ERR_NULL);
    assert_int_equal(gf_activation_kind(act), GF_ACT_RELU); /* untouched */
    gf_activation_destroy(act);
}

static void test_destroy_null_is_a_no_op(void **state)
{
    (void)state;
    int64_t live = gf_live_allocations();
    gf_init_destroy(NULL);
    assert_int_equal(gf_live_allocations(), live);
}

/* ---- an initializer set on a layer already in a net ---- */

static gf_init *constant(double v)
{
    gf_init *c;
    assert_int_equal(gf_init_create(&c, GF_INIT_CONSTANT), GF_OK);
    assert_int_equal(gf_init_set_range(c, v, v), GF_OK);
    return c;
}

static void test_weight_init_set_on_a_layer_in_a_net_draws_its_weights_again(void **state)
{
    (void)state;
    gf_net *net;
    gf_layer *l;
    assert_int_equal(gf_net_create(&net, 4, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 3, GF_ACT_RELU, &l), GF_OK);
    gf_init *c = constant(0.5);
    assert_int_equal(gf_layer_set_weight_init(l, c), GF_OK);
    gf_init_destroy(c);
    float w[12];
    assert_int_equal(gf_layer_get_weights(l, w, 12), GF_OK);
    for (int i = 0; i < 12; i++)
        assert_true(w[i] == 0.5f);
    gf_net_destroy(net);
}

static void test_bias_init_set_on_a_layer_in_a_net_draws_its_bias_again(void **state)
{
    (void)state;
    gf_net *net;
    gf_layer *l;
    assert_int_equal(gf_net_create(&net, 4, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 3, GF_ACT_RELU, &l), GF_OK);
    gf_init *c = constant(0.1);
    assert_int_equal(gf_layer_set_bias_init(l, c), GF_OK);
    gf_init_destroy(c);
    float b[3];
    assert_int_equal(gf_layer_get_bias(l, b, 3), GF_OK);
    for (int i = 0; i < 3; i++)
        assert_true(b[i] == 0.1f);
    gf_net_destroy(net);
}

static void test_init_set_after_a_forward_makes_backward_wait_for_a_new_forward(void **state)
{
    (void)state;
    gf_net *net;
    gf_layer *l;
    assert_int_equal(gf_net_create(&net, 2, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 1, GF_ACT_IDENTITY, &l), GF_OK);
    const float x[2] = {1, 2}, t[1] = {0};
    assert_int_equal(gf_net_forward(net, x, 2, 1, NULL, 0), GF_OK);
    gf_init *c = constant(0.5);
    assert_int_equal(gf_layer_set_weight_init(l, c), GF_OK);
    gf_init_destroy(c);
    assert_int_equal(gf_net_backward(net, t, 1, NULL), GF_ERR_STATE);
    assert_int_equal(gf_net_forward(net, x, 2, 1, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward(net, t, 1, NULL), GF_OK);
    gf_net_destroy(net);
}

static void test_init_redraw_that_cannot_allocate_keeps_the_weights(void **state)
{
    (void)state;
    assert_int_equal(gf_set_allocator(picky_malloc, picky_realloc, picky_free, NULL), GF_OK);
    gf_net *net;
    gf_layer *l;
    assert_int_equal(gf_net_create(&net, 37, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 41, GF_ACT_RELU, &l), GF_OK);
    float before[37 * 41], after[37 * 41];
    assert_int_equal(gf_layer_get_weights(l, before, 37 * 41), GF_OK);
    gf_init *c = constant(0.5);
    refuse_size = sizeof before; /* the redraw's scratch buffer */
    assert_int_equal(gf_layer_set_weight_init(l, c), GF_ERR_NOMEM);
    refuse_size = 0;
    assert_non_null(strstr(gf_last_error(), "gf_layer_set_weight_init"));
    assert_int_equal(gf_layer_get_weights(l, after, 37 * 41), GF_OK);
    assert_memory_equal(before, after, sizeof before);
    gf_init_destroy(c);
    gf_net_destroy(net);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

/* ---- recurrent blocks: torch.nn.init's fans per tensor ---- */

/* A one-layer recurrent net on T x F (kind GF_LAYER_GRU or _LSTM) whose weights are drawn again with `kind`. */
static gf_layer *recurrent_drawn_with(gf_net **net, int32_t layer_kind, int64_t F, int64_t H, int32_t init_kind)
{
    const int64_t dims[2] = {3, F};
    gf_layer *l;
    assert_int_equal(gf_net_create_shaped(net, GF_SHAPE_SEQUENCE, dims, 2, 5), GF_OK);
    if (layer_kind == GF_LAYER_GRU)
        assert_int_equal(gf_net_add_gru(*net, H, 0, &l), GF_OK);
    else
        assert_int_equal(gf_net_add_lstm(*net, H, 0, &l), GF_OK);
    gf_init *c = make(init_kind);
    assert_int_equal(gf_layer_set_weight_init(l, c), GF_OK);
    gf_init_destroy(c);
    return l;
}

static void read_block(const gf_layer *l, const char *name, size_t count)
{
    int32_t i;
    assert_int_equal(gf_layer_param_block_find(l, name, &i), GF_OK);
    assert_int_equal(gf_layer_param_block_size(l, i), (int64_t)count);
    assert_int_equal(gf_layer_get_param(l, i, big, count), GF_OK);
}

/* nn.init.kaiming_normal_(gru.weight_ih_l0) (90 x 300) has std sqrt(2 / 300): fan_in is the input's 300
 * features, not the 30 hidden units (which drew a variance 10 times PyTorch's). */
static void test_he_on_a_recurrent_input_weight_takes_the_input_features_as_fan_in(void **state)
{
    (void)state;
    gf_net *net;
    gf_layer *l = recurrent_drawn_with(&net, GF_LAYER_GRU, 300, 30, GF_INIT_HE_NORMAL);
    read_block(l, "weight_ih_l0", 90 * 300);
    check_stats(big, 90 * 300, 0.0, sqrt(2.0 / 300.0));
    gf_net_destroy(net);
}

/* nn.init.xavier_uniform_ on an LSTM's 4H x F and 4H x H blocks: variance 2 / (fan_in + 4H) with fan_in F and H. */
static void test_xavier_on_recurrent_blocks_takes_each_tensors_fans(void **state)
{
    (void)state;
    gf_net *net;
    gf_layer *l = recurrent_drawn_with(&net, GF_LAYER_LSTM, 40, 100, GF_INIT_XAVIER_UNIFORM);
    read_block(l, "weight_ih_l0", 400 * 40);
    check_stats(big, 400 * 40, 0.0, sqrt(2.0 / (40.0 + 400.0)));
    read_block(l, "weight_hh_l0", 400 * 100);
    check_stats(big, 400 * 100, 0.0, sqrt(2.0 / (100.0 + 400.0)));
    gf_net_destroy(net);
}

/* PyTorch's reset of nn.GRU draws every block from U(-1/sqrt(H), 1/sqrt(H)), the input weight too. */
static void test_default_init_of_every_recurrent_block_is_uniform_one_over_sqrt_hidden(void **state)
{
    (void)state;
    gf_net *net;
    gf_layer *l = recurrent_drawn_with(&net, GF_LAYER_GRU, 300, 30, GF_INIT_DEFAULT);
    const double b = 1.0 / sqrt(30.0);
    read_block(l, "weight_ih_l0", 90 * 300);
    check_bounds(big, 90 * 300, -b, b);
    check_stats(big, 90 * 300, 0.0, b / sqrt(3.0));
    read_block(l, "weight_hh_l0", 90 * 30);
    check_bounds(big, 90 * 30, -b, b);
    read_block(l, "bias_ih_l0", 90);
    for (int i = 0; i < 90; i++)
        assert_true(fabs(big[i]) <= b);
    gf_net_destroy(net);
}

/* rows x cols = 2^61 floats (2^63 bytes) fits size_t but no array: refused, not filled past the buffer. */
static void test_fill_of_more_floats_than_an_array_holds_is_refused_as_overflow(void **state)
{
    (void)state;
    gf_init *in;
    assert_int_equal(gf_init_create(&in, GF_INIT_UNIFORM), GF_OK);
    float buf[4] = {7, 7, 7, 7};
    assert_int_equal(gf_init_fill(in, buf, (size_t)1 << 61, (int64_t)1 << 31, (int64_t)1 << 30, 1), GF_ERR_OVERFLOW);
    assert_true(buf[0] == 7.0f && buf[3] == 7.0f);
    gf_init_destroy(in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_seed_gives_bit_identical_buffers),
        cmocka_unit_test(test_he_on_a_recurrent_input_weight_takes_the_input_features_as_fan_in),
        cmocka_unit_test(test_xavier_on_recurrent_blocks_takes_each_tensors_fans),
        cmocka_unit_test(test_default_init_of_every_recurrent_block_is_uniform_one_over_sqrt_hidden),
        cmocka_unit_test(test_different_seeds_give_different_buffers),
        cmocka_unit_test(test_internal_fill_draws_the_same_as_public_fill),
        cmocka_unit_test(test_zeros_and_constant_fill_their_value),
        cmocka_unit_test(test_uniform_defaults_to_zero_one),
        cmocka_unit_test(test_uniform_respects_its_range),
        cmocka_unit_test(test_normal_follows_mean_and_std),
        cmocka_unit_test(test_xavier_uniform_has_variance_2_gain2_over_fan_sum),
        cmocka_unit_test(test_xavier_normal_has_std_gain_sqrt_2_over_fan_sum),
        cmocka_unit_test(test_he_normal_defaults_to_relu_gain_over_fan_in),
        cmocka_unit_test(test_he_normal_fan_out_with_gain_has_std_gain_over_sqrt_fan_out),
        cmocka_unit_test(test_he_uniform_bound_is_gain_sqrt_3_over_fan_in_both_modes),
        cmocka_unit_test(test_lecun_normal_has_std_one_over_sqrt_fan_in),
        cmocka_unit_test(test_default_is_uniform_plus_minus_one_over_sqrt_fan_in),
        cmocka_unit_test(test_fill_fan_uses_the_given_fans_for_a_bias),
        cmocka_unit_test(test_orthogonal_square_matrix_has_w_wt_equal_gain2_identity),
        cmocka_unit_test(test_orthogonal_wide_matrix_has_orthonormal_rows),
        cmocka_unit_test(test_orthogonal_tall_matrix_has_orthonormal_columns),
        cmocka_unit_test(test_orthogonal_needs_a_full_matrix),
        cmocka_unit_test(test_orthogonal_reports_nomem_and_leaves_the_buffer),
        cmocka_unit_test(test_gain_table_matches_calculate_gain),
        cmocka_unit_test(test_leaky_gain_of_slope_0_is_the_relu_gain),
        cmocka_unit_test(test_leaky_gain_of_nan_uses_the_default_slope_of_the_activation),
        cmocka_unit_test(test_default_gain_is_sqrt2_for_he_and_1_otherwise),
        cmocka_unit_test(test_set_range_only_applies_to_constant_uniform_normal),
        cmocka_unit_test(test_set_range_rejects_out_of_domain_values),
        cmocka_unit_test(test_set_gain_rejects_nonpositive_nonfinite_and_gainless_kinds),
        cmocka_unit_test(test_set_mode_accepts_only_fan_in_or_fan_out_on_he),
        cmocka_unit_test(test_create_rejects_unknown_kind_and_null_out),
        cmocka_unit_test(test_fill_rejects_bad_arguments_and_leaves_the_buffer),
        cmocka_unit_test(test_wrong_handle_kind_is_err_kind_and_null_handle_is_err_null),
        cmocka_unit_test(test_destroy_null_is_a_no_op),
        cmocka_unit_test(test_weight_init_set_on_a_layer_in_a_net_draws_its_weights_again),
        cmocka_unit_test(test_bias_init_set_on_a_layer_in_a_net_draws_its_bias_again),
        cmocka_unit_test(test_init_set_after_a_forward_makes_backward_wait_for_a_new_forward),
        cmocka_unit_test(test_init_redraw_that_cannot_allocate_keeps_the_weights),
        cmocka_unit_test(test_fill_of_more_floats_than_an_array_holds_is_refused_as_overflow),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    if (gf_live_allocations() != 0) {
        print_error("leak: %lld live allocations\n", (long long)gf_live_allocations());
        return 1;
    }
    return rc;
}
