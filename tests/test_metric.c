/* test_metric.c — metrics against hand-computed values and a reference written here, the net's metric
 * list, and gf_net_evaluate_v2 (batched, no allocation once sized, refusals). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "gradflow.h"

#define assert_close(a, b, tol) assert_true(fabs((a) - (b)) <= (tol) * fmax(1.0, fabs(b)))

static gf_loss *loss_of(int32_t kind)
{
    gf_loss *l;
    assert_int_equal(gf_loss_create(&l, kind), GF_OK);
    return l;
}

static double metric(int32_t loss_kind, int32_t kind, double param, const float *pred, const float *target,
                     int64_t batch, int64_t width)
{
    gf_loss *l = loss_of(loss_kind);
    double v = -1.0;
    assert_int_equal(gf_metric_compute(l, kind, param, pred, target, batch, width, &v), GF_OK);
    gf_loss_destroy(l);
    return v;
}

static void test_accuracy_on_labels_counts_rows_whose_argmax_is_the_label(void **state)
{
    (void)state;
    const float pred[4 * 3] = {0.1f, 2.0f, 0.3f, /* 1 */ 5.0f, 1.0f, 1.0f, /* 0 */ 0.0f, 0.0f, 1.0f, /* 2 */
                               1.0f, 1.0f, 0.0f /* tie: the first, 0 */};
    const float labels[4] = {1, 2, 2, 1};
    assert_close(metric(GF_LOSS_SOFTMAX_CE_LABELS, GF_METRIC_ACCURACY, NAN, pred, labels, 4, 3), 0.5, 1e-15);
}

static void test_accuracy_on_one_hot_and_probability_rows_compares_argmaxes(void **state)
{
    (void)state;
    const float pred[3 * 3] = {0.1f, 2.0f, 0.3f, 5.0f, 1.0f, 1.0f, 0.0f, 0.0f, 1.0f};
    const float onehot[3 * 3] = {0, 1, 0, 0, 0, 1, 0, 0, 1};
    const float probs[3 * 3] = {0.2f, 0.5f, 0.3f, 0.6f, 0.3f, 0.1f, 0.4f, 0.5f, 0.1f};
    assert_close(metric(GF_LOSS_SOFTMAX_CE, GF_METRIC_ACCURACY, NAN, pred, onehot, 3, 3), 2.0 / 3.0, 1e-15);
    assert_close(metric(GF_LOSS_SOFTMAX_CE, GF_METRIC_ACCURACY, NAN, pred, probs, 3, 3), 2.0 / 3.0, 1e-15);
    /* The same rows under MSE (a one-hot regression) read the same way. */
    assert_close(metric(GF_LOSS_MSE, GF_METRIC_ACCURACY, NAN, pred, onehot, 3, 3), 2.0 / 3.0, 1e-15);
}

static void test_accuracy_on_binary_logits_thresholds_at_zero(void **state)
{
    (void)state;
    const float logits[5] = {2.0f, -1.0f, 0.0f, 0.5f, -3.0f};
    const float target[5] = {1, 0, 1, 0, 0};
    /* right, right, wrong (0 is not > 0), wrong, right */
    assert_close(metric(GF_LOSS_BCE_LOGITS, GF_METRIC_ACCURACY, NAN, logits, target, 5, 1), 0.6, 1e-15);
    /* With a sigmoid output and MSE the threshold is 0.5. */
    const float probs[5] = {0.9f, 0.2f, 0.4f, 0.6f, 0.1f};
    assert_close(metric(GF_LOSS_MSE, GF_METRIC_ACCURACY, NAN, probs, target, 5, 1), 0.6, 1e-15);
}

static void test_binary_accuracy_counts_every_element_against_its_threshold(void **state)
{
    (void)state;
    const float pred[2 * 2] = {0.7f, 0.2f, 0.4f, 0.9f};
    const float target[2 * 2] = {1, 1, 0, 1};
    assert_close(metric(GF_LOSS_MSE, GF_METRIC_BINARY_ACCURACY, 0.5, pred, target, 2, 2), 0.75, 1e-15);
    assert_close(metric(GF_LOSS_MSE, GF_METRIC_BINARY_ACCURACY, 0.1, pred, target, 2, 2), 0.75, 1e-15);
    assert_close(metric(GF_LOSS_MSE, GF_METRIC_BINARY_ACCURACY, 0.8, pred, target, 2, 2), 0.5, 1e-15);
}

