/* test_pooling.c — max, average (1-D and 2-D) and global average pooling: forward against direct loops on
 * random shapes, strides and paddings; input gradients against central differences (max pooling on values
 * spaced wider than the step, so no perturbation moves an argmax); shape and option errors at add. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradflow.h"

#include "gradcheck.h"

typedef struct pcfg {
    int32_t kind;
    int64_t c, h, w, kh, kw, sh, sw, ph, pw; /* sh, sw: 0 = the window */
} pcfg;

static bool one_d(int32_t kind) { return kind == GF_LAYER_MAXPOOL1D || kind == GF_LAYER_AVGPOOL1D; }
static bool is_max(int32_t kind) { return kind == GF_LAYER_MAXPOOL1D || kind == GF_LAYER_MAXPOOL2D; }

static gf_net *pool_net(const pcfg *p)
{
    gf_net *net;
    const int64_t d2[3] = {p->c, p->h, p->w}, d1[2] = {p->c, p->w};
    if (one_d(p->kind))
        assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_SIGNAL, d1, 2, 1), GF_OK);
    else
        assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_IMAGE, d2, 3, 1), GF_OK);
    gf_layer *l;
    assert_int_equal(gf_layer_create(&l, p->kind), GF_OK);
    assert_int_equal(gf_layer_set_option(l, GF_LAYER_KERNEL_W, (double)p->kw), GF_OK);
    assert_int_equal(gf_layer_set_option(l, GF_LAYER_STRIDE_W, (double)p->sw), GF_OK);
    assert_int_equal(gf_layer_set_option(l, GF_LAYER_PAD_W, (double)p->pw), GF_OK);
    if (!one_d(p->kind)) {
        assert_int_equal(gf_layer_set_option(l, GF_LAYER_KERNEL_H, (double)p->kh), GF_OK);
        assert_int_equal(gf_layer_set_option(l, GF_LAYER_STRIDE_H, (double)p->sh), GF_OK);
        assert_int_equal(gf_layer_set_option(l, GF_LAYER_PAD_H, (double)p->ph), GF_OK);
    }
    assert_int_equal(gf_net_add(net, l), GF_OK);
    return net;
}

/* Pooling written out: padding never wins a max and counts in an average's divisor. */
static void reference(const pcfg *p, const float *x, int64_t batch, float *out)
{
    bool one = one_d(p->kind);
    int64_t h = one ? 1 : p->h, kh = one ? 1 : p->kh, ph = one ? 0 : p->ph;
    int64_t sh = one ? 1 : p->sh ? p->sh : p->kh, sw = p->sw ? p->sw : p->kw;
    int64_t oh = (h + 2 * ph - kh) / sh + 1, ow = (p->w + 2 * p->pw - p->kw) / sw + 1;
    for (int64_t q = 0; q < batch * p->c; q++)
        for (int64_t oy = 0; oy < oh; oy++)
            for (int64_t ox = 0; ox < ow; ox++) {
                double m = -INFINITY, s = 0;
                for (int64_t i = 0; i < kh; i++)
                    for (int64_t j = 0; j < p->kw; j++) {
                        int64_t iy = oy * sh - ph + i, ix = ox * sw - p->pw + j;
                        if (iy < 0 || iy >= h || ix < 0 || ix >= p->w)
                            continue;
                        double v = x[(q * h + iy) * p->w + ix];
                        m = fmax(m, v);
                        s += v;
                    }
                out[(q * oh + oy) * ow + ox] = (float)(is_max(p->kind) ? m : s / (double)(kh * p->kw));
            }
}

static int64_t rnd(int64_t lo, int64_t hi) { return lo + (int64_t)(((unsigned)rand()) % (unsigned)(hi - lo + 1)); }

static void check_against_reference(const pcfg *p, int64_t batch)
{
    gf_net *net = pool_net(p);
    size_t nx = (size_t)(batch * gf_net_input_size(net)), ny = (size_t)(batch * gf_net_output_size(net));
    float *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y), *r = malloc(ny * sizeof *r);
    gc_fill(x, nx);
    assert_int_equal(gf_net_forward(net, x, nx, batch, y, ny), GF_OK);
    reference(p, x, batch, r);
    for (size_t i = 0; i < ny; i++)
        if (fabsf(y[i] - r[i]) > 1e-6f)
            fail_msg("%s output %zu: %g, reference %g", gf_layer_kind_name(p->kind), i, (double)y[i], (double)r[i]);
    free(x), free(y), free(r);
    gf_net_destroy(net);
}

