/*
 * gemm.c — single-precision matrix products for the dense layer.
 *
 * Goto/BLIS-style blocking: a kc x nc panel of op(B) and an mc x kc block of
 * op(A) are packed (transposes are absorbed by the packing, so all four
 * transpose combinations take the same fast path) into 64-byte aligned
 * buffers of a caller-owned workspace (one pair per thread), then a
 * register-blocked micro-kernel (portable C here, AVX2 and AVX-512 in
 * gemm_avx2.c / gemm_avx512.c) sweeps the packed data.
 * The kernel is chosen at run time from what the CPU supports.  Also here:
 * the workspace, kernel selection for tests, and the split of one product
 * over a pool.
 */
#include "gemm.h"
#include "threadpool.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

/* ---- workspace ---- */

/* Packing buffers, sized for the largest blocking of any kernel (plus one
 * register tile of slack so a partially filled sliver stays in bounds).
 * They live in a workspace the caller owns (a net has one sized for its
 * pool), not in thread-local storage: 770 KiB of static TLS would be
 * reserved from the stack of every thread of every program linking the
 * library, and would bypass gf_set_allocator.  Both sizes are multiples of
 * 16 floats, so every buffer in the block stays 64-byte aligned. */
#define PACKA_FLOATS ((GFI_GEMM_MAX_MC + 32) * GFI_GEMM_MAX_KC)
#define PACKB_FLOATS (GFI_GEMM_MAX_KC * (GFI_GEMM_MAX_NC + 32))
#define PACK_PAIR_FLOATS ((size_t)PACKA_FLOATS + (size_t)PACKB_FLOATS)
#define PACK_ALIGN 64
_Static_assert(PACKA_FLOATS % 16 == 0 && PACKB_FLOATS % 16 == 0, "packing buffers must keep 64-byte alignment");

/* One allocation: this header, then up to PACK_ALIGN-1 bytes of padding,
 * then nthreads pairs (packa, packb) starting at the aligned 'buf'.  The
 * header is the start of the allocation, so freeing it frees everything. */
struct gfi_gemm_ws {
    int nthreads;
    float *buf;
};

int gfi_gemm_ws_create(struct gfi_gemm_ws **out, int nthreads)
{
    if (!out)
        return gfi_fail(GF_ERR_NULL, "gfi_gemm_ws_create: out is NULL");
    if (nthreads < 1 || nthreads > GFI_POOL_MAX_THREADS)
        return gfi_fail(GF_ERR_INVALID, "gfi_gemm_ws_create: nthreads must be 1..%d (got %d)", GFI_POOL_MAX_THREADS,
                        nthreads);
    size_t bytes = sizeof(struct gfi_gemm_ws) + PACK_ALIGN - 1 + (size_t)nthreads * PACK_PAIR_FLOATS * sizeof(float);
    struct gfi_gemm_ws *ws = gfi_malloc(bytes);
    if (!ws)
        return gfi_fail(GF_ERR_NOMEM, "gfi_gemm_ws_create: cannot allocate packing buffers for %d threads (%zu bytes)",
                        nthreads, bytes);
    uintptr_t p = (uintptr_t)(ws + 1);
    ws->nthreads = nthreads;
    ws->buf = (float *)((p + PACK_ALIGN - 1) & ~(uintptr_t)(PACK_ALIGN - 1));
    *out = ws;
    return GF_OK;
}

void gfi_gemm_ws_destroy(struct gfi_gemm_ws *ws) { gfi_free(ws); }

int gfi_gemm_ws_threads(const struct gfi_gemm_ws *ws) { return ws ? ws->nthreads : 0; }

static float *ws_packa(const struct gfi_gemm_ws *ws, int tid) { return ws->buf + (size_t)tid * PACK_PAIR_FLOATS; }
static float *ws_packb(const struct gfi_gemm_ws *ws, int tid) { return ws_packa(ws, tid) + PACKA_FLOATS; }

/* ---- portable micro-kernel: 4 x 16, plain C the compiler may vectorize ---- */

#define P_MR 4
#define P_NR 16

/* C's mr x nr corner = alpha t (+ beta C unless beta is 0, which never reads C); t is P_MR x P_NR. */
static void store_tile(const float *t, float *restrict c, int64_t ldc, float alpha, float beta, int mr,
                       int nr)
{
    for (int i = 0; i < mr; i++) {
        float *ci = c + i * ldc;
        if (beta == 0.0f)
            for (int j = 0; j < nr; j++)
                ci[j] = alpha * t[i * P_NR + j];
        else
            for (int j = 0; j < nr; j++)
                ci[j] = alpha * t[i * P_NR + j] + beta * ci[j];
    }
}

