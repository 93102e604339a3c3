"""Independent-set matching (ISM): detailed placement by exact assignment of net-disjoint units.

Why. At 2,000 units the placer's annealing leaves *local misfit*: units a couple of sites from
where they belong (pins23), and sparse heavy pieces whose inner arrangement the annealing has no
time to finish (clustered). Annealing changes one or two units at a time, so a rearrangement that
only pays as a whole (a cycle of three or more units each taking the next one's site, every single
swap of which is uphill) is found only by luck at a cold temperature. The classic detailed-placement
step (FastDP, NTUplace3, ABCDPlace) finds the best such rearrangement exactly for a set of units:

Take a set S of free units of one kind, no two of which share a net (an *independent* set), and
slots T: S's own sites plus empty sites of that kind nearby. Moving unit i to slot j changes only
i's nets, and none of i's nets holds another unit of S, so every other pin of those nets stays
where it is whatever the others do: the wirelength after moving each i to slot pi(i) is exactly
base + sum_i cost[i, pi(i)] - sum_i cost[i, own(i)], where cost[i, j] is the weighted
half-perimeter of i's nets with i on slot j and everything else fixed. The best assignment is a
rectangular linear assignment problem, solved exactly (`scipy.optimize.linear_sum_assignment`);
staying put is feasible, so a step never makes the placement longer. Without independence the
sum is a model only (two units of one net both moving change its box together): the check is
`independent`, and `match` refuses a dependent set.

Sets are grown in windows swept over the chip (`matching_pass`): in each window, for each kind,
the free units are visited in a seeded random order and taken greedily while they share no net
with one already taken; the window's empty sites of that kind join the slots. Passes with fresh
offsets repeat while they gain and the budget lasts.

Budget: counted in work, like the annealer's moves and the domain slides' steps. A set costs a
fixed part, a part per cost-matrix entry and net (the (unit, net) rows times the slots), a part per
pin of the set's nets, and a part for the assignment (|S| x |T| entries); `set_seconds` converts
those counts to seconds at rates measured on this machine. A pass is a pure function of the
problem, the placement, the budget and the seed.

The placer does not call it (wave 14, docs/placement.md): after annealing no set gains (the misfit
annealing leaves is collective, not a permutation of net-disjoint units), and matching the
constructed start gives a different start, not a better result (the long run after it moves 2%
either way with its length). It stays as an exact, tested step for pass developers.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from backend_rdu.placement.problem import PlacementProblem, csr_rows
from backend_rdu.placement.sequential_annealing import MOVE_HEADROOM
from backend_rdu.placement.wirelength import json_number, wirelength

SET_UNITS = 48  # at most this many units in a set
WINDOW = 12  # windows of WINDOW x WINDOW grid points: on sn40l (site grid 42 x 52, 1,040 PCU and 1,040 PMU
# sites, 26 AGCU) 144 sites, 72 of each main kind
MIN_GAIN = 1e-9  # an assignment must gain more than this to be applied (ties keep the placement)

# Work rates (CPU seconds, `time.process_time`). First measured 2026-11-25 by a least-squares fit over every set of
# `matching_pass` at windows 6, 12 and 24 (sets of 16, 48, 200 units) on pins23 and clustered only: 2.0-2.6e-4 s a set
# inside `match` plus ~1e-4 s choosing it, 2-9e-8 s per (unit, net) row and slot. Re-measured (wave 14 mend, load
# 3.2-3.8 on the 2 cores) on all five generators (2,000 units, seed 552299542, constructed start, windows 6 / 12 / 24,
# 4 passes, 4,300 sets, each timed from one `set_seconds` call to the next): fits per generator of
# fixed + row-slot + pin give 2.7-4.0e-4 s a set, 1.0-2.9e-8 s per (unit, net) row and slot, and 1.0-3.2e-7 s per
# pin of the set's nets (the pins are gathered and reduced once, not per slot: multipin, mixed and clustered, nets of
# 2-8 pins, pay 2.2-3.2e-7 s a pin; on pins23 and geometric, 2-3 pins a net, pins and rows go together and the
# fits say 5.4e-7 and 1.0e-7). The
# assignment's own term is lost in the noise (scipy's solver is compiled), so it is charged at the rows' rate. The old
# charge (3e-4 a set, no pin term) counted 0.95x the measured CPU on mixed at windows 6 and 12 and geometric at 6;
# these charges (the upper end of each) count 1.3-2.4x on every generator and window.
SET_FIXED = 4e-4  # per set: choosing it, gathering its nets, checking its slots, the bookkeeping
PER_ROW_SLOT = 5e-8  # per (unit, net) row and slot: one half-perimeter in the cost matrix
PER_PIN = 3e-7  # per pin of the set's nets: gathered and reduced to the other pins' box once a row
PER_ASSIGNMENT_ENTRY = 5e-8  # per entry of the |S| x |T| assignment


def set_seconds(rows: int, units: int, slots: int, pins: int) -> float:
    """Counted CPU time of one set: `rows` (unit, net) pairs, `units` units, `slots` slots, `pins`
    pins on those rows (the sum of their nets' degrees: a set of wide nets costs more than its rows
    say), with the annealer's 25% headroom (`sequential_annealing.MOVE_HEADROOM`)."""
    return MOVE_HEADROOM * (SET_FIXED + PER_ROW_SLOT * rows * slots + PER_PIN * pins
                            + PER_ASSIGNMENT_ENTRY * units * slots)


