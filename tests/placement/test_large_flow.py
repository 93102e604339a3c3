"""The large-netlist flow's long run (`placer._Run.large_flow`, `_Run.anneal_large`): only "best"
runs of CHOICE_UNITS free units on long budgets take it, its schedule cools to LARGE_END_HEAT x the
lightest net's weight, and every other run (the compiler's kernels and budgets) is unchanged."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backend_rdu.placement import PlacementProblem, placer, wirelength
from backend_rdu.placement.generators import generate
from backend_rdu.placement.placer import _Run, place


@pytest.fixture(scope="module")
def clustered():
    """2,000 units with nets of weight 1 and 3 (median 3): the lightest weight is not the median."""
    bench = generate("clustered", "sn40l", 2000, seed=7)
    return PlacementProblem.build("sn40l", bench.netlist)


def test_only_best_runs_of_large_netlists_on_long_budgets_take_it(clustered):
    assert _Run(clustered, 30.0, 0, math.inf).large_flow(None)
    assert not _Run(clustered, 4.0, 0, math.inf).large_flow(None)  # the compiler's budgets (below QUARTER_TURN_MOVES)
    assert not _Run(clustered, 30.0, 0, math.inf, "default").large_flow(None)
    assert not _Run(clustered, 30.0, 0, math.inf).large_flow(np.arange(clustered.num_units))  # a given start
    small = PlacementProblem.build("sn40l", generate("clustered", "sn40l", 200, seed=7).netlist)
    assert not _Run(small, 30.0, 0, math.inf).large_flow(None)


def _recorded_schedules(monkeypatch) -> list:
    schedules = []

    def record(**kwargs):
        schedules.append(kwargs)
        return real(**kwargs)

    real = placer.AnnealSchedule
    monkeypatch.setattr(placer, "AnnealSchedule", record)
    return schedules


def test_the_long_run_cools_to_a_share_of_the_lightest_weight(clustered, monkeypatch):
    schedules = _recorded_schedules(monkeypatch)
    run = _Run(clustered, 30.0, 0, math.inf)
    start = generate("clustered", "sn40l", 2000, seed=7).hidden_sites(clustered)
    run.anneal_large(start, 2.0, 0.02, "anneal 1")
    assert len(schedules) == 1
    assert schedules[0]["t_end"] == pytest.approx(placer.LARGE_END_HEAT * 1.0)  # weight 1, not the median 3
    assert schedules[0]["t_start"] == pytest.approx(2.0 * 3.0)
    assert run.phases[-1]["end_heat"] == pytest.approx(placer.LARGE_END_HEAT / 3.0, rel=1e-4)  # as recorded


def test_the_compiler_path_does_not_see_the_large_flow(monkeypatch):
    """A kernel-sized netlist (200 units) and a large one on a short budget run bit for bit the same
    whatever the large flow's end heat is."""
    small = PlacementProblem.build("sn40l", generate("pins23", "sn40l", 200, seed=3).netlist)
    large = PlacementProblem.build("sn40l", generate("pins23", "sn40l", 1000, seed=3).netlist)
    cases = [(small, 1.0), (large, 0.5)]
    before = [place(p, seconds=s, seed=1, wall_limit=math.inf).site_of_unit for p, s in cases]
    monkeypatch.setattr(placer, "LARGE_END_HEAT", 3.0)
    after = [place(p, seconds=s, seed=1, wall_limit=math.inf).site_of_unit for p, s in cases]
    for b, a in zip(before, after):
        assert np.array_equal(b, a)
