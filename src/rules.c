/*
 * rules.c — the verdict rules, one table row each: the condition, the verdict it gives, the warning sign it
 * names, the function that finds it from the signals (judge.c) and the one that quotes its numbers.  Why each
 * threshold has its value, and how it scales with depth, width, batch and loss scale: docs/verdicts.md.
 */
#include "judge.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Helpers                                                             */
/* ------------------------------------------------------------------ */

/* Whether the depth rules and the gradient floors are suspended: a classifier under SOLVED_SHARE of its chance
 * loss has solved its batches, and what gradient is left comes from a few samples (docs/verdicts.md, "Solved"). */
static bool solved(const gfi_judge *j) { return j->chance > 0; }

static double rms_of_norm(const gfi_judge *j, int32_t layer, double norm)
{
    double n = gfi_j_weights(j, layer);
    return n > 0 ? norm / sqrt(n) : NAN;
}

/* Fan-in of a layer (its input width). */
static double fan_in(const gfi_judge *j, int32_t layer)
{
    return j->net && layer >= 0 && layer < j->net->nlayers ? (double)j->net->layers[layer]->in : NAN;
}

/* Marks the layers whose delta stands beyond half the threshold (in log) from the top layer's, on the side of
 * the condition; at least the layer with the worst own gain. */
static void mark_depth(gfi_judge *j, int c, bool grow, double th)
{
    const depth_gain *g = &j->depth;
    double top = gfi_j_seen(j, g->top, GF_STAT_DELTA_PRE_NORM), half = 0.5 * fabs(log(th));
    bool any = false;
    for (int32_t i = g->lo; i < g->top; i++) {
        double r = gfi_j_seen(j, i, GF_STAT_DELTA_PRE_NORM) / top;
        double lr = r > 0 ? log(r) : -INFINITY;
        if ((grow && lr > half) || (!grow && lr < -half)) {
            gfi_j_mark(j, i, c);
            any = true;
        }
    }
    if (!any)
        gfi_j_mark(j, g->worst_at, c);
}

/* ------------------------------------------------------------------ */
/* Exploding                                                           */
/* ------------------------------------------------------------------ */

static void detect_nonfinite(gfi_judge *j)
{
    for (int32_t i = 0; i < j->L; i++) {
        double nf = gfi_j_now(j, i, GF_STAT_NONFINITE);
        if (nf > 0 || isnan(nf))
            gfi_j_mark(j, i, C_NONFINITE);
    }
}

static bool weights_nonfinite(const gfi_judge *j, int32_t i)
{
    const int64_t *w = gfi_nf_at(j->d->nonfinite, i, GF_TENSOR_WEIGHT), *b = gfi_nf_at(j->d->nonfinite, i, GF_TENSOR_BIAS);
    return w[0] + w[1] + w[2] + b[0] + b[1] + b[2] > 0;
}

static void reason_nonfinite(const gfi_judge *j, gfi_sink *s, int32_t i)
{
    if (j->d->nonfinite && weights_nonfinite(j, i))
        gfi_sink_put(s, "NaN weights: ");
    gfi_sink_put(s, "%.0f NaN/Inf values", gfi_j_now(j, i, GF_STAT_NONFINITE));
    bool any = false;
    for (int32_t t = 0; j->d->nonfinite && t < GFI_NTENSOR; t++) {
        const int64_t *c3 = gfi_nf_at(j->d->nonfinite, i, t);
        if (c3[0] + c3[1] + c3[2] == 0)
            continue;
        gfi_sink_put(s, "%s%s: %lld NaN, %lld +Inf, %lld -Inf", any ? ", " : " (", gf_tensor_name(t), (long long)c3[0],
                     (long long)c3[1], (long long)c3[2]);
        any = true;
    }
    if (any)
        gfi_sink_put(s, ")");
}

static void detect_origin(gfi_judge *j)
{
    if (j->d->origin_found)
        j->net_why |= 1u << C_ORIGIN;
}

/* The largest update ratio of the judged (last finite) record, and its layer. */
static double last_update(const gfi_judge *j, int32_t *layer)
{
    double m = -1;
    for (int32_t i = 0; i < j->L; i++) {
        double u = gfi_j_seen(j, i, GF_STAT_UPDATE_RATIO);
        if (isfinite(u) && u > m) {
            m = u;
            *layer = i;
        }
    }
    return m;
}

/* What produced the first NaN/Inf, read from the origin and the last finite record before it. */
static void put_nan_cause(const gfi_judge *j, gfi_sink *s)
{
    const gf_diag *d = j->d;
    int32_t at = 0;
    double ur = last_update(j, &at);
    if (d->origin_phase == GF_PHASE_UPDATE || d->origin_tensor == GF_TENSOR_WEIGHT ||
        d->origin_tensor == GF_TENSOR_OPTIMIZER_STATE)
        gfi_sink_put(s, "the update itself overflowed: the learning rate %g is too large for this net", j->lr);
    else if (j->at > 0 && ur > 0.1)
        gfi_sink_put(s, "the steps before it were too large: the last finite step moved layer %d by %.2g of its "
                        "weights (healthy ~1e-3), so the learning rate %g is too large",
                     (int)at, ur, j->lr);
    else if (j->depth.ok && j->depth.gain > j->th[GF_TH_EXPLODE_FACTOR])
        gfi_sink_put(s, "the weights multiply the signal at every layer: delta grew x%.3g end to end at the last "
                        "finite record",
                     j->depth.gain);
    else if (j->at > 0 && ur > 0.01)
        gfi_sink_put(s, "the steps before it moved layer %d by %.2g of its weights per step (healthy ~1e-3): the "
                        "learning rate %g is too large",
                     (int)at, ur, j->lr);
    else if (d->origin_phase == GF_PHASE_FORWARD)
        gfi_sink_put(s, "the forward pass overflowed float");
    else if (d->origin_phase == GF_PHASE_LOSS)
        gfi_sink_put(s, "the outputs grew until the loss overflowed");
    else
        gfi_sink_put(s, "the backward pass overflowed float");
}

static void reason_origin(const gfi_judge *j, gfi_sink *s, int32_t i)
{
    const gf_diag *d = j->d;
    (void)i;
    gfi_sink_put(s, "the first NaN/Inf appeared at step %lld in layer %d, %s phase, tensor %s; cause: ",
                 (long long)d->origin_step, (int)d->origin_layer, gf_phase_name(d->origin_phase),
                 gf_tensor_name(d->origin_tensor));
    put_nan_cause(j, s);
    if (j->at > 0)
        gfi_sink_put(s, " (judged from the last finite record, step %lld)", (long long)gfi_diag_step_at(d, j->at));
}

static void detect_depth_grow(gfi_judge *j)
{
    double th = j->th[GF_TH_EXPLODE_FACTOR];
    if (!solved(j) && gfi_depth_above(&j->depth))
        mark_depth(j, C_DEPTH_GROW, true, th);
}

static void detect_depth_shrink(gfi_judge *j)
{
    double th = j->th[GF_TH_VANISH_FACTOR];
    if (!solved(j) && gfi_depth_below(&j->depth))
        mark_depth(j, C_DEPTH_SHRINK, false, th);
}

static void reason_depth(const gfi_judge *j, gfi_sink *s, int32_t i)
{
    const depth_gain *g = &j->depth;
    bool grow = g->gain > 1;
    int32_t k = g->top - g->lo;
    if (i >= 0)
        gfi_sink_put(s, "delta here is x%.3g the last hidden layer's; ",
                     gfi_j_seen(j, i, GF_STAT_DELTA_PRE_NORM) / gfi_j_seen(j, g->top, GF_STAT_DELTA_PRE_NORM));
    gfi_sink_put(s, "delta %s x%.3g end to end from layer %d down to layer %d (mean square gain per layer %.3g +- "
                    "%.2g over %d layers, so at %s x%.3g; threshold x%g end to end; this batch: x%.3g)",
                 grow ? "grows" : "shrinks", g->gain, (int)g->top, (int)g->lo, g->chi, g->chi_se, (int)k,
                 grow ? "least" : "most", grow ? g->low : g->high, grow ? j->th[GF_TH_EXPLODE_FACTOR] : j->th[GF_TH_VANISH_FACTOR],
                 g->realized);
    if ((grow && g->align > 1) || (!grow && g->align < 1))
        gfi_sink_put(s, "; the weights' alignment with their inputs accounts for x%.3g of it, x%.3g is left (at %s x%.3g)",
                     g->align, grow ? g->up_gain : g->down_gain, grow ? "least" : "most", grow ? g->up_low : g->down_high);
    if (isfinite(j->act_gain))
        gfi_sink_put(s, "; activation rms x%.3g from layer 0 to layer %d", j->act_gain, (int)j->L - 2);
}

static void detect_weight_growth(gfi_judge *j)
{
    if (j->n < 2)
        return;
    /* Hidden layers: the output layer's scale is set by the targets. */
    for (int32_t i = 0; i + 1 < j->L; i++) {
        double w0 = gfi_j_early_weight_rms(j, i), w = rms_of_norm(j, i, gfi_j_seen(j, i, GF_STAT_WEIGHT_NORM));
        /* Large in absolute terms too: the layer now multiplies a signal's scale by more than 3 (He: 1.4). */
        if (w0 > 0 && isfinite(w) && w / w0 >= j->th[GF_TH_WEIGHT_GROWTH] && w * sqrt(fan_in(j, i)) > 3)
            gfi_j_mark(j, i, C_WEIGHT_GROWTH);
    }
}

