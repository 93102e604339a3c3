"""The one place every rducc pass is registered, by its MLIR-style name.

Passes load lazily (as xDSL's `get_all_passes` does) so that `rducc opt -p rdu-fuse` does not
import the placer's solver. Pipelines are MLIR pass-pipeline strings:
`rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory`.
"""

from __future__ import annotations

from typing import Callable

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass, PassPipeline
from xdsl.utils.exceptions import ArgSpecParseError

from dialects.diagnostics import RduccError


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


def _place() -> type[ModulePass]:
    from backend_rdu.place_pass import PlacePass

    return PlacePass


def _section() -> type[ModulePass]:
    from backend_rdu.section_pass import SectionPass

    return SectionPass


PASSES: dict[str, Callable[[], type[ModulePass]]] = {
    "rdu-target": _target,
    "rdu-fuse": _fuse,
    "rdu-lower": _lower,
    "rdu-plan-memory": _plan_memory,
    "rdu-allocate-units": _allocate_units,
    "rdu-place": _place,
    "rdu-route": _route,
    "rdu-section": _section,
}


def register_pass(name: str, loader: Callable[[], type[ModulePass]]) -> None:
    """Add a pass (e.g. one of your own) so pipelines and `rducc opt` can name it."""
    PASSES[name] = loader


def available_passes() -> list[str]:
    return sorted(PASSES)


class UnknownPassError(RduccError):
    """A pipeline string naming an unknown pass or malformed options."""


def parse_pipeline(spec: str) -> PassPipeline:
    """A pipeline from a string; unknown names and bad options raise a one-line error."""
    try:
        return PassPipeline.parse_spec(PASSES, spec)
    except (Exception, ArgSpecParseError) as exc:  # xDSL raises several types; ArgSpecParseError is a BaseException
        message = " ".join(str(exc).split())
        raise UnknownPassError(f"bad pass pipeline {spec!r}: {message} (known passes: {', '.join(available_passes())})") from None


def run_pipeline(ctx: Context, module: ModuleOp, spec: str) -> None:
    parse_pipeline(spec).apply(ctx, module)
