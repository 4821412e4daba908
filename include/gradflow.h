/*
 * gradflow.h — the whole public API of libgradflow.
 *
 * libgradflow trains small neural networks with hand-written backprop and
 * reports, layer by layer, whether gradients flow.  Everything is reached
 * through opaque handles; every fallible call returns an int status
 * (GF_OK == 0).  gf_strerror() names a code; gf_last_error() (per thread)
 * and gf_net_last_error() keep the detailed message of the latest failure.
 *
 * ABI promise: symbols are only ever added.  Enum values are explicit and
 * never renumbered; a changed function gets a _v2 sibling.
 *
 * Tensors are float32, row-major, batch-major: batch x (one sample's shape,
 * row-major over its dims: F, T x F, C x L or C x H x W).  Weights follow
 * PyTorch's layouts (a dense weight is out x in) and names (named blocks).
 */
#ifndef GRADFLOW_H
#define GRADFLOW_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(GF_BUILDING_DLL)
#define GF_API __declspec(dllexport)
#elif defined(__GNUC__) || defined(__clang__)
#define GF_API __attribute__((visibility("default")))
#else
#define GF_API
#endif

/* ------------------------------------------------------------------ */
/* Version                                                             */
/* ------------------------------------------------------------------ */

#define GF_VERSION_MAJOR 0
#define GF_VERSION_MINOR 1
#define GF_VERSION_PATCH 0
#define GF_VERSION_STRING "0.1.0"
/* MAJOR*10000 + MINOR*100 + PATCH */
#define GF_VERSION_NUMBER (GF_VERSION_MAJOR * 10000 + GF_VERSION_MINOR * 100 + GF_VERSION_PATCH)

GF_API int32_t gf_version(void);            /* GF_VERSION_NUMBER of the library in use */
GF_API const char *gf_version_string(void); /* "MAJOR.MINOR.PATCH" */

/* ------------------------------------------------------------------ */
/* Status codes                                                        */
/* ------------------------------------------------------------------ */

enum gf_status {
    GF_OK = 0,
    GF_ERR_NULL = 1,        /* a required pointer or handle was NULL */
    GF_ERR_NOMEM = 2,       /* the allocator returned NULL */
    GF_ERR_INVALID = 3,     /* an argument is out of its domain */
    GF_ERR_SHAPE = 4,       /* sizes or counts do not match */
    GF_ERR_NONFINITE = 5,   /* NaN or Inf in data supplied by the caller */
    GF_ERR_STATE = 6,       /* call made in the wrong order or state */
    GF_ERR_OVERFLOW = 7,    /* a size computation would overflow */
    GF_ERR_RANGE = 8,       /* an index is out of range */
    GF_ERR_IO = 9,          /* a file could not be opened, read or written */
    GF_ERR_FORMAT = 10,     /* a file or buffer is corrupt or of a wrong format */
    GF_ERR_BUFFER = 11,     /* the caller's buffer is too small */
    GF_ERR_GUARD = 12,      /* the guard refused a non-finite step; nothing changed */
    GF_ERR_KIND = 13,       /* the handle is of the wrong kind */
    GF_ERR_UNSUPPORTED = 14 /* not supported on this build or platform */
};

/* Static, never-NULL description of a status code. */
GF_API const char *gf_strerror(int code);
/* Detailed message of the latest failed call on this thread ("" if none). */
GF_API const char *gf_last_error(void);
/* Clears this thread's detailed message. */
GF_API void gf_clear_error(void);

/* ------------------------------------------------------------------ */
/* Memory                                                              */
/* ------------------------------------------------------------------ */

typedef void *(*gf_malloc_fn)(void *user, size_t size);
typedef void *(*gf_realloc_fn)(void *user, void *ptr, size_t size);
typedef void (*gf_free_fn)(void *user, void *ptr);

/*
 * Replaces the allocator used for every allocation the library makes.
 * All three functions must be given together, or all three NULL to restore
 * the C library's malloc/realloc/free.  Refused with GF_ERR_STATE while any
 * memory obtained from the previous allocator is still live.
 */
GF_API int gf_set_allocator(gf_malloc_fn m, gf_realloc_fn r, gf_free_fn f, void *user);
/* Number of library allocations currently live (for leak checks). */
GF_API int64_t gf_live_allocations(void);

/* ------------------------------------------------------------------ */
/* Handles                                                             */
/* ------------------------------------------------------------------ */

typedef struct gf_net gf_net;
typedef struct gf_layer gf_layer;
typedef struct gf_activation gf_activation;
typedef struct gf_init gf_init;
typedef struct gf_loss gf_loss;
typedef struct gf_optimizer gf_optimizer;
typedef struct gf_penalty gf_penalty;

/* ------------------------------------------------------------------ */
/* Activations                                                         */
/* ------------------------------------------------------------------ */

enum gf_activation_kind {
    GF_ACT_IDENTITY = 0,
    GF_ACT_SIGMOID = 1,
    GF_ACT_TANH = 2,
    GF_ACT_RELU = 3,
    GF_ACT_LEAKY_RELU = 4, /* parameter GF_ACT_PARAM_SLOPE, default 0.01 */
    GF_ACT_ELU = 5,        /* parameter GF_ACT_PARAM_ALPHA, default 1.0 */
    GF_ACT_SELU = 6,       /* lambda 1.0507009873554805, alpha 1.6732632423543772 */
    GF_ACT_SOFTPLUS = 7,   /* log(1 + e^x), computed stably */
    GF_ACT_GELU = 8        /* exact: x * Phi(x) */
};

enum gf_activation_param {
    GF_ACT_PARAM_SLOPE = 0, /* leaky ReLU negative slope */
    GF_ACT_PARAM_ALPHA = 1  /* ELU alpha */
};

GF_API int gf_activation_create(gf_activation **out, int32_t kind);
GF_API void gf_activation_destroy(gf_activation *act);
GF_API int gf_activation_set(gf_activation *act, int32_t param, double value);
GF_API int gf_activation_get(const gf_activation *act, int32_t param, double *value);
GF_API int32_t gf_activation_kind(const gf_activation *act); /* -1 on NULL */
/* y[i] = f(x[i]); x and y may alias. */
GF_API int gf_activation_apply(const gf_activation *act, const float *x, float *y, size_t n);
/* d[i] = f'(x[i]). */
GF_API int gf_activation_derivative(const gf_activation *act, const float *x, float *d, size_t n);
/* Static name such as "relu"; "?" for an unknown kind. */
GF_API const char *gf_activation_name(int32_t kind);

/* ------------------------------------------------------------------ */
/* Initializers                                                        */
/* ------------------------------------------------------------------ */

enum gf_init_kind {
    GF_INIT_ZEROS = 0,
    GF_INIT_CONSTANT = 1,       /* value a */
    GF_INIT_UNIFORM = 2,        /* U(a, b) */
    GF_INIT_NORMAL = 3,         /* N(a = mean, b = std) */
    GF_INIT_XAVIER_UNIFORM = 4, /* U(-l, l), l = gain*sqrt(6/(fan_in+fan_out)) */
    GF_INIT_XAVIER_NORMAL = 5,  /* N(0, gain*sqrt(2/(fan_in+fan_out))) */
    GF_INIT_HE_UNIFORM = 6,     /* U(-l, l), l = gain*sqrt(3/fan) */
    GF_INIT_HE_NORMAL = 7,      /* N(0, gain/sqrt(fan)) */
    GF_INIT_LECUN_NORMAL = 8,   /* N(0, 1/sqrt(fan_in)) */
    GF_INIT_ORTHOGONAL = 9,     /* gain * a (semi-)orthogonal matrix */
    GF_INIT_DEFAULT = 10        /* PyTorch nn.Linear default: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) */
};

enum gf_init_mode { GF_FAN_IN = 0, GF_FAN_OUT = 1 };

