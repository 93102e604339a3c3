"""Dtype handling end to end: 0-d values in bf16, and tolerances that follow the output dtype."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from bitstream_format.arrays import array_to_bytes, bytes_to_array, round_to_bf16
from compiler.compare import compare_outputs, tolerances_for
from compiler.driver import CompileOptions, compile_model
from compiler.run_model import run_compiled

MODELS = Path(__file__).parent / "models"


@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4),
                  elements=st.floats(width=32, allow_nan=False)))
def test_bf16_rounding_keeps_shape_and_matches_torch(values: np.ndarray) -> None:
    rounded = round_to_bf16(values)
    assert rounded.shape == values.shape
    expected = torch.from_numpy(np.array(values)).to(torch.bfloat16).float().numpy()
    np.testing.assert_array_equal(rounded, expected)
    data = array_to_bytes(values, "bf16")
    assert len(data) == 2 * values.size
    np.testing.assert_array_equal(bytes_to_array(data, "bf16", values.shape), expected)


@pytest.mark.parametrize("opt_level", [0, 1])
def test_bf16_scalar_reductions_match(opt_level: int) -> None:
    report = run_compiled(compile_model(MODELS / "scalar_bf16.py", CompileOptions(chip="small", opt_level=opt_level)))
    assert report.allclose, report.to_text()
    assert [c.shape for c in report.comparisons] == [()] * 6
    assert {(c.rtol, c.atol) for c in report.comparisons} == {tolerances_for("bfloat16")}


def test_tolerance_follows_dtype() -> None:
    ref32 = torch.tensor([1.0, 2.0])
    one_bf16_step = np.array([1.0, 2.0 + 2 ** -6], np.float32)  # one bf16 ulp above 2
    assert not compare_outputs([one_bf16_step], [ref32])[0].allclose
    assert compare_outputs([one_bf16_step], [ref32.to(torch.bfloat16)])[0].allclose
    assert compare_outputs([one_bf16_step], [ref32], rtol=1e-2)[0].allclose
    exact = compare_outputs([np.array([1, 2])], [torch.tensor([1, 3])])[0]
    assert (exact.rtol, exact.atol, exact.allclose) == (0.0, 0.0, False)
