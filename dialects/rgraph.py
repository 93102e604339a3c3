"""`rgraph`: the graph-level dialect, tensor operations as imported from PyTorch.

Every op is value-semantic on statically shaped tensors. Each op class names the instruction-set
opcode that executes it (`OPCODE`), and `params()` gives its attributes as plain Python values, so
lowering to the hardware dialect needs no per-op code. Verifiers check shapes and dtypes the way
PyTorch defines them, so a malformed graph fails here rather than in the simulator.
"""

from __future__ import annotations

from math import prod
from typing import Any, ClassVar

from xdsl.dialects.builtin import (
    BoolAttr,
    DenseArrayBase,
    DenseResourceAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
)
from xdsl.ir import Attribute, Dialect
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    attr_def,
    irdl_op_definition,
    operand_def,
    opt_attr_def,
    opt_operand_def,
    opt_prop_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.traits import Pure
from xdsl.utils.exceptions import VerifyException

from dialects.resources import resource_bytes
from dialects.types import dtype_of, shape_of


def attr_value(attr: Attribute) -> Any:
    """A builtin attribute as the plain value the bitstream stores."""
    if isinstance(attr, IntegerAttr):
        value = attr.value.data
        return bool(value) if attr.type.width.data == 1 else value
    if isinstance(attr, FloatAttr):
        return attr.value.data
    if isinstance(attr, StringAttr):
        return attr.data
    if isinstance(attr, DenseArrayBase):
        return list(attr.get_values())
    raise TypeError(f"attribute {attr} has no plain value")


def broadcast_shapes(*shapes: tuple[int, ...]) -> tuple[int, ...]:
    rank = max(len(s) for s in shapes)
    out = []
    for i in range(rank):
        dims = {s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0} - {1}
        if len(dims) > 1:
            raise VerifyException(f"shapes {list(shapes)} do not broadcast")
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def _norm_dim(dim: int, rank: int) -> int:
    if not -max(rank, 1) <= dim < max(rank, 1):
        raise VerifyException(f"dim {dim} is out of range for rank {rank}")
    return dim % max(rank, 1)


class GraphOp(IRDLOperation):
    """Base of all rgraph ops: knows its opcode and exposes its attributes as plain values."""

    OPCODE: ClassVar[str]
    traits = traits_def(Pure())
    source_attr = opt_attr_def(StringAttr, attr_name="source")  # the model line that produced it

    def params(self) -> dict[str, Any]:
        return {k: attr_value(v) for k, v in sorted(self.attributes.items()) if k != "source"}

    def source(self) -> str:
        attr = self.attributes.get("source")
        return attr.data if isinstance(attr, StringAttr) else ""

    def operand_shapes(self) -> list[tuple[int, ...]]:
        return [shape_of(o.type) for o in self.operands]


def _result_shape(op: IRDLOperation) -> tuple[int, ...]:
    return shape_of(op.results[0].type)


def require(cond: bool, message: str) -> None:
    if not cond:
        raise VerifyException(message)


# --- elementwise ------------------------------------------------------------------------------


class UnaryOp(GraphOp):
    input = operand_def(TensorType)
    result = result_def(TensorType)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def verify_(self) -> None:
        require(_result_shape(self) == shape_of(self.input.type), f"{self.name}: result shape differs from input shape")


class SameTypeUnaryOp(UnaryOp):
    def verify_(self) -> None:
        super().verify_()
        require(self.result.type == self.input.type, f"{self.name}: result type must equal input type")


class BinaryOp(GraphOp):
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    assembly_format = "$lhs `,` $rhs attr-dict `:` `(` type($lhs) `,` type($rhs) `)` `->` type($result)"

    def verify_(self) -> None:
        expected = broadcast_shapes(shape_of(self.lhs.type), shape_of(self.rhs.type))
        require(_result_shape(self) == expected, f"{self.name}: result shape {_result_shape(self)} is not the broadcast {expected}")


class CompareOp(BinaryOp):
    def verify_(self) -> None:
        super().verify_()
        require(dtype_of(self.result.type) == "i1", f"{self.name}: a comparison yields i1")