static void reason_weight_growth(const gfi_judge *j, gfi_sink *s, int32_t i)
{
    double w0 = gfi_j_early_weight_rms(j, i), w = rms_of_norm(j, i, gfi_j_seen(j, i, GF_STAT_WEIGHT_NORM));
    gfi_sink_put(s, "weights growing exponentially: weight rms grew x%.3g since training began (%.2g -> %.2g; threshold x%g), so the layer scales a "
                    "signal by ~%.2g",
                 w / w0, w0, w, j->th[GF_TH_WEIGHT_GROWTH], w * sqrt(fan_in(j, i)));
}

/* Avalanches are measured against the largest of up to this many records before: with small batches one step's
 * loss or gradient can be orders of magnitude above the last one's for a harder sample. */
#define AVALANCHE_BASE 32
/* Records after a jump that must still be above it: one or two hard samples are not an avalanche. */
#define AVALANCHE_KEEP 2
/* An avalanche ends an order of magnitude above where training started: a hard sample after the net has fit the
 * rest (batch 1) reaches the starting loss, a divergence passes it by far. */
#define AVALANCHE_OVER_START 10.0

/* Fewest records before a jump that give its base: one or two batch-1 samples are no scale. */
#define AVALANCHE_MIN_BASE 4

/* The largest finite value over the up to AVALANCHE_BASE records before record a; 0 with too few of them. */
static double largest_before(const gfi_judge *j, int32_t a, int32_t layer, int32_t stat)
{
    double m = 0;
    int32_t k = 0;
    for (int32_t b = a + 1; b < j->n && b <= a + AVALANCHE_BASE; b++) {
        double v = gfi_j_stat(j, b, layer, stat);
        if (isfinite(v) && v > m)
            m = v;
        k += isfinite(v);
    }
    return k >= AVALANCHE_MIN_BASE ? m : 0;
}

/* Whether stat jumped at record a to a finite value more than factor x the largest of the records before it and at
 * least floor, and so are the AVALANCHE_KEEP records after it (as far as there are any, NaN/Inf ones aside). */
static bool jumped(const gfi_judge *j, int32_t a, int32_t layer, int32_t stat, double floor, double *ratio)
{
    double now = gfi_j_stat(j, a, layer, stat);
    if (!isfinite(now))
        return false; /* a NaN/Inf is the NaN rule's to name, with its cause */
    /* Callers scan every record: the floor, which most fail, before the base, which reads up to
     * AVALANCHE_BASE records (the loop below would fail at b = a). */
    if (!(now >= floor))
        return false;
    double before = largest_before(j, a, layer, stat), factor = j->th[GF_TH_AVALANCHE];
    if (!(before > 0))
        return false;
    for (int32_t b = a; b >= 0 && b >= a - AVALANCHE_KEEP; b--) {
        double v = gfi_j_stat(j, b, layer, stat);
        if (isfinite(v) && !(v / before > factor && v >= floor))
            return false;
    }
    *ratio = now / before;
    return true;
}

int32_t gfi_grad_jump_at(const gfi_judge *j, int32_t i, double *ratio)
{
    /* Large in absolute terms: above the gradient at the start of training (a vanished gradient rising from 1e-7
     * to 1e-5 is no avalanche) and above the floor. */
    double early = gfi_j_early_grad(j, i);
    double floor = fmax(j->th[GF_TH_GRAD_FLOOR] * sqrt(gfi_j_weights(j, i)),
                        isfinite(early) ? AVALANCHE_OVER_START * early : 0);
    for (int32_t a = 0; a + 1 < j->n; a++)
        if (jumped(j, a, i, GF_STAT_WGRAD_NORM, floor, ratio))
            return a;
    return -1;
}

static void detect_grad_avalanche(gfi_judge *j)
{
    double r;
    for (int32_t i = 0; i < j->L; i++)
        if (gfi_grad_jump_at(j, i, &r) >= 0)
            gfi_j_mark(j, i, C_GRAD_AVALANCHE);
}

static void reason_grad_avalanche(const gfi_judge *j, gfi_sink *s, int32_t i)
{
    double r = 0;
    int32_t a = gfi_grad_jump_at(j, i, &r);
    if (a < 0)
        return;
    gfi_sink_put(s, "the weight-gradient norm jumped x%.3g to %.2g at step %lld (threshold x%g, and 10x its %.2g at "
                    "the start of training)",
                 r, fabs(gfi_j_stat(j, a, i, GF_STAT_WGRAD_NORM)), (long long)gfi_diag_step_at(j->d, a),
                 j->th[GF_TH_AVALANCHE], gfi_j_early_grad(j, i));
}

static void detect_loss_avalanche(gfi_judge *j)
{
    double early = gfi_j_early_loss(j);
    for (int32_t a = 0; a + 1 < j->n; a++)
        if (jumped(j, a, 0, GF_STAT_LOSS, isfinite(early) ? AVALANCHE_OVER_START * early : 0, &j->loss_jump)) {
            j->loss_jump_step = gfi_diag_step_at(j->d, a);
            j->net_why |= 1u << C_LOSS_AVALANCHE;
            return;
        }
}

static void reason_loss_avalanche(const gfi_judge *j, gfi_sink *s, int32_t i)
{
    (void)i;
    gfi_sink_put(s, "the loss jumped x%.3g at step %lld, past 10x its %.3g at the start of training (threshold x%g)",
                 j->loss_jump, (long long)j->loss_jump_step, gfi_j_early_loss(j), j->th[GF_TH_AVALANCHE]);
}

/* The share of the starting loss a risen loss must be back at. */
#define LOSS_RISE_OF_START 0.5

/* Records the loss halves are taken from, at most (the default history holds 64). */
#define LOSS_WINDOW 256

/* Median loss of the newer and the older half of the window (medians: one spike is the avalanche rule's), and how far
 * the newer half's losses sit above the older half's by the rank-sum test (Mann and Whitney 1947): z = (U - h^2/2) /
 * sqrt(h^2 (2h + 1) / 12), U counting the pairs (newer, older) in which the newer loss is the larger (ties half).  A
 * test of the means against their standard error took batch losses for normal: the losses of batches of a few
 * samples are skewed (cross-entropy of one sample: mostly near 0, a few near 3), the sample variance of such a half
 * is most often below the true one, and a softmax classifier trained one sample at a time, its loss falling all
 * along, read "the loss rose" for 20 steps in every few hundred.  Ranks do not depend on the losses' distribution:
 * with no change in training, z > 4 has odds 3e-5.  Over the records ago[0..n), newest first. */
static bool loss_halves_of(const gfi_judge *j, const int32_t *ago, int32_t n, double *older, double *newer, double *z)
{
    int32_t h = n / 2;
    double o[LOSS_WINDOW / 2], w[LOSS_WINDOW / 2];
    if (n < 16)
        return false;
    for (int32_t a = 0; a < h; a++) {
        w[a] = gfi_j_stat(j, ago[a], 0, GF_STAT_LOSS);
        o[a] = gfi_j_stat(j, ago[n - 1 - a], 0, GF_STAT_LOSS);
    }
    qsort(w, (size_t)h, sizeof *w, gfi_cmp_double);
    qsort(o, (size_t)h, sizeof *o, gfi_cmp_double);
    *older = o[h / 2];
    *newer = w[h / 2];
    /* Both halves sorted: one merge counts, for each newer loss, the older ones below it and equal to it. */
    double u = 0;
    for (int32_t a = 0, below = 0, upto = 0; a < h; a++) {
        while (below < h && o[below] < w[a])
            below++;
        if (upto < below)
            upto = below;
        while (upto < h && o[upto] <= w[a])
            upto++;
        u += below + 0.5 * (upto - below);
    }
    double hh = (double)h * h;
    *z = (u - hh / 2) / sqrt(hh * (2.0 * h + 1) / 12);
    return isfinite(*older) && isfinite(*newer) && *older > 0;
}

/* Over the window of the training records from start back (at most LOSS_WINDOW, stopping at a probe). */
static bool loss_halves(const gfi_judge *j, int32_t start, double *older, double *newer, double *z)
{
    int32_t n = j->n - start < LOSS_WINDOW ? j->n - start : LOSS_WINDOW, ago[LOSS_WINDOW];
    for (int32_t a = 0; a < n; a++)
        ago[a] = start + a;
    return loss_halves_of(j, ago, n, older, newer, z);
}

/* A rise must stand out of the step-to-step spread (rank-sum z above 4) and take the loss back to the scale of the
 * start: steps too large keep it there; a solved classifier bouncing between 0.02 and 0.03 is fine.  It is entered
 * only over at least LOSS_RISE_ENTER records (medians of 16 a side): in the first epoch the two halves are different
 * batches, and medians of 8 batches of a noisy regression (the adding problem: a 28 % "rise" at step 15 of a
 * sound run) differ by chance.  Once found, it holds while the rise stays above half of it and z above 2. */
