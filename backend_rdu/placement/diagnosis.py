"""Where a placement's excess lies, measured against a known optimal (hidden) placement.

Why: the 2,000-unit generators (`generators`) know an optimal placement, so the placer's excess
can be located instead of guessed. Waves 9-11 asked whether it is global (orientation, torn blobs)
or local (detail placement); wave 12 found a third kind on mixed, multipin and geometric: the
result is globally right but a mosaic of *domains*, regions of hundreds of units each offset from
the optimum by a different small translation, joined by dislocations (docs/placement.md,
"Wave 12"). These functions are the measurements behind that finding, kept so later waves can
repeat them on their own results. Diagnosis only: the placer never calls them.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from backend_rdu.placement.problem import PlacementProblem
from backend_rdu.placement.wirelength import net_hpwl

# the 8 symmetries of the square grid (rotations and reflections) as 2x2 integer matrices
SYMMETRIES = tuple(np.array(m) for m in (
    [[1, 0], [0, 1]], [[0, -1], [1, 0]], [[-1, 0], [0, -1]], [[0, 1], [-1, 0]],
    [[-1, 0], [0, 1]], [[1, 0], [0, -1]], [[0, 1], [1, 0]], [[0, -1], [-1, 0]]))


def positions(problem: PlacementProblem, site_of_unit: np.ndarray) -> np.ndarray:
    """(x, y) of every unit, as floats."""
    return np.stack([problem.site_x[site_of_unit], problem.site_y[site_of_unit]], axis=1).astype(np.float64)


def best_rigid_fit(placed: np.ndarray, hidden: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """The symmetry and integer shift that bring `hidden` closest to `placed` (mean Manhattan
    distance), and the displacement field placed - fitted hidden: (symmetry index, shift, field).
    The shift is the median offset or one of its 8 integer neighbours (the median alone can land
    on the wrong parity of a checkerboard of kinds)."""
    best = None
    for index, matrix in enumerate(SYMMETRIES):
        turned = hidden @ matrix.T
        median = np.round(np.median(placed - turned, axis=0))
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                shift = median + (dx, dy)
                cost = float(np.abs(placed - turned - shift).sum(axis=1).mean())
                if best is None or cost < best[0]:
                    best = (cost, index, shift, placed - turned - shift)
    return best[1], best[2], best[3]


def domain_census(field: np.ndarray, most_common: int | None = None) -> list[tuple[tuple[int, int], int]]:
    """The most common displacements (dx, dy) of the field and how many units have each, most
    common first: a globally right placement has one value; a mosaic of domains has several
    large ones (geometric, seed 552299542: (0,0) 931, (1,1) 439, (0,2) 274, (2,0) 90)."""
    counts = Counter(tuple(int(v) for v in row) for row in np.rint(field))
    return counts.most_common(most_common)


def excess_by_net(problem: PlacementProblem, site_of_unit: np.ndarray, optimal: np.ndarray) -> np.ndarray:
    """Weighted wirelength of each net in the placement minus in the optimal placement."""
    return problem.net_weight * (net_hpwl(problem, site_of_unit) - net_hpwl(problem, optimal))


def excess_summary(problem: PlacementProblem, site_of_unit: np.ndarray, optimal: np.ndarray) -> dict:
    """The excess over the optimal placement by net weight and by how far each net is over
    (1-2 sites is local noise or a domain wall, 6+ a torn region)."""
    placed, best = net_hpwl(problem, site_of_unit), net_hpwl(problem, optimal)
    over = placed - best
    excess = problem.net_weight * over
    optimum = float(problem.net_weight @ best)
    return {
        "optimal": optimum,
        "excess": float(excess.sum()),
        "by_weight": {float(w): float(excess[problem.net_weight == w].sum()) for w in np.unique(problem.net_weight)},
        "by_overshoot": {"1-2": float(excess[(over >= 1) & (over <= 2)].sum()),
                         "3-5": float(excess[(over >= 3) & (over <= 5)].sum()),
                         "6+": float(excess[over >= 6].sum())},
        "nets_over": int(np.count_nonzero(over > 0)),
    }


def best_symmetry_by_count(placed: np.ndarray, hidden: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """The symmetry and integer shift that make the most units sit exactly where the fitted hidden
    placement puts them (the most common displacement), and the integer field placed - fitted
    hidden: (symmetry index, shift, field). Unlike `best_rigid_fit` (mean distance) this picks the
    largest domain as the reference, so the field is 0 on it and a domain's value is its offset
    from the majority. Ties go to the first symmetry, then the smallest shift (deterministic)."""
    placed = np.rint(placed).astype(np.int64)
    hidden = np.rint(hidden).astype(np.int64)
    best = None
    for index, matrix in enumerate(SYMMETRIES):
        offset = placed - hidden @ matrix.T
        values, counts = np.unique(offset, axis=0, return_counts=True)
        top = int(np.argmax(counts))  # np.unique sorts the rows, so the first maximum is the smallest shift
        if best is None or counts[top] > best[0]:
            best = (int(counts[top]), index, values[top], offset - values[top])
    return best[1], best[2], best[3]


def displacement_domains(problem: PlacementProblem, site_of_unit: np.ndarray,
                         hidden_sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The placement's *domains*: maximal groups of units with one displacement from the optimum
    (after `best_symmetry_by_count`) that are connected, two units being joined when they sit on
    sites at most one apart (Chebyshev) or share a net. Returns (label per unit, numbered from 0 in
    decreasing size then first unit; field per unit). A net inside one domain has its hidden length
    (the domain is the optimum translated), so all the excess lies on nets that cross domains:
    the sizes of the domains a net touches say whether the excess is a few walls between large
    domains (what the slides move) or many small misfit groups (which they do not)."""
    p = problem
    n = p.num_units
    _, _, field = best_symmetry_by_count(positions(p, site_of_unit), positions(p, hidden_sites))
    parent = np.arange(n)

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def join(a: np.ndarray, b: np.ndarray) -> None:
        same = np.all(field[a] == field[b], axis=1)
        for i, j in zip(a[same].tolist(), b[same].tolist()):
            ri, rj = find(i), find(j)
            if ri != rj:
                parent[max(ri, rj)] = min(ri, rj)

    # chip neighbours: each unit against the units on the 4 sites "after" it (the other 4 are symmetric)
    occupant = np.full(p.site_at.shape, -1, dtype=np.int64)
    x, y = p.site_x[site_of_unit].astype(np.int64), p.site_y[site_of_unit].astype(np.int64)
    occupant[x, y] = np.arange(n)
    columns, rows = occupant.shape
    for dx, dy in ((1, 0), (0, 1), (1, 1), (1, -1)):
        nx, ny = x + dx, y + dy
        inside = (nx >= 0) & (nx < columns) & (ny >= 0) & (ny < rows)
        other = np.full(n, -1, dtype=np.int64)
        other[inside] = occupant[nx[inside], ny[inside]]
        has = other >= 0
        join(np.flatnonzero(has), other[has])
    # net neighbours: each pin against its net's first pin (a star spans the net)
    first = p.net_pins[p.net_ptr[:-1]][p.pin_net]
    join(p.net_pins, first)
    roots = np.array([find(i) for i in range(n)])
    _, inverse, counts = np.unique(roots, return_inverse=True, return_counts=True)
    first = np.full(len(counts), n, dtype=np.int64)
    np.minimum.at(first, inverse, np.arange(n))  # each domain's first unit
    order = sorted(range(len(counts)), key=lambda k: (-counts[k], int(first[k])))
    rank = np.empty(len(counts), dtype=np.int64)
    rank[order] = np.arange(len(counts))
    return rank[inverse], field


