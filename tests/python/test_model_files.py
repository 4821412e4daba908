"""Model files from Python: save/load, to_bytes/from_bytes, pickling, model_info, state_dict() with PyTorch's
names, and the round trip through torch.nn.Sequential (skipped with a message where torch is missing)."""
import copy
import os
import pickle
import tempfile
import unittest

from . import _util  # noqa: F401 (puts python/ on sys.path first)
from ._util import flat, live, real_numpy

import gradflow as gf

try:
    import torch
except ImportError:  # the parity tests say why they skip
    torch = None

X = [[0.1 * i - 0.3 * j for j in range(3)] for i in range(8)]
T = [[0.5 * ((i + j) % 3) - 0.4 for j in range(2)] for i in range(8)]


def trained(optimizer="adam", steps=20, seed=3):
    net = gf.Net(3, seed=seed)
    net.add_dense(5, "tanh")
    net.add_dense(4, "relu")
    net.add_dense(2)
    net.set_optimizer(optimizer, lr=0.01)
    for _ in range(steps):
        net.train_step(X, T)
    return net


class SaveLoadTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.tmp.name, "net.gfm")

    def tearDown(self):
        self.tmp.cleanup()

    def test_save_and_load_give_identical_predictions(self):
        with trained() as net:
            net.save(self.path)
            with gf.Net.load(self.path) as back:
                self.assertEqual(flat(back.predict(X)), flat(net.predict(X)))

    def test_load_accepts_a_path_object(self):
        import pathlib
        with trained() as net:
            net.save(pathlib.Path(self.path))
            with gf.Net.load(pathlib.Path(self.path)) as back:
                self.assertEqual(back.param_count, net.param_count)

    def test_training_resumes_bit_exactly_after_a_round_trip(self):
        with trained("rmsprop") as a, trained("rmsprop") as b:
            with gf.Net.from_bytes(b.to_bytes()) as c:
                for _ in range(30):
                    a.train_step(X, T)
                    c.train_step(X, T)
                self.assertEqual(c.steps, 50)
                self.assertEqual(flat(a.predict(X)), flat(c.predict(X)))

    def test_without_training_state_the_optimizer_starts_afresh(self):
        with trained() as net, gf.Net.from_bytes(net.to_bytes(training=False)) as back:
            self.assertEqual(back.steps, 0)
            self.assertEqual(back.optimizer.steps, 0)
            self.assertEqual(back.optimizer.kind, gf.OptimizerKind.ADAM)
            self.assertLess(len(net.to_bytes(training=False)), len(net.to_bytes()))

    def test_a_loaded_net_knows_its_loss(self):
        with gf.Net(3) as net:
            net.add_dense(4)
            net.set_loss("softmax_ce_labels")
            with gf.Net.from_bytes(net.to_bytes()) as back:
                self.assertEqual(back.loss_kind, gf.LossKind.SOFTMAX_CE_LABELS)
                back.forward(X)
                back.backward([[i % 4] for i in range(8)])  # label targets are accepted: one column

    def test_a_loaded_net_reports_the_same_metrics(self):
        with trained(steps=2) as net:
            net.add_metric("rmse")
            net.add_metric("top_k", 2)
            with gf.Net.from_bytes(net.to_bytes()) as back:
                self.assertEqual(back.metrics, net.metrics)
                self.assertEqual(back.evaluate(X, T, return_dict=True), net.evaluate(X, T, return_dict=True))

    def test_a_truncated_file_is_a_format_error_naming_the_offset(self):
        with trained() as net:
            data = net.to_bytes()
        before = live()
        with self.assertRaisesRegex(gf.FormatError, r"offset \d+: truncated"):
            gf.Net.from_bytes(data[:-10])
        self.assertEqual(live(), before)

    def test_a_future_version_names_both_versions(self):
        with trained() as net:
            data = bytearray(net.to_bytes())
        data[8] = 3
        with self.assertRaisesRegex(gf.FormatError, "3.0 is newer than this library's 1.0"):
            gf.Net.from_bytes(data)

    def test_a_missing_file_is_a_file_error(self):
        with self.assertRaises(gf.FileError):
            gf.Net.load(os.path.join(self.tmp.name, "absent.gfm"))

    def test_a_failed_save_keeps_the_earlier_file(self):
        with trained() as net:
            net.save(self.path)
            with open(self.path, "rb") as f:
                earlier = f.read()
            net.train_step(X, T)
            with self.assertRaises(gf.FileError):
                net.save(os.path.join(self.path, "not-a-dir", "x.gfm"))
            with open(self.path, "rb") as f:
                self.assertEqual(f.read(), earlier)
            self.assertEqual(os.listdir(self.tmp.name), ["net.gfm"])

    def test_a_save_path_with_a_nul_byte_is_refused_and_writes_no_file(self):
        # C would stop at the NUL and write (over) net.gfm instead of the path asked for.
        with trained(steps=1) as net:
            with self.assertRaisesRegex(gf.DataTypeError, "NUL"):
                net.save(self.path + "\0.bak")
            with self.assertRaisesRegex(gf.DataTypeError, "NUL"):
                net.save(os.fsencode(self.path) + b"\0.bak")
        self.assertEqual(os.listdir(self.tmp.name), [])

    def test_a_load_path_with_a_nul_byte_is_refused_rather_than_loading_its_prefix(self):
        with trained(steps=1) as net:
            net.save(self.path)
        with self.assertRaisesRegex(gf.DataTypeError, "NUL"):
            gf.Net.load(self.path + "\0.other")

    def test_bad_arguments_raise_gradflow_errors(self):
        with trained(steps=1) as net:
            with self.assertRaises(gf.NullError):
                net.save(None)
            with self.assertRaises(gf.DataTypeError):
                net.save(3.5)
            with self.assertRaises(gf.DataTypeError):
                net.to_bytes(training="yes")
        with self.assertRaises(gf.DataTypeError):
            gf.Net.from_bytes("not bytes")
        with self.assertRaises(gf.NullError):
            gf.Net.from_bytes(None)

    def test_model_info_reads_a_file_and_bytes(self):
        with trained(steps=7) as net:
            net.save(self.path)
            info = gf.model_info(self.path)
            self.assertEqual(info, gf.model_info(net.to_bytes()))
        self.assertEqual((info["format_major"], info["format_minor"]), gf.FORMAT_VERSION)
        self.assertEqual(info["layers"], 3)
        self.assertEqual(info["params"], 3 * 5 + 5 + 5 * 4 + 4 + 4 * 2 + 2)
        self.assertTrue(info["training_state"])
        self.assertEqual(info["steps"], 7)
        self.assertEqual(info["inputs"], 3)


