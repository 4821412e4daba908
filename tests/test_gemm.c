/*
 * test_gemm.c — the matrix product: every kernel this CPU runs against a
 * double-accumulating reference on awkward shapes, all transpose
 * combinations, alpha/beta, padded leading dimensions; the pool split; the
 * workspace of packing buffers; no allocation per product; kernel selection.
 *
 * Tolerance: a float dot product of length k has |error| <= k*eps*sum|a b|
 * (first-order bound); scaling by alpha and adding beta*C costs two more
 * roundings.  Each element is checked against
 *     tol = 2*(k + 2)*FLT_EPSILON*(|alpha|*sum_p |a_ip b_pj| + |beta*c0|) + 1e-30,
 * i.e. a relative error of about 2.4e-7 * (k + 2) of the magnitude involved.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "gemm.h"
#include "threadpool.h"

#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const int64_t dims[] = {1, 3, 17, 255, 1000};
#define NDIMS ((int)(sizeof dims / sizeof dims[0]))
/* Largest m*n*k checked against the reference, to keep the suite fast. */
#define MAX_WORK 5000000

/* One product's operands, stored with the given leading dimensions; the
 * padding past each row holds NaN so reading it would show in the result. */
typedef struct problem {
    bool ta, tb;
    int64_t m, n, k, lda, ldb, ldc;
    float alpha, beta;
    float *a, *b, *c0, *c;
} problem;

static float *alloc_filled(gfi_rng *rng, int64_t rows, int64_t cols, int64_t ld)
{
    float *x = malloc(sizeof(float) * (size_t)(rows * ld));
    assert_non_null(x);
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < ld; j++)
            x[i * ld + j] = j < cols ? (float)(2.0 * gfi_rng_uniform(rng) - 1.0) : NAN;
    return x;
}

static problem make_problem(gfi_rng *rng, bool ta, bool tb, int64_t m, int64_t n, int64_t k, int64_t pad, float alpha,
                            float beta)
{
    problem p = {ta, tb, m, n, k, 0, 0, 0, alpha, beta, NULL, NULL, NULL, NULL};
    int64_t arows = ta ? k : m, acols = ta ? m : k, brows = tb ? n : k, bcols = tb ? k : n;
    p.lda = acols + pad;
    p.ldb = bcols + pad;
    p.ldc = n + pad;
    p.a = alloc_filled(rng, arows, acols, p.lda);
    p.b = alloc_filled(rng, brows, bcols, p.ldb);
    p.c0 = alloc_filled(rng, m, n, p.ldc);
    if (beta == 0.0f) /* BLAS: beta == 0 means C is not read, whatever it holds */
        for (int64_t i = 0; i < m * p.ldc; i++)
            p.c0[i] = NAN;
    p.c = malloc(sizeof(float) * (size_t)(m * p.ldc));
    assert_non_null(p.c);
    return p;
}

static void free_problem(problem *p)
{
    free(p->a);
    free(p->b);
    free(p->c0);
    free(p->c);
}

static double op_a(const problem *p, int64_t i, int64_t q) { return p->ta ? p->a[q * p->lda + i] : p->a[i * p->lda + q]; }
static double op_b(const problem *p, int64_t q, int64_t j) { return p->tb ? p->b[j * p->ldb + q] : p->b[q * p->ldb + j]; }

/* The reference result and its tolerance for every element of C, in double,
 * computed once per problem and shared by the kernels checked against it. */
typedef struct reference {
    double *val, *tol;
} reference;

static reference compute_reference(const problem *p)
{
    reference r = {malloc(sizeof(double) * (size_t)(p->m * p->n)), malloc(sizeof(double) * (size_t)(p->m * p->n))};
    assert_true(r.val && r.tol);
    for (int64_t i = 0; i < p->m; i++)
        for (int64_t j = 0; j < p->n; j++) {
            double sum = 0, mag = 0;
            for (int64_t q = 0; q < p->k; q++) {
                double t = op_a(p, i, q) * op_b(p, q, j);
                sum += t;
                mag += fabs(t);
            }
            double c0 = p->beta == 0.0f ? 0.0 : (double)p->c0[i * p->ldc + j];
            r.val[i * p->n + j] = (double)p->alpha * sum + (double)p->beta * c0;
            r.tol[i * p->n + j] =
                2.0 * (double)(p->k + 2) * FLT_EPSILON * (fabs(p->alpha) * mag + fabs(p->beta * c0)) + 1e-30;
        }
    return r;
}

