/*
 * ew_avx512.c — AVX-512 versions of the element-wise passes (see ew.h), 16
 * floats per vector with masked tails.  Built with the AVX-512 flags (the
 * Makefile's isa_flags); ew.c selects it only after checking the CPU.
 *
 * tanh and sigmoid are computed in float from one exponential, e = exp(-2|x|)
 * resp. exp(-|x|), which never overflows (so +-1e4 gives exactly +-1, 0 or 1),
 * with a Taylor polynomial for tanh near 0 where (1 - e)/(1 + e) would lose
 * digits.  ELU and SELU take expm1 from the same reduction (expm1_nonpositive)
 * and their gradient alpha e^z from z; softplus is max(x, 0) + log1p(e^-|x|)
 * with a series log1p (log1p_unit); GELU is x Phi(x) in double from Mills'
 * ratio (normal_pd); leaky ReLU computes slope x in double,
 * as activation.c.  Relative error is a few float ulps; NaN propagates, as in
 * double.
 */
#include "diag_stats.h"
#include "ew.h"
#include "gemm.h"

#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__FMA__)
#include <immintrin.h>
#include <math.h>

#define INLINE static inline __attribute__((always_inline))

static inline __mmask16 lanes(int64_t n) { return n >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << n) - 1u); }

/* x <= 0 as n ln2 + r with |r| <= ln2/2 (ln2 split in two so n ln2 is exact), and q(r) with e^r = 1 + r q(r)
 * from e^r's degree-7 Taylor polynomial (truncation < 5e-9 relative): the reduction exp_nonpositive and
 * expm1_nonpositive share.  Below -104 the result is 0 in float anyway; the clamp keeps NaN (max returns its
 * second operand). */
static inline __m512 exp_reduce(__m512 x, __m512 *n, __m512 *r)
{
    x = _mm512_max_ps(_mm512_set1_ps(-104.0f), x);
    *n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 rr = _mm512_fnmadd_ps(*n, _mm512_set1_ps(0.693359375f), x);
    rr = _mm512_fnmadd_ps(*n, _mm512_set1_ps(-2.12194440e-4f), rr);
    __m512 q = _mm512_set1_ps(1.0f / 5040.0f);
    q = _mm512_fmadd_ps(q, rr, _mm512_set1_ps(1.0f / 720.0f));
    q = _mm512_fmadd_ps(q, rr, _mm512_set1_ps(1.0f / 120.0f));
    q = _mm512_fmadd_ps(q, rr, _mm512_set1_ps(1.0f / 24.0f));
    q = _mm512_fmadd_ps(q, rr, _mm512_set1_ps(1.0f / 6.0f));
    q = _mm512_fmadd_ps(q, rr, _mm512_set1_ps(0.5f));
    q = _mm512_fmadd_ps(q, rr, _mm512_set1_ps(1.0f));
    *r = rr;
    return q;
}

/* exp(x) for x <= 0: 1 + r q(r), times 2^n by scalef. */
static inline __m512 exp_nonpositive(__m512 x)
{
    __m512 n, r, q = exp_reduce(x, &n, &r);
    return _mm512_scalef_ps(_mm512_fmadd_ps(q, r, _mm512_set1_ps(1.0f)), n);
}

/* expm1(x) for x <= 0, from the same reduction: e^x - 1 = 2^n (r q(r)) + (2^n - 1), in one fused
 * multiply-add.  For n = 0 (|x| <= ln2/2) that is r q(r), with nothing to cancel; for n <= -1 the result is
 * at least 0.29 in size and 2^n - 1 is exact (n >= -24), or rounds to -1 where expm1 does too.  NaN stays
 * NaN. */
static inline __m512 expm1_nonpositive(__m512 x)
{
    __m512 n, r, q = exp_reduce(x, &n, &r);
    __m512 two_n = _mm512_scalef_ps(_mm512_set1_ps(1.0f), n);
    return _mm512_fmadd_ps(two_n, _mm512_mul_ps(r, q), _mm512_sub_ps(two_n, _mm512_set1_ps(1.0f)));
}

static inline __m512 abs_ps(__m512 x)
{
    return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32(0x7fffffff)));
}

/* tanh: for |x| < 0.55 the odd Taylor series to x^17 (next term < 6e-9
 * relative there); otherwise sign(x) (1 - e) / (1 + e), e = exp(-2|x|). */
static inline __m512 tanh_ps(__m512 x)
{
    __m512 a = abs_ps(x);
    /* Each lane takes one of the two formulas; a vector whose lanes all take
     * the same one skips the other (lanes past the data are zero: series). */
    __mmask16 small = _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.55f), _CMP_LT_OQ);
    __m512 t = _mm512_setzero_ps(), s = t;
    if (small != (__mmask16)0xffff) {
        __m512 e = exp_nonpositive(_mm512_mul_ps(a, _mm512_set1_ps(-2.0f)));
        __m512 one = _mm512_set1_ps(1.0f);
        t = _mm512_div_ps(_mm512_sub_ps(one, e), _mm512_add_ps(one, e));
        t = _mm512_castsi512_ps(_mm512_or_si512(
            _mm512_castps_si512(t), _mm512_and_si512(_mm512_castps_si512(x), _mm512_set1_epi32((int)0x80000000u))));
        if (!small)
            return t;
    }
    __m512 x2 = _mm512_mul_ps(x, x);
    __m512 q = _mm512_set1_ps(6404582.0f / 10854718875.0f);
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(-929569.0f / 638512875.0f));
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(21844.0f / 6081075.0f));
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(-1382.0f / 155925.0f));
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(62.0f / 2835.0f));
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(-17.0f / 315.0f));
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(2.0f / 15.0f));
    q = _mm512_fmadd_ps(q, x2, _mm512_set1_ps(-1.0f / 3.0f));
    s = _mm512_fmadd_ps(_mm512_mul_ps(x, x2), q, x);
    return _mm512_mask_blend_ps(small, t, s);
}

