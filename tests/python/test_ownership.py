"""Handles are freed exactly once: by close(), by `with`, or at garbage collection;
borrowed views (layers and optimizers a Net owns) never free and keep their Net alive."""
import copy
import gc
import subprocess
import sys
import unittest
import weakref

from . import _util  # noqa: F401 (puts python/ on sys.path first)
from ._util import XOR_X, XOR_Y, flat, live, python_env

import gradflow as gf


class LifetimeTest(unittest.TestCase):
    def setUp(self):
        self.base = live()

    def assertAllFreed(self):
        self.assertEqual(live(), self.base)

    def test_with_block_frees_every_kind_of_object(self):
        for make in (lambda: gf.Net(2), lambda: gf.Dense(2, 3), lambda: gf.Activation("tanh"),
                     lambda: gf.Init("he_normal"), lambda: gf.Loss("mae"), lambda: gf.Optimizer("adam", lr=0.1),
                     lambda: gf.Penalty(l2=0.1)):
            with make() as obj:
                self.assertGreater(gf.live_allocations(), self.base)
                self.assertTrue(obj.owned)
            self.assertTrue(obj.closed)
            self.assertAllFreed()

    def test_close_is_idempotent(self):
        net = gf.Net(2)
        net.close()
        net.close()
        self.assertAllFreed()

    def test_garbage_collection_frees_an_unreferenced_net(self):
        net = gf.Net(2)
        net.add_dense(3)
        del net
        self.assertAllFreed()

    def test_using_a_closed_object_is_closed_error_naming_the_method(self):
        net = gf.Net(2)
        net.close()
        with self.assertRaisesRegex(gf.ClosedError, "Net.predict: this Net is closed"):
            net.predict([[1.0, 2.0]])
        self.assertFalse(net)
        self.assertIn("closed", repr(net))

    def test_added_layer_becomes_a_borrowed_view(self):
        with gf.Net(2) as net:
            layer = gf.Dense(2, 3)
            self.assertTrue(layer.owned)
            self.assertIs(net.add(layer), layer)
            self.assertFalse(layer.owned)
            self.assertIs(layer.net, net)
            self.assertEqual(net[0], layer)
            layer.close()  # a view only detaches; the net still has the layer
            self.assertEqual(net[0].outputs, 3)
        self.assertAllFreed()

    def test_view_outlives_a_dropped_net_reference_and_keeps_it_alive(self):
        def build():
            net = gf.Net(2, seed=1)
            return net.add_dense(3, "relu")
        layer = build()
        gc.collect()
        self.assertEqual(layer.net.outputs, 3)
        self.assertEqual(len(flat(layer.weights)), 6)
        del layer
        self.assertAllFreed()

    def test_view_of_a_closed_net_raises_instead_of_crashing(self):
        net = gf.Net(2)
        layer = net.add_dense(3)
        net.close()
        with self.assertRaisesRegex(gf.ClosedError, "Net that owns this Layer was closed"):
            layer.get_weights()
        self.assertTrue(layer.closed)
        layer.close()
        self.assertAllFreed()

    def test_optimizer_set_on_a_net_is_freed_with_the_net_only(self):
        opt = gf.Optimizer("adam", lr=0.01)
        with gf.Net(2) as net:
            net.add_dense(1)
            self.assertIs(net.set_optimizer(opt), opt)
            self.assertFalse(opt.owned)
            self.assertEqual(net.optimizer, opt)
            opt.close()  # detaches the view, must not free what the net owns
            net.train_step([[1.0, 1.0]], [[0.0]])
        del opt
        self.assertAllFreed()

    def test_replaced_optimizer_view_raises_closed_error(self):
        with gf.Net(2) as net:
            first = net.set_optimizer(gf.Optimizer("sgd", lr=0.1))
            net.set_optimizer(gf.Optimizer("adam", lr=0.1))
            with self.assertRaisesRegex(gf.ClosedError, "replaced"):
                first.lr
            self.assertEqual(net.optimizer.kind, gf.OptimizerKind.ADAM)
        self.assertAllFreed()

    def test_replaced_optimizer_view_stays_closed_when_its_address_is_reused(self):
        with gf.Net(2) as net:
            first = net.set_optimizer("sgd", lr=0.1)
            reused = False
            for i in range(40):  # replace until the allocator hands out the freed address again
                kind = ("adam", "rmsprop")[i % 2]
                net.set_optimizer(kind, lr=0.3)
                if net.optimizer.address == first._addr:
                    reused = True
                    break
            self.assertTrue(reused, "the allocator never reused the first optimizer's address")
            with self.assertRaisesRegex(gf.ClosedError, "replaced"):
                first.lr
            with self.assertRaises(gf.ClosedError):
                first.lr = 0.5
            self.assertEqual(net.optimizer.lr, 0.3)
        self.assertAllFreed()

    def test_setting_the_same_optimizer_twice_is_harmless(self):
        with gf.Net(2) as net:
            opt = net.set_optimizer(gf.Optimizer("sgd", lr=0.1))
            net.set_optimizer(opt)
            self.assertEqual(opt.lr, 0.1)
        self.assertAllFreed()

    def test_optimizer_of_another_net_is_refused(self):
        with gf.Net(2) as a, gf.Net(2) as b:
            opt = a.set_optimizer(gf.Optimizer("sgd", lr=0.1))
            with self.assertRaisesRegex(gf.StateError, "another Net"):
                b.set_optimizer(opt)

    def test_layer_of_another_net_is_refused(self):
        with gf.Net(2) as a, gf.Net(2) as b:
            layer = a.add_dense(2)
            with self.assertRaisesRegex(gf.StateError, "already belongs"):
                b.add(layer)
            self.assertEqual(len(b), 0)

    def test_layer_that_failed_to_join_stays_owned_and_is_freed(self):
        with gf.Net(2) as net:
            layer = gf.Dense(5, 1)
            with self.assertRaises(gf.ShapeError):
                net.add(layer)
            self.assertTrue(layer.owned)
            layer.close()
        self.assertAllFreed()

    def test_calling_init_again_on_a_live_object_is_a_state_error_and_leaks_nothing(self):
        # Before: net.__init__(3) made a second C net and dropped the first (leaked, still holding the layers
        # its views and Diagnostics used); Dense.__init__ on a view turned it into an owner of a new layer.
        with gf.Net(2, seed=1) as net:
            view = net.add_dense(3)
            objs = [net, view, gf.Dense(2, 3), gf.Activation("relu"), gf.Optimizer("sgd"), gf.Diagnostics(net),
                    gf.Schedule("step", lr=0.1, period=2)]
            args = [(2,), (2, 3), (2, 3), ("relu",), ("sgd",), (net,), ("step",)]
            for obj, a in zip(objs, args):
                with self.subTest(obj=type(obj).__name__), self.assertRaisesRegex(gf.StateError, "already"):
                    obj.__init__(*a)
            self.assertFalse(view.owned)
            self.assertEqual(len(net), 1)
            for obj in objs[2:]:
                obj.close()
        self.assertAllFreed()

    def test_shallow_copies_are_refused(self):
        # Two objects on one handle would free it twice.  (Deep copies and pickles of a Net go
        # through a model file and give an independent net: tests/python/test_model_files.py.)
        with gf.Net(2) as net:
            with self.assertRaises(TypeError):
                copy.copy(net)

    def test_net_is_collected_when_only_cycles_remain(self):
        net = gf.Net(2)
        layer = net.add_dense(2)
        ref = weakref.ref(net)
        net.keep = layer  # a cycle net -> layer -> net
        del net, layer
        gc.collect()
        self.assertIsNone(ref())
        self.assertAllFreed()

    def test_temporary_activation_and_init_objects_are_freed(self):
        with gf.Dense(2, 2) as d:
            d.set_activation("gelu")
            d.set_weight_init("orthogonal")
            d.set_bias_init(gf.InitKind.ZEROS)
            self.assertEqual(d.activation_kind, gf.ActivationKind.GELU)
        self.assertAllFreed()


