"""A global start that spans a kernel between the chip's two AGCU edges.

On the sn40l grid the AGCUs (a kernel's only way to HBM) sit on two columns, the chip's left and
right edges, 13 sites each. A compiler kernel with more AGCUs than one edge holds must reach both
edges: its loads and stores enter at both ends. The default start grows the kernel as one compact
blob and fits it where legalisation moves units least, which puts it against one edge (llama: 13
of 17 AGCUs at x=41, the other 4 across the chip), and a cool annealing run keeps it there: the
blob would have to cross the chip a step at a time, each step longer. Plain annealing from a
random placement with a hot start finds the other shape, the kernel stretched between the edges
with its AGCUs split between them (llama: 9 and 8), and its AGCU nets are half as long.

This start builds that shape directly:

1. **Which edge.** The netlist's layout (pivot MDS, `embedding`) orders units along its long
   axis; the AGCUs are cut in two along it, at the widest gap between consecutive AGCUs among the
   cuts both edges can hold. Along each edge the AGCUs take the sites nearest the chip's middle
   row, in the order of the layout's second axis.
2. **Where in between.** With the AGCUs anchored there, every other unit takes the position that
   minimises the squared wirelength (a net of k pins as a clique of weight w/(k-1), or a star
   through a virtual point beyond CLIQUE_PINS pins): two sparse linear solves, one per axis.
   Quadratic placement keeps the order but crowds the units together, so the x coordinates are
   then spread by rank evenly between the edges, and y is scaled to a band of the height the
   units need at BAND_FILL of the sites.
3. Legalisation (`legalize`) puts each unit on a free site of its kind near that position.

It is a start only: annealing from it decides the details, as from the default start.
"""

from __future__ import annotations

import numpy as np

from backend_rdu.placement.legalize import legalize
from backend_rdu.placement.problem import KIND_INDEX, PlacementProblem

AGCU = KIND_INDEX["agcu"]
CLIQUE_PINS = 16  # nets wider than this are modelled as a star through a virtual point
BAND_FILL = 0.5  # the band between the edges is made tall enough for the units at this share of its sites
FILLS_CHIP = 0.5  # of the chip's sites: a kernel this large spans the chip whatever its start
REGULARISE = 1e-6  # a weak pull to the chip's middle: units with no path to an AGCU stay solvable


def needs_both_edges(problem: PlacementProblem) -> bool:
    """True when the AGCU sites lie on two columns and the netlist's free AGCUs exceed what the
    fuller of them can hold: the kernel must reach both edges. A kernel that takes more than
    FILLS_CHIP of the chip's sites reaches both edges from any start, and is left to it."""
    columns = _agcu_columns(problem)
    if len(columns) != 2 or problem.num_units > FILLS_CHIP * problem.num_sites:
        return False
    free_agcus = int(np.count_nonzero((problem.unit_kind == AGCU) & (problem.fixed_site < 0)))
    return free_agcus > max(len(sites) for sites in columns.values())


def edge_span_start(problem: PlacementProblem, layout_coords: np.ndarray) -> np.ndarray:
    """A legal `site_of_unit` with the AGCUs split between the two AGCU columns and the rest of
    the kernel spread between them (see the module docstring). `layout_coords` is the netlist's
    layout (`embedding.embed(...).coords`), which decides the order along and across the band."""
    p = problem
    columns = _agcu_columns(p)
    pinned = p.fixed_site[p.fixed_site >= 0]
    (left_x, left_sites), (right_x, right_sites) = ((x, sites[~np.isin(sites, pinned)]) for x, sites in sorted(columns.items()))
    along, across = _principal_axes(layout_coords)
    agcus = np.flatnonzero((p.unit_kind == AGCU) & (p.fixed_site < 0))
    order = agcus[np.argsort(along[agcus], kind="stable")]
    cut = _cut(along[order], len(left_sites), len(right_sites))
    placed = p.fixed_site.copy()
    middle = (p.site_at.shape[1] - 1) / 2
    for members, free in ((order[:cut], left_sites), (order[cut:], right_sites)):
        nearest = free[np.argsort(np.abs(p.site_y[free] - middle), kind="stable")[: len(members)]]
        nearest = nearest[np.argsort(p.site_y[nearest], kind="stable")]
        placed[members[np.argsort(across[members], kind="stable")]] = nearest
    anchored = placed >= 0
    anchor_xy = np.stack([p.site_x[placed], p.site_y[placed]], axis=1).astype(np.float64)
    xy = _quadratic(p, anchored, anchor_xy)
    coords = _spread(p, xy, anchored, left_x, right_x)
    return legalize(p, coords, placed)


