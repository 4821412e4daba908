/*
 * penalty.c — L1 / L2 (elastic net) weight penalties: the handle, and the
 * value and gradient the net adds for each penalised parameter block.
 *
 * value = l1 * sum|w| + 0.5 * l2 * sum w^2; gradient l1 * sign(w) + l2 * w,
 * with sign(0) = 0 so an exactly-zero weight stays put under L1.
 */
#include "internal.h"

#include <float.h>
#include <math.h>

static int check_handle(const gf_penalty *p, const char *fn)
{
    if (!p)
        return gfi_fail(GF_ERR_NULL, "%s: penalty is NULL", fn);
    if (p->magic != GFI_MAGIC_PEN)
        return gfi_fail(GF_ERR_KIND, "%s: handle is not a live gf_penalty (magic 0x%08x)", fn, (unsigned)p->magic);
    return GF_OK;
}

/* Strengths are applied in float: they must fit one. */
static bool strength_valid(double s) { return s >= 0.0 && s <= FLT_MAX; }

int gf_penalty_create(gf_penalty **out, double l1, double l2)
{
    if (!out)
        return gfi_fail(GF_ERR_NULL, "gf_penalty_create: out is NULL");
    if (!strength_valid(l1))
        return gfi_fail(GF_ERR_INVALID, "gf_penalty_create: l1 must be in [0, 3.4e38] (got %g)", l1);
    if (!strength_valid(l2))
        return gfi_fail(GF_ERR_INVALID, "gf_penalty_create: l2 must be in [0, 3.4e38] (got %g)", l2);
    gf_penalty *p = gfi_malloc(sizeof *p);
    if (!p)
        return gfi_fail(GF_ERR_NOMEM, "gf_penalty_create: out of memory");
    p->magic = GFI_MAGIC_PEN;
    p->cfg.l1 = l1;
    p->cfg.l2 = l2;
    p->cfg.include_bias = 0; /* biases are usually left unpenalised */
    *out = p;
    return GF_OK;
}

void gf_penalty_destroy(gf_penalty *p)
{
    if (!p || p->magic != GFI_MAGIC_PEN)
        return;
    p->magic = GFI_MAGIC_DEAD;
    gfi_free(p);
}

int gf_penalty_set_include_bias(gf_penalty *p, int32_t include)
{
    int rc = check_handle(p, "gf_penalty_set_include_bias");
    if (rc != GF_OK)
        return rc;
    if (include != 0 && include != 1)
        return gfi_fail(GF_ERR_INVALID, "gf_penalty_set_include_bias: include must be 0 or 1 (got %d)",
                        (int)include);
    p->cfg.include_bias = include;
    return GF_OK;
}

int gf_penalty_get(const gf_penalty *p, double *l1, double *l2, int32_t *include_bias)
{
    int rc = check_handle(p, "gf_penalty_get");
    if (rc != GF_OK)
        return rc;
    if (l1)
        *l1 = p->cfg.l1;
    if (l2)
        *l2 = p->cfg.l2;
    if (include_bias)
        *include_bias = p->cfg.include_bias;
    return GF_OK;
}

bool gfi_penalty_active(const gfi_penalty *p) { return p->l1 > 0.0 || p->l2 > 0.0; }

double gfi_penalty_value(const gfi_penalty *p, const float *w, size_t n)
{
    double abs_sum = 0.0, sq_sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double v = w[i];
        abs_sum += fabs(v);
        sq_sum += v * v;
    }
    return p->l1 * abs_sum + 0.5 * p->l2 * sq_sum;
}

void gfi_penalty_grad(const gfi_penalty *p, const float *w, float *g, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double v = w[i];
        double sign = v > 0.0 ? 1.0 : v < 0.0 ? -1.0 : 0.0;
        g[i] = (float)((double)g[i] + p->l1 * sign + p->l2 * v);
    }
}
