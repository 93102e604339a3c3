"""Find the model source line behind an exported FX node, for diagnostics and IR `source` attrs."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch

_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<fn>\S+)\n\s*(?P<code>[^\n]*)')
_TORCH_DIR = str(Path(torch.__file__).parent)


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


def node_source(stack_trace: str | None) -> SourceLine | None:
    """The innermost frame outside torch itself: the model's line, or the library line (e.g.
    transformers) that called the op."""
    if not stack_trace:
        return None
    frames = [SourceLine(m["file"], int(m["line"]), m["code"].strip()) for m in _FRAME.finditer(stack_trace)]
    outside = [f for f in frames if not f.file.startswith(_TORCH_DIR)]
    return (outside or frames or [None])[-1]
