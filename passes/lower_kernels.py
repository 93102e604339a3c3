"""`rdu-lower`: rgraph -> rdu kernels.

Ops that `rdu-fuse` put in one group (`rdu.kernel = N`) become one kernel whose intermediates
stream on chip between stages; an op without a group is a kernel of its own, which is the paper's
unfused baseline (-O0). Inside a kernel, values from outside are loaded through AGCUs, PCU stages
read and write through PMU buffers, and values needed by later kernels (or returned) are stored
to their home off chip. Kernels are named after the module path of their ops (KernelNamer). In
fused kernels, fill constants are generated on chip by a PCU instead of being loaded. Each rdu op keeps the model line of the rgraph op it comes from, and a weight's
tensor keeps its bytes (the dense resource of `rgraph.weight`). The module must have a target
(`rdu-target`), which every later pass reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import prod

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, StringAttr, i64
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.passes import ModulePass

from bitstream_format.opcodes import OPCODES
from dialects import rdu, rgraph
from dialects.diagnostics import PassOrderError
from dialects.rdu_attrs import MemType, Role, RoleAttr, StreamType
from dialects.types import shape_of

GROUP_ATTR = "rdu.kernel"


def group_of(op: Operation) -> int | None:
    attr = op.attributes.get(GROUP_ATTR)
    return attr.value.data if isinstance(attr, IntegerAttr) else None


def new_tensor(name: str, ty: Attribute, role: Role, *, index: int | None = None, origin: Operation | None = None,
               value: Attribute | None = None) -> rdu.TensorOp:
    """A tensor homed in HBM (memory planning may move it); it carries the location of the op
    that produced it."""
    return rdu.TensorOp(name, MemType.of(ty), role, index=index, value=value, origin=origin)


def compute_stage(op: rgraph.GraphOp, inputs: list[SSAValue]) -> rdu.ComputeOp:
    return rdu.ComputeOp(op.OPCODE, inputs, [StreamType.of(r.type) for r in op.results], op.param_attributes(), origin=op)


def indexed_rows(op: rgraph.GraphOp, kb: "KernelBuilder") -> int | None:
    """The dim an `rdu.load_rows` reads `op` along, or None: an embedding (dim 0) or index_select
    whose table is a weight, state or input in memory (not streamed in this kernel yet) and whose
    index names fewer entries than the table has rows. Then the AGCU reads only the indexed rows,
    the index streaming in at run time, instead of the whole table into a PMU lookup (a decode
    step's embedding: one row of a 1 GB table)."""
    if not isinstance(op, (rgraph.EmbeddingOp, rgraph.IndexSelectOp)):
        return None
    table, index = op.operands
    home = kb.homes.get(table)
    if table in kb.streams or home is None or home.owner.role_name not in ("weight", "state", "input"):
        return None
    shape = shape_of(table.type)
    dim = 0 if isinstance(op, rgraph.EmbeddingOp) else op.dim.value.data % len(shape)
    return dim if prod(shape_of(index.type)) < shape[dim] else None


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


ROOT_KERNEL = "forward"  # the name of kernels made only of the model's own (root module) ops


class KernelNamer:
    """Kernels are named in the model's words: the longest common module path of their ops
    (`model.layers.3.self_attn`, `model.layers.3.mlp.down_proj`, `model.layers.1-2` across two
    layers; `forward` for the root module),
    made unique with `_2`, `_3`, ... in program order. IR without model locations (written by
    hand) keeps positional names, `k{index}_{first opcode}_x{ops}`."""

    def __init__(self) -> None:
        self.used: set[str] = set()

    def name(self, index: int, group: list[rgraph.GraphOp]) -> str:
        scopes = [s for s in (rdu.scope_of(op) for op in group) if s is not None]
        if scopes:
            base = common_module_prefix(scopes) or ROOT_KERNEL
        else:
            base = f"k{index}_{group[0].OPCODE}" + (f"_x{len(group)}" if len(group) > 1 else "")
        name, n = base, 1
        while name in self.used:
            n += 1
            name = f"{base}_{n}"
        self.used.add(name)
        return name


def common_module_prefix(paths: list[str]) -> str:
    """The longest dotted prefix shared by every module path ("" when they share none). When the
    paths part at the index of a module list, the range of indices is kept (`model.layers.1-2`
    for ops of layers 1 and 2), which says more than the list's name alone."""
    parts = [p.split(".") if p else [] for p in paths]
    common: list[str] = []
    for column in zip(*parts):
        if any(c != column[0] for c in column):
            break
        common.append(column[0])
    following = {p[len(common)] for p in parts if len(p) > len(common)}
    if common and len(following) > 1 and all(f.isdigit() for f in following):
        indices = sorted(int(f) for f in following)
        common.append(f"{indices[0]}-{indices[-1]}")
    return ".".join(common)


@dataclass(frozen=True)
class LowerKernelsPass(ModulePass):
    name = "rdu-lower"

    def apply(self, ctx: Context, module: ModuleOp) -> None:
        fn = next((op for op in module.ops if isinstance(op, func.FuncOp)), None)
        if fn is None:
            raise PassOrderError("rdu-lower: the module has no func.func to lower (was it lowered already?)")
        rdu.chip_of(module, "rdu-lower")
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
            t = new_tensor(unique(arg.name_hint or f"input{i}"), arg.type, Role.INPUT, index=i)
            if fn.arg_attrs is not None and "rdu.shard" in fn.arg_attrs.data[i].data:  # each socket's part (rdu-shard)
                t.shard = fn.arg_attrs.data[i].data["rdu.shard"]
            tensors.append(t)
            homes[arg] = t.result

        groups: list[list[rgraph.GraphOp]] = []
        group_index: dict[int, int] = {}
        kernel_of: dict[Operation, int] = {}
        fused_fulls: set[rgraph.FullOp] = set()
        for op in ops:
            if isinstance(op, rgraph.WeightOp):
                role = Role.STATE if op.is_mutable else Role.WEIGHT  # a KV cache persists between runs
                t = new_tensor(unique(op.sym_name.data), op.result.type, role, value=op.properties.get("value"))
                if op.shard is not None:  # this socket's part of a weight split by rdu-shard
                    t.shard = op.shard
                tensors.append(t)
                homes[op.result] = t.result
            elif isinstance(op, rgraph.FullOp) and all(group_of(u.operation) is not None for u in op.result.uses) \
                    and op.result.uses and not any(u.operation is ret for u in op.result.uses):
                fused_fulls.add(op)  # regenerated on chip in each kernel that reads it
            elif isinstance(op, rgraph.FullOp):
                t = new_tensor(f"c{len(tensors)}", op.result.type, Role.CONSTANT, origin=op, value=op.value)
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
                        t = new_tensor(f"t{n}_{op.OPCODE}", r.type, Role.ACTIVATION, origin=op)
                        tensors.append(t)
                        homes[r] = t.result
                    n += 1

        kernel_names = KernelNamer()
        kernels = [self._kernel(kernel_names.name(i, group), group, homes, fused_fulls) for i, group in enumerate(groups)]
        kernels += self._bind_outputs(ret, homes, tensors, len(kernels))

        fn.detach()
        fn.erase()
        for op in tensors + kernels:
            module.body.block.add_op(op)

    @staticmethod
    def _kernel(name: str, group: list[rgraph.GraphOp], homes: dict[SSAValue, SSAValue],
                fused_fulls: set[rgraph.FullOp]) -> rdu.KernelOp:
        kb = KernelBuilder(name, homes)
        for op in group:
            for v in op.operands:
                if isinstance(v.owner, rgraph.FullOp) and v.owner in fused_fulls and v not in kb.streams:
                    kb.streams[v] = kb.add(compute_stage(v.owner, [])).results[0]
            if isinstance(op, rgraph.UpdateRowsOp):  # the new rows go straight to the state's own memory
                kb.add(rdu.StoreRowsOp(kb.stream(op.rows), kb.stream(op.index), homes[op.state], op.dim.value.data))
                continue
            on_pcu = OPCODES[op.OPCODE].unit == "pcu"
            rows = indexed_rows(op, kb)
            if rows is not None:  # an embedding of a few rows: the AGCU reads only those rows
                stage = kb.add(rdu.LoadRowsOp(kb.stream(op.operands[1]), kb.homes[op.operands[0]], rows,
                                              StreamType.of(op.results[0].type)))
            else:
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
            if owner.role_name == "activation" and home not in claimed:
                owner.role = RoleAttr(Role.OUTPUT)
                owner.index = IntegerAttr(index, i64)
                owner.sym_name = StringAttr(f"output{index}")
            else:
                t = new_tensor(f"output{index}", home.type, Role.OUTPUT, index=index)
                tensors.append(t)
                load = rdu.LoadOp(home)
                block = Block([load, rdu.StoreOp(load.result, t.result)])
                copies.append(rdu.KernelOp(f"k{first_kernel + len(copies)}_copy", Region(block)))
            claimed.add(home)
        return copies
