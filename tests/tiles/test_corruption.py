"""A tiling, addressing or buffer-sizing mistake in a bitstream changes the outputs or stops the run
with an error that names the stage: each field of a tile program, edited in a compiled bitstream."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from bitstream_format import decode, encode
from functional_sim import SimulationError, simulate


def changed(outputs, reference) -> bool:
    return any(not np.allclose(a, b, equal_nan=True) for a, b in zip(outputs, reference))


def test_the_compiled_program_matches_the_whole_tensor_oracle(mlp):
    oracle = simulate(mlp.data, mlp.inputs, interpreter="whole").outputs
    assert not changed(mlp.outputs, oracle)


def test_fewer_row_tiles_change_the_outputs(mlp):
    bs = mlp.fresh()
    gelu = mlp.stage(bs, "gelu")
    grid = bs.tile_program(gelu.id).grid
    assert grid[0] > 1 and grid[1] > 1  # several row tiles, each row in several chunks
    assert changed(simulate(mlp.with_program(bs, gelu.id, grid=(grid[0] - 1, grid[1])), mlp.inputs).outputs, mlp.outputs)
    assert changed(simulate(mlp.with_program(mlp.fresh(), gelu.id, grid=(grid[0], grid[1] - 1)), mlp.inputs).outputs,
                   mlp.outputs)


def test_a_trip_count_past_the_value_is_an_error_naming_the_stage(mlp):
    bs = mlp.fresh()
    gelu = mlp.stage(bs, "gelu")
    grid = bs.tile_program(gelu.id).grid
    with pytest.raises(SimulationError, match=rf"stage '.*gelu.*' \(id {gelu.id}, gelu\): its tile loop runs "
                                              rf"{grid[0] + 1}x{grid[1]} tiles .* past the end"):
        simulate(mlp.with_program(bs, gelu.id, grid=(grid[0] + 1, grid[1])), mlp.inputs)


def test_fewer_k_chunks_change_a_matmul(mlp):
    bs = mlp.fresh()
    fc1 = mlp.stage(bs, "linear")
    prog = bs.tile_program(fc1.id)
    assert prog.kind == "matmul" and prog.reduce == "k-accumulate"
    mt, nt, kt = prog.tile
    smaller = mlp.with_program(bs, fc1.id, tile=(mt, nt, kt // 2))  # half of K, the loop unchanged
    assert changed(simulate(smaller, mlp.inputs).outputs, mlp.outputs)


def test_a_load_pattern_moving_fewer_bytes_than_its_tensor_stops_the_run(mlp):
    bs = mlp.fresh()
    load = mlp.stage(bs, "load", 1)  # fc1.weight: 128 tiles
    (p,) = bs.tile_program(load.id).patterns
    # one tile fewer, starting a tile later: inside the tensor, but the stream lacks a tile
    shifted = replace(p, offset=p.offset + p.tile, count=p.count - 1, extent=p.extent - p.tile)
    bs.tiles = [replace(t, patterns=(shifted,), grid=(p.count - 1,)) if t.stage == load.id else t for t in bs.tiles]
    with pytest.raises(SimulationError, match=rf"id {load.id}, load\): its address pattern reads 32512 bytes .* "
                                              rf"in 127 tiles, but the tensor holds 32768"):
        simulate(decode(encode(bs)), mlp.inputs)


def test_a_buffer_read_stride_changes_the_outputs(mlp):
    bs = mlp.fresh()
    buffer = mlp.stage(bs, "buffer", 1)  # fc1.weight's buffer: a ring of several slots on each PMU
    write, read = bs.tile_program(buffer.id).patterns
    assert read.count > 1
    wrong = replace(read, stride=0, extent=read.tile)  # every read from slot 0
    assert changed(simulate(mlp.with_program(bs, buffer.id, patterns=(write, wrong)), mlp.inputs).outputs, mlp.outputs)


def test_a_buffer_ring_shallower_for_its_writes_changes_the_outputs(mlp):
    """The depth in tiles of the buffer's ring: written as 1 slot but read as its configured count,
    the reader finds tiles that were never written where it looks."""
    bs = mlp.fresh()
    buffer = mlp.stage(bs, "buffer", 1)
    write, read = bs.tile_program(buffer.id).patterns
    shallow = replace(write, count=1, extent=write.tile)
    assert changed(simulate(mlp.with_program(bs, buffer.id, patterns=(shallow, read)), mlp.inputs).outputs,
                   mlp.outputs)


def test_an_sram_range_moved_past_the_pmu_is_refused_naming_the_stage(mlp):
    bs = mlp.fresh()
    buffer = mlp.stage(bs, "buffer", 1)
    prog = bs.tile_program(buffer.id)
    with pytest.raises(SimulationError, match=rf"^stage .* \(id {buffer.id}, buffer\): its tile program holds SRAM "
                                              rf"\[65000, {65000 + prog.sram_bytes}\) on each PMU, overrunning"):
        simulate(mlp.with_program(bs, buffer.id, sram_base=65000), mlp.inputs)


def test_a_ring_deeper_than_its_range_is_refused(mlp):
    bs = mlp.fresh()
    buffer = mlp.stage(bs, "buffer", 1)
    prog = bs.tile_program(buffer.id)
    with pytest.raises(SimulationError, match=rf"id {buffer.id}, buffer\): its ring of {prog.sram_slots + 100} tiles"):
        simulate(mlp.with_program(bs, buffer.id, sram_slots=prog.sram_slots + 100), mlp.inputs)


def test_a_fifo_too_shallow_on_a_reconvergent_path_deadlocks_naming_the_cycle():
    """The FIFO's credits (STRM fifo_depth) on a residual path: one credit deadlocks the kernel."""
    from pathlib import Path

    from compiler.driver import CompileOptions, compile_model

    example = Path(__file__).parents[2] / "examples" / "attention.py"
    result = compile_model(example, CompileOptions(chip="small", fifo_depth=1))
    with pytest.raises(SimulationError, match=r"^deadlock in kernel '.*': stage '.*/buffer' \(id \d+, pmu .*\) waits "
                                              r"for a credit on stream \d+ FIFO 1/1 tiles"):
        simulate(result.data, [x.numpy() for x in result.loaded.inputs])
