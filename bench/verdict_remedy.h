/*
 * verdict_remedy.h — `verdict_bench -R` (`make remedy-bench`): does following a remedy cure the net?
 *
 * For every non-healthy scenario and seed: train as the bench does, read the remedy's numbers
 * (gf_diag_remedy_value) and text, rebuild the same scenario with every action applied (the init factor on the
 * hidden layers' initial weights, the activation with He init, the bias init, the rate, L1/L2, the clip; and the
 * text-only actions that can be followed mechanically: standardized inputs or targets, an identity output, the
 * recurrent layer's orthogonal weight_hh_l0, gate bias, truncation, clip or LSTM/GRU in its place), train it for the
 * same steps with the same seed, and compare.  A run is
 *   CURED      the remedied run reads healthy at the end and its loss over the data set is lower than the
 *              unremedied run's, or within x1.1 of the healthy control's (the lowest loss of the suite's healthy
 *              scenarios on the same data, arch, output and loss, same seed);
 *   IMPROVED   the loss is lower but the verdict is not healthy;
 *   NOT CURED  neither;
 *   NO REMEDY  the net got only a fallback text (nothing a check confirmed);
 *   N/A        a text-only action this bench cannot follow mechanically (listed).
 * The loss is the data loss (no penalty) over all VS_POINTS samples, in the original targets' units.  A cure whose
 * loss is within 1 % of the unremedied run's is counted apart as marginal too: the verdict was cured, the fit barely
 * moved (the adding problem, where neither net learns the task in the scenario's steps, is the usual one).
 */
#ifndef GF_VERDICT_REMEDY_H
#define GF_VERDICT_REMEDY_H

#include "../tests/verdict_scenarios.h"

enum rm_outcome { RM_CURED, RM_IMPROVED, RM_NOT_CURED, RM_NO_REMEDY, RM_NA, RM_COUNT };
static const char *const rm_names[RM_COUNT] = {"cured", "improved", "not cured", "no remedy", "n/a"};

/* What a remedy asks for, as the bench applies it. */
typedef struct {
    int32_t has[GF_REMEDY_CLIP + 1];
    double v[GF_REMEDY_CLIP + 1];
    int std_inputs, std_targets, identity_out, out_bias0, orthogonal_hh, switch_to; /* switch_to: VS_LSTM, VS_GRU */
    int unfollowable;                      /* an action the bench cannot follow: N/A */
    int64_t truncate;
    double rec_clip, forget_bias, z_shift; /* NaN: not asked */
    int actions;                           /* how many actions the bench will apply */
    int fallback;                          /* the text is a fallback: nothing a check confirmed */
    char text[8192];
} rm_remedy;

/* One trained run: its final verdict and data loss. */
typedef struct {
    int32_t verdict;
    double loss;
} rm_run;

static double rm_text_number(const char *text, const char *after)
{
    const char *p = strstr(text, after);
    double v;
    return p && sscanf(p + strlen(after), "%lf", &v) == 1 ? v : NAN;
}

/* The fallbacks of remedy.c and verdict_time.c: the verdict's own words when no checked change applies. */
static int rm_is_fallback(const char *t)
{
    static const char *const phrases[] = {"the init is not the cause", "no change to the init or the learning rate was found",
                                          "the dead units come from training", "no higher rate could be checked",
                                          "no lower rate could be checked", "no change checked on a copy of the net cured it"};
    for (size_t k = 0; k < sizeof phrases / sizeof *phrases; k++)
        if (strstr(t, phrases[k]))
            return 1;
    return 0;
}

