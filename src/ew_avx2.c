/*
 * ew_avx2.c — AVX2 + FMA versions of the element-wise passes (see ew.h), 8
 * floats per vector, for CPUs that have AVX2 but not AVX-512.  Built with
 * -mavx2 -mfma (the Makefile's isa_flags); ew.c selects it only after
 * checking the CPU.
 *
 * The formulas are ew_avx512.c's, operation for operation, so the two give
 * the same values: tanh and sigmoid from one exp(-2|x|) resp. exp(-|x|)
 * (never overflowing), tanh's Taylor series below |x| = 0.55, the optimizer
 * rules without fused multiply-adds (each element as the scalar loop gets
 * it), bias sums in double in row order.  AVX2 has no scalef, so 2^n is
 * applied as two exact powers of two (see exp_nonpositive).  Tails are
 * handled with masked loads and stores; masked-off lanes are never touched.
 */
#include "diag_stats.h"
#include "ew.h"
#include "gemm.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#include <math.h>

#include "simd_avx2.h"

#define INLINE static inline __attribute__((always_inline))

/* Whole vectors go through plain loads and stores (masked stores are slow
 * on some AVX2 CPUs); only a tail uses the mask.  full is a constant in each
 * inlined instance. */
INLINE __m256 load(const float *p, __m256i m, bool full) { return full ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, m); }
INLINE void store(float *p, __m256i m, __m256 v, bool full)
{
    if (full)
        _mm256_storeu_ps(p, v);
    else
        _mm256_maskstore_ps(p, m, v);
}

/* 2^n for integral n in [-150, 0] (stored as float), as a product of two
 * normal powers of two, so p * two_a * two_b rounds once, like scalef. */
INLINE __m256 scale_pow2(__m256 p, __m256 n)
{
    __m256i ni = _mm256_cvtps_epi32(n);
    __m256i h1 = _mm256_srai_epi32(ni, 1), h2 = _mm256_sub_epi32(ni, h1);
    __m256 a = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h1, _mm256_set1_epi32(127)), 23));
    __m256 b = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h2, _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(_mm256_mul_ps(p, a), b);
}

/* x <= 0 as n ln2 + r and q(r) with e^r = 1 + r q(r), as ew_avx512.c's exp_reduce. */
INLINE __m256 exp_reduce(__m256 x, __m256 *n, __m256 *r)
{
    x = _mm256_max_ps(_mm256_set1_ps(-104.0f), x);
    *n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                         _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 rr = _mm256_fnmadd_ps(*n, _mm256_set1_ps(0.693359375f), x);
    rr = _mm256_fnmadd_ps(*n, _mm256_set1_ps(-2.12194440e-4f), rr);
    __m256 q = _mm256_set1_ps(1.0f / 5040.0f);
    q = _mm256_fmadd_ps(q, rr, _mm256_set1_ps(1.0f / 720.0f));
    q = _mm256_fmadd_ps(q, rr, _mm256_set1_ps(1.0f / 120.0f));
    q = _mm256_fmadd_ps(q, rr, _mm256_set1_ps(1.0f / 24.0f));
    q = _mm256_fmadd_ps(q, rr, _mm256_set1_ps(1.0f / 6.0f));
    q = _mm256_fmadd_ps(q, rr, _mm256_set1_ps(0.5f));
    q = _mm256_fmadd_ps(q, rr, _mm256_set1_ps(1.0f));
    *r = rr;
    return q;
}

/* exp(x) for x <= 0, as in ew_avx512.c: 1 + r q(r), times 2^n.  A NaN lane converts to INT_MIN; its
 * polynomial is NaN, so the product is NaN whatever the (garbage) powers are. */
INLINE __m256 exp_nonpositive(__m256 x)
{
    __m256 n, r, q = exp_reduce(x, &n, &r);
    return scale_pow2(_mm256_fmadd_ps(q, r, _mm256_set1_ps(1.0f)), n);
}

/* expm1(x) for x <= 0, as in ew_avx512.c: 2^n (r q(r)) + (2^n - 1) in one fused multiply-add, 2^n exact
 * from two powers of two. */
INLINE __m256 expm1_nonpositive(__m256 x)
{
    __m256 n, r, q = exp_reduce(x, &n, &r);
    __m256 two_n = scale_pow2(_mm256_set1_ps(1.0f), n);
    return _mm256_fmadd_ps(two_n, _mm256_mul_ps(r, q), _mm256_sub_ps(two_n, _mm256_set1_ps(1.0f)));
}

/* tanh: the odd Taylor series to x^17 for |x| < 0.55, else
 * sign(x) (1 - e) / (1 + e), e = exp(-2|x|); a vector whose lanes all take
 * one formula skips the other. */
INLINE __m256 tanh_ps(__m256 x)
{
    __m256 a = gfi_avx2_abs_ps(x);
    __m256 small = _mm256_cmp_ps(a, _mm256_set1_ps(0.55f), _CMP_LT_OQ);
    int bits = _mm256_movemask_ps(small);
    __m256 t = _mm256_setzero_ps();
    if (bits != 0xff) {
        __m256 e = exp_nonpositive(_mm256_mul_ps(a, _mm256_set1_ps(-2.0f)));
        __m256 one = _mm256_set1_ps(1.0f);
        t = _mm256_div_ps(_mm256_sub_ps(one, e), _mm256_add_ps(one, e));
        t = _mm256_or_ps(t, _mm256_and_ps(x, _mm256_set1_ps(-0.0f)));
        if (!bits)
            return t;
    }
    __m256 x2 = _mm256_mul_ps(x, x);
    __m256 q = _mm256_set1_ps(6404582.0f / 10854718875.0f);
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-929569.0f / 638512875.0f));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(21844.0f / 6081075.0f));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-1382.0f / 155925.0f));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(62.0f / 2835.0f));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-17.0f / 315.0f));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(2.0f / 15.0f));
    q = _mm256_fmadd_ps(q, x2, _mm256_set1_ps(-1.0f / 3.0f));
    __m256 s = _mm256_fmadd_ps(_mm256_mul_ps(x, x2), q, x);
    return _mm256_blendv_ps(t, s, small);
}

/* sigmoid: 1 / (1 + e) for x >= 0, e / (1 + e) below, e = exp(-|x|). */
INLINE __m256 sigmoid_ps(__m256 x)
{
    __m256 e = exp_nonpositive(_mm256_sub_ps(_mm256_setzero_ps(), gfi_avx2_abs_ps(x)));
    __m256 s = _mm256_div_ps(_mm256_set1_ps(1.0f), _mm256_add_ps(_mm256_set1_ps(1.0f), e));
    __m256 nonneg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GE_OQ);
    return _mm256_blendv_ps(_mm256_mul_ps(e, s), s, nonneg);
}

