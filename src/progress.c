/*
 * progress.c — gf_net_fit_v2's progress line on stderr: epoch i/N, a bar,
 * samples/s, loss, validation loss and metric, time left.  On a terminal the
 * bar is redrawn in place while the epoch runs (at most ten times a second)
 * and each epoch ends on its own line; elsewhere (a log, a pipe) only the
 * epoch's closing line is written.
 */
#if !defined(_WIN32) && !defined(_POSIX_C_SOURCE)
#define _POSIX_C_SOURCE 200809L /* fileno, isatty */
#endif
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <time.h>
#ifdef _WIN32
#include <io.h>
#define isatty _isatty
#define fileno _fileno
#else
#include <unistd.h>
#endif

#define BAR_WIDTH 20
#define REDRAW_SECONDS 0.1

double gfi_now(void)
{
    struct timespec ts;
    if (timespec_get(&ts, TIME_UTC) != TIME_UTC)
        return 0.0;
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void gfi_progress_begin(gfi_progress *p, int32_t mode, int32_t epochs, int64_t rows, const char *metric)
{
    p->mode = mode;
    p->redraw = mode == 1 && isatty(fileno(stderr));
    p->epochs = epochs;
    p->rows = rows;
    p->metric = metric;
    p->start = p->epoch_start = p->last_draw = gfi_now();
}

void gfi_progress_epoch_begin(gfi_progress *p)
{
    if (p->mode)
        p->epoch_start = gfi_now();
}

static void put_bar(double fraction)
{
    int full = (int)(fraction * BAR_WIDTH);
    char bar[BAR_WIDTH + 3];
    bar[0] = '[';
    for (int i = 0; i < BAR_WIDTH; i++)
        bar[i + 1] = i < full ? '=' : i == full ? '>' : ' ';
    bar[BAR_WIDTH + 1] = ']';
    bar[BAR_WIDTH + 2] = '\0';
    fputs(bar, stderr);
}

/* Hours past INT_MAX (a fit of 2^31 - 1 epochs, the most GF_FIT_EPOCHS takes, at an hour each) are no int: the
 * conversion would be undefined.  A wait that long is shown as a bound. */
#define MAX_SHOWN_HOURS 1e6

static void put_time(const char *label, double seconds)
{
    if (!(seconds < MAX_SHOWN_HOURS * 3600.0))
        fprintf(stderr, "  %s >%.0fh", label, MAX_SHOWN_HOURS);
    else if (seconds >= 3600.0)
        fprintf(stderr, "  %s %dh%02dm", label, (int)(seconds / 3600.0), (int)fmod(seconds / 60.0, 60.0));
    else if (seconds >= 60.0)
        fprintf(stderr, "  %s %dm%02ds", label, (int)(seconds / 60.0), (int)fmod(seconds, 60.0));
    else
        fprintf(stderr, "  %s %.1fs", label, seconds);
}

/* Epoch number, bar and rate of `done` rows of the running epoch. */
static void put_head(const gfi_progress *p, int32_t epoch, int64_t done, double now)
{
    double el = now - p->epoch_start;
    fprintf(stderr, "epoch %d/%d ", (int)epoch + 1, (int)p->epochs);
    put_bar(p->rows ? (double)done / (double)p->rows : 1.0);
    fprintf(stderr, "  %.0f samples/s", el > 0.0 ? (double)done / el : 0.0);
}

void gfi_progress_batch(gfi_progress *p, int32_t epoch, int64_t done, double loss)
{
    if (!p->redraw)
        return;
    double now = gfi_now();
    if (now - p->last_draw < REDRAW_SECONDS && done < p->rows)
        return;
    p->last_draw = now;
    fputc('\r', stderr);
    put_head(p, epoch, done, now);
    fprintf(stderr, "  loss %.4g", loss);
    /* The epoch's rate so far, applied to what is left of it and of the fit. */
    double el = now - p->epoch_start, per_row = done ? el / (double)done : 0.0;
    double left = per_row * ((double)(p->rows - done) + (double)(p->epochs - epoch - 1) * (double)p->rows);
    put_time("ETA", left);
    fputs("   ", stderr);
    fflush(stderr);
}

void gfi_progress_epoch_end(gfi_progress *p, const gf_epoch_record *r, bool validation)
{
    if (!p->mode)
        return;
    double now = gfi_now();
    if (p->redraw)
        fputc('\r', stderr);
    put_head(p, r->epoch, p->rows, now);
    fprintf(stderr, "  loss %.4g", r->loss);
    if (p->metric)
        fprintf(stderr, "  %s %.4g", p->metric, r->metric);
    if (validation) {
        fprintf(stderr, "  val_loss %.4g", r->val_loss);
        if (p->metric)
            fprintf(stderr, "  val_%s %.4g", p->metric, r->val_metric);
    }
    double per_epoch = (now - p->start) / (double)(r->epoch + 1);
    put_time("ETA", per_epoch * (double)(p->epochs - r->epoch - 1));
    fputc('\n', stderr);
    fflush(stderr);
    p->last_draw = now;
}
