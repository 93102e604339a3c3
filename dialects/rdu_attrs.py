"""Types and attributes of the `rdu` dialect.

The hardware-level IR names what the chip needs, not strings checked by hand: unit kinds, memory
tiers, tensor roles and networks are enums; a value streaming between stages
(`!rdu.stream<4x8xf32>`) and a tensor homed in memory (`!rdu.mem<4x8xf32>`) are distinct types, so
a stage that reads memory directly does not verify; placed sites, routes, the target chip and the
placement summary are structured attributes that passes read and write as Python values.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

from xdsl.dialects.builtin import ArrayAttr, FloatData, IntAttr, ShapedType, StringAttr, TensorType
from xdsl.ir import Attribute, Data, ParametrizedAttribute, TypeAttribute
from xdsl.irdl import irdl_attr_definition, param_def
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException
from xdsl.utils.str_enum import StrEnum
from xdsl.dialects.utils import EnumAttribute

# --- enums -------------------------------------------------------------------------------------


class UnitKind(StrEnum):
    PCU = "pcu"
    PMU = "pmu"
    AGCU = "agcu"


class Tier(StrEnum):
    HBM = "hbm"
    DDR = "ddr"


class Role(StrEnum):
    INPUT = "input"
    OUTPUT = "output"
    WEIGHT = "weight"
    CONSTANT = "constant"
    ACTIVATION = "activation"
    STATE = "state"  # persists between runs, updated in place (a static KV cache)
    SPILL = "spill"  # a reconvergent branch held in HBM between two kernels (rdu-size-fifos, passes/spill.py)


class Network(StrEnum):
    VECTOR = "vector"
    SCALAR = "scalar"


class _InBrackets:
    """Prints an enum attribute as `#rdu.unit<pcu>` (EnumAttribute alone prints no brackets)."""

    def print_parameter(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            super().print_parameter(printer)

    @classmethod
    def parse_parameter(cls, parser: AttrParser):
        with parser.in_angle_brackets():
            return super().parse_parameter(parser)


@irdl_attr_definition
class UnitKindAttr(_InBrackets, EnumAttribute[UnitKind]):
    """The kind of unit a stage runs on: `#rdu.unit<pcu>`."""

    name = "rdu.unit"


@irdl_attr_definition
class TierAttr(_InBrackets, EnumAttribute[Tier]):
    """The off-chip memory a tensor is homed in: `#rdu.tier<hbm>`."""

    name = "rdu.tier"


@irdl_attr_definition
class RoleAttr(_InBrackets, EnumAttribute[Role]):
    """What a tensor is to the program: `#rdu.role<weight>`."""

    name = "rdu.role"


@irdl_attr_definition
class NetworkAttr(_InBrackets, EnumAttribute[Network]):
    """The on-chip network a stream travels: `#rdu.network<vector>`."""

    name = "rdu.network"


# --- types -------------------------------------------------------------------------------------


class _ShapedValueType(ParametrizedAttribute, TypeAttribute, ShapedType):
    """Element type and static shape, printed like a tensor's: `<4x8xf32>`, `<f32>` for rank 0.
    (Each concrete type declares the two parameters itself: irdl compares only its own.)"""

    shape: ArrayAttr[IntAttr]
    element_type: Attribute

    def __init__(self, element_type: Attribute, shape: Iterable[int]):
        super().__init__(ArrayAttr(IntAttr(d) for d in shape), element_type)

    @classmethod
    def of(cls, t: Attribute):
        """The same element type and shape as a tensor or another rdu value type."""
        assert isinstance(t, (TensorType, _ShapedValueType)), t
        return cls(t.get_element_type(), t.get_shape())

    def get_num_dims(self) -> int:
        return len(self.shape.data)

    def get_shape(self) -> tuple[int, ...]:
        return tuple(d.data for d in self.shape.data)

    def get_element_type(self) -> Attribute:
        return self.element_type

    def same_data(self, other: Attribute) -> bool:
        """Same element type and shape (a stream and the tensor it is loaded from or stored to)."""
        return isinstance(other, _ShapedValueType) and (self.shape, self.element_type) == (other.shape, other.element_type)

    def verify(self) -> None:
        if any(d.data < 0 for d in self.shape.data):
            raise VerifyException(f"{self.name}: dimensions must be static and non-negative")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            shape, element = parser.parse_ranked_shape()
        return [ArrayAttr(IntAttr(d) for d in shape), element]

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            for d in self.shape.data:
                printer.print_string(f"{d.data}x")
            printer.print_attribute(self.element_type)


@irdl_attr_definition
class StreamType(_ShapedValueType):
    """A value flowing between stages of a kernel over the on-chip network."""

    name = "rdu.stream"

    shape: ArrayAttr[IntAttr] = param_def()
    element_type: Attribute = param_def()


@irdl_attr_definition
class MemType(_ShapedValueType):
    """A tensor resident in an off-chip tier, read and written only by load and store stages."""

    name = "rdu.mem"

    shape: ArrayAttr[IntAttr] = param_def()
    element_type: Attribute = param_def()


# --- structured attributes ----------------------------------------------------------------------

Site = tuple[int, int]
Link = tuple[Site, Site]


def _parse_pair(parser: AttrParser) -> Site:
    with parser.in_parens():
        x = parser.parse_integer(allow_boolean=False, allow_negative=False)
        parser.parse_punctuation(",")
        y = parser.parse_integer(allow_boolean=False, allow_negative=False)
    return (x, y)


def _pair_text(site: Site) -> str:
    return f"({site[0]}, {site[1]})"


@irdl_attr_definition
class SitesAttr(Data[tuple[Site, ...]]):
    """The (x, y) grid sites of a stage's units, one per unit: `#rdu.sites<(0, 1), (2, 3)>`."""

    name = "rdu.sites"

    def __init__(self, sites: Iterable[Sequence[int]]):
        super().__init__(tuple((int(x), int(y)) for x, y in sites))

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> tuple[Site, ...]:
        with parser.in_angle_brackets():
            return tuple(parser.parse_comma_separated_list(parser.Delimiter.NONE, lambda: _parse_pair(parser)))

    def print_parameter(self, printer: Printer) -> None:
        printer.print_string("<" + ", ".join(_pair_text(s) for s in self.data) + ">")


