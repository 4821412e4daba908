"""One class at a time: Activation, Init, Loss, Penalty, Optimizer, Dense, Net."""
import array
import math
import os
import sys
import tempfile
import unittest

from . import _util  # noqa: F401 (puts python/ on sys.path first)
from ._util import check_output_type, flat

import gradflow as gf


class ActivationTest(unittest.TestCase):
    def test_get_of_a_parameter_the_kind_does_not_have_is_none(self):
        with gf.Activation("relu") as a:
            self.assertIsNone(a.get("slope"))
            self.assertIsNone(a.alpha)

    def test_relu_applies_and_differentiates(self):
        with gf.Activation("relu") as a:
            self.assertEqual(flat(a.apply([-1.0, 0.5, 2.0])), [0.0, 0.5, 2.0])
            self.assertEqual(flat(a.derivative([-1.0, 0.5])), [0.0, 1.0])

    def test_kind_and_name_round_trip(self):
        for kind in gf.ActivationKind:
            with self.subTest(kind=kind.name), gf.Activation(kind) as a:
                self.assertEqual(a.kind, kind)
                self.assertEqual(a.name, kind.name.lower())
                self.assertEqual(gf.Activation.name_of(kind), a.name)

    def test_leaky_relu_slope_is_settable(self):
        with gf.Activation("leaky_relu", slope=0.2) as a:
            self.assertAlmostEqual(a.slope, 0.2)
            self.assertAlmostEqual(flat(a.apply([-10.0]))[0], -2.0, places=5)

    def test_elu_alpha_property(self):
        with gf.Activation("elu") as a:
            self.assertEqual(a.alpha, 1.0)
            a.alpha = 0.5
            self.assertEqual(a.get(gf.ActivationParam.ALPHA), 0.5)

    def test_apply_keeps_the_input_shape(self):
        with gf.Activation("tanh") as a:
            check_output_type(self, a.apply([[0.0, 1.0], [2.0, 3.0]]), (2, 2))

    def test_empty_input_gives_empty_output(self):
        with gf.Activation("sigmoid") as a:
            self.assertEqual(flat(a.apply([])), [])

    def test_unknown_name_lists_the_known_ones(self):
        with self.assertRaisesRegex(gf.InvalidArgumentError, "relu"):
            gf.Activation("swishy")

    def test_elu_and_selu_dense_input_gradient_matches_torch_far_below_zero(self):
        # Where alpha e^x is tiny next to alpha, a slope taken as y + alpha from the float output cancels
        # (elu'(-20) was 0); torch's nn.ELU / nn.SELU take it from the input.  Weight 1 and bias 0 make the
        # input gradient dy f'(x) with one float rounding.
        try:
            import torch
        except ImportError:
            self.skipTest("torch is not installed for %s" % sys.executable)
        xs, dy = [-8.0, -12.0, -20.0, -30.0], [0.75, -1.5, 2.0, 0.5]
        cases = (("elu", {}, torch.nn.ELU()), ("elu", {"alpha": 0.3}, torch.nn.ELU(alpha=0.3)),
                 ("selu", {}, torch.nn.SELU()))
        for name, kw, module in cases:
            with self.subTest(activation=name, **kw), gf.Activation(name, **kw) as act, gf.Net(1, seed=1) as net:
                layer = net.add_dense(1, act)
                layer.set_param("weight", [1.0])
                layer.set_param("bias", [0.0])
                net.input_grad_enabled = True
                net.forward([[v] for v in xs])
                net.backward_from([[g] for g in dy])
                xt = torch.tensor(xs, dtype=torch.float64, requires_grad=True)
                module(xt).backward(torch.tensor(dy, dtype=torch.float64))
                for x, ours, want in zip(xs, flat(net.input_grad()), xt.grad.tolist()):
                    self.assertLessEqual(abs(ours - want), 2.5e-7 * abs(want), "x = %g: %.8e vs %.8e" % (x, ours, want))


