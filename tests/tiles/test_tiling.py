"""Tile shapes come from the chip (lanes, PMU bytes) and the tile bytes chosen before, never below
one vector and never empty (bitstream_format/tiling.py)."""

from __future__ import annotations

from bitstream_format.tiling import (compute_loop, matmul_dims, matmul_loop, reread_blocks, reread_plan, rows_loop,
                                      stream_loop, whole_loop)


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


MB = 1 << 20


def test_the_re_read_plan_re_streams_the_operand_that_costs_fewest_hbm_bytes():
    # prefill-like: a 4K x 4K activation (32 MB) times a 4096 x 11008 weight (86 MB), bf16, 8 MB buffers
    rows, cols, k = 4096, 11008, 4096
    row = k * 2  # bytes of one row of A, or one column of B
    a_bytes, b_bytes = rows * row, cols * row

    def extra(restream, held_a, held_b):  # HBM bytes re-read, from the buffer sizes
        return (-(-rows // (held_a // row)) - 1) * b_bytes if restream == "b" else (-(-cols // (held_b // row)) - 1) * a_bytes

    for held_a, held_b, cheaper in ((8 * MB, 8 * MB, "b"), (4 * MB, 16 * MB, "a")):
        # 8 MB each: weight re-read 3 more times (258 MB) beats the activation 10 more times (320 MB);
        # a 16 MB weight buffer: the activation 5 more times (160 MB) beats the weight 7 times (602 MB)
        restream, passes = reread_plan(rows, cols, k, 2, held_a, held_b, True, True)
        assert restream == cheaper and extra(cheaper, held_a, held_b) < extra("ab".replace(cheaper, ""), held_a, held_b)
        assert passes == -(-(rows if cheaper == "b" else cols) // ((held_a if cheaper == "b" else held_b) // row))
    held = 8 * MB
    # the activation made on chip (a fused layer) cannot be re-read: the weight is, once per row block
    assert reread_plan(rows, cols, k, 2, held, held, False, True) == ("b", 4)
    # nothing re-read when either operand fits its buffer, or when neither comes from HBM
    assert reread_plan(rows, cols, k, 2, rows * k * 2, held, True, True) == ("", 1)
    assert reread_plan(rows, cols, k, 2, held, cols * k * 2, True, True) == ("", 1)
    assert reread_plan(rows, cols, k, 2, held, held, False, False) == ("", 1)


def test_an_unbuffered_stationary_operand_is_held_one_tile_row_at_a_time():
    # A streams from a layout stage (no buffer): the loop's own mt rows are the block
    assert reread_plan(4096, 4096, 4096, 2, 0, 3 * MB, False, True, mt=87, nt=32) == ("b", -(-4096 // 87))


def test_a_decode_row_never_re_reads():
    # one row: its block is the whole of A, whatever the buffers hold
    assert reread_plan(1, 11008, 4096, 2, 0, 0, True, True, mt=1, nt=32) == ("", 1)


def test_blocks_cover_the_stationary_operand_once_in_as_many_blocks_as_passes():
    for extent, passes in ((10, 4), (10, 6), (4096, 12), (7, 7)):
        blocks = reread_blocks("b", passes, extent, 3)
        assert len(blocks) == passes and blocks[0][0] == 0 and blocks[-1][1] == extent
        assert all(lo < hi for lo, hi in blocks) and all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))
    assert reread_blocks("a", 2, 5, 8) == [(0, 4), (4, 8)]  # B's columns when A is re-streamed


def test_only_a_weight_broadcast_over_a_s_rows_has_a_plan():
    assert matmul_dims("linear", (1, 4096, 4096), (11008, 4096)) == (4096, 11008, 4096)
    assert matmul_dims("matmul", (2, 64, 32), (32, 16)) == (128, 16, 32)
    assert matmul_dims("matmul", (32, 4096, 128), (32, 128, 4096)) is None  # per-head operands (attention)
