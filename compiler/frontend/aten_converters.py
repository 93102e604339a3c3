"""ATen op -> rgraph translation, one small converter per op family.

Converters receive the importer, the FX node and the node's arguments. Result types always come
from the node's `meta['val']`, so PyTorch's own shape and dtype rules decide, and operand dtypes
are cast to the computation dtype here so that no later stage has to know type promotion.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Callable

import torch
from xdsl.ir import SSAValue

from dialects.diagnostics import UnsupportedOpError
from compiler.frontend.importer import GraphImporter, torch_dtype_name, weight_data
from dialects import rgraph
from dialects.resources import store_resource
from dialects.types import FLOAT_DTYPES, dtype_of, tensor_type

aten = torch.ops.aten
getitem = operator.getitem
Converter = Callable[..., Any]
CONVERTERS: dict[Any, Converter] = {}


def converts(*targets: Any) -> Callable[[Converter], Converter]:
    def register(fn: Converter) -> Converter:
        for t in targets:
            CONVERTERS[t] = fn
        return fn

    return register


def _meta(node: torch.fx.Node, index: int | None = None) -> tuple[str, tuple[int, ...]]:
    val = node.meta["val"]
    if index is not None:
        val = val[index]
    return torch_dtype_name(val.dtype), tuple(int(d) for d in val.shape)


def _type(node: torch.fx.Node, index: int | None = None):
    """The tensor type PyTorch gives the node's result (or its `index`-th result)."""
    return tensor_type(*_meta(node, index))


def _shape(v: SSAValue) -> tuple[int, ...]:
    return tuple(v.type.get_shape())


def _arg_dtype(arg: Any) -> torch.dtype | None:
    if isinstance(arg, torch.fx.Node):
        return arg.meta["val"].dtype
    return None


def _compute_dtype(*args: Any) -> str:
    """PyTorch's promotion of the operands (tensors and Python scalars)."""
    vals = [a.meta["val"] if isinstance(a, torch.fx.Node) else a for a in args]
    result = vals[0]
    dtype = torch.result_type(vals[0], vals[1]) if len(vals) > 1 else vals[0].dtype
    for extra in vals[2:]:
        dtype = torch.promote_types(dtype, torch.result_type(result, extra))
    return torch_dtype_name(dtype)


def accumulator_dtype(dtype: str) -> str:
    """Where a composition of several ops computes: f32 for bf16 and f16 (the PCU accumulates in
    f32, and PyTorch's CPU kernels for norms, variances and batched sums do too), else `dtype`."""
    return "f32" if dtype in ("bf16", "f16") else dtype


# --- elementwise ------------------------------------------------------------------------------

_UNARY = {
    aten.neg.default: rgraph.NegOp,
    aten.abs.default: rgraph.AbsOp,
    aten.exp.default: rgraph.ExpOp,
    aten.log.default: rgraph.LogOp,
    aten.sqrt.default: rgraph.SqrtOp,
    aten.rsqrt.default: rgraph.RsqrtOp,
    aten.reciprocal.default: rgraph.ReciprocalOp,
    aten.tanh.default: rgraph.TanhOp,
    aten.sigmoid.default: rgraph.SigmoidOp,
    aten.relu.default: rgraph.ReluOp,
    aten.silu.default: rgraph.SiluOp,
    aten.sin.default: rgraph.SinOp,
    aten.cos.default: rgraph.CosOp,
    aten.erf.default: rgraph.ErfOp,
    aten.floor.default: rgraph.FloorOp,
    aten.ceil.default: rgraph.CeilOp,
    aten.logical_not.default: rgraph.LogicalNotOp,
    aten.bitwise_not.default: rgraph.BitwiseNotOp,
}


@converts(*_UNARY)
def convert_unary(imp: GraphImporter, node: torch.fx.Node, x: Any, **_: Any) -> SSAValue:
    dtype, shape = _meta(node)
    op_cls = _UNARY[node.target]
    operand_dtype = "i1" if op_cls is rgraph.LogicalNotOp else dtype
    return imp.add(op_cls(imp.cast(imp.value(x, dtype), operand_dtype), tensor_type(dtype, shape)))


@converts(aten.isnan.default)
def convert_isnan(imp: GraphImporter, node: torch.fx.Node, x: Any) -> SSAValue:
    return imp.add(rgraph.IsnanOp(imp.values[x]))


@converts(aten.gelu.default)
def convert_gelu(imp: GraphImporter, node: torch.fx.Node, x: Any, approximate: str = "none") -> SSAValue:
    return imp.add(rgraph.GeluOp(imp.values[x], approximate))


def _binary(imp: GraphImporter, node: torch.fx.Node, name: str, a: Any, b: Any, rounding_mode: str | None = None) -> SSAValue:
    dtype, shape = _meta(node)
    compute = dtype if name not in ("eq", "ne", "lt", "le", "gt", "ge") else _compute_dtype(a, b)
    if name in ("logical_and", "logical_or"):
        compute = "i1"
    lhs = imp.cast(imp.value(a, compute), compute)
    rhs = imp.cast(imp.value(b, compute), compute)
    if name == "div":
        return imp.add(rgraph.DivOp(lhs, rhs, tensor_type(dtype, shape), rounding_mode))
    return imp.add(_BINARY_OPS[name](lhs, rhs, tensor_type(dtype, shape)))


_BINARY = {
    "add": (aten.add.Tensor, aten.add.Scalar),
    "sub": (aten.sub.Tensor, aten.sub.Scalar),
    "mul": (aten.mul.Tensor, aten.mul.Scalar),
    "pow": (aten.pow.Tensor_Tensor, aten.pow.Tensor_Scalar),
    "maximum": (aten.maximum.default,),
    "minimum": (aten.minimum.default,),
    "remainder": (aten.remainder.Tensor, aten.remainder.Scalar),
    "floor_divide": (aten.floor_divide.default,),
    "eq": (aten.eq.Tensor, aten.eq.Scalar),
    "ne": (aten.ne.Tensor, aten.ne.Scalar),
    "lt": (aten.lt.Tensor, aten.lt.Scalar),
    "le": (aten.le.Tensor, aten.le.Scalar),
    "gt": (aten.gt.Tensor, aten.gt.Scalar),
    "ge": (aten.ge.Tensor, aten.ge.Scalar),
    "logical_and": (aten.logical_and.default,),
    "logical_or": (aten.logical_or.default,),
    "bitwise_and": (aten.bitwise_and.Tensor, aten.bitwise_and.Scalar),
    "bitwise_or": (aten.bitwise_or.Tensor, aten.bitwise_or.Scalar),
    "bitwise_xor": (aten.bitwise_xor.Tensor, aten.bitwise_xor.Scalar),
}
_BINARY_BY_TARGET = {t: name for name, targets in _BINARY.items() for t in targets}
_BINARY_OPS: dict[str, type[rgraph.BinaryOp]] = {
    "add": rgraph.AddOp, "sub": rgraph.SubOp, "mul": rgraph.MulOp, "pow": rgraph.PowOp,
    "maximum": rgraph.MaximumOp, "minimum": rgraph.MinimumOp, "remainder": rgraph.RemainderOp,
    "floor_divide": rgraph.FloorDivideOp, "eq": rgraph.EqOp, "ne": rgraph.NeOp, "lt": rgraph.LtOp,
    "le": rgraph.LeOp, "gt": rgraph.GtOp, "ge": rgraph.GeOp, "logical_and": rgraph.LogicalAndOp,
    "logical_or": rgraph.LogicalOrOp, "bitwise_and": rgraph.BitwiseAndOp, "bitwise_or": rgraph.BitwiseOrOp,
    "bitwise_xor": rgraph.BitwiseXorOp,
}


@converts(*_BINARY_BY_TARGET)
def convert_binary(imp: GraphImporter, node: torch.fx.Node, a: Any, b: Any, alpha: Any = 1) -> SSAValue:
    name = _BINARY_BY_TARGET[node.target]
    if alpha != 1 and name in ("add", "sub"):
        dtype, _ = _meta(node)
        b = _scaled(imp, b, alpha, dtype)
    return _binary(imp, node, name, a, b)


def _scaled(imp: GraphImporter, b: Any, alpha: Any, dtype: str) -> Any:
    if not isinstance(b, torch.fx.Node):
        return b * alpha
    value = imp.cast(imp.values[b], dtype)
    return imp.add(rgraph.MulOp(value, imp.full(alpha, dtype), value.type))


@converts(aten.pow.Scalar)
def convert_pow_scalar(imp: GraphImporter, node: torch.fx.Node, base: Any, exponent: Any) -> SSAValue:
    return _binary(imp, node, "pow", base, exponent)


