"""Independent-set matching (`matching`): the assignment is the best of every permutation (brute
force on a tiny netlist), its gain is the exact change of wirelength, the sets the pass builds
share no net, a pass never lengthens the placement, pinned units stay, kinds are kept, a pass is a
pure function of its seed, and its work is counted within its budget. (The placer does not call
it: docs/placement.md, "Wave 14: independent-set matching".)"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from backend_rdu.placement import PlacementProblem, wirelength
from backend_rdu.placement import matching
from backend_rdu.placement.generators import generate
from backend_rdu.placement.matching import cost_matrix, independent, match, matching_pass, set_seconds
from tests.placement.pinned import every_third_pinned


def _scrambled(problem: PlacementProblem, sites: np.ndarray, swaps: int, seed: int) -> np.ndarray:
    """`sites` with `swaps` random swaps of free units of one kind (a placement to improve)."""
    rng = np.random.default_rng(seed)
    out = sites.copy()
    free = problem.fixed_site < 0
    for _ in range(swaps):
        kind = rng.integers(2)
        a, b = rng.choice(np.flatnonzero(free & (problem.unit_kind == kind)), 2, replace=False)
        out[a], out[b] = out[b], out[a]
    return out


@pytest.fixture(scope="module")
def scrambled():
    bench = generate("pins23", "sn40l", 400, seed=3)
    problem = PlacementProblem.build("sn40l", bench.netlist)
    return problem, _scrambled(problem, bench.hidden_sites(problem), 150, 0)


def _greedy_independent(problem: PlacementProblem, candidates) -> list[int]:
    ptr, nets = problem.unit_nets
    chosen, used = [], set()
    for u in candidates:
        mine = set(nets[ptr[u]:ptr[u + 1]].tolist())
        if used.isdisjoint(mine):
            chosen.append(int(u))
            used |= mine
    return chosen


def test_the_assignment_is_the_best_of_every_permutation():
    bench = generate("pins23", "sn40l", 40, seed=2)
    problem = PlacementProblem.build("sn40l", bench.netlist)
    start = _scrambled(problem, bench.hidden_sites(problem), 30, 1)
    occupied = np.zeros(problem.num_sites, dtype=bool)
    occupied[start] = True
    checked = 0
    for kind in (0, 1):
        units = np.array(sorted(_greedy_independent(problem, np.flatnonzero(problem.unit_kind == kind))[:5]))
        assert len(units) >= 3 and independent(problem, units)
        sites = problem.sites_of_kind(kind)
        empty = sites[~occupied[sites]]
        near = empty[np.argsort(np.abs(problem.site_x[empty] - problem.site_x[start[units[0]]])
                                + np.abs(problem.site_y[empty] - problem.site_y[start[units[0]]]), kind="stable")[:2]]
        slots = np.sort(np.concatenate([start[units], near]))
        best = math.inf
        for chosen in itertools.permutations(slots.tolist(), len(units)):
            trial = start.copy()
            trial[units] = chosen
            best = min(best, wirelength(problem, trial))
        after, gain, _ = match(problem, start, units, slots)
        problem.check(after)
        assert wirelength(problem, after) == pytest.approx(best)
        assert gain == pytest.approx(wirelength(problem, start) - best)
        checked += gain > 0
    assert checked  # the scramble left something to gain


def test_a_set_sharing_a_net_is_refused():
    bench = generate("pins23", "sn40l", 40, seed=2)
    problem = PlacementProblem.build("sn40l", bench.netlist)
    sites = bench.hidden_sites(problem)
    pins = problem.net_pins[problem.net_ptr[0]:problem.net_ptr[1]]
    assert not independent(problem, pins)
    with pytest.raises(ValueError, match="independent"):
        match(problem, sites, pins, np.sort(sites[pins]))


def test_the_pass_builds_independent_sets_and_each_gain_is_exact(scrambled, monkeypatch):
    """Every set the pass solves shares no net, and the gain each assignment claims from its cost
    matrix is the placement's exact change of wirelength: without the independence rule the
    separable sum misprices nets holding two movers (and `match` refuses the set)."""
    problem, start = scrambled
    seen = []
    real = matching.match

    def spy(p, site_of_unit, units, slots):
        assert independent(p, units)
        before = wirelength(p, site_of_unit)
        after, gain, rows = real(p, site_of_unit, units, slots)
        assert gain >= 0 and before - wirelength(p, after) == pytest.approx(gain)
        seen.append(len(units))
        return after, gain, rows

    monkeypatch.setattr(matching, "match", spy)
    after, record = matching_pass(problem, start, 0, 10.0)
    assert len(seen) == record["tries"] > 20 and max(seen) > 4
    assert record["kept"] > 0 and record["gained"] > 0


def test_a_pass_never_lengthens_and_keeps_kinds(scrambled):
    problem, start = scrambled
    before = wirelength(problem, start)
    after, record = matching_pass(problem, start, 1, 10.0)
    problem.check(after)  # kinds, one unit a site
    assert wirelength(problem, after) == pytest.approx(before - record["gained"])
    assert wirelength(problem, after) < 0.8 * before  # 150 random swaps: most are undone
    again, second = matching_pass(problem, after, 2, 10.0)
    assert wirelength(problem, again) <= wirelength(problem, after)


def test_pinned_units_never_move():
    problem, bench = every_third_pinned("pins23", 200, seed=1)
    start = _scrambled(problem, bench.hidden_sites(problem), 60, 2)
    problem.check(start)
    after, record = matching_pass(problem, start, 0, 10.0)
    problem.check(after)  # pins kept
    assert record["kept"] > 0
    pinned = problem.fixed_site >= 0
    assert np.array_equal(after[pinned], start[pinned])


def test_a_pass_is_a_function_of_its_seed(scrambled):
    problem, start = scrambled
    a, ra = matching_pass(problem, start, 5, 10.0)
    b, rb = matching_pass(problem, start, 5, 10.0)
    assert np.array_equal(a, b) and ra == rb


def test_the_work_is_counted_and_the_budget_kept(scrambled, monkeypatch):
    problem, start = scrambled
    charged = []
    real = matching.set_seconds
    monkeypatch.setattr(matching, "set_seconds", lambda *args: charged.append(real(*args)) or charged[-1])
    _, full = matching_pass(problem, start, 0, 10.0)
    assert full["budget_estimate"] == pytest.approx(sum(charged), abs=1e-3) and full["budget_estimate"] > 0
    budget = full["budget_estimate"] / 4
    _, short = matching_pass(problem, start, 0, budget)
    assert short["budget_estimate"] <= budget + 5e-4 and short["tries"] < full["tries"]  # the record rounds to 1 ms
    assert set_seconds(100, 10, 20, 0) > set_seconds(10, 10, 20, 0) > set_seconds(0, 0, 0, 0) > 0
    assert set_seconds(10, 10, 20, 400) > set_seconds(10, 10, 20, 20)  # wide nets cost per pin


def test_the_charge_counts_wide_nets_by_their_pins(monkeypatch):
    """The pass passes each set's pins (the sum of its rows' net degrees) to `set_seconds`: on
    multipin (nets of 2-8 pins) a set has more pins than rows, and the charge grows with them."""
    bench = generate("multipin", "sn40l", 400, seed=3)
    problem = PlacementProblem.build("sn40l", bench.netlist)
    start = _scrambled(problem, bench.hidden_sites(problem), 150, 0)
    calls = []
    seen = []
    real_set, real_match = matching.set_seconds, matching.match
    monkeypatch.setattr(matching, "set_seconds", lambda *args: calls.append(args) or real_set(*args))
    monkeypatch.setattr(matching, "match", lambda p, s, units, slots: seen.append(units) or real_match(p, s, units, slots))
    matching_pass(problem, start, 0, 10.0, max_passes=1)
    assert len(calls) == len(seen) > 10
    for (rows, units, _, pins), chosen in zip(calls, seen):
        degrees = problem.net_degree[np.concatenate([problem.unit_nets[1][problem.unit_nets[0][u]:problem.unit_nets[0][u + 1]]
                                                     for u in chosen.tolist()])]
        assert units == len(chosen) and rows == len(degrees) and pins == int(degrees.sum())
    assert sum(c[3] for c in calls) > 2 * sum(c[0] for c in calls)


def _one_kind_set(problem: PlacementProblem, sites: np.ndarray, kind: int):
    """Three units of `kind` sharing no net, and the empty sites of that kind."""
    units = np.array(sorted(_greedy_independent(problem, np.flatnonzero(problem.unit_kind == kind))[:3]))
    occupied = np.zeros(problem.num_sites, dtype=bool)
    occupied[sites] = True
    mine = problem.sites_of_kind(kind)
    return units, mine[~occupied[mine]]


@pytest.mark.parametrize("flaw, message", [
    ("unsorted", "sorted slots without repeats"),
    ("repeated", "sorted slots without repeats"),
    ("own site missing", "own site among the slots"),
    ("occupied", "own sites empty"),
    ("wrong kind", "of one kind"),
])
def test_slots_that_break_the_rules_are_refused(flaw, message):
    """`match` checks its slots (sorted, unique, the units' own sites, the others empty and of the
    units' kind) and says which rule is broken: before, a missing own site in unsorted slots was a
    bare KeyError, and an occupied, wrong-kind or repeated slot gave an illegal placement."""
    bench = generate("pins23", "sn40l", 40, seed=2)
    problem = PlacementProblem.build("sn40l", bench.netlist)
    sites = bench.hidden_sites(problem)
    units, empty = _one_kind_set(problem, sites, 0)
    slots = np.sort(np.concatenate([sites[units], empty[:3]]))
    after, _, _ = match(problem, sites, units, slots)  # the well-formed slots are accepted
    problem.check(after)
    if flaw == "unsorted":
        slots = slots[::-1].copy()
    elif flaw == "repeated":
        slots = np.sort(np.append(slots, slots[0]))
    elif flaw == "own site missing":
        slots = np.sort(np.concatenate([sites[units[1:]], empty[:3]]))
    elif flaw == "occupied":
        other = np.setdiff1d(np.flatnonzero(problem.unit_kind == 0), units)[0]
        slots = np.sort(np.append(slots, sites[other]))
    else:
        _, wrong = _one_kind_set(problem, sites, 1)
        slots = np.sort(np.append(slots, wrong[0]))
    with pytest.raises(ValueError, match=message):
        match(problem, sites, units, slots)


def test_the_cost_matrix_prices_each_unit_exactly(scrambled):
    problem, start = scrambled
    unit = int(np.flatnonzero(problem.unit_kind == 0)[7])
    slots = problem.sites_of_kind(0)[:30]
    occupied = np.zeros(problem.num_sites, dtype=bool)
    occupied[start] = True
    slots = np.sort(np.append(slots[~occupied[slots]], start[unit]))
    cost, rows = cost_matrix(problem, start, np.array([unit]), slots)
    ptr, nets = problem.unit_nets
    assert rows == ptr[unit + 1] - ptr[unit]
    mine = nets[ptr[unit]:ptr[unit + 1]]
    for j, s in enumerate(slots.tolist()):
        trial = start.copy()
        trial[unit] = s
        from backend_rdu.placement.wirelength import net_hpwl
        assert cost[0, j] == pytest.approx(float(np.dot(problem.net_weight[mine], net_hpwl(problem, trial)[mine])))