@irdl_attr_definition
class RouteAttr(Data[tuple[Network, tuple[int, ...], tuple[Link, ...], float]]):
    """One stream's route: its network, the bandwidth demand it was routed with (`rate`, in
    full-rate streams, printed only below 1), switch hops to each consumer stage (in consumer
    order) and the mesh links of its multicast tree, switch to switch:
    `#rdu.route<vector, rate 0.755, hops [1, 2], links [(0, 0) -> (1, 0), (1, 0) -> (1, 1)]>`.

    The rate is what rdu-route decided the stream carries (`backend_rdu.stream_rates`): the
    router shares a link's bandwidth by it, so it is recorded with the route it produced."""

    name = "rdu.route"

    @classmethod
    def build(cls, hops: Iterable[int], links: Iterable[tuple[Sequence[int], Sequence[int]]],
              network: Network = Network.VECTOR, rate: float = 1.0) -> RouteAttr:
        if not 0 < rate <= 1:
            raise VerifyException(f"rdu.route: rate must be in (0, 1] full-rate streams, got {rate}")
        return cls((network, tuple(int(h) for h in hops),
                    tuple(((int(a[0]), int(a[1])), (int(b[0]), int(b[1]))) for a, b in links), float(rate)))

    @property
    def network(self) -> str:
        return self.data[0].value

    @property
    def hops(self) -> tuple[int, ...]:
        return self.data[1]

    @property
    def links(self) -> tuple[Link, ...]:
        return self.data[2]

    @property
    def rate(self) -> float:
        return self.data[3]

    @classmethod
    def parse_parameter(cls, parser: AttrParser):
        def link() -> Link:
            a = _parse_pair(parser)
            parser.parse_punctuation("->")
            return (a, _parse_pair(parser))

        with parser.in_angle_brackets():
            network = parser.parse_str_enum(Network)
            parser.parse_punctuation(",")
            rate = 1.0
            if parser.parse_optional_keyword("rate") is not None:
                rate = parser.parse_float()
                if not 0 < rate <= 1:
                    parser.raise_error(f"rdu.route: rate must be in (0, 1] full-rate streams, got {rate}")
                parser.parse_punctuation(",")
            parser.parse_keyword("hops")
            hops = parser.parse_comma_separated_list(
                parser.Delimiter.SQUARE, lambda: parser.parse_integer(allow_boolean=False, allow_negative=False))
            parser.parse_punctuation(",")
            parser.parse_keyword("links")
            links = parser.parse_comma_separated_list(parser.Delimiter.SQUARE, link)
        return (network, tuple(hops), tuple(links), float(rate))

    def print_parameter(self, printer: Printer) -> None:
        hops = ", ".join(str(h) for h in self.hops)
        links = ", ".join(f"{_pair_text(a)} -> {_pair_text(b)}" for a, b in self.links)
        rate = f"rate {self.rate!r}, " if self.rate < 1 else ""
        printer.print_string(f"<{self.network}, {rate}hops [{hops}], links [{links}]>")


