"""Diagnostics from Python: lifetime beside its Net, settings, statistics,
verdicts on nets known to vanish / stay healthy / die, the guard, reports, and
misuse that must raise the right GradflowError instead of crashing."""
import copy
import csv
import io
import json
import math
import os
import tempfile
import unittest
import xml.dom.minidom

from . import _util  # noqa: F401 (puts python/ on sys.path first)
from ._util import flat, live

import gradflow as gf

X4 = [[1.0, 2.0, -1.0, 0.5], [0.5, -1.5, 0.25, 2.0], [-2.0, 0.5, 1.0, -0.5], [0.0, 1.0, -1.0, 1.5]]
Y4 = [[1.0], [-1.0], [0.5], [0.0]]


def small_net(seed=1):
    """4 -> 8 (tanh) -> 1: cheap to train, healthy."""
    net = gf.Net(4, seed=seed)
    net.add_dense(8, "tanh")
    net.add_dense(1)
    net.set_optimizer("sgd", lr=0.01)
    return net


def deep_net(activation, init, depth=20, width=32, bias=None, seed=1):
    """`depth` layers: depth-1 hidden ones of `activation` with `init`, then a linear output."""
    net = gf.Net(16, seed=seed)
    for _ in range(depth - 1):
        if bias is None:
            net.add_dense(width, activation, weight_init=init)
        else:
            net.add_dense(width, activation, weight_init=init, bias_init=gf.Init("constant", a=bias))
    net.add_dense(1)
    return net


class LifetimeTest(unittest.TestCase):
    def setUp(self):
        self.base = live()

    def assertAllFreed(self):
        self.assertEqual(live(), self.base)

    def test_with_block_frees_the_diag_and_leaves_the_net_usable(self):
        with small_net() as net:
            with gf.Diagnostics(net) as d:
                self.assertFalse(d.closed)
                self.assertIs(d.net, net)
            self.assertTrue(d.closed)
            self.assertIsNone(d.net)
            net.train_step(X4, Y4)  # detached: the net trains on, unobserved
        self.assertAllFreed()

    def test_net_diagnostics_is_a_diagnostics_of_that_net(self):
        with small_net() as net, net.diagnostics() as d:
            self.assertIsInstance(d, gf.Diagnostics)
            self.assertIs(d.net, net)

    def test_close_twice_frees_once(self):
        net = small_net()
        d = net.diagnostics()
        d.close()
        d.close()
        net.close()
        self.assertAllFreed()

    def test_garbage_collection_frees_an_unreferenced_diag(self):
        with small_net() as net:
            before = live()
            d = net.diagnostics()
            self.assertGreater(live(), before)
            del d
            self.assertEqual(live(), before)
            net.diagnostics().close()  # the net accepts a new diag: the old one was detached

    def test_a_second_diag_on_one_net_is_state_error(self):
        with small_net() as net, net.diagnostics():
            with self.assertRaisesRegex(gf.StateError, "gf_diag_create"):
                gf.Diagnostics(net)

    def test_diag_outliving_its_net_raises_closed_error_then_closes(self):
        net = small_net()
        d = net.diagnostics()
        d.probe(8)
        net.close()
        with self.assertRaisesRegex(gf.ClosedError, "Diagnostics.verdict: the Net .* was closed"):
            d.verdict()
        self.assertTrue(d.closed)
        self.assertIn("detached", repr(d))
        d.close()
        self.assertIn("closed", repr(d))
        self.assertAllFreed()

    def test_diag_freed_after_its_net_by_the_garbage_collector(self):
        net = small_net()
        d = net.diagnostics()
        net.close()
        del net, d
        self.assertAllFreed()

    def test_diag_keeps_its_python_net_object_alive(self):
        d = small_net().diagnostics()
        d.probe(8)
        self.assertFalse(d.net.closed)
        self.assertEqual(d.verdict().layer, -1)
        d.close()
        self.assertAllFreed()

    def test_diag_cannot_be_copied(self):
        with small_net() as net, net.diagnostics() as d:
            with self.assertRaises(TypeError):
                copy.copy(d)


