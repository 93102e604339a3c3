"""Every opcode against a numpy or hand-computed reference, run through a real one-kernel bitstream."""

import math

import numpy as np
import pytest

from bitstream_format import OPCODES
from functional_sim.kernels import KERNELS
from tests.sim.builder import run_op

NAN, INF = float("nan"), float("inf")
F = np.float32
X = np.array([[-2.5, -1.0, 0.0], [0.5, 1.5, 3.0]], F)
Y = np.array([[2.0, -3.0, 1.0], [-0.5, 4.0, 2.0]], F)
I = np.array([[7, -7, 5], [-5, 9, 0]], np.int32)
J = np.array([[2, 2, -3], [3, -4, 1]], np.int32)
B1 = np.array([[True, False, True]])
B2 = np.array([[True, True, False]])
A3 = np.arange(24, dtype=F).reshape(2, 3, 4)


def f32(shape):
    return ("f32", shape)


UNARY = {
    "neg": -X,
    "abs": np.abs(X),
    "exp": np.exp(X),
    "sqrt": np.sqrt(np.where(X >= 0, X, np.nan)),
    "tanh": np.tanh(X),
    "sigmoid": 1 / (1 + np.exp(-X.astype(np.float64))),
    "relu": np.maximum(X, 0),
    "silu": X / (1 + np.exp(-X.astype(np.float64))),
    "sin": np.sin(X),
    "cos": np.cos(X),
    "erf": np.vectorize(math.erf)(X.astype(np.float64)),
    "floor": np.floor(X),
    "ceil": np.ceil(X),
}


