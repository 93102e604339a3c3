"""`rdu`: the hardware-level dialect: kernels of stages bound to unit kinds, streams between them,
and tensors homed in a memory tier.

A lowered program is a module holding `rdu.tensor` declarations and `rdu.kernel`s in execution
order. Inside a kernel every op is a stage: `rdu.load`/`rdu.store` run on AGCUs, `rdu.buffer` on
PMUs, `rdu.compute` on PCUs (or PMUs for layout opcodes). SSA values inside a kernel are streams;
values defined by `rdu.tensor` are memory-resident tensors.
"""

from __future__ import annotations

from typing import Any, ClassVar

from xdsl.dialects.builtin import (
    DenseArrayBase,
    DictionaryAttr,
    FloatAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    i64,
)
from xdsl.ir import Attribute, Dialect, Region, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    VarConstraint,
    attr_def,
    base,
    irdl_op_definition,
    operand_def,
    opt_attr_def,
    region_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import NoTerminator, SymbolOpInterface

from bitstream_format.model import ROLES
from bitstream_format.opcodes import OPCODES
from dialects.diagnostics import PassOrderError
from dialects.rgraph import attr_value, require

OFF_CHIP_TIERS = ("hbm", "ddr")


@irdl_op_definition
class TensorOp(IRDLOperation):
    """A tensor homed off chip. Memory planning sets `tier` and `offset`."""

    name = "rdu.tensor"
    sym_name = attr_def(StringAttr)
    role = attr_def(StringAttr)
    tier = attr_def(StringAttr)
    offset = opt_attr_def(IntegerAttr)
    index = opt_attr_def(IntegerAttr)  # position among the program's inputs or outputs
    source = opt_attr_def(StringAttr)
    value = opt_attr_def(Attribute)  # the splat value of a constant
    result = result_def(TensorType)
    assembly_format = "$sym_name attr-dict `:` type($result)"

    def verify_(self) -> None:
        require(self.role.data in ROLES, f"rdu.tensor: unknown role {self.role.data!r}")
        require(self.tier.data in OFF_CHIP_TIERS, f"rdu.tensor: tier must be one of {OFF_CHIP_TIERS}")
        if self.role.data in ("input", "output"):
            require(self.index is not None, f"rdu.tensor: an {self.role.data} needs an index")
        require((self.role.data == "constant") == (self.value is not None), "rdu.tensor: a constant, and only a constant, has a value")
        if self.value is not None:
            require(isinstance(self.value, (IntegerAttr, FloatAttr)), "rdu.tensor: value must be an integer or float")


class StageOp(IRDLOperation):
    """A stage: `units` units of one kind; `sites` (x0, y0, x1, y1, ...) once placed."""

    units = attr_def(IntegerAttr)
    sites = opt_attr_def(DenseArrayBase)

    UNIT: ClassVar[str] = ""

    @property
    def unit_kind(self) -> str:
        return self.UNIT

    @property
    def unit_count(self) -> int:
        return self.units.value.data

    def site_list(self) -> list[tuple[int, int]]:
        if self.sites is None:
            return []
        flat = list(self.sites.get_values())
        return list(zip(flat[::2], flat[1::2]))

    def set_sites(self, sites: list[tuple[int, int]]) -> None:
        self.attributes["sites"] = DenseArrayBase.from_list(i64, [c for s in sites for c in s])

    def verify_(self) -> None:
        require(isinstance(self.parent_op(), KernelOp), f"{self.name}: a stage must sit inside an rdu.kernel")
        require(self.unit_count >= 1, f"{self.name}: needs at least one unit")
        if self.sites is not None:
            require(len(self.sites) == 2 * self.unit_count, f"{self.name}: {self.unit_count} units but {len(self.sites) // 2} sites")


def _is_memory(value: SSAValue) -> bool:
    return isinstance(value.owner, TensorOp)


@irdl_op_definition
class LoadOp(StageOp):
    """AGCU stage streaming a tensor in from its tier."""

    name = "rdu.load"
    UNIT: ClassVar[str] = "agcu"
    T: ClassVar = VarConstraint("T", base(TensorType))
    tensor = operand_def(T)
    result = result_def(T)
    assembly_format = "$tensor attr-dict `:` type($tensor)"

    def __init__(self, tensor: SSAValue, units: int = 1):
        super().__init__(operands=[tensor], result_types=[tensor.type], attributes={"units": IntegerAttr(units, i64)})

    def verify_(self) -> None:
        super().verify_()
        require(_is_memory(self.tensor), "rdu.load: operand must be an rdu.tensor")


