/*
 * init.c — parameter initializers (constant, uniform, normal, Xavier/Glorot,
 * He/Kaiming, LeCun, orthogonal, PyTorch's nn.Linear default), the
 * gain table of gf_init_gain, and the gf_init handle.  Draws come from the
 * seeded generator in rng.c, so a seed gives the same buffer everywhere.
 */
#include "internal.h"

#include <float.h>
#include <math.h>

/* Largest |N(0,1)| draw rng.c can produce: sqrt(-2 ln 2^-53) ~ 8.57.  Ranges
 * are checked against it so that every drawn value fits a float. */
#define NORMAL_MAX_ABS 8.6
/* Fan-based scales are at most gain*sqrt(6) (fans >= 1); times NORMAL_MAX_ABS
 * that stays below 32*gain, so gain <= FLT_MAX/32 keeps every value finite. */
#define GAIN_MAX ((double)FLT_MAX / 32.0)

/* ------------------------------------------------------------------ */
/* Kind properties                                                     */
/* ------------------------------------------------------------------ */

static bool kind_valid(int32_t kind) { return kind >= GF_INIT_ZEROS && kind <= GF_INIT_DEFAULT; }

static bool kind_has_range(int32_t kind)
{
    return kind == GF_INIT_CONSTANT || kind == GF_INIT_UNIFORM || kind == GF_INIT_NORMAL;
}

static bool kind_is_he(int32_t kind) { return kind == GF_INIT_HE_UNIFORM || kind == GF_INIT_HE_NORMAL; }

static bool kind_has_gain(int32_t kind)
{
    return kind == GF_INIT_XAVIER_UNIFORM || kind == GF_INIT_XAVIER_NORMAL || kind_is_he(kind) ||
           kind == GF_INIT_ORTHOGONAL;
}

const char *gfi_init_name(int32_t kind)
{
    static const char *const names[] = {"zeros",        "constant",      "uniform",   "normal",
                                        "xavier_uniform", "xavier_normal", "he_uniform", "he_normal",
                                        "lecun_normal", "orthogonal",    "default"};
    return kind_valid(kind) ? names[kind] : "?";
}

void gfi_init_default(gfi_init *c, int32_t kind)
{
    c->kind = kind;
    c->mode = GF_FAN_IN;
    /* uniform: U(0, 1) and normal: N(0, 1), as torch.nn.init.uniform_/normal_;
     * constant: 0 (set 0.1 for ReLU biases, the classic dead-unit remedy). */
    c->a = 0.0;
    c->b = 1.0;
    /* He defaults to sqrt(2), the ReLU gain, as torch.nn.init.kaiming_*_ do
     * (and Keras' he_*): "He init" means variance 2/fan.  Others default to 1. */
    c->gain = kind_is_he(kind) ? sqrt(2.0) : 1.0;
}

/* ------------------------------------------------------------------ */
/* Drawing                                                             */
/* ------------------------------------------------------------------ */

/* a*(1-u) + b*u rather than a + (b-a)*u: b-a may overflow for wide ranges. */
static void fill_uniform(float *buf, size_t count, double a, double b, gfi_rng *rng)
{
    for (size_t i = 0; i < count; i++) {
        double u = gfi_rng_uniform(rng);
        buf[i] = (float)(a * (1.0 - u) + b * u);
    }
}

static void fill_normal(float *buf, size_t count, double mean, double std, gfi_rng *rng)
{
    for (size_t i = 0; i < count; i++)
        buf[i] = (float)(mean + std * gfi_rng_normal(rng));
}

static void fill_constant(float *buf, size_t count, float v)
{
    for (size_t i = 0; i < count; i++)
        buf[i] = v;
}

static double dot_col(const double *x, const double *y, size_t m)
{
    double s = 0.0;
    for (size_t i = 0; i < m; i++)
        s += x[i] * y[i];
    return s;
}

/* Removes from v its components along the j orthonormal columns of q. */
static void project_out(const double *q, size_t m, size_t j, double *v)
{
    for (size_t p = 0; p < j; p++) {
        const double *qp = q + p * m;
        double r = dot_col(qp, v, m);
        for (size_t i = 0; i < m; i++)
            v[i] -= r * qp[i];
    }
}

