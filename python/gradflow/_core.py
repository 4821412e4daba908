"""_core.py — the Pythonic objects over the C handles.

Ownership mirrors C.  An object created in Python owns its handle and frees
it on close(), on leaving a `with` block, or when garbage-collected.  Once a
Layer is added to a Net (or an Optimizer set on one) the Net owns the C
object: the Python object turns into a borrowed view that keeps the Net
alive, never frees the handle, and raises ClosedError if used after the Net
was closed (or, for an Optimizer, after it was replaced).
"""
import collections
import contextlib
import ctypes
import functools
import os
import threading
from collections.abc import Mapping
from ctypes import byref, c_double, c_int32, c_int64, c_size_t

from . import _decls as D
from ._data import INT64_MAX, SIZE_MAX, _fmt_shape, as_flag, as_floats, as_int, as_real, new_output, np
from ._enums import (INT32, ActivationKind, ActivationParam, ClipMode, FanMode, InitKind, LayerKind, LayerOption,
                     LossKind, LossParam, ModelField, OptimizerKind, OptimizerParam, SaveFlag, ShapeKind, enum_value,
                     to_enum)
from ._errors import (ClosedError, DataTypeError, GuardError, InvalidArgumentError, KindError, NullError,
                      RangeError, ShapeError, SizeOverflowError, StateError, Status)
from ._lib import check, last_message, lib


def _addr(h):
    return ctypes.cast(h, ctypes.c_void_p).value or 0


def _u64(value, what, where):
    return as_int(value, what, where, 0, 2 ** 64 - 1)


def _i32(value, what, where):
    return as_int(value, what, where, *INT32)


def _size(value, what, where):
    """A positive size that also fits int64 (the C side's counts)."""
    return as_int(value, what, where, -(2 ** 63), INT64_MAX)


_MAX_RANK = 4


def _read_shape(fn, h, where, net_h=None):
    """(ShapeKind, dims tuple) from a gf_*_shape reader."""
    kind, rank = c_int32(), c_int32()
    dims = (c_int64 * _MAX_RANK)()
    check(fn(h, byref(kind), dims, _MAX_RANK, byref(rank)), net_h)
    return to_enum(ShapeKind, kind.value), tuple(dims[i] for i in range(rank.value))


# ---- one thread per handle at a time --------------------------------------
#
# ctypes releases the GIL inside every C call, and the C library allows one
# thread per handle at a time (separate handles may run on separate threads
# at once).  So every method of a handle object runs under that handle's
# re-entrant lock, handed to waiting threads in arrival order (_FairRLock):
# calls on one object from several threads are serialized
# (close() waits for a train_step in flight, which then ends normally; the
# next call raises ClosedError).  A borrowed view (a Net's layer, optimizer)
# and a Net's Diagnostics use the Net's lock, since their C calls touch the
# Net's memory.  Re-entrant, so a fit() callback may call back into its Net.

class _FairRLock:
    """A re-entrant lock that hands itself to waiting threads in the order they came.

    threading.RLock is not fair: a thread calling a Net in a loop (train_step
    after train_step) releases the lock and takes it again before a waiting
    thread wakes, so close() or a read of a property from another thread
    waited for seconds to minutes (6 - 199 s were seen).  Here a release with
    threads waiting passes ownership straight to the first of them.
    Uncontended, acquire and release each take one plain lock.
    """

    __slots__ = ("_mu", "_owner", "_count", "_waiters")

    def __init__(self):
        self._mu = threading.Lock()  # guards the fields below
        self._owner = None  # thread ident of the holder
        self._count = 0  # the holder's nesting depth
        self._waiters = collections.deque()  # (ident, gate) in arrival order; gate released on handoff

    def acquire(self):
        me = _get_ident()
        if self._owner == me:  # only this thread sets or clears its own ownership
            self._count += 1
            return True
        mu = self._mu
        mu.acquire()
        if self._owner is None and not self._waiters:
            self._owner, self._count = me, 1
            mu.release()
            return True
        mu.release()
        # Allocated without _mu held: allocating may run the garbage collector, whose finalizers (a collected
        # Diagnostics closing itself) take this very lock, and _mu is not re-entrant.
        gate = threading.Lock()
        gate.acquire()
        entry = (me, gate)
        mu.acquire()
        if self._owner is None and not self._waiters:  # released meanwhile
            self._owner, self._count = me, 1
            mu.release()
            return True
        self._waiters.append(entry)
        mu.release()
        try:
            gate.acquire()  # the releaser made this thread the owner, then opened the gate
        except BaseException:  # interrupted (KeyboardInterrupt in the main thread): leave the queue
            with mu:
                if entry in self._waiters:
                    self._waiters.remove(entry)
                    raise
            self.release()  # ownership arrived meanwhile: pass it on
            raise
        return True

    def release(self):
        if self._owner != _get_ident():
            raise RuntimeError("cannot release a lock this thread does not hold")
        if self._count > 1:
            self._count -= 1
            return
        with self._mu:
            if self._waiters:
                ident, gate = self._waiters.popleft()
                self._owner, self._count = ident, 1
                gate.release()
            else:
                self._owner, self._count = None, 0

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc):
        self.release()


_get_ident = threading.get_ident

_SKIP = {"__init__", "__del__", "__init_subclass__", "__copy__", "__deepcopy__", "__reduce_ex__", "__eq__",
         "__hash__", "_adopt", "_serial_lock", "_own_lock", "__bool__"}


def _acquire_serial(obj):
    """Takes and returns the lock that guards obj now.  A thread that waited on an object's own lock while
    the object joined a Net (net.add, set_optimizer) gets that stale lock: it passes on to the Net's."""
    lock = obj._serial_lock()
    while True:
        lock.acquire()
        now = obj._serial_lock()
        if now is lock:
            return lock
        lock.release()
        lock = now


def _serialized(fn):
    @functools.wraps(fn)
    def call(self, *args, **kwargs):
        lock = _acquire_serial(self)
        try:
            return fn(self, *args, **kwargs)
        finally:
            lock.release()
    return call


@contextlib.contextmanager
def _held(obj):
    """Holds obj's own lock: while a method of another object passes obj's handle to C, no other thread can
    close obj (free the handle under the call) or hand it to a Net (two nets taking one optimizer).  Own
    locks come after the Net's in every path, so holding one inside a Net's call cannot deadlock."""
    lock = obj._own_lock()
    lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _serialize_class(cls):
    """Wraps every method and property accessor defined in cls itself in the object's lock."""
    for name, attr in list(vars(cls).items()):
        if name in _SKIP or isinstance(attr, (staticmethod, classmethod, type)):
            continue
        if isinstance(attr, property):
            setattr(cls, name, property(attr.fget and _serialized(attr.fget), attr.fset and _serialized(attr.fset),
                                        attr.fdel and _serialized(attr.fdel), attr.__doc__))
        elif callable(attr):
            setattr(cls, name, _serialized(attr))
    return cls


def _once(init):
    """__init__ of a handle object, refused while the object holds a handle: run again it made a second C
    object and dropped the first (leaked, with the views and Diagnostics still using it), and on a Net's view
    it turned the view into the owner of a new object."""
    @functools.wraps(init)
    def guarded(self, *args, **kwargs):
        if self.__dict__.get("_h"):
            raise StateError("%s.__init__: this %s is already initialized (it holds a C object); create a new one"
                             % (type(self).__name__, self._label))
        init(self, *args, **kwargs)
    return guarded


class _Handle:
    """Base: one C handle, owned (self._owner is None) or borrowed from a Net."""
    _h = None
    _owner = None
    _addr = 0
    _destroy = None  # name of the C destroy function
    _label = "object"

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _serialize_class(cls)
        init = cls.__dict__.get("__init__")
        if init is not None:
            cls.__init__ = _once(init)

    def _serial_lock(self):
        """The lock this object's calls hold: its own, or the owning Net's for a borrowed view."""
        owner = self._owner
        if owner is not None:
            return owner._serial_lock()
        return self._own_lock()

    def _own_lock(self):
        """This object's own lock, whoever owns the C object now: taken to hand it to a Net, to close it while
        Python owns it, and while another object's method passes its handle to C (_held)."""
        m = self.__dict__.get("_mutex")
        if m is None:  # setdefault is atomic: two first callers get the same lock
            m = self.__dict__.setdefault("_mutex", _FairRLock())
        return m

    def _adopt(self, h, owner=None):
        self._h = h
        self._owner = owner
        self._addr = _addr(h)

    def _ptr(self, where):
        """The live C handle, or ClosedError naming the method."""
        h = self._h
        if not h:
            raise ClosedError("%s: this %s is closed" % (where, self._label))
        if self._owner is not None:
            self._check_borrow(where)
        return h

    def _check_borrow(self, where):
        if not self._owner._h:
            raise ClosedError("%s: the Net that owns this %s was closed" % (where, self._label))

    @property
    def closed(self):
        """True once this object can no longer be used."""
        try:
            self._ptr("closed")
        except ClosedError:
            return True
        return False

    @property
    def owned(self):
        """True while Python owns the C object (False once a Net owns it)."""
        return bool(self._h) and self._owner is None

    @property
    def address(self):
        """The C handle's address (0 when closed), for identity checks."""
        return self._addr if self._h else 0

    def close(self):
        """Free the C object now if Python owns it; a borrowed view just detaches.  Idempotent."""
        h, owner = self._h, self._owner
        self._h = None
        self._owner = None
        if h and owner is None and self._destroy:
            getattr(lib, self._destroy)(h)

    def __del__(self):
        try:
            if self._owner is not None:  # a borrowed view frees nothing: detach without taking the Net's lock
                self._h = None
                self._owner = None
                return
            self.close()
        except Exception:  # interpreter shutdown: the library may already be gone
            pass

    def __enter__(self):
        self._ptr("%s.__enter__" % type(self).__name__)
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def __eq__(self, other):
        if not isinstance(other, _Handle) or type(self)._destroy != type(other)._destroy:
            return NotImplemented
        return self._h is not None and other._h is not None and self._addr == other._addr

    def __hash__(self):
        return hash((type(self)._destroy, self._addr))

    # Two Python objects on one handle would free it twice: refuse copies.
    def __copy__(self):
        raise TypeError("%s objects cannot be copied (they own a C handle)" % type(self).__name__)

    def __deepcopy__(self, memo):
        raise TypeError("%s objects cannot be copied (they own a C handle)" % type(self).__name__)

    def __reduce_ex__(self, protocol):
        raise TypeError("%s objects cannot be pickled (they own a C handle)" % type(self).__name__)

    def _state(self):
        if not self._h:
            return "closed"
        if self._owner is not None and not self._owner._h:
            return "closed"
        return "borrowed" if self._owner is not None else "owned"


