/*
 * model_io.c — what the model-file writer (model_save.c) and loader
 * (model_load.c) share: the magic, format errors and keyed option lists.
 *
 * A file is a 32-byte header, a sequence of records (net, layers, optimizer,
 * training state) and a CRC-32 of everything before it.  Every number is
 * little-endian and every float IEEE-754 binary32, whatever the host.
 */
#include "model_io.h"

#include <stdarg.h>
#include <stdio.h>

#if !defined(__STDC_IEC_559__) && !defined(__GCC_IEC_559)
#error "model files store IEEE-754 binary32 floats: this compiler does not promise them"
#endif
_Static_assert(sizeof(float) == 4 && sizeof(double) == 8, "model files need 32- and 64-bit IEEE floats");

const uint8_t gfi_mf_magic[8] = {0x89, 'G', 'F', 'M', '\r', '\n', 0x1a, '\n'};

int gfi_format_fail(size_t at, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return gfi_fail(GF_ERR_FORMAT, "offset %zu: %s", at, msg);
}

/* ---- option lists ---- */

static void opts_put(gfi_opts *o, uint16_t key, uint8_t type, int64_t i, double f)
{
    if (o->n < GFI_MF_MAX_OPTIONS)
        o->v[o->n++] = (gfi_opt){.key = key, .type = type, .i = i, .f = f};
}

void gfi_opts_put_int(gfi_opts *o, uint16_t key, int64_t v) { opts_put(o, key, GFI_OPT_INT, v, 0.0); }

void gfi_opts_put_real(gfi_opts *o, uint16_t key, double v) { opts_put(o, key, GFI_OPT_REAL, 0, v); }

gfi_opt *gfi_opts_find(gfi_opts *o, uint16_t key)
{
    for (int32_t i = 0; i < o->n; i++)
        if (o->v[i].key == key) {
            o->v[i].used = true;
            return &o->v[i];
        }
    return NULL;
}

int gfi_opts_need(gfi_opts *o, uint16_t key, const char *name, uint8_t type, gfi_opt **out, size_t at)
{
    gfi_opt *e = gfi_opts_find(o, key);
    if (!e)
        return gfi_format_fail(at, "%s: option %s (key %u) is missing", o->what, name, (unsigned)key);
    if (e->type != type)
        return gfi_format_fail(e->at, "%s: option %s (key %u) is %s, not %s", o->what, name, (unsigned)key,
                               e->type == GFI_OPT_INT ? "an integer" : "a real", type == GFI_OPT_INT ? "an integer" : "a real");
    *out = e;
    return GF_OK;
}

int gfi_opts_int(gfi_opts *o, uint16_t key, const char *name, int64_t lo, int64_t hi, int64_t *out)
{
    gfi_opt *e;
    int rc = gfi_opts_need(o, key, name, GFI_OPT_INT, &e, 0);
    if (rc)
        return rc;
    if (e->i < lo || e->i > hi)
        return gfi_format_fail(e->at, "%s: option %s is %lld, outside %lld..%lld", o->what, name, (long long)e->i,
                               (long long)lo, (long long)hi);
    *out = e->i;
    return GF_OK;
}

int gfi_opts_real(gfi_opts *o, uint16_t key, const char *name, double *out)
{
    gfi_opt *e;
    int rc = gfi_opts_need(o, key, name, GFI_OPT_REAL, &e, 0);
    if (!rc)
        *out = e->f;
    return rc;
}

int gfi_opts_finish(const gfi_opts *o)
{
    for (int32_t i = 0; i < o->n; i++)
        if (!o->v[i].used && !(o->v[i].flags & GFI_OPT_IGNORABLE))
            return gfi_format_fail(o->v[i].at, "%s: unknown option key %u", o->what, (unsigned)o->v[i].key);
    return GF_OK;
}
