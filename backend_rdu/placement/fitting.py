"""Putting grown components onto the chip: the orientation and shift that legalises with least
movement.

Each component grown on the unbounded lattice is tried in all eight orientations (quarter turns,
with and without a mirror). For each, the total distance from every unit to the nearest free site
of its own kind is computed for every shift at once, as a cross-correlation (FFT) of the
component's unit image with a distance map of the chip's free sites, one per kind. The distance
map, unlike a plain count of units that land on sites, also steers units of scarce kinds (AGCUs on
the chip's edges) towards their sites. Pinned units count heavily for the shift that puts them on
their pins; ties go to the shift nearest the chip's centre. Components go largest first, each onto
the sites the earlier ones left.
"""

from __future__ import annotations

import numpy as np

from backend_rdu.placement.problem import PlacementProblem

PIN_WEIGHT = 16.0  # grid steps of legalisation a pinned unit on its pin is worth


def fit_component(
    problem: PlacementProblem, members: np.ndarray, points: np.ndarray, free: np.ndarray
) -> np.ndarray:
    """Chip coordinates (integer) for `members`, given lattice `points` and the `free` site mask."""
    p = problem
    columns, rows = p.site_at.shape
    kinds = p.unit_kind[members]
    pinned = p.fixed_site[members] >= 0
    pin_xy = np.stack([p.site_x[p.fixed_site[members]], p.site_y[p.fixed_site[members]]], axis=1)
    centre = np.array([(columns - 1) / 2, (rows - 1) / 2])
    reach = int(np.ptp(points, axis=0).max()) + 1  # the component's largest extent
    # distance maps over a canvas that extends `reach` beyond the chip on every side
    canvas = (columns + 2 * reach, rows + 2 * reach)
    distance = {k: _distance_map(p, free, k, canvas, reach) for k in np.unique(kinds).tolist()}

    best_score, best = -np.inf, None
    for q in _orientations(points):
        q = q - q.min(axis=0)
        w, h = q.max(axis=0) + 1
        size = (_fft_size(canvas[0] + w), _fft_size(canvas[1] + h))
        cost = np.zeros(size)
        for k, dmap in distance.items():
            mine = kinds == k
            unit_image = np.zeros(size)
            np.add.at(unit_image, (q[mine, 0], q[mine, 1]), 1.0)
            cost += np.fft.irfft2(np.fft.rfft2(dmap, size) * np.conj(np.fft.rfft2(unit_image, size)), size)
        # cost[i, j]: units at q + (i, j) - reach on the chip; keep shifts that stay on the canvas
        cost = np.rint(cost[: canvas[0] - w + 1, : canvas[1] - h + 1])
        tx = np.arange(cost.shape[0]) - reach
        ty = np.arange(cost.shape[1]) - reach
        score = -cost
        if pinned.any():
            need = pin_xy[pinned] - q[pinned] + reach
            ok = (need[:, 0] >= 0) & (need[:, 0] < cost.shape[0]) & (need[:, 1] >= 0) & (need[:, 1] < cost.shape[1])
            np.add.at(score, (need[ok, 0], need[ok, 1]), PIN_WEIGHT)
        middle = (w - 1) / 2, (h - 1) / 2
        off_centre = np.abs(tx[:, None] + middle[0] - centre[0]) + np.abs(ty[None, :] + middle[1] - centre[1])
        total = score - 1e-4 * off_centre
        i, j = np.unravel_index(int(np.argmax(total)), total.shape)
        if total[i, j] > best_score + 1e-9:
            best_score, best = total[i, j], q + np.array([tx[i], ty[j]])
    return best


def _orientations(points: np.ndarray) -> list[np.ndarray]:
    out = []
    for mirror in (False, True):
        q = points * np.array([-1, 1]) if mirror else points
        for _ in range(4):
            out.append(q.copy())
            q = np.stack([-q[:, 1], q[:, 0]], axis=1)
    return out


def _fft_size(n: int) -> int:
    return int(2 ** np.ceil(np.log2(n)))


def _distance_map(p: PlacementProblem, free: np.ndarray, kind: int, canvas: tuple[int, int], reach: int) -> np.ndarray:
    """Manhattan distance from each canvas point to the nearest free site of `kind` (two-pass)."""
    big = float(canvas[0] + canvas[1])
    d = np.full(canvas, big)
    mine = np.flatnonzero(free & (p.site_kind == kind))
    d[p.site_x[mine] + reach, p.site_y[mine] + reach] = 0.0
    for x in range(1, canvas[0]):
        d[x] = np.minimum(d[x], d[x - 1] + 1)
    for x in range(canvas[0] - 2, -1, -1):
        d[x] = np.minimum(d[x], d[x + 1] + 1)
    for y in range(1, canvas[1]):
        d[:, y] = np.minimum(d[:, y], d[:, y - 1] + 1)
    for y in range(canvas[1] - 2, -1, -1):
        d[:, y] = np.minimum(d[:, y], d[:, y + 1] + 1)
    return d
