"""Legalisation: from continuous coordinates to distinct sites of each unit's own kind.

Recursive bisection that preserves geometry: the free sites are cut in half across their longer
side, and each unit goes to the side its coordinate lies on, unless that side has run out of sites
of the unit's kind, in which case the units nearest the cut cross over. Where the layout is sparse
nothing moves; where it is dense units spread just far enough to fit. Small regions finish with a
greedy nearest-pair assignment. Units without coordinates take whatever sites remain.
"""

from __future__ import annotations

import numpy as np

from backend_rdu.placement.problem import PlacementProblem

LEAF_SITES = 8


def legalize(problem: PlacementProblem, coords: np.ndarray, placed: np.ndarray | None = None) -> np.ndarray:
    """A legal `site_of_unit` near `coords`. Units already given a site in `placed` (default: the
    pinned units) keep it; the rest are placed near their coordinates, or anywhere if NaN."""
    site_of_unit = (problem.fixed_site if placed is None else placed).copy()
    taken = np.zeros(problem.num_sites, dtype=bool)
    taken[site_of_unit[site_of_unit >= 0]] = True
    free = site_of_unit < 0
    located = free & ~np.isnan(coords[:, 0])
    units = np.flatnonzero(located)
    sites = np.flatnonzero(~taken)
    stack = [(units, sites)]
    while stack:
        units, sites = stack.pop()
        if len(units) == 0:
            continue
        if len(sites) <= LEAF_SITES or len(units) == 1:
            _assign_nearest(problem, coords, units, sites, site_of_unit)
            continue
        stack.extend(_bisect(problem, coords, units, sites))
    leftover = np.flatnonzero(free & ~located)
    taken = np.zeros(problem.num_sites, dtype=bool)
    taken[site_of_unit[site_of_unit >= 0]] = True
    for kind in range(3):
        mine = leftover[problem.unit_kind[leftover] == kind]
        spare = np.flatnonzero(~taken & (problem.site_kind == kind))
        site_of_unit[mine] = spare[: len(mine)]
    return site_of_unit


def _bisect(problem: PlacementProblem, coords: np.ndarray, units: np.ndarray, sites: np.ndarray):
    sx, sy = problem.site_x[sites], problem.site_y[sites]
    axis = 0 if np.ptp(sx) >= np.ptp(sy) else 1
    site_pos = (sx, sy)[axis]
    order = np.argsort(site_pos, kind="stable")
    cut = site_pos[order[len(order) // 2 - 1]] + 0.5  # between two grid lines, near the median site
    if cut >= site_pos.max():  # every site on one line beyond the median: cut below instead
        cut = site_pos[order[0]] + 0.5
    left_sites, right_sites = sites[site_pos < cut], sites[site_pos >= cut]
    left_units, right_units = [], []
    for kind in range(3):
        mine = units[problem.unit_kind[units] == kind]
        if len(mine) == 0:
            continue
        mine = mine[np.argsort(coords[mine, axis], kind="stable")]
        room_left = int(np.count_nonzero(problem.site_kind[left_sites] == kind))
        room_right = int(np.count_nonzero(problem.site_kind[right_sites] == kind))
        natural = int(np.count_nonzero(coords[mine, axis] < cut))
        n_left = min(max(natural, len(mine) - room_right), room_left)
        left_units.append(mine[:n_left])
        right_units.append(mine[n_left:])
    left = np.concatenate(left_units) if left_units else units[:0]
    right = np.concatenate(right_units) if right_units else units[:0]
    return [(left, left_sites), (right, right_sites)]


def _assign_nearest(problem, coords, units, sites, site_of_unit) -> None:
    """Greedy: repeatedly give the closest remaining (unit, site of its kind) pair."""
    for kind in range(3):
        mine = units[problem.unit_kind[units] == kind]
        spots = sites[problem.site_kind[sites] == kind]
        if len(mine) == 0:
            continue
        d = np.abs(coords[mine, 0, None] - problem.site_x[spots][None]) + np.abs(
            coords[mine, 1, None] - problem.site_y[spots][None]
        )
        for flat in np.argsort(d, axis=None, kind="stable"):
            i, j = divmod(int(flat), len(spots))
            if site_of_unit[mine[i]] < 0 and d[i, j] != np.inf:
                site_of_unit[mine[i]] = spots[j]
                d[:, j] = np.inf
                if np.all(site_of_unit[mine] >= 0):
                    break