static void free_reference(reference *r)
{
    free(r->val);
    free(r->tol);
}

/* Checks p->c against the reference; the padding of C must be untouched.
 * Returns the number of bad elements (0 expected). */
static int64_t check_against_reference(const problem *p, const reference *r, const char *what)
{
    int64_t bad = 0;
    for (int64_t i = 0; i < p->m; i++) {
        for (int64_t j = 0; j < p->ldc; j++) {
            float got = p->c[i * p->ldc + j];
            if (j >= p->n) {
                float was = p->c0[i * p->ldc + j];
                if (memcmp(&got, &was, sizeof got) != 0)
                    bad++;
                continue;
            }
            double ref = r->val[i * p->n + j], tol = r->tol[i * p->n + j];
            if (!(fabs((double)got - ref) <= tol)) {
                if (bad < 3)
                    print_error("%s: C[%lld][%lld] = %.9g, reference %.9g (tol %.3g)\n", what, (long long)i,
                                (long long)j, (double)got, ref, tol);
                bad++;
            }
        }
    }
    return bad;
}

/* A workspace for nthreads threads; fails the test if it cannot be made. */
static struct gfi_gemm_ws *new_ws(int nthreads)
{
    struct gfi_gemm_ws *ws = NULL;
    assert_int_equal(gfi_gemm_ws_create(&ws, nthreads), GF_OK);
    assert_non_null(ws);
    return ws;
}

static void run_problem(const problem *p, int kernel);

/* Every available kernel on p against its reference. */
static void check_every_kernel(const problem *p)
{
    reference r = compute_reference(p);
    for (int kern = 0; kern < GFI_GEMM_NKERNELS; kern++) {
        if (!gfi_gemm_kernel_available(kern))
            continue;
        char what[128];
        snprintf(what, sizeof what, "%s ta=%d tb=%d m=%lld n=%lld k=%lld alpha=%g beta=%g", gfi_gemm_kernel_name(kern),
                 p->ta, p->tb, (long long)p->m, (long long)p->n, (long long)p->k, (double)p->alpha, (double)p->beta);
        run_problem(p, kern);
        assert_int_equal(check_against_reference(p, &r, what), 0);
    }
    free_reference(&r);
}

static void run_problem(const problem *p, int kernel)
{
    struct gfi_gemm_ws *ws = new_ws(1);
    assert_int_equal(gfi_gemm_force_kernel(kernel), GF_OK);
    memcpy(p->c, p->c0, sizeof(float) * (size_t)(p->m * p->ldc));
    gfi_gemm(ws, p->ta, p->tb, p->m, p->n, p->k, p->alpha, p->a, p->lda, p->b, p->ldb, p->beta, p->c, p->ldc);
    assert_int_equal(gfi_gemm_force_kernel(GFI_GEMM_AUTO), GF_OK);
    gfi_gemm_ws_destroy(ws);
}

/* Every available kernel, every shape of dims^3 within MAX_WORK, for one
 * transpose combination; alternates padding and alpha/beta. */
static void check_all_kernels(bool ta, bool tb)
{
    gfi_rng rng;
    gfi_rng_seed(&rng, 1234u + 2u * ta + tb);
    int shape = 0;
    for (int im = 0; im < NDIMS; im++)
        for (int in = 0; in < NDIMS; in++)
            for (int ik = 0; ik < NDIMS; ik++) {
                int64_t m = dims[im], n = dims[in], k = dims[ik];
                if (m * n * k > MAX_WORK)
                    continue;
                static const float alphas[] = {1.0f, -0.75f, 2.0f}, betas[] = {0.0f, 1.0f, 0.5f};
                problem p = make_problem(&rng, ta, tb, m, n, k, shape % 2 ? 5 : 0, alphas[shape % 3],
                                         betas[(shape / 2) % 3]);
                check_every_kernel(&p);
                free_problem(&p);
                shape++;
            }
}

static void test_every_kernel_matches_reference_for_a_times_b(void **state) { check_all_kernels(false, false); }
static void test_every_kernel_matches_reference_for_a_times_b_transposed(void **state) { check_all_kernels(false, true); }
static void test_every_kernel_matches_reference_for_a_transposed_times_b(void **state) { check_all_kernels(true, false); }
static void test_every_kernel_matches_reference_for_both_transposed(void **state) { check_all_kernels(true, true); }

