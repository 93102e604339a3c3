"""Exact local re-placement with CP-SAT on windows of the chip.

A window is a rectangle of the grid. The free units on its sites may be re-placed on any of its
sites of their kind; everything else stays where it is and enters the model as constants. Each
unit gets an integer site variable tied to integer x/y by a table constraint, sites are all
different, and each touched net's bounding box is a pair of integer bounds per axis. (Measured:
this proves 36-unit windows optimal in a fraction of a second, where a boolean assignment matrix
with the same objective cannot prove 16-unit windows in ten seconds.) The current placement is a
complete hint and only a strictly better answer is taken, so no window makes things worse.

Which windows: the grid is tiled at several sizes and offsets; windows whose nets are all at their
lower bound cannot improve and are skipped, as are windows proven optimal and untouched since. The
rest go worst first. Two windows that share no net are solved at once, one per core, each by a
single-worker CP-SAT search limited in deterministic time, and applied in a fixed order: the result
depends on the seed and the budget, not on timing.
"""

from __future__ import annotations

import math
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from backend_rdu.placement.problem import PlacementProblem, csr_rows
from backend_rdu.placement.wirelength import net_hpwl, net_lower_bounds

OFFSETS = ((0, 0), (1, 1), (1, 0), (0, 1))  # in half windows
STALL_DTIME = 1.0  # deterministic time spent since the last gain after which windows stop paying


@dataclass(frozen=True)
class Window:
    x0: int
    y0: int
    x1: int  # inclusive
    y1: int


