"""Boolean flags: True/False, 0/1 and numpy's booleans are taken; arrays, strings and floats are refused with the
binding's DataTypeError, never tested for truth (numpy's "truth value of an array is ambiguous")."""
import unittest

from . import _util  # noqa: F401 (puts python/ on sys.path first)
from ._util import XOR_X, XOR_Y

import gradflow as gf

needs_numpy = unittest.skipUnless(gf.HAVE_NUMPY, "numpy is absent or hidden (GRADFLOW_HIDE_NUMPY)")


def xor_net():
    net = gf.Net(2, seed=1)
    net.add_dense(4, "tanh")
    net.add_dense(1)
    net.set_loss("mse")
    net.set_optimizer("sgd", lr=0.1)
    return net


class FlagTest(unittest.TestCase):
    def test_fit_shuffle_takes_true_false_and_0_or_1(self):
        with xor_net() as net:
            for on in (True, False, 0, 1):
                net.fit(XOR_X, XOR_Y, epochs=1, batch_size=4, verbose=0, shuffle=on)

    def test_fit_shuffle_refuses_a_string_with_data_type_error(self):
        with xor_net() as net:
            with self.assertRaises(gf.DataTypeError):
                net.fit(XOR_X, XOR_Y, epochs=1, verbose=0, shuffle="no")
            self.assertEqual(net.steps, 0)

    def test_flags_refuse_floats_and_other_integers_with_data_type_error(self):
        with xor_net() as net:
            for bad in (0.5, 2, -1):
                with self.assertRaises(gf.DataTypeError):
                    net.set_progress(bad)
                with self.assertRaises(gf.DataTypeError):
                    gf.EarlyStopping(restore_best_weights=bad)

    @needs_numpy
    def test_numpy_booleans_and_0_d_arrays_are_flags(self):
        import numpy as np
        with xor_net() as net:
            net.fit(XOR_X, XOR_Y, epochs=1, batch_size=4, verbose=0, shuffle=np.bool_(False))
            net.input_grad_enabled = np.True_
            self.assertTrue(net.input_grad_enabled)
            net.input_grad_enabled = np.array(False)
            self.assertFalse(net.input_grad_enabled)
            net.set_progress(np.int64(0))
            self.assertTrue(gf.EarlyStopping(restore_best_weights=np.True_).restore_best_weights)

    @needs_numpy
    def test_a_numpy_array_as_fit_shuffle_is_data_type_error_not_numpys_value_error(self):
        import numpy as np
        with xor_net() as net:
            with self.assertRaises(gf.DataTypeError) as cm:
                net.fit(XOR_X, XOR_Y, epochs=1, verbose=0, shuffle=np.array([True, False]))
            self.assertIn("shuffle", str(cm.exception))
            self.assertEqual(net.steps, 0)

    @needs_numpy
    def test_a_numpy_array_as_any_flag_is_data_type_error(self):
        import numpy as np
        bad = np.array([True, True])
        with xor_net() as net:
            calls = [lambda: net.set_progress(bad), lambda: setattr(net, "input_grad_enabled", bad),
                     lambda: net.to_bytes(training=bad), lambda: net.evaluate(XOR_X, XOR_Y, return_dict=bad),
                     lambda: net.load_state_dict(net.state_dict(), strict=bad),
                     lambda: gf.EarlyStopping(restore_best_weights=bad), lambda: gf.Penalty(include_bias=bad),
                     lambda: gf.Loss("mse", per_step=bad), lambda: gf.Loss("mse").compute([1.0], [0.0], grad=bad)]
            with gf.Diagnostics(net) as d:
                calls += [lambda: d.enable(bad), lambda: setattr(d, "guard", bad),
                          lambda: setattr(d, "trace_origin", bad)]
                for call in calls:
                    with self.assertRaises(gf.DataTypeError):
                        call()


if __name__ == "__main__":
    unittest.main()
