"""On a short budget per unit, a V whose coarsening stalled goes on alone ("best" from CHOICE_UNITS):
the default start, its temperature trials and the probe are not paid for (docs/placement.md, wave 10)."""

import math

import pytest

from backend_rdu.placement import multilevel, placer
from backend_rdu.placement.generators import generate
from backend_rdu.placement.placer import construct_seconds, multilevel_construct_seconds, place
from backend_rdu.placement.problem import PlacementProblem


@pytest.fixture(scope="module")
def mixed():
    return PlacementProblem.build("sn40l", generate("mixed", "sn40l", 300, seed=3).netlist)


@pytest.fixture
def choosing(monkeypatch):
    monkeypatch.setattr(placer, "CHOICE_UNITS", 100)  # a netlist small enough for a quick test
    monkeypatch.setattr(multilevel, "STALLED_CLUSTERS", 1)  # every coarsening counts as stalled
    monkeypatch.setattr(placer, "PIECES_UNITS", 100)  # one long run, whose budget its phase records


def _phases(result):
    return [ph["phase"] for ph in result.stats["phases"]]


def test_a_stalled_v_on_a_short_budget_goes_on_alone_and_is_charged_what_it_costs(mixed, choosing):
    result = place(mixed, seconds=0.5, seed=2, wall_limit=math.inf)
    mixed.check(result.site_of_unit)
    first = result.stats["phases"][0]
    assert first["start"] == "multilevel" and first["short_budget"] is True
    assert "start choice" not in _phases(result) and "temperature trials" not in _phases(result)
    # the V's own construction is charged, not the default start's (which was never built): the
    # long run gets more than the budget left after the default start's charge
    usable = placer.USABLE_SHARE * 0.5
    long_run = next(ph for ph in result.stats["phases"] if ph["phase"] == "anneal 1")
    assert multilevel_construct_seconds(mixed.num_units) < construct_seconds(mixed.num_units)
    assert long_run["budget_estimate"] > usable - construct_seconds(mixed.num_units)
    assert result.stats["budget_used_estimate"] <= 0.5 * 1.05  # a CP-SAT window may overrun its limit a little
    again = place(mixed, seconds=0.5, seed=2, wall_limit=math.inf)
    assert (again.site_of_unit == result.site_of_unit).all()


def test_the_stalled_v_alone_gets_at_most_stalled_v_moves_per_unit(mixed, choosing, monkeypatch):
    monkeypatch.setattr(placer, "STALLED_V_MOVES", 0.0)
    result = place(mixed, seconds=0.5, seed=2, wall_limit=math.inf)
    assert result.stats["phases"][0]["start"] == "multilevel"
    assert all(level["moves"] == 0 for level in result.stats["multilevel"])  # its whole share was capped away
    monkeypatch.setattr(placer, "STALLED_V_MOVES", 200.0)
    capped = place(mixed, seconds=0.5, seed=2, wall_limit=math.inf)
    assert sum(level["moves"] for level in capped.stats["multilevel"]) > 0


def test_on_a_long_budget_per_unit_the_stalled_v_is_only_a_candidate(mixed, choosing, monkeypatch):
    monkeypatch.setattr(placer, "SHORT_BUDGET_MOVES", 0.0)  # every budget counts as long
    result = place(mixed, seconds=0.5, seed=2, wall_limit=math.inf)
    assert "short_budget" not in result.stats["phases"][0]
    assert "start choice" in _phases(result) and "temperature trials" in _phases(result)


def test_a_v_that_contracts_stays_a_candidate_on_a_short_budget(mixed, monkeypatch):
    monkeypatch.setattr(placer, "CHOICE_UNITS", 100)
    assert multilevel.coarsen_levels(mixed, seed=2)[-1].problem.num_units <= multilevel.STALLED_CLUSTERS
    result = place(mixed, seconds=0.5, seed=2, wall_limit=math.inf)
    assert "short_budget" not in result.stats["phases"][0] and "start choice" in _phases(result)
