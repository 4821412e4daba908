"""numpy masked arrays as data: refused (DataTypeError) when a value is masked, since their data there is not a
value to train on; read as plain data when nothing is masked."""
import unittest

from . import _util  # noqa: F401 (puts python/ on sys.path first)
from ._util import real_numpy as np

import gradflow as gf

needs_numpy = unittest.skipUnless(np is not None, "numpy is not installed")


def regression_net():
    net = gf.Net(2, seed=3)
    net.add_dense(1)
    net.set_loss("mse")
    return net


X = [[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0]]
Y = [[1.0], [1.0], [2.0], [0.0]]


@needs_numpy
class MaskedArrayTest(unittest.TestCase):
    def test_a_masked_value_in_the_input_is_data_type_error(self):
        x = np.ma.masked_array(np.array(X, dtype=np.float32), mask=[[0, 0], [0, 1], [0, 0], [0, 0]])
        with regression_net() as net:
            with self.assertRaises(gf.DataTypeError) as cm:
                net.predict(x)
            self.assertIn("masked", str(cm.exception))

    def test_a_masked_target_stops_fit_before_any_step(self):
        y = np.ma.masked_invalid(np.array([[1.0], [np.nan], [2.0], [0.0]], dtype=np.float32))
        with regression_net() as net:
            with self.assertRaises(gf.DataTypeError):
                net.fit(X, y, epochs=1, verbose=0)
            self.assertEqual(net.steps, 0)

    def test_a_masked_array_with_nothing_masked_reads_as_its_data(self):
        x = np.ma.masked_array(np.array(X, dtype=np.float32))  # nomask
        partial = np.ma.masked_array(np.array(X, dtype=np.float32), mask=np.zeros((4, 2), dtype=bool))
        with regression_net() as net:
            want = np.asarray(net.predict(np.array(X, dtype=np.float32)))
            np.testing.assert_array_equal(np.asarray(net.predict(x)), want)
            np.testing.assert_array_equal(np.asarray(net.predict(partial)), want)


if __name__ == "__main__":
    unittest.main()
