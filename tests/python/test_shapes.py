"""Shaped nets from Python: creation and shape readers, generic layers with keyed options, parameter blocks by
name, the per-time-step series, and parity with PyTorch's nn.Linear on a batch_first sequence and nn.Flatten."""
import unittest

from . import _util  # noqa: F401 (puts python/ on sys.path first)
from ._util import check_output_type, flat

import gradflow as gf

try:
    import torch
except ImportError:
    torch = None


def _data(n, scale=1.0):
    return [scale * (((i * 37) % 17) / 8.0 - 1.0) for i in range(n)]


class ShapedNetTest(unittest.TestCase):
    def test_sequence_net_reports_its_shapes(self):
        with gf.Net((5, 3), seed=1, kind="sequence") as net:
            self.assertEqual(net.input_shape, (gf.ShapeKind.SEQUENCE, (5, 3)))
            self.assertEqual(net.inputs, 15)
            net.add_dense(4, "tanh")
            self.assertEqual(net.output_shape, (gf.ShapeKind.SEQUENCE, (5, 4)))

    def test_plain_net_is_a_vector_net(self):
        with gf.Net(6) as net:
            self.assertEqual(net.input_shape, (gf.ShapeKind.VECTOR, (6,)))

    def test_rank_three_dims_default_to_an_image(self):
        with gf.Net((3, 4, 4)) as net:
            self.assertEqual(net.input_shape[0], gf.ShapeKind.IMAGE)

    def test_rank_two_dims_need_a_kind(self):
        with self.assertRaises(gf.InvalidArgumentError):
            gf.Net((4, 4))

    def test_rank_that_does_not_fit_the_kind_is_a_shape_error(self):
        with self.assertRaises(gf.ShapeError):
            gf.Net((4, 4), kind="image")

    def test_dense_after_an_image_is_refused_when_added(self):
        with gf.Net((3, 4, 4)) as net:
            with self.assertRaises(gf.ShapeError) as cm:
                net.add_dense(4, "relu")
            self.assertIn("layer 0 (dense)", str(cm.exception))
            self.assertIn("IMAGE(3 x 4 x 4)", str(cm.exception))
            self.assertEqual(len(net), 0)

    def test_predict_returns_samples_in_their_shape(self):
        with gf.Net((4, 2), kind="sequence") as net:
            net.add_dense(3, "tanh")
            out = net.predict([_data(8), _data(8, 0.5)])
            check_output_type(self, out, (2, 4, 3))

    def test_flatten_makes_a_vector_and_has_no_parameters(self):
        with gf.Net((2, 3, 3)) as net:
            f = net.add_flatten()
            self.assertIsInstance(f, gf.Flatten)
            self.assertEqual(f.output_shape, (gf.ShapeKind.VECTOR, (18,)))
            self.assertEqual(f.param_names, [])
            x = _data(36)
            self.assertEqual(flat(net.predict([x[:18], x[18:]])), [float(v) for v in _import_floats(x)])


def _import_floats(values):
    import array
    return array.array("f", values).tolist()


class GenericLayerTest(unittest.TestCase):
    def test_options_are_set_by_name_and_read_back(self):
        with gf.Layer.create("dense", "relu", outputs=7) as layer:
            self.assertIsInstance(layer, gf.Dense)
            self.assertEqual(layer.get_option("outputs"), 7)
            self.assertEqual(layer.get_option(gf.LayerOption.INPUTS), 0)

    def test_options_lists_every_key_the_kind_takes(self):
        with gf.Layer.create("dense", outputs=4) as layer:
            self.assertEqual(layer.options, {gf.LayerOption.OUTPUTS: 4, gf.LayerOption.INPUTS: 0})
        with gf.Flatten() as layer:
            self.assertEqual(layer.options, {})

    def test_an_option_the_kind_does_not_take_is_refused(self):
        with gf.Layer.create("flatten") as layer:
            with self.assertRaises(gf.InvalidArgumentError):
                layer.set_option("outputs", 3)

    def test_a_generic_layer_has_no_shape_until_added(self):
        with gf.Layer.create("dense", outputs=2) as layer:
            with self.assertRaises(gf.StateError):
                layer.output_shape

    def test_add_layer_infers_sizes_from_the_incoming_shape(self):
        with gf.Net((6, 5), kind="sequence") as net:
            layer = net.add_layer("dense", "tanh", outputs=3)
            self.assertEqual(layer.param_shape("weight"), (3, 5))
            self.assertEqual(layer.output_shape, (gf.ShapeKind.SEQUENCE, (6, 3)))

    def test_explicit_inputs_that_do_not_match_are_refused(self):
        with gf.Net(4) as net:
            with self.assertRaises(gf.ShapeError):
                net.add_layer("dense", outputs=2, inputs=5)
            self.assertEqual(len(net), 0)