@converts(aten.rsub.Scalar, aten.rsub.Tensor)
def convert_rsub(imp: GraphImporter, node: torch.fx.Node, a: Any, b: Any, alpha: Any = 1) -> SSAValue:
    dtype, _ = _meta(node)
    return _binary(imp, node, "sub", b, _scaled(imp, a, alpha, dtype) if alpha != 1 else a)


@converts(aten.div.Tensor, aten.div.Scalar, aten.div.Tensor_mode, aten.div.Scalar_mode)
def convert_div(imp: GraphImporter, node: torch.fx.Node, a: Any, b: Any, rounding_mode: str | None = None) -> SSAValue:
    return _binary(imp, node, "div", a, b, rounding_mode)


@converts(aten.clamp.default, aten.clamp_min.default, aten.clamp_max.default, aten.clamp.Tensor,
          aten.clamp_min.Tensor, aten.clamp_max.Tensor)
def convert_clamp(imp: GraphImporter, node: torch.fx.Node, x: Any, lo: Any = None, hi: Any = None) -> SSAValue:
    """Bounds are numbers or tensors (broadcast): max with the lower bound, then min with the upper."""
    if node.target in (aten.clamp_max.default, aten.clamp_max.Tensor):
        lo, hi = None, lo
    dtype, shape = _meta(node)
    value = imp.cast(imp.values[x], dtype)
    if lo is not None:
        value = imp.add(rgraph.MaximumOp(value, imp.cast(imp.value(lo, dtype), dtype), tensor_type(dtype, shape)))
    if hi is not None:
        value = imp.add(rgraph.MinimumOp(value, imp.cast(imp.value(hi, dtype), dtype), tensor_type(dtype, shape)))
    return value


@converts(aten.where.self)
def convert_where(imp: GraphImporter, node: torch.fx.Node, cond: Any, a: Any, b: Any) -> SSAValue:
    dtype, shape = _meta(node)
    c = imp.cast(imp.value(cond, "i1"), "i1")
    return imp.add(rgraph.WhereOp(c, imp.cast(imp.value(a, dtype), dtype), imp.cast(imp.value(b, dtype), dtype), tensor_type(dtype, shape)))


@converts(aten.masked_fill.Scalar, aten.masked_fill.Tensor)
def convert_masked_fill(imp: GraphImporter, node: torch.fx.Node, x: Any, mask: Any, value: Any) -> SSAValue:
    dtype, shape = _meta(node)
    fill = imp.cast(imp.value(value, dtype), dtype)
    return imp.add(rgraph.WhereOp(imp.cast(imp.values[mask], "i1"), fill, imp.values[x], tensor_type(dtype, shape)))


@converts(aten._to_copy.default, aten.clone.default, aten.alias.default, aten.lift_fresh_copy.default,
          aten.detach.default, aten.contiguous.default, aten._assert_tensor_metadata.default)
def convert_copy(imp: GraphImporter, node: torch.fx.Node, x: Any, *_: Any, **__: Any) -> SSAValue | None:
    if node.target is aten._assert_tensor_metadata.default:
        return None
    dtype, _ = _meta(node)
    return imp.cast(imp.values[x], dtype)


# --- reductions -------------------------------------------------------------------------------

_REDUCE_OPS: dict[str, type[rgraph.ReduceOp]] = {
    "sum": rgraph.SumOp, "mean": rgraph.MeanOp, "amax": rgraph.AmaxOp, "amin": rgraph.AminOp, "prod": rgraph.ProdOp,
}


def _reduce(imp: GraphImporter, node: torch.fx.Node, name: str, x: Any, dims: Any, keepdim: bool, index: int | None = None) -> SSAValue:
    dtype, shape = _meta(node, index)
    value = imp.values[x]
    if name in ("amax", "amin") and dtype == "i1":
        value = imp.cast(value, "i1")
    elif name not in ("amax", "amin"):
        value = imp.cast(value, dtype)
    dims = [] if dims is None else ([dims] if isinstance(dims, int) else list(dims))
    return imp.add(_REDUCE_OPS[name](value, dims, keepdim, tensor_type(dtype, shape)))


@converts(aten.sum.dim_IntList, aten.sum.default, aten.mean.dim, aten.mean.default, aten.amax.default,
          aten.amin.default, aten.prod.dim_int, aten.prod.default, aten.max.default, aten.min.default)
def convert_reduce(imp: GraphImporter, node: torch.fx.Node, x: Any, dims: Any = None, keepdim: bool = False, dtype: Any = None) -> SSAValue:
    name = {"sum": "sum", "mean": "mean", "amax": "amax", "amin": "amin", "prod": "prod", "max": "amax", "min": "amin"}[
        node.target._schema.name.split("::")[1]
    ]
    if isinstance(dims, torch.dtype):  # sum.default(x, dtype)
        dims = None
    return _reduce(imp, node, name, x, dims, keepdim)


@converts(aten.any.dim, aten.any.dims, aten.any.default, aten.all.dim, aten.all.dims, aten.all.default)
def convert_any_all(imp: GraphImporter, node: torch.fx.Node, x: Any, dims: Any = None, keepdim: bool = False) -> SSAValue:
    name = "amax" if "any" in str(node.target) else "amin"
    dtype, shape = _meta(node)
    value = imp.cast(imp.values[x], "i1")
    dims = [] if dims is None else ([dims] if isinstance(dims, int) else list(dims))
    return imp.add(_REDUCE_OPS[name](value, dims, keepdim, tensor_type(dtype, shape)))


@converts(aten.max.dim)
def convert_max_dim(imp: GraphImporter, node: torch.fx.Node, x: Any, dim: int, keepdim: bool = False) -> tuple[SSAValue, SSAValue]:
    values = _reduce(imp, node, "amax", x, [dim], keepdim, index=0)
    dtype, shape = _meta(node, 1)
    indices = imp.add(rgraph.ArgmaxOp(imp.values[x], dim, keepdim, tensor_type(dtype, shape)))
    return values, indices


@converts(aten.argmax.default)
def convert_argmax(imp: GraphImporter, node: torch.fx.Node, x: Any, dim: int | None = None, keepdim: bool = False) -> SSAValue:
    return imp.add(rgraph.ArgmaxOp(imp.values[x], dim, keepdim, _type(node)))


@converts(aten.var.correction)
def convert_var(imp: GraphImporter, node: torch.fx.Node, x: Any, dims: Any = None, *, correction: Any = 1, keepdim: bool = False) -> SSAValue:
    out_dtype, shape = _meta(node)
    dtype = accumulator_dtype(out_dtype)  # bf16/f16: in f32, rounded once, like PyTorch's kernel
    value = imp.cast(imp.values[x], dtype)
    in_shape = _shape(value)
    rank = max(len(in_shape), 1)  # a 0-d value takes dim 0 or -1, like a one-element vector
    dims = list(range(len(in_shape))) if not dims else [d % rank for d in dims]
    count = 1
    for d in dims:
        count *= in_shape[d] if in_shape else 1
    kept = tuple(1 if i in dims else n for i, n in enumerate(in_shape))
    mean = imp.add(rgraph.MeanOp(value, dims, True, tensor_type(dtype, kept)))
    centred = imp.add(rgraph.SubOp(value, mean, value.type))
    square = imp.add(rgraph.MulOp(centred, centred, value.type))
    total = imp.add(rgraph.SumOp(square, dims, keepdim, tensor_type(dtype, shape)))
    divisor = imp.full(max(count - (1 if correction is None else correction), 0), dtype)
    return imp.cast(imp.add(rgraph.DivOp(total, divisor, tensor_type(dtype, shape))), out_dtype)


@converts(aten._softmax.default, aten._log_softmax.default)
def convert_softmax(imp: GraphImporter, node: torch.fx.Node, x: Any, dim: int, half_to_float: bool = False) -> SSAValue:
    dtype, _ = _meta(node)
    op_cls = rgraph.SoftmaxOp if node.target is aten._softmax.default else rgraph.LogSoftmaxOp
    return imp.add(op_cls(imp.cast(imp.values[x], dtype), dim))


@converts(aten.cumsum.default)
def convert_cumsum(imp: GraphImporter, node: torch.fx.Node, x: Any, dim: int, dtype: Any = None) -> SSAValue:
    out_dtype, _ = _meta(node)
    return imp.add(rgraph.CumsumOp(imp.cast(imp.values[x], out_dtype), dim))


@converts(aten.topk.default)
def convert_topk(imp: GraphImporter, node: torch.fx.Node, x: Any, k: int, dim: int = -1, largest: bool = True, sorted: bool = True) -> tuple:
    (vdt, vshape), (idt, ishape) = _meta(node, 0), _meta(node, 1)
    op = imp.add_op(rgraph.TopkOp(imp.values[x], k, dim, largest, sorted, _type(node, 0), _type(node, 1)))
    return op.results[0], op.results[1]