/* sigmoid: 1 / (1 + e) for x >= 0, e / (1 + e) below, e = exp(-|x|). */
static inline __m512 sigmoid_ps(__m512 x)
{
    __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_setzero_ps(), abs_ps(x)));
    __m512 s = _mm512_div_ps(_mm512_set1_ps(1.0f), _mm512_add_ps(_mm512_set1_ps(1.0f), e));
    __mmask16 nonneg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ);
    return _mm512_mask_blend_ps(nonneg, _mm512_mul_ps(e, s), s);
}

/* slope * x in double, rounded once to float (leaky ReLU's negative side, as activation.c computes it). */
static inline __m512 times_slope(double slope, __m512 x)
{
    __m512d s = _mm512_set1_pd(slope);
    __m256 lo = _mm512_cvtpd_ps(_mm512_mul_pd(s, _mm512_cvtps_pd(_mm512_castps512_ps256(x))));
    __m256 hi = _mm512_cvtpd_ps(
        _mm512_mul_pd(s, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)))));
    return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}

/* log1p(u) for 0 <= u <= 1 (softplus's log1p(e^-|x|)): 2 atanh(s), s = u / (2 + u) <= 1/3, as
 * 2 s (1 + t/3 + t^2/5 + ... + t^7/15), t = s^2 <= 1/9 (the next term is below 3e-9 relative); relative
 * everywhere, so a tiny u gives u.  NaN stays NaN. */
static inline __m512 log1p_unit(__m512 u)
{
    __m512 s = _mm512_div_ps(u, _mm512_add_ps(_mm512_set1_ps(2.0f), u));
    __m512 t = _mm512_mul_ps(s, s);
    __m512 p = _mm512_set1_ps(1.0f / 15.0f);
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.0f / 13.0f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.0f / 11.0f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.0f / 9.0f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.0f / 7.0f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.0f / 5.0f));
    p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.0f / 3.0f));
    p = _mm512_mul_ps(p, t);
    __m512 s2 = _mm512_add_ps(s, s);
    return _mm512_fmadd_ps(s2, p, s2);
}

/* softplus: max(x, 0) + log1p(e^-|x|), which never overflows; max keeps NaN (its second operand) through
 * the log1p term. */
static inline __m512 softplus_ps(__m512 x)
{
    __m512 e = exp_nonpositive(_mm512_sub_ps(_mm512_setzero_ps(), abs_ps(x)));
    return _mm512_add_ps(_mm512_max_ps(x, _mm512_setzero_ps()), log1p_unit(e));
}

/* ---- GELU, in double ---- */

/* e^-h for 0 <= h <= 200, in double: -h = n ln2 + r (ln2 in two parts, so n ln2_hi is exact), |r| <= ln2/2,
 * e^r by its Taylor polynomial to r^13 (truncation below 4e-18 relative), times 2^n by scalef. */
static inline __m512d exp_neg_pd(__m512d h)
{
    __m512d x = _mm512_sub_pd(_mm512_setzero_pd(), h);
    __m512d n = _mm512_roundscale_pd(_mm512_mul_pd(x, _mm512_set1_pd(1.4426950408889634)),
                                     _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512d r = _mm512_fnmadd_pd(n, _mm512_set1_pd(6.93147180369123816490e-01), x);
    r = _mm512_fnmadd_pd(n, _mm512_set1_pd(1.90821492927058770002e-10), r);
    __m512d p = _mm512_set1_pd(1.0 / 6227020800.0);
    static const double inv_fact[13] = {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0, 1.0 / 362880.0,
                                        1.0 / 40320.0,     1.0 / 5040.0,     1.0 / 720.0,      1.0 / 120.0,
                                        1.0 / 24.0,        1.0 / 6.0,        0.5,              1.0,
                                        1.0};
    for (int k = 0; k < 13; k++)
        p = _mm512_fmadd_pd(p, r, _mm512_set1_pd(inv_fact[k]));
    return _mm512_scalef_pd(p, n);
}

/* Phi(x) and phi(x) for a standard normal, 8 lanes in double: Q(a) = phi(a) R(a) for a = |x| (ew.h), Phi =
 * 1 - Q above 0 and Q below; past |x| = 20 (where x Phi(x) is 0 in float below 0, and Phi 1 above) both
 * tails are taken as 0, which also gives activation.c's NaN for x Phi(x) at -inf and x phi(x) at +-inf. */
static inline void normal_pd(__m512d x, __m512d *cdf, __m512d *pdf)
{
    __m512d a = _mm512_abs_pd(x);
    __mmask8 far = _mm512_cmp_pd_mask(a, _mm512_set1_pd(20.0), _CMP_GT_OQ);
    a = _mm512_min_pd(_mm512_set1_pd(20.0), a); /* min keeps NaN (its second operand) */
    __m512d t = _mm512_div_pd(_mm512_set1_pd(1.0), _mm512_fmadd_pd(a, _mm512_set1_pd(0.25), _mm512_set1_pd(1.0)));
    __m512d S = _mm512_set1_pd(gfi_gelu_mills[GFI_GELU_MILLS_DEG]);
    for (int k = GFI_GELU_MILLS_DEG - 1; k >= 0; k--)
        S = _mm512_fmadd_pd(S, t, _mm512_set1_pd(gfi_gelu_mills[k]));
    __m512d phi = _mm512_mul_pd(exp_neg_pd(_mm512_mul_pd(_mm512_mul_pd(a, a), _mm512_set1_pd(0.5))),
                                _mm512_set1_pd(0.39894228040143267794));
    phi = _mm512_mask_blend_pd(far, phi, _mm512_setzero_pd());
    __m512d q = _mm512_mul_pd(phi, _mm512_mul_pd(t, S));
    __mmask8 nonneg = _mm512_cmp_pd_mask(x, _mm512_setzero_pd(), _CMP_GE_OQ);
    *cdf = _mm512_mask_blend_pd(nonneg, q, _mm512_sub_pd(_mm512_set1_pd(1.0), q));
    *pdf = phi;
}

/* The low and high 8 floats of a vector, widened to double (exactly). */
INLINE __m512d lo_pd(__m512 x) { return _mm512_cvtps_pd(_mm512_castps512_ps256(x)); }
INLINE __m512d hi_pd(__m512 x) { return _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1))); }
static inline __m512 join_ps(__m512d lo, __m512d hi)
{
    return _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(lo)), _mm512_cvtpd_ps(hi), 1);
}