/* slope * x in double, rounded once to float (leaky ReLU's negative side, as activation.c computes it). */
INLINE __m256 times_slope(double slope, __m256 x)
{
    __m256d s = _mm256_set1_pd(slope);
    __m128 lo = _mm256_cvtpd_ps(_mm256_mul_pd(s, _mm256_cvtps_pd(_mm256_castps256_ps128(x))));
    __m128 hi = _mm256_cvtpd_ps(_mm256_mul_pd(s, _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1))));
    return _mm256_set_m128(hi, lo);
}

/* log1p(u) for 0 <= u <= 1, as in ew_avx512.c: 2 s (1 + t/3 + ... + t^7/15), s = u / (2 + u), t = s^2. */
INLINE __m256 log1p_unit(__m256 u)
{
    __m256 s = _mm256_div_ps(u, _mm256_add_ps(_mm256_set1_ps(2.0f), u));
    __m256 t = _mm256_mul_ps(s, s);
    __m256 p = _mm256_set1_ps(1.0f / 15.0f);
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.0f / 13.0f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.0f / 11.0f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.0f / 9.0f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.0f / 7.0f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.0f / 5.0f));
    p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(1.0f / 3.0f));
    p = _mm256_mul_ps(p, t);
    __m256 s2 = _mm256_add_ps(s, s);
    return _mm256_fmadd_ps(s2, p, s2);
}

/* softplus: max(x, 0) + log1p(e^-|x|); max keeps NaN (its second operand) through the log1p term. */
INLINE __m256 softplus_ps(__m256 x)
{
    __m256 e = exp_nonpositive(_mm256_sub_ps(_mm256_setzero_ps(), gfi_avx2_abs_ps(x)));
    return _mm256_add_ps(_mm256_max_ps(x, _mm256_setzero_ps()), log1p_unit(e));
}

/* ---- GELU, in double (ew_avx512.c's formulas, operation for operation) ---- */

/* e^-h for 0 <= h <= 200: -h = n ln2 + r, e^r to r^13, times 2^n built from its exponent bits (n >= -289:
 * a normal double, so the product is exact, as scalef). */
INLINE __m256d exp_neg_pd(__m256d h)
{
    __m256d x = _mm256_sub_pd(_mm256_setzero_pd(), h);
    __m256d n = _mm256_round_pd(_mm256_mul_pd(x, _mm256_set1_pd(1.4426950408889634)),
                                _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256d r = _mm256_fnmadd_pd(n, _mm256_set1_pd(6.93147180369123816490e-01), x);
    r = _mm256_fnmadd_pd(n, _mm256_set1_pd(1.90821492927058770002e-10), r);
    __m256d p = _mm256_set1_pd(1.0 / 6227020800.0);
    static const double inv_fact[13] = {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
                                        1.0 / 40320.0,     1.0 / 5040.0,     1.0 / 720.0,      1.0 / 120.0,
                                        1.0 / 24.0,        1.0 / 6.0,        0.5,              1.0,
                                        1.0};
    for (int k = 0; k < 13; k++)
        p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(inv_fact[k]));
    /* A NaN lane's p is NaN, so the product is NaN whatever its (garbage) power. */
    __m256i e = _mm256_cvtepi32_epi64(_mm256_cvtpd_epi32(n));
    __m256d pow2 = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(e, _mm256_set1_epi64x(1023)), 52));
    return _mm256_mul_pd(p, pow2);
}

/* Phi(x) and phi(x), 4 lanes in double, as ew_avx512.c's normal_pd. */
INLINE void normal_pd(__m256d x, __m256d *cdf, __m256d *pdf)
{
    __m256d a = _mm256_and_pd(x, _mm256_castsi256_pd(_mm256_set1_epi64x(0x7fffffffffffffffLL)));
    __m256d far = _mm256_cmp_pd(a, _mm256_set1_pd(20.0), _CMP_GT_OQ);
    a = _mm256_min_pd(_mm256_set1_pd(20.0), a); /* min keeps NaN (its second operand) */
    __m256d t = _mm256_div_pd(_mm256_set1_pd(1.0), _mm256_fmadd_pd(a, _mm256_set1_pd(0.25), _mm256_set1_pd(1.0)));
    __m256d S = _mm256_set1_pd(gfi_gelu_mills[GFI_GELU_MILLS_DEG]);
    for (int k = GFI_GELU_MILLS_DEG - 1; k >= 0; k--)
        S = _mm256_fmadd_pd(S, t, _mm256_set1_pd(gfi_gelu_mills[k]));
    __m256d phi = _mm256_mul_pd(exp_neg_pd(_mm256_mul_pd(_mm256_mul_pd(a, a), _mm256_set1_pd(0.5))),
                                _mm256_set1_pd(0.39894228040143267794));
    phi = _mm256_blendv_pd(phi, _mm256_setzero_pd(), far);
    __m256d q = _mm256_mul_pd(phi, _mm256_mul_pd(t, S));
    __m256d nonneg = _mm256_cmp_pd(x, _mm256_setzero_pd(), _CMP_GE_OQ);
    *cdf = _mm256_blendv_pd(q, _mm256_sub_pd(_mm256_set1_pd(1.0), q), nonneg);
    *pdf = phi;
}

/* GELU x Phi(x), in double, rounded once. */
INLINE __m256 gelu_ps(__m256 x)
{
    __m256d h[2] = {_mm256_cvtps_pd(_mm256_castps256_ps128(x)), _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1))}, cdf,
            pdf;
    for (int i = 0; i < 2; i++) {
        normal_pd(h[i], &cdf, &pdf);
        h[i] = _mm256_mul_pd(h[i], cdf);
    }
    return _mm256_set_m128(_mm256_cvtpd_ps(h[1]), _mm256_cvtpd_ps(h[0]));
}

/* dy (Phi(z) + z phi(z)), in double, rounded once. */
INLINE __m256 gelu_grad_ps(__m256 z, __m256 dy)
{
    __m256d zz[2] = {_mm256_cvtps_pd(_mm256_castps256_ps128(z)), _mm256_cvtps_pd(_mm256_extractf128_ps(z, 1))};
    __m256d d[2] = {_mm256_cvtps_pd(_mm256_castps256_ps128(dy)), _mm256_cvtps_pd(_mm256_extractf128_ps(dy, 1))};
    __m256d cdf, pdf;
    for (int i = 0; i < 2; i++) {
        normal_pd(zz[i], &cdf, &pdf);
        d[i] = _mm256_mul_pd(d[i], _mm256_fmadd_pd(zz[i], pdf, cdf));
    }
    return _mm256_set_m128(_mm256_cvtpd_ps(d[1]), _mm256_cvtpd_ps(d[0]));
}