# --- matrix multiply --------------------------------------------------------------------------


@converts(aten.mm.default, aten.bmm.default, aten.matmul.default)
def convert_matmul(imp: GraphImporter, node: torch.fx.Node, a: Any, b: Any) -> SSAValue:
    dtype, shape = _meta(node)
    return imp.add(rgraph.MatmulOp(imp.values[a], imp.values[b], tensor_type(dtype, shape)))


@converts(aten.linear.default)
def convert_linear(imp: GraphImporter, node: torch.fx.Node, x: Any, w: Any, b: Any = None) -> SSAValue:
    dtype, shape = _meta(node)
    bias = imp.values[b] if b is not None else None
    return imp.add(rgraph.LinearOp(imp.values[x], imp.values[w], bias, tensor_type(dtype, shape)))


@converts(aten.addmm.default)
def convert_addmm(imp: GraphImporter, node: torch.fx.Node, bias: Any, a: Any, b: Any, *, beta: Any = 1, alpha: Any = 1) -> SSAValue:
    dtype, shape = _meta(node)
    out = tensor_type(dtype, shape)
    product = imp.add(rgraph.MatmulOp(imp.values[a], imp.values[b], out))
    if alpha != 1:
        product = imp.add(rgraph.MulOp(product, imp.full(alpha, dtype), out))
    addend = imp.values[bias]
    if beta != 1:
        addend = imp.add(rgraph.MulOp(addend, imp.full(beta, dtype), addend.type))
    return imp.add(rgraph.AddOp(product, addend, out))


# --- layout -----------------------------------------------------------------------------------


@converts(aten.view.default, aten._unsafe_view.default, aten.reshape.default, aten.unsqueeze.default,
          aten.squeeze.dim, aten.squeeze.dims, aten.squeeze.default, aten.flatten.using_ints)
def convert_reshape(imp: GraphImporter, node: torch.fx.Node, x: Any, *_: Any) -> SSAValue:
    dtype, shape = _meta(node)
    value = imp.values[x]
    if _shape(value) == shape:
        return value
    return imp.add(rgraph.ReshapeOp(value, tensor_type(dtype, shape)))


@converts(aten.permute.default, aten.t.default, aten.transpose.int)
def convert_permute(imp: GraphImporter, node: torch.fx.Node, x: Any, *args: Any) -> SSAValue:
    dtype, shape = _meta(node)
    value = imp.values[x]
    rank = len(_shape(value))
    if node.target is aten.permute.default:
        dims = [d % rank for d in args[0]]
    else:
        d0, d1 = (args if node.target is aten.transpose.int else (0, 1))
        dims = list(range(rank))
        if rank >= 2:
            dims[d0 % rank], dims[d1 % rank] = dims[d1 % rank], dims[d0 % rank]
    if dims == list(range(rank)):
        return value
    return imp.add(rgraph.PermuteOp(value, dims, tensor_type(dtype, shape)))


@converts(aten.expand.default)
def convert_expand(imp: GraphImporter, node: torch.fx.Node, x: Any, *_: Any, **__: Any) -> SSAValue:
    dtype, shape = _meta(node)
    value = imp.values[x]
    if _shape(value) == shape:
        return value
    return imp.add(rgraph.ExpandOp(value, tensor_type(dtype, shape)))


def _slice(imp: GraphImporter, value: SSAValue, dim: int, start: int | None, end: int | None, step: int) -> SSAValue:
    shape = list(_shape(value))
    dim %= len(shape)
    start, end, step = slice(start, end, step).indices(shape[dim])
    end = max(end, start)
    if (start, end, step) == (0, shape[dim], 1):
        return value
    shape[dim] = len(range(start, end, step))
    return imp.add(rgraph.SliceOp(value, dim, start, end, step, tensor_type(dtype_of(value.type), shape)))


@converts(aten.slice.Tensor)
def convert_slice(imp: GraphImporter, node: torch.fx.Node, x: Any, dim: int = 0, start: Any = None, end: Any = None, step: int = 1) -> SSAValue:
    return _slice(imp, imp.values[x], dim, start, end, step)


@converts(aten.select.int)
def convert_select(imp: GraphImporter, node: torch.fx.Node, x: Any, dim: int, index: int) -> SSAValue:
    value = imp.values[x]
    size = _shape(value)[dim]
    index %= size
    sliced = _slice(imp, value, dim, index, index + 1, 1)
    dtype, shape = _meta(node)
    return imp.add(rgraph.ReshapeOp(sliced, tensor_type(dtype, shape)))


@converts(aten.split.Tensor, aten.split_with_sizes.default)
def convert_split(imp: GraphImporter, node: torch.fx.Node, x: Any, sizes: Any, dim: int = 0) -> tuple[SSAValue, ...]:
    value = imp.values[x]
    total = _shape(value)[dim]
    if isinstance(sizes, int):
        sizes = [min(sizes, total - s) for s in range(0, total, sizes)]
    pieces, start = [], 0
    for size in sizes:
        pieces.append(_slice(imp, value, dim, start, start + size, 1))
        start += size
    return tuple(pieces)


@converts(aten.cat.default)
def convert_cat(imp: GraphImporter, node: torch.fx.Node, tensors: list, dim: int = 0) -> SSAValue:
    dtype, shape = _meta(node)
    values = [imp.cast(imp.values[t], dtype) for t in tensors if 0 not in tuple(t.meta["val"].shape)]
    if len(values) == 1:
        return values[0]
    return imp.add(rgraph.ConcatOp(values, dim % len(shape), tensor_type(dtype, shape)))


@converts(aten.index_select.default)
def convert_index_select(imp: GraphImporter, node: torch.fx.Node, x: Any, dim: int, index: Any) -> SSAValue:
    value, positions = imp.values[x], imp.values[index]
    if _shape(value) and _shape(positions):
        return imp.add(rgraph.IndexSelectOp(value, positions, dim, _type(node)))
    # a 0-d input or index: select from (and with) one-element vectors, then take PyTorch's shape
    dtype, shape = _meta(node)
    one = lambda v: v if _shape(v) else imp.add(rgraph.ReshapeOp(v, tensor_type(dtype_of(v.type), (1,))))
    picked = imp.add(rgraph.IndexSelectOp(one(value), one(positions), dim % max(len(_shape(value)), 1),
                                          tensor_type(dtype, shape if _shape(value) else (1,))))
    return picked if _shape(picked) == shape else imp.add(rgraph.ReshapeOp(picked, tensor_type(dtype, shape)))


@converts(aten.gather.default)
def convert_gather(imp: GraphImporter, node: torch.fx.Node, x: Any, dim: int, index: Any, sparse_grad: bool = False) -> SSAValue:
    return imp.add(rgraph.GatherOp(imp.values[x], imp.values[index], dim, _type(node)))


@converts(aten.embedding.default)
def convert_embedding(imp: GraphImporter, node: torch.fx.Node, weight: Any, ids: Any, *_: Any) -> SSAValue:
    return imp.add(rgraph.EmbeddingOp(imp.values[weight], imp.values[ids], _type(node)))


@converts(aten.index.Tensor)
def convert_index(imp: GraphImporter, node: torch.fx.Node, x: Any, indices: list) -> SSAValue:
    """Advanced indexing. Not an index_select even for one 1-D index: indexing wraps negative
    indices, index_select rejects them."""
    given = [(d, i) for d, i in enumerate(indices) if i is not None]
    dtype, shape = _meta(node)
    value = imp.values[x]
    if any(i.meta["val"].dtype == torch.bool for _, i in given):
        raise UnsupportedOpError("boolean-mask indexing has a data-dependent shape and is not supported", imp.current_source)
    return imp.add(rgraph.IndexOp(value, [imp.values[i] for _, i in given], [d for d, _ in given], tensor_type(dtype, shape)))


@converts(aten.triu.default, aten.tril.default)
def convert_triangle(imp: GraphImporter, node: torch.fx.Node, x: Any, diagonal: int = 0) -> SSAValue:
    op_cls = rgraph.TriuOp if node.target is aten.triu.default else rgraph.TrilOp
    return imp.add(op_cls(imp.values[x], diagonal))


# --- sources ----------------------------------------------------------------------------------


@converts(aten.full.default, aten.full_like.default, aten.zeros.default, aten.ones.default,
          aten.zeros_like.default, aten.ones_like.default, aten.scalar_tensor.default, aten.empty.memory_format,
          aten.new_zeros.default, aten.new_ones.default, aten.new_full.default)
def convert_full(imp: GraphImporter, node: torch.fx.Node, *args: Any, **kwargs: Any) -> SSAValue:
    dtype, shape = _meta(node)
    name = node.target._schema.name.split("::")[1]
    value = {"zeros": 0, "zeros_like": 0, "new_zeros": 0, "ones": 1, "ones_like": 1, "new_ones": 1, "empty": 0}.get(name)
    if value is None:
        value = args[0] if name == "scalar_tensor" else args[1]
    return imp.full(value, dtype, shape)