@pytest.mark.parametrize("op", sorted(UNARY))
def test_unary(op):
    (got,) = run_op(op, [X], [f32(X.shape)])
    np.testing.assert_allclose(got, UNARY[op], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("op, ref", [
    ("log", np.log), ("rsqrt", lambda x: 1 / np.sqrt(x)), ("reciprocal", lambda x: 1 / x),
])
def test_unary_with_poles(op, ref):
    x = np.array([0.25, 1.0, 4.0, 0.0, -1.0], F)
    (got,) = run_op(op, [x], [f32(x.shape)])
    with np.errstate(all="ignore"):
        np.testing.assert_allclose(got, ref(x), rtol=1e-6)


def test_gelu_exact_and_tanh():
    x = np.array([-1.0, 0.0, 1.0, 2.0], F)
    (exact,) = run_op("gelu", [x], [f32((4,))], {"approximate": "none"})
    (approx,) = run_op("gelu", [x], [f32((4,))], {"approximate": "tanh"})
    np.testing.assert_allclose(exact, [-0.15865525, 0.0, 0.84134475, 1.95449974], rtol=1e-6)
    np.testing.assert_allclose(approx, [-0.15880801, 0.0, 0.84119199, 1.95459769], rtol=1e-6)


def test_logical_and_bitwise_not_isnan_cast():
    (got,) = run_op("logical_not", [B1], [("i1", B1.shape)])
    assert got.tolist() == [[False, True, False]]
    (got,) = run_op("bitwise_not", [I], [("i32", I.shape)])
    assert (got == ~I).all()
    (got,) = run_op("isnan", [np.array([1.0, NAN], F)], [("i1", (2,))])
    assert got.tolist() == [False, True]
    (got,) = run_op("cast", [np.array([-2.7, 2.7, 300.0], F)], [("i32", (3,))])
    assert got.tolist() == [-2, 2, 300] and got.dtype == np.int32  # truncation toward zero


BINARY = {
    "add": (X, Y, X + Y),
    "sub": (X, Y, X - Y),
    "mul": (X, Y, X * Y),
    "pow": (np.abs(X), Y, np.abs(X) ** Y),
    "maximum": (X, Y, np.maximum(X, Y)),
    "minimum": (X, Y, np.minimum(X, Y)),
    "remainder": (I, J, [[1, 1, -1], [1, -3, 0]]),  # sign of the divisor
    "floor_divide": (I, J, [[3, -4, -2], [-2, -3, 0]]),
    "eq": (X, Y, X == Y),
    "ne": (X, Y, X != Y),
    "lt": (X, Y, X < Y),
    "le": (X, Y, X <= Y),
    "gt": (X, Y, X > Y),
    "ge": (X, Y, X >= Y),
    "logical_and": (B1, B2, B1 & B2),
    "logical_or": (B1, B2, B1 | B2),
    "bitwise_and": (I, J, I & J),
    "bitwise_or": (I, J, I | J),
    "bitwise_xor": (I, J, I ^ J),
}


@pytest.mark.parametrize("op", sorted(BINARY))
def test_binary(op):
    a, b, want = BINARY[op]
    want = np.asarray(want)
    dtype = {np.dtype(bool): "i1", np.dtype(np.int32): "i32"}.get(want.dtype, "f32")
    if want.dtype == np.int64:
        dtype = "i32"
    (got,) = run_op(op, [a, b], [(dtype, want.shape)])
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_binary_broadcasts_and_promotes():
    (got,) = run_op("add", [I, np.array([0.5], F)], [f32(I.shape)])
    np.testing.assert_array_equal(got, I + 0.5)


@pytest.mark.parametrize("mode, want", [
    ("", [[3.5, -3.5, -5 / 3], [-5 / 3, -2.25, math.nan]]),  # 0 / 0
    ("trunc", [[3, -3, -1], [-1, -2, 0]]),
    ("floor", [[3, -4, -2], [-2, -3, 0]]),
])
def test_div_rounding_modes_on_integers(mode, want):
    dtype = "f32" if mode == "" else "i32"
    (got,) = run_op("div", [I, J * np.array([[1, 1, 1], [1, 1, 0]], np.int32)], [(dtype, I.shape)], {"rounding_mode": mode})
    np.testing.assert_allclose(got, want, rtol=1e-6)  # integer division by zero gives 0, not a crash


def test_div_trunc_and_floor_on_floats():
    a, b = np.array([-7.0, 7.0, 1.0], F), np.array([2.0, -2.0, 0.0], F)
    (trunc,) = run_op("div", [a, b], [f32((3,))], {"rounding_mode": "trunc"})
    (floor,) = run_op("div", [a, b], [f32((3,))], {"rounding_mode": "floor"})
    assert trunc.tolist() == [-3.0, -3.0, INF] and floor.tolist() == [-4.0, -4.0, INF]


def test_integer_division_and_remainder_by_zero_do_not_crash():
    a, z = np.array([5, -5], np.int64), np.zeros(2, np.int64)
    for op in ("floor_divide", "remainder"):
        (got,) = run_op(op, [a, z], [("i64", (2,))])
        assert got.tolist() == [0, 0]  # numpy's convention; torch raises instead


def test_integer_pow_with_negative_exponent_matches_torch():
    (got,) = run_op("pow", [np.array([2, 1, -1, -1, 0]), np.array([-1, -2, -3, -2, 3])], [("i64", (5,))])
    assert got.tolist() == [0, 1, -1, 1, 0]


def test_where():
    cond = np.array([[True, False, True], [False, True, False]])
    (got,) = run_op("where", [cond, X, Y], [f32(X.shape)])
    np.testing.assert_array_equal(got, np.where(cond, X, Y))


@pytest.mark.parametrize("op, ref", [("sum", np.sum), ("mean", np.mean), ("amax", np.max), ("amin", np.min), ("prod", np.prod)])
@pytest.mark.parametrize("dims, keepdim", [([1], False), ([0, 2], True), ([], False), ([-1], True)])
def test_reductions(op, ref, dims, keepdim):
    want = ref(A3, axis=tuple(dims) or None, keepdims=keepdim)
    (got,) = run_op(op, [A3], [f32(np.shape(want))], {"dims": dims, "keepdim": keepdim})
    np.testing.assert_allclose(got, want, rtol=1e-6)


@pytest.mark.parametrize("dim, keepdim", [(0, False), (1, True), (None, False)])
def test_argmax(dim, keepdim):
    x = np.array([[1.0, 5.0, 5.0], [7.0, 2.0, 7.0]], F)
    want = np.argmax(x, axis=dim, keepdims=keepdim)
    (got,) = run_op("argmax", [x], [("i64", np.shape(want))], {"dim": dim, "keepdim": keepdim})
    assert got.tolist() == want.tolist() and got.dtype == np.int64


def test_softmax_and_log_softmax():
    x = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, -INF]], F)  # large values: the max is subtracted
    want = np.array([[0.09003057, 0.24472847, 0.66524096], [0.5, 0.5, 0.0]])
    (sm,) = run_op("softmax", [x], [f32(x.shape)], {"dim": 1})
    (lsm,) = run_op("log_softmax", [x], [f32(x.shape)], {"dim": -1})
    np.testing.assert_allclose(sm, want, rtol=1e-6)
    with np.errstate(divide="ignore"):
        np.testing.assert_allclose(lsm, np.log(want), rtol=1e-6)


