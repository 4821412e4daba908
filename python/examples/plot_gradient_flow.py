#!/usr/bin/env python3
"""plot_gradient_flow.py — per-layer gradient norms of a deep sigmoid net and a deep ReLU net.

Each net takes one forward/backward pass on the same batch while a
gradflow.Diagnostics observes it; the per-layer statistics it recorded
(Diagnostics.stats(), i.e. gf_diag_value) give each layer's weight-gradient
norm, and its verdicts say what they mean.  The sigmoid net's norms fall by
orders of magnitude towards the input (vanishing gradients); the ReLU net with
He init keeps them level.

With matplotlib installed the two series are drawn as one bar chart (-o, PNG
by default).  Without it (or with --no-matplotlib) the script writes the
library's own SVG report for each net (Diagnostics.write_report("svg", ...)):
<output stem>_sigmoid.svg and <output stem>_relu.svg.

    PYTHONPATH=python python3 python/examples/plot_gradient_flow.py [-o gradient_flow.svg] [--depth 10]
"""
import argparse
import math
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import gradflow as gf  # noqa: E402

COLORS = {"sigmoid": "#d62728", "relu + He": "#1f77b4"}
SLUG = {"sigmoid": "sigmoid", "relu + He": "relu"}


def build(kind, depth, width, inputs, outputs, seed):
    net = gf.Net(inputs, seed=seed)
    net.input_grad_enabled = True  # plot the flow all the way down to the data (layer 0's delta-in)
    for _ in range(depth - 1):
        if kind == "sigmoid":
            net.add_dense(width, "sigmoid")
        else:
            net.add_dense(width, "relu", weight_init="he_normal", bias_init=gf.Init("constant", a=0.1))
    net.add_dense(outputs)
    return net


def observe(kind, depth, width, x, y, seed, svg_path=None):
    """(weight-gradient norm per layer, net verdict) of one observed forward/backward; optionally the SVG report."""
    with build(kind, depth, width, len(x[0]), len(y[0]), seed) as net, net.diagnostics() as diag:
        net.forward(x)
        net.backward(y)  # the diag commits its record at the end of the backward
        norms = [s.wgrad_norm for s in diag.stats()]
        if svg_path:
            diag.write_report("svg", svg_path)
        return norms, diag.verdict()


def plot_matplotlib(series, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 4.5))
    n = len(next(iter(series.values())))
    w = 0.8 / len(series)
    for k, (name, norms) in enumerate(series.items()):
        ax.bar([i + (k - (len(series) - 1) / 2) * w for i in range(n)], norms, w, label=name, color=COLORS.get(name))
    ax.set_yscale("log")
    ax.set_xlabel("layer (input side on the left)")
    ax.set_ylabel("||dL/dW||")
    ax.set_title("Gradient flow: weight-gradient norm per layer")
    ax.set_xticks(range(n))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("-o", "--output", help="output file (default gradient_flow.png with matplotlib, else .svg)")
    p.add_argument("--depth", type=int, default=10)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-matplotlib", action="store_true", help="write the library's SVG reports even if matplotlib is installed")
    args = p.parse_args(argv)

    rng = random.Random(args.seed)
    x = [[rng.gauss(0, 1) for _ in range(4)] for _ in range(64)]
    y = [[math.tanh(r[0] - r[1] + r[2] * r[3])] for r in x]

    use_mpl = not args.no_matplotlib
    if use_mpl:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            use_mpl = False
    path = args.output or ("gradient_flow.png" if use_mpl else "gradient_flow.svg")
    stem = os.path.splitext(path)[0]
    series, written = {}, []
    for name in COLORS:
        svg = None if use_mpl else "%s_%s.svg" % (stem, SLUG[name])
        norms, verdict = observe(name.split()[0], args.depth, args.width, x, y, args.seed, svg)
        series[name] = norms
        print("%-10s " % name + " ".join("%.1e" % v for v in norms))
        print("%-10s net verdict: %s" % (name, verdict.kind))
        if svg:
            written.append(svg)
    if use_mpl:
        plot_matplotlib(series, path)
        print("wrote %s (matplotlib)" % path)
    else:
        print("wrote %s (library SVG report)" % ", ".join(written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
