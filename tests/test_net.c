/* test_net.c — the sequential net: hand-computed values, reproducibility, training, access and misuse. */
#define _POSIX_C_SOURCE 200809L /* dup/dup2/mkstemp, to capture the progress line on stderr */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gradflow.h"

/* 2 -> 2 (tanh) -> 1 (identity) with weights set from outside. */
static gf_net *hand_net(void)
{
    gf_net *net;
    gf_layer *l1, *l2;
    assert_int_equal(gf_net_create(&net, 2, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_TANH, &l1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 1, GF_ACT_IDENTITY, &l2), GF_OK);
    const float w1[4] = {0.5f, -0.25f, 0.75f, 0.1f}, b1[2] = {0.1f, -0.2f};
    const float w2[2] = {1.5f, -0.5f}, b2[1] = {0.3f};
    assert_int_equal(gf_layer_set_weights(l1, w1, 4), GF_OK);
    assert_int_equal(gf_layer_set_bias(l1, b1, 2), GF_OK);
    assert_int_equal(gf_layer_set_weights(l2, w2, 2), GF_OK);
    assert_int_equal(gf_layer_set_bias(l2, b2, 1), GF_OK);
    return net;
}

static void test_two_layer_output_matches_hand_computation(void **state)
{
    (void)state;
    gf_net *net = hand_net();
    const float x[2] = {1.0f, 2.0f};
    float y[1];
    assert_int_equal(gf_net_predict(net, x, 2, 1, y, 1), GF_OK);
    double h0 = tanh(0.5 * 1 - 0.25 * 2 + 0.1), h1 = tanh(0.75 * 1 + 0.1 * 2 - 0.2);
    double want = 1.5 * h0 - 0.5 * h1 + 0.3;
    assert_true(fabs(y[0] - want) < 1e-6);
    gf_net_destroy(net);
}