#define LOSS_RISE_ENTER 32
#define LOSS_RISE_Z 4.0
static bool loss_rising(const gfi_judge *j, int32_t start, bool entering, void *arg)
{
    double older, newer, z, early = *(const double *)arg, rise = j->th[GF_TH_LOSS_RISE];
    if (!loss_halves(j, start, &older, &newer, &z) || !isfinite(early))
        return false;
    if (entering)
        return j->n - start >= LOSS_RISE_ENTER && newer > older * (1 + rise) && z > LOSS_RISE_Z &&
               newer >= LOSS_RISE_OF_START * early;
    return newer > older * (1 + rise / 2) && z > LOSS_RISE_Z / 2 && newer >= 0.75 * LOSS_RISE_OF_START * early;
}

static void detect_loss_rise(gfi_judge *j)
{
    double older, newer, z, early = gfi_j_early_loss(j);
    if (!loss_halves(j, 0, &older, &newer, &z))
        return;
    j->change = (older - newer) / older;
    j->change_older = older;
    j->change_n = j->n < LOSS_WINDOW ? j->n : LOSS_WINDOW;
    if (-j->change > j->th[GF_TH_LOSS_RISE] / 2 && gfi_j_latched(j, loss_rising, &early, GFI_HYSTERESIS))
        j->net_why |= 1u << C_LOSS_RISE;
}

static void reason_loss_rise(const gfi_judge *j, gfi_sink *s, int32_t i)
{
    (void)i;
    gfi_sink_put(s, "the loss rose: its median over the last %d steps is %.2g%% above the %d steps before, and %.2g%% "
                    "of the loss training started at (threshold %g%%)",
                 (int)(j->change_n / 2), -100 * j->change, (int)(j->change_n / 2),
                 100 * (1 - j->change) * j->change_older / gfi_j_early_loss(j), 100 * j->th[GF_TH_LOSS_RISE]);
}

/* ------------------------------------------------------------------ */
/* Dead and saturated                                                  */
/* ------------------------------------------------------------------ */

/* Too few hidden-to-hidden steps to see the gradient lost across depth: a layer is then dead by its fraction
 * alone, at three quarters of its units.  The depth correlation that leaves half the units of a deep narrow net
 * off for a whole batch (Poole et al. 2016) has no room to build up in so few layers (the demo's healthy
 * 12-layer net peaks at 34 %). */
#define DEAD_MIN_STEPS 3
#define DEAD_ALONE 0.75

static void detect_dead(gfi_judge *j)
{
    /* Dead units matter when the gradient no longer gets through, and they are its cause: the net's delta
     * vanishes end to end and the activations lose more of it than the weights (judge.c, attribute).  Deep narrow
     * He nets keep half their units dead for a whole batch and train; a ReLU layer with no live unit passes
     * exactly 0. */
    const depth_gain *g = &j->depth;
    bool lost = gfi_depth_below(g) && g->unit_part < g->weight_part;
    bool shallow = !g->ok || g->top - g->lo < DEAD_MIN_STEPS;
    for (int32_t i = 0; i < j->L; i++) {
        if (!gfi_act_has_negative_side(gfi_j_act(j, i)))
            continue;
        double dead = gfi_j_window(j, i, GF_STAT_DEAD_FRAC);
        if (isfinite(dead) && dead >= j->th[GF_TH_DEAD_FRAC] && (lost || (shallow && dead >= DEAD_ALONE)))
            gfi_j_mark(j, i, C_DEAD);
    }
}

static void reason_dead(const gfi_judge *j, gfi_sink *s, int32_t i)
{
    int32_t kind = gfi_j_act(j, i);
    gfi_sink_put(s, "%.0f%% of the %s units are on the %s side for every sample (threshold %.0f%%)",
                 100 * gfi_j_window(j, i, GF_STAT_DEAD_FRAC), gf_activation_name(kind),
                 kind == GF_ACT_RELU ? "zero" : "negative", 100 * j->th[GF_TH_DEAD_FRAC]);
    if (j->depth.ok)
        gfi_sink_put(s, ", and delta falls x%.3g end to end", j->depth.gain);
    gfi_conv_put_channels(j->d, i, GF_SERIES_DEAD_CHANNELS, s);
}

/* Entered at SATURATED_FRAC, kept at half of it. */
static bool saturated(const gfi_judge *j, int32_t start, bool entering, void *arg)
{
    double th = j->th[GF_TH_SATURATED_FRAC];
    return gfi_j_saturation_from(j, start, *(const int32_t *)arg) >= (entering ? th : th / 2);
}

static void detect_saturated(gfi_judge *j)
{
    /* Beside a vanishing delta, saturation is named only where it is the cause: the units lose more of delta
     * than the weights do (a deep sigmoid net loses x1/4 per layer at its best, saturated or not).  A solved
     * classifier has pushed its units to confident values: what saturation is left no longer slows training. */
    const depth_gain *g = &j->depth;
    bool other_cause = gfi_depth_below(g) && g->unit_part >= g->weight_part;
    for (int32_t i = 0; i < j->L && !other_cause && !solved(j); i++)
        if (gfi_act_is_saturating(gfi_j_act(j, i)) && gfi_j_saturation(j, i) >= j->th[GF_TH_SATURATED_FRAC] / 2 &&
            gfi_j_latched_for(j, saturated, &i, GFI_HYSTERESIS, GFI_PERSIST))
            gfi_j_mark(j, i, C_SATURATED);
}

/* What bounds the share at the wrong asymptote, as the reason names it: the loss, or under MAE the mean square
 * residual the loss and the outputs' spread bound (judge.c, fit_loss_at). */
static const char *fit_bound_name(const gfi_judge *j)
{
    return isnan(j->fit_room) ? "its loss" : "its squared residual (its loss less its outputs' spread)";
}

/* A regression's saturating output with targets at its asymptotes, saturated beyond what it is judged at: the
 * loss bounds the share at the wrong asymptote (judge.c, measure_fit). */
static void put_fit(const gfi_judge *j, gfi_sink *s, const char *lead)
{
    int32_t top = j->L - 1;
    if (!(j->fit_majority > 0) || j->at < 0 || gfi_has(gfi_j_why_at(j, top), C_SATURATED))
        return;
    double wrong = gfi_j_wrong_share(j, j->at), stuck = gfi_j_seen(j, top, GF_STAT_SATURATED_FRAC);
    double tail = gfi_j_tail_share(j, top, j->at), raw = isfinite(stuck) && stuck > tail ? stuck : tail;
    if (raw < j->th[GF_TH_SATURATED_FRAC] / 2 || raw <= wrong)
        return;
    gfi_sink_put(s, "%sthe output layer's %s has %.0f%% of its outputs in the flat tails, toward targets at its "
                    "asymptotes: %s, %.3g%% of that of predicting the majority value (%.2g), leaves at most that "
                    "share at the wrong asymptote",
                 lead, gf_activation_name(gfi_j_act(j, top)), 100 * raw, fit_bound_name(j), 100 * wrong,
                 j->fit_majority);
}

static void reason_saturated(const gfi_judge *j, gfi_sink *s, int32_t i)
{
    gfi_sink_put(s, "%s saturated: %.0f%% of units stuck for every sample, %.0f%% of pre-activations in the flat "
                    "tails (pre-activation std %.2g, mean %.2g; derivative < 1%% of its maximum; threshold %.0f%%)",
                 gf_activation_name(gfi_j_act(j, i)), 100 * gfi_j_seen(j, i, GF_STAT_SATURATED_FRAC),
                 100 * gfi_j_tail_share(j, i, j->at), gfi_j_seen(j, i, GF_STAT_PRE_STD), gfi_j_seen(j, i, GF_STAT_PRE_MEAN),
                 100 * j->th[GF_TH_SATURATED_FRAC]);
    if (i == j->L - 1 && j->fit_majority > 0)
        gfi_sink_put(s, "; its targets are at its asymptotes, and %s, %.3g%% of that of predicting the majority "
                        "value (%.2g), leaves up to that share of its outputs at the wrong one",
                     fit_bound_name(j), 100 * gfi_j_wrong_share(j, j->at), j->fit_majority);
    gfi_conv_put_channels(j->d, i, GF_SERIES_SATURATED_CHANNELS, s);
}

/* ------------------------------------------------------------------ */
/* Vanishing                                                           */
/* ------------------------------------------------------------------ */

/* What the average pooling layers inside the conv stack take off ||delta|| by construction, undone: a window of n
 * values hands each of them 1/n of its output's delta, so ||delta_in|| = ||delta_out|| / sqrt(n) (2 x 2: a half),
 * and the layers below see n times the positions, so their weight gradients (summed over positions) lose nothing.
 * Read as a loss of gradient, a ReLU/He stack with three 2 x 2 average pools was "vanishing" (x0.04) and its
 * checked remedy, weights x2.6, trained worse; max pooling routes delta unchanged in norm and needs nothing. */
