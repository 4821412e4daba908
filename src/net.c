/* net.c — the sequential container: construction, parameter arenas, buffers, forward/backward/step. */
#include "ew.h"
#include "internal.h"
#include "diag.h"
#include "gemm.h"
#include "threadpool.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

bool gfi_is_net(const gf_net *n) { return n && n->magic == GFI_MAGIC_NET; }

static int check_net(const gf_net *net, const char *fn)
{
    if (!net)
        return gfi_fail(GF_ERR_NULL, "%s: net is NULL", fn);
    if (net->magic != GFI_MAGIC_NET)
        return gfi_fail(GF_ERR_KIND, "%s: handle is not a live gf_net", fn);
    return GF_OK;
}

#define NET_FAIL(net, code, ...) gfi_net_fail((net), (code), __VA_ARGS__)

static float *alloc_floats(int64_t rows, size_t cols);
static size_t scratch_need(const gf_net *net, int64_t batch, int32_t threads);

/* A net taking samples of shape in (already checked); fn names the caller. */
static int net_create(gf_net **out, const gfi_shape *in, uint64_t seed, const char *fn)
{
    gf_net *net = gfi_calloc(1, sizeof *net);
    if (!net || gfi_gemm_ws_create(&net->gemm_ws, 1)) {
        gfi_free(net);
        return gfi_fail(GF_ERR_NOMEM, "%s: out of memory", fn);
    }
    net->magic = GFI_MAGIC_NET;
    net->in_shape = *in;
    net->inputs = gfi_shape_size(in);
    net->seed = seed;
    gfi_rng_seed(&net->rng, seed);
    gfi_loss_default(&net->loss, GF_LOSS_MSE);
    net->widest = (size_t)net->inputs;
    *out = net;
    return GF_OK;
}

int gf_net_create(gf_net **out, int64_t inputs, uint64_t seed)
{
    if (!out)
        return gfi_fail(GF_ERR_NULL, "gf_net_create: out is NULL");
    *out = NULL;
    size_t probe;
    int rc = gfi_checked_count(inputs, 1, &probe);
    if (rc)
        return gfi_fail(rc, "gf_net_create: inputs must be positive and addressable (got %lld)", (long long)inputs);
    gfi_shape in = {GF_SHAPE_VECTOR, 1, {inputs}};
    return net_create(out, &in, seed, "gf_net_create");
}

int gf_net_create_shaped(gf_net **out, int32_t shape_kind, const int64_t *dims, int32_t rank, uint64_t seed)
{
    if (!out)
        return gfi_fail(GF_ERR_NULL, "gf_net_create_shaped: out is NULL");
    *out = NULL;
    gfi_shape in;
    int rc = gfi_shape_make(&in, shape_kind, dims, rank, "gf_net_create_shaped");
    return rc ? rc : net_create(out, &in, seed, "gf_net_create_shaped");
}

/* The shape the next layer receives: the last layer's output, or the input's. */
static const gfi_shape *net_out_shape(const gf_net *net)
{
    return net->nlayers ? &net->layers[net->nlayers - 1]->out_shape : &net->in_shape;
}

int gf_net_input_shape(const gf_net *net, int32_t *kind, int64_t *dims, int32_t cap, int32_t *rank)
{
    int rc = check_net(net, "gf_net_input_shape");
    return rc ? rc : gfi_shape_out(&net->in_shape, kind, dims, cap, rank, "gf_net_input_shape");
}

int gf_net_output_shape(const gf_net *net, int32_t *kind, int64_t *dims, int32_t cap, int32_t *rank)
{
    int rc = check_net(net, "gf_net_output_shape");
    return rc ? rc : gfi_shape_out(net_out_shape(net), kind, dims, cap, rank, "gf_net_output_shape");
}

static void free_buffers(gf_net *net)
{
    for (int32_t i = 0; i < net->nlayers; i++) {
        if (net->z && net->y && net->z[i] != net->y[i])
            gfi_free(net->z[i]);
        if (net->y)
            gfi_free(net->y[i]);
        if (net->cache)
            gfi_free(net->cache[i]);
    }
    gfi_free(net->z);
    gfi_free(net->y);
    gfi_free(net->cache);
    gfi_free(net->scratch);
    gfi_free(net->dbuf[0]);
    gfi_free(net->dbuf[1]);
    gfi_free(net->dz);
    gfi_free(net->dinput);
    gfi_free(net->xcopy);
    /* The caches are gone: nothing may read them until the next forward. */
    net->forward_ready = net->backward_ready = false;
    net->z = net->y = net->cache = NULL;
    net->scratch = NULL;
    net->scratch_n = 0;
    net->dbuf[0] = net->dbuf[1] = net->dz = net->dinput = net->xcopy = NULL;
    net->xcopy_batch = 0;
    net->max_batch = 0;
}

void gf_net_destroy(gf_net *net)
{
    if (!net || net->magic != GFI_MAGIC_NET)
        return;
    if (net->diag)
        gfi_diag_net_destroyed(net);
    free_buffers(net);
    for (int32_t i = 0; i < net->nlayers; i++)
        gfi_layer_free(net->layers[i]);
    gfi_free(net->layers);
    gfi_free(net->params);
    gfi_free(net->grads);
    gfi_free(net->shuffle_x);
    gfi_free(net->shuffle_t);
    gfi_free(net->perm);
    gfi_fit_bufs_free(&net->fb);
    gfi_free(net->grads_saved);
    if (net->opt)
        gfi_opt_destroy_owned(net->opt);
    gfi_pool_destroy(net->pool);
    gfi_gemm_ws_destroy(net->gemm_ws);
    net->magic = GFI_MAGIC_DEAD;
    gfi_free(net);
}

const char *gf_net_last_error(const gf_net *net)
{
    if (!net || net->magic != GFI_MAGIC_NET)
        return "not a live gf_net";
    return net->err;
}

int64_t gf_net_input_size(const gf_net *net)
{
    return check_net(net, "gf_net_input_size") ? -1 : net->inputs;
}

int64_t gf_net_output_size(const gf_net *net)
{
    if (check_net(net, "gf_net_output_size"))
        return -1;
    return net->nlayers ? net->layers[net->nlayers - 1]->out : net->inputs;
}

void gfi_net_loss_rows(const gf_net *net, int64_t batch, int64_t *rows, int64_t *width)
{
    const gfi_shape *out = net->nlayers ? &net->layers[net->nlayers - 1]->out_shape : &net->in_shape;
    int64_t size = gf_net_output_size(net), steps = 1;
    if (net->loss.per_step && out->kind == GF_SHAPE_SEQUENCE && out->dim[0] > 0)
        steps = out->dim[0];
    *rows = batch * steps;
    *width = size / steps;
}

