/* test_schedule.c — learning-rate schedules against their formulas at every unit, warm-up, SGDR restarts,
 * reduce-on-plateau's patience, cooldown and floor, and refused parameters. */
#define _POSIX_C_SOURCE 200809L /* alarm: a schedule that loops forever fails the suite instead of hanging it */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <unistd.h>

#include "gradflow.h"

#define PI 3.14159265358979323846
#define assert_close(a, b, tol) assert_true(fabs((a) - (b)) <= (tol) * fmax(1e-300, fabs(b)))

static gf_schedule *make(int32_t kind, double base)
{
    gf_schedule *s;
    assert_int_equal(gf_schedule_create(&s, kind, base), GF_OK);
    return s;
}

static void set(gf_schedule *s, int32_t param, double v) { assert_int_equal(gf_schedule_set(s, param, v), GF_OK); }

static double lr_at(const gf_schedule *s, int64_t t)
{
    double lr = -1.0;
    assert_int_equal(gf_schedule_lr(s, t, &lr), GF_OK);
    return lr;
}

static void test_step_decays_by_gamma_every_period(void **state)
{
    (void)state;
    gf_schedule *s = make(GF_SCHED_STEP, 0.1);
    set(s, GF_SCHED_PERIOD, 3);
    set(s, GF_SCHED_GAMMA, 0.5);
    for (int64_t t = 0; t < 20; t++)
        assert_close(lr_at(s, t), 0.1 * pow(0.5, (double)(t / 3)), 1e-15);
    gf_schedule_destroy(s);
}

static void test_exponential_multiplies_by_gamma_every_unit(void **state)
{
    (void)state;
    gf_schedule *s = make(GF_SCHED_EXPONENTIAL, 0.2);
    double want = 0.2;
    for (int64_t t = 0; t < 50; t++, want *= 0.95)
        assert_close(lr_at(s, t), want, 1e-13);
    gf_schedule_destroy(s);
}

static void test_cosine_anneals_to_the_minimum_and_stays(void **state)
{
    (void)state;
    gf_schedule *s = make(GF_SCHED_COSINE, 0.1);
    set(s, GF_SCHED_PERIOD, 8);
    set(s, GF_SCHED_MIN_LR, 0.01);
    for (int64_t t = 0; t <= 8; t++)
        assert_close(lr_at(s, t), 0.01 + 0.09 * (1 + cos(PI * (double)t / 8)) / 2, 1e-15);
    assert_close(lr_at(s, 0), 0.1, 1e-15);
    for (int64_t t = 8; t < 30; t++)
        assert_close(lr_at(s, t), 0.01, 1e-15);
    gf_schedule_destroy(s);
}

static void test_cosine_warm_restarts_lengthen_each_period_by_the_multiplier(void **state)
{
    (void)state;
    gf_schedule *s = make(GF_SCHED_COSINE, 1.0);
    set(s, GF_SCHED_PERIOD, 2);
    set(s, GF_SCHED_RESTART_MULT, 2);
    /* periods 2, 4, 8: restarts at t = 2, 6, 14 */
    const int64_t start[] = {0, 2, 6, 14}, len[] = {2, 4, 8, 16};
    for (int p = 0; p < 3; p++)
        for (int64_t i = 0; i < len[p]; i++)
            assert_close(lr_at(s, start[p] + i), (1 + cos(PI * (double)i / (double)len[p])) / 2, 1e-15);
    assert_close(lr_at(s, 14), 1.0, 1e-15);
    set(s, GF_SCHED_RESTART_MULT, 1); /* equal periods */
    for (int64_t t = 0; t < 12; t++)
        assert_close(lr_at(s, t), (1 + cos(PI * (double)(t % 2) / 2)) / 2, 1e-15);
    gf_schedule_destroy(s);
}

static void test_warm_up_rises_linearly_then_hands_over_at_unit_zero_of_the_schedule(void **state)
{
    (void)state;
    gf_schedule *s = make(GF_SCHED_STEP, 0.1);
    set(s, GF_SCHED_PERIOD, 2);
    set(s, GF_SCHED_WARMUP, 4);
    set(s, GF_SCHED_WARMUP_START, 0.2);
    for (int64_t t = 0; t < 4; t++)
        assert_close(lr_at(s, t), 0.1 * (0.2 + 0.8 * (double)t / 4), 1e-15);
    for (int64_t t = 4; t < 12; t++)
        assert_close(lr_at(s, t), 0.1 * pow(0.1, (double)((t - 4) / 2)), 1e-15);
    gf_schedule_destroy(s);
}

