/*
 * recurrent.c — the parts RNN, LSTM and GRU share (recurrent.h): shape inference and PyTorch's parameter
 * blocks, the cache and scratch layouts, the batched input projection and weight gradients, truncated
 * backpropagation through time, the initial and final state, and the diagnostics across time (||dL/dh_t||
 * per step, gate health, the recurrent matrix's largest singular value).
 */
#include "recurrent.h"
#include "ew.h"
#include "gemm.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int64_t rec_state_floats(const gf_layer *l)
{
    return (l->kind == GF_LAYER_LSTM ? 2 : 1) * l->aux[RA_H];
}
int64_t gfi_rec_state_floats(const gf_layer *l) { return rec_state_floats(l); }

/* ------------------------------------------------------------------ */
/* Shapes, blocks, sizes                                               */
/* ------------------------------------------------------------------ */

int gfi_rec_infer(const gf_layer *l, const gfi_shape *in, gfi_layout *lay, char *msg, size_t cap, int64_t gates)
{
    char got[96];
    if (in->kind != GF_SHAPE_SEQUENCE) {
        snprintf(msg, cap, "expects SEQUENCE(T x F) input, got %s; create the net with gf_net_create_shaped",
                 gfi_shape_str(in, got, sizeof got));
        return GF_ERR_SHAPE;
    }
    int64_t T = in->dim[0], F = in->dim[1], want = (int64_t)l->opt[GF_LAYER_INPUTS], H = (int64_t)l->opt[GF_LAYER_HIDDEN];
    if (want && want != F) {
        snprintf(msg, cap, "expects %lld input features (GF_LAYER_INPUTS), got %s", (long long)want,
                 gfi_shape_str(in, got, sizeof got));
        return GF_ERR_SHAPE;
    }
    if (H <= 0) {
        snprintf(msg, cap, "needs GF_LAYER_HIDDEN (its hidden units) set");
        return GF_ERR_INVALID;
    }
    bool seq = l->opt[GF_LAYER_RETURN_SEQUENCES] != 0.0;
    lay->out = seq ? (gfi_shape){GF_SHAPE_SEQUENCE, 2, {T, H}} : (gfi_shape){GF_SHAPE_VECTOR, 1, {H}};
    lay->aux[RA_T] = T;
    lay->aux[RA_F] = F;
    lay->aux[RA_H] = H;
    lay->aux[RA_G] = gates;
    lay->aux[RA_SEQ] = seq;
    lay->aux[RA_TRUNC] = (int64_t)l->opt[GF_LAYER_TRUNCATE];
    /* Sizes the cache and scratch take per sample must be addressable too: T x G x H x (F + ...). */
    size_t n, gh, m;
    int64_t row, t1;
    int rc = gfi_checked_count(gates, H, &gh);
    if (!rc && (!gfi_size_mul(H, 4, &row) || !gfi_size_add(row, F, &row) || !gfi_size_add(row, 4, &row) ||
                !gfi_size_add(T, 1, &t1)))
        rc = GF_ERR_OVERFLOW;
    if (!rc)
        rc = gfi_checked_count((int64_t)gh, row, &n);
    if (!rc)
        rc = gfi_checked_count((int64_t)n, t1, &m);
    const int64_t GH = (int64_t)gh, wih[2] = {GH, F}, whh[2] = {GH, H};
    /* Each weight block has its own fans, as torch.nn.init computes them for the tensor (weight_ih_l0: F in,
     * GH out; weight_hh_l0: H in), so Xavier, He and LeCun draw what they draw there; the biases take
     * weight_hh_l0's.  PyTorch's own reset draws every block from U(-1/sqrt(H), 1/sqrt(H)): the default
     * initializer's fan is H throughout. */
    if (!rc)
        rc = gfi_layout_block(lay, "weight_ih_l0", false, F, GH, 2, wih);
    if (!rc)
        rc = gfi_layout_block(lay, "weight_hh_l0", false, H, GH, 2, whh);
    if (!rc)
        rc = gfi_layout_block(lay, "bias_ih_l0", true, H, GH, 1, &GH);
    if (!rc)
        rc = gfi_layout_block(lay, "bias_hh_l0", true, H, GH, 1, &GH);
    for (int32_t i = 0; !rc && i < lay->nblocks; i++)
        lay->block[i].default_fan = H;
    if (rc)
        snprintf(msg, cap, "with %lld hidden units on %s: sizes overflow", (long long)H,
                 gfi_shape_str(in, got, sizeof got));
    return rc;
}

/* Cache floats per sample: gates T*GH, hs (T+1)*H, LSTM cs (T+1)*H and aux T*H, GRU aux T*H, ds0 S. */
size_t gfi_rec_cache_size(const gf_layer *l)
{
    size_t T = (size_t)l->aux[RA_T], H = (size_t)l->aux[RA_H], GH = (size_t)l->aux[RA_G] * H;
    size_t n = T * GH + (T + 1) * H + (size_t)rec_state_floats(l);
    if (l->kind == GF_LAYER_LSTM)
        n += (T + 1) * H + T * H;
    else if (l->kind == GF_LAYER_GRU)
        n += T * H;
    return n;
}

/* Products that may exceed size_t for an absurd batch saturate, so the allocation fails cleanly. */
static size_t mul_sat(size_t a, size_t b)
{
    size_t n;
    return gfi_mul_size(a, b, &n) ? n : SIZE_MAX;
}
static size_t add_sat(size_t a, size_t b) { return a > SIZE_MAX - b ? SIZE_MAX : a + b; }

