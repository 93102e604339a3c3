"""Global start: a continuous 2-D layout of the netlist in chip coordinates.

Pivot multidimensional scaling (Brandes & Pich, 2006): breadth-first hop distances from a few
dozen well-spread pivot units, double-centred and reduced to their top two singular vectors, lay
the netlist out so that grid distance tracks netlist distance. Unlike a spectral layout this keeps
the right scale (one net hop ~ one grid step), which is what lets legalisation preserve the shape.
The layout is then turned to the angle that minimises Manhattan wirelength, scaled by a least
squares fit to the hop distances, components are packed side by side, and the whole is shifted so
units sit near sites of their own kind. Units on no net get no position (NaN): they take leftovers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backend_rdu.placement.problem import PlacementProblem, csr_rows
from backend_rdu.placement.spectral import spectral_layout

PIVOTS = 48
SPECTRAL_UNITS = 64  # smaller groups are laid out by pivot MDS even with method="spectral"


@dataclass(frozen=True)
class Layout:
    coords: np.ndarray  # num_units x 2, chip grid units; NaN rows for units on no net
    components: list[np.ndarray]  # connected groups of units (units on no net left out)


def embed(problem: PlacementProblem, seed: int, method: str = "mds") -> Layout:
    """`method` "mds" (pivot MDS, the default start's layout) or "spectral" (`spectral`: the
    smallest Laplacian modes, spread to uniform density, for groups of at least SPECTRAL_UNITS)."""
    rng = np.random.default_rng(seed)
    graph = _Hypergraph(problem)
    coords = np.full((problem.num_units, 2), np.nan)
    pinned = problem.fixed_site >= 0
    pin_xy = np.stack([problem.site_x[problem.fixed_site], problem.site_y[problem.fixed_site]], axis=1)
    loose: list[np.ndarray] = []  # components to pack, each centred at the origin
    components = [c for c in graph.components() if len(c) > 1 or graph.degree[c[0]] > 0]
    spectral = method == "spectral" and any(len(c) >= SPECTRAL_UNITS for c in components)
    for members in components:
        if spectral and len(members) < SPECTRAL_UNITS and not pinned[members].any():
            continue  # left to legalisation's leftover sites: packed beside the spectral box they would push it off centre
        if method == "spectral" and len(members) >= SPECTRAL_UNITS:
            xy = _fit_chip(problem, spectral_layout(problem, members, seed))
        else:
            xy = _pivot_mds(graph, members, rng)
            xy = _align_axes(problem, members, xy)
            xy = _fit_scale(graph, members, xy, rng)
        if pinned[members].any():
            coords[members] = _fit_pins(xy, pin_xy[members], pinned[members])
        else:
            loose.append(members)
            coords[members] = xy - xy.mean(axis=0)
    if loose:
        _pack(problem, coords, loose)
        _snap_to_kinds(problem, coords, np.concatenate(loose))
    coords[pinned] = pin_xy[pinned]
    return Layout(coords, components)


class _Hypergraph:
    """Units and nets as a bipartite graph, for breadth-first hop distances."""

    def __init__(self, problem: PlacementProblem) -> None:
        self.unit_ptr, self.unit_nets = problem.unit_nets
        self.net_ptr, self.net_pins = problem.net_ptr, problem.net_pins
        self.num_units = problem.num_units
        self.degree = np.diff(self.unit_ptr)

    def hops(self, source: int) -> np.ndarray:
        """Net hops from `source` to every unit (-1 if unreachable)."""
        dist = np.full(self.num_units, -1, dtype=np.int64)
        seen_net = np.zeros(len(self.net_ptr) - 1, dtype=bool)
        dist[source] = 0
        frontier, level = np.array([source]), 0
        while len(frontier):
            nets = np.unique(csr_rows(self.unit_ptr, self.unit_nets, frontier))
            nets = nets[~seen_net[nets]]
            seen_net[nets] = True
            units = np.unique(csr_rows(self.net_ptr, self.net_pins, nets))
            frontier = units[dist[units] < 0]
            level += 1
            dist[frontier] = level
        return dist

    def components(self) -> list[np.ndarray]:
        label = np.full(self.num_units, -1, dtype=np.int64)
        found = []
        for u in range(self.num_units):
            if label[u] < 0:
                members = np.flatnonzero(self.hops(u) >= 0)
                label[members] = len(found)
                found.append(members)
        return found


def _pivot_mds(graph: _Hypergraph, members: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = len(members)
    if n <= 2:
        return np.array([[0.0, 0.0], [1.0, 0.0]])[:n]
    columns = []
    nearest = np.full(n, np.inf)
    pivot = members[int(rng.integers(n))]
    for _ in range(min(PIVOTS, n)):
        d = graph.hops(pivot)[members].astype(np.float64)
        columns.append(d)
        nearest = np.minimum(nearest, d)
        pivot = members[int(np.argmax(nearest))]  # farthest from every pivot so far
    dist = np.stack(columns, axis=1)
    squared = dist**2
    centred = -0.5 * (squared - squared.mean(axis=0) - squared.mean(axis=1, keepdims=True) + squared.mean())
    left, _, _ = np.linalg.svd(centred, full_matrices=False)
    xy = left[:, :2].copy()
    if xy.shape[1] < 2:
        xy = np.column_stack([xy, np.zeros(n)])
    return xy


def _fit_chip(problem: PlacementProblem, xy: np.ndarray) -> np.ndarray:
    """The spectral layout is an axis-parallel box (`spectral.spread`): turn it by a quarter when
    its long side lies along the chip's short side."""
    box = np.ptp(xy, axis=0)
    columns, rows = problem.site_at.shape
    if (box[0] - box[1]) * (columns - rows) < 0:
        xy, box = xy[:, ::-1].copy(), box[::-1]
    # a box longer than the chip (the modes' aspect is an estimate): as long as the chip, as much wider
    over = max(box[0] / (columns - 1), box[1] / (rows - 1))
    if over > 1.0:
        long_axis = int(np.argmax(box / np.array([columns - 1, rows - 1])))
        factor = np.ones(2)
        factor[long_axis] = 1.0 / over
        factor[1 - long_axis] = over
        xy = xy * factor
    return xy