/* dy * (a * e) in double, a a double, rounded once to float (ELU's and SELU's gradient below 0, e = e^z). */
INLINE __m256 times_scaled(double a, __m256 e, __m256 dy)
{
    __m256d s = _mm256_set1_pd(a);
    __m128 lo = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(dy)),
                                              _mm256_mul_pd(s, _mm256_cvtps_pd(_mm256_castps256_ps128(e)))));
    __m128 hi = _mm256_cvtpd_ps(_mm256_mul_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(dy, 1)),
                                              _mm256_mul_pd(s, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)))));
    return _mm256_set_m128(hi, lo);
}

INLINE __m256 act(int32_t kind, double slope, __m256 z)
{
    switch (kind) {
    case GF_ACT_RELU:
        /* x > 0 ? x : 0, so NaN gives 0 like the scalar comparison. */
        return _mm256_and_ps(_mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GT_OQ), z);
    case GF_ACT_LEAKY_RELU: /* x > 0 ? x : slope x, so NaN gives slope NaN = NaN */
        return _mm256_blendv_ps(times_slope(slope, z), z, _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GT_OQ));
    case GF_ACT_ELU: { /* x >= 0 ? x : alpha expm1(x); at -0 that is -0, as alpha expm1(-0) */
        __m256 em1 = expm1_nonpositive(_mm256_min_ps(_mm256_setzero_ps(), z)); /* min keeps NaN (its 2nd operand) */
        return _mm256_blendv_ps(times_slope(slope, em1), z, _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GE_OQ));
    }
    case GF_ACT_SELU: {
        __m256 em1 = expm1_nonpositive(_mm256_min_ps(_mm256_setzero_ps(), z));
        return _mm256_blendv_ps(times_slope(GFI_SELU_LAMBDA * GFI_SELU_ALPHA, em1), times_slope(GFI_SELU_LAMBDA, z),
                                _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GE_OQ));
    }
    case GF_ACT_SOFTPLUS: return softplus_ps(z);
    case GF_ACT_GELU: return gelu_ps(z);
    case GF_ACT_TANH: return tanh_ps(z);
    case GF_ACT_SIGMOID: return sigmoid_ps(z);
    default: return z;
    }
}

static void bias_act(int32_t kind, double slope, const float *b, float *z, float *y, int64_t rows, int64_t cols,
                     int64_t ld)
{
    for (int64_t r = 0; r < rows; r++) {
        float *zr = z + r * ld, *yr = y + r * ld;
        int64_t j = 0;
        for (; j + 8 <= cols; j += 8) {
            __m256 v = _mm256_add_ps(_mm256_loadu_ps(zr + j), _mm256_loadu_ps(b + j));
            _mm256_storeu_ps(zr + j, v);
            _mm256_storeu_ps(yr + j, act(kind, slope, v));
        }
        if (j < cols) {
            __m256i m = gfi_avx2_lanes(cols - j);
            __m256 v = _mm256_add_ps(load(zr + j, m, false), load(b + j, m, false));
            store(zr + j, m, v, false);
            store(yr + j, m, act(kind, slope, v), false);
        }
    }
}

/* dy * f'(z); relu'(0) = 0, and dy * 0 keeps NaN in dy as the scalar code does. */
INLINE __m256 act_grad(int32_t kind, double slope, __m256 z, __m256 y, __m256 dy)
{
    __m256 one = _mm256_set1_ps(1.0f);
    switch (kind) {
    case GF_ACT_RELU: return _mm256_mul_ps(dy, _mm256_and_ps(_mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GT_OQ), one));
    case GF_ACT_LEAKY_RELU: /* leaky'(z <= 0) = slope: dy * slope in double, as the scalar code */
        return _mm256_blendv_ps(times_slope(slope, dy), dy, _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GT_OQ));
    case GF_ACT_ELU: { /* elu'(z <= 0) = alpha e^z, from z */
        __m256 e = exp_nonpositive(_mm256_min_ps(_mm256_setzero_ps(), z));
        return _mm256_blendv_ps(times_scaled(slope, e, dy), dy, _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GT_OQ));
    }
    case GF_ACT_SELU: {
        __m256 e = exp_nonpositive(_mm256_min_ps(_mm256_setzero_ps(), z));
        return _mm256_blendv_ps(times_scaled(GFI_SELU_LAMBDA * GFI_SELU_ALPHA, e, dy), times_slope(GFI_SELU_LAMBDA, dy),
                                _mm256_cmp_ps(z, _mm256_setzero_ps(), _CMP_GT_OQ));
    }
    case GF_ACT_SOFTPLUS: return _mm256_mul_ps(dy, sigmoid_ps(z)); /* softplus' = sigmoid, from z */
    case GF_ACT_GELU: return gelu_grad_ps(z, dy);
    case GF_ACT_TANH: return _mm256_mul_ps(dy, _mm256_fnmadd_ps(y, y, one));
    case GF_ACT_SIGMOID: return _mm256_mul_ps(dy, _mm256_mul_ps(y, _mm256_sub_ps(one, y)));
    default: return dy;
    }
}

/* One vector of the row at offset at: dz, and its values added (widened)
 * into acc.  Lanes past the data hold 0 and land in acc slots that are never
 * read.  z or y is NULL for the kinds that do not read it, so the offset is
 * applied only to the one read (an offset on a null pointer is undefined). */
INLINE void colsum_vec(const int32_t kind, double slope, const float *z, const float *y, const float *dy, float *dz,
                       int64_t at, double *acc, __m256i m, bool full)
{
    __m256 zv = kind == GF_ACT_RELU || kind == GF_ACT_LEAKY_RELU || kind == GF_ACT_ELU || kind == GF_ACT_SELU ||
                        kind == GF_ACT_SOFTPLUS || kind == GF_ACT_GELU
                    ? load(z + at, m, full)
                    : _mm256_setzero_ps();
    __m256 yv = kind == GF_ACT_TANH || kind == GF_ACT_SIGMOID ? load(y + at, m, full) : _mm256_setzero_ps();
    __m256 g = act_grad(kind, slope, zv, yv, load(dy + at, m, full));
    store(dz + at, m, g, full);
    _mm256_store_pd(acc, _mm256_add_pd(_mm256_load_pd(acc), _mm256_cvtps_pd(_mm256_castps256_ps128(g))));
    _mm256_store_pd(acc + 4, _mm256_add_pd(_mm256_load_pd(acc + 4), _mm256_cvtps_pd(_mm256_extractf128_ps(g, 1))));
}

/* Row by row, each column's running sum in a double in an L1 buffer, added
 * in row order like the scalar loop (ew_avx512.c's layout). */
