"""The one place every rducc pass is registered, by its MLIR-style name, and how pipelines run.

Passes load lazily (as xDSL's `get_all_passes` does) so that `rducc opt -p rdu-fuse` does not
import the placer's solver. Pipelines are MLIR pass-pipeline strings, e.g.
`rdu-target{chip=small},rdu-fuse{max-ops=2},rdu-lower,rdu-plan-memory`; xDSL's generic passes (`canonicalize`, `dce`,
`cse`, ...) can be named too. `run_pipeline` keeps the xDSL pass contract: the module is
verified before the first pass and after every pass, so a pass that breaks the IR is named.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
import typing
from collections.abc import Callable
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass, PassPipeline, PassPipelineCallbackType, get_pass_option_infos
from xdsl.utils.exceptions import ArgSpecParseError, PassFailedException
from xdsl.utils.hints import type_repr

from dialects.diagnostics import PassOrderError, RduccError
from passes.verification import IRDiagnostic, location_of, op_name, verify_ir

PassLoader = Callable[[], type[ModulePass]]


def _target() -> type[ModulePass]:
    from passes.target import TargetPass

    return TargetPass


def _route() -> type[ModulePass]:
    from backend_rdu.route_pass import RoutePass

    return RoutePass


def _lower() -> type[ModulePass]:
    from passes.lower_kernels import LowerKernelsPass

    return LowerKernelsPass


def _fuse() -> type[ModulePass]:
    from passes.fuse import FusePass

    return FusePass


def _plan_memory() -> type[ModulePass]:
    from passes.plan_memory import PlanMemoryPass

    return PlanMemoryPass


def _allocate_units() -> type[ModulePass]:
    from passes.allocate_units import AllocateUnitsPass

    return AllocateUnitsPass


def _size_fifos() -> type[ModulePass]:
    from passes.size_fifos import SizeFifosPass

    return SizeFifosPass


def _size_fifos_for_routes() -> type[ModulePass]:
    from passes.size_fifos_for_routes import SizeFifosForRoutesPass

    return SizeFifosForRoutesPass


def _tile() -> type[ModulePass]:
    from passes.tile import TilePass

    return TilePass


def _place() -> type[ModulePass]:
    from backend_rdu.place_pass import PlacePass

    return PlacePass


def _shard() -> type[ModulePass]:
    from passes.shard import ShardPass

    return ShardPass


def _layer_loop() -> type[ModulePass]:
    from passes.layer_loop import LayerLoopPass

    return LayerLoopPass


def _section() -> type[ModulePass]:
    from backend_rdu.section_pass import SectionPass

    return SectionPass


@dataclass(frozen=True)
class InputIR:
    """Which IR a pass runs on, so a pass applied out of order is stopped before it runs with
    an error naming the first op it cannot take (rather than failing somewhere inside).

    Graph IR is checked inside function bodies only (what else the module holds, a target
    description say, is not the graph); lowered IR is checked for ops of the earlier stage, so
    that new dialects used after lowering need no change here.
    """

    name: str  # "rgraph IR"
    hint: str  # the rest of "it runs on <name>...": what the IR holds, or what to run first
    body_dialects: frozenset[str] = frozenset()  # graph IR: the only dialects inside func.func bodies
    earlier_dialects: frozenset[str] = frozenset()  # lowered IR: dialects it no longer contains

    def first_foreign_op(self, module: ModuleOp) -> Operation | None:
        if self.body_dialects:
            functions = [op for op in module.walk() if isinstance(op, func.FuncOp)]
            if not functions:  # lowered already: name what is there instead of a function
                return next(iter(module.ops), None)
            body_ops = (op for fn in functions for op in fn.walk() if op is not fn)
            return next((op for op in body_ops if _dialect(op) not in self.body_dialects), None)
        return next((op for op in module.walk() if _dialect(op) in self.earlier_dialects), None)


def _dialect(op: Operation) -> str:
    return op_name(op).split(".", 1)[0]


RGRAPH_IR = InputIR("rgraph IR", " (func and rgraph ops, as `rducc import` prints it)", body_dialects=frozenset({"func", "rgraph"}))
RDU_IR = InputIR("rdu IR", " (run rdu-lower first)", earlier_dialects=frozenset({"func", "rgraph"}))

PASSES: dict[str, PassLoader] = {
    "rdu-target": _target,
    "rdu-shard": _shard,
    "rdu-layer-loop": _layer_loop,
    "rdu-fuse": _fuse,
    "rdu-lower": _lower,
    "rdu-plan-memory": _plan_memory,
    "rdu-allocate-units": _allocate_units,
    "rdu-size-fifos": _size_fifos,
    "rdu-tile": _tile,
    "rdu-place": _place,
    "rdu-route": _route,
    "rdu-size-fifos-for-routes": _size_fifos_for_routes,
    "rdu-section": _section,
}
"""rducc's own passes. xDSL's generic passes are added by `all_passes`."""

INPUT_IR: dict[str, InputIR] = {
    "rdu-shard": RGRAPH_IR,
    "rdu-layer-loop": RGRAPH_IR,
    "rdu-fuse": RGRAPH_IR,
    "rdu-lower": RGRAPH_IR,
    "rdu-plan-memory": RDU_IR,
    "rdu-allocate-units": RDU_IR,
    "rdu-size-fifos": RDU_IR,
    "rdu-tile": RDU_IR,
    "rdu-place": RDU_IR,
    "rdu-route": RDU_IR,
    "rdu-size-fifos-for-routes": RDU_IR,
    "rdu-section": RDU_IR,
}
"""The IR each rducc pass runs on (checked before it runs); passes not listed are not checked."""


def register_pass(name: str, loader: PassLoader, input_ir: InputIR | None = None) -> None:
    """Add a pass (e.g. one of your own) so pipelines and `rducc opt` can name it; with
    `input_ir` (RGRAPH_IR, RDU_IR), it is not run on IR of another stage."""
    PASSES[name] = loader
    if input_ir is not None:
        INPUT_IR[name] = input_ir
    else:
        INPUT_IR.pop(name, None)


def check_input_ir(pass_: ModulePass, module: ModuleOp) -> None:
    """Raise PassOrderError naming the first op `pass_` does not run on, with its location."""
    expected = INPUT_IR.get(pass_.name)
    if expected is None or PASSES.get(pass_.name) is None:
        return
    op = expected.first_foreign_op(module)
    if op is not None:
        raise PassOrderError(f"pass '{pass_.name}' cannot take {op_name(op)}: it runs on {expected.name}{expected.hint}",
                             location_of(op))


def available_passes() -> list[str]:
    return sorted(PASSES)


GENERIC_PASSES: dict[str, str] = {
    "canonicalize": "apply every op's canonicalization patterns, then erase dead ops (xDSL)",
    "cse": "merge identical side-effect-free ops (xDSL's common subexpression elimination)",
    "dce": "erase ops whose results are unused and that have no side effects (xDSL)",
}
"""xDSL's dialect-independent passes that apply to rducc's IR, with a summary each (xDSL's
dialect-specific passes, for RISC-V, stencils and the like, have nothing to do on it)."""


def generic_passes() -> dict[str, PassLoader]:
    """xDSL's generic passes (loaded lazily, like ours)."""
    from xdsl.transforms import get_all_passes

    xdsl_passes = get_all_passes()
    return {name: xdsl_passes[name] for name in GENERIC_PASSES}


