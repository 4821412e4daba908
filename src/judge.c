/*
 * judge.c — the signals the verdict rules read, measured from a diag's records: which record is judged (the
 * latest whose values are all finite, so a NaN never hides its cause), medians over the window (so one step never
 * moves a verdict), the end-to-end gain of the backpropagated delta across depth, the saturation of sigmoid/tanh
 * layers, and the scale at the start of training that "large" and "small" are measured against.
 */
#include "judge.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double gfi_j_stat(const gfi_judge *j, int32_t ago, int32_t layer, int32_t stat)
{
    const double *p = gfi_diag_at(j->d, ago, layer, stat);
    return p ? *p : NAN;
}

double gfi_j_now(const gfi_judge *j, int32_t layer, int32_t stat) { return gfi_j_stat(j, 0, layer, stat); }

double gfi_j_seen(const gfi_judge *j, int32_t layer, int32_t stat)
{
    return j->at < 0 ? NAN : gfi_j_stat(j, j->at, layer, stat);
}

int32_t gfi_j_act(const gfi_judge *j, int32_t layer)
{
    if (!j->net || layer < 0 || layer >= j->net->nlayers)
        return -1;
    return j->net->layers[layer]->act.kind;
}

double gfi_j_weights(const gfi_judge *j, int32_t layer)
{
    if (!j->net || layer < 0 || layer >= j->net->nlayers)
        return NAN;
    return (double)j->net->layers[layer]->nweights;
}

/* Whether record ago holds no NaN/Inf in any layer. */
static bool record_finite(const gfi_judge *j, int32_t ago)
{
    if (ago >= 0 && ago < j->finite_n)
        return j->finite[ago];
    for (int32_t i = 0; i < j->L; i++)
        if (gfi_j_stat(j, ago, i, GF_STAT_NONFINITE) != 0)
            return false;
    return true;
}

/* Records of the window that ends at record start: from it back, finite, and of the same kind (training or
 * probe). */
static int32_t window_from(const gfi_judge *j, int32_t start, int32_t *ago)
{
    int32_t m = 0;
    if (start < 0)
        return 0;
    bool probe = gfi_diag_step_at(j->d, start) < 0;
    for (int32_t a = start; a < j->d->count && m < GFI_WINDOW; a++) {
        if ((gfi_diag_step_at(j->d, a) < 0) != probe)
            break;
        if (record_finite(j, a))
            ago[m++] = a;
        if (probe)
            break; /* a probe is judged on its own record */
    }
    return m;
}


static double median(double *v, int32_t m)
{
    if (m == 0)
        return NAN;
    qsort(v, (size_t)m, sizeof *v, gfi_cmp_double);
    return m % 2 ? v[m / 2] : 0.5 * (v[m / 2 - 1] + v[m / 2]);
}

double gfi_j_window(const gfi_judge *j, int32_t layer, int32_t stat) { return gfi_j_window_from(j, j->at, layer, stat); }

int64_t gfi_j_window_oldest_step(const gfi_judge *j, int32_t start)
{
    int32_t ago[GFI_WINDOW], m = window_from(j, start, ago);
    return m ? gfi_diag_step_at(j->d, ago[m - 1]) : -1;
}

double gfi_j_window_ungated(const gfi_judge *j, int32_t layer, int32_t stat)
{
    int32_t ago[GFI_WINDOW];
    double v[GFI_WINDOW];
    int32_t m = window_from(j, j->at, ago), k = 0;
    for (int32_t r = 0; r < m; r++) {
        double x = gfi_j_stat(j, ago[r], layer, stat);
        if (!isnan(x) && !gfi_j_gated(j, ago[r]))
            v[k++] = x;
    }
    return median(v, k);
}

double gfi_j_window_from(const gfi_judge *j, int32_t start, int32_t layer, int32_t stat)
{
    int32_t ago[GFI_WINDOW];
    double v[GFI_WINDOW];
    int32_t m = window_from(j, start, ago), k = 0;
    for (int32_t r = 0; r < m; r++) {
        double x = gfi_j_stat(j, ago[r], layer, stat);
        if (!isnan(x))
            v[k++] = x;
    }
    return median(v, k);
}

/* The depth signal spans the hidden layers: delta at the pre-activation of the last hidden layer (top) down to
 * layer 0's, the delta each layer's weight gradient is made of.  The input gradient (d loss / d data) plays no
 * part in learning and the output layer's width is the task's, so neither is in it. */
static bool span(const gfi_judge *j, int32_t *lo, int32_t *top)
{
    *lo = 0;
    *top = j->L - 2;
    return *top >= 1;
}

