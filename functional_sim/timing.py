"""Cycle estimate of a bitstream, from its configuration and the chip spec alone.

Nothing here looks at values or wall time: the same bitstream on the same chip always gives the
same cycles, whether or not it is executed. The model (docs/simulator.md) is a pipelined
roofline per kernel: every stage, stream and memory tier works concurrently, the slowest one
sets the steady-state time, and the pipeline fill plus the kernel launch are paid on top.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import ceil, prod
from typing import Any, Callable

from bitstream_format import Bitstream, KernelEntry, StageConfig, StreamEntry, nbytes_of, opcode, work_flops
from chip_model import ChipSpec

from functional_sim.errors import SimulationError
from functional_sim.rereads import program_passes, stream_passes

LAUNCH_MODES = ("software", "hardware")
UNIT_BOUND = {"pcu": "compute", "pmu": "sram"}  # an AGCU stage is bound by its tensor's tier


@dataclass(frozen=True)
class StageTiming:
    id: int
    label: str
    opcode: str
    unit: str
    sites: int
    cycles: int  # analytic: the stage's whole work; event: cycles its units were busy
    bound: str  # what a kernel bound by this stage is bound by: compute, sram, hbm or ddr
    stall_input_cycles: int = 0  # event timing: waiting for input tiles
    stall_credit_cycles: int = 0  # event timing: waiting for credits (a destination's FIFO full)
    stall_memory_cycles: int = 0  # event timing: waiting for its memory tier
    first_cycle: int = 0  # event timing: its first step's start, from the kernel body's start
    last_cycle: int = 0  # event timing: its last tile out


@dataclass(frozen=True)
class KernelRecord:
    """One kernel's place on the timeline and what limits it."""

    id: int
    name: str
    section: int
    start: int
    cycles: int  # launch + fill + steady
    bound: str  # compute, sram, hbm, ddr, network or launch
    launch_cycles: int
    fill_cycles: int
    steady_cycles: int
    stages: tuple[StageTiming, ...]
    stream_cycles: dict[int, int] = field(default_factory=dict)
    tier_cycles: dict[str, int] = field(default_factory=dict)
    tier_bytes: dict[str, int] = field(default_factory=dict)
    timing: str = "analytic"  # the engine that produced this record: analytic or event
    bound_by: str = ""  # the named resource behind `bound` (a stage, stream, link or tier)
    bound_share: float = 0.0  # event timing: `bound_by`'s part of the body on the critical path
    critical_path: tuple[tuple[str, str, int], ...] = ()  # event timing: (kind, resource, cycles), largest first
    events: int = 0  # event timing: stage firings processed
    tile_events: int = 0  # event timing: tiles moved and popped
    fifo_growth: dict[int, tuple[int, int]] = field(default_factory=dict)  # stream -> (configured, used) tiles
    run: Any = field(default=None, compare=False, repr=False)  # event timing: the KernelRun, for traces

    @property
    def stage_cycles(self) -> dict[int, int]:
        return {s.id: s.cycles for s in self.stages}


@dataclass(frozen=True)
class SectionRecord:
    """A program load: the section's configuration is streamed onto the chip before its kernels."""

    id: int
    name: str
    start: int
    load_cycles: int


@dataclass(frozen=True)
class ProgramTiming:
    cycles: int  # one run of the program (the timeline's kernels start after any setup)
    setup_cycles: int  # the program load paid once, before the first run, by a one-section program
    kernels: tuple[KernelRecord, ...]
    sections: tuple[SectionRecord, ...]
    tier_bytes: dict[str, int]


def _streams(bs: Bitstream, ids: tuple[int, ...]) -> list[StreamEntry]:
    return [bs.stream(i) for i in ids]


def agcu_tier_bytes(bs: Bitstream, s: StageConfig) -> tuple[str, int]:
    """(tier, bytes) an AGCU stage moves: a load re-streamed to a matmul moves its tensor once per
    pass (functional_sim.rereads), every pass through the tier."""
    t = bs.tensor(s.tensor)
    if s.opcode == "store_rows":  # writes only the rows it carries (a KV cache append)
        return t.tier, bs.stream(s.inputs[0]).nbytes
    if s.opcode == "load_rows":  # reads only the rows the index picks (an embedding lookup)
        return t.tier, bs.stream(s.outputs[0]).nbytes
    passes = program_passes(bs, s.id) if s.opcode == "load" else 1
    return t.tier, nbytes_of(t.dtype, t.shape) * max(1, passes)