class SettingsTest(unittest.TestCase):
    def setUp(self):
        self.net = small_net()
        self.d = self.net.diagnostics()

    def tearDown(self):
        self.d.close()
        self.net.close()

    def test_disabled_diag_observes_no_step_and_enabled_again_does(self):
        self.assertTrue(self.d.enabled)
        self.d.disable()
        self.assertFalse(self.d.enabled)
        self.net.train_step(X4, Y4)
        self.assertEqual(self.d.steps, 0)
        self.d.enable()
        self.net.train_step(X4, Y4)
        self.assertEqual(self.d.steps, 1)
        self.d.enabled = False
        self.assertFalse(self.d.enabled)

    def test_enable_refuses_values_other_than_true_and_false(self):
        for bad in ("yes", 2, 0.5):
            with self.assertRaises(gf.DataTypeError):
                self.d.enable(bad)
        self.assertTrue(self.d.enabled)

    def test_options_have_the_documented_defaults(self):
        self.assertEqual((self.d.history_size, self.d.guard, self.d.trace_origin, self.d.every), (64, False, True, 1))

    def test_options_read_back_what_was_set(self):
        self.d.history_size = 5
        self.d.guard = True
        self.d.trace_origin = False
        self.d.every = 3
        self.assertEqual((self.d.history_size, self.d.guard, self.d.trace_origin, self.d.every), (5, True, False, 3))
        self.d.set_option("history", 7)
        self.assertEqual(self.d.get_option(gf.DiagOption.HISTORY), 7.0)

    def test_history_size_bounds_the_records_held(self):
        self.d.history_size = 3
        for _ in range(5):
            self.net.train_step(X4, Y4)
        self.assertEqual((self.d.steps, self.d.history_length), (5, 3))

    def test_out_of_domain_option_is_invalid_argument_and_changes_nothing(self):
        with self.assertRaisesRegex(gf.InvalidArgumentError, "gf_diag_set_option"):
            self.d.history_size = 0
        with self.assertRaises(gf.InvalidArgumentError):
            self.d.set_option(gf.DiagOption.EVERY, 0)
        self.assertEqual((self.d.history_size, self.d.every), (64, 1))

    def test_unknown_option_is_invalid_argument(self):
        with self.assertRaisesRegex(gf.InvalidArgumentError, "unknown option 'bogus'"):
            self.d.get_option("bogus")
        with self.assertRaisesRegex(gf.InvalidArgumentError, "gf_diag_set_option"):
            self.d.set_option(99, 1)

    def test_options_of_the_wrong_type_are_data_type_error(self):
        with self.assertRaises(gf.DataTypeError):
            self.d.every = 1.5
        with self.assertRaises(gf.DataTypeError):
            self.d.guard = "on"
        with self.assertRaises(gf.NullError):
            self.d.set_option("guard", None)

    def test_thresholds_have_the_documented_defaults(self):
        th = self.d.thresholds
        self.assertEqual(set(th), {t.name.lower() for t in gf.DiagThreshold})
        self.assertEqual((th["vanish_factor"], th["explode_factor"], th["dead_frac"]), (0.1, 10.0, 0.5))
        self.assertEqual((th["weight_shrink"], th["weight_growth"]), (0.1, 10.0))

    def test_loss_rise_threshold_is_known_by_name(self):
        self.assertEqual(self.d.get_threshold("loss_rise"), 0.1)
        self.assertEqual(self.d.get_threshold(gf.DiagThreshold.LOSS_RISE), 0.1)

    def test_update_floor_threshold_is_known_by_name(self):
        self.assertEqual(self.d.get_threshold("update_floor"), 1e-5)

    def test_threshold_reads_back_what_was_set(self):
        self.d.set_threshold("dead_frac", 0.8)
        self.assertEqual(self.d.get_threshold(gf.DiagThreshold.DEAD_FRAC), 0.8)

    def test_out_of_domain_threshold_is_invalid_argument_and_changes_nothing(self):
        for bad in (1.5, float("nan"), 0.0):
            with self.assertRaisesRegex(gf.InvalidArgumentError, "gf_diag_set_threshold"):
                self.d.set_threshold("vanish_factor", bad)
        self.assertEqual(self.d.get_threshold("vanish_factor"), 0.1)
        with self.assertRaises(gf.DataTypeError):
            self.d.set_threshold("vanish_factor", "0.5")

    def test_reset_forgets_records_but_keeps_options(self):
        self.d.every = 2
        self.d.probe(8)
        self.d.reset()
        self.assertEqual((self.d.steps, self.d.history_length, self.d.every), (0, 0, 2))
        with self.assertRaisesRegex(gf.StateError, "gf_diag_value"):
            self.d.value(0, "loss")


