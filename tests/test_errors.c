/* test_errors.c — one test per row of docs/errors.md: each status code, caused the way the table says, leaves
 * the objects in the state the table says (compared as state_snapshot.h images).  tests/check_errors_doc.sh
 * checks that every code has a row and every row's test is here. */
#define _DEFAULT_SOURCE /* setrlimit, mkdtemp */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "state_snapshot.h"

static const float X[4 * 3] = {0.1f, -0.2f, 0.3f, 0.5f, 0.4f, -0.6f, -0.7f, 0.8f, 0.2f, 0.0f, 0.9f, -0.1f};
static const float T[4 * 2] = {1, 0, 0, 1, 1, 1, 0, 0};

/* A trained net with a diag, so every kind of state is there to be kept. */
typedef struct {
    gf_net *net;
    gf_diag *d;
    blob before;
} fx;

static int setup(void **state)
{
    fx *f = calloc(1, sizeof *f);
    if (!f || gf_net_create(&f->net, 3, 9) || gf_net_add_dense(f->net, 4, GF_ACT_TANH, NULL) ||
        gf_net_add_dense(f->net, 2, GF_ACT_IDENTITY, NULL) || gf_diag_create(&f->d, f->net))
        return -1;
    for (int s = 0; s < 3; s++)
        if (gf_net_train_step(f->net, X, 12, T, 8, 4, NULL))
            return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx *f = *state;
    gf_diag_destroy(f->d);
    gf_net_destroy(f->net);
    free(f->before.b);
    free(f);
    return 0;
}

static void remember(fx *f)
{
    f->before.n = 0;
    snapshot_net(&f->before, f->net);
    snapshot_diag(&f->before, f->d);
}

static void assert_unchanged(fx *f)
{
    blob now = {0};
    snapshot_net(&now, f->net);
    snapshot_diag(&now, f->d);
    assert_true(blob_equal(&now, &f->before));
    free(now.b);
}

static void assert_message(const char *needle)
{
    if (!strstr(gf_last_error(), needle))
        fail_msg("message \"%s\" lacks \"%s\"", gf_last_error(), needle);
}

static void test_ok_is_zero_and_a_successful_call_takes_effect(void **state)
{
    fx *f = *state;
    assert_int_equal(GF_OK, 0);
    assert_string_equal(gf_strerror(GF_OK), "ok");
    int64_t steps = gf_net_steps(f->net);
    assert_int_equal(gf_net_train_step(f->net, X, 12, T, 8, 4, NULL), GF_OK);
    assert_int_equal(gf_net_steps(f->net), steps + 1);
}

static void test_null_pointer_changes_nothing_and_leaves_out_untouched(void **state)
{
    fx *f = *state;
    remember(f);
    assert_int_equal(gf_net_train_step(f->net, NULL, 12, T, 8, 4, NULL), GF_ERR_NULL);
    assert_message("x is NULL");
    gf_loss *loss = (gf_loss *)(void *)f; /* any non-NULL value */
    assert_int_equal(gf_loss_create(&loss, -1), GF_ERR_INVALID);
    assert_ptr_equal(loss, (gf_loss *)(void *)f);
    assert_unchanged(f);
}

static bool refuse_all;
static void *maybe_malloc(void *u, size_t n) { (void)u; return refuse_all ? NULL : malloc(n); }
static void *maybe_realloc(void *u, void *p, size_t n) { (void)u; return refuse_all ? NULL : realloc(p, n); }
static void plain_free(void *u, void *p) { (void)u; free(p); }

static void test_nomem_changes_nothing(void **state)
{
    (void)state;
    assert_int_equal(gf_set_allocator(maybe_malloc, maybe_realloc, plain_free, NULL), GF_OK);
    fx *f = NULL;
    assert_int_equal(setup((void **)&f), 0);
    remember(f);
    refuse_all = true;
    gf_net *other = NULL;
    int rc_create = gf_net_create(&other, 3, 1);
    int rc_history = gf_diag_set_option(f->d, GF_DIAG_HISTORY, 500);
    int rc_threads = gf_net_set_threads(f->net, 2);
    int rc_batch = gf_net_predict(f->net, X, 12, 4, (float[8]){0}, 8) == GF_OK ? GF_OK : -1; /* sized: no allocation */
    refuse_all = false;
    assert_int_equal(rc_create, GF_ERR_NOMEM);
    assert_null(other);
    assert_int_equal(rc_history, GF_ERR_NOMEM);
    assert_int_equal(rc_threads, GF_ERR_NOMEM);
    assert_int_equal(rc_batch, GF_OK);
    assert_unchanged(f);
    teardown((void **)&f);
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
}

