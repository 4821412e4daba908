/* test_verdict.c — verdict rules on hand-filled records, thresholds, verdict text, and the known answers of real
 * deep nets observed by gf_diag_probe (vanishing, exploding, dead, saturated, NaN, and no false alarm). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "verdict.h"
#include "picky_alloc.h"

#define BIT(v) (1u << (v))

/* ------------------------------------------------------------------ */
/* Hand-filled records                                                 */
/* ------------------------------------------------------------------ */

/* A net of L 64-wide dense layers with the given hidden activation (identity output). */
static gf_net *plain_net(int32_t L, int32_t act)
{
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 64, 1), GF_OK);
    for (int32_t i = 0; i < L; i++)
        assert_int_equal(gf_net_add_dense(net, 64, i == L - 1 ? GF_ACT_IDENTITY : act, NULL), GF_OK);
    return net;
}

/* A diag record ring of `records` observations over net, filled with healthy values:
 * delta rms 1e-2, weight-gradient norm 0.05, activation variance 0.5, update ratio 1e-3. */
static gf_diag *hand_diag(gf_net *net, int32_t records)
{
    gf_diag *d = calloc(1, sizeof *d);
    assert_non_null(d);
    d->magic = GFI_MAGIC_DIAG;
    d->net = net;
    d->nlayers = gf_net_layer_count(net);
    d->cap = d->count = records;
    d->head = 0;
    d->observed = records;
    d->hist = calloc((size_t)records * (size_t)d->nlayers * GFI_NSTAT, sizeof *d->hist);
    d->hist_step = calloc((size_t)records, sizeof *d->hist_step);
    d->nonfinite = calloc((size_t)d->nlayers * GFI_NTENSOR * 3, sizeof *d->nonfinite);
    assert_true(d->hist && d->hist_step && d->nonfinite);
    gfi_diag_default_thresholds(d->threshold);
    for (int32_t a = 0; a < records; a++) {
        d->hist_step[(d->head - 1 - a + 2 * d->cap) % d->cap] = records - 1 - a;
        for (int32_t i = 0; i < d->nlayers; i++) {
            double *r = (double *)gfi_diag_at(d, a, i, 0);
            r[GF_STAT_DELTA_IN_RMS] = 1e-2;
            r[GF_STAT_DELTA_IN_NORM] = 0.64;
            r[GF_STAT_WGRAD_NORM] = 0.05;
            r[GF_STAT_WEIGHT_NORM] = 8.0;
            r[GF_STAT_UPDATE_RATIO] = 1e-3;
            r[GF_STAT_ACT_VAR] = 0.5;
            r[GF_STAT_PRE_STD] = 1.0;
            r[GF_STAT_LOSS] = 1.0 - 0.01 * (records - 1 - a);
        }
    }
    return d;
}

static void set_stat(gf_diag *d, int32_t ago, int32_t layer, int32_t stat, double v)
{
    *(double *)gfi_diag_at(d, ago, layer, stat) = v;
}

static void free_hand(gf_diag *d)
{
    gf_net_destroy(d->net);
    free(d->hist);
    free(d->hist_step);
    free(d->nonfinite);
    free(d);
}

static int32_t verdict(const gf_diag *d, int32_t layer)
{
    int32_t v = -1;
    assert_int_equal(gf_diag_verdict(d, layer, &v), GF_OK);
    return v;
}

static uint32_t flags(const gf_diag *d, int32_t layer)
{
    uint32_t f = 0;
    assert_int_equal(gf_diag_verdict_flags(d, layer, &f), GF_OK);
    return f;
}

static char text[8192];
static const char *reason(const gf_diag *d, int32_t layer)
{
    assert_int_equal(gf_diag_verdict_reason(d, layer, text, sizeof text, NULL), GF_OK);
    return text;
}

static char text2[8192];
static const char *remedy(const gf_diag *d, int32_t layer)
{
    assert_int_equal(gf_diag_verdict_remedy(d, layer, text2, sizeof text2, NULL), GF_OK);
    return text2;
}

static void test_verdict_is_unknown_before_any_observation(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(3, GF_ACT_RELU), 1);
    d->count = 0;
    assert_int_equal(verdict(d, -1), GF_VERDICT_UNKNOWN);
    assert_int_equal(verdict(d, 0), GF_VERDICT_UNKNOWN);
    assert_int_equal(flags(d, -1), BIT(GF_VERDICT_UNKNOWN));
    assert_non_null(strstr(reason(d, -1), "unknown"));
    free_hand(d);
}

static void test_uniform_statistics_are_healthy_in_every_layer(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(12, GF_ACT_RELU), 1);
    for (int32_t i = -1; i < 12; i++) {
        assert_int_equal(verdict(d, i), GF_VERDICT_HEALTHY);
        assert_int_equal(flags(d, i), BIT(GF_VERDICT_HEALTHY));
    }
    assert_non_null(strstr(reason(d, -1), "healthy"));
    assert_non_null(strstr(remedy(d, -1), "none needed"));
    free_hand(d);
}

static void test_delta_fit_starts_at_layer_1_when_layer_0_was_not_measured(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(12, GF_ACT_RELU), 1);
    for (int32_t i = 1; i < 12; i++)
        set_stat(d, 0, i, GF_STAT_DELTA_IN_RMS, 3.2e-2 * pow(0.5, 11 - i));
    set_stat(d, 0, 0, GF_STAT_DELTA_IN_RMS, NAN); /* input gradient not computed */
    assert_int_equal(verdict(d, -1), GF_VERDICT_VANISHING);
    assert_int_equal(verdict(d, 1), GF_VERDICT_VANISHING);
    const char *r = reason(d, -1);
    assert_non_null(strstr(r, "shrinks x0.5 per layer"));
    assert_non_null(strstr(r, "at layer 1 (threshold"));
    free_hand(d);
}

static void test_healthy_reason_names_layer_1_when_layer_0_delta_was_not_measured(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(6, GF_ACT_RELU), 1);
    set_stat(d, 0, 0, GF_STAT_DELTA_IN_RMS, NAN);
    assert_int_equal(verdict(d, -1), GF_VERDICT_HEALTHY);
    assert_non_null(strstr(reason(d, -1), "at layer 5 -> 0.01 at layer 1)"));
    free_hand(d);
}

static void test_healthy_layer_0_reason_says_its_delta_was_not_measured_instead_of_quoting_nan(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(6, GF_ACT_RELU), 1);
    set_stat(d, 0, 0, GF_STAT_DELTA_IN_RMS, NAN); /* input gradient not computed */
    assert_int_equal(verdict(d, 0), GF_VERDICT_HEALTHY);
    const char *r = reason(d, 0);
    assert_null(strstr(r, "nan"));
    assert_non_null(strstr(r, "delta rms not measured"));
    free_hand(d);
}

