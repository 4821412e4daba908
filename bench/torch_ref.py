#!/usr/bin/env python3
"""torch_ref.py — the `make bench` workloads trained by PyTorch, for comparison.

Not part of `make bench` or of the tests, and not needed to build or use the
library: it needs PyTorch (on Debian: apt-get install python3-torch), run with
the system Python.  Each workload is the one bench/bench.c defines (MSE loss,
float32, random data, the same widths (cnn: the same layers), batch, activation and optimizer, lr
1e-3, momentum 0.9), timed the same way: whole training steps (zero_grad,
forward, loss, backward, optimizer step) for a fixed time, median of five
rounds.  The data needs no gradient, as in the library's default.

    python3 bench/torch_ref.py [--threads N] [--blas-threads M] [--peak GFLOPS] [workload ...]

--peak takes the 1-core peak `make bench` printed (peak_gflops_1core) so the
lines carry peak_pct against the same figure; the thread count is set before
torch is imported, for OpenMP and the BLAS alike (OpenBLAS otherwise starts one
thread per core however torch.set_num_threads is set).  --blas-threads sets
the BLAS's thread variables apart from PyTorch's own (default: the same as
--threads).  The first line names the BLAS library the process loaded.
"""
import argparse
import os
import sys
import time

WORKLOADS = {
    # name: (widths, batch, activation, optimizer)
    "tiny": ([2, 16, 16, 1], 1, "tanh", "sgd"),
    "small": ([64, 128, 128, 10], 32, "relu", "adam"),
    "mnist": ([784, 512, 512, 10], 128, "relu", "momentum"),
    "deep": ([256] + [256] * 20 + [256], 64, "tanh", "sgd"),
    "wide": ([1024, 2048, 2048, 1024], 256, "relu", "sgd"),
    # conv 3x3 -> 32 ReLU, max-pool 2, conv 3x3 -> 64 ReLU, max-pool 2, flatten, dense 128 ReLU, dense 10
    "cnn": ([1 * 28 * 28, 10], 64, "relu", "sgd"),
}
# name: (cell, features, hidden, steps, outputs, batch): nn.LSTM / nn.GRU (batch_first), last step -> nn.Linear, SGD.
RECURRENT = {
    "lstm": ("lstm", 32, 256, 50, 10, 64),
    "gru": ("gru", 32, 256, 50, 10, 64),
}


def build(torch, name, widths, act):
    """The workload's net: bench.c's cnn, or a stack of dense layers."""
    nn = torch.nn
    if name == "cnn":
        return nn.Sequential(nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(32, 64, 3), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))
    layers = []
    for i in range(len(widths) - 1):
        layers.append(nn.Linear(widths[i], widths[i + 1]))
        if i + 2 < len(widths):
            layers.append(nn.Tanh() if act == "tanh" else nn.ReLU())
    return nn.Sequential(*layers)


def loaded_blas(torch):
    """Path of the BLAS library this process mapped after a product ("none" if no BLAS was loaded)."""
    a = torch.ones(64, 64)
    (a @ a).sum().item()
    try:
        with open("/proc/self/maps") as f:
            paths = [line.split()[-1] for line in f if "/" in line]
    except OSError:
        return "unknown"
    libs = [p for p in paths if "blas" in os.path.basename(p).lower() and ".so" in os.path.basename(p)]
    return os.path.realpath(libs[0]) if libs else "none"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--blas-threads", type=int, default=0, help="BLAS threads (default: --threads)")
    ap.add_argument("--peak", type=float, default=0.0, help="1-core FP32 peak in GFLOP/s, from make bench")
    ap.add_argument("--seconds", type=float, default=1.5, help="length of one timed round")
    ap.add_argument("workloads", nargs="*", default=list(WORKLOADS) + list(RECURRENT))
    args = ap.parse_args()
    unknown = [w for w in args.workloads if w not in WORKLOADS and w not in RECURRENT]
    if unknown or args.threads < 1:
        known = ", ".join(list(WORKLOADS) + list(RECURRENT))
        ap.error("unknown workload %s (known: %s)" % (unknown, known) if unknown else "threads < 1")
    blas_threads = args.blas_threads or args.threads
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
        os.environ[var] = str(blas_threads)
    try:
        import torch
    except ImportError:
        sys.exit("torch_ref.py: PyTorch is not installed (Debian: apt-get install python3-torch)")
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    print("torch version=%s threads=%d blas_threads=%d blas=%s"
          % (torch.__version__, torch.get_num_threads(), blas_threads, loaded_blas(torch)))
    for name in args.workloads:
        if name in RECURRENT:
            time_recurrent(torch, name, args)
            continue
        widths, batch, act, opt_kind = WORKLOADS[name]
        net = build(torch, name, widths, act)
        params = list(net.parameters())
        if opt_kind == "adam":
            opt = torch.optim.Adam(params, lr=1e-3)
        elif opt_kind == "momentum":
            opt = torch.optim.SGD(params, lr=1e-3, momentum=0.9)
        else:
            opt = torch.optim.SGD(params, lr=1e-3)
        x = torch.rand(batch, widths[0]) * 2 - 1
        if name == "cnn":
            x = x.reshape(batch, 1, 28, 28)
        t = torch.rand(batch, widths[-1]) * 2 - 1
        lossf = torch.nn.MSELoss()

        def step():
            opt.zero_grad(set_to_none=False)
            lossf(net(x), t).backward()
            opt.step()

        report(name, step, sum(p.numel() for p in params), batch, args)


def report(name, step, nparams, batch, args):
    """Times step (median of five rounds after five warm-up steps) and prints the workload's line."""
    for _ in range(5):
        step()
    rounds = []
    for _ in range(5):
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < args.seconds:
            step()
            n += 1
        rounds.append((time.perf_counter() - t0) / n)
    sec = sorted(rounds)[2]
    gflops = 6.0 * nparams * batch / sec / 1e9
    if name == "cnn":  # bench.c's count: the layers' multiply-adds, forward once and backward twice
        gflops = 3.0 * 2.0 * (32 * 26 * 26 * 9 + 64 * 11 * 11 * 32 * 9 + 1600 * 128 + 128 * 10) * batch / sec / 1e9
    pct = " peak_pct=%.1f" % (100.0 * gflops / (args.peak * args.threads)) if args.peak > 0 else ""
    print("torch workload=%s threads=%d steps_per_sec=%.1f samples_per_sec=%.0f gflops=%.2f%s"
          % (name, args.threads, 1.0 / sec, batch / sec, gflops, pct))


def time_recurrent(torch, name, args):
    """nn.LSTM / nn.GRU on (batch, T, F), the last step into nn.Linear, MSE, SGD lr 1e-3: bench.c's lstm/gru.
    The parameter count for gflops is bench.c's: the recurrent weights once per step, biases left out."""
    cell, feat, hidden, steps, outs, batch = RECURRENT[name]
    rnn = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(feat, hidden, batch_first=True)
    lin = torch.nn.Linear(hidden, outs)
    opt = torch.optim.SGD(list(rnn.parameters()) + list(lin.parameters()), lr=1e-3)
    x = torch.rand(batch, steps, feat) * 2 - 1
    t = torch.rand(batch, outs) * 2 - 1
    lossf = torch.nn.MSELoss()

    def step():
        opt.zero_grad(set_to_none=False)
        out, _ = rnn(x)
        lossf(lin(out[:, -1]), t).backward()
        opt.step()

    gates = 4 if cell == "lstm" else 3
    report(name, step, gates * hidden * (feat + hidden) * steps + hidden * outs + outs, batch, args)


if __name__ == "__main__":
    main()