GF_API int gf_init_create(gf_init **out, int32_t kind);
GF_API void gf_init_destroy(gf_init *init);
GF_API int gf_init_set_range(gf_init *init, double a, double b); /* constant/uniform/normal */
GF_API int gf_init_set_gain(gf_init *init, double gain);         /* xavier/he/orthogonal */
GF_API int gf_init_set_mode(gf_init *init, int32_t mode);        /* he: GF_FAN_IN or GF_FAN_OUT */
/* PyTorch's calculate_gain: sigmoid 1, tanh 5/3, relu sqrt 2, leaky
 * sqrt(2/(1+param^2)) with param its slope (0 is slope 0, i.e. sqrt 2; NaN is
 * the default slope 0.01, PyTorch's param=None), selu 3/4, others 1.
 * Returns NaN for an unknown kind. */
GF_API double gf_init_gain(int32_t activation_kind, double param);
/* Fills buf (rows x cols, fan_in = cols, fan_out = rows) from a seed. */
GF_API int gf_init_fill(const gf_init *init, float *buf, size_t count, int64_t rows, int64_t cols,
                        uint64_t seed);

/* ------------------------------------------------------------------ */
/* Losses                                                              */
/* ------------------------------------------------------------------ */

enum gf_loss_kind {
    GF_LOSS_MSE = 0,
    GF_LOSS_MAE = 1,
    GF_LOSS_HUBER = 2,             /* parameter GF_LOSS_PARAM_DELTA, default 1.0 */
    GF_LOSS_BCE_LOGITS = 3,        /* binary cross-entropy on logits, targets in [0, 1] */
    GF_LOSS_SOFTMAX_CE = 4,        /* softmax cross-entropy, probability targets (batch x classes) */
    GF_LOSS_SOFTMAX_CE_LABELS = 5  /* softmax cross-entropy, targets are batch x 1 class indices */
};

enum gf_loss_param {
    GF_LOSS_PARAM_DELTA = 0,
    /* 1: on a net whose output is a SEQUENCE (T x C), every time step is a row
     * of its own, as in PyTorch's CrossEntropyLoss on (N, C, T): the softmax
     * cross-entropies normalise over C at each step, average over batch x T
     * rows and take T labels per sample; metrics score each step.  0 (the
     * default): a sample's whole output is one row.  Any loss kind. */
    GF_LOSS_PARAM_PER_STEP = 1
};

GF_API int gf_loss_create(gf_loss **out, int32_t kind);
GF_API void gf_loss_destroy(gf_loss *loss);
GF_API int gf_loss_set(gf_loss *loss, int32_t param, double value);
GF_API int gf_loss_get(const gf_loss *loss, int32_t param, double *value);
GF_API int32_t gf_loss_kind(const gf_loss *loss);
/* Width of the target rows this loss expects for outputs of width `outputs`. */
GF_API int64_t gf_loss_target_width(const gf_loss *loss, int64_t outputs);
/*
 * The loss of pred (batch x width) against target (batch x target_width),
 * reduced as PyTorch's reduction='mean': MSE, MAE, Huber and BCE average over
 * all batch x width elements, the softmax cross-entropies over the batch.
 * grad (batch x width, may be NULL) receives d value / d pred.
 */
GF_API int gf_loss_compute(const gf_loss *loss, const float *pred, const float *target, int64_t batch,
                           int64_t width, double *value, float *grad);

/* ------------------------------------------------------------------ */
/* Penalties (regularization)                                          */
/* ------------------------------------------------------------------ */

/*
 * value = l1 * sum|w| + 0.5 * l2 * sum w^2; gradient l1*sign(w) + l2*w.
 * l2 alone is PyTorch's weight_decay; both together is the elastic net.
 */
GF_API int gf_penalty_create(gf_penalty **out, double l1, double l2);
GF_API void gf_penalty_destroy(gf_penalty *p);
GF_API int gf_penalty_set_include_bias(gf_penalty *p, int32_t include); /* default 0 */
GF_API int gf_penalty_get(const gf_penalty *p, double *l1, double *l2, int32_t *include_bias);

/* ------------------------------------------------------------------ */
/* Optimizers                                                          */
/* ------------------------------------------------------------------ */

enum gf_optimizer_kind {
    GF_OPT_SGD = 0,
    GF_OPT_MOMENTUM = 1, /* heavy ball: v = mu v + g; w -= lr v */
    GF_OPT_NESTEROV = 2, /* v = mu v + g; w -= lr (g + mu v) */
    GF_OPT_RMSPROP = 3,  /* s = rho s + (1-rho) g^2; w -= lr g / (sqrt s + eps) */
    GF_OPT_ADAGRAD = 4,  /* s += g^2; w -= lr g / (sqrt s + eps) */
    GF_OPT_ADAM = 5,
    GF_OPT_ADAMW = 6     /* Adam with decoupled weight decay */
};

enum gf_optimizer_param {
    GF_OPT_LR = 0,           /* learning rate */
    GF_OPT_MOMENTUM_MU = 1,  /* momentum / nesterov, default 0.9 */
    GF_OPT_BETA1 = 2,        /* adam, default 0.9 */
    GF_OPT_BETA2 = 3,        /* adam, default 0.999 */
    GF_OPT_EPS = 4,          /* rmsprop/adagrad/adam, default 1e-8 (adagrad 1e-10) */
    GF_OPT_RHO = 5,          /* rmsprop decay, default 0.99 */
    GF_OPT_WEIGHT_DECAY = 6  /* adamw decoupled decay, default 0.01; others: added to g */
};

GF_API int gf_optimizer_create(gf_optimizer **out, int32_t kind, double lr);
GF_API void gf_optimizer_destroy(gf_optimizer *opt); /* no-op when owned by a net */
GF_API int gf_optimizer_set(gf_optimizer *opt, int32_t param, double value);
GF_API int gf_optimizer_get(const gf_optimizer *opt, int32_t param, double *value);
GF_API int32_t gf_optimizer_kind(const gf_optimizer *opt);
/* Zeroes moments and the step counter; hyper-parameters stay. */
GF_API int gf_optimizer_reset(gf_optimizer *opt);
GF_API int64_t gf_optimizer_steps(const gf_optimizer *opt);

/* ------------------------------------------------------------------ */
/* Layers                                                              */
/* ------------------------------------------------------------------ */

/*
 * Shapes: the shape of one sample, without the batch (docs/design.md).  Data
 * is batch-major and each sample row-major over its dims, as PyTorch's
 * N x F, N x T x F (batch_first), N x C x L and N x C x H x W tensors.
 */
enum gf_shape_kind {
    GF_SHAPE_VECTOR = 0,   /* rank 1: features F */
    GF_SHAPE_SEQUENCE = 1, /* rank 2: time x features T x F */
    GF_SHAPE_SIGNAL = 2,   /* rank 2: channels x length C x L */
    GF_SHAPE_IMAGE = 3     /* rank 3: channels x height x width C x H x W */
};

enum gf_layer_kind {
    GF_LAYER_DENSE = 0,   /* y = f(x W^T + b) on a VECTOR, or on every step of a SEQUENCE */
    GF_LAYER_FLATTEN = 1, /* any shape -> VECTOR of its product; no parameters */
    GF_LAYER_RNN = 2,     /* Elman RNN on a SEQUENCE: h_t = f(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh) (nn.RNN) */
    GF_LAYER_LSTM = 3,    /* LSTM on a SEQUENCE, gates i, f, g, o (nn.LSTM) */
    GF_LAYER_GRU = 4,     /* GRU on a SEQUENCE, gates r, z, n (nn.GRU) */
    GF_LAYER_CONV1D = 5,  /* SIGNAL(C x L) -> SIGNAL(out x L'), weight out x C/groups x k (nn.Conv1d) */
    GF_LAYER_CONV2D = 6,  /* IMAGE(C x H x W) -> IMAGE(out x H' x W'), weight out x C/groups x kh x kw (nn.Conv2d) */
    GF_LAYER_MAXPOOL1D = 7,      /* SIGNAL -> SIGNAL, max over windows (nn.MaxPool1d) */
    GF_LAYER_MAXPOOL2D = 8,      /* IMAGE -> IMAGE (nn.MaxPool2d) */
    GF_LAYER_AVGPOOL1D = 9,      /* SIGNAL -> SIGNAL, mean over windows, padding counted (nn.AvgPool1d) */
    GF_LAYER_AVGPOOL2D = 10,     /* IMAGE -> IMAGE (nn.AvgPool2d) */
    GF_LAYER_GLOBAL_AVGPOOL = 11 /* SIGNAL or IMAGE -> VECTOR(C): the mean of every channel */
};

