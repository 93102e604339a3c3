"""The recursive-bisection start: legal, pins kept, deterministic, and exact from an exact guide."""

from __future__ import annotations

import numpy as np
import pytest

from backend_rdu.placement import Netlist, PlacementProblem, place, wirelength
from backend_rdu.placement.bisection import bisection_start
from backend_rdu.placement.generators import generate
from backend_rdu.placement.synthetic import hidden_optimum_netlist


def test_start_is_legal_keeps_pins_and_depends_only_on_the_seed():
    bench = generate("multipin", "sn40l", 300, seed=3)
    data = bench.netlist.to_json()
    pinned = sorted(bench.positions)[:5]
    for unit in data["units"]:
        if unit["name"] in pinned:
            unit["fixed"] = list(bench.positions[unit["name"]])
    problem = PlacementProblem.build("sn40l", Netlist.from_json(data))
    first, again, other = (bisection_start(problem, seed) for seed in (1, 1, 2))
    problem.check(first)
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_min_cut_start_is_much_shorter_than_a_random_one():
    bench = generate("pins23", "sn40l", 400, seed=8)
    problem = PlacementProblem.build("sn40l", bench.netlist)
    start = bisection_start(problem, 0)
    problem.check(start)
    assert wirelength(problem, start) < 3.0 * bench.lower_bound  # a random placement: ~25x


def test_an_exact_guide_on_a_full_chip_is_kept():
    hidden = hidden_optimum_netlist("small", 60, seed=2)  # every site of chip 'small' holds a unit
    problem = PlacementProblem.build("small", hidden.netlist)
    guide = np.array([hidden.positions[name] for name in problem.unit_names], dtype=np.float64)
    start = bisection_start(problem, 0, guide)
    assert wirelength(problem, start) == hidden.optimum


def test_placer_takes_the_bisection_start_on_request():
    bench = generate("pins23", "sn40l", 200, seed=4)
    problem = PlacementProblem.build("sn40l", bench.netlist)
    result = place(problem, seconds=1, seed=0, wall_limit=120, global_start="bisection")
    problem.check(result.site_of_unit)
    assert result.stats["phases"][0]["start"] in ("growth+bisection", "layout+bisection")
    with pytest.raises(ValueError, match="global_start must be one of best, default, bisection, multilevel, analytic, spectral, got 'spiral'"):
        place(problem, seconds=1, global_start="spiral")
