#!/bin/sh
# tests/run.sh — runs every cmocka suite given as arguments, then the shell
# checks (tests/check_*.sh) and the Python suite, and prints one closing line.
# Environment: B (build dir), OUT (library dir), PYTHON, SANITIZE, CC,
# CHECK_JOBS (cmocka suites at a time, default 2).
passed=0
failed=0
failures=""
run() {
    name=$1; shift
    if "$@"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures="$failures $name"
    fi
}
# The cmocka suites run CHECK_JOBS at a time (default 2, one per core of the
# 2-core machines CI uses; 1 runs them one by one), each into its own log;
# the logs are printed in the suites' order once all have ended.
logs=$(mktemp -d "${TMPDIR:-/tmp}/gf_check.XXXXXX") || exit 1
i=0
for t in "$@"; do
    i=$((i + 1))
    printf '%s\0%s\0' "$i" "$t"
done | xargs -0 -n 2 -P "${CHECK_JOBS:-2}" sh -c '"$2" >"$0/$1.log" 2>&1; echo $? >"$0/$1.rc"' "$logs"
i=0
for t in "$@"; do
    i=$((i + 1))
    echo "== $t"
    cat "$logs/$i.log"
    run "$(basename "$t")" test "$(cat "$logs/$i.rc" 2>/dev/null)" = 0
done
rm -rf "$logs"
# The training examples assert their own targets (XOR loss < 0.01, sin MSE < 1e-3, Iris held-out accuracy
# >= 0.9, CNN and signal held-out accuracy >= 95 %).
for e in xor regression iris cnn signals; do
    [ -x "$B/examples/$e" ] || continue
    echo "== example $e"
    run "example-$e" "$B/examples/$e"
done
# The recurrent example's full run (the MSE targets) takes tens of seconds: a smoke run here.
if [ -x "$B/examples/recurrent" ]; then
    echo "== example recurrent --quick"
    run "example-recurrent" "$B/examples/recurrent" --quick
fi
for s in tests/check_*.sh; do
    [ -f "$s" ] || continue
    echo "== $s"
    run "$(basename "$s")" sh "$s"
done
# The Python binding loads the shared library, which cannot host ASan from a
# plain interpreter: it is tested in the normal build only.
if [ "${SANITIZE:-0}" != 1 ] && [ -d tests/python ] && ls tests/python/test_*.py >/dev/null 2>&1; then
    echo "== python (with numpy if installed)"
    run python "${PYTHON:-python3}" -m unittest discover -s tests/python -t . -v
    echo "== python (numpy hidden)"
    run python-nonumpy env GRADFLOW_HIDE_NUMPY=1 "${PYTHON:-python3}" -m unittest discover -s tests/python -t . -v
fi
echo
[ -n "$failures" ] && echo "failed suites:$failures"
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
