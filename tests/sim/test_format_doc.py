"""docs/bitstream.md is accurate: a reader written from it alone decodes what the codec writes."""

import hashlib
import re
import struct
from pathlib import Path

import pytest

from bitstream_format import DTYPES, OPCODES, BitstreamError, decode, encode
from tests.sim.test_codec import sample, sample_with_passes

DOC = (Path(__file__).parents[2] / "docs" / "bitstream.md").read_text()
DOC_VERSION = tuple(int(x) for x in re.search(r"format version (\d+)\.(\d+)", DOC).groups())  # the version the doc specifies


class DocReader:
    """Follows the doc's primitives: little-endian, packed, str = u32 + UTF-8, ints = u32 + i64s."""

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def fmt(self, f: str):
        out = struct.unpack_from("<" + f, self.data, self.pos)
        self.pos += struct.calcsize("<" + f)
        return out

    def str(self) -> str:
        (n,) = self.fmt("I")
        self.pos += n
        return self.data[self.pos - n : self.pos].decode()

    def ints(self) -> list[int]:
        (n,) = self.fmt("I")
        return list(self.fmt(f"{n}q"))

    def value(self):
        tag = self.fmt("c")[0]
        return {b"b": lambda: bool(self.fmt("B")[0]), b"i": lambda: self.fmt("q")[0],
                b"f": lambda: self.fmt("d")[0], b"s": self.str, b"I": self.ints, b"n": lambda: None}[tag]()


def read_per_doc(data: bytes) -> dict:
    magic, major, minor, length, digest = struct.unpack_from("<8sHHQ32s", data)
    payload = data[52:]
    assert magic == b"RDUBITS\x00" and len(payload) == length and hashlib.sha256(payload).digest() == digest
    r = DocReader(payload)
    out = {"chip": r.str(), "version": (major, minor)}
    (count,) = r.fmt("I")
    directory = {}
    for _ in range(count):
        tag, off, size = r.fmt("4sQQ")
        directory[tag.decode()] = payload[off : off + size]

    s = DocReader(directory["TENS"])
    out["tensors"] = []
    for _ in range(s.fmt("I")[0]):
        tid, dtype, tier, role, offset, nbytes = s.fmt("IBBBQQ")
        out["tensors"].append((tid, dtype, tier, role, offset, nbytes, tuple(s.ints()), s.str(), s.str()))
    s = DocReader(directory["STGE"])
    out["stages"] = []
    for _ in range(s.fmt("I")[0]):
        fixed = s.fmt("IIBHqQ")
        sites, ins, outs = s.ints(), s.ints(), s.ints()
        attrs = {s.str(): s.value() for _ in range(s.fmt("I")[0])}
        out["stages"].append((fixed, sites, ins, outs, attrs, s.str()))
    s = DocReader(directory["STRM"])
    out["streams"] = [(s.fmt("IIBBQI"), s.ints(), s.ints(), s.ints(), s.ints()) for _ in range(s.fmt("I")[0])]
    s = DocReader(directory["TILE"])
    out["tiles"] = []
    for _ in range(s.fmt("I")[0]):
        fixed = s.fmt("IBBBqqqq")
        grid, tile, order = s.ints(), s.ints(), s.str()
        patterns = [s.fmt("Bqqqqq") for _ in range(s.fmt("I")[0])]
        out["tiles"].append((fixed, grid, tile, order, patterns))
    out["passes"] = [s.fmt("IBq") for _ in range(s.fmt("I")[0])] if s.pos < len(s.data) else []
    s = DocReader(directory["KERN"])
    out["kernels"] = [(s.fmt("II"), s.str(), s.ints()) for _ in range(s.fmt("I")[0])]
    s = DocReader(directory["SECT"])
    out["sections"] = [(s.fmt("I")[0], s.str(), s.ints()) for _ in range(s.fmt("I")[0])]
    s = DocReader(directory["IOMP"])
    out["io"] = (s.ints(), s.ints())
    memi = directory["MEMI"]
    (table_len,) = struct.unpack_from("<Q", memi)
    s = DocReader(memi[8 : 8 + table_len])
    region = memi[8 + table_len :]
    out["image"] = {}
    for _ in range(s.fmt("I")[0]):
        tid, has, offset, size = s.fmt("IBQQ")
        assert not has or offset % 64 == 0
        out["image"][tid] = region[offset : offset + size] if has else None
    out["manifest"] = DocReader(directory["MANF"]).str()
    if "LOOP" in directory:
        s = DocReader(directory["LOOP"])
        loop = {"name": s.str(), "trips": s.fmt("I")[0], "kernels": s.ints(), "launch": s.str(),
                "iteration_launch_cycles": s.fmt("Q")[0], "carries": [s.fmt("II") for _ in range(s.fmt("I")[0])],
                "addresses": []}
        for _ in range(s.fmt("I")[0]):
            tensor, base, stride = s.fmt("Iqq")
            images = {}
            for _ in range(s.fmt("I")[0]):
                iteration, size = s.fmt("IQ")
                images[iteration] = s.data[s.pos : s.pos + size]
                s.pos += size
            loop["addresses"].append((tensor, base, stride, images))
        loop["prologue"], loop["epilogue"] = s.ints(), s.ints()  # 3.4
        assert s.pos == len(s.data)
        out["loop"] = loop
    return out


