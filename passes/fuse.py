"""`rdu-fuse`: partition the graph into streaming kernels (the paper's fused kernels, -O1).

Ops are taken in program order and added to the current kernel while the kernel still fits the
chip: every stage needs at least one unit of its kind, so the kernel's PCU stages, PMU stages
(layout ops plus the buffers between stages) must not outnumber the chip's PCUs and PMUs, and
the AGCUs must suffice for one per load or store plus enough more to move the kernel's tensors
at HBM's rate. When a kernel is full it ends at the cheapest cut in its second half. A producer and
its consumers in one kernel exchange a stream through a PMU instead of a round trip through HBM.
The chip is the module's target (`rdu-target`). The result is an `rdu.kernel = N` attribute on
every op, which `rdu-lower` turns into kernels.

`rdu-fuse{boundary=operator}` is the paper's unfused baseline (-O0, SambaFlow's o0: "one operator
per section"): a kernel never spans two framework operators (an `nn.Linear`, an RMSNorm, the
attention core, an activation, a residual add), and within one operator the same chip-fit rule
applies, so an operator too big for the chip still splits. Which operator an op belongs to is read
off its location (`operator_starts`). Without the pass every aten op is its own kernel
(`CompileOptions(o0_granularity="aten")`), the finer baseline rducc used until 2026-11-24.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import ceil

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.ir import Operation, SSAValue
from xdsl.passes import ModulePass

from bitstream_format.opcodes import OPCODES
from chip_model import ChipSpec
from dialects import rdu, rgraph
from dialects.diagnostics import PassOrderError
from dialects.types import value_bytes
from passes.lower_kernels import GROUP_ATTR
from passes.target import target_chip


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

    def stored(self, returned: set[SSAValue]) -> list[SSAValue]:
        return [
            r for op in self.ops for r in op.results
            if r in returned or any(u.operation not in self.members for u in r.uses)
        ]

    def agcus_needed(self, chip: ChipSpec, returned: set[SSAValue]) -> int:
        """One AGCU per load or store, and enough more that the tensors together can move at
        HBM's rate: a load carrying a fifth of the kernel's bytes needs a fifth of the AGCUs
        that HBM bandwidth can keep busy."""
        sizes = [_bytes(v) for v in self.loads] + [_bytes(v) for v in self.stored(returned)]
        total = sum(sizes)
        feed = chip.tier_bytes_per_cycle("hbm") / chip.agcu.bytes_per_cycle
        return sum(max(1, ceil(feed * b / total)) if total else 1 for b in sizes)

    def fits(self, chip: ChipSpec, returned: set[SSAValue], max_ops: int) -> bool:
        pcu_results = sum(len(op.results) for op in self.ops if OPCODES[op.OPCODE].unit == "pcu")
        pcu = self.pcu_ops + len(self.generators)
        pmu = self.pmu_ops + len(self.loads_for_pcu) + pcu_results + len(self.generators)
        within_ops = max_ops <= 0 or len(self.ops) <= max_ops
        return (within_ops and pcu <= chip.count("pcu") and pmu <= chip.count("pmu")
                and self.agcus_needed(chip, returned) <= chip.count("agcu"))


def _bytes(v: SSAValue) -> int:
    return value_bytes(v.type)


def _crossing_bytes(kept: list[rgraph.GraphOp]) -> int:
    """Bytes that leave a kernel made of `kept` for any later op: each goes through HBM once.

    Every later reader counts, not only the ops right after the cut: a decoder layer's residual
    stream, read again at the next layer's end, crosses whichever cut inside that layer is
    chosen. Returned values are stored wherever the cut falls, so they do not count."""
    members = set(kept)
    return sum(
        _bytes(r) for op in kept for r in op.results
        if any(u.operation not in members and not isinstance(u.operation, func.ReturnOp) for u in r.uses)
    )


BOUNDARIES = ("chip", "operator")
"""`chip`: kernels end only where the chip is full (-O1); `operator`: also at every framework
operator's end (-O0)."""

VIEW_OPCODES = frozenset({"reshape", "permute", "expand", "slice"})
"""Ops PyTorch runs as views of their input, without a kernel of their own (`view`, `transpose`,
`expand`, basic slicing)."""


def operator_key(op: rgraph.GraphOp) -> object:
    """Which framework operator `op` comes from: the innermost nn.Module that ran it (the importer's
    `NameLoc`). Ops of the root module, or without a model location (IR written by hand), carry no
    operator structure, so each is an operator of its own."""
    scope = rdu.scope_of(op)
    return scope if scope else op


