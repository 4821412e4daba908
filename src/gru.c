/*
 * gru.c — the GRU with nn.GRU's equations (one layer, batch_first), gates in PyTorch's order r, z, n:
 *   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr),  z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
 *   n = tanh(W_in x + b_in + r (W_hn h + b_hn)),  h' = (1 - z) n + z h.
 * r multiplies the recurrent part of n only, so the two biases of n do not add and W_hn h + b_hn is cached;
 * the recurrent-side gradient dg differs from the input side dp in the n block (times r).
 */
#include "recurrent.h"

#include <string.h>

static const gfi_act SIGMOID = {GF_ACT_SIGMOID, 0.01, 1.0};
static const gfi_act TANH = {GF_ACT_TANH, 0.01, 1.0};

/* bsum: b_ir + b_hr, b_iz + b_hz, then b_in alone. */
static void bias_sum(const gf_layer *l, const gfi_rec *r)
{
    int64_t H = r->H;
    for (int64_t j = 0; j < 2 * H; j++)
        r->bsum[j] = l->b[j] + l->b[r->GH + j];
    for (int64_t j = 2 * H; j < 3 * H; j++)
        r->bsum[j] = l->b[j];
}

static void row_add(int64_t n, const float *restrict s, float *restrict a) { GFI_FOR8(j, n, a[j] += s[j]); }
static void row_hn(int64_t H, const float *restrict s, const float *restrict b, float *restrict hn)
{
    GFI_FOR8(j, H, hn[j] = s[j] + b[j]);
}
static void row_reset(int64_t H, const float *restrict r, const float *restrict hn, float *restrict an)
{
    GFI_FOR8(j, H, an[j] += r[j] * hn[j]);
}

/* Adds the recurrent product (r->step) to the r and z pre-activations and keeps hn = W_hn h + b_hn; once the
 * gates are activated (gates_done), adds r hn to n's pre-activation. */
static void mix_recurrent(const gf_layer *l, const gfi_rec *r, float *g, float *hn, bool gates_done)
{
    int64_t H = r->H;
    const float *bhn = l->b + r->GH + 2 * H;
    for (int64_t b = 0; b < r->B; b++) {
        float *row = g + b * r->GH, *n = hn + b * H;
        const float *s = r->step + b * r->GH;
        if (gates_done) {
            row_reset(H, row, n, row + 2 * H);
        } else {
            row_add(2 * H, s, row);
            row_hn(H, s + 2 * H, bhn, n);
        }
    }
}

/* h' = (1 - z) n + z h for one sample. */
static void row_output(int64_t H, const float *restrict z, const float *restrict n, const float *restrict hp,
                       float *restrict h)
{
    GFI_FOR8(j, H, h[j] = (1.0f - z[j]) * n[j] + z[j] * hp[j]);
}

static void gru_output(const gfi_rec *r, const float *g, const float *hp, float *h)
{
    int64_t H = r->H;
    for (int64_t b = 0; b < r->B; b++) {
        const float *z = g + b * r->GH + H;
        row_output(H, z, z + H, hp + b * H, h + b * H);
    }
}

static void gru_forward(gf_layer *l, const gfi_layer_io *io)
{
    gfi_rec r = gfi_rec_view(l, io->batch, io->cache, io->scratch);
    gfi_rec_pack_whh(l, &r, false);
    size_t BH = (size_t)(r.B * r.H), BG = (size_t)(r.B * r.GH);
    int64_t H = r.H;
    gfi_rec_project(l, &r, io->x);
    gfi_rec_load_state(l, &r);
    bias_sum(l, &r);
    for (int64_t t = 0; t < r.T; t++) {
        float *g = r.gates + (size_t)t * BG, *hn = r.aux + (size_t)t * BH;
        gfi_rec_recur(l, &r, t, 0.0f, r.step);
        mix_recurrent(l, &r, g, hn, false);
        gfi_rec_act(&SIGMOID, r.bsum, g, g, r.B, 2 * H, r.GH);
        mix_recurrent(l, &r, g, hn, true);
        gfi_rec_act(&TANH, r.bsum + 2 * H, g + 2 * H, g + 2 * H, r.B, H, r.GH);
        gru_output(&r, g, r.hs + (size_t)t * BH, r.hs + (size_t)(t + 1) * BH);
        gfi_rec_hold(&r, t);
    }
    gfi_rec_emit(&r, r.hs + BH, io->y);
    gfi_rec_zero_padding(&r, io->y);
    gfi_rec_mark(l, r.B, false);
}

