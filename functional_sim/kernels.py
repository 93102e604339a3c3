"""What every compute opcode means, as a table: opcode name -> function on numpy values.

Each function takes the input values (in port order), the stage attributes and the output
ports' (dtype, shape) from their streams, and returns the output values in result order. The
caller casts each result to its stream's dtype and checks its shape, so functions only need to
get the numbers right: they compute in a precision at least that of PyTorch eager (float
reductions accumulate in float64, bf16/f16 compute in float32) and propagate NaNs the way
PyTorch does. `load` and `store` touch memory and live in the simulator, not here.
"""

from __future__ import annotations

import math
from math import prod
from typing import Any, Callable

import numpy as np

from functional_sim.dtypes import cast

Value = np.ndarray
OutSpec = tuple[str, tuple[int, ...]]  # (dtype name, shape) of one output stream
Kernel = Callable[[list[Value], dict[str, Any], list[OutSpec]], list[Value]]

KERNELS: dict[str, Kernel] = {}
_MISSING = object()


class AttributeMissing(ValueError):
    pass


def attr(attrs: dict[str, Any], key: str, default: Any = _MISSING) -> Any:
    if key in attrs:
        return attrs[key]
    if default is _MISSING:
        raise AttributeMissing(f"missing attribute {key!r}")
    return default


def _register(name: str, fn: Kernel) -> None:
    KERNELS[name] = fn


def _floating(x: Value) -> Value:
    """Operand of a floating-only op: integers and bools compute as float32 (torch's default dtype)."""
    return x if np.issubdtype(x.dtype, np.floating) else x.astype(np.float32)


def _wide(x: Value) -> Value:
    """Accumulation dtype for reductions: float64 for every float, native for integers."""
    return x.astype(np.float64) if np.issubdtype(x.dtype, np.floating) else x


def _matmul_operand(x: Value) -> Value:
    return x.astype(np.float32) if x.dtype == np.float16 else x


# ---------------------------------------------------------------- elementwise unary

def _sigmoid(x: Value) -> Value:
    x = _floating(x)
    e = np.exp(-np.abs(x))  # never overflows: stable for both signs
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


_erf_scalar = np.frompyfunc(math.erf, 1, 1)


def _erf(x: Value) -> Value:
    """math.erf elementwise, in float64 (numpy has no erf and scipy is not a dependency)."""
    # np.asarray around the ufunc: on a 0-d input frompyfunc returns a Python float, not an array
    return np.asarray(_erf_scalar(np.asarray(x, dtype=np.float64)), dtype=np.float64)


def _gelu(x: Value, approximate: str) -> Value:
    x = _floating(x)
    if approximate == "tanh":
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
        return 0.5 * x * (1 + np.tanh(inner))
    if approximate not in ("none", "", None):
        raise ValueError(f"gelu approximate={approximate!r} is neither 'none' nor 'tanh'")
    x64 = x.astype(np.float64)
    return 0.5 * x64 * (1 + _erf(x64 / math.sqrt(2)))


def _round_int_identity(fn: Callable[[Value], Value]) -> Callable[[Value], Value]:
    """floor/ceil leave integers alone (torch keeps the dtype; a float round trip loses int64 bits)."""
    return lambda x: x if not np.issubdtype(x.dtype, np.floating) else fn(x)


_UNARY: dict[str, Callable[..., Value]] = {
    "neg": np.negative,
    "abs": np.abs,
    "exp": lambda x: np.exp(_floating(x)),
    "log": lambda x: np.log(_floating(x)),
    "sqrt": lambda x: np.sqrt(_floating(x)),
    "rsqrt": lambda x: 1 / np.sqrt(_floating(x)),
    "reciprocal": lambda x: 1 / _floating(x),
    "tanh": lambda x: np.tanh(_floating(x)),
    "sigmoid": _sigmoid,
    "relu": lambda x: np.maximum(x, np.zeros((), x.dtype)),  # np.maximum keeps NaN, like torch.relu
    "silu": lambda x: _floating(x) * _sigmoid(x),
    "sin": lambda x: np.sin(_floating(x)),
    "cos": lambda x: np.cos(_floating(x)),
    "erf": lambda x: _erf(_floating(x)),
    "floor": _round_int_identity(np.floor),
    "ceil": _round_int_identity(np.ceil),
    "logical_not": np.logical_not,
    "bitwise_not": np.invert,
    "isnan": np.isnan,
    "cast": lambda x: x,  # the cast to the output stream's dtype happens for every result
}

for _name, _fn in _UNARY.items():
    _register(_name, lambda xs, a, o, _fn=_fn: [_fn(xs[0])])