def operator_starts(ops: list[rgraph.GraphOp]) -> set[rgraph.GraphOp]:
    """The first op of each framework operator in `ops` (program order): an operator is a
    contiguous run of ops of one module scope, so the ops directly in an attention module's forward
    (between its projections) are the attention core, each `nn.Linear` is one, and a decoder layer's
    residual add between two submodules is one. A run made only of views (the reshape and transpose
    after a projection) joins the operator before it: PyTorch launches no kernel for a view."""
    starts: set[rgraph.GraphOp] = set()
    previous: object = None
    run: list[rgraph.GraphOp] = []

    def close() -> None:
        if run and (not starts or any(o.OPCODE not in VIEW_OPCODES for o in run)):
            starts.add(run[0])

    for op in ops:
        key = operator_key(op)
        if key != previous:
            close()
            run = []
        run.append(op)
        previous = key
    close()
    return starts


def loop_body_starts(module: ModuleOp, ops: list[rgraph.GraphOp]) -> set[rgraph.GraphOp]:
    """A layer loop with a body (`rdu-layer-loop{body=...}`) is whole kernels: one starts at the
    body's first op and one after its last, so the prologue, the body and the epilogue never share one."""
    from dialects.loop_attr import loop_of
    from passes.layer_loop import body_ops

    loop = loop_of(module)
    if loop is None or not loop.body:
        return set()
    first, end = body_ops(ops, loop.body)
    return {ops[i] for i in (first, end) if i < len(ops)}


@dataclass(frozen=True)
class FusePass(ModulePass):
    name = "rdu-fuse"

    max_ops: int = 0  # 0: as many as fit the chip
    boundary: str = "chip"  # chip | operator (see BOUNDARIES)

    def __post_init__(self) -> None:
        if self.boundary not in BOUNDARIES:
            raise ValueError(f"rdu-fuse: unknown boundary {self.boundary!r}: choose one of {', '.join(BOUNDARIES)}")

    def apply(self, ctx: Context, module: ModuleOp) -> None:
        chip = target_chip(module, "rdu-fuse")
        fn = next((op for op in module.ops if isinstance(op, func.FuncOp)), None)
        if fn is None:
            raise PassOrderError("rdu-fuse: the module has no func.func (rdu-fuse runs on rgraph IR, before rdu-lower)")
        returned = set(fn.body.block.last_op.operands)
        ops = [op for op in fn.body.block.ops if isinstance(op, rgraph.GraphOp) and not isinstance(op, rgraph.FullOp)]
        starts = operator_starts(ops) if self.boundary == "operator" else set()
        starts |= loop_body_starts(module, ops)
        groups: list[list[rgraph.GraphOp]] = []
        current = KernelDemand()
        for op in ops:
            if op in starts and current.ops:  # an operator ends: so does its kernel
                groups.append(current.ops)
                current = KernelDemand()
            candidate = current.with_op(op)
            if current.ops and not candidate.fits(chip, returned, self.max_ops):
                kept, moved = self.split(current.ops, op, chip, returned)
                groups.append(kept)
                candidate = KernelDemand()
                for later in [*moved, op]:
                    candidate = candidate.with_op(later)
            current = candidate
        groups.append(current.ops)
        for index, ops in enumerate(groups):
            for op in ops:
                op.attributes[GROUP_ATTR] = IntegerAttr(index, i64)

    def split(self, ops: list[rgraph.GraphOp], next_op: rgraph.GraphOp, chip: ChipSpec,
              returned: set[SSAValue]) -> tuple[list[rgraph.GraphOp], list[rgraph.GraphOp]]:
        """Where to end a full kernel: at the cut in its second half that sends the fewest bytes
        through HBM to the next kernel (between decoder layers, that is the small residual
        stream), provided the ops moved along still fit one kernel with `next_op`."""
        best_j, best_cost = len(ops), _crossing_bytes(ops)
        for j in range(len(ops) - 1, max(1, len(ops) // 2) - 1, -1):
            cost = _crossing_bytes(ops[:j])
            if cost < best_cost:
                best_j, best_cost = j, cost
        if best_j < len(ops):
            demand = KernelDemand()
            for op in [*ops[best_j:], next_op]:
                demand = demand.with_op(op)
            if not demand.fits(chip, returned, self.max_ops):
                best_j = len(ops)
        return ops[:best_j], ops[best_j:]
