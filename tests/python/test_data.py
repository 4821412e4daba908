"""Data in (lists, array.array, buffers, numpy; zero-copy where possible) and data out."""
import array
import ctypes
import math
import unittest

from . import _util  # noqa: F401 (puts python/ on sys.path first)
from ._util import check_output_type, flat, real_numpy

import gradflow as gf
from gradflow._data import as_floats, new_output

needs_numpy = unittest.skipUnless(gf.HAVE_NUMPY, "numpy absent or hidden")
has_numpy_data = unittest.skipUnless(real_numpy is not None, "numpy not installed")


class ListInputTest(unittest.TestCase):
    def test_flat_list_is_one_row(self):
        fd = as_floats([1, 2.5, -3])
        self.assertEqual((fd.count, fd.shape), (3, (3,)))
        self.assertEqual(fd.ptr[1], 2.5)
        self.assertTrue(fd.copied)

    def test_nested_lists_give_a_batch_shape(self):
        fd = as_floats([[1, 2], [3, 4], [5, 6]])
        self.assertEqual(fd.shape, (3, 2))
        self.assertEqual([fd.ptr[i] for i in range(6)], [1, 2, 3, 4, 5, 6])

    def test_tuples_work_like_lists(self):
        self.assertEqual(as_floats(((1, 2), (3, 4))).shape, (2, 2))

    def test_ragged_rows_are_a_shape_error(self):
        with self.assertRaisesRegex(gf.ShapeError, "not rectangular"):
            as_floats([[1, 2], [3]], "x", "T")

    def test_mixed_nesting_is_a_shape_error(self):
        with self.assertRaises(gf.ShapeError):
            as_floats([[1, 2], 3])
        with self.assertRaisesRegex(gf.ShapeError, "nesting depths"):
            as_floats([[[1, 1, 1], [2, 2, 2]], [3, 4]])
        with self.assertRaisesRegex(gf.ShapeError, "nesting depths"):
            as_floats([[3, 4], [[1, 1, 1], [2, 2, 2]]])

    def test_numbers_deeper_after_a_shallow_row_are_a_shape_error(self):
        with gf.Net(4) as net:
            net.add_dense(1)
            with self.assertRaisesRegex(gf.ShapeError, "nesting depths"):
                net.predict([[3, 4], [[1, 1, 1], [2, 2, 2]]])

    def test_strings_are_a_data_type_error_naming_the_value(self):
        with self.assertRaises(gf.DataTypeError) as cm:
            as_floats([1.0, "two"], "x", "Net.predict")
        self.assertIn("'two'", str(cm.exception))
        self.assertIn("Net.predict", str(cm.exception))
        self.assertIsInstance(cm.exception, TypeError)

    def test_none_inside_a_list_is_a_data_type_error(self):
        with self.assertRaises(gf.DataTypeError):
            as_floats([1.0, None])

    def test_none_is_a_null_error(self):
        with self.assertRaisesRegex(gf.NullError, "x is None"):
            as_floats(None, "x")

    def test_scalars_strings_and_bytes_are_refused(self):
        for bad in (1.5, "1.5", b"\x00\x00\x80\x3f", object()):
            with self.subTest(bad=bad):
                with self.assertRaises(gf.DataTypeError):
                    as_floats(bad)

    def test_nan_passes_the_helper_for_the_library_to_judge(self):
        self.assertTrue(math.isnan(as_floats([math.nan]).ptr[0]))


class ArrayInputTest(unittest.TestCase):
    def test_float_array_is_passed_without_copy(self):
        a = array.array("f", [1, 2, 3])
        fd = as_floats(a)
        self.assertFalse(fd.copied)
        self.assertEqual(fd.address, a.buffer_info()[0])
        fd.ptr[0] = 9.0
        self.assertEqual(a[0], 9.0)

    def test_double_array_is_converted(self):
        fd = as_floats(array.array("d", [0.5, 1.5]))
        self.assertTrue(fd.copied)
        self.assertEqual([fd.ptr[0], fd.ptr[1]], [0.5, 1.5])

    def test_int_array_is_converted(self):
        self.assertEqual(as_floats(array.array("i", [3])).ptr[0], 3.0)

    def test_unicode_array_is_refused(self):
        with self.assertRaises(gf.DataTypeError):
            as_floats(array.array("u", "ab"))


