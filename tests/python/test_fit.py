"""fit(), evaluate() and the loop's pieces from Python: History, callbacks, EarlyStopping and Schedule,
bit-for-bit parity with a C program, metrics against a reference, schedules against PyTorch's, and the
progress bar on a terminal."""
import json
import math
import os
import pickle
import pty
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
import warnings

from . import _util  # noqa: F401 (puts python/ on sys.path first)
from ._util import ROOT, STATIC_LIB

import gradflow as gf


def f32(v):
    """v rounded to float32, so that it prints and reads back exactly with %.9g."""
    return struct.unpack("f", struct.pack("f", v))[0]


def blobs(n, seed):
    """Three overlapping Gaussian classes in four features: (x rows, labels)."""
    rng = random.Random(seed)
    x, y = [], []
    for i in range(n):
        c = i % 3
        x.append([f32((1.6 if j == c else 0.0) + rng.gauss(0.0, 1.0)) for j in range(4)])
        y.append(c)
    return x, y


X, Y = blobs(240, 11)
VX, VY = blobs(90, 12)


def classifier(seed=3, lr=0.05):
    net = gf.Net(4, seed=seed)
    net.add_dense(16, "tanh")
    net.add_dense(3)
    net.set_loss("softmax_ce_labels")
    net.set_optimizer("adam", lr=lr)
    net.add_metric("accuracy")
    return net


class HistoryTest(unittest.TestCase):
    def test_history_has_keras_keys_as_lists_and_series_as_arrays_or_lists(self):
        with classifier() as net:
            h = net.fit(X, Y, epochs=3, batch_size=16, validation_data=(VX, VY), verbose=0)
        self.assertEqual(h.keys(), ["loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds", "verdict"])
        self.assertEqual(h.epoch, [0, 1, 2])
        self.assertIsInstance(h.history["loss"], list)
        series = h["val_accuracy"]
        if gf.HAVE_NUMPY:
            import numpy
            self.assertIsInstance(series, numpy.ndarray)
            self.assertEqual(series.shape, (3,))
        else:
            self.assertIsInstance(series, list)
        self.assertEqual(list(h.val_accuracy), h.history["val_accuracy"])
        self.assertEqual(h.history["verdict"], [gf.VerdictKind.UNKNOWN] * 3)
        self.assertEqual(len(h), 3)

    def test_without_validation_there_are_no_val_keys(self):
        with classifier() as net:
            h = net.fit(X, Y, epochs=2, verbose=0)
        self.assertNotIn("val_loss", h)
        self.assertEqual(h.keys(), ["loss", "accuracy", "lr", "seconds", "verdict"])

    def test_callbacks_see_the_records_the_history_holds(self):
        seen, keras = [], []

        class KerasStyle:
            def on_epoch_end(self, epoch, logs):
                keras.append((epoch, dict(logs)))

        with classifier() as net:
            h = net.fit(X, Y, epochs=4, batch_size=32, validation_split=0.25, verbose=0,
                        callbacks=[seen.append, KerasStyle()])
        self.assertEqual([r.logs for r in seen], [r.logs for r in h.records])
        self.assertEqual([(r.epoch, r.logs) for r in h.records], keras)

    def test_a_keras_callback_setting_stop_training_stops_after_that_epoch(self):
        class StopAtTwo:
            stop_training = False

            def on_epoch_end(self, epoch, logs):
                self.stop_training = epoch == 1

        with classifier() as net:
            h = net.fit(X, Y, epochs=10, verbose=0, callbacks=[StopAtTwo()])
        self.assertEqual(len(h), 2)

    def test_input_grad_after_fit_is_the_last_mini_batch_unless_validation_ran_after_it(self):
        with classifier() as net:
            net.input_grad_enabled = True
            net.fit(X, Y, epochs=1, batch_size=50, verbose=0)  # 240 rows: 4 x 50, then 40
            self.assertEqual(len(list(net.input_grad().reshape(-1) if gf.HAVE_NUMPY else net.input_grad())), 40 * 4)
            net.fit(X, Y, epochs=1, batch_size=50, validation_split=0.25, verbose=0)
            with self.assertRaises(gf.StateError):
                net.input_grad()

    def test_diagnostics_put_the_net_verdict_in_every_epoch(self):
        with classifier() as net, net.diagnostics() as d:
            d.enable()
            h = net.fit(X, Y, epochs=2, verbose=0)
            self.assertEqual(gf.verdict_name(h.history["verdict"][-1]), d.verdict().kind)
        self.assertNotIn(gf.VerdictKind.UNKNOWN, h.history["verdict"])



