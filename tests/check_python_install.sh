#!/bin/sh
# tests/check_python_install.sh — `pip install ./python` into a fresh virtual
# environment, offline (--no-index: nothing may come from a package index), then
# the package is imported and trained from outside the tree with no PYTHONPATH:
#   1. default build: the wheel carries the build's libgradflow.so.0 next to the
#      modules, and the import loads that copy (no LD_LIBRARY_PATH either);
#   2. GRADFLOW_BUNDLE_LIBRARY=0: no library in the wheel; the import finds one
#      through GRADFLOW_LIBRARY or LD_LIBRARY_PATH and says what to do without;
#   3. pip uninstall removes every installed file; the source tree is unchanged.
# Environment: OUT (library dir, default lib), PYTHON, SANITIZE.  POSIX sh.
set -u
OUT=${OUT:-lib}
PYTHON=${PYTHON:-python3}
ROOT=$(pwd)

if [ "${SANITIZE:-0}" = 1 ]; then
    echo "check_python_install: SKIP under SANITIZE=1 (a sanitized library cannot be loaded by a plain interpreter)"
    exit 0
fi
LIB=$ROOT/$OUT/libgradflow.so.0
[ -f "$LIB" ] || { echo "FAIL: $LIB not built (make first)"; exit 1; }
if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    echo "check_python_install: SKIP: $PYTHON has no venv/ensurepip (Debian: apt-get install python3-venv)"
    exit 0
fi

fail=0
problem() { echo "FAIL: $*"; fail=1; }
ok() { echo "  ok: $*"; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/gf-pip.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP PIPE
tree_state() { GIT_OPTIONAL_LOCKS=0 git status --porcelain --untracked-files=all --ignored 2>/dev/null | grep -v '^!! \(lib\|build\)/'; return 0; }
tree_state >"$tmp/tree.before"

# Nothing from the caller's environment may help the import succeed.
unset PYTHONPATH GRADFLOW_LIBRARY LD_LIBRARY_PATH PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_FIND_LINKS
export PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1

VENV=$tmp/venv
if ! "$PYTHON" -m venv "$VENV" >"$tmp/venv.log" 2>&1; then
    problem "$PYTHON -m venv failed:"; sed 's/^/    /' "$tmp/venv.log"; exit 1
fi
PY=$VENV/bin/python

# pip_install [ENV=VALUE...]: pip install --no-index ./python with those variables.
pip_install() {
    echo "check_python_install: $* pip install --no-index ./python"
    if env "$@" "$PY" -m pip install --no-index ./python >"$tmp/pip.log" 2>&1; then
        ok "pip install ./python (offline, with build isolation)"
    else
        problem "pip install ./python failed:"; sed 's/^/    /' "$tmp/pip.log"; exit 1
    fi
}

# The program run from outside the tree: import, where the library came from, one XOR fit.
cat >"$tmp/use.py" <<'EOF'
import sys
import gradflow as gf
assert not gf.__file__.startswith(sys.argv[1] + "/"), "imported from the source tree: " + gf.__file__
with gf.Net(2, seed=1) as net:
    net.add_dense(8, "tanh")
    net.add_dense(1, "sigmoid")
    net.set_optimizer("adam", lr=0.05)
    loss = net.fit([[0, 0], [0, 1], [1, 0], [1, 1]], [[0], [1], [1], [0]], epochs=1000, verbose=0).history["loss"][-1]
print(gf.__file__, gf.library_path, gf.version_string(), "loss %.4f" % loss)
assert loss < 0.01, loss
EOF

# 1. The default build bundles the library under test.
pip_install GRADFLOW_LIBRARY="$LIB"
site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
platsite=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')
if (cd "$tmp" && "$PY" "$tmp/use.py" "$ROOT" >"$tmp/run.log" 2>&1); then
    set -- $(cat "$tmp/run.log")
    case $1 in "$site"/gradflow/* | "$platsite"/gradflow/*) ok "imported from the venv: $1" ;; *) problem "imported from $1, not the venv" ;; esac
    case $2 in */gradflow/libgradflow.so.0) ok "loaded the bundled library $2" ;; *) problem "loaded $2, not the bundled copy" ;; esac
    if cmp -s "$2" "$LIB"; then ok "the bundled library is the build's $OUT/libgradflow.so.0"; else problem "bundled $2 differs from $LIB"; fi
    ok "trained XOR ($4 $5)"
else
    problem "import/training in the venv failed:"; sed 's/^/    /' "$tmp/run.log"
fi
"$PY" -m pip uninstall -y gradflow >"$tmp/pip.log" 2>&1 || problem "pip uninstall failed: $(cat "$tmp/pip.log")"
left=$(find "$site" "$platsite" -maxdepth 1 -iname 'gradflow*' 2>/dev/null)
[ -z "$left" ] && ok "pip uninstall removed the package" || problem "pip uninstall left: $left"

# 2. Without a bundled library: the environment variable, the loader path, and the message.
pip_install GRADFLOW_BUNDLE_LIBRARY=0
if find "$site" "$platsite" -name 'libgradflow*' | grep -q .; then problem "GRADFLOW_BUNDLE_LIBRARY=0 still bundled a library"; fi
if (cd "$tmp" && GRADFLOW_LIBRARY=$LIB "$PY" "$tmp/use.py" "$ROOT" >"$tmp/run.log" 2>&1); then
    set -- $(cat "$tmp/run.log"); [ "$2" = "$LIB" ] && ok "GRADFLOW_LIBRARY=$2 loaded" || problem "GRADFLOW_LIBRARY given, loaded $2"
else
    problem "import with GRADFLOW_LIBRARY failed:"; sed 's/^/    /' "$tmp/run.log"
fi
if (cd "$tmp" && LD_LIBRARY_PATH=$ROOT/$OUT "$PY" "$tmp/use.py" "$ROOT" >"$tmp/run.log" 2>&1); then
    set -- $(cat "$tmp/run.log"); ok "LD_LIBRARY_PATH: loaded $2 through the dynamic loader"
else
    problem "import with LD_LIBRARY_PATH failed:"; sed 's/^/    /' "$tmp/run.log"
fi
if "$PY" -c 'import ctypes; ctypes.CDLL("libgradflow.so.0")' >/dev/null 2>&1; then
    echo "  note: a system libgradflow.so.0 is installed; the no-library message is not checked"
elif (cd "$tmp" && "$PY" -c 'import gradflow' >"$tmp/run.log" 2>&1); then
    problem "import without any library succeeded"
elif grep -q 'GRADFLOW_LIBRARY' "$tmp/run.log" && grep -q 'ImportError' "$tmp/run.log"; then
    ok "without a library: ImportError naming GRADFLOW_LIBRARY"
else
    problem "import without a library failed unhelpfully:"; sed 's/^/    /' "$tmp/run.log"
fi

tree_state >"$tmp/tree.after"
if cmp -s "$tmp/tree.before" "$tmp/tree.after"; then ok "the source tree is unchanged"
else problem "pip install changed the source tree:"; diff "$tmp/tree.before" "$tmp/tree.after" | sed 's/^/    /'; fi

if [ "$fail" -ne 0 ]; then
    echo "check_python_install: FAILED"
    exit 1
fi
echo "check_python_install: OK (offline pip install into a fresh venv; bundled, GRADFLOW_LIBRARY and loader lookup)"
