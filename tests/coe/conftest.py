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


@pytest.fixture(scope="session")
def five_cache(tmp_path_factory) -> tuple[Path, dict]:
    """(cache folder, compiles per architecture of the first session)."""
    from compiler.coe.session import CoESession

    root = tmp_path_factory.mktemp("coe-cache")
    session = CoESession(FIVE, root)
    session.compile_all(session.needs(five_arch_requests()))
    return root, dict(session.programs.compiles)
