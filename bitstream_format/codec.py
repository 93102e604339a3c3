"""Binary encoding of a Bitstream (`.rbit`), specified in docs/bitstream.md.

Layout: a fixed header (magic, version, payload length, SHA-256 of the payload), then the payload:
the chip name, a section directory and the sections. All integers are little-endian. Encoding is a
pure function of the Bitstream, so the same compile gives byte-identical files.
"""

from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import replace
from typing import Any, Callable

from rducc_errors import UserError

from bitstream_format.model import (
    DTYPE_BY_CODE,
    DTYPES,
    NETWORKS,
    REDUCE_MODES,
    REUSE,
    ROLES,
    SPACES,
    TIERS,
    TILE_KINDS,
    UNIT_KINDS,
    Bitstream,
    KernelEntry,
    SectionEntry,
    StageConfig,
    StreamEntry,
    TensorEntry,
    Pattern,
    TileProgram,
)
from bitstream_format.opcodes import BY_CODE, opcode

MAGIC = b"RDUBITS\x00"
VERSION = (3, 5)  # 3.0: TILE section; 3.1: optional NODE section (bitstream_format.node_program); 3.2: role spill;
# 3.3: optional LOOP section (bitstream_format.loop_program); tile loop orders `b,n,m,k` (head-outer
# matmul) and `rows@A` (a permute streaming rows that arrive in order A); TILE's trailing table of
# re-read passes (a 3.2 reader ignores it); 3.4: tile loop orders `m,b,n,k` (a batched matmul run
# query-block outer) and blocked arrivals `rows@d/B,A` (a permute filling windows of output rows);
# LOOP's prologue and epilogue kernels (a whole decode step in one file), after its addresses (a 3.3
# reader ignores them); opcode 81 load_rows; 3.5: window orders `transpose` (a permute swapping the last
# two axes) and `repeat` (an expand), each with four SRAM address patterns; attention at batch > 1:
# order `o{O},m,b,n,k` and blocked arrivals with outer dims `rows@0,d/B,A` (a 3.4 reader refuses them)
HEADER = struct.Struct("<8sHHQ32s")  # magic, major, minor, payload length, sha256(payload)
IMAGE_ALIGN = 64
SECTION_ORDER = ("MANF", "TENS", "STGE", "STRM", "TILE", "KERN", "SECT", "IOMP", "MEMI")
TILE_FIXED = "IBBBqqqq"  # stage, kind, reduce, reuse, sram base, sram bytes, sram slots, sram tile
PATTERN = "Bqqqqq"  # space, offset, stride, count, tile, extent
PASSES = "IBq"  # stage, re-streamed operand (REUSE), passes


class BitstreamError(UserError, ValueError):
    """A file that is not a valid rducc bitstream (corrupt, truncated or of another version)."""


class _Writer:
    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def pack(self, fmt: str, *values: Any) -> None:
        self.parts.append(struct.pack("<" + fmt, *values))

    def str(self, s: str) -> None:
        data = s.encode()
        self.pack("I", len(data))
        self.parts.append(data)

    def ints(self, values: tuple[int, ...] | list[int]) -> None:
        self.pack("I", len(values))
        self.pack(f"{len(values)}q", *values)

    def value(self, v: Any) -> None:
        """Typed attribute value: tag byte then payload."""
        if isinstance(v, bool):
            self.pack("cB", b"b", int(v))
        elif isinstance(v, int):
            self.pack("cq", b"i", v)
        elif isinstance(v, float):
            self.pack("cd", b"f", v)
        elif isinstance(v, str):
            self.pack("c", b"s")
            self.str(v)
        elif isinstance(v, (list, tuple)) and all(isinstance(x, int) and not isinstance(x, bool) for x in v):
            self.pack("c", b"I")
            self.ints(list(v))
        elif v is None:
            self.pack("c", b"n")
        else:
            raise TypeError(f"attribute value {v!r} has no bitstream encoding")

    def attrs(self, attrs: dict[str, Any]) -> None:
        self.pack("I", len(attrs))
        for key in sorted(attrs):
            self.str(key)
            self.value(attrs[key])

    def bytes(self) -> bytes:
        return b"".join(self.parts)