static void test_invalid_argument_changes_nothing(void **state)
{
    fx *f = *state;
    remember(f);
    assert_int_equal(gf_net_set_clip(f->net, 99, 1.0), GF_ERR_INVALID);
    assert_int_equal(gf_net_set_threads(f->net, 0), GF_ERR_INVALID);
    assert_int_equal(gf_diag_set_option(f->d, GF_DIAG_HISTORY, 0.5), GF_ERR_INVALID);
    assert_int_equal(gf_net_fit(f->net, X, 12, T, 8, 4, 0, 1, NULL, NULL, NULL), GF_ERR_INVALID);
    assert_unchanged(f);
}

static void test_shape_mismatch_changes_nothing(void **state)
{
    fx *f = *state;
    remember(f);
    assert_int_equal(gf_net_train_step(f->net, X, 11, T, 8, 4, NULL), GF_ERR_SHAPE);
    assert_int_equal(gf_net_train_step(f->net, X, 12, T, 7, 4, NULL), GF_ERR_SHAPE);
    float w[5];
    assert_int_equal(gf_layer_get_weights(gf_net_layer(f->net, 0), w, 5), GF_ERR_SHAPE);
    gf_layer *l;
    assert_int_equal(gf_layer_dense_create(&l, 7, 2), GF_OK);
    assert_int_equal(gf_net_add(f->net, l), GF_ERR_STATE); /* training began: checked before the shape */
    gf_layer_destroy(l);
    assert_unchanged(f);
}

static void test_nonfinite_data_changes_nothing_and_a_clip_on_nonfinite_gradients_is_taken_back(void **state)
{
    fx *f = *state;
    float bad[12];
    memcpy(bad, X, sizeof bad);
    bad[7] = NAN;
    remember(f);
    assert_int_equal(gf_net_train_step(f->net, bad, 12, T, 8, 4, NULL), GF_ERR_NONFINITE);
    assert_message("sample 2, feature 1");
    float w[12] = {0};
    w[3] = INFINITY;
    assert_int_equal(gf_layer_set_weights(gf_net_layer(f->net, 0), w, 12), GF_ERR_NONFINITE);
    assert_unchanged(f);
    /* Finite weights whose outputs overflow: clipping meets infinite gradients and the step is undone. */
    for (int i = 0; i < 8; i++)
        w[i] = 3e38f;
    assert_int_equal(gf_layer_set_weights(gf_net_layer(f->net, 1), w, 8), GF_OK);
    assert_int_equal(gf_net_set_clip(f->net, GF_CLIP_NORM, 1.0), GF_OK);
    remember(f);
    assert_int_equal(gf_net_train_step(f->net, X, 12, T, 8, 4, NULL), GF_ERR_NONFINITE);
    assert_unchanged(f);
}

/* The clipping set by gf_net_set_clip runs inside the train step: when it refuses non-finite gradients, the error is
 * the train step's, under its name, and says what clipping met. */
static void test_a_clip_refused_inside_a_train_step_is_reported_under_the_train_step(void **state)
{
    fx *f = *state;
    float w[8];
    for (int i = 0; i < 8; i++)
        w[i] = 3e38f;
    assert_int_equal(gf_layer_set_weights(gf_net_layer(f->net, 1), w, 8), GF_OK);
    assert_int_equal(gf_net_set_clip(f->net, GF_CLIP_NORM, 1.0), GF_OK);
    assert_int_equal(gf_net_train_step(f->net, X, 12, T, 8, 4, NULL), GF_ERR_NONFINITE);
    assert_message("gf_net_train_step: the gradient norm is");
    assert_null(strstr(gf_net_last_error(f->net), "gf_net_clip_grad_norm"));
}

static void test_wrong_call_order_changes_nothing(void **state)
{
    fx *f = *state;
    remember(f);
    assert_int_equal(gf_net_step(f->net), GF_ERR_STATE); /* the last train step spent its gradients */
    assert_int_equal(gf_net_backward(f->net, T, 8, NULL), GF_ERR_STATE);
    float dx[12];
    assert_int_equal(gf_net_input_grad(f->net, dx, 12), GF_ERR_STATE); /* never asked for */
    assert_int_equal(gf_set_allocator(maybe_malloc, maybe_realloc, plain_free, NULL), GF_ERR_STATE);
    assert_unchanged(f);
}

