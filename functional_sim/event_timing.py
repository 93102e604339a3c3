"""Kernel records from the discrete-event run: cycles, per-stage busy and stall, and the bound named.

A kernel costs its launch plus the event run's makespan (the last tile out). The bound is the
resource with the most cycles on the run's critical path (`critical_path`): a stage's unit group
(`compute` for PCUs, `sram` for PMUs, the tier for AGCUs), a stream's path and the links it shares
(`network`), or a memory tier's bandwidth; `launch` when the launch costs more than the run.
`bound_share` is that resource's part of the body's cycles. `steady_cycles` is the busiest
resource's busy time and `fill_cycles` the rest of the makespan (pipeline fill, drain and stalls
that the bottleneck did not hide).

Identical kernels are simulated once. A kernel's run starts from empty FIFOs and idle resources
and depends only on its `KernelGraph` numbers (steps, intervals, latencies, FIFO capacities, tile
counts, routes' latencies, shared-resource structure), not on ids, names or sites; so a run is
kept under that signature and a kernel with the same signature (the 32 decoder layers of a Llama)
reuses it exactly, with its own ids and names. Reuse changes no cycle (tests compare it with
`reuse=False`).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import fields
from math import ceil
from typing import Callable

from bitstream_format import Bitstream, KernelEntry, nbytes_of
from chip_model import ChipSpec

from functional_sim.event_engine import DEFAULT_BATCH, KernelRun, run_kernel
from functional_sim.event_graph import KernelGraph, kernel_graph
from functional_sim.rereads import program_passes
from functional_sim.timing import agcu_tier_bytes
from functional_sim.timing import UNIT_BOUND, KernelRecord, StageTiming, launch_cycles_of


# What a run reads of its graph; ids, names and sites only label records, traces and deadlock messages.
LABELS = frozenset({"stage_ids", "stage_names", "stage_sites", "stream_ids", "resource_names", "whole"})
RUNS_KEPT = 16  # distinct kernel runs remembered (most recently used first out)
_runs: OrderedDict[tuple, KernelRun] = OrderedDict()


def kernel_signature(g: KernelGraph) -> tuple:
    """Everything in `g` that the event run depends on, as a hashable value."""
    def frozen(v):
        return tuple(frozen(x) for x in v) if isinstance(v, (list, tuple)) else v
    return tuple(frozen(getattr(g, f.name)) for f in fields(KernelGraph) if f.name not in LABELS)


def cached_run(g: KernelGraph, kernel_name: str, *, batch: int, exact: bool, grow_fifos: bool,
               reuse: bool = True) -> KernelRun:
    """The kernel's run, reused from an identical kernel run before (same signature and options)."""
    if not reuse:
        return run_kernel(g, kernel_name, batch=batch, exact=exact, grow_fifos=grow_fifos)
    key = (kernel_signature(g), batch, exact, grow_fifos)
    run = _runs.get(key)
    if run is None:
        run = run_kernel(g, kernel_name, batch=batch, exact=exact, grow_fifos=grow_fifos)
        _runs[key] = run
        if len(_runs) > RUNS_KEPT:
            _runs.popitem(last=False)
    else:
        _runs.move_to_end(key)
    return run


def critical_resource(bs: Bitstream, g: KernelGraph, run: KernelRun, key: tuple[str, int]) -> tuple[str, str]:
    """(bound kind, name) of a resource on the critical path (`critical_path` keys)."""
    kind, x = key
    if kind == "stage":
        s = bs.stage(g.stage_ids[x])
        bound = bs.tensor(s.tensor).tier if s.unit == "agcu" and s.tensor >= 0 else UNIT_BOUND.get(s.unit, "peer")
        return bound, f"stage {s.label or s.opcode!r} (id {s.id})"
    if kind == "stream":  # a link it shares with busier traffic than its own is what slows it
        link = max((r for r, _ in g.stream_shared[x]), key=lambda r: run.resource_busy[r], default=None)
        if link is not None and run.resource_busy[link] > run.stream_busy[x] * (1 + 1e-9):
            return "network", g.resource_names[link]
        return "network", f"stream {g.stream_ids[x]}"
    if kind == "credit":  # backpressure: the destination had not freed a slot of the FIFO
        dst = g.stage_names[g.edge_dst[x]]
        return "network", f"credits of stream {g.stream_ids[g.edge_stream[x]]} from {dst!r}"
    return g.resource_kinds[x], g.resource_names[x]