#if defined(__aarch64__) && defined(__ARM_NEON)
#include <arm_neon.h>
/* AArch64 (NEON is part of its base ISA): 16 accumulator vectors in registers, each step a fused
 * multiply-add by one lane of the four A values, as the x86 kernels fuse them. */
static void portable_ukernel(int64_t kc, const float *restrict pa, const float *restrict pb, float *restrict c,
                             int64_t ldc, float alpha, float beta, int mr, int nr)
{
    float32x4_t c00 = vdupq_n_f32(0.0f), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00,
                c13 = c00, c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00, c31 = c00, c32 = c00, c33 = c00;
    for (int64_t p = 0; p < kc; p++) {
        float32x4_t a = vld1q_f32(pa), b0 = vld1q_f32(pb), b1 = vld1q_f32(pb + 4), b2 = vld1q_f32(pb + 8),
                    b3 = vld1q_f32(pb + 12);
        c00 = vfmaq_laneq_f32(c00, b0, a, 0), c01 = vfmaq_laneq_f32(c01, b1, a, 0);
        c02 = vfmaq_laneq_f32(c02, b2, a, 0), c03 = vfmaq_laneq_f32(c03, b3, a, 0);
        c10 = vfmaq_laneq_f32(c10, b0, a, 1), c11 = vfmaq_laneq_f32(c11, b1, a, 1);
        c12 = vfmaq_laneq_f32(c12, b2, a, 1), c13 = vfmaq_laneq_f32(c13, b3, a, 1);
        c20 = vfmaq_laneq_f32(c20, b0, a, 2), c21 = vfmaq_laneq_f32(c21, b1, a, 2);
        c22 = vfmaq_laneq_f32(c22, b2, a, 2), c23 = vfmaq_laneq_f32(c23, b3, a, 2);
        c30 = vfmaq_laneq_f32(c30, b0, a, 3), c31 = vfmaq_laneq_f32(c31, b1, a, 3);
        c32 = vfmaq_laneq_f32(c32, b2, a, 3), c33 = vfmaq_laneq_f32(c33, b3, a, 3);
        pa += P_MR;
        pb += P_NR;
    }
    float out[P_MR][P_NR];
    vst1q_f32(out[0], c00), vst1q_f32(out[0] + 4, c01), vst1q_f32(out[0] + 8, c02), vst1q_f32(out[0] + 12, c03);
    vst1q_f32(out[1], c10), vst1q_f32(out[1] + 4, c11), vst1q_f32(out[1] + 8, c12), vst1q_f32(out[1] + 12, c13);
    vst1q_f32(out[2], c20), vst1q_f32(out[2] + 4, c21), vst1q_f32(out[2] + 8, c22), vst1q_f32(out[2] + 12, c23);
    vst1q_f32(out[3], c30), vst1q_f32(out[3] + 4, c31), vst1q_f32(out[3] + 8, c32), vst1q_f32(out[3] + 12, c33);
    store_tile(&out[0][0], c, ldc, alpha, beta, mr, nr);
}
#elif defined(__GNUC__)
/* Four rows of 16 accumulators held as 4-lane vectors (GCC/clang vector extensions, any target): as
 * locals the compiler keeps them in registers, where the plain array below goes through memory on every
 * p.  Each lane does the plain loop's multiply and add in the same order, so the sums are the same. */
typedef float gfi_v4 __attribute__((vector_size(16)));

