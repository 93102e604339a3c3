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
from functools import cache
from math import ceil, prod, sqrt

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, UnitAttr, i64
from xdsl.passes import ModulePass

from bitstream_format.opcodes import OPCODES, work_flops
from bitstream_format.tiling import ELEMENTWISE_FAMILIES, compute_loop, loop_cycles, tile_overhead_cycles
from chip_model import ChipSpec
from dialects import rdu
from dialects.diagnostics import CapacityError
from dialects.types import shape_of, specs_of
from dialects.types import value_bytes as type_bytes
from passes.target import lowered_target_chip
from passes.row_order import head_outer_plans
from passes.tile import RESIDENT_ATTR, matmul_reread, resident_buffers, stage_label, whole_tile_units, window_units


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


def estimated_tile(stage: rdu.StageOp, chip: ChipSpec, head_dim: int = 0) -> tuple[int, int] | None:
    """A matmul's output tile (mt, nt) before tile sizes are chosen: its loop at the balanced tile
    of its result over its units (`program_tile` refines it later), head-outer (`head_dim`
    columns per N tile, order b,n,m,k) when rdu-tile will tile it so (`passes/row_order.py`)."""
    if not isinstance(stage, rdu.ComputeOp) or len(stage.outputs) != 1 or len(stage.inputs) < 2:
        return None
    out = stage.outputs[0]
    guess = balanced_tile(ceil(value_bytes(out) / stage.unit_count), chip.pcu.tile_overhead_cycles,
                          chip.network.vector_link_bytes_per_cycle, chip)
    loop = compute_loop(stage.opcode.data, stage.param_values(), specs_of(stage.inputs), specs_of(stage.outputs), 0,
                        guess, chip.pcu.lanes, chip.pmu.sram_bytes, head_dim=head_dim)
    return tuple(loop.tile[:2]) if loop.kind == "matmul" else None


def head_dims(kernel: rdu.KernelOp, chip: ChipSpec) -> dict[rdu.StageOp, int]:
    """The projections rdu-tile will tile head-outer, with their head dim (`head_outer_plans`)."""
    return {plan.producer: plan.head_dim for plan in head_outer_plans(kernel, chip.pcu.lanes).values()}


def load_passes(stages: list[rdu.StageOp], chip: ChipSpec, heads: dict | None = None) -> dict[rdu.LoadOp, int]:
    """How many times each load will be walked (`passes/tile.py`, `matmul_reread`), estimated from
    the buffers' PMUs: a load re-streamed to a matmul whose operands overflow their buffers moves
    its tensor that many times, so it needs that many times the AGCUs (and HBM time)."""
    passes = {}
    for stage in stages:
        tile = estimated_tile(stage, chip, (heads or {}).get(stage, 0))
        _, n, load = matmul_reread(stage, lambda buffer: estimated_ring(buffer, chip), tile)
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


def pipeline_break(stage: rdu.StageOp, chip: ChipSpec) -> bool:
    """Whether a stage emits nothing before it has all of its input: a stage rdu-tile will run
    whole (a transpose of the last axis, a gather...), or a reduction to a single value (a decode
    row's RMSNorm mean: its one output tile leaves at its last step). Every stage downstream of a
    break starts only once the break's input is complete, so the loads it reads are needed a
    phase later (`need_phases`)."""
    if not isinstance(stage, rdu.ComputeOp) or not stage.inputs or len(stage.outputs) != 1:
        return False
    op = OPCODES[stage.opcode.data]
    out = stage.outputs[0]
    if op.family in ("reduce", "select") and prod(shape_of(out.type)) <= 1 < prod(shape_of(stage.inputs[0].type)):
        return True
    loop = compute_loop(stage.opcode.data, stage.param_values(), specs_of(stage.inputs), specs_of(stage.outputs), 0, 0,
                        chip.pcu.lanes, chip.pmu.sram_bytes)
    return loop.kind == "whole" and prod(shape_of(out.type)) > 1


