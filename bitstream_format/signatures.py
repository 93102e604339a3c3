"""What each compute opcode takes and gives: its parameters and its typing rule.

One table that both levels of the compiler check against (an `rgraph` op verifies its own
instance, an `rdu.compute` verifies the stage that runs it) and that the simulator may use to
refuse a malformed bitstream. A rule reads only shapes, dtypes and parameters, so it states
PyTorch's semantics once: broadcasting, reductions with `dims`/`keepdim`, batched matmul, the
indexing family, generators whose result follows from their parameters.

Dtypes are the bitstream's names (`f32`, `bf16`, `i64`, `i1`, ...). Nothing here imports xDSL.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil, prod
from typing import Any, Callable, Sequence

Shape = tuple[int, ...]
Typed = tuple[str, Shape]  # (dtype, shape) of one input or output

FLOATS = frozenset({"f32", "f16", "bf16", "f64"})
INTS = frozenset({"i64", "i32", "i16", "i8", "u8"})
INDEX_DTYPES = frozenset({"i64", "i32"})
# The PCU tail's function select for the `math` opcode: one opcode, many elementwise functions.
MATH_FUNCTIONS = ("log1p", "expm1", "log2", "log10", "exp2", "asin", "acos", "atan", "sinh", "cosh", "tan",
                  "asinh", "acosh", "atanh", "trunc", "round", "sign")


class SignatureError(ValueError):
    """An operation whose inputs, outputs or parameters do not fit its opcode's signature."""