static void test_two_layer_gradients_match_hand_computation(void **state)
{
    (void)state;
    gf_net *net = hand_net();
    const float x[2] = {1.0f, 2.0f}, t[1] = {0.25f};
    double loss;
    assert_int_equal(gf_net_set_input_grad(net, 1), GF_OK);
    assert_int_equal(gf_net_forward(net, x, 2, 1, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward(net, t, 1, &loss), GF_OK);
    double z0 = 0.5 * 1 - 0.25 * 2 + 0.1, z1 = 0.75 * 1 + 0.1 * 2 - 0.2;
    double h0 = tanh(z0), h1 = tanh(z1);
    double y = 1.5 * h0 - 0.5 * h1 + 0.3;
    double dy = 2.0 * (y - 0.25); /* MSE, one element */
    assert_true(fabs(loss - (y - 0.25) * (y - 0.25)) < 1e-6);
    float g2[2], gb2[1], g1[4], gb1[2], dx[2];
    assert_int_equal(gf_layer_get_weight_grad(gf_net_layer(net, 1), g2, 2), GF_OK);
    assert_int_equal(gf_layer_get_bias_grad(gf_net_layer(net, 1), gb2, 1), GF_OK);
    assert_int_equal(gf_layer_get_weight_grad(gf_net_layer(net, 0), g1, 4), GF_OK);
    assert_int_equal(gf_layer_get_bias_grad(gf_net_layer(net, 0), gb1, 2), GF_OK);
    assert_int_equal(gf_net_input_grad(net, dx, 2), GF_OK);
    double dz0 = dy * 1.5 * (1 - h0 * h0), dz1 = dy * -0.5 * (1 - h1 * h1);
    const double want_g2[2] = {dy * h0, dy * h1}, want_g1[4] = {dz0 * 1, dz0 * 2, dz1 * 1, dz1 * 2};
    const double want_dx[2] = {dz0 * 0.5 + dz1 * 0.75, dz0 * -0.25 + dz1 * 0.1};
    for (int i = 0; i < 2; i++)
        assert_true(fabs(g2[i] - want_g2[i]) < 1e-5);
    assert_true(fabs(gb2[0] - dy) < 1e-5);
    for (int i = 0; i < 4; i++)
        assert_true(fabs(g1[i] - want_g1[i]) < 1e-5);
    assert_true(fabs(gb1[0] - dz0) < 1e-5 && fabs(gb1[1] - dz1) < 1e-5);
    for (int i = 0; i < 2; i++)
        assert_true(fabs(dx[i] - want_dx[i]) < 1e-5);
    gf_net_destroy(net);
}

static void test_input_grad_is_off_by_default_and_reading_it_is_a_state_error(void **state)
{
    (void)state;
    gf_net *net = hand_net();
    const float x[2] = {1.0f, 2.0f}, t[1] = {0.25f};
    float dx[2] = {7.0f, 7.0f};
    assert_int_equal(gf_net_input_grad_enabled(net), 0);
    assert_int_equal(gf_net_forward(net, x, 2, 1, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward(net, t, 1, NULL), GF_OK);
    assert_int_equal(gf_net_input_grad(net, dx, 2), GF_ERR_STATE);
    assert_non_null(strstr(gf_net_last_error(net), "gf_net_set_input_grad"));
    assert_true(dx[0] == 7.0f && dx[1] == 7.0f);
    gf_net_destroy(net);
}

static void test_input_grad_enabled_after_a_backward_needs_a_new_backward(void **state)
{
    (void)state;
    gf_net *net = hand_net();
    const float x[2] = {1.0f, 2.0f}, t[1] = {0.25f};
    float dx[2];
    assert_int_equal(gf_net_forward(net, x, 2, 1, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward(net, t, 1, NULL), GF_OK);
    assert_int_equal(gf_net_set_input_grad(net, 1), GF_OK);
    assert_int_equal(gf_net_input_grad_enabled(net), 1);
    assert_int_equal(gf_net_input_grad(net, dx, 2), GF_ERR_STATE);
    assert_int_equal(gf_net_forward(net, x, 2, 1, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward(net, t, 1, NULL), GF_OK);
    assert_int_equal(gf_net_input_grad(net, dx, 2), GF_OK);
    gf_net_destroy(net);
}

static void test_input_grad_after_train_step_is_that_of_the_weights_before_the_step(void **state)
{
    (void)state;
    gf_net *a = hand_net(), *b = hand_net();
    const float x[2] = {1.0f, 2.0f}, t[1] = {0.25f};
    float da[2], db[2];
    assert_int_equal(gf_net_set_input_grad(a, 1), GF_OK);
    assert_int_equal(gf_net_set_input_grad(b, 1), GF_OK);
    assert_int_equal(gf_net_forward(a, x, 2, 1, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward(a, t, 1, NULL), GF_OK);
    assert_int_equal(gf_net_input_grad(a, da, 2), GF_OK);
    assert_int_equal(gf_net_train_step(b, x, 2, t, 1, 1, NULL), GF_OK);
    assert_int_equal(gf_net_input_grad(b, db, 2), GF_OK);
    assert_memory_equal(da, db, sizeof da);
    gf_net_destroy(a);
    gf_net_destroy(b);
}

/* 10 samples in batches of 4: the fit ends on a mini-batch of 2, whose gradient is kept. */
static void test_input_grad_after_fit_is_that_of_the_last_mini_batch(void **state)
{
    (void)state;
    gf_net *net = hand_net();
    float x[10 * 2], t[10], g[4 * 2];
    for (int i = 0; i < 10; i++) {
        x[2 * i] = 0.1f * (float)i;
        x[2 * i + 1] = -0.05f * (float)i;
        t[i] = 0.3f;
    }
    assert_int_equal(gf_net_set_input_grad(net, 1), GF_OK);
    assert_int_equal(gf_net_fit(net, x, 20, t, 10, 10, 4, 2, NULL, NULL, NULL), GF_OK);
    assert_int_equal(gf_net_input_grad(net, g, 4 * 2), GF_ERR_SHAPE);
    assert_int_equal(gf_net_input_grad(net, g, 2 * 2), GF_OK);
    assert_true(g[0] != 0.0f || g[1] != 0.0f || g[2] != 0.0f || g[3] != 0.0f);
    gf_net_destroy(net);
}

static void test_input_grad_setting_leaves_the_training_bit_identical(void **state)
{
    (void)state;
    gf_net *net[2];
    float w[2][4];
    for (int k = 0; k < 2; k++) {
        assert_int_equal(gf_net_create(&net[k], 3, 9), GF_OK);
        assert_int_equal(gf_net_add_dense(net[k], 4, GF_ACT_TANH, NULL), GF_OK);
        assert_int_equal(gf_net_add_dense(net[k], 1, GF_ACT_IDENTITY, NULL), GF_OK);
        assert_int_equal(gf_net_set_input_grad(net[k], k), GF_OK);
        const float x[6] = {0.5f, -1.0f, 2.0f, 1.5f, 0.25f, -0.75f}, t[2] = {1.0f, -1.0f};
        for (int s = 0; s < 20; s++)
            assert_int_equal(gf_net_train_step(net[k], x, 6, t, 2, 2, NULL), GF_OK);
        assert_int_equal(gf_layer_get_weights(gf_net_layer(net[k], 1), w[k], 4), GF_OK);
    }
    assert_memory_equal(w[0], w[1], sizeof w[0]);
    gf_net_destroy(net[0]);
    gf_net_destroy(net[1]);
}

static void test_set_input_grad_refuses_other_values_and_null(void **state)
{
    (void)state;
    gf_net *net = hand_net();
    assert_int_equal(gf_net_set_input_grad(net, 2), GF_ERR_INVALID);
    assert_int_equal(gf_net_set_input_grad(net, -1), GF_ERR_INVALID);
    assert_int_equal(gf_net_input_grad_enabled(net), 0);
    assert_int_equal(gf_net_set_input_grad(NULL, 1), GF_ERR_NULL);
    assert_int_equal(gf_net_input_grad_enabled(NULL), -1);
    gf_net_destroy(net);
}

static void test_sgd_step_moves_weights_by_lr_times_gradient(void **state)
{
    (void)state;
    gf_net *net = hand_net();
    gf_optimizer *opt;
    assert_int_equal(gf_optimizer_create(&opt, GF_OPT_SGD, 0.1), GF_OK);
    assert_int_equal(gf_net_set_optimizer(net, opt), GF_OK);
    const float x[2] = {1.0f, 2.0f}, t[1] = {0.25f};
    float w_before[2], g[2], w_after[2];
    gf_layer *top = gf_net_layer(net, 1);
    assert_int_equal(gf_layer_get_weights(top, w_before, 2), GF_OK);
    assert_int_equal(gf_net_forward(net, x, 2, 1, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward(net, t, 1, NULL), GF_OK);
    assert_int_equal(gf_layer_get_weight_grad(top, g, 2), GF_OK);
    assert_int_equal(gf_net_step(net), GF_OK);
    assert_int_equal(gf_layer_get_weights(top, w_after, 2), GF_OK);
    for (int i = 0; i < 2; i++)
        assert_true(fabsf(w_after[i] - (w_before[i] - 0.1f * g[i])) < 1e-6f);
    assert_int_equal(gf_net_steps(net), 1);
    gf_net_destroy(net);
}

/* Builds the same 4-16-16-3 net from a seed and trains 100 Adam steps on fixed data. */
static void train_100_steps(uint64_t seed, float *weights_out, size_t n)
{
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 4, seed), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 16, GF_ACT_RELU, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 16, GF_ACT_TANH, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 3, GF_ACT_IDENTITY, NULL), GF_OK);
    gf_optimizer *opt;
    assert_int_equal(gf_optimizer_create(&opt, GF_OPT_ADAM, 1e-3), GF_OK);
    assert_int_equal(gf_net_set_optimizer(net, opt), GF_OK);
    float x[8 * 4], t[8 * 3];
    for (int i = 0; i < 32; i++)
        x[i] = sinf((float)i);
    for (int i = 0; i < 24; i++)
        t[i] = cosf((float)i);
    for (int s = 0; s < 100; s++)
        assert_int_equal(gf_net_train_step(net, x, 32, t, 24, 8, NULL), GF_OK);
    gf_layer *l = gf_net_layer(net, 1);
    assert_int_equal(gf_layer_get_weights(l, weights_out, n), GF_OK);
    gf_net_destroy(net);
}

static void test_same_seed_gives_bit_identical_weights_after_100_steps(void **state)
{
    (void)state;
    float a[256], b[256];
    train_100_steps(42, a, 256);
    train_100_steps(42, b, 256);
    assert_memory_equal(a, b, sizeof a);
}

static void test_different_seeds_give_different_weights(void **state)
{
    (void)state;
    float a[256], b[256];
    train_100_steps(42, a, 256);
    train_100_steps(43, b, 256);
    assert_memory_not_equal(a, b, sizeof a);
}

/* Trains the mnist-shaped net for a few steps with `threads` threads; returns layer 0's weights. */
static void train_mnist_shaped(int32_t threads, float *w, size_t n)
{
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 784, 3), GF_OK);
    assert_int_equal(gf_net_set_threads(net, threads), GF_OK);
    assert_int_equal(gf_net_threads(net), threads);
    assert_int_equal(gf_net_add_dense(net, 512, GF_ACT_RELU, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 10, GF_ACT_IDENTITY, NULL), GF_OK);
    static float x[64 * 784], t[64 * 10];
    for (size_t i = 0; i < sizeof x / sizeof *x; i++)
        x[i] = sinf((float)i * 0.37f);
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        t[i] = cosf((float)i);
    for (int s = 0; s < 3; s++)
        assert_int_equal(gf_net_train_step(net, x, 64 * 784, t, 640, 64, NULL), GF_OK);
    assert_int_equal(gf_layer_get_weights(gf_net_layer(net, 0), w, n), GF_OK);
    gf_net_destroy(net);
}

static void test_two_threads_give_bit_identical_results_to_one(void **state)
{
    (void)state;
    static float one[512 * 784], two[512 * 784];
    train_mnist_shaped(1, one, 512 * 784);
    train_mnist_shaped(2, two, 512 * 784);
    assert_memory_equal(one, two, sizeof one);
}

/* Trains 120-200-100-60-7 (tanh, sigmoid, ReLU, identity) at batch 128 with `threads` threads and returns
 * every weight and bias.  Its products cover each way a layer's work is shared out: the forward product by
 * columns (200 outputs >= 128 rows) and by rows (100 outputs < 128 rows), each followed by its bias and
 * activation on the same block; the weight gradients by rows, each after its activation gradient on the same
 * columns of dz; and the smaller layers on the caller alone.  (Small enough for the valgrind pass of CI.) */
static size_t train_mixed(int32_t threads, float *p, size_t cap)
{
    gf_net *net;
    const int32_t acts[4] = {GF_ACT_TANH, GF_ACT_SIGMOID, GF_ACT_RELU, GF_ACT_IDENTITY};
    const int64_t widths[4] = {200, 100, 60, 7};
    assert_int_equal(gf_net_create(&net, 120, 5), GF_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(gf_net_add_dense(net, widths[i], acts[i], NULL), GF_OK);
    assert_int_equal(gf_net_set_threads(net, threads), GF_OK);
    static float x[128 * 120], t[128 * 7];
    for (size_t i = 0; i < sizeof x / sizeof *x; i++)
        x[i] = sinf((float)i * 0.37f);
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        t[i] = cosf((float)i);
    for (int s = 0; s < 3; s++)
        assert_int_equal(gf_net_train_step(net, x, 128 * 120, t, 128 * 7, 128, NULL), GF_OK);
    size_t at = 0;
    for (int32_t i = 0; i < 4; i++) {
        const gf_layer *l = gf_net_layer(net, i);
        size_t nw = (size_t)gf_layer_weight_count(l), nb = (size_t)widths[i];
        assert_true(at + nw + nb <= cap);
        assert_int_equal(gf_layer_get_weights(l, p + at, nw), GF_OK);
        assert_int_equal(gf_layer_get_bias(l, p + at + nw, nb), GF_OK);
        at += nw + nb;
    }
    gf_net_destroy(net);
    return at;
}

static void test_every_thread_count_gives_bit_identical_weights_and_biases(void **state)
{
    (void)state;
    enum { CAP = 120 * 200 + 200 * 100 + 100 * 60 + 60 * 7 + 200 + 100 + 60 + 7 };
    static float one[CAP], other[CAP];
    size_t n = train_mixed(1, one, CAP);
    assert_int_equal(n, CAP);
    for (int32_t threads = 2; threads <= 3; threads++) {
        memset(other, 0, sizeof other);
        assert_int_equal(train_mixed(threads, other, CAP), CAP);
        assert_memory_equal(one, other, sizeof one);
    }
}

static void test_thread_count_out_of_range_is_refused(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 2, 1), GF_OK);
    assert_int_equal(gf_net_set_threads(net, 0), GF_ERR_INVALID);
    assert_int_equal(gf_net_set_threads(net, 65), GF_ERR_INVALID);
    assert_int_equal(gf_net_threads(net), 1);
    gf_net_destroy(net);
}

