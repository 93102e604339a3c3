"""The instruction set's signatures: every typing rule against PyTorch's own shape rules, and
every way an operation can fail to fit its opcode, with the message the user sees."""

from __future__ import annotations

from math import prod

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from bitstream_format.opcodes import OPCODES
from bitstream_format.signatures import SIGNATURES, SignatureError, check_signature

FAST = settings(max_examples=60, deadline=None)


def f32(*shape: int) -> tuple[str, tuple[int, ...]]:
    return ("f32", shape)


def i64(*shape: int) -> tuple[str, tuple[int, ...]]:
    return ("i64", shape)


def fails(message: str, opcode: str, params: dict, inputs: list, outputs: list) -> None:
    with pytest.raises(SignatureError) as info:
        check_signature(opcode, params, inputs, outputs)
    assert str(info.value) == message


def test_every_compute_opcode_has_a_signature_and_memory_opcodes_none() -> None:
    for name, op in OPCODES.items():
        # store_rows and load_rows move memory but are typed like compute ops: (state, index, rows) must agree
        assert (op.signature is None) == (op.family == "memory" and name not in ("store_rows", "load_rows")), name
        assert op.signature is SIGNATURES.get(name)
    assert set(SIGNATURES) <= set(OPCODES)


def test_signature_error_is_a_value_error() -> None:
    assert issubclass(SignatureError, ValueError)


# --- the generic checks --------------------------------------------------------------------------


def test_the_issue_example_is_rejected_for_arity_first() -> None:
    fails("add takes 2 inputs, got 1", "add", {"bogus": "x"}, [f32(4)], [i64(4, 9)])


def test_unknown_parameter() -> None:
    fails("add: unknown parameter 'bogus'", "add", {"bogus": "x"}, [f32(4), f32(4)], [f32(4)])


def test_missing_parameter() -> None:
    fails("softmax: missing parameter 'dim'", "softmax", {}, [f32(4)], [f32(4)])


def test_parameter_kinds() -> None:
    fails("softmax: parameter 'dim' must be an int, got 'x'", "softmax", {"dim": "x"}, [f32(4)], [f32(4)])
    fails("softmax: parameter 'dim' must be an int, got True", "softmax", {"dim": True}, [f32(4)], [f32(4)])
    fails("sum: parameter 'dims' must be a list of ints, got [0.5]", "sum", {"dims": [0.5], "keepdim": False}, [f32(4)], [f32()])
    fails("sum: parameter 'keepdim' must be a bool, got 1", "sum", {"dims": [0], "keepdim": 1}, [f32(4)], [f32()])
    fails("arange: parameter 'start' must be an int or a float, got True", "arange", {"start": True, "step": 1}, [], [i64(2)])
    fails("gelu: parameter 'approximate' must be one of ['none', 'tanh'], got 'fast'", "gelu", {"approximate": "fast"}, [f32(2)], [f32(2)])
    fails("gelu: parameter 'approximate' must be a string, got 3", "gelu", {"approximate": 3}, [f32(2)], [f32(2)])


def test_optional_parameter_may_be_absent() -> None:
    check_signature("div", {}, [f32(2), f32(2)], [f32(2)])
    check_signature("div", {"rounding_mode": "floor"}, [f32(2), f32(2)], [f32(2)])
    check_signature("argmax", {"keepdim": False}, [f32(2, 3)], [i64()])


def test_result_count() -> None:
    fails("topk gives 2 results, got 1", "topk", {"k": 1, "dim": 0, "largest": True, "sorted": True}, [f32(3)], [f32(1)])
    fails("add gives 1 result, got 2", "add", {}, [f32(2), f32(2)], [f32(2), f32(2)])


def test_arity_words() -> None:
    fails("linear takes 2 to 3 inputs, got 1", "linear", {}, [f32(2, 3)], [f32(2, 4)])
    fails("concat takes at least 1 input, got 0", "concat", {"dim": 0}, [], [f32(2)])
    fails("full takes 0 inputs, got 1", "full", {"value": 0}, [f32()], [f32()])


def test_not_a_compute_opcode() -> None:
    fails("'load' is not a compute opcode", "load", {}, [f32(2)], [f32(2)])
    fails("'bogus' is not a compute opcode", "bogus", {}, [], [])


# --- elementwise ---------------------------------------------------------------------------------