_register("gelu", lambda xs, a, o: [_gelu(xs[0], attr(a, "approximate", "none"))])

_MATH: dict[str, Callable[[Value], Value]] = {  # the `math` opcode's functions (PyTorch's semantics)
    "log1p": lambda x: np.log1p(_floating(x)), "expm1": lambda x: np.expm1(_floating(x)),
    "log2": lambda x: np.log2(_floating(x)), "log10": lambda x: np.log10(_floating(x)),
    "exp2": lambda x: np.exp2(_floating(x)), "asin": lambda x: np.arcsin(_floating(x)),
    "acos": lambda x: np.arccos(_floating(x)), "atan": lambda x: np.arctan(_floating(x)),
    "sinh": lambda x: np.sinh(_floating(x)), "cosh": lambda x: np.cosh(_floating(x)),
    "tan": lambda x: np.tan(_floating(x)), "asinh": lambda x: np.arcsinh(_floating(x)),
    "acosh": lambda x: np.arccosh(_floating(x)), "atanh": lambda x: np.arctanh(_floating(x)),
    "trunc": _round_int_identity(np.trunc), "round": _round_int_identity(np.round),  # half to even, like torch
    "sign": np.sign,
}
_register("math", lambda xs, a, o: [_MATH[attr(a, "fn")](xs[0])])


# ---------------------------------------------------------------- elementwise binary

def _is_int(x: Value) -> bool:
    return np.issubdtype(x.dtype, np.integer) or x.dtype == np.bool_


def _promote(a: Value, b: Value) -> tuple[Value, Value]:
    dt = np.result_type(a, b)
    return a.astype(dt, copy=False), b.astype(dt, copy=False)


def _div(a: Value, b: Value, mode: str | None) -> Value:
    if mode in ("", None):
        return np.true_divide(_floating(a) if _is_int(a) and _is_int(b) else a, b)
    a, b = _promote(a, b)
    if mode == "floor":
        return np.floor_divide(a, b)  # Python/torch floor semantics, also for floats
    if mode != "trunc":
        raise ValueError(f"div rounding_mode={mode!r} is not '', 'trunc' or 'floor'")
    if not _is_int(a):
        return np.trunc(a / b)
    q = np.floor_divide(a, b)  # integer / 0 gives 0 (numpy), never a crash
    inexact = np.mod(a, b) != 0
    return q + (inexact & ((a < 0) != (b < 0))).astype(q.dtype)


def _pow(a: Value, b: Value) -> Value:
    a, b = _promote(a, b)
    if not _is_int(a) or a.dtype == np.bool_:
        return np.power(a, b)
    # numpy refuses negative integer exponents; torch gives 0, except 1 -> 1 and -1 -> +/-1.
    neg = b < 0
    safe = np.power(a, np.where(neg, 0, b))
    small = np.where(a == 1, 1, np.where(a == -1, np.where(b % 2 == 0, 1, -1), 0)).astype(a.dtype)
    return np.where(neg, small, safe)


_BINARY: dict[str, Callable[[Value, Value], Value]] = {
    "add": np.add,
    "sub": np.subtract,
    "mul": np.multiply,
    "pow": _pow,
    "maximum": np.maximum,  # NaN-propagating, like torch.maximum
    "minimum": np.minimum,
    "remainder": np.mod,  # sign of the divisor, like torch.remainder
    "floor_divide": lambda a, b: np.floor_divide(*_promote(a, b)),
    "eq": np.equal,
    "ne": np.not_equal,
    "lt": np.less,
    "le": np.less_equal,
    "gt": np.greater,
    "ge": np.greater_equal,
    "logical_and": np.logical_and,
    "logical_or": np.logical_or,
    "bitwise_and": np.bitwise_and,
    "bitwise_or": np.bitwise_or,
    "bitwise_xor": np.bitwise_xor,
}

for _name, _fn in _BINARY.items():
    _register(_name, lambda xs, a, o, _fn=_fn: [_fn(xs[0], xs[1])])
_register("div", lambda xs, a, o: [_div(xs[0], xs[1], attr(a, "rounding_mode", ""))])
_register("where", lambda xs, a, o: [np.where(xs[0].astype(bool), xs[1], xs[2])])


# ---------------------------------------------------------------- reductions and scans

def _axes(attrs: dict[str, Any]) -> tuple[int, ...] | None:
    dims = attr(attrs, "dims", [])
    if isinstance(dims, int):
        dims = [dims]
    return tuple(dims) if dims else None