int64_t gfi_net_target_size(const gf_net *net)
{
    int64_t rows, width;
    gfi_net_loss_rows(net, 1, &rows, &width);
    return rows * gfi_loss_target_width(&net->loss, width);
}

int64_t gf_net_target_size(const gf_net *net)
{
    if (check_net(net, "gf_net_target_size"))
        return -1;
    return gfi_net_target_size(net);
}

int32_t gf_net_layer_count(const gf_net *net)
{
    return check_net(net, "gf_net_layer_count") ? -1 : net->nlayers;
}

int64_t gf_net_param_count(const gf_net *net)
{
    return check_net(net, "gf_net_param_count") ? -1 : (int64_t)net->nparams;
}

gf_layer *gf_net_layer(gf_net *net, int32_t index)
{
    if (check_net(net, "gf_net_layer"))
        return NULL;
    if (index < 0 || index >= net->nlayers) {
        NET_FAIL(net, GF_ERR_RANGE, "gf_net_layer: index %d is outside 0..%d", (int)index, (int)net->nlayers - 1);
        return NULL;
    }
    return net->layers[index];
}

int32_t gf_net_loss_kind(const gf_net *net)
{
    return check_net(net, "gf_net_loss_kind") ? -1 : net->loss.kind;
}

int64_t gf_net_steps(const gf_net *net) { return check_net(net, "gf_net_steps") ? -1 : net->steps; }

int gf_net_set_threads(gf_net *net, int32_t threads)
{
    int rc = check_net(net, "gf_net_set_threads");
    if (rc)
        return rc;
    if (threads < 1 || threads > GFI_POOL_MAX_THREADS)
        return NET_FAIL(net, GF_ERR_INVALID, "gf_net_set_threads: threads must be 1..%d (got %d)", GFI_POOL_MAX_THREADS,
                        (int)threads);
    if (threads == gfi_pool_threads(net->pool))
        return GF_OK;
    /* Packing buffers for every thread first, so either failure leaves the net as it was. */
    struct gfi_gemm_ws *ws = NULL;
    if ((rc = gfi_gemm_ws_create(&ws, threads)))
        return NET_FAIL(net, rc, "gf_net_set_threads: cannot allocate packing buffers for %d threads", (int)threads);
    struct gfi_pool *pool = NULL;
    if (threads > 1 && (rc = gfi_pool_create(&pool, threads))) {
        gfi_gemm_ws_destroy(ws);
        return NET_FAIL(net, rc, "gf_net_set_threads: cannot start %d threads: %s", (int)threads, gf_last_error());
    }
    /* A layer's scratch may depend on the threads: re-sized here, never at a step. */
    size_t ns = net->max_batch ? scratch_need(net, net->max_batch, threads) : 0;
    float *scratch = NULL;
    if (ns > net->scratch_n && !(scratch = alloc_floats(1, ns))) {
        gfi_pool_destroy(pool);
        gfi_gemm_ws_destroy(ws);
        return NET_FAIL(net, GF_ERR_NOMEM, "gf_net_set_threads: cannot allocate %zu floats of layer scratch", ns);
    }
    if (scratch) {
        gfi_free(net->scratch);
        net->scratch = scratch;
        net->scratch_n = ns;
    }
    gfi_pool_destroy(net->pool);
    gfi_gemm_ws_destroy(net->gemm_ws);
    net->pool = pool;
    net->gemm_ws = ws;
    return GF_OK;
}

int32_t gf_net_threads(const gf_net *net)
{
    return check_net(net, "gf_net_threads") ? -1 : gfi_pool_threads(net->pool);
}

/* Draws a layer's weights and biases from its initializers and the net's generator. */
static int init_layer_params(gf_net *net, gf_layer *l, bool keep_user)
{
    int rc = gfi_layer_draw(l, false, l->w, keep_user, &net->rng);
    return rc ? rc : gfi_layer_draw(l, true, l->b, keep_user, &net->rng);
}

void gfi_net_cancel_pass(gf_net *net)
{
    if (net)
        net->forward_ready = net->backward_ready = net->grads_ready = false;
}

void gfi_net_cancel_gradients(gf_net *net)
{
    if (net)
        net->backward_ready = net->grads_ready = false;
}

int gfi_net_redraw(gf_layer *l, bool weights)
{
    gf_net *net = l->owner;
    size_t n = weights ? l->nweights : l->nbias;
    float *fresh = gfi_malloc((n ? n : 1) * sizeof(float));
    if (!fresh)
        return GF_ERR_NOMEM;
    gfi_rng saved = net->rng;
    int rc = gfi_layer_draw(l, !weights, fresh, false, &net->rng);
    if (rc) {
        net->rng = saved;
    } else {
        if (n)
            memcpy(weights ? l->w : l->b, fresh, n * sizeof(float));
        gfi_layer_clear_user(l, !weights);
        gfi_net_cancel_pass(net); /* cached activations were computed with the old values */
    }
    gfi_free(fresh);
    return rc;
}

static void repoint_layers(gf_net *net)
{
    for (int32_t i = 0; i < net->nlayers; i++) {
        gf_layer *l = net->layers[i];
        gfi_layer_point(l, net->params + l->param_offset, net->grads + l->param_offset);
    }
}

/* Grows the flat parameter and gradient arenas by extra (zeroed) floats;
 * re-points every layer.  realloc, not allocate-copy-free: large arenas then
 * grow in place (mremap) instead of briefly existing twice, which set the
 * process's peak memory for big nets.  On failure the arenas keep their
 * contents (one may have grown) and nparams is unchanged. */
static int grow_arenas(gf_net *net, size_t extra)
{
    size_t n = net->nparams + extra;
    if (n < net->nparams || n > SIZE_MAX / sizeof(float))
        return GF_ERR_OVERFLOW;
    float *p = gfi_realloc(net->params, n * sizeof(float));
    if (!p)
        return GF_ERR_NOMEM;
    net->params = p;
    float *g = gfi_realloc(net->grads, n * sizeof(float));
    if (g)
        net->grads = g;
    repoint_layers(net);
    if (!g)
        return GF_ERR_NOMEM;
    memset(p + net->nparams, 0, extra * sizeof(float));
    memset(g + net->nparams, 0, extra * sizeof(float));
    return GF_OK;
}

/* Checks the layer against the shape it would receive and computes its
 * layout; nothing changes.  The message names the layer index, the kind, and
 * what it expects and got. */
static int infer_layer(gf_net *net, gf_layer *layer, gfi_layout *lay)
{
    char msg[256] = "";
    const gfi_shape *in = net_out_shape(net);
    int rc = layer->ops->infer(layer, in, lay, msg, sizeof msg);
    if (rc)
        return NET_FAIL(net, rc, "gf_net_add: layer %d (%s) %s", (int)net->nlayers, layer->ops->name, msg);
    if (layer->sized && !gfi_layout_same(layer, lay)) {
        char was[96], got[96];
        return NET_FAIL(net, GF_ERR_SHAPE, "gf_net_add: layer %d (%s) was created for %s input, got %s",
                        (int)net->nlayers, layer->ops->name, gfi_shape_str(&layer->in_shape, was, sizeof was),
                        gfi_shape_str(in, got, sizeof got));
    }
    return GF_OK;
}