def _manhattan_wirelength(problem: PlacementProblem, members: np.ndarray, xy: np.ndarray) -> float:
    coords = np.zeros((problem.num_units, 2))
    coords[members] = xy
    inside = np.zeros(problem.num_units, dtype=bool)
    inside[members] = True
    starts = problem.net_ptr[:-1]
    keep = inside[problem.net_pins[starts]] if problem.num_nets else np.zeros(0, dtype=bool)
    p = coords[problem.net_pins]
    span = np.maximum.reduceat(p, starts, axis=0) - np.minimum.reduceat(p, starts, axis=0)
    return float(np.dot(problem.net_weight[keep], span[keep].sum(axis=1)))


def _rotate(xy: np.ndarray, degrees: float) -> np.ndarray:
    t = np.radians(degrees)
    return xy @ np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])


def _align_axes(problem: PlacementProblem, members: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Turn the layout to the angle with the least Manhattan wirelength (MDS fixes no angle)."""
    if problem.num_nets == 0:
        return xy
    cost = {a: _manhattan_wirelength(problem, members, _rotate(xy, a)) for a in np.arange(0.0, 90.0, 3.0)}
    best = min(cost, key=cost.get)
    fine = {a: _manhattan_wirelength(problem, members, _rotate(xy, a)) for a in best + np.arange(-1.5, 1.75, 0.5)}
    return _rotate(xy, min(fine, key=fine.get))


def _fit_scale(graph: _Hypergraph, members: np.ndarray, xy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scale so Manhattan layout distance matches hop distance in the least-squares sense."""
    if len(members) <= 2:
        return xy
    sources = members[rng.choice(len(members), size=min(16, len(members)), replace=False)]
    local = np.full(graph.num_units, -1, dtype=np.int64)
    local[members] = np.arange(len(members))
    num, den = 0.0, 0.0
    for s in sources:
        hops = graph.hops(s)[members].astype(np.float64)
        layout = np.abs(xy - xy[local[s]]).sum(axis=1)
        num += float(np.dot(hops, layout))
        den += float(np.dot(layout, layout))
    return xy * (num / den) if den > 0 else xy


def _fit_pins(xy: np.ndarray, pin_xy: np.ndarray, pinned: np.ndarray) -> np.ndarray:
    """Among the 8 axis-preserving symmetries, the one whose pinned units land nearest their pins."""
    best, best_cost = xy, np.inf
    for flip in (1.0, -1.0):
        for quarter in range(4):
            cand = _rotate(xy * np.array([flip, 1.0]), 90.0 * quarter)
            shift = (pin_xy[pinned] - cand[pinned]).mean(axis=0)
            cost = np.abs(cand[pinned] + shift - pin_xy[pinned]).sum()
            if cost < best_cost - 1e-9:
                best, best_cost = cand + shift, cost
    return best


def _pack(problem: PlacementProblem, coords: np.ndarray, components: list[np.ndarray]) -> None:
    """Shelf-pack the components, largest first, into a block centred on the chip."""
    components = sorted(components, key=len, reverse=True)
    boxes = [np.ptp(coords[c], axis=0) + 1.0 for c in components]
    width = max(max(b[0] for b in boxes), np.sqrt(sum(b[0] * b[1] for b in boxes)))
    x = y = shelf = 0.0
    for members, box in zip(components, boxes):
        if x > 0 and x + box[0] > width:
            x, y, shelf = 0.0, y + shelf, 0.0
        low = coords[members].min(axis=0)
        coords[members] += np.array([x, y]) - low
        x += box[0]
        shelf = max(shelf, box[1])
    placed = np.concatenate(components)
    centre = np.array([(problem.chip.grid.columns - 1) / 2, (problem.chip.grid.rows - 1) / 2])
    coords[placed] += centre - (coords[placed].min(axis=0) + coords[placed].max(axis=0)) / 2


def _snap_to_kinds(problem: PlacementProblem, coords: np.ndarray, units: np.ndarray) -> None:
    """Shift by the sub-site offset that puts units nearest to sites of their own kind."""
    columns, rows = problem.site_at.shape
    kind_at = np.where(problem.site_at >= 0, problem.site_kind[np.maximum(problem.site_at, 0)], -1)
    steps = np.array([(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)])
    best, best_cost = np.zeros(2), np.inf
    for ox in np.arange(0.0, 2.0, 0.25):
        for oy in np.arange(0.0, 2.0, 0.25):
            p = coords[units] + np.array([ox, oy])
            g = np.rint(p).astype(np.int64)[:, None, :] + steps[None]
            gx, gy = np.clip(g[..., 0], 0, columns - 1), np.clip(g[..., 1], 0, rows - 1)
            match = kind_at[gx, gy] == problem.unit_kind[units][:, None]
            d = np.abs(gx - p[:, None, 0]) + np.abs(gy - p[:, None, 1])
            cost = np.where(match, d, 3.0).min(axis=1).sum()
            if cost < best_cost - 1e-9:
                best, best_cost = np.array([ox, oy]), cost
    coords[units] += best
