/*
 * diag.h — private layout of the diagnostics object, shared by diag.c (which
 * observes the net and fills it), verdict.c (which judges it) and report.c /
 * svg.c (which print it).
 *
 * Observations live in a ring buffer of `cap` records.  Record r (0 = oldest
 * kept) for layer i, statistic k is
 *     hist[((slot(r) * nlayers) + i) * GFI_NSTAT + k]
 * where slot(r) = (head - count + r) mod cap and head is the next slot to
 * write.  gfi_diag_at() hides that arithmetic.
 */
#ifndef GF_DIAG_H
#define GF_DIAG_H

#include "internal.h"

#define GFI_NSTAT (GF_STAT_CANDIDATE_DEAD_FRAC + 1)
#define GFI_NTENSOR (GF_TENSOR_OPTIMIZER_STATE + 1)

/* The three counts (NaN, +Inf, -Inf) of tensor at layer in a counts array
 * laid out like gf_diag.nonfinite (nlayers * GFI_NTENSOR * 3). */
static inline int64_t *gfi_nf_at(int64_t *base, int32_t layer, int32_t tensor)
{
    return base + ((size_t)layer * GFI_NTENSOR + (size_t)tensor) * 3;
}
#define GFI_NTHRESHOLD (GF_TH_GATE_SHUT + 1)
#define GFI_EARLY 16

struct gf_diag {
    uint32_t magic;
    gf_net *net;         /* NULL once the net is destroyed */
    bool enabled;
    bool guard;
    bool origin;         /* locate where non-finite values are produced */
    int32_t every;       /* observe every k-th step */
    int32_t nlayers;     /* layers when the buffers were sized */

    /* History ring. */
    int32_t cap;         /* records kept */
    int32_t count;       /* records filled (<= cap) */
    int32_t head;        /* next slot to write */
    double *hist;        /* cap * nlayers * GFI_NSTAT */
    int64_t *hist_step;  /* cap: net step of each record (-1 for a probe) */
    int64_t observed;    /* records ever written */

    /* Non-finite counts of the latest record: [layer][tensor][0=nan,1=+inf,2=-inf]. */
    int64_t *nonfinite;  /* nlayers * GFI_NTENSOR * 3 */

    /* First production of a non-finite value. */
    bool origin_found;
    int64_t origin_step;
    int32_t origin_layer, origin_phase, origin_tensor;

    double threshold[GFI_NTHRESHOLD];

    /* The scale of the first GFI_EARLY training steps recorded (since creation,
     * reset or a change of layers): median loss and median weight-gradient norm
     * per layer, and the step of the last of them.  Avalanches later in training
     * are measured against it too (verdict.c).  early_ready: all GFI_EARLY seen. */
    bool early_ready;
    int64_t early_step;
    double early_loss;
    double *early_grad;  /* nlayers */
    double *early_weight;/* nlayers: weight norm at the first of them (the initial weights) */

    /* The largest learning rate of an observed training step since creation, reset or a change of layers (0: none
     * yet): the rate a schedule started from, against which the stagnation rule reads the rate now (rules.c,
     * gfi_lr_annealed).  The ring keeps too few records to hold it: a cosine schedule's peak is thousands of steps back.
     * Rates of another optimizer kind are not comparable (SGD's are 10 - 100x Adam's): a step by another kind starts
     * the peak again. */
    double lr_peak;
    int32_t lr_peak_kind; /* the optimizer kind of the steps lr_peak is over */
    /* 1 + the net step of the latest observed training step whose rate was under lr_peak / GFI_LR_ANNEALED (0: none
     * since creation, reset or a change of layers): a window of records older than this may hold steps a schedule
     * made small on purpose, whatever the rate now (a warm restart of SGDR jumps back to the peak in one step, while
     * the window still holds the annealed steps before it). */
    int64_t lr_annealed_after;
    /* The rate of the latest observed training step (0: none since creation, reset, a change of layers or of the
     * optimizer's kind), and 1 + the net step of the latest observed training step taken at a higher rate than the
     * observed step before it (0: none): a window of records older than this holds steps of a rate a schedule was
     * raising (a warm-up), which the stagnation rule does not judge (rules.c, window_rising). */
    double lr_last;
    int64_t lr_rose_after;
    /* The targets-off-scale condition (rules.c, "Targets off the output's scale") is a state of the net, kept here as
     * the peak rate is, not re-found from the last windows of the ring: a stalled loss passes its entering test ("the
     * loss falls") only by the chance of its batches, and a latch re-entered within the last windows dropped whenever
     * a run of them broke while the kept test held at every window.  Advanced over each finite training record once
     * it is complete (commit, before the next record is written: gfi_states_advance), so it is the state as of the
     * latest such record but the newest, over which the rule advances it when judging (a const diag).  Off, with no
     * run, since creation, reset or a change of layers; a probe's record does not move it. */
    bool target_on;
    int32_t target_run; /* while off: consecutive windows whose entering test held (GFI_PERSIST to enter) */
    /* The stagnation condition, kept the same way (rules.c, stagnating): each window is judged once, on the records
     * the ring held when it was the newest.  Re-judged from a ring that has since dropped its oldest records, a window
     * has a shorter loss history and noisier halves, and could enter the condition after the fact. */
    bool stag_on;

