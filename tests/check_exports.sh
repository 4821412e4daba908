#!/bin/sh
# tests/check_exports.sh — the exported symbols of libgradflow.so, the GF_API
# prototypes of include/gradflow.h and the ### `gf_name` headings of
# docs/api.md must be the same set of names, every export must carry the
# gf_ prefix, and every documented function must list its errors.  Run from the repo root; OUT is the directory holding
# libgradflow.so (default: lib).  POSIX sh.
set -u
OUT=${OUT:-lib}
SO=$OUT/libgradflow.so
HEADER=include/gradflow.h
DOCS=docs/api.md

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gf-exports.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP PIPE

fail=0
problem() { echo "FAIL: $*"; fail=1; }

for f in "$SO" "$HEADER" "$DOCS"; do
    [ -e "$f" ] || { echo "FAIL: $f does not exist (build first: make)"; exit 1; }
done
command -v nm >/dev/null 2>&1 || { echo "FAIL: nm not found (install binutils)"; exit 1; }

# (a) Defined dynamic symbols: functions (T/t, i = ifunc, W = weak) and data
# (D/d, B/b, R/r, V, G/S).  "A" entries are version nodes (GRADFLOW_0), not
# code or data.  The @@VERSION suffix is dropped.
if ! nm -D --defined-only "$SO" >"$tmp/nm.raw" 2>"$tmp/nm.err"; then
    echo "FAIL: nm -D --defined-only $SO failed:"; cat "$tmp/nm.err"; exit 1
fi
awk 'NF >= 3 && $2 ~ /^[TtiWwDdBbRrVvGgSs]$/ { n = $3; sub(/@.*/, "", n); print n }' \
    "$tmp/nm.raw" | sort >"$tmp/exports.all"
sort -u "$tmp/exports.all" >"$tmp/exports"

# (b) GF_API prototypes: accumulate from a line starting with GF_API up to the
# ';' (prototypes may span lines), then take the identifier before the first '('.
awk '
    /^[ \t]*GF_API[ \t]/ { acc = ""; inproto = 1 }
    inproto {
        acc = acc " " $0
        if (index(acc, ";") == 0) next
        inproto = 0
        p = index(acc, "(")
        if (p == 0) { print "?no-paren:" acc > "/dev/stderr"; next }
        s = substr(acc, 1, p - 1)
        sub(/[ \t]+$/, "", s)
        if (match(s, /[A-Za-z_][A-Za-z0-9_]*$/)) print substr(s, RSTART, RLENGTH)
        else print "?no-name:" acc > "/dev/stderr"
    }
    END { if (inproto) print "?unterminated:" acc > "/dev/stderr" }
' "$HEADER" 2>"$tmp/header.err" | sort >"$tmp/header.all"
sort -u "$tmp/header.all" >"$tmp/header"
if [ -s "$tmp/header.err" ]; then
    while IFS= read -r l; do problem "$HEADER: cannot parse GF_API declaration: $l"; done <"$tmp/header.err"
fi

# (c) Documented functions: headings exactly of the form ### `gf_name`.
# A level-3 heading that mentions gf_ in any other form is reported, since
# the check would otherwise silently miss it.
sed -n 's/^### `\([A-Za-z_][A-Za-z0-9_]*\)`[[:blank:]]*$/\1/p' "$DOCS" | sort >"$tmp/docs.all"
sort -u "$tmp/docs.all" >"$tmp/docs"
grep -n '^###[[:blank:]].*gf_' "$DOCS" | grep -v '^[0-9]*:### `[A-Za-z_][A-Za-z0-9_]*`[[:blank:]]*$' >"$tmp/docs.bad"
while IFS= read -r l; do
    problem "$DOCS:${l%%:*}: heading not of the form ### \`gf_name\`: ${l#*:}"
done <"$tmp/docs.bad"

# Every function's entry states its errors: a line with "Errors" between its
# heading and the next heading ("Errors: none" for one that cannot fail).
awk -v docs="$DOCS" '
    function close_entry() { if (name != "" && !errs) print docs ":" line ": " name " has no Errors: list" }
    /^#/ { close_entry(); name = ""; errs = 0 }
    /^### `gf_[A-Za-z0-9_]*`/ { name = $2; line = FNR; next }
    /Errors/ { errs = 1 }
    END { close_entry() }
' "$DOCS" >"$tmp/docs.noerr"
while IFS= read -r l; do problem "$l"; done <"$tmp/docs.noerr"

