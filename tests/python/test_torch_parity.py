"""Parity with PyTorch where the other suites stop: every optimizer with its non-default options over many steps
(torch.optim), every loss and its parameters (torch.nn.functional), clipping by value and per layer inside
training, the fans the initializers use on grouped convolutions (torch.nn.init), two stacked recurrent layers
(num_layers=2), and truncation together with lengths and an initial state."""
import math
import unittest

from . import _util  # noqa: F401 (puts python/ on sys.path first)

import gradflow as gf

try:
    import torch
except ImportError:
    torch = None

try:
    import numpy as np
except ImportError:
    np = None

SKIP = torch is None or np is None or not gf.HAVE_NUMPY
WHY = "python3-torch (or numpy) is not available: PyTorch parity skipped"


def _mlp(seed=7, sizes=(3, 5, 2)):
    """A 3-5-2 tanh net and the torch.nn.Sequential holding the same weights."""
    net = gf.Net(sizes[0], seed=seed)
    net.add_dense(sizes[1], "tanh")
    net.add_dense(sizes[2])
    model = torch.nn.Sequential(torch.nn.Linear(sizes[0], sizes[1]), torch.nn.Tanh(),
                                torch.nn.Linear(sizes[1], sizes[2]))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in net.state_dict().items()})
    return net, model


def _largest_gap(net, model):
    """Largest difference between the two nets' parameters, relative to each tensor's largest value."""
    ours, theirs = net.state_dict(), model.state_dict()
    return max(float(np.abs(np.asarray(ours[k]) - theirs[k].numpy()).max() / np.abs(theirs[k].numpy()).max())
               for k in theirs)


def _copy_blocks(ours, theirs, rename=lambda name: name):
    with torch.no_grad():
        for name in ours.param_names:
            p = getattr(theirs, rename(name))
            p.copy_(torch.from_numpy(np.asarray(ours.get_param(name), dtype=np.float32).reshape(p.shape)))


@unittest.skipIf(SKIP, WHY)
class OptimizerParityTest(unittest.TestCase):
    """30 full-batch steps of MSE on a 3-5-2 tanh net: every kind, with its options away from their defaults."""

    CASES = (
        ("momentum", dict(lr=0.1, momentum=0.5, weight_decay=0.05),
         lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.5, weight_decay=0.05)),
        ("nesterov", dict(lr=0.1, momentum=0.7, weight_decay=0.05),
         lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.7, nesterov=True, weight_decay=0.05)),
        ("rmsprop", dict(lr=0.01, rho=0.9, eps=1e-3, weight_decay=0.05),
         lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-3, weight_decay=0.05)),
        ("adagrad", dict(lr=0.1, eps=1e-2, weight_decay=0.05),
         lambda p: torch.optim.Adagrad(p, lr=0.1, eps=1e-2, weight_decay=0.05)),
        ("adam", dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-3, weight_decay=0.05),
         lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.05)),
        ("adam", dict(lr=0.01, beta1=0.0, beta2=0.9, eps=0.1),  # eps outside the bias-corrected sqrt
         lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.0, 0.9), eps=0.1)),
        ("adamw", dict(lr=0.01, beta1=0.8, beta2=0.99, eps=1e-3, weight_decay=0.3),
         lambda p: torch.optim.AdamW(p, lr=0.01, betas=(0.8, 0.99), eps=1e-3, weight_decay=0.3)),
    )

    def test_every_optimizer_with_its_options_follows_torch_optim(self):
        rng = np.random.default_rng(2)
        x = rng.uniform(-1, 1, (8, 3)).astype(np.float32)
        y = rng.uniform(-1, 1, (8, 2)).astype(np.float32)
        for kind, params, make in self.CASES:
            with self.subTest(kind=kind, **params):
                net, model = _mlp()
                with net:
                    net.set_optimizer(kind, **params)
                    opt = make(model.parameters())
                    for _ in range(30):
                        ours = net.train_step(x, y)
                        opt.zero_grad()
                        loss = torch.nn.functional.mse_loss(model(torch.from_numpy(x)), torch.from_numpy(y))
                        loss.backward()
                        opt.step()
                        self.assertAlmostEqual(ours, loss.item(), delta=1e-5 * loss.item())
                    self.assertLess(_largest_gap(net, model), 1e-5)

    def test_clipping_inside_training_is_applied_before_the_optimizer_as_torch_users_do(self):
        # clip_grad_value_ / clip_grad_norm_ (per module for the layer mode) between backward() and step(); the
        # optimizer's own weight decay comes after the clipping, as in torch.optim.
        rng = np.random.default_rng(4)
        x = rng.uniform(-1, 1, (8, 3)).astype(np.float32)
        y = (3 * rng.uniform(-1, 1, (8, 2))).astype(np.float32)
        clips = {"value": lambda m: torch.nn.utils.clip_grad_value_(m.parameters(), 0.05),
                 "norm": lambda m: torch.nn.utils.clip_grad_norm_(m.parameters(), 0.1),
                 "layer_norm": lambda m: [torch.nn.utils.clip_grad_norm_(m[i].parameters(), 0.1) for i in (0, 2)]}
        cases = (("value", 0.05, "adam", lambda p: torch.optim.Adam(p, lr=0.05, weight_decay=0.1)),
                 ("norm", 0.1, "adamw", lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.1)),
                 ("layer_norm", 0.1, "momentum", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=0.1)))
        for mode, value, kind, make in cases:
            with self.subTest(mode=mode, kind=kind):
                net, model = _mlp()
                with net:
                    net.set_optimizer(kind, lr=0.05, weight_decay=0.1)
                    net.set_clip(mode, value)
                    opt = make(model.parameters())
                    for _ in range(15):
                        net.train_step(x, y)
                        opt.zero_grad()
                        torch.nn.functional.mse_loss(model(torch.from_numpy(x)), torch.from_numpy(y)).backward()
                        clips[mode](model)
                        opt.step()
                    self.assertLess(_largest_gap(net, model), 1e-5)