static pcfg random_pcfg(int32_t kind)
{
    pcfg p = {.kind = kind, .c = rnd(1, 3)};
    p.kw = rnd(1, 4), p.sw = rnd(0, 3), p.pw = rnd(0, p.kw / 2), p.w = p.kw + rnd(0, 7);
    p.kh = rnd(1, 4), p.sh = rnd(0, 3), p.ph = rnd(0, p.kh / 2), p.h = p.kh + rnd(0, 6);
    return p;
}

static void test_pooling_matches_direct_loops_on_random_shapes(void **state)
{
    (void)state;
    const int32_t kinds[4] = {GF_LAYER_MAXPOOL1D, GF_LAYER_MAXPOOL2D, GF_LAYER_AVGPOOL1D, GF_LAYER_AVGPOOL2D};
    srand(3);
    for (int k = 0; k < 4; k++)
        for (int t = 0; t < 40; t++) {
            pcfg p = random_pcfg(kinds[k]);
            check_against_reference(&p, rnd(1, 3));
        }
}

static void test_global_average_pooling_gives_every_channel_mean_as_a_vector(void **state)
{
    (void)state;
    gf_net *net;
    const int64_t d[3] = {2, 2, 3};
    assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_IMAGE, d, 3, 1), GF_OK);
    assert_int_equal(gf_net_add_global_avgpool(net, NULL), GF_OK);
    int32_t kind, rank;
    int64_t dims[3];
    assert_int_equal(gf_net_output_shape(net, &kind, dims, 3, &rank), GF_OK);
    assert_int_equal(kind, GF_SHAPE_VECTOR);
    assert_int_equal(rank, 1);
    assert_int_equal(dims[0], 2);
    const float x[12] = {1, 2, 3, 4, 5, 6, -1, -1, -1, -1, -1, 5};
    float y[2];
    assert_int_equal(gf_net_predict(net, x, 12, 1, y, 2), GF_OK);
    assert_true(fabsf(y[0] - 3.5f) < 1e-6f);
    assert_true(fabsf(y[1] - 0.0f) < 1e-6f);
    gf_net_destroy(net);
}

/* Ties go to the first maximum (PyTorch's choice), which is where the gradient goes. */
static void test_max_pooling_sends_the_gradient_to_the_first_of_equal_maxima(void **state)
{
    (void)state;
    pcfg p = {GF_LAYER_MAXPOOL1D, 1, 1, 4, 1, 2, 0, 0, 0, 0};
    gf_net *net = pool_net(&p);
    assert_int_equal(gf_net_set_input_grad(net, 1), GF_OK);
    const float x[4] = {2, 2, 1, 3}, g[2] = {1, 1};
    float y[2], dx[4];
    assert_int_equal(gf_net_forward(net, x, 4, 1, y, 2), GF_OK);
    assert_true(y[0] == 2 && y[1] == 3);
    assert_int_equal(gf_net_backward_from(net, g, 2), GF_OK);
    assert_int_equal(gf_net_input_grad(net, dx, 4), GF_OK);
    assert_true(dx[0] == 1 && dx[1] == 0 && dx[2] == 0 && dx[3] == 1);
    gf_net_destroy(net);
}

/* A NaN from the layer before (a conv whose products overflow: inf - inf) wins its window, as in PyTorch; an
 * Inf after it does not replace it. */
static void test_max_pooling_propagates_nan_from_the_layer_before(void **state)
{
    (void)state;
    gf_net *net;
    const int64_t d[2] = {1, 5};
    assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_SIGNAL, d, 2, 1), GF_OK);
    gf_layer *c;
    assert_int_equal(gf_net_add_conv1d(net, 1, 2, 1, 0, GF_ACT_IDENTITY, &c), GF_OK);
    const float w[2] = {1e38f, -1e38f}, b = 0;
    assert_int_equal(gf_layer_set_weights(c, w, 2), GF_OK);
    assert_int_equal(gf_layer_set_bias(c, &b, 1), GF_OK);
    assert_int_equal(gf_net_add_maxpool1d(net, 2, 0, NULL), GF_OK);
    const float x[5] = {10, 10, 1, 0, 0};
    float y[2];
    assert_int_equal(gf_net_predict(net, x, 5, 1, y, 2), GF_OK);
    assert_true(isnan(y[0])); /* window [NaN, +Inf] */
    assert_true(y[1] == 1e38f); /* window [1e38, 0] */
    gf_net_destroy(net);
}

