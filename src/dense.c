/*
 * dense.c — the fully connected layer: y = f(x W^T + b), W out x in (PyTorch nn.Linear layout).
 * On a SEQUENCE (T x F) it applies to every time step, like nn.Linear on the last dim: the T rows of
 * each sample are rows of one product, so the hot path is the same gemm and fused pass with batch*T rows.
 */
#include "internal.h"
#include "ew.h"
#include "gemm.h"
#include "threadpool.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Sizes infer derives once (l->aux): rows per sample (T on a sequence, else 1), input and output features. */
enum { ROWS, IN, OUT };
static inline int64_t dense_rows(const gf_layer *l) { return l->aux[ROWS]; }
static inline int64_t dense_in(const gf_layer *l) { return l->aux[IN]; }
static inline int64_t dense_out(const gf_layer *l) { return l->aux[OUT]; }

/* ---- one pool run per pass: the product and the element-wise work on the
 * same block of it.  A thread's block of z gets its bias and activation
 * right after the thread computed it; a thread's columns of dz (= rows of
 * dW) get their activation gradient and bias gradient right before the
 * thread multiplies them into dW.  Same arithmetic per element as the
 * separate passes, so results do not depend on the thread count; a deep net
 * of mid-size layers takes 3 pool runs per layer instead of 5. ---- */

typedef struct dense_job {
    gf_layer *l;
    const gfi_layer_io *io;
    const gfi_ew_ops *ops;
    int split;
    int64_t rows, in, out;
} dense_job;

static void forward_share(void *arg, int tid, int nt)
{
    const dense_job *j = arg;
    gf_layer *l = j->l;
    const gfi_layer_io *io = j->io;
    int64_t lo, hi, out = j->out;
    gfi_gemm_share_range(j->split, j->rows, out, tid, nt, &lo, &hi);
    gfi_gemm_share(l->owner->gemm_ws, tid, j->split, lo, hi, false, true, j->rows, out, j->in, 1.0f, io->x, j->in,
                   l->w, j->in, 0.0f, io->z, out);
    if (lo >= hi)
        return;
    if (j->split == GFI_GEMM_BY_ROWS) {
        j->ops->bias_act(l->act.kind, gfi_ew_act_param(&l->act), l->b, io->z + lo * out, io->y + lo * out, hi - lo,
                         out, out);
        return;
    }
    j->ops->bias_act(l->act.kind, gfi_ew_act_param(&l->act), l->b + lo, io->z + lo, io->y + lo, j->rows, hi - lo,
                     out);
}

static void backward_share(void *arg, int tid, int nt)
{
    const dense_job *j = arg;
    gf_layer *l = j->l;
    const gfi_layer_io *io = j->io;
    int64_t lo, hi, out = j->out;
    gfi_gemm_share_range(GFI_GEMM_BY_ROWS, out, j->in, tid, nt, &lo, &hi);
    if (lo >= hi)
        return;
    j->ops->act_grad_colsum(l->act.kind, gfi_ew_act_param(&l->act), io->z + lo, io->y + lo, io->dy + lo,
                            io->dz + lo, l->db + lo, j->rows, hi - lo, out);
    gfi_gemm_share(l->owner->gemm_ws, tid, GFI_GEMM_BY_ROWS, lo, hi, true, false, out, j->in, j->rows, 1.0f, io->dz,
                   out, io->x, j->in, 0.0f, l->dw, j->in);
}

/* The two products of a layer's backward pass, dW = dz^T x and dx = dz W,
 * need the same dz and nothing from each other, and always have the same
 * m*n*k (out x in x rows).  On two threads each thread computes one of them
 * whole (the same arithmetic as on one thread), so the layer takes one pool
 * run, with no operand packed twice and no product cut into narrow blocks. */
static void grads_task(void *arg, int tid, int nt)
{
    const dense_job *j = arg;
    (void)nt;
    gf_layer *l = j->l;
    const gfi_layer_io *io = j->io;
    if (tid == 0)
        gfi_gemm_tid(l->owner->gemm_ws, 0, true, false, j->out, j->in, j->rows, 1.0f, io->dz, j->out, io->x, j->in,
                     0.0f, l->dw, j->in);
    else if (tid == 1)
        gfi_gemm_tid(l->owner->gemm_ws, 1, false, false, j->rows, j->in, j->out, 1.0f, io->dz, j->out, l->w, j->in,
                     0.0f, io->dx, j->in);
}

/* rows x in x out.  Below GRADS_TASK_MIN one pool run costs more than the second product saves.  Above
 * GRADS_TASK_MAX each product shared out by blocks is the better split: there dx takes 8 - 12 % longer
 * than dW (wide's 256 x 2048 x 2048: 9.8 against 9.0 ms), which a thread each turns into a wait, while
 * sharing both out costs little next to their size (in-process A/B, two threads over one, alternated:
 * wide 1.85 / 1.85 / 1.86 / 1.83 -> 1.88 / 1.91 / 1.90 / 1.88, mnist's 128 x 512 x 512 the same either
 * way; deep's 64 x 256 x 256 and the cnn's 64 x 1600 x 128 gain from a thread each). */
