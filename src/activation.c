/*
 * activation.c — element-wise activation functions, their derivatives and the
 * gf_activation handle.  Every formula is evaluated in double from the float
 * input and rounded once to float, in a form that stays finite for inputs of
 * +-1e4 (stable sigmoid, expm1 for ELU/SELU, log1p for softplus, erfc for GELU).
 */
#include "ew.h"
#include "internal.h"

#include <float.h>
#include <math.h>

#define SELU_LAMBDA GFI_SELU_LAMBDA
#define SELU_ALPHA GFI_SELU_ALPHA
#define INV_SQRT2 0.70710678118654752440
#define INV_SQRT_2PI 0.39894228040143267794

/* ------------------------------------------------------------------ */
/* Scalar formulas (double in, double out)                             */
/* ------------------------------------------------------------------ */

/* exp() only ever sees a non-positive argument, so it cannot overflow. */
static double sigmoid(double x)
{
    if (x >= 0.0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* Phi(x) through erfc: accurate in the left tail where 1 + erf(x) cancels. */
static double normal_cdf(double x) { return 0.5 * erfc(-x * INV_SQRT2); }

static double normal_pdf(double x) { return INV_SQRT_2PI * exp(-0.5 * x * x); }

static double softplus(double x) { return fmax(x, 0.0) + log1p(exp(-fabs(x))); }

#if defined(__GNUC__) || defined(__clang__)
#define ACT_INLINE static inline __attribute__((always_inline))
#else
#define ACT_INLINE static inline
#endif

/* The formulas take the kind apart from a so that the loops below, one per
 * kind with the kind a constant, keep the switch out of the element loop. */
ACT_INLINE double act_value_of(int32_t kind, const gfi_act *a, double x)
{
    switch (kind) {
    case GF_ACT_SIGMOID: return sigmoid(x);
    case GF_ACT_TANH: return tanh(x);
    case GF_ACT_RELU: return x > 0.0 ? x : 0.0;
    case GF_ACT_LEAKY_RELU: return x > 0.0 ? x : a->slope * x;
    case GF_ACT_ELU: return x > 0.0 ? x : a->alpha * expm1(x);
    case GF_ACT_SELU: return SELU_LAMBDA * (x > 0.0 ? x : SELU_ALPHA * expm1(x));
    case GF_ACT_SOFTPLUS: return softplus(x);
    case GF_ACT_GELU: return x * normal_cdf(x);
    default: return x; /* identity */
    }
}

/* f'(x).  At a kink (x == 0) the left derivative is used, as PyTorch does:
 * relu'(0) = 0, leaky'(0) = slope, elu'(0) = alpha. */
ACT_INLINE double act_slope_of(int32_t kind, const gfi_act *a, double x)
{
    switch (kind) {
    case GF_ACT_SIGMOID: {
        double s = sigmoid(x);
        return s * (1.0 - s);
    }
    case GF_ACT_TANH: {
        double t = tanh(x);
        return 1.0 - t * t;
    }
    case GF_ACT_RELU: return x > 0.0 ? 1.0 : 0.0;
    case GF_ACT_LEAKY_RELU: return x > 0.0 ? 1.0 : a->slope;
    case GF_ACT_ELU: return x > 0.0 ? 1.0 : a->alpha * exp(x);
    case GF_ACT_SELU: return SELU_LAMBDA * (x > 0.0 ? 1.0 : SELU_ALPHA * exp(x));
    case GF_ACT_SOFTPLUS: return sigmoid(x);
    case GF_ACT_GELU: return normal_cdf(x) + x * normal_pdf(x);
    default: return 1.0;
    }
}

/* f'(z) given y = f(z) already computed, where that is cheaper than from z
 * and as accurate.  ELU and SELU are not taken from y: their negative-side
 * slope y + alpha cancels catastrophically in the float y (elu'(-20) would be
 * exactly 0, selu' would never fall below 2.3e-8), so it is alpha e^z from z
 * as in act_slope, as PyTorch's nn.ELU / nn.SELU compute it from the input. */
ACT_INLINE double act_slope_from_output_of(int32_t kind, const gfi_act *a, double z, double y)
{
    switch (kind) {
    case GF_ACT_SIGMOID: return y * (1.0 - y);
    case GF_ACT_TANH: return 1.0 - y * y;
    default: return act_slope_of(kind, a, z);
    }
}

/* Runs BODY (which may use the constant K) with K each kind in turn. */
#define FOR_KIND(kind, BODY)                                                                                           \
    switch (kind) {                                                                                                    \
    case GF_ACT_SIGMOID: { enum { K = GF_ACT_SIGMOID }; BODY; } break;                                                 \
    case GF_ACT_TANH: { enum { K = GF_ACT_TANH }; BODY; } break;                                                       \
    case GF_ACT_RELU: { enum { K = GF_ACT_RELU }; BODY; } break;                                                       \
    case GF_ACT_LEAKY_RELU: { enum { K = GF_ACT_LEAKY_RELU }; BODY; } break;                                           \
    case GF_ACT_ELU: { enum { K = GF_ACT_ELU }; BODY; } break;                                                         \
    case GF_ACT_SELU: { enum { K = GF_ACT_SELU }; BODY; } break;                                                       \
    case GF_ACT_SOFTPLUS: { enum { K = GF_ACT_SOFTPLUS }; BODY; } break;                                               \
    case GF_ACT_GELU: { enum { K = GF_ACT_GELU }; BODY; } break;                                                       \
    default: { enum { K = GF_ACT_IDENTITY }; BODY; } break;                                                            \
    }

/* ------------------------------------------------------------------ */
/* Internal API                                                        */
/* ------------------------------------------------------------------ */

void gfi_act_default(gfi_act *a, int32_t kind)
{
    a->kind = kind;
    a->slope = 0.01;
    a->alpha = 1.0;
}

bool gfi_act_kind_valid(int32_t kind) { return kind >= GF_ACT_IDENTITY && kind <= GF_ACT_GELU; }

void gfi_act_forward(const gfi_act *a, const float *z, float *y, size_t n)
{
    FOR_KIND(a->kind, for (size_t i = 0; i < n; i++) y[i] = (float)act_value_of(K, a, (double)z[i]));
}

void gfi_act_derivative(const gfi_act *a, const float *z, float *d, size_t n)
{
    FOR_KIND(a->kind, for (size_t i = 0; i < n; i++) d[i] = (float)act_slope_of(K, a, (double)z[i]));
}

/* y may be NULL: the derivative is then computed from z alone. */
void gfi_act_backward(const gfi_act *a, const float *z, const float *y, const float *dy, float *dz, size_t n)
{
    if (a->kind == GF_ACT_IDENTITY) {
        for (size_t i = 0; i < n; i++)
            dz[i] = dy[i];
        return;
    }
    if (y) {
        FOR_KIND(a->kind, for (size_t i = 0; i < n; i++) dz[i] = (float)((double)dy[i] *
                                                                         act_slope_from_output_of(K, a, (double)z[i], (double)y[i])));
    } else {
        FOR_KIND(a->kind, for (size_t i = 0; i < n; i++) dz[i] = (float)((double)dy[i] * act_slope_of(K, a, (double)z[i])));
    }
}

/* Rectifiers whose units can stop passing gradient (ReLU; leaky ReLU with a
 * tiny slope nearly so).  ELU and SELU are left out: their negative side
 * keeps a gradient alpha*e^x and their outputs are centred, so the dead-unit
 * diagnosis and its "use leaky ReLU" advice do not apply to them. */
bool gfi_act_is_relu_family(int32_t kind) { return kind == GF_ACT_RELU || kind == GF_ACT_LEAKY_RELU; }

/* Activations whose derivative tends to 0 on both sides (vanishing gradients). */
bool gfi_act_is_saturating(int32_t kind) { return kind == GF_ACT_SIGMOID || kind == GF_ACT_TANH; }

bool gfi_act_has_negative_side(int32_t kind)
{
    return kind == GF_ACT_RELU || kind == GF_ACT_LEAKY_RELU || kind == GF_ACT_ELU || kind == GF_ACT_SELU;
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

static int check_handle(const gf_activation *act, const char *fn)
{
    if (!act)
        return gfi_fail(GF_ERR_NULL, "%s: activation is NULL", fn);
    if (act->magic != GFI_MAGIC_ACT)
        return gfi_fail(GF_ERR_KIND, "%s: handle is not a live gf_activation", fn);
    return GF_OK;
}

/* The parameter `param` must belong to the handle's kind. */
static int check_param(const gf_activation *act, int32_t param, const char *fn)
{
    int32_t kind = act->cfg.kind;
    if (param == GF_ACT_PARAM_SLOPE && kind == GF_ACT_LEAKY_RELU)
        return GF_OK;
    if (param == GF_ACT_PARAM_ALPHA && kind == GF_ACT_ELU)
        return GF_OK;
    if (param != GF_ACT_PARAM_SLOPE && param != GF_ACT_PARAM_ALPHA)
        return gfi_fail(GF_ERR_INVALID, "%s: unknown parameter %d", fn, (int)param);
    return gfi_fail(GF_ERR_INVALID, "%s: %s has no parameter %s", fn, gf_activation_name(kind),
                    param == GF_ACT_PARAM_SLOPE ? "slope" : "alpha");
}

static int check_finite_input(const float *x, size_t n, const char *fn)
{
    size_t i = gfi_ew()->first_nonfinite(x, n);
    if (i < n)
        return gfi_fail(GF_ERR_NONFINITE, "%s: x[%zu] is %g", fn, i, (double)x[i]);
    return GF_OK;
}

int gf_activation_create(gf_activation **out, int32_t kind)
{
    if (!out)
        return gfi_fail(GF_ERR_NULL, "gf_activation_create: out is NULL");
    if (!gfi_act_kind_valid(kind))
        return gfi_fail(GF_ERR_INVALID, "gf_activation_create: unknown activation kind %d", (int)kind);
    gf_activation *act = gfi_malloc(sizeof *act);
    if (!act)
        return gfi_fail(GF_ERR_NOMEM, "gf_activation_create: out of memory");
    act->magic = GFI_MAGIC_ACT;
    gfi_act_default(&act->cfg, kind);
    *out = act;
    return GF_OK;
}

void gf_activation_destroy(gf_activation *act)
{
    if (!act || act->magic != GFI_MAGIC_ACT)
        return;
    act->magic = GFI_MAGIC_DEAD;
    gfi_free(act);
}

int gf_activation_set(gf_activation *act, int32_t param, double value)
{
    int rc = check_handle(act, "gf_activation_set");
    if (rc == GF_OK)
        rc = check_param(act, param, "gf_activation_set");
    if (rc != GF_OK)
        return rc;
    /* Applied in float: a value past FLT_MAX would turn finite inputs into Inf. */
    if (!(fabs(value) <= FLT_MAX))
        return gfi_fail(GF_ERR_INVALID, "gf_activation_set: value must be finite and within float range (got %g)", value);
    if (param == GF_ACT_PARAM_SLOPE) {
        if (value < 0.0)
            return gfi_fail(GF_ERR_INVALID, "gf_activation_set: leaky ReLU slope must be >= 0 (got %g)", value);
        act->cfg.slope = value;
    } else {
        if (value <= 0.0)
            return gfi_fail(GF_ERR_INVALID, "gf_activation_set: ELU alpha must be > 0 (got %g)", value);
        act->cfg.alpha = value;
    }
    return GF_OK;
}

int gf_activation_get(const gf_activation *act, int32_t param, double *value)
{
    int rc = check_handle(act, "gf_activation_get");
    if (rc != GF_OK)
        return rc;
    if (!value)
        return gfi_fail(GF_ERR_NULL, "gf_activation_get: value is NULL");
    rc = check_param(act, param, "gf_activation_get");
    if (rc != GF_OK)
        return rc;
    *value = param == GF_ACT_PARAM_SLOPE ? act->cfg.slope : act->cfg.alpha;
    return GF_OK;
}

int32_t gf_activation_kind(const gf_activation *act)
{
    if (!act || act->magic != GFI_MAGIC_ACT)
        return -1;
    return act->cfg.kind;
}

/* Shared argument checks of apply and derivative. */
static int check_map_args(const gf_activation *act, const float *x, const float *y, size_t n, const char *fn)
{
    int rc = check_handle(act, fn);
    if (rc != GF_OK)
        return rc;
    if (n > GFI_COUNT_MAX(sizeof(float)))
        return gfi_fail(GF_ERR_OVERFLOW, "%s: n = %zu is more floats than an array can hold (at most %zu): a "
                        "negative count converted to size_t?", fn, n, GFI_COUNT_MAX(sizeof(float)));
    if (n == 0)
        return GF_OK;
    if (!x || !y)
        return gfi_fail(GF_ERR_NULL, "%s: %s is NULL with n = %zu", fn, !x ? "x" : "output", n);
    return check_finite_input(x, n, fn);
}

int gf_activation_apply(const gf_activation *act, const float *x, float *y, size_t n)
{
    int rc = check_map_args(act, x, y, n, "gf_activation_apply");
    if (rc == GF_OK)
        gfi_act_forward(&act->cfg, x, y, n);
    return rc;
}

int gf_activation_derivative(const gf_activation *act, const float *x, float *d, size_t n)
{
    int rc = check_map_args(act, x, d, n, "gf_activation_derivative");
    if (rc == GF_OK)
        gfi_act_derivative(&act->cfg, x, d, n);
    return rc;
}

const char *gf_activation_name(int32_t kind)
{
    switch (kind) {
    case GF_ACT_IDENTITY: return "identity";
    case GF_ACT_SIGMOID: return "sigmoid";
    case GF_ACT_TANH: return "tanh";
    case GF_ACT_RELU: return "relu";
    case GF_ACT_LEAKY_RELU: return "leaky_relu";
    case GF_ACT_ELU: return "elu";
    case GF_ACT_SELU: return "selu";
    case GF_ACT_SOFTPLUS: return "softplus";
    case GF_ACT_GELU: return "gelu";
    default: return "?";
    }
}