def domain_excess(problem: PlacementProblem, site_of_unit: np.ndarray, hidden_sites: np.ndarray,
                  labels: np.ndarray, bins: tuple[int, ...] = (1, 5, 20, 100)) -> dict:
    """The excess (`excess_by_net`) split by the nets' domains: on nets inside one domain (0 by
    construction, kept as a check), and on crossing nets by the size of the smallest domain they
    touch (bins: at most 1, 2-5, 6-20, 21-100, more), so a wall between two large domains and the
    rim of a one-unit misfit are told apart."""
    p = problem
    excess = excess_by_net(p, site_of_unit, hidden_sites)
    size = np.bincount(labels)[labels]
    pin_label, pin_size = labels[p.net_pins], size[p.net_pins]
    starts = p.net_ptr[:-1]
    inside = np.maximum.reduceat(pin_label, starts) == np.minimum.reduceat(pin_label, starts)
    smallest = np.minimum.reduceat(pin_size, starts)
    edges = (0,) + bins + (np.inf,)
    names = [f"{lo + 1}-{hi}" if hi != np.inf else f">{lo}" for lo, hi in zip(edges[:-1], edges[1:])]
    names[0] = "1"
    crossing = {name: float(excess[~inside & (smallest > lo) & (smallest <= hi)].sum())
                for name, lo, hi in zip(names, edges[:-1], edges[1:])}
    return {"excess": float(excess.sum()), "inside": float(excess[inside].sum()), "crossing_by_smallest": crossing}