static gfi_v4 v4_load(const float *p)
{
    gfi_v4 v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void portable_ukernel(int64_t kc, const float *restrict pa, const float *restrict pb, float *restrict c,
                             int64_t ldc, float alpha, float beta, int mr, int nr)
{
    const gfi_v4 z = {0.0f, 0.0f, 0.0f, 0.0f};
    gfi_v4 c00 = z, c01 = z, c02 = z, c03 = z, c10 = z, c11 = z, c12 = z, c13 = z;
    gfi_v4 c20 = z, c21 = z, c22 = z, c23 = z, c30 = z, c31 = z, c32 = z, c33 = z;
    for (int64_t p = 0; p < kc; p++) {
        gfi_v4 b0 = v4_load(pb), b1 = v4_load(pb + 4), b2 = v4_load(pb + 8), b3 = v4_load(pb + 12);
        gfi_v4 a0 = {pa[0], pa[0], pa[0], pa[0]}, a1 = {pa[1], pa[1], pa[1], pa[1]};
        gfi_v4 a2 = {pa[2], pa[2], pa[2], pa[2]}, a3 = {pa[3], pa[3], pa[3], pa[3]};
        c00 += a0 * b0, c01 += a0 * b1, c02 += a0 * b2, c03 += a0 * b3;
        c10 += a1 * b0, c11 += a1 * b1, c12 += a1 * b2, c13 += a1 * b3;
        c20 += a2 * b0, c21 += a2 * b1, c22 += a2 * b2, c23 += a2 * b3;
        c30 += a3 * b0, c31 += a3 * b1, c32 += a3 * b2, c33 += a3 * b3;
        pa += P_MR;
        pb += P_NR;
    }
    const gfi_v4 acc[P_MR][P_NR / 4] = {
        {c00, c01, c02, c03}, {c10, c11, c12, c13}, {c20, c21, c22, c23}, {c30, c31, c32, c33}};
    float out[P_MR][P_NR];
    memcpy(out, acc, sizeof out);
    store_tile(&out[0][0], c, ldc, alpha, beta, mr, nr);
}
#else
static void portable_ukernel(int64_t kc, const float *restrict pa, const float *restrict pb, float *restrict c,
                             int64_t ldc, float alpha, float beta, int mr, int nr)
{
    float acc[P_MR][P_NR] = {{0}};
    for (int64_t p = 0; p < kc; p++) {
        for (int i = 0; i < P_MR; i++) {
            float ai = pa[i];
            for (int j = 0; j < P_NR; j++)
                acc[i][j] += ai * pb[j];
        }
        pa += P_MR;
        pb += P_NR;
    }
    store_tile(&acc[0][0], c, ldc, alpha, beta, mr, nr);
}
#endif

/* Small products straight from the operands, as plain loops the compiler
 * may vectorize.  op(B) = B: each row of C, 64 columns at a time, is a sum
 * of rows of B scaled by op(A)[i][p]. */
static void portable_small_rows(bool trans_a, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                                const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    const int64_t sa_i = trans_a ? 1 : lda, sa_p = trans_a ? lda : 1; /* op(A)[i][p] = a[i*sa_i + p*sa_p] */
    for (int64_t i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        for (int64_t j0 = 0; j0 < n; j0 += 64) {
            int jw = n - j0 < 64 ? (int)(n - j0) : 64;
            float acc[64] = {0};
            for (int64_t p = 0; p < k; p++) {
                const float aip = a[i * sa_i + p * sa_p], *bp = b + p * ldb + j0;
                for (int j = 0; j < jw; j++)
                    acc[j] += aip * bp[j];
            }
            for (int j = 0; j < jw; j++)
                ci[j0 + j] = beta != 0.0f ? alpha * acc[j] + beta * ci[j0 + j] : alpha * acc[j];
        }
    }
}

/* A B^T: each element is a dot product of two contiguous rows. */
static void portable_small_dots(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                                const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            const float *ai = a + i * lda, *bj = b + j * ldb;
            float s = 0.0f;
            for (int64_t p = 0; p < k; p++)
                s += ai[p] * bj[p];
            c[i * ldc + j] = beta != 0.0f ? alpha * s + beta * c[i * ldc + j] : alpha * s;
        }
}

/* The small path up to 16384 m*n*k as for AVX2: pinned to portable,
 * in-process A/B against no small path, tiny -19 to -22 % per step, small
 * (whose 41k output-layer products stay packed) unchanged; at 65536 the
 * small workload lost 8 %. */
const gfi_gemm_kernel_info gfi_gemm_portable_info = {P_MR, P_NR, 128, 256, 512, portable_ukernel,
                                                     gfi_gemm_pack_a_generic, gfi_gemm_pack_b_generic,
                                                     portable_small_rows, portable_small_dots, 16384.0, false};

/* ---- kernel selection ---- */

static atomic_int forced_kernel = GFI_GEMM_AUTO;

static const gfi_gemm_kernel_info *kernel_info(int kernel)
{
    switch (kernel) {
#ifdef GFI_GEMM_HAVE_X86
    case GFI_GEMM_AVX512:
        return &gfi_gemm_avx512_info;
    case GFI_GEMM_AVX2:
        return &gfi_gemm_avx2_info;
#endif
    default:
        return &gfi_gemm_portable_info;
    }
}

int gfi_gemm_kernel_available(int kernel)
{
    switch (kernel) {
    case GFI_GEMM_PORTABLE:
        return 1;
#if defined(GFI_GEMM_HAVE_X86) && defined(__GNUC__)
    case GFI_GEMM_AVX2:
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case GFI_GEMM_AVX512:
        /* The kernel file is built with F, VL, BW and DQ, so the compiler may
         * use any of them; the runtime checks also cover OS (XSAVE) support. */
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    default:
        return 0;
    }
}

