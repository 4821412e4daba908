/*
 * scratch.c — checks a remedy before it is printed: a scratch copy of a net (same layers, activations,
 * initializers, loss, optimizer, penalties and clipping, drawn from the same seed) with the remedy applied, then
 * a probe of it (gf_diag_probe) or a few training steps on the net's last batch.  Remedies about what training made
 * of the net (the rules across time) start instead from a clone with its current weights, and read the gradient's
 * profile across time after one pass on the net's last batch.  The net itself is never touched.
 */
#include "scratch.h"
#include "recurrent.h"

#include <math.h>
#include <string.h>

/* A fresh layer of l's kind with l's options, activation, initializers and penalty (not yet sized). */
static int copy_layer(const gf_layer *l, gf_layer **k)
{
    int rc = gf_layer_create(k, l->kind);
    if (rc)
        return rc;
    memcpy((*k)->opt, l->opt, sizeof l->opt);
    (*k)->act = l->act;
    (*k)->winit = l->winit;
    (*k)->binit = l->binit;
    (*k)->pen = l->pen;
    (*k)->has_pen = l->has_pen;
    return GF_OK;
}

static bool is_recurrent(const gf_layer *l)
{
    return l->kind == GF_LAYER_RNN || l->kind == GF_LAYER_LSTM || l->kind == GF_LAYER_GRU;
}

/* A fresh recurrent layer of kind with l's units, inputs, output mode and truncation (and the kind's defaults for
 * the rest: an LSTM's forget bias 1). */
static int swap_recurrent(const gf_layer *l, int32_t kind, gf_layer **k)
{
    static const int32_t keys[] = {GF_LAYER_HIDDEN, GF_LAYER_INPUTS, GF_LAYER_RETURN_SEQUENCES, GF_LAYER_TRUNCATE};
    int rc = gf_layer_create(k, kind);
    for (size_t i = 0; !rc && i < sizeof keys / sizeof *keys; i++)
        rc = gf_layer_set_option(*k, keys[i], l->opt[keys[i]]);
    if (rc) {
        gf_layer_destroy(*k);
        *k = NULL;
    }
    return rc;
}

/* Builds the copy's layers: the source's, with the change's activation (and He init) where asked, and the change's
 * output activation (its init kept) and output bias init. */
static int copy_layers(const gf_net *src, gf_net *dst, const gfi_change *c)
{
    for (int32_t i = 0; i < src->nlayers; i++) {
        gf_layer *k;
        bool swap = c->rec >= 0 && is_recurrent(src->layers[i]);
        int rc = swap ? swap_recurrent(src->layers[i], c->rec, &k) : copy_layer(src->layers[i], &k);
        if (rc)
            return rc;
        bool hidden = i + 1 < src->nlayers && k->ops->has_activation && !swap;
        if (hidden && c->act >= 0) {
            gfi_act_default(&k->act, c->act);
            gfi_init_default(&k->winit, GF_INIT_HE_NORMAL);
            k->winit.gain = sqrt(2.0);
        }
        if (i + 1 == src->nlayers && c->out_act >= 0 && k->ops->has_activation && !swap)
            gfi_act_default(&k->act, c->out_act);
        if (hidden && c->bias_set) {
            gfi_init_default(&k->binit, GF_INIT_CONSTANT);
            k->binit.a = c->bias;
        }
        if (i + 1 == src->nlayers && c->out_bias_set && !swap) {
            gfi_init_default(&k->binit, GF_INIT_CONSTANT);
            k->binit.a = c->out_bias;
        }
        if ((rc = gf_net_add(dst, k))) {
            gf_layer_destroy(k);
            return rc;
        }
    }
    return GF_OK;
}

static int copy_training(const gf_net *src, gf_net *dst, double lr)
{
    gf_optimizer *o;
    int rc = gf_optimizer_create(&o, src->opt ? src->opt->kind : GF_OPT_SGD, lr);
    if (rc)
        return rc;
    if (src->opt) {
        o->mu = src->opt->mu, o->beta1 = src->opt->beta1, o->beta2 = src->opt->beta2;
        o->eps = src->opt->eps, o->rho = src->opt->rho, o->weight_decay = src->opt->weight_decay;
    }
    if ((rc = gf_net_set_optimizer(dst, o))) {
        gf_optimizer_destroy(o);
        return rc;
    }
    dst->loss = src->loss;
    dst->pen = src->pen;
    dst->has_pen = src->has_pen;
    dst->clip_mode = src->clip_mode;
    dst->clip_value = src->clip_value;
    return GF_OK;
}

