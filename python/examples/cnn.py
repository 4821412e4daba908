#!/usr/bin/env python3
"""cnn.py — convolutional nets from Python, every conv and pooling layer, and their per-filter-map diagnostics.

Two built-in tasks, generated from a seed (no numpy needed):

  * 16 x 16 grey images of four shapes (horizontal bar, vertical bar, the two diagonals) at random places and
    sizes over noise: Conv2d 3x3 -> 8 ReLU, MaxPool2d 2, Conv2d 3x3 -> 16 ReLU, AvgPool2d 2, flatten, dense;
  * signals of length 64, a sine, a square wave or noise: Conv1d 5 -> 8 ReLU, MaxPool1d 2, Conv1d 5 -> 16 ReLU,
    AvgPool1d 2, global average pooling, dense.

Each net trains with Adam on softmax cross-entropy while a gradflow.Diagnostics observes it; the script prints
the held-out accuracy, the verdicts, and per conv layer the dead filter maps and each channel's live share
(Diagnostics.layer_series with the conv series keys).  --svg DIR writes each net's chart (with a square per
filter map).

    PYTHONPATH=python python3 python/examples/cnn.py [--quick] [--svg DIR]
"""
import argparse
import math
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import gradflow as gf  # noqa: E402

SIDE = 16


def shape_image(rng, c):
    """One 16 x 16 image (flat list) of shape class c."""
    img = [0.15 * rng.random() for _ in range(SIDE * SIDE)]
    n = rng.randint(7, 12)
    y0, x0, v = rng.randint(0, SIDE - n), rng.randint(0, SIDE - n), 0.6 + 0.4 * rng.random()
    for k in range(n):
        y, x = [(y0 + n // 2, x0 + k), (y0 + k, x0 + n // 2), (y0 + k, x0 + k), (y0 + k, x0 + n - 1 - k)][c]
        img[y * SIDE + x] = v
    return img


def signal(rng, c, length=64):
    """A sine (0), a square wave (1) or noise (2), 2 to 6 periods, random phase and amplitude."""
    periods, phase, amp = 2 + 4 * rng.random(), 2 * math.pi * rng.random(), 0.5 + rng.random()
    out = []
    for t in range(length):
        w = math.sin(2 * math.pi * periods * t / length + phase)
        v = w if c == 0 else (1.0 if w >= 0 else -1.0) if c == 1 else 0.0
        out.append(amp * v + (1.0 if c == 2 else 0.3) * (2 * rng.random() - 1))
    return out


def dataset(make, classes, n, seed):
    rng = random.Random(seed)
    xs, ys = [], []
    for i in range(n):
        xs.append(make(rng, i % classes))
        ys.append([float(i % classes)])
    return xs, ys


def accuracy(net, xs, ys):
    out = net.predict(xs)
    rows = out.tolist() if hasattr(out, "tolist") and hasattr(out, "shape") else \
        [list(out[i * net.outputs:(i + 1) * net.outputs]) for i in range(len(xs))]
    right = sum(1 for r, y in zip(rows, ys) if max(range(len(r)), key=r.__getitem__) == int(y[0]))
    return right / len(xs)


def train_and_report(title, net, train, test, epochs, svg_dir):
    net.set_loss("softmax_ce_labels")
    net.set_optimizer("adam", lr=3e-3)
    with gf.Diagnostics(net) as d:
        d.enable()
        d.every = 10
        loss = float(net.fit(train[0], train[1], epochs=epochs, batch_size=32, verbose=0).loss[-1])
        acc = accuracy(net, *test)
        print("%s: training loss %.4f, held-out accuracy %.1f %% (%d samples)" % (title, loss, 100 * acc,
                                                                                len(test[0])))
        print("  net verdict: %s" % d.verdict().kind)
        for i, layer in enumerate(net.layers):
            if layer.kind not in (gf.LayerKind.CONV1D, gf.LayerKind.CONV2D):
                continue
            dead = [int(k) for k in d.layer_series(i, "dead_channels")]
            live = d.layer_series(i, "channel_active_frac")
            print("  layer %d %s: %d channels, dead %s, live share %s" % (
                i, layer.kind.name.lower(), len(live), dead or "none", " ".join("%.2f" % v for v in live)))
        if svg_dir:
            path = os.path.join(svg_dir, "cnn_%s.svg" % title.split()[0])
            d.write_report("svg", path)
            print("  chart: %s" % path)
    return acc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller data sets, fewer epochs")
    ap.add_argument("--svg", metavar="DIR", help="write each net's SVG chart into DIR")
    args = ap.parse_args()
    n_img, n_sig, epochs = (1200, 600, 8) if args.quick else (2400, 1500, 10)

    train = dataset(shape_image, 4, n_img, 1)
    test = dataset(shape_image, 4, 400, 2)
    with gf.Net((1, SIDE, SIDE), seed=5) as net:
        net.add_conv2d(8, 3, padding=1, activation="relu")
        net.add_maxpool2d(2)
        net.add_conv2d(16, 3, padding=1, activation="relu")
        net.add_avgpool2d(2)
        net.add_flatten()
        net.add_dense(4)
        img_acc = train_and_report("images (conv2d)", net, train, test, epochs, args.svg)

    train = dataset(signal, 3, n_sig, 3)
    test = dataset(signal, 3, 300, 4)
    with gf.Net((1, 64), seed=6, kind="signal") as net:
        net.add_conv1d(8, 5, padding=2, activation="relu")
        net.add_maxpool1d(2)
        net.add_conv1d(16, 5, padding=2, activation="relu")
        net.add_avgpool1d(2)
        net.add_global_avgpool()
        net.add_dense(3)
        sig_acc = train_and_report("signals (conv1d)", net, train, test, 2 * epochs, args.svg)
    return 0 if min(img_acc, sig_acc) >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
