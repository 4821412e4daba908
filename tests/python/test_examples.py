"""The Python examples run (quickly) and produce what they promise."""
import os
import re
import subprocess
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

from . import _util  # noqa: F401 (puts python/ on sys.path first)
from ._util import ROOT, python_env

EXAMPLES = os.path.join(ROOT, "python", "examples")


def run_example(name, *args, cwd=None):
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, name)] + list(args), env=python_env(),
                       capture_output=True, text=True, timeout=120, cwd=cwd)
    if r.returncode:
        raise AssertionError("%s failed:\n%s" % (name, r.stderr))
    return r.stdout


class ExamplesTest(unittest.TestCase):
    def test_recurrent_shows_the_tanh_rnn_gradient_fading_across_time(self):
        out = run_example("recurrent.py", "--quick")
        self.assertEqual(len(re.findall(r"validation MSE [0-9.]+", out)), 3)
        self.assertEqual(len(re.findall(r"\|\|dL/dh_t\|\|: t=0 ", out)), 3)
        rnn = out.split("LSTM:")[0]
        self.assertIn("verdict: vanishing", rnn)
        self.assertIn("switch to an LSTM of the same 32 units", rnn)
        self.assertIn("(checked on a fresh copy of the net built with it", rnn)
        m = re.search(r"t=0 ([0-9.e+-]+) .* t=50 ([0-9.e+-]+)", rnn)
        self.assertLess(float(m.group(1)) * 1e3, float(m.group(2)))

    def test_train_and_diagnose_shows_sigmoid_gradients_vanishing_more_than_relu(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = run_example("train_and_diagnose.py", "--quick", "--out-dir", tmp)
            roots = [ET.parse(os.path.join(tmp, "train_and_diagnose_%s.svg" % k)).getroot() for k in ("sigmoid", "relu")]
        m = re.search(r"sigmoid ([0-9.e+-]+), relu ([0-9.e+-]+)", out)
        self.assertIsNotNone(m, out)
        self.assertLess(float(m.group(1)) * 100, float(m.group(2)))
        self.assertEqual(re.findall(r"probe verdict: (\w+)", out), ["vanishing", "healthy"])
        self.assertEqual(len(re.findall(r"layer verdicts", out)), 2)
        self.assertTrue(all(r.tag == "{http://www.w3.org/2000/svg}svg" for r in roots))

    def test_plot_gradient_flow_writes_the_library_svg_report_of_each_net(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = run_example("plot_gradient_flow.py", "--no-matplotlib", "--depth", "6", "-o",
                              os.path.join(tmp, "flow.svg"))
            self.assertIn("library SVG report", out)
            roots = {kind: ET.parse(os.path.join(tmp, "flow_%s.svg" % kind)).getroot() for kind in ("sigmoid", "relu")}
        self.assertIn("sigmoid    net verdict: vanishing", out)
        self.assertIn("relu + He  net verdict: healthy", out)
        for kind, root in roots.items():
            with self.subTest(net=kind):
                self.assertEqual(root.tag, "{http://www.w3.org/2000/svg}svg")
                bars = [e for e in root.iter("{http://www.w3.org/2000/svg}rect")
                        if e.find("{http://www.w3.org/2000/svg}title") is not None]
                self.assertEqual(len(bars), 6)

    def test_plot_history_trains_on_iris_and_reports_held_out_accuracy(self):
        out = run_example("plot_history.py", "--no-matplotlib", "--epochs", "60")
        m = re.search(r"held-out test \(setosa, versicolor, virginica\): loss [0-9.]+, accuracy ([0-9.]+)", out)
        self.assertIsNotNone(m, out)
        self.assertGreaterEqual(float(m.group(1)), 0.9)
        self.assertRegex(out, r"restored epoch \d+")
        self.assertIn("healthy", out)  # the diagnostics' verdict column

    def test_plot_history_draws_a_png_when_matplotlib_is_installed(self):
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            self.skipTest("matplotlib is not installed (Debian: python3-matplotlib)")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "h.png")
            out = run_example("plot_history.py", "--epochs", "30", "-o", path)
            with open(path, "rb") as f:
                self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")
        self.assertIn("wrote", out)

    def test_cnn_trains_every_conv_and_pooling_layer_and_lists_filter_maps(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = run_example("cnn.py", "--quick", "--svg", tmp)
            roots = [ET.parse(os.path.join(tmp, "cnn_%s.svg" % k)).getroot() for k in ("images", "signals")]
        accs = [float(a) for a in re.findall(r"held-out accuracy ([0-9.]+) %", out)]
        self.assertEqual(len(accs), 2, out)
        self.assertTrue(all(a >= 90 for a in accs), out)
        self.assertEqual(len(re.findall(r"layer \d conv[12]d: \d+ channels, dead", out)), 4)
        self.assertTrue(all(r.tag == "{http://www.w3.org/2000/svg}svg" for r in roots))


    def test_torch_round_trip_moves_a_trained_net_both_ways_with_equal_predictions(self):
        try:
            import torch  # noqa: F401
        except ImportError:
            self.skipTest("python3-torch is not installed: the example only says so")
        if not _util.gradflow.HAVE_NUMPY:
            self.skipTest("numpy is hidden: the example only says so")
        with tempfile.TemporaryDirectory() as tmp:  # it saves model.gfm where it runs
            out = run_example("torch_round_trip.py", cwd=tmp)
        gaps = [float(g) for g in re.findall(r"largest difference in predictions ([0-9.e+-]+)", out)]
        self.assertEqual(len(gaps), 2, out)
        self.assertTrue(all(g < 1e-5 for g in gaps), out)


if __name__ == "__main__":
    unittest.main()