static void test_delta_halving_per_layer_toward_input_is_vanishing_in_lower_layers(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(12, GF_ACT_RELU), 1);
    for (int32_t i = 0; i < 12; i++)
        set_stat(d, 0, i, GF_STAT_DELTA_IN_RMS, 3.2e-2 * pow(0.5, 11 - i));
    assert_int_equal(verdict(d, -1), GF_VERDICT_VANISHING);
    assert_int_equal(verdict(d, 0), GF_VERDICT_VANISHING);
    assert_int_equal(verdict(d, 11), GF_VERDICT_HEALTHY);
    assert_int_equal(verdict(d, 9), GF_VERDICT_HEALTHY); /* only 4x below the top */
    const char *r = reason(d, -1);
    assert_non_null(strstr(r, "shrinks x0.5 per layer"));
    assert_non_null(strstr(r, "3.2e-02 at layer 11") ? r : strstr(r, "0.032 at layer 11"));
    assert_non_null(strstr(r, "layers 0-"));
    assert_non_null(strstr(remedy(d, -1), "He init"));
    free_hand(d);
}

static void test_mild_shrink_over_few_layers_is_not_vanishing(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 1);
    for (int32_t i = 0; i < 4; i++)
        set_stat(d, 0, i, GF_STAT_DELTA_IN_RMS, pow(0.6, 3 - i)); /* 4.6x over the whole net */
    assert_int_equal(verdict(d, -1), GF_VERDICT_HEALTHY);
    free_hand(d);
}

static void test_delta_growing_toward_input_is_exploding(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(12, GF_ACT_RELU), 1);
    for (int32_t i = 0; i < 12; i++)
        set_stat(d, 0, i, GF_STAT_DELTA_IN_RMS, pow(1.5, 11 - i));
    assert_int_equal(verdict(d, -1), GF_VERDICT_EXPLODING);
    assert_int_equal(verdict(d, 0), GF_VERDICT_EXPLODING);
    assert_int_equal(verdict(d, 11), GF_VERDICT_HEALTHY);
    assert_non_null(strstr(reason(d, -1), "grows x1.5 per layer"));
    assert_non_null(strstr(remedy(d, -1), "clip"));
    free_hand(d);
}

static void test_activation_variance_halving_per_layer_is_vanishing(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(12, GF_ACT_RELU), 1);
    for (int32_t i = 0; i < 12; i++)
        set_stat(d, 0, i, GF_STAT_ACT_VAR, pow(0.5, i));
    assert_int_equal(verdict(d, -1), GF_VERDICT_VANISHING);
    assert_int_equal(verdict(d, 10), GF_VERDICT_VANISHING);
    assert_int_equal(verdict(d, 0), GF_VERDICT_HEALTHY);
    assert_non_null(strstr(reason(d, -1), "variance x0.5"));
    free_hand(d);
}

static void test_raising_the_vanish_threshold_tolerates_a_halving_delta(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(12, GF_ACT_RELU), 1);
    for (int32_t i = 0; i < 12; i++)
        set_stat(d, 0, i, GF_STAT_DELTA_IN_RMS, pow(0.5, 11 - i));
    assert_int_equal(gf_diag_set_threshold(d, GF_TH_VANISH_FACTOR, 0.4), GF_OK);
    assert_int_equal(verdict(d, -1), GF_VERDICT_HEALTHY);
    free_hand(d);
}

static void test_dead_fraction_over_threshold_is_dead_and_outranks_vanishing(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(12, GF_ACT_RELU), 1);
    for (int32_t i = 0; i < 11; i++) {
        set_stat(d, 0, i, GF_STAT_DEAD_FRAC, 1.0);
        set_stat(d, 0, i, GF_STAT_DELTA_IN_RMS, 0.0);
    }
    assert_int_equal(verdict(d, -1), GF_VERDICT_DEAD);
    assert_int_equal(verdict(d, 3), GF_VERDICT_DEAD);
    assert_true(flags(d, -1) & BIT(GF_VERDICT_VANISHING));
    assert_non_null(strstr(reason(d, 3), "100% of relu units"));
    assert_non_null(strstr(remedy(d, 3), "bias init 0.1"));
    free_hand(d);
}

static void test_dead_fraction_below_threshold_is_healthy(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(6, GF_ACT_RELU), 1);
    set_stat(d, 0, 2, GF_STAT_DEAD_FRAC, 0.6);
    assert_int_equal(verdict(d, 2), GF_VERDICT_HEALTHY);
    free_hand(d);
}

static void test_wide_tanh_pre_activations_are_saturated_narrow_ones_not(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(6, GF_ACT_TANH), 1);
    set_stat(d, 0, 2, GF_STAT_PRE_STD, 3.0); /* 32% of values beyond |z| = 3 */
    assert_int_equal(verdict(d, 2), GF_VERDICT_SATURATED);
    assert_int_equal(verdict(d, 1), GF_VERDICT_HEALTHY);
    assert_int_equal(verdict(d, -1), GF_VERDICT_SATURATED);
    assert_non_null(strstr(remedy(d, 2), "Xavier"));
    free_hand(d);
}

static void test_nonfinite_values_are_exploding_and_the_reason_names_the_origin(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(5, GF_ACT_RELU), 1);
    set_stat(d, 0, 2, GF_STAT_NONFINITE, 64);
    d->nonfinite[((size_t)2 * GFI_NTENSOR + GF_TENSOR_PRE_ACTIVATION) * 3 + 1] = 64;
    d->origin_found = true;
    d->origin_step = 7;
    d->origin_layer = 2;
    d->origin_phase = GF_PHASE_FORWARD;
    d->origin_tensor = GF_TENSOR_PRE_ACTIVATION;
    assert_int_equal(verdict(d, 2), GF_VERDICT_EXPLODING);
    assert_int_equal(verdict(d, 1), GF_VERDICT_HEALTHY);
    assert_int_equal(verdict(d, -1), GF_VERDICT_EXPLODING);
    const char *r = reason(d, -1);
    assert_non_null(strstr(r, "step 7 in layer 2"));
    assert_non_null(strstr(r, gf_phase_name(GF_PHASE_FORWARD)));
    assert_non_null(strstr(reason(d, 2), "64 +Inf"));
    assert_non_null(strstr(remedy(d, -1), "GF_DIAG_GUARD"));
    free_hand(d);
}

