"""Every bundled example and Hugging Face architecture in bf16 (weights and activations),
compiled, simulated and held to PyTorch (issue 10).

The tolerance, and why: a whole model in bf16 rounds at every op, and two correct bf16
executions that round in a different order (tiled sums, fused epilogues, f32 accumulation inside
a kernel) part by a bf16 step or more after a few layers, most visibly on outputs near zero where
torch.testing's bf16 atol (1e-5) says nothing. So both are measured against the same model run in
float64 from the same bf16 weights and inputs, and the simulator must be no farther from that
exact result than PyTorch's own bf16 execution, plus half a bf16 step (2^-8) of the output's
scale: the bitstream computes as accurately as eager does, whichever rounds luckier.
"""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch

from compiler.compare import eager_leaves, to_numpy
from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel, load_model_file
from functional_sim import simulate

ROOT = Path(__file__).parents[1]
BF16_STEP = 2.0 ** -8  # half the gap between 1 and the next bf16: the unit roundoff
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.py") if not p.stem.endswith("_shapes"))
SLOW_EXAMPLES = {"resnet18", "mixtral", "qwen2", "vit"}  # the fast ones cover the same converters in bf16


def assert_bf16_as_accurate_as_eager(name: str, model: torch.nn.Module, inputs: tuple) -> None:
    model = model.to(torch.bfloat16).eval()
    inputs = tuple(t.to(torch.bfloat16) if t.is_floating_point() else t for t in inputs)
    result = compile_loaded(LoadedModel(Path(f"{name}.py"), model, inputs), CompileOptions(chip="small", opt_level=1))
    simulated = simulate(result.bitstream, [to_numpy(t) for t in inputs], chip=result.chip, timing="analytic").outputs
    with torch.no_grad():
        exact = eager_leaves(copy.deepcopy(model).double()(*[t.double() if t.is_floating_point() else t for t in inputs]))
    for i, (ours, eager, truth) in enumerate(zip(simulated, eager_leaves(result.eager_outputs), exact)):
        assert eager.dtype == torch.bfloat16
        truth = truth.numpy()
        our_error = float(np.abs(ours.astype(np.float64) - truth).max())
        eager_error = float(np.abs(to_numpy(eager).astype(np.float64) - truth).max())
        allowed = eager_error + BF16_STEP * float(np.abs(truth).max())
        assert our_error <= allowed, (f"{name} output {i}: simulator {our_error:.3g} from the float64 result, "
                                      f"eager bf16 {eager_error:.3g}, allowed {allowed:.3g}")


@pytest.mark.parametrize("name", [pytest.param(n, marks=[pytest.mark.slow] if n in SLOW_EXAMPLES else []) for n in EXAMPLES])
def test_example_in_bf16(name: str) -> None:
    loaded = load_model_file(ROOT / "examples" / f"{name}.py")
    assert_bf16_as_accurate_as_eager(name, loaded.module, loaded.inputs)


def test_bf16_layer_norm_then_linear_matches_eager_exactly() -> None:
    """The case that was a bf16 step off: layer norm now computes in f32 inside and rounds once,
    as PyTorch's bf16 kernel does, so the following linear sees the same bf16 values as eager."""
    from compiler.run_model import run_compiled

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.LayerNorm(64), torch.nn.Linear(64, 32)).to(torch.bfloat16).eval()
    x = (torch.randn(4, 64) * 3 + 1).to(torch.bfloat16)
    report = run_compiled(compile_loaded(LoadedModel(Path("ln_linear.py"), model, (x,)), CompileOptions(chip="small")),
                          timing="analytic")
    assert report.allclose, report.to_text()
    assert report.max_abs_error == 0.0


@pytest.mark.parametrize("name", [pytest.param(n, marks=[] if n in ("gpt2", "mistral") else [pytest.mark.slow])
                                  for n in ("falcon", "gemma2", "gpt2", "mistral", "phi3", "qwen2moe", "qwen3")])
def test_hf_architecture_in_bf16(name: str) -> None:
    transformers = pytest.importorskip("transformers")
    from tests.test_hf_architectures import ARCHITECTURES

    config_cls, model_cls, kwargs = ARCHITECTURES[name]
    torch.manual_seed(0)
    model = getattr(transformers, model_cls)(getattr(transformers, config_cls)(**kwargs))
    ids = torch.randint(0, 256, (1, 16), generator=torch.Generator().manual_seed(1))
    assert_bf16_as_accurate_as_eager(name, model, (ids,))