class StatisticsTest(unittest.TestCase):
    def setUp(self):
        self.net = small_net()
        self.d = self.net.diagnostics()

    def tearDown(self):
        self.d.close()
        self.net.close()

    def test_probe_records_one_observation_at_step_minus_one_and_changes_no_weight(self):
        w = [flat(layer.weights) for layer in self.net]
        self.d.probe(16, seed=5)
        self.assertEqual((self.d.steps, self.d.history_length, self.d.layer_count, len(self.d)), (1, 1, 2, 2))
        self.assertEqual(self.d.history(0, "loss", 0).step, -1)
        self.assertEqual([flat(layer.weights) for layer in self.net], w)
        self.assertEqual(self.net.steps, 0)

    def test_probe_refuses_a_bad_batch(self):
        with self.assertRaisesRegex(gf.InvalidArgumentError, "gf_diag_probe"):
            self.d.probe(0)
        with self.assertRaises(gf.DataTypeError):
            self.d.probe("64")
        with self.assertRaises(gf.SizeOverflowError):
            self.d.probe(8, seed=-1)

    def test_value_accepts_a_stat_member_name_or_int(self):
        self.net.train_step(X4, Y4)
        v = self.d.value(1, gf.Stat.WGRAD_NORM)
        self.assertGreater(v, 0)
        self.assertEqual(self.d.value(1, "wgrad_norm"), v)
        self.assertEqual(self.d.value(1, 6), v)

    def test_loss_statistic_is_the_training_loss(self):
        loss = self.net.train_step(X4, Y4)
        self.assertAlmostEqual(self.d.value(0, "loss"), loss, places=6)

    def test_history_walks_back_through_the_steps(self):
        losses = [self.net.train_step(X4, Y4) for _ in range(3)]
        for ago in range(3):
            point = self.d.history(0, "loss", ago)
            self.assertEqual(point.step, 2 - ago)
            self.assertAlmostEqual(point.value, losses[2 - ago], places=6)
        self.assertEqual(self.d.history(1, "wgrad_norm", 0).value, self.d.value(1, "wgrad_norm"))
        self.assertEqual([p.step for p in self.d.series(0, "loss")], [0, 1, 2])
        with self.assertRaisesRegex(gf.RangeError, "gf_diag_history"):
            self.d.history(0, "loss", 3)

    def test_layer_stats_holds_every_statistic_of_the_latest_observation(self):
        self.net.train_step(X4, Y4)
        s = self.d.layer_stats(1)
        self.assertEqual((s.layer, s.step), (1, 0))
        for stat in gf.Stat:
            with self.subTest(stat=stat.name):
                want = self.d.value(1, stat)
                if want != want:  # NaN: a statistic the layer's kind does not measure (recurrent ones on dense)
                    self.assertNotEqual(getattr(s, gf.stat_name(stat)), getattr(s, gf.stat_name(stat)))
                else:
                    self.assertEqual(getattr(s, gf.stat_name(stat)), want)

    def test_stats_has_one_entry_per_layer(self):
        self.d.probe(8)
        self.assertEqual([s.layer for s in self.d.stats()], [0, 1])
        self.assertIsInstance(self.d.stats()[0], gf.LayerStats)

    def test_nonfinite_counts_are_zero_on_a_healthy_step(self):
        self.net.train_step(X4, Y4)
        self.assertEqual(self.d.nonfinite(0, gf.Tensor.WEIGHT_GRAD), (0, 0, 0))
        self.assertEqual(self.d.nonfinite(1, "loss").nan, 0)

    def test_nonfinite_refuses_tensor_none_and_unknown_names(self):
        self.net.train_step(X4, Y4)
        with self.assertRaisesRegex(gf.RangeError, "gf_diag_nonfinite"):
            self.d.nonfinite(0, "none")
        with self.assertRaises(gf.InvalidArgumentError):
            self.d.nonfinite(0, "weights_of_doom")

    def test_origin_is_none_while_every_value_is_finite(self):
        self.net.train_step(X4, Y4)
        self.assertIsNone(self.d.origin())

    def test_names_of_enum_values_come_from_the_library(self):
        self.assertEqual(gf.stat_name(gf.Stat.UPDATE_RATIO), "update_ratio")
        self.assertEqual(gf.tensor_name("optimizer_state"), "optimizer_state")
        self.assertEqual(gf.phase_name(gf.Phase.BACKWARD), "backward")
        self.assertEqual(gf.verdict_name(99), "?")


