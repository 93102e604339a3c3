"""The decoded contents of a bitstream: plain data, no behaviour beyond lookups.

The backend builds these objects and encodes them; the simulator decodes them and executes them.
Neither side needs anything else to agree on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from math import prod
from typing import Any

# dtype name -> (code, itemsize). Codes are part of the format.
DTYPES: dict[str, tuple[int, int]] = {
    "f32": (0, 4),
    "f16": (1, 2),
    "bf16": (2, 2),
    "f64": (3, 8),
    "i64": (4, 8),
    "i32": (5, 4),
    "i16": (6, 2),
    "i8": (7, 1),
    "u8": (8, 1),
    "i1": (9, 1),
}
DTYPE_BY_CODE = {code: name for name, (code, _) in DTYPES.items()}
TIERS = ("hbm", "ddr", "sram")
# "state": persists between runs of the program (a KV cache), initialised from the image once and
# updated in place by `store_rows` stages (docs/generate.md)
ROLES = ("input", "output", "weight", "constant", "activation", "state", "spill")
NETWORKS = ("vector", "scalar")
UNIT_KINDS = ("pcu", "pmu", "agcu")


def itemsize(dtype: str) -> int:
    return DTYPES[dtype][1]


def nbytes_of(dtype: str, shape: tuple[int, ...]) -> int:
    return itemsize(dtype) * prod(shape)


@dataclass(frozen=True)
class TensorEntry:
    """A tensor's home in an off-chip tier: where it lives, what it is, who made it."""

    id: int
    name: str
    dtype: str
    shape: tuple[int, ...]
    tier: str
    offset: int
    nbytes: int
    role: str
    source: str = ""  # model source line that produced it, for diagnostics


@dataclass(frozen=True)
class StageConfig:
    """One configured stage: a group of units of one kind that together execute one opcode.

    AGCU stages load or store `tensor`; PMU stages hold `buffer_bytes` per PMU; PCU stages run
    `opcode` on their input streams, in port order, and emit their output streams.
    """

    id: int
    kernel: int
    unit: str
    opcode: str
    sites: tuple[tuple[int, int], ...]
    inputs: tuple[int, ...] = ()
    outputs: tuple[int, ...] = ()
    attrs: dict[str, Any] = field(default_factory=dict)
    tensor: int = -1
    buffer_bytes: int = 0
    label: str = ""


@dataclass(frozen=True)
class StreamEntry:
    """A producer-consumer stream over the on-chip network, with its routed path."""

    id: int
    src: int
    dsts: tuple[int, ...]
    dtype: str
    shape: tuple[int, ...]
    network: str = "vector"
    tile_bytes: int = 0
    hops: tuple[int, ...] = ()  # per destination, in dsts order
    links: tuple[tuple[int, int, int, int], ...] = ()  # (x0, y0, x1, y1) switch-to-switch links
    fifo_depth: int = 2  # credits: tiles the FIFO at each destination holds (the compiler's choice)

    @property
    def nbytes(self) -> int:
        return nbytes_of(self.dtype, self.shape)


@dataclass(frozen=True)
class KernelEntry:
    id: int
    name: str
    section: int
    stages: tuple[int, ...]


@dataclass(frozen=True)
class SectionEntry:
    """A unit of execution that fits the chip; switching sections pays a program load."""

    id: int
    name: str
    kernels: tuple[int, ...]


TILE_KINDS = ("stream", "rows", "matmul", "whole")
REDUCE_MODES = ("none", "running", "two-pass", "k-accumulate")
REUSE = ("", "a", "b")
SPACES = ("hbm", "ddr", "sram")


@dataclass(frozen=True)
class Pattern:
    """An address pattern one unit walks, one access per tile. Access j covers the bytes
    [offset + j*stride, offset + j*stride + tile) clipped to [offset, offset + extent).
    In `hbm`/`ddr` (an AGCU) j runs 0..count-1 once; in `sram` (a PMU buffer) tile j of the stream
    goes to PMU j mod units of the stage and the pattern wraps: its access index is (j div units)
    mod count (a ring of `count` slots per PMU)."""

    space: str
    offset: int
    stride: int
    count: int
    tile: int
    extent: int


@dataclass(frozen=True)
class TileProgram:
    """How one stage runs tile by tile (docs/bitstream.md, section TILE).

    `kind`: `stream` (load/store/buffer: moves `grid[0]` tiles of `tile[0]` bytes), `rows` (grid
    [row tiles, column chunks], tile [rows, columns] over the value flattened to rows x last dim,
    or rows x reduced elements for a reduction), `matmul` (grid [batch, M tiles, N tiles, K tiles],
    tile [mt, nt, kt], output-stationary, K innermost), `whole` (one tile: the whole value).
    `sram_*` is the SRAM address range the stage holds on each of its PMUs (bytes 0: none).
    `passes` (format 3.3): a matmul with `restream` "a" or "b" runs its loop in `passes` blocks of
    the other operand, held in its PMU buffer, and takes the re-streamed operand from HBM once per
    block; the load of that operand walks its address pattern `passes` times."""

    stage: int
    kind: str
    grid: tuple[int, ...]
    tile: tuple[int, ...]
    order: str = ""
    reduce: str = "none"
    reuse: str = ""
    sram_base: int = 0
    sram_bytes: int = 0
    sram_slots: int = 0
    sram_tile: int = 0
    patterns: tuple[Pattern, ...] = ()
    restream: str = ""
    passes: int = 1

    @property
    def trip_count(self) -> int:
        return prod(self.grid)


@dataclass
class Bitstream:
    chip: str
    manifest: dict[str, Any]
    tensors: list[TensorEntry]
    stages: list[StageConfig]
    streams: list[StreamEntry]
    kernels: list[KernelEntry]
    sections: list[SectionEntry]
    image: dict[int, bytes | None]  # tensor id -> initial bytes; None records size only
    inputs: list[int]
    outputs: list[int]
    tiles: list[TileProgram] = field(default_factory=list)  # one per stage (format 3.0)
    node: Any = None  # bitstream_format.node_program.NodeProgram of a tensor-parallel program, else None
    loop: Any = None  # bitstream_format.loop_program.LoopProgram of a looped program (format 3.3), else None

    def tile_program(self, sid: int) -> TileProgram | None:
        return self._tile_index.get(sid)

    @cached_property
    def _tile_index(self) -> dict[int, TileProgram]:
        return {t.stage: t for t in self.tiles}

    def tensor(self, tid: int) -> TensorEntry:
        return self._tensor_index[tid]

    def stage(self, sid: int) -> StageConfig:
        return self._stage_index[sid]

    def stream(self, sid: int) -> StreamEntry:
        return self._stream_index[sid]

    @cached_property
    def _tensor_index(self) -> dict[int, TensorEntry]:
        return {t.id: t for t in self.tensors}

    @cached_property
    def _stage_index(self) -> dict[int, StageConfig]:
        return {s.id: s for s in self.stages}

    @cached_property
    def _stream_index(self) -> dict[int, StreamEntry]:
        return {s.id: s for s in self.streams}
