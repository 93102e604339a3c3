"""The model line behind every rgraph op is its xDSL location, and survives printing and parsing."""

from __future__ import annotations

import io
from pathlib import Path

from xdsl.dialects.builtin import FileLineColLoc, ModuleOp, NameLoc
from xdsl.parser import Parser
from xdsl.printer import Printer

from compiler.driver import import_model
from dialects import make_context, rgraph

MODEL = Path(__file__).parents[1] / "ir" / "models" / "import_ops.py"


def debug_text(module: ModuleOp) -> str:
    out = io.StringIO()
    Printer(stream=out, print_debuginfo=True).print_op(module)
    return out.getvalue()


def graph_ops(module: ModuleOp) -> list[rgraph.GraphOp]:
    return [op for op in module.walk() if isinstance(op, rgraph.GraphOp)]


def test_imported_ops_carry_their_model_line_as_a_location() -> None:
    module = import_model(MODEL).module
    ops = graph_ops(module)
    linear = next(op for op in ops if isinstance(op, rgraph.LinearOp))
    assert isinstance(linear.location, NameLoc) and linear.location.desc.data == "fc"  # the module that ran it
    inner = linear.location.location
    assert isinstance(inner, FileLineColLoc)
    assert (inner.filename.data, inner.line.data) == ("import_ops.py", 14)
    assert linear.source() == "import_ops.py:14"
    softmax = next(op for op in ops if isinstance(op, rgraph.SoftmaxOp))
    assert softmax.source() == "import_ops.py:15"
    assert all(op.source() for op in ops)
    assert all("source" not in op.attributes and "source" not in op.properties for op in ops)
    assert 'rgraph.linear %x, %0, %1 : (tensor<3x8xf32>, tensor<4x8xf32>, tensor<4xf32>) -> tensor<3x4xf32> loc("fc"("import_ops.py":14:0))' \
        in debug_text(module)


def test_locations_parse_back() -> None:
    module = import_model(MODEL).module
    text = debug_text(module)
    parsed = Parser(make_context(), text).parse_module()
    assert [op.source() for op in graph_ops(parsed)] == [op.source() for op in graph_ops(module)]
    assert debug_text(parsed) == text


def test_an_op_without_a_location_has_no_source() -> None:
    text = """func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {
      %0 = rgraph.neg %x : tensor<2xf32> -> tensor<2xf32>
      %1 = rgraph.exp %0 : tensor<2xf32> -> tensor<2xf32> loc("m.py":3:0)
      func.return %1 : tensor<2xf32>
    }"""
    neg, exp = graph_ops(Parser(make_context(), text).parse_module())
    assert neg.source() == "" and exp.source() == "m.py:3"
