"""What a stage's tile program (bitstream TILE section) does to its cycles in the event engine.

The event graph (`event_graph`) asks one question per stage, `stage_tiling`, and one per FIFO,
`fifo_credits`; everything the tile programs decide about time is here (docs/simulator.md, "How
tile programs set cycles"):

* `matmul` (output-stationary mt x nt tiles, K innermost in kt chunks): the PCU's lanes x stages
  multiply-accumulators take the nt columns on lanes and the mt x kt (row, k) pairs down the
  stages (a dot product pipelined across the stages, so a one-row decode tile still fills them),
  so a chunk costs `ceil(nt/lanes) * ceil(mt*kt/stages)` cycles; a tile also waits for its operands, which
  arrive from PMU SRAM at the PMU's bytes per cycle: the streamed operand's kt x (nt or mt) slab
  every chunk, the reused (`reuse`) operand's slab once per reuse window (a row of output tiles
  that share it), never re-streamed from HBM. A matmul run query-block outer (`m,b,n,k`) holds
  its batched B operand, and its A unless A comes block by block from another such matmul, for
  its whole loop (`held_operands`): the event graph makes its first step wait for all of them,
  and their FIFOs hold every tile (rdu-tile gave their buffers the PMUs). Each tile pays the PCU's fill/drain latency once
  (its K loop accumulates in place). The tiles spread over the stage's PCUs.
* `rows`: a tile of r x c elements costs `ceil(r*c/lanes)` vectors times the op's passes through
  the stage pipeline; a two-pass reduction (online softmax) reads its chunks again to normalise.
  A PMU layout stage with a rows loop (a slice or concat of the last axis, a heads transpose whose
  rows arrive in order, `rows@A`) steps once per tile at the per-stream rate: no pipeline break,
  its FIFOs hold their configured credits.
* window stages (`transpose`, `repeat`: Kᵀ, GQA's expand; format 3.5): one step per window, which
  takes that window's input tiles and emits its output tiles; the FIFOs into and out of it hold
  two windows of tiles (its two SRAM slots), `fifo_credits`. Work is the stage's usual rate.
* `whole`: the stage cannot emit before it has its whole input (a gather, a transpose of the last
  axis...): one step, and its PMU SRAM holds the value, so the FIFOs into and out of it hold all
  tiles. Work is the stage's usual rate (`timing.stage_work_cycles`).
* `stream` (loads, stores, buffers): the stream's rate, unchanged; a buffer's FIFO credits are
  its SRAM ring: `slots x units` tiles of the ring's tile size (`fifo_credits`).

A stage without a tile program (older bitstreams) keeps the per-stream model.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil, prod

from bitstream_format import Bitstream, StageConfig, StreamEntry, TileProgram, itemsize, opcode
from bitstream_format.tiling import WINDOW_ORDERS, matmul_cycles, query_block_outer, rows_cycles
from chip_model import ChipSpec

from functional_sim.timing import stage_work_cycles


@dataclass(frozen=True)
class StageTiling:
    """The event graph's view of one stage: total work cycles (per-tile overheads excluded, as
    `stage_work_cycles`) and whether the stage is a pipeline break."""

    work: float
    whole: bool = False
    windows: int = 0  # a window stage (`transpose`, `repeat`): steps of one window each (0: per tile)


def matmul_work(chip: ChipSpec, prog: TileProgram, units: int, elem: int) -> float:
    """Cycles of an output-stationary matmul tile loop spread over `units` PCUs: the one cost the
    compiler also chooses tiles by (`bitstream_format.tiling.matmul_cycles`)."""
    return matmul_cycles(prog, units, elem, chip)


def rows_work(chip: ChipSpec, s: StageConfig, prog: TileProgram, units: int) -> float:
    """Cycles of a rows tile loop spread over `units` units (`bitstream_format.tiling.rows_cycles`)."""
    return rows_cycles(prog, s.opcode, units, chip)


def stage_tiling(bs: Bitstream, chip: ChipSpec, s: StageConfig) -> StageTiling:
    """The stage's work as its tile program sets it (the per-stream rate without a program)."""
    prog = bs.tile_program(s.id)
    units = max(1, len(s.sites))
    if prog is not None and s.unit == "pmu" and prog.order in WINDOW_ORDERS:
        return StageTiling(float(stage_work_cycles(bs, chip, s)), windows=max(1, prog.grid[0]))
    if prog is None or s.unit == "agcu" or s.unit == "pmu" and prog.kind != "whole":
        return StageTiling(float(stage_work_cycles(bs, chip, s)))
    if prog.kind == "whole":
        return StageTiling(float(stage_work_cycles(bs, chip, s)), whole=True)
    if prog.kind == "matmul" and s.inputs:
        return StageTiling(float(matmul_work(chip, prog, units, itemsize(bs.stream(s.inputs[0]).dtype))))
    if prog.kind == "rows" and opcode(s.opcode).family not in ("matmul", "generate"):
        return StageTiling(float(rows_work(chip, s, prog, units)))
    return StageTiling(float(stage_work_cycles(bs, chip, s)))


