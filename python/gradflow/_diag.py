"""_diag.py — the Diagnostics class over gf_diag, and the records it returns.

A Diagnostics object owns its gf_diag and keeps a reference to the Python Net
it observes.  C allows either to be destroyed first: closing the Net detaches
the diag in C, after which every method here raises ClosedError (the C calls
would return GF_ERR_STATE) while close() still frees the diag exactly once.
"""
import ctypes
import dataclasses
from ctypes import byref, c_double, c_int32, c_int64, c_size_t, c_uint32
from typing import FrozenSet, NamedTuple

from . import _decls as D
from ._core import Net, _Handle, _i32, _path_bytes, _require, _u64
from ._data import as_flag, as_int, as_real, np
from ._enums import (DiagOption, DiagThreshold, Phase, Remedy, ReportFormat, Series, Stat, Tensor, VerdictKind,
                     enum_value)
from ._errors import ClosedError, RangeError, Status
from ._lib import check, lib

NET = -1  # the layer index that names the whole net in verdict()


def _name(fn, value):
    b = fn(int(value))
    return b.decode("utf-8", "replace") if b else "?"


def stat_name(stat):
    """The library's name of a statistic ("delta_in_norm"); "?" if unknown."""
    return _name(lib.gf_stat_name, enum_value(Stat, stat, "stat", "stat_name"))


def tensor_name(tensor):
    return _name(lib.gf_tensor_name, enum_value(Tensor, tensor, "tensor", "tensor_name"))


def phase_name(phase):
    return _name(lib.gf_phase_name, enum_value(Phase, phase, "phase", "phase_name"))


def verdict_name(verdict):
    return _name(lib.gf_verdict_name, enum_value(VerdictKind, verdict, "verdict", "verdict_name"))


# --------------------------------------------------------------------------
# Records
# --------------------------------------------------------------------------

# One field per gf_stat, named as gf_stat_name names it, after the layer and the record's step.
LayerStats = dataclasses.make_dataclass(
    "LayerStats",
    [("layer", int), ("step", int)] + [(s.name.lower(), float) for s in Stat],
    frozen=True,
    namespace={"__doc__": "Every statistic of one layer at the latest observation (step -1: a probe).",
               "__module__": "gradflow"},
)


class HistoryPoint(NamedTuple):
    """One past value of a statistic and the net step of its record (-1 for a probe)."""
    value: float
    step: int


class TimeProfile(NamedTuple):
    """A recurrent layer's gradient flow across time at the latest observed backward: grad_norm[t] =
    ||dL/dh_t|| over the batch for t = 0 (the initial state) .. T; rate, the per-step factor from the last step
    back (< 1: the gradient shrinks going back in time); sigma, the largest singular value of weight_hh_l0, and
    bound, 1/gamma of Pascanu et al. (RNN; NaN for gated cells); per-step gate series (None where the kind has
    none) and the whole-sequence gate statistics.  Arrays are float64 numpy arrays (lists without numpy)."""
    grad_norm: object
    rate: float
    sigma: float
    bound: float
    gate_saturated_frac: object
    forget_gate_mean: object
    candidate_saturated_frac: object
    gate_saturated: float
    forget_gate: float
    candidate_saturated_units: float
    candidate_dead_units: float


class NonFinite(NamedTuple):
    """NaN, +Inf and -Inf counts of one tensor."""
    nan: int
    pos_inf: int
    neg_inf: int


@dataclasses.dataclass(frozen=True)
class Origin:
    """Where a non-finite value was first produced (names as gf_phase_name / gf_tensor_name give them)."""
    found: bool
    step: int
    layer: int
    phase: str
    tensor: str


