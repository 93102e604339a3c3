"""The pieces of the small-kernel long run start at least as hot as the spread of random moves'
deltas (`placer.PIECE_HEAT_FLOOR`, the annealing baseline's start temperature) when their heat
came from the temperature trials; a given start and a nearly optimal trial keep the chosen heat."""

import numpy as np
import pytest

from backend_rdu.placement import placer
from backend_rdu.placement.generators import generate
from backend_rdu.placement.placer import _Run, construct, place
from backend_rdu.placement.problem import PlacementProblem
from backend_rdu.placement.sequential_annealing import SequentialAnnealer


def _problem(units: int = 150) -> PlacementProblem:
    return PlacementProblem.build("sn40l", generate("clustered", "sn40l", units, seed=4).netlist)


def test_floored_pieces_start_at_the_spread_and_pay_for_sampling_it(monkeypatch):
    monkeypatch.setattr(placer, "PIECE_HEAT_FLOOR", 1.0)
    problem = _problem()
    start, _ = construct(problem, 0)
    spread = SequentialAnnealer(problem, start, np.random.default_rng(3)).initial_temperature()
    cool = 0.1 * spread
    floored, plain = (_Run(problem, 1.0, seed=3, wall_limit=600.0) for _ in range(2))
    floored.anneal_pieces(start, cool / floored.weight, 0.4, 4, floor=True)
    plain.anneal_pieces(start, cool / plain.weight, 0.4, 4)
    assert floored.phases[-1]["heat"] * floored.weight == pytest.approx(spread) and spread > cool
    assert all(s["t_start"] == spread for s in floored.anneal_stats)
    assert all(s["t_start"] == cool for s in plain.anneal_stats)  # without the floor: the heat given
    moves = sum(s["moves"] for s in floored.anneal_stats)
    # the sampled moves are charged out of the pieces' share: the run spends the share given either way
    # (charged on top, they pushed test_placer_long_run_pieces' run 0.1% past its budget)
    assert floored.spent == pytest.approx(plain.spent, abs=1e-6)
    assert abs(moves + placer.SPREAD_SAMPLES - sum(s["moves"] for s in plain.anneal_stats)) <= 4


def test_a_hotter_chosen_heat_is_kept(monkeypatch):
    monkeypatch.setattr(placer, "PIECE_HEAT_FLOOR", 1.0)
    problem = _problem()
    start, _ = construct(problem, 0)
    run = _Run(problem, 1.0, seed=3, wall_limit=600.0)
    spread = SequentialAnnealer(problem, start, np.random.default_rng(3)).initial_temperature()
    run.anneal_pieces(start, 3 * spread / run.weight, 0.4, 4, floor=True)
    assert all(s["t_start"] == 3 * spread for s in run.anneal_stats)


def test_place_floors_the_pieces_but_not_a_given_start(monkeypatch):
    monkeypatch.setattr(placer, "PIECE_HEAT_FLOOR", 1.0)
    problem = _problem()
    result = place(problem, seconds=0.5, seed=2, wall_limit=600.0)
    trials = next(ph for ph in result.stats["phases"] if ph["phase"] == "temperature trials")
    pieces = next(ph for ph in result.stats["phases"] if ph["phase"] == "anneal 1")
    assert pieces["heat"] > trials["chosen"]  # this netlist's trials choose below the spread: the floor lifts them
    given = place(problem, seconds=0.5, seed=2, wall_limit=600.0, start=result.site_of_unit)
    trials = next(ph for ph in given.stats["phases"] if ph["phase"] == "temperature trials")
    pieces = next(ph for ph in given.stats["phases"] if ph["phase"] == "anneal 1")
    assert pieces["heat"] == trials["chosen"]  # the cycle placer's re-placement keeps its start's heat


def test_with_the_floor_off_the_pieces_run_at_the_chosen_heat(monkeypatch):
    # by default the floor is on for netlists of compact nets (`heat_floor_suits`,
    # tests/placement/test_piece_heat_rule.py); 0 turns it off everywhere
    monkeypatch.setattr(placer, "PIECE_HEAT_FLOOR", 0.0)
    result = place(_problem(), seconds=0.5, seed=2, wall_limit=600.0)
    trials = next(ph for ph in result.stats["phases"] if ph["phase"] == "temperature trials")
    pieces = next(ph for ph in result.stats["phases"] if ph["phase"] == "anneal 1")
    assert pieces["heat"] == trials["chosen"]
