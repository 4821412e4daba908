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
#define GFI_MAGIC_SCHED 0x44434847u
#define GFI_MAGIC_FIT 0x54494647u
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
/* The calling thread's message and a net's (net may be NULL), kept across an
 * internal attempt whose failure the caller handles, so that a call which
 * succeeds does not leave that attempt's message behind. */
#define GFI_MESSAGE_CAP 256
typedef struct gfi_saved_error {
    gf_net *net;
    char thread[GFI_MESSAGE_CAP], net_msg[GFI_MESSAGE_CAP];
} gfi_saved_error;
void gfi_error_save(gfi_saved_error *e, gf_net *net);
void gfi_error_restore(const gfi_saved_error *e);

/* ---- sink.c ---- */
/* Text accumulated into a caller buffer: len counts every byte wanted, even
 * past cap, so the caller learns the full size. */
typedef struct gfi_sink {
    char *buf;
    size_t cap, len;
    int rc; /* set by a producer that could not finish the text (GF_ERR_NOMEM); 0 otherwise */
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
/* The most elements of `size` bytes an array can hold: pointer arithmetic on a
 * larger one is undefined, and the kernels index with int64_t.  A size_t count
 * or capacity above it is a negative number converted to size_t (or a lie):
 * every public call refuses it with GF_ERR_OVERFLOW before touching memory. */
#define GFI_COUNT_MAX(size) ((size_t)PTRDIFF_MAX / (size))
/* count floats: overflow-checked a*b (as int64 inputs, both > 0), at most GFI_COUNT_MAX(sizeof(float)). */
int gfi_checked_count(int64_t a, int64_t b, size_t *out);
/* *out = a*b or a+b for sizes (a, b >= 0); false when negative or past INT64_MAX.  Geometry that
 * options up to GFI_OPTION_SIZE_MAX feed (kernel spans, padded extents, im2col rows) goes through these. */
bool gfi_size_mul(int64_t a, int64_t b, int64_t *out);
bool gfi_size_add(int64_t a, int64_t b, int64_t *out);

/* ---- fileio.c: files replaced atomically ---- */
/* A file being written: bytes go to a temporary beside path, and only a
 * successful commit renames it over path.  On any failure (open, short
 * write, full disk, fsync, rename) the temporary is removed and the file at
 * path is byte-identical to before, or still absent.  Usage:
 *     gfi_atomic_file f;
 *     if ((rc = gfi_atomic_open(&f, path, "gf_x_save"))) return rc;
 *     rc = gfi_atomic_write(&f, p, n);           (as often as needed)
 *     rc = rc ? rc : gfi_atomic_commit(&f);      (on error: already aborted)
 * Every failure is GF_ERR_IO (GF_ERR_NOMEM for the name) with a message that
 * names fn, the path and the system's reason; after a failure further writes
 * and the commit return GF_ERR_IO and do nothing.  Call gfi_atomic_abort to
 * give up early (the caller's own error); it is a no-op once closed. */
typedef struct gfi_atomic_file {
    const char *path, *fn; /* borrowed: must outlive the writer */
    char *tmp;             /* the temporary's name (library memory) */
    char *real;            /* a symbolic link's target, which path then points at (library memory) */
    int fd;                /* POSIX builds */
    void *stream;          /* C-library-only builds (FILE *) */
    bool failed;           /* closed, by a failure, commit or abort */
} gfi_atomic_file;
int gfi_atomic_open(gfi_atomic_file *f, const char *path, const char *fn);
int gfi_atomic_write(gfi_atomic_file *f, const void *data, size_t len);
int gfi_atomic_commit(gfi_atomic_file *f);
void gfi_atomic_abort(gfi_atomic_file *f);
/* The whole file in one call: open, write len bytes, commit. */
int gfi_file_replace(const char *path, const void *data, size_t len, const char *fn);
/* Test hook: called before each step of every atomic write; a nonzero return
 * is taken as that step's errno.  For GFI_IO_WRITE, lowering *max makes the
 * next write() short (a full disk part way).  NULL removes the hook. */
enum { GFI_IO_OPEN = 0, GFI_IO_WRITE = 1, GFI_IO_SYNC = 2, GFI_IO_CLOSE = 3, GFI_IO_RENAME = 4 };
typedef int (*gfi_io_fault_fn)(int step, size_t *max);
void gfi_io_set_fault(gfi_io_fault_fn fn);

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
#define GFI_SELU_LAMBDA 1.0507009873554805 /* Klambauer et al. 2017 */
#define GFI_SELU_ALPHA 1.6732632423543772
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
/* ReLU, leaky ReLU, ELU, SELU: a flat or near-flat negative side, where a unit can die. */
bool gfi_act_has_negative_side(int32_t kind);

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
/* Whether an initializer kind has a range (a, b), a gain, a fan mode. */
bool gfi_init_has_range(int32_t kind);
bool gfi_init_has_gain(int32_t kind);
bool gfi_init_has_mode(int32_t kind);

/* ---- loss.c ---- */
typedef struct gfi_loss {
    int32_t kind;
    double delta;
    bool per_step; /* GF_LOSS_PARAM_PER_STEP: a SEQUENCE output's steps are rows (gfi_net_loss_rows) */
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
/* gfi_opt_prepare in two phases, for a caller with more to allocate after
 * it: begin sizes the state (the old one kept in *old), end either frees the
 * old state (keep) or puts it back and frees the new one. */
typedef struct gfi_opt_state {
    float *m, *v;
    size_t nparams;
    int64_t t;
    bool changed;
} gfi_opt_state;
int gfi_opt_prepare_begin(gf_optimizer *o, size_t n, gfi_opt_state *old);
void gfi_opt_prepare_end(gf_optimizer *o, gfi_opt_state *old, bool keep);

/* ---- gemm.c ---- */
/* C (m x n) = alpha * op(A) op(B) + beta * C, row-major; op(A) is m x k.
 * Packs into ws's first buffer pair (gemm.h); ws must not be NULL. */
struct gfi_gemm_ws;
void gfi_gemm(struct gfi_gemm_ws *ws, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/* ---- layers (docs/design.md, "Shapes and layer kinds") ---- */
#define GFI_MAX_RANK 4
#define GFI_MAX_BLOCKS 8
#define GFI_NOPTIONS 32 /* option keys 0..31; the public enum grows within it */

/* The shape of one sample: a GF_SHAPE_* kind and its dims (row-major). */
typedef struct gfi_shape {
    int32_t kind, rank;
    int64_t dim[GFI_MAX_RANK];
} gfi_shape;
/* Product of the dims (every shape stored is checked addressable). */
int64_t gfi_shape_size(const gfi_shape *s);
/* "IMAGE(3 x 8 x 8)" into buf. */
const char *gfi_shape_str(const gfi_shape *s, char *buf, size_t cap);
/* GF_OK, or the code with a message (prefixed by fn) for a bad kind/rank/dim. */
int gfi_shape_make(gfi_shape *s, int32_t kind, const int64_t *dims, int32_t rank, const char *fn);

/* A named parameter block of a layer (PyTorch's name and dims). */
typedef struct gfi_block {
    char name[24];
    int32_t rank;
    int64_t dim[GFI_MAX_RANK];
    size_t count;          /* prod(dim) */
    size_t offset;         /* from the start of the layer's span */
    int64_t fan_in, fan_out; /* for the initializers: the block's own, as torch.nn.init computes them */
    int64_t default_fan;     /* GF_INIT_DEFAULT's fan_in: fan_in, or what the PyTorch module's reset uses */
    bool bias;             /* drawn with the bias initializer; laid out after every weight block */
    bool user;             /* set by the caller before adding: kept when added */
} gfi_block;

/* What a kind's infer computes from an incoming shape. */
typedef struct gfi_layout {
    gfi_shape out;
    gfi_block block[GFI_MAX_BLOCKS];
    int32_t nblocks;
    int64_t aux[8]; /* sizes the kind derives once for its hot path (l->aux); meaning is the kind's */
} gfi_layout;
/* Declares a block (dims: rank values); GF_ERR_OVERFLOW if its count is not addressable. */
int gfi_layout_block(gfi_layout *lay, const char *name, bool bias, int64_t fan_in, int64_t fan_out, int32_t rank,
                     const int64_t *dims);

/* Largest size an option takes (2^62): converts to int64_t exactly; larger sizes overflow at add anyway. */
#define GFI_OPTION_SIZE_MAX 4611686018427387904.0
/* A kind's option: key (GF_LAYER_* option), default and domain. */
typedef struct gfi_option_spec {
    int32_t key;
    double def, min, max;
    bool integer;
} gfi_option_spec;

/* Everything a pass hands a layer.  Sizes: x batch x in, z and y batch x out
 * (z == y when the kind keeps no pre-activation), cache batch x cache_size,
 * scratch scratch_size floats for this call only. */
typedef struct gfi_layer_io {
    int64_t batch;
    bool training; /* forward: a backward may follow, so fill the cache */
    bool observe;  /* the diagnostics observe this pass: record series */
    const float *x;
    float *z, *y;
    float *cache;
    float *scratch;
    const float *dy; /* backward: d loss / d y */
    float *dz;       /* backward: d loss / d z, written always (dy itself when z == y) */
    float *dx;       /* backward: d loss / d x, NULL when nobody needs it */
} gfi_layer_io;

struct gf_layer;
typedef struct gfi_layer_ops {
    const char *name;
    int32_t kind;                   /* GF_LAYER_* */
    const gfi_option_spec *options; /* terminated by key -1 */
    bool has_activation;            /* the activation applies (else set_activation is refused) */
    bool keeps_pre;                 /* z is its own buffer (else it aliases y) */
    /* At gf_net_add: checks the incoming shape against the options and fills
     * lay (output shape, blocks in PyTorch's order).  On failure returns
     * GF_ERR_SHAPE / GF_ERR_INVALID / GF_ERR_OVERFLOW with msg saying what it
     * expects and what it got; the layer is not changed. */
    int (*infer)(const struct gf_layer *l, const gfi_shape *in, gfi_layout *lay, char *msg, size_t cap);
    size_t (*cache_size)(const struct gf_layer *l);                      /* per sample; NULL: 0 */
    size_t (*scratch_size)(const struct gf_layer *l, int64_t batch, int32_t threads); /* NULL: 0 */
    size_t (*keep_size)(const struct gf_layer *l); /* doubles kept per layer (series); NULL: 0 */
    void (*forward)(struct gf_layer *l, const gfi_layer_io *io);
    /* Overwrites the parameter gradients; writes dz, and dx unless NULL. */
    void (*backward)(struct gf_layer *l, const gfi_layer_io *io);
    /* Per-sample view of the output as outer x units x inner (docs/design.md). */
    void (*units)(const struct gf_layer *l, int64_t view[3]);
    /* Optional: length of series key (GF_SERIES_*) and up to cap values into
     * dst; -1 when the kind does not produce it, 0 when nothing is recorded. */
    int64_t (*series)(const struct gf_layer *l, int32_t key, double *dst, int64_t cap);
    int32_t default_act; /* activation of a new layer (GF_ACT_IDENTITY = 0 unless set) */
    /* Optional: GF_OK if a pass of this batch can run, else GF_ERR_SHAPE with
     * msg (a caller-given recurrent state fixes the batch). */
    int (*check_batch)(const struct gf_layer *l, int64_t batch, char *msg, size_t cap);
    /* Optional: adjusts freshly drawn biases (dst: the layer's bias span;
     * blocks the caller set are kept when keep_user): the LSTM forget bias. */
    void (*bias_drawn)(const struct gf_layer *l, float *dst, bool keep_user);
    /* Optional: the kind's own statistics of an observed backward into the
     * record rec (GFI_NSTAT values; the diagnostics preset them to NaN). */
    void (*diag_stats)(struct gf_layer *l, double *rec);
} gfi_layer_ops;

struct gf_layer {
    uint32_t magic;
    int32_t kind;
    const gfi_layer_ops *ops;
    gf_net *owner;
    int32_t index;
    double opt[GFI_NOPTIONS];
    /* sized: shapes and blocks are known (in a net, or created with its sizes). */
    bool sized;
    gfi_shape in_shape, out_shape;
    int64_t in, out; /* per-sample sizes: prod of the shapes' dims */
    int64_t aux[8];  /* the kind's derived sizes, from infer (dense: rows per sample, in, out features) */
    gfi_block block[GFI_MAX_BLOCKS];
    int32_t nblocks;
    size_t nweights, nbias; /* sums over the weight and the bias blocks */
    /* Parameters and gradients: weight blocks then bias blocks, contiguous.
     * Own storage until added to a net, then views into the net's arenas. */
    float *w, *b, *dw, *db;
    float *own; /* own storage (2 * (nweights + nbias)) before adding */
    size_t param_offset; /* offset of W in the net's arena */
    double *keep;        /* keep_size doubles the kind keeps between calls (series) */
    gfi_act act;
    gfi_init winit, binit;
    gfi_penalty pen;
    bool has_pen;
    /* Kind-owned run-time state, freed with the layer: a recurrent layer's
     * caller-given initial state (state_batch x its state size; NULL: zero). */
    float *state;
    int64_t state_batch;
    int64_t *lengths; /* recurrent: per-sample sequence lengths (lengths_batch of them; NULL: all T) */
    int64_t lengths_batch;
    int64_t fwd_batch; /* batch of the layer's last forward (0: none) */
    bool bwd_done;     /* a backward followed that forward */
};

/* Registered kinds (src/kinds.h): the ops of kind k, or NULL. */
#define GFI_KIND(k, ops) extern const gfi_layer_ops ops;
#include "kinds.h"
#include "pool_gate.h"
#undef GFI_KIND
const gfi_layer_ops *gfi_layer_kind_ops(int32_t kind);

/* ---- metric.c ---- */
typedef struct gfi_metric {
    int32_t kind;
    double param; /* top-k: k; binary accuracy: threshold */
} gfi_metric;
/* A metric's running sum over batches and what it is divided by. */
typedef struct gfi_metric_acc {
    double sum, count;
} gfi_metric_acc;

/* ---- schedule.c ---- */
typedef struct gfi_sched {
    int32_t kind;
    double base, period, gamma, min_lr, mult, warmup, warmup_start, patience, threshold, cooldown;
    int32_t mode; /* plateau: -1 follow the monitor, 0 lower is better, 1 higher */
    bool per_step;
    /* Plateau state. */
    double cur_lr, best;
    int64_t bad, cool_left;
} gfi_sched;
struct gf_schedule {
    uint32_t magic;
    gfi_sched cfg;
};

/* ---- fit_v2.c ---- */
/* One epoch as the net keeps it: the public record and every metric. */
typedef struct gfi_record {
    gf_epoch_record pub;
    double metrics[GF_MAX_METRICS], val_metrics[GF_MAX_METRICS];
} gfi_record;
/* What gf_net_fit_v2 keeps in the net between calls: records of the latest
 * fit and buffers sized once, so that epochs allocate nothing. */
typedef struct gfi_fit_bufs {
    /* Each buffer with its capacity in elements (not inferred from other
     * fields: a failed growth may leave one buffer larger than the next). */
    gfi_record *records;
    size_t cap_records;
    int32_t nrecords;
    /* The metrics the records were computed with: the net's list may change after the fit, and a record's
     * metric i is only the net's metric i while that one is the same. */
    int32_t rec_nmetrics;
    gfi_metric rec_metrics[GF_MAX_METRICS];
    int64_t *rows;  /* the split: training rows, then validation rows */
    int64_t *order; /* an epoch's order of the training rows */
    size_t cap_rows, cap_order;
    float *bx, *bt; /* gathered mini-batch */
    size_t cap_bx, cap_bt;
    size_t xw, tw;  /* their row widths in the running fit */
    float *best; /* parameters of the best epoch (restore-best) */
    size_t cap_best;
    bool running; /* inside gf_net_fit or gf_net_fit_v2 (their callbacks may not fit the net again) */
} gfi_fit_bufs;
void gfi_fit_bufs_free(gfi_fit_bufs *fb);

/* ---- net.c ---- */
struct gf_net {
    uint32_t magic;
    int64_t inputs; /* prod of in_shape */
    gfi_shape in_shape;
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
    float **cache; /* per layer: batch x cache_size, NULL when 0 */
    float *scratch; /* the largest scratch_size of any layer */
    size_t scratch_n;
    float *dinput; /* batch x inputs; allocated once the input gradient is asked for */
    float *xcopy; /* the last training forward's input (batch x inputs) */
    int64_t xcopy_batch; /* its batch (0: none since the buffers were sized) */
    float *shuffle_x, *shuffle_t; /* fit's mini-batch gather buffers */
    float *grads_saved; /* the gradients before a train step that clips (nparams; gfi_net_train_prepare) */
    size_t grads_saved_n;
    int64_t *perm;
    size_t cap_perm, cap_shuffle_x, cap_shuffle_t; /* elements of perm, shuffle_x, shuffle_t */
    size_t widest;
    int64_t batch; /* batch of the last forward */
    /* forward_ready: a training forward's caches are valid (backward may run);
     * backward_ready: a backward has run since the last forward;
     * grads_ready: parameter gradients of a backward are present (step/clip may run);
     * want_dinput: backward computes the input gradient (gf_net_set_input_grad);
     * dinput_ready: the last backward did, so dinput holds it. */
    bool forward_ready, backward_ready, training_began;
    bool grads_ready;
    bool grads_spent; /* a step applied these gradients: the next step needs a new backward */
    bool want_dinput, dinput_ready;
    bool progress;
    int64_t steps;
    struct gfi_pool *pool; /* NULL: single-threaded */
    gfi_pool_gate gate;    /* whether train steps use the pool (pool_gate.h) */
    struct gfi_gemm_ws *gemm_ws; /* packing buffers, one pair per pool thread */
    char err[GFI_MESSAGE_CAP];
    /* Diagnostics (diag.c): the attached object, whether it is enabled, and
     * whether the current training pass is being observed. */
    gf_diag *diag;
    bool diag_on, diag_active;
    /* Metrics reported by evaluate_v2 and fit_v2 (metric.c), and fit_v2's state. */
    gfi_metric metrics[GF_MAX_METRICS];
    int32_t nmetrics;
    gfi_fit_bufs fb;
};

bool gfi_is_net(const gf_net *n);

/* Creates a layer of kind with n keyed options and the activation, and adds it
 * (the convenience adders); layer (may be NULL) gets the handle; fn names the caller. */
int gfi_net_add_kind(gf_net *net, int32_t kind, const int32_t *keys, const double *values, int n, int32_t act,
                     gf_layer **layer, const char *fn);

/* ---- clip.c ---- */
double gfi_norm2(const float *v, size_t n); /* L2 norm accumulated in double */
int gfi_net_apply_clip(gf_net *net, const char *fn); /* the mode set by gf_net_set_clip; failures under fn */

/* ---- net.c ---- */
/* Value of every penalty that applies to layer l (the net's and its own). */
double gfi_layer_penalty_value(const gf_net *net, const gf_layer *l);
/* GF_ERR_NONFINITE naming the sample and feature of the first NaN/Inf in x (rows x inputs). */
int gfi_data_check(gf_net *net, const float *x, int64_t rows, const char *fn);
/* Draws layer l's W (weights) or b again from its initializer and its net's
 * generator; on failure (an orthogonal initializer out of memory) the values
 * and the generator are as they were. */
/* What a pending pass computed no longer holds.  gfi_net_cancel_pass: the
 * parameters (or what the forward read: lengths, activation) changed, so the
 * pending forward, backward and step are cancelled (the next backward or step
 * is GF_ERR_STATE, as after gf_net_reinit).  gfi_net_cancel_gradients: only
 * the loss side changed (a penalty), so the forward stands but the backward
 * and step must be redone.  Both take a layer's owner, NULL allowed. */
void gfi_net_cancel_pass(gf_net *net);
void gfi_net_cancel_gradients(gf_net *net);
int gfi_net_redraw(gf_layer *l, bool weights);

/* Creates a layer of kind with options keys[i] = values[i] and activation
 * act, and adds it (the convenience adders); fn names the caller. */
int gfi_net_add_kind(gf_net *net, int32_t kind, const int32_t *keys, const double *values, int n, int32_t act,
                     gf_layer **layer, const char *fn);

/* Allocates all a gf_net_train_step at this batch size needs (activation
 * buffers, the optimizer and its state, the diagnostics buffers), so the
 * step itself cannot run out of memory part way.  On failure nothing
 * observable changed (an optimizer created here is removed again).  On
 * success the optimizer's previous state is kept in *prep until
 * gfi_net_train_prepare_end: keep (a step was taken) frees it, otherwise the
 * optimizer is put back as it was (and removed, if created here). */
typedef struct gfi_train_prep {
    gfi_opt_state opt;
    bool made_opt;
} gfi_train_prep;
int gfi_net_train_prepare(gf_net *net, int64_t batch, gfi_train_prep *prep, const char *fn);
void gfi_net_train_prepare_end(gf_net *net, gfi_train_prep *prep, bool keep);

/* ---- layer.c ---- */
bool gfi_is_layer(const gf_layer *l);
/* Stores the shapes and blocks of lay (offsets: weight blocks, then bias blocks); keeps user marks. */
void gfi_layer_commit(gf_layer *l, const gfi_shape *in, const gfi_layout *lay);
/* Whether lay has the blocks the layer has now (a layer sized at creation, added to a net). */
bool gfi_layout_same(const gf_layer *l, const gfi_layout *lay);
/* Sizes a layer outside a net for input shape in: infer, own storage, commit. */
int gfi_layer_size_for(gf_layer *l, const gfi_shape *in, const char *fn);
/* Draws the weight (bias) blocks into dst from the layer's initializer; keep_user skips the caller's blocks. */
int gfi_layer_draw(const gf_layer *l, bool bias, float *dst, bool keep_user, gfi_rng *rng);
void gfi_layer_clear_user(gf_layer *l, bool bias);
/* Writes a shape to a public reader's arguments (see gf_net_input_shape). */
int gfi_shape_out(const gfi_shape *s, int32_t *kind, int64_t *dims, int32_t cap, int32_t *rank, const char *fn);
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

/* ---- optimizer.c (model files) ---- */
/* Whether kind reads param (GF_OPT_*), and its value; whether kind keeps m / v. */
bool gfi_opt_param_applies(int32_t kind, int32_t param);
/* Whether lr is a rate an optimizer can hold (and a model file store): finite,
 * in [0, FLT_MAX].  GFI_LR_DOMAIN says so in messages. */
bool gfi_opt_lr_valid(double lr);
#define GFI_LR_DOMAIN "in [0, 3.4e38] (finite, and at most the largest float: the update runs in float)"
double gfi_opt_param_value(const gf_optimizer *o, int32_t param);
bool gfi_opt_needs_m(int32_t kind);
bool gfi_opt_needs_v(int32_t kind);

/* ---- crc32.c ---- */
/* CRC-32 of n bytes continuing from crc (0 to start), as zlib's crc32(). */
uint32_t gfi_crc32(uint32_t crc, const void *data, size_t n);

/* ---- diag.c ---- */
struct gf_diag;

/* ---- net.c (the training loop's entries; arguments already validated) ---- */
/* Inference forward of batch rows of x; *out points at the net's output rows. */
int gfi_net_infer(gf_net *net, const float *x, int64_t batch, const float **out, const char *fn);
/* gf_net_train_step after its checks: diagnostics hooks, forward, backward, clip, step. */
int gfi_net_train_validated(gf_net *net, const float *x, const float *target, int64_t batch, double *loss);
/* The layers' batch rule (a caller-given recurrent state or sequence lengths
 * fix the batch of a pass): GF_OK when every layer accepts a pass of batch,
 * else the first refusing layer's code, its index in *layer, its reason in msg. */
int gfi_net_layers_accept_batch(const gf_net *net, int64_t batch, int32_t *layer, char *msg, size_t cap);
/* That rule for n rows passed `batch` at a time (the full batches and the
 * last, partial one), before any pass: GF_ERR_STATE naming fn, the layer and
 * `what` rows when a layer refuses one of those batches (fit.c). */
int gfi_check_layer_chunks(gf_net *net, const char *fn, const char *what, int64_t n, int64_t batch);
/* A fit's check of that rule, before any change: with a layer's per-sample
 * settings the rows must stay in place (shuffled names why they do not, or is
 * NULL) and every batch of ntrain and of nval rows, `batch` at a time, must be
 * accepted.  GF_ERR_STATE with a message naming fn otherwise (fit.c). */
int gfi_fit_check_layer_batches(gf_net *net, const char *fn, const char *shuffled, int64_t ntrain, int64_t nval,
                                int64_t batch);
/* After a fit's callback: GF_ERR_STATE naming fn when the net's loss kind or
 * GF_LOSS_PARAM_PER_STEP is no longer what the fit began with (fit.c). */
int gfi_fit_check_loss_unchanged(gf_net *net, const char *fn, int32_t kind, bool per_step);
/* Output rows of the latest forward. */
const float *gfi_net_output(const gf_net *net);
/* The rows the loss and the metrics read a batch of the net's outputs in: batch rows of the output size, or
 * under GF_LOSS_PARAM_PER_STEP on a SEQUENCE(T x C) output batch x T rows of C. */
void gfi_net_loss_rows(const gf_net *net, int64_t batch, int64_t *rows, int64_t *width);
/* Target values per sample (gf_net_target_size on a live net). */
int64_t gfi_net_target_size(const gf_net *net);
/* Sum of every penalty over the current parameters. */
double gfi_net_penalty(const gf_net *net);

/* ---- progress.c: the fit's progress line on stderr ---- */
typedef struct gfi_progress {
    int32_t mode; /* 0 off, 1 bar on a terminal (else lines), 2 lines */
    bool redraw;  /* a terminal: the bar is redrawn in place */
    int32_t epochs;
    int64_t rows; /* training rows per epoch */
    double start, epoch_start, last_draw;
    const char *metric; /* name of the first metric, NULL without */
} gfi_progress;
void gfi_progress_begin(gfi_progress *p, int32_t mode, int32_t epochs, int64_t rows, const char *metric);
void gfi_progress_epoch_begin(gfi_progress *p);
/* After a batch: done rows of the epoch, the running mean loss. */
void gfi_progress_batch(gfi_progress *p, int32_t epoch, int64_t done, double loss);
void gfi_progress_epoch_end(gfi_progress *p, const gf_epoch_record *r, bool validation);
double gfi_now(void); /* wall-clock seconds */

/* ---- metric.c ---- */
bool gfi_metric_kind_valid(int32_t kind);
/* GF_ERR_INVALID (with a message naming fn) when the metric cannot read this loss's targets. */
int gfi_metric_check(const gfi_metric *m, const gfi_loss *loss, int64_t width, const char *fn);
/* Adds one batch to acc. */
void gfi_metric_accumulate(const gfi_metric *m, const gfi_loss *loss, const float *pred, const float *target,
                           int64_t batch, int64_t width, gfi_metric_acc *acc);
double gfi_metric_value(const gfi_metric *m, const gfi_metric_acc *acc);
/* Checks n samples of x and target against the net (shapes, values, the
 * metrics' needs); the message names fn. */
int gfi_net_check_data(gf_net *net, const float *x, size_t x_count, const float *target, size_t target_count,
                       int64_t n, const char *fn);
/* Loss and metrics over n rows of validated data, `batch` at a time.  rows
 * (NULL: 0..n-1 in place) picks the samples, gathered into bx/bt. */
int gfi_net_evaluate_rows(gf_net *net, const float *x, const float *target, const int64_t *rows, int64_t n,
                          int64_t batch, float *bx, float *bt, double *loss, double *values, const char *fn);

/* ---- schedule.c ---- */
double gfi_sched_lr(const gfi_sched *s, int64_t t);
/* Plateau: one epoch's value (higher: larger is better); others: nothing. */
void gfi_sched_observe(gfi_sched *s, double value, bool higher);
void gfi_sched_reset(gfi_sched *s);

#endif /* GF_INTERNAL_H */