static void test_xor_trains_below_0_01(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 2, 7), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 8, GF_ACT_TANH, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 1, GF_ACT_SIGMOID, NULL), GF_OK);
    gf_optimizer *opt;
    assert_int_equal(gf_optimizer_create(&opt, GF_OPT_ADAM, 0.05), GF_OK);
    assert_int_equal(gf_net_set_optimizer(net, opt), GF_OK);
    const float x[8] = {0, 0, 0, 1, 1, 0, 1, 1}, t[4] = {0, 1, 1, 0};
    double loss = 1.0;
    assert_int_equal(gf_net_fit(net, x, 8, t, 4, 4, 4, 1000, NULL, NULL, &loss), GF_OK);
    assert_true(loss < 0.01);
    gf_net_destroy(net);
}

static int stop_after_three(void *user, int32_t epoch, double loss)
{
    (void)loss;
    int *calls = user;
    (*calls)++;
    return epoch == 2;
}

static void test_fit_callback_receives_user_pointer_and_stops_early(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 2, 7), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 1, GF_ACT_IDENTITY, NULL), GF_OK);
    const float x[8] = {0, 0, 0, 1, 1, 0, 1, 1}, t[4] = {0, 1, 1, 0};
    int calls = 0;
    assert_int_equal(gf_net_fit(net, x, 8, t, 4, 4, 2, 50, stop_after_three, &calls, NULL), GF_OK);
    assert_int_equal(calls, 3);
    assert_int_equal(gf_net_steps(net), 6); /* 3 epochs x 2 batches */
    gf_net_destroy(net);
}

static void test_progress_line_reports_epoch_loss_rate_and_time_left(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 2, 7), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 1, GF_ACT_IDENTITY, NULL), GF_OK);
    assert_int_equal(gf_net_set_progress(net, 1), GF_OK);
    const float x[8] = {0, 0, 0, 1, 1, 0, 1, 1}, t[4] = {0, 1, 1, 0};
    char path[] = "/tmp/gf_progress_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    assert_true(saved >= 0 && dup2(fd, 2) == 2);
    int rc = gf_net_fit(net, x, 8, t, 4, 4, 4, 3, NULL, NULL, NULL);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    assert_int_equal(rc, GF_OK);
    char text[1024] = {0};
    assert_true(lseek(fd, 0, SEEK_SET) == 0);
    assert_true(read(fd, text, sizeof text - 1) > 0);
    close(fd);
    unlink(path);
    assert_non_null(strstr(text, "epoch 3/3"));
    assert_non_null(strstr(text, "loss "));
    assert_non_null(strstr(text, "samples/s"));
    assert_non_null(strstr(text, "s left"));
    gf_net_destroy(net);
}

