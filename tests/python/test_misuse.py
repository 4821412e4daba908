"""Bad calls raise the right exception subclass with a message naming the problem,
and never crash the interpreter."""
import math
import unittest

from . import _util  # noqa: F401 (puts python/ on sys.path first)
from ._util import XOR_X, XOR_Y, flat, real_numpy

import gradflow as gf
from gradflow import _lib


def xor_net():
    net = gf.Net(2, seed=1)
    net.add_dense(4, "tanh")
    net.add_dense(1, "sigmoid")
    return net


class NoneTest(unittest.TestCase):
    def test_none_layer_is_null_error(self):
        with gf.Net(2) as net:
            with self.assertRaisesRegex(gf.NullError, "Net.add: layer is None"):
                net.add(None)

    def test_none_data_is_null_error(self):
        with xor_net() as net:
            with self.assertRaisesRegex(gf.NullError, "x is None"):
                net.predict(None)
            with self.assertRaisesRegex(gf.NullError, "target is None"):
                net.train_step(XOR_X, None)

    def test_none_activation_optimizer_and_sizes(self):
        with gf.Net(2) as net:
            with self.assertRaises(gf.NullError):
                net.set_optimizer(None)
            with self.assertRaises(gf.NullError):
                gf.Dense(2, None)
            with gf.Dense(2, 2) as d, self.assertRaises(gf.NullError):
                d.set_activation(None)

    def test_null_handles_reaching_c_are_refused_by_the_library(self):
        for status in (_lib.lib.gf_net_step(None), _lib.lib.gf_layer_set_weights(None, None, 0),
                       _lib.lib.gf_optimizer_reset(None)):
            with self.assertRaises(gf.NullError):
                _lib.check(status)


class KindTest(unittest.TestCase):
    def test_object_of_the_wrong_class_is_kind_error(self):
        with gf.Net(2) as net, gf.Dense(2, 2) as d, gf.Activation("relu") as a:
            with self.assertRaisesRegex(gf.KindError, "must be an Optimizer, got Dense"):
                net.set_optimizer(d)
            with self.assertRaisesRegex(gf.KindError, "must be a Layer, got Activation"):
                net.add(a)
            with self.assertRaises(gf.KindError):
                net.set_penalty(a)

    def test_ctypes_refuses_a_handle_of_another_type(self):
        import ctypes
        with gf.Dense(2, 2) as d:
            with self.assertRaises(ctypes.ArgumentError):
                _lib.lib.gf_net_step(d._h)


class ShapeTest(unittest.TestCase):
    def test_wrong_input_width_names_both_widths(self):
        with xor_net() as net:
            with self.assertRaises(gf.ShapeError) as cm:
                net.predict([[1.0, 2.0, 3.0]])
            self.assertIn("3 values per row", str(cm.exception))
            self.assertIn("expected 2", str(cm.exception))

    def test_flat_input_not_a_multiple_of_the_width(self):
        with xor_net() as net:
            with self.assertRaisesRegex(gf.ShapeError, "not a whole number of rows of 2"):
                net.predict([1.0, 2.0, 3.0])

    def test_target_rows_must_equal_the_batch(self):
        with xor_net() as net:
            with self.assertRaisesRegex(gf.ShapeError, "target has 3 rows but the batch has 4"):
                net.train_step(XOR_X, XOR_Y[:3])

    def test_backward_target_must_match_the_last_forward(self):
        with xor_net() as net:
            net.forward(XOR_X)
            with self.assertRaises(gf.ShapeError):
                net.backward([[0.0], [1.0]])

    def test_empty_batch_is_a_shape_error(self):
        with xor_net() as net:
            with self.assertRaisesRegex(gf.ShapeError, "empty"):
                net.predict([])

    def test_wrong_weight_count_is_a_shape_error(self):
        with gf.Dense(2, 3) as d:
            with self.assertRaisesRegex(gf.ShapeError, "weights has 5 values, the layer has 6"):
                d.set_weights([0.0] * 5)

    def test_count_mismatch_reaching_c_is_refused_by_the_library(self):
        with xor_net() as net:
            x = gf.as_floats([0.0] * 8)
            y = gf.as_floats([0.0] * 4)
            with self.assertRaises(gf.ShapeError) as cm:
                _lib.check(_lib.lib.gf_net_predict(net._h, x.ptr, 7, 4, y.ptr, 4), net._h)
            self.assertIn("gf_net_predict", str(cm.exception))

    def test_adding_a_layer_of_the_wrong_width(self):
        with gf.Net(2) as net:
            with self.assertRaisesRegex(gf.ShapeError, r"layer 0 \(dense\) expects 3 input features.*got VECTOR\(2\)"):
                net.add(gf.Dense(3, 1))


