"""A spectral layout: the netlist's smoothest non-trivial coordinates, as a global start's shape.

Why: at 2,000 units the annealed result keeps the global distortion of its start (docs/placement.md,
waves 9-10): pivot MDS on hop distances (`embedding`) lays the netlist out with a median distortion
of ~7 sites from the hidden placement, the grown start ~4, and the annealer repairs local noise but
not that. The eigenvectors of the net graph's Laplacian with the smallest non-zero eigenvalues are
the coordinates that minimise the squared wirelength of the clique model over all layouts of unit
spread, decided by every net at once rather than by a few dozen breadth-first pivots; for a netlist
drawn from a 2-D patch they are the patch's first two vibration modes (cos(pi x / W) and
cos(pi y / H) on a rectangle), smooth monotone distortions of its two axes.

1. **Laplacian**: the clique model, a net of k pins adding 1 / (k - 1) to each pair it holds (so a
   net's total pull grows as k, as its half-perimeter does); net weights are left out (WEIGHTED):
   the shape is the adjacency's, and on `clustered` the weighted modes were no better placed
   (median distortion 10.8 / 5.7 / 10.3 sites against 11.6 / 4.7 / 10.1 on three seeds). Nets over
   CLIQUE_PINS pins are left out (they say little about where a unit lies and cost k^2 entries).
2. **Modes**: per connected group of units, the generalised problem L v = lambda D v (D the
   weighted degrees: the normalised cut, which keeps heavy groups from pinning the smallest modes
   on a few units), by shift-invert Lanczos (scipy `eigsh`); the MODES smallest non-trivial ones,
   each scaled to 1 / sqrt(lambda), its geometric length.
3. **Which two, at which angle**: on a patch longer than it is wide the second and third modes can
   both run along its length (cos(pi x / W), cos(2 pi x / W)), and when two eigenvalues are close
   the modes are any rotation of the two axes; so each pair of the first MODES is turned to the
   angle of least Manhattan half-perimeter (`_turn`), spread, and the pair with the shortest
   clique wirelength is kept.
4. **Spreading** (`spread`): the modes crowd units at the patch's border (a cosine is flat at its
   ends); each axis is replaced by its rank, then by its rank within each half of the other axis
   (SPREAD_ROUNDS, BANDS: more bands add local noise: 3.0 sites at 8 bands against 1.6 at 2, pins23), which keeps every
   unit's order along both axes and gives near-uniform density, scaled to one unit per site at
   the modes' aspect.

Measured on the 2,000-unit generators (docs/placement.md, wave 11): the layout's median
distance from the hidden placement (best of the 8 symmetries and a shift) is 1.4-3.8 sites on
pins23, multipin, mixed and geometric (the default start: 4.0 on pins23, one seed), but 4.7-11.6 on
`clustered` (weakly connected blobs: no pair of modes is the blob arrangement). A start that is
globally closer did not end shorter after 30 s of annealing, so it is opt-in.

`embedding.embed(..., method="spectral")` uses it in place of pivot MDS for groups of at least
SPECTRAL_UNITS units (`placer.construct(..., "spectral")` legalises it and runs the analytic rounds).
"""

from __future__ import annotations

import itertools

import numpy as np
import scipy.sparse as sparse
from scipy.sparse.linalg import eigsh

from backend_rdu.placement.problem import PlacementProblem

CLIQUE_PINS = 32  # nets with more pins are left out of the Laplacian
WEIGHTED = False
MODES = 4  # smallest non-trivial modes computed; the layout uses the best pair of them
SPREAD_ROUNDS = 2  # rank passes of `spread`: one global, then one within bands of the other axis
BANDS = 2  # ... each axis re-ranked within this many bands of the other (8: more local noise)


def laplacian(problem: PlacementProblem, members: np.ndarray) -> sparse.csr_matrix:
    """The clique-model Laplacian of the nets among `members` (local indices, nets over CLIQUE_PINS
    pins left out, pins outside `members` dropped)."""
    p = problem
    local = np.full(p.num_units, -1, dtype=np.int64)
    local[members] = np.arange(len(members))
    rows, cols, vals = [], [], []
    degree = p.net_degree
    for k in np.unique(degree):
        if k < 2 or k > CLIQUE_PINS:
            continue
        nets = np.flatnonzero(degree == k)
        pins = p.net_pins[p.net_ptr[nets][:, None] + np.arange(k)[None, :]]  # nets x k
        pins = local[pins]
        w = (p.net_weight[nets] if WEIGHTED else np.ones(len(nets))) / (k - 1)
        for i, j in itertools.combinations(range(k), 2):
            keep = (pins[:, i] >= 0) & (pins[:, j] >= 0) & (pins[:, i] != pins[:, j])
            rows.append(pins[keep, i])
            cols.append(pins[keep, j])
            vals.append(w[keep])
    n = len(members)
    if not rows:
        return sparse.csr_matrix((n, n))
    r, c, v = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    adjacency = sparse.coo_matrix((np.concatenate([v, v]), (np.concatenate([r, c]), np.concatenate([c, r]))),
                                  shape=(n, n)).tocsr()
    return sparse.diags(np.asarray(adjacency.sum(axis=1)).ravel()) - adjacency


