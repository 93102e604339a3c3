"""The placer: a constructive global start, an annealing polish, then exact CP-SAT windows.

1. construct: lay the netlist out by pivot MDS (`embedding`), rebuild it unit by unit on an
   unbounded lattice by cluster growth guided by that layout (`growth`), put each component on
   the chip in its best orientation and shift (`fitting`), and legalise the rest (`legalize`).
2. anneal: a short low-temperature annealing run removes cheap local defects (`annealing`).
3. windows: CP-SAT re-places windows of 6x6 and 8x8 sites exactly, worst first, each hinted with
   the current placement so it never gets worse, until no window can improve or the budget is
   spent (`windows`). A netlist small enough to fit one window is solved as a whole instead,
   which also proves its optimum.

Budgets are counted in work (annealing batches, CP-SAT deterministic time), so a run is a pure
function of the netlist, chip, budget and seed. The wall clock is only a safety net: if it stops a
run, `stats["stopped_by_clock"]` says so and the run may not be reproducible.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chip_model import ChipSpec, load_chip

from backend_rdu.placement.annealing import Annealer, AnnealSchedule
from backend_rdu.placement.embedding import embed
from backend_rdu.placement.fitting import fit_component
from backend_rdu.placement.growth import grow
from backend_rdu.placement.legalize import legalize
from backend_rdu.placement.netlist import Netlist
from backend_rdu.placement.problem import PlacementProblem
from backend_rdu.placement.windows import Window, WindowRefiner
from backend_rdu.placement.wirelength import net_hpwl, wirelength, wirelength_lower_bound

DEFAULT_SECONDS = 10.0
ANNEAL_SHARE = 0.15  # of the budget, in batches at the measured rate
BATCHES_PER_SECOND = 1500.0  # measured on the 2-core reference machine, 2,000 units
WINDOW_SHARE = 0.75  # of the budget, in CP-SAT deterministic time
DTIME_PER_SECOND = 1.0  # CP-SAT deterministic time per wall second, two windows at a time
WHOLE_WINDOW_UNITS = 64  # at most this many free units: solve the netlist as one window
WINDOW_DTIME = 1.0  # deterministic time limit per window


@dataclass(frozen=True)
class PlacementResult:
    """A legal placement and how it was found. `to_json()` is the bitstream manifest record."""

    problem: PlacementProblem = field(repr=False)
    site_of_unit: np.ndarray = field(repr=False)
    wirelength: float
    lower_bound: float
    lower_bound_method: str
    seconds: float
    seed: int
    stats: dict[str, Any]

    @property
    def gap(self) -> float:
        """(wirelength - lower bound) / wirelength: 0 means proven optimal."""
        return 0.0 if self.wirelength <= 0 else (self.wirelength - self.lower_bound) / self.wirelength

    @property
    def positions(self) -> dict[str, tuple[int, int]]:
        p = self.problem
        return {
            name: (int(p.site_x[s]), int(p.site_y[s]))
            for name, s in zip(p.unit_names, self.site_of_unit)
        }

    def summary_json(self) -> dict[str, Any]:
        """The `rducc place --json` output: wirelength, lower bound, seconds, positions."""
        return {
            "wirelength": _number(self.wirelength),
            "lower_bound": _number(self.lower_bound),
            "seconds": round(self.seconds, 3),
            "positions": {name: list(xy) for name, xy in self.positions.items()},
        }

    def to_json(self) -> dict[str, Any]:
        return self.summary_json() | {
            "chip": self.problem.chip.name,
            "units": self.problem.num_units,
            "nets": self.problem.num_nets,
            "gap": round(self.gap, 6),
            "lower_bound_method": self.lower_bound_method,
            "seed": self.seed,
            "stats": self.stats,
        }


def place(problem: PlacementProblem, seconds: float = DEFAULT_SECONDS, seed: int = 0) -> PlacementResult:
    """Place every unit of `problem` on a site of its kind, minimising weighted wirelength."""
    if seconds <= 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    start = time.perf_counter()
    deadline = start + seconds
    phases: list[dict[str, Any]] = []

    def phase(name: str, site_of_unit: np.ndarray, began: float, **extra: Any) -> None:
        phases.append({"phase": name, "wirelength": _number(wirelength(problem, site_of_unit)),
                       "seconds": round(time.perf_counter() - began, 3)} | extra)

    t = time.perf_counter()
    site_of_unit = construct(problem, seed)
    phase("construct", site_of_unit, t)

    t = time.perf_counter()
    annealer = Annealer(problem, site_of_unit, np.random.default_rng(seed))
    weight = float(np.median(problem.net_weight)) if problem.num_nets else 1.0
    batches = int(ANNEAL_SHARE * seconds * BATCHES_PER_SECOND)
    site_of_unit = annealer.run(AnnealSchedule(t_start=0.5 * weight, t_end=0.02 * weight, batches=batches))
    phase("anneal", site_of_unit, t, **annealer.stats.to_json())

    t = time.perf_counter()
    refiner = WindowRefiner(problem, site_of_unit, seed, window_dtime=WINDOW_DTIME)
    lower_bound = wirelength_lower_bound(problem)
    method = "per-net smallest box holding the net's unit kinds"
    stopped_by_clock = False
    dtime_budget = WINDOW_SHARE * seconds * DTIME_PER_SECOND
    if len(problem.free_units) <= WHOLE_WINDOW_UNITS and problem.num_nets:
        refiner.window_dtime = max(dtime_budget, WINDOW_DTIME)
        columns, rows = problem.site_at.shape
        outcome = refiner.solve(Window(0, 0, columns - 1, rows - 1), deadline)
        if outcome.bound is not None:
            untouched = _untouched_wirelength(problem, refiner.site_of_unit)
            if outcome.bound + untouched > lower_bound + 1e-9:
                lower_bound = outcome.bound + untouched
                method = "CP-SAT bound on the whole netlist" + (" (proven optimal)" if outcome.optimal else "")
        stopped_by_clock = time.perf_counter() >= deadline
    else:
        converged = refiner.refine(dtime_budget, deadline)
        stopped_by_clock = not converged and time.perf_counter() >= deadline
    site_of_unit = refiner.site_of_unit
    phase("windows", site_of_unit, t, **refiner.stats.to_json())

    problem.check(site_of_unit)
    wl = wirelength(problem, site_of_unit)
    return PlacementResult(
        problem=problem,
        site_of_unit=site_of_unit,
        wirelength=wl,
        lower_bound=min(lower_bound, wl),
        lower_bound_method=method,
        seconds=time.perf_counter() - start,
        seed=seed,
        stats={
            "phases": phases,
            "anneal": annealer.stats.to_json(),
            "cp_sat": refiner.stats.to_json(),
            "budget_seconds": seconds,
            "stopped_by_clock": stopped_by_clock,
        },
    )


def construct(problem: PlacementProblem, seed: int) -> np.ndarray:
    """The global start: layout, growth per component, fitting onto the chip, legalisation."""
    p = problem
    layout = embed(p, seed)
    placed = p.fixed_site.copy()
    free = np.ones(p.num_sites, dtype=bool)
    free[placed[placed >= 0]] = False
    coords = layout.coords.copy()
    columns, rows = p.site_at.shape
    pinned_first = sorted(layout.components, key=lambda c: (not (p.fixed_site[c] >= 0).any(), -len(c), int(c[0])))
    for members in pinned_first:
        points = grow(p, members, layout.coords)
        if not (p.fixed_site[members] >= 0).any():
            points = fit_component(p, members, points, free)
        coords[members] = points
        inside = (points[:, 0] >= 0) & (points[:, 0] < columns) & (points[:, 1] >= 0) & (points[:, 1] < rows)
        sites = np.where(inside, p.site_at[np.clip(points[:, 0], 0, columns - 1), np.clip(points[:, 1], 0, rows - 1)], -1)
        for u, s in zip(members.tolist(), sites.tolist()):
            if placed[u] < 0 and s >= 0 and free[s] and p.site_kind[s] == p.unit_kind[u]:
                placed[u] = s
                free[s] = False
    return legalize(p, coords, placed)


def place_netlist(
    netlist: Netlist | dict[str, Any], chip: ChipSpec | str, seconds: float = DEFAULT_SECONDS, seed: int = 0
) -> dict[str, Any]:
    """`rducc place NETLIST.json --json`: {"wirelength", "lower_bound", "seconds", "positions"}."""
    if not isinstance(netlist, Netlist):
        netlist = Netlist.from_json(netlist)
    chip = load_chip(chip) if isinstance(chip, str) else chip
    return place(PlacementProblem.build(chip, netlist), seconds=seconds, seed=seed).summary_json()


def _untouched_wirelength(problem: PlacementProblem, site_of_unit: np.ndarray) -> float:
    """Wirelength of nets whose units are all pinned: a constant of every placement."""
    if problem.num_nets == 0:
        return 0.0
    free = problem.fixed_site[problem.net_pins] < 0
    touched = np.bitwise_or.reduceat(free, problem.net_ptr[:-1])
    return float(np.dot(problem.net_weight[~touched], net_hpwl(problem, site_of_unit)[~touched]))


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else round(float(value), 6)
