"""Exact local re-placement with CP-SAT on windows of the chip.

A window is a rectangle of sites. The free units on its sites may be re-placed on any of its sites
of their kind; everything else stays where it is and enters the model as constants. The model is
an assignment (one boolean per unit and candidate site), with each touched net's bounding box as
integer variables, minimising weighted half-perimeter. The current placement is given as a complete
hint, so the solver starts from it and the window never gets worse; a window is solved exactly when
CP-SAT proves optimality within its deterministic time limit, which for 20-60 units it usually does.

Runs are deterministic for a seed: limits are in CP-SAT's deterministic time, the search is
interleaved across workers, and the order of windows depends only on the placement and the seed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from backend_rdu.placement.embedding import _gather
from backend_rdu.placement.problem import PlacementProblem
from backend_rdu.placement.wirelength import net_hpwl


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
    best_bound: float | None = None  # a global bound, set when one window held every free unit

    def to_json(self) -> dict:
        return {
            "windows_solved": self.solved,
            "windows_improved": self.improved,
            "windows_proven_optimal": self.proven_optimal,
            "wirelength_gain": self.gain,
            "passes": self.passes,
            "conflicts": self.conflicts,
            "branches": self.branches,
            "deterministic_time": round(self.deterministic_time, 3),
            "solver_seconds": round(self.solver_seconds, 3),
            "seconds": round(self.seconds, 3),
        }


@dataclass
class WindowOutcome:
    improved: bool
    optimal: bool
    gain: float
    bound: float | None = None  # solver's bound on the window's objective (scaled weights)


class WindowRefiner:
    """Holds the current placement and re-places windows of it exactly."""

    def __init__(self, problem: PlacementProblem, site_of_unit: np.ndarray, seed: int, window_dtime: float = 0.5) -> None:
        self.p = problem
        self.seed = seed
        self.window_dtime = window_dtime
        self.site_of_unit = site_of_unit.copy()
        self.unit_at_site = np.full(problem.num_sites, -1, dtype=np.int64)
        self.unit_at_site[self.site_of_unit] = np.arange(problem.num_units)
        self.unit_ptr, self.unit_nets = problem.unit_nets
        self.weights, self.weight_scale = problem.integer_weights
        self.stats = WindowStats()

    def solve(self, window: Window) -> WindowOutcome:
        p = self.p
        start = time.perf_counter()
        xs, ys = p.site_x, p.site_y
        in_window = (xs >= window.x0) & (xs <= window.x1) & (ys >= window.y0) & (ys <= window.y1)
        window_sites = np.flatnonzero(in_window)
        occupant = self.unit_at_site[window_sites]
        movable = occupant[(occupant >= 0)]
        movable = movable[p.fixed_site[movable] < 0]
        if len(movable) < 2 and not np.any(occupant < 0):
            return WindowOutcome(False, True, 0.0)
        candidates = window_sites[(occupant < 0) | np.isin(occupant, movable)]
        nets = np.unique(_gather(self.unit_ptr, self.unit_nets, movable))
        if len(movable) == 0 or len(nets) == 0:
            return WindowOutcome(False, True, 0.0)

        model = cp_model.CpModel()
        is_movable = np.zeros(p.num_units, dtype=bool)
        is_movable[movable] = True
        site_var: dict[int, cp_model.IntVar] = {}
        x_of, y_of = {}, {}
        for u in movable:
            u = int(u)
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
        model.add_all_different(site_var.values())

        before = net_hpwl(p, self.site_of_unit)[nets]
        objective = []
        coefficients = []
        columns, rows = p.site_at.shape
        for n, current in zip(nets, before):
            pins = p.net_pins[p.net_ptr[n] : p.net_ptr[n + 1]]
            fixed_pins = pins[~is_movable[pins]]
            moving = pins[is_movable[pins]]
            for axis, coord, expr_of, limit in ((0, xs, x_of, columns - 1), (1, ys, y_of, rows - 1)):
                placed = coord[self.site_of_unit[pins]]
                const = coord[self.site_of_unit[fixed_pins]]
                hi = model.new_int_var(int(const.max()) if len(const) else 0, limit, "")
                lo = model.new_int_var(0, int(const.min()) if len(const) else limit, "")
                model.add_hint(hi, int(placed.max()))
                model.add_hint(lo, int(placed.min()))
                for u in moving:
                    model.add(hi >= expr_of[int(u)])
                    model.add(lo <= expr_of[int(u)])
                objective += [hi, lo]
                w = int(self.weights[n])
                coefficients += [w, -w]
        model.minimize(cp_model.LinearExpr.weighted_sum(objective, coefficients))
        current_cost = int(np.dot(self.weights[nets], before))

        solver = cp_model.CpSolver()
        solver.parameters.num_workers = 2
        solver.parameters.interleave_search = True
        solver.parameters.random_seed = self.seed
        solver.parameters.max_deterministic_time = self.window_dtime
        solver.parameters.max_time_in_seconds = 30.0 * max(self.window_dtime, 0.1)  # safety net only
        status = solver.solve(model)
        st = self.stats
        st.solved += 1
        st.conflicts += solver.num_conflicts
        st.branches += solver.num_branches
        st.deterministic_time += solver.deterministic_time
        st.solver_seconds += solver.wall_time
        optimal = status == cp_model.OPTIMAL
        st.proven_optimal += optimal
        outcome = WindowOutcome(False, optimal, 0.0, solver.best_objective_bound if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None)
        if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) and solver.objective_value < current_cost - 0.5:
            new_sites = {u: int(solver.value(v)) for u, v in site_var.items()}
            for u in new_sites:
                self.unit_at_site[self.site_of_unit[u]] = -1
            for u, s in new_sites.items():
                self.site_of_unit[u] = s
                self.unit_at_site[s] = u
            gain = (current_cost - solver.objective_value) / self.weight_scale
            st.improved += 1
            st.gain += gain
            outcome = WindowOutcome(True, optimal, gain, outcome.bound)
        st.seconds += time.perf_counter() - start
        return outcome