/* One shape spanning several k, m and n blocks, for the given alpha/beta. */
static void check_blocked_shape(float alpha, float beta, int64_t pad)
{
    gfi_rng rng;
    gfi_rng_seed(&rng, 99);
    problem p = make_problem(&rng, false, true, 203, 541, 700, pad, alpha, beta);
    check_every_kernel(&p);
    free_problem(&p);
}

static void test_beta_zero_overwrites_nan_filled_c(void **state)
{
    check_blocked_shape(1.0f, 0.0f, 0); /* make_problem fills C with NaN for beta 0 */
}

static void test_beta_one_accumulates_into_c_across_k_blocks(void **state) { check_blocked_shape(1.0f, 1.0f, 0); }

static void test_alpha_and_beta_scale_product_and_c(void **state) { check_blocked_shape(-1.5f, 0.25f, 0); }

static void test_padded_leading_dimensions_are_honoured_and_padding_untouched(void **state)
{
    check_blocked_shape(1.0f, 0.5f, 13);
}

static void test_k_zero_scales_c_by_beta(void **state)
{
    struct gfi_gemm_ws *ws = new_ws(1);
    float c[6] = {1, 2, 3, 4, 5, 6}, a[1] = {7}, b[1] = {8};
    gfi_gemm(ws, false, false, 2, 3, 0, 1.0f, a, 1, b, 3, 0.5f, c, 3);
    for (int i = 0; i < 6; i++)
        assert_float_equal(c[i], 0.5f * (float)(i + 1), 0.0f);
    float d[2] = {NAN, NAN};
    gfi_gemm(ws, false, false, 1, 2, 0, 1.0f, a, 1, b, 2, 0.0f, d, 2);
    assert_true(d[0] == 0.0f && d[1] == 0.0f);
    gfi_gemm_ws_destroy(ws);
}

static void test_empty_product_leaves_c_untouched(void **state)
{
    struct gfi_gemm_ws *ws = new_ws(1);
    float c[2] = {3, 4}, a[1] = {1}, b[1] = {1};
    gfi_gemm(ws, false, false, 0, 2, 1, 1.0f, a, 1, b, 2, 0.0f, c, 2);
    gfi_gemm(ws, false, false, 1, 0, 1, 1.0f, a, 1, b, 1, 0.0f, c, 2);
    assert_true(c[0] == 3.0f && c[1] == 4.0f);
    gfi_gemm_ws_destroy(ws);
}

/* ---- pool split ---- */

/* The product on a pool of nthreads with a workspace for ws_threads threads
 * against the single-threaded product. */
static void check_pool_ws_matches_single(int nthreads, int ws_threads, bool ta, bool tb, int64_t m, int64_t n,
                                         int64_t k)
{
    struct gfi_gemm_ws *ws1 = new_ws(1), *ws = new_ws(ws_threads);
    gfi_rng rng;
    gfi_rng_seed(&rng, (uint64_t)(m * 7 + n * 3 + k));
    problem p = make_problem(&rng, ta, tb, m, n, k, 3, 1.25f, 0.5f);
    float *single = malloc(sizeof(float) * (size_t)(m * p.ldc));
    assert_non_null(single);
    memcpy(single, p.c0, sizeof(float) * (size_t)(m * p.ldc));
    gfi_gemm(ws1, ta, tb, m, n, k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, single, p.ldc);

    struct gfi_pool *pool = NULL;
    assert_int_equal(gfi_pool_create(&pool, nthreads), GF_OK);
    memcpy(p.c, p.c0, sizeof(float) * (size_t)(m * p.ldc));
    gfi_gemm_pool(pool, ws, ta, tb, m, n, k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, p.c, p.ldc);
    gfi_pool_destroy(pool);
    gfi_gemm_ws_destroy(ws);
    gfi_gemm_ws_destroy(ws1);

    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = single[i * p.ldc + j], g = p.c[i * p.ldc + j];
            assert_true(fabs(s - g) <= 1e-6 * fabs(s) + 1e-30);
        }
    for (int64_t i = 0; i < m; i++) /* padding of C untouched */
        for (int64_t j = n; j < p.ldc; j++)
            assert_true(isnan(p.c[i * p.ldc + j]));
    free(single);
    free_problem(&p);
}