/* GELU x Phi(x), in double, rounded once. */
static inline __m512 gelu_ps(__m512 x)
{
    __m512d h[2] = {lo_pd(x), hi_pd(x)}, cdf, pdf;
    for (int i = 0; i < 2; i++) {
        normal_pd(h[i], &cdf, &pdf);
        h[i] = _mm512_mul_pd(h[i], cdf);
    }
    return join_ps(h[0], h[1]);
}

/* dy (Phi(z) + z phi(z)), in double, rounded once. */
static inline __m512 gelu_grad_ps(__m512 z, __m512 dy)
{
    __m512d zz[2] = {lo_pd(z), hi_pd(z)}, d[2] = {lo_pd(dy), hi_pd(dy)}, cdf, pdf;
    for (int i = 0; i < 2; i++) {
        normal_pd(zz[i], &cdf, &pdf);
        d[i] = _mm512_mul_pd(d[i], _mm512_fmadd_pd(zz[i], pdf, cdf));
    }
    return join_ps(d[0], d[1]);
}

/* dy * (a * e) in double, a a double, rounded once to float (ELU's and SELU's gradient below 0, e = e^z). */
static inline __m512 times_scaled(double a, __m512 e, __m512 dy)
{
    __m512d s = _mm512_set1_pd(a);
    __m256 lo = _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(dy)),
                                              _mm512_mul_pd(s, _mm512_cvtps_pd(_mm512_castps512_ps256(e)))));
    __m256 hi = _mm512_cvtpd_ps(
        _mm512_mul_pd(_mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(dy), 1))),
                      _mm512_mul_pd(s, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))))));
    return _mm512_insertf32x8(_mm512_castps256_ps512(lo), hi, 1);
}

static inline __m512 act(int32_t kind, double slope, __m512 z)
{
    switch (kind) {
    case GF_ACT_RELU:
        /* x > 0 ? x : 0, so NaN gives 0 like the scalar comparison. */
        return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_GT_OQ), z);
    case GF_ACT_LEAKY_RELU: /* x > 0 ? x : slope x, so NaN gives slope NaN = NaN */
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_GT_OQ), times_slope(slope, z), z);
    case GF_ACT_ELU: { /* x >= 0 ? x : alpha expm1(x); at -0 that is -0, as alpha expm1(-0) */
        __m512 em1 = expm1_nonpositive(_mm512_min_ps(_mm512_setzero_ps(), z)); /* min keeps NaN (its 2nd operand) */
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_GE_OQ), times_slope(slope, em1), z);
    }
    case GF_ACT_SELU: {
        __m512 em1 = expm1_nonpositive(_mm512_min_ps(_mm512_setzero_ps(), z));
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_GE_OQ),
                                    times_slope(GFI_SELU_LAMBDA * GFI_SELU_ALPHA, em1), times_slope(GFI_SELU_LAMBDA, z));
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
        for (int64_t j = 0; j < cols; j += 16) {
            __mmask16 m = lanes(cols - j);
            __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, zr + j), _mm512_maskz_loadu_ps(m, b + j));
            _mm512_mask_storeu_ps(zr + j, m, v);
            _mm512_mask_storeu_ps(yr + j, m, act(kind, slope, v));
        }
    }
}

/* dy * f'(z); relu'(0) = 0, and dy * 0 keeps NaN in dy as the scalar code does; leaky'(z <= 0) = slope,
 * dy * slope in double as the scalar code. */