static double avg_pool_norm_loss(const gfi_judge *j)
{
    double f = 1.0;
    for (int32_t i = j->conv.lo + 1; i < j->conv.hi; i++) {
        const gf_layer *l = j->net ? j->net->layers[i] : NULL;
        if (!l || (l->kind != GF_LAYER_AVGPOOL1D && l->kind != GF_LAYER_AVGPOOL2D))
            continue;
        double n = l->opt[GF_LAYER_KERNEL_W] * (l->kind == GF_LAYER_AVGPOOL2D ? l->opt[GF_LAYER_KERNEL_H] : 1.0);
        if (n >= 1)
            f *= sqrt(n);
    }
    return f;
}

/* The conv stack's end-to-end gain: ||d loss / d z|| at the first conv layer over ||d loss / d y|| at the last one,
 * each the median over the window, so one batch never moves it.  Read apart from the depth rule because pooling and
 * flatten layers between the conv layers change sizes, which moves an rms by itself; a norm is what a stride-1 conv
 * keeps: ||W^T dz||^2 = sigma_w^2 ||dz||^2 whatever the channel counts (each input position receives from C_out k^2
 * outputs of weight variance sigma_w^2 / (C_in k^2)), and max pooling routes the gradient unchanged in norm.  So the
 * gain is the product of what each activation passes (ReLU ~0.7, sigmoid <= 0.25) and what each layer's weights
 * pass (sigma_w: sqrt 2 for He), the same physics as the depth rule (He et al. 2015): a healthy ReLU/He stack keeps
 * ~0.7 (the top activation's share), a sigmoid stack loses x0.25 per layer.  NaN without a conv layer. */
static double conv_end_gain(const gfi_judge *j)
{
    const gfi_conv_gain *g = &j->conv;
    if (g->layers < 1)
        return NAN;
    double bottom = gfi_j_window(j, g->lo, GF_STAT_DELTA_PRE_NORM), top = gfi_j_window(j, g->hi + 1, GF_STAT_DELTA_IN_NORM);
    return isfinite(bottom) && isfinite(top) && top > 0 ? bottom / top * avg_pool_norm_loss(j) : NAN;
}

/* What the conv layers' alignment with their inputs explains of the stack's gain (docs/verdicts.md, "Learned
 * alignment"; the depth rule divides it out over dense layers): for weights independent of their input x, E[z^2] =
 * sigma_w^2 E[x^2] over the positions whose taps are inside the map (fewer at the edges: padding only lowers it), with
 * sigma_w^2 = rms(W)^2 fan_in = ||W||^2 / C_out (fan_in = C_in kh kw), so the product over the conv layers above the
 * first of rms(z) / (sigma_w rms(x)) is about 1 at init and above 1 where training has turned the filters toward
 * the patterns their inputs take; a layer that so amplifies its input passes delta back amplified through the same
 * W^T, and the forward pass shares the growth.  Window medians of each statistic, as conv_end_gain; 1 without two
 * conv layers. */
static double conv_align(const gfi_judge *j)
{
    double la = 0;
    for (int32_t i = j->conv.lo + 1; j->net && i <= j->conv.hi && i < j->net->nlayers; i++) {
        const gf_layer *l = j->net->layers[i];
        if ((l->kind != GF_LAYER_CONV1D && l->kind != GF_LAYER_CONV2D) || l->nweights == 0 || l->out_shape.dim[0] < 1)
            continue;
        double zm = gfi_j_window(j, i, GF_STAT_PRE_MEAN), zs = gfi_j_window(j, i, GF_STAT_PRE_STD);
        double xm = gfi_j_window(j, i - 1, GF_STAT_ACT_MEAN), xv = gfi_j_window(j, i - 1, GF_STAT_ACT_VAR);
        double w = gfi_j_window(j, i, GF_STAT_WEIGHT_NORM);
        double z2 = zm * zm + zs * zs, x2 = xm * xm + xv, s2 = w * w / (double)l->out_shape.dim[0];
        if (isfinite(z2) && isfinite(x2) && isfinite(s2) && z2 > 0 && x2 > 0 && s2 > 0)
            la += 0.5 * log(z2 / (s2 * x2));
    }
    return exp(la);
}

static void mark_conv_layers(gfi_judge *j, int c)
{
    for (int32_t i = j->conv.lo; i <= j->conv.hi; i++)
        if (isfinite(gfi_conv_act_gain(j->d, i)))
            gfi_j_mark(j, i, c);
}

/* Vanishing: the stack loses more than the decade the depth rule allows (GF_TH_VANISH_FACTOR). */
static void detect_conv_gain(gfi_judge *j)
{
    gfi_conv_gain_scan(j->d, &j->conv);
    j->conv_gain = conv_end_gain(j);
    if (!solved(j) && j->conv_gain < j->th[GF_TH_VANISH_FACTOR])
        mark_conv_layers(j, C_CONV_GAIN);
}

/* Exploding: it gains more than GF_TH_EXPLODE_FACTOR once what the filters' alignment with their inputs explains is
 * divided out (as the depth rule does; only on this side, so that a too-large init, whose growth is the weights'
 * scale, still reads exploding), and not in a solved classifier, as neither the depth rule nor the vanishing side
 * is: what gradient is left comes from a few samples, and how it spreads over the layers says nothing about training.
 * A 1-D ReLU/He stack of five convs, each followed by a 2-wide average pool, fit the signals under Adam (loss 1.4 ->
 * 0.02) with its weights at He's scale (sigma_w 1.46 - 1.5) while the gradient through its convs grew x13 - 19 as
 * the filters aligned (A x2.1 - 2.9), and read exploding from step ~165 to the end in 3 seeds of 3 (run after
 * detect_conv_gain in the table). */
static void detect_conv_grow(gfi_judge *j)
{
    gfi_conv_gain_scan(j->d, &j->conv);
    j->conv_gain = conv_end_gain(j);
    j->conv_align = conv_align(j);
    if (!solved(j) && j->conv_gain / fmax(j->conv_align, 1.0) > j->th[GF_TH_EXPLODE_FACTOR])
        mark_conv_layers(j, C_CONV_GROW);
}

static void reason_conv_gain(const gfi_judge *j, gfi_sink *s, int32_t i)
{
    if (i >= 0)
        gfi_sink_put(s, "its %s passes x%.2g of the gradient (||delta pre|| / ||delta out||); ",
                     gf_activation_name(gfi_j_act(j, i)), gfi_conv_act_gain(j->d, i));
    bool grow = j->conv_gain > 1;
    gfi_sink_put(s, "the gradient %s x%.3g through the conv layers %d-%d (||delta pre|| of the first over ||delta out|| "
                    "of the last, threshold x%g), their activations passing x%.2g per layer",
                 grow ? "grows" : "shrinks", j->conv_gain, (int)j->conv.lo, (int)j->conv.hi,
                 j->th[grow ? GF_TH_EXPLODE_FACTOR : GF_TH_VANISH_FACTOR], j->conv.mean);
    if (grow && j->conv_align > 1)
        gfi_sink_put(s, "; the filters' alignment with their inputs accounts for x%.3g of it, x%.3g is left",
                     j->conv_align, j->conv_gain / j->conv_align);
}

/* Hidden layers whose fan-in is within 2x of the top hidden layer's: their update ratios compare like with like
 * (the input layer of 16 features and a 64 -> 1 output layer do not). */
static int32_t like_layers(const gfi_judge *j, int32_t *idx)
{
    int32_t m = 0;
    double ref = fan_in(j, j->L - 2);
    for (int32_t i = 0; i + 1 < j->L; i++) {
        double f = fan_in(j, i);
        /* A layer without weights (flatten, pooling) takes no update: it has no ratio to compare. */
        if (f >= ref / 2 && f <= ref * 2 && gfi_j_weights(j, i) > 0)
            idx[m++] = i;
    }
    return m;
}

/* The median over the upper half of the like layers of their update ratios (each a median over the window): what
 * a lower layer's ratio is compared with. */
static double upper_update_ratio(const gfi_judge *j)
{
    int32_t idx[GFI_MAX_WHY];
    int32_t m = j->L <= GFI_MAX_WHY ? like_layers(j, idx) : 0;
    double v[GFI_MAX_WHY];
    int32_t k = 0;
    for (int32_t r = m / 2; r < m; r++)
        v[k++] = gfi_j_window(j, idx[r], GF_STAT_UPDATE_RATIO);
    if (k == 0)
        return NAN;
    qsort(v, (size_t)k, sizeof *v, gfi_cmp_double);
    return v[k / 2];
}

/* Decades between top, the upper layers' update ratio, and layer i's. */
static double spread_below(const gfi_judge *j, int32_t i, double top)
{
    double ur = gfi_j_window(j, i, GF_STAT_UPDATE_RATIO);
    if (!(top > 0) || !(ur >= 0))
        return NAN;
    return ur > 0 ? log10(top / ur) : INFINITY; /* 0: no update survived float32 rounding */
}

static double update_spread(const gfi_judge *j, int32_t i) { return spread_below(j, i, upper_update_ratio(j)); }

static void detect_frozen(gfi_judge *j)
{
    int32_t idx[GFI_MAX_WHY];
    if (j->n < 2 || solved(j) || j->L > GFI_MAX_WHY || !j->depth.ok || j->depth.gain >= 1)
        return;
    int32_t m = like_layers(j, idx);
    double top = m >= 3 ? upper_update_ratio(j) : NAN; /* the same for every lower layer */
    for (int32_t r = 0; m >= 3 && r < m / 2; r++)
        if (spread_below(j, idx[r], top) > j->th[GF_TH_UPDATE_RATIO_SPREAD])
            gfi_j_mark(j, idx[r], C_FROZEN);
}

