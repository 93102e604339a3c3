"""The xDSL pass contract: a module is verified before the first pass and after every pass.

A verifier failure is reported in one line that names who broke the IR (the input, or the pass
that just ran), the op that does not verify and where it comes from: its location in the model
(`loc(...)`) or, for hand-written textual IR, the line and column it was parsed from.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterator

from xdsl.dialects.builtin import FileLineColLoc, ModuleOp, NameLoc, UnknownLoc
from xdsl.dialects.builtin import UnregisteredOp
from xdsl.ir import Attribute, Operation
from xdsl.utils.exceptions import DiagnosticException, VerifyException
from xdsl.utils.lexer import Span

from dialects.diagnostics import RduccError

PARSED_AT: weakref.WeakKeyDictionary[Operation, Span] = weakref.WeakKeyDictionary()
"""Where each op of a textual input was parsed from (filled by compiler.textual_ir's parser).

Kept beside the IR rather than as `loc(...)`, so hand-written IR prints back as it was written;
a Span turns into line:col only when an error needs it (counting lines for every op is quadratic).
"""


class IRDiagnostic(RduccError, DiagnosticException):
    """A user-facing error about the IR. Also an xDSL DiagnosticException, so that
    `rducc opt --verify-diagnostics` prints it (and the IR it annotates) for FileCheck."""


class InvalidIRError(IRDiagnostic, VerifyException):
    """A module that does not verify: the input of a pipeline, or what a named pass left."""


def location_of(op: Operation) -> str:
    """Where an op comes from: its source location if it has one, else where it was parsed."""
    text = _location_text(op.location)
    if text:
        return text
    span = PARSED_AT.get(op)
    if span is not None:
        return str(span.get_location())
    return ""


def _location_text(loc: Attribute) -> str:
    if isinstance(loc, FileLineColLoc):
        return f"{loc.filename.data}:{loc.line.data}:{loc.column.data}"
    if isinstance(loc, NameLoc):
        inner = _location_text(loc.location)
        return f"{loc.desc.data} ({inner})" if inner else loc.desc.data
    if isinstance(loc, UnknownLoc):
        return ""
    return str(loc)  # fused and call-site locations print as MLIR writes them


def op_name(op: Operation) -> str:
    """The op's name as written, also for an op of an unregistered dialect (`--allow-unregistered-dialect`)."""
    return op.op_name.data if isinstance(op, UnregisteredOp) else op.name


def carries_locations(module: ModuleOp) -> bool:
    """True when some op has a known location (then printers print `loc(...)`, so it survives)."""
    return any(not isinstance(op.location, UnknownLoc) for op in module.walk())


def verify_ir(module: ModuleOp, stage: str) -> None:
    """`module.verify()`; a failure becomes an InvalidIRError `<stage>: <op>: <message> (at <location>)`."""
    try:
        module.verify()
    except VerifyException as exc:
        op = _failing_op(module)
        message = _first_line(exc)
        where = location_of(op) if op is not None else ""
        if op is not None and not message.startswith(op_name(op)):
            message = f"{op_name(op)}: {message}"  # our verifiers name the op already; xDSL's do not
        named = f"{stage}: {message}"
        error = InvalidIRError(named, where)
        for note in getattr(exc, "__notes__", ()):
            error.add_note(note)  # the IR with the failing op marked, as xDSL prints it
        raise error from None


def _failing_op(module: ModuleOp) -> Operation | None:
    """The op whose own verifier fails, found in the order xDSL verifies (nested ops first)."""
    for op in _post_order(module):
        try:
            op.verify(verify_nested_ops=False)
        except VerifyException:
            return op
    return None


def _post_order(op: Operation) -> Iterator[Operation]:
    for region in op.regions:
        for block in region.blocks:
            for child in block.ops:
                yield from _post_order(child)
    yield op


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines) if lines else type(exc).__name__