def all_passes() -> dict[str, PassLoader]:
    """Every pass a pipeline may name: xDSL's generic ones, then rducc's (which win on a clash)."""
    return {**generic_passes(), **PASSES}


@dataclass(frozen=True)
class PassOption:
    name: str  # as written in a pipeline (kebab-case)
    type: str
    default: str | None  # None: the option is required


@dataclass(frozen=True)
class PassInfo:
    """What `rducc passes` shows: the summary and options a pass class carries itself."""

    name: str
    summary: str
    options: tuple[PassOption, ...]
    generic: bool  # one of xDSL's passes rather than rducc's

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "summary": self.summary, "generic": self.generic,
                "options": [dataclasses.asdict(o) for o in self.options]}


def describe_pass(name: str, loader: PassLoader, generic: bool = False) -> PassInfo:
    cls = loader()
    return PassInfo(name, GENERIC_PASSES.get(name) or pass_summary(cls), pass_options(cls), generic)  # ours over xDSL's


def pass_options(cls: type[ModulePass]) -> tuple[PassOption, ...]:
    """A pass's options as a pipeline names them, from its dataclass fields (as xDSL parses them)."""
    try:
        hints = typing.get_type_hints(cls)  # resolves `from __future__ import annotations` strings
    except Exception:  # a forward reference xDSL's own passes leave unresolvable
        hints = {}
    options = []
    for info in get_pass_option_infos(cls):
        kind = type_repr(hints[info.name]) if info.name in hints else str(info.expected_type).strip("'")
        options.append(PassOption(info.name.replace("_", "-"), kind, info.default_value))
    return tuple(options)