class _Reader:
    def __init__(self, data: bytes, where: str) -> None:
        self.data, self.pos, self.where = data, 0, where

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        s = struct.Struct("<" + fmt)
        if self.pos + s.size > len(self.data):
            raise BitstreamError(f"section {self.where} is truncated")
        out = s.unpack_from(self.data, self.pos)
        self.pos += s.size
        return out

    def one(self, fmt: str) -> Any:
        return self.unpack(fmt)[0]

    def str(self) -> str:
        n = self.one("I")
        if self.pos + n > len(self.data):
            raise BitstreamError(f"section {self.where} is truncated")
        s = self.data[self.pos : self.pos + n].decode()
        self.pos += n
        return s

    def ints(self) -> tuple[int, ...]:
        n = self.one("I")
        return self.unpack(f"{n}q")

    def value(self) -> Any:
        tag = self.one("c")
        match tag:
            case b"b":
                return bool(self.one("B"))
            case b"i":
                return self.one("q")
            case b"f":
                return self.one("d")
            case b"s":
                return self.str()
            case b"I":
                return list(self.ints())
            case b"n":
                return None
        raise BitstreamError(f"section {self.where}: unknown attribute tag {tag!r}")

    def attrs(self) -> dict[str, Any]:
        return {self.str(): self.value() for _ in range(self.one("I"))}

    def records(self, read_one: Callable[[], Any]) -> list[Any]:
        return [read_one() for _ in range(self.one("I"))]


def _enum(values: tuple[str, ...], name: str) -> int:
    return values.index(name)


def _from_enum(values: tuple[str, ...], index: int, where: str) -> str:
    if not 0 <= index < len(values):
        raise BitstreamError(f"section {where}: value {index} out of range")
    return values[index]