_serialize_class(_Handle)


def _require(obj, cls, what, where, allow_none=False, keep=None):
    """obj must be a live cls instance: NullError for None, KindError for another type.  With `keep` (an
    ExitStack) obj's own lock is held until it closes, so the handle stays valid through the C call."""
    if obj is None:
        if allow_none:
            return None
        raise NullError("%s: %s is None" % (where, what))
    if not isinstance(obj, cls):
        raise KindError("%s: %s must be a %s, got %s" % (where, what, cls.__name__, type(obj).__name__))
    if keep is not None:
        keep.enter_context(_held(obj))
    return obj._ptr(where)


def _require_unowned(obj, cls, what, where, belongs):
    """obj (a cls) is Python's to give away: NullError / KindError as _require, ClosedError when it or the Net
    that owns it was closed, StateError (`belongs`) when a Net owns it.  Checked without taking the owning
    Net's lock, which a call on another Net must not wait for (two threads doing so crosswise would deadlock)."""
    if obj is None:
        raise NullError("%s: %s is None" % (where, what))
    if not isinstance(obj, cls):
        raise KindError("%s: %s must be a %s, got %s" % (where, what, cls.__name__, type(obj).__name__))
    owner = obj._owner
    if not obj._h or (owner is not None and not owner._h):
        raise ClosedError("%s: this %s is closed" % (where, obj._label) if not obj._h else
                          "%s: the Net that owns this %s was closed" % (where, obj._label))
    if owner is not None:
        raise StateError("%s: %s" % (where, belongs))


def _get_param(fn, h, param, known, where):
    """A hyper-parameter's value; None for one of `known` (an IntEnum) this kind does not use.

    The C getter refuses such a parameter with GF_ERR_INVALID; to a Python caller,
    opt.beta1 of an SGD optimizer is simply not set, as in a torch param group.
    """
    v = c_double()
    status = fn(h, param, byref(v))
    if status == Status.ERR_INVALID and param in known._value2member_map_:
        last_message()  # consumed: not an error here
        return None
    check(status)
    return v.value


# --------------------------------------------------------------------------
# Activation
# --------------------------------------------------------------------------

class Activation(_Handle):
    """An activation function: Activation("relu"), Activation("leaky_relu", slope=0.2)."""
    _destroy = "gf_activation_destroy"
    _label = "Activation"

    def __init__(self, kind=ActivationKind.RELU, *, slope=None, alpha=None):
        where = "Activation"
        k = enum_value(ActivationKind, kind, "kind", where)
        h = D.ActP()
        check(lib.gf_activation_create(byref(h), k))
        self._adopt(h)
        if slope is not None:
            self.set(ActivationParam.SLOPE, slope)
        if alpha is not None:
            self.set(ActivationParam.ALPHA, alpha)

    @staticmethod
    def name_of(kind):
        """The library's name for an activation kind ("relu"); "?" for an unknown one."""
        k = enum_value(ActivationKind, kind, "kind", "Activation.name_of")
        return lib.gf_activation_name(k).decode()

    @property
    def kind(self):
        return to_enum(ActivationKind, lib.gf_activation_kind(self._ptr("Activation.kind")))

    @property
    def name(self):
        return lib.gf_activation_name(int(self.kind)).decode()

    def get(self, param):
        """The parameter's value; None for one this kind does not have (relu's slope)."""
        where = "Activation.get"
        p = enum_value(ActivationParam, param, "param", where)
        return _get_param(lib.gf_activation_get, self._ptr(where), p, ActivationParam, where)

    def set(self, param, value):
        where = "Activation.set"
        p = enum_value(ActivationParam, param, "param", where)
        check(lib.gf_activation_set(self._ptr(where), p, as_real(value, "value", where)))

    slope = property(lambda self: self.get(ActivationParam.SLOPE),
                     lambda self, v: self.set(ActivationParam.SLOPE, v), doc="leaky ReLU negative slope")
    alpha = property(lambda self: self.get(ActivationParam.ALPHA),
                     lambda self, v: self.set(ActivationParam.ALPHA, v), doc="ELU alpha")

    def _map(self, fn, x, where):
        h = self._ptr(where)
        fd = as_floats(x, "x", where)
        out, optr = new_output(fd.shape)
        if fd.count:
            check(fn(h, fd.ptr, optr, fd.count))
        return out

    def apply(self, x):
        """f(x), element-wise, shaped like x."""
        return self._map(lib.gf_activation_apply, x, "Activation.apply")

    def derivative(self, x):
        """f'(x), element-wise, shaped like x."""
        return self._map(lib.gf_activation_derivative, x, "Activation.derivative")

    def __repr__(self):
        if self._state() == "closed":
            return "<gradflow.Activation closed>"
        return "<gradflow.Activation %s>" % self.name


def _activation_ptr(act, where, keep):
    """C handle for an Activation (its lock held), a kind name or an int (a temporary, closed) until the
    ExitStack `keep` closes."""
    if isinstance(act, Activation):
        return _require(act, Activation, "activation", where, keep=keep)
    if act is None:
        raise NullError("%s: activation is None" % where)
    if isinstance(act, _Handle):
        raise KindError("%s: activation must be an Activation, got %s" % (where, type(act).__name__))
    tmp = Activation(enum_value(ActivationKind, act, "activation", where))
    keep.callback(tmp.close)
    return tmp._h


# --------------------------------------------------------------------------
# Init
# --------------------------------------------------------------------------

class Init(_Handle):
    """A parameter initializer: Init("he_normal"), Init("uniform", a=-0.1, b=0.1), Init("constant", a=0.1)."""
    _destroy = "gf_init_destroy"
    _label = "Init"

    def __init__(self, kind=InitKind.DEFAULT, *, a=None, b=None, gain=None, mode=None):
        where = "Init"
        k = enum_value(InitKind, kind, "kind", where)
        h = D.InitP()
        check(lib.gf_init_create(byref(h), k))
        self._adopt(h)
        self._kind = to_enum(InitKind, k)
        if a is not None or b is not None:
            self.set_range(0.0 if a is None else a, 0.0 if b is None else b)
        if gain is not None:
            self.set_gain(gain)
        if mode is not None:
            self.set_mode(mode)

    @property
    def kind(self):
        """The kind given at creation (the C API has no getter)."""
        self._ptr("Init.kind")
        return self._kind

    def set_range(self, a, b):
        """constant: value a; uniform: U(a, b); normal: N(mean a, std b)."""
        where = "Init.set_range"
        check(lib.gf_init_set_range(self._ptr(where), as_real(a, "a", where), as_real(b, "b", where)))

    def set_gain(self, gain):
        where = "Init.set_gain"
        check(lib.gf_init_set_gain(self._ptr(where), as_real(gain, "gain", where)))

    def set_mode(self, mode):
        where = "Init.set_mode"
        check(lib.gf_init_set_mode(self._ptr(where), enum_value(FanMode, mode, "mode", where)))

    @staticmethod
    def gain(activation, param=None):
        """PyTorch's calculate_gain(activation, param) for an activation kind.

        param is leaky ReLU's slope; None (the default) is the activation's default
        slope 0.01, as in PyTorch, and 0 is slope 0 (the ReLU gain, sqrt 2)."""
        where = "Init.gain"
        k = enum_value(ActivationKind, activation, "activation", where)
        p = float("nan") if param is None else as_real(param, "param", where)
        g = lib.gf_init_gain(k, p)
        if g != g:
            raise InvalidArgumentError("%s: no gain for activation kind %r" % (where, activation))
        return g

    def fill(self, rows, cols, seed=0):
        """A fresh rows x cols array drawn from this initializer (fan_in = cols, fan_out = rows)."""
        where = "Init.fill"
        h = self._ptr(where)
        rows = _size(rows, "rows", where)
        cols = _size(cols, "cols", where)
        seed = _u64(seed, "seed", where)
        if rows <= 0 or cols <= 0:
            raise ShapeError("%s: rows and cols must be positive (got %d x %d)" % (where, rows, cols))
        if rows * cols * 4 > min(SIZE_MAX, INT64_MAX):
            raise SizeOverflowError("%s: %d x %d floats overflow a size" % (where, rows, cols))
        out, optr = new_output((rows, cols))
        check(lib.gf_init_fill(h, optr, rows * cols, rows, cols, seed))
        return out

    def __repr__(self):
        if self._state() == "closed":
            return "<gradflow.Init closed>"
        return "<gradflow.Init %s>" % getattr(self._kind, "name", self._kind).lower()


def _init_ptr(init, where, keep):
    if isinstance(init, Init):
        return _require(init, Init, "init", where, keep=keep)
    if init is None:
        raise NullError("%s: init is None" % where)
    if isinstance(init, _Handle):
        raise KindError("%s: init must be an Init, got %s" % (where, type(init).__name__))
    tmp = Init(enum_value(InitKind, init, "init", where))
    keep.callback(tmp.close)
    return tmp._h


# --------------------------------------------------------------------------
# Loss
# --------------------------------------------------------------------------

