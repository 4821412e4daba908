/*
 * verdict.c — the rules that turn observed statistics into a verdict per
 * layer and for the net, with a reason that quotes the numbers and a
 * concrete remedy; and the thresholds those rules use.
 *
 * The rules deliberately do not compare weight-gradient norms between the
 * first and last layer: in a net of equal widths those stay about equal
 * whether the init is too small, right or too large.  They look at the
 * backpropagated delta across depth, the activation scale across depth, and
 * absolute scale.
 */
#include "verdict.h"
#include "verdict_time.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Thresholds                                                          */
/* ------------------------------------------------------------------ */

/* Documented in docs/api.md (table of defaults); the reasons for each value
 * are in docs/guide.md. */
void gfi_diag_default_thresholds(double *th)
{
    th[GF_TH_VANISH_FACTOR] = 0.85;
    th[GF_TH_EXPLODE_FACTOR] = 1.18;
    th[GF_TH_GRAD_FLOOR] = 1e-8;
    th[GF_TH_UPDATE_RATIO_SPREAD] = 3.0;
    th[GF_TH_DEAD_FRAC] = 0.75;
    th[GF_TH_SATURATED_FRAC] = 0.10;
    th[GF_TH_AVALANCHE] = 100.0;
    th[GF_TH_PLATEAU] = 1e-4;
    th[GF_TH_WEIGHT_FLOOR] = 1e-4;
    th[GF_TH_LOSS_RISE] = 0.1;
    th[GF_TH_UPDATE_FLOOR] = 1e-5;
}

/* Domain of each threshold: NULL when value is allowed, else what is wrong. */
static const char *threshold_domain(int32_t t, double v)
{
    if (!isfinite(v))
        return "must be finite";
    switch (t) {
    case GF_TH_VANISH_FACTOR:
        return v > 0 && v < 1 ? NULL : "must be in (0, 1)";
    case GF_TH_EXPLODE_FACTOR:
    case GF_TH_AVALANCHE:
        return v > 1 ? NULL : "must be > 1";
    case GF_TH_DEAD_FRAC:
    case GF_TH_SATURATED_FRAC:
        return v > 0 && v <= 1 ? NULL : "must be in (0, 1]";
    case GF_TH_UPDATE_RATIO_SPREAD:
    case GF_TH_PLATEAU:
    case GF_TH_LOSS_RISE:
        return v > 0 ? NULL : "must be > 0";
    default: /* the floors */
        return v >= 0 ? NULL : "must be >= 0";
    }
}

int gf_diag_set_threshold(gf_diag *d, int32_t threshold, double value)
{
    int rc = gfi_diag_check(d, "gf_diag_set_threshold");
    if (rc)
        return rc;
    if (threshold < 0 || threshold >= GFI_NTHRESHOLD)
        return gfi_fail(GF_ERR_INVALID, "gf_diag_set_threshold: unknown threshold %d", (int)threshold);
    const char *bad = threshold_domain(threshold, value);
    if (bad)
        return gfi_fail(GF_ERR_INVALID, "gf_diag_set_threshold: threshold %d %s (got %g)", (int)threshold, bad, value);
    d->threshold[threshold] = value;
    return GF_OK;
}

int gf_diag_get_threshold(const gf_diag *d, int32_t threshold, double *value)
{
    int rc = gfi_diag_check(d, "gf_diag_get_threshold");
    if (rc)
        return rc;
    if (!value)
        return gfi_fail(GF_ERR_NULL, "gf_diag_get_threshold: value is NULL");
    if (threshold < 0 || threshold >= GFI_NTHRESHOLD)
        return gfi_fail(GF_ERR_INVALID, "gf_diag_get_threshold: unknown threshold %d", (int)threshold);
    *value = d->threshold[threshold];
    return GF_OK;
}

const char *gf_verdict_name(int32_t verdict)
{
    switch (verdict) {
    case GF_VERDICT_HEALTHY: return "healthy";
    case GF_VERDICT_VANISHING: return "vanishing";
    case GF_VERDICT_EXPLODING: return "exploding";
    case GF_VERDICT_DEAD: return "dead";
    case GF_VERDICT_SATURATED: return "saturated";
    case GF_VERDICT_UNKNOWN: return "unknown";
    default: return "?";
    }
}

/* ------------------------------------------------------------------ */
/* Analysis                                                            */
/* ------------------------------------------------------------------ */

/* Conditions a rule can find; each maps to one verdict. */
enum cond {
    C_NONFINITE,      /* NaN/Inf in this layer's tensors */
    C_ORIGIN,         /* net: where the first NaN/Inf came from */
    C_DELTA_GROW,     /* delta grows geometrically toward the input */
    C_ACT_GROW,       /* activation scale grows geometrically with depth */
    C_WEIGHT_GROWTH,  /* weight norm grows exponentially over steps */
    C_GRAD_AVALANCHE, /* gradient norm jumped by orders of magnitude */
    C_LOSS_AVALANCHE, /* net: loss jumped by orders of magnitude */
    C_LOSS_RISE,      /* net: the loss rose over the window (steps too large) */
    C_DEAD,
    C_SATURATED,
    C_DELTA_SHRINK,   /* delta shrinks geometrically toward the input */
    C_ACT_SHRINK,     /* activation scale shrinks geometrically with depth */
    C_GRAD_FLOOR,     /* weight-gradient rms below the absolute floor */
    C_UPDATE_SPREAD,  /* update ratio orders of magnitude below the top layer's */
    C_WEIGHT_COLLAPSE,
    C_PLATEAU,        /* net: the loss stopped moving over the window */
    C_STEP_TINY,      /* net: every layer's update is tiny while the gradient is not (learning rate too small) */
    C_CONV_GAIN,      /* the conv layers' activations pass a shrinking share of the gradient (verdict_conv.c) */
    C_COUNT
};

static int32_t cond_verdict(int c)
{
    if (c <= C_LOSS_RISE)
        return GF_VERDICT_EXPLODING;
    if (c == C_DEAD)
        return GF_VERDICT_DEAD;
    if (c == C_SATURATED)
        return GF_VERDICT_SATURATED;
    return GF_VERDICT_VANISHING;
}

/* Severity order of the net and layer verdicts: non-finite values and
 * explosion destroy training at once; dead and saturated units are causes of
 * vanishing gradients, so they are named before the symptom they produce. */
static const int32_t severity[] = {GF_VERDICT_EXPLODING, GF_VERDICT_DEAD, GF_VERDICT_SATURATED, GF_VERDICT_VANISHING};

typedef struct {
    bool ok;        /* enough finite values to fit */
    double factor;  /* per-layer factor, in the direction named by the rule */
    double first, last;      /* values at the two ends */
    int32_t lo, hi;          /* layers of the fitted range */
} trend;

typedef struct {
    const gf_diag *d;
    int32_t L;
    const double *th;
    uint32_t why[1024]; /* conditions per layer (layers beyond 1023 share the last slot) */
    uint32_t net_why;
    trend delta, act;
    double loss_jump;  int64_t loss_jump_step;
    double plateau_change; int32_t plateau_n;
    bool flat;         /* the loss did not improve over the window (C_PLATEAU only beside a vanishing condition) */
    double solved_loss, chance; /* > 0: a classifier under 1 % of its chance loss (see solved) */
    double step_ur, step_grad; int32_t step_layer; /* C_STEP_TINY: largest update ratio, largest |g|/|w| and its layer */
    double clip_at;    /* suggested clipping norm */
    double lr;         /* the optimizer's learning rate */
    bool clipping;     /* the net already clips gradients in train_step */
    bool has_saturating, has_relu; /* hidden-layer activation kinds in the net */
    gfi_conv_gain conv; /* C_CONV_GAIN: the conv activations' backward gains */
} judge;

