"""Domain slides (`domain_slide`, `placer._Run.slide_domains`): the minimum cut finds the region
whose one-step translation its model says gains most (checked against every subset on a small
netlist), a domain slid off the optimum is found and slid back, and only long-budget runs of at
least PIECES_UNITS free units take the pass (the compiler's kernels are untouched)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from backend_rdu.placement import PlacementProblem, wirelength
from backend_rdu.placement import domain_slide, placer
from backend_rdu.placement.domain_slide import (GEOMETRY_RATE, JUDGE_RATE, LATTICE_STEPS, MODELS, REJUDGE_RATE, SEAM_RATE,
                                               SETUP_RATE, _pairs, find_region, heal, model_energy, seam, slide, slide_pass,
                                               step_seconds, work_seconds)
from backend_rdu.placement.generators import generate
from backend_rdu.placement.placer import _Run
from backend_rdu.placement.sequential_annealing import move_seconds
from backend_rdu.placement.wirelength import net_hpwl
from tests.placement.pinned import every_third_pinned


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
    back, record = slide_pass(problem, shifted, 0, heal_moves=50, seconds=5.0,
                              per_move=move_seconds(problem))
    problem.check(back)
    assert record["kept"] >= 1 and record["budget_estimate"] <= 5.0
    assert wirelength(problem, back) < before - 0.7 * (before - optimum)


def test_the_seam_is_the_wall_not_the_domain(mosaic):
    """The local heal moves the units around the wall a slide opens or closes (every unit of a net
    whose length changed, and their neighbours), not the slid domain's inside nor the far side."""
    problem, hidden, shifted, domain = mosaic
    movers = seam(problem, shifted, hidden, (-2, 0))  # slid back: the wall closes
    changed = net_hpwl(problem, shifted) != net_hpwl(problem, hidden)
    on_changed = np.unique(problem.net_pins[changed[problem.pin_net]])
    assert len(on_changed) > 0 and np.isin(on_changed, movers).all()
    assert (problem.fixed_site[movers] < 0).all()
    assert 0 < len(movers) < 0.6 * problem.num_units
    x = problem.site_x[hidden]
    wall = np.median(x)
    far = (np.abs(x - wall) > 8) & (x > 4) & (x < problem.site_at.shape[0] - 5)  # away from the wall and the edges
    assert not np.isin(np.flatnonzero(far), movers).any()


def test_a_local_heal_moves_only_around_its_movers(mosaic):
    """A heal given `movers` draws only them (a unit that is not one moves only by a swap with one),
    from a small radius: given the units within two columns of the wall, it changes the wall's
    neighbourhood and leaves the rest of the chip where it was (the whole chip's heal does not)."""
    problem, hidden, shifted, _ = mosaic
    x = problem.site_x[shifted]
    wall = np.median(problem.site_x[hidden])
    movers = np.flatnonzero(np.abs(x - wall) <= 2)
    healed = heal(problem, shifted, 50 * len(movers), 0, movers)
    problem.check(healed)
    moved = np.flatnonzero(healed != shifted)
    assert len(moved) > 0 and np.isin(moved, movers).mean() >= 0.5
    assert (np.abs(x[moved] - wall) <= 10).all()
    everywhere = np.flatnonzero(heal(problem, shifted, 50 * len(movers), 0) != shifted)
    assert (np.abs(x[everywhere] - wall) > 10).any()


def test_at_the_optimum_every_model_is_swept_once_and_nothing_kept(mosaic):
    """A sweep that keeps nothing hands over to the next model (MODELS); after the last, the pass
    ends, leaving what it did not spend."""
    problem, hidden, _, _ = mosaic
    back, record = slide_pass(problem, hidden, 0, heal_moves=50, seconds=5.0, per_move=move_seconds(problem))
    assert record["kept"] == 0 and np.array_equal(back, hidden)
    assert record["sweeps"] == len(MODELS) and record["budget_estimate"] < 5.0


