"""The multilevel global start: matching pairs connected units only, contraction keeps the nets
between clusters (summed), levels shrink onto tile grids with room for their clusters, and the
start is legal, keeps pins, is a pure function of the seed and beats a random placement; as a
candidate start it is not built when its coarsening stalls."""

from __future__ import annotations

import math

import numpy as np

from backend_rdu.placement import Netlist, PlacementProblem, place, wirelength
from backend_rdu.placement.annealing import random_placement
from backend_rdu.placement.generators import generate
from backend_rdu.placement import multilevel
import backend_rdu.placement.placer as placer_module
from backend_rdu.placement.multilevel import (
    COARSEST_CLUSTERS,
    STALLED_CLUSTERS,
    coarsen_levels,
    contract,
    match_clusters,
    multilevel_start,
)


def _csr(nets):
    ptr = np.concatenate([[0], np.cumsum([len(n) for n in nets])]).astype(np.int64)
    return ptr, np.concatenate([np.array(n) for n in nets]).astype(np.int64)


def test_matching_pairs_only_units_that_share_a_net_and_never_an_immovable_one():
    # 0-1 heavy, 1-2 light, 3 immovable (on a net with 2), 4 on no net
    ptr, pins = _csr([[0, 1], [1, 2], [2, 3]])
    weight = np.array([5.0, 1.0, 9.0])
    movable = np.array([True, True, True, False, True])
    nets = [{0, 1}, {1, 2}, {2, 3}]
    pairs_seen = set()
    for seed in range(8):  # visiting orders
        cluster_of = match_clusters(5, ptr, pins, weight, np.ones(5, dtype=np.int64), movable, np.random.default_rng(seed))
        members = [set(np.flatnonzero(cluster_of == c).tolist()) for c in range(cluster_of.max() + 1)]
        assert sorted(set(cluster_of.tolist())) == list(range(len(members)))
        assert {3} in members and {4} in members  # immovable, and on no net
        pairs = [m for m in members if len(m) == 2]
        assert len(pairs) == 1 and pairs[0] in nets
        pairs_seen.add(frozenset(pairs[0]))
    assert pairs_seen == {frozenset({0, 1}), frozenset({1, 2})}  # 0 first takes 1; 2 first takes 1 too


def test_contraction_drops_nets_inside_a_cluster_and_merges_equal_ones():
    ptr, pins = _csr([[0, 1], [0, 2], [1, 3], [2, 3, 1]])
    cluster_of = np.array([0, 0, 1, 1])
    new_ptr, new_pins, new_weight = contract(ptr, pins, np.array([1.0, 2.0, 3.0, 4.0]), cluster_of)
    # net 0 and ... inside cluster 0: gone; nets 1, 2 and 3 all join clusters 0 and 1: one net of weight 9
    assert new_ptr.tolist() == [0, 2] and new_pins.tolist() == [0, 1] and new_weight.tolist() == [9.0]


def test_levels_shrink_onto_tile_grids_with_room_for_every_cluster():
    problem = PlacementProblem.build("sn40l", generate("multipin", "sn40l", 600, seed=3).netlist)
    levels = coarsen_levels(problem, seed=0)
    sizes = [lv.problem.num_units for lv in levels]
    assert sizes[0] < 600 and all(a > b for a, b in zip(sizes, sizes[1:]))
    assert sizes[-1] <= 2 * COARSEST_CLUSTERS
    below = 600
    for lv in levels:
        assert lv.problem.num_sites > lv.problem.num_units  # room to move
        assert len(lv.cluster_of) == below and lv.cluster_of.max() + 1 == lv.problem.num_units
        below = lv.problem.num_units


