"""`rducc run`'s report: model names, a cycle breakdown that adds up, tolerance overrides,
shapes-only models, and progress that never reaches JSON output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from compiler.driver import CompileOptions
from compiler.progress import no_progress, spinner

ROOT = Path(__file__).parents[1]
MODELS = ROOT / "tests" / "models"


def run(*args: str):
    return CliRunner().invoke(main, ["run", *args], catch_exceptions=False)


@pytest.fixture(scope="module")
def llama_report() -> dict:
    pytest.importorskip("transformers")
    result = run(str(ROOT / "examples" / "llama.py"), "--chip", "small", "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_kernels_are_named_by_module_path(llama_report: dict) -> None:
    names = [k["name"] for k in llama_report["kernel_report"]]
    assert "model.layers.0.self_attn" in names and "model.layers.1.self_attn" in names
    assert len(names) == len(set(names))  # made unique
    assert all(not n.startswith("k") or not n[1].isdigit() for n in names)  # no positional names


def test_cycle_breakdown_adds_up_and_names_each_phase(llama_report: dict) -> None:
    b = llama_report["cycle_breakdown"]
    parts = b["program_load_cycles"] + b["launch_cycles"] + b["fill_cycles"] + b["steady_cycles"]
    assert parts == b["total_cycles"] == llama_report["cycles"]
    kernels = sum(k["cycles"] for k in llama_report["kernel_report"])
    loads = sum(p["cycles"] for p in llama_report["program_loads"]) - llama_report["setup_cycles"]
    assert kernels + loads == llama_report["cycles"]
    assert set(b["phase_bounds"]) == {"program_load", "launch", "fill", "steady"}
    assert "software launch" in b["phase_bounds"]["launch"]


def test_text_report_lists_every_kernel_and_program_load(llama_report: dict) -> None:
    result = run(str(ROOT / "examples" / "llama.py"), "--chip", "small")
    assert result.exit_code == 0, result.output
    text = result.output
    assert "program loads +" in text and f"= {llama_report['cycles']:,}" in text
    for k in llama_report["kernel_report"]:
        assert f"  {k['name']} " in text
    for p in llama_report["program_loads"]:
        assert f"program load {p['name']}" in text


def test_rtol_atol_override_the_dtype_tolerances() -> None:
    model = str(ROOT / "examples" / "mlp.py")
    strict = json.loads(run(model, "--chip", "small", "--rtol", "0", "--atol", "0", "--json").output)
    assert [(o["rtol"], o["atol"]) for o in strict["outputs"]] == [(0.0, 0.0)]
    assert strict["max_abs_error"] > 0 and strict["allclose"] is False  # the simulator's sum order differs
    loose = run(model, "--chip", "small", "--rtol", "0.5", "--json")
    out = json.loads(loose.output)["outputs"][0]
    assert loose.exit_code == 0 and (out["rtol"], out["atol"]) == (0.5, 1e-5)


def test_negative_tolerance_is_refused() -> None:
    result = run(str(ROOT / "examples" / "mlp.py"), "--rtol", "-1")
    assert result.exit_code == 2 and "--rtol" in result.output


def test_shapes_only_model_runs_for_timing_on_the_default_chip() -> None:
    assert CompileOptions().chip == "sn40l"
    result = run(str(MODELS / "meta_mlp.py"), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["chip"] == "sn40l"
    assert report["allclose"] is None and "meta device" in report["allclose_reason"]
    assert report["cycles"] > 0 and report["outputs"] == []
    text = run(str(MODELS / "meta_mlp.py"))
    assert text.exit_code == 0 and "allclose: null (the model is built on the meta device" in text.output


def test_progress_is_silent_unless_asked_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from rich.console import Console

    monkeypatch.setattr(Console, "is_terminal", property(lambda self: True))
    with spinner(enabled=False) as update:  # --json
        assert update is no_progress
    with spinner(enabled=True) as update:
        assert update is not no_progress
        update("pass rdu-place")


def test_the_trace_is_built_only_when_asked_for(monkeypatch, tmp_path) -> None:
    """A 32-layer prefill's trace holds ~8 M events (~4.7 GB): `rducc run` without `--trace` must not
    build it, and with `--trace` it writes the simulator's own trace."""
    from functional_sim.result import SimulationResult

    built = []
    original = SimulationResult.chrome_trace
    monkeypatch.setattr(SimulationResult, "chrome_trace", lambda self: built.append(1) or original(self))
    mlp = str(ROOT / "examples" / "mlp.py")
    assert run(mlp, "--chip", "small", "--json").exit_code == 0
    assert built == []
    out = tmp_path / "t.json"
    assert run(mlp, "--chip", "small", "--json", "--trace", str(out)).exit_code == 0
    assert built == [1] and json.loads(out.read_text())["traceEvents"]
