/* fit.c — the epoch loop: seeded shuffling, mini-batches, callback and the progress line. */
#include "internal.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static double now_seconds(void)
{
    struct timespec ts;
    if (timespec_get(&ts, TIME_UTC) != TIME_UTC)
        return 0.0;
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Replaces *slot by a block of n elems of size each when its capacity *cap
 * (in elems) is smaller; never shrinks.  *cap changes only with the block. */
static int reserve(void **slot, size_t *cap, size_t n, size_t size)
{
    if (n <= *cap)
        return GF_OK;
    if (n > SIZE_MAX / size)
        return GF_ERR_OVERFLOW;
    void *p = gfi_malloc(n * size);
    if (!p)
        return GF_ERR_NOMEM;
    gfi_free(*slot);
    *slot = p;
    *cap = n;
    return GF_OK;
}

/* Sizes the permutation and the gather buffers; allocates only when one is
 * too small.  Each buffer is checked against its own capacity, so a failure
 * part-way leaves every buffer usable for what its capacity says. */
static int ensure_fit_buffers(gf_net *net, int64_t n, int64_t batch, size_t xw, size_t tw)
{
    size_t xs, ts;
    if (!gfi_mul_size((size_t)batch, xw, &xs) || !gfi_mul_size((size_t)batch, tw, &ts))
        return GF_ERR_OVERFLOW;
    int rc;
    if ((rc = reserve((void **)&net->perm, &net->cap_perm, (size_t)n, sizeof *net->perm)) ||
        (rc = reserve((void **)&net->shuffle_x, &net->cap_shuffle_x, xs, sizeof(float))) ||
        (rc = reserve((void **)&net->shuffle_t, &net->cap_shuffle_t, ts, sizeof(float))))
        return rc;
    return GF_OK;
}

static void shuffle(gf_net *net, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        net->perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)gfi_rng_below(&net->rng, (uint64_t)i + 1);
        int64_t t = net->perm[i];
        net->perm[i] = net->perm[j];
        net->perm[j] = t;
    }
}

/* The sizes of the batches of n rows taken batch at a time: the full one and the last (0: none). */
static void batch_sizes(int64_t n, int64_t batch, int64_t size[2])
{
    size[0] = n < batch ? n : batch;
    size[1] = n > batch && n % batch ? n % batch : 0;
}

int gfi_check_layer_chunks(gf_net *net, const char *fn, const char *what, int64_t n, int64_t batch)
{
    char msg[192];
    int32_t i = 0;
    int64_t size[2];
    batch_sizes(n, batch, size);
    for (int j = 0; j < 2; j++)
        if (size[j] && gfi_net_layers_accept_batch(net, size[j], &i, msg, sizeof msg)) {
            if (n <= batch) /* one pass of them all */
                return gfi_net_fail(net, GF_ERR_STATE, "%s: layer %d (%s) %s (the %s batch: all %lld samples at "
                                    "once)", fn, (int)i, net->layers[i]->ops->name, msg, what, (long long)n);
            return gfi_net_fail(net, GF_ERR_STATE, "%s: layer %d (%s) %s (%s %s batch of %lld samples in batches "
                                "of %lld)", fn, (int)i, net->layers[i]->ops->name, msg, j ? "the last" : "every",
                                what, (long long)n, (long long)batch);
        }
    return GF_OK;
}

int gfi_fit_check_layer_batches(gf_net *net, const char *fn, const char *shuffled, int64_t ntrain, int64_t nval,
                                int64_t batch)
{
    char msg[192];
    int32_t i = 0;
    /* Every pass has a batch >= 1: a layer that refuses batch 0 has per-sample settings. */
    if (!gfi_net_layers_accept_batch(net, 0, &i, msg, sizeof msg))
        return GF_OK;
    const gf_layer *l = net->layers[i];
    if (shuffled)
        return gfi_net_fail(net, GF_ERR_STATE,
                            "%s: layer %d (%s) has %s, which go by batch position; %s, which would give them to "
                            "other samples: clear them or fit in order",
                            fn, (int)i, l->ops->name, l->lengths ? "per-sample sequence lengths" : "a per-sample initial state",
                            shuffled);
    int rc = gfi_check_layer_chunks(net, fn, "training", ntrain, batch);
    return rc ? rc : gfi_check_layer_chunks(net, fn, "validation", nval, batch);
}

int gfi_fit_check_loss_unchanged(gf_net *net, const char *fn, int32_t kind, bool per_step)
{
    const gfi_loss *now = &net->loss;
    if (now->kind == kind && now->per_step == per_step)
        return GF_OK;
    return gfi_net_fail(net, GF_ERR_STATE, "%s: the loss was changed during the fit (in its callback): %s (set the "
                        "loss between fits)", fn, now->kind != kind ? "another kind" : "per-step turned on or off");
}

static void print_progress(int32_t epoch, int32_t epochs, double loss, double rate, double left)
{
    fprintf(stderr, "\repoch %d/%d  loss %.6g  %.0f samples/s  %.1fs left   ", (int)epoch + 1, (int)epochs, loss,
            rate, left);
    if (epoch + 1 == epochs)
        fputc('\n', stderr);
}

