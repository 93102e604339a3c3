"""`rdu-allocate-units`: decide how many units each stage of a kernel gets, and its SRAM tiles.

A stage gets enough units to keep each one busy for at least `min_cycles` cycles of its work, up
to its fair share of the chip (the kernel's stages run concurrently and split the grid). Buffers
hold double-buffered tiles: a stream no larger than its PMUs' half capacity stays whole on chip,
a larger one streams through in tiles.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.passes import ModulePass

from bitstream_format.model import nbytes_of
from bitstream_format.opcodes import OPCODES, work_flops
from chip_model import ChipSpec, load_chip
from dialects import rdu
from dialects.diagnostics import CapacityError
from dialects.types import dtype_of, shape_of


def value_bytes(v) -> int:
    return nbytes_of(dtype_of(v.type), shape_of(v.type))


def single_unit_cycles(stage: rdu.ComputeOp, chip: ChipSpec) -> float:
    """Cycles one unit would need for the whole stage."""
    op = OPCODES[stage.opcode.data]
    ins = [shape_of(v.type) for v in stage.inputs]
    outs = [shape_of(v.type) for v in stage.outputs]
    if op.unit == "pmu":
        moved = sum(value_bytes(v) for v in stage.inputs) + sum(value_bytes(v) for v in stage.outputs)
        return moved / chip.pmu.bytes_per_cycle
    if op.family == "matmul":
        return work_flops(op.name, ins, outs) / chip.pcu.flops_per_cycle
    elements = sum(_numel(s) for s in (ins[:1] if op.family in ("reduce", "scan", "select") else outs))
    per_lane = ceil(max(op.flops_per_element, 1) / chip.pcu.stages)
    rate = chip.pcu.transcendentals_per_cycle if op.transcendental else chip.pcu.lanes
    return elements * per_lane / min(rate, chip.pcu.lanes)


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _clamp(n: float, hi: int) -> int:
    return max(1, min(int(ceil(n)), hi))


def tile_plan(nbytes: int, units: int, chip: ChipSpec) -> tuple[int, int]:
    """(bytes per PMU, tile bytes) for a double-buffered stream spread over `units` PMUs."""
    tile = min(nbytes, units * chip.pmu.sram_bytes // 2)
    per_unit = min(chip.pmu.sram_bytes, ceil(2 * tile / units))
    return per_unit, tile


@dataclass(frozen=True)
class AllocateUnitsPass(ModulePass):
    name = "rdu-allocate-units"

    min_cycles: int = 256

    def apply(self, ctx: Context, module: ModuleOp) -> None:
        chip = load_chip(rdu.chip_of(module))
        for kernel in (op for op in module.body.block.ops if isinstance(op, rdu.KernelOp)):
            self.allocate(kernel, chip)

    def allocate(self, kernel: rdu.KernelOp, chip: ChipSpec) -> None:
        stages = kernel.stages()
        demand = {k: sum(1 for s in stages if s.unit_kind == k) for k in ("pcu", "pmu", "agcu")}
        for kind, count in demand.items():
            if count > chip.count(kind):
                raise CapacityError(
                    f"kernel {kernel.sym_name.data} needs {count} {kind.upper()} stages but chip {chip.name!r} "
                    f"has {chip.count(kind)} {kind.upper()}s ({count - chip.count(kind)} over)"
                )
        budget = {k: chip.count(k) // max(1, n) for k, n in demand.items()}
        for stage in stages:
            units = 1
            if isinstance(stage, (rdu.LoadOp, rdu.StoreOp)):
                tensor = stage.tensor
                tier_rate = chip.tier_bytes_per_cycle(tensor.owner.tier.data)
                need = value_bytes(tensor) / (chip.agcu.bytes_per_cycle * self.min_cycles)
                units = _clamp(min(need, tier_rate / chip.agcu.bytes_per_cycle), budget["agcu"])
            elif isinstance(stage, rdu.BufferOp):
                nbytes = value_bytes(stage.input)
                need = max(nbytes / (chip.pmu.bytes_per_cycle * self.min_cycles), 1)
                units = _clamp(need, budget["pmu"])
                per_unit, tile = tile_plan(nbytes, units, chip)
                stage.attributes["bytes"] = IntegerAttr(per_unit, i64)
                stage.attributes["tile_bytes"] = IntegerAttr(tile, i64)
            elif isinstance(stage, rdu.ComputeOp):
                units = _clamp(single_unit_cycles(stage, chip) / self.min_cycles, budget[stage.unit_kind])
                if stage.unit_kind == "pmu":
                    nbytes = max([value_bytes(v) for v in stage.outputs] + [value_bytes(v) for v in stage.inputs])
                    stage.attributes["bytes"] = IntegerAttr(tile_plan(nbytes, units, chip)[0], i64)
            stage.attributes["units"] = IntegerAttr(units, i64)
