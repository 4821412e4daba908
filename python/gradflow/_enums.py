"""_enums.py — the header's enums as IntEnums, and the lookup that accepts names.

Values are copied from gradflow.h; tests/python/test_declarations.py checks every
one against the header so they cannot drift.
"""
import enum

from ._data import as_int
from ._errors import DataTypeError, InvalidArgumentError, NullError


class ActivationKind(enum.IntEnum):
    IDENTITY = 0
    SIGMOID = 1
    TANH = 2
    RELU = 3
    LEAKY_RELU = 4
    ELU = 5
    SELU = 6
    SOFTPLUS = 7
    GELU = 8


class ActivationParam(enum.IntEnum):
    SLOPE = 0
    ALPHA = 1


class InitKind(enum.IntEnum):
    ZEROS = 0
    CONSTANT = 1
    UNIFORM = 2
    NORMAL = 3
    XAVIER_UNIFORM = 4
    XAVIER_NORMAL = 5
    HE_UNIFORM = 6
    HE_NORMAL = 7
    LECUN_NORMAL = 8
    ORTHOGONAL = 9
    DEFAULT = 10


class FanMode(enum.IntEnum):
    FAN_IN = 0
    FAN_OUT = 1


class LossKind(enum.IntEnum):
    MSE = 0
    MAE = 1
    HUBER = 2
    BCE_LOGITS = 3
    SOFTMAX_CE = 4
    SOFTMAX_CE_LABELS = 5


class LossParam(enum.IntEnum):
    DELTA = 0
    PER_STEP = 1


class OptimizerKind(enum.IntEnum):
    SGD = 0
    MOMENTUM = 1
    NESTEROV = 2
    RMSPROP = 3
    ADAGRAD = 4
    ADAM = 5
    ADAMW = 6


class OptimizerParam(enum.IntEnum):
    LR = 0
    MOMENTUM_MU = 1
    BETA1 = 2
    BETA2 = 3
    EPS = 4
    RHO = 5
    WEIGHT_DECAY = 6
    MOMENTUM = 1  # alias of MOMENTUM_MU: the name Optimizer(momentum=...) takes


class LayerKind(enum.IntEnum):
    DENSE = 0
    FLATTEN = 1
    RNN = 2
    LSTM = 3
    GRU = 4
    CONV1D = 5
    CONV2D = 6
    MAXPOOL1D = 7
    MAXPOOL2D = 8
    AVGPOOL1D = 9
    AVGPOOL2D = 10
    GLOBAL_AVGPOOL = 11


class ShapeKind(enum.IntEnum):
    """enum gf_shape_kind: the shape of one sample (docs/design.md)."""
    VECTOR = 0    # (F,)
    SEQUENCE = 1  # (T, F)
    SIGNAL = 2    # (C, L)
    IMAGE = 3     # (C, H, W)


class LayerOption(enum.IntEnum):
    """enum gf_layer_option: keys of Layer.set_option / get_option."""
    OUTPUTS = 0
    INPUTS = 1
    HIDDEN = 2
    RETURN_SEQUENCES = 3
    TRUNCATE = 4
    FORGET_BIAS = 5
    KERNEL_H = 6
    KERNEL_W = 7
    STRIDE_H = 8
    STRIDE_W = 9
    PAD_H = 10
    PAD_W = 11
    DILATION_H = 12
    DILATION_W = 13
    GROUPS = 14


class Series(enum.IntEnum):
    """enum gf_series: per-layer series read with Diagnostics.layer_series."""
    DELTA_TIME_NORM = 0
    GATE_SATURATED_FRAC = 1
    FORGET_GATE_MEAN = 2
    CANDIDATE_SATURATED_FRAC = 3
    DEAD_CHANNELS = 8
    SATURATED_CHANNELS = 9
    CHANNEL_ACTIVE_FRAC = 10
    CHANNEL_WGRAD_NORM = 11


class SaveFlag(enum.IntFlag):
    """enum gf_save_flag: what Net.save / to_bytes write beside the net."""
    TRAINING_STATE = 1


class ModelField(enum.IntEnum):
    """enum gf_model_field: what model_info reads from a model file."""
    FORMAT_MAJOR = 0
    FORMAT_MINOR = 1
    WRITER_VERSION = 2
    LAYERS = 3
    PARAMS = 4
    TRAINING_STATE = 5
    STEPS = 6
    INPUTS = 7


class ClipMode(enum.IntEnum):
    NONE = 0
    VALUE = 1
    NORM = 2
    LAYER_NORM = 3


class Stat(enum.IntEnum):
    """enum gf_stat: the statistics read with Diagnostics.value / history."""
    DELTA_IN_NORM = 0
    DELTA_IN_RMS = 1
    DELTA_IN_MAXABS = 2
    DELTA_PRE_NORM = 3
    DELTA_PRE_RMS = 4
    DELTA_PRE_MAXABS = 5
    WGRAD_NORM = 6
    WGRAD_MEAN = 7
    WGRAD_STD = 8
    WGRAD_MIN = 9
    WGRAD_MAX = 10
    WGRAD_MAXABS = 11
    WGRAD_ZERO_FRAC = 12
    BGRAD_NORM = 13
    BGRAD_MEAN = 14
    BGRAD_STD = 15
    BGRAD_MIN = 16
    BGRAD_MAX = 17
    BGRAD_MAXABS = 18
    BGRAD_ZERO_FRAC = 19
    WEIGHT_NORM = 20
    WEIGHT_MAXABS = 21
    WEIGHT_ZERO_FRAC = 22
    UPDATE_RATIO = 23
    ACT_MEAN = 24
    ACT_VAR = 25
    PRE_MEAN = 26
    PRE_STD = 27
    DEAD_FRAC = 28
    SATURATED_FRAC = 29
    NONFINITE = 30
    ACT_GAIN = 31
    DELTA_GAIN = 32
    LOSS = 33
    TIME_RATE = 34
    RECURRENT_SIGMA = 35
    RECURRENT_BOUND = 36
    GATE_SATURATED_FRAC = 37
    FORGET_GATE_MEAN = 38
    CANDIDATE_SATURATED_FRAC = 39
    CANDIDATE_DEAD_FRAC = 40


