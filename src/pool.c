/*
 * pool.c — pooling over windows of each channel (nn.MaxPool1d/2d, nn.AvgPool1d/2d with count_include_pad and
 * floor rounding) and the mean of each channel (global average pooling, like nn.AdaptiveAvgPool2d(1) followed by
 * a flatten: SIGNAL or IMAGE -> VECTOR(C)).  No parameters, no activation.  A 1-D kind is the 2-D one with
 * height 1.  Max pooling keeps the argmax of every output in the cache for the backward (ties: the first,
 * NaN: propagated, as PyTorch).  Work is split over the net's pool by whole planes (sample, channel).
 */
#include "ew.h"
#include "internal.h"
#include "threadpool.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct pgeom {
    int64_t c, h, w, oh, ow, kh, kw, sh, sw, ph, pw;
} pgeom;

static bool is_1d(const gf_layer *l) { return l->kind == GF_LAYER_MAXPOOL1D || l->kind == GF_LAYER_AVGPOOL1D; }
static bool is_max(const gf_layer *l) { return l->kind == GF_LAYER_MAXPOOL1D || l->kind == GF_LAYER_MAXPOOL2D; }

/* Output extent of one axis: -1 when the window does not fit the padded input, -2 when the padded extent
 * overflows (options reach GFI_OPTION_SIZE_MAX, so a loaded file can ask for that). */
static int64_t pool_extent(int64_t in, int64_t k, int64_t s, int64_t pad)
{
    int64_t padded;
    if (!gfi_size_mul(pad, 2, &padded) || !gfi_size_add(in, padded, &padded))
        return -2;
    return padded < k ? -1 : (padded - k) / s + 1;
}

static void make_geom(const gf_layer *l, const gfi_shape *in, pgeom *g)
{
    bool one = is_1d(l);
    g->c = in->dim[0];
    g->h = one ? 1 : in->dim[1];
    g->w = in->dim[in->rank - 1];
    g->kw = (int64_t)l->opt[GF_LAYER_KERNEL_W];
    g->sw = l->opt[GF_LAYER_STRIDE_W] ? (int64_t)l->opt[GF_LAYER_STRIDE_W] : g->kw;
    g->pw = (int64_t)l->opt[GF_LAYER_PAD_W];
    g->kh = one ? 1 : (int64_t)l->opt[GF_LAYER_KERNEL_H];
    g->sh = one ? 1 : l->opt[GF_LAYER_STRIDE_H] ? (int64_t)l->opt[GF_LAYER_STRIDE_H] : g->kh;
    g->ph = one ? 0 : (int64_t)l->opt[GF_LAYER_PAD_H];
    g->oh = pool_extent(g->h, g->kh, g->sh, g->ph);
    g->ow = pool_extent(g->w, g->kw, g->sw, g->pw);
}