size_t gfi_rec_scratch_size(const gf_layer *l, int64_t batch, int32_t threads)
{
    (void)threads;
    size_t B = (size_t)batch, T = (size_t)l->aux[RA_T], F = (size_t)l->aux[RA_F], H = (size_t)l->aux[RA_H];
    size_t GH = (size_t)l->aux[RA_G] * H, per = T * F + T * GH * (l->kind == GF_LAYER_GRU ? 2 : 1) + 3 * H + GH;
    /* bsum, bstep, bacc (2 GH doubles = 4 GH floats, first so it stays 8-byte aligned), zeros, and
     * weight_hh_l0 packed (either way round: the same size) */
    return add_sat(add_sat(mul_sat(B, per), 6 * GH + H), gfi_gemm_pre_floats((int64_t)GH, (int64_t)H));
}

/* keep: [0] length recorded, T+1 norms, 4 series of T (the fourth: ||what step t carries back to h_t||, for an RNN
 * with an output at every step), 8 scalars, 2H doubles of the power iteration. */
enum { K_GSAT_ALL, K_FMEAN_ALL, K_CSAT_UNITS, K_CDEAD_UNITS, K_SIGMA, K_NSCALAR = 8 };
static size_t keep_norms(void) { return 1; }
static size_t keep_series(const gf_layer *l, int which) { return 2 + (size_t)l->aux[RA_T] * (size_t)(1 + which); }
static size_t keep_carried(const gf_layer *l) { return keep_series(l, 3); }
static size_t keep_scalars(const gf_layer *l) { return keep_series(l, 4); }
static size_t keep_power(const gf_layer *l) { return keep_scalars(l) + K_NSCALAR; }

size_t gfi_rec_keep_size(const gf_layer *l) { return keep_power(l) + 2 * (size_t)l->aux[RA_H]; }

gfi_rec gfi_rec_view(const gf_layer *l, int64_t batch, float *cache, float *scratch)
{
    gfi_rec r = {.B = batch, .T = l->aux[RA_T], .F = l->aux[RA_F], .H = l->aux[RA_H], .G = l->aux[RA_G],
                 .k = l->aux[RA_TRUNC], .seq = l->aux[RA_SEQ] != 0,
                 .len = l->lengths && l->lengths_batch == batch ? l->lengths : NULL};
    r.GH = r.G * r.H;
    size_t B = (size_t)r.B, T = (size_t)r.T, H = (size_t)r.H, GH = (size_t)r.GH, F = (size_t)r.F;
    float *p = cache;
    r.gates = p, p += T * B * GH;
    r.hs = p, p += (T + 1) * B * H;
    if (l->kind == GF_LAYER_LSTM)
        r.cs = p, p += (T + 1) * B * H;
    if (l->kind != GF_LAYER_RNN)
        r.aux = p, p += T * B * H;
    r.ds0 = p;
    if (!scratch)
        return r;
    p = scratch;
    r.bacc = (double *)(void *)p, p += 4 * GH; /* the scratch is malloc'd: aligned for double */
    r.xt = p, p += T * B * F;
    r.dp = p, p += T * B * GH;
    if (l->kind == GF_LAYER_GRU)
        r.dg = p, p += T * B * GH;
    else
        r.dg = r.dp;
    r.dh = p, p += B * H;
    r.carry = p, p += B * H;
    r.dc = p, p += B * H;
    r.step = p, p += B * GH;
    r.bsum = p, p += GH;
    r.bstep = p, p += GH;
    r.zeros = p, p += H;
    memset(r.zeros, 0, H * sizeof(float));
    r.pre_buf = p;
    return r;
}

void gfi_rec_pack_whh(const gf_layer *l, gfi_rec *r, bool backward)
{
    const float *whh = l->w + (size_t)r->GH * (size_t)r->F;
    if (backward) /* op(B) = W_hh: GH x H */
        gfi_gemm_pre_pack(&r->pre, r->pre_buf, false, r->GH, r->H, whh, r->H);
    else /* op(B) = W_hh^T: H x GH */
        gfi_gemm_pre_pack(&r->pre, r->pre_buf, true, r->H, r->GH, whh, r->H);
}

void gfi_rec_units(const gf_layer *l, int64_t view[3])
{
    view[0] = l->aux[RA_SEQ] ? l->aux[RA_T] : 1;
    view[1] = l->aux[RA_H];
    view[2] = 1;
}

/* ------------------------------------------------------------------ */
/* Forward helpers                                                     */
/* ------------------------------------------------------------------ */

/* dst (T x B x F, time-major) from src (B x T x F); and back. */
static void to_time_major(const float *src, float *dst, int64_t B, int64_t T, int64_t F)
{
    for (int64_t n = 0; n < B; n++)
        for (int64_t t = 0; t < T; t++)
            memcpy(dst + (t * B + n) * F, src + (n * T + t) * F, (size_t)F * sizeof(float));
}
static void to_batch_major(const float *src, float *dst, int64_t B, int64_t T, int64_t F)
{
    for (int64_t n = 0; n < B; n++)
        for (int64_t t = 0; t < T; t++)
            memcpy(dst + (n * T + t) * F, src + (t * B + n) * F, (size_t)F * sizeof(float));
}

void gfi_rec_project(gf_layer *l, const gfi_rec *r, const float *x)
{
    gf_net *net = l->owner;
    to_time_major(x, r->xt, r->B, r->T, r->F);
    gfi_gemm_pool(net->pool, net->gemm_ws, false, true, r->T * r->B, r->GH, r->F, 1.0f, r->xt, r->F, l->w, r->F,
                  0.0f, r->gates, r->GH);
}

