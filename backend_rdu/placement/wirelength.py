"""Half-perimeter wirelength and the lower bound the placer reports against.

Wirelength is the sum over nets of weight x half-perimeter of the bounding box of the net's units.
The lower bound is per net: the smallest box on this chip that holds enough sites of each kind
for the net's units (two PCUs can never be adjacent on a checkerboard, so such a net costs at
least 2), and no smaller than the box of the net's pinned units. Summed over nets this is a valid
bound on any legal placement, and it is exact for netlists of neighbour-only nets, such as the
hidden-optimum benchmarks.
"""

from __future__ import annotations

import numpy as np

from backend_rdu.placement.problem import PlacementProblem


def net_hpwl(problem: PlacementProblem, site_of_unit: np.ndarray) -> np.ndarray:
    """Half-perimeter of each net's bounding box (unweighted), as int64."""
    if problem.num_nets == 0:
        return np.zeros(0, dtype=np.int64)
    sites = site_of_unit[problem.net_pins]
    starts = problem.net_ptr[:-1]
    px, py = problem.site_x[sites], problem.site_y[sites]
    return (
        np.maximum.reduceat(px, starts)
        - np.minimum.reduceat(px, starts)
        + np.maximum.reduceat(py, starts)
        - np.minimum.reduceat(py, starts)
    )


def wirelength(problem: PlacementProblem, site_of_unit: np.ndarray) -> float:
    """Sum over nets of weight x half-perimeter wirelength."""
    return float(np.dot(problem.net_weight, net_hpwl(problem, site_of_unit)))


def net_lower_bounds(problem: PlacementProblem) -> np.ndarray:
    """A lower bound on each net's half-perimeter in any legal placement."""
    if problem.num_nets == 0:
        return np.zeros(0, dtype=np.int64)
    kinds = problem.unit_kind[problem.net_pins].astype(np.int64)
    counts = np.zeros((problem.num_nets, 3), dtype=np.int64)
    np.add.at(counts, (problem.pin_net, kinds), 1)
    boxes = SmallestBox(problem.site_at, problem.site_kind)
    bound = np.array([boxes.half_perimeter(tuple(c)) for c in counts], dtype=np.int64)
    return np.maximum(bound, _pinned_span(problem))


def wirelength_lower_bound(problem: PlacementProblem) -> float:
    return float(np.dot(problem.net_weight, net_lower_bounds(problem)))


def _pinned_span(problem: PlacementProblem) -> np.ndarray:
    fixed = problem.fixed_site[problem.net_pins]
    if not np.any(fixed >= 0):
        return np.zeros(problem.num_nets, dtype=np.int64)
    starts = problem.net_ptr[:-1]
    px = np.where(fixed >= 0, problem.site_x[fixed], np.nan)
    py = np.where(fixed >= 0, problem.site_y[fixed], np.nan)
    with np.errstate(invalid="ignore"):
        span = (
            np.fmax.reduceat(px, starts) - np.fmin.reduceat(px, starts)
            + np.fmax.reduceat(py, starts) - np.fmin.reduceat(py, starts)
        )
    return np.nan_to_num(span, nan=0.0).astype(np.int64)


class SmallestBox:
    """Smallest half-perimeter of a grid box holding at least `counts[k]` sites of each kind k
    (`site_at[x, y]` a site index or -1, `site_kind[site]` its kind index)."""

    def __init__(self, site_at: np.ndarray, site_kind: np.ndarray) -> None:
        columns, rows = site_at.shape
        occupied = site_at >= 0
        kinds = np.where(occupied, site_kind[np.maximum(site_at, 0)], -1)
        self.prefix = []  # 2-D prefix sums of "site of kind k at (x, y)"
        for k in range(3):
            grid = (kinds == k).astype(np.int64)
            self.prefix.append(np.pad(grid.cumsum(0).cumsum(1), ((1, 0), (1, 0))))
        self.columns, self.rows = columns, rows
        self.cache: dict[tuple[int, ...], int] = {}

    def half_perimeter(self, counts: tuple[int, ...]) -> int:
        if counts not in self.cache:
            self.cache[counts] = self._search(counts)
        return self.cache[counts]

    def _search(self, counts: tuple[int, ...]) -> int:
        if sum(counts) <= 1:
            return 0
        for p in range(self.columns + self.rows - 1):
            for w in range(min(p, self.columns - 1) + 1):
                h = p - w
                if h >= self.rows:
                    continue
                fits = np.ones((self.columns - w, self.rows - h), dtype=bool)
                for k, need in enumerate(counts):
                    if need:
                        s = self.prefix[k]
                        inside = s[w + 1 :, h + 1 :] - s[: -w - 1, h + 1 :] - s[w + 1 :, : -h - 1] + s[: -w - 1, : -h - 1]
                        fits &= inside >= need
                if fits.any():
                    return p
        return self.columns + self.rows - 2
