"""Putting grown components onto the chip: the symmetry and shift where most units land on sites.

Each component grown on the unbounded lattice is tried in all eight orientations (rotations by
quarter turns, with and without a mirror). For each, the count of units that would land on a free
site of their own kind is computed for every shift at once as a cross-correlation (FFT) of the
component's unit image with the chip's free-site image, one per kind. Pinned units count heavily
for the shift that puts them on their pins; ties go to the shift nearest the chip's centre.
Components go largest first, each onto the sites the earlier ones left.
"""

from __future__ import annotations

import numpy as np

from backend_rdu.placement.problem import PlacementProblem

PIN_WEIGHT = 16.0  # a pinned unit on its pin outweighs this many units landing on free sites


def _orientations(points: np.ndarray) -> list[np.ndarray]:
    out = []
    for mirror in (False, True):
        q = points * np.array([-1, 1]) if mirror else points
        for _ in range(4):
            out.append(q.copy())
            q = np.stack([-q[:, 1], q[:, 0]], axis=1)
    return out


def fit_component(
    problem: PlacementProblem, members: np.ndarray, points: np.ndarray, free: np.ndarray
) -> np.ndarray:
    """Chip coordinates (integer) for `members`, given lattice `points` and the `free` site mask."""
    p = problem
    columns, rows = p.site_at.shape
    kinds = p.unit_kind[members]
    site_image = np.zeros((3, columns, rows))
    sites = np.flatnonzero(free)
    site_image[p.site_kind[sites], p.site_x[sites], p.site_y[sites]] = 1.0
    pinned = p.fixed_site[members] >= 0
    pin_xy = np.stack([p.site_x[p.fixed_site[members]], p.site_y[p.fixed_site[members]]], axis=1)
    centre = np.array([(columns - 1) / 2, (rows - 1) / 2])

    best_score, best = -np.inf, None
    for q in _orientations(points):
        low = q.min(axis=0)
        q = q - low
        w, h = q.max(axis=0) + 1
        size = (int(2 ** np.ceil(np.log2(columns + w))), int(2 ** np.ceil(np.log2(rows + h))))
        score = np.zeros(size)
        for k in range(3):
            mine = kinds == k
            if not mine.any() or not site_image[k].any():
                continue
            unit_image = np.zeros(size)
            np.add.at(unit_image, (q[mine, 0], q[mine, 1]), 1.0)
            spectrum = np.fft.rfft2(site_image[k], size) * np.conj(np.fft.rfft2(unit_image, size))
            score += np.fft.irfft2(spectrum, size)
        score = np.rint(score)
        # shift t (unit at q lands on q + t) is stored at index t mod size
        tx = np.arange(size[0])
        ty = np.arange(size[1])
        tx = np.where(tx >= size[0] - w + 1, tx - size[0], tx)
        ty = np.where(ty >= size[1] - h + 1, ty - size[1], ty)
        if pinned.any():
            need = pin_xy[pinned] - q[pinned]
            np.add.at(score, (need[:, 0] % size[0], need[:, 1] % size[1]), PIN_WEIGHT)
        middle = (q.min(axis=0) + q.max(axis=0)) / 2
        off_centre = np.abs(tx[:, None] + middle[0] - centre[0]) + np.abs(ty[None, :] + middle[1] - centre[1])
        total = score - 1e-4 * off_centre
        i, j = np.unravel_index(int(np.argmax(total)), total.shape)
        if total[i, j] > best_score + 1e-9:
            best_score, best = total[i, j], q + np.array([tx[i], ty[j]])
    return best
