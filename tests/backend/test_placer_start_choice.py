"""The placer's default global start ("best"): the default start against a multilevel V, judged
after a short run each, and kept out of netlists below CHOICE_UNITS free units."""

import numpy as np
import pytest

from backend_rdu.placement import placer
from backend_rdu.placement.annealing import random_placement
from backend_rdu.placement.generators import generate
from backend_rdu.placement.placer import _Run, place
from backend_rdu.placement.problem import PlacementProblem
from backend_rdu.placement.wirelength import wirelength


@pytest.fixture(scope="module")
def pins23():
    bench = generate("pins23", "sn40l", 300, seed=5)
    problem = PlacementProblem.build("sn40l", bench.netlist)
    return problem, bench.hidden_sites(problem)  # the hidden placement meets the lower bound


def test_the_choice_keeps_the_default_trial_when_the_multilevel_start_is_clearly_worse(pins23):
    problem, hidden = pins23
    run = _Run(problem, 2.0, seed=0, wall_limit=600.0)
    chosen, hot = run.choose_start(hidden, 3.0, "growth", random_placement(problem, 1))
    assert np.array_equal(chosen, hidden) and hot == 3.0
    record = run.phases[-1]
    assert record["phase"] == "start choice" and record["chosen"] == "growth"
    assert record["probe_wirelengths"]["growth"] < record["probe_wirelengths"]["multilevel"]


def test_the_choice_takes_the_multilevel_start_when_the_default_trial_is_clearly_worse(pins23):
    problem, hidden = pins23
    run = _Run(problem, 2.0, seed=0, wall_limit=600.0)
    bad = random_placement(problem, 1)
    chosen, hot = run.choose_start(bad, 3.0, "layout", hidden)
    problem.check(chosen)
    assert run.phases[-1]["chosen"] == "multilevel"
    assert wirelength(problem, chosen) < 0.5 * wirelength(problem, bad)
    assert hot != 3.0  # the multilevel run's own temperature, from the spread of random moves' deltas
    assert run.spent > 0  # the probe is charged to the budget


def test_a_probe_within_the_tie_margin_goes_to_the_default_start(pins23, monkeypatch):
    problem, hidden = pins23
    run = _Run(problem, 2.0, seed=0, wall_limit=600.0)
    # a probe that returns its start unchanged: both sides are then the hidden placement, a tie
    monkeypatch.setattr(_Run, "multilevel_probe", lambda self, sites, share: (sites, 1.0))
    chosen, hot = run.choose_start(hidden, 3.0, "growth", hidden.copy())
    assert run.phases[-1]["chosen"] == "growth" and hot == 3.0


def test_below_choice_units_the_best_start_is_the_default_start_bit_for_bit():
    problem = PlacementProblem.build("sn40l", generate("clustered", "sn40l", 200, seed=2).netlist)
    assert len(problem.free_units) < placer.CHOICE_UNITS
    best = place(problem, seconds=0.5, seed=1, wall_limit=600.0)
    default = place(problem, seconds=0.5, seed=1, wall_limit=600.0, global_start="default")
    assert np.array_equal(best.site_of_unit, default.site_of_unit)
    assert all(ph["phase"] != "start choice" for ph in best.stats["phases"])


def test_the_placer_chooses_its_start_records_it_and_is_deterministic(monkeypatch):
    monkeypatch.setattr(placer, "CHOICE_UNITS", 100)  # a netlist small enough for a quick test
    problem = PlacementProblem.build("sn40l", generate("mixed", "sn40l", 300, seed=3).netlist)
    result = place(problem, seconds=1.0, seed=2, wall_limit=600.0)  # so that only work counters stop it
    problem.check(result.site_of_unit)
    choice = [ph for ph in result.stats["phases"] if ph["phase"] == "start choice"]
    assert len(choice) == 1 and choice[0]["chosen"] in ("growth", "layout", "multilevel")
    assert set(choice[0]["probe_wirelengths"]) == {result.stats["phases"][0]["start"], "multilevel"}
    assert result.stats["multilevel"]  # the V was built, and its levels are recorded
    again = place(problem, seconds=1.0, seed=2, wall_limit=600.0)
    assert np.array_equal(again.site_of_unit, result.site_of_unit)
    assert result.stats["budget_used_estimate"] <= 1.0 and not result.stats["stopped_by_clock"]


def test_an_unknown_global_start_is_refused_with_the_choices():
    problem = PlacementProblem.build("sn40l", generate("pins23", "sn40l", 40, seed=1).netlist)
    with pytest.raises(ValueError, match="global_start must be one of best, default, bisection, multilevel, analytic, spectral, got 'spiral'"):
        place(problem, seconds=0.1, global_start="spiral")
