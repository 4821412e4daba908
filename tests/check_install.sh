#!/bin/sh
# tests/check_install.sh — `make install` / `make uninstall` into a temporary
# prefix: the installed layout, symlinks, SONAME and pkg-config file, then
# tests/install_smoke.c built against the installed copy twice (shared via
# pkg-config, static via pkg-config --static) and run.  Writes nothing in the
# repo.  Environment: OUT (library dir, default lib), CC, SANITIZE.  POSIX sh.
set -u
OUT=${OUT:-lib}
CC=${CC:-cc}

if [ "${SANITIZE:-0}" = 1 ]; then
    echo "check_install: SKIP under SANITIZE=1 (a sanitized library cannot link into a plain program)"
    exit 0
fi

fail=0
problem() { echo "FAIL: $*"; fail=1; }
ok() { echo "  ok: $*"; }

for tool in make pkg-config readelf cmp; do
    command -v "$tool" >/dev/null 2>&1 || { echo "FAIL: $tool not found (apt-get install pkg-config binutils make)"; exit 1; }
done

# Expected names come from the public header, so a Makefile/header version
# mismatch shows up as a missing file.
hver() { sed -n "s/^#define GF_VERSION_$1 \\([0-9][0-9]*\\).*/\\1/p" include/gradflow.h; }
MAJOR=$(hver MAJOR)
VERSION=$MAJOR.$(hver MINOR).$(hver PATCH)
[ -n "$MAJOR" ] && [ "$VERSION" != "$MAJOR.." ] || { echo "FAIL: cannot read GF_VERSION_* from include/gradflow.h"; exit 1; }
REAL=libgradflow.so.$VERSION
SONAME=libgradflow.so.$MAJOR

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gf-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP PIPE

# What the tree looks like now (untracked or modified, non-ignored files), so
# a stray write by install/uninstall can be named afterwards.
tree_state() {
    if command -v git >/dev/null 2>&1 && git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        GIT_OPTIONAL_LOCKS=0 git status --porcelain --untracked-files=all 2>/dev/null
    fi
    [ -e pkgconfig/gradflow.pc ] && echo "?? pkgconfig/gradflow.pc (ignored, but must not be written)"
    return 0
}
tree_state >"$tmp/tree.before"

# A sub-make must not inherit the parent's jobserver or command-line variables;
# CC is given explicitly so it installs the build under test.
run_make() {
    echo "  \$ make $*" >>"$tmp/make.log"
    if ! (unset MAKEFLAGS MFLAGS MAKELEVEL; make --no-print-directory CC="$CC" "$@") >>"$tmp/make.log" 2>&1; then
        problem "make $* failed:"; sed 's/^/    /' "$tmp/make.log"; exit 1
    fi
}

