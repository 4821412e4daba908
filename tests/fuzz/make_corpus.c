/*
 * make_corpus.c — writes the fuzzer's seed corpus (tests/fuzz/corpus): small valid model files that between
 * them use every layer kind, activation, initializer, loss, clipping mode and optimizer, with and without
 * training state.  `make fuzz-corpus` runs it; the files are committed, and tests/test_model_corpus.c checks
 * that every one of them still loads, so they also keep older format versions readable.
 */
#include "gradflow.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *dir;
static int failures;

static void ok(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "make_corpus: %s: %s\n", what, gf_last_error());
        exit(1);
    }
}

static void write_model(gf_net *net, uint32_t flags, const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s.gfm", dir, name);
    if (gf_net_save(net, path, flags)) {
        fprintf(stderr, "make_corpus: %s: %s\n", path, gf_last_error());
        failures++;
    }
}

static void train(gf_net *net, int steps)
{
    int64_t in = gf_net_input_size(net), out = gf_net_output_size(net); /* per sample, any shape */
    float x[4 * 32], t[4 * 32];
    for (int i = 0; i < 4 * in; i++)
        x[i] = (float)((i * 7) % 11) / 11.0f - 0.5f;
    for (int i = 0; i < 4 * out; i++)
        t[i] = (float)((i * 5) % 3) / 3.0f;
    for (int s = 0; s < steps; s++)
        ok(gf_net_train_step(net, x, (size_t)(4 * in), t, (size_t)(4 * out), 4, NULL), "train");
}

static gf_net *new_net(int64_t inputs, uint64_t seed)
{
    gf_net *net;
    ok(gf_net_create(&net, inputs, seed), "create");
    return net;
}

static void every_optimizer(void)
{
    static const char *names[] = {"sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adam", "adamw"};
    for (int32_t k = GF_OPT_SGD; k <= GF_OPT_ADAMW; k++) {
        gf_net *net = new_net(3, (uint64_t)k);
        ok(gf_net_add_dense(net, 4, GF_ACT_TANH, NULL), "dense");
        ok(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL), "dense");
        gf_optimizer *o;
        ok(gf_optimizer_create(&o, k, 0.05), "optimizer");
        ok(gf_net_set_optimizer(net, o), "set optimizer");
        train(net, 3);
        char name[64];
        snprintf(name, sizeof name, "dense_%s_training", names[k]);
        write_model(net, GF_SAVE_TRAINING_STATE, name);
        snprintf(name, sizeof name, "dense_%s", names[k]);
        write_model(net, 0, name);
        gf_net_destroy(net);
    }
}

static void every_activation(void)
{
    gf_net *net = new_net(3, 1);
    for (int32_t a = GF_ACT_IDENTITY; a <= GF_ACT_GELU; a++)
        ok(gf_net_add_dense(net, 3, a, NULL), "dense");
    gf_layer *leaky = gf_net_layer(net, GF_ACT_LEAKY_RELU), *elu = gf_net_layer(net, GF_ACT_ELU);
    gf_activation *act;
    ok(gf_activation_create(&act, GF_ACT_LEAKY_RELU), "activation");
    ok(gf_activation_set(act, GF_ACT_PARAM_SLOPE, 0.3), "slope");
    ok(gf_layer_set_activation(leaky, act), "set");
    gf_activation_destroy(act);
    ok(gf_activation_create(&act, GF_ACT_ELU), "activation");
    ok(gf_activation_set(act, GF_ACT_PARAM_ALPHA, 0.7), "alpha");
    ok(gf_layer_set_activation(elu, act), "set");
    gf_activation_destroy(act);
    write_model(net, 0, "dense_activations");
    gf_net_destroy(net);
}

static void every_initializer(void)
{
    gf_net *net = new_net(3, 2);
    for (int32_t k = GF_INIT_ZEROS; k <= GF_INIT_DEFAULT; k++) {
        gf_layer *l;
        ok(gf_layer_dense_create(&l, 3, 3), "layer");
        gf_init *in;
        ok(gf_init_create(&in, k), "init");
        if (k == GF_INIT_CONSTANT || k == GF_INIT_UNIFORM || k == GF_INIT_NORMAL)
            ok(gf_init_set_range(in, -0.2, 0.3), "range");
        if (k == GF_INIT_HE_UNIFORM || k == GF_INIT_HE_NORMAL)
            ok(gf_init_set_mode(in, GF_FAN_OUT), "mode");
        if (k == GF_INIT_XAVIER_NORMAL || k == GF_INIT_ORTHOGONAL)
            ok(gf_init_set_gain(in, 1.5), "gain");
        ok(gf_layer_set_weight_init(l, in), "weight init");
        if (k != GF_INIT_ORTHOGONAL)
            ok(gf_layer_set_bias_init(l, in), "bias init");
        gf_init_destroy(in);
        ok(gf_net_add(net, l), "add");
    }
    write_model(net, 0, "dense_initializers");
    gf_net_destroy(net);
}