# --- parameters -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One named parameter. `kind` is int, ints (a list of ints), bool, scalar (int, float or
    bool: a fill value), number (int or float) or str (one of `choices`)."""

    name: str
    kind: str
    required: bool = True
    choices: tuple[str, ...] = ()

    def check(self, opcode: str, value: Any) -> None:
        ok = {
            "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "ints": lambda v: isinstance(v, (list, tuple)) and all(isinstance(x, int) and not isinstance(x, bool) for x in v),
            "bool": lambda v: isinstance(v, bool),
            "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "scalar": lambda v: isinstance(v, (int, float)),
            "str": lambda v: isinstance(v, str),
        }[self.kind](value)
        if not ok:
            raise SignatureError(f"{opcode}: parameter {self.name!r} must be {_KIND_WORDS[self.kind]}, got {value!r}")
        if self.choices and value not in self.choices:
            raise SignatureError(f"{opcode}: parameter {self.name!r} must be one of {list(self.choices)}, got {value!r}")


_KIND_WORDS = {
    "int": "an int", "ints": "a list of ints", "bool": "a bool", "number": "an int or a float",
    "scalar": "an int, float or bool", "str": "a string",
}


# --- the context a typing rule reads -------------------------------------------------------------


class Instance:
    """One use of an opcode: its parameters and inputs, with helpers that raise SignatureError
    naming the opcode."""

    def __init__(self, opcode: str, params: dict[str, Any], inputs: list[Typed], outputs: list[Typed]):
        self.opcode = opcode
        self.params = params
        self.inputs = inputs
        self.outputs = outputs  # for the rules whose result follows from it (full's value, arange without end)

    def fail(self, message: str) -> SignatureError:
        return SignatureError(f"{self.opcode}: {message}")

    def require(self, cond: bool, message: str) -> None:
        if not cond:
            raise self.fail(message)

    def dtype(self, i: int) -> str:
        return self.inputs[i][0]

    def shape(self, i: int) -> Shape:
        return self.inputs[i][1]

    def dim(self, name: str, rank: int) -> int:
        """Parameter `name` as a dimension index in [0, rank); rank 0 takes 0 and -1 like PyTorch."""
        return normalise_dim(self, self.params[name], rank)

    def same_dtypes(self, *indices: int) -> str:
        dtypes = [self.dtype(i) for i in indices]
        self.require(len(set(dtypes)) == 1, f"inputs have different dtypes {dtypes}")
        return dtypes[0]

    def dtype_in(self, i: int, allowed: frozenset[str], what: str) -> None:
        self.require(self.dtype(i) in allowed, f"input {i} must be {what}, got {self.dtype(i)}")


def normalise_dim(inst: Instance, dim: int, rank: int) -> int:
    size = max(rank, 1)
    inst.require(-size <= dim < size, f"dim {dim} is out of range for rank {rank}")
    return dim % size


def broadcast(inst: Instance, *shapes: Shape) -> Shape:
    """NumPy/PyTorch broadcasting of `shapes`."""
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(rank):
        sizes = {s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0} - {1}
        inst.require(len(sizes) <= 1, f"shapes {[tuple(s) for s in shapes]} do not broadcast")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


# --- typing rules: each returns the expected (dtype, shape) of every output ----------------------
# None accepts any dtype (cast's result) or any shape (full's).

Expected = tuple[str | None, Shape | None]
Rule = Callable[[Instance], list[Expected]]


def _unary(allowed: frozenset[str] | None = None, what: str = "") -> Rule:
    def rule(op: Instance) -> list[Expected]:
        if allowed is not None:
            op.dtype_in(0, allowed, what)
        return [(op.dtype(0), op.shape(0))]

    return rule


def _isnan(op: Instance) -> list[Expected]:
    return [("i1", op.shape(0))]


def _cast(op: Instance) -> list[Expected]:
    return [(None, op.shape(0))]


def _binary(allowed: frozenset[str] | None = None, what: str = "", result: str | None = None) -> Rule:
    def rule(op: Instance) -> list[Expected]:
        dtype = op.same_dtypes(0, 1)
        if allowed is not None:
            op.dtype_in(0, allowed, what)
        return [(result or dtype, broadcast(op, op.shape(0), op.shape(1)))]

    return rule


def _where(op: Instance) -> list[Expected]:
    op.dtype_in(0, frozenset({"i1"}), "i1 (the condition)")
    dtype = op.same_dtypes(1, 2)
    return [(dtype, broadcast(op, op.shape(0), op.shape(1), op.shape(2)))]


def reduced_shape(op: Instance, shape: Shape, dims: Sequence[int], keepdim: bool) -> Shape:
    """The shape left after reducing `dims` (all of them when empty)."""
    normalised = [normalise_dim(op, d, len(shape)) for d in dims]
    op.require(len(set(normalised)) == len(normalised), f"dims {list(dims)} repeat a dimension")
    reduced = set(normalised) or set(range(len(shape)))
    return tuple(1 if i in reduced else n for i, n in enumerate(shape) if keepdim or i not in reduced)


def _reduce(op: Instance) -> list[Expected]:
    return [(op.dtype(0), reduced_shape(op, op.shape(0), op.params["dims"], op.params["keepdim"]))]


def _argmax(op: Instance) -> list[Expected]:
    dim = op.params.get("dim")
    shape = op.shape(0)
    if dim is None:  # over the flattened input
        return [("i64", tuple(1 for _ in shape) if op.params["keepdim"] else ())]
    return [("i64", reduced_shape(op, shape, [dim], op.params["keepdim"]))]


def _along_dim(allowed: frozenset[str] | None = None, what: str = "") -> Rule:
    def rule(op: Instance) -> list[Expected]:
        op.dim("dim", len(op.shape(0)))
        if allowed is not None:
            op.dtype_in(0, allowed, what)
        return [(op.dtype(0), op.shape(0))]

    return rule


def _topk(op: Instance) -> list[Expected]:
    shape = list(op.shape(0))
    dim = op.dim("dim", len(shape))
    k = op.params["k"]
    size = shape[dim] if shape else 1
    op.require(0 <= k <= size, f"k={k} is out of range for a dimension of size {size}")
    if shape:
        shape[dim] = k
    return [(op.dtype(0), tuple(shape)), ("i64", tuple(shape))]


def _matmul(op: Instance) -> list[Expected]:
    a, b = op.shape(0), op.shape(1)
    dtype = op.same_dtypes(0, 1)
    op.require(len(a) >= 2 and len(b) >= 2, f"operands must have rank >= 2, got {a} and {b}")
    op.require(a[-1] == b[-2], f"contraction sizes differ ({a[-1]} vs {b[-2]})")
    return [(dtype, broadcast(op, a[:-2], b[:-2]) + (a[-2], b[-1]))]


def _linear(op: Instance) -> list[Expected]:
    x, w = op.shape(0), op.shape(1)
    dtype = op.same_dtypes(*range(len(op.inputs)))
    op.require(len(w) == 2 and len(x) >= 1 and x[-1] == w[1], f"input {x} does not fit weight {w}")
    if len(op.inputs) == 3:
        op.require(op.shape(2) == (w[0],), f"bias {op.shape(2)} is not ({w[0]},) (out_features)")
    return [(dtype, x[:-1] + (w[0],))]


def _reshape(op: Instance) -> list[Expected]:
    shape = tuple(op.params["shape"])
    op.require(all(n >= 0 for n in shape), f"shape {shape} has a negative size")
    op.require(prod(shape) == prod(op.shape(0)), f"shape {shape} has {prod(shape)} elements, the input {op.shape(0)} has {prod(op.shape(0))}")
    return [(op.dtype(0), shape)]


def _expand(op: Instance) -> list[Expected]:
    shape = tuple(op.params["shape"])
    source = op.shape(0)
    lead = len(shape) - len(source)
    op.require(lead >= 0 and all(n in (1, shape[lead + i]) for i, n in enumerate(source)),
               f"input {source} does not broadcast to {shape}")
    return [(op.dtype(0), shape)]


def _permute(op: Instance) -> list[Expected]:
    shape, dims = op.shape(0), list(op.params["dims"])
    op.require(sorted(dims) == list(range(len(shape))), f"dims {dims} are not a permutation of rank {len(shape)}")
    return [(op.dtype(0), tuple(shape[d] for d in dims))]


def _slice(op: Instance) -> list[Expected]:
    shape = list(op.shape(0))
    op.require(len(shape) >= 1, "cannot slice a rank-0 tensor")
    dim = op.dim("dim", len(shape))
    start, end, step = op.params["start"], op.params["end"], op.params["step"]
    op.require(step > 0 and 0 <= start <= end <= shape[dim],
               f"bounds must be normalised (0 <= start <= end <= {shape[dim]}, step > 0), got start={start} end={end} step={step}")
    shape[dim] = len(range(start, end, step))
    return [(op.dtype(0), tuple(shape))]


def _concat(op: Instance) -> list[Expected]:
    shapes = [op.shape(i) for i in range(len(op.inputs))]
    dtype = op.same_dtypes(*range(len(op.inputs)))
    rank = len(shapes[0])
    op.require(rank >= 1, "cannot concatenate rank-0 tensors")
    dim = op.dim("dim", rank)
    for s in shapes:
        op.require(len(s) == rank and all(a == b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != dim),
                   f"inputs {shapes} differ outside dim {dim}")
    out = list(shapes[0])
    out[dim] = sum(s[dim] for s in shapes)
    return [(dtype, tuple(out))]


def _gather(op: Instance) -> list[Expected]:
    op.dtype_in(1, INDEX_DTYPES, "i64 or i32 (indices)")
    source, index = op.shape(0), op.shape(1)
    dim = op.dim("dim", len(source))
    op.require(len(index) == len(source), f"index rank {len(index)} differs from input rank {len(source)}")
    op.require(all(i <= s for d, (i, s) in enumerate(zip(index, source)) if d != dim),
               f"index {index} is larger than input {source} outside dim {dim}")
    return [(op.dtype(0), index)]


def _index_select(op: Instance) -> list[Expected]:
    op.dtype_in(1, INDEX_DTYPES, "i64 or i32 (indices)")
    shape = list(op.shape(0))
    op.require(len(op.shape(1)) == 1, f"index must be 1-D, got {op.shape(1)}")
    op.require(len(shape) >= 1, "cannot select from a rank-0 tensor")
    shape[op.dim("dim", len(shape))] = op.shape(1)[0]
    return [(op.dtype(0), tuple(shape))]


def _embedding(op: Instance) -> list[Expected]:
    op.dtype_in(1, INDEX_DTYPES, "i64 or i32 (indices)")
    weight = op.shape(0)
    op.require(len(weight) == 2, f"weight must be 2-D, got {weight}")
    return [(op.dtype(0), op.shape(1) + (weight[1],))]


def _index(op: Instance) -> list[Expected]:
    """x[i0, :, i2]: NumPy's (and PyTorch's) advanced indexing. The broadcast index shape replaces
    the indexed dims in place when they are adjacent, and goes first otherwise."""
    shape = op.shape(0)
    dims = list(op.params["indexed_dims"])
    indices = range(1, len(op.inputs))
    op.require(len(dims) == len(indices), f"{len(indices)} index tensors for indexed_dims {dims}")
    op.require(dims == sorted(set(dims)) and all(0 <= d < len(shape) for d in dims),
               f"indexed_dims {dims} must be increasing and within rank {len(shape)}")
    for i in indices:
        op.dtype_in(i, INDEX_DTYPES, "i64 or i32 (indices)")
    indexed = broadcast(op, *[op.shape(i) for i in indices])
    rest = [n for d, n in enumerate(shape) if d not in dims]
    if dims == list(range(dims[0], dims[0] + len(dims))):
        out = shape[:dims[0]] + indexed + shape[dims[-1] + 1:]
    else:
        out = indexed + tuple(rest)
    return [(op.dtype(0), tuple(out))]


def _triangle(op: Instance) -> list[Expected]:
    op.require(len(op.shape(0)) >= 2, f"input must have rank >= 2, got {op.shape(0)}")
    return [(op.dtype(0), op.shape(0))]


def _full(op: Instance) -> list[Expected]:
    """Any dtype and shape, but the value must be representable (no 0.5 into an integer tensor)."""
    value, dtype = op.params["value"], op.outputs[0][0]
    if dtype == "i1":
        op.require(value in (0, 1) and not isinstance(value, float), f"value {value!r} does not fit i1")
    elif dtype in INTS:
        op.require(not isinstance(value, float), f"value {value!r} is a float, the result is {dtype}")
    return [(None, None)]


def _arange(op: Instance) -> list[Expected]:
    start, step, end = op.params["start"], op.params["step"], op.params.get("end")
    op.require(step != 0, "step must not be 0")
    dtype, shape = op.outputs[0]
    op.require(dtype in FLOATS | INTS, f"result dtype {dtype} is not numeric")
    if end is None:  # without `end` the result type alone says how many
        op.require(len(shape) == 1, f"result must be 1-D, got {shape}")
        return [(None, None)]
    return [(None, (max(0, ceil((end - start) / step)),))]


def conv_output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """PyTorch's output length of a sliding window (floor mode)."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _im2col(op: Instance) -> list[Expected]:
    """Sliding windows of an (N, C, *spatial) input, 1 to 3 spatial dims, as the columns of an
    implicit GEMM: (N, groups, C/groups * prod(kernel), prod(output spatial)). A column's rows run
    over (channel, kernel position) in the order a weight (OC, C/groups, *kernel) flattens."""
    shape = op.shape(0)
    spatial = len(shape) - 2
    op.require(spatial in (1, 2, 3), f"input must be (N, C, L), (N, C, H, W) or (N, C, D, H, W), got {shape}")
    kernel, stride = list(op.params["kernel"]), list(op.params["stride"])
    padding, dilation = list(op.params["padding"]), list(op.params["dilation"])
    for name, values, least in (("kernel", kernel, 1), ("stride", stride, 1), ("padding", padding, 0), ("dilation", dilation, 1)):
        op.require(len(values) == spatial, f"{name} {values} must have {spatial} entries (one per spatial dim)")
        op.require(all(v >= least for v in values), f"{name} {values} must be >= {least}")
    groups = op.params["groups"]
    op.require(groups >= 1 and shape[1] % groups == 0, f"groups={groups} does not divide {shape[1]} channels")
    out = [conv_output_size(*a) for a in zip(shape[2:], kernel, stride, padding, dilation)]
    op.require(all(n >= 1 for n in out), f"kernel {kernel} (dilation {dilation}) does not fit input {shape} padded by {padding}")
    return [(op.dtype(0), (shape[0], groups, shape[1] // groups * prod(kernel), prod(out)))]


def _batch_norm(op: Instance) -> list[Expected]:
    """(x - mean) / sqrt(var + eps) * weight + bias over channel dim 1; the other inputs are (C,)."""
    shape = op.shape(0)
    op.require(len(shape) >= 2, f"input must have a channel dim 1, got {shape}")
    op.dtype_in(0, FLOATS, "a float")
    dtype = op.same_dtypes(*range(5))
    for i, name in enumerate(("weight", "bias", "running mean", "running var"), start=1):
        op.require(op.shape(i) == (shape[1],), f"{name} {op.shape(i)} is not ({shape[1]},) (channels)")
    return [(dtype, shape)]


def _sort(op: Instance) -> list[Expected]:
    op.dim("dim", len(op.shape(0)))
    return [(op.dtype(0), op.shape(0)), ("i64", op.shape(0))]


def _slice_scatter(op: Instance) -> list[Expected]:
    """input with input[start:end:step] along `dim` replaced by src (whose shape is that slice's)."""
    dtype = op.same_dtypes(0, 1)
    sliced = _slice(Instance(op.opcode, op.params, op.inputs[:1], op.outputs))[0][1]
    op.require(op.shape(1) == sliced, f"src {op.shape(1)} is not the slice's shape {sliced}")
    return [(dtype, op.shape(0))]


def _index_put(op: Instance) -> list[Expected]:
    """input[indices] = values (or += with `accumulate`): values broadcast to what input[indices] reads."""
    dtype = op.same_dtypes(0, 1)
    read = _index(Instance(op.opcode, op.params, [op.inputs[0], *op.inputs[2:]], op.outputs))[0][1]
    values = op.shape(1)
    fits = len(values) <= len(read) and all(v in (1, r) for v, r in zip(reversed(values), reversed(read)))
    op.require(fits, f"values {values} do not broadcast to the indexed shape {read}")
    return [(dtype, op.shape(0))]


def _load_rows(op: Instance) -> list[Expected]:
    """table[..., index, ...] along `dim`, read from the table's own memory: (table, index) in,
    the rows out. `index` is integer of any shape; it replaces `dim` (an embedding: dim 0)."""
    table, index = op.shape(0), op.shape(1)
    dim = op.dim("dim", len(table))
    op.dtype_in(1, INDEX_DTYPES, "i64 or i32 (indices)")
    return [(op.dtype(0), table[:dim] + index + table[dim + 1:])]


def _store_rows(op: Instance) -> list[Expected]:
    """state[..., index[i], ...] = rows[..., i, ...] along `dim`, in the state tensor's own memory:
    (state, index, rows) in, nothing out. `index` is 1-D integer, rows are state's shape with
    `dim` of index's length."""
    state, index, rows = op.shape(0), op.shape(1), op.shape(2)
    dim = op.dim("dim", len(state))
    op.dtype_in(1, INDEX_DTYPES, "i64 or i32 (indices)")
    op.require(len(index) == 1, f"index must be 1-D, got {index}")
    op.same_dtypes(0, 2)
    want = tuple(index[0] if d == dim else n for d, n in enumerate(state))
    op.require(rows == want, f"rows {rows} should be {want} (state {state} with dim {dim} of the index's length)")
    return []


def _scatter(op: Instance) -> list[Expected]:
    """torch.scatter along `dim`: out[.., index[i][j], ..] = src[i][j] (or += with reduce="add")."""
    op.dtype_in(1, INDEX_DTYPES, "i64 or i32 (indices)")
    dtype = op.same_dtypes(0, 2)
    source, index, src = op.shape(0), op.shape(1), op.shape(2)
    dim = op.dim("dim", len(source))
    op.require(len(index) == len(source) == len(src), f"input {source}, index {index} and src {src} must have one rank")
    op.require(all(i <= s for i, s in zip(index, src)), f"index {index} is larger than src {src}")
    op.require(all(i <= s for d, (i, s) in enumerate(zip(index, source)) if d != dim),
               f"index {index} is larger than input {source} outside dim {dim}")
    return [(dtype, source)]


# --- signatures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Signature:
    """Inputs (`min_inputs` to `max_inputs`, None: unbounded), number of outputs, parameters, rule."""

    min_inputs: int
    max_inputs: int | None
    outputs: int
    params: tuple[Param, ...]
    rule: Rule
    broadcasts: bool = False  # elementwise: a wrong result shape is "not the broadcast" of the inputs

    def arity(self) -> str:
        if self.max_inputs == self.min_inputs:
            return f"{self.min_inputs} input{'s' if self.min_inputs != 1 else ''}"
        if self.max_inputs is None:
            return f"at least {self.min_inputs} input{'s' if self.min_inputs != 1 else ''}"
        return f"{self.min_inputs} to {self.max_inputs} inputs"


def _collective(op: Instance) -> list[Expected]:
    """all_reduce keeps the shape; all_gather joins `sockets` parts along `dim`; reduce_scatter
    leaves each socket one part of the sum along `dim` (issue 12, docs/node.md)."""
    sockets = op.params["sockets"]
    op.require(sockets >= 2, f"a collective needs a group of at least 2 sockets, got sockets={sockets}")
    if op.opcode != "all_gather":
        op.dtype_in(0, FLOATS, "a float (they sum)")
    shape = list(op.shape(0))
    if op.opcode == "all_reduce":
        return [(op.dtype(0), tuple(shape))]
    dim = op.dim("dim", len(shape))
    op.require(len(shape) > 0, "needs a tensor of rank 1 or more")
    if op.opcode == "all_gather":
        shape[dim] *= sockets
    else:
        op.require(shape[dim] % sockets == 0,
                   f"dim {dim} of size {shape[dim]} does not split into {sockets} equal parts")
        shape[dim] //= sockets
    return [(op.dtype(0), tuple(shape))]


def _sig(inputs: int | tuple[int, int | None], rule: Rule, *params: Param, outputs: int = 1, **kw: Any) -> Signature:
    lo, hi = (inputs, inputs) if isinstance(inputs, int) else inputs
    return Signature(lo, hi, outputs, params, rule, **kw)


_DIM = Param("dim", "int")
_FLOAT = (FLOATS, "a float")
_BOOL = (frozenset({"i1"}), "i1")
_INTEGRAL = (INTS | {"i1"}, "an integer or i1")

SIGNATURES: dict[str, Signature] = {
    # elementwise unary
    **{name: _sig(1, _unary()) for name in ("neg", "abs", "relu", "floor", "ceil")},
    **{name: _sig(1, _unary(*_FLOAT)) for name in (
        "exp", "log", "sqrt", "rsqrt", "reciprocal", "tanh", "sigmoid", "silu", "sin", "cos", "erf")},
    "gelu": _sig(1, _unary(*_FLOAT), Param("approximate", "str", choices=("none", "tanh"))),
    "math": _sig(1, _unary(), Param("fn", "str", choices=MATH_FUNCTIONS)),
    "logical_not": _sig(1, _unary(*_BOOL)),
    "bitwise_not": _sig(1, _unary(*_INTEGRAL)),
    "isnan": _sig(1, _isnan),
    "cast": _sig(1, _cast),
    # elementwise binary
    **{name: _sig(2, _binary(), broadcasts=True) for name in ("add", "sub", "mul", "maximum", "minimum", "remainder", "floor_divide")},
    "pow": _sig(2, _binary(), broadcasts=True),
    "div": _sig(2, _binary(), Param("rounding_mode", "str", required=False, choices=("", "trunc", "floor")), broadcasts=True),
    **{name: _sig(2, _binary(result="i1"), broadcasts=True) for name in ("eq", "ne", "lt", "le", "gt", "ge")},
    **{name: _sig(2, _binary(*_BOOL), broadcasts=True) for name in ("logical_and", "logical_or")},
    **{name: _sig(2, _binary(*_INTEGRAL), broadcasts=True) for name in ("bitwise_and", "bitwise_or", "bitwise_xor")},
    "where": _sig(3, _where, broadcasts=True),
    # reductions and scans
    **{name: _sig(1, _reduce, Param("dims", "ints"), Param("keepdim", "bool")) for name in ("sum", "mean", "amax", "amin", "prod")},
    "argmax": _sig(1, _argmax, Param("dim", "int", required=False), Param("keepdim", "bool")),
    "softmax": _sig(1, _along_dim(*_FLOAT), _DIM),
    "log_softmax": _sig(1, _along_dim(*_FLOAT), _DIM),
    "cumsum": _sig(1, _along_dim(), _DIM),
    "topk": _sig(1, _topk, Param("k", "int"), _DIM, Param("largest", "bool"), Param("sorted", "bool"), outputs=2),
    "sort": _sig(1, _sort, _DIM, Param("descending", "bool"), Param("stable", "bool"), outputs=2),
    "batch_norm": _sig(5, _batch_norm, Param("eps", "number")),
    # matrix multiply
    "matmul": _sig(2, _matmul),
    "linear": _sig((2, 3), _linear),
    # layout
    "reshape": _sig(1, _reshape, Param("shape", "ints")),
    "expand": _sig(1, _expand, Param("shape", "ints")),
    "permute": _sig(1, _permute, Param("dims", "ints")),
    "slice": _sig(1, _slice, _DIM, Param("start", "int"), Param("end", "int"), Param("step", "int")),
    "concat": _sig((1, None), _concat, _DIM),
    "gather": _sig(2, _gather, _DIM),
    "index_select": _sig(2, _index_select, _DIM),
    "embedding": _sig(2, _embedding),
    "index": _sig((2, None), _index, Param("indexed_dims", "ints")),
    "im2col": _sig(1, _im2col, Param("kernel", "ints"), Param("stride", "ints"), Param("padding", "ints"),
                   Param("dilation", "ints"), Param("groups", "int"), Param("pad_with", "str", choices=("zero", "lowest"))),
    "slice_scatter": _sig(2, _slice_scatter, _DIM, Param("start", "int"), Param("end", "int"), Param("step", "int")),
    "index_put": _sig((3, None), _index_put, Param("indexed_dims", "ints"), Param("accumulate", "bool")),
    "scatter": _sig(3, _scatter, _DIM, Param("reduce", "str", choices=("none", "add"))),
    "store_rows": _sig(3, _store_rows, _DIM, outputs=0),
    "load_rows": _sig(2, _load_rows, _DIM),
    "triu": _sig(1, _triangle, Param("diagonal", "int")),
    "tril": _sig(1, _triangle, Param("diagonal", "int")),
    # generators
    "full": _sig(0, _full, Param("value", "scalar")),
    # collectives over the node's peer-to-peer network (AGCU stages)
    "all_reduce": _sig(1, _collective, Param("sockets", "int")),
    "all_gather": _sig(1, _collective, _DIM, Param("sockets", "int")),
    "reduce_scatter": _sig(1, _collective, _DIM, Param("sockets", "int")),
    "arange": _sig(0, _arange, Param("start", "number"), Param("step", "number"), Param("end", "number", required=False)),
}


# --- the check --------------------------------------------------------------------------------


def check_signature(opcode: str, params: dict[str, Any], inputs: list[Typed], outputs: list[Typed]) -> None:
    """Raise SignatureError unless `opcode` applied to `inputs` with `params` gives `outputs`.

    `inputs` and `outputs` are (dtype, shape) pairs, dtypes by their bitstream names.
    """
    sig = SIGNATURES.get(opcode)
    if sig is None:
        raise SignatureError(f"{opcode!r} is not a compute opcode")
    n = len(inputs)
    if n < sig.min_inputs or (sig.max_inputs is not None and n > sig.max_inputs):
        raise SignatureError(f"{opcode} takes {sig.arity()}, got {n}")
    if len(outputs) != sig.outputs:
        raise SignatureError(f"{opcode} gives {sig.outputs} result{'s' if sig.outputs != 1 else ''}, got {len(outputs)}")
    known = {p.name: p for p in sig.params}
    for name in params:
        if name not in known:
            raise SignatureError(f"{opcode}: unknown parameter {name!r}")
    for p in sig.params:
        if p.name in params:
            p.check(opcode, params[p.name])
        elif p.required:
            raise SignatureError(f"{opcode}: missing parameter {p.name!r}")
    inst = Instance(opcode, params, [(d, tuple(s)) for d, s in inputs], [(d, tuple(s)) for d, s in outputs])
    for i, ((want_dtype, want_shape), (dtype, shape)) in enumerate(zip(sig.rule(inst), inst.outputs)):
        what = "result" if sig.outputs == 1 else f"result #{i}"
        if want_shape is not None and shape != want_shape:
            if sig.broadcasts:
                raise SignatureError(f"{opcode}: {what} shape {shape} is not the broadcast {want_shape} of its inputs")
            raise SignatureError(f"{opcode}: {what} shape {shape} should be {want_shape}")
        if want_dtype is not None and dtype != want_dtype:
            raise SignatureError(f"{opcode}: {what} dtype {dtype} should be {want_dtype}")