static void test_loss_jump_of_orders_of_magnitude_is_an_avalanche(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 6);
    for (int32_t i = 0; i < 4; i++)
        set_stat(d, 0, i, GF_STAT_LOSS, 5e3);
    assert_int_equal(verdict(d, -1), GF_VERDICT_EXPLODING);
    assert_non_null(strstr(reason(d, -1), "loss jumped"));
    free_hand(d);
    d = hand_diag(plain_net(4, GF_ACT_RELU), 6);
    for (int32_t i = 0; i < 4; i++)
        set_stat(d, 0, i, GF_STAT_LOSS, 20.0); /* x20: below the x100 threshold */
    assert_int_equal(verdict(d, -1), GF_VERDICT_HEALTHY);
    free_hand(d);
}

static void test_gradient_norm_jump_is_exploding_in_that_layer(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 6);
    set_stat(d, 0, 1, GF_STAT_WGRAD_NORM, 5e3);
    assert_int_equal(verdict(d, 1), GF_VERDICT_EXPLODING);
    assert_int_equal(verdict(d, 2), GF_VERDICT_HEALTHY);
    free_hand(d);
}

static void test_gradient_jump_that_stays_below_the_floor_is_not_an_avalanche(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 6);
    /* x500 between two observations, but 64x64 weights with norm 2e-7 have RMS 3e-9 < 1e-8. */
    set_stat(d, 1, 1, GF_STAT_WGRAD_NORM, 4e-10);
    set_stat(d, 0, 1, GF_STAT_WGRAD_NORM, 2e-7);
    assert_false(flags(d, 1) & (1u << GF_VERDICT_EXPLODING));
    free_hand(d);
}

static void test_weight_norm_growing_tenfold_over_the_window_is_exploding(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 20);
    for (int32_t a = 0; a < 20; a++)
        set_stat(d, a, 2, GF_STAT_WEIGHT_NORM, 8.0 * pow(1.2, 19 - a));
    assert_int_equal(verdict(d, 2), GF_VERDICT_EXPLODING);
    assert_non_null(strstr(reason(d, 2), "weight norm grew"));
    assert_non_null(strstr(remedy(d, 2), "L2"));
    free_hand(d);
}

static void test_gradient_below_the_floor_is_vanishing_unless_the_loss_is_tiny(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 1);
    set_stat(d, 0, 0, GF_STAT_WGRAD_NORM, 1e-9); /* rms 1.6e-11 */
    assert_int_equal(verdict(d, 0), GF_VERDICT_VANISHING);
    assert_non_null(strstr(reason(d, 0), "below the floor"));
    for (int32_t i = 0; i < 4; i++)
        set_stat(d, 0, i, GF_STAT_LOSS, 1e-12);
    assert_int_equal(verdict(d, 0), GF_VERDICT_HEALTHY);
    free_hand(d);
}

static void test_update_ratio_orders_below_the_top_layer_is_vanishing(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 1);
    set_stat(d, 0, 0, GF_STAT_UPDATE_RATIO, 1e-7);
    set_stat(d, 0, 1, GF_STAT_UPDATE_RATIO, 1e-5); /* 2 orders: within the spread */
    assert_int_equal(verdict(d, 0), GF_VERDICT_VANISHING);
    assert_int_equal(verdict(d, 1), GF_VERDICT_HEALTHY);
    assert_non_null(strstr(reason(d, 0), "orders of magnitude"));
    free_hand(d);
}

static void test_collapsed_weights_are_vanishing(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 1);
    set_stat(d, 0, 1, GF_STAT_WEIGHT_NORM, 1e-4); /* rms 1.6e-6 */
    assert_int_equal(verdict(d, 1), GF_VERDICT_VANISHING);
    assert_non_null(strstr(remedy(d, 1), "L1/L2"));
    free_hand(d);
}

static void set_flat_loss(gf_diag *d, double v)
{
    for (int32_t a = 0; a < 20; a++)
        for (int32_t i = 0; i < d->nlayers; i++)
            set_stat(d, a, i, GF_STAT_LOSS, v);
}

static void test_falling_loss_is_not_a_plateau(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 20); /* falls 1% per step */
    assert_int_equal(verdict(d, -1), GF_VERDICT_HEALTHY);
    assert_null(strstr(reason(d, -1), "improved by only"));
    free_hand(d);
}

static void test_flat_loss_alone_is_no_verdict_but_the_healthy_reason_names_it(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 20);
    set_flat_loss(d, 0.7);
    assert_int_equal(verdict(d, -1), GF_VERDICT_HEALTHY);
    assert_non_null(strstr(reason(d, -1), "the loss has not improved over the last 20 steps (+0%), and no gradient-flow"));
    free_hand(d);
}

static void test_flat_loss_beside_a_vanishing_condition_is_quoted_as_a_plateau(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 20);
    set_flat_loss(d, 0.7);
    set_stat(d, 0, 0, GF_STAT_UPDATE_RATIO, 1e-7); /* 4 orders below the top layer's */
    assert_int_equal(verdict(d, -1), GF_VERDICT_VANISHING);
    assert_non_null(strstr(reason(d, -1), "the loss improved by only 0% over the last 20 steps (threshold"));
    assert_non_null(strstr(remedy(d, -1), "Adam"));
    free_hand(d);
}



/* 20 records: the older 10 at `older`, the newer 10 at `newer` (ago 0 is the newest). */
static void set_two_level_loss(gf_diag *d, double older, double newer)
{
    for (int32_t a = 0; a < 20; a++)
        for (int32_t i = 0; i < d->nlayers; i++)
            set_stat(d, a, i, GF_STAT_LOSS, a < 10 ? newer : older);
}

static void test_loss_rising_over_the_window_is_exploding_with_a_lower_learning_rate(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 20);
    set_two_level_loss(d, 0.5, 0.7); /* +40 % */
    assert_int_equal(verdict(d, -1), GF_VERDICT_EXPLODING);
    assert_non_null(strstr(reason(d, -1), "net-wide"));
    assert_non_null(strstr(reason(d, -1), "the loss rose: its mean over the last 10 steps is 40% above"));
    assert_non_null(strstr(remedy(d, -1), "halve the learning rate"));
    assert_null(strstr(remedy(d, -1), "He init"));
    free_hand(d);
}

static void test_loss_rise_within_the_threshold_is_not_exploding(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 20);
    set_two_level_loss(d, 0.70, 0.72); /* +2.9 %: noise around a stalled loss */
    assert_int_equal(verdict(d, -1), GF_VERDICT_HEALTHY);
    assert_non_null(strstr(reason(d, -1), "has not improved over the last 20 steps (+2.9%)"));
    free_hand(d);
}

