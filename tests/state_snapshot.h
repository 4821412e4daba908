/* state_snapshot.h — a byte image of everything a failed call must leave as it was: a net's parameters,
 * gradients, generator, step count, configuration and optimizer state, and a diag's records, counts, origin
 * and early scale.  Two images are compared with memcmp (NaN bits included).  Shared by test_alloc_fail.c and
 * the API fuzzer; a new object with state (a layer kind's extra tensors, a model file's in-memory form) adds
 * its fields here. */
#ifndef GF_TESTS_STATE_SNAPSHOT_H
#define GF_TESTS_STATE_SNAPSHOT_H

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "diag.h"

/* ---- a byte image of every observable state ---- */

typedef struct {
    unsigned char *b;
    size_t n, cap;
} blob;

static void put(blob *s, const void *p, size_t n)
{
    if (s->n + n > s->cap) {
        s->cap = (s->n + n) * 2 + 256;
        s->b = realloc(s->b, s->cap);
        if (!s->b)
            abort();
    }
    if (n)
        memcpy(s->b + s->n, p, n);
    s->n += n;
}
#define PUT(s, v) put((s), &(v), sizeof(v))

static void snapshot_optimizer(blob *s, const gf_optimizer *o)
{
    bool have = o != NULL;
    PUT(s, have);
    if (!o)
        return;
    PUT(s, o->kind);
    PUT(s, o->lr);
    PUT(s, o->t);
    PUT(s, o->nparams);
    bool m = o->m != NULL, v = o->v != NULL;
    PUT(s, m);
    PUT(s, v);
    if (o->m)
        put(s, o->m, o->nparams * sizeof(float));
    if (o->v)
        put(s, o->v, o->nparams * sizeof(float));
}

static void snapshot_net(blob *s, const gf_net *net)
{
    bool have = net != NULL;
    PUT(s, have);
    if (!net)
        return;
    PUT(s, net->inputs);
    PUT(s, net->nlayers);
    PUT(s, net->nparams);
    PUT(s, net->rng);
    PUT(s, net->seed);
    PUT(s, net->steps);
    PUT(s, net->loss.kind); /* field by field: struct padding is not state */
    PUT(s, net->loss.delta);
    PUT(s, net->has_pen);
    PUT(s, net->clip_mode);
    PUT(s, net->clip_value);
    PUT(s, net->want_dinput);
    PUT(s, net->grads_ready);
    PUT(s, net->grads_spent);
    PUT(s, net->training_began);
    int32_t threads = gf_net_threads(net);
    PUT(s, threads);
    if (net->nparams) {
        put(s, net->params, net->nparams * sizeof(float));
        put(s, net->grads, net->nparams * sizeof(float));
    }
    for (int32_t i = 0; i < net->nlayers; i++) {
        const gf_layer *l = net->layers[i];
        PUT(s, l->kind);
        PUT(s, l->in);
        PUT(s, l->out);
        put(s, l->opt, sizeof l->opt);
        PUT(s, l->nblocks);
        for (int32_t k = 0; k < l->nblocks; k++) {
            PUT(s, l->block[k].count);
            PUT(s, l->block[k].user);
        }
        PUT(s, l->act.kind); /* field by field: struct padding is not state */
        PUT(s, l->act.slope);
        PUT(s, l->act.alpha);
        const gfi_init *in[2] = {&l->winit, &l->binit};
        for (int k = 0; k < 2; k++) {
            PUT(s, in[k]->kind);
            PUT(s, in[k]->mode);
            PUT(s, in[k]->a);
            PUT(s, in[k]->b);
            PUT(s, in[k]->gain);
        }
        size_t nkeep = l->ops->keep_size ? l->ops->keep_size(l) : 0;
        if (l->keep)
            put(s, l->keep, nkeep * sizeof(double));
    }
    PUT(s, net->nmetrics);
    for (int32_t i = 0; i < net->nmetrics; i++) {
        PUT(s, net->metrics[i].kind);
        PUT(s, net->metrics[i].param);
    }
    PUT(s, net->fb.nrecords);
    snapshot_optimizer(s, net->opt);
}

static void snapshot_diag(blob *s, const gf_diag *d)
{
    bool have = d != NULL;
    PUT(s, have);
    if (!d)
        return;
    PUT(s, d->enabled);
    PUT(s, d->guard);
    PUT(s, d->origin);
    PUT(s, d->every);
    PUT(s, d->cap);
    PUT(s, d->count);
    PUT(s, d->observed);
    PUT(s, d->origin_found);
    PUT(s, d->origin_step);
    PUT(s, d->origin_layer);
    PUT(s, d->origin_phase);
    PUT(s, d->origin_tensor);
    PUT(s, d->early_ready);
    put(s, d->threshold, sizeof d->threshold);
    if (d->count && d->nlayers > 0) {
        size_t rec = (size_t)d->nlayers * GFI_NSTAT;
        for (int32_t ago = 0; ago < d->count; ago++) {
            put(s, gfi_diag_at(d, ago, 0, 0), rec * sizeof(double));
            int64_t st = gfi_diag_step_at(d, ago);
            PUT(s, st);
        }
        put(s, d->nonfinite, (size_t)d->nlayers * GFI_NTENSOR * 3 * sizeof(int64_t));
    }
    if (d->early_ready) {
        PUT(s, d->early_loss);
        PUT(s, d->early_step);
        put(s, d->early_grad, (size_t)d->nlayers * sizeof(double));
    }
}

static bool blob_equal(const blob *a, const blob *b) { return a->n == b->n && !memcmp(a->b, b->b, a->n); }

#endif
