"""Find the model source line behind an exported FX node, for diagnostics and IR locations.

A traceback names one line, but a statement may span several (a call with one argument per line);
the code we show is the whole statement that line belongs to, on one line and trimmed.
"""

from __future__ import annotations

import ast
import linecache
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import torch

_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<fn>\S+)\n\s*(?P<code>[^\n]*)')
_TORCH_DIR = str(Path(torch.__file__).parent)
MAX_CODE_CHARS = 160


@dataclass(frozen=True)
class SourceLine:
    file: str
    line: int
    code: str

    @property
    def short(self) -> str:
        return f"{Path(self.file).name}:{self.line}"

    def __str__(self) -> str:
        return f"{Path(self.file).name}:{self.line}: {self.code}" if self.code else self.short


@lru_cache(maxsize=64)
def _statement_spans(file: str) -> tuple[tuple[int, int], ...]:
    """(first line, last line) of every statement in `file` (none if it cannot be parsed)."""
    try:
        tree = ast.parse("".join(linecache.getlines(file)))
    except (SyntaxError, ValueError):
        return ()
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.stmt):
            body = getattr(node, "body", None)
            end = max(node.lineno, body[0].lineno - 1) if body else (node.end_lineno or node.lineno)
            spans.append((node.lineno, end))  # a compound statement: its header only
    return tuple(spans)


def _trim(code: str) -> str:
    code = " ".join(code.split())
    code = re.sub(r"([(\[{]) ", r"\1", code)
    code = re.sub(r",? ([)\]}])", r"\1", code)
    return code if len(code) <= MAX_CODE_CHARS else code[: MAX_CODE_CHARS - 3] + "..."


def statement(file: str, line: int, fallback: str = "") -> str:
    """The whole statement of `file` that holds `line`, on one line and trimmed; `fallback`
    (the traceback's line) when the file cannot be read or parsed. Compound statements (`for`,
    `with`, `def`) give only their header."""
    spans = [(a, b) for a, b in _statement_spans(file) if a <= line <= b]
    if not spans:
        return _trim(fallback)
    first, last = min(spans, key=lambda span: span[1] - span[0])
    text = linecache.getlines(file)[first - 1:last]
    return _trim("".join(text)) if text else _trim(fallback)


def node_source(stack_trace: str | None) -> SourceLine | None:
    """The innermost frame outside torch itself: the model's line, or the library line (e.g.
    transformers) that called the op."""
    if not stack_trace:
        return None
    frames = [SourceLine(m["file"], int(m["line"]), m["code"].strip()) for m in _FRAME.finditer(stack_trace)]
    outside = [f for f in frames if not f.file.startswith(_TORCH_DIR)]
    found = (outside or frames or [None])[-1]
    if found is None:
        return None
    return SourceLine(found.file, found.line, statement(found.file, found.line, found.code))
