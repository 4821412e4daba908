"""plot_history.py — train on the Iris CSV with fit(), then plot the History.

    PYTHONPATH=python python3 python/examples/plot_history.py [-o history.png] [--epochs 200]

A 4-16-3 ReLU net learns the three species from examples/data/iris.csv:
a quarter of the training flowers held out for validation (drawn from the
net's seed), early stopping on the validation loss with the best weights
restored, a cosine schedule after a 5-epoch warm-up, and the gradient-flow
diagnostics attached so that every epoch carries the net's verdict.  The
History is printed as a table and, when matplotlib is installed (Debian:
python3-matplotlib), drawn as three panels: loss, accuracy, and the learning
rate with each epoch's verdict.  Without matplotlib the table is all you get.
"""
import argparse
import csv
import os
import sys

import gradflow as gf

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "..", "examples", "data", "iris.csv")


def read_iris(path):
    """Rows of four floats and the species index, in file order; the species names."""
    x, y, names = [], [], []
    with open(path, newline="") as f:
        rows = csv.reader(f)
        next(rows)  # header
        for row in rows:
            if not row:
                continue
            if row[4] not in names:
                names.append(row[4])
            x.append([float(v) for v in row[:4]])
            y.append(names.index(row[4]))
    return x, y, names


def standardize(train, test):
    """Mean 0, variance 1 per feature, with the training rows' statistics."""
    cols = list(zip(*train))
    means = [sum(c) / len(c) for c in cols]
    sds = [max((sum((v - m) ** 2 for v in c) / len(c)) ** 0.5, 1e-6) for c, m in zip(cols, means)]
    scale = lambda rows: [[(v - m) / s for v, m, s in zip(r, means, sds)] for r in rows]  # noqa: E731
    return scale(train), scale(test)


def train(x, y, epochs, verbose):
    """(History, test loss, test accuracy) of a fit on four fifths of the flowers."""
    test_rows = [i for i in range(len(x)) if i % 5 == 4]
    train_rows = [i for i in range(len(x)) if i % 5 != 4]
    tx, vx = standardize([x[i] for i in train_rows], [x[i] for i in test_rows])
    ty, vy = [y[i] for i in train_rows], [y[i] for i in test_rows]
    with gf.Net(4, seed=7) as net, gf.Diagnostics(net) as diag:
        net.add_dense(16, "relu", weight_init=gf.Init("he_normal"))
        net.add_dense(3)
        net.set_loss("softmax_ce_labels")
        net.set_optimizer("adam", lr=0.02)
        net.add_metric("accuracy")
        diag.enable()
        history = net.fit(tx, ty, epochs=epochs, batch_size=16, validation_split=0.25, verbose=verbose,
                          callbacks=[gf.EarlyStopping("val_loss", patience=20, restore_best_weights=True),
                                     gf.Schedule("cosine", lr=0.02, period=epochs, warmup=5)])
        loss, acc = net.evaluate(vx, vy)
    return history, loss, acc


def print_table(history):
    print("epoch  loss     acc    val_loss val_acc lr        verdict")
    for r in history.records:
        print("%5d  %.4f  %.3f  %.4f   %.3f   %.6f  %s" % (
            r.epoch + 1, r.loss, r["accuracy"], r.val_loss, r["val_accuracy"], r.lr, gf.verdict_name(r.verdict)))


def plot(history, path):
    """Three panels into path; False when matplotlib is not installed."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    epochs = [e + 1 for e in history.epoch]
    fig, (ax_loss, ax_acc, ax_lr) = plt.subplots(3, 1, figsize=(7, 8), sharex=True)
    ax_loss.plot(epochs, history.history["loss"], label="loss")
    ax_loss.plot(epochs, history.history["val_loss"], label="val_loss")
    ax_acc.plot(epochs, history.history["accuracy"], label="accuracy")
    ax_acc.plot(epochs, history.history["val_accuracy"], label="val_accuracy")
    ax_lr.plot(epochs, history.history["lr"], color="gray", label="learning rate")
    # Each epoch's verdict as a coloured dot on the rate curve.
    colours = {"healthy": "tab:green", "vanishing": "tab:blue", "exploding": "tab:red", "dead": "black",
               "saturated": "tab:orange", "unknown": "lightgray"}
    for kind in sorted({gf.verdict_name(v) for v in history.history["verdict"]}):
        pts = [(e, lr) for e, lr, v in zip(epochs, history.history["lr"], history.history["verdict"])
               if gf.verdict_name(v) == kind]
        ax_lr.scatter([p[0] for p in pts], [p[1] for p in pts], s=14, color=colours.get(kind, "purple"),
                      label="verdict: " + kind, zorder=3)
    best = history.best_epoch + 1
    for ax, title in ((ax_loss, "loss"), (ax_acc, "accuracy"), (ax_lr, "learning rate and net verdict")):
        ax.axvline(best, color="k", linestyle=":", linewidth=1)
        ax.set_title(title)
        ax.legend(fontsize=8)
    ax_lr.set_xlabel("epoch (dotted: the restored best epoch)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-o", "--out", default="history.png", help="image to write (default history.png)")
    ap.add_argument("--data", default=DATA, help="the Iris CSV (default examples/data/iris.csv)")
    ap.add_argument("--epochs", type=int, default=200)
    ap.add_argument("--verbose", type=int, default=0, help="progress: 0 none (default), 1 bar, 2 lines")
    ap.add_argument("--no-matplotlib", action="store_true", help="print the table only")
    args = ap.parse_args()
    x, y, names = read_iris(args.data)
    history, loss, acc = train(x, y, args.epochs, args.verbose)
    print_table(history)
    print("stopped after %d of %d epochs; restored epoch %d (val_loss %.4f)" % (
        history.stopped_epoch + 1, args.epochs, history.best_epoch + 1, history.history["val_loss"][history.best_epoch]))
    print("held-out test (%s): loss %.4f, accuracy %.3f" % (", ".join(names), loss, acc))
    if args.no_matplotlib:
        return 0
    if plot(history, args.out):
        print("wrote %s" % args.out)
    else:
        print("matplotlib is not installed (Debian: apt-get install python3-matplotlib); skipping the plot")
    return 0


if __name__ == "__main__":
    sys.exit(main())
