"""_data.py — turns Python data into float32 pointers for C, and makes output arrays.

One entry point for input, as_floats(), accepts: (nested) lists and tuples of
real numbers, array.array, any buffer-protocol object (memoryview format 'f'
or 'd'), and numpy arrays.  C-contiguous float32 buffers (numpy arrays,
array('f'), writable memoryviews) are passed to C without a copy; anything
else is converted once.  numpy is optional; GRADFLOW_HIDE_NUMPY=1 makes this
module behave as if it were not installed.

Outputs are numpy float32 arrays shaped naturally when numpy is available,
otherwise flat array.array('f') in row-major order.
"""
import array
import ctypes
import numbers
import os

from ._decls import F32P
from ._errors import DataTypeError, NullError, ShapeError, SizeOverflowError


def _load_numpy():
    if os.environ.get("GRADFLOW_HIDE_NUMPY", "") not in ("", "0"):
        return None
    try:
        import numpy
    except ImportError:
        return None
    return numpy


np = _load_numpy()
HAVE_NUMPY = np is not None

_FLOAT32_FORMATS = ("f", "<f", "=f", "@f") if ctypes.sizeof(ctypes.c_float) == 4 else ()
_CONVERTIBLE_FORMATS = ("d", "<d", "=d", "@d")
SIZE_MAX = 2 ** (8 * ctypes.sizeof(ctypes.c_size_t)) - 1
INT64_MAX = 2 ** 63 - 1


class FloatData:
    """float32 data ready for C: .ptr (float *), .count, .shape; .keep holds the memory alive."""
    __slots__ = ("ptr", "count", "shape", "keep", "copied")

    def __init__(self, ptr, count, shape, keep, copied):
        self.ptr = ptr
        self.count = count
        self.shape = shape
        self.keep = keep
        self.copied = copied

    @property
    def address(self):
        return ctypes.cast(self.ptr, ctypes.c_void_p).value or 0

    def rows_of(self, width, what, where):
        """Batch size when this is read as rows of `width` values; ShapeError otherwise."""
        if self.count == 0:
            raise ShapeError("%s: %s is empty" % (where, what))
        if len(self.shape) >= 2:
            rows = self.shape[0]
            cols = self.count // rows if rows else 0
            if cols != width:
                raise ShapeError("%s: %s has %d values per row (shape %s), expected %d"
                                 % (where, what, cols, _fmt_shape(self.shape), width))
            return rows
        if width <= 0 or self.count % width:
            raise ShapeError("%s: %s has %d values, not a whole number of rows of %d"
                             % (where, what, self.count, width))
        return self.count // width


