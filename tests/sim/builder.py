"""A hand builder for small Bitstreams, so simulator tests need no compiler.

Sites are handed out per kernel from the chip's floor plan in order; tensors get aligned
addresses in their tier unless a test places them; streams collect their destinations as
stages consume them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bitstream_format import (
    Bitstream,
    KernelEntry,
    SectionEntry,
    StageConfig,
    StreamEntry,
    TensorEntry,
    nbytes_of,
    opcode,
)
from bitstream_format.tiling import default_tile_programs
from chip_model import load_chip
from functional_sim import simulate
from functional_sim.dtypes import to_bytes

NUMPY_NAMES = {
    np.dtype(np.float32): "f32", np.dtype(np.float16): "f16", np.dtype(np.float64): "f64",
    np.dtype(np.int64): "i64", np.dtype(np.int32): "i32", np.dtype(np.int16): "i16",
    np.dtype(np.int8): "i8", np.dtype(np.uint8): "u8", np.dtype(np.bool_): "i1",
}


def dtype_name(array: np.ndarray) -> str:
    return NUMPY_NAMES[np.asarray(array).dtype]


@dataclass
class _Stream:
    id: int
    src: int
    dtype: str
    shape: tuple[int, ...]
    network: str = "vector"
    tile_bytes: int = 256
    dsts: list[int] = field(default_factory=list)
    hops: list[int] = field(default_factory=list)
    fifo_depth: int | None = None  # None: what rdu-allocate-units would record (see `depth`)


class ProgramBuilder:
    def __init__(self, chip: str = "small") -> None:
        self.chip = load_chip(chip)
        self.tensors: list[TensorEntry] = []
        self.image: dict[int, bytes | None] = {}
        self.stages: list[StageConfig] = []
        self.streams: list[_Stream] = []
        self.kernels: list[KernelEntry] = []
        self.inputs: list[int] = []
        self.outputs: list[int] = []
        self._next = {"hbm": 0, "ddr": 0}

    def tensor(self, name: str, dtype: str, shape: tuple[int, ...], *, role: str = "activation",
               tier: str = "hbm", offset: int | None = None, value: Any = None, shapes_only: bool = False,
               nbytes: int | None = None) -> int:
        tid = len(self.tensors)
        size = nbytes if nbytes is not None else nbytes_of(dtype, shape)
        if offset is None:
            offset = self._next[tier]
            self._next[tier] += -(-max(size, 1) // 64) * 64
        self.tensors.append(TensorEntry(tid, name, dtype, tuple(shape), tier, offset, size, role))
        if value is not None:
            self.image[tid] = to_bytes(np.asarray(value), dtype)
        elif shapes_only:
            self.image[tid] = None
        if role == "input":
            self.inputs.append(tid)
        if role == "output":
            self.outputs.append(tid)
        return tid

    def depth(self, s: _Stream) -> int:
        """The stream's credits: as given, else the default rdu-allocate-units records (the tiles
        the producing PMU stage's buffer holds, else the chip's `network.fifo_tiles`)."""
        if s.fifo_depth is not None:
            return s.fifo_depth
        src = self.stages[s.src]
        nbytes = nbytes_of(s.dtype, s.shape)
        if src.unit == "pmu" and src.buffer_bytes > 0:
            tile = min(s.tile_bytes, nbytes) if s.tile_bytes > 0 else nbytes
            return max(1, src.buffer_bytes * len(src.sites) // max(tile, 1))
        return self.chip.network.fifo_tiles

    def kernel(self, name: str = "k", section: int = 0) -> KernelBuilder:
        return KernelBuilder(self, name, section)

    def build(self) -> Bitstream:
        streams = [
            StreamEntry(s.id, s.src, tuple(s.dsts), s.dtype, s.shape, s.network, s.tile_bytes, tuple(s.hops),
                        fifo_depth=self.depth(s))
            for s in self.streams
        ]
        section_ids = sorted({k.section for k in self.kernels})
        sections = [
            SectionEntry(i, f"s{i}", tuple(k.id for k in self.kernels if k.section == i)) for i in section_ids
        ]
        bs = Bitstream(self.chip.name, {"test": True}, list(self.tensors), list(self.stages), streams,
                       list(self.kernels), sections, dict(self.image), list(self.inputs), list(self.outputs))
        bs.tiles = default_tile_programs(bs, self.chip.pcu.lanes, self.chip.pmu.sram_bytes)  # as rdu-tile would
        return bs


class KernelBuilder:
    def __init__(self, pb: ProgramBuilder, name: str, section: int) -> None:
        self.pb, self.id, self.section = pb, len(pb.kernels), section
        self.name = name
        self.stage_ids: list[int] = []
        self.used: set[tuple[int, int]] = set()
        pb.kernels.append(KernelEntry(self.id, name, section, ()))

    def _sites(self, kind: str, n: int) -> tuple[tuple[int, int], ...]:
        free = [(s.x, s.y) for s in self.pb.chip.sites_by_kind[kind] if (s.x, s.y) not in self.used]
        if len(free) < n:
            raise ValueError(f"test chip has only {len(free)} free {kind} sites")
        return tuple(free[:n])

    def stage(self, op: str, inputs: tuple[int, ...] = (), outputs: tuple[tuple[str, tuple[int, ...]], ...] = (),
              *, attrs: dict[str, Any] | None = None, sites: int | tuple[tuple[int, int], ...] = 1,
              unit: str | None = None, tensor: int = -1, buffer_bytes: int = 0, label: str = "",
              hops: int = 1) -> list[int]:
        unit = unit or opcode(op).unit
        placed = self._sites(unit, sites) if isinstance(sites, int) else tuple(sites)
        self.used.update(placed)
        sid = len(self.pb.stages)
        out_ids = []
        for dtype, shape in outputs:
            st = _Stream(len(self.pb.streams), sid, dtype, tuple(shape))
            self.pb.streams.append(st)
            out_ids.append(st.id)
        for i in dict.fromkeys(inputs):  # a stage reading a stream twice is one destination
            self.pb.streams[i].dsts.append(sid)
            self.pb.streams[i].hops.append(hops)
        self.pb.stages.append(StageConfig(sid, self.id, unit, op, placed, tuple(inputs), tuple(out_ids),
                                          dict(attrs or {}), tensor, buffer_bytes, label or f"{op}{sid}"))
        self.stage_ids.append(sid)
        self.pb.kernels[self.id] = KernelEntry(self.id, self.name, self.section, tuple(self.stage_ids))
        return out_ids

    def load(self, tid: int, **kw: Any) -> int:
        t = self.pb.tensors[tid]
        return self.stage("load", (), ((t.dtype, t.shape),), tensor=tid, **kw)[0]

    def store(self, stream: int, tid: int, **kw: Any) -> None:
        self.stage("store", (stream,), (), tensor=tid, **kw)

    def op(self, name: str, *inputs: int, out: tuple[str, tuple[int, ...]], **kw: Any) -> int:
        return self.stage(name, inputs, (out,), **kw)[0]


def run_op(op: str, inputs: list[Any], outs: list[tuple[str, tuple[int, ...]]], attrs: dict[str, Any] | None = None,
           in_dtypes: list[str] | None = None) -> list[np.ndarray]:
    """One kernel: load every input, run `op`, store every output; returns the simulated outputs."""
    pb = ProgramBuilder()
    arrays = [np.asarray(x) for x in inputs]
    names = in_dtypes or [dtype_name(a) for a in arrays]
    tids = [pb.tensor(f"x{i}", n, a.shape, role="input") for i, (a, n) in enumerate(zip(arrays, names))]
    k = pb.kernel()
    streams = [k.load(t) for t in tids]
    held = 2 * _Stream.tile_bytes if op == "buffer" else 0  # a buffer holds two tiles (checks reject an empty one)
    results = k.stage(op, tuple(streams), tuple(outs), attrs=attrs, buffer_bytes=held)
    for i, (stream, (dtype, shape)) in enumerate(zip(results, outs)):
        k.store(stream, pb.tensor(f"y{i}", dtype, shape, role="output"))
    cast_inputs = [a.astype(np.float32) if n == "bf16" else a for a, n in zip(arrays, names)]
    return simulate(pb.build(), cast_inputs).outputs
