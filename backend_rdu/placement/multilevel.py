"""The multilevel start: coarsen by heavy-edge matching, anneal the coarsest level, refine back.

Why: the single-level starts (`embedding` + `growth`, or the layout legalised) are 2.2-2.6x the
optimum at 2,000 units, and annealing cannot undo their global defects (seams between regions
grown apart, islands far from their nets): it stalls near 1.2x, while from the hidden optimum plus
local noise the same budget reaches 1.06x. Annealing fixes local noise well; what it cannot do
at site scale is move whole regions. So the netlist is coarsened (each round pairs every unit with
the neighbour it shares the most net weight with, as in hMETIS) down to about a hundred clusters.
These are annealed on a coarse grid of the chip's aspect, one cluster per cell, where a move
carries a whole region. Each finer level starts from its parent's cell (children spread over the
finer grid by geometry-preserving legalisation) and is annealed cooler, with moves that start
short: it only has the noise of one coarse cell to remove. At the finest level the layout is
legalised onto the chip's sites of each unit's kind, and the placer's own annealing and CP-SAT
windows take over. Every level is right at its own scale, so the start is right at site scale.
"""

from __future__ import annotations

import numpy as np

from backend_rdu.placement.annealing import Annealer, AnnealSchedule
from backend_rdu.placement.legalize import legalize
import scipy.sparse as sparse

from backend_rdu.placement.partition import MATCH_MAX_PINS, Hypergraph
from backend_rdu.placement.problem import PlacementProblem

COARSEST = 100  # clusters at the coarsest level
SHRINK = 0.8  # ... or stop when a round shrinks the graph less than this
WHITESPACE = 1.08  # coarse grids have this many cells per cluster
MOVES_PER_CLUSTER = 400  # annealing moves proposed per cluster at each level
COARSEST_HEAT = 8.0  # start temperature x median net weight at the coarsest level ...
DEBUG = False
HIDDEN = None
LEVEL_HEAT = 1.0  # ... and at the finer levels, which only remove one coarse cell of noise


def multilevel_start(problem: PlacementProblem, seed: int) -> tuple[np.ndarray, dict]:
    """A legal `site_of_unit` and statistics (levels, annealing batches)."""
    coords, stats = multilevel_layout(problem, seed)
    return legalize(problem, coords), stats


def multilevel_layout(problem: PlacementProblem, seed: int) -> tuple[np.ndarray, dict]:
    """Chip coordinates for every unit from the annealed level above the units, and statistics."""
    p = problem
    rng = np.random.default_rng(seed)
    graph = Hypergraph(np.eye(3, dtype=np.int64)[p.unit_kind], p.net_ptr, p.net_pins, p.net_weight,
                       np.zeros((p.num_nets, 2), dtype=np.int64))
    # pinned units stay alone so that their clusters can be pinned to their sites' cells
    levels, maps = [graph], []
    while levels[-1].num_vertices > COARSEST:
        g = levels[-1]
        cluster = _first_choice(g, rng, max(2, int(np.ceil(4.0 * p.num_units / g.num_vertices))))
        coarse_n = int(cluster.max()) + 1
        if coarse_n > SHRINK * g.num_vertices:
            break
        levels.append(_contract(g, cluster, coarse_n))
        maps.append(cluster)
    columns, rows = p.site_at.shape
    coords = None
    batches = 0
    for level in range(len(levels) - 1, 0, -1):
        g = levels[level]
        grid = _grid_shape(columns, rows, g.num_vertices)
        coarse = _grid_problem(p, g, grid)
        if coords is None:
            start = legalize(coarse, _random_coords(rng, g.num_vertices, grid))
            heat = COARSEST_HEAT
        else:
            start = legalize(coarse, coords)
            heat = LEVEL_HEAT
        annealer = Annealer(coarse, start, rng)
        if coords is not None:
            annealer.radius = 2.0
        weight = float(np.median(g.net_weight)) if g.num_nets else 1.0
        n_batches = int(MOVES_PER_CLUSTER * g.num_vertices / annealer.batch)
        placed = annealer.run(AnnealSchedule(t_start=heat * weight, t_end=0.02 * weight, batches=n_batches))
        batches += annealer.stats.batches
        if DEBUG:
            from backend_rdu.placement.wirelength import wirelength
            import time
            ref = ""
            if HIDDEN is not None:
                hc = HIDDEN.copy()
                for m in maps[:level]:
                    k = int(m.max()) + 1
                    hc = np.stack([np.bincount(m, weights=hc[:, i], minlength=k) / np.bincount(m, minlength=k) for i in range(2)], 1)
                hs = legalize(coarse, (hc + 0.5) * np.array([grid[0] / columns, grid[1] / rows]) - 0.5)
                ref = wirelength(coarse, hs)
            print("level", level, g.num_vertices, grid, "legal", wirelength(coarse, start), "annealed", wirelength(coarse, placed), "hidden", ref, annealer.stats.to_json(), time.perf_counter())
        # children start at the parent's cell, in the next finer level's coordinates
        finer_grid = _grid_shape(columns, rows, levels[level - 1].num_vertices) if level > 1 else (columns, rows)
        xy = np.stack([coarse.site_x[placed], coarse.site_y[placed]], axis=1).astype(np.float64)
        scale = np.array([finer_grid[0] / grid[0], finer_grid[1] / grid[1]])
        coords = _smooth(levels[level - 1], ((xy + 0.5) * scale - 0.5)[maps[level - 1]])
    if coords is None:
        coords = np.full((p.num_units, 2), np.nan)
    return coords, {"levels": [g.num_vertices for g in levels], "coarse_batches": batches}


