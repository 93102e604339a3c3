"""Large moves that no annealing move can make: the whole placement turned a quarter turn.

Why (docs/placement.md, "Wave 11: tears and large moves"). On sn40l a 2,000-unit netlist fills 95%
of the 42 x 52 sites, so its optimal shape is the chip's own. The placer's 30 s result for
`multipin` (seed 552299542, 1.20x the optimum) is, region by region, the hidden placement turned a
quarter turn (95% of the units' neighbourhoods fit it best with a 90 degree rotation), squeezed by
42/52 along one axis and stretched by 52/42 along the other to fit the chip: a third of the nets
each carry one or two sites of excess, spread over the whole chip. Annealing moves units by a few
sites; turning the placement back takes every unit moving at once, so no run of any length finds
it. Turned a quarter turn and rescaled to the box the units occupy, the squeeze and the stretch
cancel (the rotated placement is R D R^-1 H = D^-1 H, and rescaling to the box multiplies by D), so
what is left is local noise, which annealing repairs.

The move is general: a placement's orientation is decided early (the start's fit onto the chip)
and is only wrong where the chip is nearly square and nearly full, so the placer weighs the turned
placement against the current one by a short probe run from each (`placer._Run.try_quarter_turn`)
instead of trusting either.
"""

from __future__ import annotations

import numpy as np

from backend_rdu.placement.legalize import legalize
from backend_rdu.placement.problem import PlacementProblem


def quarter_turn(problem: PlacementProblem, site_of_unit: np.ndarray) -> np.ndarray:
    """`site_of_unit` turned a quarter turn about the middle of the box its free units occupy and
    rescaled to that box (so the turned placement covers the same sites), then legalised (each
    unit to a site of its kind near its turned position; pinned units stay)."""
    p = problem
    free = p.fixed_site < 0
    if not free.any():
        return np.asarray(site_of_unit).copy()
    x = p.site_x[site_of_unit].astype(np.float64)
    y = p.site_y[site_of_unit].astype(np.float64)
    x0, x1 = x[free].min(), x[free].max()
    y0, y1 = y[free].min(), y[free].max()
    u = (y - y0) / max(y1 - y0, 1.0)  # turned: the old y runs along x ...
    v = (x1 - x) / max(x1 - x0, 1.0)  # ... and the old x, reversed, along y
    coords = np.stack([x0 + u * (x1 - x0), y0 + v * (y1 - y0)], axis=1)
    coords[~free] = np.nan
    return legalize(p, coords)
