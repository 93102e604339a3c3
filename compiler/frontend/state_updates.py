"""Buffers a model mutates in place (a static KV cache) as `rgraph.update_rows` ops.

torch.export functionalises `buf.index_copy_(d, idx, rows)`, `buf[:, :, idx] = rows`,
`buf[:, a:b] = rows` and `buf.copy_(x)` into a pure op producing the buffer's new value, and lists
that value among the graph's outputs as a BUFFER_MUTATION of the buffer. The pure op is already
converted like any other (`rgraph.index_put`, `rgraph.slice_scatter`: the model reads the updated
cache through it). Here we add the in-place half: the buffer's `rgraph.weight` becomes mutable and
an `rgraph.update_rows` right after the merge writes only the new rows into the buffer's memory,
so a decode step moves one row per layer to HBM instead of copying the whole cache.
"""

from __future__ import annotations

from typing import Any

import torch
from torch.export.graph_signature import InputKind
from xdsl.dialects.builtin import UnitAttr
from xdsl.ir import Operation, SSAValue
from xdsl.utils.exceptions import VerifyException

from compiler.frontend.source_lines import node_source
from dialects import rgraph
from dialects.diagnostics import UnsupportedOpError
from dialects.types import dtype_of, shape_of, tensor_type

aten = torch.ops.aten
SUPPORTED = "index_copy_ / index_put_ on one dim, slice assignment, or copy_ of the whole buffer"


def emit_state_update(imp: Any, target: str, node: torch.fx.Node) -> None:
    """Make buffer `target` mutable and write the rows `node` (its new value) changes into it."""
    where = str(node_source(node.meta.get("stack_trace")) or "")
    buffer = node.args[0] if node.op == "call_function" and node.args else None
    if not _is_buffer(imp, buffer, target):  # `buf.copy_(x)` of the same type: the new value is x itself
        buffer = _buffer_node(imp, target)
        if buffer is None or imp.values[node].type != imp.values[buffer].type:
            raise UnsupportedOpError(
                f"the model updates buffer {target!r} with {_describe(node)}, which does not start from the buffer's "
                f"own value; rducc supports {SUPPORTED}", where)
        node_kind = aten.copy.default
    else:
        node_kind = node.target
    state = imp.values[buffer]
    weight = state.owner
    assert isinstance(weight, rgraph.WeightOp)
    if weight.result.type.get_shape() == ():
        raise UnsupportedOpError(f"the model updates the rank-0 buffer {target!r} in place; rducc updates rows of "
                                 f"buffers of rank 1 or more ({SUPPORTED})", where)
    weight.properties["mutable"] = UnitAttr()
    _fold_whole_views(imp, state)
    merge = imp.values[node]
    if node_kind is aten.index_put.default:
        dim, index, rows = _index_put_rows(imp, node, target, where)
    elif node_kind is aten.slice_scatter.default:
        dim, index, rows = _slice_rows(imp, node, merge, target, where)
    elif node_kind is aten.copy.default:
        dim, index, rows = 0, _arange(0, shape_of(state.type)[0], merge), merge
    else:
        raise UnsupportedOpError(f"the model updates buffer {target!r} in place with {_describe(node)}; rducc supports "
                                 f"{SUPPORTED}", where)
    rows = _as_rows(rows, state, merge)
    update = rgraph.UpdateRowsOp(state, dim, index, rows)
    _insert_after_last(imp, update, [index, rows, merge], merge)
    try:  # the verifier's rules, said at import in the model's words
        update.verify_()
    except VerifyException as exc:
        message = str(exc).removeprefix(f"{update.name}: ")
        raise UnsupportedOpError(f"in-place update of buffer {target!r}: {message}", where) from None


def _is_buffer(imp: Any, value: Any, target: str) -> bool:
    if not isinstance(value, torch.fx.Node) or value.op != "placeholder":
        return False
    spec = next((s for s in imp.program.graph_signature.input_specs if s.arg.name == value.name), None)
    return spec is not None and spec.kind == InputKind.BUFFER and spec.target == target


def _whole(op: Operation, shape: tuple[int, ...]) -> bool:
    """A slice or slice_scatter spanning all of its dim (`buf[:, a:b] = x` exports as one on dim 0
    around the one on dim 1)."""
    dim = op.dim.value.data % len(shape)
    return op.start.value.data == 0 and op.end.value.data >= shape[dim] and op.step.value.data == 1


