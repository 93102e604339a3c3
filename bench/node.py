"""Llama 3.1 decode on 16 SN40L sockets, tensor-parallel: `python -m bench.node --json`.

The paper (Table IV) serves Llama 3.1 8B / 70B / 405B at 8K context on 16 sockets at 1042 / 457 /
129 tokens/s per user, the last two with speculative decoding. This compiles one decoder layer of
a decode step (one new token against an 8K KV cache, shapes only, BF16) and the head (final norm,
vocabulary projection) with `rdu-shard{tp=16}` for `sn40l-rack16`, and times a whole step with
`functional_sim.decode_step.decode_step_timing`: the layer program run L times as a layer loop,
then the head, all on the node simulator (collectives on the peer links, overlapped with compute
where the kernels overlap them).

Two launch modes, both from the simulator:
- software (host-orchestrated): every layer is its own launch and run, so launch, pipeline fill
  and drain are paid L times per token (`L x layer + head`);
- hardware (AGCU-orchestrated, the paper's whole-decoder kernels, §VI/§VIII): one launch, the
  L iterations run as one repeated kernel in the event engine, so the next layer's weights stream
  into their buffers while the previous layer drains, as far as the compiled buffers allow; each
  unit pays a hardware launch (its next layer's arguments) between iterations.

Reported next to it: a per-layer breakdown (launch, fill, steady state, collectives, HBM bytes vs
the HBM roofline), the roofline of one step (each socket streams its part of the weights and of
the KV cache from HBM once), the paper's figure, and the speculative-decoding gain plain decode
would need to reach it (no draft model is modelled; the gain is what it would have to give).

Assumptions: in `ASSUMPTIONS` (and the JSON); peer network figures from
`chip_model/nodes/sn40l-rack16.toml`.
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
PLACER = "cycles"  # the CP-SAT placement re-placed for simulated cycles (backend_rdu/cycle_feedback.py)
ASSUMPTIONS = [
    "batch 1, one new token against an 8192-token KV cache per layer (the cache is an input held in HBM)",
    "KV cache and K/V projections split by KV head; 8 KV heads over 16 sockets: each held by two sockets",
    "identical layers compiled once as a layer loop in the bitstream (LOOP section: L iterations, each layer's "
    "weights and KV cache at its own HBM base address): hardware launch = one "
    "launch per step, iterations overlapped in the event engine, each unit paying hardware_launch_cycles between "
    "layers; software launch = one host launch and run per layer",
    "layer and head programs both stay loaded (2 kernel configurations <= config_slots 8): program load is setup, "
    "paid once, not per step",
    "placement: --placer cycles (CP-SAT placement re-placed for simulated cycles), a compiler option",
    "embedding lookup of the new token not timed (one row per step)",
    "peer-to-peer figures of sn40l-rack16 (all assumptions, see the TOML); collective algorithm per message "
    "(ring, tree or direct), whichever costs least",
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


def compile_part(loaded: LoadedModel, node: str = NODE, tp: int = TP, placer: str = PLACER, layers: int = 1):
    """Compile a decode part tensor-parallel over `tp` sockets of `node`, shapes only; `layers` > 1:
    as a layer loop (the LOOP section: hidden state carried, each layer's KV cache, inputs 4 and 5, its own)."""
    loop = {"layers": layers, "per_layer": (4, 5)} if layers > 1 else {}
    return compile_loaded(loaded, CompileOptions(node=node, tp=tp, placer=placer, **loop))


def node_step_cycles(loaded: LoadedModel, node: str = NODE, tp: int = TP, placer: str = "cpsat") -> dict[str, Any]:
    """Compile `loaded` tensor-parallel over `tp` sockets of `node` and time one run on the node (shapes
    only: nothing executes), with software and with hardware kernel launch: one program's cycles
    (for a whole decode step, `functional_sim.decode_step.decode_step_timing`)."""
    t0 = time.perf_counter()
    compiled = compile_part(loaded, node, tp, placer)
    compile_seconds = time.perf_counter() - t0
    sim = simulate_node(compiled.bitstream, None, chip=compiled.chip, execute=False)
    hw = simulate_node(compiled.bitstream, None, chip=compiled.chip, execute=False, launch="hardware")
    return {"cycles": sim.cycles, "cycles_hardware_launch": hw.cycles, "collective_cycles": sim.collective_cycles,
            "collective_stages": sim.collective_stages, "kernels": len(compiled.bitstream.kernels),
            "socket_hbm_bytes": sim.socket_hbm_bytes[0], "hbm_bytes_moved": sim.socket.tier_bytes.get("hbm", 0),
            "clock_hz": compiled.chip.clock_hz, "compile_seconds": compile_seconds}


def layer_breakdown(bitstream, chip) -> dict[str, Any]:
    """Where one layer's time goes when it runs alone (hardware launch): launch, fill, steady
    state, collective stages, HBM bytes and the HBM time they need, the bound and its resource."""
    sim = simulate_node(bitstream, None, chip=chip, execute=False, launch="hardware")
    k = sim.socket.kernels
    hbm = sim.socket.tier_bytes.get("hbm", 0)
    return {"kernels": len(k), "program_load_cycles": sim.socket.setup_cycles,
            "launch_cycles": sum(r.launch_cycles for r in k), "fill_cycles": sum(r.fill_cycles for r in k),
            "steady_cycles": sum(r.steady_cycles for r in k), "cycles": sim.cycles,
            "collective_cycles": sim.collective_cycles, "collective_stages": sim.collective_stages,
            "hbm_bytes": hbm, "hbm_roofline_cycles": round(hbm / chip.tier_bytes_per_cycle("hbm")),
            "bound": k[0].bound if len(k) == 1 else "", "bound_by": k[0].bound_by if len(k) == 1 else "",
            "critical_path": [list(c) for c in k[0].critical_path] if len(k) == 1 else []}


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


def measure(s: DecoderShape, node: str = NODE, tp: int = TP, context: int = CONTEXT, placer: str = PLACER) -> dict[str, Any]:
    from chip_model.node import load_node
    from functional_sim.decode_step import decode_step_hbm_bytes, decode_step_timing

    spec = load_node(node)
    t0 = time.perf_counter()
    layer = compile_part(decode_layer(s, context), node, tp, placer, layers=s.layers)  # the loop is in the bitstream
    head = compile_part(decode_head(s), node, tp, placer)
    compile_seconds = time.perf_counter() - t0
    chip = layer.chip
    sw = decode_step_timing(layer.bitstream, head.bitstream, chip=chip, launch="software")
    hw = decode_step_timing(layer.bitstream, head.bitstream, chip=chip, launch="hardware")
    roof = roofline_seconds(s, tp, context, spec.chip.tier("hbm").bytes_per_second, spec.chip.peak_flops)
    paper = PAPER_TOKENS_PER_SECOND[s.name]
    tokens = hw.tokens_per_second
    breakdown = layer_breakdown(layer.bitstream, chip)
    per_layer_in_loop = hw.breakdown["layer_cycles_in_loop"]
    return {
        "model": s.name, "shape": asdict(s), "node": node, "sockets": tp, "context": context, "placer": placer,
        "step_cycles": hw.cycles, "step_cycles_software_launch": sw.cycles,
        "layer_cycles_alone": breakdown["cycles"], "layer_cycles_in_loop": per_layer_in_loop,
        "head_cycles": hw.head_cycles, "layer_kernels": breakdown["kernels"],
        "layer_breakdown": breakdown, "loop_saving_cycles": hw.breakdown["loop_saving_cycles"],
        "collective_cycles": hw.collective_cycles, "collective_share": hw.collective_cycles / hw.cycles,
        "tokens_per_second": tokens, "tokens_per_second_software_launch": sw.tokens_per_second,
        "hardware_launch_gain": sw.cycles / hw.cycles,
        "roofline_tokens_per_second": 1.0 / roof,
        "step_over_roofline": hw.seconds / roof,
        "layer_in_loop_over_hbm_roofline": per_layer_in_loop / max(1, breakdown["hbm_roofline_cycles"]),
        "hbm_bandwidth_share": hw.hbm_bytes_moved / spec.chip.tier_bytes_per_cycle("hbm") / hw.cycles,
        "paper_tokens_per_second": paper, "paper_used_speculative_decoding": PAPER_SPECULATIVE[s.name],
        "vs_paper": tokens / paper, "speculative_gain_needed": max(1.0, paper / tokens),
        "compile_seconds": compile_seconds, "program_load_cycles_once": hw.setup_cycles,
        "socket_hbm_bytes_resident": decode_step_hbm_bytes(layer.bitstream, head.bitstream),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="8b,70b,405b", help="comma-separated: 8b, 70b, 405b")
    parser.add_argument("--context", type=int, default=CONTEXT)
    parser.add_argument("--placer", default=PLACER, help="placer for the layer and head programs (default: cycles)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    rows = []
    for key in args.models.split(","):
        t0 = time.perf_counter()
        row = measure(MODELS[key.strip()], context=args.context, placer=args.placer)
        row["wall_seconds"] = time.perf_counter() - t0
        row["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        rows.append(row)
        if not args.json:
            print(f"{row['model']:14} {row['tokens_per_second']:8.1f} tok/s/user, hardware launch "
                  f"({row['tokens_per_second_software_launch']:.1f} software; roofline {row['roofline_tokens_per_second']:.0f}, "
                  f"paper {row['paper_tokens_per_second']:.0f}; speculative gain needed x{row['speculative_gain_needed']:.2f}), "
                  f"collectives {row['collective_share']:.0%}, compiled in {row['compile_seconds']:.1f} s", file=sys.stderr)
    out = {"benchmark": "llama3.1 decode, tensor parallel", "node": NODE, "tp": TP, "assumptions": ASSUMPTIONS, "rows": rows}
    print(json.dumps(out, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
