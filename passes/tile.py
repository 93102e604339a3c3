"""`rdu-tile`: make every stage a program of tiles: its loop, its SRAM range and its address patterns.

Earlier passes chose how many bytes each stream moves per tile (rdu-allocate-units) and how many
tiles each FIFO holds (rdu-size-fifos). This pass turns those byte counts into what the units
are configured with, and records it on every stage (`tile_loop`, `sram`, `patterns`):

* a load or store (AGCU) walks its tensor's address range in its tier, one access per tile;
* a buffer (PMU) holds a ring of tile slots on each of its PMUs at the same SRAM range, the
  stream's credits spread round-robin over them; it writes and reads the ring by pattern;
* a compute stage runs a loop of tiles whose shape comes from the chip (lanes, PMU bytes) and the
  tile bytes (bitstream_format/tiling.py): rows of elementwise ops and row reductions (a reduction
  across tiles runs as the hardware must, running max/sum or two passes), output-stationary
  matmul tiles with a K loop, and one whole-buffer tile for ops that cannot stream; a PMU stage's
  whole value is spread over its PMUs' SRAM, which must hold it;
* a heads transpose (a permute that keeps the last axis) fed by a projection streams: the
  projection is tiled head-outer and the permute's loop records the order its rows arrive in
  (passes/row_order.py); row-wise layout stages (that permute, a slice or concat of the last
  axis) double-buffer tiles of rows, round-robin over their PMUs (two slots on one PMU, one
  each on two or more), instead of holding the value.
* a matmul neither of whose operands fits the PMU buffer it arrives through holds one operand in
  its buffer in blocks (the *stationary* one) and re-streams the other from HBM once per block,
  in the order that re-reads the fewest bytes (`bitstream_format.tiling.reread_plan`); its loop
  records `restream` and `passes`, and the re-streamed operand's load walks its pattern `passes`
  times (`plan_rereads`).

Nothing here changes which units a stage has or where it sits, so rdu-place may run after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil, prod

from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, IntegerAttr, ModuleOp, i64
from xdsl.passes import ModulePass

from bitstream_format.tiling import WINDOW_ORDERS, TileLoop, compute_loop, matmul_dims, reread_plan, stream_loop
from chip_model import ChipSpec
from dialects import rdu
from dialects.diagnostics import CapacityError
from dialects.rdu_attrs import PatternAttr, SramAttr, TileLoopAttr
from dialects.types import shape_of, specs_of
from dialects.types import value_bytes as type_bytes
from passes.layout_windows import window_program
from passes.row_order import HeadOuter, QueryBlock, head_outer_plans
from passes.target import lowered_target_chip


def _attr(loop: TileLoop) -> TileLoopAttr:
    return TileLoopAttr(loop.kind, loop.grid, loop.tile, loop.order, loop.reduce, loop.reuse, loop.restream, loop.passes)


def _with_passes(loop: TileLoopAttr, restream: str, passes: int) -> TileLoopAttr:
    return TileLoopAttr(loop.kind.data, loop.grid_values(), loop.tile_values(), loop.order.data, loop.reduce.data,
                        loop.reuse.data, restream, passes)


def ring_bytes(buffer: rdu.BufferOp) -> int:
    """Bytes a tiled buffer's SRAM ring holds over all its PMUs (slots x tile x units)."""
    return buffer.sram.slots.data * buffer.sram.tile.data * buffer.unit_count if buffer.sram is not None else 0


def reloadable(stage: rdu.ComputeOp, port: int) -> rdu.LoadOp | None:
    """The load that brings operand `port` of `stage` from HBM/DDR through a buffer feeding this
    stage alone (so re-walking the load re-streams this operand and nothing else), else None."""
    value = stage.operands[port]
    buffer = value.owner
    if not isinstance(buffer, rdu.BufferOp) or buffer.consumers(value) != [stage] \
            or sum(v is value for v in stage.operands) != 1:
        return None
    load = buffer.input.owner
    if not isinstance(load, rdu.LoadOp) or load.consumers(buffer.input) != [buffer]:
        return None
    return load


