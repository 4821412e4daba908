"""_errors.py — status codes and the exception hierarchy.

Every GF_ERR_* code of the header maps to one GradflowError subclass that
also derives from the closest built-in exception, so `except ValueError`
keeps working for callers who do not know gradflow.  Checks made in Python
before calling C raise the same classes with the same codes.
"""
import enum


class Status(enum.IntEnum):
    """enum gf_status of gradflow.h."""
    OK = 0
    ERR_NULL = 1
    ERR_NOMEM = 2
    ERR_INVALID = 3
    ERR_SHAPE = 4
    ERR_NONFINITE = 5
    ERR_STATE = 6
    ERR_OVERFLOW = 7
    ERR_RANGE = 8
    ERR_IO = 9
    ERR_FORMAT = 10
    ERR_BUFFER = 11
    ERR_GUARD = 12
    ERR_KIND = 13
    ERR_UNSUPPORTED = 14


class GradflowError(Exception):
    """A libgradflow call failed.  .code is the gf_status, .message the detail."""
    default_code = None

    def __init__(self, message, code=None):
        if code is None:
            code = self.default_code
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self):
        return self.message

    def __reduce__(self):
        return (type(self), (self.message, self.code))


class NullError(GradflowError, TypeError):
    """GF_ERR_NULL: a required object was None / NULL."""
    default_code = Status.ERR_NULL


class OutOfMemoryError(GradflowError, MemoryError):
    """GF_ERR_NOMEM: the allocator returned NULL."""
    default_code = Status.ERR_NOMEM


class InvalidArgumentError(GradflowError, ValueError):
    """GF_ERR_INVALID: an argument is out of its domain."""
    default_code = Status.ERR_INVALID


class DataTypeError(InvalidArgumentError, TypeError):
    """Data or an argument of a type gradflow cannot use (Python-side check)."""
    default_code = Status.ERR_INVALID


class ShapeError(GradflowError, ValueError):
    """GF_ERR_SHAPE: sizes or counts do not match."""
    default_code = Status.ERR_SHAPE


class NonFiniteError(GradflowError, ValueError):
    """GF_ERR_NONFINITE: NaN or Inf in data supplied by the caller."""
    default_code = Status.ERR_NONFINITE


class StateError(GradflowError, RuntimeError):
    """GF_ERR_STATE: call made in the wrong order or state."""
    default_code = Status.ERR_STATE


class ClosedError(StateError):
    """The object (or the Net that owns it) was closed (Python-side check)."""
    default_code = Status.ERR_STATE


class SizeOverflowError(GradflowError, OverflowError):
    """GF_ERR_OVERFLOW: a size computation would overflow."""
    default_code = Status.ERR_OVERFLOW


class RangeError(GradflowError, IndexError):
    """GF_ERR_RANGE: an index is out of range."""
    default_code = Status.ERR_RANGE


class FileError(GradflowError, OSError):
    """GF_ERR_IO: a file could not be opened, read or written."""
    default_code = Status.ERR_IO


class FormatError(GradflowError, ValueError):
    """GF_ERR_FORMAT: a file or buffer is corrupt or of a wrong format."""
    default_code = Status.ERR_FORMAT


class BufferTooSmallError(GradflowError, ValueError):
    """GF_ERR_BUFFER: the caller's buffer is too small."""
    default_code = Status.ERR_BUFFER


class GuardError(GradflowError, ArithmeticError):
    """GF_ERR_GUARD: the guard refused a non-finite step; nothing changed."""
    default_code = Status.ERR_GUARD


class KindError(GradflowError, TypeError):
    """GF_ERR_KIND: an object of the wrong kind was given."""
    default_code = Status.ERR_KIND


class UnsupportedError(GradflowError, NotImplementedError):
    """GF_ERR_UNSUPPORTED: not supported by this build (or missing from the library)."""
    default_code = Status.ERR_UNSUPPORTED


ERROR_CLASSES = {
    Status.ERR_NULL: NullError,
    Status.ERR_NOMEM: OutOfMemoryError,
    Status.ERR_INVALID: InvalidArgumentError,
    Status.ERR_SHAPE: ShapeError,
    Status.ERR_NONFINITE: NonFiniteError,
    Status.ERR_STATE: StateError,
    Status.ERR_OVERFLOW: SizeOverflowError,
    Status.ERR_RANGE: RangeError,
    Status.ERR_IO: FileError,
    Status.ERR_FORMAT: FormatError,
    Status.ERR_BUFFER: BufferTooSmallError,
    Status.ERR_GUARD: GuardError,
    Status.ERR_KIND: KindError,
    Status.ERR_UNSUPPORTED: UnsupportedError,
}


def error_for(code, message):
    """The exception instance for a nonzero status code."""
    cls = ERROR_CLASSES.get(code, GradflowError)
    try:
        code = Status(code)
    except ValueError:
        pass
    return cls(message, code)
