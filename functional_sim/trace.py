"""Chrome / Perfetto trace of a simulated run (open the JSON in ui.perfetto.dev or chrome://tracing).

Tracks: program loads, one per stage kind (every stage as a slice over the kernel body; stages
of a kernel run concurrently, so they share a start and nest by length), and one per kernel with
its launch, pipeline fill and steady state. Timestamps are microseconds derived from cycles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from functional_sim.result import SimulationResult

PID = 1
LOAD_TID = 1
KIND_TIDS = {"pcu": 2, "pmu": 3, "agcu": 4}
KERNEL_TID0 = 10


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
        for s in k.stages:
            events.append(span(s.label or s.opcode, KIND_TIDS[s.unit], body, s.cycles, s.unit,
                               stage=s.id, opcode=s.opcode, sites=s.sites, kernel=k.name))
    # Same-start slices on one track must come longest first so that they nest.
    events.sort(key=lambda e: (e["tid"], e["ts"], -e["dur"]))
    return {"traceEvents": meta + events, "displayTimeUnit": "ns"}
