/*
 * iris.c — a real data set from a CSV file, trained with gf_net_fit_v2: a
 * validation split drawn from the net's seed, early stopping on validation
 * accuracy with the best weights restored, a cosine schedule after a short
 * warm-up, the progress line, and the accuracy on 30 flowers the net never saw.
 *
 *   iris [path/to/iris.csv]     (default examples/data/iris.csv, run from the repository)
 *
 * The CSV reader is part of the example, not of the library: four numbers
 * and a species name per line after a header line.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gradflow.h"

#define FEATURES 4
#define MAX_ROWS 1000
#define MAX_CLASSES 8
#define TEST_EVERY 5 /* every fifth flower is held out for the final test */

typedef struct dataset {
    float x[MAX_ROWS * FEATURES];
    float label[MAX_ROWS];
    int rows, classes;
    char names[MAX_CLASSES][32];
} dataset;

/* The class index of a species name, adding names in order of appearance; -1 when too many. */
static int class_of(dataset *d, const char *name)
{
    for (int c = 0; c < d->classes; c++)
        if (strcmp(d->names[c], name) == 0)
            return c;
    if (d->classes == MAX_CLASSES)
        return -1;
    snprintf(d->names[d->classes], sizeof d->names[0], "%s", name);
    return d->classes++;
}

/* One "f,f,f,f,name" line into row d->rows; 0 if it does not parse. */
static int parse_line(dataset *d, char *line)
{
    char *p = line, *end;
    for (int j = 0; j < FEATURES; j++) {
        double v = strtod(p, &end);
        if (end == p || *end != ',' || !isfinite(v))
            return 0;
        d->x[d->rows * FEATURES + j] = (float)v;
        p = end + 1;
    }
    p[strcspn(p, "\r\n")] = '\0';
    int c = *p ? class_of(d, p) : -1;
    if (c < 0)
        return 0;
    d->label[d->rows++] = (float)c;
    return 1;
}

static int read_csv(const char *path, dataset *d)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    char line[256];
    int lineno = 1, ok = fgets(line, sizeof line, f) != NULL; /* the header */
    while (ok && d->rows < MAX_ROWS && fgets(line, sizeof line, f)) {
        lineno++;
        if (line[strspn(line, " \r\n")] && !parse_line(d, line)) {
            fprintf(stderr, "%s:%d: expected %d numbers and a species name\n", path, lineno, FEATURES);
            ok = 0;
        }
    }
    fclose(f);
    return ok && d->rows > 0 ? 0 : -1;
}

/* Every TEST_EVERY-th row into test, the others into train. */
static void hold_out(const dataset *all, dataset *train, dataset *test)
{
    for (int i = 0; i < all->rows; i++) {
        dataset *to = i % TEST_EVERY == TEST_EVERY - 1 ? test : train;
        memcpy(to->x + to->rows * FEATURES, all->x + i * FEATURES, FEATURES * sizeof(float));
        to->label[to->rows++] = all->label[i];
    }
    train->classes = test->classes = all->classes;
}

/* Scales every feature to mean 0, variance 1 with the training set's statistics. */
static void standardize(dataset *train, dataset *test)
{
    for (int j = 0; j < FEATURES; j++) {
        double s = 0.0, s2 = 0.0;
        for (int i = 0; i < train->rows; i++) {
            s += train->x[i * FEATURES + j];
            s2 += (double)train->x[i * FEATURES + j] * train->x[i * FEATURES + j];
        }
        double mean = s / train->rows, sd = sqrt(fmax(s2 / train->rows - mean * mean, 1e-12));
        for (int i = 0; i < train->rows; i++)
            train->x[i * FEATURES + j] = (float)((train->x[i * FEATURES + j] - mean) / sd);
        for (int i = 0; i < test->rows; i++)
            test->x[i * FEATURES + j] = (float)((test->x[i * FEATURES + j] - mean) / sd);
    }
}

static int check(int rc, const char *what)
{
    if (rc != GF_OK)
        fprintf(stderr, "iris: %s failed: %s (%s)\n", what, gf_strerror(rc), gf_last_error());
    return rc;
}

