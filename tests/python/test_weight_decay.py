"""PyTorch's weight_decay, reproduced as docs/api.md ("Penalties") says: the optimizer's
GF_OPT_WEIGHT_DECAY decays every parameter and leaves the loss alone; an L2 penalty with
include_bias takes the same steps but adds 0.5*wd*sum(p^2) to the reported loss."""
import random
import sys
import unittest

from . import _util  # noqa: F401 (puts python/ on sys.path first)
from ._util import flat

import gradflow as gf

WD = 0.1
SIZES = (3, 5, 2)


def data(n=8, seed=3):
    rng = random.Random(seed)
    x = [[rng.uniform(-1, 1) for _ in range(SIZES[0])] for _ in range(n)]
    y = [[rng.uniform(-1, 1) for _ in range(SIZES[-1])] for _ in range(n)]
    return x, y


def build(kind, decay_by):
    """A 3-5-2 tanh net on `kind`, with the decay given by the optimizer or by a penalty."""
    net = gf.Net(SIZES[0], seed=7)
    net.add_dense(SIZES[1], "tanh")
    net.add_dense(SIZES[2])
    if decay_by == "optimizer":
        net.set_optimizer(kind, lr=0.05, weight_decay=WD)
    else:
        net.set_optimizer(kind, lr=0.05)
        with gf.Penalty(l2=WD, include_bias=True) as p:
            net.set_penalty(p)
    return net


def params(net):
    out = []
    for layer in net:
        out += flat(layer.get_weights()) + flat(layer.get_bias())
    return out


def train(net, steps=20):
    x, y = data()
    return [net.train_step(x, y) for _ in range(steps)]


class WeightDecayTest(unittest.TestCase):
    def test_l2_penalty_with_biases_takes_the_steps_of_the_optimizer_decay(self):
        for kind in ("sgd", "momentum", "adam"):
            with self.subTest(kind=kind), build(kind, "optimizer") as a, build(kind, "penalty") as b:
                train(a)
                train(b)
                for u, v in zip(params(a), params(b)):
                    self.assertAlmostEqual(u, v, delta=1e-5)

    def test_l2_penalty_reports_the_decay_in_the_loss_and_the_optimizer_does_not(self):
        x, y = data()
        with build("sgd", "optimizer") as a, build("sgd", "penalty") as b:
            decay = 0.5 * WD * sum(v * v for v in params(b))
            self.assertAlmostEqual(b.evaluate(x, y) - a.evaluate(x, y), decay, places=5)

    def test_optimizer_weight_decay_equals_torch(self):
        try:
            import torch
        except ImportError:
            self.skipTest("torch is not installed for %s" % sys.executable)
        x, y = data()
        tx, ty = torch.tensor(x), torch.tensor(y)
        for kind, make in (("sgd", lambda p: torch.optim.SGD(p, lr=0.05, weight_decay=WD)),
                           ("momentum", lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=WD)),
                           ("adam", lambda p: torch.optim.Adam(p, lr=0.05, weight_decay=WD))):
            with self.subTest(kind=kind), build(kind, "optimizer") as net:
                model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
                with torch.no_grad():
                    for lin, layer in zip((model[0], model[2]), net):
                        lin.weight.copy_(torch.tensor(flat(layer.get_weights())).reshape(lin.weight.shape))
                        lin.bias.copy_(torch.tensor(flat(layer.get_bias())))
                opt = make(model.parameters())
                for ours in train(net):
                    opt.zero_grad()
                    loss = torch.nn.functional.mse_loss(model(tx), ty)
                    loss.backward()
                    opt.step()
                    self.assertAlmostEqual(ours, loss.item(), delta=1e-5)  # no decay term in either loss
                theirs = []
                for lin in (model[0], model[2]):
                    theirs += lin.weight.detach().reshape(-1).tolist() + lin.bias.detach().tolist()
                for u, v in zip(params(net), theirs):
                    self.assertAlmostEqual(u, v, delta=1e-5)


if __name__ == "__main__":
    unittest.main()
