"""The rdu dialect's verifier rules, one case each in tests/ir/rdu_invalid.mlir: every case must
fail to verify with the message its CHECK line names (as `rducc opt --split-input-file
--verify-diagnostics` would print it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from xdsl.parser import Parser
from xdsl.utils.exceptions import DiagnosticException

from dialects import make_context

INVALID = Path(__file__).parent / "ir" / "rdu_invalid.mlir"


def cases() -> list[tuple[str, str]]:
    out = []
    for chunk in INVALID.read_text().split("// -----"):
        checks = re.findall(r"^// CHECK: (.*)$", chunk, re.M)  # (the RUN line is not a case)
        assert len(checks) == 1, f"each case names one message: {chunk}"
        out.append((chunk, checks[0]))
    return out


@pytest.mark.parametrize("chunk, message", cases(), ids=[m for _, m in cases()])
def test_invalid_case_fails_with_its_message(chunk: str, message: str) -> None:
    with pytest.raises(DiagnosticException) as info:
        Parser(make_context(), chunk, "rdu_invalid.mlir").parse_module().verify()
    assert message in str(info.value)


def test_streams_and_memory_are_distinct_types() -> None:
    from xdsl.dialects.builtin import f16, f32

    from dialects.rdu_attrs import MemType, StreamType

    assert StreamType(f32, [4, 8]) == StreamType(f32, [4, 8])
    assert StreamType(f32, [4, 8]) != MemType(f32, [4, 8])
    assert StreamType(f32, [4, 8]) != StreamType(f16, [4, 8])
    assert StreamType.of(MemType(f32, [4, 8])).same_data(MemType(f32, [4, 8]))
    assert str(StreamType(f32, [])) == "!rdu.stream<f32>"


def test_structured_attributes_hold_python_values() -> None:
    from dialects.rdu_attrs import Network, RouteAttr, SitesAttr

    route = RouteAttr.build([1, 2], [((0, 0), (1, 0)), ((1, 0), (1, 1))], Network.SCALAR)
    assert (route.network, route.hops, route.links) == ("scalar", (1, 2), (((0, 0), (1, 0)), ((1, 0), (1, 1))))
    assert str(route) == "#rdu.route<scalar, hops [1, 2], links [(0, 0) -> (1, 0), (1, 0) -> (1, 1)]>"
    assert SitesAttr([(0, 1), (2, 3)]).data == ((0, 1), (2, 3))
    assert str(SitesAttr([(0, 1), (2, 3)])) == "#rdu.sites<(0, 1), (2, 3)>"


def test_consumers_are_in_program_order_once_each() -> None:
    from dialects import rdu

    module = Parser(make_context(), """
    builtin.module {
      %0 = rdu.tensor "x" {role = #rdu.role<input>, tier = #rdu.tier<hbm>, index = 0 : i64} : !rdu.mem<4xf32>
      rdu.kernel "k0" {
        %1 = rdu.load %0 {units = 1 : i64} : !rdu.mem<4xf32> -> !rdu.stream<4xf32>
        %2 = rdu.buffer %1 {units = 1 : i64, bytes = 32 : i64, tile_bytes = 16 : i64} : !rdu.stream<4xf32>
        %3 = rdu.compute "add"(%2, %2) {unit = #rdu.unit<pcu>, params = {}, units = 1 : i64} : (!rdu.stream<4xf32>, !rdu.stream<4xf32>) -> !rdu.stream<4xf32>
        %4 = rdu.compute "neg"(%2) {unit = #rdu.unit<pcu>, params = {}, units = 1 : i64} : (!rdu.stream<4xf32>) -> !rdu.stream<4xf32>
      }
    }""").parse_module()
    kernel = rdu.kernels(module)[0]
    buffer = kernel.stages()[1]
    assert [c.opcode.data for c in buffer.consumers(buffer.result)] == ["add", "neg"]
