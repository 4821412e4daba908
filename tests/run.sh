#!/bin/sh
# tests/run.sh — runs every cmocka suite given as arguments, then the shell
# checks (tests/check_*.sh) and the Python suite, and prints one closing line.
# Environment: B (build dir), OUT (library dir), PYTHON, SANITIZE, CC.
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
for t in "$@"; do
    echo "== $t"
    run "$(basename "$t")" "$t"
done
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
