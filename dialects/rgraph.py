"""`rgraph`: the graph-level dialect, tensor operations as imported from PyTorch.

Every op is value-semantic on statically shaped tensors and is a class of its own here, built with
a typed constructor (`AddOp(lhs, rhs, result_type)`, `SoftmaxOp(x, dim=-1)`). Each names the
instruction-set opcode that executes it (`OPCODE`), and its inherent data are properties whose
names are the opcode's parameter names, so lowering to the hardware dialect copies them
(`param_attributes()`) with no per-op code. Verifiers check every op against the instruction set's
signature of its opcode (`bitstream_format.signatures`), the same table `rdu.compute` is checked
against, so the two levels cannot disagree about what is well typed.

Properties print inside the attribute dictionary (`{dim = 0 : i64}`), as MLIR's declarative
assembly format does for inherent attributes. The model line an op comes from is its location,
`loc("model.py":14:0)`, printed with the printer's debug info.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from xdsl.dialects.builtin import (
    I64,
    BoolAttr,
    DenseArrayBase,
    DenseResourceAttr,
    FileLineColLoc,
    NameLoc,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    StringAttr,
    TensorType,
    UnitAttr,
    f64,
    i64,
)
from xdsl.ir import Attribute, Dialect, Operation, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    ParsePropInAttrDict,
    irdl_op_definition,
    lazy_traits_def,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.pattern_rewriter import PatternRewriter, RewritePattern
from xdsl.traits import HasCanonicalizationPatternsTrait, MemoryWriteEffect, Pure
from xdsl.utils.exceptions import VerifyException

from bitstream_format.signatures import check_signature
from dialects.resources import resource_bytes
from dialects.shard_attr import ShardAttr
from dialects.types import dtype_of, shape_of, specs_of, tensor_type


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


def require(cond: bool, message: str) -> None:
    """Verifier helper: raise VerifyException(message) unless `cond`."""
    if not cond:
        raise VerifyException(message)


# --- Python values as attributes (what the typed constructors take) ---------------------------


def int_attr(value: int) -> IntegerAttr:
    return IntegerAttr(int(value), i64)


def bool_attr(value: bool) -> IntegerAttr:
    return IntegerAttr(int(bool(value)), IntegerType(1))


def ints_attr(values: Sequence[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, [int(v) for v in values])


def number_attr(value: int | float | bool) -> IntegerAttr | FloatAttr:
    """An int (or bool) as an i64 attribute, a float as an f64 one."""
    return FloatAttr(float(value), f64) if isinstance(value, float) else IntegerAttr(int(value), i64)


I64Attr = IntegerAttr[I64]
I64Array = DenseArrayBase.constr(i64)
Number = IntegerAttr | FloatAttr


# --- the base class ---------------------------------------------------------------------------


class GraphOp(IRDLOperation):
    """Base of the compute ops: knows its opcode, exposes its parameters, verifies against the ISA."""

    OPCODE: ClassVar[str]
    traits = traits_def(Pure())
    irdl_options = (ParsePropInAttrDict(),)

    def param_attributes(self) -> dict[str, Attribute]:
        """The opcode's parameters as attributes: exactly the op's properties."""
        return dict(sorted(self.properties.items()))

    def params(self) -> dict[str, Any]:
        """The opcode's parameters as plain values."""
        return {k: attr_value(v) for k, v in self.param_attributes().items()}

    def source(self) -> str:
        """The model line that produced this op, "file.py:LINE", from its location (empty when unknown)."""
        loc = self.location.location if isinstance(self.location, NameLoc) else self.location
        return f"{loc.filename.data}:{loc.line.data}" if isinstance(loc, FileLineColLoc) else ""

    def operand_shapes(self) -> list[tuple[int, ...]]:
        return [shape_of(o.type) for o in self.operands]

    def verify_(self) -> None:
        try:
            check_signature(
                self.OPCODE, self.params(),
                specs_of(self.operands),
                specs_of(self.results),
            )
        except ValueError as exc:  # SignatureError, or an element type the bitstream lacks
            message = str(exc)
            if message.startswith(self.OPCODE):
                message = self.name + message[len(self.OPCODE):]
            raise VerifyException(message if message.startswith(self.name) else f"{self.name}: {message}") from None


def _props(**values: Attribute | None) -> dict[str, Attribute]:
    return {k: v for k, v in values.items() if v is not None}


# --- elementwise ------------------------------------------------------------------------------


