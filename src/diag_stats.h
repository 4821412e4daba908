/* diag_stats.h — single-pass reductions used by diag.c (see diag_stats.c). */
#ifndef GF_DIAG_STATS_H
#define GF_DIAG_STATS_H

#include "internal.h"

typedef struct gfi_sq {
    double ss;    /* sum of squares */
    float maxabs;
} gfi_sq;

typedef struct gfi_full {
    double sum, ss;
    float min, max;
    size_t zeros;
} gfi_full;

/* Sum of squares and max |v|. */
void gfi_sq_scan(const float *v, size_t n, gfi_sq *out);
/* Sum and sum of squares. */
void gfi_moment_scan(const float *v, size_t n, double *sum, double *ss);
/* The same accumulated in double from the first term (the vector kernels
 * where the CPU runs them): the fallback of every float-partial sum. */
void gfi_moment_exact(const float *v, size_t n, double *sum, double *ss);
/* The variance of v[0..n) from its sum and sum of squares (accumulated in
 * double, or float partials gfi_float_moments_trusted vouched for):
 * ss/n - (sum/n)^2, clamped at 0, unless that is below 2^-30 of ss/n, where
 * the rounding of the sums could be a visible part of it (nearly equal
 * values, as a saturated sigmoid's): then two passes over v in double, the
 * mean and the squared deviations from it.  0 for n = 0. */
double gfi_variance(const float *v, size_t n, double sum, double ss);
/* The value a running min / max over v starts from: v's first element that
 * is not NaN, so a NaN never becomes the min or the max wherever it falls
 * (the scans compare the new value first, which keeps the running one when
 * either is NaN); NaN when every element is; 0 when n is 0. */
float gfi_minmax_seed(const float *v, size_t n);
/* Gradient g: sum, squares, min, max (NaN left out, see gfi_minmax_seed), zeros.  Weights w: squares, max |w|
 * (in ws->max) and zeros.  One pass over both. */
void gfi_param_scan(const float *g, const float *w, size_t n, gfi_full *gs, gfi_full *ws);
/* As gfi_param_scan, adding into partial results a previous call filled
 * (the next block of the same tensors). */
void gfi_param_scan_add(const float *g, const float *w, size_t n, gfi_full *gs, gfi_full *ws);
/* Sum over i of ((double)a[i] - (double)b[i])^2. */
double gfi_diff_sq(const float *a, const float *b, size_t n);
/* ReLU output y (rows x cols): sum and squares, and alive[j] |= 1 for every
 * unit j whose output was not exactly 0 on some row. */
void gfi_relu_scan(const float *y, size_t rows, size_t cols, double *sum, double *ss, unsigned char *alive);
/* A layer whose output is y = ReLU(z) elementwise (z > 0 ? z : 0, NaN to
 * 0), rows x cols: z's sum and squares into zm[0..1], y's into ym[0..1], and
 * alive[j] |= 1 for every unit j with z > 0 on some row; one pass over z
 * where the vector kernels run (y is read only when their float partial
 * sums cannot be trusted), else gfi_moment_scan(z) and gfi_relu_scan(y). */
void gfi_relu_pre_scan(const float *z, const float *y, size_t rows, size_t cols, double zm[2], double ym[2],
                       unsigned char *alive);
/* Adds NaN, +Inf, -Inf counts of v to c[0..2]. */
void gfi_count_nonfinite(const float *v, size_t n, int64_t c[3]);
bool gfi_all_finite(const float *v, size_t n);
/* Index of the first NaN/Inf, or n. */
size_t gfi_first_nonfinite(const float *v, size_t n);

/* AVX-512 kernels (diag_stats_avx512.c), called only after a CPU check.
 * Each handles the longest prefix that is a multiple of 16 and returns its
 * length; the caller finishes the tail. */
size_t gfi_sq_scan_avx512(const float *v, size_t n, double *ss, float *maxabs);
size_t gfi_moment_scan_avx512(const float *v, size_t n, double *sum, double *ss);
/* The _f kernels sum in float partials (see gfi_float_sums_trusted in ew.h)
 * over a prefix that is a multiple of 32 (AVX2: 16); the caller checks their
 * totals and redoes the scan with the plain kernel when they cannot be
 * trusted. */
size_t gfi_moment_scan_f_avx512(const float *v, size_t n, double *sum, double *ss);
size_t gfi_sq_scan_f_avx512(const float *v, size_t n, double *ss, float *maxabs);
size_t gfi_param_scan_avx512(const float *g, const float *w, size_t n, gfi_full *gs, gfi_full *ws);
size_t gfi_diff_sq_avx512(const float *a, const float *b, size_t n, double *d2);
bool gfi_all_finite_avx512(const float *v, size_t n);
void gfi_relu_scan_avx512(const float *y, size_t rows, size_t cols, double *sum, double *ss, unsigned char *alive);
/* z's sum and squares, y = ReLU(z)'s (m[0..3]) and the alive marks, in float partials. */
void gfi_relu_pre_scan_avx512(const float *z, size_t rows, size_t cols, double m[4], unsigned char *alive);

/* AVX2 kernels (diag_stats_avx2.c), likewise, on multiples of 8; the
 * finiteness scan reports through *finite, the ReLU scan covers the first
 * multiple of 8 columns of every row and returns that width. */
size_t gfi_sq_scan_avx2(const float *v, size_t n, double *ss, float *maxabs);
size_t gfi_moment_scan_avx2(const float *v, size_t n, double *sum, double *ss);
/* Float partials, as the AVX-512 _f kernels. */
size_t gfi_sq_scan_f_avx2(const float *v, size_t n, double *ss, float *maxabs);
size_t gfi_moment_scan_f_avx2(const float *v, size_t n, double *sum, double *ss);
size_t gfi_param_scan_avx2(const float *g, const float *w, size_t n, gfi_full *gs, gfi_full *ws);
size_t gfi_diff_sq_avx2(const float *a, const float *b, size_t n, double *d2);
size_t gfi_all_finite_avx2(const float *v, size_t n, bool *finite);
size_t gfi_relu_scan_avx2(const float *y, size_t rows, size_t cols, double *sum, double *ss, unsigned char *alive);
size_t gfi_relu_pre_scan_avx2(const float *z, size_t rows, size_t cols, double m[4], unsigned char *alive);

#endif /* GF_DIAG_STATS_H */
