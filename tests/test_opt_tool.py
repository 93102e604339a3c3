"""The pass developer's tools: `rducc opt` (xDSL's opt main with rducc's dialects and passes),
`rducc passes`, and the pass contract in the compile path (verified before and after every pass)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, TensorType, f32
from xdsl.passes import ModulePass
from xdsl.rewriter import Rewriter

from compiler.cli import main
from dialects import make_context, rgraph
from passes import registry
from passes.verification import InvalidIRError

GRAPH = """\
func.func @forward(%x: tensor<4xf32>) -> tensor<4xf32> {
  %0 = rgraph.exp %x : tensor<4xf32> -> tensor<4xf32>
  func.return %0 : tensor<4xf32>
}
"""


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def rducc(*args: str) -> str:
    """stdout of `rducc ARGS` in a fresh process running this checkout."""
    root = Path(__file__).parents[1]
    proc = subprocess.run([sys.executable, "-m", "compiler.cli", *args], capture_output=True, text=True, cwd=root,
                          env={**os.environ, "PYTHONPATH": str(root)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def user_error(result) -> str:
    """The one `error:` line of a user error (exit 2, no traceback, nothing else on stderr)."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: "), lines[0]
    assert "Traceback" not in result.output
    return lines[0]


def write(tmp_path: Path, text: str, name: str = "in.mlir") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


# --- bad input, one line -------------------------------------------------------------------------

@pytest.mark.parametrize("op", ["arith.addf", "foo.bar"])
def test_foreign_op_is_named_with_its_position(tmp_path: Path, op: str) -> None:
    ir = write(tmp_path, GRAPH.replace("rgraph.exp %x : tensor<4xf32> -> tensor<4xf32>", f"{op} %x, %x : tensor<4xf32>"))
    out = tmp_path / "out.mlir"
    line = user_error(invoke("opt", str(ir), "-p", "rdu-lower", "-o", str(out)))
    assert line.startswith(f"error: {ir}:2:")
    assert line.endswith(f": Operation {op} is not registered")
    assert not out.exists()


def test_unknown_rgraph_op(tmp_path: Path) -> None:
    ir = write(tmp_path, GRAPH.replace("rgraph.exp", "rgraph.frobnicate"))
    line = user_error(invoke("opt", str(ir)))
    assert line.startswith(f"error: {ir}:2:") and line.endswith(": Operation rgraph.frobnicate is not registered")


def test_wrong_types_are_a_parse_error_at_their_position(tmp_path: Path) -> None:
    ir = write(tmp_path, GRAPH.replace("%x : tensor<4xf32> -> tensor<4xf32>", "%x : tensor<4xf32> -> tensor<4xi1xf32>"))
    line = user_error(invoke("opt", str(ir)))
    assert line.startswith(f"error: {ir}:2:")


def test_verifier_failure_names_the_op_and_where_it_was_written(tmp_path: Path) -> None:
    ir = write(tmp_path, GRAPH.replace("%0 = rgraph.exp %x : tensor<4xf32> -> tensor<4xf32>",
                                       "%0 = rgraph.add %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4x2xf32>\n"
                                       "  %1 = rgraph.exp %x : tensor<4xf32> -> tensor<4xf32>").replace("return %0", "return %1"))
    out = tmp_path / "out.mlir"
    line = user_error(invoke("opt", str(ir), "-p", "rdu-fuse", "-o", str(out)))
    assert line == (f"error: the input IR does not verify: rgraph.add: result shape (4, 2) is not the broadcast (4,) "
                    f"of its inputs (at {ir}:2:3)")
    assert not out.exists()


def test_verifier_failure_prefers_the_model_location(tmp_path: Path) -> None:
    ir = write(tmp_path, 'func.func @forward(%x: tensor<4xf32>) -> tensor<4xf32> {\n'
                         '  %0 = rgraph.add %x, %x : (tensor<4xf32>, tensor<4xf32>) -> tensor<4x2xf32> loc("m.py":7:12)\n'
                         '  func.return %x : tensor<4xf32>\n}\n')
    assert user_error(invoke("opt", str(ir))).endswith("(at m.py:7:12)")


