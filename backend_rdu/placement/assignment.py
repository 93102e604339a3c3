"""Exact re-assignment of the units of a scarce kind (AGCUs) to that kind's sites.

A kind with few sites (the sn40l's 26 AGCUs sit on the left and right edges, every fourth row)
is where local search is weakest: an AGCU's only moves are jumps to another AGCU site, far away,
which annealing accepts only while it is hot, and CP-SAT windows see one or two AGCU sites at a
time. On compiler kernels the AGCU nets then cost the placer twice what plain hot annealing pays
for them (llama, seed 0: 125 against 58 of 585 against 468). With every other unit where it is,
the best sites for those units are a linear assignment problem (each unit's cost at each site is
the wirelength of its nets with the unit there), solved exactly by the Hungarian method. Units of
the kind that share a net make the costs depend on each other; the assignment is then a heuristic,
so it is kept only when the real wirelength drops, and repeated while it does.

Not called by the placer (commit 473ee90 on branch w6-placer had it): after the start and between stretches of each annealing run it
shortened the start by 2-5% but did not change the results beyond their seed-to-seed spread
(issue 11, wave 6; docs/placement.md, "Why the placer loses on four rows").
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from backend_rdu.placement.problem import PlacementProblem, csr_rows
from backend_rdu.placement.wirelength import wirelength

SCARCE_SITES = 64  # a kind with fewer sites than this ...
SCARCE_SHARE = 0.1  # ... and at most this share of the chip's sites is re-assigned exactly (on chip 'small'
# every kind has fewer than 64 sites, but none is scarce next to the others)
MAX_PASSES = 4


def scarce_kinds(problem: PlacementProblem) -> list[int]:
    """Kinds with few sites (fewer than SCARCE_SITES, at most SCARCE_SHARE of the chip's) that
    have at least one free unit on a net."""
    kinds = []
    unit_ptr, _ = problem.unit_nets
    for kind in range(3):
        sites = len(problem.sites_of_kind(kind))
        wired = np.diff(unit_ptr)[_units(problem, kind)] > 0
        if sites < SCARCE_SITES and sites <= SCARCE_SHARE * len(problem.site_kind) and wired.any():
            kinds.append(kind)
    return kinds


def reassign_scarce(problem: PlacementProblem, site_of_unit: np.ndarray, kinds: list[int] | None = None) -> np.ndarray:
    """`site_of_unit` with the free units of every scarce kind (or of `kinds`) re-assigned to that
    kind's unpinned sites, optimally given all other units; never longer than the input."""
    best = site_of_unit.copy()
    best_cost = wirelength(problem, best)
    for kind in scarce_kinds(problem) if kinds is None else kinds:
        units = _units(problem, kind)
        pinned = problem.fixed_site[problem.fixed_site >= 0]
        sites = np.setdiff1d(problem.sites_of_kind(kind), pinned)
        for _ in range(MAX_PASSES):
            rows, cols = linear_sum_assignment(_costs(problem, best, units, sites))
            trial = best.copy()
            trial[units[rows]] = sites[cols]
            cost = wirelength(problem, trial)
            if cost >= best_cost - 1e-9:
                break
            best, best_cost = trial, cost
    return best


def _units(problem: PlacementProblem, kind: int) -> np.ndarray:
    """Every free unit of the kind (one on no net costs nothing anywhere but holds a site)."""
    return np.flatnonzero((problem.unit_kind == kind) & (problem.fixed_site < 0))


def _costs(problem: PlacementProblem, site_of_unit: np.ndarray, units: np.ndarray, sites: np.ndarray) -> np.ndarray:
    """costs[i, j]: weighted HPWL of unit i's nets with unit i on site j, the rest where they are."""
    p = problem
    unit_ptr, unit_nets = p.unit_nets
    sx, sy = p.site_x[sites], p.site_y[sites]
    costs = np.zeros((len(units), len(sites)))
    for i, u in enumerate(units.tolist()):
        for n in csr_rows(unit_ptr, unit_nets, np.array([u])).tolist():
            pins = p.net_pins[p.net_ptr[n]:p.net_ptr[n + 1]]
            others = pins[pins != u]
            if len(others) == 0 or p.net_weight[n] == 0:
                continue
            ox, oy = p.site_x[site_of_unit[others]], p.site_y[site_of_unit[others]]
            costs[i] += p.net_weight[n] * (
                np.maximum(ox.max(), sx) - np.minimum(ox.min(), sx) + np.maximum(oy.max(), sy) - np.minimum(oy.min(), sy)
            )
    return costs