def _encode_sections(bs: Bitstream) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    w = _Writer()
    w.str(json.dumps(bs.manifest, sort_keys=True, separators=(",", ":")))
    out["MANF"] = w.bytes()

    w = _Writer()
    w.pack("I", len(bs.tensors))
    for t in bs.tensors:
        w.pack("IBBBQQ", t.id, DTYPES[t.dtype][0], _enum(TIERS, t.tier), _enum(ROLES, t.role), t.offset, t.nbytes)
        w.ints(t.shape)
        w.str(t.name)
        w.str(t.source)
    out["TENS"] = w.bytes()

    w = _Writer()
    w.pack("I", len(bs.stages))
    for s in bs.stages:
        w.pack("IIBHqQ", s.id, s.kernel, _enum(UNIT_KINDS, s.unit), opcode(s.opcode).code, s.tensor, s.buffer_bytes)
        w.ints([c for site in s.sites for c in site])
        w.ints(s.inputs)
        w.ints(s.outputs)
        w.attrs(s.attrs)
        w.str(s.label)
    out["STGE"] = w.bytes()

    w = _Writer()
    w.pack("I", len(bs.streams))
    for s in bs.streams:
        w.pack("IIBBQI", s.id, s.src, DTYPES[s.dtype][0], _enum(NETWORKS, s.network), s.tile_bytes, s.fifo_depth)
        w.ints(s.dsts)
        w.ints(s.shape)
        w.ints(s.hops)
        w.ints([c for link in s.links for c in link])
    out["STRM"] = w.bytes()

    w = _Writer()
    w.pack("I", len(bs.tiles))
    for t in sorted(bs.tiles, key=lambda t: t.stage):
        w.pack(TILE_FIXED, t.stage, _enum(TILE_KINDS, t.kind), _enum(REDUCE_MODES, t.reduce), _enum(REUSE, t.reuse),
               t.sram_base, t.sram_bytes, t.sram_slots, t.sram_tile)
        w.ints(t.grid)
        w.ints(t.tile)
        w.str(t.order)
        w.pack("I", len(t.patterns))
        for p in t.patterns:
            w.pack(PATTERN, _enum(SPACES, p.space), p.offset, p.stride, p.count, p.tile, p.extent)
    repeated = [t for t in sorted(bs.tiles, key=lambda t: t.stage) if t.passes != 1 or t.restream]
    w.pack("I", len(repeated))  # 3.3: after the records, so that a 3.2 reader, which stops there, ignores it
    for t in repeated:
        w.pack(PASSES, t.stage, _enum(REUSE, t.restream), t.passes)
    out["TILE"] = w.bytes()

    w = _Writer()
    w.pack("I", len(bs.kernels))
    for k in bs.kernels:
        w.pack("II", k.id, k.section)
        w.str(k.name)
        w.ints(k.stages)
    out["KERN"] = w.bytes()

    w = _Writer()
    w.pack("I", len(bs.sections))
    for sec in bs.sections:
        w.pack("I", sec.id)
        w.str(sec.name)
        w.ints(sec.kernels)
    out["SECT"] = w.bytes()

    w = _Writer()
    w.ints(bs.inputs)
    w.ints(bs.outputs)
    out["IOMP"] = w.bytes()

    w = _Writer()
    w.pack("I", len(bs.image))
    blobs: list[bytes] = []
    offset = 0
    for tid in sorted(bs.image):
        data, size = bs.image[tid], bs.tensor(tid).nbytes
        if data is None:
            w.pack("IBQQ", tid, 0, 0, size)
            continue
        if len(data) != size:
            raise ValueError(f"memory image of tensor {tid} has {len(data)} bytes, expected {size}")
        pad = -offset % IMAGE_ALIGN
        blobs += [b"\x00" * pad, data]
        offset += pad
        w.pack("IBQQ", tid, 1, offset, size)
        offset += size
    table = w.bytes()
    out["MEMI"] = struct.pack("<Q", len(table)) + table + b"".join(blobs)
    return out


def encode(bs: Bitstream) -> bytes:
    sections = _encode_sections(bs)
    order = SECTION_ORDER
    if bs.node is not None:
        from bitstream_format.node_program import encode_node

        sections["NODE"] = encode_node(bs.node, _Writer)
        order = (*order, "NODE")
    if bs.loop is not None:
        from bitstream_format.loop_program import encode_loop

        sections["LOOP"] = encode_loop(bs.loop, _Writer)
        order = (*order, "LOOP")
    chip = bs.chip.encode()
    directory_size = 4 + len(order) * 20
    head = struct.pack("<I", len(chip)) + chip
    offset = len(head) + directory_size
    directory = [struct.pack("<I", len(order))]
    for tag in order:
        directory.append(struct.pack("<4sQQ", tag.encode(), offset, len(sections[tag])))
        offset += len(sections[tag])
    payload = head + b"".join(directory) + b"".join(sections[t] for t in order)
    return HEADER.pack(MAGIC, *VERSION, len(payload), hashlib.sha256(payload).digest()) + payload


