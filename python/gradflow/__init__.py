"""gradflow — Python binding (ctypes, no build step) of libgradflow.

    import gradflow as gf
    with gf.Net(2, seed=1) as net:
        net.add_dense(8, "tanh")
        net.add_dense(1, "sigmoid")
        net.set_optimizer("adam", lr=0.05)
        for _ in range(500):
            loss = net.train_step([[0, 0], [0, 1], [1, 0], [1, 1]], [[0], [1], [1], [0]])

Data in: lists (nested for batches), array.array, float32 buffers, numpy
arrays (zero-copy when C-contiguous float32).  Data out: numpy float32 arrays
when numpy is importable (and GRADFLOW_HIDE_NUMPY is not set), otherwise
array.array('f') in row-major order.  See docs/python.md.
"""
from . import _lib
from ._core import (GRU, LSTM, RNN, Activation, AvgPool1d, AvgPool2d, Conv1d, Conv2d, Dense, Flatten,
                    GlobalAvgPool, Init, Layer, Loss, MaxPool1d, MaxPool2d, Net, Optimizer, Penalty, model_info)
from ._data import HAVE_NUMPY, as_floats
from ._diag import (Diagnostics, HistoryPoint, LayerStats, NonFinite, Origin, TimeProfile, Verdict, phase_name,
                    stat_name, tensor_name, verdict_name)
from ._enums import (ActivationKind, ActivationParam, ClipMode, DiagOption, DiagThreshold, FanMode, FitOption,
                     InitKind, LayerKind, LayerOption, LossKind, LossParam, MetricKind, ModelField, Monitor,
                     OptimizerKind, OptimizerParam, Phase, Remedy, ReportFormat, SaveFlag, ScheduleKind, ScheduleParam,
                     Series, ShapeKind, Stat, Tensor, VerdictKind)
from ._fit import EarlyStopping, EpochRecord, History, Schedule, metric_compute
from ._errors import (BufferTooSmallError, ClosedError, DataTypeError, FileError, FormatError, GradflowError,
                      GuardError, InvalidArgumentError, KindError, NonFiniteError, NullError, OutOfMemoryError,
                      RangeError, ShapeError, SizeOverflowError, StateError, Status, UnsupportedError)

__version__ = "%d.%d.%d" % _lib.BINDING_VERSION
# The model file format version the binding was written against (GF_FORMAT_VERSION_MAJOR/MINOR).
FORMAT_VERSION = (1, 0)
BINDING_VERSION = _lib.BINDING_VERSION
library_path = _lib.path


def version():
    """(major, minor, patch) of the loaded library."""
    return _lib.split_version(_lib.lib.gf_version())


def version_string():
    return _lib.lib.gf_version_string().decode()


def strerror(code):
    """The library's static description of a status code."""
    return _lib.lib.gf_strerror(int(code)).decode()


def last_error():
    """This thread's detailed message of the latest failed call ("" if none)."""
    b = _lib.lib.gf_last_error()
    return b.decode("utf-8", "replace") if b else ""


def clear_error():
    _lib.lib.gf_clear_error()


def live_allocations():
    """Number of live library allocations (0 once every object is freed)."""
    return _lib.lib.gf_live_allocations()


__all__ = [
    "Net", "Layer", "Dense", "Flatten", "RNN", "LSTM", "GRU", "Conv2d", "Conv1d", "MaxPool2d", "AvgPool2d",
    "MaxPool1d", "AvgPool1d", "GlobalAvgPool", "Activation", "Init", "Loss", "Optimizer", "Penalty",
    "ActivationKind", "ActivationParam", "InitKind", "FanMode", "LossKind", "LossParam", "OptimizerKind",
    "OptimizerParam", "LayerKind", "LayerOption", "ShapeKind", "Series", "ClipMode", "Status",
    "SaveFlag", "ModelField", "model_info", "FORMAT_VERSION",
    "Diagnostics", "LayerStats", "HistoryPoint", "NonFinite", "Origin", "TimeProfile", "Verdict",
    "Stat", "Tensor", "Phase", "VerdictKind", "DiagOption", "DiagThreshold", "Remedy", "ReportFormat",
    "stat_name", "tensor_name", "phase_name", "verdict_name",
    "GradflowError", "NullError", "OutOfMemoryError", "InvalidArgumentError", "DataTypeError", "ShapeError",
    "NonFiniteError", "StateError", "ClosedError", "SizeOverflowError", "RangeError", "FileError",
    "FormatError", "BufferTooSmallError", "GuardError", "KindError", "UnsupportedError",
    "Schedule", "EarlyStopping", "History", "EpochRecord", "metric_compute",
    "MetricKind", "ScheduleKind", "ScheduleParam", "Monitor", "FitOption",
    "HAVE_NUMPY", "as_floats", "version", "version_string", "strerror", "last_error", "clear_error",
    "live_allocations", "library_path", "BINDING_VERSION",
]
