/* test_fileio.c — the atomic file writer (src/fileio.c) and gf_diag_report_file on top of it: a write that
 * fails at any step (creating the temporary, part way through the bytes, a full disk, fsync, close, rename)
 * returns GF_ERR_IO, leaves the old file byte-identical (or absent) and no temporary behind.  Failures come
 * from the I/O hook and, where the system can make them for real, from a file-size limit (EFBIG). */
#define _POSIX_C_SOURCE 200809L /* mkdtemp, setrlimit, fchmod */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

typedef struct {
    char dir[64];
    char path[128];
} scratch;

static int setup(void **state)
{
    scratch *s = calloc(1, sizeof *s);
    strcpy(s->dir, "/tmp/gf_fileio_XXXXXX");
    if (!s || !mkdtemp(s->dir))
        return -1;
    snprintf(s->path, sizeof s->path, "%s/target.txt", s->dir);
    *state = s;
    return 0;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static int teardown(void **state)
{
    scratch *s = *state;
    gfi_io_set_fault(NULL);
    DIR *d = opendir(s->dir);
    char p[512];
    for (struct dirent *e; (e = readdir(d));) {
        snprintf(p, sizeof p, "%s/%s", s->dir, e->d_name);
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
            remove(p);
    }
    closedir(d);
    rmdir(s->dir);
    free(s);
    return 0;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The file's bytes, NUL-terminated (NULL if it cannot be read). */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static void assert_file_is(const char *path, const char *want)
{
    size_t n;
    char *got = read_file(path, &n);
    assert_non_null(got);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(got, want, n);
    free(got);
}

/* ---- the hook: fail one step, optionally after a short write ---- */

static int fail_step = -1, fail_errno;
static size_t short_write; /* nonzero: the first write is cut to this many bytes */
static int writes_seen;

static int hook(int step, size_t *max)
{
    if (step == GFI_IO_WRITE && writes_seen++ == 0 && short_write) {
        *max = short_write;
        return 0;
    }
    return step == fail_step ? fail_errno : 0;
}

static void arm(int step, int err, size_t cut)
{
    fail_step = step;
    fail_errno = err;
    short_write = cut;
    writes_seen = 0;
    gfi_io_set_fault(hook);
}

static char *big_text(size_t n)
{
    char *t = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        t[i] = (char)('a' + i % 26);
    t[n] = '\0';
    return t;
}

/* ---- tests ---- */

static void test_replace_creates_a_missing_file_with_exactly_the_bytes(void **state)
{
    scratch *s = *state;
    assert_int_equal(gfi_file_replace(s->path, "hello\n", 6, "t"), GF_OK);
    assert_file_is(s->path, "hello\n");
    assert_int_equal(count_entries(s->dir), 1);
}

/* A legal file name of 250 bytes: ".tmp-<pid>-<n>" after it would pass the 255-byte limit of a name. */
static void test_replace_writes_a_file_whose_name_is_250_bytes(void **state)
{
    scratch *s = *state;
    char path[512];
    int at = snprintf(path, sizeof path, "%s/", s->dir);
    memset(path + at, 'n', 250);
    path[at + 250] = '\0';
    assert_int_equal(gfi_file_replace(path, "long\n", 5, "t"), GF_OK);
    assert_file_is(path, "long\n");
    assert_int_equal(count_entries(s->dir), 1);
    assert_int_equal(unlink(path), 0);
}

/* A path that is a symbolic link: the file it points to gets the bytes, and the link stays a link. */
static void test_replace_through_a_symbolic_link_writes_the_file_it_points_to(void **state)
{
    scratch *s = *state;
    write_file(s->path, "old\n");
    char link[192];
    snprintf(link, sizeof link, "%s/link.txt", s->dir);
    assert_int_equal(symlink("target.txt", link), 0);
    assert_int_equal(gfi_file_replace(link, "new\n", 4, "t"), GF_OK);
    struct stat st;
    assert_int_equal(lstat(link, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    assert_file_is(s->path, "new\n");
    assert_int_equal(count_entries(s->dir), 2);
    assert_int_equal(unlink(link), 0);
}

static void test_replace_overwrites_and_keeps_the_targets_permissions(void **state)
{
    scratch *s = *state;
    write_file(s->path, "an older and longer text\n");
    assert_int_equal(chmod(s->path, 0640), 0);
    assert_int_equal(gfi_file_replace(s->path, "new\n", 4, "t"), GF_OK);
    assert_file_is(s->path, "new\n");
    struct stat st;
    assert_int_equal(stat(s->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0640);
    assert_int_equal(count_entries(s->dir), 1);
}

static void test_replace_writes_an_empty_file(void **state)
{
    scratch *s = *state;
    write_file(s->path, "old\n");
    assert_int_equal(gfi_file_replace(s->path, "", 0, "t"), GF_OK);
    assert_file_is(s->path, "");
}

/* The same failure at every step: old bytes kept, temporary gone, GF_ERR_IO with the reason. */
static void check_failure_keeps_old_file(scratch *s, int step, int err, size_t cut)
{
    write_file(s->path, "previous contents\n");
    char *text = big_text(100000);
    arm(step, err, cut);
    gf_clear_error();
    assert_int_equal(gfi_file_replace(s->path, text, strlen(text), "gf_test_write"), GF_ERR_IO);
    gfi_io_set_fault(NULL);
    assert_non_null(strstr(gf_last_error(), "gf_test_write"));
    assert_non_null(strstr(gf_last_error(), s->path));
    assert_non_null(strstr(gf_last_error(), strerror(err)));
    assert_file_is(s->path, "previous contents\n");
    assert_int_equal(count_entries(s->dir), 1);
    free(text);
}

static void test_a_disk_full_part_way_keeps_the_old_file(void **state)
{
    check_failure_keeps_old_file(*state, GFI_IO_WRITE, ENOSPC, 4096);
}

static void test_an_io_error_on_the_first_write_keeps_the_old_file(void **state)
{
    check_failure_keeps_old_file(*state, GFI_IO_WRITE, EIO, 0);
}

static void test_a_failed_fsync_keeps_the_old_file(void **state)
{
    check_failure_keeps_old_file(*state, GFI_IO_SYNC, EIO, 0);
}

static void test_a_failed_close_keeps_the_old_file(void **state)
{
    check_failure_keeps_old_file(*state, GFI_IO_CLOSE, EDQUOT, 0);
}

static void test_a_failed_rename_keeps_the_old_file(void **state)
{
    check_failure_keeps_old_file(*state, GFI_IO_RENAME, EXDEV, 0);
}

static void test_a_temporary_that_cannot_be_created_changes_nothing(void **state)
{
    check_failure_keeps_old_file(*state, GFI_IO_OPEN, EACCES, 0);
}

static void test_a_missing_directory_is_an_io_error_and_creates_nothing(void **state)
{
    scratch *s = *state;
    char p[256];
    snprintf(p, sizeof p, "%s/no/such/dir/file.txt", s->dir);
    assert_int_equal(gfi_file_replace(p, "x", 1, "t"), GF_ERR_IO);
    assert_non_null(strstr(gf_last_error(), strerror(ENOENT)));
    assert_int_equal(count_entries(s->dir), 0);
}

static void test_an_empty_path_is_an_io_error_and_creates_nothing(void **state)
{
    scratch *s = *state;
    char cwd[512];
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(s->dir), 0);
    int rc = gfi_file_replace("", "x", 1, "t");
    int n = count_entries(".");
    assert_int_equal(chdir(cwd), 0);
    assert_int_equal(rc, GF_ERR_IO);
    assert_int_equal(n, 0);
}

static void test_a_directory_in_the_way_is_refused_and_the_temporary_removed(void **state)
{
    scratch *s = *state;
    assert_int_equal(mkdir(s->path, 0755), 0);
    assert_int_equal(gfi_file_replace(s->path, "x", 1, "t"), GF_ERR_IO);
    struct stat st;
    assert_int_equal(stat(s->path, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(count_entries(s->dir), 1);
    rmdir(s->path);
}

/* A FIFO (like /dev/null, a node that is no file) must not be replaced by a plain file, nor opened (which would
 * wait for a reader). */
static void test_a_target_that_is_no_regular_file_is_refused_and_kept(void **state)
{
    scratch *s = *state;
    assert_int_equal(mkfifo(s->path, 0600), 0);
    assert_int_equal(gfi_file_replace(s->path, "x", 1, "t"), GF_ERR_IO);
    assert_non_null(strstr(gf_last_error(), "not a regular file"));
    struct stat st;
    assert_int_equal(lstat(s->path, &st), 0);
    assert_true(S_ISFIFO(st.st_mode));
    assert_int_equal(count_entries(s->dir), 1);
    remove(s->path);
}

/* A real failure part way, made by the kernel: the file-size limit cuts the write short, then EFBIG. */
static void test_a_file_size_limit_hit_part_way_keeps_the_old_file(void **state)
{
    scratch *s = *state;
    write_file(s->path, "previous contents\n");
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 1000;
    void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    char *text = big_text(5000);
    int rc = gfi_file_replace(s->path, text, 5000, "t");
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, was);
    assert_int_equal(rc, GF_ERR_IO);
    assert_non_null(strstr(gf_last_error(), strerror(EFBIG)));
    assert_file_is(s->path, "previous contents\n");
    assert_int_equal(count_entries(s->dir), 1);
    free(text);
}

static void test_streamed_writes_commit_in_order(void **state)
{
    scratch *s = *state;
    gfi_atomic_file f;
    assert_int_equal(gfi_atomic_open(&f, s->path, "t"), GF_OK);
    assert_int_equal(gfi_atomic_write(&f, "ab", 2), GF_OK);
    assert_int_equal(gfi_atomic_write(&f, "cd", 2), GF_OK);
    /* Nothing is visible at the target before the commit. */
    assert_null(read_file(s->path, NULL));
    assert_int_equal(gfi_atomic_commit(&f), GF_OK);
    assert_file_is(s->path, "abcd");
    gfi_atomic_abort(&f); /* closed: a no-op */
    assert_file_is(s->path, "abcd");
}

static void test_an_abort_keeps_the_old_file_and_removes_the_temporary(void **state)
{
    scratch *s = *state;
    write_file(s->path, "keep me\n");
    gfi_atomic_file f;
    assert_int_equal(gfi_atomic_open(&f, s->path, "t"), GF_OK);
    assert_int_equal(gfi_atomic_write(&f, "half a file", 11), GF_OK);
    assert_int_equal(count_entries(s->dir), 2);
    gfi_atomic_abort(&f);
    gfi_atomic_abort(&f);
    assert_file_is(s->path, "keep me\n");
    assert_int_equal(count_entries(s->dir), 1);
    assert_int_equal(gf_live_allocations(), 0);
}

static void test_a_writer_that_failed_refuses_further_writes_and_the_commit(void **state)
{
    scratch *s = *state;
    write_file(s->path, "keep me\n");
    gfi_atomic_file f;
    assert_int_equal(gfi_atomic_open(&f, s->path, "t"), GF_OK);
    arm(GFI_IO_WRITE, ENOSPC, 0);
    assert_int_equal(gfi_atomic_write(&f, "x", 1), GF_ERR_IO);
    gfi_io_set_fault(NULL);
    assert_int_equal(gfi_atomic_write(&f, "y", 1), GF_ERR_IO);
    assert_int_equal(gfi_atomic_commit(&f), GF_ERR_IO);
    assert_file_is(s->path, "keep me\n");
    assert_int_equal(count_entries(s->dir), 1);
}

static size_t refuse_after; /* allocations to allow before refusing; 0: never refuse */
static size_t allocations;
static void *counting_malloc(void *u, size_t n)
{
    (void)u;
    return refuse_after && ++allocations >= refuse_after ? NULL : malloc(n);
}
static void *counting_realloc(void *u, void *p, size_t n) { (void)u; return realloc(p, n); }
static void counting_free(void *u, void *p) { (void)u; free(p); }

static void test_no_memory_for_the_temporarys_name_changes_nothing(void **state)
{
    scratch *s = *state;
    write_file(s->path, "keep me\n");
    assert_int_equal(gf_set_allocator(counting_malloc, counting_realloc, counting_free, NULL), GF_OK);
    refuse_after = 1;
    allocations = 0;
    int rc = gfi_file_replace(s->path, "new", 3, "t");
    refuse_after = 0;
    assert_int_equal(gf_set_allocator(NULL, NULL, NULL, NULL), GF_OK);
    assert_int_equal(rc, GF_ERR_NOMEM);
    assert_file_is(s->path, "keep me\n");
    assert_int_equal(count_entries(s->dir), 1);
}

/* ---- gf_diag_report_file on the writer ---- */

static void trained_diag(gf_net **net, gf_diag **d)
{
    assert_int_equal(gf_net_create(net, 8, 3), GF_OK);
    assert_int_equal(gf_net_add_dense(*net, 16, GF_ACT_TANH, NULL), GF_OK);
    assert_int_equal(gf_net_add_dense(*net, 1, GF_ACT_IDENTITY, NULL), GF_OK);
    assert_int_equal(gf_diag_create(d, *net), GF_OK);
    assert_int_equal(gf_diag_enable(*d, 1), GF_OK);
    float x[16 * 8], t[16];
    for (int i = 0; i < 16 * 8; i++)
        x[i] = (float)((i * 37 % 17) - 8) / 8.0f;
    for (int i = 0; i < 16; i++)
        t[i] = (float)(i % 3);
    for (int s = 0; s < 20; s++)
        assert_int_equal(gf_net_train_step(*net, x, 16 * 8, t, 16, 16, NULL), GF_OK);
}

/* Before the writer, a report cut short by the disk left a truncated file and the old report was gone. */
static void test_a_report_that_fails_part_way_keeps_the_previous_report(void **state)
{
    scratch *s = *state;
    gf_net *net;
    gf_diag *d;
    trained_diag(&net, &d);
    assert_int_equal(gf_diag_report_file(d, GF_REPORT_TEXT, s->path), GF_OK);
    size_t before_len;
    char *before = read_file(s->path, &before_len);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 512; /* far less than the CSV history */
    void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = gf_diag_report_file(d, GF_REPORT_CSV, s->path);
    setrlimit(RLIMIT_FSIZE, &old);
    signal(SIGXFSZ, was);
    assert_int_equal(rc, GF_ERR_IO);
    size_t after_len;
    char *after = read_file(s->path, &after_len);
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len);
    assert_int_equal(count_entries(s->dir), 1);
    free(before);
    free(after);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

static void test_a_report_whose_rename_fails_keeps_the_previous_report(void **state)
{
    scratch *s = *state;
    gf_net *net;
    gf_diag *d;
    trained_diag(&net, &d);
    write_file(s->path, "the previous report\n");
    arm(GFI_IO_RENAME, EIO, 0);
    assert_int_equal(gf_diag_report_file(d, GF_REPORT_JSON, s->path), GF_ERR_IO);
    gfi_io_set_fault(NULL);
    assert_non_null(strstr(gf_last_error(), "gf_diag_report_file"));
    assert_file_is(s->path, "the previous report\n");
    assert_int_equal(count_entries(s->dir), 1);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_replace_creates_a_missing_file_with_exactly_the_bytes),
        T(test_replace_writes_a_file_whose_name_is_250_bytes),
        T(test_replace_through_a_symbolic_link_writes_the_file_it_points_to),
        T(test_replace_overwrites_and_keeps_the_targets_permissions),
        T(test_replace_writes_an_empty_file),
        T(test_a_disk_full_part_way_keeps_the_old_file),
        T(test_an_io_error_on_the_first_write_keeps_the_old_file),
        T(test_a_failed_fsync_keeps_the_old_file),
        T(test_a_failed_close_keeps_the_old_file),
        T(test_a_failed_rename_keeps_the_old_file),
        T(test_a_temporary_that_cannot_be_created_changes_nothing),
        T(test_a_missing_directory_is_an_io_error_and_creates_nothing),
        T(test_an_empty_path_is_an_io_error_and_creates_nothing),
        T(test_a_directory_in_the_way_is_refused_and_the_temporary_removed),
        T(test_a_target_that_is_no_regular_file_is_refused_and_kept),
        T(test_a_file_size_limit_hit_part_way_keeps_the_old_file),
        T(test_streamed_writes_commit_in_order),
        T(test_an_abort_keeps_the_old_file_and_removes_the_temporary),
        T(test_a_writer_that_failed_refuses_further_writes_and_the_commit),
        T(test_no_memory_for_the_temporarys_name_changes_nothing),
        T(test_a_report_that_fails_part_way_keeps_the_previous_report),
        T(test_a_report_whose_rename_fails_keeps_the_previous_report),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