def independent(problem: PlacementProblem, units: np.ndarray) -> bool:
    """Whether no two of `units` share a net (and no unit appears twice)."""
    units = np.asarray(units, dtype=np.int64)
    if len(np.unique(units)) != len(units):
        return False
    ptr, nets = problem.unit_nets
    touched = csr_rows(ptr, nets, units)
    return len(np.unique(touched)) == len(touched)


def cost_matrix(problem: PlacementProblem, site_of_unit: np.ndarray, units: np.ndarray,
                slots: np.ndarray) -> tuple[np.ndarray, int]:
    """cost[i, j]: the weighted half-perimeter of the nets of units[i] with that unit on slots[j]
    and every other unit where `site_of_unit` has it; and the number of (unit, net) rows. Exact for
    each unit on its own; the sum over a set is exact only when the set is `independent`."""
    p = problem
    units = np.asarray(units, dtype=np.int64)
    slots = np.asarray(slots, dtype=np.int64)
    ptr, unit_nets = p.unit_nets
    counts = ptr[units + 1] - ptr[units]
    nets = csr_rows(ptr, unit_nets, units)  # one row per (unit, net)
    owner = np.repeat(np.arange(len(units)), counts)
    cost = np.zeros((len(units), len(slots)))
    if len(nets) == 0:
        return cost, 0
    degree = p.net_degree[nets]
    pins = csr_rows(p.net_ptr, p.net_pins, nets)
    row_of_pin = np.repeat(np.arange(len(nets)), degree)
    others = pins != units[owner][row_of_pin]  # the unit itself is the one pin that moves
    x = p.site_x[site_of_unit[pins]].astype(np.int64)
    y = p.site_y[site_of_unit[pins]].astype(np.int64)
    big = np.int64(1) << 40
    starts = np.concatenate([[0], np.cumsum(degree)[:-1]])
    xmin = np.minimum.reduceat(np.where(others, x, big), starts)
    xmax = np.maximum.reduceat(np.where(others, x, -big), starts)
    ymin = np.minimum.reduceat(np.where(others, y, big), starts)
    ymax = np.maximum.reduceat(np.where(others, y, -big), starts)
    sx = p.site_x[slots].astype(np.int64)[None, :]
    sy = p.site_y[slots].astype(np.int64)[None, :]
    half = (np.maximum(xmax[:, None], sx) - np.minimum(xmin[:, None], sx)
            + np.maximum(ymax[:, None], sy) - np.minimum(ymin[:, None], sy))
    weighted = half * p.net_weight[nets][:, None]
    np.add.at(cost, owner, weighted)
    return cost, len(nets)


def match(problem: PlacementProblem, site_of_unit: np.ndarray, units: np.ndarray,
          slots: np.ndarray) -> tuple[np.ndarray, float, int]:
    """The best assignment of the independent set `units` to `slots`: the placement with it applied
    (a copy, or `site_of_unit` itself if nothing gains more than MIN_GAIN), the wirelength gained
    (exact) and the number of (unit, net) rows priced.

    `slots` must be sorted and unique, hold the units' own sites, and its other sites must be empty
    and of the units' kind (every unit of the set of that one kind): anything else would give a
    placement with two units on a site or a unit on a site of the wrong kind. Raises ValueError,
    naming the problem, on a dependent set or on slots that break these rules."""
    p = problem
    units = np.asarray(units, dtype=np.int64)
    slots = np.asarray(slots, dtype=np.int64)
    if not independent(p, units):
        raise ValueError("matching needs an independent set: two units share a net")
    if np.any(slots[1:] <= slots[:-1]):
        raise ValueError("matching needs sorted slots without repeats")
    own_sites = site_of_unit[units]
    own = np.searchsorted(slots, own_sites)
    if np.any(own >= len(slots)) or not np.array_equal(slots[np.minimum(own, len(slots) - 1)], own_sites):
        raise ValueError("matching needs every unit's own site among the slots")
    kinds = np.unique(np.concatenate([p.unit_kind[units], p.site_kind[slots]]))
    if len(kinds) > 1:
        raise ValueError("matching needs the units and the slots of one kind")
    holds = np.bincount(site_of_unit, minlength=p.num_sites)
    others = np.ones(len(slots), dtype=bool)
    others[own] = False
    if np.any(holds[slots[others]] > 0):
        raise ValueError("matching needs the slots other than the units' own sites empty")
    if len(units) < 2 and len(slots) <= len(units):
        return site_of_unit, 0.0, 0
    cost, rows = cost_matrix(p, site_of_unit, units, slots)
    base = float(cost[np.arange(len(units)), own].sum())
    row, column = linear_sum_assignment(cost)
    gain = base - float(cost[row, column].sum())
    if gain <= MIN_GAIN:
        return site_of_unit, 0.0, rows
    moved = site_of_unit.copy()
    moved[units[row]] = slots[column]
    return moved, gain, rows


