"""The compiler driver: MODEL.py -> torch.export -> rgraph -> rdu passes -> placed -> bitstream.

This is the Python API most users want; the CLI is a thin layer over it.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from xdsl.dialects.builtin import ModuleOp, StringAttr

import bitstream_format
from backend_rdu.emit_bitstream import COMPILER_VERSION, emit_bitstream, usage_counts  # noqa: F401 (re-exported)
from bitstream_format import Bitstream, work_flops
from bitstream_format.model import nbytes_of
from chip_model import ChipSpec, load_chip
from compiler.frontend import aten_converters  # noqa: F401  (registers the converters)
from compiler.frontend.capture import capture
from compiler.frontend.importer import ImportedGraph, import_program
from compiler.frontend.model_file import LoadedModel, load_model_file, run_eager
from dialects import make_context, rgraph
from dialects.types import dtype_of, shape_of
from passes.registry import apply_pipeline, parse_pipeline, verifying_callback
from rducc_errors import UserError

OPT_PIPELINES = {
    0: "rdu-target{{chip={chip}}},{operators}rdu-lower,rdu-plan-memory,rdu-allocate-units{allocate},rdu-size-fifos{fifos},rdu-tile,"
       "rdu-place{{{place}}},rdu-route,rdu-size-fifos-for-routes,rdu-section",
    1: "rdu-target{{chip={chip}}},canonicalize,rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units{allocate},rdu-size-fifos{fifos},rdu-tile,"
       "rdu-place{{{place}}},rdu-route,rdu-size-fifos-for-routes,rdu-section",
}
PLACERS = ("cpsat", "cycles", "greedy", "random")
PLACER_ENV = "RDUCC_PLACER"


def default_placer() -> str:
    """`cycles`: the wirelength placement re-placed for simulated cycles (backend_rdu/cycle_placement.py),
    never slower than wirelength-only (it is a candidate), up to 2.4% fewer body cycles (10 of 12 kernels
    measured faster), for 1.5-2.6x the compile time (docs/placement.md, "Placement for cycles").
    `RDUCC_PLACER=cpsat` keeps wirelength-only, the fast path: the test suite sets it
    (tests/conftest.py), and an explicit `placer` / `--placer` always wins. A value that names no
    placer is the user's error, named with the variable (else it would surface far from its cause)."""
    placer = os.environ.get(PLACER_ENV, "").strip() or "cycles"
    if placer not in PLACERS:
        raise UserError(f"{PLACER_ENV}={os.environ[PLACER_ENV]!r} is not a placer (choose from {', '.join(PLACERS)})")
    return placer


O0_GRANULARITIES = {
    "operator": "rdu-fuse{boundary=operator},",  # the paper's o0: one framework operator per kernel
    "aten": "",  # one aten op per kernel (rducc's -O0 until 2026-11-24): no rdu-fuse at all
}
"""What an -O0 kernel holds. `operator` (the default) is the paper's unfused baseline: SambaFlow's
o0 puts one operator (an nn.Linear, an RMSNorm, the attention core) per section. `aten` keeps the
finer baseline of one decomposed aten op per kernel (a softmax is several kernels)."""


