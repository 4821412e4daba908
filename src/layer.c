/* layer.c — the public layer handle: kinds and options, shapes, named parameter blocks, and copies in/out. */
#include "ew.h"
#include "internal.h"

#include <math.h>
#include <string.h>

/* The registry: kinds.h lists every kind once. */
#define GFI_KIND(k, ops) [k] = &ops,
static const gfi_layer_ops *const kinds[] = {
#include "kinds.h"
};
#undef GFI_KIND
#define NKINDS ((int32_t)(sizeof kinds / sizeof kinds[0]))

const gfi_layer_ops *gfi_layer_kind_ops(int32_t kind) { return kind >= 0 && kind < NKINDS ? kinds[kind] : NULL; }

const char *gf_layer_kind_name(int32_t kind)
{
    const gfi_layer_ops *ops = gfi_layer_kind_ops(kind);
    return ops ? ops->name : "?";
}

bool gfi_is_layer(const gf_layer *l) { return l && l->magic == GFI_MAGIC_LAYER; }

void gfi_layer_point(gf_layer *l, float *params, float *grads)
{
    l->w = params;
    l->b = params + l->nweights;
    l->dw = grads;
    l->db = grads + l->nweights;
}

void gfi_layer_free(gf_layer *l)
{
    if (!l)
        return;
    gfi_free(l->own);
    gfi_free(l->keep);
    gfi_free(l->state);
    gfi_free(l->lengths);
    l->magic = GFI_MAGIC_DEAD;
    gfi_free(l);
}

static const gfi_option_spec *option_spec(const gfi_layer_ops *ops, int32_t key)
{
    for (const gfi_option_spec *o = ops->options; o && o->key >= 0; o++)
        if (o->key == key)
            return o;
    return NULL;
}

int gf_layer_create(gf_layer **out, int32_t kind)
{
    if (!out)
        return gfi_fail(GF_ERR_NULL, "gf_layer_create: out is NULL");
    *out = NULL;
    const gfi_layer_ops *ops = gfi_layer_kind_ops(kind);
    if (!ops)
        return gfi_fail(GF_ERR_INVALID, "gf_layer_create: unknown layer kind %d", (int)kind);
    gf_layer *l = gfi_calloc(1, sizeof *l);
    if (!l)
        return gfi_fail(GF_ERR_NOMEM, "gf_layer_create: out of memory");
    l->magic = GFI_MAGIC_LAYER;
    l->kind = kind;
    l->ops = ops;
    l->index = -1;
    for (const gfi_option_spec *o = ops->options; o && o->key >= 0; o++)
        l->opt[o->key] = o->def;
    gfi_act_default(&l->act, ops->default_act);
    gfi_init_default(&l->winit, GF_INIT_DEFAULT);
    gfi_init_default(&l->binit, GF_INIT_DEFAULT);
    *out = l;
    return GF_OK;
}

void gfi_layer_commit(gf_layer *l, const gfi_shape *in, const gfi_layout *lay)
{
    l->in_shape = *in;
    l->out_shape = lay->out;
    l->in = gfi_shape_size(in);
    l->out = gfi_shape_size(&lay->out);
    memcpy(l->aux, lay->aux, sizeof l->aux);
    bool user[GFI_MAX_BLOCKS] = {false};
    for (int32_t i = 0; i < l->nblocks && i < lay->nblocks; i++)
        user[i] = l->block[i].user;
    l->nblocks = lay->nblocks;
    l->nweights = l->nbias = 0;
    for (int32_t i = 0; i < lay->nblocks; i++) {
        l->block[i] = lay->block[i];
        l->block[i].user = user[i];
        *(l->block[i].bias ? &l->nbias : &l->nweights) += l->block[i].count;
    }
    /* Weight blocks first, then bias blocks, each in declared order. */
    size_t w = 0, b = l->nweights;
    for (int32_t i = 0; i < l->nblocks; i++) {
        size_t *at = l->block[i].bias ? &b : &w;
        l->block[i].offset = *at;
        *at += l->block[i].count;
    }
    l->sized = true;
}