static void test_loss_rise_within_the_step_to_step_spread_is_not_exploding(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 20);
    /* Halves at 0.5 and 0.7 on average, but each step alternates x0.2 / x1.8: batches of
     * different samples, not a trend. */
    for (int32_t a = 0; a < 20; a++)
        for (int32_t i = 0; i < d->nlayers; i++)
            set_stat(d, a, i, GF_STAT_LOSS, (a < 10 ? 0.7 : 0.5) * (a % 2 ? 0.2 : 1.8));
    assert_false(flags(d, -1) & BIT(GF_VERDICT_EXPLODING));
    free_hand(d);
}

static void test_loss_rise_threshold_sets_where_a_rise_becomes_exploding(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 20);
    set_two_level_loss(d, 0.5, 0.7);
    double v;
    assert_int_equal(gf_diag_get_threshold(d, GF_TH_LOSS_RISE, &v), GF_OK);
    assert_true(v == 0.1);
    assert_int_equal(gf_diag_set_threshold(d, GF_TH_LOSS_RISE, 0.5), GF_OK);
    assert_int_equal(verdict(d, -1), GF_VERDICT_HEALTHY); /* +40 % is under 50 %: no rise */
    assert_int_equal(gf_diag_set_threshold(d, GF_TH_LOSS_RISE, 0), GF_ERR_INVALID);
    assert_int_equal(gf_diag_get_threshold(d, GF_TH_LOSS_RISE, &v), GF_OK);
    assert_true(v == 0.5);
    free_hand(d);
}

/* Every layer moves by `ratio` of its weights per step; the top layer's gradient is `grad` of its weights (8). */
static void set_steps(gf_diag *d, double ratio, double grad)
{
    for (int32_t i = 0; i < d->nlayers; i++)
        set_stat(d, 0, i, GF_STAT_UPDATE_RATIO, ratio);
    set_stat(d, 0, d->nlayers - 1, GF_STAT_WGRAD_NORM, grad * 8.0);
}

static void test_tiny_steps_against_a_large_gradient_are_vanishing_with_a_higher_learning_rate(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 1);
    set_steps(d, 3e-6, 3.0); /* what SGD or Adam at lr 1e-6 shows */
    assert_int_equal(verdict(d, -1), GF_VERDICT_VANISHING);
    assert_non_null(strstr(reason(d, -1), "net-wide"));
    assert_non_null(strstr(reason(d, -1), "the steps are too small to learn: the largest update ratio is 3e-06"));
    assert_non_null(strstr(remedy(d, -1), "raise the learning rate from 0.01 to about 3,"));
    assert_null(strstr(remedy(d, -1), "He init"));
    free_hand(d);
}

static void test_tiny_steps_under_tight_clipping_point_at_the_clip_not_the_learning_rate(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 1);
    assert_int_equal(gf_net_set_clip(d->net, GF_CLIP_NORM, 1e-4), GF_OK);
    set_steps(d, 3e-6, 3.0); /* global gradient norm ~24: clipped x2.4e5 */
    assert_int_equal(verdict(d, -1), GF_VERDICT_VANISHING);
    assert_non_null(strstr(remedy(d, -1), "gradient clipping cuts every step: the gradient is x2.4e+05 over the clip norm"));
    assert_null(strstr(remedy(d, -1), "raise the learning rate"));
    assert_null(strstr(remedy(d, -1), "He init"));
    free_hand(d);
}

/* Delta rms shrinking x0.1 per layer toward the input, and an L2 penalty of l2 on the net (lr 0.01). */
static gf_diag *shrinking_with_l2(double l2)
{
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 1);
    for (int32_t i = 0; i < 4; i++)
        set_stat(d, 0, i, GF_STAT_DELTA_IN_RMS, 1e-2 * pow(0.1, 3 - i));
    gf_penalty *p;
    assert_int_equal(gf_penalty_create(&p, 0.0, l2), GF_OK);
    assert_int_equal(gf_net_set_penalty(d->net, p), GF_OK);
    gf_penalty_destroy(p);
    return d;
}

static void test_shrinking_signal_under_a_strong_l2_penalty_points_at_the_penalty(void **state)
{
    (void)state;
    gf_diag *d = shrinking_with_l2(1.0);
    assert_int_equal(verdict(d, -1), GF_VERDICT_VANISHING);
    assert_non_null(strstr(remedy(d, -1), "the L2 penalty of 1 shrinks every weight by 1% per step"));
    assert_null(strstr(remedy(d, -1), "He init"));
    free_hand(d);
}

static void test_shrinking_signal_under_a_weak_l2_penalty_points_at_the_init(void **state)
{
    (void)state;
    gf_diag *d = shrinking_with_l2(1e-4);
    assert_int_equal(verdict(d, -1), GF_VERDICT_VANISHING);
    assert_null(strstr(remedy(d, -1), "L2 penalty"));
    assert_non_null(strstr(remedy(d, -1), "He init"));
    free_hand(d);
}

static void test_shrinking_signal_behind_dead_relu_units_gets_the_dead_advice_only(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 1);
    for (int32_t i = 0; i < 4; i++)
        set_stat(d, 0, i, GF_STAT_DELTA_IN_RMS, 1e-2 * pow(0.1, 3 - i));
    set_stat(d, 0, 2, GF_STAT_DEAD_FRAC, 0.9);
    assert_int_equal(verdict(d, -1), GF_VERDICT_DEAD);
    assert_non_null(strstr(remedy(d, -1), "revive the dead units"));
    assert_null(strstr(remedy(d, -1), "scale the weights up"));
    free_hand(d);
}

/* 40 records whose loss settled at 1e-5 after the first steps (their median 1.0), the latest
 * three at `spike`: a misclassified sample in batch-1 classification, or a divergence. */
static double early_grads[4] = {0.05, 0.05, 0.05, 0.05};
static gf_diag *settled_then(double spike)
{
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 40);
    for (int32_t a = 0; a < 40; a++)
        for (int32_t i = 0; i < 4; i++)
            set_stat(d, a, i, GF_STAT_LOSS, a < 3 ? spike : 1e-5);
    d->early_ready = true;
    d->early_step = 0; /* the oldest record's step */
    d->early_loss = 1.0;
    d->early_grad = early_grads;
    return d;
}

static void test_loss_spike_under_the_early_scale_is_not_an_avalanche(void **state)
{
    (void)state;
    gf_diag *d = settled_then(0.5); /* x5e4 over the 32 before, half the early scale */
    assert_false(flags(d, -1) & BIT(GF_VERDICT_EXPLODING));
    d->early_grad = NULL;
    free_hand(d);
}

