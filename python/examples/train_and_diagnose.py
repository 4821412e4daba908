#!/usr/bin/env python3
"""train_and_diagnose.py — train a deep net from Python and let libgradflow diagnose its gradients.

Two 8-layer nets learn the same task (y = sin(3 x0) * x1 on [-1, 1]^2):

  * sigmoid everywhere with PyTorch's default init: the backpropagated
    gradient shrinks layer after layer, so the first layers barely learn;
  * ReLU with He init and bias 0.1: gradient norms stay within an order of
    magnitude from top to bottom and the loss falls fast.

For each net a gradflow.Diagnostics (gf_diag_*) first probes it before any
training (one forward/backward on random data, no update) and prints the
per-layer delta norms and the net's verdict with its reason and remedy; it then
observes training (every 10th step, guard on) and prints every layer's verdict
at the end.  Each net's SVG report (gradient norms over the steps, delta norms
per layer coloured by verdict) is written to --out-dir (default: a new
temporary directory).

    PYTHONPATH=python python3 python/examples/train_and_diagnose.py [--epochs N] [--quick] [--out-dir DIR]
"""
import argparse
import math
import os
import random
import sys
import tempfile
import textwrap

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import gradflow as gf  # noqa: E402


def make_data(n, seed):
    rng = random.Random(seed)
    x = [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(n)]
    y = [[math.sin(3 * a) * b] for a, b in x]
    return x, y


def build(kind, depth, width, seed):
    net = gf.Net(2, seed=seed)
    for _ in range(depth - 1):
        if kind == "sigmoid":
            net.add_dense(width, "sigmoid")
        else:
            net.add_dense(width, "relu", weight_init="he_normal", bias_init=gf.Init("constant", a=0.1))
    net.add_dense(1)
    net.set_optimizer("sgd", lr=0.05)
    return net


def show(verdict, indent="  "):
    for label, text in (("reason", verdict.reason), ("remedy", verdict.remedy)):
        print(textwrap.fill(text, 110, initial_indent="%s%s: " % (indent, label), subsequent_indent=indent + "  "))


def run(kind, args, x, y, vx, vy):
    print("== %s net: %d layers of %d units" % (kind, args.depth, args.width))
    with build(kind, args.depth, args.width, args.seed) as net, gf.Diagnostics(net) as diag:
        # Before training: a probe on N(0,1) data says whether gradients can flow at all.
        diag.probe(64, seed=args.seed)
        delta = [s.delta_in_norm for s in diag.stats()]
        print("  probe: |d loss / d input| per layer, input side first:")
        print("   " + " ".join("%.1e" % v for v in delta))
        verdict = diag.verdict()
        print("  probe verdict: %s" % verdict.kind)
        show(verdict)
        ratio = delta[0] / delta[-1] if delta[-1] else float("inf")

        # Training, observed every 10th step; the guard refuses a step that would write NaN/Inf.
        diag.reset()
        diag.every = 10
        diag.guard = True

        def report(epoch, loss):
            if epoch % max(1, args.epochs // 5) == 0 or epoch == args.epochs - 1:
                print("  epoch %4d  train loss %.5f" % (epoch, loss))

        try:
            net.fit(x, y, epochs=args.epochs, batch_size=32, callback=report, verbose=0)
        except gf.GuardError as e:  # the weights are intact; the origin says where it broke
            print("  training stopped by the guard: %s" % e)
            print("  origin: %s" % (diag.origin(),))
        print("  validation loss %.5f" % net.evaluate(vx, vy))
        print("  after training (%d observations): layer verdicts %s"
              % (diag.steps, " ".join("%d:%s" % (v.layer, v.kind) for v in diag.verdicts())))
        verdict = diag.verdict()
        print("  net verdict: %s" % verdict.kind)
        show(verdict)
        path = os.path.join(args.out_dir, "train_and_diagnose_%s.svg" % kind)
        diag.write_report("svg", path)
        print("  wrote %s" % path)
        return ratio


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--depth", type=int, default=8)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="a few epochs (used by the test suite)")
    p.add_argument("--out-dir", help="directory for the SVG reports (default: a new temporary directory)")
    args = p.parse_args(argv)
    if not args.out_dir:
        args.out_dir = tempfile.mkdtemp(prefix="gradflow-")
    if args.quick:
        args.epochs = 5
    x, y = make_data(256, args.seed)
    vx, vy = make_data(128, args.seed + 1)
    sig = run("sigmoid", args, x, y, vx, vy)
    relu = run("relu", args, x, y, vx, vy)
    print("gradient reaching the first layer, relative to the last (probe): sigmoid %.1e, relu %.1e" % (sig, relu))
    return 0


if __name__ == "__main__":
    sys.exit(main())