def test_the_pass_is_a_function_of_its_seed(mosaic):
    """Budgets are counted in work, not timed: the same netlist, placement, budget and seed give
    the same placement and the same record, and the placement given is left as it was."""
    problem, _, shifted, _ = mosaic
    given = shifted.copy()
    runs = [slide_pass(problem, shifted.copy(), 3, heal_moves=50, seconds=1.0, per_move=move_seconds(problem))
            for _ in range(2)]
    assert runs[0][1]["tries"] >= 1
    assert np.array_equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]
    assert np.array_equal(shifted, given)


def test_a_budget_for_the_cuts_but_not_a_slide_tries_nothing(mosaic):
    """The setup and a sweep's 8 cuts are paid first; a slide (with its seam) that the rest cannot pay
    for is not made. A budget below the first sweep spends nothing."""
    problem, _, shifted, _ = mosaic
    n = problem.num_units
    sweep = work_seconds(SETUP_RATE, n) + len(LATTICE_STEPS) * step_seconds(n)
    budget = sweep + 0.5 * step_seconds(n)
    back, record = slide_pass(problem, shifted, 0, heal_moves=50, seconds=budget, per_move=move_seconds(problem))
    assert record["tries"] == 0 and record["sweeps"] == 1 and np.array_equal(back, shifted)
    assert record["budget_estimate"] == pytest.approx(sweep, abs=1e-3) and record["budget_estimate"] <= budget
    back, record = slide_pass(problem, shifted, 0, heal_moves=50, seconds=0.9 * sweep, per_move=move_seconds(problem))
    assert record["sweeps"] == 0 and record["budget_estimate"] == 0 and np.array_equal(back, shifted)


def test_the_re_judge_the_seam_and_the_verdict_are_charged_before_they_run(mosaic, monkeypatch):
    """After a kept slide the regions still to try are re-judged by the model (`model_energy` on the
    new placement, over every pair): that work is charged before it runs, as are the seam and the
    heal's verdict. With a budget that pays the setup, the first sweep's cuts and its first try (slide,
    seam, heal, verdict) but not the re-judge after it, the pass stops there: one try, no re-judge,
    and the record counts exactly that (the pass before the fix re-judged uncharged)."""
    problem, _, shifted, _ = mosaic
    n, per_move = problem.num_units, move_seconds(problem)
    events = []

    def spy(name, function):
        def wrapped(*args, **kwargs):
            events.append((name, args[2] if name == "heal" else None))
            return function(*args, **kwargs)
        monkeypatch.setattr(domain_slide, name, wrapped)

    for name in ("find_region", "model_energy", "heal"):
        spy(name, getattr(domain_slide, name))

    def re_judged():  # the model's calls that no cut made: find_region calls it once, right after its own entry
        return [i for i, (name, _) in enumerate(events) if name == "model_energy" and events[i - 1][0] != "find_region"]

    _, record = slide_pass(problem, shifted, 0, heal_moves=50, seconds=5.0, per_move=per_move)
    first_heal = [i for i, (name, _) in enumerate(events) if name == "heal"][0]
    assert record["kept"] >= 1 and re_judged() and re_judged()[0] == first_heal + 1  # the first try kept, then re-judged
    moves = events[first_heal][1]
    paid = (work_seconds(SETUP_RATE, n) + (len(LATTICE_STEPS) + 1) * step_seconds(n) + work_seconds(SEAM_RATE, n)
            + moves * per_move + work_seconds(JUDGE_RATE, n))
    re_judge = work_seconds(REJUDGE_RATE, n) + work_seconds(GEOMETRY_RATE, n)
    events.clear()
    _, record = slide_pass(problem, shifted, 0, heal_moves=50, seconds=paid + 0.5 * re_judge, per_move=per_move)
    assert not re_judged()
    assert record["tries"] == 1 and record["kept"] == 1
    assert record["budget_estimate"] == pytest.approx(paid, abs=1e-3) and record["budget_estimate"] <= paid + 0.5 * re_judge
    events.clear()
    _, record = slide_pass(problem, shifted, 0, heal_moves=50, seconds=paid + 1.5 * re_judge, per_move=per_move)
    assert re_judged() and record["budget_estimate"] >= paid + re_judge - 1e-3  # paid for, it runs


def test_pinned_units_never_slide():
    problem, bench = every_third_pinned("pins23", 60, seed=1)
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