static void test_loss_far_above_the_early_scale_is_still_an_avalanche(void **state)
{
    (void)state;
    gf_diag *d = settled_then(500.0);
    assert_true(flags(d, -1) & BIT(GF_VERDICT_EXPLODING));
    assert_non_null(strstr(reason(d, -1), "loss jumped x500"));
    d->early_grad = NULL;
    free_hand(d);
}

/* A 64-class softmax classifier (chance ln 64 = 4.16) at `loss`, its delta shrinking x0.1 per layer. */
static gf_diag *classifier_at(double loss)
{
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 1);
    gf_loss *l;
    assert_int_equal(gf_loss_create(&l, GF_LOSS_SOFTMAX_CE_LABELS), GF_OK);
    assert_int_equal(gf_net_set_loss(d->net, l), GF_OK);
    gf_loss_destroy(l);
    for (int32_t i = 0; i < 4; i++) {
        set_stat(d, 0, i, GF_STAT_DELTA_IN_RMS, 1e-2 * pow(0.1, 3 - i));
        set_stat(d, 0, i, GF_STAT_LOSS, loss);
    }
    return d;
}

static void test_classifier_under_a_twentieth_of_chance_loss_is_not_judged_on_delta_depth(void **state)
{
    (void)state;
    gf_diag *d = classifier_at(0.01);
    assert_int_equal(verdict(d, -1), GF_VERDICT_HEALTHY);
    assert_non_null(strstr(reason(d, -1), "the classifier has solved its batches (loss 0.01, chance 4.2)"));
    free_hand(d);
}

static void test_classifier_above_a_twentieth_of_chance_loss_is_judged_on_delta_depth(void **state)
{
    (void)state;
    gf_diag *d = classifier_at(0.5);
    assert_int_equal(verdict(d, -1), GF_VERDICT_VANISHING);
    free_hand(d);
}

static void test_tiny_steps_with_a_small_gradient_are_a_converged_net_not_a_condition(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 1);
    set_steps(d, 3e-6, 1e-3); /* a converged net: the gradient is small too */
    assert_int_equal(verdict(d, -1), GF_VERDICT_HEALTHY);
    free_hand(d);
}

static void test_update_floor_threshold_sets_where_steps_are_too_small(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(4, GF_ACT_RELU), 1);
    set_steps(d, 3e-6, 3.0);
    double v;
    assert_int_equal(gf_diag_get_threshold(d, GF_TH_UPDATE_FLOOR, &v), GF_OK);
    assert_true(v == 1e-5);
    assert_int_equal(gf_diag_set_threshold(d, GF_TH_UPDATE_FLOOR, 1e-6), GF_OK);
    assert_int_equal(verdict(d, -1), GF_VERDICT_HEALTHY);
    assert_int_equal(gf_diag_set_threshold(d, GF_TH_UPDATE_FLOOR, -1), GF_ERR_INVALID);
    free_hand(d);
}

static void test_thresholds_have_documented_defaults_and_reject_bad_values(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(2, GF_ACT_RELU), 1);
    double v;
    assert_int_equal(gf_diag_get_threshold(d, GF_TH_VANISH_FACTOR, &v), GF_OK);
    assert_true(v == 0.85);
    assert_int_equal(gf_diag_get_threshold(d, GF_TH_DEAD_FRAC, &v), GF_OK);
    assert_true(v == 0.75);
    assert_int_equal(gf_diag_set_threshold(d, GF_TH_VANISH_FACTOR, 1.5), GF_ERR_INVALID);
    assert_int_equal(gf_diag_set_threshold(d, GF_TH_EXPLODE_FACTOR, 0.9), GF_ERR_INVALID);
    assert_int_equal(gf_diag_set_threshold(d, GF_TH_DEAD_FRAC, NAN), GF_ERR_INVALID);
    assert_int_equal(gf_diag_set_threshold(d, GF_TH_GRAD_FLOOR, -1), GF_ERR_INVALID);
    assert_int_equal(gf_diag_set_threshold(d, 99, 1), GF_ERR_INVALID);
    assert_int_equal(gf_diag_get_threshold(d, -1, &v), GF_ERR_INVALID);
    assert_int_equal(gf_diag_get_threshold(d, GF_TH_DEAD_FRAC, NULL), GF_ERR_NULL);
    assert_int_equal(gf_diag_get_threshold(d, GF_TH_VANISH_FACTOR, &v), GF_OK);
    assert_true(v == 0.85); /* unchanged by the refused calls */
    assert_int_equal(gf_diag_set_threshold(d, GF_TH_GRAD_FLOOR, 0), GF_OK);
    free_hand(d);
}

static void test_verdict_text_follows_the_describe_buffer_rules(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(3, GF_ACT_RELU), 1);
    size_t need = 0;
    assert_int_equal(gf_diag_verdict_reason(d, -1, NULL, 0, &need), GF_OK);
    assert_true(need > 1);
    char small[8];
    assert_int_equal(gf_diag_verdict_reason(d, -1, small, sizeof small, NULL), GF_ERR_BUFFER);
    assert_int_equal(strlen(small), 7);
    char *full = malloc(need);
    size_t need2 = 0;
    assert_int_equal(gf_diag_verdict_reason(d, -1, full, need, &need2), GF_OK);
    assert_int_equal(need2, need);
    assert_int_equal(strlen(full) + 1, need);
    assert_memory_equal(small, full, 7);
    assert_int_equal(gf_diag_verdict_remedy(d, 0, NULL, 1, NULL), GF_ERR_NULL);
    free(full);
    free_hand(d);
}

static void test_verdict_calls_reject_misuse(void **state)
{
    (void)state;
    gf_diag *d = hand_diag(plain_net(3, GF_ACT_RELU), 1);
    int32_t v;
    uint32_t f;
    assert_int_equal(gf_diag_verdict(NULL, 0, &v), GF_ERR_NULL);
    assert_int_equal(gf_diag_verdict(d, 0, NULL), GF_ERR_NULL);
    assert_int_equal(gf_diag_verdict(d, 3, &v), GF_ERR_RANGE);
    assert_int_equal(gf_diag_verdict(d, -2, &v), GF_ERR_RANGE);
    assert_int_equal(gf_diag_verdict_flags(d, 0, NULL), GF_ERR_NULL);
    assert_int_equal(gf_diag_verdict_flags((const gf_diag *)(void *)d->net, 0, &f), GF_ERR_KIND);
    assert_int_equal(gf_diag_verdict_reason(d, 7, text, sizeof text, NULL), GF_ERR_RANGE);
    assert_int_equal(gf_diag_set_threshold(NULL, 0, 0.5), GF_ERR_NULL);
    free_hand(d);
}

