/* shape.c — per-sample shapes (kind + dims) and the parameter-block layout that layer kinds declare. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

static const char *const shape_names[] = {"VECTOR", "SEQUENCE", "SIGNAL", "IMAGE"};
static const int32_t shape_ranks[] = {1, 2, 2, 3};
#define NSHAPES ((int32_t)(sizeof shape_ranks / sizeof shape_ranks[0]))

int64_t gfi_shape_size(const gfi_shape *s)
{
    int64_t n = 1;
    for (int32_t i = 0; i < s->rank; i++)
        n *= s->dim[i];
    return n;
}

const char *gfi_shape_str(const gfi_shape *s, char *buf, size_t cap)
{
    size_t len = 0;
    int k = snprintf(buf, cap, "%s(", s->kind >= 0 && s->kind < NSHAPES ? shape_names[s->kind] : "?");
    for (int32_t i = 0; i < s->rank && k >= 0 && (len += (size_t)k) < cap; i++)
        k = snprintf(buf + len, cap - len, i ? " x %lld" : "%lld", (long long)s->dim[i]);
    if (k >= 0 && (len += (size_t)k) < cap)
        snprintf(buf + len, cap - len, ")");
    return buf;
}

int gfi_shape_make(gfi_shape *s, int32_t kind, const int64_t *dims, int32_t rank, const char *fn)
{
    if (kind < 0 || kind >= NSHAPES)
        return gfi_fail(GF_ERR_INVALID, "%s: unknown shape kind %d", fn, (int)kind);
    if (rank != shape_ranks[kind])
        return gfi_fail(GF_ERR_SHAPE, "%s: a %s has rank %d (got rank %d)", fn, shape_names[kind],
                        (int)shape_ranks[kind], (int)rank);
    if (!dims)
        return gfi_fail(GF_ERR_NULL, "%s: dims is NULL", fn);
    gfi_shape t = {kind, rank, {0}};
    size_t n = 1;
    for (int32_t i = 0; i < rank; i++) {
        t.dim[i] = dims[i];
        int rc = gfi_checked_count((int64_t)n, dims[i], &n);
        if (rc)
            return gfi_fail(rc, "%s: dim %d is %lld: %s", fn, (int)i, (long long)dims[i],
                            rc == GF_ERR_OVERFLOW ? "the sample size overflows" : "dims must be positive");
    }
    *s = t;
    return GF_OK;
}

int gfi_layout_block(gfi_layout *lay, const char *name, bool bias, int64_t fan_in, int64_t fan_out, int32_t rank,
                     const int64_t *dims)
{
    if (lay->nblocks == GFI_MAX_BLOCKS || rank < 1 || rank > GFI_MAX_RANK || strlen(name) >= sizeof lay->block[0].name)
        return GF_ERR_INVALID; /* a kind's own mistake, caught by its tests */
    gfi_block *b = &lay->block[lay->nblocks];
    memset(b, 0, sizeof *b);
    strcpy(b->name, name);
    b->rank = rank;
    b->bias = bias;
    b->fan_in = fan_in;
    b->fan_out = fan_out;
    b->default_fan = fan_in;
    size_t n = 1;
    for (int32_t i = 0; i < rank; i++) {
        b->dim[i] = dims[i];
        int rc = gfi_checked_count((int64_t)n, dims[i], &n);
        if (rc)
            return rc;
    }
    b->count = n;
    lay->nblocks++;
    return GF_OK;
}
