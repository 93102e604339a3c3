"""Placement benchmark: generated netlists with a proven bound, placer against plain annealing.

    python -m bench.placement --json [--sizes 200,1000,2000] [--seconds 60] [--chip sn40l]
                                     [--generators grid,pins23,...] [--seeds K] [--seed N]
                                     [--example-seconds 10] [--example-seeds 10] [--start best|default|bisection|multilevel|analytic|spectral]

For each generator (`backend_rdu.placement.generators`: neighbour grids, 2-3 pin, 2-8 pin,
mixed-kind, clustered and random-geometric netlists), each size and each seed, units are hidden
on a connected patch of the chip and nets are drawn from that hidden placement. Every generator
drawn has a known optimum: all but `geometric` make every net tight, so the optimum is the per-net
lower bound; `geometric` is built so that its hidden placement meets the unit-neighbourhood bound
(`wirelength.NeighbourhoodBound`), which proves it optimal. The ratio is to the lower bound, and
the hidden placement's wirelength is reported beside it. (`geometric-multipin`, the older
construction of multi-pin diamonds, has no known optimum: its hidden placement is ~1.45x the bound;
`--generators geometric-multipin` runs it, read against `hidden_wirelength`.) Seeds are drawn at
run time unless `--seed` is given. The placer and a
simulated-annealing baseline (vectorised numpy, random start, run against the wall clock) each get
the same time budget (the baseline gets the placer's actual wall time, at least the budget: on a
loaded machine the placer's work-counted budget takes longer). The largest kernel of each bundled example is placed too (its optimum is
unknown: the ratio is to the lower bound). JSON goes to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import time
from typing import Any

from backend_rdu.placement import PlacementProblem, anneal_baseline, place, wirelength
from backend_rdu.placement.generators import BOUND_ONLY_GENERATORS, GENERATORS, generate
from backend_rdu.placement.placer import GLOBAL_STARTS, batch_seconds
from backend_rdu.placement.sequential_annealing import move_seconds
from bench.targets import target

DEFAULT_SIZES = (200, 1000, 2000)
# The placer's budget is counted in work (reference-machine seconds); on a loaded machine its wall
# time runs over. The clock stops it only far past the budget (place()'s default wall limit), and
# the annealing baseline then gets the wall time the placer actually took (at least the budget): the
# same time for both, and a placer result that does not depend on the load.
# How the annealing baseline's budget is given: "moves" (default) runs plain annealing on the
# placer's own engine (the compiled sequential annealer) for the moves the placer's conversion
# gives for the budget (budget / move_seconds: all of it annealing, while the placer also pays for
# its start, trials and CP-SAT windows out of the same budget), so the comparison is of the
# placer's method, not of its engine's speed; "work" runs the older vectorised engine for
# budget / batch_seconds batches (the baseline of waves 4-5); both are deterministic and neither
# depends on the load. "wall" runs the vectorised engine against the clock for the placer's
# actual wall time (at least the budget), which on a loaded machine moves it by ~5% between runs.
BASELINE_BUDGETS = ("moves", "work", "wall")


def baseline_run(problem: PlacementProblem, seconds: float, placer_seconds: float, seed: int,
                 budget: str = "moves") -> tuple[float, dict[str, Any]]:
    """The annealing baseline's wirelength and its record, with the placer's budget (see BASELINE_BUDGETS)."""
    t, cpu = time.perf_counter(), time.process_time()
    if budget == "moves":
        sites, stats = anneal_baseline(problem, seconds, seed, moves=int(seconds / move_seconds(problem)))
    elif budget == "work":
        batches = int(seconds / batch_seconds(problem.num_units))
        sites, stats = anneal_baseline(problem, seconds, seed, batches=batches)
    else:
        sites, stats = anneal_baseline(problem, max(seconds, placer_seconds), seed)
    return wirelength(problem, sites), {"budget": budget, "batches": stats.batches, "moves": stats.moves,
                                        "moves_proposed": stats.proposed,
                                        "seconds": round(time.perf_counter() - t, 2),
                                        "cpu_seconds": round(time.process_time() - cpu, 2)}


def run_size(chip: str, size: int, seconds: float, seed: int, generator: str = "grid",
             with_baseline: bool = True, baseline_budget: str = "moves", global_start: str = "best") -> dict[str, Any]:
    bench = generate(generator, chip, size, seed)
    problem = PlacementProblem.build(chip, bench.netlist)
    bound = bench.lower_bound
    cpu = time.process_time()
    result = place(problem, seconds=seconds, seed=seed, global_start=global_start)
    placer_cpu = time.process_time() - cpu
    row = {
        "generator": generator,
        "seed": seed,
        "units": size,
        "nets": problem.num_nets,
        "optimum_known": bench.optimum_known,
        "optimum": bound if bench.optimum_known else None,
        "lower_bound": bound,
        "hidden_wirelength": bench.hidden_wirelength,
        "placer": {
            "global_start": global_start,
            "wirelength": result.wirelength,
            "ratio": round(result.wirelength / bound, 4),
            "seconds": round(result.seconds, 2),
            "cpu_seconds": round(placer_cpu, 2),
            "lower_bound": result.lower_bound,
            "stopped_by_clock": result.stats["stopped_by_clock"],
            "phases": [{k: v for k, v in ph.items() if k in ("phase", "wirelength", "seconds")} for ph in result.stats["phases"]],
        },
    }
    if with_baseline:
        baseline, record = baseline_run(problem, seconds, result.seconds, seed, baseline_budget)
        row["annealing_baseline"] = {"wirelength": baseline, "ratio": round(baseline / bound, 4)} | record
        row["placer_beats_baseline"] = result.wirelength < baseline
    return row


EXAMPLES = ("attention", "llama", "llama3_8b_shapes", "mixtral", "mlp", "qwen2")


def example_modules(chip: str, seed: int):
    """(name, compiled module) for every bundled example and every HF architecture of
    tests/test_hf_architectures.py (random weights at test size; skipped without transformers)."""
    from pathlib import Path

    from compiler.driver import CompileOptions, compile_loaded, compile_model

    root = Path(__file__).parents[1]
    for name in EXAMPLES:
        yield name, compile_model(root / "examples" / f"{name}.py", CompileOptions(chip=chip, seed=seed)).module
    try:
        import torch
        import transformers
    except ImportError:
        return
    import importlib.util

    from compiler.frontend.model_file import LoadedModel

    spec = importlib.util.spec_from_file_location("hf_architectures", root / "tests" / "test_hf_architectures.py")
    source = (root / "tests" / "test_hf_architectures.py").read_text()
    namespace: dict[str, Any] = {}
    # only the ARCHITECTURES table: the module itself imports pytest
    start = source.index("COMMON = ")
    end = source.index("@pytest.mark")
    exec(compile(source[start:end], str(spec.origin), "exec"), namespace)
    for name, (config_cls, model_cls, kwargs) in sorted(namespace["ARCHITECTURES"].items()):
        torch.manual_seed(0)
        model = getattr(transformers, model_cls)(getattr(transformers, config_cls)(**kwargs)).eval()
        ids = torch.randint(0, 256, (1, 16), generator=torch.Generator().manual_seed(1))
        yield f"hf:{name}", compile_loaded(LoadedModel(Path(f"{name}.py"), model, (ids,)), CompileOptions(chip=chip, seed=seed)).module


def largest_kernel(module):
    from dialects import rdu

    kernels = [op for op in module.body.block.ops if isinstance(op, rdu.KernelOp)]
    return max(kernels, key=lambda k: (sum(st.unit_count for st in k.stages()), -kernels.index(k)))


VERDICT_LEVEL = 0.05  # one-sided level of the rank-sum test behind `verdict` (0.10 two-sided)
EXAMPLE_SEEDS = 10  # seeds per compiler kernel by default: one run moves by up to 20% with its seed, and
# with three seeds a side wins only when every run beats every run of the other (chance: 1 in 10)


def compare_over_seeds(placer: list[float], baseline: list[float]) -> dict[str, Any]:
    """The placer against the baseline over the same seeds, with how far the seeds decide it.
    One run moves by up to 20% with its seed on compiler kernels (docs/placement.md), so a
    difference of medians says little alone. `verdict` is "placer" or "baseline" when the exact
    rank-sum (Mann-Whitney) test says that side's runs are shorter at VERDICT_LEVEL one-sided
    (`p_placer_shorter`, `p_baseline_shorter`), otherwise "within spread". With three seeds each
    that is exactly "every run of one is shorter than every run of the other" (p = 1/20); with
    ten, a side may lose a few pairs and still win."""
    wins = sum(p < b for p, b in zip(placer, baseline))
    p_placer, p_baseline = rank_sum_p_values(placer, baseline)
    if p_placer <= VERDICT_LEVEL + 1e-12:
        verdict = "placer"
    elif p_baseline <= VERDICT_LEVEL + 1e-12:
        verdict = "baseline"
    else:
        verdict = "within spread"
    return {"placer_median": statistics.median(placer), "baseline_median": statistics.median(baseline),
            "placer_shorter_on_seeds": wins, "seeds": len(placer), "p_placer_shorter": round(p_placer, 4),
            "p_baseline_shorter": round(p_baseline, 4), "verdict": verdict}


def rank_sum_p_values(a: list[float], b: list[float]) -> tuple[float, float]:
    """Exact one-sided p-values of the rank-sum test: the chance, over every equally likely split
    of the pooled runs into groups of len(a) and len(b), that a's rank sum is at most (first) or
    at least (second) the one observed. Ties take their mean rank, so equal results count half."""
    pooled = sorted(list(a) + list(b))
    doubled = {}  # value -> twice its mean rank (an integer)
    for i, v in enumerate(pooled):
        doubled.setdefault(v, []).append(2 * (i + 1))
    doubled = {v: sum(r) // len(r) for v, r in doubled.items()}
    observed = sum(doubled[v] for v in a)
    # ways[k][s]: subsets of k of the pooled runs whose doubled ranks sum to s
    ways: list[dict[int, int]] = [{0: 1}] + [{} for _ in a]
    for v in pooled:
        r = doubled[v]
        for k in range(len(a), 0, -1):
            for s, count in ways[k - 1].items():
                ways[k][s + r] = ways[k].get(s + r, 0) + count
    total = sum(ways[len(a)].values())
    low = sum(c for s, c in ways[len(a)].items() if s <= observed) / total
    high = sum(c for s, c in ways[len(a)].items() if s >= observed) / total
    return low, high


def run_examples(chip: str, seconds: float, seed: int, seeds: int = 1, only: set[str] | None = None,
                 dump: str | None = None, baseline_budget: str = "moves") -> list[dict[str, Any]]:
    """The largest kernel of each bundled example and HF architecture, compiled for `chip`, as a
    placement netlist: the placer against the annealing baseline, same seeds, same budget each.
    Medians over the seeds compare them (single runs of either move by ~5% with the seed)."""
    from backend_rdu.place_pass import kernel_netlist

    rows = []
    for name, module in example_modules(chip, seed):
        if only and name not in only:
            continue
        kernel = largest_kernel(module)
        netlist, _ = kernel_netlist(kernel)
        if dump:  # the netlist JSON `rducc place` reads, to reproduce a row outside the compiler
            os.makedirs(dump, exist_ok=True)
            with open(os.path.join(dump, f"{name.replace(':', '_')}.json"), "w") as f:
                json.dump(netlist.to_json(), f)
        problem = PlacementProblem.build(chip, netlist)
        placer, baseline, bound, cpu, records, clock = [], [], 0.0, [], [], []
        for s in range(seed, seed + seeds):
            t = time.process_time()
            result = place(problem, seconds=seconds, seed=s)
            cpu.append(round(time.process_time() - t, 2))
            placer.append(result.wirelength)
            clock.append(result.stats["stopped_by_clock"])
            bound = max(bound, result.lower_bound)
            wl, record = baseline_run(problem, seconds, result.seconds, s, baseline_budget)
            baseline.append(wl)
            records.append(record)
        placer_median, baseline_median = statistics.median(placer), statistics.median(baseline)
        row = {
            "example": name, "kernel": kernel.sym_name.data, "units": problem.num_units, "nets": problem.num_nets,
            "max_net_pins": int(problem.net_degree.max()) if problem.num_nets else 0,
            "lower_bound": bound, "seeds": list(range(seed, seed + seeds)),
            "placer": {"median": placer_median, "best": min(placer), "per_seed": placer,
                       "median_over_lower_bound": round(placer_median / max(bound, 1), 4), "cpu_seconds": cpu,
                       "stopped_by_clock": clock},
            "annealing_baseline": {"median": baseline_median, "best": min(baseline), "per_seed": baseline,
                                   "median_over_lower_bound": round(baseline_median / max(bound, 1), 4),
                                   "budget": baseline_budget, "batches": records[0]["batches"], "moves": records[0]["moves"],
                                   "cpu_seconds": [r["cpu_seconds"] for r in records]},
            "placer_at_most_baseline": placer_median <= baseline_median,
            "comparison": compare_over_seeds(placer, baseline),
        }
        rows.append(row)
        print(f"{name}: {row['units']} units, median placer {placer_median} anneal {baseline_median} bound {bound} "
              f"(per seed {placer} / {baseline})", file=sys.stderr)
    return rows


def examples_summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Issue 11's test on compiler kernels in one line: on how many kernels the placer's median is
    at most the annealing baseline's, and on how many the rank-sum verdict goes to either side."""
    verdicts = [r["comparison"]["verdict"] for r in rows]
    at_most = sum(r["placer_at_most_baseline"] for r in rows)
    line = (f"placer <= baseline on {at_most} of {len(rows)} kernels (medians; verdicts: "
            f"{verdicts.count('placer')} placer, {verdicts.count('baseline')} baseline, "
            f"{verdicts.count('within spread')} within spread)")
    return {"placer_at_most_baseline": at_most, "kernels": len(rows), "verdict_placer": verdicts.count("placer"),
            "verdict_baseline": verdicts.count("baseline"),
            "losses": [r["example"] for r in rows if not r["placer_at_most_baseline"]], "line": line}