static double step_gain(const gfi_judge *j, int32_t ago, int32_t i)
{
    double a = gfi_j_stat(j, ago, i, GF_STAT_DELTA_PRE_NORM), b = gfi_j_stat(j, ago, i + 1, GF_STAT_DELTA_PRE_NORM);
    return isfinite(a) && isfinite(b) && b > 0 ? a / b : NAN;
}

/* The least standard error chi's estimate from k per-layer gains can have (docs/verdicts.md, "Few and narrow
 * layers"): through a layer of n units each g_i^2 scatters around chi with a variance of about 5 chi^2 / n (Hanin 2018;
 * ReLU at He's variance: mean 1, variance 5 / n), a property of the weights' draw that no number of samples averages
 * out, so the mean of k of them is uncertain by at least chi sqrt(5 / (n k)), n the narrowest layer of the span.
 * The scatter across layers measures it once there are SCATTER_MIN_STEPS gains; with one or two it is 0 (k = 1) or
 * anything, and the floor stands in for it. */
#define HANIN_SCATTER 5.0
#define SCATTER_MIN_STEPS 3
static double scatter_floor(const gfi_judge *j, int32_t lo, int32_t top, double chi)
{
    double n = INFINITY;
    if (top - lo >= SCATTER_MIN_STEPS)
        return 0.0;
    for (int32_t i = lo; j->net && i <= top && i < j->net->nlayers; i++)
        if (j->net->layers[i]->out > 0)
            n = fmin(n, (double)j->net->layers[i]->out);
    return isfinite(n) && chi > 0 ? chi * sqrt(HANIN_SCATTER / (n * (double)(top - lo))) : 0.0;
}

/* Whether any delta reaches the last hidden layer from above (the loss gradient is not exactly 0). */
static bool delta_arrives(const gfi_judge *j, int32_t ago, int32_t top)
{
    return gfi_j_stat(j, ago, top + 1, GF_STAT_DELTA_IN_NORM) > 0;
}

bool gfi_j_gated(const gfi_judge *j, int32_t ago)
{
    if (ago >= 0 && ago < j->finite_n)
        return j->gated[ago];
    for (int32_t s = 0; s + 1 < j->L; s++) {
        if (gfi_j_act(j, s) != GF_ACT_RELU)
            continue;
        double m = gfi_j_stat(j, ago, s, GF_STAT_ACT_MEAN), v = gfi_j_stat(j, ago, s, GF_STAT_ACT_VAR);
        double dead = gfi_j_stat(j, ago, s, GF_STAT_DEAD_FRAC);
        if (m == 0 && v == 0 && dead < 1)
            return true;
    }
    return false;
}

double gfi_j_chi_at(const gfi_judge *j, int32_t ago, double *se)
{
    int32_t lo, top;
    *se = NAN;
    if (!span(j, &lo, &top) || gfi_j_gated(j, ago))
        return NAN; /* a live layer off for this batch: no measurement of the gain (gfi_j_gated) */
    double sum = 0, sq = 0, k = top - lo;
    for (int32_t i = lo; i < top; i++) {
        double g = step_gain(j, ago, i);
        if (isnan(g)) {
            /* Delta arrives but the units of a layer pass none of it: nothing gets through. */
            double above = gfi_j_stat(j, ago, i + 1, GF_STAT_DELTA_PRE_NORM);
            if (above == 0 && delta_arrives(j, ago, top)) {
                *se = 0;
                return 0.0;
            }
            return NAN;
        }
        sum += g * g;
        sq += g * g * g * g;
    }
    double mean = sum / k;
    *se = k > 1 ? sqrt(fmax(sq / k - mean * mean, 0.0) / (k - 1)) : 0.0;
    *se = fmax(*se, scatter_floor(j, lo, top, mean));
    return mean;
}

double gfi_j_unit_ref(int32_t kind)
{
    switch (kind) {
    case GF_ACT_LEAKY_RELU: return 0.5 * (1 + 0.01 * 0.01);
    case GF_ACT_SELU: return 0.5 * 1.0507009873554805 * 1.0507009873554805;
    case GF_ACT_SIGMOID: return 1.0 / 16; /* sigmoid'(0)^2 */
    case GF_ACT_TANH: case GF_ACT_IDENTITY: return 1.0;
    default: return 0.5;
    }
}

/* Splits the judged record's log gain into what the activations let through (delta_pre(i) / delta_in(i+1),
 * against a healthy unit's) and what the weights did (the rest): dead units are a cause only when theirs is the
 * larger loss. */
