/*
 * remedy.c — what to do about a verdict.  The rules found set what is wanted (a different init scale, a lower or
 * higher learning rate, other biases, a weaker penalty); each wanted change that touches the init or the learning
 * rate is computed from the measurements and then checked on a scratch copy of the net (scratch.c) before it is
 * printed, and the text says what the check showed.  One action per kind, so nothing is said twice, and none that
 * contradicts the net's settings (no guard advice with the guard on, no penalty advice without a penalty).
 * The checked plan is kept in the diag until the next observation, or until a setting it read changes (the guard,
 * the optimizer, loss, clipping, penalties, the weights), so the per-layer remedies of a report reuse it.
 */
#include "scratch.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum act_kind { A_OUT, A_OUT_BIAS, A_INIT, A_ACT, A_BIAS, A_REINIT, A_LR_DOWN, A_LR_UP, A_PENALTY, A_CLIP, A_GUARD, A_COUNT };

typedef struct {
    bool on;
    double value, from;
    char text[480];
} action;

struct gfi_remedy_cache {
    int64_t observed, steps;
    uint32_t settings; /* settings_print of the net the plan was made for */
    int32_t count;
    double th[GFI_NTHRESHOLD];
    bool valid;
    action a[A_COUNT];
    uint32_t wanted_by[A_COUNT]; /* the conditions that asked for each action */
    double l1, l2;               /* the penalty strengths A_PENALTY suggests (NaN: unchanged) */
};

/* Steps of a learning-rate check, and the rows of the batch it runs on. */
#define CHECK_STEPS 30
#define CHECK_ROWS 64

typedef struct {
    const gfi_judge *j;
    struct gfi_remedy_cache *c;
    gfi_change change; /* init / activation / bias changes chosen so far: the learning-rate checks run with them */
} planner;

static void say(action *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(action *a, const char *fmt, ...)
{
    size_t n = strlen(a->text);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->text + n, sizeof a->text - n, fmt, ap);
    va_end(ap);
}

/* ---- what the conditions ask for ---- */

static bool hidden_bias_negative(const gf_net *net)
{
    for (int32_t i = 0; i + 1 < net->nlayers; i++) {
        const gfi_init *b = &net->layers[i]->binit;
        if ((b->kind == GF_INIT_CONSTANT || b->kind == GF_INIT_NORMAL) && b->a < 0)
            return true;
    }
    return false;
}

/* ---- checks ---- */

/* What a probe of a scratch copy showed. */
typedef struct {
    uint32_t why;       /* the conditions found (net) */
    bool depth_ok;
    double gain, chi;   /* end to end, and per layer (mean square) */
    int32_t k;          /* hidden-to-hidden steps */
    double dead, sat;   /* the largest dead and saturated fractions of a hidden layer */
    double out_sat;     /* the output layer's saturated fraction */
    double conv;        /* the conv stack's end-to-end gain (NaN without conv layers) */
    int32_t conv_k;     /* the conv layers above the first, whose weights it passes through */
} probed;

static void summarize(const gfi_judge *j, probed *r)
{
    r->why = j->net_why;
    r->depth_ok = j->depth.ok;
    r->gain = j->depth.gain;
    r->chi = j->depth.chi;
    r->k = j->depth.top - j->depth.lo;
    r->conv = j->conv_gain;
    r->conv_k = j->conv.layers - 1;
    r->dead = r->sat = 0;
    for (int32_t i = 0; i + 1 < j->L; i++) {
        double v = gfi_j_window(j, i, GF_STAT_DEAD_FRAC);
        if (isfinite(v))
            r->dead = fmax(r->dead, v);
        r->sat = fmax(r->sat, gfi_j_saturation(j, i));
    }
    r->out_sat = j->L > 0 ? gfi_j_saturation(j, j->L - 1) : 0;
}

/* Probes a scratch copy of the net with change into r; false if it could not be built.  j2 is scratch space. */
static bool probe_change(const gf_net *net, const gfi_change *ch, gfi_judge *j2, probed *r)
{
    gf_net *s = gfi_scratch_net(net, ch);
    gf_diag *d = NULL;
    bool ok = s && gfi_scratch_probe(s, j2, &d) == GF_OK;
    if (ok)
        summarize(j2, r);
    gf_diag_destroy(d);
    gf_net_destroy(s);
    return ok;
}

/* ", x0.7 through the conv layers" after a probe's end-to-end gain, for a net with conv layers. */
static void say_conv(action *a, const probed *r)
{
    if (isfinite(r->conv))
        say(a, ", x%.3g through the conv layers", r->conv);
}

static bool depth_healthy(const probed *r) { return !gfi_has(r->why, C_DEPTH_GROW) && !gfi_has(r->why, C_DEPTH_SHRINK); }
/* A probe of the copy finds no condition at all: a cure that saturates or kills units is no cure. */
static bool all_healthy(const probed *r) { return r->why == 0; }

static bool any(uint32_t why, uint32_t set) { return (why & set) != 0; }
#define CONV_CONDS ((1u << C_CONV_GAIN) | (1u << C_CONV_GROW))

/* Init factor for a conv stack whose gain G (rules.c, conv_end_gain) the probe of a fresh copy finds beyond the
 * thresholds: scaling every layer's weights by f multiplies G by f^k, k the conv layers above the first (the ReLU
 * family and identity are positively homogeneous, so the activations' shares stay), and f = G^(-1/k) brings it to
 * 1.  Re-probed up to four times; no scale cures a sigmoid stack (its activation is the remedy). */
