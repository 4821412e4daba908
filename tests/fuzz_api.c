/* fuzz_api.c — a randomized API fuzzer: random sequences of library calls with hostile arguments (NULL and
 * wrong-kind handles, sizes of 0, -1 and 2^62, counts off by one, NaN and Inf data, unknown enum values, absurd
 * options, bad file destinations) on a changing pool of live objects.  Built with ASan and UBSan by
 * `make fuzz-api FUZZ_CALLS=N [FUZZ_SEED=S]`; any sanitizer report or crash ends the run.  Checked on the way:
 *   - a failing call returns a known status code and leaves a message (gf_last_error);
 *   - a failing call leaves the state unchanged (a sample of calls is bracketed by state_snapshot.h images):
 *     parameters, gradients, optimizer, generator, step counts, diagnostics;
 *   - a training call that succeeds with the guard on leaves every weight and optimizer value finite;
 *   - at the end, every object destroyed, nothing the library allocated is still live.
 * Documented exceptions to "unchanged": a step the guard refuses keeps its gradients and its record (only
 * weights, optimizer and step counts are compared), and a fit that failed after taking steps keeps them.
 *
 * Adding calls (a new layer kind, model files): write `static void op_x(void)` that picks its handles with
 * pick_net() / pick_layer() ... and its arguments with pick_size() / pick_count() / data(), and wraps each
 * status-returning call in DO(net, rule, expr); then add one line { "x", op_x, weight } to OPS.  Objects it
 * creates go into the pool (pool_add) so later calls use and destroy them. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "state_snapshot.h"

/* ---- randomness (the fuzzer's own; reproducible from the seed) ---- */

