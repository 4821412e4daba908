"""RNN, LSTM and GRU from Python: the layer classes and adders, the state readers, the time profile as numpy
arrays, and parity with PyTorch's nn.RNN / nn.LSTM / nn.GRU (outputs and every gradient: blocks by name, the
input and the initial state), with weights copied by block name."""
import unittest

from . import _util  # noqa: F401 (puts python/ on sys.path first)
from ._util import flat

import gradflow as gf

try:
    import numpy as np
except ImportError:
    np = None
try:
    import torch
except ImportError:
    torch = None


def _data(n, scale=1.0):
    return [scale * (((i * 37) % 17) / 8.0 - 1.0) for i in range(n)]


class RecurrentLayerTest(unittest.TestCase):
    def test_adders_give_the_kind_and_pytorch_block_names(self):
        with gf.Net((6, 3), kind="sequence") as net:
            for add, cls, gates in ((net.add_rnn, gf.RNN, 1), (net.add_lstm, gf.LSTM, 4), (net.add_gru, gf.GRU, 3)):
                with gf.Net((6, 3), kind="sequence") as n2:
                    layer = getattr(n2, add.__name__)(5)
                    self.assertIsInstance(layer, cls)
                    self.assertEqual(layer.param_names, ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"])
                    self.assertEqual(layer.param_shape("weight_hh_l0"), (gates * 5, 5))
                    self.assertEqual(layer.output_shape, (gf.ShapeKind.VECTOR, (5,)))

    def test_return_sequences_gives_a_sequence(self):
        with gf.Net((6, 3), kind="sequence") as net:
            layer = net.add_gru(4, return_sequences=True)
            self.assertEqual(layer.output_shape, (gf.ShapeKind.SEQUENCE, (6, 4)))
            dense = net.add_dense(2)
            self.assertEqual(dense.output_shape, (gf.ShapeKind.SEQUENCE, (6, 2)))

    def test_a_recurrent_layer_on_a_vector_is_refused(self):
        with gf.Net(4) as net:
            with self.assertRaises(gf.ShapeError) as cm:
                net.add_lstm(3)
            self.assertIn("expects SEQUENCE", str(cm.exception))

    def test_state_readers_need_a_pass(self):
        with gf.Net((4, 2), kind="sequence") as net:
            layer = net.add_rnn(3)
            with self.assertRaises(gf.StateError):
                layer.final_state()

    def test_lstm_state_is_h_then_c(self):
        with gf.Net((4, 2), kind="sequence") as net:
            layer = net.add_lstm(3)
            self.assertEqual(layer.state_size, 6)
            net.predict([_data(8), _data(8, 0.5)])
            s = layer.final_state()
            if gf.HAVE_NUMPY:
                self.assertEqual(s.shape, (2, 2, 3))
            else:
                self.assertEqual(len(s), 12)

    def test_an_lstm_initial_state_not_shaped_2_batch_hidden_is_refused(self):
        with gf.Net((5, 2), seed=1, kind="sequence") as net:
            layer = net.add_lstm(3)
            with self.assertRaises(gf.ShapeError):
                layer.set_initial_state([[0.0] * 6 for _ in range(4)])  # (4, 6): 24 values, as (2, 4, 3) has
            layer.set_initial_state([[[0.0] * 3] * 4] * 2)             # (2, 4, 3)
            layer.set_initial_state([0.0] * 24)                         # flat in that order

    def test_a_gru_initial_state_with_rows_of_another_width_is_refused(self):
        with gf.Net((5, 2), seed=1, kind="sequence") as net:
            layer = net.add_gru(3)
            with self.assertRaises(gf.ShapeError):
                layer.set_initial_state([[0.0] * 2 for _ in range(3)])  # (3, 2): 6 values, as (2, 3) has
            layer.set_initial_state([[0.0] * 3 for _ in range(2)])      # (batch, H)

    def test_lengths_that_are_no_sequence_are_a_data_type_error(self):
        with gf.Net((4, 2), kind="sequence") as net:
            layer = net.add_gru(3)
            for bad in (3, 2.5, object()):
                with self.subTest(bad=bad):
                    with self.assertRaisesRegex(gf.DataTypeError, "lengths must be a sequence"):
                        layer.set_lengths(bad)
            layer.set_lengths([4, 2])

    def test_an_initial_state_of_another_batch_is_refused_at_the_pass(self):
        with gf.Net((4, 2), kind="sequence") as net:
            layer = net.add_gru(3)
            layer.set_initial_state([0.1] * 6)
            with self.assertRaises(gf.ShapeError):
                net.predict([_data(8), _data(8), _data(8)])
            layer.set_initial_state(None)
            net.predict([_data(8), _data(8), _data(8)])


class RecurrentModelFileTest(unittest.TestCase):
    def test_a_recurrent_net_round_trips_through_bytes(self):
        with gf.Net((6, 2), kind="sequence", seed=5) as net:
            net.add_rnn(3, "relu", return_sequences=True)
            net.add_lstm(3, return_sequences=True, truncate=2, forget_bias=2.0)
            net.add_gru(2)
            net.add_dense(1)
            x = [_data(12), _data(12, 0.5)]
            with gf.Net.from_bytes(net.to_bytes()) as copy:
                self.assertEqual(flat(copy.predict(x)), flat(net.predict(x)))
                self.assertEqual(copy[1].get_option("forget_bias"), 2.0)
                self.assertEqual(copy[1].get_option("truncate"), 2)
                self.assertIsInstance(copy[2], gf.GRU)


@unittest.skipIf(not gf.HAVE_NUMPY, "numpy is not available to the binding: time profile arrays skipped")
class TimeProfileTest(unittest.TestCase):
    def test_time_profile_has_a_norm_per_state_and_the_gate_series(self):
        with gf.Net((10, 2), kind="sequence") as net, gf.Diagnostics(net) as d:
            net.add_lstm(4)
            net.add_dense(1)
            d.enable()
            net.train_step([_data(20), _data(20, 0.5)], [[0.5], [-0.5]])
            p = d.time_profile(0)
            self.assertEqual(p.grad_norm.shape, (11,))
            self.assertEqual(p.forget_gate_mean.shape, (10,))
            self.assertTrue(np.all(p.grad_norm > 0))
            self.assertTrue(0 < p.rate)
            self.assertTrue(p.sigma > 0)
            self.assertTrue(np.isnan(p.bound))

    def test_a_dense_layer_has_no_time_profile(self):
        with gf.Net(4) as net, gf.Diagnostics(net) as d:
            net.add_dense(3, "tanh")
            d.enable()
            net.train_step([_data(4)], [_data(3)])
            with self.assertRaises(gf.RangeError):
                d.time_profile(0)


class PerStepLossTest(unittest.TestCase):
    """Loss(per_step=True): on a sequence output every time step is a row of the loss and of the metrics."""

    T, F, C = 4, 3, 5

    def _net(self, per_step=True, kind="softmax_ce_labels"):
        net = gf.Net((self.T, self.F), seed=2, kind="sequence")
        net.add_gru(6, return_sequences=True)
        net.add_dense(self.C)
        net.set_loss(kind, per_step=per_step)
        return net

    def test_per_step_round_trips_through_the_loss_object(self):
        with gf.Loss("softmax_ce", per_step=True) as loss:
            self.assertTrue(loss.per_step)
            loss.per_step = False
            self.assertFalse(loss.per_step)

    def test_set_loss_refuses_per_step_beside_a_loss_object(self):
        with self._net() as net, gf.Loss("softmax_ce_labels") as loss:
            with self.assertRaises(gf.InvalidArgumentError):
                net.set_loss(loss, per_step=True)

    def test_per_step_other_than_a_boolean_is_refused(self):
        with gf.Loss("softmax_ce") as loss:
            with self.assertRaises(gf.InvalidArgumentError):
                loss.per_step = 2

    def test_a_per_step_net_takes_a_label_per_step(self):
        with self._net() as net:
            self.assertEqual(net.target_size, self.T)
            x = [_data(self.T * self.F), _data(self.T * self.F, 0.5)]
            self.assertGreater(net.train_step(x, [[1, 0, 4, 2], [3, 3, 0, 1]]), 0.0)

    def test_a_per_step_net_refuses_one_label_per_sample(self):
        with self._net() as net:
            with self.assertRaises(gf.ShapeError):
                net.train_step([_data(self.T * self.F)], [[1]])

    def test_fit_with_a_per_step_loss_scores_every_step_of_the_validation_data(self):
        xs = [[[((n * self.T + t) * 7 % 11) / 5.0 - 1.0, ((n + t) % 3) - 1.0, 0.5] for t in range(self.T)]
              for n in range(24)]
        labels = [[int(s[0] > 0) + 2 * int(s[1] > 0) for s in sample] for sample in xs]
        with self._net() as net:
            net.set_optimizer("adam", lr=0.02)
            net.add_metric("accuracy")
            hist = net.fit(xs[:16], labels[:16], epochs=30, batch_size=8, verbose=0,
                           validation_data=(xs[16:], labels[16:]))
            loss, acc = net.evaluate(xs[16:], labels[16:])
            self.assertAlmostEqual(hist.history["val_loss"][-1], loss, places=5)
            self.assertAlmostEqual(hist.history["val_accuracy"][-1], acc, places=9)
            self.assertLess(hist.history["loss"][-1], hist.history["loss"][0])

    def test_without_per_step_a_sample_takes_one_label(self):
        with self._net(per_step=False) as net:
            self.assertEqual(net.target_size, 1)
            self.assertGreater(net.train_step([_data(self.T * self.F)], [[7]]), 0.0)


def _copy_blocks(ours, theirs):
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.from_numpy(np.asarray(ours.get_param(name), dtype=np.float32).reshape(p.shape)))