static int check_addable(gf_net *net, gf_layer *layer)
{
    if (!layer)
        return NET_FAIL(net, GF_ERR_NULL, "gf_net_add: layer is NULL");
    if (layer->magic != GFI_MAGIC_LAYER)
        return NET_FAIL(net, GF_ERR_KIND, "gf_net_add: handle is not a live gf_layer");
    if (layer->owner)
        return NET_FAIL(net, GF_ERR_STATE, "gf_net_add: the layer already belongs to a net");
    if (net->training_began)
        return NET_FAIL(net, GF_ERR_STATE, "gf_net_add: training has begun; build the net before the first backward");
    if (net->nlayers == INT32_MAX - 1)
        return NET_FAIL(net, GF_ERR_OVERFLOW, "gf_net_add: too many layers");
    return GF_OK;
}

/* Room for one more layer pointer. */
static int reserve_layer(gf_net *net)
{
    if (net->nlayers < net->cap_layers)
        return GF_OK;
    int32_t cap = net->cap_layers ? net->cap_layers * 2 : 8;
    gf_layer **ls = gfi_realloc(net->layers, (size_t)cap * sizeof *ls);
    if (!ls)
        return NET_FAIL(net, GF_ERR_NOMEM, "gf_net_add: out of memory");
    net->layers = ls;
    net->cap_layers = cap;
    return GF_OK;
}

/* Moves the committed layer's parameters into the arenas and draws the ones
 * the caller did not set.  On failure the layer is restored from saved. */
static int place_params(gf_net *net, gf_layer *layer, const gf_layer *saved)
{
    size_t count = layer->nweights + layer->nbias;
    int rc = grow_arenas(net, count);
    if (rc) {
        *layer = *saved;
        return NET_FAIL(net, rc, "gf_net_add: cannot grow the parameter arena by %zu floats", count);
    }
    layer->param_offset = net->nparams;
    float *p = net->params + net->nparams, *g = net->grads + net->nparams;
    if (layer->own)
        memcpy(p, layer->own, count * sizeof(float));
    gfi_layer_point(layer, p, g);
    size_t nkeep = layer->ops->keep_size ? layer->ops->keep_size(layer) : 0;
    double *keep = nkeep ? gfi_calloc(nkeep, sizeof *keep) : NULL;
    if (nkeep && !keep) {
        *layer = *saved;
        return NET_FAIL(net, GF_ERR_NOMEM, "gf_net_add: cannot allocate %zu values the layer keeps", nkeep);
    }
    if ((rc = init_layer_params(net, layer, true))) {
        gfi_free(keep);
        *layer = *saved;
        return NET_FAIL(net, rc, "gf_net_add: initializer failed: %s", gf_last_error());
    }
    gfi_free(layer->own);
    layer->own = NULL;
    gfi_free(layer->keep);
    layer->keep = keep;
    net->nparams += count;
    return GF_OK;
}

int gf_net_add(gf_net *net, gf_layer *layer)
{
    int rc = check_net(net, "gf_net_add");
    if (rc || (rc = check_addable(net, layer)))
        return rc;
    gfi_layout lay = {0};
    if ((rc = infer_layer(net, layer, &lay)) || (rc = reserve_layer(net)))
        return rc;
    /* Activation buffers are resized lazily at the next forward. */
    free_buffers(net);
    gf_layer saved = *layer;
    gfi_layer_commit(layer, net_out_shape(net), &lay);
    if ((rc = place_params(net, layer, &saved)))
        return rc;
    layer->owner = net;
    layer->index = net->nlayers;
    net->layers[net->nlayers++] = layer;
    if ((size_t)layer->out > net->widest)
        net->widest = (size_t)layer->out;
    net->forward_ready = net->backward_ready = net->grads_ready = false;
    if (net->opt)
        gfi_opt_free_state(net->opt); /* re-sized at the next step */
    return GF_OK;
}

/* Creates a layer of kind with the given options and adds it; fn names the caller. */
int gfi_net_add_kind(gf_net *net, int32_t kind, const int32_t *keys, const double *values, int n, int32_t act,
                     gf_layer **layer, const char *fn)
{
    int rc = check_net(net, fn);
    if (rc)
        return rc;
    if (layer)
        *layer = NULL;
    if (!gfi_act_kind_valid(act))
        return NET_FAIL(net, GF_ERR_INVALID, "%s: unknown activation kind %d", fn, (int)act);
    gf_layer *l;
    if ((rc = gf_layer_create(&l, kind)))
        return NET_FAIL(net, rc, "%s: %s", fn, gf_last_error());
    for (int i = 0; i < n && !rc; i++)
        rc = gf_layer_set_option(l, keys[i], values[i]);
    if (rc) {
        gfi_layer_free(l);
        return NET_FAIL(net, rc, "%s: %s", fn, gf_last_error());
    }
    gfi_act_default(&l->act, act);
    if ((rc = gf_net_add(net, l))) {
        gfi_layer_free(l);
        return rc;
    }
    if (layer)
        *layer = l;
    return GF_OK;
}

int gf_net_add_dense(gf_net *net, int64_t outputs, int32_t activation_kind, gf_layer **layer)
{
    const int32_t key = GF_LAYER_OUTPUTS;
    const double value = (double)outputs;
    return gfi_net_add_kind(net, GF_LAYER_DENSE, &key, &value, 1, activation_kind, layer, "gf_net_add_dense");
}

int gf_net_add_flatten(gf_net *net, gf_layer **layer)
{
    return gfi_net_add_kind(net, GF_LAYER_FLATTEN, NULL, NULL, 0, GF_ACT_IDENTITY, layer, "gf_net_add_flatten");
}