static inline __m512 act_grad(int32_t kind, double slope, __m512 z, __m512 y, __m512 dy)
{
    __m512 one = _mm512_set1_ps(1.0f);
    switch (kind) {
    case GF_ACT_RELU:
        return _mm512_mul_ps(dy, _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_GT_OQ), one));
    case GF_ACT_LEAKY_RELU:
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_GT_OQ), times_slope(slope, dy), dy);
    case GF_ACT_ELU: { /* elu'(z <= 0) = alpha e^z, from z */
        __m512 e = exp_nonpositive(_mm512_min_ps(_mm512_setzero_ps(), z));
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_GT_OQ), times_scaled(slope, e, dy), dy);
    }
    case GF_ACT_SELU: {
        __m512 e = exp_nonpositive(_mm512_min_ps(_mm512_setzero_ps(), z));
        return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(z, _mm512_setzero_ps(), _CMP_GT_OQ),
                                    times_scaled(GFI_SELU_LAMBDA * GFI_SELU_ALPHA, e, dy), times_slope(GFI_SELU_LAMBDA, dy));
    }
    case GF_ACT_SOFTPLUS: return _mm512_mul_ps(dy, sigmoid_ps(z)); /* softplus' = sigmoid, from z */
    case GF_ACT_GELU: return gelu_grad_ps(z, dy);
    case GF_ACT_TANH: return _mm512_mul_ps(dy, _mm512_fnmadd_ps(y, y, one));
    case GF_ACT_SIGMOID: return _mm512_mul_ps(dy, _mm512_mul_ps(y, _mm512_sub_ps(one, y)));
    default: return dy;
    }
}

/* Row by row (sequential reads and writes; walking 16-column strips down the
 * rows instead touched one line per row at a power-of-two stride, which the
 * L1 cannot hold), with each column's running sum in a double in an L1 buffer,
 * added in row order like the scalar loop.  kind is a constant in each
 * instance (act_grad_colsum below picks one). */
static inline __attribute__((always_inline)) void act_grad_colsum_impl(const int32_t kind, double slope, const float *z,
                                                                       const float *y, const float *dy, float *dz,
                                                                       float *db, int64_t rows, int64_t cols,
                                                                       int64_t ld)
{
    enum { CB = 256 }; /* columns per block: 2 KiB of sums */
    _Alignas(64) double acc[CB];
    for (int64_t j0 = 0; j0 < cols; j0 += CB) {
        int64_t cw = cols - j0 < CB ? cols - j0 : CB;
        for (int64_t j = 0; j < cw; j += 16) {
            _mm512_store_pd(acc + j, _mm512_setzero_pd());
            _mm512_store_pd(acc + j + 8, _mm512_setzero_pd());
        }
        for (int64_t r = 0; r < rows; r++) {
            for (int64_t j = 0; j < cw; j += 16) {
                __mmask16 m = lanes(cw - j);
                int64_t at = r * ld + j0 + j;
                __m512 zv = kind == GF_ACT_RELU || kind == GF_ACT_LEAKY_RELU || kind == GF_ACT_ELU ||
                                    kind == GF_ACT_SELU || kind == GF_ACT_SOFTPLUS || kind == GF_ACT_GELU
                                ? _mm512_maskz_loadu_ps(m, z + at)
                                : _mm512_setzero_ps();
                __m512 yv = kind == GF_ACT_TANH || kind == GF_ACT_SIGMOID ? _mm512_maskz_loadu_ps(m, y + at)
                                                                           : _mm512_setzero_ps();
                __m512 g = act_grad(kind, slope, zv, yv, _mm512_maskz_loadu_ps(m, dy + at));
                _mm512_mask_storeu_ps(dz + at, m, g);
                __m512d lo = _mm512_add_pd(_mm512_load_pd(acc + j), _mm512_cvtps_pd(_mm512_castps512_ps256(g)));
                __m512d hi = _mm512_add_pd(_mm512_load_pd(acc + j + 8),
                                           _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(g), 1))));
                _mm512_store_pd(acc + j, lo);
                _mm512_store_pd(acc + j + 8, hi);
            }
        }
        for (int64_t j = 0; j < cw; j += 16) {
            __m512 sum = _mm512_insertf32x8(_mm512_castps256_ps512(_mm512_cvtpd_ps(_mm512_load_pd(acc + j))),
                                            _mm512_cvtpd_ps(_mm512_load_pd(acc + j + 8)), 1);
            _mm512_mask_storeu_ps(db + j0 + j, lanes(cw - j), sum);
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
 * multiply-adds, so each element gets the same value as the scalar loop).
 * One vector of 16 elements (lanes outside m are neither read nor written):
 * returns the new weights and stores the new state, which it also hands
 * back (for the measured update's finiteness check). */
typedef struct opt_vecs {
    __m512 lr, mu, wd, sh, b1, b2, c1, c2, eps, step, sbc2;
    bool adam, decay, shrink;
    int32_t kind;
} opt_vecs;

static inline void opt_vecs_load(opt_vecs *c, const gfi_ew_opt *o)
{
    c->lr = _mm512_set1_ps(o->lr);
    c->mu = _mm512_set1_ps(o->mu);
    c->wd = _mm512_set1_ps(o->wd);
    c->sh = _mm512_set1_ps(o->shrink);
    c->b1 = _mm512_set1_ps(o->b1);
    c->b2 = _mm512_set1_ps(o->b2);
    c->c1 = _mm512_set1_ps(o->one_minus_b1);
    c->c2 = _mm512_set1_ps(o->one_minus_b2);
    c->eps = _mm512_set1_ps(o->eps);
    c->step = _mm512_set1_ps(o->step);
    c->sbc2 = _mm512_set1_ps(o->sqrt_bc2);
    c->kind = o->kind;
    c->adam = o->kind == GF_OPT_ADAM || o->kind == GF_OPT_ADAMW;
    c->shrink = o->kind == GF_OPT_ADAMW && o->wd != 0.0f;
    c->decay = o->kind != GF_OPT_ADAMW && o->wd != 0.0f;
}

/* SGD, momentum, Nesterov; *st: the new velocity (zero for SGD). */
INLINE __m512 sgd_vec(const opt_vecs *c, __m512 wv, __m512 gv, float *vel, __mmask16 m, __m512 *st, int32_t kind)
{
    if (c->decay)
        gv = _mm512_add_ps(gv, _mm512_mul_ps(c->wd, wv));
    __m512 d;
    if (kind == GF_OPT_SGD) {
        d = gv;
        *st = _mm512_setzero_ps();
    } else {
        __m512 v = _mm512_add_ps(_mm512_mul_ps(c->mu, _mm512_maskz_loadu_ps(m, vel)), gv);
        _mm512_mask_storeu_ps(vel, m, v);
        d = kind == GF_OPT_MOMENTUM ? v : _mm512_add_ps(gv, _mm512_mul_ps(c->mu, v));
        *st = v;
    }
    return _mm512_sub_ps(wv, _mm512_mul_ps(c->lr, d));
}

/* Adam, AdamW; *st1, *st2: the new moments. */
INLINE __m512 adam_vec(const opt_vecs *c, __m512 wv, __m512 gv, float *mom, float *var, __mmask16 m,
                              __m512 *st1, __m512 *st2)
{
    if (c->shrink)
        wv = _mm512_mul_ps(wv, c->sh);
    if (c->decay)
        gv = _mm512_add_ps(gv, _mm512_mul_ps(c->wd, wv));
    __m512 mv = _mm512_add_ps(_mm512_mul_ps(c->b1, _mm512_maskz_loadu_ps(m, mom)), _mm512_mul_ps(c->c1, gv));
    __m512 vv = _mm512_add_ps(_mm512_mul_ps(c->b2, _mm512_maskz_loadu_ps(m, var)),
                              _mm512_mul_ps(_mm512_mul_ps(c->c2, gv), gv));
    __m512 denom = _mm512_add_ps(_mm512_div_ps(_mm512_sqrt_ps(vv), c->sbc2), c->eps);
    wv = _mm512_sub_ps(wv, _mm512_mul_ps(c->step, _mm512_div_ps(mv, denom)));
    _mm512_mask_storeu_ps(mom, m, mv);
    _mm512_mask_storeu_ps(var, m, vv);
    *st1 = mv;
    *st2 = vv;
    return wv;
}

/* One SGD-family pass with kind fixed at compile time (each caller below
 * passes a constant), so the loop carries no per-vector dispatch; full
 * vectors unmasked, the ragged end masked. */
INLINE void sgd_run(const opt_vecs *c, float *w, const float *g, float *vel, size_t n, int32_t kind)
{
    __m512 st;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 wv = _mm512_loadu_ps(w + i), gv = _mm512_loadu_ps(g + i);
        _mm512_storeu_ps(w + i, sgd_vec(c, wv, gv, kind == GF_OPT_SGD ? NULL : vel + i, 0xffff, &st, kind));
    }
    if (i < n) {
        __mmask16 m = lanes((int64_t)(n - i));
        __m512 wv = _mm512_maskz_loadu_ps(m, w + i), gv = _mm512_maskz_loadu_ps(m, g + i);
        _mm512_mask_storeu_ps(w + i, m, sgd_vec(c, wv, gv, kind == GF_OPT_SGD ? NULL : vel + i, m, &st, kind));
    }
}