class InitTest(unittest.TestCase):
    def test_fill_is_deterministic_per_seed(self):
        with gf.Init("he_normal") as i:
            a, b, c = i.fill(4, 5, seed=7), i.fill(4, 5, seed=7), i.fill(4, 5, seed=8)
            check_output_type(self, a, (4, 5))
            self.assertEqual(flat(a), flat(b))
            self.assertNotEqual(flat(a), flat(c))

    def test_constant_fills_its_value(self):
        with gf.Init("constant", a=0.1) as i:
            self.assertEqual(set(flat(i.fill(2, 3))), {array.array("f", [0.1])[0]})

    def test_uniform_stays_in_range(self):
        with gf.Init("uniform", a=-0.5, b=0.25) as i:
            vals = flat(i.fill(10, 10, seed=3))
            self.assertTrue(all(-0.5 <= v <= 0.25 for v in vals))

    def test_gain_matches_pytorch(self):
        self.assertAlmostEqual(gf.Init.gain("relu"), math.sqrt(2))
        self.assertAlmostEqual(gf.Init.gain("tanh"), 5 / 3)
        self.assertAlmostEqual(gf.Init.gain("leaky_relu", 0.2), math.sqrt(2 / 1.04))

    def test_leaky_gain_without_param_uses_the_default_slope_as_pytorch(self):
        self.assertEqual(gf.Init.gain("leaky_relu"), math.sqrt(2 / (1 + 0.01 ** 2)))
        with gf.Activation("leaky_relu") as a:  # the slope a default layer has
            self.assertEqual(gf.Init.gain("leaky_relu"), gf.Init.gain("leaky_relu", a.slope))

    def test_leaky_gain_of_slope_0_is_the_relu_gain(self):
        self.assertEqual(gf.Init.gain("leaky_relu", 0), gf.Init.gain("relu"))

    def test_gains_equal_torch_calculate_gain(self):
        try:
            import torch.nn.init as tinit
        except ImportError:
            self.skipTest("torch is not installed for %s" % sys.executable)
        for args in (("leaky_relu",), ("leaky_relu", 0), ("leaky_relu", 0.2), ("relu",), ("tanh",),
                     ("sigmoid",), ("selu",)):
            with self.subTest(args=args):
                self.assertAlmostEqual(gf.Init.gain(*args), tinit.calculate_gain(*args), places=12)

    def test_gain_and_mode_are_validated_by_the_library(self):
        with gf.Init("he_uniform", gain=2.0, mode="fan_out") as i:
            self.assertEqual(i.kind, gf.InitKind.HE_UNIFORM)
            with self.assertRaises(gf.InvalidArgumentError):
                i.set_mode(5)

    def test_uniform_with_empty_range_is_refused(self):
        with self.assertRaisesRegex(gf.InvalidArgumentError, "a < b"):
            gf.Init("uniform", a=1, b=0)


class LossTest(unittest.TestCase):
    def test_mse_value_and_gradient(self):
        with gf.Loss("mse") as loss:
            value, grad = loss.compute([[1.0, 3.0]], [[0.0, 0.0]])
            self.assertAlmostEqual(value, 5.0)
            self.assertEqual(flat(grad), [1.0, 3.0])

    def test_get_of_a_parameter_the_kind_does_not_have_is_none(self):
        with gf.Loss("mse") as loss:
            self.assertIsNone(loss.get("delta"))
            self.assertIsNone(loss.delta)
            with self.assertRaises(gf.InvalidArgumentError):  # setting it is still an error
                loss.delta = 0.5

    def test_huber_delta_property(self):
        with gf.Loss("huber", delta=0.5) as loss:
            self.assertEqual(loss.delta, 0.5)
            self.assertEqual(loss.kind, gf.LossKind.HUBER)
            self.assertAlmostEqual(loss.compute([2.0], [0.0], grad=False), 0.5 * (2.0 - 0.25))

    def test_label_targets_are_one_wide(self):
        with gf.Loss("softmax_ce_labels") as loss:
            self.assertEqual(loss.target_width(5), 1)
            value = loss.compute([[0.0, 0.0], [0.0, 0.0]], [[1], [0]], grad=False)
            self.assertAlmostEqual(value, math.log(2), places=6)

    def test_label_out_of_range_is_range_error(self):
        with gf.Loss("softmax_ce_labels") as loss:
            with self.assertRaisesRegex(gf.RangeError, "label 5"):
                loss.compute([[1.0, 2.0]], [[5]])

    def test_target_rows_must_match_pred_rows(self):
        with gf.Loss("mse") as loss:
            with self.assertRaisesRegex(gf.ShapeError, "target has 1 rows, pred has 2"):
                loss.compute([[1.0], [2.0]], [[1.0]])


