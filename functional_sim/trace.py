"""Chrome / Perfetto trace of a simulated run (open the JSON in ui.perfetto.dev or chrome://tracing).

Tracks: program loads and one per kernel with its launch, pipeline fill and steady state. With
analytic timing, one track per stage kind (every stage as a slice over the kernel body; stages of
a kernel run concurrently, so they share a start and nest by length). With event timing, one
track per stage (its unit group) with its busy spans and its stalls as slices named by what it
waited for (input, credit, memory), and one counter track per FIFO with its occupancy in tiles,
so a user sees where a pipeline waits. Timestamps are microseconds derived from cycles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from functional_sim.result import SimulationResult

PID = 1
LOAD_TID = 1
KIND_TIDS = {"pcu": 2, "pmu": 3, "agcu": 4}
KERNEL_TID0 = 10
STAGE_TID0 = 100_000  # event timing: one track per stage, after the kernel tracks


def _meta(name: str, tid: int | None, value: str, sort: int | None = None) -> list[dict[str, Any]]:
    base = {"ph": "M", "pid": PID} | ({"tid": tid} if tid is not None else {})
    out = [base | {"name": name, "args": {"name": value}}]
    if sort is not None:
        out.append(base | {"name": "thread_sort_index", "args": {"sort_index": sort}})
    return out


def chrome_trace(result: SimulationResult) -> dict[str, Any]:
    us_per_cycle = 1e6 / result.clock_hz

    def span(name: str, tid: int, start: int, cycles: int, cat: str, **args: Any) -> dict[str, Any]:
        return {
            "name": name, "cat": cat, "ph": "X", "pid": PID, "tid": tid,
            "ts": start * us_per_cycle, "dur": cycles * us_per_cycle, "args": args | {"cycles": cycles},
        }

    meta = _meta("process_name", None, f"rducc {result.chip} ({result.launch} launch)")
    meta += _meta("thread_name", LOAD_TID, "program load", LOAD_TID)
    for kind, tid in KIND_TIDS.items():
        meta += _meta("thread_name", tid, f"{kind} stages", tid)

    events = [span(f"load section {s.name}", LOAD_TID, s.start, s.load_cycles, "section", section=s.id)
              for s in result.sections]
    for i, k in enumerate(result.kernels):
        tid = KERNEL_TID0 + i
        meta += _meta("thread_name", tid, f"kernel {k.id} {k.name}", tid)
        body = k.start + k.launch_cycles
        events.append(span(k.name, tid, k.start, k.cycles, "kernel", kernel=k.id, bound=k.bound, section=k.section))
        events.append(span("launch", tid, k.start, k.launch_cycles, "kernel"))
        events.append(span("fill", tid, body, k.fill_cycles, "kernel"))
        events.append(span("steady", tid, body + k.fill_cycles, k.steady_cycles, "kernel"))
        if k.run is not None:
            stage_meta, stage_events = _event_tracks(k, body, us_per_cycle)
            meta += stage_meta
            events += stage_events
            continue
        for s in k.stages:
            events.append(span(s.label or s.opcode, KIND_TIDS[s.unit], body, s.cycles, s.unit,
                               stage=s.id, opcode=s.opcode, sites=s.sites, kernel=k.name))
    # Same-start slices on one track must come longest first so that they nest.
    events.sort(key=lambda e: (e.get("tid", -1), e["ts"], -e.get("dur", 0)))
    return {"traceEvents": meta + events, "displayTimeUnit": "ns"}


def _event_tracks(k: Any, body: int, us: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Per-stage busy and stall slices and per-FIFO occupancy counters of an event-timed kernel."""
    g, run = k.run
    meta: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    for i, sid in enumerate(g.stage_ids):
        tid = STAGE_TID0 + sid
        meta += _meta("thread_name", tid, f"{k.name}: {g.stage_names[i]} ({g.stage_units[i]} x{len(g.stage_sites[i])})", tid)
        flat = run.busy_slices[i]
        for a, b in zip(flat[0::2], flat[1::2]):
            events.append({"name": g.stage_names[i], "cat": "busy", "ph": "X", "pid": PID, "tid": tid,
                           "ts": (body + a) * us, "dur": (b - a) * us, "args": {"stage": sid, "kernel": k.name}})
        for a, b, cause in run.stall_slices[i]:
            events.append({"name": f"stall: {cause or 'start'}", "cat": "stall", "ph": "X", "pid": PID, "tid": tid,
                           "ts": (body + a) * us, "dur": (b - a) * us, "args": {"stage": sid, "waits_for": cause}})
    for e, series in enumerate(run.occupancy):
        name = f"fifo stream {g.stream_ids[g.edge_stream[e]]} -> {g.stage_names[g.edge_dst[e]]} (cap {g.edge_capacity[e]})"
        for t, v in series:
            events.append({"name": name, "ph": "C", "pid": PID, "ts": (body + t) * us, "args": {"tiles": v}})
    return meta, events