bool gfi_layout_same(const gf_layer *l, const gfi_layout *lay)
{
    if (l->nblocks != lay->nblocks)
        return false;
    for (int32_t i = 0; i < l->nblocks; i++)
        if (l->block[i].count != lay->block[i].count || l->block[i].bias != lay->block[i].bias ||
            l->block[i].rank != lay->block[i].rank ||
            memcmp(l->block[i].dim, lay->block[i].dim, sizeof l->block[i].dim))
            return false;
    return true;
}

int gfi_layer_size_for(gf_layer *l, const gfi_shape *in, const char *fn)
{
    gfi_layout lay = {0};
    char msg[256] = "";
    int rc = l->ops->infer(l, in, &lay, msg, sizeof msg);
    if (rc)
        return gfi_fail(rc, "%s: %s %s", fn, l->ops->name, msg);
    size_t n = 0;
    for (int32_t i = 0; i < lay.nblocks; i++)
        n += lay.block[i].count;
    if (n > SIZE_MAX / (2 * sizeof(float)))
        return gfi_fail(GF_ERR_OVERFLOW, "%s: %zu parameters overflow size_t", fn, n);
    float *own = gfi_calloc(n ? 2 * n : 1, sizeof(float));
    if (!own)
        return gfi_fail(GF_ERR_NOMEM, "%s: cannot allocate %zu parameters", fn, n);
    gfi_free(l->own);
    l->own = own;
    gfi_layer_commit(l, in, &lay);
    gfi_layer_point(l, own, own + n);
    return GF_OK;
}

/* Draws the weight blocks (or the bias blocks) into dst, the start of the
 * layer's weights (or biases), from the layer's initializer; with keep_user
 * a block the caller set is skipped.  On failure the generator may have moved. */
int gfi_layer_draw(const gf_layer *l, bool bias, float *dst, bool keep_user, gfi_rng *rng)
{
    const gfi_init *c = bias ? &l->binit : &l->winit;
    size_t base = bias ? l->nweights : 0;
    for (int32_t i = 0; i < l->nblocks; i++) {
        const gfi_block *b = &l->block[i];
        if (b->bias != bias || (keep_user && b->user))
            continue;
        float *p = dst + (b->offset - base);
        int rc;
        if (c->kind == GF_INIT_ORTHOGONAL) /* on the block as a dim[0] x rest matrix, like nn.init.orthogonal_ */
            rc = gfi_init_fill_fan(c, p, b->count, (int64_t)(b->count / (size_t)b->dim[0]), b->dim[0], rng);
        else
            rc = gfi_init_fill_fan(c, p, b->count, c->kind == GF_INIT_DEFAULT ? b->default_fan : b->fan_in, b->fan_out,
                                   rng);
        if (rc)
            return rc;
    }
    if (bias && l->ops->bias_drawn)
        l->ops->bias_drawn(l, dst, keep_user);
    return GF_OK;
}

void gfi_layer_clear_user(gf_layer *l, bool bias)
{
    for (int32_t i = 0; i < l->nblocks; i++)
        if (l->block[i].bias == bias)
            l->block[i].user = false;
}

/* Checks the handle; fn names the caller for the message. */
static int check_layer(const gf_layer *l, const char *fn)
{
    if (!l)
        return gfi_fail(GF_ERR_NULL, "%s: layer is NULL", fn);
    if (l->magic != GFI_MAGIC_LAYER)
        return gfi_fail(GF_ERR_KIND, "%s: handle is not a live gf_layer", fn);
    return GF_OK;
}

/* Configuration is fixed once the owning net has begun training. */
static int check_configurable(const gf_layer *l, const char *fn)
{
    int rc = check_layer(l, fn);
    if (rc)
        return rc;
    if (l->owner && l->owner->training_began)
        return gfi_fail(GF_ERR_STATE, "%s: the net owning layer %d has begun training", fn, (int)l->index);
    return GF_OK;
}

void gf_layer_destroy(gf_layer *layer)
{
    if (!layer || layer->magic != GFI_MAGIC_LAYER || layer->owner)
        return; /* NULL, not a layer, or owned: the net frees it */
    gfi_layer_free(layer);
}

