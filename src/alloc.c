/* alloc.c — the pluggable allocator every library allocation goes through. */
#include "internal.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static void *std_malloc(void *u, size_t n) { (void)u; return malloc(n); }
static void *std_realloc(void *u, void *p, size_t n) { (void)u; return realloc(p, n); }
static void std_free(void *u, void *p) { (void)u; free(p); }

static gf_malloc_fn cur_malloc = std_malloc;
static gf_realloc_fn cur_realloc = std_realloc;
static gf_free_fn cur_free = std_free;
static void *cur_user;
static atomic_llong live;

int gf_set_allocator(gf_malloc_fn m, gf_realloc_fn r, gf_free_fn f, void *user)
{
    bool all = m && r && f, none = !m && !r && !f;
    if (!all && !none)
        return gfi_fail(GF_ERR_NULL, "gf_set_allocator: give malloc, realloc and free together, or all NULL");
    if (atomic_load(&live) != 0)
        return gfi_fail(GF_ERR_STATE, "gf_set_allocator: %lld allocations of the current allocator are still live",
                        (long long)atomic_load(&live));
    cur_malloc = all ? m : std_malloc;
    cur_realloc = all ? r : std_realloc;
    cur_free = all ? f : std_free;
    cur_user = all ? user : NULL;
    return GF_OK;
}

int64_t gf_live_allocations(void) { return (int64_t)atomic_load(&live); }

void *gfi_malloc(size_t size)
{
    void *p = cur_malloc(cur_user, size ? size : 1);
    if (p)
        atomic_fetch_add(&live, 1);
    return p;
}

void *gfi_calloc(size_t n, size_t size)
{
    size_t total;
    if (!gfi_mul_size(n, size, &total))
        return NULL;
    void *p = gfi_malloc(total);
    if (p)
        memset(p, 0, total);
    return p;
}

void *gfi_realloc(void *p, size_t size)
{
    if (!p)
        return gfi_malloc(size);
    return cur_realloc(cur_user, p, size ? size : 1);
}

void gfi_free(void *p)
{
    if (!p)
        return;
    atomic_fetch_sub(&live, 1);
    cur_free(cur_user, p);
}

bool gfi_mul_size(size_t a, size_t b, size_t *out)
{
    if (a && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

int gfi_checked_count(int64_t a, int64_t b, size_t *out)
{
    if (a <= 0 || b <= 0)
        return gfi_fail(GF_ERR_INVALID, "size must be positive (got %lld x %lld)", (long long)a, (long long)b);
    size_t n;
    /* Floats must also be addressable in bytes. */
    if ((uint64_t)a > SIZE_MAX || (uint64_t)b > SIZE_MAX || !gfi_mul_size((size_t)a, (size_t)b, &n) ||
        n > GFI_COUNT_MAX(sizeof(float)))
        return gfi_fail(GF_ERR_OVERFLOW, "size %lld x %lld overflows size_t", (long long)a, (long long)b);
    *out = n;
    return GF_OK;
}

bool gfi_size_mul(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0 || (a && b > INT64_MAX / a))
        return false;
    *out = a * b;
    return true;
}

bool gfi_size_add(int64_t a, int64_t b, int64_t *out)
{
    if (a < 0 || b < 0 || a > INT64_MAX - b)
        return false;
    *out = a + b;
    return true;
}