static void check_pool_matches_single(int nthreads, bool ta, bool tb, int64_t m, int64_t n, int64_t k)
{
    check_pool_ws_matches_single(nthreads, nthreads, ta, tb, m, n, k);
}

static void test_pool_product_matches_single_thread_within_1e6_relative(void **state)
{
    /* Wide C (split by columns), tall C (split by rows), C narrower than one
     * tile per thread (some threads idle), each transpose combination; A^T B
     * also split by rows when C is wide (the weight gradient's shape), and by
     * columns when it has too few rows for that. */
    check_pool_matches_single(2, false, true, 128, 512, 300);
    check_pool_matches_single(2, false, false, 128, 784, 64);
    check_pool_matches_single(3, true, false, 300, 77, 128);
    check_pool_matches_single(2, true, false, 512, 784, 128);
    check_pool_matches_single(3, true, false, 100, 1500, 40);
    check_pool_matches_single(2, true, false, 24, 3000, 64);
    check_pool_matches_single(4, true, true, 20, 40, 3000);
    check_pool_matches_single(2, false, false, 1, 1, 1);
}

static void test_pool_with_workspace_for_fewer_threads_runs_on_the_caller(void **state)
{
    /* Large enough to be split were the workspace big enough. */
    check_pool_ws_matches_single(3, 2, false, true, 128, 512, 300);
    check_pool_ws_matches_single(4, 1, true, false, 300, 77, 128);
}

static void test_pool_null_or_one_thread_runs_the_plain_product(void **state)
{
    check_pool_matches_single(1, false, false, 50, 60, 70);
    gfi_rng rng;
    gfi_rng_seed(&rng, 5);
    problem p = make_problem(&rng, false, false, 20, 30, 40, 0, 1.0f, 0.0f);
    struct gfi_gemm_ws *ws = new_ws(1);
    gfi_gemm_pool(NULL, ws, false, false, 20, 30, 40, 1.0f, p.a, p.lda, p.b, p.ldb, 0.0f, p.c, p.ldc);
    reference r = compute_reference(&p);
    assert_int_equal(check_against_reference(&p, &r, "pool NULL"), 0);
    free_reference(&r);
    gfi_gemm_ws_destroy(ws);
    free_problem(&p);
}

/* gfi_gemm_tid packs into the given thread's buffers: the same bits as gfi_gemm, whichever pair it uses. */
static void test_gemm_on_any_threads_buffers_matches_the_plain_product(void **state)
{
    gfi_rng rng;
    gfi_rng_seed(&rng, 11);
    problem p = make_problem(&rng, false, true, 70, 300, 200, 2, 1.0f, 0.0f);
    struct gfi_gemm_ws *ws1 = new_ws(1), *ws3 = new_ws(3);
    float *plain = malloc(sizeof(float) * (size_t)(70 * p.ldc));
    assert_non_null(plain);
    memcpy(plain, p.c0, sizeof(float) * (size_t)(70 * p.ldc));
    gfi_gemm(ws1, false, true, 70, 300, 200, 1.0f, p.a, p.lda, p.b, p.ldb, 0.0f, plain, p.ldc);
    for (int tid = 0; tid < 3; tid++) {
        memcpy(p.c, p.c0, sizeof(float) * (size_t)(70 * p.ldc));
        gfi_gemm_tid(ws3, tid, false, true, 70, 300, 200, 1.0f, p.a, p.lda, p.b, p.ldb, 0.0f, p.c, p.ldc);
        assert_memory_equal(plain, p.c, sizeof(float) * (size_t)(70 * p.ldc));
    }
    free(plain);
    gfi_gemm_ws_destroy(ws1);
    gfi_gemm_ws_destroy(ws3);
    free_problem(&p);
}

/* gfi_gemm_share on two parts of C, cut at every row (or column), against
 * gfi_gemm on the whole product, bit for bit: the path (the kernel's small
 * path or the packed one) is chosen on the whole product, and each element
 * is computed the same way wherever the cut falls. */
