#!/bin/sh
# tests/check_install.sh — `make install` / `make uninstall` into temporary
# prefixes: the installed layout (header, library and links, SONAME, the
# relocatable gradflow.pc and gradflow-static.pc, the CMake package, the man
# pages; find_package(gradflow) version rules, and that it leaves the caller's
# CMAKE_MINIMUM_REQUIRED_VERSION alone and prints no warning), then programs built
# against the installed copy and run:
#   - examples/consumer with its Makefile (pkg-config) and its CMakeLists.txt
#     (find_package), each shared and static, against a DESTDIR-staged install
#     relocated with --define-variable=prefix / CMAKE_PREFIX_PATH, and against
#     a real PREFIX install;
#   - tests/install_smoke.c, shared (run through LD_LIBRARY_PATH and through an
#     rpath; without either the loader must refuse it) and static.
# A static program must not NEED libgradflow (readelf) nor load it (ldd).
# Writes nothing in the repo.  Environment: OUT (library dir, default lib), CC,
# SANITIZE.  POSIX sh.
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

for tool in make pkg-config readelf cmp ldd; do
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
NFUNCS=$(grep -c '^GF_API' include/gradflow.h)

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
    for pc in "$lib/pkgconfig/gradflow.pc" "$lib/pkgconfig/gradflow-static.pc"; do
        if [ -f "$pc" ]; then
            # The .pc names the final PREFIX, never the DESTDIR staging root, and every
            # other path relative to it, so --define-variable=prefix relocates them all.
            grep -qx "prefix=$prefix" "$pc" && ok "$pc has prefix=$prefix" || problem "$pc lacks prefix=$prefix: $(grep '^prefix=' "$pc")"
            grep -qx 'libdir=${prefix}/lib' "$pc" && grep -qx 'includedir=${prefix}/include' "$pc" &&
                ok "$pc: libdir and includedir are \${prefix}-relative" ||
                problem "$pc: libdir/includedir not \${prefix}/lib, \${prefix}/include: $(grep 'dir=' "$pc" | tr '\n' ' ')"
            grep -qx "Version: $VERSION" "$pc" && ok "$pc has Version: $VERSION" || problem "$pc lacks Version: $VERSION: $(grep '^Version:' "$pc")"
            if grep -q '@[A-Z_]*@' "$pc"; then problem "$pc has unsubstituted placeholders: $(grep '@[A-Z_]*@' "$pc")"; fi
        else
            problem "$pc missing"
        fi
    done
    for f in gradflowConfig.cmake gradflowConfigVersion.cmake; do
        c=$lib/cmake/gradflow/$f
        if [ ! -f "$c" ]; then problem "$c missing"
        elif grep -q '@[A-Z_]*@' "$c"; then problem "$c has unsubstituted placeholders: $(grep '@[A-Z_]*@' "$c")"
        elif grep -q "$root$prefix" "$c" || { [ -n "$root" ] && grep -q "$root" "$c"; }; then problem "$c names an absolute path: not relocatable"
        else ok "$c installed, paths relative to itself"; fi
    done
    man=$root$prefix/share/man/man3
    if cmp -s man/gradflow.3 "$man/gradflow.3"; then ok "$man/gradflow.3 = man/gradflow.3"
    else problem "$man/gradflow.3 missing or differs from man/gradflow.3"; fi
    nlinks=$(grep -l '^\.so man3/gradflow\.3$' "$man"/gf_*.3 2>/dev/null | wc -l | tr -d ' ')
    [ "$nlinks" = "$NFUNCS" ] && ok "$nlinks gf_*(3) pages point to gradflow(3)" || problem "$nlinks gf_*(3) pages, expected $NFUNCS"
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

WARN="-std=c11 -Wall -Wextra -Wpedantic -Werror"

# check_static BIN: contains the library: no NEEDED entry, nothing loaded, runs alone.
check_static() {
    if readelf -d "$1" | grep -q '(NEEDED).*libgradflow'; then
        problem "$1 NEEDs a shared libgradflow:"; readelf -d "$1" | grep NEEDED | sed 's/^/    /'
    elif env -u LD_LIBRARY_PATH ldd "$1" 2>&1 | grep -q libgradflow; then
        problem "ldd $1 lists libgradflow:"; ldd "$1" | sed 's/^/    /'
    else
        ok "$(basename "$1"): ldd shows no libgradflow"
    fi
    if env -u LD_LIBRARY_PATH "$1" >"$tmp/run.log" 2>&1; then ok "$(head -n 1 "$tmp/run.log") [$(basename "$1")]"
    else problem "$1 exited nonzero:"; sed 's/^/    /' "$tmp/run.log"; fi
}