@converts(aten.arange.start_step, aten.arange.default, aten.arange.start)
def convert_arange(imp: GraphImporter, node: torch.fx.Node, *args: Any, **_: Any) -> SSAValue:
    dtype, shape = _meta(node)
    start = args[0] if len(args) >= 2 else 0
    step = args[2] if len(args) >= 3 else 1
    end = args[1] if len(args) >= 2 else args[0]
    number = float if dtype in FLOAT_DTYPES else int
    return imp.add(rgraph.ArangeOp(number(start), number(end), number(step), tensor_type(dtype, shape)))


@converts(aten.native_layer_norm.default)
def convert_layer_norm(imp: GraphImporter, node: torch.fx.Node, x: Any, normalized_shape: list, weight: Any, bias: Any, eps: float) -> tuple:
    """Layer norm as the pieces a streaming pipeline fuses: mean, centre, variance, rsqrt, scale.
    A bf16 or f16 norm computes in f32 and rounds its results once, as PyTorch's kernel does (the
    PCU accumulates in f32); rounding after every piece put bf16 results a step off eager's."""
    out_dtype, shape = _meta(node, 0)
    dtype = accumulator_dtype(out_dtype)
    value = imp.cast(imp.values[x], dtype)
    rank = len(shape)
    dims = list(range(rank - len(normalized_shape), rank))
    kept = tuple(1 if i in dims else n for i, n in enumerate(shape))
    full_type, kept_type = tensor_type(dtype, shape), tensor_type(dtype, kept)
    mean = imp.add(rgraph.MeanOp(value, dims, True, kept_type))
    centred = imp.add(rgraph.SubOp(value, mean, full_type))
    square = imp.add(rgraph.MulOp(centred, centred, full_type))
    var = imp.add(rgraph.MeanOp(square, dims, True, kept_type))
    shifted = imp.add(rgraph.AddOp(var, imp.full(eps, dtype), kept_type))
    rstd = imp.add(rgraph.RsqrtOp(shifted))
    out = imp.add(rgraph.MulOp(centred, rstd, full_type))
    if weight is not None:
        out = imp.add(rgraph.MulOp(out, imp.cast(imp.values[weight], dtype), full_type))
    if bias is not None:
        out = imp.add(rgraph.AddOp(out, imp.cast(imp.values[bias], dtype), full_type))
    return imp.cast(out, out_dtype), imp.cast(mean, _meta(node, 1)[0]), imp.cast(rstd, _meta(node, 2)[0])


# --- vision -------------------------------------------------------------------------------------
# Convolution is an implicit GEMM: an im2col PMU stage lays the input's sliding windows out as the
# columns of a matmul with the weight matrix, so the PCU's systolic body, its cost model and the
# stage balancer apply unchanged. Pooling reuses the same windows with a reduction; resampling is
# a matmul with an interpolation matrix (bilinear, adaptive pooling) or a gather (nearest).


def _ints(values: Any, rank: int) -> list[int]:
    values = [values] if isinstance(values, int) else list(values)
    return values * rank if len(values) == 1 else values


def _im2col(imp: GraphImporter, value: SSAValue, kernel: list[int], stride: list[int], padding: list[int],
            dilation: list[int], groups: int, pad_with: str = "zero") -> SSAValue:
    shape = _shape(value)
    out = [(n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, s, p, d in zip(shape[2:], kernel, stride, padding, dilation)]
    rows = shape[1] // groups
    for k in kernel:
        rows *= k
    columns = 1
    for n in out:
        columns *= n
    result = tensor_type(dtype_of(value.type), (shape[0], groups, rows, columns))
    return imp.add(rgraph.Im2colOp(value, kernel, stride, padding, dilation, groups, result, pad_with))


def _window_output(imp: GraphImporter, node: torch.fx.Node, x: SSAValue, kernel, stride, padding, dilation) -> None:
    """Refuse windows whose output PyTorch sizes differently (ceil_mode windows past the edge)."""
    want = _meta(node, 0 if isinstance(node.meta["val"], (tuple, list)) else None)[1][2:]
    got = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, s, p, d in zip(_shape(x)[2:], kernel, stride, padding, dilation))
    if want != got:
        raise UnsupportedOpError(f"{node.target}: ceil_mode windows that overhang the input are not supported "
                                 f"(output {want}, floor mode gives {got})", imp.current_source)