SMOOTH_ROUNDS = 10
SMOOTH_ANCHOR = 0.3


def _smooth(graph: Hypergraph, anchor: np.ndarray) -> np.ndarray:
    """Children start at their parent's cell; a few rounds of moving each towards the mean of its
    net neighbours (held to the parent by SMOOTH_ANCHOR) order them within it."""
    n = graph.num_vertices
    sizes = np.diff(graph.net_ptr)
    pin_net = graph.pin_net()
    w = (graph.net_weight / np.maximum(sizes - 1, 1))[pin_net]
    star = sparse.csr_matrix((w, (graph.net_pins, pin_net)), shape=(n, graph.num_nets))
    degree = np.asarray(star.sum(axis=1)).ravel() * 1.0
    net_sum_rows = sparse.csr_matrix((np.ones(len(pin_net)), (pin_net, graph.net_pins)), shape=(graph.num_nets, n))
    coords = anchor.copy()
    has = degree > 0
    for _ in range(int(SMOOTH_ROUNDS)):
        net_total = net_sum_rows @ coords  # sum of pin coordinates per net
        pulled = star @ net_total - (degree[:, None] * 0 + (star @ np.asarray(net_sum_rows.sum(axis=1)).ravel())[:, None] * 0)
        # neighbours' sum excludes the vertex itself: subtract its own share
        own = (star @ np.ones(graph.num_nets))[:, None] * coords
        mean = np.where(has[:, None], (pulled - own) / np.maximum(_neighbour_weight(star, sizes, n), 1e-12)[:, None], coords)
        coords = SMOOTH_ANCHOR * anchor + (1 - SMOOTH_ANCHOR) * mean
    return coords


def _neighbour_weight(star, sizes, n):
    return np.asarray(star @ (sizes - 1).astype(np.float64)).ravel()