    /* The remedy checked on a scratch copy of the net, kept until the next observation (remedy.c). */
    struct gfi_remedy_cache *remedy;

    /* Private working state of diag.c (snapshots for the guard, the record
     * being filled, counters); verdict.c and report.c do not touch it. */
    void *work;
};

/* A rate this many times under the largest one the run had was annealed by a schedule (rules.c, gfi_lr_annealed). */
#define GFI_LR_ANNEALED 10.0

/* Pointer to statistic `stat` of `layer` in the record `ago` observations back
 * (0 = latest); NULL if out of range. */
static inline const double *gfi_diag_at(const gf_diag *d, int32_t ago, int32_t layer, int32_t stat)
{
    if (!d || ago < 0 || ago >= d->count || layer < 0 || layer >= d->nlayers || stat < 0 || stat >= GFI_NSTAT)
        return NULL;
    int32_t slot = (d->head - 1 - ago + 2 * d->cap) % d->cap;
    return d->hist + ((size_t)slot * (size_t)d->nlayers + (size_t)layer) * GFI_NSTAT + stat;
}

static inline int64_t gfi_diag_step_at(const gf_diag *d, int32_t ago)
{
    if (!d || ago < 0 || ago >= d->count)
        return -1;
    return d->hist_step[(d->head - 1 - ago + 2 * d->cap) % d->cap];
}

/* qsort order of doubles (ascending; the callers sort finite values). */
static inline int gfi_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

#define GFI_MAGIC_DIAG 0x47414944u

/* GF_OK for a live diag still attached to its net; else GF_ERR_NULL /
 * GF_ERR_KIND / GF_ERR_STATE (net destroyed) with a message naming fn. */
int gfi_diag_check(const gf_diag *d, const char *fn);

/* remedy.c: the cache of the checked remedy (zeroed; NULL when out of memory). */
struct gfi_remedy_cache *gfi_remedy_cache_new(void);
void gfi_remedy_cache_free(struct gfi_remedy_cache *c);
/* Drops the checked remedy (it is checked again when next asked for). */
void gfi_remedy_cache_forget(struct gfi_remedy_cache *c);

/* rules.c: advances d's kept states (stag_on; target_on, target_run) over its latest record, complete once the next
 * pass is committed; called by commit before it writes the next record.  Nothing for a probe's record or one with
 * NaN/Inf. */
void gfi_states_advance(gf_diag *d);

/* verdict.c: fills th[GFI_NTHRESHOLD] with the default thresholds. */
void gfi_diag_default_thresholds(double *th);

/* For the probe: the next training forward/backward of d's net is observed
 * whatever enable/every say; with probe set its record gets step -1 and no
 * optimizer step is expected.  The record is committed at the end of that
 * backward (gf_net_backward / gf_net_backward_from). */
void gfi_diag_observe_next(gf_diag *d, bool probe);
/* Withdraws an observe_next that no pass consumed (the pass failed before it began). */
void gfi_diag_cancel_observe_next(gf_diag *d);

/* ---- hooks called by net.c (only when net->diag_on / net->diag_active) ---- */
/* A training forward is about to run on net->xcopy: decides whether it is
 * observed (sets net->diag_active) and sizes buffers lazily (GF_ERR_NOMEM). */
