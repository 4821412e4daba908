/*
 * conv.c — 1-D and 2-D convolution (nn.Conv1d, nn.Conv2d): stride, zero padding, dilation, groups and a bias
 * per output channel; weight out x in/groups x kh x kw.  A 1-D layer is the 2-D one with height 1.
 *
 * The batch goes through in chunks of whole samples, one matrix product per group and chunk.  im2col lays
 * every receptive field of the chunk out as a column of COL (R x S*P: R = C*kh*kw taps, S samples, P = OH*OW
 * output positions each), so that
 *     forward   Zt = W COL (OC x S*P), scattered into z (N x OC x P) with the bias, then y = f(z);
 *     backward  dZt = dz transposed, dW += dZt COL^T, dCOL = W^T dZt, dx = col2im(dCOL); db from dz.
 * A chunk holds as many samples as keep COL near a megabyte (chunk_samples): one product over S*P columns
 * keeps the kernels busy where a product per sample can be too thin (the first layer of the bench CNN has
 * R = 9), while a COL of the whole batch (58 MB for 32 channels of 28 x 28 at batch 64) made the step wait on
 * memory.  COL is rebuilt in the backward rather than kept: im2col of a chunk is cheap and cache-hot.
 * Threads: with enough chunks each thread takes whole chunks (its own scratch and packing buffers, no barrier
 * inside a chunk); otherwise every chunk's products split over the net's pool by output tiles and the passes
 * around them by whole rows, planes or (sample, channel) runs.  The weight gradient is summed in SLOTS partial
 * sums fixed by the chunk count, added in slot order.  Chunks, slots and every element's arithmetic depend on
 * the layer and the batch only, so every thread count, in either mode, gives the same bits.
 */
#include "ew.h"
#include "internal.h"
#include "gemm.h"
#include "threadpool.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Everything the passes need, derived from the input shape and the options. */
typedef struct geom {
    int64_t c, h, w;    /* input channels, height (1 for 1-D), width */
    int64_t oc, oh, ow; /* output channels, height, width */
    int64_t kh, kw, sh, sw, ph, pw, dh, dw, groups;
    int64_t p;  /* oh * ow positions per sample */
    int64_t r;  /* c * kh * kw rows of COL */
    int64_t rg, ocg; /* rows and output channels per group */
} geom;

static bool is_1d(const gf_layer *l) { return l->kind == GF_LAYER_CONV1D; }

/* Output extent of one axis: -1 when the dilated kernel does not fit the padded input, -2 when the span
 * or the padded extent overflows (options reach GFI_OPTION_SIZE_MAX, so a loaded file can ask for that). */
static int64_t out_extent(int64_t in, int64_t k, int64_t s, int64_t pad, int64_t dil)
{
    int64_t span, padded;
    if (!gfi_size_mul(dil, k - 1, &span) || !gfi_size_add(span, 1, &span) || !gfi_size_mul(pad, 2, &padded) ||
        !gfi_size_add(in, padded, &padded))
        return -2;
    return padded < span ? -1 : (padded - span) / s + 1;
}

/* The geometry for input shape in (its kind already checked); options of a 1-D layer give height 1. */
static void make_geom(const gf_layer *l, const gfi_shape *in, geom *g)
{
    bool one = is_1d(l);
    g->c = in->dim[0];
    g->h = one ? 1 : in->dim[1];
    g->w = in->dim[in->rank - 1];
    g->oc = (int64_t)l->opt[GF_LAYER_OUTPUTS];
    g->groups = (int64_t)l->opt[GF_LAYER_GROUPS];
    g->kw = (int64_t)l->opt[GF_LAYER_KERNEL_W];
    g->sw = (int64_t)l->opt[GF_LAYER_STRIDE_W];
    g->pw = (int64_t)l->opt[GF_LAYER_PAD_W];
    g->dw = (int64_t)l->opt[GF_LAYER_DILATION_W];
    g->kh = one ? 1 : (int64_t)l->opt[GF_LAYER_KERNEL_H];
    g->sh = one ? 1 : (int64_t)l->opt[GF_LAYER_STRIDE_H];
    g->ph = one ? 0 : (int64_t)l->opt[GF_LAYER_PAD_H];
    g->dh = one ? 1 : (int64_t)l->opt[GF_LAYER_DILATION_H];
    g->oh = out_extent(g->h, g->kh, g->sh, g->ph, g->dh);
    g->ow = out_extent(g->w, g->kw, g->sw, g->pw, g->dw);
    g->p = g->r = g->rg = g->ocg = 0;
    if (g->oh < 1 || g->ow < 1)
        return;
    /* Positions, COL rows and COL's size per sample must all fit: check_fit refuses the layer otherwise. */
    int64_t col;
    if (!gfi_size_mul(g->oh, g->ow, &g->p) || !gfi_size_mul(g->c, g->kh, &g->r) || !gfi_size_mul(g->r, g->kw, &g->r) ||
        !gfi_size_mul(g->r, g->p, &col)) {
        g->oh = g->ow = -2;
        return;
    }
    g->rg = g->r / g->groups;
    g->ocg = g->oc / g->groups;
}

static void layer_geom(const gf_layer *l, geom *g) { make_geom(l, &l->in_shape, g); }

/* ---- shape inference ---- */

