"""`rducc run`: compile, simulate the bitstream, and compare with PyTorch eager."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from compiler.compare import OutputComparison, compare_outputs, eager_leaves, to_numpy
from compiler.driver import CompileOptions, CompileResult, compile_model
from compiler.progress import ProgressFn, no_progress
from compiler.time_text import modeled_time


SHAPES_ONLY_REASON = ("the model is built on the meta device (shapes only): there are no values to compare, "
                      "so the bitstream was simulated for timing only")


@dataclass
class RunReport:
    """What `rducc run` found. The cycle breakdown adds up: program loads paid within a run,
    plus every kernel (its launch, pipeline fill and steady state), is the total."""

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
    make_trace: Callable[[], dict[str, Any]] = dict  # the Chrome trace, built only when asked for (`trace`):
    # it holds every kernel's events, GBs for a 32-layer prefill, and `--json` never prints it
    program_loads: list[dict[str, Any]] = field(default_factory=list)  # {"section", "start", "cycles"}
    not_compared: str = ""  # why no values were compared (shapes-only), or ""
    node: dict[str, Any] = field(default_factory=dict)  # tensor parallel: sockets, collective_cycles, per-socket HBM bytes

    @property
    def trace(self) -> dict[str, Any]:
        """The run's Chrome/Perfetto trace (`rducc run --trace`)."""
        return self.make_trace()

    @property
    def allclose(self) -> bool | None:
        """None when nothing could be compared (a shapes-only model)."""
        if self.not_compared:
            return None
        return all(c.allclose for c in self.comparisons)

    @property
    def max_abs_error(self) -> float | None:
        if self.not_compared:
            return None
        return max((c.max_abs_error for c in self.comparisons), default=0.0)

    def breakdown(self) -> dict[str, Any]:
        """Where the cycles of one run go, in parts that add up to `cycles`."""
        loads = sum(p["cycles"] for p in self.program_loads) - self.setup_cycles
        launches = sum(r["launch_cycles"] for r in self.kernel_rows)
        fills = sum(r["fill_cycles"] for r in self.kernel_rows)
        steady = sum(r["steady_cycles"] for r in self.kernel_rows)
        return {
            "program_load_cycles": loads,
            "launch_cycles": launches,
            "fill_cycles": fills,
            "steady_cycles": steady,
            "total_cycles": loads + launches + fills + steady,
            "setup_cycles": self.setup_cycles,
            "phase_bounds": {
                "program_load": (f"{len(self.program_loads)} section load(s) of {self.compile.chip.launch.program_load_cycles:,} "
                                 "cycles each (chip launch.program_load_cycles)"
                                 + ("; a one-section program is loaded once, before the first run (setup)"
                                    if self.setup_cycles else "")),
                "launch": f"{self.launch} launch: {self._launch_cost():,} cycles per kernel",
                "fill": "pipeline depth: the first tile's trip through each kernel's stages",
                "steady": "each kernel's bounding resource (its `bound` and `limiting` columns)",
            },
        }

    def _launch_cost(self) -> int:
        if self.kernel_rows:  # what the run charged (on a node, the host's launch on every socket)
            return self.kernel_rows[0]["launch_cycles"]
        launch = self.compile.chip.launch
        return launch.software_launch_cycles if self.launch == "software" else launch.hardware_launch_cycles

    def to_json(self) -> dict[str, Any]:
        m = self.compile.bitstream.manifest
        # on a node the model's work is shared by its sockets: the bound is one socket's share of it
        roofline = self.compile.work.roofline_cycles(self.compile.chip) / self.node.get("sockets", 1)
        roofline *= self.node["loop"]["layers"] if "loop" in self.node else 1  # the work is one layer's
        return {
            "model": self.model,
            "chip": self.chip,
            "opt_level": self.opt_level,
            "launch": self.launch,
            "allclose": self.allclose,
            **({"allclose_reason": self.not_compared} if self.not_compared else {}),
            **({"notes": self.compile.notes} if self.compile.notes else {}),
            "max_abs_error": self.max_abs_error,
            "cycles": self.cycles,
            "modeled_seconds": self.modeled_seconds,
            "roofline_cycles": roofline,
            "cycles_over_roofline": self.cycles / roofline if roofline else None,
            "flops": self.compile.work.flops,
            "kernels": m["kernels"],
            "kernel_bounds": self.kernel_bounds,
            "setup_cycles": self.setup_cycles,
            "cycle_breakdown": self.breakdown(),
            "program_loads": self.program_loads,
            "kernel_report": self.kernel_rows,
            "pcus_used": m["pcus_used"],
            "pmus_used": m["pmus_used"],
            "agcus_used": m["agcus_used"],
            "bitstream_bytes": len(self.compile.data),
            "compile_seconds": self.compile.compile_seconds,
            "simulate_seconds": self.simulate_seconds,
            "outputs": [c.to_json() for c in self.comparisons],
            **self.node,
        }

    def to_text(self) -> str:
        j = self.to_json()
        b = j["cycle_breakdown"]
        if self.not_compared:
            verdict = f"allclose: null ({self.not_compared})"
        else:
            verdict = f"allclose: {str(self.allclose).lower()} (max abs error {self.max_abs_error:.3g})"
        lines = [
            f"{self.model} on {self.chip} at -O{self.opt_level}: {verdict}",
            f"  {j['kernels']} kernel{'' if j['kernels'] == 1 else 's'}, {j['pcus_used']} PCUs, {j['pmus_used']} PMUs; "
            f"{self.cycles:,} cycles ({modeled_time(self.modeled_seconds)}), roofline {j['roofline_cycles']:,.0f} cycles",
            f"  compile {j['compile_seconds']:.2f} s, simulate {j['simulate_seconds']:.2f} s",
            *([f"  loop of {self.node['loop']['layers']} layers ({self.node['loop']['launch']} launch): "
               f"{self.node['loop']['cycles']:,} cycles, {self.node['loop']['serial_cycles']:,} as separate runs"]
              if "loop" in self.node else []),
            *([f"  node {self.node['node']}: {self.node['sockets']} sockets, {self.node['collective_stages']} collective "
               f"stages busy {self.node['collective_cycles']:,} cycles on the peer links, "
               f"HBM {self.node['socket_hbm_bytes'][0]:,} B per socket"] if "sockets" in self.node else []),
            f"  cycles: {b['program_load_cycles']:,} program loads + {b['launch_cycles']:,} launches + "
            f"{b['fill_cycles']:,} fill + {b['steady_cycles']:,} steady = {b['total_cycles']:,}"
            + (f" (+ {self.setup_cycles:,} setup, once)" if self.setup_cycles else ""),
        ]
        for phase, why in b["phase_bounds"].items():
            lines.append(f"    {phase:13} bound by {why}")
        width = max([len(r["name"]) for r in self.kernel_rows] + [len("program load " + p["name"]) for p in self.program_loads]
                    + [6])
        lines.append(f"  {'':2}{'kernel':{width}} {'cycles':>12} {'launch':>8} {'fill':>8} {'steady':>12}  bound: why")
        loads = {p["section"]: p for p in self.program_loads}
        section = None
        for r in self.kernel_rows:
            if r["section"] != section and r["section"] in loads:
                section = r["section"]
                p = loads[section]
                setup = " (setup, once)" if self.setup_cycles and len(loads) == 1 else ""
                lines.append(f"  {'':2}{'program load ' + p['name']:{width}} {p['cycles']:>12,}{setup}")
            lines.append(f"  {'':2}{r['name']:{width}} {r['cycles']:>12,} {r['launch_cycles']:>8,} {r['fill_cycles']:>8,} "
                         f"{r['steady_cycles']:>12,}  {r['bound']}: {r['limiting']}")
        for c in self.comparisons:
            if not c.allclose:
                lines.append(f"  output {c.index} {c.dtype}{list(c.shape)}: {c.reason}, max abs error {c.max_abs_error:.3g} "
                             f"(rtol {c.rtol:g}, atol {c.atol:g})")
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
        "section": k.section,
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
                    progress: ProgressFn = no_progress, timing: str = "event",
                    rtol: float | None = None, atol: float | None = None, *, fifos: str = "configured",
                    **knobs) -> RunReport:
    """`knobs` are CompileOptions fields (placer, tile_bytes, fifo_depth); `fifos` the simulator's
    FIFO policy; `rtol`/`atol` override the dtype's tolerances."""
    result = compile_model(model, CompileOptions(chip=chip, opt_level=opt_level, seed=seed, **knobs), progress)
    progress("simulate")
    return run_compiled(result, launch, timing, rtol, atol, fifos=fifos)