/*
 * Orthonormalizes the k columns of the column-major m x k matrix q (m >= k)
 * in place: modified Gram-Schmidt, each column projected twice ("twice is
 * enough") so orthogonality holds to double precision.  Gram-Schmidt yields
 * the QR factor whose R has a positive diagonal, which is exactly the sign
 * correction Saxe et al. apply to a Householder QR to make Q Haar-distributed.
 * A column that (with probability ~0) lies in the span of the previous ones is
 * redrawn.
 */
static int orthonormalize(double *q, size_t m, size_t k, gfi_rng *rng)
{
    for (size_t j = 0; j < k; j++) {
        double *v = q + j * m;
        for (int attempt = 0;; attempt++) {
            double before = sqrt(dot_col(v, v, m));
            project_out(q, m, j, v);
            project_out(q, m, j, v);
            double after = sqrt(dot_col(v, v, m));
            if (after > 1e-8 * before && after > 0.0) {
                for (size_t i = 0; i < m; i++)
                    v[i] /= after;
                break;
            }
            if (attempt == 16)
                return gfi_fail(GF_ERR_INVALID, "orthogonal init: could not draw an independent column");
            for (size_t i = 0; i < m; i++)
                v[i] = gfi_rng_normal(rng);
        }
    }
    return GF_OK;
}

/*
 * buf is fan_out x fan_in (row-major).  The tall orientation m x k (m >= k)
 * is orthonormalized by columns; a wide W is its transpose, so W has
 * orthonormal rows when fan_out <= fan_in and orthonormal columns otherwise.
 */
static int fill_orthogonal(float *buf, int64_t fan_in, int64_t fan_out, double gain, gfi_rng *rng)
{
    size_t rows = (size_t)fan_out, cols = (size_t)fan_in;
    bool tall = rows >= cols;
    size_t m = tall ? rows : cols, k = tall ? cols : rows, mk, bytes;
    if (!gfi_mul_size(m, k, &mk) || !gfi_mul_size(mk, sizeof(double), &bytes))
        return gfi_fail(GF_ERR_OVERFLOW, "orthogonal init: %zu x %zu scratch overflows size_t", rows, cols);
    double *q = gfi_malloc(bytes);
    if (!q)
        return gfi_fail(GF_ERR_NOMEM, "orthogonal init: out of memory for a %zu x %zu scratch matrix", rows,
                        cols);
    for (size_t i = 0; i < mk; i++)
        q[i] = gfi_rng_normal(rng);
    int rc = orthonormalize(q, m, k, rng);
    if (rc == GF_OK) {
        for (size_t r = 0; r < rows; r++)
            for (size_t c = 0; c < cols; c++) {
                /* Q(i, j) = q[j*m + i]; W = Q (tall) or Q^T (wide). */
                double v = tall ? q[c * m + r] : q[r * m + c];
                buf[r * cols + c] = (float)(gain * v);
            }
    }
    gfi_free(q);
    return rc;
}

int gfi_init_fill_fan(const gfi_init *c, float *buf, size_t count, int64_t fan_in, int64_t fan_out, gfi_rng *rng)
{
    if (fan_in <= 0 || fan_out <= 0)
        return gfi_fail(GF_ERR_INVALID, "init %s: fans must be positive (fan_in %lld, fan_out %lld)",
                        gfi_init_name(c->kind), (long long)fan_in, (long long)fan_out);
    double fi = (double)fan_in, fo = (double)fan_out;
    double fan = c->mode == GF_FAN_OUT ? fo : fi;
    switch (c->kind) {
    case GF_INIT_ZEROS: fill_constant(buf, count, 0.0f); break;
    case GF_INIT_CONSTANT: fill_constant(buf, count, (float)c->a); break;
    case GF_INIT_UNIFORM: fill_uniform(buf, count, c->a, c->b, rng); break;
    case GF_INIT_NORMAL: fill_normal(buf, count, c->a, c->b, rng); break;
    case GF_INIT_XAVIER_UNIFORM: {
        double l = c->gain * sqrt(6.0 / (fi + fo));
        fill_uniform(buf, count, -l, l, rng);
        break;
    }
    case GF_INIT_XAVIER_NORMAL: fill_normal(buf, count, 0.0, c->gain * sqrt(2.0 / (fi + fo)), rng); break;
    case GF_INIT_HE_UNIFORM: {
        double l = c->gain * sqrt(3.0 / fan);
        fill_uniform(buf, count, -l, l, rng);
        break;
    }
    case GF_INIT_HE_NORMAL: fill_normal(buf, count, 0.0, c->gain / sqrt(fan), rng); break;
    case GF_INIT_LECUN_NORMAL: fill_normal(buf, count, 0.0, 1.0 / sqrt(fi), rng); break;
    case GF_INIT_ORTHOGONAL: {
        size_t need;
        int rc = gfi_checked_count(fan_out, fan_in, &need);
        if (rc != GF_OK)
            return rc;
        if (need != count)
            return gfi_fail(GF_ERR_SHAPE, "init orthogonal: %zu values cannot form a %lld x %lld matrix", count,
                            (long long)fan_out, (long long)fan_in);
        return fill_orthogonal(buf, fan_in, fan_out, c->gain, rng);
    }
    case GF_INIT_DEFAULT: {
        double l = 1.0 / sqrt(fi);
        fill_uniform(buf, count, -l, l, rng);
        break;
    }
    default: return gfi_fail(GF_ERR_INVALID, "init: unknown initializer kind %d", (int)c->kind);
    }
    return GF_OK;
}