static gf_net *scratch_net(const gf_net *src, const gfi_change *c)
{
    gf_net *dst;
    const gfi_shape *in = &src->in_shape;
    if (gf_net_create_shaped(&dst, in->kind, in->dim, in->rank, src->seed))
        return NULL;
    double lr = c->lr > 0 ? c->lr : src->opt ? src->opt->lr : 0.01;
    if (copy_layers(src, dst, c) || copy_training(src, dst, lr) || gf_net_reinit(dst, src->seed)) {
        gf_net_destroy(dst);
        return NULL;
    }
    /* The init factor scales every hidden layer's initial weights. */
    for (int32_t i = 0; c->wscale != 1.0 && i + 1 < dst->nlayers; i++) {
        gf_layer *l = dst->layers[i];
        for (size_t k = 0; k < l->nweights; k++)
            l->w[k] = (float)(l->w[k] * c->wscale);
    }
    return dst;
}

static int scratch_probe(gf_net *net, gfi_judge *j, gf_diag **d)
{
    *d = NULL;
    if (gf_diag_create(d, net))
        return GF_ERR_NOMEM;
    int rc = gf_diag_probe(*d, 256, 1);
    if (!rc)
        gfi_j_analyse(*d, j);
    return rc;
}

/* Targets for the check's batch: what the probe draws for classification losses; for regression, N(0, s^2)
 * with s the scale the net's loss started at, so the residuals are of the size training saw. */
static void fill_targets(gf_net *net, float *t, int64_t rows, int64_t width, double scale, gfi_rng *rng)
{
    gfi_probe_targets(net, t, rows, rng);
    int32_t k = net->loss.kind;
    if (k == GF_LOSS_BCE_LOGITS || k == GF_LOSS_SOFTMAX_CE || k == GF_LOSS_SOFTMAX_CE_LABELS)
        return;
    for (int64_t i = 0; i < rows * width; i++)
        t[i] = (float)(t[i] * scale);
}

static int scratch_train(gf_net *net, const float *x, int64_t rows, double scale, int32_t steps, gfi_run *run)
{
    int64_t width = gfi_net_target_size(net);
    size_t nx, nt;
    int crc = gfi_checked_count(rows, net->inputs, &nx);
    if (crc || (crc = gfi_checked_count(rows, width, &nt)))
        return crc;
    float *t = gfi_malloc(nt * sizeof *t);
    if (!t)
        return GF_ERR_NOMEM;
    gfi_rng rng;
    gfi_rng_seed(&rng, 7);
    fill_targets(net, t, rows, width, scale, &rng);
    memset(run, 0, sizeof *run);
    run->finite = true;
    for (int32_t s = 0; s < steps; s++) {
        double loss = NAN;
        int rc = gf_net_train_step(net, x, nx, t, nt, rows, &loss);
        if (rc == GF_ERR_NOMEM) {
            gfi_free(t); /* memory, not the rate: the caller must not report it as a divergence */
            return rc;
        }
        if (rc || !isfinite(loss)) {
            run->finite = false;
            run->steps = s;
            break;
        }
        if (s == 0)
            run->first = run->high = loss;
        run->high = fmax(run->high, loss);
        run->last = loss;
        run->steps = s + 1;
    }
    gfi_free(t);
    return GF_OK;
}

/* A stable rate never takes the loss of one batch half again above where it started: a rate at the edge of
 * stability already does so within 30 steps, and fails on other batches soon after. */
bool gfi_run_stable(const gfi_run *r)
{
    return r->finite && r->high <= 1.5 * r->first && r->last < r->first;
}

/* The recurrent layers' initial states and lengths, which the model buffer does not carry. */
static int copy_state(const gf_net *src, gf_net *dst)
{
    for (int32_t i = 0; i < src->nlayers; i++) {
        const gf_layer *a = src->layers[i];
        gf_layer *b = dst->layers[i];
        int rc = GF_OK;
        if (a->state)
            rc = gf_layer_set_initial_state(b, a->state, (size_t)(a->state_batch * gf_layer_state_size(b)),
                                            a->state_batch);
        if (!rc && a->lengths)
            rc = gf_layer_set_lengths(b, a->lengths, a->lengths_batch);
        if (rc)
            return rc;
    }
    return GF_OK;
}

