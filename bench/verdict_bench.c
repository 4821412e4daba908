/*
 * verdict_bench.c — `make verdict-bench`: the verdict accuracy suite (tests/verdict_scenarios.h), every scenario
 * over 8 seeds.  Prints per scenario the verdict counts after training (and after the probe), then the totals:
 * correct scenario-seeds, false alarms on healthy runs, healthy -> non-healthy flips per 10,000 healthy steps, and
 * the relapses of the other scenarios: steps at which the verdict left the expected one once it was established (read
 * at VS_ESTABLISHED steps in a row: a state of the net that holds must read the same at every step).  Exit status 0 only when all four meet their
 * targets (100 %, 0, < 1, 0), over the whole suite and over each of its groups (dense, recurrent, conv) alone.
 *
 * Usage: verdict_bench [-s name] [-n seeds] [-v] [-r] [-R]
 *   -s name   only the scenarios whose name contains `name`
 *   -n seeds  seeds per scenario (default 8)
 *   -v        print the net's reason of every run that missed, and every flip
 *   -r        print the reasons and the remedy of each scenario's first seed
 *   -R        the remedy bench instead (`make remedy-bench`, bench/verdict_remedy.h): whether following the remedy
 *             of each non-healthy scenario-seed cures it; with -v, every seed's outcome and remedy
 */
#include "verdict_remedy.h"

/* Totals of a group of scenarios: dense, recurrent, conv, and all. */
typedef struct {
    int64_t runs, correct, healthy_runs, false_alarms, steps, flips;
    int64_t held_runs, held_steps, relapses; /* other scenarios, once their expected verdict was read */
} totals;

static int group_of(const vs_scenario *sc)
{
    return sc->a.arch == VS_DENSE ? 0 : sc->a.arch <= VS_GRU ? 1 : 2;
}

static void add_run(totals *t, const vs_scenario *sc, const vs_result *r, int c)
{
    t->runs++;
    t->correct += c;
    if (sc->expect == GF_VERDICT_HEALTHY) {
        t->healthy_runs++;
        t->false_alarms += r->final != GF_VERDICT_HEALTHY;
        t->steps += r->steps_judged;
        t->flips += r->flips;
    } else if (r->steps_held >= 0) {
        t->held_runs++;
        t->held_steps += r->steps_held;
        t->relapses += r->relapses;
    }
}

static double flip_rate(const totals *t) { return t->steps ? 1e4 * (double)t->flips / (double)t->steps : 0; }

/* The targets, for the whole suite and for each group alone. */
static bool meets_targets(const totals *t)
{
    return t->correct == t->runs && t->false_alarms == 0 && flip_rate(t) < 1.0 && t->relapses == 0;
}

static void print_totals(const char *name, const totals *t)
{
    printf("%-10s correct %lld / %lld (%.1f %%), false alarms %lld / %lld, flips %lld in %lld healthy steps = %.2f "
           "per 10,000\n",
           name, (long long)t->correct, (long long)t->runs, t->runs ? 100.0 * (double)t->correct / (double)t->runs : 0,
           (long long)t->false_alarms, (long long)t->healthy_runs, (long long)t->flips, (long long)t->steps,
           flip_rate(t));
    printf("%-10s relapses %lld in %lld steps of %lld non-healthy runs once their verdict was established\n", "",
           (long long)t->relapses, (long long)t->held_steps, (long long)t->held_runs);
}

static void count_into(int32_t *counts, int32_t v)
{
    if (v >= 0 && v <= GF_VERDICT_UNKNOWN)
        counts[v]++;
}

/* "healthy 7, dead 1" into buf. */
static const char *format_counts(char *buf, size_t cap, const int32_t *c)
{
    size_t n = 0;
    buf[0] = 0;
    for (int v = 0; v <= GF_VERDICT_UNKNOWN && n < cap; v++)
        if (c[v])
            n += (size_t)snprintf(buf + n, cap - n, "%s%s %d", n ? ", " : "", gf_verdict_name(v), (int)c[v]);
    return buf;
}

/* Re-runs a missed scenario-seed and prints its final reason. */
static void explain(const vs_scenario *sc, uint64_t seed)
{
    static vs_dataset ds;
    vs_data_for(&ds, sc, seed);
    gf_net *net = vs_build(sc, &ds, seed);
    gf_diag *d;
    if (!net || gf_diag_create(&d, net))
        return;
    char buf[8192];
    gf_diag_set_option(d, GF_DIAG_GUARD, 1);
    gf_diag_probe(d, 256, seed ^ 0x5eedull);
    gf_diag_verdict_reason(d, -1, buf, sizeof buf, NULL);
    printf("      probe: %s\n", buf);
    gf_diag_reset(d);
    gf_diag_enable(d, 1);
    for (int32_t s = 0; s < sc->steps; s++)
        if (vs_step(net, sc, &ds, s))
            break;
    gf_diag_verdict_reason(d, -1, buf, sizeof buf, NULL);
    printf("      final: %s\n", buf);
    gf_diag_verdict_remedy(d, -1, buf, sizeof buf, NULL);
    printf("      remedy: %s\n", buf);
    gf_diag_destroy(d);
    gf_net_destroy(net);
}

