"""One object used from several Python threads: the binding serializes the calls on a handle (ctypes releases
the GIL inside every C call, and the C library allows one thread per handle at a time), so no interleaving can
crash the interpreter or corrupt the heap.  Each scenario runs in a child process, so a crash is a failure and
not the end of the suite; the child prints what it observed and the parent checks it."""
import json
import subprocess
import sys
import unittest

from . import _util  # noqa: F401 (puts python/ on sys.path first)
from ._util import python_env

PRELUDE = r'''
import json, sys, threading, time
import gradflow as gf

def wide_net(seed=1):
    net = gf.Net(256, seed=seed)
    net.add_dense(1024, "relu")
    net.add_dense(1024, "relu")
    net.add_dense(10)
    return net

def batch(n=64, width=256, outputs=10):
    x = [[((i * 7 + j * 3) % 17 - 8) / 8.0 for j in range(width)] for i in range(n)]
    y = [[((i + k) % 3) / 2.0 for k in range(outputs)] for i in range(n)]
    return x, y

def report(**kw):
    print(json.dumps(kw))
'''


def run_child(code, timeout=240):
    p = subprocess.run([sys.executable, "-c", PRELUDE + code], capture_output=True, text=True, env=python_env(),
                       timeout=timeout)
    return p


class Concurrency(unittest.TestCase):
    def child(self, code):
        p = run_child(code)
        self.assertEqual(p.returncode, 0, "child died (%d): %s" % (p.returncode, p.stderr[-2000:]))
        return json.loads(p.stdout.strip().splitlines()[-1])

    def test_close_during_training_on_another_thread_stops_it_with_a_closed_error(self):
        # Before the lock: a segfault inside train_step once the main thread freed the net under it.
        r = self.child(r'''
net = wide_net()
x, y = batch()
seen = {"steps": 0, "error": None}
def train():
    try:
        while True:
            net.train_step(x, y)
            seen["steps"] += 1
    except gf.GradflowError as e:
        seen["error"] = type(e).__name__
t = threading.Thread(target=train)
t.start()
time.sleep(0.05)
net.close()
t.join(60)
report(alive=t.is_alive(), error=seen["error"], closed=net.closed)
''')
        self.assertFalse(r["alive"])
        self.assertEqual(r["error"], "ClosedError")
        self.assertTrue(r["closed"])

    def test_changing_threads_during_training_is_serialized_and_matches_a_sequential_run(self):
        # Before the lock: "free(): corrupted unsorted chunks" as the pool was replaced mid-product.
        r = self.child(r'''
x, y = batch(32)
net = wide_net(3)
stop = threading.Event()
def train():
    for _ in range(6):
        net.train_step(x, y)
    stop.set()
t = threading.Thread(target=train)
t.start()
changes = 0
while not stop.is_set():
    net.threads = 1 + changes % 2
    changes += 1
t.join(120)
got = net[0].get_weights()
ref = wide_net(3)
for _ in range(6):
    ref.train_step(x, y)
want = ref[0].get_weights()
same = list(got) == list(want) if not hasattr(got, "tolist") else got.tolist() == want.tolist()
report(changes=changes, same=same, steps=net.steps)
''')
        self.assertGreater(r["changes"], 0)
        self.assertEqual(r["steps"], 6)
        self.assertTrue(r["same"], "thread changes altered results (they are bit-identical for every count)")

    def test_two_threads_training_one_net_take_every_step_in_some_order(self):
        r = self.child(r'''
net = gf.Net(8, seed=2)
net.add_dense(32, "tanh")
net.add_dense(1)
x = [[(i * j % 5) / 5.0 for j in range(8)] for i in range(16)]
y = [[(i % 2) * 1.0] for i in range(16)]
errors = []
def train():
    try:
        for _ in range(200):
            net.train_step(x, y)
    except Exception as e:
        errors.append(repr(e))
ts = [threading.Thread(target=train) for _ in range(2)]
for t in ts: t.start()
for t in ts: t.join(120)
report(steps=net.steps, errors=errors)
''')
        self.assertEqual(r["errors"], [])
        self.assertEqual(r["steps"], 400)

    def test_closing_one_object_from_many_threads_frees_it_once(self):
        r = self.child(r'''
import gradflow._lib as L
objs = [gf.Loss("huber") for _ in range(200)] + [gf.Penalty(l1=0.1) for _ in range(200)]
barrier = threading.Barrier(4)
def closer():
    barrier.wait()
    for o in objs:
        o.close()
ts = [threading.Thread(target=closer) for _ in range(4)]
for t in ts: t.start()
for t in ts: t.join(60)
report(live=L.lib.gf_live_allocations(), closed=all(o.closed for o in objs))
''')
        self.assertTrue(r["closed"])
        self.assertEqual(r["live"], 0)

    def test_reading_a_layer_while_another_thread_trains_sees_whole_steps(self):
        r = self.child(r'''
net = gf.Net(4, seed=4)
net.add_dense(8, "relu")
net.add_dense(1)
x = [[0.1 * (i + j) for j in range(4)] for i in range(8)]
y = [[0.5] for i in range(8)]
done = threading.Event()
trained_one = threading.Event()
read_one = threading.Event()
def train():
    for i in range(300):
        net.train_step(x, y)
        if i == 0:
            # Hold on until the reader has read once mid-training: on a loaded machine the
            # 300 steps could otherwise end before the reading loop first runs.
            trained_one.set()
            read_one.wait(60)
    done.set()
t = threading.Thread(target=train)
t.start()
trained_one.wait(60)
reads = 0
while not done.is_set():
    w = net[0].get_weights()
    d = net.describe()
    reads += 1
    read_one.set()
t.join(60)
report(reads=reads, steps=net.steps)
''')
        self.assertGreater(r["reads"], 0)
        self.assertEqual(r["steps"], 300)


    def test_one_optimizer_given_to_two_nets_from_two_threads_goes_to_one(self):
        # The second thread's set_optimizer ran while the first was inside gf_net_set_optimizer: both nets
        # took the optimizer, and closing them was "free(): double free detected" (about one race in a
        # thousand in a loop; here the second call is made inside the first one's C call).
        r = self.child(r"""
import gradflow._lib as L
nets = [gf.Net(3, seed=s) for s in (1, 2)]
for n in nets:
    n.add_dense(2)
opt = gf.Optimizer("sgd", 0.1)
real = L.lib.gf_net_set_optimizer
seen = {}
def second():
    try:
        nets[1].set_optimizer(opt)
        seen["second"] = "took it"
    except gf.StateError:
        seen["second"] = "StateError"
def first_call(h, oh):
    L.lib.gf_net_set_optimizer = real
    t = threading.Thread(target=second)
    t.start()
    t.join(0.3)
    seen["second waited"] = t.is_alive()
    status = real(h, oh)
    seen["thread"] = t
    return status
L.lib.gf_net_set_optimizer = first_call
nets[0].set_optimizer(opt)
seen.pop("thread").join(60)
owners = [n.optimizer is not None and n.optimizer.address == opt.address for n in nets]
for n in nets:
    n.close()
report(seen=seen, owners=owners, live=L.lib.gf_live_allocations())
""")
        self.assertEqual(r["seen"], {"second waited": True, "second": "StateError"})
        self.assertEqual(r["owners"], [True, False])
        self.assertEqual(r["live"], 0)

    def test_a_handle_passed_to_a_method_cannot_be_closed_until_the_call_is_done(self):
        # Each setter read its argument's C handle, then called C: another thread's close() in between freed
        # it under the call (a net took a freed optimizer; a copy read freed memory).  Here the close is made
        # from inside the C call.
        r = self.child(r"""
import gradflow._lib as L
cases = {
    "gf_net_set_optimizer": (lambda: gf.Optimizer("adam"), lambda net, o: net.set_optimizer(o)),
    "gf_net_set_loss": (lambda: gf.Loss("huber"), lambda net, o: net.set_loss(o)),
    "gf_net_set_penalty": (lambda: gf.Penalty(l2=0.1), lambda net, o: net.set_penalty(o)),
    "gf_layer_set_penalty": (lambda: gf.Penalty(l2=0.1), lambda net, o: net[0].set_penalty(o)),
    "gf_layer_set_activation": (lambda: gf.Activation("relu"), lambda net, o: net[0].set_activation(o)),
    "gf_layer_set_weight_init": (lambda: gf.Init("he_normal"), lambda net, o: net[0].set_weight_init(o)),
    "gf_net_add": (lambda: gf.Dense(2, 3), lambda net, o: net.add(o)),
    "gf_fit_set_schedule": (lambda: gf.Schedule("cosine", lr=0.1, period=5),
                            lambda net, o: net.fit([[0.0, 1.0]], [[1.0, 0.0]], epochs=1, verbose=0, schedule=o)),
}
out = {}
for name, (make, use) in cases.items():
    net = gf.Net(2, seed=1)
    net.add_dense(2)
    obj = make()
    real = getattr(L.lib, name)
    seen = {}
    def inside(*args):
        setattr(L.lib, name, real)
        closer = threading.Thread(target=obj.close)
        closer.start()
        closer.join(0.3)
        seen["close waited"] = closer.is_alive()
        seen["closer"] = closer
        return real(*args)
    setattr(L.lib, name, inside)
    try:
        use(net, obj)
        seen["call"] = "done"
    except gf.GradflowError as e:
        seen["call"] = repr(e)
    seen.pop("closer").join(60)
    net.close()
    out[name] = seen
report(out=out, live=L.lib.gf_live_allocations())
""")
        for name, seen in r["out"].items():
            self.assertEqual(seen, {"close waited": True, "call": "done"}, name)
        self.assertEqual(r["live"], 0)

    def test_a_call_that_waited_while_its_layer_joined_a_net_runs_under_the_nets_lock(self):
        # A call queued on a layer's own lock as net.add() took it ran, once add() was done, under that stale
        # lock: beside another thread's train_step on the net now holding the layer.
        r = self.child(r"""
class Probe(gf.Dense):
    def under_net_lock(self):
        return self.net is not None and self.net._serial_lock()._owner == threading.get_ident()

net = gf.Net(3, seed=1)
layer = Probe(3, 2)
own = layer._serial_lock()  # its own lock until it joins the net
own.acquire()
adder = threading.Thread(target=net.add, args=(layer,))
adder.start()
while not own._waiters:
    time.sleep(0.001)
seen = []
caller = threading.Thread(target=lambda: seen.append(layer.under_net_lock()))
caller.start()
while len(own._waiters) < 2:
    time.sleep(0.001)
own.release()  # the adder goes first, then the caller
adder.join(60)
caller.join(60)
report(seen=seen, owned=layer.owned)
""")
        self.assertFalse(r["owned"])
        self.assertEqual(r["seen"], [True])

    def test_a_diagnostics_collected_while_its_net_lock_is_awaited_closes_without_a_hang(self):
        # A thread queuing for a net's lock allocated while holding the lock's inner mutex; the collector ran
        # there and finalized an orphaned Diagnostics of that net, whose close() took the same lock and waited
        # for that mutex forever.
        r = self.child(r"""
import gc, os
net = gf.Net(3, seed=1)
net.add_dense(2)
class Holder:
    pass
def orphan():
    h = Holder()
    h.diag, h.me = gf.Diagnostics(net), h  # a cycle: only the collector frees it
orphan()
held = threading.Event()
def holder():  # lets go by itself: the collector may run in the main thread too (the threshold is the process's),
    with net._serial_lock():  # and a close() there waits for this lock, so the main thread cannot be the one to
        held.set()            # release it (that cost a 60 s timeout inside a loaded `make check`)
        time.sleep(0.3)
threading.Thread(target=holder, daemon=True).start()
held.wait(60)
done = []
def caller():
    gc.set_threshold(1)  # the next allocation of a tracked object collects
    try:
        done.append(net.steps)  # queues for the holder's lock
    finally:
        gc.set_threshold(700)
t = threading.Thread(target=caller, daemon=True)
t.start()
t.join(30)
report(hung=t.is_alive(), done=done, attached=gf.Diagnostics(net).net is net if not t.is_alive() else None)
sys.stdout.flush()
os._exit(0)  # a hung daemon thread must not keep the child alive
""")
        self.assertFalse(r["hung"])
        self.assertEqual(r["done"], [0])
        self.assertTrue(r["attached"])  # the orphan was closed: a new Diagnostics may attach

