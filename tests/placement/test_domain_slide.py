"""Domain slides (`domain_slide`, `placer._Run.slide_domains`): the minimum cut finds the region
whose one-step translation its model says gains most (checked against every subset on a small
netlist), a domain slid off the optimum is found and slid back, and only long-budget runs of at
least PIECES_UNITS free units take the pass (the compiler's kernels are untouched)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from backend_rdu.placement import Netlist, PlacementProblem, wirelength
from backend_rdu.placement import placer
from backend_rdu.placement.domain_slide import LATTICE_STEPS, _pairs, find_region, model_energy, slide, slide_pass
from backend_rdu.placement.generators import generate
from backend_rdu.placement.placer import _Run
from backend_rdu.placement.sequential_annealing import move_seconds


@pytest.fixture(scope="module")
def mosaic():
    """A 400-unit geometric netlist at its hidden optimum, with the units right of the middle
    column slid by (2, 0): two domains and a wall, as the placer's 2,000-unit results have."""
    bench = generate("geometric", "sn40l", 400, seed=5)
    problem = PlacementProblem.build("sn40l", bench.netlist)
    hidden = bench.hidden_sites(problem)
    x = problem.site_x[hidden]
    domain = x >= np.median(x)
    shifted = slide(problem, hidden, domain, (2, 0))
    return problem, hidden, shifted, domain


def test_the_cut_is_the_models_minimum_over_every_region():
    bench = generate("pins23", "sn40l", 10, seed=2)
    problem = PlacementProblem.build("sn40l", bench.netlist)
    rng = np.random.default_rng(0)
    pairs = _pairs(problem)
    start = slide(problem, bench.hidden_sites(problem), rng.random(problem.num_units) < 0.5, (1, 1))
    for step in LATTICE_STEPS:
        region, energy = find_region(problem, start, step)
        every = min(model_energy(problem, start, step, np.array(bits, dtype=bool), pairs)
                    for bits in itertools.product((0, 1), repeat=problem.num_units))
        assert energy == pytest.approx(every, abs=0.05)  # capacities are rounded to 1/64
        assert energy <= 0.0 and (energy < 0 or not region.any())


def test_a_slid_domain_is_found_and_slid_back(mosaic):
    problem, hidden, shifted, domain = mosaic
    optimum, before = wirelength(problem, hidden), wirelength(problem, shifted)
    assert before > optimum + 20  # the wall costs
    region, energy = find_region(problem, shifted, (-2, 0))
    assert energy < -10
    # the region found is the domain (up to the units along the wall), not a straight cut
    assert np.count_nonzero(region & domain) >= 0.8 * np.count_nonzero(region)
    assert np.count_nonzero(region & domain) >= 0.5 * np.count_nonzero(domain)
    back, record = slide_pass(problem, shifted, 0, heal_moves=20 * problem.num_units, seconds=5.0,
                              per_move=move_seconds(problem))
    problem.check(back)
    assert record["kept"] >= 1 and record["budget_estimate"] <= 5.0
    assert wirelength(problem, back) < before - 0.7 * (before - optimum)


def test_pinned_units_never_slide():
    bench = generate("pins23", "sn40l", 60, seed=1)
    data = bench.netlist.to_json()
    for unit in data["units"][::3]:
        unit["fixed"] = list(bench.positions[unit["name"]])
    problem = PlacementProblem.build("sn40l", Netlist.from_json(data))
    start = slide(problem, bench.hidden_sites(problem), np.ones(problem.num_units, dtype=bool), (1, 1))
    problem.check(start)
    pinned = problem.fixed_site >= 0
    for step in LATTICE_STEPS:
        region, _ = find_region(problem, start, step)
        assert not (region & pinned).any()
        problem.check(slide(problem, start, region, step))


def test_only_long_large_runs_take_the_pass(mosaic):
    problem = mosaic[0]
    assert not _Run(problem, 30.0, 0, math.inf).slides_suit()  # 400 free units: below PIECES_UNITS
    full = PlacementProblem.build("sn40l", generate("pins23", "sn40l", 2000, seed=1).netlist)
    assert _Run(full, 30.0, 0, math.inf).slides_suit()
    assert not _Run(full, 4.0, 0, math.inf).slides_suit()  # llama3_8b_shapes' budgets: below QUARTER_TURN_MOVES
    assert not _Run(full, 30.0, 0, math.inf, global_start="default").slides_suit()


def test_the_run_records_and_charges_the_slides(mosaic, monkeypatch):
    problem, hidden, shifted, _ = mosaic
    monkeypatch.setattr(placer, "PIECES_UNITS", 100)
    run = _Run(problem, 30.0, 0, math.inf)
    assert run.slides_suit()
    spent = run.spent
    after = run.slide_domains(shifted)
    assert run.phases[-1]["phase"] == "domain slides" and run.phases[-1]["kept"] >= 1
    assert wirelength(problem, after) < wirelength(problem, shifted)
    assert run.spent - spent == pytest.approx(run.phases[-1]["budget_estimate"], abs=1e-3)
    assert run.spent <= run.usable  # the slides take what the cut long run left, never more


def test_the_long_run_before_the_slides_is_cut_and_the_slides_follow(mosaic, monkeypatch):
    """The long run is cut at LONG_RUN_STOP of the moves its schedule plans (the same run as far as
    it goes: tests/placement/test_sequential_annealing.py), and the slides run right after it."""
    problem = mosaic[0]
    monkeypatch.setattr(placer, "PIECES_UNITS", 100)
    result = placer.place(problem, seconds=4.0, seed=0, wall_limit=math.inf)
    phases = [p["phase"] for p in result.stats["phases"]]
    long_run = result.stats["phases"][phases.index("anneal 1")]
    assert phases[phases.index("anneal 1") + 1] == "domain slides"
    assert long_run["moves"] == int(placer.LONG_RUN_STOP * long_run["schedule_moves"]) > 0
