"""`rducc bisect`: find the first place where the compiled model stops computing what PyTorch does.

The same inputs run through PyTorch eager, the imported rgraph IR, the IR after every pass of the
pipeline, and the bitstream in the simulator (compiler/interpret.py runs the IR; every level
computes each opcode with the simulator's own per-opcode table). Each level's outputs are
compared with eager's under the dtype tolerances of `rducc run`. At the first level that
diverges, its ops are compared with the level before it (or with PyTorch's per-node values, for
the import) in program order; the first op with no close counterpart there is the one to blame,
and it is named with its module path and model line. Why this order finds the cause: program
order is topological, so the first diverging op's inputs still agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.export.graph_signature import InputKind
from xdsl.ir import SSAValue

from compiler.compare import OutputComparison, compare_outputs, eager_leaves, to_numpy, tolerances_for
from compiler.driver import CompileOptions, import_named
from compiler.frontend.capture import capture
from compiler.frontend.model_file import load_model_file, run_eager
from compiler.frontend.source_lines import statement
from compiler.interpret import Interpretation, NotInterpretable, OpValues, interpret
from compiler.progress import ProgressFn, no_progress
from dialects import make_context
from dialects import rdu
from dialects.diagnostics import RduccError
from dialects.types import dtype_of
from passes.registry import apply_pipeline, parse_pipeline, verifying_callback

TORCH_DTYPE_NAMES = {"f32": "float32", "f16": "float16", "bf16": "bfloat16", "f64": "float64"}


@dataclass
class Level:
    """One point of the pipeline: its outputs compared with PyTorch eager's."""

    name: str  # "import", a pass name, or "bitstream"
    kind: str  # "rgraph", "rdu" or "simulator"
    comparisons: list[OutputComparison] = field(default_factory=list)
    skipped: str = ""  # why this level could not be run, or ""

    @property
    def diverges(self) -> bool:
        return not self.skipped and not all(c.allclose for c in self.comparisons)

    def to_json(self) -> dict[str, Any]:
        return {"level": self.name, "ir": self.kind, "diverges": self.diverges,
                "max_abs_errors": [c.max_abs_error for c in self.comparisons],
                "outputs": [c.to_json() for c in self.comparisons], **({"skipped": self.skipped} if self.skipped else {})}


@dataclass
class Culprit:
    """The first op of the diverging level whose value differs from the level before."""

    level: str
    compared_with: str
    opcode: str
    location: str  # module path and file:line
    source: str  # the model statement, "file.py:LINE: code"
    max_abs_error: float

    def to_json(self) -> dict[str, Any]:
        return {"level": self.level, "compared_with": self.compared_with, "op": self.opcode, "location": self.location,
                "source": self.source, "max_abs_error": self.max_abs_error}


@dataclass
class BisectReport:
    model: str
    pipeline: str
    levels: list[Level]
    culprit: Culprit | None = None
    note: str = ""  # what bisect could not say about the divergence

    @property
    def first_divergent(self) -> Level | None:
        return next((lv for lv in self.levels if lv.diverges), None)

    def to_json(self) -> dict[str, Any]:
        first = self.first_divergent
        return {"model": self.model, "pipeline": self.pipeline, "levels": [lv.to_json() for lv in self.levels],
                "first_divergent_level": first.name if first else None,
                "culprit": self.culprit.to_json() if self.culprit else None, **({"note": self.note} if self.note else {})}

    def to_text(self) -> str:
        lines = [f"{self.model}: max abs error of each output against PyTorch, per level"]
        width = max(len(lv.name) for lv in self.levels)
        for lv in self.levels:
            if lv.skipped:
                lines.append(f"  {lv.name:{width}}  {lv.kind:9}  skipped: {lv.skipped}")
                continue
            errors = ", ".join(f"{c.max_abs_error:.3g}" for c in lv.comparisons)
            mark = "DIVERGES" if lv.diverges else "ok"
            lines.append(f"  {lv.name:{width}}  {lv.kind:9}  {mark:8}  [{errors}]")
        first = self.first_divergent
        if first is None:
            lines.append("every level matches PyTorch")
        else:
            by = "the import (rgraph converters)" if first.name == "import" else (
                "bitstream emission or the simulator" if first.name == "bitstream" else f"pass '{first.name}'")
            lines.append(f"first divergence: after {by}")
        if self.culprit is not None:
            c = self.culprit
            lines.append(f"  first diverging op: {c.opcode} at {c.location or 'an unknown location'} "
                         f"(max abs error {c.max_abs_error:.3g} against {c.compared_with})")
            if c.source:
                lines.append(f"    {c.source}")
        if self.note:
            lines.append(f"  {self.note}")
        return "\n".join(lines)


def _close(a: np.ndarray, b: np.ndarray, dtype: str) -> tuple[bool, float]:
    if a.shape != b.shape:
        return False, float("inf")
    rtol, atol = tolerances_for(TORCH_DTYPE_NAMES.get(dtype, dtype))
    x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(all="ignore"):
        diff = np.abs(x - y)
        err = float(np.nanmax(np.where(np.isnan(diff), 0.0, diff))) if diff.size else 0.0
        ok = bool(np.allclose(x, y, rtol=rtol, atol=atol, equal_nan=True))
    return ok, err


def _key(o: OpValues) -> tuple[str, str]:
    return (o.opcode, o.location)