int gf_net_reinit(gf_net *net, uint64_t seed)
{
    int rc = check_net(net, "gf_net_reinit");
    if (rc)
        return rc;
    /* Draw into a scratch arena and keep it only if every layer succeeds, so a
     * failure (an orthogonal initializer out of memory) changes nothing. */
    float *fresh = gfi_malloc((net->nparams ? net->nparams : 1) * sizeof(float));
    if (!fresh)
        return NET_FAIL(net, GF_ERR_NOMEM, "gf_net_reinit: cannot allocate %zu parameters", net->nparams);
    gfi_rng rng;
    gfi_rng_seed(&rng, seed);
    for (int32_t i = 0; i < net->nlayers && !rc; i++) {
        gf_layer *l = net->layers[i];
        float *w = fresh + l->param_offset;
        rc = gfi_layer_draw(l, false, w, false, &rng);
        if (!rc)
            rc = gfi_layer_draw(l, true, w + l->nweights, false, &rng);
        if (rc)
            rc = NET_FAIL(net, rc, "gf_net_reinit: layer %d: %s", (int)i, gf_last_error());
    }
    if (rc) {
        gfi_free(fresh);
        return rc;
    }
    /* An empty net has no arenas (NULL): memcpy and memset must not see them. */
    if (net->nparams) {
        memcpy(net->params, fresh, net->nparams * sizeof(float));
        memset(net->grads, 0, net->nparams * sizeof(float));
    }
    gfi_free(fresh);
    net->rng = rng;
    net->seed = seed;
    if (net->opt)
        gf_optimizer_reset(net->opt);
    gfi_net_cancel_pass(net);
    return GF_OK;
}

int gf_net_set_loss(gf_net *net, const gf_loss *loss)
{
    int rc = check_net(net, "gf_net_set_loss");
    if (rc)
        return rc;
    if (!loss)
        return NET_FAIL(net, GF_ERR_NULL, "gf_net_set_loss: loss is NULL");
    if (loss->magic != GFI_MAGIC_LOSS)
        return NET_FAIL(net, GF_ERR_KIND, "gf_net_set_loss: handle is not a live gf_loss");
    net->loss = loss->cfg;
    net->backward_ready = net->grads_ready = false;
    return GF_OK;
}

int gf_net_set_optimizer(gf_net *net, gf_optimizer *opt)
{
    int rc = check_net(net, "gf_net_set_optimizer");
    if (rc)
        return rc;
    if (!opt)
        return NET_FAIL(net, GF_ERR_NULL, "gf_net_set_optimizer: optimizer is NULL");
    if (opt->magic != GFI_MAGIC_OPT)
        return NET_FAIL(net, GF_ERR_KIND, "gf_net_set_optimizer: handle is not a live gf_optimizer");
    if (opt->owner == net)
        return GF_OK;
    if (opt->owner)
        return NET_FAIL(net, GF_ERR_STATE, "gf_net_set_optimizer: the optimizer already belongs to another net");
    if (net->opt)
        gfi_opt_destroy_owned(net->opt);
    opt->owner = net;
    net->opt = opt;
    return GF_OK;
}

gf_optimizer *gf_net_optimizer(gf_net *net)
{
    if (check_net(net, "gf_net_optimizer"))
        return NULL;
    return net->opt;
}

int gf_net_set_penalty(gf_net *net, const gf_penalty *p)
{
    int rc = check_net(net, "gf_net_set_penalty");
    if (rc)
        return rc;
    if (p && p->magic != GFI_MAGIC_PEN)
        return NET_FAIL(net, GF_ERR_KIND, "gf_net_set_penalty: handle is not a live gf_penalty");
    net->has_pen = p != NULL;
    if (p)
        net->pen = p->cfg;
    gfi_net_cancel_gradients(net);
    return GF_OK;
}

int gf_net_set_progress(gf_net *net, int32_t on)
{
    int rc = check_net(net, "gf_net_set_progress");
    if (rc)
        return rc;
    net->progress = on != 0;
    return GF_OK;
}

/* ---- buffers ---- */

static float *alloc_floats(int64_t rows, size_t cols)
{
    size_t n;
    if ((uint64_t)rows > SIZE_MAX || !gfi_mul_size((size_t)rows, cols, &n) || n > SIZE_MAX / sizeof(float))
        return NULL;
    return gfi_malloc(n * sizeof(float));
}

/* The input gradient's buffer for the current batch capacity, when the net
 * computes it and does not have it yet (turned on after buffers were sized). */
static int ensure_dinput(gf_net *net)
{
    if (!net->want_dinput || net->dinput || net->max_batch == 0)
        return GF_OK;
    net->dinput = alloc_floats(net->max_batch, (size_t)net->inputs);
    return net->dinput ? GF_OK : GF_ERR_NOMEM;
}

/* Floats of scratch the largest layer needs for batch with the net's threads. */
static size_t scratch_need(const gf_net *net, int64_t batch, int32_t threads)
{
    size_t n = 0;
    for (int32_t i = 0; i < net->nlayers; i++) {
        const gf_layer *l = net->layers[i];
        size_t k = l->ops->scratch_size ? l->ops->scratch_size(l, batch, threads) : 0;
        if (k > n)
            n = k;
    }
    return n;
}

/* Per-layer buffers for batch: z (or an alias of y when the kind keeps no
 * pre-activation), y and the backward cache. */
typedef struct layer_bufs {
    float **z, **y, **cache;
} layer_bufs;

static void free_layer_bufs(layer_bufs *b, int32_t L)
{
    for (int32_t i = 0; i < L; i++) {
        if (b->z && b->y && b->z[i] != b->y[i])
            gfi_free(b->z[i]);
        if (b->y)
            gfi_free(b->y[i]);
        if (b->cache)
            gfi_free(b->cache[i]);
    }
    gfi_free(b->z);
    gfi_free(b->y);
    gfi_free(b->cache);
}

static bool alloc_layer_bufs(const gf_net *net, int64_t batch, layer_bufs *b)
{
    size_t L = (size_t)net->nlayers;
    b->z = gfi_calloc(L, sizeof *b->z);
    b->y = gfi_calloc(L, sizeof *b->y);
    b->cache = gfi_calloc(L, sizeof *b->cache);
    bool ok = b->z && b->y && b->cache;
    for (size_t i = 0; ok && i < L; i++) {
        const gf_layer *l = net->layers[i];
        size_t nc = l->ops->cache_size ? l->ops->cache_size(l) : 0;
        b->y[i] = alloc_floats(batch, (size_t)l->out);
        b->z[i] = l->ops->keeps_pre ? alloc_floats(batch, (size_t)l->out) : b->y[i];
        b->cache[i] = nc ? alloc_floats(batch, nc) : NULL;
        ok = b->z[i] && b->y[i] && (b->cache[i] || !nc);
    }
    return ok;
}

/* Copies the caches sized for net->max_batch into the larger ones of b: a cache laid out for a batch B reads
 * the same from the start of a bigger buffer. */
static void keep_caches(const gf_net *net, const layer_bufs *b)
{
    for (int32_t i = 0; net->cache && i < net->nlayers; i++) {
        const gf_layer *l = net->layers[i];
        size_t nc = l->ops->cache_size ? l->ops->cache_size(l) : 0;
        if (nc && net->cache[i])
            memcpy(b->cache[i], net->cache[i], (size_t)net->max_batch * nc * sizeof(float));
    }
}

/* Sizes every activation buffer for batch; allocates only when batch grows
 * (or when the input gradient was turned on since). */