class UnaryOp(GraphOp):
    """One tensor in, one out of the same shape; the result type defaults to the input's."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, result_type: Attribute | None = None,  # noqa: A002
                 properties: dict[str, Attribute] | None = None):
        value = SSAValue.get(input)
        super().__init__(operands=[value], result_types=[result_type or value.type], properties=properties or {})




@irdl_op_definition
class NegOp(UnaryOp):
    name = "rgraph.neg"
    OPCODE: ClassVar[str] = "neg"
    traits = lazy_traits_def(lambda: (NegCanonicalization(),))


@irdl_op_definition
class AbsOp(UnaryOp):
    name = "rgraph.abs"
    OPCODE: ClassVar[str] = "abs"


@irdl_op_definition
class ExpOp(UnaryOp):
    name = "rgraph.exp"
    OPCODE: ClassVar[str] = "exp"


@irdl_op_definition
class LogOp(UnaryOp):
    name = "rgraph.log"
    OPCODE: ClassVar[str] = "log"


@irdl_op_definition
class SqrtOp(UnaryOp):
    name = "rgraph.sqrt"
    OPCODE: ClassVar[str] = "sqrt"


@irdl_op_definition
class RsqrtOp(UnaryOp):
    name = "rgraph.rsqrt"
    OPCODE: ClassVar[str] = "rsqrt"


@irdl_op_definition
class ReciprocalOp(UnaryOp):
    name = "rgraph.reciprocal"
    OPCODE: ClassVar[str] = "reciprocal"


@irdl_op_definition
class TanhOp(UnaryOp):
    name = "rgraph.tanh"
    OPCODE: ClassVar[str] = "tanh"


@irdl_op_definition
class SigmoidOp(UnaryOp):
    name = "rgraph.sigmoid"
    OPCODE: ClassVar[str] = "sigmoid"


@irdl_op_definition
class ReluOp(UnaryOp):
    name = "rgraph.relu"
    OPCODE: ClassVar[str] = "relu"


@irdl_op_definition
class SiluOp(UnaryOp):
    name = "rgraph.silu"
    OPCODE: ClassVar[str] = "silu"


@irdl_op_definition
class SinOp(UnaryOp):
    name = "rgraph.sin"
    OPCODE: ClassVar[str] = "sin"


@irdl_op_definition
class CosOp(UnaryOp):
    name = "rgraph.cos"
    OPCODE: ClassVar[str] = "cos"


@irdl_op_definition
class ErfOp(UnaryOp):
    name = "rgraph.erf"
    OPCODE: ClassVar[str] = "erf"


@irdl_op_definition
class FloorOp(UnaryOp):
    name = "rgraph.floor"
    OPCODE: ClassVar[str] = "floor"


@irdl_op_definition
class CeilOp(UnaryOp):
    name = "rgraph.ceil"
    OPCODE: ClassVar[str] = "ceil"


@irdl_op_definition
class LogicalNotOp(UnaryOp):
    name = "rgraph.logical_not"
    OPCODE: ClassVar[str] = "logical_not"


@irdl_op_definition
class BitwiseNotOp(UnaryOp):
    name = "rgraph.bitwise_not"
    OPCODE: ClassVar[str] = "bitwise_not"


@irdl_op_definition
class IsnanOp(UnaryOp):
    """Elementwise NaN test: an i1 tensor of the input's shape."""

    name = "rgraph.isnan"
    OPCODE: ClassVar[str] = "isnan"

    def __init__(self, input: SSAValue | Operation):  # noqa: A002
        value = SSAValue.get(input)
        super().__init__(value, tensor_type("i1", shape_of(value.type)))


@irdl_op_definition
class CastOp(UnaryOp):
    """Dtype conversion: the result type names the target dtype."""

    name = "rgraph.cast"
    OPCODE: ClassVar[str] = "cast"
    traits = lazy_traits_def(lambda: (LayoutCanonicalization(),))

    def __init__(self, input: SSAValue | Operation, dtype: str):  # noqa: A002
        value = SSAValue.get(input)
        super().__init__(value, tensor_type(dtype, shape_of(value.type)))


@irdl_op_definition
class GeluOp(UnaryOp):
    """GELU, exact (`approximate = "none"`) or with the tanh approximation (`"tanh"`)."""

    name = "rgraph.gelu"
    OPCODE: ClassVar[str] = "gelu"
    approximate = prop_def(StringAttr)  # "none" or "tanh", checked against the ISA's choices

    def __init__(self, input: SSAValue | Operation, approximate: str = "none"):  # noqa: A002
        super().__init__(input, properties={"approximate": StringAttr(approximate)})


class BinaryOp(GraphOp):
    """Two tensors in, broadcast like NumPy; the result type is given (comparisons give i1)."""

    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    assembly_format = "$lhs `,` $rhs attr-dict `:` `(` type($lhs) `,` type($rhs) `)` `->` type($result)"

    def __init__(self, lhs: SSAValue | Operation, rhs: SSAValue | Operation, result_type: Attribute,
                 properties: dict[str, Attribute] | None = None):
        super().__init__(operands=[lhs, rhs], result_types=[result_type], properties=properties or {})


@irdl_op_definition
class AddOp(BinaryOp):
    name = "rgraph.add"
    OPCODE: ClassVar[str] = "add"


@irdl_op_definition
class SubOp(BinaryOp):
    name = "rgraph.sub"
    OPCODE: ClassVar[str] = "sub"


@irdl_op_definition
class MulOp(BinaryOp):
    name = "rgraph.mul"
    OPCODE: ClassVar[str] = "mul"


@irdl_op_definition
class DivOp(BinaryOp):
    """True division, or rounded (`rounding_mode` "trunc" or "floor"; absent or "" for none)."""

    name = "rgraph.div"
    OPCODE: ClassVar[str] = "div"
    rounding_mode = opt_prop_def(StringAttr)

    def __init__(self, lhs: SSAValue | Operation, rhs: SSAValue | Operation, result_type: Attribute,
                 rounding_mode: str | None = None):
        super().__init__(lhs, rhs, result_type, _props(rounding_mode=StringAttr(rounding_mode) if rounding_mode else None))


@irdl_op_definition
class PowOp(BinaryOp):
    name = "rgraph.pow"
    OPCODE: ClassVar[str] = "pow"


@irdl_op_definition
class MaximumOp(BinaryOp):
    name = "rgraph.maximum"
    OPCODE: ClassVar[str] = "maximum"


@irdl_op_definition
class MinimumOp(BinaryOp):
    name = "rgraph.minimum"
    OPCODE: ClassVar[str] = "minimum"


@irdl_op_definition
class RemainderOp(BinaryOp):
    name = "rgraph.remainder"
    OPCODE: ClassVar[str] = "remainder"


@irdl_op_definition
class FloorDivideOp(BinaryOp):
    name = "rgraph.floor_divide"
    OPCODE: ClassVar[str] = "floor_divide"


@irdl_op_definition
class LogicalAndOp(BinaryOp):
    name = "rgraph.logical_and"
    OPCODE: ClassVar[str] = "logical_and"


@irdl_op_definition
class LogicalOrOp(BinaryOp):
    name = "rgraph.logical_or"
    OPCODE: ClassVar[str] = "logical_or"