class FairLock(unittest.TestCase):
    """The handle lock serves waiting threads in arrival order (threading.RLock let a thread calling train_step
    in a loop take it back first, and close() from another thread waited 6 - 199 s)."""

    def setUp(self):
        import threading
        from gradflow._core import _FairRLock
        self.threading = threading
        self.lock = _FairRLock()

    def wait_queued(self, n):
        import time
        deadline = time.monotonic() + 30
        while len(self.lock._waiters) < n and time.monotonic() < deadline:
            time.sleep(0.001)
        self.assertEqual(len(self.lock._waiters), n)

    def test_a_waiting_thread_gets_the_lock_before_its_holder_takes_it_again(self):
        order = []
        self.lock.acquire()

        def waiter():
            with self.lock:
                order.append("waiter")
        t = self.threading.Thread(target=waiter)
        t.start()
        self.wait_queued(1)
        self.lock.release()
        with self.lock:  # the holder's next call, at once: it queues behind the waiter
            order.append("holder again")
        t.join(30)
        self.assertEqual(order, ["waiter", "holder again"])

    def test_waiting_threads_get_the_lock_in_the_order_they_came(self):
        order = []
        self.lock.acquire()
        threads = []
        for i in range(4):
            t = self.threading.Thread(target=lambda i=i: (self.lock.acquire(), order.append(i), self.lock.release()))
            t.start()
            self.wait_queued(i + 1)
            threads.append(t)
        self.lock.release()
        for t in threads:
            t.join(30)
        self.assertEqual(order, [0, 1, 2, 3])

    def test_the_holder_may_take_it_again_and_only_the_holder_may_release_it(self):
        with self.lock:
            with self.lock:
                self.assertEqual(self.lock._count, 2)
            errors = []

            def other():
                try:
                    self.lock.release()
                except RuntimeError as e:
                    errors.append(e)
            t = self.threading.Thread(target=other)
            t.start()
            t.join(30)
            self.assertEqual(len(errors), 1)
        self.assertIsNone(self.lock._owner)


if __name__ == "__main__":
    unittest.main()
