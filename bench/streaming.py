"""Fused vs unfused on the paper's workloads: `python -m bench.streaming --json`.

Every workload is compiled shapes-only for the `sn40l` chip at -O0 (the paper's unfused baseline:
one framework operator per kernel, `CompileOptions.o0_granularity`) and -O1 and its bitstream is
timed by the functional simulator (without executing). For each: modeled time, kernel calls (and
their -O0 / -O1 ratio, the paper's "11x fewer kernel calls"), achieved HBM bandwidth as a fraction
of peak, the ratio of modeled time to the roofline bound, the bound of the kernels, and the
fused/unfused speedup.

With `--node NODE --tp N` (the paper's setting: `--node sn40l-node8 --tp 8`) each one-layer
workload is instead compiled whole, tensor-parallel (`rdu-shard`), and timed on the node by
`functional_sim.node.simulate_node`, so the all-reduces on the peer links are part of the cycles
(the single-socket "one socket of TP8" rows shrink the shapes by hand and leave them out). A
decode layer is compiled as the whole model's layer loop (`--layers`: the LOOP section, hidden
state carried, each layer's KV cache its own): its one-layer columns time the file's first
iteration, and its whole-model columns (`model_layers`) the file's loop
(`functional_sim.decode_step.decode_step_timing`), as `bench.node` does. A workload that fails to
compile records its one-line error in its row; the others still run.

Every row's `within_target` judges it against `streaming.*` in `bench/targets.json`: fused decode
at >= 85% of HBM bandwidth and <= 1.2x the roofline (issue 4), fusion speedups in or above the
paper's Table III bands, hardware launch 1.4-8x on decode and <= 1.1x on prefill (issue 12).
A node row's fused level also carries `software_launch_window`: the software-launch cost per kernel
call (microseconds, on this node) that would put its hardware-launch gain inside that band, beside
the one the node file assumes; the rows' windows together say which launch costs agree with Table III.
With a prefill row in the run, each fused decode row also carries `launch_band_agreement`: whether any
software and hardware launch costs (the same for both rows) put both rows in their bands at once.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.targets import Target, target
from bench.workloads import LLAMA2_7B, LLAMA2_70B, MISTRAL_7B, DecoderShape, tensor_parallel_shard, workload
from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from rducc_errors import UserError
from functional_sim import simulate
from functional_sim.node import simulate_node

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


def run_row(compiled, opt_level: int, launch: str, cycles: int) -> dict[str, Any]:
    """The columns every row starts with, one socket's or a node's."""
    return {
        "opt_level": opt_level,
        "launch": launch,
        "kernels": len(compiled.bitstream.kernels),
        "cycles": cycles,
        "modeled_ms": cycles / compiled.chip.clock_hz * 1e3,
    }


def hbm_fraction(chip, hbm_bytes: int, seconds: float) -> float:
    """Bytes moved over the modelled time, as a share of the HBM tier's bandwidth."""
    return hbm_bytes / seconds / chip.tier("hbm").bytes_per_second if seconds else 0.0


def measure(compiled, compile_seconds: float, opt_level: int, launch: str) -> dict[str, Any]:
    chip = compiled.chip
    sim = simulate(compiled.bitstream, None, chip=chip, execute=False, launch=launch)
    roofline = compiled.work.roofline_cycles(chip)
    hbm_bytes = sim.tier_bytes.get("hbm", 0)
    seconds = sim.cycles / chip.clock_hz
    return {
        **run_row(compiled, opt_level, launch, sim.cycles),
        "roofline_cycles": round(roofline),
        "over_roofline": sim.cycles / roofline,
        "hbm_bytes": hbm_bytes,
        "hbm_bandwidth_fraction": hbm_fraction(chip, hbm_bytes, seconds),
        "flops": compiled.work.flops,
        "compute_fraction": compiled.work.flops / seconds / chip.peak_flops if seconds else 0.0,
        "bounds": dict(Counter(k.bound for k in sim.kernels)),
        "launch_cycles": sum(k.launch_cycles for k in sim.kernels),
        "fill_cycles": sum(k.fill_cycles for k in sim.kernels),
        "compile_seconds": round(compile_seconds, 2),
    }


