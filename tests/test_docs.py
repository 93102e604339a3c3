"""The Python code blocks of the docs run, in order, as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from passes.registry import PASSES

DOCS = Path(__file__).parents[1] / "docs"
BLOCK = re.compile(r"```python\n(.*?)```", re.S)


@pytest.mark.parametrize("page", ["passes.md", "sweep.md"])
def test_python_blocks_run(page: str) -> None:
    blocks = BLOCK.findall((DOCS / page).read_text())
    assert blocks
    registered = dict(PASSES)
    namespace: dict = {"__name__": f"docs_{page}"}
    try:
        for block in blocks:
            exec(compile(block, str(DOCS / page), "exec"), namespace)  # noqa: S102
    finally:
        PASSES.clear()
        PASSES.update(registered)
