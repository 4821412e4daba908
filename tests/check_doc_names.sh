#!/bin/sh
# tests/check_doc_names.sh — every gf_ / GF_ name that the docs, the man page and the
# examples mention is one include/gradflow.h has, so a renamed or never-added function,
# enumerator or macro cannot live on in the prose (check_exports.sh covers the headings
# of docs/api.md, doc_blocks.py the code blocks; this covers the words between them).
# Names ending in _ are prefixes ("the GF_ERR_ codes") and are skipped; the few names
# that are not the header's on purpose are listed below.  Run from the repo root.  POSIX sh.
set -u
HEADER=include/gradflow.h
# Placeholders and environment variables, not API names.
ALLOWED="gf_name gf_X_destroy gf_layer_get GF_TESTS_SKIP_LONG"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gf-docnames.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP PIPE

grep -o '[gG][fF]_[A-Za-z0-9_]*' "$HEADER" | sort -u >"$tmp/known"
for n in $ALLOWED; do echo "$n"; done >>"$tmp/known"

fail=0
count=0
for f in README.md docs/*.md abi/README.md man/gradflow.3 examples/*.c examples/consumer/main.c python/examples/*.py; do
    [ -f "$f" ] || continue
    # file:line:name for every mention; a name must start at a word boundary.
    # troff font escapes (\fB, \fI, \fR, \fP) are dropped first: \fBgf_net_create is a mention.
    sed 's/\\f[BIRP]//g' "$f" | grep -n -o '\(^\|[^A-Za-z0-9_]\)[gG][fF]_[A-Za-z0-9_]*' |
        sed 's/^\([0-9]*\):[^gG]*/\1:/' | grep -v '_$' >"$tmp/names"
    while IFS=: read -r line name; do
        count=$((count + 1))
        if ! grep -qx "$name" "$tmp/known"; then
            echo "FAIL: $f:$line: $name is not a name of $HEADER"
            fail=1
        fi
    done <"$tmp/names"
done
if [ "$fail" -ne 0 ]; then
    echo "check_doc_names: FAILED (rename it to the header's name, or add a deliberate placeholder to ALLOWED)"
    exit 1
fi
echo "check_doc_names: OK ($count mentions of gf_/GF_ names, all in $HEADER)"
