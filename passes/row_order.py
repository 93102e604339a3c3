"""Which heads transposes stream: a matmul tiled head-outer feeding a permute that keeps the last axis.

A permute that keeps the last axis (attention's `[S, H, D] -> [H, S, D]`) moves whole rows of D,
but in the producer's usual order (M tiles outside N tiles: every head of a block of rows, then
the next block) the permute's first output row, head 0 of the last position, arrives with the
producer's last tile: the permute is a pipeline break that holds the whole value. Tiled
head-outer instead (N tiles of exactly one head, outside M tiles: order `b,n,m,k`), the
projection emits head 0's rows for every position, then head 1's, which is the permute's output
order: the permute streams, one tile of rows in its FIFO instead of the value, and its PMU writes
each arriving row at the address of the output row it becomes (the paper's PMU data alignment).

The rule (read by rdu-tile, which records both loops, and rdu-size-fifos, which must see the same
pipeline breaks): a `permute` keeps the last axis; its input comes from a `matmul` or `linear`
through reshapes and buffers only, each value on the way read by nothing else (another reader
would see the new order); that reshape splits the producer's N into heads (`[..., N] -> [..., H,
D]`) with D at least one vector (a tile is never narrower); and the permute's output row order
is the head-outer arrival order. Anything else keeps the whole-value permute.

Attention's output transpose (`[B, H, S, D] -> [B, S, H, D]`, then viewed `[B, S, H*D]` for the
`o` projection) cannot stream that way: softmax·V tiled batch-outer sends head 0's rows for every
position first, and the `o` projection needs every head of position 0 first. So attention runs
**query-block outer** (`QueryBlock`): both its matmuls (Q·Kᵀ and softmax·V, found as a batched
`matmul` feeding, through reshapes, buffers and row-wise stages read by nothing else, the
softmax·V's A operand) are tiled `m,b,n,k` with the same block of `mt` query rows, so the scores,
the softmax and the product leave block by block, every head of a block before the next block;
softmax·V sends the rows of block q in order (head, position within the block). The transpose
then streams by windows: its loop order `rows@S/B,0,..,S` names that arrival (dim S in blocks of
B = mt, outermost), and its PMU writes each arriving row into a window of `B x H` output rows,
which it sends whole in output order before the next block (double-buffered). The K and V
operands, which every block needs for every head, stay resident in their PMU buffers
(`bitstream_format.tiling.matmul_loop`, `functional_sim.tile_timing.held_operands`). At batch
N > 1 the output's order is (batch, position, head), so the batch is an outer loop: both matmuls
run `o{N},m,b,n,k` (every block of batch entry 0's heads, then entry 1's) and the transpose's
arrival is `rows@0,S/B,1,S` (windows of one batch entry, `QueryBlock.outer`).

Those resident operands are a pipeline break that rdu-size-fifos must see (`held_inputs`), and a
kernel that has to split below such an attention splits before its scores (`attention_split`),
so the projections and attention do not run in series in one kernel.

The other whole stages of attention stream by *windows* without a plan (shapes alone decide:
`bitstream_format.tiling.window_loop`): Kᵀ, the transpose of the last two axes, one `[S, D]`
matrix at a time, and GQA's expand, one KV head at a time, re-read once per query head
(passes/layout_windows.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from dialects import rdu
from dialects.types import shape_of


@dataclass(frozen=True)
class HeadOuter:
    """A producer to tile head-outer (`head_dim` columns per N tile) and the permute it feeds,
    whose input rows then arrive in `arrival` order (its input's leading dims, outermost first)."""

    producer: rdu.ComputeOp
    permute: rdu.ComputeOp
    head_dim: int
    arrival: tuple[int, ...]


def _sole_use(value) -> bool:
    return sum(1 for _ in value.uses) == 1


def _dims(stage: rdu.ComputeOp) -> list[int]:
    dims = stage.param_values().get("dims", [])
    return [int(d) for d in ([dims] if isinstance(dims, int) else list(dims or []))]


def last_axis_permute(stage: rdu.StageOp) -> tuple[tuple, list[int]] | None:
    """(its input's shape, its dims) when `stage` is a permute of rank 3 or more that keeps the
    last axis (rows move whole), the kind both plans make stream; else None."""
    from bitstream_format.tiling import keeps_last_axis

    if not isinstance(stage, rdu.ComputeOp) or stage.opcode.data != "permute" or len(stage.inputs) != 1:
        return None
    p_in, dims = shape_of(stage.inputs[0].type), _dims(stage)
    return (p_in, dims) if len(p_in) >= 3 and keeps_last_axis(dims, len(p_in)) else None


def head_outer_source(permute: rdu.StageOp, lanes: int) -> HeadOuter | None:
    """The head-outer plan that makes `permute` stream, or None (see the module docstring)."""
    from bitstream_format.tiling import streams_in_order

    found = last_axis_permute(permute)
    if found is None:
        return None
    (p_in, dims), rank = found, len(found[0])
    owner = _through_layout(permute.inputs[0])
    if not (isinstance(owner, rdu.ComputeOp) and owner.opcode.data in ("matmul", "linear")
            and len(owner.outputs) == 1 and owner.unit_kind == "pcu"):
        return None
    out = shape_of(owner.outputs[0].type)
    head_dim, heads = p_in[-1], p_in[-2]
    if len(out) < 1 or out[-1] != heads * head_dim or tuple(p_in[:-2]) != tuple(out[:-1]) or head_dim < lanes:
        return None
    batch = max(0, len(out) - 2)  # head-outer, a linear's dims before its last leading one are a batch too
    arrival = (*range(batch), rank - 2, *range(batch, rank - 2))
    if not streams_in_order(dims, arrival, p_in):
        return None
    return HeadOuter(owner, permute, head_dim, arrival)


@dataclass(frozen=True)
class QueryBlock:
    """Attention run query-block outer: `producer` (softmax·V) and `scores` (Q·Kᵀ) tiled `m,b,n,k`
    with `block` query rows per M tile; the `permute` (the output transpose) then receives its input
    rows in `arrival` order (blocked: `bitstream_format.tiling.blocked`)."""

    producer: rdu.ComputeOp
    scores: rdu.ComputeOp
    permute: rdu.ComputeOp
    block: int
    arrival: tuple
    outer: int = 1  # attention's batch entries, run one after another (`o{outer},m,b,n,k`)


ROW_WISE_PASS = ("reshape", "div", "mul", "add", "sub", "softmax", "cast", "exp")  # rows in, the same rows out


def _through_layout(value):
    """The stage that makes `value`, back through reshapes and buffers each read by this path alone
    (None when another reader sees the value)."""
    while True:
        if not _sole_use(value):
            return None
        owner = value.owner
        if isinstance(owner, rdu.BufferOp):
            value = owner.input
        elif isinstance(owner, rdu.ComputeOp) and owner.opcode.data == "reshape" and len(owner.inputs) == 1:
            value = owner.inputs[0]
        else:
            return owner


def _scores_of(matmul: rdu.ComputeOp):
    """The batched matmul whose rows reach `matmul`'s A operand through row-wise stages only (each
    value read by this path alone, softmax over the last axis, any other operand the same for
    every batch entry, like a `[1, 1, S, S]` mask, so it too arrives block by block), or None."""
    value = matmul.inputs[0]
    rows = shape_of(value.type)[-2:-1]
    while True:
        owner = _through_layout(value)
        if not isinstance(owner, rdu.ComputeOp) or owner.unit_kind != "pcu" or len(owner.outputs) != 1:
            return None
        if owner.opcode.data == "matmul":
            return owner if shape_of(owner.outputs[0].type)[-2:-1] == rows else None
        out = shape_of(owner.outputs[0].type)
        if owner.opcode.data not in ROW_WISE_PASS or not _same_per_batch(owner.inputs[1:], out):
            return None
        if owner.opcode.data == "softmax" and int(owner.param_values().get("dim", -1)) % len(out) != len(out) - 1:
            return None
        value = owner.inputs[0]


def _same_per_batch(values, out: tuple[int, ...]) -> bool:
    """Are these operands (right-aligned to `out`) of size 1 along `out`'s batch dims (all but the
    last two)?"""
    for v in values:
        shape = shape_of(v.type)
        if len(shape) > len(out) or any(d != 1 for d in shape[:max(0, len(shape) - 2)]):
            return False
    return True


def query_block_source(permute: rdu.StageOp, lanes: int, sram_bytes: int) -> QueryBlock | None:
    """The query-block plan that makes attention's output transpose stream, or None (see the
    module docstring): `permute` keeps the last axis and moves the positions (its input's dim -2)
    outermost; its input comes through reshapes and buffers from a batched PCU `matmul` (softmax·V)
    whose rows are those positions, and that matmul's A operand comes through row-wise stages from
    another batched matmul (Q·Kᵀ) with the same rows."""
    from bitstream_format.tiling import compute_loop, streams_in_blocks
    from dialects.types import specs_of

    found = last_axis_permute(permute)
    if found is None:
        return None
    (p_in, dims), rank = found, len(found[0])
    owner = _through_layout(permute.inputs[0])
    if not (isinstance(owner, rdu.ComputeOp) and owner.opcode.data == "matmul" and len(owner.outputs) == 1
            and owner.unit_kind == "pcu" and len(owner.inputs) >= 2):
        return None
    out = shape_of(owner.outputs[0].type)
    a, b = shape_of(owner.inputs[0].type), shape_of(owner.inputs[1].type)
    if len(out) < 3 or len(a) < 3 or len(b) < 3 or prod(out) != prod(p_in) or out[-1] != p_in[-1] \
            or out[-2] != p_in[-2]:
        return None
    scores = _scores_of(owner)
    if scores is None or scores is owner or prod(shape_of(scores.outputs[0].type)[:-2]) != prod(out[:-2]):
        return None
    tiles = owner.tile_list()
    loop = compute_loop("matmul", {}, specs_of(owner.inputs), specs_of(owner.outputs[:1]), 0,
                        tiles[0] if tiles else 0, lanes, sram_bytes, query_rows=-1)
    block = loop.tile[0]
    ordering = [d for d in dims[:-1] if p_in[d] != 1]
    lead = ordering[:ordering.index(rank - 2)] if rank - 2 in ordering else []  # the batch, outside the positions
    if lead != list(range(len(lead))) or prod(out[:-2]) % max(1, prod(p_in[:len(lead)])):
        return None  # the outer dims must be the matmul batch's leading ones (it flattens them row-major)
    outer = tuple(range(len(lead)))
    arrival = (*outer, (rank - 2, block), *range(len(outer), rank - 1))
    if not streams_in_blocks(dims, arrival, p_in) or WHOLE_ATTR in permute.attributes:
        return None
    return QueryBlock(owner, scores, permute, block, arrival, prod(p_in[:len(outer)]))


# on attention's output transpose when rdu-tile could not give the query block's resident operands
# their PMUs: the transpose stays whole (as before query blocks), for every pass after
WHOLE_ATTR = "whole"


def stream_plan(stage: rdu.StageOp, lanes: int, sram_bytes: int) -> HeadOuter | QueryBlock | None:
    """The plan that makes a permute stream (head-outer heads transpose, or attention's output
    transpose query-block outer), or None: what rdu-tile records and rdu-size-fifos must see."""
    return head_outer_source(stage, lanes) or query_block_source(stage, lanes, sram_bytes)


def head_outer_plans(kernel: rdu.KernelOp, lanes: int, sram_bytes: int = 0) -> dict[rdu.StageOp, HeadOuter | QueryBlock]:
    """Every plan of the kernel, keyed by each stage it tiles (producer, permute, and a query-block
    plan's scores)."""
    plans: dict[rdu.StageOp, HeadOuter | QueryBlock] = {}
    for stage in kernel.stages():
        plan = head_outer_source(stage, lanes) or (query_block_source(stage, lanes, sram_bytes) if sram_bytes else None)
        if plan is not None:
            plans[plan.producer] = plan
            plans[plan.permute] = plan
            if isinstance(plan, QueryBlock):
                plans[plan.scores] = plan
    return plans


def resident_sources(kernel: rdu.KernelOp) -> set[rdu.StageOp]:
    """The stages upstream of an operand a query-block matmul holds whole (its batched B: every
    head's V or Kᵀ, `functional_sim.tile_timing.held_operands`). The matmul's first block waits
    for all of that value, so making it in an earlier kernel and loading it from HBM costs the
    pipeline nothing, while making it in the same kernel puts its producer (the `v` projection)
    in series before attention: a kernel split (passes/spill.py) leaves these stages in the first
    kernel rather than moving them with their reader. Whether a plan exists does not depend on the
    chip (only its block size does)."""
    keep: set[rdu.StageOp] = set()
    for stage in kernel.stages():
        plan = query_block_source(stage, 1, 1 << 40)
        if plan is None:
            continue
        for matmul in (plan.producer, plan.scores):
            todo = [matmul.inputs[1].owner]
            while todo:
                s = todo.pop()
                if isinstance(s, rdu.StageOp) and s not in keep:
                    keep.add(s)
                    todo.extend(v.owner for v in s.operands)
    return keep


def held_inputs(kernel: rdu.KernelOp, lanes: int, sram_bytes: int) -> set[tuple]:
    """(value, stage) pairs of the operands a query-block matmul holds whole (the same rule as
    `passes.tile.resident_buffers` and `functional_sim.tile_timing.held_operands`): the scores'
    q and Kᵀ, softmax·V's V. Its first step waits for every tile of them, so rdu-size-fifos must
    count them as a pipeline break on those edges, as the event engine does: without it a
    residual around attention looks short enough and deadlocks (seen when Kᵀ stopped being a
    whole stage, which had been the break that made the kernel split)."""
    held: set[tuple] = set()
    for plan in dict.fromkeys(p for p in head_outer_plans(kernel, lanes, sram_bytes).values() if isinstance(p, QueryBlock)):
        held.update({(plan.scores.inputs[0], plan.scores), (plan.scores.inputs[1], plan.scores),
                     (plan.producer.inputs[1], plan.producer)})
    return held


def attention_split(kernel: rdu.KernelOp, join: rdu.StageOp) -> rdu.StageOp:
    """Where to split a kernel that rdu-size-fifos must split at `join`: at attention's scores
    matmul instead, when `join` is downstream of a query-block attention whose resident operands
    (q, Kᵀ, V: `resident_sources`) are computed in this kernel (not only loaded). Attention's first block waits for all
    of them, so the projections and attention run in series in one kernel, each phase leaving the
    other's units idle; split there, the projections fill the chip in the first kernel (q, Kᵀ and V
    streaming out through HBM), attention, `o` and the MLP the second. Any other kernel splits at
    `join`, as before."""
    from passes.spill import downstream

    if not any(isinstance(s, rdu.ComputeOp) for s in resident_sources(kernel)):  # loaded from HBM: no series
        return join
    for stage in kernel.stages():
        plan = query_block_source(stage, 1, 1 << 40)
        if plan is not None and join in downstream(plan.scores):
            return plan.scores
    return join