static void check_parts_match_whole(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float beta, int split)
{
    struct gfi_gemm_ws *ws = new_ws(2);
    gfi_rng rng;
    gfi_rng_seed(&rng, (uint64_t)(m * 7 + n * 3 + k));
    problem p = make_problem(&rng, ta, tb, m, n, k, 1, 0.75f, beta);
    size_t bytes = sizeof(float) * (size_t)(m * p.ldc);
    float *whole = malloc(bytes);
    assert_non_null(whole);
    memcpy(whole, p.c0, bytes);
    gfi_gemm(ws, ta, tb, m, n, k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, whole, p.ldc);
    int64_t len = split == GFI_GEMM_BY_COLS ? n : m;
    for (int64_t cut = 0; cut <= len; cut++) {
        memcpy(p.c, p.c0, bytes);
        gfi_gemm_share(ws, 1, split, cut, len, ta, tb, m, n, k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, p.c, p.ldc);
        gfi_gemm_share(ws, 0, split, 0, cut, ta, tb, m, n, k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, p.c, p.ldc);
        if (memcmp(whole, p.c, bytes) != 0)
            fail_msg("%s, %c%c %lldx%lldx%lld beta %g cut at %lld of %lld: the parts differ from the whole product",
                     gfi_gemm_kernel_name(gfi_gemm_kernel_active()), ta ? 'T' : 'N', tb ? 'T' : 'N', (long long)m,
                     (long long)n, (long long)k, (double)beta, (long long)cut, (long long)len);
    }
    free(whole);
    gfi_gemm_ws_destroy(ws);
    free_problem(&p);
}

/* Shapes on both sides of every kernel's small-path limits (16384 and 65536 m*n*k, the skinny A B^T form up to
 * 16 columns) and past one k block (256): a dense layer's forward (N T), weight gradient (T N) and input
 * gradient (N N) as a small net has them. */
static void test_parts_of_a_product_cut_anywhere_give_the_whole_products_bits(void **state)
{
    (void)state;
    const int64_t shapes[][3] = {{32, 10, 128}, {32, 128, 10}, {10, 128, 32}, {32, 64, 24}, {13, 17, 9},
                                 {32, 128, 64},  {64, 48, 96},  {20, 40, 300}};
    for (int kern = 0; kern < GFI_GEMM_NKERNELS; kern++) {
        if (!gfi_gemm_kernel_available(kern))
            continue;
        assert_int_equal(gfi_gemm_force_kernel(kern), GF_OK);
        for (int s = 0; s < 8; s++)
            for (int t = 0; t < 4; t++)
                for (int split = GFI_GEMM_BY_COLS; split <= GFI_GEMM_BY_ROWS; split++)
                    check_parts_match_whole(t & 1, t >> 1, shapes[s][0], shapes[s][1], shapes[s][2],
                                            s % 2 ? 0.5f : 0.0f, split);
        assert_int_equal(gfi_gemm_force_kernel(GFI_GEMM_AUTO), GF_OK);
    }
}

/* ---- allocation ---- */

/* One product with op(B) packed ahead (gfi_gemm_pre_pack, then gfi_gemm_pool_pre on `nthreads` threads)
 * against gfi_gemm on one thread, bit for bit, on the kernel in force. */
static void check_prepacked_matches_plain(int nthreads, bool ta, bool tb, int64_t m, int64_t n, int64_t k)
{
    struct gfi_gemm_ws *ws1 = new_ws(1), *ws = new_ws(nthreads);
    gfi_rng rng;
    gfi_rng_seed(&rng, (uint64_t)(m * 5 + n * 11 + k));
    problem p = make_problem(&rng, ta, tb, m, n, k, 3, 1.25f, 0.5f);
    float *plain = malloc(sizeof(float) * (size_t)(m * p.ldc));
    float *buf = malloc(sizeof(float) * gfi_gemm_pre_floats(k, n));
    assert_non_null(plain);
    assert_non_null(buf);
    memcpy(plain, p.c0, sizeof(float) * (size_t)(m * p.ldc));
    gfi_gemm(ws1, ta, tb, m, n, k, p.alpha, p.a, p.lda, p.b, p.ldb, p.beta, plain, p.ldc);
    gfi_gemm_pre pre;
    gfi_gemm_pre_pack(&pre, buf, tb, k, n, p.b, p.ldb);
    assert_non_null(pre.p);
    struct gfi_pool *pool = NULL;
    if (nthreads > 1)
        assert_int_equal(gfi_pool_create(&pool, nthreads), GF_OK);
    memcpy(p.c, p.c0, sizeof(float) * (size_t)(m * p.ldc));
    gfi_gemm_pool_pre(pool, ws, ta, m, p.alpha, p.a, p.lda, p.b, p.ldb, &pre, p.beta, p.c, p.ldc);
    assert_memory_equal(plain, p.c, sizeof(float) * (size_t)(m * p.ldc));
    gfi_pool_destroy(pool);
    gfi_gemm_ws_destroy(ws);
    gfi_gemm_ws_destroy(ws1);
    free(buf);
    free(plain);
    free_problem(&p);
}