def _reduce(fn: Callable[..., Value], accumulate: bool) -> Kernel:
    def kernel(xs: list[Value], a: dict[str, Any], o: list[OutSpec]) -> list[Value]:
        x = _wide(xs[0]) if accumulate else xs[0]
        axes = _axes(a) if x.ndim else None  # a 0-d value reduces over dim 0 or -1 to itself, as in torch
        return [fn(x, axis=axes, keepdims=bool(attr(a, "keepdim", False)))]

    return kernel


_register("sum", _reduce(np.sum, True))
_register("mean", _reduce(np.mean, True))
_register("prod", _reduce(np.prod, True))
_register("amax", _reduce(np.max, False))  # np.max, not nanmax: NaN wins like torch.amax
_register("amin", _reduce(np.min, False))


def _argmax(xs: list[Value], a: dict[str, Any], o: list[OutSpec]) -> list[Value]:
    # np.argmax returns the first NaN if any, which is what torch.argmax does.
    dim = attr(a, "dim", None)
    return [np.argmax(xs[0], axis=dim, keepdims=bool(attr(a, "keepdim", False)))]


def _softmax(xs: list[Value], a: dict[str, Any], o: list[OutSpec], log: bool = False) -> list[Value]:
    dim = attr(a, "dim")
    x = _floating(xs[0]).astype(np.float64)
    shifted = x - np.max(x, axis=dim, keepdims=True)  # a NaN anywhere in the row makes the row NaN
    total = np.sum(np.exp(shifted), axis=dim, keepdims=True)
    return [shifted - np.log(total) if log else np.exp(shifted) / total]


def _cumsum(xs: list[Value], a: dict[str, Any], o: list[OutSpec]) -> list[Value]:
    x = _wide(xs[0])
    return [np.cumsum(x, axis=attr(a, "dim")).reshape(x.shape)]  # numpy makes a 0-d scan 1-d


def _stable_order(x: Value, axis: int, descending: bool) -> Value:
    """Stable argsort along `axis`; ties keep lower index first, NaN counts as the largest value.

    Descending order is the reverse of an ascending stable sort of the reversed array, which keeps
    ties in index order and puts NaNs (sorted last by numpy) first.
    """
    if not descending:
        return np.argsort(x, axis=axis, kind="stable")
    n = x.shape[axis]
    rev = np.flip(x, axis=axis)
    order = np.argsort(rev, axis=axis, kind="stable")
    return n - 1 - np.flip(order, axis=axis)


def _topk(xs: list[Value], a: dict[str, Any], o: list[OutSpec]) -> list[Value]:
    x = xs[0].reshape(1) if xs[0].ndim == 0 else xs[0]  # torch treats a scalar as one element
    k, dim = int(attr(a, "k")), int(attr(a, "dim", -1))
    if not 0 <= k <= x.shape[dim]:
        raise ValueError(f"topk k={k} is out of range for dimension {dim} of shape {xs[0].shape}")
    # `sorted=False` leaves the order unspecified in torch; returning them sorted is one valid choice.
    order = _stable_order(x, dim, bool(attr(a, "largest", True)))
    idx = np.take(order, np.arange(k), axis=dim)
    values = np.take_along_axis(x, idx, axis=dim)
    if xs[0].ndim == 0:
        values, idx = values.reshape(()), idx.reshape(())
    return [values, idx.astype(np.int64)]


_register("argmax", _argmax)
_register("softmax", _softmax)
_register("log_softmax", lambda xs, a, o: _softmax(xs, a, o, log=True))
_register("cumsum", _cumsum)
_register("topk", _topk)


# ---------------------------------------------------------------- matmul family

def _matmul(xs: list[Value], a: dict[str, Any], o: list[OutSpec]) -> list[Value]:
    return [np.matmul(_matmul_operand(xs[0]), _matmul_operand(xs[1]))]


def _linear(xs: list[Value], a: dict[str, Any], o: list[OutSpec]) -> list[Value]:
    x, w = _matmul_operand(xs[0]), _matmul_operand(xs[1])
    y = np.matmul(x, w.T if w.ndim == 2 else w)
    if len(xs) > 2:
        y = y + _matmul_operand(xs[2])
    return [y]


_register("matmul", _matmul)
_register("linear", _linear)


# ---------------------------------------------------------------- layout (PMU)

def _expand(x: Value, shape: list[int]) -> Value:
    """torch.expand: -1 keeps the existing size; new dimensions may be added on the left."""
    lead = len(shape) - x.ndim
    target = [x.shape[i - lead] if s == -1 else s for i, s in enumerate(shape)]
    return np.broadcast_to(x, target).copy()