typedef struct {
    const char *only;
    int seeds, verbose, remedies, follow;
} options;

/* 0, or 2 with the usage printed. */
static int parse(int argc, char **argv, options *o)
{
    *o = (options){NULL, VS_SEEDS, 0, 0, 0};
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "-s") && a + 1 < argc)
            o->only = argv[++a];
        else if (!strcmp(argv[a], "-n") && a + 1 < argc)
            o->seeds = atoi(argv[++a]);
        else if (!strcmp(argv[a], "-r"))
            o->remedies = 1;
        else if (!strcmp(argv[a], "-R"))
            o->follow = 1;
        else if (!strcmp(argv[a], "-v"))
            o->verbose = vs_verbose = 1;
        else {
            fprintf(stderr, "usage: verdict_bench [-s name] [-n seeds] [-v] [-r] [-R]\n");
            return 2;
        }
    }
    if (o->seeds < 1)
        o->seeds = 1;
    return 0;
}

/* Every seed of one scenario, into its group's and the suite's totals, and its line. */
static void run_scenario(const vs_scenario *sc, const options *o, totals *group, totals *all)
{
    int32_t fin[6] = {0}, pro[6] = {0}, ok = 0;
    int64_t sf = 0, sr = 0;
    for (int s = 0; s < o->seeds; s++) {
        vs_result r = vs_run(sc, (uint64_t)(1000 + s), 1);
        count_into(fin, r.final);
        count_into(pro, r.probe);
        int c = vs_correct(sc, &r);
        ok += c;
        sf += r.flips;
        sr += r.relapses;
        add_run(group, sc, &r, c);
        add_run(all, sc, &r, c);
        if ((!c && o->verbose) || (o->remedies && s == 0)) {
            printf("    seed %d %s:\n", 1000 + s, c ? "" : "missed");
            explain(sc, (uint64_t)(1000 + s));
        }
    }
    char a[96], b[96];
    printf("%-30s %-9s %-22s %-22s %d/%d", sc->name, gf_verdict_name(sc->expect), format_counts(a, sizeof a, fin),
           format_counts(b, sizeof b, pro), (int)ok, o->seeds);
    if (sc->expect == GF_VERDICT_HEALTHY)
        printf("  (flips %lld)", (long long)sf);
    else
        printf("  (relapses %lld)", (long long)sr);
    printf("\n");
}

int main(int argc, char **argv)
{
    options o;
    if (parse(argc, argv, &o))
        return 2;
    if (o.follow)
        return rm_bench(o.only, o.seeds, o.verbose, group_of);
    totals group[3] = {{0}}, all = {0};
    int scenarios = 0;
    printf("%-30s %-9s %-22s %-22s %s\n", "scenario", "expected", "after training", "after the probe", "correct");
    for (int k = 0; k < VS_COUNT; k++) {
        if (o.only && !strstr(vs_scenarios[k].name, o.only))
            continue;
        scenarios++;
        run_scenario(&vs_scenarios[k], &o, &group[group_of(&vs_scenarios[k])], &all);
    }
    printf("\n");
    static const char *names[] = {"dense", "recurrent", "conv"};
    bool groups_ok = true;
    for (int g = 0; g < 3; g++) {
        if (group[g].runs)
            print_totals(names[g], &group[g]);
        groups_ok = groups_ok && meets_targets(&group[g]);
    }
    printf("\n%d scenarios x %d seeds\n", scenarios, o.seeds);
    printf("correct scenario-seeds:          %lld / %lld (%.1f %%)\n", (long long)all.correct, (long long)all.runs,
           all.runs ? 100.0 * (double)all.correct / (double)all.runs : 0);
    printf("false alarms on healthy runs:    %lld / %lld\n", (long long)all.false_alarms, (long long)all.healthy_runs);
    printf("healthy -> non-healthy flips:    %lld in %lld healthy steps = %.2f per 10,000 steps\n", (long long)all.flips,
           (long long)all.steps, flip_rate(&all));
    printf("relapses from the expected:      %lld in %lld steps of %lld non-healthy runs once it was established\n",
           (long long)all.relapses, (long long)all.held_steps, (long long)all.held_runs);
    return meets_targets(&all) && groups_ok ? 0 : 1;
}
