"""_fit.py — the training loop people expect: Schedule, EarlyStopping, History, and
Net.fit / Net.evaluate over gf_net_fit_v2 / gf_net_evaluate_v2.

The loop itself runs in C, so a fit from Python takes exactly the steps a C
program with the same options takes (tests/python/test_fit.py checks it bit
for bit).  Python only turns keywords into gf_fit options and hands each
epoch's record to the callbacks.
"""
import contextlib
import math
import sys
import threading
from ctypes import byref, c_double, c_int32, sizeof

from . import _decls as D
from ._core import _Handle, _held, _i32, _size
from ._data import HAVE_NUMPY, as_flag, as_floats, as_real, np
from ._enums import FitOption, LossKind, MetricKind, Monitor, ScheduleKind, ScheduleParam, VerdictKind, enum_value, to_enum
from ._errors import DataTypeError, InvalidArgumentError, ShapeError, StateError
from ._lib import check, lib


def metric_name(kind, param):
    """The History key of a metric: "accuracy", "top_5", "mae", ..."""
    kind = to_enum(MetricKind, kind)
    if kind == MetricKind.TOP_K:
        return "top_%d" % int(param)
    b = lib.gf_metric_name(int(kind))
    return b.decode() if b else "metric_%d" % int(kind)


def net_metric_names(net_h):
    """Keys of the net's metrics, in order, made unique with a numeric suffix."""
    names = []
    for i in range(lib.gf_net_metric_count(net_h)):
        kind, param = c_int32(), c_double()
        check(lib.gf_net_metric(net_h, i, byref(kind), byref(param)), net_h)
        name = base = metric_name(kind.value, param.value)
        k = 2
        while name in names:
            name, k = "%s_%d" % (base, k), k + 1
        names.append(name)
    return names


# --------------------------------------------------------------------------
# Schedules
# --------------------------------------------------------------------------

_SCHEDULE_KEYWORDS = {
    "period": ScheduleParam.PERIOD, "gamma": ScheduleParam.GAMMA, "min_lr": ScheduleParam.MIN_LR,
    "restart_mult": ScheduleParam.RESTART_MULT, "warmup": ScheduleParam.WARMUP,
    "warmup_start": ScheduleParam.WARMUP_START, "patience": ScheduleParam.PATIENCE,
    "threshold": ScheduleParam.THRESHOLD, "cooldown": ScheduleParam.COOLDOWN, "mode": ScheduleParam.MODE,
    "per_step": ScheduleParam.PER_STEP,
}


class Schedule(_Handle):
    """A learning-rate schedule (gf_schedule): Schedule("cosine", lr=0.1, period=50, warmup=5).

    Kinds: constant, step, exponential, cosine (restart_mult >= 1: warm
    restarts), plateau.  Keywords: period, gamma, min_lr, restart_mult,
    warmup, warmup_start, patience, threshold, cooldown, mode ("min", "max"
    or None to follow the fit's monitor), per_step.  Give it to
    Net.fit(schedule=...) or in callbacks=[...]; the fit copies it.
    """
    _destroy = "gf_schedule_destroy"
    _label = "Schedule"

    def __init__(self, kind=ScheduleKind.CONSTANT, lr=0.01, **params):
        where = "Schedule"
        k = enum_value(ScheduleKind, kind, "kind", where)
        h = D.SchedP()
        check(lib.gf_schedule_create(byref(h), k, as_real(lr, "lr", where)))
        self._adopt(h)
        try:
            for name, value in params.items():
                self.set(name, value)
        except BaseException:
            self.close()
            raise

    @staticmethod
    def _param(param, where):
        if isinstance(param, str) and param in _SCHEDULE_KEYWORDS:
            return int(_SCHEDULE_KEYWORDS[param])
        return enum_value(ScheduleParam, param, "parameter", where)

    def set(self, param, value):
        where = "Schedule.set"
        p = self._param(param, where)
        if p == ScheduleParam.MODE:
            value = {"min": 0, "max": 1, None: -1}.get(value, value)
        if p == ScheduleParam.PER_STEP:
            value = 1 if as_flag(value, "per_step", where) else 0
        check(lib.gf_schedule_set(self._ptr(where), p, as_real(value, str(param), where)))

    def get(self, param):
        where = "Schedule.get"
        v = c_double()
        check(lib.gf_schedule_get(self._ptr(where), self._param(param, where), byref(v)))
        return v.value

    @property
    def kind(self):
        return to_enum(ScheduleKind, lib.gf_schedule_kind(self._ptr("Schedule.kind")))

    def lr(self, t):
        """The rate at unit t (an epoch, or a step when per_step)."""
        where = "Schedule.lr"
        v = c_double()
        check(lib.gf_schedule_lr(self._ptr(where), _size(t, "t", where), byref(v)))
        return v.value

    def observe(self, value):
        """Plateau: one epoch's watched value; returns the rate in force after it."""
        where = "Schedule.observe"
        v = c_double()
        check(lib.gf_schedule_observe(self._ptr(where), as_real(value, "value", where), byref(v)))
        return v.value

    def reset(self):
        check(lib.gf_schedule_reset(self._ptr("Schedule.reset")))

    def __repr__(self):
        if self._state() == "closed":
            return "<gradflow.Schedule closed>"
        return "<gradflow.Schedule %s lr=%g>" % (self.kind.name.lower(), self.lr(0))


