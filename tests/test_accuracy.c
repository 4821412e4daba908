/* test_accuracy.c — a fast subset of the verdict accuracy suite (tests/verdict_scenarios.h; the whole suite is
 * `make verdict-bench`): one scenario per test, each over two seeds, its expected verdict derived in the suite's
 * comments from the literature; healthy scenarios are judged at every step and must never leave healthy. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "verdict_scenarios.h"

static const vs_scenario *scenario(const char *name)
{
    for (int k = 0; k < VS_COUNT; k++)
        if (!strcmp(vs_scenarios[k].name, name))
            return &vs_scenarios[k];
    fail_msg("no scenario %s", name);
    return NULL;
}

/* Runs the scenario on seeds 1000 and 1001 and fails with the verdicts of a miss. */
static void expect_scenario(const char *name)
{
    const vs_scenario *sc = scenario(name);
    for (uint64_t seed = 1000; seed < 1002; seed++) {
        vs_result r = vs_run(sc, seed, sc->expect == GF_VERDICT_HEALTHY);
        if (!vs_correct(sc, &r))
            fail_msg("%s seed %llu: expected %s, probe %s, after training %s", name, (unsigned long long)seed,
                     gf_verdict_name(sc->expect), gf_verdict_name(r.probe), gf_verdict_name(r.final));
        if (r.flips)
            fail_msg("%s seed %llu: %lld healthy -> non-healthy flips in %lld steps", name, (unsigned long long)seed,
                     (long long)r.flips, (long long)r.steps_judged);
    }
}