class PenaltyTest(unittest.TestCase):
    def test_coefficients_read_back(self):
        with gf.Penalty(l1=1e-3, l2=1e-2, include_bias=True) as p:
            self.assertEqual((p.l1, p.l2, p.include_bias), (1e-3, 1e-2, True))
            p.include_bias = False
            self.assertFalse(p.include_bias)

    def test_negative_coefficient_is_invalid(self):
        with self.assertRaisesRegex(gf.InvalidArgumentError, "l1"):
            gf.Penalty(l1=-1.0)

    def test_l2_penalty_raises_the_evaluated_loss(self):
        with gf.Net(1, seed=2) as net, gf.Penalty(l2=10.0) as p:
            layer = net.add_dense(1)
            layer.set_weights([2.0])
            layer.set_bias([0.0])
            plain = net.evaluate([[1.0]], [[2.0]])
            net.set_penalty(p)
            self.assertAlmostEqual(net.evaluate([[1.0]], [[2.0]]) - plain, 0.5 * 10.0 * 4.0, places=5)
            net.set_penalty(None)
            self.assertAlmostEqual(net.evaluate([[1.0]], [[2.0]]), plain)


class OptimizerTest(unittest.TestCase):
    def test_parameters_are_set_from_keywords(self):
        with gf.Optimizer("adam", lr=1e-3, beta1=0.8, beta2=0.99, eps=1e-7, weight_decay=0.0) as o:
            self.assertEqual(o.kind, gf.OptimizerKind.ADAM)
            self.assertEqual((o.lr, o.beta1, o.beta2, o.eps), (1e-3, 0.8, 0.99, 1e-7))

    def test_adam_and_adamw_default_to_pytorchs_rate(self):
        for kind in ("adam", "adamw"):
            with gf.Optimizer(kind) as o:
                self.assertAlmostEqual(o.lr, 1e-3, delta=1e-12)

    def test_the_other_kinds_default_to_a_rate_of_0_01(self):
        for kind in ("sgd", "momentum", "nesterov", "rmsprop", "adagrad"):
            with gf.Optimizer(kind) as o:
                self.assertAlmostEqual(o.lr, 0.01, delta=1e-12)

    def test_set_optimizer_by_name_takes_the_kinds_default_rate(self):
        with gf.Net([3, 4, 1]) as net:
            self.assertAlmostEqual(net.set_optimizer("adam").lr, 1e-3, delta=1e-12)

    def test_lr_property_writes_through(self):
        with gf.Optimizer("momentum", lr=0.1) as o:
            o.lr = 0.05
            self.assertEqual(o.get("lr"), 0.05)
            self.assertEqual(o.momentum, 0.9)

    def test_get_and_set_take_the_constructor_keyword_momentum(self):
        with gf.Optimizer("momentum", lr=0.1, momentum=0.5) as o:
            self.assertEqual(o.get("momentum"), 0.5)
            self.assertEqual(o.get("momentum"), o.get(gf.OptimizerParam.MOMENTUM_MU))
            o.set("momentum", 0.8)
            self.assertAlmostEqual(o.momentum, 0.8)

    def test_get_of_a_parameter_the_kind_does_not_use_is_none(self):
        with gf.Optimizer("sgd", lr=0.1) as o:
            self.assertIsNone(o.get("beta1"))
            self.assertIsNone(o.momentum)
            self.assertEqual(o.get("weight_decay"), 0.0)  # used by every kind
            self.assertEqual(gf.last_error(), "")  # the refusal was consumed, not left behind
            with self.assertRaisesRegex(gf.InvalidArgumentError, "beta1"):  # setting it still is an error
                o.set("beta1", 0.5)

    def test_get_of_an_unknown_parameter_number_still_raises(self):
        with gf.Optimizer("sgd", lr=0.1) as o:
            with self.assertRaises(gf.InvalidArgumentError):
                o.get(99)

    def test_unknown_keyword_is_invalid(self):
        with self.assertRaisesRegex(gf.InvalidArgumentError, "betaa"):
            gf.Optimizer("adam", lr=0.1, betaa=0.5)

    def test_negative_learning_rate_is_invalid(self):
        with self.assertRaisesRegex(gf.InvalidArgumentError, "lr"):
            gf.Optimizer("sgd", lr=-0.01)

    def test_a_learning_rate_of_zero_is_valid_as_in_pytorch(self):
        with gf.Optimizer("sgd", lr=0.0) as o:
            self.assertEqual(o.lr, 0.0)

    def test_steps_count_and_reset(self):
        with gf.Net(1, seed=1) as net:
            net.add_dense(1)
            opt = net.set_optimizer(gf.Optimizer("sgd", lr=0.1))
            for _ in range(3):
                net.train_step([[1.0]], [[1.0]])
            self.assertEqual((opt.steps, net.steps), (3, 3))
            opt.reset()
            self.assertEqual(opt.steps, 0)