static void plan_init_conv_gain(planner *p, gfi_judge *j2, probed r)
{
    gfi_change ch = p->change;
    double g0 = r.conv, f = 1.0;
    int32_t k = r.conv_k;
    if (k < 1 || !(g0 > 0))
        return;
    for (int round = 0; round < 4 && any(r.why, CONV_CONDS) && r.conv > 0; round++) {
        f *= pow(r.conv, -1.0 / k);
        ch.wscale = f;
        if (!probe_change(p->j->net, &ch, j2, &r))
            return;
    }
    if (!all_healthy(&r))
        return;
    action *a = &p->c->a[A_INIT];
    a->on = true;
    a->value = f;
    a->from = g0;
    p->change.wscale = f;
    say(a, "multiply the initial weights of the hidden layers by %.3g: the init passes x%.3g of the gradient through "
           "the %d conv layers, and a scale f multiplies that by f^%d (checked: a probe of a copy of the net "
           "initialized that way gives x%.3g through the conv layers and finds no condition)",
        f, g0, (int)k + 1, (int)k, r.conv);
}

/* Init factor: a probe of a fresh copy gives the init's own end-to-end gain g = chi^(k/2); scaling every hidden
 * layer's weights by f multiplies chi by f^2 for the ReLU family and identity (positively homogeneous), so
 * f = chi^(-1/2) brings g to 1.  Other activations are not homogeneous: repeat on the copy until g is within x2
 * of 1 (four rounds at most). */
static void plan_init_gain(planner *p, gfi_judge *j2)
{
    const gf_net *net = p->j->net;
    gfi_change ch = p->change;
    probed r;
    if (!probe_change(net, &ch, j2, &r))
        return;
    if (any(r.why, CONV_CONDS)) {
        plan_init_conv_gain(p, j2, r);
        return;
    }
    if (!r.depth_ok || depth_healthy(&r))
        return; /* the init is right: training moved the weights (step size, penalty: their own actions) */
    double g0 = r.gain, f = 1.0;
    int32_t k = r.k;
    for (int round = 0; round < 4 && r.depth_ok && fabs(log(r.gain)) > log(2.0); round++) {
        f *= r.chi > 0 ? 1.0 / sqrt(r.chi) : 2.0;
        ch.wscale = f;
        if (!probe_change(net, &ch, j2, &r))
            return;
    }
    if (!r.depth_ok || !all_healthy(&r))
        return; /* no scale cures it (sigmoid): the activation must change */
    action *a = &p->c->a[A_INIT];
    a->on = true;
    a->value = f;
    a->from = g0;
    p->change.wscale = f;
    say(a, "multiply the initial weights of the hidden layers by %.3g: the init's delta gain is x%.3g end to end, x%.3g "
           "per layer, and a scale f multiplies that per-layer gain by f",
        f, g0, pow(g0, 1.0 / k));
    say(a, " (checked: a probe of a copy of the net initialized that way gives x%.3g end to end", r.gain);
    say_conv(a, &r);
    say(a, ")");
}

/* Saturation: halve the initial weights until a probe of the copy finds no condition; nothing when the copy as
 * initialized does not saturate (training, or weights set by hand, put the units there: no init scale is the cure). */
static void plan_init_saturation(planner *p, gfi_judge *j2)
{
    gfi_change ch = p->change;
    probed r = {0};
    double f = 1.0;
    bool cured = false;
    if (!probe_change(p->j->net, &ch, j2, &r) || r.sat < p->j->th[GF_TH_SATURATED_FRAC])
        return;
    for (int round = 0; round < 8 && !cured; round++) {
        f *= 0.5;
        ch.wscale = f;
        if (!probe_change(p->j->net, &ch, j2, &r))
            return;
        cured = all_healthy(&r);
    }
    if (!cured)
        return;
    action *a = &p->c->a[A_INIT];
    a->on = true;
    a->value = f;
    p->change.wscale = f;
    say(a, "multiply the initial weights of the hidden layers by %.3g so the pre-activations stay out of the flat tails "
           "(checked: a probe of a copy initialized that way has at most %.0f%% of any layer saturated",
        f, 100 * r.sat);
    if (r.depth_ok)
        say(a, ", and delta x%.3g end to end", r.gain);
    say(a, ")");
}

/* A different hidden activation, with He init: ReLU for vanishing sigmoid/tanh nets, leaky ReLU for dead units. */
static void plan_activation(planner *p, int32_t kind, gfi_judge *j2)
{
    gfi_change ch = p->change;
    ch.act = kind;
    ch.wscale = 1.0;
    probed r;
    if (!probe_change(p->j->net, &ch, j2, &r) || !all_healthy(&r))
        return;
    action *a = &p->c->a[A_ACT];
    a->on = true;
    a->value = kind;
    p->change = ch;
    say(a, "use %s with He init (std sqrt(2/fan_in)) in the hidden layers (checked: a probe of a copy built that way",
        kind == GF_ACT_LEAKY_RELU ? "leaky ReLU (slope 0.01)" : "ReLU");
    /* A net of one or two hidden layers has no depth to measure a gain over (r.gain is then 0, not a gain). */
    bool conv = isfinite(r.conv);
    if (r.depth_ok)
        say(a, " gives delta x%.3g end to end", r.gain);
    if (conv)
        say(a, r.depth_ok ? ", x%.3g through the conv layers" : " gives delta x%.3g through the conv layers", r.conv);
    say(a, r.depth_ok || conv ? " and no dead or saturated layer)" : " has no dead or saturated layer)");
}

static double largest_dead(const gfi_judge *j)
{
    double m = 0;
    for (int32_t i = 0; i + 1 < j->L; i++) {
        double v = gfi_j_window(j, i, GF_STAT_DEAD_FRAC);
        if (isfinite(v))
            m = fmax(m, v);
    }
    return m;
}

/* Biases that put the units on the negative side for every sample: back to 0. */
static void plan_bias(planner *p, gfi_judge *j2)
{
    gfi_change ch = p->change;
    ch.bias_set = true;
    ch.bias = 0.0;
    probed r;
    if (!probe_change(p->j->net, &ch, j2, &r) || !all_healthy(&r))
        return;
    action *a = &p->c->a[A_BIAS];
    a->on = true;
    p->change = ch;
    say(a, "set the hidden layers' bias init to 0: negative biases keep the units on their negative side (checked: a "
           "probe of a copy with bias 0 has at most %.0f%% of any layer's units dead, against %.0f%% now",
        100 * r.dead, 100 * largest_dead(p->j));
    if (r.depth_ok)
        say(a, ", and delta x%.3g end to end", r.gain);
    say(a, ")");
}