# Closing the net from its own fit callback: C is still inside gf_net_fit, so the
# free must wait.  Run in a child so that a use-after-free fails the test, not the suite.
CLOSE_IN_CALLBACK = r'''
import gradflow as gf
X = %r
Y = %r
net = gf.Net(2, seed=1)
net.add_dense(3, "tanh")
net.add_dense(1)
d = net.diagnostics()
layer = net[0]
seen = []
def cb(epoch, loss):
    seen.append(epoch)
    net.%s
    try:
        net.predict(X)
    except gf.ClosedError:
        seen.append("closed")
held = gf.live_allocations()
loss = net.fit(X, Y, epochs=3, batch_size=4, callback=cb, verbose=0).history["loss"][-1]
print("seen", seen)
print("loss", loss == loss)
print("closed", net.closed, layer.closed, d.closed)
d.close()
print("live", gf.live_allocations(), held > 0)
'''


class FitCallbackLifetimeTest(unittest.TestCase):
    def run_child(self, close_call):
        code = CLOSE_IN_CALLBACK % (XOR_X, XOR_Y, close_call)
        r = subprocess.run([sys.executable, "-c", code], env=python_env(), capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(r.returncode, 0, "child failed (%d):\n%s" % (r.returncode, r.stderr[-3000:]))
        return dict(line.split(" ", 1) for line in r.stdout.splitlines())

    def test_closing_the_net_in_its_fit_callback_frees_it_once_fit_returns(self):
        out = self.run_child("close()")
        self.assertEqual(out["loss"], "True")
        self.assertEqual(out["live"], "0 True")

    def test_closing_the_net_in_its_fit_callback_stops_training_and_closes_its_views(self):
        out = self.run_child("close()")
        self.assertEqual(out["seen"], "[0, 'closed']")
        self.assertEqual(out["closed"], "True True True")

    def test_leaving_the_with_block_in_a_fit_callback_defers_the_free_too(self):
        out = self.run_child("__exit__(None, None, None)")
        self.assertEqual(out["seen"], "[0, 'closed']")
        self.assertEqual(out["live"], "0 True")

    def test_fit_inside_the_same_nets_fit_callback_is_a_state_error(self):
        base = live()
        with gf.Net(2, seed=1) as net:
            net.add_dense(1)
            inner = []

            def cb(epoch, loss):
                inner.append(net.fit(XOR_X, XOR_Y, epochs=1, verbose=0))

            with self.assertRaisesRegex(gf.StateError, "fit callback"):
                net.fit(XOR_X, XOR_Y, epochs=2, callback=cb, verbose=0)
            self.assertEqual(inner, [])
            net.fit(XOR_X, XOR_Y, epochs=1, verbose=0)  # and the net is usable again afterwards
        self.assertEqual(live(), base)


if __name__ == "__main__":
    unittest.main()
