"""Simulated annealing one move at a time, compiled with numba, with exact incremental wirelength.

Why a second engine: the vectorised engine (`annealing.Annealer`) evaluates a batch of moves at
once but must drop every proposal that shares a site or a net with an earlier one, and pays numpy's
per-call overhead on small arrays; at 2,000 units it gets through ~0.1-0.2 M proposals a second.
Annealing quality at a fixed budget grows with the number of moves, and the last diagnosis of
issue 11 (a start right to within two sites still ends 11-16% above the optimum) pointed at too few
moves. This engine makes one move at a time in compiled code, so no proposal is dropped and each
sees every earlier move (it measures tens of times more moves a second, see docs/placement.md).

A move takes a random movable unit to a site of its kind within the current radius of where it is
(or next to the middle of the units it is wired to; a net of more than CENTRE_PINS units counts
by the middle of its box, so a move's cost does not grow with the widest net), swapping with the unit there if any. The
change of wirelength is exact: every net keeps its bounding box and how many of its units lie on
each of the four sides, so moving a unit updates a net's box in constant time; only when the last
unit on a side leaves it is the net's box recomputed from its units. A net holding both units of a
swap keeps its box (the same positions are occupied), so it is skipped. Multi-pin nets cost their
bounding box's half-perimeter, as everywhere in the placer. Moves are accepted by the Metropolis
rule at a temperature falling geometrically over the run; the radius adapts to keep about 44% of
moves accepted (VPR's rule).

Determinism: the budget is a number of moves and the random numbers come from a xoshiro256**
stream seeded from the caller's numpy Generator, so a run is a pure function of the problem, the
start, the schedule and the seed. The wall clock only ever stops a run as a safety net (between
chunks of moves). The kernel is compiled once per machine and cached on disk (`cache=True`).
"""

from __future__ import annotations

import time
from functools import cache

import numpy as np
from numba import njit

from backend_rdu.placement.annealing import FEW_SITES, AnnealSchedule, AnnealStats, random_placement
from backend_rdu.placement.netlist import Netlist
from backend_rdu.placement.problem import PlacementProblem
from backend_rdu.placement.wirelength import net_hpwl

CHUNK_MOVES = 1 << 18  # moves per compiled call: the wall-clock safety net is checked between chunks
ADAPT_EVERY = 1024  # proposals between radius updates
TEMPERATURE_EVERY = 256  # moves between temperature updates (the schedule is geometric in moves)
CENTRE_PINS = 16  # nets wider than this count by their box's middle when aiming a move at a unit's neighbours


def move_seconds(problem: PlacementProblem) -> float:
    """Wall time of one move on the reference machine (2 cores, lightly loaded), counted the way
    `placer.batch_seconds` counts a batch (about 25% above the measured CPU time). A move costs a
    fixed part (drawing it, the Metropolis test) and a part per net it touches (each net's box,
    recomputed when a unit leaves a side alone); the unit count stands for cache misses. Measured
    on the generated netlists at 200-2,000 units and on compiler kernels (docs/placement.md)."""
    ptr = np.asarray(problem.unit_nets[0])
    nets_per_unit = float(np.mean(np.diff(ptr))) if problem.num_units else 0.0
    return MOVE_HEADROOM * (MOVE_FIXED + MOVE_PER_UNIT * problem.num_units + MOVE_PER_NET * nets_per_unit)


MOVE_HEADROOM = 1.25
MOVE_FIXED, MOVE_PER_UNIT, MOVE_PER_NET = 1.8e-7, 5e-11, 4.5e-8


# -- random numbers: xoshiro256** (Blackman and Vigna), one state of four uint64 ---------------


@njit(cache=True)
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True)
def _next(state):
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return result


