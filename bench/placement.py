"""Placement benchmark: synthetic netlists with a known optimum, placer against plain annealing.

    python -m bench.placement --json [--sizes 200,1000,2000] [--seconds 60] [--chip sn40l] [--seed 0]
                                     [--example-seconds 10]

For each size, units are hidden on a connected patch of the chip and every pair on neighbouring
sites is joined by a unit-weight net, so the optimum wirelength is the number of nets (see
`backend_rdu.placement.synthetic`). The placer and a simulated-annealing baseline (vectorised
numpy, random start, run against the wall clock) each get the same time budget; the table reports
wirelength / optimum and seconds. The largest kernel of each bundled example is placed too (its
optimum is unknown: the ratio is to the lower bound). JSON goes to stdout, progress to stderr.
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


EXAMPLES = ("attention", "llama", "mixtral")


def run_examples(chip: str, seconds: float, seed: int) -> list[dict[str, Any]]:
    """The largest kernel of each bundled example, compiled for `chip`, as a placement netlist."""
    from pathlib import Path

    from backend_rdu.place_pass import kernel_netlist
    from compiler.driver import CompileOptions, compile_model
    from dialects import rdu

    rows = []
    root = Path(__file__).parents[1] / "examples"
    for name in EXAMPLES:
        compiled = compile_model(root / f"{name}.py", CompileOptions(chip=chip, seed=seed))
        kernels = [op for op in compiled.module.body.block.ops if isinstance(op, rdu.KernelOp)]
        kernel = max(kernels, key=lambda k: sum(st.unit_count for st in k.stages()))
        netlist, _ = kernel_netlist(kernel)
        problem = PlacementProblem.build(chip, netlist)
        result = place(problem, seconds=seconds, seed=seed)
        baseline_sites, _ = anneal_baseline(problem, seconds, seed)
        baseline = wirelength(problem, baseline_sites)
        rows.append({
            "example": name, "kernel": kernel.sym_name.data, "units": problem.num_units, "nets": problem.num_nets,
            "lower_bound": result.lower_bound,
            "placer": {"wirelength": result.wirelength, "over_lower_bound": round(result.wirelength / max(result.lower_bound, 1), 4),
                       "seconds": round(result.seconds, 2)},
            "annealing_baseline": {"wirelength": baseline, "over_lower_bound": round(baseline / max(result.lower_bound, 1), 4)},
            "placer_beats_baseline": result.wirelength < baseline,
        })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.placement", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="comma-separated unit counts")
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget per run, for each of the two placers")
    parser.add_argument("--chip", default="sn40l")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.add_argument("--example-seconds", type=float, default=10.0,
                        help="budget for each real example's largest kernel (0 skips them)")
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
        "examples": run_examples(args.chip, args.example_seconds, args.seed) if args.example_seconds > 0 else [],
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