static void test_predict_between_backward_and_step_keeps_the_gradients_for_the_step(void **state)
{
    (void)state;
    gf_net *a = hand_net(), *b = hand_net();
    const float x[2] = {1.0f, 2.0f}, t[1] = {0.25f}, other[2] = {-1.0f, 0.5f};
    float y[1], wa[2], wb[2];
    for (int k = 0; k < 2; k++) {
        gf_net *n = k ? b : a;
        assert_int_equal(gf_net_forward(n, x, 2, 1, NULL, 0), GF_OK);
        assert_int_equal(gf_net_backward(n, t, 1, NULL), GF_OK);
    }
    /* A validation pass on b between its backward and its step. */
    assert_int_equal(gf_net_predict(b, other, 2, 1, y, 1), GF_OK);
    assert_int_equal(gf_net_step(a), GF_OK);
    assert_int_equal(gf_net_step(b), GF_OK);
    assert_int_equal(gf_layer_get_weights(gf_net_layer(a, 1), wa, 2), GF_OK);
    assert_int_equal(gf_layer_get_weights(gf_net_layer(b, 1), wb, 2), GF_OK);
    assert_memory_equal(wa, wb, sizeof wa);
    gf_net_destroy(a);
    gf_net_destroy(b);
}

static void test_param_count_sums_weights_and_biases(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 3, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 5, GF_ACT_RELU, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL), GF_OK);
    assert_int_equal(gf_net_param_count(net), 3 * 5 + 5 + 5 * 2 + 2);
    assert_int_equal(gf_net_layer_count(net), 2);
    assert_int_equal(gf_net_output_size(net), 2);
    gf_net_destroy(net);
}

static void test_describe_names_layers_and_reports_needed_size(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 3, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 5, GF_ACT_RELU, NULL), GF_OK);
    char small[8], big[1024];
    size_t need = 0;
    assert_int_equal(gf_net_describe(net, small, sizeof small, &need), GF_ERR_BUFFER);
    assert_true(need > sizeof small);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_int_equal(gf_net_describe(net, big, sizeof big, &need), GF_OK);
    assert_int_equal(strlen(big) + 1, need);
    assert_non_null(strstr(big, "dense 3 -> 5"));
    assert_non_null(strstr(big, "relu"));
    gf_net_destroy(net);
}

/* cap 0 asks for the size, as snprintf(NULL, 0, ...): a success that leaves the
 * error slots alone, so CHECK(gf_net_describe(net, NULL, 0, &need)) passes. */
static void test_describe_size_query_succeeds_without_an_error_message(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 3, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 5, GF_ACT_RELU, NULL), GF_OK);
    char full[1024];
    size_t want = 0, need = 0;
    assert_int_equal(gf_net_describe(net, full, sizeof full, &want), GF_OK);
    gf_clear_error();
    assert_int_equal(gf_net_describe(net, NULL, 0, &need), GF_OK);
    assert_int_equal(need, want);
    assert_string_equal(gf_last_error(), "");
    assert_string_equal(gf_net_last_error(net), "");
    char untouched[4] = "abc";
    assert_int_equal(gf_net_describe(net, untouched, 0, NULL), GF_OK);
    assert_string_equal(untouched, "abc");
    gf_net_destroy(net);
}

static void test_weights_set_before_adding_are_kept(void **state)
{
    (void)state;
    gf_net *net;
    gf_layer *l;
    assert_int_equal(gf_net_create(&net, 2, 1), GF_OK);
    assert_int_equal(gf_layer_dense_create(&l, 2, 1), GF_OK);
    const float w[2] = {0.25f, -4.0f};
    assert_int_equal(gf_layer_set_weights(l, w, 2), GF_OK);
    assert_int_equal(gf_net_add(net, l), GF_OK);
    float got[2];
    assert_int_equal(gf_layer_get_weights(l, got, 2), GF_OK);
    assert_memory_equal(got, w, sizeof w);
    gf_net_destroy(net);
}

static void test_reinit_with_same_seed_restores_initial_weights(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 2, 9), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 3, GF_ACT_RELU, NULL), GF_OK);
    float w0[6], w1[6];
    assert_int_equal(gf_layer_get_weights(gf_net_layer(net, 0), w0, 6), GF_OK);
    const float x[2] = {1, 2}, t[3] = {0, 0, 0};
    assert_int_equal(gf_net_train_step(net, x, 2, t, 3, 1, NULL), GF_OK);
    assert_int_equal(gf_net_reinit(net, 9), GF_OK);
    assert_int_equal(gf_layer_get_weights(gf_net_layer(net, 0), w1, 6), GF_OK);
    assert_memory_equal(w0, w1, sizeof w0);
    gf_net_destroy(net);
}

/* ---- clipping ---- */