class VerdictTest(unittest.TestCase):
    def test_twenty_layer_sigmoid_net_with_xavier_init_is_vanishing_after_a_probe(self):
        with deep_net("sigmoid", "xavier_uniform") as net, net.diagnostics() as d:
            d.probe(64, seed=3)
            v = d.verdict()
        self.assertIsInstance(v, gf.Verdict)
        self.assertEqual((v.layer, v.kind), (-1, "vanishing"))
        self.assertIn("vanishing", v.flags)
        self.assertIn("delta shrinks", v.reason)
        self.assertIn("ReLU", v.remedy)
        self.assertFalse(v.healthy)

    def test_remedies_give_the_checked_remedy_as_numbers(self):
        with deep_net("sigmoid", "xavier_uniform") as net, net.diagnostics() as d:
            d.probe(64, seed=3)
            self.assertEqual(d.remedies().get("activation"), float(gf.ActivationKind.RELU))
            self.assertIn("checked:", d.verdict().remedy)

    def test_remedies_of_a_healthy_net_are_empty(self):
        with deep_net("relu", "he_normal", bias=0.1) as net, net.diagnostics() as d:
            d.probe(64, seed=3)
            self.assertEqual(d.remedies(), {})

    def test_relu_net_with_he_init_is_healthy_after_a_probe(self):
        with deep_net("relu", "he_normal", bias=0.1) as net, net.diagnostics() as d:
            d.probe(64, seed=3)
            v = d.verdict()
        self.assertEqual(v.kind, "healthy", v.reason)
        self.assertEqual(v.flags, frozenset({"healthy"}))
        self.assertTrue(v.healthy)

    def test_relu_layers_with_bias_minus_5_are_dead(self):
        with deep_net("relu", "he_normal", depth=4, bias=-5.0) as net, net.diagnostics() as d:
            d.probe(64, seed=3)
            self.assertEqual(d.verdict(0).kind, "dead")
            self.assertGreaterEqual(d.value(0, "dead_frac"), 0.5)
            self.assertIn("dead", d.verdict().flags)
            self.assertIn("bias", d.verdict(0).remedy)

    def test_verdict_before_any_observation_is_unknown(self):
        with small_net() as net, net.diagnostics() as d:
            self.assertEqual(d.verdict().kind, "unknown")
            self.assertEqual(d.verdict().flags, frozenset({"unknown"}))

    def test_verdicts_has_one_per_layer(self):
        with deep_net("sigmoid", "xavier_uniform", depth=6) as net, net.diagnostics() as d:
            d.probe(32)
            vs = d.verdicts()
        self.assertEqual([v.layer for v in vs], list(range(6)))
        self.assertTrue(all(v.reason and v.remedy for v in vs))
        self.assertIn("layer 0", str(vs[0]))

    def test_verdict_layer_out_of_range_is_range_error(self):
        with small_net() as net, net.diagnostics() as d:
            d.probe(8)
            for bad in (2, -2):
                with self.assertRaisesRegex(gf.RangeError, "gf_diag_verdict"):
                    d.verdict(bad)


def overflowing_net():
    """A net whose first SGD step (lr 1e38) writes values beyond float32 into the weights."""
    net = gf.Net(4, seed=1)
    net.add_dense(8, "relu", weight_init="he_normal")
    net.add_dense(1)
    net.set_optimizer("sgd", lr=1e38)
    return net