@irdl_op_definition
class BitwiseAndOp(BinaryOp):
    name = "rgraph.bitwise_and"
    OPCODE: ClassVar[str] = "bitwise_and"


@irdl_op_definition
class BitwiseOrOp(BinaryOp):
    name = "rgraph.bitwise_or"
    OPCODE: ClassVar[str] = "bitwise_or"


@irdl_op_definition
class BitwiseXorOp(BinaryOp):
    name = "rgraph.bitwise_xor"
    OPCODE: ClassVar[str] = "bitwise_xor"


@irdl_op_definition
class EqOp(BinaryOp):
    name = "rgraph.eq"
    OPCODE: ClassVar[str] = "eq"


@irdl_op_definition
class NeOp(BinaryOp):
    name = "rgraph.ne"
    OPCODE: ClassVar[str] = "ne"


@irdl_op_definition
class LtOp(BinaryOp):
    name = "rgraph.lt"
    OPCODE: ClassVar[str] = "lt"


@irdl_op_definition
class LeOp(BinaryOp):
    name = "rgraph.le"
    OPCODE: ClassVar[str] = "le"


@irdl_op_definition
class GtOp(BinaryOp):
    name = "rgraph.gt"
    OPCODE: ClassVar[str] = "gt"


@irdl_op_definition
class GeOp(BinaryOp):
    name = "rgraph.ge"
    OPCODE: ClassVar[str] = "ge"


@irdl_op_definition
class WhereOp(GraphOp):
    """cond ? lhs : rhs, elementwise with broadcasting; cond is i1."""

    name = "rgraph.where"
    OPCODE: ClassVar[str] = "where"
    cond = operand_def(TensorType)
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    assembly_format = "$cond `,` $lhs `,` $rhs attr-dict `:` `(` type($cond) `,` type($lhs) `,` type($rhs) `)` `->` type($result)"

    def __init__(self, cond: SSAValue | Operation, lhs: SSAValue | Operation, rhs: SSAValue | Operation,
                 result_type: Attribute):
        super().__init__(operands=[cond, lhs, rhs], result_types=[result_type])


# --- reductions -------------------------------------------------------------------------------


class ReduceOp(GraphOp):
    """Reduction over `dims` (all dims when empty), keeping them as size 1 when `keepdim`."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    dims = prop_def(I64Array)
    keepdim = prop_def(BoolAttr)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, dims: Sequence[int], keepdim: bool, result_type: Attribute):  # noqa: A002
        super().__init__(operands=[input], result_types=[result_type],
                         properties={"dims": ints_attr(dims), "keepdim": bool_attr(keepdim)})


@irdl_op_definition
class SumOp(ReduceOp):
    name = "rgraph.sum"
    OPCODE: ClassVar[str] = "sum"


@irdl_op_definition
class MeanOp(ReduceOp):
    name = "rgraph.mean"
    OPCODE: ClassVar[str] = "mean"


@irdl_op_definition
class AmaxOp(ReduceOp):
    name = "rgraph.amax"
    OPCODE: ClassVar[str] = "amax"


@irdl_op_definition
class AminOp(ReduceOp):
    name = "rgraph.amin"
    OPCODE: ClassVar[str] = "amin"


@irdl_op_definition
class ProdOp(ReduceOp):
    name = "rgraph.prod"
    OPCODE: ClassVar[str] = "prod"


@irdl_op_definition
class ArgmaxOp(GraphOp):
    """Index (i64) of the largest element along `dim`, or of the flattened input without one."""

    name = "rgraph.argmax"
    OPCODE: ClassVar[str] = "argmax"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    dim = opt_prop_def(I64Attr)
    keepdim = prop_def(BoolAttr)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, dim: int | None, keepdim: bool, result_type: Attribute):  # noqa: A002
        super().__init__(operands=[input], result_types=[result_type],
                         properties=_props(dim=None if dim is None else int_attr(dim), keepdim=bool_attr(keepdim)))


class AlongDimOp(GraphOp):
    """Ops that act along one dimension and keep the shape (softmax, cumsum)."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    dim = prop_def(I64Attr)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, dim: int, result_type: Attribute | None = None):  # noqa: A002
        value = SSAValue.get(input)
        super().__init__(operands=[value], result_types=[result_type or value.type], properties={"dim": int_attr(dim)})


@irdl_op_definition
class SoftmaxOp(AlongDimOp):
    name = "rgraph.softmax"
    OPCODE: ClassVar[str] = "softmax"


@irdl_op_definition
class LogSoftmaxOp(AlongDimOp):
    name = "rgraph.log_softmax"
    OPCODE: ClassVar[str] = "log_softmax"


@irdl_op_definition
class CumsumOp(AlongDimOp):
    name = "rgraph.cumsum"
    OPCODE: ClassVar[str] = "cumsum"


@irdl_op_definition
class TopkOp(GraphOp):
    """The k largest (or smallest) along `dim`: values, and their i64 indices."""

    name = "rgraph.topk"
    OPCODE: ClassVar[str] = "topk"
    input = operand_def(TensorType)
    values = result_def(TensorType)
    indices = result_def(TensorType)
    k = prop_def(I64Attr)
    dim = prop_def(I64Attr)
    largest = prop_def(BoolAttr)
    sorted = prop_def(BoolAttr)
    assembly_format = "$input attr-dict `:` type($input) `->` type($values) `,` type($indices)"

    def __init__(self, input: SSAValue | Operation, k: int, dim: int, largest: bool, sorted: bool,  # noqa: A002
                 values_type: Attribute, indices_type: Attribute):
        super().__init__(operands=[input], result_types=[values_type, indices_type], properties={
            "k": int_attr(k), "dim": int_attr(dim), "largest": bool_attr(largest), "sorted": bool_attr(sorted)})


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

    def __init__(self, lhs: SSAValue | Operation, rhs: SSAValue | Operation, result_type: Attribute):
        super().__init__(operands=[lhs, rhs], result_types=[result_type])


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

    def __init__(self, input: SSAValue | Operation, weight: SSAValue | Operation,  # noqa: A002
                 bias: SSAValue | Operation | None, result_type: Attribute):
        super().__init__(operands=[input, weight, [] if bias is None else [bias]], result_types=[result_type])