static gf_net *net_with_grads(void)
{
    gf_net *net = hand_net();
    const float x[2] = {1.0f, 2.0f}, t[1] = {10.0f};
    assert_int_equal(gf_net_forward(net, x, 2, 1, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward(net, t, 1, NULL), GF_OK);
    return net;
}

static void test_clip_by_norm_reports_norm_before_and_caps_it(void **state)
{
    (void)state;
    gf_net *net = net_with_grads();
    double before, direct, after;
    assert_int_equal(gf_net_grad_norm(net, &direct), GF_OK);
    assert_true(direct > 1.0);
    assert_int_equal(gf_net_clip_grad_norm(net, 1.0, &before), GF_OK);
    assert_true(fabs(before - direct) < 1e-12 * direct);
    assert_int_equal(gf_net_grad_norm(net, &after), GF_OK);
    assert_true(fabs(after - 1.0) < 1e-5);
    gf_net_destroy(net);
}

/* A threshold that rounds to 0 (or a subnormal) in float would zero every gradient: refused, gradients kept. */
static void test_a_clip_threshold_below_the_smallest_normal_float_is_refused_and_keeps_the_gradients(void **state)
{
    (void)state;
    gf_net *net = net_with_grads();
    double before, after;
    assert_int_equal(gf_net_grad_norm(net, &before), GF_OK);
    assert_int_equal(gf_net_clip_grad_value(net, 1e-50), GF_ERR_INVALID);
    assert_non_null(strstr(gf_net_last_error(net), "smallest normal float"));
    assert_int_equal(gf_net_clip_grad_norm(net, 1e-40, NULL), GF_ERR_INVALID);
    assert_int_equal(gf_net_clip_grad_layer_norm(net, 1e-45), GF_ERR_INVALID);
    assert_int_equal(gf_net_set_clip(net, GF_CLIP_VALUE, 1e-50), GF_ERR_INVALID);
    assert_int_equal(gf_net_grad_norm(net, &after), GF_OK);
    assert_true(after == before && after > 0.0);
    assert_int_equal(gf_net_clip_grad_value(net, 2e-38), GF_OK); /* a normal float: clamps */
    gf_net_destroy(net);
}

static void test_grad_norm_before_any_backward_is_a_state_error_like_clipping(void **state)
{
    (void)state;
    gf_net *net = hand_net();
    double norm = -1.0;
    assert_int_equal(gf_net_grad_norm(net, &norm), GF_ERR_STATE);
    assert_true(norm == -1.0);
    assert_non_null(strstr(gf_last_error(), "gf_net_backward"));
    assert_int_equal(gf_net_clip_grad_norm(net, 1.0, NULL), GF_ERR_STATE);
    const float x[2] = {0.5f, -1.0f}, t[1] = {0.25f};
    assert_int_equal(gf_net_forward(net, x, 2, 1, NULL, 0), GF_OK);
    assert_int_equal(gf_net_grad_norm(net, &norm), GF_ERR_STATE); /* a forward alone has no gradient */
    assert_int_equal(gf_net_backward(net, t, 1, NULL), GF_OK);
    assert_int_equal(gf_net_grad_norm(net, &norm), GF_OK);
    assert_true(norm > 0.0);
    assert_int_equal(gf_net_step(net), GF_OK);
    double after = -1.0; /* the step's gradients stay readable, as for clipping */
    assert_int_equal(gf_net_grad_norm(net, &after), GF_OK);
    assert_true(after == norm);
    assert_int_equal(gf_net_reinit(net, 3), GF_OK);
    assert_int_equal(gf_net_grad_norm(net, &norm), GF_ERR_STATE);
    gf_net_destroy(net);
}

/* hand_net's gradients when its target sits 1e-4 above its output: a norm near 1e-4, where
 * PyTorch's 1e-6 in max_norm / (norm + 1e-6) moves every clipped component by about 1 %. */
static gf_net *net_with_small_grads(void)
{
    gf_net *net = hand_net();
    const float x[2] = {1.0f, 2.0f};
    float y[1];
    assert_int_equal(gf_net_predict(net, x, 2, 1, y, 1), GF_OK);
    const float t[1] = {y[0] + 1e-4f};
    assert_int_equal(gf_net_forward(net, x, 2, 1, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward(net, t, 1, NULL), GF_OK);
    return net;
}

/* Layer i's weight and bias gradients, one after the other, into g (room for 6); returns their count. */
static size_t layer_grads(gf_net *net, int32_t i, float *g)
{
    gf_layer *l = gf_net_layer(net, i);
    size_t nw = (size_t)gf_layer_weight_count(l), nb = (size_t)gf_layer_bias_count(l);
    assert_true(nw + nb <= 6);
    assert_int_equal(gf_layer_get_weight_grad(l, g, nw), GF_OK);
    assert_int_equal(gf_layer_get_bias_grad(l, g + nw, nb), GF_OK);
    return nw + nb;
}

static double norm_of(const float *g, size_t n)
{
    double s = 0;
    for (size_t k = 0; k < n; k++)
        s += (double)g[k] * g[k];
    return sqrt(s);
}

static void test_clip_by_norm_scales_by_max_norm_over_norm_plus_1e_minus_6_as_pytorch(void **state)
{
    (void)state;
    gf_net *net = net_with_small_grads();
    float g0[12], g1[12];
    size_t n0 = layer_grads(net, 0, g0), n = n0 + layer_grads(net, 1, g0 + n0);
    double norm = norm_of(g0, n), max_norm = norm / 2;
    assert_true(norm > 1e-5 && norm < 1e-3);
    assert_int_equal(gf_net_clip_grad_norm(net, max_norm, NULL), GF_OK);
    n0 = layer_grads(net, 0, g1);
    layer_grads(net, 1, g1 + n0);
    double factor = max_norm / (norm + 1e-6);
    for (size_t k = 0; k < n; k++)
        assert_true(g1[k] == (float)(g0[k] * factor));
    gf_net_destroy(net);
}

static void test_clip_by_layer_norm_scales_each_layer_by_max_norm_over_norm_plus_1e_minus_6(void **state)
{
    (void)state;
    gf_net *net = net_with_small_grads();
    float g0[2][6], g1[6];
    size_t n[2] = {layer_grads(net, 0, g0[0]), layer_grads(net, 1, g0[1])};
    double max_norm = 1e-9 + 0.5 * (norm_of(g0[0], n[0]) < norm_of(g0[1], n[1]) ? norm_of(g0[0], n[0])
                                                                                 : norm_of(g0[1], n[1]));
    assert_int_equal(gf_net_clip_grad_layer_norm(net, max_norm), GF_OK);
    for (int32_t i = 0; i < 2; i++) {
        layer_grads(net, i, g1);
        double factor = max_norm / (norm_of(g0[i], n[i]) + 1e-6);
        for (size_t k = 0; k < n[i]; k++)
            assert_true(g1[k] == (float)(g0[i][k] * factor));
    }
    gf_net_destroy(net);
}

static void test_clip_by_norm_never_scales_a_gradient_below_max_norm_up(void **state)
{
    (void)state;
    gf_net *net = net_with_small_grads();
    float g0[12], g1[12];
    size_t n0 = layer_grads(net, 0, g0), n = n0 + layer_grads(net, 1, g0 + n0);
    double norm = norm_of(g0, n);
    /* max_norm / (norm + 1e-6) near 2: PyTorch's coefficient clamps to 1 and nothing changes. */
    assert_int_equal(gf_net_clip_grad_norm(net, 2 * norm, NULL), GF_OK);
    n0 = layer_grads(net, 0, g1);
    layer_grads(net, 1, g1 + n0);
    assert_memory_equal(g0, g1, n * sizeof *g0);
    gf_net_destroy(net);
}

static void test_clip_by_value_bounds_every_component(void **state)
{
    (void)state;
    gf_net *net = net_with_grads();
    assert_int_equal(gf_net_clip_grad_value(net, 0.5), GF_OK);
    float g[4];
    assert_int_equal(gf_layer_get_weight_grad(gf_net_layer(net, 0), g, 4), GF_OK);
    for (int i = 0; i < 4; i++)
        assert_true(fabsf(g[i]) <= 0.5f);
    gf_net_destroy(net);
}

static void test_clip_by_layer_norm_caps_each_layer(void **state)
{
    (void)state;
    gf_net *net = net_with_grads();
    assert_int_equal(gf_net_clip_grad_layer_norm(net, 0.1), GF_OK);
    for (int32_t i = 0; i < 2; i++) {
        gf_layer *l = gf_net_layer(net, i);
        float w[4], b[2];
        size_t nw = (size_t)gf_layer_weight_count(l), nb = (size_t)gf_layer_bias_count(l);
        assert_int_equal(gf_layer_get_weight_grad(l, w, nw), GF_OK);
        assert_int_equal(gf_layer_get_bias_grad(l, b, nb), GF_OK);
        double s = 0;
        for (size_t k = 0; k < nw; k++)
            s += (double)w[k] * w[k];
        for (size_t k = 0; k < nb; k++)
            s += (double)b[k] * b[k];
        assert_true(sqrt(s) <= 0.1 * (1 + 1e-6));
    }
    gf_net_destroy(net);
}

static void test_clip_with_infinite_norm_fails_and_changes_nothing(void **state)
{
    (void)state;
    gf_net *net;
    gf_layer *l;
    assert_int_equal(gf_net_create(&net, 1, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 1, GF_ACT_IDENTITY, &l), GF_OK);
    const float w[1] = {3e38f}, x[1] = {10.0f}, t[1] = {0.0f};
    assert_int_equal(gf_layer_set_weights(l, w, 1), GF_OK);
    assert_int_equal(gf_net_forward(net, x, 1, 1, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward(net, t, 1, NULL), GF_OK);
    float g0[1], g1[1];
    assert_int_equal(gf_layer_get_bias_grad(l, g0, 1), GF_OK);
    double before = 0;
    assert_int_equal(gf_net_clip_grad_norm(net, 1.0, &before), GF_ERR_NONFINITE);
    assert_false(isfinite(before));
    assert_int_equal(gf_layer_get_bias_grad(l, g1, 1), GF_OK);
    assert_memory_equal(g0, g1, sizeof g0);
    gf_net_destroy(net);
}

static void test_train_step_applies_configured_clip(void **state)
{
    (void)state;
    gf_net *net = hand_net();
    assert_int_equal(gf_net_set_clip(net, GF_CLIP_NORM, 0.01), GF_OK);
    const float x[2] = {1.0f, 2.0f}, t[1] = {10.0f};
    assert_int_equal(gf_net_train_step(net, x, 2, t, 1, 1, NULL), GF_OK);
    double n;
    assert_int_equal(gf_net_grad_norm(net, &n), GF_OK);
    assert_true(n <= 0.01 * (1 + 1e-5));
    gf_net_destroy(net);
}

/* ---- penalties in the loss ---- */

static void test_penalty_value_is_part_of_the_loss(void **state)
{
    (void)state;
    gf_net *plain = hand_net(), *pen = hand_net();
    gf_penalty *p;
    assert_int_equal(gf_penalty_create(&p, 0.0, 0.5), GF_OK);
    assert_int_equal(gf_net_set_penalty(pen, p), GF_OK);
    gf_penalty_destroy(p);
    const float x[2] = {1.0f, 2.0f}, t[1] = {0.25f};
    double a, b;
    assert_int_equal(gf_net_evaluate(plain, x, 2, t, 1, 1, &a), GF_OK);
    assert_int_equal(gf_net_evaluate(pen, x, 2, t, 1, 1, &b), GF_OK);
    /* 0.5 * l2 * sum w^2 over both weight matrices (biases excluded by default). */
    double sumsq = 0.25 + 0.0625 + 0.5625 + 0.01 + 2.25 + 0.25;
    assert_true(fabs((b - a) - 0.25 * sumsq) < 1e-6);
    gf_net_destroy(plain);
    gf_net_destroy(pen);
}

/* ---- allocation ---- */

static long counted;
static void *count_malloc(void *u, size_t n) { (void)u; counted++; return malloc(n); }
static void *count_realloc(void *u, void *p, size_t n) { (void)u; counted++; return realloc(p, n); }
static void count_free(void *u, void *p) { (void)u; free(p); }

static void test_training_step_allocates_nothing_after_the_first(void **state)
{
    (void)state;
    assert_int_equal(gf_set_allocator(count_malloc, count_realloc, count_free, NULL), GF_OK);
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 4, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 8, GF_ACT_RELU, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL), GF_OK);
    gf_optimizer *opt;
    assert_int_equal(gf_optimizer_create(&opt, GF_OPT_ADAM, 1e-3), GF_OK);
    assert_int_equal(gf_net_set_optimizer(net, opt), GF_OK);
    float x[16] = {0}, t[8] = {0};
    assert_int_equal(gf_net_train_step(net, x, 16, t, 8, 4, NULL), GF_OK);
    long before = counted;
    for (int i = 0; i < 10; i++)
        assert_int_equal(gf_net_train_step(net, x, 16, t, 8, 4, NULL), GF_OK);
    assert_int_equal(counted, before);
    gf_net_destroy(net);
    assert_int_equal(gf_live_allocations(), 0);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

static long fail_at, seen;
static void *failing_malloc(void *u, size_t n) { (void)u; return ++seen == fail_at ? NULL : malloc(n); }
static void *failing_realloc(void *u, void *p, size_t n) { (void)u; return ++seen == fail_at ? NULL : realloc(p, n); }

/* Builds and trains a small net; returns the first failing status. */
static int build_and_train(void)
{
    gf_net *net;
    int rc = gf_net_create(&net, 3, 1);
    if (rc)
        return rc;
    float x[6] = {1, 2, 3, 4, 5, 6}, t[4] = {0};
    gf_optimizer *opt = NULL;
    if (!(rc = gf_net_add_dense(net, 4, GF_ACT_RELU, NULL)) && !(rc = gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL)) &&
        !(rc = gf_optimizer_create(&opt, GF_OPT_ADAM, 1e-3)) && !(rc = gf_net_set_optimizer(net, opt)))
        rc = gf_net_train_step(net, x, 6, t, 4, 2, NULL);
    else if (opt && gf_net_optimizer(net) != opt)
        gf_optimizer_destroy(opt);
    gf_net_destroy(net);
    return rc;
}

static void test_every_allocation_failure_is_reported_without_leaks(void **state)
{
    (void)state;
    int failures = 0;
    for (fail_at = 1; fail_at < 200; fail_at++) {
        seen = 0;
        assert_int_equal(gf_set_allocator(failing_malloc, failing_realloc, count_free, NULL), GF_OK);
        int rc = build_and_train();
        assert_int_equal(gf_live_allocations(), 0);
        assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
        if (seen < fail_at) {
            assert_int_equal(rc, GF_OK);
            break;
        }
        assert_int_equal(rc, GF_ERR_NOMEM);
        failures++;
    }
    assert_true(failures > 5);
}

/* gf_net_set_threads allocates the packing buffers and the pool: each of
 * its allocations failing in turn gives GF_ERR_NOMEM, keeps the old thread
 * count and a net that still trains, and leaks nothing. */
static void test_set_threads_allocation_failure_keeps_the_old_setting(void **state)
{
    (void)state;
    int failures = 0;
    for (fail_at = 1; fail_at < 50; fail_at++) {
        assert_int_equal(gf_set_allocator(failing_malloc, failing_realloc, count_free, NULL), GF_OK);
        seen = -1000000; /* nothing fails while the net is built */
        gf_net *net;
        assert_int_equal(gf_net_create(&net, 3, 1), GF_OK);
        assert_int_equal(gf_net_add_dense(net, 4, GF_ACT_RELU, NULL), GF_OK);
        assert_int_equal(gf_net_set_threads(net, 2), GF_OK);
        seen = 0;
        int rc = gf_net_set_threads(net, 3);
        int done = seen < fail_at;
        seen = -1000000;
        if (done) {
            assert_int_equal(rc, GF_OK);
            assert_int_equal(gf_net_threads(net), 3);
        } else {
            assert_int_equal(rc, GF_ERR_NOMEM);
            assert_int_equal(gf_net_threads(net), 2);
            failures++;
        }
        float x[6] = {1, 2, 3, 4, 5, 6}, t[8] = {0};
        assert_int_equal(gf_net_train_step(net, x, 6, t, 8, 2, NULL), GF_OK);
        gf_net_destroy(net);
        assert_int_equal(gf_live_allocations(), 0);
        assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
        if (done)
            break;
    }
    assert_true(failures >= 1);
}

/* Allocations one train step of a fresh 3-4-2 net makes, with the input gradient off or on. */
static long allocations_of_a_train_step(int input_grad)
{
    assert_int_equal(gf_set_allocator(count_malloc, count_realloc, count_free, NULL), GF_OK);
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 3, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 4, GF_ACT_RELU, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL), GF_OK);
    assert_int_equal(gf_net_set_input_grad(net, input_grad), GF_OK);
    float x[6] = {1, 2, 3, 4, 5, 6}, t[4] = {0};
    long before = counted;
    assert_int_equal(gf_net_train_step(net, x, 6, t, 4, 2, NULL), GF_OK);
    long n = counted - before;
    gf_net_destroy(net);
    assert_int_equal(gf_live_allocations(), 0);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
    return n;
}