def spectral_layout(problem: PlacementProblem, members: np.ndarray, seed: int) -> np.ndarray:
    """len(members) x 2 coordinates (one unit per grid site on average, centred at the origin) of
    one connected group of units from its smallest Laplacian modes (module docstring)."""
    n = len(members)
    if n <= 3:
        return np.column_stack([np.arange(n, dtype=np.float64), np.zeros(n)])
    lap = laplacian(problem, members)
    values, modes = _modes(lap, min(MODES, n - 2), seed)
    # a mode's geometric length is 1 / sqrt(eigenvalue) (cos(pi x / W): eigenvalue ~ (pi / W)^2)
    modes = modes / np.maximum(modes.std(axis=0), 1e-12) / np.sqrt(np.maximum(values, 1e-12))
    hpwl = _Hpwl(problem, members)
    best, best_cost = None, np.inf
    for i, j in itertools.combinations(range(modes.shape[1]), 2):
        xy = _turn(hpwl, modes[:, [i, j]])
        xy = spread(xy, float(xy[:, 0].std() / max(xy[:, 1].std(), 1e-12)))
        cost = _quadratic(lap, xy)
        if cost < best_cost - 1e-9:
            best, best_cost = xy, cost
    return best


class _Hpwl:
    """Weighted half-perimeter of the nets among one group's units, for layouts of that group."""

    def __init__(self, problem: PlacementProblem, members: np.ndarray) -> None:
        local = np.full(problem.num_units, -1, dtype=np.int64)
        local[members] = np.arange(len(members))
        pins = local[problem.net_pins]
        inside = np.bincount(problem.pin_net, weights=(pins >= 0).astype(np.float64), minlength=problem.num_nets)
        keep = (inside == problem.net_degree) & (problem.net_degree >= 2)  # a group's nets lie inside it
        nets = np.flatnonzero(keep)
        self.pins = pins[np.isin(problem.pin_net, nets)]
        self.starts = np.concatenate([[0], np.cumsum(problem.net_degree[nets])[:-1]]).astype(np.int64)
        self.weight = problem.net_weight[nets]

    def __call__(self, xy: np.ndarray) -> float:
        if len(self.weight) == 0:
            return 0.0
        pts = xy[self.pins]
        span = np.maximum.reduceat(pts, self.starts, axis=0) - np.minimum.reduceat(pts, self.starts, axis=0)
        return float(np.dot(self.weight, span.sum(axis=1)))


def _turn(hpwl: _Hpwl, xy: np.ndarray) -> np.ndarray:
    """The layout turned to the angle of least Manhattan wirelength. The modes fix their plane but
    not the angle within it when two eigenvalues are close (clustered, 2,000 units: the first two
    modes ran along the diagonals, and spreading them axis by axis squashed the diamond into a
    square, 11 sites of median distortion); the chip's wires are Manhattan, so the angle whose
    half-perimeter is least is the one whose axes are the netlist's own."""
    xy = xy - xy.mean(axis=0)

    def turned(degrees: float) -> np.ndarray:
        t = np.radians(degrees)
        return xy @ np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])

    coarse = min(np.arange(0.0, 90.0, 3.0), key=lambda a: hpwl(turned(a)))
    return turned(min(coarse + np.arange(-1.5, 1.75, 0.5), key=lambda a: hpwl(turned(a))))


def _modes(lap: sparse.csr_matrix, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The `count` smallest non-trivial generalised eigenvalues and eigenvectors (as columns) of
    (lap, D)."""
    n = lap.shape[0]
    d = np.maximum(lap.diagonal(), 1e-12)
    mass = sparse.diags(d)
    v0 = np.random.default_rng(seed).standard_normal(n)
    # shift below zero: lap - sigma D is positive definite, so the factorisation is safe
    sigma = -1e-3
    try:
        values, vectors = eigsh(lap.tocsc(), k=count + 1, M=mass.tocsc(), sigma=sigma, which="LM", v0=v0)
    except Exception:  # a near-singular shift (it should not happen on a connected group): dense fallback
        import scipy.linalg
        values, vectors = scipy.linalg.eigh(lap.toarray(), np.diag(d))
    order = np.argsort(values)
    keep = order[1:count + 1]
    return values[keep], vectors[:, keep]


def spread(xy: np.ndarray, aspect: float = 1.0) -> np.ndarray:
    """Near-uniform density with every unit's order along each axis kept (module docstring, 4),
    scaled to one unit per grid site and centred at the origin."""
    n = len(xy)
    out = xy.astype(np.float64).copy()
    side = np.sqrt(n)
    bands = max(1, min(BANDS, int(side // 4)))
    for r in range(SPREAD_ROUNDS):
        for axis in (0, 1):
            other = out[:, 1 - axis]
            band = np.minimum((_rank(other) * bands / n).astype(np.int64), bands - 1) if r > 0 else np.zeros(n, dtype=np.int64)
            new = np.empty(n)
            for b in range(bands if r > 0 else 1):
                mine = np.flatnonzero(band == b)
                if len(mine):
                    new[mine] = (_rank(out[mine, axis]) + 0.5) / len(mine)
            out[:, axis] = new
    # the unit square, stretched to `aspect` (width over height) and to n sites of area
    aspect = min(max(aspect, 0.25), 4.0)
    w, h = side * np.sqrt(aspect), side / np.sqrt(aspect)
    return (out - 0.5) * np.array([w, h])


def _rank(values: np.ndarray) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    rank = np.empty(len(values))
    rank[order] = np.arange(len(values))
    return rank


def _quadratic(lap: sparse.csr_matrix, xy: np.ndarray) -> float:
    return float(sum(xy[:, a] @ (lap @ xy[:, a]) for a in range(2)))
