/*
 * gemm_avx2.c — the AVX2 + FMA micro-kernel: a 6 x 16 tile of C held in 12
 * ymm accumulators; each step of k loads two vectors of packed B and
 * broadcasts six elements of packed A.  Built with -mavx2 -mfma (see the
 * Makefile's isa_flags); called only after gemm.c checked the CPU.
 */
#include "gemm.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>

#define MR 6
#define NR 16

#define ROW_FMA(i)                                                                                                     \
    do {                                                                                                               \
        __m256 a_ = _mm256_broadcast_ss(pa + (i));                                                                     \
        c##i##0 = _mm256_fmadd_ps(a_, b0, c##i##0);                                                                    \
        c##i##1 = _mm256_fmadd_ps(a_, b1, c##i##1);                                                                    \
    } while (0)

#define STEP()                                                                                                         \
    do {                                                                                                               \
        __m256 b0 = _mm256_load_ps(pb), b1 = _mm256_load_ps(pb + 8);                                                   \
        ROW_FMA(0);                                                                                                    \
        ROW_FMA(1);                                                                                                    \
        ROW_FMA(2);                                                                                                    \
        ROW_FMA(3);                                                                                                    \
        ROW_FMA(4);                                                                                                    \
        ROW_FMA(5);                                                                                                    \
        pa += MR;                                                                                                      \
        pb += NR;                                                                                                      \
    } while (0)

#define STORE_ROW(i)                                                                                                   \
    do {                                                                                                               \
        _mm256_store_ps(tile + (i) * NR, c##i##0);                                                                     \
        _mm256_store_ps(tile + (i) * NR + 8, c##i##1);                                                                 \
    } while (0)

/* Lane mask with the first count (clamped to 0..8) lanes set. */
static __m256i first_lanes(int count)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static void avx2_ukernel(int64_t kc, const float *pa, const float *pb, float *c, int64_t ldc, float alpha, float beta,
                         int mr, int nr)
{
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;

    for (int i = 0; i < mr; i++)
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
    int64_t p = 0;
    for (; p + 4 <= kc; p += 4) {
        STEP();
        STEP();
        STEP();
        STEP();
    }
    for (; p < kc; p++)
        STEP();

    _Alignas(32) float tile[MR * NR];
    STORE_ROW(0);
    STORE_ROW(1);
    STORE_ROW(2);
    STORE_ROW(3);
    STORE_ROW(4);
    STORE_ROW(5);

    /* Masked-off lanes are neither read nor written, so edges are safe. */
    __m256i m0 = first_lanes(nr), m1 = first_lanes(nr - 8);
    __m256 va = _mm256_set1_ps(alpha), vb = _mm256_set1_ps(beta);
    for (int i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        __m256 r0 = _mm256_mul_ps(va, _mm256_load_ps(tile + i * NR));
        __m256 r1 = _mm256_mul_ps(va, _mm256_load_ps(tile + i * NR + 8));
        if (beta != 0.0f) {
            r0 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(ci, m0), r0);
            r1 = _mm256_fmadd_ps(vb, _mm256_maskload_ps(ci + 8, m1), r1);
        }
        _mm256_maskstore_ps(ci, m0, r0);
        _mm256_maskstore_ps(ci + 8, m1, r1);
    }
}

const gfi_gemm_kernel_info gfi_gemm_avx2_info = {MR, NR, 192, 256, 512, avx2_ukernel, gfi_gemm_pack_a_generic,
                                               gfi_gemm_pack_b_generic, NULL};

#else
#ifdef GFI_GEMM_HAVE_X86
const gfi_gemm_kernel_info gfi_gemm_avx2_info = {4, 16, 128, 256, 512, NULL, NULL, NULL, NULL};
#else
typedef int gfi_gemm_avx2_unused;
#endif
#endif
