/*
 * internal.h — private structs and functions shared between src/ files.
 * Nothing here is exported: internal functions carry the gfi_ prefix and the
 * default hidden visibility.
 */
#ifndef GF_INTERNAL_H
#define GF_INTERNAL_H

#include "gradflow.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Handle kinds, stored first in every handle so misuse is detected. */
#define GFI_MAGIC_NET 0x4e455447u
#define GFI_MAGIC_LAYER 0x52594c47u
#define GFI_MAGIC_ACT 0x54434147u
#define GFI_MAGIC_INIT 0x54494e47u
#define GFI_MAGIC_LOSS 0x53534c47u
#define GFI_MAGIC_OPT 0x54504f47u
#define GFI_MAGIC_PEN 0x4e455047u
#define GFI_MAGIC_DEAD 0xdeadbeefu

/* ---- status.c ---- */
/* Records a detailed message for this thread and returns code. */
int gfi_fail(int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Like gfi_fail, and also keeps the message in the net. */
int gfi_net_fail(gf_net *net, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* ---- sink.c ---- */
/* Text accumulated into a caller buffer: len counts every byte wanted, even
 * past cap, so the caller learns the full size. */
typedef struct gfi_sink {
    char *buf;
    size_t cap, len;
} gfi_sink;
void gfi_sink_put(gfi_sink *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Appends a raw string of n bytes. */
void gfi_sink_write(gfi_sink *s, const char *str, size_t n);
/* NUL-terminates, sets *needed, and returns GF_OK or GF_ERR_BUFFER (message names fn). */
int gfi_sink_finish(gfi_sink *s, size_t *needed, const char *fn);

/* ---- alloc.c ---- */
void *gfi_malloc(size_t size);
void *gfi_calloc(size_t n, size_t size); /* zeroed; checks n*size overflow */
void *gfi_realloc(void *p, size_t size);
void gfi_free(void *p);
/* *out = a*b; false on overflow. */
bool gfi_mul_size(size_t a, size_t b, size_t *out);
/* count floats: overflow-checked a*b (as int64 inputs, both > 0). */
int gfi_checked_count(int64_t a, int64_t b, size_t *out);

/* ---- rng.c: xoshiro256** seeded by splitmix64 ---- */
typedef struct gfi_rng {
    uint64_t s[4];
} gfi_rng;
void gfi_rng_seed(gfi_rng *r, uint64_t seed);
uint64_t gfi_rng_next(gfi_rng *r);
double gfi_rng_uniform(gfi_rng *r);  /* [0, 1) with 53 random bits */
double gfi_rng_normal(gfi_rng *r);   /* N(0, 1) */
uint64_t gfi_rng_below(gfi_rng *r, uint64_t n); /* uniform in [0, n), unbiased */

/* ---- activation.c ---- */
typedef struct gfi_act {
    int32_t kind;
    double slope; /* leaky relu */
    double alpha; /* elu */
} gfi_act;
struct gf_activation {
    uint32_t magic;
    gfi_act cfg;
};
void gfi_act_default(gfi_act *a, int32_t kind);
bool gfi_act_kind_valid(int32_t kind);
void gfi_act_forward(const gfi_act *a, const float *z, float *y, size_t n);
/* dz[i] = dy[i] * f'(z[i]); y = f(z) is given so derivatives can reuse it. */
void gfi_act_backward(const gfi_act *a, const float *z, const float *y, const float *dy, float *dz, size_t n);
void gfi_act_derivative(const gfi_act *a, const float *z, float *d, size_t n);
bool gfi_act_is_relu_family(int32_t kind);
bool gfi_act_is_saturating(int32_t kind);

/* ---- init.c ---- */
typedef struct gfi_init {
    int32_t kind;
    int32_t mode;
    double a, b;
    double gain;
} gfi_init;
struct gf_init {
    uint32_t magic;
    gfi_init cfg;
};
void gfi_init_default(gfi_init *c, int32_t kind);
/* Fills rows x cols (fan_in = cols, fan_out = rows) from rng. */
int gfi_init_fill(const gfi_init *c, float *buf, int64_t rows, int64_t cols, gfi_rng *rng);
/* Fills count values with explicit fans (a bias: count = outputs, the layer's
 * fans).  Orthogonal needs count == fan_out * fan_in (else GF_ERR_SHAPE) and
 * treats buf as fan_out x fan_in; it may fail with GF_ERR_NOMEM. */
int gfi_init_fill_fan(const gfi_init *c, float *buf, size_t count, int64_t fan_in, int64_t fan_out, gfi_rng *rng);
/* Static names ("he_normal", "adam", "softmax_ce", ...); "?" for an unknown kind. */
const char *gfi_init_name(int32_t kind);
const char *gfi_opt_name(int32_t kind);
const char *gfi_loss_name(int32_t kind);

/* ---- loss.c ---- */
typedef struct gfi_loss {
    int32_t kind;
    double delta;
} gfi_loss;
struct gf_loss {
    uint32_t magic;
    gfi_loss cfg;
};
void gfi_loss_default(gfi_loss *c, int32_t kind);
int64_t gfi_loss_target_width(const gfi_loss *c, int64_t outputs);
/* Validates targets (finite, labels in range); sets the error message. */
int gfi_loss_check_target(const gfi_loss *c, const float *target, int64_t batch, int64_t width);
/* Mean loss; grad may be NULL.  Accumulates in double. */
double gfi_loss_eval(const gfi_loss *c, const float *pred, const float *target, int64_t batch, int64_t width,
                     float *grad);

/* ---- penalty.c ---- */
typedef struct gfi_penalty {
    double l1, l2;
    int32_t include_bias;
} gfi_penalty;
struct gf_penalty {
    uint32_t magic;
    gfi_penalty cfg;
};
bool gfi_penalty_active(const gfi_penalty *p);
/* Value of the penalty on w[0..n). */
double gfi_penalty_value(const gfi_penalty *p, const float *w, size_t n);
/* g[i] += d penalty / d w[i]. */
void gfi_penalty_grad(const gfi_penalty *p, const float *w, float *g, size_t n);

/* ---- optimizer.c ---- */
struct gf_optimizer {
    uint32_t magic;
    int32_t kind;
    double lr, mu, beta1, beta2, eps, rho, weight_decay;
    int64_t t;       /* steps taken since reset */
    float *m, *v;    /* moments, nparams each (allocated by gfi_opt_prepare) */
    size_t nparams;
    gf_net *owner;
};
void gfi_opt_defaults(gf_optimizer *o, int32_t kind, double lr);
/* Sizes the moment buffers for n parameters (zeroed); a no-op when sized. */
int gfi_opt_prepare(gf_optimizer *o, size_t n);
/* One step over the flat parameter vector. */
void gfi_opt_update(gf_optimizer *o, float *w, const float *g, size_t n);
void gfi_opt_free_state(gf_optimizer *o);

/* ---- gemm.c ---- */
/* C (m x n) = alpha * op(A) op(B) + beta * C, row-major; op(A) is m x k.
 * Packs into ws's first buffer pair (gemm.h); ws must not be NULL. */
struct gfi_gemm_ws;
void gfi_gemm(struct gfi_gemm_ws *ws, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/* ---- layers ---- */
struct gf_layer;
typedef struct gfi_layer_ops {
    const char *name;
    /* y (batch x out) from x (batch x in); z keeps pre-activations. */
    void (*forward)(struct gf_layer *l, const float *x, int64_t batch, float *z, float *y);
    /* From dy: dz, parameter grads (overwritten) and dx (may be NULL). */
    void (*backward)(struct gf_layer *l, const float *x, const float *z, const float *y, const float *dy,
                     int64_t batch, float *dz, float *dx);
} gfi_layer_ops;

struct gf_layer {
    uint32_t magic;
    int32_t kind;
    const gfi_layer_ops *ops;
    gf_net *owner;
    int32_t index;
    int64_t in, out;
    size_t nweights, nbias;
    /* Parameters and gradients: W then b, contiguous.  Own storage until
     * added to a net, then views into the net's arenas. */
    float *w, *b, *dw, *db;
    float *own; /* own storage (2 * (nweights + nbias)) before adding */
    size_t param_offset; /* offset of W in the net's arena */
    gfi_act act;
    gfi_init winit, binit;
    gfi_penalty pen;
    bool has_pen;
    bool user_weights, user_bias; /* set by the caller: kept when added */
};

extern const gfi_layer_ops gfi_dense_ops;

/* ---- net.c ---- */
struct gf_net {
    uint32_t magic;
    int64_t inputs;
    gfi_rng rng;
    uint64_t seed;
    gf_layer **layers;
    int32_t nlayers, cap_layers;
    float *params, *grads; /* flat arenas */
    size_t nparams;
    gfi_loss loss;
    gf_optimizer *opt;
    gfi_penalty pen;
    bool has_pen;
    int32_t clip_mode;
    double clip_value;
    /* Activation buffers, sized for max_batch: per layer z and y (batch x
     * out); two ping-pong gradient buffers of the widest size. */
    int64_t max_batch;
    float **z, **y;
    float *dbuf[2];
    float *dz; /* widest */
    float *dinput; /* batch x inputs; allocated once the input gradient is asked for */
    float *xcopy; /* the last training forward's input (batch x inputs) */
    float *shuffle_x, *shuffle_t; /* fit's mini-batch gather buffers */
    int64_t *perm;
    int64_t perm_n;
    int64_t fit_batch;
    size_t fit_xw, fit_tw;
    size_t widest;
    int64_t batch; /* batch of the last forward */
    /* forward_ready: a training forward's caches are valid (backward may run);
     * backward_ready: a backward has run since the last forward;
     * grads_ready: parameter gradients of a backward are present (step/clip may run);
     * want_dinput: backward computes the input gradient (gf_net_set_input_grad);
     * dinput_ready: the last backward did, so dinput holds it. */
    bool forward_ready, backward_ready, training_began;
    bool grads_ready;
    bool want_dinput, dinput_ready;
    bool progress;
    int64_t steps;
    struct gfi_pool *pool; /* NULL: single-threaded */
    struct gfi_gemm_ws *gemm_ws; /* packing buffers, one pair per pool thread */
    char err[256];
    /* Diagnostics (diag.c): the attached object, whether it is enabled, and
     * whether the current training pass is being observed. */
    gf_diag *diag;
    bool diag_on, diag_active;
};

bool gfi_is_net(const gf_net *n);

/* ---- clip.c ---- */
double gfi_norm2(const float *v, size_t n); /* L2 norm accumulated in double */
int gfi_net_apply_clip(gf_net *net);        /* the mode set by gf_net_set_clip */

/* ---- net.c ---- */
/* Value of every penalty that applies to layer l (the net's and its own). */
double gfi_layer_penalty_value(const gf_net *net, const gf_layer *l);
/* GF_ERR_NONFINITE naming the sample and feature of the first NaN/Inf in x (rows x inputs). */
int gfi_data_check(gf_net *net, const float *x, int64_t rows, const char *fn);
/* Draws layer l's W (weights) or b again from its initializer and its net's
 * generator; on failure (an orthogonal initializer out of memory) the values
 * and the generator are as they were. */
int gfi_net_redraw(gf_layer *l, bool weights);

/* ---- layer.c ---- */
bool gfi_is_layer(const gf_layer *l);
/* Points w, b at params and dw, db at grads (W then b in each). */
void gfi_layer_point(gf_layer *l, float *params, float *grads);
void gfi_layer_free(gf_layer *l);

/* ---- optimizer.c (additions) ---- */
/* Frees an optimizer a net owns (gf_optimizer_destroy ignores those):
 * its moment buffers, then the handle, marked dead first.  NULL is a no-op. */
void gfi_opt_destroy_owned(gf_optimizer *o);

/* ---- optimizer.c (diagnostics) ---- */
/* Evaluates the next step (number t + 1) over w[off .. off+n): with apply it
 * is stored, otherwise nothing changes.  *d2 gets the sum of squared weight
 * changes, *state the sum of the new state values (both in double, so either
 * is non-finite exactly when a new value is).  The step counter is not
 * advanced: call gfi_opt_advance once every range is applied. */
void gfi_opt_update_range(gf_optimizer *o, float *w, const float *g, size_t off, size_t n, bool apply, double *d2,
                          double *state);
void gfi_opt_advance(gf_optimizer *o);
/* NaN, +Inf, -Inf counts of the new weights and new state the next step
 * would produce over [off, off+n); nothing changes. */
void gfi_opt_update_count(const gf_optimizer *o, const float *w, const float *g, size_t off, size_t n,
                          int64_t wcount[3], int64_t scount[3]);

/* Applies step t + 1 over w[off .. off+n) exactly as gfi_opt_update would,
 * without measuring and without advancing t (the diagnostics' blocked step). */
void gfi_opt_apply_range(gf_optimizer *o, float *w, const float *g, size_t off, size_t n);
/* Step t + 1 evaluated on copies: w, m, v (m, v NULL where the kind keeps
 * none) are n-element buffers the caller filled from the optimizer's; the
 * optimizer itself is not touched (the guard's dry run). */
void gfi_opt_apply_to(const gf_optimizer *o, float *w, const float *g, float *m, float *v, size_t n);

/* ---- diag.c ---- */
struct gf_diag;

#endif /* GF_INTERNAL_H */