INLINE void act_grad_colsum_impl(const int32_t kind, double slope, const float *z, const float *y, const float *dy,
                                 float *dz, float *db, int64_t rows, int64_t cols, int64_t ld)
{
    enum { CB = 256 }; /* columns per block: 2 KiB of sums */
    _Alignas(32) double acc[CB];
    for (int64_t j0 = 0; j0 < cols; j0 += CB) {
        int64_t cw = cols - j0 < CB ? cols - j0 : CB;
        for (int64_t j = 0; j < cw; j += 8) {
            _mm256_store_pd(acc + j, _mm256_setzero_pd());
            _mm256_store_pd(acc + j + 4, _mm256_setzero_pd());
        }
        int64_t full = cw / 8 * 8;
        __m256i tail = gfi_avx2_lanes(cw - full);
        for (int64_t r = 0; r < rows; r++) {
            const int64_t at = r * ld + j0;
            for (int64_t j = 0; j < full; j += 8)
                colsum_vec(kind, slope, z, y, dy, dz, at + j, acc + j, tail, true);
            if (full < cw)
                colsum_vec(kind, slope, z, y, dy, dz, at + full, acc + full, tail, false);
        }
        for (int64_t j = 0; j < cw; j += 8) {
            __m256 sum = _mm256_set_m128(_mm256_cvtpd_ps(_mm256_load_pd(acc + j + 4)),
                                         _mm256_cvtpd_ps(_mm256_load_pd(acc + j)));
            store(db + j0 + j, gfi_avx2_lanes(cw - j), sum, false);
        }
    }
}

static void act_grad_colsum(int32_t kind, double slope, const float *z, const float *y, const float *dy, float *dz,
                            float *db, int64_t rows, int64_t cols, int64_t ld)
{
    switch (kind) {
    case GF_ACT_RELU: act_grad_colsum_impl(GF_ACT_RELU, slope, z, y, dy, dz, db, rows, cols, ld); break;
    case GF_ACT_LEAKY_RELU: act_grad_colsum_impl(GF_ACT_LEAKY_RELU, slope, z, y, dy, dz, db, rows, cols, ld); break;
    case GF_ACT_ELU: act_grad_colsum_impl(GF_ACT_ELU, slope, z, y, dy, dz, db, rows, cols, ld); break;
    case GF_ACT_SELU: act_grad_colsum_impl(GF_ACT_SELU, slope, z, y, dy, dz, db, rows, cols, ld); break;
    case GF_ACT_SOFTPLUS: act_grad_colsum_impl(GF_ACT_SOFTPLUS, slope, z, y, dy, dz, db, rows, cols, ld); break;
    case GF_ACT_GELU: act_grad_colsum_impl(GF_ACT_GELU, slope, z, y, dy, dz, db, rows, cols, ld); break;
    case GF_ACT_TANH: act_grad_colsum_impl(GF_ACT_TANH, slope, z, y, dy, dz, db, rows, cols, ld); break;
    case GF_ACT_SIGMOID: act_grad_colsum_impl(GF_ACT_SIGMOID, slope, z, y, dy, dz, db, rows, cols, ld); break;
    default: act_grad_colsum_impl(GF_ACT_IDENTITY, slope, z, y, dy, dz, db, rows, cols, ld); break;
    }
}

/* The optimizer rules of optimizer.c, operation for operation (no fused
 * multiply-adds), as in ew_avx512.c. */
typedef struct opt_vecs {
    __m256 lr, mu, wd, sh, b1, b2, c1, c2, eps, step, sbc2;
    bool decay, shrink;
} opt_vecs;

INLINE void opt_vecs_load(opt_vecs *c, const gfi_ew_opt *o)
{
    c->lr = _mm256_set1_ps(o->lr);
    c->mu = _mm256_set1_ps(o->mu);
    c->wd = _mm256_set1_ps(o->wd);
    c->sh = _mm256_set1_ps(o->shrink);
    c->b1 = _mm256_set1_ps(o->b1);
    c->b2 = _mm256_set1_ps(o->b2);
    c->c1 = _mm256_set1_ps(o->one_minus_b1);
    c->c2 = _mm256_set1_ps(o->one_minus_b2);
    c->eps = _mm256_set1_ps(o->eps);
    c->step = _mm256_set1_ps(o->step);
    c->sbc2 = _mm256_set1_ps(o->sqrt_bc2);
    c->shrink = o->kind == GF_OPT_ADAMW && o->wd != 0.0f;
    c->decay = o->kind != GF_OPT_ADAMW && o->wd != 0.0f;
}

/* SGD, momentum, Nesterov on one vector (lanes outside m are neither read
 * nor written); returns the new weights, *st the new velocity (0 for SGD). */
INLINE __m256 sgd_vec(const opt_vecs *c, __m256 wv, __m256 gv, float *vel, __m256i m, bool full, __m256 *st,
                      int32_t kind)
{
    if (c->decay)
        gv = _mm256_add_ps(gv, _mm256_mul_ps(c->wd, wv));
    __m256 d;
    if (kind == GF_OPT_SGD) {
        d = gv;
        *st = _mm256_setzero_ps();
    } else {
        __m256 v = _mm256_add_ps(_mm256_mul_ps(c->mu, load(vel, m, full)), gv);
        store(vel, m, v, full);
        d = kind == GF_OPT_MOMENTUM ? v : _mm256_add_ps(gv, _mm256_mul_ps(c->mu, v));
        *st = v;
    }
    return _mm256_sub_ps(wv, _mm256_mul_ps(c->lr, d));
}

/* Adam, AdamW on one vector; *st1, *st2 the new moments. */
INLINE __m256 adam_vec(const opt_vecs *c, __m256 wv, __m256 gv, float *mom, float *var, __m256i m, bool full,
                       __m256 *st1, __m256 *st2)
{
    if (c->shrink)
        wv = _mm256_mul_ps(wv, c->sh);
    if (c->decay)
        gv = _mm256_add_ps(gv, _mm256_mul_ps(c->wd, wv));
    __m256 mv = _mm256_add_ps(_mm256_mul_ps(c->b1, load(mom, m, full)), _mm256_mul_ps(c->c1, gv));
    __m256 vv = _mm256_add_ps(_mm256_mul_ps(c->b2, load(var, m, full)), _mm256_mul_ps(_mm256_mul_ps(c->c2, gv), gv));
    __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vv), c->sbc2), c->eps);
    wv = _mm256_sub_ps(wv, _mm256_mul_ps(c->step, _mm256_div_ps(mv, denom)));
    store(mom, m, mv, full);
    store(var, m, vv, full);
    *st1 = mv;
    *st2 = vv;
    return wv;
}

/* One vector; kind and full are constants in each inlined instance. */
INLINE void update_vec(const opt_vecs *c, float *w, const float *g, float *mom, float *var, __m256i m, bool full,
                       int32_t kind)
{
    __m256 s1, s2, wv = load(w, m, full), gv = load(g, m, full);
    __m256 nw = kind == GF_OPT_ADAM ? adam_vec(c, wv, gv, mom, var, m, full, &s1, &s2)
                                    : sgd_vec(c, wv, gv, mom, m, full, &s1, kind);
    store(w, m, nw, full);
}