static void reason_frozen(const gfi_judge *j, gfi_sink *s, int32_t i)
{
    double spread = update_spread(j, i);
    if (isinf(spread))
        gfi_sink_put(s, "lower layers frozen: update ratio 0, no update survives float32 rounding, while the upper "
                        "hidden layers of like fan-in move");
    else
        gfi_sink_put(s, "lower layers frozen: update ratio %.2g is %.2g decades below that of the upper hidden layers "
                        "of like fan-in (threshold %g)",
                     gfi_j_window(j, i, GF_STAT_UPDATE_RATIO), spread, j->th[GF_TH_UPDATE_RATIO_SPREAD]);
}

static void detect_grad_floor(gfi_judge *j)
{
    double loss = gfi_j_seen(j, 0, GF_STAT_LOSS);
    /* A solved problem has small gradients: the floor applies only while the loss is not already below it. */
    if (solved(j) || !(isfinite(loss) && fabs(loss) >= j->th[GF_TH_GRAD_FLOOR]))
        return;
    for (int32_t i = 0; i < j->L; i++) {
        double g = rms_of_norm(j, i, gfi_j_window_ungated(j, i, GF_STAT_WGRAD_NORM));
        if (isfinite(g) && g < j->th[GF_TH_GRAD_FLOOR])
            gfi_j_mark(j, i, C_GRAD_FLOOR);
    }
}

static void reason_grad_floor(const gfi_judge *j, gfi_sink *s, int32_t i)
{
    gfi_sink_put(s, "weight-gradient rms %.2g is below the floor %g",
                 rms_of_norm(j, i, gfi_j_window_ungated(j, i, GF_STAT_WGRAD_NORM)), j->th[GF_TH_GRAD_FLOOR]);
}

static void detect_weight_collapse(gfi_judge *j)
{
    for (int32_t i = 0; i < j->L; i++) {
        double w = rms_of_norm(j, i, gfi_j_seen(j, i, GF_STAT_WEIGHT_NORM)), w0 = gfi_j_early_weight_rms(j, i);
        bool fell = j->n >= 2 && w0 > 0 && w < j->th[GF_TH_WEIGHT_SHRINK] * w0;
        if (isfinite(w) && (fell || w < j->th[GF_TH_WEIGHT_FLOOR]))
            gfi_j_mark(j, i, C_WEIGHT_COLLAPSE);
    }
}

static void reason_weight_collapse(const gfi_judge *j, gfi_sink *s, int32_t i)
{
    double w = rms_of_norm(j, i, gfi_j_seen(j, i, GF_STAT_WEIGHT_NORM)), w0 = gfi_j_early_weight_rms(j, i);
    gfi_sink_put(s, "weights going to zero: weight rms %.2g", w);
    if (j->n >= 2 && w0 > 0)
        gfi_sink_put(s, " is x%.2g of its %.2g when training began (threshold x%g)", w / w0, w0,
                     j->th[GF_TH_WEIGHT_SHRINK]);
    else
        gfi_sink_put(s, " is below the floor %g", j->th[GF_TH_WEIGHT_FLOOR]);
}

/* A gradient at least this fraction of the weights is far from a minimum: a net whose updates are tiny then is held
 * back by its step size, not converged (measured: 2-3 at learning rates of 1e-6, 0.0013 and below for nets that have
 * converged).  Stated for inputs of variance 1, the scale every init assumes (see input_scale). */
#define STAGNATION_MIN_GRAD 0.01

typedef struct {
    double ur, grad;  /* the whole net's update ratio ||dtheta|| / ||theta||, and its gradient ||g|| / ||theta|| */
    double scale;     /* the inputs' std where it is under 1 (else 1): the gradient condition is scaled by it */
    double moved;     /* the largest update ratio of any layer: 0 when no update was measured at all */
} steps;

/* The std s of the first layer's inputs at record ago where their variance is under GFI_INPUT_VAR_LOW (off by more
 * than x10 from the 1 every init assumes), else 1.  Every weight gradient is delta x^T, and a net that passes the
 * scale of its signal on (ReLU with He: positively homogeneous) gives outputs s times their designed scale: every
 * gradient is s times smaller, and a step must move the weights 1/s times further (relative) to reach targets of
 * unit scale.  So the gradient that marks "not converged" is s x STAGNATION_MIN_GRAD, and the progress of a step
 * is its update ratio x s: inputs of std 1e-3 put every hidden gradient at ~1e-3 of its weights and move the net
 * 1e-5 of its norm per step while it learns nothing.  Larger inputs only make the gradient larger (not read). */
static bool outputs_on_scale(const gfi_judge *j, int32_t ago);

static double input_scale(const gfi_judge *j, int32_t ago)
{
    double gain = gfi_j_stat(j, ago, 0, GF_STAT_ACT_GAIN), var = gfi_j_stat(j, ago, 0, GF_STAT_ACT_VAR) / gain;
    bool small = gain > 0 && isfinite(var) && var >= 0 && var < GFI_INPUT_VAR_LOW;
    return small && !outputs_on_scale(j, ago) ? sqrt(var) : 1.0;
}

/* The share of the loss of a constant prediction under which a net's outputs are on the targets' scale. */
#define OUTPUTS_ON_SCALE 0.25

/* The loss of predicting a constant, or a bound over it: a classifier's chance level (gfi_j_chance), a regression's
 * loss of a miss by its targets' std (v for MSE, sqrt v for MAE, v / 2 for Huber: each at least the loss of
 * predicting their mean); NaN when not known (no target seen yet). */
static double constant_loss(const gfi_judge *j)
{
    double chance = gfi_j_chance(j), v = gfi_diag_target_var(j->d);
    if (chance > 0)
        return chance;
    if (!j->net || !(v > 0))
        return NAN;
    switch (j->net->loss.kind) {
    case GF_LOSS_MSE: return v;
    case GF_LOSS_MAE: return sqrt(v);
    case GF_LOSS_HUBER: return 0.5 * v;
    default: return NAN;
    }
}

/* Whether the window's loss at record ago shows the net's outputs on the targets' scale, whatever its inputs' scale:
 * the premise of the input-scale correction above is outputs x s of the scale the init assumes, and a fit refutes it.
 * Under MSE, with y the outputs and t the targets, ||y - t|| >= | ||t - mean t|| - ||y - mean y|| | (the triangle
 * inequality on the centred parts; an offset of the means only adds), so a loss L <= v / 4 puts the outputs' std at
 * sigma_t - sqrt L >= sigma_t / 2 or more: within x2 of the targets'.  A cross-entropy at a quarter of the prior's
 * entropy needs logits that move with the input by O(1): logits within +-m keep every probability within e^(2m) of
 * what the biases alone give.  An adaptive optimizer grows the weights to make up for the inputs' scale (Adam at 1e-3
 * on inputs x0.01 fit the teacher to 4 % of its variance in 600 steps, steps of 5e-4 of the weights' norm) and
 * read "learning stagnates" from then on, 425 of 600 steps over each of 3 seeds. */
static bool outputs_on_scale(const gfi_judge *j, int32_t ago)
{
    double base = constant_loss(j), loss = gfi_j_window_from(j, ago, 0, GF_STAT_LOSS);
    return base > 0 && isfinite(loss) && loss >= 0 && loss <= OUTPUTS_ON_SCALE * base;
}

/* Window medians at record start, summed over the layers with weights into the whole net's ratios: ||dtheta||^2 =
 * sum of (UPDATE_RATIO_i ||W_i||)^2, ||g||^2 = sum of ||g_i||^2, ||theta||^2 = sum of ||W_i||^2.  The largest layer's
 * ratio is not the net's: a global norm clip hands its fixed step lr x clip to the layer with the largest gradient (a
 * narrow output layer moving 1.4e-5 of its weights while the hidden layers move 1e-7, nothing learned), and a single
 * 64-weight layer says nothing of the 4096 in each hidden layer.  False when some layer has no (or a broken) update
 * recorded. */
static bool steps_at(const gfi_judge *j, int32_t start, steps *st)
{
    double dtheta = 0, g2 = 0, theta = 0;
    st->moved = -1;
    for (int32_t i = 0; i < j->L; i++) {
        double u = gfi_j_window_from(j, start, i, GF_STAT_UPDATE_RATIO);
        double g = gfi_j_window_from(j, start, i, GF_STAT_WGRAD_NORM), w = gfi_j_window_from(j, start, i, GF_STAT_WEIGHT_NORM);
        if (!isfinite(u) || u < 0)
            return false;
        st->moved = fmax(st->moved, u);
        if (!(w > 0) || !isfinite(w))
            continue; /* no weights (flatten, pooling) */
        dtheta += u * w * u * w;
        theta += w * w;
        if (isfinite(g))
            g2 += g * g;
    }
    if (!(theta > 0))
        return false;
    st->ur = sqrt(dtheta / theta);
    st->grad = sqrt(g2 / theta);
    st->scale = input_scale(j, start);
    return true;
}

