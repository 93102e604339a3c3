"""Multilevel global start: coarsen the netlist, place the coarsest one, refine level by level.

Why: at 2,000 units on a nearly full chip, annealing from the pivot-MDS/growth start cannot fix
global structure within its budget (regions grown apart meet in seams, islands of units sit far
from their nets): one move shifts one unit, and rearranging a region takes thousands of moves that
each look bad on their own. A multilevel placer (as mPL, Capo and the multilevel annealers of FPGA
placement) anneals clusters of units as one object first: at the coarsest level a few dozen
clusters are placed almost exactly; each finer level then starts from its parent's placement and
only refines it locally, so the global structure is decided where it is cheap to decide.

1. Coarsen (`coarsen_levels`): heavy-edge matching on the nets, a unit with the free neighbour it
   shares the most connection with (a net of d pins contributes w/(d-1) to each of its pairs,
   divided by the merged cluster's size so clusters stay even), until few clusters remain or
   matching stalls. Pinned units take no part (the fine level keeps them on their pins).
2. Each level is a `PlacementProblem` of its own: its clusters are units of one kind on a grid of
   square tiles covering the chip's sites, one cluster per tile, as many tiles as clusters (plus
   `TILE_SLACK`); its nets are the fine nets mapped to clusters (nets inside one cluster dropped,
   duplicates merged with their weights summed). The compiled annealer works on it unchanged.
3. Place the coarsest levels (at most CANDIDATE_CLUSTERS clusters) CANDIDATES times from random
   placements by hot annealing runs and keep the shortest (one run may turn the layout by 90
   degrees, which no finer level undoes); project every level's
   placement to the next finer one (each child at its parent's tile centre, in chip coordinates,
   plus a small seeded jitter; `legalize` spreads them onto that level's tiles) and anneal it from
   a cooler start; the finest cluster level projects onto the chip's own sites, by kind, with the
   same legaliser. The placer then anneals and runs CP-SAT windows on the result as on any start.

The coarse levels do not model unit kinds or exact site counts: they only decide where regions go.
Budgets are counted in moves (the coarse problems' own `move_seconds`), so the start is
deterministic and its cost is charged to the placer's budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend_rdu.placement.annealing import AnnealSchedule, random_placement
from backend_rdu.placement.legalize import legalize
from backend_rdu.placement.problem import PlacementProblem
from backend_rdu.placement.sequential_annealing import SequentialAnnealer, move_seconds
from backend_rdu.placement.wirelength import net_hpwl

COARSEST_CLUSTERS = 48  # stop coarsening at this many clusters ...
MIN_SHRINK = 0.9  # ... or when a round of matching keeps more than this share of the clusters
TILE_SLACK = 1.04  # tiles per cluster at a coarse level: a little room so annealing can move
REFINE_HEAT = 0.15  # a finer level starts at this share of its own hot temperature
JITTER = 0.25  # of a tile, the spread of children around their parent's tile centre
CANDIDATES = 4  # independent placements of the coarse levels ...
CANDIDATE_CLUSTERS = 200  # ... of at most this many clusters; the shortest goes on
STALLED_CLUSTERS = 3 * COARSEST_CLUSTERS  # a coarsening that stops above this did not contract the netlist:
# when the V is only a candidate (`require_coarse`), it is not built (2,000 units: `clustered` stalls at 180-212
# clusters and its V never won the choice, costing its long run 18% of the budget, 2-3%; pins23 ends at 71-92,
# multipin 57-74, mixed 38-71, geometric 34-42)


@dataclass
class Level:
    """One coarse level: `cluster_of[u]` for the units of the level below (the fine units for the
    first level), its own problem, tile size in chip units and its placement once placed."""

    cluster_of: np.ndarray
    problem: PlacementProblem
    origin: tuple[float, float]
    tile: tuple[float, float]
    site_of_cluster: np.ndarray | None = None

    def centres(self) -> np.ndarray:
        """Chip coordinates of every cluster's tile centre."""
        p, s = self.problem, self.site_of_cluster
        return np.stack([self.origin[0] + (p.site_x[s] + 0.5) * self.tile[0],
                         self.origin[1] + (p.site_y[s] + 0.5) * self.tile[1]], axis=1)

    def tile_coords(self, chip_xy: np.ndarray) -> np.ndarray:
        """Chip coordinates to this level's tile grid coordinates."""
        return np.stack([(chip_xy[:, 0] - self.origin[0]) / self.tile[0] - 0.5,
                         (chip_xy[:, 1] - self.origin[1]) / self.tile[1] - 0.5], axis=1)


