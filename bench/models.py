"""Real-model compile benchmarks: `python -m bench.models --json`.

- The Llama-3-8B-shaped model (examples/llama3_8b_shapes.py), shapes-only on `sn40l`: compile
  time and peak memory, measured in a fresh child process, against `models.*` in
  `bench/targets.json` (issue 3: 60 s, 4 GiB).
- Each tiny Hugging Face example on `small`: compile and simulate time against PyTorch eager's
  time on the same inputs.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.targets import target

COMPILE_SECONDS = target("models.llama3_8b_compile_seconds")
PEAK_RSS_GIB = target("models.llama3_8b_peak_rss_gib")
ROOT = Path(__file__).parents[1]
TINY = ["llama", "qwen2", "mixtral"]
CHILD = """
import json, sys, time
t0 = time.perf_counter()
from compiler.driver import CompileOptions, compile_model
r = compile_model(sys.argv[1], CompileOptions(chip="sn40l", opt_level=int(sys.argv[2])))
print(json.dumps({"seconds": time.perf_counter() - t0, "timings": r.timings, "kernels": len(r.bitstream.kernels),
                  "bitstream_bytes": len(r.data), "shapes_only": r.shapes_only}))
"""


def compile_8b(opt_level: int) -> dict[str, Any]:
    """In a child so its peak RSS is its own (imports included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "examples" / "llama3_8b_shapes.py"), str(opt_level)],
                          capture_output=True, text=True, cwd=ROOT, check=True)
    wall = time.perf_counter() - t0
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    peak_gib = max(peak_kib, before) / 2**20
    judged = {"seconds": COMPILE_SECONDS.judge(round(wall, 2)), "peak_rss_gib": PEAK_RSS_GIB.judge(round(peak_gib, 3))}
    return {
        "model": "llama3-8b shapes (hidden 4096, 32 layers, seq 2048)",
        "opt_level": opt_level,
        "wall_seconds": round(wall, 2),
        "compile_seconds": round(result["seconds"], 2),
        "steps": {k: round(v, 2) for k, v in result["timings"].items()},
        "peak_rss_gib": round(peak_gib, 3),
        "kernels": result["kernels"],
        "bitstream_bytes": result["bitstream_bytes"],
        "targets": judged,
        "within_target": all(j["within_target"] for j in judged.values()),
    }


def tiny(name: str) -> dict[str, Any]:
    import torch

    from compiler.compare import to_numpy
    from compiler.driver import CompileOptions, compile_model
    from compiler.frontend.model_file import load_model_file
    from functional_sim import simulate

    path = ROOT / "examples" / f"{name}.py"
    loaded = load_model_file(path)
    with torch.no_grad():
        loaded.module(*loaded.inputs)  # warm up
        t0 = time.perf_counter()
        for _ in range(10):
            loaded.module(*loaded.inputs)
        eager = (time.perf_counter() - t0) / 10
    t0 = time.perf_counter()
    compiled = compile_model(path, CompileOptions(chip="small"))
    compile_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    sim = simulate(compiled.bitstream, [to_numpy(t) for t in loaded.inputs], chip=compiled.chip)
    simulate_seconds = time.perf_counter() - t0
    return {
        "model": name,
        "eager_seconds": eager,
        "compile_seconds": round(compile_seconds, 3),
        "simulate_seconds": round(simulate_seconds, 4),
        "simulate_over_eager": simulate_seconds / eager,
        "kernels": len(compiled.bitstream.kernels),
        "modeled_cycles": sim.cycles,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--skip-8b", action="store_true")
    args = parser.parse_args()
    out = {"tiny": [tiny(n) for n in TINY]}
    if not args.skip_8b:
        out["llama3_8b_shapes"] = [compile_8b(1), compile_8b(0)]
    print(json.dumps(out, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