static int ensure_batch(gf_net *net, int64_t batch)
{
    if (batch <= net->max_batch)
        return ensure_dinput(net);
    layer_bufs lb = {NULL, NULL, NULL};
    float *d0 = alloc_floats(batch, net->widest), *d1 = alloc_floats(batch, net->widest);
    float *dz = alloc_floats(batch, net->widest);
    /* The input gradient's buffer only when it is asked for (gf_net_set_input_grad). */
    float *din = net->want_dinput ? alloc_floats(batch, (size_t)net->inputs) : NULL;
    float *xc = alloc_floats(batch, (size_t)net->inputs);
    size_t ns = scratch_need(net, batch, gfi_pool_threads(net->pool));
    float *scratch = ns ? alloc_floats(1, ns) : NULL;
    bool ok = alloc_layer_bufs(net, batch, &lb) && d0 && d1 && dz && (din || !net->want_dinput) && xc &&
              (scratch || !ns);
    if (!ok) {
        free_layer_bufs(&lb, net->nlayers);
        gfi_free(d0);
        gfi_free(d1);
        gfi_free(dz);
        gfi_free(din);
        gfi_free(xc);
        gfi_free(scratch);
        return GF_ERR_NOMEM;
    }
    /* The last training batch outlives the growth (a prediction at a larger batch): the verdicts check their
     * remedies by training scratch copies on it. */
    int64_t kept = net->xcopy_batch;
    if (kept)
        memcpy(xc, net->xcopy, (size_t)kept * (size_t)net->inputs * sizeof(float));
    /* So do the caches of the last pass: a recurrent layer's final state and initial-state gradient are read
     * from them (gf_layer_final_state) after a call that grew the buffers and then failed. */
    keep_caches(net, &lb);
    free_buffers(net);
    net->xcopy_batch = kept;
    net->z = lb.z;
    net->y = lb.y;
    net->cache = lb.cache;
    net->scratch = scratch;
    net->scratch_n = ns;
    net->dbuf[0] = d0;
    net->dbuf[1] = d1;
    net->dz = dz;
    net->dinput = din;
    net->xcopy = xc;
    net->max_batch = batch;
    return GF_OK;
}

static int first_nonfinite(const float *v, size_t n, size_t *at)
{
    *at = gfi_ew()->first_nonfinite(v, n);
    return *at < n;
}

int gfi_net_layers_accept_batch(const gf_net *net, int64_t batch, int32_t *layer, char *msg, size_t cap)
{
    for (int32_t i = 0; i < net->nlayers; i++) {
        const gf_layer *l = net->layers[i];
        int rc = l->ops->check_batch ? l->ops->check_batch(l, batch, msg, cap) : GF_OK;
        if (rc) {
            *layer = i;
            return rc;
        }
    }
    return GF_OK;
}

/* Layers that fix the batch (a caller-given recurrent state) accept this one. */
static int check_layers_batch(gf_net *net, int64_t batch, const char *fn)
{
    char msg[192];
    int32_t i = 0;
    int rc = gfi_net_layers_accept_batch(net, batch, &i, msg, sizeof msg);
    if (rc)
        return NET_FAIL(net, rc, "%s: layer %d (%s) %s", fn, (int)i, net->layers[i]->ops->name, msg);
    return GF_OK;
}

/* Validates x against the net's input width and batch. */
static int check_input(gf_net *net, const float *x, size_t x_count, int64_t batch, const char *fn)
{
    if (net->nlayers == 0)
        return NET_FAIL(net, GF_ERR_STATE, "%s: the net has no layers", fn);
    if (!x)
        return NET_FAIL(net, GF_ERR_NULL, "%s: input x is NULL", fn);
    size_t want;
    int rc = gfi_checked_count(batch, net->inputs, &want);
    if (rc)
        return NET_FAIL(net, rc, "%s: batch must be positive and batch x %lld addressable (got batch %lld)", fn,
                        (long long)net->inputs, (long long)batch);
    if (x_count != want)
        return NET_FAIL(net, GF_ERR_SHAPE, "%s: x has %zu values but batch %lld x %lld inputs needs %zu", fn,
                        x_count, (long long)batch, (long long)net->inputs, want);
    return gfi_data_check(net, x, batch, fn);
}

int gfi_data_check(gf_net *net, const float *x, int64_t rows, const char *fn)
{
    size_t at;
    if (first_nonfinite(x, (size_t)rows * (size_t)net->inputs, &at))
        return NET_FAIL(net, GF_ERR_NONFINITE, "%s: x[%zu] (sample %zu, feature %zu) is %g", fn, at,
                        at / (size_t)net->inputs, at % (size_t)net->inputs, (double)x[at]);
    return GF_OK;
}

static int check_output(gf_net *net, const float *y, size_t y_count, int64_t batch, const char *fn, bool required)
{
    if (!y) {
        if (required)
            return NET_FAIL(net, GF_ERR_NULL, "%s: output y is NULL", fn);
        return GF_OK;
    }
    size_t want = (size_t)batch * (size_t)gf_net_output_size(net);
    if (y_count != want)
        return NET_FAIL(net, GF_ERR_SHAPE, "%s: y has room for %zu values but batch %lld x %lld outputs needs %zu", fn,
                        y_count, (long long)batch, (long long)gf_net_output_size(net), want);
    return GF_OK;
}

static void run_forward(gf_net *net, const float *x, int64_t batch, bool training)
{
    gfi_layer_io io = {.batch = batch, .training = training, .observe = net->diag_active, .x = x,
                       .scratch = net->scratch};
    const float *in = x;
    for (int32_t i = 0; i < net->nlayers; i++) {
        gf_layer *l = net->layers[i];
        io.x = in;
        io.z = net->z[i];
        io.y = net->y[i];
        io.cache = net->cache[i];
        l->ops->forward(l, &io);
        if (net->diag_active)
            gfi_diag_forward_layer(net, i, in);
        in = net->y[i];
    }
}

static const float *net_output(const gf_net *net) { return net->y[net->nlayers - 1]; }

/* The forward pass on arguments already validated. */
static int forward_run(gf_net *net, const float *x, size_t x_count, int64_t batch, float *y, size_t y_count,
                       bool training, const char *fn)
{
    int rc;
    /* Every pass starts here (fit and the batched evaluation too), so the layers' batch rule is checked here. */
    if ((rc = check_layers_batch(net, batch, fn)))
        return rc;
    if ((rc = ensure_batch(net, batch)))
        return NET_FAIL(net, rc, "%s: cannot allocate buffers for batch %lld", fn, (long long)batch);
    if (training && (rc = gfi_diag_prepare(net)))
        return NET_FAIL(net, rc, "%s: cannot size the diagnostics buffers: %s", fn, gf_last_error());
    /* From here the cached activations are overwritten: whatever was pending on
     * them is gone, even if a later step of this pass fails.  A training pass
     * also starts a new forward/backward/step cycle. */
    net->forward_ready = net->backward_ready = false;
    if (training)
        net->grads_ready = false;
    /* Backward reads the input again, so a training forward keeps its own copy. */
    const float *in = x;
    if (training) {
        memcpy(net->xcopy, x, x_count * sizeof(float));
        net->xcopy_batch = batch;
        in = net->xcopy;
        if (net->diag_on && (rc = gfi_diag_forward_begin(net, batch)))
            return NET_FAIL(net, rc, "%s: cannot size the diagnostics buffers: %s", fn, gf_last_error());
    } else {
        net->diag_active = false; /* only training passes are observed */
    }
    run_forward(net, in, batch, training);
    net->batch = batch;
    net->forward_ready = training;
    net->backward_ready = false;
    if (y)
        memcpy(y, net_output(net), y_count * sizeof(float));
    return GF_OK;
}