def _slice(x: Value, a: dict[str, Any]) -> Value:
    dim = int(attr(a, "dim"))
    index = [slice(None)] * x.ndim
    index[dim] = slice(attr(a, "start", 0), attr(a, "end", None), attr(a, "step", 1))
    return x[tuple(index)]


def _gather(x: Value, index: Value, dim: int) -> Value:
    """torch.gather: the index may be smaller than the input in the other dimensions."""
    if index.ndim != x.ndim:
        raise ValueError(f"gather index has {index.ndim} dims but the input has {x.ndim}")
    d = dim % x.ndim if x.ndim else 0
    window = tuple(slice(None) if i == d else slice(0, index.shape[i]) for i in range(x.ndim))
    _check_indices(index, x.shape[d] if x.ndim else 1)
    return np.take_along_axis(x[window], index.astype(np.intp), axis=d)


def _check_indices(index: Value, size: int) -> None:
    """Indices must be in [0, size), as torch checks; numpy would wrap negatives silently."""
    if index.size and (index.min() < 0 or index.max() >= size):
        bad = index[(index < 0) | (index >= size)].flat[0]
        raise IndexError(f"index {bad} is out of range for a dimension of size {size}")


def _take(x: Value, index: Value, dim: int) -> Value:
    _check_indices(index, x.shape[dim])
    return np.take(x, index.astype(np.intp), axis=dim)


def _index(xs: list[Value], a: dict[str, Any], o: list[OutSpec]) -> list[Value]:
    """x[i0, :, i2]: numpy advanced indexing, whose placement of the broadcast index dims torch shares."""
    x, indices = xs[0], xs[1:]
    dims = list(attr(a, "indexed_dims"))
    if len(dims) != len(indices):
        raise ValueError(f"{len(indices)} index tensors for indexed_dims {dims}")
    key: list[Any] = [slice(None)] * x.ndim
    for d, idx in zip(dims, indices):
        size = x.shape[d]
        if idx.size and (idx.min() < -size or idx.max() >= size):  # torch wraps negatives, like numpy
            bad = idx[(idx < -size) | (idx >= size)].flat[0]
            raise IndexError(f"index {bad} is out of range for dimension {d} of size {size}")
        key[d] = idx.astype(np.intp)
    return [x[tuple(key)]]


def _tri(fn: Callable[..., Value]) -> Kernel:
    def kernel(xs: list[Value], a: dict[str, Any], o: list[OutSpec]) -> list[Value]:
        if xs[0].ndim < 2:
            raise ValueError(f"needs at least 2 dimensions, got shape {xs[0].shape}")
        return [fn(xs[0], k=int(attr(a, "diagonal", 0)))]

    return kernel


_register("buffer", lambda xs, a, o: [xs[0]] * len(o))  # identity; fans out to every output stream
_register("reshape", lambda xs, a, o: [np.reshape(xs[0], attr(a, "shape", o[0][1]))])
_register("permute", lambda xs, a, o: [np.ascontiguousarray(np.transpose(xs[0], attr(a, "dims")))])
_register("expand", lambda xs, a, o: [_expand(xs[0], list(attr(a, "shape", o[0][1])))])
_register("slice", lambda xs, a, o: [_slice(xs[0], a)])
_register("concat", lambda xs, a, o: [np.concatenate(xs, axis=int(attr(a, "dim", 0)))])
_register("gather", lambda xs, a, o: [_gather(xs[0], xs[1], int(attr(a, "dim")))])
_register("index_select", lambda xs, a, o: [_take(xs[0], xs[1], int(attr(a, "dim")))])
_register("embedding", lambda xs, a, o: [_take(xs[0], xs[1], 0)])
_register("index", _index)
_register("triu", _tri(np.triu))
_register("tril", _tri(np.tril))


# ---------------------------------------------------------------- vision, sorting and scatter

def _lowest(dtype: np.dtype) -> Any:
    if np.issubdtype(dtype, np.floating):
        return -np.inf
    return False if dtype == np.bool_ else np.iinfo(dtype).min