def test_pass_out_of_order_names_the_first_op_it_cannot_take(tmp_path: Path) -> None:
    ir = write(tmp_path, GRAPH)
    line = user_error(invoke("opt", str(ir), "-p", "rdu-plan-memory"))
    assert line == f"error: pass 'rdu-plan-memory' cannot take func.func: it runs on rdu IR (run rdu-lower first) (at {ir}:1:1)"
    line = user_error(invoke("opt", str(ir), "-p", "rdu-target{chip=small},rdu-lower,rdu-fuse"))
    assert line.startswith("error: pass 'rdu-fuse' cannot take rdu.tensor: it runs on rgraph IR")


def test_pass_given_an_unregistered_op_names_it(tmp_path: Path) -> None:
    ir = write(tmp_path, GRAPH.replace("rgraph.exp %x : tensor<4xf32> -> tensor<4xf32>",
                                       '"foo.bar"(%x) : (tensor<4xf32>) -> tensor<4xf32>'))
    line = user_error(invoke("opt", str(ir), "--allow-unregistered-dialect", "-p", "rdu-lower"))
    assert line == (f"error: pass 'rdu-lower' cannot take foo.bar: it runs on rgraph IR (func and rgraph ops, "
                    f"as `rducc import` prints it) (at {ir}:2:3)")


@pytest.mark.parametrize(("pipeline", "needle"), [
    ("rdu-nonsense", "Unrecognized passes: ['rdu-nonsense']"),
    ("rdu-fuse{max-ops=2", "Malformed pass arguments"),
    ("rdu-fuse{max-ops=two}", "max-ops"),
    ("rdu-fuse{colour=red}", "colour"),
])
def test_malformed_pipeline(tmp_path: Path, pipeline: str, needle: str) -> None:
    line = user_error(invoke("opt", str(write(tmp_path, GRAPH)), "-p", pipeline))
    assert line.startswith(f"error: bad pass pipeline {pipeline!r}")
    assert needle in line
    assert "see `rducc passes`" in line


def test_unwritable_output(tmp_path: Path) -> None:
    blocker = write(tmp_path, "", "file")
    line = user_error(invoke("opt", str(write(tmp_path, GRAPH)), "-o", str(blocker / "out.mlir")))
    assert line == f"error: cannot write {blocker / 'out.mlir'}: {blocker} is a file, not a directory"


def test_missing_and_directory_inputs(tmp_path: Path) -> None:
    assert user_error(invoke("opt", str(tmp_path / "nope.mlir"))) == f"error: {tmp_path / 'nope.mlir'} does not exist"
    assert user_error(invoke("opt", str(tmp_path))) == f"error: {tmp_path} is a directory"


# --- what xDSL's main brings ---------------------------------------------------------------------