#ifndef GRADS_TASK_MIN
#define GRADS_TASK_MIN 1e5
#endif
#ifndef GRADS_TASK_MAX
#define GRADS_TASK_MAX 16e6
#endif

/* Whether the backward pass gives dW and dx a thread each (grads_task). */
static bool grads_as_tasks(const gf_net *net, const gfi_layer_io *io, int64_t rows, int64_t in, int64_t out)
{
    return io->dx && gfi_pool_threads(net->pool) == 2 && gfi_gemm_ws_threads(net->gemm_ws) >= 2 &&
           (double)rows * (double)in * (double)out >= GRADS_TASK_MIN &&
           (double)rows * (double)in * (double)out <= GRADS_TASK_MAX;
}

static void dense_forward(gf_layer *l, const gfi_layer_io *io)
{
    /* z = x W^T, then + b and the activation in one pass where a fast version exists. */
    gf_net *net = l->owner;
    int64_t rows = io->batch * dense_rows(l), in = dense_in(l), out = dense_out(l);
    float *z = io->z, *y = io->y;
    bool fast = gfi_ew_act_fast(l->act.kind);
    int split = gfi_gemm_pool_split(net->pool, net->gemm_ws, false, true, rows, out, in);
    if (fast && split != GFI_GEMM_ONE) {
        dense_job j = {l, io, gfi_ew(), split, rows, in, out};
        gfi_pool_run(net->pool, forward_share, &j);
        return;
    }
    gfi_gemm_pool(net->pool, net->gemm_ws, false, true, rows, out, in, 1.0f, io->x, in, l->w, in, 0.0f, z, out);
    if (fast) {
        gfi_ew_bias_act_run(net->pool, l->act.kind, gfi_ew_act_param(&l->act), l->b, z, y, rows, out);
        return;
    }
    /* Other kinds: the bias by the vector pass (z += b, the same one rounding), then the activation. */
    gfi_ew_bias_act_run(net->pool, GF_ACT_IDENTITY, 0.0, l->b, z, z, rows, out);
    gfi_act_forward(&l->act, z, y, (size_t)(rows * out));
}

/* ||d loss / d y_t|| over the batch for every step t, into keep (length first). */
static void record_time_norms(gf_layer *l, const float *dy, int64_t batch)
{
    int64_t T = l->in_shape.dim[0], out = dense_out(l);
    double *norm = l->keep + 1;
    for (int64_t t = 0; t < T; t++)
        norm[t] = 0.0;
    for (int64_t n = 0; n < batch; n++)
        for (int64_t t = 0; t < T; t++) {
            const float *d = dy + (n * T + t) * out;
            double s = 0.0;
            for (int64_t j = 0; j < out; j++)
                s += (double)d[j] * d[j];
            norm[t] += s;
        }
    for (int64_t t = 0; t < T; t++)
        norm[t] = sqrt(norm[t]);
    l->keep[0] = (double)T;
}

/* dz = dy f'(z) and db = column sums of dz, on their own (fused where a fast version exists). */
static void act_grad_pass(gf_layer *l, const gfi_layer_io *io, bool fast, int64_t rows, int64_t out)
{
    if (fast) {
        gfi_ew_act_grad_colsum_run(l->owner->pool, l->act.kind, gfi_ew_act_param(&l->act), io->z, io->y, io->dy,
                                   io->dz, l->db, rows, out);
        return;
    }
    gfi_act_backward(&l->act, io->z, io->y, io->dy, io->dz, (size_t)(rows * out));
    /* db = column sums of dz in double, in row order, by the vector pass (dz itself is left as it is). */
    gfi_ew_act_grad_colsum_run(l->owner->pool, GF_ACT_IDENTITY, 0.0, io->z, io->y, io->dz, io->dz, l->db, rows, out);
}

static void dense_backward(gf_layer *l, const gfi_layer_io *io)
{
    /* dz = dy f'(z) and db = column sums of dz (fused where a fast version exists);
     * dW = dz^T x (out x in); dx = dz W. */
    gf_net *net = l->owner;
    int64_t rows = io->batch * dense_rows(l), in = dense_in(l), out = dense_out(l);
    float *dz = io->dz;
    if (io->observe && l->keep)
        record_time_norms(l, io->dy, io->batch);
    bool fast = gfi_ew_act_fast(l->act.kind);
    if (grads_as_tasks(net, io, rows, in, out)) {
        act_grad_pass(l, io, fast, rows, out);
        dense_job j = {l, io, gfi_ew(), GFI_GEMM_ONE, rows, in, out};
        gfi_pool_run(net->pool, grads_task, &j);
        return;
    }
    if (fast && gfi_gemm_pool_split(net->pool, net->gemm_ws, true, false, out, in, rows) == GFI_GEMM_BY_ROWS) {
        dense_job j = {l, io, gfi_ew(), GFI_GEMM_BY_ROWS, rows, in, out};
        gfi_pool_run(net->pool, backward_share, &j);
    } else {
        act_grad_pass(l, io, fast, rows, out);
        gfi_gemm_pool(net->pool, net->gemm_ws, true, false, out, in, rows, 1.0f, dz, out, io->x, in, 0.0f, l->dw, in);
    }
    if (io->dx)
        gfi_gemm_pool(net->pool, net->gemm_ws, false, false, rows, in, out, 1.0f, dz, out, l->w, in, 0.0f, io->dx, in);
}

