"""ATen op -> rgraph translation, one small converter per op family.

Converters receive the importer, the FX node and the node's arguments. Result types always come
from the node's `meta['val']`, so PyTorch's own shape and dtype rules decide, and operand dtypes
are cast to the computation dtype here so that no later stage has to know type promotion.
"""

from __future__ import annotations

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
    dtype, shape = _meta(node)
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
    return imp.add(rgraph.DivOp(total, divisor, tensor_type(dtype, shape)))


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
    """Layer norm as the pieces a streaming pipeline fuses: mean, centre, variance, rsqrt, scale."""
    dtype, shape = _meta(node, 0)
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
        out = imp.add(rgraph.MulOp(out, imp.values[weight], full_type))
    if bias is not None:
        out = imp.add(rgraph.AddOp(out, imp.values[bias], full_type))
    return out, mean, rstd


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
    if transposed:
        raise UnsupportedOpError("transposed convolution is not supported (use upsampling followed by a convolution)",
                                 imp.current_source)
    if spatial not in (1, 2):
        raise UnsupportedOpError(f"convolution over {spatial} spatial dims is not supported (1-D and 2-D are)", imp.current_source)
    w_shape = _shape(w)
    kernel = list(w_shape[2:])
    cols = _im2col(imp, value, kernel, _ints(stride, spatial), _ints(padding, spatial), _ints(dilation, spatial), groups)
    out_channels = w_shape[0]
    matrix = imp.add(rgraph.ReshapeOp(w, tensor_type(dtype, (groups, out_channels // groups, _shape(cols)[2]))))
    product = imp.add(rgraph.MatmulOp(matrix, cols, tensor_type(dtype, (shape[0], groups, out_channels // groups, _shape(cols)[3]))))
    out = imp.add(rgraph.ReshapeOp(product, tensor_type(dtype, shape)))
    if bias is not None:
        per_channel = tensor_type(dtype, (out_channels,) + (1,) * spatial)
        out = imp.add(rgraph.AddOp(out, imp.add(rgraph.ReshapeOp(imp.values[bias], per_channel)), tensor_type(dtype, shape)))
    return out


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
    _window_output(imp, node, value, kernel, strides, pads, dilations)
    channels = _shape(value)[1]
    cols = _im2col(imp, value, kernel, strides, pads, dilations, channels, "lowest")
    n, c, k, l = _shape(cols)
    pooled = imp.add(rgraph.AmaxOp(cols, [2], False, tensor_type(dtype, (n, c, l))))
    values = imp.add(rgraph.ReshapeOp(pooled, tensor_type(dtype, shape)))
    if not any(u.target is getitem and u.args[1] == 1 for u in node.users):
        return values, None
    height, width = _shape(value)[2:]
    flat = imp.add(rgraph.ArangeOp(0, height * width, 1, tensor_type("i64", (height * width,))))
    positions = imp.add(rgraph.ReshapeOp(flat, tensor_type("i64", (1, 1, height, width))))
    position_cols = imp.add(rgraph.ExpandOp(_im2col(imp, positions, kernel, strides, pads, dilations, 1), tensor_type("i64", (n, c, k, l))))
    best = imp.add(rgraph.ArgmaxOp(cols, 2, True, tensor_type("i64", (n, c, 1, l))))
    picked = imp.add(rgraph.GatherOp(position_cols, best, 2, tensor_type("i64", (n, c, 1, l))))
    return values, imp.add(rgraph.ReshapeOp(picked, tensor_type("i64", shape)))


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
    """out = rows @ x @ cols.T over the last two dims: two matmuls on the PCU's systolic body."""
    dtype, shape = _meta(node)
    value = imp.cast(imp.values[x], dtype)
    lead = _shape(value)[:-2]
    left = imp.add(rgraph.MatmulOp(_constant(imp, f"{stem}.rows", rows), value,
                                   tensor_type(dtype, lead + (shape[-2], _shape(value)[-1]))))
    return imp.add(rgraph.MatmulOp(left, _constant(imp, f"{stem}.cols", cols.T.contiguous()), tensor_type(dtype, shape)))


@converts(aten._adaptive_avg_pool2d.default, aten.adaptive_avg_pool2d.default)
def convert_adaptive_avg_pool(imp: GraphImporter, node: torch.fx.Node, x: Any, output_size: Any) -> SSAValue:
    dtype, shape = _meta(node)
    if dtype not in _TORCH_DTYPES:
        raise UnsupportedOpError(f"adaptive average pooling of {dtype} tensors is not supported", imp.current_source)
    height, width = _shape(imp.values[x])[-2:]
    rows = _axis_matrix(lambda b: aten._adaptive_avg_pool2d(b, [shape[-2], 1]), height, dtype)
    cols = _axis_matrix(lambda b: aten._adaptive_avg_pool2d(b, [shape[-1], 1]), width, dtype)
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
    rows = _axis_matrix(lambda b: aten.upsample_bilinear2d.vec(b, _resample_args(shape[-2], scales, 0)[0], align_corners, _resample_args(shape[-2], scales, 0)[1]), height, dtype)
    cols = _axis_matrix(lambda b: aten.upsample_bilinear2d.vec(b, _resample_args(shape[-1], scales, 1)[0], align_corners, _resample_args(shape[-1], scales, 1)[1]), width, dtype)
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
