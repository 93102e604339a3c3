"""`rdu-place`: bind every stage's units to sites of the right kind on the chip.

Kernels run one after another, so each kernel has the whole grid to itself.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from backend_rdu.initial_placement import place_kernel_greedy
from chip_model import load_chip
from dialects import rdu


@dataclass(frozen=True)
class PlacePass(ModulePass):
    name = "rdu-place"

    seed: int = 0
    seconds: float = 0.0  # budget for improving on the greedy placement; 0 keeps the greedy one

    def apply(self, ctx: Context, module: ModuleOp) -> None:
        chip = load_chip(rdu.chip_of(module))
        for kernel in (op for op in module.body.block.ops if isinstance(op, rdu.KernelOp)):
            for stage, sites in place_kernel_greedy(kernel, chip).items():
                stage.set_sites(sites)
