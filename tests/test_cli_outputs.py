"""The CLI names every file it wrote, in the order a new user asked for them (README: `rducc sim
mlp.rbit --inputs x.npz -o y.npz --trace timeline.json`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from compiler.cli import main

MLP = Path(__file__).parents[1] / "examples" / "mlp.py"


def test_sim_names_its_outputs_and_its_trace(tmp_path: Path) -> None:
    rbit, x, y, trace = (tmp_path / n for n in ("mlp.rbit", "x.npz", "y.npz", "timeline.json"))
    compiled = CliRunner().invoke(main, [str(MLP), "-o", str(rbit), "--chip", "small"], catch_exceptions=False)
    assert compiled.exit_code == 0, compiled.output
    np.savez(x, x=np.random.default_rng(0).standard_normal((8, 64), dtype=np.float32))  # the input's name: rducc inspect
    result = CliRunner().invoke(main, ["sim", str(rbit), "--inputs", str(x), "-o", str(y), "--trace", str(trace)],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1:] == [f"wrote {y}", f"wrote {trace}"]
    assert np.load(y)["output0"].shape == (8, 16) and json.loads(trace.read_text())["traceEvents"]


def test_a_modeled_time_reads_in_its_unit() -> None:
    from compiler.time_text import modeled_time

    assert [modeled_time(s) for s in (2.987e-06, 0.23227383, 1.5)] == ["2.99 us", "232.27 ms", "1.50 s"]


def test_the_passes_list_is_one_table_in_one_voice() -> None:
    """`rducc passes`: every summary starts in one column (the longest name sets it), in lower case
    like the others, and names a doc rather than a module docstring a user cannot see; canonicalize
    gets rducc's summary, not xDSL's."""
    lines = CliRunner().invoke(main, ["passes"], catch_exceptions=False).output.splitlines()
    rows = [line for line in lines if line.startswith("  ") and not line.startswith("   ")]
    columns = {len(line) - len(line[2:].split(None, 1)[1]) for line in rows}
    assert len(columns) == 1, rows
    summaries = [line[2:].split(None, 1)[1] for line in rows]
    assert all(s[0].islower() for s in summaries), summaries
    assert not any("module docstring" in s for s in summaries)
    assert "apply every op's canonicalization patterns, then erase dead ops (xDSL)" in summaries
