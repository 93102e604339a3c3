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