static void update_sgd(const gfi_ew_opt *o, float *w, const float *g, float *vel, size_t n)
{
    opt_vecs c;
    opt_vecs_load(&c, o);
    switch (o->kind) {
    case GF_OPT_SGD: sgd_run(&c, w, g, NULL, n, GF_OPT_SGD); break;
    case GF_OPT_MOMENTUM: sgd_run(&c, w, g, vel, n, GF_OPT_MOMENTUM); break;
    default: sgd_run(&c, w, g, vel, n, GF_OPT_NESTEROV); break;
    }
}

static void update_adam(const gfi_ew_opt *o, float *w, const float *g, float *mom, float *var, size_t n)
{
    opt_vecs c;
    opt_vecs_load(&c, o);
    __m512 s1, s2;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 wv = _mm512_loadu_ps(w + i), gv = _mm512_loadu_ps(g + i);
        _mm512_storeu_ps(w + i, adam_vec(&c, wv, gv, mom + i, var + i, 0xffff, &s1, &s2));
    }
    if (i < n) {
        __mmask16 m = lanes((int64_t)(n - i));
        __m512 wv = _mm512_maskz_loadu_ps(m, w + i), gv = _mm512_maskz_loadu_ps(m, g + i);
        _mm512_mask_storeu_ps(w + i, m, adam_vec(&c, wv, gv, mom + i, var + i, m, &s1, &s2));
    }
}

static void opt_update(const gfi_ew_opt *o, float *w, const float *g, float *m, float *v, size_t n)
{
    if (o->kind == GF_OPT_ADAM || o->kind == GF_OPT_ADAMW)
        update_adam(o, w, g, m, v, n);
    else
        update_sgd(o, w, g, m, n);
}

/* ---- the measured update: statistics gathered while stepping ---- */

static size_t first_nonfinite(const float *x, size_t n);

/* Running sums of one call, all in registers. */
typedef struct pacc {
    __m512d gs0, gs1, gq0, gq1, wq0, wq1, dq0, dq1;
    __m512 gmn, gmx, wmx;
    __m512i gz, wz, sbits;
    __m512 fgs, fgq; /* the gradient's sum and squares in float, GROUP vectors at a time */
} pacc;