/* Reads the remedy of d's net: numbers, and the text-only actions that can be followed mechanically. */
static void rm_read(gf_diag *d, rm_remedy *r)
{
    memset(r, 0, sizeof *r);
    r->rec_clip = r->forget_bias = r->z_shift = NAN;
    gf_diag_verdict_remedy(d, -1, r->text, sizeof r->text, NULL);
    for (int32_t k = 0; k <= GF_REMEDY_CLIP; k++) {
        gf_diag_remedy_value(d, k, &r->has[k], &r->v[k]);
        r->actions += r->has[k];
    }
    const char *t = r->text;
    r->std_inputs = strstr(t, "standardize each input feature") != NULL;
    r->std_targets = strstr(t, "standardize the targets") != NULL;
    r->identity_out = strstr(t, "remove the output activation") != NULL;
    r->out_bias0 = strstr(t, "set the output layer's bias init to 0") != NULL;
    /* The suite sets no dense weights by hand, so a re-initialization has nothing to undo here. */
    r->unfollowable = strstr(t, "re-initialize the weights") != NULL;
    /* Recurrent: "switch to an LSTM ...; or init weight_hh_l0 orthogonal" are alternatives: the first is followed. */
    r->switch_to = strstr(t, "switch to an LSTM") ? VS_LSTM : strstr(t, "switch to a GRU") ? VS_GRU : 0;
    r->orthogonal_hh = !r->switch_to && strstr(t, "init weight_hh_l0 orthogonal") != NULL;
    double k = rm_text_number(t, "truncate backpropagation to ");
    r->truncate = isfinite(k) ? (int64_t)k : 0;
    r->rec_clip = r->has[GF_REMEDY_CLIP] ? NAN : rm_text_number(t, "clip the global gradient norm at ");
    double from = rm_text_number(t, "raise the forget-gate bias from ");
    if (isfinite(from)) {
        const char *p = strstr(t, "raise the forget-gate bias from ");
        p = strstr(p, " to ");
        r->forget_bias = p ? strtod(p + 4, NULL) : NAN;
    }
    r->z_shift = rm_text_number(t, "add ");
    if (!strstr(t, "to the z slice"))
        r->z_shift = NAN;
    r->actions += r->std_inputs + r->std_targets + r->identity_out + r->out_bias0 + (r->switch_to != 0) + r->orthogonal_hh +
                  (r->truncate > 0) + isfinite(r->rec_clip) + isfinite(r->forget_bias) + isfinite(r->z_shift);
    r->fallback = rm_is_fallback(t);
}

/* Standardizes the n rows of width w in place (per column), keeping each column's mean and sd. */
static void rm_standardize(float *v, int n, int w, double *mean, double *sd)
{
    for (int j = 0; j < w; j++) {
        double m = 0, q = 0;
        for (int p = 0; p < n; p++)
            m += v[p * w + j] / n;
        for (int p = 0; p < n; p++)
            q += (v[p * w + j] - m) * (v[p * w + j] - m) / n;
        double s = q > 0 ? sqrt(q) : 1.0;
        for (int p = 0; p < n; p++)
            v[p * w + j] = (float)((v[p * w + j] - m) / s);
        if (mean)
            mean[j] = m, sd[j] = s;
    }
}

/* The data loss of net over all of ds, predictions mapped back by (mean, sd) when the targets were standardized. */
static double rm_loss(gf_net *net, const vs_scenario *sc, const vs_dataset *ds, const float *targets,
                      const double *mean, const double *sd)
{
    static float y[VS_POINTS * 10];
    if (gf_net_predict(net, ds->x, (size_t)VS_POINTS * ds->in, VS_POINTS, y, (size_t)VS_POINTS * ds->out))
        return NAN;
    if (mean)
        for (int p = 0; p < VS_POINTS; p++)
            for (int j = 0; j < ds->out; j++)
                y[p * ds->out + j] = (float)(y[p * ds->out + j] * sd[j] + mean[j]);
    gf_loss *loss;
    double v = NAN;
    if (gf_loss_create(&loss, ds->classes ? GF_LOSS_SOFTMAX_CE_LABELS : sc->a.loss))
        return NAN;
    gf_loss_compute(loss, y, targets, VS_POINTS, ds->out, &v, NULL);
    gf_loss_destroy(loss);
    return v;
}

