"""Shared fixtures: the 5-architecture shapes-only CoE compiled once into a cache folder that
every test of this package reuses (compiling is the slow part; the tests check what is reused)."""

from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "coe"
FIVE = DATA / "five_archs.toml"


def five_arch_requests(n: int = 40, prompt: int = 20, output: int = 5):
    from compiler.coe.requests import Request

    return [Request(i, i * 1e-4, prompt, output, f"{'abcde'[i % 5]}-{i % 30}", line=i + 1) for i in range(n)]


def _compile_five(root: Path) -> tuple[Path, dict]:
    from compiler.coe.session import CoESession

    session = CoESession(FIVE, root)
    session.compile_all(session.needs(five_arch_requests()))
    return root, dict(session.programs.compiles)


@pytest.fixture(scope="session")
def five_cache(once_per_run) -> tuple[Path, dict]:
    """(cache folder, compiles per architecture of the first session). Built once per test run,
    not once per xdist worker (tests/conftest.py's `once_per_run`): five files use it and the
    compile is the slow part. The tests only read the folder, or add programs by atomic writes."""
    return once_per_run("coe-cache", _compile_five)
