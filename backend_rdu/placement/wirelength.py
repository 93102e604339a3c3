"""Half-perimeter wirelength and the lower bound the placer reports against.

Wirelength is the sum over nets of weight x half-perimeter of the bounding box of the net's units.
The lower bound is the larger of two bounds, each valid for every legal placement (every unit on a
distinct site of its kind, pinned units on their pins):

1. **Per net** (`net_lower_bounds`): the smallest box on this chip that holds enough sites of each
   kind for the net's units (two PCUs can never be adjacent on a checkerboard, so such a net costs
   at least 2), and no smaller than the box of the net's pinned units. A net's half-perimeter is
   at least its own minimum, so the weighted sum bounds the total. Exact for netlists whose nets
   are each as compact as their kinds allow (the hidden-optimum generators).
2. **Neighbourhoods** (`NeighbourhoodBound`): per-net minima ignore that a unit's many neighbours
   cannot all sit next to it. Nets of 2 and 3 pins (larger ones keep their per-net bound) are
   turned into pair terms: for k pins in a box of half-perimeter P, the pairwise Manhattan
   distances sum to at most floor(k/2) x ceil(k/2) x P (on each axis, sorted gaps g_m are counted
   m(k - m) times), so HPWL >= sum over pairs of d(u, v) / (floor(k/2) ceil(k/2)): equality for
   k = 2 and 3. Each pair term c x d(u, v) is split between its ends (alpha c to u, (1 - alpha) c to
   v, any alpha in [0, 1]), so the total is the sum over units u of star(u) = sum over u's
   neighbours v of c_uv x d(u, v). Whatever the placement, u sits on some site s of its kind and
   its neighbours of kind K on distinct K-sites other than s, so by the rearrangement inequality
   star(u) is at least min over s of sum_K sum_i c^K_(i) x delta^K_i(s): the coefficients sorted
   down against the distances from s to the K-sites sorted up. Summing these per-unit minima
   relaxes the coupling between units (each may pick its own s), so it stays a lower bound. A
   pinned unit's s is its pin; a pair of pinned units costs its exact distance.

With integral weights the optimum is an integer, so the bound is rounded up.
"""

from __future__ import annotations

import math

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


LOWER_BOUND_METHOD = "per-net smallest box or unit neighbourhoods, whichever is larger"
PAIR_NETS_UP_TO = (2, 3)  # the neighbourhood bound is tried with nets of <= 2 and of <= 3 pins as pair terms


def wirelength_lower_bound(problem: PlacementProblem) -> float:
    """The larger of the per-net and the neighbourhood bound (see the module docstring)."""
    per_net = net_lower_bounds(problem)
    weight = problem.net_weight
    best = float(np.dot(weight, per_net))
    degree = problem.net_degree
    if problem.num_nets and degree.min() <= max(PAIR_NETS_UP_TO):
        stars = NeighbourhoodBound(problem)
        for largest in PAIR_NETS_UP_TO:
            paired = degree <= largest
            if paired.any():
                best = max(best, float(np.dot(weight[~paired], per_net[~paired])) + stars.bound(paired))
    if np.all(weight == np.round(weight)):
        # integer weights make every wirelength an integer, so the bound may round up; the split's
        # adjusted shares are not exact binary fractions, so allow float error relative to the total
        best = math.ceil(best - 1e-9 * max(1.0, best))
    return float(best)


