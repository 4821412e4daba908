/*
 * fileio.c — files replaced atomically: bytes go to a fresh temporary file in
 * the target's directory, are flushed to the device, and only then renamed
 * over the target.  A failure at any point (cannot create, short write, full
 * disk, fsync or rename refused) removes the temporary and leaves the old file
 * byte-identical, or absent if there was none.  Reports use it today; model
 * files are meant to.  A test hook (gfi_io_set_fault) fails any step on demand.
 */
#if !defined(_WIN32)
#define _POSIX_C_SOURCE 200809L /* open, write, fsync, fchmod, lstat */
#define _XOPEN_SOURCE 700       /* realpath */
#endif
#include "internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h> /* realpath's result is the C library's to free */
#include <string.h>

#if !defined(_WIN32)
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#define GFI_POSIX_IO 1
#endif

static gfi_io_fault_fn fault_hook;

void gfi_io_set_fault(gfi_io_fault_fn fn) { fault_hook = fn; }

/* The hook's errno for this step, or 0 to go ahead; *max may shrink a write. */
static int injected(int step, size_t *max)
{
    size_t unused = 0;
    return fault_hook ? fault_hook(step, max ? max : &unused) : 0;
}

/* Fails with GF_ERR_IO naming the step, the file and the system's reason. */
static int io_fail(gfi_atomic_file *f, const char *what, int err)
{
    return gfi_fail(GF_ERR_IO, "%s: %s %s failed: %s", f->fn, what, f->path, strerror(err));
}

/* The longest file name the usual file systems take (ext4, XFS, tmpfs, NTFS: 255 bytes). */
#define NAME_BYTES 255

/* "<path>.tmp-<pid>-<n>": same directory, so the rename never crosses file systems.  A file name so long that
 * the suffix would take it past NAME_BYTES (a legal name of 250 bytes, say) keeps only as much of itself. */
static int make_temp_name(gfi_atomic_file *f, unsigned attempt)
{
    static atomic_ulong counter;
    unsigned long pid = 0;
#if GFI_POSIX_IO
    pid = (unsigned long)getpid();
#endif
    char suffix[64];
    /* The counter is only a hint against collisions: O_EXCL decides. */
    snprintf(suffix, sizeof suffix, ".tmp-%lu-%lu", pid, atomic_fetch_add(&counter, 1) + attempt);
    const char *slash = strrchr(f->path, '/');
    size_t dir = slash ? (size_t)(slash - f->path) + 1 : 0, base = strlen(f->path) - dir, keep = base;
    if (keep + strlen(suffix) > NAME_BYTES)
        keep = NAME_BYTES - strlen(suffix);
    size_t n = dir + keep + strlen(suffix) + 1;
    char *t = gfi_malloc(n);
    if (!t)
        return gfi_fail(GF_ERR_NOMEM, "%s: out of memory", f->fn);
    snprintf(t, n, "%.*s%s", (int)(dir + keep), f->path, suffix);
    gfi_free(f->tmp);
    f->tmp = t;
    return GF_OK;
}

#if GFI_POSIX_IO

/* Creates the temporary with O_EXCL (never reuses someone's file); mode
 * 0666 less the umask, as fopen would.  Up to 16 names are tried. */
static int open_temp(gfi_atomic_file *f)
{
    for (unsigned attempt = 0; attempt < 16; attempt++) {
        int rc = make_temp_name(f, attempt);
        if (rc)
            return rc;
        int err = injected(GFI_IO_OPEN, NULL);
        int fd = err ? -1 : open(f->tmp, O_WRONLY | O_CREAT | O_EXCL, 0666);
        if (fd >= 0) {
            f->fd = fd;
            return GF_OK;
        }
        err = err ? err : errno;
        if (err != EEXIST)
            return io_fail(f, "creating a temporary beside", err);
    }
    return io_fail(f, "creating a temporary beside", EEXIST);
}

/* An existing target keeps its permission bits (a report a user made
 * world-readable stays so).  Best effort: the default mode is not an error. */
static void keep_target_mode(gfi_atomic_file *f)
{
    struct stat st;
    if (stat(f->path, &st) == 0 && S_ISREG(st.st_mode))
        (void)fchmod(f->fd, st.st_mode & 07777);
}

static int write_all(gfi_atomic_file *f, const char *p, size_t n)
{
    while (n > 0) {
        size_t max = n;
        int err = injected(GFI_IO_WRITE, &max);
        if (err)
            return io_fail(f, "writing", err);
        if (max == 0 || max > n)
            max = n;
        ssize_t w = write(f->fd, p, max);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) /* 0 bytes for a nonzero request: treat as a full disk */
            return io_fail(f, "writing", w < 0 ? errno : ENOSPC);
        p += w;
        n -= (size_t)w;
    }
    return GF_OK;
}

static int sync_and_close(gfi_atomic_file *f)
{
    int err = injected(GFI_IO_SYNC, NULL);
    if (!err && fsync(f->fd) != 0)
        err = errno;
    int cerr = injected(GFI_IO_CLOSE, NULL);
    if (close(f->fd) != 0 && !cerr)
        cerr = errno;
    f->fd = -1;
    if (err)
        return io_fail(f, "flushing", err);
    if (cerr)
        return io_fail(f, "closing the temporary for", cerr);
    return GF_OK;
}

