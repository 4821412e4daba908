/*
 * judge.h — private to the verdict files: the signals measured from a diag's records (judge.c), the rules that
 * read them (rules.c: one table row per rule), and the remedies planned from the rules found and checked on a
 * scratch copy of the net (remedy.c).  docs/verdicts.md states every rule's signal, threshold and why.
 */
#ifndef GF_JUDGE_H
#define GF_JUDGE_H

#include "verdict.h"

/* Records a geometry signal is the median of: one step never moves a verdict, and a condition has to hold for
 * most of the last WINDOW training records to be found (and to go). */
#define GFI_WINDOW 9
/* Records whose finiteness, gating and depth terms the judge notes once (gfi_judge.finite and after): enough for
 * the windows that end at the last GFI_HYSTERESIS records; older ones are read from the history each time. */
#define GFI_FINITE_MEMO 64
/* Layers beyond this share the last condition slot. */
#define GFI_MAX_WHY 1024

/* The conditions, one per rule (rules.c holds the table in this order). */
enum gfi_cond {
    C_NONFINITE,      /* NaN/Inf in the layer's tensors */
    C_ORIGIN,         /* net: where the first NaN/Inf came from, and what produced it */
    C_DEPTH_GROW,     /* net: delta grows end to end beyond the exploding gain */
    C_CONV_GROW,      /* net: the gradient grows through the conv layers beyond the exploding gain (rules.c) */
    C_WEIGHT_GROWTH,  /* weights grew far beyond their initial scale (sign: weights growing exponentially) */
    C_GRAD_AVALANCHE, /* the gradient jumped by orders of magnitude, above its initial scale (sign: avalanche) */
    C_LOSS_AVALANCHE, /* net: the loss jumped by orders of magnitude, above its initial level */
    C_LOSS_RISE,      /* net: the loss rose over the window by a tenth of its initial level */
    C_DEAD,           /* units on the negative side for every sample, and the gradient no longer gets through */
    C_SATURATED,      /* sigmoid/tanh units in the flat tails */
    C_DEPTH_SHRINK,   /* net: delta shrinks end to end beyond the vanishing gain */
    C_CONV_GAIN,      /* net: the gradient shrinks through the conv layers beyond the vanishing gain (rules.c) */
    C_FROZEN,         /* lower hidden layers update orders of magnitude slower than like ones above (sign) */
    C_GRAD_FLOOR,     /* weight gradient under the absolute floor */
    C_WEIGHT_COLLAPSE,/* weights fell to a tenth of their initial scale (sign: weights going to zero) */
    C_STAGNATION,     /* net: steps too small to learn while the gradient is not (sign: learning stagnates) */
    C_TARGET_SCALE,   /* net: a regression's loss stays a decade above its targets' own spread, targets off scale */
    C_COUNT
};

typedef struct {
    bool ok;
    double gain;      /* end to end: chi^(k/2), median over the window (docs/verdicts.md, "Depth") */
    double chi;       /* mean over the k hidden-to-hidden steps of the squared per-layer gain of delta */
    double chi_se;    /* its standard error over those layers */
    double low, high; /* the end-to-end gain at chi -/+ GFI_DEPTH_Z standard errors (medians over the window) */
    double realized;  /* |delta_pre(0)| / |delta_pre(top)| of the judged record */
    int state;        /* +1 growing, -1 shrinking beyond the thresholds, 0 neither (with hysteresis, judge.c) */
    int32_t lo, top;  /* layers it spans: 0 and the last hidden layer */
    double worst;     /* the per-layer gain furthest from 1, and its layer */
    int32_t worst_at;
    double unit_part, weight_part; /* log of what the activations and the weights each let through, vs healthy */
    /* What the weights' alignment with their inputs explains (docs/verdicts.md, "Learned alignment"): the product
     * over the dense layers 1..top of rms(z_i) / (sigma_w,i rms(x_i)), 1 for weights independent of their input,
     * median over the window; and the gain, its bounds, with the share of it on the side of the test removed. */
    double align;
    double up_gain, up_low;    /* gain and low / max(align, 1): what the exploding test reads */
    double down_gain, down_high; /* gain and high / min(align, 1): what the vanishing test reads */
} depth_gain;