static void attribute(gfi_judge *j)
{
    depth_gain *g = &j->depth;
    double units = 0, weights = 0;
    for (int32_t i = g->lo; i <= g->top; i++) {
        double pre = gfi_j_seen(j, i, GF_STAT_DELTA_PRE_NORM), out = gfi_j_seen(j, i + 1, GF_STAT_DELTA_IN_NORM);
        if (!(out > 0) || !isfinite(pre))
            continue; /* nothing arrived: no unit lost anything here */
        double half_ref = 0.5 * log(gfi_j_unit_ref(gfi_j_act(j, i)));
        units += log(pre > 0 ? pre / out : 1e-300) - half_ref;
        double above = i < g->top ? gfi_j_seen(j, i + 1, GF_STAT_DELTA_PRE_NORM) : NAN;
        if (above > 0)
            weights += log(out / above) + half_ref;
    }
    g->unit_part = units;
    g->weight_part = weights;
}

/* Log of chi^(k/2), -inf for a chi of 0. */
static double log_gain(double chi, double k) { return chi > 0 ? 0.5 * k * log(chi) : -INFINITY; }

/* Log of what the weights' alignment with their inputs explains at record ago, over the dense layers 1..top (the
 * layers whose W^T the delta of the span passes, docs/verdicts.md, "Learned alignment"): for weights independent of
 * their input x, E[z^2] = sigma_w^2 E[x^2] with sigma_w^2 = rms(W)^2 fan_in, whatever the activation and the width,
 * so sum of log(rms(z_i) / (sigma_w,i rms(x_i))) is 0 for the weights of an init, and above 0 where training has
 * turned a layer's weights toward the directions its input takes.  Layers other than dense (conv, pooling,
 * recurrent), or unmeasured, count 0. */
static double log_align_at(const gfi_judge *j, int32_t ago, int32_t lo, int32_t top)
{
    double la = 0;
    for (int32_t i = lo + 1; j->net && i <= top && i < j->net->nlayers; i++) {
        const gf_layer *l = j->net->layers[i];
        if (l->kind != GF_LAYER_DENSE || l->nweights == 0)
            continue;
        double zm = gfi_j_stat(j, ago, i, GF_STAT_PRE_MEAN), zs = gfi_j_stat(j, ago, i, GF_STAT_PRE_STD);
        double xm = gfi_j_stat(j, ago, i - 1, GF_STAT_ACT_MEAN), xv = gfi_j_stat(j, ago, i - 1, GF_STAT_ACT_VAR);
        double w = gfi_j_stat(j, ago, i, GF_STAT_WEIGHT_NORM);
        double z2 = zm * zm + zs * zs, x2 = xm * xm + xv, s2 = w * w / (double)l->nweights * (double)l->in;
        if (isfinite(z2) && isfinite(x2) && isfinite(s2) && z2 > 0 && x2 > 0 && s2 > 0)
            la += 0.5 * log(z2 / (s2 * x2));
    }
    return la;
}

/* gfi_j_chi_at and log_align_at over the span (lo, top) of the depth signal, each found once per record of the
 * memo (gfi_judge.chi_memo, align_memo). */
static double chi_at(gfi_judge *j, int32_t ago, double *se)
{
    if (ago < 0 || ago >= j->finite_n)
        return gfi_j_chi_at(j, ago, se);
    if (!j->chi_known[ago]) {
        j->chi_memo[ago] = gfi_j_chi_at(j, ago, &j->chi_se_memo[ago]);
        j->chi_known[ago] = true;
    }
    *se = j->chi_se_memo[ago];
    return j->chi_memo[ago];
}

static double span_align_at(gfi_judge *j, int32_t ago, const depth_gain *g)
{
    if (ago < 0 || ago >= j->finite_n || g->lo != j->depth.lo || g->top != j->depth.top)
        return log_align_at(j, ago, g->lo, g->top);
    if (!j->align_known[ago]) {
        j->align_memo[ago] = log_align_at(j, ago, g->lo, g->top);
        j->align_known[ago] = true;
    }
    return j->align_memo[ago];
}

/* Whether the training batches are thin: fewer than GFI_THIN_BATCH samples, so one record's delta is a few samples'
 * activation patterns and the window, not the record, is the sample the mean-field gain is an expectation over. */
static bool thin_batches(const gfi_judge *j)
{
    int64_t b = gfi_diag_batch(j->d);
    return b > 0 && b < GFI_THIN_BATCH;
}

/* Whether a record of thin batches enters the pooled sums: delta arrives, no live layer is off for its batch,
 * and every delta norm of the span is finite.  Found once per record of the memo (gfi_judge.pooled_ok). */
