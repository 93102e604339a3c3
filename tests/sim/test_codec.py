"""The .rbit codec: exact round trips, deterministic bytes, and loud failures on damage."""

import hashlib
import struct
from dataclasses import replace

import numpy as np
import pytest

from bitstream_format import VERSION, BitstreamError, decode, encode, read_sections
from bitstream_format.codec import HEADER, IMAGE_ALIGN
from functional_sim import SimulationError, simulate
from tests.sim.builder import ProgramBuilder


def sample():
    pb = ProgramBuilder()
    x = pb.tensor("x", "f32", (4, 8), role="input")
    w = pb.tensor("w", "bf16", (8, 3), role="weight", value=np.ones((8, 3), np.float32), tier="ddr")
    pb.tensor("c", "i64", (3,), role="constant", value=np.arange(3))
    pb.tensor("huge", "f32", (1000,), role="weight", shapes_only=True)
    y = pb.tensor("y", "f32", (4, 3), role="output")
    k = pb.kernel("mm")
    xs, ws = k.load(x), k.load(w)
    m = k.op("matmul", xs, ws, out=("f32", (4, 3)), sites=2)
    k.store(m, y)
    k2 = pb.kernel("other", section=1)
    k2.op("full", out=("f32", (2,)), attrs={
        "value": 1.5, "flag": True, "n": -7, "name": "s", "dims": [0, -1], "empty": [], "none": None,
    })
    bs = pb.build()
    bs.streams[0] = replace(bs.streams[0], links=((0, 1, 1, 1), (1, 1, 2, 1)), fifo_depth=7)
    bs.manifest = {"model": "t", "nested": {"a": [1, 2]}}
    return bs


def sample_with_passes():
    """The sample with its matmul re-streaming B in 3 passes and B's load walking it 3 times (3.3)."""
    bs = sample()
    mm = next(s.id for s in bs.stages if s.opcode == "matmul")
    load_b = bs.stream(bs.stage(mm).inputs[1]).src
    bs.tiles = [replace(t, restream="b", passes=3) if t.stage == mm else replace(t, passes=3) if t.stage == load_b else t
                for t in bs.tiles]
    return bs


def test_round_trip_is_equal():
    bs = sample()
    assert decode(encode(bs)) == bs
    with_passes = sample_with_passes()
    assert decode(encode(with_passes)) == with_passes != bs


def _tile_section_edited(monkeypatch, edit):
    """Encode with the TILE section's bytes passed through `edit` (what another writer would emit)."""
    from bitstream_format import codec

    original = codec._encode_sections

    def sections(bs):
        out = original(bs)
        out["TILE"] = edit(out["TILE"])
        return out

    monkeypatch.setattr(codec, "_encode_sections", sections)


def test_the_passes_table_follows_the_records_so_a_32_file_reads_with_passes_1(monkeypatch):
    """3.3 appends the passes table to TILE after its records: a 3.2 file (no table) decodes with
    every program at passes 1, and a 3.2 reader, which stops after the records, reads the same
    records from a 3.3 file."""
    bs = sample_with_passes()
    _, with_table = read_sections(encode(bs))
    _, without = read_sections(encode(sample()))
    assert with_table["TILE"][:len(without["TILE"]) - 4] == without["TILE"][:-4]  # the same records
    assert without["TILE"][-4:] == struct.pack("<I", 0)  # then an empty table
    _tile_section_edited(monkeypatch, lambda tile: tile[:-(4 + 2 * 13)])  # drop the table: a 3.2 writer
    old = decode(encode(bs))
    assert old.tiles == sample().tiles and all(t.passes == 1 and not t.restream for t in old.tiles)


def test_a_passes_record_for_a_stage_without_a_program_is_refused(monkeypatch):
    bs = sample_with_passes()
    last = max(t.stage for t in bs.tiles)
    _tile_section_edited(monkeypatch, lambda tile: tile[:-13] + struct.pack("<IBq", last + 7, 2, 3))
    with pytest.raises(BitstreamError, match=f"section TILE gives passes to stage {last + 7}, which has no tile program"):
        decode(encode(bs))


def test_reencode_is_byte_identical():
    data = encode(sample())
    assert encode(decode(data)) == data
    assert encode(sample()) == data


def test_header_and_checksum_layout():
    data = encode(sample())
    magic, major, minor, length, digest = HEADER.unpack_from(data)
    assert magic == b"RDUBITS\x00" and (major, minor) == VERSION
    assert length == len(data) - HEADER.size == len(data) - 52
    assert digest == hashlib.sha256(data[52:]).digest()


def test_image_blobs_are_aligned_and_shapes_only_has_no_bytes():
    bs = sample()
    _, sections = read_sections(encode(bs))
    blob = sections["MEMI"]
    (table_len,) = struct.unpack_from("<Q", blob)
    (count,) = struct.unpack_from("<I", blob, 8)
    entries = [struct.unpack_from("<IBQQ", blob, 12 + 21 * i) for i in range(count)]
    assert [e[0] for e in entries] == sorted(bs.image)
    for tid, has, offset, size in entries:
        assert size == bs.tensor(tid).nbytes
        if has:
            assert offset % IMAGE_ALIGN == 0
            assert blob[8 + table_len + offset : 8 + table_len + offset + size] == bs.image[tid]
        else:
            assert bs.image[tid] is None and offset == 0


def test_corrupted_payload_fails_checksum():
    data = bytearray(encode(sample()))
    data[len(data) // 2] ^= 0x40
    with pytest.raises(BitstreamError, match="checksum"):
        decode(bytes(data))


@pytest.mark.parametrize("keep", [10, HEADER.size, -1, -100])
def test_truncation_fails(keep):
    data = encode(sample())
    with pytest.raises(BitstreamError, match="truncated"):
        decode(data[:keep])


def test_bad_magic_fails():
    data = encode(sample())
    with pytest.raises(BitstreamError, match="magic"):
        decode(b"NOTRDU!\x00" + data[8:])


def test_other_major_version_fails_and_minor_is_accepted():
    data = encode(sample())
    newer_major = data[:8] + struct.pack("<H", VERSION[0] + 1) + data[10:]
    with pytest.raises(BitstreamError, match="version"):
        decode(newer_major)
    newer_minor = data[:10] + struct.pack("<H", VERSION[1] + 1) + data[12:]
    assert decode(newer_minor) == sample()


def test_unencodable_attribute_is_refused():
    bs = sample()
    bs.stages[0] = replace(bs.stages[0], attrs={"bad": [1.5, 2.5]})
    with pytest.raises(TypeError, match="no bitstream encoding"):
        encode(bs)


def test_simulate_accepts_bytes_and_reports_damage_as_simulation_error():
    data = encode(sample())
    assert simulate(data, [], execute=False).cycles > 0
    with pytest.raises(SimulationError, match="cannot decode bitstream: checksum mismatch"):
        simulate(data[:-1] + bytes([data[-1] ^ 1]), [])
