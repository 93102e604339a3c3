"""Min-cut bisection (`partition.bisect`): bounds per kind, cuts, terminals, determinism."""

from __future__ import annotations

import itertools

import numpy as np

from backend_rdu.placement.partition import Hypergraph, bisect


def hypergraph(kinds, nets, terminals=None, weights=None) -> Hypergraph:
    kinds = np.asarray(kinds)
    ptr = np.concatenate([[0], np.cumsum([len(n) for n in nets])])
    pins = np.array([v for n in nets for v in n], dtype=np.int64)
    term = np.zeros((len(nets), 2), dtype=np.int64) if terminals is None else np.asarray(terminals, dtype=np.int64)
    w = np.ones(len(nets)) if weights is None else np.asarray(weights, dtype=np.float64)
    return Hypergraph(np.eye(3, dtype=np.int64)[kinds], ptr, pins, w, term)


def two_rings(size: int, bridges: int) -> Hypergraph:
    """Two rings of alternating PCU/PMU joined by `bridges` 2-pin nets: the best balanced cut
    separates the rings and cuts exactly the bridges."""
    nets = []
    for base in (0, size):
        nets += [(base + i, base + (i + 1) % size) for i in range(size)]
        nets += [(base + i, base + (i + 3) % size, base + (i + 5) % size) for i in range(0, size, 4)]
    nets += [(i, size + i) for i in range(0, bridges * 7, 7)]
    return hypergraph([i % 2 for i in range(2 * size)], nets)


def side_counts(graph, side):
    return (graph.weight * (side == 0)[:, None]).sum(axis=0)


def test_multilevel_bisection_finds_the_bridge_cut():
    # FM is a local search: a run may keep a short stretch of one ring on the wrong side (cut 5)
    graph = two_rings(200, 3)
    low, high = np.array([95, 95, 0]), np.array([105, 105, 0])
    cuts = []
    for seed in range(5):
        side = bisect(graph, low, high, np.random.default_rng(seed))
        counts = side_counts(graph, side)
        assert np.all(counts >= low) and np.all(counts <= high)
        cuts.append(graph.cut(side))
    assert min(cuts) == 3.0 and sorted(cuts)[3] == 3.0 and max(cuts) <= 6.0


def test_bounds_per_kind_hold_even_when_they_cost_cut():
    graph = two_rings(60, 2)
    low = high = np.array([20, 40, 0])  # side 0 must take 20 PCUs and 40 PMUs: not a ring
    side = bisect(graph, low, high, np.random.default_rng(1))
    assert side_counts(graph, side).tolist() == [20, 40, 0]


def test_small_graphs_are_bisected_exactly():
    rng = np.random.default_rng(4)
    kinds = rng.integers(0, 2, size=9)
    nets = [tuple(rng.choice(9, size=int(rng.integers(2, 4)), replace=False)) for _ in range(14)]
    terminals = rng.integers(0, 2, size=(14, 2)) * (rng.random((14, 1)) < 0.3)
    graph = hypergraph(kinds, nets, terminals, rng.integers(1, 4, size=14))
    count = np.bincount(kinds, minlength=3)
    low, high = count // 2 - 1, count // 2 + 1
    side = bisect(graph, low, high, rng)
    best = min(
        graph.cut(np.array(bits, dtype=np.int8))
        for bits in itertools.product((0, 1), repeat=9)
        if np.all((c := side_counts(graph, np.array(bits))) >= low) and np.all(c <= high)
    )
    assert graph.cut(side) == best


def test_terminals_pull_units_to_their_side():
    # a chain 0-1-2-3; net 0 has a terminal on side 1, net 2 one on side 0: the chain turns over
    graph = hypergraph([0, 1, 0, 1], [(0,), (0, 1), (1, 2), (2, 3), (3,)], [[0, 1], [0, 0], [0, 0], [0, 0], [1, 0]])
    side = bisect(graph, np.array([1, 1, 0]), np.array([1, 1, 0]), np.random.default_rng(0))
    assert side.tolist() == [1, 1, 0, 0]
    assert graph.cut(side) == 1.0


def test_bisection_is_a_function_of_the_seed():
    graph = two_rings(150, 6)
    low, high = np.array([70, 70, 0]), np.array([80, 80, 0])
    first, again = (bisect(graph, low, high, np.random.default_rng(9)) for _ in range(2))
    assert np.array_equal(first, again)