/* The rename itself is durable only once the directory entry is: best effort. */
static void sync_directory(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    size_t n = slash ? (size_t)(slash - path) : 1;
    if (n == 0)
        n = 1; /* "/file" lives in "/" */
    if (n >= sizeof dir)
        return;
    memcpy(dir, slash ? path : ".", n);
    dir[n] = '\0';
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

static void discard_temp(gfi_atomic_file *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    if (f->tmp)
        unlink(f->tmp);
}

#else /* C library only: no fsync, and rename may refuse an existing target */

static int open_temp(gfi_atomic_file *f)
{
    int rc = make_temp_name(f, 0);
    if (rc)
        return rc;
    int err = injected(GFI_IO_OPEN, NULL);
    f->stream = err ? NULL : fopen(f->tmp, "wb");
    if (!f->stream)
        return io_fail(f, "creating a temporary beside", err ? err : errno);
    return GF_OK;
}

static void keep_target_mode(gfi_atomic_file *f) { (void)f; }

static int write_all(gfi_atomic_file *f, const char *p, size_t n)
{
    size_t max = n;
    int err = injected(GFI_IO_WRITE, &max);
    if (err || fwrite(p, 1, n, f->stream) != n)
        return io_fail(f, "writing", err ? err : errno);
    return GF_OK;
}

static int sync_and_close(gfi_atomic_file *f)
{
    int err = injected(GFI_IO_SYNC, NULL);
    if (!err && fflush(f->stream) != 0)
        err = errno;
    if (fclose(f->stream) != 0 && !err)
        err = errno;
    f->stream = NULL;
    return err ? io_fail(f, "flushing", err) : GF_OK;
}

static void sync_directory(const char *path) { (void)path; }

static void discard_temp(gfi_atomic_file *f)
{
    if (f->stream)
        fclose(f->stream);
    f->stream = NULL;
    if (f->tmp)
        remove(f->tmp);
}

#endif

static void release(gfi_atomic_file *f)
{
    gfi_free(f->tmp);
    gfi_free(f->real);
    f->tmp = f->real = NULL;
    f->failed = true; /* closed: any further write or commit is refused */
}

/* A path that is a symbolic link to a file: the file it points to is what gets replaced, as cp or a shell's > would
 * write through it; renaming over the link itself would turn it into a plain file and leave its target stale.  A
 * link to nothing (or one realpath cannot follow) is replaced as it is. */
static int follow_link(gfi_atomic_file *f)
{
#if GFI_POSIX_IO
    struct stat st;
    if (lstat(f->path, &st) != 0 || !S_ISLNK(st.st_mode))
        return GF_OK;
    char *r = realpath(f->path, NULL);
    if (!r)
        return GF_OK;
    size_t n = strlen(r) + 1;
    f->real = gfi_malloc(n);
    if (f->real) {
        memcpy(f->real, r, n);
        f->path = f->real;
    }
    free(r);
    if (!f->real)
        return gfi_fail(GF_ERR_NOMEM, "%s: out of memory", f->fn);
#else
    (void)f;
#endif
    return GF_OK;
}

/* A target that exists and is no regular file or directory (a device such as /dev/null, a FIFO, a socket, or
 * /dev/stdout, a link to one) is refused: renaming over it would replace the node itself with a plain file (as
 * root, /dev/null), and bytes written through it could not be taken back.  Directories fail at the rename. */
static int check_target_kind(gfi_atomic_file *f)
{
#if GFI_POSIX_IO
    struct stat st;
    if (stat(f->path, &st) != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
        return GF_OK;
    return gfi_fail(GF_ERR_IO, "%s: %s is not a regular file (a device, FIFO or socket), so it is not replaced; "
                    "write to a file", f->fn, f->path);
#else
    (void)f;
    return GF_OK;
#endif
}

int gfi_atomic_open(gfi_atomic_file *f, const char *path, const char *fn)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->path = path;
    f->fn = fn;
    /* "" names no file (fopen refuses it too); without this check its
     * temporary would be created in the working directory first. */
    int rc = path[0] ? follow_link(f) : io_fail(f, "opening", ENOENT);
    if (!rc)
        rc = check_target_kind(f);
    if (!rc)
        rc = open_temp(f);
    if (rc) {
        discard_temp(f);
        release(f);
        return rc;
    }
    keep_target_mode(f);
    return GF_OK;
}

int gfi_atomic_write(gfi_atomic_file *f, const void *data, size_t len)
{
    if (f->failed)
        return GF_ERR_IO; /* the first failure already said why */
    int rc = write_all(f, data, len);
    if (rc)
        gfi_atomic_abort(f);
    return rc;
}

int gfi_atomic_commit(gfi_atomic_file *f)
{
    if (f->failed)
        return GF_ERR_IO;
    int rc = sync_and_close(f);
    if (!rc) {
        int err = injected(GFI_IO_RENAME, NULL);
        if (!err && rename(f->tmp, f->path) != 0)
            err = errno;
#if !GFI_POSIX_IO
        /* Where rename refuses an existing target, the old file must go first:
         * this fallback is not atomic, only never truncated. */
        if (err && !injected(GFI_IO_RENAME, NULL) && remove(f->path) == 0 && rename(f->tmp, f->path) == 0)
            err = 0;
#endif
        if (err)
            rc = io_fail(f, "renaming the temporary over", err);
    }
    if (rc) {
        gfi_atomic_abort(f);
        return rc;
    }
    sync_directory(f->path);
    release(f);
    return GF_OK;
}

void gfi_atomic_abort(gfi_atomic_file *f)
{
    if (f->failed && !f->tmp)
        return; /* already closed */
    discard_temp(f);
    release(f);
}

int gfi_file_replace(const char *path, const void *data, size_t len, const char *fn)
{
    gfi_atomic_file f;
    int rc = gfi_atomic_open(&f, path, fn);
    if (!rc)
        rc = gfi_atomic_write(&f, data, len);
    if (!rc)
        rc = gfi_atomic_commit(&f);
    return rc;
}
