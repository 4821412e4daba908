#!/bin/sh
# tests/run.sh — runs every cmocka suite given as arguments, the training
# examples, the shell checks (tests/check_*.sh) and the Python suite, and
# prints one closing line.
# Environment: B (build dir), OUT (library dir), PYTHON, SANITIZE, CC,
# CHECK_JOBS (checks at a time, default 2).
#
# Every check is a job with its own log: CHECK_JOBS of them run at a time
# (default 2, one per core of the 2-core machines CI uses; 1 runs them one
# by one), the longest first so that the short ones fill the other core, and
# the logs are printed in the listed order once all have ended.
passed=0
failed=0
failures=""
logs=$(mktemp -d "${TMPDIR:-/tmp}/gf_check.XXXXXX") || exit 1
n=0
# job NAME COMMAND...: the check NAME runs COMMAND (its words as given).
job() {
    n=$((n + 1))
    printf '%s\n' "$1" >"$logs/$n.name"
    shift
    : >"$logs/$n.cmd"
    for w in "$@"; do
        printf '%s\0' "$w" >>"$logs/$n.cmd"
    done
}
for t in "$@"; do
    job "$(basename "$t")" "$t"
done
# The training examples assert their own targets (XOR loss < 0.01, sin MSE < 1e-3, Iris held-out accuracy
# >= 0.9, CNN and signal held-out accuracy >= 95 %).
for e in xor regression iris cnn signals; do
    [ -x "$B/examples/$e" ] || continue
    job "example-$e" "$B/examples/$e"
done
# The recurrent example's full run (the MSE targets) takes tens of seconds: a smoke run here.
[ -x "$B/examples/recurrent" ] && job "example-recurrent" "$B/examples/recurrent" --quick
for s in tests/check_*.sh; do
    [ -f "$s" ] || continue
    job "$(basename "$s")" sh "$s"
done
# The Python binding loads the shared library, which cannot host ASan from a
# plain interpreter: it is tested in the normal build only.
if [ "${SANITIZE:-0}" != 1 ] && [ -d tests/python ] && ls tests/python/test_*.py >/dev/null 2>&1; then
    job "python (with numpy if installed)" "${PYTHON:-python3}" -m unittest discover -s tests/python -t . -v
    job "python (numpy hidden)" env GRADFLOW_HIDE_NUMPY=1 "${PYTHON:-python3}" -m unittest discover -s tests/python \
        -t . -v
fi
# Start order: the checks that take longest (measured natively on a 2-core guest: test_accuracy 17 s, each
# Python run and check_python_install.sh about 10 s, test_alloc_fail 6 s, check_install.sh 4 s) first, then
# the rest in the listed order.
first=""
i=0
while [ "$i" -lt "$n" ]; do
    i=$((i + 1))
    case "$(cat "$logs/$i.name")" in
    test_accuracy | python* | check_python_install.sh | test_alloc_fail | check_install.sh) first="$first $i" ;;
    esac
done
{
    for i in $first; do echo "$i"; done
    i=0
    while [ "$i" -lt "$n" ]; do
        i=$((i + 1))
        case " $first " in *" $i "*) ;; *) echo "$i" ;; esac
    done
} | xargs -n 1 -P "${CHECK_JOBS:-2}" sh -c 'xargs -0 sh -c '\''"$@"'\'' check <"$0/$1.cmd" >"$0/$1.log" 2>&1; echo $? >"$0/$1.rc"' "$logs"
i=0
while [ "$i" -lt "$n" ]; do
    i=$((i + 1))
    name=$(cat "$logs/$i.name")
    echo "== $name"
    cat "$logs/$i.log"
    if [ "$(cat "$logs/$i.rc" 2>/dev/null)" = 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures="$failures $name"
    fi
done
rm -rf "$logs"
echo
[ -n "$failures" ] && echo "failed suites:$failures"
echo "check: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
