"""`rdu`: the hardware-level dialect: kernels of stages bound to unit kinds, streams between them,
and tensors homed in a memory tier.

A lowered program is a module, targeted at one chip (`rdu.target`), holding `rdu.tensor`
declarations (`!rdu.mem<...>` values) and `rdu.kernel`s in execution order. Inside a kernel every
op is a stage: `rdu.load`/`rdu.store` run on AGCUs, `rdu.buffer` on PMUs, `rdu.compute` on PCUs
(or PMUs for layout opcodes). Values inside a kernel are streams (`!rdu.stream<...>`). What the
passes decide is stored on the ops as properties: units, sites, tile sizes, routes, tiers,
addresses; the bitstream is written from the module alone.

Types and attributes are in `dialects.rdu_attrs`.
"""

from __future__ import annotations

from pathlib import Path
from collections.abc import Iterable
from typing import Any, ClassVar

from xdsl.dialects.builtin import (
    ArrayAttr,
    DenseArrayBase,
    DenseResourceAttr,
    DictionaryAttr,
    FileLineColLoc,
    NameLoc,
    FloatAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    i64,
)
from xdsl.ir import Attribute, Dialect, Operation, Region, SSAValue
from xdsl.irdl import (
    IRDLOperation,
    VarConstraint,
    base,
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    region_def,
    result_def,
    ParsePropInAttrDict,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import NoTerminator, SymbolOpInterface
from xdsl.utils.exceptions import VerifyException

from bitstream_format import SignatureError, check_signature
from bitstream_format.opcodes import OPCODES
from dialects.diagnostics import PassOrderError
from dialects.rdu_attrs import (
    ATTRIBUTES,
    MemType,
    PatternAttr,
    PlacementSummaryAttr,
    Role,
    RoleAttr,
    RouteAttr,
    SitesAttr,
    SramAttr,
    StreamType,
    TargetAttr,
    Tier,
    TierAttr,
    TileLoopAttr,
    UnitKind,
    UnitKindAttr,
)
from dialects.rgraph import attr_value, require
from dialects.loop_attr import LayerLoopAttr
from dialects.shard_attr import ShardAttr
from dialects.types import dtype_of, shape_of

TARGET_ATTR = "rdu.target"
PLACEMENT_ATTR = "rdu.placement"


def source_text(op: Operation) -> str:
    """The model line an op came from, as `file.py:12` (from its location), or ""."""
    loc = op.location.location if isinstance(op.location, NameLoc) else op.location
    if isinstance(loc, FileLineColLoc):
        return f"{Path(loc.filename.data).name}:{loc.line.data}"
    return ""


def scope_of(op: Operation) -> str | None:
    """The module path that produced an op (the name of its `NameLoc`; "" for the model's root
    module), or None when the op has no model location (IR written by hand)."""
    if isinstance(op.location, NameLoc):
        return op.location.desc.data
    return "" if isinstance(op.location, FileLineColLoc) else None


def carry_location(source: Operation, target: Operation) -> Operation:
    """Give `target`, lowered from `source`, the location (model line) of `source`."""
    target.location = source.location
    return target


@irdl_op_definition
class TensorOp(IRDLOperation):
    """A tensor homed off chip. Memory planning sets `tier` and `offset`. A constant's `value`
    is its splat value; a weight's, when present, is a dense resource holding its bytes."""

    name = "rdu.tensor"
    sym_name = prop_def(StringAttr)
    role = prop_def(RoleAttr)
    tier = prop_def(TierAttr)
    offset = opt_prop_def(IntegerAttr)
    index = opt_prop_def(IntegerAttr)  # position among the program's inputs or outputs
    value = opt_prop_def(Attribute)
    shard = opt_prop_def(ShardAttr)  # a weight split over a node's sockets: the result is one part of `value`
    result = result_def(MemType)
    assembly_format = "$sym_name attr-dict `:` type($result)"
    irdl_options = (ParsePropInAttrDict(),)

    def __init__(self, name: str, type: MemType, role: Role, *, tier: Tier = Tier.HBM, index: int | None = None,
                 value: Attribute | None = None, origin: Operation | None = None):
        props: dict[str, Attribute] = {"sym_name": StringAttr(name), "role": RoleAttr(role), "tier": TierAttr(tier)}
        if index is not None:
            props["index"] = IntegerAttr(index, i64)
        if value is not None:
            props["value"] = value
        super().__init__(properties=props, result_types=[type])
        if origin is not None:
            carry_location(origin, self)

    @property
    def role_name(self) -> str:
        return self.role.data.value

    @property
    def tier_name(self) -> str:
        return self.tier.data.value

    def verify_(self) -> None:
        role = self.role_name
        if role in ("input", "output"):
            require(self.index is not None, f"rdu.tensor: an {role} needs an index")
        else:
            require(self.index is None, f"rdu.tensor: role {role} has no index (only inputs and outputs do)")
        if role == "constant":
            require(isinstance(self.value, (IntegerAttr, FloatAttr)), "rdu.tensor: a constant needs an integer or float value")
        elif role in ("weight", "state"):
            if self.value is not None:
                require(isinstance(self.value, DenseResourceAttr), f"rdu.tensor: a {role}'s value must be a dense resource")
                t = self.value.type
                if self.shard is not None:
                    self.shard.check(tuple(shape_of(t)), tuple(self.result.type.get_shape()), "rdu.tensor")
                else:
                    require(dtype_of(t) == dtype_of(self.result.type) and shape_of(t) == self.result.type.get_shape(),
                            f"rdu.tensor: weight value of type {t} does not match {self.result.type}")
        else:
            require(self.value is None, f"rdu.tensor: an {role} has no value")
        require(self.shard is None or role in ("weight", "state", "input"),
                f"rdu.tensor: only a weight, a state or an input is split over sockets, not an {role}")


class StageOp(IRDLOperation):
    """A stage: `units` units of one kind; once allocated, the tile bytes of each output stream
    (`tiles`) and the depth in tiles of its FIFO at each reader (`depths`, the stream's credits,
    set by rdu-allocate-units and deepened by rdu-size-fifos); once placed, one site per unit (`sites`); once routed, one route per output
    stream (`routes`)."""

    units = prop_def(IntegerAttr)
    sites = opt_prop_def(SitesAttr)
    tiles = opt_prop_def(DenseArrayBase)
    depths = opt_prop_def(DenseArrayBase)
    routes = opt_prop_def(ArrayAttr[RouteAttr])
    # set by rdu-tile: the loop over tiles, the SRAM range a PMU stage holds on each PMU, and the
    # address patterns (an AGCU's in its tier; a buffer's write then read pattern in SRAM)
    tile_loop = opt_prop_def(TileLoopAttr)
    sram = opt_prop_def(SramAttr)
    patterns = opt_prop_def(ArrayAttr[PatternAttr])

    UNIT: ClassVar[str] = ""

    @property
    def unit_kind(self) -> str:
        return self.UNIT

    @property
    def unit_count(self) -> int:
        return self.units.value.data

    def set_units(self, units: int) -> None:
        self.units = IntegerAttr(units, i64)

    def site_list(self) -> list[tuple[int, int]]:
        return list(self.sites.data) if self.sites is not None else []

    def set_sites(self, sites: list[tuple[int, int]]) -> None:
        self.sites = SitesAttr(sites)

    def tile_list(self) -> list[int]:
        return list(self.tiles.get_values()) if self.tiles is not None else []

    def set_tiles(self, tiles: list[int]) -> None:
        self.tiles = DenseArrayBase.from_list(i64, tiles)

    def depth_list(self) -> list[int]:
        return list(self.depths.get_values()) if self.depths is not None else []

    def set_depths(self, depths: list[int]) -> None:
        self.depths = DenseArrayBase.from_list(i64, depths)

    def consumers(self, result: SSAValue) -> list["StageOp"]:
        """The stages of this kernel that read `result`, in program order, each once: the order of
        a route's hops and of the bitstream stream's destinations."""
        users = self.consumer_set(result)
        return [op for op in self.parent_block().ops if op in users] if users else []

    def consumer_set(self, result: SSAValue) -> set["StageOp"]:
        """The stages of this kernel that read `result`, unordered: what a count needs, without
        walking the block as the program order does (the verifier counts them for every stream)."""
        block = self.parent_block()
        return {u.operation for u in result.uses
                if isinstance(u.operation, StageOp) and block is not None and u.operation.parent_block() is block}

    def verify_(self) -> None:
        require(isinstance(self.parent_op(), KernelOp), f"{self.name}: a stage must sit inside an rdu.kernel")
        require(self.unit_count >= 1, f"{self.name}: needs at least one unit")
        if self.sites is not None:
            require(len(self.sites.data) == self.unit_count,
                    f"{self.name}: {self.unit_count} units but {len(self.sites.data)} sites")
        if self.tiles is not None:
            require(len(self.tiles) == len(self.results),
                    f"{self.name}: {len(self.results)} output streams but {len(self.tiles)} tile sizes")
        if self.depths is not None:
            require(len(self.depths) == len(self.results),
                    f"{self.name}: {len(self.results)} output streams but {len(self.depths)} FIFO depths")
            require(all(d >= 1 for d in self.depth_list()),
                    f"{self.name}: a FIFO depth must be at least one tile, got {self.depth_list()}")
        if self.routes is not None:
            require(len(self.routes.data) == len(self.results),
                    f"{self.name}: {len(self.results)} output streams but {len(self.routes.data)} routes")
            for result, route in zip(self.results, self.routes.data):
                n = len(self.consumer_set(result))  # not consumers(): ordering walks the block per stream
                require(len(route.hops) == n, f"{self.name}: a stream read by {n} stages has a route with {len(route.hops)} hop counts")
        if self.tile_loop is not None:
            want = {"rdu.load": 1, "rdu.load_rows": 1, "rdu.store": 1, "rdu.store_rows": 1, "rdu.buffer": 2}.get(self.name, 0)
            if self.tile_loop.order.data in ("transpose", "repeat"):  # a window stage's SRAM write and read (3.5)
                want = 4
            have = len(self.patterns.data) if self.patterns is not None else 0
            require(have == want, f"{self.name}: its tile program needs {want} address pattern(s), got {have}")
            require(self.unit_kind != "pmu" or self.sram is not None, f"{self.name}: a PMU stage's tile program needs an SRAM range")


def stream_paths(producer: StageOp, readers: Iterable[StageOp]) -> int:
    """The parallel paths of a stream from `producer` (n units) to `readers` (m_1, m_2, ...
    units): min(n, max m_j), at least 1. A stream's bytes are shared evenly over its units at
    both ends and each path joins one producer unit to one reader unit, so as many paths run at
    once as there are unit pairs, up to the smaller side: a 1-PMU buffer feeding 900 PCUs moves at
    one link's rate, 9 AGCUs feeding 9 PMUs at nine. A stream multicasts, so its widest reader
    bounds it; with no reader it counts as one path.

    The compiler prices a stream's bandwidth (link rate x paths) with this count: its tile
    (`passes.allocate_units.stream_tile_bytes`), its route's rate (`backend_rdu.stream_rates`) and
    its FIFO credits for the route's round trip (`passes.size_fifos_for_routes`). The simulator
    times the stream with its own count, read from the bitstream's stage sites
    (`functional_sim.timing.stream_paths`); the two must agree, or the compiler sizes tiles and
    credits for a bandwidth the simulator does not give (tests/sim/test_stream_paths_agree.py).
    Placement wires max(n, m_j) unit pairs (`backend_rdu.place_pass.kernel_nets`): every unit
    has a partner, but only min(n, max m_j) carry data at once."""
    return max(1, min(producer.unit_count, max((r.unit_count for r in readers), default=1)))


@irdl_op_definition
class LoadOp(StageOp):
    """AGCU stage streaming a tensor in from its tier."""

    name = "rdu.load"
    UNIT: ClassVar[str] = "agcu"
    tensor = operand_def(MemType)
    result = result_def(StreamType)
    assembly_format = "$tensor attr-dict `:` type($tensor) `->` type($result)"
    irdl_options = (ParsePropInAttrDict(),)

    def __init__(self, tensor: SSAValue, units: int = 1):
        super().__init__(operands=[tensor], result_types=[StreamType.of(tensor.type)],
                         properties={"units": IntegerAttr(units, i64)})

    def verify_(self) -> None:
        super().verify_()
        require(self.result.type.same_data(self.tensor.type), "rdu.load: stream and tensor differ in shape or element type")


@irdl_op_definition
class StoreOp(StageOp):
    """AGCU stage streaming a value out to a tensor's tier."""

    name = "rdu.store"
    UNIT: ClassVar[str] = "agcu"
    value = operand_def(StreamType)
    tensor = operand_def(MemType)
    assembly_format = "$value `to` $tensor attr-dict `:` type($value) `->` type($tensor)"
    irdl_options = (ParsePropInAttrDict(),)

    def __init__(self, value: SSAValue, tensor: SSAValue, units: int = 1):
        super().__init__(operands=[value, tensor], properties={"units": IntegerAttr(units, i64)})

    def verify_(self) -> None:
        super().verify_()
        require(self.value.type.same_data(self.tensor.type), "rdu.store: stream and tensor differ in shape or element type")


@irdl_op_definition
class StoreRowsOp(StageOp):
    """AGCU stage writing `value` into the rows `index` (a runtime stream) along `dim` of a state
    tensor, in that tensor's own memory: a static KV cache's append moves only the new rows."""

    name = "rdu.store_rows"
    UNIT: ClassVar[str] = "agcu"
    value = operand_def(StreamType)
    index = operand_def(StreamType)
    tensor = operand_def(MemType)
    dim = prop_def(IntegerAttr)
    assembly_format = "$value `at` $index `to` $tensor attr-dict `:` type($value) `,` type($index) `->` type($tensor)"
    irdl_options = (ParsePropInAttrDict(),)

    def __init__(self, value: SSAValue, index: SSAValue, tensor: SSAValue, dim: int, units: int = 1):
        super().__init__(operands=[value, index, tensor],
                         properties={"units": IntegerAttr(units, i64), "dim": IntegerAttr(dim, i64)})

    def verify_(self) -> None:
        super().verify_()
        owner = self.tensor.owner
        require(isinstance(owner, TensorOp) and owner.role_name == "state",
                "rdu.store_rows: the tensor must have role state (rows are written in place only into state)")
        try:
            check_signature("store_rows", {"dim": self.dim.value.data},
                            [_typed(self.tensor), _typed(self.index), _typed(self.value)], [])
        except ValueError as exc:
            raise VerifyException(f"rdu.{exc}") from None


@irdl_op_definition
class LoadRowsOp(StageOp):
    """AGCU stage reading only the rows `index` (a runtime stream, e.g. the token ids) along `dim`
    of a tensor in its tier: an embedding lookup moves its rows, not the table. The mirror of
    `rdu.store_rows`; the index replaces `dim` in the result's shape."""

    name = "rdu.load_rows"
    UNIT: ClassVar[str] = "agcu"
    index = operand_def(StreamType)
    tensor = operand_def(MemType)
    result = result_def(StreamType)
    dim = prop_def(IntegerAttr)
    assembly_format = "$index `from` $tensor attr-dict `:` type($index) `,` type($tensor) `->` type($result)"
    irdl_options = (ParsePropInAttrDict(),)

    def __init__(self, index: SSAValue, tensor: SSAValue, dim: int, result_type: Attribute, units: int = 1):
        super().__init__(operands=[index, tensor], result_types=[result_type],
                         properties={"units": IntegerAttr(units, i64), "dim": IntegerAttr(dim, i64)})

    def verify_(self) -> None:
        super().verify_()
        owner = self.tensor.owner
        require(isinstance(owner, TensorOp) and owner.role_name in ("weight", "state", "input"),
                "rdu.load_rows: the tensor must be a weight, a state or an input (rows are read from a table in memory)")
        try:
            check_signature("load_rows", {"dim": self.dim.value.data},
                            [_typed(self.tensor), _typed(self.index)], [_typed(self.result)])
        except ValueError as exc:
            raise VerifyException(f"rdu.{exc}") from None


@irdl_op_definition
class BufferOp(StageOp):
    """PMU stage holding tiles of a stream in SRAM (`bytes` per PMU, double-buffered tiles of
    `tile_bytes`)."""

    name = "rdu.buffer"
    UNIT: ClassVar[str] = "pmu"
    T: ClassVar = VarConstraint("T", base(StreamType))
    input = operand_def(T)
    result = result_def(T)
    bytes = prop_def(IntegerAttr)
    tile_bytes = prop_def(IntegerAttr)
    assembly_format = "$input attr-dict `:` type($input)"
    irdl_options = (ParsePropInAttrDict(),)

    def __init__(self, value: SSAValue, bytes_per_unit: int, tile_bytes: int, units: int = 1):
        super().__init__(
            operands=[value],
            result_types=[value.type],
            properties={
                "units": IntegerAttr(units, i64),
                "bytes": IntegerAttr(bytes_per_unit, i64),
                "tile_bytes": IntegerAttr(tile_bytes, i64),
            },
        )



def _typed(value: SSAValue) -> tuple[str, tuple[int, ...]]:
    return dtype_of(value.type), shape_of(value.type)


@irdl_op_definition
class ComputeOp(StageOp):
    """A stage executing one instruction-set opcode on its input streams. The verifier checks
    the stage against the instruction set: unit kind, parameters, arity, shapes and dtypes."""

    name = "rdu.compute"
    opcode = prop_def(StringAttr)
    unit = prop_def(UnitKindAttr)
    params = prop_def(DictionaryAttr)
    bytes = opt_prop_def(IntegerAttr)  # SRAM per PMU, for opcodes that run on PMUs
    inputs = var_operand_def(StreamType)
    outputs = var_result_def(StreamType)
    assembly_format = "$opcode `(` $inputs `)` attr-dict `:` functional-type($inputs, $outputs)"
    irdl_options = (ParsePropInAttrDict(),)

    def __init__(self, opcode: str, inputs: list[SSAValue], output_types: list[Attribute], params: dict[str, Attribute],
                 origin: Operation | None = None):
        super().__init__(
            operands=[inputs],
            result_types=[output_types],
            properties={
                "opcode": StringAttr(opcode),
                "unit": UnitKindAttr(UnitKind(OPCODES[opcode].unit)),
                "params": DictionaryAttr(params),
                "units": IntegerAttr(1, i64),
            },
        )
        if origin is not None:
            carry_location(origin, self)

    @property
    def unit_kind(self) -> str:
        return self.unit.data.value

    def param_values(self) -> dict[str, Any]:
        return {k: attr_value(v) for k, v in sorted(self.params.data.items())}

    def verify_(self) -> None:
        super().verify_()
        op = OPCODES.get(self.opcode.data)
        require(op is not None, f"rdu.compute: unknown opcode {self.opcode.data!r}")
        require(op.unit == self.unit_kind, f"rdu.compute: {op.name} runs on a {op.unit}, not a {self.unit_kind}")
        require(op.family != "memory", f"rdu.compute: {op.name} is a memory opcode; use rdu.load/store/buffer")
        try:
            params = self.param_values()
        except TypeError as exc:
            raise VerifyException(f"rdu.compute: {op.name}: {exc}") from None
        try:
            check_signature(op.name, params, inputs=[_typed(v) for v in self.inputs],
                            outputs=[_typed(v) for v in self.outputs])
        except (SignatureError, ValueError) as exc:
            raise VerifyException(f"rdu.compute: {exc}") from None


@irdl_op_definition
class KernelOp(IRDLOperation):
    """One kernel launch: its stages run concurrently as a streaming pipeline; `section` (set by
    rdu-section) is the program load it belongs to."""

    name = "rdu.kernel"
    sym_name = prop_def(StringAttr)
    section = opt_prop_def(IntegerAttr)
    body = region_def("single_block")
    traits = traits_def(NoTerminator(), SymbolOpInterface())
    assembly_format = "$sym_name attr-dict-with-keyword $body"
    irdl_options = (ParsePropInAttrDict(),)

    def __init__(self, name: str, body: Region):
        super().__init__(properties={"sym_name": StringAttr(name)}, regions=[body])

    def stages(self) -> list[StageOp]:
        return [op for op in self.body.block.ops if isinstance(op, StageOp)]

    def verify_(self) -> None:
        for op in self.body.block.ops:
            require(isinstance(op, StageOp), f"rdu.kernel: {op.name} is not a stage")


# --- the module's target and summary -----------------------------------------------------------


def target_of(module: ModuleOp) -> str | None:
    """The chip the module targets (name or chip-spec path), or None if no target is set."""
    attr = module.attributes.get(TARGET_ATTR)
    return attr.chip.data if isinstance(attr, TargetAttr) else None


def set_target(module: ModuleOp, chip: str) -> None:
    module.attributes[TARGET_ATTR] = TargetAttr(chip)


def chip_of(module: ModuleOp, needed_by: str = "this pass") -> str:
    """The chip the module targets; a clear error if no target is set yet."""
    chip = target_of(module)
    if chip is None:
        raise PassOrderError(f"{needed_by} needs a target chip: run rdu-target{{chip=NAME}} first "
                             f"(or give the module a {TARGET_ATTR} attribute)")
    return chip


def require_lowered(module: ModuleOp, needed_by: str) -> None:
    """A pass on rdu IR refuses a module that still holds ops of the level above."""
    foreign = next((op for op in module.body.block.ops if not isinstance(op, (TensorOp, KernelOp))), None)
    if foreign is not None:
        raise PassOrderError(f"{needed_by} runs on rdu IR, but the module holds {foreign.name}: run rdu-lower first")


def placement_summary(module: ModuleOp) -> PlacementSummaryAttr | None:
    attr = module.attributes.get(PLACEMENT_ATTR)
    return attr if isinstance(attr, PlacementSummaryAttr) else None


def tensors(module: ModuleOp) -> list[TensorOp]:
    return [op for op in module.body.block.ops if isinstance(op, TensorOp)]


def kernels(module: ModuleOp) -> list[KernelOp]:
    return [op for op in module.body.block.ops if isinstance(op, KernelOp)]


RDU = Dialect("rdu", [TensorOp, LoadOp, LoadRowsOp, StoreOp, StoreRowsOp, BufferOp, ComputeOp, KernelOp], [*ATTRIBUTES, ShardAttr, LayerLoopAttr])
