/*
 * probe.c — gf_diag_probe: one observed forward/backward pass on seeded
 * N(0,1) inputs and targets valid for the net's loss, with no update, so the
 * per-layer gains of activations and delta (and the verdicts) are known
 * before training.  Weights, optimizer state, the step counter and the
 * gradients of a pending backward are left as they were.
 */
#include "scratch.h"

#include <string.h>

/* Largest probe batch: enough for stable statistics, far from size overflow. */
#define PROBE_MAX_BATCH 65536

/* Targets the net's loss accepts: N(0,1) for regression losses, 0/1 for
 * BCE, one-hot rows or class indices for softmax cross-entropy. */
void gfi_probe_targets(const gf_net *net, float *t, int64_t batch, gfi_rng *rng)
{
    int64_t rows, classes;
    gfi_net_loss_rows(net, batch, &rows, &classes);
    int64_t width = gfi_loss_target_width(&net->loss, classes);
    for (int64_t r = 0; r < rows; r++) {
        float *row = t + r * width;
        switch (net->loss.kind) {
        case GF_LOSS_BCE_LOGITS:
            for (int64_t j = 0; j < width; j++)
                row[j] = (float)gfi_rng_below(rng, 2);
            break;
        case GF_LOSS_SOFTMAX_CE:
            memset(row, 0, (size_t)width * sizeof *row);
            row[gfi_rng_below(rng, (uint64_t)classes)] = 1.0f;
            break;
        case GF_LOSS_SOFTMAX_CE_LABELS:
            row[0] = (float)gfi_rng_below(rng, (uint64_t)classes);
            break;
        default:
            for (int64_t j = 0; j < width; j++)
                row[j] = (float)gfi_rng_normal(rng);
        }
    }
}

int gf_diag_probe(gf_diag *d, int64_t batch, uint64_t seed)
{
    int rc = gfi_diag_check(d, "gf_diag_probe");
    if (rc)
        return rc;
    if (batch < 1 || batch > PROBE_MAX_BATCH)
        return gfi_fail(GF_ERR_INVALID, "gf_diag_probe: batch must be in 1..%d (got %lld)", PROBE_MAX_BATCH,
                        (long long)batch);
    gf_net *net = d->net;
    if (net->nlayers == 0)
        return gfi_fail(GF_ERR_STATE, "gf_diag_probe: the net has no layers");
    /* Per-sample recurrent settings fix the batch of the pass: refuse before drawing anything. */
    if ((rc = gfi_check_layer_chunks(net, "gf_diag_probe", "probe", batch, batch)))
        return rc;
    int64_t width = gfi_net_target_size(net);
    size_t nx, nt;
    if ((rc = gfi_checked_count(batch, net->inputs, &nx)) || (rc = gfi_checked_count(batch, width, &nt)))
        return gfi_fail(rc, "gf_diag_probe: a batch of %lld samples of %lld inputs and %lld targets overflows size_t",
                        (long long)batch, (long long)net->inputs, (long long)width);
    float *x = gfi_malloc(nx * sizeof *x), *t = gfi_malloc(nt * sizeof *t);
    float *saved = net->nparams ? gfi_malloc(net->nparams * sizeof *saved) : NULL;
    if (!x || !t || (net->nparams && !saved)) {
        gfi_free(x);
        gfi_free(t);
        gfi_free(saved);
        return gfi_fail(GF_ERR_NOMEM, "gf_diag_probe: cannot allocate a batch of %lld", (long long)batch);
    }
    /* The probe's own generator: the net's stays untouched. */
    gfi_rng rng;
    gfi_rng_seed(&rng, seed);
    for (size_t i = 0; i < nx; i++)
        x[i] = (float)gfi_rng_normal(&rng);
    gfi_probe_targets(net, t, batch, &rng);

    /* A probe is not training: restore what forward/backward would change. */
    if (saved)
        memcpy(saved, net->grads, net->nparams * sizeof *saved);
    bool began = net->training_began, want_dinput = net->want_dinput;
    /* A probe measures the whole flow, down to the gradient of the data. */
    net->want_dinput = true;
    gfi_diag_observe_next(d, true);
    rc = gf_net_forward(net, x, nx, batch, NULL, 0);
    bool ran = rc == GF_OK; /* a forward that failed (out of memory) changed nothing */
    if (!rc)
        rc = gf_net_backward(net, t, nt, NULL);
    else
        gfi_diag_cancel_observe_next(d); /* the next real pass must not be taken for a probe */
    net->want_dinput = want_dinput;
    if (saved)
        memcpy(net->grads, saved, net->nparams * sizeof *saved);
    net->training_began = began;
    /* The cached activations and input gradient are the probe's: whatever
     * was pending must be redone (a step now is GF_ERR_STATE, not a step on
     * the probe's gradients). */
    if (ran)
        net->forward_ready = net->backward_ready = net->grads_ready = net->dinput_ready = false;
    gfi_free(x);
    gfi_free(t);
    gfi_free(saved);
    if (rc)
        return gfi_fail(rc, "gf_diag_probe: %s", gf_last_error());
    return GF_OK;
}
