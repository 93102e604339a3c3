"""Sweep files for the tests, written into a temporary folder next to a copy of the tiny model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture
def sweep_file(tmp_path: Path):
    """write(text) -> path of a SWEEP.toml beside tiny_model.py."""
    shutil.copy(HERE / "tiny_model.py", tmp_path / "tiny_model.py")

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
