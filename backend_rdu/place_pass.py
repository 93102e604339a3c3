"""`rdu-place`: bind every stage's units to sites of the right kind on the chip.

Kernels run one after another, so each kernel has the whole grid to itself. Kernels with the
same structure (the layers of a model) are placed once and share the placement.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from backend_rdu.initial_placement import place_kernel_greedy
from backend_rdu.kernel_signature import kernel_signature
from chip_model import load_chip
from dialects import rdu


@dataclass(frozen=True)
class PlacePass(ModulePass):
    name = "rdu-place"

    seed: int = 0
    seconds: float = 0.0  # budget for improving on the greedy placement; 0 keeps the greedy one

    def apply(self, ctx: Context, module: ModuleOp) -> None:
        chip = load_chip(rdu.chip_of(module))
        placed: dict[tuple, list[list[tuple[int, int]]]] = {}
        for kernel in (op for op in module.body.block.ops if isinstance(op, rdu.KernelOp)):
            signature = kernel_signature(kernel)
            if signature not in placed:
                sites = place_kernel_greedy(kernel, chip)
                placed[signature] = [sites[stage] for stage in kernel.stages()]
            for stage, sites in zip(kernel.stages(), placed[signature]):
                stage.set_sites(sites)