def test_cumsum():
    (got,) = run_op("cumsum", [A3], [f32(A3.shape)], {"dim": 1})
    np.testing.assert_array_equal(got, np.cumsum(A3, axis=1))


@pytest.mark.parametrize("largest, values, indices", [
    (True, [[5, 5, 3], [9, 2, 2]], [[1, 3, 2], [0, 1, 2]]),
    (False, [[1, 3, 3], [1, 2, 2]], [[0, 2, 4], [3, 1, 2]]),
])
def test_topk_breaks_ties_by_lower_index(largest, values, indices):
    x = np.array([[1, 5, 3, 5, 3], [9, 2, 2, 1, 2]], np.int32)
    got = run_op("topk", [x], [("i32", (2, 3)), ("i64", (2, 3))], {"k": 3, "dim": 1, "largest": largest, "sorted": True})
    assert got[0].tolist() == values and got[1].tolist() == indices


def test_matmul_batched_broadcast():
    a = np.arange(12, dtype=F).reshape(2, 2, 3)
    b = np.arange(12, dtype=F).reshape(3, 4) / 7
    (got,) = run_op("matmul", [a, b], [f32((2, 2, 4))])
    np.testing.assert_allclose(got, a @ b, rtol=1e-6)


@pytest.mark.parametrize("bias", [False, True])
def test_linear(bias):
    x = np.arange(6, dtype=F).reshape(2, 3)
    w = np.arange(12, dtype=F).reshape(4, 3) - 5
    b = np.array([1, -1, 0.5, 2], F)
    (got,) = run_op("linear", [x, w, b] if bias else [x, w], [f32((2, 4))])
    np.testing.assert_allclose(got, x @ w.T + (b if bias else 0), rtol=1e-6)


LAYOUT = [
    ("reshape", [A3], {"shape": [4, -1]}, A3.reshape(4, 6)),
    ("permute", [A3], {"dims": [2, 0, 1]}, A3.transpose(2, 0, 1)),
    ("expand", [A3[:, :1]], {"shape": [3, -1, 2, -1]}, np.broadcast_to(A3[:, :1], (3, 2, 2, 4))),
    ("slice", [A3], {"dim": 2, "start": 1, "end": 4, "step": 2}, A3[:, :, 1:4:2]),
    ("concat", [A3, A3[:, :1], A3], {"dim": 1}, np.concatenate([A3, A3[:, :1], A3], axis=1)),
    ("gather", [A3, np.array([[[2, 0, 1, 1]], [[0, 0, 2, 1]]])], {"dim": 1},
     np.take_along_axis(A3, np.array([[[2, 0, 1, 1]], [[0, 0, 2, 1]]]), axis=1)),
    ("gather", [A3, np.array([[[3], [0]]])], {"dim": 2}, np.array([[[3], [4]]], F)),  # index smaller than input
    ("index_select", [A3, np.array([2, 0, 2])], {"dim": 1}, A3[:, [2, 0, 2]]),
    ("embedding", [A3[0], np.array([[1, 2], [0, 0]])], {}, A3[0][[[1, 2], [0, 0]]]),
    ("index", [A3, np.array([[0], [1]]), np.array([3, -1, 0])], {"indexed_dims": [0, 2]},
     A3[np.array([[0], [1]]), :, np.array([3, -1, 0])]),  # separated index dims go first, as in torch
    ("index", [A3, np.array([2, 0])], {"indexed_dims": [1]}, A3[:, [2, 0]]),
    ("triu", [A3], {"diagonal": 1}, np.triu(A3, 1)),
    ("tril", [A3], {"diagonal": -1}, np.tril(A3, -1)),
]


