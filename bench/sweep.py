"""The sweep engine's own costs: `python -m bench.sweep --json`.

The 24-point sweep of examples/sweep_llama_decode.toml (one Llama-2-7B decoder layer, decode
and 4k prefill, shapes only, on sn40l variants: HBM bandwidth x PMU SRAM x -O0/-O1) is run:
  1. on a local Ray instance with 1 worker, cold cache;
  2. on 2 workers, cold cache (speedup = 1 / 2);
  3. again with the warm cache (every point's result is cached: no Ray, no compile);
  4. with the warm compile cache but results recomputed (decode + timing simulation only), once
     in-process and once on Ray with 1 worker: the difference per point is Ray's own overhead.
Ray's start-up (`ray.init`) is reported apart. `--quick` keeps only the -O1 points (12). Both
speedups are judged against `sweep.*` in `bench/targets.json` (issue 14).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.targets import target
from compiler.sweep import load_sweep, run_sweep
from compiler.sweep.spec import SweepSpec
from compiler.sweep.worker import evaluate
from compiler.tasks.backends import LocalBackend, RayBackend

SWEEP = Path(__file__).resolve().parents[1] / "examples" / "sweep_llama_decode.toml"


def log(message: str) -> None:
    print(f"[bench.sweep] {message}", file=sys.stderr, flush=True)


def timed(spec: SweepSpec, cache: Path, label: str, **kwargs: Any) -> dict[str, Any]:
    log(f"{label} ...")
    t0 = time.perf_counter()
    outcome = run_sweep(spec, cache, **kwargs)
    wall = time.perf_counter() - t0
    rows = outcome.run.rows
    result = {
        "wall_seconds": round(wall, 2),
        "ray_init_seconds": round(outcome.run.init_seconds, 2),
        "points": len(rows),
        "failed": outcome.run.counts["failed"],
        "cached": outcome.run.counts["cached"],
        "task_seconds": round(sum(r["run_seconds"] for r in rows), 2),
    }
    errors = sorted({r["error"] for r in rows if r["status"] != "ok"})
    if errors:
        result["errors"] = errors[:3]
    log(f"{label}: {result}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON line (default: indented JSON)")
    parser.add_argument("--quick", action="store_true", help="only the -O1 points (12)")
    args = parser.parse_args()
    load_at_start = os.getloadavg()
    spec = load_sweep(SWEEP)
    if args.quick:
        spec.axes["opt_level"] = [1]
    with tempfile.TemporaryDirectory() as one, tempfile.TemporaryDirectory() as two:
        runs = {
            "ray_1_worker": timed(spec, Path(one), "1 worker, cold cache", workers=1),
            "ray_2_workers": timed(spec, Path(two), "2 workers, cold cache", workers=2),
            "warm_rerun": timed(spec, Path(two), "warm cache re-run", workers=2),
            "results_recomputed_in_process": timed(spec, Path(two), "compile cache only, in-process",
                                                   backend=LocalBackend(evaluate), reuse_results=False),
        }
        ray = RayBackend(evaluate, workers=1)
        try:
            runs["results_recomputed_on_ray"] = timed(spec, Path(two), "compile cache only, Ray 1 worker",
                                                      backend=ray, reuse_results=False, workers=1)
        finally:
            ray.close()
    n = runs["ray_1_worker"]["points"]
    local, on_ray = runs["results_recomputed_in_process"], runs["results_recomputed_on_ray"]
    speedup_2 = runs["ray_1_worker"]["wall_seconds"] / runs["ray_2_workers"]["wall_seconds"]
    speedup_warm = runs["ray_2_workers"]["wall_seconds"] / max(runs["warm_rerun"]["wall_seconds"], 1e-9)
    targets = {"speedup_2_workers": target("sweep.speedup_2_workers").judge(round(speedup_2, 2)),
               "speedup_warm_cache": target("sweep.speedup_warm_cache").judge(round(speedup_warm, 1))}
    report = {
        "sweep": str(SWEEP.relative_to(SWEEP.parents[1])),
        "points": n,
        "cpus": os.cpu_count(),
        # other jobs on the machine slow each compile and shrink the 2-worker speedup: say how busy it was
        "load_average_1_5_15_min": {"start": [round(x, 2) for x in load_at_start],
                                    "end": [round(x, 2) for x in os.getloadavg()]},
        "runs": runs,
        "speedup_2_workers": round(speedup_2, 2),
        "speedup_warm_cache": round(speedup_warm, 1),
        "ray_init_seconds": round(ray.init_seconds, 2),
        # per point: Ray's wall for the same cheap work less the in-process wall (ray.init excluded;
        # the worker's start-up and its first imports of rducc and torch are included)
        "ray_overhead_seconds_per_point": round((on_ray["wall_seconds"] - local["wall_seconds"]) / n, 4),
        "targets": targets,
        "within_target": all(j["within_target"] for j in targets.values()),
    }
    print(json.dumps(report, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
