"""Llama 3.1 decode on 16 SN40L sockets, tensor-parallel: `python -m bench.node --json`.

The paper (Table IV) serves Llama 3.1 8B / 70B / 405B at 8K context on 16 sockets at 1042 / 457 /
129 tokens/s per user, the last two with speculative decoding. This compiles one decode step
(one new token against an 8K KV cache per layer, shapes only, BF16) with `rdu-shard{tp=16}` for
`sn40l-rack16` and times it with the node simulator: collectives on the peer links, overlapped
with compute where the kernels overlap them.

Identical layers are compiled once: one decoder layer, and the head (final norm and vocabulary
projection), are each compiled and simulated on the node; a step of L layers takes
`L * layer + head` cycles (each layer a program run of its own, so kernel launches between layers
are paid). Tokens/s per user is the clock over that. Reported next to it: the roofline of one step (each socket streams its part of the weights
and of the KV cache from HBM once), the paper's figure, and the speculative-decoding gain plain
decode would need to reach it (no draft model is modelled; the gain is what it would have to give).

Assumptions (named in the JSON too): batch 1; the KV cache resident in HBM, split by KV head (8 KV
heads over 16 sockets: each held by two, which split its query heads); the embedding lookup of
the new token is not timed (one row); peer network figures from `chip_model/nodes/sn40l-rack16.toml`.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench.workloads import Decoder, DecoderShape, RMSNorm, workload
from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from functional_sim.node import simulate_node

NODE = "sn40l-rack16"
TP = 16
CONTEXT = 8192
LLAMA31_8B = DecoderShape("llama3.1-8b", 4096, 14336, 32, 32, 8, 128256)
LLAMA31_70B = DecoderShape("llama3.1-70b", 8192, 28672, 80, 64, 8, 128256)
LLAMA31_405B = DecoderShape("llama3.1-405b", 16384, 53248, 126, 128, 8, 128256)
PAPER_TOKENS_PER_SECOND = {"llama3.1-8b": 1042.0, "llama3.1-70b": 457.0, "llama3.1-405b": 129.0}
PAPER_SPECULATIVE = {"llama3.1-8b": False, "llama3.1-70b": True, "llama3.1-405b": True}
MODELS = {"8b": LLAMA31_8B, "70b": LLAMA31_70B, "405b": LLAMA31_405B}
ASSUMPTIONS = [
    "batch 1, one new token against an 8192-token KV cache per layer (the cache is an input held in HBM)",
    "KV cache and K/V projections split by KV head; 8 KV heads over 16 sockets: each held by two sockets",
    "identical layers compiled once: step = layers x one layer + head (final norm, vocabulary projection)",
    "embedding lookup of the new token not timed (one row per step)",
    "peer-to-peer figures of sn40l-rack16 (all assumptions, see the TOML)",
    "no speculative decoding modelled: `speculative_gain_needed` is the factor it would have to give",
]


class Head(nn.Module):
    """What follows the decoder layers: final norm and vocabulary projection."""

    def __init__(self, s: DecoderShape):
        super().__init__()
        self.norm = RMSNorm(s.hidden)
        self.lm_head = nn.Linear(s.hidden, s.vocab, bias=False)

    def forward(self, x):
        return self.lm_head(self.norm(x))


def decode_layer(s: DecoderShape, context: int = CONTEXT) -> LoadedModel:
    """One decoder layer of a decode step: one new token against `context` cached tokens."""
    model, inputs = workload(s, "decode", context, 1)
    return LoadedModel(Path(f"{s.name}-decode-layer.py"), model, inputs)


def decode_head(s: DecoderShape) -> LoadedModel:
    with torch.device("meta"):
        model = Head(s).to(torch.bfloat16).eval()
        x = torch.empty(1, 1, s.hidden, dtype=torch.bfloat16)
    return LoadedModel(Path(f"{s.name}-decode-head.py"), model, (x,))


def node_step_cycles(loaded: LoadedModel, node: str = NODE, tp: int = TP) -> dict[str, Any]:
    """Compile `loaded` tensor-parallel over `tp` sockets of `node` and time it on the node (shapes
    only: nothing executes), with software and with hardware kernel launch: the API other
    benchmarks (Composition of Experts) call for TP-N prefill or decode cycles."""
    t0 = time.perf_counter()
    compiled = compile_loaded(loaded, CompileOptions(node=node, tp=tp))
    compile_seconds = time.perf_counter() - t0
    sim = simulate_node(compiled.bitstream, None, chip=compiled.chip, execute=False)
    hw = simulate_node(compiled.bitstream, None, chip=compiled.chip, execute=False, launch="hardware")
    return {"cycles": sim.cycles, "cycles_hardware_launch": hw.cycles, "collective_cycles": sim.collective_cycles,
            "collective_stages": sim.collective_stages, "kernels": len(compiled.bitstream.kernels),
            "socket_hbm_bytes": sim.socket_hbm_bytes[0], "hbm_bytes_moved": sim.socket.tier_bytes.get("hbm", 0),
            "clock_hz": compiled.chip.clock_hz, "compile_seconds": compile_seconds}


def roofline_seconds(s: DecoderShape, tp: int, context: int, hbm_bytes_per_second: float, peak_flops: float) -> float:
    """A decode step's lower bound on one socket: its part of the weights and of the KV cache read
    from HBM once (bf16), or its part of the FLOPs, whichever is longer."""
    attn = s.hidden * (s.heads + 2 * s.kv_heads) * s.head_dim + s.heads * s.head_dim * s.hidden
    mlp = 3 * s.hidden * s.intermediate
    weights = (s.layers * (attn + mlp) + s.vocab * s.hidden) * 2
    cache = s.layers * 2 * s.kv_heads * context * s.head_dim * 2
    kv_sockets = min(tp, s.kv_heads)  # fewer KV heads than sockets: each cache part is held twice
    per_socket = weights / tp + cache / kv_sockets
    flops = 2 * (s.layers * (attn + mlp) + s.vocab * s.hidden) + s.layers * 4 * s.heads * s.head_dim * context
    return max(per_socket / hbm_bytes_per_second, flops / tp / peak_flops)


def measure(s: DecoderShape, node: str = NODE, tp: int = TP, context: int = CONTEXT) -> dict[str, Any]:
    from chip_model.node import load_node

    spec = load_node(node)
    layer = node_step_cycles(decode_layer(s, context), node, tp)
    head = node_step_cycles(decode_head(s), node, tp)
    cycles = s.layers * layer["cycles"] + head["cycles"]
    cycles_hw = s.layers * layer["cycles_hardware_launch"] + head["cycles_hardware_launch"]
    collective = s.layers * layer["collective_cycles"] + head["collective_cycles"]
    seconds = cycles / layer["clock_hz"]
    tokens = 1.0 / seconds
    roof = roofline_seconds(s, tp, context, spec.chip.tier("hbm").bytes_per_second, spec.chip.peak_flops)
    paper = PAPER_TOKENS_PER_SECOND[s.name]
    return {
        "model": s.name, "shape": asdict(s), "node": node, "sockets": tp, "context": context,
        "step_cycles": cycles, "layer_cycles": layer["cycles"], "head_cycles": head["cycles"],
        "layer_kernels": layer["kernels"], "collective_cycles": collective,
        "collective_share": collective / cycles if cycles else 0.0,
        "tokens_per_second": tokens, "tokens_per_second_hardware_launch": layer["clock_hz"] / cycles_hw,
        "roofline_tokens_per_second": 1.0 / roof,
        "layer_over_hbm_roofline": layer["cycles"] / (layer["hbm_bytes_moved"] / spec.chip.tier_bytes_per_cycle("hbm")),
        "paper_tokens_per_second": paper, "paper_used_speculative_decoding": PAPER_SPECULATIVE[s.name],
        "vs_paper": tokens / paper, "speculative_gain_needed": max(1.0, paper / tokens),
        "compile_seconds": layer["compile_seconds"] + head["compile_seconds"],
        "socket_hbm_bytes_layer": layer["socket_hbm_bytes"], "socket_hbm_bytes_head": head["socket_hbm_bytes"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="8b,70b,405b", help="comma-separated: 8b, 70b, 405b")
    parser.add_argument("--context", type=int, default=CONTEXT)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    rows = []
    for key in args.models.split(","):
        t0 = time.perf_counter()
        row = measure(MODELS[key.strip()], context=args.context)
        row["wall_seconds"] = time.perf_counter() - t0
        row["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        rows.append(row)
        if not args.json:
            print(f"{row['model']:14} {row['tokens_per_second']:8.1f} tok/s/user (roofline {row['roofline_tokens_per_second']:.0f}, "
                  f"paper {row['paper_tokens_per_second']:.0f}; speculative gain needed x{row['speculative_gain_needed']:.2f}), "
                  f"collectives {row['collective_share']:.0%}, compiled in {row['compile_seconds']:.1f} s", file=sys.stderr)
    out = {"benchmark": "llama3.1 decode, tensor parallel", "node": NODE, "tp": TP, "assumptions": ASSUMPTIONS, "rows": rows}
    print(json.dumps(out, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