def matmul_reread(stage: rdu.StageOp, held, tile: tuple[int, int] | None = None) -> tuple[str, int, rdu.LoadOp | None]:
    """(re-streamed operand, passes, its load) of a matmul stage whose operand buffers hold
    `held(buffer)` bytes and whose output tiles are `tile` (mt, nt; default its recorded loop's)
    (`bitstream_format.tiling.reread_plan`); ("", 1, None) for other stages."""
    if not isinstance(stage, rdu.ComputeOp) or stage.opcode.data not in ("matmul", "linear") or len(stage.inputs) < 2:
        return "", 1, None
    a, b = stage.inputs[0], stage.inputs[1]
    dims = matmul_dims(stage.opcode.data, shape_of(a.type), shape_of(b.type))
    if dims is None:
        return "", 1, None
    rows, cols, k = dims
    itemsize = type_bytes(a.type) // max(1, rows * k)
    caps = [held(v.owner) if isinstance(v.owner, rdu.BufferOp) else 0 for v in (a, b)]
    loads = [reloadable(stage, 0), reloadable(stage, 1)]
    if tile is None:
        tile = stage.tile_loop.tile_values()[:2] if stage.tile_loop is not None and stage.tile_loop.kind.data == "matmul" \
            else (1, 1)
    restream, passes = reread_plan(rows, cols, k, max(1, itemsize), caps[0], caps[1], loads[0] is not None,
                                   loads[1] is not None, *tile)
    return restream, passes, (loads["ab".index(restream)] if restream else None)


def plan_rereads(kernel: rdu.KernelOp) -> None:
    """Record every matmul's re-read plan on its loop and its re-streamed operand's load, from the
    rings its tiled operand buffers hold (run again whenever a buffer is re-tiled)."""
    stages = kernel.stages()
    for stage in stages:
        if isinstance(stage, rdu.LoadOp) and stage.tile_loop is not None and stage.tile_loop.passes.data != 1:
            stage.tile_loop = _with_passes(stage.tile_loop, "", 1)
    for stage in stages:
        restream, passes, load = matmul_reread(stage, ring_bytes)
        if stage.tile_loop is None or not isinstance(stage, rdu.ComputeOp):
            continue
        stage.tile_loop = _with_passes(stage.tile_loop, restream, passes)
        if load is not None and load.tile_loop is not None:
            load.tile_loop = _with_passes(load.tile_loop, "", passes)


# on a buffer whose PMUs rdu-allocate-units reserved to hold its whole value for a query-block
# matmul (`AllocateUnitsPass.reserve_resident`); rdu-tile records the holding on the buffers marked so
RESIDENT_ATTR = "resident"