def _family(base: type, names: list[str], prefix: str = "rgraph.") -> list[type[IRDLOperation]]:
    ops = []
    for short in names:
        cls_name = "".join(p.capitalize() for p in short.split("_")) + "Op"
        cls = type(cls_name, (base,), {
            "name": prefix + short,
            "OPCODE": short,
            "__annotations__": {"OPCODE": ClassVar[str]},
            "__doc__": f"{base.__doc__ or base.__name__}: {short}.",
        })
        ops.append(irdl_op_definition(cls))
    return ops


_SAME_TYPE_UNARY = [
    "neg", "abs", "exp", "log", "sqrt", "rsqrt", "reciprocal", "tanh", "sigmoid", "relu", "silu",
    "sin", "cos", "erf", "floor", "ceil", "logical_not", "bitwise_not",
]
_ARITH_BINARY = [
    "add", "sub", "mul", "pow", "maximum", "minimum", "remainder", "floor_divide",
    "logical_and", "logical_or", "bitwise_and", "bitwise_or", "bitwise_xor",
]
_COMPARE = ["eq", "ne", "lt", "le", "gt", "ge"]

UNARY_OPS = _family(SameTypeUnaryOp, _SAME_TYPE_UNARY)
BINARY_OPS = _family(BinaryOp, _ARITH_BINARY)
COMPARE_OPS = _family(CompareOp, _COMPARE)


@irdl_op_definition
class IsnanOp(UnaryOp):
    name = "rgraph.isnan"
    OPCODE: ClassVar[str] = "isnan"


@irdl_op_definition
class CastOp(UnaryOp):
    """Dtype conversion: the result type names the target dtype."""

    name = "rgraph.cast"
    OPCODE: ClassVar[str] = "cast"


@irdl_op_definition
class GeluOp(SameTypeUnaryOp):
    name = "rgraph.gelu"
    OPCODE: ClassVar[str] = "gelu"
    approximate = attr_def(StringAttr)

    def verify_(self) -> None:
        super().verify_()
        require(self.approximate.data in ("none", "tanh"), "rgraph.gelu: approximate must be 'none' or 'tanh'")


@irdl_op_definition
class DivOp(BinaryOp):
    name = "rgraph.div"
    OPCODE: ClassVar[str] = "div"
    rounding_mode = attr_def(StringAttr)

    def verify_(self) -> None:
        super().verify_()
        require(self.rounding_mode.data in ("", "trunc", "floor"), "rgraph.div: rounding_mode must be '', 'trunc' or 'floor'")


@irdl_op_definition
class WhereOp(GraphOp):
    name = "rgraph.where"
    OPCODE: ClassVar[str] = "where"
    cond = operand_def(TensorType)
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    assembly_format = "$cond `,` $lhs `,` $rhs attr-dict `:` `(` type($cond) `,` type($lhs) `,` type($rhs) `)` `->` type($result)"

    def verify_(self) -> None:
        require(dtype_of(self.cond.type) == "i1", "rgraph.where: the condition must be i1")
        expected = broadcast_shapes(*self.operand_shapes())
        require(_result_shape(self) == expected, f"rgraph.where: result shape is not the broadcast {expected}")


# --- reductions -------------------------------------------------------------------------------


class ReduceOp(GraphOp):
    input = operand_def(TensorType)
    result = result_def(TensorType)
    dims = attr_def(DenseArrayBase)
    keepdim = attr_def(BoolAttr)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def verify_(self) -> None:
        shape = shape_of(self.input.type)
        dims = {_norm_dim(d, len(shape)) for d in self.dims.get_values()} or set(range(len(shape)))
        keep = bool(self.keepdim.value.data)
        expected = tuple(1 if i in dims else n for i, n in enumerate(shape) if keep or i not in dims)
        require(_result_shape(self) == expected, f"{self.name}: result shape {_result_shape(self)}, expected {expected}")


REDUCE_OPS = _family(ReduceOp, ["sum", "mean", "amax", "amin", "prod"])


@irdl_op_definition
class ArgmaxOp(GraphOp):
    name = "rgraph.argmax"
    OPCODE: ClassVar[str] = "argmax"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    dim = opt_attr_def(IntegerAttr)
    keepdim = attr_def(BoolAttr)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def verify_(self) -> None:
        require(dtype_of(self.result.type) == "i64", "rgraph.argmax: result must be i64")


