import pytest

from tests.sim.builder import ProgramBuilder


@pytest.fixture
def pb() -> ProgramBuilder:
    return ProgramBuilder("small")