def need_phases(stages: list[rdu.StageOp], chip: ChipSpec) -> dict[rdu.StageOp, int]:
    """Per stage, the phase of the kernel in which it runs: the most pipeline breaks
    (`pipeline_break`) on a path from the kernel's inputs to it. A load (and the buffers it
    feeds) is needed in the earliest phase of the stages that read it; a store runs in its
    producer's phase."""
    phase: dict[rdu.StageOp, int] = {}
    fed_by_load: set[rdu.StageOp] = set()
    for stage in stages:  # program order is a topological order
        producers = [v.owner for v in stage.operands if isinstance(v.owner, rdu.StageOp)]
        if isinstance(stage, rdu.LoadOp) or (isinstance(stage, rdu.BufferOp) and producers and all(p in fed_by_load for p in producers)):
            fed_by_load.add(stage)
            phase[stage] = 0
            continue
        phase[stage] = max((phase[p] + pipeline_break(p, chip) for p in producers if p in phase and p not in fed_by_load),
                           default=0)

    @cache  # a load-fed buffer chain is walked once, however many stages it feeds
    def needed(stage: rdu.StageOp) -> int:
        readers = [c for r in stage.results for c in stage.consumers(r)]
        return min((needed(c) if c in fed_by_load else phase[c] for c in readers), default=phase[stage])

    return {s: needed(s) if s in fed_by_load else p for s, p in phase.items()}


@dataclass(frozen=True)
class TierStream:
    """An AGCU stage as the deadline allocation sees it: its bytes (every pass of a re-streamed
    load), the phase they are needed in, the bytes its buffer can take in ahead of that phase
    (`ahead`), its tier's bytes per cycle and its cap on units."""

    nbytes: float
    phase: int
    ahead: float
    tier_rate: float
    cap: int


def streamed_cycles(streams: list[TierStream], units: list[int], agcu_rate: float) -> float:
    """When the last byte is in, with these AGCUs, as a fluid model of the event run: a tier
    serves its requests in arrival order, so each stream streaming at once gets a share of the
    tier in proportion to its AGCUs, up to their own rate; a stage of a later phase streams only
    into its buffer (`ahead` bytes) until every stage of the earlier phases is done."""
    left = [s.nbytes for s in streams]
    moved = [0.0] * len(streams)
    phase = min((s.phase for s in streams), default=0)
    last = max((s.phase for s in streams), default=0)
    now = 0.0
    for _ in range(4 * len(streams) + 4 * (last + 1) + 8):
        while phase < last and all(left[i] <= 1e-6 for i, s in enumerate(streams) if s.phase <= phase):
            phase += 1
        limit = [s.nbytes if s.phase <= phase else s.ahead for s in streams]
        active = [i for i in range(len(streams)) if left[i] > 1e-6 and moved[i] < limit[i] - 1e-6]
        if not active:
            break
        demand: dict[float, int] = {}
        for i in active:
            demand[streams[i].tier_rate] = demand.get(streams[i].tier_rate, 0) + units[i]
        rate = {i: units[i] * min(agcu_rate, streams[i].tier_rate / demand[streams[i].tier_rate]) for i in active}
        step = min(min(left[i], limit[i] - moved[i]) / rate[i] for i in active)
        for i in active:
            moved[i] += rate[i] * step
            left[i] -= rate[i] * step
        now += step
    return now