static void test_top_k_counts_the_label_among_the_k_largest_with_ties_inside(void **state)
{
    (void)state;
    const float pred[3 * 4] = {4, 3, 2, 1, /* label 2 is third */ 1, 1, 1, 1, /* all tied */ 0, 5, 5, 1};
    const float labels[3] = {2, 3, 0};
    assert_close(metric(GF_LOSS_SOFTMAX_CE_LABELS, GF_METRIC_TOP_K, 1, pred, labels, 3, 4), 1.0 / 3.0, 1e-15);
    assert_close(metric(GF_LOSS_SOFTMAX_CE_LABELS, GF_METRIC_TOP_K, 2, pred, labels, 3, 4), 1.0 / 3.0, 1e-15);
    assert_close(metric(GF_LOSS_SOFTMAX_CE_LABELS, GF_METRIC_TOP_K, 3, pred, labels, 3, 4), 2.0 / 3.0, 1e-15);
    assert_close(metric(GF_LOSS_SOFTMAX_CE_LABELS, GF_METRIC_TOP_K, 4, pred, labels, 3, 4), 1.0, 1e-15);
}

static void test_a_row_holding_nan_is_never_correct(void **state)
{
    (void)state;
    const float pred[2 * 2] = {NAN, 1.0f, 3.0f, 1.0f};
    const float labels[2] = {1, 0};
    assert_close(metric(GF_LOSS_SOFTMAX_CE_LABELS, GF_METRIC_ACCURACY, NAN, pred, labels, 2, 2), 0.5, 1e-15);
    assert_close(metric(GF_LOSS_SOFTMAX_CE_LABELS, GF_METRIC_TOP_K, 2, pred, labels, 2, 2), 0.5, 1e-15);
}

/* Seeded values from the test's own generator. */
static uint64_t lcg;
static float next_float(void)
{
    lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(lcg >> 11) / 9007199254740992.0 * 4.0 - 2.0);
}

static void test_mae_and_rmse_match_a_reference_in_double(void **state)
{
    (void)state;
    enum { B = 37, W = 5 };
    float pred[B * W], target[B * W];
    lcg = 5;
    for (int i = 0; i < B * W; i++) {
        pred[i] = next_float();
        target[i] = next_float();
    }
    double abs_sum = 0.0, sq_sum = 0.0;
    for (int i = 0; i < B * W; i++) {
        double e = (double)pred[i] - (double)target[i];
        abs_sum += e < 0 ? -e : e;
        sq_sum += e * e;
    }
    assert_close(metric(GF_LOSS_MSE, GF_METRIC_MAE, NAN, pred, target, B, W), abs_sum / (B * W), 1e-14);
    assert_close(metric(GF_LOSS_MSE, GF_METRIC_RMSE, NAN, pred, target, B, W), sqrt(sq_sum / (B * W)), 1e-14);
    /* RMSE is the square root of the library's own MSE loss. */
    gf_loss *mse = loss_of(GF_LOSS_MSE);
    double v;
    assert_int_equal(gf_loss_compute(mse, pred, target, B, W, &v, NULL), GF_OK);
    assert_close(metric(GF_LOSS_MSE, GF_METRIC_RMSE, NAN, pred, target, B, W), sqrt(v), 1e-14);
    gf_loss_destroy(mse);
}

static void test_metric_compute_refuses_bad_arguments(void **state)
{
    (void)state;
    const float pred[2] = {0, 1}, labels[1] = {1};
    double v = 7.0;
    gf_loss *lab = loss_of(GF_LOSS_SOFTMAX_CE_LABELS);
    assert_int_equal(gf_metric_compute(lab, GF_METRIC_MAE, NAN, pred, labels, 1, 2, &v), GF_ERR_INVALID);
    assert_int_equal(gf_metric_compute(lab, GF_METRIC_TOP_K, 0, pred, labels, 1, 2, &v), GF_ERR_INVALID);
    assert_int_equal(gf_metric_compute(lab, GF_METRIC_TOP_K, 1.5, pred, labels, 1, 2, &v), GF_ERR_INVALID);
    assert_int_equal(gf_metric_compute(lab, 99, NAN, pred, labels, 1, 2, &v), GF_ERR_INVALID);
    assert_int_equal(gf_metric_compute(lab, GF_METRIC_ACCURACY, NAN, NULL, labels, 1, 2, &v), GF_ERR_NULL);
    assert_int_equal(gf_metric_compute(lab, GF_METRIC_ACCURACY, NAN, pred, labels, 0, 2, &v), GF_ERR_INVALID);
    const float out_of_range[1] = {2};
    assert_int_equal(gf_metric_compute(lab, GF_METRIC_ACCURACY, NAN, pred, out_of_range, 1, 2, &v), GF_ERR_RANGE);
    assert_true(v == 7.0);
    assert_string_equal(gf_metric_name(GF_METRIC_RMSE), "rmse");
    assert_string_equal(gf_metric_name(42), "?");
    assert_int_equal(gf_metric_higher_is_better(GF_METRIC_TOP_K), 1);
    assert_int_equal(gf_metric_higher_is_better(GF_METRIC_MAE), 0);
    gf_loss_destroy(lab);
}

