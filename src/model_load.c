/*
 * model_load.c — reading model files (docs/format.md): gf_net_load,
 * gf_net_load_buffer and gf_model_info.
 *
 * The loader trusts nothing: it checks the magic, the version, the declared
 * size against the real one and the checksum before it parses a record, and
 * then checks every count and size against the bytes that remain (and a sane
 * limit) before it allocates.  It builds a new net through the same calls a
 * program would use, so every value meets the same validation; the first
 * problem is GF_ERR_FORMAT with a message naming it and its byte offset, and
 * the half-built net is destroyed.
 */
#include "model_io.h"

#include "ew.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static double bits_double(uint64_t u)
{
    double d;
    memcpy(&d, &u, 8);
    return d;
}

/* A cursor over [pos, end) of the file p. */
typedef struct rd {
    const uint8_t *p;
    size_t pos, end;
} rd;

static size_t left(const rd *r) { return r->end - r->pos; }

static int need(const rd *r, size_t n, const char *what)
{
    if (n > left(r))
        return gfi_format_fail(r->pos, "%s needs %zu bytes, the record has %zu left", what, n, left(r));
    return GF_OK;
}

static int rd8(rd *r, const char *what, uint8_t *v)
{
    int rc = need(r, 1, what);
    if (!rc)
        *v = r->p[r->pos++];
    return rc;
}

static int rd32(rd *r, const char *what, uint32_t *v)
{
    int rc = need(r, 4, what);
    if (!rc) {
        *v = gfi_mf_get32(r->p + r->pos);
        r->pos += 4;
    }
    return rc;
}

static int rd64(rd *r, const char *what, uint64_t *v)
{
    int rc = need(r, 8, what);
    if (!rc) {
        *v = gfi_mf_get64(r->p + r->pos);
        r->pos += 8;
    }
    return rc;
}

/* A flag byte that must be 0 or 1. */
static int rd_bool(rd *r, const char *what, bool *v)
{
    size_t at = r->pos;
    uint8_t b;
    int rc = rd8(r, what, &b);
    if (!rc && b > 1)
        rc = gfi_format_fail(at, "%s is %u, not 0 or 1", what, (unsigned)b);
    if (!rc)
        *v = b;
    return rc;
}