static void test_verdict_names_are_stable(void **state)
{
    (void)state;
    assert_string_equal(gf_verdict_name(GF_VERDICT_HEALTHY), "healthy");
    assert_string_equal(gf_verdict_name(GF_VERDICT_VANISHING), "vanishing");
    assert_string_equal(gf_verdict_name(GF_VERDICT_EXPLODING), "exploding");
    assert_string_equal(gf_verdict_name(GF_VERDICT_DEAD), "dead");
    assert_string_equal(gf_verdict_name(GF_VERDICT_SATURATED), "saturated");
    assert_string_equal(gf_verdict_name(GF_VERDICT_UNKNOWN), "unknown");
    assert_string_equal(gf_verdict_name(6), "?");
    assert_string_equal(gf_verdict_name(-1), "?");
}

/* ------------------------------------------------------------------ */
/* Known answers on real nets (gf_diag_probe)                          */
/* ------------------------------------------------------------------ */

/* L dense 64-wide layers: `act` hidden, identity output; weights from `wi`, biases constant `bias`
 * (or the layer default when bias is NAN). */
static gf_net *deep_net(int32_t L, int32_t act, gf_init *wi, double bias, uint64_t seed)
{
    gf_net *net;
    gf_init *bi;
    assert_int_equal(gf_net_create(&net, 64, seed), GF_OK);
    assert_int_equal(gf_init_create(&bi, GF_INIT_CONSTANT), GF_OK);
    if (!isnan(bias))
        assert_int_equal(gf_init_set_range(bi, bias, 0), GF_OK);
    for (int32_t i = 0; i < L; i++) {
        gf_layer *l;
        gf_activation *a;
        assert_int_equal(gf_layer_dense_create(&l, 64, 64), GF_OK);
        assert_int_equal(gf_activation_create(&a, i == L - 1 ? GF_ACT_IDENTITY : act), GF_OK);
        assert_int_equal(gf_layer_set_activation(l, a), GF_OK);
        gf_activation_destroy(a);
        assert_int_equal(gf_layer_set_weight_init(l, wi), GF_OK);
        if (!isnan(bias))
            assert_int_equal(gf_layer_set_bias_init(l, bi), GF_OK);
        assert_int_equal(gf_net_add(net, l), GF_OK);
    }
    gf_init_destroy(bi);
    gf_init_destroy(wi);
    return net;
}

static gf_init *init_of(int32_t kind, double gain)
{
    gf_init *wi;
    assert_int_equal(gf_init_create(&wi, kind), GF_OK);
    if (gain > 0)
        assert_int_equal(gf_init_set_gain(wi, gain), GF_OK);
    return wi;
}

static gf_init *normal_init(double std)
{
    gf_init *wi;
    assert_int_equal(gf_init_create(&wi, GF_INIT_NORMAL), GF_OK);
    assert_int_equal(gf_init_set_range(wi, 0.0, std), GF_OK);
    return wi;
}

/* Probes net with a batch of 64 and returns the diag (caller destroys both). */
static gf_diag *probed(gf_net *net, uint64_t seed)
{
    gf_diag *d;
    assert_int_equal(gf_diag_create(&d, net), GF_OK);
    assert_int_equal(gf_diag_probe(d, 64, seed), GF_OK);
    return d;
}

static void done(gf_diag *d, gf_net *net)
{
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_sigmoid_20_layers_xavier_is_vanishing(void **state)
{
    (void)state;
    gf_net *net = deep_net(20, GF_ACT_SIGMOID, init_of(GF_INIT_XAVIER_NORMAL, 0), NAN, 1);
    gf_diag *d = probed(net, 2);
    assert_int_equal(verdict(d, -1), GF_VERDICT_VANISHING);
    assert_int_equal(verdict(d, 0), GF_VERDICT_VANISHING);
    assert_false(flags(d, -1) & BIT(GF_VERDICT_EXPLODING));
    assert_non_null(strstr(reason(d, -1), "delta rms shrinks"));
    assert_non_null(strstr(remedy(d, -1), "ReLU"));
    done(d, net);
}

static void test_tanh_20_layers_default_uniform_init_is_vanishing(void **state)
{
    (void)state;
    gf_net *net = deep_net(20, GF_ACT_TANH, init_of(GF_INIT_DEFAULT, 0), NAN, 1);
    gf_diag *d = probed(net, 2);
    assert_int_equal(verdict(d, -1), GF_VERDICT_VANISHING);
    assert_int_equal(verdict(d, 0), GF_VERDICT_VANISHING);
    assert_non_null(strstr(reason(d, -1), "per layer"));
    done(d, net);
}

static void test_relu_50_layers_he_is_healthy_on_8_seeds(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 8; seed++) {
        gf_net *net = deep_net(50, GF_ACT_RELU, init_of(GF_INIT_HE_NORMAL, sqrt(2.0)), 0.0, seed);
        gf_diag *d = probed(net, 100 + seed);
        for (int32_t i = -1; i < 50; i++) {
            if (flags(d, i) != BIT(GF_VERDICT_HEALTHY))
                fail_msg("seed %d layer %d: %s", (int)seed, (int)i, reason(d, i));
        }
        done(d, net);
    }
}

static void test_relu_50_layers_xavier_is_vanishing(void **state)
{
    (void)state;
    gf_net *net = deep_net(50, GF_ACT_RELU, init_of(GF_INIT_XAVIER_NORMAL, 0), 0.0, 1);
    gf_diag *d = probed(net, 2);
    assert_int_equal(verdict(d, -1), GF_VERDICT_VANISHING);
    assert_int_equal(verdict(d, 0), GF_VERDICT_VANISHING);
    assert_false(flags(d, -1) & BIT(GF_VERDICT_EXPLODING));
    done(d, net);
}

static void test_relu_50_layers_variance_4_over_fan_in_is_exploding(void **state)
{
    (void)state;
    gf_net *net = deep_net(50, GF_ACT_RELU, normal_init(2.0 / 8.0), 0.0, 1); /* std sqrt(4/64) */
    gf_diag *d = probed(net, 2);
    assert_int_equal(verdict(d, -1), GF_VERDICT_EXPLODING);
    assert_int_equal(verdict(d, 0), GF_VERDICT_EXPLODING);
    assert_false(flags(d, -1) & BIT(GF_VERDICT_VANISHING));
    assert_non_null(strstr(reason(d, -1), "grows"));
    done(d, net);
}

