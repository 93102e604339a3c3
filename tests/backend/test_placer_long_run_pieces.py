"""The placer's long run below PIECES_UNITS free units: LONG_RUN_PIECES annealing runs, each from
the shortest placement so far (restart from the best), instead of one run of the whole budget."""

import numpy as np

from backend_rdu.placement import placer
from backend_rdu.placement.annealing import random_placement
from backend_rdu.placement.generators import generate
from backend_rdu.placement.placer import _Run, place
from backend_rdu.placement.problem import PlacementProblem
from backend_rdu.placement.wirelength import wirelength


def _problem(units: int = 150) -> PlacementProblem:
    return PlacementProblem.build("sn40l", generate("clustered", "sn40l", units, seed=4).netlist)


def test_each_piece_starts_from_the_best_so_far_and_the_pieces_share_the_budget():
    problem = _problem()
    run = _Run(problem, 1.0, seed=3, wall_limit=600.0)
    start = random_placement(problem, 0)
    share = 0.4
    result = run.anneal_pieces(start, 4.0, share, 4)
    problem.check(result)
    lengths = run.phases[-1]["pieces"]
    assert run.phases[-1]["phase"] == "anneal 1" and len(lengths) == 4
    assert all(a >= b for a, b in zip(lengths, lengths[1:]))  # a piece never leaves the best behind
    assert lengths[0] < wirelength(problem, start) and lengths[-1] == wirelength(problem, result)
    assert len(run.anneal_stats) == 4
    assert all(s["t_start"] == 4.0 * run.weight for s in run.anneal_stats)  # one temperature, the long run's
    moves = [s["moves"] for s in run.anneal_stats]
    assert max(moves) - min(moves) <= 1 and sum(moves) * run.per_move <= share + 1e-9


def test_a_small_kernel_is_placed_in_pieces_deterministically():
    problem = _problem()
    assert len(problem.free_units) < placer.PIECES_UNITS
    result = place(problem, seconds=0.5, seed=2, wall_limit=600.0)
    anneal = [ph for ph in result.stats["phases"] if ph["phase"] == "anneal 1"]
    assert len(anneal) == 1 and len(anneal[0]["pieces"]) == placer.LONG_RUN_PIECES
    again = place(problem, seconds=0.5, seed=2, wall_limit=600.0)
    assert np.array_equal(again.site_of_unit, result.site_of_unit)
    assert result.stats["budget_used_estimate"] <= 0.5 and not result.stats["stopped_by_clock"]


def test_from_pieces_units_the_long_run_is_one_run(monkeypatch):
    monkeypatch.setattr(placer, "PIECES_UNITS", 100)  # this 150-unit kernel counts as large
    problem = _problem()
    result = place(problem, seconds=0.5, seed=2, wall_limit=600.0)
    anneal = [ph for ph in result.stats["phases"] if ph["phase"] == "anneal 1"]
    assert len(anneal) == 1 and "pieces" not in anneal[0]


def test_a_netlist_solved_whole_is_not_placed_in_pieces():
    problem = PlacementProblem.build("sn40l", generate("pins23", "sn40l", 40, seed=1).netlist)
    result = place(problem, seconds=0.5, seed=0, wall_limit=600.0)
    anneal = [ph for ph in result.stats["phases"] if ph["phase"] == "anneal 1"]
    assert len(anneal) == 1 and "pieces" not in anneal[0]  # the exact solve does the work, not the pieces
