"""Llama 3.1 decode on 16 SN40L sockets, tensor-parallel: `python -m bench.node --json`.

The paper (Table IV) serves Llama 3.1 8B / 70B / 405B at 8K context on 16 sockets at 1042 / 457 /
129 tokens/s per user, the last two with speculative decoding. This compiles a whole decode step
(`bench.workloads.DecodeStep`: token id in, greedy token out; one new token against an 8K KV cache
per layer, shapes only, BF16 weights) with `rdu-shard{tp=16}` for `sn40l-rack16` into ONE bitstream
(format 3.4): the embedding lookup (prologue kernel), layer 0's kernel looped over the model's L
layers (the LOOP section, each layer's weights and KV cache at its own HBM base), the final norm,
the vocab-parallel LM head, the all-gather of its logits and the argmax (epilogue kernel). Every
figure is read from that file's run (`functional_sim.loop_run.simulate_loop`, as `rducc sim` runs
it): prologue, loop, epilogue, collectives by part, and the node host's work per token
(`[host_token]` in the node file: read the token back, feed it, launch the next step).

Two launch modes, both from the simulator:
- software (host-orchestrated): every kernel and every layer is its own host launch and run, so
  launch, pipeline fill and drain are paid L times per token;
- hardware (AGCU-orchestrated, the paper's whole-decoder kernels, §VI/§VIII): the L iterations run
  as one repeated kernel in the event engine, so the next layer's weights stream into their
  buffers while the previous layer drains, as far as the compiled buffers allow; each unit pays a
  hardware launch (its next layer's arguments) between iterations.

Two residual streams (`--residual`): bf16 (everything BF16) and fp32 (the paper's "mixed BF16/FP32
activations": FP32 hidden state, residual adds and row-parallel outputs, so FP32 all-reduces).

Reported next to it: a per-layer breakdown (launch, fill, steady state, collectives, HBM bytes vs
the HBM roofline), the roofline of one step (each socket streams its part of the weights and of
the KV cache from HBM once), the paper's figure, and the speculative-decoding gain plain decode
would need to reach it (no draft model is modelled; the gain is what it would have to give).
`within_target` judges each row against `node.*` in `bench/targets.json` (issue 12: 8B within
+-25% of the paper, no token faster than its roofline, the 405B compile within 120 s and 8 GiB).

Assumptions: in `ASSUMPTIONS` (and the JSON); peer network and host figures from
`chip_model/nodes/sn40l-rack16.toml`.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

import bitstream_format
from bench.targets import target
from bench.workloads import DecoderShape, RMSNorm, decode_step_workload, workload
from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from functional_sim.node import simulate_node

NODE = "sn40l-rack16"
TP = 16
CONTEXT = 8192
LLAMA31_8B = DecoderShape("llama3.1-8b", 4096, 14336, 32, 32, 8, 128256)
LLAMA31_70B = DecoderShape("llama3.1-70b", 8192, 28672, 80, 64, 8, 128256)
LLAMA31_405B = DecoderShape("llama3.1-405b", 16384, 53248, 126, 128, 8, 128256)
PAPER_TOKENS_PER_SECOND = {  # Table IV, with the target issue 12 sets (8B only)
    "llama3.1-8b": target("node.llama3.1-8b.tokens_per_second"),
    "llama3.1-70b": target("node.llama3.1-70b.tokens_per_second"),
    "llama3.1-405b": target("node.llama3.1-405b.tokens_per_second")}
ROOFLINE = target("node.token_over_roofline")
COMPILE_405B_SECONDS = target("node.405b_compile_seconds")
PEAK_RSS_405B_GIB = target("node.405b_peak_rss_gib")
PAPER_SPECULATIVE = {"llama3.1-8b": False, "llama3.1-70b": True, "llama3.1-405b": True}
MODELS = {"8b": LLAMA31_8B, "70b": LLAMA31_70B, "405b": LLAMA31_405B}
RESIDUALS = {"bf16": None, "fp32": torch.float32}  # the hidden state between layers (weights BF16 either way)
PLACER = "cycles"  # the CP-SAT placement re-placed for simulated cycles (backend_rdu/cycle_placement.py)
ASSUMPTIONS = [
    "batch 1, one new token against an 8192-token KV cache per layer (the cache is an input held in HBM)",
    "the whole step is one bitstream (format 3.4): the embedding lookup (prologue kernel), layer 0's kernel looped over "
    "the layers (LOOP section: each layer's weights and KV cache at its own HBM base address), final norm, LM head "
    "and argmax (epilogue kernel); timed from that file by simulate_loop, as `rducc sim` times it",
    "KV cache and K/V projections split by KV head; 8 KV heads over 16 sockets: each held by two sockets",
    "LM head (vocab x hidden BF16, untied) split vocab-parallel; its logits all-gathered (the compiler's collective) "
    "and the argmax computed on every socket, so every socket holds the token",
    "embedding table replicated on every socket (rdu-shard replicates embeddings); the lookup is an indexed row load "
    "(rdu.load_rows): the AGCU reads only the token's row of the table, at the token id the step is given",
    "hardware launch = the AGCUs launch every kernel of the step, each call after a barrier of the 16 sockets "
    "([device_launch]: one step of the network latency, 1 us), and the loop's iterations (each unit paying the "
    "chip's hardware_launch_cycles between layers, no barrier: a looped kernel is one call). The step's first call "
    "pays its barrier too, though [host_token]'s readback has just synchronised the sockets: ~1 us of a step of "
    "hundreds, kept for one rule per call; software launch = the "
    "node host launches every kernel and every layer",
    "program of one section: loaded once, before the first step (setup, not per token)",
    "host per token ([host_token] of the node file, each an assumption with its reasoning): read the token id back, "
    "write it into every socket's input, launch the next step; serial with the step. tokens_per_second_device_loop "
    "is the step alone (a decode loop kept on the device)",
    "residual bf16: everything BF16; residual fp32: the paper's mixed BF16/FP32, FP32 hidden state, norms' inputs, "
    "residual adds and row-parallel outputs (FP32 all-reduces), BF16 weights and matmul inputs",
    "placement: --placer cycles (CP-SAT placement re-placed for simulated cycles), a compiler option",
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


def decode_step(s: DecoderShape, context: int = CONTEXT, residual: str = "bf16") -> LoadedModel:
    """A whole decode step of `s` with one layer, the loop body (`bench.workloads.DecodeStep`)."""
    model, inputs = decode_step_workload(s, context, RESIDUALS[residual])
    return LoadedModel(Path(f"{s.name}-decode-step.py"), model, inputs)


def compile_step(s: DecoderShape, node: str = NODE, tp: int = TP, context: int = CONTEXT, placer: str = PLACER,
                 residual: str = "bf16"):
    """The whole decode step as one bitstream: embedding (prologue), layer 0's kernels looped over
    the model's layers (each layer's weights and KV cache, inputs 4 and 5, its own), final norm, LM
    head and argmax (epilogue)."""
    return compile_loaded(decode_step(s, context, residual), CompileOptions(
        node=node, tp=tp, placer=placer, layers=s.layers, per_layer=(4, 5), loop_body="layers.0"))


def step_shares(step, clock_hz: float) -> dict[str, Any]:
    """Where a step's time goes, from the simulator's records: prologue (embedding), the layers,
    the epilogue (norm, LM head, all-gather, argmax), collectives by part, and the host per token."""
    token = step.cycles + step.host_token_cycles
    parts = {"prologue_cycles": step.prologue_cycles, "loop_cycles": step.loop.cycles,
             "epilogue_cycles": step.epilogue_cycles, "section_load_cycles": step.section_load_cycles,
             "host_token_cycles": step.host_token_cycles}
    return {**parts, "host_token": dict(step.host_token), "token_cycles": token,
            "collective_cycles": {p: step.part_collective_cycles(p) for p in ("prologue", "loop", "epilogue")},
            "shares": {k.removesuffix("_cycles"): v / token for k, v in parts.items()}
            | {"collectives": step.collective_cycles / token},
            "tokens_per_second": clock_hz / token, "tokens_per_second_device_loop": clock_hz / step.cycles}


def measure(s: DecoderShape, node: str = NODE, tp: int = TP, context: int = CONTEXT, placer: str = PLACER,
            residual: str = "bf16") -> dict[str, Any]:
    """Compile the whole step into one bitstream and time it from that file (`simulate_loop`, as
    `rducc sim` does), with hardware and with the host's software launch."""
    from chip_model.node import load_node
    from bitstream_format.loop_program import loop_hbm_bytes, loop_parts
    from functional_sim.loop_run import simulate_loop

    spec = load_node(node)
    t0 = time.perf_counter()
    compiled = compile_step(s, node, tp, context, placer, residual)
    compile_seconds = time.perf_counter() - t0
    bs, chip = compiled.bitstream, compiled.chip
    hw = simulate_loop(bs, None, chip=chip, execute=False, launch="hardware").step
    sw = simulate_loop(bs, None, chip=chip, execute=False, launch="software").step
    roof = roofline_seconds(s, tp, context, spec.chip.tier("hbm").bytes_per_second, spec.chip.peak_flops)
    paper = PAPER_TOKENS_PER_SECOND[s.name].paper
    hw_shares, sw_shares = step_shares(hw, chip.clock_hz), step_shares(sw, chip.clock_hz)
    tokens = hw_shares["tokens_per_second"]
    _, body, _ = loop_parts(bs)
    breakdown = layer_breakdown(replace(body, loop=None), chip)
    per_layer_in_loop = (hw.loop.cycles - hw.loop.launch_cycles) / s.layers
    hbm = hw.tier_bytes.get("hbm", 0)
    token_over_roofline = hw_shares["token_cycles"] / chip.clock_hz / roof
    return {
        "model": s.name, "residual": residual, "shape": asdict(s), "node": node, "sockets": tp, "context": context,
        "placer": placer, "kernels": {"prologue": len(bs.loop.prologue), "loop": len(bs.loop.kernels),
                                      "epilogue": len(bs.loop.epilogue)},
        "step_cycles": hw.cycles, "step_cycles_software_launch": sw.cycles,
        "token_cycles": hw_shares["token_cycles"], "token_cycles_software_launch": sw_shares["token_cycles"],
        "hardware_launch": hw_shares, "software_launch": sw_shares,
        "layer_cycles_alone": breakdown["cycles"], "layer_cycles_in_loop": per_layer_in_loop,
        "layer_breakdown": breakdown, "loop_saving_cycles": hw.loop.serial_cycles - hw.loop.cycles,
        "collective_cycles": hw.collective_cycles, "collective_share": hw.collective_cycles / hw_shares["token_cycles"],
        "tokens_per_second": tokens, "tokens_per_second_software_launch": sw_shares["tokens_per_second"],
        "tokens_per_second_device_loop": hw_shares["tokens_per_second_device_loop"],
        "hardware_launch_gain": sw_shares["token_cycles"] / hw_shares["token_cycles"],
        "roofline_tokens_per_second": 1.0 / roof,
        "token_over_roofline": token_over_roofline,
        "layer_in_loop_over_hbm_roofline": per_layer_in_loop / max(1, breakdown["hbm_roofline_cycles"]),
        "hbm_bytes_moved": hbm, "hbm_bandwidth_share": hbm / spec.chip.tier_bytes_per_cycle("hbm") / hw.cycles,
        "paper_tokens_per_second": paper, "paper_used_speculative_decoding": PAPER_SPECULATIVE[s.name],
        "vs_paper": tokens / paper, "speculative_gain_needed": max(1.0, paper / tokens),
        "within_target": {"tokens_per_second": PAPER_TOKENS_PER_SECOND[s.name].within(tokens),
                          "token_over_roofline": ROOFLINE.within(token_over_roofline)},
        "compile_seconds": compile_seconds, "program_load_cycles_once": hw.setup_cycles,
        "socket_hbm_bytes_resident": loop_hbm_bytes(bs), "bitstream_bytes": len(bitstream_format.encode(bs)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="8b,70b,405b", help="comma-separated: 8b, 70b, 405b")
    parser.add_argument("--context", type=int, default=CONTEXT)
    parser.add_argument("--placer", default=PLACER, help="placer of the step's kernels (default: cycles)")
    parser.add_argument("--residual", default="bf16,fp32",
                        help="comma-separated dtypes of the residual stream: bf16 (all BF16), fp32 (the paper's mixed "
                             "BF16/FP32: FP32 hidden state and all-reduces, BF16 weights)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    rows = []
    for key, residual in [(k, r) for k in args.models.split(",") for r in args.residual.split(",")]:
        t0 = time.perf_counter()
        row = measure(MODELS[key.strip()], context=args.context, placer=args.placer, residual=residual.strip())
        row["wall_seconds"] = time.perf_counter() - t0
        row["peak_rss_bytes"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        if row["model"] == LLAMA31_405B.name:  # issue 12: the 405B compile's own time and memory
            row["within_target"] |= {"compile_seconds": COMPILE_405B_SECONDS.within(row["compile_seconds"]),
                                     "peak_rss_gib": PEAK_RSS_405B_GIB.within(row["peak_rss_bytes"] / 2**30)}
        rows.append(row)
        if not args.json:
            print(f"{row['model']:14} {row['residual']} {row['tokens_per_second']:8.1f} tok/s/user, hardware launch "
                  f"({row['tokens_per_second_software_launch']:.1f} software; roofline {row['roofline_tokens_per_second']:.0f}, "
                  f"paper {row['paper_tokens_per_second']:.0f}; speculative gain needed x{row['speculative_gain_needed']:.2f}), "
                  f"collectives {row['collective_share']:.0%}, compiled in {row['compile_seconds']:.1f} s", file=sys.stderr)
    out = {"benchmark": "llama3.1 decode, tensor parallel", "node": NODE, "tp": TP, "assumptions": ASSUMPTIONS, "rows": rows}
    print(json.dumps(out, indent=None if args.json else 2))


if __name__ == "__main__":
    main()