static uint64_t rng_state, seed_used;
static uint64_t next_u64(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static uint32_t below(uint32_t n) { return n ? (uint32_t)(next_u64() % n) : 0; }
static bool chance(uint32_t one_in) { return below(one_in) == 0; }

/* ---- the object pool ---- */

#define POOL 6
enum kind { K_NET, K_DIAG, K_LAYER, K_OPT, K_LOSS, K_INIT, K_PEN, K_ACT, K_KINDS };
static void *pool[K_KINDS][POOL];

static void *pool_get(enum kind k)
{
    void *p = pool[k][below(POOL)];
    return p;
}
static bool pool_add(enum kind k, void *h)
{
    for (int i = 0; i < POOL; i++)
        if (!pool[k][i]) {
            pool[k][i] = h;
            return true;
        }
    return false;
}
static void pool_remove(enum kind k, void *h)
{
    for (int i = 0; i < POOL; i++)
        if (pool[k][i] == h)
            pool[k][i] = NULL;
}

/* A handle to pass: usually a live one of the right kind, sometimes NULL, a
 * live handle of another kind, or a block whose first word is no kind. */
static uint32_t junk[16];
static void *hostile(enum kind want)
{
    switch (below(24)) {
    case 0: return NULL;
    case 1: {
        enum kind other = (enum kind)below(K_KINDS);
        void *h = pool_get(other);
        return h ? h : junk;
    }
    case 2: return junk;
    default: return pool_get(want);
    }
}
static gf_net *pick_net(void) { return hostile(K_NET); }
static gf_diag *pick_diag(void) { return hostile(K_DIAG); }
static gf_loss *pick_loss(void) { return hostile(K_LOSS); }
static gf_init *pick_init(void) { return hostile(K_INIT); }
static gf_penalty *pick_pen(void) { return hostile(K_PEN); }
static gf_activation *pick_act(void) { return hostile(K_ACT); }
static gf_optimizer *pick_opt(void) { return hostile(K_OPT); }

static bool live_net(const gf_net *n) { return n && n != (void *)junk && n->magic == GFI_MAGIC_NET; }

/* A layer: free-standing from the pool, or one a live net owns. */
static gf_layer *pick_layer(void)
{
    if (chance(2)) {
        gf_net *n = pool_get(K_NET);
        if (n && gf_net_layer_count(n) > 0)
            return gf_net_layer(n, (int32_t)below((uint32_t)gf_net_layer_count(n)));
    }
    return hostile(K_LAYER);
}

/* ---- hostile numbers ---- */

static int64_t pick_size(void)
{
    /* No size that a machine could allocate but not afford: 2^40 floats fail to allocate, 2^62 overflow. */
    static const int64_t edge[] = {0, -1, 1, 2, 3, 4, 8, INT64_MAX, (int64_t)1 << 40, (int64_t)1 << 62, INT64_MIN};
    if (chance(4))
        return edge[below(sizeof edge / sizeof *edge)];
    return 1 + below(24);
}
static int32_t pick_enum(int32_t n) { return chance(6) ? (int32_t)below(40) - 20 : (int32_t)below((uint32_t)n); }
static double pick_real(void)
{
    static const double edge[] = {0.0, -0.0, -1.0, 1e-300, 1e300, 3.5e38, 1e-40, NAN, INFINITY, -INFINITY, 0.5, 2.0};
    if (chance(3))
        return edge[below(sizeof edge / sizeof *edge)];
    return (double)below(2000) / 1000.0;
}

/* Data: a large zero-padded buffer of mostly ordinary values, sometimes
 * poisoned with NaN, Inf or huge numbers. */
#define DATA_CAP (1 << 20)
static float data_buf[DATA_CAP], out_buf[DATA_CAP];
static float *data(size_t n, bool labels, int64_t classes)
{
    if (n > DATA_CAP)
        n = DATA_CAP;
    for (size_t i = 0; i < n; i++)
        data_buf[i] = labels ? (float)below(classes > 0 && classes < 1000 ? (uint32_t)classes : 3)
                             : (float)((int)below(2001) - 1000) / 500.0f;
    if (n && chance(16)) {
        static const float bad[] = {NAN, INFINITY, -INFINITY, 3e38f, -3e38f, 1e-40f};
        data_buf[below((uint32_t)n)] = bad[below(6)];
    }
    return data_buf;
}

/* The count to claim for a buffer that should hold want values: usually
 * want, sometimes off by one, zero or absurd; never more than DATA_CAP unless
 * it cannot match (want is small), so the library refuses before writing. */
static size_t pick_count(size_t want)
{
    switch (below(20)) {
    case 0: return want + 1;
    case 1: return want ? want - 1 : 1;
    case 2: return 0;
    case 3: return want > DATA_CAP ? want : SIZE_MAX;
    default: return want;
    }
}

/* ---- the checks around one call ---- */

enum rule { R_PLAIN, R_TRAINING, R_FIT };
/* One call in SAMPLE on a live net is bracketed by state images (cheap for
 * these small nets; every call would double the run time). */
#define SAMPLE 2
static uint64_t calls, failures, checked, guarded_ok, by_code[GF_ERR_UNSUPPORTED + 1];
static blob before, after, before_w;
static bool sampled;
static int64_t steps_before;

static void image(const gf_net *net, blob *b, bool weights_only)
{
    b->n = 0;
    if (!live_net(net)) {
        return;
    }
    if (weights_only) {
        put(b, net->params, net->nparams * sizeof(float));
        PUT(b, net->steps);
        snapshot_optimizer(b, net->opt);
        return;
    }
    snapshot_net(b, net);
    gf_diag *d = net->diag;
    snapshot_diag(b, d);
}

static void begin_call(const gf_net *net)
{
    calls++;
    gf_clear_error();
    sampled = live_net(net) && chance(SAMPLE);
    if (sampled) {
        image(net, &before, false);
        image(net, &before_w, true);
        steps_before = net->steps;
    }
}

static bool all_finite(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return false;
    return true;
}

static void die(const char *what, const char *call, int rc)
{
    fprintf(stderr, "fuzz_api: seed %llu, call %llu: %s: %s returned %d (%s): %s\n", (unsigned long long)seed_used,
            (unsigned long long)calls, what, call, rc, gf_strerror(rc), gf_last_error());
    exit(1);
}

static void end_call(const gf_net *net, enum rule rule, int rc, const char *call)
{
    if (rc < 0 || rc > GF_ERR_UNSUPPORTED)
        die("unknown status code", call, rc);
    by_code[rc]++;
    if (rc != GF_OK) {
        failures++;
        if (!gf_last_error()[0])
            die("failed without a message", call, rc);
    }
    if (rc != GF_OK && sampled && live_net(net)) {
        bool stepped = net->steps != steps_before;
        if (rule == R_FIT && stepped)
            return; /* steps taken before the failure stay */
        if (rc == GF_ERR_GUARD) {
            /* The refused step keeps its gradients and record: weights, optimizer and counts must not move. */
            image(net, &after, true);
            checked++;
            if (!blob_equal(&before_w, &after))
                die("a step the guard refused changed weights, optimizer or step count", call, rc);
        } else {
            image(net, &after, false);
            checked++;
            if (!blob_equal(&before, &after)) {
                size_t at = 0;
                while (at < before.n && at < after.n && before.b[at] == after.b[at])
                    at++;
                blob netpart = {0};
                snapshot_net(&netpart, net);
                fprintf(stderr, "fuzz_api: images differ from byte %zu (sizes %zu, %zu; the net's part is %zu bytes)\n", at,
                        before.n, after.n, netpart.n);
                free(netpart.b);
                if (getenv("FUZZ_DEBUG")) /* the bytes that changed, to find the field in state_snapshot.h */
                    for (size_t i = at; i < at + 16 && i < before.n; i++)
                        fprintf(stderr, "  byte %zu: %02x -> %02x\n", i, before.b[i], after.b[i]);
                die("a failed call changed the state", call, rc);
            }
        }
    }
    if (rc == GF_OK && rule != R_PLAIN && live_net(net) && net->diag && net->diag->enabled && net->diag->guard) {
        guarded_ok++;
        if (!all_finite(net->params, net->nparams))
            die("a guarded step left a non-finite weight", call, rc);
        const gf_optimizer *o = net->opt;
        if (o && ((o->m && !all_finite(o->m, o->nparams)) || (o->v && !all_finite(o->v, o->nparams))))
            die("a guarded step left non-finite optimizer state", call, rc);
    }
}

#define DO(net, rule, expr)                                                                                           \
    do {                                                                                                              \
        const gf_net *net_ = (net);                                                                                   \
        begin_call(net_);                                                                                             \
        int rc_ = (expr);                                                                                             \
        end_call(net_, (rule), rc_, #expr);                                                                           \
    } while (0)

/* The net a handle belongs to, for the state check. */
static const gf_net *net_of_layer(const gf_layer *l)
{
    return l && (void *)l != (void *)junk && l->magic == GFI_MAGIC_LAYER ? l->owner : NULL;
}
static const gf_net *net_of_diag(const gf_diag *d)
{
    return d && (void *)d != (void *)junk && d->magic == GFI_MAGIC_DIAG ? d->net : NULL;
}

/* Widths of a live net (0 for anything else). */
static int64_t in_of(gf_net *n) { return live_net(n) ? n->inputs : 0; }
static int64_t out_of(gf_net *n) { return live_net(n) ? gf_net_output_size(n) : 0; }
static int64_t tw_of(gf_net *n) { return live_net(n) ? gf_net_target_size(n) : 0; }
static bool labels_of(gf_net *n) { return live_net(n) && n->loss.kind == GF_LOSS_SOFTMAX_CE_LABELS; }
/* Classes a label may name: the loss's row width (a time step's under GF_LOSS_PARAM_PER_STEP). */
static int64_t classes_of(gf_net *n)
{
    int64_t rows, width = 0;
    if (live_net(n))
        gfi_net_loss_rows(n, 1, &rows, &width);
    return width;
}

static size_t mul(int64_t a, int64_t b)
{
    if (a <= 0 || b <= 0 || a > (1 << 20) || b > (1 << 20))
        return 1;
    return (size_t)a * (size_t)b;
}

/* A batch: mostly small and valid, sometimes hostile. */
static int64_t pick_batch(void) { return chance(12) ? pick_size() : 1 + below(16); }

/* ---- operations ---- */

static void op_net_create(void)
{
    gf_net *n = NULL;
    int64_t in = chance(5) ? pick_size() : 1 + below(8);
    DO(NULL, R_PLAIN, gf_net_create(chance(20) ? NULL : &n, in, next_u64()));
    if (n && !pool_add(K_NET, n))
        gf_net_destroy(n);
}

static void op_net_destroy(void)
{
    gf_net *n = pool_get(K_NET);
    if (!n || !chance(4))
        return;
    pool_remove(K_NET, n);
    gf_net_destroy(n);
}

static void op_add_dense(void)
{
    gf_net *n = pick_net();
    gf_layer *l = NULL;
    int64_t out = chance(6) ? pick_size() : 1 + below(12);
    DO(n, R_PLAIN, gf_net_add_dense(n, out, pick_enum(GF_ACT_GELU + 1), chance(2) ? &l : NULL));
}

static void op_layer_create(void)
{
    gf_layer *l = NULL;
    DO(NULL, R_PLAIN, gf_layer_dense_create(&l, chance(3) ? pick_size() : 1 + below(8), 1 + below(8)));
    if (l && !pool_add(K_LAYER, l))
        gf_layer_destroy(l);
}

static void op_net_add(void)
{
    gf_net *n = pick_net();
    gf_layer *l = hostile(K_LAYER);
    if (chance(3) && live_net(n)) {
        /* A layer that fits, so building succeeds often enough to train. */
        gf_layer *fit = NULL;
        if (gf_layer_dense_create(&fit, gf_net_output_size(n), 1 + below(8)) != GF_OK)
            return;
        if (!pool_add(K_LAYER, fit)) {
            gf_layer_destroy(fit);
            return;
        }
        l = fit;
    }
    DO(n, R_PLAIN, gf_net_add(n, l));
    if (l && (void *)l != (void *)junk && l->magic == GFI_MAGIC_LAYER && l->owner)
        pool_remove(K_LAYER, l); /* the net owns it now */
}

static void op_layer_destroy(void)
{
    gf_layer *l = pool_get(K_LAYER);
    if (!l || !chance(3))
        return;
    pool_remove(K_LAYER, l);
    gf_layer_destroy(l);
}

static void op_layer_config(void)
{
    gf_layer *l = pick_layer();
    const gf_net *n = net_of_layer(l);
    switch (below(6)) {
    case 0: DO(n, R_PLAIN, gf_layer_set_activation(l, pick_act())); break;
    case 1: DO(n, R_PLAIN, gf_layer_set_weight_init(l, pick_init())); break;
    case 2: DO(n, R_PLAIN, gf_layer_set_bias_init(l, pick_init())); break;
    case 3: DO(n, R_PLAIN, gf_layer_set_penalty(l, chance(3) ? NULL : pick_pen())); break;
    default:
        (void)gf_layer_kind(l);
        (void)gf_layer_activation_kind(l);
        (void)gf_layer_input_size(l);
        (void)gf_layer_output_size(l);
        (void)gf_layer_bias_count(l);
    }
}

static void op_layer_copy(void)
{
    gf_layer *l = pick_layer();
    const gf_net *n = net_of_layer(l);
    int64_t nw = gf_layer_weight_count(l), nb = gf_layer_bias_count(l);
    size_t w = nw > 0 ? (size_t)nw : 4, b = nb > 0 ? (size_t)nb : 4;
    switch (below(6)) {
    case 0: DO(n, R_PLAIN, gf_layer_get_weights(l, chance(10) ? NULL : out_buf, pick_count(w))); break;
    case 1: DO(n, R_PLAIN, gf_layer_get_bias(l, out_buf, pick_count(b))); break;
    case 2: DO(n, R_PLAIN, gf_layer_get_weight_grad(l, out_buf, pick_count(w))); break;
    case 3: DO(n, R_PLAIN, gf_layer_get_bias_grad(l, out_buf, pick_count(b))); break;
    case 4: DO(n, R_PLAIN, gf_layer_set_weights(l, chance(10) ? NULL : data(w, false, 0), pick_count(w))); break;
    default: DO(n, R_PLAIN, gf_layer_set_bias(l, data(b, false, 0), pick_count(b)));
    }
}

static void op_small_objects(void)
{
    switch (below(12)) {
    case 0: {
        gf_loss *h = NULL;
        DO(NULL, R_PLAIN, gf_loss_create(&h, pick_enum(GF_LOSS_SOFTMAX_CE_LABELS + 1)));
        if (h && !pool_add(K_LOSS, h))
            gf_loss_destroy(h);
        break;
    }
    case 1: {
        gf_init *h = NULL;
        DO(NULL, R_PLAIN, gf_init_create(&h, pick_enum(GF_INIT_DEFAULT + 1)));
        if (h && !pool_add(K_INIT, h))
            gf_init_destroy(h);
        break;
    }
    case 2: {
        gf_penalty *h = NULL;
        DO(NULL, R_PLAIN, gf_penalty_create(&h, pick_real(), pick_real()));
        if (h && !pool_add(K_PEN, h))
            gf_penalty_destroy(h);
        break;
    }
    case 3: {
        gf_activation *h = NULL;
        DO(NULL, R_PLAIN, gf_activation_create(&h, pick_enum(GF_ACT_GELU + 1)));
        if (h && !pool_add(K_ACT, h))
            gf_activation_destroy(h);
        break;
    }
    case 4: {
        gf_optimizer *h = NULL;
        DO(NULL, R_PLAIN, gf_optimizer_create(&h, pick_enum(GF_OPT_ADAMW + 1), chance(3) ? pick_real() : 0.01));
        if (h && !pool_add(K_OPT, h))
            gf_optimizer_destroy(h);
        break;
    }
    case 5: { /* destroy one small object of any kind */
        enum kind k = (enum kind)(K_OPT + below(5));
        void *h = pool_get(k);
        if (!h)
            break;
        pool_remove(k, h);
        switch (k) {
        case K_OPT: gf_optimizer_destroy(h); break;
        case K_LOSS: gf_loss_destroy(h); break;
        case K_INIT: gf_init_destroy(h); break;
        case K_PEN: gf_penalty_destroy(h); break;
        default: gf_activation_destroy(h);
        }
        break;
    }
    case 6: /* delta, or per-step (0 / 1 half the time, so that sequence nets train with it) */
        DO(NULL, R_PLAIN,
           gf_loss_set(pick_loss(), pick_enum(GF_LOSS_PARAM_PER_STEP + 1), chance(2) ? (double)below(2) : pick_real()));
        break;
    case 7: DO(NULL, R_PLAIN, gf_init_set_range(pick_init(), pick_real(), pick_real())); break;
    case 8: DO(NULL, R_PLAIN, gf_init_set_gain(pick_init(), pick_real())); break;
    case 9: DO(NULL, R_PLAIN, gf_activation_set(pick_act(), pick_enum(2), pick_real())); break;
    case 10: DO(NULL, R_PLAIN, gf_optimizer_set(pick_opt(), pick_enum(GF_OPT_WEIGHT_DECAY + 1), pick_real())); break;
    default: DO(NULL, R_PLAIN, gf_penalty_set_include_bias(pick_pen(), pick_enum(2))); break;
    }
}

static void op_small_math(void)
{
    double v;
    size_t n = below(64);
    switch (below(6)) {
    case 0: DO(NULL, R_PLAIN, gf_activation_apply(pick_act(), data(n, false, 0), out_buf, n)); break;
    case 1: DO(NULL, R_PLAIN, gf_activation_derivative(pick_act(), data(n, false, 0), out_buf, n)); break;
    case 2: {
        int64_t rows = chance(4) ? pick_size() : 1 + below(8), cols = 1 + below(8);
        DO(NULL, R_PLAIN, gf_init_fill(pick_init(), out_buf, pick_count(mul(rows, cols)), rows, cols, next_u64()));
        break;
    }
    case 3: {
        gf_loss *l = pick_loss();
        /* No count argument: the buffers must hold batch x width, so a hostile batch is one the library
         * must refuse (not positive, or overflowing), never a large valid one. */
        static const int64_t bad[] = {0, -1, INT64_MIN, INT64_MAX, (int64_t)1 << 62};
        int64_t b = chance(6) ? bad[below(5)] : 1 + below(16), w = 1 + below(6);
        int64_t tw = gf_loss_target_width(l, w);
        DO(NULL, R_PLAIN,
           gf_loss_compute(l, data(mul(b, w), false, 0), data_buf + DATA_CAP / 2, b, w, &v,
                           chance(2) ? out_buf : NULL));
        (void)tw;
        break;
    }
    case 4: DO(NULL, R_PLAIN, gf_optimizer_reset(pick_opt())); break;
    default:
        (void)gf_init_gain(pick_enum(GF_ACT_GELU + 1), pick_real());
        (void)gf_strerror(pick_enum(20));
        (void)gf_stat_name(pick_enum(40));
        (void)gf_tensor_name(pick_enum(15));
        (void)gf_phase_name(pick_enum(10));
        (void)gf_verdict_name(pick_enum(8));
        (void)gf_activation_name(pick_enum(12));
    }
}

static void op_net_config(void)
{
    gf_net *n = pick_net();
    switch (below(10)) {
    case 0: {
        gf_loss *l = pick_loss();
        if (chance(3)) /* per step: a sequence net's targets then hold a row per time step */
            (void)gf_loss_set(l, GF_LOSS_PARAM_PER_STEP, 1.0);
        DO(n, R_PLAIN, gf_net_set_loss(n, l));
        break;
    }
    case 1: {
        gf_optimizer *o = pick_opt();
        DO(n, R_PLAIN, gf_net_set_optimizer(n, o));
        if (o && (void *)o != (void *)junk && o->magic == GFI_MAGIC_OPT && o->owner)
            pool_remove(K_OPT, o);
        break;
    }
    case 2: DO(n, R_PLAIN, gf_net_set_penalty(n, chance(3) ? NULL : pick_pen())); break;
    case 3: DO(n, R_PLAIN, gf_net_set_clip(n, pick_enum(GF_CLIP_LAYER_NORM + 1), pick_real())); break;
    case 4: DO(n, R_PLAIN, gf_net_set_threads(n, chance(4) ? pick_enum(70) : (int32_t)(1 + below(3)))); break;
    case 5: DO(n, R_PLAIN, gf_net_set_input_grad(n, pick_enum(2))); break;
    case 6: DO(n, R_PLAIN, gf_net_reinit(n, next_u64())); break;
    case 7: {
        char buf[256];
        size_t need;
        DO(n, R_PLAIN, gf_net_describe(n, chance(3) ? NULL : buf, chance(3) ? 0 : sizeof buf, &need));
        break;
    }
    case 8: {
        gf_optimizer *o = live_net(n) ? gf_net_optimizer(n) : NULL;
        if (o)
            DO(n, R_PLAIN, gf_optimizer_set(o, pick_enum(GF_OPT_WEIGHT_DECAY + 1), pick_real()));
        break;
    }
    default:
        (void)gf_net_layer_count(n);
        (void)gf_net_param_count(n);
        (void)gf_net_input_size(n);
        (void)gf_net_threads(n);
        (void)gf_net_steps(n);
        (void)gf_net_input_grad_enabled(n);
        (void)gf_net_last_error(n);
        (void)gf_net_layer(n, pick_enum(4));
    }
}

static void op_inference(void)
{
    gf_net *n = pick_net();
    int64_t b = pick_batch(), in = in_of(n), out = out_of(n);
    size_t nx = mul(b, in), ny = mul(b, out), nt = mul(b, tw_of(n));
    double loss;
    switch (below(3)) {
    case 0: DO(n, R_PLAIN, gf_net_predict(n, data(nx, false, 0), pick_count(nx), b, out_buf, pick_count(ny))); break;
    case 1: DO(n, R_PLAIN, gf_net_forward(n, data(nx, false, 0), pick_count(nx), b, chance(2) ? out_buf : NULL, ny));
        break;
    default: {
        float *x = data(nx, false, 0);
        memcpy(out_buf, x, (nx < DATA_CAP ? nx : DATA_CAP) * sizeof(float));
        DO(n, R_PLAIN,
           gf_net_evaluate(n, out_buf, pick_count(nx), data(nt, labels_of(n), classes_of(n)), pick_count(nt), b, &loss));
    }
    }
}

static void op_backward_step(void)
{
    gf_net *n = pick_net();
    int64_t b = live_net(n) ? n->batch : 1, out = out_of(n);
    size_t nt = mul(b, tw_of(n)), ny = mul(b, out), nx = mul(b, in_of(n));
    double v;
    switch (below(8)) {
    case 0: DO(n, R_PLAIN, gf_net_backward(n, data(nt, labels_of(n), classes_of(n)), pick_count(nt), &v)); break;
    case 1: DO(n, R_PLAIN, gf_net_backward_from(n, data(ny, false, 0), pick_count(ny))); break;
    case 2: DO(n, R_TRAINING, gf_net_step(n)); break;
    case 3: DO(n, R_PLAIN, gf_net_clip_grad_value(n, pick_real())); break;
    case 4: DO(n, R_PLAIN, gf_net_clip_grad_norm(n, pick_real(), &v)); break;
    case 5: DO(n, R_PLAIN, gf_net_clip_grad_layer_norm(n, pick_real())); break;
    case 6: DO(n, R_PLAIN, gf_net_input_grad(n, out_buf, pick_count(nx))); break;
    default: DO(n, R_PLAIN, gf_net_grad_norm(n, &v));
    }
}

static void op_train_step(void)
{
    gf_net *n = pick_net();
    int64_t b = pick_batch();
    size_t nx = mul(b, in_of(n)), nt = mul(b, tw_of(n));
    float *x = data(nx, false, 0);
    memcpy(out_buf, x, (nx < DATA_CAP ? nx : DATA_CAP) * sizeof(float));
    double loss;
    DO(n, R_TRAINING,
       gf_net_train_step(n, out_buf, pick_count(nx), data(nt, labels_of(n), classes_of(n)), pick_count(nt), b,
                         chance(3) ? NULL : &loss));
}

static int stop_early(void *user, int32_t epoch, double loss)
{
    (void)user;
    (void)loss;
    return epoch > 0 && chance(3);
}

static float fit_x[DATA_CAP / 4];
static void op_fit(void)
{
    gf_net *n = pick_net();
    int64_t count = chance(5) ? pick_size() : 1 + below(48);
    size_t nx = mul(count, in_of(n)), nt = mul(count, tw_of(n));
    if (nx > sizeof fit_x / sizeof *fit_x)
        nx = 1;
    float *x = data(nx, false, 0);
    memcpy(fit_x, x, nx * sizeof(float));
    double loss;
    DO(n, R_FIT,
       gf_net_fit(n, fit_x, pick_count(nx), data(nt, labels_of(n), classes_of(n)), pick_count(nt), count, pick_batch(),
                  chance(6) ? pick_enum(4) : (int32_t)(1 + below(3)), chance(2) ? stop_early : NULL, NULL,
                  chance(2) ? &loss : NULL));
}

static void op_diag_lifecycle(void)
{
    switch (below(4)) {
    case 0: {
        gf_diag *d = NULL;
        gf_net *n = pick_net();
        DO(n, R_PLAIN, gf_diag_create(&d, n));
        if (d && !pool_add(K_DIAG, d))
            gf_diag_destroy(d);
        break;
    }
    case 1: {
        gf_diag *d = pool_get(K_DIAG);
        if (d && chance(3)) {
            pool_remove(K_DIAG, d);
            gf_diag_destroy(d);
        }
        break;
    }
    case 2: {
        gf_diag *d = pick_diag();
        DO(net_of_diag(d), R_PLAIN, gf_diag_enable(d, pick_enum(2)));
        break;
    }
    default: {
        gf_diag *d = pick_diag();
        DO(net_of_diag(d), R_PLAIN, gf_diag_reset(d));
    }
    }
}

static void op_diag_settings(void)
{
    gf_diag *d = pick_diag();
    const gf_net *n = net_of_diag(d);
    double v;
    int32_t opt = pick_enum(GF_DIAG_EVERY + 1);
    double value = opt == GF_DIAG_HISTORY && !chance(8) ? (double)(1 + below(100)) : pick_real();
    if (opt == GF_DIAG_GUARD || opt == GF_DIAG_ORIGIN)
        value = chance(4) ? pick_real() : (double)below(2);
    switch (below(4)) {
    case 0: DO(n, R_PLAIN, gf_diag_set_option(d, opt, value)); break;
    case 1: DO(n, R_PLAIN, gf_diag_get_option(d, opt, chance(10) ? NULL : &v)); break;
    case 2: DO(n, R_PLAIN, gf_diag_set_threshold(d, pick_enum(GF_TH_UPDATE_FLOOR + 1), pick_real())); break;
    default: DO(n, R_PLAIN, gf_diag_get_threshold(d, pick_enum(GF_TH_UPDATE_FLOOR + 1), &v));
    }
}

static void op_diag_read(void)
{
    gf_diag *d = pick_diag();
    const gf_net *n = net_of_diag(d);
    int32_t layer = pick_enum(4) - 1;
    double v;
    int64_t a, b, c;
    int32_t f, l, p, t, verdict;
    uint32_t flags;
    char buf[512];
    switch (below(9)) {
    case 0: DO(n, R_PLAIN, gf_diag_value(d, layer, pick_enum(GF_STAT_LOSS + 1), &v)); break;
    case 1: DO(n, R_PLAIN, gf_diag_history(d, layer, pick_enum(GF_STAT_LOSS + 1), pick_enum(8), &v, &a)); break;
    case 2: DO(n, R_PLAIN, gf_diag_nonfinite(d, layer, pick_enum(GF_TENSOR_OPTIMIZER_STATE + 1), &a, &b, &c)); break;
    case 3: DO(n, R_PLAIN, gf_diag_origin(d, &f, &a, &l, &p, &t)); break;
    case 4: DO(n, R_PLAIN, gf_diag_verdict(d, layer, &verdict)); break;
    case 5: DO(n, R_PLAIN, gf_diag_verdict_flags(d, layer, &flags)); break;
    case 6: DO(n, R_PLAIN, gf_diag_verdict_reason(d, layer, buf, chance(4) ? below(8) : sizeof buf, NULL)); break;
    case 7: DO(n, R_PLAIN, gf_diag_verdict_remedy(d, layer, chance(8) ? NULL : buf, sizeof buf, NULL)); break;
    default:
        (void)gf_diag_layer_count(d);
        (void)gf_diag_steps(d);
        (void)gf_diag_history_length(d);
    }
}

static char report_path[96];
static void op_diag_probe_report(void)
{
    gf_diag *d = pick_diag();
    const gf_net *n = net_of_diag(d);
    static char buf[1 << 16];
    static const char *bad_paths[] = {"", "/nonexistent-dir/x/report.txt", "/tmp", "/proc/version"};
    switch (below(3)) {
    case 0: DO(n, R_PLAIN, gf_diag_probe(d, chance(5) ? pick_size() : 1 + below(32), next_u64())); break;
    case 1: {
        size_t cap = chance(3) ? below(64) : sizeof buf;
        DO(n, R_PLAIN, gf_diag_report(d, pick_enum(GF_REPORT_SVG + 1), chance(10) ? NULL : buf, cap, NULL));
        break;
    }
    default:
        DO(n, R_PLAIN,
           gf_diag_report_file(d, pick_enum(GF_REPORT_SVG + 1), chance(4) ? bad_paths[below(4)] : report_path));
    }
}

/* Shaped nets and the layer kinds: nets over sequences, signals and images, layers made by kind and option,
 * flatten, shapes and named parameter blocks, the per-time-step series. */
static void op_shaped(void)
{
    int64_t dims[4];
    int32_t kind, rank;
    for (int i = 0; i < 4; i++)
        dims[i] = chance(8) ? pick_size() : 1 + below(4);
    switch (below(8)) {
    case 0: {
        gf_net *n = NULL;
        int32_t r = chance(6) ? pick_enum(6) : 1 + (int32_t)below(3);
        DO(NULL, R_PLAIN, gf_net_create_shaped(&n, pick_enum(GF_SHAPE_IMAGE + 1), chance(20) ? NULL : dims, r,
                                               next_u64()));
        if (n && !pool_add(K_NET, n))
            gf_net_destroy(n);
        break;
    }
    case 1: {
        gf_layer *l = NULL;
        DO(NULL, R_PLAIN, gf_layer_create(&l, pick_enum(GF_LAYER_GLOBAL_AVGPOOL + 1)));
        if (l) {
            for (int32_t i = 0; i < gf_layer_option_count(l); i++)
                (void)gf_layer_set_option(l, gf_layer_option_key(l, i), chance(4) ? pick_real() : 1 + below(3));
            if (!pool_add(K_LAYER, l))
                gf_layer_destroy(l);
        }
        break;
    }
    case 2: { /* flatten, convolution and pooling with small, sometimes hostile, sizes */
        gf_net *n = pick_net();
        int64_t k = chance(8) ? pick_size() : 1 + below(3), st = chance(8) ? pick_size() : below(3);
        int64_t pad = chance(8) ? pick_size() : below(2), oc = chance(8) ? pick_size() : 1 + below(4);
        int32_t act = pick_enum(GF_ACT_GELU + 1);
        switch (below(8)) {
        case 0: DO(n, R_PLAIN, gf_net_add_flatten(n, NULL)); break;
        case 1: DO(n, R_PLAIN, gf_net_add_conv2d(n, oc, k, st, pad, act, NULL)); break;
        case 2: DO(n, R_PLAIN, gf_net_add_conv1d(n, oc, k, st, pad, act, NULL)); break;
        case 3: DO(n, R_PLAIN, gf_net_add_maxpool2d(n, k, st, NULL)); break;
        case 4: DO(n, R_PLAIN, gf_net_add_avgpool2d(n, k, st, NULL)); break;
        case 5: DO(n, R_PLAIN, gf_net_add_maxpool1d(n, k, st, NULL)); break;
        case 6: DO(n, R_PLAIN, gf_net_add_avgpool1d(n, k, st, NULL)); break;
        default: DO(n, R_PLAIN, gf_net_add_global_avgpool(n, NULL));
        }
        break;
    }
    case 3: {
        gf_layer *l = pick_layer();
        double v;
        DO(net_of_layer(l), R_PLAIN, gf_layer_set_option(l, pick_enum(GF_LAYER_GROUPS + 1), pick_real()));
        DO(net_of_layer(l), R_PLAIN, gf_layer_get_option(l, pick_enum(GF_LAYER_GROUPS + 1), chance(10) ? NULL : &v));
        (void)gf_layer_option_key(l, pick_enum(3));
        (void)gf_layer_kind_name(pick_enum(GF_LAYER_GLOBAL_AVGPOOL + 1));
        break;
    }
    case 4: {
        gf_layer *l = pick_layer();
        int32_t cap = chance(4) ? pick_enum(4) : 4;
        DO(net_of_layer(l), R_PLAIN,
           gf_layer_input_shape(l, chance(10) ? NULL : &kind, cap > 0 ? dims : NULL, cap > 0 ? cap : 0, &rank));
        DO(net_of_layer(l), R_PLAIN, gf_layer_output_shape(l, &kind, dims, 4, chance(10) ? NULL : &rank));
        gf_net *n = pick_net();
        DO(n, R_PLAIN, gf_net_input_shape(n, &kind, dims, chance(3) ? (int32_t)below(4) : 4, &rank));
        DO(n, R_PLAIN, gf_net_output_shape(n, &kind, dims, 4, &rank));
        break;
    }
    case 5: {
        gf_layer *l = pick_layer();
        const gf_net *n = net_of_layer(l);
        int32_t nb = gf_layer_param_block_count(l), b = chance(4) ? pick_enum(4) : (nb > 0 ? (int32_t)below(nb) : 0);
        int64_t size = gf_layer_param_block_size(l, b);
        size_t want = size > 0 ? (size_t)size : 4;
        int32_t found;
        (void)gf_layer_param_block_name(l, b);
        DO(n, R_PLAIN, gf_layer_param_block_find(l, chance(2) ? "weight" : chance(2) ? "bias" : "nope", &found));
        DO(n, R_PLAIN, gf_layer_param_block_dims(l, b, dims, chance(4) ? (int32_t)below(3) : 4, &rank));
        switch (below(3)) {
        case 0: DO(n, R_PLAIN, gf_layer_get_param(l, b, out_buf, pick_count(want))); break;
        case 1: DO(n, R_PLAIN, gf_layer_get_param_grad(l, b, out_buf, pick_count(want))); break;
        default: DO(n, R_PLAIN, gf_layer_set_param(l, b, data(want, false, 0), pick_count(want)));
        }
        break;
    }
    default: {
        gf_diag *d = pick_diag();
        double v[64];
        int64_t len;
        int32_t layer = pick_enum(4) - 1;
        DO(net_of_diag(d), R_PLAIN, gf_diag_series_length(d, layer, pick_enum(1), chance(10) ? NULL : &len));
        DO(net_of_diag(d), R_PLAIN, gf_diag_series(d, layer, pick_enum(1), v, chance(3) ? below(4) : 64, &len));
    }
    }
}

/* The training loop: metrics, schedules, gf_net_fit_v2 with hostile options, batched evaluation, records. */
static void op_fit_v2(void)
{
    gf_net *n = pick_net();
    switch (below(5)) {
    case 0:
        DO(n, R_PLAIN, gf_net_add_metric(n, pick_enum(GF_METRIC_BINARY_ACCURACY + 1), chance(2) ? NAN : pick_real()));
        break;
    case 1: DO(n, R_PLAIN, gf_net_clear_metrics(n)); break;
    case 2: {
        int64_t count = chance(6) ? pick_size() : 1 + below(32), b = chance(4) ? pick_size() : (int64_t)below(9);
        size_t nx = mul(count, in_of(n)), nt = mul(count, tw_of(n));
        if (nx > sizeof fit_x / sizeof *fit_x)
            nx = 1;
        memcpy(fit_x, data(nx, false, 0), nx * sizeof(float));
        double loss, values[GF_MAX_METRICS];
        DO(n, R_PLAIN,
           gf_net_evaluate_v2(n, fit_x, pick_count(nx), data(nt, labels_of(n), classes_of(n)), pick_count(nt), count, b,
                              chance(10) ? NULL : &loss, values, chance(4) ? below(3) : GF_MAX_METRICS));
        break;
    }
    case 3: {
        gf_epoch_record rec = {.size = chance(6) ? below(16) : sizeof rec};
        double v;
        DO(n, R_PLAIN, gf_net_epoch_record(n, pick_enum(4), &rec));
        DO(n, R_PLAIN, gf_net_epoch_metric(n, pick_enum(3), pick_enum(3), pick_enum(2), &v));
        (void)gf_net_epoch_count(n);
        break;
    }
    default: {
        gf_fit *fit = NULL;
        gf_schedule *sched = NULL;
        if (gf_fit_create(&fit) != GF_OK)
            break;
        for (int k = 0; k < 3; k++)
            (void)gf_fit_set(fit, pick_enum(GF_FIT_SHUFFLE + 1), chance(3) ? pick_real() : (double)below(4));
        (void)gf_fit_set(fit, GF_FIT_PROGRESS, 0);
        if (chance(3) && gf_schedule_create(&sched, pick_enum(GF_SCHED_PLATEAU + 1), 0.01) == GF_OK) {
            (void)gf_schedule_set(sched, pick_enum(GF_SCHED_PER_STEP + 1), pick_real());
            (void)gf_fit_set_schedule(fit, sched);
        }
        int64_t count = chance(6) ? pick_size() : 1 + below(32);
        size_t nx = mul(count, in_of(n)), nt = mul(count, tw_of(n));
        if (nx > sizeof fit_x / sizeof *fit_x)
            nx = 1;
        memcpy(fit_x, data(nx, false, 0), nx * sizeof(float));
        DO(n, R_FIT,
           gf_net_fit_v2(n, fit_x, pick_count(nx), data(nt, labels_of(n), classes_of(n)), pick_count(nt), count,
                         chance(5) ? NULL : fit));
        gf_schedule_destroy(sched);
        gf_fit_destroy(fit);
    }
    }
}

/* Model files: saves to hostile buffers and paths, loads of saved, corrupted and random bytes, the fields. */
static unsigned char model_buf[1 << 16];
static size_t model_len;
static void op_model(void)
{
    gf_net *n = pick_net();
    static const char *bad_paths[] = {"", "/nonexistent-dir/m.gfm", "/tmp", "/proc/version"};
    switch (below(5)) {
    case 0: {
        size_t need = 0, cap = chance(4) ? below(64) : sizeof model_buf;
        uint32_t flags = chance(6) ? (uint32_t)next_u64() : (uint32_t)below(2);
        int rc;
        DO(n, R_PLAIN, rc = gf_net_save_buffer(n, flags, chance(10) ? NULL : model_buf, cap, &need));
        if (rc == GF_OK && cap >= need)
            model_len = need;
        break;
    }
    case 1:
        DO(n, R_PLAIN, gf_net_save(n, chance(4) ? bad_paths[below(4)] : report_path, (uint32_t)below(2)));
        break;
    case 2: { /* a saved model, perhaps with a few bytes changed, perhaps cut short */
        gf_net *loaded = NULL;
        size_t len = model_len;
        static unsigned char copy[sizeof model_buf];
        memcpy(copy, model_buf, len);
        for (int k = chance(2) ? 0 : 1 + (int)below(4); k > 0 && len; k--)
            copy[below((uint32_t)len)] ^= (unsigned char)(1 + below(255));
        if (chance(4) && len)
            len = below((uint32_t)len);
        DO(NULL, R_PLAIN, gf_net_load_buffer(&loaded, chance(20) ? NULL : copy, len));
        if (loaded && !pool_add(K_NET, loaded))
            gf_net_destroy(loaded);
        break;
    }
    case 3: {
        gf_net *loaded = NULL;
        DO(NULL, R_PLAIN, gf_net_load(&loaded, chance(3) ? bad_paths[below(4)] : report_path));
        if (loaded && !pool_add(K_NET, loaded))
            gf_net_destroy(loaded);
        break;
    }
    default: {
        int64_t v;
        DO(NULL, R_PLAIN, gf_model_info(model_buf, chance(4) ? below(64) : model_len, pick_enum(GF_MODEL_INPUTS + 1),
                                        chance(10) ? NULL : &v));
    }
    }
}

/* Recurrent layers and their state: RNN, LSTM, GRU with hostile sizes, initial states, lengths, final states. */
static void op_recurrent(void)
{
    gf_net *n = pick_net();
    gf_layer *l = pick_layer();
    const gf_net *ln = net_of_layer(l);
    int64_t h = chance(8) ? pick_size() : 1 + below(5), b = chance(6) ? pick_size() : 1 + below(4);
    int64_t ss = gf_layer_state_size(l);
    size_t want = mul(b, ss > 0 ? ss : 1);
    int64_t lengths[8];
    for (int i = 0; i < 8; i++)
        lengths[i] = chance(8) ? pick_size() : 1 + below(4);
    switch (below(7)) {
    case 0: DO(n, R_PLAIN, gf_net_add_rnn(n, h, pick_enum(GF_ACT_GELU + 1), pick_enum(2), NULL)); break;
    case 1: DO(n, R_PLAIN, gf_net_add_lstm(n, h, pick_enum(2), NULL)); break;
    case 2: DO(n, R_PLAIN, gf_net_add_gru(n, h, pick_enum(2), NULL)); break;
    case 3:
        DO(ln, R_PLAIN, gf_layer_set_initial_state(l, chance(6) ? NULL : data(want, false, 0), pick_count(want),
                                                   chance(6) ? 0 : b));
        break;
    case 4: DO(ln, R_PLAIN, gf_layer_set_lengths(l, chance(6) ? NULL : lengths, chance(6) ? 0 : (b > 8 ? 8 : b))); break;
    case 5: DO(ln, R_PLAIN, gf_layer_final_state(l, out_buf, pick_count(mul(gf_layer_state_batch(l), ss)))); break;
    default: DO(ln, R_PLAIN, gf_layer_initial_state_grad(l, out_buf, pick_count(mul(gf_layer_state_batch(l), ss))));
    }
}

typedef struct {
    const char *name;
    void (*run)(void);
    uint32_t weight;
} op;

static const op OPS[] = {
    {"net_create", op_net_create, 3},       {"net_destroy", op_net_destroy, 1},
    {"add_dense", op_add_dense, 4},         {"layer_create", op_layer_create, 2},
    {"net_add", op_net_add, 3},             {"layer_destroy", op_layer_destroy, 1},
    {"layer_config", op_layer_config, 3},   {"layer_copy", op_layer_copy, 4},
    {"small_objects", op_small_objects, 4}, {"small_math", op_small_math, 3},
    {"net_config", op_net_config, 5},       {"inference", op_inference, 5},
    {"backward_step", op_backward_step, 6}, {"train_step", op_train_step, 10},
    {"fit", op_fit, 2},                     {"diag_lifecycle", op_diag_lifecycle, 2},
    {"diag_settings", op_diag_settings, 3}, {"diag_read", op_diag_read, 4},
    {"diag_probe_report", op_diag_probe_report, 2}, {"shaped", op_shaped, 4},
    {"fit_v2", op_fit_v2, 3},                {"model", op_model, 3},
    {"recurrent", op_recurrent, 4},
};

static const op *pick_op(void)
{
    uint32_t total = 0;
    for (size_t i = 0; i < sizeof OPS / sizeof *OPS; i++)
        total += OPS[i].weight;
    uint32_t r = below(total);
    for (size_t i = 0;; i++) {
        if (r < OPS[i].weight)
            return &OPS[i];
        r -= OPS[i].weight;
    }
}

static void destroy_everything(void)
{
    for (int i = 0; i < POOL; i++) {
        gf_diag_destroy(pool[K_DIAG][i]);
        gf_net_destroy(pool[K_NET][i]);
        gf_layer_destroy(pool[K_LAYER][i]);
        gf_optimizer_destroy(pool[K_OPT][i]);
        gf_loss_destroy(pool[K_LOSS][i]);
        gf_init_destroy(pool[K_INIT][i]);
        gf_penalty_destroy(pool[K_PEN][i]);
        gf_activation_destroy(pool[K_ACT][i]);
    }
    memset(pool, 0, sizeof pool);
}

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 20000;
    uint64_t seed = argc > 2 ? strtoull(argv[2], NULL, 10) : 1;
    rng_state = seed_used = seed;
    snprintf(report_path, sizeof report_path, "/tmp/gf_fuzz_api_%ld.out", (long)getpid());
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++)
        junk[i] = 0x5a5a5a5au;
    while (calls < n) {
        pick_op()->run();
        if (chance(20000)) /* start over now and then: fresh nets, fresh sizes */
            destroy_everything();
    }
    destroy_everything();
    remove(report_path);
    free(before.b);
    free(before_w.b);
    free(after.b);
    if (gf_live_allocations() != 0) {
        fprintf(stderr, "fuzz_api: %lld library allocations live after destroying everything\n",
                (long long)gf_live_allocations());
        return 1;
    }
    printf("fuzz_api: %llu calls (seed %llu), %llu failed as expected, %llu failures checked unchanged, %llu guarded "
           "steps checked finite\n",
           (unsigned long long)calls, (unsigned long long)seed, (unsigned long long)failures,
           (unsigned long long)checked, (unsigned long long)guarded_ok);
    printf("fuzz_api: by status:");
    for (int c = 0; c <= GF_ERR_UNSUPPORTED; c++)
        printf(" %d:%llu", c, (unsigned long long)by_code[c]);
    printf("\n");
    return 0;
}
