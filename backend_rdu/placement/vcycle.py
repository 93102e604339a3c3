"""A V-cycle on a placement: re-cluster the annealed placement, move whole regions, refine back.

Why (docs/placement.md, wave 12): at 2,000 units the placer's 30 s result is globally right on
mixed, multipin and geometric (one orientation, median local misfit 0.3-0.9 sites), yet 5-9%
above the optimum. Measured against the generators' hidden placement, its displacement field is a
mosaic of domains of hundreds of units, each offset from the optimum by a different lattice step
(geometric, seed 552299542: 931 units at (0,0), 439 at (1,1), 274 at (0,2), 90 at (2,0)), joined
by dislocations. Removing the smoothed field (an oracle) and annealing 8 s reaches 1.005-1.017;
annealing the result as it is for the same work stays at 1.045-1.07. One unit's move cannot glide a
domain; a cluster's can.

The V-cycle (as in multilevel FPGA placement, mPL): clusters are formed by heavy-edge matching
restricted to units that are connected *and* near each other in the current placement, so every
cluster is a compact piece of the placement; each level is a one-kind problem of tiles
(`multilevel._level_problem`) started from its clusters' current centroids, annealed cool, and
each cluster's *displacement* (its tile's centre after the run minus before it) is handed to its
children, down to the units, which keep their arrangement inside the cluster. A cluster that did
not move leaves its units exactly where they were; the legaliser (`legalize`) only settles the
units of clusters that moved. The placer's annealer then refines the seams.

Budgets are counted in moves of the coarse problems (`move_seconds`), so the cycle is
deterministic and its work is charged to the caller's budget.
"""

from __future__ import annotations

import numpy as np

from backend_rdu.placement.annealing import AnnealSchedule
from backend_rdu.placement.legalize import legalize
from backend_rdu.placement.multilevel import _level_problem, contract
from backend_rdu.placement.problem import PlacementProblem
from backend_rdu.placement.sequential_annealing import SequentialAnnealer, move_seconds

COARSEST = 100  # stop re-clustering at this many clusters ...
MIN_SHRINK = 0.9  # ... or when a round keeps more than this share of the clusters
NEAR = 1.5  # a pair may merge when its centroids are at most NEAR x (sqrt(size u) + sqrt(size v)) apart
WIDE_NET = 16  # nets wider than this do not vote in the matching
HEAT = 0.05  # each level's run starts at this share of the spread of random moves' deltas on it


