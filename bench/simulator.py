"""Simulator speed and the two timing engines side by side: `python -m bench.simulator --json`.

    python -m bench.simulator --json [--bitstream /tmp/l8b.rbit] [--examples] [--max-steps N]

The main figure is a timing-only simulation of the Llama-3-8B-shaped model
(`examples/llama3_8b_shapes.py`, 32 layers, sn40l) with the event engine: wall seconds against the
60 s target (and CPU seconds: on a loaded machine wall time overstates the simulator's cost), stage firings (events) and tiles moved or popped (tile events) per second, and the
cycles under both engines. The bitstream is compiled once (`rducc examples/llama3_8b_shapes.py -o
/tmp/l8b.rbit --chip sn40l`, about 35 s) and reused if the file exists. `--max-steps N` also times
the grouped-tile run (`functional_sim.event_graph`) and reports its cycle difference.
`--examples` adds the cycles of `examples/attention.py` and `examples/llama.py` on sn40l and
small under both engines. Timing targets live here, never in tests. JSON to stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

from bitstream_format import Bitstream, decode
from chip_model import load_chip
from functional_sim import simulate
from functional_sim.event_timing import event_kernel_timing
from functional_sim.timing import program_timing

ROOT = Path(__file__).resolve().parents[1]
TARGET_SECONDS = 60.0
EXAMPLES = ("attention", "llama")


def _compile(model: Path, chip: str) -> Bitstream:
    from compiler.driver import CompileOptions, compile_model

    return compile_model(model, CompileOptions(chip=chip)).bitstream


def llama3_bitstream(path: Path) -> Bitstream:
    if path.exists():
        return decode(path.read_bytes())
    print(f"compiling examples/llama3_8b_shapes.py to {path} ...", file=sys.stderr)
    bs = _compile(ROOT / "examples" / "llama3_8b_shapes.py", "sn40l")
    from bitstream_format import encode

    path.write_bytes(encode(bs))
    return bs


def time_engines(bs: Bitstream, max_steps: int | None = None) -> dict[str, Any]:
    t0 = time.perf_counter()
    analytic = simulate(bs, None, execute=False, timing="analytic")
    analytic_seconds = time.perf_counter() - t0
    t0, c0 = time.perf_counter(), time.process_time()
    event = simulate(bs, None, execute=False)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    events = sum(k.events for k in event.kernels)
    tiles = sum(k.tile_events for k in event.kernels)
    out: dict[str, Any] = {
        "kernels": len(bs.kernels),
        "event": {
            "cycles": event.cycles, "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
            "events": events, "tile_events": tiles,
            "events_per_second": round(events / seconds), "tile_events_per_second": round(tiles / seconds),
            "target_seconds": TARGET_SECONDS, "within_target": seconds <= TARGET_SECONDS,
            "fifos_grown": sum(len(k.fifo_growth) for k in event.kernels),
        },
        "analytic": {"cycles": analytic.cycles, "seconds": round(analytic_seconds, 3)},
        "event_over_analytic": round(event.cycles / analytic.cycles, 3),
    }
    if max_steps:
        chip = load_chip(bs.chip)
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
            event = simulate(bs, None, execute=False)
            analytic = simulate(bs, None, execute=False, timing="analytic")
            rows.append({"example": name, "chip": chip, "event_cycles": event.cycles,
                         "analytic_cycles": analytic.cycles, "event_over_analytic": round(event.cycles / analytic.cycles, 3),
                         "bounds": sorted({k.bound for k in event.kernels})})
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.simulator", description=__doc__.splitlines()[0])
    ap.add_argument("--bitstream", type=Path, default=Path("/tmp/l8b.rbit"))
    ap.add_argument("--examples", action="store_true", help="also compile and time the attention and llama examples")
    ap.add_argument("--max-steps", type=int, default=None, help="also time the grouped-tile run with this many steps")
    ap.add_argument("--json", action="store_true", help="print JSON (the default output anyway)")
    args = ap.parse_args(argv)
    report: dict[str, Any] = {"llama3_8b_shapes": time_engines(llama3_bitstream(args.bitstream), args.max_steps)}
    if args.examples:
        report["examples"] = examples()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