static double stat_at(const gf_diag *d, int32_t ago, int32_t layer, int32_t stat)
{
    const double *p = gfi_diag_at(d, ago, layer, stat);
    return p ? *p : NAN;
}

static double latest(const judge *j, int32_t layer, int32_t stat) { return stat_at(j->d, 0, layer, stat); }

static int32_t act_kind(const gf_diag *d, int32_t layer)
{
    if (!d->net || d->net->magic != GFI_MAGIC_NET || layer < 0 || layer >= d->net->nlayers)
        return -1;
    return d->net->layers[layer]->act.kind;
}

static double weight_count(const gf_diag *d, int32_t layer)
{
    if (!d->net || d->net->magic != GFI_MAGIC_NET || layer < 0 || layer >= d->net->nlayers)
        return NAN;
    return (double)d->net->layers[layer]->nweights;
}

static uint32_t *why_of(judge *j, int32_t layer) { return &j->why[layer < 1023 ? layer : 1023]; }
static uint32_t why_at(const judge *j, int32_t layer) { return j->why[layer < 1023 ? layer : 1023]; }

static void mark(judge *j, int32_t layer, int c)
{
    *why_of(j, layer) |= 1u << c;
    j->net_why |= 1u << c;
}

static bool has(uint32_t why, int c) { return (why >> c) & 1u; }

/* Least-squares slope of log(v[i]) over i in [lo, hi]; zeros are clamped to
 * 1e-300 so that a zero delta counts as total loss of signal. */
static trend fit_log(const judge *j, int32_t stat, int32_t lo, int32_t hi, bool sqrt_of)
{
    trend t = {false, 1.0, NAN, NAN, lo, hi};
    if (hi - lo < 2)
        return t;
    double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int32_t i = lo; i <= hi; i++) {
        double v = latest(j, i, stat);
        if (!isfinite(v) || v < 0)
            return t;
        if (sqrt_of)
            v = sqrt(v);
        double y = log(v > 1e-300 ? v : 1e-300);
        n += 1;
        sx += i;
        sy += y;
        sxx += (double)i * i;
        sxy += i * y;
    }
    double den = n * sxx - sx * sx;
    if (den <= 0)
        return t;
    double b = (n * sxy - sx * sy) / den;
    t.ok = true;
    t.factor = exp(b);
    t.first = latest(j, lo, stat);
    t.last = latest(j, hi, stat);
    if (sqrt_of) {
        t.first = sqrt(t.first);
        t.last = sqrt(t.last);
    }
    return t;
}

/* The fitted change over the whole range must exceed 10x: a few layers with
 * a mild factor are not a problem. */
static bool spans_decade(const trend *t, double factor)
{
    return fabs(log10(factor)) * (double)(t->hi - t->lo) > 1.0;
}

/* Delta (d loss / d layer input, rms) across depth; factor is per layer going
 * down toward the input. */
static void rule_delta(judge *j)
{
    /* Layer 0's delta is d loss / d data, NaN (not measured) unless the net
     * computes the input gradient (gf_net_set_input_grad); fit from layer 1 then. */
    int32_t lo = j->L > 0 && isnan(latest(j, 0, GF_STAT_DELTA_IN_RMS)) ? 1 : 0;
    j->delta = fit_log(j, GF_STAT_DELTA_IN_RMS, lo, j->L - 1, false);
    trend *t = &j->delta;
    if (!t->ok)
        return;
    t->factor = 1.0 / t->factor; /* toward the input */
    double top = t->last;
    bool shrink = t->factor < j->th[GF_TH_VANISH_FACTOR] && spans_decade(t, t->factor);
    bool grow = t->factor > j->th[GF_TH_EXPLODE_FACTOR] && spans_decade(t, t->factor);
    if (!shrink && !grow)
        return;
    bool any = false;
    for (int32_t i = lo; i < j->L - 1; i++) {
        double v = latest(j, i, GF_STAT_DELTA_IN_RMS);
        if ((shrink && v < top / 10) || (grow && v > top * 10)) {
            mark(j, i, shrink ? C_DELTA_SHRINK : C_DELTA_GROW);
            any = true;
        }
    }
    if (!any)
        mark(j, lo, shrink ? C_DELTA_SHRINK : C_DELTA_GROW);
}

/* Activation rms (sqrt ACT_VAR) across the hidden layers; factor is per
 * layer going up.  The output layer is left out: its width and activation
 * are chosen by the task. */
static void rule_activation(judge *j)
{
    int32_t hi = j->L >= 4 ? j->L - 2 : j->L - 1;
    j->act = fit_log(j, GF_STAT_ACT_VAR, 0, hi, true);
    trend *t = &j->act;
    if (!t->ok)
        return;
    bool shrink = t->factor < j->th[GF_TH_VANISH_FACTOR] && spans_decade(t, t->factor);
    bool grow = t->factor > j->th[GF_TH_EXPLODE_FACTOR] && spans_decade(t, t->factor);
    if (!shrink && !grow)
        return;
    bool any = false;
    for (int32_t i = 1; i <= hi; i++) {
        double v = sqrt(latest(j, i, GF_STAT_ACT_VAR));
        if ((shrink && v < t->first / 10) || (grow && v > t->first * 10)) {
            mark(j, i, shrink ? C_ACT_SHRINK : C_ACT_GROW);
            any = true;
        }
    }
    if (!any)
        mark(j, hi, shrink ? C_ACT_SHRINK : C_ACT_GROW);
}

/* Share of a layer's pre-activations in the flat tails of sigmoid/tanh
 * (derivative < 1% of its maximum: |z| > 2.99 for tanh, 5.99 for sigmoid),
 * estimated from PRE_MEAN and PRE_STD as if z were Gaussian.  SATURATED_FRAC
 * counts units stuck for every sample of the batch; a unit that swings from
 * one asymptote to the other across samples is saturated too, just not
 * stuck, and passes almost no gradient either. */
static double tail_share(const judge *j, int32_t i)
{
    int32_t kind = act_kind(j->d, i);
    if (kind != GF_ACT_SIGMOID && kind != GF_ACT_TANH)
        return 0.0;
    double zc = kind == GF_ACT_TANH ? 2.993 : 5.986;
    double m = latest(j, i, GF_STAT_PRE_MEAN), sd = latest(j, i, GF_STAT_PRE_STD);
    if (!isfinite(m) || !isfinite(sd))
        return 0.0;
    if (sd <= 0)
        return fabs(m) > zc ? 1.0 : 0.0;
    return 0.5 * erfc((zc - m) / (sd * sqrt(2.0))) + 0.5 * erfc((zc + m) / (sd * sqrt(2.0)));
}

/* Records over which a fraction of units "zero (or stuck) for every sample" must hold. */
#define SUSTAIN 8

/* The smaller of stat's latest value and its median over the last (up to)
 * SUSTAIN training records.  With batch 1, "zero for every sample" is what
 * one sample does: a He-initialized ReLU net trained on single samples
 * showed 75 % of a layer's units off in 22 of 117 checks, while a dead layer
 * stays dead from record to record.  A probe is judged on its own record. */
static double sustained(const judge *j, int32_t i, int32_t stat)
{
    double now = latest(j, i, stat);
    if (!isfinite(now) || gfi_diag_step_at(j->d, 0) < 0)
        return now;
    double v[SUSTAIN];
    int32_t m = 0;
    for (int32_t a = 0; a < j->d->count && m < SUSTAIN && gfi_diag_step_at(j->d, a) >= 0; a++) {
        double x = stat_at(j->d, a, i, stat);
        if (isfinite(x))
            v[m++] = x;
    }
    if (m == 0) /* cannot happen (record 0 is `now`, finite), but never read v[-1] */
        return now;
    qsort(v, (size_t)m, sizeof *v, gfi_cmp_double);
    double med = v[(m - 1) / 2];
    return med < now ? med : now;
}