/* Keyed layer options (gf_layer_set_option); the kinds that take each are in docs/api.md. */
enum gf_layer_option {
    GF_LAYER_OUTPUTS = 0,     /* output features (dense), output channels (conv) */
    GF_LAYER_INPUTS = 1,      /* expected input features (channels for conv); 0 (default) = inferred at gf_net_add */
    GF_LAYER_HIDDEN = 2,      /* recurrent: hidden units H */
    GF_LAYER_RETURN_SEQUENCES = 3, /* recurrent: 1 = every step (SEQUENCE T x H), 0 (default) = last step (VECTOR H) */
    GF_LAYER_TRUNCATE = 4,    /* recurrent: backpropagate through chunks of k steps counted from the end; 0 = all */
    GF_LAYER_FORGET_BIAS = 5, /* LSTM: forget-gate bias drawn into bias_ih_l0 (bias_hh_l0's slice 0); default 1 */
    GF_LAYER_KERNEL_H = 6,    /* kernel (window) size; 1-D kinds take the _W keys (length is the last axis) */
    GF_LAYER_KERNEL_W = 7,
    GF_LAYER_STRIDE_H = 8,    /* conv: default 1; pooling: default 0 = the kernel size */
    GF_LAYER_STRIDE_W = 9,
    GF_LAYER_PAD_H = 10,      /* zero padding on both sides (pooling: at most half the kernel) */
    GF_LAYER_PAD_W = 11,
    GF_LAYER_DILATION_H = 12, /* conv: spacing of the kernel taps, default 1 */
    GF_LAYER_DILATION_W = 13,
    GF_LAYER_GROUPS = 14      /* conv: input and output channels split into this many groups (default 1) */
};

/*
 * A layer of any kind with the kind's default options.  Its sizes are
 * inferred from the incoming shape when it is added to a net; before that it
 * has no shape and no parameters (GF_ERR_STATE from the readers).
 */
GF_API int gf_layer_create(gf_layer **out, int32_t kind);
/* Options by key; refused once the layer is in a net (GF_ERR_STATE). */
GF_API int gf_layer_set_option(gf_layer *layer, int32_t key, double value);
GF_API int gf_layer_get_option(const gf_layer *layer, int32_t key, double *value);
/* The keys a layer's kind takes, for saving a layer without knowing its kind:
 * count, then key i (0 <= i < count); -1 for a bad handle or index. */
GF_API int32_t gf_layer_option_count(const gf_layer *layer);
GF_API int32_t gf_layer_option_key(const gf_layer *layer, int32_t index);
/* Static name of a kind ("dense", "flatten"); "?" if unknown. */
GF_API const char *gf_layer_kind_name(int32_t kind);
/* Per-sample shapes: *rank always written; dims (cap entries, may be NULL
 * when cap is 0) gets the dims; GF_ERR_BUFFER when cap < rank. */
GF_API int gf_layer_input_shape(const gf_layer *layer, int32_t *kind, int64_t *dims, int32_t cap, int32_t *rank);
GF_API int gf_layer_output_shape(const gf_layer *layer, int32_t *kind, int64_t *dims, int32_t cap, int32_t *rank);

/* Named parameter blocks, in PyTorch's state_dict order and dims ("weight" out x in, "bias" out). */
GF_API int32_t gf_layer_param_block_count(const gf_layer *layer); /* -1 on a bad handle */
GF_API int gf_layer_param_block_find(const gf_layer *layer, const char *name, int32_t *index);
GF_API const char *gf_layer_param_block_name(const gf_layer *layer, int32_t index); /* NULL if out of range */
GF_API int gf_layer_param_block_dims(const gf_layer *layer, int32_t index, int64_t *dims, int32_t cap,
                                     int32_t *rank);
GF_API int64_t gf_layer_param_block_size(const gf_layer *layer, int32_t index); /* -1 if out of range */
GF_API int gf_layer_get_param(const gf_layer *layer, int32_t index, float *dst, size_t count);
GF_API int gf_layer_set_param(gf_layer *layer, int32_t index, const float *src, size_t count);
GF_API int gf_layer_get_param_grad(const gf_layer *layer, int32_t index, float *dst, size_t count);

/*
 * A dense layer y = f(x W^T + b), W out x in.  Parameters start from the
 * layer's initializers when the layer is added to a net, drawn from the
 * net's seeded generator (defaults: GF_INIT_DEFAULT for both W and b).
 */
GF_API int gf_layer_dense_create(gf_layer **out, int64_t inputs, int64_t outputs);
/* Frees a layer never added to a net; a no-op for a layer a net owns. */
GF_API void gf_layer_destroy(gf_layer *layer);
GF_API int gf_layer_set_activation(gf_layer *layer, const gf_activation *act); /* copied */
/* Copied; a layer already in a net draws W (or b) again with it at once. */
GF_API int gf_layer_set_weight_init(gf_layer *layer, const gf_init *init);
GF_API int gf_layer_set_bias_init(gf_layer *layer, const gf_init *init);
/* Attaches (copies) a penalty to this layer only; NULL removes it. */
GF_API int gf_layer_set_penalty(gf_layer *layer, const gf_penalty *p);
GF_API int32_t gf_layer_kind(const gf_layer *layer);
GF_API int32_t gf_layer_activation_kind(const gf_layer *layer);
GF_API int64_t gf_layer_input_size(const gf_layer *layer);
GF_API int64_t gf_layer_output_size(const gf_layer *layer);
GF_API int64_t gf_layer_weight_count(const gf_layer *layer);
GF_API int64_t gf_layer_bias_count(const gf_layer *layer);
/* Copies with explicit counts: count must equal the parameter count. */
GF_API int gf_layer_get_weights(const gf_layer *layer, float *dst, size_t count);
GF_API int gf_layer_set_weights(gf_layer *layer, const float *src, size_t count);
GF_API int gf_layer_get_bias(const gf_layer *layer, float *dst, size_t count);
GF_API int gf_layer_set_bias(gf_layer *layer, const float *src, size_t count);
GF_API int gf_layer_get_weight_grad(const gf_layer *layer, float *dst, size_t count);
GF_API int gf_layer_get_bias_grad(const gf_layer *layer, float *dst, size_t count);

/* ------------------------------------------------------------------ */
/* Networks                                                            */
/* ------------------------------------------------------------------ */

/* A sequential net taking `inputs` features, with its own seeded generator. */
GF_API int gf_net_create(gf_net **out, int64_t inputs, uint64_t seed);
/* A net whose samples have shape (kind, dims[0..rank)); gf_net_create is VECTOR(inputs). */
GF_API int gf_net_create_shaped(gf_net **out, int32_t shape_kind, const int64_t *dims, int32_t rank, uint64_t seed);
/* The net's input shape, and its output shape (the last layer's; the input's when empty). */
GF_API int gf_net_input_shape(const gf_net *net, int32_t *kind, int64_t *dims, int32_t cap, int32_t *rank);
GF_API int gf_net_output_shape(const gf_net *net, int32_t *kind, int64_t *dims, int32_t cap, int32_t *rank);
GF_API void gf_net_destroy(gf_net *net);
/* Message of the latest failure on this net ("" if none). */
GF_API const char *gf_net_last_error(const gf_net *net);

/* Appends a layer; on success the net owns it and the handle stays valid
 * (borrowed) until the net is destroyed.  Refused once training began. */
GF_API int gf_net_add(gf_net *net, gf_layer *layer);
/* Convenience: creates, configures and appends a dense layer. */
GF_API int gf_net_add_dense(gf_net *net, int64_t outputs, int32_t activation_kind, gf_layer **layer);
/* Convenience: appends a flatten layer (any shape -> VECTOR). */
GF_API int gf_net_add_flatten(gf_net *net, gf_layer **layer);
/* Convenience: a convolution with out_channels filters of kernel (x kernel),
 * stride and zero padding (dilation 1, groups 1; other options through
 * gf_layer_create).  layer (may be NULL) receives the borrowed handle. */
