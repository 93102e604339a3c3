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
ROLES = ("input", "output", "weight", "constant", "activation", "state")
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