/* One vector: unless a gradient or old weight in it is NaN/Inf (then it
 * returns false and changes nothing), steps it and adds g (in float
 * partials), old w and the change (in double: new and old widened, then
 * subtracted, exactly as a double loop would) into a.  Nothing is saved:
 * the check comes first. */
#ifndef PF_AHEAD
/* floats: 3 KiB ahead.  Measured inside mnist's training step, where the
 * streams come from L3 or memory (perf share of the step on an Intel Xeon:
 * 1 KiB 7.6 - 8.2 %, 2 KiB 6.8 - 7.2, 4 KiB 6.2 - 6.5, 8 KiB 6.2 - 6.5,
 * 16 KiB 6.6); a loop over parameters already in L3 is fastest at 1 KiB and
 * misleads.  On an AMD EPYC (Zen 4) exactly 4 KiB was the worst distance
 * tried: diag_overhead_pct on mnist, alternated in one minute, 1.8 - 2.9 at
 * 4 KiB against 1.0 - 2.4 at 3 KiB (AVX2 loop: 4.4 - 6.3 against 3.5 - 5.0);
 * 3 KiB is as good as 4 KiB on the Xeon's figures' scale. */
#define PF_AHEAD 768
#endif

/* vfpclassps categories: QNaN, +Inf, -Inf, SNaN. */
#define NONFINITE_CLASSES 0x99

INLINE bool stats_vec(const opt_vecs *c, pacc *a, float *w, const float *g, float *mom, float *var, __mmask16 m,
                      int32_t kind)
{
    const bool adam = kind == GF_OPT_ADAM;
    /* The body is long, so fewer iterations are in flight than in the plain
     * update: fetch the streams ahead (past the end is harmless). */
    _mm_prefetch((const char *)(g + PF_AHEAD), _MM_HINT_T0);
    _mm_prefetch((const char *)(w + PF_AHEAD), _MM_HINT_T0);
    if (kind != GF_OPT_SGD)
        _mm_prefetch((const char *)(mom + PF_AHEAD), _MM_HINT_T0);
    if (adam)
        _mm_prefetch((const char *)(var + PF_AHEAD), _MM_HINT_T0);
    const __m512 zero = _mm512_setzero_ps();
    const __m512i one = _mm512_set1_epi32(1), magnitude = _mm512_set1_epi32(0x7fffffff);
    __m512 gv = _mm512_maskz_loadu_ps(m, g), wv = _mm512_maskz_loadu_ps(m, w);
    /* lanes outside m loaded as 0 */
    if (_mm512_fpclass_ps_mask(gv, NONFINITE_CLASSES) | _mm512_fpclass_ps_mask(wv, NONFINITE_CLASSES))
        return false;
    __m512 nw, s1, s2 = zero;
    if (adam)
        nw = adam_vec(c, wv, gv, mom, var, m, &s1, &s2);
    else
        nw = sgd_vec(c, wv, gv, mom, m, &s1, kind);
    _mm512_mask_storeu_ps(w, m, nw);
    __m512d wl = lo_pd(wv), wh = hi_pd(wv);
    a->fgs = _mm512_add_ps(a->fgs, gv);
    a->fgq = _mm512_fmadd_ps(gv, gv, a->fgq);
    a->wq0 = _mm512_fmadd_pd(wl, wl, a->wq0);
    a->wq1 = _mm512_fmadd_pd(wh, wh, a->wq1);
    __m512d dl = _mm512_sub_pd(lo_pd(nw), wl), dh = _mm512_sub_pd(hi_pd(nw), wh);
    a->dq0 = _mm512_fmadd_pd(dl, dl, a->dq0);
    a->dq1 = _mm512_fmadd_pd(dh, dh, a->dq1);
    /* new value first: a NaN lane keeps the running min/max */
    a->gmn = _mm512_mask_min_ps(a->gmn, m, gv, a->gmn);
    a->gmx = _mm512_mask_max_ps(a->gmx, m, gv, a->gmx);
    a->wmx = _mm512_max_ps(abs_ps(wv), a->wmx);
    a->gz = _mm512_mask_add_epi32(a->gz, _mm512_mask_cmp_ps_mask(m, gv, zero, _CMP_EQ_OQ), a->gz, one);
    a->wz = _mm512_mask_add_epi32(a->wz, _mm512_mask_cmp_ps_mask(m, wv, zero, _CMP_EQ_OQ), a->wz, one);
    /* Adam's moments: |bits| >= those of +Inf exactly for NaN / Inf.  The
     * SGD family needs no check here: a NaN / Inf velocity v makes the new
     * weight w - lr d non-finite (d is v, or g + mu v with g finite; lr or
     * mu 0 gives 0 Inf = NaN), so stats_run looks at the state only when
     * the change's sum is not finite. */
    if (adam) {
        a->sbits = _mm512_max_epu32(a->sbits, _mm512_and_si512(_mm512_castps_si512(s1), magnitude));
        a->sbits = _mm512_max_epu32(a->sbits, _mm512_and_si512(_mm512_castps_si512(s2), magnitude));
    }
    return true;
}

/* The float sums take GROUP vectors (at most GROUP terms per lane) before
 * they are widened and added in double (see gfi_float_sums_trusted). */
#define GROUP 8

INLINE void flush_ps(__m512 *f, __m512d *d0, __m512d *d1)
{
    *d0 = _mm512_add_pd(*d0, lo_pd(*f));
    *d1 = _mm512_add_pd(*d1, hi_pd(*f));
    *f = _mm512_setzero_ps();
}