@dataclasses.dataclass(frozen=True)
class Verdict:
    """The verdict of a layer (or of the net, layer -1): its kind, every condition found, reason, remedy."""
    layer: int
    kind: str
    flags: FrozenSet[str]
    reason: str
    remedy: str

    @property
    def healthy(self):
        return self.kind == "healthy"

    def __str__(self):
        where = "net" if self.layer == NET else "layer %d" % self.layer
        return "%s: %s\n  reason: %s\n  remedy: %s" % (where, self.kind, self.reason, self.remedy)


def _flag_names(bits):
    """Names of the set bits (1 << GF_VERDICT_*); a bit this library version cannot name stays 'bit<n>'."""
    names = set()
    for i in range(32):
        if bits & (1 << i):
            n = _name(lib.gf_verdict_name, i)
            names.add(n if n != "?" else "bit%d" % i)
    return frozenset(names)


# --------------------------------------------------------------------------
# Diagnostics
# --------------------------------------------------------------------------

class Diagnostics(_Handle):
    """Per-layer gradient-health diagnostics of a Net (gf_diag).

        with gf.Diagnostics(net) as d:     # or net.diagnostics()
            d.probe(64)
            print(d.verdict())
            net.fit(x, y, epochs=10)
            d.write_report("svg", "flow.svg")
    """
    _destroy = "gf_diag_destroy"
    _label = "Diagnostics"
    _net = None

    def __init__(self, net):
        where = "Diagnostics"
        _require(net, Net, "net", where)
        with net._serial_lock():
            nh = _require(net, Net, "net", where)
            h = D.DiagP()
            check(lib.gf_diag_create(byref(h), nh), nh)
            self._adopt(h)
            self._net = net
        self._enabled = True

    def _serial_lock(self):
        """The Net's lock: observing, probing and reporting touch the net's memory."""
        net = self._net
        return net._serial_lock() if net is not None else super()._serial_lock()

    def _ptr(self, where):
        h = super()._ptr(where)
        if not self._net._h:
            raise ClosedError("%s: the Net this Diagnostics observes was closed" % where)
        return h

    def close(self):
        """Detach from the net (which keeps training, unobserved) and free the diag.  Idempotent."""
        super().close()
        self._net = None  # stop keeping the Net alive

    @property
    def net(self):
        """The Net observed (None once this object is closed)."""
        return self._net

    # ---- switching and settings
    def enable(self, on=True):
        """Observe training steps (and arm the guard); enable(False) is disable()."""
        where = "Diagnostics.enable"
        on = as_flag(on, "on", where)
        check(lib.gf_diag_enable(self._ptr(where), 1 if on else 0))
        self._enabled = bool(on)

    def disable(self):
        self.enable(False)

    @property
    def enabled(self):
        """Whether training steps are observed (as last set from Python; created enabled)."""
        self._ptr("Diagnostics.enabled")
        return self._enabled

    @enabled.setter
    def enabled(self, on):
        self.enable(on)

    def get_option(self, option):
        where = "Diagnostics.get_option"
        h = self._ptr(where)
        o = enum_value(DiagOption, option, "option", where)
        v = c_double()
        check(lib.gf_diag_get_option(h, o, byref(v)))
        return v.value

    def set_option(self, option, value):
        """history (1..1e6 records), guard (bool), origin (bool), every (k >= 1)."""
        where = "Diagnostics.set_option"
        h = self._ptr(where)
        o = enum_value(DiagOption, option, "option", where)
        if isinstance(value, bool):
            value = int(value)
        check(lib.gf_diag_set_option(h, o, as_real(value, "value", where)))

    def _int_option(self, option):
        return int(self.get_option(option))

    def _set_int_option(self, option, value, what):
        self.set_option(option, as_int(value, what, "Diagnostics." + what, -(2 ** 63), 2 ** 63 - 1))

    def _set_bool_option(self, option, on, what):
        self.set_option(option, as_flag(on, what, "Diagnostics." + what))

    history_size = property(lambda self: self._int_option(DiagOption.HISTORY),
                            lambda self, v: self._set_int_option(DiagOption.HISTORY, v, "history_size"),
                            doc="records kept (GF_DIAG_HISTORY, 1..1000000, default 64)")
    guard = property(lambda self: bool(self.get_option(DiagOption.GUARD)),
                     lambda self, v: self._set_bool_option(DiagOption.GUARD, v, "guard"),
                     doc="refuse a step that would make weights or state non-finite (GF_DIAG_GUARD)")
    trace_origin = property(lambda self: bool(self.get_option(DiagOption.ORIGIN)),
                            lambda self, v: self._set_bool_option(DiagOption.ORIGIN, v, "trace_origin"),
                            doc="locate where NaN/Inf is first produced (GF_DIAG_ORIGIN, default on)")
    every = property(lambda self: self._int_option(DiagOption.EVERY),
                     lambda self, v: self._set_int_option(DiagOption.EVERY, v, "every"),
                     doc="observe every k-th step (GF_DIAG_EVERY, default 1)")

    def get_threshold(self, threshold):
        where = "Diagnostics.get_threshold"
        h = self._ptr(where)
        t = enum_value(DiagThreshold, threshold, "threshold", where)
        v = c_double()
        check(lib.gf_diag_get_threshold(h, t, byref(v)))
        return v.value

    def set_threshold(self, threshold, value):
        """One verdict threshold (DiagThreshold member or name); the library checks its domain."""
        where = "Diagnostics.set_threshold"
        h = self._ptr(where)
        t = enum_value(DiagThreshold, threshold, "threshold", where)
        check(lib.gf_diag_set_threshold(h, t, as_real(value, "value", where)))

    @property
    def thresholds(self):
        """{name: value} of every threshold this binding knows."""
        return {t.name.lower(): self.get_threshold(t) for t in DiagThreshold}

    def reset(self):
        """Forget every record and the origin; options and thresholds stay."""
        check(lib.gf_diag_reset(self._ptr("Diagnostics.reset")))

    # ---- counts
    @property
    def layer_count(self):
        """Layers in the records (the net's count as of the last observation or sizing)."""
        return lib.gf_diag_layer_count(self._ptr("Diagnostics.layer_count"))

    def __len__(self):
        return self.layer_count

    @property
    def steps(self):
        """Observations recorded since creation or reset (probes included)."""
        return lib.gf_diag_steps(self._ptr("Diagnostics.steps"))

    @property
    def history_length(self):
        """Records currently held (at most history_size)."""
        return lib.gf_diag_history_length(self._ptr("Diagnostics.history_length"))

    # ---- probing
    def probe(self, batch=64, seed=0):
        """One observed forward/backward on `batch` N(0,1) samples, no update; verdicts are then available."""
        where = "Diagnostics.probe"
        h = self._ptr(where)
        b = as_int(batch, "batch", where)
        s = _u64(seed, "seed", where)
        check(lib.gf_diag_probe(h, b, s))
        self._net._last_batch = None  # the probe replaced the net's pending forward

    # ---- reading statistics
    def value(self, layer, stat):
        """Latest value of `stat` (a Stat, its name, or an int) for `layer`."""
        where = "Diagnostics.value"
        h = self._ptr(where)
        i = _i32(layer, "layer", where)
        s = enum_value(Stat, stat, "stat", where)
        v = c_double()
        check(lib.gf_diag_value(h, i, s, byref(v)))
        return v.value

    def history(self, layer, stat, ago=0):
        """HistoryPoint(value, step) of `stat` for `layer`, `ago` records back (0 = latest)."""
        where = "Diagnostics.history"
        h = self._ptr(where)
        i = _i32(layer, "layer", where)
        s = enum_value(Stat, stat, "stat", where)
        a = _i32(ago, "ago", where)
        return self._point(h, i, s, a)

    @staticmethod
    def _point(h, i, s, a):
        v, step = c_double(), c_int64()
        check(lib.gf_diag_history(h, i, s, a, byref(v), byref(step)))
        return HistoryPoint(v.value, step.value)

    def series(self, layer, stat):
        """Every held HistoryPoint of `stat` for `layer`, oldest first."""
        where = "Diagnostics.series"  # its own name in errors, not that of history() it reads through
        h = self._ptr(where)
        i = _i32(layer, "layer", where)
        s = enum_value(Stat, stat, "stat", where)
        n = lib.gf_diag_history_length(h)
        return [self._point(h, i, s, ago) for ago in range(n - 1, -1, -1)]

    def layer_series(self, layer, key=Series.DELTA_TIME_NORM):
        """A layer's extra series at the latest observed backward (e.g. the gradient norm per time step of a
        layer on a sequence), as a float64 numpy array (a list without numpy); RangeError if the layer has none."""
        where = "Diagnostics.layer_series"
        h = self._ptr(where)
        i = _i32(layer, "layer", where)
        k = enum_value(Series, key, "series", where)
        n = c_int64()
        check(lib.gf_diag_series_length(h, i, k, byref(n)))
        buf = (c_double * max(n.value, 1))()
        check(lib.gf_diag_series(h, i, k, buf, n.value, byref(n)))
        values = [buf[t] for t in range(n.value)]
        if np is not None:
            return np.array(values, dtype=np.float64)
        return values

    def time_profile(self, layer):
        """TimeProfile of a recurrent layer; RangeError for a layer without one."""
        where = "Diagnostics.time_profile"
        self._ptr(where)
        try:  # only recurrent layers give the candidate series
            self.layer_series(layer, Series.CANDIDATE_SATURATED_FRAC)
        except RangeError:
            raise RangeError("%s: layer %s is not recurrent (no time profile)" % (where, layer)) from None
        norms = self.layer_series(layer, Series.DELTA_TIME_NORM)

        def opt(key):
            try:
                return self.layer_series(layer, key)
            except RangeError:
                return None
        v = lambda s: self.value(layer, s)  # noqa: E731
        return TimeProfile(norms, v(Stat.TIME_RATE), v(Stat.RECURRENT_SIGMA), v(Stat.RECURRENT_BOUND),
                           opt(Series.GATE_SATURATED_FRAC), opt(Series.FORGET_GATE_MEAN),
                           opt(Series.CANDIDATE_SATURATED_FRAC), v(Stat.GATE_SATURATED_FRAC),
                           v(Stat.FORGET_GATE_MEAN), v(Stat.CANDIDATE_SATURATED_FRAC), v(Stat.CANDIDATE_DEAD_FRAC))

    def layer_stats(self, layer):
        """LayerStats: every statistic of `layer` at the latest observation."""
        where = "Diagnostics.layer_stats"
        h = self._ptr(where)
        i = _i32(layer, "layer", where)
        v, step = c_double(), c_int64()
        values = {}
        for s in Stat:
            check(lib.gf_diag_history(h, i, int(s), 0, byref(v), byref(step)))
            values[s.name.lower()] = v.value
        return LayerStats(layer=i, step=step.value, **values)

    def stats(self):
        """[LayerStats] of every layer at the latest observation."""
        return [self.layer_stats(i) for i in range(self.layer_count)]

    def nonfinite(self, layer, tensor):
        """NonFinite(nan, pos_inf, neg_inf) counts of one tensor of `layer` at the latest observation."""
        where = "Diagnostics.nonfinite"
        h = self._ptr(where)
        i = _i32(layer, "layer", where)
        t = enum_value(Tensor, tensor, "tensor", where)
        nan, pinf, ninf = c_int64(), c_int64(), c_int64()
        check(lib.gf_diag_nonfinite(h, i, t, byref(nan), byref(pinf), byref(ninf)))
        return NonFinite(nan.value, pinf.value, ninf.value)

    def origin(self):
        """Origin of the first NaN/Inf produced since creation or reset, or None if there was none."""
        where = "Diagnostics.origin"
        h = self._ptr(where)
        found, step, layer, phase, tensor = c_int32(), c_int64(), c_int32(), c_int32(), c_int32()
        check(lib.gf_diag_origin(h, byref(found), byref(step), byref(layer), byref(phase), byref(tensor)))
        if not found.value:
            return None
        return Origin(True, step.value, layer.value, _name(lib.gf_phase_name, phase.value),
                      _name(lib.gf_tensor_name, tensor.value))

    # ---- verdicts
    def _text(self, fn, h, layer, where):
        """A text result sized by the cap=0 call first."""
        for _ in range(3):
            needed = c_size_t()
            status = fn(h, layer, None, 0, byref(needed))
            if status not in (Status.OK, Status.ERR_BUFFER):
                check(status)
            lib.gf_clear_error()  # the sizing call's "buffer too small" is expected
            cap = max(needed.value, 1)
            buf = ctypes.create_string_buffer(cap)
            status = fn(h, layer, ctypes.cast(buf, D.CharBuf), cap, byref(needed))
            if status == Status.ERR_BUFFER and needed.value > cap:  # grew between the calls: again
                lib.gf_clear_error()
                continue
            check(status)
            return buf.value.decode("utf-8", "replace")
        check(status)

    def verdict(self, layer=NET):
        """Verdict of `layer`, or of the whole net for layer -1 (the default)."""
        where = "Diagnostics.verdict"
        h = self._ptr(where)
        i = _i32(layer, "layer", where)
        kind, flags = c_int32(), c_uint32()
        check(lib.gf_diag_verdict(h, i, byref(kind)))
        check(lib.gf_diag_verdict_flags(h, i, byref(flags)))
        return Verdict(i, _name(lib.gf_verdict_name, kind.value), _flag_names(flags.value),
                       self._text(lib.gf_diag_verdict_reason, h, i, where),
                       self._text(lib.gf_diag_verdict_remedy, h, i, where))

    def remedies(self):
        """{name: value} of the net's checked remedies (e.g. {"init_scale": 0.71, "learning_rate": 0.025});
        empty when the net is healthy or nothing was observed."""
        where = "Diagnostics.remedies"
        h = self._ptr(where)
        out = {}
        for r in Remedy:
            present, value = c_int32(), c_double()
            check(lib.gf_diag_remedy_value(h, int(r), byref(present), byref(value)))
            if present.value:
                out[r.name.lower()] = value.value
        return out

    def verdicts(self):
        """[Verdict] of every layer (the net's own is verdict())."""
        return [self.verdict(i) for i in range(self.layer_count)]

    # ---- reports
    def report(self, fmt=ReportFormat.TEXT):
        """The report as a str: "text", "csv", "json" (JSON Lines: one object per line, not one document) or "svg"."""
        where = "Diagnostics.report"
        h = self._ptr(where)
        f = enum_value(ReportFormat, fmt, "fmt", where)
        return self._text(lib.gf_diag_report, h, f, where)

    def write_report(self, fmt, path):
        """Write the report to `path` (str, bytes or os.PathLike; created or truncated)."""
        where = "Diagnostics.write_report"
        h = self._ptr(where)
        f = enum_value(ReportFormat, fmt, "fmt", where)
        check(lib.gf_diag_report_file(h, f, _path_bytes(path, where)))

    def __repr__(self):
        if not self._h:
            return "<gradflow.Diagnostics closed>"
        if not self._net._h:
            return "<gradflow.Diagnostics detached (its Net was closed)>"
        return "<gradflow.Diagnostics %d layers, %d observations, %s>" % (
            self.layer_count, self.steps, "enabled" if self._enabled else "disabled")


__all__ = ["Diagnostics", "LayerStats", "HistoryPoint", "NonFinite", "Origin", "Verdict",
           "stat_name", "tensor_name", "phase_name", "verdict_name"]