/* Multiplies the weight blocks (not the biases) of every layer below the output layer by f. */
static int rm_scale_hidden(gf_net *net, double f)
{
    int32_t n = gf_net_layer_count(net);
    for (int32_t i = 0; i + 1 < n; i++) {
        gf_layer *l = gf_net_layer(net, i);
        for (int32_t b = 0; b < gf_layer_param_block_count(l); b++) {
            if (strncmp(gf_layer_param_block_name(l, b), "weight", 6))
                continue;
            size_t m = (size_t)gf_layer_param_block_size(l, b);
            float *w = malloc(m * sizeof *w);
            int rc = !w ? GF_ERR_NOMEM : gf_layer_get_param(l, b, w, m);
            for (size_t k = 0; !rc && k < m; k++)
                w[k] = (float)(w[k] * f);
            if (!rc)
                rc = gf_layer_set_param(l, b, w, m);
            free(w);
            if (rc)
                return rc;
        }
    }
    return GF_OK;
}

/* The scenario as the remedy changes it (rate, penalties, activation with He init, bias, output, recurrent cell). */
static vs_scenario rm_remedied_scenario(const vs_scenario *sc, const rm_remedy *r)
{
    vs_scenario s = *sc;
    if (r->has[GF_REMEDY_LEARNING_RATE])
        s.lr = r->v[GF_REMEDY_LEARNING_RATE];
    if (r->has[GF_REMEDY_L1])
        s.l1 = r->v[GF_REMEDY_L1];
    if (r->has[GF_REMEDY_L2])
        s.l2 = r->v[GF_REMEDY_L2];
    if (r->has[GF_REMEDY_ACTIVATION]) {
        s.act = (int32_t)r->v[GF_REMEDY_ACTIVATION];
        s.var = 1; /* the right variance of the new activation: He's for the ReLU family */
        s.orthogonal = 0;
    }
    if (r->has[GF_REMEDY_BIAS])
        s.bias = r->v[GF_REMEDY_BIAS];
    if (r->identity_out)
        s.a.out_act = GF_ACT_IDENTITY;
    if (r->switch_to)
        s.a.arch = r->switch_to, s.a.rec_scale = 0, s.a.gate_set = 0;
    if (r->orthogonal_hh)
        s.a.rec_scale = 1.0;
    if (r->truncate > 0)
        s.a.truncate = (int32_t)r->truncate;
    if (isfinite(r->forget_bias))
        s.a.gate_set = 1, s.a.gate_bias = r->forget_bias;
    return s;
}

/* Trains sc (with the remedy r applied when r is not NULL) on seed's data as vs_run does: probe, reset, the
 * scenario's steps.  *out gets the final verdict and data loss; with want, want gets the remedy of the run. */