static size_t sum_epi32(__m512i v)
{
    uint32_t c[16];
    _mm512_storeu_si512((void *)c, v);
    size_t s = 0;
    for (int k = 0; k < 16; k++)
        s += c[k];
    return s;
}

#define STATS_CHUNK ((size_t)1 << 28) /* elements; the uint32 zero counters cannot wrap */

/* One chunk of one kind (a constant after inlining, so each kind gets its
 * own loop without per-vector branches); returns how far it stepped. */
INLINE size_t stats_run(const opt_vecs *c, float *w, const float *g, float *mom, float *var, size_t k,
                        gfi_ew_pstats *s, int32_t kind)
{
    pacc a;
    a.gs0 = a.gs1 = a.gq0 = a.gq1 = a.wq0 = a.wq1 = a.dq0 = a.dq1 = _mm512_setzero_pd();
    a.gmn = _mm512_set1_ps(s->gmin);
    a.gmx = _mm512_set1_ps(s->gmax);
    a.wmx = _mm512_set1_ps(s->wmax);
    a.gz = a.wz = a.sbits = _mm512_setzero_si512();
    a.fgs = a.fgq = _mm512_setzero_ps();
    const bool sgd = kind == GF_OPT_SGD, adam = kind == GF_OPT_ADAM;
    size_t i = 0;
    bool ok = true;
    while (ok && i + 16 <= k) {
        size_t stop = k - i >= 16 * GROUP ? i + 16 * GROUP : k;
        while (ok && i + 16 <= stop)
            if ((ok = stats_vec(c, &a, w + i, g + i, sgd ? NULL : mom + i, adam ? var + i : NULL,
                                (__mmask16)0xffff, kind)))
                i += 16;
        flush_ps(&a.fgs, &a.gs0, &a.gs1);
        flush_ps(&a.fgq, &a.gq0, &a.gq1);
    }
    if (ok && i < k && stats_vec(c, &a, w + i, g + i, sgd ? NULL : mom + i, adam ? var + i : NULL,
                                 lanes((int64_t)(k - i)), kind))
        i = k;
    flush_ps(&a.fgs, &a.gs0, &a.gs1);
    flush_ps(&a.fgq, &a.gq0, &a.gq1);
    double gsum = _mm512_reduce_add_pd(_mm512_add_pd(a.gs0, a.gs1));
    double gss = _mm512_reduce_add_pd(_mm512_add_pd(a.gq0, a.gq1));
    size_t gzeros = sum_epi32(a.gz);
    /* an all-zero gradient (a dead layer's) has exact sums of 0 */
    if (!gfi_float_moments_trusted(gss, gsum, i) && gzeros != i)
        gfi_moment_exact(g, i, &gsum, &gss); /* in double (a vanishing gradient's squares underflow) */
    s->gsum += gsum;
    s->gss += gss;
    s->wss += _mm512_reduce_add_pd(_mm512_add_pd(a.wq0, a.wq1));
    double d2 = _mm512_reduce_add_pd(_mm512_add_pd(a.dq0, a.dq1));
    s->d2 += d2;
    if (!sgd && !adam && !isfinite(d2)) /* momentum, Nesterov: see stats_vec */
        s->state_bad |= first_nonfinite(mom, i) < i;
    s->gmin = _mm512_reduce_min_ps(a.gmn);
    s->gmax = _mm512_reduce_max_ps(a.gmx);
    s->wmax = _mm512_reduce_max_ps(a.wmx);
    s->gzeros += gzeros;
    s->wzeros += sum_epi32(a.wz);
    s->state_bad |= _mm512_reduce_max_epu32(a.sbits) >= 0x7f800000u;
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

/* NaN and Inf are the floats whose exponent bits are all ones.  The data is
 * usually the caller's batch, not in cache: fetched PF_AHEAD floats ahead
 * (perf share of an mnist step: 0.74 - 1.22 % without, 0.30 - 0.37 % with). */
static size_t first_nonfinite(const float *x, size_t n)
{
    const __m512i expo = _mm512_set1_epi32(0x7f800000);
    for (size_t i = 0; i < n; i += 16) {
        _mm_prefetch((const char *)(x + i + PF_AHEAD), _MM_HINT_T0);
        __mmask16 m = lanes((int64_t)(n - i));
        __m512i v = _mm512_and_si512(_mm512_castps_si512(_mm512_maskz_loadu_ps(m, x + i)), expo);
        __mmask16 bad = _mm512_mask_cmpeq_epi32_mask(m, v, expo);
        if (bad)
            return i + (size_t)__builtin_ctz((unsigned)bad);
    }
    return n;
}

/* 2 x 2 max pooling at column stride 2, 16 windows a step: the two rows'
 * 32 floats split into even and odd columns, then the rule of ew.h in
 * window order (v > best selects, then the NaN lanes in order, so the last
 * NaN wins), as the portable loop does per window. */
static void max_pool_2x2(const float *x, int64_t w, int64_t sh, int64_t sw, float *y, int32_t *arg, int64_t oh,
                         int64_t ow)
{
    if (sw != 2) {
        gfi_max_pool_2x2_portable(x, w, sh, sw, y, arg, oh, ow);
        return;
    }
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int64_t oy = 0; oy < oh; oy++) {
        const float *r0 = x + oy * sh * w, *r1 = r0 + w;
        for (int64_t ox = 0; ox < ow; ox += 16) {
            int64_t n = ow - ox < 16 ? ow - ox : 16;
            __mmask16 lo = lanes(2 * n), hi = lanes(2 * n - 16 > 0 ? 2 * n - 16 : 0), m = lanes(n);
            __m512 a0 = _mm512_maskz_loadu_ps(lo, r0 + 2 * ox), b0 = _mm512_maskz_loadu_ps(hi, r0 + 2 * ox + 16);
            __m512 a1 = _mm512_maskz_loadu_ps(lo, r1 + 2 * ox), b1 = _mm512_maskz_loadu_ps(hi, r1 + 2 * ox + 16);
            __m512 v[4] = {_mm512_permutex2var_ps(a0, even, b0), _mm512_permutex2var_ps(a0, odd, b0),
                           _mm512_permutex2var_ps(a1, even, b1), _mm512_permutex2var_ps(a1, odd, b1)};
            const __m512i i0 = _mm512_add_epi32(_mm512_set1_epi32((int32_t)(oy * sh * w + 2 * ox)), even);
            const int32_t off[4] = {0, 1, (int32_t)w, (int32_t)w + 1};
            __m512 best = v[0];
            __m512i where = i0;
            for (int k = 1; k < 4; k++) {
                __mmask16 gt = _mm512_cmp_ps_mask(v[k], best, _CMP_GT_OQ);
                best = _mm512_mask_mov_ps(best, gt, v[k]);
                where = _mm512_mask_add_epi32(where, gt, i0, _mm512_set1_epi32(off[k]));
            }
            __mmask16 nan[4], any = 0;
            for (int k = 0; k < 4; k++)
                any |= nan[k] = _mm512_cmp_ps_mask(v[k], v[k], _CMP_UNORD_Q);
            if (any & m)
                for (int k = 0; k < 4; k++) {
                    best = _mm512_mask_mov_ps(best, nan[k], v[k]);
                    where = _mm512_mask_add_epi32(where, nan[k], i0, _mm512_set1_epi32(off[k]));
                }
            _mm512_mask_storeu_ps(y + oy * ow + ox, m, best);
            if (arg)
                _mm512_mask_storeu_epi32(arg + oy * ow + ox, m, where);
        }
    }
}