/* One sample's gradients: dp (input side r, z, n), dg (recurrent side: n's times r), and carry = dh z (the
 * direct path to h_{t-1}). */
static void row_backward(int64_t H, const float *restrict gr, const float *restrict gz, const float *restrict gn,
                         const float *restrict hn, const float *restrict hp, const float *restrict dh,
                         float *restrict dpr, float *restrict dpz, float *restrict dpn, float *restrict dgr,
                         float *restrict dgz, float *restrict dgn, float *restrict carry)
{
    GFI_FOR8(j, H, {
        float rr = gr[j], z = gz[j], n = gn[j];
        float dan = dh[j] * (1.0f - z) * (1.0f - n * n);
        float dar = dan * hn[j] * rr * (1.0f - rr);
        float daz = dh[j] * (hp[j] - n) * z * (1.0f - z);
        dpr[j] = dgr[j] = dar;
        dpz[j] = dgz[j] = daz;
        dpn[j] = dan;
        dgn[j] = dan * rr;
        carry[j] = dh[j] * z;
    });
}

/* Step t's gradients for every sample; the product through W_hh is added to carry by the caller. */
static void cell_backward(const gfi_rec *r, int64_t t)
{
    int64_t H = r->H;
    size_t BH = (size_t)(r->B * H), BG = (size_t)(r->B * r->GH);
    for (int64_t b = 0; b < r->B; b++) {
        const float *g = r->gates + (size_t)t * BG + b * r->GH;
        float *dp = r->dp + (size_t)t * BG + b * r->GH, *dg = r->dg + (size_t)t * BG + b * r->GH;
        if (gfi_rec_held(r, b, t)) { /* no step here: no gate gradient (the carry is dh, set after the product) */
            memset(dp, 0, (size_t)r->GH * sizeof(float));
            memset(dg, 0, (size_t)r->GH * sizeof(float));
            continue;
        }
        row_backward(H, g, g + H, g + 2 * H, r->aux + (size_t)t * BH + b * H, r->hs + (size_t)t * BH + b * H,
                     r->dh + b * H, dp, dp + H, dp + 2 * H, dg, dg + H, dg + 2 * H, r->carry + b * H);
    }
}

static void gru_backward(gf_layer *l, const gfi_layer_io *io)
{
    gfi_rec r = gfi_rec_view(l, io->batch, io->cache, io->scratch);
    gfi_rec_pack_whh(l, &r, true);
    size_t BH = (size_t)(r.B * r.H);
    bool observe = io->observe && l->keep;
    for (int64_t t = r.T - 1; t >= 0; t--) {
        gfi_rec_step_grad(&r, io->dy, t, t == r.T - 1 || gfi_rec_cut(&r, t + 1));
        gfi_rec_observe_step(l, &r, t, observe);
        cell_backward(&r, t);
        gfi_rec_bias_step(&r, t);
        if (gfi_rec_need_carry(&r, t, observe))
            gfi_rec_carry(l, &r, t, 1.0f);
        gfi_rec_observe_carry(l, &r, t, observe);
    }
    memcpy(r.ds0, r.carry, BH * sizeof(float));
    gfi_rec_copy_dz(l, io);
    gfi_rec_backward_finish(l, &r, io, observe);
}

static int gru_infer(const gf_layer *l, const gfi_shape *in, gfi_layout *lay, char *msg, size_t cap)
{
    return gfi_rec_infer(l, in, lay, msg, cap, 3);
}

const gfi_layer_ops gfi_gru_ops = {
    .name = "gru",
    .kind = GF_LAYER_GRU,
    .options = gfi_rec_options,
    .infer = gru_infer,
    .cache_size = gfi_rec_cache_size,
    .scratch_size = gfi_rec_scratch_size,
    .keep_size = gfi_rec_keep_size,
    .forward = gru_forward,
    .backward = gru_backward,
    .units = gfi_rec_units,
    .series = gfi_rec_series,
    .check_batch = gfi_rec_check_batch,
    .diag_stats = gfi_rec_diag_stats,
};

int gf_net_add_gru(gf_net *net, int64_t hidden, int32_t return_sequences, gf_layer **layer)
{
    const int32_t keys[2] = {GF_LAYER_HIDDEN, GF_LAYER_RETURN_SEQUENCES};
    const double values[2] = {(double)hidden, (double)return_sequences};
    return gfi_net_add_kind(net, GF_LAYER_GRU, keys, values, 2, GF_ACT_IDENTITY, layer, "gf_net_add_gru");
}