# --- layout -----------------------------------------------------------------------------------


class ResultShapedOp(GraphOp):
    """Ops whose only parameter is the result's shape, which lives in the result type; the
    instruction takes it as a `shape` parameter."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, result_type: Attribute):  # noqa: A002
        super().__init__(operands=[input], result_types=[result_type])

    def param_attributes(self) -> dict[str, Attribute]:
        return super().param_attributes() | {"shape": ints_attr(shape_of(self.result.type))}


@irdl_op_definition
class ReshapeOp(ResultShapedOp):
    name = "rgraph.reshape"
    OPCODE: ClassVar[str] = "reshape"
    traits = lazy_traits_def(lambda: (ReshapeCanonicalization(),))


@irdl_op_definition
class ExpandOp(ResultShapedOp):
    """Broadcast to the result shape (a view in PyTorch, a replaying address pattern here)."""

    name = "rgraph.expand"
    OPCODE: ClassVar[str] = "expand"
    traits = lazy_traits_def(lambda: (LayoutCanonicalization(),))


@irdl_op_definition
class PermuteOp(GraphOp):
    name = "rgraph.permute"
    OPCODE: ClassVar[str] = "permute"
    traits = lazy_traits_def(lambda: (LayoutCanonicalization(),))
    input = operand_def(TensorType)
    result = result_def(TensorType)
    dims = prop_def(I64Array)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, dims: Sequence[int], result_type: Attribute):  # noqa: A002
        super().__init__(operands=[input], result_types=[result_type], properties={"dims": ints_attr(dims)})


@irdl_op_definition
class SliceOp(GraphOp):
    """input[start:end:step] along `dim`, bounds normalised (0 <= start <= end <= size, step > 0)."""

    name = "rgraph.slice"
    OPCODE: ClassVar[str] = "slice"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    dim = prop_def(I64Attr)
    start = prop_def(I64Attr)
    end = prop_def(I64Attr)
    step = prop_def(I64Attr)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, dim: int, start: int, end: int, step: int,  # noqa: A002
                 result_type: Attribute):
        super().__init__(operands=[input], result_types=[result_type], properties={
            "dim": int_attr(dim), "start": int_attr(start), "end": int_attr(end), "step": int_attr(step)})


@irdl_op_definition
class ConcatOp(GraphOp):
    name = "rgraph.concat"
    OPCODE: ClassVar[str] = "concat"
    inputs = var_operand_def(TensorType)
    result = result_def(TensorType)
    dim = prop_def(I64Attr)
    assembly_format = "$inputs attr-dict `:` `(` type($inputs) `)` `->` type($result)"

    def __init__(self, inputs: Sequence[SSAValue | Operation], dim: int, result_type: Attribute):
        super().__init__(operands=[list(inputs)], result_types=[result_type], properties={"dim": int_attr(dim)})


class IndexingOp(GraphOp):
    """A tensor and one index tensor (i64 or i32)."""

    input = operand_def(TensorType)
    index = operand_def(TensorType)
    result = result_def(TensorType)
    assembly_format = "$input `,` $index attr-dict `:` `(` type($input) `,` type($index) `)` `->` type($result)"


@irdl_op_definition
class GatherOp(IndexingOp):
    """torch.gather: out[i][j] = input[index[i][j]][j] along `dim`."""

    name = "rgraph.gather"
    OPCODE: ClassVar[str] = "gather"
    dim = prop_def(I64Attr)

    def __init__(self, input: SSAValue | Operation, index: SSAValue | Operation, dim: int, result_type: Attribute):  # noqa: A002
        super().__init__(operands=[input, index], result_types=[result_type], properties={"dim": int_attr(dim)})


@irdl_op_definition
class IndexSelectOp(IndexingOp):
    """Whole slices of `input` at a 1-D list of positions along `dim`."""

    name = "rgraph.index_select"
    OPCODE: ClassVar[str] = "index_select"
    dim = prop_def(I64Attr)

    def __init__(self, input: SSAValue | Operation, index: SSAValue | Operation, dim: int, result_type: Attribute):  # noqa: A002
        super().__init__(operands=[input, index], result_types=[result_type], properties={"dim": int_attr(dim)})


@irdl_op_definition
class EmbeddingOp(IndexingOp):
    """Row lookup weight[ids]: a PMU lookup table."""

    name = "rgraph.embedding"
    OPCODE: ClassVar[str] = "embedding"

    def __init__(self, weight: SSAValue | Operation, ids: SSAValue | Operation, result_type: Attribute):
        super().__init__(operands=[weight, ids], result_types=[result_type])


@irdl_op_definition
class IndexOp(GraphOp):
    """Advanced indexing x[i0, :, i2]: index tensors on `indexed_dims`, whole slices elsewhere,
    with NumPy's (and PyTorch's) rules for where the broadcast index dimensions go."""

    name = "rgraph.index"
    OPCODE: ClassVar[str] = "index"
    input = operand_def(TensorType)
    indices = var_operand_def(TensorType)
    result = result_def(TensorType)
    indexed_dims = prop_def(I64Array)
    assembly_format = "$input `[` $indices `]` attr-dict `:` `(` type($input) `,` type($indices) `)` `->` type($result)"

    def __init__(self, input: SSAValue | Operation, indices: Sequence[SSAValue | Operation],  # noqa: A002
                 indexed_dims: Sequence[int], result_type: Attribute):
        super().__init__(operands=[input, list(indices)], result_types=[result_type],
                         properties={"indexed_dims": ints_attr(indexed_dims)})


class TriangleOp(GraphOp):
    """Keep the upper (triu) or lower (tril) triangle of the last two dims, from `diagonal` on."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    diagonal = prop_def(I64Attr)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, diagonal: int = 0):  # noqa: A002
        value = SSAValue.get(input)
        super().__init__(operands=[value], result_types=[value.type], properties={"diagonal": int_attr(diagonal)})