class DenseTest(unittest.TestCase):
    def test_sizes_and_counts(self):
        with gf.Dense(3, 2, "tanh") as d:
            self.assertEqual((d.inputs, d.outputs, d.weight_count, d.bias_count), (3, 2, 6, 2))
            self.assertEqual(d.kind, gf.LayerKind.DENSE)
            self.assertEqual(d.activation_kind, gf.ActivationKind.TANH)
            self.assertIsNone(d.net)

    def test_weights_round_trip_in_out_by_in_layout(self):
        with gf.Dense(3, 2) as d:
            d.weights = [[1, 2, 3], [4, 5, 6]]
            check_output_type(self, d.weights, (2, 3))
            self.assertEqual(flat(d.get_weights()), [1, 2, 3, 4, 5, 6])
            d.bias = array.array("f", [0.5, -0.5])
            self.assertEqual(flat(d.bias), [0.5, -0.5])

    def test_weight_gradient_matches_hand_computation(self):
        # y = w x + b, MSE over one output: dL/dw = 2 (y - t) x.
        with gf.Net(2, seed=1) as net:
            d = net.add_dense(1)
            d.set_weights([0.5, -1.0])
            d.set_bias([0.25])
            net.forward([[2.0, 3.0]])
            loss = net.backward([[1.0]])
            y = 0.5 * 2 - 3 + 0.25
            self.assertAlmostEqual(loss, (y - 1) ** 2, places=5)
            self.assertEqual([round(v, 4) for v in flat(d.weight_grad)], [2 * (y - 1) * 2, 2 * (y - 1) * 3])
            self.assertAlmostEqual(flat(d.bias_grad)[0], 2 * (y - 1), places=5)

    def test_initializers_apply_when_the_layer_joins_a_net(self):
        with gf.Net(4, seed=5) as net:
            d = net.add(gf.Dense(4, 3, "relu", weight_init=gf.Init("constant", a=0.5), bias_init="zeros"))
            self.assertEqual(set(flat(d.weights)), {0.5})
            self.assertEqual(set(flat(d.bias)), {0.0})

    def test_layer_penalty_accepts_none_to_remove(self):
        grads = []
        for had_penalty in (False, True):
            with gf.Net(2, seed=1) as net, gf.Dense(2, 2) as d, gf.Penalty(l1=0.1) as p:
                if had_penalty:
                    d.set_penalty(p)
                    d.set_penalty(None)
                net.add(d)
                net.forward([[1.0, -2.0]])
                net.backward([[0.5, 0.25]])
                grads.append(flat(d.weight_grad))
        self.assertEqual(grads[1], grads[0])  # an l1 = 0.1 term would shift every entry by 0.1