static bool train_with(const planner *p, const gfi_change *with, double lr, gfi_run *r)
{
    const gf_net *net = p->j->net;
    /* The last training batch (xcopy_batch rows): net->batch is that of the latest forward of any kind, and a
     * prediction at a larger batch re-sizes xcopy with nothing in it. */
    if (!net->xcopy || net->xcopy_batch < 1)
        return false;
    gfi_change ch = *with;
    ch.lr = lr;
    gf_net *s = gfi_scratch_net(net, &ch);
    int64_t rows = net->xcopy_batch < CHECK_ROWS ? net->xcopy_batch : CHECK_ROWS;
    bool ok = s && gfi_scratch_train(s, net->xcopy, rows, 1.0, CHECK_STEPS, r) == GF_OK;
    gf_net_destroy(s);
    return ok;
}

static bool train_change(const planner *p, double lr, gfi_run *r) { return train_with(p, &p->change, lr, r); }

static const char *opt_name(const gf_net *net) { return gfi_opt_name(net->opt ? net->opt->kind : GF_OPT_SGD); }

static void put_run(action *a, const gfi_run *r, double lr)
{
    if (!r->finite)
        say(a, "at %g the loss was NaN/Inf after %d steps", lr, (int)r->steps + 1);
    else
        say(a, "at %g it went %.3g -> %.3g (highest %.3g)", lr, r->first, r->last, r->high);
}

/* The loss applies its own sigmoid (BCE on logits) or softmax (softmax cross-entropy) to what the output layer gives. */
static const char *loss_squashes(const gf_net *net)
{
    int32_t k = net->loss.kind;
    return k == GF_LOSS_BCE_LOGITS ? "sigmoid" : k == GF_LOSS_SOFTMAX_CE || k == GF_LOSS_SOFTMAX_CE_LABELS ? "softmax" : NULL;
}

/* A saturating activation on the output layer in front of a loss that squashes its input itself: the loss reads
 * sigmoid(z), in (0, 1), as its logits, so it can never be confident (BCE on logits in (0, 1) stays above
 * softplus(-1) = 0.31 for a 1 and ln 2 for a 0), and its gradient keeps pushing z into the tails, where the
 * activation passes nothing.  Checked by CHECK_STEPS steps of fresh copies on the net's last batch, with an identity
 * output and with the net's own: the identity copy must be stable and end lower. */
static void plan_output(planner *p)
{
    const gfi_judge *j = p->j;
    const gf_net *net = j->net;
    int32_t last = j->L - 1, act = gfi_j_act(j, last);
    const char *squash = loss_squashes(net);
    if (last < 0 || !squash || !gfi_act_is_saturating(act) || !gfi_has(gfi_j_why_at(j, last), C_SATURATED))
        return;
    gfi_change ch = p->change;
    ch.out_act = GF_ACT_IDENTITY;
    gfi_run r0, r;
    if (!train_with(p, &p->change, j->lr, &r0) || !train_with(p, &ch, j->lr, &r) || !gfi_run_stable(&r) ||
        !(r.last < r0.last))
        return;
    action *a = &p->c->a[A_OUT];
    a->on = true;
    a->value = GF_ACT_IDENTITY;
    p->change = ch;
    say(a, "remove the output activation (identity): the loss already applies the %s, so the %s output is squashed "
           "twice, the loss can never be confident and its gradient drives the output layer into the %s's flat tails "
           "(checked: %d %s steps of a fresh copy with an identity output on the last batch: ",
        squash, gf_activation_name(act), gf_activation_name(act), CHECK_STEPS, opt_name(net));
    put_run(a, &r, j->lr);
    say(a, "; with the %s output ", gf_activation_name(act));
    put_run(a, &r0, j->lr);
    say(a, ")");
}

/* The output layer's own bias init in a sigmoid or tanh output's flat tails (a constant, or a normal's mean: -10 gives
 * sigmoid'(-10) = 4.5e-5): every sample's output starts at an asymptote and passes back nothing, whatever the targets
 * and the hidden layers.  A probe of a fresh copy has no targets and finds the hidden layers sound, so no condition
 * shows it; the check is the output layer's own saturated share, which the copy with output bias 0 must have under
 * the threshold where the copy with the net's bias init has it over, with no condition found. */
static void plan_output_bias(planner *p, gfi_judge *j2)
{
    const gfi_judge *j = p->j;
    const gf_net *net = j->net;
    int32_t last = j->L - 1, act = gfi_j_act(j, last);
    if (last < 0 || last != net->nlayers - 1 || !gfi_act_is_saturating(act) || !gfi_has(gfi_j_why_at(j, last), C_SATURATED))
        return;
    const gfi_init *b = &net->layers[last]->binit;
    if (!(b->kind == GF_INIT_CONSTANT || b->kind == GF_INIT_NORMAL) || b->a == 0)
        return;
    double th = j->th[GF_TH_SATURATED_FRAC], from = b->a;
    gfi_change ch = p->change;
    probed r0, r;
    if (!probe_change(net, &ch, j2, &r0) || !(r0.out_sat >= th))
        return;
    ch.out_bias_set = true;
    ch.out_bias = 0.0;
    if (!probe_change(net, &ch, j2, &r) || !(r.out_sat < th) || !all_healthy(&r))
        return;
    action *a = &p->c->a[A_OUT_BIAS];
    a->on = true;
    a->value = 0.0;
    a->from = from;
    p->change = ch;
    say(a, "set the output layer's bias init to 0: its %s %g puts the %s output in its flat tails for every sample, "
           "where it passes back nothing (checked: a probe of a copy with output bias 0 has %.0f%% of the output "
           "saturated, against %.0f%% with %g, and finds no condition)",
        b->kind == GF_INIT_CONSTANT ? "constant" : "mean", from, gf_activation_name(act), 100 * r.out_sat,
        100 * r0.out_sat, from);
}