@unittest.skipIf(torch is None or not gf.HAVE_NUMPY, "python3-torch (or numpy) is not available: PyTorch parity skipped")
class TorchParityTest(unittest.TestCase):
    """Ours against nn.RNN / nn.LSTM / nn.GRU (batch_first) then nn.Linear on the last step or on every step, with
    a given initial state: outputs, every block's gradient, the input's and the initial state's."""

    N, T, F, H, O = 3, 25, 4, 6, 2

    def _run(self, kind, seq, truncate=0, activation="tanh", lengths=None):
        N, T, F, H, O = self.N, self.T, self.F, self.H, self.O
        with gf.Net((T, F), seed=4, kind="sequence") as net:
            net.input_grad_enabled = True
            if kind == "rnn":
                rec = net.add_rnn(H, activation, return_sequences=seq, truncate=truncate)
                tm = torch.nn.RNN(F, H, batch_first=True, nonlinearity=activation)
            elif kind == "lstm":
                rec = net.add_lstm(H, return_sequences=seq, truncate=truncate)
                tm = torch.nn.LSTM(F, H, batch_first=True)
            else:
                rec = net.add_gru(H, return_sequences=seq, truncate=truncate)
                tm = torch.nn.GRU(F, H, batch_first=True)
            dense = net.add_dense(O)
            lin = torch.nn.Linear(H, O)
            _copy_blocks(rec, tm)
            _copy_blocks(dense, lin)
            rng = np.random.default_rng(7)
            x = rng.uniform(-1, 1, (N, T, F)).astype(np.float32)
            s0 = rng.uniform(-0.5, 0.5, (2, N, H) if kind == "lstm" else (N, H)).astype(np.float32)
            t = rng.uniform(-1, 1, (N, T, O) if seq else (N, O)).astype(np.float32)
            rec.set_initial_state(s0)
            if lengths is not None:
                rec.set_lengths(lengths)
            y = np.asarray(net.forward(x))
            net.backward(t)

            xt = torch.from_numpy(x).requires_grad_()
            st = [torch.from_numpy(s0[i:i + 1] if kind == "lstm" else s0[None]).clone().requires_grad_()
                  for i in range(2 if kind == "lstm" else 1)]
            if lengths is None:
                yt = self._torch_forward(tm, xt, st, kind, truncate)
                last = yt[:, -1]
            else:
                packed = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=True,
                                                                 enforce_sorted=False)
                po, hn = tm(packed, (st[0], st[1]) if kind == "lstm" else st[0])
                yt, _ = torch.nn.utils.rnn.pad_packed_sequence(po, batch_first=True, total_length=T)
                last = (hn[0] if kind == "lstm" else hn)[0]
            out = lin(yt if seq else last)
            loss = torch.nn.functional.mse_loss(out, torch.from_numpy(t))
            loss.backward()
            np.testing.assert_allclose(y.reshape(out.shape), out.detach().numpy(), rtol=1e-4, atol=2e-6)
            for ours, theirs in ((rec, tm), (dense, lin)):
                for name, p in theirs.named_parameters():
                    np.testing.assert_allclose(np.asarray(ours.get_param_grad(name)).reshape(p.shape),
                                               p.grad.numpy(), rtol=2e-3, atol=2e-6, err_msg="%s %s" % (kind, name))
            np.testing.assert_allclose(np.asarray(net.input_grad()).reshape(N, T, F), xt.grad.numpy(), rtol=2e-3,
                                       atol=2e-6, err_msg=kind + " input")
            theirs = np.concatenate([s.grad.numpy()[0] for s in st]) if kind == "lstm" else st[0].grad.numpy()[0]
            ours = np.asarray(rec.initial_state_grad()).reshape(theirs.shape)
            np.testing.assert_allclose(ours, theirs, rtol=2e-3, atol=2e-6, err_msg=kind + " initial state")

    @staticmethod
    def _torch_forward(tm, xt, st, kind, truncate):
        """The sequence in chunks of `truncate` steps counted from the end, the state detached between chunks."""
        T = xt.shape[1]
        bounds = [0] + ([b for b in range(T - truncate, 0, -truncate)][::-1] if truncate else []) + [T]
        state = st[0] if kind != "lstm" else (st[0], st[1])
        outs = []
        for a, b in zip(bounds[:-1], bounds[1:]):
            if a > 0:
                state = tuple(s.detach() for s in state) if kind == "lstm" else state.detach()
            o, state = tm(xt[:, a:b], state)
            outs.append(o)
        return torch.cat(outs, dim=1)

    def test_rnn_matches_pytorch(self):
        self._run("rnn", seq=False)
        self._run("rnn", seq=True)

    def test_rnn_with_relu_matches_pytorch(self):
        self._run("rnn", seq=True, activation="relu")

    def test_lstm_matches_pytorch(self):
        self._run("lstm", seq=False)
        self._run("lstm", seq=True)

    def test_gru_matches_pytorch(self):
        self._run("gru", seq=False)
        self._run("gru", seq=True)

    def test_variable_lengths_match_pytorch_packed_sequences(self):
        lengths = [25, 9, 17]
        for kind in ("rnn", "lstm", "gru"):
            self._run(kind, seq=False, lengths=lengths)
            self._run(kind, seq=True, lengths=lengths)

    def test_truncated_bptt_matches_pytorch_with_detached_chunks(self):
        for kind in ("rnn", "lstm", "gru"):
            self._run(kind, seq=True, truncate=7)

    def test_per_step_cross_entropy_matches_pytorch_on_every_step(self):
        # nn.CrossEntropyLoss on the (N*T, C) logits of a GRU + Linear over every step (the same as on (N, C, T)):
        # the loss, every block's gradient and the input's.
        N, T, F, H, C = 3, 7, 4, 5, 6
        with gf.Net((T, F), seed=9, kind="sequence") as net:
            net.input_grad_enabled = True
            rec = net.add_gru(H, return_sequences=True)
            dense = net.add_dense(C)
            net.set_loss("softmax_ce_labels", per_step=True)
            tm, lin = torch.nn.GRU(F, H, batch_first=True), torch.nn.Linear(H, C)
            _copy_blocks(rec, tm)
            _copy_blocks(dense, lin)
            rng = np.random.default_rng(3)
            x = rng.uniform(-1, 1, (N, T, F)).astype(np.float32)
            labels = rng.integers(0, C, (N, T))
            net.forward(x)
            ours = net.backward(labels.astype(np.float32))
            xt = torch.from_numpy(x).requires_grad_()
            out = lin(tm(xt)[0])
            loss = torch.nn.functional.cross_entropy(out.reshape(N * T, C), torch.from_numpy(labels).reshape(-1))
            loss.backward()
            self.assertAlmostEqual(ours, loss.item(), delta=1e-5 * abs(loss.item()))
            for mine, theirs in ((rec, tm), (dense, lin)):
                for name, p in theirs.named_parameters():
                    np.testing.assert_allclose(np.asarray(mine.get_param_grad(name)).reshape(p.shape),
                                               p.grad.numpy(), rtol=2e-3, atol=2e-6, err_msg=name)
            np.testing.assert_allclose(np.asarray(net.input_grad()).reshape(N, T, F), xt.grad.numpy(), rtol=2e-3,
                                       atol=2e-6)

    def test_initializer_bounds_of_every_block_follow_torch_init_fans(self):
        # He uniform on a block is U(-l, l), l = sqrt(2) sqrt(3 / fan_in) with fan_in what torch.nn.init computes
        # for that tensor (weight_ih_l0: the input features); the default is nn.GRU/nn.LSTM's U(-1/sqrt(H), ..).
        from torch.nn.init import _calculate_fan_in_and_fan_out as fans
        F, H = 200, 20
        for kind, module in (("lstm", torch.nn.LSTM(F, H)), ("gru", torch.nn.GRU(F, H))):
            for init, bound in (("he_uniform", lambda p: (6.0 / fans(p)[0]) ** 0.5),
                                ("default", lambda p: H ** -0.5)):
                with gf.Net((2, F), seed=3, kind="sequence") as net:
                    layer = net.add_lstm(H) if kind == "lstm" else net.add_gru(H)
                    layer.set_weight_init(init)
                    for name in ("weight_ih_l0", "weight_hh_l0"):
                        w = np.abs(np.asarray(layer.get_param(name), dtype=np.float64))
                        want = bound(getattr(module, name))
                        self.assertLessEqual(w.max(), want * (1 + 1e-6), "%s %s %s" % (kind, init, name))
                        self.assertGreater(w.max(), want * 0.99, "%s %s %s" % (kind, init, name))


if __name__ == "__main__":
    unittest.main()
