"""Exact re-assignment of the scarce kind (AGCUs): optimal given the rest, legal, never longer."""

from __future__ import annotations

import numpy as np

from backend_rdu.placement import Netlist, PlacementProblem, wirelength
from backend_rdu.placement.annealing import random_placement
from backend_rdu.placement.assignment import reassign_scarce, scarce_kinds
from backend_rdu.placement.generators import generate


def _edge_problem() -> PlacementProblem:
    # chip 'small' (10x6): AGCU sites at x = 0 and x = 9 on every row
    return PlacementProblem.build("small", Netlist.from_json({
        "units": [
            {"name": "west", "kind": "pmu", "fixed": [1, 0]},
            {"name": "east", "kind": "pmu", "fixed": [8, 3]},
            {"name": "a", "kind": "agcu"}, {"name": "b", "kind": "agcu"}, {"name": "idle", "kind": "agcu"},
        ],
        "nets": [{"units": ["a", "east"], "weight": 2}, {"units": ["b", "west"]}],
    }))


def test_each_agcu_goes_to_the_edge_site_next_to_its_net():
    problem = _edge_problem()
    at = problem.site_at
    names = {n: i for i, n in enumerate(problem.unit_names)}
    start = problem.fixed_site.copy()
    start[names["a"]], start[names["b"]], start[names["idle"]] = at[0, 0], at[9, 3], at[0, 3]
    assert wirelength(problem, start) == 2 * 11 + 11  # each across the chip and 3 rows
    done = reassign_scarce(problem, start, kinds=[2])  # on chip 'small' no kind is scarce: asked for
    problem.check(done)  # the unwired AGCU keeps a site of its own
    assert wirelength(problem, done) == 2 * 1 + 1
    assert (problem.site_x[done[names["a"]]], problem.site_y[done[names["a"]]]) == (9, 3)
    assert (problem.site_x[done[names["b"]]], problem.site_y[done[names["b"]]]) == (0, 0)


def _with_agcus(units: int, agcus: int, seed: int) -> PlacementProblem:
    """A generated netlist (no AGCUs) with `agcus` AGCUs, each on a net with 1-3 of its units
    (a compiler kernel's loads and stores); the first AGCU is pinned to the chip's first AGCU site."""
    rng = np.random.default_rng(seed)
    data = generate("pins23", "sn40l", units, seed=seed).netlist.to_json()
    names = [u["name"] for u in data["units"]]
    for i in range(agcus):
        data["units"].append({"name": f"agcu{i}", "kind": "agcu"} | ({"fixed": [0, 1]} if i == 0 else {}))
        wired = rng.choice(names, size=int(rng.integers(1, 4)), replace=False).tolist()
        data["nets"].append({"units": [f"agcu{i}", *wired]})
    return PlacementProblem.build("sn40l", Netlist.from_json(data))


def test_reassignment_never_lengthens_and_keeps_pins():
    problem = _with_agcus(200, 12, seed=5)
    assert scarce_kinds(problem) == [2]
    for seed in range(3):
        start = random_placement(problem, seed)
        done = reassign_scarce(problem, start)
        problem.check(done)
        assert wirelength(problem, done) <= wirelength(problem, start)
        moved = np.flatnonzero(done != start)
        assert np.all(problem.unit_kind[moved] == 2)
    assert wirelength(problem, reassign_scarce(problem, random_placement(problem, 0))) < wirelength(problem, random_placement(problem, 0))


def test_no_scarce_kind_without_wired_agcus():
    assert scarce_kinds(PlacementProblem.build("sn40l", generate("mixed", "sn40l", 100, seed=1).netlist)) == []
    problem = PlacementProblem.build("small", Netlist.from_json({
        "units": [{"name": "a", "kind": "pcu"}, {"name": "b", "kind": "pmu"}, {"name": "c", "kind": "agcu"}],
        "nets": [{"units": ["a", "b"]}],
    }))
    assert scarce_kinds(problem) == []  # 'small': no kind has few sites next to the others
    problem = PlacementProblem.build("sn40l", Netlist.from_json({
        "units": [{"name": "a", "kind": "pcu"}, {"name": "b", "kind": "pmu"}, {"name": "c", "kind": "agcu"}],
        "nets": [{"units": ["a", "b"]}],
    }))
    assert scarce_kinds(problem) == []  # the AGCU is on no net