/* The larger of the stuck-unit fraction and the tail share. */
static double saturation(const judge *j, int32_t i)
{
    double stuck = sustained(j, i, GF_STAT_SATURATED_FRAC), tail = tail_share(j, i);
    return isfinite(stuck) && stuck > tail ? stuck : tail;
}

/* Rules that look at one layer of the latest record. */
static void rule_local(judge *j, int32_t i)
{
    const double *th = j->th;
    double nf = latest(j, i, GF_STAT_NONFINITE);
    if (nf > 0 || isnan(nf))
        mark(j, i, C_NONFINITE);
    int32_t kind = act_kind(j->d, i);
    double dead = sustained(j, i, GF_STAT_DEAD_FRAC);
    if ((kind < 0 || gfi_act_is_relu_family(kind)) && dead >= th[GF_TH_DEAD_FRAC])
        mark(j, i, C_DEAD);
    if ((kind < 0 || gfi_act_is_saturating(kind)) && saturation(j, i) >= th[GF_TH_SATURATED_FRAC])
        mark(j, i, C_SATURATED);
    double n = weight_count(j->d, i);
    double loss = latest(j, 0, GF_STAT_LOSS);
    double wg = latest(j, i, GF_STAT_WGRAD_NORM);
    /* A solved problem has small gradients: the floor applies only while the loss is not already below it. */
    bool loss_small = isfinite(loss) && fabs(loss) < th[GF_TH_GRAD_FLOOR];
    if (n > 0 && isfinite(wg) && wg / sqrt(n) < th[GF_TH_GRAD_FLOOR] && !loss_small)
        mark(j, i, C_GRAD_FLOOR);
    double w = latest(j, i, GF_STAT_WEIGHT_NORM);
    if (n > 0 && isfinite(w) && w / sqrt(n) < th[GF_TH_WEIGHT_FLOOR])
        mark(j, i, C_WEIGHT_COLLAPSE);
    /* A layer without weights (flatten, pooling) takes no update: it has no ratio to spread. */
    double top = latest(j, j->L - 1, GF_STAT_UPDATE_RATIO), ur = latest(j, i, GF_STAT_UPDATE_RATIO);
    if (n > 0 && i < j->L - 1 && isfinite(top) && top > 0 && isfinite(ur) && ur >= 0 &&
        (ur == 0 || log10(top / ur) > th[GF_TH_UPDATE_RATIO_SPREAD]))
        mark(j, i, C_UPDATE_SPREAD);
}

/* The conv layers' activations lose the gradient: their backward gains (verdict_conv.c) average under
 * VANISH_FACTOR per layer and multiply to under a tenth, the decade the depth trend asks for.  The
 * layers marked are those whose own gain is under VANISH_FACTOR. */
static void rule_conv_gain(judge *j)
{
    gfi_conv_gain_scan(j->d, &j->conv);
    const gfi_conv_gain *g = &j->conv;
    if (g->layers < 1 || !(g->mean < j->th[GF_TH_VANISH_FACTOR]) || !(g->product < 0.1))
        return;
    for (int32_t i = g->lo; i <= g->hi; i++)
        if (gfi_conv_act_gain(j->d, i) < j->th[GF_TH_VANISH_FACTOR])
            mark(j, i, C_CONV_GAIN);
}

/* A gradient at least this fraction of its weights is far from a minimum: a
 * net whose updates are tiny then is held back by its learning rate, not
 * converged.  Measured: 2-3 at learning rates of 1e-6 (SGD and Adam), against
 * 0.0013 and below for nets that have converged (docs/api.md, UPDATE_FLOOR). */
#define STEP_TINY_MIN_GRAD 0.01

/* The steps are too small to learn: the largest update ratio of any layer is
 * under UPDATE_FLOOR while some layer's gradient is still STEP_TINY_MIN_GRAD
 * of its weights or more, and the loss is not already below the gradient floor. */
static void rule_step(judge *j)
{
    /* A probe applies no update; neither does a backward without a step. */
    if (j->d->count < 1 || gfi_diag_step_at(j->d, 0) < 0)
        return;
    double ur = -1, grad = -1;
    int32_t at = -1;
    for (int32_t i = 0; i < j->L; i++) {
        double u = latest(j, i, GF_STAT_UPDATE_RATIO);
        double g = latest(j, i, GF_STAT_WGRAD_NORM), w = latest(j, i, GF_STAT_WEIGHT_NORM);
        if (!isfinite(u) || u < 0)
            return; /* no update observed, or a broken one: other rules speak */
        if (u > ur)
            ur = u;
        if (isfinite(g) && isfinite(w) && w > 0 && g / w > grad) {
            grad = g / w;
            at = i;
        }
    }
    double loss = latest(j, 0, GF_STAT_LOSS);
    /* Every ratio exactly 0: no update was measured (backward only, or a step the guard refused). */
    if (at < 0 || !(ur > 0) || !(isfinite(loss) && fabs(loss) >= j->th[GF_TH_GRAD_FLOOR]))
        return;
    j->step_ur = ur;
    j->step_grad = grad;
    j->step_layer = at;
    if (ur < j->th[GF_TH_UPDATE_FLOOR] && grad >= STEP_TINY_MIN_GRAD)
        j->net_why |= 1u << C_STEP_TINY;
}

/* A classifier whose cross-entropy is under SOLVED_SHARE of the chance level
 * (ln 2 per output for BCE, ln(classes) for softmax; 5 % of ln 3 is a mean
 * probability of 0.95 on the right class) has solved its batches: what
 * gradient is left comes from a few samples, and how it spreads over the
 * layers no longer says anything about training.  Measured on 4x64 ReLU nets
 * with softmax CE over three classes: at losses of 0.002 delta shrank x0.44
 * per layer ("vanishing" in 27 of 76 checks), at 0.01 - 0.024 it grew x2.3
 * ("exploding").  Then the depth-trend and gradient conditions are dropped;
 * NaN/Inf, avalanches, a rising loss, dead and saturated units stay. */
#define SOLVED_SHARE 0.05
static void rule_solved(judge *j)
{
    const gf_net *net = j->d->net;
    if (!net || net->magic != GFI_MAGIC_NET || net->nlayers < 1)
        return;
    int32_t k = net->loss.kind;
    int64_t classes = net->layers[net->nlayers - 1]->out;
    double chance = k == GF_LOSS_BCE_LOGITS ? log(2.0)
                    : (k == GF_LOSS_SOFTMAX_CE || k == GF_LOSS_SOFTMAX_CE_LABELS) && classes >= 2 ? log((double)classes)
                                                                                                  : 0;
    double loss = latest(j, 0, GF_STAT_LOSS);
    if (!(chance > 0) || !isfinite(loss) || loss < 0 || loss >= SOLVED_SHARE * chance)
        return;
    j->solved_loss = loss;
    j->chance = chance;
    const int dropped[] = {C_DELTA_SHRINK, C_DELTA_GROW, C_UPDATE_SPREAD, C_GRAD_FLOOR, C_CONV_GAIN};
    for (size_t k2 = 0; k2 < sizeof dropped / sizeof *dropped; k2++) {
        uint32_t bit = 1u << dropped[k2];
        j->net_why &= ~bit;
        for (int32_t i = 0; i < j->L && i < 1024; i++)
            *why_of(j, i) &= ~bit;
    }
}