INTERRUPTED_FIT = r"""
import json, os, signal, sys, threading, time
import gradflow as gf
rows = [[((i * 7 + j * 3) % 17 - 8) / 8.0 for j in range(30)] for i in range(2000)]
x, y = rows, [[r[0] * r[1], r[2]] for r in rows]
net = gf.Net(30, seed=1)
net.add_dense(64, "tanh")
net.add_dense(2)
net.fit(x, y, epochs=1, batch_size=16, verbose=0)  # warm: the timer below starts inside the long fit
begun = threading.Event()
def interrupt():  # Ctrl-C while C trains, after the fit has begun
    begun.wait(60)
    time.sleep(0.05)
    os.kill(os.getpid(), signal.SIGINT)
threading.Thread(target=interrupt, daemon=True).start()
epochs = []
def seen(record):
    epochs.append(record.epoch)
callbacks = [seen] if sys.argv[1] == "callback" else None
steps = net.steps
raised = None
begun.set()
try:
    net.fit(x, y, epochs=2000, batch_size=16, verbose=0, callbacks=callbacks)
except KeyboardInterrupt:
    raised = "KeyboardInterrupt"
out = net.predict(x[:1])  # the net stays usable: a (1, 2) array, or 2 floats without numpy
print(json.dumps({"raised": raised, "epochs": (net.steps - steps) // 125, "outputs": getattr(out, "size", len(out))}))
"""