static int best_kernel(void)
{
    /* Cached: the answer cannot change while the process runs. */
    static atomic_int best = -2;
    int k = atomic_load_explicit(&best, memory_order_relaxed);
    if (k == -2) {
        k = GFI_GEMM_PORTABLE;
        for (int i = GFI_GEMM_NKERNELS - 1; i > GFI_GEMM_PORTABLE; i--)
            if (gfi_gemm_kernel_available(i)) {
                k = i;
                break;
            }
        atomic_store_explicit(&best, k, memory_order_relaxed);
    }
    return k;
}

int gfi_gemm_kernel_active(void)
{
    int f = atomic_load_explicit(&forced_kernel, memory_order_relaxed);
    return f == GFI_GEMM_AUTO ? best_kernel() : f;
}

int gfi_gemm_force_kernel(int kernel)
{
    if (kernel == GFI_GEMM_AUTO) {
        atomic_store(&forced_kernel, GFI_GEMM_AUTO);
        return GF_OK;
    }
    if (kernel < 0 || kernel >= GFI_GEMM_NKERNELS)
        return gfi_fail(GF_ERR_INVALID, "gfi_gemm_force_kernel: unknown kernel (%d)", kernel);
    if (!gfi_gemm_kernel_available(kernel))
        return gfi_fail(GF_ERR_UNSUPPORTED, "gfi_gemm_force_kernel: kernel %s is not available on this CPU or build",
                        gfi_gemm_kernel_name(kernel));
    atomic_store(&forced_kernel, kernel);
    return GF_OK;
}

const char *gfi_gemm_kernel_name(int kernel)
{
    switch (kernel) {
    case GFI_GEMM_AUTO:
        return "auto";
    case GFI_GEMM_PORTABLE:
        return "portable";
    case GFI_GEMM_AVX2:
        return "avx2";
    case GFI_GEMM_AVX512:
        return "avx512";
    default:
        return "unknown";
    }
}

/* ---- packing ---- */

/* Packs rows [i0, i0+mb) x cols [p0, p0+kb) of op(A) into slivers of mr rows:
 * dst[s*mr*kb + p*mr + r] = op(A)[i0 + s*mr + r][p0 + p], zero past row mb. */
void gfi_gemm_pack_a_generic(int mr, bool trans, const float *a, int64_t lda, int64_t i0, int64_t p0, int64_t mb, int64_t kb,
                   float *restrict dst)
{
    for (int64_t s = 0; s < mb; s += mr) {
        int rows = mb - s < mr ? (int)(mb - s) : mr;
        if (!trans) {
            for (int r = 0; r < rows; r++) {
                const float *src = a + (i0 + s + r) * lda + p0;
                for (int64_t p = 0; p < kb; p++)
                    dst[p * mr + r] = src[p];
            }
            for (int r = rows; r < mr; r++)
                for (int64_t p = 0; p < kb; p++)
                    dst[p * mr + r] = 0.0f;
        } else {
            /* op(A)[i][p] = a[p*lda + i]: each step of p is contiguous. */
            for (int64_t p = 0; p < kb; p++) {
                const float *src = a + (p0 + p) * lda + i0 + s;
                float *d = dst + p * mr;
                int r = 0;
                for (; r < rows; r++)
                    d[r] = src[r];
                for (; r < mr; r++)
                    d[r] = 0.0f;
            }
        }
        dst += (int64_t)mr * kb;
    }
}

/* Packs rows [p0, p0+kb) x cols [j0, j0+nb) of op(B) into slivers of nr
 * columns: dst[s*nr*kb + p*nr + j] = op(B)[p0 + p][j0 + s*nr + j]. */
void gfi_gemm_pack_b_generic(int nr, bool trans, const float *b, int64_t ldb, int64_t p0, int64_t j0, int64_t kb, int64_t nb,
                   float *restrict dst)
{
    for (int64_t s = 0; s < nb; s += nr) {
        int cols = nb - s < nr ? (int)(nb - s) : nr;
        if (!trans) {
            for (int64_t p = 0; p < kb; p++) {
                const float *src = b + (p0 + p) * ldb + j0 + s;
                float *d = dst + p * nr;
                int j = 0;
                for (; j < cols; j++)
                    d[j] = src[j];
                for (; j < nr; j++)
                    d[j] = 0.0f;
            }
        } else {
            /* op(B)[p][j] = b[j*ldb + p]: read each source row once. */
            for (int j = 0; j < cols; j++) {
                const float *src = b + (j0 + s + j) * ldb + p0;
                for (int64_t p = 0; p < kb; p++)
                    dst[p * nr + j] = src[p];
            }
            for (int j = cols; j < nr; j++)
                for (int64_t p = 0; p < kb; p++)
                    dst[p * nr + j] = 0.0f;
        }
        dst += (int64_t)nr * kb;
    }
}

