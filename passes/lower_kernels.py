"""`rdu-lower`: rgraph -> rdu kernels.

Ops that `rdu-fuse` put in one group (`rdu.kernel = N`) become one kernel whose intermediates
stream on chip between stages; an op without a group is a kernel of its own, which is the paper's
unfused baseline (-O0). Inside a kernel, values from outside are loaded through AGCUs, PCU stages
read and write through PMU buffers, and values needed by later kernels (or returned) are stored
to their home off chip. In fused kernels, fill constants are generated on chip by a PCU instead
of being loaded.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import DictionaryAttr, IntegerAttr, ModuleOp, StringAttr, i64
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass

from bitstream_format.opcodes import OPCODES
from dialects import rdu, rgraph
from dialects.diagnostics import PassOrderError

GROUP_ATTR = "rdu.kernel"


def group_of(op: Operation) -> int | None:
    attr = op.attributes.get(GROUP_ATTR)
    return attr.value.data if isinstance(attr, IntegerAttr) else None


def new_tensor(name: str, ty: Attribute, role: str, *, index: int | None = None, source: str = "",
               value: Attribute | None = None) -> rdu.TensorOp:
    attrs: dict[str, Attribute] = {"sym_name": StringAttr(name), "role": StringAttr(role), "tier": StringAttr("hbm")}
    if index is not None:
        attrs["index"] = IntegerAttr(index, i64)
    if source:
        attrs["source"] = StringAttr(source)
    if value is not None:
        attrs["value"] = value
    return rdu.TensorOp.create(attributes=attrs, result_types=[ty])


def compute_stage(op: rgraph.GraphOp, inputs: list[SSAValue]) -> rdu.ComputeOp:
    attrs: dict[str, Attribute] = {
        "opcode": StringAttr(op.OPCODE),
        "unit": StringAttr(OPCODES[op.OPCODE].unit),
        "params": DictionaryAttr(op.param_attributes()),
        "units": IntegerAttr(1, i64),
    }
    if op.source():
        attrs["source"] = StringAttr(op.source())
    return rdu.ComputeOp.create(operands=inputs, result_types=[r.type for r in op.results], attributes=attrs)


class KernelBuilder:
    """Builds one kernel's body: loads on first use, one buffer per PCU-bound stream."""

    def __init__(self, name: str, homes: dict[SSAValue, SSAValue]):
        self.name = name
        self.block = Block()
        self.homes = homes  # graph value -> rdu.tensor home (for values from outside)
        self.streams: dict[SSAValue, SSAValue] = {}  # graph value -> stream in this kernel
        self.buffered: dict[SSAValue, SSAValue] = {}  # stream -> its PMU-buffered copy

    def add(self, op: Operation) -> Operation:
        self.block.add_op(op)
        return op

    def stream(self, value: SSAValue) -> SSAValue:
        if value not in self.streams:
            self.streams[value] = self.add(rdu.LoadOp(self.homes[value])).result
        return self.streams[value]

    def buffered_stream(self, value: SSAValue) -> SSAValue:
        """PCUs read operands out of PMU buffers; one buffer per stream serves every reader."""
        s = self.stream(value)
        if isinstance(s.owner, rdu.BufferOp) or (isinstance(s.owner, rdu.ComputeOp) and s.owner.unit_kind == "pmu"):
            return s
        if s not in self.buffered:
            self.buffered[s] = self.add(rdu.BufferOp(s, 0, 0)).result
        return self.buffered[s]

    def kernel(self) -> rdu.KernelOp:
        return rdu.KernelOp(self.name, Region(self.block))