class Loss(_Handle):
    """A loss function: Loss("mse"), Loss("huber", delta=0.5), Loss("softmax_ce_labels").

    per_step=True: on a net whose output is a sequence (T x C), every time step is a row of its own, as in
    PyTorch's CrossEntropyLoss on (N, C, T): a softmax over C at each step, T labels per sample."""
    _destroy = "gf_loss_destroy"
    _label = "Loss"

    def __init__(self, kind=LossKind.MSE, *, delta=None, per_step=None):
        where = "Loss"
        k = enum_value(LossKind, kind, "kind", where)
        h = D.LossP()
        check(lib.gf_loss_create(byref(h), k))
        self._adopt(h)
        if delta is not None:
            self.set(LossParam.DELTA, delta)
        if per_step is not None:
            self.per_step = per_step

    @property
    def kind(self):
        return to_enum(LossKind, lib.gf_loss_kind(self._ptr("Loss.kind")))

    def get(self, param):
        """The parameter's value; None for one this kind does not have (MSE's delta)."""
        where = "Loss.get"
        p = enum_value(LossParam, param, "param", where)
        return _get_param(lib.gf_loss_get, self._ptr(where), p, LossParam, where)

    def set(self, param, value):
        where = "Loss.set"
        p = enum_value(LossParam, param, "param", where)
        check(lib.gf_loss_set(self._ptr(where), p, as_real(value, "value", where)))

    delta = property(lambda self: self.get(LossParam.DELTA), lambda self, v: self.set(LossParam.DELTA, v),
                     doc="Huber delta")

    @property
    def per_step(self):
        """Whether a sequence output's time steps are rows of their own (GF_LOSS_PARAM_PER_STEP)."""
        return self.get(LossParam.PER_STEP) == 1.0

    @per_step.setter
    def per_step(self, value):
        self.set(LossParam.PER_STEP, 1.0 if as_flag(value, "per_step", "Loss.per_step") else 0.0)

    def target_width(self, outputs):
        """Width of a target row for predictions of width `outputs`."""
        where = "Loss.target_width"
        w = lib.gf_loss_target_width(self._ptr(where), _size(outputs, "outputs", where))
        if w <= 0:
            check(Status.ERR_INVALID)  # with the library's message
        return w

    def compute(self, pred, target, *, width=None, grad=True):
        """Mean loss of pred (batch x width) against target; (loss, d loss/d pred) or just loss.

        A 1-D pred is one sample unless `width` says how wide a row is.
        """
        where = "Loss.compute"
        h = self._ptr(where)
        grad = as_flag(grad, "grad", where)
        p = as_floats(pred, "pred", where)
        if width is None:
            width = p.count // p.shape[0] if len(p.shape) >= 2 and p.shape[0] else p.count
        width = _size(width, "width", where)
        batch = p.rows_of(width, "pred", where)
        tw = self.target_width(width)
        t = as_floats(target, "target", where)
        trows = t.rows_of(tw, "target", where)
        if trows != batch:
            raise ShapeError("%s: target has %d rows, pred has %d" % (where, trows, batch))
        value = c_double()
        if grad:
            g, gptr = new_output(p.shape)
        else:
            g, gptr = None, None
        check(lib.gf_loss_compute(h, p.ptr, t.ptr, batch, width, byref(value), gptr))
        return (value.value, g) if grad else value.value

    def __repr__(self):
        if self._state() == "closed":
            return "<gradflow.Loss closed>"
        k = self.kind
        return "<gradflow.Loss %s>" % getattr(k, "name", k).lower()


def _loss_ptr(loss, where, keep):
    if isinstance(loss, Loss):
        return _require(loss, Loss, "loss", where, keep=keep), loss.kind
    if loss is None:
        raise NullError("%s: loss is None" % where)
    if isinstance(loss, _Handle):
        raise KindError("%s: loss must be a Loss, got %s" % (where, type(loss).__name__))
    tmp = Loss(enum_value(LossKind, loss, "loss", where))
    keep.callback(tmp.close)
    return tmp._h, tmp.kind


# --------------------------------------------------------------------------
# Penalty
# --------------------------------------------------------------------------

class Penalty(_Handle):
    """L1/L2 regularization: Penalty(l2=1e-4), Penalty(l1=1e-5, l2=1e-4, include_bias=True)."""
    _destroy = "gf_penalty_destroy"
    _label = "Penalty"

    def __init__(self, l1=0.0, l2=0.0, *, include_bias=False):
        where = "Penalty"
        h = D.PenP()
        check(lib.gf_penalty_create(byref(h), as_real(l1, "l1", where), as_real(l2, "l2", where)))
        self._adopt(h)
        if as_flag(include_bias, "include_bias", where):
            self.include_bias = True

    def _get(self):
        l1, l2, ib = c_double(), c_double(), c_int32()
        check(lib.gf_penalty_get(self._ptr("Penalty.get"), byref(l1), byref(l2), byref(ib)))
        return l1.value, l2.value, bool(ib.value)

    l1 = property(lambda self: self._get()[0], doc="L1 coefficient")
    l2 = property(lambda self: self._get()[1], doc="L2 coefficient")

    @property
    def include_bias(self):
        return self._get()[2]

    @include_bias.setter
    def include_bias(self, on):
        on = as_flag(on, "include_bias", "Penalty.include_bias")
        check(lib.gf_penalty_set_include_bias(self._ptr("Penalty.include_bias"), 1 if on else 0))

    def __repr__(self):
        if self._state() == "closed":
            return "<gradflow.Penalty closed>"
        l1, l2, ib = self._get()
        return "<gradflow.Penalty l1=%g l2=%g include_bias=%s>" % (l1, l2, ib)


# --------------------------------------------------------------------------
# Optimizer
# --------------------------------------------------------------------------

_OPT_KWARGS = {
    "momentum": OptimizerParam.MOMENTUM_MU,
    "beta1": OptimizerParam.BETA1,
    "beta2": OptimizerParam.BETA2,
    "eps": OptimizerParam.EPS,
    "rho": OptimizerParam.RHO,
    "weight_decay": OptimizerParam.WEIGHT_DECAY,
}


# The rate an Optimizer gets when none is given: PyTorch's and Keras's defaults agree on 1e-3 for Adam and AdamW;
# 0.01 for the others (Keras's SGD, PyTorch's RMSprop and Adagrad).
_DEFAULT_LR = {OptimizerKind.ADAM: 1e-3, OptimizerKind.ADAMW: 1e-3}


class Optimizer(_Handle):
    """An optimizer: Optimizer("adam", lr=1e-3, beta2=0.99).  Net.set_optimizer() transfers it to the Net.
    lr=None: 1e-3 for adam and adamw, 0.01 for the others."""
    _destroy = "gf_optimizer_destroy"
    _label = "Optimizer"

    def __init__(self, kind=OptimizerKind.SGD, lr=None, **params):
        where = "Optimizer"
        k = enum_value(OptimizerKind, kind, "kind", where)
        if lr is None:
            lr = _DEFAULT_LR.get(k, 0.01)  # an int outside the enum: the library refuses the kind
        unknown = sorted(set(params) - set(_OPT_KWARGS))
        if unknown:
            raise InvalidArgumentError("%s: unknown parameter(s) %s (known: %s)"
                                       % (where, ", ".join(unknown), ", ".join(sorted(_OPT_KWARGS))))
        h = D.OptP()
        check(lib.gf_optimizer_create(byref(h), k, as_real(lr, "lr", where)))
        self._adopt(h)
        for name, value in params.items():
            if value is not None:
                self.set(_OPT_KWARGS[name], value)

    def _check_borrow(self, where):
        super()._check_borrow(where)
        # The Net frees its optimizer when another one replaces it.  The address alone cannot tell:
        # a later optimizer may be allocated where the freed one was, so each view also carries the
        # Net's optimizer generation (bumped by every set_optimizer) from when it was taken.
        if (getattr(self, "_gen", None) != self._owner._opt_gen
                or _addr(lib.gf_net_optimizer(self._owner._h)) != self._addr):
            raise ClosedError("%s: this Optimizer was replaced on its Net and no longer exists" % where)

    @property
    def kind(self):
        return to_enum(OptimizerKind, lib.gf_optimizer_kind(self._ptr("Optimizer.kind")))

    def get(self, param):
        """The hyper-parameter's value ("lr", "momentum", "beta1", ... or an OptimizerParam);
        None for one this kind does not use (SGD's beta1)."""
        where = "Optimizer.get"
        p = enum_value(OptimizerParam, param, "param", where)
        return _get_param(lib.gf_optimizer_get, self._ptr(where), p, OptimizerParam, where)

    def set(self, param, value):
        where = "Optimizer.set"
        p = enum_value(OptimizerParam, param, "param", where)
        check(lib.gf_optimizer_set(self._ptr(where), p, as_real(value, "value", where)))

    def reset(self):
        """Zero the moments and the step counter; hyper-parameters stay."""
        check(lib.gf_optimizer_reset(self._ptr("Optimizer.reset")))

    @property
    def steps(self):
        return lib.gf_optimizer_steps(self._ptr("Optimizer.steps"))

    @property
    def net(self):
        """The Net that owns this optimizer, or None."""
        return self._owner

    def __repr__(self):
        if self._state() == "closed":
            return "<gradflow.Optimizer closed>"
        k = self.kind
        return "<gradflow.Optimizer %s lr=%g %s>" % (getattr(k, "name", k).lower(), self.lr, self._state())


def _opt_property(param, doc):
    return property(lambda self: self.get(param), lambda self, v: self.set(param, v), doc=doc)


Optimizer.lr = _opt_property(OptimizerParam.LR, "learning rate")
Optimizer.momentum = _opt_property(OptimizerParam.MOMENTUM_MU, "momentum / nesterov mu")
Optimizer.beta1 = _opt_property(OptimizerParam.BETA1, "Adam beta1")
Optimizer.beta2 = _opt_property(OptimizerParam.BETA2, "Adam beta2")
Optimizer.eps = _opt_property(OptimizerParam.EPS, "epsilon")
Optimizer.rho = _opt_property(OptimizerParam.RHO, "RMSprop decay")
Optimizer.weight_decay = _opt_property(OptimizerParam.WEIGHT_DECAY, "weight decay")


# --------------------------------------------------------------------------
# Layers
# --------------------------------------------------------------------------

