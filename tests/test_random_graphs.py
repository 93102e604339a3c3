"""Property: random graphs built from the supported op families compile (at -O0 and -O1) and
simulate from their bitstream to PyTorch eager's numbers."""

from __future__ import annotations

from pathlib import Path

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from compiler.run_model import run_compiled

UNARY = ["exp_neg_abs", "tanh", "relu", "sigmoid", "gelu", "silu", "sqrt_abs", "neg"]
STEPS = st.one_of(
    st.tuples(st.just("unary"), st.sampled_from(UNARY)),
    st.tuples(st.just("linear"), st.integers(2, 12)),
    st.tuples(st.just("scale"), st.floats(-3, 3, allow_nan=False, allow_infinity=False, width=32)),
    st.tuples(st.just("softmax"), st.sampled_from([0, 1])),
    st.tuples(st.just("reduce"), st.sampled_from(["sum", "mean", "amax"])),
    st.tuples(st.just("norm"), st.just(0)),
    st.tuples(st.just("where"), st.just(0)),
    st.tuples(st.just("concat_slice"), st.integers(1, 3)),
    st.tuples(st.just("transpose_matmul"), st.just(0)),
)


class RandomGraph(nn.Module):
    def __init__(self, steps: list[tuple[str, object]], cols: int):
        super().__init__()
        self.steps = steps
        self.layers = nn.ModuleList()
        for kind, arg in steps:
            if kind == "linear":
                self.layers.append(nn.Linear(cols, arg))
                cols = arg
            elif kind == "norm":
                self.layers.append(nn.LayerNorm(cols))
            else:
                self.layers.append(nn.Identity())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for (kind, arg), layer in zip(self.steps, self.layers):
            if kind == "unary":
                x = {
                    "exp_neg_abs": lambda t: torch.exp(-t.abs()),
                    "tanh": torch.tanh, "relu": torch.relu, "sigmoid": torch.sigmoid,
                    "gelu": nn.functional.gelu, "silu": nn.functional.silu,
                    "sqrt_abs": lambda t: torch.sqrt(t.abs()), "neg": torch.neg,
                }[arg](x)
            elif kind in ("linear", "norm"):
                x = layer(x)
            elif kind == "scale":
                x = x * arg + 1.0
            elif kind == "softmax":
                x = torch.softmax(x, dim=arg)
            elif kind == "reduce":
                x = x - getattr(x, arg)(dim=-1, keepdim=True)
            elif kind == "where":
                x = torch.where(x > 0, x, 0.1 * x)
            elif kind == "concat_slice":
                start = arg % (x.shape[-1] + 1)
                x = torch.cat([x, x * 2], dim=-1)[:, start : start + x.shape[-1]]
            elif kind == "transpose_matmul":
                x = (x @ x.transpose(0, 1)) @ x / x.shape[-1]
        return x


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(STEPS, min_size=1, max_size=6),
    rows=st.integers(1, 6),
    cols=st.integers(2, 10),
    opt_level=st.sampled_from([0, 1]),
    seed=st.integers(0, 2**16),
)
def test_random_graph_matches_pytorch(steps, rows, cols, opt_level, seed) -> None:
    torch.manual_seed(seed)
    module = RandomGraph(steps, cols).eval()
    loaded = LoadedModel(Path("random_graph.py"), module, (torch.randn(rows, cols),))
    report = run_compiled(compile_loaded(loaded, CompileOptions(chip="small", opt_level=opt_level)))
    assert report.allclose, (steps, report.to_text())
