"""The exception hierarchy: one class per status code, the library's message, Python-side checks."""
import pickle
import subprocess
import sys
import unittest

from . import _util  # noqa: F401 (puts python/ on sys.path first)
from ._util import python_env

import gradflow as gf
from gradflow import _errors, _lib

BUILTIN_BASE = {
    gf.Status.ERR_NULL: (gf.NullError, TypeError),
    gf.Status.ERR_NOMEM: (gf.OutOfMemoryError, MemoryError),
    gf.Status.ERR_INVALID: (gf.InvalidArgumentError, ValueError),
    gf.Status.ERR_SHAPE: (gf.ShapeError, ValueError),
    gf.Status.ERR_NONFINITE: (gf.NonFiniteError, ValueError),
    gf.Status.ERR_STATE: (gf.StateError, RuntimeError),
    gf.Status.ERR_OVERFLOW: (gf.SizeOverflowError, OverflowError),
    gf.Status.ERR_RANGE: (gf.RangeError, IndexError),
    gf.Status.ERR_IO: (gf.FileError, OSError),
    gf.Status.ERR_FORMAT: (gf.FormatError, ValueError),
    gf.Status.ERR_BUFFER: (gf.BufferTooSmallError, ValueError),
    gf.Status.ERR_GUARD: (gf.GuardError, ArithmeticError),
    gf.Status.ERR_KIND: (gf.KindError, TypeError),
    gf.Status.ERR_UNSUPPORTED: (gf.UnsupportedError, NotImplementedError),
}


class HierarchyTest(unittest.TestCase):
    def test_every_error_code_maps_to_its_own_subclass(self):
        codes = [s for s in gf.Status if s != gf.Status.OK]
        self.assertEqual(sorted(BUILTIN_BASE), sorted(codes))
        classes = set()
        for code in codes:
            with self.subTest(code=code.name):
                cls, base = BUILTIN_BASE[code]
                e = _errors.error_for(int(code), "msg")
                self.assertIs(type(e), cls)
                self.assertIsInstance(e, gf.GradflowError)
                self.assertIsInstance(e, base)
                self.assertEqual(e.code, code)
                self.assertEqual(e.message, "msg")
                classes.add(cls)
        self.assertEqual(len(classes), len(codes))

    def test_unknown_code_is_the_base_class_with_that_code(self):
        e = _errors.error_for(999, "odd")
        self.assertIs(type(e), gf.GradflowError)
        self.assertEqual(e.code, 999)

    def test_errors_survive_pickling(self):
        e = pickle.loads(pickle.dumps(gf.ShapeError("x wrong", gf.Status.ERR_SHAPE)))
        self.assertIsInstance(e, gf.ShapeError)
        self.assertEqual((e.code, e.message), (gf.Status.ERR_SHAPE, "x wrong"))

    def test_python_side_classes_carry_the_matching_code(self):
        self.assertEqual(gf.DataTypeError("m").code, gf.Status.ERR_INVALID)
        self.assertTrue(issubclass(gf.DataTypeError, TypeError))
        self.assertTrue(issubclass(gf.ClosedError, gf.StateError))


class LibraryMessageTest(unittest.TestCase):
    def test_a_failing_call_raises_with_the_librarys_message(self):
        with self.assertRaises(gf.InvalidArgumentError) as cm:
            gf.Activation(99)
        self.assertEqual(cm.exception.code, gf.Status.ERR_INVALID)
        self.assertIn("gf_activation_create", cm.exception.message)
        self.assertIn("99", cm.exception.message)

    def test_message_is_consumed_after_raising(self):
        with self.assertRaises(gf.InvalidArgumentError):
            gf.Loss(42)
        self.assertEqual(gf.last_error(), "")

    def test_net_failure_is_also_kept_by_the_net(self):
        with gf.Net(2) as net:
            net.add_dense(1)
            with self.assertRaises(gf.StateError):
                net.backward([[0.0]])
            self.assertIn("gf_net_backward", net.last_error)

    def test_null_handle_passed_straight_to_c_is_null_error(self):
        with self.assertRaises(gf.NullError) as cm:
            _lib.check(_lib.lib.gf_net_add(None, None))
        self.assertIn("NULL", cm.exception.message)

    def test_strerror_names_codes(self):
        self.assertEqual(gf.strerror(gf.Status.ERR_SHAPE), "shape or size mismatch")
        self.assertEqual(gf.strerror(0), "ok")


# Runs in a fresh interpreter, where no other test can have left library objects alive.
OUT_OF_MEMORY_CHILD = r'''
import ctypes, gc
import gradflow as gf
from gradflow import _decls, _lib

def live():
    gc.collect()
    return gf.live_allocations()

print("live_before", live())
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.realloc.restype = ctypes.c_void_p
libc.realloc.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
budget = [1]  # allocations allowed before failing

def m(user, size):
    if budget[0] <= 0:
        return None
    budget[0] -= 1
    return libc.malloc(size)

def r(user, ptr, size):
    if budget[0] <= 0:
        return None
    budget[0] -= 1
    return libc.realloc(ptr, size)

def f(user, ptr):
    libc.free(ptr)

cbs = (_decls.gf_malloc_fn(m), _decls.gf_realloc_fn(r), _decls.gf_free_fn(f))
_lib.check(_lib.lib.gf_set_allocator(cbs[0], cbs[1], cbs[2], None))
net = None
try:
    try:
        net = gf.Net(2)  # the first allocation may succeed; growing the net cannot
        net.add_dense(1000)
        print("raised none")
    except gf.GradflowError as e:
        print("raised", type(e).__name__, isinstance(e, MemoryError), int(e.code))
finally:
    if net is not None:
        net.close()
    print("live_after", live())
    _lib.check(_lib.lib.gf_set_allocator(_decls.gf_malloc_fn(), _decls.gf_realloc_fn(), _decls.gf_free_fn(), None))
'''


class OutOfMemoryTest(unittest.TestCase):
    """Allocation failure injected through gf_set_allocator surfaces as OutOfMemoryError."""

    def test_failing_allocator_gives_out_of_memory_error(self):
        r = subprocess.run([sys.executable, "-c", OUT_OF_MEMORY_CHILD], env=python_env(), capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, 0, "child failed (%d):\n%s" % (r.returncode, r.stderr[-3000:]))
        out = dict(line.split(" ", 1) for line in r.stdout.splitlines())
        self.assertEqual(out["live_before"], "0")  # a fresh interpreter: the allocator may be swapped
        # OutOfMemoryError, a MemoryError, with code GF_ERR_NOMEM.
        self.assertEqual(out["raised"], "OutOfMemoryError True %d" % gf.Status.ERR_NOMEM)
        self.assertEqual(out["live_after"], "0")

if __name__ == "__main__":
    unittest.main()