void gfi_rec_recur(gf_layer *l, const gfi_rec *r, int64_t t, float beta, float *c)
{
    gf_net *net = l->owner;
    const float *whh = l->w + (size_t)r->GH * (size_t)r->F, *h = r->hs + t * r->B * r->H;
    if (r->pre.p && r->pre.trans_b)
        gfi_gemm_pool_pre(net->pool, net->gemm_ws, false, r->B, 1.0f, h, r->H, whh, r->H, &r->pre, beta, c, r->GH);
    else
        gfi_gemm_pool(net->pool, net->gemm_ws, false, true, r->B, r->GH, r->H, 1.0f, h, r->H, whh, r->H, beta, c,
                      r->GH);
}

/* The caller's state is batch-major h (B x H) then c: hs[0] and cs[0] are B x H blocks as well. */
void gfi_rec_load_state(const gf_layer *l, const gfi_rec *r)
{
    size_t n = (size_t)r->B * (size_t)r->H;
    if (!l->state) {
        memset(r->hs, 0, n * sizeof(float));
        if (r->cs)
            memset(r->cs, 0, n * sizeof(float));
        return;
    }
    memcpy(r->hs, l->state, n * sizeof(float));
    if (r->cs)
        memcpy(r->cs, l->state + n, n * sizeof(float));
}

void gfi_rec_emit(const gfi_rec *r, const float *steps, float *y)
{
    if (r->seq)
        to_batch_major(steps, y, r->B, r->T, r->H);
    else
        memcpy(y, steps + (r->T - 1) * r->B * r->H, (size_t)(r->B * r->H) * sizeof(float));
}

/* Samples past their end keep their state: h_{t+1} = h_t (and c). */
void gfi_rec_hold(const gfi_rec *r, int64_t t)
{
    size_t BH = (size_t)(r->B * r->H), H = (size_t)r->H;
    for (int64_t b = 0; r->len && b < r->B; b++) {
        if (!gfi_rec_held(r, b, t))
            continue;
        memcpy(r->hs + (size_t)(t + 1) * BH + (size_t)b * H, r->hs + (size_t)t * BH + (size_t)b * H, H * sizeof(float));
        if (r->cs)
            memcpy(r->cs + (size_t)(t + 1) * BH + (size_t)b * H, r->cs + (size_t)t * BH + (size_t)b * H,
                   H * sizeof(float));
    }
}

/* Every-step output (batch-major B x T x H) is zero past each sample's end, as pad_packed_sequence gives. */
void gfi_rec_zero_padding(const gfi_rec *r, float *out)
{
    if (!r->len || !r->seq)
        return;
    for (int64_t b = 0; b < r->B; b++)
        memset(out + (b * r->T + r->len[b]) * r->H, 0, (size_t)((r->T - r->len[b]) * r->H) * sizeof(float));
}

void gfi_rec_zero_held(const gfi_rec *r, int64_t t, float *m, int64_t width)
{
    for (int64_t b = 0; r->len && b < r->B; b++)
        if (gfi_rec_held(r, b, t))
            memset(m + b * width, 0, (size_t)width * sizeof(float));
}

void gfi_rec_act(const gfi_act *a, const float *b, float *z, float *y, int64_t rows, int64_t cols, int64_t ld)
{
    bool fast = gfi_ew_act_fast(a->kind);
    if (fast) {
        gfi_ew()->bias_act(a->kind, gfi_ew_act_param(a), b, z, y, rows, cols, ld);
        return;
    }
    for (int64_t i = 0; i < rows; i++) {
        float *zr = z + i * ld, *yr = y + i * ld;
        for (int64_t j = 0; j < cols; j++)
            zr[j] += b[j];
        gfi_act_forward(a, zr, yr, (size_t)cols);
    }
}

void gfi_rec_mark(gf_layer *l, int64_t batch, bool backward)
{
    l->fwd_batch = batch;
    l->bwd_done = backward;
}

/* ------------------------------------------------------------------ */
/* Backward helpers                                                    */
/* ------------------------------------------------------------------ */

bool gfi_rec_cut(const gfi_rec *r, int64_t t)
{
    return r->k > 0 && t > 0 && t < r->T && (r->T - t) % r->k == 0;
}

/* At the top of step t's backward: dh of h_{t+1} into the record, unless h_{t+1} is a chunk's detached input
 * state, whose record is what the chunk after it sends back (gfi_rec_observe_carry). */
void gfi_rec_observe_step(gf_layer *l, const gfi_rec *r, int64_t t, bool observe)
{
    if (observe && !gfi_rec_cut(r, t + 1))
        gfi_rec_record_norm(l, r, t + 1, r->dh);
}

bool gfi_rec_need_carry(const gfi_rec *r, int64_t t, bool observe)
{
    return t == 0 || !gfi_rec_cut(r, t) || observe;
}

void gfi_rec_observe_carry(gf_layer *l, const gfi_rec *r, int64_t t, bool observe)
{
    if (observe && gfi_rec_cut(r, t))
        gfi_rec_record_norm(l, r, t, r->carry);
}

void gfi_rec_step_grad(const gfi_rec *r, const float *dy, int64_t t, bool cut)
{
    size_t n = (size_t)(r->B * r->H);
    if (cut)
        memset(r->dh, 0, n * sizeof(float));
    else
        memcpy(r->dh, r->carry, n * sizeof(float));
    if (!r->seq && t != r->T - 1)
        return;
    for (int64_t b = 0; b < r->B; b++) {
        if (r->seq && gfi_rec_held(r, b, t)) /* a padding step's output is not the sample's */
            continue;
        const float *d = r->seq ? dy + (b * r->T + t) * r->H : dy + b * r->H;
        float *h = r->dh + b * r->H;
        for (int64_t j = 0; j < r->H; j++)
            h[j] += d[j];
    }
}