int gf_layer_set_activation(gf_layer *layer, const gf_activation *act)
{
    int rc = check_configurable(layer, "gf_layer_set_activation");
    if (rc)
        return rc;
    if (!act)
        return gfi_fail(GF_ERR_NULL, "gf_layer_set_activation: activation is NULL");
    if (act->magic != GFI_MAGIC_ACT)
        return gfi_fail(GF_ERR_KIND, "gf_layer_set_activation: handle is not a live gf_activation");
    if (!layer->ops->has_activation && act->cfg.kind != GF_ACT_IDENTITY)
        return gfi_fail(GF_ERR_INVALID, "gf_layer_set_activation: a %s layer applies no activation",
                        layer->ops->name);
    layer->act = act->cfg;
    gfi_net_cancel_pass(layer->owner); /* a pending backward would differentiate the new function at the old outputs */
    return GF_OK;
}

/* Stores the initializer; a layer already in a net (which has not begun
 * training) draws its values again with it at once, as nn.init does in
 * PyTorch: otherwise the new initializer would silently wait for
 * gf_net_reinit.  On failure nothing changes. */
static int set_init(gf_layer *layer, const gf_init *init, bool weights, const char *fn)
{
    int rc = check_configurable(layer, fn);
    if (rc)
        return rc;
    gfi_init *dst = weights ? &layer->winit : &layer->binit;
    if (!init)
        return gfi_fail(GF_ERR_NULL, "%s: initializer is NULL", fn);
    if (init->magic != GFI_MAGIC_INIT)
        return gfi_fail(GF_ERR_KIND, "%s: handle is not a live gf_init", fn);
    gfi_init old = *dst;
    *dst = init->cfg;
    if (layer->owner && (rc = gfi_net_redraw(layer, weights))) {
        *dst = old;
        return gfi_fail(rc, "%s: cannot draw layer %d's values with the new initializer: %s", fn, (int)layer->index,
                        rc == GF_ERR_NOMEM ? "out of memory" : gf_strerror(rc));
    }
    return GF_OK;
}

int gf_layer_set_weight_init(gf_layer *layer, const gf_init *init)
{
    return set_init(layer, init, true, "gf_layer_set_weight_init");
}

int gf_layer_set_bias_init(gf_layer *layer, const gf_init *init)
{
    /* A bias is a vector: refused now rather than failing later in gf_net_add or gf_net_reinit. */
    if (init && init->magic == GFI_MAGIC_INIT && init->cfg.kind == GF_INIT_ORTHOGONAL && layer &&
        layer->magic == GFI_MAGIC_LAYER)
        return gfi_fail(GF_ERR_INVALID, "gf_layer_set_bias_init: an orthogonal initializer needs a matrix; a bias is "
                                        "a vector");
    return set_init(layer, init, false, "gf_layer_set_bias_init");
}

int gf_layer_set_penalty(gf_layer *layer, const gf_penalty *p)
{
    int rc = check_layer(layer, "gf_layer_set_penalty");
    if (rc)
        return rc;
    if (p && p->magic != GFI_MAGIC_PEN)
        return gfi_fail(GF_ERR_KIND, "gf_layer_set_penalty: handle is not a live gf_penalty");
    layer->has_pen = p != NULL;
    if (p)
        layer->pen = p->cfg;
    gfi_net_cancel_gradients(layer->owner); /* as gf_net_set_penalty: gradients without it must be redone */
    return GF_OK;
}

int32_t gf_layer_kind(const gf_layer *layer)
{
    return check_layer(layer, "gf_layer_kind") ? -1 : layer->kind;
}

int32_t gf_layer_activation_kind(const gf_layer *layer)
{
    return check_layer(layer, "gf_layer_activation_kind") ? -1 : layer->act.kind;
}

/* The handle, and its sizes known (in a net, or created with them). */
static int check_sized(const gf_layer *l, const char *fn)
{
    int rc = check_layer(l, fn);
    if (rc)
        return rc;
    if (!l->sized)
        return gfi_fail(GF_ERR_STATE, "%s: the %s layer's sizes are inferred when it is added to a net", fn,
                        l->ops->name);
    return GF_OK;
}

int64_t gf_layer_input_size(const gf_layer *layer)
{
    return check_sized(layer, "gf_layer_input_size") ? -1 : layer->in;
}

int64_t gf_layer_output_size(const gf_layer *layer)
{
    return check_sized(layer, "gf_layer_output_size") ? -1 : layer->out;
}