def read_sections(data: bytes) -> tuple[str, dict[str, bytes]]:
    """Check the header and checksum, and split the payload into its sections."""
    if len(data) < HEADER.size:
        raise BitstreamError(f"file is truncated: {len(data)} bytes is shorter than the {HEADER.size}-byte header")
    magic, major, minor, length, digest = HEADER.unpack_from(data)
    if magic != MAGIC:
        raise BitstreamError("not an rducc bitstream (bad magic number)")
    if major != VERSION[0]:
        raise BitstreamError(f"bitstream format version {major}.{minor} is not supported (this reader: {VERSION[0]}.x)")
    payload = data[HEADER.size :]
    if len(payload) < length:
        raise BitstreamError(f"file is truncated: payload has {len(payload)} of {length} bytes")
    if len(payload) > length:
        raise BitstreamError(f"file has {len(payload) - length} stray bytes after its {length}-byte payload")
    if hashlib.sha256(payload).digest() != digest:
        raise BitstreamError("checksum mismatch: the bitstream is corrupted")
    r = _Reader(payload, "header")
    chip = r.str()
    sections = {}
    for _ in range(r.one("I")):
        tag, off, size = r.unpack("4sQQ")
        sections[tag.decode()] = payload[off : off + size]
    missing = [t for t in SECTION_ORDER if t not in sections]
    if missing:
        raise BitstreamError(f"bitstream lacks section(s) {', '.join(missing)}")
    return chip, sections


def decode(data: bytes) -> Bitstream:
    chip, sec = read_sections(data)
    try:
        bs = _decode_sections(chip, sec)
    except (struct.error, UnicodeDecodeError, json.JSONDecodeError, KeyError) as exc:
        raise BitstreamError(f"malformed bitstream: {exc}") from None
    _check_references(bs)
    return bs


def _check_references(bs: Bitstream) -> None:
    """Every id a record names must exist: a reader may then index freely."""
    tensors = {t.id for t in bs.tensors}
    stages = {s.id for s in bs.stages}
    streams = {s.id for s in bs.streams}
    kernels = {k.id for k in bs.kernels}

    def need(ids, known: set[int], what: str, where: str) -> None:
        for i in ids:
            if i not in known:
                raise BitstreamError(f"malformed bitstream: {where} names {what} {i}, which does not exist")

    for s in bs.stages:
        need(s.inputs + s.outputs, streams, "stream", f"stage {s.id}")
        if s.tensor != -1:
            need([s.tensor], tensors, "tensor", f"stage {s.id}")
        need([s.kernel], kernels, "kernel", f"stage {s.id}")
    for st in bs.streams:
        need((st.src, *st.dsts), stages, "stage", f"stream {st.id}")
    for k in bs.kernels:
        need(k.stages, stages, "stage", f"kernel {k.id}")
    need([t.stage for t in bs.tiles], stages, "stage", "section TILE")
    if len({t.stage for t in bs.tiles}) != len(bs.tiles):
        raise BitstreamError("malformed bitstream: section TILE holds two tile programs for one stage")
    for sec in bs.sections:
        need(sec.kernels, kernels, "kernel", f"section {sec.id}")
    need(bs.inputs + bs.outputs + list(bs.image), tensors, "tensor", "the I/O map or memory image")
    if bs.loop is not None:
        need([t for pair in bs.loop.carries for t in pair] + [a.tensor for a in bs.loop.addresses], tensors, "tensor",
             f"loop {bs.loop.name!r}")
        need(bs.loop.kernels + bs.loop.prologue + bs.loop.epilogue, kernels, "kernel", f"loop {bs.loop.name!r}")


