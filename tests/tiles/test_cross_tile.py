"""Work that spans tiles runs the way the hardware must: a row larger than its tile is reduced chunk
by chunk with running state (or two passes for softmax), a matmul accumulates its K chunks, and
the answers match the whole-tensor oracle, NaN and -inf included."""

from __future__ import annotations

import numpy as np
import pytest

from functional_sim import simulate
from tests.sim.builder import ProgramBuilder


def one_op(op: str, x: np.ndarray, out: tuple[str, tuple[int, ...]], attrs: dict, *more: np.ndarray):
    pb = ProgramBuilder("small")
    arrays = [x, *more]
    names = ["f32" if a.dtype == np.float32 else "i64" for a in arrays]
    tids = [pb.tensor(f"x{i}", n, a.shape, role="input") for i, (a, n) in enumerate(zip(arrays, names))]
    k = pb.kernel()
    result = k.op(op, *[k.load(t) for t in tids], out=out, attrs=attrs)
    k.store(result, pb.tensor("y", *out, role="output"))
    bs = pb.build()
    program = bs.tile_program(bs.stages[len(arrays)].id)
    tiled = simulate(bs, arrays).outputs[0]
    oracle = simulate(bs, arrays, interpreter="whole").outputs[0]
    return program, tiled, oracle


def rows_with_specials(rows: int = 6, cols: int = 1000) -> np.ndarray:
    x = np.random.default_rng(0).standard_normal((rows, cols)).astype(np.float32) * 4
    x[1, 700] = np.nan  # a NaN in a late chunk
    x[2, :] = -np.inf  # a fully masked row
    x[3, :640] = -np.inf  # masked chunks before the first live one
    x[4, 999] = 50.0  # the maximum in the last chunk
    return x


@pytest.mark.parametrize("op", ["softmax", "log_softmax"])
def test_softmax_over_chunks_is_two_passes(op):
    x = rows_with_specials()
    program, tiled, oracle = one_op(op, x, ("f32", x.shape), {"dim": -1})
    assert program.kind == "rows" and program.reduce == "two-pass" and program.grid == (6, 16)
    np.testing.assert_allclose(tiled, oracle, rtol=1e-5, atol=1e-6, equal_nan=True)


@pytest.mark.parametrize(("op", "attrs", "out"), [
    ("sum", {"dims": [1], "keepdim": True}, (6, 1)),
    ("mean", {"dims": [-1], "keepdim": False}, (6,)),
    ("amax", {"dims": [1], "keepdim": False}, (6,)),
    ("amin", {"dims": [1], "keepdim": False}, (6,)),
    ("prod", {"dims": [1], "keepdim": False}, (6,)),
    ("cumsum", {"dim": 1}, (6, 1000)),
])
def test_running_reductions_over_chunks(op, attrs, out):
    x = rows_with_specials()
    if op == "prod":
        x = np.where(np.isfinite(x), 1 + x / 1000, x).astype(np.float32)
    program, tiled, oracle = one_op(op, x, ("f32", out), attrs)
    assert program.reduce == "running" and program.grid[1] == 16
    np.testing.assert_allclose(tiled, oracle, rtol=1e-5, atol=1e-5, equal_nan=True)


def test_argmax_keeps_the_first_maximum_and_the_first_nan_across_chunks():
    x = rows_with_specials()
    x[0, 10] = x[0, 900] = 99.0  # a tie: the earlier index wins
    x[5, 300] = np.nan
    x[5, 800] = np.nan
    program, tiled, oracle = one_op("argmax", x, ("i64", (6,)), {"dim": 1, "keepdim": False})
    assert program.reduce == "running"
    assert tiled.tolist() == oracle.tolist() == np.argmax(x, axis=1).tolist()
    assert tiled[0] == 10 and tiled[1] == 700 and tiled[5] == 300


def test_a_sum_over_all_dims_runs_over_chunks_of_one_row():
    x = np.random.default_rng(1).standard_normal((40, 50)).astype(np.float32)
    program, tiled, oracle = one_op("sum", x, ("f32", ()), {"dims": [], "keepdim": False})
    assert program.grid == (1, 32) and program.reduce == "running"
    np.testing.assert_allclose(tiled, oracle, rtol=1e-5)


def test_a_matmul_accumulates_its_k_chunks():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((8, 1024)).astype(np.float32)
    b = rng.standard_normal((1024, 48)).astype(np.float32)
    program, tiled, oracle = one_op("matmul", a, ("f32", (8, 48)), {}, b)
    assert program.kind == "matmul" and program.grid[3] > 1 and program.grid[1] * program.grid[2] > 1
    np.testing.assert_allclose(tiled, a @ b, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tiled, oracle, rtol=1e-4, atol=1e-4)


def test_elementwise_broadcast_runs_in_row_tiles():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((64, 48)).astype(np.float32)
    y = rng.standard_normal((1, 48)).astype(np.float32)
    program, tiled, oracle = one_op("add", x, ("f32", (64, 48)), {}, y)
    assert program.kind == "rows" and program.grid[0] > 1
    np.testing.assert_array_equal(tiled, x + y)
