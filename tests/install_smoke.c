/*
 * install_smoke.c — built by tests/check_install.sh against an *installed*
 * libgradflow (found with pkg-config), once shared and once static.  It only
 * proves that the installed header and library agree and link; exit status
 * 0 means every check held, otherwise it says on stderr which one failed.
 */
#include <gradflow.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures;

static void expect(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "install_smoke: FAIL: %s\n", what);
        failures++;
    }
}

/* A caller-supplied allocator, to prove gf_set_allocator links and accepts one. */
static void *my_malloc(void *user, size_t n) { (void)user; return malloc(n); }
static void *my_realloc(void *user, void *p, size_t n) { (void)user; return realloc(p, n); }
static void my_free(void *user, void *p) { (void)user; free(p); }

int main(void)
{
    char expected[32];

    /* Header and library must be the same release. */
    expect(gf_version() == GF_VERSION_NUMBER, "gf_version() != GF_VERSION_NUMBER (header/library mismatch)");
    snprintf(expected, sizeof expected, "%d.%d.%d", GF_VERSION_MAJOR, GF_VERSION_MINOR, GF_VERSION_PATCH);
    expect(strcmp(gf_version_string(), expected) == 0, "gf_version_string() != GF_VERSION_MAJOR.MINOR.PATCH");
    expect(strcmp(gf_version_string(), GF_VERSION_STRING) == 0, "gf_version_string() != GF_VERSION_STRING");

    /* Status strings are static and never NULL, even for unknown codes. */
    expect(strcmp(gf_strerror(GF_OK), gf_strerror(GF_ERR_NULL)) != 0, "gf_strerror gives GF_OK and GF_ERR_NULL the same text");
    expect(gf_strerror(-12345) != NULL && gf_strerror(-12345)[0] != '\0', "gf_strerror(unknown) is NULL or empty");

    /* A refused call leaves a detailed message naming the function. */
    gf_clear_error();
    expect(gf_last_error()[0] == '\0', "gf_last_error() not empty after gf_clear_error()");
    expect(gf_set_allocator(my_malloc, NULL, NULL, NULL) == GF_ERR_NULL,
           "gf_set_allocator with only malloc given did not return GF_ERR_NULL");
    expect(strstr(gf_last_error(), "gf_set_allocator") != NULL, "gf_last_error() does not name gf_set_allocator");

    /* Installing and restoring an allocator works while nothing is live. */
    expect(gf_live_allocations() == 0, "gf_live_allocations() != 0 at start");
    expect(gf_set_allocator(my_malloc, my_realloc, my_free, NULL) == GF_OK, "gf_set_allocator(all three) failed");
    expect(gf_set_allocator(NULL, NULL, NULL, NULL) == GF_OK, "gf_set_allocator(NULL x3) failed");

    if (failures)
        return 1;
    printf("install_smoke: libgradflow %s OK\n", gf_version_string());
    return 0;
}