/* The same through the unrolled 2 x 2 window: rows [NaN, Inf, 1e38, 0] and zeros. */
static void test_max_pooling_2x2_propagates_nan_from_the_layer_before(void **state)
{
    (void)state;
    gf_net *net;
    const int64_t d[3] = {1, 2, 5};
    assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_IMAGE, d, 3, 1), GF_OK);
    gf_layer *c;
    assert_int_equal(gf_layer_create(&c, GF_LAYER_CONV2D), GF_OK);
    assert_int_equal(gf_layer_set_option(c, GF_LAYER_OUTPUTS, 1), GF_OK);
    assert_int_equal(gf_layer_set_option(c, GF_LAYER_KERNEL_H, 1), GF_OK);
    assert_int_equal(gf_layer_set_option(c, GF_LAYER_KERNEL_W, 2), GF_OK);
    assert_int_equal(gf_net_add(net, c), GF_OK);
    const float w[2] = {1e38f, -1e38f}, b = 0;
    assert_int_equal(gf_layer_set_weights(c, w, 2), GF_OK);
    assert_int_equal(gf_layer_set_bias(c, &b, 1), GF_OK);
    assert_int_equal(gf_net_add_maxpool2d(net, 2, 0, NULL), GF_OK);
    const float x[10] = {10, 10, 1, 0, 0, 0, 0, 0, 0, 0};
    float y[2];
    assert_int_equal(gf_net_predict(net, x, 10, 1, y, 2), GF_OK);
    assert_true(isnan(y[0]));
    assert_true(y[1] == 1e38f);
    gf_net_destroy(net);
}

/* ---- gradients ---- */

/* Values i * 0.05 in a shuffled order: neighbours differ by more than the gradient check's step. */
static void spaced_fill(float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)i * 0.05f - (float)n * 0.025f;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)((gc_draw() + 1.0f) * 0.5f * (float)(i + 1)) % (i + 1);
        float t = x[i];
        x[i] = x[j];
        x[j] = t;
    }
}

static void check_pool_gradients(const pcfg *p, int64_t batch)
{
    gf_net *net = pool_net(p);
    assert_int_equal(gf_net_set_input_grad(net, 1), GF_OK);
    assert_int_equal(gf_net_add_flatten(net, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL), GF_OK);
    size_t nx = (size_t)(batch * gf_net_input_size(net)), nt = (size_t)(batch * 2);
    float x[GC_MAXN], t[16];
    spaced_fill(x, nx);
    gc_fill(t, nt);
    gc_check_net(net, x, nx, t, nt, batch);
    gf_net_destroy(net);
}

static void test_maxpool2d_gradients_with_stride_and_padding(void **state)
{
    (void)state;
    pcfg p = {GF_LAYER_MAXPOOL2D, 2, 7, 6, 3, 2, 2, 2, 1, 1};
    check_pool_gradients(&p, 2);
}

static void test_overlapping_maxpool2d_gradients(void **state)
{
    (void)state;
    pcfg p = {GF_LAYER_MAXPOOL2D, 2, 5, 5, 3, 3, 1, 1, 0, 0};
    check_pool_gradients(&p, 2);
}

static void test_avgpool2d_gradients_with_stride_and_padding(void **state)
{
    (void)state;
    pcfg p = {GF_LAYER_AVGPOOL2D, 2, 7, 5, 3, 2, 2, 1, 1, 1};
    check_pool_gradients(&p, 2);
}

static void test_maxpool1d_gradients(void **state)
{
    (void)state;
    pcfg p = {GF_LAYER_MAXPOOL1D, 3, 1, 11, 1, 3, 0, 2, 0, 1};
    check_pool_gradients(&p, 2);
}