static void test_relu_bias_minus_5_is_dead(void **state)
{
    (void)state;
    gf_net *net = deep_net(10, GF_ACT_RELU, init_of(GF_INIT_HE_NORMAL, sqrt(2.0)), -5.0, 1);
    gf_diag *d = probed(net, 2);
    assert_int_equal(verdict(d, -1), GF_VERDICT_DEAD);
    assert_int_equal(verdict(d, 0), GF_VERDICT_DEAD);
    assert_non_null(strstr(remedy(d, -1), "bias init 0.1"));
    done(d, net);
    /* Bias 0.1: nothing dead. */
    net = deep_net(10, GF_ACT_RELU, init_of(GF_INIT_HE_NORMAL, sqrt(2.0)), 0.1, 1);
    d = probed(net, 2);
    assert_false(flags(d, -1) & BIT(GF_VERDICT_DEAD));
    done(d, net);
}

static void test_tanh_variance_9_over_fan_in_is_saturated_xavier_is_not(void **state)
{
    (void)state;
    gf_net *net = deep_net(10, GF_ACT_TANH, normal_init(3.0 / 8.0), 0.0, 1);
    gf_diag *d = probed(net, 2);
    assert_true(flags(d, -1) & BIT(GF_VERDICT_SATURATED));
    assert_true(flags(d, 4) & BIT(GF_VERDICT_SATURATED));
    assert_non_null(strstr(reason(d, 4), "saturated"));
    done(d, net);
    net = deep_net(10, GF_ACT_TANH, init_of(GF_INIT_XAVIER_NORMAL, 5.0 / 3.0), 0.0, 1);
    d = probed(net, 2);
    assert_false(flags(d, -1) & BIT(GF_VERDICT_SATURATED));
    done(d, net);
}

static void test_overflow_to_inf_is_exploding_and_names_the_origin_layer(void **state)
{
    (void)state;
    gf_net *net = deep_net(4, GF_ACT_RELU, init_of(GF_INIT_HE_NORMAL, sqrt(2.0)), 0.1, 1);
    float *w = malloc(64 * 64 * sizeof *w);
    for (int k = 0; k < 64 * 64; k++)
        w[k] = 3e38f;
    assert_int_equal(gf_layer_set_weights(gf_net_layer(net, 2), w, 64 * 64), GF_OK);
    free(w);
    gf_diag *d = probed(net, 2);
    assert_int_equal(verdict(d, -1), GF_VERDICT_EXPLODING);
    int32_t found = 0, layer = -1, phase = -1, tensor = -1;
    int64_t step = 0;
    assert_int_equal(gf_diag_origin(d, &found, &step, &layer, &phase, &tensor), GF_OK);
    assert_true(found);
    assert_int_equal(layer, 2);
    assert_int_equal(phase, GF_PHASE_FORWARD);
    const char *r = reason(d, -1);
    assert_non_null(strstr(r, "in layer 2"));
    assert_non_null(strstr(r, gf_phase_name(GF_PHASE_FORWARD)));
    done(d, net);
}

static void test_probe_changes_no_weight_state_or_step_and_records_step_minus_1(void **state)
{
    (void)state;
    gf_net *net = deep_net(5, GF_ACT_RELU, init_of(GF_INIT_HE_NORMAL, sqrt(2.0)), 0.1, 3);
    gf_optimizer *opt;
    assert_int_equal(gf_optimizer_create(&opt, GF_OPT_ADAM, 1e-3), GF_OK);
    assert_int_equal(gf_net_set_optimizer(net, opt), GF_OK);
    size_t n = (size_t)gf_net_param_count(net);
    float *before = malloc(5 * 64 * 64 * sizeof *before), *after = malloc(5 * 64 * 64 * sizeof *after);
    (void)n;
    for (int32_t i = 0; i < 5; i++)
        assert_int_equal(gf_layer_get_weights(gf_net_layer(net, i), before + i * 4096, 4096), GF_OK);
    gf_diag *d;
    assert_int_equal(gf_diag_create(&d, net), GF_OK);
    assert_int_equal(gf_diag_probe(d, 64, 9), GF_OK);
    for (int32_t i = 0; i < 5; i++)
        assert_int_equal(gf_layer_get_weights(gf_net_layer(net, i), after + i * 4096, 4096), GF_OK);
    assert_memory_equal(before, after, 5 * 4096 * sizeof *before);
    assert_int_equal(gf_net_steps(net), 0);
    assert_int_equal(opt->t, 0);
    assert_int_equal(gf_net_step(net), GF_ERR_STATE); /* nothing pending to step */
    double v;
    int64_t step = 0;
    assert_int_equal(gf_diag_history(d, 2, GF_STAT_ACT_GAIN, 0, &v, &step), GF_OK);
    assert_int_equal(step, -1);
    assert_true(isfinite(v) && v > 0);
    assert_int_equal(gf_diag_value(d, 2, GF_STAT_DELTA_GAIN, &v), GF_OK);
    assert_true(isfinite(v) && v > 0);
    int32_t verdict_net;
    assert_int_equal(gf_diag_verdict(d, -1, &verdict_net), GF_OK);
    assert_int_not_equal(verdict_net, GF_VERDICT_UNKNOWN);
    free(before);
    free(after);
    done(d, net);
}


static void test_probe_that_fails_to_start_leaves_the_next_real_step_observed_as_a_step(void **state)
{
    (void)state;
    assert_int_equal(gf_set_allocator(picky_malloc, picky_realloc, picky_free, NULL), GF_OK);
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 5, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 64, GF_ACT_RELU, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 1, GF_ACT_IDENTITY, NULL), GF_OK);
    gf_diag *d;
    assert_int_equal(gf_diag_create(&d, net), GF_OK);
    /* The net's first activation buffers for batch 1000 (1000 x 64 floats) cannot be had. */
    refuse_size = 1000 * 64 * sizeof(float);
    assert_int_equal(gf_diag_probe(d, 1000, 3), GF_ERR_NOMEM);
    refuse_size = 0;
    float x[5] = {1, 2, 3, 4, 5}, t[1] = {0};
    assert_int_equal(gf_net_train_step(net, x, 5, t, 1, 1, NULL), GF_OK);
    double v;
    int64_t step = -2;
    assert_int_equal(gf_diag_history(d, 0, GF_STAT_ACT_MEAN, 0, &v, &step), GF_OK);
    assert_int_equal(step, 0);
    gf_diag_destroy(d);
    gf_net_destroy(net);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

static void test_probe_makes_valid_targets_for_classification_losses(void **state)
{
    (void)state;
    for (int32_t k = GF_LOSS_BCE_LOGITS; k <= GF_LOSS_SOFTMAX_CE_LABELS; k++) {
        gf_net *net = deep_net(3, GF_ACT_RELU, init_of(GF_INIT_HE_NORMAL, sqrt(2.0)), 0.1, 1);
        gf_loss *loss;
        assert_int_equal(gf_loss_create(&loss, k), GF_OK);
        assert_int_equal(gf_net_set_loss(net, loss), GF_OK);
        gf_loss_destroy(loss);
        gf_diag *d;
        assert_int_equal(gf_diag_create(&d, net), GF_OK);
        assert_int_equal(gf_diag_probe(d, 32, 5), GF_OK);
        done(d, net);
    }
}