static int rm_train(const vs_scenario *base, const rm_remedy *r, uint64_t seed, rm_run *out, rm_remedy *want)
{
    static vs_dataset ds;
    static float targets[VS_POINTS * 10];
    double mean[10], sd[10];
    vs_scenario sc = r ? rm_remedied_scenario(base, r) : *base;
    vs_data_for(&ds, &sc, seed);
    memcpy(targets, ds.t, sizeof targets);
    if (r && r->std_inputs)
        rm_standardize(ds.x, VS_POINTS, ds.in, NULL, NULL);
    bool std_t = r && r->std_targets && !ds.classes;
    if (std_t)
        rm_standardize(ds.t, VS_POINTS, ds.out, mean, sd);
    out->verdict = GF_VERDICT_UNKNOWN;
    out->loss = NAN;
    gf_net *net = vs_build(&sc, &ds, seed);
    gf_diag *d = NULL;
    int rc = !net ? GF_ERR_INVALID : GF_OK;
    if (!rc && r && r->has[GF_REMEDY_INIT_SCALE])
        rc = rm_scale_hidden(net, r->v[GF_REMEDY_INIT_SCALE]);
    if (!rc && r && r->out_bias0) { /* a constant 0 bias init of the output layer: its biases as drawn, 0 */
        gf_layer *top = gf_net_layer(net, gf_net_layer_count(net) - 1);
        int32_t b;
        float zero[10] = {0};
        rc = gf_layer_param_block_find(top, "bias", &b);
        if (!rc)
            rc = gf_layer_set_param(top, b, zero, (size_t)ds.out);
    }
    if (!rc && r && isfinite(r->z_shift) && sc.a.arch == VS_GRU) {
        gf_layer *l = gf_net_layer(net, 0);
        int32_t b;
        float z[3 * 512];
        int64_t H = sc.width;
        rc = gf_layer_param_block_find(l, "bias_ih_l0", &b);
        if (!rc)
            rc = gf_layer_get_param(l, b, z, (size_t)(3 * H));
        for (int64_t j = H; !rc && j < 2 * H; j++)
            z[j] = (float)(z[j] + r->z_shift);
        if (!rc)
            rc = gf_layer_set_param(l, b, z, (size_t)(3 * H));
    }
    double clip = !r ? NAN : r->has[GF_REMEDY_CLIP] ? r->v[GF_REMEDY_CLIP] : r->rec_clip;
    if (!rc && isfinite(clip))
        rc = gf_net_set_clip(net, GF_CLIP_NORM, clip);
    if (!rc)
        rc = gf_diag_create(&d, net) || gf_diag_set_option(d, GF_DIAG_GUARD, 1) ? GF_ERR_INVALID : GF_OK;
    if (!rc) {
        gf_diag_probe(d, 256, seed ^ 0x5eedull);
        gf_diag_reset(d);
        gf_diag_enable(d, 1);
        for (int32_t s = 0; s < sc.steps; s++)
            if (vs_step(net, &sc, &ds, s))
                break;
        gf_diag_verdict(d, -1, &out->verdict);
        if (want)
            rm_read(d, want); /* before any prediction: the remedy's checks train on the last batch held */
        out->loss = rm_loss(net, &sc, &ds, targets, std_t ? mean : NULL, std_t ? sd : NULL);
    }
    gf_diag_destroy(d);
    gf_net_destroy(net);
    return rc;
}

/* Whether two scenarios' losses compare: same data, arch, output, loss and scales. */
static int rm_comparable(const vs_scenario *a, const vs_scenario *b)
{
    return a->data == b->data && a->a.arch == b->a.arch && a->a.out_act == b->a.out_act && a->a.loss == b->a.loss &&
           a->a.target_scale == b->a.target_scale && a->a.input_scale == b->a.input_scale &&
           (a->data != VS_ADDING || a->a.seq == b->a.seq);
}

/* The healthy control's loss for sc and seed: the lowest final loss of the suite's healthy scenarios comparable
 * with it (NaN without one); computed only when asked, and kept. */
static double rm_control(const vs_scenario *sc, uint64_t seed)
{
    static double kept[VS_COUNT][64];
    static bool have[VS_COUNT][64];
    int si = (int)(seed - 1000) & 63;
    double best = NAN;
    for (int k = 0; k < VS_COUNT; k++) {
        const vs_scenario *h = &vs_scenarios[k];
        if (h->expect != GF_VERDICT_HEALTHY || !rm_comparable(sc, h))
            continue;
        if (!have[k][si]) {
            rm_run run;
            rm_train(h, NULL, seed, &run, NULL);
            kept[k][si] = run.verdict == GF_VERDICT_HEALTHY ? run.loss : NAN;
            have[k][si] = true;
        }
        if (isfinite(kept[k][si]) && !(best <= kept[k][si]))
            best = kept[k][si];
    }
    return best;
}

/* One scenario-seed: its outcome, the two runs, and the remedy (for the listing). */
typedef struct {
    int outcome, marginal;
    rm_run base, fixed;
    double control;
    rm_remedy remedy;
} rm_case;