def run(selected: list[tuple[str, DecoderShape, str, int | None]], launches: list[str],
        levels: tuple[int, ...] = (0, 1)) -> list[dict[str, Any]]:
    """One row per workload and launch; `speedup` when both levels ran. `levels=(1,)` skips the
    unfused compile, which for a whole model takes the layers' -O0 compile times over (a one-layer
    Llama2-7B prefill at -O0 compiles in 3-4 minutes on 2 shared cores)."""
    rows = []
    for name, shape, phase, layers in selected:
        print(f"[bench.streaming] {name}", file=sys.stderr, flush=True)
        compiled = {level: compile_workload(shape, phase, layers, level) for level in levels}
        for launch in launches:
            row: dict[str, Any] = {"workload": name, "phase": phase, "launch": launch,
                                   "layers": layers or shape.layers, "context": CONTEXT}
            row.update({f"O{level}": measure(*compiled[level], level, launch) for level in levels})
            if "O0" in row and "O1" in row:
                row["speedup"] = row["O0"]["cycles"] / row["O1"]["cycles"]
                row["kernel_call_ratio"] = row["O0"]["kernels"] / row["O1"]["kernels"]  # paper: 11x (Llama-7B prefill)
            row["within_target"] = socket_within_target(row)
            rows.append(row)
            print(f"[bench.streaming] row {json.dumps(row)}", file=sys.stderr, flush=True)  # kept if a later row is cut short
    return rows


# The node mode's workloads: one layer each (a 32- or 80-layer decode model at TP8 is that layer's
# LOOP section of 32 or 80 iterations: the rows' `model_layers`).
NODE_WORKLOADS = [w for w in WORKLOADS if w[3] == 1 and "TP8" not in w[0]]  # the shard is what --tp makes

# The targets (bench/targets.json): issue 4's for fused decode; Table III of the paper (8 sockets).
DECODE_HBM_FRACTION = target("streaming.fused_decode_hbm_bandwidth_fraction")
DECODE_OVER_ROOFLINE = target("streaming.fused_decode_over_roofline")
FUSION_SPEEDUP = {"prefill": target("streaming.fusion_speedup_prefill"),
                  "decode": target("streaming.fusion_speedup_decode")}
HARDWARE_LAUNCH_GAIN = {"prefill": target("streaming.hardware_launch_gain_prefill"),
                        "decode": target("streaming.hardware_launch_gain_decode")}
KERNEL_CALL_RATIO = target("streaming.kernel_call_ratio_prefill")

# What each node row is read against, in words.
PAPER_BANDS = {"prefill": f"fusion {FUSION_SPEEDUP['prefill'].describe()}; hardware launch "
                          f"{HARDWARE_LAUNCH_GAIN['prefill'].describe()}; Llama-7B {KERNEL_CALL_RATIO.paper:g}x fewer kernel calls",
               "decode": f"fusion {FUSION_SPEEDUP['decode'].describe()} (Mistral highest); hardware launch "
                         f"{HARDWARE_LAUNCH_GAIN['decode'].describe()}"}


def socket_within_target(row: dict[str, Any]) -> dict[str, bool | None]:
    """A one-socket row against its targets: fused decode's HBM share and roofline ratio, the fusion speedup."""
    out: dict[str, bool | None] = {}
    if row["phase"] == "decode" and "O1" in row:
        out["hbm_bandwidth_fraction"] = DECODE_HBM_FRACTION.within(row["O1"]["hbm_bandwidth_fraction"])
        out["over_roofline"] = DECODE_OVER_ROOFLINE.within(row["O1"]["over_roofline"])
    if "speedup" in row:
        out["speedup"] = FUSION_SPEEDUP[row["phase"]].within(row["speedup"])
    return out


def _band_edges(band: Target) -> tuple[float | None, float | None]:
    """(low, high) of a target: its band, or its one-sided bound (None on the open side)."""
    return band.band if band.band is not None else (band.at_least, band.at_most)


