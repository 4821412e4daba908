/*
 * verdict_conv.c — the measurement behind the conv rule of verdict.c: how much of the gradient the
 * activations of a net's conv layers pass on the way down.
 *
 * The depth trend of verdict.c fits delta rms over every layer.  In a CNN that trend is blurred twice:
 * pooling and flatten layers sit between the conv layers and change nothing but the size, and the size
 * changes move an rms by itself (2 x 2 max pooling halves the rms of the gradient it routes, with the
 * norm unchanged).  A two-layer sigmoid CNN whose sigmoids keep x0.24 of the gradient each showed "x0.8
 * per layer" there, under the decade the trend needs.  So the conv rule reads each conv layer's own
 * activation: its backward gain g = ||d loss / d z|| / ||d loss / d y|| (pre-activation over output, same
 * size, so norms compare), measured at every observed step.  Sigmoid passes at most 0.25 of it, tanh at
 * most 1 and less as it saturates; ReLU passes the share of the gradient that lands on live positions
 * (0.83 per layer in examples/cnn.c's healthy net: max pooling routes it to maxima, which are live).
 * It also names a conv layer's dead or saturated filter maps in the reasons.
 */
#include "verdict.h"

#include <math.h>

/* ||d loss / d y|| of layer i: the delta-in norm of the layer above (the loss gradient for the top layer,
 * which is not recorded). */
static double output_delta_norm(const gf_diag *d, int32_t i)
{
    const double *v = gfi_diag_at(d, 0, i + 1, GF_STAT_DELTA_IN_NORM);
    return v ? *v : NAN;
}

static bool is_conv(const gf_layer *l) { return l->kind == GF_LAYER_CONV1D || l->kind == GF_LAYER_CONV2D; }

double gfi_conv_act_gain(const gf_diag *d, int32_t i)
{
    const gf_net *net = d->net;
    if (!net || net->magic != GFI_MAGIC_NET || i < 0 || i + 1 >= net->nlayers || i >= d->nlayers ||
        !is_conv(net->layers[i]) || net->layers[i]->act.kind == GF_ACT_IDENTITY)
        return NAN;
    const double *pre = gfi_diag_at(d, 0, i, GF_STAT_DELTA_PRE_NORM);
    double out = output_delta_norm(d, i);
    if (!pre || !isfinite(*pre) || !isfinite(out) || !(out > 0))
        return NAN;
    return *pre / out;
}

void gfi_conv_gain_scan(const gf_diag *d, gfi_conv_gain *g)
{
    *g = (gfi_conv_gain){.lo = -1, .hi = -1, .act = -1, .product = 1.0, .mean = 1.0};
    double logsum = 0.0;
    for (int32_t i = 0; i < d->nlayers; i++) {
        double v = gfi_conv_act_gain(d, i);
        if (!isfinite(v))
            continue;
        if (g->lo < 0) {
            g->lo = i;
            g->act = d->net->layers[i]->act.kind;
        }
        g->hi = i;
        g->layers++;
        g->product *= v;
        logsum += log(v > 1e-300 ? v : 1e-300);
    }
    if (g->layers)
        g->mean = exp(logsum / g->layers);
}

void gfi_conv_put_channels(const gf_diag *d, int32_t i, int32_t key, gfi_sink *s)
{
    const gf_net *net = d->net;
    if (!net || net->magic != GFI_MAGIC_NET || i < 0 || i >= net->nlayers || !is_conv(net->layers[i]))
        return;
    const gf_layer *l = net->layers[i];
    double v[16];
    int64_t n = l->ops->series(l, key, v, 16);
    if (n <= 0)
        return;
    gfi_sink_put(s, "; %s filter maps: ", key == GF_SERIES_DEAD_CHANNELS ? "dead" : "saturated");
    for (int64_t k = 0; k < n && k < 16; k++)
        gfi_sink_put(s, k ? ", %.0f" : "%.0f", v[k]);
    gfi_sink_put(s, "%s of %lld", n > 16 ? ", ..." : "", (long long)l->out_shape.dim[0]);
}