static double observe(gf_schedule *s, double v)
{
    double lr = -1.0;
    assert_int_equal(gf_schedule_observe(s, v, &lr), GF_OK);
    return lr;
}

static void test_plateau_reduces_after_more_than_patience_bad_epochs(void **state)
{
    (void)state;
    gf_schedule *s = make(GF_SCHED_PLATEAU, 1.0);
    set(s, GF_SCHED_PATIENCE, 2);
    set(s, GF_SCHED_GAMMA, 0.5);
    assert_close(observe(s, 10.0), 1.0, 0);  /* best */
    assert_close(observe(s, 10.0), 1.0, 0);  /* bad 1 */
    assert_close(observe(s, 9.9995), 1.0, 0); /* bad 2: within the 1e-4 relative threshold */
    assert_close(observe(s, 10.0), 0.5, 0);  /* bad 3 > patience: halved, count restarts */
    assert_close(observe(s, 5.0), 0.5, 0);   /* a real improvement */
    assert_close(lr_at(s, 100), 0.5, 0);
    assert_int_equal(gf_schedule_reset(s), GF_OK);
    assert_close(lr_at(s, 0), 1.0, 0);
    gf_schedule_destroy(s);
}

static void test_plateau_waits_out_its_cooldown_and_stops_at_the_floor(void **state)
{
    (void)state;
    gf_schedule *s = make(GF_SCHED_PLATEAU, 1.0);
    set(s, GF_SCHED_PATIENCE, 0);
    set(s, GF_SCHED_COOLDOWN, 2);
    set(s, GF_SCHED_MIN_LR, 0.004);
    const double want[] = {1.0, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.004, 0.004, 0.004, 0.004};
    assert_close(observe(s, 1.0), want[0], 0);
    for (int i = 1; i < 11; i++)
        assert_close(observe(s, 1.0), want[i], 1e-15);
    gf_schedule_destroy(s);
}

static void test_plateau_in_max_mode_counts_rises_as_improvement(void **state)
{
    (void)state;
    gf_schedule *s = make(GF_SCHED_PLATEAU, 1.0);
    set(s, GF_SCHED_PATIENCE, 1);
    set(s, GF_SCHED_MODE, 1);
    assert_close(observe(s, 0.5), 1.0, 0);
    assert_close(observe(s, 0.6), 1.0, 0);
    assert_close(observe(s, 0.7), 1.0, 0);
    assert_close(observe(s, 0.6), 1.0, 0);
    assert_close(observe(s, 0.6), 0.1, 1e-15);
    gf_schedule_destroy(s);
}

static void test_schedule_parameters_read_back_and_refuse_bad_values(void **state)
{
    (void)state;
    gf_schedule *s = make(GF_SCHED_COSINE, 0.1), *p = make(GF_SCHED_PLATEAU, 0.1);
    double v;
    assert_int_equal(gf_schedule_get(s, GF_SCHED_PERIOD, &v), GF_OK);
    assert_true(v == 10.0);
    assert_int_equal(gf_schedule_get(s, GF_SCHED_WARMUP_START, &v), GF_OK);
    assert_close(v, 1.0 / 3.0, 1e-15);
    assert_int_equal(gf_schedule_set(s, GF_SCHED_PERIOD, 0), GF_ERR_INVALID);
    assert_int_equal(gf_schedule_set(s, GF_SCHED_PERIOD, 2.5), GF_ERR_INVALID);
    assert_int_equal(gf_schedule_set(s, GF_SCHED_RESTART_MULT, 1.5), GF_ERR_INVALID);
    assert_int_equal(gf_schedule_set(s, GF_SCHED_WARMUP_START, 1.5), GF_ERR_INVALID);
    assert_int_equal(gf_schedule_set(s, GF_SCHED_MIN_LR, NAN), GF_ERR_INVALID);
    assert_int_equal(gf_schedule_set(s, 77, 1), GF_ERR_INVALID);
    assert_int_equal(gf_schedule_set(p, GF_SCHED_GAMMA, 1.0), GF_ERR_INVALID);
    assert_int_equal(gf_schedule_set(p, GF_SCHED_PER_STEP, 1), GF_ERR_INVALID);
    assert_int_equal(gf_schedule_get(s, GF_SCHED_PERIOD, &v), GF_OK);
    assert_true(v == 10.0);
    assert_int_equal(gf_schedule_lr(s, -1, &v), GF_ERR_RANGE);
    assert_int_equal(gf_schedule_lr(s, 0, NULL), GF_ERR_NULL);
    gf_schedule *q = s;
    assert_int_equal(gf_schedule_create(&q, GF_SCHED_STEP, -0.1), GF_ERR_INVALID);
    assert_null(q);
    assert_int_equal(gf_schedule_create(&q, 9, 0.1), GF_ERR_INVALID);
    assert_int_equal(gf_schedule_kind(NULL), -1);
    assert_int_equal(gf_schedule_kind(p), GF_SCHED_PLATEAU);
    gf_schedule_destroy(s);
    gf_schedule_destroy(p);
    gf_schedule_destroy(NULL);
}