static void rm_case_run(const vs_scenario *sc, uint64_t seed, rm_case *c)
{
    c->control = NAN;
    c->marginal = 0;
    c->fixed = (rm_run){GF_VERDICT_UNKNOWN, NAN};
    rm_train(sc, NULL, seed, &c->base, &c->remedy);
    const rm_remedy *r = &c->remedy;
    if (r->fallback && r->actions == 0) {
        c->outcome = RM_NO_REMEDY;
        return;
    }
    if (r->actions == 0 || r->unfollowable) {
        c->outcome = RM_NA;
        return;
    }
    rm_train(sc, r, seed, &c->fixed, NULL);
    double b = isfinite(c->base.loss) ? c->base.loss : INFINITY;
    bool lower = c->fixed.loss < b, healthy = c->fixed.verdict == GF_VERDICT_HEALTHY;
    if (healthy && !lower) {
        c->control = rm_control(sc, seed);
        lower = c->fixed.loss <= 1.1 * c->control;
    }
    c->outcome = healthy && lower ? RM_CURED : !healthy && c->fixed.loss < b ? RM_IMPROVED : RM_NOT_CURED;
    c->marginal = c->outcome == RM_CURED && !(c->fixed.loss < 0.99 * b);
}

/* "init x0.71, lr 0.001, std inputs" into buf: what the bench applied. */
static const char *rm_summary(char *buf, size_t cap, const rm_remedy *r)
{
    static const char *const key[] = {"init x", "lr ", "bias ", "act ", "L1 ", "L2 ", "clip "};
    size_t n = 0;
    buf[0] = 0;
#define RM_PUT(...) (n += n < cap ? (size_t)snprintf(buf + n, cap - n, __VA_ARGS__) : 0)
    for (int k = 0; k <= GF_REMEDY_CLIP; k++)
        if (r->has[k]) {
            if (k == GF_REMEDY_ACTIVATION)
                RM_PUT("%s%s%s", n ? ", " : "", key[k], gf_activation_name((int32_t)r->v[k]));
            else
                RM_PUT("%s%s%.3g", n ? ", " : "", key[k], r->v[k]);
        }
    if (r->std_inputs)
        RM_PUT("%sstd inputs", n ? ", " : "");
    if (r->std_targets)
        RM_PUT("%sstd targets", n ? ", " : "");
    if (r->identity_out)
        RM_PUT("%sidentity out", n ? ", " : "");
    if (r->out_bias0)
        RM_PUT("%soutput bias 0", n ? ", " : "");
    if (r->unfollowable)
        RM_PUT("%sre-initialize", n ? ", " : "");
    if (r->switch_to)
        RM_PUT("%s%s", n ? ", " : "", r->switch_to == VS_LSTM ? "LSTM" : "GRU");
    if (r->orthogonal_hh)
        RM_PUT("%sorth hh", n ? ", " : "");
    if (r->truncate > 0)
        RM_PUT("%struncate %lld", n ? ", " : "", (long long)r->truncate);
    if (isfinite(r->rec_clip))
        RM_PUT("%sclip norm %.3g", n ? ", " : "", r->rec_clip);
    if (isfinite(r->forget_bias))
        RM_PUT("%sforget bias %.2g", n ? ", " : "", r->forget_bias);
    if (isfinite(r->z_shift))
        RM_PUT("%sz bias +%.2g", n ? ", " : "", r->z_shift);
    if (!n)
        RM_PUT("%s", r->fallback ? "(fallback)" : "(text only)");
#undef RM_PUT
    return buf;
}

