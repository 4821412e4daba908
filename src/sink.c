/* sink.c — text written into a caller's buffer with the library's rules: always NUL-terminated,
 * *needed = full length + 1, GF_ERR_BUFFER (with a prefix kept) when it does not fit, and
 * cap == 0 a size query that succeeds. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void gfi_sink_write(gfi_sink *s, const char *str, size_t n)
{
    /* A cap above GFI_COUNT_MAX(1) is refused by gfi_sink_finish: nothing is written. */
    if (s->cap && s->cap <= GFI_COUNT_MAX(1) && s->len < s->cap - 1) {
        size_t room = s->cap - 1 - s->len;
        memcpy(s->buf + s->len, str, n < room ? n : room);
    }
    s->len += n;
}

void gfi_sink_put(gfi_sink *s, const char *fmt, ...)
{
    char tmp[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    gfi_sink_write(s, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

int gfi_sink_finish(gfi_sink *s, size_t *needed, const char *fn)
{
    if (s->cap > GFI_COUNT_MAX(1))
        return gfi_fail(GF_ERR_OVERFLOW, "%s: cap = %zu is more bytes than a buffer can hold (at most %zu): a negative "
                        "size converted to size_t?", fn, s->cap, GFI_COUNT_MAX(1));
    if (needed)
        *needed = s->len + 1;
    /* cap == 0 asks for the size only, as snprintf(NULL, 0, ...) does: a success, so a
     * caller's error-check macro around the query does not fire. */
    if (s->cap == 0)
        return GF_OK;
    s->buf[s->len < s->cap ? s->len : s->cap - 1] = '\0';
    if (s->len + 1 > s->cap)
        return gfi_fail(GF_ERR_BUFFER, "%s: the text needs %zu bytes, the buffer has %zu", fn, s->len + 1, s->cap);
    return GF_OK;
}