class FormatTest(unittest.TestCase):
    """The bytes as docs/format.md describes them, read with Python's own tools."""

    def test_header_and_checksum_are_as_specified(self):
        import struct
        import zlib
        with trained(steps=3) as net:
            data = net.to_bytes()
        magic, major, minor, flags, writer, reserved, size = struct.unpack_from("<8sHHIIIQ", data)
        self.assertEqual(magic, b"\x89GFM\r\n\x1a\n")
        self.assertEqual((major, minor), gf.FORMAT_VERSION)
        self.assertEqual(flags, 1)  # training state
        self.assertEqual(writer, gf._lib.lib.gf_version())
        self.assertEqual((reserved, size), (0, len(data)))
        self.assertEqual(struct.unpack("<I", data[-4:])[0], zlib.crc32(data[:-4]))

    def test_records_come_in_the_documented_order(self):
        import struct
        with trained(steps=3) as net:
            data = net.to_bytes()
        types, at = [], 32
        while at < len(data) - 4:
            rtype, rflags, length = struct.unpack_from("<IIQ", data, at)
            self.assertEqual(rflags, 0)
            types.append(rtype)
            at += 16 + length
        self.assertEqual(at, len(data) - 4)
        self.assertEqual(types, [1, 2, 2, 2, 3, 4])  # net, three layers, optimizer, training


class PickleTest(unittest.TestCase):
    def test_a_pickled_net_is_an_independent_copy_that_resumes_training(self):
        with trained("momentum") as net:
            copy_ = pickle.loads(pickle.dumps(net))
            self.assertNotEqual(copy_.address, net.address)
            net.train_step(X, T)
            copy_.train_step(X, T)
            self.assertEqual(flat(copy_.predict(X)), flat(net.predict(X)))
            copy_.close()

    def test_deepcopy_gives_an_independent_net(self):
        with trained() as net:
            other = copy.deepcopy(net)
            other.train_step(X, T)
            self.assertNotEqual(flat(other.predict(X)), flat(net.predict(X)))
            other.close()

    def test_layers_still_refuse_pickling(self):
        with gf.Dense(2, 3) as layer:
            with self.assertRaises(TypeError):
                pickle.dumps(layer)


