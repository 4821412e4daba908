/* soak.c — a long run: STEPS training steps (default 1,000,000) of a small net with diagnostics observing
 * every step, the guard on, and a report and the verdicts read every 100,000 steps.  Prints the resident set
 * size and the library's live allocations after a warm-up and at the end, and fails if the RSS grew by more
 * than 1 MiB or the live allocations changed (training allocates nothing in steady state).  Not part of
 * `make check` or CI: `make soak [SOAK_STEPS=N]`; the last result is in docs/performance.md. */
#define _POSIX_C_SOURCE 200809L /* sysconf */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "gradflow.h"

enum { IN = 8, HID = 32, OUT = 2, BATCH = 16, WARMUP = 1000 };

static long rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    if (f)
        fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static int check(int rc, const char *what)
{
    if (rc) {
        fprintf(stderr, "soak: %s failed: %s (%s)\n", what, gf_strerror(rc), gf_last_error());
        exit(1);
    }
    return rc;
}

int main(int argc, char **argv)
{
    long steps = argc > 1 ? atol(argv[1]) : 1000000;
    gf_net *net;
    gf_diag *d;
    gf_optimizer *adam;
    check(gf_net_create(&net, IN, 1), "create");
    check(gf_net_add_dense(net, HID, GF_ACT_TANH, NULL), "add");
    check(gf_net_add_dense(net, HID, GF_ACT_RELU, NULL), "add");
    check(gf_net_add_dense(net, OUT, GF_ACT_IDENTITY, NULL), "add");
    check(gf_optimizer_create(&adam, GF_OPT_ADAM, 1e-3), "optimizer");
    check(gf_net_set_optimizer(net, adam), "set optimizer");
    check(gf_diag_create(&d, net), "diag");
    check(gf_diag_set_option(d, GF_DIAG_GUARD, 1), "guard");
    /* A small data set cycled in mini-batches: y = (sin of a feature sum, its square). */
    static float x[64 * IN], y[64 * OUT];
    for (int i = 0; i < 64; i++) {
        double s = 0;
        for (int j = 0; j < IN; j++) {
            x[i * IN + j] = (float)sin(0.37 * (i * IN + j));
            s += x[i * IN + j];
        }
        y[i * OUT] = (float)sin(s);
        y[i * OUT + 1] = (float)(sin(s) * sin(s));
    }
    static char report[1 << 16];
    long rss0 = 0, start_live = 0;
    double loss = 0, t0 = (double)clock() / CLOCKS_PER_SEC;
    for (long s = 0; s < steps; s++) {
        int off = (int)(s % 4) * BATCH;
        check(gf_net_train_step(net, x + off * IN, BATCH * IN, y + off * OUT, BATCH * OUT, BATCH, &loss), "step");
        if (s == WARMUP - 1) {
            rss0 = rss_kib();
            start_live = (long)gf_live_allocations();
            printf("soak: after %d steps: RSS %ld KiB, %ld live allocations\n", WARMUP, rss0, start_live);
        }
        if (s % 100000 == 99999) {
            int32_t verdict;
            check(gf_diag_verdict(d, -1, &verdict), "verdict");
            size_t need;
            check(gf_diag_report(d, GF_REPORT_TEXT, report, sizeof report, &need), "report");
            printf("soak: step %ld loss %.6f verdict %s RSS %ld KiB live %lld\n", s + 1, loss, gf_verdict_name(verdict),
                   rss_kib(), (long long)gf_live_allocations());
            fflush(stdout);
        }
    }
    long rss1 = rss_kib(), end_live = (long)gf_live_allocations();
    double cpu = (double)clock() / CLOCKS_PER_SEC - t0;
    printf("soak: %ld steps in %.1f s CPU; RSS %ld -> %ld KiB (%+ld KiB); live allocations %ld -> %ld\n", steps, cpu,
           rss0, rss1, rss1 - rss0, start_live, end_live);
    gf_diag_destroy(d);
    gf_net_destroy(net);
    printf("soak: after destroying everything: %lld live allocations\n", (long long)gf_live_allocations());
    int ok = rss1 - rss0 <= 1024 && end_live == start_live && gf_live_allocations() == 0;
    if (!ok)
        printf("soak: FAILED (RSS growth over 1 MiB, or allocations changed)\n");
    return ok ? 0 : 1;
}
