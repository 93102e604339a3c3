"""Netlist-shaped CP-SAT windows (`cluster_windows`, wave 14's diagnosis): a window over a set of
sites finds a known improvement, never gets longer, keeps kinds, leaves pinned units, and a pass
over pieces grown from the netlist is deterministic."""

from __future__ import annotations

import numpy as np

from backend_rdu.placement import Netlist, PlacementProblem, wirelength
from backend_rdu.placement.cluster_windows import (SiteWindow, SiteWindowRefiner, grow_piece, piece_pass, ring_sites,
                                                   unit_adjacency)
from backend_rdu.placement.generators import generate
from backend_rdu.placement.heavy_components import heavy_components, heavy_nets
from backend_rdu.placement.netlist import Net, Unit


def _chain(m_net=("m", "b"), chain_weight=3):
    """Four PCUs joined in a chain a-b-c-d by weight-3 nets (or `chain_weight`), laid out of order
    on row 1 of the sn40l grid (PCU sites at odd x there), a PMU joined to b, and a PCU pinned at
    (9, 1), both by weight-1 nets."""
    units = (Unit("a", "pcu"), Unit("b", "pcu"), Unit("c", "pcu"), Unit("d", "pcu"), Unit("m", "pmu"),
             Unit("pin", "pcu", fixed=(9, 1)))
    w = chain_weight
    nets = (Net(("a", "b"), w), Net(("b", "c"), w), Net(("c", "d"), w), Net(m_net, 1), Net(("d", "pin"), 1))
    problem = PlacementProblem.build("sn40l", Netlist(units, nets))
    at = {"a": (1, 1), "c": (3, 1), "b": (5, 1), "d": (7, 1), "m": (2, 1), "pin": (9, 1)}
    start = np.array([problem.site_at[at[name]] for name in problem.unit_names], dtype=np.int64)
    problem.check(start)
    return problem, start


def test_a_window_over_the_chains_sites_puts_it_in_order():
    problem, start = _chain()
    before = wirelength(problem, start)  # a-b 4, b-c 2, c-d 4 (x3), m-b 3, d-pin 2
    assert before == 35
    refiner = SiteWindowRefiner(problem, start, seed=0, window_dtime=5.0)
    names = problem.unit_names
    chain = [names.index(u) for u in "abcd"]
    outcome = refiner.solve(SiteWindow(tuple(int(s) for s in start[chain])))
    after = refiner.site_of_unit
    problem.check(after)
    # in order on those four sites: 3 x (2 + 2 + 2) = 18, m-b and d-pin then cost what they can
    assert outcome.improved and outcome.optimal
    assert wirelength(problem, after) < before
    assert sorted(after[chain].tolist()) == sorted(start[chain].tolist())  # only the window's sites
    xs = problem.site_x[after[chain]]
    assert list(xs) == sorted(xs) or list(xs) == sorted(xs, reverse=True)


def test_kinds_kept_and_pinned_units_stay_when_the_window_covers_them():
    problem, start = _chain()
    everything = ring_sites(problem, start, 2)  # every unit's site and a ring: PMU sites too, and the pin's
    refiner = SiteWindowRefiner(problem, start, seed=0, window_dtime=5.0)
    refiner.solve(SiteWindow(tuple(everything.tolist())))
    after = refiner.site_of_unit
    problem.check(after)  # kinds and pins
    pin = problem.unit_names.index("pin")
    assert after[pin] == start[pin]
    assert np.array_equal(problem.site_kind[after], problem.site_kind[start])
    assert wirelength(problem, after) < wirelength(problem, start)


def test_rings_and_pieces():
    problem, start = _chain()
    a = problem.unit_names.index("a")
    assert ring_sites(problem, start[[a]], 0).tolist() == [int(start[a])]
    ring = ring_sites(problem, start[[a]], 1)
    assert {(int(problem.site_x[s]), int(problem.site_y[s])) for s in ring} == {(0, 1), (1, 0), (1, 2), (2, 1), (1, 1)}
    adjacency = unit_adjacency(problem)  # heavy nets only: the chain
    piece = grow_piece(adjacency, a, 10)
    assert sorted(problem.unit_names[u] for u in piece) == ["a", "b", "c", "d"]
    assert [problem.unit_names[u] for u in grow_piece(adjacency, a, 2)] == ["a", "b"]
    every = grow_piece(unit_adjacency(problem, heavy_only=False), a, 10)
    assert len(every) == problem.num_units


