"""An analytic global start: quadratic placement with bound-to-bound nets and spreading anchors.

Why: at 2,000 units the annealed placement is a deep local optimum whose excess over the optimum
is fixed by the basin its start leads into (docs/placement.md, wave 9): the starts tried so far
(growth from a pivot-MDS layout, min-cut bisection, a multilevel V) are either grown unit by unit
(seams between regions grown apart) or decided at a coarse level. A quadratic placement minimises
a smooth model of the whole netlist's wirelength at once, so every unit sits where all its nets
pull it; alternating it with spreading (SimPL, Kim, Lee and Markov 2010) turns that into a
placement that is globally consistent and spread over the sites.

1. **Start**: given positions (the placer passes the default start's sites: from the pivot-MDS
   layout alone, `embedding`, the layout's global distortion survives the rounds and the annealed
   result ends longer, docs/placement.md wave 10), legalised; pinned units stay where they are.
2. **Lower bound step**: per axis, minimise the bound-to-bound (B2B) quadratic model of HPWL
   (Spindler, Schlichtmann and Johannes 2008: each net's pins tied to its two extreme pins with
   weight 2w / ((k - 1) |x_i - x_j|), so at the current positions the model equals the net's
   half-perimeter, multi-pin nets included), plus a pseudo-net from every free unit to its spread
   position with a weight that grows each iteration. One sparse conjugate-gradient solve per axis
   (scipy), warm-started from the previous positions.
3. **Upper bound step**: the solved positions are spread onto distinct sites of each unit's own
   kind (`legalize`: geometry-preserving recursive bisection that moves units across a cut only
   when the side has no room for their kind), which gives a legal placement and its HPWL.
4. Repeat until the gap between the solved (lower) and legal (upper) wirelength stops closing or
   ITERATIONS are done; the shortest legal placement seen is the start.

It is a start only; annealing and CP-SAT windows refine it (`placer`): the rounds remove the
given start's local noise (pins23 at 2,000 units: 2.29x -> 1.83x the optimum) and keep its global
shape, which is what the annealer cannot repair. Its work is counted, not timed
(`analytic_seconds`), like `placer.construct_seconds`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sparse
from scipy.sparse.linalg import cg

from backend_rdu.placement.embedding import embed
from backend_rdu.placement.legalize import legalize
from backend_rdu.placement.problem import PlacementProblem
from backend_rdu.placement.wirelength import wirelength

ITERATIONS = 30  # solve-and-spread rounds at most
MIN_SPAN = 1.0  # B2B distances are floored at this many sites: coincident pins would pull infinitely
ANCHOR_START = 0.01  # the pseudo-net weight's share of a unit's mean net pull at the first round ...
ANCHOR_GROWTH = 0.1  # ... rising by this share each round (SimPL's linear schedule)
CG_TOLERANCE = 1e-4
CG_ITERATIONS = 200
STALL_ROUNDS = 10  # stop once the best legal wirelength has not improved for this many rounds
WORK_HEADROOM = 1.25  # counted work is this much above the measured CPU time (as `move_seconds`)
SECONDS_FIXED, SECONDS_PER_PIN = 4e-3, 2.5e-6  # per round: measured, see `analytic_seconds`


@dataclass
class AnalyticStats:
    rounds: int = 0
    lower: list[float] = field(default_factory=list)  # the solved (continuous) HPWL per round
    upper: list[float] = field(default_factory=list)  # the legalised HPWL per round
    best_round: int = -1


def analytic_seconds(problem: PlacementProblem, rounds: int | None = None) -> float:
    """Budget seconds charged for the analytic rounds (the layout they start from is charged as
    `placer.construct_seconds`): per round a fixed part plus a part per pin (building the B2B
    system, two CG solves, legalisation), with headroom, for all ITERATIONS rounds even when they
    stop early, so the charge is known before they run (`placer` decides on it). Counted, not
    timed, so a run stays a pure function of its inputs."""
    pins = len(problem.net_pins) + problem.num_units
    return WORK_HEADROOM * (ITERATIONS if rounds is None else rounds) * (SECONDS_FIXED + SECONDS_PER_PIN * pins)


def analytic_start(problem: PlacementProblem, seed: int, iterations: int | None = None,
                   coords: np.ndarray | None = None) -> tuple[np.ndarray, AnalyticStats]:
    """A legal `site_of_unit` from SimPL-style analytic placement (module docstring), and what each
    round measured. `coords` (num_units x 2) replaces the pivot-MDS layout as the first positions."""
    p = problem
    stats = AnalyticStats()
    free = np.flatnonzero(p.fixed_site < 0)
    if len(free) == 0:
        return p.fixed_site.copy(), stats
    if coords is None:
        coords = embed(p, seed).coords
    xy = np.array(coords, dtype=np.float64)
    middle = np.array([(p.site_at.shape[0] - 1) / 2, (p.site_at.shape[1] - 1) / 2])
    xy[np.isnan(xy[:, 0])] = middle
    pinned = p.fixed_site >= 0
    xy[pinned, 0], xy[pinned, 1] = p.site_x[p.fixed_site[pinned]], p.site_y[p.fixed_site[pinned]]
    best = legalize(p, xy)
    best_length = wirelength(p, best)
    anchor = _site_xy(p, best)
    model = _B2B(p, free)
    stale = 0
    for k in range(ITERATIONS if iterations is None else iterations):
        xy = model.solve(xy, anchor, ANCHOR_START + ANCHOR_GROWTH * k)
        stats.lower.append(_continuous_hpwl(p, xy))
        legal = legalize(p, xy)
        length = wirelength(p, legal)
        stats.upper.append(length)
        stats.rounds += 1
        anchor = _site_xy(p, legal)
        if length < best_length - 1e-9:
            best, best_length, stats.best_round, stale = legal, length, k, 0
        else:
            stale += 1
            if stale >= STALL_ROUNDS:
                break
    return best, stats


def _site_xy(p: PlacementProblem, site_of_unit: np.ndarray) -> np.ndarray:
    return np.stack([p.site_x[site_of_unit], p.site_y[site_of_unit]], axis=1).astype(np.float64)


def _continuous_hpwl(p: PlacementProblem, xy: np.ndarray) -> float:
    if p.num_nets == 0:
        return 0.0
    starts = p.net_ptr[:-1]
    pts = xy[p.net_pins]
    span = np.maximum.reduceat(pts, starts, axis=0) - np.minimum.reduceat(pts, starts, axis=0)
    return float(np.dot(p.net_weight, span.sum(axis=1)))


class _B2B:
    """The bound-to-bound system of one axis at a time, for the free units only (pinned units
    enter the right-hand side)."""

    def __init__(self, p: PlacementProblem, free: np.ndarray) -> None:
        self.p, self.free = p, free
        self.index = np.full(p.num_units, -1, dtype=np.int64)
        self.index[free] = np.arange(len(free))
        degree = p.net_degree
        self.pin_net = p.pin_net
        self.pin_weight = (2.0 * p.net_weight / np.maximum(degree - 1, 1))[self.pin_net]
        # a unit's mean net pull, to scale the anchors: sum of its nets' 2w/(k-1), per unit
        pull = np.bincount(p.net_pins, weights=self.pin_weight, minlength=p.num_units)
        self.unit_pull = np.maximum(pull, 1e-3 * max(float(pull.mean()), 1e-9))

    def solve(self, xy: np.ndarray, anchor: np.ndarray, anchor_share: float) -> np.ndarray:
        out = xy.copy()
        for axis in range(2):
            out[:, axis] = self._solve_axis(xy[:, axis], anchor[:, axis], anchor_share)
        return out

    def _solve_axis(self, x: np.ndarray, anchor: np.ndarray, anchor_share: float) -> np.ndarray:
        p, free, index = self.p, self.free, self.index
        n = len(free)
        starts, ends = p.net_ptr[:-1], p.net_ptr[1:]
        pos = x[p.net_pins]
        # the extreme pins of each net (first occurrence), by position in net_pins
        order = np.lexsort((pos, self.pin_net))
        lo_pin = order[starts]
        hi_pin = order[ends - 1]
        # edges: every pin to the net's min and to its max (the min-max edge once)
        pins = np.arange(len(p.net_pins))
        lo_of = lo_pin[self.pin_net]
        hi_of = hi_pin[self.pin_net]
        a = np.concatenate([pins[pins != lo_of], pins[(pins != hi_of) & (pins != lo_of)]])
        b = np.concatenate([lo_of[pins != lo_of], hi_of[(pins != hi_of) & (pins != lo_of)]])
        w = self.pin_weight[a] / np.maximum(np.abs(pos[a] - pos[b]), MIN_SPAN)
        ua, ub = p.net_pins[a], p.net_pins[b]
        ia, ib = index[ua], index[ub]
        diag = np.zeros(n)
        rhs = np.zeros(n)
        both = (ia >= 0) & (ib >= 0)
        np.add.at(diag, ia[ia >= 0], w[ia >= 0])
        np.add.at(diag, ib[ib >= 0], w[ib >= 0])
        only_a = (ia >= 0) & (ib < 0)
        np.add.at(rhs, ia[only_a], w[only_a] * x[ub[only_a]])
        only_b = (ib >= 0) & (ia < 0)
        np.add.at(rhs, ib[only_b], w[only_b] * x[ua[only_b]])
        # anchors: a pseudo-net to the spread position, linearised like B2B (weight / distance)
        dist = np.maximum(np.abs(x[free] - anchor[free]), MIN_SPAN)
        aw = anchor_share * self.unit_pull[free] / dist
        diag += aw
        rhs += aw * anchor[free]
        off_r = np.concatenate([ia[both], ib[both]])
        off_c = np.concatenate([ib[both], ia[both]])
        off_w = np.concatenate([w[both], w[both]])
        matrix = sparse.csr_matrix((np.concatenate([diag, -off_w]),
                                    (np.concatenate([np.arange(n), off_r]), np.concatenate([np.arange(n), off_c]))),
                                   shape=(n, n))
        precondition = sparse.diags(1.0 / diag)
        solved, _ = cg(matrix, rhs, x0=x[free], rtol=CG_TOLERANCE, maxiter=CG_ITERATIONS, M=precondition)
        out = x.copy()
        out[free] = solved
        return out
