/*
 * model_io.h — what the model-file writer (model_save.c) and loader
 * (model_load.c) share (docs/format.md): the constants, little-endian
 * numbers, dims as a file holds them, and keyed option lists.  A layer kind
 * needs nothing here: its record is written from its ops table (options
 * spec, parameter blocks), so a new kind is saved and loaded as it is.
 */
#ifndef GF_MODEL_IO_H
#define GF_MODEL_IO_H

#include "internal.h"

#define GFI_MF_MAX_RANK 8      /* dimensions of a shape (batch excluded) */
#define GFI_MF_MAX_OPTIONS 64  /* entries of one option list */
#define GFI_MF_MAX_NAME 64     /* bytes of a kind or block name */
#define GFI_MF_MAX_DIM (INT64_C(1) << 40) /* one dimension: past any addressable float array */
#define GFI_MF_MAX_STEPS (UINT64_C(1) << 62) /* the step counters: room for every increment training can make */

/* Dims as a file holds them (up to GFI_MF_MAX_RANK, more than the library's shapes), and for a sample's
 * shape its kind (GF_SHAPE_*: docs/format.md); parameter blocks have dims only (kind 0). */
typedef struct gfi_mf_shape {
    int32_t kind, rank;
    int64_t dim[GFI_MF_MAX_RANK];
} gfi_mf_shape;

/* Value types and flags of an option entry (docs/format.md, "Option lists"). */
enum { GFI_OPT_INT = 1, GFI_OPT_REAL = 2 };
#define GFI_OPT_IGNORABLE 1u /* a reader that does not know the key may skip it */

typedef struct gfi_opt {
    uint16_t key;
    uint8_t type, flags;
    int64_t i; /* GFI_OPT_INT */
    double f;  /* GFI_OPT_REAL */
    size_t at; /* file offset of the entry, for messages (0 when writing) */
    bool used; /* taken by the reader */
} gfi_opt;

/* An option list; `what` names its owner in messages ("layer 2 (dense)"). */
typedef struct gfi_opts {
    gfi_opt v[GFI_MF_MAX_OPTIONS];
    int32_t n;
    const char *what;
} gfi_opts;

/* Writing: appends an entry (the writer's lists are fixed and small, so they always fit). */
void gfi_opts_put_int(gfi_opts *o, uint16_t key, int64_t v);
void gfi_opts_put_real(gfi_opts *o, uint16_t key, double v);

/* Reading: the entry for key, marked as used, or NULL. */
gfi_opt *gfi_opts_find(gfi_opts *o, uint16_t key);
/* The entry for key, required and of type `type` (GFI_OPT_*); `name` and `at` (the list's offset) for messages. */
int gfi_opts_need(gfi_opts *o, uint16_t key, const char *name, uint8_t type, gfi_opt **out, size_t at);
/* A required integer in [lo, hi]; GF_ERR_FORMAT naming the option (`name`) and its offset otherwise. */
int gfi_opts_int(gfi_opts *o, uint16_t key, const char *name, int64_t lo, int64_t hi, int64_t *out);
/* A required real (any finite value: the setters that receive it check its domain). */
int gfi_opts_real(gfi_opts *o, uint16_t key, const char *name, double *out);
/* GF_ERR_FORMAT for the first entry no one used that is not marked ignorable. */
int gfi_opts_finish(const gfi_opts *o);

/* ---- the format's constants (docs/format.md) ---- */

extern const uint8_t gfi_mf_magic[8]; /* 89 47 46 4D 0D 0A 1A 0A */
enum { GFI_MF_HEADER = 32, GFI_MF_CRC = 4, GFI_MF_MIN_FILE = GFI_MF_HEADER + GFI_MF_CRC, GFI_MF_RECORD_HEADER = 16,
       GFI_MF_ENTRY = 12 };
enum { GFI_MF_HEADER_TRAINING = 1u }; /* header flag: a training record follows the layers */
enum { GFI_MF_REC_NET = 1, GFI_MF_REC_LAYER = 2, GFI_MF_REC_OPTIMIZER = 3, GFI_MF_REC_TRAINING = 4 };
enum { GFI_MF_REC_ANCILLARY = 1u }; /* record flag: skippable by a reader that does not know it */
enum { GFI_MF_NET_CLIP_MODE = 0, GFI_MF_NET_CLIP_VALUE = 1, GFI_MF_NET_INPUT_GRAD = 2 }; /* net option keys */
enum { GFI_MF_INIT_A = 0, GFI_MF_INIT_B = 1, GFI_MF_INIT_GAIN = 2, GFI_MF_INIT_MODE = 3 }; /* initializer keys */
enum { GFI_MF_PEN_L1 = 0, GFI_MF_PEN_L2 = 1, GFI_MF_PEN_INCLUDE_BIAS = 2 };              /* penalty keys */
enum { GFI_MF_ROLE_WEIGHT = 0, GFI_MF_ROLE_BIAS = 1 };                                  /* initializer roles */
enum { GFI_MF_METRIC_PARAM = 0 };                                                       /* metric key */

/* ---- little-endian numbers, whatever the host ---- */

static inline uint16_t gfi_mf_get16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

static inline uint32_t gfi_mf_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t gfi_mf_get64(const uint8_t *p) { return (uint64_t)gfi_mf_get32(p) | (uint64_t)gfi_mf_get32(p + 4) << 32; }

static inline void gfi_mf_set32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> 8 * i);
}

static inline void gfi_mf_set64(uint8_t *p, uint64_t v)
{
    gfi_mf_set32(p, (uint32_t)v);
    gfi_mf_set32(p + 4, (uint32_t)(v >> 32));
}

/* The model-file writer and loader (model_save.c, model_load.c) share only these and the option lists. */

/* A model-file error: GF_ERR_FORMAT with "offset N: " before the message. */
int gfi_format_fail(size_t at, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

#endif /* GF_MODEL_IO_H */