class EarlyStopping:
    """Stop when `monitor` has not improved by more than min_delta for `patience` epochs.

    monitor: "loss", "val_loss", or a metric's key ("accuracy", "val_accuracy")
    — the net's first metric — with or without "val_"; "metric" and
    "val_metric" name it too.  restore_best_weights ends the fit on the best
    epoch's weights (also when it ran to the end).  Runs inside the C loop.
    """

    def __init__(self, monitor="val_loss", patience=3, min_delta=0.0, restore_best_weights=False):
        self.monitor = monitor
        self.patience = _i32(patience, "patience", "EarlyStopping")
        if self.patience < 1:
            raise InvalidArgumentError("EarlyStopping: patience must be >= 1 (got %d)" % self.patience)
        self.min_delta = as_real(min_delta, "min_delta", "EarlyStopping")
        self.restore_best_weights = as_flag(restore_best_weights, "restore_best_weights", "EarlyStopping")

    def __repr__(self):
        return "EarlyStopping(monitor=%r, patience=%d, min_delta=%g, restore_best_weights=%r)" % (
            self.monitor, self.patience, self.min_delta, self.restore_best_weights)


def monitor_value(monitor, metric_names, where):
    """The GF_MONITOR_* a monitor name refers to."""
    if isinstance(monitor, Monitor):
        return int(monitor)
    if not isinstance(monitor, str):  # a list or a dict would fail the table lookup as unhashable
        raise DataTypeError("%s: monitor must be a name such as \"val_loss\" or a gradflow.Monitor, got %r"
                            % (where, monitor))
    first = metric_names[0] if metric_names else None
    table = {"loss": Monitor.LOSS, "val_loss": Monitor.VAL_LOSS, "metric": Monitor.METRIC,
             "val_metric": Monitor.VAL_METRIC}
    if first:
        table[first] = Monitor.METRIC
        table["val_" + first] = Monitor.VAL_METRIC
    if monitor in table:
        return int(table[monitor])
    other = monitor[4:] if isinstance(monitor, str) and monitor.startswith("val_") else monitor
    if other in metric_names:
        raise InvalidArgumentError("%s: monitor %r is not the net's first metric (%r); the loop watches the loss or "
                                   "the first metric" % (where, monitor, first))
    raise InvalidArgumentError("%s: unknown monitor %r (one of: %s)" % (where, monitor, ", ".join(sorted(table))))


# --------------------------------------------------------------------------
# Records and History
# --------------------------------------------------------------------------

class EpochRecord:
    """One epoch of a fit: epoch, loss, val_loss, lr, seconds, steps, verdict, best_epoch, and
    every metric under its key (with "val_" for the validation data) in `logs`."""
    __slots__ = ("epoch", "epochs", "loss", "val_loss", "lr", "seconds", "steps", "verdict", "best_epoch", "logs")

    def __init__(self, c_rec, metrics, val_metrics, names):
        self.epoch = c_rec.epoch
        self.epochs = c_rec.epochs
        self.loss = c_rec.loss
        self.val_loss = c_rec.val_loss
        self.lr = c_rec.lr
        self.seconds = c_rec.seconds
        self.steps = c_rec.steps
        self.verdict = to_enum(VerdictKind, c_rec.verdict)
        self.best_epoch = c_rec.best_epoch
        logs = {"loss": self.loss}
        logs.update(zip(names, metrics))
        if not math.isnan(self.val_loss):
            logs["val_loss"] = self.val_loss
            logs.update(("val_" + n, v) for n, v in zip(names, val_metrics))
        logs["lr"] = self.lr
        self.logs = logs

    def __getitem__(self, key):
        return self.logs[key]

    def __repr__(self):
        parts = ", ".join("%s=%.6g" % kv for kv in self.logs.items())
        return "<EpochRecord %d: %s>" % (self.epoch, parts)