def _run_loop(result: CompileResult, inputs, launch: str, timing: str, fifos: str):
    """A loop's run and its eager reference: layer i (the model file's `layer_model(i)`, else
    `model`) on the example inputs, each per-layer input the same for every layer, the carried
    outputs fed forward. Returns (socket result, node/loop report, eager outputs)."""
    import torch

    from functional_sim.errors import SimulationError
    from functional_sim.loop_run import layer_loop_of, simulate_loop

    bs, loaded = result.bitstream, result.loaded
    if timing != "event":
        raise SimulationError("a loop is timed by the event engine only (--timing event)")
    if bs.loop.whole_step:
        return _run_step(result, inputs, launch, fifos)
    loop = layer_loop_of(bs)
    stacked = None if inputs is None else [np.stack([a] * loop.layers) if n in loop.per_layer else a
                                          for n, a in enumerate(inputs)]
    run = simulate_loop(bs, stacked, chip=result.chip, launch=launch, fifos=fifos, execute=inputs is not None)
    eager = None
    if inputs is not None:
        values = list(loaded.inputs)
        with torch.no_grad():
            for i in range(loop.layers):
                module = loaded.module if i == 0 or loaded.layer_model is None else loaded.layer_model(i)
                eager = module(*values)
                leaves = eager_leaves(eager)
                for o, n in loop.carry:
                    values[n] = torch.as_tensor(leaves[o]).to(values[n].dtype)
    return _loop_report(bs, run, {"loop": run.loop.to_json()}, eager)


