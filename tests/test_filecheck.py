"""Runs every textual-IR test under tests/ir the way lit would: each `RUN:` line is a shell
pipeline (`%s` is the file, `%S` its folder), usually `rducc opt ... | filecheck %s`."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

IR_DIR = Path(__file__).parent / "ir"
ROOT = Path(__file__).parents[1]  # this checkout's code, not whichever one is pip-installed
RUN = re.compile(r"^\s*(?://|#)\s*RUN:\s*(?P<cmd>.*)$")
BIN = Path(sys.executable).parent


def cases() -> list[Path]:
    return sorted(p for p in IR_DIR.rglob("*") if p.suffix in (".mlir", ".py") and "RUN:" in p.read_text())


@pytest.mark.parametrize("path", cases(), ids=lambda p: str(p.relative_to(IR_DIR)))
def test_filecheck(path: Path) -> None:
    commands = [m["cmd"] for line in path.read_text().splitlines() if (m := RUN.match(line))]
    assert commands, f"{path} has no RUN line"
    for cmd in commands:
        cmd = cmd.replace("%s", str(path)).replace("%S", str(path.parent))
        env_path = f"{BIN}:{Path('/usr/bin')}:{Path('/bin')}"
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True,
                              env={"PATH": env_path, "HOME": str(Path.home()), "PYTHONPATH": str(ROOT)}, timeout=300)
        assert proc.returncode == 0, f"RUN: {cmd}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