static void test_relu_he_10_layers_is_healthy_at_every_step(void **s) { (void)s; expect_scenario("relu_he_10x64"); }
static void test_relu_he_100_layers_of_32_is_healthy_at_every_step(void **s) { (void)s; expect_scenario("relu_he_100x32"); }
static void test_relu_batch_1_is_healthy_at_every_step(void **s) { (void)s; expect_scenario("relu_he_4x32_batch1"); }
static void test_tiny_layers_trained_one_sample_at_a_time_are_healthy_at_every_step(void **s) { (void)s; expect_scenario("relu_he_2x4_batch1"); }
static void test_selu_lecun_32_layers_is_healthy(void **s) { (void)s; expect_scenario("selu_lecun_32x64"); }
static void test_linear_orthogonal_100_layers_is_healthy(void **s) { (void)s; expect_scenario("identity_orthogonal_100x64"); }
static void test_relu_quarter_he_is_vanishing(void **s) { (void)s; expect_scenario("relu_quarter_he_20x64"); }
static void test_relu_0_81_he_over_100_layers_is_vanishing(void **s) { (void)s; expect_scenario("relu_0.81he_100x64"); }
static void test_relu_1_25_he_over_100_layers_is_exploding(void **s) { (void)s; expect_scenario("relu_1.25he_100x64"); }
static void test_relu_twice_he_over_12_layers_is_exploding(void **s) { (void)s; expect_scenario("relu_2he_12x64"); }
static void test_leaky_relu_with_bias_minus_3_is_dead(void **s) { (void)s; expect_scenario("leaky_bias_minus3_10x64"); }
static void test_relu_with_bias_minus_2_is_dead(void **s) { (void)s; expect_scenario("relu_bias_minus2_10x64"); }
static void test_tanh_at_16_times_the_variance_is_saturated(void **s) { (void)s; expect_scenario("tanh_16x_4x64"); }
static void test_deep_sigmoid_is_vanishing(void **s) { (void)s; expect_scenario("sigmoid_lecun_10x64"); }
static void test_learning_rate_1e_minus_7_is_vanishing(void **s) { (void)s; expect_scenario("relu_he_sgd_lr1e-7"); }
static void test_learning_rate_5_is_exploding(void **s) { (void)s; expect_scenario("relu_he_sgd_lr5"); }
static void test_strong_l2_is_vanishing(void **s) { (void)s; expect_scenario("relu_he_l2_strong"); }
/* Across time (recurrent) and through conv stacks. */
static void test_tanh_rnn_at_half_orthogonal_over_20_steps_is_vanishing(void **s) { (void)s; expect_scenario("rnn_tanh_0.5Q_T20"); }
static void test_tanh_rnn_orthogonal_over_20_steps_is_healthy_at_every_step(void **s) { (void)s; expect_scenario("rnn_tanh_1.0Q_T20"); }
static void test_relu_rnn_past_the_bound_is_exploding(void **s) { (void)s; expect_scenario("rnn_relu_2Q_T50"); }
static void test_lstm_with_forget_bias_1_is_healthy_at_every_step(void **s) { (void)s; expect_scenario("lstm_forget1_T50"); }
static void test_lstm_with_its_forget_gate_shut_is_vanishing(void **s) { (void)s; expect_scenario("lstm_forget_closed_T20"); }
static void test_default_gru_is_healthy_at_every_step(void **s) { (void)s; expect_scenario("gru_default_T50"); }
static void test_relu_he_cnn_is_healthy_at_every_step(void **s) { (void)s; expect_scenario("conv2d_relu_he_4x16"); }
static void test_sigmoid_cnn_is_vanishing(void **s) { (void)s; expect_scenario("conv2d_sigmoid_lecun_4x16"); }
static void test_cnn_at_4_times_he_is_exploding(void **s) { (void)s; expect_scenario("conv2d_relu_4he_10x16"); }
static void test_conv1d_with_bias_minus_3_is_dead(void **s) { (void)s; expect_scenario("conv1d_relu_bias_minus3_3x16"); }
static void test_relu_he_conv1d_is_healthy_at_every_step(void **s) { (void)s; expect_scenario("conv1d_relu_he_3x16"); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_relu_he_10_layers_is_healthy_at_every_step),
        cmocka_unit_test(test_relu_he_100_layers_of_32_is_healthy_at_every_step),
        cmocka_unit_test(test_relu_batch_1_is_healthy_at_every_step),
        cmocka_unit_test(test_tiny_layers_trained_one_sample_at_a_time_are_healthy_at_every_step),
        cmocka_unit_test(test_selu_lecun_32_layers_is_healthy),
        cmocka_unit_test(test_linear_orthogonal_100_layers_is_healthy),
        cmocka_unit_test(test_relu_quarter_he_is_vanishing),
        cmocka_unit_test(test_relu_0_81_he_over_100_layers_is_vanishing),
        cmocka_unit_test(test_relu_1_25_he_over_100_layers_is_exploding),
        cmocka_unit_test(test_relu_twice_he_over_12_layers_is_exploding),
        cmocka_unit_test(test_leaky_relu_with_bias_minus_3_is_dead),
        cmocka_unit_test(test_relu_with_bias_minus_2_is_dead),
        cmocka_unit_test(test_tanh_at_16_times_the_variance_is_saturated),
        cmocka_unit_test(test_deep_sigmoid_is_vanishing),
        cmocka_unit_test(test_learning_rate_1e_minus_7_is_vanishing),
        cmocka_unit_test(test_learning_rate_5_is_exploding),
        cmocka_unit_test(test_strong_l2_is_vanishing),
        cmocka_unit_test(test_tanh_rnn_at_half_orthogonal_over_20_steps_is_vanishing),
        cmocka_unit_test(test_tanh_rnn_orthogonal_over_20_steps_is_healthy_at_every_step),
        cmocka_unit_test(test_relu_rnn_past_the_bound_is_exploding),
        cmocka_unit_test(test_lstm_with_forget_bias_1_is_healthy_at_every_step),
        cmocka_unit_test(test_lstm_with_its_forget_gate_shut_is_vanishing),
        cmocka_unit_test(test_default_gru_is_healthy_at_every_step),
        cmocka_unit_test(test_relu_he_cnn_is_healthy_at_every_step),
        cmocka_unit_test(test_sigmoid_cnn_is_vanishing),
        cmocka_unit_test(test_cnn_at_4_times_he_is_exploding),
        cmocka_unit_test(test_conv1d_with_bias_minus_3_is_dead),
        cmocka_unit_test(test_relu_he_conv1d_is_healthy_at_every_step),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