@dataclass(frozen=True)
class CompileOptions:
    """What a compile may be told. The knobs an architecture engineer turns (placer, tile size,
    FIFO depth) become pass options in the pipeline, so `rducc opt -p` runs the same compile."""

    chip: str = "sn40l"
    opt_level: int = 1
    seed: int = 0
    placer: str = field(default_factory=default_placer)  # cycles (cpsat re-placed for simulated cycles) | cpsat | greedy | random (seeded random legal sites)
    tile_bytes: int = 0  # > 0: force every stream's tile size (rdu-allocate-units{tile-bytes=N})
    fifo_depth: int = 0  # > 0: force every FIFO's depth in tiles (rdu-size-fifos{depth=N})
    tile_scale: float = 1.0  # multiply every tile size the compiler chooses (rdu-allocate-units{tile-scale=X})
    node: str | None = None  # a node spec (chip_model/nodes): compile for its chip, tensor-parallel over `tp` sockets
    tp: int = 1  # tensor-parallel degree (rdu-shard{tp=N}); > 1 needs `node`
    o0_granularity: str = "operator"  # -O0 only: operator (one framework operator per kernel) | aten (one op each)
    layers: int = 1  # > 1: the model is one layer of a loop run this many times (rdu-layer-loop, the LOOP section)
    carry: tuple[int, ...] = (0, 0)  # the loop's (result, argument) pairs, flattened: what feeds the next layer
    per_layer: tuple[int, ...] = ()  # the loop's arguments each layer has its own of (its KV cache)
    loop_body: str = ""  # a module path: the model is a whole step and only that module is the loop (its carry derived)

    def target_chip(self) -> str:
        """The chip compiled for: the node's when a node is given (by name when it is a bundled
        chip, else by its spec file: a node file may name a chip file of any name)."""
        if self.node:
            from chip_model.node import load_node
            from chip_model.spec import SPEC_DIR

            chip = load_node(self.node).chip
            bundled = SPEC_DIR / f"{chip.name}.toml"
            if not chip.source or (bundled.exists() and bundled.resolve() == Path(chip.source).resolve()):
                return chip.name
            return chip.source
        return self.chip

    def pipeline(self) -> str:
        """The pass pipeline this compile runs, as `rducc opt -p` takes it."""
        if self.opt_level not in OPT_PIPELINES:
            raise ValueError(f"optimisation level -O{self.opt_level} is not available (choose from {sorted(OPT_PIPELINES)})")
        if self.o0_granularity not in O0_GRANULARITIES:
            raise ValueError(f"-O0 granularity {self.o0_granularity!r} is not available (choose from "
                             f"{', '.join(O0_GRANULARITIES)})")
        if self.placer not in PLACERS:
            raise ValueError(f"placer {self.placer!r} is not available (choose from {', '.join(PLACERS)})")
        if self.tile_bytes < 0 or self.fifo_depth < 0:
            raise ValueError("tile bytes and FIFO depth must be positive (0: the compiler chooses)")
        if self.tp > 1 and not self.node:
            from passes.shard import ShardError

            raise ShardError(f"--tp {self.tp} needs --node NODE: the sockets and the network the program runs on")
        target = self.target_chip()
        chip = target if re.fullmatch(r"[A-Za-z0-9_-]+", target) else json.dumps(target)
        place = f"seed={self.seed}" + {"cpsat": "", "cycles": " objective=cycles", "greedy": " greedy=true",
                                        "random": " random=true"}[self.placer]
        allocate = " ".join(([f"tile-bytes={self.tile_bytes}"] if self.tile_bytes else [])
                            + ([f"tile-scale={self.tile_scale!r}"] if self.tile_scale != 1.0 else []))
        allocate = f"{{{allocate}}}" if allocate else ""
        # a kernel split to spill a branch through HBM gets its halves allocated with the same knobs
        # (a forced depth sizes nothing, so it splits nothing)
        fifos = f"depth={self.fifo_depth}" if self.fifo_depth else allocate.strip("{}")
        fifos = f"{{{fifos}}}" if fifos else ""
        pipeline = OPT_PIPELINES[self.opt_level].format(chip=chip, place=place, allocate=allocate, fifos=fifos,
                                                        operators=O0_GRANULARITIES[self.o0_granularity])
        if self.node:  # tensor parallelism splits the graph before anything fuses it
            node = self.node if re.fullmatch(r"[A-Za-z0-9_-]+", self.node) else json.dumps(self.node)
            head, rest = pipeline.split(",", 1)
            pipeline = f"{head},rdu-shard{{tp={self.tp} node={node}}},{rest}"
        if self.layers != 1:  # the function is one layer of a loop (checked against its signature first)
            head, rest = pipeline.split(",", 1)
            ints = lambda v: ",".join(map(str, v))  # noqa: E731
            per_layer = f" per-layer={ints(self.per_layer)}" if self.per_layer else ""
            what = f"body={json.dumps(self.loop_body)}" if self.loop_body else f"carry={ints(self.carry)}"
            pipeline = f"{head},rdu-layer-loop{{layers={self.layers} {what}{per_layer}}},{rest}"
        return pipeline


@dataclass
class WorkSummary:
    """What the model asks of any chip: its arithmetic and its compulsory off-chip traffic."""

    flops: float
    compulsory_bytes: int

    def roofline_cycles(self, chip: ChipSpec) -> float:
        compute = self.flops / (chip.peak_flops / chip.clock_hz)
        memory = self.compulsory_bytes / chip.tier_bytes_per_cycle("hbm")
        return max(compute, memory)