/* The layer whose weights training began with are furthest from what its init draws (a fresh copy of the net, same
 * seed, has the init's own): -1 when every layer is within x10 of it or nothing is known.  An init draws a layer's
 * weights with an rms within a few percent of its std, so x10 is weights set by hand or loaded. */
static int32_t weights_off_init(const gfi_judge *j, double *ratio, double *began, double *drawn)
{
    const gf_net *net = j->net;
    gfi_change none = gfi_no_change();
    gf_net *s = gfi_scratch_net(net, &none);
    int32_t at = -1;
    double worst = 10.0;
    for (int32_t i = 0; s && i < j->L && i < s->nlayers; i++) {
        const gf_layer *l = s->layers[i];
        double w0 = gfi_j_early_weight_rms(j, i), sq = 0;
        if (l->nweights < 1 || !(w0 > 0) || !isfinite(w0))
            continue;
        for (size_t k = 0; k < l->nweights; k++)
            sq += (double)l->w[k] * l->w[k];
        double fresh = sqrt(sq / (double)l->nweights), r = w0 / fresh;
        if (fresh > 0 && fmax(r, 1 / r) > worst) {
            worst = fmax(r, 1 / r);
            at = i;
            *ratio = r, *began = w0, *drawn = fresh;
        }
    }
    gf_net_destroy(s);
    return at;
}

/* Weights that began training far from the init's: every check of a rate runs on a fresh copy, whose weights are the
 * init's, so a lower rate it calls stable says nothing of this net (x30 on one layer by hand: the copy was stable at
 * the net's own rate, and the "checked" lower rate, followed, still blew up).  Re-initializing is the change the
 * fresh copy's run at the current rate checks. */
static void plan_reinit(planner *p)
{
    double ratio = 1, began = 0, drawn = 0;
    int32_t at = weights_off_init(p->j, &ratio, &began, &drawn);
    gfi_run r0;
    if (at < 0 || !train_change(p, p->j->lr, &r0))
        return;
    action *a = &p->c->a[A_REINIT];
    a->on = true;
    say(a, "re-initialize the weights (gf_net_reinit): layer %d began training with a weight rms of %.3g, x%.3g of the "
           "%.3g its init draws (set by hand or loaded), and a copy of the net as initialized is what the checks of a "
           "rate train (checked: %d %s steps of a fresh copy on the last batch: ",
        (int)at, began, ratio, drawn, CHECK_STEPS, opt_name(p->j->net));
    put_run(a, &r0, p->j->lr);
    say(a, "%s)", gfi_run_stable(&r0) ? ", stable at the current rate" : "");
}

/* The largest of lr/4, lr/10, ... lr/1e5 with which CHECK_STEPS steps of a fresh copy (with the init changes
 * chosen) on the net's last batch stay finite, never 1.5x above the first loss, and end lower, with a margin of 2 as
 * plan_lr_up keeps: twice the rate passes the check too, so a factor 2 of stable headroom is left.  A rate at the
 * edge passes a short check on one batch (Adam fits the batch even where it oscillates on the data: a 3 x 64 net
 * given lr/2 = 0.05 by the check read exploding on 57 - 75 of 150 checks of its run, and 0.025 was sound), and lr/2
 * never qualifies: its double is the rate training found unstable, whatever the short check said of it. */
static void plan_lr_down(planner *p)
{
    /* 1-2-5 steps below lr/10: a rate three decades too large (SGD at 5 on a He net) is still a rate to find. */
    static const double div[] = {4, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5};
    const gf_net *net = p->j->net;
    double lr = p->j->lr;
    gfi_run r0, r, r2;
    if (!train_change(p, lr, &r0))
        return;
    bool init_changed = p->change.wscale != 1.0 || p->change.act >= 0 || p->change.bias_set || p->c->a[A_REINIT].on;
    if (gfi_run_stable(&r0) && init_changed)
        return; /* the init change (or a fresh init) alone makes the current rate stable */
    action *a = &p->c->a[A_LR_DOWN];
    for (size_t k = 0; k < sizeof div / sizeof *div; k++) {
        double c = lr / div[k];
        if (!train_change(p, c, &r) || !gfi_run_stable(&r) || !train_change(p, 2 * c, &r2) || !gfi_run_stable(&r2))
            continue;
        a->on = true;
        a->value = c;
        a->from = lr;
        say(a, "lower the learning rate from %g to %g (checked: %d %s steps of a fresh copy%s on the last batch: ", lr, c,
            CHECK_STEPS, opt_name(net), init_changed ? " with the changes above" : "");
        put_run(a, &r, c);
        say(a, ", and %g is still stable; ", 2 * c);
        put_run(a, &r0, lr);
        say(a, "%s)", gfi_run_stable(&r0) ? ", stable in this short check too, so the instability builds up later" : "");
        return;
    }
}

/* Stagnation: the largest of lr x 1e5 ... x 10 that is stable with a margin of 2 (twice it is stable too) and
 * lowers the loss of the check clearly more than the current rate. */
