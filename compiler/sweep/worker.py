"""One sweep point, start to finish, in whichever process runs it (a Ray worker or the driver):
compile (or take the compile from the cache), simulate timing-only, compute the metrics. On a
node, the point compiles through `rdu-shard{tp=N}` for the node and a tensor-parallel program
(tp > 1) is timed by the node simulator.

A point that fails records its one-line error instead of raising, so the sweep goes on. Errors
in the user's input (the compiler's own diagnostics) are deterministic and are cached like
results; anything else is reported as an internal error and retried on the next run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from compiler.sweep.cache import SweepCache
from compiler.sweep.chip_overrides import materialize
from compiler.sweep.metrics import point_metrics
from compiler.sweep.models import load
from compiler.sweep.options import compile_options


def user_error_types() -> tuple[type[BaseException], ...]:
    """Every layer's input errors derive from `rducc_errors.UserError` (compiler, bitstream, chip
    and node specs, simulator, placement, CoE files)."""
    from rducc_errors import UserError

    return (UserError,)


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def compile_point(task: dict[str, Any], chip_path: Path, node_path: Path | None) -> tuple[Any, dict[str, Any]]:
    from compiler.driver import compile_loaded

    tp = task["compile_options"]["tp"]
    # tp = 1 compiles for the chip alone (its key does not name the node: compiler/sweep/points.py)
    options = compile_options(str(chip_path), task["compile_options"], str(node_path) if node_path and tp > 1 else None)
    result = compile_loaded(load(task["model"]), options)
    m = result.bitstream.manifest
    # the node's lower bound: the whole model's work split evenly over the tp sockets
    roofline = result.work.roofline_cycles(result.chip) / options.tp
    meta = {"compile_seconds": result.compile_seconds, "kernels": m["kernels"], "pcus_used": m["pcus_used"],
            "pmus_used": m["pmus_used"], "roofline_cycles": roofline,
            "flops": result.work.flops, "bitstream_bytes": len(result.data)}
    return result, meta


def evaluate(task: dict[str, Any]) -> dict[str, Any]:
    """The point's row: `index`, `status` (ok or failed), `error`, `cached` ("result",
    "compile" or ""), `metrics`, and `run_seconds` (this call's wall time)."""
    start = time.perf_counter()
    cache = SweepCache(Path(task["cache_dir"]))
    row = cache.get_result(task["point_key"]) if task["reuse_results"] else None
    if row is not None:
        return {**row, "index": task["index"], "cached": "result", "run_seconds": time.perf_counter() - start}
    cached = ""
    try:
        import bitstream_format
        from chip_model import load_chip
        from functional_sim import simulate
        from functional_sim.node import hbm_bytes, simulate_node

        chip_path = materialize(task["chip_text"], task["chip_digest"], Path(task["cache_dir"]))
        node_path = None
        if task["node_text"] is not None:
            node_path = materialize(task["node_text"], task["node_digest"], Path(task["cache_dir"]), "nodes")
        chip = load_chip(str(chip_path))
        hit = cache.get_compile(task["compile_key"])
        if hit is None:
            result, meta = compile_point(task, chip_path, node_path)
            cache.put_compile(task["compile_key"], result.data, meta)
            bitstream = result.bitstream
        else:
            cached = "compile"
            bitstream, meta = bitstream_format.decode(hit[0]), hit[1]
        launch = task["sim_options"]["launch"]
        node = None
        if bitstream.node is not None:  # tp > 1: every socket, collectives timed on the node's links
            node = simulate_node(bitstream, None, chip=chip, execute=False, launch=launch)
            sim = node.socket
        else:
            sim = simulate(bitstream, None, chip=chip, execute=False, launch=launch)
        meta = {**meta, "socket_hbm_bytes": hbm_bytes(bitstream)}
        row = {"status": "ok", "error": "", "metrics": point_metrics(meta, sim, chip, task["model"].get("tokens"), node)}
        cache.put_result(task["point_key"], row)
    except user_error_types() as exc:
        row = {"status": "failed", "error": one_line(exc), "metrics": {}}
        cache.put_result(task["point_key"], row)
    except Exception as exc:  # a bug in rducc: record it for this point and go on with the sweep
        row = {"status": "failed", "error": one_line(f"internal error: {type(exc).__name__}: {exc}"), "metrics": {}}
    return {**row, "index": task["index"], "cached": cached, "run_seconds": time.perf_counter() - start}