static void test_avgpool1d_gradients(void **state)
{
    (void)state;
    pcfg p = {GF_LAYER_AVGPOOL1D, 3, 1, 10, 1, 4, 0, 3, 0, 2};
    check_pool_gradients(&p, 2);
}

static void test_global_avgpool_gradients_on_signals_and_images(void **state)
{
    (void)state;
    for (int rank = 2; rank <= 3; rank++) {
        gf_net *net;
        const int64_t d[3] = {3, 4, 5};
        assert_int_equal(gf_net_create_shaped(&net, rank == 3 ? GF_SHAPE_IMAGE : GF_SHAPE_SIGNAL, d, rank, 1), GF_OK);
        assert_int_equal(gf_net_set_input_grad(net, 1), GF_OK);
        assert_int_equal(gf_net_add_global_avgpool(net, NULL), GF_OK);
        assert_int_equal(gf_net_add_dense(net, 2, GF_ACT_TANH, NULL), GF_OK);
        size_t nx = (size_t)(2 * gf_net_input_size(net));
        float x[120], t[4];
        gc_fill(x, nx);
        gc_fill(t, 4);
        gc_check_net(net, x, nx, t, 4, 2);
        gf_net_destroy(net);
    }
}

/* ---- shapes ---- */

static void assert_refused(gf_net *net, int rc, int want, const char *a, const char *b)
{
    assert_int_equal(rc, want);
    const char *m = gf_net_last_error(net);
    if (!strstr(m, a) || (b && !strstr(m, b)))
        fail_msg("message \"%s\" lacks \"%s\" or \"%s\"", m, a, b ? b : "");
}

/* Windows up to GF_LAYER_* option limits fit a padded input: kh * kw (2^64 here) must not wrap to 0 and turn the
 * mean of ones into Inf. */
static void test_avgpool2d_with_a_window_whose_area_overflows_int64_gives_finite_means(void **state)
{
    (void)state;
    const double k = 4294967296.0; /* 2^32 per axis, padding 2^31: one window over the whole 3 x 3 input */
    pcfg p = {GF_LAYER_AVGPOOL2D, 1, 3, 3, (int64_t)k, (int64_t)k, 0, 0, (int64_t)(k / 2), (int64_t)(k / 2)};
    gf_net *net = pool_net(&p);
    assert_int_equal(gf_net_output_size(net), 1);
    float x[9], y = 0.0f, dx[9];
    for (int i = 0; i < 9; i++)
        x[i] = 1.0f;
    assert_int_equal(gf_net_set_input_grad(net, 1), GF_OK);
    assert_int_equal(gf_net_forward(net, x, 9, 1, &y, 1), GF_OK);
    assert_true(y == (float)(9.0 / (k * k)));
    const float g = 1.0f;
    assert_int_equal(gf_net_backward_from(net, &g, 1), GF_OK);
    assert_int_equal(gf_net_input_grad(net, dx, 9), GF_OK);
    for (int i = 0; i < 9; i++)
        assert_true(dx[i] == (float)(1.0 / (k * k)));
    gf_net_destroy(net);
}

static void test_a_window_larger_than_the_input_is_refused_at_add(void **state)
{
    (void)state;
    gf_net *net;
    const int64_t d[3] = {1, 3, 3};
    assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_IMAGE, d, 3, 1), GF_OK);
    assert_refused(net, gf_net_add_maxpool2d(net, 4, 0, NULL), GF_ERR_SHAPE, "layer 0 (maxpool2d)", "IMAGE(1 x 3 x 3)");
    assert_int_equal(gf_net_layer_count(net), 0);
    gf_net_destroy(net);
}

static void test_pool_padding_over_half_the_window_is_refused(void **state)
{
    (void)state;
    gf_net *net;
    const int64_t d[2] = {1, 8};
    assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_SIGNAL, d, 2, 1), GF_OK);
    gf_layer *l;
    assert_int_equal(gf_layer_create(&l, GF_LAYER_AVGPOOL1D), GF_OK);
    assert_int_equal(gf_layer_set_option(l, GF_LAYER_KERNEL_W, 3), GF_OK);
    assert_int_equal(gf_layer_set_option(l, GF_LAYER_PAD_W, 2), GF_OK);
    assert_refused(net, gf_net_add(net, l), GF_ERR_INVALID, "at most half", NULL);
    gf_layer_destroy(l);
    gf_net_destroy(net);
}