/* The small paths' op(A) = A^T, op(B) = B^T case (unused by the dense layer): plain loops. */
void gfi_gemm_small_scalar(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                           int64_t ldb, float beta, float *c, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            float s = 0.0f;
            for (int64_t p = 0; p < k; p++)
                s += a[p * lda + i] * b[j * ldb + p];
            float v = alpha * s;
            c[i * ldc + j] = beta != 0.0f ? beta * c[i * ldc + j] + v : v;
        }
}

/* ---- driver ---- */

/* Splits len into the fewest blocks of at most max, of near-equal size
 * rounded up to a multiple of unit, so no block is a tiny remainder. */
static int64_t balanced_block(int64_t len, int64_t max, int64_t unit)
{
    int64_t nblocks = (len + max - 1) / max;
    int64_t bs = (len + nblocks - 1) / nblocks;
    bs = (bs + unit - 1) / unit * unit;
    return bs < max ? bs : max;
}

/* C = beta*C, with beta == 0 overwriting whatever C held (NaN included). */
static void scale_c(int64_t m, int64_t n, float beta, float *c, int64_t ldc)
{
    for (int64_t i = 0; i < m; i++) {
        float *ci = c + i * ldc;
        if (beta == 0.0f)
            for (int64_t j = 0; j < n; j++)
                ci[j] = 0.0f;
        else if (beta != 1.0f)
            for (int64_t j = 0; j < n; j++)
                ci[j] *= beta;
    }
}

/* Where op(B)'s panels come from: packed here into packb (pre NULL), or
 * already packed by gfi_gemm_pre_pack: the panel of k block pc and columns
 * col0 + jc.. then starts at pre + pc * npad + (col0 + jc) * kb, since
 * the whole op(B) was packed one k block at a time, npad columns each. */
typedef struct b_source {
    const float *pre;
    int64_t col0, npad;
} b_source;

