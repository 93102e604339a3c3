"""rgraph's ops: the round-trip file covers every op, printing is a fixed point in both the custom
and the generic form, typed constructors build what the parser builds, and canonicalization folds
double negation."""

from __future__ import annotations

import io
import re
from pathlib import Path

from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Region
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.transforms.canonicalize import CanonicalizePass

from bitstream_format.signatures import check_signature
from dialects import make_context, rgraph
from dialects.types import dtype_of, shape_of, tensor_type

OPS_FILE = Path(__file__).parents[1] / "ir" / "rgraph_ops.mlir"


def text_of(module: ModuleOp, generic: bool = False) -> str:
    out = io.StringIO()
    Printer(stream=out, print_generic_format=generic).print_op(module)
    return out.getvalue()


def parse(text: str) -> ModuleOp:
    module = Parser(make_context(), text).parse_module()
    module.verify()
    return module


def test_the_round_trip_file_covers_every_op() -> None:
    used = set(re.findall(r"(?:= |^  )(rgraph\.\w+)", OPS_FILE.read_text(), re.M))  # result-less ops too
    assert used == set(rgraph.OPS_BY_NAME), set(rgraph.OPS_BY_NAME) ^ used


def test_printing_is_a_fixed_point_in_custom_and_generic_form() -> None:
    first = text_of(parse(OPS_FILE.read_text()))
    assert text_of(parse(first)) == first
    generic = text_of(parse(first), generic=True)
    assert '"rgraph.slice"' in generic and "<{" in generic  # inherent data are properties
    assert text_of(parse(generic)) == first


def test_every_parsed_op_exposes_params_its_opcode_accepts() -> None:
    for op in parse(OPS_FILE.read_text()).walk():
        if isinstance(op, rgraph.GraphOp):
            assert rgraph.BY_OPCODE[op.OPCODE] is type(op)
            check_signature(op.OPCODE, op.params(),
                            [(dtype_of(v.type), shape_of(v.type)) for v in op.operands],
                            [(dtype_of(v.type), shape_of(v.type)) for v in op.results])


def test_result_shaped_ops_pass_their_shape_as_a_parameter() -> None:
    ops: dict = {}
    for op in parse(OPS_FILE.read_text()).walk():
        ops.setdefault(op.name, op)
    assert ops["rgraph.reshape"].params() == {"shape": [8]}
    assert ops["rgraph.expand"].params() == {"shape": [3, 4]}
    assert ops["rgraph.slice"].params() == {"dim": 1, "end": 4, "start": 1, "step": 2}
    assert ops["rgraph.argmax"].params() == {"dim": 1, "keepdim": False}


def _function(arg_types: list, build) -> ModuleOp:
    block = Block(arg_types=arg_types)
    result = build(block, *block.args)
    block.add_op(func.ReturnOp(result))
    return ModuleOp([func.FuncOp("f", (arg_types, [result.type]), Region(block))])


def test_typed_constructors_build_what_the_parser_builds() -> None:
    x_type, ids_type, w_type = tensor_type("f32", (2, 4)), tensor_type("i64", (3,)), tensor_type("f32", (10, 4))

    def build(block: Block, x, ids):
        def add(op):
            block.add_op(op)
            return op.results[0]

        w = add(rgraph.WeightOp("emb", w_type))
        s = add(rgraph.SoftmaxOp(x, dim=-1))
        r = add(rgraph.SumOp(s, [1], True, tensor_type("f32", (2, 1))))
        d = add(rgraph.DivOp(s, r, x_type, rounding_mode="floor"))
        g = add(rgraph.GeluOp(d, "tanh"))
        a = add(rgraph.ArgmaxOp(g, None, False, tensor_type("i64", ())))
        c = add(rgraph.CastOp(a, "f32"))
        e = add(rgraph.EmbeddingOp(w, ids, tensor_type("f32", (3, 4))))
        t = add(rgraph.SliceOp(e, 0, 0, 2, 1, x_type))
        f = add(rgraph.FullOp(0.5, x_type))
        m = add(rgraph.AddOp(t, f, x_type))
        add(rgraph.ArangeOp(0, 8, 3, tensor_type("i64", (3,))))
        return add(rgraph.MulOp(m, c, x_type))

    module = _function([x_type, ids_type], build)
    module.verify()
    text = text_of(module)
    assert 'rgraph.weight "emb" : tensor<10x4xf32>' in text
    assert re.search(r"rgraph.softmax %\d+ {dim = -1 : i64}", text)
    assert re.search(r'rgraph.div %\d+, %\d+ {rounding_mode = "floor"}', text)
    assert re.search(r"rgraph.argmax %\d+ {keepdim = false} : tensor<2x4xf32> -> tensor<i64>", text)
    assert "rgraph.arange {start = 0 : i64, end = 8 : i64, step = 3 : i64} : tensor<3xi64>" in text
    assert text_of(parse(text)) == text


def test_canonicalize_folds_double_negation_and_removes_the_dead_neg() -> None:
    module = parse("""func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
      %0 = rgraph.neg %x : tensor<4xf32> -> tensor<4xf32>
      %1 = rgraph.neg %0 : tensor<4xf32> -> tensor<4xf32>
      %2 = rgraph.neg %1 : tensor<4xf32> -> tensor<4xf32>
      %3 = rgraph.exp %2 : tensor<4xf32> -> tensor<4xf32>
      func.return %3 : tensor<4xf32>
    }""")
    CanonicalizePass().apply(make_context(), module)
    ops = [op.name for op in module.walk() if op.name.startswith("rgraph.")]
    assert ops == ["rgraph.neg", "rgraph.exp"]  # an odd count leaves one


def test_a_neg_of_something_else_is_left_alone() -> None:
    module = parse("""func.func @f(%x: tensor<4xf32>) -> tensor<4xf32> {
      %0 = rgraph.exp %x : tensor<4xf32> -> tensor<4xf32>
      %1 = rgraph.neg %0 : tensor<4xf32> -> tensor<4xf32>
      func.return %1 : tensor<4xf32>
    }""")
    before = text_of(module)
    CanonicalizePass().apply(make_context(), module)
    assert text_of(module) == before