/* A name: a length byte (1..GFI_MF_MAX_NAME) and that many bytes of [a-z0-9_], NUL-terminated into out. */
static int rd_name(rd *r, const char *what, char out[GFI_MF_MAX_NAME + 1])
{
    size_t at = r->pos;
    uint8_t n;
    int rc = rd8(r, what, &n);
    if (rc || (rc = need(r, n, what)))
        return rc;
    if (n == 0 || n > GFI_MF_MAX_NAME)
        return gfi_format_fail(at, "%s has length %u, not 1..%d", what, (unsigned)n, GFI_MF_MAX_NAME);
    for (uint8_t i = 0; i < n; i++) {
        uint8_t c = r->p[r->pos + i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return gfi_format_fail(r->pos + i, "%s holds byte 0x%02x; names use a-z, 0-9 and _", what, (unsigned)c);
        out[i] = (char)c;
    }
    out[n] = '\0';
    r->pos += n;
    return GF_OK;
}

/* A block's dims: rank 1..GFI_MF_MAX_RANK, each dimension 1..2^40. */
static int rd_dims(rd *r, const char *what, gfi_mf_shape *s)
{
    size_t at = r->pos;
    uint32_t rank;
    s->kind = 0;
    int rc = rd32(r, what, &rank);
    if (rc)
        return rc;
    if (rank < 1 || rank > GFI_MF_MAX_RANK)
        return gfi_format_fail(at, "%s has rank %u, not 1..%d", what, (unsigned)rank, GFI_MF_MAX_RANK);
    s->rank = (int32_t)rank;
    for (uint32_t i = 0; i < rank; i++) {
        uint64_t d;
        at = r->pos;
        if ((rc = rd64(r, what, &d)))
            return rc;
        if (d < 1 || d > (uint64_t)GFI_MF_MAX_DIM)
            return gfi_format_fail(at, "%s: dimension %u is %llu, not 1..2^40", what, (unsigned)i, (unsigned long long)d);
        s->dim[i] = (int64_t)d;
    }
    return GF_OK;
}

/* A sample's shape: a kind this format knows (0..3), then its dims. */
static int rd_shape(rd *r, const char *what, gfi_mf_shape *s)
{
    size_t at = r->pos;
    uint32_t kind;
    int rc = rd32(r, what, &kind);
    if (rc || (rc = rd_dims(r, what, s)))
        return rc;
    if (kind > 3)
        return gfi_format_fail(at, "%s has unknown shape kind %u (0 vector, 1 sequence, 2 signal, 3 image)", what,
                               (unsigned)kind);
    s->kind = (int32_t)kind;
    return GF_OK;
}

/* "4 x 3" for a block; with its kind for a sample's shape ("vector 4"). */
static void shape_text(const gfi_mf_shape *s, bool kind, char *buf, size_t cap)
{
    static const char *const kinds[4] = {"vector ", "sequence ", "signal ", "image "};
    size_t n = (size_t)snprintf(buf, cap, "%s", kind ? kinds[s->kind & 3] : "");
    for (int32_t i = 0; i < s->rank && n < cap; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%lld", i ? " x " : "", (long long)s->dim[i]);
}

static bool shape_equal(const gfi_mf_shape *a, const gfi_mf_shape *b)
{
    if (a->kind != b->kind || a->rank != b->rank)
        return false;
    for (int32_t i = 0; i < a->rank; i++)
        if (a->dim[i] != b->dim[i])
            return false;
    return true;
}

/* An option list: count, then entries of key u16, type u8, flags u8, value u64. */
static int rd_opts(rd *r, gfi_opts *o, const char *what)
{
    o->n = 0;
    o->what = what;
    size_t at = r->pos;
    uint32_t n;
    int rc = rd32(r, "an option count", &n);
    if (rc)
        return rc;
    if (n > GFI_MF_MAX_OPTIONS)
        return gfi_format_fail(at, "%s: %u options, more than the %d allowed", what, (unsigned)n, GFI_MF_MAX_OPTIONS);
    if ((rc = need(r, (size_t)n * GFI_MF_ENTRY, "the options")))
        return rc;
    for (uint32_t i = 0; i < n; i++, r->pos += GFI_MF_ENTRY) {
        const uint8_t *e = r->p + r->pos;
        gfi_opt *x = &o->v[i];
        *x = (gfi_opt){.key = gfi_mf_get16(e), .type = e[2], .flags = e[3], .at = r->pos};
        uint64_t bits = gfi_mf_get64(e + 4);
        if (x->type != GFI_OPT_INT && x->type != GFI_OPT_REAL)
            return gfi_format_fail(r->pos, "%s: option key %u has unknown value type %u", what, (unsigned)x->key,
                                   (unsigned)x->type);
        if (x->flags & ~GFI_OPT_IGNORABLE)
            return gfi_format_fail(r->pos, "%s: option key %u has unknown flags 0x%02x", what, (unsigned)x->key,
                                   (unsigned)x->flags);
        x->i = (int64_t)bits;
        x->f = bits_double(bits);
        if (x->type == GFI_OPT_REAL && !isfinite(x->f))
            return gfi_format_fail(r->pos, "%s: option key %u is %g", what, (unsigned)x->key, x->f);
        for (uint32_t j = 0; j < i; j++)
            if (o->v[j].key == x->key)
                return gfi_format_fail(r->pos, "%s: option key %u appears twice", what, (unsigned)x->key);
        o->n = (int32_t)i + 1;
    }
    return GF_OK;
}

/* A value a public setter refused (GF_ERR_INVALID) is a format error at `at`; other codes (NOMEM) stay. */
static int setter_fail(int rc, size_t at, const char *what)
{
    if (rc == GF_ERR_INVALID)
        return gfi_format_fail(at, "%s: %s", what, gf_last_error());
    return rc;
}

/* Reads n floats into dst, all finite; `what` and the index name the first that is not. */
static int rd_floats(rd *r, float *dst, size_t n, const char *what)
{
    size_t bytes;
    int rc;
    if (!gfi_mul_size(n, 4, &bytes))
        return gfi_format_fail(r->pos, "%s: %zu floats overflow size_t", what, n);
    if ((rc = need(r, bytes, what)))
        return rc;
    const uint8_t *p = r->p + r->pos;
    for (size_t i = 0; i < n; i++) {
        uint32_t u = gfi_mf_get32(p + 4 * i);
        memcpy(&dst[i], &u, 4);
    }
    size_t i = gfi_ew()->first_nonfinite(dst, n);
    if (i < n)
        return gfi_format_fail(r->pos + 4 * i, "%s[%zu] is %g", what, i, (double)dst[i]);
    r->pos += bytes;
    return GF_OK;
}

/* ---- configured objects: a kind, then its options ---- */

static int rd_activation(rd *r, const char *owner, gfi_act *out)
{
    char what[96];
    snprintf(what, sizeof what, "%s: activation", owner);
    size_t at = r->pos;
    uint32_t kind;
    gfi_opts o;
    int rc = rd32(r, "an activation kind", &kind);
    if (rc || (rc = rd_opts(r, &o, what)))
        return rc;
    if (!gfi_act_kind_valid((int32_t)kind) || kind > INT32_MAX)
        return gfi_format_fail(at, "%s: unknown activation kind %u", what, (unsigned)kind);
    gf_activation *a;
    if ((rc = gf_activation_create(&a, (int32_t)kind)))
        return rc;
    double v;
    if (kind == GF_ACT_LEAKY_RELU && !(rc = gfi_opts_real(&o, GF_ACT_PARAM_SLOPE, "slope", &v)))
        rc = setter_fail(gf_activation_set(a, GF_ACT_PARAM_SLOPE, v), at, what);
    if (!rc && kind == GF_ACT_ELU && !(rc = gfi_opts_real(&o, GF_ACT_PARAM_ALPHA, "alpha", &v)))
        rc = setter_fail(gf_activation_set(a, GF_ACT_PARAM_ALPHA, v), at, what);
    if (!rc && !(rc = gfi_opts_finish(&o)))
        *out = a->cfg;
    gf_activation_destroy(a);
    return rc;
}

/* An initializer's settings, through the public setters so each meets their checks. */
static int init_configure(gf_init *in, gfi_opts *o, size_t at, const char *what)
{
    int32_t kind = in->cfg.kind;
    double a, b, gain;
    int64_t mode;
    int rc = GF_OK;
    if (gfi_init_has_range(kind) && !(rc = gfi_opts_real(o, GFI_MF_INIT_A, "a", &a)) &&
        !(rc = gfi_opts_real(o, GFI_MF_INIT_B, "b", &b)))
        rc = setter_fail(gf_init_set_range(in, a, b), at, what);
    if (!rc && gfi_init_has_gain(kind) && !(rc = gfi_opts_real(o, GFI_MF_INIT_GAIN, "gain", &gain)))
        rc = setter_fail(gf_init_set_gain(in, gain), at, what);
    if (!rc && gfi_init_has_mode(kind) && !(rc = gfi_opts_int(o, GFI_MF_INIT_MODE, "mode", 0, 1, &mode)))
        rc = setter_fail(gf_init_set_mode(in, (int32_t)mode), at, what);
    return rc ? rc : gfi_opts_finish(o);
}

/* The layer's initializers: a count, then role, kind and options each; both roles exactly once. */
static int rd_inits(rd *r, const char *owner, gf_layer *l)
{
    size_t at = r->pos;
    uint32_t n;
    int rc = rd32(r, "an initializer count", &n);
    if (rc)
        return rc;
    if (n != 2)
        return gfi_format_fail(at, "%s: %u initializers; a layer has 2 (weight and bias)", owner, (unsigned)n);
    bool seen[2] = {false, false};
    for (uint32_t i = 0; i < n && !rc; i++) {
        char what[96];
        uint32_t role, kind;
        gfi_opts o;
        at = r->pos;
        if ((rc = rd32(r, "an initializer role", &role)) || (rc = rd32(r, "an initializer kind", &kind)))
            return rc;
        snprintf(what, sizeof what, "%s: %s initializer", owner, role == GFI_MF_ROLE_BIAS ? "bias" : "weight");
        if ((rc = rd_opts(r, &o, what)))
            return rc;
        if (role > GFI_MF_ROLE_BIAS || seen[role])
            return gfi_format_fail(at, "%s: initializer role %u is %s", owner, (unsigned)role,
                                   role > GFI_MF_ROLE_BIAS ? "unknown" : "given twice");
        seen[role] = true;
        gf_init *in;
        if (kind > INT32_MAX || (rc = gf_init_create(&in, (int32_t)kind)))
            return kind > INT32_MAX || rc == GF_ERR_INVALID
                       ? gfi_format_fail(at + 4, "%s: unknown initializer kind %u", what, (unsigned)kind)
                       : rc;
        if (!(rc = init_configure(in, &o, at, what)))
            rc = setter_fail(role == GFI_MF_ROLE_WEIGHT ? gf_layer_set_weight_init(l, in) : gf_layer_set_bias_init(l, in), at,
                             what);
        gf_init_destroy(in);
    }
    return rc;
}

/* A presence byte, then (if 1) the penalty's options. */
static int rd_penalty(rd *r, const char *owner, bool *present, gfi_penalty *out)
{
    char what[96];
    snprintf(what, sizeof what, "%s: penalty", owner);
    size_t at = r->pos;
    gfi_opts o;
    int rc = rd_bool(r, "a penalty flag", present);
    if (rc || !*present)
        return rc;
    if ((rc = rd_opts(r, &o, what)))
        return rc;
    double l1, l2;
    int64_t bias;
    if ((rc = gfi_opts_real(&o, GFI_MF_PEN_L1, "l1", &l1)) || (rc = gfi_opts_real(&o, GFI_MF_PEN_L2, "l2", &l2)) ||
        (rc = gfi_opts_int(&o, GFI_MF_PEN_INCLUDE_BIAS, "include_bias", 0, 1, &bias)) || (rc = gfi_opts_finish(&o)))
        return rc;
    gf_penalty *p;
    if ((rc = setter_fail(gf_penalty_create(&p, l1, l2), at, what)))
        return rc;
    p->cfg.include_bias = (int32_t)bias;
    *out = p->cfg;
    gf_penalty_destroy(p);
    return GF_OK;
}

/* ---- records ---- */

typedef struct loader {
    const uint8_t *p;
    size_t size;
    uint16_t major, minor;
    uint32_t flags;
    gf_net *net;
    int32_t stage; /* the last known record type read: they come in order */
    bool have_training;
} loader;

/* The metrics the net reports: a count (at most GF_MAX_METRICS), then kind and options each, added with
 * gf_net_add_metric so each meets its rules; top-k's k and binary accuracy's threshold are key 0. */
static int rd_metrics(rd *r, gf_net *net)
{
    size_t at = r->pos;
    uint32_t n;
    int rc = rd32(r, "a metric count", &n);
    if (rc)
        return rc;
    if (n > GF_MAX_METRICS)
        return gfi_format_fail(at, "net: %u metrics, more than the %d a net carries", (unsigned)n, GF_MAX_METRICS);
    for (uint32_t i = 0; i < n; i++) {
        uint32_t kind;
        gfi_opts o;
        double param = NAN;
        at = r->pos;
        if ((rc = rd32(r, "a metric kind", &kind)) || (rc = rd_opts(r, &o, "metric")))
            return rc;
        bool has = kind == GF_METRIC_TOP_K || kind == GF_METRIC_BINARY_ACCURACY;
        if ((has && (rc = gfi_opts_real(&o, GFI_MF_METRIC_PARAM, "param", &param))) || (rc = gfi_opts_finish(&o)))
            return rc;
        if (kind > INT32_MAX || (rc = gf_net_add_metric(net, (int32_t)kind, param)))
            return kind > INT32_MAX ? gfi_format_fail(at, "metric %u: unknown kind %u", (unsigned)i, (unsigned)kind)
                                    : setter_fail(rc, at, "metric");
    }
    return GF_OK;
}

/* The net's settings: input shape, seed, clipping, input gradient, loss, penalty, metrics. */
static int rd_net_record(loader *L, rd *r)
{
    gfi_mf_shape in;
    uint64_t seed;
    gfi_opts o;
    size_t at = r->pos;
    int rc = rd_shape(r, "the net's input shape", &in);
    if (rc || (rc = rd64(r, "the seed", &seed)))
        return rc;
    if (in.rank > GFI_MAX_RANK)
        return gfi_format_fail(at, "the net's input has rank %d; this library holds shapes of rank 1..%d",
                               (int)in.rank, GFI_MAX_RANK);
    if ((rc = gf_net_create_shaped(&L->net, in.kind, in.dim, in.rank, seed)))
        return rc == GF_ERR_NOMEM ? rc : gfi_format_fail(at, "net: %s", gf_last_error());
    gf_net *net = L->net;
    at = r->pos;
    int64_t clip, dinput;
    double clip_value = 0.0;
    if ((rc = rd_opts(r, &o, "net")) || (rc = gfi_opts_int(&o, GFI_MF_NET_CLIP_MODE, "clip_mode", 0, GF_CLIP_LAYER_NORM, &clip)) ||
        (clip && (rc = gfi_opts_real(&o, GFI_MF_NET_CLIP_VALUE, "clip_value", &clip_value))) ||
        (rc = gfi_opts_int(&o, GFI_MF_NET_INPUT_GRAD, "input_grad", 0, 1, &dinput)) || (rc = gfi_opts_finish(&o)))
        return rc;
    if ((rc = setter_fail(gf_net_set_clip(net, (int32_t)clip, clip_value), at, "net")))
        return rc;
    net->want_dinput = dinput; /* its buffer comes with the first batch */
    at = r->pos;
    uint32_t kind;
    if ((rc = rd32(r, "the loss kind", &kind)) || (rc = rd_opts(r, &o, "loss")))
        return rc;
    gf_loss *loss;
    if (kind > INT32_MAX || (rc = gf_loss_create(&loss, (int32_t)kind)))
        return kind > INT32_MAX || rc == GF_ERR_INVALID ? gfi_format_fail(at, "unknown loss kind %u", (unsigned)kind)
                                                        : rc;
    double delta;
    if (kind == GF_LOSS_HUBER && !(rc = gfi_opts_real(&o, GF_LOSS_PARAM_DELTA, "delta", &delta)))
        rc = setter_fail(gf_loss_set(loss, GF_LOSS_PARAM_DELTA, delta), at, "loss");
    int64_t per_step = 0; /* optional: written only when set */
    if (!rc && gfi_opts_find(&o, GF_LOSS_PARAM_PER_STEP) &&
        !(rc = gfi_opts_int(&o, GF_LOSS_PARAM_PER_STEP, "per_step", 0, 1, &per_step)))
        rc = setter_fail(gf_loss_set(loss, GF_LOSS_PARAM_PER_STEP, (double)per_step), at, "loss");
    if (!rc && !(rc = gfi_opts_finish(&o)))
        net->loss = loss->cfg;
    gf_loss_destroy(loss);
    if (rc || (rc = rd_penalty(r, "net", &net->has_pen, &net->pen)))
        return rc;
    return rd_metrics(r, net);
}

/* One layer's parameter blocks, checked against the blocks its configuration gave it (gfi_layer_size_for),
 * read into its own storage and marked as set, so that joining the net keeps them. */
static int rd_blocks(rd *r, const char *owner, gf_layer *l)
{
    size_t at = r->pos;
    uint32_t n;
    int rc = rd32(r, "a block count", &n);
    if (rc)
        return rc;
    if (n != (uint32_t)l->nblocks)
        return gfi_format_fail(at, "%s: %u parameter blocks; this layer has %d", owner, (unsigned)n, (int)l->nblocks);
    for (int32_t i = 0; i < l->nblocks; i++) {
        gfi_block *b = &l->block[i];
        char name[GFI_MF_MAX_NAME + 1], what[160], got[96], exp[96];
        gfi_mf_shape s, want = {0, b->rank, {0}};
        memcpy(want.dim, b->dim, (size_t)b->rank * sizeof b->dim[0]);
        at = r->pos;
        if ((rc = rd_name(r, "a block name", name)))
            return rc;
        if (strcmp(name, b->name))
            return gfi_format_fail(at, "%s: block %d is \"%s\"; expected \"%s\"", owner, (int)i, name, b->name);
        at = r->pos;
        if ((rc = rd_dims(r, "a block shape", &s)))
            return rc;
        if (!shape_equal(&s, &want)) {
            shape_text(&s, false, got, sizeof got);
            shape_text(&want, false, exp, sizeof exp);
            return gfi_format_fail(at, "%s: %s is %s; the layer's configuration needs %s", owner, name, got, exp);
        }
        snprintf(what, sizeof what, "%s: %s", owner, name);
        if ((rc = rd_floats(r, l->w + b->offset, b->count, what)))
            return rc;
        b->user = true;
    }
    return GF_OK;
}

/* The kind (number and name) of a layer record, and the ops that read the rest. */
static int rd_layer_kind(rd *r, const char *owner, const gfi_layer_ops **ops)
{
    size_t at = r->pos;
    uint32_t kind;
    char name[GFI_MF_MAX_NAME + 1];
    int rc = rd32(r, "a layer kind", &kind);
    if (rc || (rc = rd_name(r, "a layer kind name", name)))
        return rc;
    *ops = kind <= INT32_MAX ? gfi_layer_kind_ops((int32_t)kind) : NULL;
    if (!*ops) {
        char known[128] = "";
        size_t k = 0;
        for (int32_t i = 0; i < 256 && k < sizeof known; i++)
            if (gfi_layer_kind_ops(i))
                k += (size_t)snprintf(known + k, sizeof known - k, "%s%s", k ? ", " : "", gfi_layer_kind_ops(i)->name);
        return gfi_format_fail(at, "%s: unknown layer kind %u (\"%s\"); this library reads %s", owner, (unsigned)kind,
                               name, known);
    }
    if (strcmp(name, (*ops)->name))
        return gfi_format_fail(at + 4, "%s: kind %u is \"%s\", but the file names it \"%s\"", owner, (unsigned)kind,
                               (*ops)->name, name);
    return GF_OK;
}

/* The kind's options through gf_layer_set_option, so each meets its domain; an option the file lacks (a
 * newer library may have added it) keeps its default; one the kind does not take is refused. */
static int set_layer_options(gf_layer *l, gfi_opts *o)
{
    for (const gfi_option_spec *spec = l->ops->options; spec && spec->key >= 0; spec++) {
        gfi_opt *e = gfi_opts_find(o, (uint16_t)spec->key);
        if (!e)
            continue;
        if (e->type != (spec->integer ? GFI_OPT_INT : GFI_OPT_REAL))
            return gfi_format_fail(e->at, "%s: option key %d is %s; the kind takes %s", o->what, (int)spec->key,
                                   e->type == GFI_OPT_INT ? "an integer" : "a real",
                                   spec->integer ? "an integer" : "a real");
        /* |i| <= 2^62 converts to double and back exactly only if representable: refuse what would round. */
        bool exact = e->i >= -(INT64_C(1) << 62) && e->i <= (INT64_C(1) << 62) && (int64_t)(double)e->i == e->i;
        if (spec->integer && !exact)
            return gfi_format_fail(e->at, "%s: option key %d is %lld, past what an option holds exactly", o->what,
                                   (int)spec->key, (long long)e->i);
        int rc = gf_layer_set_option(l, spec->key, spec->integer ? (double)e->i : e->f);
        if (rc)
            return setter_fail(rc, e->at, o->what);
    }
    return gfi_opts_finish(o);
}

/* Sizes the layer for `in` once its record is known to hold every parameter the configuration implies. */
static int size_layer(gf_layer *l, const gfi_shape *in, size_t max_params, size_t at, const char *owner)
{
    gfi_layout lay = {0};
    char msg[200] = "";
    int rc = l->ops->infer(l, in, &lay, msg, sizeof msg);
    if (rc)
        return gfi_format_fail(at, "%s: %s", owner, msg);
    size_t n = 0;
    for (int32_t i = 0; i < lay.nblocks; i++)
        if ((n += lay.block[i].count) > max_params)
            return gfi_format_fail(at, "%s: its configuration needs more parameters than the record's %zu floats",
                                   owner, max_params);
    rc = gfi_layer_size_for(l, in, "layer");
    return rc == GF_ERR_NOMEM ? rc : rc ? gfi_format_fail(at, "%s: %s", owner, gf_last_error()) : GF_OK;
}

/* The rest of a layer record once the layer is sized: activation, initializers, penalty, blocks. */
static int rd_layer_body(rd *r, const char *owner, gf_layer *l)
{
    size_t at = r->pos;
    gfi_act act;
    int rc = rd_activation(r, owner, &act);
    if (rc)
        return rc;
    if (!l->ops->has_activation && act.kind != GF_ACT_IDENTITY)
        return gfi_format_fail(at, "%s: a %s layer takes no activation, the file gives %s", owner, l->ops->name,
                               gf_activation_name(act.kind));
    l->act = act;
    if ((rc = rd_inits(r, owner, l)) || (rc = rd_penalty(r, owner, &l->has_pen, &l->pen)))
        return rc;
    return rd_blocks(r, owner, l);
}

/* The shape the next layer takes: the last layer's output, or the net's input. */
static gfi_mf_shape next_input(const gf_net *net)
{
    const gfi_shape *s = net->nlayers ? &net->layers[net->nlayers - 1]->out_shape : &net->in_shape;
    gfi_mf_shape m = {s->kind, s->rank, {0}};
    memcpy(m.dim, s->dim, (size_t)s->rank * sizeof s->dim[0]);
    return m;
}

static int rd_layer_record(loader *L, rd *r)
{
    char owner[48];
    const gfi_layer_ops *ops = NULL; /* set by rd_layer_kind on success; gcc -O1 cannot tell */
    gf_net *net = L->net;
    snprintf(owner, sizeof owner, "layer %d", (int)net->nlayers);
    int rc = rd_layer_kind(r, owner, &ops);
    if (rc)
        return rc;
    snprintf(owner, sizeof owner, "layer %d (%s)", (int)net->nlayers, ops->name);
    size_t at = r->pos;
    gfi_mf_shape in, given = next_input(net);
    gfi_opts o;
    if ((rc = rd_shape(r, "a layer's input shape", &in)))
        return rc;
    if (!shape_equal(&in, &given)) {
        char a[96], b[96];
        shape_text(&in, true, a, sizeof a);
        shape_text(&given, true, b, sizeof b);
        return gfi_format_fail(at, "%s: takes input %s, but the layers before give %s", owner, a, b);
    }
    gfi_shape shape = {in.kind, in.rank, {0}};
    memcpy(shape.dim, in.dim, (size_t)in.rank * sizeof in.dim[0]); /* equal to a shape the net holds */
    size_t opts_at = r->pos;
    if ((rc = rd_opts(r, &o, owner)))
        return rc;
    gf_layer *l;
    if ((rc = gf_layer_create(&l, ops->kind)))
        return rc;
    if ((rc = set_layer_options(l, &o)) || (rc = size_layer(l, &shape, left(r) / 4, opts_at, owner)) ||
        (rc = rd_layer_body(r, owner, l)) || (rc = gf_net_add(net, l))) {
        gfi_layer_free(l);
        return rc == GF_ERR_NOMEM || rc == GF_ERR_FORMAT ? rc : gfi_format_fail(at, "%s: %s", owner, gf_last_error());
    }
    return GF_OK;
}

static int rd_optimizer_record(loader *L, rd *r)
{
    size_t at = r->pos;
    uint32_t kind;
    gfi_opts o;
    double lr;
    int rc = rd32(r, "the optimizer kind", &kind);
    if (rc || (rc = rd_opts(r, &o, "optimizer")) || (rc = gfi_opts_real(&o, GF_OPT_LR, "lr", &lr)))
        return rc;
    gf_optimizer *opt;
    if (kind > INT32_MAX || (rc = gf_optimizer_create(&opt, (int32_t)kind, lr)))
        return kind > INT32_MAX || rc == GF_ERR_INVALID ? gfi_format_fail(at, "optimizer: %s", kind > INT32_MAX ? "unknown kind" : gf_last_error())
                                                        : rc;
    for (int32_t p = GF_OPT_MOMENTUM_MU; p <= GF_OPT_WEIGHT_DECAY && !rc; p++) {
        gfi_opt *e;
        if (gfi_opt_param_applies(opt->kind, p) && !(rc = gfi_opts_need(&o, (uint16_t)p, "parameter", GFI_OPT_REAL, &e, at)))
            rc = setter_fail(gf_optimizer_set(opt, p, e->f), e->at, "optimizer");
    }
    if (rc || (rc = gfi_opts_finish(&o)) || (rc = gf_net_set_optimizer(L->net, opt))) {
        gf_optimizer_destroy(opt);
        return rc;
    }
    return GF_OK;
}

/* The moment vectors: none, or exactly those the optimizer keeps ("m", then "v"), each one per parameter. */
static int rd_moments(loader *L, rd *r, size_t at)
{
    gf_net *net = L->net;
    gf_optimizer *o = net->opt;
    uint32_t n;
    int rc = rd32(r, "a moment count", &n);
    if (rc)
        return rc;
    uint32_t want = o ? (uint32_t)gfi_opt_needs_m(o->kind) + (uint32_t)gfi_opt_needs_v(o->kind) : 0;
    /* A kind without moments (SGD) saves none, but is sized all the same: left unsized, its first step would take
     * it for a new optimizer and start its step count again from 0. */
    if (n == 0)
        return o && want == 0 && net->nparams ? gfi_opt_prepare(o, net->nparams) : GF_OK;
    if (n != want || net->nparams == 0)
        return gfi_format_fail(at, "training: %u moment vectors, but the %s keeps %u for %zu parameters", (unsigned)n,
                               o ? gfi_opt_name(o->kind) : "net without an optimizer", (unsigned)want, net->nparams);
    if ((rc = gfi_opt_prepare(o, net->nparams)))
        return rc;
    for (int k = 0; k < 2; k++) {
        float *v = k ? o->v : o->m;
        if (!v)
            continue;
        char name[GFI_MF_MAX_NAME + 1];
        uint64_t count;
        at = r->pos;
        if ((rc = rd_name(r, "a moment name", name)) || (rc = rd64(r, "a moment length", &count)))
            return rc;
        if (strcmp(name, k ? "v" : "m") || count != net->nparams)
            return gfi_format_fail(at, "training: moment \"%s\" of %llu values; expected \"%s\" of %zu", name,
                                   (unsigned long long)count, k ? "v" : "m", net->nparams);
        size_t start = r->pos;
        if ((rc = rd_floats(r, v, net->nparams, k ? "training: moment v" : "training: moment m")))
            return rc;
        /* v is a sum or mean of squared gradients: training never makes it negative, and the next step would
         * take the square root of a negative value and write NaN into the weights. */
        for (size_t i = 0; k && i < net->nparams; i++)
            if (v[i] < 0.0f)
                return gfi_format_fail(start + 4 * i, "training: moment v[%zu] is %g; a second moment (a mean of "
                                       "squared gradients) is never negative", i, (double)v[i]);
    }
    return GF_OK;
}

static int rd_training_record(loader *L, rd *r)
{
    gf_net *net = L->net;
    size_t at = r->pos;
    gfi_rng rng;
    uint64_t steps, t;
    bool began;
    int rc = GF_OK;
    for (int i = 0; i < 4 && !rc; i++)
        rc = rd64(r, "the generator state", &rng.s[i]);
    if (rc)
        return rc;
    if (!(rng.s[0] | rng.s[1] | rng.s[2] | rng.s[3]))
        return gfi_format_fail(at, "training: the generator state is all zeros, which xoshiro256** never reaches");
    at = r->pos;
    if ((rc = rd64(r, "the step count", &steps)) || (rc = rd_bool(r, "the training flag", &began)) ||
        (rc = rd64(r, "the optimizer's step count", &t)))
        return rc;
    /* Counters the library reaches one step at a time: a file holding more than 2^62 (1.5 centuries at a billion
     * steps a second) was not written by training, and the next step's increment must not overflow. */
    if (steps > GFI_MF_MAX_STEPS || t > GFI_MF_MAX_STEPS || (t && !net->opt))
        return gfi_format_fail(at, "training: step counts %llu and %llu are out of range (at most 2^62)%s",
                               (unsigned long long)steps, (unsigned long long)t,
                               net->opt ? "" : " (there is no optimizer)");
    if ((rc = rd_moments(L, r, r->pos)))
        return rc;
    net->rng = rng;
    net->steps = (int64_t)steps;
    net->training_began = began;
    if (net->opt)
        net->opt->t = (int64_t)t;
    L->have_training = true;
    return GF_OK;
}

static const char *record_name(uint32_t type)
{
    switch (type) {
    case GFI_MF_REC_NET: return "net";
    case GFI_MF_REC_LAYER: return "layer";
    case GFI_MF_REC_OPTIMIZER: return "optimizer";
    default: return "training";
    }
}

/* Known records come in order: net, layers, optimizer, training; each but layer at most once. */
static int check_order(loader *L, uint32_t type, size_t at)
{
    if (L->stage == 0 && type != GFI_MF_REC_NET)
        return gfi_format_fail(at, "the first record is of type %u; a model file starts with the net record",
                               (unsigned)type);
    if ((int32_t)type < L->stage || ((int32_t)type == L->stage && type != GFI_MF_REC_LAYER))
        return gfi_format_fail(at, "a %s record after the %s record", record_name(type), record_name((uint32_t)L->stage));
    L->stage = (int32_t)type;
    return GF_OK;
}

static int rd_record(loader *L, rd *file)
{
    size_t at = file->pos;
    uint32_t type, flags;
    uint64_t len;
    int rc = need(file, GFI_MF_RECORD_HEADER, "a record header");
    if (rc)
        return rc;
    rd32(file, "", &type);
    rd32(file, "", &flags);
    rd64(file, "", &len);
    if (flags & ~(uint32_t)GFI_MF_REC_ANCILLARY)
        return gfi_format_fail(at + 4, "record of type %u has unknown flags 0x%x", (unsigned)type, (unsigned)flags);
    if (len > left(file))
        return gfi_format_fail(at + 8, "record of type %u claims %llu bytes; %zu remain before the checksum",
                               (unsigned)type, (unsigned long long)len, left(file));
    rd r = {file->p, file->pos, file->pos + (size_t)len};
    file->pos = r.end;
    if (type < GFI_MF_REC_NET || type > GFI_MF_REC_TRAINING) {
        /* Skipped only when a newer minor version may have added it and it says it may be skipped. */
        if ((flags & GFI_MF_REC_ANCILLARY) && L->minor > GF_FORMAT_VERSION_MINOR && L->stage)
            return GF_OK;
        return gfi_format_fail(at, "unknown record type %u%s (format %u.%u)", (unsigned)type,
                               flags & GFI_MF_REC_ANCILLARY ? ", marked skippable, in a file of a version this library knows" : "",
                               (unsigned)L->major, (unsigned)L->minor);
    }
    if ((rc = check_order(L, type, at)))
        return rc;
    switch (type) {
    case GFI_MF_REC_NET: rc = rd_net_record(L, &r); break;
    case GFI_MF_REC_LAYER: rc = rd_layer_record(L, &r); break;
    case GFI_MF_REC_OPTIMIZER: rc = rd_optimizer_record(L, &r); break;
    default: rc = rd_training_record(L, &r); break;
    }
    if (!rc && left(&r))
        rc = gfi_format_fail(r.pos, "%zu unread bytes at the end of the %s record", left(&r), record_name(type));
    return rc;
}

/* Magic, version, declared size, flags and checksum, before any record is read. */
static int check_header(loader *L)
{
    const uint8_t *p = L->p;
    size_t n = L->size < sizeof gfi_mf_magic ? L->size : sizeof gfi_mf_magic;
    if (memcmp(p, gfi_mf_magic, n))
        return gfi_format_fail(0, "not a gradflow model file: the magic is wrong (starts %02x %02x %02x %02x)", p[0],
                               L->size > 1 ? p[1] : 0, L->size > 2 ? p[2] : 0, L->size > 3 ? p[3] : 0);
    if (L->size < 12)
        return gfi_format_fail(L->size, "truncated: %zu bytes, less than the 32-byte header", L->size);
    L->major = gfi_mf_get16(p + 8);
    L->minor = gfi_mf_get16(p + 10);
    if (L->major > GF_FORMAT_VERSION_MAJOR)
        return gfi_format_fail(8, "the file's format version %u.%u is newer than this library's %d.%d; "
                                  "load it with a newer libgradflow", (unsigned)L->major, (unsigned)L->minor,
                               GF_FORMAT_VERSION_MAJOR, GF_FORMAT_VERSION_MINOR);
    if (L->major == 0)
        return gfi_format_fail(8, "format version %u.%u does not exist (versions start at 1.0)", (unsigned)L->major,
                               (unsigned)L->minor);
    if (L->size < GFI_MF_HEADER)
        return gfi_format_fail(L->size, "truncated: %zu bytes, less than the 32-byte header", L->size);
    uint64_t declared = gfi_mf_get64(p + 24);
    if (declared < GFI_MF_MIN_FILE)
        return gfi_format_fail(24, "the header declares %llu bytes, less than the smallest model file (%d)",
                               (unsigned long long)declared, GFI_MF_MIN_FILE);
    if (declared > L->size)
        return gfi_format_fail(L->size, "truncated: %zu bytes of the %llu the header declares", L->size,
                               (unsigned long long)declared);
    if (declared < L->size)
        return gfi_format_fail((size_t)declared, "%zu bytes of trailing garbage after the model's %llu",
                               L->size - (size_t)declared, (unsigned long long)declared);
    uint32_t stored = gfi_mf_get32(p + L->size - GFI_MF_CRC), crc = gfi_crc32(0, p, L->size - GFI_MF_CRC);
    if (stored != crc)
        return gfi_format_fail(L->size - GFI_MF_CRC, "checksum mismatch (stored 0x%08x, content 0x%08x): the file is corrupt",
                               (unsigned)stored, (unsigned)crc);
    L->flags = gfi_mf_get32(p + 12);
    if (L->flags & ~(uint32_t)GFI_MF_HEADER_TRAINING)
        return gfi_format_fail(12, "unknown header flags 0x%x", (unsigned)L->flags);
    if (gfi_mf_get32(p + 20))
        return gfi_format_fail(20, "reserved header field is 0x%08x, not 0", (unsigned)gfi_mf_get32(p + 20));
    return GF_OK;
}

/* Parses and builds; on failure L->net is whatever was built (the caller destroys it). */
static int load_model(loader *L)
{
    int rc = check_header(L);
    if (rc)
        return rc;
    rd file = {L->p, GFI_MF_HEADER, L->size - GFI_MF_CRC};
    while (!rc && left(&file))
        rc = rd_record(L, &file);
    if (rc)
        return rc;
    if (!L->net)
        return gfi_format_fail(GFI_MF_HEADER, "the file has no net record");
    if (L->have_training != ((L->flags & GFI_MF_HEADER_TRAINING) != 0))
        return gfi_format_fail(12, "the header %s training state but the file %s", L->have_training ? "denies" : "promises",
                               L->have_training ? "has it" : "does not");
    return GF_OK;
}

/* fn and, for a file, its path prefix every message. */
static int load_buffer(gf_net **out, const void *buf, size_t size, loader *L, const char *fn, const char *path)
{
    if (!out)
        return gfi_fail(GF_ERR_NULL, "%s: out is NULL", fn);
    *out = NULL;
    if (!buf)
        return gfi_fail(GF_ERR_NULL, "%s: buf is NULL", fn);
    if (size > GFI_COUNT_MAX(1))
        return gfi_fail(GF_ERR_OVERFLOW, "%s: size = %zu is more bytes than a buffer can hold (at most %zu): a negative "
                        "size converted to size_t?", fn, size, GFI_COUNT_MAX(1));
    *L = (loader){.p = buf, .size = size};
    int rc = size ? load_model(L) : gfi_format_fail(0, "empty: a model file has at least %d bytes", GFI_MF_MIN_FILE);
    if (rc) {
        gf_net_destroy(L->net);
        return gfi_fail(rc, "%s: %s%s%s", fn, path ? path : "", path ? ": " : "",
                        rc == GF_ERR_NOMEM ? "out of memory" : gf_last_error());
    }
    *out = L->net;
    return GF_OK;
}

int gf_net_load_buffer(gf_net **out, const void *buf, size_t size)
{
    loader L;
    return load_buffer(out, buf, size, &L, "gf_net_load_buffer", NULL);
}

int gf_model_info(const void *buf, size_t size, int32_t field, int64_t *value)
{
    const char *fn = "gf_model_info";
    if (!value)
        return gfi_fail(GF_ERR_NULL, "%s: value is NULL", fn);
    if (field < GF_MODEL_FORMAT_MAJOR || field > GF_MODEL_INPUTS)
        return gfi_fail(GF_ERR_INVALID, "%s: unknown field %d", fn, (int)field);
    loader L;
    gf_net *net;
    int rc = load_buffer(&net, buf, size, &L, fn, NULL);
    if (rc)
        return rc;
    switch (field) {
    case GF_MODEL_FORMAT_MAJOR: *value = L.major; break;
    case GF_MODEL_FORMAT_MINOR: *value = L.minor; break;
    case GF_MODEL_WRITER_VERSION: *value = gfi_mf_get32(L.p + 16); break;
    case GF_MODEL_LAYERS: *value = net->nlayers; break;
    case GF_MODEL_PARAMS: *value = (int64_t)net->nparams; break;
    case GF_MODEL_TRAINING_STATE: *value = L.have_training; break;
    case GF_MODEL_STEPS: *value = net->steps; break;
    default: *value = net->inputs; break; /* the product of the input shape's dims */
    }
    gf_net_destroy(net);
    return GF_OK;
}

/* ====================================================================== */
/* Files                                                                   */
/* ====================================================================== */

/* The size a seekable file reports, plus one byte so that reading it whole needs no growth to see the end;
 * 64 KiB when it reports none (a pipe) or one past 1 GiB (a directory reports LONG_MAX): the reading loop
 * grows from there, and past the first guess if the file grew. */
static size_t first_capacity(FILE *f)
{
    long end = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (fseek(f, 0, SEEK_SET) != 0)
        clearerr(f);
    return end > 0 && end < (1L << 30) ? (size_t)end + 1 : (size_t)1 << 16;
}

/* How much of the file to ask for next, at most room: up to the end of the header, then (once the magic
 * and the size the header declares are in) up to one byte past that size, which is all the loader needs to
 * tell a whole model from trailing bytes.  0 ends the reading: the bytes are there, or the declared size is
 * more than any buffer holds (the loader then calls the data truncated).  A stream that goes on after a
 * model (a pipe still writing, a device) is thus read no further than its model. */
static size_t next_request(const uint8_t *buf, size_t n, size_t room)
{
    if (n < GFI_MF_HEADER)
        return GFI_MF_HEADER - n < room ? GFI_MF_HEADER - n : room;
    uint64_t declared = gfi_mf_get64(buf + 24);
    if (declared >= GFI_COUNT_MAX(1) || n > declared)
        return 0;
    uint64_t rest = declared + 1 - n;
    return rest < room ? (size_t)rest : room;
}

/* The whole file into one allocation (*cut: the reading stopped past a model's declared size, before the
 * end of the file). */
static int read_file(const char *path, uint8_t **out, size_t *size, bool *cut, const char *fn)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return gfi_fail(GF_ERR_IO, "%s: cannot open %s: %s", fn, path, strerror(errno));
    size_t cap = first_capacity(f), n = 0;
    uint8_t *buf = gfi_malloc(cap);
    int rc = buf ? GF_OK : GF_ERR_NOMEM;
    *cut = false;
    while (!rc) {
        if (n == cap) {
            uint8_t *b = cap <= SIZE_MAX / 2 ? gfi_realloc(buf, cap * 2) : NULL;
            if (!b) {
                rc = GF_ERR_NOMEM;
                break;
            }
            buf = b;
            cap *= 2;
        }
        size_t want = next_request(buf, n, cap - n);
        if (want == 0) {
            /* a declared size under the smallest model is the header's own error, reported on what was read */
            uint64_t declared = n >= GFI_MF_HEADER ? gfi_mf_get64(buf + 24) : 0;
            *cut = declared >= GFI_MF_MIN_FILE && n > declared && fgetc(f) != EOF;
            break;
        }
        size_t got = fread(buf + n, 1, want, f);
        n += got;
        /* Past a wrong magic the rest cannot matter: an endless stream (/dev/zero, /dev/urandom) or a huge file
         * of something else is refused from its first bytes instead of read until memory runs out. */
        if (got == 0 || (n >= sizeof gfi_mf_magic && memcmp(buf, gfi_mf_magic, sizeof gfi_mf_magic)))
            break;
    }
    if (!rc && ferror(f))
        rc = gfi_fail(GF_ERR_IO, "%s: reading %s failed: %s", fn, path, strerror(errno));
    else if (rc == GF_ERR_NOMEM)
        rc = gfi_fail(rc, "%s: out of memory reading %s", fn, path);
    fclose(f);
    if (rc) {
        gfi_free(buf);
        return rc;
    }
    *out = buf;
    *size = n;
    return GF_OK;
}

int gf_net_load(gf_net **out, const char *path)
{
    const char *fn = "gf_net_load";
    if (!out)
        return gfi_fail(GF_ERR_NULL, "%s: out is NULL", fn);
    *out = NULL;
    if (!path)
        return gfi_fail(GF_ERR_NULL, "%s: path is NULL", fn);
    uint8_t *buf = NULL;
    size_t size = 0;
    bool cut = false;
    int rc = read_file(path, &buf, &size, &cut, fn);
    if (rc)
        return rc;
    loader L;
    /* Cut short, the bytes are the declared model and one more: the model's own problems (a newer version,
     * a bad checksum) come first; a sound model is refused for what follows it, whose length is unknown. */
    rc = load_buffer(out, buf, cut ? size - 1 : size, &L, fn, path);
    if (!rc && cut) {
        gf_net_destroy(*out);
        *out = NULL;
        rc = gfi_fail(GF_ERR_FORMAT, "%s: %s: offset %zu: trailing garbage: the file goes on after the model's %zu "
                      "bytes", fn, path, size - 1, size - 1);
    }
    gfi_free(buf);
    return rc;
}