# How each placement mode is asked of rdu-place, for the simulated-cycles comparison.
PLACEMENT_MODES = {"random": "rdu-place{{seed={seed} random=true}}", "greedy": "rdu-place{{greedy=true}}",
                   "wirelength": "rdu-place{{seed={seed}}}", "cycles": "rdu-place{{seed={seed} objective=cycles}}"}
# Link-heavy kernels beyond the bundled examples: one layer of Llama-2-7B (bench.workloads), shapes only.
WORKLOADS = ("llama2-7b-decode", "llama2-7b-prefill")


def imported_graph(name: str, chip: str):
    """The rgraph module of an example (examples/NAME.py) or a workload (WORKLOADS), before any pass."""
    from pathlib import Path

    from compiler.driver import import_model

    if name in WORKLOADS:
        from bench.sensitivity import imported

        return imported(name.rsplit("-", 1)[1]).module
    if name.startswith("link:"):  # a kernel built to load the links (bench.link_heavy)
        from bench.link_heavy import imported as link_heavy

        return link_heavy(name.removeprefix("link:")).module
    return import_model(Path(__file__).parents[1] / "examples" / f"{name}.py").module  # no compile: the modes do that


def link_congestion(sim, bitstream=None) -> dict[str, Any]:
    """How much shared links cost a simulated run: `link_wait_cycles`, the cycles of the kernels'
    critical paths that streams spent waiting for a link other streams of the kernel held (beyond
    their own route and occupancy: `KernelRun.link_wait`), `link_wait_share` of the body cycles,
    and `max_link_utilisation`, the busiest shared link's traffic over its bandwidth for its kernel's
    body (1.0: its whole bandwidth busy the whole kernel; only links with more flows than their
    bandwidth are shared resources, so 0 means none), with the link's name. With the bitstream,
    `critical_detour_hops`: over the streams on the critical paths, the hops their routes take beyond
    the Manhattan distance between the stage heads, the other face of congestion: the router moves
    flows off links whose bandwidth their demand would exceed where it can (PathFinder), so streams
    that would crowd a link go around it instead, and pay it as route latency."""
    wait = body = 0.0
    top, where = 0.0, ""
    for k in sim.kernels:
        if k.run is None:
            continue
        g, run = k.run
        wait += sum(run.link_wait.values())
        body += run.body
        for r, kind in enumerate(g.resource_kinds):
            if kind == "network" and run.body > 0 and run.resource_busy[r] / run.body > top:
                top, where = run.resource_busy[r] / run.body, f"{k.name}: {g.resource_names[r]}"
    detour = 0
    if bitstream is not None:
        stages = {st.id: st for st in bitstream.stages}
        streams = {st.id: st for st in bitstream.streams}
        for k in sim.kernels:
            if k.run is None:
                continue
            g, run = k.run
            for (kind, x), cycles in run.critical.items():
                st = streams[g.stream_ids[x]] if kind == "stream" and cycles > 0 else None
                if st is None or not st.hops:
                    continue
                (x0, y0) = stages[st.src].sites[0]
                detour += max(0, *(h - abs(stages[d].sites[0][0] - x0) - abs(stages[d].sites[0][1] - y0)
                                   for d, h in zip(st.dsts, st.hops)))
    return {"critical_detour_hops": detour, "link_wait_cycles": round(wait), "link_wait_share": round(wait / body, 4) if body else 0.0,
            "max_link_utilisation": round(top, 4), "busiest_link": where}