@unittest.skipIf(SKIP, WHY)
class LossParityTest(unittest.TestCase):
    """Loss.compute against torch.nn.functional with reduction='mean': the value and d value / d pred."""

    def _check(self, loss, pred, target, fn, width=None):
        value, grad = loss.compute(pred, target, width=width)
        pt = torch.from_numpy(pred).requires_grad_()
        theirs = fn(pt)
        theirs.backward()
        self.assertAlmostEqual(value, theirs.item(), delta=1e-6 * abs(theirs.item()))
        np.testing.assert_allclose(np.asarray(grad).reshape(pred.shape), pt.grad.numpy(), rtol=1e-5, atol=1e-8)

    def test_every_loss_and_parameter_matches_torch_functional(self):
        F = torch.nn.functional
        rng = np.random.default_rng(1)
        n, c = 5, 4
        for scale in (1.0, 3.0):
            pred = (scale * rng.standard_normal((n, c))).astype(np.float32)
            target = rng.standard_normal((n, c)).astype(np.float32)
            pred[0, 0] = target[0, 0]  # d == 0: MAE's gradient is 0 there, as sign(0) in torch
            probs = rng.uniform(0, 1, (n, c)).astype(np.float32)
            labels = rng.integers(0, c, n)
            tt = torch.from_numpy(target)
            with self.subTest(scale=scale, loss="mse"), gf.Loss("mse") as loss:
                self._check(loss, pred, target, lambda p: F.mse_loss(p, tt))
            with self.subTest(scale=scale, loss="mae"), gf.Loss("mae") as loss:
                self._check(loss, pred, target, lambda p: F.l1_loss(p, tt))
            for delta in (0.1, 0.5, 1.0, 2.0):
                with self.subTest(scale=scale, loss="huber", delta=delta), gf.Loss("huber", delta=delta) as loss:
                    self._check(loss, pred, target, lambda p: F.huber_loss(p, tt, delta=delta))
            with self.subTest(scale=scale, loss="bce_logits"), gf.Loss("bce_logits") as loss:
                self._check(loss, pred, probs, lambda p: F.binary_cross_entropy_with_logits(p, torch.from_numpy(probs)))
            with self.subTest(scale=scale, loss="softmax_ce_labels"), gf.Loss("softmax_ce_labels") as loss:
                self._check(loss, pred, labels.astype(np.float32).reshape(n, 1),
                            lambda p: F.cross_entropy(p, torch.from_numpy(labels)), width=c)
            for norm in (True, False):  # probability targets are used as given, as torch does
                rows = probs / probs.sum(1, keepdims=True) if norm else 1.7 * probs
                with self.subTest(scale=scale, loss="softmax_ce", normalised=norm), gf.Loss("softmax_ce") as loss:
                    self._check(loss, pred, rows, lambda p: F.cross_entropy(p, torch.from_numpy(rows)))

    def test_per_step_losses_of_every_kind_match_torch_on_the_steps(self):
        # A dense layer on every step of a sequence, then a loss per step: the value and every gradient.
        F = torch.nn.functional
        rng = np.random.default_rng(5)
        n, t, f, c = 3, 6, 4, 4
        x = rng.uniform(-1, 1, (n, t, f)).astype(np.float32)
        probs = rng.uniform(0, 1, (n, t, c)).astype(np.float32)
        probs /= probs.sum(-1, keepdims=True)
        real = rng.standard_normal((n, t, c)).astype(np.float32)
        cases = (("softmax_ce", {}, probs,
                  lambda o: F.cross_entropy(o.reshape(-1, c), torch.from_numpy(probs).reshape(-1, c))),
                 ("bce_logits", {}, probs, lambda o: F.binary_cross_entropy_with_logits(o, torch.from_numpy(probs))),
                 ("huber", {"delta": 0.3}, real, lambda o: F.huber_loss(o, torch.from_numpy(real), delta=0.3)),
                 ("mae", {}, real, lambda o: F.l1_loss(o, torch.from_numpy(real))))
        for kind, kw, target, fn in cases:
            with self.subTest(loss=kind), gf.Net((t, f), seed=9, kind="sequence") as net:
                net.input_grad_enabled = True
                layer = net.add_dense(c, "tanh")
                net.set_loss(kind, per_step=True, **kw)
                lin = torch.nn.Linear(f, c)
                _copy_blocks(layer, lin)
                net.forward(x)
                ours = net.backward(target)
                xt = torch.from_numpy(x).requires_grad_()
                theirs = fn(torch.tanh(lin(xt)))
                theirs.backward()
                self.assertAlmostEqual(ours, theirs.item(), delta=1e-5 * theirs.item())
                for name, p in lin.named_parameters():
                    np.testing.assert_allclose(np.asarray(layer.get_param_grad(name)).reshape(p.shape), p.grad.numpy(),
                                               rtol=1e-4, atol=1e-7, err_msg=name)
                np.testing.assert_allclose(np.asarray(net.input_grad()).reshape(x.shape), xt.grad.numpy(),
                                           rtol=1e-4, atol=1e-7)