static int check_input_kind(const gf_layer *l, const gfi_shape *in, char *msg, size_t cap)
{
    char got[96];
    int32_t want = is_1d(l) ? GF_SHAPE_SIGNAL : GF_SHAPE_IMAGE;
    if (in->kind == want)
        return GF_OK;
    snprintf(msg, cap, "expects %s input, got %s%s", is_1d(l) ? "SIGNAL(C x L)" : "IMAGE(C x H x W)",
             gfi_shape_str(in, got, sizeof got),
             in->kind == GF_SHAPE_SEQUENCE ? " (a SEQUENCE is time x features; a signal is GF_SHAPE_SIGNAL, channels x length)" : "");
    return GF_ERR_SHAPE;
}

/* Options that do not depend on the input: set, and consistent with each other. */
static int check_options(const gf_layer *l, char *msg, size_t cap)
{
    int64_t oc = (int64_t)l->opt[GF_LAYER_OUTPUTS], groups = (int64_t)l->opt[GF_LAYER_GROUPS];
    if (oc <= 0) {
        snprintf(msg, cap, "needs GF_LAYER_OUTPUTS (its output channels) set");
        return GF_ERR_INVALID;
    }
    if (l->opt[GF_LAYER_KERNEL_W] <= 0 || (!is_1d(l) && l->opt[GF_LAYER_KERNEL_H] <= 0)) {
        snprintf(msg, cap, "needs its kernel size set (%s)",
                 is_1d(l) ? "GF_LAYER_KERNEL_W" : "GF_LAYER_KERNEL_H and GF_LAYER_KERNEL_W");
        return GF_ERR_INVALID;
    }
    if (oc % groups) {
        snprintf(msg, cap, "has %lld output channels, which %lld groups (GF_LAYER_GROUPS) do not divide", (long long)oc,
                 (long long)groups);
        return GF_ERR_INVALID;
    }
    return GF_OK;
}

/* Input channels against GF_LAYER_INPUTS and the groups; the kernel against the padded input. */
static int check_fit(const gf_layer *l, const gfi_shape *in, const geom *g, char *msg, size_t cap)
{
    char got[96];
    int64_t want = (int64_t)l->opt[GF_LAYER_INPUTS];
    if (want && want != g->c) {
        snprintf(msg, cap, "expects %lld input channels (GF_LAYER_INPUTS), got %s", (long long)want,
                 gfi_shape_str(in, got, sizeof got));
        return GF_ERR_SHAPE;
    }
    if (g->c % g->groups) {
        snprintf(msg, cap, "with %lld groups (GF_LAYER_GROUPS) needs input channels divisible by them, got %s",
                 (long long)g->groups, gfi_shape_str(in, got, sizeof got));
        return GF_ERR_SHAPE;
    }
    if (g->oh == -2 || g->ow == -2) {
        snprintf(msg, cap, "kernel, stride, padding and dilation on %s: sizes overflow",
                 gfi_shape_str(in, got, sizeof got));
        return GF_ERR_OVERFLOW;
    }
    if (g->oh < 1 || g->ow < 1) {
        if (is_1d(l))
            snprintf(msg, cap, "kernel %lld (dilation %lld spans %lld) is larger than the padded input %lld (padding %lld), got %s",
                     (long long)g->kw, (long long)g->dw, (long long)(g->dw * (g->kw - 1) + 1),
                     (long long)(g->w + 2 * g->pw), (long long)g->pw, gfi_shape_str(in, got, sizeof got));
        else
            snprintf(msg, cap,
                     "kernel %lld x %lld (dilation %lld x %lld spans %lld x %lld) is larger than the padded input "
                     "%lld x %lld (padding %lld x %lld), got %s",
                     (long long)g->kh, (long long)g->kw, (long long)g->dh, (long long)g->dw,
                     (long long)(g->dh * (g->kh - 1) + 1), (long long)(g->dw * (g->kw - 1) + 1),
                     (long long)(g->h + 2 * g->ph), (long long)(g->w + 2 * g->pw), (long long)g->ph, (long long)g->pw,
                     gfi_shape_str(in, got, sizeof got));
        return GF_ERR_SHAPE;
    }
    return GF_OK;
}

/* Blocks weight (out x in/groups x kh x kw; 1-D without kh) and bias (out), with PyTorch's fans. */
static int declare_blocks(const gf_layer *l, const geom *g, gfi_layout *lay)
{
    int64_t kk = g->kh * g->kw, cg = g->c / g->groups;
    size_t n;
    /* COL per sample (a chunk is at least one) and the output must be addressable. */
    int rc = gfi_checked_count(g->r, g->p, &n);
    if (!rc)
        rc = gfi_checked_count(g->oc, g->p, &n);
    if (!rc)
        rc = gfi_checked_count(g->oc, g->rg, &n);
    const int64_t w2[4] = {g->oc, cg, g->kh, g->kw}, w1[3] = {g->oc, cg, g->kw};
    if (!rc)
        rc = gfi_layout_block(lay, "weight", false, cg * kk, g->oc * kk, is_1d(l) ? 3 : 4, is_1d(l) ? w1 : w2);
    if (!rc)
        rc = gfi_layout_block(lay, "bias", true, cg * kk, g->oc * kk, 1, &g->oc);
    return rc;
}

static int conv_infer(const gf_layer *l, const gfi_shape *in, gfi_layout *lay, char *msg, size_t cap)
{
    int rc = check_input_kind(l, in, msg, cap);
    if (rc || (rc = check_options(l, msg, cap)))
        return rc;
    geom g;
    make_geom(l, in, &g);
    if ((rc = check_fit(l, in, &g, msg, cap)))
        return rc;
    lay->out = *in;
    lay->out.dim[0] = g.oc;
    if (!is_1d(l))
        lay->out.dim[1] = g.oh;
    lay->out.dim[in->rank - 1] = g.ow;
    if ((rc = declare_blocks(l, &g, lay))) {
        char got[96];
        snprintf(msg, cap, "with %lld output channels on %s: sizes overflow", (long long)g.oc,
                 gfi_shape_str(in, got, sizeof got));
    }
    return rc;
}

