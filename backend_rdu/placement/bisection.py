"""The recursive-bisection start: min-cut partitioning with terminal propagation down to sites.

Why: the other starts (`embedding` + `growth`, or the layout legalised) are 2.2-2.6x the optimum
at 2,000 units, and annealing cannot undo their global defects (seams between regions grown apart,
islands far from their nets): it stalls near 1.2x, while from the hidden optimum plus local noise
the same budget reaches 1.06x. A start must be right at every scale, and recursive min-cut
bisection is built that way: the chip's free sites are cut in half across their longer side, the
region's units are split by a multilevel FM bisection (`partition.bisect`) that cuts as few nets
as possible while each half gets no more units of a kind than it has sites of that kind, and both
halves recurse, breadth first, until a region holds one unit. Nets that reach outside the region
pull through *terminals*: each outside unit counts as a fixed pin on the side of the cut where its
own (current) region lies, so the halves are placed consistently with their surroundings.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from backend_rdu.placement.partition import Hypergraph, bisect
from backend_rdu.placement.problem import PlacementProblem, csr_rows

BALANCE = 0.1  # each side's share of a kind may stray this far from its share of the sites


def bisection_start(problem: PlacementProblem, seed: int, guide: np.ndarray | None = None) -> np.ndarray:
    """A legal `site_of_unit` by recursive min-cut bisection (pinned units stay on their pins).
    With `guide` (chip coordinates per unit), each cut starts from the guide's split."""
    p = problem
    rng = np.random.default_rng(seed)
    site_of_unit = p.fixed_site.copy()
    taken = np.zeros(p.num_sites, dtype=bool)
    taken[site_of_unit[site_of_unit >= 0]] = True
    free_units = np.flatnonzero(site_of_unit < 0)
    free_sites = np.flatnonzero(~taken)
    pos = np.zeros((p.num_units, 2))
    pinned = site_of_unit >= 0
    pos[pinned, 0], pos[pinned, 1] = p.site_x[site_of_unit[pinned]], p.site_y[site_of_unit[pinned]]
    pos[~pinned] = _centre(p, free_sites)
    unit_ptr, unit_nets = p.unit_nets
    region_of = np.full(p.num_units, -1, dtype=np.int64)  # scratch: local index within a region
    queue = deque([(free_units, free_sites)])
    while queue:
        units, sites = queue.popleft()
        if len(units) == 0:
            continue
        if len(units) == 1:
            site_of_unit[units[0]] = _best_site(p, units[0], sites, pos, unit_ptr, unit_nets)
            pos[units[0]] = p.site_x[site_of_unit[units[0]]], p.site_y[site_of_unit[units[0]]]
            continue
        axis, cut, left_sites, right_sites = _cut_sites(p, sites)
        low, high = _bounds(p, units, left_sites, right_sites)
        graph = _region_graph(p, units, axis, cut, pos, unit_ptr, unit_nets, region_of)
        initial = None if guide is None else _guide_split(p, units, guide[units, axis], cut, low, high)
        side = bisect(graph, low, high, rng, initial)
        left, right = units[side == 0], units[side == 1]
        pos[left] = _centre(p, left_sites)
        pos[right] = _centre(p, right_sites)
        queue.append((left, left_sites))
        queue.append((right, right_sites))
    return site_of_unit


def _guide_split(p, units, coord, cut, low, high) -> np.ndarray:
    """Per kind, the units lowest along the axis go left: as many as lie left of the cut, within
    the bounds."""
    side = np.ones(len(units), dtype=np.int8)
    for kind in range(3):
        mine = np.flatnonzero(p.unit_kind[units] == kind)
        if len(mine) == 0:
            continue
        mine = mine[np.argsort(coord[mine], kind="stable")]
        n_left = int(np.clip(np.count_nonzero(coord[mine] < cut), low[kind], high[kind]))
        side[mine[:n_left]] = 0
    return side


def _centre(p: PlacementProblem, sites: np.ndarray) -> np.ndarray:
    return np.array([p.site_x[sites].mean(), p.site_y[sites].mean()]) if len(sites) else np.zeros(2)


