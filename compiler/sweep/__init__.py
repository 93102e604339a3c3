"""Design-space exploration: `rducc sweep SWEEP.toml` compiles and simulates every point of a
sweep (models x chip or node spec fields x compile options, tensor parallelism among them), on Ray
or in-process, with a content-hash
cache, and writes a results table and plots. docs/sweep.md describes the file and the output.

    from compiler.sweep import load_sweep, expand, run_sweep
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.sweep.errors import SweepError
from compiler.sweep.points import Point, expand
from compiler.sweep.runner import ProgressFn, SweepRun, run_points
from compiler.sweep.spec import SweepSpec, load_sweep

__all__ = ["Point", "SweepError", "SweepOutcome", "SweepSpec", "expand", "load_sweep", "run_sweep"]


@dataclass
class SweepOutcome:
    spec: SweepSpec
    points: list[Point]
    run: SweepRun
    records: list[dict[str, Any]]


def run_sweep(spec: SweepSpec, cache_dir: Path, *, local: bool = False, workers: int | None = None, address: str | None = None,
              reuse_results: bool = True, progress: ProgressFn = lambda row, counts: None,
              backend: Any = None, points: list[Point] | None = None) -> SweepOutcome:
    """Expand, run and tabulate a sweep: in-process (`local`) or on Ray (`address`, or a local
    instance of `workers` CPUs, default all). `backend` (with `workers`, `submit`, `wait_one`,
    `close`) overrides that choice; the caller's backend is not closed."""
    from compiler.sweep.results import table

    points = expand(spec) if points is None else points
    specs = {p.target_digest: target_specs(p, cache_dir) for p in points}
    made: list[Any] = []

    def factory() -> Any:
        if backend is not None:
            return backend
        from compiler.sweep.worker import evaluate
        from compiler.tasks.backends import make_backend

        made.append(make_backend(evaluate, local, workers, address))
        return made[0]

    try:
        run = run_points(points, factory, cache_dir, reuse_results, progress)
    finally:
        for owned in made:
            owned.close()
    return SweepOutcome(spec, points, run, table(spec, points, run.rows, specs))


def target_specs(point: Point, cache_dir: Path) -> tuple[Any, Any]:
    """(ChipSpec, NodeSpec or None) of a point, loaded from its files in the cache (for the cost)."""
    from chip_model import load_chip
    from chip_model.node import load_node
    from compiler.sweep.chip_overrides import materialize

    chip = load_chip(str(materialize(point.chip_text, point.chip_digest, cache_dir)))
    if point.node_text is None:
        return chip, None
    return chip, load_node(str(materialize(point.node_text, point.node_digest, cache_dir, "nodes")))