@converts(aten.convolution.default)
def convert_convolution(imp: GraphImporter, node: torch.fx.Node, x: Any, weight: Any, bias: Any, stride: Any,
                        padding: Any, dilation: Any, transposed: bool, output_padding: Any, groups: int) -> SSAValue:
    dtype, shape = _meta(node)
    value, w = imp.values[x], imp.values[weight]
    spatial = len(_shape(value)) - 2
    if spatial not in (1, 2, 3):
        raise UnsupportedOpError(f"convolution over {spatial} spatial dims is not supported (1-D, 2-D and 3-D are)",
                                 imp.current_source)
    if transposed:
        value, w = _transposed_as_direct(imp, value, w, _ints(stride, spatial), _ints(padding, spatial),
                                         _ints(dilation, spatial), _ints(output_padding, spatial), groups)
        stride, padding = 1, 0
    w_shape = _shape(w)
    kernel = list(w_shape[2:])
    cols = _im2col(imp, value, kernel, _ints(stride, spatial), _ints(padding, spatial), _ints(dilation, spatial), groups)
    out_channels = w_shape[0]
    # bf16/f16: the GEMM takes its operands as they stream and accumulates in f32, the bias joins in
    # f32, and the result is rounded once, as PyTorch's kernel does (rounding twice was a step off)
    out_dtype, dtype = dtype, accumulator_dtype(dtype)
    cols = imp.cast(cols, dtype)
    matrix = imp.add(rgraph.ReshapeOp(imp.cast(w, dtype), tensor_type(dtype, (groups, out_channels // groups, _shape(cols)[2]))))
    product = imp.add(rgraph.MatmulOp(matrix, cols, tensor_type(dtype, (shape[0], groups, out_channels // groups, _shape(cols)[3]))))
    out = imp.add(rgraph.ReshapeOp(product, tensor_type(dtype, shape)))
    if bias is not None:
        per_channel = tensor_type(dtype, (out_channels,) + (1,) * spatial)
        out = imp.add(rgraph.AddOp(out, imp.add(rgraph.ReshapeOp(imp.cast(imp.values[bias], dtype), per_channel)),
                                   tensor_type(dtype, shape)))
    return imp.cast(out, out_dtype)


def _transposed_as_direct(imp: GraphImporter, value: SSAValue, w: SSAValue, stride: list[int], padding: list[int],
                         dilation: list[int], output_padding: list[int], groups: int) -> tuple[SSAValue, SSAValue]:
    """A transposed convolution is the direct one (stride 1, same implicit GEMM) over the input
    spread by its stride (stride - 1 zeros between neighbours) and padded by dilation * (kernel - 1)
    - padding on each side (plus output_padding after), with the kernel flipped and its in and out
    channels swapped within each group."""
    dtype = dtype_of(value.type)
    kernel = list(_shape(w)[2:])
    for i, step in enumerate(stride):
        value = _spread(imp, value, 2 + i, step)
    pads: list[int] = []
    for i in reversed(range(len(kernel))):  # F.pad order: last dim first
        edge = dilation[i] * (kernel[i] - 1) - padding[i]
        pads += [edge, edge + output_padding[i]]
    value = _pad(imp, value, pads, 0)
    cin, cout_group = _shape(w)[:2]
    grouped = imp.add(rgraph.ReshapeOp(w, tensor_type(dtype, (groups, cin // groups, cout_group, *kernel))))
    rest = list(range(3, 3 + len(kernel)))
    swapped = imp.add(rgraph.PermuteOp(grouped, [0, 2, 1] + rest, tensor_type(dtype, (groups, cout_group, cin // groups, *kernel))))
    direct = imp.add(rgraph.ReshapeOp(swapped, tensor_type(dtype, (groups * cout_group, cin // groups, *kernel))))
    for i, k in enumerate(kernel):
        if k > 1:
            direct = _take_positions(imp, direct, 2 + i, list(range(k - 1, -1, -1)), "conv_transpose.flip")
    return value, direct


def _spread(imp: GraphImporter, value: SSAValue, dim: int, step: int) -> SSAValue:
    """`step - 1` zeros between neighbours along `dim`: each element followed by a zero block
    (concat on a new axis), merged, and the trailing zeros sliced off."""
    if step == 1:
        return value
    dtype, shape = dtype_of(value.type), _shape(value)
    lead, n, rest = shape[:dim], shape[dim], shape[dim + 1:]
    column = imp.add(rgraph.ReshapeOp(value, tensor_type(dtype, lead + (n, 1) + rest)))
    zeros = imp.full(0, dtype, lead + (n, step - 1) + rest)
    both = imp.add(rgraph.ConcatOp([column, zeros], dim + 1, tensor_type(dtype, lead + (n, step) + rest)))
    merged = imp.add(rgraph.ReshapeOp(both, tensor_type(dtype, lead + (n * step,) + rest)))
    return _slice(imp, merged, dim, 0, (n - 1) * step + 1, 1)


@converts(aten._native_batch_norm_legit_no_training.default)
def convert_batch_norm(imp: GraphImporter, node: torch.fx.Node, x: Any, weight: Any, bias: Any, mean: Any, var: Any,
                       momentum: float, eps: float) -> tuple:
    dtype, shape = _meta(node, 0)
    scale = imp.cast(imp.values[weight], dtype) if weight is not None else imp.full(1, dtype, (shape[1],))
    shift = imp.cast(imp.values[bias], dtype) if bias is not None else imp.full(0, dtype, (shape[1],))
    out = imp.add(rgraph.BatchNormOp(imp.cast(imp.values[x], dtype), scale, shift, imp.cast(imp.values[mean], dtype),
                                     imp.cast(imp.values[var], dtype), eps))
    used = {u.args[1] for u in node.users if u.target is getitem}
    saved = tuple(imp.full(0, _meta(node, i)[0], _meta(node, i)[1]) if i in used else None for i in (1, 2))
    return (out, *saved)


@converts(aten.max_pool2d_with_indices.default)
def convert_max_pool(imp: GraphImporter, node: torch.fx.Node, x: Any, kernel_size: Any, stride: Any = None,
                     padding: Any = 0, dilation: Any = 1, ceil_mode: bool = False) -> tuple:
    """Windows padded with the lowest value, reduced by amax; indices (if read) by argmax over
    the windows of the input's flat positions."""
    dtype, shape = _meta(node, 0)
    value = imp.values[x]
    kernel = _ints(kernel_size, 2)
    strides = _ints(stride, 2) if stride else kernel
    pads, dilations = _ints(padding, 2), _ints(dilation, 2)
    if ceil_mode:  # the last windows overhang the input: pad it on the far side with the lowest value
        value = _pad(imp, value, _ceil_mode_overhang(shape, _shape(value), kernel, strides, pads, dilations),
                     -math.inf if dtype in FLOAT_DTYPES else torch.iinfo(_TORCH_INTS[dtype]).min)
    _window_output(imp, node, value, kernel, strides, pads, dilations)
    channels = _shape(value)[1]
    cols = _im2col(imp, value, kernel, strides, pads, dilations, channels, "lowest")
    n, c, k, l = _shape(cols)
    pooled = imp.add(rgraph.AmaxOp(cols, [2], False, tensor_type(dtype, (n, c, l))))
    values = imp.add(rgraph.ReshapeOp(pooled, tensor_type(dtype, shape)))
    if not any(u.target is getitem and u.args[1] == 1 for u in node.users):
        return values, None
    height, width = _shape(imp.values[x])[2:]
    flat = imp.add(rgraph.ArangeOp(0, height * width, 1, tensor_type("i64", (height * width,))))
    positions = imp.add(rgraph.ReshapeOp(flat, tensor_type("i64", (1, 1, height, width))))
    if ceil_mode:
        positions = _pad(imp, positions, _ceil_mode_overhang(shape, (1, 1, height, width), kernel, strides, pads, dilations), 0)
    position_cols = imp.add(rgraph.ExpandOp(_im2col(imp, positions, kernel, strides, pads, dilations, 1), tensor_type("i64", (n, c, k, l))))
    best = imp.add(rgraph.ArgmaxOp(cols, 2, True, tensor_type("i64", (n, c, 1, l))))
    picked = imp.add(rgraph.GatherOp(position_cols, best, 2, tensor_type("i64", (n, c, 1, l))))
    return values, imp.add(rgraph.ReshapeOp(picked, tensor_type("i64", shape)))


_TORCH_INTS = {"i64": torch.int64, "i32": torch.int32, "i16": torch.int16, "i8": torch.int8, "u8": torch.uint8, "i1": torch.bool}


def _ceil_mode_overhang(out_shape, in_shape, kernel, strides, pads, dilations) -> list[int]:
    """F.pad widths that make floor-mode windows give ceil_mode's output size (far side only)."""
    widths: list[int] = []
    for axis in (-1, -2):
        i = len(kernel) + axis
        span = (out_shape[axis] - 1) * strides[i] + dilations[i] * (kernel[i] - 1) + 1
        widths += [0, max(span - in_shape[axis] - 2 * pads[i], 0)]
    return widths


@converts(aten.avg_pool2d.default)
def convert_avg_pool(imp: GraphImporter, node: torch.fx.Node, x: Any, kernel_size: Any, stride: Any = None,
                     padding: Any = 0, ceil_mode: bool = False, count_include_pad: bool = True,
                     divisor_override: int | None = None) -> SSAValue:
    dtype, shape = _meta(node)
    value = imp.cast(imp.values[x], dtype)
    kernel = _ints(kernel_size, 2)
    strides = _ints(stride, 2) if stride else kernel
    pads = _ints(padding, 2)
    _window_output(imp, node, value, kernel, strides, pads, [1, 1])
    cols = _im2col(imp, value, kernel, strides, pads, [1, 1], _shape(value)[1])
    n, c, _, l = _shape(cols)
    flat = tensor_type(dtype, (n, c, l))
    if divisor_override is None and (count_include_pad or not any(pads)):
        pooled = imp.add(rgraph.MeanOp(cols, [2], False, flat))
    else:
        total = imp.add(rgraph.SumOp(cols, [2], False, flat))
        if divisor_override is not None:
            divisor = imp.full(divisor_override, dtype)
        else:  # how many window positions fall inside the input
            ones = imp.full(1, dtype, (1, 1) + _shape(value)[2:])
            counted = _im2col(imp, ones, kernel, strides, pads, [1, 1], 1)
            divisor = imp.add(rgraph.SumOp(counted, [2], False, tensor_type(dtype, (1, 1, l))))
        pooled = imp.add(rgraph.DivOp(total, divisor, flat))
    return imp.add(rgraph.ReshapeOp(pooled, tensor_type(dtype, shape)))


def _constant(imp: GraphImporter, stem: str, tensor: torch.Tensor) -> SSAValue:
    """A compile-time tensor (interpolation matrix, gather positions) as a weight of the module."""
    name, n = stem, 1
    while name in imp.weights:
        name, n = f"{stem}_{n}", n + 1
    data = weight_data(tensor.contiguous())
    imp.weights[name] = data
    ty = tensor_type(data.dtype, data.shape)
    return imp.add(rgraph.WeightOp(name, ty, store_resource(name, data.data, ty)))


def _axis_matrix(resample: Callable[[torch.Tensor], torch.Tensor], size: int, dtype: str) -> torch.Tensor:
    """The (out, size) matrix of a separable 1-D resampling: `resample` applied to the identity's
    rows, each laid out as an (rows, 1, size, 1) image."""
    basis = torch.eye(size, dtype=torch.float64).reshape(size, 1, size, 1)
    return resample(basis)[:, 0, :, 0].T.contiguous().to(_TORCH_DTYPES[dtype])


_TORCH_DTYPES = {"f32": torch.float32, "f64": torch.float64, "bf16": torch.bfloat16, "f16": torch.float16}


def _separable(imp: GraphImporter, node: torch.fx.Node, x: Any, rows: torch.Tensor, cols: torch.Tensor, stem: str) -> SSAValue:
    """out = rows @ x @ cols.T over the last two dims: two matmuls on the PCU's systolic body
    (bf16/f16: in f32 with f32 matrices, rounded once; rounding between the two was off eager)."""
    out_dtype, shape = _meta(node)
    dtype = accumulator_dtype(out_dtype)
    rows, cols = rows.to(_TORCH_DTYPES[dtype]), cols.to(_TORCH_DTYPES[dtype])
    value = imp.cast(imp.values[x], dtype)
    lead = _shape(value)[:-2]
    left = imp.add(rgraph.MatmulOp(_constant(imp, f"{stem}.rows", rows), value,
                                   tensor_type(dtype, lead + (shape[-2], _shape(value)[-1]))))
    out = imp.add(rgraph.MatmulOp(left, _constant(imp, f"{stem}.cols", cols.T.contiguous()), tensor_type(dtype, shape)))
    return imp.cast(out, out_dtype)


@converts(aten._adaptive_avg_pool2d.default, aten.adaptive_avg_pool2d.default)
def convert_adaptive_avg_pool(imp: GraphImporter, node: torch.fx.Node, x: Any, output_size: Any) -> SSAValue:
    dtype, shape = _meta(node)
    if dtype not in _TORCH_DTYPES:
        raise UnsupportedOpError(f"adaptive average pooling of {dtype} tensors is not supported", imp.current_source)
    height, width = _shape(imp.values[x])[-2:]
    rows = _axis_matrix(lambda b: aten._adaptive_avg_pool2d(b, [shape[-2], 1]), height, accumulator_dtype(dtype))
    cols = _axis_matrix(lambda b: aten._adaptive_avg_pool2d(b, [shape[-1], 1]), width, accumulator_dtype(dtype))
    return _separable(imp, node, x, rows, cols, "adaptive_avg_pool")


def _resample_args(size: int, scales: Any, i: int) -> tuple[list[int] | None, list[float] | None]:
    """(output_size, scale_factors) for resampling one axis laid out as an (size, 1) image: the
    model's scale factor when it gave one (PyTorch then maps positions by it), else the size."""
    return ([size, 1], None) if scales is None else (None, [float(scales[i]), 1.0])


@converts(aten.upsample_bilinear2d.vec, aten.upsample_bilinear2d.default)
def convert_upsample_bilinear(imp: GraphImporter, node: torch.fx.Node, x: Any, output_size: Any, align_corners: bool,
                              scales: Any = None, *rest: Any) -> SSAValue:
    dtype, shape = _meta(node)
    if dtype not in _TORCH_DTYPES:
        raise UnsupportedOpError(f"bilinear upsampling of {dtype} tensors is not supported", imp.current_source)
    if node.target is aten.upsample_bilinear2d.default:  # (x, output_size, align_corners, scales_h, scales_w)
        scales = None if scales is None else [scales, rest[0] if rest else None]
        scales = None if scales is None or None in scales else scales
    height, width = _shape(imp.values[x])[-2:]
    rows = _axis_matrix(lambda b: aten.upsample_bilinear2d.vec(b, _resample_args(shape[-2], scales, 0)[0], align_corners, _resample_args(shape[-2], scales, 0)[1]), height, accumulator_dtype(dtype))
    cols = _axis_matrix(lambda b: aten.upsample_bilinear2d.vec(b, _resample_args(shape[-1], scales, 1)[0], align_corners, _resample_args(shape[-1], scales, 1)[1]), width, accumulator_dtype(dtype))
    return _separable(imp, node, x, rows, cols, "upsample_bilinear")


@converts(aten.upsample_nearest2d.vec, aten.upsample_nearest2d.default)
def convert_upsample_nearest(imp: GraphImporter, node: torch.fx.Node, x: Any, output_size: Any, scales: Any = None,
                             *rest: Any) -> SSAValue:
    """Nearest neighbour: a gather of rows, then of columns, at positions PyTorch's own rule picks."""
    dtype, shape = _meta(node)
    value = imp.values[x]
    if node.target is aten.upsample_nearest2d.default:
        scales = None if scales is None or not rest or rest[0] is None else [scales, rest[0]]
    for axis in (-2, -1):
        size = _shape(value)[axis]
        probe = torch.arange(size, dtype=torch.float64).reshape(1, 1, size, 1)
        picked = aten.upsample_nearest2d.vec(probe, *_resample_args(shape[axis], scales, axis + 2))
        positions = _constant(imp, "upsample_nearest.positions", picked.reshape(-1).round().to(torch.int64))
        out_shape = list(_shape(value))
        out_shape[axis] = shape[axis]
        value = imp.add(rgraph.IndexSelectOp(value, positions, len(out_shape) + axis, tensor_type(dtype, tuple(out_shape))))
    return value


# --- sorting and scatter --------------------------------------------------------------------------


@converts(aten.sort.default, aten.sort.stable)
def convert_sort(imp: GraphImporter, node: torch.fx.Node, x: Any, dim: int = -1, descending: bool = False, *,
                 stable: bool | None = None) -> tuple:
    """sort.default(x, dim, descending) or sort.stable(x, *, stable, dim, descending). The
    simulator always sorts stably, which is one valid order for stable=False."""
    value = imp.values[x]
    op = imp.add_op(rgraph.SortOp(value, dim % max(len(_shape(value)), 1), bool(descending), bool(stable) if stable is not None else True))
    return op.results[0], op.results[1]


@converts(aten.copy.default)
def convert_copy_into(imp: GraphImporter, node: torch.fx.Node, dst: Any, src: Any, non_blocking: bool = False) -> SSAValue:
    """copy(dst, src): src broadcast to dst's shape and cast to its dtype (functionalised copy_)."""
    dtype, shape = _meta(node)
    value = imp.cast(imp.value(src, dtype), dtype)
    if _shape(value) != shape:
        value = imp.add(rgraph.ExpandOp(value, tensor_type(dtype, shape)))
    return value


@converts(aten.slice_scatter.default)
def convert_slice_scatter(imp: GraphImporter, node: torch.fx.Node, x: Any, src: Any, dim: int = 0, start: Any = None,
                          end: Any = None, step: int = 1) -> SSAValue:
    dtype, shape = _meta(node)
    dim %= len(shape)
    start, end, step = slice(start, end, step).indices(shape[dim])
    end = max(end, start)
    return imp.add(rgraph.SliceScatterOp(imp.cast(imp.values[x], dtype), imp.cast(imp.values[src], dtype), dim, start, end, step))


@converts(aten.select_scatter.default)
def convert_select_scatter(imp: GraphImporter, node: torch.fx.Node, x: Any, src: Any, dim: int, index: int) -> SSAValue:
    dtype, shape = _meta(node)
    dim %= len(shape)
    index %= shape[dim]
    widened = list(shape)
    widened[dim] = 1
    src_value = imp.add(rgraph.ReshapeOp(imp.cast(imp.values[src], dtype), tensor_type(dtype, tuple(widened))))
    return imp.add(rgraph.SliceScatterOp(imp.cast(imp.values[x], dtype), src_value, dim, index, index + 1, 1))


@converts(aten.index_put.default)
def convert_index_put(imp: GraphImporter, node: torch.fx.Node, x: Any, indices: list, values: Any,
                      accumulate: bool = False) -> SSAValue:
    dtype, shape = _meta(node)
    value = imp.values[x]
    given = [(d, i) for d, i in enumerate(indices) if i is not None]
    fill = imp.cast(imp.value(values, dtype), dtype)
    if any(i.meta["val"].dtype == torch.bool for _, i in given):
        # x[mask] = v with a mask over the leading dims and one value: a select, no data-dependent shape
        (d, mask), = given if len(given) == 1 else [(None, None)]
        mask_shape = tuple(mask.meta["val"].shape) if mask is not None else ()
        if mask is None or d != 0 or shape[:len(mask_shape)] != mask_shape or accumulate or \
                any(n != 1 for n in _shape(fill)):
            raise UnsupportedOpError("index_put with a boolean mask is supported for x[mask] = value only", imp.current_source)
        cond = imp.values[mask]
        if len(mask_shape) < len(shape):
            cond = imp.add(rgraph.ReshapeOp(cond, tensor_type("i1", mask_shape + (1,) * (len(shape) - len(mask_shape)))))
        if _shape(fill):
            fill = imp.add(rgraph.ReshapeOp(fill, tensor_type(dtype, ())))
        return imp.add(rgraph.WhereOp(cond, fill, value, tensor_type(dtype, shape)))
    return imp.add(rgraph.IndexPutOp(value, [imp.values[i] for _, i in given], [d for d, _ in given], fill, bool(accumulate)))


@converts(aten.scatter.src, aten.scatter.value, aten.scatter_add.default, aten.scatter.reduce, aten.scatter.value_reduce)
def convert_scatter(imp: GraphImporter, node: torch.fx.Node, x: Any, dim: int, index: Any, src: Any, *,
                    reduce: str | None = None) -> SSAValue:
    dtype, shape = _meta(node)
    mode = "add" if node.target is aten.scatter_add.default else {None: "none", "add": "add"}.get(reduce)
    if mode is None:
        raise UnsupportedOpError(f"scatter with reduce={reduce!r} is not supported (only 'add')", imp.current_source)
    index_value = imp.values[index]
    if isinstance(src, torch.fx.Node):
        source = imp.cast(imp.values[src], dtype)
    else:
        source = imp.full(src, dtype, _shape(index_value))
    dim %= max(len(shape), 1)
    return imp.add(rgraph.ScatterOp(imp.cast(imp.values[x], dtype), dim, index_value, source, mode))


# --- the long tail OpInfo asks for: functions of the PCU tail, compositions ----------------------

_MATH = {
    aten.log1p.default: "log1p", aten.expm1.default: "expm1", aten.log2.default: "log2", aten.log10.default: "log10",
    aten.exp2.default: "exp2", aten.asin.default: "asin", aten.acos.default: "acos", aten.atan.default: "atan",
    aten.sinh.default: "sinh", aten.cosh.default: "cosh", aten.tan.default: "tan", aten.asinh.default: "asinh",
    aten.acosh.default: "acosh", aten.atanh.default: "atanh", aten.trunc.default: "trunc", aten.round.default: "round",
    aten.sign.default: "sign",
}


@converts(*_MATH)
def convert_math(imp: GraphImporter, node: torch.fx.Node, x: Any) -> SSAValue:
    dtype, shape = _meta(node)
    return imp.add(rgraph.MathOp(imp.cast(imp.values[x], dtype), _MATH[node.target], tensor_type(dtype, shape)))


@converts(aten.round.decimals)
def convert_round_decimals(imp: GraphImporter, node: torch.fx.Node, x: Any, *, decimals: int = 0) -> SSAValue:
    """PyTorch's rule: round(x * 10^d) / 10^d, or round(x / 10^-d) * 10^-d for negative d (in f32
    for bf16 and f16, rounded once, as PyTorch's kernel computes)."""
    out_dtype, shape = _meta(node)
    dtype = accumulator_dtype(out_dtype)
    ty = tensor_type(dtype, shape)
    value = imp.cast(imp.values[x], dtype)
    scale = imp.full(10.0 ** abs(decimals), dtype)
    scaled = imp.add((rgraph.MulOp if decimals >= 0 else rgraph.DivOp)(value, scale, ty))
    rounded = imp.add(rgraph.MathOp(scaled, "round", ty))
    return imp.cast(imp.add((rgraph.DivOp if decimals >= 0 else rgraph.MulOp)(rounded, scale, ty)), out_dtype)


@converts(aten.isinf.default)
def convert_isinf(imp: GraphImporter, node: torch.fx.Node, x: Any) -> SSAValue:
    dtype, shape = _meta(node)
    value = imp.values[x]
    if dtype_of(value.type) not in FLOAT_DTYPES:
        return imp.full(False, "i1", shape)
    magnitude = imp.add(rgraph.AbsOp(value))
    return imp.add(rgraph.EqOp(magnitude, imp.full(float("inf"), dtype_of(value.type)), tensor_type("i1", shape)))


@converts(aten.hardtanh.default)
def convert_hardtanh(imp: GraphImporter, node: torch.fx.Node, x: Any, lo: float = -1.0, hi: float = 1.0) -> SSAValue:
    return convert_clamp(imp, node, x, lo, hi)


def _positive_or(imp: GraphImporter, node: torch.fx.Node, x: Any, negative: Callable[[SSAValue], SSAValue],
                 positive: Callable[[SSAValue], SSAValue] = lambda v: v) -> SSAValue:
    """where(x > 0, positive(x), negative(x)): the shape of leaky_relu and elu."""
    dtype, shape = _meta(node)
    value = imp.cast(imp.values[x], dtype)
    above = imp.add(rgraph.GtOp(value, imp.full(0, dtype), tensor_type("i1", shape)))
    return imp.add(rgraph.WhereOp(above, positive(value), negative(value), tensor_type(dtype, shape)))


@converts(aten.leaky_relu.default)
def convert_leaky_relu(imp: GraphImporter, node: torch.fx.Node, x: Any, negative_slope: float = 0.01) -> SSAValue:
    dtype, _ = _meta(node)
    return _positive_or(imp, node, x, lambda v: imp.add(rgraph.MulOp(v, imp.full(negative_slope, dtype), v.type)))


@converts(aten.elu.default)
def convert_elu(imp: GraphImporter, node: torch.fx.Node, x: Any, alpha: float = 1.0, scale: float = 1.0,
                input_scale: float = 1.0) -> SSAValue:
    """scale * (x if x > 0 else alpha * expm1(input_scale * x)); selu and celu arrive as elu."""
    dtype, _ = _meta(node)

    def times(v: SSAValue, k: float) -> SSAValue:
        return v if k == 1 else imp.add(rgraph.MulOp(v, imp.full(k, dtype), v.type))

    return _positive_or(imp, node, x, lambda v: times(imp.add(rgraph.MathOp(times(v, input_scale), "expm1")), alpha * scale),
                        lambda v: times(v, scale))


@converts(aten.argmin.default)
def convert_argmin(imp: GraphImporter, node: torch.fx.Node, x: Any, dim: int | None = None, keepdim: bool = False) -> SSAValue:
    """argmax of the negated input: the first minimum (a NaN, if any, like torch)."""
    value = imp.values[x]
    if dtype_of(value.type) == "i1":
        value = imp.cast(value, "i64")
    return imp.add(rgraph.ArgmaxOp(imp.add(rgraph.NegOp(value)), dim, keepdim, _type(node)))


@converts(aten.min.dim)
def convert_min_dim(imp: GraphImporter, node: torch.fx.Node, x: Any, dim: int, keepdim: bool = False) -> tuple[SSAValue, SSAValue]:
    values = _reduce(imp, node, "amin", x, [dim], keepdim, index=0)
    value = imp.values[x]
    if dtype_of(value.type) == "i1":
        value = imp.cast(value, "i64")
    return values, imp.add(rgraph.ArgmaxOp(imp.add(rgraph.NegOp(value)), dim, keepdim, _type(node, 1)))


@converts(aten.var_mean.correction)
def convert_var_mean(imp: GraphImporter, node: torch.fx.Node, x: Any, dims: Any = None, *, correction: Any = 1,
                     keepdim: bool = False) -> tuple[SSAValue, SSAValue]:
    var = convert_var(imp, _FirstResult(node, 0), x, dims, correction=correction, keepdim=keepdim)
    return var, _reduce(imp, node, "mean", x, dims, keepdim, index=1)


class _FirstResult:
    """A multi-result FX node seen as its `index`-th result, for converters written for one."""

    def __init__(self, node: torch.fx.Node, index: int):
        self.meta = {"val": node.meta["val"][index]}
        self.target = node.target


@converts(aten.linalg_vector_norm.default)
def convert_vector_norm(imp: GraphImporter, node: torch.fx.Node, x: Any, ord: float = 2, dim: Any = None,  # noqa: A002
                        keepdim: bool = False, *, dtype: Any = None) -> SSAValue:
    """sum(|x|^p)^(1/p), with the special orders inf (max), -inf (min) and 0 (count of non-zeros);
    bf16/f16 compute in f32 and round once."""
    result_dtype, shape = _meta(node)
    out_dtype = accumulator_dtype(result_dtype)
    value = imp.cast(imp.values[x], out_dtype)
    dims = [] if dim is None or not _shape(value) else ([dim] if isinstance(dim, int) else list(dim))
    out = tensor_type(out_dtype, shape)
    magnitude = imp.add(rgraph.AbsOp(value))
    if ord in (float("inf"), float("-inf")):
        return imp.cast(imp.add((rgraph.AmaxOp if ord > 0 else rgraph.AminOp)(magnitude, dims, keepdim, out)), result_dtype)
    if ord == 0:
        nonzero = imp.add(rgraph.NeOp(value, imp.full(0, out_dtype), tensor_type("i1", _shape(value))))
        return imp.cast(imp.add(rgraph.SumOp(imp.cast(nonzero, out_dtype), dims, keepdim, out)), result_dtype)
    if ord == 1:
        return imp.cast(imp.add(rgraph.SumOp(magnitude, dims, keepdim, out)), result_dtype)
    if ord == 2:
        square = imp.add(rgraph.MulOp(value, value, value.type))
        return imp.cast(imp.add(rgraph.SqrtOp(imp.add(rgraph.SumOp(square, dims, keepdim, out)))), result_dtype)
    powered = imp.add(rgraph.PowOp(magnitude, imp.full(float(ord), out_dtype), magnitude.type))
    total = imp.add(rgraph.SumOp(powered, dims, keepdim, out))
    return imp.cast(imp.add(rgraph.PowOp(total, imp.full(1.0 / ord, out_dtype), out)), result_dtype)


@converts(aten.addmv.default)
def convert_addmv(imp: GraphImporter, node: torch.fx.Node, bias: Any, mat: Any, vec: Any, *, beta: Any = 1,
                  alpha: Any = 1) -> SSAValue:
    """beta * bias + alpha * (mat @ vec), the vector as a one-column matrix for the systolic body;
    beta = 0 ignores the bias (NaNs included), as PyTorch does. bf16/f16 compute in f32, round once."""
    out_dtype, shape = _meta(node)
    dtype = accumulator_dtype(out_dtype)
    matrix, vector = imp.cast(imp.values[mat], dtype), imp.cast(imp.values[vec], dtype)
    column = imp.add(rgraph.ReshapeOp(vector, tensor_type(dtype, (_shape(vector)[0], 1))))
    product = imp.add(rgraph.MatmulOp(matrix, column, tensor_type(dtype, (shape[0], 1))))
    out = tensor_type(dtype, shape)
    return imp.cast(_scaled_sum(imp, imp.add(rgraph.ReshapeOp(product, out)), bias, alpha, beta, dtype, out), out_dtype)


@converts(aten.addbmm.default)
def convert_addbmm(imp: GraphImporter, node: torch.fx.Node, bias: Any, a: Any, b: Any, *, beta: Any = 1,
                   alpha: Any = 1) -> SSAValue:
    """beta * bias + alpha * sum over the batch of a[i] @ b[i] (bf16/f16: in f32, rounded once)."""
    out_dtype, shape = _meta(node)
    dtype = accumulator_dtype(out_dtype)
    lhs, rhs = imp.cast(imp.values[a], dtype), imp.cast(imp.values[b], dtype)
    batch = _shape(lhs)[0]
    products = imp.add(rgraph.MatmulOp(lhs, rhs, tensor_type(dtype, (batch,) + shape)))
    out = tensor_type(dtype, shape)
    return imp.cast(_scaled_sum(imp, imp.add(rgraph.SumOp(products, [0], False, out)), bias, alpha, beta, dtype, out), out_dtype)


def _scaled_sum(imp: GraphImporter, product: SSAValue, bias: Any, alpha: Any, beta: Any, dtype: str, out) -> SSAValue:
    if alpha != 1:
        product = imp.add(rgraph.MulOp(product, imp.full(alpha, dtype), out))
    if beta == 0:
        return product
    addend = imp.cast(imp.value(bias, dtype), dtype)
    if beta != 1:
        addend = imp.add(rgraph.MulOp(addend, imp.full(beta, dtype), addend.type))
    return imp.add(rgraph.AddOp(product, addend, out))


def _positions(imp: GraphImporter, stem: str, positions: list[int]) -> SSAValue:
    return _constant(imp, stem, torch.tensor(positions, dtype=torch.int64))


def _take_positions(imp: GraphImporter, value: SSAValue, dim: int, positions: list[int], stem: str) -> SSAValue:
    """value's slices along `dim` at compile-time `positions`: a PMU gather (flip, reflection padding)."""
    shape = list(_shape(value))
    shape[dim] = len(positions)
    return imp.add(rgraph.IndexSelectOp(value, _positions(imp, stem, positions), dim,
                                        tensor_type(dtype_of(value.type), tuple(shape))))


@converts(aten.flip.default)
def convert_flip(imp: GraphImporter, node: torch.fx.Node, x: Any, dims: list) -> SSAValue:
    value = imp.values[x]
    rank = len(_shape(value))
    for d in sorted({d % max(rank, 1) for d in dims}):
        if rank and _shape(value)[d] > 1:
            value = _take_positions(imp, value, d, list(range(_shape(value)[d] - 1, -1, -1)), "flip.positions")
    return value


@converts(aten.repeat.default)
def convert_repeat(imp: GraphImporter, node: torch.fx.Node, x: Any, repeats: list) -> SSAValue:
    """x.repeat(r): x with leading ones, each dim d widened to (r_d, n_d) by expand, then merged."""
    dtype, shape = _meta(node)
    value = imp.values[x]
    src = (1,) * (len(repeats) - len(_shape(value))) + _shape(value)
    interleaved = tuple(v for s in src for v in (1, s))
    widened = tuple(v for r, s in zip(repeats, src) for v in (r, s))
    spread = imp.add(rgraph.ReshapeOp(value, tensor_type(dtype, interleaved)))
    expanded = imp.add(rgraph.ExpandOp(spread, tensor_type(dtype, widened)))
    return imp.add(rgraph.ReshapeOp(expanded, tensor_type(dtype, shape)))


@converts(aten.diagonal.default)
def convert_diagonal(imp: GraphImporter, node: torch.fx.Node, x: Any, offset: int = 0, dim1: int = 0, dim2: int = 1) -> SSAValue:
    """The diagonal as one index over (dim1, dim2) at compile-time positions, moved last like torch."""
    dtype, shape = _meta(node)
    value = imp.values[x]
    rank = len(_shape(value))
    d1, d2 = dim1 % rank, dim2 % rank
    rest = [d for d in range(rank) if d not in (d1, d2)]
    moved = imp.add(rgraph.PermuteOp(value, rest + [d1, d2],
                                     tensor_type(dtype, tuple(_shape(value)[d] for d in rest + [d1, d2]))))
    n = shape[-1]
    rows = [i - min(offset, 0) for i in range(n)]
    cols = [i + max(offset, 0) for i in range(n)]
    if n == 0:
        return imp.full(0, dtype, shape)
    return imp.add(rgraph.IndexOp(moved, [_positions(imp, "diagonal.rows", rows), _positions(imp, "diagonal.cols", cols)],
                                  [rank - 2, rank - 1], tensor_type(dtype, shape)))


@converts(aten.constant_pad_nd.default)
def convert_constant_pad(imp: GraphImporter, node: torch.fx.Node, x: Any, pad: list, value: Any = 0) -> SSAValue:
    """Padding as concatenation with filled blocks (PMU writes), negative padding as a slice;
    `pad` lists (before, after) pairs from the last dim backwards, as F.pad does."""
    dtype, _ = _meta(node)
    return _pad(imp, imp.cast(imp.values[x], dtype), list(pad), value)


def _pad(imp: GraphImporter, out: SSAValue, pad: list[int], value: Any) -> SSAValue:
    dtype = dtype_of(out.type)
    rank = len(_shape(out))
    for i in range(len(pad) // 2):
        dim = rank - 1 - i
        before, after = pad[2 * i], pad[2 * i + 1]
        size = _shape(out)[dim]
        out = _slice(imp, out, dim, max(-before, 0), size - max(-after, 0), 1)
        pieces = []
        for width in (before, None, after):
            if width is None:
                pieces.append(out)
            elif width > 0:
                block = list(_shape(out))
                block[dim] = width
                pieces.append(imp.full(value, dtype, tuple(block)))
        if len(pieces) > 1:
            shape = list(_shape(out))
            shape[dim] += max(before, 0) + max(after, 0)
            out = imp.add(rgraph.ConcatOp(pieces, dim, tensor_type(dtype, tuple(shape))))
    return out


@converts(aten.native_group_norm.default)
def convert_group_norm(imp: GraphImporter, node: torch.fx.Node, x: Any, weight: Any, bias: Any, n: int, channels: int,
                       hxw: int, groups: int, eps: float) -> tuple:
    """Group norm as layer norm's pieces over (channels / groups, spatial) of each group (in f32
    for bf16 and f16, like layer norm)."""
    out_dtype, shape = _meta(node, 0)
    dtype = accumulator_dtype(out_dtype)
    value = imp.cast(imp.values[x], dtype)
    grouped_shape = (n, groups, (channels // groups) * hxw)
    grouped = imp.add(rgraph.ReshapeOp(value, tensor_type(dtype, grouped_shape)))
    kept = tensor_type(dtype, (n, groups, 1))
    full = tensor_type(dtype, grouped_shape)
    mean = imp.add(rgraph.MeanOp(grouped, [2], True, kept))
    centred = imp.add(rgraph.SubOp(grouped, mean, full))
    var = imp.add(rgraph.MeanOp(imp.add(rgraph.MulOp(centred, centred, full)), [2], True, kept))
    rstd = imp.add(rgraph.RsqrtOp(imp.add(rgraph.AddOp(var, imp.full(eps, dtype), kept))))
    out = imp.add(rgraph.ReshapeOp(imp.add(rgraph.MulOp(centred, rstd, full)), tensor_type(dtype, shape)))
    per_channel = tensor_type(dtype, (channels,) + (1,) * (len(shape) - 2))
    if weight is not None:
        out = imp.add(rgraph.MulOp(out, imp.add(rgraph.ReshapeOp(imp.cast(imp.values[weight], dtype), per_channel)),
                                   tensor_type(dtype, shape)))
    if bias is not None:
        out = imp.add(rgraph.AddOp(out, imp.add(rgraph.ReshapeOp(imp.cast(imp.values[bias], dtype), per_channel)),
                                   tensor_type(dtype, shape)))
    stats = tensor_type(dtype, (n, groups))
    return (imp.cast(out, out_dtype), imp.cast(imp.add(rgraph.ReshapeOp(mean, stats)), _meta(node, 1)[0]),
            imp.cast(imp.add(rgraph.ReshapeOp(rstd, stats)), _meta(node, 2)[0]))
