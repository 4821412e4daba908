/* layer.c — the public layer handle: configuration, sizes, and parameter access by copy. */
#include "ew.h"
#include "internal.h"

#include <math.h>
#include <string.h>

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
    l->magic = GFI_MAGIC_DEAD;
    gfi_free(l);
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
    layer->act = act->cfg;
    return GF_OK;
}

/* Stores the initializer; a layer already in a net (which has not begun
 * training) draws its values again with it at once, as nn.init does in
 * PyTorch: otherwise the new initializer would silently wait for
 * gf_net_reinit.  On failure nothing changes. */
static int set_init(gf_layer *layer, const gf_init *init, gfi_init *dst, const char *fn)
{
    int rc = check_configurable(layer, fn);
    if (rc)
        return rc;
    if (!init)
        return gfi_fail(GF_ERR_NULL, "%s: initializer is NULL", fn);
    if (init->magic != GFI_MAGIC_INIT)
        return gfi_fail(GF_ERR_KIND, "%s: handle is not a live gf_init", fn);
    gfi_init old = *dst;
    *dst = init->cfg;
    if (layer->owner && (rc = gfi_net_redraw(layer, dst == &layer->winit))) {
        *dst = old;
        return gfi_fail(rc, "%s: cannot draw layer %d's values with the new initializer: %s", fn, (int)layer->index,
                        rc == GF_ERR_NOMEM ? "out of memory" : gf_strerror(rc));
    }
    return GF_OK;
}

int gf_layer_set_weight_init(gf_layer *layer, const gf_init *init)
{
    return set_init(layer, init, layer ? &layer->winit : NULL, "gf_layer_set_weight_init");
}

int gf_layer_set_bias_init(gf_layer *layer, const gf_init *init)
{
    /* A bias is a vector: refused now rather than failing later in gf_net_add or gf_net_reinit. */
    if (init && init->magic == GFI_MAGIC_INIT && init->cfg.kind == GF_INIT_ORTHOGONAL && layer &&
        layer->magic == GFI_MAGIC_LAYER)
        return gfi_fail(GF_ERR_INVALID, "gf_layer_set_bias_init: an orthogonal initializer needs a matrix; a bias is "
                                        "a vector");
    return set_init(layer, init, layer ? &layer->binit : NULL, "gf_layer_set_bias_init");
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

int64_t gf_layer_input_size(const gf_layer *layer)
{
    return check_layer(layer, "gf_layer_input_size") ? -1 : layer->in;
}

int64_t gf_layer_output_size(const gf_layer *layer)
{
    return check_layer(layer, "gf_layer_output_size") ? -1 : layer->out;
}

int64_t gf_layer_weight_count(const gf_layer *layer)
{
    return check_layer(layer, "gf_layer_weight_count") ? -1 : (int64_t)layer->nweights;
}

int64_t gf_layer_bias_count(const gf_layer *layer)
{
    return check_layer(layer, "gf_layer_bias_count") ? -1 : (int64_t)layer->nbias;
}

static int copy_out(const gf_layer *l, const float *src, size_t have, float *dst, size_t count, const char *fn)
{
    int rc = check_layer(l, fn);
    if (rc)
        return rc;
    if (!dst)
        return gfi_fail(GF_ERR_NULL, "%s: destination is NULL", fn);
    if (count != have)
        return gfi_fail(GF_ERR_SHAPE, "%s: count is %zu but the layer has %zu values", fn, count, have);
    memcpy(dst, src, have * sizeof(float));
    return GF_OK;
}

static int copy_in(gf_layer *l, float *dst, size_t have, const float *src, size_t count, const char *fn)
{
    int rc = check_layer(l, fn);
    if (rc)
        return rc;
    if (!src)
        return gfi_fail(GF_ERR_NULL, "%s: source is NULL", fn);
    if (count != have)
        return gfi_fail(GF_ERR_SHAPE, "%s: count is %zu but the layer has %zu values", fn, count, have);
    size_t i = gfi_ew()->first_nonfinite(src, count);
    if (i < count)
        return gfi_fail(GF_ERR_NONFINITE, "%s: value %zu is %g", fn, i, (double)src[i]);
    memcpy(dst, src, have * sizeof(float));
    return GF_OK;
}

int gf_layer_get_weights(const gf_layer *layer, float *dst, size_t count)
{
    return copy_out(layer, layer ? layer->w : NULL, layer ? layer->nweights : 0, dst, count, "gf_layer_get_weights");
}

int gf_layer_get_bias(const gf_layer *layer, float *dst, size_t count)
{
    return copy_out(layer, layer ? layer->b : NULL, layer ? layer->nbias : 0, dst, count, "gf_layer_get_bias");
}

int gf_layer_get_weight_grad(const gf_layer *layer, float *dst, size_t count)
{
    return copy_out(layer, layer ? layer->dw : NULL, layer ? layer->nweights : 0, dst, count,
                    "gf_layer_get_weight_grad");
}

int gf_layer_get_bias_grad(const gf_layer *layer, float *dst, size_t count)
{
    return copy_out(layer, layer ? layer->db : NULL, layer ? layer->nbias : 0, dst, count,
                    "gf_layer_get_bias_grad");
}

int gf_layer_set_weights(gf_layer *layer, const float *src, size_t count)
{
    int rc = copy_in(layer, layer ? layer->w : NULL, layer ? layer->nweights : 0, src, count,
                     "gf_layer_set_weights");
    if (!rc)
        layer->user_weights = true;
    return rc;
}

int gf_layer_set_bias(gf_layer *layer, const float *src, size_t count)
{
    int rc = copy_in(layer, layer ? layer->b : NULL, layer ? layer->nbias : 0, src, count, "gf_layer_set_bias");
    if (!rc)
        layer->user_bias = true;
    return rc;
}