def what_if_chip(tracks: int, base: str = "sn40l") -> str:
    """A WHAT-IF copy of a bundled chip whose vector links carry `tracks` streams at full rate
    (sn40l: 4), written to a temporary spec file named by its own path (so the compile and the
    simulator load it back by name). Not the chip: it shows what the cycle placer does once links
    congest, the evidence on the chip itself being `link_congestion` under its own tracks."""
    import re
    import tempfile
    from pathlib import Path

    from chip_model.spec import SPEC_DIR

    text = (SPEC_DIR / f"{base}.toml").read_text()
    text, n = re.subn(r"(?m)^vector_tracks = \d+.*$", f'vector_tracks = {tracks}  # WHAT-IF (bench.placement --what-if-tracks), not {base}', text)
    assert n == 1, "the base chip spec has one vector_tracks line"
    path = Path(tempfile.gettempdir()) / f"rducc-{base}-what-if-{tracks}-tracks.toml"
    text = re.sub(r'(?m)^name = ".*"$', f'name = "{path}"', text)
    text = f"# WHAT-IF copy of {base}.toml written by bench.placement: links narrowed to load them; not a chip spec\n" + text
    path.write_text(text)
    return str(path)


def run_cycles(chip: str, names: list[str], seed: int) -> list[dict[str, Any]]:
    """Simulated cycles (discrete-event timing, shared links and FIFOs; nothing executed) of each
    example compiled with each placement mode: what placement does to the cycles the chip pays.
    `body_cycles` leaves out the kernel launches, which no placement changes. A compile whose
    configured FIFOs deadlock is timed with grown FIFOs and marked `deadlock`."""
    from backend_rdu.emit_bitstream import emit_bitstream
    from compiler.driver import CompileOptions
    from dialects import make_context
    from functional_sim import SimulationError, simulate
    from backend_rdu.route_pass import RouteError
    from passes.registry import run_pipeline

    pipeline = CompileOptions(chip=chip, seed=seed, placer="cpsat").pipeline()  # rdu-place is swapped per mode
    placed = f"rdu-place{{seed={seed}}}"
    assert placed in pipeline
    rows = []
    for name in names:
        graph = imported_graph(name, chip)
        row: dict[str, Any] = {"example": name}
        for mode, pass_text in PLACEMENT_MODES.items():
            module = graph.clone()
            t = time.perf_counter()
            try:
                run_pipeline(make_context(), module, pipeline.replace(placed, pass_text.format(seed=seed)))
            except RouteError as exc:  # e.g. a what-if chip whose narrower links cannot route the kernel at all
                row[mode] = {"unroutable": str(exc)}
                continue
            compile_seconds = time.perf_counter() - t
            bitstream = emit_bitstream(module)
            try:
                sim, deadlock = simulate(bitstream, None, execute=False), False
            except SimulationError:
                sim, deadlock = simulate(bitstream, None, execute=False, fifos="grow"), True
            largest = max(sim.kernels, key=lambda k: k.cycles)
            row[mode] = {"cycles": sim.cycles, "body_cycles": sum(k.cycles - k.launch_cycles for k in sim.kernels),
                         "deadlock": deadlock, "largest_kernel": largest.name, "largest_kernel_cycles": largest.cycles,
                         "bound": largest.bound, "wirelength": rdu_placement_wirelength(module),
                         "kernels": {k.name: k.cycles - k.launch_cycles for k in sim.kernels},
                         "compile_seconds": round(compile_seconds, 2)} | link_congestion(sim, bitstream)
        if any("unroutable" in row[m] for m in ("wirelength", "cycles")):
            row["unroutable"] = next(row[m]["unroutable"] for m in PLACEMENT_MODES if "unroutable" in row[m])
            rows.append(row)
            print(f"{name}: unroutable on {chip}: {row['unroutable']}", file=sys.stderr)
            continue
        best = min((m for m in PLACEMENT_MODES if "unroutable" not in row[m]), key=lambda m: (row[m]["deadlock"], row[m]["body_cycles"]))
        row["fastest"] = best
        row["cycles_over_wirelength"] = round(row["cycles"]["body_cycles"] / max(row["wirelength"]["body_cycles"], 1), 4)
        row["random_over_wirelength"] = (round(row["random"]["body_cycles"] / max(row["wirelength"]["body_cycles"], 1), 4)
                                         if "body_cycles" in row["random"] else None)
        # per kernel (launch excluded): the cycle-driven placement never loses to wirelength-only, which is
        # one of its candidates; `wins` counts the kernels it makes faster
        per_kernel = {k: {m: row[m].get("kernels", {}).get(k) for m in ("random", "wirelength", "cycles")}
                      for k in row["wirelength"]["kernels"]}
        row["per_kernel"] = per_kernel
        row["cycles_wins"] = sum(v["cycles"] < v["wirelength"] for v in per_kernel.values())
        row["cycles_losses"] = sum(v["cycles"] > v["wirelength"] for v in per_kernel.values())
        row["chip"] = chip
        rows.append(row)
        print(f"{name}: body cycles " + ", ".join(f"{m} {row[m].get('body_cycles', 'unroutable')}" + (" (deadlock)" if row[m].get("deadlock") else "")
                                                   for m in PLACEMENT_MODES), file=sys.stderr)
    return rows