/* The per-step rate at which a loss that is being learned falls, at least: ln 2 / 1000, a loss that would halve
 * within the thousand steps in which steps at UPDATE_FLOOR move the weights by 1 %.  Stagnation claims that the
 * steps are too small for the loss to move; a loss falling at this rate is moving, whatever the step sizes say (SGD
 * at 1e-4 on a 50-layer linear net moves it 1e-5 of its norm per step while its loss falls 0.13-0.4 % per step: each
 * of its 50 layers lowers the loss by its own step).  The stagnating nets measured change theirs by under 3e-5 per
 * step. */
#define STAGNATION_LOSS_FALL (0.69314718055994531 / 1000)

/* The rate, per step, at which the loss fell over the window at record start: ln(older / newer) over the steps
 * between the medians of its two halves (loss_halves).  False when the window is too short to have halves (16
 * records): then the steps alone are the evidence. */
static bool loss_fall_rate(const gfi_judge *j, int32_t start, double *rate)
{
    double older, newer, z;
    if (!loss_halves(j, start, &older, &newer, &z))
        return false;
    int32_t n = j->n - start < LOSS_WINDOW ? j->n - start : LOSS_WINDOW;
    double span = (double)(gfi_diag_step_at(j->d, start) - gfi_diag_step_at(j->d, start + n - 1));
    double apart = span / (n - 1) * (n - n / 2); /* steps between the halves' medians */
    if (!(apart > 0))
        return false;
    *rate = newer > 0 ? log(older / newer) / apart : INFINITY;
    return true;
}

/* A rate this many times (GFI_LR_ANNEALED, diag.h) under the largest one the run had was annealed by a schedule, and
 * stagnation is not judged at it: small steps are what annealing is for (at a minimum the gradient of a batch of
 * noisy targets is its noise, ~sqrt(tr Sigma / B), and does not shrink; steps of eta times it keep the loss
 * eta-proportionally above the floor, so the schedule lowers eta).  The stagnation rule's claim is that the rate is
 * too small for the net; the rate the run chose to learn at is its peak, judged while it was in force, and the
 * annealed one is set small on purpose, like a rate of 0 (no step: "moved" is 0 below).  A decade: step schedules cut
 * x10 a stage (0.1, 0.01, 0.001 of the peak), a cosine one is under a tenth of its peak over its last 20 % of steps
 * (0.5 (1 + cos 0.8 pi) = 0.095), and a rate within x10 of the run's largest is still its working rate.  A constant
 * rate is judged as before; a warm-up once it stops rising (window_rising). */
#define STAGNATION_ANNEALED GFI_LR_ANNEALED

/* Whether a schedule annealed the rate: the rate now is under 1/STAGNATION_ANNEALED of the largest of any observed
 * training step (gf_diag.lr_peak). */
bool gfi_lr_annealed(const gfi_judge *j) { return j->d->lr_peak > 0 && j->lr < j->d->lr_peak / STAGNATION_ANNEALED; }

/* Whether the window at record start holds a step taken at an annealed rate (gf_diag.lr_annealed_after).  The
 * claim is about the steps the window's update ratios measured, so the rate they were taken at is the one that must
 * be a working rate, not the rate now: a warm restart (SGDR, Loshchilov & Hutter 2017) puts the rate back at its
 * peak in one step, and for the next 8 records the window's median update ratio is still that of the annealed steps
 * before it (x1e-3 of the peak's, or less), which read "learning stagnates" on the restart's first steps.  Such a
 * window is no evidence either way, as one at an annealed rate now is not. */
static bool window_annealed(const gfi_judge *j, int32_t start)
{
    int64_t oldest = gfi_j_window_oldest_step(j, start);
    return oldest >= 0 && oldest < j->d->lr_annealed_after;
}

/* Whether the window at record start holds steps of a rate that rose within it (gf_diag.lr_rose_after): a schedule
 * was raising the rate, a warm-up (Goyal et al. 2017: the rate climbs from near 0 to its peak over the first
 * hundreds or thousands of steps).  Its first steps are small on purpose, as an annealed rate's last ones are, and
 * the rate that is the run's working rate is still ahead: a linear warm-up from 0 read "learning stagnates" for the
 * first 2 - 22 steps of 8 seeds of 8 under Adam (1e-3 over 500 and 2000 steps) and momentum (0.01 over 1000), while
 * each of them learned.  Such a window is no evidence either way; a rate that is too small is judged once the
 * schedule stops raising it, at its peak. */
static bool window_rising(const gfi_judge *j, int32_t start)
{
    int64_t oldest = gfi_j_window_oldest_step(j, start);
    return oldest >= 0 && oldest + 1 < j->d->lr_rose_after;
}

/* Rank-sum z (loss_halves) under which the newer half's losses sit below the older half's beyond the scatter of their
 * batches, as the rising-loss rule keeps a rise (z > 2).  A stalled loss's halves differ by which batches they hold
 * (in the first epochs, or a history of 16 - 64 records: halves of 8 - 32 records), and the medians of 8 batches of a
 * regression differ by more than the kept rate of 1.4e-3 a step x 8 steps: SGD and Adam at 1e-7, whose loss cannot
 * move, went back to healthy 40 times over 8 seeds of 120 steps once read stagnating. */
#define STAGNATION_FALL_Z 2.0

/* Whether the loss fell over the window at record start beyond its batches' scatter. */
static bool loss_fell(const gfi_judge *j, int32_t start)
{
    double older, newer, z;
    return loss_halves(j, start, &older, &newer, &z) && z < -STAGNATION_FALL_Z;
}

/* Steps too small against a gradient that is not, while the loss does not fall: entered under UPDATE_FLOOR with
 * the loss falling slower than STAGNATION_LOSS_FALL, kept under twice both. */
static bool stagnating(const gfi_judge *j, int32_t start, bool entering, void *arg)
{
    (void)arg;
    steps st;
    double k = entering ? 1.0 : 2.0, fall;
    if (window_annealed(j, start) || window_rising(j, start))
        return false;
    /* Every ratio 0: no update was measured (backward only, or steps the guard refused).  The steps are tested
     * first: nine-record medians, where the loss's fall sorts two halves of up to LOSS_WINDOW records, and most
     * nets' steps are far over the floor (this runs at every observed step, gfi_states_advance). */
    if (!(steps_at(j, start, &st) && st.moved > 0 && st.ur * st.scale < k * j->th[GF_TH_UPDATE_FLOOR] &&
          st.grad >= STAGNATION_MIN_GRAD * st.scale / k))
        return false;
    return !(loss_fall_rate(j, start, &fall) && fall >= k * STAGNATION_LOSS_FALL && (entering || loss_fell(j, start)));
}

static void detect_stagnation(gfi_judge *j)
{
    double loss = gfi_j_seen(j, 0, GF_STAT_LOSS);
    steps st;
    if (j->n < 2 || j->at < 0 || gfi_diag_step_at(j->d, j->at) < 0 || gfi_lr_annealed(j) || !steps_at(j, j->at, &st))
        return;
    j->step_ur = st.ur;
    j->step_grad = st.grad;
    j->step_scale = st.scale;
    /* The state kept in the diag is as of the finite training records before the newest (gf_diag.stag_on); a newest
     * one that is finite is the judged record, and the state moves over it here. */
    bool on = j->d->stag_on;
    if (j->at == 0)
        on = stagnating(j, j->at, !on, NULL);
    if (on && isfinite(loss) && fabs(loss) >= j->th[GF_TH_GRAD_FLOOR])
        j->net_why |= 1u << C_STAGNATION;
}

static void reason_stagnation(const gfi_judge *j, gfi_sink *s, int32_t i)
{
    (void)i;
    gfi_sink_put(s, "learning stagnates: the net's weights move %.2g of their norm per step (threshold %g; healthy "
                    "~1e-3) while its gradient is %.2g of them",
                 j->step_ur, j->th[GF_TH_UPDATE_FLOOR], j->step_grad);
    if (j->step_scale < 1)
        gfi_sink_put(s, "; the inputs' std is %.2g, so the net's outputs are x%.2g of the scale its init assumes and "
                        "it reaches the targets x%.2g slower: x%.2g of its norm per step (threshold %g) against a "
                        "gradient threshold of %.2g",
                     j->step_scale, j->step_scale, j->step_scale, j->step_ur * j->step_scale,
                     j->th[GF_TH_UPDATE_FLOOR], STAGNATION_MIN_GRAD * j->step_scale);
    if (j->change_n)
        gfi_sink_put(s, "; the loss changed by %.2g%% over the last %d steps", -100 * j->change, (int)j->change_n);
}

