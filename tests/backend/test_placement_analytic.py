"""The analytic (quadratic, SimPL-style) global start: legal, keeps pins, a pure function of its
inputs, much shorter than a random placement, and sane on the edge cases (nothing free, one unit
kind only, units on no net); the placer runs from it as global_start="analytic"."""

from __future__ import annotations

import math

import numpy as np
import pytest

from backend_rdu.placement import Netlist, PlacementProblem, place, placer, wirelength
from backend_rdu.placement.analytic import ITERATIONS, analytic_seconds, analytic_start
from backend_rdu.placement.annealing import random_placement
from backend_rdu.placement.generators import generate
from backend_rdu.placement.netlist import Net, Unit


@pytest.fixture(scope="module")
def multipin():
    return PlacementProblem.build("sn40l", generate("multipin", "sn40l", 300, seed=4).netlist)


def test_the_start_is_legal_deterministic_and_far_shorter_than_random(multipin):
    first, stats = analytic_start(multipin, seed=3)
    again, _ = analytic_start(multipin, seed=3)
    multipin.check(first)
    assert np.array_equal(first, again)
    assert 1 <= stats.rounds <= ITERATIONS and len(stats.lower) == len(stats.upper) == stats.rounds
    random_length = np.median([wirelength(multipin, random_placement(multipin, s)) for s in range(3)])
    assert wirelength(multipin, first) < 0.25 * random_length


def test_the_rounds_shorten_the_start_they_are_given(multipin):
    # a random placement as the first positions: the solve-and-spread rounds must pull it together
    rough = random_placement(multipin, 7)
    xy = np.stack([multipin.site_x[rough], multipin.site_y[rough]], axis=1).astype(np.float64)
    sites, stats = analytic_start(multipin, seed=0, coords=xy)
    multipin.check(sites)
    assert wirelength(multipin, sites) < 0.5 * wirelength(multipin, rough)
    assert stats.best_round >= 0 and min(stats.upper) == wirelength(multipin, sites)
    # the solved positions are a relaxation: shorter than what they legalise to
    assert stats.lower[stats.best_round] < stats.upper[stats.best_round]


def test_pinned_units_stay_on_their_pins_and_pull_their_nets():
    # a chain of PCU-PMU pairs whose two ends are pinned to opposite corners of sn40l
    units = [Unit(f"u{i}", "pcu" if i % 2 == 0 else "pmu") for i in range(40)]
    units[0] = Unit("u0", "pcu", fixed=_corner("pcu", low=True))
    units[-1] = Unit("u39", "pmu", fixed=_corner("pmu", low=False))
    nets = [Net((f"u{i}", f"u{i + 1}")) for i in range(39)]
    problem = PlacementProblem.build("sn40l", Netlist(units=tuple(units), nets=tuple(nets)))
    sites, _ = analytic_start(problem, seed=1)
    problem.check(sites)  # asserts the pins are kept
    x = problem.site_x[sites]
    # the chain is stretched between its pins: the middle unit lies between them, not at one end
    assert min(x[0], x[39]) < x[20] < max(x[0], x[39])


def test_no_free_units_returns_the_pins_and_does_no_rounds():
    units = (Unit("a", "pcu", fixed=_corner("pcu", low=True)), Unit("b", "pmu", fixed=_corner("pmu", low=False)))
    problem = PlacementProblem.build("sn40l", Netlist(units=units, nets=(Net(("a", "b")),)))
    sites, stats = analytic_start(problem, seed=0)
    assert np.array_equal(sites, problem.fixed_site) and stats.rounds == 0


def test_one_kind_only_and_units_on_no_net():
    units = tuple(Unit(f"c{i}", "pcu") for i in range(30)) + (Unit("alone", "pcu"),)
    nets = tuple(Net((f"c{i}", f"c{(i + 1) % 30}", f"c{(i + 7) % 30}")) for i in range(30))
    problem = PlacementProblem.build("sn40l", Netlist(units=units, nets=nets))
    sites, _ = analytic_start(problem, seed=2)
    problem.check(sites)
    assert wirelength(problem, sites) < 0.5 * wirelength(problem, random_placement(problem, 2))
    lonely = PlacementProblem.build("sn40l", Netlist(units=(Unit("p", "pcu"), Unit("q", "pmu")), nets=()))
    sites, _ = analytic_start(lonely, seed=0)
    lonely.check(sites)


def test_the_placer_runs_from_the_analytic_start_and_charges_it(multipin):
    result = place(multipin, seconds=1.0, seed=5, wall_limit=math.inf, global_start="analytic")
    multipin.check(result.site_of_unit)
    assert result.stats["phases"][0]["start"].endswith("+analytic")
    again = place(multipin, seconds=1.0, seed=5, wall_limit=math.inf, global_start="analytic")
    assert np.array_equal(again.site_of_unit, result.site_of_unit)
    default = place(multipin, seconds=1.0, seed=5, wall_limit=math.inf, global_start="default")
    # the rounds are charged in work, so the analytic run has that much less left for annealing
    moves = lambda r: sum(a["moves"] for a in r.stats["anneal"])  # noqa: E731
    assert moves(result) < moves(default)
    assert analytic_seconds(multipin) > 0 and result.stats["budget_used_estimate"] <= 1.0


def _corner(kind: str, low: bool) -> tuple[int, int]:
    from chip_model import load_chip

    sites = [(s.x, s.y) for s in load_chip("sn40l").grid.sites if s.kind == kind]
    return min(sites, key=lambda xy: (xy[0] + xy[1]) * (1 if low else -1))


def test_best_smooths_the_default_start_only_when_the_rounds_are_cheap_enough(monkeypatch):
    monkeypatch.setattr(placer, "CHOICE_UNITS", 100)  # a netlist small enough for a quick test
    problem = PlacementProblem.build("sn40l", generate("pins23", "sn40l", 300, seed=2).netlist)
    monkeypatch.setattr(placer, "ANALYTIC_MAX_SHARE", 1.0)
    smoothed = place(problem, seconds=1.0, seed=1, wall_limit=math.inf)
    assert smoothed.stats["phases"][0]["start"].endswith("+analytic")
    assert any(ph["phase"] == "start choice" for ph in smoothed.stats["phases"])  # the V is still weighed
    # at this budget the rounds cost more than the default share: "best" keeps the plain default start
    assert analytic_seconds(problem) > 0.06 * placer.USABLE_SHARE * 1.0
    monkeypatch.setattr(placer, "ANALYTIC_MAX_SHARE", 0.06)
    plain = place(problem, seconds=1.0, seed=1, wall_limit=math.inf)
    assert plain.stats["phases"][0]["start"] in ("growth", "layout")