def software_launch_window(fused: dict[str, Any], band: Target, clock_hz: float) -> dict[str, Any]:
    """Which software-launch cost per kernel call would put this fused row's hardware-launch gain
    inside the paper's band, next to the cost the node file assumes (all in microseconds).

    Why: the software launch on a node is an assumption (no figure is published), and Table III's
    launch bands are the only published evidence about it. The simulated cycles are additive in it
    (each of the row's C calls pays it once, serially), so software cycles at a cost L per call are
    S + C (L - L_now) and the gain (S + C (L - L_now)) / H is linear in L: each band edge gives one
    cost. Intersecting the rows' windows says whether any single launch cost agrees with all of
    Table III at our cycles; an empty intersection is a finding about the model, not a figure to fit.
    """
    software, hardware = fused["software"], fused["hardware"]
    calls, s, h = software["kernels"], software["cycles"], hardware["cycles"]
    now = software["launch_cycles"] / calls

    def cost_for(gain: float | None) -> float | None:
        """The cost per call (us) at which the gain is `gain`; None for an open band edge or a gain
        that no cost reaches (it would need a negative launch cost)."""
        if gain is None:
            return None
        cycles = now + (gain * h - s) / calls
        return round(cycles / clock_hz * 1e6, 2) if cycles >= 0 else None

    low, high = _band_edges(band)
    return {"calls": calls, "assumed_us": round(now / clock_hz * 1e6, 2), "low_us": cost_for(low),
            "high_us": cost_for(high)}


def launch_band_agreement(decode: dict[str, Any], prefill: dict[str, Any], clock_hz: float) -> dict[str, Any]:
    """Whether any per-call launch costs, the same for both rows, put the fused decode row's
    hardware-launch gain in its band (>= g_d) and the fused prefill row's in its (<= g_p): whatever
    the software cost S and the hardware cost H (>= what the node charges now, its floor).

    Why: `software_launch_window` moves S alone; this answers for every (S, H). With B a row's
    body (hardware cycles less its launches) and c its calls, the bands ask
    (g_d - 1)(B_d/c_d + H) <= S - H <= (g_p - 1)(B_p/c_p + H), which some S meets if and only if
    B_d/c_d <= ((g_p - 1) B_p/c_p - (g_d - g_p) H) / (g_d - 1): a decode call's body may be at most
    `max_body_us` (a quarter of a prefill call's, less 0.75 H, for Table III's 1.4 and 1.1). A
    larger H (the device's own synchronization per call) only lowers it."""
    g_d, g_p = _band_edges(HARDWARE_LAUNCH_GAIN["decode"])[0], _band_edges(HARDWARE_LAUNCH_GAIN["prefill"])[1]
    d, p = decode["hardware"], prefill["hardware"]
    h = d["launch_cycles"] / d["kernels"]
    body_d = (d["cycles"] - d["launch_cycles"]) / d["kernels"]
    body_p = (p["cycles"] - p["launch_cycles"]) / p["kernels"]
    max_body = ((g_p - 1) * body_p - (g_d - g_p) * h) / (g_d - 1)
    us = lambda cycles: round(cycles / clock_hz * 1e6, 2)  # noqa: E731
    return {"decode_body_us_per_call": us(body_d), "prefill_body_us_per_call": us(body_p), "hardware_launch_us": us(h),
            "max_body_us": us(max_body), "agrees": body_d <= max_body}


def node_within_target(row: dict[str, Any]) -> dict[str, Any]:
    """A node row against Table III: the fusion speedup per launch; the fused program's hardware-launch
    gain per layer and, for a decode loop, over the model's layers; fused decode's HBM share."""
    phase, out = row["phase"], {}
    if "speedup" in row:
        out["speedup"] = {launch: FUSION_SPEEDUP[phase].within(v) for launch, v in row["speedup"].items()}
    fused = row["O1"]
    if "error" not in fused:
        out["hardware_launch_gain"] = HARDWARE_LAUNCH_GAIN[phase].within(fused["hardware_launch_gain"])
        if "model_layers" in fused:
            out["model_hardware_launch_gain"] = HARDWARE_LAUNCH_GAIN[phase].within(fused["model_layers"]["hardware_launch_gain"])
        if phase == "decode":
            out["hbm_bandwidth_fraction"] = DECODE_HBM_FRACTION.within(fused["hardware"]["hbm_bandwidth_fraction"])
    return out