@irdl_op_definition
class TriuOp(TriangleOp):
    name = "rgraph.triu"
    OPCODE: ClassVar[str] = "triu"


@irdl_op_definition
class TrilOp(TriangleOp):
    name = "rgraph.tril"
    OPCODE: ClassVar[str] = "tril"


# --- vision, sorting and scatter ----------------------------------------------------------------


@irdl_op_definition
class Im2colOp(GraphOp):
    """The sliding windows of an (N, C, *spatial) input laid out as GEMM columns
    (N, groups, C/groups * prod(kernel), prod(output spatial)): the PMU address pattern that turns a
    convolution into a matmul (implicit GEMM) and a pooling into a reduction. Padding reads zero,
    or the dtype's lowest value (`pad_with = "lowest"`, for max pooling)."""

    name = "rgraph.im2col"
    OPCODE: ClassVar[str] = "im2col"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    kernel = prop_def(I64Array)
    stride = prop_def(I64Array)
    padding = prop_def(I64Array)
    dilation = prop_def(I64Array)
    groups = prop_def(I64Attr)
    pad_with = prop_def(StringAttr)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"

    def __init__(self, input: SSAValue | Operation, kernel: Sequence[int], stride: Sequence[int],  # noqa: A002
                 padding: Sequence[int], dilation: Sequence[int], groups: int, result_type: Attribute,
                 pad_with: str = "zero"):
        super().__init__(operands=[input], result_types=[result_type], properties={
            "kernel": ints_attr(kernel), "stride": ints_attr(stride), "padding": ints_attr(padding),
            "dilation": ints_attr(dilation), "groups": int_attr(groups), "pad_with": StringAttr(pad_with)})


@irdl_op_definition
class BatchNormOp(GraphOp):
    """Batch norm in eval mode over channel dim 1: (x - mean) * rsqrt(var + eps) * weight + bias.
    Canonicalization folds it into a preceding implicit-GEMM convolution."""

    name = "rgraph.batch_norm"
    OPCODE: ClassVar[str] = "batch_norm"
    traits = lazy_traits_def(lambda: (BatchNormCanonicalization(),))
    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = operand_def(TensorType)
    running_mean = operand_def(TensorType)
    running_var = operand_def(TensorType)
    result = result_def(TensorType)
    eps = prop_def(FloatAttr)
    assembly_format = ("$input `,` $weight `,` $bias `,` $running_mean `,` $running_var attr-dict `:` `(` type($input) `,` "
                       "type($weight) `,` type($bias) `,` type($running_mean) `,` type($running_var) `)` `->` type($result)")

    def __init__(self, input: SSAValue | Operation, weight: SSAValue | Operation, bias: SSAValue | Operation,  # noqa: A002
                 running_mean: SSAValue | Operation, running_var: SSAValue | Operation, eps: float):
        value = SSAValue.get(input)
        super().__init__(operands=[value, weight, bias, running_mean, running_var], result_types=[value.type],
                         properties={"eps": FloatAttr(float(eps), f64)})


@irdl_op_definition
class SortOp(GraphOp):
    """Sorted values along `dim` and their i64 source positions (ties in index order when `stable`)."""

    name = "rgraph.sort"
    OPCODE: ClassVar[str] = "sort"
    input = operand_def(TensorType)
    values = result_def(TensorType)
    indices = result_def(TensorType)
    dim = prop_def(I64Attr)
    descending = prop_def(BoolAttr)
    stable = prop_def(BoolAttr)
    assembly_format = "$input attr-dict `:` type($input) `->` type($values) `,` type($indices)"

    def __init__(self, input: SSAValue | Operation, dim: int, descending: bool, stable: bool = True):  # noqa: A002
        value = SSAValue.get(input)
        super().__init__(operands=[value], result_types=[value.type, tensor_type("i64", shape_of(value.type))], properties={
            "dim": int_attr(dim), "descending": bool_attr(descending), "stable": bool_attr(stable)})


@irdl_op_definition
class SliceScatterOp(GraphOp):
    """`input` with input[start:end:step] along `dim` replaced by `src` (bounds normalised as slice's)."""

    name = "rgraph.slice_scatter"
    OPCODE: ClassVar[str] = "slice_scatter"
    input = operand_def(TensorType)
    src = operand_def(TensorType)
    result = result_def(TensorType)
    dim = prop_def(I64Attr)
    start = prop_def(I64Attr)
    end = prop_def(I64Attr)
    step = prop_def(I64Attr)
    assembly_format = "$input `,` $src attr-dict `:` `(` type($input) `,` type($src) `)` `->` type($result)"

    def __init__(self, input: SSAValue | Operation, src: SSAValue | Operation, dim: int, start: int, end: int,  # noqa: A002
                 step: int):
        value = SSAValue.get(input)
        super().__init__(operands=[value, src], result_types=[value.type], properties={
            "dim": int_attr(dim), "start": int_attr(start), "end": int_attr(end), "step": int_attr(step)})