static bool pooled_record_ok(gfi_judge *j, int32_t ago, const depth_gain *g)
{
    bool memo = ago >= 0 && ago < j->finite_n && g->lo == j->depth.lo && g->top == j->depth.top;
    if (memo && j->pooled_ok[ago])
        return j->pooled_ok[ago] > 0;
    bool ok = delta_arrives(j, ago, g->top) && !gfi_j_gated(j, ago);
    for (int32_t i = g->lo; ok && i <= g->top; i++)
        ok = isfinite(gfi_j_stat(j, ago, i, GF_STAT_DELTA_PRE_NORM));
    if (memo)
        j->pooled_ok[ago] = ok ? 1 : -1;
    return ok;
}

/* The depth signal of a window of thin batches (docs/verdicts.md, "Thin batches"): chi_1 = sigma_w^2 E[phi'(z)^2] is
 * an expectation over samples, and a record of one sample measures phi' of that sample only (a 4-unit ReLU layer is
 * off for a whole sample now and then, and passes nothing).  So the squared norms of delta are pooled over the
 * window's records, as one batch of all their samples would sum them: g_i^2 = sum ||delta_pre(i)||^2 / sum
 * ||delta_pre(i+1)||^2.  A layer that passes nothing over the whole window gives 0, as one batch would. */
static bool depth_pooled(gfi_judge *j, const int32_t *ago, int32_t m, depth_gain *g)
{
    double S[GFI_WINDOW_LAYERS] = {0}, al[GFI_WINDOW];
    int32_t n = 0, k = g->top - g->lo;
    if (k + 1 > GFI_WINDOW_LAYERS || m < GFI_WINDOW)
        return false; /* the first records of thin batches are a sample or two: no evidence yet */
    for (int32_t r = 0; r < m; r++) {
        if (!pooled_record_ok(j, ago[r], g))
            continue;
        for (int32_t i = g->lo; i <= g->top; i++) {
            double x = gfi_j_stat(j, ago[r], i, GF_STAT_DELTA_PRE_NORM);
            S[i - g->lo] += x * x;
        }
        al[n++] = span_align_at(j, ago[r], g);
    }
    if (n == 0)
        return false;
    double sum = 0, sq = 0;
    for (int32_t i = 0; i < k; i++) {
        if (!(S[i + 1] > 0)) { /* nothing passed layer i + 1 over the window */
            sum = sq = 0;
            break;
        }
        double g2 = S[i] / S[i + 1];
        sum += g2;
        sq += g2 * g2;
    }
    double chi = sum / k, se = k > 1 ? sqrt(fmax(sq / k - chi * chi, 0.0) / (k - 1)) : 0.0;
    se = fmax(se, scatter_floor(j, g->lo, g->top, chi));
    double la = median(al, n), v = log_gain(chi, k);
    double lo = log_gain(chi - GFI_DEPTH_Z * se, k), hi = log_gain(chi + GFI_DEPTH_Z * se, k);
    g->gain = exp(v);
    g->low = exp(lo);
    g->high = exp(hi);
    g->align = exp(la);
    g->up_gain = exp(v - fmax(la, 0.0));
    g->up_low = exp(lo - fmax(la, 0.0));
    g->down_gain = exp(v - fmin(la, 0.0));
    g->down_high = exp(hi - fmin(la, 0.0));
    return true;
}

/* gain, low and high (medians over the window ending at record start) into g; false if not measurable. */
static bool depth_window(gfi_judge *j, int32_t start, depth_gain *g)
{
    int32_t ago[GFI_WINDOW];
    double v[GFI_WINDOW], lo[GFI_WINDOW], hi[GFI_WINDOW], al[GFI_WINDOW];
    double uv[GFI_WINDOW], ul[GFI_WINDOW], dv[GFI_WINDOW], dh[GFI_WINDOW];
    int32_t m = window_from(j, start, ago), n = 0;
    if (thin_batches(j) && gfi_diag_step_at(j->d, start) >= 0 && g->top - g->lo + 1 <= GFI_WINDOW_LAYERS)
        return depth_pooled(j, ago, m, g);
    double k = g->top - g->lo;
    for (int32_t r = 0; r < m; r++) {
        double se, chi = chi_at(j, ago[r], &se);
        if (isnan(chi))
            continue;
        double la = span_align_at(j, ago[r], g);
        v[n] = log_gain(chi, k);
        lo[n] = log_gain(chi - GFI_DEPTH_Z * se, k);
        hi[n] = log_gain(chi + GFI_DEPTH_Z * se, k);
        al[n] = la;
        uv[n] = v[n] - fmax(la, 0.0);
        ul[n] = lo[n] - fmax(la, 0.0);
        dv[n] = v[n] - fmin(la, 0.0);
        dh[n] = hi[n] - fmin(la, 0.0);
        n++;
    }
    if (n == 0)
        return false;
    g->gain = exp(median(v, n));
    g->low = exp(median(lo, n));
    g->high = exp(median(hi, n));
    g->align = exp(median(al, n));
    g->up_gain = exp(median(uv, n));
    g->up_low = exp(median(ul, n));
    g->down_gain = exp(median(dv, n));
    g->down_high = exp(median(dh, n));
    return true;
}