static void test_size_overflow_changes_nothing(void **state)
{
    fx *f = *state;
    remember(f);
    gf_layer *l = NULL;
    assert_int_equal(gf_layer_dense_create(&l, INT64_MAX / 2, 4), GF_ERR_OVERFLOW);
    assert_null(l);
    assert_int_equal(gf_net_train_step(f->net, X, 12, T, 8, INT64_MAX / 2, NULL), GF_ERR_OVERFLOW);
    assert_unchanged(f);
}

static void test_index_out_of_range_changes_nothing(void **state)
{
    fx *f = *state;
    remember(f);
    assert_null(gf_net_layer(f->net, 2));
    double v;
    assert_int_equal(gf_diag_value(f->d, 5, GF_STAT_LOSS, &v), GF_ERR_RANGE);
    assert_int_equal(gf_diag_history(f->d, 0, GF_STAT_LOSS, 99, &v, NULL), GF_ERR_RANGE);
    gf_loss *labels;
    assert_int_equal(gf_loss_create(&labels, GF_LOSS_SOFTMAX_CE_LABELS), GF_OK);
    assert_int_equal(gf_net_set_loss(f->net, labels), GF_OK);
    gf_loss_destroy(labels);
    remember(f);
    const float bad_labels[4] = {0, 1, 2, 1}; /* 2 classes */
    assert_int_equal(gf_net_train_step(f->net, X, 12, bad_labels, 4, 4, NULL), GF_ERR_RANGE);
    assert_unchanged(f);
}

static void test_io_failure_keeps_the_file_and_the_objects(void **state)
{
    fx *f = *state;
    char dir[] = "/tmp/gf_errors_XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/report.txt", dir);
    FILE *out = fopen(path, "w");
    fputs("old report\n", out);
    fclose(out);
    remember(f);
    struct rlimit old, lim;
    getrlimit(RLIMIT_FSIZE, &old);
    lim = old;
    lim.rlim_cur = 64;
    void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
    setrlimit(RLIMIT_FSIZE, &lim);
    int rc = gf_diag_report_file(f->d, GF_REPORT_CSV, path);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, was);
    assert_int_equal(rc, GF_ERR_IO);
    assert_int_equal(gf_diag_report_file(f->d, GF_REPORT_CSV, "/nonexistent-dir/r.csv"), GF_ERR_IO);
    char got[64] = {0};
    FILE *in = fopen(path, "r");
    assert_non_null(fgets(got, sizeof got, in));
    fclose(in);
    assert_string_equal(got, "old report\n");
    assert_unchanged(f);
    remove(path);
    rmdir(dir);
}

static void test_a_corrupt_model_creates_nothing_and_names_the_offset(void **state)
{
    fx *f = *state;
    size_t need = 0;
    assert_int_equal(gf_net_save_buffer(f->net, 0, NULL, 0, &need), GF_OK);
    unsigned char *buf = malloc(need);
    assert_int_equal(gf_net_save_buffer(f->net, 0, buf, need, NULL), GF_OK);
    remember(f);
    buf[need / 2] ^= 0x5a;
    gf_net *loaded = (gf_net *)(void *)f; /* any non-NULL value */
    assert_int_equal(gf_net_load_buffer(&loaded, buf, need), GF_ERR_FORMAT);
    assert_null(loaded);
    assert_message("offset");
    assert_int_equal(gf_net_load_buffer(&loaded, buf, need / 3), GF_ERR_FORMAT); /* cut short */
    assert_null(loaded);
    assert_unchanged(f);
    free(buf);
}

static void test_buffer_too_small_keeps_a_prefix_and_reports_the_size(void **state)
{
    fx *f = *state;
    remember(f);
    char small[8];
    size_t need = 0;
    assert_int_equal(gf_net_describe(f->net, small, sizeof small, &need), GF_ERR_BUFFER);
    assert_int_equal(strlen(small), sizeof small - 1);
    assert_true(need > sizeof small);
    char *full = malloc(need);
    assert_int_equal(gf_net_describe(f->net, full, need, NULL), GF_OK);
    assert_memory_equal(full, small, sizeof small - 1);
    free(full);
    assert_unchanged(f);
}