static void every_loss_and_clip(void)
{
    static const char *losses[] = {"mse", "mae", "huber", "bce_logits", "softmax_ce", "softmax_ce_labels"};
    for (int32_t k = GF_LOSS_MSE; k <= GF_LOSS_SOFTMAX_CE_LABELS; k++) {
        gf_net *net = new_net(2, 3);
        ok(gf_net_add_dense(net, 3, GF_ACT_RELU, NULL), "dense");
        gf_loss *loss;
        ok(gf_loss_create(&loss, k), "loss");
        if (k == GF_LOSS_HUBER)
            ok(gf_loss_set(loss, GF_LOSS_PARAM_DELTA, 0.25), "delta");
        ok(gf_net_set_loss(net, loss), "set loss");
        gf_loss_destroy(loss);
        ok(gf_net_set_clip(net, k % 4, 0.5), "clip");
        char name[64];
        snprintf(name, sizeof name, "dense_loss_%s", losses[k]);
        write_model(net, 0, name);
        gf_net_destroy(net);
    }
}

/* Every shape kind and the layer kinds that take them: an image flattened into dense layers, dense on a
 * sequence (applied at every step), and a signal flattened. */
static void shapes_and_kinds(void)
{
    const int64_t image[3] = {2, 3, 3}, seq[2] = {4, 3}, signal[2] = {2, 5};
    gf_net *net;
    ok(gf_net_create_shaped(&net, GF_SHAPE_IMAGE, image, 3, 5), "image net");
    ok(gf_net_add_flatten(net, NULL), "flatten");
    ok(gf_net_add_dense(net, 4, GF_ACT_TANH, NULL), "dense");
    write_model(net, 0, "flatten_image");
    gf_net_destroy(net);
    ok(gf_net_create_shaped(&net, GF_SHAPE_SEQUENCE, seq, 2, 6), "sequence net");
    ok(gf_net_add_dense(net, 2, GF_ACT_RELU, NULL), "dense");
    train(net, 2);
    write_model(net, GF_SAVE_TRAINING_STATE, "dense_sequence_training");
    gf_net_destroy(net);
    ok(gf_net_create_shaped(&net, GF_SHAPE_SIGNAL, signal, 2, 7), "signal net");
    ok(gf_net_add_flatten(net, NULL), "flatten");
    write_model(net, 0, "flatten_signal");
    gf_net_destroy(net);
}

/* A conv layer of kind (GF_LAYER_CONV1D / _CONV2D) with every option away from its default where it fits. */
static void add_conv(gf_net *net, int32_t kind, int64_t outputs, int64_t kernel, int64_t pad, int64_t dilation,
                     int64_t groups, int32_t act)
{
    gf_layer *l;
    ok(gf_layer_create(&l, kind), "conv");
    ok(gf_layer_set_option(l, GF_LAYER_OUTPUTS, (double)outputs), "outputs");
    ok(gf_layer_set_option(l, GF_LAYER_KERNEL_W, (double)kernel), "kernel");
    ok(gf_layer_set_option(l, GF_LAYER_PAD_W, (double)pad), "pad");
    ok(gf_layer_set_option(l, GF_LAYER_DILATION_W, (double)dilation), "dilation");
    ok(gf_layer_set_option(l, GF_LAYER_GROUPS, (double)groups), "groups");
    if (kind == GF_LAYER_CONV2D) {
        ok(gf_layer_set_option(l, GF_LAYER_KERNEL_H, (double)kernel), "kernel h");
        ok(gf_layer_set_option(l, GF_LAYER_PAD_H, (double)pad), "pad h");
    }
    gf_activation *a;
    ok(gf_activation_create(&a, act), "activation");
    ok(gf_layer_set_activation(l, a), "set activation");
    gf_activation_destroy(a);
    ok(gf_net_add(net, l), "add conv");
}

/* A pooling layer of kind over kernel windows with stride and padding. */
static void add_pool(gf_net *net, int32_t kind, int64_t kernel, int64_t stride, int64_t pad, bool two_d)
{
    gf_layer *l;
    ok(gf_layer_create(&l, kind), "pool");
    ok(gf_layer_set_option(l, GF_LAYER_KERNEL_W, (double)kernel), "kernel");
    ok(gf_layer_set_option(l, GF_LAYER_STRIDE_W, (double)stride), "stride");
    ok(gf_layer_set_option(l, GF_LAYER_PAD_W, (double)pad), "pad");
    if (two_d) {
        ok(gf_layer_set_option(l, GF_LAYER_KERNEL_H, (double)kernel), "kernel h");
        ok(gf_layer_set_option(l, GF_LAYER_STRIDE_H, (double)stride), "stride h");
        ok(gf_layer_set_option(l, GF_LAYER_PAD_H, (double)pad), "pad h");
    }
    ok(gf_net_add(net, l), "add pool");
}

/* The convolution and pooling kinds (issue 17): an image net (grouped and depthwise conv2d, max and average
 * pooling, global average pooling) and a signal net (dilated grouped conv1d, 1-D pooling), trained a few steps. */
