"""A C program and the Python binding, same seed and network, give identical losses."""
import os
import shutil
import subprocess
import tempfile
import unittest

from . import _util  # noqa: F401 (puts python/ on sys.path first)
from ._util import ROOT, STATIC_LIB, flat

import gradflow as gf

C_PROGRAM = r"""
#include <stdio.h>
#include "gradflow.h"

#define CHECK(call) do { int rc_ = (call); if (rc_) { fprintf(stderr, "%s: %s\n", #call, gf_last_error()); return 1; } } while (0)

int main(void)
{
    const float x[] = {0, 0, 0, 1, 1, 0, 1, 1};
    const float y[] = {0, 1, 1, 0};
    gf_net *net = NULL;
    gf_optimizer *opt = NULL;
    gf_loss *loss = NULL;
    CHECK(gf_net_create(&net, 2, 42));
    CHECK(gf_net_add_dense(net, 6, GF_ACT_TANH, NULL));
    CHECK(gf_net_add_dense(net, 1, GF_ACT_IDENTITY, NULL));
    CHECK(gf_loss_create(&loss, GF_LOSS_BCE_LOGITS));
    CHECK(gf_net_set_loss(net, loss));
    gf_loss_destroy(loss);
    CHECK(gf_optimizer_create(&opt, GF_OPT_MOMENTUM, 0.2));
    CHECK(gf_optimizer_set(opt, GF_OPT_MOMENTUM_MU, 0.8));
    CHECK(gf_net_set_optimizer(net, opt));
    CHECK(gf_net_set_clip(net, GF_CLIP_NORM, 1.0));
    for (int i = 0; i < 60; i++) {
        double l;
        CHECK(gf_net_train_step(net, x, 8, y, 4, 4, &l));
        printf("%.17g\n", l);
    }
    float w[12];
    CHECK(gf_layer_get_weights(gf_net_layer(net, 0), w, 12));
    for (int i = 0; i < 12; i++)
        printf("w %.9g\n", (double)w[i]);
    gf_net_destroy(net);
    return 0;
}
"""


def python_run():
    lines = []
    with gf.Net(2, seed=42) as net:
        net.add_dense(6, "tanh")
        net.add_dense(1, "identity")
        net.set_loss("bce_logits")
        net.set_optimizer("momentum", lr=0.2, momentum=0.8)
        net.set_clip("norm", 1.0)
        x = [[0, 0], [0, 1], [1, 0], [1, 1]]
        y = [[0], [1], [1], [0]]
        for _ in range(60):
            lines.append("%.17g" % net.train_step(x, y))
        lines += ["w %.9g" % v for v in flat(net[0].weights)]
    return lines


@unittest.skipUnless(shutil.which("cc") and os.path.exists(STATIC_LIB), "needs cc and libgradflow.a (run make)")
class CParityTest(unittest.TestCase):
    def test_c_and_python_give_identical_losses_and_weights(self):
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "parity.c")
            exe = os.path.join(tmp, "parity")
            with open(src, "w") as f:
                f.write(C_PROGRAM)
            subprocess.run(["cc", "-std=c11", "-O2", "-I", os.path.join(ROOT, "include"), src, "-o", exe,
                            STATIC_LIB, "-lm", "-lpthread"], check=True, capture_output=True, timeout=120)
            out = subprocess.run([exe], check=True, capture_output=True, text=True, timeout=60).stdout.split("\n")
        c_lines = [l for l in out if l]
        py_lines = python_run()
        self.assertEqual(len(c_lines), 72)
        self.assertEqual(py_lines, c_lines)
        # The printed doubles round-trip exactly, so equal text means equal values.
        self.assertEqual(float(c_lines[0]).hex(), float(py_lines[0]).hex())
        self.assertLess(float(c_lines[59]), float(c_lines[0]))


if __name__ == "__main__":
    unittest.main()
