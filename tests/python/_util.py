"""Shared helpers of the Python suite: makes python/ importable and flattens outputs."""
import array
import gc
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PYDIR = os.path.join(ROOT, "python")
if PYDIR not in sys.path:
    sys.path.insert(0, PYDIR)

# Under `make check` (tests/run.sh exports OUT) test the library that build produced,
# e.g. build/clang/lib for CC=clang, unless the caller chose one.
LIBDIR = os.path.join(ROOT, "lib")
if not os.environ.get("GRADFLOW_LIBRARY") and os.environ.get("OUT"):
    _out = os.path.join(ROOT, os.environ["OUT"])
    if os.path.exists(os.path.join(_out, "libgradflow.so.0")):
        LIBDIR = _out
        os.environ["GRADFLOW_LIBRARY"] = os.path.join(_out, "libgradflow.so.0")
STATIC_LIB = os.path.join(LIBDIR, "libgradflow.a")

import gradflow  # noqa: E402

try:  # numpy as test data even when the package hides it (it then goes through the buffer protocol)
    import numpy as real_numpy
except ImportError:
    real_numpy = None

XOR_X = [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]]
XOR_Y = [[0.0], [1.0], [1.0], [0.0]]


def flat(out):
    """Output (numpy array or array.array) as a flat list of floats."""
    if isinstance(out, array.array):
        return out.tolist()
    return [float(v) for v in out.reshape(-1)]


def check_output_type(test, out, shape):
    """Outputs are shaped numpy arrays with numpy, flat array('f') without."""
    if gradflow.HAVE_NUMPY:
        test.assertIsInstance(out, real_numpy.ndarray)
        test.assertEqual(out.dtype, real_numpy.float32)
        test.assertEqual(tuple(out.shape), tuple(shape))
    else:
        test.assertIsInstance(out, array.array)
        test.assertEqual(out.typecode, "f")
        n = 1
        for s in shape:
            n *= s
        test.assertEqual(len(out), n)


def live():
    """Library allocations live after collecting garbage."""
    gc.collect()
    return gradflow.live_allocations()


def python_env(**extra):
    """Environment for a child interpreter that imports the in-tree package."""
    env = dict(os.environ)
    env["PYTHONPATH"] = PYDIR + os.pathsep + env.get("PYTHONPATH", "")
    for k, v in extra.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env
