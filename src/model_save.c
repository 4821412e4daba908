/*
 * model_save.c — writing model files (docs/format.md): gf_net_save (atomic,
 * through fileio.c) and gf_net_save_buffer.
 *
 * Every record's body is measured by a pass that writes nothing before it is
 * written, so the lengths go in front and the file streams out in one pass
 * through a small staging buffer, its CRC-32 computed on the way.
 */
#include "model_io.h"

#include "ew.h"

#include <string.h>

static uint64_t double_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    return u;
}

/* Where the bytes go: nowhere (measuring: only len counts), into a caller
 * buffer large enough for the whole model, or through a staging buffer into
 * an atomic file.  crc covers every byte put so far. */
typedef struct wr {
    uint8_t *buf;
    size_t cap, len, fill; /* fill: staged bytes not yet sent to file */
    gfi_atomic_file *file;
    uint32_t crc;
    int rc; /* the first failure of the file */
} wr;

static void flush(wr *w)
{
    if (w->fill && !w->rc)
        w->rc = gfi_atomic_write(w->file, w->buf, w->fill);
    w->fill = 0;
}

static void put(wr *w, const void *p, size_t n)
{
    w->len += n;
    if (!w->buf)
        return;
    w->crc = gfi_crc32(w->crc, p, n);
    if (!w->file) {
        memcpy(w->buf + w->len - n, p, n);
        return;
    }
    for (const uint8_t *b = p; n;) {
        size_t k = n < w->cap - w->fill ? n : w->cap - w->fill;
        memcpy(w->buf + w->fill, b, k);
        w->fill += k;
        b += k;
        n -= k;
        if (w->fill == w->cap)
            flush(w);
    }
}

static void put8(wr *w, uint8_t v) { put(w, &v, 1); }

static void put16(wr *w, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(w, b, 2);
}

static void put32(wr *w, uint32_t v)
{
    uint8_t b[4];
    gfi_mf_set32(b, v);
    put(w, b, 4);
}

static void put64(wr *w, uint64_t v)
{
    uint8_t b[8];
    gfi_mf_set64(b, v);
    put(w, b, 8);
}

/* n floats as binary32, little-endian: a few at a time through a stack buffer. */
static void put_floats(wr *w, const float *v, size_t n)
{
    if (!w->buf) {
        w->len += n * 4;
        return;
    }
    uint8_t b[256];
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        for (; k < sizeof b / 4 && i < n; k++, i++) {
            uint32_t u;
            memcpy(&u, &v[i], 4);
            gfi_mf_set32(b + 4 * k, u);
        }
        put(w, b, 4 * k);
    }
}

static void put_name(wr *w, const char *s)
{
    size_t n = strlen(s);
    put8(w, (uint8_t)n);
    put(w, s, n);
}

/* A block's dims: rank, then each dimension. */
static void put_dims(wr *w, int32_t rank, const int64_t *dim)
{
    put32(w, (uint32_t)rank);
    for (int32_t i = 0; i < rank; i++)
        put64(w, (uint64_t)dim[i]);
}

/* A sample's shape: its kind (GF_SHAPE_*), then its dims. */
static void put_shape(wr *w, const gfi_shape *s)
{
    put32(w, (uint32_t)s->kind);
    put_dims(w, s->rank, s->dim);
}

static void put_opts(wr *w, const gfi_opts *o)
{
    put32(w, (uint32_t)o->n);
    for (int32_t i = 0; i < o->n; i++) {
        const gfi_opt *e = &o->v[i];
        put16(w, e->key);
        put8(w, e->type);
        put8(w, e->flags);
        put64(w, e->type == GFI_OPT_INT ? (uint64_t)e->i : double_bits(e->f));
    }
}

/* A record: type, flags, body length (measured by a pass that writes nothing), then the body. */
static void put_record(wr *w, uint32_t type, void (*body)(wr *, const void *), const void *arg)
{
    wr m = {0};
    body(&m, arg);
    put32(w, type);
    put32(w, 0);
    put64(w, m.len);
    body(w, arg);
}