def restricted_match(xy: np.ndarray, size: np.ndarray, net_ptr: np.ndarray, net_pins: np.ndarray,
                     net_weight: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One round of heavy-edge matching among clusters connected by a net *and* near each other
    (centroids `xy` within NEAR x (sqrt(size u) + sqrt(size v)), Manhattan): `cluster_of[i]`."""
    n = len(size)
    degree = np.diff(net_ptr)
    pin_net = np.repeat(np.arange(len(degree)), degree)
    order = np.argsort(net_pins, kind="stable")
    unit_ptr = np.concatenate([[0], np.cumsum(np.bincount(net_pins, minlength=n))])
    unit_nets = pin_net[order]
    share = net_weight / np.maximum(degree - 1, 1)
    root = np.sqrt(size)
    mate = np.full(n, -1, dtype=np.int64)
    for u in rng.permutation(n).tolist():
        if mate[u] >= 0:
            continue
        score: dict[int, float] = {}
        for j in range(unit_ptr[u], unit_ptr[u + 1]):
            net = unit_nets[j]
            if degree[net] > WIDE_NET:
                continue
            for q in range(net_ptr[net], net_ptr[net + 1]):
                v = int(net_pins[q])
                if v != u and mate[v] < 0:
                    score[v] = score.get(v, 0.0) + share[net]
        near = [v for v in score if abs(xy[u, 0] - xy[v, 0]) + abs(xy[u, 1] - xy[v, 1]) <= NEAR * (root[u] + root[v])]
        if near:
            best = max(near, key=lambda v: (score[v] / (size[u] + size[v]), -v))
            mate[u], mate[best] = best, u
    cluster_of = np.full(n, -1, dtype=np.int64)
    count = 0
    for u in range(n):
        if cluster_of[u] < 0:
            cluster_of[u] = count
            if mate[u] >= 0:
                cluster_of[mate[u]] = count
            count += 1
    return cluster_of


def vcycle(problem: PlacementProblem, site_of_unit: np.ndarray, seed: int, seconds: float,
           heat: float = HEAT) -> tuple[np.ndarray, float, list[dict]]:
    """One V-cycle from `site_of_unit`: (legal placement, work spent in budget seconds, per-level
    records coarsest first). `seconds` of annealing work is shared among the levels in proportion
    to their clusters. A netlist that does not coarsen comes back unchanged."""
    p = problem
    rng = np.random.default_rng(seed)
    free = np.flatnonzero(p.fixed_site < 0)
    if len(free) < 4 or p.num_nets == 0:
        return site_of_unit, 0.0, []
    index = np.full(p.num_units, -1, dtype=np.int64)
    index[free] = np.arange(len(free))
    keep = index[p.net_pins] >= 0
    counts = np.add.reduceat(keep.astype(np.int64), p.net_ptr[:-1])
    net_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    net_ptr, net_pins, net_weight = contract(net_ptr, index[p.net_pins[keep]], p.net_weight, np.arange(len(free)))
    unit_xy = np.stack([p.site_x[site_of_unit[free]], p.site_y[site_of_unit[free]]], axis=1).astype(np.float64)
    kinds = np.unique(p.unit_kind[free])
    region = np.isin(p.site_kind, kinds)
    x0, x1 = p.site_x[region].min() - 0.5, p.site_x[region].max() + 0.5
    y0, y1 = p.site_y[region].min() - 0.5, p.site_y[region].max() + 0.5
    area = (float(x0), float(y0), float(x1 - x0), float(y1 - y0))
    # coarsen: (cluster_of into the level below, the level's centroids, problem, origin, tile)
    levels = []
    size = np.ones(len(free), dtype=np.int64)
    xy = unit_xy
    while len(size) > COARSEST:
        cluster_of = restricted_match(xy, size, net_ptr, net_pins, net_weight, rng)
        clusters = int(cluster_of.max()) + 1
        if clusters > MIN_SHRINK * len(size):
            break
        weight = np.bincount(cluster_of, weights=size, minlength=clusters)
        xy = np.stack([np.bincount(cluster_of, weights=xy[:, a] * size, minlength=clusters) / weight for a in (0, 1)], axis=1)
        size = weight.astype(np.int64)
        net_ptr, net_pins, net_weight = contract(net_ptr, net_pins, net_weight, cluster_of)
        lp, origin, tile = _level_problem(p, clusters, net_ptr, net_pins, net_weight, area)
        levels.append((cluster_of, xy, lp, np.array(origin), np.array(tile)))
    if not levels:
        return site_of_unit, 0.0, []
    per_cluster = seconds / sum(lv[2].num_units for lv in levels)
    spent = 0.0
    stats: list[dict] = []
    shift = np.zeros((levels[-1][2].num_units, 2))  # displacement of each cluster of the level being placed
    for depth in range(len(levels) - 1, -1, -1):
        cluster_of, centroid, lp, origin, tile = levels[depth]
        target = centroid + shift  # where the parent level moved this level's clusters
        start = legalize(lp, (target - origin) / tile - 0.5)
        before = origin + (np.stack([lp.site_x[start], lp.site_y[start]], axis=1) + 0.5) * tile
        annealer = SequentialAnnealer(lp, start, np.random.default_rng(seed + 17 * depth))
        hot = heat * annealer.initial_temperature()
        weight = float(np.median(lp.net_weight))
        per_move = move_seconds(lp)
        moves = int(per_cluster * lp.num_units / per_move)
        sites = annealer.run(AnnealSchedule(t_start=max(hot, 0.03 * weight), t_end=0.02 * weight, moves=moves)).copy()
        spent += annealer.stats.moves * per_move
        after = origin + (np.stack([lp.site_x[sites], lp.site_y[sites]], axis=1) + 0.5) * tile
        moved = after - before
        stats.append({"clusters": lp.num_units, "moves": annealer.stats.moves,
                      "moved": int(np.count_nonzero(np.abs(moved).sum(axis=1) > 0))})
        # the children inherit the cluster's own move plus its parents' (the legalised start's offset is not a move)
        shift = (shift + moved)[cluster_of]
    coords = np.full((p.num_units, 2), np.nan)
    coords[free] = unit_xy + shift
    placed = p.fixed_site.copy()
    still = np.abs(shift).sum(axis=1) < 0.5  # units whose clusters did not move keep their sites
    placed[free[still]] = site_of_unit[free[still]]
    return legalize(p, coords, placed), spent, stats