bool gfi_j_latched(const gfi_judge *j, bool (*holds)(const gfi_judge *j, int32_t start, bool entering, void *arg),
                   void *arg, int32_t horizon)
{
    return gfi_j_latched_for(j, holds, arg, horizon, 1);
}

bool gfi_j_latched_for(const gfi_judge *j, bool (*holds)(const gfi_judge *j, int32_t start, bool entering, void *arg),
                       void *arg, int32_t horizon, int32_t persist)
{
    if (j->at < 0)
        return false;
    int32_t first = j->at;
    bool probe = gfi_diag_step_at(j->d, j->at) < 0;
    while (!probe && first + 1 < j->n && first + 1 - j->at < horizon)
        first++;
    if (probe)
        persist = 1; /* a probe is judged on its own record */
    if (persist > first - j->at + 1)
        persist = first - j->at + 1; /* early in training: every window since the start */
    bool on = false;
    int32_t run = 0; /* consecutive windows whose entering test held */
    for (int32_t start = first; start >= j->at; start--) {
        if (on) {
            on = holds(j, start, false, arg);
            run = 0;
        } else {
            run = holds(j, start, true, arg) ? run + 1 : 0;
            on = run >= persist;
        }
    }
    return on;
}

/* Hysteresis over the history: the depth state (0, +1 growing, -1 shrinking) is entered when a window's gain
 * is beyond the threshold even at the edge of its spread (low > explode, high < vanish), and left only when
 * the gain itself is back inside.  Run from the oldest of the last GFI_HYSTERESIS windows to the judged one,
 * so the verdict depends on the records alone, not on when it is asked for. */
static int depth_state(gfi_judge *j, const depth_gain *now)
{
    double up = j->th[GF_TH_EXPLODE_FACTOR], down = j->th[GF_TH_VANISH_FACTOR];
    /* The last step decides on the judged window itself: with its gain inside, the state is 0 whatever came
     * before, and the history need not be read. */
    if (now->up_gain <= up && now->down_gain >= down)
        return 0;
    int32_t first = j->at;
    bool probe = gfi_diag_step_at(j->d, j->at) < 0;
    while (!probe && first + 1 < j->n && first + 1 - j->at < GFI_HYSTERESIS)
        first++;
    int state = 0;
    for (int32_t start = first; start >= j->at; start--) {
        depth_gain g = *now;
        if (start != j->at && !depth_window(j, start, &g))
            continue;
        if (state == 0)
            state = g.up_low > up ? 1 : g.down_high < down ? -1 : 0;
        else if ((state > 0 && g.up_gain <= up) || (state < 0 && g.down_gain >= down))
            state = 0;
    }
    return state;
}

static void measure_depth(gfi_judge *j)
{
    depth_gain *g = &j->depth;
    g->ok = false;
    if (!span(j, &g->lo, &g->top) || !depth_window(j, j->at, g))
        return;
    g->ok = true;
    double k = g->top - g->lo;
    g->chi = pow(g->gain, 2.0 / k);
    chi_at(j, j->at, &g->chi_se);
    double b = gfi_j_seen(j, g->top, GF_STAT_DELTA_PRE_NORM);
    g->realized = b > 0 ? gfi_j_seen(j, g->lo, GF_STAT_DELTA_PRE_NORM) / b : delta_arrives(j, j->at, g->top) ? 0.0 : NAN;
    g->worst = 1.0;
    g->worst_at = g->lo;
    for (int32_t i = g->lo; i < g->top; i++) {
        double gi = step_gain(j, j->at, i);
        if (isfinite(gi) && fabs(log(gi > 0 ? gi : 1e-300)) > fabs(log(g->worst))) {
            g->worst = gi > 0 ? gi : 1e-300;
            g->worst_at = i;
        }
    }
    g->state = depth_state(j, g);
    attribute(j);
}

/* Share of a sigmoid/tanh layer's pre-activations in the flat tails (derivative < 1 % of its maximum: |z| >
 * 2.99 for tanh, 5.99 for sigmoid), as if z were Gaussian with the recorded mean and std.  SATURATED_FRAC counts
 * units stuck for every sample; a unit that swings between the two asymptotes is saturated too, just not stuck. */
