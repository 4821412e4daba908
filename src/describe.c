/* describe.c — a human-readable description of a net, written into a caller's buffer. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* The kind's value of key, or -1 when it does not take it. */
static double option_of(const gf_layer *l, int32_t key)
{
    for (const gfi_option_spec *o = l->ops->options; o && o->key >= 0; o++)
        if (o->key == key)
            return l->opt[key];
    return -1;
}

/* Window options of conv and pooling kinds as PyTorch names them: "kernel 3x3, stride 2x2, padding 1x1,
 * dilation 1x1, groups 1" (1-D kinds: one number each; a pooling stride of 0 is the kernel). */
static void describe_window(gfi_sink *s, const gf_layer *l)
{
    static const struct { const char *name; int32_t h, w; } pairs[] = {
        {"kernel", GF_LAYER_KERNEL_H, GF_LAYER_KERNEL_W},
        {"stride", GF_LAYER_STRIDE_H, GF_LAYER_STRIDE_W},
        {"padding", GF_LAYER_PAD_H, GF_LAYER_PAD_W},
        {"dilation", GF_LAYER_DILATION_H, GF_LAYER_DILATION_W},
    };
    for (size_t k = 0; k < sizeof pairs / sizeof *pairs; k++) {
        double h = option_of(l, pairs[k].h), w = option_of(l, pairs[k].w);
        if (w < 0)
            continue;
        if (pairs[k].w == GF_LAYER_STRIDE_W && w == 0) { /* pooling: 0 is the window */
            w = option_of(l, GF_LAYER_KERNEL_W);
            h = h == 0 ? option_of(l, GF_LAYER_KERNEL_H) : h;
        }
        gfi_sink_put(s, h < 0 ? ", %s %.0f" : ", %s %.0fx%.0f", pairs[k].name, h < 0 ? w : h, w);
    }
    if (option_of(l, GF_LAYER_GROUPS) >= 0)
        gfi_sink_put(s, ", groups %.0f", l->opt[GF_LAYER_GROUPS]);
}

/* "[i] kind in -> out, activation a, W rows x cols (init w), b n (init b)": vectors as bare sizes, other
 * shapes named, every parameter block by its PyTorch name and dims. */
static void describe_layer(gfi_sink *s, const gf_layer *l, char *in, char *out, size_t cap)
{
    bool vec = l->in_shape.kind == GF_SHAPE_VECTOR && l->out_shape.kind == GF_SHAPE_VECTOR;
    if (vec)
        gfi_sink_put(s, "  [%d] %s %lld -> %lld", (int)l->index, l->ops->name, (long long)l->in, (long long)l->out);
    else
        gfi_sink_put(s, "  [%d] %s %s -> %s", (int)l->index, l->ops->name, gfi_shape_str(&l->in_shape, in, cap),
                     gfi_shape_str(&l->out_shape, out, cap));
    describe_window(s, l);
    if (l->ops->has_activation)
        gfi_sink_put(s, ", activation %s", gf_activation_name(l->act.kind));
    for (int32_t k = 0; k < l->nblocks; k++) {
        const gfi_block *b = &l->block[k];
        /* Dense keeps its familiar "W out x in", "b out"; other kinds print PyTorch's names. */
        const char *name = l->kind == GF_LAYER_DENSE ? (b->bias ? "b" : "W") : b->name;
        gfi_sink_put(s, ", %s ", name);
        for (int32_t r = 0; r < b->rank; r++)
            gfi_sink_put(s, r ? "x%lld" : "%lld", (long long)b->dim[r]);
        gfi_sink_put(s, " (init %s)", gfi_init_name(b->bias ? l->binit.kind : l->winit.kind));
    }
    if (l->has_pen)
        gfi_sink_put(s, ", penalty l1=%g l2=%g%s", l->pen.l1, l->pen.l2, l->pen.include_bias ? " (+bias)" : "");
    gfi_sink_put(s, "\n");
}

int gf_net_describe(const gf_net *net, char *buf, size_t cap, size_t *needed)
{
    if (!net)
        return gfi_fail(GF_ERR_NULL, "gf_net_describe: net is NULL");
    if (net->magic != GFI_MAGIC_NET)
        return gfi_fail(GF_ERR_KIND, "gf_net_describe: handle is not a live gf_net");
    if (!buf && cap)
        return gfi_fail(GF_ERR_NULL, "gf_net_describe: buf is NULL but cap is %zu", cap);
    gfi_sink s = {buf, cap, 0, 0};
    char in[96], out[96];
    gfi_sink_put(&s, "net: %lld inputs -> %lld outputs, %d layers, %zu parameters\n", (long long)net->inputs,
        (long long)gf_net_output_size(net), (int)net->nlayers, net->nparams);
    if (net->in_shape.kind != GF_SHAPE_VECTOR)
        gfi_sink_put(&s, "input: %s\n", gfi_shape_str(&net->in_shape, in, sizeof in));
    for (int32_t i = 0; i < net->nlayers; i++)
        describe_layer(&s, net->layers[i], in, out, sizeof in);
    gfi_sink_put(&s, "loss: %s", gfi_loss_name(net->loss.kind));
    if (net->loss.kind == GF_LOSS_HUBER)
        gfi_sink_put(&s, " (delta %g)", net->loss.delta);
    if (net->loss.per_step)
        gfi_sink_put(&s, " (per step)");
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
