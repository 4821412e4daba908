/* status.c — status codes, their strings, and the per-thread / per-net detailed message. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_error[GFI_MESSAGE_CAP];

const char *gf_strerror(int code)
{
    switch (code) {
    case GF_OK: return "ok";
    case GF_ERR_NULL: return "a required pointer or handle is NULL";
    case GF_ERR_NOMEM: return "out of memory";
    case GF_ERR_INVALID: return "invalid argument";
    case GF_ERR_SHAPE: return "shape or size mismatch";
    case GF_ERR_NONFINITE: return "NaN or Inf in input data";
    case GF_ERR_STATE: return "call made in the wrong order or state";
    case GF_ERR_OVERFLOW: return "size computation overflows";
    case GF_ERR_RANGE: return "index out of range";
    case GF_ERR_IO: return "file input/output failed";
    case GF_ERR_FORMAT: return "corrupt or unrecognised data format";
    case GF_ERR_BUFFER: return "buffer too small";
    case GF_ERR_GUARD: return "step refused by the guard: it would produce NaN or Inf";
    case GF_ERR_KIND: return "handle of the wrong kind";
    case GF_ERR_UNSUPPORTED: return "not supported by this build";
    default: return "unknown status code";
    }
}

const char *gf_last_error(void) { return last_error; }

void gf_clear_error(void) { last_error[0] = '\0'; }

/* Formats through a scratch buffer: callers may pass gf_last_error() itself
 * as an argument, to prefix a lower layer's message with their own name. */
int gfi_fail(int code, const char *fmt, ...)
{
    char tmp[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    memcpy(last_error, tmp, sizeof tmp);
    return code;
}

int gfi_net_fail(gf_net *net, int code, const char *fmt, ...)
{
    char tmp[sizeof last_error];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    memcpy(last_error, tmp, sizeof tmp);
    if (net)
        memcpy(net->err, last_error, sizeof net->err);
    return code;
}

void gfi_error_save(gfi_saved_error *e, gf_net *net)
{
    e->net = net;
    memcpy(e->thread, last_error, sizeof e->thread);
    if (net)
        memcpy(e->net_msg, net->err, sizeof e->net_msg);
}

void gfi_error_restore(const gfi_saved_error *e)
{
    memcpy(last_error, e->thread, sizeof last_error);
    if (e->net)
        memcpy(e->net->err, e->net_msg, sizeof e->net->err);
}

int32_t gf_version(void) { return GF_VERSION_NUMBER; }

const char *gf_version_string(void) { return GF_VERSION_STRING; }
