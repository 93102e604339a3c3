"""Spill a reconvergent branch through HBM: split a kernel at the join the SRAM cannot buffer.

rdu-size-fifos gives the short path of every reconvergent pair (a residual add, attention's
softmax·V) a FIFO deep enough that the kernel cannot deadlock. When that depth does not fit the
PMUs' SRAM (Llama-3.1-8B prefill at 2K tokens on one socket of TP8, Mistral-7B prefill at 8K),
the paper's answer is the memory hierarchy (SN40L §V-A: HBM and DDR hold what SRAM cannot; a
kernel, a streaming section of the program, is the unit of execution): the short branch waits in
HBM instead of on chip. This module does that by splitting the kernel at the join:

* the first kernel keeps every stage that does not depend on the join; the second takes the join
  and everything downstream of it, in program order, with the stages that only feed those and do
  not feed the join (a constant, a load read only after the join);
* every value the second kernel reads from the first crosses through HBM: a value the first
  kernel itself loaded from a tensor (through buffers only) is simply loaded again from that
  tensor; any other is stored by the first kernel into a new tensor of role `spill` and loaded by
  the second. Each new load is staged by a PMU buffer, as rdu-lower stages every load.

Why a split rather than one kernel whose short branch goes out to HBM and is read back by an AGCU
when the join needs it: that single kernel would keep the long path fused into the join, but its
read-back must wait for the write of the same tile, an ordering between two AGCU stages of one
kernel that no stream expresses. The dialect, the bitstream and both simulators know a stage's
inputs only as streams, and a load of a tensor stored in the same kernel is exactly the aliasing
hazard they forbid (the whole load would race the store). A split needs nothing new below this
pass: kernels already run one after another, loads and stores already move values through HBM,
memory planning already gives the new tensors their addresses. What it costs against the
one-kernel design is bounded and visible: one more kernel launch, and the long branch's last value
also goes through HBM (once each way); the fusion on each side of the join is kept, and a branch
that starts at a load (the residual stream of a decoder layer, which a previous kernel stored)
costs no extra write at all. rdu-size-fifos splits only where its sizing has failed, and sizes
each half again (splitting again if a half still cannot hold a branch), so programs that fit are
unchanged.

The decision is in the IR (tensors of role `spill`, stores and loads of them) and in the bitstream
(`rducc inspect` lists spill tensors and counts them).
"""

from __future__ import annotations

import re

from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Region, SSAValue

from dialects import rdu
from dialects.rdu_attrs import MemType, Role
from dialects.types import value_bytes


def second_half(kernel: rdu.KernelOp, join: rdu.StageOp) -> set[rdu.StageOp]:
    """The stages the second kernel runs: `join` and everything downstream of it, and the stages
    that feed only those without depending on the join's inputs either (a constant, a load used
    only after the join), which move with their readers rather than cross through HBM; except the
    makers of an operand a query-block matmul holds whole (`row_order.resident_sources`), which
    stay in the first kernel: their reader waits for the whole value either way."""
    from passes.row_order import resident_sources

    after = downstream(join)
    above = upstream(join) | resident_sources(kernel)
    for s in reversed(kernel.stages()):
        if s in after or s in above:
            continue
        readers = [c for r in s.results for c in s.consumers(r)]
        if readers and all(c in after for c in readers):
            after.add(s)
    return after


def upstream(join: rdu.StageOp) -> set[rdu.StageOp]:
    """Every stage of the kernel `join` reads from, directly or not."""
    seen: set[rdu.StageOp] = set()
    todo = [join]
    while todo:
        for v in todo.pop().operands:
            if isinstance(v.owner, rdu.StageOp) and v.owner not in seen:
                seen.add(v.owner)
                todo.append(v.owner)
    return seen


def downstream(join: rdu.StageOp) -> set[rdu.StageOp]:
    """`join` and every stage of its kernel that reads, directly or not, what it produces."""
    seen = {join}
    todo = [join]
    while todo:
        for r in todo.pop().results:
            for c in r.owner.consumers(r):
                if c not in seen:
                    seen.add(c)
                    todo.append(c)
    return seen


def loaded_tensor(value: SSAValue, kernel: rdu.KernelOp) -> SSAValue | None:
    """The tensor `value` was loaded from, through buffers only (which pass tiles on unchanged),
    or None: such a value is in memory already, and a later kernel may load it again, unless the
    kernel also writes that tensor (a KV cache's new row): then it is spilled like any other."""
    op = value.owner
    while isinstance(op, rdu.BufferOp):
        op = op.input.owner
    if not isinstance(op, rdu.LoadOp):
        return None
    written = any(isinstance(s, (rdu.StoreOp, rdu.StoreRowsOp)) and s.tensor is op.tensor for s in kernel.stages())
    return None if written else op.tensor


def unique_name(module: ModuleOp, base: str, first: int = 0) -> str:
    taken = {op.sym_name.data for op in module.body.block.ops if isinstance(op, (rdu.TensorOp, rdu.KernelOp))}
    n = first
    while f"{base}{n}" in taken:
        n += 1
    return f"{base}{n}"


def split_at_join(module: ModuleOp, kernel: rdu.KernelOp, join: rdu.StageOp) -> tuple[rdu.KernelOp, rdu.KernelOp, list[rdu.TensorOp]]:
    """Split `kernel` in two at `join` (see the module docstring): returns the first kernel (this
    one, shrunk), the second (inserted right after it) and the spill tensors created. Units, tiles
    and depths of the new stages are left for rdu-allocate-units' rules to set again."""
    assert join.parent_op() is kernel
    after = second_half(kernel, join)
    moving = [s for s in kernel.stages() if s in after]
    crossing: list[SSAValue] = []  # values of the first kernel the second reads, in program order
    for s in kernel.stages():
        if s in after:
            continue
        for r in s.results:
            if any(c in after for c in s.consumers(r)) and r not in crossing:
                crossing.append(r)
    root = re.sub(r"\.part\d+$", "", kernel.sym_name.data)  # forward -> forward.part1, forward.part1 -> forward.part2
    second = rdu.KernelOp(unique_name(module, f"{root}.part", first=1), Region(Block()))
    second.location = kernel.location
    module.body.block.insert_op_after(second, kernel)
    spills: list[rdu.TensorOp] = []
    body = second.body.block
    for v in crossing:
        tensor = loaded_tensor(v, kernel)
        if tensor is None:  # the first kernel writes the branch to HBM
            t = rdu.TensorOp(unique_name(module, f"{root}.spill"), MemType.of(v.type), Role.SPILL,
                             origin=join)
            module.body.block.insert_op_before(t, kernel)
            spills.append(t)
            store = rdu.carry_location(join, rdu.StoreOp(v, t.result))
            kernel.body.block.add_op(store)
            tensor = t.result
        load = rdu.carry_location(join, rdu.LoadOp(tensor))
        staged = rdu.carry_location(join, rdu.BufferOp(load.result, 0, 0))
        body.add_ops([load, staged])
        for s in moving:
            for use in list(v.uses):
                if use.operation is s:
                    s.operands[use.index] = staged.result
    for s in moving:
        s.detach()
        body.add_op(s)
    return kernel, second, spills


def spill_bytes(tensors: list[rdu.TensorOp]) -> int:
    return sum(value_bytes(t.result.type) for t in tensors)
