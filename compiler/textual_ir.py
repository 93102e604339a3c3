"""Textual IR in and out, for `rducc opt` and the FileCheck tests.

Parsing costs about 330 us per op in xDSL, so the compiler itself keeps IR in memory and uses
text only at these edges.
"""

from __future__ import annotations

import io

from xdsl.context import Context
from xdsl.dialects.builtin import Builtin, ModuleOp
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.utils.exceptions import ParseError, VerifyException

from dialects.diagnostics import RduccError


class IRError(RduccError):
    """Textual IR that does not parse or does not verify."""


def parse_ir(ctx: Context, text: str, name: str = "<ir>") -> ModuleOp:
    try:
        module = Parser(ctx, text, name).parse_module()
    except ParseError as exc:
        raise IRError(_first_line(exc)) from None
    try:
        module.verify()
    except VerifyException as exc:
        raise IRError(f"{name}: IR does not verify: {_first_line(exc)}") from None
    return module


def print_ir(module: ModuleOp) -> str:
    out = io.StringIO()
    printer = Printer(stream=out)
    printer.print_op(module)
    printer.print_metadata([Builtin])  # the weights' dense resources
    return out.getvalue() + "\n"


def _first_line(exc: Exception) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    # xDSL parse errors read "<file>:L:C" then the source line, a caret and the message.
    return f"{lines[0]} {lines[-1].strip()}" if len(lines) > 1 else lines[0]