void gfi_rec_carry(gf_layer *l, const gfi_rec *r, int64_t t, float beta)
{
    gf_net *net = l->owner;
    const float *whh = l->w + (size_t)r->GH * (size_t)r->F, *dg = r->dg + t * r->B * r->GH;
    if (r->pre.p && !r->pre.trans_b)
        gfi_gemm_pool_pre(net->pool, net->gemm_ws, false, r->B, 1.0f, dg, r->GH, whh, r->H, &r->pre, beta, r->carry,
                          r->H);
    else
        gfi_gemm_pool(net->pool, net->gemm_ws, false, false, r->B, r->H, r->GH, 1.0f, dg, r->GH, whh, r->H, beta,
                      r->carry, r->H);
    /* A held state passes its gradient straight through to the one before. */
    for (int64_t b = 0; r->len && b < r->B; b++)
        if (gfi_rec_held(r, b, t))
            memcpy(r->carry + b * r->H, r->dh + b * r->H, (size_t)r->H * sizeof(float));
}

/* Column sums of one step's rows (in double over the batch, by the element-wise kernels' identity pass, which
 * rewrites the rows unchanged) added into acc. */
static void add_col_sums(const gfi_rec *r, float *m, double *acc, bool first)
{
    gfi_ew()->act_grad_colsum(GF_ACT_IDENTITY, 0.0, NULL, NULL, m, m, r->bstep, r->B, r->GH, r->GH);
    for (int64_t j = 0; j < r->GH; j++)
        acc[j] = (first ? 0.0 : acc[j]) + r->bstep[j];
}

void gfi_rec_bias_step(const gfi_rec *r, int64_t t)
{
    size_t at = (size_t)t * (size_t)(r->B * r->GH);
    bool first = t == r->T - 1;
    add_col_sums(r, r->dp + at, r->bacc, first);
    if (r->dg != r->dp)
        add_col_sums(r, r->dg + at, r->bacc + r->GH, first);
}

void gfi_rec_param_grads(gf_layer *l, const gfi_rec *r, const float *x)
{
    gf_net *net = l->owner;
    int64_t rows = r->T * r->B;
    float *dwih = l->dw, *dwhh = l->dw + (size_t)r->GH * (size_t)r->F;
    /* The scratch is shared by the layers (a recurrent layer above this one has used it since this one's
     * forward): the time-major input is made again. */
    to_time_major(x, r->xt, r->B, r->T, r->F);
    gfi_gemm_pool(net->pool, net->gemm_ws, true, false, r->GH, r->F, rows, 1.0f, r->dp, r->GH, r->xt, r->F, 0.0f,
                  dwih, r->F);
    gfi_gemm_pool(net->pool, net->gemm_ws, true, false, r->GH, r->H, rows, 1.0f, r->dg, r->GH, r->hs, r->H, 0.0f,
                  dwhh, r->H);
    const double *acc_hh = r->dg == r->dp ? r->bacc : r->bacc + r->GH;
    for (int64_t j = 0; j < r->GH; j++) {
        l->db[j] = (float)r->bacc[j];
        l->db[r->GH + j] = (float)acc_hh[j];
    }
}

void gfi_rec_input_grad(gf_layer *l, const gfi_rec *r, float *dx)
{
    gf_net *net = l->owner;
    gfi_gemm_pool(net->pool, net->gemm_ws, false, false, r->T * r->B, r->F, r->GH, 1.0f, r->dp, r->GH, l->w, r->F,
                  0.0f, r->xt, r->F);
    to_batch_major(r->xt, dx, r->B, r->T, r->F);
}

void gfi_rec_backward_finish(gf_layer *l, const gfi_rec *r, const gfi_layer_io *io, bool observe)
{
    gfi_rec_param_grads(l, r, io->x);
    if (io->dx)
        gfi_rec_input_grad(l, r, io->dx);
    if (observe) {
        gfi_rec_record_norm(l, r, 0, r->carry);
        gfi_rec_record_gates(l, r);
    }
    gfi_rec_mark(l, r->B, true);
}

const gfi_option_spec gfi_rec_options[] = {
    {GF_LAYER_HIDDEN, 0, 1, GFI_OPTION_SIZE_MAX, true},
    {GF_LAYER_INPUTS, 0, 0, GFI_OPTION_SIZE_MAX, true},
    {GF_LAYER_RETURN_SEQUENCES, 0, 0, 1, true},
    {GF_LAYER_TRUNCATE, 0, 0, GFI_OPTION_SIZE_MAX, true},
    {-1, 0, 0, 0, false},
};

void gfi_rec_copy_dz(const gf_layer *l, const gfi_layer_io *io)
{
    memcpy(io->dz, io->dy, (size_t)io->batch * (size_t)l->out * sizeof(float));
}

/* ------------------------------------------------------------------ */
/* State: readers and the caller-given initial state                   */
/* ------------------------------------------------------------------ */

int gfi_rec_check_batch(const gf_layer *l, int64_t batch, char *msg, size_t cap)
{
    if (l->state && l->state_batch != batch) {
        snprintf(msg, cap,
                 "has an initial state for batch %lld (gf_layer_set_initial_state) but the pass has batch %lld; set "
                 "one for this batch or clear it",
                 (long long)l->state_batch, (long long)batch);
        return GF_ERR_SHAPE;
    }
    if (l->lengths && l->lengths_batch != batch) {
        snprintf(msg, cap,
                 "has sequence lengths for batch %lld (gf_layer_set_lengths) but the pass has batch %lld; set them "
                 "for this batch or clear them",
                 (long long)l->lengths_batch, (long long)batch);
        return GF_ERR_SHAPE;
    }
    return GF_OK;
}