def held_operands(bs: Bitstream, s: StageConfig) -> list[int]:
    """Input stream ids of `s` that stay resident in SRAM for its whole loop: a matmul run
    query-block outer (`m,b,n,k`, passes/row_order.py) needs its batched B operand (every head's
    K or V) for every block, so its first block waits for all of it; and its A operand too, unless
    A's rows come block by block from another query-block matmul with the same blocks (the scores,
    through reshapes, buffers and row-wise stages), which is the point of the order."""
    prog = bs.tile_program(s.id)
    if prog is None or prog.kind != "matmul" or not query_block_outer(prog.order) or len(s.inputs) < 2:
        return []
    held = []
    if not _in_query_blocks(bs, s.inputs[0], prog):
        held.append(s.inputs[0])
    b = bs.stream(s.inputs[1])
    if len(b.shape) >= 3 and prod(b.shape[:-2]) > 1:
        held.append(b.id)
    return held


def _in_query_blocks(bs: Bitstream, stream: int, prog: TileProgram) -> bool:
    src = bs.stage(bs.stream(stream).src)
    while True:
        p = bs.tile_program(src.id)
        if p is not None and p.kind == "matmul":
            return p.order == prog.order and p.grid[1:2] == prog.grid[1:2] and p.tile[:1] == prog.tile[:1]
        if not src.inputs or p is None or not (src.opcode in ("reshape", "buffer") or p.kind == "rows"
                                               and src.unit == "pcu"):
            return False
        src = bs.stage(bs.stream(src.inputs[0]).src)


def fifo_credits(bs: Bitstream, st: StreamEntry, tiles: int, whole: set[int], dst: int,
                 windows: dict[int, int] | None = None) -> int:
    """Tiles the FIFO of stream `st` at destination `dst` holds (before grouping): the configured
    depth; a buffer's SRAM ring (its slots x units, counted in the stream's tiles); all tiles out of
    a whole stage or into one (`whole`: stage ids), whose SRAM holds the value (only at that
    destination: another reader of the same stream has its own FIFO); into or out of a window
    stage (`windows`: stage id -> windows), the tiles of its two window slots, which its SRAM
    holds: one window filling while the last one's tiles wait to leave."""
    if st.src in whole or dst in whole:
        return max(st.fifo_depth, tiles)
    count = (windows or {}).get(dst) or (windows or {}).get(st.src)
    if count:
        return max(st.fifo_depth, min(tiles, 2 * ceil(tiles / count)))
    src = bs.stage(st.src)
    prog = bs.tile_program(st.src)
    if prog is not None and src.opcode == "buffer" and prog.sram_slots > 0 and prog.sram_tile > 0:
        ring = prog.sram_slots * prog.sram_tile * max(1, len(src.sites))
        tile = st.tile_bytes if 0 < st.tile_bytes < st.nbytes else max(1, st.nbytes)
        return max(1, ring // tile)
    return st.fifo_depth
