"""The simulator's meaning of the vision, sort and scatter opcodes, checked directly against
PyTorch (no compile): im2col against F.unfold, batch_norm against F.batch_norm, sort's ties,
index_put and scatter with repeated indices."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from functional_sim.kernels import KERNELS


def run(name: str, inputs: list, **attrs) -> list[np.ndarray]:
    return KERNELS[name]([np.asarray(x) for x in inputs], attrs, [])


@pytest.mark.parametrize(("kernel", "stride", "padding", "dilation"), [
    ([3, 3], [1, 1], [1, 1], [1, 1]), ([2, 3], [2, 1], [0, 2], [1, 2]), ([1, 1], [2, 2], [0, 0], [1, 1]),
])
def test_im2col_is_unfold(kernel, stride, padding, dilation) -> None:
    x = torch.randn(2, 3, 7, 8)
    want = F.unfold(x, kernel, dilation=dilation, padding=padding, stride=stride)  # (N, C*K, L)
    got, = run("im2col", [x.numpy()], kernel=kernel, stride=stride, padding=padding, dilation=dilation, groups=1, pad_with="zero")
    np.testing.assert_array_equal(got[:, 0], want.numpy())


def test_im2col_groups_split_channels_and_lowest_padding() -> None:
    x = np.arange(2 * 4 * 3 * 3, dtype=np.float32).reshape(2, 4, 3, 3)
    got, = run("im2col", [x], kernel=[2, 2], stride=[1, 1], padding=[1, 1], dilation=[1, 1], groups=2, pad_with="lowest")
    assert got.shape == (2, 2, 8, 16)
    full, = run("im2col", [x], kernel=[2, 2], stride=[1, 1], padding=[1, 1], dilation=[1, 1], groups=1, pad_with="lowest")
    np.testing.assert_array_equal(got.reshape(2, 16, 16), full[:, 0])
    assert got[0, 0, 0, 0] == -np.inf  # the top-left window's first tap is padding


def test_im2col_1d() -> None:
    x = torch.randn(1, 2, 9)
    got, = run("im2col", [x.numpy()], kernel=[3], stride=[2], padding=[1], dilation=[2], groups=1, pad_with="zero")
    want = F.unfold(x[..., None], (3, 1), dilation=(2, 1), padding=(1, 0), stride=(2, 1))
    np.testing.assert_allclose(got[:, 0], want.numpy())


def test_batch_norm_matches_eval_mode() -> None:
    x, w, b, m, v = torch.randn(2, 3, 4, 4), torch.rand(3) + 0.5, torch.randn(3), torch.randn(3), torch.rand(3) + 0.5
    got, = run("batch_norm", [t.numpy() for t in (x, w, b, m, v)], eps=1e-3)
    np.testing.assert_allclose(got, F.batch_norm(x, m, v, w, b, training=False, eps=1e-3).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("descending", [False, True])
def test_sort_keeps_ties_in_index_order(descending: bool) -> None:
    x = torch.tensor([[2.0, 1.0, 2.0, float("nan"), 1.0], [0.0, 0.0, -1.0, 3.0, 0.0]])
    values, indices = run("sort", [x.numpy()], dim=1, descending=descending, stable=True)
    want = torch.sort(x, dim=1, descending=descending, stable=True)
    np.testing.assert_array_equal(values, want.values.numpy())
    np.testing.assert_array_equal(indices, want.indices.numpy())


def test_index_put_accumulates_repeated_indices() -> None:
    x, idx, vals = torch.zeros(5, 2), torch.tensor([1, 3, 1]), torch.ones(3, 2)
    got, = run("index_put", [x.numpy(), vals.numpy(), idx.numpy()], indexed_dims=[0], accumulate=True)
    np.testing.assert_array_equal(got, x.index_put((idx,), vals, accumulate=True).numpy())
    with pytest.raises(IndexError, match="index 7 is out of range for dimension 0 of size 5"):
        run("index_put", [x.numpy(), vals.numpy(), np.array([7])], indexed_dims=[0], accumulate=False)


def test_scatter_add_and_slice_scatter() -> None:
    x, idx, src = torch.zeros(2, 4), torch.tensor([[0, 0, 3], [1, 2, 1]]), torch.arange(8.0).reshape(2, 4)
    got, = run("scatter", [x.numpy(), idx.numpy(), src.numpy()], dim=1, reduce="add")
    np.testing.assert_array_equal(got, x.scatter_add(1, idx, src).numpy())
    y, part = torch.zeros(3, 6), torch.ones(3, 2)
    got, = run("slice_scatter", [y.numpy(), part.numpy()], dim=1, start=1, end=5, step=2)
    np.testing.assert_array_equal(got, torch.slice_scatter(y, part, 1, 1, 5, 2).numpy())