static void plan_lr_up(planner *p)
{
    static const double mul[] = {1e5, 3e4, 1e4, 3e3, 1e3, 300, 100, 30, 10};
    double lr = p->j->lr;
    gfi_run r0, r, r2;
    if (!train_change(p, lr, &r0) || !r0.finite)
        return;
    double gain0 = r0.first - r0.last;
    action *a = &p->c->a[A_LR_UP];
    for (size_t k = 0; k < sizeof mul / sizeof *mul; k++) {
        double c = lr * mul[k];
        if (!train_change(p, c, &r) || !gfi_run_stable(&r) || !train_change(p, 2 * c, &r2) || !gfi_run_stable(&r2))
            continue;
        if (!(r.first - r.last > 3 * fmax(gain0, 0)))
            continue;
        a->on = true;
        a->value = c;
        a->from = lr;
        say(a, "raise the learning rate from %g to %g (checked: %d %s steps of a fresh copy on the last batch: ", lr, c,
            CHECK_STEPS, opt_name(p->j->net));
        put_run(a, &r, c);
        say(a, ", and %g is still stable; ", 2 * c);
        put_run(a, &r0, lr);
        say(a, ")");
        return;
    }
}

/* How far the latest gradients exceed the net's clipping (recorded before it is applied); 0 without clipping. */
static double clip_excess(const gfi_judge *j)
{
    const gf_net *net = j->net;
    if (!j->clipping || !(net->clip_value > 0))
        return 0;
    double total = 0, layer_max = 0, comp_max = 0;
    for (int32_t i = 0; i < j->L; i++) {
        double w = gfi_j_seen(j, i, GF_STAT_WGRAD_NORM), b = gfi_j_seen(j, i, GF_STAT_BGRAD_NORM);
        double l2 = (isfinite(w) ? w * w : 0) + (isfinite(b) ? b * b : 0);
        total += l2;
        layer_max = fmax(layer_max, sqrt(l2));
        comp_max = fmax(comp_max, fmax(gfi_j_seen(j, i, GF_STAT_WGRAD_MAXABS), gfi_j_seen(j, i, GF_STAT_BGRAD_MAXABS)));
    }
    double g = net->clip_mode == GF_CLIP_NORM ? sqrt(total) : net->clip_mode == GF_CLIP_LAYER_NORM ? layer_max : comp_max;
    return isfinite(g) ? g / net->clip_value : 0;
}

static void plan_clip(planner *p)
{
    double over = clip_excess(p->j);
    if (over <= 1)
        return;
    const gf_net *net = p->j->net;
    action *a = &p->c->a[A_CLIP];
    a->on = true;
    a->value = net->clip_value * over * 2;
    say(a, "gradient clipping cuts every step: the gradient is x%.2g over the clip %s %g; raise the clip to about %.3g "
           "(gf_net_set_clip) or turn it off before touching the learning rate",
        over, net->clip_mode == GF_CLIP_VALUE ? "value" : "norm", net->clip_value, net->clip_value * over * 2);
}

/* The strongest L1 and L2 of the net's and the layers' penalties. */
static void strongest_penalty(const gf_net *net, double *l1, double *l2)
{
    *l1 = net->has_pen ? net->pen.l1 : 0;
    *l2 = net->has_pen ? net->pen.l2 : 0;
    for (int32_t i = 0; i < net->nlayers; i++)
        if (net->layers[i]->has_pen) {
            *l1 = fmax(*l1, net->layers[i]->pen.l1);
            *l2 = fmax(*l2, net->layers[i]->pen.l2);
        }
}

/* Weights going to zero under a penalty: each step takes lr x L2 of every weight (and lr x L1 off its size);
 * a tenth of a percent per step (a factor 0.37 over 1000 steps) is where it starts to dominate the data's pull. */
static void plan_penalty(planner *p)
{
    const gfi_judge *j = p->j;
    double l1, l2, lr = j->lr, w0 = gfi_j_early_weight_rms(j, 0);
    strongest_penalty(j->net, &l1, &l2);
    double wd = j->net->opt && j->net->opt->kind == GF_OPT_ADAMW ? j->net->opt->weight_decay : 0;
    action *a = &p->c->a[A_PENALTY];
    p->c->l1 = p->c->l2 = NAN;
    if (l2 > 0 && lr * l2 > 1e-4) {
        a->on = true;
        p->c->l2 = 1e-4 / lr;
        say(a, "lower the L2 strength from %g to %.2g: at learning rate %g it takes %.2g%% of every weight per step "
               "(x%.2g over 1000 steps); at %.2g it takes 0.01%%",
            l2, 1e-4 / lr, lr, 100 * lr * l2, pow(1 - fmin(lr * l2, 1.0), 1000), 1e-4 / lr);
    }
    if (l1 > 0 && isfinite(w0) && lr * l1 > 1e-3 * w0) {
        say(a, "%slower the L1 strength from %g to %.2g: at learning rate %g it takes %.2g off every weight per step, "
               "%.2g%% of the initial weight rms %.2g",
            a->on ? "; " : "", l1, 1e-3 * w0 / lr, lr, lr * l1, 100 * lr * l1 / w0, w0);
        a->on = true;
        p->c->l1 = 1e-3 * w0 / lr;
    }
    if (wd > 0 && lr * wd > 1e-4) {
        say(a, "%slower AdamW's weight decay from %g to %.2g", a->on ? "; " : "", wd, 1e-4 / lr);
        a->on = true;
    }
}

/* ---- the plan ---- */

#define EXPLODE_BY_STEPS                                                                                               \
    ((1u << C_NONFINITE) | (1u << C_ORIGIN) | (1u << C_WEIGHT_GROWTH) | (1u << C_GRAD_AVALANCHE) |                      \
     (1u << C_LOSS_AVALANCHE) | (1u << C_LOSS_RISE))
#define DEPTH                                                                                                          \
    ((1u << C_DEPTH_GROW) | (1u << C_DEPTH_SHRINK) | (1u << C_FROZEN) | (1u << C_GRAD_FLOOR) | (1u << C_CONV_GAIN) |   \
     (1u << C_CONV_GROW))

static void note(planner *p, int act, uint32_t why) { p->c->wanted_by[act] |= why; }

/* The variance of the first layer's inputs (its activation variance over its gain); NaN when not known. */
static double input_variance(const gfi_judge *j)
{
    double gain = gfi_j_seen(j, 0, GF_STAT_ACT_GAIN);
    return gain > 0 && isfinite(gain) ? gfi_j_seen(j, 0, GF_STAT_ACT_VAR) / gain : NAN;
}

