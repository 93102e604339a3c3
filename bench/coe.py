"""The SN40L paper's Table V (Samba-CoE on one node against DGX H100 / A100): `python -m bench.coe --json`.

Shapes only. The CoE is the paper's: 150 experts of Llama2-7B class, every model TP8 over the
node's 8 sockets (sn40l-node8) and over the DGX's 8 GPUs, a 7B router (Samba-CoE routes with "a
7B embedding model", SambaNova's Samba-CoE v0.3 post), router weights and KV caches in HBM, experts
in DDR (host memory on the DGX). SN40L expert times come from compiling the decoder layer and head
with `rdu-shard{tp=8}` for sn40l-node8 and simulating them on the node, collectives included
(compiler/coe/timer.py, programs.py; cached on disk); DGX times from the documented model
(compiler/coe/baselines/*.toml); switching from the node's DDR->HBM copy bandwidth and the DGX's
host->GPU copy bandwidth.

Workloads as the paper's: 20 output tokens (chat) and 200 (translation); batch 1 and 8 (a batch
is B prompts to the whole CoE: the router runs at batch B, then each (prompt, expert) pair runs
in turn). Assumptions: prompts of PROMPT_TOKENS tokens (the paper gives none); "overall" serves
REQUESTS prompts, the prompts of a batch each to a different expert drawn uniformly from the 150
(most pairs switch: the HBM cache holds about a quarter of the library); "expert only" is one
expert's prefill and decode at batch 1. The paper's figures, and the +-15% that counts as within
target (issue 13), are `coe.*` in `bench/targets.json`.

Serving speed (`serve_speed`, also alone with `--serve-only`): issue 13 asks that a long trace
(10,000 requests, 150 experts) serve in under a minute. The bench times `rducc coe serve` on the
CoE and trace tests/coe/test_serve.py serves (150 experts of 5 tiny architectures on small-node8,
an Azure-shaped CSV of 10,000 requests, `--json --trace`), in a fresh process each run, so the
wall includes start-up as a user pays it; the programs are compiled first, untimed, as a second
serve finds them. The median of `--repeats` runs is judged against
`coe.serve_10000_requests_seconds`; the test only checks that it is served and judged.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import compiler
from bench.targets import Target, target
from chip_model.node import load_node
from compiler.coe.architecture import DecoderArchitecture
from compiler.coe.config import CoESpec, Expert
from compiler.coe.gpu_baseline import gpu_platform, load_baseline
from compiler.coe.memory_plan import plan_memory
from compiler.coe.programs import ProgramCache, default_cache_dir
from compiler.coe.requests import Request
from compiler.coe.serve import Platform, serve, uniform_router
from compiler.coe.timer import SimulatedTimer, WholeDecoderTimer, decode_seconds
from compiler.driver import CompileOptions

LLAMA2_7B = DecoderArchitecture("llama2-7b", 4096, 11008, 32, 32, 32, 32000, max_context=4096)
# the paper's introduction says "150 8B expert models": the out-of-memory row is also given for these
LLAMA3_8B = DecoderArchitecture("llama3-8b", 4096, 14336, 32, 32, 8, 128256, max_context=8192)
EXPERTS = 150
PROMPT_TOKENS = 256  # assumption: the paper gives no prompt length
REQUESTS = 128  # per workload: 16 batches of 8, or 128 of 1
PAPER = {  # SN40L node over DGX H100 / DGX A100 (Table V)
    "switching": (target("coe.switching.dgx-h100"), target("coe.switching.dgx-a100")),
    "overall_batch8_20": (target("coe.overall_batch8_20.dgx-h100"), target("coe.overall_batch8_20.dgx-a100")),
    "overall_batch1_20": (target("coe.overall_batch1_20.dgx-h100"), target("coe.overall_batch1_20.dgx-a100")),
    "expert_only_20": (target("coe.expert_only_20.dgx-h100"), target("coe.expert_only_20.dgx-a100")),
    "overall_batch8_200": (target("coe.overall_batch8_200.dgx-h100"), target("coe.overall_batch8_200.dgx-a100")),
    "overall_batch1_200": (target("coe.overall_batch1_200.dgx-h100"), target("coe.overall_batch1_200.dgx-a100")),
    "expert_only_200": (target("coe.expert_only_200.dgx-h100"), target("coe.expert_only_200.dgx-a100")),
}
CAPACITY = {  # section VI: one node against one DGX
    "node_experts": target("coe.node_experts"),
    "experts_in_hbm": target("coe.dgx_experts_in_hbm"),
    "out_of_memory_at_experts": target("coe.dgx_out_of_memory_at_experts"),
    "dgx_nodes_to_hold_node_library_in_hbm": target("coe.dgx_nodes_to_hold_node_library_in_hbm"),
}


ROOT = Path(__file__).resolve().parents[1]
SERVE_COE = ROOT / "tests" / "coe" / "data" / "five_archs.toml"  # the CoE of tests/coe/test_serve.py
SERVE_REQUESTS = 10_000
SERVE_SECONDS = target("coe.serve_10000_requests_seconds")


def samba_coe(batch: int, experts: int = EXPERTS) -> CoESpec:
    members = [Expert(f"expert-{i}", LLAMA2_7B, "architecture llama2-7b") for i in range(experts)]
    categories = [f"topic-{i}" for i in range(experts)]
    return CoESpec(Path("samba-coe.toml"), "sn40l-node8", batch, 8, "lru", categories, None,
                   {c: e.name for c, e in zip(categories, members)}, Expert("router", LLAMA2_7B, "architecture llama2-7b"),
                   members)


def trace(batch: int, output_tokens: int, seed: int = 0) -> list[Request]:
    """REQUESTS prompts in batches of `batch`, all waiting at t=0, distinct experts within a batch."""
    rng = random.Random(seed)
    out = []
    for b in range(REQUESTS // batch):
        for expert in rng.sample(range(EXPERTS), batch):
            out.append(Request(len(out), 0.0, PROMPT_TOKENS, output_tokens, f"topic-{expert}"))
    return out


def expert_only(timer, output_tokens: int) -> float:
    return (timer.prefill_seconds(LLAMA2_7B, PROMPT_TOKENS, 1)
            + decode_seconds(timer, LLAMA2_7B, PROMPT_TOKENS, output_tokens - 1, 1))


def judge(measured: float, paper: Target) -> dict[str, Any]:
    return {"measured": round(measured, 2), "paper": paper.paper, "ratio_to_paper": round(measured / paper.paper, 2),
            "within_target": paper.within(measured)}


def table(timer, node, spec, plan, gpus) -> tuple[dict[str, Any], dict[str, Any]]:
    """Table V's timing rows for one SN40L timer: (rows, detail)."""
    sn40l = {b: Platform(node.name, timer, plan[b].expert_cache_bytes, node.ddr_to_hbm_bytes_per_second, plan[b].ddr_capacity)
             for b in (1, 8)}
    rows: dict[str, Any] = {}
    expert_bytes = LLAMA2_7B.weight_bytes
    switch_node = expert_bytes / node.ddr_to_hbm_bytes_per_second
    rows["switching"] = [judge((expert_bytes / g.host_to_gpu_bytes_per_second) / switch_node, PAPER["switching"][i])
                         for i, g in enumerate(gpus.values())]
    detail: dict[str, Any] = {"expert_bytes": expert_bytes, "switch_seconds": {node.name: switch_node} | {
        n: expert_bytes / g.host_to_gpu_bytes_per_second for n, g in gpus.items()}}
    for tokens in (20, 200):
        mine = expert_only(timer, tokens)
        theirs = {n: expert_only(gpu_platform(g, 0, 0).timer, tokens) for n, g in gpus.items()}
        rows[f"expert_only_{tokens}"] = [judge(theirs[n] / mine, PAPER[f"expert_only_{tokens}"][i]) for i, n in enumerate(gpus)]
        detail[f"expert_seconds_{tokens}"] = {node.name: mine, **theirs}
        for b in (8, 1):
            requests = trace(b, tokens)
            ours = serve(spec[b], sn40l[b], requests, uniform_router(spec[b].categories), record_events=False).summary()
            detail[f"serve_batch{b}_{tokens}"] = {node.name: _brief(ours)}
            ratios = []
            for i, (n, g) in enumerate(gpus.items()):
                platform = gpu_platform(g, plan[b].router_bytes, plan[b].kv_bytes)
                s = serve(spec[b], platform, requests, uniform_router(spec[b].categories), record_events=False).summary()
                detail[f"serve_batch{b}_{tokens}"][n] = _brief(s)
                ratios.append(judge(s["makespan_seconds"] / ours["makespan_seconds"], PAPER[f"overall_batch{b}_{tokens}"][i]))
            rows[f"overall_batch{b}_{tokens}"] = ratios
    return rows, detail


