/*
 * simd_avx2.h — lane masks, |x| and lane reductions shared by the AVX2 files
 * (gemm_avx2.c, ew_avx2.c, diag_stats_avx2.c).  Include only from a file
 * built with -mavx2.
 */
#ifndef GF_SIMD_AVX2_H
#define GF_SIMD_AVX2_H

#include <immintrin.h>
#include <stddef.h>
#include <stdint.h>

/* Lane mask with the first n (clamped to 0..8) lanes set. */
static inline __m256i gfi_avx2_lanes(int64_t n)
{
    int k = n >= 8 ? 8 : n <= 0 ? 0 : (int)n;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline __m256 gfi_avx2_abs_ps(__m256 x)
{
    return _mm256_and_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
}

/* The four lanes of v added in a fixed order. */
static inline double gfi_avx2_sum_pd(__m256d v)
{
    _Alignas(32) double d[4];
    _mm256_store_pd(d, v);
    return (d[0] + d[1]) + (d[2] + d[3]);
}

/* The smallest (want_max false) or largest lane of v.  Like the vector
 * min / max with the running value second, a NaN lane never wins against a
 * number (a comparison with NaN is false). */
static inline float gfi_avx2_extreme_ps(__m256 v, int want_max)
{
    _Alignas(32) float f[8];
    _mm256_store_ps(f, v);
    float r = f[0];
    for (int k = 1; k < 8; k++)
        r = (want_max ? f[k] > r : f[k] < r) ? f[k] : r;
    return r;
}

/* The eight uint32 lanes of v: their sum, or their largest. */
static inline size_t gfi_avx2_sum_epu32(__m256i v)
{
    uint32_t c[8];
    _mm256_storeu_si256((__m256i *)(void *)c, v);
    size_t s = 0;
    for (int k = 0; k < 8; k++)
        s += c[k];
    return s;
}

static inline uint32_t gfi_avx2_max_epu32(__m256i v)
{
    uint32_t c[8];
    _mm256_storeu_si256((__m256i *)(void *)c, v);
    uint32_t r = c[0];
    for (int k = 1; k < 8; k++)
        r = c[k] > r ? c[k] : r;
    return r;
}

#endif /* GF_SIMD_AVX2_H */
