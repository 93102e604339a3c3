"""Numeric golden tests: every bundled example, and the contract-edge models, compiled,
simulated from the bitstream, and compared with PyTorch eager."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.driver import CompileOptions, compile_model
from compiler.run_model import run_compiled

ROOT = Path(__file__).parents[1]
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*.py") if not p.stem.endswith("_shapes"))
EDGE_MODELS = [ROOT / "tests" / "models" / name for name in ("nan_inputs.py", "tuple_output.py")]
# Heavy (model, level) pairs: the -O1 run on chip small covers the same converters and passes.
SLOW = {("resnet18", 0), ("resnet18", "sn40l")}


def marked(model: Path, key: object) -> list:
    return [pytest.mark.slow] if (model.stem, key) in SLOW else []


@pytest.mark.parametrize(("model", "opt_level"), [
    pytest.param(m, level, id=f"{m.stem}-O{level}", marks=marked(m, level)) for level in (0, 1) for m in EXAMPLES + EDGE_MODELS
])
def test_matches_pytorch(model: Path, opt_level: int) -> None:
    report = run_compiled(compile_model(model, CompileOptions(chip="small", opt_level=opt_level)))
    assert report.allclose, report.to_text()
    assert report.cycles > 0
    assert report.cycles >= report.compile.work.roofline_cycles(report.compile.chip)


@pytest.mark.parametrize("model", [pytest.param(m, id=m.stem, marks=marked(m, "sn40l")) for m in EXAMPLES])
def test_matches_pytorch_on_sn40l(model: Path) -> None:
    report = run_compiled(compile_model(model, CompileOptions(chip="sn40l", opt_level=1)))
    assert report.allclose, report.to_text()


def test_nan_positions_match() -> None:
    report = run_compiled(compile_model(ROOT / "tests" / "models" / "nan_inputs.py", CompileOptions(chip="small")))
    assert report.allclose
    assert len(report.comparisons) == 2


def test_fusion_reduces_kernels_and_cycles() -> None:
    model = ROOT / "examples" / "attention.py"
    o0 = run_compiled(compile_model(model, CompileOptions(chip="small", opt_level=0)))
    o1 = run_compiled(compile_model(model, CompileOptions(chip="small", opt_level=1)))
    assert o1.compile.bitstream.manifest["kernels"] < o0.compile.bitstream.manifest["kernels"]
    assert o1.cycles < o0.cycles


@pytest.mark.slow  # 90 s of compile; tests/tiles/test_query_block.py covers the fallback it once needed
@pytest.mark.parametrize("model", [pytest.param(m, id=m.stem) for m in sorted((ROOT / "examples").glob("*_shapes.py"))])
def test_shapes_only_examples_compile_and_time(model: Path) -> None:
    """The shapes-only examples (no weights to compare) compile at -O1 on their chip and time to
    the end: a Llama-3-8B-shaped layer once failed in rdu-tile, its PMUs all held by weights."""
    from functional_sim import simulate

    result = compile_model(model, CompileOptions(opt_level=1))
    assert simulate(result.data, None, execute=False).cycles > 0