class InterruptTest(unittest.TestCase):
    """Ctrl-C during fit: the loop runs in C, which Python cannot interrupt; the binding's per-epoch callback is
    where the KeyboardInterrupt surfaces."""

    def interrupted_fit(self, mode):
        from ._util import python_env
        p = subprocess.run([sys.executable, "-c", INTERRUPTED_FIT, mode], capture_output=True, text=True,
                           env=python_env(), timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        return p, json.loads(p.stdout.strip().splitlines()[-1])

    def test_ctrl_c_during_a_fit_with_a_callback_stops_it_and_raises_keyboard_interrupt(self):
        # Before: the interrupt fired as the callback's trampoline began, outside its try; ctypes printed
        # "Exception ignored on calling ctypes callback function" and the fit went on as if nothing happened.
        p, r = self.interrupted_fit("callback")
        self.assertEqual(r["raised"], "KeyboardInterrupt")
        self.assertLess(r["epochs"], 2000)
        self.assertNotIn("Exception ignored", p.stderr)
        self.assertEqual(r["outputs"], 2)

    def test_ctrl_c_during_a_fit_without_callbacks_stops_it_within_an_epoch(self):
        # Before: nothing ran Python until the C loop ended, so all 2000 epochs ran before the interrupt.
        p, r = self.interrupted_fit("none")
        self.assertEqual(r["raised"], "KeyboardInterrupt")
        self.assertLess(r["epochs"], 2000)
        self.assertNotIn("Exception ignored", p.stderr)

class EarlyStoppingTest(unittest.TestCase):
    def test_stops_patience_epochs_after_the_best_and_restores_its_weights(self):
        with classifier() as net:
            h = net.fit(X, Y, epochs=60, batch_size=16, validation_data=(VX, VY), verbose=0,
                        callbacks=[gf.EarlyStopping("val_accuracy", patience=4, restore_best_weights=True),
                                   gf.Schedule("cosine", lr=0.05, period=60)])
            self.assertLess(len(h), 60)
            self.assertEqual(h.best_epoch, h.stopped_epoch - 4)
            best = h.records[h.best_epoch]
            self.assertEqual(max(h.history["val_accuracy"]), best["val_accuracy"])
            loss, acc = net.evaluate(VX, VY, batch_size=16)
            self.assertEqual(acc, best["val_accuracy"])
            self.assertEqual(loss, best.val_loss)

    def test_monitor_names_the_first_metric_or_a_loss(self):
        with classifier() as net:
            net.add_metric("top_k", 2)
            for bad in ("val_top_2", "precision"):
                with self.subTest(monitor=bad), self.assertRaises(gf.InvalidArgumentError):
                    net.fit(X, Y, epochs=1, validation_split=0.2, verbose=0, callbacks=[gf.EarlyStopping(bad)])
            with self.assertRaises(gf.InvalidArgumentError):  # no validation to watch
                net.fit(X, Y, epochs=1, verbose=0, callbacks=[gf.EarlyStopping("val_loss")])
            self.assertEqual(net.steps, 0)

    def test_a_monitor_that_is_no_name_is_a_data_type_error_before_any_step(self):
        with classifier() as net:
            for bad in (["val_loss"], {"val_loss": 1}, b"loss"):
                with self.subTest(monitor=bad), self.assertRaisesRegex(gf.DataTypeError, "monitor must be a name"):
                    net.fit(X, Y, epochs=1, validation_split=0.2, verbose=0, monitor=bad)
            self.assertEqual(net.steps, 0)

    def test_validation_data_and_split_together_are_refused_before_any_step(self):
        with classifier() as net:
            with self.assertRaises(gf.InvalidArgumentError):
                net.fit(X, Y, epochs=1, validation_data=(VX, VY), validation_split=0.2, verbose=0)
            self.assertEqual(net.steps, 0)

    def test_patience_below_one_is_refused(self):
        with self.assertRaises(gf.InvalidArgumentError):
            gf.EarlyStopping(patience=0)


class EvaluateTest(unittest.TestCase):
    def test_evaluate_returns_loss_then_metrics_or_a_dict(self):
        with classifier() as net:
            self.assertIsInstance(gf.Net.evaluate(net, VX, VY), list)
            loss, acc = net.evaluate(VX, VY)
            d = net.evaluate(VX, VY, batch_size=7, return_dict=True)
            self.assertEqual(set(d), {"loss", "accuracy"})
            self.assertAlmostEqual(d["loss"], loss, places=12)
            self.assertEqual(d["accuracy"], acc)
            net.clear_metrics()
            self.assertIsInstance(net.evaluate(VX, VY), float)

    def test_accuracy_equals_a_reference_on_the_predictions(self):
        with classifier() as net:
            net.add_metric("top_k", 2)
            _, acc, top2 = net.evaluate(VX, VY)
            pred = [[float(v) for v in row] for row in net.predict(VX)] if gf.HAVE_NUMPY else None
            if pred is None:
                flat = list(net.predict(VX))
                pred = [flat[i * 3:i * 3 + 3] for i in range(len(VY))]
        ref_acc = sum(max(range(3), key=lambda j: p[j]) == t for p, t in zip(pred, VY)) / len(VY)
        ref_top2 = sum(sum(v > p[t] for v in p) < 2 for p, t in zip(pred, VY)) / len(VY)
        self.assertEqual(acc, ref_acc)
        self.assertEqual(top2, ref_top2)

    def test_metric_compute_matches_a_reference(self):
        rng = random.Random(4)
        pred = [[rng.uniform(-2, 2) for _ in range(3)] for _ in range(50)]
        target = [[rng.uniform(-2, 2) for _ in range(3)] for _ in range(50)]
        errs = [f32(p) - f32(t) for pr, tr in zip(pred, target) for p, t in zip(pr, tr)]
        self.assertAlmostEqual(gf.metric_compute(pred, target, "mae"), sum(map(abs, errs)) / 150, places=13)
        self.assertAlmostEqual(gf.metric_compute(pred, target, "rmse"),
                               math.sqrt(sum(e * e for e in errs) / 150), places=13)
        logits, labels = [[2.0], [-1.0], [0.5], [-0.2]], [[1.0], [1.0], [0.0], [0.0]]
        self.assertEqual(gf.metric_compute(logits, labels, "accuracy", loss="bce_logits"), 0.5)
        with self.assertRaises(gf.ShapeError):
            gf.metric_compute(pred, [0, 1], "accuracy", loss="softmax_ce_labels")


PARITY_C = r"""
#include <math.h>
#include <stdio.h>
#include "gradflow.h"
#define CHECK(call) do { int rc_ = (call); if (rc_) { fprintf(stderr, "%s: %s\n", #call, gf_last_error()); return 1; } } while (0)
static float x[240 * 4], y[240];
int main(void)
{
    FILE *f = fopen("data.txt", "r");
    for (int i = 0; i < 240 * 5; i++) {
        float v;
        if (fscanf(f, "%f", &v) != 1) return 2;
        if (i % 5 < 4) x[i / 5 * 4 + i % 5] = v; else y[i / 5] = v;
    }
    fclose(f);
    gf_net *net; gf_loss *loss; gf_optimizer *opt; gf_fit *fit; gf_schedule *s;
    CHECK(gf_net_create(&net, 4, 3));
    CHECK(gf_net_add_dense(net, 16, GF_ACT_TANH, NULL));
    CHECK(gf_net_add_dense(net, 3, GF_ACT_IDENTITY, NULL));
    CHECK(gf_loss_create(&loss, GF_LOSS_SOFTMAX_CE_LABELS));
    CHECK(gf_net_set_loss(net, loss));
    gf_loss_destroy(loss);
    CHECK(gf_optimizer_create(&opt, GF_OPT_ADAM, 0.05));
    CHECK(gf_net_set_optimizer(net, opt));
    CHECK(gf_net_add_metric(net, GF_METRIC_ACCURACY, NAN));
    CHECK(gf_fit_create(&fit));
    CHECK(gf_fit_set(fit, GF_FIT_EPOCHS, 40));
    CHECK(gf_fit_set(fit, GF_FIT_BATCH, 16));
    CHECK(gf_fit_set(fit, GF_FIT_VALIDATION_SPLIT, 0.25));
    CHECK(gf_fit_set(fit, GF_FIT_PATIENCE, 4));
    CHECK(gf_fit_set(fit, GF_FIT_MONITOR, GF_MONITOR_VAL_METRIC));
    CHECK(gf_fit_set(fit, GF_FIT_RESTORE_BEST, 1));
    CHECK(gf_schedule_create(&s, GF_SCHED_COSINE, 0.05));
    CHECK(gf_schedule_set(s, GF_SCHED_PERIOD, 40));
    CHECK(gf_schedule_set(s, GF_SCHED_WARMUP, 2));
    CHECK(gf_fit_set_schedule(fit, s));
    CHECK(gf_net_fit_v2(net, x, 240 * 4, y, 240, 240, fit));
    for (int e = 0; e < gf_net_epoch_count(net); e++) {
        gf_epoch_record r = {.size = sizeof r};
        CHECK(gf_net_epoch_record(net, e, &r));
        printf("%d %.17g %.17g %.17g %.17g %.17g %lld %d\n", r.epoch, r.loss, r.metric, r.val_loss, r.val_metric, r.lr,
               (long long)r.steps, r.best_epoch);
    }
    float w[64];
    CHECK(gf_layer_get_weights(gf_net_layer(net, 0), w, 64));
    for (int i = 0; i < 64; i++) printf("w %.9g\n", (double)w[i]);
    gf_schedule_destroy(s);
    gf_fit_destroy(fit);
    gf_net_destroy(net);
    return 0;
}
"""


def python_parity_run():
    lines = []
    with classifier() as net:
        h = net.fit(X, Y, epochs=40, batch_size=16, validation_split=0.25, verbose=0, monitor="val_accuracy",
                    callbacks=[gf.EarlyStopping("val_accuracy", patience=4, restore_best_weights=True)],
                    schedule=gf.Schedule("cosine", lr=0.05, period=40, warmup=2))
        for r in h.records:
            lines.append("%d %.17g %.17g %.17g %.17g %.17g %d %d" % (
                r.epoch, r.loss, r["accuracy"], r.val_loss, r["val_accuracy"], r.lr, r.steps, r.best_epoch))
        w = net[0].weights
        lines += ["w %.9g" % float(v) for v in (w.reshape(-1) if gf.HAVE_NUMPY else w)]
    return lines


@unittest.skipUnless(shutil.which("cc") and os.path.exists(STATIC_LIB), "needs cc and libgradflow.a (run make)")
class CParityTest(unittest.TestCase):
    def test_python_fit_reproduces_the_c_fit_bit_for_bit(self):
        with tempfile.TemporaryDirectory() as tmp:
            with open(os.path.join(tmp, "data.txt"), "w") as f:
                for row, label in zip(X, Y):
                    f.write(" ".join("%.9g" % v for v in row) + " %d\n" % label)
            src, exe = os.path.join(tmp, "parity.c"), os.path.join(tmp, "parity")
            with open(src, "w") as f:
                f.write(PARITY_C)
            subprocess.run(["cc", "-std=c11", "-O2", "-I", os.path.join(ROOT, "include"), src, "-o", exe, STATIC_LIB,
                            "-lm", "-lpthread"], check=True, capture_output=True, timeout=120)
            out = subprocess.run([exe], check=True, capture_output=True, text=True, timeout=60, cwd=tmp).stdout
        c_lines = [l for l in out.split("\n") if l]
        py_lines = python_parity_run()
        self.assertGreater(len(c_lines), 64 + 5)
        self.assertEqual(c_lines, py_lines)


def torch_or_skip(test):
    try:
        import torch  # noqa: F401
    except ImportError:
        test.skipTest("PyTorch is not installed: the schedules are checked against their formulas only")
    import torch
    return torch


class ScheduleTest(unittest.TestCase):
    def torch_rates(self, make, units, base=0.1):
        torch = torch_or_skip(self)
        p = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([p], lr=base)
        sched = make(torch.optim.lr_scheduler, opt)
        rates = []
        with warnings.catch_warnings():  # SequentialLR steps its schedulers with an epoch, which torch deprecates
            warnings.simplefilter("ignore", UserWarning)
            for _ in range(units):
                rates.append(opt.param_groups[0]["lr"])
                opt.step()
                sched.step()
        return rates

    def assert_rates(self, ours, theirs):
        self.assertEqual(len(ours), len(theirs))
        for t, (a, b) in enumerate(zip(ours, theirs)):
            self.assertAlmostEqual(a, b, delta=1e-12 * max(1.0, abs(b)), msg="unit %d" % t)

    def test_step_matches_torch_step_lr(self):
        s = gf.Schedule("step", lr=0.1, period=3, gamma=0.5)
        self.assert_rates([s.lr(t) for t in range(30)],
                          self.torch_rates(lambda m, o: m.StepLR(o, step_size=3, gamma=0.5), 30))

    def test_exponential_matches_torch_exponential_lr(self):
        s = gf.Schedule("exponential", lr=0.1, gamma=0.9)
        self.assert_rates([s.lr(t) for t in range(40)],
                          self.torch_rates(lambda m, o: m.ExponentialLR(o, gamma=0.9), 40))

    def test_cosine_matches_torch_cosine_annealing_lr_up_to_t_max(self):
        s = gf.Schedule("cosine", lr=0.1, period=25, min_lr=0.001)
        self.assert_rates([s.lr(t) for t in range(26)],
                          self.torch_rates(lambda m, o: m.CosineAnnealingLR(o, T_max=25, eta_min=0.001), 26))

    def test_warm_restarts_match_torch_cosine_annealing_warm_restarts(self):
        s = gf.Schedule("cosine", lr=0.1, period=3, restart_mult=2, min_lr=0.0005)
        self.assert_rates([s.lr(t) for t in range(50)], self.torch_rates(
            lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.0005), 50))

    def test_warm_up_then_step_matches_torch_linear_lr_then_step_lr(self):
        s = gf.Schedule("step", lr=0.1, period=4, gamma=0.3, warmup=5, warmup_start=0.25)

        def make(m, o):
            return m.SequentialLR(o, [m.LinearLR(o, start_factor=0.25, total_iters=5),
                                      m.StepLR(o, step_size=4, gamma=0.3)], milestones=[5])
        self.assert_rates([s.lr(t) for t in range(30)], self.torch_rates(make, 30))

    def test_plateau_matches_torch_reduce_lr_on_plateau(self):
        torch = torch_or_skip(self)
        values = [1.0, 0.9, 0.95, 0.9, 0.91, 0.92, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.4, 0.45, 0.45, 0.45, 0.45]
        for mode in ("min", "max"):
            with self.subTest(mode=mode):
                s = gf.Schedule("plateau", lr=0.1, patience=2, gamma=0.5, cooldown=1, min_lr=0.01, mode=mode)
                p = torch.zeros(1, requires_grad=True)
                opt = torch.optim.SGD([p], lr=0.1)
                ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode=mode, factor=0.5, patience=2, cooldown=1,
                                                                 min_lr=0.01)
                ours, theirs = [], []
                for v in values:
                    ours.append(s.observe(v))
                    ref.step(v)
                    theirs.append(opt.param_groups[0]["lr"])
                self.assert_rates(ours, theirs)

    def test_a_plateau_schedule_is_per_epoch_only(self):
        with self.assertRaises(gf.InvalidArgumentError):
            gf.Schedule("plateau", lr=0.1, per_step=True)

    def test_a_net_after_a_cosine_fit_down_to_rate_zero_unpickles_with_that_rate(self):
        with classifier() as net:
            net.fit(X, Y, epochs=5, batch_size=60, verbose=0, schedule=gf.Schedule("cosine", lr=0.05, period=3))
            self.assertEqual(net.optimizer.lr, 0.0)
            with pickle.loads(pickle.dumps(net)) as back:
                self.assertEqual(back.optimizer.lr, 0.0)

    def test_a_schedule_rate_beyond_the_float_range_stops_fit_with_finite_weights(self):
        with classifier() as net:
            with self.assertRaisesRegex(gf.InvalidArgumentError, r"epoch 1 .*\[0, 3\.4e38\]"):
                net.fit(X, Y, epochs=3, batch_size=60, verbose=0,
                        schedule=gf.Schedule("exponential", lr=0.05, gamma=1e300))
            self.assertTrue(all(math.isfinite(v) for v in _util.flat(net.layer(0).get_weights())))


class ProgressTest(unittest.TestCase):
    def test_progress_bar_is_redrawn_in_place_on_a_terminal(self):
        master, slave = pty.openpty()
        sys.stderr.flush()
        saved = os.dup(2)
        try:
            os.dup2(slave, 2)
            with classifier() as net:
                net.fit(X, Y, epochs=2, batch_size=8, validation_split=0.25, verbose=1)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(slave)
        text = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            text += chunk
        os.close(master)
        lines = text.decode().replace("\r\n", "\n").split("\n")
        self.assertEqual(len([l for l in lines if l]), 2)  # one finished line per epoch
        self.assertTrue(lines[0].startswith("\repoch 1/2 [") or "\repoch 1/2 [" in lines[0], lines[0])
        self.assertIn("val_accuracy", lines[1])
        self.assertIn("ETA", lines[1])


if __name__ == "__main__":
    unittest.main()