static void test_probe_rejects_bad_arguments(void **state)
{
    (void)state;
    gf_net *net = deep_net(2, GF_ACT_RELU, init_of(GF_INIT_HE_NORMAL, sqrt(2.0)), 0.1, 1);
    gf_diag *d;
    assert_int_equal(gf_diag_create(&d, net), GF_OK);
    assert_int_equal(gf_diag_probe(NULL, 8, 1), GF_ERR_NULL);
    assert_int_equal(gf_diag_probe(d, 0, 1), GF_ERR_INVALID);
    assert_int_equal(gf_diag_probe(d, -5, 1), GF_ERR_INVALID);
    assert_int_equal(gf_diag_probe((gf_diag *)(void *)net, 8, 1), GF_ERR_KIND);
    assert_int_equal(gf_diag_steps(d), 0);
    done(d, net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdict_is_unknown_before_any_observation),
        cmocka_unit_test(test_uniform_statistics_are_healthy_in_every_layer),
        cmocka_unit_test(test_delta_halving_per_layer_toward_input_is_vanishing_in_lower_layers),
        cmocka_unit_test(test_delta_fit_starts_at_layer_1_when_layer_0_was_not_measured),
        cmocka_unit_test(test_healthy_reason_names_layer_1_when_layer_0_delta_was_not_measured),
        cmocka_unit_test(test_healthy_layer_0_reason_says_its_delta_was_not_measured_instead_of_quoting_nan),
        cmocka_unit_test(test_mild_shrink_over_few_layers_is_not_vanishing),
        cmocka_unit_test(test_delta_growing_toward_input_is_exploding),
        cmocka_unit_test(test_activation_variance_halving_per_layer_is_vanishing),
        cmocka_unit_test(test_raising_the_vanish_threshold_tolerates_a_halving_delta),
        cmocka_unit_test(test_dead_fraction_over_threshold_is_dead_and_outranks_vanishing),
        cmocka_unit_test(test_dead_fraction_below_threshold_is_healthy),
        cmocka_unit_test(test_wide_tanh_pre_activations_are_saturated_narrow_ones_not),
        cmocka_unit_test(test_nonfinite_values_are_exploding_and_the_reason_names_the_origin),
        cmocka_unit_test(test_loss_jump_of_orders_of_magnitude_is_an_avalanche),
        cmocka_unit_test(test_gradient_norm_jump_is_exploding_in_that_layer),
        cmocka_unit_test(test_gradient_jump_that_stays_below_the_floor_is_not_an_avalanche),
        cmocka_unit_test(test_weight_norm_growing_tenfold_over_the_window_is_exploding),
        cmocka_unit_test(test_gradient_below_the_floor_is_vanishing_unless_the_loss_is_tiny),
        cmocka_unit_test(test_update_ratio_orders_below_the_top_layer_is_vanishing),
        cmocka_unit_test(test_collapsed_weights_are_vanishing),
        cmocka_unit_test(test_falling_loss_is_not_a_plateau),
        cmocka_unit_test(test_flat_loss_alone_is_no_verdict_but_the_healthy_reason_names_it),
        cmocka_unit_test(test_flat_loss_beside_a_vanishing_condition_is_quoted_as_a_plateau),
        cmocka_unit_test(test_loss_rising_over_the_window_is_exploding_with_a_lower_learning_rate),
        cmocka_unit_test(test_loss_rise_within_the_threshold_is_not_exploding),
        cmocka_unit_test(test_loss_rise_within_the_step_to_step_spread_is_not_exploding),
        cmocka_unit_test(test_loss_rise_threshold_sets_where_a_rise_becomes_exploding),
        cmocka_unit_test(test_tiny_steps_against_a_large_gradient_are_vanishing_with_a_higher_learning_rate),
        cmocka_unit_test(test_tiny_steps_under_tight_clipping_point_at_the_clip_not_the_learning_rate),
        cmocka_unit_test(test_tiny_steps_with_a_small_gradient_are_a_converged_net_not_a_condition),
        cmocka_unit_test(test_shrinking_signal_under_a_strong_l2_penalty_points_at_the_penalty),
        cmocka_unit_test(test_shrinking_signal_under_a_weak_l2_penalty_points_at_the_init),
        cmocka_unit_test(test_shrinking_signal_behind_dead_relu_units_gets_the_dead_advice_only),
        cmocka_unit_test(test_loss_spike_under_the_early_scale_is_not_an_avalanche),
        cmocka_unit_test(test_loss_far_above_the_early_scale_is_still_an_avalanche),
        cmocka_unit_test(test_classifier_under_a_twentieth_of_chance_loss_is_not_judged_on_delta_depth),
        cmocka_unit_test(test_classifier_above_a_twentieth_of_chance_loss_is_judged_on_delta_depth),
        cmocka_unit_test(test_update_floor_threshold_sets_where_steps_are_too_small),
        cmocka_unit_test(test_thresholds_have_documented_defaults_and_reject_bad_values),
        cmocka_unit_test(test_verdict_text_follows_the_describe_buffer_rules),
        cmocka_unit_test(test_verdict_calls_reject_misuse),
        cmocka_unit_test(test_verdict_names_are_stable),
        cmocka_unit_test(test_sigmoid_20_layers_xavier_is_vanishing),
        cmocka_unit_test(test_tanh_20_layers_default_uniform_init_is_vanishing),
        cmocka_unit_test(test_relu_50_layers_he_is_healthy_on_8_seeds),
        cmocka_unit_test(test_relu_50_layers_xavier_is_vanishing),
        cmocka_unit_test(test_relu_50_layers_variance_4_over_fan_in_is_exploding),
        cmocka_unit_test(test_relu_bias_minus_5_is_dead),
        cmocka_unit_test(test_tanh_variance_9_over_fan_in_is_saturated_xavier_is_not),
        cmocka_unit_test(test_overflow_to_inf_is_exploding_and_names_the_origin_layer),
        cmocka_unit_test(test_probe_changes_no_weight_state_or_step_and_records_step_minus_1),
        cmocka_unit_test(test_probe_that_fails_to_start_leaves_the_next_real_step_observed_as_a_step),
        cmocka_unit_test(test_probe_makes_valid_targets_for_classification_losses),
        cmocka_unit_test(test_probe_rejects_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