static void put_activation(wr *w, const gfi_act *a)
{
    gfi_opts o = {.n = 0};
    if (a->kind == GF_ACT_LEAKY_RELU)
        gfi_opts_put_real(&o, GF_ACT_PARAM_SLOPE, a->slope);
    if (a->kind == GF_ACT_ELU)
        gfi_opts_put_real(&o, GF_ACT_PARAM_ALPHA, a->alpha);
    put32(w, (uint32_t)a->kind);
    put_opts(w, &o);
}

static void put_init(wr *w, uint32_t role, const gfi_init *c)
{
    gfi_opts o = {.n = 0};
    if (gfi_init_has_range(c->kind)) {
        gfi_opts_put_real(&o, GFI_MF_INIT_A, c->a);
        gfi_opts_put_real(&o, GFI_MF_INIT_B, c->b);
    }
    if (gfi_init_has_gain(c->kind))
        gfi_opts_put_real(&o, GFI_MF_INIT_GAIN, c->gain);
    if (gfi_init_has_mode(c->kind))
        gfi_opts_put_int(&o, GFI_MF_INIT_MODE, c->mode);
    put32(w, role);
    put32(w, (uint32_t)c->kind);
    put_opts(w, &o);
}

static void put_penalty(wr *w, bool present, const gfi_penalty *p)
{
    put8(w, present);
    if (!present)
        return;
    gfi_opts o = {.n = 0};
    gfi_opts_put_real(&o, GFI_MF_PEN_L1, p->l1);
    gfi_opts_put_real(&o, GFI_MF_PEN_L2, p->l2);
    gfi_opts_put_int(&o, GFI_MF_PEN_INCLUDE_BIAS, p->include_bias);
    put_opts(w, &o);
}

static bool metric_has_param(int32_t kind) { return kind == GF_METRIC_TOP_K || kind == GF_METRIC_BINARY_ACCURACY; }

/* The metrics the net reports (gf_net_add_metric): a count, then kind and options each. */
static void put_metrics(wr *w, const gf_net *net)
{
    put32(w, (uint32_t)net->nmetrics);
    for (int32_t i = 0; i < net->nmetrics; i++) {
        gfi_opts o = {.n = 0};
        if (metric_has_param(net->metrics[i].kind))
            gfi_opts_put_real(&o, GFI_MF_METRIC_PARAM, net->metrics[i].param);
        put32(w, (uint32_t)net->metrics[i].kind);
        put_opts(w, &o);
    }
}

static void net_body(wr *w, const void *arg)
{
    const gf_net *net = arg;
    put_shape(w, &net->in_shape);
    put64(w, net->seed);
    gfi_opts o = {.n = 0};
    gfi_opts_put_int(&o, GFI_MF_NET_CLIP_MODE, net->clip_mode);
    if (net->clip_mode != GF_CLIP_NONE)
        gfi_opts_put_real(&o, GFI_MF_NET_CLIP_VALUE, net->clip_value);
    gfi_opts_put_int(&o, GFI_MF_NET_INPUT_GRAD, net->want_dinput);
    put_opts(w, &o);
    gfi_opts lo = {.n = 0};
    if (net->loss.kind == GF_LOSS_HUBER)
        gfi_opts_put_real(&lo, GF_LOSS_PARAM_DELTA, net->loss.delta);
    /* Only when set: files of nets without it stay readable by libraries that predate it. */
    if (net->loss.per_step)
        gfi_opts_put_int(&lo, GF_LOSS_PARAM_PER_STEP, 1);
    put32(w, (uint32_t)net->loss.kind);
    put_opts(w, &lo);
    put_penalty(w, net->has_pen, &net->pen);
    put_metrics(w, net);
}

/* Every option the kind takes (its spec list), each typed as the spec says. */
static void put_layer_options(wr *w, const gf_layer *l)
{
    gfi_opts o = {.n = 0};
    for (const gfi_option_spec *spec = l->ops->options; spec && spec->key >= 0; spec++) {
        if (spec->integer)
            gfi_opts_put_int(&o, (uint16_t)spec->key, (int64_t)l->opt[spec->key]);
        else
            gfi_opts_put_real(&o, (uint16_t)spec->key, l->opt[spec->key]);
    }
    put_opts(w, &o);
}