/* Every seed of one non-healthy scenario, its line, and its outcomes into totals[group][outcome]. */
static void rm_scenario(const vs_scenario *sc, int seeds, int verbose, int group, int64_t totals[4][RM_COUNT + 1])
{
    int count[RM_COUNT + 1] = {0};
    double base[64], fixed[64];
    char what[160] = "";
    int n = 0;
    for (int s = 0; s < seeds && s < 64; s++) {
        rm_case c;
        uint64_t seed = (uint64_t)(1000 + s);
        rm_case_run(sc, seed, &c);
        count[c.outcome]++;
        totals[group][c.outcome]++;
        totals[3][c.outcome]++;
        count[RM_COUNT] += c.marginal;
        totals[group][RM_COUNT] += c.marginal;
        totals[3][RM_COUNT] += c.marginal;
        base[n] = c.base.loss, fixed[n] = c.fixed.loss, n++;
        if (s == 0)
            rm_summary(what, sizeof what, &c.remedy);
        if (verbose || (s == 0 && c.outcome >= RM_NO_REMEDY))
            printf("    seed %llu %s: %s -> %s, loss %.4g -> %.4g (control %.4g)\n      remedy: %s\n",
                   (unsigned long long)seed, rm_names[c.outcome], gf_verdict_name(c.base.verdict),
                   gf_verdict_name(c.fixed.verdict), c.base.loss, c.fixed.loss, c.control, c.remedy.text);
    }
    /* The median losses, unremedied and remedied. */
    for (int i = 1; i < n; i++)
        for (int k = i; k > 0 && !(base[k - 1] <= base[k]); k--) {
            double t = base[k];
            base[k] = base[k - 1], base[k - 1] = t;
        }
    for (int i = 1; i < n; i++)
        for (int k = i; k > 0 && !(fixed[k - 1] <= fixed[k]); k--) {
            double t = fixed[k];
            fixed[k] = fixed[k - 1], fixed[k - 1] = t;
        }
    printf("%-36s %-9s %d/%d/%d/%d/%d  %9.3g %9.3g  %s%s\n", sc->name, gf_verdict_name(sc->expect), count[RM_CURED],
           count[RM_IMPROVED], count[RM_NOT_CURED], count[RM_NO_REMEDY], count[RM_NA], base[n / 2], fixed[n / 2], what,
           count[RM_COUNT] ? "  (marginal)" : "");
    fflush(stdout);
}

/* The remedy bench over the scenarios whose name contains only (NULL: all): 0 when it ran. */
static int rm_bench(const char *only, int seeds, int verbose, int (*group_of)(const vs_scenario *))
{
    int64_t totals[4][RM_COUNT + 1] = {{0}};
    int scenarios = 0;
    printf("%-36s %-9s %-11s %9s %9s  %s\n", "scenario", "verdict", "c/i/n/r/na", "loss", "remedied",
           "remedy followed (seed 1000); (marginal): a cure's loss within 1 %");
    for (int k = 0; k < VS_COUNT; k++) {
        const vs_scenario *sc = &vs_scenarios[k];
        if (sc->expect == GF_VERDICT_HEALTHY || (only && !strstr(sc->name, only)))
            continue;
        scenarios++;
        rm_scenario(sc, seeds, verbose, group_of(sc), totals);
    }
    static const char *const names[] = {"dense", "recurrent", "conv", "all"};
    printf("\n%d non-healthy scenarios x %d seeds (c/i/n/r/na: cured, improved, not cured, no remedy, not "
           "applicable)\n",
           scenarios, seeds);
    for (int g = 0; g < 4; g++) {
        int64_t runs = 0;
        for (int o = 0; o < RM_COUNT; o++)
            runs += totals[g][o];
        if (!runs)
            continue;
        printf("%-10s", names[g]);
        for (int o = 0; o < RM_COUNT; o++)
            printf(" %s %lld%s", rm_names[o], (long long)totals[g][o], o + 1 < RM_COUNT ? "," : "");
        printf("  of %lld (cured %.1f %%; %lld of the cures marginal: loss within 1 %%)\n", (long long)runs,
               100.0 * (double)totals[g][RM_CURED] / (double)runs, (long long)totals[g][RM_COUNT]);
    }
    return 0;
}

#endif /* GF_VERDICT_REMEDY_H */