@dataclass
class WindowStats:
    solved: int = 0
    improved: int = 0
    proven_optimal: int = 0
    gain: float = 0.0
    conflicts: int = 0
    branches: int = 0
    deterministic_time: float = 0.0
    solver_seconds: float = 0.0
    seconds: float = 0.0
    passes: int = 0
    converged: bool = False
    stalled: bool = False
    solver_errors: int = 0

    def to_json(self) -> dict:
        return {
            "windows_solved": self.solved,
            "windows_improved": self.improved,
            "windows_proven_optimal": self.proven_optimal,
            "wirelength_gain": self.gain,
            "passes": self.passes,
            "converged": self.converged,
            "stalled": self.stalled,
            "solver_errors": self.solver_errors,
            "conflicts": self.conflicts,
            "branches": self.branches,
            "deterministic_time": round(self.deterministic_time, 3),
            "solver_seconds": round(self.solver_seconds, 3),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class _WindowModel:
    window: Window
    model: cp_model.CpModel
    site_var: dict[int, cp_model.IntVar]
    current_cost: int  # scaled integer weights, nets touched by the window
    nets: np.ndarray


@dataclass
class WindowOutcome:
    improved: bool
    optimal: bool
    gain: float  # wirelength saved
    bound: float | None  # solver's lower bound on the touched nets' wirelength


class WindowRefiner:
    """Holds the current placement and re-places windows of it exactly."""

    def __init__(self, problem: PlacementProblem, site_of_unit: np.ndarray, seed: int, window_dtime: float = 1.0) -> None:
        self.p = problem
        self.seed = seed
        self.window_dtime = window_dtime
        self.site_of_unit = site_of_unit.copy()
        self.unit_at_site = np.full(problem.num_sites, -1, dtype=np.int64)
        self.unit_at_site[self.site_of_unit] = np.arange(problem.num_units)
        self.unit_ptr, self.unit_nets = problem.unit_nets
        self.weights, self.weight_scale = problem.integer_weights
        self.lower = net_lower_bounds(problem)
        self.stats = WindowStats()
        self.tick = 0
        self.moved_at = np.zeros(problem.num_units, dtype=np.int64)
        self.clean_since: dict[Window, int] = {}  # tried without gain, as of this tick
        self.deadline = float("inf")

    def reset(self, site_of_unit: np.ndarray) -> None:
        """Continue from another placement (units that moved make their windows worth a retry)."""
        moved = np.flatnonzero(site_of_unit != self.site_of_unit)
        if len(moved):
            self.tick += 1
            self.moved_at[moved] = self.tick
        self.site_of_unit = site_of_unit.copy()
        self.unit_at_site[:] = -1
        self.unit_at_site[self.site_of_unit] = np.arange(self.p.num_units)

    # -- one window --------------------------------------------------------------------------

    def solve(self, window: Window, deadline: float = float("inf")) -> WindowOutcome:
        self.deadline = deadline
        start = time.perf_counter()
        built = self._build(window)
        outcome = WindowOutcome(False, True, 0.0, None) if built is None else self._apply(built, *self._run(built.model))
        self.stats.seconds += time.perf_counter() - start
        return outcome

    def _sites(self, window: Window) -> np.ndarray:
        """The window's site indices, ascending. The one hook for windows of another shape
        (`cluster_windows.SiteWindowRefiner`): `_movable` applies the same occupant and pin rules."""
        p = self.p
        xs, ys = p.site_x, p.site_y
        return np.flatnonzero((xs >= window.x0) & (xs <= window.x1) & (ys >= window.y0) & (ys <= window.y1))

    def _movable(self, window: Window) -> tuple[np.ndarray, np.ndarray]:
        p = self.p
        inside = self._sites(window)
        occupant = self.unit_at_site[inside]
        movable = occupant[occupant >= 0]
        movable = movable[p.fixed_site[movable] < 0]
        candidates = inside[(occupant < 0) | (occupant >= 0) & (p.fixed_site[np.maximum(occupant, 0)] < 0)]
        return movable, candidates

    def _build(self, window: Window) -> _WindowModel | None:
        p = self.p
        xs, ys = p.site_x, p.site_y
        movable, candidates = self._movable(window)
        if len(movable) == 0 or len(candidates) < 2:
            return None
        nets = np.unique(csr_rows(self.unit_ptr, self.unit_nets, movable))
        if len(nets) == 0:
            return None
        model = cp_model.CpModel()
        is_movable = np.zeros(p.num_units, dtype=bool)
        is_movable[movable] = True
        site_var: dict[int, cp_model.IntVar] = {}
        x_of, y_of = {}, {}
        span = {}  # (axis, unit) -> (min, max) of the unit's candidate coordinates
        for u in movable.tolist():
            mine = candidates[p.site_kind[candidates] == p.unit_kind[u]]
            here = int(self.site_of_unit[u])
            s = model.new_int_var_from_domain(cp_model.Domain.from_values(mine.tolist()), "")
            x = model.new_int_var(int(xs[mine].min()), int(xs[mine].max()), "")
            y = model.new_int_var(int(ys[mine].min()), int(ys[mine].max()), "")
            model.add_allowed_assignments([s, x, y], [(int(a), int(xs[a]), int(ys[a])) for a in mine])
            model.add_hint(s, here)
            model.add_hint(x, int(xs[here]))
            model.add_hint(y, int(ys[here]))
            site_var[u], x_of[u], y_of[u] = s, x, y
            span[0, u] = int(xs[mine].min()), int(xs[mine].max())
            span[1, u] = int(ys[mine].min()), int(ys[mine].max())
        model.add_all_different(site_var.values())

        before = net_hpwl(p, self.site_of_unit)[nets]
        terms, coefficients = [], []
        for n in nets.tolist():
            pins = p.net_pins[p.net_ptr[n] : p.net_ptr[n + 1]]
            moving = pins[is_movable[pins]].tolist()
            fixed_sites = self.site_of_unit[pins[~is_movable[pins]]]
            w = int(self.weights[n])
            bounds = []
            for axis, coord, var_of in ((0, xs, x_of), (1, ys, y_of)):
                placed = coord[self.site_of_unit[pins]]
                const = coord[fixed_sites]
                low = min([span[axis, u][0] for u in moving] + ([int(const.min())] if len(const) else []))
                high = max([span[axis, u][1] for u in moving] + ([int(const.max())] if len(const) else []))
                hi = model.new_int_var(int(const.max()) if len(const) else low, high, "")
                lo = model.new_int_var(low, int(const.min()) if len(const) else high, "")
                model.add_hint(hi, int(placed.max()))
                model.add_hint(lo, int(placed.min()))
                for u in moving:
                    model.add(hi >= var_of[u])
                    model.add(lo <= var_of[u])
                terms += [hi, lo]
                coefficients += [w, -w]
                bounds += [hi, lo]
            if self.lower[n] > 0:  # redundant, but it lets the solver prove optimality sooner
                model.add(bounds[0] - bounds[1] + bounds[2] - bounds[3] >= int(self.lower[n]))
        model.minimize(cp_model.LinearExpr.weighted_sum(terms, coefficients))
        return _WindowModel(window, model, site_var, int(np.dot(self.weights[nets], before)), nets)

    def _run(self, model: cp_model.CpModel, dtime: float | None = None) -> tuple[cp_model.CpSolver | None, int]:
        dtime = self.window_dtime if dtime is None else max(dtime, 0.01)
        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 1
        solver.parameters.random_seed = self.seed
        # OR-Tools 9.15 raises IndexError (absl::btree_map::at) from symmetry detection on some
        # hinted window models; windows have little symmetry worth exploiting, so it is off.
        solver.parameters.symmetry_level = 0
        solver.parameters.max_deterministic_time = dtime
        # wall-clock limit: a safety net only, the deterministic limit should stop first. Without
        # a finite deadline (the compiler's placement) there is none: a solve stopped by the clock
        # on a loaded machine returned a different placement, so a different bitstream.
        if math.isfinite(self.deadline):
            solver.parameters.max_time_in_seconds = max(0.01, min(20.0 * dtime + 1.0, self.deadline - time.perf_counter()))
        try:
            status = solver.solve(model)
        except (IndexError, RuntimeError, ValueError):  # a solver-internal failure: skip the window
            self.stats.solver_errors += 1
            return None, cp_model.UNKNOWN
        return solver, status

    def _apply(self, built: _WindowModel, solver: cp_model.CpSolver | None, status: int) -> WindowOutcome:
        st = self.stats
        st.solved += 1
        if solver is None:
            self.clean_since[built.window] = self.tick
            return WindowOutcome(False, False, 0.0, None)
        st.conflicts += solver.num_conflicts
        st.branches += solver.num_branches
        st.deterministic_time += solver.deterministic_time
        st.solver_seconds += solver.wall_time
        optimal = status == cp_model.OPTIMAL
        st.proven_optimal += optimal
        found = status in (cp_model.OPTIMAL, cp_model.FEASIBLE)
        bound = solver.best_objective_bound / self.weight_scale if found else None
        if not (found and solver.objective_value < built.current_cost - 0.5):
            # the same model and seed would give the same answer: untouched, it is not worth a retry
            self.clean_since[built.window] = self.tick
            return WindowOutcome(False, optimal, 0.0, bound)
        new_sites = {u: int(solver.value(v)) for u, v in built.site_var.items()}
        self.tick += 1
        for u in new_sites:
            self.unit_at_site[self.site_of_unit[u]] = -1
        for u, s in new_sites.items():
            if self.site_of_unit[u] != s:
                self.moved_at[u] = self.tick
            self.site_of_unit[u] = s
            self.unit_at_site[s] = u
        if optimal:
            self.clean_since[built.window] = self.tick
        gain = (built.current_cost - solver.objective_value) / self.weight_scale
        st.improved += 1
        st.gain += gain
        return WindowOutcome(True, optimal, gain, bound)

    # -- the schedule ------------------------------------------------------------------------

    def refine(self, dtime_budget: float, deadline: float, sizes: tuple[int, ...] = (6, 8, 10, 12)) -> bool:
        """Solve windows worst first until none can improve (True), or a budget runs out or the
        windows stop paying: STALL_DTIME of solver time without a gain (False).

        Window sizes escalate: the smallest two until a whole cycle of tilings finds nothing left
        to try, then the next size joins, and so on; larger windows fix defects that span more
        of the grid but cost more to solve."""
        start = time.perf_counter()
        columns, rows = self.p.site_at.shape
        self.deadline = deadline
        level, idle = min(2, len(sizes)), 0
        last_gain_at = self.stats.deterministic_time
        try:
            with ThreadPoolExecutor(max_workers=2) as pool:
                while True:
                    active = sizes[:level]
                    if idle >= len(active) * len(OFFSETS):
                        if level == len(sizes):
                            self.stats.converged = True
                            return True
                        level, idle = level + 1, 0
                        continue
                    size = active[self.stats.passes % len(active)]
                    ox, oy = OFFSETS[(self.stats.passes // len(active)) % len(OFFSETS)]
                    self.stats.passes += 1
                    windows = self._ranked(size, ox * (size // 2), oy * (size // 2), columns, rows)
                    idle = idle + 1 if not windows else 0
                    while windows:
                        if self.stats.deterministic_time >= dtime_budget or time.perf_counter() >= deadline:
                            return False
                        batch = self._independent_pair(windows)
                        built = [b for b in (self._build(w) for w in batch) if b is not None]
                        limit = min(self.window_dtime, dtime_budget - self.stats.deterministic_time)
                        results = list(pool.map(lambda b: self._run(b.model, limit), built))
                        for b, (solver, status) in zip(built, results):
                            if self._apply(b, solver, status).improved:
                                last_gain_at = self.stats.deterministic_time
                        if self.stats.deterministic_time - last_gain_at >= STALL_DTIME:
                            self.stats.stalled = True
                            return False
        finally:
            self.stats.seconds += time.perf_counter() - start

    def _ranked(self, size: int, ox: int, oy: int, columns: int, rows: int) -> list[Window]:
        """Windows of one tiling that could still improve, worst (most excess wirelength) first."""
        p = self.p
        excess = self.p.net_weight * (net_hpwl(p, self.site_of_unit) - self.lower)
        unit_excess = np.bincount(p.net_pins, weights=excess[p.pin_net], minlength=p.num_units)
        grid = np.zeros((columns, rows))
        np.add.at(grid, (p.site_x[self.site_of_unit], p.site_y[self.site_of_unit]), unit_excess)
        ranked = []
        for x0 in range(-ox, columns, size):
            for y0 in range(-oy, rows, size):
                w = Window(x0, y0, x0 + size - 1, y0 + size - 1)
                score = grid[max(x0, 0) : x0 + size, max(y0, 0) : y0 + size].sum()
                if score <= 1e-9 or not self._dirty(w):
                    continue
                ranked.append((-score, x0, y0, w))
        ranked.sort(key=lambda r: r[:3])
        return [r[3] for r in ranked]

    def _dirty(self, window: Window) -> bool:
        since = self.clean_since.get(window)
        if since is None:
            return True
        movable, _ = self._movable(window)
        nets = csr_rows(self.unit_ptr, self.unit_nets, movable)
        touched = csr_rows(self.p.net_ptr, self.p.net_pins, np.unique(nets))
        return bool(len(touched)) and int(self.moved_at[touched].max()) > since

    def _independent_pair(self, windows: list[Window]) -> list[Window]:
        """Pop the first window, and the next one sharing no net with it (if any)."""
        first = windows.pop(0)
        nets_first = set(csr_rows(self.unit_ptr, self.unit_nets, self._movable(first)[0]).tolist())
        for i, w in enumerate(windows[:16]):
            nets = set(csr_rows(self.unit_ptr, self.unit_nets, self._movable(w)[0]).tolist())
            if not nets & nets_first:
                return [first, windows.pop(i)]
        return [first]
