"""Sweep files for the tests, written into a temporary folder next to a copy of the tiny model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture
def sweep_file(tmp_path: Path):
    """write(text) -> path of a SWEEP.toml beside tiny_model.py, tiny_heads.py and tiny_coe.toml."""
    for model in ("tiny_model.py", "tiny_heads.py", "tiny_coe.toml"):
        shutil.copy(HERE / model, tmp_path / model)

    def write(text: str, name: str = "sweep.toml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


TINY = '''
[sweep]
chip = "small"

[[model]]
path = "tiny_model.py"
'''

NODE = '''
[sweep]
node = "small-node8"

[[model]]
path = "tiny_heads.py"
tokens = 8
'''