shapes = st.lists(st.integers(1, 4), min_size=0, max_size=4).map(tuple)


@st.composite
def broadcastable(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Two shapes that broadcast: the second is the first's tail with some sizes set to 1."""
    a = draw(shapes)
    tail = draw(st.integers(0, len(a)))
    b = tuple(1 if draw(st.booleans()) else n for n in a[len(a) - tail:])
    return (a, b) if draw(st.booleans()) else (b, a)


@FAST
@given(broadcastable())
def test_binary_result_is_numpys_broadcast(pair: tuple[tuple[int, ...], tuple[int, ...]]) -> None:
    a, b = pair
    want = np.broadcast_shapes(a, b)
    check_signature("add", {}, [("f32", a), ("f32", b)], [("f32", want)])
    check_signature("lt", {}, [("f32", a), ("f32", b)], [("i1", want)])
    wrong = want + (2,)
    with pytest.raises(SignatureError, match=r"is not the broadcast"):
        check_signature("add", {}, [("f32", a), ("f32", b)], [("f32", wrong)])


@FAST
@given(shapes, shapes)
def test_binary_rejects_exactly_what_numpy_rejects(a: tuple[int, ...], b: tuple[int, ...]) -> None:
    try:
        want = np.broadcast_shapes(a, b)
    except ValueError:
        with pytest.raises(SignatureError, match=r"do not broadcast"):
            check_signature("mul", {}, [("f32", a), ("f32", b)], [("f32", a)])
    else:
        check_signature("mul", {}, [("f32", a), ("f32", b)], [("f32", want)])


def test_binary_messages() -> None:
    fails("add: result shape (4, 9) is not the broadcast (4,) of its inputs", "add", {}, [f32(4), f32(4)], [f32(4, 9)])
    fails("add: shapes [(4, 8), (4, 7)] do not broadcast", "add", {}, [f32(4, 8), f32(4, 7)], [f32(4, 8)])
    fails("add: inputs have different dtypes ['f32', 'i64']", "add", {}, [f32(4), i64(4)], [f32(4)])
    fails("add: result dtype i64 should be f32", "add", {}, [f32(4), f32(4)], [i64(4)])
    fails("eq: result dtype f32 should be i1", "eq", {}, [f32(4), f32(4)], [f32(4)])
    fails("logical_and: input 0 must be i1, got f32", "logical_and", {}, [f32(4), f32(4)], [("i1", (4,))])
    fails("bitwise_xor: input 0 must be an integer or i1, got f32", "bitwise_xor", {}, [f32(4), f32(4)], [f32(4)])


def test_unary_rules() -> None:
    check_signature("neg", {}, [i64(3)], [i64(3)])
    fails("exp: input 0 must be a float, got i64", "exp", {}, [i64(3)], [i64(3)])
    fails("neg: result shape (4,) should be (3,)", "neg", {}, [f32(3)], [f32(4)])
    fails("neg: result dtype i64 should be f32", "neg", {}, [f32(3)], [i64(3)])
    fails("logical_not: input 0 must be i1, got f32", "logical_not", {}, [f32(3)], [f32(3)])
    check_signature("isnan", {}, [f32(3)], [("i1", (3,))])
    fails("isnan: result dtype f32 should be i1", "isnan", {}, [f32(3)], [f32(3)])
    check_signature("cast", {}, [f32(3)], [("bf16", (3,))])
    fails("cast: result shape (1, 3) should be (3,)", "cast", {}, [f32(3)], [("bf16", (1, 3))])


def test_where() -> None:
    check_signature("where", {}, [("i1", (2, 1)), f32(3), f32(2, 3)], [f32(2, 3)])
    fails("where: input 0 must be i1 (the condition), got f32", "where", {}, [f32(2), f32(2), f32(2)], [f32(2)])
    fails("where: result shape (2,) is not the broadcast (2, 3) of its inputs", "where", {},
          [("i1", (2, 1)), f32(3), f32(3)], [f32(2)])


# --- reductions --------------------------------------------------------------------------------


@st.composite
def reduction(draw: st.DrawFn) -> tuple[tuple[int, ...], list[int], bool]:
    shape = draw(st.lists(st.integers(1, 4), min_size=1, max_size=4).map(tuple))
    dims = draw(st.lists(st.integers(-len(shape), len(shape) - 1), max_size=len(shape), unique_by=lambda d: d % len(shape)))
    return shape, dims, draw(st.booleans())


@FAST
@given(reduction())
def test_reduce_matches_torch(case: tuple[tuple[int, ...], list[int], bool]) -> None:
    shape, dims, keepdim = case
    want = tuple(torch.zeros(shape).sum(dim=dims, keepdim=keepdim).shape)
    check_signature("sum", {"dims": dims, "keepdim": keepdim}, [f32(*shape)], [f32(*want)])
    if dims:
        want_max = tuple(torch.zeros(shape).amax(dim=dims, keepdim=keepdim).shape)
        check_signature("amax", {"dims": dims, "keepdim": keepdim}, [f32(*shape)], [f32(*want_max)])


@FAST
@given(reduction())
def test_argmax_matches_torch(case: tuple[tuple[int, ...], list[int], bool]) -> None:
    shape, dims, keepdim = case
    dim = dims[0] if dims else None
    want = tuple(torch.zeros(shape).argmax(dim=dim, keepdim=keepdim).shape)
    params = {"keepdim": keepdim} | ({"dim": dim} if dim is not None else {})
    check_signature("argmax", params, [f32(*shape)], [i64(*want)])


def test_reduce_messages() -> None:
    fails("sum: result shape (4,) should be (3, 1)", "sum", {"dims": [1], "keepdim": True}, [f32(3, 4)], [f32(4)])
    fails("sum: dim 2 is out of range for rank 2", "sum", {"dims": [2], "keepdim": True}, [f32(3, 4)], [f32(3, 4)])
    fails("sum: dims [0, -2] repeat a dimension", "sum", {"dims": [0, -2], "keepdim": False}, [f32(3, 4)], [f32(4)])
    fails("sum: result dtype i64 should be f32", "sum", {"dims": [], "keepdim": False}, [f32(3, 4)], [i64()])
    fails("argmax: result shape (2,) should be (2, 1)", "argmax", {"dim": 1, "keepdim": True}, [f32(2, 3)], [i64(2)])
    fails("argmax: result dtype f32 should be i64", "argmax", {"dim": 1, "keepdim": False}, [f32(2, 3)], [f32(2)])
    fails("argmax: result shape (2,) should be ()", "argmax", {"keepdim": False}, [f32(2, 3)], [i64(2)])


def test_along_dim_and_topk() -> None:
    check_signature("softmax", {"dim": -1}, [f32(2, 3)], [f32(2, 3)])
    fails("softmax: dim 2 is out of range for rank 2", "softmax", {"dim": 2}, [f32(2, 3)], [f32(2, 3)])
    fails("softmax: input 0 must be a float, got i64", "softmax", {"dim": 0}, [i64(2)], [i64(2)])
    check_signature("cumsum", {"dim": 0}, [i64(2)], [i64(2)])
    topk = {"k": 2, "dim": 1, "largest": True, "sorted": True}
    check_signature("topk", topk, [f32(3, 5)], [f32(3, 2), i64(3, 2)])
    fails("topk: result #1 dtype i32 should be i64", "topk", topk, [f32(3, 5)], [f32(3, 2), ("i32", (3, 2))])
    fails("topk: result #0 shape (3, 5) should be (3, 2)", "topk", topk, [f32(3, 5)], [f32(3, 5), i64(3, 2)])
    fails("topk: k=6 is out of range for a dimension of size 5", "topk", topk | {"k": 6}, [f32(3, 5)], [f32(3, 6), i64(3, 6)])


# --- matmul --------------------------------------------------------------------------------------


@st.composite
def matmul_pair(draw: st.DrawFn) -> tuple[tuple[int, ...], tuple[int, ...]]:
    batch_a, batch_b = draw(broadcastable())
    m, k, n = (draw(st.integers(1, 4)) for _ in range(3))
    return batch_a + (m, k), batch_b + (k, n)


@FAST
@given(matmul_pair())
def test_matmul_batch_broadcast_matches_torch(pair: tuple[tuple[int, ...], tuple[int, ...]]) -> None:
    a, b = pair
    want = tuple(torch.matmul(torch.zeros(a), torch.zeros(b)).shape)
    check_signature("matmul", {}, [f32(*a), f32(*b)], [f32(*want)])


def test_matmul_and_linear_messages() -> None:
    fails("matmul: contraction sizes differ (3 vs 4)", "matmul", {}, [f32(2, 3), f32(4, 5)], [f32(2, 5)])
    fails("matmul: operands must have rank >= 2, got (3,) and (3, 4)", "matmul", {}, [f32(3), f32(3, 4)], [f32(4)])
    fails("matmul: result shape (2, 4) should be (2, 5)", "matmul", {}, [f32(2, 3), f32(3, 5)], [f32(2, 4)])
    check_signature("linear", {}, [f32(7, 8), f32(4, 8), f32(4)], [f32(7, 4)])
    fails("linear: input (7, 8) does not fit weight (4, 9)", "linear", {}, [f32(7, 8), f32(4, 9)], [f32(7, 4)])
    fails("linear: bias (8,) is not (4,) (out_features)", "linear", {}, [f32(7, 8), f32(4, 8), f32(8)], [f32(7, 4)])


# --- layout --------------------------------------------------------------------------------------


@FAST
@given(st.lists(st.integers(1, 4), min_size=0, max_size=5).flatmap(
    lambda s: st.tuples(st.just(tuple(s)), st.permutations(range(len(s))))))
def test_permute_matches_torch(case: tuple[tuple[int, ...], list[int]]) -> None:
    shape, dims = case
    want = tuple(torch.zeros(shape).permute(list(dims)).shape)
    check_signature("permute", {"dims": list(dims)}, [f32(*shape)], [f32(*want)])


@FAST
@given(broadcastable())
def test_expand_matches_torch(pair: tuple[tuple[int, ...], tuple[int, ...]]) -> None:
    a, b = pair
    target = np.broadcast_shapes(a, b)
    want = tuple(torch.zeros(a).expand(tuple(target)).shape)
    check_signature("expand", {"shape": list(target)}, [f32(*a)], [f32(*want)])


def test_layout_messages() -> None:
    fails("reshape: shape (5,) has 5 elements, the input (2, 3) has 6", "reshape", {"shape": [5]}, [f32(2, 3)], [f32(5)])
    fails("reshape: result shape (6,) should be (3, 2)", "reshape", {"shape": [3, 2]}, [f32(2, 3)], [f32(6)])
    fails("reshape: result dtype i64 should be f32", "reshape", {"shape": [6]}, [f32(2, 3)], [i64(6)])
    fails("expand: input (2, 3) does not broadcast to (2, 4)", "expand", {"shape": [2, 4]}, [f32(2, 3)], [f32(2, 4)])
    fails("permute: dims [0, 0] are not a permutation of rank 2", "permute", {"dims": [0, 0]}, [f32(2, 3)], [f32(2, 2)])
    fails("slice: bounds must be normalised (0 <= start <= end <= 4, step > 0), got start=3 end=2 step=1", "slice",
          {"dim": 0, "start": 3, "end": 2, "step": 1}, [f32(4)], [f32(0)])
    check_signature("slice", {"dim": 1, "start": 1, "end": 8, "step": 3}, [f32(2, 8)], [f32(2, 3)])
    fails("slice: result shape (2, 2) should be (2, 3)", "slice", {"dim": 1, "start": 1, "end": 8, "step": 3}, [f32(2, 8)], [f32(2, 2)])
    check_signature("concat", {"dim": -1}, [f32(2, 3), f32(2, 1)], [f32(2, 4)])
    fails("concat: inputs [(2, 3), (3, 1)] differ outside dim 1", "concat", {"dim": 1}, [f32(2, 3), f32(3, 1)], [f32(2, 4)])
    fails("concat: inputs have different dtypes ['f32', 'i64']", "concat", {"dim": 0}, [f32(2), i64(2)], [f32(4)])
    fails("triu: input must have rank >= 2, got (3,)", "triu", {"diagonal": 0}, [f32(3)], [f32(3)])


# --- indexing ------------------------------------------------------------------------------------


def test_gather_index_select_embedding() -> None:
    check_signature("gather", {"dim": 1}, [f32(3, 5), i64(2, 4)], [f32(2, 4)])
    fails("gather: index (4, 4) is larger than input (3, 5) outside dim 1", "gather", {"dim": 1}, [f32(3, 5), i64(4, 4)], [f32(4, 4)])
    fails("gather: index rank 1 differs from input rank 2", "gather", {"dim": 1}, [f32(3, 5), i64(4)], [f32(4)])
    fails("gather: input 1 must be i64 or i32 (indices), got f32", "gather", {"dim": 0}, [f32(3), f32(3)], [f32(3)])
    check_signature("index_select", {"dim": 0}, [f32(10, 3), i64(4)], [f32(4, 3)])
    fails("index_select: index must be 1-D, got (2, 2)", "index_select", {"dim": 0}, [f32(10, 3), i64(2, 2)], [f32(4, 3)])
    check_signature("embedding", {}, [f32(10, 3), i64(2, 5)], [f32(2, 5, 3)])
    fails("embedding: result shape (2, 3) should be (2, 5, 3)", "embedding", {}, [f32(10, 3), i64(2, 5)], [f32(2, 3)])


@FAST
@given(st.lists(st.integers(1, 3), min_size=1, max_size=4), st.data())
def test_index_matches_torch(shape: list[int], data: st.DataObject) -> None:
    dims = sorted(data.draw(st.sets(st.integers(0, len(shape) - 1), min_size=1)))
    index_shape = data.draw(st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple))
    key: list = [slice(None)] * len(shape)
    for d in dims:
        key[d] = torch.zeros(index_shape, dtype=torch.long)
    want = tuple(torch.zeros(shape)[tuple(key)].shape)
    inputs = [f32(*shape)] + [i64(*index_shape) for _ in dims]
    check_signature("index", {"indexed_dims": dims}, inputs, [f32(*want)])