@pytest.mark.parametrize("op, inputs, attrs, want", LAYOUT, ids=[f"{c[0]}{i}" for i, c in enumerate(LAYOUT)])
def test_layout(op, inputs, attrs, want):
    (got,) = run_op(op, inputs, [f32(want.shape)], attrs)
    np.testing.assert_array_equal(got, want)


def test_buffer_is_identity():
    (got,) = run_op("buffer", [X], [f32(X.shape)])
    np.testing.assert_array_equal(got, X)


def test_generators():
    (full,) = run_op("full", [], [("i1", (2, 2))], {"value": True})
    assert full.tolist() == [[True, True], [True, True]]
    (full,) = run_op("full", [], [f32((3,))], {"value": -INF})
    assert full.tolist() == [-INF] * 3
    (ar,) = run_op("arange", [], [f32((4,))], {"start": 1.0, "step": 0.5})
    assert ar.tolist() == [1.0, 1.5, 2.0, 2.5]
    (ar,) = run_op("arange", [], [("i64", (3,))], {"start": 10, "step": -3})
    assert ar.tolist() == [10, 7, 4] and ar.dtype == np.int64


def test_every_opcode_has_semantics():
    from bitstream_format.node_program import COLLECTIVES  # group semantics: functional_sim.collective

    assert set(KERNELS) | {"load", "load_rows", "store", "store_rows"} | set(COLLECTIVES) == set(OPCODES)


# ------------------------------------------------------------------ NaN propagation, as in PyTorch eager

ROW = np.array([[1.0, NAN, 3.0], [1.0, 2.0, 3.0]], F)


@pytest.mark.parametrize("op", ["sum", "mean", "amax", "amin", "prod"])
def test_reductions_propagate_nan(op):
    (got,) = run_op(op, [ROW], [f32((2,))], {"dims": [1], "keepdim": False})
    assert np.isnan(got[0]) and not np.isnan(got[1])


def test_softmax_row_with_nan_is_all_nan():
    (got,) = run_op("softmax", [ROW], [f32(ROW.shape)], {"dim": 1})
    assert np.isnan(got[0]).all() and np.isfinite(got[1]).all()


def test_elementwise_nan_propagation():
    a, b = np.array([NAN, 1.0], F), np.array([0.0, NAN], F)
    for op in ("maximum", "minimum", "add"):
        (got,) = run_op(op, [a, b], [f32((2,))])
        assert np.isnan(got).all(), op
    (got,) = run_op("relu", [a], [f32((2,))])
    assert np.isnan(got[0]) and got[1] == 1.0
    (got,) = run_op("argmax", [np.array([1.0, NAN, 5.0, NAN], F)], [("i64", ())], {"dim": None, "keepdim": False})
    assert got == 1  # the first NaN wins, as torch.argmax
    values, indices = run_op("topk", [np.array([1.0, NAN, 5.0], F)], [f32((2,)), ("i64", (2,))], {"k": 2})
    assert np.isnan(values[0]) and indices.tolist() == [1, 2]  # NaN counts as largest


# ------------------------------------------------------------------ dtypes

def test_bf16_results_are_rounded_to_nearest_even():
    x = np.array([1 + 2**-8, 1 + 3 * 2**-8, -(1 + 2**-8 + 2**-12), 3.4e38, INF, NAN], F)
    (got,) = run_op("cast", [x], [("bf16", (6,))])
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, [1.0, 1 + 2**-6, -(1 + 2**-7), INF, INF, NAN])


def test_bf16_inputs_are_rounded_and_computed_in_float32():
    x = np.array([1 + 2**-8 + 2**-10, 2.0], F)
    (got,) = run_op("add", [x, x], [f32((2,))], in_dtypes=["bf16", "bf16"])
    np.testing.assert_array_equal(got, [2 * (1 + 2**-7), 4.0])


def test_f16_and_integer_outputs_take_the_stream_dtype():
    (got,) = run_op("exp", [np.array([0.0, 1.0], np.float16)], [("f16", (2,))])
    assert got.dtype == np.float16 and got[1] == np.float16(math.e)
    (got,) = run_op("add", [I, J], [("i8", I.shape)])
    assert got.dtype == np.int8 and (got == (I + J).astype(np.int8)).all()
