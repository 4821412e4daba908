/*
 * verdict.h — private helpers shared by verdict.c, report.c and svg.c: a
 * growable text sink with the gf_net_describe buffer rules, and the verdict
 * text of a layer (or of the net, layer -1).
 */
#ifndef GF_VERDICT_H
#define GF_VERDICT_H

#include "diag.h"


/* Text accumulated into a caller buffer: len counts every byte wanted, even
 * past cap, so the caller learns the full size. */
typedef struct gfi_sink {
    char *buf;
    size_t cap, len;
} gfi_sink;

void gfi_sink_put(gfi_sink *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Appends a raw string of n bytes. */
void gfi_sink_write(gfi_sink *s, const char *str, size_t n);
/* NUL-terminates, sets *needed, and returns GF_OK or GF_ERR_BUFFER (message names fn). */
int gfi_sink_finish(gfi_sink *s, size_t *needed, const char *fn);


enum { GFI_TEXT_REASON = 0, GFI_TEXT_REMEDY = 1 };
/* Verdict, flags and text of layer (or -1 for the net) of an observed diag
 * (count > 0); layer is assumed in range.  text may be NULL. */
int gfi_verdict_of(const gf_diag *d, int32_t layer, int32_t *verdict, uint32_t *flags, int which, gfi_sink *text);

/* The same text in a fresh gfi_malloc'd string (NULL when out of memory). */
char *gfi_verdict_string(const gf_diag *d, int32_t layer, int which);
/* svg.c: the chart of gf_diag_report(GF_REPORT_SVG). */
int gfi_report_svg(const gf_diag *d, gfi_sink *s);

#endif /* GF_VERDICT_H */
