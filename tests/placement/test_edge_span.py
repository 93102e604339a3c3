"""The edge-span start: a kernel with more AGCUs than one chip edge holds starts stretched between
the two AGCU edges, its AGCUs split between them (docs/placement.md, "A start between the AGCU
edges")."""

from __future__ import annotations

import numpy as np

from backend_rdu.placement import Net, Netlist, PlacementProblem, Unit, wirelength
from backend_rdu.placement.edge_span import edge_span_start, needs_both_edges
from backend_rdu.placement.embedding import embed
from backend_rdu.placement.problem import KIND_INDEX


def pipeline(agcus: int, stages: int = 40) -> Netlist:
    """A chain of PCU/PMU stages, an AGCU feeding every stage in its first or last few: loads
    enter at the start of the chain, stores leave at its end, as in a compiled kernel."""
    units = [Unit(f"s{i}", "pcu" if i % 2 else "pmu") for i in range(stages)]
    units += [Unit(f"a{j}", "agcu") for j in range(agcus)]
    nets = [Net((f"s{i}", f"s{i + 1}")) for i in range(stages - 1)]
    half = (agcus + 1) // 2
    nets += [Net((f"a{j}", f"s{j}")) for j in range(half)]
    nets += [Net((f"a{half + j}", f"s{stages - 1 - j}")) for j in range(agcus - half)]
    return Netlist(tuple(units), tuple(nets))


def test_a_kernel_needs_both_edges_only_beyond_one_edges_agcus():
    assert needs_both_edges(PlacementProblem.build("sn40l", pipeline(17)))
    assert not needs_both_edges(PlacementProblem.build("sn40l", pipeline(13)))
    # the small chip's AGCUs: whatever their layout, a kernel with one AGCU never needs two edges
    assert not needs_both_edges(PlacementProblem.build("small", pipeline(1, stages=6)))


def test_a_kernel_filling_most_of_the_chip_is_left_to_the_default_start():
    # more than half of sn40l's PCU and PMU sites: it reaches both edges from any start
    assert not needs_both_edges(PlacementProblem.build("sn40l", pipeline(17, stages=1200)))


def test_the_start_splits_the_agcus_and_spans_the_chip():
    problem = PlacementProblem.build("sn40l", pipeline(17))
    sites = edge_span_start(problem, embed(problem, 0).coords)
    problem.check(sites)
    agcu = problem.unit_kind == KIND_INDEX["agcu"]
    xs = problem.site_x[sites]
    left, right = int(np.count_nonzero(xs[agcu] == 0)), int(np.count_nonzero(xs[agcu] == 41))
    assert left + right == 17 and max(left, right) <= 13 and min(left, right) >= 4
    # the chain runs from one edge to the other, in order: its two ends sit at opposite edges
    chain = xs[~agcu]
    assert abs(int(chain[0]) - int(chain[-1])) >= 30
    # loads and stores next to their stages: each AGCU net is far shorter than the chip's width
    assert wirelength(problem, sites) < 3 * 41 + 39 * 6


def test_the_start_is_deterministic():
    problem = PlacementProblem.build("sn40l", pipeline(17))
    coords = embed(problem, 0).coords
    assert np.array_equal(edge_span_start(problem, coords), edge_span_start(problem, coords))


def test_pinned_agcus_leave_their_sites_to_no_one_else():
    base = pipeline(25)
    # ten of the left edge's 13 AGCU sites taken by pins: the free AGCUs must mostly go right
    pins = {f"a{j}": (0, 1 + 4 * j) for j in range(10)} | {"a24": (41, 25)}
    units = tuple(type(u)(u.name, u.kind, pins.get(u.name)) for u in base.units)
    problem = PlacementProblem.build("sn40l", Netlist(units, base.nets))
    assert needs_both_edges(problem)
    sites = edge_span_start(problem, embed(problem, 0).coords)
    problem.check(sites)
    for name, (x, y) in pins.items():
        s = sites[problem.unit_names.index(name)]
        assert (problem.site_x[s], problem.site_y[s]) == (x, y)
