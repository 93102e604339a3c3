"""docs/ops.md is generated (tests/opinfo/report.py): its op and opcode tables must match the
code, so that a converter or opcode added without regenerating the document fails here."""

from __future__ import annotations

from compiler.frontend.aten_converters import CONVERTERS
from bitstream_format.signatures import SIGNATURES
from tests.opinfo import report


def test_ops_doc_tables_match_the_code() -> None:
    text = report.DOC.read_text()
    assert report.render(report.existing_sweep()) == text, \
        "docs/ops.md is stale: run python -m tests.opinfo.report --tables-only"


def test_ops_doc_lists_every_converter_and_opcode() -> None:
    text = report.DOC.read_text()
    assert all(f"| `{target}` |" in text for target in map(str, CONVERTERS))
    assert all(f"| `{name}` |" in text for name in SIGNATURES)


def test_ops_doc_has_the_opinfo_sweep() -> None:
    sweep = report.existing_sweep()
    assert "| float32 |" in sweep and "| bfloat16 |" in sweep, "run python -m tests.opinfo.report"


def test_opcode_dtypes_are_asked_of_the_typing_rules() -> None:
    assert report.opcode_dtypes("exp") == "f32, bf16, f16, f64"
    assert report.opcode_dtypes("logical_not") == "i1"
    assert report.opcode_dtypes("add") == "all"