def _decode_sections(chip: str, sec: dict[str, bytes]) -> Bitstream:
    manifest = json.loads(_Reader(sec["MANF"], "MANF").str())

    r = _Reader(sec["TENS"], "TENS")

    def tensor() -> TensorEntry:
        tid, dt, tier, role, offset, nbytes = r.unpack("IBBBQQ")
        shape = r.ints()
        return TensorEntry(
            tid, r.str(), DTYPE_BY_CODE[dt], shape, _from_enum(TIERS, tier, "TENS"),
            offset, nbytes, _from_enum(ROLES, role, "TENS"), r.str(),
        )

    tensors = r.records(tensor)

    r = _Reader(sec["STGE"], "STGE")

    def stage() -> StageConfig:
        sid, kernel, unit, code, tensor_id, buffer_bytes = r.unpack("IIBHqQ")
        flat = r.ints()
        if code not in BY_CODE:
            raise BitstreamError(f"section STGE: unknown opcode {code}")
        return StageConfig(
            sid, kernel, _from_enum(UNIT_KINDS, unit, "STGE"), BY_CODE[code].name,
            tuple(zip(flat[::2], flat[1::2])), r.ints(), r.ints(), r.attrs(),
            tensor_id, buffer_bytes, r.str(),
        )

    stages = r.records(stage)

    r = _Reader(sec["STRM"], "STRM")

    def stream() -> StreamEntry:
        sid, src, dt, net, tile, depth = r.unpack("IIBBQI")
        dsts, shape, hops, flat = r.ints(), r.ints(), r.ints(), r.ints()
        links = tuple(tuple(flat[i : i + 4]) for i in range(0, len(flat), 4))
        return StreamEntry(sid, src, dsts, DTYPE_BY_CODE[dt], shape, _from_enum(NETWORKS, net, "STRM"), tile, hops, links,
                           depth)

    streams = r.records(stream)

    r = _Reader(sec["TILE"], "TILE")

    def pattern() -> Pattern:
        space, offset, stride, count, tile, extent = r.unpack(PATTERN)
        return Pattern(_from_enum(SPACES, space, "TILE"), offset, stride, count, tile, extent)

    def tile_program() -> TileProgram:
        stage, kind, reduce, reuse, base, nbytes, slots, tile = r.unpack(TILE_FIXED)
        grid, shape, order = r.ints(), r.ints(), r.str()
        return TileProgram(stage, _from_enum(TILE_KINDS, kind, "TILE"), grid, shape, order,
                           _from_enum(REDUCE_MODES, reduce, "TILE"), _from_enum(REUSE, reuse, "TILE"),
                           base, nbytes, slots, tile, tuple(r.records(pattern)))

    tiles = r.records(tile_program)
    if r.pos < len(r.data):  # 3.3: re-read passes, by stage (absent before 3.3: every program walks once)
        by_stage = {t.stage: i for i, t in enumerate(tiles)}
        for _ in range(r.one("I")):
            stage, restream, passes = r.unpack(PASSES)
            if stage not in by_stage:
                raise BitstreamError(f"malformed bitstream: section TILE gives passes to stage {stage}, which has no tile program")
            i = by_stage[stage]
            tiles[i] = replace(tiles[i], restream=_from_enum(REUSE, restream, "TILE"), passes=passes)

    r = _Reader(sec["KERN"], "KERN")

    def kernel() -> KernelEntry:
        kid, section = r.unpack("II")
        return KernelEntry(kid, r.str(), section, r.ints())

    kernels = r.records(kernel)

    r = _Reader(sec["SECT"], "SECT")
    sections = r.records(lambda: SectionEntry(r.one("I"), r.str(), r.ints()))

    r = _Reader(sec["IOMP"], "IOMP")
    inputs, outputs = list(r.ints()), list(r.ints())

    blob = sec["MEMI"]
    (table_len,) = struct.unpack_from("<Q", blob)
    r = _Reader(blob[8 : 8 + table_len], "MEMI")
    data = blob[8 + table_len :]
    image: dict[int, bytes | None] = {}
    for _ in range(r.one("I")):
        tid, has_values, offset, size = r.unpack("IBQQ")
        if has_values:
            if offset + size > len(data):
                raise BitstreamError("section MEMI is truncated")
            image[tid] = data[offset : offset + size]
        else:
            image[tid] = None
    node = None
    if "NODE" in sec:
        from bitstream_format.node_program import decode_node

        node = decode_node(_Reader(sec["NODE"], "NODE"))
    loop = None
    if "LOOP" in sec:
        from bitstream_format.loop_program import decode_loop

        try:
            loop = decode_loop(_Reader(sec["LOOP"], "LOOP"))
        except ValueError as exc:
            raise BitstreamError(str(exc)) from None
    return Bitstream(chip, manifest, tensors, stages, streams, kernels, sections, image, inputs, outputs, tiles, node,
                     loop)