static void conv_and_pooling(void)
{
    const int64_t image[3] = {2, 4, 4}, signal[2] = {2, 16};
    gf_net *net;
    ok(gf_net_create_shaped(&net, GF_SHAPE_IMAGE, image, 3, 8), "image net");
    add_conv(net, GF_LAYER_CONV2D, 4, 3, 1, 1, 2, GF_ACT_RELU); /* 4 x 4 x 4 */
    add_pool(net, GF_LAYER_MAXPOOL2D, 2, 0, 0, true);           /* 4 x 2 x 2 */
    add_pool(net, GF_LAYER_AVGPOOL2D, 2, 1, 1, true);           /* 4 x 3 x 3 */
    add_conv(net, GF_LAYER_CONV2D, 4, 2, 0, 1, 4, GF_ACT_TANH); /* depthwise, 4 x 2 x 2 */
    ok(gf_net_add_global_avgpool(net, NULL), "global");
    ok(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL), "dense");
    train(net, 2);
    write_model(net, GF_SAVE_TRAINING_STATE, "conv2d_pooling_training");
    gf_net_destroy(net);
    ok(gf_net_create_shaped(&net, GF_SHAPE_SIGNAL, signal, 2, 9), "signal net");
    add_conv(net, GF_LAYER_CONV1D, 4, 3, 2, 2, 2, GF_ACT_LEAKY_RELU); /* 4 x 16 */
    add_pool(net, GF_LAYER_MAXPOOL1D, 2, 0, 0, false);                /* 4 x 8 */
    add_pool(net, GF_LAYER_AVGPOOL1D, 3, 2, 1, false);                /* 4 x 4 */
    ok(gf_net_add_global_avgpool(net, NULL), "global");
    ok(gf_net_add_dense(net, 3, GF_ACT_IDENTITY, NULL), "dense");
    write_model(net, 0, "conv1d_pooling");
    gf_net_destroy(net);
}

/* The recurrent kinds: every step of an RNN (sigmoid) into an LSTM (forget bias 2, truncation 2) into a GRU
 * (last step) into dense, with its training state; and an LSTM alone. */
static void recurrent_kinds(void)
{
    const int64_t seq[2] = {4, 3};
    gf_net *net;
    gf_layer *l;
    ok(gf_net_create_shaped(&net, GF_SHAPE_SEQUENCE, seq, 2, 8), "sequence net");
    ok(gf_net_add_rnn(net, 3, GF_ACT_SIGMOID, 1, NULL), "rnn");
    ok(gf_layer_create(&l, GF_LAYER_LSTM), "lstm");
    ok(gf_layer_set_option(l, GF_LAYER_HIDDEN, 2), "hidden");
    ok(gf_layer_set_option(l, GF_LAYER_RETURN_SEQUENCES, 1), "sequences");
    ok(gf_layer_set_option(l, GF_LAYER_TRUNCATE, 2), "truncate");
    ok(gf_layer_set_option(l, GF_LAYER_FORGET_BIAS, 2.0), "forget bias");
    ok(gf_net_add(net, l), "add lstm");
    ok(gf_net_add_gru(net, 2, 0, NULL), "gru");
    ok(gf_net_add_dense(net, 2, GF_ACT_IDENTITY, NULL), "dense");
    train(net, 2);
    write_model(net, GF_SAVE_TRAINING_STATE, "recurrent_training");
    gf_net_destroy(net);
    ok(gf_net_create_shaped(&net, GF_SHAPE_SEQUENCE, seq, 2, 9), "sequence net");
    ok(gf_net_add_lstm(net, 3, 0, NULL), "lstm");
    write_model(net, 0, "lstm");
    gf_net_destroy(net);
}

static void penalties_and_settings(void)
{
    gf_net *net = new_net(4, 4);
    gf_layer *l;
    ok(gf_net_add_dense(net, 3, GF_ACT_SIGMOID, &l), "dense");
    gf_penalty *p;
    ok(gf_penalty_create(&p, 0.01, 0.02), "penalty");
    ok(gf_penalty_set_include_bias(p, 1), "include bias");
    ok(gf_layer_set_penalty(l, p), "layer penalty");
    ok(gf_net_set_penalty(net, p), "net penalty");
    gf_penalty_destroy(p);
    ok(gf_net_set_input_grad(net, 1), "input grad");
    ok(gf_net_add_metric(net, GF_METRIC_BINARY_ACCURACY, 0.25), "binary accuracy");
    ok(gf_net_add_metric(net, GF_METRIC_TOP_K, 2), "top-k");
    ok(gf_net_add_metric(net, GF_METRIC_MAE, 0), "mae");
    write_model(net, 0, "dense_penalties");
    train(net, 2);
    write_model(net, GF_SAVE_TRAINING_STATE, "dense_penalties_training");
    gf_net_destroy(net);
}

int main(int argc, char **argv)
{
    dir = argc > 1 ? argv[1] : "tests/fuzz/corpus";
    gf_net *empty = new_net(5, 0);
    write_model(empty, GF_SAVE_TRAINING_STATE, "empty");
    gf_net_destroy(empty);
    every_optimizer();
    every_activation();
    every_initializer();
    every_loss_and_clip();
    shapes_and_kinds();
    conv_and_pooling();
    recurrent_kinds();
    penalties_and_settings();
    return failures != 0;
}