def test_the_start_is_legal_keeps_pins_is_deterministic_and_beats_random():
    data = generate("pins23", "sn40l", 400, seed=2).netlist.to_json()
    data["units"][0]["fixed"] = [20, 25] if _kind_at(20, 25) == data["units"][0]["kind"] else [21, 25]
    problem = PlacementProblem.build("sn40l", Netlist.from_json(data))
    first, spent, stats = multilevel_start(problem, seed=4, seconds=0.5)
    again, _, _ = multilevel_start(problem, seed=4, seconds=0.5)
    problem.check(first)
    assert np.array_equal(first, again)
    assert 0 < spent <= 0.5 and stats and all(s["moves"] > 0 for s in stats)
    assert wirelength(problem, first) < 0.5 * wirelength(problem, random_placement(problem, 4))


def test_the_placer_runs_from_the_multilevel_start_and_says_so():
    problem = PlacementProblem.build("sn40l", generate("clustered", "sn40l", 300, seed=1).netlist)
    result = place(problem, seconds=1.0, seed=3, global_start="multilevel")
    problem.check(result.site_of_unit)
    assert result.stats["phases"][0]["start"] == "multilevel"
    assert result.stats["multilevel"] and result.wirelength >= result.lower_bound
    again = place(problem, seconds=1.0, seed=3, global_start="multilevel")
    assert again.wirelength == result.wirelength


def test_a_netlist_too_small_to_coarsen_falls_back_to_the_default_start():
    problem = PlacementProblem.build("sn40l", generate("pins23", "sn40l", 40, seed=1).netlist)
    assert coarsen_levels(problem, seed=0) == []
    assert multilevel_start(problem, seed=0, seconds=0.5) == (None, 0.0, [])
    result = place(problem, seconds=0.3, seed=0, global_start="multilevel")
    assert result.stats["phases"][0]["start"] in ("growth", "layout") and "multilevel" not in result.stats


def test_a_candidate_v_whose_coarsening_stalls_is_not_built():
    # planted blobs with heavy nets inside and light ones across: matching stops at ~200 clusters,
    # far above the few dozen where the V decides global structure
    stalled = PlacementProblem.build("sn40l", generate("clustered", "sn40l", 2000, seed=5).netlist)
    assert coarsen_levels(stalled, seed=5)[-1].problem.num_units > STALLED_CLUSTERS
    start, spent, stats = multilevel_start(stalled, seed=5, seconds=0.2, require_coarse=True)
    assert start is None and spent == 0.0 and stats[0]["skipped"].startswith("coarsening stalled at ")
    forced, spent, _ = multilevel_start(stalled, seed=5, seconds=0.2)  # forced, it is built all the same
    stalled.check(forced)
    assert spent > 0
    # a netlist that contracts to a few dozen clusters gets the same V either way
    coarse = PlacementProblem.build("sn40l", generate("mixed", "sn40l", 600, seed=3).netlist)
    assert coarsen_levels(coarse, seed=1)[-1].problem.num_units <= STALLED_CLUSTERS
    a, _, _ = multilevel_start(coarse, seed=1, seconds=0.2, require_coarse=True)
    b, _, _ = multilevel_start(coarse, seed=1, seconds=0.2)
    assert np.array_equal(a, b)


def test_the_start_choice_without_a_v_is_the_default_start_run(monkeypatch):
    problem = PlacementProblem.build("sn40l", generate("pins23", "sn40l", 1000, seed=4).netlist)
    monkeypatch.setattr(multilevel, "STALLED_CLUSTERS", 1)  # every coarsening counts as stalled
    monkeypatch.setattr(placer_module, "SKIP_STALLED_V", True)
    best = place(problem, seconds=0.5, seed=2, wall_limit=math.inf, global_start="best")
    default = place(problem, seconds=0.5, seed=2, wall_limit=math.inf, global_start="default")
    assert best.stats["multilevel"][0]["skipped"] and "start choice" not in [p["phase"] for p in best.stats["phases"]]
    assert np.array_equal(best.site_of_unit, default.site_of_unit)  # the whole budget went to the default start


def _kind_at(x: int, y: int) -> str:
    from chip_model import load_chip

    return next(s.kind for s in load_chip("sn40l").grid.sites if (s.x, s.y) == (x, y))