class NetTest(unittest.TestCase):
    def test_building_reports_sizes(self):
        with gf.Net(3, seed=1) as net:
            net.add_dense(5, "relu")
            net.add_dense(2)
            self.assertEqual((net.inputs, net.outputs, len(net), net.param_count), (3, 2, 2, 3 * 5 + 5 + 5 * 2 + 2))
            self.assertEqual([l.outputs for l in net], [5, 2])
            self.assertEqual(net[-1].inputs, 5)

    def test_threads_round_trip_and_out_of_range_is_refused(self):
        with gf.Net(2, seed=1) as net:
            self.assertEqual(net.threads, 1)
            net.threads = 2
            self.assertEqual(net.threads, 2)
            with self.assertRaises(gf.InvalidArgumentError) as cm:
                net.threads = 0
            self.assertIn("threads", str(cm.exception))
            self.assertEqual(net.threads, 2)

    def test_describe_that_grows_its_buffer_leaves_no_error_message(self):
        with gf.Net(2, seed=1) as net:
            for _ in range(60):
                net.add_dense(2)
            gf.clear_error()
            text = net.describe()
            self.assertGreater(len(text), 1024)  # so the first 1024-byte attempt was too small
            self.assertEqual(gf.last_error(), "")

    def test_describe_names_the_layers(self):
        with gf.Net(2, seed=1) as net:
            net.add_dense(4, "tanh")
            text = net.describe()
            self.assertIn("tanh", text)
            self.assertEqual(str(net), text)

    def test_same_seed_same_weights_and_reinit_changes_them(self):
        def weights(seed):
            with gf.Net(3, seed=seed) as net:
                return flat(net.add_dense(4).weights)
        self.assertEqual(weights(11), weights(11))
        self.assertNotEqual(weights(11), weights(12))
        with gf.Net(3, seed=11) as net:
            d = net.add_dense(4)
            net.reinit(12)
            self.assertEqual(flat(d.weights), weights(12))

    def test_predict_equals_forward_output(self):
        with gf.Net(2, seed=3) as net:
            net.add_dense(3, "sigmoid")
            self.assertEqual(flat(net.predict(_util.XOR_X)), flat(net.forward(_util.XOR_X)))

    def test_input_gradient_has_input_shape(self):
        with gf.Net(2, seed=3) as net:
            net.add_dense(1)
            net.input_grad_enabled = True
            net.forward(_util.XOR_X)
            net.backward(_util.XOR_Y)
            check_output_type(self, net.input_grad(), (4, 2))

    def test_input_gradient_is_off_by_default(self):
        with gf.Net(2, seed=3) as net:
            net.add_dense(1)
            self.assertFalse(net.input_grad_enabled)
            net.forward(_util.XOR_X)
            net.backward(_util.XOR_Y)
            with self.assertRaises(gf.StateError):
                net.input_grad()

    def test_input_gradient_enabled_reads_back_true(self):
        with gf.Net(2, seed=3) as net:
            net.input_grad_enabled = True
            self.assertTrue(net.input_grad_enabled)
            net.input_grad_enabled = False
            self.assertFalse(net.input_grad_enabled)

    def test_backward_from_a_given_output_gradient(self):
        with gf.Net(2, seed=3) as net:
            d = net.add_dense(1)
            net.forward([[1.0, 2.0]])
            net.backward_from([[1.0]])
            self.assertEqual(flat(d.weight_grad), [1.0, 2.0])

    def test_clipping_bounds_the_gradient_norm(self):
        with gf.Net(2, seed=3) as net:
            net.add_dense(1)
            net.forward([[100.0, 100.0]])
            net.backward([[-100.0]])
            before = net.grad_norm()
            self.assertGreater(before, 1.0)
            self.assertAlmostEqual(net.clip_grad_norm(1.0), before)
            self.assertAlmostEqual(net.grad_norm(), 1.0, places=5)
            net.clip_grad_value(0.1)
            net.clip_grad_layer_norm(0.05)
            self.assertLessEqual(net.grad_norm(), 0.05 + 1e-6)

    def test_clip_grad_norm_of_a_small_gradient_matches_torch_clip_grad_norm(self):
        try:
            import torch
        except ImportError:
            self.skipTest("torch is not installed for %s" % sys.executable)
        with gf.Net(3, seed=5) as net:
            net.add_dense(4, "tanh")
            net.add_dense(2)
            x = [[0.5, -1.0, 0.25], [1.0, 0.5, -0.5]]
            y = [v + 1e-4 for v in flat(net.predict(x))]  # targets just off the outputs: a gradient norm near 1e-4
            net.forward(x)
            net.backward([y[:2], y[2:]])
            before = [torch.tensor(flat(g), dtype=torch.float32) for layer in net
                      for g in (layer.weight_grad, layer.bias_grad)]
            norm = net.grad_norm()
            self.assertLess(norm, 1e-3)
            net.clip_grad_norm(norm / 2)
            after = [flat(g) for layer in net for g in (layer.weight_grad, layer.bias_grad)]
        params = [torch.zeros(len(g), requires_grad=True) for g in before]
        for p, g in zip(params, before):
            p.grad = g.clone()
        torch.nn.utils.clip_grad_norm_(params, norm / 2)
        for p, ours in zip(params, after):
            for u, v in zip(ours, p.grad.tolist()):
                self.assertAlmostEqual(u, v, delta=1e-5 * abs(v))

    def test_grad_norm_before_a_backward_is_a_state_error_like_clipping(self):
        with gf.Net(2, seed=3) as net:
            net.add_dense(1)
            with self.assertRaisesRegex(gf.StateError, "gf_net_grad_norm"):
                net.grad_norm()
            with self.assertRaises(gf.StateError):
                net.clip_grad_norm(1.0)

    def test_set_clip_limits_train_steps(self):
        with gf.Net(1, seed=3) as net:
            d = net.add_dense(1)
            d.set_weights([0.0])
            d.set_bias([0.0])
            net.set_optimizer("sgd", lr=1.0)
            net.set_clip("value", 0.5)
            net.train_step([[1.0]], [[100.0]])
            self.assertAlmostEqual(flat(d.weights)[0], 0.5, places=6)

    def test_loss_can_be_set_by_name_or_object(self):
        with gf.Net(2, seed=1) as net:
            net.add_dense(3)
            net.set_loss("softmax_ce_labels")
            self.assertEqual(net.loss_kind, gf.LossKind.SOFTMAX_CE_LABELS)
            net.evaluate([[1.0, 2.0]], [[2]])
            with gf.Loss("huber", delta=2.0) as l:
                net.set_loss(l)
            net.evaluate([[1.0, 2.0]], [[0.0, 1.0, 2.0]])

    def test_progress_can_be_toggled(self):
        with gf.Net(1) as net:
            net.add_dense(1)
            net.set_progress(True)
            self.assertIn("epoch 1/1", self.stderr_of_fit(net))
            net.set_progress(False)
            self.assertNotIn("epoch", self.stderr_of_fit(net))

    @staticmethod
    def stderr_of_fit(net):
        """What a 1-epoch fit writes to file descriptor 2 (where C's stderr goes)."""
        with tempfile.TemporaryFile() as f:
            sys.stderr.flush()
            saved = os.dup(2)
            try:
                os.dup2(f.fileno(), 2)
                net.fit([[0.0], [1.0]], [[0.0], [1.0]], epochs=1, verbose=None)
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            f.seek(0)
            return f.read().decode("utf-8", "replace")


if __name__ == "__main__":
    unittest.main()