/* Number of records of real training steps (probes have step -1), newest first. */
static int32_t real_records(const gf_diag *d)
{
    int32_t n = 0;
    while (n < d->count && gfi_diag_step_at(d, n) >= 0)
        n++;
    return n;
}

/* Avalanches are measured against the largest of up to this many observations
 * before: with small batches one step's loss (or gradient) can be orders of
 * magnitude above the last one's for a harder sample, while a real avalanche
 * leaves everything before it behind.  Measured on an 8-32x3-1 ReLU net
 * regressing a smooth function, batch 1, healthy, 3000 steps: consecutive
 * losses jump by up to x1000, and near convergence a hard sample still passes
 * the largest of the 32 before by x100 - x2e4 now and then; hence also
 * AVALANCHE_KEEP below (docs/guide.md, "Small batches"). */
#define AVALANCHE_BASE 32

/* The largest finite value of stat over the up to AVALANCHE_BASE records
 * before record a (of n real ones); 0 if none. */
static double largest_before(const gf_diag *d, int32_t a, int32_t n, int32_t layer, int32_t stat)
{
    double m = 0;
    for (int32_t b = a + 1; b < n && b <= a + AVALANCHE_BASE; b++) {
        double v = stat_at(d, b, layer, stat);
        if (isfinite(v) && v > m)
            m = v;
    }
    return m;
}

/* Records after a jump that must still be above it: one or two hard samples in
 * a row (batch 1, near convergence) are not an avalanche, a divergence is. */
#define AVALANCHE_KEEP 2

/* Whether stat of layer at record a (of n real ones) jumped: it is non-finite, or more than
 * factor times the largest of the records before it and at least floor, and so are the
 * AVALANCHE_KEEP records after it, as far as there are any (the latest records count with the
 * ones there are).  *ratio: the jump factor. */
static bool jumped(const gf_diag *d, int32_t a, int32_t n, int32_t layer, int32_t stat, double factor, double floor,
                   double *ratio)
{
    double before = largest_before(d, a, n, layer, stat);
    /* After the first steps, their typical scale counts too: near convergence the last 32
     * losses of batch-1 classification can all be 1e-5, and one misclassified sample at 1
     * is not an avalanche; a divergence passes the starting scale as well. */
    if (d->early_ready && gfi_diag_step_at(d, a) > d->early_step) {
        double early = stat == GF_STAT_LOSS ? d->early_loss : d->early_grad[layer];
        if (isfinite(early) && early > before)
            before = early;
    }
    if (!(before > 0))
        return false;
    for (int32_t b = a; b >= 0 && b >= a - AVALANCHE_KEEP; b--) {
        double v = stat_at(d, b, layer, stat);
        if (isfinite(v) && !(v / before > factor && v >= floor))
            return false;
    }
    double now = stat_at(d, a, layer, stat);
    *ratio = isfinite(now) ? now / before : INFINITY;
    return true;
}

/* Record (ago) where layer i's weight-gradient norm jumped by the avalanche factor, or -1.  A
 * jump between values whose RMS stays under the gradient floor is noise in a vanished gradient,
 * not an avalanche. */
static int32_t grad_jump_at(const gf_diag *d, int32_t i, const double *th)
{
    int32_t n = real_records(d);
    double floor = th[GF_TH_GRAD_FLOOR] * sqrt((double)weight_count(d, i)), ratio;
    for (int32_t a = 0; a + 1 < n; a++)
        if (jumped(d, a, n, i, GF_STAT_WGRAD_NORM, th[GF_TH_AVALANCHE], floor, &ratio))
            return a;
    return -1;
}

/* Whether a rule found a vanishing condition, in the net or in a layer. */
static bool any_vanishing(const judge *j)
{
    for (int c = 0; c < C_COUNT; c++) {
        if (cond_verdict(c) != GF_VERDICT_VANISHING)
            continue;
        bool found = has(j->net_why, c);
        for (int32_t i = 0; i < j->L && !found; i++)
            found = has(why_at(j, i), c);
        if (found)
            return true;
    }
    return false;
}

/* Rules over the history window: weight growth, avalanches, plateau. */
static void rule_history(judge *j)
{
    const gf_diag *d = j->d;
    int32_t n = real_records(d);
    if (n < 2)
        return;
    for (int32_t i = 0; i < j->L; i++) {
        if (grad_jump_at(d, i, j->th) >= 0)
            mark(j, i, C_GRAD_AVALANCHE);
        /* Weight norm growing exponentially: >10x over the window. */
        double w_new = stat_at(d, 0, i, GF_STAT_WEIGHT_NORM), w_old = stat_at(d, n - 1, i, GF_STAT_WEIGHT_NORM);
        if (w_old > 0 && isfinite(w_old) && (!isfinite(w_new) || w_new / w_old > 10))
            mark(j, i, C_WEIGHT_GROWTH);
    }
    j->loss_jump = 0;
    for (int32_t a = 0; a + 1 < n; a++) {
        if (jumped(d, a, n, 0, GF_STAT_LOSS, j->th[GF_TH_AVALANCHE], 0.0, &j->loss_jump)) {
            j->loss_jump_step = gfi_diag_step_at(d, a);
            j->net_why |= 1u << C_LOSS_AVALANCHE;
            break;
        }
    }
    /* The mean loss of the newer half of the window against the older half
     * (needs 16 steps): risen by more than LOSS_RISE, training is unstable
     * (the steps overshoot); improved by less than PLATEAU, it stagnates.  A
     * loss that only rises is not a plateau: "use He init" would be wrong advice. */
    if (n >= 16) {
        int32_t h = n / 2;
        double older = 0, newer = 0, var_o = 0, var_n = 0;
        for (int32_t a = 0; a < h; a++) {
            newer += stat_at(d, a, 0, GF_STAT_LOSS) / h;
            older += stat_at(d, n - 1 - a, 0, GF_STAT_LOSS) / h;
        }
        for (int32_t a = 0; a < h; a++) {
            double x = stat_at(d, a, 0, GF_STAT_LOSS) - newer, y = stat_at(d, n - 1 - a, 0, GF_STAT_LOSS) - older;
            var_n += x * x / (h - 1);
            var_o += y * y / (h - 1);
        }
        if (isfinite(older) && isfinite(newer) && older > 0) {
            j->plateau_change = (older - newer) / older;
            j->plateau_n = n;
            if (older <= j->th[GF_TH_GRAD_FLOOR])
                return;
            /* A rise must stand out of the step-to-step spread (3 standard
             * errors): small batches of different samples differ by more than
             * 10 % on their own. */
            double se = sqrt(var_n / h + var_o / h);
            if (j->plateau_change < -j->th[GF_TH_LOSS_RISE] && newer - older > 3 * se)
                j->net_why |= 1u << C_LOSS_RISE;
            else if (j->plateau_change < j->th[GF_TH_PLATEAU])
                j->flat = true;
            /* A flat loss is what convergence, a task with nothing left to learn,
             * and small batches of different samples look like too: it supports
             * a vanishing verdict another rule found, and is no verdict alone. */
            if (j->flat && any_vanishing(j))
                j->net_why |= 1u << C_PLATEAU;
        }
    }
}

/* Suggested clipping norm: 5x the median global gradient norm of the healthy
 * records (finite and within 10x of the smallest); 1.0 without 4 of those. */