static gf_net *scratch_clone(const gf_net *src, int *rc)
{
    gf_net *dst = NULL;
    size_t need = 0;
    void *buf = NULL;
    int r = gf_net_save_buffer((gf_net *)src, 0, NULL, 0, &need);
    if (!r && !(buf = gfi_malloc(need)))
        r = GF_ERR_NOMEM;
    if (!r)
        r = gf_net_save_buffer((gf_net *)src, 0, buf, need, NULL);
    if (!r)
        r = gf_net_load_buffer(&dst, buf, need);
    if (!r)
        r = copy_state(src, dst);
    if (r) {
        gf_net_destroy(dst);
        dst = NULL;
    }
    gfi_free(buf);
    if (rc)
        *rc = r;
    return dst;
}

static int scratch_time_pass(gf_net *net, const float *x, int64_t rows, const double *th, gf_diag **d)
{
    size_t nx, ny;
    int rc = gfi_checked_count(rows, net->inputs, &nx);
    if (rc || (rc = gfi_checked_count(rows, gf_net_output_size(net), &ny)))
        return rc;
    float *g = gfi_malloc(ny * sizeof *g);
    rc = g ? gf_diag_create(d, net) : GF_ERR_NOMEM;
    if (rc) {
        gfi_free(g);
        return rc;
    }
    memcpy((*d)->threshold, th, sizeof (*d)->threshold);
    if (!x) {
        gfi_free(g);
        return gf_diag_probe(*d, rows, 1);
    }
    for (size_t i = 0; i < ny; i++)
        g[i] = (float)(1.0 / sqrt((double)ny));
    if (!(rc = gf_diag_enable(*d, 1)) && !(rc = gf_net_forward(net, x, nx, rows, NULL, 0)))
        rc = gf_net_backward_from(net, g, ny);
    gfi_free(g);
    return rc;
}

/* ---- the entries ----
 * Every attempt above may fail in a way its caller handles (a remedy left
 * unchecked, weights that cannot be cloned), and leaves that failure's message
 * in the thread's slot (a clone's save, in the net's too): the caller's call
 * may well succeed.  So the messages are put back, except when memory ran
 * out, which the callers report. */

gf_net *gfi_scratch_net(const gf_net *src, const gfi_change *c)
{
    gfi_saved_error e;
    gfi_error_save(&e, NULL);
    gf_net *dst = scratch_net(src, c);
    if (dst) /* NULL only when out of memory */
        gfi_error_restore(&e);
    return dst;
}

int gfi_scratch_probe(gf_net *net, gfi_judge *j, gf_diag **d)
{
    gfi_saved_error e;
    gfi_error_save(&e, NULL);
    int rc = scratch_probe(net, j, d);
    if (rc != GF_ERR_NOMEM)
        gfi_error_restore(&e);
    return rc;
}

int gfi_scratch_train(gf_net *net, const float *x, int64_t rows, double scale, int32_t steps, gfi_run *run)
{
    gfi_saved_error e;
    gfi_error_save(&e, NULL);
    int rc = scratch_train(net, x, rows, scale, steps, run);
    if (rc != GF_ERR_NOMEM)
        gfi_error_restore(&e);
    return rc;
}

gf_net *gfi_scratch_clone(const gf_net *src, int *rc)
{
    gfi_saved_error e;
    int r = GF_OK;
    gfi_error_save(&e, (gf_net *)src);
    gf_net *dst = scratch_clone(src, &r);
    if (r != GF_ERR_NOMEM)
        gfi_error_restore(&e);
    if (rc)
        *rc = r;
    return dst;
}

int gfi_scratch_time_pass(gf_net *net, const float *x, int64_t rows, const double *th, gf_diag **d)
{
    gfi_saved_error e;
    gfi_error_save(&e, NULL);
    int rc = scratch_time_pass(net, x, rows, th, d);
    if (rc != GF_ERR_NOMEM)
        gfi_error_restore(&e);
    return rc;
}