static int dense_infer(const gf_layer *l, const gfi_shape *in, gfi_layout *lay, char *msg, size_t cap)
{
    char got[96];
    if (in->kind != GF_SHAPE_VECTOR && in->kind != GF_SHAPE_SEQUENCE) {
        snprintf(msg, cap, "expects VECTOR(F) or SEQUENCE(T x F) input, got %s; add a flatten layer first",
                 gfi_shape_str(in, got, sizeof got));
        return GF_ERR_SHAPE;
    }
    int64_t f = in->dim[in->rank - 1], want = (int64_t)l->opt[GF_LAYER_INPUTS], out = (int64_t)l->opt[GF_LAYER_OUTPUTS];
    if (want && want != f) {
        snprintf(msg, cap, "expects %lld input features (GF_LAYER_INPUTS), got %s", (long long)want,
                 gfi_shape_str(in, got, sizeof got));
        return GF_ERR_SHAPE;
    }
    if (out <= 0) {
        snprintf(msg, cap, "needs GF_LAYER_OUTPUTS (its output features) set");
        return GF_ERR_INVALID;
    }
    lay->out = *in;
    lay->out.dim[in->rank - 1] = out;
    lay->aux[ROWS] = in->kind == GF_SHAPE_SEQUENCE ? in->dim[0] : 1;
    lay->aux[IN] = f;
    lay->aux[OUT] = out;
    size_t n;
    int rc = gfi_checked_count(gfi_shape_size(in) / f, out, &n);
    const int64_t wdims[2] = {out, f};
    if (!rc)
        rc = gfi_layout_block(lay, "weight", false, f, out, 2, wdims);
    if (!rc)
        rc = gfi_layout_block(lay, "bias", true, f, out, 1, &out);
    if (rc)
        snprintf(msg, cap, "with %lld outputs on %s: sizes overflow", (long long)out, gfi_shape_str(in, got, sizeof got));
    return rc;
}

static size_t dense_keep_size(const gf_layer *l)
{
    return l->in_shape.kind == GF_SHAPE_SEQUENCE ? (size_t)l->in_shape.dim[0] + 1 : 0;
}

static void dense_units(const gf_layer *l, int64_t view[3])
{
    view[0] = dense_rows(l);
    view[1] = dense_out(l);
    view[2] = 1;
}

static int64_t dense_series(const gf_layer *l, int32_t key, double *dst, int64_t cap)
{
    if (key != GF_SERIES_DELTA_TIME_NORM || !l->keep)
        return -1;
    int64_t n = (int64_t)l->keep[0];
    for (int64_t t = 0; t < n && t < cap; t++)
        dst[t] = l->keep[1 + t];
    return n;
}

static const gfi_option_spec dense_options[] = {
    {GF_LAYER_OUTPUTS, 0, 1, GFI_OPTION_SIZE_MAX, true},
    {GF_LAYER_INPUTS, 0, 0, GFI_OPTION_SIZE_MAX, true},
    {-1, 0, 0, 0, false},
};

const gfi_layer_ops gfi_dense_ops = {
    .name = "dense",
    .kind = GF_LAYER_DENSE,
    .options = dense_options,
    .has_activation = true,
    .keeps_pre = true,
    .infer = dense_infer,
    .keep_size = dense_keep_size,
    .forward = dense_forward,
    .backward = dense_backward,
    .units = dense_units,
    .series = dense_series,
};

int gf_layer_dense_create(gf_layer **out, int64_t inputs, int64_t outputs)
{
    if (!out)
        return gfi_fail(GF_ERR_NULL, "gf_layer_dense_create: out is NULL");
    *out = NULL;
    size_t nw;
    int rc = gfi_checked_count(inputs, outputs, &nw);
    if (rc)
        return gfi_fail(rc, "gf_layer_dense_create: %s (%lld inputs x %lld outputs)",
                        rc == GF_ERR_OVERFLOW ? "weight count overflows size_t" : "sizes must be positive",
                        (long long)inputs, (long long)outputs);
    gf_layer *l;
    if ((rc = gf_layer_create(&l, GF_LAYER_DENSE)))
        return gfi_fail(rc, "gf_layer_dense_create: out of memory");
    l->opt[GF_LAYER_INPUTS] = (double)inputs;
    l->opt[GF_LAYER_OUTPUTS] = (double)outputs;
    gfi_shape in = {GF_SHAPE_VECTOR, 1, {inputs}};
    if ((rc = gfi_layer_size_for(l, &in, "gf_layer_dense_create"))) {
        gfi_layer_free(l);
        return rc;
    }
    *out = l;
    return GF_OK;
}