def read_record(net_h, epoch, names):
    """EpochRecord `epoch` of the net's latest fit."""
    rec = D.gf_epoch_record()
    rec.size = sizeof(rec)
    check(lib.gf_net_epoch_record(net_h, epoch, byref(rec)), net_h)
    vals = []
    for validation in (0, 1):
        row = []
        for i in range(len(names)):
            v = c_double()
            check(lib.gf_net_epoch_metric(net_h, epoch, i, validation, byref(v)), net_h)
            row.append(v.value)
        vals.append(row)
    return EpochRecord(rec, vals[0], vals[1], names)


class History:
    """What Net.fit returns: one EpochRecord per epoch run, and per-key series.

    history.history is Keras's dict of lists ("loss", "val_loss", each metric
    and "val_" + metric, "lr", "seconds", "verdict"); history["loss"] and
    history.loss give the same series as a numpy array when numpy is there,
    else as a list.  best_epoch is the epoch with the best watched value,
    stopped_epoch the last one run.
    """

    def __init__(self, records, epochs):
        self.records = list(records)
        self.params = {"epochs": epochs}
        self.epoch = [r.epoch for r in self.records]
        keys = []
        for r in self.records:
            keys += [k for k in r.logs if k not in keys]
        self.history = {k: [r.logs.get(k, math.nan) for r in self.records] for k in keys}
        self.history["seconds"] = [r.seconds for r in self.records]
        self.history["verdict"] = [r.verdict for r in self.records]
        self.best_epoch = self.records[-1].best_epoch if self.records else -1
        self.stopped_epoch = self.records[-1].epoch if self.records else -1

    def __getitem__(self, key):
        values = self.history[key]
        if HAVE_NUMPY:
            return np.asarray([int(v) for v in values] if key == "verdict" else values)
        return list(values)

    def __getattr__(self, key):
        if key.startswith("_") or key not in self.__dict__.get("history", {}):
            raise AttributeError(key)
        return self[key]

    def __contains__(self, key):
        return key in self.history

    def keys(self):
        return list(self.history)

    def __len__(self):
        return len(self.records)

    def __repr__(self):
        return "<gradflow.History %d epochs: %s>" % (len(self), ", ".join(self.history))


# --------------------------------------------------------------------------
# fit and evaluate
# --------------------------------------------------------------------------

class _Options:
    """A gf_fit filled from fit()'s keywords; close() frees it."""

    def __init__(self):
        h = D.FitP()
        check(lib.gf_fit_create(byref(h)))
        self.h = h
        self.keep = []

    def set(self, option, value):
        check(lib.gf_fit_set(self.h, int(option), float(value)))

    def close(self):
        if self.h:
            lib.gf_fit_destroy(self.h)
            self.h = None


def _split_callbacks(callbacks, schedule, where):
    """(EarlyStopping or None, Schedule or None, [python callbacks]) from the callbacks list."""
    stopper, plain = None, []
    if callbacks is None:
        callbacks = ()
    elif isinstance(callbacks, (str, bytes)) or not hasattr(callbacks, "__iter__"):
        raise DataTypeError("%s: callbacks must be a list of callbacks, got %r" % (where, callbacks))
    for cb in callbacks:
        if isinstance(cb, EarlyStopping):
            if stopper is not None:
                raise InvalidArgumentError("%s: at most one EarlyStopping" % where)
            stopper = cb
        elif isinstance(cb, Schedule):
            if schedule is not None:
                raise InvalidArgumentError("%s: at most one Schedule (callbacks or schedule=)" % where)
            schedule = cb
        elif callable(cb) or callable(getattr(cb, "on_epoch_end", None)):
            plain.append(cb)
        else:
            raise DataTypeError("%s: callback %r is neither callable nor has on_epoch_end" % (where, cb))
    if schedule is not None and not isinstance(schedule, Schedule):
        raise DataTypeError("%s: schedule must be a gradflow.Schedule, got %r" % (where, schedule))
    return stopper, schedule, plain


def _call(cb, rec):
    """True when the callback asks to stop."""
    if callable(getattr(cb, "on_epoch_end", None)):
        return bool(cb.on_epoch_end(rec.epoch, rec.logs)) or bool(getattr(cb, "stop_training", False))
    return bool(cb(rec))