def test_output_file_and_stdin(tmp_path: Path) -> None:
    out = tmp_path / "out.mlir"
    result = CliRunner().invoke(main, ["opt", "-", "-p", "rdu-target{chip=small},rdu-fuse", "-o", str(out)], input=GRAPH, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output == ""
    assert "rgraph.exp %x {rdu.kernel = 0 : i64}" in out.read_text()


def test_any_text_file_is_textual_ir(tmp_path: Path) -> None:
    result = invoke("opt", str(write(tmp_path, GRAPH, "bug-report.txt")))
    assert result.exit_code == 0, result.output
    assert "rgraph.exp" in result.output


def test_generic_format_round_trips(tmp_path: Path) -> None:
    custom = invoke("opt", str(write(tmp_path, GRAPH)), "-p", "rdu-target{chip=small},rdu-fuse,rdu-lower").output
    generic = invoke("opt", str(write(tmp_path, GRAPH)), "-p", "rdu-target{chip=small},rdu-fuse,rdu-lower", "--print-op-generic").output
    assert '"rdu.kernel"()' in generic and custom != generic
    assert invoke("opt", str(write(tmp_path, generic, "generic.mlir"))).output == custom


def test_locations_and_resources_survive(tmp_path: Path) -> None:
    """What `rducc import` prints (model lines as locations, weights as resources) passes through opt."""
    ir = write(tmp_path, (
        'builtin.module attributes {w = dense_resource<fc_weight> : tensor<2xf32>} {\n'
        '  func.func @forward(%x: tensor<2xf32> loc("m.py":3:1)) -> tensor<2xf32> {\n'
        '    %0 = rgraph.exp %x : tensor<2xf32> -> tensor<2xf32> loc("m.py":7:12)\n'
        '    func.return %0 : tensor<2xf32>\n  }\n}\n'
        '{-#\n  dialect_resources: {\n    builtin: {\n      fc_weight: "0x040000000000803F00000040"\n    }\n  }\n#-}\n'))
    once = rducc("opt", str(ir), "-p", "cse")
    assert 'rgraph.exp %x : tensor<2xf32> -> tensor<2xf32> loc("m.py":7:12)' in once
    assert 'fc_weight: "0x040000000000803F00000040"' in once
    # xDSL keeps resource blobs in the (process-wide) builtin dialect, so each round is a process.
    assert rducc("opt", str(write(tmp_path, once, "once.mlir")), "-p", "cse") == once
    plain = invoke("opt", str(ir), "--no-print-debuginfo").output
    assert "loc(" not in plain


def test_hand_written_ir_prints_without_locations(tmp_path: Path) -> None:
    output = invoke("opt", str(write(tmp_path, GRAPH))).output
    assert "loc(" not in output
    assert "loc(unknown)" in invoke("opt", str(write(tmp_path, GRAPH)), "--print-debuginfo").output


# --- the pass contract in the compile path -------------------------------------------------------

@dataclass(frozen=True)
class BreakShapesPass(ModulePass):
    """Deliberately broken: gives the first rgraph op a result type its verifier rejects."""

    name = "test-break-shapes"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        graph_op = next(o for o in op.walk() if isinstance(o, rgraph.GraphOp))
        broken = type(graph_op).create(operands=graph_op.operands, result_types=[TensorType(f32, [4, 9])],
                                       attributes=dict(graph_op.attributes), properties=dict(graph_op.properties))
        Rewriter.replace_op(graph_op, broken)


@dataclass(frozen=True)
class CrashingPass(ModulePass):
    """Deliberately buggy: raises an internal exception."""

    name = "test-crash"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        {}["missing"]


@pytest.fixture
def test_passes():
    saved = dict(registry.PASSES)
    registry.register_pass("test-break-shapes", lambda: BreakShapesPass)
    registry.register_pass("test-crash", lambda: CrashingPass)
    yield
    registry.PASSES.clear()
    registry.PASSES.update(saved)


def test_pass_that_breaks_the_ir_is_named(tmp_path: Path, test_passes) -> None:
    ir = write(tmp_path, GRAPH)
    line = user_error(invoke("opt", str(ir), "-p", "test-break-shapes,rdu-fuse"))
    # The pass built a new op without a location, so there is no "(at ...)" to give.
    assert line == f"error: pass 'test-break-shapes' produced invalid IR: rgraph.exp: {_exp_shape_message()}"
    module = _parse(GRAPH)
    with pytest.raises(InvalidIRError, match="pass 'test-break-shapes' produced invalid IR: rgraph.exp"):
        registry.run_pipeline(make_context(), module, "test-break-shapes")


def _exp_shape_message() -> str:
    module = _parse(GRAPH)
    BreakShapesPass().apply(make_context(), module)
    with pytest.raises(Exception) as info:
        next(o for o in module.walk() if isinstance(o, rgraph.GraphOp)).verify()
    return str(info.value).splitlines()[0].removeprefix("rgraph.exp: ")


def test_pass_with_an_internal_error_keeps_its_traceback_and_is_named(test_passes) -> None:
    with pytest.raises(KeyError) as info:
        registry.run_pipeline(make_context(), _parse(GRAPH), "rdu-target{chip=small},rdu-fuse,test-crash")
    assert any("in pass 'test-crash'" in note for note in info.value.__notes__)


def test_input_is_verified_before_the_first_pass() -> None:
    bad = GRAPH.replace("-> tensor<4xf32>\n  func", "-> tensor<4x3xf32>\n  func").replace(
        "func.return %0 : tensor<4xf32>", "func.return %x : tensor<4xf32>")
    module = _parse(bad, verify=False)
    with pytest.raises(InvalidIRError, match="the input IR does not verify: rgraph.exp"):
        registry.run_pipeline(make_context(), module, "")


def test_compile_runs_the_rgraph_verifiers(monkeypatch) -> None:
    """Before the pass contract, rgraph verifiers never ran in a compile (0 calls for mlp.py)."""
    from compiler.driver import CompileOptions, compile_model

    calls = {"n": 0}
    for op_class in rgraph.RGraph.operations:
        original = op_class.verify_

        def counting(self, _original=original) -> None:
            calls["n"] += 1
            _original(self)

        monkeypatch.setattr(op_class, "verify_", counting)
    compile_model(Path(__file__).parents[1] / "examples" / "mlp.py", CompileOptions(chip="small"))
    assert calls["n"] > 0


def _parse(text: str, verify: bool = True) -> ModuleOp:
    from compiler.textual_ir import parse_ir

    return parse_ir(make_context(), text, "test.mlir", verify=verify)


# --- rducc passes --------------------------------------------------------------------------------

def test_passes_lists_summary_and_options() -> None:
    result = invoke("passes")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == "rducc's passes:"
    fuse = next(i for i, line in enumerate(lines) if line.split()[:1] == ["rdu-fuse"])
    assert lines[fuse].split(None, 1)[1].startswith("partition the graph into streaming kernels")
    assert "max-ops: int (default 0)" in [line.strip() for line in lines[fuse + 1: fuse + 3]]
    generic_header = lines.index("xDSL's generic passes:")
    assert {line.split()[0] for line in lines[generic_header + 1:]} == {"canonicalize", "cse", "dce"}
    assert all(not line.split()[0].startswith("rdu-") for line in lines[generic_header + 1:])


def test_passes_json() -> None:
    infos = json.loads(invoke("passes", "--json").output)
    by_name = {info["name"]: info for info in infos}
    assert set(registry.PASSES) | {"canonicalize", "cse", "dce"} <= set(by_name)
    place = by_name["rdu-place"]
    assert place["generic"] is False and place["summary"]
    assert {"name": "greedy", "type": "bool", "default": "false"} in place["options"]
    assert by_name["canonicalize"]["generic"] is True
    assert all(info["summary"] for info in infos)


def test_a_registered_pass_shows_its_docstring(test_passes) -> None:
    infos = json.loads(invoke("passes", "--json").output)
    crash = next(info for info in infos if info["name"] == "test-crash")
    assert crash == {"name": "test-crash", "summary": "Deliberately buggy: raises an internal exception.",
                     "generic": False, "options": []}


def test_opt_loads_only_the_passes_it_runs() -> None:
    """Passes load lazily: `rducc opt -p rdu-fuse` does not import the placer (or its solver)."""
    root = Path(__file__).parents[1]
    script = ("import sys; from click.testing import CliRunner; from compiler.cli import main; "
              "r = CliRunner().invoke(main, ['opt', 'tests/ir/fuse.mlir', '-p', 'rdu-target{chip=small},rdu-fuse']); assert r.exit_code == 0; "
              "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(('ortools', 'backend_rdu'))}))")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=root,
                          env={**os.environ, "PYTHONPATH": str(root)}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"