static int pool_infer(const gf_layer *l, const gfi_shape *in, gfi_layout *lay, char *msg, size_t cap)
{
    char got[96];
    bool one = is_1d(l);
    if (in->kind != (one ? GF_SHAPE_SIGNAL : GF_SHAPE_IMAGE)) {
        snprintf(msg, cap, "expects %s input, got %s", one ? "SIGNAL(C x L)" : "IMAGE(C x H x W)",
                 gfi_shape_str(in, got, sizeof got));
        return GF_ERR_SHAPE;
    }
    if (l->opt[GF_LAYER_KERNEL_W] <= 0 || (!one && l->opt[GF_LAYER_KERNEL_H] <= 0)) {
        snprintf(msg, cap, "needs its window size set (%s)", one ? "GF_LAYER_KERNEL_W" : "GF_LAYER_KERNEL_H and GF_LAYER_KERNEL_W");
        return GF_ERR_INVALID;
    }
    pgeom g;
    make_geom(l, in, &g);
    if (g.ph > g.kh / 2 || g.pw > g.kw / 2) {
        snprintf(msg, cap, "padding %lld x %lld must be at most half the window %lld x %lld", (long long)g.ph,
                 (long long)g.pw, (long long)g.kh, (long long)g.kw);
        return GF_ERR_INVALID;
    }
    if (g.oh == -2 || g.ow == -2) {
        snprintf(msg, cap, "window and padding on %s: sizes overflow", gfi_shape_str(in, got, sizeof got));
        return GF_ERR_OVERFLOW;
    }
    if (g.oh < 1 || g.ow < 1) {
        snprintf(msg, cap, "window %lld x %lld is larger than the padded input %lld x %lld, got %s", (long long)g.kh,
                 (long long)g.kw, (long long)(g.h + 2 * g.ph), (long long)(g.w + 2 * g.pw),
                 gfi_shape_str(in, got, sizeof got));
        return GF_ERR_SHAPE;
    }
    if (is_max(l) && g.h * g.w > INT32_MAX) {
        snprintf(msg, cap, "keeps argmax positions as 32-bit indices; a plane of %s is too large",
                 gfi_shape_str(in, got, sizeof got));
        return GF_ERR_OVERFLOW;
    }
    lay->out = *in;
    if (!one)
        lay->out.dim[1] = g.oh;
    lay->out.dim[in->rank - 1] = g.ow;
    return GF_OK;
}

static int global_infer(const gf_layer *l, const gfi_shape *in, gfi_layout *lay, char *msg, size_t cap)
{
    (void)l;
    char got[96];
    if (in->kind != GF_SHAPE_SIGNAL && in->kind != GF_SHAPE_IMAGE) {
        snprintf(msg, cap, "expects SIGNAL(C x L) or IMAGE(C x H x W) input, got %s", gfi_shape_str(in, got, sizeof got));
        return GF_ERR_SHAPE;
    }
    lay->out = (gfi_shape){GF_SHAPE_VECTOR, 1, {in->dim[0]}};
    return GF_OK;
}

/* The argmax of every output, per sample (int32 values in float-sized slots: planes are under 2^31). */
static size_t pool_cache_size(const gf_layer *l) { return is_max(l) ? (size_t)l->out : 0; }

/* ---- passes over planes ---- */

#define PAR_MIN_WORK 32768

typedef struct ppass {
    const gf_layer *l;
    pgeom g;
    const float *x, *dy;
    float *y, *dx;
    int32_t *arg;
    bool training;
    void (*plane)(const struct ppass *p, int64_t q);
    int64_t planes;
} ppass;

static void ppass_worker(void *arg, int tid, int nthreads)
{
    const ppass *p = arg;
    int64_t lo = p->planes * tid / nthreads, hi = p->planes * (tid + 1) / nthreads;
    for (int64_t q = lo; q < hi; q++)
        p->plane(p, q);
}

static void run_planes(ppass *p, int64_t batch, void (*plane)(const ppass *, int64_t))
{
    p->plane = plane;
    p->planes = batch * p->g.c;
    if ((size_t)batch * (size_t)p->l->in < PAR_MIN_WORK)
        ppass_worker(p, 0, 1);
    else
        gfi_pool_run(p->l->owner->pool, ppass_worker, p);
}

/* Rows [lo, hi) of the window of output oy (and likewise columns) inside the input. */
static void window(int64_t o, int64_t s, int64_t pad, int64_t k, int64_t n, int64_t *lo, int64_t *hi)
{
    int64_t a = o * s - pad, b = a + k;
    *lo = a < 0 ? 0 : a;
    *hi = b > n ? n : b;
}

/* Max pooling follows PyTorch's rule: take v when v > best or v is NaN (so a NaN wins and only a later NaN
 * replaces it).  NaN is rare, so windows are first taken by the plain rule with integer selects and a max,
 * which the compiler emits without a branch on the data (a branch on which of four values is largest
 * mispredicts most of the time), while noting whether a NaN was seen; a window with one is taken again by the
 * full rule.  best, where, nan in scope; i the index into x. */