@irdl_op_definition
class IndexPutOp(GraphOp):
    """input[i0, :, i2] = values (`accumulate`: +=), index tensors on `indexed_dims` as rgraph.index reads them."""

    name = "rgraph.index_put"
    OPCODE: ClassVar[str] = "index_put"
    input = operand_def(TensorType)
    values = operand_def(TensorType)
    indices = var_operand_def(TensorType)
    result = result_def(TensorType)
    indexed_dims = prop_def(I64Array)
    accumulate = prop_def(BoolAttr)
    assembly_format = ("$input `[` $indices `]` `,` $values attr-dict `:` `(` type($input) `,` type($values) `,` "
                       "type($indices) `)` `->` type($result)")

    def __init__(self, input: SSAValue | Operation, indices: Sequence[SSAValue | Operation],  # noqa: A002
                 indexed_dims: Sequence[int], values: SSAValue | Operation, accumulate: bool):
        value = SSAValue.get(input)
        super().__init__(operands=[value, values, list(indices)], result_types=[value.type], properties={
            "indexed_dims": ints_attr(indexed_dims), "accumulate": bool_attr(accumulate)})


@irdl_op_definition
class ScatterOp(GraphOp):
    """torch.scatter along `dim`: out[..., index[i][j], ...] = src[i][j] (`reduce = "add"`: +=)."""

    name = "rgraph.scatter"
    OPCODE: ClassVar[str] = "scatter"
    input = operand_def(TensorType)
    index = operand_def(TensorType)
    src = operand_def(TensorType)
    result = result_def(TensorType)
    dim = prop_def(I64Attr)
    reduce = prop_def(StringAttr)
    assembly_format = "$input `,` $index `,` $src attr-dict `:` `(` type($input) `,` type($index) `,` type($src) `)` `->` type($result)"

    def __init__(self, input: SSAValue | Operation, dim: int, index: SSAValue | Operation,  # noqa: A002
                 src: SSAValue | Operation, reduce: str = "none"):
        value = SSAValue.get(input)
        super().__init__(operands=[value, index, src], result_types=[value.type],
                         properties={"dim": int_attr(dim), "reduce": StringAttr(reduce)})


@irdl_op_definition
class MathOp(UnaryOp):
    """An elementwise function of the PCU tail (`fn`: log1p, asin, round, ...; the ISA's
    MATH_FUNCTIONS): one op and opcode for the long tail of PyTorch's unary functions."""

    name = "rgraph.math"
    OPCODE: ClassVar[str] = "math"
    fn = prop_def(StringAttr)

    def __init__(self, input: SSAValue | Operation, fn: str, result_type: Attribute | None = None):  # noqa: A002
        super().__init__(input, result_type, properties={"fn": StringAttr(fn)})


# --- sources ----------------------------------------------------------------------------------


@irdl_op_definition
class FullOp(GraphOp):
    """A tensor filled with one value (scalars are rank-0 fulls)."""

    name = "rgraph.full"
    OPCODE: ClassVar[str] = "full"
    value = prop_def(Number)
    result = result_def(TensorType)
    assembly_format = "attr-dict `:` type($result)"

    def __init__(self, value: int | float | bool, result_type: Attribute):
        super().__init__(result_types=[result_type], properties={"value": number_attr(value)})


@irdl_op_definition
class ArangeOp(GraphOp):
    """start, start + step, ... up to (not including) end: a 1-D tensor of ceil((end - start) / step)."""

    name = "rgraph.arange"
    OPCODE: ClassVar[str] = "arange"
    start = prop_def(Number)
    end = prop_def(Number)
    step = prop_def(Number)
    result = result_def(TensorType)
    assembly_format = "attr-dict `:` type($result)"

    def __init__(self, start: int | float, end: int | float, step: int | float, result_type: Attribute):
        super().__init__(result_types=[result_type], properties={
            "start": number_attr(start), "end": number_attr(end), "step": number_attr(step)})


@irdl_op_definition
class WeightOp(IRDLOperation):
    """A named tensor (parameter, buffer, constant). Its bytes are a module resource (`value`),
    absent when the model lives on the meta device and only shapes are known."""

    name = "rgraph.weight"
    sym_name = prop_def(StringAttr)
    value = opt_prop_def(DenseResourceAttr)
    shard = opt_prop_def(ShardAttr)  # set by rdu-shard: the result is this socket's part of `value`
    # A buffer the program updates in place (`rgraph.update_rows`), e.g. a static KV cache: the
    # result is its value when the program starts; its memory persists between runs.
    mutable = opt_prop_def(UnitAttr)
    result = result_def(TensorType)
    assembly_format = "$sym_name attr-dict `:` type($result)"
    irdl_options = (ParsePropInAttrDict(),)
    traits = traits_def(Pure())

    def __init__(self, sym_name: str, result_type: Attribute, value: DenseResourceAttr | None = None,
                 mutable: bool = False):
        super().__init__(result_types=[result_type], properties=_props(
            sym_name=StringAttr(sym_name), value=value, mutable=UnitAttr() if mutable else None))

    @property
    def is_mutable(self) -> bool:
        return self.mutable is not None

    def verify_(self) -> None:
        if self.shard is not None:
            whole = self.value.type.get_shape() if self.value is not None else self.result.type.get_shape()
            if self.value is not None:
                self.shard.check(tuple(whole), tuple(self.result.type.get_shape()), "rgraph.weight")
        elif self.value is not None:
            require(self.value.type == self.result.type,
                    f"rgraph.weight: value has type {self.value.type}, the result {self.result.type}")

    def data(self) -> bytes | None:
        """The weight's bytes, or None for a shapes-only weight."""
        return None if self.value is None else resource_bytes(self.value)


# --- collectives (issue 12: tensor parallelism over a node's sockets) ---------------------------


class CollectiveOp(GraphOp):
    """A collective over the `sockets` sockets of a tensor-parallel group, inserted by `rdu-shard`.
    Every socket runs the same op on its own value; the result is the same on every socket."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    sockets = prop_def(I64Attr)
    assembly_format = "$input attr-dict `:` type($input) `->` type($result)"


@irdl_op_definition
class AllReduceOp(CollectiveOp):
    """The element-wise sum of every socket's value (the partial sums of a row-parallel matmul)."""

    name = "rgraph.all_reduce"
    OPCODE: ClassVar[str] = "all_reduce"

    def __init__(self, input: SSAValue | Operation, sockets: int):  # noqa: A002
        value = SSAValue.get(input)
        super().__init__(operands=[value], result_types=[value.type], properties={"sockets": int_attr(sockets)})