static int forward_common(gf_net *net, const float *x, size_t x_count, int64_t batch, float *y, size_t y_count,
                          bool training, bool need_y, const char *fn)
{
    int rc = check_net(net, fn);
    if (rc)
        return rc;
    if ((rc = check_input(net, x, x_count, batch, fn)) || (rc = check_output(net, y, y_count, batch, fn, need_y)))
        return rc;
    return forward_run(net, x, x_count, batch, y, y_count, training, fn);
}

int gf_net_predict(gf_net *net, const float *x, size_t x_count, int64_t batch, float *y, size_t y_count)
{
    return forward_common(net, x, x_count, batch, y, y_count, false, true, "gf_net_predict");
}

int gf_net_forward(gf_net *net, const float *x, size_t x_count, int64_t batch, float *y, size_t y_count)
{
    return forward_common(net, x, x_count, batch, y, y_count, true, false, "gf_net_forward");
}

/* Sum of every attached penalty over the current parameters. */
double gfi_layer_penalty_value(const gf_net *net, const gf_layer *l)
{
    const gfi_penalty *ps[2] = {net->has_pen ? &net->pen : NULL, l->has_pen ? &l->pen : NULL};
    double v = 0.0;
    for (int k = 0; k < 2; k++) {
        if (!ps[k] || !gfi_penalty_active(ps[k]))
            continue;
        v += gfi_penalty_value(ps[k], l->w, l->nweights);
        if (ps[k]->include_bias)
            v += gfi_penalty_value(ps[k], l->b, l->nbias);
    }
    return v;
}

static double penalty_value(const gf_net *net)
{
    double v = 0.0;
    for (int32_t i = 0; i < net->nlayers; i++)
        v += gfi_layer_penalty_value(net, net->layers[i]);
    return v;
}

static void penalty_grad(gf_net *net)
{
    for (int32_t i = 0; i < net->nlayers; i++) {
        gf_layer *l = net->layers[i];
        const gfi_penalty *ps[2] = {net->has_pen ? &net->pen : NULL, l->has_pen ? &l->pen : NULL};
        for (int k = 0; k < 2; k++) {
            if (!ps[k] || !gfi_penalty_active(ps[k]))
                continue;
            gfi_penalty_grad(ps[k], l->w, l->dw, l->nweights);
            if (ps[k]->include_bias)
                gfi_penalty_grad(ps[k], l->b, l->db, l->nbias);
        }
    }
}

/* Propagates d loss / d output (in dbuf[0]) down to the input. */
static void run_backward(gf_net *net)
{
    int64_t batch = net->batch;
    int cur = 0;
    if (net->diag_on)
        gfi_diag_backward_begin(net);
    gfi_layer_io io = {.batch = batch, .training = true, .observe = net->diag_active, .scratch = net->scratch,
                       .dz = net->dz};
    for (int32_t i = net->nlayers - 1; i >= 0; i--) {
        gf_layer *l = net->layers[i];
        io.x = i ? net->y[i - 1] : net->xcopy;
        io.z = net->z[i];
        io.y = net->y[i];
        io.cache = net->cache[i];
        io.dy = net->dbuf[cur];
        /* The first layer's input gradient only when asked for: it is the one
         * product no parameter gradient needs. */
        float *dx = i ? net->dbuf[1 - cur] : net->want_dinput ? net->dinput : NULL;
        io.dx = dx;
        l->ops->backward(l, &io);
        if (net->diag_active)
            gfi_diag_backward_layer(net, i, net->dbuf[cur], dx);
        cur = 1 - cur;
    }
    penalty_grad(net);
    if (net->diag_active)
        gfi_diag_backward_end(net);
    net->backward_ready = net->grads_ready = true;
    net->grads_spent = false;
    net->dinput_ready = net->want_dinput && net->dinput;
    net->training_began = true;
}

static int check_backward_ready(gf_net *net, const char *fn)
{
    int rc = check_net(net, fn);
    if (rc)
        return rc;
    if (!net->forward_ready)
        return NET_FAIL(net, GF_ERR_STATE, "%s: no training forward to go back through; call gf_net_forward first", fn);
    return GF_OK;
}

/* Validates target against the loss and the last batch. */
static int check_target(gf_net *net, const float *target, size_t count, int64_t batch, const char *fn)
{
    if (!target)
        return NET_FAIL(net, GF_ERR_NULL, "%s: target is NULL", fn);
    int64_t width = gfi_net_target_size(net), rows, row_width;
    size_t want = (size_t)batch * (size_t)width;
    if (count != want)
        return NET_FAIL(net, GF_ERR_SHAPE, "%s: target has %zu values but batch %lld x %lld needs %zu", fn, count,
                        (long long)batch, (long long)width, want);
    gfi_net_loss_rows(net, batch, &rows, &row_width);
    int rc = gfi_loss_check_target(&net->loss, target, rows, row_width);
    if (rc)
        return NET_FAIL(net, rc, "%s: %s", fn, gf_last_error());
    return GF_OK;
}

/* Loss and backward on a target already validated. */
static void backward_run(gf_net *net, const float *target, double *loss)
{
    int64_t rows, width;
    gfi_net_loss_rows(net, net->batch, &rows, &width);
    double v = gfi_loss_eval(&net->loss, net_output(net), target, rows, width, net->dbuf[0]);
    double pv = penalty_value(net);
    if (net->diag_active) {
        gfi_diag_loss(net, v, pv, true);
        gfi_diag_targets(net, target);
    }
    v += pv;
    run_backward(net);
    if (loss)
        *loss = v;
}

int gf_net_backward(gf_net *net, const float *target, size_t target_count, double *loss)
{
    int rc = check_backward_ready(net, "gf_net_backward");
    if (rc || (rc = check_target(net, target, target_count, net->batch, "gf_net_backward")))
        return rc;
    backward_run(net, target, loss);
    return GF_OK;
}

