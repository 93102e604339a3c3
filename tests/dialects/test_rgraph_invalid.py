"""Each case of tests/ir/rgraph_invalid.mlir fails verification with exactly the message its
CHECK line states (the FileCheck run through `rducc opt --verify-diagnostics` checks the same text
as the user sees it)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from xdsl.parser import Parser
from xdsl.utils.exceptions import VerifyException

from dialects import make_context

CASES_FILE = Path(__file__).parents[1] / "ir" / "rgraph_invalid.mlir"
CHECK = re.compile(r"^// CHECK: (?P<message>.*)$", re.M)


def cases() -> list[tuple[str, str]]:
    chunks = CASES_FILE.read_text().split("// -----\n")
    out = []
    for chunk in chunks:
        found = CHECK.findall(chunk)
        assert len(found) == 1, f"a case needs exactly one CHECK line:\n{chunk}"
        out.append((found[0], chunk))
    return out


@pytest.mark.parametrize(("message", "text"), cases(), ids=[m[:60] for m, _ in cases()])
def test_case_fails_with_its_message(message: str, text: str) -> None:
    with pytest.raises(VerifyException) as info:  # property constraints fail as the parser builds the op
        Parser(make_context(), text).parse_module().verify()
    assert str(info.value).strip().splitlines()[0] == message


def test_each_case_is_invalid_only_through_its_rule() -> None:
    """No message repeats: one case per rule."""
    messages = [m for m, _ in cases()]
    duplicates = {m for m in messages if messages.count(m) > 1}
    assert duplicates <= {"Expected attribute i64 but got i32"}  # a property and a dense array of the wrong width
