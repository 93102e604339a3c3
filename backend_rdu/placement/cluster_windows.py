"""Exact re-placement on windows the netlist draws: a tightly connected group of units, over the
sites they occupy plus a ring of nearby sites. Diagnosis (wave 14): the placer does not call it.

Why it exists. Wave 13 located `clustered`'s excess (1.11-1.15x at 2,000 units / 30 s) inside
the heavy components: sparse puzzles of tight 2-6 pin nets that annealing lays out torn. The
placer's exact step, CP-SAT on grid rectangles (`windows`), cuts those puzzles wherever the grid
does. The question was whether a window cut along the netlist (a piece grown over heavy nets from
a unit with excess, the sites its units hold and a ring around them) lets CP-SAT re-arrange a
puzzle that a rectangle cannot. Measured on the placer's final placement of clustered seeds
552299542 and 7 (docs/placement.md, "Wave 14: CP-SAT windows the netlist draws"), it does not.
Pieces of 12-30 units with rings of 0-2 sites gained 0 in 15.0-22.8 units of deterministic time
per setting on seed 552299542 and at most 1 in 8.6-16.3 on seed 7; whole heavy components (seed
552299542) 0 in 10.0; a component's bounding box as a grid window 0 in 10 per box. Grid windows, for
scale, gained 15 in 20.2 (seed 552299542) and 3 in 10.4 (seed 7). Inside the sites it holds, a
30-unit piece is already arranged optimally (10 of 30 such windows proven so); what is wrong is
which sites it holds, and changing that moves its neighbours too, beyond what a window can prove
or improve. The module keeps the measurement repeatable for whoever tries the constructive route.

The model is `windows.WindowRefiner`'s, unchanged: only the window's sites differ
(`SiteWindowRefiner._sites`), and which units on them move and which sites they may take follow
the rectangles' rules, so every window is hinted with the current placement, never gets longer,
keeps kinds and leaves pinned units where they are.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.ndimage import binary_dilation, generate_binary_structure

from backend_rdu.placement.heavy_components import heavy_nets
from backend_rdu.placement.problem import PlacementProblem
from backend_rdu.placement.windows import WindowRefiner
from backend_rdu.placement.wirelength import net_hpwl, net_lower_bounds, wirelength


@dataclass(frozen=True)
class SiteWindow:
    """A window that is a set of sites (indices into the chip's sites), not a rectangle."""

    sites: tuple[int, ...]


class SiteWindowRefiner(WindowRefiner):
    """`WindowRefiner` that also solves `SiteWindow`s: the free units on the window's sites may move
    to any of its sites of their kind that no pinned unit holds. Rectangles behave as before."""

    def _sites(self, window: Any) -> np.ndarray:
        if not isinstance(window, SiteWindow):
            return super()._sites(window)
        return np.unique(np.asarray(window.sites, dtype=np.int64))


def unit_adjacency(problem: PlacementProblem, heavy_only: bool = True) -> list[dict[int, float]]:
    """Per unit, its neighbours on nets with their connection strength (a net of weight w and k
    pins adds w / (k - 1) to each pair). With `heavy_only`, only the heavy nets
    (`heavy_components.heavy_nets`: on `clustered`, the weight-3 nets inside blobs), so a piece
    grown from it stays inside one heavy component; if all nets weigh the same, none is heavy and
    every unit is a piece of its own, as it is a component of its own there."""
    p = problem
    adjacency: list[dict[int, float]] = [{} for _ in range(p.num_units)]
    counted = heavy_nets(p) if heavy_only else np.ones(p.num_nets, dtype=bool)
    for n in np.flatnonzero(counted).tolist():
        w = float(p.net_weight[n])
        pins = p.net_pins[p.net_ptr[n]:p.net_ptr[n + 1]].tolist()
        if len(pins) < 2:
            continue
        share = w / (len(pins) - 1)
        for a in pins:
            for b in pins:
                if a != b:
                    adjacency[a][b] = adjacency[a].get(b, 0.0) + share
    return adjacency


def grow_piece(adjacency: list[dict[int, float]], seed_unit: int, size: int) -> np.ndarray:
    """Up to `size` units grown from `seed_unit`, each next the outside unit most strongly joined
    to the piece so far (ties to the lower index): a compact, tightly connected piece."""
    piece, inside, strength, heap = [seed_unit], {seed_unit}, {}, []

    def add(u: int) -> None:
        for v, w in adjacency[u].items():
            if v not in inside:
                strength[v] = strength.get(v, 0.0) + w
                heapq.heappush(heap, (-strength[v], v))

    add(seed_unit)
    while len(piece) < size and heap:
        negative, v = heapq.heappop(heap)
        if v in inside or -negative != strength[v]:
            continue
        piece.append(v)
        inside.add(v)
        add(v)
    return np.array(piece, dtype=np.int64)


def ring_sites(problem: PlacementProblem, sites: np.ndarray, radius: int) -> np.ndarray:
    """`sites` and every site within Manhattan distance `radius` of one of them, sorted."""
    p = problem
    mark = np.zeros(p.site_at.shape, dtype=bool)
    mark[p.site_x[sites], p.site_y[sites]] = True
    if radius > 0:  # the 4-neighbour cross, `radius` times: Manhattan distance (as `domain_slide.seam` dilates)
        mark = binary_dilation(mark, generate_binary_structure(2, 1), iterations=radius)
    found = p.site_at[mark]
    return np.sort(found[found >= 0])


def unit_excess(problem: PlacementProblem, site_of_unit: np.ndarray) -> np.ndarray:
    """Per unit, the weighted wirelength its nets carry above their per-net lower bounds."""
    p = problem
    excess = p.net_weight * (net_hpwl(p, site_of_unit) - net_lower_bounds(p))
    return np.bincount(p.net_pins, weights=excess[p.pin_net], minlength=p.num_units)


def piece_pass(problem: PlacementProblem, site_of_unit: np.ndarray, seed: int, size: int, radius: int,
               count: int, window_dtime: float, heavy_only: bool = True,
               distinct: bool = False) -> tuple[np.ndarray, dict[str, Any]]:
    """Up to `count` netlist windows, each seeded at the unit with the most excess not yet a seed
    (with `distinct`: not in an earlier piece): the piece of `size` units grown from it over (heavy)
    nets, over its sites and a ring of `radius`, solved exactly within `window_dtime` of
    deterministic time. A `size` above the largest component makes each window a whole heavy
    component. Returns the placement (never longer) and a record of what the windows did."""
    refiner = SiteWindowRefiner(problem, site_of_unit, seed, window_dtime=window_dtime)
    adjacency = unit_adjacency(problem, heavy_only)
    seeds: set[int] = set()
    windows = []
    for _ in range(count):
        excess = unit_excess(problem, refiner.site_of_unit)
        order = [int(u) for u in np.argsort(-excess, kind="stable") if excess[u] > 0 and int(u) not in seeds]
        order = [u for u in order if problem.fixed_site[u] < 0]
        if not order:
            break
        piece = grow_piece(adjacency, order[0], size)
        seeds.update(piece.tolist() if distinct else [order[0]])
        sites = ring_sites(problem, refiner.site_of_unit[piece], radius)
        before, length = refiner.stats.deterministic_time, wirelength(problem, refiner.site_of_unit)
        outcome = refiner.solve(SiteWindow(tuple(sites.tolist())))
        # measured, not the solver's objective: a solve stopped before proving optimality may leave a
        # net's bound variables loose, and its objective then overstates the new wirelength
        gain = length - wirelength(problem, refiner.site_of_unit)
        windows.append({"seed_unit": order[0], "units": len(piece), "sites": len(sites), "gain": gain,
                        "optimal": outcome.optimal,
                        "deterministic_time": round(refiner.stats.deterministic_time - before, 3)})
    record = {"windows": len(windows), "gain": sum(w["gain"] for w in windows),
              "proven_optimal": sum(w["optimal"] for w in windows),
              "deterministic_time": round(refiner.stats.deterministic_time, 3),
              "wirelength": wirelength(problem, refiner.site_of_unit), "per_window": windows}
    return refiner.site_of_unit.copy(), record
