/*
 * recurrent.h — what the three recurrent kinds (rnn.c, lstm.c, gru.c) share, implemented in recurrent.c:
 * sizes, the time-major layout of their cache and scratch, the input projection batched over every step,
 * the weight gradients batched likewise, state handling, and the series of the diagnostics across time.
 *
 * Everything a step reads is time-major (row t*B + n), so a step's rows are one contiguous block and each
 * product over all steps (x W_ih^T, dP^T x, dG^T h_prev) is a single gemm; the data itself stays batch-major
 * (n, t, f) as the rest of the library, transposed once per pass on the way in and out.
 */
#ifndef GF_RECURRENT_H
#define GF_RECURRENT_H

#include "internal.h"
#include "gemm.h"

/* l->aux slots: steps T, input features F, hidden H, gate blocks G (1, 4, 3), return sequences, truncation k. */
enum { RA_T, RA_F, RA_H, RA_G, RA_SEQ, RA_TRUNC };

/* One pass's pointers, for batch B (see gfi_rec_view). */
typedef struct gfi_rec {
    int64_t B, T, F, H, G, GH, k;
    bool seq;
    const int64_t *len; /* per-sample lengths (B of them), or NULL: every sample has T steps */
    /* cache (kept from forward to backward, time-major) */
    float *gates; /* T x B x GH: the kind's gate values (RNN: pre-activations) */
    float *hs;    /* (T+1) x B x H: h_0 .. h_T */
    float *cs;    /* (T+1) x B x H: LSTM c_0 .. c_T (NULL otherwise) */
    float *aux;   /* T x B x H: LSTM tanh(c_t), GRU W_hn h_{t-1} + b_hn (NULL for RNN) */
    float *ds0;   /* B x S: d loss / d initial state of the last backward */
    /* scratch (one call) */
    float *xt;    /* T x B x F: the input, time-major; reused for the input gradient */
    float *dp;    /* T x B x GH: d loss / d input-side gate pre-activations */
    float *dg;    /* T x B x GH: the same for the recurrent side (== dp except for the GRU) */
    float *dh, *carry, *dc; /* B x H each: running gradients */
    float *step;  /* B x GH: the GRU's recurrent product of one step */
    float *bsum;  /* GH: b_ih + b_hh (GRU: only where they add) */
    float *bstep; /* GH: one step's bias gradient */
    double *bacc; /* 2 GH: the bias gradients summed over the steps so far (input side, recurrent side) */
    float *zeros; /* H zeros (a bias for the fast activation kernels) */
    float *pre_buf; /* gfi_gemm_pre_floats(GH, H): weight_hh_l0 packed for the per-step products */
    gfi_gemm_pre pre; /* what pre_buf holds (gfi_rec_pack_whh); pre.p NULL: nothing */
} gfi_rec;

/* Packs weight_hh_l0 once for the T per-step products of one pass: W_hh^T (the forward's
 * h_{t-1} W_hh^T) or, for the backward, W_hh (dg_t W_hh).  Re-packing it for each step took about
 * 12 % of an LSTM step; the products give the same values either way (gemm.h). */
void gfi_rec_pack_whh(const gf_layer *l, gfi_rec *r, bool backward);
size_t gfi_rec_cache_size(const gf_layer *l);
size_t gfi_rec_scratch_size(const gf_layer *l, int64_t batch, int32_t threads);
size_t gfi_rec_keep_size(const gf_layer *l);
gfi_rec gfi_rec_view(const gf_layer *l, int64_t batch, float *cache, float *scratch);
int gfi_rec_infer(const gf_layer *l, const gfi_shape *in, gfi_layout *lay, char *msg, size_t cap, int64_t gates);
void gfi_rec_units(const gf_layer *l, int64_t view[3]);
int64_t gfi_rec_series(const gf_layer *l, int32_t key, double *dst, int64_t cap);
int gfi_rec_check_batch(const gf_layer *l, int64_t batch, char *msg, size_t cap);
void gfi_rec_diag_stats(gf_layer *l, double *rec);
int64_t gfi_rec_state_floats(const gf_layer *l); /* per sample: H, or 2H for the LSTM */
/* ||dL/dh|| at the first state the gradient reaches (h_0, or the last truncation boundary) and at h_T, and the
 * steps between, of the latest observed backward; false if none is recorded. */
bool gfi_rec_time_span(const gf_layer *l, double *first, double *last, int64_t *steps);

/* Forward helpers: the input time-major, its projection x W_ih^T into gates (no bias), the initial state
 * into hs[0] (and cs[0]). */
void gfi_rec_project(gf_layer *l, const gfi_rec *r, const float *x);
void gfi_rec_load_state(const gf_layer *l, const gfi_rec *r);
/* steps: T x B x H time-major (hs + B H for the states); y: every step (batch-major) or the last. */
void gfi_rec_emit(const gfi_rec *r, const float *steps, float *y);
/* h_{t-1} W_hh^T into c (ldc GH) with beta (1: added to what is there). */
void gfi_rec_recur(gf_layer *l, const gfi_rec *r, int64_t t, float beta, float *c);

