/* clip.c — gradient clipping by value, by global L2 norm and by per-layer L2 norm. */
#include "internal.h"

#include <float.h>
#include <math.h>

/* Squares of floats cannot overflow or underflow a double, so a plain double
 * sum of squares is exact enough and safe for any finite float input. */
static double sum_squares(const float *v, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)v[i] * (double)v[i];
    return s;
}

double gfi_norm2(const float *v, size_t n) { return sqrt(sum_squares(v, n)); }

static int check_clip_net(gf_net *net, const char *fn)
{
    if (!net)
        return gfi_fail(GF_ERR_NULL, "%s: net is NULL", fn);
    if (net->magic != GFI_MAGIC_NET)
        return gfi_fail(GF_ERR_KIND, "%s: handle is not a live gf_net", fn);
    if (!net->grads_ready)
        return gfi_net_fail(net, GF_ERR_STATE, "%s: no gradients to clip; call gf_net_backward first", fn);
    return GF_OK;
}

/* A threshold under the smallest normal float would set every gradient to 0 (or a subnormal): a clamp to
 * +-value stores (float)value, which is 0 below 7e-46, and a norm that small leaves nothing of any component. */
static int check_threshold(gf_net *net, double v, const char *fn)
{
    if (!(v > 0.0) || !isfinite(v))
        return gfi_net_fail(net, GF_ERR_INVALID, "%s: threshold must be finite and > 0 (got %g)", fn, v);
    if (v < FLT_MIN)
        return gfi_net_fail(net, GF_ERR_INVALID, "%s: threshold %g is below the smallest normal float (%g): every "
                            "gradient would become 0", fn, v, (double)FLT_MIN);
    return GF_OK;
}

int gf_net_grad_norm(const gf_net *net, double *norm)
{
    if (!net)
        return gfi_fail(GF_ERR_NULL, "gf_net_grad_norm: net is NULL");
    if (net->magic != GFI_MAGIC_NET)
        return gfi_fail(GF_ERR_KIND, "gf_net_grad_norm: handle is not a live gf_net");
    if (!norm)
        return gfi_net_fail((gf_net *)net, GF_ERR_NULL, "gf_net_grad_norm: norm is NULL");
    /* The same state rule as clipping: before a backward the buffer holds no
     * gradient (zeros, or a stale one after a step), and a 0 would read as "vanished". */
    if (!net->grads_ready)
        return gfi_net_fail((gf_net *)net, GF_ERR_STATE,
                            "gf_net_grad_norm: no gradients; call gf_net_backward first");
    *norm = gfi_norm2(net->grads, net->nparams);
    return GF_OK;
}

/* The clipping entries take the name of the call they report under (fn): the train step applies the clipping set
 * by gf_net_set_clip, and its failures are the train step's. */
static int clip_value(gf_net *net, double value, const char *fn)
{
    int rc = check_clip_net(net, fn);
    if (rc || (rc = check_threshold(net, value, fn)))
        return rc;
    for (size_t i = 0; i < net->nparams; i++)
        if (isnan(net->grads[i]))
            return gfi_net_fail(net, GF_ERR_NONFINITE, "%s: gradient %zu is NaN", fn, i);
    float v = (float)value;
    for (size_t i = 0; i < net->nparams; i++)
        net->grads[i] = net->grads[i] > v ? v : net->grads[i] < -v ? -v : net->grads[i];
    return GF_OK;
}

int gf_net_clip_grad_value(gf_net *net, double value) { return clip_value(net, value, "gf_net_clip_grad_value"); }

static void scale(float *g, size_t n, double factor)
{
    for (size_t i = 0; i < n; i++)
        g[i] = (float)(g[i] * factor);
}

/* PyTorch's clip_grad_norm_: scale by max_norm / (norm + 1e-6) where that
 * is below 1.  The 1e-6 keeps the clipped norm just under max_norm, and it
 * is what makes a clip of a small gradient agree with PyTorch's (at a norm
 * of 1e-4, leaving it out changes every component by 1 %). */
#define CLIP_NORM_EPS 1e-6

static void clip_to(float *g, size_t n, double norm, double max_norm)
{
    double factor = max_norm / (norm + CLIP_NORM_EPS);
    if (factor < 1.0)
        scale(g, n, factor);
}

static int clip_norm(gf_net *net, double max_norm, double *norm_before, const char *fn)
{
    int rc = check_clip_net(net, fn);
    if (rc || (rc = check_threshold(net, max_norm, fn)))
        return rc;
    double norm = gfi_norm2(net->grads, net->nparams);
    if (norm_before)
        *norm_before = norm;
    if (!isfinite(norm))
        return gfi_net_fail(net, GF_ERR_NONFINITE, "%s: the gradient norm is %g; nothing clipped", fn, norm);
    clip_to(net->grads, net->nparams, norm, max_norm);
    return GF_OK;
}

int gf_net_clip_grad_norm(gf_net *net, double max_norm, double *norm_before)
{
    return clip_norm(net, max_norm, norm_before, "gf_net_clip_grad_norm");
}

static int clip_layer_norm(gf_net *net, double max_norm, const char *fn)
{
    int rc = check_clip_net(net, fn);
    if (rc || (rc = check_threshold(net, max_norm, fn)))
        return rc;
    /* Check every layer first, so a failure leaves all gradients untouched. */
    for (int32_t i = 0; i < net->nlayers; i++) {
        gf_layer *l = net->layers[i];
        double n = gfi_norm2(l->dw, l->nweights + l->nbias);
        if (!isfinite(n))
            return gfi_net_fail(net, GF_ERR_NONFINITE,
                                "%s: layer %d's gradient norm is %g; nothing clipped", fn, (int)i, n);
    }
    for (int32_t i = 0; i < net->nlayers; i++) {
        gf_layer *l = net->layers[i];
        clip_to(l->dw, l->nweights + l->nbias, gfi_norm2(l->dw, l->nweights + l->nbias), max_norm);
    }
    return GF_OK;
}

int gf_net_clip_grad_layer_norm(gf_net *net, double max_norm)
{
    return clip_layer_norm(net, max_norm, "gf_net_clip_grad_layer_norm");
}

int gf_net_set_clip(gf_net *net, int32_t mode, double value)
{
    if (!net)
        return gfi_fail(GF_ERR_NULL, "gf_net_set_clip: net is NULL");
    if (net->magic != GFI_MAGIC_NET)
        return gfi_fail(GF_ERR_KIND, "gf_net_set_clip: handle is not a live gf_net");
    if (mode < GF_CLIP_NONE || mode > GF_CLIP_LAYER_NORM)
        return gfi_net_fail(net, GF_ERR_INVALID, "gf_net_set_clip: unknown mode %d", (int)mode);
    if (mode != GF_CLIP_NONE) {
        int rc = check_threshold(net, value, "gf_net_set_clip");
        if (rc)
            return rc;
    }
    net->clip_mode = mode;
    net->clip_value = value;
    return GF_OK;
}

int gfi_net_apply_clip(gf_net *net, const char *fn)
{
    switch (net->clip_mode) {
    case GF_CLIP_VALUE: return clip_value(net, net->clip_value, fn);
    case GF_CLIP_NORM: return clip_norm(net, net->clip_value, NULL, fn);
    case GF_CLIP_LAYER_NORM: return clip_layer_norm(net, net->clip_value, fn);
    default: return GF_OK;
    }
}