/* ---- sizes ---- */

/* a * b * c, saturating at SIZE_MAX (an allocation of that size fails cleanly). */
static size_t sat_mul3(size_t a, size_t b, size_t c)
{
    size_t ab, abc;
    return gfi_mul_size(a, b, &ab) && gfi_mul_size(ab, c, &abc) ? abc : SIZE_MAX;
}

/* COL of a chunk is kept near this many floats (1 MiB): big enough for long products, small enough to stay
 * in the caches between im2col and the product that reads it. */
#define CHUNK_FLOATS 262144

/* Samples per chunk: a function of the layer alone, so the sums over chunks do not depend on the threads. */
static int64_t chunk_samples(const geom *g, int64_t batch)
{
    int64_t per = g->r * g->p, s = per >= CHUNK_FLOATS ? 1 : CHUNK_FLOATS / per;
    return s < batch ? s : batch;
}

/* Weight-gradient partial sums: chunk c adds into slot c % slots, and the slots are added in order at the end
 * (slot 0 is the layer's gradient itself).  The structure depends on the layer and the batch only, so every
 * thread count gives the same bits; it lets up to SLOTS threads take whole chunks in the backward. */
#define SLOTS 4

/* How a pass over the batch is cut and who runs the pieces. */
typedef struct plan {
    int64_t chunk, nchunks, slots;
    bool by_chunk; /* each thread takes whole chunks (else every chunk's work is split over the threads) */
    size_t work;   /* scratch floats of one chunk in flight: COL, Zt or dZt, dCOL */
} plan;

static plan make_plan(const geom *g, int64_t batch, int threads)
{
    plan pl = {.chunk = chunk_samples(g, batch)};
    pl.nchunks = (batch + pl.chunk - 1) / pl.chunk;
    pl.slots = pl.nchunks < SLOTS ? pl.nchunks : SLOTS;
    /* Whole chunks need enough of them to balance the threads, and a slot per thread in the backward. */
    pl.by_chunk = threads > 1 && pl.slots >= threads && pl.nchunks >= 2 * threads;
    pl.work = sat_mul3((size_t)pl.chunk, (size_t)g->p, (size_t)(g->oc + 2 * g->r));
    return pl;
}

/* The slots beyond the first, then a chunk's work per thread, then the sums of dz's (sample, channel) planes
 * in double (2 floats each, after one float of room to align them). */
static size_t conv_scratch_size(const gf_layer *l, int64_t batch, int32_t threads)
{
    geom g;
    layer_geom(l, &g);
    plan pl = make_plan(&g, batch, threads);
    size_t slots = sat_mul3((size_t)(pl.slots - 1), l->nweights, 1), work = sat_mul3(pl.work, (size_t)threads, 1);
    size_t sums = sat_mul3((size_t)batch, (size_t)g.oc, 2);
    if (slots > SIZE_MAX - work || sums > SIZE_MAX - 1 || slots + work > SIZE_MAX - (sums + 1))
        return SIZE_MAX;
    return slots + work + sums + 1;
}

/* Per channel: the live fraction and the weight-gradient norm, after two flags (forward seen, backward seen). */
enum { KEEP_ACT_SEEN, KEEP_GRAD_SEEN, KEEP_HEAD };
static size_t conv_keep_size(const gf_layer *l) { return KEEP_HEAD + 2 * (size_t)l->out_shape.dim[0]; }

/* ---- parallel passes ---- */

/* Below this many elements a pass stays on the caller: waking the workers would cost more. */
#define PAR_MIN_WORK 32768

typedef struct pass {
    gf_layer *l;
    const geom *g;
    int64_t batch; /* samples the pass covers: a chunk's, or the whole batch's */
    const float *a, *b, *c; /* inputs of the pass */
    float *x, *y, *z;        /* outputs of the pass */
    int64_t count; /* a size the item needs beyond the geometry (add_slots_row: the slots; act_grad_run: n0) */
    double *sums;  /* act_grad_run, bias_grad_channel: dz's plane sums, N x OC */
    void (*item)(const struct pass *p, int64_t i); /* one unit of work */
    int64_t items;
} pass;

static void pass_worker(void *arg, int tid, int nthreads)
{
    const pass *p = arg;
    int64_t lo = p->items * tid / nthreads, hi = p->items * (tid + 1) / nthreads;
    for (int64_t i = lo; i < hi; i++)
        p->item(p, i);
}

/* Runs p->item for every item: on this thread when tid >= 0 (the caller split the work itself, this is
 * thread tid's share) or the work is small, else split into contiguous ranges over the net's pool. */
static void run_pass(const gf_layer *l, pass *p, int64_t items, size_t work, int tid,
                     void (*item)(const pass *, int64_t))
{
    p->item = item;
    p->items = items;
    if (tid >= 0 || work < PAR_MIN_WORK)
        pass_worker(p, 0, 1);
    else
        gfi_pool_run(l->owner->pool, pass_worker, p);
}

/* The output columns [lo, hi) of one kernel tap whose input column ix = ox*s + off lies in [0, n). */
static void tap_range(int64_t off, int64_t s, int64_t n, int64_t outn, int64_t *lo, int64_t *hi)
{
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = n - 1 - off >= 0 ? (n - 1 - off) / s + 1 : 0;
    *lo = a < outn ? a : outn;
    *hi = b < outn ? b : outn;
    if (*hi < *lo)
        *hi = *lo;
}