@unittest.skipIf(SKIP, WHY)
class InitFanParityTest(unittest.TestCase):
    """Grouped convolutions: the initializers' variances are those torch.nn.init gives the same weight tensor
    (fan_in = C/groups * kh * kw, fan_out = out * kh * kw)."""

    def test_conv_initializers_use_torch_fans_with_groups(self):
        from torch.nn.init import _calculate_fan_in_and_fan_out as fans
        cases = (("xavier_uniform", {}, lambda fi, fo: 2.0 / (fi + fo)),
                 ("xavier_normal", {"gain": 2.0}, lambda fi, fo: 8.0 / (fi + fo)),
                 ("he_uniform", {}, lambda fi, fo: 2.0 / fi),
                 ("he_normal", {"mode": "fan_out"}, lambda fi, fo: 2.0 / fo),
                 ("lecun_normal", {}, lambda fi, fo: 1.0 / fi),
                 ("default", {}, lambda fi, fo: 1.0 / (3.0 * fi)))
        for dims, kind, add, module in (((12, 9, 9), "image", lambda n: n.add_conv2d(96, (3, 5), groups=3),
                                         torch.nn.Conv2d(12, 96, (3, 5), groups=3)),
                                        ((8, 40), "signal", lambda n: n.add_conv1d(128, 7, groups=2),
                                         torch.nn.Conv1d(8, 128, 7, groups=2))):
            fan_in, fan_out = fans(module.weight)
            for init, kw, variance in cases:
                with self.subTest(layer=type(module).__name__, init=init, **kw), \
                        gf.Net(dims, seed=1, kind=kind) as net:
                    layer = add(net)
                    layer.set_weight_init(gf.Init(init, **kw))
                    w = np.asarray(layer.get_param("weight"), dtype=np.float64)
                    self.assertEqual(w.size, module.weight.numel())
                    want = variance(fan_in, fan_out)
                    self.assertLess(abs(w.var() / want - 1.0), 0.06,
                                    "%s: variance %g, torch %g" % (init, w.var(), want))
                    if "uniform" in init or init == "default":
                        bound = math.sqrt(3.0 * want)
                        self.assertLessEqual(np.abs(w).max(), bound * (1 + 1e-6))
                        self.assertGreater(np.abs(w).max(), bound * 0.99)


