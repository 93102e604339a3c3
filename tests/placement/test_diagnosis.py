"""The wave-12 diagnosis measures (`diagnosis`): fits, domain census and excess against a hidden placement."""

import numpy as np

from backend_rdu.placement import PlacementProblem
from backend_rdu.placement.diagnosis import SYMMETRIES, best_rigid_fit, domain_census, excess_summary
from backend_rdu.placement.generators import generate


def test_rigid_fit_finds_the_turn_and_the_two_domains():
    rng = np.random.default_rng(0)
    hidden = rng.integers(0, 40, size=(400, 2)).astype(float)
    placed = hidden @ SYMMETRIES[2].T + (41, 51)  # turned half a turn and shifted
    placed[hidden[:, 0] >= 20] += (2, 0)  # the right half is a domain one lattice step off
    index, shift, field = best_rigid_fit(placed, hidden)
    assert index == 2
    census = domain_census(field, 2)
    assert {d for d, _ in census} == {(0, 0), (2, 0)} or {d for d, _ in census} == {(0, 0), (-2, 0)}
    assert sum(c for _, c in census) == 400


def test_excess_is_zero_on_the_optimum_and_positive_off_it():
    bench = generate("pins23", "sn40l", 200, seed=1)
    problem = PlacementProblem.build("sn40l", bench.netlist)
    hidden = bench.hidden_sites(problem)
    assert excess_summary(problem, hidden, hidden)["excess"] == 0
    swapped = hidden.copy()
    same_kind = np.flatnonzero(problem.unit_kind == problem.unit_kind[0])
    a, b = same_kind[0], same_kind[-1]
    swapped[a], swapped[b] = hidden[b], hidden[a]
    summary = excess_summary(problem, swapped, hidden)
    assert summary["excess"] > 0 and summary["nets_over"] > 0
    assert summary["optimal"] == bench.hidden_wirelength
