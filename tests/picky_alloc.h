/* picky_alloc.h — a test allocator that refuses blocks of exactly `refuse_size` bytes while
 * armed (nonzero), to make one chosen allocation inside a library call fail.  Install it with
 * gf_set_allocator(picky_malloc, picky_realloc, picky_free, NULL) while nothing is live. */
#ifndef GF_TESTS_PICKY_ALLOC_H
#define GF_TESTS_PICKY_ALLOC_H

#include <stdlib.h>

static size_t refuse_size;

static void *picky_malloc(void *u, size_t n)
{
    (void)u;
    return refuse_size && n == refuse_size ? NULL : malloc(n);
}

static void *picky_realloc(void *u, void *p, size_t n)
{
    (void)u;
    return refuse_size && n == refuse_size ? NULL : realloc(p, n);
}

static void picky_free(void *u, void *p)
{
    (void)u;
    free(p);
}

#endif