def test_a_reader_written_from_the_doc_agrees_with_decode():
    bs = sample_with_passes()
    doc = read_per_doc(encode(bs))
    codes = {name: code for name, (code, _) in DTYPES.items()}
    assert doc["chip"] == bs.chip and doc["version"] == DOC_VERSION and "loop" not in doc
    assert [(t[0], t[1], t[4], t[5], t[6], t[7]) for t in doc["tensors"]] == [
        (t.id, codes[t.dtype], t.offset, t.nbytes, t.shape, t.name) for t in bs.tensors
    ]
    for (fixed, sites, ins, outs, attrs, label), st in zip(doc["stages"], bs.stages, strict=True):
        assert fixed[3] == OPCODES[st.opcode].code and fixed[4] == st.tensor
        assert sites == [c for xy in st.sites for c in xy] and (ins, outs) == (list(st.inputs), list(st.outputs))
        assert attrs == st.attrs and label == st.label
    assert [(s[0][0], s[0][1], s[0][5], s[1], s[2], s[3]) for s in doc["streams"]] == [
        (s.id, s.src, s.fifo_depth, list(s.dsts), list(s.shape), list(s.hops)) for s in bs.streams
    ]
    assert doc["streams"][0][4] == [0, 1, 1, 1, 1, 1, 2, 1]
    assert [(k[0], k[1], k[2]) for k in doc["kernels"]] == [((k.id, k.section), k.name, list(k.stages)) for k in bs.kernels]
    assert doc["sections"] == [(s.id, s.name, list(s.kernels)) for s in bs.sections]
    assert doc["io"] == (bs.inputs, bs.outputs) and doc["image"] == bs.image
    kinds, reduces, spaces = ("stream", "rows", "matmul", "whole"), ("none", "running", "two-pass", "k-accumulate"), \
        ("hbm", "ddr", "sram")
    assert len(doc["tiles"]) == len(bs.tiles) == len(bs.stages)
    for (fixed, grid, tile, order, patterns), t in zip(doc["tiles"], sorted(bs.tiles, key=lambda t: t.stage), strict=True):
        assert (fixed[0], kinds[fixed[1]], reduces[fixed[2]], ("", "a", "b")[fixed[3]]) == (t.stage, t.kind, t.reduce, t.reuse)
        assert fixed[4:] == (t.sram_base, t.sram_bytes, t.sram_slots, t.sram_tile)
        assert (grid, tile, order) == (list(t.grid), list(t.tile), t.order)
        assert [(spaces[p[0]], *p[1:]) for p in patterns] == [
            (p.space, p.offset, p.stride, p.count, p.tile, p.extent) for p in t.patterns]
    assert any(t.kind == "matmul" for t in bs.tiles) and any(t.patterns for t in bs.tiles)
    assert [(stage, ("", "a", "b")[restream], passes) for stage, restream, passes in doc["passes"]] == [
        (t.stage, t.restream, t.passes) for t in sorted(bs.tiles, key=lambda t: t.stage) if t.passes != 1 or t.restream]
    assert len(doc["passes"]) == 2