#define MAX_STEP(i)                                                                                                    \
    do {                                                                                                               \
        float v_ = x[i];                                                                                               \
        where += ((i) - where) & -(int64_t)(v_ > best);                                                               \
        best = v_ > best ? v_ : best;                                                                                  \
        nan |= v_ != v_;                                                                                               \
    } while (0)

/* The full rule on a window with a NaN: the last NaN (PyTorch keeps replacing a NaN by a later one). */
static float window_max_nan(const float *x, int64_t w, int64_t y0, int64_t y1, int64_t x0, int64_t x1, int64_t *at)
{
    float best = -INFINITY;
    int64_t where = y0 * w + x0;
    for (int64_t iy = y0; iy < y1; iy++)
        for (int64_t ix = x0; ix < x1; ix++) {
            float v = x[iy * w + ix];
            if (v > best || isnan(v)) {
                best = v;
                where = iy * w + ix;
            }
        }
    *at = where;
    return best;
}

/* The max of one window and where it is. */
static float window_max(const float *x, int64_t w, int64_t y0, int64_t y1, int64_t x0, int64_t x1, int64_t *at)
{
    float best = -INFINITY;
    int64_t where = y0 * w + x0;
    int nan = 0;
    for (int64_t iy = y0; iy < y1; iy++)
        for (int64_t ix = x0; ix < x1; ix++)
            MAX_STEP(iy * w + ix);
    if (nan)
        return window_max_nan(x, w, y0, y1, x0, x1, at);
    *at = where;
    return best;
}

static void max_plane(const ppass *p, int64_t q)
{
    const pgeom *g = &p->g;
    const float *x = p->x + q * g->h * g->w;
    float *y = p->y + q * g->oh * g->ow;
    int32_t *arg = p->arg ? p->arg + q * g->oh * g->ow : NULL;
    if (g->kh == 2 && g->kw == 2 && g->ph == 0 && g->pw == 0) {
        /* the common window: vector versions (ew.h) */
        gfi_ew()->max_pool_2x2(x, g->w, g->sh, g->sw, y, arg, g->oh, g->ow);
        return;
    }
    for (int64_t oy = 0; oy < g->oh; oy++) {
        int64_t y0, y1;
        window(oy, g->sh, g->ph, g->kh, g->h, &y0, &y1);
        for (int64_t ox = 0; ox < g->ow; ox++) {
            int64_t x0, x1, at;
            window(ox, g->sw, g->pw, g->kw, g->w, &x0, &x1);
            y[oy * g->ow + ox] = window_max(x, g->w, y0, y1, x0, x1, &at);
            if (arg)
                arg[oy * g->ow + ox] = (int32_t)at;
        }
    }
}

static void max_back_plane(const ppass *p, int64_t q)
{
    const pgeom *g = &p->g;
    int64_t no = g->oh * g->ow;
    float *dx = p->dx + q * g->h * g->w;
    const float *dy = p->dy + q * no;
    const int32_t *arg = p->arg + q * no;
    memset(dx, 0, (size_t)(g->h * g->w) * sizeof *dx);
    for (int64_t o = 0; o < no; o++)
        dx[arg[o]] += dy[o];
}

/* Average over the window, padding counted (the divisor is always kh * kw).  The divisor is taken in double:
 * windows up to GFI_OPTION_SIZE_MAX per axis (fitting the padded input) make kh * kw overflow int64. */
static double window_divisor(const pgeom *g) { return (double)g->kh * (double)g->kw; }

static void avg_plane(const ppass *p, int64_t q)
{
    const pgeom *g = &p->g;
    const float *x = p->x + q * g->h * g->w;
    float *y = p->y + q * g->oh * g->ow;
    double inv = 1.0 / window_divisor(g);
    for (int64_t oy = 0; oy < g->oh; oy++)
        for (int64_t ox = 0; ox < g->ow; ox++) {
            int64_t y0, y1, x0, x1;
            window(oy, g->sh, g->ph, g->kh, g->h, &y0, &y1);
            window(ox, g->sw, g->pw, g->kw, g->w, &x0, &x1);
            double s = 0.0;
            for (int64_t iy = y0; iy < y1; iy++)
                for (int64_t ix = x0; ix < x1; ix++)
                    s += x[iy * g->w + ix];
            y[oy * g->ow + ox] = (float)(s * inv);
        }
}