def matching_pass(problem: PlacementProblem, site_of_unit: np.ndarray, seed: int, seconds: float,
                  set_units: int = SET_UNITS, window: int = WINDOW, max_passes: int = 1000) -> tuple[np.ndarray, dict]:
    """ISM sweeps within `seconds` of counted work (`set_seconds`): each pass lays a grid of
    `window` x `window` windows over the chip at a seeded offset and, in each window and for each
    kind, matches an independent set of at most `set_units` free units to their sites and the
    window's empty sites of their kind (`match`). Passes repeat until one gains nothing, the next
    set would overrun the budget, or `max_passes`. Returns the placement and a record (tries: sets
    solved, kept: sets that gained, passes, gained: wirelength, "budget_estimate": the work counted)."""
    p = problem
    rng = np.random.default_rng(seed)
    current = np.asarray(site_of_unit, dtype=np.int64).copy()
    columns, grid_rows = p.site_at.shape
    ptr, unit_nets = p.unit_nets
    nets_of = [unit_nets[ptr[u]:ptr[u + 1]].tolist() for u in range(p.num_units)]
    rows_of = np.diff(ptr)
    pins_of = np.bincount(np.repeat(np.arange(p.num_units), rows_of), weights=p.net_degree[unit_nets],
                          minlength=p.num_units).astype(np.int64)
    free = p.fixed_site < 0
    kinds = np.unique(p.unit_kind[free]).tolist()
    spent = 0.0
    before = wirelength(p, current)
    tries = kept = passes = 0
    out_of_budget = False
    while passes < max_passes and not out_of_budget:
        passes += 1
        pass_gain = 0.0
        ox, oy = int(rng.integers(window)), int(rng.integers(window))
        occupant = np.full(p.num_sites, -1, dtype=np.int64)
        occupant[current] = np.arange(p.num_units)
        for x0 in range(-ox, columns, window):
            for y0 in range(-oy, grid_rows, window):
                block = p.site_at[max(x0, 0):x0 + window, max(y0, 0):y0 + window].ravel()
                block = block[block >= 0]
                for kind in kinds:
                    sites = block[p.site_kind[block] == kind]
                    held = occupant[sites]
                    candidates = held[held >= 0]
                    candidates = candidates[free[candidates]]
                    if len(candidates) == 0:
                        continue
                    chosen, used = [], set()
                    for u in rng.permutation(candidates).tolist():
                        mine = nets_of[u]
                        if used.isdisjoint(mine):
                            chosen.append(u)
                            used.update(mine)
                            if len(chosen) == set_units:
                                break
                    empty = sites[held < 0]
                    units = np.array(sorted(chosen), dtype=np.int64)
                    slots = np.sort(np.concatenate([current[units], empty]))
                    if len(units) < 2 and len(empty) == 0:
                        continue
                    cost = set_seconds(int(rows_of[units].sum()), len(units), len(slots), int(pins_of[units].sum()))
                    if spent + cost > seconds:
                        out_of_budget = True
                        break
                    spent += cost
                    tries += 1
                    moved, gain, _ = match(p, current, units, slots)
                    if gain > 0:
                        kept += 1
                        pass_gain += gain
                        occupant[current[units]] = -1
                        occupant[moved[units]] = units
                        current = moved
                if out_of_budget:
                    break
            if out_of_budget:
                break
        if pass_gain <= MIN_GAIN:
            break
    gained = before - wirelength(p, current)  # exact, not the assignments' own sums
    return current, {"tries": tries, "kept": kept, "passes": passes, "gained": json_number(gained),
                     "budget_estimate": round(spent, 3)}