int64_t gf_layer_weight_count(const gf_layer *layer)
{
    return check_sized(layer, "gf_layer_weight_count") ? -1 : (int64_t)layer->nweights;
}

int64_t gf_layer_bias_count(const gf_layer *layer)
{
    return check_sized(layer, "gf_layer_bias_count") ? -1 : (int64_t)layer->nbias;
}

/* ---- options ---- */

int gf_layer_set_option(gf_layer *layer, int32_t key, double value)
{
    int rc = check_layer(layer, "gf_layer_set_option");
    if (rc)
        return rc;
    if (layer->owner)
        return gfi_fail(GF_ERR_STATE, "gf_layer_set_option: layer %d is in a net; its options decided the shapes "
                                      "checked when it was added", (int)layer->index);
    const gfi_option_spec *o = option_spec(layer->ops, key);
    if (!o)
        return gfi_fail(GF_ERR_INVALID, "gf_layer_set_option: a %s layer takes no option %d", layer->ops->name,
                        (int)key);
    if (!(value >= o->min && value <= o->max) || (o->integer && value != floor(value)))
        return gfi_fail(GF_ERR_INVALID, "gf_layer_set_option: %s option %d must be %s in [%g, %g] (got %g)",
                        layer->ops->name, (int)key, o->integer ? "an integer" : "a number", o->min, o->max, value);
    if (layer->sized && layer->opt[key] != value)
        return gfi_fail(GF_ERR_STATE, "gf_layer_set_option: the %s layer was created with its sizes; create it with "
                                      "gf_layer_create to set them by option", layer->ops->name);
    layer->opt[key] = value;
    return GF_OK;
}

int gf_layer_get_option(const gf_layer *layer, int32_t key, double *value)
{
    int rc = check_layer(layer, "gf_layer_get_option");
    if (rc)
        return rc;
    if (!value)
        return gfi_fail(GF_ERR_NULL, "gf_layer_get_option: value is NULL");
    if (!option_spec(layer->ops, key))
        return gfi_fail(GF_ERR_INVALID, "gf_layer_get_option: a %s layer takes no option %d", layer->ops->name,
                        (int)key);
    *value = layer->opt[key];
    return GF_OK;
}

int32_t gf_layer_option_count(const gf_layer *layer)
{
    if (check_layer(layer, "gf_layer_option_count"))
        return -1;
    int32_t n = 0;
    for (const gfi_option_spec *o = layer->ops->options; o && o->key >= 0; o++)
        n++;
    return n;
}

int32_t gf_layer_option_key(const gf_layer *layer, int32_t index)
{
    int32_t n = gf_layer_option_count(layer);
    if (n < 0)
        return -1;
    if (index < 0 || index >= n) {
        gfi_fail(GF_ERR_RANGE, "gf_layer_option_key: index %d is outside 0..%d of this %s layer's options", (int)index,
                 (int)n - 1, layer->ops->name);
        return -1;
    }
    return layer->ops->options[index].key;
}

/* ---- shapes ---- */

int gfi_shape_out(const gfi_shape *s, int32_t *kind, int64_t *dims, int32_t cap, int32_t *rank, const char *fn)
{
    if (!kind || !rank)
        return gfi_fail(GF_ERR_NULL, "%s: kind or rank is NULL", fn);
    if (!dims && cap)
        return gfi_fail(GF_ERR_NULL, "%s: dims is NULL but cap is %d", fn, (int)cap);
    *kind = s->kind;
    *rank = s->rank;
    if (cap < s->rank)
        return gfi_fail(GF_ERR_BUFFER, "%s: the shape has rank %d but dims has room for %d", fn, (int)s->rank,
                        (int)cap);
    memcpy(dims, s->dim, (size_t)s->rank * sizeof *dims);
    return GF_OK;
}

int gf_layer_input_shape(const gf_layer *layer, int32_t *kind, int64_t *dims, int32_t cap, int32_t *rank)
{
    int rc = check_sized(layer, "gf_layer_input_shape");
    return rc ? rc : gfi_shape_out(&layer->in_shape, kind, dims, cap, rank, "gf_layer_input_shape");
}