def _fmt_shape(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _pointer_into(buf, count):
    """A float * into a writable buffer (array.array, bytearray-backed memoryview, ...)."""
    return ctypes.cast((ctypes.c_float * count).from_buffer(buf), F32P)


def _from_numpy(obj, what, where):
    kind = obj.dtype.kind
    if kind not in "fiu":
        raise DataTypeError("%s: %s has dtype %s; gradflow needs real numbers (float32)" % (where, what, obj.dtype))
    shape = tuple(int(s) for s in obj.shape) or (1,)
    if obj.dtype == np.float32 and obj.flags["C_CONTIGUOUS"] and obj.flags["ALIGNED"]:
        arr, copied = obj, False
    else:
        with np.errstate(over="ignore"):  # out-of-range float64 becomes Inf; C reports it as non-finite
            arr, copied = np.ascontiguousarray(obj, dtype=np.float32), True
    return FloatData(arr.ctypes.data_as(F32P), int(arr.size), shape, arr, copied)


def _from_array(obj, what, where):
    if obj.typecode == "f" and obj.itemsize == 4:
        arr, copied = obj, False
    elif obj.typecode in "bBhHiIlLqQd":
        arr, copied = array.array("f", obj), True
    else:
        raise DataTypeError("%s: %s is array('%s'); gradflow needs array('f') or another real-number array"
                            % (where, what, obj.typecode))
    n = len(arr)
    ptr = _pointer_into(arr, n) if n else F32P()
    return FloatData(ptr, n, (n,), arr, copied)


def _aligned(ptr):
    """Whether a float * may be read as floats: C requires the alignment (a memoryview can start at any byte)."""
    return (ctypes.cast(ptr, ctypes.c_void_p).value or 0) % ctypes.alignment(ctypes.c_float) == 0


def _from_buffer(obj, what, where):
    m = memoryview(obj)
    shape = tuple(m.shape) if m.shape else (1,)
    if m.format in _FLOAT32_FORMATS:
        if m.c_contiguous and not m.readonly:
            n = m.nbytes // 4
            ptr = _pointer_into(m, n) if n else F32P()
            if not n or _aligned(ptr):
                return FloatData(ptr, n, shape, m, False)
        data = array.array("f", m.tobytes() if m.c_contiguous else _flatten_view(m))
    elif m.format in _CONVERTIBLE_FORMATS:
        if not m.nbytes:  # memoryview.cast refuses a view with a 0 in its shape
            data = array.array("f")
        else:
            data = array.array("f", m.cast("B").cast("d") if m.c_contiguous else _flatten_view(m))
    else:
        raise DataTypeError("%s: %s is a buffer of format %r; gradflow needs float32 ('f') or float64 ('d')"
                            % (where, what, m.format))
    fd = _from_array(data, what, where)
    fd.shape, fd.copied = shape, True
    return fd


def _flatten_view(m):
    flat = m.tolist()
    out = []
    _flatten_into(flat, out, [], 0)
    return out


def _flatten_into(seq, out, shape, depth, leaf=None):
    """Appends the numbers of a rectangular nested list to out; records the shape.

    `leaf` holds the depth of the first innermost list seen: every number must
    sit at that depth, or [[3, 4], [[1, 1], [2, 2]]] would pass as 2 x 2 x 2.
    """
    if leaf is None:
        leaf = []
    n = len(seq)
    if depth == len(shape):
        shape.append(n)
    elif shape[depth] != n:
        raise ShapeError("rows have different lengths (%d and %d) at depth %d" % (shape[depth], n, depth))
    if n and isinstance(seq[0], (list, tuple)):
        if leaf and depth >= leaf[0]:
            raise ShapeError("rows have different nesting depths")
        for item in seq:
            if not isinstance(item, (list, tuple)):
                raise ShapeError("a row mixes numbers and lists (%r)" % (item,))
            _flatten_into(item, out, shape, depth + 1, leaf)
    else:
        if not leaf:
            leaf.append(depth)
        elif leaf[0] != depth:
            raise ShapeError("rows have different nesting depths")
        for item in seq:
            if isinstance(item, (list, tuple)):
                raise ShapeError("a row mixes numbers and lists")
            out.append(item)
        if depth + 1 < len(shape):
            raise ShapeError("rows have different nesting depths")


def _from_sequence(obj, what, where):
    flat, shape = [], []
    try:
        _flatten_into(obj, flat, shape, 0)
    except ShapeError as e:
        raise ShapeError("%s: %s is not rectangular: %s" % (where, what, e.message)) from None
    for v in flat:
        if isinstance(v, bool) or not isinstance(v, numbers.Real):
            raise DataTypeError("%s: %s holds %r of type %s; gradflow needs real numbers"
                                % (where, what, v, type(v).__name__))
    try:
        data = array.array("f", flat)
    except (TypeError, OverflowError) as e:
        raise DataTypeError("%s: %s cannot be converted to float32: %s" % (where, what, e)) from None
    fd = _from_array(data, what, where)
    fd.shape, fd.copied = tuple(shape), True
    return fd


def _from_tensor(obj, what, where):
    """A torch tensor (or one like it): detached from autograd and copied to the CPU first, then read
    through numpy, or as nested lists where gradflow runs without numpy."""
    try:
        t = obj.detach().cpu()
        data = t.numpy() if np is not None else t.tolist()
    except Exception as e:  # e.g. a bfloat16 tensor numpy cannot hold
        raise DataTypeError("%s: %s (%s) cannot be read as float32 numbers: %s"
                            % (where, what, type(obj).__name__, e)) from None
    return as_floats(data, what, where)


def _unmasked(obj, what, where):
    """The data of a numpy masked array none of whose values is masked; DataTypeError naming the first masked one
    otherwise: its data there is whatever was left under the mask, and would be trained on as a real value.
    Duck-typed, so a masked array is refused also when GRADFLOW_HIDE_NUMPY hides numpy (its buffer would be read)."""
    mask = getattr(obj, "mask", None)
    try:
        masked = bool(mask.any())
    except Exception as e:
        raise DataTypeError("%s: %s (%s) has a mask gradflow cannot read: %s" % (where, what, type(obj).__name__, e)) \
            from None
    if masked:
        first = tuple(int(i[0]) for i in mask.nonzero())
        raise DataTypeError("%s: %s is a masked array with %d masked value(s), the first at index %s; fill them "
                            "(.filled(value)) or leave those samples out" % (where, what, int(mask.sum()), list(first)))
    return obj.data


def as_floats(obj, what="data", where="gradflow"):
    """FloatData for any supported input; raises NullError / DataTypeError / ShapeError.

    `what` names the argument and `where` the method, for messages.
    """
    if obj is None:
        raise NullError("%s: %s is None" % (where, what))
    if type(obj).__module__.startswith("numpy.ma"):
        obj = _unmasked(obj, what, where)
    if np is not None and isinstance(obj, np.ndarray):
        return _from_numpy(obj, what, where)
    if isinstance(obj, array.array):
        return _from_array(obj, what, where)
    if isinstance(obj, (list, tuple)):
        return _from_sequence(obj, what, where)
    if isinstance(obj, (str, bytes, bytearray)):
        raise DataTypeError("%s: %s is %s; gradflow needs float32 numbers" % (where, what, type(obj).__name__))
    if hasattr(obj, "detach") and hasattr(obj, "cpu") and hasattr(obj, "tolist"):
        return _from_tensor(obj, what, where)
    if np is not None and hasattr(obj, "__array__"):
        try:
            arr = np.asarray(obj)
        except Exception as e:  # whatever the object's own conversion raises
            raise DataTypeError("%s: %s (%s) cannot be read as an array: %s"
                                % (where, what, type(obj).__name__, e)) from None
        return _from_numpy(arr, what, where)
    try:
        memoryview(obj)
    except TypeError:
        raise DataTypeError("%s: %s is %s, which is neither a sequence nor a buffer of numbers"
                            % (where, what, type(obj).__name__)) from None
    return _from_buffer(obj, what, where)


def new_output(shape):
    """(array, float *) for a fresh zero-filled float32 output of the given shape."""
    count = 1
    for s in shape:
        count *= s
    if np is not None:
        out = np.zeros(shape, dtype=np.float32)
        return out, out.ctypes.data_as(F32P)
    out = array.array("f", bytes(4 * count))
    return out, (_pointer_into(out, count) if count else F32P())


def as_int(value, what, where, lo=-(2 ** 63), hi=INT64_MAX):
    """An exact Python int within [lo, hi]; ctypes would silently wrap otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if value is None:
            raise NullError("%s: %s is None" % (where, what))
        raise DataTypeError("%s: %s must be an integer, got %r" % (where, what, value))
    value = int(value)
    if value < lo or value > hi:
        raise SizeOverflowError("%s: %s = %d does not fit the C type (range %d..%d)" % (where, what, value, lo, hi))
    return value


def _describe(value):
    """A short name for a refused argument: an array by its type and shape, not its (possibly huge) repr."""
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple):
        return "%s of shape %s" % (type(value).__name__, _fmt_shape(shape))
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def as_flag(value, what, where):
    """A Python bool from True/False, an integer 0 or 1 (numpy's too), numpy.bool_, or a 0-d array of those.

    Anything else is refused rather than tested for truth: an array's truth value is ambiguous (numpy raises
    its own ValueError) or depends on its size, "no" is true, and 0.5 is neither.  None is NullError, as for
    the numbers (as_int, as_real); the rest DataTypeError."""
    if isinstance(value, bool):
        return value
    if value is None:
        raise NullError("%s: %s is None; expected True or False" % (where, what))
    v = value
    # numpy.bool_ and 0-d arrays (numpy's, or a tensor's): their one value, found without importing numpy,
    # so they are read the same when GRADFLOW_HIDE_NUMPY hides it.
    if getattr(value, "ndim", None) == 0 and callable(getattr(value, "item", None)) and not isinstance(value, str):
        try:
            v = value.item()
        except Exception:
            v = value
    if isinstance(v, bool):
        return v
    if isinstance(v, numbers.Integral) and v in (0, 1):
        return bool(v)
    raise DataTypeError("%s: %s must be True or False (or 0 or 1), got %s" % (where, what, _describe(value)))


def as_real(value, what, where):
    """A Python float from a real number (NaN passes: C decides what is out of domain).

    A number beyond a C double's range (an int such as 10**400) is SizeOverflowError, as as_int
    reports an int beyond its C type (and still an OverflowError, which float() raised before)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        if value is None:
            raise NullError("%s: %s is None" % (where, what))
        raise DataTypeError("%s: %s must be a real number, got %r" % (where, what, value))
    try:
        return float(value)
    except OverflowError:
        # str() of a huge int can itself fail (the int/str digit limit): name the size instead.
        raise SizeOverflowError("%s: %s does not fit a C double (its magnitude is beyond 1.8e308)"
                                % (where, what)) from None