# check_shared BIN LIBDIR: NEEDs the SONAME and, through its rpath alone, loads it from LIBDIR and runs.
check_shared() {
    if readelf -d "$1" | grep -q "(NEEDED).*\[$SONAME\]"; then ok "$(basename "$1") NEEDs $SONAME"
    else problem "$1 does not NEED $SONAME:"; readelf -d "$1" | grep NEEDED | sed 's/^/    /'; fi
    where=$(env -u LD_LIBRARY_PATH ldd "$1" | sed -n "s/.*$SONAME => \([^ ]*\).*/\1/p")
    [ "$where" = "$2/$SONAME" ] && ok "$(basename "$1") loads $where (rpath)" || problem "$1 loads '$where', expected $2/$SONAME"
    if env -u LD_LIBRARY_PATH "$1" >"$tmp/run.log" 2>&1; then ok "$(head -n 1 "$tmp/run.log") [$(basename "$1")]"
    else problem "$1 exited nonzero:"; sed 's/^/    /' "$tmp/run.log"; fi
}

# consumer_make NAME LIBDIR PKG_CONFIG...: examples/consumer/Makefile into $tmp/NAME.
consumer_make() {
    name=$1; libdir=$2; shift 2  # $tmp/$name does not exist yet: the Makefile creates its O
    echo "check_install: make -C examples/consumer PKG_CONFIG='$*'"
    if (unset MAKEFLAGS MFLAGS MAKELEVEL; make --no-print-directory -C examples/consumer CC="$CC" PKG_CONFIG="$*" \
            O="$tmp/$name") >"$tmp/cc.log" 2>&1; then
        check_shared "$tmp/$name/consumer_shared" "$libdir"
        check_static "$tmp/$name/consumer_static"
    else
        problem "building examples/consumer with pkg-config failed:"; sed 's/^/    /' "$tmp/cc.log"
    fi
}

# consumer_cmake NAME PREFIX LIBDIR [CMAKE-ARG]: examples/consumer/CMakeLists.txt, find_package(gradflow)
# from PREFIX.
consumer_cmake() {
    if ! command -v cmake >/dev/null 2>&1; then
        problem "cmake not found (apt-get install cmake): the CMake package is untested"; return
    fi
    echo "check_install: cmake -S examples/consumer -DCMAKE_PREFIX_PATH=$2"
    if cmake -S examples/consumer -B "$tmp/$1" -DCMAKE_C_COMPILER="$CC" -DCMAKE_PREFIX_PATH="$2" \
            -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF ${4:+"$4"} >"$tmp/cmake.log" 2>&1 &&
        cmake --build "$tmp/$1" >>"$tmp/cmake.log" 2>&1; then
        found=$(sed -n 's/^gradflow_DIR:PATH=//p' "$tmp/$1/CMakeCache.txt")
        [ "$found" = "$3/cmake/gradflow" ] && ok "find_package(gradflow) used $found" || problem "find_package(gradflow) used '$found', expected $3/cmake/gradflow"
        check_shared "$tmp/$1/consumer_shared" "$3"
        check_static "$tmp/$1/consumer_static"
    else
        problem "the CMake consumer failed:"; sed 's/^/    /' "$tmp/cmake.log"
    fi
}

# 1. Staged install (DESTDIR): files land under DESTDIR, the .pc names PREFIX; the
#    staged copy is used as a moved install would be, by relocating its prefix.
S=$tmp/stage
echo "check_install: staged install DESTDIR=$S PREFIX=/opt/gradflow"
run_make install DESTDIR="$S" PREFIX=/opt/gradflow
check_layout "$S" /opt/gradflow
unset PKG_CONFIG_PATH
export PKG_CONFIG_LIBDIR=$S/opt/gradflow/lib/pkgconfig  # only the staged .pc files, none of the system's
flags=$(echo $(pkg-config --define-variable=prefix="$S/opt/gradflow" --libs gradflow))  # words, trimmed
case $flags in "-L$S/opt/gradflow/lib -lgradflow") ok "relocated: pkg-config --libs gradflow = $flags" ;;
*) problem "relocated pkg-config --libs gradflow gave '$flags', expected -L$S/opt/gradflow/lib -lgradflow" ;; esac
consumer_make pc-stage "$S/opt/gradflow/lib" pkg-config --define-variable=prefix="$S/opt/gradflow"
consumer_cmake cmake-stage "$S/opt/gradflow" "$S/opt/gradflow/lib"
run_make uninstall DESTDIR="$S" PREFIX=/opt/gradflow
check_gone "$S"

