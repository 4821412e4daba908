"""_lib.py — finds and loads libgradflow, binds the declarations table, checks the version.

Search order: $GRADFLOW_LIBRARY (exactly that file, no fallback); the copy
installed next to these modules by `pip install` (gradflow/libgradflow.so.0); the
in-tree build (../../lib/libgradflow.so.0 from this package); then the system:
libgradflow.so.0 through the dynamic loader (LD_LIBRARY_PATH, the ldconfig cache,
/usr/lib...), then ctypes.util.find_library('gradflow').
"""
import ctypes
import ctypes.util
import os

from . import _decls
from ._errors import GradflowError, Status, UnsupportedError, error_for

# The library version this binding was written against (gradflow.h 0.1.0).
BINDING_VERSION = (0, 1, 0)

SONAME = "libgradflow.so.0"
_HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLED_LIBRARY = os.path.join(_HERE, SONAME)
IN_TREE_LIBRARY = os.path.normpath(os.path.join(_HERE, "..", "..", "lib", SONAME))


def _load_cdll():
    """(CDLL, path) from the first place that has the library; ImportError otherwise."""
    env = os.environ.get("GRADFLOW_LIBRARY")
    if env:
        try:
            return ctypes.CDLL(env), env
        except OSError as e:
            raise ImportError("gradflow: GRADFLOW_LIBRARY=%r could not be loaded: %s" % (env, e)) from None
    tried = []
    # The in-tree build is named in the error only when this package runs from a checkout.
    checkout = os.path.exists(os.path.join(_HERE, "..", "pyproject.toml"))
    for candidate, absent in ((BUNDLED_LIBRARY, None), (IN_TREE_LIBRARY, checkout and "not built: run make")):
        if os.path.exists(candidate):
            try:
                return ctypes.CDLL(candidate), candidate
            except OSError as e:
                tried.append("%s (%s)" % (candidate, e))
        elif absent:
            tried.append("%s (%s)" % (candidate, absent))
    try:  # the dynamic loader's own search, by SONAME: the major version this binding needs
        return ctypes.CDLL(SONAME), SONAME
    except OSError as e:
        tried.append("%s through the dynamic loader (%s)" % (SONAME, e))
    name = ctypes.util.find_library("gradflow")
    if name:
        try:
            return ctypes.CDLL(name), name
        except OSError as e:
            tried.append("%s (%s)" % (name, e))
    else:
        tried.append("system library search (no libgradflow found)")
    raise ImportError("gradflow: cannot find libgradflow; set GRADFLOW_LIBRARY to its path, install it "
                      "(make install, then ldconfig) or reinstall this package after make. Tried: "
                      + "; ".join(tried))


def split_version(number):
    """(major, minor, patch) of a GF_VERSION_NUMBER."""
    number = int(number)
    return number // 10000, (number // 100) % 100, number % 100


def check_version(number, binding=BINDING_VERSION):
    """ImportError unless a library of version `number` can serve this binding."""
    major, minor, patch = split_version(number)
    want = "%d.%d.%d" % binding
    have = "%d.%d.%d" % (major, minor, patch)
    if major != binding[0]:
        raise ImportError("gradflow: the library is version %s but this binding needs major version %d "
                          "(written for %s); install a matching libgradflow or set GRADFLOW_LIBRARY"
                          % (have, binding[0], want))
    if minor < binding[1]:
        raise ImportError("gradflow: the library is version %s, older than the %s this binding needs; "
                          "install libgradflow >= %s or set GRADFLOW_LIBRARY" % (have, want, want))


class _Missing:
    """Stands in for a function the loaded library does not export."""

    def __init__(self, name):
        self.__name__ = name

    def __call__(self, *args):
        raise UnsupportedError("%s: the loaded libgradflow (%s) does not export this function"
                               % (self.__name__, path), Status.ERR_UNSUPPORTED)


class _Functions:
    """Namespace of bound C functions: lib.gf_net_create(...)."""


def _bind(cdll, declarations):
    funcs = _Functions()
    missing = []
    for name, restype, argtypes in declarations:
        try:
            f = getattr(cdll, name)
        except AttributeError:
            missing.append(name)
            setattr(funcs, name, _Missing(name))
            continue
        f.restype = restype
        f.argtypes = list(argtypes)
        setattr(funcs, name, f)
    return funcs, missing


cdll, path = _load_cdll()
lib, missing = _bind(cdll, _decls.DECLARATIONS)
declared = frozenset(name for name, _, _ in _decls.DECLARATIONS)
check_version(lib.gf_version())


def _text(b):
    return b.decode("utf-8", "replace") if b else ""


def last_message(net=None):
    """The detailed message of the call that just failed, then cleared.

    The thread-local slot is set by every failing call (net ones included), so
    it is read first; the net's own slot is the fallback.
    """
    msg = _text(lib.gf_last_error())
    if not msg and net:
        msg = _text(lib.gf_net_last_error(net))
    lib.gf_clear_error()
    return msg


def check(status, net=None):
    """Raise the GradflowError subclass for a nonzero status."""
    if status:
        msg = last_message(net) or _text(lib.gf_strerror(status))
        raise error_for(status, msg)


__all__ = ["lib", "cdll", "path", "missing", "declared", "check", "check_version", "split_version",
           "last_message", "BINDING_VERSION", "GradflowError"]