static double suggest_clip(const judge *j)
{
    const gf_diag *d = j->d;
    double norms[256];
    int32_t n = 0;
    double lo = INFINITY;
    for (int32_t a = 0; a < d->count && n < 256; a++) {
        double s = 0;
        for (int32_t i = 0; i < j->L; i++) {
            double w = stat_at(d, a, i, GF_STAT_WGRAD_NORM), b = stat_at(d, a, i, GF_STAT_BGRAD_NORM);
            s += w * w + (isfinite(b) ? b * b : 0);
        }
        s = sqrt(s);
        if (isfinite(s) && s > 0) {
            norms[n++] = s;
            lo = s < lo ? s : lo;
        }
    }
    int32_t k = 0;
    for (int32_t a = 0; a < n; a++)
        if (norms[a] <= 10 * lo)
            norms[k++] = norms[a];
    if (k < 4)
        return 1.0;
    qsort(norms, (size_t)k, sizeof *norms, gfi_cmp_double);
    double med = k % 2 ? norms[k / 2] : 0.5 * (norms[k / 2 - 1] + norms[k / 2]);
    return 5 * med;
}

static void analyse(const gf_diag *d, judge *j)
{
    memset(j, 0, sizeof *j);
    j->d = d;
    j->L = d->nlayers;
    j->th = d->threshold;
    j->lr = 0.01; /* gf_net_step's default optimizer */
    j->clipping = d->net && d->net->clip_mode != GF_CLIP_NONE;
    if (d->net && d->net->magic == GFI_MAGIC_NET && d->net->opt)
        j->lr = d->net->opt->lr;
    for (int32_t i = 0; i + 1 < j->L; i++) {
        int32_t k = act_kind(d, i);
        j->has_saturating |= k >= 0 && gfi_act_is_saturating(k);
        j->has_relu |= k >= 0 && gfi_act_is_relu_family(k);
    }
    for (int32_t i = 0; i < j->L; i++)
        rule_local(j, i);
    rule_delta(j);
    rule_activation(j);
    rule_step(j);
    rule_conv_gain(j);
    rule_solved(j);
    rule_history(j);
    if (d->origin_found)
        j->net_why |= 1u << C_ORIGIN;
    j->clip_at = suggest_clip(j);
}

static uint32_t flags_of(uint32_t why)
{
    uint32_t f = 0;
    for (int c = 0; c < C_COUNT; c++)
        if (has(why, c))
            f |= 1u << cond_verdict(c);
    return f;
}

static int32_t verdict_of_flags(uint32_t f)
{
    for (size_t k = 0; k < sizeof severity / sizeof *severity; k++)
        if (f & (1u << severity[k]))
            return severity[k];
    return GF_VERDICT_HEALTHY;
}

/* ------------------------------------------------------------------ */
/* Text                                                                */
/* ------------------------------------------------------------------ */

/* Writes the layers of the net whose verdict is v as "0-3, 7, 9-12". */
static void put_layers(const judge *j, gfi_sink *s, int32_t v)
{
    bool first = true;
    for (int32_t i = 0; i < j->L; i++) {
        if (verdict_of_flags(flags_of(why_at(j, i))) != v)
            continue;
        int32_t e = i;
        while (e + 1 < j->L && verdict_of_flags(flags_of(why_at(j, e + 1))) == v)
            e++;
        gfi_sink_put(s, first ? "%d" : ", %d", (int)i);
        if (e > i)
            gfi_sink_put(s, "-%d", (int)e);
        first = false;
        i = e;
    }
}

static void sep(gfi_sink *s, bool *first)
{
    if (!*first)
        gfi_sink_write(s, "; ", 2);
    *first = false;
}

/* One clause per condition, quoting the numbers.  layer -1: net-wide clauses. */
static void put_reason_clause(const judge *j, gfi_sink *s, int c, int32_t i)
{
    const gf_diag *d = j->d;
    const double *th = j->th;
    switch (c) {
    case C_NONFINITE: {
        gfi_sink_put(s, "%.0f NaN/Inf values", latest(j, i, GF_STAT_NONFINITE));
        bool any = false;
        for (int32_t t = 0; d->nonfinite && t < GFI_NTENSOR; t++) {
            const int64_t *c3 = gfi_nf_at(d->nonfinite, i, t);
            if (c3[0] + c3[1] + c3[2] == 0)
                continue;
            gfi_sink_put(s, "%s%s: %lld NaN, %lld +Inf, %lld -Inf", any ? ", " : " (", gf_tensor_name(t),
                         (long long)c3[0], (long long)c3[1], (long long)c3[2]);
            any = true;
        }
        if (any)
            gfi_sink_put(s, ")");
        break;
    }
    case C_ORIGIN:
        gfi_sink_put(s, "the first NaN/Inf appeared at step %lld in layer %d, %s phase, tensor %s", (long long)d->origin_step,
                     (int)d->origin_layer, gf_phase_name(d->origin_phase), gf_tensor_name(d->origin_tensor));
        break;
    case C_DELTA_SHRINK:
    case C_DELTA_GROW:
        if (i >= 0)
            gfi_sink_put(s, "delta rms %.2g here is %.2gx the top layer's %.2g; ", latest(j, i, GF_STAT_DELTA_IN_RMS),
                         latest(j, i, GF_STAT_DELTA_IN_RMS) / j->delta.last, j->delta.last);
        gfi_sink_put(s, "delta rms %s x%.3g per layer: %.2g at layer %d -> %.2g at layer %d (threshold x%g)",
                     c == C_DELTA_SHRINK ? "shrinks" : "grows", j->delta.factor, j->delta.last, (int)j->delta.hi,
                     j->delta.first, (int)j->delta.lo, c == C_DELTA_SHRINK ? th[GF_TH_VANISH_FACTOR] : th[GF_TH_EXPLODE_FACTOR]);
        break;
    case C_ACT_SHRINK:
    case C_ACT_GROW:
        if (i >= 0)
            gfi_sink_put(s, "activation variance %.2g here vs %.2g at layer 0; ", latest(j, i, GF_STAT_ACT_VAR),
                         j->act.first * j->act.first);
        gfi_sink_put(s, "activation rms %s x%.3g per layer (variance x%.3g): %.2g at layer 0 -> %.2g at layer %d (threshold x%g)",
                     c == C_ACT_SHRINK ? "shrinks" : "grows", j->act.factor, j->act.factor * j->act.factor, j->act.first,
                     j->act.last, (int)j->act.hi, c == C_ACT_SHRINK ? th[GF_TH_VANISH_FACTOR] : th[GF_TH_EXPLODE_FACTOR]);
        break;
    case C_WEIGHT_GROWTH: {
        int32_t n = real_records(d);
        gfi_sink_put(s, "weight norm grew x%.3g over the last %d steps (%.3g -> %.3g)",
                     stat_at(d, 0, i, GF_STAT_WEIGHT_NORM) / stat_at(d, n - 1, i, GF_STAT_WEIGHT_NORM), (int)n,
                     stat_at(d, n - 1, i, GF_STAT_WEIGHT_NORM), stat_at(d, 0, i, GF_STAT_WEIGHT_NORM));
        break;
    }
    case C_GRAD_AVALANCHE: {
        int32_t a = grad_jump_at(d, i, th);
        if (a >= 0)
            gfi_sink_put(s, "weight-gradient norm jumped %.2g -> %.2g between steps %lld and %lld (threshold x%g)",
                         /* norms are >= 0: fabs only turns a "-nan" into "nan" */
                         fabs(stat_at(d, a + 1, i, GF_STAT_WGRAD_NORM)), fabs(stat_at(d, a, i, GF_STAT_WGRAD_NORM)),
                         (long long)gfi_diag_step_at(d, a + 1), (long long)gfi_diag_step_at(d, a), th[GF_TH_AVALANCHE]);
        break;
    }
    case C_LOSS_AVALANCHE:
        gfi_sink_put(s, "loss jumped x%.3g at step %lld (threshold x%g)", j->loss_jump, (long long)j->loss_jump_step,
                     th[GF_TH_AVALANCHE]);
        break;
    case C_DEAD:
        gfi_sink_put(s, "%.0f%% of %s units are zero for every sample (threshold %.0f%%)",
                     100 * latest(j, i, GF_STAT_DEAD_FRAC), gf_activation_name(act_kind(d, i)), 100 * th[GF_TH_DEAD_FRAC]);
        gfi_conv_put_channels(d, i, GF_SERIES_DEAD_CHANNELS, s);
        break;
    case C_SATURATED:
        gfi_sink_put(s, "%s saturated: %.0f%% of units stuck for every sample, %.0f%% of pre-activations in the "
                        "flat tails (pre-activation std %.2g; derivative < 1%% of its maximum) (threshold %.0f%%)",
                     gf_activation_name(act_kind(d, i)), 100 * latest(j, i, GF_STAT_SATURATED_FRAC),
                     100 * tail_share(j, i), latest(j, i, GF_STAT_PRE_STD), 100 * th[GF_TH_SATURATED_FRAC]);
        gfi_conv_put_channels(d, i, GF_SERIES_SATURATED_CHANNELS, s);
        break;
    case C_GRAD_FLOOR:
        gfi_sink_put(s, "weight-gradient rms %.2g is below the floor %g",
                     latest(j, i, GF_STAT_WGRAD_NORM) / sqrt(weight_count(d, i)), th[GF_TH_GRAD_FLOOR]);
        break;
    case C_UPDATE_SPREAD: {
        double top = latest(j, j->L - 1, GF_STAT_UPDATE_RATIO), ur = latest(j, i, GF_STAT_UPDATE_RATIO);
        gfi_sink_put(s, "update ratio %.2g is %.3g orders of magnitude below the top layer's %.2g (threshold %g)", ur,
                     ur > 0 ? log10(top / ur) : INFINITY, top, th[GF_TH_UPDATE_RATIO_SPREAD]);
        break;
    }
    case C_WEIGHT_COLLAPSE:
        gfi_sink_put(s, "weight rms %.2g is below the floor %g: the weights collapsed toward zero",
                     latest(j, i, GF_STAT_WEIGHT_NORM) / sqrt(weight_count(d, i)), th[GF_TH_WEIGHT_FLOOR]);
        break;
    case C_PLATEAU:
        gfi_sink_put(s, "the loss improved by only %.2g%% over the last %d steps (threshold %g%%)", 100 * j->plateau_change,
                     (int)j->plateau_n, 100 * th[GF_TH_PLATEAU]);
        break;
    case C_STEP_TINY:
        gfi_sink_put(s, "the steps are too small to learn: the largest update ratio is %.2g per step (threshold %g; "
                        "healthy ~1e-3) while layer %d's gradient is %.2g of its weights",
                     j->step_ur, th[GF_TH_UPDATE_FLOOR], (int)j->step_layer, j->step_grad);
        break;
    case C_CONV_GAIN:
        if (i >= 0)
            gfi_sink_put(s, "its %s passes x%.2g of the gradient (||delta pre|| / ||delta out||); ",
                         gf_activation_name(act_kind(d, i)), gfi_conv_act_gain(d, i));
        gfi_sink_put(s, "the conv layers' activations pass x%.2g of the gradient per layer, x%.2g in all over layers "
                        "%d-%d (threshold x%g per layer and x0.1 in all)",
                     j->conv.mean, j->conv.product, (int)j->conv.lo, (int)j->conv.hi, th[GF_TH_VANISH_FACTOR]);
        break;
    case C_LOSS_RISE:
        gfi_sink_put(s, "the loss rose: its mean over the last %d steps is %.2g%% above the %d steps before (threshold %g%%)",
                     (int)(j->plateau_n / 2), -100 * j->plateau_change, (int)(j->plateau_n / 2),
                     100 * th[GF_TH_LOSS_RISE]);
        break;
    default:
        break;
    }
}