class DataTypeTest(unittest.TestCase):
    def test_strings_in_data_are_data_type_errors(self):
        with xor_net() as net:
            with self.assertRaises(gf.DataTypeError):
                net.predict([["a", "b"]])
            with self.assertRaises(TypeError):  # also a TypeError for generic callers
                net.predict("ab")

    @unittest.skipUnless(real_numpy is not None, "numpy not installed")
    def test_complex_numpy_data_is_refused(self):
        with xor_net() as net:
            with self.assertRaises(gf.DataTypeError):
                net.predict(real_numpy.zeros((1, 2), dtype=complex))

    def test_float_where_an_int_is_needed(self):
        with self.assertRaisesRegex(gf.DataTypeError, "inputs must be an integer"):
            gf.Net(2.5)
        with self.assertRaises(gf.DataTypeError):
            gf.Net(True)

    def test_non_number_hyper_parameter(self):
        with self.assertRaisesRegex(gf.DataTypeError, "lr must be a real number"):
            gf.Optimizer("sgd", lr="fast")

    def test_fit_validation_split_that_is_not_a_number_is_a_data_type_error(self):
        # Before: "TypeError: '>' not supported between instances of 'str' and 'float'" from inside the
        # binding, and [] or {} silently meant no split.
        with xor_net() as net:
            for bad in ("0.2", [], {}, [0.2]):
                with self.subTest(bad=bad), self.assertRaisesRegex(gf.DataTypeError, "validation_split"):
                    net.fit(XOR_X, XOR_Y, epochs=1, verbose=0, validation_split=bad)
            self.assertEqual(net.steps, 0)

    def test_fit_callbacks_that_are_not_a_list_is_a_data_type_error(self):
        # Before: "TypeError: 'int' object is not iterable" from inside the binding.
        with xor_net() as net:
            for bad in (3, 1.5, True, object(), "loss"):
                with self.subTest(bad=bad), self.assertRaisesRegex(gf.DataTypeError, "callbacks must be a list"):
                    net.fit(XOR_X, XOR_Y, epochs=1, verbose=0, callbacks=bad)
            self.assertEqual(net.steps, 0)


class BlockNameTest(unittest.TestCase):
    def test_a_block_name_with_a_nul_byte_finds_no_block(self):
        # C compares names up to a NUL: "weight\0x" must not read or write the weight.
        with xor_net() as net:
            layer = net.layer(0)
            before = layer.get_param("weight")
            for call in (lambda: layer.get_param("weight\0x"), lambda: layer.param_shape("weight\0"),
                         lambda: layer.set_param("weight\0x", [[9.0, 9.0]] * 4),
                         lambda: layer.get_param_grad("bias\0")):
                with self.assertRaisesRegex(gf.RangeError, "no block"):
                    call()
            self.assertEqual(flat(layer.get_param("weight")), flat(before))

    def test_a_block_name_that_is_not_encodable_finds_no_block(self):
        with xor_net() as net:
            with self.assertRaisesRegex(gf.RangeError, "no block"):
                net.layer(0).get_param("weight\ud800")


class NonFiniteTest(unittest.TestCase):
    def test_nan_input_is_refused_and_nothing_changes(self):
        with xor_net() as net:
            before = _util.flat(net[0].weights)
            with self.assertRaises(gf.NonFiniteError) as cm:
                net.train_step([[math.nan, 0.0]], [[0.0]])
            self.assertIn("nan", str(cm.exception))
            self.assertEqual(_util.flat(net[0].weights), before)
            self.assertEqual(net.steps, 0)

    def test_infinite_target_is_refused(self):
        with xor_net() as net:
            with self.assertRaises(gf.NonFiniteError):
                net.train_step([[0.0, 0.0]], [[math.inf]])

    def test_nan_weights_are_refused(self):
        with gf.Dense(1, 1) as d:
            with self.assertRaisesRegex(gf.NonFiniteError, "nan"):
                d.set_weights([math.nan])

    def test_nan_hyper_parameter_is_invalid(self):
        with self.assertRaises(gf.InvalidArgumentError):
            gf.Optimizer("sgd", lr=math.nan)