class AlongDimOp(GraphOp):
    """Ops that act along one dimension and keep the shape (softmax, cumsum)."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    dim = attr_def(IntegerAttr)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def verify_(self) -> None:
        shape = shape_of(self.input.type)
        _norm_dim(self.dim.value.data, len(shape))
        require(_result_shape(self) == shape, f"{self.name}: result shape must equal input shape")


ALONG_DIM_OPS = _family(AlongDimOp, ["softmax", "log_softmax", "cumsum"])


@irdl_op_definition
class TopkOp(GraphOp):
    name = "rgraph.topk"
    OPCODE: ClassVar[str] = "topk"
    input = operand_def(TensorType)
    values = result_def(TensorType)
    indices = result_def(TensorType)
    k = attr_def(IntegerAttr)
    dim = attr_def(IntegerAttr)
    largest = attr_def(BoolAttr)
    sorted = attr_def(BoolAttr)
    assembly_format = "$input attr-dict `:` type($input) `->` type($values) `,` type($indices)"

    def verify_(self) -> None:
        shape = list(shape_of(self.input.type))
        dim = _norm_dim(self.dim.value.data, len(shape))
        require(0 <= self.k.value.data <= (shape[dim] if shape else 1), "rgraph.topk: k exceeds the dimension")
        if shape:
            shape[dim] = self.k.value.data
        require(shape_of(self.values.type) == tuple(shape), "rgraph.topk: wrong values shape")
        require(shape_of(self.indices.type) == tuple(shape), "rgraph.topk: wrong indices shape")
        require(dtype_of(self.indices.type) == "i64", "rgraph.topk: indices must be i64")


# --- matrix multiply --------------------------------------------------------------------------


@irdl_op_definition
class MatmulOp(GraphOp):
    """Batched matrix multiply with NumPy/PyTorch batch broadcasting."""

    name = "rgraph.matmul"
    OPCODE: ClassVar[str] = "matmul"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    assembly_format = "$lhs `,` $rhs attr-dict `:` `(` type($lhs) `,` type($rhs) `)` `->` type($result)"

    def verify_(self) -> None:
        a, b = shape_of(self.lhs.type), shape_of(self.rhs.type)
        require(len(a) >= 2 and len(b) >= 2, "rgraph.matmul: operands must have rank >= 2")
        require(a[-1] == b[-2], f"rgraph.matmul: contraction sizes differ ({a[-1]} vs {b[-2]})")
        expected = broadcast_shapes(a[:-2], b[:-2]) + (a[-2], b[-1])
        require(_result_shape(self) == expected, f"rgraph.matmul: result shape {_result_shape(self)}, expected {expected}")


@irdl_op_definition
class LinearOp(GraphOp):
    """y = x @ w.T (+ b): kept coarse because the PCU's systolic body runs it with its epilogue."""

    name = "rgraph.linear"
    OPCODE: ClassVar[str] = "linear"
    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = opt_operand_def(TensorType)
    result = result_def(TensorType)
    assembly_format = "$input `,` $weight (`,` $bias^)? attr-dict `:` `(` type($input) `,` type($weight) (`,` type($bias)^)? `)` `->` type($result)"

    def verify_(self) -> None:
        x, w = shape_of(self.input.type), shape_of(self.weight.type)
        require(len(w) == 2 and len(x) >= 1 and x[-1] == w[1], f"rgraph.linear: input {x} does not fit weight {w}")
        if self.bias is not None:
            require(shape_of(self.bias.type) == (w[0],), "rgraph.linear: bias must have shape (out_features,)")
        require(_result_shape(self) == x[:-1] + (w[0],), "rgraph.linear: wrong result shape")


# --- layout -----------------------------------------------------------------------------------


@irdl_op_definition
class ReshapeOp(GraphOp):
    name = "rgraph.reshape"
    OPCODE: ClassVar[str] = "reshape"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def params(self) -> dict[str, Any]:
        return {"shape": list(_result_shape(self))}

    def verify_(self) -> None:
        require(prod(shape_of(self.input.type)) == prod(_result_shape(self)), "rgraph.reshape: element counts differ")
        require(self.input.type.get_element_type() == self.result.type.get_element_type(), "rgraph.reshape: dtype changed")


@irdl_op_definition
class ExpandOp(GraphOp):
    name = "rgraph.expand"
    OPCODE: ClassVar[str] = "expand"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def params(self) -> dict[str, Any]:
        return {"shape": list(_result_shape(self))}

    def verify_(self) -> None:
        out = _result_shape(self)
        require(broadcast_shapes(shape_of(self.input.type), out) == out, "rgraph.expand: input does not broadcast to result")


