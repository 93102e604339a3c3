"""An integer axis (opt_level 0/1, a tile size) is ticked at its values, not at matplotlib's 0.2 steps."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.sweep import plots

pytest.importorskip("matplotlib")


def test_integer_axis_ticks_are_its_values(tmp_path: Path, monkeypatch) -> None:
    ticks = {}

    def keep(fig, ax, path, legend):
        ticks[path.name] = list(ax.get_xticks())
        return path

    monkeypatch.setattr(plots, "_save", keep)
    records = [{"status": "ok", "model": "m", "opt_level": level, "cycles": 100 - level, "cost": 1.0, "time": 1.0,
                "pareto": True} for level in (0, 1)]
    plots.draw(records, ["opt_level"], ["cycles"], "cycles", tmp_path)
    assert ticks["cycles_vs_opt_level.png"] == [0, 1]