def whole_tile_units(nbytes: int, tile: int, chip: ChipSpec) -> int:
    """The PMUs whose SRAM holds every tile of a value of `nbytes` in whole tiles of `tile` bytes."""
    loop = stream_loop(nbytes, tile)
    return ceil(loop.grid[0] / max(1, chip.pmu.sram_bytes // loop.tile[0]))


def stage_loop(stage: rdu.ComputeOp, chip: ChipSpec, plans: dict) -> TileLoop:
    """The tile loop rdu-tile gives a compute stage, from its tiles and the kernel's stream plans
    (`head_outer_plans`)."""
    ins, outs = specs_of(stage.inputs), specs_of(stage.outputs)
    in_tile = stream_tile_bytes(stage.inputs[0]) if stage.inputs else 0
    out_tile = stage.tile_list()[0] if stage.tile_list() else 0
    plan = plans.get(stage)
    arrival = plan.arrival if plan is not None and plan.permute is stage else None
    query = isinstance(plan, QueryBlock) and stage in (plan.producer, plan.scores)
    head_dim = plan.head_dim if isinstance(plan, HeadOuter) and plan.producer is stage else 0
    return compute_loop(stage.opcode.data, stage.param_values(), ins, outs, in_tile, out_tile, chip.pcu.lanes,
                        chip.pmu.sram_bytes, arrival=arrival, head_dim=head_dim,
                        query_rows=plan.block if query else 0, query_outer=plan.outer if query else 1)


def window_bytes(stage: rdu.ComputeOp, loop: TileLoop) -> int:
    """Bytes of one window of output rows of a transpose streaming by query blocks (`loop` kind rows)."""
    itemsize = max(type_bytes(v.type) // max(1, prod(shape_of(v.type))) for v in stage.outputs)
    return loop.tile[0] * loop.tile[1] * max(1, itemsize)


def window_units(kernel: rdu.KernelOp, chip: ChipSpec) -> dict[rdu.ComputeOp, int]:
    """Per attention output transpose streaming by query blocks, the PMUs whose SRAM holds its two
    windows of output rows (double-buffered, spread over its PMUs, as rdu-tile records them)."""
    half = max(1, chip.pmu.sram_bytes // 2)
    plans = head_outer_plans(kernel, chip.pcu.lanes, chip.pmu.sram_bytes)
    out = {}
    for plan in dict.fromkeys(p for p in plans.values() if isinstance(p, QueryBlock)):
        loop = stage_loop(plan.permute, chip, plans)
        if loop.kind == "rows" and plan.permute.unit_kind == "pmu":
            out[plan.permute] = ceil(window_bytes(plan.permute, loop) / half)
    return out


def resident_buffers(plans: dict) -> list[rdu.BufferOp]:
    """The buffers that hand a query-block matmul an operand it holds whole: Kᵀ and V (its batched
    B), and Q (the scores' A, whose rows arrive head by head, not block by block); the event
    timing holds the same operands (`functional_sim.tile_timing.held_operands`)."""
    found: list[rdu.BufferOp] = []
    for plan in dict.fromkeys(p for p in plans.values() if isinstance(p, QueryBlock)):
        for value in (plan.scores.inputs[0], plan.scores.inputs[1], plan.producer.inputs[1]):
            owner = value.owner
            if isinstance(owner, rdu.BufferOp) and owner not in found and owner.consumers(value) == [
                    s for s in (plan.scores, plan.producer) if value in s.operands]:
                found.append(owner)
    return found


def stream_tile_bytes(value) -> int:
    """The tile bytes the producer of `value` recorded for it (0 if none)."""
    producer = value.owner
    tiles = producer.tile_list() if isinstance(producer, rdu.StageOp) else []
    return tiles[value.index] if value.index < len(tiles) else 0


def stage_label(kernel: rdu.KernelOp, stage: rdu.StageOp) -> str:
    what = stage.opcode.data if isinstance(stage, rdu.ComputeOp) else stage.name.removeprefix("rdu.")
    source = rdu.source_text(stage)
    return f"{what} stage in kernel {kernel.sym_name.data}" + (f" ({source})" if source else "")


def fits(kernel: rdu.KernelOp, stage: rdu.StageOp, held: int, what: str, chip: ChipSpec) -> None:
    """A PMU stage's tile program must fit its PMUs' SRAM: one `error:` line naming the stage, what
    it holds and the PMU's capacity (a forced `--tile-bytes` or `tile-scale` can ask for more)."""
    if held > chip.pmu.sram_bytes:
        raise CapacityError(f"rdu-tile: {stage_label(kernel, stage)} {what}, {held} bytes per PMU, but a PMU of "
                            f"chip {chip.name!r} has {chip.pmu.sram_bytes} bytes of SRAM")


@dataclass(frozen=True)
class TilePass(ModulePass):
    name = "rdu-tile"

    def apply(self, ctx: Context, module: ModuleOp) -> None:
        chip = lowered_target_chip(module, "rdu-tile")
        for kernel in rdu.kernels(module):
            plans = head_outer_plans(kernel, chip.pcu.lanes, chip.pmu.sram_bytes)
            resident = resident_buffers(plans)
            short = any(s.unit_count < u for s, u in window_units(kernel, chip).items())
            if short or resident and not self.hold_all(kernel, resident, chip):
                plans = self.without_query_blocks(kernel, plans, chip)
            for stage in kernel.stages():
                self.tile_stage(kernel, stage, chip, plans)
            plan_rereads(kernel)

    def tile_stage(self, kernel: rdu.KernelOp, stage: rdu.StageOp, chip: ChipSpec, plans: dict | None = None) -> None:
        if stage.tiles is None or stage.depths is None:
            from dialects.diagnostics import PassOrderError

            raise PassOrderError(f"rdu-tile: {stage.name} in kernel {kernel.sym_name.data} has no tile sizes or "
                                 f"FIFO depths: run rdu-allocate-units and rdu-size-fifos first")
        if isinstance(stage, (rdu.LoadOp, rdu.StoreOp)):
            tensor = stage.tensor.owner
            nbytes = type_bytes(stage.tensor.type)
            tile = stage.tile_list()[0] if isinstance(stage, rdu.LoadOp) else stream_tile_bytes(stage.value)
            loop = stream_loop(nbytes, tile)
            offset = tensor.offset.value.data if tensor.offset is not None else 0
            stage.tile_loop = _attr(loop)
            stage.patterns = ArrayAttr([PatternAttr(tensor.tier_name, offset, loop.tile[0], loop.grid[0], loop.tile[0],
                                                    max(1, nbytes))])
            return
        if isinstance(stage, rdu.StoreRowsOp):
            # The rows arrive as a stream and land at runtime indices: the AGCU walks the value's
            # tiles, and its pattern's extent is the whole state tensor, the range the indices pick in.
            tensor = stage.tensor.owner
            loop = stream_loop(type_bytes(stage.value.type), stream_tile_bytes(stage.value))
            offset = tensor.offset.value.data if tensor.offset is not None else 0
            stage.tile_loop = _attr(loop)
            stage.patterns = ArrayAttr([PatternAttr(tensor.tier_name, offset, loop.tile[0], loop.grid[0], loop.tile[0],
                                                    max(1, type_bytes(stage.tensor.type)))])
            return
        if isinstance(stage, rdu.LoadRowsOp):
            indexed_rows_program(stage)
            return
        if isinstance(stage, rdu.BufferOp):
            nbytes = type_bytes(stage.input.type)
            loop = stream_loop(nbytes, stage.tile_list()[0] or stage.tile_bytes.value.data)
            tile, tiles = loop.tile[0], loop.grid[0]
            depth = min(stage.depth_list()[0], tiles)
            slots = max(1, ceil(depth / stage.unit_count))
            held = max(stage.bytes.value.data, slots * tile)
            fits(kernel, stage, held, f"rings {slots} tile(s) of {tile} bytes on each of its {stage.unit_count} PMU(s)",
                 chip)
            stage.bytes = IntegerAttr(held, i64)
            stage.tile_loop = _attr(loop)
            stage.sram = SramAttr(0, held, slots, tile)
            ring = PatternAttr("sram", 0, tile, slots, tile, slots * tile)
            stage.patterns = ArrayAttr([ring, ring])  # write, then read
            return
        assert isinstance(stage, rdu.ComputeOp)
        plan = (plans or {}).get(stage)
        loop = stage_loop(stage, chip, plans or {})
        stage.tile_loop = _attr(loop)
        if stage.unit_kind != "pmu":
            return
        if loop.order in WINDOW_ORDERS:  # two windows at transposing / re-reading addresses (passes/layout_windows.py)
            window_program(kernel, stage, loop, chip)
            return
        if loop.kind == "stream":  # double-buffered tiles passing through
            held = max(stage.bytes.value.data if stage.bytes is not None else 0, 2 * loop.tile[0])
            fits(kernel, stage, held, f"holds two {loop.tile[0]}-byte tiles on each of its {stage.unit_count} PMU(s)",
                 chip)
            stage.bytes = IntegerAttr(held, i64)
            stage.sram = SramAttr(0, held, 2, loop.tile[0])
            return
        if loop.kind == "rows" and isinstance(plan, QueryBlock):  # two windows of output rows, spread over its PMUs
            window = window_bytes(stage, loop)
            share = ceil(window / stage.unit_count)
            held = max(stage.bytes.value.data if stage.bytes is not None else 0, 2 * share)
            fits(kernel, stage, held, f"holds two {window}-byte windows of rows over its {stage.unit_count} PMU(s)", chip)
            stage.bytes = IntegerAttr(held, i64)
            stage.sram = SramAttr(0, held, 2, share)
            return
        if loop.kind == "rows":  # a row-wise layout stage: a double buffer of row tiles, round-robin over its PMUs
            itemsize = max(type_bytes(v.type) // max(1, prod(shape_of(v.type))) for v in stage.outputs)
            tile = loop.tile[0] * loop.tile[1] * max(1, itemsize)
            slots = ceil(2 / stage.unit_count)
            held = max(stage.bytes.value.data if stage.bytes is not None else 0, slots * tile)
            fits(kernel, stage, held, f"holds {slots} {tile}-byte tile(s) of rows on each of its {stage.unit_count} "
                 f"PMU(s)", chip)
            stage.bytes = IntegerAttr(held, i64)
            stage.sram = SramAttr(0, held, slots, tile)
            return
        largest = sum(type_bytes(v.type) for v in stage.inputs)  # its inputs, back to back
        self.widen(kernel, stage, ceil(largest / chip.pmu.sram_bytes), chip)
        spread = max(1, ceil(largest / stage.unit_count))  # ... over the stage's PMUs
        chunk = min(spread, chip.pmu.sram_bytes)  # more than the PMUs hold passes through them in waves
        held = max(stage.bytes.value.data if stage.bytes is not None else 0, chunk)
        fits(kernel, stage, held, f"holds its whole input on each of its {stage.unit_count} PMU(s)", chip)
        stage.bytes = IntegerAttr(held, i64)
        stage.sram = SramAttr(0, held, 1, chunk)

    def hold_all(self, kernel: rdu.KernelOp, resident: list, chip: ChipSpec) -> bool:
        """Record that every resident buffer holds its whole value, a FIFO depth of every tile, on
        the PMUs rdu-allocate-units reserved for it (`RESIDENT_ATTR`,
        `AllocateUnitsPass.reserve_resident`); False, changing nothing, when one was not reserved
        or its PMUs cannot hold its tiles (the chip's PMUs could not hold them all, or a later pass
        re-tiled it): the caller then keeps attention's output transpose whole."""
        if not all(RESIDENT_ATTR in b.attributes and b.unit_count >= self.whole_units(b, chip) for b in resident):
            return False
        for buffer in resident:
            tiles = stream_loop(type_bytes(buffer.input.type), buffer.tile_list()[0] or buffer.tile_bytes.value.data).grid[0]
            buffer.set_depths([max(tiles, d) for d in buffer.depth_list()])
        return True

    @staticmethod
    def without_query_blocks(kernel: rdu.KernelOp, plans: dict, chip: ChipSpec) -> dict:
        """The kernel cannot hold the operands a query block keeps resident (its PMUs are all
        spoken for, typically by weight buffers): attention's output transpose stays whole, as
        before query blocks, recorded on the transpose for every later pass, and the FIFOs are
        sized again for a whole transpose (`rdu-size-fifos` sized them for a streaming one)."""
        from xdsl.dialects.builtin import UnitAttr

        from passes.row_order import WHOLE_ATTR
        from passes.size_fifos import SizeFifosPass

        for plan in dict.fromkeys(p for p in plans.values() if isinstance(p, QueryBlock)):
            plan.permute.attributes[WHOLE_ATTR] = UnitAttr()
        sizing = SizeFifosPass(spill=False)
        sizing.size(kernel, chip)
        sizing.prefetch(kernel, chip)
        sizing.prove_live(kernel, chip)
        return head_outer_plans(kernel, chip.pcu.lanes, chip.pmu.sram_bytes)

    @staticmethod
    def whole_units(buffer: rdu.BufferOp, chip: ChipSpec) -> int:
        """The PMUs whose SRAM holds all of a buffer's tiles."""
        return whole_tile_units(type_bytes(buffer.input.type), buffer.tile_list()[0] or buffer.tile_bytes.value.data, chip)

    @staticmethod
    def widen(kernel: rdu.KernelOp, stage: rdu.StageOp, units: int, chip: ChipSpec) -> None:
        """Give a whole-buffer PMU stage the PMUs its value needs, as far as the kernel leaves PMUs free."""
        free = chip.count("pmu") - sum(s.unit_count for s in kernel.stages() if s.unit_kind == "pmu")
        stage.set_units(max(stage.unit_count, min(units, stage.unit_count + free)))


def indexed_rows_program(stage: rdu.LoadRowsOp) -> None:
    """`rdu.load_rows`: the AGCU walks the tiles of the rows it reads (the result's bytes, not the
    table's), at addresses the index stream gives at run time; its pattern's extent is the whole
    table, the range the indices pick in (the mirror of `rdu.store_rows`)."""
    tensor = stage.tensor.owner
    loop = stream_loop(type_bytes(stage.result.type), stage.tile_list()[0])
    offset = tensor.offset.value.data if tensor.offset is not None else 0
    stage.tile_loop = _attr(loop)
    stage.patterns = ArrayAttr([PatternAttr(tensor.tier_name, offset, loop.tile[0], loop.grid[0], loop.tile[0],
                                            max(1, type_bytes(stage.tensor.type)))])
