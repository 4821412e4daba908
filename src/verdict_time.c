/*
 * verdict_time.c — verdicts across time for recurrent layers.  One rule is one row of `rules`: the signal it
 * reads (an observation of the layer's latest record, `obs`), its threshold and why, the reason text quoting
 * the numbers, and the remedy.  Thresholds are for the whole sequence (the end-to-end gain of ||dL/dh_t|| from
 * the last state back to the first one the gradient reaches), with absolute floors so that two tiny numbers
 * never make a verdict.  The measured gain decides; the Pascanu et al. bound on sigma_max(W_hh) explains it.
 * The rules are documented in docs/api.md, "Verdicts across time".
 */
#include "verdict_time.h"
#include "recurrent.h"
#include "verdict.h"
#include "scratch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The thresholds (docs/verdicts.md, "Across time"): GF_TH_TIME_VANISH (1e-3): below it the first steps receive
 * under a thousandth of the gradient of the last, so with any learning rate that moves the late steps' weights
 * sensibly the early inputs are not learned within a run; GF_TH_TIME_EXPLODE (1e3): the same thousandfold the
 * other way, an update sized for the last step 1000x too large for the first, which is where recurrent nets blow
 * up (Pascanu et al. 2013); GF_TH_TIME_VANISH_FLOOR: vanishing only where the gradient at the last state is
 * measurable (a solved loss gives ~0); GF_TH_TIME_EXPLODE_FLOOR: growth only where the grown gradient could move
 * weights (x0.01 learning rate: 1e-6 per step); GF_TH_GATE_SHUT (sigmoid(-2)), see gate_shut. */
/* Records the rate is the median of (judge.h's GFI_WINDOW). */
#define GFI_WINDOW_TIME 9

/* What the rules read about one recurrent layer. */
typedef struct obs {
    const gf_layer *l;
    int32_t layer;
    int64_t n;           /* steps the gradient travels back (T, or the truncation k) */
    double first, last;  /* ||dL/dh|| at the first state reached and at h_T */
    double gain, rate;   /* first / last, and its n-th root */
    double sigma, bound; /* sigma_max(W_hh), 1/gamma (NaN for gated cells) */
    double forget, gsat, csat, cdead; /* gate health */
    double clip;         /* suggested clipping norm */
    bool clipping, guard;
    bool advised;        /* the per-layer rules already advise clipping and the guard (they found exploding) */
    const double *th;    /* the diag's thresholds */
} obs;

static double stat_of(const gf_diag *d, int32_t layer, int32_t stat)
{
    const double *p = gfi_diag_at(d, 0, layer, stat);
    return p ? *p : NAN;
}

static bool is_recurrent(const gf_layer *l)
{
    return l->kind == GF_LAYER_RNN || l->kind == GF_LAYER_LSTM || l->kind == GF_LAYER_GRU;
}

/* 5x the median weight-gradient norm of the layer over the held records that are finite and within 10x of
 * the smallest (the unexploded ones), as verdict.c does for the net; 1.0 without 4 of them. */
static double suggest_clip(const gf_diag *d, int32_t layer)
{
    double v[256], lo = INFINITY;
    int32_t n = 0, k = 0;
    for (int32_t a = 0; a < d->count && n < 256; a++) {
        const double *p = gfi_diag_at(d, a, layer, GF_STAT_WGRAD_NORM);
        if (p && isfinite(*p) && *p > 0) {
            v[n++] = *p;
            lo = fmin(lo, *p);
        }
    }
    for (int32_t a = 0; a < n; a++)
        if (v[a] <= 10 * lo)
            v[k++] = v[a];
    if (k < 4)
        return 1.0;
    qsort(v, (size_t)k, sizeof *v, gfi_cmp_double);
    return 5 * (k % 2 ? v[k / 2] : 0.5 * (v[k / 2 - 1] + v[k / 2]));
}

/* The median per-step rate of ||dL/dh_t|| over the last GFI_WINDOW records (GF_STAT_TIME_RATE), so that one batch
 * never moves a verdict (as the depth rules take medians); the latest rate when none is recorded. */
