"""Simulated annealing over legal placements, vectorised with numpy.

Each step proposes a batch of moves at once: a unit goes to a site of its own kind nearby (or near
the middle of the units it is wired to), swapping with the unit there if any. Proposals that share
a site or a net with an earlier proposal in the batch are dropped, so the survivors are independent
and their wirelength deltas, computed together, are exact. Survivors are accepted by the Metropolis
rule. The move radius adapts to keep about 44% of moves accepted (VPR's rule).

This engine is the benchmark's annealing baseline (from a random placement, hot start, a number
of batches or the wall clock). The placer anneals with the compiled one-move-at-a-time engine
(`sequential_annealing`), which makes ~10x more moves in the same time; this module keeps the
schedule and statistics types both engines share.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from backend_rdu.placement.problem import PlacementProblem, csr_rows
from backend_rdu.placement.wirelength import net_hpwl

FEW_SITES = 64  # kinds with fewer sites than this (AGCUs) move to any site of the kind


@dataclass(frozen=True)
class AnnealSchedule:
    """Temperature falls geometrically from t_start to t_end over the run's length, which is either
    a number of batches (deterministic, the vectorised `Annealer`), a number of moves
    (deterministic, `sequential_annealing.SequentialAnnealer`) or a wall-clock duration."""

    t_start: float
    t_end: float
    batches: int | None = None
    seconds: float | None = None
    moves: int | None = None
    toward_neighbours: float = 0.5  # share of moves aimed at the middle of the unit's neighbours
    stop_at: float | None = None  # stop early once the wirelength is this low (a proven bound)
    stop_after: int | None = None  # the sequential engine stops after this many moves, its temperature still
    # falling over all `moves`: the same run as far as it goes, cut where its tail would run frozen


@dataclass
class AnnealStats:
    batches: int = 0
    proposed: int = 0
    accepted: int = 0
    seconds: float = 0.0
    moves: int = 0  # the sequential engine's budget counter (batches stay 0 there)

    def to_json(self) -> dict:
        return {"batches": self.batches, "moves": self.moves, "proposed": self.proposed, "accepted": self.accepted,
                "seconds": round(self.seconds, 3)}


class Annealer:
    def __init__(self, problem: PlacementProblem, site_of_unit: np.ndarray, rng: np.random.Generator) -> None:
        self.p = problem
        self.rng = rng
        self.site_of_unit = site_of_unit.copy()
        self.unit_at_site = np.full(problem.num_sites, -1, dtype=np.int64)
        self.unit_at_site[self.site_of_unit] = np.arange(problem.num_units)
        self.hpwl = net_hpwl(problem, self.site_of_unit)
        self.unit_ptr, self.unit_nets = problem.unit_nets
        self.movable = np.flatnonzero((problem.fixed_site < 0) & (np.diff(self.unit_ptr) > 0))
        self.movable_mask = problem.fixed_site < 0
        self.kind_sites = [problem.sites_of_kind(k) for k in range(3)]
        self.columns, self.rows = problem.site_at.shape
        self.radius = float(max(self.columns, self.rows))
        self.batch = int(np.clip(len(self.movable) // 6, 1, 384))
        self.stats = AnnealStats()

    @property
    def cost(self) -> float:
        return float(np.dot(self.p.net_weight, self.hpwl))

    def initial_temperature(self, samples: int = 8) -> float:
        """Spread of wirelength change over random moves: a start hot enough to accept most."""
        deltas = []
        for _ in range(samples):
            proposal = self._propose(self.radius, toward=0.0)
            if proposal is not None:
                deltas.append(self._deltas(*proposal)[0])
        d = np.concatenate(deltas) if deltas else np.zeros(1)
        return float(max(np.std(d), 1.0))

    def run(self, schedule: AnnealSchedule, deadline: float = float("inf")) -> np.ndarray:
        """Anneal in place and return the placement; `deadline` (perf_counter) is a safety net."""
        if len(self.movable) == 0 or self.p.num_nets == 0:
            return self.site_of_unit
        if schedule.stop_after is not None:
            raise ValueError("only the sequential annealer cuts a run short (AnnealSchedule.stop_after)")
        start = time.perf_counter()
        window_accepted = window_proposed = 0
        step = 0
        while True:
            if schedule.batches is not None:
                if step >= schedule.batches:
                    break
                progress = step / schedule.batches
            else:
                progress = (time.perf_counter() - start) / schedule.seconds
                if progress >= 1.0:
                    break
            if step % 32 == 0 and (
                time.perf_counter() >= deadline or (schedule.stop_at is not None and self.cost <= schedule.stop_at + 1e-9)
            ):
                break
            temperature = schedule.t_start * (schedule.t_end / schedule.t_start) ** progress
            proposed, accepted = self._step(temperature, schedule.toward_neighbours)
            window_proposed += proposed
            window_accepted += accepted
            step += 1
            if step % 16 == 0 and window_proposed:
                rate = window_accepted / window_proposed
                self.radius = float(np.clip(self.radius * (1.0 - 0.44 + rate), 1.0, max(self.columns, self.rows)))
                window_accepted = window_proposed = 0
        self.stats.batches += step
        self.stats.seconds += time.perf_counter() - start
        return self.site_of_unit

    # -- one batch -------------------------------------------------------------------------

    def _step(self, temperature: float, toward: float) -> tuple[int, int]:
        proposal = self._propose(self.radius, toward)
        if proposal is None:
            return 0, 0
        delta, nets, new_hpwl, net_owner = self._deltas(*proposal)
        units, targets, others = proposal
        accept = (delta <= 0) | (self.rng.random(len(delta)) < np.exp(-np.maximum(delta, 0) / max(temperature, 1e-9)))
        self.stats.proposed += len(delta)
        self.stats.accepted += int(accept.sum())
        if not accept.any():
            return len(delta), 0
        u, t, v = units[accept], targets[accept], others[accept]
        old = self.site_of_unit[u]
        self.site_of_unit[u] = t
        self.unit_at_site[t] = u
        self.unit_at_site[old] = v
        swapped = v >= 0
        self.site_of_unit[v[swapped]] = old[swapped]
        keep = accept[net_owner]
        self.hpwl[nets[keep]] = new_hpwl[keep]
        return len(delta), int(accept.sum())

    def _propose(self, radius: float, toward: float):
        """Independent moves: (units, target sites, unit at each target or -1)."""
        p, rng = self.p, self.rng
        units = self.movable[rng.integers(len(self.movable), size=self.batch)]
        here = self.site_of_unit[units]
        cx, cy = p.site_x[here].astype(np.float64), p.site_y[here].astype(np.float64)
        aim = rng.random(len(units)) < toward
        if aim.any():
            mx, my = self._neighbour_centres(units[aim])
            cx[aim], cy[aim] = mx, my
        r = np.where(aim, 1.0, radius)
        tx = np.rint(cx + rng.uniform(-r - 0.5, r + 0.5)).astype(np.int64)
        ty = np.rint(cy + rng.uniform(-r - 0.5, r + 0.5)).astype(np.int64)
        tx, ty = np.clip(tx, 0, self.columns - 1), np.clip(ty, 0, self.rows - 1)
        targets = p.site_at[tx, ty]
        kinds = p.unit_kind[units]
        # a target of another kind (half of them on a checkerboard) steps one column aside
        wrong = (targets < 0) | (p.site_kind[np.maximum(targets, 0)] != kinds)
        if wrong.any():
            side = np.clip(tx[wrong] + rng.choice((-1, 1), size=int(wrong.sum())), 0, self.columns - 1)
            aside = p.site_at[side, ty[wrong]]
            targets[wrong] = np.where(aside >= 0, aside, targets[wrong])
        for k, sites in enumerate(self.kind_sites):
            if len(sites) < FEW_SITES:
                few = kinds == k
                targets[few] = sites[rng.integers(len(sites), size=int(few.sum()))]
        ok = (targets >= 0) & (targets != here)
        ok[ok] &= p.site_kind[targets[ok]] == kinds[ok]
        others = np.where(targets >= 0, self.unit_at_site[np.maximum(targets, 0)], -1)
        ok &= (others < 0) | self.movable_mask[np.maximum(others, 0)]
        units, here, targets, others = units[ok], here[ok], targets[ok], others[ok]
        if len(units) == 0:
            return None
        # keep each proposal only if it is the first to touch every site and net it involves
        n = len(units)
        ids = np.arange(n)
        nets_u = csr_rows(self.unit_ptr, self.unit_nets, units)
        owner_u = np.repeat(ids, np.diff(self.unit_ptr)[units])
        swap = others >= 0
        nets_v = csr_rows(self.unit_ptr, self.unit_nets, others[swap])
        owner_v = np.repeat(ids[swap], np.diff(self.unit_ptr)[others[swap]])
        resource = np.concatenate([here, targets, p.num_sites + nets_u, p.num_sites + nets_v])
        owner = np.concatenate([ids, ids, owner_u, owner_v])
        first = np.full(p.num_sites + p.num_nets, n, dtype=np.int64)
        np.minimum.at(first, resource, owner)
        lost = np.bincount(owner[first[resource] != owner], minlength=n) > 0
        keep = ~lost
        return units[keep], targets[keep], others[keep]

    def _neighbour_centres(self, units: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.p
        counts = np.diff(self.unit_ptr)[units]
        nets = csr_rows(self.unit_ptr, self.unit_nets, units)
        owner = np.repeat(np.arange(len(units)), counts)
        sizes = p.net_degree[nets]
        pins = csr_rows(p.net_ptr, p.net_pins, nets)
        pin_owner = np.repeat(owner, sizes)
        other = pins != units[pin_owner]
        pins, pin_owner = pins[other], pin_owner[other]
        sites = self.site_of_unit[pins]
        total = np.maximum(np.bincount(pin_owner, minlength=len(units)), 1)
        mx = np.bincount(pin_owner, weights=p.site_x[sites], minlength=len(units)) / total
        my = np.bincount(pin_owner, weights=p.site_y[sites], minlength=len(units)) / total
        return mx, my

    def _deltas(self, units: np.ndarray, targets: np.ndarray, others: np.ndarray):
        """Wirelength change of each independent proposal, plus the changed nets' new lengths."""
        p = self.p
        n = len(units)
        swap = others >= 0
        nets = np.concatenate([
            csr_rows(self.unit_ptr, self.unit_nets, units),
            csr_rows(self.unit_ptr, self.unit_nets, others[swap]),
        ])
        owner = np.concatenate([
            np.repeat(np.arange(n), np.diff(self.unit_ptr)[units]),
            np.repeat(np.flatnonzero(swap), np.diff(self.unit_ptr)[others[swap]]),
        ])
        nets, first = np.unique(nets, return_index=True)
        owner = owner[first]
        if len(nets) == 0:
            return np.zeros(n), nets, np.zeros(0, dtype=np.int64), owner
        sizes = p.net_degree[nets]
        pins = csr_rows(p.net_ptr, p.net_pins, nets)
        pin_owner = np.repeat(owner, sizes)
        sites = self.site_of_unit[pins]
        moved_u = pins == units[pin_owner]
        moved_v = pins == others[pin_owner]
        sites = np.where(moved_u, targets[pin_owner], np.where(moved_v, self.site_of_unit[units][pin_owner], sites))
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        px, py = p.site_x[sites], p.site_y[sites]
        new = (
            np.maximum.reduceat(px, starts) - np.minimum.reduceat(px, starts)
            + np.maximum.reduceat(py, starts) - np.minimum.reduceat(py, starts)
        )
        change = p.net_weight[nets] * (new - self.hpwl[nets])
        delta = np.bincount(owner, weights=change, minlength=n)
        return delta, nets, new, owner