/* im2col, row r of COL (channel c, tap i, j) over every sample: p->a = x, p->x = COL.  The output rows whose
 * input row lies in the image, [a, b), and in each the columns [lo, hi) whose input column does; the rest is
 * padding's zeros.  At column stride 1 every sample's rows are copied in one call (ew.h copy_rows; a memcpy or
 * a call per row of 7 - 26 floats cost more than the copy), after one memset of the whole COL row when the
 * tap reaches into the padding. */
static void im2col_row(const pass *p, int64_t r)
{
    const geom *g = p->g;
    int64_t kk = g->kh * g->kw, c = r / kk, i = r % kk / g->kw, j = r % g->kw;
    int64_t offy = i * g->dh - g->ph, offx = j * g->dw - g->pw, lo, hi, a, b;
    tap_range(offx, g->sw, g->w, g->ow, &lo, &hi);
    tap_range(offy, g->sh, g->h, g->oh, &a, &b);
    int64_t np = p->batch * g->p, plane = g->h * g->w;
    float *dst = p->x + r * np;
    /* the input index of output row a, column 0 (negative with padding: only read from column lo on) */
    int64_t at = (a * g->sh + offy) * g->w + offx;
    if (g->sw == 1) {
        if (a > 0 || b < g->oh || lo > 0 || hi < g->ow)
            memset(dst, 0, (size_t)np * sizeof *dst);
        if (b > a && hi > lo)
            gfi_ew()->copy_rows(dst + (a * g->ow + lo), g->ow, g->p, p->a + (c * plane + at + lo), g->sh * g->w,
                                g->c * plane, p->batch, b - a, hi - lo);
        return;
    }
    for (int64_t n = 0; n < p->batch; n++) {
        const float *xc = p->a + (n * g->c + c) * plane;
        float *d = dst + n * g->p;
        memset(d, 0, (size_t)(a * g->ow) * sizeof *d);
        memset(d + b * g->ow, 0, (size_t)((g->oh - b) * g->ow) * sizeof *d);
        for (int64_t oy = a; oy < b; oy++) {
            int64_t from = at + (oy - a) * g->sh * g->w;
            float *row = d + oy * g->ow;
            for (int64_t ox = 0; ox < lo; ox++)
                row[ox] = 0.0f;
            for (int64_t ox = lo; ox < hi; ox++)
                row[ox] = xc[from + ox * g->sw];
            for (int64_t ox = hi; ox < g->ow; ox++)
                row[ox] = 0.0f;
        }
    }
}

/* d[i] += s[i]: the weight gradient's slots (restrict and blocked, so it vectorizes). */
static void add_run(float *restrict d, const float *restrict s, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++)
            d[i + j] += s[i + j];
    for (; i < n; i++)
        d[i] += s[i];
}

/* col2im, plane q = (sample n, channel c) of dx: p->a = dCOL, p->x = dx.  Taps are added in a fixed order;
 * at column stride 1 each tap's rows in one call (ew.h add_rows). */
static void col2im_plane(const pass *p, int64_t q)
{
    const geom *g = p->g;
    int64_t n = q / g->c, c = q % g->c, np = p->batch * g->p, plane = g->h * g->w;
    float *dx = p->x + q * plane;
    const gfi_ew_ops *ew = gfi_ew();
    memset(dx, 0, (size_t)plane * sizeof *dx);
    for (int64_t i = 0; i < g->kh; i++)
        for (int64_t j = 0; j < g->kw; j++) {
            int64_t offy = i * g->dh - g->ph, offx = j * g->dw - g->pw, lo, hi, a, b;
            tap_range(offx, g->sw, g->w, g->ow, &lo, &hi);
            tap_range(offy, g->sh, g->h, g->oh, &a, &b);
            const float *src = p->a + ((c * g->kh + i) * g->kw + j) * np + n * g->p;
            if (b <= a || hi <= lo)
                continue;
            if (g->sw == 1) {
                ew->add_rows(dx + ((a * g->sh + offy) * g->w + offx + lo), g->sh * g->w, src + (a * g->ow + lo),
                             g->ow, b - a, hi - lo);
                continue;
            }
            for (int64_t oy = a; oy < b; oy++) {
                float *row = dx + ((oy * g->sh + offy) * g->w + offx + lo * g->sw);
                const float *s = src + oy * g->ow;
                for (int64_t ox = lo; ox < hi; ox++)
                    row[(ox - lo) * g->sw] += s[ox];
            }
        }
}

/* The element-wise runs below go in blocks of BLOCK with a fixed-length inner loop, which the compiler
 * turns into vector code at -O2 (its cheapest cost model vectorizes only loops it can replace whole), and
 * select instead of branch: a branch on the sign of a pre-activation mispredicts half the time. */
#define BLOCK 16

/* z = src + b, y = max(z, 0). */
static void bias_relu(const float *restrict src, float b, float *restrict z, float *restrict y, int64_t n)
{
    int64_t i = 0;
    for (; i + BLOCK <= n; i += BLOCK)
        for (int j = 0; j < BLOCK; j++) {
            float v = src[i + j] + b;
            z[i + j] = v;
            y[i + j] = v > 0.0f ? v : 0.0f;
        }
    for (; i < n; i++) {
        float v = src[i] + b;
        z[i] = v;
        y[i] = v > 0.0f ? v : 0.0f;
    }
}