# A decode layer's inputs: hidden state, rotary cos and sin, mask, then its K and V caches
# (bench.workloads.workload): the state is carried to the next layer, the caches are each layer's own.
DECODE_LOOP_PER_LAYER = (4, 5)


def compile_node_workload(shape: DecoderShape, phase: str, layers: int | None, opt_level: int,
                          node: str, tp: int, context: int = CONTEXT):
    """A one-layer workload compiled tensor-parallel; a decode layer as a loop over the model's
    `shape.layers` layers (the LOOP section in the bitstream)."""
    model, inputs = workload(shape, phase, context, layers)
    loop = {"layers": shape.layers, "per_layer": DECODE_LOOP_PER_LAYER} if phase == "decode" and layers == 1 else {}
    t0 = time.perf_counter()
    compiled = compile_loaded(LoadedModel(Path(f"{shape.name}.py"), model, inputs),
                              CompileOptions(node=node, tp=tp, opt_level=opt_level, **loop))
    return compiled, time.perf_counter() - t0


def measure_node(compiled, compile_seconds: float, opt_level: int, launch: str) -> dict[str, Any]:
    """One compiled node program timed on every socket and the network (socket 0 stands for all:
    same program, symmetric network); a loop program's first iteration, one layer alone. HBM
    fraction is one socket's bytes over its own HBM. `collective_busy_ratio` is the collective
    stages' busy cycles (simulate_node's `collective_cycles`, summed over stages) over the step's
    cycles: not a share of the time, since fused collectives run alongside compute and each other
    (a fused prefill layer exceeds 1)."""
    from functional_sim.loop_run import iteration_program

    chip = compiled.chip
    one_layer = compiled.bitstream if compiled.bitstream.loop is None else iteration_program(compiled.bitstream, 0)
    sim = simulate_node(one_layer, None, chip=chip, execute=False, launch=launch)
    seconds = sim.cycles / chip.clock_hz
    hbm_bytes = sim.socket.tier_bytes.get("hbm", 0)
    return {
        **run_row(compiled, opt_level, launch, sim.cycles),
        "collective_cycles": sim.collective_cycles,
        "collective_stages": sim.collective_stages,
        "collective_busy_ratio": sim.collective_cycles / sim.cycles if sim.cycles else 0.0,
        "socket_hbm_bytes_moved": hbm_bytes,
        "hbm_bandwidth_fraction": hbm_fraction(chip, hbm_bytes, seconds),
        "bounds": dict(Counter(k.bound for k in sim.socket.kernels)),
        "launch_cycles": sum(k.launch_cycles for k in sim.socket.kernels),
        "compile_seconds": round(compile_seconds, 2),
    }


def model_layers(compiled) -> dict[str, Any]:
    """All layers of a decode step (no head), as the bitstream's LOOP section says: each layer its
    own software launch, or one hardware-launched layer loop (functional_sim.layer_loop:
    iterations overlapped in one kernel)."""
    from functional_sim.decode_step import decode_step_timing

    sw, hw = (decode_step_timing(compiled.bitstream, None, chip=compiled.chip, launch=launch)
              for launch in ("software", "hardware"))
    return {"layers": hw.layers, "software": sw.cycles, "hardware": hw.cycles, "hardware_launch_gain": sw.cycles / hw.cycles,
            "overlapped": hw.loop.overlapped}