/* Ragged n (not a multiple of any sliver), k over two k blocks, C wide (split by columns) and tall (by rows),
 * both forms of op(B), every kernel, 1 to 3 threads. */
static void test_prepacked_b_gives_the_plain_product_bit_for_bit(void **state)
{
    (void)state;
    const int64_t shapes[][3] = {{64, 1000, 300}, {500, 70, 600}, {40, 33, 17}};
    for (int kern = 0; kern < GFI_GEMM_NKERNELS; kern++) {
        if (!gfi_gemm_kernel_available(kern))
            continue;
        assert_int_equal(gfi_gemm_force_kernel(kern), GF_OK);
        for (int s = 0; s < 3; s++)
            for (int tb = 0; tb < 2; tb++)
                for (int threads = 1; threads <= 3; threads++)
                    check_prepacked_matches_plain(threads, s == 1, tb, shapes[s][0], shapes[s][1], shapes[s][2]);
        assert_int_equal(gfi_gemm_force_kernel(GFI_GEMM_AUTO), GF_OK);
    }
}

/* Packed under one kernel and used under another: the product reads B itself and is still right. */
static void test_prepacked_b_from_another_kernel_falls_back_to_b(void **state)
{
    (void)state;
    if (!gfi_gemm_kernel_available(GFI_GEMM_AVX2))
        skip();
    struct gfi_gemm_ws *ws = new_ws(1);
    gfi_rng rng;
    gfi_rng_seed(&rng, 5);
    problem p = make_problem(&rng, false, true, 64, 256, 256, 0, 1.0f, 0.0f);
    float *plain = malloc(sizeof(float) * 64 * 256), *buf = malloc(sizeof(float) * gfi_gemm_pre_floats(256, 256));
    assert_non_null(plain);
    assert_non_null(buf);
    assert_int_equal(gfi_gemm_force_kernel(GFI_GEMM_PORTABLE), GF_OK);
    gfi_gemm_pre pre;
    gfi_gemm_pre_pack(&pre, buf, true, 256, 256, p.b, p.ldb);
    assert_int_equal(gfi_gemm_force_kernel(GFI_GEMM_AVX2), GF_OK);
    gfi_gemm(ws, false, true, 64, 256, 256, 1.0f, p.a, p.lda, p.b, p.ldb, 0.0f, plain, 256);
    gfi_gemm_pool_pre(NULL, ws, false, 64, 1.0f, p.a, p.lda, p.b, p.ldb, &pre, 0.0f, p.c, p.ldc);
    assert_int_equal(gfi_gemm_force_kernel(GFI_GEMM_AUTO), GF_OK);
    assert_memory_equal(plain, p.c, sizeof(float) * 64 * 256);
    gfi_gemm_ws_destroy(ws);
    free(buf);
    free(plain);
    free_problem(&p);
}

static atomic_long nallocs;
static void *count_malloc(void *u, size_t n) { (void)u; atomic_fetch_add(&nallocs, 1); return malloc(n); }
static void *count_realloc(void *u, void *p, size_t n) { (void)u; atomic_fetch_add(&nallocs, 1); return realloc(p, n); }
static void count_free(void *u, void *p) { (void)u; free(p); }

static void test_gemm_makes_no_allocation(void **state)
{
    gfi_rng rng;
    gfi_rng_seed(&rng, 8);
    problem p = make_problem(&rng, true, false, 300, 600, 500, 0, 1.0f, 0.0f);
    assert_int_equal(gf_set_allocator(count_malloc, count_realloc, count_free, NULL), GF_OK);
    struct gfi_gemm_ws *ws = new_ws(1);
    atomic_store(&nallocs, 0);
    for (int kern = 0; kern < GFI_GEMM_NKERNELS; kern++) {
        if (!gfi_gemm_kernel_available(kern))
            continue;
        assert_int_equal(gfi_gemm_force_kernel(kern), GF_OK);
        gfi_gemm(ws, true, false, 300, 600, 500, 1.0f, p.a, p.lda, p.b, p.ldb, 0.0f, p.c, p.ldc);
    }
    assert_int_equal(gfi_gemm_force_kernel(GFI_GEMM_AUTO), GF_OK);
    assert_int_equal(atomic_load(&nallocs), 0);
    gfi_gemm_ws_destroy(ws);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
    free_problem(&p);
}

