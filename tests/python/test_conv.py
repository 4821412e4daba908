"""Conv and pooling layers from Python: construction, shapes, shape errors at add, the per-channel series, and
parity with PyTorch's nn.Conv1d/2d, nn.MaxPool1d/2d, nn.AvgPool1d/2d and global average pooling (forward, every
parameter gradient and the input gradient) for every option: stride, padding, dilation, groups, odd sizes."""
import unittest

from . import _util  # noqa: F401 (puts python/ on sys.path first)
from ._util import flat

import gradflow as gf

try:
    import torch
except ImportError:
    torch = None

try:
    import numpy as np
except ImportError:
    np = None


def _data(n, scale=1.0, mult=37, mod=17):
    return [scale * (((i * mult) % mod) / (mod / 2.0) - 1.0) for i in range(n)]


class ConvLayerTest(unittest.TestCase):
    def test_conv2d_gives_pytorch_output_shape_and_blocks(self):
        with gf.Net((3, 11, 10)) as net:
            c = net.add_conv2d(8, (3, 2), stride=2, padding=1, activation="relu", dilation=(2, 1), groups=1)
            self.assertIsInstance(c, gf.Conv2d)
            self.assertEqual(net.output_shape, (gf.ShapeKind.IMAGE, (8, 5, 6)))
            self.assertEqual(c.param_names, ["weight", "bias"])
            self.assertEqual(c.param_shape("weight"), (8, 3, 3, 2))
            self.assertEqual(c.options[gf.LayerOption.DILATION_H], 2)

    def test_conv_weights_read_in_pytorch_layout(self):
        with gf.Net((2, 6, 6)) as net:
            c = net.add_conv2d(3, 3)
            w = c.get_weights()
            if hasattr(w, "shape"):
                self.assertEqual(tuple(w.shape), (3, 2, 3, 3))  # nn.Conv2d's weight
            self.assertEqual(flat(w), flat(c.get_param("weight")))

    def test_conv1d_and_pools_chain_on_a_signal(self):
        with gf.Net((2, 31), kind="signal") as net:
            net.add_conv1d(4, 5, padding=2, activation="relu")
            net.add_maxpool1d(2)
            net.add_avgpool1d(3, stride=1)
            net.add_global_avgpool()
            self.assertEqual(net.output_shape, (gf.ShapeKind.VECTOR, (4,)))
            self.assertEqual(len(flat(net.predict([[0.5] * 62]))), 4)

    def test_a_kernel_larger_than_the_padded_input_is_a_shape_error_at_add(self):
        with gf.Net((1, 4, 4)) as net:
            with self.assertRaises(gf.ShapeError) as e:
                net.add_conv2d(2, 5)
            self.assertIn("larger than the padded input", str(e.exception))
            self.assertEqual(len(net.layers), 0)

    def test_groups_that_do_not_divide_the_channels_are_refused(self):
        with gf.Net((3, 6, 6)) as net:
            with self.assertRaises(gf.ShapeError):
                net.add_conv2d(4, 3, groups=2)

    def test_mismatched_in_channels_are_refused(self):
        with gf.Net((3, 6, 6)) as net:
            with self.assertRaises(gf.ShapeError):
                net.add(gf.Conv2d(4, 3, in_channels=1))

    def test_generic_creation_by_kind_name(self):
        with gf.Net((2, 8, 8)) as net:
            net.add_layer("conv2d", "tanh", outputs=3, kernel_h=3, kernel_w=3, pad_h=1, pad_w=1)
            net.add_layer("global_avgpool")
            self.assertEqual(net.output_shape, (gf.ShapeKind.VECTOR, (3,)))

    def test_dead_channels_are_listed(self):
        with gf.Net((1, 4, 4), seed=1) as net:
            c = net.add_conv2d(3, 1, activation="relu")
            c.set_param("weight", [1.0, 0.0, 1.0])
            c.set_param("bias", [0.5, -1.0, 0.5])
            net.add_global_avgpool()
            with gf.Diagnostics(net) as d:
                d.enable()
                net.train_step([0.25] * 16, [0.0, 0.0, 0.0])
                self.assertEqual(list(d.layer_series(0, gf.Series.DEAD_CHANNELS)), [1.0])
                self.assertEqual(list(d.layer_series(0, "channel_active_frac")), [1.0, 0.0, 1.0])
                self.assertEqual(len(d.layer_series(0, gf.Series.CHANNEL_WGRAD_NORM)), 3)


def _copy_blocks(ours, theirs):
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            p.copy_(torch.from_numpy(np.asarray(ours.get_param(name), dtype=np.float32).reshape(p.shape)))