static bool is_recurrent(const gf_layer *l)
{
    return l->kind == GF_LAYER_RNN || l->kind == GF_LAYER_LSTM || l->kind == GF_LAYER_GRU;
}

/* A live recurrent layer in a net; fn names the caller. */
static int check_recurrent(const gf_layer *l, const char *fn)
{
    if (!l)
        return gfi_fail(GF_ERR_NULL, "%s: layer is NULL", fn);
    if (!gfi_is_layer(l))
        return gfi_fail(GF_ERR_KIND, "%s: handle is not a live gf_layer", fn);
    if (!is_recurrent(l))
        return gfi_fail(GF_ERR_INVALID, "%s: a %s layer has no recurrent state", fn, l->ops->name);
    if (!l->owner)
        return gfi_fail(GF_ERR_STATE, "%s: the layer is not in a net yet (its sizes come from gf_net_add)", fn);
    return GF_OK;
}

int64_t gf_layer_state_size(const gf_layer *layer)
{
    return check_recurrent(layer, "gf_layer_state_size") ? -1 : rec_state_floats(layer);
}

int64_t gf_layer_state_batch(const gf_layer *layer)
{
    if (check_recurrent(layer, "gf_layer_state_batch"))
        return -1;
    const gf_net *net = layer->owner;
    return net->cache && net->max_batch >= layer->fwd_batch ? layer->fwd_batch : 0;
}

int gf_layer_set_initial_state(gf_layer *layer, const float *state, size_t count, int64_t batch)
{
    const char *fn = "gf_layer_set_initial_state";
    int rc = check_recurrent(layer, fn);
    if (rc)
        return rc;
    if (!state && count == 0) {
        gfi_free(layer->state);
        layer->state = NULL;
        layer->state_batch = 0;
        return GF_OK;
    }
    if (!state)
        return gfi_fail(GF_ERR_NULL, "%s: state is NULL (pass count 0 to restore the zero state)", fn);
    size_t want;
    if ((rc = gfi_checked_count(batch, rec_state_floats(layer), &want)))
        return gfi_fail(rc, "%s: batch must be positive and batch x %lld addressable (got %lld)", fn,
                        (long long)rec_state_floats(layer), (long long)batch);
    if (count != want)
        return gfi_fail(GF_ERR_SHAPE, "%s: state has %zu values but batch %lld x %lld state floats needs %zu", fn,
                        count, (long long)batch, (long long)rec_state_floats(layer), want);
    for (size_t i = 0; i < count; i++)
        if (!isfinite(state[i]))
            return gfi_fail(GF_ERR_NONFINITE, "%s: state[%zu] is %g", fn, i, (double)state[i]);
    float *s = gfi_malloc(count * sizeof(float));
    if (!s)
        return gfi_fail(GF_ERR_NOMEM, "%s: out of memory for %zu values", fn, count);
    memcpy(s, state, count * sizeof(float));
    gfi_free(layer->state);
    layer->state = s;
    layer->state_batch = batch;
    return GF_OK;
}

int gf_layer_set_lengths(gf_layer *layer, const int64_t *lengths, int64_t batch)
{
    const char *fn = "gf_layer_set_lengths";
    int rc = check_recurrent(layer, fn);
    if (rc)
        return rc;
    if (!lengths && batch == 0) {
        gfi_free(layer->lengths);
        layer->lengths = NULL;
        layer->lengths_batch = 0;
        gfi_net_cancel_pass(layer->owner); /* the backward reads the lengths: they must be the forward's */
        return GF_OK;
    }
    if (!lengths)
        return gfi_fail(GF_ERR_NULL, "%s: lengths is NULL (pass batch 0 to clear them)", fn);
    size_t n;
    if ((rc = gfi_checked_count(batch, 1, &n)))
        return gfi_fail(rc, "%s: batch must be positive (got %lld)", fn, (long long)batch);
    int64_t T = layer->aux[RA_T];
    for (int64_t b = 0; b < batch; b++)
        if (lengths[b] < 1 || lengths[b] > T)
            return gfi_fail(GF_ERR_RANGE, "%s: lengths[%lld] is %lld, outside 1..%lld (the net's steps)", fn, (long long)b,
                            (long long)lengths[b], (long long)T);
    int64_t *copy = gfi_malloc(n * sizeof *copy);
    if (!copy)
        return gfi_fail(GF_ERR_NOMEM, "%s: out of memory for %zu lengths", fn, n);
    memcpy(copy, lengths, n * sizeof *copy);
    gfi_free(layer->lengths);
    layer->lengths = copy;
    layer->lengths_batch = batch;
    gfi_net_cancel_pass(layer->owner);
    return GF_OK;
}

/* The cache of the last forward when it is still there (no layer added, no batch growth since). */
static int state_source(const gf_layer *l, size_t count, bool backward, gfi_rec *r, const char *fn)
{
    const gf_net *net = l->owner;
    bool have = l->fwd_batch > 0 && net->cache && net->max_batch >= l->fwd_batch && (!backward || l->bwd_done);
    if (!have)
        return gfi_fail(GF_ERR_STATE, "%s: no %s since the net last changed", fn,
                        backward ? "backward after the last forward" : "forward or predict");
    *r = gfi_rec_view(l, l->fwd_batch, net->cache[l->index], NULL);
    size_t want = (size_t)l->fwd_batch * (size_t)rec_state_floats(l);
    if (count != want)
        return gfi_fail(GF_ERR_SHAPE, "%s: count is %zu but batch %lld x %lld state floats is %zu", fn, count,
                        (long long)l->fwd_batch, (long long)rec_state_floats(l), want);
    return GF_OK;
}

