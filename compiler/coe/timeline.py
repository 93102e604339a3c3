"""The node's serving timeline as a Perfetto / Chrome trace (JSON): one track for the router, one
for DDR->HBM switching, one for the experts, every span named by its model and request."""

from __future__ import annotations

from typing import Any

from compiler.coe.serve import ServeResult

TRACKS = {"router": 1, "switch": 2, "expert": 3}
TRACK_NAMES = {"router": "router", "switch": "DDR->HBM expert switch", "expert": "expert (prefill, decode)"}


def chrome_trace(result: ServeResult) -> dict[str, Any]:
    meta: list[dict[str, Any]] = [{"ph": "M", "name": "process_name", "pid": 1, "args": {"name": result.platform}}]
    for kind, tid in TRACKS.items():
        meta.append({"ph": "M", "name": "thread_name", "pid": 1, "tid": tid, "args": {"name": TRACK_NAMES[kind]}})
        meta.append({"ph": "M", "name": "thread_sort_index", "pid": 1, "tid": tid, "args": {"sort_index": tid}})
    events = [{"ph": "X", "pid": 1, "tid": TRACKS[kind], "name": name, "cat": kind, "ts": start * 1e6,
               "dur": seconds * 1e6, "args": args} for kind, name, start, seconds, args in result.events]
    return {"traceEvents": meta + events, "displayTimeUnit": "ms"}