static void test_pooling_refuses_the_wrong_input_kind_and_takes_no_activation(void **state)
{
    (void)state;
    gf_net *net;
    assert_int_equal(gf_net_create(&net, 8, 1), GF_OK);
    assert_refused(net, gf_net_add_maxpool1d(net, 2, 0, NULL), GF_ERR_SHAPE, "expects SIGNAL(C x L)", "VECTOR(8)");
    assert_refused(net, gf_net_add_avgpool2d(net, 2, 0, NULL), GF_ERR_SHAPE, "expects IMAGE", "VECTOR(8)");
    assert_refused(net, gf_net_add_global_avgpool(net, NULL), GF_ERR_SHAPE, "SIGNAL(C x L) or IMAGE", "VECTOR(8)");
    gf_net_destroy(net);
    gf_layer *l;
    gf_activation *a;
    assert_int_equal(gf_layer_create(&l, GF_LAYER_MAXPOOL2D), GF_OK);
    assert_int_equal(gf_activation_create(&a, GF_ACT_RELU), GF_OK);
    assert_int_not_equal(gf_layer_set_activation(l, a), GF_OK);
    gf_activation_destroy(a);
    gf_layer_destroy(l);
}

static void test_a_pool_without_a_window_is_refused(void **state)
{
    (void)state;
    gf_net *net;
    const int64_t d[3] = {1, 4, 4};
    assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_IMAGE, d, 3, 1), GF_OK);
    gf_layer *l;
    assert_int_equal(gf_layer_create(&l, GF_LAYER_MAXPOOL2D), GF_OK);
    assert_int_equal(gf_layer_set_option(l, GF_LAYER_KERNEL_W, 2), GF_OK);
    assert_refused(net, gf_net_add(net, l), GF_ERR_INVALID, "GF_LAYER_KERNEL_H", NULL);
    gf_layer_destroy(l);
    gf_net_destroy(net);
}

static void test_pool_stride_defaults_to_the_window(void **state)
{
    (void)state;
    gf_net *net;
    const int64_t d[3] = {2, 9, 8};
    assert_int_equal(gf_net_create_shaped(&net, GF_SHAPE_IMAGE, d, 3, 1), GF_OK);
    assert_int_equal(gf_net_add_maxpool2d(net, 2, 0, NULL), GF_OK);
    int32_t kind, rank;
    int64_t dims[3];
    assert_int_equal(gf_net_output_shape(net, &kind, dims, 3, &rank), GF_OK);
    assert_int_equal(dims[0], 2), assert_int_equal(dims[1], 4), assert_int_equal(dims[2], 4);
    assert_int_equal(gf_layer_param_block_count(gf_net_layer(net, 0)), 0);
    gf_net_destroy(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pooling_matches_direct_loops_on_random_shapes),
        cmocka_unit_test(test_global_average_pooling_gives_every_channel_mean_as_a_vector),
        cmocka_unit_test(test_max_pooling_sends_the_gradient_to_the_first_of_equal_maxima),
        cmocka_unit_test(test_max_pooling_propagates_nan_from_the_layer_before),
        cmocka_unit_test(test_max_pooling_2x2_propagates_nan_from_the_layer_before),
        cmocka_unit_test(test_maxpool2d_gradients_with_stride_and_padding),
        cmocka_unit_test(test_overlapping_maxpool2d_gradients),
        cmocka_unit_test(test_avgpool2d_gradients_with_stride_and_padding),
        cmocka_unit_test(test_maxpool1d_gradients),
        cmocka_unit_test(test_avgpool1d_gradients),
        cmocka_unit_test(test_global_avgpool_gradients_on_signals_and_images),
        cmocka_unit_test(test_avgpool2d_with_a_window_whose_area_overflows_int64_gives_finite_means),
        cmocka_unit_test(test_a_window_larger_than_the_input_is_refused_at_add),
        cmocka_unit_test(test_pool_padding_over_half_the_window_is_refused),
        cmocka_unit_test(test_pooling_refuses_the_wrong_input_kind_and_takes_no_activation),
        cmocka_unit_test(test_a_pool_without_a_window_is_refused),
        cmocka_unit_test(test_pool_stride_defaults_to_the_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