class Layer(_Handle):
    """Base of the layer kinds.  Borrowed (owned by a Net) once added."""
    _destroy = "gf_layer_destroy"
    _label = "Layer"

    @staticmethod
    def _view(h, net):
        """A borrowed view of a layer the Net owns."""
        cls = _LAYER_CLASSES.get(lib.gf_layer_kind(h), Layer)
        obj = cls.__new__(cls)
        obj._adopt(h, net)
        return obj

    @property
    def net(self):
        """The Net that owns this layer, or None."""
        return self._owner

    @property
    def kind(self):
        return to_enum(LayerKind, lib.gf_layer_kind(self._ptr("Layer.kind")))

    @property
    def activation_kind(self):
        return to_enum(ActivationKind, lib.gf_layer_activation_kind(self._ptr("Layer.activation_kind")))

    @property
    def inputs(self):
        return lib.gf_layer_input_size(self._ptr("Layer.inputs"))

    @property
    def outputs(self):
        return lib.gf_layer_output_size(self._ptr("Layer.outputs"))

    @property
    def weight_count(self):
        return lib.gf_layer_weight_count(self._ptr("Layer.weight_count"))

    @property
    def bias_count(self):
        return lib.gf_layer_bias_count(self._ptr("Layer.bias_count"))

    def set_activation(self, activation):
        """Activation object, kind name or int (copied by the layer)."""
        where = "Layer.set_activation"
        h = self._ptr(where)
        with contextlib.ExitStack() as keep:
            check(lib.gf_layer_set_activation(h, _activation_ptr(activation, where, keep)), self._net_h())

    def set_weight_init(self, init):
        """Init object, kind name or int (copied); used when the layer joins a net and on reinit.
        A layer already in a net draws its weights again with it at once (before training)."""
        where = "Layer.set_weight_init"
        h = self._ptr(where)
        with contextlib.ExitStack() as keep:
            check(lib.gf_layer_set_weight_init(h, _init_ptr(init, where, keep)), self._net_h())

    def set_bias_init(self, init):
        """The same for the bias."""
        where = "Layer.set_bias_init"
        h = self._ptr(where)
        with contextlib.ExitStack() as keep:
            check(lib.gf_layer_set_bias_init(h, _init_ptr(init, where, keep)), self._net_h())

    def set_penalty(self, penalty):
        """Penalty for this layer only (copied); None removes it."""
        where = "Layer.set_penalty"
        h = self._ptr(where)
        with contextlib.ExitStack() as keep:
            p = _require(penalty, Penalty, "penalty", where, allow_none=True, keep=keep)
            check(lib.gf_layer_set_penalty(h, p), self._net_h())

    @classmethod
    def create(cls, kind, activation=None, *, weight_init=None, bias_init=None, penalty=None, **options):
        """A layer of any kind, sized when added to a Net: Layer.create("dense", "relu", outputs=8).

        Options are LayerOption names in lower case (outputs=, inputs=) or {LayerOption.X: value} via set_option."""
        where = "Layer.create"
        k = enum_value(LayerKind, kind, "kind", where)
        h = D.LayerP()
        check(lib.gf_layer_create(byref(h), k))
        obj = _LAYER_CLASSES.get(k, Layer).__new__(_LAYER_CLASSES.get(k, Layer))
        obj._adopt(h)
        try:
            for name, value in options.items():
                obj.set_option(name, value)
            if activation is not None:
                obj.set_activation(activation)
            if weight_init is not None:
                obj.set_weight_init(weight_init)
            if bias_init is not None:
                obj.set_bias_init(bias_init)
            if penalty is not None:
                obj.set_penalty(penalty)
        except BaseException:
            obj.close()
            raise
        return obj

    def set_option(self, key, value):
        """Set a keyed option (LayerOption, its name, or an int); refused once the layer is in a net."""
        where = "Layer.set_option"
        h = self._ptr(where)
        k = enum_value(LayerOption, key, "option", where)
        check(lib.gf_layer_set_option(h, k, as_real(value, "value", where)), self._net_h())

    def get_option(self, key):
        where = "Layer.get_option"
        h = self._ptr(where)
        k = enum_value(LayerOption, key, "option", where)
        v = c_double()
        check(lib.gf_layer_get_option(h, k, byref(v)), self._net_h())
        return int(v.value) if v.value == int(v.value) else v.value

    @property
    def options(self):
        """{LayerOption: value} of every option the kind takes (what a model file stores)."""
        h = self._ptr("Layer.options")
        keys = [lib.gf_layer_option_key(h, i) for i in range(lib.gf_layer_option_count(h))]
        return {to_enum(LayerOption, k): self.get_option(k) for k in keys}

    @property
    def input_shape(self):
        """(ShapeKind, dims) of one input sample; StateError before a generic layer is added."""
        return _read_shape(lib.gf_layer_input_shape, self._ptr("Layer.input_shape"), "Layer.input_shape",
                           self._net_h())

    @property
    def output_shape(self):
        return _read_shape(lib.gf_layer_output_shape, self._ptr("Layer.output_shape"), "Layer.output_shape",
                           self._net_h())

    # ---- named parameter blocks (PyTorch's names and dims)
    @property
    def param_names(self):
        """Block names in PyTorch's state_dict order, e.g. ["weight", "bias"]."""
        h = self._ptr("Layer.param_names")
        return [lib.gf_layer_param_block_name(h, i).decode() for i in range(lib.gf_layer_param_block_count(h))]

    def _block(self, name, where):
        h = self._ptr(where)
        if isinstance(name, str):
            # C compares up to a NUL byte: "weight\0x" must not find "weight".
            if "\0" in name:
                raise RangeError("%s: this layer has no block %r (a name with a NUL byte)" % (where, name))
            try:
                raw = name.encode()
            except UnicodeEncodeError:
                raise RangeError("%s: this layer has no block %r" % (where, name)) from None
            i = c_int32()
            check(lib.gf_layer_param_block_find(h, raw, byref(i)), self._net_h())
            i = i.value
        else:
            i = _i32(name, "block", where)
        rank = c_int32()
        dims = (c_int64 * _MAX_RANK)()
        check(lib.gf_layer_param_block_dims(h, i, dims, _MAX_RANK, byref(rank)), self._net_h())
        return h, i, tuple(dims[k] for k in range(rank.value))

    def param_shape(self, name):
        """Dims of a block given by name or index."""
        return self._block(name, "Layer.param_shape")[2]

    def get_param(self, name):
        """A copy of a parameter block (by name or index), shaped like PyTorch's tensor."""
        h, i, shape = self._block(name, "Layer.get_param")
        n = 1
        for d in shape:
            n *= d
        out, optr = new_output(shape)
        check(lib.gf_layer_get_param(h, i, optr, n), self._net_h())
        return out

    def set_param(self, name, data):
        where = "Layer.set_param"
        h, i, shape = self._block(name, where)
        n = 1
        for d in shape:
            n *= d
        fd = as_floats(data, "data", where)
        if fd.count != n:
            raise ShapeError("%s: data has %d values, block %r has %d" % (where, fd.count, name, n))
        _check_block_shape(fd.shape, shape, "data", where)
        check(lib.gf_layer_set_param(h, i, fd.ptr, fd.count), self._net_h())

    def get_param_grad(self, name):
        """d loss / d block of the last backward."""
        h, i, shape = self._block(name, "Layer.get_param_grad")
        n = 1
        for d in shape:
            n *= d
        out, optr = new_output(shape)
        check(lib.gf_layer_get_param_grad(h, i, optr, n), self._net_h())
        return out

    def params(self):
        """{name: copy} of every parameter block, like PyTorch's state_dict()."""
        return {name: self.get_param(name) for name in self.param_names}

    def _net_h(self):
        return self._owner._h if self._owner is not None else None

    def _shape_w(self):
        """The weight block's shape when it is the layer's only one (dense (out, in), conv (out, in/groups, kh,
        kw)), else flat."""
        names = self.param_names
        if names.count("weight") == 1:
            shape = self.param_shape("weight")
            n = 1
            for d in shape:
                n *= d
            if n == self.weight_count:
                return shape
        return (self.weight_count,)

    def _get(self, fn, count, shape, where):
        h = self._ptr(where)
        out, optr = new_output(shape)
        check(fn(h, optr, count), self._net_h())
        return out

    def _set(self, fn, data, count, shape, what, where):
        h = self._ptr(where)
        fd = as_floats(data, what, where)
        if fd.count != count:
            raise ShapeError("%s: %s has %d values, the layer has %d" % (where, what, fd.count, count))
        _check_block_shape(fd.shape, shape, what, where)
        check(fn(h, fd.ptr, fd.count), self._net_h())

    def get_weights(self):
        """A copy of W (outputs x inputs, PyTorch's nn.Linear layout)."""
        return self._get(lib.gf_layer_get_weights, self.weight_count, self._shape_w(), "Layer.get_weights")

    def set_weights(self, data):
        """W from data of its shape (get_weights()'s) or flat in that order; a transposed array is refused."""
        self._set(lib.gf_layer_set_weights, data, self.weight_count, self._shape_w(), "weights", "Layer.set_weights")

    def get_bias(self):
        return self._get(lib.gf_layer_get_bias, self.bias_count, (self.bias_count,), "Layer.get_bias")

    def set_bias(self, data):
        self._set(lib.gf_layer_set_bias, data, self.bias_count, (self.bias_count,), "bias", "Layer.set_bias")

    def get_weight_grad(self):
        """d loss / d W of the last backward (outputs x inputs)."""
        return self._get(lib.gf_layer_get_weight_grad, self.weight_count, self._shape_w(),
                         "Layer.get_weight_grad")

    def get_bias_grad(self):
        return self._get(lib.gf_layer_get_bias_grad, self.bias_count, (self.bias_count,), "Layer.get_bias_grad")

    weights = property(get_weights, set_weights)
    bias = property(get_bias, set_bias)
    weight_grad = property(get_weight_grad)
    bias_grad = property(get_bias_grad)

    def __repr__(self):
        state = self._state()
        if state == "closed":
            return "<gradflow.%s closed>" % type(self).__name__
        act = self.activation_kind
        if self.outputs < 0:  # a generic layer not yet sized
            return "<gradflow.%s unsized %s %s>" % (type(self).__name__, getattr(act, "name", act).lower(), state)
        return "<gradflow.%s %d->%d %s %s>" % (type(self).__name__, self.inputs, self.outputs,
                                               getattr(act, "name", act).lower(), state)


class Dense(Layer):
    """Dense(inputs, outputs, activation="tanh", weight_init=..., bias_init=..., penalty=...)."""

    def __init__(self, inputs, outputs, activation=None, *, weight_init=None, bias_init=None, penalty=None):
        where = "Dense"
        i = _size(inputs, "inputs", where)
        o = _size(outputs, "outputs", where)
        h = D.LayerP()
        check(lib.gf_layer_dense_create(byref(h), i, o))
        self._adopt(h)
        if activation is not None:
            self.set_activation(activation)
        if weight_init is not None:
            self.set_weight_init(weight_init)
        if bias_init is not None:
            self.set_bias_init(bias_init)
        if penalty is not None:
            self.set_penalty(penalty)


class Flatten(Layer):
    """Flatten(): any sample shape -> a vector of its product (nn.Flatten); no parameters, no activation."""

    def __init__(self):
        h = D.LayerP()
        check(lib.gf_layer_create(byref(h), int(LayerKind.FLATTEN)))
        self._adopt(h)