class ParamBlockTest(unittest.TestCase):
    def test_blocks_have_pytorch_names_and_shapes(self):
        with gf.Net(3) as net:
            layer = net.add_dense(2)
            self.assertEqual(layer.param_names, ["weight", "bias"])
            check_output_type(self, layer.get_param("weight"), (2, 3))
            check_output_type(self, layer.get_param("bias"), (2,))

    def test_a_block_set_by_name_reads_back(self):
        with gf.Net(3) as net:
            layer = net.add_dense(2)
            layer.set_param("weight", [[1, 2, 3], [4, 5, 6]])
            self.assertEqual(flat(layer.get_param(0)), [1, 2, 3, 4, 5, 6])
            self.assertEqual(flat(layer.weights), [1, 2, 3, 4, 5, 6])

    # A (3, 4) array for a (4, 3) weight has the right count: only its shape tells it is transposed.
    _W = [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    _WT = [[0, 3, 6, 9], [1, 4, 7, 10], [2, 5, 8, 11]]

    def test_set_weights_refuses_a_transposed_array(self):
        with gf.Net(3) as net:
            layer = net.add_dense(4)
            before = flat(layer.weights)
            with self.assertRaises(gf.ShapeError):
                layer.set_weights(self._WT)
            self.assertEqual(flat(layer.weights), before)

    def test_the_weights_property_refuses_a_transposed_array(self):
        with gf.Net(3) as net:
            layer = net.add_dense(4)
            with self.assertRaises(gf.ShapeError):
                layer.weights = self._WT

    def test_set_param_refuses_a_transposed_array(self):
        with gf.Net(3) as net:
            layer = net.add_dense(4)
            with self.assertRaises(gf.ShapeError):
                layer.set_param("weight", self._WT)

    def test_set_bias_refuses_a_two_dimensional_array(self):
        with gf.Net(3) as net:
            layer = net.add_dense(4)
            with self.assertRaises(gf.ShapeError):
                layer.set_bias([[1, 2], [3, 4]])

    def test_weights_of_the_blocks_shape_or_flat_are_taken(self):
        with gf.Net(3) as net:
            layer = net.add_dense(4)
            layer.set_weights(self._W)
            self.assertEqual(flat(layer.weights), list(range(12)))
            layer.set_param("weight", [float(11 - i) for i in range(12)])
            self.assertEqual(flat(layer.get_param("weight")), [float(11 - i) for i in range(12)])

    def test_an_unknown_block_name_is_a_range_error(self):
        with gf.Net(3) as net:
            layer = net.add_dense(2)
            with self.assertRaises(gf.RangeError):
                layer.get_param("weight_hh_l0")

    def test_dense_on_a_sequence_keeps_its_weights_out_by_in(self):
        with gf.Net((7, 3), kind="sequence") as net:
            layer = net.add_dense(2)
            check_output_type(self, layer.weights, (2, 3))

    def test_block_gradient_is_the_weight_gradient(self):
        with gf.Net(3) as net:
            layer = net.add_dense(2, "sigmoid")
            net.forward([[1, 2, 3]])
            net.backward([[0, 1]])
            self.assertEqual(flat(layer.get_param_grad("weight")), flat(layer.weight_grad))


class SeriesTest(unittest.TestCase):
    def test_time_series_has_one_norm_per_step(self):
        with gf.Net((4, 2), kind="sequence") as net, gf.Diagnostics(net) as d:
            net.add_dense(3, "tanh")
            d.enable()
            net.train_step([_data(8)], [_data(12, 0.3)])
            s = d.layer_series(0, "delta_time_norm")
            self.assertEqual(len(s), 4)
            self.assertTrue(all(v > 0 for v in s))

    def test_a_layer_without_the_series_is_a_range_error(self):
        with gf.Net(4) as net, gf.Diagnostics(net) as d:
            net.add_dense(3, "tanh")
            d.enable()
            net.train_step([_data(4)], [_data(3)])
            with self.assertRaises(gf.RangeError):
                d.layer_series(0)


@unittest.skipIf(torch is None, "python3-torch is not installed: PyTorch parity skipped")
class TorchParityTest(unittest.TestCase):
    """nn.Linear on (N, T, F) then nn.Flatten then nn.Linear, weights copied by block name."""

    def test_forward_and_every_gradient_match_pytorch(self):
        import numpy as np
        N, T, F, H, O = 3, 5, 4, 6, 2
        with gf.Net((T, F), seed=2, kind="sequence") as net:
            net.input_grad_enabled = True
            l0 = net.add_dense(H, "tanh")
            net.add_flatten()
            l2 = net.add_dense(O)
            tm = torch.nn.Sequential(torch.nn.Linear(F, H), torch.nn.Tanh(), torch.nn.Flatten(),
                                     torch.nn.Linear(T * H, O))
            with torch.no_grad():
                for ours, theirs in ((l0, tm[0]), (l2, tm[3])):
                    for name, p in theirs.named_parameters():
                        p.copy_(torch.from_numpy(np.asarray(ours.get_param(name), dtype=np.float32).reshape(
                            ours.param_shape(name))))
            x = np.asarray(_data(N * T * F), dtype=np.float32).reshape(N, T, F)
            t = np.asarray(_data(N * O, 0.5), dtype=np.float32).reshape(N, O)
            y = net.forward(x)
            net.backward(t)
            xt = torch.from_numpy(x).requires_grad_()
            yt = tm(xt)
            loss = torch.nn.functional.mse_loss(yt, torch.from_numpy(t))
            loss.backward()
            np.testing.assert_allclose(np.asarray(y).reshape(N, O), yt.detach().numpy(), rtol=1e-5, atol=1e-6)
            for ours, theirs in ((l0, tm[0]), (l2, tm[3])):
                for name, p in theirs.named_parameters():
                    np.testing.assert_allclose(np.asarray(ours.get_param_grad(name)).reshape(p.shape), p.grad.numpy(),
                                               rtol=1e-4, atol=1e-6, err_msg=name)
            np.testing.assert_allclose(np.asarray(net.input_grad()).reshape(N, T, F), xt.grad.numpy(), rtol=1e-4,
                                       atol=1e-6)


if __name__ == "__main__":
    unittest.main()