static void bias_only(const float *restrict src, float b, float *restrict z, int64_t n)
{
    int64_t i = 0;
    for (; i + BLOCK <= n; i += BLOCK)
        for (int j = 0; j < BLOCK; j++)
            z[i + j] = src[i + j] + b;
    for (; i < n; i++)
        z[i] = src[i] + b;
}

/* Forward, run (sample n, channel k): z = Zt's run + b[k], y = f(z).  p->a = Zt, p->z = z, p->y = y. */
static void bias_act_run(const pass *p, int64_t t)
{
    const geom *g = p->g;
    const gf_layer *l = p->l;
    int64_t n = t / g->oc, k = t % g->oc;
    const float *src = p->a + k * p->batch * g->p + n * g->p;
    float *z = p->z + t * g->p, *y = p->y + t * g->p, b = l->b[k];
    if (l->act.kind == GF_ACT_RELU) {
        bias_relu(src, b, z, y, g->p);
        return;
    }
    if (l->act.kind != GF_ACT_IDENTITY && gfi_ew_act_fast(l->act.kind)) {
        /* The dense layers' vector pass, on the plane as one row of a bias repeated (z = src + b, the same
         * rounding as bias_only): tanh and sigmoid through libm in double were a third of a tanh conv step. */
        enum { PIECE = 128 };
        float bb[PIECE];
        for (int64_t i = 0; i < PIECE && i < g->p; i++)
            bb[i] = b;
        memcpy(z, src, (size_t)g->p * sizeof *z);
        const gfi_ew_ops *ew = gfi_ew();
        for (int64_t i = 0; i < g->p; i += PIECE) {
            int64_t len = g->p - i < PIECE ? g->p - i : PIECE;
            ew->bias_act(l->act.kind, gfi_ew_act_param(&l->act), bb, z + i, y + i, 1, len, len);
        }
        return;
    }
    bias_only(src, b, z, g->p);
    if (l->act.kind == GF_ACT_IDENTITY)
        memcpy(y, z, (size_t)g->p * sizeof *y);
    else
        gfi_act_forward(&l->act, z, y, (size_t)g->p);
}

/* dz = dy where z > 0, else 0, into dz and dst (dZt's run). */
static void relu_grad(const float *restrict z, const float *restrict dy, float *restrict dz, float *restrict dst,
                      int64_t n)
{
    int64_t i = 0;
    for (; i + BLOCK <= n; i += BLOCK)
        for (int j = 0; j < BLOCK; j++) {
            float d = dy[i + j], v = z[i + j] > 0.0f ? d : 0.0f; /* the load unconditional: a select */
            dz[i + j] = v;
            dst[i + j] = v;
        }
    for (; i < n; i++) {
        float v = z[i] > 0.0f ? dy[i] : 0.0f;
        dz[i] = v;
        dst[i] = v;
    }
}

/* Backward, run (sample n, channel k): dz = dy f'(z), copied into dZt's run, and its sum (for the bias
 * gradient, taken here while the run is in L1 rather than read back from memory in a pass of its own).
 * p->a = z, p->b = y, p->c = dy, p->z = dz, p->x = dZt; the sum goes to sums[n0 + n][k], p->sums with p->count
 * = n0, the chunk's first sample. */
static void act_grad_run(const pass *p, int64_t t)
{
    const geom *g = p->g;
    const gf_layer *l = p->l;
    int64_t n = t / g->oc, k = t % g->oc, off = t * g->p;
    const float *z = p->a + off, *dy = p->c + off;
    float *dz = p->z + off, *dst = p->x + k * p->batch * g->p + n * g->p;
    if (l->act.kind == GF_ACT_RELU) {
        relu_grad(z, dy, dz, dst, g->p);
    } else {
        gfi_act_backward(&l->act, z, p->b + off, dy, dz, (size_t)g->p);
        memcpy(dst, dz, (size_t)g->p * sizeof *dst);
    }
    p->sums[(p->count + n) * g->oc + k] = gfi_ew()->run_sum16(dz, g->p);
}

/* db[k] = the sum over samples, in sample order, of dz's plane sums (p->sums, N x OC; act_grad_run). */
static void bias_grad_channel(const pass *p, int64_t k)
{
    const geom *g = p->g;
    double s = 0.0;
    for (int64_t n = 0; n < p->batch; n++)
        s += p->sums[n * g->oc + k];
    p->l->db[k] = (float)s;
}

/* ---- per-channel series (observed passes only) ---- */

/* Live units of a run of n: ReLU-family z > 0, sigmoid y(1 - y) >= 0.0025, tanh 1 - y^2 >= 0.01 (others all).
 * One loop per kind, in blocks of BLOCK counted in int32 lanes (vector code at -O2): a test of the kind per
 * element kept the loop scalar, 8 % of a small conv net's step. */
#define COUNT_RUN(x, test)                                                                                     \
    int64_t count = 0, i = 0;                                                                                  \
    for (; i + BLOCK <= n; i += BLOCK) {                                                                       \
        int32_t c = 0;                                                                                         \
        for (int j = 0; j < BLOCK; j++) {                                                                      \
            float x = v[i + j];                                                                                \
            c += (test) ? 1 : 0;                                                                               \
        }                                                                                                      \
        count += c;                                                                                            \
    }                                                                                                          \
    for (; i < n; i++) {                                                                                       \
        float x = v[i];                                                                                        \
        count += (test) ? 1 : 0;                                                                               \
    }                                                                                                          \
    return count

