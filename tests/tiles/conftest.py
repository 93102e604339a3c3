"""One compiled MLP (chip small, 256-byte tiles, so every buffer rings several tiles and every loop
runs several), its inputs and its outputs, shared by the tile-program tests."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pytest

from bitstream_format import Bitstream, TileProgram, decode, encode
from compiler.driver import CompileOptions, compile_model
from functional_sim import simulate

EXAMPLES = Path(__file__).parents[2] / "examples"


@dataclass
class Compiled:
    data: bytes
    inputs: list[np.ndarray]
    outputs: list[np.ndarray]

    def fresh(self) -> Bitstream:
        return decode(self.data)

    def stage(self, bs: Bitstream, opcode: str, nth: int = 0):
        return [s for s in bs.stages if s.opcode == opcode][nth]

    def with_program(self, bs: Bitstream, sid: int, **changes) -> Bitstream:
        """The bitstream re-encoded and decoded with stage `sid`'s tile program changed."""
        bs.tiles = [replace(t, **changes) if t.stage == sid else t for t in bs.tiles]
        return decode(encode(bs))


def _compile_mlp(folder: Path) -> Compiled:
    result = compile_model(EXAMPLES / "mlp.py", CompileOptions(chip="small", opt_level=0, tile_bytes=256))
    inputs = [np.asarray(x.detach().numpy()) for x in result.loaded.inputs]
    outputs = simulate(result.data, inputs).outputs
    return Compiled(result.data, inputs, outputs)


@pytest.fixture(scope="session")
def mlp(once_per_run) -> Compiled:
    """Built once per test run, not once per xdist worker (tests/conftest.py's `once_per_run`):
    two files use it. Tests change only the copies `fresh()` decodes."""
    return once_per_run("tiles-mlp", _compile_mlp)


def program(bs: Bitstream, sid: int) -> TileProgram:
    return bs.tile_program(sid)
