"""Tile shapes come from the chip (lanes, PMU bytes) and the tile bytes chosen before, never below
one vector and never empty (bitstream_format/tiling.py)."""

from __future__ import annotations

from bitstream_format.tiling import compute_loop, matmul_loop, rows_loop, stream_loop, whole_loop


def test_whole_rows_fill_the_tile_bytes():
    loop = rows_loop(rows=100, cols=16, itemsize=4, tile_bytes=1024, lanes=16)
    assert (loop.grid, loop.tile, loop.reduce) == ((7, 1), (16, 16), "none")


def test_a_tile_is_never_below_one_vector():
    loop = rows_loop(rows=10, cols=1000, itemsize=4, tile_bytes=4, lanes=16, reduce="running")
    assert loop.tile == (1, 16) and loop.grid == (10, 63) and loop.reduce == "running"


def test_a_row_in_one_chunk_needs_no_cross_tile_reduction():
    assert rows_loop(rows=4, cols=32, itemsize=4, tile_bytes=4096, lanes=16, reduce="two-pass").reduce == "none"


def test_matmul_tiles_are_lane_multiples_and_k_fits_half_a_pmu():
    loop = matmul_loop(batch=2, m=64, n=128, k=4096, itemsize=4, tile_bytes=4096, lanes=16, sram_bytes=65536,
                       a_bytes=64 * 4096 * 4, b_bytes=4096 * 128 * 4)
    mt, nt, kt = loop.tile
    assert nt % 16 == 0 and kt % 16 == 0 and mt * nt * 4 <= 4096
    assert (mt + nt) * kt * 4 <= 65536 // 2
    assert loop.grid == (2, -(-64 // mt), -(-128 // nt), -(-4096 // kt)) and loop.reuse == "a"


def test_an_empty_value_is_one_whole_tile_of_no_empty_dim():
    assert whole_loop((1, 4, 16, 0)).tile == (1, 4, 16, 1)
    assert compute_loop("add", {}, [("f32", (0, 4))], [("f32", (0, 4))], 256, 256, 16, 65536).kind == "whole"


def test_streams_move_whole_tiles_and_one_short_tail():
    assert stream_loop(1000, 256).grid == (4,) and stream_loop(1000, 0).grid == (1,)


def test_ops_that_cannot_stream_are_whole():
    assert compute_loop("permute", {"dims": [1, 0]}, [("f32", (8, 4))], [("f32", (4, 8))], 64, 64, 16, 65536).kind == "whole"
    # a reduction over a leading dim cannot run row by row
    assert compute_loop("sum", {"dims": [0]}, [("f32", (8, 4))], [("f32", (4,))], 64, 16, 16, 65536).kind == "whole"
    assert compute_loop("reshape", {}, [("f32", (8, 4))], [("f32", (32,))], 64, 64, 16, 65536).kind == "stream"
