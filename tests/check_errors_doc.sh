#!/bin/sh
# tests/check_errors_doc.sh — docs/errors.md has one row per status code of include/gradflow.h,
# and every test a row names exists in tests/test_errors.c.  Run from the repo root.  POSIX sh.
set -u
doc=docs/errors.md
suite=tests/test_errors.c
fail=0
for code in $(sed -n 's/^ *\(GF_\(OK\|ERR_[A-Z_]*\)\) *=.*/\1/p' include/gradflow.h); do
    if ! grep -q "^| \`$code\` " "$doc"; then
        echo "FAIL: $doc has no row for $code"
        fail=1
    fi
done
for t in $(grep '^| `GF_' "$doc" | sed -n 's/.*| `\(test_[a-z0-9_]*\)` |$/\1/p'); do
    if ! grep -q "static void $t(" "$suite"; then
        echo "FAIL: $doc names $t, which $suite does not define"
        fail=1
    fi
done
rows=$(grep -c '^| `GF_' "$doc")
tests=$(grep '^| `GF_' "$doc" | grep -c '| `test_[a-z0-9_]*` |$')
if [ "$rows" -ne "$tests" ]; then
    echo "FAIL: $rows rows in $doc but $tests name a test"
    fail=1
fi
[ "$fail" -eq 0 ] && echo "check_errors_doc: OK ($rows codes, each with a test)"
exit "$fail"
