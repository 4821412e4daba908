/* test_gradcheck.c — every activation x loss x penalty through a dense net, against central differences.
 *
 * Net: 3 -> 4 (act) -> 4 (act) -> 3 (identity), batch 2.  For each combination the analytic
 * gradients of weights, biases and inputs are compared with central differences of the loss
 * (computed in double from the float net) with step 1e-2 (float32 forward noise needs a large step).
 * Tolerance: norm-wise relative error below 1e-2 per tensor (denominator floored at 1e-3).
 * Kinks are avoided: every weight is drawn with |w| in [0.2, 0.8] (L1's kink is at 0), and ReLU-family
 * and SELU/ELU inputs are redrawn while a pre-activation lies within 0.05 of 0. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "gradflow.h"

#define TOL 1e-2
#define STEP 1e-2
#define BATCH 2

typedef struct {
    int32_t act, loss;
    double l1, l2;
    int32_t include_bias, per_layer;
} combo;

static uint64_t lcg = 12345;
static float draw(void)
{
    lcg = lcg * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((lcg >> 40) & 0xffffff) / 16777216.0f; /* [0, 1) */
}

static float away_from_zero(void) { return (draw() < 0.5f ? -1.0f : 1.0f) * (0.2f + 0.6f * draw()); }

static gf_net *build(const combo *c)
{
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 3, 5), GF_OK);
    assert_int_equal(gf_net_set_input_grad(net, 1), GF_OK); /* check_inputs checks it too */
    const int64_t widths[3] = {4, 4, 3};
    for (int i = 0; i < 3; i++) {
        gf_layer *l;
        assert_int_equal(gf_net_add_dense(net, widths[i], i < 2 ? c->act : GF_ACT_IDENTITY, &l), GF_OK);
        float w[16], b[4];
        size_t nw = (size_t)gf_layer_weight_count(l), nb = (size_t)gf_layer_bias_count(l);
        for (size_t k = 0; k < nw; k++)
            w[k] = away_from_zero();
        for (size_t k = 0; k < nb; k++)
            b[k] = away_from_zero() * 0.5f;
        assert_int_equal(gf_layer_set_weights(l, w, nw), GF_OK);
        assert_int_equal(gf_layer_set_bias(l, b, nb), GF_OK);
    }
    gf_loss *loss;
    assert_int_equal(gf_loss_create(&loss, c->loss), GF_OK);
    if (c->loss == GF_LOSS_HUBER)
        assert_int_equal(gf_loss_set(loss, GF_LOSS_PARAM_DELTA, 0.7), GF_OK);
    assert_int_equal(gf_net_set_loss(net, loss), GF_OK);
    gf_loss_destroy(loss);
    if (c->l1 > 0 || c->l2 > 0) {
        gf_penalty *p;
        assert_int_equal(gf_penalty_create(&p, c->l1, c->l2), GF_OK);
        assert_int_equal(gf_penalty_set_include_bias(p, c->include_bias), GF_OK);
        if (c->per_layer)
            assert_int_equal(gf_layer_set_penalty(gf_net_layer(net, 1), p), GF_OK);
        else
            assert_int_equal(gf_net_set_penalty(net, p), GF_OK);
        gf_penalty_destroy(p);
    }
    return net;
}

/* Regression targets sit 0.2..0.8 away from the prediction, clear of MAE's kink. */
static void make_targets(gf_net *net, const float *x, int32_t loss, float *t)
{
    float y[BATCH * 3];
    assert_int_equal(gf_net_predict(net, x, BATCH * 3, BATCH, y, BATCH * 3), GF_OK);
    for (int i = 0; i < BATCH * 3; i++)
        t[i] = y[i] + away_from_zero();
    if (loss == GF_LOSS_BCE_LOGITS)
        for (int i = 0; i < BATCH * 3; i++)
            t[i] = 0.1f + 0.8f * draw();
    if (loss == GF_LOSS_SOFTMAX_CE)
        for (int r = 0; r < BATCH; r++) {
            float a = draw(), b = draw() * (1 - a);
            t[r * 3] = a, t[r * 3 + 1] = b, t[r * 3 + 2] = 1 - a - b;
        }
    if (loss == GF_LOSS_SOFTMAX_CE_LABELS)
        for (int r = 0; r < BATCH; r++)
            t[r] = (float)(r % 3);
}