GF_API int gf_net_add_conv2d(gf_net *net, int64_t out_channels, int64_t kernel, int64_t stride, int64_t padding,
                             int32_t activation_kind, gf_layer **layer);
GF_API int gf_net_add_conv1d(gf_net *net, int64_t out_channels, int64_t kernel, int64_t stride, int64_t padding,
                             int32_t activation_kind, gf_layer **layer);
/* Convenience: pooling over kernel (x kernel) windows; stride 0 = kernel. */
GF_API int gf_net_add_maxpool2d(gf_net *net, int64_t kernel, int64_t stride, gf_layer **layer);
GF_API int gf_net_add_avgpool2d(gf_net *net, int64_t kernel, int64_t stride, gf_layer **layer);
GF_API int gf_net_add_maxpool1d(gf_net *net, int64_t kernel, int64_t stride, gf_layer **layer);
GF_API int gf_net_add_avgpool1d(gf_net *net, int64_t kernel, int64_t stride, gf_layer **layer);
/* Convenience: the mean of every channel of a SIGNAL or IMAGE (-> VECTOR(C)). */
GF_API int gf_net_add_global_avgpool(gf_net *net, gf_layer **layer);
/* Convenience: appends a recurrent layer of `hidden` units on a SEQUENCE input;
 * return_sequences 1 gives every step (SEQUENCE T x hidden), 0 the last (VECTOR). */
GF_API int gf_net_add_rnn(gf_net *net, int64_t hidden, int32_t activation_kind, int32_t return_sequences,
                          gf_layer **layer);
GF_API int gf_net_add_lstm(gf_net *net, int64_t hidden, int32_t return_sequences, gf_layer **layer);
GF_API int gf_net_add_gru(gf_net *net, int64_t hidden, int32_t return_sequences, gf_layer **layer);

/*
 * Recurrent state (RNN, LSTM, GRU in a net).  A sample's state is its h (H
 * floats), and for an LSTM h then c (2 H floats); a batch's state is laid
 * out as PyTorch's (h_0, c_0) tensors: all h (batch x H), then all c.
 */
/* Floats of state per sample (H, or 2 H for an LSTM); -1 for a bad handle, a
 * kind without state, or a layer not in a net. */
GF_API int64_t gf_layer_state_size(const gf_layer *layer);
/* Batch of the last forward or predict through the layer (the batch the two
 * readers below give), 0 before any; -1 as gf_layer_state_size. */
GF_API int64_t gf_layer_state_batch(const gf_layer *layer);
/* The initial state of the next passes: count = batch x state size, and
 * every pass must then have that batch (else GF_ERR_SHAPE at the pass).
 * state NULL with count 0 restores the zero state (the default). */
GF_API int gf_layer_set_initial_state(gf_layer *layer, const float *state, size_t count, int64_t batch);
/* Variable-length sequences: sample b has lengths[b] real steps (1..T), the
 * rest of its T is padding.  Past its end a sample's state is held (so the
 * last-step output and gf_layer_final_state are its state after its last
 * real step), every-step outputs are 0 and padding gets no gradient, as
 * PyTorch's pack_padded_sequence.  Every pass must then have that batch;
 * lengths NULL with batch 0 clears them. */
GF_API int gf_layer_set_lengths(gf_layer *layer, const int64_t *lengths, int64_t batch);
/* d loss / d initial state of the last backward (batch x state size, zero
 * state included); GF_ERR_STATE when no backward followed the last forward. */
GF_API int gf_layer_initial_state_grad(const gf_layer *layer, float *dst, size_t count);
/* The state after the last step of the last forward or predict (PyTorch's
 * h_n, c_n), e.g. to carry into the next chunk of a long sequence. */
GF_API int gf_layer_final_state(const gf_layer *layer, float *dst, size_t count);
GF_API int32_t gf_net_layer_count(const gf_net *net);
GF_API gf_layer *gf_net_layer(gf_net *net, int32_t index); /* borrowed; NULL if out of range */
GF_API int64_t gf_net_input_size(const gf_net *net);
GF_API int64_t gf_net_output_size(const gf_net *net);
/* Target values per sample the net's loss reads: its output size, or 1 for
 * GF_LOSS_SOFTMAX_CE_LABELS; T times the per-step figure under
 * GF_LOSS_PARAM_PER_STEP on a SEQUENCE(T x C) output. */
GF_API int64_t gf_net_target_size(const gf_net *net);
GF_API int64_t gf_net_param_count(const gf_net *net);
/* Writes a description into buf (NUL-terminated); *needed gets the full
 * length + 1.  GF_ERR_BUFFER when cap is too small (buf holds a prefix);
 * cap == 0 is a size query and returns GF_OK. */
GF_API int gf_net_describe(const gf_net *net, char *buf, size_t cap, size_t *needed);
/* Redraws every parameter from the layers' initializers with a new seed and
 * resets the optimizer. */
GF_API int gf_net_reinit(gf_net *net, uint64_t seed);

GF_API int gf_net_set_loss(gf_net *net, const gf_loss *loss);            /* copied; default MSE */
GF_API int gf_net_set_optimizer(gf_net *net, gf_optimizer *opt);         /* the net takes ownership */
GF_API gf_optimizer *gf_net_optimizer(gf_net *net);                       /* borrowed */
GF_API int gf_net_set_penalty(gf_net *net, const gf_penalty *p);         /* whole net; NULL removes */

enum gf_clip_mode {
    GF_CLIP_NONE = 0,
    GF_CLIP_VALUE = 1,      /* every gradient component into [-v, v] */
    GF_CLIP_NORM = 2,       /* global L2 norm at most v */
    GF_CLIP_LAYER_NORM = 3  /* each layer's L2 norm at most v */
};
/* Clipping applied by gf_net_train_step between backward and step. */
GF_API int gf_net_set_clip(gf_net *net, int32_t mode, double value);
/* Clip now.  norm_before (may be NULL) receives the global gradient norm
 * before clipping.  A non-finite norm is GF_ERR_NONFINITE and nothing changes. */
GF_API int gf_net_clip_grad_value(gf_net *net, double value);
GF_API int gf_net_clip_grad_norm(gf_net *net, double max_norm, double *norm_before);
GF_API int gf_net_clip_grad_layer_norm(gf_net *net, double max_norm);
/* Global L2 norm of the gradients; GF_ERR_STATE before a backward, as clipping. */
GF_API int gf_net_grad_norm(const gf_net *net, double *norm);

/*
 * Inference: y (batch x outputs) from x (batch x inputs).  Caches nothing
 * for backward.
 */
GF_API int gf_net_predict(gf_net *net, const float *x, size_t x_count, int64_t batch, float *y, size_t y_count);
/* Training forward: caches what backward needs.  y may be NULL. */
GF_API int gf_net_forward(gf_net *net, const float *x, size_t x_count, int64_t batch, float *y, size_t y_count);
/* Loss of the last forward against target, plus its gradient through the
 * net (penalties included).  loss may be NULL. */
GF_API int gf_net_backward(gf_net *net, const float *target, size_t target_count, double *loss);
/* Backward from a caller-given d loss / d output (batch x outputs). */
GF_API int gf_net_backward_from(gf_net *net, const float *grad_output, size_t count);
/* d loss / d input of the last backward (batch x inputs).  Computed only when
 * gf_net_set_input_grad(net, 1) was called before that backward; otherwise
 * GF_ERR_STATE. */
GF_API int gf_net_input_grad(const gf_net *net, float *dst, size_t count);
/* Whether backward computes d loss / d input (for chaining nets, or the
 * gradient of the data itself).  Off by default, like an input tensor that
 * does not require grad in PyTorch: the first layer's input-gradient product is
 * skipped, about a fifth of an MLP's backward.  Takes effect at the next
 * backward.  GF_ERR_INVALID unless enabled is 0 or 1; GF_ERR_NOMEM when its
 * buffer (allocated only once asked for) cannot be, leaving it as it was. */
