"""`rdu-allocate-units`: balance each kernel's stages over the chip's units, and size SRAM tiles.

A kernel's stages run concurrently as one pipeline, so its pace is set by the slowest stage.
For each unit kind we give stages units in proportion to their work: the smallest target T such
that every stage, with ceil(work / T) units, fits the chip's units of that kind (a binary search
on T). A stage never gets more units than keep each busy for `min-cycles` cycles, and AGCU stages
never more than their memory tier can feed; the AGCUs that integer rounding leaves over go to the
loads the kernel reads first (`spend_spare_on_early_loads`, which says why). Every stream moves in tiles of the size that costs
least per-tile overhead plus pipeline fill on the chip (`balanced_tile`, which says why), at least
one vector and at most half a PMU; a buffer holds two of its tiles. Every stage records the tile
bytes of each stream it produces (`tiles`) and the depth in tiles of that stream's FIFO at each
reader (`depths`, its credits), both of which the bitstream carries. The depth recorded here is
the double-buffered default: the tiles a PMU stage's SRAM holds for a stream it produces, else the
chip's `network.fifo_tiles`; `rdu-size-fifos` deepens FIFOs (reconvergent paths, and buffers up to
their SRAM). `tile-bytes=N` forces every stream's tile size (an experiment knob).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil, prod, sqrt

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.passes import ModulePass

from bitstream_format.opcodes import OPCODES, work_flops
from bitstream_format.tiling import ELEMENTWISE_FAMILIES, compute_loop, loop_cycles, tile_overhead_cycles
from chip_model import ChipSpec
from dialects import rdu
from dialects.diagnostics import CapacityError
from dialects.types import dtype_of, shape_of
from dialects.types import value_bytes as type_bytes
from passes.target import lowered_target_chip
from passes.tile import matmul_reread, stage_label


def value_bytes(v) -> int:
    return type_bytes(v.type)


def single_unit_cycles(stage: rdu.StageOp, chip: ChipSpec) -> float:
    """Cycles one unit would need for the whole stage: the work the balancer divides."""
    if isinstance(stage, (rdu.LoadOp, rdu.StoreOp)):
        return value_bytes(stage.tensor) / chip.agcu.bytes_per_cycle
    if isinstance(stage, rdu.StoreRowsOp):  # moves the rows only
        return value_bytes(stage.value) / chip.agcu.bytes_per_cycle
    if isinstance(stage, rdu.LoadRowsOp):  # reads the indexed rows only
        return value_bytes(stage.result) / chip.agcu.bytes_per_cycle
    if isinstance(stage, rdu.BufferOp):
        return 2 * value_bytes(stage.input) / chip.pmu.bytes_per_cycle
    assert isinstance(stage, rdu.ComputeOp)
    op = OPCODES[stage.opcode.data]
    ins = [shape_of(v.type) for v in stage.inputs]
    outs = [shape_of(v.type) for v in stage.outputs]
    if op.unit == "pmu":
        moved = sum(value_bytes(v) for v in stage.inputs) + sum(value_bytes(v) for v in stage.outputs)
        return moved / chip.pmu.bytes_per_cycle
    if op.family == "matmul":
        return work_flops(op.name, ins, outs) / chip.pcu.flops_per_cycle
    elements = sum(prod(s) for s in (ins[:1] if op.family in ("reduce", "scan", "select") else outs))
    per_lane = ceil(max(op.flops_per_element, 1) / chip.pcu.stages)
    rate = min(chip.pcu.transcendentals_per_cycle, chip.pcu.lanes) if op.transcendental else chip.pcu.lanes
    return elements * per_lane / rate


def estimated_ring(buffer: rdu.BufferOp, chip: ChipSpec) -> int:
    """The bytes a buffer's ring will hold once rdu-size-fifos has deepened it (up to its PMUs'
    SRAM in tiles of its tile size): what a matmul's re-read plan is estimated from here, before
    FIFOs are sized (rdu-tile records the plan from the rings as built)."""
    tile = buffer.tile_bytes.value.data or chip.pmu.sram_bytes
    return min(value_bytes(buffer.input), buffer.unit_count * (chip.pmu.sram_bytes // max(1, tile)) * tile)


def estimated_tile(stage: rdu.StageOp, chip: ChipSpec) -> tuple[int, int] | None:
    """A matmul's output tile (mt, nt) before tile sizes are chosen: its loop at the balanced tile
    of its result over its units (`program_tile` refines it later)."""
    if not isinstance(stage, rdu.ComputeOp) or len(stage.outputs) != 1 or len(stage.inputs) < 2:
        return None
    out = stage.outputs[0]
    guess = balanced_tile(ceil(value_bytes(out) / stage.unit_count), chip.pcu.tile_overhead_cycles,
                          chip.network.vector_link_bytes_per_cycle, chip)
    loop = compute_loop(stage.opcode.data, stage.param_values(), [(dtype_of(v.type), shape_of(v.type)) for v in stage.inputs],
                        [(dtype_of(out.type), shape_of(out.type))], 0, guess, chip.pcu.lanes, chip.pmu.sram_bytes)
    return tuple(loop.tile[:2]) if loop.kind == "matmul" else None


def load_passes(stages: list[rdu.StageOp], chip: ChipSpec) -> dict[rdu.LoadOp, int]:
    """How many times each load will be walked (`passes/tile.py`, `matmul_reread`), estimated from
    the buffers' PMUs: a load re-streamed to a matmul whose operands overflow their buffers moves
    its tensor that many times, so it needs that many times the AGCUs (and HBM time)."""
    passes = {}
    for stage in stages:
        _, n, load = matmul_reread(stage, lambda buffer: estimated_ring(buffer, chip), estimated_tile(stage, chip))
        if load is not None:
            passes[load] = n
    return passes


def balance(work: list[float], caps: list[int], total: int) -> list[int]:
    """Units per stage minimising max(work_i / units_i), with 1 <= units_i <= caps_i, sum <= total."""
    if not work:
        return []
    if len(work) > total:
        raise ValueError("more stages than units")

    def units_for(target: float) -> list[int]:
        return [max(1, min(cap, ceil(w / target))) if target > 0 else cap for w, cap in zip(work, caps)]

    if sum(units_for(0)) <= total:
        return units_for(0)
    lo, hi = 0.0, max(work) or 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if sum(units_for(mid)) <= total:
            hi = mid
        else:
            lo = mid
    return units_for(hi)


def spend_spare_on_early_loads(is_load: list[bool], units: list[int], caps: list[int], total: int) -> list[int]:
    """Give the AGCUs `balance` leaves over (`total - sum(units)`) to the loads (`is_load`, the
    stages in program order) the kernel reads first, one each in program order, round after
    round, each up to its cap.

    Why: `balance` evens out each load's own duration (its bytes over its AGCUs' rate), but a
    kernel's loads are not equals. They share one memory tier, which serves their steps first come
    first served, so a load's share of HBM while the tier is contended follows its AGCU count; and
    they are needed at different times. The loads read first (a decoder's Q/K/V projection
    weights, streamed as they arrive, then the K cache feeding the softmax) gate every later
    stage: until they are in, the rest of the pipeline waits. The loads read last (the MLP's
    weights) are prefetched into their PMU buffers meanwhile, so the HBM share they give up early
    they take back once the early loads are done. A later load's share of HBM must not drop below
    what its own bytes need (that is `balance`'s answer, which this only adds to), and the spare
    units are those the integer rounding of `balance` leaves (the next smaller pace would need more
    AGCUs than the chip has). On Llama-2-7B one-layer decode (sn40l) this moves the layer from
    554,345 to 457,796 cycles (76% to 92% of HBM's bandwidth, docs/streaming.md): the four spare
    AGCUs double the Q, K and V weight loads and the K-cache load."""
    units = list(units)
    spare = total - sum(units)
    loads = [i for i, load in enumerate(is_load) if load]
    while spare > 0:
        grown = False
        for i in loads:
            if spare > 0 and units[i] < caps[i]:
                units[i] += 1
                spare -= 1
                grown = True
        if not grown:
            break
    return units


def balanced_tile(per_path_bytes: int, overhead: float, rate: float, chip: ChipSpec) -> int:
    """The tile a stream of `per_path_bytes` on one path moves in: `T = sqrt(b·c·w)`, clamped.

    Why, from the machine (and the event simulation, which follows it; docs/simulator.md):

    * Every tile costs each end of the stream its unit's `tile_overhead_cycles` (`c`: loop counter,
      credit check, DMA descriptor) on top of the work: `b / T` tiles cost `(b / T)·c` cycles
      per path. Large tiles amortise it.
    * A consumer starts a step only when the whole tile it needs has arrived, so every stage on a
      pipeline adds one tile's transfer, `T / w` cycles at the path's `w` bytes per cycle, to the
      fill, and a value handed over in one tile serialises its producer and consumer. Small tiles
      overlap more.
    * `T/w + (b/T)·c` is least at `T = sqrt(b·c·w)`.

    Clamps: at least one vector (`pcu.lanes` x 4 bytes: a PCU takes a vector per cycle, and a
    vector already spans the PMU's banks, `banks` x 4 bytes <= a vector on both chips), at most
    half a PMU's SRAM (double buffering: the other half receives the next tile), never more than
    the stream. What does not move the optimum: unit and memory latencies are paid once per
    tile's trip but pipelined (a stage issues its next tile without waiting), so they add to the
    fill whatever `T` is; FIFO credits are counted in tiles, but the run-ahead a PMU buffer
    allows is its SRAM in bytes (rdu-size-fifos gives it `SRAM / T` credits), and a credit's
    round trip over a few hops is shorter than two tiles' transfer at these sizes. Over a long
    route it is not: once routes are known, rdu-size-fifos-for-routes adds the credits that
    cover the round trip, so the tile choice here need not."""
    best = sqrt(per_path_bytes * overhead * rate)
    return int(min(per_path_bytes, chip.pmu.sram_bytes // 2, max(chip.pcu.lanes * 4, best)))


def tile_plan(nbytes: int, units: int, chip: ChipSpec) -> tuple[int, int]:
    """(bytes per PMU, tile bytes) for a double-buffered stream spread over `units` PMUs: the
    balanced tile (`balanced_tile`) of the bytes each PMU holds, at the PMU's overhead and rate;
    the buffer reserves two tiles (rdu-size-fifos may give it more of its SRAM)."""
    tile = balanced_tile(ceil(nbytes / units), chip.pmu.tile_overhead_cycles, chip.pmu.bytes_per_cycle, chip)
    return min(chip.pmu.sram_bytes, 2 * tile), tile


TILE_STEPS = tuple(2 ** (i / 4) for i in range(-16, 9))  # the sizes program_tile tries around the balanced tile


def program_tile(producer: rdu.StageOp, nbytes: int, base: int, overhead: float, rate: float, consumer_units: int,
                 chip: ChipSpec) -> int | None:
    """The tile a PCU stage hands its result on in, chosen by the cost the event simulator
    charges for it, or None when the stage's tile loop does not depend on it. `base` is the
    balanced tile (`balanced_tile`) of the stream and `overhead` and `rate` the per-tile overhead
    and bytes per cycle of its consumer's end (a buffer's PMU, or the vector link).

    Why: a compute stage's tile loop (`bitstream_format.tiling.compute_loop`, from the output tile
    bytes) runs in whole rounds of tiles over the stage's units, and a matmul's tile shape sets
    its operand reads and its MAC quantisation on lanes and stages; `balanced_tile` sees none of
    it. On a Llama-2-7B 4K prefill layer the balanced tile gave the `down` projection 598 output
    tiles on 190 PCUs, four rounds of which the last is a sixth full: 16.8% slower than a quarter
    of the tile. So each candidate tile (the balanced one times 2^(i/4), i in -16..8, clamped as
    `balanced_tile` clamps) is priced by `bitstream_format.tiling.loop_cycles`, the function the
    simulator charges the loop with (functional_sim/tile_timing.py), plus what the simulator adds
    per tile and per pipeline step: the PCU's and the consumer's per-tile overhead, each unit for
    its share of the tiles (`bitstream_format.tiling.tile_overhead_cycles`), a
    step's wait before the first tile leaves (fill), and the tile's transfer `T / rate`. The
    cheapest wins; on a tie the balanced tile, else the largest. (Taking the largest tile within
    1% of the cheapest instead, for fewer tiles, cost the prefill layer 3%: stages within 1% of
    each other still delay one another's fill.)"""
    if not isinstance(producer, rdu.ComputeOp) or producer.unit_kind != "pcu" or len(producer.outputs) != 1:
        return None
    op = OPCODES[producer.opcode.data]
    if not (op.family == "matmul" or op.family in ELEMENTWISE_FAMILIES):
        return None
    ins = [(dtype_of(v.type), shape_of(v.type)) for v in producer.inputs]
    outs = [(dtype_of(v.type), shape_of(v.type)) for v in producer.outputs]
    itemsize = max(1, value_bytes(producer.inputs[0]) // max(1, prod(ins[0][1]))) if producer.inputs else 4
    lo, hi = chip.pcu.lanes * 4, min(nbytes, chip.pmu.sram_bytes // 2)

    def cost(tile: int) -> float | None:
        loop = compute_loop(producer.opcode.data, producer.param_values(), ins, outs, 0, tile, chip.pcu.lanes,
                            chip.pmu.sram_bytes)
        work = loop_cycles(loop, producer.opcode.data, producer.unit_count, itemsize, chip)
        if work is None:
            return None
        tiles = ceil(nbytes / tile)
        per_tile = tile_overhead_cycles(tiles, producer.unit_count, chip.pcu.tile_overhead_cycles) \
            + tile_overhead_cycles(tiles, consumer_units, overhead)
        return work + work / tiles + per_tile + tile / rate

    priced = {}
    for step in TILE_STEPS:
        tile = int(min(hi, max(lo, base * step))) if hi >= lo else nbytes
        if tile not in priced:
            priced[tile] = cost(tile)
    if priced.get(base) is None:
        return None
    return min(priced, key=lambda t: (priced[t], t != base, -t))


def stream_tile_bytes(producer: rdu.StageOp, stream, chip: ChipSpec, forced: int = 0, scale: float = 1.0) -> int:
    """The unit a stream hands over in: the tile of a buffer at either end, else the balanced
    tile (`balanced_tile`) of the bytes on each of its paths (min of the producer's and the
    largest consumer's units), at the larger per-tile overhead of its two ends and the vector
    link's rate; `forced` (> 0) overrides the choice and `scale` multiplies it (experiment knobs)."""
    nbytes = value_bytes(stream)
    if forced > 0:
        return min(nbytes, forced)
    ends = [producer, *producer.consumers(stream)]
    for op in ends:
        if isinstance(op, rdu.BufferOp) and op.tile_bytes.value.data:
            return min(nbytes, op.tile_bytes.value.data)  # scaled already, with the buffer's plan
    paths = max(1, min(producer.unit_count, max((c.unit_count for c in ends[1:]), default=1)))
    overhead = max(unit_spec(chip, op.unit_kind).tile_overhead_cycles for op in ends)
    rate = chip.network.vector_link_bytes_per_cycle
    chosen = min(nbytes, balanced_tile(ceil(nbytes / paths), overhead, rate, chip))
    chosen = min(nbytes, program_tile(producer, nbytes, chosen, overhead, rate, paths, chip) or chosen)
    return chosen if scale == 1.0 else max(1, min(nbytes, int(chosen * scale)))


def unit_spec(chip: ChipSpec, kind: str):
    return {"pcu": chip.pcu, "pmu": chip.pmu, "agcu": chip.agcu}[kind]


def row_reduction_tile(stage: rdu.StageOp, tiles: dict) -> int | None:
    """A reduction over trailing dims emits the result of each input tile's rows as it goes, so
    its output moves in as many tiles as its input (the bytes of those rows' results), not as one
    tile after the whole input: None for any other stage or a reduction to a single element."""
    if not isinstance(stage, rdu.ComputeOp) or OPCODES[stage.opcode.data].family != "reduce":
        return None
    if len(stage.inputs) != 1 or len(stage.outputs) != 1 or stage.inputs[0] not in tiles:
        return None
    shape = shape_of(stage.inputs[0].type)
    dims = stage.param_values().get("dims") or list(range(len(shape)))
    dims = sorted(d % len(shape) for d in (dims if isinstance(dims, list) else [dims])) if shape else []
    out = stage.outputs[0]
    if not dims or dims != list(range(len(shape) - len(dims), len(shape))) or not 1 < prod(shape_of(out.type)) < prod(shape):
        return None
    in_tiles = stream_tiles(value_bytes(stage.inputs[0]), tiles[stage.inputs[0]])
    itemsize = max(1, value_bytes(out) // prod(shape_of(out.type)))
    return min(value_bytes(out), max(itemsize, ceil(value_bytes(out) / in_tiles)))


def stream_tiles(nbytes: int, tile: int) -> int:
    """How many tiles a value of `nbytes` moves in (one when the tile is 0 or holds it whole)."""
    return 1 if nbytes == 0 or tile <= 0 or tile >= nbytes else ceil(nbytes / tile)


def default_depth(producer: rdu.StageOp, stream, tile: int, chip: ChipSpec) -> int:
    """A FIFO's credits before rdu-size-fifos: the tiles the producing PMU stage's SRAM holds
    (`bytes` per PMU over its units), else the destination's double buffer (`network.fifo_tiles`);
    never more than the value's tiles (and at least one)."""
    tiles = stream_tiles(value_bytes(stream), tile)
    held = getattr(producer, "bytes", None)
    if producer.unit_kind == "pmu" and held is not None and held.value.data > 0:
        depth = held.value.data * producer.unit_count // max(1, min(tile, value_bytes(stream)) or 1)
    else:
        depth = chip.network.fifo_tiles
    return max(1, min(depth, max(tiles, chip.network.fifo_tiles)))


@dataclass(frozen=True)
class AllocateUnitsPass(ModulePass):
    name = "rdu-allocate-units"

    min_cycles: int = 256
    tile_bytes: int = 0  # > 0: force every stream's tile size (bytes)
    tile_scale: float = 1.0  # multiply every chosen tile size (an experiment knob; bench.sensitivity)

    def apply(self, ctx: Context, module: ModuleOp) -> None:
        chip = lowered_target_chip(module, "rdu-allocate-units")
        for kernel in (op for op in module.body.block.ops if isinstance(op, rdu.KernelOp)):
            self.allocate(kernel, chip)

    def cap(self, stage: rdu.StageOp, work: float, chip: ChipSpec) -> int:
        useful = max(1, ceil(work / self.min_cycles))
        if isinstance(stage, (rdu.LoadOp, rdu.LoadRowsOp, rdu.StoreOp, rdu.StoreRowsOp)):
            feed = chip.tier_bytes_per_cycle(stage.tensor.owner.tier_name) / chip.agcu.bytes_per_cycle
            return max(1, min(useful, ceil(feed)))
        return useful

    def allocate(self, kernel: rdu.KernelOp, chip: ChipSpec) -> None:
        stages = kernel.stages()
        for kind in ("pcu", "pmu", "agcu"):
            group = [s for s in stages if s.unit_kind == kind]
            if len(group) > chip.count(kind):
                raise CapacityError(
                    f"kernel {kernel.sym_name.data} needs {len(group)} {kind.upper()} stages but chip {chip.name!r} "
                    f"has {chip.count(kind)} {kind.upper()}s ({len(group) - chip.count(kind)} over)"
                )
            work = [single_unit_cycles(s, chip) for s in group]
            if kind == "agcu":  # the PMU buffers are sized by now: a re-streamed load moves its tensor `passes` times
                passes = load_passes(stages, chip)
                work = [w * passes.get(s, 1) for s, w in zip(group, work)]
            caps = [self.cap(s, w, chip) for s, w in zip(group, work)]
            units_of = balance(work, caps, chip.count(kind))
            if kind == "agcu":
                units_of = spend_spare_on_early_loads([isinstance(s, rdu.LoadOp) for s in group], units_of, caps, chip.count(kind))
            for stage, units in zip(group, units_of):
                stage.set_units(units)
                if isinstance(stage, rdu.BufferOp):
                    per_unit, tile = tile_plan(value_bytes(stage.input), units, chip)
                    producer = stage.input.owner
                    chosen_tile = program_tile(producer, value_bytes(stage.input), tile, chip.pmu.tile_overhead_cycles,
                                               chip.pmu.bytes_per_cycle, units, chip)
                    if chosen_tile is not None:
                        per_unit, tile = min(chip.pmu.sram_bytes, 2 * chosen_tile), chosen_tile
                    if self.tile_bytes > 0 or self.tile_scale != 1.0:
                        scaled = max(1, int(tile * self.tile_scale))
                        tile = min(value_bytes(stage.input), self.tile_bytes if self.tile_bytes > 0 else scaled)
                        per_unit = max(per_unit, min(2 * tile, ceil(2 * tile / units)))
                        if per_unit > chip.pmu.sram_bytes:
                            raise CapacityError(
                                f"tile-bytes={self.tile_bytes} tile-scale={self.tile_scale}: {stage_label(kernel, stage)} holds two "
                                f"{tile}-byte tiles over {units} PMU(s), {per_unit} bytes per PMU, but a PMU has "
                                f"{chip.pmu.sram_bytes} bytes of SRAM"
                            )
                    stage.bytes = IntegerAttr(per_unit, i64)
                    stage.tile_bytes = IntegerAttr(tile, i64)
                elif isinstance(stage, rdu.ComputeOp) and stage.unit_kind == "pmu":
                    nbytes = max(value_bytes(v) for v in [*stage.inputs, *stage.outputs])
                    stage.bytes = IntegerAttr(tile_plan(nbytes, units, chip)[0], i64)
        chosen: dict = {}
        row_tiled: set = set()  # streams of per-row results, which a buffer passes on at their tile
        for stage in stages:
            tiles = [stream_tile_bytes(stage, r, chip, self.tile_bytes, self.tile_scale) for r in stage.results]
            row_tile = row_reduction_tile(stage, chosen) if self.tile_bytes == 0 else None
            rows_in = [v for v in stage.operands if v in row_tiled]
            if row_tile is None and rows_in and len(stage.results) == 1 \
                    and value_bytes(stage.results[0]) == value_bytes(rows_in[0]):
                row_tile = chosen[rows_in[0]]  # per-row values (the buffer, `+ eps`, rsqrt) keep the rows' tiles
                if isinstance(stage, rdu.BufferOp):
                    stage.tile_bytes = IntegerAttr(row_tile, i64)
            if row_tile is not None:
                tiles = [row_tile]
                row_tiled.add(stage.results[0])
            chosen.update(zip(stage.results, tiles))
            stage.set_tiles(tiles)
            stage.set_depths([default_depth(stage, r, t, chip) for r, t in zip(stage.results, tiles)])
