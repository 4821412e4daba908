#!/bin/sh
# tests/check_abi.sh — the ABI of the library under test against the committed
# baseline in abi/:
#   1. abi/enums.txt: every enumerator of include/gradflow.h with the value the
#      compiler gives it.  Baseline enumerators must keep their enum and value;
#      new ones must come after the enum's last baseline value; every
#      enumerator must have an explicit value.  Needs only $CC.
#   2. abi/libgradflow.abi (abidw of lib/libgradflow.so): abidiff must find no
#      removed or changed function and no changed public (gf_) type; added
#      functions and types are allowed.  Needs abigail-tools; skipped without
#      them (a failure when ABI_REQUIRED=1, as `make abi-check` sets) and under
#      SANITIZE=1.
# `sh tests/check_abi.sh --dump` rewrites both baseline files instead (this is
# what `make abi-dump` runs).  Environment: OUT (library dir, default lib), CC.
# POSIX sh.
set -u
OUT=${OUT:-lib}
CC=${CC:-cc}
SO=$OUT/libgradflow.so
HEADER=include/gradflow.h
BASE_ABI=abi/libgradflow.abi
BASE_ENUMS=abi/enums.txt
# Only types defined under include/ are public; the rest are dumped as opaque.
# Hash type ids keep the file stable when unrelated types come and go.
ABIDW_FLAGS="--no-corpus-path --no-comp-dir-path --drop-private-types --load-all-types --type-id-style hash --headers-dir include"

mode=check
[ "${1:-}" = --dump ] && mode=dump

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gf-abi.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP PIPE

fail=0
problem() { echo "FAIL: $*"; fail=1; }

# ---- enum table ------------------------------------------------------------