# The status-code table lists every GF_ERR_ code of the header.
for c in $(sed -n 's/^[[:blank:]]*\(GF_ERR_[A-Z_]*\)[[:blank:]]*=.*/\1/p' "$HEADER"); do
    grep -q "^| \`$c\` |" "$DOCS" || problem "$c: missing from the status-code table of $DOCS"
done

# Duplicates (a function documented twice, e.g. after a union merge).
for s in header docs; do
    uniq -d "$tmp/$s.all" >"$tmp/$s.dup"
    while IFS= read -r n; do
        case $s in header) where=$HEADER ;; docs) where=$DOCS ;; esac
        problem "$n: appears more than once in $where"
    done <"$tmp/$s.dup"
done

# The gf_ prefix on every export (internal gfi_ names must stay hidden).
while IFS= read -r n; do
    case $n in
    gf_*) ;;
    *) problem "$n: exported by $SO but lacks the gf_ prefix (hide it: static, or no GF_API)" ;;
    esac
done <"$tmp/exports"

# The one-prefix rule for the header's other names: macros GF_ (besides the
# include guard), typedefs and struct/union/enum tags gf_.  Enumerators are
# checked by tests/check_abi.sh, which parses the enum bodies.
awk '
    {   # strip comments, including /* ... */ spanning lines
        line = $0; out = ""
        while (1) {
            if (inc) { e = index(line, "*/"); if (!e) { line = ""; break }; line = substr(line, e + 2); inc = 0 }
            b = index(line, "/*"); if (!b) { out = out line; break }
            out = out substr(line, 1, b - 1) " "; line = substr(line, b + 2); inc = 1
        }
        sub(/\/\/.*/, "", out); $0 = out
    }
    /^[ \t]*#[ \t]*define[ \t]/ {
        n = $0; sub(/^[ \t]*#[ \t]*define[ \t]+/, "", n); sub(/[^A-Za-z0-9_].*/, "", n)
        if (n != "GRADFLOW_H" && n !~ /^GF_/) print FNR ": macro " n " lacks the GF_ prefix"
    }
    {
        s = " " $0
        while (match(s, /[^A-Za-z0-9_](struct|union|enum)[ \t]+[A-Za-z_][A-Za-z0-9_]*/)) {
            t = substr(s, RSTART + 1, RLENGTH - 1); s = substr(s, RSTART + RLENGTH)
            n = t; sub(/^[a-z]+[ \t]+/, "", n)
            if (n !~ /^gf_/) print FNR ": tag \"" t "\" lacks the gf_ prefix"
        }
    }
    /^[ \t]*typedef[ \t]/ { td = ""; intd = 1 }
    intd {
        td = td " " $0
        if (index(td, ";") == 0) next
        intd = 0; sub(/;.*/, "", td)
        if (match(td, /\([ \t]*\*[ \t]*[A-Za-z_][A-Za-z0-9_]*/)) {   # function pointer: (*name)
            n = substr(td, RSTART, RLENGTH); sub(/^\([ \t]*\*[ \t]*/, "", n)
        } else { match(td, /[A-Za-z_][A-Za-z0-9_]*[ \t]*$/); n = substr(td, RSTART, RLENGTH); sub(/[ \t]+$/, "", n) }
        if (n !~ /^gf_/) print FNR ": typedef " n " lacks the gf_ prefix"
    }
' "$HEADER" >"$tmp/names.bad"
while IFS= read -r l; do problem "$HEADER:$l"; done <"$tmp/names.bad"

# Three-way comparison: for every name in any set, say which sets lack it.
sort -u "$tmp/exports" "$tmp/header" "$tmp/docs" >"$tmp/union"
missing=0
while IFS= read -r n; do
    lacks=""
    grep -qx "$n" "$tmp/exports" || lacks="$lacks, not exported by $SO"
    grep -qx "$n" "$tmp/header" || lacks="$lacks, not declared GF_API in $HEADER"
    grep -qx "$n" "$tmp/docs" || lacks="$lacks, not documented in $DOCS"
    if [ -n "$lacks" ]; then
        problem "$n:${lacks#,}"
        missing=$((missing + 1))
    fi
done <"$tmp/union"

ne=$(wc -l <"$tmp/exports" | tr -d ' ')
nh=$(wc -l <"$tmp/header" | tr -d ' ')
nd=$(wc -l <"$tmp/docs" | tr -d ' ')
echo "check_exports: $ne exported by $SO, $nh declared GF_API in $HEADER, $nd documented in $DOCS"
if [ "$fail" -ne 0 ]; then
    echo "check_exports: FAILED ($missing names not in all three sets)"
    exit 1
fi
echo "check_exports: OK (all three sets agree; every export has the gf_ prefix)"