# check_layout ROOT PREFIX: every installed file, relative to ROOT (DESTDIR).
check_layout() {
    root=$1; prefix=$2; lib=$root$prefix/lib; inc=$root$prefix/include
    if cmp -s include/gradflow.h "$inc/gradflow.h"; then ok "$inc/gradflow.h = include/gradflow.h"
    else problem "$inc/gradflow.h missing or differs from include/gradflow.h"; fi
    if [ -f "$lib/$REAL" ] && [ ! -L "$lib/$REAL" ]; then
        if cmp -s "$OUT/$REAL" "$lib/$REAL"; then ok "$lib/$REAL is the build's $OUT/$REAL"
        else problem "$lib/$REAL differs from $OUT/$REAL (installed the wrong build?)"; fi
        so=$(readelf -d "$lib/$REAL" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
        if [ "$so" = "$SONAME" ]; then ok "SONAME of $REAL is $SONAME"
        else problem "SONAME of $lib/$REAL is '$so', expected $SONAME"; fi
    else
        problem "$lib/$REAL missing or not a regular file"
    fi
    check_link "$lib/$SONAME" "$REAL"
    check_link "$lib/libgradflow.so" "$SONAME"
    if cmp -s "$OUT/libgradflow.a" "$lib/libgradflow.a"; then ok "$lib/libgradflow.a is the build's"
    else problem "$lib/libgradflow.a missing or differs from $OUT/libgradflow.a"; fi
    pc=$lib/pkgconfig/gradflow.pc
    if [ -f "$pc" ]; then
        # The .pc names the final PREFIX, never the DESTDIR staging root.
        grep -qx "prefix=$prefix" "$pc" && ok "$pc has prefix=$prefix" || problem "$pc lacks prefix=$prefix: $(grep '^prefix=' "$pc")"
        grep -qx "Version: $VERSION" "$pc" && ok "$pc has Version: $VERSION" || problem "$pc lacks Version: $VERSION: $(grep '^Version:' "$pc")"
        if grep -q '@[A-Z]*@' "$pc"; then problem "$pc has unsubstituted placeholders: $(grep '@[A-Z]*@' "$pc")"; fi
    else
        problem "$pc missing"
    fi
}

# check_link PATH TARGET: PATH is a symlink whose text is exactly TARGET.
check_link() {
    if [ -L "$1" ]; then
        t=$(readlink "$1")
        if [ "$t" = "$2" ]; then ok "$1 -> $t"; else problem "$1 -> $t, expected -> $2"; fi
        [ -e "$1" ] || problem "$1 is a dangling symlink"
    else
        problem "$1 missing or not a symlink (expected -> $2)"
    fi
}

# check_gone ROOT: after uninstall no file or symlink remains under ROOT.
check_gone() {
    left=$(find "$1" \( -type f -o -type l \) -print)
    if [ -z "$left" ]; then ok "make uninstall removed every installed file under $1"
    else problem "make uninstall left behind:"; echo "$left" | sed 's/^/    /'; fi
}

# 1. Staged install (DESTDIR): files land under DESTDIR, the .pc names PREFIX.
echo "check_install: staged install DESTDIR=$tmp/stage PREFIX=/opt/gradflow"
run_make install DESTDIR="$tmp/stage" PREFIX=/opt/gradflow
check_layout "$tmp/stage" /opt/gradflow
run_make uninstall DESTDIR="$tmp/stage" PREFIX=/opt/gradflow
check_gone "$tmp/stage"

# 2. Real install into a temporary PREFIX, then build against it.
P=$tmp/usr
L=$P/lib
echo "check_install: install PREFIX=$P"
run_make install PREFIX="$P" DESTDIR=
check_layout "" "$P"

PKG_CONFIG_PATH=$L/pkgconfig
export PKG_CONFIG_PATH
WARN="-std=c11 -Wall -Wextra -Wpedantic -Werror"
modv=$(pkg-config --modversion gradflow 2>&1)
[ "$modv" = "$VERSION" ] && ok "pkg-config --modversion gradflow = $VERSION" || problem "pkg-config --modversion gradflow gave '$modv', expected $VERSION"

# 2a. Shared: plain pkg-config flags; must NEED libgradflow.so.MAJOR.
shared=$tmp/smoke_shared
flags=$(pkg-config --cflags --libs gradflow) || problem "pkg-config --cflags --libs gradflow failed"
echo "check_install: $CC tests/install_smoke.c $flags"
# shellcheck disable=SC2086 # flags are a word list by design
if $CC $WARN tests/install_smoke.c -o "$shared" $flags >"$tmp/cc.log" 2>&1; then
    ok "shared smoke program built"
    if readelf -d "$shared" | grep -q "(NEEDED).*\[$SONAME\]"; then ok "smoke_shared NEEDs $SONAME"
    else problem "smoke_shared does not NEED $SONAME:"; readelf -d "$shared" | grep NEEDED | sed 's/^/    /'; fi
    if command -v ldd >/dev/null 2>&1; then
        where=$(LD_LIBRARY_PATH=$L ldd "$shared" | sed -n "s/.*$SONAME => \\([^ ]*\\).*/\\1/p")
        [ "$where" = "$L/$SONAME" ] && ok "it loads $where" || problem "smoke_shared loads '$where', expected $L/$SONAME"
    fi
    if LD_LIBRARY_PATH=$L "$shared" >"$tmp/run.log" 2>&1; then ok "$(cat "$tmp/run.log") [shared]"
    else problem "smoke_shared exited nonzero:"; sed 's/^/    /' "$tmp/run.log"; fi
else
    problem "building the shared smoke program failed:"; sed 's/^/    /' "$tmp/cc.log"
fi

# 2b. Static: pkg-config --static flags, with -lgradflow forced to the .a
# (the rest, e.g. Libs.private -lm -lpthread, stays dynamic).
static=$tmp/smoke_static
sflags=""
for w in $(pkg-config --static --cflags --libs gradflow); do
    case $w in
    -lgradflow) sflags="$sflags -Wl,-Bstatic -lgradflow -Wl,-Bdynamic" ;;
    *) sflags="$sflags $w" ;;
    esac
done
echo "check_install: $CC tests/install_smoke.c$sflags"
# shellcheck disable=SC2086
if $CC $WARN tests/install_smoke.c -o "$static" $sflags >"$tmp/cc.log" 2>&1; then
    ok "static smoke program built"
    if readelf -d "$static" | grep -q '(NEEDED).*libgradflow'; then
        problem "smoke_static still NEEDs a shared libgradflow:"; readelf -d "$static" | grep NEEDED | sed 's/^/    /'
    else
        ok "smoke_static does not NEED libgradflow.so"
    fi
    if "$static" >"$tmp/run.log" 2>&1; then ok "$(cat "$tmp/run.log") [static, no LD_LIBRARY_PATH]"
    else problem "smoke_static exited nonzero:"; sed 's/^/    /' "$tmp/run.log"; fi
else
    problem "building the static smoke program failed:"; sed 's/^/    /' "$tmp/cc.log"
fi

echo "check_install: uninstall PREFIX=$P"
run_make uninstall PREFIX="$P" DESTDIR=
check_gone "$P"

tree_state >"$tmp/tree.after"
if cmp -s "$tmp/tree.before" "$tmp/tree.after"; then ok "the source tree is unchanged"
else problem "install/uninstall changed the source tree:"; diff "$tmp/tree.before" "$tmp/tree.after" | sed 's/^/    /'; fi

if [ "$fail" -ne 0 ]; then
    echo "check_install: FAILED"
    exit 1
fi
echo "check_install: OK ($REAL, $SONAME, libgradflow.a, gradflow.pc; shared and static builds run)"