int gfi_init_fill(const gfi_init *c, float *buf, int64_t rows, int64_t cols, gfi_rng *rng)
{
    size_t count;
    int rc = gfi_checked_count(rows, cols, &count);
    if (rc != GF_OK)
        return rc;
    return gfi_init_fill_fan(c, buf, count, cols, rows, rng);
}

/* ------------------------------------------------------------------ */
/* Public API                                                          */
/* ------------------------------------------------------------------ */

static int check_handle(const gf_init *init, const char *fn)
{
    if (!init)
        return gfi_fail(GF_ERR_NULL, "%s: init is NULL", fn);
    if (init->magic != GFI_MAGIC_INIT)
        return gfi_fail(GF_ERR_KIND, "%s: handle is not a live gf_init", fn);
    return GF_OK;
}

int gf_init_create(gf_init **out, int32_t kind)
{
    if (!out)
        return gfi_fail(GF_ERR_NULL, "gf_init_create: out is NULL");
    if (!kind_valid(kind))
        return gfi_fail(GF_ERR_INVALID, "gf_init_create: unknown initializer kind %d", (int)kind);
    gf_init *init = gfi_malloc(sizeof *init);
    if (!init)
        return gfi_fail(GF_ERR_NOMEM, "gf_init_create: out of memory");
    init->magic = GFI_MAGIC_INIT;
    gfi_init_default(&init->cfg, kind);
    *out = init;
    return GF_OK;
}

void gf_init_destroy(gf_init *init)
{
    if (!init || init->magic != GFI_MAGIC_INIT)
        return;
    init->magic = GFI_MAGIC_DEAD;
    gfi_free(init);
}

/* Per-kind domain of (a, b); every drawn value must fit a float. */
static int check_range(int32_t kind, double a, double b)
{
    const char *fn = "gf_init_set_range";
    if (!isfinite(a) || !isfinite(b))
        return gfi_fail(GF_ERR_INVALID, "%s: a and b must be finite (got %g, %g)", fn, a, b);
    if (fabs(a) > FLT_MAX || fabs(b) > FLT_MAX)
        return gfi_fail(GF_ERR_INVALID, "%s: a and b must fit a float (got %g, %g)", fn, a, b);
    if (kind == GF_INIT_UNIFORM && !(a < b))
        return gfi_fail(GF_ERR_INVALID, "%s: uniform needs a < b (got %g, %g)", fn, a, b);
    if (kind == GF_INIT_NORMAL) {
        if (b < 0.0)
            return gfi_fail(GF_ERR_INVALID, "%s: normal std b must be >= 0 (got %g)", fn, b);
        if (fabs(a) + NORMAL_MAX_ABS * b > FLT_MAX)
            return gfi_fail(GF_ERR_INVALID, "%s: N(%g, %g) draws would overflow a float", fn, a, b);
    }
    return GF_OK;
}

