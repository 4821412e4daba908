/*
 * lstm.c — the LSTM (nn.LSTM, one layer, batch_first), gates in PyTorch's order i, f, g, o:
 *   [i f g o] = [sigmoid sigmoid tanh sigmoid](W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)
 *   c_t = f c_{t-1} + i g,  h_t = o tanh(c_t).
 * The cache keeps the activated gates, h, c and tanh(c) of every step; backward walks the steps in reverse
 * with the two running gradients dh and dc, and leaves the products over all steps to recurrent.c.
 */
#include "recurrent.h"

#include <string.h>

static const gfi_act SIGMOID = {GF_ACT_SIGMOID, 0.01, 1.0};
static const gfi_act TANH = {GF_ACT_TANH, 0.01, 1.0};

/* c_t = f c_{t-1} + i g for one sample. */
static void row_state(int64_t H, const float *restrict i, const float *restrict f, const float *restrict g,
                      const float *restrict cp, float *restrict c)
{
    GFI_FOR8(j, H, c[j] = f[j] * cp[j] + i[j] * g[j]);
}

/* h_t = o tanh(c_t) for one sample. */
static void row_output(int64_t H, const float *restrict o, const float *restrict tc, float *restrict h)
{
    GFI_FOR8(j, H, h[j] = o[j] * tc[j]);
}

static void cell_state(const gfi_rec *r, const float *g, const float *cp, float *c)
{
    int64_t H = r->H;
    for (int64_t b = 0; b < r->B; b++) {
        const float *gi = g + b * 4 * H;
        row_state(H, gi, gi + H, gi + 2 * H, cp + b * H, c + b * H);
    }
}

static void cell_output(const gfi_rec *r, const float *g, const float *tc, float *h)
{
    for (int64_t b = 0; b < r->B; b++)
        row_output(r->H, g + b * 4 * r->H + 3 * r->H, tc + b * r->H, h + b * r->H);
}

static void lstm_forward(gf_layer *l, const gfi_layer_io *io)
{
    gfi_rec r = gfi_rec_view(l, io->batch, io->cache, io->scratch);
    gfi_rec_pack_whh(l, &r, false);
    size_t BH = (size_t)(r.B * r.H), BG = (size_t)(r.B * r.GH);
    int64_t H = r.H;
    gfi_rec_project(l, &r, io->x);
    gfi_rec_load_state(l, &r);
    for (int64_t j = 0; j < r.GH; j++)
        r.bsum[j] = l->b[j] + l->b[r.GH + j];
    for (int64_t t = 0; t < r.T; t++) {
        float *g = r.gates + (size_t)t * BG, *c = r.cs + (size_t)(t + 1) * BH, *tc = r.aux + (size_t)t * BH;
        gfi_rec_recur(l, &r, t, 1.0f, g);
        gfi_rec_act(&SIGMOID, r.bsum, g, g, r.B, 2 * H, r.GH);
        gfi_rec_act(&TANH, r.bsum + 2 * H, g + 2 * H, g + 2 * H, r.B, H, r.GH);
        gfi_rec_act(&SIGMOID, r.bsum + 3 * H, g + 3 * H, g + 3 * H, r.B, H, r.GH);
        cell_state(&r, g, r.cs + (size_t)t * BH, c);
        gfi_rec_act(&TANH, r.zeros, c, tc, r.B, H, H);
        cell_output(&r, g, tc, r.hs + (size_t)(t + 1) * BH);
        gfi_rec_hold(&r, t);
    }
    gfi_rec_emit(&r, r.hs + BH, io->y);
    gfi_rec_zero_padding(&r, io->y);
    gfi_rec_mark(l, r.B, false);
}

/* One sample's gate pre-activation gradients (di, df, dg, do) from dh and the running dc, which becomes
 * d loss / d c_{t-1} through this step. */
static void row_backward(int64_t H, const float *restrict gi, const float *restrict gf, const float *restrict gg,
                         const float *restrict go, const float *restrict pc, const float *restrict tc,
                         const float *restrict dh, float *restrict dc, float *restrict di, float *restrict df,
                         float *restrict dgg, float *restrict dgo)
{
    GFI_FOR8(j, H, {
        float i = gi[j], f = gf[j], g = gg[j], o = go[j], th = tc[j];
        float dct = dc[j] + dh[j] * o * (1.0f - th * th);
        di[j] = dct * g * i * (1.0f - i);
        df[j] = dct * pc[j] * f * (1.0f - f);
        dgg[j] = dct * i * (1.0f - g * g);
        dgo[j] = dh[j] * th * o * (1.0f - o);
        dc[j] = dct * f;
    });
}

