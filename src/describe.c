/* describe.c — a human-readable description of a net, written into a caller's buffer. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    char *buf;
    size_t cap, len; /* len counts every byte wanted, even past cap */
} sink;

static void put(sink *s, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    size_t k = (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1;
    if (s->cap && s->len < s->cap - 1) {
        size_t room = s->cap - 1 - s->len;
        memcpy(s->buf + s->len, tmp, k < room ? k : room);
    }
    s->len += k;
}

static const char *loss_name(int32_t k)
{
    static const char *names[] = {"mse", "mae", "huber", "bce_logits", "softmax_ce", "softmax_ce_labels"};
    return k >= 0 && k < (int32_t)(sizeof names / sizeof *names) ? names[k] : "?";
}

static const char *opt_name(int32_t k)
{
    static const char *names[] = {"sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adamw"};
    return k >= 0 && k < (int32_t)(sizeof names / sizeof *names) ? names[k] : "?";
}

static const char *init_name(int32_t k)
{
    static const char *names[] = {"zeros",       "constant",  "uniform",      "normal",
                                  "xavier_uniform", "xavier_normal", "he_uniform", "he_normal",
                                  "lecun_normal", "orthogonal", "default"};
    return k >= 0 && k < (int32_t)(sizeof names / sizeof *names) ? names[k] : "?";
}

int gf_net_describe(const gf_net *net, char *buf, size_t cap, size_t *needed)
{
    if (!net)
        return gfi_fail(GF_ERR_NULL, "gf_net_describe: net is NULL");
    if (net->magic != GFI_MAGIC_NET)
        return gfi_fail(GF_ERR_KIND, "gf_net_describe: handle is not a live gf_net");
    if (!buf && cap)
        return gfi_fail(GF_ERR_NULL, "gf_net_describe: buf is NULL but cap is %zu", cap);
    sink s = {buf, cap, 0};
    put(&s, "net: %lld inputs -> %lld outputs, %d layers, %zu parameters\n", (long long)net->inputs,
        (long long)gf_net_output_size(net), (int)net->nlayers, net->nparams);
    for (int32_t i = 0; i < net->nlayers; i++) {
        const gf_layer *l = net->layers[i];
        put(&s, "  [%d] %s %lld -> %lld, activation %s, W %lldx%lld (init %s), b %lld (init %s)", (int)i, l->ops->name,
            (long long)l->in, (long long)l->out, gf_activation_name(l->act.kind), (long long)l->out,
            (long long)l->in, init_name(l->winit.kind), (long long)l->out, init_name(l->binit.kind));
        if (l->has_pen)
            put(&s, ", penalty l1=%g l2=%g%s", l->pen.l1, l->pen.l2, l->pen.include_bias ? " (+bias)" : "");
        put(&s, "\n");
    }
    put(&s, "loss: %s", loss_name(net->loss.kind));
    if (net->loss.kind == GF_LOSS_HUBER)
        put(&s, " (delta %g)", net->loss.delta);
    if (net->opt)
        put(&s, "; optimizer: %s lr=%g", opt_name(net->opt->kind), net->opt->lr);
    else
        put(&s, "; optimizer: sgd lr=0.01 (default)");
    if (net->has_pen)
        put(&s, "; penalty l1=%g l2=%g%s", net->pen.l1, net->pen.l2, net->pen.include_bias ? " (+bias)" : "");
    if (net->clip_mode != GF_CLIP_NONE)
        put(&s, "; clip %s %g", net->clip_mode == GF_CLIP_VALUE ? "value" : net->clip_mode == GF_CLIP_NORM ? "norm" : "layer-norm",
            net->clip_value);
    put(&s, "\n");
    if (needed)
        *needed = s.len + 1;
    if (cap)
        buf[s.len < cap ? s.len : cap - 1] = '\0';
    if (s.len + 1 > cap)
        return gfi_fail(GF_ERR_BUFFER, "gf_net_describe: the description needs %zu bytes, the buffer has %zu",
                        s.len + 1, cap);
    return GF_OK;
}