static int64_t count_positive(const float *restrict v, int64_t n) { COUNT_RUN(z, z > 0.0f); }
static int64_t count_sigmoid_live(const float *restrict v, int64_t n) { COUNT_RUN(y, y * (1.0f - y) >= 0.0025f); }
static int64_t count_tanh_live(const float *restrict v, int64_t n) { COUNT_RUN(y, 1.0f - y * y >= 0.01f); }
#undef COUNT_RUN

static int64_t count_live(int32_t kind, const float *z, const float *y, int64_t n)
{
    if (gfi_act_is_relu_family(kind))
        return count_positive(z, n);
    if (kind == GF_ACT_SIGMOID)
        return count_sigmoid_live(y, n);
    if (kind == GF_ACT_TANH)
        return count_tanh_live(y, n);
    return n;
}

/* Channel k's live fraction over the batch: p->a = z, p->b = y. */
static void live_frac_channel(const pass *p, int64_t k)
{
    const geom *g = p->g;
    gf_layer *l = p->l;
    int64_t count = 0;
    for (int64_t n = 0; n < p->batch; n++)
        count += count_live(l->act.kind, p->a + (n * g->oc + k) * g->p, p->b + (n * g->oc + k) * g->p, g->p);
    l->keep[KEEP_HEAD + k] = (double)count / ((double)p->batch * (double)g->p);
}

/* Channel k's filter gradient norm. */
static void wgrad_norm_channel(const pass *p, int64_t k)
{
    gf_layer *l = p->l;
    const float *d = l->dw + k * p->g->rg;
    double s = 0.0;
    for (int64_t i = 0; i < p->g->rg; i++)
        s += (double)d[i] * d[i];
    l->keep[KEEP_HEAD + p->g->oc + k] = sqrt(s);
}

/* ---- forward and backward ---- */