@unittest.skipIf(SKIP, WHY)
class RecurrentCombinationParityTest(unittest.TestCase):

    def test_two_stacked_layers_match_torch_num_layers_two(self):
        # layer l's blocks are torch's *_l{l}; with per-sample lengths set on both, as pack_padded_sequence.
        rng = np.random.default_rng(11)
        n, t, f, h = 3, 7, 4, 5
        for kind in ("rnn", "lstm", "gru"):
            for lengths in (None, [7, 3, 5]):
                with self.subTest(kind=kind, lengths=lengths), gf.Net((t, f), seed=2, kind="sequence") as net:
                    net.input_grad_enabled = True
                    first = getattr(net, "add_" + kind)(h, return_sequences=True)
                    second = getattr(net, "add_" + kind)(h)
                    if lengths:
                        first.set_lengths(lengths)
                        second.set_lengths(lengths)
                    tm = getattr(torch.nn, kind.upper())(f, h, num_layers=2, batch_first=True)
                    _copy_blocks(first, tm)
                    _copy_blocks(second, tm, lambda name: name.replace("_l0", "_l1"))
                    x = rng.standard_normal((n, t, f)).astype(np.float32)
                    y = np.asarray(net.forward(x))
                    g = rng.standard_normal(y.shape).astype(np.float32)
                    net.backward_from(g)
                    xt = torch.from_numpy(x).requires_grad_()
                    if lengths:
                        xs = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=True,
                                                                     enforce_sorted=False)
                    else:
                        xs = xt
                    _, hn = tm(xs)
                    last = (hn[0] if kind == "lstm" else hn)[1]
                    last.backward(torch.from_numpy(g))
                    np.testing.assert_allclose(y, last.detach().numpy(), rtol=1e-5, atol=1e-6)
                    for layer, suffix in ((first, "_l0"), (second, "_l1")):
                        for name in layer.param_names:
                            p = getattr(tm, name.replace("_l0", suffix))
                            np.testing.assert_allclose(np.asarray(layer.get_param_grad(name)).reshape(p.shape),
                                                       p.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name + suffix)
                    np.testing.assert_allclose(np.asarray(net.input_grad()).reshape(x.shape), xt.grad.numpy(),
                                               rtol=1e-4, atol=1e-6)

    def test_truncation_with_lengths_and_an_initial_state_matches_torch_step_by_step(self):
        # torch one step at a time: a sample past its length holds its state (pack_padded_sequence) and gives 0,
        # and the state is detached at T-k, T-2k, ... (the boundaries counted from the last step, for every sample).
        rng = np.random.default_rng(14)
        n, t, f, h, k = 5, 9, 2, 4, 4
        lengths = [9, 4, 6, 1, 8]
        for kind in ("rnn", "lstm", "gru"):
            for seq in (False, True):
                with self.subTest(kind=kind, return_sequences=seq), gf.Net((t, f), seed=1, kind="sequence") as net:
                    net.input_grad_enabled = True
                    layer = getattr(net, "add_" + kind)(h, return_sequences=seq, truncate=k)
                    layer.set_lengths(lengths)
                    tm = getattr(torch.nn, kind.upper())(f, h, batch_first=True)
                    _copy_blocks(layer, tm)
                    x = rng.standard_normal((n, t, f)).astype(np.float32)
                    s0 = rng.uniform(-0.5, 0.5, (2, n, h)).astype(np.float32)
                    layer.set_initial_state(s0 if kind == "lstm" else s0[0])
                    y = np.asarray(net.forward(x))
                    g = rng.standard_normal(y.shape).astype(np.float32)
                    net.backward_from(g)

                    xt = torch.from_numpy(x).requires_grad_()
                    h0 = torch.from_numpy(s0[:1]).clone().requires_grad_()
                    c0 = torch.from_numpy(s0[1:]).clone().requires_grad_()
                    hs, cs = h0, c0
                    mask = torch.tensor([[1.0 if i < n_ else 0.0 for i in range(t)] for n_ in lengths])
                    outs = []
                    for i in range(t):
                        if i > 0 and (t - i) % k == 0:
                            hs, cs = hs.detach(), cs.detach()
                        if kind == "lstm":
                            o, (hn, cn) = tm(xt[:, i:i + 1], (hs, cs))
                        else:
                            (o, hn), cn = tm(xt[:, i:i + 1], hs), cs
                        m = mask[:, i].reshape(1, n, 1)
                        hs, cs = m * hn + (1 - m) * hs, m * cn + (1 - m) * cs
                        outs.append(o[:, 0] * mask[:, i:i + 1])
                    out = torch.stack(outs, 1) if seq else hs[0]
                    out.backward(torch.from_numpy(g).reshape(out.shape))
                    np.testing.assert_allclose(y.reshape(out.shape), out.detach().numpy(), rtol=1e-5, atol=1e-6)
                    for name, p in tm.named_parameters():
                        np.testing.assert_allclose(np.asarray(layer.get_param_grad(name)).reshape(p.shape),
                                                   p.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)
                    np.testing.assert_allclose(np.asarray(net.input_grad()).reshape(x.shape), xt.grad.numpy(),
                                               rtol=1e-4, atol=1e-6)
                    grads = [v.grad if v.grad is not None else torch.zeros_like(v) for v in (h0, c0)]
                    theirs = torch.cat(grads).numpy() if kind == "lstm" else grads[0].numpy()[0]
                    np.testing.assert_allclose(np.asarray(layer.initial_state_grad()).reshape(theirs.shape), theirs,
                                               rtol=1e-4, atol=1e-6)
                    final = torch.cat([hs, cs]) if kind == "lstm" else hs[0]
                    np.testing.assert_allclose(np.asarray(layer.final_state()).reshape(final.shape),
                                               final.detach().numpy(), rtol=1e-5, atol=1e-6)


if __name__ == "__main__":
    unittest.main()