def deadline_units(streams: list[TierStream], total: int, agcu_rate: float) -> list[int]:
    """AGCUs per memory stage that bring the kernel's last byte in soonest (`streamed_cycles`):
    from one unit each, the move that saves the most cycles per AGCU, where a move gives one more
    AGCU to each of a phase's k slowest stages (k AGCUs: equal loads only gain together), until
    no move saves cycles or no AGCU is left (the caller spends the rest).

    Why (issue 9): `balance` sizes each load for a share of its tier over the whole kernel, as if
    every load streamed from the first cycle to the last. A fused decoder layer does not: the
    MLP's weights are read only after the attention's output has been normalised (a pipeline
    break), so once their buffers are full they wait, and then they stream alone, at their own
    AGCUs' rate. Sized for the whole layer, Llama-2-70B's three MLP weight loads got 4 AGCUs each
    (512 bytes per cycle against HBM's 1,125) and the `o` projection's one AGCU, and the layer ran
    at 63% of HBM. Here a stage needs the rate that moves, inside the phase that needs its bytes,
    what its buffer could not take in before."""
    units = [1] * len(streams)
    spare = total - len(streams)
    phases = sorted({s.phase for s in streams})

    def cost(u: list[int]) -> float:
        return streamed_cycles(streams, u, agcu_rate)

    now = cost(units)
    while spare > 0:
        best: tuple[float, list[int], int] | None = None
        for p in [*phases, None]:
            members = [i for i, s in enumerate(streams) if p in (None, s.phase) and units[i] < s.cap]
            members.sort(key=lambda i: -streams[i].nbytes / units[i])
            for k in range(1, min(len(members), spare) + 1):
                trial = list(units)
                for i in members[:k]:
                    trial[i] += 1
                saved = (now - cost(trial)) / k
                if saved > 1e-6 and (best is None or saved > best[0]):
                    best = (saved, trial, k)
        if best is None:
            break
        _, units, k = best
        spare -= k
        now = cost(units)
    while spare > 0:  # what no move shortens: to the stage with the most bytes per AGCU that it does not slow
        for i in sorted(range(len(streams)), key=lambda i: (-streams[i].nbytes / units[i], i)):
            if units[i] < streams[i].cap:
                trial = list(units)
                trial[i] += 1
                if cost(trial) <= now + 1e-6:
                    units, spare, now = trial, spare - 1, cost(trial)
                    break
        else:
            break
    return exchange_units(streams, units, now, cost)[0]


def exchange_units(streams: list[TierStream], units: list[int], now: float, cost) -> tuple[list[int], float]:
    """Improve an allocation by moving AGCUs between stages while a move brings the last byte in
    sooner (`cost`), the best move first: one AGCU from one stage to another, or two at once (one
    stage's finish often waits on two others', as a phase's end on its two longest loads, so no
    single move pays). Only stages with at least 0.1% of the bytes give or take (the rest keep
    theirs: a few hundred cycles of a norm weight gain nothing), each keeping one unit and its cap."""
    total = sum(s.nbytes for s in streams)
    movable = [i for i, s in enumerate(streams) if s.nbytes >= total / 1000]
    singles = [(i, j) for i in movable for j in movable if i != j]
    for _ in range(4 * sum(units)):
        best = None
        for moves in [*((m,) for m in singles), *((a, b) for a in singles for b in singles if a < b)]:
            trial = list(units)
            for i, j in moves:
                trial[i] -= 1
                trial[j] += 1
            if any(trial[i] < 1 or trial[i] > streams[i].cap for i in movable):
                continue
            c = cost(trial)
            if c < now - 1e-6 and (best is None or c < best[0] - 1e-6):
                best = (c, trial)
        if best is None:
            break
        now, units = best
    return units, now


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


def tile_plan(nbytes: int, units: int, chip: ChipSpec, overhead: float = 0.0) -> tuple[int, int]:
    """(bytes per PMU, tile bytes) for a double-buffered stream spread over `units` PMUs: the
    balanced tile (`balanced_tile`) of the bytes each PMU holds, at the larger of the PMU's
    per-tile overhead and `overhead` (the other end's, `memory_stream_overhead`) and the PMU's
    rate; the buffer reserves two tiles (rdu-size-fifos may give it more of its SRAM)."""
    tile = balanced_tile(ceil(nbytes / units), max(chip.pmu.tile_overhead_cycles, overhead), chip.pmu.bytes_per_cycle, chip)
    return min(chip.pmu.sram_bytes, 2 * tile), tile