static double loss_at(gf_net *net, const float *x, const float *t, size_t tn)
{
    double v;
    assert_int_equal(gf_net_evaluate(net, x, BATCH * 3, t, tn, BATCH, &v), GF_OK);
    return v;
}

/* ||a - b|| / max(sqrt(||a||^2 + ||b||^2), FLOOR): a gradient that is ~0 (e.g. MAE signs
 * cancelling) is compared absolutely, since float noise in the loss is ~1e-5 per difference. */
#define FLOOR 1e-3
static double rel_err(const double *a, const double *b, size_t n)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        d += (a[i] - b[i]) * (a[i] - b[i]);
        s += a[i] * a[i] + b[i] * b[i];
    }
    return sqrt(d) / fmax(sqrt(s), FLOOR);
}

/* Is any pre-activation of the hidden layers within margin of a ReLU kink? */
static bool near_kink(gf_net *net, const float *x, int32_t act_kind)
{
    /* Pre-activations of layer i = identity-activated copy of the net truncated there:
     * recompute by hand from the weights. */
    float in[BATCH * 4], out[BATCH * 4];
    memcpy(in, x, sizeof(float) * BATCH * 3);
    int64_t width = 3;
    for (int32_t i = 0; i < 2; i++) {
        gf_layer *l = gf_net_layer(net, i);
        float w[16], b[4];
        assert_int_equal(gf_layer_get_weights(l, w, 4 * (size_t)width), GF_OK);
        assert_int_equal(gf_layer_get_bias(l, b, 4), GF_OK);
        for (int r = 0; r < BATCH; r++)
            for (int j = 0; j < 4; j++) {
                double z = b[j];
                for (int k = 0; k < width; k++)
                    z += (double)w[j * width + k] * in[r * width + k];
                if (fabs(z) < 0.05)
                    return true;
                out[r * 4 + j] = (float)z;
            }
        gf_activation *act;
        assert_int_equal(gf_activation_create(&act, act_kind), GF_OK);
        assert_int_equal(gf_activation_apply(act, out, out, BATCH * 4), GF_OK);
        gf_activation_destroy(act);
        memcpy(in, out, sizeof out);
        width = 4;
    }
    return false;
}

/* Checks one tensor: get reads analytic grads, set/get access the values to perturb. */
static void check_params(gf_net *net, gf_layer *l, bool bias, const float *x, const float *t, size_t tn,
                         const char *what)
{
    size_t n = (size_t)(bias ? gf_layer_bias_count(l) : gf_layer_weight_count(l));
    float v[16], g[16];
    double num[16], ana[16];
    assert_int_equal((bias ? gf_layer_get_bias : gf_layer_get_weights)(l, v, n), GF_OK);
    assert_int_equal((bias ? gf_layer_get_bias_grad : gf_layer_get_weight_grad)(l, g, n), GF_OK);
    for (size_t i = 0; i < n; i++) {
        float keep = v[i];
        v[i] = keep + (float)STEP;
        assert_int_equal((bias ? gf_layer_set_bias : gf_layer_set_weights)(l, v, n), GF_OK);
        double up = loss_at(net, x, t, tn);
        v[i] = keep - (float)STEP;
        assert_int_equal((bias ? gf_layer_set_bias : gf_layer_set_weights)(l, v, n), GF_OK);
        double down = loss_at(net, x, t, tn);
        v[i] = keep;
        assert_int_equal((bias ? gf_layer_set_bias : gf_layer_set_weights)(l, v, n), GF_OK);
        num[i] = (up - down) / (2 * STEP);
        ana[i] = g[i];
    }
    double e = rel_err(num, ana, n);
    if (!(e < TOL))
        fail_msg("%s: relative error %g exceeds %g", what, e, TOL);
}

static void check_inputs(gf_net *net, const float *x0, const float *t, size_t tn, const char *what)
{
    float x[BATCH * 3], g[BATCH * 3];
    double num[BATCH * 3], ana[BATCH * 3];
    memcpy(x, x0, sizeof x);
    assert_int_equal(gf_net_input_grad(net, g, BATCH * 3), GF_OK);
    for (int i = 0; i < BATCH * 3; i++) {
        float keep = x[i];
        x[i] = keep + (float)STEP;
        double up = loss_at(net, x, t, tn);
        x[i] = keep - (float)STEP;
        double down = loss_at(net, x, t, tn);
        x[i] = keep;
        num[i] = (up - down) / (2 * STEP);
        ana[i] = g[i];
    }
    double e = rel_err(num, ana, BATCH * 3);
    if (!(e < TOL))
        fail_msg("%s: input relative error %g exceeds %g", what, e, TOL);
}

