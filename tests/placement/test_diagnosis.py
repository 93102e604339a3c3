"""The wave-12 diagnosis measures (`diagnosis`): fits, domain census and excess against a hidden placement."""

import numpy as np

from backend_rdu.placement import PlacementProblem
from backend_rdu.placement.diagnosis import (SYMMETRIES, best_rigid_fit, best_symmetry_by_count, displacement_domains,
                                              domain_census, domain_excess, excess_summary)
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


def test_displacement_domains_one_on_the_optimum_and_singletons_for_a_far_swap():
    bench = generate("pins23", "sn40l", 200, seed=1)
    problem = PlacementProblem.build("sn40l", bench.netlist)
    hidden = bench.hidden_sites(problem)
    labels, field = displacement_domains(problem, hidden, hidden)
    assert set(labels.tolist()) == {0} and not field.any()  # the hidden patch is connected
    xs = problem.site_x[hidden]
    same_kind = np.flatnonzero(problem.unit_kind == problem.unit_kind[0])
    a, b = same_kind[np.argmin(xs[same_kind])], same_kind[np.argmax(xs[same_kind])]
    swapped = hidden.copy()
    swapped[a], swapped[b] = hidden[b], hidden[a]
    labels, field = displacement_domains(problem, swapped, hidden)
    sizes = np.bincount(labels)
    assert sizes.tolist() == [problem.num_units - 2, 1, 1]  # the majority, and each swapped unit alone
    assert labels[a] != 0 and labels[b] != 0 and not field[labels == 0].any()
    split = domain_excess(problem, swapped, hidden, labels)
    assert split["excess"] > 0 and split["inside"] == 0
    assert split["crossing_by_smallest"]["1"] == split["excess"]


def test_count_fit_picks_the_largest_domain_as_reference():
    rng = np.random.default_rng(3)
    hidden = rng.integers(0, 40, size=(300, 2)).astype(float)
    placed = hidden @ SYMMETRIES[6].T + (5, 7)
    placed[:100] += (1, 1)  # a third of the units one diagonal step off: the other two thirds are the reference
    index, shift, field = best_symmetry_by_count(placed, hidden)
    assert index == 6 and shift.tolist() == [5, 7]
    assert not field[100:].any() and (field[:100] == (1, 1)).all()
