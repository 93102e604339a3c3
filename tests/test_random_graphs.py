"""Property: random graphs built from the supported op families compile (at -O0 and -O1) and
simulate from their bitstream to PyTorch eager's numbers, as accurately as eager computes them.

What "as accurately" means, and why it is not a fixed rtol against eager
-----------------------------------------------------------------------
Both the simulator and eager compute in float32, in different orders (tiled and fused sums
against eager's vectorised ones), so each is some rounding away from the exact result. A fixed
rtol (float32's 1e-4) against eager holds while the graph is well conditioned. It cannot hold when
the graph amplifies rounding more than 1e-4 / 2^-24 ~ 1,700x, and random graphs draw such cases.

The pinned example (rows 5, cols 2, seed 40 at -O0; hypothesis drew the same steps) failed with
max error 1.87e-4 against 1e-4 x |y| + 1e-5 (|y| <= 1). Stage by stage against float64 (the same
module in double on the same float32 input):

- softmax 1, softmax 0, scale, transpose_matmul: the simulator and eager differ by 1-2 ulps at each
  stage (summation order), and the simulator is the closer to exact at each one (before the norm:
  1.3e-6 off exact against eager's 3.2e-6, on values ~18.4).
- norm (LayerNorm, no affine effect): fed eager's own pre-norm values, the two still differ by
  3.8e-5, and eager is the farther from exact (1.2e-4 against the simulator's 8.2e-5). Both
  compute (x - mean) * rstd in two passes (rgraph's decomposition, and eager's CPU kernel; checked:
  eager's output equals that formula to the bit). The error is the rounding of the row mean: it
  is off by up to half an ulp of |mean| (9.5e-7 at 18.4; eager's is off by exactly that here), and
  that offset moves every centred value of the row alike, so the output moves by
  delta_mean * rstd = 2^-24 * |mean| / sqrt(var + eps). The two softmaxes make every entry ~1/rows,
  so the rows after the cube are near-constant: |mean| ~ 18.4 with a spread of 0.011-0.038, rstd
  up to 86, and a gain |mean| * rstd ~ 1,600, past the 1,700 / 2 that two independently rounded
  results allow under rtol 1e-4. The sum of the two implementations' mean roundings (1.5e-4)
  plus the pre-norm ulps carried through rstd is the 1.87e-4.

No stage is wrong; the tolerance was wrong for this conditioning. So the test measures the
simulator against the exact result (float64) with eager's own error as the yardstick: every
element within float32's rtol/atol of exact plus twice eager's largest error on that output (the
float64-reference check of TorchInductor's accuracy tests, `same(..., fp64_ref=...)`, with its
factor 2). For a well-conditioned graph eager's error is an ulp or two of the largest value, so
the check is as tight as before; it loosens only as far as float32 itself is inaccurate there.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from torch import nn

from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from compiler.compare import TOLERANCES, compare_outputs
from functional_sim import simulate

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


EAGER_ERROR_FACTOR = 2.0  # how much farther from exact than eager the simulator may be


def accuracy_failure(module: nn.Module, x: torch.Tensor, simulated: np.ndarray) -> str:
    """'' when `simulated` is within float32's tolerance of the exact (float64) result plus
    EAGER_ERROR_FACTOR x eager's own largest error; otherwise what is off, and by how much."""
    eager = module(x).detach().double()
    exact = copy.deepcopy(module).double()(x.double()).detach()
    sim = torch.from_numpy(np.asarray(simulated)).double()
    if sim.shape != exact.shape:
        return f"shape {tuple(sim.shape)} != {tuple(exact.shape)}"
    if not torch.equal(sim.isnan(), exact.isnan()):
        return "NaNs in different places"
    finite = ~exact.isnan()
    rtol, atol = TOLERANCES["float32"]
    eager_error = float((eager - exact)[finite].abs().max()) if finite.any() else 0.0
    error = (sim - exact)[finite].abs()
    bound = atol + rtol * exact[finite].abs() + EAGER_ERROR_FACTOR * eager_error
    if bool((error <= bound).all()):
        return ""
    worst = int((error - bound).argmax())
    return (f"max error {float(error.max()):.3g} against exact; eager's own error {eager_error:.3g}; "
            f"worst element off by {float(error[worst]):.3g} > bound {float(bound[worst]):.3g}")


# rows 5, cols 2, seed 40: the -O0 draw that failed a fixed rtol against eager (module docstring)
CONDITIONED_STEPS = [("softmax", 1), ("softmax", 0), ("scale", float(np.float32(2.73))), ("transpose_matmul", 0),
                     ("norm", 0)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    steps=st.lists(STEPS, min_size=1, max_size=6),
    rows=st.integers(1, 6),
    cols=st.integers(2, 10),
    opt_level=st.sampled_from([0, 1]),
    seed=st.integers(0, 2**16),
)
@example(steps=CONDITIONED_STEPS, rows=5, cols=2, opt_level=0, seed=40)
def test_random_graph_matches_pytorch(steps, rows, cols, opt_level, seed) -> None:
    torch.manual_seed(seed)
    module = RandomGraph(steps, cols).eval()
    x = torch.randn(rows, cols)
    loaded = LoadedModel(Path("random_graph.py"), module, (x,))
    result = compile_loaded(loaded, CompileOptions(chip="small", opt_level=opt_level))
    simulated = simulate(result.bitstream, [x.numpy()], chip=result.chip).outputs
    assert len(simulated) == 1
    failure = accuracy_failure(module, x, simulated[0])
    assert not failure, (steps, failure)


def test_the_conditioned_example_fails_a_fixed_tolerance_and_its_error_is_eager_sized() -> None:
    """The pinned example still misses float32's rtol against eager (so the example keeps testing
    the conditioning, not a case a later change made easy), and a simulated result off by a few
    times eager's error, not by float32 rounding, fails the accuracy check."""
    torch.manual_seed(40)
    module = RandomGraph(CONDITIONED_STEPS, 2).eval()
    x = torch.randn(5, 2)
    result = compile_loaded(LoadedModel(Path("random_graph.py"), module, (x,)), CompileOptions(chip="small", opt_level=0))
    simulated = simulate(result.bitstream, [x.numpy()], chip=result.chip).outputs[0]
    [against_eager] = compare_outputs([simulated], [module(x)])
    assert not against_eager.allclose and 1e-4 < against_eager.max_abs_error < 1e-3
    assert accuracy_failure(module, x, simulated) == ""
    exact = copy.deepcopy(module).double()(x.double()).detach().numpy()
    eager_error = float(np.abs(module(x).detach().numpy() - exact).max())
    off = simulated + np.float32(4 * eager_error)
    assert "worst element off by" in accuracy_failure(module, x, off)