/* Inputs whose scale is off by more than x10 (variance beyond 100 or under 0.01; raw pixel values: ~5000): every
 * init assumes about 1 and scales the first layer's pre-activations with the inputs, and the checks on copies of the
 * net run on N(0,1) data, which cannot see it.  Pixels in [0, 1] (variance ~0.1) are within. */
#define INPUT_VAR_HIGH 100.0
#define INPUT_VAR_LOW GFI_INPUT_VAR_LOW
static bool inputs_off_scale(const gfi_judge *j)
{
    double v = input_variance(j);
    return isfinite(v) && (v > INPUT_VAR_HIGH || v < INPUT_VAR_LOW);
}

/* Regression targets whose scale is off by more than x10 the same way: the output layer must reach them, and the
 * weights it grows to (and the delta they then pass down) follow (a 4 x 64 ReLU net on targets of std 1000 read
 * "delta grows x254", and its checked lower rate fitted worse; standardized targets need neither).  Constant
 * targets (variance 0) cannot be standardized, and the bias alone reaches them: not off scale. */
static bool targets_off_scale(const gfi_judge *j)
{
    double v = gfi_diag_target_var(j->d);
    return isfinite(v) && v > 0 && (v > INPUT_VAR_HIGH || v < INPUT_VAR_LOW);
}

/* Layer i's weight rms over its rms at the start of training; NaN when either is not known. */
static double rms_since_start(const gfi_judge *j, int32_t i)
{
    const gf_layer *l = j->net->layers[i];
    double w0 = gfi_j_early_weight_rms(j, i), norm = gfi_j_seen(j, i, GF_STAT_WEIGHT_NORM);
    if (!(w0 > 0) || !isfinite(norm) || l->nweights < 1)
        return NAN;
    return norm / sqrt((double)l->nweights) / w0;
}

/* The largest factor by which a layer's weight rms has moved (up or down) since training began, the output
 * layer's included (a saturated output layer is what its own weights made: its rms grew x3.5 while the hidden
 * layers' stayed within x1.22), and in *at the layer; NaN when not known. */
static double weights_moved(const gfi_judge *j, int32_t *at)
{
    double m = NAN;
    *at = -1;
    for (int32_t i = 0; i < j->L; i++) {
        double r = rms_since_start(j, i), f = r > 1 ? r : 1 / r;
        if (isfinite(f) && !(f <= m)) {
            m = f;
            *at = i;
        }
    }
    return m;
}

/* Dead units that a penalty or AdamW's decay made: every hidden layer's weights shrank under a tenth of their rms at
 * the start, so z is about its bias for every sample.  A different activation or bias cannot help them (leaky ReLU
 * on AdamW with a decay of 20 still learned nothing); a weaker decay does. */
static bool dead_by_decay(const gfi_judge *j)
{
    double l1, l2, largest = 0;
    int32_t measured = 0;
    strongest_penalty(j->net, &l1, &l2);
    double wd = j->net->opt && j->net->opt->kind == GF_OPT_ADAMW ? j->net->opt->weight_decay : 0;
    if (!(l1 > 0 || l2 > 0 || wd > 0))
        return false;
    for (int32_t i = 0; i + 1 < j->L; i++) {
        double r = rms_since_start(j, i);
        if (isfinite(r)) {
            largest = fmax(largest, r);
            measured++;
        }
    }
    return measured > 0 && largest < 0.1;
}

/* Every action the net's conditions ask for, checked, into the cache. */
static void build_plan(planner *p)
{
    const gfi_judge *j = p->j;
    uint32_t why = j->net_why;
    gfi_judge *j2 = gfi_malloc(sizeof *j2);
    if (!j2)
        return;
    bool decayed = any(why, 1u << C_DEAD) && dead_by_decay(j);
    if (any(why, 1u << C_DEAD) && !decayed) {
        if (hidden_bias_negative(j->net))
            plan_bias(p, j2);
        if (!p->c->a[A_BIAS].on && j->net->nlayers > 1 && gfi_j_act(j, 0) == GF_ACT_RELU)
            plan_activation(p, GF_ACT_LEAKY_RELU, j2);
        note(p, A_BIAS, 1u << C_DEAD);
        note(p, A_ACT, 1u << C_DEAD);
    }
    if (any(why, 1u << C_SATURATED)) {
        plan_output(p);
        note(p, A_OUT, 1u << C_SATURATED);
        if (!p->c->a[A_OUT].on)
            plan_output_bias(p, j2);
        note(p, A_OUT_BIAS, 1u << C_SATURATED);
        plan_init_saturation(p, j2);
        note(p, A_INIT, 1u << C_SATURATED);
    }
    if (any(why, DEPTH) && !p->c->a[A_INIT].on) {
        plan_init_gain(p, j2);
        if (!p->c->a[A_INIT].on && any(why, (1u << C_DEPTH_SHRINK) | (1u << C_CONV_GAIN)) &&
            gfi_act_is_saturating(gfi_j_act(j, 0)))
            plan_activation(p, GF_ACT_RELU, j2);
        note(p, A_INIT, DEPTH);
        note(p, A_ACT, DEPTH);
    }
    if (any(why, 1u << C_WEIGHT_COLLAPSE) || decayed || (any(why, DEPTH) && !p->c->a[A_INIT].on && !p->c->a[A_ACT].on)) {
        plan_penalty(p);
        note(p, A_PENALTY, (1u << C_WEIGHT_COLLAPSE) | DEPTH | (decayed ? 1u << C_DEAD : 0));
    }
    /* A new init or activation changes which rates are stable (ReLU trains at rates that sigmoid needs and ReLU
     * does not survive): the current rate is checked with it too. */
    bool changed = p->change.wscale != 1.0 || p->change.act >= 0 || p->change.bias_set;
    /* Delta grown by weights that large targets made is the targets' to fix, not the rate's (a lower one fitted
     * worse); a loss that rises or jumps is still the rate's. */
    bool by_targets = targets_off_scale(j) && !any(why, EXPLODE_BY_STEPS);
    if (any(why, EXPLODE_BY_STEPS) ||
        (any(why, (1u << C_DEPTH_GROW) | (1u << C_CONV_GROW)) && !p->c->a[A_INIT].on && !by_targets) || changed) {
        if (any(why, EXPLODE_BY_STEPS) && !changed)
            plan_reinit(p);
        note(p, A_REINIT, EXPLODE_BY_STEPS);
        plan_lr_down(p);
        note(p, A_LR_DOWN, EXPLODE_BY_STEPS | DEPTH | (1u << C_DEAD) | (1u << C_SATURATED));
    }
    if (any(why, 1u << C_STAGNATION)) {
        plan_clip(p);
        if (!p->c->a[A_CLIP].on && !p->c->a[A_LR_DOWN].on)
            plan_lr_up(p);
        note(p, A_CLIP, 1u << C_STAGNATION);
        note(p, A_LR_UP, 1u << C_STAGNATION);
    }
    if (any(why, (1u << C_NONFINITE) | (1u << C_ORIGIN)) && !j->d->guard) {
        action *a = &p->c->a[A_GUARD];
        a->on = true;
        say(a, "turn on GF_DIAG_GUARD (gf_diag_set_option) so that a step that would write NaN/Inf into the weights is "
               "refused and they stay intact");
        note(p, A_GUARD, (1u << C_NONFINITE) | (1u << C_ORIGIN));
    }
    gfi_free(j2);
}

