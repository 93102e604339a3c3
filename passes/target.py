"""`rdu-target`: set the chip a module is compiled for, once.

Like mlir-aie's device op, the target is one attribute of the module (`rdu.target`), not an
option of each pass, so two passes cannot disagree about the chip. Every rdu pass reads it
through `target_chip`. Setting a different target on a module that already has one is an error;
setting the same one again does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from chip_model import ChipSpec, load_chip
from dialects import rdu
from dialects.diagnostics import RduccError


class TargetError(RduccError):
    """A module given a target chip different from the one it already has."""


def target_chip(module: ModuleOp, needed_by: str) -> ChipSpec:
    """The module's target chip spec; a PassOrderError naming `needed_by` if none is set."""
    return load_chip(rdu.chip_of(module, needed_by))


def lowered_target_chip(module: ModuleOp, needed_by: str) -> ChipSpec:
    """For passes on rdu IR: a PassOrderError if the module still holds rgraph functions (a pass
    run before rdu-lower), else the target chip spec."""
    rdu.require_lowered(module, needed_by)
    return target_chip(module, needed_by)


@dataclass(frozen=True)
class TargetPass(ModulePass):
    """set the target chip (a bundled name such as `sn40l`, `small`, or a chip-spec .toml path)."""

    name = "rdu-target"

    chip: str = "small"

    def apply(self, ctx: Context, module: ModuleOp) -> None:
        current = rdu.target_of(module)
        if current is not None and current != self.chip:
            raise TargetError(f"rdu-target: the module already targets chip {current!r}, not {self.chip!r}")
        load_chip(self.chip)  # an unknown chip fails here, naming the choices
        rdu.set_target(module, self.chip)