def test_the_piece_pass_never_lengthens_and_is_deterministic():
    bench = generate("clustered", "sn40l", 200, seed=3)
    problem = PlacementProblem.build("sn40l", bench.netlist)
    rng = np.random.default_rng(0)
    start = bench.hidden_sites(problem)
    for _ in range(60):  # swap units of one kind: a legal placement off the optimum
        u, v = rng.integers(problem.num_units, size=2)
        if problem.unit_kind[u] == problem.unit_kind[v]:
            start[[u, v]] = start[[v, u]]
    problem.check(start)
    runs = [piece_pass(problem, start, seed=1, size=12, radius=1, count=6, window_dtime=0.3) for _ in range(2)]
    (first, record), (second, again) = runs
    problem.check(first)
    assert np.array_equal(first, second) and record == again
    assert record["wirelength"] == wirelength(problem, first) <= wirelength(problem, start)
    assert record["gain"] == wirelength(problem, start) - wirelength(problem, first)
    assert record["windows"] == 6


def test_distinct_pieces_do_not_overlap_and_a_large_size_takes_whole_components():
    problem, start = _chain(m_net=("m", "a", "c"))
    m = problem.unit_names.index("m")
    start[m] = problem.site_at[2, 5]  # far from b: its net keeps excess no window over the chain's sites removes
    problem.check(start)
    _, record = piece_pass(problem, start, seed=0, size=10**6, radius=0, count=5, window_dtime=1.0, distinct=True)
    # the chain is one heavy component: one window for it (whichever of its units seeds it), one for m alone
    assert sorted(w["units"] for w in record["per_window"]) == [1, 4]
    _, again = piece_pass(problem, start, seed=0, size=10**6, radius=0, count=5, window_dtime=1.0)
    # without `distinct`, the chain's other units on m's net seed the chain's window again
    assert sum(w["units"] == 4 for w in again["per_window"]) >= 2


def test_a_piece_grown_past_any_size_is_its_heavy_component():
    """`unit_adjacency` and `heavy_components` share one meaning of heavy (`heavy_nets`), so the
    whole heavy component `piece_pass` promises for a large size is `heavy_components`' own."""
    bench = generate("clustered", "sn40l", 200, seed=3)
    problem = PlacementProblem.build("sn40l", bench.netlist)
    component = heavy_components(problem)
    adjacency = unit_adjacency(problem)
    sizes = np.bincount(component)
    assert sizes.max() > 1
    for u in [0, int(np.argmax(component == np.argmax(sizes))), problem.num_units - 1]:
        piece = grow_piece(adjacency, u, 10**6)
        assert set(piece.tolist()) == set(np.flatnonzero(component == component[u]).tolist())


def test_with_equal_weights_no_net_is_heavy_in_either_module():
    """Equal weights say nothing about what is inside a cluster: no net is heavy, so every unit is
    its own component and its own piece (before wave 14's mend, `unit_adjacency` counted every net
    there while `heavy_components` counted none); every net still counts when asked for."""
    problem, start = _chain(chain_weight=1)
    assert problem.num_nets and not heavy_nets(problem).any()
    assert len(np.unique(heavy_components(problem))) == problem.num_units
    adjacency = unit_adjacency(problem)
    assert not any(adjacency)
    a = problem.unit_names.index("a")
    assert grow_piece(adjacency, a, 10).tolist() == [a]
    _, record = piece_pass(problem, start, seed=0, size=10**6, radius=0, count=3, window_dtime=1.0)
    assert record["windows"] == 3 and all(w["units"] == 1 for w in record["per_window"])
    assert len(grow_piece(unit_adjacency(problem, heavy_only=False), a, 10)) == problem.num_units
