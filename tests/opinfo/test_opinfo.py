"""PyTorch's OpInfo samples as rducc's op test suite (issue 10).

The fast tests run a few samples of one OpInfo per converter family (f32 at -O1, a bf16 and an
-O0 share) and demand a match; samples rducc does not take must be refused with the clean
one-line error, and are counted, never skipped. The slow test sweeps every OpInfo of `op_db` in
f32 and bf16 and demands that no sample fails (a wrong value or an internal error) beyond the
known failures listed here with their reason. `python -m tests.opinfo.report` writes the same
sweep's table into docs/ops.md.
"""

from __future__ import annotations

import pytest
import torch

from tests.opinfo.harness import OpResult, find_op, run_op, sweep, sweep_dtypes

pytest.importorskip("expecttest", reason="torch.testing._internal needs expecttest (the `test` extra)")

# One OpInfo per converter family, enough to exercise every converter and kernel group.
FAST_F32 = [
    "add", "sub", "mul", "div.no_rounding_mode", "div.floor_rounding", "pow", "remainder", "maximum", "eq", "lt", "logical_and", "where", "clamp", "neg", "abs", "exp", "log", "rsqrt", "tanh", "sigmoid", "sin",
    "erf", "floor", "nn.functional.relu", "nn.functional.silu", "nn.functional.gelu", "isnan", "sum", "mean", "amax",
    "prod", "var", "argmax", "max.reduction_with_dim", "any", "logsumexp", "softmax", "log_softmax", "cumsum", "topk",
    "sort", "argsort", "mm", "bmm", "matmul", "addmm", "nn.functional.linear", "reshape", "permute", "transpose",
    "expand", "squeeze", "unsqueeze", "narrow", "select", "split", "cat", "stack", "index_select", "gather",
    "take_along_dim", "index_put", "scatter", "scatter_add", "slice_scatter", "select_scatter", "masked_fill", "triu",
    "tril", "full_like", "zeros_like", "nn.functional.embedding", "nn.functional.layer_norm", "nn.functional.conv2d",
    "nn.functional.avg_pool2d", "nn.functional.adaptive_avg_pool2d",
    "nn.functional.pixel_shuffle",
    # the long tail: functions of the `math` opcode and compositions of existing ops
    "log1p", "expm1", "asin", "acos", "atan", "sinh", "round", "trunc", "sign", "isinf", "nn.functional.hardtanh",
    "nn.functional.leaky_relu", "nn.functional.elu", "argmin", "min.reduction_with_dim", "var_mean",
    "linalg.vector_norm", "addmv", "addbmm", "flip", "repeat", "diagonal", "nn.functional.pad.constant",
    "nn.functional.pad.reflect", "nn.functional.pad.replicate", "nn.functional.group_norm",
    "nn.functional.conv_transpose2d", "nn.functional.conv3d", "nn.functional.conv_transpose1d",
]
FAST_BF16 = ["add", "mul", "div.no_rounding_mode", "exp", "sum", "mean", "softmax", "matmul", "nn.functional.linear",
             "nn.functional.layer_norm", "nn.functional.gelu", "topk", "cumsum", "nn.functional.conv2d",
             "nn.functional.conv_transpose2d", "nn.functional.group_norm", "var", "addbmm"]
FAST_O0 = ["add", "sum", "softmax", "matmul", "cat", "topk"]
FAST_SAMPLES = {"f32": 2, "bf16": 1, "O0": 1}
# OpInfos without a float kernel run in the dtype the sweep gives them (tests/opinfo/harness.sweep_dtypes).
FAST_OTHER = ["bitwise_xor", "bitwise_not"]

# (OpInfo, dtype) -> why some of its samples fail today. The slow sweep fails when a listed pair
# starts to pass (remove it) or an unlisted one fails.
KNOWN_FAILURES: dict[tuple[str, str], str] = {}


def _check(result: OpResult) -> None:
    failed = [o for o in result.outcomes if o.outcome == "failed"]
    assert not failed, "\n".join(f"{o.op} {o.dtype} sample {o.index}: {o.reason}" for o in failed)
    for o in result.outcomes:
        if o.outcome == "unsupported":  # the clean refusal a user sees: one line
            assert "\n" not in o.reason and o.reason, o
    assert result.count("passed") >= 1, f"no sample of {result.op} {result.dtype} passed: " + \
        "; ".join(o.reason for o in result.outcomes)


@pytest.mark.parametrize("name", FAST_F32)
def test_opinfo_f32(name: str):
    _check(run_op(find_op(name), torch.float32, FAST_SAMPLES["f32"]))


@pytest.mark.parametrize("name", FAST_OTHER)
def test_opinfo_integer_ops(name: str):
    op = find_op(name)
    dtype = sweep_dtypes(op)[0]
    _check(run_op(op, dtype, FAST_SAMPLES["f32"]))


@pytest.mark.parametrize("name", FAST_BF16)
def test_opinfo_bf16(name: str):
    _check(run_op(find_op(name), torch.bfloat16, FAST_SAMPLES["bf16"]))


@pytest.mark.parametrize("name", FAST_O0)
def test_opinfo_unfused(name: str):
    _check(run_op(find_op(name), torch.float32, FAST_SAMPLES["O0"], opt_level=0))


def test_unsupported_op_is_refused_by_name():
    """An OpInfo whose op has no converter ends as `unsupported` naming the op, not a failure."""
    result = run_op(find_op("special.bessel_j0"), torch.float32, 1)
    assert [o.outcome for o in result.outcomes] == ["unsupported"]
    assert result.outcomes[0].reason.startswith("unsupported op aten.special_bessel_j0.default")


@pytest.mark.slow
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])
def test_opinfo_sweep(dtype: torch.dtype):
    results = sweep(dtypes=(dtype,), limit=3)
    dtype_name = str(dtype).removeprefix("torch.")
    failing = {r.op: r.first_reason("failed") for r in results if r.count("failed")}
    unexpected = {op: why for op, why in failing.items() if (op, dtype_name) not in KNOWN_FAILURES}
    fixed = [op for (op, d) in KNOWN_FAILURES if d == dtype_name and op not in failing]
    assert not unexpected, "\n".join(f"{op}: {why}" for op, why in sorted(unexpected.items()))
    assert not fixed, f"known failures that pass now (remove them from KNOWN_FAILURES): {fixed}"