def first_diverging_op(level: Interpretation, reference: Interpretation) -> tuple[OpValues, float] | None:
    """The first op of `level` (program order) none of whose counterparts in `reference` (same
    opcode and location, else same location) computed a close value. Fill constants are skipped:
    fused kernels regenerate them, so they have no one counterpart."""
    by_key: dict[tuple[str, str], list[OpValues]] = {}
    by_location: dict[str, list[OpValues]] = {}
    for o in reference.ops:
        by_key.setdefault(_key(o), []).append(o)
        by_location.setdefault(o.location, []).append(o)
    for o in level.ops:
        if o.opcode == "full":
            continue
        candidates = by_key.get(_key(o)) or by_location.get(o.location) or []
        if not candidates:
            continue
        best = float("inf")
        for cand in candidates:
            results = [_close(v, w, dtype_of(r.type)) for v, w, r in zip(o.values, cand.values, o.op.results)]
            if len(cand.values) == len(o.values) and all(ok for ok, _ in results):
                break
            best = min(best, max((err for _, err in results), default=float("inf")))
        else:
            return o, best
    return None


def _fx_values(program, inputs: tuple[torch.Tensor, ...]) -> dict[str, np.ndarray]:
    """Every FX node's value in PyTorch, by node name (tuple results as `name[i]`)."""
    state = dict(program.state_dict) | dict(program.constants)
    user = iter(inputs)
    args = [next(user) if spec.kind == InputKind.USER_INPUT else state[spec.target]
            for spec in program.graph_signature.input_specs]
    seen: dict[str, np.ndarray] = {}

    class Recorder(torch.fx.Interpreter):
        def run_node(self, n: torch.fx.Node) -> Any:
            value = super().run_node(n)
            if isinstance(value, torch.Tensor):
                seen[n.name] = to_numpy(value)
            elif isinstance(value, (tuple, list)):
                for i, v in enumerate(value):
                    if isinstance(v, torch.Tensor):
                        seen[f"{n.name}[{i}]"] = to_numpy(v)
            return value

    with torch.no_grad():
        Recorder(program.graph_module).run(*args)
    return seen


def _first_diverging_against_torch(level: Interpretation, value_nodes: dict[SSAValue, str],
                                   torch_values: dict[str, np.ndarray]) -> tuple[OpValues, float] | None:
    for o in level.ops:
        for r, v in zip(o.op.results, o.values):
            node = value_nodes.get(r)
            if node is None or node not in torch_values:
                continue
            ok, err = _close(v, torch_values[node], dtype_of(r.type))
            if not ok:
                return o, err
    return None


def _source(o: OpValues, source_files: dict[str, str]) -> str:
    text = rdu.source_text(o.op)
    if not text:
        return ""
    name, _, line = text.rpartition(":")
    path = source_files.get(name)
    code = statement(path, int(line)) if path else ""
    return f"{text}: {code}" if code else text


def bisect_model(path: Path, options: CompileOptions, pipeline: str | None = None,
                 progress: ProgressFn = no_progress) -> BisectReport:
    """Run MODEL.py through every level of `pipeline` (default: the one `options` compile with)."""
    from backend_rdu.emit_bitstream import emit_bitstream
    from functional_sim import SimulationError, simulate

    progress("load model")
    loaded = load_model_file(path)
    if loaded.shapes_only:
        raise RduccError(f"{loaded.path.name} builds its model on the meta device (shapes only): there are no values to bisect")
    eager = run_eager(loaded)
    reference = eager_leaves(eager)
    inputs = [to_numpy(t) for t in loaded.inputs]
    progress("torch.export")
    program = capture(loaded)
    graph = import_named(loaded, program)
    spec = pipeline or options.pipeline()

    levels: list[Level] = []
    runs: list[Interpretation | None] = []

    def record(name: str, module) -> None:
        progress(f"interpret after {name}")
        kind = "rgraph" if any(op.name == "func.func" for op in module.ops) else "rdu"
        try:
            run = interpret(module, inputs)
        except NotInterpretable as exc:
            levels.append(Level(name, kind, skipped=str(exc)))
            runs.append(None)
            return
        levels.append(Level(name, kind, compare_outputs(run.outputs, reference)))
        runs.append(run)

    record("import", graph.module)
    module = graph.module.clone()

    def after_pass(previous, module, following) -> None:
        if previous is not None:
            record(previous.name, module)

    progress("passes")
    apply_pipeline(make_context(), module, parse_pipeline(spec, verifying_callback(then=after_pass)))
    progress("bitstream")
    try:
        sim = simulate(emit_bitstream(module), inputs, timing="analytic")
        levels.append(Level("bitstream", "simulator", compare_outputs(sim.outputs, reference)))
    except (RduccError, SimulationError) as exc:
        levels.append(Level("bitstream", "simulator", skipped=" ".join(str(exc).split())))

    report = BisectReport(loaded.name, spec, levels)
    first = report.first_divergent
    if first is None:
        return report
    index = levels.index(first)
    run = runs[index] if index < len(runs) else None
    if run is None:
        report.note = ("the simulator keeps no per-op values: the IR after the last pass matches, so look at "
                       "bitstream emission (backend_rdu/emit_bitstream.py) or the simulator")
        return report
    if index == 0:
        found = _first_diverging_against_torch(run, graph.value_nodes, _fx_values(program, loaded.inputs))
        compared_with = "PyTorch"
    else:
        previous = next((i for i in range(index - 1, -1, -1) if runs[i] is not None), None)
        found = first_diverging_op(run, runs[previous]) if previous is not None else None
        compared_with = levels[previous].name if previous is not None else ""
    if found is None:
        report.note = "no single op differs from the level before: the divergence is in how values are wired to outputs"
        return report
    op, err = found
    report.culprit = Culprit(first.name, compared_with, op.opcode, op.location, _source(op, graph.source_files), err)
    return report
