"""The module is the whole compile: `rducc import | rducc opt -p PIPELINE | rducc emit` writes the
same bytes as `rducc MODEL.py`, and emission reads nothing but the module."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from xdsl.dialects.builtin import Builtin
from xdsl.printer import Printer

from backend_rdu.emit_bitstream import emit_module
from compiler.driver import CompileOptions, compile_model, import_model
from compiler.textual_ir import parse_ir, print_ir
from dialects import make_context
from passes.registry import run_pipeline

ROOT = Path(__file__).parents[2]
MLP = ROOT / "examples" / "mlp.py"
RDUCC = [sys.executable, "-m", "compiler.cli"]


def _rducc(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([*RDUCC, *args], input=stdin, capture_output=True, env=env, cwd=ROOT, timeout=600)


def _text_with_locations(module) -> str:
    out = io.StringIO()
    printer = Printer(stream=out, print_debuginfo=True)
    printer.print_op(module)
    printer.print_metadata([Builtin])
    return out.getvalue()


def test_cli_pipe_gives_the_compile_bytes(tmp_path: Path) -> None:
    direct, piped = tmp_path / "direct.rbit", tmp_path / "piped.rbit"
    assert _rducc(str(MLP), "-o", str(direct), "--chip", "small").returncode == 0
    pipeline = _rducc("compile", str(MLP), "--chip", "small", "--print-pipeline").stdout.decode().strip()
    assert pipeline.startswith("rdu-target{chip=small},") and ",rdu-fuse," in pipeline and "rdu-route" in pipeline
    imported = _rducc("import", str(MLP))
    assert imported.returncode == 0, imported.stderr.decode()
    lowered = _rducc("opt", "-", "-p", pipeline, stdin=imported.stdout)
    assert lowered.returncode == 0, lowered.stderr.decode()
    emitted = _rducc("emit", "-", "-o", str(piped), stdin=lowered.stdout)
    assert emitted.returncode == 0, emitted.stderr.decode()
    assert piped.read_bytes() == direct.read_bytes()


@pytest.mark.parametrize("opt_level", [0, 1])
def test_text_between_import_and_passes_changes_no_byte(opt_level: int) -> None:
    options = CompileOptions(chip="small", opt_level=opt_level)
    direct = compile_model(MLP, options)
    module = parse_ir(make_context(), _text_with_locations(import_model(MLP).module))
    run_pipeline(make_context(), module, options.pipeline())
    assert emit_module(module) == direct.data
    # ... and the final IR, printed and parsed back, still holds everything emission needs.
    assert emit_module(parse_ir(make_context(), print_ir(direct.module))) == direct.data


def test_bytes_do_not_depend_on_the_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The two compiles above differed under heavy load: the placer's CP-SAT solves and its run
    had wall-clock limits, and a machine slow enough to reach them (a 5% CPU share did) got a
    different placement. A clock that runs 1000x fast stands in for such a machine: the compiler's
    placement is bounded by work alone, so the bytes stay the same."""
    direct = compile_model(MLP, CompileOptions(chip="small", opt_level=1)).data
    real = time.perf_counter
    monkeypatch.setattr(time, "perf_counter", lambda: 1000.0 * real())
    assert compile_model(MLP, CompileOptions(chip="small", opt_level=1)).data == direct


def test_manifest_comes_from_the_module() -> None:
    result = compile_model(MLP, CompileOptions(chip="small", seed=3))
    manifest = result.bitstream.manifest
    assert manifest["model"] == "mlp" and manifest["chip"] == "small"
    assert manifest["placement"]["seed"] == 3 and manifest["placement"]["method"] == "cp-sat windows"
    assert "opt_level" not in manifest and "pipeline" not in manifest


SMALL = """
func.func @forward(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = rgraph.exp %x : tensor<4x8xf32> -> tensor<4x8xf32>
  func.return %0 : tensor<4x8xf32>
}
"""


def _emit_after(pipeline: str, tmp_path: Path, drop_target: bool = False) -> tuple[subprocess.CompletedProcess, Path]:
    module = parse_ir(make_context(), SMALL)
    if pipeline:
        run_pipeline(make_context(), module, pipeline)
    if drop_target:
        del module.attributes["rdu.target"]
    out = tmp_path / "m.rbit"
    return _rducc("emit", "-", "-o", str(out), stdin=print_ir(module).encode()), out


FULL = "rdu-target{chip=small},rdu-lower,rdu-plan-memory,rdu-allocate-units,rdu-tile,rdu-place{greedy=true},rdu-route"


def test_emit_writes_a_lowered_module(tmp_path: Path) -> None:
    proc, out = _emit_after(FULL, tmp_path)
    assert proc.returncode == 0, proc.stderr.decode()
    assert out.read_bytes()[:4] and proc.stdout.decode().startswith(f"wrote {out}")


def test_emit_needs_a_target(tmp_path: Path) -> None:
    proc, out = _emit_after(FULL, tmp_path, drop_target=True)
    assert proc.returncode == 2 and not out.exists()
    assert proc.stderr.decode().strip() == (
        "error: bitstream emission needs a target chip: run rdu-target{chip=NAME} first "
        "(or give the module a rdu.target attribute)")


def test_emit_refuses_ir_that_is_not_lowered(tmp_path: Path) -> None:
    proc, out = _emit_after("rdu-target{chip=small}", tmp_path)
    assert proc.returncode == 2 and not out.exists()
    assert proc.stderr.decode().strip() == (
        "error: bitstream emission runs on rdu IR, but the module holds func.func: run rdu-lower first")


def test_emit_needs_routes(tmp_path: Path) -> None:
    proc, out = _emit_after(FULL.removesuffix(",rdu-route"), tmp_path)
    assert proc.returncode == 2 and not out.exists()
    assert proc.stderr.decode().strip() == "error: rdu.load in kernel k0_exp has no routes: run rdu-route first"


def test_emit_errors_name_the_file(tmp_path: Path) -> None:
    module = parse_ir(make_context(), SMALL)
    run_pipeline(make_context(), module, "rdu-target{chip=small}")
    source = tmp_path / "graph.mlir"
    source.write_text(print_ir(module))
    out = tmp_path / "m.rbit"
    proc = _rducc("emit", str(source), "-o", str(out))
    assert proc.returncode == 2 and not out.exists()
    assert proc.stderr.decode().strip() == (
        f"error: {source}: bitstream emission runs on rdu IR, but the module holds func.func: run rdu-lower first")
