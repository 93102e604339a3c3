"""One decode step against a static KV cache resident in HBM: `python -m bench.decode_cache --json`.

    python -m bench.decode_cache --json [--model llama3.1-8b|llama3.1-70b|llama3.1-405b|llama2-7b|mistral-7b]
                                        [--cache-len 8192] [--layers N] [--chip sn40l]

Compiles `bench.workloads.decode_with_cache_workload` shapes-only (BF16, one socket, no tensor
parallelism: a 70B or 405B model does not fit one socket's HBM and the compile says so) and
simulates it for timing only. Reports the step's cycles and tokens/s for one user, the roofline
(the larger of FLOPs / peak and compulsory bytes / HBM bandwidth, compulsory bytes being every
weight and the whole cache read once), the HBM bytes the AGCUs move, and how many of them are the
cache append (`store_rows`: one row per layer and per K/V) as against the cache itself. JSON to
stdout, progress to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bench.workloads import (LLAMA2_7B, LLAMA31_8B, LLAMA31_70B, LLAMA31_405B, MISTRAL_7B,
                             decode_with_cache_workload)
from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from functional_sim import simulate
from functional_sim.timing import agcu_tier_bytes

SHAPES = {s.name: s for s in (LLAMA31_8B, LLAMA31_70B, LLAMA31_405B, LLAMA2_7B, MISTRAL_7B)}


def measure(model: str, cache_len: int, layers: int | None, chip: str) -> dict:
    shape = SHAPES[model]
    layers = shape.layers if layers is None else layers
    print(f"compiling {model} decode, {layers} layers, {cache_len}-row cache on {chip}", file=sys.stderr)
    start = time.perf_counter()
    module, inputs = decode_with_cache_workload(shape, cache_len, layers)
    compiled = compile_loaded(LoadedModel(Path(f"{model}-decode-cache.py"), module, inputs), CompileOptions(chip=chip))
    compile_seconds = time.perf_counter() - start
    bs = compiled.bitstream
    start = time.perf_counter()
    result = simulate(bs, None, execute=False)
    simulate_seconds = time.perf_counter() - start
    states = [t for t in bs.tensors if t.role == "state"]
    appended = sum(agcu_tier_bytes(bs, s)[1] for s in bs.stages if s.opcode == "store_rows")
    roofline = compiled.work.roofline_cycles(compiled.chip)
    return {
        "model": model, "layers": layers, "cache_len": cache_len, "chip": chip, "dtype": "bf16",
        "cycles": result.cycles, "tokens_per_second": result.clock_hz / result.cycles,
        "roofline_cycles": round(roofline), "roofline_tokens_per_second": result.clock_hz / roofline,
        "cache_bytes": sum(t.nbytes for t in states), "append_bytes_per_step": appended,
        "hbm_bytes_moved": result.tier_bytes.get("hbm", 0), "kernels": len(bs.kernels),
        "compile_seconds": round(compile_seconds, 1), "simulate_seconds": round(simulate_seconds, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=sorted(SHAPES), default=LLAMA31_8B.name)
    parser.add_argument("--cache-len", type=int, default=8192)
    parser.add_argument("--layers", type=int, default=None, help="decoder layers (default: the model's)")
    parser.add_argument("--chip", default="sn40l")
    parser.add_argument("--json", action="store_true", help="print one JSON object (the default output)")
    args = parser.parse_args()
    print(json.dumps(measure(args.model, args.cache_len, args.layers, args.chip)))


if __name__ == "__main__":
    main()