@njit(cache=True)
def _uniform(state):
    """A float in [0, 1)."""
    return np.float64(_next(state) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _below(state, n):
    """An integer in [0, n) for n < 2**32 (Lemire's multiply-shift: no division)."""
    return np.int64(((_next(state) >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))


# -- net bounding boxes -----------------------------------------------------------------------
# box[n] = (xmin, xmax, ymin, ymax, units at xmin, at xmax, at ymin, at ymax)


@njit(cache=True)
def _compute_box(net, net_ptr, net_pins, unit_xy, out, row):
    xmin = ymin = 1 << 40
    xmax = ymax = -(1 << 40)
    nxmin = nxmax = nymin = nymax = 0
    for i in range(net_ptr[net], net_ptr[net + 1]):
        w = net_pins[i]
        x, y = unit_xy[w, 0], unit_xy[w, 1]
        if x < xmin:
            xmin, nxmin = x, 1
        elif x == xmin:
            nxmin += 1
        if x > xmax:
            xmax, nxmax = x, 1
        elif x == xmax:
            nxmax += 1
        if y < ymin:
            ymin, nymin = y, 1
        elif y == ymin:
            nymin += 1
        if y > ymax:
            ymax, nymax = y, 1
        elif y == ymax:
            nymax += 1
    out[row, 0], out[row, 1], out[row, 2], out[row, 3] = xmin, xmax, ymin, ymax
    out[row, 4], out[row, 5], out[row, 6], out[row, 7] = nxmin, nxmax, nymin, nymax


@njit(cache=True)
def _shift_axis(box, row, lo, old, new):
    """Move one unit of the net along one axis (box[row, lo], box[row, lo+1] the range,
    box[row, lo+4], box[row, lo+5] the counts on each side) in place; False if the side it left is
    now empty (the box must be recomputed). Rows, not row views: a view costs a reference count."""
    if new == old:
        return True
    hi = lo + 1
    if new > old:
        if new > box[row, hi]:
            box[row, hi], box[row, hi + 4] = new, 1
        elif new == box[row, hi]:
            box[row, hi + 4] += 1
        if old == box[row, lo]:
            if box[row, lo + 4] == 1:
                return False
            box[row, lo + 4] -= 1
    else:
        if new < box[row, lo]:
            box[row, lo], box[row, lo + 4] = new, 1
        elif new == box[row, lo]:
            box[row, lo + 4] += 1
        if old == box[row, hi]:
            if box[row, hi + 4] == 1:
                return False
            box[row, hi + 4] -= 1
    return True


@njit(cache=True)
def all_boxes(net_ptr, net_pins, unit_xy):
    boxes = np.empty((len(net_ptr) - 1, 8), dtype=np.int64)
    for n in range(len(net_ptr) - 1):
        _compute_box(n, net_ptr, net_pins, unit_xy, boxes, n)
    return boxes


# -- the annealing kernel ---------------------------------------------------------------------


@njit(cache=True)
def _anneal_kernel(
    # problem
    site_x, site_y, site_kind, site_at, unit_kind, net_ptr, net_pins, net_weight, unit_ptr, unit_nets,
    movable, movable_mask, kind_ptr, kind_sites, few_kind,
    # state (updated in place)
    site_of_unit, unit_xy, unit_at_site, boxes, hpwl, rng, scratch_net, scratch_box, mark, common, counters,
    # schedule
    first_move, moves, total_moves, t_start, t_end, toward, radius, max_radius, stop_at, cost,
    recording, record,
):
    """Make moves first_move .. first_move + moves - 1 of a run of total_moves. Returns (radius,
    cost, moves made). counters: [proposed, accepted, window proposed, window accepted, stamp].
    With `recording`, no move is accepted: the deltas of the proposals go to `record` (always an
    array, so that the kernel is compiled once)."""
    columns, rows = site_at.shape
    n_movable = len(movable)
    ratio = t_end / t_start
    temperature = t_start
    made = 0
    for i in range(moves):
        step = first_move + i
        if i == 0 or step % TEMPERATURE_EVERY == 0:
            temperature = t_start * ratio ** (step / total_moves)
        made += 1
        # -- propose: a unit and a target site of its kind, not its own, not pinned ---------
        u = -1
        target = -1
        other = -1
        found = False
        for _ in range(16):
            u = movable[_below(rng, n_movable)]
            here = site_of_unit[u]
            kind = unit_kind[u]
            if few_kind[kind]:
                target = kind_sites[kind_ptr[kind] + _below(rng, kind_ptr[kind + 1] - kind_ptr[kind])]
            else:
                cx = np.float64(site_x[here])
                cy = np.float64(site_y[here])
                r = radius
                if toward > 0.0 and _uniform(rng) < toward:
                    sx = 0.0
                    sy = 0.0
                    k = 0
                    for j in range(unit_ptr[u], unit_ptr[u + 1]):
                        net = unit_nets[j]
                        if net_ptr[net + 1] - net_ptr[net] > CENTRE_PINS:
                            # a wide net counts by its box's middle, in constant time
                            sx += 0.5 * (boxes[net, 0] + boxes[net, 1])
                            sy += 0.5 * (boxes[net, 2] + boxes[net, 3])
                            k += 1
                            continue
                        for q in range(net_ptr[net], net_ptr[net + 1]):
                            w = net_pins[q]
                            if w != u:
                                sx += unit_xy[w, 0]
                                sy += unit_xy[w, 1]
                                k += 1
                    if k > 0:
                        cx = sx / k
                        cy = sy / k
                    r = 1.0
                tx = np.int64(np.rint(cx + (2.0 * _uniform(rng) - 1.0) * (r + 0.5)))
                ty = np.int64(np.rint(cy + (2.0 * _uniform(rng) - 1.0) * (r + 0.5)))
                tx = min(max(tx, 0), columns - 1)
                ty = min(max(ty, 0), rows - 1)
                target = site_at[tx, ty]
                if target < 0 or site_kind[target] != kind:
                    # a site of the other kind (half of them on a checkerboard): one column aside
                    side = tx + (1 if _uniform(rng) < 0.5 else -1)
                    side = min(max(side, 0), columns - 1)
                    target = site_at[side, ty]
            if target < 0 or target == here or site_kind[target] != kind:
                continue
            other = unit_at_site[target]
            if other >= 0 and not movable_mask[other]:
                continue
            found = True
            break
        if not found:
            continue
        here = site_of_unit[u]
        # -- apply tentatively, then the exact change of every net that moves --------------
        site_of_unit[u] = target
        unit_xy[u, 0], unit_xy[u, 1] = site_x[target], site_y[target]
        if other >= 0:
            site_of_unit[other] = here
            unit_xy[other, 0], unit_xy[other, 1] = site_x[here], site_y[here]
        counters[4] += 1
        stamp = counters[4]
        for j in range(unit_ptr[u], unit_ptr[u + 1]):
            mark[unit_nets[j]] = stamp
        if other >= 0:
            for j in range(unit_ptr[other], unit_ptr[other + 1]):
                net = unit_nets[j]
                if mark[net] == stamp:
                    common[net] = stamp  # holds both: its units' positions are unchanged
        delta = 0.0
        changed = 0
        for side in range(2):
            mover = u if side == 0 else other
            if mover < 0:
                break
            old_site = here if side == 0 else target
            new_site = target if side == 0 else here
            for j in range(unit_ptr[mover], unit_ptr[mover + 1]):
                net = unit_nets[j]
                if other >= 0 and common[net] == stamp:
                    continue
                for c in range(8):
                    scratch_box[changed, c] = boxes[net, c]
                if not (_shift_axis(scratch_box, changed, 0, site_x[old_site], site_x[new_site])
                        and _shift_axis(scratch_box, changed, 2, site_y[old_site], site_y[new_site])):
                    _compute_box(net, net_ptr, net_pins, unit_xy, scratch_box, changed)
                scratch_net[changed] = net
                length = (scratch_box[changed, 1] - scratch_box[changed, 0]
                          + scratch_box[changed, 3] - scratch_box[changed, 2])
                delta += net_weight[net] * (length - hpwl[net])
                changed += 1
        counters[0] += 1
        counters[2] += 1
        if recording:
            record[i] = delta
            accept = False
        else:
            accept = delta <= 0.0 or _uniform(rng) < np.exp(-delta / max(temperature, 1e-9))
        if accept:
            for c in range(changed):
                net = scratch_net[c]
                for k in range(8):
                    boxes[net, k] = scratch_box[c, k]
                hpwl[net] = scratch_box[c, 1] - scratch_box[c, 0] + scratch_box[c, 3] - scratch_box[c, 2]
            unit_at_site[target] = u
            unit_at_site[here] = other
            cost += delta
            counters[1] += 1
            counters[3] += 1
        else:
            site_of_unit[u] = here
            unit_xy[u, 0], unit_xy[u, 1] = site_x[here], site_y[here]
            if other >= 0:
                site_of_unit[other] = target
                unit_xy[other, 0], unit_xy[other, 1] = site_x[target], site_y[target]
        if counters[2] >= ADAPT_EVERY:
            rate = counters[3] / counters[2]
            radius = min(max(radius * (1.0 - 0.44 + rate), 1.0), max_radius)
            counters[2] = 0
            counters[3] = 0
        if accept and cost <= stop_at:
            break
    return radius, cost, made


_NO_RECORD = np.zeros(1)


class SequentialAnnealer:
    """The compiled engine, with the vectorised `Annealer`'s interface: build it on a placement,
    `run(schedule)` anneals in place for `schedule.moves` moves (the placer converts its budget
    with `move_seconds`)."""

    def __init__(self, problem: PlacementProblem, site_of_unit: np.ndarray, rng: np.random.Generator) -> None:
        p = self.p = problem
        self.site_of_unit = np.ascontiguousarray(site_of_unit, dtype=np.int64).copy()
        self.unit_at_site = np.full(p.num_sites, -1, dtype=np.int64)
        self.unit_at_site[self.site_of_unit] = np.arange(p.num_units)
        self.unit_ptr, self.unit_nets = (np.ascontiguousarray(a, dtype=np.int64) for a in p.unit_nets)
        self.movable = np.flatnonzero((p.fixed_site < 0) & (np.diff(self.unit_ptr) > 0)).astype(np.int64)
        self.movable_mask = p.fixed_site < 0
        kind_sites = [p.sites_of_kind(k) for k in range(3)]
        self.kind_ptr = np.concatenate([[0], np.cumsum([len(s) for s in kind_sites])]).astype(np.int64)
        self.kind_sites = np.concatenate(kind_sites).astype(np.int64)
        self.few_kind = np.array([len(s) < FEW_SITES for s in kind_sites])
        self.site_x, self.site_y = p.site_x.astype(np.int64), p.site_y.astype(np.int64)
        self.site_kind = p.site_kind.astype(np.int64)
        self.unit_kind = p.unit_kind.astype(np.int64)
        self.site_at = np.ascontiguousarray(p.site_at, dtype=np.int64)
        self.net_ptr, self.net_pins = p.net_ptr.astype(np.int64), p.net_pins.astype(np.int64)
        self.net_weight = p.net_weight.astype(np.float64)
        self.columns, self.rows = p.site_at.shape
        self.radius = float(max(self.columns, self.rows))
        self.rng_state = np.frombuffer(rng.bytes(32), dtype=np.uint64).copy()
        if not self.rng_state.any():
            self.rng_state[0] = 1
        most = int(np.diff(self.unit_ptr).max()) if p.num_units else 0
        self.scratch_net = np.zeros(2 * most + 1, dtype=np.int64)
        self.scratch_box = np.zeros((2 * most + 1, 8), dtype=np.int64)
        self.mark = np.zeros(max(p.num_nets, 1), dtype=np.int64)
        self.common = np.zeros(max(p.num_nets, 1), dtype=np.int64)
        self.counters = np.zeros(5, dtype=np.int64)
        self.stats = AnnealStats()
        self._reset_nets()

    def _reset_nets(self) -> None:
        self.unit_xy = np.stack([self.site_x[self.site_of_unit], self.site_y[self.site_of_unit]], axis=1).copy()
        self.boxes = all_boxes(self.net_ptr, self.net_pins, self.unit_xy)
        self.hpwl = net_hpwl(self.p, self.site_of_unit).astype(np.int64)

    @property
    def cost(self) -> float:
        return float(np.dot(self.p.net_weight, self.hpwl))

    def _kernel(self, first: int, moves: int, total: int, t_start: float, t_end: float, toward: float,
                stop_at: float, record: np.ndarray | None = None) -> int:
        self.radius, _, made = _anneal_kernel(
            self.site_x, self.site_y, self.site_kind, self.site_at, self.unit_kind, self.net_ptr, self.net_pins,
            self.net_weight, self.unit_ptr, self.unit_nets, self.movable, self.movable_mask, self.kind_ptr,
            self.kind_sites, self.few_kind,
            self.site_of_unit, self.unit_xy, self.unit_at_site, self.boxes, self.hpwl, self.rng_state, self.scratch_net,
            self.scratch_box, self.mark, self.common, self.counters,
            first, moves, total, t_start, t_end, toward, self.radius, float(max(self.columns, self.rows)),
            stop_at, self.cost, record is not None, _NO_RECORD if record is None else record,
        )
        return made

    def initial_temperature(self, samples: int = 2048) -> float:
        """Spread of wirelength change over random moves at full radius: a start hot enough to
        accept most (the vectorised engine's rule, on as many samples)."""
        if len(self.movable) == 0 or self.p.num_nets == 0:
            return 1.0
        radius = self.radius
        self.radius = float(max(self.columns, self.rows))
        record = np.zeros(samples)
        made = self._kernel(0, samples, samples, 1.0, 1.0, 0.0, -np.inf, record)
        self.radius = radius
        self.counters[:4] = 0  # sampling is not annealing
        return float(max(np.std(record[:made]), 1.0))

    def run(self, schedule: AnnealSchedule, deadline: float = float("inf")) -> np.ndarray:
        """Anneal in place and return the placement; `deadline` (perf_counter) is a safety net."""
        if len(self.movable) == 0 or self.p.num_nets == 0:
            return self.site_of_unit
        start = time.perf_counter()
        proposed, accepted = int(self.counters[0]), int(self.counters[1])
        stop_at = -np.inf if schedule.stop_at is None else schedule.stop_at + 1e-9
        if schedule.moves is None:
            raise ValueError("the sequential annealer counts its budget in moves (AnnealSchedule.moves)")
        total = int(schedule.moves)
        limit = total if schedule.stop_after is None else min(total, max(int(schedule.stop_after), 0))
        done = 0
        while done < limit:
            if time.perf_counter() >= deadline or self.cost <= stop_at:
                break
            chunk = min(CHUNK_MOVES, limit - done)
            made = self._kernel(done, chunk, total, schedule.t_start, schedule.t_end, schedule.toward_neighbours, stop_at)
            done += made
            if made < chunk:
                break  # reached stop_at
        self.stats.moves += done
        self.stats.proposed += int(self.counters[0]) - proposed
        self.stats.accepted += int(self.counters[1]) - accepted
        self.stats.seconds += time.perf_counter() - start
        return self.site_of_unit


@cache
def compile_kernels() -> None:
    """Compile the kernels, or load them from numba's on-disk cache, by annealing a two-unit
    netlist: ~1.2 s warm in a new process, ~20 s cold (both measured at load 12-14). A caller
    whose wall clock is a safety net (the placer) calls this before starting its clock, so that
    loading the kernels never cuts a run."""
    netlist = Netlist.from_json({"units": [{"name": "a", "kind": "pcu"}, {"name": "b", "kind": "pmu"}],
                                 "nets": [{"units": ["a", "b"]}]})
    problem = PlacementProblem.build("small", netlist)
    annealer = SequentialAnnealer(problem, random_placement(problem, 0), np.random.default_rng(0))
    annealer.initial_temperature(samples=2)
    annealer.run(AnnealSchedule(t_start=1.0, t_end=0.1, moves=2, stop_at=0.0))