def describe_passes() -> list[PassInfo]:
    """rducc's passes by name, then xDSL's generic ones by name."""
    generic = generic_passes()
    return ([describe_pass(name, PASSES[name]) for name in sorted(PASSES)]
            + [describe_pass(name, generic[name], generic=True) for name in sorted(generic) if name not in PASSES])


def pass_summary(cls: type[ModulePass]) -> str:
    """The summary line of the pass class's docstring (else of its module's docstring).

    A module docstring that starts "`rdu-fuse`: partition ..." gives "partition ...".
    """
    doc = cls.__dict__.get("__doc__") or ""
    if doc.startswith(f"{cls.__name__}("):  # dataclass's generated signature, not a docstring
        doc = ""
    doc = inspect.cleandoc(doc) or inspect.cleandoc(sys.modules[cls.__module__].__doc__ or "")
    first = doc.splitlines()[0].strip() if doc else ""
    if first.startswith("`") and "`:" in first:
        first = first.split("`:", 1)[1].strip()
    return first


class UnknownPassError(RduccError):
    """A pipeline string naming an unknown pass or malformed options."""


class PassFailedError(IRDiagnostic):
    """A pass that reported it could not transform the IR (xDSL's PassFailedException), by name."""


def parse_pipeline(spec: str, callback: PassPipelineCallbackType | None = None,
                   available: dict[str, PassLoader] | None = None) -> PassPipeline:
    """A pipeline from a string; unknown names and bad options raise a one-line error."""
    available = all_passes() if available is None else available
    try:
        return PassPipeline.parse_spec(available, spec, callback)
    except (Exception, ArgSpecParseError) as exc:  # xDSL raises several types; ArgSpecParseError is a BaseException
        raise bad_pipeline(spec, exc) from None


def bad_pipeline(spec: str, exc: BaseException) -> UnknownPassError:
    """The one-line error for a pipeline string xDSL could not parse or instantiate."""
    message = " ".join(str(exc).split())
    named = {name.strip() for name in re.sub(r"\{[^}]*\}", "", spec).split(",") if name.strip()}
    if named <= set(all_passes()):  # every pass is known: its options are at fault, not its name
        return UnknownPassError(f"bad pass pipeline {spec!r}: {message} (see `rducc passes` for each pass's options)")
    return UnknownPassError(f"bad pass pipeline {spec!r}: {message} (known passes: {', '.join(available_passes())} "
                            "and xDSL's generic passes such as canonicalize, dce, cse; see `rducc passes`)")


def verifying_callback(then: PassPipelineCallbackType | None = None,
                       verify: bool = True) -> PassPipelineCallbackType:
    """A PassPipeline callback that verifies the module (the input, then each pass's output,
    naming the pass on failure) and then calls `then` (e.g. xDSL's printing and timing)."""

    def callback(previous: ModulePass | None, module: ModuleOp, following: ModulePass | None) -> None:
        if verify:
            stage = "the input IR does not verify" if previous is None else f"pass '{previous.name}' produced invalid IR"
            verify_ir(module, stage)
        if then is not None:
            then(previous, module, following)
        if following is not None:
            check_input_ir(following, module)

    return callback


def apply_pipeline(ctx: Context, module: ModuleOp, pipeline: PassPipeline) -> None:
    """Run a pipeline. A user error passes through; a pass's internal exception keeps its
    traceback (it is a bug) with a note naming the pass."""
    running: list[ModulePass | None] = [None]
    inner = pipeline.callback

    def track(previous: ModulePass | None, module: ModuleOp, following: ModulePass | None) -> None:
        running[0] = previous  # a failure inside the callback is about what `previous` left
        if inner is not None:
            inner(previous, module, following)
        running[0] = following

    try:
        PassPipeline(pipeline.passes, track).apply(ctx, module)
    except PassFailedException as exc:
        if isinstance(exc, RduccError):
            raise
        name = running[0].name if running[0] is not None else "?"
        raise PassFailedError(f"pass '{name}' failed: {' '.join(str(exc).split())}") from None
    except RduccError:
        raise
    except Exception as exc:
        if running[0] is not None:
            exc.add_note(f"(raised in pass '{running[0].name}': a bug in that pass, not in your input)")
        raise


def run_pipeline(ctx: Context, module: ModuleOp, spec: str, verify: bool = True) -> None:
    """Parse and run `spec` on `module`, verifying it first and after every pass."""
    apply_pipeline(ctx, module, parse_pipeline(spec, verifying_callback(verify=verify)))
