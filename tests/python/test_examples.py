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


def run_example(name, *args):
    r = subprocess.run([sys.executable, os.path.join(EXAMPLES, name)] + list(args), env=python_env(),
                       capture_output=True, text=True, timeout=120)
    if r.returncode:
        raise AssertionError("%s failed:\n%s" % (name, r.stderr))
    return r.stdout


class ExamplesTest(unittest.TestCase):
    def test_train_and_diagnose_shows_sigmoid_gradients_vanishing_more_than_relu(self):
        out = run_example("train_and_diagnose.py", "--quick")
        m = re.search(r"sigmoid ([0-9.e+-]+), relu ([0-9.e+-]+)", out)
        self.assertIsNotNone(m, out)
        self.assertLess(float(m.group(1)) * 100, float(m.group(2)))

    def test_plot_gradient_flow_writes_an_svg_with_a_bar_per_layer_and_net(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "flow.svg")
            out = run_example("plot_gradient_flow.py", "--no-matplotlib", "--depth", "6", "-o", path)
            self.assertIn("built-in SVG writer", out)
            root = ET.parse(path).getroot()
        bars = [e for e in root.iter("{http://www.w3.org/2000/svg}rect")
                if e.find("{http://www.w3.org/2000/svg}title") is not None]
        self.assertEqual(len(bars), 2 * 6)


if __name__ == "__main__":
    unittest.main()