@irdl_op_definition
class AllGatherOp(CollectiveOp):
    """Every socket's part joined along `dim` in socket order (a split value made whole)."""

    name = "rgraph.all_gather"
    OPCODE: ClassVar[str] = "all_gather"
    dim = prop_def(I64Attr)

    def __init__(self, input: SSAValue | Operation, dim: int, sockets: int, result_type: Attribute):  # noqa: A002
        super().__init__(operands=[input], result_types=[result_type],
                         properties={"sockets": int_attr(sockets), "dim": int_attr(dim)})


@irdl_op_definition
class ReduceScatterOp(CollectiveOp):
    """The sum of every socket's value, of which socket s keeps part s along `dim`."""

    name = "rgraph.reduce_scatter"
    OPCODE: ClassVar[str] = "reduce_scatter"
    dim = prop_def(I64Attr)

    def __init__(self, input: SSAValue | Operation, dim: int, sockets: int, result_type: Attribute):  # noqa: A002
        super().__init__(operands=[input], result_types=[result_type],
                         properties={"sockets": int_attr(sockets), "dim": int_attr(dim)})


# --- in-place state updates (static KV cache) -------------------------------------------------


@irdl_op_definition
class UpdateRowsOp(GraphOp):
    """Write `rows` into the rows `index` (along `dim`) of the mutable buffer `state`, in the
    buffer's own memory: the in-place half of `index_copy_` / `index_put_` / slice assignment on a
    module buffer (a static KV cache's append). It has no result; the functional half (the
    updated value the model reads afterwards) is the `rgraph.index_put` / `rgraph.slice_scatter`
    merge next to it.

    Why the order of this write against reads of the buffer does not matter, so that neither
    the compiler nor the hardware must order them: the verifier allows the buffer's value to be
    read only by this op and by merges that replace exactly the rows written here (same index
    value, same dim). A read that lands before the write sees the old rows at `index`, one after
    sees the new rows; the merge overwrites those rows with `rows` either way, and every other row
    is the same in both."""

    name = "rgraph.update_rows"
    OPCODE: ClassVar[str] = "store_rows"
    state = operand_def(TensorType)
    index = operand_def(TensorType)
    rows = operand_def(TensorType)
    dim = prop_def(I64Attr)
    traits = traits_def(MemoryWriteEffect())
    assembly_format = ("$state `[` $index `]` `,` $rows attr-dict `:` `(` type($state) `,` type($index) `,` "
                       "type($rows) `)`")

    def __init__(self, state: SSAValue | Operation, dim: int, index: SSAValue | Operation, rows: SSAValue | Operation):
        super().__init__(operands=[state, index, rows], properties={"dim": int_attr(dim)})

    def verify_(self) -> None:
        super().verify_()
        owner = self.state.owner
        require(isinstance(owner, WeightOp) and owner.is_mutable,
                f"{self.name}: the state must be a mutable rgraph.weight, not {getattr(owner, 'name', 'a block argument')}")
        dim = self.dim.value.data % len(shape_of(self.state.type))
        for use in self.state.uses:
            reader = use.operation
            if reader is self:
                continue
            require(not isinstance(reader, UpdateRowsOp),
                    f"{self.name}: buffer {owner.sym_name.data!r} is updated twice in one program")
            require(_merges_rows(reader, self, dim),
                    f"{self.name}: buffer {owner.sym_name.data!r} is read by {reader.name}, which does not replace the "
                    f"rows this op writes; a mutable buffer may be read only through the merge of its update")


def _merges_rows(reader: Operation, update: UpdateRowsOp, dim: int) -> bool:
    """Whether `reader` takes the state as its input and replaces exactly the rows `update` writes."""
    if isinstance(reader, IndexPutOp):
        dims = [d % len(shape_of(update.state.type)) for d in reader.indexed_dims.get_values()]
        return (reader.input is update.state and list(reader.indices) == [update.index] and dims == [dim]
                and not reader.accumulate.value.data)
    if isinstance(reader, SliceScatterOp):
        arange = update.index.owner
        return (reader.input is update.state and isinstance(arange, ArangeOp)
                and reader.dim.value.data % len(shape_of(update.state.type)) == dim and reader.step.value.data == 1
                and attr_value(arange.start) == reader.start.value.data and attr_value(arange.step) == 1
                and attr_value(arange.end) == reader.end.value.data)
    return False


# --- canonicalization patterns (xDSL's `canonicalize` applies them, then removes dead ops) ----


class FoldDoubleNegation(RewritePattern):
    """neg(neg(x)) -> x. The inner neg, if now unused, is removed by dead-code elimination."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /) -> None:
        if isinstance(op, NegOp) and isinstance(inner := op.input.owner, NegOp):
            rewriter.replace_op(op, [], [inner.input])


class FoldIdentityLayout(RewritePattern):
    """A reshape, expand or cast to the type it already has, or a permute that keeps every dim in
    place, is its input: each would otherwise cost a PMU or PCU stage."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /) -> None:
        if not isinstance(op, (ReshapeOp, ExpandOp, CastOp, PermuteOp)) or op.result.type != op.input.type:
            return
        if isinstance(op, PermuteOp) and list(op.dims.get_values()) != list(range(len(shape_of(op.input.type)))):
            return  # a square transpose keeps the type but not the data
        rewriter.replace_op(op, [], [op.input])


