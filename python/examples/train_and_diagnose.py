#!/usr/bin/env python3
"""train_and_diagnose.py — train a deep net from Python and watch its gradients.

Two 8-layer nets learn the same task (y = sin(3 x0) * x1 on [-1, 1]^2):

  * sigmoid everywhere with PyTorch's default init: the backpropagated
    gradient shrinks layer after layer, so the first layers barely learn;
  * ReLU with He init and bias 0.1: gradient norms stay within an order of
    magnitude from top to bottom and the loss falls fast.

For each, the script prints the loss every few epochs and, after training,
each layer's weight-gradient norm (read with Layer.get_weight_grad, i.e.
gf_layer_get_weight_grad) and the first/last ratio.  The library's own
per-layer verdicts (gf_diag_*) will be printed here once the Python binding
of diagnostics exists.

    PYTHONPATH=python python3 python/examples/train_and_diagnose.py [--epochs N] [--quick]
"""
import argparse
import math
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import gradflow as gf  # noqa: E402


def values(out):
    """Output array (numpy or array.array) as a flat list."""
    return out.reshape(-1).tolist() if hasattr(out, "reshape") else out.tolist()


def norm(xs):
    return math.hypot(*xs) if xs else 0.0


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


def layer_grad_norms(net, x, y):
    """Weight-gradient norm of each layer for one forward/backward on (x, y)."""
    net.forward(x)
    net.backward(y)
    return [norm(values(layer.get_weight_grad())) for layer in net]


def run(kind, args, x, y, vx, vy):
    print("== %s net: %d layers of %d units" % (kind, args.depth, args.width))
    with build(kind, args.depth, args.width, args.seed) as net:
        before = layer_grad_norms(net, x, y)

        def report(epoch, loss):
            if epoch % max(1, args.epochs // 5) == 0 or epoch == args.epochs - 1:
                print("  epoch %4d  train loss %.5f" % (epoch, loss))

        net.fit(x, y, epochs=args.epochs, batch_size=32, callback=report)
        print("  validation loss %.5f" % net.evaluate(vx, vy))
        after = layer_grad_norms(net, x, y)
        print("  layer  |dW| at start   |dW| after training")
        for i, (b, a) in enumerate(zip(before, after)):
            print("  %5d  %13.3e   %13.3e" % (i, b, a))
        ratio = before[0] / before[-1] if before[-1] else float("inf")
        print("  first/last layer gradient ratio at start: %.2e" % ratio)
        return ratio


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--depth", type=int, default=8)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="a few epochs (used by the test suite)")
    args = p.parse_args(argv)
    if args.quick:
        args.epochs = 5
    x, y = make_data(256, args.seed)
    vx, vy = make_data(128, args.seed + 1)
    sig = run("sigmoid", args, x, y, vx, vy)
    relu = run("relu", args, x, y, vx, vy)
    print("gradient reaching the first layer, relative to the last: sigmoid %.1e, relu %.1e" % (sig, relu))
    return 0


if __name__ == "__main__":
    sys.exit(main())