static void test_guard_refusal_keeps_weights_optimizer_and_counts(void **state)
{
    fx *f = *state;
    assert_int_equal(gf_diag_set_option(f->d, GF_DIAG_GUARD, 1), GF_OK);
    float w[8];
    for (int i = 0; i < 8; i++)
        w[i] = 3e38f;
    assert_int_equal(gf_layer_set_weights(gf_net_layer(f->net, 1), w, 8), GF_OK);
    blob before = {0}, after = {0};
    put(&before, f->net->params, f->net->nparams * sizeof(float));
    PUT(&before, f->net->steps);
    snapshot_optimizer(&before, f->net->opt);
    int64_t records = gf_diag_steps(f->d);
    assert_int_equal(gf_net_train_step(f->net, X, 12, T, 8, 4, NULL), GF_ERR_GUARD);
    assert_message("guard refused the step");
    put(&after, f->net->params, f->net->nparams * sizeof(float));
    PUT(&after, f->net->steps);
    snapshot_optimizer(&after, f->net->opt);
    assert_true(blob_equal(&before, &after));
    /* Kept to be inspected: the refused step's record (and its gradients). */
    assert_int_equal(gf_diag_steps(f->d), records + 1);
    free(before.b);
    free(after.b);
}

static void test_wrong_handle_kind_changes_nothing(void **state)
{
    fx *f = *state;
    remember(f);
    assert_int_equal(gf_net_step((gf_net *)(void *)f->d), GF_ERR_KIND);
    assert_int_equal(gf_diag_enable((gf_diag *)(void *)f->net, 1), GF_ERR_KIND);
    float buf[4];
    assert_int_equal(gf_layer_get_weights((gf_layer *)(void *)f->net, buf, 4), GF_ERR_KIND);
    assert_unchanged(f);
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

/* Threads that cannot be started (here: no address space left for a stack) are unsupported, not a crash. */
static void test_unsupported_threads_change_nothing(void **state)
{
    fx *f = *state;
#ifdef UNDER_SANITIZER
    (void)f;
    skip(); /* the sanitizers reserve address space of their own: an address-space limit breaks them */
#else
    long pages = 0;
    FILE *statm = fopen("/proc/self/statm", "r");
    if (!statm || fscanf(statm, "%ld", &pages) != 1)
        skip();
    fclose(statm);
    remember(f);
    struct rlimit old, lim;
    getrlimit(RLIMIT_AS, &old);
    lim = old;
    /* Room for the packing buffers (0.8 MiB a thread), none for an 8 MiB thread stack. */
    lim.rlim_cur = (rlim_t)pages * (rlim_t)sysconf(_SC_PAGESIZE) + (rlim_t)6 * 1024 * 1024;
    setrlimit(RLIMIT_AS, &lim);
    int rc = gf_net_set_threads(f->net, 2);
    setrlimit(RLIMIT_AS, &old);
    if (rc == GF_OK)
        skip(); /* the system found room after all */
    assert_int_equal(rc, GF_ERR_UNSUPPORTED);
    assert_message("cannot start 2 threads");
    assert_int_equal(gf_net_threads(f->net), 1);
    assert_unchanged(f);
#endif
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_ok_is_zero_and_a_successful_call_takes_effect),
        T(test_null_pointer_changes_nothing_and_leaves_out_untouched),
        cmocka_unit_test(test_nomem_changes_nothing),
        T(test_invalid_argument_changes_nothing),
        T(test_shape_mismatch_changes_nothing),
        T(test_nonfinite_data_changes_nothing_and_a_clip_on_nonfinite_gradients_is_taken_back),
        T(test_a_clip_refused_inside_a_train_step_is_reported_under_the_train_step),
        T(test_wrong_call_order_changes_nothing),
        T(test_size_overflow_changes_nothing),
        T(test_index_out_of_range_changes_nothing),
        T(test_io_failure_keeps_the_file_and_the_objects),
        T(test_a_corrupt_model_creates_nothing_and_names_the_offset),
        T(test_buffer_too_small_keeps_a_prefix_and_reports_the_size),
        T(test_guard_refusal_keeps_weights_optimizer_and_counts),
        T(test_wrong_handle_kind_changes_nothing),
        T(test_unsupported_threads_change_nothing),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