@dataclass
class CompileResult:
    loaded: LoadedModel
    graph: ImportedGraph
    module: ModuleOp
    bitstream: Bitstream
    data: bytes
    chip: ChipSpec
    work: WorkSummary
    compile_seconds: float
    options: CompileOptions = field(default_factory=CompileOptions)
    eager_outputs: Any = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def shapes_only(self) -> bool:
        return any(v is None for v in self.bitstream.image.values())

    @property
    def notes(self) -> list[str]:
        """What the compile did that a user would not guess from the command line.

        `rdu-shard` replicates what it cannot split and records it in the IR only; a `--tp N` that
        splits no weight at all runs N copies of the whole model, which deserves saying.
        """
        split = self.module.attributes.get("rdu.shard.split")
        if self.options.tp > 1 and split is not None and len(split.data) == 0:
            replicated = self.module.attributes.get("rdu.shard.replicated")
            names = [a.data for a in replicated.data] if replicated is not None else []
            shown = ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")
            return [f"--tp {self.options.tp} split no weight (no dimension the rules cut divides by "
                    f"{self.options.tp}): each of the {self.options.tp} sockets runs the whole model"
                    + (f"; replicated: {shown}" if shown else "")]
        return []


def summarize_work(graph: ImportedGraph) -> WorkSummary:
    fn = next(iter(graph.module.ops))
    flops = 0.0
    for op in fn.body.block.ops:
        if isinstance(op, rgraph.GraphOp) and not isinstance(op, rgraph.FullOp):
            flops += work_flops(op.OPCODE, op.operand_shapes(), [shape_of(r.type) for r in op.results])
    compulsory = sum(nbytes_of(dtype_of(op.result.type), shape_of(op.result.type))
                     for op in fn.body.block.ops if isinstance(op, rgraph.WeightOp))
    compulsory += sum(nbytes_of(dtype_of(a.type), shape_of(a.type)) for a in fn.body.block.args)
    compulsory += sum(nbytes_of(dtype_of(t), shape_of(t)) for t in fn.function_type.outputs.data)
    return WorkSummary(flops, compulsory)


def lower_to_hardware(graph: ImportedGraph, options: CompileOptions,
                      progress: Callable[[str], None] = lambda step: None) -> ModuleOp:
    """Run the pipeline on a copy of the imported graph, naming each pass to `progress` as it starts."""
    module = graph.module.clone()

    def announce(previous, module, following) -> None:
        if following is not None:
            progress(f"pass {following.name}")

    apply_pipeline(make_context(), module, parse_pipeline(options.pipeline(), verifying_callback(then=announce)))
    return module


def compile_loaded(loaded: LoadedModel, options: CompileOptions,
                   progress: Callable[[str], None] = lambda step: None) -> CompileResult:
    chip = load_chip(options.target_chip())
    timings: dict[str, float] = {}
    start = time.perf_counter()

    def step(name: str, fn: Callable[[], Any]) -> Any:
        progress(name)
        t0 = time.perf_counter()
        out = fn()
        timings[name] = time.perf_counter() - t0
        return out

    eager = step("run eager", lambda: run_eager(loaded))
    program = step("torch.export", lambda: capture(loaded))
    graph = step("import", lambda: import_named(loaded, program))
    module = step("passes", lambda: lower_to_hardware(graph, options, progress))
    bs = step("bitstream", lambda: emit_bitstream(module, layer_weights(loaded, options.layers)))
    data = bitstream_format.encode(bs)
    return CompileResult(loaded, graph, module, bs, data, chip, summarize_work(graph),
                         time.perf_counter() - start, options, eager, timings)


def layer_weights(loaded: LoadedModel, layers: int) -> list[dict[str, bytes | None]] | None:
    """Layers 1.. of a layer loop's weights, by name: from the model file's `layer_model(i)` (a
    module like `model`'s, with layer i's weights); None (every layer gets the model's weights)
    without one or for a shapes-only model."""
    if layers <= 1 or loaded.layer_model is None or loaded.shapes_only:
        return None
    from compiler.frontend.importer import weight_data

    out = []
    for i in range(1, layers):
        module = loaded.layer_model(i)
        out.append({name: weight_data(t).data for name, t in module.state_dict().items()})
    return out


def import_named(loaded: LoadedModel, program) -> ImportedGraph:
    """The captured program as rgraph IR, in a module named after the model (the name the
    bitstream's manifest gives)."""
    graph = import_program(program)
    graph.module.sym_name = StringAttr(loaded.name)
    return graph


def import_model(path: str | Path) -> ImportedGraph:
    """MODEL.py as rgraph IR (checked against eager first, so bad inputs fail clearly)."""
    loaded = load_model_file(path)
    run_eager(loaded)
    return import_named(loaded, capture(loaded))


def compile_model(path: str | Path, options: CompileOptions,
                  progress: Callable[[str], None] = lambda step: None) -> CompileResult:
    progress("load model")
    return compile_loaded(load_model_file(path), options, progress)