class GuardTest(unittest.TestCase):
    def test_guard_refuses_an_overflowing_step_and_keeps_the_weights(self):
        with overflowing_net() as net, net.diagnostics() as d:
            d.guard = True
            before = [(flat(layer.weights), flat(layer.bias)) for layer in net]
            with self.assertRaisesRegex(gf.GuardError, "^gf_net_\\w*step: guard refused the step") as cm:
                net.train_step(X4, Y4)
            self.assertEqual(cm.exception.code, gf.Status.ERR_GUARD)
            self.assertEqual([(flat(layer.weights), flat(layer.bias)) for layer in net], before)
            self.assertEqual(net.steps, 0)
            o = d.origin()
            self.assertIsInstance(o, gf.Origin)
            self.assertTrue(o.found)
            self.assertIn(o.layer, (0, 1))
            self.assertIn(o.phase, ("forward", "loss", "backward", "penalty", "clip", "update"))
            self.assertNotIn(o.tensor, ("none", "?"))
            self.assertIn("layer %d" % o.layer, str(cm.exception))
            self.assertEqual(d.verdict().kind, "exploding")

    def test_input_gradient_of_a_refused_step_has_that_steps_batch(self):
        with overflowing_net() as net, net.diagnostics() as d:
            d.guard = True
            net.input_grad_enabled = True
            net.forward(X4[:2])  # the binding remembers a batch of 2
            with self.assertRaises(gf.GuardError):
                net.train_step(X4, Y4)  # forward and backward of 4 ran; the step was refused
            self.assertEqual(len(flat(net.input_grad())), 4 * 4)

    def test_without_the_guard_the_overflow_is_applied_and_its_origin_kept(self):
        with overflowing_net() as net, net.diagnostics() as d:
            net.train_step(X4, Y4)
            self.assertEqual(net.steps, 1)
            self.assertFalse(all(math.isfinite(v) for layer in net for v in flat(layer.weights)))
            self.assertEqual(d.origin().phase, "update")
            nan, pos, neg = d.nonfinite(d.origin().layer, "weight")
            self.assertGreater(nan + pos + neg, 0)


class ReportTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.net = deep_net("sigmoid", "xavier_uniform", depth=4, width=8)
        cls.net.set_optimizer("sgd", lr=0.1)
        cls.d = cls.net.diagnostics()
        x = [[math.sin(i + j) for j in range(16)] for i in range(8)]
        y = [[math.cos(i)] for i in range(8)]
        for _ in range(3):
            cls.net.train_step(x, y)

    @classmethod
    def tearDownClass(cls):
        cls.d.close()
        cls.net.close()

    def test_text_report_is_a_table_with_the_net_verdict(self):
        text = self.d.report()
        self.assertIn("delta_in_norm", text)
        self.assertIn("net verdict: " + self.d.verdict().kind, text)

    def test_csv_report_parses_with_a_header_row_and_a_row_per_layer_per_step(self):
        rows = list(csv.reader(io.StringIO(self.d.report("csv"))))
        header = rows[0]
        self.assertEqual(header[:2], ["step", "layer"])
        self.assertEqual(header[2:], [gf.stat_name(s) for s in gf.Stat])
        self.assertEqual(len(rows) - 1, 4 * 3)
        self.assertTrue(all(len(r) == len(header) for r in rows))
        self.assertAlmostEqual(float(rows[-1][header.index("loss")]), self.d.value(3, "loss"), places=6)

    def test_json_report_is_json_lines_of_stats_then_verdicts(self):
        objs = [json.loads(line) for line in self.d.report(gf.ReportFormat.JSON).splitlines() if line.strip()]
        kinds = [o["type"] for o in objs]
        self.assertEqual(kinds.count("stats"), 4 * 3)
        self.assertEqual(kinds.count("verdict"), 4 + 1)
        net = [o for o in objs if o["type"] == "verdict" and o["layer"] == -1][0]
        self.assertEqual(net["verdict"], self.d.verdict().kind)

    def test_svg_report_parses_as_xml_with_an_svg_root(self):
        doc = xml.dom.minidom.parseString(self.d.report("svg"))
        self.assertEqual(doc.documentElement.tagName, "svg")

    def test_write_report_writes_the_same_text_as_report(self):
        with tempfile.TemporaryDirectory() as tmp:
            for fmt in ("text", "csv", "json", "svg"):
                path = os.path.join(tmp, "r." + fmt)
                self.d.write_report(fmt, path)
                with open(path) as f:
                    self.assertEqual(f.read(), self.d.report(fmt))

    def test_write_report_to_an_unwritable_path_is_file_error(self):
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaisesRegex(gf.FileError, "gf_diag_report_file"):
                self.d.write_report("csv", os.path.join(tmp, "no", "such", "dir.csv"))

    def test_bad_report_arguments_raise_before_or_in_c(self):
        with self.assertRaises(gf.InvalidArgumentError):
            self.d.report("pdf")
        with self.assertRaisesRegex(gf.InvalidArgumentError, "gf_diag_report"):
            self.d.report(9)
        with self.assertRaises(gf.NullError):
            self.d.write_report("svg", None)
        with self.assertRaises(gf.DataTypeError):
            self.d.write_report("svg", 3)
        with self.assertRaises(gf.DataTypeError):
            self.d.write_report("svg", "a\0b")


