"""Fused vs unfused on the paper's workloads: `python -m bench.streaming --json`.

Every workload is compiled shapes-only for the `sn40l` chip at -O0 and -O1 and its bitstream is
timed by the functional simulator (without executing). For each: modeled time, kernel calls,
achieved HBM bandwidth as a fraction of peak, the ratio of modeled time to the roofline bound,
the bound of the kernels, and the fused/unfused speedup.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.workloads import LLAMA2_7B, LLAMA2_70B, MISTRAL_7B, DecoderShape, tensor_parallel_shard, workload
from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from functional_sim import simulate

CONTEXT = 4096
WORKLOADS: list[tuple[str, DecoderShape, str, int | None]] = [
    ("llama2-7b prefill 4k, 1 layer", LLAMA2_7B, "prefill", 1),
    ("llama2-7b decode, 1 layer", LLAMA2_7B, "decode", 1),
    ("mistral-7b decode, 1 layer", MISTRAL_7B, "decode", 1),
    ("llama2-70b decode, 1 layer", LLAMA2_70B, "decode", 1),
    ("llama2-70b decode, 1 layer, one socket of TP8", tensor_parallel_shard(LLAMA2_70B, 8), "decode", 1),
    ("llama2-7b prefill 4k", LLAMA2_7B, "prefill", None),
    ("llama2-7b decode", LLAMA2_7B, "decode", None),
    ("mistral-7b decode", MISTRAL_7B, "decode", None),
    ("llama2-70b decode", LLAMA2_70B, "decode", None),
    ("llama2-70b decode, one socket of TP8", tensor_parallel_shard(LLAMA2_70B, 8), "decode", None),
]


def compile_workload(shape: DecoderShape, phase: str, layers: int | None, opt_level: int):
    model, inputs = workload(shape, phase, CONTEXT, layers)
    t0 = time.perf_counter()
    compiled = compile_loaded(LoadedModel(Path(f"{shape.name}.py"), model, inputs),
                              CompileOptions(chip="sn40l", opt_level=opt_level))
    return compiled, time.perf_counter() - t0


def measure(compiled, compile_seconds: float, opt_level: int, launch: str) -> dict[str, Any]:
    chip = compiled.chip
    sim = simulate(compiled.bitstream, None, chip=chip, execute=False, launch=launch)
    roofline = compiled.work.roofline_cycles(chip)
    hbm_bytes = sim.tier_bytes.get("hbm", 0)
    seconds = sim.cycles / chip.clock_hz
    return {
        "opt_level": opt_level,
        "launch": launch,
        "kernels": len(compiled.bitstream.kernels),
        "cycles": sim.cycles,
        "modeled_ms": seconds * 1e3,
        "roofline_cycles": round(roofline),
        "over_roofline": sim.cycles / roofline,
        "hbm_bytes": hbm_bytes,
        "hbm_bandwidth_fraction": hbm_bytes / seconds / chip.tier("hbm").bytes_per_second if seconds else 0.0,
        "flops": compiled.work.flops,
        "compute_fraction": compiled.work.flops / seconds / chip.peak_flops if seconds else 0.0,
        "bounds": dict(Counter(k.bound for k in sim.kernels)),
        "launch_cycles": sum(k.launch_cycles for k in sim.kernels),
        "fill_cycles": sum(k.fill_cycles for k in sim.kernels),
        "compile_seconds": round(compile_seconds, 2),
    }


def run(selected: list[tuple[str, DecoderShape, str, int | None]], launches: list[str]) -> list[dict[str, Any]]:
    rows = []
    for name, shape, phase, layers in selected:
        print(f"[bench.streaming] {name}", file=sys.stderr, flush=True)
        compiled = {level: compile_workload(shape, phase, layers, level) for level in (0, 1)}
        for launch in launches:
            o0 = measure(*compiled[0], 0, launch)
            o1 = measure(*compiled[1], 1, launch)
            rows.append({
                "workload": name, "phase": phase, "launch": launch,
                "layers": layers or shape.layers, "context": CONTEXT,
                "O0": o0, "O1": o1, "speedup": o0["cycles"] / o1["cycles"],
            })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print JSON (the default prints JSON too, indented)")
    parser.add_argument("--quick", action="store_true", help="only the one-layer workloads")
    parser.add_argument("--launch", choices=["software", "hardware", "both"], default="both")
    args = parser.parse_args()
    selected = [w for w in WORKLOADS if not args.quick or w[3] == 1]
    launches = ["software", "hardware"] if args.launch == "both" else [args.launch]
    rows = run(selected, launches)
    print(json.dumps(rows, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
