"""The quarter turn (`region_moves.quarter_turn`) and the placer's probe of it
(`placer._Run.try_quarter_turn`): on a nearly full chip a placement turned the wrong way is turned
back, one turned the right way is kept, and neither happens on a short budget."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backend_rdu.placement import Netlist, PlacementProblem, wirelength
from backend_rdu.placement.generators import generate
from backend_rdu.placement.placer import _Run
from backend_rdu.placement.region_moves import quarter_turn


@pytest.fixture(scope="module")
def full_chip():
    """2,000 units on sn40l's 2,106 sites: the optimal shape is the chip's own, as in the bench."""
    bench = generate("multipin", "sn40l", 2000, seed=3)
    problem = PlacementProblem.build("sn40l", bench.netlist)
    return problem, bench.hidden_sites(problem), bench.lower_bound


def test_a_quarter_turn_is_legal_and_two_are_a_half_turn(full_chip):
    problem, hidden, optimum = full_chip
    once = quarter_turn(problem, hidden)
    twice = quarter_turn(problem, once)
    problem.check(once)
    problem.check(twice)
    # turned once the hidden placement is squeezed by 42/52 one way and stretched the other: far off
    assert wirelength(problem, once) > 1.5 * optimum
    # turned twice it is the hidden placement turned half a turn at the large scale (the squeeze
    # undone): each unit within a few sites of there (legalising twice adds local noise, which
    # is what the placer's probe run repairs)
    free = problem.fixed_site < 0
    x, y = problem.site_x[hidden], problem.site_y[hidden]
    half_x, half_y = x[free].max() + x[free].min() - x, y[free].max() + y[free].min() - y
    off = np.abs(problem.site_x[twice] - half_x) + np.abs(problem.site_y[twice] - half_y)
    assert np.mean(off) < 2.5 and np.quantile(off, 0.9) <= 5


def test_the_probe_turns_a_wrong_placement_back_and_keeps_a_right_one(full_chip):
    problem, hidden, optimum = full_chip
    wrong = quarter_turn(problem, hidden)
    run = _Run(problem, 30.0, 0, math.inf)
    turned, _ = run.try_quarter_turn(wrong, 1.0)
    assert run.phases[-1]["turned"] is True
    assert wirelength(problem, turned) < 0.8 * wirelength(problem, wrong)
    # the placement turned back and annealed by the probe is the right way round: turning it loses
    right = turned
    spent, stats = run.spent, len(run.anneal_stats)
    kept, hot = run.try_quarter_turn(right, 1.0)
    assert run.phases[-1]["turned"] is False
    assert np.array_equal(kept, right) and hot == 1.0
    assert run.spent > spent  # the losing probe is paid for ...
    assert len(run.anneal_stats) == stats  # ... but leaves the later runs' seeds as they were


def test_no_probe_on_a_short_budget(full_chip):
    problem, hidden, _ = full_chip
    wrong = quarter_turn(problem, hidden)
    run = _Run(problem, 4.0, 0, math.inf)  # ~3,600 moves per unit, below QUARTER_TURN_MOVES
    same, _ = run.try_quarter_turn(wrong, 1.0)
    assert np.array_equal(same, wrong) and not run.phases and run.spent == pytest.approx(_Run(problem, 4.0, 0, math.inf).spent)


def test_a_netlist_with_every_unit_pinned_is_left_as_it_is():
    bench = generate("pins23", "sn40l", 30, seed=1)
    data = bench.netlist.to_json()
    for unit in data["units"]:
        unit["fixed"] = list(bench.positions[unit["name"]])
    pinned = PlacementProblem.build("sn40l", Netlist.from_json(data))
    assert np.array_equal(quarter_turn(pinned, pinned.fixed_site), pinned.fixed_site)