typedef struct gfi_judge {
    const gf_diag *d;
    const gf_net *net;
    int32_t L;
    const double *th;
    int32_t at;          /* the judged record: the latest whose statistics are all finite (ago), -1 if none */
    /* Whether each of the newest GFI_FINITE_MEMO records (ago) has all its statistics finite, found once by
     * gfi_j_analyse: every window reads it, and a record's check reads every layer. */
    int32_t finite_n;
    bool finite[GFI_FINITE_MEMO];
    bool gated[GFI_FINITE_MEMO]; /* gfi_j_gated of each, found with it */
    /* And what the depth windows read of each of those records (judge.c, depth_window), found when first read:
     * the windows of the depth hysteresis share all but one of their records. */
    bool chi_known[GFI_FINITE_MEMO], align_known[GFI_FINITE_MEMO];
    int8_t pooled_ok[GFI_FINITE_MEMO]; /* thin batches: 0 not yet found, 1 the record counts, -1 it does not */
    double chi_memo[GFI_FINITE_MEMO], chi_se_memo[GFI_FINITE_MEMO], align_memo[GFI_FINITE_MEMO];
    int32_t n;           /* training records (newest first, stopping at a probe) */
    uint32_t why[GFI_MAX_WHY];
    uint32_t net_why;
    depth_gain depth;
    double act_gain;     /* activation rms, last hidden layer over layer 0, at the judged record */
    double loss_jump;    int64_t loss_jump_step;
    double change;       int32_t change_n; /* relative loss change over the window (older - newer) / older */
    double change_older; /* the older half's median loss */
    double solved_loss, chance;            /* > 0: a classifier under SOLVED_SHARE of its chance loss */
    double fit_majority; /* > 0: a regression whose sigmoid/tanh output has targets at its asymptotes: the loss of
                          * predicting each output's majority value (judge.c, measure_fit) */
    double fit_lo, fit_hi, fit_room; /* under MAE: the activation's asymptotes, gfi_diag_target_room against them */
    double step_ur, step_grad, step_scale; /* stagnation: the whole net's update and gradient ratios, input std */
    double target_var, target_miss;        /* C_TARGET_SCALE: the targets' variance, the loss of a miss by their std */
    double target_loss, target_fall;       /* and the window's loss and its fall per step (NaN: not measured) */
    bool target_held;                      /* and the state was held over a step at an annealed rate */
    double lr;
    bool clipping;
    gfi_conv_gain conv;  /* C_CONV_GAIN / C_CONV_GROW: the conv activations' backward gains */
    double conv_gain;    /* and the conv stack's end-to-end gain (rules.c, conv_end_gain) */
    double conv_align;   /* what the conv layers' alignment with their inputs explains of it (rules.c, conv_align) */
} gfi_judge;

/* ---- judge.c: signals ---- */
double gfi_j_stat(const gfi_judge *j, int32_t ago, int32_t layer, int32_t stat);
double gfi_j_now(const gfi_judge *j, int32_t layer, int32_t stat);   /* latest record */
double gfi_j_seen(const gfi_judge *j, int32_t layer, int32_t stat);  /* the judged record */
double gfi_j_window(const gfi_judge *j, int32_t layer, int32_t stat); /* median over the window */
/* The median over the window ending at record start (ago). */
double gfi_j_window_from(const gfi_judge *j, int32_t start, int32_t layer, int32_t stat);
/* A classifier's chance level, the loss of the best constant prediction: the entropy of the targets' prior
 * (gfi_diag_chance), ln 2 for BCE and ln(classes) for softmax before any target was seen; 0 for other losses. */
double gfi_j_chance(const gfi_judge *j);
/* The net step of the oldest record of the window that ends at record start (-1: none, or a probe's). */
int64_t gfi_j_window_oldest_step(const gfi_judge *j, int32_t start);
/* Hysteresis: runs holds(j, start, entering, arg) over the windows ending at the last `horizon` training
 * records, oldest first; entering is true while the condition is off (its stricter test), false while on (the
 * test that keeps it).  Whether the condition is on at the judged record. */
bool gfi_j_latched(const gfi_judge *j, bool (*holds)(const gfi_judge *j, int32_t start, bool entering, void *arg),
                   void *arg, int32_t horizon);
/* The same, entered only once the entering test has held at `persist` consecutive windows (a probe: its own; with
 * fewer training records than that, at every window since the start). */
bool gfi_j_latched_for(const gfi_judge *j, bool (*holds)(const gfi_judge *j, int32_t start, bool entering, void *arg),
                       void *arg, int32_t horizon, int32_t persist);
/* Consecutive windows a state condition's entering test must hold at (rules.c: saturation, targets off scale): a
 * window's median crosses a threshold while its signal moves through it, for as long as the window's middle record
 * is past it; a state holds for the records a whole window spans.  So one window per record of the window. */
#define GFI_PERSIST GFI_WINDOW
int32_t gfi_j_act(const gfi_judge *j, int32_t layer);
double gfi_j_weights(const gfi_judge *j, int32_t layer);               /* weight count */
double gfi_j_early_weight_rms(const gfi_judge *j, int32_t layer);
double gfi_j_early_loss(const gfi_judge *j);
double gfi_j_early_grad(const gfi_judge *j, int32_t layer);
/* Fraction of a layer's units that pass (almost) no gradient, from the stuck-unit count and the Gaussian tail
 * share of its pre-activations (sigmoid/tanh only; 0 otherwise), over the window. */
double gfi_j_saturation(const gfi_judge *j, int32_t layer);
double gfi_j_saturation_from(const gfi_judge *j, int32_t start, int32_t layer); /* the window ending at start */
double gfi_j_tail_share(const gfi_judge *j, int32_t layer, int32_t ago);
/* With j->fit_majority: the window's loss over it (under MAE, the mean square residual its loss and its outputs'
 * spread bound, in the loss's units), which bounds the share of the output layer's outputs at the wrong asymptote
 * (judge.c, measure_fit, fit_loss_at); +inf otherwise. */
