"""_enums.py — the header's enums as IntEnums, and the lookup that accepts names.

Values are copied from gradflow.h; tests/python/test_header.py checks every
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


class LayerKind(enum.IntEnum):
    DENSE = 0


class ClipMode(enum.IntEnum):
    NONE = 0
    VALUE = 1
    NORM = 2
    LAYER_NORM = 3


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
