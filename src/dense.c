/* dense.c — the fully connected layer: y = f(x W^T + b), W out x in (PyTorch nn.Linear layout). */
#include "internal.h"
#include "ew.h"
#include "gemm.h"

#include <string.h>

static void dense_forward(gf_layer *l, const float *x, int64_t batch, float *z, float *y)
{
    /* z = x W^T, then + b and the activation in one pass where a fast version exists. */
    gf_net *net = l->owner;
    gfi_gemm_pool(net->pool, net->gemm_ws, false, true, batch, l->out, l->in, 1.0f, x, l->in, l->w, l->in, 0.0f, z,
                  l->out);
    if (gfi_ew_act_fast(l->act.kind)) {
        gfi_ew_bias_act_run(l->owner->pool, l->act.kind, l->b, z, y, batch, l->out);
        return;
    }
    for (int64_t r = 0; r < batch; r++) {
        float *zr = z + r * l->out;
        for (int64_t j = 0; j < l->out; j++)
            zr[j] += l->b[j];
    }
    gfi_act_forward(&l->act, z, y, (size_t)(batch * l->out));
}

/* db = column sums of dz, in double. */
static void bias_grad(gf_layer *l, const float *dz, int64_t batch)
{
    for (int64_t j = 0; j < l->out; j++) {
        double s = 0.0;
        for (int64_t r = 0; r < batch; r++)
            s += dz[r * l->out + j];
        l->db[j] = (float)s;
    }
}

static void dense_backward(gf_layer *l, const float *x, const float *z, const float *y, const float *dy,
                           int64_t batch, float *dz, float *dx)
{
    /* dz = dy f'(z) and db = column sums of dz (fused where a fast version exists);
     * dW = dz^T x (out x in); dx = dz W. */
    if (gfi_ew_act_fast(l->act.kind)) {
        gfi_ew_act_grad_colsum_run(l->owner->pool, l->act.kind, z, y, dy, dz, l->db, batch, l->out);
    } else {
        gfi_act_backward(&l->act, z, y, dy, dz, (size_t)(batch * l->out));
        bias_grad(l, dz, batch);
    }
    gf_net *net = l->owner;
    gfi_gemm_pool(net->pool, net->gemm_ws, true, false, l->out, l->in, batch, 1.0f, dz, l->out, x, l->in, 0.0f, l->dw,
                  l->in);
    if (dx)
        gfi_gemm_pool(net->pool, net->gemm_ws, false, false, batch, l->in, l->out, 1.0f, dz, l->out, l->w, l->in, 0.0f,
                      dx, l->in);
}

const gfi_layer_ops gfi_dense_ops = {"dense", dense_forward, dense_backward};

int gf_layer_dense_create(gf_layer **out, int64_t inputs, int64_t outputs)
{
    if (!out)
        return gfi_fail(GF_ERR_NULL, "gf_layer_dense_create: out is NULL");
    *out = NULL;
    size_t nw;
    int rc = gfi_checked_count(inputs, outputs, &nw);
    if (rc)
        return gfi_fail(rc, "gf_layer_dense_create: %s (%lld inputs x %lld outputs)",
                        rc == GF_ERR_OVERFLOW ? "weight count overflows size_t" : "sizes must be positive",
                        (long long)inputs, (long long)outputs);
    /* W, b, dW, db in one block. */
    if (nw + (size_t)outputs > SIZE_MAX / (2 * sizeof(float)))
        return gfi_fail(GF_ERR_OVERFLOW, "gf_layer_dense_create: %lld x %lld parameters overflow size_t",
                        (long long)inputs, (long long)outputs);
    size_t total = 2 * (nw + (size_t)outputs);
    gf_layer *l = gfi_calloc(1, sizeof *l);
    float *own = l ? gfi_calloc(total, sizeof(float)) : NULL;
    if (!own) {
        gfi_free(l);
        return gfi_fail(GF_ERR_NOMEM, "gf_layer_dense_create: cannot allocate %zu parameters", total / 2);
    }
    l->magic = GFI_MAGIC_LAYER;
    l->kind = GF_LAYER_DENSE;
    l->ops = &gfi_dense_ops;
    l->index = -1;
    l->in = inputs;
    l->out = outputs;
    l->nweights = nw;
    l->nbias = (size_t)outputs;
    l->own = own;
    gfi_layer_point(l, own, own + nw + l->nbias);
    gfi_act_default(&l->act, GF_ACT_IDENTITY);
    gfi_init_default(&l->winit, GF_INIT_DEFAULT);
    gfi_init_default(&l->binit, GF_INIT_DEFAULT);
    *out = l;
    return GF_OK;
}
