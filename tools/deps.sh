#!/bin/sh
# tools/deps.sh — makes sure what `make check` needs is installed.
# On Debian/Ubuntu, as root, it installs what is missing with apt-get; elsewhere it
# says exactly what to install and fails.  Needs: a cmocka development package,
# pkg-config, cmake (the installed CMake package is tested), python3 and nm
# (binutils); python3-numpy, python3-venv and abigail-tools are used when present
# (the Python suite also runs without numpy; the pip-install test is skipped
# without venv; the ABI diff is skipped without abigail-tools).
missing=""
have_cmocka() {
    pkg-config --exists cmocka 2>/dev/null && return 0
    for d in /usr/include /usr/local/include; do
        [ -f "$d/cmocka.h" ] && return 0
    done
    return 1
}
have_cmocka || missing="$missing libcmocka-dev"
command -v pkg-config >/dev/null 2>&1 || missing="$missing pkg-config"
command -v cmake >/dev/null 2>&1 || missing="$missing cmake"
command -v nm >/dev/null 2>&1 || missing="$missing binutils"
[ -x "${PYTHON:-/usr/bin/python3}" ] || command -v python3 >/dev/null 2>&1 || missing="$missing python3"
optional=""
"${PYTHON:-/usr/bin/python3}" -c 'import numpy' >/dev/null 2>&1 || optional="$optional python3-numpy"
command -v abidiff >/dev/null 2>&1 || optional="$optional abigail-tools"
"${PYTHON:-/usr/bin/python3}" -c 'import venv, ensurepip' >/dev/null 2>&1 || optional="$optional python3-venv"

[ -z "$missing" ] && [ -z "$optional" ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "deps: installing$missing$optional"
    export DEBIAN_FRONTEND=noninteractive
    if apt-get update -qq && apt-get install -y -qq $missing $optional >/dev/null; then
        exit 0
    fi
    [ -z "$missing" ] && { echo "deps: optional packages could not be installed:$optional (continuing)"; exit 0; }
fi
if [ -n "$missing" ]; then
    echo "deps: make check needs:$missing" >&2
    echo "deps: on Debian/Ubuntu run: sudo apt-get install -y$missing$optional" >&2
    exit 1
fi
echo "deps: optional, not installed:$optional (their checks are skipped or reduced)"
exit 0