def _agcu_columns(problem: PlacementProblem) -> dict[int, np.ndarray]:
    sites = problem.sites_of_kind(AGCU)
    return {int(x): sites[problem.site_x[sites] == x] for x in np.unique(problem.site_x[sites])}


def _principal_axes(coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's position along the layout's long axis and across it (NaN-free: units the
    layout left out sit at the middle)."""
    xy = np.where(np.isnan(coords), np.nanmean(coords, axis=0), coords)
    centred = xy - xy.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    return centred @ axes[0], centred @ axes[1]


def _cut(along: np.ndarray, left_room: int, right_room: int) -> int:
    """How many of the AGCUs (sorted along the layout) go to the left edge: the cut at the widest
    gap among the cuts both edges can hold."""
    n = len(along)
    low, high = max(n - right_room, 0), min(left_room, n)
    gaps = [(along[k] - along[k - 1] if 0 < k < n else 0.0, -abs(2 * k - n), k) for k in range(low, high + 1)]
    return max(gaps)[2]


def _quadratic(p: PlacementProblem, anchored: np.ndarray, anchor_xy: np.ndarray) -> np.ndarray:
    """Positions minimising the weighted squared net length with the anchored units fixed: the
    Laplacian system of the clique/star net model, solved densely (a few hundred unknowns)."""
    n = p.num_units
    wide = [net for net in range(p.num_nets) if p.net_degree[net] > CLIQUE_PINS]
    size = n + len(wide)
    laplacian = np.zeros((size, size))
    virtual = {net: n + i for i, net in enumerate(wide)}
    for net in range(p.num_nets):
        pins = p.net_pins[p.net_ptr[net]:p.net_ptr[net + 1]]
        k, w = len(pins), p.net_weight[net]
        if net in virtual:  # a star: each pin to the net's own point
            a, b, edge = pins, np.full(k, virtual[net]), 2 * w / (k - 1)
        else:
            i, j = np.triu_indices(k, 1)
            a, b, edge = pins[i], pins[j], w / (k - 1)
        np.add.at(laplacian, (a, b), -edge)
        np.add.at(laplacian, (b, a), -edge)
        np.add.at(laplacian, (a, a), edge)
        np.add.at(laplacian, (b, b), edge)
    fixed = np.zeros(size, dtype=bool)
    fixed[:n] = anchored
    free, held = np.flatnonzero(~fixed), np.flatnonzero(fixed)
    system = laplacian[np.ix_(free, free)] + REGULARISE * np.eye(len(free))
    middle = np.array([(p.site_at.shape[0] - 1) / 2, (p.site_at.shape[1] - 1) / 2])
    rhs = -laplacian[np.ix_(free, held)] @ anchor_xy[held] + REGULARISE * middle
    solved = np.linalg.solve(system, rhs)
    out = anchor_xy.copy()
    out[free[free < n]] = solved[free < n]
    return out


def _spread(p: PlacementProblem, xy: np.ndarray, anchored: np.ndarray, left_x: int, right_x: int) -> np.ndarray:
    """Spread the quadratic positions: x evenly by rank between the edges, y to a band tall
    enough for the units at BAND_FILL of its sites, centred where the solve put them."""
    coords = xy.copy()
    free = np.flatnonzero(~anchored)
    if len(free) == 0:
        return coords
    rank = np.argsort(np.argsort(xy[free, 0], kind="stable"), kind="stable")
    coords[free, 0] = left_x + 1 + rank * (right_x - left_x - 2) / max(len(free) - 1, 1)
    height = len(free) / (BAND_FILL * (right_x - left_x - 1))
    y = xy[free, 1]
    spread = np.ptp(y)
    centre = (y.min() + y.max()) / 2
    if spread > 0:
        coords[free, 1] = centre + (y - centre) * (height / spread)
    return coords