@irdl_attr_definition
class TargetAttr(ParametrizedAttribute):
    """The chip a module is compiled for, by name (`sn40l`, `small`) or chip-spec TOML path:
    `#rdu.target<"small">`. Set once on the module; every rdu pass reads it."""

    name = "rdu.target"

    chip: StringAttr = param_def()

    def __init__(self, chip: str):
        super().__init__(StringAttr(chip))

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            return [StringAttr(parser.parse_str_literal())]

    def print_parameters(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_string_literal(self.chip.data)


CP_SAT_COUNTERS = ("windows_solved", "windows_improved", "windows_proven_optimal", "conflicts", "branches")


@irdl_attr_definition
class PlacementSummaryAttr(ParametrizedAttribute):
    """What rdu-place did, for the bitstream manifest: only deterministic figures, so the same
    compile gives the same bytes.
    `#rdu.placement<method "greedy", seed 0, kernels 3, distinct_kernels 2, wirelength 10,
    lower_bound 8, gap 0.2, cp_sat [windows_solved 0, ...], objective "multicast-hpwl",
    budgets [0.5, 0.5, 0.25], placed_with [0, 0, 2]>`
    `objective` names what `wirelength` measures (and the placer minimised), so the bound and the
    gap can be read against it. Per kernel (module order): `budgets`, the placer seconds (counted in
    work) its placement was made with, and `placed_with`, the first kernel that shares that placement
    (kernels of one class are placed once, with one member's budget or, under `pool=true`, their pooled
    budget: docs/placement.md)."""

    name = "rdu.placement"

    method: StringAttr = param_def()
    seed: IntAttr = param_def()
    kernels: IntAttr = param_def()
    distinct_kernels: IntAttr = param_def()
    wirelength: IntAttr = param_def()
    lower_bound: IntAttr = param_def()
    gap: FloatData = param_def()
    cp_sat: ArrayAttr[IntAttr] = param_def()  # in CP_SAT_COUNTERS order
    objective: StringAttr = param_def()
    budgets: ArrayAttr[FloatData] = param_def()  # per kernel
    placed_with: ArrayAttr[IntAttr] = param_def()  # per kernel

    INT_FIELDS: ClassVar[tuple[str, ...]] = ("seed", "kernels", "distinct_kernels", "wirelength", "lower_bound")

    def __init__(self, *, method: str, seed: int, kernels: int, distinct_kernels: int, wirelength: int,
                 lower_bound: int, gap: float, cp_sat: dict[str, int], objective: str,
                 budgets: list[float], placed_with: list[int]):
        super().__init__(
            StringAttr(method), IntAttr(int(seed)), IntAttr(int(kernels)), IntAttr(int(distinct_kernels)),
            IntAttr(int(wirelength)), IntAttr(int(lower_bound)), FloatData(float(gap)), ArrayAttr(IntAttr(int(cp_sat.get(c, 0))) for c in CP_SAT_COUNTERS),
            StringAttr(objective), ArrayAttr(FloatData(float(b)) for b in budgets), ArrayAttr(IntAttr(int(k)) for k in placed_with),
        )

    def verify(self) -> None:
        if len(self.cp_sat.data) != len(CP_SAT_COUNTERS):
            raise VerifyException(f"rdu.placement: cp_sat needs {len(CP_SAT_COUNTERS)} counters ({', '.join(CP_SAT_COUNTERS)})")
        kernels = self.kernels.data
        if len(self.budgets.data) != kernels or len(self.placed_with.data) != kernels:
            raise VerifyException(f"rdu.placement: budgets and placed_with need one entry per kernel each ({kernels})")
        if any(not 0 <= k.data <= i for i, k in enumerate(self.placed_with.data)):
            raise VerifyException("rdu.placement: placed_with names a kernel at or before each kernel (the first of its class)")

    def to_json(self) -> dict:
        """The manifest's `placement` object."""
        return {
            "method": self.method.data,
            **{f: getattr(self, f).data for f in self.INT_FIELDS},
            "gap": self.gap.data,
            "cp_sat": {c: v.data for c, v in zip(CP_SAT_COUNTERS, self.cp_sat.data)},
            "objective": self.objective.data,
            "budgets": [b.data for b in self.budgets.data],
            "placed_with": [k.data for k in self.placed_with.data],
        }

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        def int_field(name: str) -> IntAttr:
            parser.parse_punctuation(",")
            parser.parse_keyword(name)
            return IntAttr(parser.parse_integer(allow_boolean=False))

        def counter(name: str) -> IntAttr:
            parser.parse_keyword(name)
            return IntAttr(parser.parse_integer(allow_boolean=False))

        with parser.in_angle_brackets():
            parser.parse_keyword("method")
            method = StringAttr(parser.parse_str_literal())
            ints = [int_field(f) for f in cls.INT_FIELDS]
            parser.parse_punctuation(",")
            parser.parse_keyword("gap")
            gap = FloatData(parser.parse_float())
            parser.parse_punctuation(",")
            parser.parse_keyword("cp_sat")
            with parser.in_square_brackets():
                counters = [counter(CP_SAT_COUNTERS[0])]
                for name in CP_SAT_COUNTERS[1:]:
                    parser.parse_punctuation(",")
                    counters.append(counter(name))
            parser.parse_punctuation(",")
            parser.parse_keyword("objective")
            objective = StringAttr(parser.parse_str_literal())
            parser.parse_punctuation(",")
            parser.parse_keyword("budgets")
            budgets = parser.parse_comma_separated_list(parser.Delimiter.SQUARE, lambda: FloatData(parser.parse_float()))
            parser.parse_punctuation(",")
            parser.parse_keyword("placed_with")
            placed_with = parser.parse_comma_separated_list(parser.Delimiter.SQUARE,
                                                            lambda: IntAttr(parser.parse_integer(allow_boolean=False)))
        return [method, *ints, gap, ArrayAttr(counters), objective, ArrayAttr(budgets), ArrayAttr(placed_with)]

    def print_parameters(self, printer: Printer) -> None:
        ints = ", ".join(f"{f} {getattr(self, f).data}" for f in self.INT_FIELDS)
        counters = ", ".join(f"{c} {v.data}" for c, v in zip(CP_SAT_COUNTERS, self.cp_sat.data))
        printer.print_string("<method ")
        printer.print_string_literal(self.method.data)
        printer.print_string(f", {ints}, gap {self.gap.data:.6f}, cp_sat [{counters}], objective ")
        printer.print_string_literal(self.objective.data)
        budgets = ", ".join(_float_literal(b.data) for b in self.budgets.data)
        placed_with = ", ".join(str(k.data) for k in self.placed_with.data)
        printer.print_string(f", budgets [{budgets}], placed_with [{placed_with}]>")


def _float_literal(value: float) -> str:
    """The shortest text that parses back to `value` exactly, as an MLIR float literal (which needs
    a point before any exponent): a manifest read back from textual IR keeps its bytes."""
    text = repr(float(value))
    mantissa, e, exponent = text.partition("e")
    return text if "." in mantissa or not e else f"{mantissa}.0e{exponent}"


# --- tile programs (rdu-tile) -------------------------------------------------------------------

TILE_KINDS = ("stream", "rows", "matmul", "whole")
TILE_REDUCE = ("none", "running", "two-pass", "k-accumulate")
TILE_REUSE = ("", "a", "b")
TILE_RANKS = {"stream": (1, 1), "rows": (2, 2), "matmul": (4, 3), "whole": (1, None)}  # (grid, tile) lengths
PATTERN_SPACES = ("hbm", "ddr", "sram")


def _int_list(parser: AttrParser) -> list[int]:
    return parser.parse_comma_separated_list(parser.Delimiter.SQUARE, lambda: parser.parse_integer(allow_boolean=False))


def _keyword_int(parser: AttrParser, name: str, first: bool = False) -> IntAttr:
    if not first:
        parser.parse_punctuation(",")
    parser.parse_keyword(name)
    return IntAttr(parser.parse_integer(allow_boolean=False))


@irdl_attr_definition
class TileLoopAttr(ParametrizedAttribute):
    """A stage's loop over tiles (see bitstream_format/tiling.py for the kinds):
    `#rdu.tile_loop<rows, grid [4, 1], tile [2, 64], order "rows", reduce "none", reuse "">`;
    a matmul's is output-stationary with K innermost:
    `#rdu.tile_loop<matmul, grid [1, 1, 4, 2], tile [8, 32, 32], order "b,m,n,k", reduce "k-accumulate", reuse "a">`.
    Its trip count is the product of `grid`. A matmul whose operands both overflow their PMU
    buffers re-streams one from HBM in `passes` blocks of the other (printed only then,
    `..., reuse "a", restream "b", passes 12>`), and that operand's load walks its pattern
    `passes` times (`#rdu.tile_loop<stream, ..., reuse "", passes 12>`; tiling.reread_plan)."""

    name = "rdu.tile_loop"

    kind: StringAttr = param_def()
    grid: ArrayAttr[IntAttr] = param_def()
    tile: ArrayAttr[IntAttr] = param_def()
    order: StringAttr = param_def()
    reduce: StringAttr = param_def()
    reuse: StringAttr = param_def()
    restream: StringAttr = param_def()
    passes: IntAttr = param_def()

    def __init__(self, kind: str, grid: Iterable[int], tile: Iterable[int], order: str, reduce: str = "none",
                 reuse: str = "", restream: str = "", passes: int = 1):
        super().__init__(StringAttr(kind), ArrayAttr(IntAttr(int(g)) for g in grid),
                         ArrayAttr(IntAttr(int(t)) for t in tile), StringAttr(order), StringAttr(reduce),
                         StringAttr(reuse), StringAttr(restream), IntAttr(int(passes)))

    def grid_values(self) -> tuple[int, ...]:
        return tuple(g.data for g in self.grid.data)

    def tile_values(self) -> tuple[int, ...]:
        return tuple(t.data for t in self.tile.data)

    @property
    def trip_count(self) -> int:
        n = 1
        for g in self.grid_values():
            n *= g
        return n

    def verify(self) -> None:
        kind = self.kind.data
        if kind not in TILE_KINDS:
            raise VerifyException(f"rdu.tile_loop: kind {kind!r} is not one of {', '.join(TILE_KINDS)}")
        if self.reduce.data not in TILE_REDUCE:
            raise VerifyException(f"rdu.tile_loop: reduce {self.reduce.data!r} is not one of {', '.join(TILE_REDUCE)}")
        if self.reuse.data not in TILE_REUSE:
            raise VerifyException(f"rdu.tile_loop: reuse {self.reuse.data!r} is not \"\", \"a\" or \"b\"")
        if self.restream.data not in TILE_REUSE or self.passes.data < 1 \
                or (self.restream.data and kind != "matmul") or (self.passes.data > 1 and kind not in ("matmul", "stream")):
            raise VerifyException(f"rdu.tile_loop: restream {self.restream.data!r} passes {self.passes.data}: passes "
                                  f"are at least 1, and only a matmul re-streams an operand (\"a\" or \"b\")")
        grid_rank, tile_rank = TILE_RANKS[kind]
        if len(self.grid.data) != grid_rank or (tile_rank is not None and len(self.tile.data) != tile_rank):
            raise VerifyException(f"rdu.tile_loop: a {kind} loop has {grid_rank} grid and "
                                  f"{tile_rank if tile_rank is not None else 'any number of'} tile dims, got "
                                  f"{len(self.grid.data)} and {len(self.tile.data)}")
        if any(g < 1 for g in self.grid_values()) or any(t < 1 for t in self.tile_values()):
            raise VerifyException(f"rdu.tile_loop: grid and tile dims must be at least 1, got grid "
                                  f"{list(self.grid_values())} tile {list(self.tile_values())}")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        def text(name: str) -> StringAttr:
            parser.parse_punctuation(",")
            parser.parse_keyword(name)
            return StringAttr(parser.parse_str_literal())

        with parser.in_angle_brackets():
            kind = StringAttr(parser.parse_identifier())
            parser.parse_punctuation(",")
            parser.parse_keyword("grid")
            grid = ArrayAttr(IntAttr(g) for g in _int_list(parser))
            parser.parse_punctuation(",")
            parser.parse_keyword("tile")
            tile = ArrayAttr(IntAttr(t) for t in _int_list(parser))
            order, reduce, reuse = text("order"), text("reduce"), text("reuse")
            restream, passes = StringAttr(""), IntAttr(1)
            if parser.parse_optional_punctuation(",") is not None:  # `restream "b", passes 3` or `passes 3`
                if parser.parse_optional_keyword("restream") is not None:
                    restream = StringAttr(parser.parse_str_literal())
                    parser.parse_punctuation(",")
                parser.parse_keyword("passes")
                passes = IntAttr(parser.parse_integer(allow_boolean=False))
        return [kind, grid, tile, order, reduce, reuse, restream, passes]

    def print_parameters(self, printer: Printer) -> None:
        grid = ", ".join(str(g) for g in self.grid_values())
        tile = ", ".join(str(t) for t in self.tile_values())
        printer.print_string(f"<{self.kind.data}, grid [{grid}], tile [{tile}], order ")
        printer.print_string_literal(self.order.data)
        printer.print_string(", reduce ")
        printer.print_string_literal(self.reduce.data)
        printer.print_string(", reuse ")
        printer.print_string_literal(self.reuse.data)
        if self.restream.data:
            printer.print_string(", restream ")
            printer.print_string_literal(self.restream.data)
        if self.passes.data != 1 or self.restream.data:
            printer.print_string(f", passes {self.passes.data}")
        printer.print_string(">")


@irdl_attr_definition
class SramAttr(ParametrizedAttribute):
    """The SRAM address range a PMU stage holds on each of its PMUs, and its ring of tile slots
    (the FIFO's credits spread over the PMUs): `#rdu.sram<base 0, bytes 1448, slots 2, tile 724>`."""

    name = "rdu.sram"

    base: IntAttr = param_def()
    bytes: IntAttr = param_def()
    slots: IntAttr = param_def()
    tile: IntAttr = param_def()

    FIELDS: ClassVar[tuple[str, ...]] = ("base", "bytes", "slots", "tile")

    def __init__(self, base: int, nbytes: int, slots: int, tile: int):
        super().__init__(IntAttr(int(base)), IntAttr(int(nbytes)), IntAttr(int(slots)), IntAttr(int(tile)))

    def verify(self) -> None:
        base, nbytes, slots, tile = (getattr(self, f).data for f in self.FIELDS)
        if base < 0 or nbytes < 0 or slots < 0 or tile < 0:
            raise VerifyException("rdu.sram: base, bytes, slots and tile must be non-negative")
        if slots * tile > nbytes:
            raise VerifyException(f"rdu.sram: {slots} slots of {tile} bytes do not fit the {nbytes}-byte range")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            return [_keyword_int(parser, f, first=(i == 0)) for i, f in enumerate(cls.FIELDS)]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string("<" + ", ".join(f"{f} {getattr(self, f).data}" for f in self.FIELDS) + ">")


@irdl_attr_definition
class PatternAttr(ParametrizedAttribute):
    """An address pattern, one access per tile: access j covers [offset + j*stride, + tile) within
    [offset, offset + extent). An AGCU walks its tensor in `hbm`/`ddr` once; a PMU buffer writes
    and reads its ring in `sram`, tile j on PMU j mod units at access (j div units) mod count:
    `#rdu.pattern<hbm, offset 40960, stride 724, count 3, tile 724, extent 2048>`."""

    name = "rdu.pattern"

    space: StringAttr = param_def()
    offset: IntAttr = param_def()
    stride: IntAttr = param_def()
    count: IntAttr = param_def()
    tile: IntAttr = param_def()
    extent: IntAttr = param_def()

    FIELDS: ClassVar[tuple[str, ...]] = ("offset", "stride", "count", "tile", "extent")

    def __init__(self, space: str, offset: int, stride: int, count: int, tile: int, extent: int):
        super().__init__(StringAttr(space), *(IntAttr(int(v)) for v in (offset, stride, count, tile, extent)))

    def values(self) -> tuple[int, ...]:
        return tuple(getattr(self, f).data for f in self.FIELDS)

    def verify(self) -> None:
        if self.space.data not in PATTERN_SPACES:
            raise VerifyException(f"rdu.pattern: space {self.space.data!r} is not one of {', '.join(PATTERN_SPACES)}")
        offset, stride, count, tile, extent = self.values()
        if offset < 0 or stride < 0 or count < 1 or tile < 1 or extent < 1:
            raise VerifyException("rdu.pattern: offset and stride must be non-negative, count, tile and extent at least 1")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            space = StringAttr(parser.parse_identifier())
            return [space, *(_keyword_int(parser, f) for f in cls.FIELDS)]

    def print_parameters(self, printer: Printer) -> None:
        printer.print_string(f"<{self.space.data}, " + ", ".join(f"{f} {v}" for f, v in zip(self.FIELDS, self.values())) + ">")


ATTRIBUTES = [UnitKindAttr, TierAttr, RoleAttr, NetworkAttr, StreamType, MemType, SitesAttr, RouteAttr, TargetAttr,
              PlacementSummaryAttr, TileLoopAttr, SramAttr, PatternAttr]