int gf_net_fit(gf_net *net, const float *x, size_t x_count, const float *target, size_t target_count, int64_t n,
               int64_t batch, int32_t epochs, gf_epoch_fn callback, void *user, double *mean_loss)
{
    if (!net)
        return gfi_fail(GF_ERR_NULL, "gf_net_fit: net is NULL");
    if (net->magic != GFI_MAGIC_NET)
        return gfi_fail(GF_ERR_KIND, "gf_net_fit: handle is not a live gf_net");
    /* The callback may train, evaluate or change the net, but not fit it again: the nested fit would reshuffle
     * the permutation and gather buffers the outer one is walking (gf_net_fit_v2 refuses the same). */
    if (net->fb.running)
        return gfi_net_fail(net, GF_ERR_STATE, "gf_net_fit: cannot fit from inside this net's fit callback");
    if (n <= 0 || batch <= 0 || epochs <= 0)
        return gfi_net_fail(net, GF_ERR_INVALID, "gf_net_fit: n, batch and epochs must be positive (got %lld, %lld, %d)",
                            (long long)n, (long long)batch, (int)epochs);
    if (net->nlayers == 0)
        return gfi_net_fail(net, GF_ERR_STATE, "gf_net_fit: the net has no layers");
    if (!x || !target)
        return gfi_net_fail(net, GF_ERR_NULL, "gf_net_fit: %s is NULL", x ? "target" : "x");
    if (batch > n)
        batch = n;
    size_t xw = (size_t)net->inputs;
    size_t tw = (size_t)gfi_net_target_size(net);
    size_t xn, tn;
    int rc;
    if ((rc = gfi_checked_count(n, (int64_t)xw, &xn)) || (rc = gfi_checked_count(n, (int64_t)tw, &tn)))
        return gfi_net_fail(net, rc, "gf_net_fit: %lld samples overflow size_t", (long long)n);
    if (x_count != xn || target_count != tn)
        return gfi_net_fail(net, GF_ERR_SHAPE,
                            "gf_net_fit: %lld samples need %zu x values and %zu target values (got %zu and %zu)",
                            (long long)n, xn, tn, x_count, target_count);
    /* Validate the whole data set up front, so no epoch starts on bad data. */
    int64_t rows, width;
    gfi_net_loss_rows(net, n, &rows, &width);
    if ((rc = gfi_data_check(net, x, n, "gf_net_fit")) || (rc = gfi_loss_check_target(&net->loss, target, rows, width)))
        return gfi_net_fail(net, rc, "%s", gf_last_error());
    if ((rc = gfi_fit_check_layer_batches(net, "gf_net_fit", "gf_net_fit shuffles the samples (gf_net_fit_v2 "
                                          "can keep them in order)", n, 0, batch)))
        return rc;
    if ((rc = ensure_fit_buffers(net, n, batch, xw, tw)))
        return gfi_net_fail(net, rc, "gf_net_fit: cannot allocate shuffling buffers");
    /* Every allocation of the steps happens here, before the first shuffle
     * draws from the net's generator: out of memory leaves it untouched. */
    gfi_train_prep prep;
    if ((rc = gfi_net_train_prepare(net, batch, &prep, "gf_net_fit")))
        return rc;
    /* A fit whose first step fails (the guard, clipping meeting NaN) has
     * still shuffled: the generator is put back so the failure changes nothing. */
    gfi_rng rng_before = net->rng;
    int64_t steps_before = net->steps;
    double start = now_seconds(), epoch_loss = 0.0;
    int32_t loss_kind = net->loss.kind;
    bool loss_per_step = net->loss.per_step;
    net->fb.running = true;
    for (int32_t e = 0; e < epochs; e++) {
        shuffle(net, n);
        double sum = 0.0;
        for (int64_t s = 0; s < n; s += batch) {
            int64_t b = n - s < batch ? n - s : batch;
            for (int64_t r = 0; r < b; r++) {
                int64_t src = net->perm[s + r];
                memcpy(net->shuffle_x + (size_t)r * xw, x + (size_t)src * xw, xw * sizeof(float));
                memcpy(net->shuffle_t + (size_t)r * tw, target + (size_t)src * tw, tw * sizeof(float));
            }
            double l = 0.0;
            rc = gf_net_train_step(net, net->shuffle_x, (size_t)b * xw, net->shuffle_t, (size_t)b * tw, b, &l);
            if (rc) {
                bool stepped = net->steps != steps_before;
                if (!stepped)
                    net->rng = rng_before;
                gfi_net_train_prepare_end(net, &prep, stepped);
                net->fb.running = false;
                return rc;
            }
            sum += l * (double)b;
        }
        epoch_loss = sum / (double)n;
        if (mean_loss)
            *mean_loss = epoch_loss;
        if (net->progress) {
            double el = now_seconds() - start;
            double rate = el > 0 ? (double)n * (e + 1) / el : 0.0;
            print_progress(e, epochs, epoch_loss, rate, el / (e + 1) * (epochs - e - 1));
        }
        if (!callback)
            continue;
        bool stop = callback(user, e, epoch_loss) != 0;
        /* The callback may have swapped the loss or its per-step layout: the targets were checked, and are gathered,
         * for the loss the fit began with.  As gf_net_fit_v2, the fit ends on any such change, stopping or not, rather
         * than on whatever the next step makes of the targets. */
        rc = gfi_fit_check_loss_unchanged(net, "gf_net_fit", loss_kind, loss_per_step);
        /* It may also have set per-sample recurrent settings, refused above because this loop shuffles: the next
         * epoch would give them to other samples. */
        if (!rc && !stop && e + 1 < epochs)
            rc = gfi_fit_check_layer_batches(net, "gf_net_fit (after its callback)", "gf_net_fit shuffles the "
                                             "samples (gf_net_fit_v2 can keep them in order)", n, 0, batch);
        if (rc) {
            net->fb.running = false;
            gfi_net_train_prepare_end(net, &prep, true);
            return rc;
        }
        if (stop)
            break;
    }
    net->fb.running = false;
    gfi_net_train_prepare_end(net, &prep, true);
    return GF_OK;
}