def run_node(selected: list[tuple[str, DecoderShape, str, int | None]], node: str, tp: int,
             context: int = CONTEXT) -> list[dict[str, Any]]:
    """One row per workload: -O0 and -O1, each with software and hardware launch; the fusion
    speedup per launch and the hardware launch's gain per level. A compile error (e.g. a shard
    whose FIFOs do not fit SRAM) is recorded as `error` and the row keeps going without it."""
    rows = []
    for name, shape, phase, layers in selected:
        print(f"[bench.streaming] {name} on {node} TP{tp}", file=sys.stderr, flush=True)
        row: dict[str, Any] = {"workload": name, "phase": phase, "node": node, "tp": tp,
                               "layers": layers or shape.layers, "context": context,
                               "paper_band": PAPER_BANDS[phase]}
        for level in (0, 1):
            try:
                compiled = compile_node_workload(shape, phase, layers, level, node, tp, context)
            except UserError as e:
                row[f"O{level}"] = {"error": str(e).splitlines()[0]}
                continue
            row[f"O{level}"] = {launch: measure_node(*compiled, level, launch) for launch in ("software", "hardware")}
            clock_hz = compiled[0].chip.clock_hz
            if compiled[0].bitstream.loop is not None:  # the whole model's layers: the file's loop
                row[f"O{level}"]["model_layers"] = model_layers(compiled[0])
        for level in ("O0", "O1"):
            if "error" not in row[level]:
                row[level]["hardware_launch_gain"] = row[level]["software"]["cycles"] / row[level]["hardware"]["cycles"]
        if "error" not in row["O0"] and "error" not in row["O1"]:
            row["speedup"] = {launch: row["O0"][launch]["cycles"] / row["O1"][launch]["cycles"]
                              for launch in ("software", "hardware")}
            row["kernel_call_ratio"] = row["O0"]["software"]["kernels"] / row["O1"]["software"]["kernels"]
            if phase == "decode":
                row["model_speedup"] = {launch: row["O0"]["model_layers"][launch] / row["O1"]["model_layers"][launch]
                                        for launch in ("software", "hardware")}
        if "error" not in row["O1"]:
            row["O1"]["software_launch_window"] = software_launch_window(
                row["O1"], HARDWARE_LAUNCH_GAIN[phase], clock_hz)
        row["within_target"] = node_within_target(row)
        rows.append(row)
    prefills = [r for r in rows if r["phase"] == "prefill" and "error" not in r["O1"]]
    for row in rows:  # Table III's two launch bands together: one prefill row against each decode row
        if row["phase"] == "decode" and "error" not in row["O1"] and prefills:
            row["O1"]["launch_band_agreement"] = launch_band_agreement(row["O1"], prefills[0]["O1"], clock_hz)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print JSON (the default prints JSON too, indented)")
    parser.add_argument("--quick", action="store_true", help="only the one-layer workloads")
    parser.add_argument("--whole", action="store_true", help="only the whole-model (32/80-layer) workloads")
    parser.add_argument("--workload", action="append", default=[],
                        help="only this workload (its name as in the table; repeatable)")
    parser.add_argument("--levels", choices=["0,1", "1", "0"], default="0,1",
                        help="optimisation levels to compile (default both; speedup needs both)")
    parser.add_argument("--launch", choices=["software", "hardware", "both"], default="both")
    parser.add_argument("--node", help="compile each one-layer workload tensor-parallel for this node (e.g. sn40l-node8)")
    parser.add_argument("--tp", type=int, default=8, help="tensor-parallel degree with --node (default 8)")
    args = parser.parse_args()
    if args.node:
        print(json.dumps(run_node(NODE_WORKLOADS, args.node, args.tp), indent=None if args.json else 1))
        return
    selected = [w for w in WORKLOADS if (not args.quick or w[3] == 1) and (not args.whole or w[3] is None)
                and (not args.workload or w[0] in args.workload)]
    unknown = set(args.workload) - {w[0] for w in WORKLOADS}
    if unknown:
        parser.error(f"unknown workload(s) {sorted(unknown)}; known: {[w[0] for w in WORKLOADS]}")
    launches = ["software", "hardware"] if args.launch == "both" else [args.launch]
    rows = run(selected, launches, tuple(int(x) for x in args.levels.split(",")))
    print(json.dumps(rows, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