def memory_stream_overhead(buffer: rdu.BufferOp, units: int, chip: ChipSpec) -> float:
    """The per-tile overhead of the far end of a buffer's input stream when an AGCU loads it from
    memory and the buffer's `units` PMUs hold it whole (the AGCU's DMA descriptor,
    `agcu.tile_overhead_cycles`), else 0.

    Why: `balanced_tile` prices a tile at each end of its stream, and a buffer's tile is its
    stream's (`stream_tile_bytes`), but the buffer planned it at the PMU's overhead alone. A
    weight its buffer holds whole is a prefetch: its load streams from the kernel's start at its
    AGCUs' rate, never waiting on its reader, and those AGCUs pay their overhead on every tile. A
    Llama-2-70B decode layer at TP8 loaded its MLP weights in 11.7 KB tiles, 8 overhead cycles on
    91 of transfer per AGCU step (8% of each AGCU's rate): the gate weight, last in, streamed
    alone at 3 AGCUs for its last 38 K cycles. A weight streamed through a buffer smaller than it
    moves at its reader's pace (credits), where the tile's pipeline fill is what the balance
    weighs; there the tile stays the PMU's (on one socket the 70B layer's MLP weights, 109 of
    470 MB held, ran 6% slower with the larger tiles)."""
    if isinstance(buffer.input.owner, (rdu.LoadOp, rdu.LoadRowsOp)) \
            and units * chip.pmu.sram_bytes >= value_bytes(buffer.input):
        return chip.agcu.tile_overhead_cycles
    return 0.0


TILE_STEPS = tuple(2 ** (i / 4) for i in range(-16, 9))  # the sizes program_tile tries around the balanced tile