static void test_gemm_pool_makes_no_allocation_once_pool_exists(void **state)
{
    gfi_rng rng;
    gfi_rng_seed(&rng, 9);
    problem p = make_problem(&rng, false, true, 256, 512, 300, 0, 1.0f, 0.0f);
    assert_int_equal(gf_set_allocator(count_malloc, count_realloc, count_free, NULL), GF_OK);
    struct gfi_pool *pool = NULL;
    assert_int_equal(gfi_pool_create(&pool, 2), GF_OK);
    struct gfi_gemm_ws *ws = new_ws(2);
    atomic_store(&nallocs, 0);
    for (int r = 0; r < 3; r++)
        gfi_gemm_pool(pool, ws, false, true, 256, 512, 300, 1.0f, p.a, p.lda, p.b, p.ldb, 0.0f, p.c, p.ldc);
    assert_int_equal(atomic_load(&nallocs), 0);
    gfi_pool_destroy(pool);
    gfi_gemm_ws_destroy(ws);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
    free_problem(&p);
}

/* ---- workspace ---- */

static void test_workspace_rejects_null_out_and_thread_counts_outside_1_to_max(void **state)
{
    struct gfi_gemm_ws *ws = (struct gfi_gemm_ws *)&nallocs; /* any non-NULL value, to see it untouched */
    assert_int_equal(gfi_gemm_ws_create(NULL, 1), GF_ERR_NULL);
    assert_int_equal(gfi_gemm_ws_create(&ws, 0), GF_ERR_INVALID);
    assert_non_null(strstr(gf_last_error(), "gfi_gemm_ws_create"));
    assert_int_equal(gfi_gemm_ws_create(&ws, GFI_POOL_MAX_THREADS + 1), GF_ERR_INVALID);
    assert_ptr_equal(ws, (struct gfi_gemm_ws *)&nallocs);
    assert_int_equal(gfi_gemm_ws_threads(NULL), 0);
    gfi_gemm_ws_destroy(NULL);
}