static void check_combo(const combo *c)
{
    char what[160];
    snprintf(what, sizeof what, "%s / loss %d / l1 %g l2 %g bias %d layer %d", gf_activation_name(c->act),
             (int)c->loss, c->l1, c->l2, (int)c->include_bias, (int)c->per_layer);
    gf_net *net = build(c);
    float x[BATCH * 3], t[BATCH * 3];
    /* Activations whose derivative jumps at 0. */
    bool kinked = c->act == GF_ACT_RELU || c->act == GF_ACT_LEAKY_RELU || c->act == GF_ACT_SELU || c->act == GF_ACT_ELU;
    for (int tries = 0;; tries++) {
        for (int i = 0; i < BATCH * 3; i++)
            x[i] = away_from_zero() * 1.5f;
        if (!kinked || !near_kink(net, x, c->act))
            break;
        assert_true(tries < 100);
    }
    make_targets(net, x, c->loss, t);
    size_t tn = c->loss == GF_LOSS_SOFTMAX_CE_LABELS ? BATCH : BATCH * 3;
    assert_int_equal(gf_net_forward(net, x, BATCH * 3, BATCH, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward(net, t, tn, NULL), GF_OK);
    /* Snapshot gradients before the probes (evaluate does not touch them, but be explicit). */
    for (int32_t i = 0; i < 3; i++) {
        char w[200];
        snprintf(w, sizeof w, "%s: layer %d weights", what, (int)i);
        check_params(net, gf_net_layer(net, i), false, x, t, tn, w);
        snprintf(w, sizeof w, "%s: layer %d biases", what, (int)i);
        check_params(net, gf_net_layer(net, i), true, x, t, tn, w);
    }
    /* The input gradient belongs to the last backward: redo it after the probes. */
    assert_int_equal(gf_net_forward(net, x, BATCH * 3, BATCH, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward(net, t, tn, NULL), GF_OK);
    check_inputs(net, x, t, tn, what);
    gf_net_destroy(net);
}

static void check_activation(int32_t act)
{
    static const double pens[][4] = {
        /* l1, l2, include_bias, per_layer */
        {0, 0, 0, 0}, {0.01, 0, 0, 0}, {0, 0.1, 0, 0}, {0.01, 0.1, 1, 0}, {0.02, 0.05, 0, 1},
    };
    for (int32_t loss = GF_LOSS_MSE; loss <= GF_LOSS_SOFTMAX_CE_LABELS; loss++)
        for (size_t p = 0; p < sizeof pens / sizeof *pens; p++) {
            combo c = {act, loss, pens[p][0], pens[p][1], (int32_t)pens[p][2], (int32_t)pens[p][3]};
            check_combo(&c);
        }
}

#define ACT_TEST(name, kind) \
    static void test_gradients_match_finite_differences_with_##name(void **state) \
    {                                                                             \
        (void)state;                                                              \
        check_activation(kind);                                                   \
    }
ACT_TEST(identity, GF_ACT_IDENTITY)
ACT_TEST(sigmoid, GF_ACT_SIGMOID)
ACT_TEST(tanh, GF_ACT_TANH)
ACT_TEST(relu, GF_ACT_RELU)
ACT_TEST(leaky_relu, GF_ACT_LEAKY_RELU)
ACT_TEST(elu, GF_ACT_ELU)
ACT_TEST(selu, GF_ACT_SELU)
ACT_TEST(softplus, GF_ACT_SOFTPLUS)
ACT_TEST(gelu, GF_ACT_GELU)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients_match_finite_differences_with_identity),
        cmocka_unit_test(test_gradients_match_finite_differences_with_sigmoid),
        cmocka_unit_test(test_gradients_match_finite_differences_with_tanh),
        cmocka_unit_test(test_gradients_match_finite_differences_with_relu),
        cmocka_unit_test(test_gradients_match_finite_differences_with_leaky_relu),
        cmocka_unit_test(test_gradients_match_finite_differences_with_elu),
        cmocka_unit_test(test_gradients_match_finite_differences_with_selu),
        cmocka_unit_test(test_gradients_match_finite_differences_with_softplus),
        cmocka_unit_test(test_gradients_match_finite_differences_with_gelu),
    };
    return cmocka_run_group_tests_name("gradcheck", tests, NULL, NULL);
}
