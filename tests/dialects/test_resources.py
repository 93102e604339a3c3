"""Weights travel inside the module as dense resources, and survive printing and parsing."""

from __future__ import annotations

import io

import numpy as np
import pytest
from xdsl.dialects.builtin import DenseResourceAttr, ModuleOp
from xdsl.parser import Parser
from xdsl.printer import Printer

from compiler.driver import import_model
from dialects import make_context, rgraph
from dialects.diagnostics import RduccError
from dialects.resources import resource_bytes, store_resource
from dialects.types import tensor_type

EXAMPLES = __import__("pathlib").Path(__file__).parents[2] / "examples"


def print_with_resources(module: ModuleOp) -> str:
    out = io.StringIO()
    ctx = make_context()
    printer = Printer(stream=out)
    printer.print_op(module)
    printer.print_metadata(ctx.loaded_dialects)
    return out.getvalue()


def weights(module: ModuleOp) -> dict[str, rgraph.WeightOp]:
    return {op.sym_name.data: op for op in module.walk() if isinstance(op, rgraph.WeightOp)}


def test_store_and_read_back() -> None:
    data = np.arange(6, dtype=np.float32).tobytes()
    attr = store_resource("fc.weight", data, tensor_type("f32", (2, 3)))
    assert isinstance(attr, DenseResourceAttr)
    assert resource_bytes(attr) == data
    assert attr.type == tensor_type("f32", (2, 3))


def test_equal_blobs_share_a_key_and_different_blobs_do_not() -> None:
    ty = tensor_type("i8", (3,))
    a = store_resource("w", b"\x01\x02\x03", ty)
    b = store_resource("w", b"\x01\x02\x03", ty)
    c = store_resource("w", b"\x01\x02\x04", ty)
    assert a.resource_handle == b.resource_handle
    assert a.resource_handle != c.resource_handle
    assert resource_bytes(c) == b"\x01\x02\x04"


def test_missing_blob_is_a_user_error_naming_the_key() -> None:
    attr = DenseResourceAttr.from_params("nowhere_to_be_found", tensor_type("f32", (2,)))
    with pytest.raises(RduccError, match="nowhere_to_be_found"):
        resource_bytes(attr)


def test_imported_weights_round_trip_through_text() -> None:
    graph = import_model(EXAMPLES / "mlp.py")
    before = {name: op.data() for name, op in weights(graph.module).items()}
    assert before and all(before[name] == w.data for name, w in graph.weights.items())
    text = print_with_resources(graph.module)
    assert "dialect_resources" in text and "dense_resource<" in text
    parsed = Parser(make_context(), text).parse_module()
    parsed.verify()
    after = {name: op.data() for name, op in weights(parsed).items()}
    assert after == before
    assert print_with_resources(parsed) == text  # parsing reuses the content keys, no `_0` copies


def test_parse_rejects_a_blob_that_does_not_match_its_key() -> None:
    attr = store_resource("edited", b"\x00\x01", tensor_type("i8", (2,)))
    key = attr.resource_handle.data
    text = (f'"test.op"() {{w = dense_resource<{key}> : tensor<2xi8>}} : () -> ()\n'
            f'{{-# dialect_resources: {{ builtin: {{ {key}: "0x1000000000ff" }} }} #-}}')
    ctx = make_context()
    ctx.allow_unregistered = True
    with pytest.raises(Exception, match="does not hold the blob its key names"):
        Parser(ctx, text).parse_module()


META_MODEL = """
import torch
with torch.device("meta"):
    model = torch.nn.Linear(4, 2)
example_inputs = (torch.zeros(3, 4, device="meta"),)
"""


def test_shapes_only_weights_print_without_a_resource(tmp_path) -> None:
    path = tmp_path / "meta_linear.py"
    path.write_text(META_MODEL)
    graph = import_model(path)
    ops = weights(graph.module)
    assert ops and all(op.value is None and op.data() is None for op in ops.values())
    text = print_with_resources(graph.module)
    assert "dense_resource" not in text and "dialect_resources" not in text