def program_tile(producer: rdu.StageOp, nbytes: int, base: int, overhead: float, rate: float, consumer_units: int,
                 chip: ChipSpec, head_dim: int = 0) -> int | None:
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
    ins, outs = specs_of(producer.inputs), specs_of(producer.outputs)
    itemsize = max(1, value_bytes(producer.inputs[0]) // max(1, prod(ins[0][1]))) if producer.inputs else 4
    lo, hi = chip.pcu.lanes * 4, min(nbytes, chip.pmu.sram_bytes // 2)

    def cost(tile: int) -> float | None:
        loop = compute_loop(producer.opcode.data, producer.param_values(), ins, outs, 0, tile, chip.pcu.lanes,
                            chip.pmu.sram_bytes, head_dim=head_dim)
        work = loop_cycles(loop, producer.opcode.data, producer.unit_count, itemsize, chip)
        if work is None:
            return None
        tiles = ceil(nbytes / tile)
        per_tile = tile_overhead_cycles(tiles, producer.unit_count, chip.pcu.tile_overhead_cycles) \
            + tile_overhead_cycles(tiles, consumer_units, overhead)
        return work + work / tiles + per_tile + tile / rate + reread_cycles(producer, loop, chip)

    priced = {}
    for step in TILE_STEPS:
        tile = int(min(hi, max(lo, base * step))) if hi >= lo else nbytes
        if tile not in priced:
            priced[tile] = cost(tile)
    if priced.get(base) is None:
        return None
    return min(priced, key=lambda t: (priced[t], t != base, -t))


def kernel_pace(stages: list[rdu.StageOp], chip: ChipSpec, heads: dict) -> float:
    """Cycles the kernel takes at least, as far as it is known once its PCUs are given: its slowest
    PCU stage, and its memory tiers' bytes (every pass of a re-streamed load) at their rates."""
    compute = max((single_unit_cycles(s, chip) / s.unit_count for s in stages if s.unit_kind == "pcu"), default=0.0)
    passes = load_passes(stages, chip, heads)
    tiers: dict[str, float] = {}
    for s in stages:
        if isinstance(s, (rdu.LoadOp, rdu.StoreOp)):
            tier = s.tensor.owner.tier_name
            tiers[tier] = tiers.get(tier, 0.0) + value_bytes(s.tensor) * passes.get(s, 1)
    memory = max((b / chip.tier_bytes_per_cycle(t) for t, b in tiers.items()), default=0.0)
    return max(compute, memory)


def grow_stationary(kernel: rdu.KernelOp, chip: ChipSpec, heads: dict) -> dict[rdu.BufferOp, int]:
    """Give the buffer of a matmul's stationary operand (the one it holds in blocks while the other
    is re-read from memory once per block, `passes/tile.py` `matmul_reread`) PMUs from PMU stages
    with slack, one at a time, while a PMU saves more memory time than any other move; the PMUs
    each buffer gained.

    Why: `balance` gives a PMU stage the PMUs its bandwidth earns, so the buffer of a prefill
    layer's normalised activations, which the `gate` and `up` projections hold in blocks, got 5
    PMUs (2.4 MB of its 33.5 MB) and each 90 MB weight was re-read 14 times, while the scores'
    layout stages, streaming 1 GB at the kernel's pace, had 148 PMUs each. A stage has slack when
    fewer PMUs would still move its bytes in half the kernel's pace (`kernel_pace`); resident
    operands and stationary buffers give none. Each move takes from the stage with the most slack
    and goes to the buffer whose next PMU cuts the most re-read bytes (at the tier's rate)."""
    stages = kernel.stages()
    matmuls = []  # (matmul, output tile, stationary buffer, re-read load)
    for s in stages:
        tile = estimated_tile(s, chip, heads.get(s, 0))
        restream, passes, load = matmul_reread(s, lambda b: estimated_ring(b, chip), tile)
        if load is None or passes <= 1:
            continue
        held = s.inputs["ab".index(restream) ^ 1].owner
        if isinstance(held, rdu.BufferOp) and RESIDENT_ATTR not in held.attributes:
            matmuls.append((s, tile, held, load))
    if not matmuls:
        return {}
    stationary = {b for _, _, b, _ in matmuls}
    pace = kernel_pace(stages, chip, heads)
    floor = {s: max(1, ceil(2 * single_unit_cycles(s, chip) / max(1.0, pace))) for s in stages
             if s.unit_kind == "pmu" and s not in stationary and RESIDENT_ATTR not in s.attributes
             and (isinstance(s, rdu.BufferOp) or isinstance(s, rdu.ComputeOp) and s.opcode.data == "reshape")}
    units = {b: b.unit_count for b in stationary}

    def ring(buffer) -> int:
        if buffer in units:
            tile = buffer.tile_bytes.value.data or chip.pmu.sram_bytes
            return min(value_bytes(buffer.input), units[buffer] * (chip.pmu.sram_bytes // max(1, tile)) * tile)
        return estimated_ring(buffer, chip)

    def reread_bytes() -> dict[rdu.BufferOp, float]:
        out = {b: 0.0 for b in stationary}
        for s, tile, b, load in matmuls:
            _, passes, _ = matmul_reread(s, ring, tile)
            out[b] += (passes - 1) * value_bytes(load.tensor) / chip.tier_bytes_per_cycle(load.tensor.owner.tier_name)
        return out

    gained = {b: 0 for b in stationary}
    now = reread_bytes()
    for _ in range(chip.count("pmu")):
        donor = max(floor, key=lambda s: (s.unit_count - floor[s], s.unit_count), default=None)
        if donor is None or donor.unit_count <= floor[donor]:
            break
        best, saved = None, 0.0
        for b in stationary:
            units[b] += 1
            trial = reread_bytes()
            units[b] -= 1
            if now[b] - trial[b] > saved:
                best, saved = b, now[b] - trial[b]
        if best is None:
            break
        donor.set_units(donor.unit_count - 1)
        units[best] += 1
        best.set_units(units[best])
        gained[best] += 1
        now = reread_bytes()
    for s in floor:  # a PMU layout stage's bytes follow its PMUs
        if isinstance(s, rdu.ComputeOp):
            nbytes = max(value_bytes(v) for v in [*s.inputs, *s.outputs])
            s.bytes = IntegerAttr(tile_plan(nbytes, s.unit_count, chip)[0], i64)
    return {b: g for b, g in gained.items() if g}


def reread_cycles(stage: rdu.StageOp, loop, chip: ChipSpec) -> float:
    """Cycles of memory time the re-reads of a matmul with this tile loop add (`passes/tile.py`,
    `matmul_reread`, from the rings its operand buffers are estimated to hold): its re-streamed
    operand's bytes times the extra passes, at its tier's rate; 0 for other stages.

    Why: when the stationary operand has no buffer (attention's output on its way to the `o`
    projection), its block is the loop's tile row, so the weight is re-read once per `mt` rows: a
    tile priced only by its loop took `mt` = 28 on a Llama-3-8B-shaped prefill layer, 74 passes
    of the 64 MB `o` weight, and the layer was HBM-bound on them."""
    if loop.kind != "matmul":
        return 0.0
    _, passes, load = matmul_reread(stage, lambda buffer: estimated_ring(buffer, chip), tuple(loop.tile[:2]))
    if load is None or passes <= 1:
        return 0.0
    return (passes - 1) * value_bytes(load.tensor) / chip.tier_bytes_per_cycle(load.tensor.owner.tier_name)


def stream_tile_bytes(producer: rdu.StageOp, stream, chip: ChipSpec, forced: int = 0, scale: float = 1.0,
                      head_dim: int = 0) -> int:
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
    paths = rdu.stream_paths(producer, ends[1:])
    overhead = max(unit_spec(chip, op.unit_kind).tile_overhead_cycles for op in ends)
    rate = chip.network.vector_link_bytes_per_cycle
    chosen = min(nbytes, balanced_tile(ceil(nbytes / paths), overhead, rate, chip))
    chosen = min(nbytes, program_tile(producer, nbytes, chosen, overhead, rate, paths, chip, head_dim) or chosen)
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
    deadlines: bool = True  # size AGCUs by the phase that needs their bytes (`deadline_units`); False: over the whole kernel

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

    def deadline_allocation(self, stages, group, work, caps, units_of, chip: ChipSpec) -> list[int]:
        """The AGCUs of the kernel's memory stages by deadline (`deadline_units`); other AGCU
        stages (collectives) keep what `balance` gave them."""
        memory = [i for i, s in enumerate(group) if isinstance(s, (rdu.LoadOp, rdu.StoreOp, rdu.StoreRowsOp))]
        if not memory:
            return units_of
        phases = need_phases(stages, chip)
        streams = []
        for i in memory:
            stage = group[i]
            nbytes = work[i] * chip.agcu.bytes_per_cycle
            ahead = 0.0
            if isinstance(stage, rdu.LoadOp) and phases[stage] > 0:
                readers = stage.consumers(stage.result)
                rings = [estimated_ring(c, chip) for c in readers if isinstance(c, rdu.BufferOp)]
                rings += [nbytes for c in readers if pipeline_break(c, chip)]  # a whole stage takes its input in whole
                ahead = float(min(nbytes, max(rings, default=0)))
            streams.append(TierStream(nbytes, phases[stage], ahead,
                                      chip.tier_bytes_per_cycle(stage.tensor.owner.tier_name), caps[i]))
        tier_cycles = max(sum(st.nbytes for st in streams if st.tier_rate == rate) / rate for rate in {st.tier_rate for st in streams})
        compute = max((single_unit_cycles(s, chip) / s.unit_count for s in stages if s.unit_kind == "pcu"), default=0.0)
        if 2 * compute > tier_cycles:
            return units_of  # not clearly memory-bound: the byte model below ignores the PCUs' pace, `balance` does not
        loads = [st for i, st in zip(memory, streams) if isinstance(group[i], rdu.LoadOp)]
        total = sum(st.nbytes for st in loads)
        first = min((st.phase for st in loads if st.nbytes >= total / 100), default=0)
        if not any(st.phase > first and st.nbytes - st.ahead > st.ahead for st in loads):
            return units_of  # every later load's buffer takes most of it in: they stream from the start, `balance` is right
        spare = chip.count("agcu") - sum(u for i, u in enumerate(units_of) if i not in memory)
        chosen = deadline_units(streams, spare, chip.agcu.bytes_per_cycle)
        units_of = list(units_of)
        for i, u in zip(memory, chosen):
            units_of[i] = u
        return units_of

    def buffer_plan(self, kernel: rdu.KernelOp, stage: rdu.BufferOp, units: int, chip: ChipSpec,
                    heads: dict) -> tuple[int, int]:
        """(bytes per PMU, tile bytes) of a buffer on `units` PMUs: the tile its producer's loop
        runs best with (`program_tile`), else the balanced one (`tile_plan`); `tile-bytes` /
        `tile-scale` override it (a CapacityError when two forced tiles overflow a PMU)."""
        per_unit, tile = tile_plan(value_bytes(stage.input), units, chip, memory_stream_overhead(stage, units, chip))
        producer = stage.input.owner
        chosen_tile = program_tile(producer, value_bytes(stage.input), tile, chip.pmu.tile_overhead_cycles,
                                   chip.pmu.bytes_per_cycle, units, chip, heads.get(producer, 0))
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
        return per_unit, tile

    def reserve_resident(self, kernel: rdu.KernelOp, group: list, work: list[float], caps: list[int],
                         units_of: list[int], chip: ChipSpec, heads: dict,
                         floors: dict | None = None) -> tuple[list[int], dict[int, int]]:
        """PMUs per stage with the operands a query-block matmul holds whole (`passes.tile.resident_buffers`:
        attention's Q, Kᵀ and V) given the PMUs that hold all their tiles first, and the kernel's
        other PMU stages balanced over the rest; and {index in `group`: PMUs} of those buffers.
        Unchanged, and {}, when the chip's PMUs cannot hold them and give every other stage one
        (rdu-tile then keeps attention's output transpose whole).

        Why here: `balance` spreads every PMU over the streams for bandwidth (a weight buffer
        takes as many as its bytes earn), so a resident operand, which needs PMUs for capacity,
        gets a few; taken back afterwards from the buffers that got the rest (what rdu-tile did
        until wave 7), they were never enough on a Llama-3-8B-shaped layer, whose weight buffers
        hold every PMU and are sized (tiles, rings) for them. Reserved here, the weight buffers are
        sized around them."""
        found = resident_buffers(head_outer_plans(kernel, chip.pcu.lanes, chip.pmu.sram_bytes))
        index = {s: i for i, s in enumerate(group)}
        need: dict[int, int] = {}
        for buffer in (b for b in found if b in index):
            nbytes = value_bytes(buffer.input)
            units = max(units_of[index[buffer]], ceil(nbytes / chip.pmu.sram_bytes))
            for _ in range(8):  # its tile follows its PMUs, and the PMUs its tiles fill follow the tile
                whole = whole_tile_units(nbytes, self.buffer_plan(kernel, buffer, units, chip, heads)[1], chip)
                if whole <= units:
                    break
                units = whole
            need[index[buffer]] = units
        if not need:
            return units_of, {}
        floor = {index[s]: u for s, u in (floors or {}).items() if s in index and index[s] not in need}
        need_all = {**need, **floor}
        total = chip.count("pmu")
        rest = [i for i in range(len(group)) if i not in need_all]
        if sum(need_all.values()) + len(rest) > total:
            return units_of, {}
        if any(units_of[i] < n for i, n in need_all.items()):
            others = balance([work[i] for i in rest], [caps[i] for i in rest], total - sum(need_all.values()))
            units_of = list(units_of)
            for i, u in zip(rest, others):
                units_of[i] = u
            for i, n in need_all.items():
                units_of[i] = n
        return units_of, need

    def allocate(self, kernel: rdu.KernelOp, chip: ChipSpec) -> None:
        """Units, tiles and depths of every stage (`allocate_once`); again, with the PMUs reserved,
        while attention's output transpose streaming by query blocks has fewer PMUs than its two
        windows of output rows need (`passes.tile.window_units`): its window is a block of query
        rows, and the block follows softmax·V's tile, which is chosen only once the units are."""
        floors: dict[rdu.StageOp, int] = {}
        for _ in range(3):
            reserved = self.allocate_once(kernel, chip, floors)
            short = {s: u for s, u in window_units(kernel, chip).items() if s.unit_count < u} if reserved else {}
            if not short or all(floors.get(s, 0) >= u for s, u in short.items()):
                return
            for s, u in short.items():
                floors[s] = max(floors.get(s, 0), u)

    def allocate_once(self, kernel: rdu.KernelOp, chip: ChipSpec, floors: dict) -> bool:
        """One allocation, with at least `floors[s]` PMUs for a stage when the resident operands'
        PMUs are reserved (`reserve_resident`); whether they were."""
        stages = kernel.stages()
        heads = head_dims(kernel, chip)
        reserved = False
        for kind in ("pcu", "pmu", "agcu"):
            group = [s for s in stages if s.unit_kind == kind]
            if len(group) > chip.count(kind):
                raise CapacityError(
                    f"kernel {kernel.sym_name.data} needs {len(group)} {kind.upper()} stages but chip {chip.name!r} "
                    f"has {chip.count(kind)} {kind.upper()}s ({len(group) - chip.count(kind)} over)"
                )
            work = [single_unit_cycles(s, chip) for s in group]
            if kind == "agcu":  # the PMU buffers are sized by now: a re-streamed load moves its tensor `passes` times
                passes = load_passes(stages, chip, heads)
                work = [w * passes.get(s, 1) for s, w in zip(group, work)]
            caps = [self.cap(s, w, chip) for s, w in zip(group, work)]
            units_of = balance(work, caps, chip.count(kind))
            resident: dict[int, int] = {}
            if kind == "pmu":
                units_of, resident = self.reserve_resident(kernel, group, work, caps, units_of, chip, heads, floors)
                reserved = bool(resident)
            if kind == "agcu" and self.deadlines:
                units_of = self.deadline_allocation(stages, group, work, caps, units_of, chip)
            if kind == "agcu":
                units_of = spend_spare_on_early_loads([isinstance(s, rdu.LoadOp) for s in group], units_of, caps, chip.count(kind))
            for i, (stage, units) in enumerate(zip(group, units_of)):
                stage.set_units(units)
                if isinstance(stage, rdu.BufferOp):
                    per_unit, tile = self.buffer_plan(kernel, stage, units, chip, heads)
                    if i in resident:  # its ring is every tile of its value, spread over its PMUs
                        per_unit = ceil(stream_tiles(value_bytes(stage.input), tile) / units) * min(tile, value_bytes(stage.input))
                        stage.attributes[RESIDENT_ATTR] = UnitAttr()
                    else:
                        stage.attributes.pop(RESIDENT_ATTR, None)  # a kernel allocated again (a split half)
                    stage.bytes = IntegerAttr(per_unit, i64)
                    stage.tile_bytes = IntegerAttr(tile, i64)
                elif isinstance(stage, rdu.ComputeOp) and stage.unit_kind == "pmu":
                    nbytes = max(value_bytes(v) for v in [*stage.inputs, *stage.outputs])
                    stage.bytes = IntegerAttr(tile_plan(nbytes, units, chip)[0], i64)
            if kind == "pmu" and self.tile_bytes == 0 and self.tile_scale == 1.0:
                grow_stationary(kernel, chip, heads)
        chosen: dict = {}
        row_tiled: set = set()  # streams of per-row results, which a buffer passes on at their tile
        for stage in stages:
            tiles = [stream_tile_bytes(stage, r, chip, self.tile_bytes, self.tile_scale, heads.get(stage, 0))
                     for r in stage.results]
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
        return reserved