int gf_net_backward_from(gf_net *net, const float *grad_output, size_t count)
{
    int rc = check_backward_ready(net, "gf_net_backward_from");
    if (rc)
        return rc;
    if (!grad_output)
        return NET_FAIL(net, GF_ERR_NULL, "gf_net_backward_from: grad_output is NULL");
    size_t want = (size_t)net->batch * (size_t)gf_net_output_size(net);
    if (count != want)
        return NET_FAIL(net, GF_ERR_SHAPE, "gf_net_backward_from: grad_output has %zu values, expected %zu", count,
                        want);
    size_t at;
    if (first_nonfinite(grad_output, count, &at))
        return NET_FAIL(net, GF_ERR_NONFINITE, "gf_net_backward_from: grad_output[%zu] is %g", at,
                        (double)grad_output[at]);
    memcpy(net->dbuf[0], grad_output, count * sizeof(float));
    if (net->diag_active)
        gfi_diag_loss(net, 0.0, 0.0, false);
    run_backward(net);
    return GF_OK;
}

int gf_net_input_grad(const gf_net *net, float *dst, size_t count)
{
    int rc = check_net(net, "gf_net_input_grad");
    if (rc)
        return rc;
    gf_net *m = (gf_net *)net; /* only the error slot is written */
    if (!net->backward_ready)
        return NET_FAIL(m, GF_ERR_STATE, "gf_net_input_grad: no backward has run since the last forward");
    if (!net->dinput_ready)
        return NET_FAIL(m, GF_ERR_STATE,
                        "gf_net_input_grad: the last backward did not compute the input gradient; call "
                        "gf_net_set_input_grad(net, 1) before the backward");
    if (!dst)
        return NET_FAIL(m, GF_ERR_NULL, "gf_net_input_grad: dst is NULL");
    size_t want = (size_t)net->batch * (size_t)net->inputs;
    if (count != want)
        return NET_FAIL(m, GF_ERR_SHAPE, "gf_net_input_grad: count is %zu, expected %zu", count, want);
    memcpy(dst, net->dinput, want * sizeof(float));
    return GF_OK;
}

int gf_net_set_input_grad(gf_net *net, int enabled)
{
    int rc = check_net(net, "gf_net_set_input_grad");
    if (rc)
        return rc;
    if (enabled != 0 && enabled != 1)
        return NET_FAIL(net, GF_ERR_INVALID, "gf_net_set_input_grad: enabled must be 0 or 1 (got %d)", enabled);
    bool was = net->want_dinput;
    net->want_dinput = enabled != 0;
    if ((rc = ensure_dinput(net))) {
        net->want_dinput = was;
        return NET_FAIL(net, rc, "gf_net_set_input_grad: cannot allocate the input gradient for batch %lld",
                        (long long)net->max_batch);
    }
    return GF_OK;
}

int gf_net_input_grad_enabled(const gf_net *net)
{
    if (check_net(net, "gf_net_input_grad_enabled"))
        return -1;
    return net->want_dinput ? 1 : 0;
}

int gf_net_evaluate(gf_net *net, const float *x, size_t x_count, const float *target, size_t target_count,
                    int64_t batch, double *loss)
{
    int rc = check_net(net, "gf_net_evaluate");
    if (rc)
        return rc;
    if (!loss)
        return NET_FAIL(net, GF_ERR_NULL, "gf_net_evaluate: loss is NULL");
    if ((rc = check_input(net, x, x_count, batch, "gf_net_evaluate")) ||
        (rc = check_target(net, target, target_count, batch, "gf_net_evaluate")))
        return rc;
    /* Validated above: the forward does not scan x again. */
    if ((rc = forward_run(net, x, x_count, batch, NULL, 0, false, "gf_net_evaluate")))
        return rc;
    int64_t rows, width;
    gfi_net_loss_rows(net, batch, &rows, &width);
    *loss = gfi_loss_eval(&net->loss, net_output(net), target, rows, width, NULL) + penalty_value(net);
    return GF_OK;
}

/* ---- optimizer step ---- */

static int ensure_optimizer(gf_net *net)
{
    if (net->opt)
        return GF_OK;
    gf_optimizer *o;
    int rc = gf_optimizer_create(&o, GF_OPT_SGD, 0.01);
    if (rc)
        return rc;
    o->owner = net;
    net->opt = o;
    return GF_OK;
}

/* The optimizer step; fn names the public call for messages. */
static int net_step(gf_net *net, const char *fn)
{
    int rc = check_net(net, fn);
    if (rc)
        return rc;
    if (!net->grads_ready)
        return NET_FAIL(net, GF_ERR_STATE, "%s: no gradients; call gf_net_backward first", fn);
    if (net->grads_spent)
        return NET_FAIL(net, GF_ERR_STATE, "%s: these gradients were applied by the last step; call gf_net_backward "
                        "first", fn);
    /* An optimizer created or sized here is kept only if the step is taken
     * (a refused step leaves the optimizer as it was, too). */
    gfi_train_prep prep = {.made_opt = net->opt == NULL};
    if ((rc = ensure_optimizer(net)) || (rc = gfi_opt_prepare_begin(net->opt, net->nparams, &prep.opt))) {
        gfi_net_train_prepare_end(net, &prep, false);
        return NET_FAIL(net, rc, "%s: cannot prepare the optimizer: %s", fn, gf_last_error());
    }
    if (net->diag_on) /* observed or guarded: measures the update, or refuses it unapplied */
        rc = gfi_diag_step(net, fn);
    else
        gfi_opt_update_pool(net->opt, net->pool, net->params, net->grads, net->nparams);
    gfi_net_train_prepare_end(net, &prep, rc == GF_OK);
    if (rc)
        return rc;
    net->steps++;
    /* The cached activations no longer match the weights, and these
     * gradients are spent: they stay readable, but the next step needs a new
     * backward. */
    net->forward_ready = false;
    net->grads_spent = true;
    return GF_OK;
}

int gf_net_step(gf_net *net) { return net_step(net, "gf_net_step"); }

/* Forward, backward, guard, clip and step of a validated train step. */
static int train_step_run(gf_net *net, const float *x, size_t x_count, const float *target, int64_t batch,
                          double *loss)
{
    int rc;
    /* Validated once by the caller: the passes below do not scan the data again. */
    if ((rc = forward_run(net, x, x_count, batch, NULL, 0, true, "gf_net_train_step")))
        return rc;
    double value;
    backward_run(net, target, &value);
    /* The guard sees the gradients before clipping, which would refuse them as NaN. */
    if (net->diag_on && (rc = gfi_diag_guard_grads(net, "gf_net_train_step")))
        return rc;
    if ((rc = gfi_net_apply_clip(net, "gf_net_train_step")) || (rc = net_step(net, "gf_net_train_step")))
        return rc;
    if (loss)
        *loss = value;
    return GF_OK;
}

