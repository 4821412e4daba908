/* flatten.c — any shape -> VECTOR of its product (nn.Flatten): the sample's row-major order is kept, no parameters. */
#include "internal.h"

#include <string.h>

static void flatten_forward(gf_layer *l, const gfi_layer_io *io)
{
    memcpy(io->y, io->x, (size_t)io->batch * (size_t)l->in * sizeof(float));
}

static void flatten_backward(gf_layer *l, const gfi_layer_io *io)
{
    size_t n = (size_t)io->batch * (size_t)l->in * sizeof(float);
    memcpy(io->dz, io->dy, n);
    if (io->dx)
        memcpy(io->dx, io->dy, n);
}

static int flatten_infer(const gf_layer *l, const gfi_shape *in, gfi_layout *lay, char *msg, size_t cap)
{
    (void)l, (void)msg, (void)cap;
    lay->out = (gfi_shape){GF_SHAPE_VECTOR, 1, {gfi_shape_size(in)}};
    return GF_OK;
}

static void flatten_units(const gf_layer *l, int64_t view[3])
{
    view[0] = 1;
    view[1] = l->out;
    view[2] = 1;
}

static const gfi_option_spec flatten_options[] = {{-1, 0, 0, 0, false}};

const gfi_layer_ops gfi_flatten_ops = {
    .name = "flatten",
    .kind = GF_LAYER_FLATTEN,
    .options = flatten_options,
    .infer = flatten_infer,
    .forward = flatten_forward,
    .backward = flatten_backward,
    .units = flatten_units,
};
