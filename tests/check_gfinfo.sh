#!/bin/sh
# tests/check_gfinfo.sh — the model inspection tool (examples/gfinfo.c): on a valid file it prints the
# format version, the layers, the parameter count and the training state and exits 0; on a truncated or
# corrupt file it prints the loader's message with the byte offset and exits 1.  Run from the repo root;
# B is the build directory (default build/cc).  POSIX sh.
set -u
B=${B:-build/cc}
TOOL=$B/examples/gfinfo
SEED=tests/fuzz/corpus/dense_adam_training.gfm
[ -x "$TOOL" ] || { echo "FAIL: $TOOL does not exist (build first: make examples)"; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/gf-gfinfo.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
problem() { echo "FAIL: $*"; fail=1; }

out=$("$TOOL" "$SEED" 2>&1) || problem "gfinfo exits nonzero on a valid file: $out"
for want in "model file format 1.0" "layers: 2, parameters: 26" "training state: yes (3 steps taken)" \
    "dense 3 -> 4, activation tanh"; do
    case "$out" in *"$want"*) ;; *) problem "gfinfo output lacks \"$want\": $out" ;; esac
done

head -c 300 "$SEED" >"$tmp/cut.gfm"
if out=$("$TOOL" "$tmp/cut.gfm" 2>&1); then
    problem "gfinfo exits 0 on a truncated file"
fi
case "$out" in *"offset 300: truncated"*) ;; *) problem "truncation message: $out" ;; esac

printf 'hello, not a model' >"$tmp/text.gfm"
out=$("$TOOL" "$tmp/text.gfm" 2>&1) && problem "gfinfo exits 0 on a text file"
case "$out" in *"not a gradflow model file"*) ;; *) problem "wrong-magic message: $out" ;; esac

[ $fail = 0 ] && echo "check_gfinfo: OK (valid, truncated and foreign files)"
exit $fail