int gf_layer_initial_state_grad(const gf_layer *layer, float *dst, size_t count)
{
    const char *fn = "gf_layer_initial_state_grad";
    gfi_rec r;
    int rc = check_recurrent(layer, fn);
    if (rc || (rc = state_source(layer, count, true, &r, fn)))
        return rc;
    if (!dst)
        return gfi_fail(GF_ERR_NULL, "%s: dst is NULL", fn);
    memcpy(dst, r.ds0, count * sizeof(float));
    return GF_OK;
}

int gf_layer_final_state(const gf_layer *layer, float *dst, size_t count)
{
    const char *fn = "gf_layer_final_state";
    gfi_rec r;
    int rc = check_recurrent(layer, fn);
    if (rc || (rc = state_source(layer, count, false, &r, fn)))
        return rc;
    if (!dst)
        return gfi_fail(GF_ERR_NULL, "%s: dst is NULL", fn);
    size_t n = (size_t)(r.B * r.H);
    memcpy(dst, r.hs + r.T * r.B * r.H, n * sizeof(float));
    if (r.cs)
        memcpy(dst + n, r.cs + r.T * r.B * r.H, n * sizeof(float));
    return GF_OK;
}

/* ------------------------------------------------------------------ */
/* Diagnostics across time                                             */
/* ------------------------------------------------------------------ */

void gfi_rec_record_carried(gf_layer *l, const gfi_rec *r, int64_t t)
{
    double s = 0.0;
    size_t n = (size_t)(r->B * r->H);
    for (size_t j = 0; j < n; j++)
        s += (double)r->carry[j] * r->carry[j];
    l->keep[keep_carried(l) + (size_t)t] = sqrt(s);
}

void gfi_rec_record_norm(gf_layer *l, const gfi_rec *r, int64_t i, const float *g)
{
    double s = 0.0;
    size_t n = (size_t)(r->B * r->H);
    for (size_t j = 0; j < n; j++)
        s += (double)g[j] * g[j];
    l->keep[keep_norms() + (size_t)i] = sqrt(s);
    if (i == 0)
        l->keep[0] = (double)(r->T + 1);
}

/* Saturated sigmoid gate: derivative s(1-s) under 1% of its maximum 1/4, i.e. s outside [SIG_LO, SIG_HI]
 * (the roots of s(1-s) = 0.0025); tanh: 1-y^2 under 1%, i.e. |y| > TANH_HI = sqrt(0.99). */
#define SIG_LO 0.0025062814466900285f
#define SIG_HI 0.99749371855330997f
#define TANH_HI 0.99498743710661997f
static bool sig_saturated(float s) { return s < SIG_LO || s > SIG_HI; }
static bool tanh_saturated(float y) { return fabsf(y) > TANH_HI; }

/* Row scans in blocks of 8 (vectorized at -O2): saturated sigmoid values; and for a candidate row, its
 * saturated values, with the per-unit flags (unsaturated somewhere, alive somewhere) updated. */
static int64_t count_sig_saturated(int64_t n, const float *restrict g)
{
    int32_t c = 0;
    GFI_FOR8(j, n, c += (g[j] < SIG_LO) | (g[j] > SIG_HI));
    return c;
}

static float row_sum(int64_t n, const float *restrict g)
{
    float s = 0.0f; /* 256 gate values in [0, 1]: float holds their sum to 1e-5 relative */
    GFI_FOR8(j, n, s += g[j]);
    return s;
}

static int64_t scan_candidate(int64_t n, const float *restrict c, unsigned char *restrict unsat,
                              unsigned char *restrict alive, float dead_below)
{
    int32_t k = 0;
    GFI_FOR8(j, n, {
        unsigned char sat = fabsf(c[j]) > TANH_HI;
        k += sat;
        unsat[j] |= (unsigned char)!sat;
        alive[j] |= (unsigned char)(fabsf(c[j]) > dead_below);
    });
    return k;
}

/* Where the gates of a kind sit in a GH row: sigmoid gate blocks, the forget-like gate and the candidate. */
typedef struct gate_map {
    int64_t sig0, nsig; /* contiguous sigmoid blocks [sig0, sig0 + nsig) of H each, plus o for the LSTM */
    int64_t extra_sig;  /* a further sigmoid block (LSTM o: 3), -1 if none */
    int64_t forget;     /* block of the forget gate (LSTM f: 1, GRU z: 1), -1 if none */
    int64_t cand;       /* block of the candidate (LSTM g: 2, GRU n: 2) */
} gate_map;

static gate_map gates_of(const gf_layer *l)
{
    if (l->kind == GF_LAYER_LSTM)
        return (gate_map){0, 2, 3, 1, 2};
    return (gate_map){0, 2, -1, 1, 2}; /* GRU: r, z sigmoid; n tanh */
}