struct gfi_remedy_cache *gfi_remedy_cache_new(void) { return gfi_calloc(1, sizeof(struct gfi_remedy_cache)); }
void gfi_remedy_cache_free(struct gfi_remedy_cache *c) { gfi_free(c); }
void gfi_remedy_cache_forget(struct gfi_remedy_cache *c)
{
    if (c)
        c->valid = false;
}

static uint32_t feed(uint32_t crc, const void *v, size_t n) { return gfi_crc32(crc, v, n); }
#define FEED(crc, x) ((crc) = feed((crc), &(x), sizeof(x)))

static uint32_t feed_penalty(uint32_t crc, bool has, const gfi_penalty *p)
{
    FEED(crc, has);
    if (has) {
        FEED(crc, p->l1);
        FEED(crc, p->l2);
        FEED(crc, p->include_bias);
    }
    return crc;
}

static uint32_t feed_init(uint32_t crc, const gfi_init *i)
{
    FEED(crc, i->kind);
    FEED(crc, i->mode);
    FEED(crc, i->a);
    FEED(crc, i->b);
    FEED(crc, i->gain);
    return crc;
}

/* A checksum of everything of the net and the diag a plan reads besides the observations: the guard, the
 * optimizer and its hyper-parameters, the loss, clipping, penalties, each layer's activation and initializers,
 * the seed the scratch copies draw from, and the weights.  A plan made before any of them changed (the advice a
 * user just followed: a lower rate, the guard turned on; another optimizer; gf_net_reinit) would contradict them. */
static uint32_t settings_print(const gfi_judge *j)
{
    const gf_net *net = j->net;
    uint32_t crc = 0;
    bool guard = j->d->guard, has_opt = net->opt != NULL;
    FEED(crc, guard);
    FEED(crc, has_opt);
    if (has_opt) {
        const gf_optimizer *o = net->opt;
        double hyper[] = {o->lr, o->mu, o->beta1, o->beta2, o->eps, o->rho, o->weight_decay};
        FEED(crc, o->kind);
        FEED(crc, hyper);
    }
    FEED(crc, net->loss.kind);
    FEED(crc, net->loss.delta);
    FEED(crc, net->loss.per_step);
    FEED(crc, net->clip_mode);
    FEED(crc, net->clip_value);
    FEED(crc, net->seed);
    crc = feed_penalty(crc, net->has_pen, &net->pen);
    for (int32_t i = 0; i < net->nlayers; i++) {
        const gf_layer *l = net->layers[i];
        FEED(crc, l->act.kind);
        FEED(crc, l->act.slope);
        FEED(crc, l->act.alpha);
        crc = feed_init(feed_init(crc, &l->winit), &l->binit);
        crc = feed_penalty(crc, l->has_pen, &l->pen);
    }
    return net->nparams ? feed(crc, net->params, net->nparams * sizeof *net->params) : crc;
}

static bool cache_fresh(const gfi_judge *j, const struct gfi_remedy_cache *c, uint32_t settings)
{
    return c->valid && c->observed == j->d->observed && c->count == j->d->count && c->steps == j->net->steps &&
           c->settings == settings && !memcmp(c->th, j->th, sizeof c->th);
}

/* The checked plan of the net, from the cache or built now; NULL without a cache. */
static const struct gfi_remedy_cache *plan_of(const gfi_judge *j)
{
    struct gfi_remedy_cache *c = j->d->remedy;
    if (!c || !j->net)
        return NULL;
    uint32_t settings = settings_print(j);
    if (cache_fresh(j, c, settings))
        return c;
    memset(c, 0, sizeof *c);
    planner p = {j, c, gfi_no_change()};
    build_plan(&p);
    c->settings = settings;
    c->observed = j->d->observed;
    c->count = j->d->count;
    c->steps = j->net->steps;
    memcpy(c->th, j->th, sizeof c->th);
    c->valid = true;
    return c;
}

/* Where the weights that lose delta or saturate the units came from, when a probe of a fresh copy (on N(0,1) data)
 * is healthy and the inputs are of the scale the init assumes: weights that have hardly moved were like this when
 * training began; otherwise training moved them (its step size, and the penalties when there are any). */