def _im2col(xs: list[Value], a: dict[str, Any], o: list[OutSpec]) -> list[Value]:
    """Windows of (N, C, *spatial) as (N, G, C/G * prod(kernel), prod(out spatial)), rows in
    (channel, kernel position) order: what the PMU's address generator streams to the GEMM."""
    x = xs[0]
    kernel, stride = list(attr(a, "kernel")), list(attr(a, "stride"))
    padding, dilation = list(attr(a, "padding")), list(attr(a, "dilation"))
    groups = int(attr(a, "groups", 1))
    fill = _lowest(x.dtype) if attr(a, "pad_with", "zero") == "lowest" else 0
    padded = np.pad(x, [(0, 0), (0, 0)] + [(p, p) for p in padding], constant_values=fill)
    out = [(n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, s, p, d in zip(x.shape[2:], kernel, stride, padding, dilation)]
    taps = []
    for offset in np.ndindex(*kernel):  # row-major over the kernel, as a weight flattens
        window = tuple(slice(o_ * d, o_ * d + (n - 1) * s + 1, s) for o_, d, n, s in zip(offset, dilation, out, stride))
        taps.append(padded[(slice(None), slice(None)) + window])
    cols = np.stack(taps, axis=2)  # (N, C, K, *out)
    n, c = x.shape[:2]
    return [cols.reshape(n, groups, c // groups * prod(kernel), prod(out))]


def _batch_norm(xs: list[Value], a: dict[str, Any], o: list[OutSpec]) -> list[Value]:
    x, weight, bias, mean, var = (v.astype(np.float64) for v in xs)  # PyTorch accumulates the statistics in fp32 or wider
    channel = (1, -1) + (1,) * (x.ndim - 2)
    scale = weight / np.sqrt(var + float(attr(a, "eps")))
    return [(x - mean.reshape(channel)) * scale.reshape(channel) + bias.reshape(channel)]


def _sort(xs: list[Value], a: dict[str, Any], o: list[OutSpec]) -> list[Value]:
    x = xs[0].reshape(1) if xs[0].ndim == 0 else xs[0]
    dim = int(attr(a, "dim", -1))
    order = _stable_order(x, dim, bool(attr(a, "descending", False)))
    values = np.take_along_axis(x, order, axis=dim)
    return [values.reshape(xs[0].shape), order.reshape(xs[0].shape).astype(np.int64)]


def _slice_scatter(xs: list[Value], a: dict[str, Any], o: list[OutSpec]) -> list[Value]:
    out = xs[0].copy()
    dim = int(attr(a, "dim"))
    index = [slice(None)] * out.ndim
    index[dim] = slice(attr(a, "start"), attr(a, "end"), attr(a, "step", 1))
    out[tuple(index)] = xs[1]
    return [out]


def _index_put(xs: list[Value], a: dict[str, Any], o: list[OutSpec]) -> list[Value]:
    """out[key] = values (or += with `accumulate`, duplicates adding up as torch's accumulate does)."""
    out, values, indices = xs[0].copy(), xs[1], xs[2:]
    key: list[Any] = [slice(None)] * out.ndim
    for d, idx in zip(attr(a, "indexed_dims"), indices):
        size = out.shape[d]
        if idx.size and (idx.min() < -size or idx.max() >= size):
            bad = idx[(idx < -size) | (idx >= size)].flat[0]
            raise IndexError(f"index {bad} is out of range for dimension {d} of size {size}")
        key[d] = idx.astype(np.intp)
    if bool(attr(a, "accumulate", False)):
        np.add.at(out, tuple(key), np.broadcast_to(values, out[tuple(key)].shape))
    else:
        out[tuple(key)] = values
    return [out]


def _scatter(xs: list[Value], a: dict[str, Any], o: list[OutSpec]) -> list[Value]:
    out, index, src = xs[0].copy(), xs[1], xs[2]
    dim = int(attr(a, "dim")) % max(out.ndim, 1)
    _check_indices(index, out.shape[dim] if out.ndim else 1)
    key = list(np.indices(index.shape, sparse=True))
    key[dim] = index.astype(np.intp)
    window = src[tuple(slice(0, n) for n in index.shape)]
    if attr(a, "reduce", "none") == "add":
        np.add.at(out, tuple(key), window)
    else:
        out[tuple(key)] = window
    return [out]


_register("im2col", _im2col)
_register("batch_norm", _batch_norm)
_register("sort", _sort)
_register("slice_scatter", _slice_scatter)
_register("index_put", _index_put)
_register("scatter", _scatter)


# ---------------------------------------------------------------- generators

def _full(xs: list[Value], a: dict[str, Any], o: list[OutSpec]) -> list[Value]:
    dtype, shape = o[0]
    return [np.full(shape, cast(np.asarray(attr(a, "value")), dtype))]


def _arange(xs: list[Value], a: dict[str, Any], o: list[OutSpec]) -> list[Value]:
    _, shape = o[0]
    start, step = attr(a, "start", 0), attr(a, "step", 1)
    i = np.arange(prod(shape), dtype=np.int64)
    return [(start + step * i).reshape(shape)]  # int64 or float64 arithmetic, like torch's accumulator


_register("full", _full)
_register("arange", _arange)