class StateTest(unittest.TestCase):
    def test_backward_before_forward(self):
        with xor_net() as net:
            with self.assertRaises(gf.StateError) as cm:
                net.backward(XOR_Y)
            self.assertIn("forward", str(cm.exception))

    def test_step_before_backward(self):
        with xor_net() as net:
            with self.assertRaisesRegex(gf.StateError, "backward"):
                net.step()

    def test_adding_a_layer_after_training_began(self):
        with xor_net() as net:
            net.train_step(XOR_X, XOR_Y)
            with self.assertRaisesRegex(gf.StateError, "training has begun"):
                net.add_dense(2)
            with self.assertRaises(gf.StateError):
                net.add(gf.Dense(1, 1))
            self.assertEqual(len(net), 2)

    def test_input_grad_before_any_forward(self):
        with xor_net() as net:
            with self.assertRaises(gf.StateError):
                net.input_grad()

    def test_input_grad_enabled_refuses_non_booleans(self):
        with xor_net() as net:
            for bad in (2, -1, "yes", None, 0.5):
                with self.assertRaises(gf.GradflowError):
                    net.input_grad_enabled = bad
            self.assertFalse(net.input_grad_enabled)


class OverflowTest(unittest.TestCase):
    def test_layer_sizes_whose_product_overflows(self):
        with self.assertRaises(gf.SizeOverflowError) as cm:
            gf.Dense(2 ** 33, 2 ** 33)
        self.assertIn("overflow", str(cm.exception))

    def test_add_dense_whose_weight_count_overflows(self):
        with gf.Net(3) as net:
            with self.assertRaises(gf.SizeOverflowError):
                net.add_dense(2 ** 62)
            self.assertEqual(len(net), 0)

    def test_python_ints_beyond_int64_never_wrap(self):
        with self.assertRaisesRegex(gf.SizeOverflowError, "does not fit"):
            gf.Dense(2 ** 64 + 2, 1)
        with self.assertRaises(gf.SizeOverflowError):
            gf.Net(2, seed=-1)

    def test_init_fill_too_large(self):
        with gf.Init("zeros") as i, self.assertRaises(gf.SizeOverflowError):
            i.fill(2 ** 40, 2 ** 40)

    def test_an_int_beyond_a_double_where_a_real_goes_is_a_size_overflow_error(self):
        big = 10 ** 400  # float() of it raised a bare OverflowError
        with self.assertRaisesRegex(gf.SizeOverflowError, "Optimizer: lr does not fit a C double"):
            gf.Optimizer("sgd", big)
        with gf.Loss("huber") as loss, self.assertRaises(gf.SizeOverflowError):
            loss.set("delta", big)
        with gf.Net(3) as net, self.assertRaises(gf.SizeOverflowError):
            net.set_clip("norm", big)

    def test_series_names_itself_in_its_errors(self):
        with xor_net() as net:
            d = net.diagnostics()
            with self.assertRaisesRegex(gf.SizeOverflowError, "^Diagnostics.series: stat"):
                d.series(0, 2 ** 40)


class DomainTest(unittest.TestCase):
    def test_unknown_kinds_by_name_and_number(self):
        with self.assertRaisesRegex(gf.InvalidArgumentError, "unknown kind 'adamax'"):
            gf.Optimizer("adamax")
        with self.assertRaisesRegex(gf.InvalidArgumentError, "gf_loss_create"):
            gf.Loss(77)

    def test_index_out_of_range(self):
        with xor_net() as net:
            with self.assertRaisesRegex(gf.RangeError, "index 5 out of range"):
                net[5]
            self.assertIsInstance(gf.RangeError("x"), IndexError)

    def test_nonpositive_sizes_are_invalid(self):
        with self.assertRaisesRegex(gf.InvalidArgumentError, "positive"):
            gf.Dense(0, 2)
        with self.assertRaises(gf.InvalidArgumentError):
            gf.Net(-3)

    def test_negative_clip_threshold(self):
        with xor_net() as net, self.assertRaisesRegex(gf.InvalidArgumentError, "gf_net_set_clip"):
            net.set_clip("norm", -1.0)


if __name__ == "__main__":
    unittest.main()