def _pair(value, what, where):
    """(h, w) from an int or a pair, like PyTorch's kernel_size / stride / padding / dilation."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise InvalidArgumentError("%s: %s must be an int or a pair (h, w), got %r" % (where, what, value))
        return tuple(as_int(v, what, where, 0, INT64_MAX) for v in value)
    v = as_int(value, what, where, 0, INT64_MAX)
    return v, v


def _generic(self, kind, activation, options, inits):
    """Fills self (a Layer subclass instance) with a new layer of kind, options {LayerOption: value}, the
    activation and the initializers/penalty in inits; the layer is sized when added to a Net."""
    h = D.LayerP()
    check(lib.gf_layer_create(byref(h), int(kind)))
    self._adopt(h)
    try:
        for key, value in options.items():
            self.set_option(key, value)
        if activation is not None:
            self.set_activation(activation)
        for name, value in inits.items():
            if value is not None:
                getattr(self, "set_" + name)(value)
    except BaseException:
        self.close()
        raise


class _ConvBase(Layer):
    _kind = None
    _one_d = False

    def __init__(self, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, activation=None, *,
                 in_channels=0, weight_init=None, bias_init=None, penalty=None):
        where = type(self).__name__
        O = LayerOption
        opts = {O.OUTPUTS: _size(out_channels, "out_channels", where), O.INPUTS: _size(in_channels, "in_channels",
                                                                                          where),
                O.GROUPS: _size(groups, "groups", where)}
        for (kh, kw), hk, wk in ((_pair(kernel_size, "kernel_size", where), O.KERNEL_H, O.KERNEL_W),
                                 (_pair(stride, "stride", where), O.STRIDE_H, O.STRIDE_W),
                                 (_pair(padding, "padding", where), O.PAD_H, O.PAD_W),
                                 (_pair(dilation, "dilation", where), O.DILATION_H, O.DILATION_W)):
            if not self._one_d:
                opts[hk] = kh
            opts[wk] = kw
        _generic(self, self._kind, activation, opts,
                 {"weight_init": weight_init, "bias_init": bias_init, "penalty": penalty})


class Conv2d(_ConvBase):
    """Conv2d(out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, activation=None,
    in_channels=0): nn.Conv2d on IMAGE (C, H, W) samples; sizes (int or (h, w)) as PyTorch's; in_channels is
    inferred when the layer is added (0) or checked.  Blocks "weight" (out, C/groups, kh, kw) and "bias"."""
    _kind = LayerKind.CONV2D


class Conv1d(_ConvBase):
    """Conv1d(out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, activation=None,
    in_channels=0): nn.Conv1d on SIGNAL (C, L) samples.  Blocks "weight" (out, C/groups, k) and "bias"."""
    _kind = LayerKind.CONV1D
    _one_d = True


class _PoolBase(Layer):
    _kind = None
    _one_d = False

    def __init__(self, kernel_size, stride=None, padding=0):
        where = type(self).__name__
        O = LayerOption
        kh, kw = _pair(kernel_size, "kernel_size", where)
        sh, sw = _pair(0 if stride is None else stride, "stride", where)
        ph, pw = _pair(padding, "padding", where)
        opts = {O.KERNEL_W: kw, O.STRIDE_W: sw, O.PAD_W: pw}
        if not self._one_d:
            opts.update({O.KERNEL_H: kh, O.STRIDE_H: sh, O.PAD_H: ph})
        _generic(self, self._kind, None, opts, {})


class MaxPool2d(_PoolBase):
    """MaxPool2d(kernel_size, stride=None, padding=0): nn.MaxPool2d (stride None = kernel_size)."""
    _kind = LayerKind.MAXPOOL2D


class AvgPool2d(_PoolBase):
    """AvgPool2d(kernel_size, stride=None, padding=0): nn.AvgPool2d (padding counted in the mean)."""
    _kind = LayerKind.AVGPOOL2D


class MaxPool1d(_PoolBase):
    """MaxPool1d(kernel_size, stride=None, padding=0): nn.MaxPool1d on SIGNAL samples."""
    _kind = LayerKind.MAXPOOL1D
    _one_d = True


class AvgPool1d(_PoolBase):
    """AvgPool1d(kernel_size, stride=None, padding=0): nn.AvgPool1d on SIGNAL samples."""
    _kind = LayerKind.AVGPOOL1D
    _one_d = True


class GlobalAvgPool(Layer):
    """GlobalAvgPool(): the mean of every channel of a SIGNAL or IMAGE -> a vector of C
    (nn.AdaptiveAvgPool2d(1) followed by a flatten)."""

    def __init__(self):
        _generic(self, LayerKind.GLOBAL_AVGPOOL, None, {}, {})


class _Recurrent(Layer):
    """Base of RNN, LSTM and GRU (batch_first, one layer, PyTorch's parameter blocks weight_ih_l0,
    weight_hh_l0, bias_ih_l0, bias_hh_l0).  A sample's state is h (hidden floats), for an LSTM h and c; arrays of
    state are (batch, hidden), for an LSTM (2, batch, hidden) = (h, c) like PyTorch's (h_0, c_0) without the layer
    axis."""
    _kind = None

    def __init__(self, hidden, activation=None, *, return_sequences=False, truncate=0, weight_init=None,
                 bias_init=None, penalty=None, **options):
        h = D.LayerP()
        check(lib.gf_layer_create(byref(h), int(self._kind)))
        self._adopt(h)
        try:
            self.set_option("hidden", hidden)
            self.set_option("return_sequences", 1 if as_flag(return_sequences, "return_sequences",
                                                                 type(self).__name__) else 0)
            self.set_option("truncate", truncate)
            for name, value in options.items():
                self.set_option(name, value)
            if activation is not None:
                self.set_activation(activation)
            if weight_init is not None:
                self.set_weight_init(weight_init)
            if bias_init is not None:
                self.set_bias_init(bias_init)
            if penalty is not None:
                self.set_penalty(penalty)
        except BaseException:
            self.close()
            raise

    @property
    def state_size(self):
        """Floats of state per sample (hidden, or 2 * hidden for an LSTM); StateError before the layer is added."""
        where = "%s.state_size" % type(self).__name__
        n = lib.gf_layer_state_size(self._ptr(where))
        if n < 0:
            raise StateError("%s: %s" % (where, last_message(self._net_h()) or "the layer is not in a net yet"))
        return n

    def _state_shape(self, batch):
        per = self.state_size
        return (2, batch, per // 2) if self.kind == LayerKind.LSTM else (batch, per)

    def set_initial_state(self, state):
        """The initial state of the next passes (shape as _state_shape; every pass must then have that batch);
        None restores the zero state."""
        where = "%s.set_initial_state" % type(self).__name__
        h = self._ptr(where)
        if state is None:
            check(lib.gf_layer_set_initial_state(h, None, 0, 0), self._net_h())
            return
        fd = as_floats(state, "state", where)
        per = self.state_size
        if per <= 0 or fd.count % per or fd.count == 0:
            raise ShapeError("%s: state has %d values, not a whole number of samples of %d" % (where, fd.count, per))
        batch = fd.count // per
        want = self._state_shape(batch)
        if tuple(fd.shape) not in (want, (fd.count,)):
            raise ShapeError("%s: state has shape %s; it must be %s (%s) or flat in that order"
                             % (where, _fmt_shape(fd.shape), _fmt_shape(want),
                                "2, batch, hidden" if len(want) == 3 else "batch, hidden"))
        check(lib.gf_layer_set_initial_state(h, fd.ptr, fd.count, batch), self._net_h())

    def set_lengths(self, lengths):
        """Per-sample sequence lengths (1..T) of the next passes, as pack_padded_sequence: past its end a sample's
        state is held, every-step outputs are 0 and padding gets no gradient; every pass must then have
        len(lengths) samples.  None clears them."""
        where = "%s.set_lengths" % type(self).__name__
        h = self._ptr(where)
        if lengths is None:
            check(lib.gf_layer_set_lengths(h, None, 0), self._net_h())
            return
        try:
            items = list(lengths)
        except TypeError:  # a bare number, or anything else that is no sequence of lengths
            raise DataTypeError("%s: lengths must be a sequence of integers (one per sample), got %s"
                                % (where, type(lengths).__name__)) from None
        values = [as_int(v, "lengths[%d]" % i, where) for i, v in enumerate(items)]
        if not values:
            raise ShapeError("%s: lengths is empty" % where)
        arr = (c_int64 * len(values))(*values)
        check(lib.gf_layer_set_lengths(h, arr, len(values)), self._net_h())

    def _read_state(self, fn, where):
        h = self._ptr(where)
        batch = lib.gf_layer_state_batch(h)
        if batch <= 0:
            raise StateError("%s: no pass through the layer yet" % where)
        out, optr = new_output(self._state_shape(batch))
        check(fn(h, optr, batch * self.state_size), self._net_h())
        return out

    def initial_state_grad(self):
        """d loss / d initial state of the last backward (zero state included)."""
        return self._read_state(lib.gf_layer_initial_state_grad, "%s.initial_state_grad" % type(self).__name__)

    def final_state(self):
        """The state after the last step of the last forward or predict (PyTorch's h_n, c_n)."""
        return self._read_state(lib.gf_layer_final_state, "%s.final_state" % type(self).__name__)


class RNN(_Recurrent):
    """RNN(hidden, activation="tanh", return_sequences=False, truncate=0): nn.RNN with any activation."""
    _kind = LayerKind.RNN


class LSTM(_Recurrent):
    """LSTM(hidden, return_sequences=False, truncate=0, forget_bias=1.0): nn.LSTM, gates i, f, g, o."""
    _kind = LayerKind.LSTM


class GRU(_Recurrent):
    """GRU(hidden, return_sequences=False, truncate=0): nn.GRU's equations, gates r, z, n."""
    _kind = LayerKind.GRU


_LAYER_CLASSES = {LayerKind.DENSE: Dense, LayerKind.FLATTEN: Flatten, LayerKind.RNN: RNN, LayerKind.LSTM: LSTM,
                  LayerKind.GRU: GRU, LayerKind.CONV1D: Conv1d, LayerKind.CONV2D: Conv2d,
                  LayerKind.MAXPOOL1D: MaxPool1d, LayerKind.MAXPOOL2D: MaxPool2d, LayerKind.AVGPOOL1D: AvgPool1d,
                  LayerKind.AVGPOOL2D: AvgPool2d, LayerKind.GLOBAL_AVGPOOL: GlobalAvgPool}


# --------------------------------------------------------------------------
# Net
# --------------------------------------------------------------------------

class Net(_Handle):
    """A sequential network: `with Net(2, seed=1) as net: net.add_dense(4, "tanh") ...`."""
    _destroy = "gf_net_destroy"
    _label = "Net"
    _opt_gen = 0
    _fitting = False
    _deferred = None

    def __init__(self, inputs, seed=0, *, kind=None):
        """inputs: features (a VECTOR net), or the dims of one sample with kind: Net((T, F), kind="sequence"),
        Net((C, H, W), kind="image").  Data is batch-major, each sample row-major (PyTorch's batch_first)."""
        where = "Net"
        s = _u64(seed, "seed", where)
        h = D.NetP()
        if kind is None and not isinstance(inputs, (tuple, list)):
            i = _size(inputs, "inputs", where)
            check(lib.gf_net_create(byref(h), i, s))
        else:
            dims = [_size(d, "dims", where) for d in (inputs if isinstance(inputs, (tuple, list)) else (inputs,))]
            if kind is None:
                if len(dims) == 2:
                    raise InvalidArgumentError("%s: a rank-2 shape is a sequence (T, F) or a signal (C, L): "
                                               "give kind=" % where)
                kind = ShapeKind.VECTOR if len(dims) == 1 else ShapeKind.IMAGE
            k = enum_value(ShapeKind, kind, "kind", where)
            arr = (c_int64 * max(len(dims), 1))(*dims)
            check(lib.gf_net_create_shaped(byref(h), k, arr, len(dims), s))
        self._setup(h)

    def _setup(self, h):
        """Adopt a new net handle (made by gf_net_create or a loader)."""
        self._adopt(h)
        self._loss_kind = to_enum(LossKind, lib.gf_net_loss_kind(h))
        self._last_batch = None
        self._opt_gen = 0  # bumped by set_optimizer; see Optimizer._check_borrow
        self._fitting = False  # True while gf_net_fit runs (and may call back into Python)
        self._deferred = None  # handle closed inside a fit callback, freed when fit returns

    def _check(self, status):
        check(status, self._h)

    def close(self):
        """Free the net, its layers and optimizer.  Idempotent.

        Inside this net's own fit() callback the C loop still holds the net, so
        the net is closed for Python at once but freed only when fit() returns
        (which it does after the current epoch).
        """
        if self._fitting and self._h:
            self._deferred, self._h = self._h, None
            return
        super().close()

    # ---- building
    def add(self, layer):
        """Append a layer; from now on the Net owns it and `layer` is a borrowed view.  Returns layer."""
        where = "Net.add"
        h = self._ptr(where)
        _require_unowned(layer, Layer, "layer", where, "this layer already belongs to a Net")
        # The layer's own lock too: no other thread may use or close it while it moves into the net.
        with _held(layer):
            _require_unowned(layer, Layer, "layer", where, "this layer already belongs to a Net")
            self._check(lib.gf_net_add(h, layer._ptr(where)))
            layer._owner = self
        return layer

    def add_dense(self, outputs, activation=ActivationKind.IDENTITY, *, weight_init=None, bias_init=None,
                  penalty=None):
        """Create and append a Dense layer taking the current output width; returns its view."""
        where = "Net.add_dense"
        h = self._ptr(where)
        o = _size(outputs, "outputs", where)
        if weight_init is None and bias_init is None and penalty is None and not isinstance(activation, Activation):
            k = enum_value(ActivationKind, activation, "activation", where)
            lh = D.LayerP()
            self._check(lib.gf_net_add_dense(h, o, k, byref(lh)))
            if not lh:
                lh = lib.gf_net_layer(h, lib.gf_net_layer_count(h) - 1)
            return Layer._view(lh, self)
        # Initializers act when a layer joins the net: configure first, then add.
        layer = Dense(self.outputs, o, activation, weight_init=weight_init, bias_init=bias_init, penalty=penalty)
        try:
            return self.add(layer)
        finally:
            if layer.owned:
                layer.close()

    def add_flatten(self):
        """Append a Flatten layer; returns its view."""
        where = "Net.add_flatten"
        h = self._ptr(where)
        lh = D.LayerP()
        self._check(lib.gf_net_add_flatten(h, byref(lh)))
        return Layer._view(lh, self)

    def _add_recurrent(self, cls, hidden, activation, return_sequences, truncate, kw):
        return self._add_new(cls(hidden, activation, return_sequences=return_sequences, truncate=truncate, **kw))

    def _add_new(self, layer):
        try:
            return self.add(layer)
        finally:
            if layer.owned:
                layer.close()

    def add_conv2d(self, out_channels, kernel_size, stride=1, padding=0, activation=ActivationKind.IDENTITY, *,
                   dilation=1, groups=1, weight_init=None, bias_init=None, penalty=None):
        """Create and append a Conv2d on the current IMAGE output (arguments as Conv2d); returns its view."""
        return self._add_new(Conv2d(out_channels, kernel_size, stride, padding, dilation, groups, activation,
                                    weight_init=weight_init, bias_init=bias_init, penalty=penalty))

    def add_conv1d(self, out_channels, kernel_size, stride=1, padding=0, activation=ActivationKind.IDENTITY, *,
                   dilation=1, groups=1, weight_init=None, bias_init=None, penalty=None):
        """Create and append a Conv1d on the current SIGNAL output; returns its view."""
        return self._add_new(Conv1d(out_channels, kernel_size, stride, padding, dilation, groups, activation,
                                    weight_init=weight_init, bias_init=bias_init, penalty=penalty))

    def add_maxpool2d(self, kernel_size, stride=None, padding=0):
        return self._add_new(MaxPool2d(kernel_size, stride, padding))

    def add_avgpool2d(self, kernel_size, stride=None, padding=0):
        return self._add_new(AvgPool2d(kernel_size, stride, padding))

    def add_maxpool1d(self, kernel_size, stride=None, padding=0):
        return self._add_new(MaxPool1d(kernel_size, stride, padding))

    def add_avgpool1d(self, kernel_size, stride=None, padding=0):
        return self._add_new(AvgPool1d(kernel_size, stride, padding))

    def add_global_avgpool(self):
        """Append the mean of every channel (SIGNAL or IMAGE -> vector of C); returns its view."""
        where = "Net.add_global_avgpool"
        h = self._ptr(where)
        lh = D.LayerP()
        self._check(lib.gf_net_add_global_avgpool(h, byref(lh)))
        return Layer._view(lh, self)

    def add_rnn(self, hidden, activation=ActivationKind.TANH, *, return_sequences=False, truncate=0, **kw):
        """Append an RNN on the sequence coming in; returns its view.  kw: weight_init, bias_init, penalty."""
        return self._add_recurrent(RNN, hidden, activation, return_sequences, truncate, kw)

    def add_lstm(self, hidden, *, return_sequences=False, truncate=0, forget_bias=1.0, **kw):
        """Append an LSTM (forget-gate bias forget_bias); returns its view."""
        kw["forget_bias"] = forget_bias
        return self._add_recurrent(LSTM, hidden, None, return_sequences, truncate, kw)

    def add_gru(self, hidden, *, return_sequences=False, truncate=0, **kw):
        """Append a GRU; returns its view."""
        return self._add_recurrent(GRU, hidden, None, return_sequences, truncate, kw)

    def add_layer(self, kind, activation=None, **options):
        """Create a layer of any kind with keyed options and append it: add_layer("dense", "relu", outputs=8)."""
        layer = Layer.create(kind, activation, **options)
        try:
            return self.add(layer)
        finally:
            if layer.owned:
                layer.close()

    @property
    def input_shape(self):
        """(ShapeKind, dims) of one input sample."""
        return _read_shape(lib.gf_net_input_shape, self._ptr("Net.input_shape"), "Net.input_shape", self._h)

    @property
    def output_shape(self):
        """(ShapeKind, dims) of one output sample (the input's while the net is empty)."""
        return _read_shape(lib.gf_net_output_shape, self._ptr("Net.output_shape"), "Net.output_shape", self._h)

    def __len__(self):
        return lib.gf_net_layer_count(self._ptr("Net.__len__"))

    def __bool__(self):  # an empty net is still a net; only a closed one is false
        return not self.closed

    def layer(self, index):
        """Borrowed view of layer `index` (negative counts from the end); RangeError if absent."""
        where = "Net.layer"
        h = self._ptr(where)
        n = lib.gf_net_layer_count(h)
        i = as_int(index, "index", where)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise RangeError("%s: index %d out of range (the net has %d layers)" % (where, index, n))
        lh = lib.gf_net_layer(h, i)
        if not lh:
            self._check(Status.ERR_RANGE)
        return Layer._view(lh, self)

    __getitem__ = layer

    @property
    def layers(self):
        return [self.layer(i) for i in range(len(self))]

    def __iter__(self):
        return iter(self.layers)

    @property
    def inputs(self):
        return lib.gf_net_input_size(self._ptr("Net.inputs"))

    @property
    def outputs(self):
        return lib.gf_net_output_size(self._ptr("Net.outputs"))

    @property
    def target_size(self):
        """Target values per sample the loss reads (T labels on a sequence output with a per-step loss)."""
        return lib.gf_net_target_size(self._ptr("Net.target_size"))

    @property
    def param_count(self):
        return lib.gf_net_param_count(self._ptr("Net.param_count"))

    @property
    def steps(self):
        """Optimizer steps applied so far."""
        return lib.gf_net_steps(self._ptr("Net.steps"))

    @property
    def threads(self):
        """Threads splitting the large matrix products (1..64)."""
        return lib.gf_net_threads(self._ptr("Net.threads"))

    @threads.setter
    def threads(self, n):
        where = "Net.threads"
        h = self._ptr(where)
        self._check(lib.gf_net_set_threads(h, as_int(n, "threads", where, -(2 ** 31), 2 ** 31 - 1)))

    @property
    def input_grad_enabled(self):
        """Whether backward computes d loss / d input (False by default)."""
        return lib.gf_net_input_grad_enabled(self._ptr("Net.input_grad_enabled")) == 1

    @input_grad_enabled.setter
    def input_grad_enabled(self, on):
        where = "Net.input_grad_enabled"
        h = self._ptr(where)
        on = as_flag(on, "value", where)
        self._check(lib.gf_net_set_input_grad(h, 1 if on else 0))

    @property
    def last_error(self):
        """The library's message for the latest failure on this net ("" if none)."""
        b = lib.gf_net_last_error(self._ptr("Net.last_error"))
        return b.decode("utf-8", "replace") if b else ""

    def describe(self):
        """The library's text description of the net."""
        where = "Net.describe"
        h = self._ptr(where)
        cap = 1024
        for _ in range(3):
            buf = ctypes.create_string_buffer(cap)
            needed = c_size_t()
            status = lib.gf_net_describe(h, ctypes.cast(buf, D.CharBuf), cap, byref(needed))
            if status == Status.ERR_BUFFER and needed.value > cap:  # grow to what it asked for
                lib.gf_clear_error()  # the "buffer too small" is expected; do not leave it behind
                cap = needed.value
                continue
            self._check(status)
            return buf.value.decode("utf-8", "replace")
        self._check(status)

    def reinit(self, seed):
        """Redraw every parameter with a new seed and reset the optimizer."""
        where = "Net.reinit"
        self._check(lib.gf_net_reinit(self._ptr(where), _u64(seed, "seed", where)))

    # ---- configuration
    def set_loss(self, loss, *, delta=None, per_step=None):
        """Loss object, kind name or int (copied by the net); default MSE.  delta and per_step as for Loss."""
        where = "Net.set_loss"
        h = self._ptr(where)
        if (delta is not None or per_step is not None) and isinstance(loss, Loss):
            raise InvalidArgumentError("%s: delta/per_step only apply when a kind name is given" % where)
        with contextlib.ExitStack() as keep:
            if delta is not None or per_step is not None:
                loss = Loss(loss, delta=delta, per_step=per_step)
                keep.callback(loss.close)
            lp, kind = _loss_ptr(loss, where, keep)
            self._check(lib.gf_net_set_loss(h, lp))
        self._loss_kind = kind

    @property
    def loss_kind(self):
        return self._loss_kind

    def set_optimizer(self, optimizer, lr=None, **params):
        """Give the net an optimizer (it takes ownership); or build one from a kind name.  Returns its view."""
        where = "Net.set_optimizer"
        h = self._ptr(where)
        if optimizer is None:
            raise NullError("%s: optimizer is None" % where)
        if not isinstance(optimizer, Optimizer):
            if isinstance(optimizer, _Handle):
                raise KindError("%s: optimizer must be an Optimizer, got %s" % (where, type(optimizer).__name__))
            optimizer = Optimizer(optimizer, lr, **params)
        elif lr is not None or params:
            raise InvalidArgumentError("%s: lr/params only apply when a kind name is given" % where)
        if optimizer._owner is self:  # a view of this net's optimizer (ClosedError if it was replaced)
            optimizer._ptr(where)
            return optimizer
        _require_unowned(optimizer, Optimizer, "optimizer", where, "this Optimizer already belongs to another Net")
        # Its own lock: another thread can neither close it nor give it to another net meanwhile.
        with _held(optimizer):
            _require_unowned(optimizer, Optimizer, "optimizer", where,
                             "this Optimizer already belongs to another Net")
            self._check(lib.gf_net_set_optimizer(h, optimizer._ptr(where)))
            self._opt_gen += 1  # every earlier optimizer view is now stale
            optimizer._owner = self
            optimizer._gen = self._opt_gen
        return optimizer

    @property
    def optimizer(self):
        """Borrowed view of the net's optimizer; None until one is set or the first step creates the default SGD."""
        oh = lib.gf_net_optimizer(self._ptr("Net.optimizer"))
        if not oh:
            return None
        view = Optimizer.__new__(Optimizer)
        view._adopt(oh, self)
        view._gen = self._opt_gen
        return view

    def set_penalty(self, penalty):
        """Penalty over the whole net (copied); None removes it."""
        where = "Net.set_penalty"
        h = self._ptr(where)
        with contextlib.ExitStack() as keep:
            self._check(lib.gf_net_set_penalty(h, _require(penalty, Penalty, "penalty", where, allow_none=True,
                                                           keep=keep)))

    def set_clip(self, mode, value=0.0):
        """Clipping applied by train_step/fit between backward and step."""
        where = "Net.set_clip"
        h = self._ptr(where)
        self._check(lib.gf_net_set_clip(h, enum_value(ClipMode, mode, "mode", where), as_real(value, "value", where)))

    def set_progress(self, on):
        """Print epoch, loss, samples/s and time left to stderr during fit()."""
        on = as_flag(on, "on", "Net.set_progress")
        self._check(lib.gf_net_set_progress(self._ptr("Net.set_progress"), 1 if on else 0))

    # ---- gradients
    def clip_grad_value(self, value):
        where = "Net.clip_grad_value"
        self._check(lib.gf_net_clip_grad_value(self._ptr(where), as_real(value, "value", where)))

    def clip_grad_norm(self, max_norm):
        """Clip the global gradient norm now; returns the norm before clipping."""
        where = "Net.clip_grad_norm"
        before = c_double()
        self._check(lib.gf_net_clip_grad_norm(self._ptr(where), as_real(max_norm, "max_norm", where), byref(before)))
        return before.value

    def clip_grad_layer_norm(self, max_norm):
        where = "Net.clip_grad_layer_norm"
        self._check(lib.gf_net_clip_grad_layer_norm(self._ptr(where), as_real(max_norm, "max_norm", where)))

    def grad_norm(self):
        """Global L2 norm of the gradients of the last backward."""
        v = c_double()
        self._check(lib.gf_net_grad_norm(self._ptr("Net.grad_norm"), byref(v)))
        return v.value

    # ---- data helpers
    def _inputs(self, x, where):
        fd = as_floats(x, "x", where)
        return fd, fd.rows_of(self.inputs, "x", where)

    def _target(self, target, batch, where):
        width = lib.gf_net_target_size(self._h)  # per sample: the loss's rows (a time step each, per step)
        fd = as_floats(target, "target", where)
        if batch is None:  # no forward seen: let the library judge the state
            return fd
        rows = fd.rows_of(width, "target", where)
        if rows != batch:
            raise ShapeError("%s: target has %d rows but the batch has %d" % (where, rows, batch))
        return fd

    def _output(self, batch):
        """Outputs shaped (batch, *sample dims): (batch, outputs) for a vector net."""
        return new_output((batch,) + self.output_shape[1])

    # ---- running
    def predict(self, x):
        """Outputs (batch x outputs) for x (batch x inputs); caches nothing for backward."""
        where = "Net.predict"
        h = self._ptr(where)
        fd, batch = self._inputs(x, where)
        out, optr = self._output(batch)
        self._check(lib.gf_net_predict(h, fd.ptr, fd.count, batch, optr, batch * self.outputs))
        return out

    def forward(self, x):
        """Training forward (caches for backward); returns the outputs."""
        where = "Net.forward"
        h = self._ptr(where)
        fd, batch = self._inputs(x, where)
        out, optr = self._output(batch)
        self._check(lib.gf_net_forward(h, fd.ptr, fd.count, batch, optr, batch * self.outputs))
        self._last_batch = batch
        return out

    def backward(self, target):
        """Loss of the last forward against target, and the gradients; returns the loss."""
        where = "Net.backward"
        h = self._ptr(where)
        fd = self._target(target, self._last_batch, where)
        loss = c_double()
        self._check(lib.gf_net_backward(h, fd.ptr, fd.count, byref(loss)))
        return loss.value

    def backward_from(self, grad_output):
        """Backward from a given d loss / d output (batch x outputs)."""
        where = "Net.backward_from"
        h = self._ptr(where)
        fd = as_floats(grad_output, "grad_output", where)
        if self._last_batch is not None:
            rows = fd.rows_of(self.outputs, "grad_output", where)
            if rows != self._last_batch:
                raise ShapeError("%s: grad_output has %d rows but the batch has %d" % (where, rows, self._last_batch))
        self._check(lib.gf_net_backward_from(h, fd.ptr, fd.count))

    def input_grad(self):
        """d loss / d input of the last backward (batch x inputs).

        Computed only when ``input_grad_enabled`` was True for that backward
        (off by default, like an input without requires_grad); else StateError.
        After fit() it is the gradient of the last mini-batch, at the weights
        before its step."""
        where = "Net.input_grad"
        h = self._ptr(where)
        if self._last_batch is None:
            raise StateError("%s: no forward/backward has run yet" % where)
        out, optr = new_output((self._last_batch, self.inputs))
        self._check(lib.gf_net_input_grad(h, optr, self._last_batch * self.inputs))
        return out

    def evaluate(self, x, target, batch_size=None, return_dict=False):
        """Loss (penalties included) of the predictions for x against target; no gradient.

        With metrics (add_metric) the result is [loss, metric, ...] in the
        order added, as Keras returns it; return_dict=True gives
        {"loss": ..., "accuracy": ...}.  batch_size predicts that many rows at
        a time (default: all at once)."""
        return_dict = as_flag(return_dict, "return_dict", "Net.evaluate")
        if batch_size is not None or return_dict or lib.gf_net_metric_count(self._ptr("Net.evaluate")) > 0:
            from ._fit import evaluate
            return evaluate(self, x, target, batch_size, return_dict)
        where = "Net.evaluate"
        h = self._ptr(where)
        fd, batch = self._inputs(x, where)
        td = self._target(target, batch, where)
        loss = c_double()
        self._check(lib.gf_net_evaluate(h, fd.ptr, fd.count, td.ptr, td.count, batch, byref(loss)))
        return loss.value

    # ---- metrics
    def add_metric(self, kind, param=None):
        """Report a metric in evaluate() and fit(): "accuracy", "top_k" (param k, default 5), "mae",
        "rmse", "binary_accuracy" (param threshold, default 0 for logits).  Returns its History key."""
        where = "Net.add_metric"
        from ._enums import MetricKind
        from ._fit import net_metric_names
        h = self._ptr(where)
        k = enum_value(MetricKind, kind, "metric", where)
        self._check(lib.gf_net_add_metric(h, k, float("nan") if param is None else as_real(param, "param", where)))
        return net_metric_names(h)[-1]

    def clear_metrics(self):
        self._check(lib.gf_net_clear_metrics(self._ptr("Net.clear_metrics")))

    @property
    def metrics(self):
        """History keys of the net's metrics, in the order added."""
        from ._fit import net_metric_names
        return net_metric_names(self._ptr("Net.metrics"))

    def step(self):
        """Apply the optimizer to the gradients of the last backward."""
        self._check(lib.gf_net_step(self._ptr("Net.step")))

    def train_step(self, x, target):
        """forward + loss + backward + clip + step; returns the loss before the step."""
        where = "Net.train_step"
        h = self._ptr(where)
        fd, batch = self._inputs(x, where)
        td = self._target(target, batch, where)
        loss = c_double()
        try:
            self._check(lib.gf_net_train_step(h, fd.ptr, fd.count, td.ptr, td.count, batch, byref(loss)))
        except GuardError:
            self._last_batch = batch  # forward and backward ran on this batch; only the step was refused
            raise
        self._last_batch = batch
        return loss.value

    def fit(self, x, target, epochs=1, batch_size=None, callback=None, *, validation_data=None,
            validation_split=0.0, callbacks=None, verbose=1, shuffle=True, schedule=None, monitor=None):
        """Train for `epochs` shuffled passes in mini-batches; returns a History.

        batch_size: rows per step (default 32, or all when fewer), also for
        validation.  validation_data=(x, y), or validation_split=f holding out
        a fraction drawn from the net's seeded generator; each epoch is then
        evaluated on it (loss and every metric, as "val_..." keys).
        callbacks: gradflow.EarlyStopping and gradflow.Schedule objects (run
        inside the C loop), callables f(record) and objects with
        on_epoch_end(epoch, logs), Keras-style; a true return stops training.
        schedule=: a gradflow.Schedule.  monitor=: what early stopping and a
        plateau schedule watch ("loss", "val_loss", "accuracy",
        "val_accuracy", ...; default val_loss with validation, else loss).
        verbose: 0 silent, 1 a progress bar (one line per epoch when stderr
        is not a terminal), 2 one line per epoch, None as set_progress says.  callback(epoch, mean_loss)
        is the older single callback, still called.

        An exception in a callback stops training and is re-raised here.
        Closing the net in a callback also stops training: the net is freed
        when fit() returns.  Calling fit() again from a callback is a
        StateError.
        """
        from ._fit import fit
        return fit(self, x, target, dict(epochs=epochs, batch_size=batch_size, callback=callback,
                                         validation_data=validation_data, validation_split=validation_split,
                                         callbacks=callbacks, verbose=verbose, shuffle=shuffle, schedule=schedule,
                                         monitor=monitor))

    # ---- model files (docs/format.md)
    def to_bytes(self, *, training=True):
        """The model file's bytes; with training=True also the training state (optimizer moments and
        step count, generator, step counter), so that training resumes bit-exactly after from_bytes."""
        where = "Net.to_bytes"
        h = self._ptr(where)
        flags = _save_flags(training, where)
        needed = c_size_t()
        self._check(lib.gf_net_save_buffer(h, flags, None, 0, byref(needed)))  # the size query
        buf = ctypes.create_string_buffer(needed.value)
        self._check(lib.gf_net_save_buffer(h, flags, buf, needed.value, None))
        return buf.raw

    def save(self, path, *, training=True):
        """Write the model file atomically (a temporary beside path, synced, renamed over it): on failure
        an earlier file at path is unchanged.  training as in to_bytes."""
        where = "Net.save"
        h = self._ptr(where)
        self._check(lib.gf_net_save(h, _path_bytes(path, where), _save_flags(training, where)))

    @classmethod
    def from_bytes(cls, data):
        """A new Net from a model file's bytes (bytes, bytearray, memoryview).  FormatError names the
        problem and its byte offset for anything corrupt, truncated or of a newer major version."""
        where = "Net.from_bytes"
        raw = _model_bytes(data, where)
        h = D.NetP()
        check(lib.gf_net_load_buffer(byref(h), raw, len(raw)))
        return cls._loaded(h)

    @classmethod
    def load(cls, path):
        """A new Net from a model file (FileError if it cannot be read, FormatError if it is not valid)."""
        h = D.NetP()
        check(lib.gf_net_load(byref(h), _path_bytes(path, "Net.load")))
        return cls._loaded(h)

    @classmethod
    def _loaded(cls, h):
        net = cls.__new__(cls)
        net._setup(h)
        return net

    # pickle and copy.deepcopy go through the model file, training state included.
    def __reduce_ex__(self, protocol):
        return (Net.from_bytes, (self.to_bytes(training=True),))

    def __deepcopy__(self, memo):
        return Net.from_bytes(self.to_bytes(training=True))

    def _module_names(self, keys, where):
        """Each layer's key prefix: its index, or with keys="sequential" its index in the equivalent
        torch.nn.Sequential, where every activation other than identity is a module after its layer
        (a flatten layer is nn.Flatten; global average pooling is two modules, nn.AdaptiveAvgPool2d(1) or
        nn.AdaptiveAvgPool1d(1) then nn.Flatten; a recurrent layer is one module, nn.RNN holding its tanh or
        ReLU itself)."""
        if keys not in ("sequential", "layers"):
            raise InvalidArgumentError("%s: keys must be \"sequential\" or \"layers\", got %r" % (where, keys))
        names, m = [], 0
        for i, layer in enumerate(self.layers):
            names.append(str(m if keys == "sequential" else i))
            m += 2 if layer.kind == LayerKind.GLOBAL_AVGPOOL else 1
            inside = layer.kind in (LayerKind.RNN, LayerKind.LSTM, LayerKind.GRU)
            m += 0 if inside or layer.activation_kind == ActivationKind.IDENTITY else 1
        return names

    def _param_slots(self, keys, where):
        """[(key, layer, block name, shape)] of every parameter block, in PyTorch's order."""
        return [(prefix + "." + block, layer, block, layer.param_shape(block))
                for prefix, layer in zip(self._module_names(keys, where), self.layers) for block in layer.param_names]

    def state_dict(self, *, keys="sequential"):
        """Every parameter as a copy, named like PyTorch's ("0.weight", "0.bias", "2.weight", ...): the
        names of the equivalent torch.nn.Sequential, so torch_model.load_state_dict(...) takes them
        (convert with torch.from_numpy).  keys="layers" names them by layer index instead."""
        where = "Net.state_dict"
        self._ptr(where)
        return {key: layer.get_param(block) for key, layer, block, _ in self._param_slots(keys, where)}

    def load_state_dict(self, state, *, strict=True, keys="sequential"):
        """Copy parameters in from a mapping like state_dict()'s (numpy arrays, torch tensors, lists).
        Shapes must match; with strict, the keys must be exactly this net's.  All or nothing: on any
        error no parameter changed.  Returns (missing_keys, unexpected_keys)."""
        where = "Net.load_state_dict"
        self._ptr(where)
        if state is None:
            raise NullError("%s: state is None" % where)
        if not isinstance(state, Mapping):
            raise DataTypeError("%s: state must be a mapping of names to arrays, got %s"
                                % (where, type(state).__name__))
        slots = self._param_slots(keys, where)
        known = {k for k, _, _, _ in slots}
        missing = [k for k, _, _, _ in slots if k not in state]
        unexpected = [k for k in state if k not in known]
        if as_flag(strict, "strict", where) and (missing or unexpected):
            raise InvalidArgumentError("%s: missing keys %s, unexpected keys %s" % (where, missing, unexpected))
        staged = [(layer, block, _state_value(state[k], k, shape, where))
                  for k, layer, block, shape in slots if k in state]
        before = [(layer, block, layer.get_param(block)) for layer, block, _ in staged]
        try:
            for layer, block, value in staged:
                layer.set_param(block, value)
        except BaseException:
            for layer, block, value in before:
                layer.set_param(block, value)
            raise
        return missing, unexpected

    # ---- diagnostics
    def diagnostics(self):
        """A new Diagnostics attached to this net (at most one at a time): Diagnostics(net)."""
        from ._diag import Diagnostics
        return Diagnostics(self)

    def __repr__(self):
        if self._state() == "closed":
            return "<gradflow.Net closed>"
        return "<gradflow.Net %d inputs, %d layers, %d outputs, %d params>" % (
            self.inputs, len(self), self.outputs, self.param_count)

    def __str__(self):
        if self._state() == "closed":
            return repr(self)
        return self.describe()


def _save_flags(training, where):
    return int(SaveFlag.TRAINING_STATE) if as_flag(training, "training", where) else 0


def _path_bytes(path, where):
    """The path as C reads it.  C stops at a NUL byte: "a.gf\\0.bak" would silently be "a.gf", so it is
    refused (as open() refuses it)."""
    if path is None:
        raise NullError("%s: path is None" % where)
    try:
        p = os.fsencode(path)
    except TypeError:
        raise DataTypeError("%s: path must be a str, bytes or os.PathLike, got %s"
                            % (where, type(path).__name__)) from None
    if b"\0" in p:
        raise DataTypeError("%s: path contains a NUL byte" % where)
    return p


def _model_bytes(data, where):
    if data is None:
        raise NullError("%s: data is None" % where)
    if isinstance(data, bytes):
        return data
    try:
        return memoryview(data).tobytes()
    except TypeError:
        raise DataTypeError("%s: data must be bytes-like, got %s" % (where, type(data).__name__)) from None


def _state_value(value, key, shape, where):
    """A state_dict value as float data of exactly `shape` (torch tensors are detached first)."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    elif np is not None and not isinstance(value, np.ndarray) and hasattr(value, "__array__"):
        value = np.asarray(value)
    fd = as_floats(value, key, where)
    if not _block_shape_ok(fd.shape, shape):
        raise ShapeError("%s: %s has shape %s, the net's is %s" % (where, key, tuple(fd.shape), tuple(shape)))
    return value


def _block_shape_ok(got, want):
    """Data of shape got fits a block of shape want: exactly that shape, or flat with its count (without
    numpy, the readers give flat arrays).  Anything else, a transpose above all, is refused: the count
    alone would store it scrambled."""
    count = 1
    for d in want:
        count *= d
    return tuple(got) == tuple(want) or tuple(got) == (count,)


def _check_block_shape(got, want, what, where):
    if not _block_shape_ok(got, want):
        raise ShapeError("%s: %s has shape %s; the layer's is %s (or flat in that order)"
                         % (where, what, _fmt_shape(got), _fmt_shape(want)))


def model_info(source):
    """What a model file holds, as a dict: format version, writer library version, layers, params,
    training_state (bool), steps, inputs.  source: bytes-like, or a path (str / os.PathLike)."""
    where = "model_info"
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as f:
            raw = f.read()
    else:
        raw = _model_bytes(source, where)
    out = {}
    for field in ModelField:
        v = c_int64()
        check(lib.gf_model_info(raw, len(raw), int(field), byref(v)))
        out[field.name.lower()] = v.value
    out["training_state"] = bool(out["training_state"])
    return out


__all__ = ["Activation", "Init", "Loss", "Penalty", "Optimizer", "Layer", "Dense", "Net", "model_info"]
