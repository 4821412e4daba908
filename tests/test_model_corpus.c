/* test_model_corpus.c — replays the fuzzer's files under `make check`: every seed in tests/fuzz/corpus (valid
 * model files of every layer kind, written by tests/fuzz/make_corpus.c) must load and save back to the same
 * bytes, and every file in tests/fuzz/regressions (inputs that once crashed the loader) must pass the fuzz
 * harness's checks.  Run from the repository root, as make check does. */
#define _POSIX_C_SOURCE 200809L /* opendir */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz/fuzz_model.c"

static uint8_t *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (size_t got; (got = fread(buf + n, 1, cap - n, f)) > 0;) {
        n += got;
        if (n == cap)
            buf = realloc(buf, cap *= 2);
    }
    fclose(f);
    *size = n;
    return buf;
}

/* Calls fn on every regular file of dir whose name ends with suffix ("" for all but README); returns how many. */
static int each_file(const char *dir, const char *suffix, void (*fn)(const char *path, const uint8_t *, size_t))
{
    DIR *d = opendir(dir);
    if (!d)
        fail_msg("cannot open %s: run from the repository root", dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        char path[512];
        struct stat st;
        size_t len = strlen(e->d_name), sl = strlen(suffix);
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) || !S_ISREG(st.st_mode) || !strcmp(e->d_name, "README") || len < sl ||
            strcmp(e->d_name + len - sl, suffix))
            continue;
        size_t size;
        uint8_t *buf = slurp(path, &size);
        fn(path, buf, size);
        free(buf);
        n++;
    }
    closedir(d);
    return n;
}

static void loads_and_resaves_identically(const char *path, const uint8_t *buf, size_t size)
{
    gf_net *net = NULL;
    if (gf_net_load_buffer(&net, buf, size))
        fail_msg("%s: %s", path, gf_last_error());
    int64_t training = 0;
    assert_int_equal(gf_model_info(buf, size, GF_MODEL_TRAINING_STATE, &training), GF_OK);
    uint16_t major = (uint16_t)(buf[8] | buf[9] << 8), minor = (uint16_t)(buf[10] | buf[11] << 8);
    if (major == GF_FORMAT_VERSION_MAJOR && minor == GF_FORMAT_VERSION_MINOR) {
        /* Files of an older version are read, not written again in their version. */
        size_t n = 0;
        uint32_t flags = training ? GF_SAVE_TRAINING_STATE : 0;
        gf_net_save_buffer(net, flags, NULL, 0, &n);
        uint8_t *again = malloc(n);
        assert_int_equal(gf_net_save_buffer(net, flags, again, n, NULL), GF_OK);
        if (n != size || memcmp(again, buf, n))
            fail_msg("%s: saving the loaded net gives different bytes", path);
        free(again);
    }
    gf_net_destroy(net);
}

static bool kind_seen[64];

static void note_kinds(const char *path, const uint8_t *buf, size_t size)
{
    gf_net *net = NULL;
    if (gf_net_load_buffer(&net, buf, size))
        fail_msg("%s: %s", path, gf_last_error());
    for (int32_t i = 0; i < gf_net_layer_count(net); i++) {
        int32_t k = gf_layer_kind(gf_net_layer(net, i));
        if (k >= 0 && k < 64)
            kind_seen[k] = true;
    }
    gf_net_destroy(net);
}

static void passes_the_harness(const char *path, const uint8_t *buf, size_t size)
{
    (void)path;
    LLVMFuzzerTestOneInput(buf, size);
}

static void test_every_seed_loads_and_saves_back_to_the_same_bytes(void **state)
{
    (void)state;
    int n = each_file("tests/fuzz/corpus", ".gfm", loads_and_resaves_identically);
    assert_true(n >= 20);
    assert_int_equal(gf_live_allocations(), 0);
}

static void test_every_seed_passes_the_fuzz_harness(void **state)
{
    (void)state;
    assert_true(each_file("tests/fuzz/corpus", ".gfm", passes_the_harness) >= 20);
}

/* A layer kind added to the library must add its seeds to tests/fuzz/make_corpus.c. */
static void test_the_seeds_hold_every_layer_kind(void **state)
{
    (void)state;
    each_file("tests/fuzz/corpus", ".gfm", note_kinds);
    for (int32_t k = 0; k < 64; k++)
        if (gfi_layer_kind_ops(k) && !kind_seen[k])
            fail_msg("no seed holds a %s layer: add one to tests/fuzz/make_corpus.c, then make fuzz-corpus",
                     gfi_layer_kind_ops(k)->name);
}

static void test_every_regression_file_passes_the_fuzz_harness(void **state)
{
    (void)state;
    int n = each_file("tests/fuzz/regressions", "", passes_the_harness);
    printf("replayed %d regression file%s\n", n, n == 1 ? "" : "s");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_seed_loads_and_saves_back_to_the_same_bytes),
        cmocka_unit_test(test_every_seed_passes_the_fuzz_harness),
        cmocka_unit_test(test_the_seeds_hold_every_layer_kind),
        cmocka_unit_test(test_every_regression_file_passes_the_fuzz_harness),
    };
    return cmocka_run_group_tests_name("model_corpus", tests, NULL, NULL);
}
