"""`rducc sim --timing event|analytic`: the engine is selectable and the JSON says which ran."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from bitstream_format import encode
from compiler.cli import main
from tests.sim.builder import ProgramBuilder


def test_sim_timing_option(tmp_path: Path) -> None:
    pb = ProgramBuilder()
    x = pb.tensor("x", "f32", (64, 64), role="input")
    k = pb.kernel()
    k.store(k.op("exp", k.load(x), out=("f32", (64, 64))), pb.tensor("y", "f32", (64, 64), role="output"))
    path = tmp_path / "p.rbit"
    path.write_bytes(encode(pb.build()))
    runs = {}
    for timing in ("event", "analytic"):
        result = CliRunner().invoke(main, ["sim", str(path), "--timing-only", "--timing", timing, "--json"])
        assert result.exit_code == 0, result.output
        runs[timing] = json.loads(result.output)
        assert runs[timing]["timing"] == timing
    assert runs["event"]["cycles"] != runs["analytic"]["cycles"]
    default = json.loads(CliRunner().invoke(main, ["sim", str(path), "--timing-only", "--json"]).output)
    assert default["timing"] == "event" and default["cycles"] == runs["event"]["cycles"]
    bad = CliRunner().invoke(main, ["sim", str(path), "--timing", "roofline"])
    assert bad.exit_code == 2 and "'roofline' is not one of 'event', 'analytic'" in bad.output