double gfi_j_wrong_share(const gfi_judge *j, int32_t start);
/* Whether record ago is gated: a hidden ReLU layer passed nothing for its whole batch (every output exactly 0, so
 * no delta below it and no input above it) while its units are not dead (DEAD_FRAC < 1: one fired within the last
 * UNIT_SPAN values, diag.c).  Possible only for batches of fewer than UNIT_SPAN values per unit: the zero is one
 * sample's activation pattern, not a measurement of the gain (docs/verdicts.md, "Gated records"). */
bool gfi_j_gated(const gfi_judge *j, int32_t ago);
/* gfi_j_window over the window's records that are not gated. */
double gfi_j_window_ungated(const gfi_judge *j, int32_t layer, int32_t stat);
/* Mean square per-layer gain of delta of record ago over the hidden layers, and its standard error (NaN where
 * not measurable). */
double gfi_j_chi_at(const gfi_judge *j, int32_t ago, double *se);
/* Standard errors a depth gain must clear the threshold by: a finite net's layers scatter around the mean-field
 * gain (Hanin 2018), and only a gain beyond that scatter is the init's. */
#define GFI_DEPTH_Z 2.0
/* Training batches of fewer samples than this are thin: the depth signal pools the window's squared deltas instead
 * of taking the median of its records (judge.c, depth_pooled); the same 32 values of evidence as a unit needs to
 * count as dead (diag.c, UNIT_SPAN).  Spans of up to GFI_WINDOW_LAYERS layers are pooled (deeper ones keep the
 * median). */
#define GFI_THIN_BATCH 32
#define GFI_WINDOW_LAYERS 256
/* Windows the depth hysteresis runs over (judge.c, depth_state). */
#define GFI_HYSTERESIS 24
/* Inputs whose variance is under this are off by more than x10 from the 1 every init assumes (the stagnation rule
 * scales its thresholds with their std; the remedy says to standardize them). */
#define GFI_INPUT_VAR_LOW 0.01
/* Squared gain of delta through a healthy unit of this activation on zero-mean input (ReLU: 1/2). */
double gfi_j_unit_ref(int32_t kind);
void gfi_j_analyse(const gf_diag *d, gfi_judge *j);

static inline uint32_t *gfi_j_why(gfi_judge *j, int32_t layer) { return &j->why[layer < GFI_MAX_WHY ? layer : GFI_MAX_WHY - 1]; }
static inline uint32_t gfi_j_why_at(const gfi_judge *j, int32_t layer) { return j->why[layer < GFI_MAX_WHY ? layer : GFI_MAX_WHY - 1]; }
static inline bool gfi_has(uint32_t why, int c) { return (why >> c) & 1u; }
void gfi_j_mark(gfi_judge *j, int32_t layer, int c);

/* Whether the end-to-end gain is beyond the vanishing (exploding) threshold: entered at the edge of its layers'
 * spread, left when the gain is back inside (judge.c, depth_state). */
static inline bool gfi_depth_below(const depth_gain *g) { return g->ok && g->state < 0; }
static inline bool gfi_depth_above(const depth_gain *g) { return g->ok && g->state > 0; }

/* ---- rules.c: the table ---- */
typedef struct {
    int cond;
    int32_t verdict;
    bool net_level;     /* quoted once for the net, not per layer */
    const char *sign;   /* the warning sign it names, or NULL */
    /* Finds the condition: marks the layers (or the net) where it holds. */
    void (*detect)(gfi_judge *j);
    /* One clause quoting the numbers; layer -1 for the net. */
    void (*reason)(const gfi_judge *j, gfi_sink *s, int32_t layer);
} gfi_rule;

extern const gfi_rule gfi_rules[C_COUNT];
int32_t gfi_cond_verdict(int c);
uint32_t gfi_flags_of(uint32_t why);
int32_t gfi_verdict_of_flags(uint32_t flags);
void gfi_put_reason(const gfi_judge *j, gfi_sink *s, int32_t layer);

/* Whether a schedule annealed the learning rate: it is under a tenth of the largest of any observed training step,
 * and stagnation is not judged (rules.c, STAGNATION_ANNEALED). */
bool gfi_lr_annealed(const gfi_judge *j);

/* Grad-avalanche record (ago) of a layer, or -1 (rules.c; the reason quotes it). */
int32_t gfi_grad_jump_at(const gfi_judge *j, int32_t layer, double *ratio);

/* ---- remedy.c ---- */
void gfi_put_remedy(const gfi_judge *j, gfi_sink *s, int32_t layer);
/* gf_diag_remedy_value without the argument checks (d observed or not). */
int gfi_remedy_value(const gf_diag *d, int32_t remedy, int32_t *present, double *value);

#endif /* GF_JUDGE_H */