static void test_net_metric_list_keeps_kinds_and_parameters_in_order(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 2, 1), GF_OK);
    assert_int_equal(gf_net_add_metric(net, GF_METRIC_ACCURACY, NAN), GF_OK);
    assert_int_equal(gf_net_add_metric(net, GF_METRIC_TOP_K, NAN), GF_OK);
    assert_int_equal(gf_net_add_metric(net, GF_METRIC_BINARY_ACCURACY, 0.25), GF_OK);
    assert_int_equal(gf_net_metric_count(net), 3);
    int32_t kind;
    double param;
    assert_int_equal(gf_net_metric(net, 1, &kind, &param), GF_OK);
    assert_int_equal(kind, GF_METRIC_TOP_K);
    assert_true(param == 5.0);
    assert_int_equal(gf_net_metric(net, 2, &kind, &param), GF_OK);
    assert_true(param == 0.25);
    assert_int_equal(gf_net_metric(net, 3, &kind, &param), GF_ERR_RANGE);
    for (int i = 3; i < GF_MAX_METRICS; i++)
        assert_int_equal(gf_net_add_metric(net, GF_METRIC_MAE, NAN), GF_OK);
    assert_int_equal(gf_net_add_metric(net, GF_METRIC_MAE, NAN), GF_ERR_RANGE);
    assert_int_equal(gf_net_metric_count(net), GF_MAX_METRICS);
    assert_int_equal(gf_net_clear_metrics(net), GF_OK);
    assert_int_equal(gf_net_metric_count(net), 0);
    assert_int_equal(gf_net_add_metric(net, GF_METRIC_BINARY_ACCURACY, INFINITY), GF_ERR_INVALID);
    assert_int_equal(gf_net_metric_count(net), 0);
    gf_net_destroy(net);
    assert_int_equal(gf_net_metric_count(NULL), -1);
}

/* A 3-class classifier on seeded data: x (n x 4), labels (n). */
static gf_net *classifier(float *x, float *labels, int n)
{
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 4, 2), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 8, GF_ACT_RELU, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 3, GF_ACT_IDENTITY, NULL), GF_OK);
    gf_loss *l = loss_of(GF_LOSS_SOFTMAX_CE_LABELS);
    assert_int_equal(gf_net_set_loss(net, l), GF_OK);
    gf_loss_destroy(l);
    assert_int_equal(gf_net_add_metric(net, GF_METRIC_ACCURACY, NAN), GF_OK);
    assert_int_equal(gf_net_add_metric(net, GF_METRIC_TOP_K, 2), GF_OK);
    lcg = 9;
    for (int i = 0; i < n * 4; i++)
        x[i] = next_float();
    for (int i = 0; i < n; i++)
        labels[i] = (float)(i % 3);
    return net;
}

static void test_evaluate_v2_in_batches_equals_one_pass_and_the_metrics_of_its_predictions(void **state)
{
    (void)state;
    enum { N = 101 };
    float x[N * 4], labels[N], pred[N * 3];
    gf_net *net = classifier(x, labels, N);
    double whole, acc_whole[2], parts, acc_parts[2], plain;
    assert_int_equal(gf_net_evaluate_v2(net, x, N * 4, labels, N, N, 0, &whole, acc_whole, 2), GF_OK);
    assert_int_equal(gf_net_evaluate_v2(net, x, N * 4, labels, N, N, 16, &parts, acc_parts, 2), GF_OK);
    assert_close(parts, whole, 1e-12);
    assert_true(acc_parts[0] == acc_whole[0] && acc_parts[1] == acc_whole[1]);
    assert_int_equal(gf_net_evaluate(net, x, N * 4, labels, N, N, &plain), GF_OK);
    assert_close(whole, plain, 1e-12);
    assert_int_equal(gf_net_predict(net, x, N * 4, N, pred, N * 3), GF_OK);
    double acc = -1.0, top2 = -1.0;
    gf_loss *l = loss_of(GF_LOSS_SOFTMAX_CE_LABELS);
    assert_int_equal(gf_metric_compute(l, GF_METRIC_ACCURACY, NAN, pred, labels, N, 3, &acc), GF_OK);
    assert_int_equal(gf_metric_compute(l, GF_METRIC_TOP_K, 2, pred, labels, N, 3, &top2), GF_OK);
    assert_true(acc == acc_whole[0] && top2 == acc_whole[1]);
    gf_loss_destroy(l);
    gf_net_destroy(net);
}

static int64_t counted;
static void *count_malloc(void *u, size_t n) { (void)u; counted++; return malloc(n); }
static void *count_realloc(void *u, void *p, size_t n) { (void)u; counted++; return realloc(p, n); }
static void count_free(void *u, void *p) { (void)u; free(p); }