def _loop_report(bs, run, report: dict[str, Any], eager):
    """(the run one socket gives, the loop's report, the eager reference): on a node the report
    adds the node's figures, whether every socket's outputs agree, and the trace."""
    if bs.node is not None:
        report |= run.to_json()
        report["socket_outputs_agree"] = all(all(np.array_equal(a, b) for a, b in zip(outs, run.outputs))
                                             for outs in run.socket_outputs)
        report["trace"] = run.chrome_trace  # built if asked for
        return run.socket, report, eager
    return run, report, eager


def _run_step(result: CompileResult, inputs, launch: str, fifos: str):
    """A whole step's run (a loop with a body, format 3.4) and its eager reference: the model with
    its body module run L times, layer i being `layer_model(i)`'s body (else the model's), each on
    the carried value and the body's other arguments (a per-layer input the same for every layer)."""
    import torch

    from functional_sim.loop_run import simulate_loop

    bs, loaded = result.bitstream, result.loaded
    trips, per_layer = bs.loop.trips, bs.loop.per_iteration_inputs(bs.inputs)
    stacked = None if inputs is None else [np.stack([a] * trips) if n in per_layer else a for n, a in enumerate(inputs)]
    run = simulate_loop(bs, stacked, chip=result.chip, launch=launch, fifos=fifos, execute=inputs is not None)
    eager = None
    if inputs is not None:
        path = result.options.loop_body
        layers = [loaded.module.get_submodule(path)] + [
            (loaded.layer_model(i) if loaded.layer_model is not None else loaded.module).get_submodule(path)
            for i in range(1, trips)]

        inside: list[bool] = []  # layers 1.. may be layer 0's module: the hook must not loop them again

        def looped(module, args, output):
            if inside:
                return None
            inside.append(True)
            try:
                for layer in layers[1:]:
                    output = layer(output, *args[1:])
            finally:
                inside.clear()
            return output

        handle = layers[0].register_forward_hook(looped)
        try:
            with torch.no_grad():
                eager = loaded.module(*loaded.inputs)
        finally:
            handle.remove()
    return _loop_report(bs, run, {"loop": run.loop.to_json(), "step": run.step.to_json()}, eager)


def run_compiled(result: CompileResult, launch: str = "software", timing: str = "event",
                 rtol: float | None = None, atol: float | None = None, *, fifos: str = "configured") -> RunReport:
    """Simulate a compiled model and compare with eager (`rtol`/`atol` override the dtype's
    tolerances). A shapes-only model is simulated for timing only and compares nothing."""
    from functional_sim import simulate

    shapes_only = result.loaded.shapes_only
    inputs = None if shapes_only else [to_numpy(t) for t in result.loaded.inputs]
    t0 = time.perf_counter()
    node: dict[str, Any] = {}
    eager = result.eager_outputs
    if result.bitstream.loop is not None:  # a layer loop: every layer from the one file (functional_sim.loop_run)
        sim, node, eager = _run_loop(result, inputs, launch, timing, fifos)
    elif result.bitstream.node is not None:  # every socket of the node, collectives exchanged (functional_sim.node)
        from functional_sim.node import simulate_node

        on_node = simulate_node(result.bitstream, inputs, chip=result.chip, launch=launch, timing=timing, fifos=fifos,
                                execute=not shapes_only)
        sim, node = on_node.socket, on_node.to_json()
        node["socket_outputs_agree"] = all(
            all(np.array_equal(a, b) for a, b in zip(outs, on_node.outputs)) for outs in on_node.socket_outputs)
        node["trace"] = on_node.chrome_trace  # built if asked for
    else:
        sim = simulate(result.bitstream, inputs, chip=result.chip, launch=launch, timing=timing, fifos=fifos,
                       execute=not shapes_only)
    seconds = time.perf_counter() - t0
    make_trace = node.pop("trace", None) or sim.chrome_trace
    node.pop("cycles", None)
    comparisons = [] if shapes_only else compare_outputs(sim.outputs, eager_leaves(eager), rtol, atol)
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
        make_trace=make_trace,
        node=node,
        program_loads=[{"section": s.id, "name": s.name, "start": s.start, "cycles": s.load_cycles} for s in sim.sections],
        not_compared=SHAPES_ONLY_REASON if shapes_only else "",
    )
