"""Textual IR in and out, for `rducc import`, `rducc opt` and the FileCheck tests.

Parsing costs about 330 us per op in xDSL, so the compiler itself keeps IR in memory and uses
text only at these edges. The parser remembers where each op was written (for error messages);
the printer prints `loc(...)` whenever the IR carries source locations, so model lines survive
`rducc import m.py | rducc opt ...`, and prints the module's resources (weights) after it.
"""

from __future__ import annotations

import dataclasses
import io

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.utils.exceptions import ParseError

from dialects import make_context
from dialects.diagnostics import RduccError
from passes.verification import PARSED_AT, carries_locations, verify_ir


class IRError(RduccError):
    """Textual IR that does not parse or does not verify."""


class PositionRecordingParser(Parser):
    """xDSL's parser, noting each op's source position in `passes.verification.PARSED_AT`.

    `line_offset` is the line the text starts at in its file (a `--split-input-file` chunk).
    """

    def __init__(self, ctx: Context, text: str | bytes, name: str = "", line_offset: int = 0):
        super().__init__(ctx, text, name)
        self._line_offset = line_offset

    def parse_operation(self) -> Operation:
        start = self._current_token.span
        op = super().parse_operation()
        PARSED_AT[op] = dataclasses.replace(start, line_offset=self._line_offset) if self._line_offset else start
        return op


def parse_ir(ctx: Context, text: str | bytes, name: str = "<ir>", verify: bool = True) -> ModuleOp:
    try:
        module = PositionRecordingParser(ctx, text, name).parse_module()
    except ParseError as exc:
        raise IRError(parse_error_line(exc)) from None
    if verify:
        verify_ir(module, f"{name}: the IR does not verify")
    return module


def print_ir(module: ModuleOp, ctx: Context | None = None, debuginfo: bool | None = None,
             generic: bool = False) -> str:
    """The module as text, then the dialect resources it refers to (weights; xDSL keeps their
    blobs in the dialect objects, so any context that loads the dialect finds them).
    Locations are printed when `debuginfo` (default: when the IR has any)."""
    out = io.StringIO()
    printer = Printer(stream=out, print_generic_format=generic,
                      print_debuginfo=carries_locations(module) if debuginfo is None else debuginfo)
    printer.print_op(module)
    printer.print_metadata((ctx or make_context()).loaded_dialects)
    return out.getvalue() + "\n"


def parse_error_line(exc: ParseError) -> str:
    """One line from xDSL's parse error: `file:L:C: message` (it prints the source line and a caret between)."""
    lines = [line for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    message = " ".join(exc.msg.split()) if getattr(exc, "msg", None) else lines[-1].strip()
    return f"{lines[0]}: {message}"
