"""Every public method, given hostile arguments, raises a GradflowError and never
crashes the interpreter (run in a child process so a crash is a failure, not the end of the suite)."""
import subprocess
import sys
import tempfile
import unittest

from . import _util  # noqa: F401 (puts python/ on sys.path first)
from ._util import python_env

CHILD = r'''
import inspect, itertools, math, sys
import gradflow as gf

def hostile():
    return [None, "x", -1, 0, 2 ** 70, math.nan, math.inf, [], [[1.0, 2.0], [3.0]], [math.nan] * 4,
            object(), gf.Activation("relu"), b"abcd", 1.5, True]

def objects():
    net = gf.Net(2, seed=1)
    net.add_dense(3, "tanh")
    net.add_dense(1)
    net.set_optimizer("momentum", lr=0.1)
    return [net, net[0], net.optimizer, gf.Dense(2, 2), gf.Activation("elu"), gf.Init("uniform"),
            gf.Loss("huber"), gf.Optimizer("adam", lr=0.1), gf.Penalty(l1=0.1)]

calls, stray = 0, {}
def attempt(label, fn, args):
    global calls
    calls += 1
    try:
        fn(*args)
    except gf.GradflowError:
        pass
    except Exception as e:  # anything outside the hierarchy is a finding
        stray.setdefault(label, "%s(%s)" % (type(e).__name__, e))

def methods(obj):
    for name in dir(type(obj)):
        if name.startswith("_") or name == "close":
            continue
        if isinstance(getattr(type(obj), name), property):
            continue
        yield name, getattr(obj, name)

for closed in (False, True):
    objs = objects()
    if closed:  # the views (layer, optimizer) stay open: their net is gone
        for o in objs[:1] + objs[3:]:
            o.close()
    for obj in objs:
        for name, meth in methods(obj):
            params = [p for p in inspect.signature(meth).parameters.values()
                      if p.kind == p.POSITIONAL_OR_KEYWORD and p.default is p.empty]
            for combo in itertools.product(hostile(), repeat=min(len(params), 2)):
                attempt("%s%s.%s" % ("closed " if closed else "", type(obj).__name__, name), meth,
                        combo + (0,) * (len(params) - len(combo)))
        for name in dir(type(obj)):
            if isinstance(getattr(type(obj), name), property):
                attempt("%s%s.%s" % ("closed " if closed else "", type(obj).__name__, name),
                        lambda: getattr(obj, name), ())
                for v in hostile():
                    if getattr(type(obj), name).fset is not None:
                        attempt("set %s.%s" % (type(obj).__name__, name), setattr, (obj, name, v))
print("calls", calls)
for k, v in sorted(stray.items()):
    print("stray", k, v)
'''


class RobustnessTest(unittest.TestCase):
    def test_hostile_arguments_raise_gradflow_errors_without_crashing(self):
        # In a scratch directory: Net.save("x") with a hostile path succeeds, and must not land in the tree.
        with tempfile.TemporaryDirectory() as scratch:
            r = subprocess.run([sys.executable, "-c", CHILD], env=python_env(), capture_output=True, text=True,
                               timeout=120, cwd=scratch)
        self.assertEqual(r.returncode, 0, "child died (%d):\n%s" % (r.returncode, r.stderr[-3000:]))
        lines = r.stdout.splitlines()
        self.assertGreater(int(lines[0].split()[1]), 2000)
        self.assertEqual([l for l in lines if l.startswith("stray")], [])


if __name__ == "__main__":
    unittest.main()