class MisuseTest(unittest.TestCase):
    def test_diagnostics_of_none_or_of_a_non_net(self):
        with self.assertRaises(gf.NullError):
            gf.Diagnostics(None)
        with gf.Dense(2, 3) as layer:
            with self.assertRaises(gf.KindError):
                gf.Diagnostics(layer)
        with self.assertRaises(gf.KindError):
            gf.Diagnostics("net")

    def test_diagnostics_of_a_closed_net_is_closed_error(self):
        net = small_net()
        net.close()
        with self.assertRaises(gf.ClosedError):
            gf.Diagnostics(net)

    def test_bad_layer_and_stat_arguments(self):
        with small_net() as net, net.diagnostics() as d:
            with self.assertRaisesRegex(gf.StateError, "gf_diag_value"):
                d.value(0, "loss")  # nothing observed yet
            d.probe(8)
            with self.assertRaises(gf.NullError):
                d.value(None, "loss")
            with self.assertRaises(gf.NullError):
                d.value(0, None)
            with self.assertRaises(gf.DataTypeError):
                d.value(0.0, "loss")
            with self.assertRaises(gf.DataTypeError):
                d.value(0, gf.Tensor.LOSS)  # an enum of another kind
            with self.assertRaises(gf.SizeOverflowError):
                d.value(2 ** 40, "loss")
            with self.assertRaisesRegex(gf.RangeError, "gf_diag_value"):
                d.value(2, "loss")
            with self.assertRaisesRegex(gf.RangeError, "gf_diag_value"):
                d.value(0, 99)
            with self.assertRaises(gf.InvalidArgumentError):
                d.layer_stats("zero")

    def test_every_method_of_a_closed_or_detached_diag_is_closed_error(self):
        calls = [
            lambda d: d.enable(), lambda d: d.disable(), lambda d: d.enabled, lambda d: d.guard,
            lambda d: d.set_option("every", 2), lambda d: d.get_threshold("plateau"),
            lambda d: d.set_threshold("plateau", 0.1), lambda d: d.thresholds, lambda d: d.reset(),
            lambda d: d.layer_count, lambda d: d.steps, lambda d: d.history_length, lambda d: d.probe(8),
            lambda d: d.value(0, "loss"), lambda d: d.history(0, "loss"), lambda d: d.layer_stats(0),
            lambda d: d.stats(), lambda d: d.nonfinite(0, "weight"), lambda d: d.origin(),
            lambda d: d.verdict(), lambda d: d.verdicts(), lambda d: d.report("svg"),
            lambda d: d.write_report("csv", os.devnull), lambda d: d.__enter__(),
        ]
        base = live()
        for detach in ("diag", "net"):
            net = small_net()
            d = net.diagnostics()
            d.probe(8)
            (d if detach == "diag" else net).close()
            for i, call in enumerate(calls):
                with self.subTest(closed=detach, call=i):
                    with self.assertRaises(gf.ClosedError):
                        call(d)
            d.close()
            net.close()
        self.assertEqual(live(), base)

    def test_a_net_trains_on_after_its_diag_is_closed(self):
        with small_net() as net:
            d = net.diagnostics()
            net.train_step(X4, Y4)
            d.close()
            net.train_step(X4, Y4)
            self.assertEqual(net.steps, 2)


if __name__ == "__main__":
    unittest.main()