static int build(gf_net **net, int classes)
{
    gf_loss *loss = NULL;
    gf_optimizer *opt = NULL;
    int rc;
    if ((rc = check(gf_net_create(net, FEATURES, 7), "create")) ||
        (rc = check(gf_net_add_dense(*net, 16, GF_ACT_RELU, NULL), "add hidden")) ||
        (rc = check(gf_net_add_dense(*net, classes, GF_ACT_IDENTITY, NULL), "add output")) ||
        (rc = check(gf_loss_create(&loss, GF_LOSS_SOFTMAX_CE_LABELS), "loss")) ||
        (rc = check(gf_net_set_loss(*net, loss), "set loss")) ||
        (rc = check(gf_optimizer_create(&opt, GF_OPT_ADAM, 0.02), "optimizer")) ||
        (rc = check(gf_net_set_optimizer(*net, opt), "set optimizer")))
        gf_optimizer_destroy(opt); /* a no-op once the net owns it */
    else
        rc = check(gf_net_add_metric(*net, GF_METRIC_ACCURACY, NAN), "metric");
    gf_loss_destroy(loss);
    return rc;
}

#define EPOCHS 200

static int fit(gf_net *net, const dataset *train)
{
    gf_fit *f = NULL;
    gf_schedule *s = NULL;
    int rc;
    if ((rc = check(gf_fit_create(&f), "fit options")) || (rc = check(gf_fit_set(f, GF_FIT_EPOCHS, EPOCHS), "epochs")) ||
        (rc = check(gf_fit_set(f, GF_FIT_BATCH, 16), "batch")) ||
        (rc = check(gf_fit_set(f, GF_FIT_VALIDATION_SPLIT, 0.25), "split")) ||
        (rc = check(gf_fit_set(f, GF_FIT_MONITOR, GF_MONITOR_VAL_LOSS), "monitor")) ||
        (rc = check(gf_fit_set(f, GF_FIT_PATIENCE, 20), "patience")) ||
        (rc = check(gf_fit_set(f, GF_FIT_RESTORE_BEST, 1), "restore best")) ||
        (rc = check(gf_fit_set(f, GF_FIT_PROGRESS, 1), "progress")) ||
        (rc = check(gf_schedule_create(&s, GF_SCHED_COSINE, 0.02), "schedule")) ||
        (rc = check(gf_schedule_set(s, GF_SCHED_PERIOD, EPOCHS), "period")) ||
        (rc = check(gf_schedule_set(s, GF_SCHED_WARMUP, 5), "warm-up")) ||
        (rc = check(gf_fit_set_schedule(f, s), "set schedule")))
        goto done;
    rc = check(gf_net_fit_v2(net, train->x, (size_t)train->rows * FEATURES, train->label, (size_t)train->rows,
                             train->rows, f),
               "fit");
done:
    gf_schedule_destroy(s);
    gf_fit_destroy(f);
    return rc;
}

/* The record of the epoch whose weights the net kept, and the accuracy on the held-out flowers. */
static int report(gf_net *net, const dataset *test)
{
    gf_epoch_record last = {.size = sizeof last}, best = {.size = sizeof best};
    int32_t n = gf_net_epoch_count(net);
    double loss, acc;
    int rc;
    if ((rc = check(gf_net_epoch_record(net, n - 1, &last), "record")) ||
        (rc = check(gf_net_epoch_record(net, last.best_epoch, &best), "best record")) ||
        (rc = check(gf_net_evaluate_v2(net, test->x, (size_t)test->rows * FEATURES, test->label, (size_t)test->rows,
                                       test->rows, 0, &loss, &acc, 1),
                    "evaluate")))
        return rc;
    printf("trained %d of %d epochs; kept epoch %d: val_loss %.4f, val_accuracy %.3f\n", (int)n, EPOCHS,
           (int)best.epoch + 1, best.val_loss, best.val_metric);
    printf("held-out test: %d flowers, loss %.4f, accuracy %.3f\n", test->rows, loss, acc);
    if (acc < 0.9) {
        fprintf(stderr, "iris: held-out accuracy %.3f is below 0.9\n", acc);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    static dataset all, train, test;
    const char *path = argc > 1 ? argv[1] : "examples/data/iris.csv";
    if (read_csv(path, &all))
        return 1;
    hold_out(&all, &train, &test);
    standardize(&train, &test);
    printf("%s: %d flowers, %d species; %d to train and validate, %d held out\n", path, all.rows, all.classes,
           train.rows, test.rows);
    gf_net *net = NULL;
    int rc = build(&net, all.classes);
    if (!rc)
        rc = fit(net, &train);
    if (!rc)
        rc = report(net, &test);
    gf_net_destroy(net);
    return rc ? 1 : 0;
}