/* Variable lengths: whether sample b is past its end at step t (its state is held, its gradient passes
 * through); the forward's hold of those states; zeroed outputs past the ends. */
static inline bool gfi_rec_held(const gfi_rec *r, int64_t b, int64_t t) { return r->len && t >= r->len[b]; }
void gfi_rec_hold(const gfi_rec *r, int64_t t);
void gfi_rec_zero_padding(const gfi_rec *r, float *out);
/* Zeroes the rows (of `width` floats) of the held samples in one step's block m (the gradients of a step a
 * sample does not have). */
void gfi_rec_zero_held(const gfi_rec *r, int64_t t, float *m, int64_t width);

/* Backward helpers. */
/* dh = (cut ? 0 : carry) + dy at step t (dy every step, or only the last). */
void gfi_rec_step_grad(const gfi_rec *r, const float *dy, int64_t t, bool cut);
/* Whether the state flowing into step t (t > 0) is detached by truncation. */
bool gfi_rec_cut(const gfi_rec *r, int64_t t);
/* The record across time of step t's backward: dh of h_{t+1} at its top, the carry at its end (which reaches
 * a detached chunk input only in the record); whether the carry is needed at all. */
void gfi_rec_observe_step(gf_layer *l, const gfi_rec *r, int64_t t, bool observe);
void gfi_rec_observe_carry(gf_layer *l, const gfi_rec *r, int64_t t, bool observe);
bool gfi_rec_need_carry(const gfi_rec *r, int64_t t, bool observe);
/* carry = beta carry + dg_t W_hh (the gradient reaching h_{t-1}). */
void gfi_rec_carry(gf_layer *l, const gfi_rec *r, int64_t t, float beta);
/* Adds step t's bias gradients (column sums of dp_t, dg_t, while they are in cache) into bacc; the first
 * step of a backward (t = T - 1) starts the sums. */
void gfi_rec_bias_step(const gfi_rec *r, int64_t t);
/* Weight gradients from dp / dg over all steps, the bias gradients from bacc; then dx (NULL: skipped). */
void gfi_rec_param_grads(gf_layer *l, const gfi_rec *r, const float *x);
void gfi_rec_input_grad(gf_layer *l, const gfi_rec *r, float *dx);
/* Diagnostics: ||dh|| of state index i (0 = initial state) into the keep, when observed. */
void gfi_rec_record_norm(gf_layer *l, const gfi_rec *r, int64_t i, const float *g);
/* ||carry|| after step t's backward (what step t sends back to h_t), for an RNN with an output at every step. */
void gfi_rec_record_carried(gf_layer *l, const gfi_rec *r, int64_t t);
/* Whether the layer's rate across time is what a step carries back (an RNN with an output at every step). */
bool gfi_rec_carried_only(const gf_layer *l);
/* Gate health of the cached forward into the keep (when observed). */
void gfi_rec_record_gates(gf_layer *l, const gfi_rec *r);
/* dz = dy for the gated kinds (no activation of their own). */
void gfi_rec_copy_dz(const gf_layer *l, const gfi_layer_io *io);
/* Marks the forward / backward as done for the state readers. */
void gfi_rec_mark(gf_layer *l, int64_t batch, bool backward);
/* The end every kind's backward shares, once its steps have run and ds0 holds the initial state's gradient:
 * the parameter gradients, dx (when asked), the observed records (the initial state's ||dh||, gate health)
 * and the mark. */
void gfi_rec_backward_finish(gf_layer *l, const gfi_rec *r, const gfi_layer_io *io, bool observe);
/* The options RNN and GRU take (LSTM adds GF_LAYER_FORGET_BIAS). */
extern const gfi_option_spec gfi_rec_options[];

/* Runs the statement (which reads j) for j in [0, n): in blocks of 8, a fixed trip count that the compiler vectorizes
 * at -O2 when the arrays are restrict parameters of the enclosing function, then the tail. */
#define GFI_FOR8(j, n, ...)                                                                                                   \
    do {                                                                                                               \
        int64_t j##_0 = 0;                                                                                             \
        for (; j##_0 + 8 <= (n); j##_0 += 8)                                                                           \
            for (int j##_k = 0; j##_k < 8; j##_k++) {                                                                  \
                int64_t j = j##_0 + j##_k;                                                                             \
                __VA_ARGS__;                                                                                           \
            }                                                                                                          \
        for (int64_t j = j##_0; j < (n); j++) {                                                                        \
            __VA_ARGS__;                                                                                               \
        }                                                                                                              \
    } while (0)

/* The fast activations on one block (z += b, y = f(z)); any activation otherwise. */
void gfi_rec_act(const gfi_act *a, const float *b, float *z, float *y, int64_t rows, int64_t cols, int64_t ld);

#endif /* GF_RECURRENT_H */