static void put_not_the_init(const gfi_judge *j, gfi_sink *s)
{
    int32_t at;
    double moved = weights_moved(j, &at), l1, l2;
    strongest_penalty(j->net, &l1, &l2);
    if (isfinite(moved) && moved < 1.5)
        gfi_sink_put(s, "the init is not the cause: a probe of a fresh copy of the net is healthy, and the weights of "
                        "every layer are within x%.3g of where training began, so they were like this then (set by "
                        "hand or loaded)",
                     moved);
    else
        gfi_sink_put(s, "the init is not the cause: a probe of a fresh copy of the net is healthy, so training moved the "
                        "weights there (up to x%.3g since training began, in layer %d; step size %g%s)",
                     moved, (int)at, j->lr, l1 > 0 || l2 > 0 ? ", penalties" : "");
}

/* The verdict's own words when no checked change applies. */
static void put_fallback(const gfi_judge *j, gfi_sink *s, uint32_t why)
{
    if (any(why, 1u << C_DEAD))
        gfi_sink_put(s, "the dead units come from training, not the init: a lower learning rate or leaky ReLU keeps "
                        "them alive; no change checked on a copy of the net cured them");
    else if (any(why, DEPTH | (1u << C_SATURATED)))
        put_not_the_init(j, s);
    else if (any(why, 1u << C_STAGNATION))
        gfi_sink_put(s, "raise the learning rate (%g); no higher rate could be checked on a copy of the net (no batch "
                        "was observed, or none learned clearly faster and stayed stable at twice the rate)",
                     j->lr);
    else if (any(why, EXPLODE_BY_STEPS))
        gfi_sink_put(s, "lower the learning rate (%g); no lower rate could be checked on a copy of the net (no batch "
                        "was observed, or none was stable within %d steps)",
                     j->lr, CHECK_STEPS);
    else
        gfi_sink_put(s, "no change to the init or the learning rate was found that a check on a copy of the net confirmed");
}

void gfi_put_remedy(const gfi_judge *j, gfi_sink *s, int32_t layer)
{
    uint32_t why = layer >= 0 ? gfi_j_why_at(j, layer) | (j->net_why & ~gfi_j_why_at(j, layer) & 0) : j->net_why;
    if (!why) {
        /* A probe judges the init and the activations; it takes no step, so it says nothing of the rate. */
        if (j->n == 0)
            gfi_sink_put(s, "none needed: the init and the activations pass the signal (a probe does not judge the "
                            "learning rate; train with the diagnostics on for that)");
        else if (j->lr > 0 && gfi_lr_annealed(j))
            gfi_sink_put(s, "none needed: keep the current activations, init and learning rate (%g: x%.2g of the "
                            "largest this run had, %g; a schedule annealed it, and steps that small are its aim, so "
                            "they are not judged as stagnation)",
                         j->lr, j->lr / j->d->lr_peak, j->d->lr_peak);
        else if (j->lr > 0)
            gfi_sink_put(s, "none needed: keep the current activations, init and learning rate (%g)", j->lr);
        else /* a schedule that ended at 0, or a rate set so: the flow is sound, but no step moves the weights */
            gfi_sink_put(s, "none needed for the gradient flow; but the learning rate is 0, so no step changes the "
                            "weights");
        return;
    }
    const struct gfi_remedy_cache *c = plan_of(j);
    bool first = true, inputs = inputs_off_scale(j), targets = targets_off_scale(j);
    if (inputs)
        gfi_sink_put(s, "standardize each input feature to mean 0 and variance 1 first: the inputs' variance is %.3g "
                        "where the init assumes about 1, and the checks of any other change ran on N(0,1) data",
                     input_variance(j));
    if (targets)
        gfi_sink_put(s, "%sstandardize the targets to mean 0 and variance 1 (and scale the predictions back): their "
                        "variance is %.3g, which the output layer can reach only by %s",
                     inputs ? "; " : "", gfi_diag_target_var(j->d),
                     gfi_diag_target_var(j->d) > 1 ? "growing its weights"
                                                    : "shrinking its output, of variance ~1 at init, to their scale "
                                                      "first: the steps go there instead of into the fit");
    bool named = inputs || targets;
    for (int k = 0; c && k < A_COUNT; k++) {
        if (!c->a[k].on || !(c->wanted_by[k] & (layer >= 0 ? why | j->net_why : why)))
            continue;
        gfi_sink_put(s, first && !named ? "%s" : "; %s", c->a[k].text);
        first = false;
    }
    if (first && !named)
        put_fallback(j, s, why);
}

/* ---- gf_diag_remedy_value ---- */

/* The checked value of one remedy; *present 0 when the plan has none of that kind. */
static void remedy_value(const struct gfi_remedy_cache *c, int32_t remedy, int32_t *present, double *value)
{
    static const int kind_of[] = {A_INIT, A_LR_DOWN, A_BIAS, A_ACT, A_PENALTY, A_PENALTY, A_CLIP};
    *present = 0;
    *value = NAN;
    const action *a = &c->a[kind_of[remedy]];
    if (remedy == GF_REMEDY_LEARNING_RATE && !a->on)
        a = &c->a[A_LR_UP];
    if (!a->on)
        return;
    double v = remedy == GF_REMEDY_L1 ? c->l1 : remedy == GF_REMEDY_L2 ? c->l2 : a->value;
    if (isnan(v))
        return;
    *present = 1;
    *value = v;
}

int gfi_remedy_value(const gf_diag *d, int32_t remedy, int32_t *present, double *value)
{
    *present = 0;
    *value = NAN;
    if (d->count == 0)
        return GF_OK;
    gfi_judge *j = gfi_malloc(sizeof *j);
    if (!j)
        return GF_ERR_NOMEM;
    gfi_j_analyse(d, j);
    const struct gfi_remedy_cache *c = j->net_why ? plan_of(j) : NULL;
    if (c)
        remedy_value(c, remedy, present, value);
    gfi_free(j);
    return GF_OK;
}