def pair_share(pins: int) -> float:
    """The largest c with HPWL >= c x (sum of pairwise Manhattan distances) for any `pins` points."""
    return 1.0 / ((pins // 2) * ((pins + 1) // 2))


NO_SITE = 10**6  # distance standing for "no such site"; only ever multiplied by a zero coefficient


def nearest_site_distances(site_x: np.ndarray, site_y: np.ndarray, site_kind: np.ndarray, lengths: tuple[int, ...]) -> np.ndarray:
    """Per site s, for each kind K, the `lengths[K]` smallest Manhattan distances from s to the
    other sites of kind K, ascending, concatenated over K (a very large value once sites run out)."""
    parts = []
    for kind, length in enumerate(lengths):
        if length == 0:
            continue
        others = np.flatnonzero(site_kind == kind)
        dist = (np.abs(site_x[:, None] - site_x[others][None, :]) + np.abs(site_y[:, None] - site_y[others][None, :])).astype(np.int64)
        dist[others, np.arange(len(others))] = NO_SITE  # a unit's own site holds no neighbour
        if length < dist.shape[1]:
            dist = np.partition(dist, length - 1, axis=1)[:, :length]
        dist = np.sort(dist, axis=1)
        if dist.shape[1] < length:
            dist = np.pad(dist, ((0, 0), (0, length - dist.shape[1])), constant_values=NO_SITE)
        parts.append(dist)
    return np.concatenate(parts, axis=1) if parts else np.zeros((len(site_x), 0), dtype=np.int64)


SPLIT_ROUNDS = 12


_PROFILE_CACHE: dict[tuple, tuple[np.ndarray, dict[int, np.ndarray]]] = {}


def _site_profiles(site_x: np.ndarray, site_y: np.ndarray, site_kind: np.ndarray,
                   lengths: tuple[int, ...]) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """`nearest_site_distances` as floats and, per unit kind, the Pareto rows of its sites;
    cached per chip and lengths (a compile bounds every kernel on the same chip)."""
    key = (site_x.tobytes(), site_y.tobytes(), site_kind.tobytes(), lengths)
    if key not in _PROFILE_CACHE:
        if len(_PROFILE_CACHE) >= 16:
            _PROFILE_CACHE.pop(next(iter(_PROFILE_CACHE)))
        distances = nearest_site_distances(site_x, site_y, site_kind, lengths).astype(np.float64)
        profiles = {k: _pareto_rows(distances[site_kind == k]) for k in range(3) if np.any(site_kind == k)}
        _PROFILE_CACHE[key] = distances, profiles
    return _PROFILE_CACHE[key]


def _pareto_rows(rows: np.ndarray) -> np.ndarray:
    """The distinct rows not dominated by another (>= everywhere): with coefficients >= 0, the
    cheapest site is always among them."""
    rows = np.unique(rows, axis=0)
    dominated = np.array([np.any(np.all(rows <= r, axis=1) & np.any(rows < r, axis=1)) for r in rows])
    return rows[~dominated]


class NeighbourhoodBound:
    """Sum over units of the cheapest neighbourhood star (module docstring, bound 2).

    How a pair term is split between its two ends is free (any split gives a valid bound), and it
    matters: a hub wired to six leaves is only crowded from the hub's side. The split starts even
    and follows the subgradient for SPLIT_ROUNDS rounds: a pair moves its share towards the end
    whose cheapest star puts the other farther away; the best total seen is the bound.
    """

    def __init__(self, problem: PlacementProblem) -> None:
        self.p = problem

    def bound(self, paired: np.ndarray, rounds: int = 0) -> float:
        """Lower bound on the weighted HPWL of the nets selected by the boolean mask `paired`."""
        p = self.p
        rounds = rounds or SPLIT_ROUNDS
        u, v, c = self._pair_terms(np.flatnonzero(paired))
        if len(u) == 0:
            return 0.0
        n = p.num_units
        low, high = np.minimum(u, v), np.maximum(u, v)
        key, inverse = np.unique(low * n + high, return_inverse=True)
        c = np.bincount(inverse, weights=c)
        u, v = key // n, key % n  # one term per unordered pair
        fixed_u, fixed_v = p.fixed_site[u], p.fixed_site[v]
        both = (fixed_u >= 0) & (fixed_v >= 0)
        constant = float(np.dot(c[both], np.abs(p.site_x[fixed_u[both]] - p.site_x[fixed_v[both]])
                                + np.abs(p.site_y[fixed_u[both]] - p.site_y[fixed_v[both]])))
        u, v, c = u[~both], v[~both], c[~both]
        if len(u) == 0:
            return constant
        unit, neighbour = np.concatenate([u, v]), np.concatenate([v, u])
        kind = p.unit_kind[neighbour].astype(np.int64)
        counts = np.bincount(unit * 3 + kind, minlength=3 * n).reshape(n, 3)
        lengths = tuple(int(x) for x in counts.max(axis=0))
        offset = np.cumsum((0,) + lengths)
        distances, profiles = _site_profiles(p.site_x, p.site_y, p.site_kind, lengths)
        best, share, step = -math.inf, np.full(len(c), 0.5), 0.25
        for _ in range(rounds):
            coef = np.concatenate([share * c, (1 - share) * c])
            order = np.lexsort((-coef, kind, unit))
            group = unit[order] * 3 + kind[order]
            starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
            column = np.empty(len(order), dtype=np.int64)
            column[order] = offset[kind[order]] + np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
            coefficients = np.zeros((n, offset[-1]))
            coefficients[unit, column] = coef  # per unit and kind, sorted down
            chosen = distances[np.maximum(p.fixed_site, 0)]  # pinned units: their own site
            for k, rows in profiles.items():
                free = np.flatnonzero((p.unit_kind == k) & (p.fixed_site < 0))
                if len(free):
                    chosen[free] = rows[np.argmin(coefficients[free] @ rows.T, axis=1)]
            assigned = chosen[unit, column]  # the distance each term gets in its unit's cheapest star
            best = max(best, float(np.dot(coef, assigned)))
            pull = np.sign(assigned[: len(c)] - assigned[len(c) :])  # > 0: u's side is the crowded one
            if not pull.any():
                break
            share = np.clip(share + step * pull, 0.0, 1.0)
            step *= 0.7
        return constant + best

    def _pair_terms(self, nets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(u, v, c) for every pair of units of the given nets: HPWL(net) >= sum of c x d(u, v)."""
        p = self.p
        degree = p.net_degree[nets]
        us, vs, cs = [], [], []
        for k in np.unique(degree).tolist():
            chosen = nets[degree == k]
            pins = p.net_pins[p.net_ptr[chosen][:, None] + np.arange(k)]
            c = p.net_weight[chosen] * pair_share(k)
            for a in range(k):
                for b in range(a + 1, k):
                    us.append(pins[:, a])
                    vs.append(pins[:, b])
                    cs.append(c)
        if not us:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        return np.concatenate(us), np.concatenate(vs), np.concatenate(cs)


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


def json_number(value: float) -> int | float:
    """A wirelength for a JSON record: an int when it is whole (the usual case on unit weights),
    else rounded to 6 places, so records print the same on every machine."""
    return int(value) if float(value).is_integer() else round(float(value), 6)