@unittest.skipIf(torch is None or np is None, "python3-torch is not installed: PyTorch parity skipped")
class TorchParityTest(unittest.TestCase):
    """Each case: a layer under test between the input and a flatten + linear head, blocks copied by name."""

    def _compare(self, dims, kind, build, torch_layers, n=3):
        tail = torch.nn.Sequential(*torch_layers)
        with gf.Net(dims, seed=4, kind=kind) as net:
            net.input_grad_enabled = True
            ours = build(net)
            shape = net.output_shape[1]
            if len(shape) > 1:
                net.add_flatten()
            width = 1
            for d in shape:
                width *= d
            head = net.add_dense(2)
            tm = torch.nn.Sequential(tail, torch.nn.Flatten(), torch.nn.Linear(width, 2))
            for a, b in zip(ours, [m for m in tail if list(m.parameters())]):
                _copy_blocks(a, b)
            _copy_blocks(head, tm[2])
            size = 1
            for d in dims:
                size *= d
            # Distinct values spaced wider than float noise, so max pooling picks the same winner.
            x = np.asarray(_data(n * size, 1.0, 7919, 10007), dtype=np.float32).reshape((n,) + tuple(dims))
            t = np.asarray(_data(n * 2, 0.5), dtype=np.float32).reshape(n, 2)
            y = net.forward(x)
            net.backward(t)
            xt = torch.from_numpy(x).requires_grad_()
            loss = torch.nn.functional.mse_loss(tm(xt), torch.from_numpy(t))
            loss.backward()
            np.testing.assert_allclose(np.asarray(y).reshape(n, 2), tm(xt).detach().numpy(), rtol=1e-4, atol=1e-5)
            for a, b in zip(ours + [head], [m for m in tail if list(m.parameters())] + [tm[2]]):
                for name, p in b.named_parameters():
                    np.testing.assert_allclose(np.asarray(a.get_param_grad(name)).reshape(p.shape), p.grad.numpy(),
                                               rtol=1e-3, atol=1e-5, err_msg=name)
            np.testing.assert_allclose(np.asarray(net.input_grad()).reshape(x.shape), xt.grad.numpy(), rtol=1e-3,
                                       atol=1e-5)

    def test_conv2d_with_stride_and_padding_on_odd_sizes(self):
        self._compare((3, 9, 7), "image", lambda n: [n.add_conv2d(4, 3, stride=2, padding=1, activation="tanh")],
                      [torch.nn.Conv2d(3, 4, 3, stride=2, padding=1), torch.nn.Tanh()])

    def test_conv2d_with_dilation_and_rectangular_kernel(self):
        self._compare((2, 10, 9), "image",
                      lambda n: [n.add_conv2d(3, (2, 3), stride=(1, 2), padding=(0, 2), dilation=(3, 2),
                                              activation="sigmoid")],
                      [torch.nn.Conv2d(2, 3, (2, 3), stride=(1, 2), padding=(0, 2), dilation=(3, 2)),
                       torch.nn.Sigmoid()])

    def test_conv2d_with_row_stride_column_dilation_and_padding(self):
        # Column stride 1 with a row stride, column dilation and padding: the path that copies every sample's rows
        # of a tap in one call and adds col2im's rows per tap.
        self._compare((3, 11, 7), "image",
                      lambda n: [n.add_conv2d(4, (3, 3), stride=(2, 1), padding=(1, 2), dilation=(1, 2),
                                              activation="elu")],
                      [torch.nn.Conv2d(3, 4, (3, 3), stride=(2, 1), padding=(1, 2), dilation=(1, 2)),
                       torch.nn.ELU()])

    def test_conv2d_with_groups_and_depthwise(self):
        self._compare((4, 6, 6), "image",
                      lambda n: [n.add_conv2d(6, 3, padding=1, groups=2, activation="tanh"),
                                 n.add_conv2d(6, 3, groups=6)],
                      [torch.nn.Conv2d(4, 6, 3, padding=1, groups=2), torch.nn.Tanh(),
                       torch.nn.Conv2d(6, 6, 3, groups=6)])

    def test_conv1d_with_every_option(self):
        self._compare((4, 17), "signal",
                      lambda n: [n.add_conv1d(6, 3, stride=2, padding=2, dilation=2, groups=2, activation="tanh")],
                      [torch.nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2), torch.nn.Tanh()])

    def test_max_and_average_pooling_2d(self):
        self._compare((2, 9, 8), "image",
                      lambda n: [n.add_maxpool2d(3, stride=2, padding=1), n.add_avgpool2d((2, 3), stride=1,
                                                                                         padding=(1, 1))] and [],
                      [torch.nn.MaxPool2d(3, stride=2, padding=1),
                       torch.nn.AvgPool2d((2, 3), stride=1, padding=(1, 1))])

    def test_max_and_average_pooling_1d(self):
        self._compare((3, 20), "signal", lambda n: [n.add_maxpool1d(3, padding=1), n.add_avgpool1d(2)] and [],
                      [torch.nn.MaxPool1d(3, padding=1), torch.nn.AvgPool1d(2)])

    def test_state_dict_loads_into_the_equivalent_torch_sequential(self):
        with gf.Net((1, 8, 8), seed=3) as net:
            net.add_conv2d(4, 3, padding=1, activation="relu")
            net.add_maxpool2d(2)
            net.add_conv2d(6, 3, activation="tanh")
            net.add_global_avgpool()
            net.add_dense(3)
            tm = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                                     torch.nn.Conv2d(4, 6, 3), torch.nn.Tanh(), torch.nn.AdaptiveAvgPool2d(1),
                                     torch.nn.Flatten(), torch.nn.Linear(6, 3))
            state = {k: torch.from_numpy(np.asarray(v, dtype=np.float32)).reshape(tm.state_dict()[k].shape)
                     for k, v in net.state_dict().items()}
            tm.load_state_dict(state)  # strict: the same keys and shapes
            x = np.asarray(_data(2 * 64, 1.0, 7919, 10007), dtype=np.float32).reshape(2, 1, 8, 8)
            np.testing.assert_allclose(np.asarray(net.predict(x)).reshape(2, 3), tm(torch.from_numpy(x)).detach().numpy(),
                                       rtol=1e-4, atol=1e-5)

    def test_small_cnn_with_relu_pooling_and_global_average(self):
        def build(n):
            a = n.add_conv2d(4, 3, padding=1, activation="relu")
            n.add_maxpool2d(2)
            b = n.add_conv2d(5, 3, activation="relu")
            n.add_global_avgpool()
            return [a, b]
        self._compare((1, 10, 10), "image", build,
                      [torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
                       torch.nn.Conv2d(4, 5, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1)])


if __name__ == "__main__":
    unittest.main()