INLINE void update_run(const opt_vecs *c, float *w, const float *g, float *mom, float *var, size_t n,
                       int32_t kind)
{
    const bool sgd = kind == GF_OPT_SGD, adam = kind == GF_OPT_ADAM;
    const __m256i all = _mm256_set1_epi32(-1);
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        update_vec(c, w + i, g + i, sgd ? NULL : mom + i, adam ? var + i : NULL, all, true, kind);
    if (i < n)
        update_vec(c, w + i, g + i, sgd ? NULL : mom + i, adam ? var + i : NULL, gfi_avx2_lanes((int64_t)(n - i)), false, kind);
}

static void opt_update(const gfi_ew_opt *o, float *w, const float *g, float *m, float *v, size_t n)
{
    opt_vecs c;
    opt_vecs_load(&c, o);
    switch (o->kind) {
    case GF_OPT_SGD: update_run(&c, w, g, NULL, NULL, n, GF_OPT_SGD); break;
    case GF_OPT_MOMENTUM: update_run(&c, w, g, m, NULL, n, GF_OPT_MOMENTUM); break;
    case GF_OPT_NESTEROV: update_run(&c, w, g, m, NULL, n, GF_OPT_NESTEROV); break;
    default: update_run(&c, w, g, m, v, n, GF_OPT_ADAM); break; /* Adam and AdamW: c tells them apart */
    }
}

/* ---- the measured update: statistics gathered while stepping ---- */

static size_t first_nonfinite(const float *x, size_t n);

INLINE __m256d lo_pd(__m256 x) { return _mm256_cvtps_pd(_mm256_castps256_ps128(x)); }
INLINE __m256d hi_pd(__m256 x) { return _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1)); }

/* Running sums of one call.  AVX2 has 16 registers, so what can live
 * elsewhere does: the state check is one vector that x - x (0, or NaN for
 * NaN / Inf) is OR-ed into, and the two halves of each widened vector are
 * added before they are accumulated.  The zero counts are per-lane 32-bit
 * counters (a compare's all-ones lane is -1, subtracted), at most 2^25 per
 * lane in a call of stats_run (STATS_CHUNK / 8). */
typedef struct pacc {
    __m256d gs, gq, wq, dq;
    __m256 gmn, gmx, wmx, sbad;
    __m256 fgs, fgq; /* the gradient's sum and squares in float, GROUP vectors at a time */
    __m256 fwq, fdq; /* the old weights' and the changes' squares in float, as fgq */
    __m256d bwq, bdq; /* ... widened, over one block (see BLOCK) */
    __m256i gz, wz;
} pacc;

/* The float sums take GROUP vectors (at most GROUP terms per lane) before
 * they are widened and added in double (see gfi_float_sums_trusted). */
#define GROUP 8

INLINE void flush_ps(__m256 *f, __m256d *d)
{
    *d = _mm256_add_pd(*d, _mm256_add_pd(lo_pd(*f), hi_pd(*f)));
    *f = _mm256_setzero_ps();
}

/* Counts the lanes of x equal to zero, among the lanes of mask mf, into z. */
INLINE __m256i count_zeros(__m256i z, __m256 x, __m256 mf, bool full)
{
    __m256 eq = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_EQ_OQ);
    if (!full)
        eq = _mm256_and_ps(eq, mf);
    return _mm256_sub_epi32(z, _mm256_castps_si256(eq));
}

INLINE size_t lane_total(__m256i z)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(z), _mm256_extracti128_si256(z, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return (size_t)(uint32_t)_mm_cvtsi128_si32(s);
}

#ifndef PF_AHEAD
#define PF_AHEAD 768 /* floats: 3 KiB ahead, as in ew_avx512.c */
#endif

/* Whether any lane of the gradient gv or the old weights wv is NaN/Inf:
 * x - x is +0 for a finite x and NaN for NaN / Inf. */
INLINE __m256 bad_lanes(__m256 gv, __m256 wv) { return _mm256_or_ps(_mm256_sub_ps(gv, gv), _mm256_sub_ps(wv, wv)); }

INLINE bool any_set(__m256 x) { return !_mm256_testz_si256(_mm256_castps_si256(x), _mm256_castps_si256(x)); }

/* One vector whose gradient gv and old weights wv the caller has checked
 * (no NaN/Inf): steps it and adds g (in float partials), the old w and the
 * change (new and old widened to double, then subtracted) into a.
 * Lanes outside m load as 0, which adds nothing to the sums; they are kept
 * out of the minima, maxima and zero counts explicitly. */
INLINE void stats_vec(const opt_vecs *c, pacc *a, __m256 gv, __m256 wv, float *w, float *mom, float *var, __m256i m,
                      bool full, int32_t kind)
{
    __m256 nw, s1, s2;
    if (kind == GF_OPT_ADAM) {
        nw = adam_vec(c, wv, gv, mom, var, m, full, &s1, &s2);
        /* s - s is 0 for a finite s and NaN for NaN / Inf (lanes outside m
         * hold 0).  The SGD family needs no check: see ew_avx512.c. */
        a->sbad = _mm256_or_ps(a->sbad, _mm256_or_ps(_mm256_sub_ps(s1, s1), _mm256_sub_ps(s2, s2)));
    } else {
        nw = sgd_vec(c, wv, gv, mom, m, full, &s1, kind);
    }
    store(w, m, nw, full);
    __m256d wl = lo_pd(wv), wh = hi_pd(wv);
    a->fgs = _mm256_add_ps(a->fgs, gv);
    a->fgq = _mm256_fmadd_ps(gv, gv, a->fgq);
    a->wq = _mm256_add_pd(a->wq, _mm256_fmadd_pd(wl, wl, _mm256_mul_pd(wh, wh)));
    __m256d dl = _mm256_sub_pd(lo_pd(nw), wl), dh = _mm256_sub_pd(hi_pd(nw), wh);
    a->dq = _mm256_add_pd(a->dq, _mm256_fmadd_pd(dl, dl, _mm256_mul_pd(dh, dh)));
    /* new value first: a NaN lane keeps the running min/max; a lane outside
     * m offers the running value itself */
    __m256 gmin_in = gv, gmax_in = gv;
    const __m256 mf = _mm256_castsi256_ps(m);
    if (!full) {
        gmin_in = _mm256_blendv_ps(a->gmn, gv, mf);
        gmax_in = _mm256_blendv_ps(a->gmx, gv, mf);
    }
    a->gmn = _mm256_min_ps(gmin_in, a->gmn);
    a->gmx = _mm256_max_ps(gmax_in, a->gmx);
    a->wmx = _mm256_max_ps(gfi_avx2_abs_ps(wv), a->wmx); /* lanes outside m: |0| */
    a->gz = count_zeros(a->gz, gv, mf, full);
    a->wz = count_zeros(a->wz, wv, mf, full);
}