GF_API int gf_net_set_input_grad(gf_net *net, int enabled);
GF_API int gf_net_input_grad_enabled(const gf_net *net); /* 1, 0; -1 on NULL */
/* Loss (with penalties) of predictions for x against target; no gradient. */
GF_API int gf_net_evaluate(gf_net *net, const float *x, size_t x_count, const float *target, size_t target_count,
                           int64_t batch, double *loss);
/* Applies the optimizer to the gradients of the last backward. */
GF_API int gf_net_step(gf_net *net);
/* forward + loss + backward + clip + step. */
GF_API int gf_net_train_step(gf_net *net, const float *x, size_t x_count, const float *target,
                             size_t target_count, int64_t batch, double *loss);

/* Per-epoch callback: return nonzero to stop training early. */
typedef int (*gf_epoch_fn)(void *user, int32_t epoch, double mean_loss);
/*
 * Trains for `epochs` passes over n samples in mini-batches of `batch`,
 * shuffled from the net's generator.  mean_loss (may be NULL) gets the last
 * epoch's mean training loss.
 */
GF_API int gf_net_fit(gf_net *net, const float *x, size_t x_count, const float *target, size_t target_count,
                      int64_t n, int64_t batch, int32_t epochs, gf_epoch_fn callback, void *user,
                      double *mean_loss);
/* Prints "epoch, loss, samples/s, time left" to stderr during gf_net_fit, and
 * turns on gf_net_fit_v2's progress line unless GF_FIT_PROGRESS says otherwise. */
GF_API int gf_net_set_progress(gf_net *net, int32_t on);
/* Number of optimizer steps applied. */
GF_API int64_t gf_net_steps(const gf_net *net);
/* Threads that split the large matrix products (1..64; default 1).  The
 * threads live with the net and are created here, never per step.  Results
 * are bit-identical for every thread count. */
GF_API int gf_net_set_threads(gf_net *net, int32_t threads);
GF_API int32_t gf_net_threads(const gf_net *net); /* -1 on NULL */

/* Loss kind the net uses (GF_LOSS_*); -1 on NULL or a wrong handle. */
GF_API int32_t gf_net_loss_kind(const gf_net *net);

/* ------------------------------------------------------------------ */
/* Model files (format: docs/format.md)                                */
/* ------------------------------------------------------------------ */

/* The model file format this library writes; it reads every older version. */
#define GF_FORMAT_VERSION_MAJOR 1
#define GF_FORMAT_VERSION_MINOR 0

enum gf_save_flag {
    /* Also the training state: optimizer moments and step count, the net's
     * generator and step counter, so that training resumes bit-exactly. */
    GF_SAVE_TRAINING_STATE = 1
};

/*
 * Saves the whole net: every layer (kind, shapes, options, activation,
 * initializers, penalty, parameters), the loss, penalty, clipping and the
 * optimizer with its hyper-parameters; with GF_SAVE_TRAINING_STATE also the
 * training state.  Threads and diagnostics are not saved.  The file is
 * written to a temporary file in the same directory, synced and renamed over
 * path: on any failure the earlier file is unchanged and no temporary remains.
 */
GF_API int gf_net_save(const gf_net *net, const char *path, uint32_t flags);
/* The same into a caller buffer: *needed (may be NULL) gets the size.  cap 0
 * (buf may be NULL) is the size query and returns GF_OK; a cap below the size
 * is GF_ERR_BUFFER and buf is untouched (a part of a model is of no use). */
GF_API int gf_net_save_buffer(const gf_net *net, uint32_t flags, void *buf, size_t cap, size_t *needed);
/* A new net from a model file or buffer; *out is NULL on failure.  A file
 * that is corrupt, truncated or of an unknown version is GF_ERR_FORMAT with a
 * message naming the problem and its byte offset; an unreadable one GF_ERR_IO. */
GF_API int gf_net_load(gf_net **out, const char *path);
GF_API int gf_net_load_buffer(gf_net **out, const void *buf, size_t size);

/* What gf_model_info reports about a model buffer. */
enum gf_model_field {
    GF_MODEL_FORMAT_MAJOR = 0,   /* format version of the file */
    GF_MODEL_FORMAT_MINOR = 1,
    GF_MODEL_WRITER_VERSION = 2, /* GF_VERSION_NUMBER of the library that wrote it */
    GF_MODEL_LAYERS = 3,
    GF_MODEL_PARAMS = 4,
    GF_MODEL_TRAINING_STATE = 5, /* 1 when it carries training state, else 0 */
    GF_MODEL_STEPS = 6,          /* the net's step counter (0 without training state) */
    GF_MODEL_INPUTS = 7          /* the net's input width */
};
/* Validates a whole model buffer as gf_net_load_buffer does and reads one field. */
GF_API int gf_model_info(const void *buf, size_t size, int32_t field, int64_t *value);

/* ------------------------------------------------------------------ */
/* Metrics and batched evaluation                                      */
/* ------------------------------------------------------------------ */

/*
 * Metrics read targets the way the net's loss does: class labels (batch x 1)
 * for GF_LOSS_SOFTMAX_CE_LABELS, rows of the output's width otherwise.
 * Accuracy-like metrics are fractions in [0, 1]; a prediction row holding a
 * NaN is never correct.
 */
enum gf_metric_kind {
    GF_METRIC_ACCURACY = 0,        /* labels: argmax == label; bce_logits: binary (logit > 0 vs target >= 0.5);
                                      other losses: argmax of output == argmax of target rows (one-hot or
                                      probabilities), or, for one output, output > 0.5 vs target >= 0.5 */
    GF_METRIC_TOP_K = 1,           /* the true class (label, or argmax of the target row) has fewer than k
                                      strictly larger outputs; parameter k (default 5) */
    GF_METRIC_MAE = 2,             /* mean |output - target| over every element */
    GF_METRIC_RMSE = 3,            /* sqrt of the mean squared error over every element */
    GF_METRIC_BINARY_ACCURACY = 4  /* every element: (output > threshold) == (target >= 0.5); parameter the
                                      threshold (default 0: logits) */
};

/* The most metrics a net carries. */
#define GF_MAX_METRICS 8

/*
 * Adds a metric reported by gf_net_evaluate_v2 and gf_net_fit_v2, in the
 * order added (the first is "the" metric of the epoch record).  param is k
 * for GF_METRIC_TOP_K, the threshold for GF_METRIC_BINARY_ACCURACY, ignored
 * otherwise; NaN picks the default.
 */
GF_API int gf_net_add_metric(gf_net *net, int32_t kind, double param);
GF_API int gf_net_clear_metrics(gf_net *net);
GF_API int32_t gf_net_metric_count(const gf_net *net); /* -1 on NULL */
GF_API int gf_net_metric(const gf_net *net, int32_t index, int32_t *kind, double *param);
/* Static name: "accuracy", "top_k", "mae", "rmse", "binary_accuracy"; "?" if unknown. */
GF_API const char *gf_metric_name(int32_t kind);
/* 1 when a larger value is better (accuracies), 0 when smaller is (errors), -1 if unknown. */
GF_API int32_t gf_metric_higher_is_better(int32_t kind);
/*
 * One metric of pred (batch x width) against target, read as loss reads
 * targets (NULL: rows of the output's width, as for GF_LOSS_MSE).
 */
GF_API int gf_metric_compute(const gf_loss *loss, int32_t kind, double param, const float *pred, const float *target,
                             int64_t batch, int64_t width, double *value);

/*
 * Loss (penalties included) and every metric of the net over n samples,
 * predicted `batch` rows at a time (batch <= 0: all n at once).  Caches
 * nothing for backward; allocates only when batch exceeds the largest seen.
 * values (may be NULL when values_count is 0) receives gf_net_metric_count
 * values; values_count must be at least that.
 */
GF_API int gf_net_evaluate_v2(gf_net *net, const float *x, size_t x_count, const float *target, size_t target_count,
                              int64_t n, int64_t batch, double *loss, double *values, size_t values_count);

/* ------------------------------------------------------------------ */
/* Learning-rate schedules                                             */
/* ------------------------------------------------------------------ */