static void test_without_the_input_gradient_its_buffer_is_never_allocated(void **state)
{
    (void)state;
    assert_int_equal(allocations_of_a_train_step(0) + 1, allocations_of_a_train_step(1));
}

static void test_input_grad_turned_on_between_forward_and_backward_is_computed(void **state)
{
    (void)state;
    gf_net *late = hand_net(), *early = hand_net();
    const float x[2] = {1.0f, 2.0f}, t[1] = {0.25f};
    float dl[2], de[2];
    assert_int_equal(gf_net_set_input_grad(early, 1), GF_OK);
    assert_int_equal(gf_net_forward(early, x, 2, 1, NULL, 0), GF_OK);
    assert_int_equal(gf_net_backward(early, t, 1, NULL), GF_OK);
    assert_int_equal(gf_net_input_grad(early, de, 2), GF_OK);
    assert_int_equal(gf_net_forward(late, x, 2, 1, NULL, 0), GF_OK);
    assert_int_equal(gf_net_set_input_grad(late, 1), GF_OK);
    assert_int_equal(gf_net_backward(late, t, 1, NULL), GF_OK);
    assert_int_equal(gf_net_input_grad(late, dl, 2), GF_OK);
    assert_memory_equal(dl, de, sizeof dl);
    gf_net_destroy(late);
    gf_net_destroy(early);
}