def anneal(problem: PlacementProblem, site_of_unit: np.ndarray, schedule: AnnealSchedule, seed: int) -> tuple[np.ndarray, AnnealStats]:
    annealer = Annealer(problem, site_of_unit, np.random.default_rng(seed))
    result = annealer.run(schedule)
    return result, annealer.stats


def random_placement(problem: PlacementProblem, seed: int) -> np.ndarray:
    """A uniformly random legal placement (pinned units on their pins)."""
    rng = np.random.default_rng(seed)
    site_of_unit = problem.fixed_site.copy()
    taken = np.zeros(problem.num_sites, dtype=bool)
    taken[site_of_unit[site_of_unit >= 0]] = True
    for kind in range(3):
        mine = np.flatnonzero((problem.unit_kind == kind) & (site_of_unit < 0))
        spare = np.flatnonzero(~taken & (problem.site_kind == kind))
        site_of_unit[mine] = rng.permutation(spare)[: len(mine)]
    return site_of_unit


def anneal_baseline(problem: PlacementProblem, seconds: float, seed: int,
                    batches: int | None = None, moves: int | None = None) -> tuple[np.ndarray, AnnealStats]:
    """Plain annealing from a random placement, hot start (the spread of random moves' deltas):
    the benchmark baseline. With `batches` it runs exactly that many batches of this vectorised
    engine (deterministic: a budget counted in work, as the placer counts its own); with `moves`,
    that many moves of the sequential engine the placer uses (`sequential_annealing`); otherwise
    the vectorised engine against the wall clock for `seconds`, which on a shared machine moves
    its result by several percent between runs."""
    start = random_placement(problem, seed)
    if moves is not None:
        from backend_rdu.placement.sequential_annealing import SequentialAnnealer  # it imports this module

        annealer = SequentialAnnealer(problem, start, np.random.default_rng(seed))
        annealer.run(AnnealSchedule(t_start=annealer.initial_temperature(), t_end=0.02, moves=moves))
        return annealer.site_of_unit, annealer.stats
    annealer = Annealer(problem, start, np.random.default_rng(seed))
    t0 = annealer.initial_temperature()
    if batches is not None:
        annealer.run(AnnealSchedule(t_start=t0, t_end=0.02, batches=batches))
    else:
        annealer.run(AnnealSchedule(t_start=t0, t_end=0.02, seconds=seconds))
    return annealer.site_of_unit, annealer.stats