@irdl_op_definition
class PermuteOp(GraphOp):
    name = "rgraph.permute"
    OPCODE: ClassVar[str] = "permute"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    dims = attr_def(DenseArrayBase)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def verify_(self) -> None:
        shape = shape_of(self.input.type)
        dims = list(self.dims.get_values())
        require(sorted(dims) == list(range(len(shape))), f"rgraph.permute: {dims} is not a permutation")
        require(_result_shape(self) == tuple(shape[d] for d in dims), "rgraph.permute: wrong result shape")


@irdl_op_definition
class SliceOp(GraphOp):
    name = "rgraph.slice"
    OPCODE: ClassVar[str] = "slice"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    dim = attr_def(IntegerAttr)
    start = attr_def(IntegerAttr)
    end = attr_def(IntegerAttr)
    step = attr_def(IntegerAttr)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def verify_(self) -> None:
        shape = list(shape_of(self.input.type))
        dim = _norm_dim(self.dim.value.data, len(shape))
        start, end, step = self.start.value.data, self.end.value.data, self.step.value.data
        require(step > 0 and 0 <= start <= end <= shape[dim], "rgraph.slice: bounds must be normalised: 0 <= start <= end <= size, step > 0")
        shape[dim] = len(range(start, end, step))
        require(_result_shape(self) == tuple(shape), "rgraph.slice: wrong result shape")


@irdl_op_definition
class ConcatOp(GraphOp):
    name = "rgraph.concat"
    OPCODE: ClassVar[str] = "concat"
    inputs = var_operand_def(TensorType)
    result = result_def(TensorType)
    dim = attr_def(IntegerAttr)
    assembly_format = "$inputs attr-dict `:` `(` type($inputs) `)` `->` type($result)"

    def verify_(self) -> None:
        shapes = self.operand_shapes()
        require(len(shapes) >= 1, "rgraph.concat: needs at least one input")
        rank = len(shapes[0])
        dim = _norm_dim(self.dim.value.data, rank)
        for s in shapes:
            require(len(s) == rank and all(a == b for i, (a, b) in enumerate(zip(s, shapes[0])) if i != dim),
                   "rgraph.concat: inputs differ outside the concatenated dim")
        expected = list(shapes[0])
        expected[dim] = sum(s[dim] for s in shapes)
        require(_result_shape(self) == tuple(expected), "rgraph.concat: wrong result shape")


class IndexingOp(GraphOp):
    input = operand_def(TensorType)
    index = operand_def(TensorType)
    result = result_def(TensorType)
    assembly_format = "$input `,` $index attr-dict `:` `(` type($input) `,` type($index) `)` `->` type($result)"

    def verify_(self) -> None:
        require(dtype_of(self.index.type) in ("i64", "i32"), f"{self.name}: indices must be i64 or i32")


@irdl_op_definition
class GatherOp(IndexingOp):
    """torch.gather: out[i][j] = input[index[i][j]][j] along `dim`."""

    name = "rgraph.gather"
    OPCODE: ClassVar[str] = "gather"
    dim = attr_def(IntegerAttr)

    def verify_(self) -> None:
        super().verify_()
        require(_result_shape(self) == shape_of(self.index.type), "rgraph.gather: result shape must equal index shape")


@irdl_op_definition
class IndexSelectOp(IndexingOp):
    name = "rgraph.index_select"
    OPCODE: ClassVar[str] = "index_select"
    dim = attr_def(IntegerAttr)

    def verify_(self) -> None:
        super().verify_()
        shape = list(shape_of(self.input.type))
        require(len(shape_of(self.index.type)) == 1, "rgraph.index_select: index must be 1-D")
        shape[_norm_dim(self.dim.value.data, len(shape))] = shape_of(self.index.type)[0]
        require(_result_shape(self) == tuple(shape), "rgraph.index_select: wrong result shape")


@irdl_op_definition
class EmbeddingOp(IndexingOp):
    """Row lookup weight[ids]: a PMU lookup table."""

    name = "rgraph.embedding"
    OPCODE: ClassVar[str] = "embedding"

    def verify_(self) -> None:
        super().verify_()
        w = shape_of(self.input.type)
        require(len(w) == 2, "rgraph.embedding: weight must be 2-D")
        require(_result_shape(self) == shape_of(self.index.type) + (w[1],), "rgraph.embedding: wrong result shape")