/* Turning the input gradient on after the buffers exist allocates its buffer
 * there; when that fails the setting stays off and the net keeps training. */
static void test_set_input_grad_allocation_failure_keeps_it_off(void **state)
{
    (void)state;
    assert_int_equal(gf_set_allocator(failing_malloc, failing_realloc, count_free, NULL), GF_OK);
    seen = -1000000; /* nothing fails while the net is built and trained once */
    gf_net *net = hand_net();
    const float x[2] = {1.0f, 2.0f}, t[1] = {0.25f};
    assert_int_equal(gf_net_train_step(net, x, 2, t, 1, 1, NULL), GF_OK);
    seen = 0;
    fail_at = 1;
    assert_int_equal(gf_net_set_input_grad(net, 1), GF_ERR_NOMEM);
    assert_int_equal(seen, 1);
    seen = -1000000;
    assert_non_null(strstr(gf_net_last_error(net), "gf_net_set_input_grad"));
    assert_int_equal(gf_net_input_grad_enabled(net), 0);
    assert_int_equal(gf_net_train_step(net, x, 2, t, 1, 1, NULL), GF_OK);
    gf_net_destroy(net);
    assert_int_equal(gf_live_allocations(), 0);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

static void test_set_allocator_is_refused_while_memory_is_live(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 2, 1), GF_OK);
    assert_int_equal(gf_set_allocator(count_malloc, count_realloc, count_free, NULL), GF_ERR_STATE);
    gf_net_destroy(net);
}

/* A cap of (size_t)-1 (a negative size converted) would let the text run past the caller's buffer. */
static void test_describe_with_a_cap_beyond_any_buffer_is_refused_and_writes_nothing(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 3, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_TANH, NULL), GF_OK);
    char buf[4096];
    memset(buf, 'x', sizeof buf);
    size_t need = 0;
    assert_int_equal(gf_net_describe(net, buf, (size_t)-1, &need), GF_ERR_OVERFLOW);
    assert_true(buf[0] == 'x' && need == 0);
    gf_net_destroy(net);
}

/* 3 -> 4 (tanh) -> 2, with a training forward on 5 rows pending. */
static float pend_x[15] = {0.1f, -0.2f, 0.3f, 0.4f, -0.5f, 0.6f, -0.7f, 0.8f, 0.9f, -1.0f, 0.2f, 0.1f, 0.0f, -0.3f, 0.5f};
static float pend_t[10] = {0.5f, -0.5f, 0.25f, 0.0f, 1.0f, -1.0f, 0.1f, 0.2f, 0.3f, 0.4f};
static gf_net *net_with_pending_forward(void)
{
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 3, 1), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 4, GF_ACT_TANH, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL), GF_OK);
    assert_int_equal(gf_net_forward(net, pend_x, 15, 5, NULL, 0), GF_OK);
    return net;
}

/* The forward's cached activations belong to the old weights: a backward would mix them with the new ones and
 * give a gradient of neither net.  As after gf_net_reinit, the backward asks for a new forward. */
static void test_set_weights_between_forward_and_backward_cancels_the_pending_forward(void **state)
{
    (void)state;
    gf_net *net = net_with_pending_forward();
    float w[8] = {0.9f, 0.7f, 0.5f, 0.3f, 0.1f, -0.1f, -0.3f, -0.5f};
    double loss;
    assert_int_equal(gf_layer_set_weights(gf_net_layer(net, 1), w, 8), GF_OK);
    assert_int_equal(gf_net_backward(net, pend_t, 10, &loss), GF_ERR_STATE);
    gf_net_destroy(net);
}