static void test_workspace_goes_through_the_allocator_and_is_freed(void **state)
{
    assert_int_equal(gf_set_allocator(count_malloc, count_realloc, count_free, NULL), GF_OK);
    atomic_store(&nallocs, 0);
    struct gfi_gemm_ws *ws = new_ws(3);
    assert_int_equal(gfi_gemm_ws_threads(ws), 3);
    assert_true(atomic_load(&nallocs) > 0);
    assert_true(gf_live_allocations() > 0);
    gfi_gemm_ws_destroy(ws);
    assert_int_equal(gf_live_allocations(), 0);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

static void *null_malloc(void *u, size_t n) { (void)u; (void)n; return NULL; }

static void test_workspace_reports_nomem_when_allocation_fails(void **state)
{
    assert_int_equal(gf_set_allocator(null_malloc, count_realloc, count_free, NULL), GF_OK);
    struct gfi_gemm_ws *ws = NULL;
    assert_int_equal(gfi_gemm_ws_create(&ws, 2), GF_ERR_NOMEM);
    assert_null(ws);
    assert_int_equal(gf_live_allocations(), 0);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

/* ---- kernel selection ---- */

static void test_auto_selects_the_best_available_kernel(void **state)
{
    assert_int_equal(gfi_gemm_force_kernel(GFI_GEMM_AUTO), GF_OK);
    int best = GFI_GEMM_PORTABLE;
    for (int k = 0; k < GFI_GEMM_NKERNELS; k++)
        if (gfi_gemm_kernel_available(k))
            best = k;
    assert_int_equal(gfi_gemm_kernel_active(), best);
    assert_true(gfi_gemm_kernel_available(GFI_GEMM_PORTABLE));
}

static void test_forcing_an_unknown_kernel_fails_and_keeps_the_choice(void **state)
{
    int before = gfi_gemm_kernel_active();
    assert_int_equal(gfi_gemm_force_kernel(GFI_GEMM_NKERNELS), GF_ERR_INVALID);
    assert_int_equal(gfi_gemm_force_kernel(-2), GF_ERR_INVALID);
    assert_non_null(strstr(gf_last_error(), "gfi_gemm_force_kernel"));
    assert_int_equal(gfi_gemm_kernel_active(), before);
    assert_int_equal(gfi_gemm_kernel_available(GFI_GEMM_NKERNELS), 0);
}

static void test_forcing_an_unavailable_kernel_fails_with_unsupported(void **state)
{
    /* Kernels this CPU lacks must be refused; available ones accepted. */
    for (int k = 0; k < GFI_GEMM_NKERNELS; k++) {
        int before = gfi_gemm_kernel_active();
        int rc = gfi_gemm_force_kernel(k);
        if (gfi_gemm_kernel_available(k)) {
            assert_int_equal(rc, GF_OK);
            assert_int_equal(gfi_gemm_kernel_active(), k);
        } else {
            assert_int_equal(rc, GF_ERR_UNSUPPORTED);
            assert_int_equal(gfi_gemm_kernel_active(), before);
        }
    }
    assert_int_equal(gfi_gemm_force_kernel(GFI_GEMM_AUTO), GF_OK);
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    __builtin_cpu_init();
    assert_int_equal(gfi_gemm_kernel_available(GFI_GEMM_AVX2),
                     __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"));
    if (!__builtin_cpu_supports("avx512f"))
        assert_int_equal(gfi_gemm_kernel_available(GFI_GEMM_AVX512), 0);
#endif
}

static void test_kernel_names_are_distinct(void **state)
{
    assert_string_equal(gfi_gemm_kernel_name(GFI_GEMM_PORTABLE), "portable");
    assert_string_equal(gfi_gemm_kernel_name(GFI_GEMM_AVX2), "avx2");
    assert_string_equal(gfi_gemm_kernel_name(GFI_GEMM_AVX512), "avx512");
    assert_string_equal(gfi_gemm_kernel_name(GFI_GEMM_AUTO), "auto");
    assert_string_equal(gfi_gemm_kernel_name(42), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kernel_matches_reference_for_a_times_b),
        cmocka_unit_test(test_every_kernel_matches_reference_for_a_times_b_transposed),
        cmocka_unit_test(test_every_kernel_matches_reference_for_a_transposed_times_b),
        cmocka_unit_test(test_every_kernel_matches_reference_for_both_transposed),
        cmocka_unit_test(test_beta_zero_overwrites_nan_filled_c),
        cmocka_unit_test(test_beta_one_accumulates_into_c_across_k_blocks),
        cmocka_unit_test(test_alpha_and_beta_scale_product_and_c),
        cmocka_unit_test(test_padded_leading_dimensions_are_honoured_and_padding_untouched),
        cmocka_unit_test(test_k_zero_scales_c_by_beta),
        cmocka_unit_test(test_empty_product_leaves_c_untouched),
        cmocka_unit_test(test_pool_product_matches_single_thread_within_1e6_relative),
        cmocka_unit_test(test_pool_null_or_one_thread_runs_the_plain_product),
        cmocka_unit_test(test_gemm_on_any_threads_buffers_matches_the_plain_product),
        cmocka_unit_test(test_parts_of_a_product_cut_anywhere_give_the_whole_products_bits),
        cmocka_unit_test(test_pool_with_workspace_for_fewer_threads_runs_on_the_caller),
        cmocka_unit_test(test_prepacked_b_gives_the_plain_product_bit_for_bit),
        cmocka_unit_test(test_prepacked_b_from_another_kernel_falls_back_to_b),
        cmocka_unit_test(test_gemm_makes_no_allocation),
        cmocka_unit_test(test_gemm_pool_makes_no_allocation_once_pool_exists),
        cmocka_unit_test(test_workspace_rejects_null_out_and_thread_counts_outside_1_to_max),
        cmocka_unit_test(test_workspace_goes_through_the_allocator_and_is_freed),
        cmocka_unit_test(test_workspace_reports_nomem_when_allocation_fails),
        cmocka_unit_test(test_auto_selects_the_best_available_kernel),
        cmocka_unit_test(test_forcing_an_unknown_kernel_fails_and_keeps_the_choice),
        cmocka_unit_test(test_forcing_an_unavailable_kernel_fails_with_unsupported),
        cmocka_unit_test(test_kernel_names_are_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