/* Conditions that are about the net, not one layer: quoted once in the net's reason. */
static bool net_level(int c)
{
    return c == C_ORIGIN || c == C_LOSS_AVALANCHE || c == C_LOSS_RISE || c == C_PLATEAU || c == C_STEP_TINY ||
           c == C_DELTA_SHRINK || c == C_CONV_GAIN ||
           c == C_DELTA_GROW || c == C_ACT_SHRINK || c == C_ACT_GROW;
}

static void put_healthy(const judge *j, gfi_sink *s, int32_t i)
{
    if (i >= 0) {
        /* A healthy layer has no NaN/Inf, so a NaN delta is layer 0's unmeasured one
         * (gf_net_set_input_grad off): say so rather than quote a "nan". */
        double delta = latest(j, i, GF_STAT_DELTA_IN_RMS);
        if (isnan(delta))
            gfi_sink_put(s, "no condition found: delta rms not measured (input gradient off)");
        else
            gfi_sink_put(s, "no condition found: delta rms %.2g", delta);
        gfi_sink_put(s, ", weight-gradient norm %.2g, activation variance %.2g", latest(j, i, GF_STAT_WGRAD_NORM),
                     latest(j, i, GF_STAT_ACT_VAR));
        double ur = latest(j, i, GF_STAT_UPDATE_RATIO);
        if (isfinite(ur) && ur > 0)
            gfi_sink_put(s, ", update ratio %.2g", ur);
        return;
    }
    gfi_sink_put(s, "no condition found in %d layers", (int)j->L);
    if (j->chance > 0)
        gfi_sink_put(s, "; the classifier has solved its batches (loss %.2g, chance %.2g): how the gradient spreads "
                        "over the layers is not judged",
                     j->solved_loss, j->chance);
    if (j->flat)
        gfi_sink_put(s, "; the loss has not improved over the last %d steps (%+.2g%%), and no gradient-flow cause was "
                        "found",
                     (int)j->plateau_n, 0.0 - 100 * j->plateau_change); /* 0 - x: a flat loss reads +0, not -0 */
    if (j->delta.ok)
        gfi_sink_put(s, "; delta rms changes x%.3g per layer toward the input (%.2g at layer %d -> %.2g at layer %d)",
                     j->delta.factor, j->delta.last, (int)j->delta.hi, j->delta.first, (int)j->delta.lo);
    if (j->act.ok)
        gfi_sink_put(s, "; activation rms changes x%.3g per layer (%.2g at layer 0 -> %.2g at layer %d)", j->act.factor,
                     j->act.first, j->act.last, (int)j->act.hi);
}