def stage_cycles(bs: Bitstream, chip: ChipSpec, s: StageConfig) -> int:
    """Cycles for the stage to process its whole value, with all its sites sharing the work."""
    work = stage_work_cycles(bs, chip, s)
    if s.unit == "pmu":
        n = len(s.sites)
        tiles = max((ceil(st.nbytes / (st.tile_bytes * n)) for st in _streams(bs, s.outputs) if st.tile_bytes), default=1)
        return work + tiles * chip.pmu.tile_overhead_cycles
    return work


def stage_work_cycles(bs: Bitstream, chip: ChipSpec, s: StageConfig) -> int:
    """The stage's work without per-tile overheads: what the event engine spreads over its tiles."""
    n = len(s.sites)
    ins, outs = _streams(bs, s.inputs), _streams(bs, s.outputs)
    if s.unit == "agcu" and s.tensor < 0:  # a collective on the node's peer-to-peer links
        from functional_sim.collective import collective_stage_cycles

        return collective_stage_cycles(bs, chip, s)
    if s.unit == "agcu":
        return ceil(agcu_tier_bytes(bs, s)[1] / (chip.agcu.bytes_per_cycle * n))
    if s.unit == "pmu":  # a buffer re-streaming a load's passes moves each of them
        moved = sum(st.nbytes * stream_passes(bs, st) for st in ins + outs)
        return ceil(moved / (chip.pmu.bytes_per_cycle * n))
    op, pcu = opcode(s.opcode), chip.pcu
    out_elements = sum(prod(st.shape) for st in outs)
    if op.family == "matmul":
        flops = work_flops(s.opcode, [st.shape for st in ins], [st.shape for st in outs])
        return ceil(flops / (pcu.flops_per_cycle * n))
    if op.family == "generate":
        return ceil(out_elements / (pcu.lanes * n))
    elements = prod(ins[0].shape) if op.family in ("reduce", "scan", "select") and ins else out_elements
    passes = ceil(op.flops_per_element / pcu.stages)  # the op's flops fold into the stage pipeline
    cycles = elements * passes / (pcu.lanes * n)
    if op.transcendental and pcu.transcendentals_per_cycle:
        cycles = max(cycles, elements / (pcu.transcendentals_per_cycle * n))
    return ceil(cycles)


def stream_paths(bs: Bitstream, st: StreamEntry) -> int:
    """The parallel paths of stream `st`, from its source stage's n units (sites) to destination
    stages of m_1, m_2, ... units: min(n, max m_j), at least 1. The stream's bytes are shared
    evenly over the units at both ends and each path joins one source unit to one destination
    unit, so as many paths run at once as there are unit pairs, up to the smaller side: a 1-PMU
    buffer feeding 900 PCUs moves at one link's rate, 9 AGCUs feeding 9 PMUs at nine. A stream
    multicasts, so its widest destination bounds it; with no destination it counts as one path.

    The compiler chose the stream's tile, its route's rate and its FIFO credits for this bandwidth
    with its own count over the IR (`dialects.rdu.stream_paths`; the simulator reads only the
    bitstream and the chip model): the two must agree, or the simulator times a bandwidth the
    compiler did not size for (tests/sim/test_stream_paths_agree.py checks them on a compiled
    program)."""
    return max(1, min(len(bs.stage(st.src).sites), max((len(bs.stage(d).sites) for d in st.dsts), default=1)))


def stream_transfer_cycles(bs: Bitstream, chip: ChipSpec, st: StreamEntry) -> int:
    """A stream between unit groups moves its bytes over its parallel paths (`stream_paths`), each
    at one link's rate."""
    link = chip.network.vector_link_bytes_per_cycle if st.network == "vector" else chip.network.scalar_link_bytes_per_cycle
    return ceil(st.nbytes * stream_passes(bs, st) / (link * stream_paths(bs, st)))


def _stream_latency(chip: ChipSpec, st: StreamEntry, dst: int) -> int:
    hops = st.hops[st.dsts.index(dst)] if st.hops else 0
    crossings = sum(chip.grid.die_of(y0) != chip.grid.die_of(y1) for _, y0, _, y1 in st.links)
    return hops * chip.network.hop_latency_cycles + crossings * chip.network.die_crossing_latency_cycles