@irdl_op_definition
class StoreOp(StageOp):
    """AGCU stage streaming a value out to a tensor's tier."""

    name = "rdu.store"
    UNIT: ClassVar[str] = "agcu"
    T: ClassVar = VarConstraint("T", base(TensorType))
    value = operand_def(T)
    tensor = operand_def(T)
    assembly_format = "$value `to` $tensor attr-dict `:` type($tensor)"

    def __init__(self, value: SSAValue, tensor: SSAValue, units: int = 1):
        super().__init__(operands=[value, tensor], attributes={"units": IntegerAttr(units, i64)})

    def verify_(self) -> None:
        super().verify_()
        require(_is_memory(self.tensor), "rdu.store: target must be an rdu.tensor")
        require(not _is_memory(self.value), "rdu.store: value must be a stream, not a memory tensor")
        require(self.value.type == self.tensor.type, "rdu.store: value and tensor types differ")


@irdl_op_definition
class BufferOp(StageOp):
    """PMU stage holding tiles of a stream in SRAM (`bytes` per PMU, double-buffered tiles)."""

    name = "rdu.buffer"
    UNIT: ClassVar[str] = "pmu"
    T: ClassVar = VarConstraint("T", base(TensorType))
    input = operand_def(T)
    result = result_def(T)
    bytes = attr_def(IntegerAttr)
    tile_bytes = attr_def(IntegerAttr)
    assembly_format = "$input attr-dict `:` type($input)"

    def __init__(self, value: SSAValue, bytes_per_unit: int, tile_bytes: int, units: int = 1):
        super().__init__(
            operands=[value],
            result_types=[value.type],
            attributes={
                "units": IntegerAttr(units, i64),
                "bytes": IntegerAttr(bytes_per_unit, i64),
                "tile_bytes": IntegerAttr(tile_bytes, i64),
            },
        )

    def verify_(self) -> None:
        super().verify_()
        require(not _is_memory(self.input), "rdu.buffer: input must be a stream (load it first)")


@irdl_op_definition
class ComputeOp(StageOp):
    """A stage executing one instruction-set opcode on its input streams."""

    name = "rdu.compute"
    opcode = attr_def(StringAttr)
    unit = attr_def(StringAttr)
    params = attr_def(DictionaryAttr)
    source = opt_attr_def(StringAttr)
    bytes = opt_attr_def(IntegerAttr)  # SRAM per PMU, for opcodes that run on PMUs
    inputs = var_operand_def(TensorType)
    outputs = var_result_def(TensorType)
    assembly_format = "$opcode `(` $inputs `)` attr-dict `:` functional-type($inputs, $outputs)"

    @property
    def unit_kind(self) -> str:
        return self.unit.data

    def param_values(self) -> dict[str, Any]:
        return {k: attr_value(v) for k, v in sorted(self.params.data.items())}

    def verify_(self) -> None:
        super().verify_()
        op = OPCODES.get(self.opcode.data)
        require(op is not None, f"rdu.compute: unknown opcode {self.opcode.data!r}")
        require(op.unit == self.unit.data, f"rdu.compute: {op.name} runs on a {op.unit}, not a {self.unit.data}")
        require(op.family != "memory", f"rdu.compute: {op.name} is a memory opcode; use rdu.load/store/buffer")
        for v in self.inputs:
            require(not _is_memory(v), "rdu.compute: inputs must be streams (load them first)")


@irdl_op_definition
class KernelOp(IRDLOperation):
    """One kernel launch: its stages run concurrently as a streaming pipeline."""

    name = "rdu.kernel"
    sym_name = attr_def(StringAttr)
    section = opt_attr_def(IntegerAttr)
    body = region_def("single_block")
    traits = traits_def(NoTerminator(), SymbolOpInterface())
    assembly_format = "$sym_name attr-dict-with-keyword $body"

    def __init__(self, name: str, body: Region):
        super().__init__(attributes={"sym_name": StringAttr(name)}, regions=[body])

    def stages(self) -> list[StageOp]:
        return [op for op in self.body.block.ops if isinstance(op, StageOp)]

    def verify_(self) -> None:
        for op in self.body.block.ops:
            require(isinstance(op, StageOp), f"rdu.kernel: {op.name} is not a stage")


def chip_of(module: ModuleOp) -> str:
    """The chip a lowered module targets (set by rdu-lower as the `rdu.chip` module attribute)."""
    attr = module.attributes.get("rdu.chip")
    if not isinstance(attr, StringAttr):
        raise PassOrderError("the module has no rdu.chip attribute: this pass needs rdu IR, run rdu-lower first")
    return attr.data


RDU = Dialect("rdu", [TensorOp, LoadOp, StoreOp, BufferOp, ComputeOp, KernelOp], [])