static void gemm_with_b(const gfi_gemm_kernel_info *K, float *restrict packa, float *restrict packb, b_source src,
                        bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                        int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

static void gemm_with(const gfi_gemm_kernel_info *K, float *restrict packa, float *restrict packb, bool trans_a,
                      bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                      const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    const b_source none = {NULL, 0, 0};
    gemm_with_b(K, packa, packb, none, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void gemm_with_b(const gfi_gemm_kernel_info *K, float *restrict packa, float *restrict packb, b_source src,
                        bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                        int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    if (m <= 0 || n <= 0)
        return;
    if (k <= 0 || alpha == 0.0f) {
        scale_c(m, n, beta, c, ldc);
        return;
    }
    int64_t nc = balanced_block(n, K->nc, K->nr);
    int64_t kc = balanced_block(k, K->kc, 1);
    int64_t mc = balanced_block(m, K->mc, K->mr);
    for (int64_t jc = 0; jc < n; jc += nc) {
        int64_t nb = n - jc < nc ? n - jc : nc;
        for (int64_t pc = 0; pc < k; pc += kc) {
            int64_t kb = k - pc < kc ? k - pc : kc;
            /* Later k blocks add to what the first one wrote. */
            float beta_eff = pc == 0 ? beta : 1.0f;
            float *pb = packb;
            if (src.pre)
                pb = (float *)(uintptr_t)(src.pre + pc * src.npad + (src.col0 + jc) * kb);
            else
                K->pack_b(K->nr, trans_b, b, ldb, pc, jc, kb, nb, packb);
            for (int64_t ic = 0; ic < m; ic += mc) {
                int64_t mb = m - ic < mc ? m - ic : mc;
                K->pack_a(K->mr, trans_a, a, lda, ic, pc, mb, kb, packa);
                /* B sliver (kb x nr) stays in L1 while A slivers stream from L2. */
                for (int64_t jr = 0; jr < nb; jr += K->nr) {
                    int nr = nb - jr < K->nr ? (int)(nb - jr) : K->nr;
                    for (int64_t ir = 0; ir < mb; ir += K->mr) {
                        int mr = mb - ir < K->mr ? (int)(mb - ir) : K->mr;
                        K->ukernel(kb, packa + ir * kb, pb + jr * kb, c + (ic + ir) * ldc + jc + jr, ldc, alpha,
                                   beta_eff, mr, nr);
                    }
                }
            }
        }
    }
}

/* One product on this thread: the kernel's small path when it has one and
 * the product is small, else the packed path.  Decided on the whole product
 * (never on a thread's share), so the thread count cannot change the path. */
/* Products of at least this m*n*k are shared out over the pool.  2e6 while the workers fell asleep between
 * products (a wake-up cost more than such a product); with the workers spinning through a step (threadpool.c,
 * POOL_SPIN) a run costs a few microseconds, and sharing from 5e4 up made two threads 22 % faster on `small`
 * (32 x 128 x 128), 2.5 % on mnist (its 10-unit layer) and 17 % on an LSTM of 32 units, alternated in one
 * process (docs/performance.md, tenth round).  A busy machine is the pool gate's to catch (pool_gate.h). */
#ifndef GEMM_POOL_MIN_WORK /* -D for experiments */
#define GEMM_POOL_MIN_WORK 5e4 /* m*n*k */
#endif
#define GEMM_SKINNY_MAX_WORK 2e6 /* m*n*k: skinny products up to this take the small path */

/* Whether the kernel's small path takes the product: tiny products, and
 * skinny ones (a side of at most GFI_GEMM_SKINNY, e.g. a 10-unit output
 * layer) that a 12 x 32 tile would mostly fill with padding.  The pool
 * never shares out a product this path takes (pool_splits), so the path is
 * the same for any thread count. */
static bool use_small(const gfi_gemm_kernel_info *K, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                      float alpha)
{
    if (!K->small_rows || m <= 0 || n <= 0 || k <= 0 || alpha == 0.0f)
        return false;
    double work = (double)m * (double)n * (double)k;
    if (work <= K->small_work)
        return true;
    /* Only the dot-product form (A times B^T, the forward product) gains;
     * measured on the 10-wide mnist layer the other forms lost. */
    return K->small_skinny && !trans_a && trans_b && (m < n ? m : n) <= GFI_GEMM_SKINNY && work < GEMM_SKINNY_MAX_WORK;
}

static void gemm_one_at(const gfi_gemm_kernel_info *K, const struct gfi_gemm_ws *ws, int tid, bool trans_a,
                        bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                        const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/* A product use_small took, by the kernel's small routine for its transpose form. */
static void small_product(const gfi_gemm_kernel_info *K, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                          float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                          int64_t ldc)
{
    if (!trans_b)
        K->small_rows(trans_a, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else if (!trans_a)
        K->small_dots(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else
        gfi_gemm_small_scalar(m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void gemm_one(const gfi_gemm_kernel_info *K, const struct gfi_gemm_ws *ws, bool trans_a, bool trans_b,
                     int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                     int64_t ldb, float beta, float *c, int64_t ldc)
{
    gemm_one_at(K, ws, 0, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* gemm_one packing into ws's buffer pair tid. */
static void gemm_one_at(const gfi_gemm_kernel_info *K, const struct gfi_gemm_ws *ws, int tid, bool trans_a,
                        bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                        const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    if (use_small(K, trans_a, trans_b, m, n, k, alpha)) {
        small_product(K, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    gemm_with(K, ws_packa(ws, tid), ws_packb(ws, tid), trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c,
              ldc);
}

void gfi_gemm_tid(struct gfi_gemm_ws *ws, int tid, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                  float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                  int64_t ldc)
{
    gemm_one_at(kernel_info(gfi_gemm_kernel_active()), ws, tid, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb,
                beta, c, ldc);
}

void gfi_gemm(struct gfi_gemm_ws *ws, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    gemm_one(kernel_info(gfi_gemm_kernel_active()), ws, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* ---- the product split over a pool ---- */

typedef struct gemm_job {
    const gfi_gemm_kernel_info *K;
    const struct gfi_gemm_ws *ws;
    b_source src;
    bool trans_a, trans_b, by_cols;
    int64_t m, n, k;
    float alpha, beta;
    const float *a, *b;
    int64_t lda, ldb, ldc;
    float *c;
} gemm_job;

/* The range [*lo, *hi) of the split dimension that thread tid of nt owns:
 * a contiguous run of whole register tiles (empty when *lo >= *hi). */
static void share_of(const gfi_gemm_kernel_info *K, bool by_cols, int64_t m, int64_t n, int tid, int nt, int64_t *lo,
                     int64_t *hi)
{
    int64_t len = by_cols ? n : m;
    int64_t unit = by_cols ? K->nr : K->mr;
    int64_t units = (len + unit - 1) / unit;
    int64_t u0 = units * tid / nt, u1 = units * (tid + 1) / nt;
    *lo = u0 * unit;
    *hi = u1 * unit < len ? u1 * unit : len;
}

/* Columns (by_cols) or rows [lo, hi) of C, packed into buffer pair tid; each
 * element is computed by the same sequence of operations as in the whole
 * single-threaded product. */
static void gemm_range_b(const gfi_gemm_kernel_info *K, const struct gfi_gemm_ws *ws, int tid, b_source src,
                         bool by_cols, int64_t lo, int64_t hi, bool trans_a, bool trans_b, int64_t m, int64_t n,
                         int64_t k, float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                         float *c, int64_t ldc)
{
    float *packa = ws_packa(ws, tid), *packb = ws_packb(ws, tid);
    if (by_cols) {
        src.col0 = lo;
        gemm_with_b(K, packa, packb, src, trans_a, trans_b, m, hi - lo, k, alpha, a, lda,
                    trans_b ? b + lo * ldb : b + lo, ldb, beta, c + lo, ldc);
    } else {
        gemm_with_b(K, packa, packb, src, trans_a, trans_b, hi - lo, n, k, alpha, trans_a ? a + lo : a + lo * lda,
                    lda, b, ldb, beta, c + lo * ldc, ldc);
    }
}

static void gemm_range(const gfi_gemm_kernel_info *K, const struct gfi_gemm_ws *ws, int tid, bool by_cols,
                       int64_t lo, int64_t hi, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                       float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c,
                       int64_t ldc)
{
    const b_source none = {NULL, 0, 0};
    gemm_range_b(K, ws, tid, none, by_cols, lo, hi, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* Thread tid of nt computes its share; shares are disjoint. */
static void gemm_job_run(void *arg, int tid, int nt)
{
    const gemm_job *g = arg;
    int64_t lo, hi;
    share_of(g->K, g->by_cols, g->m, g->n, tid, nt, &lo, &hi);
    if (lo < hi)
        gemm_range_b(g->K, g->ws, tid, g->src, g->by_cols, lo, hi, g->trans_a, g->trans_b, g->m, g->n, g->k, g->alpha,
                     g->a, g->lda, g->b, g->ldb, g->beta, g->c, g->ldc);
}

/* Which dimension of C the threads share out: the longer one, except for
 * A^T B (the weight gradient), which goes by rows whenever there are at
 * least four register tiles of them per thread.  Each thread then writes
 * whole rows of C, one contiguous piece of memory, instead of a slice of
 * every row.  In-process A/B with 2 threads, per training step: mnist -2.5
 * to -4.3 %, a 256-1024-1024-256 net -3.7 %, deep -1.2 %, wide -0.6 to
 * -1.1 %; splitting the other two forms by rows as well lost 2 % (A B) and
 * 11 % (A B^T). */
static bool split_by_cols(const gfi_gemm_kernel_info *K, bool trans_a, int64_t m, int64_t n, int nt)
{
    if (trans_a && (m + K->mr - 1) / K->mr >= 4 * (int64_t)nt)
        return false;
    return n >= m;
}

/* Whether gfi_gemm_pool shares this product out (and not the caller alone). */
static bool pool_splits(const gfi_gemm_kernel_info *K, const struct gfi_pool *pool, const struct gfi_gemm_ws *ws,
                        bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k)
{
    int nt = gfi_pool_threads(pool);
    if (use_small(K, trans_a, trans_b, m, n, k, 1.0f))
        return false;
    /* Below about 0.1 MFLOP a pool run costs more than it saves. */
    bool small = (double)m * (double)n * (double)k < GEMM_POOL_MIN_WORK;
    return pool && nt > 1 && nt <= ws->nthreads && m > 0 && n > 0 && !small;
}

void gfi_gemm_pool(struct gfi_pool *pool, struct gfi_gemm_ws *ws, bool trans_a, bool trans_b, int64_t m, int64_t n,
                   int64_t k, float alpha, const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                   float *c, int64_t ldc)
{
    const gfi_gemm_kernel_info *K = kernel_info(gfi_gemm_kernel_active());
    if (!pool_splits(K, pool, ws, trans_a, trans_b, m, n, k)) {
        gemm_one(K, ws, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    int nt = gfi_pool_threads(pool);
    gemm_job g = {K, ws, {NULL, 0, 0}, trans_a, trans_b, split_by_cols(K, trans_a, m, n, nt), m, n, k, alpha, beta,
                  a, b, lda, ldb, ldc, c};
    gfi_pool_run(pool, gemm_job_run, &g);
}

/* ---- op(B) packed once for many products ---- */

/* Columns of one packed k block: n rounded up to the widest sliver. */
static int64_t pre_npad(const gfi_gemm_kernel_info *K, int64_t n) { return (n + K->nr - 1) / K->nr * K->nr; }

#define PRE_ALIGN 16 /* floats: the packed slivers are read with 64-byte aligned loads */

size_t gfi_gemm_pre_floats(int64_t k, int64_t n)
{
    if (k <= 0 || n <= 0)
        return 0;
    int64_t widest = 32; /* the largest NR of any kernel */
    return (size_t)k * (size_t)((n + widest - 1) / widest * widest) + PRE_ALIGN;
}

void gfi_gemm_pre_pack(gfi_gemm_pre *pre, float *buf, bool trans_b, int64_t k, int64_t n, const float *b,
                       int64_t ldb)
{
    int kernel = gfi_gemm_kernel_active();
    const gfi_gemm_kernel_info *K = kernel_info(kernel);
    *pre = (gfi_gemm_pre){NULL, kernel, trans_b, k, n};
    if (!buf || k <= 0 || n <= 0)
        return;
    float *p = (float *)(((uintptr_t)buf + 63) & ~(uintptr_t)63);
    int64_t kc = balanced_block(k, K->kc, 1), npad = pre_npad(K, n);
    for (int64_t pc = 0; pc < k; pc += kc)
        K->pack_b(K->nr, trans_b, b, ldb, pc, 0, k - pc < kc ? k - pc : kc, n, p + pc * npad);
    pre->p = p;
}

void gfi_gemm_pool_pre(struct gfi_pool *pool, struct gfi_gemm_ws *ws, bool trans_a, int64_t m, float alpha,
                       const float *a, int64_t lda, const float *b, int64_t ldb, const gfi_gemm_pre *pre, float beta,
                       float *c, int64_t ldc)
{
    int kernel = gfi_gemm_kernel_active();
    const gfi_gemm_kernel_info *K = kernel_info(kernel);
    int64_t n = pre->n, k = pre->k;
    if (!pre->p || pre->kernel != kernel || use_small(K, trans_a, pre->trans_b, m, n, k, alpha) || m <= 0 ||
        alpha == 0.0f) {
        gfi_gemm_pool(pool, ws, trans_a, pre->trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    b_source src = {pre->p, 0, pre_npad(K, n)};
    if (!pool_splits(K, pool, ws, trans_a, pre->trans_b, m, n, k)) {
        gemm_with_b(K, ws_packa(ws, 0), ws_packb(ws, 0), src, trans_a, pre->trans_b, m, n, k, alpha, a, lda, b, ldb,
                    beta, c, ldc);
        return;
    }
    int nt = gfi_pool_threads(pool);
    gemm_job g = {K, ws, src, trans_a, pre->trans_b, split_by_cols(K, trans_a, m, n, nt), m, n, k, alpha, beta, a, b,
                  lda, ldb, ldc, c};
    gfi_pool_run(pool, gemm_job_run, &g);
}

int gfi_gemm_pool_split(const struct gfi_pool *pool, const struct gfi_gemm_ws *ws, bool trans_a, bool trans_b,
                        int64_t m, int64_t n, int64_t k)
{
    const gfi_gemm_kernel_info *K = kernel_info(gfi_gemm_kernel_active());
    if (!ws || !pool_splits(K, pool, ws, trans_a, trans_b, m, n, k))
        return GFI_GEMM_ONE;
    return split_by_cols(K, trans_a, m, n, gfi_pool_threads(pool)) ? GFI_GEMM_BY_COLS : GFI_GEMM_BY_ROWS;
}

void gfi_gemm_share_range(int split, int64_t m, int64_t n, int tid, int nt, int64_t *lo, int64_t *hi)
{
    share_of(kernel_info(gfi_gemm_kernel_active()), split == GFI_GEMM_BY_COLS, m, n, tid, nt, lo, hi);
}

void gfi_gemm_share(struct gfi_gemm_ws *ws, int tid, int split, int64_t lo, int64_t hi, bool trans_a, bool trans_b,
                    int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda, const float *b,
                    int64_t ldb, float beta, float *c, int64_t ldc)
{
    if (lo >= hi)
        return;
    const gfi_gemm_kernel_info *K = kernel_info(gfi_gemm_kernel_active());
    bool by_cols = split == GFI_GEMM_BY_COLS;
    if (use_small(K, trans_a, trans_b, m, n, k, alpha)) {
        /* The whole product takes the small path, so its part does too: each
         * element of it is computed on its own, wherever the part starts. */
        if (by_cols) {
            b = trans_b ? b + lo * ldb : b + lo;
            c += lo;
            n = hi - lo;
        } else {
            a = trans_a ? a + lo : a + lo * lda;
            c += lo * ldc;
            m = hi - lo;
        }
        small_product(K, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        return;
    }
    gemm_range(K, ws, tid, by_cols, lo, hi, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
