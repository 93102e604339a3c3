"""Simulator speed and the two timing engines side by side: `python -m bench.simulator --json`.

    python -m bench.simulator --json [--workload prefill|decode|both] [--bitstream P] [--decode-bitstream P]
                                     [--no-reuse] [--examples] [--functional] [--max-steps N]

The main figures are timing-only simulations of the 32-layer Llama-3-8B shapes on sn40l with the
event engine (FIFOs held to the depths the compiler configured), each against its target
(`simulator.timing_only_seconds`): `prefill` is `examples/llama3_8b_shapes.py` (the HF model,
2K-token prompt); `decode` is one token against a 2K-token KV cache
(`bench.workloads.workload` with Llama-3-8B's shape: hidden 4096, MLP 14336, 32/8 heads). Per
workload: wall and CPU seconds (on a loaded machine wall time overstates the simulator's cost),
stage firings (events) and tiles moved or popped (tile events) and their rates, how many distinct
kernel runs were simulated (identical kernels reuse one run: `functional_sim.event_timing`), the
cycles under both engines, and the bounds named by the critical path. `--no-reuse` also times the
run with every kernel simulated on its own and checks that its cycles are the same. Bitstreams are
compiled once (about 40-80 s each) and reused if the files exist (a file of another format version
is compiled again; after a compiler change, delete the files or pass other paths). `--max-steps N` also times the
grouped-tile run (`functional_sim.event_graph`) and reports its cycle difference. `--examples`
adds the cycles of `examples/attention.py` and `examples/llama.py` on sn40l and small under both
engines. `--functional` times the functional simulation (outputs computed by the tile machine)
of each bundled HF example (`HF_EXAMPLES`) against its target (`simulator.functional_seconds`),
with its largest difference from PyTorch. The targets are `simulator.*` in `bench/targets.json` (issue 9), never in tests.
JSON to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from functools import partial
from pathlib import Path
from typing import Any

from bench.targets import target
from bitstream_format import Bitstream, BitstreamError, decode, encode
from chip_model import load_chip
from functional_sim import simulate
from functional_sim.event_timing import event_kernel_timing
from functional_sim.timing import program_timing

ROOT = Path(__file__).resolve().parents[1]
TIMING_ONLY = target("simulator.timing_only_seconds")
EXAMPLES = ("attention", "llama")
CONTEXT = 2048


def _compile(model: Path, chip: str) -> Bitstream:
    from compiler.driver import CompileOptions, compile_model

    return compile_model(model, CompileOptions(chip=chip)).bitstream


def _compile_decode() -> Bitstream:
    from bench.workloads import DecoderShape, workload
    from compiler.driver import CompileOptions, compile_loaded
    from compiler.frontend.model_file import LoadedModel

    llama3_8b = DecoderShape("llama3-8b", 4096, 14336, 32, 32, 8, 128256)
    model, inputs = workload(llama3_8b, "decode", CONTEXT)
    return compile_loaded(LoadedModel(Path("llama3-8b-decode.py"), model, inputs), CompileOptions(chip="sn40l")).bitstream


def cached_bitstream(path: Path, build, what: str) -> Bitstream:
    if path.exists():
        try:
            return decode(path.read_bytes())
        except BitstreamError as e:  # a cache written by an older rducc: compile it again
            print(f"{path}: {e}", file=sys.stderr)
    print(f"compiling {what} to {path} ...", file=sys.stderr)
    bs = build()
    path.write_bytes(encode(bs))
    return bs


def llama3_bitstream(path: Path) -> Bitstream:
    return cached_bitstream(path, lambda: _compile(ROOT / "examples" / "llama3_8b_shapes.py", "sn40l"),
                            "examples/llama3_8b_shapes.py")


def decode_bitstream(path: Path) -> Bitstream:
    return cached_bitstream(path, _compile_decode, f"Llama-3-8B decode (context {CONTEXT})")


def _timed(run):
    t0, c0 = time.perf_counter(), time.process_time()
    result = run()
    return result, time.perf_counter() - t0, time.process_time() - c0


def time_engines(bs: Bitstream, max_steps: int | None = None, no_reuse: bool = False) -> dict[str, Any]:
    chip = load_chip(bs.chip)
    analytic, analytic_seconds, _ = _timed(lambda: simulate(bs, None, execute=False, timing="analytic"))
    event, seconds, cpu = _timed(lambda: simulate(bs, None, execute=False, fifos="configured"))
    events = sum(k.events for k in event.kernels)
    tiles = sum(k.tile_events for k in event.kernels)
    runs = {id(k.run[1]): k.run[1] for k in event.kernels if k.run is not None}.values()
    simulated_events = sum(r.events for r in runs)
    simulated_tiles = sum(r.tile_events for r in runs)
    out: dict[str, Any] = {
        "kernels": len(bs.kernels),
        "event": {
            "cycles": event.cycles, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
            "target_seconds": TIMING_ONLY.at_most, "within_target": TIMING_ONLY.within(seconds),
            "kernel_runs_simulated": len(runs),
            "events": events, "tile_events": tiles,
            "simulated_events": simulated_events, "simulated_tile_events": simulated_tiles,
            "events_per_second": round(events / seconds), "tile_events_per_second": round(tiles / seconds),
            "simulated_tile_events_per_cpu_second": round(simulated_tiles / cpu) if cpu else None,
            "fifos": "configured",
            "bounds": dict(Counter(k.bound for k in event.kernels)),
            "mean_bound_share": round(sum(k.bound_share for k in event.kernels) / len(event.kernels), 3),
        },
        "analytic": {"cycles": analytic.cycles, "seconds": round(analytic_seconds, 3)},
        "event_over_analytic": round(event.cycles / analytic.cycles, 3),
    }
    if no_reuse:
        fresh, fresh_seconds, fresh_cpu = _timed(lambda: program_timing(
            bs, chip, "software", partial(event_kernel_timing, reuse=False)))
        out["without_reuse"] = {"cycles": fresh.cycles,
                                "seconds": round(fresh_seconds, 2), "cpu_seconds": round(fresh_cpu, 2),
                                "same_cycles": fresh.cycles == event.cycles}
    if max_steps:
        t0 = time.perf_counter()
        grouped = program_timing(bs, chip, "software", partial(event_kernel_timing, max_steps=max_steps))
        out["grouped"] = {"max_steps": max_steps, "cycles": grouped.cycles, "seconds": round(time.perf_counter() - t0, 2),
                          "vs_tile_by_tile": round(grouped.cycles / event.cycles - 1, 4)}
    return out


def examples() -> list[dict[str, Any]]:
    rows = []
    for name in EXAMPLES:
        for chip in ("sn40l", "small"):
            print(f"compiling examples/{name}.py for {chip} ...", file=sys.stderr)
            bs = _compile(ROOT / "examples" / f"{name}.py", chip)
            event = simulate(bs, None, execute=False, fifos="configured")
            analytic = simulate(bs, None, execute=False, timing="analytic")
            rows.append({"example": name, "chip": chip, "event_cycles": event.cycles,
                         "analytic_cycles": analytic.cycles, "event_over_analytic": round(event.cycles / analytic.cycles, 3),
                         "bounds": sorted({k.bound for k in event.kernels})})
    return rows


HF_EXAMPLES = ("llama", "mixtral", "qwen2")  # the bundled Hugging Face models with weights (llama3_8b_shapes is shapes-only)
FUNCTIONAL = target("simulator.functional_seconds")


def functional_examples(chip: str = "sn40l") -> list[dict[str, Any]]:
    """Functional simulation (the tile machine, outputs computed) of each bundled HF example,
    against `FUNCTIONAL`: wall and CPU seconds of `simulate` with its inputs, compile excluded,
    and the largest difference from PyTorch's outputs."""
    import numpy as np

    from compiler.compare import compare_outputs, eager_leaves
    from compiler.driver import CompileOptions, compile_model

    rows = []
    for name in HF_EXAMPLES:
        print(f"compiling examples/{name}.py for {chip} ...", file=sys.stderr)
        compiled = compile_model(ROOT / "examples" / f"{name}.py", CompileOptions(chip=chip))
        inputs = [np.asarray(x.detach().numpy()) for x in compiled.loaded.inputs]
        result, seconds, cpu = _timed(lambda: simulate(compiled.bitstream, inputs))
        compared = compare_outputs(result.outputs, eager_leaves(compiled.eager_outputs))
        rows.append({"example": name, "chip": chip, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 3),
                     "target_seconds": FUNCTIONAL.at_most, "within_target": FUNCTIONAL.within(seconds),
                     "matches_torch": all(c.allclose for c in compared),
                     "max_abs_error_vs_torch": max(c.max_abs_error for c in compared)})
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.simulator", description=__doc__.splitlines()[0])
    ap.add_argument("--workload", choices=["prefill", "decode", "both"], default="both")
    ap.add_argument("--bitstream", type=Path, default=Path("/tmp/l8b.rbit"), help="the prefill bitstream (cache)")
    ap.add_argument("--decode-bitstream", type=Path, default=Path("/tmp/l8b_decode.rbit"), help="the decode bitstream (cache)")
    ap.add_argument("--no-reuse", action="store_true", help="also time every kernel simulated on its own")
    ap.add_argument("--examples", action="store_true", help="also compile and time the attention and llama examples")
    ap.add_argument("--max-steps", type=int, default=None, help="also time the grouped-tile run with this many steps")
    ap.add_argument("--functional", action="store_true",
                    help="also time the functional simulation of each bundled HF example (target: simulator.functional_seconds in bench/targets.json)")
    ap.add_argument("--json", action="store_true", help="print JSON (the default output anyway)")
    args = ap.parse_args(argv)
    load_at_start = os.getloadavg()
    report: dict[str, Any] = {}
    if args.workload in ("prefill", "both"):
        report["llama3_8b_prefill"] = time_engines(llama3_bitstream(args.bitstream), args.max_steps, args.no_reuse)
    if args.workload in ("decode", "both"):
        report["llama3_8b_decode"] = time_engines(decode_bitstream(args.decode_bitstream), args.max_steps, args.no_reuse)
    if args.examples:
        report["examples"] = examples()
    if args.functional:
        report["functional"] = functional_examples()
    # wall seconds on a shared machine overstate the simulator's cost: say how busy it was
    report["load_average_1_5_15_min"] = {"start": [round(x, 2) for x in load_at_start],
                                         "end": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count()}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