int gf_init_set_range(gf_init *init, double a, double b)
{
    int rc = check_handle(init, "gf_init_set_range");
    if (rc != GF_OK)
        return rc;
    if (!kind_has_range(init->cfg.kind))
        return gfi_fail(GF_ERR_INVALID, "gf_init_set_range: %s has no range (only constant, uniform, normal)",
                        gfi_init_name(init->cfg.kind));
    rc = check_range(init->cfg.kind, a, b);
    if (rc != GF_OK)
        return rc;
    init->cfg.a = a;
    init->cfg.b = b;
    return GF_OK;
}

int gf_init_set_gain(gf_init *init, double gain)
{
    int rc = check_handle(init, "gf_init_set_gain");
    if (rc != GF_OK)
        return rc;
    if (!kind_has_gain(init->cfg.kind))
        return gfi_fail(GF_ERR_INVALID, "gf_init_set_gain: %s has no gain (only xavier, he, orthogonal)",
                        gfi_init_name(init->cfg.kind));
    if (!isfinite(gain) || gain <= 0.0 || gain > GAIN_MAX)
        return gfi_fail(GF_ERR_INVALID, "gf_init_set_gain: gain must be finite, > 0 and <= %g (got %g)", GAIN_MAX,
                        gain);
    init->cfg.gain = gain;
    return GF_OK;
}

int gf_init_set_mode(gf_init *init, int32_t mode)
{
    int rc = check_handle(init, "gf_init_set_mode");
    if (rc != GF_OK)
        return rc;
    if (!kind_is_he(init->cfg.kind))
        return gfi_fail(GF_ERR_INVALID, "gf_init_set_mode: %s has no fan mode (only he_uniform, he_normal)",
                        gfi_init_name(init->cfg.kind));
    if (mode != GF_FAN_IN && mode != GF_FAN_OUT)
        return gfi_fail(GF_ERR_INVALID, "gf_init_set_mode: mode must be GF_FAN_IN or GF_FAN_OUT (got %d)",
                        (int)mode);
    init->cfg.mode = mode;
    return GF_OK;
}

double gf_init_gain(int32_t activation_kind, double param)
{
    switch (activation_kind) {
    case GF_ACT_SIGMOID: return 1.0;
    case GF_ACT_TANH: return 5.0 / 3.0;
    case GF_ACT_RELU: return sqrt(2.0);
    case GF_ACT_LEAKY_RELU: {
        /* NaN stands for "the activation's default slope" (PyTorch's param=None).  An
         * explicit 0 stays slope 0, the ReLU gain: kaiming_*_(a=0) in PyTorch. */
        gfi_act dflt;
        gfi_act_default(&dflt, GF_ACT_LEAKY_RELU);
        double slope = isnan(param) ? dflt.slope : param;
        return sqrt(2.0 / (1.0 + slope * slope));
    }
    case GF_ACT_SELU: return 0.75;
    case GF_ACT_IDENTITY:
    case GF_ACT_ELU:
    case GF_ACT_SOFTPLUS:
    case GF_ACT_GELU: return 1.0;
    default: return NAN;
    }
}

int gf_init_fill(const gf_init *init, float *buf, size_t count, int64_t rows, int64_t cols, uint64_t seed)
{
    int rc = check_handle(init, "gf_init_fill");
    if (rc != GF_OK)
        return rc;
    if (!buf)
        return gfi_fail(GF_ERR_NULL, "gf_init_fill: buf is NULL");
    if (rows <= 0 || cols <= 0)
        return gfi_fail(GF_ERR_INVALID, "gf_init_fill: rows and cols must be positive (got %lld x %lld)",
                        (long long)rows, (long long)cols);
    size_t need;
    rc = gfi_checked_count(rows, cols, &need);
    if (rc != GF_OK)
        return gfi_fail(rc, "gf_init_fill: %lld x %lld overflows size_t", (long long)rows, (long long)cols);
    if (need != count)
        return gfi_fail(GF_ERR_SHAPE, "gf_init_fill: count %zu != rows x cols = %zu", count, need);
    gfi_rng rng;
    gfi_rng_seed(&rng, seed);
    return gfi_init_fill_fan(&init->cfg, buf, count, cols, rows, &rng);
}

/* ---- model files: which settings a kind has ---- */

bool gfi_init_has_range(int32_t kind) { return kind_has_range(kind); }

bool gfi_init_has_gain(int32_t kind) { return kind_has_gain(kind); }

bool gfi_init_has_mode(int32_t kind) { return kind_is_he(kind); }