def critical_path_summary(bs: Bitstream, g: KernelGraph, run: KernelRun, most: int = 5) -> tuple[tuple[str, str, int], ...]:
    """The resources that hold the most cycles of the critical path: (bound kind, name, cycles), largest first."""
    ranked = sorted(run.critical.items(), key=lambda kv: (-kv[1], kv[0]))[:most]
    return tuple((*critical_resource(bs, g, run, key), round(c)) for key, c in ranked if c > 0)


def event_kernel_timing(bs: Bitstream, chip: ChipSpec, k: KernelEntry, start: int, launch: str,
                        *, batch: int = DEFAULT_BATCH, exact: bool = False, fifos: str = "configured",
                        max_steps: int | None = None, reuse: bool = True,
                        graph: Callable[[KernelGraph], KernelGraph] | None = None,
                        tier_order: str = "arrival") -> KernelRecord:
    """The kernel's record from its event run; `graph` transforms its graph first (a layer loop's
    repetition, functional_sim.layer_loop); `tier_order` as `event_graph.kernel_graph` takes it."""
    graph = graph or (lambda g: g)
    g = graph(kernel_graph(bs, chip, k, max_steps, tier_order))
    run = cached_run(g, k.name, batch=batch, exact=exact, grow_fifos=fifos == "grow", reuse=reuse)
    stages, tiers = [], {"hbm": 0, "ddr": 0}
    for i, sid in enumerate(g.stage_ids):
        s = bs.stage(sid)
        bound = UNIT_BOUND.get(s.unit, "peer")  # an AGCU stage without a tensor: a collective
        if s.unit == "agcu" and s.tensor >= 0:
            t = bs.tensor(s.tensor)
            passes = program_passes(bs, s.id) if s.opcode == "load" else 1  # re-streamed: every pass
            moved = agcu_tier_bytes(bs, s)[1] if s.opcode == "load_rows" else nbytes_of(t.dtype, t.shape) * passes
            tiers[t.tier] += moved * g.iterations
            bound = t.tier
        stages.append(StageTiming(
            sid, s.label, s.opcode, s.unit, len(s.sites), ceil(run.busy[i]), bound,
            ceil(run.stall_input[i]), ceil(run.stall_credit[i]), ceil(run.stall_memory[i]),
            int(run.first_start[i]), ceil(run.last_end[i]),
        ))
    stream_cycles = {sid: ceil(run.stream_busy[x]) for x, sid in enumerate(g.stream_ids)}
    tier_cycles = {g.resource_names[r]: ceil(run.resource_busy[r])
                   for r, kind in enumerate(g.resource_kinds) if kind in ("hbm", "ddr")}
    busiest = max([*run.busy, *run.resource_busy, *run.stream_busy], default=0.0)
    path = critical_path_summary(bs, g, run)
    bound, bound_by, critical = path[0] if path else ("launch", "launch", 0)
    body = ceil(run.body)
    steady = min(body, ceil(busiest))
    share = min(1.0, critical / run.body) if run.body > 0 else 0.0
    launch_cycles = launch_cycles_of(chip, launch)
    if launch_cycles > body or body == 0:
        bound, bound_by, share = "launch", "launch", 0.0
    grown = {g.stream_ids[g.edge_stream[e]]: used for e, used in run.grown.items()}
    return KernelRecord(
        k.id, k.name, k.section, start, launch_cycles + body, bound, launch_cycles, body - steady, steady,
        tuple(stages), stream_cycles, tier_cycles, tiers, timing="event", bound_by=bound_by,
        events=run.events, tile_events=run.tile_events, fifo_growth=grown, run=(g, run),
        bound_share=round(share, 4), critical_path=path,
    )