def run(cache_dir: Path | None) -> dict[str, Any]:
    node = load_node("sn40l-node8")
    programs = ProgramCache(node, 8, CompileOptions(chip=node.chip.name), cache_dir)
    timer = SimulatedTimer(node, programs)
    spec = {b: samba_coe(b) for b in (1, 8)}
    plan = {b: plan_memory(spec[b], node, 8) for b in (1, 8)}
    gpus = {name: load_baseline(name) for name in ("dgx-h100", "dgx-a100")}
    print("[bench.coe] SN40L programs: compile (once) and simulate", file=sys.stderr, flush=True)
    rows, detail = table(timer, node, spec, plan, gpus)
    what_if, what_if_detail = table(WholeDecoderTimer(node, programs), node, spec, plan, gpus)
    expert_bytes = LLAMA2_7B.weight_bytes

    # capacity: how many experts the node holds in DDR; where the DGX leaves HBM and runs out of memory
    p8 = plan[8]
    node_experts = int(p8.ddr_capacity // expert_bytes)
    capacity: dict[str, Any] = {"node_experts": judge(node_experts, CAPACITY["node_experts"])}
    for n, g in gpus.items():
        platform = gpu_platform(g, p8.router_bytes, p8.kv_bytes)
        in_hbm = platform.expert_cache_bytes // expert_bytes
        oom = platform.library_capacity_bytes // expert_bytes + 1
        dgx_nodes = math.ceil(node_experts * expert_bytes / platform.expert_cache_bytes)
        capacity[n] = {"experts_in_hbm": judge(in_hbm, CAPACITY["experts_in_hbm"]),
                       "out_of_memory_at_experts": judge(oom, CAPACITY["out_of_memory_at_experts"]),
                       "out_of_memory_past_150": oom > 150,
                       "out_of_memory_at_8b_experts": platform.library_capacity_bytes // LLAMA3_8B.weight_bytes + 1,
                       "dgx_nodes_to_hold_node_library_in_hbm": judge(dgx_nodes, CAPACITY["dgx_nodes_to_hold_node_library_in_hbm"]),
                       "dgx_nodes_to_hold_850_experts_in_hbm": math.ceil(850 * expert_bytes / platform.expert_cache_bytes)}
    rows["capacity"] = capacity
    detail["programs_compiled"] = sum(programs.compiles.values())
    detail["programs_from_cache"] = programs.disk_hits
    detail["sn40l_step_breakdown_seconds"] = {
        "prefill": timer.breakdown(LLAMA2_7B, "prefill", PROMPT_TOKENS, 1),
        "decode": timer.breakdown(LLAMA2_7B, "decode", PROMPT_TOKENS, 1)}
    return {"table_v": rows, "columns": list(gpus), "within_target": _count(rows),
            "what_if_whole_decoder_kernels": {"table_v": what_if, "within_target": _count(what_if),
                                              "detail": what_if_detail},
            "assumptions": {"prompt_tokens": PROMPT_TOKENS, "requests": REQUESTS, "experts": EXPERTS,
                            "router": "llama2-7b shapes, prefill only",
                            "node_ddr_to_hbm_bytes_per_second": node.ddr_to_hbm_bytes_per_second},
            "detail": detail}


def azure_trace(requests: int = SERVE_REQUESTS, seed: int = 0) -> str:
    """An Azure LLM inference trace CSV of `requests` requests (prompts 10-20 tokens, 1-5 output
    tokens, 100 a second): the trace tests/coe/test_serve.py serves from the CLI."""
    rng = random.Random(seed)
    lines = ["TIMESTAMP,ContextTokens,GeneratedTokens"]
    for i in range(requests):
        lines.append(f"2023-11-16 18:{15 + i // 6000:02d}:{(i // 100) % 60:02d}.{i % 100:02d}00000,"
                     f"{rng.randint(10, 20)},{rng.randint(1, 5)}")
    return "\n".join(lines) + "\n"


def serve_speed(cache_dir: Path, repeats: int = 3, coe_file: Path = SERVE_COE) -> dict[str, Any]:
    """Wall seconds of `rducc coe serve` on 10,000 requests, each run a fresh process (start-up
    included) with the programs already in `cache_dir`; the median of `repeats` runs, judged.

    Why a fresh process: the issue's minute is what a user waits for at the command line. Why
    compile first: compiling is a one-off per architecture that the cache amortises (docs/coe.md),
    so the figure is a warm serve, as the removed timed test measured it."""
    from compiler.coe.requests import read_requests
    from compiler.coe.session import CoESession

    with tempfile.TemporaryDirectory(prefix="bench-coe-serve-") as tmp:
        trace_csv = Path(tmp) / "azure.csv"
        trace_csv.write_text(azure_trace())
        start = time.perf_counter()
        session = CoESession(coe_file, cache_dir)
        session.compile_all(session.needs(read_requests(trace_csv)))
        compile_seconds = time.perf_counter() - start
        compiled = sum(session.programs.compiles.values())
        command = [sys.executable, "-m", "compiler.cli", "coe", "serve", str(coe_file), "--requests", str(trace_csv),
                   "--cache-dir", str(cache_dir), "--json", "--trace", str(Path(tmp) / "timeline.json")]
        # the child imports the compiler this process runs (a worktree's, not an installed copy's)
        env = os.environ | {"PYTHONPATH": os.pathsep.join(
            [str(Path(compiler.__file__).resolve().parents[1]), *filter(None, [os.environ.get("PYTHONPATH")])])}
        walls, load = [], []
        for _ in range(repeats):
            load.append(round(os.getloadavg()[0], 2))
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, env=env)
            walls.append(round(time.perf_counter() - start, 2))
            if done.returncode != 0:
                raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}): {done.stderr[-2000:]}")
            out = json.loads(done.stdout)
            served, recompiled = out["summary"]["requests"], out["programs"]["compiled"]
            if served != SERVE_REQUESTS or recompiled:
                raise RuntimeError(f"the serve run served {served} requests and compiled {recompiled} programs")
    wall = statistics.median(walls)
    return {"coe": str(coe_file.relative_to(ROOT)) if coe_file.is_relative_to(ROOT) else str(coe_file),
            "node": session.spec.node_name, "experts": len(session.spec.experts), "requests": SERVE_REQUESTS,
            "command": "rducc coe serve COE --requests azure.csv --cache-dir DIR --json --trace T.json",
            "wall_seconds": wall, "wall_seconds_runs": walls, "requests_per_second": round(SERVE_REQUESTS / wall, 1),
            "load_average_1min_at_start": load, "programs_compiled_first": compiled,
            "compile_seconds_first": round(compile_seconds, 2), "target": SERVE_SECONDS.judge(wall)}