/* A product on this thread's packing buffers (tid >= 0) or split over the pool. */
static void product(const gf_layer *l, int tid, bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float *a,
                    int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc)
{
    gf_net *net = l->owner;
    if (tid >= 0)
        gfi_gemm_tid(net->gemm_ws, tid, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
    else
        gfi_gemm_pool(net->pool, net->gemm_ws, ta, tb, m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}

/* Everything a chunk's work needs; the chunk jobs hand it to every thread. */
typedef struct chunk_job {
    gf_layer *l;
    const geom *g;
    const gfi_layer_io *io;
    const plan *pl;
    double *sums; /* backward: dz's plane sums (plane_sums) */
} chunk_job;

/* Thread tid's scratch for one chunk (after the slots), and slot sl's weight gradient. */
static float *work_of(const chunk_job *j, int tid)
{
    return j->io->scratch + (size_t)(j->pl->slots - 1) * j->l->nweights + (size_t)(tid < 0 ? 0 : tid) * j->pl->work;
}

/* The plane sums of dz (N x OC doubles), after every thread's work, aligned for doubles. */
static double *plane_sums(const gfi_layer_io *io, const gf_layer *l, const plan *pl, int threads)
{
    float *at = io->scratch + (size_t)(pl->slots - 1) * l->nweights + (size_t)threads * pl->work;
    uintptr_t u = (uintptr_t)(void *)at;
    return (double *)(void *)(at + (u % sizeof(double) ? 1 : 0));
}

static float *slot_dw(const chunk_job *j, int64_t sl)
{
    return sl == 0 ? j->l->dw : j->io->scratch + (size_t)(sl - 1) * j->l->nweights;
}

/* First sample and samples of chunk c. */
static int64_t chunk_first(const chunk_job *j, int64_t c) { return c * j->pl->chunk; }
static int64_t chunk_size(const chunk_job *j, int64_t c)
{
    int64_t left = j->io->batch - chunk_first(j, c);
    return left < j->pl->chunk ? left : j->pl->chunk;
}

/* im2col of chunk c into col (R x s*P). */
static void chunk_im2col(const chunk_job *j, int64_t c, float *col, int tid)
{
    const geom *g = j->g;
    int64_t s = chunk_size(j, c);
    pass p = {.l = j->l, .g = g, .batch = s, .a = j->io->x + chunk_first(j, c) * g->c * g->h * g->w, .x = col};
    run_pass(j->l, &p, g->r, (size_t)(g->r * s * g->p), tid, im2col_row);
}

/* Forward of chunk c: Zt = W COL per group, scattered into z and y with the bias and activation. */
static void forward_chunk(const chunk_job *j, int64_t c, int tid)
{
    const geom *g = j->g;
    const gf_layer *l = j->l;
    int64_t s = chunk_size(j, c), np = s * g->p, off = chunk_first(j, c) * g->oc * g->p;
    float *col = work_of(j, tid), *zt = col + g->r * np;
    chunk_im2col(j, c, col, tid);
    for (int64_t gi = 0; gi < g->groups; gi++)
        product(l, tid, false, false, g->ocg, np, g->rg, l->w + gi * g->ocg * g->rg, g->rg, col + gi * g->rg * np,
                np, 0.0f, zt + gi * g->ocg * np, np);
    pass p = {.l = j->l, .g = g, .batch = s, .a = zt, .z = j->io->z + off, .y = j->io->y + off};
    run_pass(l, &p, s * g->oc, (size_t)(g->oc * np), tid, bias_act_run);
}

/* Backward of chunk c: dz and its transpose, the weight gradient into dw (added to it when accumulate), dx. */
static void backward_chunk(const chunk_job *j, int64_t c, float *dw, bool accumulate, int tid)
{
    const geom *g = j->g;
    const gf_layer *l = j->l;
    const gfi_layer_io *io = j->io;
    int64_t s = chunk_size(j, c), n0 = chunk_first(j, c), np = s * g->p, off = n0 * g->oc * g->p;
    float *col = work_of(j, tid), *dzt = col + g->r * np, *dcol = dzt + g->oc * np;
    chunk_im2col(j, c, col, tid);
    pass p = {.l = j->l, .g = g, .batch = s, .a = io->z + off, .b = io->y + off, .c = io->dy + off,
              .z = io->dz + off, .x = dzt, .count = n0, .sums = j->sums};
    run_pass(l, &p, s * g->oc, (size_t)(g->oc * np), tid, act_grad_run);
    for (int64_t gi = 0; gi < g->groups; gi++)
        product(l, tid, false, true, g->ocg, g->rg, np, dzt + gi * g->ocg * np, np, col + gi * g->rg * np, np,
                accumulate ? 1.0f : 0.0f, dw + gi * g->ocg * g->rg, g->rg);
    if (!io->dx)
        return;
    for (int64_t gi = 0; gi < g->groups; gi++)
        product(l, tid, true, false, g->rg, np, g->ocg, l->w + gi * g->ocg * g->rg, g->rg, dzt + gi * g->ocg * np,
                np, 0.0f, dcol + gi * g->rg * np, np);
    p = (pass){.l = j->l, .g = g, .batch = s, .a = dcol, .x = io->dx + n0 * g->c * g->h * g->w};
    run_pass(l, &p, s * g->c, (size_t)(g->r * np), tid, col2im_plane);
}

/* Slot sl's chunks, in order, into its weight gradient. */
static void backward_slot(const chunk_job *j, int64_t sl, int tid)
{
    for (int64_t c = sl; c < j->pl->nchunks; c += j->pl->slots)
        backward_chunk(j, c, slot_dw(j, sl), c >= j->pl->slots, tid);
}

/* Thread tid of nt takes a contiguous range of whole chunks (forward) or slots (backward). */
static void forward_worker(void *arg, int tid, int nt)
{
    const chunk_job *j = arg;
    for (int64_t c = j->pl->nchunks * tid / nt; c < j->pl->nchunks * (tid + 1) / nt; c++)
        forward_chunk(j, c, tid);
}

static void backward_worker(void *arg, int tid, int nt)
{
    const chunk_job *j = arg;
    for (int64_t sl = j->pl->slots * tid / nt; sl < j->pl->slots * (tid + 1) / nt; sl++)
        backward_slot(j, sl, tid);
}

/* Row k of the weight gradient += the other slots' rows, in slot order.  p->a = the slots after the first. */
static void add_slots_row(const pass *p, int64_t k)
{
    const gf_layer *l = p->l;
    int64_t rg = p->g->rg;
    float *d = l->dw + k * rg;
    for (int64_t sl = 1; sl < p->count; sl++)
        add_run(d, p->a + (size_t)(sl - 1) * l->nweights + k * rg, rg);
}

static void conv_forward(gf_layer *l, const gfi_layer_io *io)
{
    geom g;
    layer_geom(l, &g);
    plan pl = make_plan(&g, io->batch, gfi_pool_threads(l->owner->pool));
    chunk_job j = {l, &g, io, &pl, NULL};
    if (pl.by_chunk)
        gfi_pool_run(l->owner->pool, forward_worker, &j);
    else
        for (int64_t c = 0; c < pl.nchunks; c++)
            forward_chunk(&j, c, -1);
    if (io->observe && l->keep) {
        pass p = {.l = l, .g = &g, .batch = io->batch, .a = io->z, .b = io->y};
        run_pass(l, &p, g.oc, (size_t)(g.oc * io->batch * g.p), -1, live_frac_channel);
        l->keep[KEEP_ACT_SEEN] = 1.0;
    }
}

static void conv_backward(gf_layer *l, const gfi_layer_io *io)
{
    geom g;
    layer_geom(l, &g);
    int threads = gfi_pool_threads(l->owner->pool);
    plan pl = make_plan(&g, io->batch, threads);
    chunk_job j = {l, &g, io, &pl, plane_sums(io, l, &pl, threads)};
    if (pl.by_chunk)
        gfi_pool_run(l->owner->pool, backward_worker, &j);
    else
        for (int64_t sl = 0; sl < pl.slots; sl++)
            backward_slot(&j, sl, -1);
    pass p = {.l = l, .g = &g, .a = io->scratch, .count = pl.slots};
    if (pl.slots > 1)
        run_pass(l, &p, g.oc, (size_t)(pl.slots - 1) * l->nweights, -1, add_slots_row);
    p = (pass){.l = l, .g = &g, .batch = io->batch, .sums = j.sums};
    run_pass(l, &p, g.oc, (size_t)(g.oc * io->batch), -1, bias_grad_channel);
    if (io->observe && l->keep) {
        p = (pass){.l = l, .g = &g, .batch = io->batch};
        run_pass(l, &p, g.oc, 0, -1, wgrad_norm_channel);
        l->keep[KEEP_GRAD_SEEN] = 1.0;
    }
}

static void conv_units(const gf_layer *l, int64_t view[3])
{
    view[0] = 1;
    view[1] = l->out_shape.dim[0];
    view[2] = l->out / l->out_shape.dim[0];
}

/* Indices of the channels whose live fraction is 0 (dead for the ReLU family, saturated for sigmoid/tanh). */
static int64_t off_channels(const gf_layer *l, bool saturating, double *dst, int64_t cap)
{
    int32_t kind = l->act.kind;
    if (saturating ? !gfi_act_is_saturating(kind) : !gfi_act_is_relu_family(kind))
        return 0;
    int64_t oc = l->out_shape.dim[0], n = 0;
    for (int64_t k = 0; k < oc; k++)
        if (l->keep[KEEP_HEAD + k] == 0.0) {
            if (n < cap)
                dst[n] = (double)k;
            n++;
        }
    return n;
}

static int64_t conv_series(const gf_layer *l, int32_t key, double *dst, int64_t cap)
{
    int64_t oc = l->out_shape.dim[0];
    bool act_seen = l->keep && l->keep[KEEP_ACT_SEEN] != 0.0, grad_seen = l->keep && l->keep[KEEP_GRAD_SEEN] != 0.0;
    switch (key) {
    case GF_SERIES_DEAD_CHANNELS:
    case GF_SERIES_SATURATED_CHANNELS:
        return act_seen ? off_channels(l, key == GF_SERIES_SATURATED_CHANNELS, dst, cap) : 0;
    case GF_SERIES_CHANNEL_ACTIVE_FRAC:
    case GF_SERIES_CHANNEL_WGRAD_NORM: {
        bool seen = key == GF_SERIES_CHANNEL_ACTIVE_FRAC ? act_seen : grad_seen;
        const double *v = l->keep + KEEP_HEAD + (key == GF_SERIES_CHANNEL_WGRAD_NORM ? oc : 0);
        for (int64_t k = 0; seen && k < oc && k < cap; k++)
            dst[k] = v[k];
        return seen ? oc : 0;
    }
    default:
        return -1;
    }
}

/* ---- registration ---- */

#define SIZE_OPT(key, def, min) {key, def, min, GFI_OPTION_SIZE_MAX, true}

static const gfi_option_spec conv1d_options[] = {
    SIZE_OPT(GF_LAYER_OUTPUTS, 0, 1),    SIZE_OPT(GF_LAYER_INPUTS, 0, 0),     SIZE_OPT(GF_LAYER_KERNEL_W, 0, 1),
    SIZE_OPT(GF_LAYER_STRIDE_W, 1, 1),   SIZE_OPT(GF_LAYER_PAD_W, 0, 0),      SIZE_OPT(GF_LAYER_DILATION_W, 1, 1),
    SIZE_OPT(GF_LAYER_GROUPS, 1, 1),     {-1, 0, 0, 0, false},
};

static const gfi_option_spec conv2d_options[] = {
    SIZE_OPT(GF_LAYER_OUTPUTS, 0, 1),    SIZE_OPT(GF_LAYER_INPUTS, 0, 0),     SIZE_OPT(GF_LAYER_KERNEL_H, 0, 1),
    SIZE_OPT(GF_LAYER_KERNEL_W, 0, 1),   SIZE_OPT(GF_LAYER_STRIDE_H, 1, 1),   SIZE_OPT(GF_LAYER_STRIDE_W, 1, 1),
    SIZE_OPT(GF_LAYER_PAD_H, 0, 0),      SIZE_OPT(GF_LAYER_PAD_W, 0, 0),      SIZE_OPT(GF_LAYER_DILATION_H, 1, 1),
    SIZE_OPT(GF_LAYER_DILATION_W, 1, 1), SIZE_OPT(GF_LAYER_GROUPS, 1, 1),     {-1, 0, 0, 0, false},
};

#define CONV_OPS(nm, k, opts)                                                                                          \
    {                                                                                                                  \
        .name = nm, .kind = k, .options = opts, .has_activation = true, .keeps_pre = true, .infer = conv_infer,       \
        .scratch_size = conv_scratch_size, .keep_size = conv_keep_size,                                                \
        .forward = conv_forward, .backward = conv_backward, .units = conv_units, .series = conv_series,                \
    }

const gfi_layer_ops gfi_conv1d_ops = CONV_OPS("conv1d", GF_LAYER_CONV1D, conv1d_options);
const gfi_layer_ops gfi_conv2d_ops = CONV_OPS("conv2d", GF_LAYER_CONV2D, conv2d_options);

int gf_net_add_conv2d(gf_net *net, int64_t out_channels, int64_t kernel, int64_t stride, int64_t padding,
                      int32_t activation_kind, gf_layer **layer)
{
    const int32_t keys[] = {GF_LAYER_OUTPUTS,  GF_LAYER_KERNEL_H, GF_LAYER_KERNEL_W, GF_LAYER_STRIDE_H,
                            GF_LAYER_STRIDE_W, GF_LAYER_PAD_H,    GF_LAYER_PAD_W};
    const double values[] = {(double)out_channels, (double)kernel, (double)kernel, (double)stride,
                             (double)stride,       (double)padding, (double)padding};
    return gfi_net_add_kind(net, GF_LAYER_CONV2D, keys, values, 7, activation_kind, layer, "gf_net_add_conv2d");
}

int gf_net_add_conv1d(gf_net *net, int64_t out_channels, int64_t kernel, int64_t stride, int64_t padding,
                      int32_t activation_kind, gf_layer **layer)
{
    const int32_t keys[] = {GF_LAYER_OUTPUTS, GF_LAYER_KERNEL_W, GF_LAYER_STRIDE_W, GF_LAYER_PAD_W};
    const double values[] = {(double)out_channels, (double)kernel, (double)stride, (double)padding};
    return gfi_net_add_kind(net, GF_LAYER_CONV1D, keys, values, 4, activation_kind, layer, "gf_net_add_conv1d");
}
