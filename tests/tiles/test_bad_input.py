"""Bad tile programs are refused before anything runs: `rducc sim` prints one line naming the
stage and exits 2 (functional_sim/checks.py)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from bitstream_format import Bitstream, encode
from compiler.cli import main


def run_sim(tmp_path: Path, bs: Bitstream) -> str:
    path = tmp_path / "bad.rbit"
    path.write_bytes(encode(bs))
    result = CliRunner().invoke(main, ["sim", str(path)], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, result.output
    return lines[0]


def edit(bs: Bitstream, sid: int, **changes) -> Bitstream:
    bs.tiles = [replace(t, **changes) if t.stage == sid else t for t in bs.tiles]
    return bs


def test_a_buffer_ring_of_no_slots_is_fifo_depth_zero(tmp_path, mlp):
    bs = mlp.fresh()
    buffer = mlp.stage(bs, "buffer", 1)
    line = run_sim(tmp_path, edit(bs, buffer.id, sram_slots=0))
    assert line.endswith(f"(id {buffer.id}, buffer): its SRAM ring has FIFO depth 0 (no tile slots); a buffer holds at "
                         f"least one tile")


def test_a_tile_program_overrunning_a_pmus_sram(tmp_path, mlp):
    bs = mlp.fresh()
    buffer = mlp.stage(bs, "buffer", 1)
    line = run_sim(tmp_path, edit(bs, buffer.id, sram_bytes=70_000))
    assert line.endswith(f"(id {buffer.id}, buffer): its tile program holds SRAM [0, 70000) on each PMU, overrunning "
                         f"the PMU's 65536 bytes")


def test_an_address_pattern_leaving_its_tensor(tmp_path, mlp):
    bs = mlp.fresh()
    load = mlp.stage(bs, "load", 1)
    (p,) = bs.tile_program(load.id).patterns
    line = run_sim(tmp_path, edit(bs, load.id, patterns=(replace(p, stride=2 * p.stride, extent=2 * p.extent),)))
    assert f"(id {load.id}, load): its address pattern reaches [0x0, 0x10000) in hbm, leaving tensor 'fc1.weight'" \
           in line


def test_a_stream_with_no_credits(tmp_path, mlp):
    bs = mlp.fresh()
    buffer = mlp.stage(bs, "buffer", 1)
    (out,) = buffer.outputs
    bs.streams = [replace(st, fifo_depth=0) if st.id == out else st for st in bs.streams]
    line = run_sim(tmp_path, bs)
    assert line.endswith(f"(id {buffer.id}, buffer): its output stream {out} has FIFO depth 0: a stream needs at least "
                         f"one credit (one tile)")


def test_a_buffer_pattern_leaving_its_sram_range(tmp_path, mlp):
    bs = mlp.fresh()
    buffer = mlp.stage(bs, "buffer", 1)
    write, read = bs.tile_program(buffer.id).patterns
    line = run_sim(tmp_path, edit(bs, buffer.id, patterns=(write, replace(read, offset=read.offset + read.tile))))
    assert f"(id {buffer.id}, buffer): its read pattern reaches" in line and "leaving its SRAM range" in line


def test_a_load_pattern_disagreeing_with_its_loop(tmp_path, mlp):
    bs = mlp.fresh()
    load = mlp.stage(bs, "load", 1)
    prog = bs.tile_program(load.id)
    line = run_sim(tmp_path, edit(bs, load.id, grid=(prog.grid[0] - 1,)))
    assert line.endswith(f"(id {load.id}, load): its tile loop runs {prog.grid[0] - 1} tiles but its address pattern "
                         f"makes {prog.grid[0]} accesses")


@pytest.mark.parametrize("grid", [(0, 2), (8, -1)])
def test_a_loop_of_no_tiles(tmp_path, mlp, grid):
    bs = mlp.fresh()
    gelu = mlp.stage(bs, "gelu")
    line = run_sim(tmp_path, edit(bs, gelu.id, grid=grid))
    assert line.endswith(f"(id {gelu.id}, gelu): its tile loop has grid {list(grid)} and tile [1, 64]; every trip count "
                         f"and tile dim must be at least 1")