@irdl_op_definition
class IndexOp(GraphOp):
    """Advanced indexing x[i0, :, i2]: index tensors on `indexed_dims`, whole slices elsewhere,
    with NumPy's (and PyTorch's) rules for where the broadcast index dimensions go."""

    name = "rgraph.index"
    OPCODE: ClassVar[str] = "index"
    input = operand_def(TensorType)
    indices = var_operand_def(TensorType)
    result = result_def(TensorType)
    indexed_dims = attr_def(DenseArrayBase)
    assembly_format = "$input `[` $indices `]` attr-dict `:` `(` type($input) `,` type($indices) `)` `->` type($result)"

    def verify_(self) -> None:
        dims = list(self.indexed_dims.get_values())
        rank = len(shape_of(self.input.type))
        require(len(dims) == len(self.indices) >= 1, "rgraph.index: one index tensor per indexed dim")
        require(dims == sorted(set(dims)) and all(0 <= d < rank for d in dims), "rgraph.index: indexed dims must be increasing and in range")
        for idx in self.indices:
            require(dtype_of(idx.type) in ("i64", "i32"), "rgraph.index: indices must be i64 or i32")
        broadcast_shapes(*[shape_of(i.type) for i in self.indices])


class TriangleOp(GraphOp):
    input = operand_def(TensorType)
    result = result_def(TensorType)
    diagonal = attr_def(IntegerAttr)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def verify_(self) -> None:
        require(len(shape_of(self.input.type)) >= 2, f"{self.name}: input must have rank >= 2")
        require(self.result.type == self.input.type, f"{self.name}: result type must equal input type")


TRIANGLE_OPS = _family(TriangleOp, ["triu", "tril"])


# --- sources ----------------------------------------------------------------------------------


@irdl_op_definition
class FullOp(GraphOp):
    """A tensor filled with one value (scalars are rank-0 fulls)."""

    name = "rgraph.full"
    OPCODE: ClassVar[str] = "full"
    value = attr_def(Attribute)
    result = result_def(TensorType)
    assembly_format = "attr-dict `:` type($result)"

    def verify_(self) -> None:
        require(isinstance(self.value, (IntegerAttr, FloatAttr)), "rgraph.full: value must be an integer or float attribute")


@irdl_op_definition
class ArangeOp(GraphOp):
    name = "rgraph.arange"
    OPCODE: ClassVar[str] = "arange"
    start = attr_def(Attribute)
    step = attr_def(Attribute)
    result = result_def(TensorType)
    assembly_format = "attr-dict `:` type($result)"

    def verify_(self) -> None:
        require(len(_result_shape(self)) == 1, "rgraph.arange: result must be 1-D")


@irdl_op_definition
class WeightOp(IRDLOperation):
    """A named tensor (parameter, buffer, constant). Its bytes are a module resource (`value`),
    absent when the model lives on the meta device and only shapes are known."""

    name = "rgraph.weight"
    sym_name = attr_def(StringAttr)
    value = opt_prop_def(DenseResourceAttr)
    result = result_def(TensorType)
    assembly_format = "$sym_name attr-dict `:` type($result)"
    irdl_options = (ParsePropInAttrDict(),)
    traits = traits_def(Pure())

    def verify_(self) -> None:
        if self.value is not None:
            require(self.value.type == self.result.type,
                    f"rgraph.weight: value has type {self.value.type}, the result {self.result.type}")

    def data(self) -> bytes | None:
        """The weight's bytes, or None for a shapes-only weight."""
        return None if self.value is None else resource_bytes(self.value)


RGraph = Dialect(
    "rgraph",
    [
        *UNARY_OPS, *BINARY_OPS, *COMPARE_OPS, *REDUCE_OPS, *ALONG_DIM_OPS, *TRIANGLE_OPS,
        IsnanOp, CastOp, GeluOp, DivOp, WhereOp, ArgmaxOp, TopkOp, MatmulOp, LinearOp,
        ReshapeOp, ExpandOp, PermuteOp, SliceOp, ConcatOp, GatherOp, IndexSelectOp, EmbeddingOp, IndexOp,
        FullOp, ArangeOp, WeightOp,
    ],
    [],
)

OPS_BY_NAME: dict[str, type[IRDLOperation]] = {op.name: op for op in RGraph.operations}