static void layer_body(wr *w, const void *arg)
{
    const gf_layer *l = arg;
    put32(w, (uint32_t)l->ops->kind);
    put_name(w, l->ops->name);
    put_shape(w, &l->in_shape);
    put_layer_options(w, l);
    put_activation(w, &l->act);
    put32(w, 2);
    put_init(w, GFI_MF_ROLE_WEIGHT, &l->winit);
    put_init(w, GFI_MF_ROLE_BIAS, &l->binit);
    put_penalty(w, l->has_pen, &l->pen);
    put32(w, (uint32_t)l->nblocks);
    for (int32_t i = 0; i < l->nblocks; i++) {
        const gfi_block *b = &l->block[i];
        put_name(w, b->name);
        put_dims(w, b->rank, b->dim);
        put_floats(w, l->w + b->offset, b->count); /* blocks sit at their offsets in the layer's span */
    }
}

static void optimizer_body(wr *w, const void *arg)
{
    const gf_optimizer *opt = arg;
    gfi_opts o = {.n = 0};
    for (int32_t p = GF_OPT_LR; p <= GF_OPT_WEIGHT_DECAY; p++)
        if (gfi_opt_param_applies(opt->kind, p))
            gfi_opts_put_real(&o, (uint16_t)p, gfi_opt_param_value(opt, p));
    put32(w, (uint32_t)opt->kind);
    put_opts(w, &o);
}

/* Moments are saved only once sized for the net (an optimizer that never stepped has none). */
static bool opt_has_moments(const gf_net *net)
{
    const gf_optimizer *o = net->opt;
    return o && o->nparams == net->nparams && net->nparams > 0 && (o->m || o->v);
}

static void training_body(wr *w, const void *arg)
{
    const gf_net *net = arg;
    for (int i = 0; i < 4; i++)
        put64(w, net->rng.s[i]);
    put64(w, (uint64_t)net->steps);
    put8(w, net->training_began);
    put64(w, net->opt ? (uint64_t)net->opt->t : 0);
    const gf_optimizer *o = net->opt;
    bool moments = opt_has_moments(net);
    put32(w, moments ? (uint32_t)((o->m != NULL) + (o->v != NULL)) : 0);
    for (int k = 0; moments && k < 2; k++) {
        const float *v = k ? o->v : o->m;
        if (!v)
            continue;
        put_name(w, k ? "v" : "m");
        put64(w, (uint64_t)net->nparams);
        put_floats(w, v, net->nparams);
    }
}

/* Everything but the checksum; size is the whole file's (from a measuring pass, or 0 while measuring). */
static void put_model(wr *w, const gf_net *net, bool training, size_t size)
{
    put(w, gfi_mf_magic, sizeof gfi_mf_magic);
    put16(w, GF_FORMAT_VERSION_MAJOR);
    put16(w, GF_FORMAT_VERSION_MINOR);
    put32(w, training ? GFI_MF_HEADER_TRAINING : 0);
    put32(w, (uint32_t)GF_VERSION_NUMBER);
    put32(w, 0);
    put64(w, size);
    put_record(w, GFI_MF_REC_NET, net_body, net);
    for (int32_t i = 0; i < net->nlayers; i++)
        put_record(w, GFI_MF_REC_LAYER, layer_body, net->layers[i]);
    if (net->opt)
        put_record(w, GFI_MF_REC_OPTIMIZER, optimizer_body, net->opt);
    if (training)
        put_record(w, GFI_MF_REC_TRAINING, training_body, net);
}

static size_t model_size(const gf_net *net, bool training)
{
    wr m = {0};
    put_model(&m, net, training, 0);
    return m.len + GFI_MF_CRC;
}

/* The whole file through w (a caller buffer or a file's staging buffer). */
static void write_model(wr *w, const gf_net *net, bool training, size_t size)
{
    put_model(w, net, training, size);
    put32(w, w->crc);
}

