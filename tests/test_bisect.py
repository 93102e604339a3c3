"""`rducc bisect`: a fault injected into one pass is found at that pass, at the op it broke, with
the model line; a healthy pipeline matches at every level."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from xdsl.context import Context
from xdsl.dialects.builtin import DictionaryAttr, ModuleOp, StringAttr
from xdsl.passes import ModulePass

from compiler.cli import main
from compiler.driver import CompileOptions
from compiler.interpret import interpret
from dialects import rdu, rgraph
from passes import registry

EXAMPLES = Path(__file__).parents[1] / "examples"
MLP = EXAMPLES / "mlp.py"
BASE = CompileOptions(chip="small").pipeline()


@dataclass(frozen=True)
class GeluBecomesRelu(ModulePass):
    """A broken graph pass: the model's GELU computes ReLU."""

    name = "test-gelu-becomes-relu"

    def apply(self, ctx: Context, module: ModuleOp) -> None:
        gelu = next(op for op in module.walk() if isinstance(op, rgraph.GeluOp))
        relu = rgraph.ReluOp(gelu.operands[0])
        relu.location = gelu.location
        relu.attributes.update(gelu.attributes)  # keeps its fusion group
        gelu.parent_block().insert_op_before(relu, gelu)
        gelu.results[0].replace_all_uses_with(relu.results[0])
        gelu.detach()
        gelu.erase()


def _with_fault(monkeypatch: pytest.MonkeyPatch, fault: type[ModulePass], after: str) -> str:
    monkeypatch.setitem(registry.PASSES, fault.name, lambda: fault)
    passes = BASE.split(",")
    at = next(i for i, p in enumerate(passes) if p.startswith(after)) + 1
    return ",".join(passes[:at] + [fault.name] + passes[at:])


def bisect(*args: str):
    return CliRunner().invoke(main, ["bisect", *args], catch_exceptions=False)


def test_fault_in_a_graph_pass_is_named_with_its_op_and_line(monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = _with_fault(monkeypatch, GeluBecomesRelu, "rdu-fuse")
    result = bisect(str(MLP), "--chip", "small", "-p", pipeline, "--json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    levels = {lv["level"]: lv for lv in report["levels"]}
    assert not levels["import"]["diverges"] and not levels["rdu-fuse"]["diverges"]
    assert levels["test-gelu-becomes-relu"]["diverges"]
    assert report["first_divergent_level"] == "test-gelu-becomes-relu"
    culprit = report["culprit"]
    assert culprit["op"] == "relu" and culprit["compared_with"] == "rdu-fuse"
    assert culprit["source"].startswith("mlp.py:14: return self.fc2(torch.nn.functional.gelu(self.fc1(x)))")
    assert culprit["max_abs_error"] > 1e-3


def test_fault_in_an_rdu_pass_is_named_in_the_text_report(monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclass(frozen=True)
    class ScaleSecondLinear(ModulePass):
        name = "test-scale-fc2"

        def apply(self, ctx: Context, module: ModuleOp) -> None:
            stage = [op for op in module.walk() if isinstance(op, rdu.ComputeOp) and op.opcode.data == "gelu"][0]
            stage.properties["params"] = DictionaryAttr({"approximate": StringAttr("tanh")})

    pipeline = _with_fault(monkeypatch, ScaleSecondLinear, "rdu-plan-memory")
    result = bisect(str(MLP), "--chip", "small", "-p", pipeline)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert any(line.split()[:3] == ["rdu-plan-memory", "rdu", "ok"] for line in lines), result.output
    assert any(line.split()[:3] == ["test-scale-fc2", "rdu", "DIVERGES"] for line in lines), result.output
    assert "first divergence: after pass 'test-scale-fc2'" in result.output
    assert "first diverging op: gelu at mlp.py:14" in result.output
    assert "against rdu-plan-memory" in result.output


def test_healthy_pipeline_matches_at_every_level() -> None:
    result = bisect(str(MLP), "--chip", "small", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    names = [lv["level"] for lv in report["levels"]]
    assert names[0] == "import" and names[-1] == "bitstream"
    assert names[1:-1] == [p.split("{")[0] for p in BASE.split(",")]
    assert report["first_divergent_level"] is None and report["culprit"] is None
    assert all(e < 1e-5 for lv in report["levels"] for e in lv["max_abs_errors"])


def test_interpreter_agrees_with_the_simulator_on_every_op() -> None:
    """The rgraph and rdu interpreters give the same value for each op of the MLP."""
    from compiler.driver import compile_model
    from compiler.compare import to_numpy

    result = compile_model(MLP, CompileOptions(chip="small"))
    inputs = [to_numpy(t) for t in result.loaded.inputs]
    graph_run = interpret(result.graph.module, inputs)
    rdu_run = interpret(result.module, inputs)
    graph_ops = [o for o in graph_run.ops if o.opcode != "full"]
    rdu_ops = [o for o in rdu_run.ops if o.opcode != "full"]
    assert [o.opcode for o in graph_ops] == [o.opcode for o in rdu_ops] == ["linear", "gelu", "linear"]
    for g, r in zip(graph_ops, rdu_ops):
        np.testing.assert_array_equal(g.values[0], r.values[0])
    expected = result.eager_outputs.detach().numpy()
    np.testing.assert_allclose(rdu_run.outputs[0], expected, rtol=1e-4, atol=1e-5)


def test_bisect_refuses_a_shapes_only_model() -> None:
    result = bisect(str(EXAMPLES / "llama3_8b_shapes.py"))
    assert result.exit_code == 2
    assert "meta device" in result.stderr and "no values to bisect" in result.stderr


def test_fault_in_a_converter_is_found_at_the_import_against_pytorch(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from compiler.frontend.aten_converters import CONVERTERS

    def gelu_as_relu(imp, node, x, approximate="none"):
        return imp.add(rgraph.ReluOp(imp.value(x, "f32")))

    monkeypatch.setitem(CONVERTERS, torch.ops.aten.gelu.default, gelu_as_relu)
    report = json.loads(bisect(str(MLP), "--chip", "small", "--json").output)
    assert report["first_divergent_level"] == "import"
    assert report["culprit"]["op"] == "relu" and report["culprit"]["compared_with"] == "PyTorch"
    assert report["culprit"]["source"].startswith("mlp.py:14: ")