def test_the_doc_reader_reads_the_loop_section():
    from bitstream_format.loop_program import IterationAddress, LoopProgram

    bs = sample()
    w = next(t for t in bs.tensors if t.name == "w")
    bs.loop = LoopProgram("layers", 3, tuple(k.id for k in bs.kernels), "hardware", 1600,
                          ((bs.outputs[0], bs.inputs[0]),), (IterationAddress(w.id, 1 << 20, 4096),),
                          {(w.id, 1): b"\x01" * w.nbytes, (w.id, 2): b"\x02" * w.nbytes})
    data = encode(bs)
    loop = read_per_doc(data)["loop"]
    assert (loop["name"], loop["trips"], loop["kernels"], loop["launch"], loop["iteration_launch_cycles"]) == \
        ("layers", 3, [k.id for k in bs.kernels], "hardware", 1600)
    assert loop["carries"] == [(bs.outputs[0], bs.inputs[0])]
    assert loop["addresses"] == [(w.id, 1 << 20, 4096, {1: b"\x01" * w.nbytes, 2: b"\x02" * w.nbytes})]
    assert (loop["prologue"], loop["epilogue"]) == ([], [])
    back = decode(data).loop
    assert back == bs.loop and back.images == bs.loop.images


def test_the_doc_reader_reads_a_whole_steps_prologue_and_epilogue():
    """3.4: kernels run once before the loop and once after it, listed after the addresses."""
    from dataclasses import replace

    from bitstream_format.loop_program import LoopProgram

    bs = sample()
    ids = tuple(k.id for k in bs.kernels)
    assert len(ids) >= 2
    bs.loop = LoopProgram("layers", 2, ids[1:], "hardware", 1600, ((bs.outputs[0], bs.inputs[0]),), (), {},
                          ids[:1], ())
    data = encode(bs)
    loop = read_per_doc(data)["loop"]
    assert (loop["prologue"], loop["kernels"], loop["epilogue"]) == ([ids[0]], list(ids[1:]), [])
    assert decode(data).loop == bs.loop
    # without a prologue or epilogue the lists are empty: the loop is every kernel, as in 3.3
    old = replace(bs.loop, prologue=(), kernels=ids)
    assert decode(encode(replace(bs, loop=old))).loop == old


def test_doc_tables_match_the_code():
    rows = re.findall(r"^\| (\d+) \| `(\w+)` \| (\w+) \| (\w+) \| ([\d.]+) \| (yes)? *\|$", DOC, re.M)
    assert [(int(c), n, u, f, float(fl), bool(t)) for c, n, u, f, fl, t in rows] == [
        (o.code, o.name, o.unit, o.family, o.flops_per_element, o.transcendental) for o in OPCODES.values()
    ]
    dtypes = re.findall(r"^\| `(\w+)` \| (\d+) \| (\d+) \|", DOC, re.M)
    assert {n: (int(c), int(s)) for n, c, s in dtypes} == DTYPES


def test_stray_bytes_after_the_payload_are_refused():
    with pytest.raises(BitstreamError, match="1 stray bytes"):
        decode(encode(sample()) + b"x")


def test_the_doc_reader_reads_a_load_rows_stage():
    """3.4: opcode 81 `load_rows`, its tensor the table, its one input the index stream, attribute
    `dim`, and a stream tile program over the rows' bytes whose pattern spans the whole table."""
    import torch

    from tests.sim.test_load_rows import HIDDEN, compile_lookup

    _, bs = compile_lookup(512, torch.tensor([[5, 9, 11]]))
    doc = read_per_doc(encode(bs))
    table = next(t for t in bs.tensors if t.name == "emb.weight")
    ((fixed, _, ins, outs, attrs, _),) = [s for s in doc["stages"] if s[0][3] == 81]
    stage = bs.stage(fixed[0])
    assert (stage.opcode, fixed[4], ins, attrs) == ("load_rows", table.id, list(stage.inputs), {"dim": 0})
    assert bs.stream(ins[0]).shape == (1, 3) and bs.stream(outs[0]).shape == (1, 3, HIDDEN)
    ((tfixed, grid, tile, order, (pattern,)),) = [t for t in doc["tiles"] if t[0][0] == fixed[0]]
    assert (tfixed[1], order) == (0, "tiles") and grid[0] * tile[0] >= 3 * HIDDEN * 4
    assert (pattern[1], pattern[5]) == (table.offset, table.nbytes)  # offset, extent: the whole table
