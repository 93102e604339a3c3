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
"""

from __future__ import annotations

from dataclasses import dataclass

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


def head_outer_source(permute: rdu.StageOp, lanes: int) -> HeadOuter | None:
    """The head-outer plan that makes `permute` stream, or None (see the module docstring)."""
    from bitstream_format.tiling import keeps_last_axis, streams_in_order

    if not isinstance(permute, rdu.ComputeOp) or permute.opcode.data != "permute" or len(permute.inputs) != 1:
        return None
    p_in = shape_of(permute.inputs[0].type)
    rank = len(p_in)
    dims = _dims(permute)
    if rank < 3 or not keeps_last_axis(dims, rank):
        return None
    value = permute.inputs[0]
    while True:
        if not _sole_use(value):
            return None
        owner = value.owner
        if isinstance(owner, rdu.BufferOp):
            value = owner.input
        elif isinstance(owner, rdu.ComputeOp) and owner.opcode.data == "reshape" and len(owner.inputs) == 1:
            value = owner.inputs[0]
        else:
            break
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


def head_outer_plans(kernel: rdu.KernelOp, lanes: int) -> dict[rdu.StageOp, HeadOuter]:
    """Every plan of the kernel, keyed by both its producer and its permute."""
    plans: dict[rdu.StageOp, HeadOuter] = {}
    for stage in kernel.stages():
        plan = head_outer_source(stage, lanes)
        if plan is not None:
            plans[plan.producer] = plan
            plans[plan.permute] = plan
    return plans
