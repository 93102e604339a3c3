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
        checks = re.findall(r"^// CHECK: (.*)$", chunk, re.M)
        assert len(checks) == 1, f"each case names one message: {chunk}"
        out.append((chunk, checks[0]))
    return out


@pytest.mark.parametrize("chunk, message", cases(), ids=[m for _, m in cases()])
def test_invalid_case_fails_with_its_message(chunk: str, message: str) -> None:
    with pytest.raises(DiagnosticException) as info:
        Parser(make_context(), chunk, "rdu_invalid.mlir").parse_module().verify()
    assert message in str(info.value)