@dataclass(frozen=True)
class LowerKernelsPass(ModulePass):
    name = "rdu-lower"

    chip: str = "small"

    def apply(self, ctx: Context, module: ModuleOp) -> None:
        fn = next((op for op in module.ops if isinstance(op, func.FuncOp)), None)
        if fn is None:
            raise PassOrderError("rdu-lower: the module has no func.func to lower (was it lowered already?)")
        ops = list(fn.body.block.ops)
        ret = ops[-1]
        assert isinstance(ret, func.ReturnOp)
        tensors: list[Operation] = []
        homes: dict[SSAValue, SSAValue] = {}

        used: set[str] = set()

        def unique(name: str) -> str:
            candidate, n = name, 1
            while candidate in used:
                candidate, n = f"{name}_{n}", n + 1
            used.add(candidate)
            return candidate

        for i, arg in enumerate(fn.body.block.args):
            t = new_tensor(unique(arg.name_hint or f"input{i}"), arg.type, "input", index=i)
            tensors.append(t)
            homes[arg] = t.result

        groups: list[list[rgraph.GraphOp]] = []
        group_index: dict[int, int] = {}
        kernel_of: dict[Operation, int] = {}
        fused_fulls: set[rgraph.FullOp] = set()
        for op in ops:
            if isinstance(op, rgraph.WeightOp):
                t = new_tensor(unique(op.sym_name.data), op.result.type, "weight")
                tensors.append(t)
                homes[op.result] = t.result
            elif isinstance(op, rgraph.FullOp) and all(group_of(u.operation) is not None for u in op.result.uses) \
                    and op.result.uses and not any(u.operation is ret for u in op.result.uses):
                fused_fulls.add(op)  # regenerated on chip in each kernel that reads it
            elif isinstance(op, rgraph.FullOp):
                t = new_tensor(f"c{len(tensors)}", op.result.type, "constant", source=op.source(), value=op.value)
                tensors.append(t)
                homes[op.result] = t.result
            elif isinstance(op, rgraph.GraphOp):
                g = group_of(op)
                if g is None or g not in group_index:
                    if g is not None:
                        group_index[g] = len(groups)
                    groups.append([])
                idx = group_index[g] if g is not None else len(groups) - 1
                groups[idx].append(op)
                kernel_of[op] = idx

        # Every value a later kernel (or the caller) needs gets a home off chip.
        returned = set(ret.operands)
        n = 0
        for idx, group in enumerate(groups):
            for op in group:
                for r in op.results:
                    outside = any(kernel_of.get(u.operation) != idx for u in r.uses)
                    if outside or r in returned:
                        t = new_tensor(f"t{n}_{op.OPCODE}", r.type, "activation", source=op.source())
                        tensors.append(t)
                        homes[r] = t.result
                    n += 1

        kernels = [self._kernel(i, group, homes, fused_fulls) for i, group in enumerate(groups)]
        kernels += self._bind_outputs(ret, homes, tensors, len(kernels))

        fn.detach()
        fn.erase()
        for op in tensors + kernels:
            module.body.block.add_op(op)
        module.attributes["rdu.chip"] = StringAttr(self.chip)

    @staticmethod
    def _kernel(index: int, group: list[rgraph.GraphOp], homes: dict[SSAValue, SSAValue],
                fused_fulls: set[rgraph.FullOp]) -> rdu.KernelOp:
        name = f"k{index}_{group[0].OPCODE}" + (f"_x{len(group)}" if len(group) > 1 else "")
        kb = KernelBuilder(name, homes)
        for op in group:
            for v in op.operands:
                if isinstance(v.owner, rgraph.FullOp) and v.owner in fused_fulls and v not in kb.streams:
                    kb.streams[v] = kb.add(compute_stage(v.owner, [])).results[0]
            on_pcu = OPCODES[op.OPCODE].unit == "pcu"
            inputs = [kb.buffered_stream(v) if on_pcu else kb.stream(v) for v in op.operands]
            stage = kb.add(compute_stage(op, inputs))
            for r, s in zip(op.results, stage.results):
                kb.streams[r] = s
                if r in homes:
                    kb.add(rdu.StoreOp(kb.buffered_stream(r) if on_pcu else s, homes[r]))
        return kb.kernel()

    @staticmethod
    def _bind_outputs(ret: func.ReturnOp, homes: dict[SSAValue, SSAValue], tensors: list[Operation],
                      first_kernel: int) -> list[rdu.KernelOp]:
        """Returned activations become outputs; outputs that alias an input, a weight or another
        output get a copy kernel of their own."""
        copies = []
        claimed: set[SSAValue] = set()
        for index, value in enumerate(ret.operands):
            home = homes[value]
            owner = home.owner
            if owner.role.data == "activation" and home not in claimed:
                owner.attributes["role"] = StringAttr("output")
                owner.attributes["index"] = IntegerAttr(index, i64)
                owner.attributes["sym_name"] = StringAttr(f"output{index}")
            else:
                t = new_tensor(f"output{index}", home.type, "output", index=index)
                tensors.append(t)
                load = rdu.LoadOp(home)
                block = Block([load, rdu.StoreOp(load.result, t.result)])
                copies.append(rdu.KernelOp(f"k{first_kernel + len(copies)}_copy", Region(block)))
            claimed.add(home)
        return copies
