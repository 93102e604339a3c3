"""`rducc run`: compile, simulate the bitstream, and compare with PyTorch eager."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.compare import OutputComparison, compare_outputs, eager_leaves, to_numpy
from compiler.driver import CompileOptions, CompileResult, compile_model
from compiler.progress import ProgressFn, no_progress
from dialects.diagnostics import RduccError


@dataclass
class RunReport:
    model: str
    chip: str
    opt_level: int
    launch: str
    compile: CompileResult
    comparisons: list[OutputComparison]
    cycles: int
    modeled_seconds: float
    simulate_seconds: float
    kernel_bounds: dict[str, int] = field(default_factory=dict)
    kernel_rows: list[dict[str, Any]] = field(default_factory=list)
    setup_cycles: int = 0
    trace: dict[str, Any] = field(default_factory=dict)

    @property
    def allclose(self) -> bool:
        return all(c.allclose for c in self.comparisons)

    @property
    def max_abs_error(self) -> float:
        return max((c.max_abs_error for c in self.comparisons), default=0.0)

    def to_json(self) -> dict[str, Any]:
        m = self.compile.bitstream.manifest
        roofline = self.compile.work.roofline_cycles(self.compile.chip)
        return {
            "model": self.model,
            "chip": self.chip,
            "opt_level": self.opt_level,
            "launch": self.launch,
            "allclose": self.allclose,
            "max_abs_error": self.max_abs_error,
            "cycles": self.cycles,
            "modeled_seconds": self.modeled_seconds,
            "roofline_cycles": roofline,
            "cycles_over_roofline": self.cycles / roofline if roofline else None,
            "flops": self.compile.work.flops,
            "kernels": m["kernels"],
            "kernel_bounds": self.kernel_bounds,
            "setup_cycles": self.setup_cycles,
            "kernel_report": self.kernel_rows,
            "pcus_used": m["pcus_used"],
            "pmus_used": m["pmus_used"],
            "agcus_used": m["agcus_used"],
            "bitstream_bytes": len(self.compile.data),
            "compile_seconds": self.compile.compile_seconds,
            "simulate_seconds": self.simulate_seconds,
            "outputs": [c.to_json() for c in self.comparisons],
        }

    def to_text(self) -> str:
        j = self.to_json()
        lines = [
            f"{self.model} on {self.chip} at -O{self.opt_level}: allclose: {str(self.allclose).lower()} "
            f"(max abs error {self.max_abs_error:.3g})",
            f"  {j['kernels']} kernel{'' if j['kernels'] == 1 else 's'}, {j['pcus_used']} PCUs, {j['pmus_used']} PMUs; "
            f"{self.cycles:,} cycles ({self.modeled_seconds * 1e6:.2f} us), roofline {j['roofline_cycles']:,.0f} cycles",
            f"  compile {j['compile_seconds']:.2f} s, simulate {j['simulate_seconds']:.2f} s",
        ]
        slowest = sorted(self.kernel_rows, key=lambda r: -r["cycles"])[:8]
        if slowest:
            lines.append("  slowest kernels (cycles, bound: why):")
        for r in slowest:
            lines.append(f"    {r['name']:28} {r['cycles']:>12,}  {r['bound']:8} {r['limiting']}")
        for c in self.comparisons:
            if not c.allclose:
                lines.append(f"  output {c.index} {c.dtype}{list(c.shape)}: {c.reason}, max abs error {c.max_abs_error:.3g}")
        return "\n".join(lines)


def kernel_row(k) -> dict[str, Any]:
    """Which stage sets a kernel's pace, and what that stage waits on."""
    slowest = max(k.stages, key=lambda st: st.cycles, default=None)
    if k.bound_share:  # event timing: the resource holding most of the run's critical path
        limiting = f"{k.bound_by}: {k.bound_share:.0%} of the critical path"
    elif k.bound in ("hbm", "ddr"):
        limiting = f"{k.bound.upper()} traffic: {k.tier_bytes.get(k.bound, 0):,} bytes in {k.tier_cycles.get(k.bound, 0):,} cycles"
    elif k.bound == "network" and k.stream_cycles:
        sid, cycles = max(k.stream_cycles.items(), key=lambda kv: kv[1])
        limiting = f"stream #{sid}: {cycles:,} cycles"
    elif k.bound == "launch":
        limiting = f"launch {k.launch_cycles:,} cycles > fill {k.fill_cycles:,} + steady {k.steady_cycles:,}"
    else:
        limiting = f"{slowest.label} on {slowest.sites} {slowest.unit.upper()}s" if slowest else ""
    return {
        "name": k.name,
        "cycles": k.cycles,
        "bound": k.bound,
        "launch_cycles": k.launch_cycles,
        "fill_cycles": k.fill_cycles,
        "steady_cycles": k.steady_cycles,
        "limiting": limiting,
        "bound_by": k.bound_by,
        "bound_share": k.bound_share,
    }


def run_and_compare(model: Path, chip: str, opt_level: int, seed: int = 0, launch: str = "software",
                    progress: ProgressFn = no_progress, timing: str = "event", *, fifos: str = "configured",
                    **knobs) -> RunReport:
    """`knobs` are CompileOptions fields (placer, tile_bytes, fifo_depth); `fifos` the simulator's FIFO policy."""
    result = compile_model(model, CompileOptions(chip=chip, opt_level=opt_level, seed=seed, **knobs), progress)
    progress("simulate")
    return run_compiled(result, launch, timing, fifos)


def run_compiled(result: CompileResult, launch: str = "software", timing: str = "event",
                 fifos: str = "configured") -> RunReport:
    from functional_sim import simulate

    if result.loaded.shapes_only:
        raise RduccError(
            f"{result.loaded.path.name} builds its model on the meta device (shapes only), so there are no values "
            "to simulate or compare; compile it and use `rducc sim OUT.rbit --timing-only` for cycles"
        )

    inputs = [to_numpy(t) for t in result.loaded.inputs]
    t0 = time.perf_counter()
    sim = simulate(result.bitstream, inputs, chip=result.chip, launch=launch, timing=timing, fifos=fifos)
    seconds = time.perf_counter() - t0
    comparisons = compare_outputs(sim.outputs, eager_leaves(result.eager_outputs))
    bounds: dict[str, int] = {}
    for k in sim.kernels:
        bounds[k.bound] = bounds.get(k.bound, 0) + 1
    return RunReport(
        model=result.loaded.name,
        chip=result.chip.name,
        opt_level=result.options.opt_level,
        launch=launch,
        compile=result,
        comparisons=comparisons,
        cycles=sim.cycles,
        modeled_seconds=sim.seconds,
        simulate_seconds=seconds,
        kernel_bounds=bounds,
        kernel_rows=[kernel_row(k) for k in sim.kernels],
        setup_cycles=sim.setup_cycles,
        trace=sim.chrome_trace(),
    )