int gfi_diag_forward_begin(gf_net *net, int64_t batch);
/* Layer i has run forward from x (net->z[i], net->y[i] are filled). */
void gfi_diag_forward_layer(gf_net *net, int32_t i, const float *x);
/* The loss (without penalties) and penalty value; have_loss is false for
 * gf_net_backward_from.  net->dbuf[0] holds d loss / d output. */
void gfi_diag_loss(gf_net *net, double loss, double penalty, bool have_loss);
/* The targets of an observed training pass: a classifier's (BCE, softmax cross-entropy) for the chance level, a
 * regression's (MSE, MAE, Huber) for their scale. */
void gfi_diag_targets(gf_net *net, const float *target);
/* The loss of the best constant prediction over every target the diag's training passes had (docs/verdicts.md,
 * "Solved classifiers"): the mean binary entropy of each output's target rate for BCE, the entropy of the class
 * frequencies for softmax cross-entropy; NaN before any, or for another loss. */
double gfi_diag_chance(const gf_diag *d);
/* The batch of the last pass the diag observed (0 before any). */
int64_t gfi_diag_batch(const gf_diag *d);
/* The variance of a regression loss's targets (MSE, MAE, Huber) over the diag's training passes, per output and
 * averaged over outputs; NaN before any, or for another loss. */
double gfi_diag_target_var(const gf_diag *d);
/* A regression's smallest and largest target into lo and hi, and the Bhatia-Davis gap: ((hi - mean)(mean - lo) -
 * variance) / (hi - lo)^2, averaged over outputs, which is 0 exactly when every target is lo or hi; NaN (lo, hi
 * NaN) before any target, for another loss, or for constant targets. */
double gfi_diag_target_ends(const gf_diag *d, double *lo, double *hi);
/* A regression's targets t against a range [lo, hi]: an upper bound on the mean of |(t - lo)(hi - t)| / (hi - lo)^2
 * over every target training had (0 when each is lo or hi; targets outside the range count their distance); NaN as
 * gfi_diag_target_var. */
double gfi_diag_target_room(const gf_diag *d, double lo, double hi);
/* For a regression's targets read as two values, its smallest and largest (gfi_diag_target_ends): the loss of
 * predicting each output's majority value for every sample, min(p, 1 - p) l(hi - lo) averaged over outputs, p an
 * output's share of the largest value and l the loss of a miss by the whole range (MSE, MAE, Huber); NaN as
 * gfi_diag_target_ends. */
double gfi_diag_majority_loss(const gf_diag *d);
/* Layer i has run backward from dy: net->dz and dx are filled. */
void gfi_diag_backward_layer(gf_net *net, int32_t i, const float *dy, const float *dx);
/* A backward is starting (called whenever net->diag_on). */
void gfi_diag_backward_begin(gf_net *net);
/* Penalties have been added to the gradients: gradient and weight statistics,
 * then the record is committed. */
void gfi_diag_backward_end(gf_net *net);
/* Guard (before clipping): GF_ERR_GUARD, naming the origin, if a gradient is
 * non-finite; GF_OK otherwise or when the guard is off. */
int gfi_diag_guard_grads(gf_net *net, const char *fn);
/* Replaces gfi_opt_update when net->diag_on (the optimizer is prepared):
 * measures the update of an observed step and, with the guard, refuses one
 * that would make weights or state non-finite (GF_ERR_GUARD, nothing changed). */
int gfi_diag_step(gf_net *net, const char *fn);
/* gf_net_train_step brackets its work with these (whenever net->diag is
 * set): inside, an observed pass may leave the gradient and weight
 * statistics to the step, which reads each tensor once for both; end takes
 * them itself if the step did not run. */
void gfi_diag_train_step_begin(gf_net *net);
void gfi_diag_train_step_end(gf_net *net);
/* Sizes the buffers an observed pass needs, before the pass changes
 * anything (GF_ERR_NOMEM, nothing changed); a no-op without an enabled diag. */
int gfi_diag_prepare(gf_net *net);
/* A savepoint of everything an observed pass changes (records, counts,
 * origin, counters), and the way back to it; call prepare first so the pass
 * allocates nothing.  No-ops without a diag. */
void gfi_diag_save(gf_net *net);
void gfi_diag_restore(gf_net *net);
/* The net is being destroyed: detach. */
void gfi_diag_net_destroyed(gf_net *net);

#endif /* GF_DIAG_H */