static void avg_back_plane(const ppass *p, int64_t q)
{
    const pgeom *g = &p->g;
    float *dx = p->dx + q * g->h * g->w;
    const float *dy = p->dy + q * g->oh * g->ow;
    float inv = (float)(1.0 / window_divisor(g));
    memset(dx, 0, (size_t)(g->h * g->w) * sizeof *dx);
    for (int64_t oy = 0; oy < g->oh; oy++)
        for (int64_t ox = 0; ox < g->ow; ox++) {
            int64_t y0, y1, x0, x1;
            window(oy, g->sh, g->ph, g->kh, g->h, &y0, &y1);
            window(ox, g->sw, g->pw, g->kw, g->w, &x0, &x1);
            float d = dy[oy * g->ow + ox] * inv;
            for (int64_t iy = y0; iy < y1; iy++)
                for (int64_t ix = x0; ix < x1; ix++)
                    dx[iy * g->w + ix] += d;
        }
}

static void global_plane(const ppass *p, int64_t q)
{
    int64_t n = p->g.h * p->g.w;
    const float *x = p->x + q * n;
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += x[i];
    p->y[q] = (float)(s / (double)n);
}

static void global_back_plane(const ppass *p, int64_t q)
{
    int64_t n = p->g.h * p->g.w;
    float d = (float)((double)p->dy[q] / (double)n), *dx = p->dx + q * n;
    for (int64_t i = 0; i < n; i++)
        dx[i] = d;
}

/* ---- ops ---- */

static void geom_of(const gf_layer *l, pgeom *g)
{
    if (l->kind == GF_LAYER_GLOBAL_AVGPOOL) {
        const gfi_shape *in = &l->in_shape;
        *g = (pgeom){.c = in->dim[0], .h = in->rank == 3 ? in->dim[1] : 1, .w = in->dim[in->rank - 1]};
        return;
    }
    make_geom(l, &l->in_shape, g);
}

static void pool_forward(gf_layer *l, const gfi_layer_io *io)
{
    ppass p = {.l = l, .x = io->x, .y = io->y, .training = io->training};
    geom_of(l, &p.g);
    if (l->kind == GF_LAYER_GLOBAL_AVGPOOL)
        run_planes(&p, io->batch, global_plane);
    else if (is_max(l)) {
        p.arg = io->training ? (int32_t *)(void *)io->cache : NULL;
        run_planes(&p, io->batch, max_plane);
    } else
        run_planes(&p, io->batch, avg_plane);
}

static void pool_backward(gf_layer *l, const gfi_layer_io *io)
{
    memcpy(io->dz, io->dy, (size_t)io->batch * (size_t)l->out * sizeof(float));
    if (!io->dx)
        return;
    ppass p = {.l = l, .dy = io->dy, .dx = io->dx, .arg = (int32_t *)(void *)io->cache};
    geom_of(l, &p.g);
    run_planes(&p, io->batch,
               l->kind == GF_LAYER_GLOBAL_AVGPOOL ? global_back_plane : is_max(l) ? max_back_plane : avg_back_plane);
}

static void pool_units(const gf_layer *l, int64_t view[3])
{
    view[0] = 1;
    view[1] = l->out_shape.dim[0];
    view[2] = l->out / l->out_shape.dim[0];
}

#define SIZE_OPT(key, min) {key, 0, min, GFI_OPTION_SIZE_MAX, true}

