/*
 * rnn.c — the Elman RNN (nn.RNN, one layer, batch_first): a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh,
 * h_t = f(a_t) with the layer's activation (tanh by default, any kind allowed).  z holds a_t at the steps
 * the layer outputs, so the diagnostics see pre-activations as for dense.
 */
#include "recurrent.h"

#include <string.h>

static void bias_sum(const gf_layer *l, const gfi_rec *r)
{
    for (int64_t j = 0; j < r->GH; j++)
        r->bsum[j] = l->b[j] + l->b[r->GH + j];
}

static void rnn_forward(gf_layer *l, const gfi_layer_io *io)
{
    gfi_rec r = gfi_rec_view(l, io->batch, io->cache, io->scratch);
    gfi_rec_pack_whh(l, &r, false);
    size_t BH = (size_t)(r.B * r.H);
    gfi_rec_project(l, &r, io->x);
    gfi_rec_load_state(l, &r);
    bias_sum(l, &r);
    for (int64_t t = 0; t < r.T; t++) {
        float *a = r.gates + (size_t)t * BH;
        gfi_rec_recur(l, &r, t, 1.0f, a);
        gfi_rec_act(&l->act, r.bsum, a, r.hs + (size_t)(t + 1) * BH, r.B, r.H, r.H);
        gfi_rec_hold(&r, t);
    }
    gfi_rec_emit(&r, r.hs + BH, io->y);
    gfi_rec_emit(&r, r.gates, io->z);
    gfi_rec_zero_padding(&r, io->y);
    gfi_rec_zero_padding(&r, io->z);
    gfi_rec_mark(l, r.B, false);
}

static void rnn_backward(gf_layer *l, const gfi_layer_io *io)
{
    gfi_rec r = gfi_rec_view(l, io->batch, io->cache, io->scratch);
    gfi_rec_pack_whh(l, &r, true);
    size_t BH = (size_t)(r.B * r.H);
    bool observe = io->observe && l->keep;
    for (int64_t t = r.T - 1; t >= 0; t--) {
        gfi_rec_step_grad(&r, io->dy, t, t == r.T - 1 || gfi_rec_cut(&r, t + 1));
        gfi_rec_observe_step(l, &r, t, observe);
        float *da = r.dp + (size_t)t * BH;
        gfi_act_backward(&l->act, r.gates + (size_t)t * BH, r.hs + (size_t)(t + 1) * BH, r.dh, da, BH);
        gfi_rec_zero_held(&r, t, da, r.H);
        gfi_rec_bias_step(&r, t);
        if (gfi_rec_need_carry(&r, t, observe))
            gfi_rec_carry(l, &r, t, 0.0f);
        if (observe && r.seq)
            gfi_rec_record_carried(l, &r, t);
        gfi_rec_observe_carry(l, &r, t, observe);
    }
    memcpy(r.ds0, r.carry, BH * sizeof(float));
    gfi_rec_emit(&r, r.dp, io->dz);
    gfi_rec_backward_finish(l, &r, io, observe);
}

static int rnn_infer(const gf_layer *l, const gfi_shape *in, gfi_layout *lay, char *msg, size_t cap)
{
    return gfi_rec_infer(l, in, lay, msg, cap, 1);
}

const gfi_layer_ops gfi_rnn_ops = {
    .name = "rnn",
    .kind = GF_LAYER_RNN,
    .options = gfi_rec_options,
    .has_activation = true,
    .keeps_pre = true,
    .default_act = GF_ACT_TANH,
    .infer = rnn_infer,
    .cache_size = gfi_rec_cache_size,
    .scratch_size = gfi_rec_scratch_size,
    .keep_size = gfi_rec_keep_size,
    .forward = rnn_forward,
    .backward = rnn_backward,
    .units = gfi_rec_units,
    .series = gfi_rec_series,
    .check_batch = gfi_rec_check_batch,
    .diag_stats = gfi_rec_diag_stats,
};

int gf_net_add_rnn(gf_net *net, int64_t hidden, int32_t activation_kind, int32_t return_sequences, gf_layer **layer)
{
    const int32_t keys[2] = {GF_LAYER_HIDDEN, GF_LAYER_RETURN_SEQUENCES};
    const double values[2] = {(double)hidden, (double)return_sequences};
    return gfi_net_add_kind(net, GF_LAYER_RNN, keys, values, 2, activation_kind, layer, "gf_net_add_rnn");
}