def _fold_whole_views(imp: Any, state: SSAValue) -> None:
    """Replace whole-dim slices of the state by the state and whole-dim slice_scatters of it by
    their source, and drop readers left unused (a copy_'s destination view is read for its shape
    only), so that the readers the verifier sees are the merge and the update."""
    shape = shape_of(state.type)
    changed = True
    while changed:
        changed = False
        for use in list(state.uses):
            op = use.operation
            if op.parent is None:
                continue
            if isinstance(op, rgraph.SliceOp) and _whole(op, shape):
                op.result.replace_by(state)
            elif (isinstance(op, rgraph.SliceScatterOp) and op.input is state and _whole(op, shape)
                  and op.src.type == state.type):
                op.result.replace_by(op.src)
                for node, value in list(imp.values.items()):
                    if value is op.result:
                        imp.values[node] = op.src
            elif not (isinstance(op, rgraph.GraphOp) and not isinstance(op, rgraph.UpdateRowsOp)
                      and all(not r.uses for r in op.results)):
                continue
            op.detach()
            op.erase()
            changed = True


def _buffer_node(imp: Any, target: str) -> torch.fx.Node | None:
    spec = next((s for s in imp.program.graph_signature.input_specs
                 if s.kind == InputKind.BUFFER and s.target == target), None)
    return None if spec is None else next((n for n in imp.values if n.op == "placeholder" and n.name == spec.arg.name), None)


def _describe(node: torch.fx.Node) -> str:
    return str(node.target) if node.op == "call_function" else f"{node.op} {node.name}"


def _index_put_rows(imp: Any, node: torch.fx.Node, target: str, where: str) -> tuple[int, SSAValue, SSAValue]:
    indices = node.args[1]
    accumulate = node.args[3] if len(node.args) > 3 else node.kwargs.get("accumulate", False)
    given = [(d, i) for d, i in enumerate(indices) if i is not None]
    one_dim = len(given) == 1 and isinstance(given[0][1], torch.fx.Node) and given[0][1].meta["val"].dim() == 1
    if accumulate or not one_dim or given[0][1].meta["val"].dtype == torch.bool:
        raise UnsupportedOpError(
            f"the model updates buffer {target!r} with an index_put that is not a row write along one dim (1-D integer "
            f"index, no accumulate); rducc supports {SUPPORTED}", where)
    dim, index = given[0]
    return dim, imp.values[index], imp.values[node.args[2]]


def _slice_rows(imp: Any, node: torch.fx.Node, merge: SSAValue, target: str,
                where: str) -> tuple[int, SSAValue, SSAValue]:
    op = merge.owner
    if not isinstance(op, rgraph.SliceScatterOp) or op.step.value.data != 1:
        raise UnsupportedOpError(f"the model assigns a strided slice of buffer {target!r}; rducc supports {SUPPORTED}", where)
    dim = op.dim.value.data % len(shape_of(merge.type))
    start, end = op.start.value.data, op.end.value.data
    return dim, _arange(start, end, merge), op.src


def _arange(start: int, end: int, anchor: SSAValue) -> SSAValue:
    op = rgraph.ArangeOp(start, end, 1, tensor_type("i64", (end - start,)))
    op.location = anchor.owner.location if isinstance(anchor.owner, Operation) else op.location
    return op.result


def _as_rows(rows: SSAValue, state: SSAValue, merge: SSAValue) -> SSAValue:
    """The rows in the buffer's dtype (index_put broadcasts and casts its values; so do we)."""
    if dtype_of(rows.type) == dtype_of(state.type):
        return rows
    cast = rgraph.CastOp(rows, dtype_of(state.type))
    if isinstance(merge.owner, Operation):
        cast.location = merge.owner.location
    return cast.result


def _insert_after_last(imp: Any, update: rgraph.UpdateRowsOp, values: list[SSAValue], merge: SSAValue) -> None:
    """Put the new ops (an arange, a cast) and the update right after the last op they depend on,
    so fusion keeps the write in the kernel that computes the rows."""
    block = imp.block
    order = {op: i for i, op in enumerate(block.ops)}
    new_ops = [v.owner for v in (update.index, update.rows) if isinstance(v.owner, Operation) and v.owner not in order]
    deps = [v.owner for v in [*values, *(o for op in new_ops for o in op.operands)]
            if isinstance(v.owner, Operation) and v.owner in order]
    anchor = max(deps, key=order.__getitem__, default=None)
    if isinstance(merge.owner, Operation):
        update.location = merge.owner.location
    for op in [*new_ops, update]:
        if anchor is None:
            block.insert_op_before(op, block.first_op) if block.first_op else block.add_op(op)
        else:
            block.insert_op_after(op, anchor)
        anchor = op