/* One vector of lanes m (the last, partial or a lone full one), checked
 * first as measure_block checks. */
INLINE bool stats_one(const opt_vecs *c, pacc *a, float *w, const float *g, float *mom, float *var, __m256i m,
                      bool full, int32_t kind)
{
    __m256 gv = load(g, m, full), wv = load(w, m, full);
    if (any_set(bad_lanes(gv, wv)))
        return false;
    stats_vec(c, a, gv, wv, w, mom, var, m, full, kind);
    return true;
}

/* The measured update runs in blocks of BLOCK floats, a multiple of a
 * group's 8 * GROUP, so the gradient's float partials are flushed where
 * they always were.
 *
 * The squares of the old weights and of the changes are summed as the
 * gradient's are, in float partials of at most GROUP per lane, then in
 * double.  Widening every old and new weight to double (a conversion is
 * two uops, on the two pipes the adds use too) cost more than the
 * optimizer's own arithmetic: the update with every statistic took 3.5 x
 * the plain one for momentum, 2.5 x for Adam.  A change is taken in float,
 * new - old: exact when the two are within a factor of 2 of each other
 * (Sterbenz), as they are unless a weight crosses or leaves 0, and within
 * 2^-24 of the exact difference otherwise.  A block's float sum that
 * gfi_float_sums_trusted (ew.h) cannot vouch for (a square overflowed, or
 * the squares are so small that those that underflowed may count, as a
 * vanishing net's changes are) is redone in double from the values: the
 * block's old weights are kept in a buffer for that.  So each sum is within
 * 2^-21 of the double loop's, as the gradient's is. */
#ifndef BLOCK
#define BLOCK 1024
#endif

/* The gradient's and the old weights' statistics of one vector of 8
 * checked lanes. */
INLINE void measure_vec(pacc *a, __m256 gv, __m256 wv)
{
    a->fgs = _mm256_add_ps(a->fgs, gv);
    a->fgq = _mm256_fmadd_ps(gv, gv, a->fgq);
    a->fwq = _mm256_fmadd_ps(wv, wv, a->fwq);
    a->gmn = _mm256_min_ps(gv, a->gmn);
    a->gmx = _mm256_max_ps(gv, a->gmx);
    a->wmx = _mm256_max_ps(gfi_avx2_abs_ps(wv), a->wmx);
    a->gz = count_zeros(a->gz, gv, gv, true);
    a->wz = count_zeros(a->wz, wv, wv, true);
}

/* Steps one vector of 8 checked lanes (gradient gv, old weights wv) and
 * adds its change's square; the old weights go to old. */
INLINE void step_vec(const opt_vecs *c, pacc *a, __m256 gv, __m256 wv, float *w, float *mom, float *var, float *old,
                     int32_t kind)
{
    const __m256i all = _mm256_set1_epi32(-1);
    __m256 nw, s1, s2;
    if (kind == GF_OPT_ADAM) {
        nw = adam_vec(c, wv, gv, mom, var, all, true, &s1, &s2);
        a->sbad = _mm256_or_ps(a->sbad, _mm256_or_ps(_mm256_sub_ps(s1, s1), _mm256_sub_ps(s2, s2)));
    } else {
        nw = sgd_vec(c, wv, gv, mom, all, true, &s1, kind);
    }
    _mm256_storeu_ps(w, nw);
    _mm256_store_ps(old, wv);
    __m256 d = _mm256_sub_ps(nw, wv);
    a->fdq = _mm256_fmadd_ps(d, d, a->fdq);
}

/* In double lanes, the sum of x^2 or, with y, of (x - y)^2 over n floats
 * (a multiple of 8), each value widened: the float partials' fallback. */
INLINE __m256d sq_pd(const float *x, const float *y, size_t n)
{
    __m256d acc = _mm256_setzero_pd();
    for (size_t i = 0; i < n; i += 8) {
        __m256 xv = _mm256_loadu_ps(x + i);
        __m256d xl = lo_pd(xv), xh = hi_pd(xv);
        if (y) {
            __m256 yv = _mm256_loadu_ps(y + i);
            xl = _mm256_sub_pd(xl, lo_pd(yv));
            xh = _mm256_sub_pd(xh, hi_pd(yv));
        }
        acc = _mm256_add_pd(acc, _mm256_fmadd_pd(xl, xl, _mm256_mul_pd(xh, xh)));
    }
    return acc;
}

/* Adds a block's float-partial sum b of n squares into *to, or when it
 * cannot be trusted, the sum of squares redone in double by sq_pd. */
INLINE void add_block(__m256d *to, __m256d *b, const float *x, const float *y, size_t n)
{
    if (!gfi_float_sums_trusted(gfi_avx2_sum_pd(*b), 0.0, n))
        *b = sq_pd(x, y, n);
    *to = _mm256_add_pd(*to, *b);
    *b = _mm256_setzero_pd();
}

/* Steps and measures the whole pairs (16 floats) of [i, end), from a group
 * boundary i, keeping the old weights in old: returns where it stopped,
 * *bad when a gradient or old weight of the pair there is NaN/Inf (nothing
 * of that pair is stepped or counted). */
INLINE size_t run_block(const opt_vecs *c, pacc *a, float *w, const float *g, float *mom, float *var, float *old,
                        size_t i, size_t end, bool *bad, int32_t kind)
{
    const size_t i0 = i;
    const bool sgd = kind == GF_OPT_SGD, adam = kind == GF_OPT_ADAM;
    while (i + 16 <= end) {
        size_t stop = end - i >= 8 * GROUP ? i + 8 * GROUP : end;
        for (; i + 16 <= stop; i += 16) {
            /* the streams fetched ahead (past the end is harmless), one 64-byte line of each per pair */
            _mm_prefetch((const char *)(g + i + PF_AHEAD), _MM_HINT_T0);
            _mm_prefetch((const char *)(w + i + PF_AHEAD), _MM_HINT_T0);
            if (!sgd)
                _mm_prefetch((const char *)(mom + i + PF_AHEAD), _MM_HINT_T0);
            if (adam)
                _mm_prefetch((const char *)(var + i + PF_AHEAD), _MM_HINT_T0);
            __m256 g0 = _mm256_loadu_ps(g + i), w0 = _mm256_loadu_ps(w + i);
            __m256 g1 = _mm256_loadu_ps(g + i + 8), w1 = _mm256_loadu_ps(w + i + 8);
            if (any_set(_mm256_or_ps(bad_lanes(g0, w0), bad_lanes(g1, w1)))) {
                *bad = true;
                end = i;
                break;
            }
            measure_vec(a, g0, w0);
            step_vec(c, a, g0, w0, w + i, sgd ? NULL : mom + i, adam ? var + i : NULL, old + (i - i0), kind);
            measure_vec(a, g1, w1);
            step_vec(c, a, g1, w1, w + i + 8, sgd ? NULL : mom + i + 8, adam ? var + i + 8 : NULL, old + (i - i0) + 8,
                     kind);
        }
        flush_ps(&a->fgs, &a->gs);
        flush_ps(&a->fgq, &a->gq);
        flush_ps(&a->fwq, &a->bwq);
        flush_ps(&a->fdq, &a->bdq);
    }
    return i;
}