/* Gate pre-activation gradients of step t into dp, and dc becomes d loss / d c_{t-1} through this step. */
static void cell_backward(const gfi_rec *r, int64_t t)
{
    int64_t H = r->H;
    size_t BH = (size_t)(r->B * H), BG = (size_t)(r->B * r->GH);
    for (int64_t b = 0; b < r->B; b++) {
        const float *g = r->gates + (size_t)t * BG + b * r->GH;
        float *d = r->dp + (size_t)t * BG + b * r->GH;
        if (gfi_rec_held(r, b, t)) { /* no step here: no gate gradient, dc passes through */
            memset(d, 0, (size_t)r->GH * sizeof(float));
            continue;
        }
        row_backward(H, g, g + H, g + 2 * H, g + 3 * H, r->cs + (size_t)t * BH + b * H, r->aux + (size_t)t * BH + b * H,
                     r->dh + b * H, r->dc + b * H, d, d + H, d + 2 * H, d + 3 * H);
    }
}

static void lstm_backward(gf_layer *l, const gfi_layer_io *io)
{
    gfi_rec r = gfi_rec_view(l, io->batch, io->cache, io->scratch);
    gfi_rec_pack_whh(l, &r, true);
    size_t BH = (size_t)(r.B * r.H);
    bool observe = io->observe && l->keep;
    for (int64_t t = r.T - 1; t >= 0; t--) {
        bool cut = t == r.T - 1 || gfi_rec_cut(&r, t + 1);
        gfi_rec_step_grad(&r, io->dy, t, cut);
        if (cut) /* c is detached with h */
            memset(r.dc, 0, BH * sizeof(float));
        gfi_rec_observe_step(l, &r, t, observe);
        cell_backward(&r, t);
        gfi_rec_bias_step(&r, t);
        if (gfi_rec_need_carry(&r, t, observe))
            gfi_rec_carry(l, &r, t, 0.0f);
        gfi_rec_observe_carry(l, &r, t, observe);
    }
    memcpy(r.ds0, r.carry, BH * sizeof(float));
    memcpy(r.ds0 + BH, r.dc, BH * sizeof(float));
    gfi_rec_copy_dz(l, io);
    gfi_rec_backward_finish(l, &r, io, observe);
}

static int lstm_infer(const gf_layer *l, const gfi_shape *in, gfi_layout *lay, char *msg, size_t cap)
{
    return gfi_rec_infer(l, in, lay, msg, cap, 4);
}

/* The forget gate's slice of the summed bias is the option: bias_ih_l0's f slice gets it, bias_hh_l0's 0
 * (each unless the caller set that block). */
static void lstm_bias_drawn(const gf_layer *l, float *dst, bool keep_user)
{
    int64_t H = l->aux[RA_H], GH = 4 * H;
    float fb = (float)l->opt[GF_LAYER_FORGET_BIAS];
    for (int64_t j = 0; j < H; j++) {
        if (!(keep_user && l->block[2].user))
            dst[H + j] = fb;
        if (!(keep_user && l->block[3].user))
            dst[GH + H + j] = 0.0f;
    }
}

static const gfi_option_spec lstm_options[] = {
    {GF_LAYER_HIDDEN, 0, 1, GFI_OPTION_SIZE_MAX, true},
    {GF_LAYER_INPUTS, 0, 0, GFI_OPTION_SIZE_MAX, true},
    {GF_LAYER_RETURN_SEQUENCES, 0, 0, 1, true},
    {GF_LAYER_TRUNCATE, 0, 0, GFI_OPTION_SIZE_MAX, true},
    {GF_LAYER_FORGET_BIAS, 1.0, -1e6, 1e6, false},
    {-1, 0, 0, 0, false},
};

const gfi_layer_ops gfi_lstm_ops = {
    .name = "lstm",
    .kind = GF_LAYER_LSTM,
    .options = lstm_options,
    .infer = lstm_infer,
    .cache_size = gfi_rec_cache_size,
    .scratch_size = gfi_rec_scratch_size,
    .keep_size = gfi_rec_keep_size,
    .forward = lstm_forward,
    .backward = lstm_backward,
    .units = gfi_rec_units,
    .series = gfi_rec_series,
    .check_batch = gfi_rec_check_batch,
    .bias_drawn = lstm_bias_drawn,
    .diag_stats = gfi_rec_diag_stats,
};

int gf_net_add_lstm(gf_net *net, int64_t hidden, int32_t return_sequences, gf_layer **layer)
{
    const int32_t keys[2] = {GF_LAYER_HIDDEN, GF_LAYER_RETURN_SEQUENCES};
    const double values[2] = {(double)hidden, (double)return_sequences};
    return gfi_net_add_kind(net, GF_LAYER_LSTM, keys, values, 2, GF_ACT_IDENTITY, layer, "gf_net_add_lstm");
}
