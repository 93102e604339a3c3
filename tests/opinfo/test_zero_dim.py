"""0-d tensors through every reduction and scan (issue 10): torch reduces a 0-d value over dim 0
or -1 to itself; the simulator used to raise numpy's AxisError and `var` failed in the frontend."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from compiler.run_model import run_compiled


class Scalar(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, x: torch.Tensor):
        return self.fn(x)


CASES = {
    "sum": lambda x: x.sum(0), "mean": lambda x: x.mean(-1), "amax": lambda x: x.amax(0),
    "amin_keepdim": lambda x: x.amin(0, keepdim=True), "prod": lambda x: x.prod(0), "cumsum": lambda x: x.cumsum(0),
    "all_any": lambda x: (x.all(0), x.any(-1)), "logsumexp": lambda x: x.logsumexp(0), "max_dim": lambda x: x.max(0),
    "var": lambda x: x.var(0, correction=0),
}


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_zero_dim_reduction_matches_eager(case: str, dtype: torch.dtype):
    model = Scalar(CASES[case])
    loaded = LoadedModel(Path(f"zero_dim_{case}.py"), model, (torch.tensor(1.5, dtype=dtype),))
    report = run_compiled(compile_loaded(loaded, CompileOptions(chip="small", placer="greedy")), timing="analytic")
    assert report.allclose, report.to_text()
