/*
 * verdict_time.h — the verdict rules across time for recurrent layers (verdict_time.c), kept apart from the
 * per-layer rules of verdict.c, which calls them through these three functions only.
 */
#ifndef GF_VERDICT_TIME_H
#define GF_VERDICT_TIME_H

#include "diag.h"

/* Verdict bits (1u << GF_VERDICT_*) the time rules find for layer (-1: any layer of the net); 0 for a
 * layer that is not recurrent or has nothing recorded. */
uint32_t gfi_time_flags(const gf_diag *d, int32_t layer);
/* Appends the reason (which = GFI_TEXT_REASON) or remedy clauses of the time rules that fire for layer (-1:
 * every layer, each prefixed "layer i: "), each preceded by "; " unless *first.  base: the verdict bits the
 * per-layer rules found, so that advice they already give is not repeated. */
void gfi_time_text(const gf_diag *d, int32_t layer, int which, uint32_t base, gfi_sink *s, bool *first);

#endif /* GF_VERDICT_TIME_H */
