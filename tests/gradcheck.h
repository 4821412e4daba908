/*
 * gradcheck.h — a layer-kind-agnostic gradient check for cmocka suites: every named parameter
 * block of every layer and the input gradient of a net, against central differences of the
 * loss (gf_net_evaluate, in double) with step GC_STEP on the float net; the norm-wise relative
 * error per block must stay under GC_TOL (denominator floored at 1e-3).  Include after cmocka.h
 * and gradflow.h.  Used by test_shaped_nets.c; new layer kinds check themselves with it.
 */
#ifndef GF_TESTS_GRADCHECK_H
#define GF_TESTS_GRADCHECK_H

#include <math.h>
#include <string.h>

#ifndef GC_TOL
#define GC_TOL 1e-2 /* norm-wise relative error per block */
#endif
#ifndef GC_STEP
#define GC_STEP 1e-2 /* float32 forward noise needs a large step */
#endif
#ifndef GC_MAXN
#define GC_MAXN 4096 /* largest block or input checked */
#endif

static uint64_t gc_lcg = 99;
/* Uniform in [-1, 1), from a fixed sequence. */
static float gc_draw(void)
{
    gc_lcg = gc_lcg * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((gc_lcg >> 40) & 0xffffff) / 16777216.0f * 2.0f - 1.0f; /* [-1, 1) */
}

static double gc_rel_err(const double *a, const double *b, size_t n)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        d += (a[i] - b[i]) * (a[i] - b[i]);
        s += b[i] * b[i];
    }
    return sqrt(d) / fmax(sqrt(s), 1e-3);
}

static double gc_loss_at(gf_net *net, const float *x, size_t xn, const float *t, size_t tn, int64_t batch)
{
    double v;
    assert_int_equal(gf_net_evaluate(net, x, xn, t, tn, batch, &v), GF_OK);
    return v;
}

/* Every parameter block of every layer, then the input, against central
 * differences of gf_net_evaluate's loss.  The net must have the input
 * gradient on (gf_net_set_input_grad(net, 1)) and a loss set; x, t are one
 * batch.  Keep kinks (ReLU at 0, max-pool ties) away from the data. */
static void gc_check_net(gf_net *net, const float *x, size_t xn, const float *t, size_t tn, int64_t batch)
{
    assert_int_equal(gf_net_forward(net, x, xn, batch, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward(net, t, tn, NULL), GF_OK);
    static float g[GC_MAXN], p[GC_MAXN], gx[GC_MAXN];
    static double an[GC_MAXN], nu[GC_MAXN];
    assert_true(xn <= GC_MAXN);
    assert_int_equal(gf_net_input_grad(net, gx, xn), GF_OK);
    int32_t L = gf_net_layer_count(net);
    for (int32_t i = 0; i < L; i++) {
        gf_layer *l = gf_net_layer(net, i);
        for (int32_t k = 0; k < gf_layer_param_block_count(l); k++) {
            size_t n = (size_t)gf_layer_param_block_size(l, k);
            assert_true(n <= GC_MAXN);
            assert_int_equal(gf_layer_get_param_grad(l, k, g, n), GF_OK);
            assert_int_equal(gf_layer_get_param(l, k, p, n), GF_OK);
            for (size_t j = 0; j < n; j++) {
                float keep = p[j];
                p[j] = keep + (float)GC_STEP;
                assert_int_equal(gf_layer_set_param(l, k, p, n), GF_OK);
                double lp = gc_loss_at(net, x, xn, t, tn, batch);
                p[j] = keep - (float)GC_STEP;
                assert_int_equal(gf_layer_set_param(l, k, p, n), GF_OK);
                double lm = gc_loss_at(net, x, xn, t, tn, batch);
                p[j] = keep;
                assert_int_equal(gf_layer_set_param(l, k, p, n), GF_OK);
                nu[j] = (lp - lm) / (2 * GC_STEP);
                an[j] = g[j];
            }
            double e = gc_rel_err(an, nu, n);
            if (e > GC_TOL)
                fail_msg("layer %d block %s: relative error %g", (int)i, gf_layer_param_block_name(l, k), e);
        }
    }
    static float xx[GC_MAXN];
    memcpy(xx, x, xn * sizeof(float));
    for (size_t j = 0; j < xn; j++) {
        xx[j] = x[j] + (float)GC_STEP;
        double lp = gc_loss_at(net, xx, xn, t, tn, batch);
        xx[j] = x[j] - (float)GC_STEP;
        double lm = gc_loss_at(net, xx, xn, t, tn, batch);
        xx[j] = x[j];
        nu[j] = (lp - lm) / (2 * GC_STEP);
        an[j] = gx[j];
    }
    double e = gc_rel_err(an, nu, xn);
    if (e > GC_TOL)
        fail_msg("input: relative error %g", e);
}

/* n values from gc_draw. */
static void gc_fill(float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        v[i] = gc_draw();
}

#endif
