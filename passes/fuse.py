"""`rdu-fuse`: partition the graph into streaming kernels (the paper's fused kernels, -O1).

Ops are taken in program order and added to the current kernel while the kernel still fits the
chip: every stage needs at least one unit of its kind, so the kernel's PCU stages, PMU stages
(layout ops plus the buffers between stages) and AGCU stages (loads of values from outside plus
stores of values needed later) must not outnumber the chip's PCUs, PMUs and AGCUs. A producer and
its consumers in one kernel exchange a stream through a PMU instead of a round trip through HBM.
The result is an `rdu.kernel = N` attribute on every op, which `rdu-lower` turns into kernels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass

from bitstream_format.opcodes import OPCODES
from chip_model import ChipSpec, load_chip
from dialects import rgraph
from passes.lower_kernels import GROUP_ATTR


@dataclass
class KernelDemand:
    """Stage counts of a candidate kernel, kept incrementally as ops join it."""

    ops: list[rgraph.GraphOp] = field(default_factory=list)
    members: set[Operation] = field(default_factory=set)
    loads: set[SSAValue] = field(default_factory=set)
    loads_for_pcu: set[SSAValue] = field(default_factory=set)
    generators: set[SSAValue] = field(default_factory=set)
    pcu_ops: int = 0
    pmu_ops: int = 0

    def with_op(self, op: rgraph.GraphOp) -> "KernelDemand":
        new = KernelDemand(list(self.ops), set(self.members), set(self.loads), set(self.loads_for_pcu),
                           set(self.generators), self.pcu_ops, self.pmu_ops)
        on_pcu = OPCODES[op.OPCODE].unit == "pcu"
        for v in op.operands:
            if isinstance(v.owner, rgraph.FullOp):
                new.generators.add(v)
            elif v.owner not in new.members:
                new.loads.add(v)
                if on_pcu:
                    new.loads_for_pcu.add(v)
        new.ops.append(op)
        new.members.add(op)
        if on_pcu:
            new.pcu_ops += 1
        else:
            new.pmu_ops += 1
        return new

    def stores(self, returned: set[SSAValue]) -> int:
        return sum(
            1 for op in self.ops for r in op.results
            if r in returned or any(u.operation not in self.members for u in r.uses)
        )

    def fits(self, chip: ChipSpec, returned: set[SSAValue], max_ops: int) -> bool:
        pcu_results = sum(len(op.results) for op in self.ops if OPCODES[op.OPCODE].unit == "pcu")
        pcu = self.pcu_ops + len(self.generators)
        pmu = self.pmu_ops + len(self.loads_for_pcu) + pcu_results + len(self.generators)
        agcu = len(self.loads) + self.stores(returned)
        within_ops = max_ops <= 0 or len(self.ops) <= max_ops
        return within_ops and pcu <= chip.count("pcu") and pmu <= chip.count("pmu") and agcu <= chip.count("agcu")


@dataclass(frozen=True)
class FusePass(ModulePass):
    name = "rdu-fuse"

    chip: str = "small"
    max_ops: int = 0  # 0: as many as fit the chip

    def apply(self, ctx: Context, module: ModuleOp) -> None:
        chip = load_chip(self.chip)
        fn = next((op for op in module.ops if isinstance(op, func.FuncOp)), None)
        if fn is None:
            raise ValueError("rdu-fuse: the module has no func.func")
        returned = set(fn.body.block.last_op.operands)
        group, current = 0, KernelDemand()
        for op in fn.body.block.ops:
            if not isinstance(op, rgraph.GraphOp) or isinstance(op, rgraph.FullOp):
                continue
            candidate = current.with_op(op)
            if current.ops and not candidate.fits(chip, returned, self.max_ops):
                group += 1
                candidate = KernelDemand().with_op(op)
            current = candidate
            op.attributes[GROUP_ATTR] = IntegerAttr(group, i64)
