"""Compile a CoE's programs as a fleet: one task per architecture, on the sweep's backends.

150 experts of 5 architectures are 5 compile jobs (each: every program that architecture needs,
its prefill and decode layers at each length bucket and its head); they are independent, so they
run in parallel on a Ray cluster (`--ray ADDRESS`), on a local Ray instance of `--workers N` CPUs,
or in this process (`--local`), through compiler/sweep's backends (`RayBackend`, `LocalBackend`:
the same submit / wait_one task path as `rducc sweep`). A task is plain data (the CoE file, the
architecture's digest, its program shapes, the cache folder); the worker opens the CoE file and
writes its programs into the content-hashed program cache (compiler/coe/programs.py), which every
worker and the driver must see at the same path (a shared filesystem on a cluster, as for the
sweep's cache). A later `rducc coe serve` with that cache compiles nothing.

A task that fails records its one-line error; the others go on (as a sweep point does).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from compiler.coe.architecture import Architecture
from compiler.coe.programs import ProgramShape


@dataclass
class FleetResult:
    """One row per architecture: its name, programs compiled / found cached, seconds, error."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    wall_seconds: float = 0.0

    @property
    def failed(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r["status"] != "ok"]

    def to_json(self) -> dict[str, Any]:
        return {"architectures": self.rows, "wall_seconds": self.wall_seconds,
                "compiled": sum(r["compiled"] for r in self.rows), "cached": sum(r["cached"] for r in self.rows),
                "failed": len(self.failed)}


def fleet_tasks(coe_file: Path, cache_dir: Path, needs: Sequence[tuple[Architecture, ProgramShape]],
                placer: str) -> list[dict[str, Any]]:
    """One task per architecture, in first-need order, as plain data for a worker. `placer` is the
    driver's resolved placer: a worker compiles with it, so the programs it caches are the ones the
    driver's `serve` looks up."""
    by_arch: dict[str, tuple[Architecture, list[ProgramShape]]] = {}
    for arch, shape in needs:
        by_arch.setdefault(arch.digest(), (arch, []))[1].append(shape)
    return [{"index": i, "coe_file": str(Path(coe_file).resolve()), "cache_dir": str(Path(cache_dir).resolve()),
             "digest": digest, "architecture": arch.name, "shapes": [asdict(s) for s in shapes], "placer": placer}
            for i, (digest, (arch, shapes)) in enumerate(by_arch.items())]


def compile_architecture(task: dict[str, Any]) -> dict[str, Any]:
    """A worker's task: compile (or find cached) every program of one architecture."""
    from compiler.coe.errors import CoEError
    from compiler.coe.session import CoESession

    start = time.perf_counter()
    row = {"index": task["index"], "architecture": task["architecture"], "programs": len(task["shapes"]),
           "compiled": 0, "cached": 0, "fallbacks": [], "status": "ok", "error": ""}
    try:
        session = CoESession(task["coe_file"], Path(task["cache_dir"]), placer=task["placer"])
        arch = session.spec.architectures[task["digest"]]
        for shape in (ProgramShape(**s) for s in task["shapes"]):
            if session.programs.cached(arch, shape):
                row["cached"] += 1
            timing = session.programs.timing(arch, shape)
            if timing.fallback:
                row["fallbacks"].append({"shape": asdict(shape), "opt_level": timing.opt_level, "why": timing.fallback})
        row["compiled"] = sum(session.programs.compiles.values())
    except (CoEError, KeyError) as exc:
        row["status"], row["error"] = "failed", " ".join(str(exc).split())
    row["run_seconds"] = time.perf_counter() - start
    return row


def compile_fleet(tasks: list[dict[str, Any]], backend: Any,
                  progress: Callable[[dict[str, Any]], None] = lambda row: None) -> FleetResult:
    """Run the tasks on a sweep backend (at most its `workers` at once); rows in task order."""
    start = time.perf_counter()
    rows: dict[int, dict[str, Any]] = {}
    pending = list(tasks)
    running = 0
    while pending or running:
        while pending and running < getattr(backend, "workers", 1):
            backend.submit(pending.pop(0))
            running += 1
        row = backend.wait_one()
        running -= 1
        if "architecture" not in row:  # the worker died: the backend's own failure row
            row = {**row, "architecture": tasks[row["index"]]["architecture"], "programs": len(tasks[row["index"]]["shapes"]),
                   "compiled": 0, "cached": 0, "fallbacks": []}
        rows[row["index"]] = row
        progress(row)
    return FleetResult([rows[t["index"]] for t in tasks], time.perf_counter() - start)
