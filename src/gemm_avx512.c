/*
 * gemm_avx512.c — the AVX-512 micro-kernel: a 12 x 32 tile of C held in 24
 * zmm accumulators; each step of k loads two vectors of packed B and
 * broadcasts twelve elements of packed A (folded into the FMAs), so the two
 * FMA ports see 24 independent chains.  Built with the AVX-512 flags (see the
 * Makefile's isa_flags); called only after gemm.c checked the CPU.
 */
#include "gemm.h"

#if defined(__AVX512F__) && defined(__FMA__)
#include <immintrin.h>

#define MR 12
#define NR 32

/* Row i of the tile: two FMAs against the current B vectors. */
#define ROW_FMA(i)                                                                                                     \
    do {                                                                                                               \
        __m512 a_ = _mm512_set1_ps(pa[(i)]);                                                                           \
        c##i##0 = _mm512_fmadd_ps(a_, b0, c##i##0);                                                                    \
        c##i##1 = _mm512_fmadd_ps(a_, b1, c##i##1);                                                                    \
    } while (0)

#define STEP()                                                                                                         \
    do {                                                                                                               \
        __m512 b0 = _mm512_load_ps(pb), b1 = _mm512_load_ps(pb + 16);                                                  \
        ROW_FMA(0);                                                                                                    \
        ROW_FMA(1);                                                                                                    \
        ROW_FMA(2);                                                                                                    \
        ROW_FMA(3);                                                                                                    \
        ROW_FMA(4);                                                                                                    \
        ROW_FMA(5);                                                                                                    \
        ROW_FMA(6);                                                                                                    \
        ROW_FMA(7);                                                                                                    \
        ROW_FMA(8);                                                                                                    \
        ROW_FMA(9);                                                                                                    \
        ROW_FMA(10);                                                                                                   \
        ROW_FMA(11);                                                                                                   \
        pa += MR;                                                                                                      \
        pb += NR;                                                                                                      \
    } while (0)

#define STORE_ROW(i)                                                                                                   \
    do {                                                                                                               \
        _mm512_store_ps(tile + (i) * NR, c##i##0);                                                                     \
        _mm512_store_ps(tile + (i) * NR + 16, c##i##1);                                                                \
    } while (0)

static void avx512_ukernel(int64_t kc, const float *pa, const float *pb, float *c, int64_t ldc, float alpha,
                           float beta, int mr, int nr)
{
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    __m512 c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00, c61 = c00, c70 = c00, c71 = c00;
    __m512 c80 = c00, c81 = c00, c90 = c00, c91 = c00, c100 = c00, c101 = c00, c110 = c00, c111 = c00;

    /* Bring the C rows in while the products accumulate. */
    for (int i = 0; i < mr; i++) {
        _mm_prefetch((const char *)(c + i * ldc), _MM_HINT_T0);
        _mm_prefetch((const char *)(c + i * ldc + 16), _MM_HINT_T0);
    }
    int64_t p = 0;
    for (; p + 4 <= kc; p += 4) {
        STEP();
        STEP();
        STEP();
        STEP();
    }
    for (; p < kc; p++)
        STEP();

    _Alignas(64) float tile[MR * NR];
    STORE_ROW(0);
    STORE_ROW(1);
    STORE_ROW(2);
    STORE_ROW(3);
    STORE_ROW(4);
    STORE_ROW(5);
    STORE_ROW(6);
    STORE_ROW(7);
    STORE_ROW(8);
    STORE_ROW(9);
    STORE_ROW(10);
    STORE_ROW(11);

    /* Columns past nr are masked off: those loads and stores never touch memory. */
    __mmask16 m0 = nr >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << nr) - 1u);
    __mmask16 m1 = nr >= 32 ? (__mmask16)0xffff : nr <= 16 ? (__mmask16)0 : (__mmask16)((1u << (nr - 16)) - 1u);
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        __m512 r0 = _mm512_mul_ps(va, _mm512_load_ps(tile + i * NR));
        __m512 r1 = _mm512_mul_ps(va, _mm512_load_ps(tile + i * NR + 16));
        if (beta != 0.0f) {
            r0 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m0, ci), r0);
            r1 = _mm512_fmadd_ps(vb, _mm512_maskz_loadu_ps(m1, ci + 16), r1);
        }
        _mm512_mask_storeu_ps(ci, m0, r0);
        _mm512_mask_storeu_ps(ci + 16, m1, r1);
    }
}

const gfi_gemm_kernel_info gfi_gemm_avx512_info = {MR, NR, 192, 256, 512, avx512_ukernel};

#else
/* Not an x86 build with AVX-512 flags: gemm.c never selects this kernel. */
#ifdef GFI_GEMM_HAVE_X86
const gfi_gemm_kernel_info gfi_gemm_avx512_info = {4, 16, 128, 256, 512, NULL};
#else
typedef int gfi_gemm_avx512_unused;
#endif
#endif