class StateDictTest(unittest.TestCase):
    def test_names_are_those_of_the_equivalent_sequential(self):
        with trained(steps=0) as net:
            # Linear, Tanh, Linear, ReLU, Linear: the identity activation adds no module.
            self.assertEqual(list(net.state_dict()), ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"])
            self.assertEqual(list(net.state_dict(keys="layers"))[2:4], ["1.weight", "1.bias"])

    def test_an_rnn_is_one_module_with_its_nonlinearity_inside_as_torch_nn_rnn(self):
        for act in ("tanh", "relu"):
            with self.subTest(act=act), gf.Net((5, 3), kind="sequence") as net:
                net.add_rnn(4, act)
                net.add_dense(2)
                # nn.RNN(3, 4, nonlinearity=act) then nn.Linear(4, 2): no module between them.
                self.assertEqual(list(net.state_dict()), ["0.weight_ih_l0", "0.weight_hh_l0", "0.bias_ih_l0",
                                                          "0.bias_hh_l0", "1.weight", "1.bias"])

    def test_a_flatten_layer_is_a_module_of_its_own(self):
        with gf.Net((2, 3, 3), kind="image") as net:
            net.add_flatten()
            net.add_dense(4, "relu")
            net.add_dense(2)
            # Sequential(Flatten(), Linear(18, 4), ReLU(), Linear(4, 2))
            self.assertEqual(list(net.state_dict()), ["1.weight", "1.bias", "3.weight", "3.bias"])
            with gf.Net.from_bytes(net.to_bytes()) as back:
                x = [[0.01 * i for i in range(18)]]
                self.assertEqual(flat(back.predict(x)), flat(net.predict(x)))
                self.assertEqual(back.input_shape, net.input_shape)

    @unittest.skipUnless(gf.HAVE_NUMPY, "state_dict gives shaped arrays with numpy")
    def test_values_are_numpy_copies_in_pytorchs_layout(self):
        with trained(steps=0) as net:
            sd = net.state_dict()
            self.assertEqual(sd["2.weight"].shape, (4, 5))
            self.assertEqual(sd["2.bias"].shape, (4,))
            sd["0.weight"][0, 0] = 123.0
            self.assertNotEqual(net.layer(0).weights[0, 0], 123.0)

    def test_load_state_dict_round_trips(self):
        with trained() as a, trained(seed=9, steps=0) as b:
            missing, unexpected = b.load_state_dict(a.state_dict())
            self.assertEqual((missing, unexpected), ([], []))
            self.assertEqual(flat(b.predict(X)), flat(a.predict(X)))

    def test_a_wrong_shape_changes_nothing(self):
        with trained() as net:
            sd = net.state_dict()
            before = flat(net.predict(X))
            sd["0.bias"] = [1.0, 2.0]  # 5 expected
            with self.assertRaisesRegex(gf.ShapeError, "0.bias"):
                net.load_state_dict(sd)
            self.assertEqual(flat(net.predict(X)), before)

    def test_a_nan_value_changes_nothing(self):
        with trained() as net:
            sd = net.state_dict()
            before = flat(net.predict(X))
            w = [[float(v) for v in row] for row in net.layer(2).weights.tolist()] if gf.HAVE_NUMPY else None
            if w is None:
                self.skipTest("builds a 2-D list from numpy")
            w[0][0] = float("nan")
            sd["4.weight"] = w
            with self.assertRaises(gf.NonFiniteError):
                net.load_state_dict(sd)
            self.assertEqual(flat(net.predict(X)), before)

    def test_strict_refuses_missing_and_unexpected_keys(self):
        with trained() as net:
            sd = net.state_dict()
            del sd["0.bias"]
            sd["9.weight"] = [0.0]
            with self.assertRaisesRegex(gf.InvalidArgumentError, "0.bias.*9.weight"):
                net.load_state_dict(sd)
            missing, unexpected = net.load_state_dict(sd, strict=False)
            self.assertEqual((missing, unexpected), (["0.bias"], ["9.weight"]))

    def test_state_must_be_a_mapping(self):
        with trained(steps=0) as net:
            with self.assertRaises(gf.DataTypeError):
                net.load_state_dict([1, 2])


def torch_sequential():
    return torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 4), torch.nn.ReLU(),
                               torch.nn.Linear(4, 2))


@unittest.skipIf(torch is None, "python3-torch is not installed: the PyTorch round trip is not checked")
@unittest.skipUnless(gf.HAVE_NUMPY, "the PyTorch round trip goes through numpy arrays")
class TorchRoundTripTest(unittest.TestCase):
    def test_a_net_trained_here_predicts_the_same_in_torch(self):
        with trained(steps=50) as net:
            model = torch_sequential()
            model.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()})
            with torch.no_grad():
                want = model(torch.tensor(X, dtype=torch.float32)).numpy()
            real_numpy.testing.assert_allclose(net.predict(X), want, rtol=1e-5, atol=1e-6)

    def test_a_net_trained_in_torch_predicts_the_same_here(self):
        torch.manual_seed(0)
        model = torch_sequential()
        opt = torch.optim.Adam(model.parameters(), lr=0.01)
        x, t = torch.tensor(X, dtype=torch.float32), torch.tensor(T, dtype=torch.float32)
        for _ in range(50):
            opt.zero_grad()
            torch.nn.functional.mse_loss(model(x), t).backward()
            opt.step()
        with trained(steps=0) as net:
            net.load_state_dict(model.state_dict())  # tensors straight in
            with torch.no_grad():
                want = model(x).numpy()
            real_numpy.testing.assert_allclose(net.predict(X), want, rtol=1e-5, atol=1e-6)

    def test_a_model_file_survives_the_trip_through_torch(self):
        with trained(steps=30) as net:
            model = torch_sequential()
            model.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()})
            with gf.Net.from_bytes(net.to_bytes(training=False)) as back:
                back.load_state_dict(model.state_dict())
                self.assertEqual(flat(back.predict(X)), flat(net.predict(X)))


if __name__ == "__main__":
    unittest.main()
