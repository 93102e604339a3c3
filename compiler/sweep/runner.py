"""The sweep's scheduler: points whose results are cached are answered at once; the rest are
submitted one task per point, at most `workers` at a time, holding back a point while another with
the same compile key is running, so that identical compiles run once and the rest hit the cache.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from compiler.sweep.cache import SweepCache
from compiler.sweep.points import Point

ProgressFn = Callable[[dict[str, Any], dict[str, int]], None]


@dataclass
class SweepRun:
    rows: list[dict[str, Any]]
    wall_seconds: float
    init_seconds: float
    counts: dict[str, int] = field(default_factory=dict)


def run_points(points: list[Point], make_backend: Callable[[], Any], cache_dir: Path, reuse_results: bool = True,
               progress: ProgressFn = lambda row, counts: None) -> SweepRun:
    """`make_backend` is called only if some point is not cached (a warm re-run starts no Ray);
    the backend's `workers` bounds the points in flight."""
    start = time.perf_counter()
    cache = SweepCache(cache_dir)
    counts = {"done": 0, "failed": 0, "cached": 0}
    rows: dict[int, dict[str, Any]] = {}

    def record(row: dict[str, Any]) -> None:
        rows[row["index"]] = row
        counts["done"] += 1
        counts["failed"] += row["status"] != "ok"
        counts["cached"] += bool(row["cached"])
        progress(row, counts)

    pending: deque[Point] = deque()
    for p in points:
        hit = cache.get_result(p.point_key) if reuse_results else None
        if hit is not None:
            record({**hit, "index": p.index, "cached": "result", "run_seconds": 0.0})
        else:
            pending.append(p)
    running: dict[int, str] = {}  # index -> compile key
    backend = make_backend() if pending else None
    init_seconds = getattr(backend, "init_seconds", 0.0)
    workers = getattr(backend, "workers", 1)
    while pending or running:
        held: deque[Point] = deque()
        while pending and len(running) < workers:
            p = pending.popleft()
            if p.compile_key in running.values():
                held.append(p)
                continue
            backend.submit(p.task(cache_dir, reuse_results))
            running[p.index] = p.compile_key
        pending.extendleft(reversed(held))
        row = backend.wait_one()
        running.pop(row["index"], None)
        record(row)
    return SweepRun([rows[p.index] for p in points], time.perf_counter() - start, init_seconds, counts)
