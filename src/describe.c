/* describe.c — a human-readable description of a net, written into a caller's buffer. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

int gf_net_describe(const gf_net *net, char *buf, size_t cap, size_t *needed)
{
    if (!net)
        return gfi_fail(GF_ERR_NULL, "gf_net_describe: net is NULL");
    if (net->magic != GFI_MAGIC_NET)
        return gfi_fail(GF_ERR_KIND, "gf_net_describe: handle is not a live gf_net");
    if (!buf && cap)
        return gfi_fail(GF_ERR_NULL, "gf_net_describe: buf is NULL but cap is %zu", cap);
    gfi_sink s = {buf, cap, 0};
    gfi_sink_put(&s, "net: %lld inputs -> %lld outputs, %d layers, %zu parameters\n", (long long)net->inputs,
        (long long)gf_net_output_size(net), (int)net->nlayers, net->nparams);
    for (int32_t i = 0; i < net->nlayers; i++) {
        const gf_layer *l = net->layers[i];
        gfi_sink_put(&s, "  [%d] %s %lld -> %lld, activation %s, W %lldx%lld (init %s), b %lld (init %s)", (int)i, l->ops->name,
            (long long)l->in, (long long)l->out, gf_activation_name(l->act.kind), (long long)l->out,
            (long long)l->in, gfi_init_name(l->winit.kind), (long long)l->out, gfi_init_name(l->binit.kind));
        if (l->has_pen)
            gfi_sink_put(&s, ", penalty l1=%g l2=%g%s", l->pen.l1, l->pen.l2, l->pen.include_bias ? " (+bias)" : "");
        gfi_sink_put(&s, "\n");
    }
    gfi_sink_put(&s, "loss: %s", gfi_loss_name(net->loss.kind));
    if (net->loss.kind == GF_LOSS_HUBER)
        gfi_sink_put(&s, " (delta %g)", net->loss.delta);
    if (net->opt)
        gfi_sink_put(&s, "; optimizer: %s lr=%g", gfi_opt_name(net->opt->kind), net->opt->lr);
    else
        gfi_sink_put(&s, "; optimizer: sgd lr=0.01 (default)");
    if (net->has_pen)
        gfi_sink_put(&s, "; penalty l1=%g l2=%g%s", net->pen.l1, net->pen.l2, net->pen.include_bias ? " (+bias)" : "");
    if (net->clip_mode != GF_CLIP_NONE)
        gfi_sink_put(&s, "; clip %s %g", net->clip_mode == GF_CLIP_VALUE ? "value" : net->clip_mode == GF_CLIP_NORM ? "norm" : "layer-norm",
            net->clip_value);
    gfi_sink_put(&s, "\n");
    return gfi_sink_finish(&s, needed, "gf_net_describe");
}