def _cut_sites(p: PlacementProblem, sites: np.ndarray):
    """Cut the sites across the longer side of their box, between grid lines near the median."""
    sx, sy = p.site_x[sites], p.site_y[sites]
    axis = 0 if np.ptp(sx) >= np.ptp(sy) else 1
    coord = (sx, sy)[axis]
    ordered = np.sort(coord)
    cut = ordered[len(ordered) // 2 - 1] + 0.5
    if cut >= ordered[-1]:
        cut = ordered[0] + 0.5
    return axis, cut, sites[coord < cut], sites[coord >= cut]


def _bounds(p: PlacementProblem, units: np.ndarray, left_sites: np.ndarray, right_sites: np.ndarray):
    """Per kind, how many of the region's units may go left: at most the left sites, at least
    what the right sites cannot take, and near the left's share of the sites."""
    count = np.bincount(p.unit_kind[units], minlength=3)
    cap_left = np.bincount(p.site_kind[left_sites], minlength=3)
    cap_right = np.bincount(p.site_kind[right_sites], minlength=3)
    share = np.where(cap_left + cap_right > 0, cap_left / np.maximum(cap_left + cap_right, 1), 0.0)
    target = count * share
    slack = np.maximum(BALANCE * count, 1.0)
    low = np.maximum(np.maximum(count - cap_right, 0), np.floor(target - slack)).astype(np.int64)
    high = np.minimum(np.minimum(cap_left, count), np.ceil(target + slack)).astype(np.int64)
    return low, np.maximum(high, low)


def _region_graph(p, units, axis, cut, pos, unit_ptr, unit_nets, local) -> Hypergraph:
    """The region's units and the nets they are on; outside pins become terminals on the side of
    the cut where they lie (a net with terminals on both sides is cut whatever happens: dropped)."""
    local[units] = np.arange(len(units))
    nets = np.unique(csr_rows(unit_ptr, unit_nets, units))
    sizes = p.net_degree[nets]
    pins = csr_rows(p.net_ptr, p.net_pins, nets)
    owner = np.repeat(np.arange(len(nets)), sizes)
    inside = local[pins] >= 0
    outside_coord = pos[pins[~inside], axis]
    term = np.zeros((len(nets), 2), dtype=np.int64)
    np.add.at(term[:, 0], owner[~inside][outside_coord < cut], 1)
    np.add.at(term[:, 1], owner[~inside][outside_coord >= cut], 1)
    term = np.minimum(term, 1)
    internal = np.bincount(owner[inside], minlength=len(nets))
    keep = ~((term[:, 0] > 0) & (term[:, 1] > 0)) & ((internal >= 2) | ((internal == 1) & (term.sum(1) > 0)))
    pick = inside & keep[owner]
    local_pins = local[pins[pick]]
    ptr = np.concatenate([[0], np.cumsum(internal[keep])])
    weight = np.zeros((len(units), 3), dtype=np.int64)
    weight[np.arange(len(units)), p.unit_kind[units]] = 1
    local[units] = -1
    return Hypergraph(weight, ptr, local_pins, p.net_weight[nets[keep]], term[keep])


def _best_site(p, unit, sites, pos, unit_ptr, unit_nets) -> int:
    """The site of the unit's kind in its leaf region nearest its nets' other pins."""
    mine = sites[p.site_kind[sites] == p.unit_kind[unit]]
    if len(mine) == 1:
        return int(mine[0])
    nets = unit_nets[unit_ptr[unit]:unit_ptr[unit + 1]]
    pins = csr_rows(p.net_ptr, p.net_pins, nets)
    pins = pins[pins != unit]
    if len(pins) == 0:
        return int(mine[0])
    d = np.abs(p.site_x[mine][:, None] - pos[pins, 0][None]) + np.abs(p.site_y[mine][:, None] - pos[pins, 1][None])
    return int(mine[int(np.argmin(d.sum(1)))])