def _validation(net, opts, validation_data, where):
    if validation_data is None:
        return
    try:
        vx, vy = validation_data
    except (TypeError, ValueError):
        raise DataTypeError("%s: validation_data must be a pair (x, y)" % where) from None
    xd, n = net._inputs(vx, where + " (validation x)")
    yd = net._target(vy, n, where + " (validation y)")
    opts.keep += [xd, yd]
    check(lib.gf_fit_set_validation(opts.h, xd.ptr, xd.count, yd.ptr, yd.count, n))


def _configure(net, opts, kw, names, where):
    opts.set(FitOption.EPOCHS, _i32(kw["epochs"], "epochs", where))
    if kw["batch_size"] is not None:
        opts.set(FitOption.BATCH, _size(kw["batch_size"], "batch_size", where))
    opts.set(FitOption.VALIDATION_SPLIT, kw["validation_split"])
    opts.set(FitOption.SHUFFLE, 1 if kw["shuffle"] else 0)
    verbose = -1 if kw["verbose"] is None else _i32(kw["verbose"], "verbose", where)  # None: as set_progress says
    if verbose not in (-1, 0, 1, 2):
        raise InvalidArgumentError("%s: verbose must be 0, 1, 2 or None (got %d)" % (where, verbose))
    opts.set(FitOption.PROGRESS, verbose)
    stopper, schedule = kw["stopper"], kw["schedule"]
    if stopper is not None:
        opts.set(FitOption.PATIENCE, stopper.patience)
        opts.set(FitOption.MIN_DELTA, stopper.min_delta)
        opts.set(FitOption.RESTORE_BEST, 1 if stopper.restore_best_weights else 0)
    monitor = kw["monitor"] if kw["monitor"] is not None else (stopper.monitor if stopper else None)
    if monitor is not None:
        opts.set(FitOption.MONITOR, monitor_value(monitor, names, where))
    if schedule is not None:
        with _held(schedule):  # no other thread may close it while the options copy it
            check(lib.gf_fit_set_schedule(opts.h, schedule._ptr(where)))
    _validation(net, opts, kw["validation_data"], where)


def fit(net, x, target, kw):
    """Net.fit's body: kw holds its keywords.  Returns a History."""
    where = "Net.fit"
    h = net._ptr(where)
    if net._fitting:  # a nested fit would resize the buffers the outer loop is reading
        raise StateError("%s: cannot call fit inside this net's own fit callback" % where)
    split = kw["validation_split"]
    kw["validation_split"] = 0.0 if split is None else as_real(split, "validation_split", where)
    kw["shuffle"] = as_flag(kw["shuffle"], "shuffle", where)
    stopper, kw["schedule"], plain = _split_callbacks(kw["callbacks"], kw["schedule"], where)
    kw["stopper"] = stopper
    legacy = kw["callback"]
    if legacy is not None and not callable(legacy):
        raise DataTypeError("%s: callback must be callable, got %r" % (where, legacy))
    xd, n = net._inputs(x, where)
    td = net._target(target, n, where)
    names = net_metric_names(h)
    errors = []
    tail = _last_batch_rows(n, kw)

    def trampoline(user, rec_ptr):
        # Called after every epoch, with or without Python callbacks: it is also where a Ctrl-C pressed while C
        # trains surfaces (see _catching_escapes for one raised before this try).
        try:
            if errors:  # an earlier call failed, or an interrupt escaped it: stop now
                return 1
            net._last_batch = tail  # the epoch's last training batch; a forward the callback makes sets its own
            stop = False
            if legacy is not None or plain:
                rec = read_record(h, rec_ptr.contents.epoch, names)
                stop = bool(legacy(rec.epoch, rec.loss)) if legacy is not None else False
                for cb in plain:
                    stop = _call(cb, rec) or stop
        except BaseException as e:  # never let an exception unwind through C
            errors.append(e)
            return 1
        return 1 if stop or not net._h else 0  # closed in the callback: stop training

    opts = _Options()
    c_cb = D.gf_epoch_record_fn(trampoline)
    try:
        _configure(net, opts, kw, names, where)
        check(lib.gf_fit_set_callback(opts.h, c_cb, None))
        with _catching_escapes(trampoline, errors):
            status, history = _run(net, h, xd, td, n, opts, names, kw["epochs"])
    finally:
        opts.close()
    if errors or status:
        net._last_batch = None  # stopped at an unknown point
    elif legacy is None and not plain:
        net._last_batch = tail
    if errors:
        raise errors[0]
    check(status, h)
    return history