def test_index_messages() -> None:
    fails("index: result shape (3, 5) should be (5, 3)", "index", {"indexed_dims": [0, 2]},
          [f32(2, 3, 4), i64(5), i64(5)], [f32(3, 5)])
    fails("index: 1 index tensors for indexed_dims [0, 1]", "index", {"indexed_dims": [0, 1]}, [f32(2, 3), i64(5)], [f32(5)])
    fails("index: indexed_dims [1, 0] must be increasing and within rank 2", "index", {"indexed_dims": [1, 0]},
          [f32(2, 3), i64(5), i64(5)], [f32(5)])
    fails("index: shapes [(2,), (3,)] do not broadcast", "index", {"indexed_dims": [0, 1]}, [f32(2, 3), i64(2), i64(3)], [f32(2)])


# --- generators ----------------------------------------------------------------------------------


@FAST
@given(st.integers(-5, 5), st.integers(-5, 5).filter(bool), st.integers(-12, 12))
def test_arange_length_matches_torch(start: int, step: int, end: int) -> None:
    if (end - start) * step < 0:
        return  # torch refuses these; our rule gives length 0
    want = tuple(torch.arange(start, end, step).shape)
    check_signature("arange", {"start": start, "end": end, "step": step}, [], [i64(*want)])


def test_generator_messages() -> None:
    check_signature("arange", {"start": 0.0, "end": 1.0, "step": 0.25}, [], [f32(4)])
    fails("arange: result shape (4,) should be (5,)", "arange", {"start": 0, "end": 5, "step": 1}, [], [i64(4)])
    fails("arange: step must not be 0", "arange", {"start": 0, "end": 5, "step": 0}, [], [i64(4)])
    fails("arange: result must be 1-D, got (2, 2)", "arange", {"start": 0, "step": 1}, [], [i64(2, 2)])
    fails("arange: result dtype i1 is not numeric", "arange", {"start": 0, "end": 2, "step": 1}, [], [("i1", (2,))])
    check_signature("full", {"value": 0.5}, [], [f32(2, 3)])
    check_signature("full", {"value": True}, [], [("i1", (2,))])
    fails("full: value 0.5 is a float, the result is i64", "full", {"value": 0.5}, [], [i64(2)])
    fails("full: value 2 does not fit i1", "full", {"value": 2}, [], [("i1", ())])
    fails("full: parameter 'value' must be an int, float or bool, got 'x'", "full", {"value": "x"}, [], [f32()])


def test_prod_of_an_empty_shape_is_one() -> None:
    assert prod(()) == 1  # reshape of a scalar to (1, 1) relies on it
    check_signature("reshape", {"shape": [1, 1]}, [f32()], [f32(1, 1)])