int gf_layer_output_shape(const gf_layer *layer, int32_t *kind, int64_t *dims, int32_t cap, int32_t *rank)
{
    int rc = check_sized(layer, "gf_layer_output_shape");
    return rc ? rc : gfi_shape_out(&layer->out_shape, kind, dims, cap, rank, "gf_layer_output_shape");
}

/* ---- named parameter blocks ---- */

int32_t gf_layer_param_block_count(const gf_layer *layer)
{
    return check_layer(layer, "gf_layer_param_block_count") ? -1 : layer->nblocks;
}

static int check_block(const gf_layer *l, int32_t index, const char *fn)
{
    int rc = check_sized(l, fn);
    if (rc)
        return rc;
    if (index < 0 || index >= l->nblocks)
        return gfi_fail(GF_ERR_RANGE, "%s: block %d is outside 0..%d of this %s layer", fn, (int)index,
                        (int)l->nblocks - 1, l->ops->name);
    return GF_OK;
}

int gf_layer_param_block_find(const gf_layer *layer, const char *name, int32_t *index)
{
    int rc = check_sized(layer, "gf_layer_param_block_find");
    if (rc)
        return rc;
    if (!name || !index)
        return gfi_fail(GF_ERR_NULL, "gf_layer_param_block_find: name or index is NULL");
    for (int32_t i = 0; i < layer->nblocks; i++)
        if (!strcmp(layer->block[i].name, name)) {
            *index = i;
            return GF_OK;
        }
    return gfi_fail(GF_ERR_RANGE, "gf_layer_param_block_find: a %s layer has no block \"%.64s\"", layer->ops->name,
                    name);
}

const char *gf_layer_param_block_name(const gf_layer *layer, int32_t index)
{
    return check_block(layer, index, "gf_layer_param_block_name") ? NULL : layer->block[index].name;
}

int gf_layer_param_block_dims(const gf_layer *layer, int32_t index, int64_t *dims, int32_t cap, int32_t *rank)
{
    int rc = check_block(layer, index, "gf_layer_param_block_dims");
    if (rc)
        return rc;
    const gfi_block *b = &layer->block[index];
    if (!rank)
        return gfi_fail(GF_ERR_NULL, "gf_layer_param_block_dims: rank is NULL");
    if (!dims && cap)
        return gfi_fail(GF_ERR_NULL, "gf_layer_param_block_dims: dims is NULL but cap is %d", (int)cap);
    *rank = b->rank;
    if (cap < b->rank)
        return gfi_fail(GF_ERR_BUFFER, "gf_layer_param_block_dims: block \"%s\" has rank %d but dims has room for %d",
                        b->name, (int)b->rank, (int)cap);
    memcpy(dims, b->dim, (size_t)b->rank * sizeof *dims);
    return GF_OK;
}

int64_t gf_layer_param_block_size(const gf_layer *layer, int32_t index)
{
    return check_block(layer, index, "gf_layer_param_block_size") ? -1 : (int64_t)layer->block[index].count;
}

/* ---- copies ---- */

/* A count of floats no array can hold (over PTRDIFF_MAX bytes) is GF_ERR_OVERFLOW, as for every other
 * count the caller passes: a negative number converted to size_t, not a mere mismatch. */
static int check_count(size_t count, const char *fn)
{
    if (count > GFI_COUNT_MAX(sizeof(float)))
        return gfi_fail(GF_ERR_OVERFLOW, "%s: count = %zu is more floats than an array can hold (at most %zu): a "
                        "negative count converted to size_t?", fn, count, GFI_COUNT_MAX(sizeof(float)));
    return GF_OK;
}

static int copy_out(const gf_layer *l, const float *src, size_t have, float *dst, size_t count, const char *fn)
{
    int rc = check_sized(l, fn);
    if (rc)
        return rc;
    if (!dst)
        return gfi_fail(GF_ERR_NULL, "%s: destination is NULL", fn);
    if ((rc = check_count(count, fn)))
        return rc;
    if (count != have)
        return gfi_fail(GF_ERR_SHAPE, "%s: count is %zu but the layer has %zu values", fn, count, have);
    if (have)
        memcpy(dst, src, have * sizeof(float));
    return GF_OK;
}

