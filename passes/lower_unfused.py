"""`rdu-lower-unfused`: rgraph -> rdu, one operator per kernel (the paper's unfused baseline, -O0).

Every tensor a graph op produces gets a home off chip (`rdu.tensor`), and each op becomes a
kernel that loads its operands through AGCUs, stages them in PMU buffers, runs the op on a PCU
(or on PMUs for layout ops), buffers the result and stores it back. Fusion (`rdu-fuse`) later
merges these kernels so that intermediates stay on chip.
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


def chip_name(module: ModuleOp) -> str:
    attr = module.attributes.get("rdu.chip")
    return attr.data if isinstance(attr, StringAttr) else "small"


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


def stage_kernel(name: str, op: rgraph.GraphOp, operands: list[SSAValue], results: list[SSAValue]) -> rdu.KernelOp:
    """The unfused kernel for one graph op: load -> buffer -> compute -> buffer -> store."""
    block = Block()
    unit = OPCODES[op.OPCODE].unit
    streams: dict[SSAValue, SSAValue] = {}
    inputs = []
    for tensor in operands:
        if tensor not in streams:
            load = rdu.LoadOp(tensor)
            block.add_op(load)
            stream = load.result
            if unit == "pcu":
                buf = rdu.BufferOp(stream, 0, 0)
                block.add_op(buf)
                stream = buf.result
            streams[tensor] = stream
        inputs.append(streams[tensor])
    attrs: dict[str, Attribute] = {
        "opcode": StringAttr(op.OPCODE),
        "unit": StringAttr(unit),
        "params": DictionaryAttr({k: v for k, v in op.attributes.items() if k != "source"}),
        "units": IntegerAttr(1, i64),
    }
    if op.source():
        attrs["source"] = StringAttr(op.source())
    compute = rdu.ComputeOp.create(operands=inputs, result_types=[r.type for r in op.results], attributes=attrs)
    block.add_op(compute)
    for value, target in zip(compute.results, results):
        if unit == "pcu":
            buf = rdu.BufferOp(value, 0, 0)
            block.add_op(buf)
            value = buf.result
        block.add_op(rdu.StoreOp(value, target))
    return rdu.KernelOp(name, Region(block))


def copy_kernel(name: str, src: SSAValue, dst: SSAValue) -> rdu.KernelOp:
    """Outputs that alias an input, a weight or another output need a copy of their own."""
    block = Block()
    load = rdu.LoadOp(src)
    block.add_op(load)
    block.add_op(rdu.StoreOp(load.result, dst))
    return rdu.KernelOp(name, Region(block))


@dataclass(frozen=True)
class LowerUnfusedPass(ModulePass):
    name = "rdu-lower-unfused"

    chip: str = "small"

    def apply(self, ctx: Context, module: ModuleOp) -> None:
        fn = next((op for op in module.ops if isinstance(op, func.FuncOp)), None)
        if fn is None:
            raise ValueError("rdu-lower-unfused: the module has no func.func to lower")
        out: list[Operation] = []
        homes: dict[SSAValue, SSAValue] = {}
        kernels: list[Operation] = []

        for i, arg in enumerate(fn.body.block.args):
            t = new_tensor(arg.name_hint or f"input{i}", arg.type, "input", index=i)
            out.append(t)
            homes[arg] = t.result

        ret = fn.body.block.last_op
        assert isinstance(ret, func.ReturnOp)
        n = 0
        for op in fn.body.block.ops:
            if isinstance(op, rgraph.WeightOp):
                t = new_tensor(op.sym_name.data, op.result.type, "weight")
            elif isinstance(op, rgraph.FullOp):
                t = new_tensor(f"c{n}", op.result.type, "constant", source=op.source(), value=op.value)
                n += 1
            elif isinstance(op, rgraph.GraphOp):
                produced = []
                for r in op.results:
                    t = new_tensor(f"t{n}_{op.OPCODE}", r.type, "activation", source=op.source())
                    n += 1
                    out.append(t)
                    homes[r] = t.result
                    produced.append(t.result)
                kernels.append(stage_kernel(f"k{len(kernels)}_{op.OPCODE}", op, [homes[o] for o in op.operands], produced))
                continue
            else:
                continue
            out.append(t)
            homes[op.results[0]] = t.result

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
                out.append(t)
                kernels.append(copy_kernel(f"k{len(kernels)}_copy", home, t.result))
            claimed.add(home)

        fn.detach()
        fn.erase()
        for op in out + kernels:
            module.body.block.add_op(op)
        module.attributes["rdu.chip"] = StringAttr(self.chip)