static void put_reason(const judge *j, gfi_sink *s, int32_t layer)
{
    bool first = true;
    if (layer >= 0) {
        uint32_t why = why_at(j, layer);
        int32_t v = verdict_of_flags(flags_of(why));
        gfi_sink_put(s, "%s: ", gf_verdict_name(v));
        if (!why) {
            put_healthy(j, s, layer);
            return;
        }
        /* Conditions of the verdict first, then the others. */
        for (int pass = 0; pass < 2; pass++)
            for (int c = 0; c < C_COUNT; c++)
                if (has(why, c) && ((cond_verdict(c) == v) == (pass == 0))) {
                    sep(s, &first);
                    put_reason_clause(j, s, c, layer);
                }
        return;
    }
    uint32_t f = flags_of(j->net_why);
    int32_t v = verdict_of_flags(f);
    gfi_sink_put(s, "%s", gf_verdict_name(v));
    if (!j->net_why) {
        gfi_sink_put(s, ": ");
        put_healthy(j, s, -1);
        return;
    }
    /* Name the layers of each verdict found, most severe first. */
    for (size_t k = 0; k < sizeof severity / sizeof *severity; k++) {
        int32_t sv = severity[k];
        bool layered = false;
        for (int32_t i = 0; i < j->L && !layered; i++)
            layered = verdict_of_flags(flags_of(why_at(j, i))) == sv;
        if (!(f & (1u << sv)))
            continue;
        gfi_sink_put(s, "%s%s", first ? " (" : "; ", gf_verdict_name(sv));
        if (layered) {
            int32_t n = 0;
            for (int32_t i = 0; i < j->L; i++)
                n += verdict_of_flags(flags_of(why_at(j, i))) == sv;
            gfi_sink_put(s, n == 1 ? " in layer " : " in layers ");
            put_layers(j, s, sv);
        } else {
            gfi_sink_put(s, " net-wide");
        }
        first = false;
    }
    gfi_sink_put(s, "): ");
    first = true;
    /* Net-wide clauses, then one representative per layer-local condition. */
    for (size_t k = 0; k < sizeof severity / sizeof *severity; k++)
        for (int c = 0; c < C_COUNT; c++) {
            if (cond_verdict(c) != severity[k] || !has(j->net_why, c))
                continue;
            sep(s, &first);
            if (net_level(c)) {
                put_reason_clause(j, s, c, -1);
                continue;
            }
            /* The layer where the condition is strongest is the first with it, from the input side. */
            int32_t at = 0;
            while (at < j->L && !has(why_at(j, at), c))
                at++;
            int32_t count = 0;
            for (int32_t i = 0; i < j->L; i++)
                count += has(why_at(j, i), c);
            gfi_sink_put(s, "layer %d: ", (int)at);
            put_reason_clause(j, s, c, at);
            if (count > 1)
                gfi_sink_put(s, " (and %d more layers)", (int)count - 1);
        }
}

/* The largest L2 strength that applies to layer (-1: any layer): the net's
 * penalty and the layers' own. */
static double strongest_l2(const judge *j, int32_t layer)
{
    const gf_net *net = j->d->net;
    if (!net || net->magic != GFI_MAGIC_NET)
        return 0;
    double l2 = net->has_pen ? net->pen.l2 : 0;
    for (int32_t i = 0; i < net->nlayers; i++)
        if ((layer < 0 || i == layer) && net->layers[i]->has_pen)
            l2 = fmax(l2, net->layers[i]->pen.l2);
    return l2;
}

/* How far the latest gradients exceed the net's clipping (recorded before it is
 * applied): the global norm over the clip norm, the largest layer norm over a
 * per-layer clip, the largest component over a value clip; 0 without clipping. */
static double clip_excess(const judge *j)
{
    const gf_net *net = j->d->net;
    if (!j->clipping || !net || !(net->clip_value > 0))
        return 0;
    double total = 0, layer_max = 0, comp_max = 0;
    for (int32_t i = 0; i < j->L; i++) {
        double w = latest(j, i, GF_STAT_WGRAD_NORM), b = latest(j, i, GF_STAT_BGRAD_NORM);
        double l2 = (isfinite(w) ? w * w : 0) + (isfinite(b) ? b * b : 0);
        total += l2;
        layer_max = fmax(layer_max, sqrt(l2));
        comp_max = fmax(comp_max, fmax(latest(j, i, GF_STAT_WGRAD_MAXABS), latest(j, i, GF_STAT_BGRAD_MAXABS)));
    }
    double g = net->clip_mode == GF_CLIP_NORM ? sqrt(total) : net->clip_mode == GF_CLIP_LAYER_NORM ? layer_max : comp_max;
    return isfinite(g) ? g / net->clip_value : 0;
}

/* Concrete advice per verdict, tailored to the activations in use and the numbers measured. */
static void put_remedy(const judge *j, gfi_sink *s, int32_t layer)
{
    uint32_t why = layer >= 0 ? why_at(j, layer) : j->net_why;
    int32_t kind = layer >= 0 ? act_kind(j->d, layer) : -1;
    bool sat_kind = layer >= 0 ? kind >= 0 && gfi_act_is_saturating(kind) : j->has_saturating;
    bool relu_kind = layer >= 0 ? kind >= 0 && gfi_act_is_relu_family(kind) : j->has_relu;
    int32_t v = verdict_of_flags(flags_of(why));
    bool first = true;
    if (!why) {
        gfi_sink_put(s, "none needed: keep the current activations, init and learning rate (%g)", j->lr);
        return;
    }
    if (has(why, C_NONFINITE) || has(why, C_ORIGIN) || has(why, C_LOSS_AVALANCHE) || has(why, C_GRAD_AVALANCHE)) {
        sep(s, &first);
        gfi_sink_put(s, "clip the global gradient norm at %.3g (gf_net_set_clip(net, GF_CLIP_NORM, %.3g)) and lower the "
                        "learning rate from %g to %g; turn on GF_DIAG_GUARD so a non-finite step is refused and the "
                        "weights stay intact",
                     j->clip_at, j->clip_at, j->lr, j->lr / 10);
    }
    if (has(why, C_LOSS_RISE) && !has(why, C_LOSS_AVALANCHE)) {
        sep(s, &first);
        /* Halving is enough for the demo's rescued net at depth 4 and 8 (a rise of
         * 32 % and 94 %); a tenth also stops the rise but learns far slower. */
        gfi_sink_put(s, "the steps overshoot: halve the learning rate (%g -> %g)", j->lr, j->lr / 2);
        if (!j->clipping)
            gfi_sink_put(s, " and clip the global gradient norm at %.3g (gf_net_set_clip(net, GF_CLIP_NORM, %.3g))",
                         j->clip_at, j->clip_at);
        gfi_sink_put(s, "; halve it again if the loss still rises");
    }
    if (has(why, C_STEP_TINY)) {
        sep(s, &first);
        double over = clip_excess(j);
        if (over > 1) {
            /* Clipping, not the learning rate, is what keeps the steps small. */
            const gf_net *net = j->d->net;
            gfi_sink_put(s, "gradient clipping cuts every step: the gradient is x%.2g over the clip %s %g; raise it to "
                            "about %.3g (gf_net_set_clip) or turn clipping off before raising the learning rate",
                         over, net->clip_mode == GF_CLIP_VALUE ? "value" : "norm", net->clip_value,
                         net->clip_mode == GF_CLIP_NORM ? j->clip_at : net->clip_value * over);
        } else {
            /* The update ratio scales with the learning rate: aim the fastest layer at ~1e-3. */
            gfi_sink_put(s, "raise the learning rate from %g to about %.1g, which moves the fastest layer by ~1e-3 of "
                            "its weights per step",
                         j->lr, j->step_ur > 0 ? j->lr * 1e-3 / j->step_ur : j->lr * 100);
        }
    }
    if (has(why, C_DELTA_GROW) || has(why, C_ACT_GROW)) {
        sep(s, &first);
        double f = has(why, C_ACT_GROW) ? j->act.factor : j->delta.factor;
        gfi_sink_put(s, "the weights are too large: scale the init down by x%.2g, i.e. %s", 1.0 / f,
                     sat_kind ? "Xavier init for tanh/sigmoid (gain 5/3 for tanh)" : "He init for the ReLU family (std sqrt(2/fan_in))");
        /* Growth with depth is the init's doing: once clipping is on, more clipping is no remedy. */
        if (!has(why, C_NONFINITE) && !j->clipping)
            gfi_sink_put(s, "; clip the gradient norm at %.3g", j->clip_at);
    }
    if (has(why, C_WEIGHT_GROWTH)) {
        sep(s, &first);
        gfi_sink_put(s, "the weights grow step after step: add an L2 penalty of 1e-4 (gf_penalty_create(&p, 0, 1e-4)) "
                        "and lower the learning rate from %g to %g",
                     j->lr, j->lr / 10);
    }
    if (has(why, C_DEAD)) {
        sep(s, &first);
        gfi_sink_put(s, "revive the dead units: bias init 0.1 (GF_INIT_CONSTANT 0.1), leaky ReLU (slope 0.01) instead "
                        "of ReLU, He init, and a learning rate below %g (try %g)",
                     j->lr, j->lr / 10);
    }
    if (has(why, C_SATURATED)) {
        sep(s, &first);
        gfi_sink_put(s, "the units are pinned at their asymptotes: use Xavier init (gain 5/3 for tanh) or smaller "
                        "weights, an L2 penalty of 1e-4, or ReLU / leaky ReLU with He init in the hidden layers");
    }
    /* A plateau only accompanies these (or tiny steps, which have their own advice). */
    bool vanish = has(why, C_DELTA_SHRINK) || has(why, C_ACT_SHRINK) || has(why, C_GRAD_FLOOR) ||
                  has(why, C_UPDATE_SPREAD) || has(why, C_WEIGHT_COLLAPSE) || has(why, C_CONV_GAIN);
    if (vanish) {
        /* An L2 penalty that takes a tenth of a percent or more off every weight
         * each step (lr x L2) shrinks the signal by itself: more init is no cure. */
        double decay = j->lr * strongest_l2(j, layer);
        bool penalty = decay >= 1e-3 && (has(why, C_DELTA_SHRINK) || has(why, C_ACT_SHRINK));
        if (penalty) {
            sep(s, &first);
            gfi_sink_put(s, "the L2 penalty of %g shrinks every weight by %.2g%% per step (to x%.2g of itself over 1000 "
                            "steps): lower it by 10x or more",
                         strongest_l2(j, layer), 100 * decay, pow(1 - fmin(decay, 1.0), 1000));
        }
        /* Init advice for ReLU nets, unless the init is not what shrank the weights, or
         * the dead units' advice above already covers it (a dead unit passes no signal). */
        bool init_advice = sat_kind || !(penalty || (relu_kind && has(why, C_DEAD)));
        if (init_advice) {
            sep(s, &first);
            if (sat_kind)
                gfi_sink_put(s, "use ReLU or leaky ReLU instead of sigmoid/tanh in the hidden layers, with He init (std "
                                "sqrt(2/fan_in)) and bias 0.1; if you keep tanh, use Xavier init with gain 5/3");
            else if (relu_kind) {
                double f = has(why, C_ACT_SHRINK) ? j->act.factor : j->delta.factor;
                gfi_sink_put(s, "use He init (std sqrt(2/fan_in))");
                if (f > 0 && f < 1)
                    gfi_sink_put(s, ": the signal loses x%.2g per layer, so scale the weights up by x%.2g", f, 1.0 / f);
                gfi_sink_put(s, "; bias init 0.1 keeps ReLU units active");
            } else
                gfi_sink_put(s, "use ReLU or leaky ReLU in the hidden layers with He init, or Xavier init for tanh");
        }
        if (has(why, C_WEIGHT_COLLAPSE)) {
            sep(s, &first);
            gfi_sink_put(s, "the weights collapsed: lower the L1/L2 strength (or weight decay) by 10x");
        }
        if (has(why, C_PLATEAU) || has(why, C_UPDATE_SPREAD)) {
            sep(s, &first);
            gfi_sink_put(s, "an adaptive optimizer (Adam) evens out the per-layer update sizes");
        }
    }
    (void)v;
}