static void copy_rows(float *d, int64_t ldd, int64_t dplane, const float *s, int64_t lds, int64_t splane,
                      int64_t planes, int64_t rows, int64_t cols)
{
    if (cols <= 0)
        return;
    const int64_t full = cols & ~(int64_t)15;
    const __mmask16 tail = lanes(cols - full);
    for (int64_t q = 0; q < planes; q++) {
        float *dq = d + q * dplane;
        const float *sq = s + q * splane;
        for (int64_t r = 0; r < rows; r++, dq += ldd, sq += lds) {
            for (int64_t c = 0; c < full; c += 16)
                _mm512_storeu_ps(dq + c, _mm512_loadu_ps(sq + c));
            if (tail)
                _mm512_mask_storeu_ps(dq + full, tail, _mm512_maskz_loadu_ps(tail, sq + full));
        }
    }
}

static void add_rows(float *d, int64_t ldd, const float *s, int64_t lds, int64_t rows, int64_t cols)
{
    if (cols <= 0)
        return;
    const int64_t full = cols & ~(int64_t)15;
    const __mmask16 tail = lanes(cols - full);
    for (int64_t r = 0; r < rows; r++, d += ldd, s += lds) {
        for (int64_t c = 0; c < full; c += 16)
            _mm512_storeu_ps(d + c, _mm512_add_ps(_mm512_loadu_ps(d + c), _mm512_loadu_ps(s + c)));
        if (tail)
            _mm512_mask_storeu_ps(d + full, tail,
                                  _mm512_add_ps(_mm512_maskz_loadu_ps(tail, d + full), _mm512_maskz_loadu_ps(tail, s + full)));
    }
}

/* Lanes 0 - 7 and 8 - 15 of the partial sums in two vectors of doubles; a
 * masked tail adds +0 to the other lanes, which leaves them as they are (a
 * partial that starts at +0 is never -0). */
static double run_sum16(const float *x, int64_t n)
{
    __m512d lo = _mm512_setzero_pd(), hi = _mm512_setzero_pd();
    const int64_t full = n > 0 ? n & ~(int64_t)15 : 0;
    const __mmask16 tail = n > 0 ? lanes(n - full) : 0;
    for (int64_t i = 0; i < full; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        lo = _mm512_add_pd(lo, lo_pd(v));
        hi = _mm512_add_pd(hi, hi_pd(v));
    }
    if (tail) {
        __m512 v = _mm512_maskz_loadu_ps(tail, x + full);
        lo = _mm512_add_pd(lo, lo_pd(v));
        hi = _mm512_add_pd(hi, hi_pd(v));
    }
    double part[16], s = 0.0;
    _mm512_storeu_pd(part, lo);
    _mm512_storeu_pd(part + 8, hi);
    for (int j = 0; j < 16; j++)
        s += part[j];
    return s;
}

const gfi_ew_ops gfi_ew_avx512 = {bias_act,        act_grad_colsum,  opt_update, first_nonfinite,
                                  opt_update_stats, max_pool_2x2,    copy_rows,  run_sum16,
                                  add_rows};

#elif defined(GFI_GEMM_HAVE_X86)
/* Built without the AVX-512 flags: ew.c never selects this table. */
const gfi_ew_ops gfi_ew_avx512 = {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
#else
typedef int gfi_ew_avx512_unused;
#endif