static void test_evaluate_v2_allocates_nothing_once_sized(void **state)
{
    (void)state;
    enum { N = 64 };
    float x[N * 4], labels[N];
    assert_int_equal(gf_set_allocator(count_malloc, count_realloc, count_free, NULL), GF_OK);
    gf_net *net = classifier(x, labels, N);
    double loss, v[2];
    assert_int_equal(gf_net_evaluate_v2(net, x, N * 4, labels, N, N, 16, &loss, v, 2), GF_OK);
    counted = 0;
    for (int i = 0; i < 5; i++)
        assert_int_equal(gf_net_evaluate_v2(net, x, N * 4, labels, N, N, 16, &loss, v, 2), GF_OK);
    assert_int_equal(counted, 0);
    gf_net_destroy(net);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

static void test_evaluate_v2_refuses_bad_calls_and_writes_nothing(void **state)
{
    (void)state;
    enum { N = 12 };
    float x[N * 4], labels[N];
    gf_net *net = classifier(x, labels, N);
    double loss = 3.0, v[2] = {3.0, 3.0};
    assert_int_equal(gf_net_evaluate_v2(net, x, N * 4, labels, N, N, 4, &loss, v, 1), GF_ERR_BUFFER);
    assert_int_equal(gf_net_evaluate_v2(net, x, N * 4, labels, N, N, 4, &loss, NULL, 2), GF_ERR_NULL);
    assert_int_equal(gf_net_evaluate_v2(net, x, N * 4 - 1, labels, N, N, 4, &loss, v, 2), GF_ERR_SHAPE);
    assert_int_equal(gf_net_evaluate_v2(net, x, N * 4, labels, N, 0, 4, &loss, v, 2), GF_ERR_INVALID);
    assert_int_equal(gf_net_evaluate_v2(net, x, N * 4, labels, N, N, 4, NULL, v, 2), GF_ERR_NULL);
    x[5] = NAN;
    assert_int_equal(gf_net_evaluate_v2(net, x, N * 4, labels, N, N, 4, &loss, v, 2), GF_ERR_NONFINITE);
    x[5] = 0.0f;
    labels[N - 1] = 3;
    assert_int_equal(gf_net_evaluate_v2(net, x, N * 4, labels, N, N, 4, &loss, v, 2), GF_ERR_RANGE);
    labels[N - 1] = 0;
    assert_int_equal(gf_net_add_metric(net, GF_METRIC_RMSE, NAN), GF_OK); /* cannot read labels */
    double v3[3];
    assert_int_equal(gf_net_evaluate_v2(net, x, N * 4, labels, N, N, 4, &loss, v3, 3), GF_ERR_INVALID);
    assert_true(loss == 3.0 && v[0] == 3.0 && v[1] == 3.0);
    assert_int_equal(gf_net_evaluate_v2(NULL, x, N * 4, labels, N, N, 4, &loss, v, 2), GF_ERR_NULL);
    gf_net_destroy(net);
}

/* values_count = (size_t)-1 is a negative count converted, not room for the metrics. */
static void test_evaluate_v2_refuses_a_values_count_beyond_any_array_as_overflow(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 2, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 1, GF_ACT_IDENTITY, NULL), GF_OK);
    assert_int_equal(gf_net_add_metric(net, GF_METRIC_MAE, NAN), GF_OK);
    float x[4] = {1, 2, 3, 4}, t[2] = {0, 1};
    double loss = -1.0, values[1] = {-1.0};
    assert_int_equal(gf_net_evaluate_v2(net, x, 4, t, 2, 2, 2, &loss, values, (size_t)-1), GF_ERR_OVERFLOW);
    assert_true(loss == -1.0 && values[0] == -1.0);
    gf_net_destroy(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accuracy_on_labels_counts_rows_whose_argmax_is_the_label),
        cmocka_unit_test(test_accuracy_on_one_hot_and_probability_rows_compares_argmaxes),
        cmocka_unit_test(test_accuracy_on_binary_logits_thresholds_at_zero),
        cmocka_unit_test(test_binary_accuracy_counts_every_element_against_its_threshold),
        cmocka_unit_test(test_top_k_counts_the_label_among_the_k_largest_with_ties_inside),
        cmocka_unit_test(test_a_row_holding_nan_is_never_correct),
        cmocka_unit_test(test_mae_and_rmse_match_a_reference_in_double),
        cmocka_unit_test(test_metric_compute_refuses_bad_arguments),
        cmocka_unit_test(test_net_metric_list_keeps_kinds_and_parameters_in_order),
        cmocka_unit_test(test_evaluate_v2_in_batches_equals_one_pass_and_the_metrics_of_its_predictions),
        cmocka_unit_test(test_evaluate_v2_allocates_nothing_once_sized),
        cmocka_unit_test(test_evaluate_v2_refuses_bad_calls_and_writes_nothing),
        cmocka_unit_test(test_evaluate_v2_refuses_a_values_count_beyond_any_array_as_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