# 2. Real install into a temporary PREFIX, then build against it.
P=$tmp/usr
L=$P/lib
echo "check_install: install PREFIX=$P"
run_make install PREFIX="$P" DESTDIR=
check_layout "" "$P"
export PKG_CONFIG_LIBDIR=$L/pkgconfig
modv=$(pkg-config --modversion gradflow 2>&1)
[ "$modv" = "$VERSION" ] && ok "pkg-config --modversion gradflow = $VERSION" || problem "pkg-config --modversion gradflow gave '$modv', expected $VERSION"
consumer_make pc-usr "$L" pkg-config
consumer_cmake cmake-usr "$P" "$L"
# gradflowConfigVersion.cmake: the same major and at least the minor asked for (docs/abi.md).
if command -v cmake >/dev/null 2>&1; then
    MINOR=$(hver MINOR)
    asks="$MAJOR $MAJOR.$MINOR $VERSION $MAJOR.$((MINOR + 1)) $((MAJOR + 1)).0"
    mkdir -p "$tmp/versions"
    cat >"$tmp/versions/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.13)
project(gradflow_versions C)
foreach(v $asks)
  find_package(gradflow \${v} CONFIG QUIET)
  message(STATUS "find_package(gradflow \${v}): \${gradflow_FOUND}")
  unset(gradflow_FOUND)
  unset(gradflow_DIR CACHE)
endforeach()
message(STATUS "minimum after find_package: \${CMAKE_MINIMUM_REQUIRED_VERSION}")
EOF
    cmake -S "$tmp/versions" -B "$tmp/versions/b" -DCMAKE_C_COMPILER="$CC" -DCMAKE_PREFIX_PATH="$P" \
        >"$tmp/versions.log" 2>&1
    got=$(sed -n 's/^-- find_package(gradflow \(.*\)): \(.*\)/\1=\2/p' "$tmp/versions.log" | tr '\n' ' ')
    want="$MAJOR=1 $MAJOR.$MINOR=1 $VERSION=1 $MAJOR.$((MINOR + 1))=0 $((MAJOR + 1)).0=0 "
    if [ "$got" = "$want" ]; then ok "find_package(gradflow X.Y): the same major up to $VERSION only ($got)"
    else problem "find_package(gradflow X.Y) gave '$got', expected '$want'"; fi
    # The package file runs in the caller's variable scope: it must leave the caller's settings alone
    # (a cmake_minimum_required there resets CMAKE_MINIMUM_REQUIRED_VERSION) and warn about nothing.
    minv=$(sed -n 's/^-- minimum after find_package: //p' "$tmp/versions.log")
    if [ "$minv" = 3.13 ]; then ok "find_package(gradflow) keeps the caller's CMAKE_MINIMUM_REQUIRED_VERSION (3.13)"
    else problem "find_package(gradflow) changed the caller's CMAKE_MINIMUM_REQUIRED_VERSION from 3.13 to '$minv'"; fi
    if grep -q '^CMake \(Deprecation \)\{0,1\}\(Warning\|Error\)' "$tmp/versions.log"; then
        problem "find_package(gradflow) printed CMake warnings or errors:"; sed 's/^/    /' "$tmp/versions.log"
    else
        ok "find_package(gradflow) prints no CMake warning"
    fi
fi