def rdu_placement_wirelength(module) -> int:
    from dialects import rdu

    summary = rdu.placement_summary(module)
    return summary.wirelength.data if summary is not None else 0


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median ratios over seeds per (generator, size): single runs on a shared machine are noisy."""
    groups: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["generator"], r["units"]), []).append(r)
    out = []
    for (generator, units), group in groups.items():
        entry = {"generator": generator, "units": units, "seeds": [r["seed"] for r in group],
                 "placer_median_ratio": round(statistics.median(r["placer"]["ratio"] for r in group), 4),
                 "placer_worst_ratio": max(r["placer"]["ratio"] for r in group)}
        if units == 2000:  # issue 11's size (and budget: 30 s, --seconds 30)
            entry["within_target"] = target("placement.ratio_to_bound_2000_units").within(entry["placer_worst_ratio"])
        if all("annealing_baseline" in r for r in group):
            entry["baseline_median_ratio"] = round(statistics.median(r["annealing_baseline"]["ratio"] for r in group), 4)
        out.append(entry)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.placement", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="comma-separated unit counts")
    parser.add_argument("--seconds", type=float, default=60.0, help="time budget per run, for each of the two placers")
    parser.add_argument("--chip", default="sn40l")
    parser.add_argument("--generators", default=",".join(GENERATORS), help="comma-separated generator names")
    parser.add_argument("--seeds", type=int, default=1, help="how many seeds to draw at run time (generated netlists)")
    parser.add_argument("--example-seeds", type=int, default=EXAMPLE_SEEDS,
                        help="seeds per compiler kernel, from the first seed on (enough for a verdict: 10)")
    parser.add_argument("--seed", type=int, default=None,
                        help="use this seed (and the next --seeds - 1) instead of drawing")
    parser.add_argument("--no-baseline", action="store_true", help="skip the annealing baseline on generated netlists")
    parser.add_argument("--baseline-budget", choices=BASELINE_BUDGETS, default="moves",
                        help="the baseline's budget: moves of the placer's compiled annealer for the placer's budget "
                             "(moves, deterministic), batches of the vectorised annealer (work, deterministic) "
                             "or the placer's wall time (wall)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    parser.add_argument("--start", default="best", choices=GLOBAL_STARTS,
                        help="the placer's global start on generated netlists (see docs/placement.md)")
    parser.add_argument("--example-seconds", type=float, default=10.0,
                        help="budget for each real example's largest kernel (0 skips them)")
    parser.add_argument("--cycles", default="attention,llama,mixtral,qwen2,vit,llama2-7b-decode,llama2-7b-prefill",
                        help="examples (or llama2-7b-decode/-prefill, or link:NAME of bench.link_heavy) to simulate under each placement mode (empty skips)")
    parser.add_argument("--what-if-tracks", type=int, default=0, metavar="N",
                        help="also simulate the --cycles examples on a WHAT-IF copy of the chip whose vector links "
                             "carry N streams at full rate (labelled what-if in the output; 0: skip)")
    parser.add_argument("--dump-netlists", metavar="DIR", help="write each example kernel's netlist JSON here")
    parser.add_argument("--examples", default="", help="comma-separated example names (default: all; hf:NAME for HF)")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    generators = [g for g in args.generators.split(",") if g.strip()]
    known = GENERATORS | BOUND_ONLY_GENERATORS
    unknown = [g for g in generators if g not in known]
    if unknown:
        parser.error(f"unknown generator(s): {', '.join(unknown)}; known: {', '.join(known)}")
    # --seed N with --seeds K: the seeds N..N+K-1 (reproducible medians); --seeds K alone draws K at run time
    seeds = (list(range(args.seed, args.seed + args.seeds)) if args.seed is not None
             else [secrets.randbelow(2**31) for _ in range(args.seeds)])

    rows = []
    try:
        from rich.console import Console

        console = Console(stderr=True)
    except ImportError:  # rich is a project dependency, but the bench should not depend on it
        console = None
    for generator in generators:
        for size in sizes:
            for seed in seeds:
                if console:
                    console.log(f"{generator} {size} units seed {seed} on {args.chip}: {args.seconds:g} s each")
                row = run_size(args.chip, size, args.seconds, seed, generator, not args.no_baseline, args.baseline_budget,
                               args.start)
                rows.append(row)
                if console:
                    base = row.get("annealing_baseline")
                    console.log(f"  placer {row['placer']['ratio']:.4f}x bound in {row['placer']['seconds']:.1f} s"
                                + (f"; baseline {base['ratio']:.4f}x in {base['seconds']:.1f} s" if base else ""))
    report = {
        "chip": args.chip,
        "seconds_budget": args.seconds,
        "seeds": seeds,
        "cores": os.cpu_count(),
        "results": rows,
        "summary": summarise(rows),
        "examples": run_examples(args.chip, args.example_seconds, seeds[0], args.example_seeds,
                                 {e for e in args.examples.split(",") if e} or None, args.dump_netlists,
                                 args.baseline_budget) if args.example_seconds > 0 else [],
    }
    if report["examples"]:
        report["examples_summary"] = examples_summary(report["examples"])
        print(report["examples_summary"]["line"], file=sys.stderr)
    cycle_names = [c for c in args.cycles.split(",") if c.strip()]
    report["cycles"] = run_cycles(args.chip, cycle_names, seeds[0]) if cycle_names else []
    report["cycles_what_if"] = []
    if cycle_names and args.what_if_tracks > 0:
        report["what_if"] = f"{args.chip} with vector_tracks = {args.what_if_tracks} (NOT the chip: links narrowed to congest them)"
        report["cycles_what_if"] = run_cycles(what_if_chip(args.what_if_tracks, args.chip), cycle_names, seeds[0])
        for row in report["cycles_what_if"]:
            row["chip"] = report["what_if"]
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"{'generator':>10} {'units':>6} {'placer':>8} {'worst':>8} {'anneal':>8}  (median ratio to the lower bound over seeds)")
        for r in report["summary"]:
            print(f"{r['generator']:>10} {r['units']:>6} {r['placer_median_ratio']:>8.4f} {r['placer_worst_ratio']:>8.4f} "
                  f"{r.get('baseline_median_ratio', float('nan')):>8.4f}")
        for e in report["examples"]:
            c = e["comparison"]
            print(f"{e['example']:>10} {e['units']:>6} placer {e['placer']['median']} anneal "
                  f"{e['annealing_baseline']['median']} lower bound {e['lower_bound']} (medians over seeds; placer "
                  f"shorter on {c['placer_shorter_on_seeds']} of {c['seeds']} seeds: {c['verdict']})")
        if report["examples"]:
            print(report["examples_summary"]["line"])
        for c in report["cycles"] + report["cycles_what_if"]:
            label = "" if c in report["cycles"] else " [WHAT-IF " + report["what_if"] + "]"
            if "unroutable" in c:
                print(f"{c['example']:>10}{label}: unroutable: {c['unroutable']}")
                continue
            print(f"{c['example']:>10} simulated body cycles{label}: " + ", ".join(f"{m} {c[m].get('body_cycles', 'unroutable')}" for m in PLACEMENT_MODES)
                  + f" (cycles / wirelength {c['cycles_over_wirelength']}, random / wirelength {c['random_over_wirelength']})")
            print(f"{'':>10}   link wait on the critical path: wirelength {c['wirelength']['link_wait_cycles']} "
                  f"({c['wirelength']['link_wait_share']:.1%} of the body), cycles {c['cycles']['link_wait_cycles']} "
                  f"({c['cycles']['link_wait_share']:.1%}); busiest link under wirelength "
                  f"{c['wirelength']['max_link_utilisation']:.1%} busy ({c['wirelength']['busiest_link']}); critical "
                  f"detour hops wirelength {c['wirelength']['critical_detour_hops']}, cycles {c['cycles']['critical_detour_hops']}")
            for kernel, v in c["per_kernel"].items():
                print(f"{'':>10}   {kernel}: random {v['random']}, wirelength {v['wirelength']}, cycles {v['cycles']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
