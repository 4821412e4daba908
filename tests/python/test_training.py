"""Training from Python: XOR to loss < 0.01 with every input kind, fit with callbacks."""
import array
import random
import unittest

from . import _util  # noqa: F401 (puts python/ on sys.path first)
from ._util import XOR_X, XOR_Y, flat, real_numpy

import gradflow as gf


def xor_net(seed=1):
    net = gf.Net(2, seed=seed)
    net.add_dense(8, "tanh")
    net.add_dense(1, "sigmoid")
    net.set_optimizer("adam", lr=0.05)
    return net


class XorTest(unittest.TestCase):
    def test_train_step_loop_learns_xor_from_lists(self):
        with xor_net() as net:
            for _ in range(1000):
                loss = net.train_step(XOR_X, XOR_Y)
            self.assertLess(loss, 0.01)
            self.assertLess(net.evaluate(XOR_X, XOR_Y), 0.01)
            self.assertEqual([round(v) for v in flat(net.predict(XOR_X))], [0, 1, 1, 0])

    def test_flat_array_inputs_learn_xor(self):
        x = array.array("f", [v for row in XOR_X for v in row])
        y = array.array("f", [v for row in XOR_Y for v in row])
        with xor_net() as net:
            for _ in range(1000):
                loss = net.train_step(x, y)
            self.assertLess(loss, 0.01)

    @unittest.skipUnless(real_numpy is not None, "numpy not installed")
    def test_numpy_float64_inputs_learn_xor_like_lists(self):
        x = real_numpy.array(XOR_X)
        y = real_numpy.array(XOR_Y)
        with xor_net() as a, xor_net() as b:
            for _ in range(300):
                la = a.train_step(x, y)
                lb = b.train_step(XOR_X, XOR_Y)
            self.assertEqual(la, lb)

    def test_manual_forward_backward_step_equals_train_step(self):
        with xor_net(seed=4) as a, xor_net(seed=4) as b:
            for _ in range(20):
                a.forward(XOR_X)
                la = a.backward(XOR_Y)
                a.step()
                lb = b.train_step(XOR_X, XOR_Y)
                self.assertEqual(la, lb)

    def test_fit_learns_xor_with_bce_on_logits(self):
        with gf.Net(2, seed=2) as net:
            net.add_dense(8, "tanh")
            net.add_dense(1)
            net.set_loss("bce_logits")
            net.set_optimizer("adam", lr=0.05)
            loss = net.fit(XOR_X * 8, XOR_Y * 8, epochs=200, batch_size=8, verbose=0).history["loss"][-1]
            self.assertLess(loss, 0.01)
            self.assertEqual([v > 0 for v in flat(net.predict(XOR_X))], [False, True, True, False])


class FitTest(unittest.TestCase):
    def data(self, n=64):
        rng = random.Random(5)
        x = [[rng.uniform(-1, 1) for _ in range(3)] for _ in range(n)]
        y = [[r[0] - 2 * r[1] + 0.5 * r[2]] for r in x]
        return x, y

    def test_callback_sees_every_epoch_and_decreasing_loss(self):
        x, y = self.data()
        seen = []
        with gf.Net(3, seed=1) as net:
            net.add_dense(1)
            net.set_optimizer("sgd", lr=0.1)
            final = net.fit(x, y, epochs=30, batch_size=16, callback=lambda e, l: seen.append((e, l)),
                            verbose=0).history["loss"][-1]
        self.assertEqual([e for e, _ in seen], list(range(len(seen))) if seen[0][0] == 0 else list(range(1, 31)))
        self.assertEqual(len(seen), 30)
        self.assertEqual(seen[-1][1], final)
        self.assertLess(seen[-1][1], seen[0][1] / 10)

    def test_true_from_the_callback_stops_early(self):
        x, y = self.data()
        calls = []
        with gf.Net(3, seed=1) as net:
            net.add_dense(1)
            net.fit(x, y, epochs=50, batch_size=16, callback=lambda e, l: calls.append(e) or len(calls) == 3,
                    verbose=0)
            self.assertEqual(len(calls), 3)
            self.assertEqual(net.steps, 3 * 4)

    def test_exception_in_the_callback_stops_and_propagates(self):
        x, y = self.data()

        def boom(epoch, loss):
            raise KeyError("from callback")

        with gf.Net(3, seed=1) as net:
            net.add_dense(1)
            with self.assertRaisesRegex(KeyError, "from callback"):
                net.fit(x, y, epochs=10, batch_size=16, callback=boom, verbose=0)
            self.assertEqual(net.steps, 4)

    def test_input_grad_after_fit_is_that_of_the_last_mini_batch(self):
        x, y = self.data(10)
        with gf.Net(3, seed=1) as net:
            net.add_dense(4, "tanh")
            net.add_dense(1)
            net.input_grad_enabled = True
            net.fit(x, y, epochs=2, batch_size=4, verbose=0)  # batches of 4, 4, 2
            g = flat(net.input_grad())
        self.assertEqual(len(g), 2 * 3)
        self.assertTrue(any(v != 0.0 for v in g))

    def test_input_grad_after_a_full_batch_fit_equals_a_manual_backward(self):
        # Identical rows: the shuffle cannot change the batch, so the gradient is that of
        # one forward/backward at the weights before the epoch's step.
        x, y = [[0.5, -1.0, 2.0]] * 6, [[1.5]] * 6
        grads = []
        for manual in (False, True):
            with gf.Net(3, seed=4) as net:
                net.add_dense(5, "tanh")
                net.add_dense(1)
                net.input_grad_enabled = True
                if manual:
                    net.forward(x)
                    net.backward(y)
                else:
                    net.fit(x, y, epochs=1, verbose=0)
                grads.append(flat(net.input_grad()))
        self.assertEqual(grads[0], grads[1])

    def test_input_grad_after_fit_with_a_callback_is_that_of_the_last_mini_batch(self):
        x, y = self.data(10)
        with gf.Net(3, seed=1) as net:
            net.add_dense(1)
            net.input_grad_enabled = True
            net.fit(x, y, epochs=3, batch_size=3, callback=lambda e, l: e == 1, verbose=0)  # stops after the 2nd
            self.assertEqual(len(flat(net.input_grad())), 1 * 3)

    def test_non_callable_callback_is_refused(self):
        x, y = self.data(4)
        with gf.Net(3) as net:
            net.add_dense(1)
            with self.assertRaises(gf.DataTypeError):
                net.fit(x, y, callback=42)

    def test_same_seed_gives_the_same_fit(self):
        x, y = self.data()

        def run():
            with gf.Net(3, seed=9) as net:
                net.add_dense(4, "relu")
                net.add_dense(1)
                return net.fit(x, y, epochs=5, batch_size=8, verbose=0).history["loss"]
        self.assertEqual(run(), run())


if __name__ == "__main__":
    unittest.main()