static const gfi_option_spec pool1d_options[] = {
    SIZE_OPT(GF_LAYER_KERNEL_W, 1), SIZE_OPT(GF_LAYER_STRIDE_W, 0), SIZE_OPT(GF_LAYER_PAD_W, 0), {-1, 0, 0, 0, false},
};
static const gfi_option_spec pool2d_options[] = {
    SIZE_OPT(GF_LAYER_KERNEL_H, 1), SIZE_OPT(GF_LAYER_KERNEL_W, 1), SIZE_OPT(GF_LAYER_STRIDE_H, 0),
    SIZE_OPT(GF_LAYER_STRIDE_W, 0), SIZE_OPT(GF_LAYER_PAD_H, 0),    SIZE_OPT(GF_LAYER_PAD_W, 0),
    {-1, 0, 0, 0, false},
};
static const gfi_option_spec global_options[] = {{-1, 0, 0, 0, false}};

#define POOL_OPS(nm, k, opts, inf)                                                                                     \
    {                                                                                                                  \
        .name = nm, .kind = k, .options = opts, .infer = inf, .cache_size = pool_cache_size,                          \
        .forward = pool_forward, .backward = pool_backward, .units = pool_units,                                       \
    }

const gfi_layer_ops gfi_maxpool1d_ops = POOL_OPS("maxpool1d", GF_LAYER_MAXPOOL1D, pool1d_options, pool_infer);
const gfi_layer_ops gfi_maxpool2d_ops = POOL_OPS("maxpool2d", GF_LAYER_MAXPOOL2D, pool2d_options, pool_infer);
const gfi_layer_ops gfi_avgpool1d_ops = POOL_OPS("avgpool1d", GF_LAYER_AVGPOOL1D, pool1d_options, pool_infer);
const gfi_layer_ops gfi_avgpool2d_ops = POOL_OPS("avgpool2d", GF_LAYER_AVGPOOL2D, pool2d_options, pool_infer);
const gfi_layer_ops gfi_global_avgpool_ops =
    POOL_OPS("global_avgpool", GF_LAYER_GLOBAL_AVGPOOL, global_options, global_infer);

/* A pooling layer of kind over kernel (x kernel) windows with stride (0: the kernel). */
static int add_pool(gf_net *net, int32_t kind, int64_t kernel, int64_t stride, gf_layer **layer, const char *fn)
{
    const int32_t keys[] = {GF_LAYER_KERNEL_W, GF_LAYER_STRIDE_W, GF_LAYER_KERNEL_H, GF_LAYER_STRIDE_H};
    const double values[] = {(double)kernel, (double)stride, (double)kernel, (double)stride};
    bool one = kind == GF_LAYER_MAXPOOL1D || kind == GF_LAYER_AVGPOOL1D;
    return gfi_net_add_kind(net, kind, keys, values, one ? 2 : 4, GF_ACT_IDENTITY, layer, fn);
}

int gf_net_add_maxpool2d(gf_net *net, int64_t kernel, int64_t stride, gf_layer **layer)
{
    return add_pool(net, GF_LAYER_MAXPOOL2D, kernel, stride, layer, "gf_net_add_maxpool2d");
}

int gf_net_add_avgpool2d(gf_net *net, int64_t kernel, int64_t stride, gf_layer **layer)
{
    return add_pool(net, GF_LAYER_AVGPOOL2D, kernel, stride, layer, "gf_net_add_avgpool2d");
}

int gf_net_add_maxpool1d(gf_net *net, int64_t kernel, int64_t stride, gf_layer **layer)
{
    return add_pool(net, GF_LAYER_MAXPOOL1D, kernel, stride, layer, "gf_net_add_maxpool1d");
}

int gf_net_add_avgpool1d(gf_net *net, int64_t kernel, int64_t stride, gf_layer **layer)
{
    return add_pool(net, GF_LAYER_AVGPOOL1D, kernel, stride, layer, "gf_net_add_avgpool1d");
}

int gf_net_add_global_avgpool(gf_net *net, gf_layer **layer)
{
    return gfi_net_add_kind(net, GF_LAYER_GLOBAL_AVGPOOL, NULL, NULL, 0, GF_ACT_IDENTITY, layer,
                            "gf_net_add_global_avgpool");
}