class BufferInputTest(unittest.TestCase):
    def test_writable_float32_memoryview_is_passed_without_copy(self):
        a = array.array("f", [1, 2, 3, 4])
        m = memoryview(a)
        fd = as_floats(m)
        self.assertFalse(fd.copied)
        self.assertEqual(fd.address, a.buffer_info()[0])

    def test_two_dimensional_float32_memoryview_keeps_its_shape(self):
        m = memoryview(bytearray(24)).cast("f", (3, 2))
        fd = as_floats(m)
        self.assertEqual((fd.shape, fd.copied), ((3, 2), False))

    def test_read_only_float32_buffer_is_copied(self):
        raw = bytes(array.array("f", [1.5, 2.5]))
        fd = as_floats(memoryview(raw).cast("f"))
        self.assertTrue(fd.copied)
        self.assertEqual([fd.ptr[0], fd.ptr[1]], [1.5, 2.5])

    def test_float32_memoryview_at_an_odd_address_is_copied_to_aligned_floats(self):
        raw = bytearray(4 * 3 + 1)
        m = memoryview(raw)[1:].cast("f")
        m[0], m[1], m[2] = 1.5, -2.0, 3.25
        fd = as_floats(m)
        self.assertTrue(fd.copied)
        self.assertEqual(fd.address % ctypes.alignment(ctypes.c_float), 0)
        self.assertEqual([fd.ptr[i] for i in range(3)], [1.5, -2.0, 3.25])

    def test_float64_buffer_is_converted(self):
        m = memoryview(bytearray(bytes(array.array("d", [0.25, -1.0])))).cast("d")
        fd = as_floats(m)
        self.assertEqual([fd.ptr[0], fd.ptr[1]], [0.25, -1.0])

    def test_empty_float64_buffer_is_an_empty_batch_not_a_type_error(self):
        m = (ctypes.c_double * 0 * 3)()  # a 3 x 0 buffer of doubles
        fd = as_floats(m)
        self.assertEqual((fd.count, fd.shape), (0, (3, 0)))
        with gf.Net(3) as net:
            net.add_dense(1)
            with self.assertRaisesRegex(gf.ShapeError, "empty"):
                net.predict(m)

    def test_byte_buffer_is_refused(self):
        with self.assertRaisesRegex(gf.DataTypeError, "format"):
            as_floats(memoryview(bytearray(8)))

    def test_ctypes_float_array_is_a_buffer(self):
        c = (ctypes.c_float * 3)(1, 2, 3)
        fd = as_floats(c)
        self.assertEqual(fd.count, 3)
        self.assertEqual(fd.ptr[2], 3.0)

    @has_numpy_data
    def test_numpy_array_is_accepted_as_a_buffer_even_when_hidden(self):
        a = real_numpy.arange(6, dtype=real_numpy.float32).reshape(3, 2)
        fd = as_floats(a)
        self.assertEqual((fd.count, fd.shape), (6, (3, 2)))
        self.assertEqual(fd.ptr[5], 5.0)


@needs_numpy
class NumpyInputTest(unittest.TestCase):
    np = real_numpy

    def test_c_contiguous_float32_is_zero_copy(self):
        a = self.np.ones((4, 3), dtype=self.np.float32)
        fd = as_floats(a)
        self.assertFalse(fd.copied)
        self.assertEqual(fd.address, a.ctypes.data)
        self.assertEqual(fd.shape, (4, 3))

    def test_float64_is_converted(self):
        fd = as_floats(self.np.array([[1.0, 2.0]]))
        self.assertTrue(fd.copied)
        self.assertEqual(fd.keep.dtype, self.np.float32)

    def test_non_contiguous_view_is_made_contiguous(self):
        a = self.np.arange(12, dtype=self.np.float32).reshape(3, 4)[:, ::2]
        fd = as_floats(a)
        self.assertTrue(fd.copied)
        self.assertEqual([fd.ptr[i] for i in range(6)], [0, 2, 4, 6, 8, 10])

    def test_fortran_order_is_converted_to_row_major(self):
        a = self.np.asfortranarray(self.np.array([[1, 2], [3, 4]], dtype=self.np.float32))
        fd = as_floats(a)
        self.assertEqual([fd.ptr[i] for i in range(4)], [1, 2, 3, 4])

    def test_integer_arrays_are_converted(self):
        self.assertEqual(as_floats(self.np.array([7], dtype=self.np.int64)).ptr[0], 7.0)

    def test_complex_object_and_string_arrays_are_refused(self):
        for a in (self.np.array([1j]), self.np.array([object()]), self.np.array(["a"]), self.np.array([True])):
            with self.subTest(dtype=a.dtype):
                with self.assertRaises(gf.DataTypeError):
                    as_floats(a)


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


class TorchInputTest(unittest.TestCase):
    """Torch tensors go in wherever arrays do: detached, on the CPU, through numpy (or lists without it)."""

    def setUp(self):
        self.torch = _torch()
        if self.torch is None:
            self.skipTest("torch is not installed")

    def test_predict_on_a_tensor_gives_what_it_gives_on_the_same_list(self):
        rows = [[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]
        with gf.Net(3, seed=4) as net:
            net.add_dense(2, "tanh")
            self.assertEqual(flat(net.predict(self.torch.tensor(rows))), flat(net.predict(rows)))

    def test_a_tensor_that_requires_grad_is_detached_not_refused(self):
        t = self.torch.tensor([[1.0, 2.0]], requires_grad=True)
        fd = as_floats(t * 2)
        self.assertEqual(([fd.ptr[i] for i in range(fd.count)], tuple(fd.shape)), ([2.0, 4.0], (1, 2)))

    def test_a_float64_tensor_is_converted(self):
        fd = as_floats(self.torch.tensor([[0.1, 0.2, 0.3]], dtype=self.torch.float64))
        self.assertEqual(tuple(fd.shape), (1, 3))
        self.assertAlmostEqual(fd.ptr[2], 0.3, places=6)

    def test_complex_and_bool_tensors_are_refused(self):
        for t in (self.torch.tensor([1j]), self.torch.tensor([True])):
            with self.subTest(dtype=str(t.dtype)):
                with self.assertRaises(gf.DataTypeError):
                    as_floats(t)


class OutputTest(unittest.TestCase):
    def test_output_type_follows_numpy_availability(self):
        out, ptr = new_output((2, 3))
        check_output_type(self, out, (2, 3))
        ptr[5] = 4.0
        self.assertEqual(flat(out)[5], 4.0)

    def test_predict_output_is_batch_by_outputs(self):
        with gf.Net(3, seed=1) as net:
            net.add_dense(2)
            check_output_type(self, net.predict([[1, 2, 3]] * 4), (4, 2))


if __name__ == "__main__":
    unittest.main()