def _tile_fraction(st: StreamEntry) -> float:
    """Share of the stream's value in one tile; tile_bytes 0 means the value moves whole."""
    if st.nbytes == 0:
        return 0.0
    return min(1.0, st.tile_bytes / st.nbytes) if st.tile_bytes > 0 else 1.0


def _fill(bs: Bitstream, chip: ChipSpec, k: KernelEntry, cycles: dict[int, int]) -> int:
    """Longest producer->consumer path: stream latencies plus one tile's worth of each stage."""
    finish: dict[int, int] = {}
    for sid in k.stages:
        s = bs.stage(sid)
        ins, outs = _streams(bs, s.inputs), _streams(bs, s.outputs)
        arrive = max((finish.get(st.src, 0) + _stream_latency(chip, st, sid) for st in ins), default=0)
        tile = max((_tile_fraction(st) for st in (outs or ins)), default=1.0)
        finish[sid] = arrive + ceil(cycles[sid] * tile)
    return max(finish.values(), default=0)


def analytic_kernel_timing(bs: Bitstream, chip: ChipSpec, k: KernelEntry, start: int, launch: str) -> KernelRecord:
    stages, tiers = [], {"hbm": 0, "ddr": 0}
    for sid in k.stages:
        s = bs.stage(sid)
        bound = UNIT_BOUND.get(s.unit, "") if s.tensor >= 0 or s.unit != "agcu" else "peer"
        if s.unit == "agcu" and s.tensor >= 0:
            tier, nbytes = agcu_tier_bytes(bs, s)
            tiers[tier] += nbytes
            bound = tier
        stages.append(StageTiming(s.id, s.label, s.opcode, s.unit, len(s.sites), stage_cycles(bs, chip, s), bound))
    tier_cycles = {t: ceil(b / chip.tier_bytes_per_cycle(t)) for t, b in tiers.items() if b}
    stream_cycles = {st.id: stream_transfer_cycles(bs, chip, st)
                     for sid in k.stages for st in _streams(bs, bs.stage(sid).outputs)}

    candidates = [(st.cycles, st.bound) for st in stages]
    candidates += [(c, t) for t, c in tier_cycles.items()]
    candidates += [(c, "network") for c in stream_cycles.values()]
    steady, bound = max(candidates, key=lambda c: c[0], default=(0, "launch"))
    fill = _fill(bs, chip, k, {st.id: st.cycles for st in stages})
    launch_cycles = chip.launch.software_launch_cycles if launch == "software" else chip.launch.hardware_launch_cycles
    if launch_cycles > steady + fill or steady + fill == 0:
        bound = "launch"
    return KernelRecord(
        k.id, k.name, k.section, start, launch_cycles + fill + steady, bound, launch_cycles, fill, steady,
        tuple(stages), stream_cycles, tier_cycles, tiers, bound_by=bound,
    )


def launch_cycles_of(chip: ChipSpec, launch: str) -> int:
    return chip.launch.software_launch_cycles if launch == "software" else chip.launch.hardware_launch_cycles


KernelTiming = Callable[[Bitstream, ChipSpec, KernelEntry, int, str], KernelRecord]


def program_timing(bs: Bitstream, chip: ChipSpec, launch: str = "software",
                   kernel_timing: KernelTiming | None = None) -> ProgramTiming:
    """Kernels run one after another in `bs.kernels` order; each change of section reloads the program.

    A program of one section stays loaded from run to run, so its load is setup, not part of a
    run; with several sections every run reloads each of them."""
    if launch not in LAUNCH_MODES:
        raise SimulationError(f"launch must be one of {', '.join(LAUNCH_MODES)}, got {launch!r}")
    sections = {sec.id: sec for sec in bs.sections}
    now, current = 0, None
    kernels, loads = [], []
    tier_bytes = {"hbm": 0, "ddr": 0}
    for k in bs.kernels:
        if k.section != current:
            sec = sections[k.section]
            loads.append(SectionRecord(sec.id, sec.name, now, chip.launch.program_load_cycles))
            now += chip.launch.program_load_cycles
            current = k.section
        record = (kernel_timing or analytic_kernel_timing)(bs, chip, k, now, launch)
        kernels.append(record)
        now += record.cycles
        for tier, nbytes in record.tier_bytes.items():
            tier_bytes[tier] += nbytes
    setup = loads[0].load_cycles if len(loads) == 1 else 0
    return ProgramTiming(now - setup, setup, tuple(kernels), tuple(loads), tier_bytes)
