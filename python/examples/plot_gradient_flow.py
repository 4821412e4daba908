#!/usr/bin/env python3
"""plot_gradient_flow.py — per-layer weight-gradient norms of a deep sigmoid net and a deep ReLU net.

Each net takes one forward/backward pass on the same batch; the norm of each
layer's weight gradient (Layer.get_weight_grad, i.e. gf_layer_get_weight_grad)
is plotted on a log scale, first layer on the left.  The sigmoid net's bars
fall by orders of magnitude towards the input (vanishing gradients); the ReLU
net with He init keeps them level.

With matplotlib installed the chart is drawn by matplotlib; otherwise (or
with --no-matplotlib) the script writes a self-contained SVG itself.

    PYTHONPATH=python python3 python/examples/plot_gradient_flow.py [-o gradient_flow.svg] [--depth 10]
"""
import argparse
import math
import os
import random
import sys
from xml.sax.saxutils import escape

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import gradflow as gf  # noqa: E402

COLORS = {"sigmoid": "#d62728", "relu + He": "#1f77b4"}


def values(out):
    return out.reshape(-1).tolist() if hasattr(out, "reshape") else out.tolist()


def gradient_norms(kind, depth, width, x, y, seed):
    with gf.Net(len(x[0]), seed=seed) as net:
        for _ in range(depth - 1):
            if kind == "sigmoid":
                net.add_dense(width, "sigmoid")
            else:
                net.add_dense(width, "relu", weight_init="he_normal", bias_init=gf.Init("constant", a=0.1))
        net.add_dense(len(y[0]))
        net.forward(x)
        net.backward(y)
        return [math.hypot(*values(layer.get_weight_grad())) for layer in net]


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


def plot_svg(series, path):
    """A grouped bar chart on a log10 axis, written as plain SVG."""
    W, H, left, right, top, bottom = 760, 420, 70, 20, 40, 50
    logs = [math.log10(v) for norms in series.values() for v in norms if v > 0]
    lo, hi = math.floor(min(logs)), math.ceil(max(logs))
    if hi == lo:
        hi = lo + 1
    n = len(next(iter(series.values())))
    pw, ph = W - left - right, H - top - bottom

    def ypos(v):
        return top + ph * (hi - math.log10(v)) / (hi - lo) if v > 0 else top + ph

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" '
           'font-size="12">' % (W, H),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="15">Gradient flow: weight-gradient norm per layer (log scale)</text>'
           % left]
    for e in range(lo, hi + 1):
        y = ypos(10.0 ** e)
        out.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>' % (left, y, W - right, y))
        out.append('<text x="%d" y="%.1f" text-anchor="end">1e%d</text>' % (left - 6, y + 4, e))
    group = pw / n
    bw = group * 0.8 / len(series)
    for k, (name, norms) in enumerate(series.items()):
        for i, v in enumerate(norms):
            x = left + i * group + group * 0.1 + k * bw
            y = ypos(v)
            out.append('<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s layer %d: %.3e'
                       '</title></rect>' % (x, y, bw, top + ph - y, COLORS.get(name, "#888"), escape(name), i, v))
    for i in range(n):
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (left + (i + 0.5) * group, top + ph + 16, i))
    out.append('<text x="%.1f" y="%d" text-anchor="middle">layer (input side on the left)</text>'
               % (left + pw / 2, H - 10))
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (left, top + ph, W - right, top + ph))
    out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="black"/>' % (left, top, left, top + ph))
    for k, name in enumerate(series):
        y = top + 8 + 18 * k
        out.append('<rect x="%d" y="%d" width="12" height="12" fill="%s"/>' % (W - right - 150, y, COLORS.get(name, "#888")))
        out.append('<text x="%d" y="%d">%s</text>' % (W - right - 132, y + 11, escape(name)))
    out.append("</svg>\n")
    with open(path, "w") as f:
        f.write("\n".join(out))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    p.add_argument("-o", "--output", help="output file (default gradient_flow.png with matplotlib, else .svg)")
    p.add_argument("--depth", type=int, default=10)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--no-matplotlib", action="store_true", help="write the SVG without matplotlib")
    args = p.parse_args(argv)

    rng = random.Random(args.seed)
    x = [[rng.gauss(0, 1) for _ in range(4)] for _ in range(64)]
    y = [[math.tanh(r[0] - r[1] + r[2] * r[3])] for r in x]
    series = {
        "sigmoid": gradient_norms("sigmoid", args.depth, args.width, x, y, args.seed),
        "relu + He": gradient_norms("relu", args.depth, args.width, x, y, args.seed),
    }
    for name, norms in series.items():
        print("%-10s " % name + " ".join("%.1e" % v for v in norms))

    use_mpl = not args.no_matplotlib
    if use_mpl:
        try:
            import matplotlib  # noqa: F401
        except ImportError:
            use_mpl = False
    path = args.output or ("gradient_flow.png" if use_mpl else "gradient_flow.svg")
    (plot_matplotlib if use_mpl else plot_svg)(series, path)
    print("wrote %s (%s)" % (path, "matplotlib" if use_mpl else "built-in SVG writer"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