double gfi_j_tail_share(const gfi_judge *j, int32_t i, int32_t ago)
{
    int32_t kind = gfi_j_act(j, i);
    if (kind != GF_ACT_SIGMOID && kind != GF_ACT_TANH)
        return 0.0;
    double zc = kind == GF_ACT_TANH ? 2.993 : 5.986;
    double m = gfi_j_stat(j, ago, i, GF_STAT_PRE_MEAN), sd = gfi_j_stat(j, ago, i, GF_STAT_PRE_STD);
    if (!isfinite(m) || !isfinite(sd))
        return 0.0;
    if (sd <= 0)
        return fabs(m) > zc ? 1.0 : 0.0;
    return 0.5 * erfc((zc - m) / (sd * sqrt(2.0))) + 0.5 * erfc((zc + m) / (sd * sqrt(2.0)));
}

double gfi_j_saturation(const gfi_judge *j, int32_t i) { return gfi_j_saturation_from(j, j->at, i); }

double gfi_j_saturation_from(const gfi_judge *j, int32_t start, int32_t i)
{
    int32_t ago[GFI_WINDOW];
    double v[GFI_WINDOW];
    int32_t m = window_from(j, start, ago);
    for (int32_t r = 0; r < m; r++) {
        double stuck = gfi_j_stat(j, ago[r], i, GF_STAT_SATURATED_FRAC), tail = gfi_j_tail_share(j, i, ago[r]);
        v[r] = isfinite(stuck) && stuck > tail ? stuck : tail;
    }
    double s = median(v, m);
    if (i == j->L - 1 && j->fit_majority > 0) /* no more than can sit at the wrong asymptote (measure_fit) */
        s = fmin(s, gfi_j_wrong_share(j, start));
    return isnan(s) ? 0.0 : s;
}

/* The oldest training record still held (ago), or -1. */
static int32_t oldest_training(const gfi_judge *j) { return j->n > 0 ? j->n - 1 : -1; }

double gfi_j_early_weight_rms(const gfi_judge *j, int32_t i)
{
    double n = gfi_j_weights(j, i), w;
    if (j->d->early_ready && j->d->early_weight)
        w = j->d->early_weight[i];
    else
        w = gfi_j_stat(j, oldest_training(j), i, GF_STAT_WEIGHT_NORM);
    return n > 0 ? w / sqrt(n) : NAN;
}

/* Before GFI_EARLY steps are in, the oldest training record held is the scale of the start. */
double gfi_j_early_loss(const gfi_judge *j)
{
    if (j->d->early_ready)
        return j->d->early_loss;
    return gfi_j_stat(j, oldest_training(j), 0, GF_STAT_LOSS);
}

double gfi_j_early_grad(const gfi_judge *j, int32_t i)
{
    if (j->d->early_ready)
        return j->d->early_grad[i];
    return gfi_j_stat(j, oldest_training(j), i, GF_STAT_WGRAD_NORM);
}

void gfi_j_mark(gfi_judge *j, int32_t layer, int c)
{
    if (layer >= 0)
        *gfi_j_why(j, layer) |= 1u << c;
    j->net_why |= 1u << c;
}

/* A classifier whose cross-entropy is under SOLVED_SHARE of the chance level has solved its batches.  Chance is the
 * loss of the best constant prediction, the prior: the entropy of the targets the training passes had (mean binary
 * entropy of each output's rate for BCE, of the class frequencies for softmax; ln 2 and ln(classes) when balanced,
 * and those before any target was seen).  Against ln 2, a net that only learned the prior of a task with 0.3 %
 * positives sits at 0.3 % of it (its loss is mostly -ln 0.997 on batches without a positive) and read solved while
 * its lower layers had vanished; against the prior's entropy, 0.02, it is at 15 %.  (5 % of ln 3 is a mean
 * probability of 0.95 on the right class.)  Solved:
 * what gradient is left comes from a few samples, and how it spreads over the layers no longer says anything
 * about training (with hysteresis: kept until the loss is back above twice that share) (measured on 4x64 ReLU nets over three classes: delta x0.44 to x2.3 per layer at losses of
 * 0.002 - 0.024). */
#define SOLVED_SHARE 0.05
/* Entered under SOLVED_SHARE of the chance loss, kept under twice that. */
static bool solved_at(const gfi_judge *j, int32_t start, bool entering, void *arg)
{
    double loss = gfi_j_window_from(j, start, 0, GF_STAT_LOSS), chance = *(const double *)arg;
    return isfinite(loss) && loss >= 0 && loss < (entering ? 1 : 2) * SOLVED_SHARE * chance;
}