def match_clusters(num_units: int, net_ptr: np.ndarray, net_pins: np.ndarray, net_weight: np.ndarray,
                   size: np.ndarray, movable: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One round of heavy-edge matching: `cluster_of[u]`, every cluster one unit or a matched pair.
    Units are visited in random order; an unmatched unit takes the unmatched movable neighbour
    with the largest sum of w/(d-1) over shared nets of d pins, divided by the pair's size."""
    degree = np.diff(net_ptr)
    pin_net = np.repeat(np.arange(len(degree)), degree)
    by_unit = np.argsort(net_pins, kind="stable")
    unit_ptr = np.concatenate([[0], np.cumsum(np.bincount(net_pins, minlength=num_units))])
    unit_nets = pin_net[by_unit]
    share = net_weight / np.maximum(degree - 1, 1)
    mate = np.full(num_units, -1, dtype=np.int64)
    for u in rng.permutation(num_units).tolist():
        if mate[u] >= 0 or not movable[u]:
            continue
        score: dict[int, float] = {}
        for j in range(unit_ptr[u], unit_ptr[u + 1]):
            n = unit_nets[j]
            if degree[n] > 16:
                continue  # wide nets say little about which pair belongs together
            for q in range(net_ptr[n], net_ptr[n + 1]):
                v = int(net_pins[q])
                if v != u and mate[v] < 0 and movable[v]:
                    score[v] = score.get(v, 0.0) + share[n]
        if score:
            best = max(score, key=lambda v: (score[v] / (size[u] + size[v]), -v))
            mate[u], mate[best] = best, u
    cluster_of = np.full(num_units, -1, dtype=np.int64)
    count = 0
    for u in range(num_units):
        if cluster_of[u] < 0:
            cluster_of[u] = count
            if mate[u] >= 0:
                cluster_of[mate[u]] = count
            count += 1
    return cluster_of


def contract(net_ptr: np.ndarray, net_pins: np.ndarray, net_weight: np.ndarray,
             cluster_of: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The nets on clusters: each net's distinct clusters, nets inside one cluster dropped,
    identical nets merged (weights summed). CSR (ptr, pins, weight)."""
    merged: dict[tuple[int, ...], float] = {}
    pins = cluster_of[net_pins]
    for n in range(len(net_weight)):
        key = tuple(sorted(set(pins[net_ptr[n]:net_ptr[n + 1]].tolist())))
        if len(key) > 1:
            merged[key] = merged.get(key, 0.0) + float(net_weight[n])
    ptr, flat, weights = [0], [], []
    for key in sorted(merged):
        flat.extend(key)
        ptr.append(len(flat))
        weights.append(merged[key])
    return (np.array(ptr, dtype=np.int64), np.array(flat, dtype=np.int64), np.array(weights, dtype=np.float64))


def _level_problem(fine: PlacementProblem, clusters: int, net_ptr, net_pins, net_weight,
                   area: tuple[float, float, float, float]) -> tuple[PlacementProblem, tuple[float, float], tuple[float, float]]:
    """A one-kind problem: `clusters` units on a grid of about-square tiles covering `area`
    (x0, y0, width, height in chip units), at least TILE_SLACK x clusters tiles."""
    x0, y0, width, height = area
    need = max(int(np.ceil(clusters * TILE_SLACK)), clusters + 1)
    side = np.sqrt(width * height / need)
    columns = max(int(round(width / side)), 1)
    rows = max(int(np.ceil(need / columns)), 1)
    while columns * rows < need:
        rows += 1
    xs, ys = np.meshgrid(np.arange(columns), np.arange(rows), indexing="ij")
    site_x, site_y = xs.ravel().astype(np.int64), ys.ravel().astype(np.int64)
    site_at = np.arange(columns * rows, dtype=np.int64).reshape(columns, rows)
    problem = PlacementProblem(
        chip=fine.chip, netlist=fine.netlist, unit_names=tuple(f"c{i}" for i in range(clusters)),
        unit_kind=np.zeros(clusters, dtype=np.int8), fixed_site=np.full(clusters, -1, dtype=np.int64),
        site_x=site_x, site_y=site_y, site_kind=np.zeros(len(site_x), dtype=np.int8), site_at=site_at,
        net_ptr=net_ptr, net_pins=net_pins, net_weight=net_weight)
    return problem, (x0, y0), (width / columns, height / rows)


def coarsen_levels(problem: PlacementProblem, seed: int) -> list[Level]:
    """Levels from finest (clusters of the units) to coarsest."""
    rng = np.random.default_rng(seed)
    p = problem
    free = p.fixed_site < 0
    kinds = np.unique(p.unit_kind[free]) if free.any() else np.unique(p.unit_kind)
    region = np.isin(p.site_kind, kinds)
    x0, x1 = p.site_x[region].min() - 0.5, p.site_x[region].max() + 0.5
    y0, y1 = p.site_y[region].min() - 0.5, p.site_y[region].max() + 0.5
    area = (float(x0), float(y0), float(x1 - x0), float(y1 - y0))
    # the units of the first level: free ones only (pinned units keep their pins; their nets
    # lose those pins at the coarse levels)
    keep_pin = free[p.net_pins]
    counts = np.add.reduceat(keep_pin.astype(np.int64), p.net_ptr[:-1]) if p.num_nets else np.zeros(0, dtype=np.int64)
    net_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    index = np.cumsum(free) - 1
    net_pins = index[p.net_pins[keep_pin]].astype(np.int64)
    net_ptr, net_pins, net_weight = contract(net_ptr, net_pins, p.net_weight, np.arange(int(free.sum())))
    units = int(free.sum())
    size = np.ones(units, dtype=np.int64)
    levels: list[Level] = []
    while units > COARSEST_CLUSTERS:
        cluster_of = match_clusters(units, net_ptr, net_pins, net_weight, size, np.ones(units, dtype=bool), rng)
        clusters = int(cluster_of.max()) + 1
        if clusters > MIN_SHRINK * units:
            break
        size = np.bincount(cluster_of, weights=size, minlength=clusters).astype(np.int64)
        net_ptr, net_pins, net_weight = contract(net_ptr, net_pins, net_weight, cluster_of)
        level_problem, origin, tile = _level_problem(p, clusters, net_ptr, net_pins, net_weight, area)
        levels.append(Level(cluster_of, level_problem, origin, tile))
        units = clusters
    return levels


def multilevel_start(problem: PlacementProblem, seed: int, seconds: float,
                     require_coarse: bool = False,
                     stalled_seconds: float | None = None) -> tuple[np.ndarray | None, float, list[dict]]:
    """A legal `site_of_unit` from the multilevel V: (placement, work spent in budget seconds,
    per-level stats, coarsest first), or (None, 0, []) if the netlist is too small to coarsen.
    With `require_coarse` (the V is one candidate start of several), also (None, 0, [record]) if
    the coarsening stalled above STALLED_CLUSTERS: the V decides global structure at a level of a
    few dozen clusters, where its candidates can tell orientations apart; a V whose coarsest level
    holds ~200 clusters anneals them from random, a flat placement no better than the default
    start's (it never won the choice on `clustered`), and its share of the budget is better left
    to the long run.

    The coarse levels cannot tell the chip's orientations apart well (a 40x52 region turned by 90
    degrees costs little more at 48 tiles, and every finer level keeps the turn: measured 1.24x
    against 1.05x on `mixed`), so the levels of at most CANDIDATE_CLUSTERS clusters are placed
    CANDIDATES times from different random starts and the shortest at the last of them goes on.
    `seconds` of annealing work is shared among the level runs in proportion to their clusters;
    a coarsening that stalled gets at most `stalled_seconds` when given (the placer's V alone on a
    short budget: a flat placement of ~200 clusters, no shorter for more work; `placer.STALLED_V_MOVES`)."""
    p = problem
    levels = coarsen_levels(p, seed)
    free = np.flatnonzero(p.fixed_site < 0)
    if not levels:
        return None, 0.0, []
    if require_coarse and levels[-1].problem.num_units > STALLED_CLUSTERS:
        return None, 0.0, [{"skipped": f"coarsening stalled at {levels[-1].problem.num_units} clusters"}]
    if stalled_seconds is not None and levels[-1].problem.num_units > STALLED_CLUSTERS:
        seconds = min(seconds, stalled_seconds)
    runs = np.array([lv.problem.num_units * (CANDIDATES if _candidate_level(lv) else 1) for lv in levels], dtype=np.float64)
    per_cluster = seconds / runs.sum()
    spent = 0.0
    stats: list[dict] = []
    candidates: list[tuple[np.ndarray | None, int]] = [(None, c) for c in range(CANDIDATES)]
    chip_xy = None  # chip coordinates of the clusters of the level being placed, from its parent
    for depth in range(len(levels) - 1, -1, -1):
        level = levels[depth]
        lp = level.problem
        budget = per_cluster * lp.num_units
        if _candidate_level(level):
            results = []
            for xy, c in candidates:
                sites, used, record = _place_level(level, xy, budget, seed + 1000 * c + 31 * depth)
                spent += used
                results.append((float(np.dot(lp.net_weight, net_hpwl(lp, sites))), c, sites, record))
            last_candidate = depth == 0 or not _candidate_level(levels[depth - 1])
            if last_candidate:
                cost, c, sites, record = min(results, key=lambda r: r[:2])
                record["candidates"] = [r[0] for r in results]
                level.site_of_cluster = sites
                stats.append(record)
                chip_xy = _children_xy(level, sites, seed + depth)
            else:
                candidates = [(_children_xy(level, r[2], seed + depth + 1000 * r[1]), r[1]) for r in results]
                stats.append(results[0][3] | {"candidates": [r[0] for r in results]})
            continue
        sites, used, record = _place_level(level, chip_xy, budget, seed + 31 * depth)
        spent += used
        stats.append(record)
        chip_xy = _children_xy(level, sites, seed + depth)
    coords = np.full((p.num_units, 2), np.nan)
    coords[free] = chip_xy
    return legalize(p, coords), spent, stats


def _candidate_level(level: Level) -> bool:
    return level.problem.num_units <= CANDIDATE_CLUSTERS


def _place_level(level: Level, chip_xy: np.ndarray | None, seconds: float, seed: int) -> tuple[np.ndarray, float, dict]:
    """Anneal one level: from a random placement, hot (the coarsest), or from its parent's
    projection `chip_xy`, cooler. (placement, work in budget seconds, record)."""
    lp = level.problem
    start = random_placement(lp, seed) if chip_xy is None else legalize(lp, level.tile_coords(chip_xy))
    annealer = SequentialAnnealer(lp, start, np.random.default_rng(seed))
    hot = annealer.initial_temperature()
    weight = float(np.median(lp.net_weight)) if lp.num_nets else 1.0
    per_move = move_seconds(lp)
    schedule = AnnealSchedule(t_start=hot if chip_xy is None else REFINE_HEAT * hot, t_end=0.02 * weight,
                              moves=int(seconds / per_move))
    sites = annealer.run(schedule).copy()
    record = {"clusters": lp.num_units, "nets": lp.num_nets, "tiles": lp.num_sites,
              "moves": annealer.stats.moves, "wirelength_tiles": _round(annealer.cost)}
    return sites, annealer.stats.moves * per_move, record


def _children_xy(level: Level, sites: np.ndarray, seed: int) -> np.ndarray:
    """Chip coordinates of the level below's clusters (or free units): their parent's tile centre
    plus a seeded jitter of up to JITTER of a tile, so the legaliser separates them."""
    level.site_of_cluster = sites
    parent_xy = level.centres()[level.cluster_of]
    rng = np.random.default_rng(seed)
    return parent_xy + (rng.random(parent_xy.shape) - 0.5) * 2 * JITTER * np.array(level.tile)


def _round(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(float(value), 3)
