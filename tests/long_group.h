/* tests/long_group.h — a suite's long tests in a group of their own.
 *
 * Tests that train nets for hundreds of steps, or check a remedy by training copies of the net, take a
 * fraction of a second natively and minutes under valgrind.  A suite lists them in a second group and runs
 * both with RUN_WITH_LONG_GROUP; with GF_TESTS_SKIP_LONG=1 in the environment (set by CI for valgrind, qemu and
 * clang) the second group is skipped and says so.  `make check` and its ASan + UBSan run always run it. */
#ifndef GF_TESTS_LONG_GROUP_H
#define GF_TESTS_LONG_GROUP_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline int gf_skip_long_group(size_t n)
{
    const char *e = getenv("GF_TESTS_SKIP_LONG");
    if (!e || !strcmp(e, "") || !strcmp(e, "0"))
        return 0;
    printf("[  SKIPPED ] %zu long tests (GF_TESTS_SKIP_LONG=%s)\n", n, e);
    return 1;
}

#define RUN_WITH_LONG_GROUP(tests, long_tests)                                                                        \
    (cmocka_run_group_tests(tests, NULL, NULL) +                                                                      \
     (gf_skip_long_group(sizeof(long_tests) / sizeof((long_tests)[0])) ? 0                                           \
                                                                       : cmocka_run_group_tests(long_tests, NULL, NULL)))

#endif /* GF_TESTS_LONG_GROUP_H */