/* Files hold finite numbers only: a net that diverged is refused, naming where. */
static int check_finite(const gf_net *net, bool training, const char *fn)
{
    size_t i = gfi_ew()->first_nonfinite(net->params, net->nparams);
    if (i < net->nparams) {
        int32_t k = 0;
        while (k + 1 < net->nlayers && net->layers[k + 1]->param_offset <= i)
            k++;
        return gfi_net_fail((gf_net *)net, GF_ERR_NONFINITE, "%s: parameter %zu (layer %d) is %g; nothing written",
                            fn, i, (int)k, (double)net->params[i]);
    }
    if (!training || !opt_has_moments(net))
        return GF_OK;
    const float *mv[2] = {net->opt->m, net->opt->v};
    for (int k = 0; k < 2; k++)
        if (mv[k] && (i = gfi_ew()->first_nonfinite(mv[k], net->nparams)) < net->nparams)
            return gfi_net_fail((gf_net *)net, GF_ERR_NONFINITE, "%s: optimizer state %s[%zu] is %g; nothing written",
                                fn, k ? "v" : "m", i, (double)mv[k][i]);
    return GF_OK;
}

static int check_save(const gf_net *net, uint32_t flags, const char *fn)
{
    if (!net)
        return gfi_fail(GF_ERR_NULL, "%s: net is NULL", fn);
    if (!gfi_is_net(net))
        return gfi_fail(GF_ERR_KIND, "%s: handle is not a live gf_net", fn);
    if (flags & ~(uint32_t)GF_SAVE_TRAINING_STATE)
        return gfi_net_fail((gf_net *)net, GF_ERR_INVALID, "%s: unknown flags 0x%x", fn,
                            (unsigned)(flags & ~(uint32_t)GF_SAVE_TRAINING_STATE));
    return check_finite(net, flags & GF_SAVE_TRAINING_STATE, fn);
}

int gf_net_save_buffer(const gf_net *net, uint32_t flags, void *buf, size_t cap, size_t *needed)
{
    const char *fn = "gf_net_save_buffer";
    int rc = check_save(net, flags, fn);
    if (rc)
        return rc;
    if (!buf && cap)
        return gfi_net_fail((gf_net *)net, GF_ERR_NULL, "%s: buf is NULL with cap %zu", fn, cap);
    if (cap > GFI_COUNT_MAX(1))
        return gfi_net_fail((gf_net *)net, GF_ERR_OVERFLOW, "%s: cap = %zu is more bytes than a buffer can hold (at "
                            "most %zu): a negative size converted to size_t?", fn, cap, GFI_COUNT_MAX(1));
    bool training = flags & GF_SAVE_TRAINING_STATE;
    size_t size = model_size(net, training);
    if (needed)
        *needed = size;
    if (cap == 0)
        return GF_OK; /* the size query, as for every caller buffer: a success that sets no message */
    if (cap < size)
        return gfi_net_fail((gf_net *)net, GF_ERR_BUFFER, "%s: the model needs %zu bytes, the buffer has %zu", fn,
                            size, cap);
    wr w = {.buf = buf, .cap = cap};
    write_model(&w, net, training, size);
    return GF_OK;
}

int gf_net_save(const gf_net *net, const char *path, uint32_t flags)
{
    const char *fn = "gf_net_save";
    int rc = check_save(net, flags, fn);
    if (rc)
        return rc;
    if (!path)
        return gfi_net_fail((gf_net *)net, GF_ERR_NULL, "%s: path is NULL", fn);
    bool training = flags & GF_SAVE_TRAINING_STATE;
    size_t size = model_size(net, training);
    wr w = {.cap = size < (1u << 16) ? size : (1u << 16)};
    gfi_atomic_file f;
    if (!(w.buf = gfi_malloc(w.cap)))
        return gfi_net_fail((gf_net *)net, GF_ERR_NOMEM, "%s: out of memory", fn);
    if ((rc = gfi_atomic_open(&f, path, fn))) {
        gfi_free(w.buf);
        return gfi_net_fail((gf_net *)net, rc, "%s", gf_last_error());
    }
    w.file = &f;
    write_model(&w, net, training, size);
    flush(&w);
    gfi_free(w.buf);
    if ((rc = w.rc ? w.rc : gfi_atomic_commit(&f)))
        return gfi_net_fail((gf_net *)net, rc, "%s", gf_last_error());
    return GF_OK;
}