static void test_set_bias_between_forward_and_backward_cancels_the_pending_forward(void **state)
{
    (void)state;
    gf_net *net = net_with_pending_forward();
    float b[4] = {0.1f, 0.2f, 0.3f, 0.4f};
    double loss;
    assert_int_equal(gf_layer_set_bias(gf_net_layer(net, 0), b, 4), GF_OK);
    assert_int_equal(gf_net_backward(net, pend_t, 10, &loss), GF_ERR_STATE);
    gf_net_destroy(net);
}

/* Gradients of the old weights would be applied to the new ones: the step needs a new forward and backward. */
static void test_set_param_between_backward_and_step_cancels_the_pending_step(void **state)
{
    (void)state;
    gf_net *net = net_with_pending_forward();
    double loss;
    assert_int_equal(gf_net_backward(net, pend_t, 10, &loss), GF_OK);
    float w[12] = {0};
    assert_int_equal(gf_layer_set_param(gf_net_layer(net, 0), 0, w, 12), GF_OK);
    assert_int_equal(gf_net_step(net), GF_ERR_STATE);
    gf_net_destroy(net);
}

/* Before the first backward a layer's activation may still change; the pending backward would take the new
 * function's derivative at the old function's outputs. */
static void test_set_activation_between_forward_and_backward_cancels_the_pending_forward(void **state)
{
    (void)state;
    gf_net *net = net_with_pending_forward();
    gf_activation *relu;
    assert_int_equal(gf_activation_create(&relu, GF_ACT_RELU), GF_OK);
    double loss;
    assert_int_equal(gf_layer_set_activation(gf_net_layer(net, 0), relu), GF_OK);
    assert_int_equal(gf_net_backward(net, pend_t, 10, &loss), GF_ERR_STATE);
    gf_activation_destroy(relu);
    gf_net_destroy(net);
}

/* As gf_net_set_penalty: gradients computed without the layer's new penalty must be redone before a step. */
static void test_layer_set_penalty_after_a_backward_cancels_the_pending_step(void **state)
{
    (void)state;
    gf_net *net = net_with_pending_forward();
    gf_penalty *p;
    assert_int_equal(gf_penalty_create(&p, 0.0, 10.0), GF_OK);
    double loss;
    assert_int_equal(gf_net_backward(net, pend_t, 10, &loss), GF_OK);
    assert_int_equal(gf_layer_set_penalty(gf_net_layer(net, 0), p), GF_OK);
    assert_int_equal(gf_net_step(net), GF_ERR_STATE);
    gf_penalty_destroy(p);
    gf_net_destroy(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_layer_output_matches_hand_computation),
        cmocka_unit_test(test_two_layer_gradients_match_hand_computation),
        cmocka_unit_test(test_input_grad_is_off_by_default_and_reading_it_is_a_state_error),
        cmocka_unit_test(test_input_grad_enabled_after_a_backward_needs_a_new_backward),
        cmocka_unit_test(test_input_grad_after_train_step_is_that_of_the_weights_before_the_step),
        cmocka_unit_test(test_input_grad_after_fit_is_that_of_the_last_mini_batch),
        cmocka_unit_test(test_input_grad_setting_leaves_the_training_bit_identical),
        cmocka_unit_test(test_set_input_grad_refuses_other_values_and_null),
        cmocka_unit_test(test_sgd_step_moves_weights_by_lr_times_gradient),
        cmocka_unit_test(test_same_seed_gives_bit_identical_weights_after_100_steps),
        cmocka_unit_test(test_different_seeds_give_different_weights),
        cmocka_unit_test(test_two_threads_give_bit_identical_results_to_one),
        cmocka_unit_test(test_every_thread_count_gives_bit_identical_weights_and_biases),
        cmocka_unit_test(test_thread_count_out_of_range_is_refused),
        cmocka_unit_test(test_xor_trains_below_0_01),
        cmocka_unit_test(test_fit_callback_receives_user_pointer_and_stops_early),
        cmocka_unit_test(test_progress_line_reports_epoch_loss_rate_and_time_left),
        cmocka_unit_test(test_predict_between_backward_and_step_keeps_the_gradients_for_the_step),
        cmocka_unit_test(test_param_count_sums_weights_and_biases),
        cmocka_unit_test(test_describe_names_layers_and_reports_needed_size),
        cmocka_unit_test(test_describe_size_query_succeeds_without_an_error_message),
        cmocka_unit_test(test_weights_set_before_adding_are_kept),
        cmocka_unit_test(test_reinit_with_same_seed_restores_initial_weights),
        cmocka_unit_test(test_clip_by_norm_reports_norm_before_and_caps_it),
        cmocka_unit_test(test_clip_by_norm_scales_by_max_norm_over_norm_plus_1e_minus_6_as_pytorch),
        cmocka_unit_test(test_clip_by_layer_norm_scales_each_layer_by_max_norm_over_norm_plus_1e_minus_6),
        cmocka_unit_test(test_clip_by_norm_never_scales_a_gradient_below_max_norm_up),
        cmocka_unit_test(test_a_clip_threshold_below_the_smallest_normal_float_is_refused_and_keeps_the_gradients),
        cmocka_unit_test(test_grad_norm_before_any_backward_is_a_state_error_like_clipping),
        cmocka_unit_test(test_clip_by_value_bounds_every_component),
        cmocka_unit_test(test_clip_by_layer_norm_caps_each_layer),
        cmocka_unit_test(test_clip_with_infinite_norm_fails_and_changes_nothing),
        cmocka_unit_test(test_train_step_applies_configured_clip),
        cmocka_unit_test(test_penalty_value_is_part_of_the_loss),
        cmocka_unit_test(test_training_step_allocates_nothing_after_the_first),
        cmocka_unit_test(test_every_allocation_failure_is_reported_without_leaks),
        cmocka_unit_test(test_without_the_input_gradient_its_buffer_is_never_allocated),
        cmocka_unit_test(test_input_grad_turned_on_between_forward_and_backward_is_computed),
        cmocka_unit_test(test_set_input_grad_allocation_failure_keeps_it_off),
        cmocka_unit_test(test_set_threads_allocation_failure_keeps_the_old_setting),
        cmocka_unit_test(test_set_allocator_is_refused_while_memory_is_live),
        cmocka_unit_test(test_describe_with_a_cap_beyond_any_buffer_is_refused_and_writes_nothing),
        cmocka_unit_test(test_set_weights_between_forward_and_backward_cancels_the_pending_forward),
        cmocka_unit_test(test_set_bias_between_forward_and_backward_cancels_the_pending_forward),
        cmocka_unit_test(test_set_param_between_backward_and_step_cancels_the_pending_step),
        cmocka_unit_test(test_set_activation_between_forward_and_backward_cancels_the_pending_forward),
        cmocka_unit_test(test_layer_set_penalty_after_a_backward_cancels_the_pending_step),
    };
    return cmocka_run_group_tests_name("net", tests, NULL, NULL);
}