def _first_choice(graph: Hypergraph, rng: np.random.Generator, max_weight: int) -> np.ndarray:
    """Cluster index of every vertex (hMETIS first-choice): in random order, each vertex not yet
    clustered joins the neighbour (clustered or not) it shares the most net weight with (clique
    model, weight / (pins - 1), divided by both sizes so clusters grow evenly), if the cluster
    stays within `max_weight` units. Matching alone stalls on sparse netlists, where a unit's
    neighbours are soon all taken."""
    n = graph.num_vertices
    rows, cols, vals = [], [], []
    sizes = np.diff(graph.net_ptr)
    for s in np.unique(sizes):
        if s < 2 or s > MATCH_MAX_PINS:
            continue
        nets = np.flatnonzero(sizes == s)
        pins = graph.net_pins[graph.net_ptr[nets][:, None] + np.arange(s)[None, :]]
        rows.append(np.repeat(pins, s, axis=1).ravel())
        cols.append(np.tile(pins, (1, s)).ravel())
        vals.append(np.repeat(graph.net_weight[nets] / (s - 1), s * s))
    if not rows:
        return np.arange(n)
    a, b, w = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    off = a != b
    adjacency = sparse.csr_matrix((w[off], (a[off], b[off])), shape=(n, n))
    adjacency.sum_duplicates()
    indptr, indices, data = adjacency.indptr, adjacency.indices, adjacency.data
    size = graph.weight.sum(axis=1)
    cluster = np.full(n, -1, dtype=np.int64)
    cluster_size = np.zeros(n, dtype=np.int64)
    count, groups = 0, n  # groups: clusters so far plus vertices not yet visited
    for v in rng.permutation(n).tolist():
        if cluster[v] >= 0:
            continue
        lo, hi = indptr[v], indptr[v + 1]
        target = -1
        if hi > lo and groups > n // 2:  # halve the graph per level, no more
            nbr = indices[lo:hi]
            joined = np.where(cluster[nbr] >= 0, cluster_size[np.maximum(cluster[nbr], 0)], size[nbr])
            score = np.where(joined + size[v] <= max_weight, data[lo:hi] / (joined * size[v]), -1.0)
            best = int(np.argmax(score))
            if score[best] > 0:
                target = int(nbr[best])
        if target < 0:
            cluster[v], cluster_size[count] = count, size[v]
            count += 1
        elif cluster[target] >= 0:
            cluster[v] = cluster[target]
            cluster_size[cluster[v]] += size[v]
            groups -= 1
        else:
            groups -= 1
            cluster[v] = cluster[target] = count
            cluster_size[count] = size[v] + size[target]
            count += 1
    return cluster


def _contract(graph: Hypergraph, cluster: np.ndarray, coarse_n: int) -> Hypergraph:
    """Clusters as vertices; nets keep their distinct clusters, and drop when only one is left."""
    weight = np.zeros((coarse_n, 3), dtype=np.int64)
    np.add.at(weight, cluster, graph.weight)
    pin_net = graph.pin_net()
    key = np.unique(pin_net * coarse_n + cluster[graph.net_pins])
    net, pins = key // coarse_n, key % coarse_n
    size = np.bincount(net, minlength=graph.num_nets)
    keep = size >= 2
    pins = pins[keep[net]]
    ptr = np.concatenate([[0], np.cumsum(size[keep])])
    return Hypergraph(weight, ptr, pins, graph.net_weight[keep], np.zeros((int(keep.sum()), 2), dtype=np.int64))


def _grid_shape(columns: int, rows: int, clusters: int) -> tuple[int, int]:
    """A grid of the chip's aspect with WHITESPACE cells per cluster (never finer than the chip)."""
    scale = min(np.sqrt(WHITESPACE * clusters / (columns * rows)), 1.0)
    c, r = max(int(np.ceil(columns * scale)), 1), max(int(np.ceil(rows * scale)), 1)
    while c * r < clusters:
        c, r = c + 1, r + 1
    return c, r


def _grid_problem(p: PlacementProblem, g: Hypergraph, grid: tuple[int, int]) -> PlacementProblem:
    """A placement problem of one kind on a plain grid: the coarse level's 'chip'."""
    columns, rows = grid
    xs, ys = np.meshgrid(np.arange(columns), np.arange(rows), indexing="ij")
    n = g.num_vertices
    return PlacementProblem(
        chip=p.chip, netlist=p.netlist, unit_names=tuple(str(i) for i in range(n)),
        unit_kind=np.zeros(n, dtype=np.int8), fixed_site=np.full(n, -1, dtype=np.int64),
        site_x=xs.ravel().astype(np.int64), site_y=ys.ravel().astype(np.int64),
        site_kind=np.zeros(columns * rows, dtype=np.int8),
        site_at=np.arange(columns * rows, dtype=np.int64).reshape(columns, rows),
        net_ptr=g.net_ptr, net_pins=g.net_pins, net_weight=g.net_weight)


def _random_coords(rng: np.random.Generator, n: int, grid: tuple[int, int]) -> np.ndarray:
    return rng.random((n, 2)) * (np.array(grid, dtype=np.float64) - 1)