class ComposeReshapes(RewritePattern):
    """reshape(reshape(x)) -> reshape(x): only the final shape matters."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /) -> None:
        if isinstance(op, ReshapeOp) and isinstance(inner := op.input.owner, ReshapeOp):
            rewriter.replace_op(op, ReshapeOp(inner.input, op.result.type))


class FoldBatchNormIntoConvolution(RewritePattern):
    """batch_norm(conv(x)) -> conv'(x), as inference compilers fold it: with s = weight *
    rsqrt(var + eps), the normalisation is z * s + (bias - mean * s), and z * s is the implicit
    GEMM with its weight matrix rows scaled by s. What remains per activation is one bias add
    instead of a normalisation; the scaling runs on the (small) weights. The convolution is the
    shape the importer gives it: reshape(matmul(W, im2col(x))), optionally plus a (OC, 1, ..)
    bias; every intermediate must have no other reader."""

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter, /) -> None:
        if not isinstance(op, BatchNormOp):
            return
        z, conv_bias = op.input, None
        if isinstance(z.owner, AddOp) and _single_use(z):
            z, conv_bias = z.owner.lhs, z.owner.rhs
        if not (isinstance(z.owner, ReshapeOp) and _single_use(z)):
            return
        gemm = z.owner.input
        if not (isinstance(gemm.owner, MatmulOp) and _single_use(gemm) and isinstance(gemm.owner.rhs.owner, Im2colOp)):
            return
        out_shape = shape_of(op.result.type)
        channels, dtype = out_shape[1], dtype_of(op.result.type)
        per_channel = (channels,) + (1,) * (len(out_shape) - 2)
        if conv_bias is not None and shape_of(conv_bias.type) != per_channel:
            return
        matrix = gemm.owner.lhs
        groups, rows = shape_of(matrix.type)[0], shape_of(matrix.type)[1]
        if groups * rows != channels:
            return
        vec = tensor_type(dtype, (channels,))
        new: list[Operation] = []

        def emit(new_op: Operation) -> SSAValue:
            new.append(new_op)
            return new_op.results[0]

        shifted = emit(AddOp(op.running_var, emit(FullOp(op.eps.value.data, tensor_type(dtype, ()))), vec))
        scale = emit(MulOp(op.weight, emit(RsqrtOp(shifted)), vec))
        shift = emit(SubOp(op.bias, emit(MulOp(op.running_mean, scale, vec)), vec))
        scale_rows = emit(ReshapeOp(scale, tensor_type(dtype, (groups, rows, 1))))
        scaled_matrix = emit(MulOp(matrix, scale_rows, matrix.type))
        product = emit(MatmulOp(scaled_matrix, gemm.owner.rhs, gemm.type))
        conv = emit(ReshapeOp(product, op.result.type))
        shift = emit(ReshapeOp(shift, tensor_type(dtype, per_channel)))
        if conv_bias is not None:
            channel_type = tensor_type(dtype, per_channel)
            shift = emit(AddOp(emit(MulOp(conv_bias, emit(ReshapeOp(scale, channel_type)), channel_type)), shift, channel_type))
        emit(AddOp(conv, shift, op.result.type))
        rewriter.replace_op(op, new)


def _single_use(value: SSAValue) -> bool:
    return value.has_one_use()


class NegCanonicalization(HasCanonicalizationPatternsTrait):
    @classmethod
    def get_canonicalization_patterns(cls) -> tuple[RewritePattern, ...]:
        return (FoldDoubleNegation(),)


class LayoutCanonicalization(HasCanonicalizationPatternsTrait):
    @classmethod
    def get_canonicalization_patterns(cls) -> tuple[RewritePattern, ...]:
        return (FoldIdentityLayout(),)


class ReshapeCanonicalization(HasCanonicalizationPatternsTrait):
    @classmethod
    def get_canonicalization_patterns(cls) -> tuple[RewritePattern, ...]:
        return (FoldIdentityLayout(), ComposeReshapes())


class BatchNormCanonicalization(HasCanonicalizationPatternsTrait):
    @classmethod
    def get_canonicalization_patterns(cls) -> tuple[RewritePattern, ...]:
        return (FoldBatchNormIntoConvolution(),)


RGraph = Dialect(
    "rgraph",
    [
        NegOp, AbsOp, ExpOp, LogOp, SqrtOp, RsqrtOp, ReciprocalOp, TanhOp, SigmoidOp, ReluOp, SiluOp,
        SinOp, CosOp, ErfOp, FloorOp, CeilOp, LogicalNotOp, BitwiseNotOp, IsnanOp, CastOp, GeluOp,
        AddOp, SubOp, MulOp, DivOp, PowOp, MaximumOp, MinimumOp, RemainderOp, FloorDivideOp,
        LogicalAndOp, LogicalOrOp, BitwiseAndOp, BitwiseOrOp, BitwiseXorOp,
        EqOp, NeOp, LtOp, LeOp, GtOp, GeOp, WhereOp,
        SumOp, MeanOp, AmaxOp, AminOp, ProdOp, ArgmaxOp, SoftmaxOp, LogSoftmaxOp, CumsumOp, TopkOp,
        MatmulOp, LinearOp,
        ReshapeOp, ExpandOp, PermuteOp, SliceOp, ConcatOp, GatherOp, IndexSelectOp, EmbeddingOp, IndexOp,
        TriuOp, TrilOp,
        Im2colOp, BatchNormOp, SortOp, SliceScatterOp, IndexPutOp, ScatterOp, MathOp,
        FullOp, ArangeOp, WeightOp, UpdateRowsOp,
        AllReduceOp, AllGatherOp, ReduceScatterOp,
    ],
    [],
)

OPS_BY_NAME: dict[str, type[IRDLOperation]] = {op.name: op for op in RGraph.operations}
BY_OPCODE: dict[str, type[GraphOp]] = {op.OPCODE: op for op in RGraph.operations if issubclass(op, GraphOp)}