typedef struct gf_schedule gf_schedule;

/* t counts the schedule's units (epochs, or optimizer steps with
 * GF_SCHED_PER_STEP) from 0; W is the warm-up length, u = t - W. */
enum gf_schedule_kind {
    GF_SCHED_CONSTANT = 0,    /* base */
    GF_SCHED_STEP = 1,        /* base * gamma^floor(u / period) */
    GF_SCHED_EXPONENTIAL = 2, /* base * gamma^u */
    GF_SCHED_COSINE = 3,      /* min + (base - min)(1 + cos(pi u / period)) / 2, min once u >= period; with
                                 GF_SCHED_RESTART_MULT >= 1, SGDR warm restarts (periods period, period*mult, ...) */
    GF_SCHED_PLATEAU = 4      /* reduce on plateau: lr *= gamma after `patience` epochs without improvement */
};

enum gf_schedule_param {
    GF_SCHED_PERIOD = 0,       /* step size, cosine T_max / T_0 (default 10) */
    GF_SCHED_GAMMA = 1,        /* step 0.1, exponential 0.95, plateau factor 0.1 */
    GF_SCHED_MIN_LR = 2,       /* cosine eta_min, plateau min_lr (default 0) */
    GF_SCHED_RESTART_MULT = 3, /* cosine: 0 no restarts (default), else T_mult (an integer >= 1) */
    GF_SCHED_WARMUP = 4,       /* linear warm-up units before the schedule (default 0) */
    GF_SCHED_WARMUP_START = 5, /* warm-up's first factor: lr = base (s + (1 - s) t / W) (default 1/3) */
    GF_SCHED_PATIENCE = 6,     /* plateau: epochs without improvement tolerated (default 10) */
    GF_SCHED_THRESHOLD = 7,    /* plateau: relative improvement that counts (default 1e-4) */
    GF_SCHED_COOLDOWN = 8,     /* plateau: epochs to wait after a reduction (default 0) */
    GF_SCHED_MODE = 9,         /* plateau: 0 lower is better, 1 higher is; -1 (default) follows fit's monitor */
    GF_SCHED_PER_STEP = 10     /* 1: t counts optimizer steps; 0 (default): epochs.  Plateau is per epoch */
};

GF_API int gf_schedule_create(gf_schedule **out, int32_t kind, double base_lr);
GF_API void gf_schedule_destroy(gf_schedule *s);
GF_API int gf_schedule_set(gf_schedule *s, int32_t param, double value);
GF_API int gf_schedule_get(const gf_schedule *s, int32_t param, double *value);
GF_API int32_t gf_schedule_kind(const gf_schedule *s); /* -1 on NULL */
/* Learning rate at unit t (plateau: its current rate, after warm-up). */
GF_API int gf_schedule_lr(const gf_schedule *s, int64_t t, double *lr);
/* Plateau: feeds one epoch's monitored value; *lr (may be NULL) gets the rate
 * in force after it.  Other kinds: a no-op that reports gf_schedule_lr(0). */
GF_API int gf_schedule_observe(gf_schedule *s, double value, double *lr);
/* Plateau: forgets every observation (the rate returns to base). */
GF_API int gf_schedule_reset(gf_schedule *s);

/* ------------------------------------------------------------------ */
/* fit with validation, early stopping, schedules and a per-epoch record */
/* ------------------------------------------------------------------ */

/*
 * One epoch of gf_net_fit_v2, passed by pointer to the callback and read back
 * with gf_net_epoch_record.  Fields are only ever appended: `size` says how
 * many bytes are valid, so a reader checks GF_RECORD_HAS(r, field) before
 * reading a field newer than its own header.
 */
struct gf_epoch_record {
    size_t size;       /* bytes filled (sizeof the library's struct, or the reader's if smaller) */
    int32_t epoch;     /* 0-based */
    int32_t epochs;    /* epochs asked for */
    double loss;       /* mean training loss of the epoch (penalties included) */
    double metric;     /* first metric over the epoch's training batches; NaN without metrics */
    double val_loss;   /* NaN without validation data */
    double val_metric; /* first metric on the validation data; NaN without either */
    double lr;         /* learning rate of the epoch's last step */
    double seconds;    /* wall time of the epoch, validation included */
    int64_t steps;     /* the net's optimizer steps at the epoch's end */
    int32_t verdict;   /* net verdict at the epoch's end (GF_VERDICT_UNKNOWN without enabled diagnostics) */
    int32_t best_epoch; /* epoch with the best monitored value so far */
};
typedef struct gf_epoch_record gf_epoch_record;

#define GF_RECORD_HAS(r, field) \
    ((r)->size >= offsetof(gf_epoch_record, field) + sizeof(((gf_epoch_record *)0)->field))

/* Called after each epoch's record is stored; return nonzero to stop training. */
typedef int (*gf_epoch_record_fn)(void *user, const gf_epoch_record *record);

typedef struct gf_fit gf_fit;

/* The value early stopping and plateau schedules watch. */
enum gf_monitor {
    GF_MONITOR_LOSS = 0,
    GF_MONITOR_METRIC = 1,     /* first metric on the training batches */
    GF_MONITOR_VAL_LOSS = 2,
    GF_MONITOR_VAL_METRIC = 3  /* first metric on the validation data */
};

enum gf_fit_option {
    GF_FIT_EPOCHS = 0,           /* default 1 */
    GF_FIT_BATCH = 1,            /* mini-batch rows, also for validation (default 32; n if smaller) */
    GF_FIT_VALIDATION_SPLIT = 2, /* fraction in [0, 1) held out by the net's generator (default 0) */
    GF_FIT_PATIENCE = 3,         /* early stopping after this many epochs without improvement (0: off) */
    GF_FIT_MIN_DELTA = 4,        /* smallest change that counts as improvement (default 0) */
    GF_FIT_MONITOR = 5,          /* GF_MONITOR_*; -1 (default): val_loss with validation data, else loss */
    GF_FIT_RESTORE_BEST = 6,     /* 1: end with the weights of the best monitored epoch (default 0) */
    GF_FIT_PROGRESS = 7,         /* -1 (default) as gf_net_set_progress; 0 off; 1 a bar redrawn in place
                                    on a terminal, else one line per epoch; 2 one line per epoch */
    GF_FIT_SHUFFLE = 8           /* 1 (default): reshuffle the training rows every epoch */
};

GF_API int gf_fit_create(gf_fit **out);
GF_API void gf_fit_destroy(gf_fit *f);
GF_API int gf_fit_set(gf_fit *f, int32_t option, double value);
GF_API int gf_fit_get(const gf_fit *f, int32_t option, double *value);
/* Validation data (borrowed: must stay valid until the fit returns); x NULL removes it. */
GF_API int gf_fit_set_validation(gf_fit *f, const float *x, size_t x_count, const float *target, size_t target_count,
                                 int64_t n);
GF_API int gf_fit_set_callback(gf_fit *f, gf_epoch_record_fn fn, void *user);
/* Copied; NULL removes it.  The schedule drives the optimizer's GF_OPT_LR. */
GF_API int gf_fit_set_schedule(gf_fit *f, const gf_schedule *s);

/*
 * Trains on n samples as options say (NULL: the defaults), keeping one
 * record per epoch run in the net.  Everything is checked and every buffer
 * sized before the first change, so a refused call changes nothing.
 */
GF_API int gf_net_fit_v2(gf_net *net, const float *x, size_t x_count, const float *target, size_t target_count,
                         int64_t n, const gf_fit *options);
/* Records of the latest gf_net_fit_v2 (0 before any). */
GF_API int32_t gf_net_epoch_count(const gf_net *net); /* -1 on NULL */
/* Copies record `epoch`; set record->size to sizeof(gf_epoch_record) first. */
GF_API int gf_net_epoch_record(const gf_net *net, int32_t epoch, gf_epoch_record *record);
/* Metric `index` of an epoch, on the training batches (validation 0) or the validation data (1). */
GF_API int gf_net_epoch_metric(const gf_net *net, int32_t epoch, int32_t index, int32_t validation, double *value);