/* Per-step gate statistics and the per-unit candidate flags of the cached forward. */
static void record_gated(gf_layer *l, const gfi_rec *r, unsigned char *alive, unsigned char *unsat)
{
    gate_map m = gates_of(l);
    double *gsat = l->keep + keep_series(l, 0), *fmean = l->keep + keep_series(l, 1),
           *csat = l->keep + keep_series(l, 2), *sc = l->keep + keep_scalars(l);
    double all_sat = 0.0, all_f = 0.0;
    int64_t H = r->H, nsig = (m.nsig + (m.extra_sig >= 0)) * H;
    for (int64_t t = 0; t < r->T; t++) {
        int64_t nsat = 0, ncs = 0, rows = 0;
        double f = 0.0;
        for (int64_t b = 0; b < r->B; b++) {
            if (gfi_rec_held(r, b, t))
                continue;
            rows++;
            const float *g = r->gates + (t * r->B + b) * r->GH;
            nsat += count_sig_saturated(m.nsig * H, g + m.sig0 * H);
            if (m.extra_sig >= 0)
                nsat += count_sig_saturated(H, g + m.extra_sig * H);
            f += row_sum(H, g + m.forget * H);
            ncs += scan_candidate(H, g + m.cand * H, unsat, alive, 0.00999999f);
        }
        double n = rows ? (double)rows : NAN; /* a step no sample has */
        gsat[t] = (double)nsat / (n * (double)nsig);
        fmean[t] = f / (n * (double)H);
        csat[t] = (double)ncs / (n * (double)H);
        if (!rows)
            continue;
        all_sat += gsat[t];
        all_f += fmean[t];
    }
    int64_t steps = r->len ? 0 : r->T;
    for (int64_t t = 0; r->len && t < r->T; t++)
        steps += !isnan(fmean[t]);
    sc[K_GSAT_ALL] = all_sat / (double)steps;
    sc[K_FMEAN_ALL] = all_f / (double)steps;
}

/* The Elman RNN: the candidate is h itself (saturated for tanh/sigmoid, dead for the ReLU family). */
static void record_plain(gf_layer *l, const gfi_rec *r, unsigned char *alive, unsigned char *unsat)
{
    double *csat = l->keep + keep_series(l, 2), *sc = l->keep + keep_scalars(l);
    int32_t kind = l->act.kind;
    bool sig = kind == GF_ACT_SIGMOID, tanh_ = kind == GF_ACT_TANH, relu = gfi_act_is_relu_family(kind);
    for (int64_t t = 0; t < r->T; t++) {
        int64_t ncs = 0, rows = 0;
        for (int64_t b = 0; b < r->B; b++) {
            if (gfi_rec_held(r, b, t))
                continue;
            rows++;
            const float *h = r->hs + ((t + 1) * r->B + b) * r->H;
            for (int64_t j = 0; j < r->H; j++) {
                bool s = sig ? sig_saturated(h[j]) : tanh_ ? tanh_saturated(h[j]) : false;
                ncs += s;
                unsat[j] |= !s;
                alive[j] |= relu ? h[j] != 0.0f : fabsf(h[j]) >= 0.01f;
            }
        }
        csat[t] = (double)ncs / ((rows ? (double)rows : NAN) * (double)r->H);
    }
    sc[K_GSAT_ALL] = sc[K_FMEAN_ALL] = NAN;
}

void gfi_rec_record_gates(gf_layer *l, const gfi_rec *r)
{
    /* Per-unit flags live in the scratch's step buffer (B x GH >= 2H floats, free during backward's end). */
    unsigned char *alive = (unsigned char *)r->step, *unsat = alive + r->H;
    memset(alive, 0, (size_t)(2 * r->H));
    if (l->kind == GF_LAYER_RNN)
        record_plain(l, r, alive, unsat);
    else
        record_gated(l, r, alive, unsat);
    int64_t sat = 0, dead = 0;
    for (int64_t j = 0; j < r->H; j++) {
        sat += !unsat[j];
        dead += !alive[j];
    }
    double *sc = l->keep + keep_scalars(l);
    bool saturating = l->kind != GF_LAYER_RNN || gfi_act_is_saturating(l->act.kind);
    sc[K_CSAT_UNITS] = saturating ? (double)sat / (double)r->H : 0.0;
    sc[K_CDEAD_UNITS] = (double)dead / (double)r->H;
}

int64_t gfi_rec_series(const gf_layer *l, int32_t key, double *dst, int64_t cap)
{
    if (!l->keep)
        return -1;
    bool gated = l->kind != GF_LAYER_RNN;
    int64_t T = l->aux[RA_T], n = l->keep[0] > 0 ? T : 0;
    const double *src;
    switch (key) {
    case GF_SERIES_DELTA_TIME_NORM: n = (int64_t)l->keep[0], src = l->keep + keep_norms(); break;
    case GF_SERIES_GATE_SATURATED_FRAC:
        if (!gated)
            return -1;
        src = l->keep + keep_series(l, 0);
        break;
    case GF_SERIES_FORGET_GATE_MEAN:
        if (!gated)
            return -1;
        src = l->keep + keep_series(l, 1);
        break;
    case GF_SERIES_CANDIDATE_SATURATED_FRAC: src = l->keep + keep_series(l, 2); break;
    default: return -1;
    }
    for (int64_t t = 0; t < n && t < cap; t++)
        dst[t] = src[t];
    return n;
}

/* gamma = max |f'| of the RNN's activation: vanishing is certain when sigma_max < 1 / gamma (Pascanu et al.). */
static double act_gamma(const gfi_act *a)
{
    switch (a->kind) {
    case GF_ACT_SIGMOID: return 0.25;
    case GF_ACT_LEAKY_RELU: return fmax(1.0, fabs(a->slope));
    case GF_ACT_ELU: return fmax(1.0, a->alpha);
    case GF_ACT_SELU: return 1.0507009873554805 * 1.6732632423543772;
    case GF_ACT_GELU: return 1.1289; /* the maximum of Phi(x) + x phi(x), at x = sqrt(2) */
    default: return 1.0; /* identity, tanh, ReLU, softplus */
    }
}