class Tensor(enum.IntEnum):
    """enum gf_tensor: the tensors named by non-finite counts and the origin."""
    NONE = 0
    INPUT = 1
    PRE_ACTIVATION = 2
    ACTIVATION = 3
    LOSS = 4
    DELTA_PRE = 5
    DELTA_IN = 6
    WEIGHT_GRAD = 7
    BIAS_GRAD = 8
    WEIGHT = 9
    BIAS = 10
    OPTIMIZER_STATE = 11


class Phase(enum.IntEnum):
    """enum gf_phase: the phases of a step, for the origin of a non-finite value."""
    NONE = 0
    FORWARD = 1
    LOSS = 2
    BACKWARD = 3
    PENALTY = 4
    CLIP = 5
    UPDATE = 6


class VerdictKind(enum.IntEnum):
    """enum gf_verdict (a Verdict record carries these as names, e.g. "vanishing")."""
    HEALTHY = 0
    VANISHING = 1
    EXPLODING = 2
    DEAD = 3
    SATURATED = 4
    UNKNOWN = 5


class DiagOption(enum.IntEnum):
    """enum gf_diag_option."""
    HISTORY = 0
    GUARD = 1
    ORIGIN = 2
    EVERY = 3


class DiagThreshold(enum.IntEnum):
    """enum gf_diag_threshold (GF_TH_*): the verdict thresholds."""
    VANISH_FACTOR = 0
    EXPLODE_FACTOR = 1
    GRAD_FLOOR = 2
    UPDATE_RATIO_SPREAD = 3
    DEAD_FRAC = 4
    SATURATED_FRAC = 5
    AVALANCHE = 6
    PLATEAU = 7
    WEIGHT_FLOOR = 8
    LOSS_RISE = 9
    UPDATE_FLOOR = 10
    WEIGHT_SHRINK = 11
    WEIGHT_GROWTH = 12
    TIME_VANISH = 13
    TIME_EXPLODE = 14
    TIME_VANISH_FLOOR = 15
    TIME_EXPLODE_FLOOR = 16
    GATE_SHUT = 17


class Remedy(enum.IntEnum):
    """enum gf_remedy (GF_REMEDY_*): the checked remedies as numbers (Diagnostics.remedies)."""
    INIT_SCALE = 0
    LEARNING_RATE = 1
    BIAS = 2
    ACTIVATION = 3
    L1 = 4
    L2 = 5
    CLIP = 6


class ReportFormat(enum.IntEnum):
    """enum gf_report_format."""
    TEXT = 0
    CSV = 1
    JSON = 2
    SVG = 3


class MetricKind(enum.IntEnum):
    """enum gf_metric_kind."""
    ACCURACY = 0
    TOP_K = 1
    MAE = 2
    RMSE = 3
    BINARY_ACCURACY = 4


class ScheduleKind(enum.IntEnum):
    """enum gf_schedule_kind."""
    CONSTANT = 0
    STEP = 1
    EXPONENTIAL = 2
    COSINE = 3
    PLATEAU = 4


class ScheduleParam(enum.IntEnum):
    """enum gf_schedule_param."""
    PERIOD = 0
    GAMMA = 1
    MIN_LR = 2
    RESTART_MULT = 3
    WARMUP = 4
    WARMUP_START = 5
    PATIENCE = 6
    THRESHOLD = 7
    COOLDOWN = 8
    MODE = 9
    PER_STEP = 10


class Monitor(enum.IntEnum):
    """enum gf_monitor."""
    LOSS = 0
    METRIC = 1
    VAL_LOSS = 2
    VAL_METRIC = 3


class FitOption(enum.IntEnum):
    """enum gf_fit_option."""
    EPOCHS = 0
    BATCH = 1
    VALIDATION_SPLIT = 2
    PATIENCE = 3
    MIN_DELTA = 4
    MONITOR = 5
    RESTORE_BEST = 6
    PROGRESS = 7
    SHUFFLE = 8

INT32 = (-(2 ** 31), 2 ** 31 - 1)


def enum_value(cls, value, what, where):
    """The int for an enum member, a name ("relu", "leaky-relu") or a plain int.

    Plain ints outside the enum are passed on so the library's own check
    (GF_ERR_INVALID) speaks for values this binding does not know yet.
    """
    if value is None:
        raise NullError("%s: %s is None" % (where, what))
    if isinstance(value, cls):
        return int(value)
    if isinstance(value, str):
        key = value.strip().upper().replace("-", "_").replace(" ", "_")
        try:
            return int(cls[key])
        except KeyError:
            names = ", ".join(m.name.lower() for m in cls)
            raise InvalidArgumentError("%s: unknown %s %r (one of: %s)" % (where, what, value, names)) from None
    if isinstance(value, enum.Enum):
        raise DataTypeError("%s: %s must be a %s, got %r" % (where, what, cls.__name__, value))
    return as_int(value, what, where, *INT32)


def to_enum(cls, number):
    """cls(number) when known, else the plain int (a newer library may know more)."""
    try:
        return cls(number)
    except ValueError:
        return number