/* ------------------------------------------------------------------ */
/* Diagnostics: per-layer gradient health                              */
/* ------------------------------------------------------------------ */

typedef struct gf_diag gf_diag;

/* Statistics read with gf_diag_value / gf_diag_history.  "delta" is the
 * backpropagated gradient: d loss / d (layer input) and d loss / d
 * (pre-activation).  Values are accumulated in double (on AVX2/AVX-512,
 * sums and squares after float partials of at most 8 terms, see
 * docs/api.md). */
enum gf_stat {
    GF_STAT_DELTA_IN_NORM = 0,    /* L2 norm of d loss / d input */
    GF_STAT_DELTA_IN_RMS = 1,
    GF_STAT_DELTA_IN_MAXABS = 2,
    GF_STAT_DELTA_PRE_NORM = 3,   /* L2 norm of d loss / d pre-activation */
    GF_STAT_DELTA_PRE_RMS = 4,
    GF_STAT_DELTA_PRE_MAXABS = 5,
    GF_STAT_WGRAD_NORM = 6,       /* weight gradient */
    GF_STAT_WGRAD_MEAN = 7,
    GF_STAT_WGRAD_STD = 8,
    GF_STAT_WGRAD_MIN = 9,
    GF_STAT_WGRAD_MAX = 10,
    GF_STAT_WGRAD_MAXABS = 11,
    GF_STAT_WGRAD_ZERO_FRAC = 12, /* fraction of exact zeros */
    GF_STAT_BGRAD_NORM = 13,      /* bias gradient */
    GF_STAT_BGRAD_MEAN = 14,
    GF_STAT_BGRAD_STD = 15,
    GF_STAT_BGRAD_MIN = 16,
    GF_STAT_BGRAD_MAX = 17,
    GF_STAT_BGRAD_MAXABS = 18,
    GF_STAT_BGRAD_ZERO_FRAC = 19,
    GF_STAT_WEIGHT_NORM = 20,     /* weights */
    GF_STAT_WEIGHT_MAXABS = 21,
    GF_STAT_WEIGHT_ZERO_FRAC = 22,
    GF_STAT_UPDATE_RATIO = 23,    /* ||delta W|| / ||W|| of the step applied (healthy ~1e-3) */
    GF_STAT_ACT_MEAN = 24,        /* activations (layer output) */
    GF_STAT_ACT_VAR = 25,
    GF_STAT_PRE_MEAN = 26,        /* pre-activations */
    GF_STAT_PRE_STD = 27,
    GF_STAT_DEAD_FRAC = 28,       /* ReLU-family units zero for every sample of the batch (of the last 32 values if fewer) */
    GF_STAT_SATURATED_FRAC = 29,  /* sigmoid/tanh units with derivative < 1% of its maximum (as DEAD_FRAC) */
    GF_STAT_NONFINITE = 30,       /* NaN + Inf values in all of this layer's tensors */
    GF_STAT_ACT_GAIN = 31,        /* activation variance / previous layer's (or input's) */
    GF_STAT_DELTA_GAIN = 32,      /* delta-in norm / delta-in norm of the layer above */
    GF_STAT_LOSS = 33,            /* the step's loss (same for every layer) */
    /* Recurrent layers (NaN for other kinds; docs/api.md "Diagnostics across time"): */
    GF_STAT_TIME_RATE = 34,       /* per-step factor of ||dL/dh_t|| from the last step back (< 1 shrinks) */
    GF_STAT_RECURRENT_SIGMA = 35, /* largest singular value of weight_hh_l0 (power iteration) */
    GF_STAT_RECURRENT_BOUND = 36, /* RNN: 1/gamma of Pascanu et al. (vanishing is certain below it); NaN gated */
    GF_STAT_GATE_SATURATED_FRAC = 37, /* LSTM/GRU: fraction of sigmoid gate values saturated */
    GF_STAT_FORGET_GATE_MEAN = 38,    /* LSTM: mean forget gate f; GRU: mean update gate z */
    GF_STAT_CANDIDATE_SATURATED_FRAC = 39, /* hidden units whose candidate (RNN: h) is saturated at every step */
    GF_STAT_CANDIDATE_DEAD_FRAC = 40       /* hidden units whose candidate stays ~0 (|v| < 0.01; ReLU: 0) */
};

/* Tensors named by non-finite counts and by the origin. */
enum gf_tensor {
    GF_TENSOR_NONE = 0,
    GF_TENSOR_INPUT = 1,
    GF_TENSOR_PRE_ACTIVATION = 2,
    GF_TENSOR_ACTIVATION = 3,
    GF_TENSOR_LOSS = 4,
    GF_TENSOR_DELTA_PRE = 5,
    GF_TENSOR_DELTA_IN = 6,
    GF_TENSOR_WEIGHT_GRAD = 7,
    GF_TENSOR_BIAS_GRAD = 8,
    GF_TENSOR_WEIGHT = 9,
    GF_TENSOR_BIAS = 10,
    GF_TENSOR_OPTIMIZER_STATE = 11
};

/* Phases of a step, for the origin of a non-finite value. */
enum gf_phase {
    GF_PHASE_NONE = 0,
    GF_PHASE_FORWARD = 1,
    GF_PHASE_LOSS = 2,
    GF_PHASE_BACKWARD = 3,
    GF_PHASE_PENALTY = 4,
    GF_PHASE_CLIP = 5,
    GF_PHASE_UPDATE = 6
};

enum gf_verdict {
    GF_VERDICT_HEALTHY = 0,
    GF_VERDICT_VANISHING = 1,
    GF_VERDICT_EXPLODING = 2,
    GF_VERDICT_DEAD = 3,
    GF_VERDICT_SATURATED = 4,
    GF_VERDICT_UNKNOWN = 5 /* nothing observed yet */
};

enum gf_diag_option {
    GF_DIAG_HISTORY = 0,     /* ring-buffer length in steps (default 64, 1..1e6) */
    GF_DIAG_GUARD = 1,       /* 1: refuse a step that would make weights or state non-finite */
    GF_DIAG_ORIGIN = 2,      /* 1: locate where NaN/Inf/overflow is first produced (default 1) */
    GF_DIAG_EVERY = 3        /* observe every k-th step (default 1) */
};

/* Verdict thresholds (gf_diag_set_threshold); defaults in docs/api.md, and why
 * each has its value in docs/verdicts.md.  The depth thresholds are for the
 * whole net: a 10-layer and a 200-layer net with the same end-to-end gain get
 * the same verdict. */
enum gf_diag_threshold {
    GF_TH_VANISH_FACTOR = 0,     /* end-to-end delta gain (bottom / top) below which the net is vanishing (0.1) */
    GF_TH_EXPLODE_FACTOR = 1,    /* end-to-end delta gain above which it is exploding (10) */
    GF_TH_GRAD_FLOOR = 2,        /* absolute weight-gradient RMS floor */
    GF_TH_UPDATE_RATIO_SPREAD = 3, /* decades between the update ratios of lower and upper hidden layers of like fan-in */
    GF_TH_DEAD_FRAC = 4,         /* fraction of units on the negative side for every sample that, with delta lost, is dead */
    GF_TH_SATURATED_FRAC = 5,    /* fraction of saturated units that makes a layer saturated */
    GF_TH_AVALANCHE = 6,         /* step-to-step jump factor of loss or gradient norm (above its initial scale) */
    GF_TH_PLATEAU = 7,           /* relative loss change over the window under which learning stagnates */
    GF_TH_WEIGHT_FLOOR = 8,      /* weight RMS under which weights have collapsed */
    GF_TH_LOSS_RISE = 9,         /* relative rise of the mean loss over the window (and of the initial loss) that is unstable */
    GF_TH_UPDATE_FLOOR = 10,     /* largest layer update ratio under which the steps are too small to learn */
    GF_TH_WEIGHT_SHRINK = 11,    /* weight RMS over its initial value under which weights are going to zero (0.1) */
    GF_TH_WEIGHT_GROWTH = 12,    /* weight RMS over its initial value above which weights grew out of bounds (10) */
    /* Across time (recurrent layers): gains of ||dL/dh_t|| over the whole span the gradient travels back (T, or
     * the truncation k), so the per-step rate they allow tightens as the sequence grows (docs/verdicts.md). */
    GF_TH_TIME_VANISH = 13,      /* gain from h_T back to the first state below which the layer is vanishing (1e-3) */
    GF_TH_TIME_EXPLODE = 14,     /* gain above which it is exploding (1e3) */
    GF_TH_TIME_VANISH_FLOOR = 15, /* ||dL/dh_T|| under which vanishing is not judged (a solved loss) (1e-8) */
    GF_TH_TIME_EXPLODE_FLOOR = 16, /* ||dL/dh|| at the first state under which growth is not judged (1e-4) */
    GF_TH_GATE_SHUT = 17         /* LSTM/GRU: mean forget (update) gate under which it is shut (0.1192 = sigmoid(-2)) */
};