/* A rate the optimizer takes is a base the schedule takes: 0 included (every rate is then 0). */
static void test_a_base_rate_of_zero_is_accepted(void **state)
{
    (void)state;
    gf_schedule *s = make(GF_SCHED_COSINE, 0.0);
    assert_true(lr_at(s, 3) == 0.0);
    gf_schedule_destroy(s);
}

/* A base or a minimum no optimizer could hold (beyond the largest float) is refused, as the optimizer does. */
static void test_a_base_or_minimum_beyond_the_float_range_is_refused(void **state)
{
    (void)state;
    gf_schedule *q = NULL;
    assert_int_equal(gf_schedule_create(&q, GF_SCHED_COSINE, 1e39), GF_ERR_INVALID);
    assert_null(q);
    gf_schedule *s = make(GF_SCHED_COSINE, 0.1);
    assert_int_equal(gf_schedule_set(s, GF_SCHED_MIN_LR, 1e39), GF_ERR_INVALID);
    gf_schedule_destroy(s);
}

/* Periods and restart factors up to 2^53 are accepted, so the period after a restart can pass INT64_MAX
 * (2^32 x 2^32 wrapped to 0 and the loop never ended; 2^40 x 2^40 is a signed overflow): t then lies in that
 * long period, whose rate is the cosine at t's place in it. */
static void test_warm_restarts_give_a_rate_when_the_next_period_passes_int64(void **state)
{
    (void)state;
    static const struct {
        double period, mult;
        int64_t t;
    } cases[] = {{4294967296.0, 4294967296.0, 8589934592LL},
                 {1099511627776.0, 1099511627776.0, 2199023255552LL},
                 {9007199254740992.0, 9007199254740992.0, INT64_MAX}};
    alarm(20); /* the loop ended in no time; a hang is a failure */
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        gf_schedule *s = make(GF_SCHED_COSINE, 0.1);
        set(s, GF_SCHED_PERIOD, cases[i].period);
        set(s, GF_SCHED_RESTART_MULT, cases[i].mult);
        double u = (double)cases[i].t - cases[i].period, len = cases[i].period * cases[i].mult;
        assert_close(lr_at(s, cases[i].t), 0.1 * (1.0 + cos(PI * u / len)) / 2.0, 1e-12);
        gf_schedule_destroy(s);
    }
    alarm(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_step_decays_by_gamma_every_period),
        cmocka_unit_test(test_exponential_multiplies_by_gamma_every_unit),
        cmocka_unit_test(test_cosine_anneals_to_the_minimum_and_stays),
        cmocka_unit_test(test_cosine_warm_restarts_lengthen_each_period_by_the_multiplier),
        cmocka_unit_test(test_warm_up_rises_linearly_then_hands_over_at_unit_zero_of_the_schedule),
        cmocka_unit_test(test_plateau_reduces_after_more_than_patience_bad_epochs),
        cmocka_unit_test(test_plateau_waits_out_its_cooldown_and_stops_at_the_floor),
        cmocka_unit_test(test_plateau_in_max_mode_counts_rises_as_improvement),
        cmocka_unit_test(test_schedule_parameters_read_back_and_refuse_bad_values),
        cmocka_unit_test(test_a_base_rate_of_zero_is_accepted),
        cmocka_unit_test(test_warm_restarts_give_a_rate_when_the_next_period_passes_int64),
        cmocka_unit_test(test_a_base_or_minimum_beyond_the_float_range_is_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