# A KeyboardInterrupt (or another exception from a signal handler) pending when C calls the trampoline is
# raised as its frame begins, before its try: ctypes cannot pass it on, so it reports it to sys.unraisablehook
# ("Exception ignored on calling ctypes callback function") and returns an undefined value to C.  While a fit
# runs, that hook hands such an exception of the fit's trampoline to the fit, which stops at the next epoch
# and raises it; anything else goes to the hook that was installed before.
_escape_lock = threading.Lock()
_escape_sinks = {}  # id(trampoline) -> (trampoline, its fit's error list)
_escape_previous = None


def _escaped(u):
    for fn, errors in list(_escape_sinks.values()):
        if u.object is fn or (u.object is None and repr(fn) in (u.err_msg or "")):
            errors.append(u.exc_value if u.exc_value is not None else u.exc_type())
            return
    (_escape_previous or sys.__unraisablehook__)(u)


@contextlib.contextmanager
def _catching_escapes(fn, errors):
    global _escape_previous
    with _escape_lock:
        if not _escape_sinks and sys.unraisablehook is not _escaped:
            _escape_previous = sys.unraisablehook
            sys.unraisablehook = _escaped
        _escape_sinks[id(fn)] = (fn, errors)
    try:
        yield
    finally:
        with _escape_lock:
            del _escape_sinks[id(fn)]
            if not _escape_sinks and sys.unraisablehook is _escaped:
                sys.unraisablehook, _escape_previous = _escape_previous, None


def _last_batch_rows(n, kw):
    """Rows of an epoch's last training batch, as gf_net_fit_v2 splits n (input_grad() reads it)."""
    split = kw["validation_split"] or 0.0
    ntrain = int(math.floor(n * (1.0 - split))) if split > 0.0 else n
    if ntrain < 1:
        return None  # the fit will be refused
    bs = min(ntrain, 32 if kw["batch_size"] is None else int(kw["batch_size"]))
    return ntrain - (ntrain - 1) // bs * bs if bs > 0 else None


def _run(net, h, xd, td, n, opts, names, epochs):
    """(status, History) of the C fit; a close() from a callback takes effect here."""
    net._fitting = True
    try:
        status = lib.gf_net_fit_v2(h, xd.ptr, xd.count, td.ptr, td.count, n, opts.h)
    finally:
        net._fitting = False
        deferred, net._deferred = net._deferred, None
    if status and not deferred:
        return status, None
    history = History([read_record(h, e, names) for e in range(lib.gf_net_epoch_count(h))], epochs)
    if deferred:  # close() was called in a callback: free now that C is done with it
        lib.gf_net_destroy(deferred)
        return 0, history
    return status, history


def evaluate(net, x, target, batch_size, return_dict):
    """Net.evaluate with metrics or batches: loss, then each metric (a dict with return_dict)."""
    where = "Net.evaluate"
    h = net._ptr(where)
    xd, n = net._inputs(x, where)
    td = net._target(target, n, where)
    names = net_metric_names(h)
    bs = 0 if batch_size is None else _size(batch_size, "batch_size", where)
    loss = c_double()
    values = (c_double * max(1, len(names)))()
    check(lib.gf_net_evaluate_v2(h, xd.ptr, xd.count, td.ptr, td.count, n, bs, byref(loss), values, len(names)), h)
    if return_dict:
        out = {"loss": loss.value}
        out.update(zip(names, values[:len(names)]))
        return out
    return [loss.value] + list(values[:len(names)]) if names else loss.value


def metric_compute(pred, target, kind, param=None, loss=None):
    """One metric of pred (batch x width) against target, read as `loss` reads targets
    (None: rows of pred's width; "softmax_ce_labels": one class label per row)."""
    from ._core import _loss_ptr
    where = "metric_compute"
    k = enum_value(MetricKind, kind, "kind", where)
    pd = as_floats(pred, "pred", where)
    td = as_floats(target, "target", where)
    width = pd.shape[1] if len(pd.shape) >= 2 else 1
    batch = pd.rows_of(width, "pred", where)
    p = math.nan if param is None else as_real(param, "param", where)
    with contextlib.ExitStack() as keep:
        lp, loss_kind = _loss_ptr(loss, where, keep) if loss is not None else (D.LossP(), LossKind.MSE)
        tw = 1 if loss_kind == LossKind.SOFTMAX_CE_LABELS else width
        if td.count != batch * tw:  # C reads batch x target-width values: never let it read past the data
            raise ShapeError("%s: target has %d values but %d rows need %d" % (where, td.count, batch, batch * tw))
        v = c_double()
        check(lib.gf_metric_compute(lp, k, p, pd.ptr, td.ptr, batch, width, byref(v)))
    return v.value


__all__ = ["Schedule", "EarlyStopping", "History", "EpochRecord", "metric_compute"]