static double window_rate(const gf_diag *d, int32_t layer, double latest)
{
    double v[GFI_WINDOW_TIME];
    int32_t n = 0;
    for (int32_t a = 0; a < d->count && n < GFI_WINDOW_TIME; a++) {
        const double *p = gfi_diag_at(d, a, layer, GF_STAT_TIME_RATE);
        if (p && isfinite(*p))
            v[n++] = *p;
    }
    if (n == 0)
        return latest;
    qsort(v, (size_t)n, sizeof *v, gfi_cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* The layer's observation; false for a layer the rules do not judge. */
static bool observe(const gf_diag *d, int32_t layer, uint32_t base, obs *o)
{
    const gf_net *net = d->net;
    if (!net || net->magic != GFI_MAGIC_NET || d->count == 0 || layer < 0 || layer >= net->nlayers ||
        layer >= d->nlayers || !is_recurrent(net->layers[layer]))
        return false;
    *o = (obs){.l = net->layers[layer], .layer = layer, .th = d->threshold};
    if (!gfi_rec_time_span(o->l, &o->first, &o->last, &o->n) || o->n < 1)
        return false;
    o->rate = window_rate(d, layer, pow(o->first / o->last, 1.0 / (double)o->n));
    o->gain = pow(o->rate, (double)o->n);
    o->sigma = stat_of(d, layer, GF_STAT_RECURRENT_SIGMA);
    o->bound = stat_of(d, layer, GF_STAT_RECURRENT_BOUND);
    o->forget = stat_of(d, layer, GF_STAT_FORGET_GATE_MEAN);
    o->gsat = stat_of(d, layer, GF_STAT_GATE_SATURATED_FRAC);
    o->csat = stat_of(d, layer, GF_STAT_CANDIDATE_SATURATED_FRAC);
    o->cdead = stat_of(d, layer, GF_STAT_CANDIDATE_DEAD_FRAC);
    o->clip = suggest_clip(d, layer);
    o->clipping = net->clip_mode != GF_CLIP_NONE;
    o->guard = d->guard;
    o->advised = (base >> GF_VERDICT_EXPLODING) & 1u;
    return true;
}

/* ---- the signals ---- */

static bool exploding_fires(const obs *o)
{
    return isfinite(o->first) && isfinite(o->last) && o->first >= o->th[GF_TH_TIME_EXPLODE_FLOOR] && o->last > 0.0 &&
           o->gain > o->th[GF_TH_TIME_EXPLODE];
}

/* A gated cell (LSTM, GRU) carries its state through its forget (update) gate: the gradient keeps f per step along
 * the cell, and what training does about a fading profile depends on where f sits on its sigmoid.  In the
 * sensitive range its bias receives f (1 - f) of the gradient and moves, so the gate opens where the task needs
 * memory: that is why a forget bias of 1 (f ~ 0.73, Gers et al. 2000; Jozefowicz et al. 2015) and a default GRU
 * (z ~ 0.5) learn long-range tasks though at init 0.73^50 ~ 1e-7 reaches the first step.  Below GF_TH_GATE_SHUT =
 * sigmoid(-2) = 0.12 the gate is saturated shut (f (1 - f) under 40 % of its peak and falling as e^logit): the
 * memory is cut and stays cut.  So a gated cell vanishes when the gain is under the threshold and its gate is shut. */
static bool gate_shut(const obs *o) { return o->l->kind == GF_LAYER_RNN || !(o->forget >= o->th[GF_TH_GATE_SHUT]); }

static bool vanishing_fires(const obs *o)
{
    return isfinite(o->first) && isfinite(o->last) && o->last >= o->th[GF_TH_TIME_VANISH_FLOOR] &&
           o->gain < o->th[GF_TH_TIME_VANISH] && gate_shut(o);
}

/* ---- reasons ---- */

static void put_profile(const obs *o, gfi_sink *s)
{
    if (gfi_rec_carried_only(o->l)) {
        gfi_sink_put(s, "a step carries x%.3g of its gradient back to the state before, x%.2g over %lld steps (with an "
                        "output at every step each step's own loss adds its gradient: ||dL/dh_t|| goes from %.2g at "
                        "the last step to %.2g at step %lld)",
                     o->rate, o->gain, (long long)o->n, o->last, o->first, (long long)(o->l->aux[RA_T] - o->n));
        return;
    }
    gfi_sink_put(s, "||dL/dh_t|| goes from %.2g at the last step to %.2g at step %lld, x%.3g per step back over %lld "
                    "steps (x%.2g in all)",
                 o->last, o->first, (long long)(o->l->aux[RA_T] - o->n), o->rate, (long long)o->n, o->gain);
}

static void put_bound(const obs *o, gfi_sink *s)
{
    if (isnan(o->bound)) {
        gfi_sink_put(s, "; sigma_max(W_hh) %.3g", o->sigma);
        return;
    }
    gfi_sink_put(s, "; sigma_max(W_hh) %.3g is %s the bound 1/gamma = %g (%s)", o->sigma,
                 o->sigma < o->bound ? "under" : "over", o->bound,
                 o->sigma < o->bound ? "vanishing is certain below it" : "needed for exploding");
}

static void put_gates(const obs *o, gfi_sink *s)
{
    if (o->l->kind == GF_LAYER_RNN)
        return;
    gfi_sink_put(s, "; mean %s gate %.2f, %.0f%% of gate values saturated", o->l->kind == GF_LAYER_LSTM ? "forget" : "update",
                 o->forget, 100 * o->gsat);
}

static void exploding_reason(const obs *o, gfi_sink *s)
{
    gfi_sink_put(s, "the gradient grows going back in time: ");
    put_profile(o, s);
    gfi_sink_put(s, ", over x%g", o->th[GF_TH_TIME_EXPLODE]);
    put_bound(o, s);
    put_gates(o, s);
}

static void vanishing_reason(const obs *o, gfi_sink *s)
{
    gfi_sink_put(s, "the gradient fades going back in time: ");
    put_profile(o, s);
    gfi_sink_put(s, ", under x%g", o->th[GF_TH_TIME_VANISH]);
    put_bound(o, s);
    put_gates(o, s);
    if (o->l->kind == GF_LAYER_RNN && o->csat > 0)
        gfi_sink_put(s, "; %.0f%% of the hidden units are saturated at every step", 100 * o->csat);
}

/* ---- remedies, checked on a scratch copy ---- */

/* A change a remedy proposes, applied to the copy's recurrent layer: GF_OK, or why it could not be. */
typedef int (*change_fn)(gf_layer *l, const obs *o);

/* What one pass of a scratch copy on the net's last training input showed, judged by the same rules. */
typedef struct {
    bool ok;          /* false: no training input yet, weights not finite, or out of memory */
    double gain;      /* ||dL/dh|| at the first state over the last (+Inf on overflow) */
    int64_t n;
    double forget;    /* mean forget (update) gate; NaN for an RNN */
    uint32_t flags;   /* the verdict bits the rules across time find */
    bool probed;      /* run on a probe batch (no training input held), not on the last input */
    bool nomem;       /* not ok because memory ran out: the whole text fails (GF_ERR_NOMEM), so that a size query
                       * and the fill that follows it never disagree */
} copy_view;

static uint32_t layer_flags(const gf_diag *d, int32_t layer);

/* Runs copy (destroyed here; NULL: could not be made, made_rc saying why) through scratch.c's observed pass on the
 * net's last training input (a probe batch when none is held: a larger batch since resized the buffers), with the
 * diag's thresholds, and judges its recurrent layer. */
static copy_view judge_copy(const gf_diag *d, gf_net *copy, int made_rc, int32_t layer)
{
    const gf_net *net = d->net;
    copy_view v = {.gain = NAN, .forget = NAN};
    gf_diag *cd = NULL;
    obs o;
    bool held = net->xcopy && net->xcopy_batch > 0;
    v.probed = !held;
    int rc = copy ? gfi_scratch_time_pass(copy, held ? net->xcopy : NULL, held ? net->xcopy_batch : 64, d->threshold,
                                          &cd)
                  : made_rc;
    v.nomem = rc == GF_ERR_NOMEM;
    if (copy && !rc && observe(cd, layer, 0, &o)) {
        v.ok = true;
        v.gain = isfinite(o.first) && isfinite(o.last) && o.last > 0 ? o.first / o.last : INFINITY;
        v.n = o.n;
        v.forget = o.forget;
        v.flags = layer_flags(cd, layer);
    }
    gf_diag_destroy(cd);
    gf_net_destroy(copy);
    return v;
}

/* A clone of the net with its current weights (scratch.c), with change applied to its recurrent layer; NULL with
 * *rc saying why when it cannot be made or changed. */
static gf_net *changed_clone(const gf_diag *d, const obs *o, change_fn change, int *rc)
{
    gf_net *copy = gfi_scratch_clone(d->net, rc);
    if (copy && change && (*rc = change(copy->layers[o->layer], o))) {
        gf_net_destroy(copy);
        copy = NULL;
    }
    return copy;
}

/* weight_hh_l0 orthogonal with sigma_max 1 (rows x H, semi-orthogonal for the gated kinds), from a fixed seed. */
static int make_orthogonal(gf_layer *l, const obs *o)
{
    (void)o;
    int32_t b;
    gf_init *init;
    int rc = gf_layer_param_block_find(l, "weight_hh_l0", &b);
    if (rc || (rc = gf_init_create(&init, GF_INIT_ORTHOGONAL)))
        return rc;
    int64_t dims[2];
    int32_t rank;
    size_t n = (size_t)gf_layer_param_block_size(l, b);
    float *w = gfi_malloc(n * sizeof *w);
    rc = w ? gf_layer_param_block_dims(l, b, dims, 2, &rank) : GF_ERR_NOMEM;
    if (!rc)
        rc = gf_init_fill(init, w, n, dims[0], dims[1], 1);
    if (!rc)
        rc = gf_layer_set_param(l, b, w, n);
    gfi_free(w);
    gf_init_destroy(init);
    return rc;
}

/* Backpropagation truncated to the steps safe_truncation gives (the copy's option set directly: a layer in a
 * net takes no option through the API). */
static int64_t safe_truncation(const obs *o);
static int truncate_to_safe(gf_layer *l, const obs *o)
{
    l->opt[GF_LAYER_TRUNCATE] = (double)safe_truncation(o);
    l->aux[RA_TRUNC] = safe_truncation(o);
    return GF_OK;
}

/* The gate bias shift a vanishing gated cell's remedy proposes (logit scale), and its application to the
 * forget (LSTM) or update (GRU) slice of bias_ih_l0. */
static double gate_shift(const obs *o);
static int shift_gate_bias(gf_layer *l, const obs *o)
{
    int64_t H = l->aux[RA_H];
    for (int64_t j = 0; j < H; j++)
        l->b[H + j] += (float)gate_shift(o);
    return GF_OK;
}

/* A gain as text: "x3.2e-05 over 50 steps", "an overflow", "nothing". */
static void put_gain(gfi_sink *s, double g, int64_t n)
{
    if (isinf(g))
        gfi_sink_put(s, "an overflow");
    else if (g == 0.0)
        gfi_sink_put(s, "nothing");
    else
        gfi_sink_put(s, "x%.3g over %lld steps", g, (long long)n);
}

/* What the rules across time say of a changed copy, against the condition the change is for: a change that ends an
 * explosion is not "not enough" because the copy then reads vanishing (an exploding ReLU RNN with an orthogonal
 * weight_hh_l0 reads so on its current weights, and solved the adding problem when started that way). */
static void put_verdict_of_copy(const copy_view *v, int32_t cures, gfi_sink *s)
{
    int32_t now = v->flags & (1u << GF_VERDICT_EXPLODING) ? GF_VERDICT_EXPLODING : GF_VERDICT_VANISHING;
    const char *name = now == GF_VERDICT_EXPLODING ? "exploding" : "vanishing";
    if (!v->flags)
        gfi_sink_put(s, ": the rules across time find nothing)");
    else if (now == cures)
        gfi_sink_put(s, ": still %s, not enough on its own)", name);
    else
        gfi_sink_put(s, ": no longer %s; the rules across time read %s on these weights)",
                     cures == GF_VERDICT_EXPLODING ? "exploding" : "vanishing", name);
}

static void put_unchecked(gfi_sink *s)
{
    gfi_sink_put(s, " (not checked: the net's weights are not finite or memory ran out)");
}

static const char *input_of(const copy_view *v) { return v->probed ? "a probe batch" : "the last input"; }

/* " (checked on a copy of the net ...)": what reaches the first state the gradient gets to, relative to the last
 * state, on clones of the net with its current weights and last training input, before and after the change, and
 * what the rules across time say of the changed clone, against `cures` (the condition the change is for). */
static void put_check(const gf_diag *d, const obs *o, change_fn change, int32_t cures, gfi_sink *s)
{
    int rb = GF_OK, ra = GF_OK;
    gf_net *cb = changed_clone(d, o, NULL, &rb);
    copy_view before = judge_copy(d, cb, rb, o->layer);
    gf_net *ca = changed_clone(d, o, change, &ra);
    copy_view after = judge_copy(d, ca, ra, o->layer);
    if (before.nomem || after.nomem) {
        s->rc = GF_ERR_NOMEM;
        return;
    }
    if (!before.ok || !after.ok) {
        put_unchecked(s);
        return;
    }
    gfi_sink_put(s, " (checked on a copy of the net with its current weights, on %s: ", input_of(&after));
    put_gain(s, before.gain, before.n);
    gfi_sink_put(s, " before, ");
    put_gain(s, after.gain, after.n);
    gfi_sink_put(s, " after");
    put_verdict_of_copy(&after, cures, s);
}

/* The switch to a gated kind, checked on a fresh copy of the net built with it in the RNN's place (scratch.c's
 * gfi_scratch_net, the same seed): the rules across time must find nothing there. */
static bool put_switch_check(const gf_diag *d, const obs *o, int32_t kind, gfi_sink *s)
{
    gfi_change ch = gfi_no_change();
    ch.rec = kind;
    gf_net *copy = gfi_scratch_net(d->net, &ch); /* NULL only when out of memory */
    copy_view v = judge_copy(d, copy, copy ? GF_OK : GF_ERR_NOMEM, o->layer);
    if (v.nomem)
        s->rc = GF_ERR_NOMEM;
    if (!v.ok || v.flags)
        return false;
    gfi_sink_put(s, "switch to %s of the same %lld units (gf_net_add_%s), whose gated state carries the gradient across "
                    "the %lld steps (checked on a fresh copy of the net built with it, on %s: ",
                 kind == GF_LAYER_LSTM ? "an LSTM" : "a GRU", (long long)o->l->aux[RA_H],
                 kind == GF_LAYER_LSTM ? "lstm" : "gru", (long long)o->n, input_of(&v));
    put_gain(s, v.gain, v.n);
    gfi_sink_put(s, " with a mean %s gate of %.2f, open, so training can keep what the task needs",
                 kind == GF_LAYER_LSTM ? "forget" : "update", v.forget);
    put_verdict_of_copy(&v, GF_VERDICT_VANISHING, s);
    return true;
}

/* Clipping, checked by CLIP_STEPS training steps of clones of the net (current weights, last batch) with and
 * without it.  The clip first proposed is 5x the gradient norm of the unexploded records, but a net exploding from
 * its first step has none: the proposal (5e4 to 8e11 on a ReLU RNN at 2 Q) then never engages, and the check read
 * the same run twice as a pass.  So the proposal and each tenth of it down to 1e-3 are tried, largest first; the
 * first that engages (its run differs from the one without) and keeps the copy finite with its loss falling is
 * the remedy, and *clip says which.  If none does, the check says so. */
#define CLIP_STEPS 30
#define CLIP_TRIES 10

/* The run of a clone of net with a global norm clip of clip (0: none). */
static int clip_run(const gf_net *net, double clip, gfi_run *r)
{
    int rc = GF_OK;
    gf_net *c = gfi_scratch_clone(net, &rc);
    if (!c)
        return rc ? rc : GF_ERR_NOMEM;
    if (clip > 0) {
        c->clip_mode = GF_CLIP_NORM;
        c->clip_value = clip;
    }
    rc = gfi_scratch_train(c, net->xcopy, net->xcopy_batch, 1.0, CLIP_STEPS, r);
    gf_net_destroy(c);
    return rc;
}

static bool same_run(const gfi_run *a, const gfi_run *b)
{
    return a->finite == b->finite && a->steps == b->steps && a->first == b->first && a->last == b->last;
}

static void put_clip_check(const gf_diag *d, double *clip, gfi_sink *s)
{
    const gf_net *net = d->net;
    if (!net->xcopy || net->xcopy_batch <= 0) {
        gfi_sink_put(s, " (not checked: no training batch is held, a larger batch since resized the buffers)");
        return;
    }
    gfi_run a = {0}, b = {0};
    int rc = clip_run(net, 0, &b);
    bool found = false;
    double c = *clip;
    for (int k = 0; !rc && k < CLIP_TRIES && !found; k++, c /= 10) {
        rc = clip_run(net, c, &a);
        found = !rc && !same_run(&a, &b) && a.finite && a.last < a.first;
    }
    if (rc == GF_ERR_NOMEM) {
        s->rc = GF_ERR_NOMEM;
        return;
    }
    if (rc) {
        put_unchecked(s);
        return;
    }
    if (!found) {
        gfi_sink_put(s, " (checked: %d steps of a copy of the net on the last batch: neither %.3g nor any tenth of it "
                        "down to %.3g engaged and kept the loss finite and falling; not enough on its own)",
                     CLIP_STEPS, *clip, *clip / pow(10, CLIP_TRIES - 1));
        return;
    }
    *clip = c * 10; /* the loop divided once more */
    gfi_sink_put(s, " (checked: %d steps of a copy of the net on the last batch stay finite with it, loss %.3g -> %.3g",
                 CLIP_STEPS, a.first, a.last);
    if (b.finite)
        gfi_sink_put(s, "; %.3g -> %.3g without)", b.first, b.last);
    else
        gfi_sink_put(s, "; without it they overflow after %d steps)", (int)b.steps + 1);
}

static double clip_norm(const obs *o) { return o->clip; }

static bool orthogonal_already(const gf_layer *l) { return l->winit.kind == GF_INIT_ORTHOGONAL; }

/* Steps over which the measured growth stays within GF_TH_TIME_EXPLODE. */
static int64_t safe_truncation(const obs *o)
{
    if (!(o->rate > 1.0))
        return o->n;
    double k = floor(log(o->th[GF_TH_TIME_EXPLODE]) / log(o->rate));
    return k < 1 ? 1 : k < (double)o->n ? (int64_t)k : o->n;
}

static void exploding_remedy(const gf_diag *d, const obs *o, gfi_sink *s)
{
    bool any = false;
    if (!o->clipping && !o->advised) {
        /* The check picks the value, so the advice is written after it. */
        double clip = clip_norm(o);
        char buf[512];
        gfi_sink check = {buf, sizeof buf, 0, 0};
        put_clip_check(d, &clip, &check);
        buf[check.len < sizeof buf ? check.len : sizeof buf - 1] = '\0';
        if (check.rc == GF_ERR_NOMEM)
            s->rc = GF_ERR_NOMEM;
        gfi_sink_put(s, "clip the global gradient norm at %.3g (gf_net_set_clip(net, GF_CLIP_NORM, %.3g))%s", clip, clip,
                     buf);
        any = true;
    }
    if (o->l->kind == GF_LAYER_RNN && o->sigma > o->bound && !orthogonal_already(o->l)) {
        gfi_sink_put(s, "%sinit weight_hh_l0 orthogonal (GF_INIT_ORTHOGONAL, sigma_max 1 instead of %.3g)",
                     any ? "; " : "", o->sigma);
        put_check(d, o, make_orthogonal, GF_VERDICT_EXPLODING, s);
        any = true;
    }
    int64_t k = safe_truncation(o);
    if (k < o->n) {
        gfi_sink_put(s, "%struncate backpropagation to %lld steps (GF_LAYER_TRUNCATE), over which the growth stays "
                        "under x%g",
                     any ? "; " : "", (long long)k, o->th[GF_TH_TIME_EXPLODE]);
        put_check(d, o, truncate_to_safe, GF_VERDICT_EXPLODING, s);
        any = true;
    }
    if (!o->guard && !o->advised)
        gfi_sink_put(s, "%sturn on GF_DIAG_GUARD so that a non-finite step is refused and the weights stay intact",
                     any ? "; " : "");
}

/* The gate value that keeps the gradient above GF_TH_TIME_VANISH over n steps, and the bias shift to reach it
 * from the measured mean (on the logit scale). */
static double gate_needed(const obs *o) { return pow(o->th[GF_TH_TIME_VANISH], 1.0 / (double)o->n); }
static double logit(double p) { return log(p / (1.0 - p)); }
static double gate_shift(const obs *o)
{
    double f = fmin(fmax(o->forget, 1e-6), 1 - 1e-6);
    return logit(gate_needed(o)) - logit(f);
}

static void vanishing_remedy(const gf_diag *d, const obs *o, gfi_sink *s)
{
    const gf_layer *l = o->l;
    if (l->kind == GF_LAYER_RNN) {
        bool any = put_switch_check(d, o, GF_LAYER_LSTM, s) || put_switch_check(d, o, GF_LAYER_GRU, s);
        if (o->sigma < o->bound && !orthogonal_already(l)) {
            gfi_sink_put(s, "%sinit weight_hh_l0 orthogonal (GF_INIT_ORTHOGONAL: sigma_max 1 instead of %.3g)",
                         any ? "; or " : "", o->sigma);
            put_check(d, o, make_orthogonal, GF_VERDICT_VANISHING, s);
            any = true;
        }
        if (!any)
            gfi_sink_put(s, "no change checked on a copy of the net cured it: neither an LSTM or GRU in the RNN's place "
                            "nor an orthogonal weight_hh_l0 brought the gain across time to x%g or above",
                         o->th[GF_TH_TIME_VANISH]);
        return;
    }
    double want = gate_needed(o), f = fmin(fmax(o->forget, 1e-6), 1 - 1e-6);
    if (f < want) {
        double shift = gate_shift(o);
        if (l->kind == GF_LAYER_LSTM)
            gfi_sink_put(s, "raise the forget-gate bias from %g to %.2g (GF_LAYER_FORGET_BIAS): a mean forget gate of "
                            "%.3g instead of %.2f keeps x%g over %lld steps",
                         l->opt[GF_LAYER_FORGET_BIAS], l->opt[GF_LAYER_FORGET_BIAS] + shift, want, o->forget,
                         o->th[GF_TH_TIME_VANISH], (long long)o->n);
        else
            gfi_sink_put(s, "bias the update gate toward keeping the state: add %.2g to the z slice (rows H..2H) of "
                            "bias_ih_l0, for a mean update gate of %.3g instead of %.2f",
                         shift, want, o->forget);
        put_check(d, o, shift_gate_bias, GF_VERDICT_VANISHING, s);
    } else {
        gfi_sink_put(s, "the %s gates already keep the state (mean %.2f): the gradient fades through the other gates "
                        "(%.0f%% saturated); lower the learning rate or use Adam so they leave saturation",
                     l->kind == GF_LAYER_LSTM ? "forget" : "update", o->forget, 100 * o->gsat);
    }
    if (l->aux[RA_TRUNC] > 0)
        gfi_sink_put(s, "; truncation to %lld steps also cuts long-range gradient: raise GF_LAYER_TRUNCATE if the task "
                        "needs more",
                     (long long)l->aux[RA_TRUNC]);
}

/* ---- the rules ---- */

typedef struct rule {
    int32_t verdict;
    bool (*fires)(const obs *o);
    void (*reason)(const obs *o, gfi_sink *s);
    void (*remedy)(const gf_diag *d, const obs *o, gfi_sink *s); /* may check itself on a copy of the net */
} rule;

static const rule rules[] = {
    {GF_VERDICT_EXPLODING, exploding_fires, exploding_reason, exploding_remedy},
    {GF_VERDICT_VANISHING, vanishing_fires, vanishing_reason, vanishing_remedy},
};
#define NRULES (sizeof rules / sizeof *rules)

static uint32_t layer_flags(const gf_diag *d, int32_t layer)
{
    obs o;
    if (!observe(d, layer, 0, &o))
        return 0;
    uint32_t f = 0;
    for (size_t r = 0; r < NRULES; r++)
        if (rules[r].fires(&o))
            f |= 1u << rules[r].verdict;
    return f;
}

uint32_t gfi_time_flags(const gf_diag *d, int32_t layer)
{
    if (layer >= 0)
        return layer_flags(d, layer);
    uint32_t f = 0;
    for (int32_t i = 0; i < d->nlayers; i++)
        f |= layer_flags(d, i);
    return f;
}

static void layer_text(const gf_diag *d, int32_t layer, int which, uint32_t base, bool prefix, gfi_sink *s,
                       bool *first)
{
    obs o;
    if (!observe(d, layer, base, &o))
        return;
    for (size_t r = 0; r < NRULES; r++) {
        if (!rules[r].fires(&o))
            continue;
        if (!*first)
            gfi_sink_put(s, "; ");
        *first = false;
        if (prefix)
            gfi_sink_put(s, "layer %d: ", (int)layer);
        if (which == GFI_TEXT_REASON)
            rules[r].reason(&o, s);
        else
            rules[r].remedy(d, &o, s);
        break; /* the first rule that fires speaks for the layer: they are ordered by severity */
    }
}

void gfi_time_text(const gf_diag *d, int32_t layer, int which, uint32_t base, gfi_sink *s, bool *first)
{
    if (layer >= 0) {
        layer_text(d, layer, which, base, false, s, first);
        return;
    }
    for (int32_t i = 0; i < d->nlayers; i++)
        layer_text(d, i, which, base, true, s, first);
}
