"""Do the compiler's decisions show in cycles? `python -m bench.sensitivity --json`.

Compiles the one-layer Llama-2-7B decode and 4K prefill (shapes-only, sn40l, -O1) with the
compiler's own choices, then perturbs one decision at a time and times each bitstream with the
event engine with the FIFO depths the compiler configured (`fifos="configured"`: rdu-size-fifos
proves every kernel finishes, so a deadlock here is a bug):

* `random placement`: `--placer random` (seeded random legal sites, re-routed);
* `half PCUs on the critical stage`: the PCU stage with the most busy cycles in the slowest
  kernel keeps half its sites (edited in the bitstream; routes unchanged);
* `tiles xS`: every tile size the compiler chooses multiplied by S (`tile-scale`, recompiled, so
  FIFO depths are re-sized for the new tile counts); 1/16 and 16x are the perturbations, the other
  scales (1/4, 1/2, 2, 4) locate the best tile size tried; a scale the compiler refuses (SRAM) is
  reported as `rejected` and is not a candidate;
* `fifo depth N`: every FIFO forced to N tiles (`--fifo-depth N`); a deadlock is reported as such;
* `largest weight in DDR`: the largest weight tensor moved to DDR (edited in the bitstream).

For each: cycles, the change against the compiler's choices, and whether it cost cycles; and
whether the compiler's tile choice is within 5% of the best tile scale tried (issue 9; the target
is `sensitivity.tile_choice_over_best` in `bench/targets.json`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from bench.targets import target
from bench.workloads import LLAMA2_7B, workload
from bitstream_format import Bitstream
from compiler.driver import CompileOptions, emit_bitstream, import_named, lower_to_hardware
from compiler.frontend.capture import capture
from compiler.frontend.model_file import LoadedModel
from dialects.diagnostics import RduccError
from functional_sim import SimulationError, simulate

CONTEXT = 4096
PHASES = ("decode", "prefill")
TILE_SCALES = (1 / 16, 1 / 4, 1 / 2, 1.0, 2.0, 4.0, 16.0)
FIFO_DEPTHS = (1, 2)
TILE_CHOICE = target("sensitivity.tile_choice_over_best")


@cache
def imported(phase: str):
    """The workload as rgraph IR, captured once: every variant runs the passes on a copy."""
    model, inputs = workload(LLAMA2_7B, phase, CONTEXT, 1)
    loaded = LoadedModel(Path(f"{LLAMA2_7B.name}-{phase}.py"), model, inputs)
    return import_named(loaded, capture(loaded))


def compile_phase(phase: str, **knobs) -> Bitstream:
    return emit_bitstream(lower_to_hardware(imported(phase), CompileOptions(chip="sn40l", opt_level=1, **knobs)))


def timed(bs: Bitstream):
    """Timing only, every FIFO held to the depth the compiler configured: a deadlock is an error."""
    return simulate(bs, None, execute=False, fifos="configured")


def bounds(sim) -> dict[str, Any]:
    """What bounds the slowest kernel: its critical path's largest resource and that resource's share."""
    k = max(sim.kernels, key=lambda k: k.cycles)
    return {"bound": k.bound, "bound_by": k.bound_by, "bound_share": k.bound_share}


def half_pcus_on_critical_stage(bs: Bitstream, sim) -> tuple[Bitstream, str]:
    """The critical PCU stage keeps half its sites: the PCU stage with the most cycles on a
    kernel's critical path (`KernelRecord.critical_path`), else the one busy for the largest share
    of its kernel's body (then the most busy cycles). Why the path first: in an HBM-bound decode
    layer the busiest PCU stage is busy 4% of the kernel and off the path, so halving it moved
    the run by contention order alone (-50 cycles); a PCU stage on the path waits for its own
    steps, which halving lengthens."""
    def share(k, t) -> tuple[float, int]:
        return t.cycles / max(1, k.cycles - k.launch_cycles), t.cycles

    pcu = [(share(k, t), t) for k in sim.kernels for t in k.stages
           if bs.stage(t.id).unit == "pcu" and len(bs.stage(t.id).sites) > 1]
    if not pcu:
        raise ValueError("no PCU stage has more than one unit")
    by_id = {t.id: (s, t) for s, t in pcu}
    on_path = [(cycles, int(name.rsplit("(id ", 1)[1].rstrip(")"))) for k in sim.kernels
               for kind, name, cycles in k.critical_path if kind == "compute" and "(id " in name]
    on_path = [(cycles, sid) for cycles, sid in on_path if sid in by_id]
    if on_path:
        (busy_share, _), critical = by_id[max(on_path)[1]]
    else:
        (busy_share, _), critical = max(pcu, key=lambda c: c[0])
    st = bs.stage(critical.id)
    halved = replace(st, sites=st.sites[: len(st.sites) // 2])
    stages = [halved if s.id == st.id else s for s in bs.stages]
    where = "on the critical path, " if on_path else ""
    return replace(bs, stages=stages), (f"{st.label}: {len(st.sites)} -> {len(halved.sites)} PCUs, "
                                        f"{where}busy {busy_share:.0%} of its kernel")


def largest_weight_in_ddr(bs: Bitstream) -> tuple[Bitstream, str]:
    weights = [t for t in bs.tensors if t.role == "weight" and t.tier == "hbm"]
    big = max(weights, key=lambda t: t.nbytes)
    end = max((t.offset + t.nbytes for t in bs.tensors if t.tier == "ddr"), default=0)
    moved = replace(big, tier="ddr", offset=-(-end // 64) * 64)
    # the tile programs of its loads address the tensor too (TILE section): move their patterns with it
    users = {s.id for s in bs.stages if s.tensor == big.id}
    tiles = [replace(t, patterns=tuple(replace(p, space="ddr", offset=p.offset - big.offset + moved.offset)
                                       if p.space == "hbm" else p for p in t.patterns)) if t.stage in users else t
             for t in bs.tiles]
    return (replace(bs, tensors=[moved if t.id == big.id else t for t in bs.tensors], tiles=tiles),
            f"{big.name} ({big.nbytes:,} bytes)")


def row(name: str, base: int | None, run) -> dict[str, Any]:
    """One perturbation: cycles (or the error that stopped it) and its cost against the base."""
    t0 = time.perf_counter()
    out: dict[str, Any] = {"perturbation": name}
    try:
        result = run()
        sim, detail = result if isinstance(result, tuple) else (result, "")
        out["cycles"] = sim.cycles
        if detail:
            out["detail"] = detail
        if base:
            out["change"] = round(sim.cycles / base - 1, 4)
            out["costs_cycles"] = sim.cycles > base
    except SimulationError as exc:
        out["deadlock" if "deadlock" in str(exc) else "error"] = str(exc)[:300]
        out["costs_cycles"] = True
    except RduccError as exc:
        out["rejected"] = str(exc)[:300]
    out["seconds"] = round(time.perf_counter() - t0, 1)
    shown = out.get("cycles") or next((f"{k}: {out[k][:80]}" for k in ("deadlock", "error", "rejected") if k in out), "")
    print(f"[bench.sensitivity]   {name}: {shown}", file=sys.stderr, flush=True)
    return out


def measure(phase: str) -> dict[str, Any]:
    print(f"[bench.sensitivity] llama2-7b {phase}, 1 layer", file=sys.stderr, flush=True)
    bs = compile_phase(phase)
    sim = timed(bs)
    base = sim.cycles
    rows = [row("compiler's choices", None, lambda: sim)]
    rows[0].update(bounds(sim))
    placed = {}
    rows.append(row("random placement", base, lambda: placed.setdefault("sim", timed(compile_phase(phase, placer="random")))))
    if "sim" in placed:
        rows[-1].update(bounds(placed["sim"]))

    def halved():
        edited, detail = half_pcus_on_critical_stage(bs, sim)
        return timed(edited), detail

    rows.append(row("half PCUs on the critical stage", base, halved))
    tiles = {}
    for scale in TILE_SCALES:
        if scale == 1.0:
            tiles[scale] = base
            continue
        name = f"tiles x{scale:g}" if scale >= 1 else f"tiles x1/{round(1 / scale)}"
        r = row(name, base, lambda s=scale: timed(compile_phase(phase, tile_scale=s)))
        if scale in (1 / 16, 16.0):
            rows.append(r)
        else:
            r["perturbation"] += " (tile search)"
            rows.append(r)
        if "cycles" in r:
            tiles[scale] = r["cycles"]
    for depth in FIFO_DEPTHS:
        rows.append(row(f"fifo depth {depth}", base, lambda d=depth: timed(compile_phase(phase, fifo_depth=d))))

    def ddr():
        edited, detail = largest_weight_in_ddr(bs)
        return timed(edited), detail

    rows.append(row("largest weight in DDR", base, ddr))
    best_scale = min(tiles, key=tiles.get)
    return {
        "workload": f"llama2-7b {phase}, 1 layer", "chip": "sn40l", "context": CONTEXT, "cycles": base,
        "rows": rows,
        "tile_choice": {
            "cycles_by_scale": {f"{s:g}": c for s, c in tiles.items()},
            "best_scale": best_scale,
            "chosen_over_best": round(base / tiles[best_scale] - 1, 4),
            "within_target": TILE_CHOICE.within(base / tiles[best_scale]),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON line (default: indented JSON)")
    parser.add_argument("--phase", choices=[*PHASES, "both"], default="both")
    args = parser.parse_args()
    phases = PHASES if args.phase == "both" else (args.phase,)
    report = [measure(p) for p in phases]
    print(json.dumps(report, indent=None if args.json else 1))


if __name__ == "__main__":
    main()
