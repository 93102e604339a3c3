"""Kernel records from the discrete-event run: cycles, per-stage busy and stall, and the bound named.

A kernel costs its launch plus the event run's makespan (the last tile out). `steady_cycles` is
the busy time of the bounding resource and `fill_cycles` the rest of the makespan (pipeline fill,
drain and stalls that the bottleneck did not hide). The bound is the resource with the most busy
cycles: a stage's unit group (`compute` for PCUs, `sram` for PMUs, the tier for AGCUs), a
stream's path or a shared link (`network`), or a memory tier; `launch` when the launch costs more
than the run.
"""

from __future__ import annotations

from math import ceil

from bitstream_format import Bitstream, KernelEntry, nbytes_of
from chip_model import ChipSpec

from functional_sim.event_engine import DEFAULT_BATCH, run_kernel
from functional_sim.event_graph import kernel_graph
from functional_sim.timing import UNIT_BOUND, KernelRecord, StageTiming, launch_cycles_of


def event_kernel_timing(bs: Bitstream, chip: ChipSpec, k: KernelEntry, start: int, launch: str,
                        *, batch: int = DEFAULT_BATCH, exact: bool = False, fifos: str = "configured",
                        max_steps: int | None = None) -> KernelRecord:
    g = kernel_graph(bs, chip, k, max_steps)
    run = run_kernel(g, k.name, batch=batch, exact=exact, grow_fifos=fifos == "grow")
    stages, tiers = [], {"hbm": 0, "ddr": 0}
    candidates: list[tuple[float, str, str]] = []
    for i, sid in enumerate(g.stage_ids):
        s = bs.stage(sid)
        bound = UNIT_BOUND.get(s.unit, "")
        if s.unit == "agcu" and s.tensor >= 0:
            t = bs.tensor(s.tensor)
            tiers[t.tier] += nbytes_of(t.dtype, t.shape)
            bound = t.tier
        stages.append(StageTiming(
            sid, s.label, s.opcode, s.unit, len(s.sites), ceil(run.busy[i]), bound,
            ceil(run.stall_input[i]), ceil(run.stall_credit[i]), ceil(run.stall_memory[i]),
            int(run.first_start[i]), ceil(run.last_end[i]),
        ))
        candidates.append((run.busy[i], bound, f"stage {s.label or s.opcode!r} (id {sid})"))
    for r, name in enumerate(g.resource_names):
        candidates.append((run.resource_busy[r], g.resource_kinds[r], name))
    stream_cycles = {}
    for x, sid in enumerate(g.stream_ids):
        stream_cycles[sid] = ceil(run.stream_busy[x])
        candidates.append((run.stream_busy[x], "network", f"stream {sid}"))
    tier_cycles = {g.resource_names[r]: ceil(run.resource_busy[r])
                   for r, kind in enumerate(g.resource_kinds) if kind in ("hbm", "ddr")}
    busiest, bound, bound_by = max(candidates, key=lambda c: c[0], default=(0.0, "launch", "launch"))
    body = ceil(run.body)
    steady = min(body, ceil(busiest))
    launch_cycles = launch_cycles_of(chip, launch)
    if launch_cycles > body or body == 0:
        bound, bound_by = "launch", "launch"
    return KernelRecord(
        k.id, k.name, k.section, start, launch_cycles + body, bound, launch_cycles, body - steady, steady,
        tuple(stages), stream_cycles, tier_cycles, tiers, timing="event", bound_by=bound_by,
        events=run.events, tile_events=run.tile_events, fifo_growth=dict(run.grown), run=(g, run),
    )