#define STATS_CHUNK ((size_t)1 << 28) /* elements per call of stats_run */

/* Returns how far it stepped. */
INLINE size_t stats_run(const opt_vecs *c, float *w, const float *g, float *mom, float *var, size_t k,
                        gfi_ew_pstats *s, int32_t kind)
{
    pacc a;
    a.gs = a.gq = a.wq = a.dq = _mm256_setzero_pd();
    a.gmn = _mm256_set1_ps(s->gmin);
    a.gmx = _mm256_set1_ps(s->gmax);
    a.wmx = _mm256_set1_ps(s->wmax);
    a.sbad = a.fgs = a.fgq = a.fwq = a.fdq = _mm256_setzero_ps();
    a.bwq = a.bdq = _mm256_setzero_pd();
    a.gz = a.wz = _mm256_setzero_si256();
    const bool sgd = kind == GF_OPT_SGD, adam = kind == GF_OPT_ADAM;
    size_t i = 0;
    bool ok = true;
    _Alignas(32) float old[BLOCK];
    while (ok && i + 16 <= k) {
        size_t end = k - i >= BLOCK ? i + BLOCK : k;
        bool bad = false;
        size_t j = run_block(c, &a, w, g, mom, var, old, i, end, &bad, kind);
        add_block(&a.wq, &a.bwq, old, NULL, j - i);
        add_block(&a.dq, &a.bdq, w + i, old, j - i);
        i = j;
        ok = !bad;
    }
    const __m256i all = _mm256_set1_epi32(-1);
    if (ok && i + 8 <= k &&
        (ok = stats_one(c, &a, w + i, g + i, sgd ? NULL : mom + i, adam ? var + i : NULL, all, true, kind)))
        i += 8;
    if (ok && i < k &&
        stats_one(c, &a, w + i, g + i, sgd ? NULL : mom + i, adam ? var + i : NULL, gfi_avx2_lanes((int64_t)(k - i)),
                  false, kind))
        i = k;
    flush_ps(&a.fgs, &a.gs);
    flush_ps(&a.fgq, &a.gq);
    size_t gz = lane_total(a.gz);
    double gsum = gfi_avx2_sum_pd(a.gs), gss = gfi_avx2_sum_pd(a.gq);
    /* an all-zero gradient (a dead layer's) has exact sums of 0 */
    if (!gfi_float_moments_trusted(gss, gsum, i) && gz != i)
        gfi_moment_exact(g, i, &gsum, &gss); /* in double (a vanishing gradient's squares underflow) */
    s->gsum += gsum;
    s->gss += gss;
    s->wss += gfi_avx2_sum_pd(a.wq);
    double d2 = gfi_avx2_sum_pd(a.dq);
    s->d2 += d2;
    if (!sgd && !adam && !isfinite(d2)) /* momentum, Nesterov: a bad velocity made a weight bad */
        s->state_bad |= first_nonfinite(mom, i) < i;
    s->gmin = gfi_avx2_extreme_ps(a.gmn, 0);
    s->gmax = gfi_avx2_extreme_ps(a.gmx, 1);
    s->wmax = gfi_avx2_extreme_ps(a.wmx, 1);
    s->gzeros += gz;
    s->wzeros += lane_total(a.wz);
    s->state_bad |= any_set(a.sbad);
    return i;
}

static size_t opt_update_stats(const gfi_ew_opt *o, float *w, const float *g, float *mom, float *var, size_t n,
                               gfi_ew_pstats *s)
{
    opt_vecs c;
    opt_vecs_load(&c, o);
    for (size_t at = 0; at < n; at += STATS_CHUNK) {
        size_t k = n - at < STATS_CHUNK ? n - at : STATS_CHUNK, done;
        switch (o->kind) {
        case GF_OPT_SGD: done = stats_run(&c, w + at, g + at, NULL, NULL, k, s, GF_OPT_SGD); break;
        case GF_OPT_MOMENTUM: done = stats_run(&c, w + at, g + at, mom + at, NULL, k, s, GF_OPT_MOMENTUM); break;
        case GF_OPT_NESTEROV: done = stats_run(&c, w + at, g + at, mom + at, NULL, k, s, GF_OPT_NESTEROV); break;
        default: /* Adam and AdamW: c tells them apart */
            done = stats_run(&c, w + at, g + at, mom + at, var + at, k, s, GF_OPT_ADAM);
            break;
        }
        if (done < k)
            return at + done;
    }
    return n;
}

/* NaN and Inf are the floats whose exponent bits are all ones. */
static size_t first_nonfinite(const float *x, size_t n)
{
    const __m256i expo = _mm256_set1_epi32(0x7f800000);
    for (size_t i = 0; i < n; i += 8) {
        /* the caller's batch, usually not in cache: one line fetched ahead every other vector */
        if ((i & 8) == 0)
            _mm_prefetch((const char *)(x + i + PF_AHEAD), _MM_HINT_T0);
        __m256i m = gfi_avx2_lanes((int64_t)(n - i));
        __m256i v = _mm256_and_si256(_mm256_castps_si256(load(x + i, m, i + 8 <= n)), expo);
        int bad = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_and_si256(_mm256_cmpeq_epi32(v, expo), m)));
        if (bad)
            return i + (size_t)__builtin_ctz((unsigned)bad);
    }
    return n;
}

/* Even and odd columns of 16 consecutive floats a (the first 8) and b. */
INLINE void split_columns(__m256 a, __m256 b, __m256 *even, __m256 *odd)
{
    /* shuffle_ps works within 128-bit halves: columns come out as 0 2 8 10 4 6 12 14; the 64-bit permute puts
     * them in order */
    *even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xd8));
    *odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xdd)), 0xd8));
}