# 2a. Shared, plain pkg-config flags and no rpath: the loader must refuse it until told
#     where to look (LD_LIBRARY_PATH), as the README says; with an rpath it runs alone.
shared=$tmp/smoke_shared
flags=$(pkg-config --cflags --libs gradflow) || problem "pkg-config --cflags --libs gradflow failed"
echo "check_install: $CC tests/install_smoke.c $flags"
# shellcheck disable=SC2086 # flags are a word list by design
if $CC $WARN tests/install_smoke.c -o "$shared" $flags >"$tmp/cc.log" 2>&1; then
    ok "shared smoke program built"
    if env -u LD_LIBRARY_PATH "$shared" >"$tmp/run.log" 2>&1; then
        problem "smoke_shared ran without LD_LIBRARY_PATH or rpath (is a libgradflow installed system-wide?)"
    else
        if grep -q "error while loading shared libraries: $SONAME" "$tmp/run.log"; then
            ok "without LD_LIBRARY_PATH or rpath the loader refuses it (error while loading shared libraries)"
        else
            problem "smoke_shared failed oddly:"; sed 's/^/    /' "$tmp/run.log"
        fi
    fi
    if LD_LIBRARY_PATH=$L "$shared" >"$tmp/run.log" 2>&1; then ok "$(cat "$tmp/run.log") [shared, LD_LIBRARY_PATH]"
    else problem "smoke_shared exited nonzero with LD_LIBRARY_PATH=$L:"; sed 's/^/    /' "$tmp/run.log"; fi
else
    problem "building the shared smoke program failed:"; sed 's/^/    /' "$tmp/cc.log"
fi
# shellcheck disable=SC2086
if $CC $WARN tests/install_smoke.c -o "$shared.rpath" $flags -Wl,-rpath,"$(pkg-config --variable=libdir gradflow)" \
        >"$tmp/cc.log" 2>&1; then
    check_shared "$shared.rpath" "$L"
else
    problem "building the rpath smoke program failed:"; sed 's/^/    /' "$tmp/cc.log"
fi

# 2b. Static: gradflow-static.pc names the archive; no linker tricks needed.
static=$tmp/smoke_static
sflags=$(pkg-config --cflags --libs gradflow-static) || problem "pkg-config --cflags --libs gradflow-static failed"
echo "check_install: $CC tests/install_smoke.c $sflags"
# shellcheck disable=SC2086
if $CC $WARN tests/install_smoke.c -o "$static" $sflags >"$tmp/cc.log" 2>&1; then
    check_static "$static"
else
    problem "building the static smoke program failed:"; sed 's/^/    /' "$tmp/cc.log"
fi
unset PKG_CONFIG_LIBDIR

echo "check_install: uninstall PREFIX=$P"
run_make uninstall PREFIX="$P" DESTDIR=
check_gone "$P"

# 3. A library directory other than PREFIX/lib, as distributions use (make install LIBDIR=...):
#    everything that goes in the library directory goes there, and both consumers find it.
Q=$tmp/l64
L64=$Q/lib64
echo "check_install: install PREFIX=$Q LIBDIR=$L64"
run_make install PREFIX="$Q" LIBDIR="$L64" DESTDIR=
for f in "$REAL" libgradflow.a pkgconfig/gradflow.pc pkgconfig/gradflow-static.pc cmake/gradflow/gradflowConfig.cmake; do
    [ -f "$L64/$f" ] || problem "LIBDIR=$L64: $L64/$f missing"
done
check_link "$L64/$SONAME" "$REAL"
if [ -e "$Q/lib" ]; then problem "LIBDIR=$L64 still wrote into $Q/lib:"; find "$Q/lib" | sed 's/^/    /'; fi
grep -qx 'libdir=${prefix}/lib64' "$L64/pkgconfig/gradflow.pc" && ok "LIBDIR: gradflow.pc has libdir=\${prefix}/lib64" ||
    problem "LIBDIR: gradflow.pc has $(grep '^libdir=' "$L64/pkgconfig/gradflow.pc")"
export PKG_CONFIG_LIBDIR=$L64/pkgconfig
consumer_make pc-lib64 "$L64" pkg-config
unset PKG_CONFIG_LIBDIR
# CMake searches PREFIX/lib64 only where the platform uses it (not on Debian), so the package is named.
consumer_cmake cmake-lib64 "$Q" "$L64" -Dgradflow_DIR:PATH="$L64/cmake/gradflow"
run_make uninstall PREFIX="$Q" LIBDIR="$L64" DESTDIR=
check_gone "$Q"

tree_state >"$tmp/tree.after"
if cmp -s "$tmp/tree.before" "$tmp/tree.after"; then ok "the source tree is unchanged"
else problem "install/uninstall changed the source tree:"; diff "$tmp/tree.before" "$tmp/tree.after" | sed 's/^/    /'; fi

if [ "$fail" -ne 0 ]; then
    echo "check_install: FAILED"
    exit 1
fi
echo "check_install: OK ($REAL, $SONAME, libgradflow.a, gradflow.pc, gradflow-static.pc, CMake package, man pages; pkg-config and CMake consumers, shared and static, run)"