int gfi_verdict_of(const gf_diag *d, int32_t layer, int32_t *verdict, uint32_t *flags, int which, gfi_sink *text)
{
    judge *j = gfi_malloc(sizeof *j);
    if (!j)
        return GF_ERR_NOMEM;
    analyse(d, j);
    uint32_t why = layer >= 0 ? *why_of(j, layer) : j->net_why;
    uint32_t tf = gfi_time_flags(d, layer); /* the rules across time (verdict_time.c) */
    uint32_t f = flags_of(why) | tf;
    int32_t v = verdict_of_flags(f);
    if (verdict)
        *verdict = v;
    if (flags)
        *flags = f ? f : 1u << GF_VERDICT_HEALTHY;
    if (text) {
        bool first = true;
        if (tf && !why) {
            gfi_sink_put(text, "%s: ", gf_verdict_name(v));
        } else {
            first = false;
            if (which == GFI_TEXT_REASON)
                put_reason(j, text, layer);
            else
                put_remedy(j, text, layer);
        }
        gfi_time_text(d, layer, which, flags_of(why), text, &first);
    }
    gfi_free(j);
    return GF_OK;
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

static int check_layer(const gf_diag *d, int32_t layer, const char *fn)
{
    int rc = gfi_diag_check(d, fn);
    if (rc)
        return rc;
    if (layer < -1 || layer >= d->nlayers)
        return gfi_fail(GF_ERR_RANGE, "%s: layer %d is outside -1..%d", fn, (int)layer, (int)d->nlayers - 1);
    return GF_OK;
}

int gf_diag_verdict(const gf_diag *d, int32_t layer, int32_t *verdict)
{
    int rc = check_layer(d, layer, "gf_diag_verdict");
    if (rc)
        return rc;
    if (!verdict)
        return gfi_fail(GF_ERR_NULL, "gf_diag_verdict: verdict is NULL");
    if (d->count == 0) {
        *verdict = GF_VERDICT_UNKNOWN;
        return GF_OK;
    }
    rc = gfi_verdict_of(d, layer, verdict, NULL, 0, NULL);
    return rc ? gfi_fail(rc, "gf_diag_verdict: out of memory") : GF_OK;
}

int gf_diag_verdict_flags(const gf_diag *d, int32_t layer, uint32_t *flags)
{
    int rc = check_layer(d, layer, "gf_diag_verdict_flags");
    if (rc)
        return rc;
    if (!flags)
        return gfi_fail(GF_ERR_NULL, "gf_diag_verdict_flags: flags is NULL");
    if (d->count == 0) {
        *flags = 1u << GF_VERDICT_UNKNOWN;
        return GF_OK;
    }
    rc = gfi_verdict_of(d, layer, NULL, flags, 0, NULL);
    return rc ? gfi_fail(rc, "gf_diag_verdict_flags: out of memory") : GF_OK;
}

static int verdict_text(const gf_diag *d, int32_t layer, char *buf, size_t cap, size_t *needed, int which,
                        const char *fn)
{
    int rc = check_layer(d, layer, fn);
    if (rc)
        return rc;
    if (!buf && cap)
        return gfi_fail(GF_ERR_NULL, "%s: buf is NULL but cap is %zu", fn, cap);
    gfi_sink s = {buf, cap, 0};
    if (d->count == 0)
        gfi_sink_put(&s, which == GFI_TEXT_REASON ? "unknown: nothing observed yet"
                                                  : "run gf_diag_probe or train a step with the diag enabled");
    else if ((rc = gfi_verdict_of(d, layer, NULL, NULL, which, &s)))
        return gfi_fail(rc, "%s: out of memory", fn);
    return gfi_sink_finish(&s, needed, fn);
}

int gf_diag_verdict_reason(const gf_diag *d, int32_t layer, char *buf, size_t cap, size_t *needed)
{
    return verdict_text(d, layer, buf, cap, needed, GFI_TEXT_REASON, "gf_diag_verdict_reason");
}

int gf_diag_verdict_remedy(const gf_diag *d, int32_t layer, char *buf, size_t cap, size_t *needed)
{
    return verdict_text(d, layer, buf, cap, needed, GFI_TEXT_REMEDY, "gf_diag_verdict_remedy");
}