/* A regression's targets off the scale of its output (docs/verdicts.md, "Targets off the output's scale").  Every
 * init gives outputs of variance ~1 (LeCun's output layer on unit-scale features); targets of variance v under
 * GFI_INPUT_VAR_LOW are a decade or more below it.  The loss is then Var(y) + v - 2 Cov(y, t) + (mean offset)^2, the
 * output's own spread, and the part of the output gradient 2 (y - t) that carries the targets is about sqrt(v / L)
 * of it: the steps go into shrinking the output, not into fitting (SGD on targets x1e-3: the loss falls from 1e5 to
 * 2e3 times v in 2000 steps and stalls there).  Found while the window's loss L stays over TARGET_MISS_FACTOR times
 * the loss of a miss by the targets' std (v for MSE, sqrt v for MAE, v / 2 for Huber, each at least the loss of
 * predicting their mean, so the net predicts worse than that constant by a decade) and falls slower than the
 * stagnation rule's ln 2 / 1000 per step (a loss that would halve within a thousand steps is being learned: a net
 * legitimately early in its fit, Adam on the same targets, falls x1000 in 400 steps).  Kept at half the factor and
 * twice the rate, over the last GFI_HYSTERESIS windows. */
#define TARGET_MISS_FACTOR 10.0
/* The steps within which a loss that is being learned gets down to that decade at its present rate: the stagnation
 * rule's horizon (at UPDATE_FLOOR a thousand steps move the weights by 1 %; STAGNATION_LOSS_FALL is its halving). */
#define TARGET_HORIZON 1000.0

/* The loss of a miss by the targets' std under the net's loss, at least the best constant prediction's; NaN when
 * the loss is not a regression's or the targets' variance is not off scale. */
static double target_miss(const gf_diag *d, const gf_net *net, double *var)
{
    *var = gfi_diag_target_var(d);
    if (!net || !(*var > 0) || !(*var < GFI_INPUT_VAR_LOW))
        return NAN;
    switch (net->loss.kind) {
    case GF_LOSS_MSE: return *var;
    case GF_LOSS_MAE: return sqrt(*var);
    case GF_LOSS_HUBER: return 0.5 * *var; /* Huber(r) <= r^2 / 2 */
    default: return NAN;
    }
}

/* The loss halves of the window of training records from start back, and the loss's fall per step between them (as
 * loss_fall_rate), over the probes the ring holds instead of stopping at the newest: a probe is not training, it
 * changes nothing in the net, and a state of the net does not start again after it (halves of 8 records, all that
 * the 16 records after a probe give, scatter by more than the kept test's rate: a stuck net left the state 16 steps
 * after every probe).  False without 16 such records. */
static bool target_halves(const gfi_judge *j, int32_t start, double *older, double *newer, double *fall)
{
    int32_t ago[LOSS_WINDOW], n = 0;
    double z;
    for (int32_t a = start; a < j->d->count && n < LOSS_WINDOW; a++)
        if (gfi_diag_step_at(j->d, a) >= 0)
            ago[n++] = a;
    if (!loss_halves_of(j, ago, n, older, newer, &z))
        return false;
    double span = (double)(gfi_diag_step_at(j->d, ago[0]) - gfi_diag_step_at(j->d, ago[n - 1]));
    double apart = span / (n - 1) * (n - n / 2); /* steps between the halves' medians */
    if (!(apart > 0))
        return false;
    *fall = *newer > 0 ? log(*older / *newer) / apart : INFINITY;
    return true;
}

static bool off_target_scale(const gfi_judge *j, int32_t start, bool entering, void *arg)
{
    double miss = *(const double *)arg, k = entering ? 1.0 : 2.0, fall, older, newer;
    if (!target_halves(j, start, &older, &newer, &fall))
        return false;
    /* Over the decade in both halves of the loss window (a loss that rose past it for a few steps, as Adam's does
     * now and then on small targets, is not a stall), and not on its way down to it within TARGET_HORIZON steps at
     * the present rate. */
    double over = fmin(older, newer) / (TARGET_MISS_FACTOR / k * miss);
    /* Entered only while the loss falls: the stall is the output shrinking slowly toward the targets' scale; a loss
     * rising is steps too large (Adam on small targets bounces), which the rising-loss rule judges. */
    return over > 1 && fall < k * log(over) / TARGET_HORIZON && (!entering || fall > 0);
}

/* Whether record ago has no NaN/Inf in any layer (the records the judge can judge). */
static bool record_finite_at(const gf_diag *d, int32_t ago)
{
    for (int32_t i = 0; i < d->nlayers; i++) {
        const double *p = gfi_diag_at(d, ago, i, GF_STAT_NONFINITE);
        if (!p || *p != 0)
            return false;
    }
    return true;
}

/* The targets-off-scale state after the judged record (j->at, a finite training record), from the state before it.
 * Off, it is entered once the entering test has held at GFI_PERSIST consecutive windows; on, it is kept while the
 * keeping test holds, however long ago it was entered.  A window without loss halves (under 16 training records
 * since the start or a probe) is no evidence: the state is kept, the run is not.  At a step taken at an annealed
 * rate (under a tenth of the peak, gf_diag.lr_annealed_after) the fall tells nothing either way (the schedule slows
 * the fall on purpose, and a net on its way down sits at any level for a while), so the state of the last step at
 * a working rate is kept, neither entered nor left, as long as the loss stays over the kept level. */
static void target_step(const gfi_judge *j, double miss, bool *on, int32_t *run, bool *held)
{
    double older, newer, fall;
    *held = false;
    if (!target_halves(j, j->at, &older, &newer, &fall)) {
        *run = 0;
        return;
    }
    if (j->d->lr_annealed_after > gfi_diag_step_at(j->d, j->at)) {
        *run = 0;
        *on = *on && fmin(older, newer) > TARGET_MISS_FACTOR / 2 * miss;
        *held = *on;
        return;
    }
    if (*on) {
        *on = off_target_scale(j, j->at, false, &miss);
        return;
    }
    *run = off_target_scale(j, j->at, true, &miss) ? *run + 1 : 0;
    *on = *run >= GFI_PERSIST;
    if (*on)
        *run = 0;
}

void gfi_states_advance(gf_diag *d)
{
    if (!d->net || d->count < 1 || gfi_diag_step_at(d, 0) < 0 || !record_finite_at(d, 0))
        return;
    gfi_judge j = {.d = d, .net = d->net, .L = d->nlayers, .th = d->threshold, .at = 0};
    while (j.n < d->count && gfi_diag_step_at(d, j.n) >= 0)
        j.n++; /* the training records, newest first, stopping at a probe (as gfi_j_analyse counts them) */
    d->stag_on = stagnating(&j, 0, !d->stag_on, NULL);
    double var, miss = target_miss(d, d->net, &var);
    if (!(miss > 0)) {
        d->target_on = false;
        d->target_run = 0;
        return;
    }
    bool held;
    target_step(&j, miss, &d->target_on, &d->target_run, &held);
}

static void detect_target_scale(gfi_judge *j)
{
    double var, miss = target_miss(j->d, j->net, &var), older, newer, fall;
    j->target_var = var;
    j->target_miss = miss;
    j->target_loss = gfi_j_window(j, 0, GF_STAT_LOSS);
    j->target_fall = j->at >= 0 && target_halves(j, j->at, &older, &newer, &fall) ? fall : NAN;
    if (!(miss > 0) || j->at < 0 || gfi_diag_step_at(j->d, j->at) < 0)
        return;
    /* The state kept in the diag is as of the finite training records before the newest; a newest one that is
     * finite is the judged record, and the state moves over it here. */
    bool on = j->d->target_on;
    int32_t run = j->d->target_run;
    j->target_held = false;
    if (j->at == 0)
        target_step(j, miss, &on, &run, &j->target_held);
    if (on)
        j->net_why |= 1u << C_TARGET_SCALE;
}

static void reason_target_scale(const gfi_judge *j, gfi_sink *s, int32_t i)
{
    (void)i;
    gfi_sink_put(s, "learning stagnates: the targets' variance is %.2g, a decade or more under the output's scale "
                    "(~1 at init), and the loss, %.2g, is x%.3g the loss of a miss by their std (threshold x%g): the "
                    "net predicts worse than their mean, its steps shrink its own output instead of fitting them, "
                    "and the loss falls %.2g per step (threshold %.2g)",
                 j->target_var, j->target_loss, j->target_loss / j->target_miss, TARGET_MISS_FACTOR, j->target_fall,
                 STAGNATION_LOSS_FALL);
    if (j->target_held)
        gfi_sink_put(s, "; the rate, %.2g, is under a tenth of the run's largest, %.2g (annealed): the fall says "
                        "nothing there, and the reading of the last step at a working rate is kept",
                     j->lr, j->d->lr_peak);
}

/* ------------------------------------------------------------------ */
/* The table                                                           */
/* ------------------------------------------------------------------ */