enum gf_report_format {
    GF_REPORT_TEXT = 0, /* per-layer table of the latest step, with verdicts */
    GF_REPORT_CSV = 1,  /* header row, then one row per layer per step in the history */
    GF_REPORT_JSON = 2, /* JSON Lines (not one JSON document): an object per layer per step, then per verdict */
    GF_REPORT_SVG = 3   /* self-contained chart: gradient norms over steps (log) + latest bars */
};

/* Attaches a diagnostics object to net (at most one per net).  The net
 * does not own it: destroy it before or after the net, in either order. */
GF_API int gf_diag_create(gf_diag **out, gf_net *net);
GF_API void gf_diag_destroy(gf_diag *d);
/* Turns observation on (1) or off (0): off costs nothing per step. */
GF_API int gf_diag_enable(gf_diag *d, int32_t on);
GF_API int gf_diag_set_option(gf_diag *d, int32_t option, double value);
GF_API int gf_diag_get_option(const gf_diag *d, int32_t option, double *value);
GF_API int gf_diag_set_threshold(gf_diag *d, int32_t threshold, double value);
GF_API int gf_diag_get_threshold(const gf_diag *d, int32_t threshold, double *value);
/* Forgets every observation and the origin (options and thresholds stay). */
GF_API int gf_diag_reset(gf_diag *d);

GF_API int32_t gf_diag_layer_count(const gf_diag *d);
/* Steps observed so far (including probes), and how many the history holds. */
GF_API int64_t gf_diag_steps(const gf_diag *d);
GF_API int32_t gf_diag_history_length(const gf_diag *d);
/* Latest value of a statistic for a layer. */
GF_API int gf_diag_value(const gf_diag *d, int32_t layer, int32_t stat, double *value);
/* Value `ago` observations back (0 = latest); step receives its net step (may be NULL). */
GF_API int gf_diag_history(const gf_diag *d, int32_t layer, int32_t stat, int32_t ago, double *value,
                           int64_t *step);
/* NaN, +Inf and -Inf counts of one tensor of a layer at the latest observation. */
GF_API int gf_diag_nonfinite(const gf_diag *d, int32_t layer, int32_t tensor, int64_t *nan, int64_t *pos_inf,
                             int64_t *neg_inf);
/* Where a non-finite value was first produced.  *found is 0 if never. */
GF_API int gf_diag_origin(const gf_diag *d, int32_t *found, int64_t *step, int32_t *layer, int32_t *phase,
                          int32_t *tensor);

/* Verdict of a layer, or of the net for layer == -1. */
GF_API int gf_diag_verdict(const gf_diag *d, int32_t layer, int32_t *verdict);
/* Every condition found, as bits (1u << GF_VERDICT_*). */
GF_API int gf_diag_verdict_flags(const gf_diag *d, int32_t layer, uint32_t *flags);
/* Reason quoting the numbers, and the remedy, as text (same buffer rules as gf_net_describe). */
GF_API int gf_diag_verdict_reason(const gf_diag *d, int32_t layer, char *buf, size_t cap, size_t *needed);
GF_API int gf_diag_verdict_remedy(const gf_diag *d, int32_t layer, char *buf, size_t cap, size_t *needed);

/* The remedies of gf_diag_verdict_remedy as numbers, so a program can follow
 * them.  Each is present only when the net's verdict asks for it and a check
 * on a scratch copy of the net confirmed it. */
enum gf_remedy {
    GF_REMEDY_INIT_SCALE = 0,    /* factor on every hidden layer's initial weights */
    GF_REMEDY_LEARNING_RATE = 1, /* the learning rate to use */
    GF_REMEDY_BIAS = 2,          /* the constant bias init of the hidden layers */
    GF_REMEDY_ACTIVATION = 3,    /* the hidden activation (GF_ACT_*), with He init */
    GF_REMEDY_L1 = 4,            /* the L1 strength to use */
    GF_REMEDY_L2 = 5,            /* the L2 strength to use */
    GF_REMEDY_CLIP = 6           /* the clip value to use (gf_net_set_clip, the net's mode) */
};
/* *present: 1 and *value the remedy's value, or 0 and NaN when the remedy
 * does not call for it (or nothing was observed). */
GF_API int gf_diag_remedy_value(const gf_diag *d, int32_t remedy, int32_t *present, double *value);

/* One forward/backward pass on N(0,1) inputs and targets, with no update:
 * per-layer gains of activations and delta, and verdicts, before training. */
GF_API int gf_diag_probe(gf_diag *d, int64_t batch, uint64_t seed);

/* Per-layer series beyond the per-layer statistics (docs/design.md). */
enum gf_series {
    GF_SERIES_DELTA_TIME_NORM = 0, /* L2 norm of d loss / d (output at step t) over the batch, per time step;
                                    * recurrent: ||dL/dh_t|| for t = 0 (initial state) .. T */
    GF_SERIES_GATE_SATURATED_FRAC = 1,      /* LSTM/GRU: saturated gate fraction per step (T values) */
    GF_SERIES_FORGET_GATE_MEAN = 2,         /* LSTM: mean forget gate per step; GRU: mean update gate */
    GF_SERIES_CANDIDATE_SATURATED_FRAC = 3, /* saturated candidate (RNN: h) fraction per step */
    /* Conv layers, per output channel (filter map), over every sample and position of the observed batch: */
    GF_SERIES_DEAD_CHANNELS = 8,      /* indices of the dead channels (ReLU family: pre-activation <= 0 everywhere) */
    GF_SERIES_SATURATED_CHANNELS = 9, /* indices of the saturated ones (sigmoid/tanh: derivative < 1% of its max everywhere) */
    GF_SERIES_CHANNEL_ACTIVE_FRAC = 10, /* per channel: fraction of values on the live side (1 for other activations) */
    GF_SERIES_CHANNEL_WGRAD_NORM = 11   /* per channel: L2 norm of its filter's weight gradient */
};
/* Length of a series at the latest observed backward (0 if none yet);
 * GF_ERR_RANGE when the layer does not produce that series. */
GF_API int gf_diag_series_length(const gf_diag *d, int32_t layer, int32_t key, int64_t *length);
/* Copies it into dst (cap values); *length gets its length; GF_ERR_BUFFER when cap is too small. */
GF_API int gf_diag_series(const gf_diag *d, int32_t layer, int32_t key, double *dst, size_t cap, int64_t *length);

/* Reports, into a caller buffer (same rules as gf_net_describe) or a file. */
GF_API int gf_diag_report(const gf_diag *d, int32_t format, char *buf, size_t cap, size_t *needed);
GF_API int gf_diag_report_file(const gf_diag *d, int32_t format, const char *path);

/* Static lower-case names: "wgrad_norm" for GF_STAT_WGRAD_NORM (the enum name without
 * GF_STAT_), "weight_grad" for tensors, "backward" for phases, "vanishing" for verdicts.
 * "?" if unknown. */
GF_API const char *gf_stat_name(int32_t stat);
GF_API const char *gf_tensor_name(int32_t tensor);
GF_API const char *gf_phase_name(int32_t phase);
GF_API const char *gf_verdict_name(int32_t verdict);

#ifdef __cplusplus
}
#endif
#endif /* GRADFLOW_H */