# Prints "tag NAME" for every enumerator of every tagged enum in the header, in
# header order; parse errors go to stderr as "ERROR: ...".
list_enums() {
    awk '
        { text = text "\n" $0 }
        END {
            # Drop comments and preprocessor lines: neither can hold an enum body.
            while ((i = index(text, "/*")) > 0) {
                rest = substr(text, i + 2); j = index(rest, "*/")
                if (j == 0) { text = substr(text, 1, i - 1); break }
                text = substr(text, 1, i - 1) " " substr(rest, j + 2)
            }
            n = split(text, lines, "\n"); text = " "
            for (k = 1; k <= n; k++) {
                l = lines[k]; sub(/\/\/.*/, "", l)
                if (l ~ /^[ \t]*#/) continue
                text = text " " l
            }
            if (match(text, /[^A-Za-z0-9_]enum[ \t]*\{/))
                print "ERROR: anonymous enum in header: give every enum a tag (enum gf_name { ... })" > "/dev/stderr"
            while (match(text, /[^A-Za-z0-9_]enum[ \t]+[A-Za-z_][A-Za-z0-9_]*[ \t]*\{[^}]*\}/)) {
                block = substr(text, RSTART + 1, RLENGTH - 1)
                text = substr(text, RSTART + RLENGTH)
                match(block, /enum[ \t]+[A-Za-z_][A-Za-z0-9_]*/)
                tag = substr(block, RSTART, RLENGTH); sub(/^enum[ \t]+/, "", tag)
                body = block; sub(/^[^{]*\{/, "", body); sub(/\}$/, "", body)
                m = split(body, items, ",")
                for (k = 1; k <= m; k++) {
                    it = items[k]; gsub(/^[ \t]+|[ \t]+$/, "", it)
                    if (it == "") continue
                    if (!match(it, /^[A-Za-z_][A-Za-z0-9_]*/)) {
                        print "ERROR: cannot parse enumerator \"" it "\" in enum " tag > "/dev/stderr"; continue
                    }
                    name = substr(it, 1, RLENGTH)
                    if (name !~ /^GF_/)
                        print "ERROR: " name " (enum " tag ") lacks the GF_ prefix" > "/dev/stderr"
                    if (it !~ /=/)
                        print "ERROR: " name " (enum " tag ") has no explicit value: write " name " = N" > "/dev/stderr"
                    print tag, name
                }
            }
        }
    ' "$HEADER"
}

# Writes "tag NAME VALUE" lines for the current header to $1, values as the
# compiler evaluates them (so GF_X = GF_Y + 1 is handled).
current_enums() {
    list_enums >"$tmp/enum.names" 2>"$tmp/enum.err"
    if [ -s "$tmp/enum.err" ]; then
        while IFS= read -r l; do problem "$HEADER: ${l#ERROR: }"; done <"$tmp/enum.err"
    fi
    {
        echo '#include <stdio.h>'
        echo '#include "gradflow.h"'
        # printf, not echo: dash's echo would turn the \\n into a newline.
        printf '%s\n' '#define ROW(tag, name) printf("%s %s %lld\n", tag, #name, (long long)(name))'
        echo 'int main(void) {'
        awk '{ printf "    ROW(\"%s\", %s);\n", $1, $2 }' "$tmp/enum.names"
        echo '    return 0;'
        echo '}'
    } >"$tmp/enums.c"
    # shellcheck disable=SC2086 # CC may be a command with arguments
    if ! $CC -std=c11 -Iinclude "$tmp/enums.c" -o "$tmp/enums" >"$tmp/cc.log" 2>&1; then
        problem "cannot compile the enum probe with $CC:"; sed 's/^/    /' "$tmp/cc.log" | head -40; return 1
    fi
    "$tmp/enums" >"$1" || { problem "the enum probe failed to run"; return 1; }
}

# Compares $1 (baseline) with $2 (current); prints FAIL/note lines.
compare_enums() {
    awk -v H="$HEADER" '
        FNR == 1 { file++ }
        /^#/ || NF < 3 { next }
        file == 1 {
            btag[$2] = $1; bval[$2] = $3; order[++nb] = $2
            if (!($1 in bmax) || $3 + 0 > bmax[$1] + 0) bmax[$1] = $3
            next
        }
        { ctag[$2] = $1; cval[$2] = $3; corder[++nc] = $2 }
        END {
            bad = 0
            for (i = 1; i <= nb; i++) {
                n = order[i]
                if (!(n in ctag)) { print "FAIL: " n " (enum " btag[n] " = " bval[n] ") was removed from " H; bad = 1 }
                else if (ctag[n] != btag[n]) { print "FAIL: " n " moved from enum " btag[n] " to enum " ctag[n]; bad = 1 }
                else if (cval[n] != bval[n]) { print "FAIL: " n " (enum " btag[n] ") renumbered: baseline " bval[n] ", now " cval[n]; bad = 1 }
            }
            for (i = 1; i <= nc; i++) {
                n = corder[i]
                if (n in btag) continue
                t = ctag[n]
                if ((t in bmax) && cval[n] + 0 <= bmax[t] + 0) {
                    print "FAIL: new " n " = " cval[n] " in enum " t " is not after its last baseline value " bmax[t] " (append at the end)"; bad = 1
                } else {
                    print "  note: added " n " = " cval[n] " (enum " t ")"
                }
            }
            exit bad
        }
    ' "$1" "$2"
}

# ---- boundary rules ----------------------------------------------------------

# Everything must be callable from ctypes as declared: no variadic GF_API
# function, no union, no bitfield, and no public struct body except a
# size-prefixed one (first member `size_t size;`), so handles stay opaque and
# nothing crosses the boundary by value.
header_rules() {
    awk '
        {   # strip comments, including /* ... */ spanning lines
            line = $0; out = ""
            while (1) {
                if (inc) { e = index(line, "*/"); if (!e) { line = ""; break }; line = substr(line, e + 2); inc = 0 }
                b = index(line, "/*"); if (!b) { out = out line; break }
                out = out substr(line, 1, b - 1) " "; line = substr(line, b + 2); inc = 1
            }
            sub(/\/\/.*/, "", out)
            if (out ~ /^[ \t]*#/) out = ""
            text = text " " out
        }
        /^[ \t]*GF_API[ \t]/ { acc = ""; inp = 1 }
        inp {
            acc = acc " " out
            if (index(acc, ";")) {
                inp = 0
                if (index(acc, "...")) { n = acc; sub(/\(.*/, "", n); sub(/.*[^A-Za-z0-9_]/, "", n); print "variadic function " n ": give it a fixed parameter list" }
            }
        }
        END {
            s = text
            while (match(s, /[^A-Za-z0-9_](struct|union)[ \t]*[A-Za-z0-9_]*[ \t]*\{[^}]*\}/)) {
                blk = substr(s, RSTART + 1, RLENGTH - 1); s = substr(s, RSTART + RLENGTH)
                head = blk; sub(/[ \t]*\{.*/, "", head)
                body = blk; sub(/^[^{]*\{/, "", body); sub(/\}$/, "", body)
                if (head ~ /^union/) { print head ": unions may not cross the boundary"; continue }
                if (body !~ /^[ \t]*size_t[ \t]+size[ \t]*;/)
                    print head ": public struct bodies must be size-prefixed (first member size_t size;) or stay opaque"
                if (body ~ /:/) print head ": bitfields are not allowed in public structs"
            }
        }
    ' "$HEADER"
}

# ---- abidiff ---------------------------------------------------------------

have_abigail() { command -v abidw >/dev/null 2>&1 && command -v abidiff >/dev/null 2>&1; }

# Decodes abidiff's exit status (a bit field, see abidiff(1)).
abidiff_bits() {
    s=""
    [ $(($1 & 1)) -ne 0 ] && s="$s ABIDIFF_ERROR"
    [ $(($1 & 2)) -ne 0 ] && s="$s ABIDIFF_USAGE_ERROR"
    [ $(($1 & 4)) -ne 0 ] && s="$s ABIDIFF_ABI_CHANGE"
    [ $(($1 & 8)) -ne 0 ] && s="$s ABIDIFF_ABI_INCOMPATIBLE_CHANGE"
    echo "${s# }"
}

run_abidiff() {
    # shellcheck disable=SC2086
    if ! abidw $ABIDW_FLAGS "$SO" >"$tmp/current.abi" 2>"$tmp/abidw.err"; then
        problem "abidw $SO failed:"; sed 's/^/    /' "$tmp/abidw.err"; return
    fi
    # Pass 1: functions (and every type reachable from them).  With
    # --no-added-syms an added function is not a change, so any nonzero bit
    # is a removal (8|4), a changed signature or reachable type (4), or an
    # error (1, 2).
    abidiff --no-added-syms "$BASE_ABI" "$tmp/current.abi" >"$tmp/pass1.txt" 2>&1
    rc=$?
    if [ "$rc" -ne 0 ]; then
        problem "abidiff $BASE_ABI vs $SO: exit $rc ($(abidiff_bits "$rc")): functions were removed or changed:"
        sed 's/^/    /' "$tmp/pass1.txt"
    else
        echo "  ok: abidiff: no exported function removed or changed"
    fi
    # Pass 2: public types no function reaches, such as the enums (functions
    # take int32_t).  Only gf_ names count; a changed type (a renumbered
    # enumerator) fails.  Added types are allowed; a type missing from the
    # debug info is reported but left to the enum table, which does not
    # depend on what the compiler chose to emit.
    printf '[suppress_type]\n  name_not_regexp = ^gf_\n' >"$tmp/public-only.supp"
    abidiff --no-added-syms --non-reachable-types --suppr "$tmp/public-only.supp" \
        "$BASE_ABI" "$tmp/current.abi" >"$tmp/pass2.txt" 2>&1
    rc=$?
    summary=$(grep '^Unreachable types summary:' "$tmp/pass2.txt")
    changed=$(echo "$summary" | sed -n 's/.*, \([0-9][0-9]*\) changed.*/\1/p')
    removed=$(echo "$summary" | sed -n 's/.*summary: \([0-9][0-9]*\) removed.*/\1/p')
    if [ "$rc" -eq 0 ]; then
        echo "  ok: abidiff: no public (gf_) type changed"
    elif [ $((rc & 3)) -ne 0 ] || [ -z "$changed" ]; then
        problem "abidiff --non-reachable-types failed: exit $rc ($(abidiff_bits "$rc")):"; sed 's/^/    /' "$tmp/pass2.txt"
    elif [ "$changed" -ne 0 ]; then
        problem "abidiff: $changed public type(s) changed (renumbered enumerator?):"; sed 's/^/    /' "$tmp/pass2.txt"
    else
        echo "  ok: abidiff: no public (gf_) type changed"
        [ "${removed:-0}" -ne 0 ] && echo "  note: $removed public type(s) no longer in the debug info (the enum table decides):" &&
            grep "^  \[D\]" "$tmp/pass2.txt" | sed 's/^/    /'
    fi
}

# ---- dump mode ---------------------------------------------------------------

if [ "$mode" = dump ]; then
    [ "${SANITIZE:-0}" = 1 ] && { echo "abi-dump: refusing to write the baseline from a SANITIZE=1 build"; exit 1; }
    have_abigail || { echo "abi-dump: abidw not found (apt-get install -y abigail-tools)"; exit 1; }
    [ -f "$SO" ] || { echo "abi-dump: $SO does not exist (run make first)"; exit 1; }
    mkdir -p abi
    current_enums "$tmp/enums.txt" || exit 1
    [ "$fail" -eq 0 ] || exit 1
    {
        echo "# libgradflow enumerators: enum tag, name, value (from include/gradflow.h, compiled)."
        echo "# Written by \`make abi-dump\`; checked by tests/check_abi.sh.  Never edit by hand."
        cat "$tmp/enums.txt"
    } >"$BASE_ENUMS"
    # shellcheck disable=SC2086
    abidw $ABIDW_FLAGS "$SO" >"$tmp/new.abi" || { echo "abi-dump: abidw $SO failed"; exit 1; }
    mv "$tmp/new.abi" "$BASE_ABI"
    echo "abi-dump: wrote $BASE_ABI ($(grep -c '<elf-symbol ' "$BASE_ABI") symbols, from $SO)" \
        "and $BASE_ENUMS ($(grep -vc '^#' "$BASE_ENUMS") enumerators)"
    exit 0
fi

# ---- check mode --------------------------------------------------------------

echo "check_abi: boundary rules of $HEADER (no variadic functions, unions, bitfields or non-size-prefixed struct bodies)"
header_rules >"$tmp/rules.bad"
if [ -s "$tmp/rules.bad" ]; then
    while IFS= read -r l; do problem "$HEADER: $l"; done <"$tmp/rules.bad"
else
    echo "  ok: every public type is opaque and every GF_API function has a fixed parameter list"
fi

echo "check_abi: enumerators of $HEADER against $BASE_ENUMS"
if [ ! -f "$BASE_ENUMS" ]; then
    problem "$BASE_ENUMS missing (create it with make abi-dump)"
elif current_enums "$tmp/enums.txt"; then
    if compare_enums "$BASE_ENUMS" "$tmp/enums.txt" >"$tmp/enums.cmp"; then
        cat "$tmp/enums.cmp"
        echo "  ok: $(grep -vc '^#' "$BASE_ENUMS") baseline enumerators keep their enum and value"
    else
        cat "$tmp/enums.cmp"; fail=1
    fi
fi

if [ "${SANITIZE:-0}" = 1 ]; then
    echo "check_abi: SKIP abidiff under SANITIZE=1 (the baseline describes the plain build)"
elif ! have_abigail; then
    if [ "${ABI_REQUIRED:-0}" = 1 ]; then
        problem "abidw/abidiff not found (apt-get install -y abigail-tools)"
    else
        echo "check_abi: SKIP abidiff: abigail-tools not installed (apt-get install -y abigail-tools)"
    fi
elif [ ! -f "$BASE_ABI" ]; then
    problem "$BASE_ABI missing (create it with make abi-dump)"
elif [ ! -f "$SO" ]; then
    problem "$SO does not exist (build first: make)"
else
    echo "check_abi: abidiff $BASE_ABI against $SO"
    run_abidiff
fi

if [ "$fail" -ne 0 ]; then
    echo "check_abi: FAILED (if the change is deliberate and compatible, see abi/README.md)"
    exit 1
fi
echo "check_abi: OK"