/* sigma_max(W) of W (rows x cols) by power iteration on W^T W: u = W v, v = W^T u, the products by the
 * library's gemm (float products, double norms).  v (cols floats) is kept between observations, so a slowly
 * changing W needs a few iterations each time (`iters`); u: rows floats of room. */
static double sigma_max(gf_net *net, const float *w, int64_t rows, int64_t cols, float *v, float *u, int iters)
{
    double sigma = 0.0;
    for (int it = 0; it < iters; it++) {
        double nv = gfi_norm2(v, (size_t)cols);
        if (!(nv > 0.0) || !isfinite(nv)) { /* first use, or a collapsed vector: a generic start */
            for (int64_t j = 0; j < cols; j++)
                v[j] = 1.0f + 0.1f * (float)(j % 7);
            nv = gfi_norm2(v, (size_t)cols);
        }
        for (int64_t j = 0; j < cols; j++)
            v[j] = (float)(v[j] / nv);
        gfi_gemm(net->gemm_ws, false, false, rows, 1, cols, 1.0f, w, cols, v, 1, 0.0f, u, 1);
        double now = gfi_norm2(u, (size_t)rows); /* ||W v|| for unit v: rises to sigma_max */
        gfi_gemm(net->gemm_ws, true, false, cols, 1, rows, 1.0f, w, cols, u, 1, 0.0f, v, 1);
        if (!isfinite(now))
            return NAN;
        bool done = it > 2 && fabs(now - sigma) <= 1e-6 * now;
        sigma = now;
        if (done || now == 0.0)
            break;
    }
    return sigma;
}

bool gfi_rec_time_span(const gf_layer *l, double *first, double *last, int64_t *steps)
{
    int64_t T = l->aux[RA_T], k = l->aux[RA_TRUNC];
    if (!l->keep || l->keep[0] <= 0)
        return false;
    const double *nm = l->keep + keep_norms();
    int64_t start = k > 0 && k < T ? T - k : 0;
    *first = nm[start];
    *last = nm[T];
    *steps = T - start;
    return true;
}

bool gfi_rec_carried_only(const gf_layer *l) { return l->kind == GF_LAYER_RNN && l->aux[RA_SEQ]; }

/* The rate per step at which ||dL/dh_t|| changes from the last state back to the first one the gradient
 * reaches (the last truncation boundary, else h_0): (||dh_start|| / ||dh_T||)^(1 / (T - start)).
 * An RNN with an output at every step gets each step's own loss gradient added on the way back, so its profile
 * stays flat even where nothing crosses 30 steps (a tanh RNN at 0.5 Q: x0.95 a step measured that way, while
 * 0.5^30 = 1e-9 reaches a remembered input, and it learned nothing).  Its rate is what a step carries back: the
 * geometric mean over the steps of ||carried to h_t|| / ||dL/dh_(t+1)|| (for one output at the end, the same
 * ratio as the profile's, the carried part being all of the gradient).  LSTM and GRU keep the profile: their
 * state also crosses the steps through the cell and the gates. */
static double time_rate(const gf_layer *l)
{
    double first, end;
    int64_t n;
    if (!gfi_rec_time_span(l, &first, &end, &n) || !(end > 0.0) || !isfinite(end) || !isfinite(first))
        return NAN;
    if (!gfi_rec_carried_only(l))
        return pow(first / end, 1.0 / (double)n);
    int64_t T = l->aux[RA_T];
    const double *nm = l->keep + keep_norms(), *carried = l->keep + keep_carried(l);
    double logsum = 0.0;
    for (int64_t t = T - n; t < T; t++) {
        if (!(nm[t + 1] > 0.0) || !isfinite(carried[t]))
            return NAN;
        if (!(carried[t] > 0.0))
            return 0.0; /* nothing crosses this step */
        logsum += log(carried[t] / nm[t + 1]);
    }
    return exp(logsum / (double)n);
}

void gfi_rec_diag_stats(gf_layer *l, double *rec)
{
    if (!l->keep || l->keep[0] <= 0)
        return;
    const double *sc = l->keep + keep_scalars(l);
    int64_t H = l->aux[RA_H], GH = l->aux[RA_G] * H, F = l->aux[RA_F];
    /* The vector lives in the keep (as floats); W v needs GH floats, taken from the net's scratch, which no
     * layer uses between its backward and the diagnostics' look at it. */
    float *v = (float *)(void *)(l->keep + keep_power(l));
    double *last = l->keep + keep_scalars(l) + K_SIGMA;
    int iters = *last > 0 && isfinite(*last) ? 6 : 100;
    rec[GF_STAT_TIME_RATE] = time_rate(l);
    *last = sigma_max(l->owner, l->w + (size_t)GH * (size_t)F, GH, H, v, l->owner->scratch, iters);
    rec[GF_STAT_RECURRENT_SIGMA] = *last;
    rec[GF_STAT_RECURRENT_BOUND] = l->kind == GF_LAYER_RNN ? 1.0 / act_gamma(&l->act) : NAN;
    rec[GF_STAT_GATE_SATURATED_FRAC] = sc[K_GSAT_ALL];
    rec[GF_STAT_FORGET_GATE_MEAN] = sc[K_FMEAN_ALL];
    rec[GF_STAT_CANDIDATE_SATURATED_FRAC] = sc[K_CSAT_UNITS];
    rec[GF_STAT_CANDIDATE_DEAD_FRAC] = sc[K_CDEAD_UNITS];
}