/* Once prepared, a train step can fail after its backward only where
 * clipping meets non-finite gradients (the guard's refusal keeps the
 * gradients and the record by design): only then are the gradients copied
 * aside, so a step without clipping pays nothing for this. */
static bool may_fail_after_backward(const gf_net *net) { return net->clip_mode != GF_CLIP_NONE && net->nparams; }

int gfi_net_train_prepare(gf_net *net, int64_t batch, gfi_train_prep *prep, const char *fn)
{
    int rc;
    prep->made_opt = net->opt == NULL;
    prep->opt.changed = false;
    if ((rc = ensure_batch(net, batch)))
        return NET_FAIL(net, rc, "%s: cannot allocate buffers for batch %lld", fn, (long long)batch);
    if (may_fail_after_backward(net) && net->grads_saved_n != net->nparams) {
        float *g = gfi_malloc(net->nparams * sizeof *g);
        if (!g)
            return NET_FAIL(net, GF_ERR_NOMEM, "%s: cannot allocate %zu gradients", fn, net->nparams);
        gfi_free(net->grads_saved);
        net->grads_saved = g;
        net->grads_saved_n = net->nparams;
    }
    /* The optimizer's state last but for the diagnostics, and only kept once
     * a step is taken: any failure leaves it as it was. */
    if ((rc = ensure_optimizer(net)) || (rc = gfi_opt_prepare_begin(net->opt, net->nparams, &prep->opt)) ||
        (rc = gfi_diag_prepare(net))) {
        gfi_net_train_prepare_end(net, prep, false);
        return NET_FAIL(net, rc, "%s: cannot prepare the step: out of memory", fn);
    }
    return GF_OK;
}

void gfi_net_train_prepare_end(gf_net *net, gfi_train_prep *prep, bool keep)
{
    if (net->opt)
        gfi_opt_prepare_end(net->opt, &prep->opt, keep);
    prep->opt.changed = false;
    if (!keep && prep->made_opt && net->opt) {
        gfi_opt_destroy_owned(net->opt);
        net->opt = NULL;
    }
    prep->made_opt = false;
}

/* What a train step changes before it can fail, to be put back if it does. */
typedef struct step_save {
    bool grads_ready, grads_spent, training_began, grads_copied;
    int64_t batch;
} step_save;

static void train_step_save(gf_net *net, step_save *sv)
{
    sv->grads_ready = net->grads_ready;
    sv->grads_spent = net->grads_spent;
    sv->training_began = net->training_began;
    sv->batch = net->batch;
    sv->grads_copied = may_fail_after_backward(net);
    if (sv->grads_copied)
        memcpy(net->grads_saved, net->grads, net->nparams * sizeof(float));
    gfi_diag_save(net);
}

/* Puts weights' gradients, the diagnostics and the call order back; what
 * was pending (a forward awaiting its backward, an input gradient) is gone,
 * as after gf_net_predict. */
static void train_step_restore(gf_net *net, const step_save *sv)
{
    if (sv->grads_copied)
        memcpy(net->grads, net->grads_saved, net->nparams * sizeof(float));
    gfi_diag_restore(net);
    net->grads_ready = sv->grads_ready;
    net->grads_spent = sv->grads_spent;
    net->training_began = sv->training_began;
    net->batch = sv->batch;
    net->forward_ready = net->backward_ready = net->dinput_ready = false;
}

int gf_net_train_step(gf_net *net, const float *x, size_t x_count, const float *target, size_t target_count,
                      int64_t batch, double *loss)
{
    int rc = check_net(net, "gf_net_train_step");
    if (rc)
        return rc;
    /* Validate everything before touching state, so a bad call changes nothing. */
    if ((rc = check_input(net, x, x_count, batch, "gf_net_train_step")) ||
        (rc = check_target(net, target, target_count, batch, "gf_net_train_step")))
        return rc;
    return gfi_net_train_validated(net, x, target, batch, loss);
}

/* ---- entries for the training loop (fit_v2.c, metric.c) ---- */

/* A train step on the pool, or on the caller alone when the gate says so
 * (pool_gate.h: timing it with and without the pool).  The pool is set aside
 * only when the buffers already fit this batch, so none is sized while it
 * is away; results do not depend on the thread count. */
static int train_step_gated(gf_net *net, const float *x, const float *target, int64_t batch, double *loss)
{
    size_t nx = (size_t)batch * (size_t)net->inputs;
    /* Where the weights apply per sample: a sequence's T steps (T x F), a signal's or an image's places (the
     * dims after the channels); 1 for a vector. */
    const gfi_shape *in = &net->in_shape;
    double positions = in->kind == GF_SHAPE_SEQUENCE ? (double)in->dim[0] : 1.0;
    for (int32_t d = 1; in->kind != GF_SHAPE_SEQUENCE && d < in->rank; d++)
        positions *= (double)in->dim[d];
    if (!net->pool || 6.0 * (double)net->nparams * (double)batch * positions < GFI_GATE_MIN_WORK)
        return train_step_run(net, x, nx, target, batch, loss);
    bool use_pool, measure;
    gfi_gate_next(&net->gate, &use_pool, &measure);
    struct gfi_pool *pool = net->pool;
    bool parked = !use_pool && batch <= net->max_batch;
    if (parked)
        net->pool = NULL;
    double t0 = measure ? gfi_gate_now() : 0.0;
    int rc = train_step_run(net, x, nx, target, batch, loss);
    if (measure)
        gfi_gate_record(&net->gate, batch, !parked, gfi_gate_now() - t0);
    net->pool = pool;
    return rc;
}

int gfi_net_train_validated(gf_net *net, const float *x, const float *target, int64_t batch, double *loss)
{
    /* Allocate everything first, so a lack of memory changes nothing. */
    gfi_train_prep prep;
    int rc = gfi_net_train_prepare(net, batch, &prep, "gf_net_train_step");
    if (rc)
        return rc;
    if (net->diag)
        gfi_diag_train_step_begin(net);
    step_save sv;
    train_step_save(net, &sv);
    rc = train_step_gated(net, x, target, batch, loss);
    if (rc && rc != GF_ERR_GUARD)
        train_step_restore(net, &sv);
    /* Not even a refused step keeps an optimizer state it sized. */
    gfi_net_train_prepare_end(net, &prep, rc == GF_OK);
    if (net->diag)
        gfi_diag_train_step_end(net);
    return rc;
}

int gfi_net_infer(gf_net *net, const float *x, int64_t batch, const float **out, const char *fn)
{
    int rc = forward_run(net, x, (size_t)batch * (size_t)net->inputs, batch, NULL, 0, false, fn);
    *out = rc ? NULL : net_output(net);
    return rc;
}

const float *gfi_net_output(const gf_net *net) { return net_output(net); }

double gfi_net_penalty(const gf_net *net) { return penalty_value(net); }