static int copy_in(gf_layer *l, float *dst, size_t have, const float *src, size_t count, const char *fn)
{
    int rc = check_sized(l, fn);
    if (rc)
        return rc;
    if (!src)
        return gfi_fail(GF_ERR_NULL, "%s: source is NULL", fn);
    if ((rc = check_count(count, fn)))
        return rc;
    if (count != have)
        return gfi_fail(GF_ERR_SHAPE, "%s: count is %zu but the layer has %zu values", fn, count, have);
    size_t i = gfi_ew()->first_nonfinite(src, count);
    if (i < count)
        return gfi_fail(GF_ERR_NONFINITE, "%s: value %zu is %g", fn, i, (double)src[i]);
    if (have)
        memcpy(dst, src, have * sizeof(float));
    return GF_OK;
}

/* Marks the weight (or bias) blocks as the caller's: kept when added. */
static void mark_user(gf_layer *l, bool bias)
{
    for (int32_t i = 0; i < l->nblocks; i++)
        if (l->block[i].bias == bias)
            l->block[i].user = true;
}

/* The entry points below check the handle before reading any field of it, so
 * a handle of another kind is never read past its first word. */
int gf_layer_get_weights(const gf_layer *layer, float *dst, size_t count)
{
    int rc = check_sized(layer, "gf_layer_get_weights");
    return rc ? rc : copy_out(layer, layer->w, layer->nweights, dst, count, "gf_layer_get_weights");
}

int gf_layer_get_bias(const gf_layer *layer, float *dst, size_t count)
{
    int rc = check_sized(layer, "gf_layer_get_bias");
    return rc ? rc : copy_out(layer, layer->b, layer->nbias, dst, count, "gf_layer_get_bias");
}

int gf_layer_get_weight_grad(const gf_layer *layer, float *dst, size_t count)
{
    int rc = check_sized(layer, "gf_layer_get_weight_grad");
    return rc ? rc : copy_out(layer, layer->dw, layer->nweights, dst, count, "gf_layer_get_weight_grad");
}

int gf_layer_get_bias_grad(const gf_layer *layer, float *dst, size_t count)
{
    int rc = check_sized(layer, "gf_layer_get_bias_grad");
    return rc ? rc : copy_out(layer, layer->db, layer->nbias, dst, count, "gf_layer_get_bias_grad");
}

int gf_layer_set_weights(gf_layer *layer, const float *src, size_t count)
{
    int rc = check_sized(layer, "gf_layer_set_weights");
    if (!rc)
        rc = copy_in(layer, layer->w, layer->nweights, src, count, "gf_layer_set_weights");
    if (!rc) {
        mark_user(layer, false);
        gfi_net_cancel_pass(layer->owner); /* the cached pass belongs to the old weights */
    }
    return rc;
}

int gf_layer_set_bias(gf_layer *layer, const float *src, size_t count)
{
    int rc = check_sized(layer, "gf_layer_set_bias");
    if (!rc)
        rc = copy_in(layer, layer->b, layer->nbias, src, count, "gf_layer_set_bias");
    if (!rc) {
        mark_user(layer, true);
        gfi_net_cancel_pass(layer->owner);
    }
    return rc;
}

int gf_layer_get_param(const gf_layer *layer, int32_t index, float *dst, size_t count)
{
    int rc = check_block(layer, index, "gf_layer_get_param");
    if (rc)
        return rc;
    const gfi_block *b = &layer->block[index];
    return copy_out(layer, layer->w + b->offset, b->count, dst, count, "gf_layer_get_param");
}

int gf_layer_get_param_grad(const gf_layer *layer, int32_t index, float *dst, size_t count)
{
    int rc = check_block(layer, index, "gf_layer_get_param_grad");
    if (rc)
        return rc;
    const gfi_block *b = &layer->block[index];
    return copy_out(layer, layer->dw + b->offset, b->count, dst, count, "gf_layer_get_param_grad");
}

int gf_layer_set_param(gf_layer *layer, int32_t index, const float *src, size_t count)
{
    int rc = check_block(layer, index, "gf_layer_set_param");
    if (rc)
        return rc;
    gfi_block *b = &layer->block[index];
    if ((rc = copy_in(layer, layer->w + b->offset, b->count, src, count, "gf_layer_set_param")))
        return rc;
    b->user = true;
    gfi_net_cancel_pass(layer->owner);
    return GF_OK;
}