/* 2 x 2 max pooling at column stride 2, 8 windows a step (see ew_avx512.c). */
static void max_pool_2x2(const float *x, int64_t w, int64_t sh, int64_t sw, float *y, int32_t *arg, int64_t oh,
                         int64_t ow)
{
    if (sw != 2) {
        gfi_max_pool_2x2_portable(x, w, sh, sw, y, arg, oh, ow);
        return;
    }
    const __m256i even = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    for (int64_t oy = 0; oy < oh; oy++) {
        const float *r0 = x + oy * sh * w, *r1 = r0 + w;
        for (int64_t ox = 0; ox < ow; ox += 8) {
            int64_t n = ow - ox < 8 ? ow - ox : 8;
            bool full = n == 8;
            __m256i lo = gfi_avx2_lanes(2 * n), hi = gfi_avx2_lanes(2 * n - 8), m = gfi_avx2_lanes(n);
            __m256 v[4];
            split_columns(load(r0 + 2 * ox, lo, full), load(r0 + 2 * ox + 8, hi, full), &v[0], &v[1]);
            split_columns(load(r1 + 2 * ox, lo, full), load(r1 + 2 * ox + 8, hi, full), &v[2], &v[3]);
            const __m256i i0 = _mm256_add_epi32(_mm256_set1_epi32((int32_t)(oy * sh * w + 2 * ox)), even);
            const int32_t off[4] = {0, 1, (int32_t)w, (int32_t)w + 1};
            __m256 best = v[0];
            __m256i where = i0;
            __m256 nan = _mm256_cmp_ps(v[0], v[0], _CMP_UNORD_Q);
            for (int k = 1; k < 4; k++) {
                __m256 gt = _mm256_cmp_ps(v[k], best, _CMP_GT_OQ);
                best = _mm256_blendv_ps(best, v[k], gt);
                where = _mm256_blendv_epi8(where, _mm256_add_epi32(i0, _mm256_set1_epi32(off[k])),
                                           _mm256_castps_si256(gt));
                nan = _mm256_or_ps(nan, _mm256_cmp_ps(v[k], v[k], _CMP_UNORD_Q));
            }
            if (_mm256_movemask_ps(_mm256_and_ps(nan, _mm256_castsi256_ps(m))))
                for (int k = 0; k < 4; k++) {
                    __m256 isnan = _mm256_cmp_ps(v[k], v[k], _CMP_UNORD_Q);
                    best = _mm256_blendv_ps(best, v[k], isnan);
                    where = _mm256_blendv_epi8(where, _mm256_add_epi32(i0, _mm256_set1_epi32(off[k])),
                                               _mm256_castps_si256(isnan));
                }
            store(y + oy * ow + ox, m, best, full);
            if (arg) {
                if (full)
                    _mm256_storeu_si256((__m256i *)(void *)(arg + oy * ow + ox), where);
                else
                    _mm256_maskstore_epi32(arg + oy * ow + ox, m, where);
            }
        }
    }
}

/* Rows of 4 floats or more take no masked store: vmaskmovps to memory is microcoded and slow on AMD
 * (Zen 3: a row of 7 floats cost about as much as a row of 64).  The last 8 (or 4) columns are done again,
 * overlapping the ones before: a copy writes the same value twice, and add_rows computes its overlapping
 * chunk from the values before any store, so an element is still added once. */
static void copy_row(float *d, const float *s, int64_t cols)
{
    if (cols >= 8) {
        __m256 last = _mm256_loadu_ps(s + cols - 8);
        for (int64_t c = 0; c + 8 <= cols; c += 8)
            _mm256_storeu_ps(d + c, _mm256_loadu_ps(s + c));
        _mm256_storeu_ps(d + cols - 8, last);
    } else if (cols >= 4) {
        __m128 first = _mm_loadu_ps(s), last = _mm_loadu_ps(s + cols - 4);
        _mm_storeu_ps(d, first);
        _mm_storeu_ps(d + cols - 4, last);
    } else
        for (int64_t c = 0; c < cols; c++)
            d[c] = s[c];
}

static void copy_rows(float *d, int64_t ldd, int64_t dplane, const float *s, int64_t lds, int64_t splane,
                      int64_t planes, int64_t rows, int64_t cols)
{
    if (cols <= 0)
        return;
    for (int64_t q = 0; q < planes; q++) {
        float *dq = d + q * dplane;
        const float *sq = s + q * splane;
        for (int64_t r = 0; r < rows; r++, dq += ldd, sq += lds)
            copy_row(dq, sq, cols);
    }
}

static void add_rows(float *d, int64_t ldd, const float *s, int64_t lds, int64_t rows, int64_t cols)
{
    for (int64_t r = 0; r < rows; r++, d += ldd, s += lds) {
        if (cols >= 8) {
            __m256 last = _mm256_add_ps(_mm256_loadu_ps(d + cols - 8), _mm256_loadu_ps(s + cols - 8));
            for (int64_t c = 0; c + 8 <= cols; c += 8)
                _mm256_storeu_ps(d + c, _mm256_add_ps(_mm256_loadu_ps(d + c), _mm256_loadu_ps(s + c)));
            _mm256_storeu_ps(d + cols - 8, last);
        } else if (cols >= 4) {
            __m128 first = _mm_add_ps(_mm_loadu_ps(d), _mm_loadu_ps(s)),
                   last = _mm_add_ps(_mm_loadu_ps(d + cols - 4), _mm_loadu_ps(s + cols - 4));
            _mm_storeu_ps(d, first);
            _mm_storeu_ps(d + cols - 4, last);
        } else
            for (int64_t c = 0; c < cols; c++)
                d[c] += s[c];
    }
}

/* The 16 partial sums in four vectors of doubles (see ew_avx512.c). */
static double run_sum16(const float *x, int64_t n)
{
    __m256d acc[4] = {_mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd(), _mm256_setzero_pd()};
    const int64_t full = n > 0 ? n & ~(int64_t)15 : 0, rest = n > 0 ? n - full : 0;
    for (int64_t i = 0; i < full; i += 16) {
        __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
        acc[0] = _mm256_add_pd(acc[0], lo_pd(a));
        acc[1] = _mm256_add_pd(acc[1], hi_pd(a));
        acc[2] = _mm256_add_pd(acc[2], lo_pd(b));
        acc[3] = _mm256_add_pd(acc[3], hi_pd(b));
    }
    if (rest) {
        __m256 a = _mm256_maskload_ps(x + full, gfi_avx2_lanes(rest)),
               b = _mm256_maskload_ps(x + full + 8, gfi_avx2_lanes(rest - 8));
        acc[0] = _mm256_add_pd(acc[0], lo_pd(a));
        acc[1] = _mm256_add_pd(acc[1], hi_pd(a));
        acc[2] = _mm256_add_pd(acc[2], lo_pd(b));
        acc[3] = _mm256_add_pd(acc[3], hi_pd(b));
    }
    double part[16], s = 0.0;
    for (int q = 0; q < 4; q++)
        _mm256_storeu_pd(part + 4 * q, acc[q]);
    for (int j = 0; j < 16; j++)
        s += part[j];
    return s;
}

const gfi_ew_ops gfi_ew_avx2 = {bias_act,         act_grad_colsum, opt_update, first_nonfinite, opt_update_stats,
                                max_pool_2x2,     copy_rows,       run_sum16,  add_rows};

#elif defined(GFI_GEMM_HAVE_X86)
/* Built without the AVX2 flags: ew.c never selects this table. */
const gfi_ew_ops gfi_ew_avx2 = {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
#else
typedef int gfi_ew_avx2_unused;
#endif