#define EXPL GF_VERDICT_EXPLODING
#define VAN GF_VERDICT_VANISHING
const gfi_rule gfi_rules[C_COUNT] = {
    {C_NONFINITE, EXPL, false, "NaN weights", detect_nonfinite, reason_nonfinite},
    {C_ORIGIN, EXPL, true, NULL, detect_origin, reason_origin},
    {C_DEPTH_GROW, EXPL, true, NULL, detect_depth_grow, reason_depth},
    {C_CONV_GROW, EXPL, true, NULL, detect_conv_grow, reason_conv_gain},
    {C_WEIGHT_GROWTH, EXPL, false, "weights growing exponentially", detect_weight_growth, reason_weight_growth},
    {C_GRAD_AVALANCHE, EXPL, false, "avalanche learning", detect_grad_avalanche, reason_grad_avalanche},
    {C_LOSS_AVALANCHE, EXPL, true, "avalanche learning", detect_loss_avalanche, reason_loss_avalanche},
    {C_LOSS_RISE, EXPL, true, NULL, detect_loss_rise, reason_loss_rise},
    {C_DEAD, GF_VERDICT_DEAD, false, NULL, detect_dead, reason_dead},
    {C_SATURATED, GF_VERDICT_SATURATED, false, NULL, detect_saturated, reason_saturated},
    {C_DEPTH_SHRINK, VAN, true, NULL, detect_depth_shrink, reason_depth},
    {C_CONV_GAIN, VAN, true, NULL, detect_conv_gain, reason_conv_gain},
    {C_FROZEN, VAN, false, "lower layers frozen", detect_frozen, reason_frozen},
    {C_GRAD_FLOOR, VAN, false, "lower layers frozen", detect_grad_floor, reason_grad_floor},
    {C_WEIGHT_COLLAPSE, VAN, false, "weights going to zero", detect_weight_collapse, reason_weight_collapse},
    {C_STAGNATION, VAN, true, "learning stagnates", detect_stagnation, reason_stagnation},
    {C_TARGET_SCALE, VAN, true, "learning stagnates", detect_target_scale, reason_target_scale},
};
#undef EXPL
#undef VAN

int32_t gfi_cond_verdict(int c) { return c >= 0 && c < C_COUNT ? gfi_rules[c].verdict : GF_VERDICT_HEALTHY; }

uint32_t gfi_flags_of(uint32_t why)
{
    uint32_t f = 0;
    for (int c = 0; c < C_COUNT; c++)
        if (gfi_has(why, c))
            f |= 1u << gfi_cond_verdict(c);
    return f;
}

/* Severity order: non-finite values and explosion destroy training at once; dead and saturated units are causes
 * of vanishing gradients, so they are named before the symptom they produce. */
static const int32_t severity[] = {GF_VERDICT_EXPLODING, GF_VERDICT_DEAD, GF_VERDICT_SATURATED, GF_VERDICT_VANISHING};
#define NSEVERITY ((int)(sizeof severity / sizeof *severity))

int32_t gfi_verdict_of_flags(uint32_t f)
{
    for (int k = 0; k < NSEVERITY; k++)
        if (f & (1u << severity[k]))
            return severity[k];
    return GF_VERDICT_HEALTHY;
}

/* ------------------------------------------------------------------ */
/* Reason text                                                         */
/* ------------------------------------------------------------------ */

static void sep(gfi_sink *s, bool *first)
{
    if (!*first)
        gfi_sink_write(s, "; ", 2);
    *first = false;
}

static int32_t layer_verdict(const gfi_judge *j, int32_t i) { return gfi_verdict_of_flags(gfi_flags_of(gfi_j_why_at(j, i))); }

/* Writes the layers whose verdict is v as "0-3, 7, 9-12". */
static void put_layers(const gfi_judge *j, gfi_sink *s, int32_t v)
{
    bool first = true;
    for (int32_t i = 0; i < j->L; i++) {
        if (layer_verdict(j, i) != v)
            continue;
        int32_t e = i;
        while (e + 1 < j->L && layer_verdict(j, e + 1) == v)
            e++;
        gfi_sink_put(s, first ? "%d" : ", %d", (int)i);
        if (e > i)
            gfi_sink_put(s, "-%d", (int)e);
        first = false;
        i = e;
    }
}

static void put_clause(const gfi_judge *j, gfi_sink *s, int c, int32_t layer)
{
    const gfi_rule *r = &gfi_rules[c];
    /* The avalanche clauses are two rules of one sign; the other signs' texts name theirs. */
    if (r->sign && (c == C_GRAD_AVALANCHE || c == C_LOSS_AVALANCHE))
        gfi_sink_put(s, "%s: ", r->sign);
    r->reason(j, s, layer);
}

static void put_healthy(const gfi_judge *j, gfi_sink *s, int32_t i)
{
    if (i >= 0) {
        /* A healthy layer has no NaN/Inf, so a NaN delta is layer 0's unmeasured one. */
        double delta = gfi_j_seen(j, i, GF_STAT_DELTA_IN_RMS);
        if (isnan(delta))
            gfi_sink_put(s, "no condition found: delta rms not measured (input gradient off)");
        else
            gfi_sink_put(s, "no condition found: delta rms %.2g", delta);
        gfi_sink_put(s, ", weight-gradient norm %.2g, activation variance %.2g", gfi_j_seen(j, i, GF_STAT_WGRAD_NORM),
                     gfi_j_seen(j, i, GF_STAT_ACT_VAR));
        double ur = gfi_j_seen(j, i, GF_STAT_UPDATE_RATIO);
        if (isfinite(ur) && ur > 0)
            gfi_sink_put(s, ", update ratio %.2g", ur);
        return;
    }
    gfi_sink_put(s, "no condition found in %d layers", (int)j->L);
    if (j->chance > 0)
        gfi_sink_put(s, "; the classifier has solved its batches (loss %.2g, chance %.2g): how the gradient spreads "
                        "over the layers is not judged",
                     j->solved_loss, j->chance);
    put_fit(j, s, "; ");
    if (j->depth.ok)
        gfi_sink_put(s, "; delta changes x%.3g end to end from layer %d to layer %d (x%.3g..x%.3g within the spread "
                        "of its layers, healthy within x%g..x%g; mean square gain per layer %.3g +- %.2g; this batch: "
                        "x%.3g)",
                     j->depth.gain, (int)j->depth.top, (int)j->depth.lo, j->depth.low, j->depth.high,
                     j->th[GF_TH_VANISH_FACTOR], j->th[GF_TH_EXPLODE_FACTOR], j->depth.chi, j->depth.chi_se,
                     j->depth.realized);
    if (j->depth.ok && fabs(log(j->depth.align)) > 0.01)
        gfi_sink_put(s, "; the weights' alignment with their inputs accounts for x%.3g of it", j->depth.align);
    if (isfinite(j->act_gain))
        gfi_sink_put(s, "; activation rms x%.3g from layer 0 to layer %d", j->act_gain, (int)j->L - 2);
}

static void put_layer_reason(const gfi_judge *j, gfi_sink *s, int32_t layer)
{
    uint32_t why = gfi_j_why_at(j, layer);
    int32_t v = gfi_verdict_of_flags(gfi_flags_of(why));
    bool first = true;
    gfi_sink_put(s, "%s: ", gf_verdict_name(v));
    if (!why) {
        put_healthy(j, s, layer);
        return;
    }
    /* The conditions of the verdict first, then the others. */
    for (int pass = 0; pass < 2; pass++)
        for (int c = 0; c < C_COUNT; c++)
            if (gfi_has(why, c) && ((gfi_cond_verdict(c) == v) == (pass == 0))) {
                sep(s, &first);
                put_clause(j, s, c, layer);
            }
}

/* "(exploding in layers 0-5; dead in layer 7)" */
static void put_verdict_layers(const gfi_judge *j, gfi_sink *s, uint32_t f)
{
    bool first = true;
    for (int k = 0; k < NSEVERITY; k++) {
        int32_t sv = severity[k], n = 0;
        if (!(f & (1u << sv)))
            continue;
        for (int32_t i = 0; i < j->L; i++)
            n += layer_verdict(j, i) == sv;
        gfi_sink_put(s, "%s%s", first ? " (" : "; ", gf_verdict_name(sv));
        if (n) {
            gfi_sink_put(s, n == 1 ? " in layer " : " in layers ");
            put_layers(j, s, sv);
        } else {
            gfi_sink_put(s, " net-wide");
        }
        first = false;
    }
    gfi_sink_put(s, "): ");
}

/* A layer-local condition, quoted at the first layer (from the input side) that has it. */
static void put_local_clause(const gfi_judge *j, gfi_sink *s, int c)
{
    int32_t at = 0, count = 0;
    while (at < j->L && !gfi_has(gfi_j_why_at(j, at), c))
        at++;
    for (int32_t i = 0; i < j->L; i++)
        count += gfi_has(gfi_j_why_at(j, i), c);
    gfi_sink_put(s, "layer %d: ", (int)at);
    put_clause(j, s, c, at);
    if (count > 1)
        gfi_sink_put(s, " (and %d more layers)", (int)count - 1);
}

void gfi_put_reason(const gfi_judge *j, gfi_sink *s, int32_t layer)
{
    if (layer >= 0) {
        put_layer_reason(j, s, layer);
        return;
    }
    uint32_t f = gfi_flags_of(j->net_why);
    gfi_sink_put(s, "%s", gf_verdict_name(gfi_verdict_of_flags(f)));
    if (!j->net_why) {
        gfi_sink_put(s, ": ");
        put_healthy(j, s, -1);
        return;
    }
    put_verdict_layers(j, s, f);
    bool first = true;
    for (int k = 0; k < NSEVERITY; k++)
        for (int c = 0; c < C_COUNT; c++) {
            if (gfi_cond_verdict(c) != severity[k] || !gfi_has(j->net_why, c))
                continue;
            sep(s, &first);
            if (gfi_rules[c].net_level)
                put_clause(j, s, c, -1);
            else
                put_local_clause(j, s, c);
        }
}