double gfi_j_chance(const gfi_judge *j)
{
    if (!j->net || j->net->nlayers < 1)
        return 0;
    int32_t k = j->net->loss.kind;
    int64_t rows, classes; /* the softmax's width: a time step's under GF_LOSS_PARAM_PER_STEP */
    gfi_net_loss_rows(j->net, 1, &rows, &classes);
    double chance = k == GF_LOSS_BCE_LOGITS ? log(2.0)
                    : (k == GF_LOSS_SOFTMAX_CE || k == GF_LOSS_SOFTMAX_CE_LABELS) && classes >= 2 ? log((double)classes)
                                                                                                  : 0;
    double prior = gfi_diag_chance(j->d);
    return chance > 0 && prior > 0 ? prior : chance;
}

static void measure_solved(gfi_judge *j)
{
    double chance = gfi_j_chance(j);
    double loss = gfi_j_window(j, 0, GF_STAT_LOSS);
    if (chance > 0 && isfinite(loss) && loss >= 0 && loss < 2 * SOLVED_SHARE * chance &&
        gfi_j_latched(j, solved_at, &chance, GFI_HYSTERESIS)) {
        j->solved_loss = loss;
        j->chance = chance;
    }
}

/* The flat tails of a saturating output activation, where its derivative is under 1 % of its maximum: within
 * tail of its asymptotes lo and hi (sigmoid: 1 - sigmoid(5.986) = 0.0025 of 0 and 1; tanh: 1 - tanh(2.993) = 0.005
 * of -1 and 1, the same 0.25 % of its range).  False for other activations. */
static bool output_tails(int32_t kind, double *lo, double *hi, double *tail)
{
    if (kind == GF_ACT_SIGMOID) {
        *lo = 0, *hi = 1, *tail = 0.0025;
        return true;
    }
    if (kind == GF_ACT_TANH) {
        *lo = -1, *hi = 1, *tail = 0.005;
        return true;
    }
    return false;
}

/* A regression whose sigmoid or tanh output fits targets at its asymptotes (docs/verdicts.md, "Saturated toward the
 * targets"): when the targets lie in the activation's flat tails (0 / 1 for sigmoid, -1 / 1 for tanh), the loss's
 * minimum is at the asymptote, sigma(z) -> t needs |z| -> inf, and the fit itself drives the output's pre-activations
 * into the tails, where the residual, not the derivative, is what is small.  What saturation can stall there is an
 * output at the wrong asymptote (Glorot & Bengio 2010: a saturated sigmoid output under a quadratic cost passes no
 * gradient for its error): it misses by the whole range R and costs l(R), so with p the share of the targets at one
 * end, no more than loss / (min(p, 1 - p) l(R)) of the minority value's outputs (nor of all outputs) can be at the
 * wrong asymptote; the output layer's saturation is read as at most that (gfi_j_saturation_from).  The denominator is
 * the loss of predicting the majority value everywhere: a net that learned only that (the prior of rare positives,
 * or every output stuck at one asymptote) keeps its whole saturation judged.  The targets are in the tails when both
 * ends are and at most 5 % of them lie further than the tail from both ends (gfi_diag_target_ends: the Bhatia-Davis
 * gap).  Sets j->fit_majority to that loss, or leaves it 0. */
static void measure_fit(gfi_judge *j)
{
    int32_t k = j->net->loss.kind, top = j->net->nlayers - 1;
    double alo, ahi, tail, lo, hi;
    if (top != j->L - 1 || (k != GF_LOSS_MSE && k != GF_LOSS_MAE && k != GF_LOSS_HUBER) ||
        !output_tails(j->net->layers[top]->act.kind, &alo, &ahi, &tail))
        return;
    double R = ahi - alo, gap = gfi_diag_target_ends(j->d, &lo, &hi), t = tail / R;
    if (!(fabs(lo - alo) <= tail && fabs(ahi - hi) <= tail && gap <= 0.05 * t * (1 - t)))
        return;
    double majority = gfi_diag_majority_loss(j->d);
    if (!(majority > 0 && isfinite(majority)))
        return;
    j->fit_majority = majority;
    j->fit_room = k == GF_LOSS_MAE ? gfi_diag_target_room(j->d, alo, ahi) : NAN;
    j->fit_lo = alo;
    j->fit_hi = ahi;
}

