"""Placement benchmark: synthetic netlists with a known optimum, placer against plain annealing.

    python -m bench.placement --json [--sizes 200,1000,2000] [--seconds 60] [--chip sn40l] [--seed 0]

For each size, units are hidden on a connected patch of the chip and every pair on neighbouring
sites is joined by a unit-weight net, so the optimum wirelength is the number of nets (see
`backend_rdu.placement.synthetic`). The placer and a simulated-annealing baseline (vectorised
numpy, random start, run against the wall clock) each get the same time budget; the table reports
wirelength / optimum and seconds. JSON goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from backend_rdu.placement import PlacementProblem, anneal_baseline, hidden_optimum_netlist, place, wirelength

DEFAULT_SIZES = (200, 1000, 2000)


def run_size(chip: str, size: int, seconds: float, seed: int) -> dict[str, Any]:
    hidden = hidden_optimum_netlist(chip, size, seed)
    problem = PlacementProblem.build(chip, hidden.netlist)
    result = place(problem, seconds=seconds, seed=seed)
    t = time.perf_counter()
    baseline_sites, baseline_stats = anneal_baseline(problem, seconds, seed)
    baseline_seconds = time.perf_counter() - t
    baseline = wirelength(problem, baseline_sites)
    return {
        "units": size,
        "nets": problem.num_nets,
        "optimum": hidden.optimum,
        "placer": {
            "wirelength": result.wirelength,
            "ratio": round(result.wirelength / hidden.optimum, 4),
            "seconds": round(result.seconds, 2),
            "lower_bound": result.lower_bound,
            "stopped_by_clock": result.stats["stopped_by_clock"],
            "phases": [{k: v for k, v in ph.items() if k in ("phase", "wirelength", "seconds")} for ph in result.stats["phases"]],
        },
        "annealing_baseline": {
            "wirelength": baseline,
            "ratio": round(baseline / hidden.optimum, 4),
            "seconds": round(baseline_seconds, 2),
            "moves_proposed": baseline_stats.proposed,
        },
        "placer_beats_baseline": result.wirelength < baseline,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.placement", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="comma-separated unit counts")
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget per run, for each of the two placers")
    parser.add_argument("--chip", default="sn40l")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    rows = []
    try:
        from rich.console import Console

        console = Console(stderr=True)
    except ImportError:  # rich is a project dependency, but the bench should not depend on it
        console = None
    for size in sizes:
        if console:
            console.log(f"{size} units on {args.chip}: placer, then annealing baseline, {args.seconds:g} s each")
        row = run_size(args.chip, size, args.seconds, args.seed)
        rows.append(row)
        if console:
            console.log(
                f"  placer {row['placer']['ratio']:.4f}x optimum in {row['placer']['seconds']:.1f} s; "
                f"baseline {row['annealing_baseline']['ratio']:.4f}x in {row['annealing_baseline']['seconds']:.1f} s"
            )
    report = {
        "chip": args.chip,
        "seconds_budget": args.seconds,
        "seed": args.seed,
        "cores": os.cpu_count(),
        "results": rows,
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{'units':>6} {'nets':>6} {'optimum':>8} {'placer':>8} {'secs':>6} {'anneal':>8} {'secs':>6}")
        for r in rows:
            print(f"{r['units']:>6} {r['nets']:>6} {r['optimum']:>8} {r['placer']['ratio']:>8.4f} "
                  f"{r['placer']['seconds']:>6.1f} {r['annealing_baseline']['ratio']:>8.4f} "
                  f"{r['annealing_baseline']['seconds']:>6.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