def _count(rows: dict[str, Any]) -> str:
    flags = []
    for key, value in rows.items():
        if key == "capacity":
            flags.append(value["node_experts"]["within_target"])
            flags += [v[k]["within_target"] for n, v in value.items() if n != "node_experts"
                      for k in ("experts_in_hbm", "out_of_memory_at_experts", "dgx_nodes_to_hold_node_library_in_hbm")]
        else:
            flags += [r["within_target"] for r in value]
    return f"{sum(flags)} of {len(flags)}"


def _brief(s: dict[str, Any]) -> dict[str, Any]:
    return {k: s[k] for k in ("makespan_seconds", "router_seconds", "switch_seconds", "expert_seconds", "hbm_hits", "hbm_misses")}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object (default: indented)")
    parser.add_argument("--cache-dir", type=Path, help="compiled-program cache (default ~/.cache/rducc/coe)")
    parser.add_argument("--serve-only", action="store_true", help="only the serving-speed row, not Table V")
    parser.add_argument("--repeats", type=int, default=3, help="serve runs; the median is judged (default 3)")
    args = parser.parse_args(argv)
    cache_dir = args.cache_dir or default_cache_dir()
    result = {} if args.serve_only else run(cache_dir)
    print("[bench.coe] serving speed: 10,000 requests from the CLI", file=sys.stderr, flush=True)
    result["serve_speed"] = serve_speed(cache_dir, args.repeats)
    print(json.dumps(result, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