/* The loss of record ago as fit_majority's bound reads it.  An output at the wrong asymptote misses by the whole
 * range R, rho = |y - t| / R = 1, so with w of them, w <= E[rho^k] for every k; the loss gives k = 2 under MSE (and
 * Huber within its quadratic part) but k = 1 under MAE, where an output half way in transit counts half a miss, not
 * a quarter: a fit under way whose outputs are mostly in the tails toward their targets and the rest in transit has
 * an MAE loss over twice its mean square residual, and read "saturated" on it (docs/verdicts.md, "Saturated toward the
 * targets").  Under MAE the record gives k = 2 as well: with u = (y - lo) / R and e = (t - lo) / R in [0, 1],
 * rho = |u - e|, and for a target at an asymptote (e = 0 or 1) rho - rho^2 = u (1 - u) exactly; for any e in [0, 1]
 * rho^2 <= rho - u (1 - u) + e (1 - e).  Averaged over the batch, E[u (1 - u)] = ((m - lo)(hi - m) - v) / R^2 from
 * the output's mean m and variance v (the Bhatia-Davis gap of the outputs), so
 *     E[rho^2] <= L / R - ((m - lo)(hi - m) - v) / R^2 + E[e (1 - e)],
 * the MAE loss less what the outputs' spread inside the range accounts for, and never more than E[rho] = L / R.
 * Returned as R E[rho^2], the MAE loss of outputs at the wrong asymptote in that share, so fit_majority still
 * divides it (a penalty in the loss only loosens the bound). */
static double fit_loss_at(const gfi_judge *j, int32_t ago)
{
    double loss = gfi_j_stat(j, ago, 0, GF_STAT_LOSS);
    if (!(j->fit_majority > 0) || isnan(j->fit_room) || !isfinite(loss))
        return loss;
    int32_t top = j->L - 1;
    double lo = j->fit_lo, hi = j->fit_hi, R = hi - lo;
    double m = gfi_j_stat(j, ago, top, GF_STAT_ACT_MEAN), v = gfi_j_stat(j, ago, top, GF_STAT_ACT_VAR);
    if (!isfinite(m) || !isfinite(v))
        return loss;
    double spread = fmax((m - lo) * (hi - m) - v, 0.0) / (R * R);
    double sq = loss / R - spread + j->fit_room;
    return R * fmin(fmax(sq, 0.0), loss / R);
}

double gfi_j_wrong_share(const gfi_judge *j, int32_t start)
{
    int32_t ago[GFI_WINDOW];
    double v[GFI_WINDOW];
    int32_t m = window_from(j, start, ago), k = 0;
    for (int32_t r = 0; r < m; r++) {
        double x = fit_loss_at(j, ago[r]);
        if (!isnan(x))
            v[k++] = x;
    }
    double loss = median(v, k);
    return j->fit_majority > 0 && isfinite(loss) && loss >= 0 ? loss / j->fit_majority : INFINITY;
}

static int32_t count_training(const gf_diag *d)
{
    int32_t n = 0;
    while (n < d->count && gfi_diag_step_at(d, n) >= 0)
        n++;
    return n;
}

void gfi_j_analyse(const gf_diag *d, gfi_judge *j)
{
    memset(j, 0, sizeof *j);
    j->fit_room = NAN; /* measure_fit: not a fit under MAE */
    j->d = d;
    j->net = d->net && d->net->magic == GFI_MAGIC_NET ? d->net : NULL;
    j->L = d->nlayers;
    j->th = d->threshold;
    j->n = count_training(d);
    j->at = -1;
    int32_t memo = d->count < GFI_FINITE_MEMO ? d->count : GFI_FINITE_MEMO;
    for (int32_t a = 0; a < memo; a++) { /* finite_n is still 0: both read from the records */
        j->finite[a] = record_finite(j, a);
        j->gated[a] = gfi_j_gated(j, a);
    }
    j->finite_n = memo;
    for (int32_t a = 0; a < d->count && j->at < 0; a++)
        if (record_finite(j, a))
            j->at = a;
    j->lr = j->net && j->net->opt ? j->net->opt->lr : 0.01; /* 0.01: gf_net_step's default optimizer */
    j->clipping = j->net && j->net->clip_mode != GF_CLIP_NONE;
    measure_depth(j);
    measure_solved(j);
    if (j->net && j->net->nlayers >= 1)
        measure_fit(j);
    if (j->L >= 2) {
        double a0 = gfi_j_seen(j, 0, GF_STAT_ACT_VAR), ah = gfi_j_seen(j, j->L - 2, GF_STAT_ACT_VAR);
        j->act_gain = a0 > 0 ? sqrt(ah / a0) : NAN;
    } else {
        j->act_gain = NAN;
    }
    for (int c = 0; c < C_COUNT; c++)
        if (gfi_rules[c].detect)
            gfi_rules[c].detect(j);
}
