#!/usr/bin/env python3
"""recurrent.py — the adding problem (T = 50) with a tanh RNN, an LSTM and a GRU, and the gradient across time.

The input is 50 steps of (value, marker) with one marker in each half; the target is the sum of the two
marked values.  Predicting the mean scores MSE 0.167; below 0.0167 the task is solved.  For each net the
script trains with Adam, prints the validation MSE, and reads Diagnostics.time_profile: ||dL/dh_t|| for every
state t = 0 .. 50 (a numpy array when numpy is installed), its rate per step back, sigma_max of weight_hh_l0
beside the Pascanu bound, the mean forget (update) gate, and the verdict with its remedy.  The tanh RNN's
gradient fades by orders of magnitude before it reaches the first marker, so it never learns the task; the
gated cells carry it and do.

    python3 python/examples/recurrent.py [--quick] [--steps N]
"""
import argparse
import random
import sys
import time

import gradflow as gf

T = 50


def adding_batch(rng, n):
    xs, ts = [], []
    for _ in range(n):
        a, b = rng.randrange(T // 2), T // 2 + rng.randrange(T // 2)
        vals = [rng.random() for _ in range(T)]
        xs.append([[v, 1.0 if k in (a, b) else 0.0] for k, v in enumerate(vals)])
        ts.append([vals[a] + vals[b]])
    return xs, ts


def sampled(values, every=10):
    """'t=0 1.2e-05  t=10 ...' for every `every`-th state."""
    return "  ".join("t=%d %.2g" % (t, values[t]) for t in range(0, len(values), every))


def run(kind, steps, valid, seed=1):
    rng = random.Random(seed)
    with gf.Net((T, 2), kind="sequence", seed=seed) as net, gf.Diagnostics(net) as d:
        if kind == "rnn":
            net.add_rnn(32, "tanh")
        elif kind == "lstm":
            net.add_lstm(32)
        else:
            net.add_gru(32)
        net.add_dense(1)
        net.set_optimizer(gf.Optimizer("adam", lr=0.005))
        net.set_clip("norm", 1.0)
        d.enable()
        t0 = time.time()
        mse = None
        for step in range(1, steps + 1):
            x, t = adding_batch(rng, 64)
            net.train_step(x, t)
            if step % 200 == 0 or step == steps:
                mse = net.evaluate(*valid)
                if mse < 0.005:
                    break
        p = d.time_profile(0)
        v = d.verdict(0)
        print("%s: validation MSE %.4f after %d steps (%.1f s)" % (kind.upper(), mse, step, time.time() - t0))
        print("  ||dL/dh_t||: %s" % sampled(p.grad_norm))
        bound = "" if p.bound != p.bound else " (Pascanu bound 1/gamma = %g)" % p.bound
        gates = "" if p.forget_gate != p.forget_gate else ", mean forget/update gate %.2f" % p.forget_gate
        print("  x%.3f per step back, sigma_max(W_hh) %.2f%s%s" % (p.rate, p.sigma, bound, gates))
        print("  verdict: %s" % v.kind)
        if v.kind != "healthy":
            print("  remedy: %s" % v.remedy)
        return mse


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a few steps only (a smoke run)")
    ap.add_argument("--steps", type=int, default=3000)
    args = ap.parse_args()
    steps = 60 if args.quick else args.steps
    valid = adding_batch(random.Random(99), 200 if args.quick else 1000)
    print("adding problem, T = %d: the mean predictor scores MSE 0.167, solved below 0.0167" % T)
    results = {kind: run(kind, steps, valid) for kind in ("rnn", "lstm", "gru")}
    if not args.quick:
        ok = results["lstm"] < 0.0167 and results["gru"] < 0.0167
        print("LSTM %.4f, GRU %.4f: %s" % (results["lstm"], results["gru"], "both solved" if ok else "NOT solved"))
        return 0 if ok else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
