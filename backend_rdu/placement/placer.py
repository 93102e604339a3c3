"""The placer: a global start, then annealing and exact CP-SAT windows in rounds.

1. construct: two global starts, keep the shorter. (a) Lay the netlist out by pivot MDS
   (`embedding`), rebuild it unit by unit on an unbounded lattice by cluster growth guided by that
   layout (`growth`), and put each component on the chip in its best orientation and shift
   (`fitting`); this rebuilds grid-like netlists almost exactly. (b) Legalise the layout itself
   (`legalize`), which holds up better on sparse netlists where growth has little to go on.
   From CHOICE_UNITS free units (`global_start="best"`, the default) a multilevel V is built too,
   and after the temperature trials a probe run from it decides which start goes on
   (`_Run.choose_start`); on a short budget per unit (SHORT_BUDGET_MOVES) a V whose coarsening
   stalled goes on alone, without the default start, its trials or the probe.
2. anneal: short trials at a few start temperatures pick the one that suits this start (a
   nearly right start wants a cool run, a poor one a hot run); the real run follows (`annealing`).
3. windows: CP-SAT re-places windows of 6x6 up to 12x12 sites exactly, worst first, each hinted
   with the current placement so it never gets worse, until no window can improve (`windows`).
   A netlist small enough for one window is solved whole instead, which can prove its optimum.
Rounds of 2-3 repeat, cooler, while they still gain and budget remains.

Budgets are counted in work (annealing moves, CP-SAT deterministic time) converted to seconds by
rates measured on the 2-core reference machine, so a run is a pure function of the netlist, chip,
budget and seed. The wall clock is only a safety net: if it stops a run,
`stats["stopped_by_clock"]` says so and that run may not be reproducible.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chip_model import ChipSpec, load_chip

from backend_rdu.placement.analytic import analytic_seconds, analytic_start
from backend_rdu.placement.annealing import AnnealSchedule
from backend_rdu.placement.bisection import bisection_start
from backend_rdu.placement.domain_slide import slide_pass
from backend_rdu.placement.edge_span import edge_span_start, needs_both_edges
from backend_rdu.placement.embedding import embed
from backend_rdu.placement.fitting import fit_component
from backend_rdu.placement.growth import grow
from backend_rdu.placement.legalize import legalize
from backend_rdu.placement import multilevel as multilevel_module
from backend_rdu.placement.multilevel import multilevel_start
from backend_rdu.placement.netlist import Netlist
from backend_rdu.placement.problem import PlacementProblem
from backend_rdu.placement.region_moves import quarter_turn
from backend_rdu.placement.sequential_annealing import MOVE_HEADROOM, SequentialAnnealer, compile_kernels, move_seconds
from backend_rdu.placement.windows import Window, WindowRefiner
from backend_rdu.placement.wirelength import LOWER_BOUND_METHOD, json_number, net_hpwl, wirelength, wirelength_lower_bound

DEFAULT_SECONDS = 10.0
WINDOW_RESERVE = 0.05  # of the budget kept for the first round's windows: the first annealing run gets all the
# rest of the usable budget (it got 75% of the usable budget, whatever the start and the trials had spent: 67.5% of
# the budget, against the annealing baseline's 100%; the windows rarely pay on compiler netlists, see docs)
WINDOW_ROUND_SHARE = 0.5  # of what is left, for the windows of a round that is not the last
TRIAL_SHARE = 0.03  # of the budget for each temperature trial (0.05 before issue 11)
TRIAL_TEMPERATURES = (1.0, 4.0, 16.0, 64.0)
TRIAL_TIE = 0.02  # trials this close to the best are tied
LONG_RUN_HOTTER = 2.0  # the long run starts this much hotter than the winning trial ...
LARGE_RUN_HOTTER = 2.0  # ... rising to this at LARGE_UNITS movable units (from SMALL_UNITS); 8.0 with the
# batch engine, whose long run had ~10x fewer moves; with the sequential engine at 2,000 units / 30 s (seed
# 1364183413) 2x against 8x: pins23 1.078 against 1.151, mixed 1.242 against 1.243 (4x: 1.099, 1.248)
SMALL_UNITS, LARGE_UNITS = 1000, 2000
LONG_RUN_PIECES = 4  # below PIECES_UNITS free units the first long run is this many annealing runs, each from the
PIECES_UNITS = 1000  # shortest placement so far (restart from the best): see `_Run.anneal_pieces`
PIECE_HEAT_FLOOR = 1.0  # the pieces start at least this share of the spread of random moves' deltas on the
# placement they start from (the annealing baseline's own start temperature), when their heat came from the temperature
# trials and every net of the netlist is compact (`heat_floor_suits`). On every netlist at 1.0, 10 s: phi3 412.5 ->
# 396.0, llama 397.5 -> 389.5 (10 seeds), qwen2 475 -> 455, but mixtral 788 -> 855 and attention 273 -> 277 (5 seeds),
# the two kernels with nets of more than COMPACT_NET_PINS pins (docs, waves 11-12); 0 turns it off everywhere
COMPACT_NET_PINS = 9  # nets of at most this many pins are compact: placed in a 3x3 block, at most one pin is inside
# the bounding box, so the wirelength sees every pin's move (`heat_floor_suits`)
NEAR_BOUND = 1.1  # ... unless that trial is within this factor of the lower bound
SPREAD_SAMPLES = 2048  # random moves `SequentialAnnealer.initial_temperature` samples (its default)
WINDOW_DTIME = 0.5  # CP-SAT deterministic time limit per window
DTIME_PER_SECOND = 0.5  # CP-SAT deterministic time per wall second, two windows at once (measured 0.35-0.7)
WHOLE_DTIME_PER_SECOND = 0.2  # the same for one whole-netlist model (measured 0.25-0.4, one core)
WHOLE_WINDOW_UNITS = 64  # at most this many free units: solve the netlist as one window
MAX_ROUNDS = 4
USABLE_SHARE = 0.97  # of the budget planned for; the rest absorbs estimation error (0.9 before issue 11's wave 5;
# batch_seconds runs ~25% above the measured CPU time of a batch, which is headroom already)
SMALL_ANNEAL_BATCHES = 400
BISECTION_COST = 0.5  # the bisection start costs this much of `construct_seconds` again (measured
# 1.5 s at 2,000 units, load 13 on 2 cores, against 3.7 s for the default start)


def long_run_hotter(movable: int) -> float:
    """How much hotter than the winning trial the long run starts. Short trials favour cool runs;
    the more units, the more global structure a poor start gets wrong (seams between regions
    grown apart, islands of units far from their nets) and the hotter a long run must be to
    rearrange it: at 2,000 units / 30 s, 8x beat 2x on all five generators (pins23 1.24 -> 1.20,
    multipin 1.26 -> 1.25, clustered 1.23 -> 1.21, mixed 1.32 -> 1.27, geometric 1.58 -> 1.57;
    one seed) and 16x lost to 8x; at 1,000 units / 10 s 4x against 2x was mixed (pins23 lost).
    Over three more seeds it won 14 of 15 runs; clustered lost one (1.272x -> 1.329x, where 2x and
    4x give 1.26x): see docs/placement.md."""
    share = min(max((movable - SMALL_UNITS) / (LARGE_UNITS - SMALL_UNITS), 0.0), 1.0)
    return LONG_RUN_HOTTER * (LARGE_RUN_HOTTER / LONG_RUN_HOTTER) ** share


def heat_floor_suits(problem: PlacementProblem) -> bool:
    """Whether the pieces of the small-kernel long run may be lifted to the spread (PIECE_HEAT_FLOOR):
    only when no net has more than COMPACT_NET_PINS pins.

    Why the width of the widest net: a piece at the spread forgets most of its start and must
    find its own way down within a quarter of the budget. Half-perimeter wirelength guides that
    descent only through the pins on a net's bounding box; a pin inside the box can move
    anywhere inside it at no cost. A net of at most 9 pins packed in a 3x3 block has at most one
    pin inside its box, so every move of its pins is priced; a net of 13 pins needs a 4x4 box with up to
    four pins inside, one of 84 pins (mixtral) a 9x9 box with up to 49. Once a hot piece has
    spread such a net over the chip, the cooling piece sees almost none of its pins and does not
    gather them again, while the global start (an embedding of the whole netlist) keeps them
    together. Measured (10 s, docs/placement.md waves 11-12): every hot piece on mixtral (widest
    net 84 pins) came back longer than the placement it started from on 14 of 16 pieces
    (seeds 0-3: 855-949 against the cool trials' 849-886) and the floor costs mixtral 788 -> 855 (5 seeds) and attention (13 pins)
    273 -> 277, while on the kernels whose nets have at most 7-9 pins the floor gains or is level
    (phi3 412.5 -> 396.0, llama 397.5 -> 389.5, qwen2 475 -> 455; gpt2, gemma2 level). The cut
    is a geometric one (one pin inside a 3x3 block), not fitted to a kernel, but only two kernels
    have wider nets: it is the rule the evidence allows, not one it proves."""
    return bool(problem.num_nets) and int(np.max(problem.net_degree)) <= COMPACT_NET_PINS


def construct_seconds(num_units: int) -> float:
    """CPU time of `construct`, counted (not timed) as annealing moves are: measured CPU time with
    25% headroom (`sequential_annealing.MOVE_HEADROOM`). Measured 2026-11-24 (load ~5 on 2 cores,
    best of two seeds): 0.08-0.18 s at 200 units, 0.29-0.35 s at 1,000, 0.46-0.79 s at 2,000 on
    the six generators, 0.09-0.39 s on the compiler kernels of 143-339 units and 0.71 s on
    llama3_8b_shapes' full-chip kernel (2,106 units). The old count, 0.2 + 1e-3 per unit, was
    wall time at load 13 (2.3 s there: 23% of a 10 s budget that plain annealing spends annealing)."""
    return MOVE_HEADROOM * (0.15 + 4e-4 * num_units)


def multilevel_construct_seconds(num_units: int) -> float:
    """CPU time of `multilevel_start` outside its annealing moves (which it counts itself):
    coarsening, contracting the nets, projecting and legalising. Measured 2026-11-24 (load ~4 on 2
    cores): 0.07-0.10 s at 1,000 units and 0.09-0.14 s at 2,000 on four generators, 0.10 s on
    llama3_8b_shapes (2,106 units); growth and fitting, which a V run alone skips, cost 0.8-1.4 s."""
    return MOVE_HEADROOM * (0.06 + 4e-5 * num_units)


def quarter_turn_seconds(num_units: int) -> float:
    """CPU time of `region_moves.quarter_turn` (the legalisation), counted: measured 0.05-0.08 s at
    1,000-2,000 units (multipin, clustered; load ~1 on 2 cores), with the 25% headroom."""
    return MOVE_HEADROOM * (0.02 + 4e-5 * num_units)


def batch_seconds(num_units: int) -> float:
    """Wall time of one annealing batch, measured on the reference machine (2 cores, lightly
    loaded). On a busier machine runs end late, and the wall-clock limit then has the last word."""
    return 1.05 * (2.5e-4 + 1.7e-7 * num_units)


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
            "wirelength": json_number(self.wirelength),
            "lower_bound": json_number(self.lower_bound),
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


GLOBAL_STARTS = ("best", "default", "bisection", "multilevel", "analytic", "spectral")
MULTILEVEL_SHARE = 0.3  # of the usable budget for the multilevel start's annealing
MULTILEVEL_HEAT = 0.1  # the run after it starts at this share of the spread of random moves' deltas
CHOICE_UNITS = 1000  # "best" weighs the multilevel start against the default from this many free units; below,
# the default start was as good or better on four of five generators (docs/placement.md) and compiler kernels
# (143-342 units) keep every unit of their budget for the default start's run
SKIP_STALLED_V = False  # "best" builds the V even when its coarsening stalls (multilevel.STALLED_CLUSTERS).
# Skipping it gives the default start the whole budget: 0.1-3% shorter on `clustered` at 30 s and
# llama3_8b_shapes at 10 s (10 seeds: 10,910 vs 11,062), but 1.9% longer at 4 s and +1.15% simulated
# cycles on llama3_8b_shapes' compile, whose per-kernel budgets are short (docs/placement.md, wave 9).
SHORT_BUDGET_MOVES = 15_000.0  # below this many annealing moves per free unit (`_Run.moves_per_unit`), a V whose
STALLED_V_MOVES = 200.0  # coarsening stalled goes on alone, with at most this many moves per free unit. Where the
# default start must be built, charged (construct_seconds: 31% of a 4 s budget on llama3_8b_shapes) and tried at
# four temperatures before the probe, the choice costs ~30% of a short budget; on llama3_8b_shapes the probe
# picked the stalled V 9 of 10 times at 4 s (3,400 moves a unit) and 8 of 10 at 10 s (8,500), and the V's probe
# was no shorter for 500 or 1,280 moves a unit than for 100-200 (it is a flat placement of ~235 clusters). Alone
# and capped: 4 s 11,200 -> 11,007, 10 s 11,062 -> 10,916 (10 seeds; plain annealing 11,075 / 10,960). At 30 s
# on 2,000 units (27,000 moves a unit) `clustered` keeps the choice (V chosen 1 of 4 seeds); at 10 s it loses
# 0.7% on the median of 3 seeds (docs/placement.md, wave 10): the budget alone does not say which start wins.
CHOICE_MULTILEVEL_SHARE = 0.15  # of the usable budget for the multilevel start when it is only a candidate
ANALYTIC_IN_BEST = True  # "best" smooths the default start by analytic rounds (`analytic`) before its trials ...
ANALYTIC_MAX_SHARE = 0.06  # ... when they cost at most this share of the usable budget: at 30 s on the 2,000-unit
# generators (3-5%) the medians of three seeds gain on four of five; on llama3_8b_shapes at 4 s (~25%) the
# rounds displace annealing the short run needs, +2.5% over ten seeds (docs/placement.md, wave 10)
SPECTRAL_IN_BEST = False  # ... from the spectral layout (`spectral`) instead of the default start: not kept. At 30 s on
# the 2,000-unit generators (3 seeds) multipin's worst run gains (1.199 -> 1.062) but the medians lose on pins23
# (1.068 -> 1.092: growth rebuilds its grid) and clustered (1.127 -> 1.141): docs/placement.md, wave 11
QUARTER_TURN = True  # "best" weighs the placement turned a quarter turn against it (`_Run.try_quarter_turn`) ...
QUARTER_TURN_SHARE = 0.03  # of the usable budget for the turned placement's probe
QUARTER_TURN_MOVES = SHORT_BUDGET_MOVES  # ... from this many annealing moves per free unit (not the compiler's
# short budgets: the 12 small kernels are below CHOICE_UNITS, llama3_8b_shapes gets 3,400-8,500 at 4-10 s)
DOMAIN_SLIDES = True  # after the first long run, "best" slides the domains of the mosaic back (`_Run.slide_domains`)
LONG_RUN_STOP = 0.75  # ... and that long run stops after this share of its moves, its schedule unchanged: main's run
# cut where its tail runs frozen (its last gain comes at 54-71% of its moves, wave 12). The slides take what it leaves
# and the windows' reserve. A long run given 10% fewer moves instead (a shorter schedule cools faster) redrew its
# chaotic result: multipin 114625533 1.085 -> 1.182 (docs/placement.md, wave 13)
SLIDE_HEAL_MOVES = 100  # annealing moves per unit of a slide's seam (`domain_slide.seam`) that heal it before it is
# judged (wave 13 healed the whole chip, 50 moves per free unit; wave 14: local, 50 / 100 / 200 a seam unit measured)
PROBE_SHARE = TRIAL_SHARE  # of the usable budget: the multilevel start's probe, as long as one temperature trial


WALL_LIMIT_FACTOR = 10  # the clock's safety net: a run is stopped only past this many times its budget ...
WALL_LIMIT_SLACK = 60.0  # ... plus this many seconds. At the budget itself (the default before 2026-11-25) a run of
# 1 s on a machine at load 2 was cut short, so `rducc place` and the tests that compare two runs were not reproducible.


def place(problem: PlacementProblem, seconds: float = DEFAULT_SECONDS, seed: int = 0,
          wall_limit: float | None = None, start: np.ndarray | None = None,
          global_start: str = "best") -> PlacementResult:
    """Place every unit of `problem` on a site of its kind, minimising weighted wirelength.

    `seconds` is the budget, counted in work; the wall clock stops a run only past `wall_limit`
    seconds (default: WALL_LIMIT_FACTOR x `seconds` + WALL_LIMIT_SLACK). A compiler that must give the same bytes on a loaded machine
    passes `wall_limit=math.inf`, so that only the work counters decide (a finite limit, however
    generous, is reached under enough load). `start` (a legal
    `site_of_unit`) replaces the global start: the run refines it (the cycle-driven placer
    re-places a placement under new net weights this way). `global_start` "best" (the default)
    weighs the default start against the multilevel V on netlists of at least CHOICE_UNITS free
    units and goes on from the better (`_Run.choose_start`), then, on long budgets, against itself
    turned a quarter turn (`_Run.try_quarter_turn`); "default" forces the default start,
    "bisection" refines it by recursive min-cut bisection, "multilevel" replaces it by the
    multilevel V (`multilevel`; a netlist too small to coarsen falls back to the default),
    "analytic" smooths the default start by quadratic placement rounds (`analytic`; "best" does
    so too where they cost at most ANALYTIC_MAX_SHARE of the budget), "spectral" runs those rounds
    from the Laplacian's smoothest modes instead (`spectral`): see docs/placement.md."""
    if not seconds > 0:
        raise ValueError(f"seconds must be positive, got {seconds}")
    if global_start not in GLOBAL_STARTS:
        raise ValueError(f"global_start must be one of {', '.join(GLOBAL_STARTS)}, got {global_start!r}")
    if start is not None:
        start = np.asarray(start, dtype=np.int64)
        problem.check(start)
    compile_kernels()  # before the run's clock starts: loading the compiled annealer is no part of a run
    if wall_limit is None:
        wall_limit = WALL_LIMIT_FACTOR * seconds + WALL_LIMIT_SLACK
    return _Run(problem, seconds, seed, wall_limit, global_start).result(start)


class _Run:
    """One placement run: the phases, the current placement and the budget spent (estimated from
    work counters, so deterministic)."""

    def __init__(self, problem: PlacementProblem, seconds: float, seed: int, wall_limit: float,
                 global_start: str = "best") -> None:
        self.p, self.seed, self.budget, self.global_start = problem, seed, seconds, global_start
        self.start = time.perf_counter()
        self.deadline = self.start + max(seconds, wall_limit)
        self.usable = USABLE_SHARE * seconds  # the rest absorbs estimation error
        self.spent = construct_seconds(problem.num_units) * (1 + BISECTION_COST * (global_start == "bisection"))
        if global_start in ("analytic", "spectral"):  # its rounds, on top of the layout they start from
            self.spent += analytic_seconds(problem)
        self.phases: list[dict[str, Any]] = []
        self.anneal_stats: list[dict[str, Any]] = []
        self.per_batch = batch_seconds(problem.num_units)
        self.per_move = move_seconds(problem)
        self.weight = float(np.median(problem.net_weight)) if problem.num_nets else 1.0
        self.lower_bound = wirelength_lower_bound(problem)
        self.method = LOWER_BOUND_METHOD
        self.small = len(problem.free_units) <= WHOLE_WINDOW_UNITS
        self.multilevel_stats: list[dict[str, Any]] = []  # per coarse level, coarsest first
        self.near_bound = False  # the winning temperature trial was within NEAR_BOUND of the lower bound

    def moves_per_unit(self) -> float:
        """The budget per unit: annealing moves the usable budget buys, per free unit."""
        return self.usable / self.per_move / max(len(self.p.free_units), 1)

    def stalled_v_seconds(self) -> float:
        """The work a V whose coarsening stalled gets on a short budget: STALLED_V_MOVES moves per
        free unit at most, not a share of the budget (see STALLED_V_MOVES)."""
        return STALLED_V_MOVES * len(self.p.free_units) * self.per_move

    def phase(self, name: str, site_of_unit: np.ndarray, began: float, **extra: Any) -> None:
        self.phases.append({"phase": name, "wirelength": json_number(wirelength(self.p, site_of_unit)),
                            "seconds": round(time.perf_counter() - began, 3)} | extra)

    def optimal(self, site_of_unit: np.ndarray) -> bool:
        return wirelength(self.p, site_of_unit) <= self.lower_bound + 1e-9

    def result(self, start: np.ndarray | None = None) -> PlacementResult:
        p = self.p
        t = time.perf_counter()
        multilevel = None
        choose = start is None and self.global_start == "best" and len(p.free_units) >= CHOICE_UNITS
        short = choose and self.moves_per_unit() < SHORT_BUDGET_MOVES  # the V goes on alone (`short_budget`)
        if start is None and (self.global_start == "multilevel" or choose):
            share = CHOICE_MULTILEVEL_SHARE if choose else MULTILEVEL_SHARE
            multilevel, spent, self.multilevel_stats = multilevel_start(
                p, self.seed, share * self.usable, require_coarse=choose and SKIP_STALLED_V,
                stalled_seconds=self.stalled_v_seconds() if short else None)
            self.spent += spent
            short = short and multilevel is not None and _stalled(self.multilevel_stats)
            if multilevel is not None and (short or not choose):  # the default start is not built
                self.spent += multilevel_construct_seconds(p.num_units) - construct_seconds(p.num_units)
                choose = False
        if multilevel is not None and not choose:
            site_of_unit, start_kind = multilevel, "multilevel"
        elif start is None:
            smooth = choose and ANALYTIC_IN_BEST and analytic_seconds(p) <= ANALYTIC_MAX_SHARE * self.usable
            kind = ("spectral" if SPECTRAL_IN_BEST else "analytic") if smooth else self.global_start
            if kind in ("analytic", "spectral") and self.global_start == "best":
                self.spent += analytic_seconds(p)
            site_of_unit, start_kind = construct(p, self.seed, "default" if kind in ("multilevel", "best") else kind)
        else:
            site_of_unit, start_kind = start.copy(), "given"
            self.spent = 0.0
        self.phase("construct", site_of_unit, t, start=start_kind, **({"short_budget": True} if short else {}))
        refiner = WindowRefiner(p, site_of_unit, self.seed, window_dtime=WINDOW_DTIME)
        converged = True
        if p.num_nets and not self.optimal(site_of_unit):
            if start_kind == "multilevel":
                site_of_unit, hot = self.multilevel_probe(site_of_unit, None)
            else:
                site_of_unit, hot = self.choose_temperature(site_of_unit)
                if multilevel is not None and not self.optimal(site_of_unit):
                    site_of_unit, hot = self.choose_start(site_of_unit, hot, start_kind, multilevel)
            if start is None and self.global_start == "best":
                site_of_unit, hot = self.try_quarter_turn(site_of_unit, hot)
            for round_index in range(MAX_ROUNDS):
                if self.optimal(site_of_unit) or self.spent >= 0.95 * self.usable or time.perf_counter() >= self.deadline:
                    break
                before = wirelength(p, site_of_unit)
                share = (self.usable - self.spent - WINDOW_RESERVE * self.budget) if round_index == 0 else 0.6 * (self.usable - self.spent)
                slides = round_index == 0 and start is None and self.slides_suit()
                if round_index == 0 and not self.small and LONG_RUN_PIECES > 1 and len(p.free_units) < PIECES_UNITS:
                    # a given start (the cycle placer's re-placement) or a nearly optimal trial keeps its heat
                    # and the floor only on netlists whose nets are all compact (`heat_floor_suits`)
                    floor = start_kind not in ("given", "multilevel") and not self.near_bound and heat_floor_suits(p)
                    site_of_unit = self.anneal_pieces(site_of_unit, hot, share, LONG_RUN_PIECES, floor)
                else:
                    site_of_unit = self.anneal(site_of_unit, hot * 0.5**round_index, share, f"anneal {round_index + 1}",
                                               stop_fraction=LONG_RUN_STOP if slides else 1.0)
                if slides and not self.optimal(site_of_unit):
                    site_of_unit = self.slide_domains(site_of_unit)
                if self.optimal(site_of_unit):
                    break
                last = round_index == MAX_ROUNDS - 1
                site_of_unit, converged = self.windows(refiner, site_of_unit, f"windows {round_index + 1}", last)
                if wirelength(p, site_of_unit) >= before - 1e-9:
                    break  # a whole round gained nothing

        p.check(site_of_unit)
        wl = wirelength(p, site_of_unit)
        return PlacementResult(
            problem=p,
            site_of_unit=site_of_unit,
            wirelength=wl,
            lower_bound=min(self.lower_bound, wl),
            lower_bound_method=self.method,
            seconds=time.perf_counter() - self.start,
            seed=self.seed,
            stats={
                "phases": self.phases,
                "anneal": self.anneal_stats,
                "cp_sat": refiner.stats.to_json() | {"num_workers_per_window": 1, "windows_at_once": 2},
                "windows_converged": converged,
                "budget_seconds": self.budget,
                "budget_used_estimate": round(self.spent, 3),
                "stopped_by_clock": time.perf_counter() >= self.deadline,
            } | ({"multilevel": self.multilevel_stats} if self.multilevel_stats else {}),
        )

    def choose_temperature(self, site_of_unit: np.ndarray) -> tuple[np.ndarray, float]:
        """Short annealing trials from the start at a few temperatures; the best sets the start
        temperature of the real run. A start that is nearly right wants a cool run that keeps it,
        a poor one a hot run that can rearrange it, and nothing cheap tells them apart better."""
        t = time.perf_counter()
        share = TRIAL_SHARE * self.usable
        results = []
        for i, factor in enumerate(TRIAL_TEMPERATURES):
            trial = self.anneal(site_of_unit, factor, share, None, seed_offset=100 + i)
            results.append((wirelength(self.p, trial), factor, trial))
            if self.optimal(trial):
                break
        best = min(r[0] for r in results)
        # trials within TRIAL_TIE of the best are a tie (their spread is noise): the coolest wins
        cost, factor, trial = min((r for r in results if r[0] <= best * (1 + TRIAL_TIE) + 1e-9), key=lambda r: r[1])
        # A short trial favours cool runs (a hot one has no time to settle); the long run, ~25x
        # longer, pays off hotter (measured on compiler kernels and generators, see docs). An
        # almost-optimal trial (within NEAR_BOUND of the lower bound: grid-like netlists, whose start
        # is nearly right) keeps its own, cool, temperature.
        near = self.near_bound = cost <= NEAR_BOUND * self.lower_bound + 1e-9
        run_factor = factor if near else factor * long_run_hotter(len(self.p.free_units))
        keep = min(results, key=lambda r: r[:2])  # the run goes on from the best trial
        self.phase("temperature trials", keep[2], t, chosen=run_factor, best_trial=factor,
                   trial_wirelengths=[json_number(r[0]) for r in results])
        return (keep[2] if keep[0] < wirelength(self.p, site_of_unit) else site_of_unit), run_factor

    def multilevel_probe(self, site_of_unit: np.ndarray, share: float | None) -> tuple[np.ndarray, float]:
        """The multilevel start's temperature: MULTILEVEL_HEAT x the spread of random moves' deltas
        (globally right, locally noisy: the trials' short runs favour temperatures that undo it).
        With `share`, a probe run of that share of the budget from it: (placement, temperature)."""
        spread = SequentialAnnealer(self.p, site_of_unit, np.random.default_rng(self.seed)).initial_temperature()
        self.spent += SPREAD_SAMPLES * self.per_move  # the sampled moves are work too, as in `anneal_pieces`
        hot = MULTILEVEL_HEAT * spread / self.weight
        if share is not None:
            site_of_unit = self.anneal(site_of_unit, hot, share, None, seed_offset=200)
        return site_of_unit, hot

    def choose_start(self, trial: np.ndarray, trial_hot: float, kind: str, multilevel: np.ndarray) -> tuple[np.ndarray, float]:
        """The default start's best temperature trial against a probe run from the multilevel
        start, as long as one trial at the multilevel run's own temperature: the shorter goes on.
        Neither start wins every netlist (at 2,000 units growth rebuilds pins23 and clustered
        almost exactly, the V gets mixed, multipin and geometric globally right), and what the two
        starts look like before annealing does not tell them apart (the V is locally noisy by
        design), so each is judged after a short run of the kind its long run will be."""
        t = time.perf_counter()
        probe, hot = self.multilevel_probe(multilevel, PROBE_SHARE * self.usable)
        lengths = {kind: wirelength(self.p, trial), "multilevel": wirelength(self.p, probe)}
        # within TRIAL_TIE is a tie, and a tie goes to the default start (llama3_8b_shapes: the probe 0.8-1.3%
        # shorter from the V, the run 2-3% longer; clustered, seed 1364183413: 0.8% shorter, 1.134x against 1.129x)
        winner = "multilevel" if lengths["multilevel"] * (1 + TRIAL_TIE) < lengths[kind] else kind
        chosen, chosen_hot = (probe, hot) if winner == "multilevel" else (trial, trial_hot)
        self.phase("start choice", chosen, t, chosen=winner, probe_wirelengths={k: json_number(v) for k, v in lengths.items()})
        return chosen, chosen_hot

    def try_quarter_turn(self, site_of_unit: np.ndarray, hot: float) -> tuple[np.ndarray, float]:
        """The placement so far against itself turned a quarter turn (`region_moves.quarter_turn`),
        each after a short run: a probe from the turned placement as long as one temperature trial,
        at the multilevel start's temperature (it too is globally right and locally noisy); the
        shorter goes on, a tie to the placement as it was. Only on long budgets for netlists of
        CHOICE_UNITS free units and more (QUARTER_TURN_MOVES), where a wrong orientation costs 20%
        (multipin, seed 552299542) and the probe 3% of the budget."""
        p = self.p
        if (not QUARTER_TURN or len(p.free_units) < CHOICE_UNITS or self.moves_per_unit() < QUARTER_TURN_MOVES
                or self.optimal(site_of_unit)):
            return site_of_unit, hot
        t = time.perf_counter()
        self.spent += quarter_turn_seconds(p.num_units)
        probe, probe_hot = self.multilevel_probe(quarter_turn(p, site_of_unit), QUARTER_TURN_SHARE * self.usable)
        lengths = {"as is": wirelength(p, site_of_unit), "turned": wirelength(p, probe)}
        turned = lengths["turned"] * (1 + TRIAL_TIE) < lengths["as is"]
        chosen, chosen_hot = (probe, probe_hot) if turned else (site_of_unit, hot)
        # a probe that loses leaves the later runs' random streams as they were (each run's seed counts the
        # runs before it): what a kept orientation costs is the probe's budget, not another draw of the long run
        record = self.anneal_stats[-1] if turned else self.anneal_stats.pop()
        self.phase("quarter turn", chosen, t, turned=turned, probe_wirelengths={k: json_number(v) for k, v in lengths.items()},
                   probe=record)
        return chosen, chosen_hot

    def slides_suit(self) -> bool:
        """Whether the long run is followed by domain slides: "best" runs of at least PIECES_UNITS
        free units on long budgets (QUARTER_TURN_MOVES a unit), the large generated netlists whose
        results are a mosaic of domains; the compiler's kernels (below 1,000 units, or
        llama3_8b_shapes at 3,400-8,500 moves a unit) never reach it."""
        return (DOMAIN_SLIDES and self.global_start == "best" and len(self.p.free_units) >= PIECES_UNITS
                and self.moves_per_unit() >= QUARTER_TURN_MOVES)

    def slide_domains(self, site_of_unit: np.ndarray) -> np.ndarray:
        """Domain slides (`domain_slide.slide_pass`) with what is left of the usable budget (the cut
        long run's tail and the windows' reserve): each region a minimum cut finds is slid a lattice
        step, the units around its seam healed by SLIDE_HEAL_MOVES moves a unit, and kept only if the
        placement is shorter. The pass stops when no model's sweep gains; what it leaves goes to the
        rounds after it (the windows, then a cooler run kept only if shorter), as any budget the long
        run leaves does."""
        t = time.perf_counter()
        budget = max(self.usable - self.spent, 0.0)  # what the cut long run left and the windows' reserve
        site_of_unit, record = slide_pass(self.p, site_of_unit, self.seed + 400, SLIDE_HEAL_MOVES, budget, self.per_move)
        self.spent += record["budget_estimate"]
        self.phase("domain slides", site_of_unit, t, **record)
        return site_of_unit

    def anneal_pieces(self, site_of_unit: np.ndarray, hot: float, share: float, pieces: int,
                      floor: bool = False) -> np.ndarray:
        """The long run as `pieces` runs of equal budget, each from the shortest placement so far at
        the long run's temperature (restart from the best). On compiler kernels (143-342 units) one
        run of the whole budget has stopped improving long before its end: its result is set by
        where its seed lets it wander from the hot start, and on llama it often ended no shorter
        than the 3% trial it started from. Four runs of a quarter each keep the best basin found and
        try four ways out of it: at 4 s / 5 seeds, llama 431 -> 423, falcon 396 -> 378, geometric
        mean of placer / baseline over 12 kernels 0.987 -> 0.978 (docs/placement.md, wave 9).

        With `floor` the pieces start at least PIECE_HEAT_FLOOR x the spread of random moves' deltas
        on the placement they start from. The trials are short, so they favour cool runs (a hot one
        has no time to settle) and tie towards the coolest; on the small compiler kernels a piece
        that cool (4-8x the median net weight, a quarter of the spread) stays in the start's basin,
        and the kernel's result is then where that basin ends: on phi3 (10 s, seeds 0-9) the six
        seeds whose pieces ran at 8x ended at 394-430 (median 425.5), the four at 32x (about the
        spread) at 390-411. A piece at the spread re-arranges the placement as plain annealing's
        start does, and the restart from the best keeps the best of the four."""
        t = time.perf_counter()
        heat = hot
        end = self.spent + max(min(share, self.usable - self.spent), 0.0)
        if floor and PIECE_HEAT_FLOOR > 0:
            sampler = SequentialAnnealer(self.p, site_of_unit, np.random.default_rng(self.seed))
            heat = max(hot, PIECE_HEAT_FLOOR * sampler.initial_temperature() / self.weight)
            self.spent += SPREAD_SAMPLES * self.per_move  # the sampled moves are work too, out of the pieces' share
        lengths = []
        for i in range(pieces):
            piece = (end - self.spent) / (pieces - i)
            site_of_unit = self.anneal(site_of_unit, heat, piece, None, seed_offset=300 + i)
            lengths.append(json_number(wirelength(self.p, site_of_unit)))
        self.phase("anneal 1", site_of_unit, t, pieces=lengths, heat=json_number(heat))
        return site_of_unit

    def anneal(self, site_of_unit: np.ndarray, hot: float, share: float, name: str | None, seed_offset: int = 0,
               stop_fraction: float = 1.0) -> np.ndarray:
        """An annealing run of `share` of the budget; with `stop_fraction` < 1 the same run (the same
        schedule over the same moves) is cut after that share of its moves, and the rest stays unspent."""
        t = time.perf_counter()
        moves = int(max(min(share, self.usable - self.spent), 0.0) / self.per_move)
        if self.small:  # the exact solve does the real work
            moves = min(moves, int(SMALL_ANNEAL_BATCHES * self.per_batch / self.per_move))
        annealer = SequentialAnnealer(self.p, site_of_unit, np.random.default_rng(self.seed + seed_offset + len(self.anneal_stats)))
        schedule = AnnealSchedule(t_start=hot * self.weight, t_end=0.02 * self.weight, moves=moves,
                                  stop_at=self.lower_bound,
                                  stop_after=None if stop_fraction >= 1.0 else int(stop_fraction * moves))
        annealed = annealer.run(schedule, self.deadline)
        self.spent += annealer.stats.moves * self.per_move
        self.anneal_stats.append(annealer.stats.to_json() | {"t_start": hot * self.weight})
        if wirelength(self.p, annealed) < wirelength(self.p, site_of_unit):  # annealing may wander
            site_of_unit = annealed
        if name:
            cut = {} if schedule.stop_after is None else {"schedule_moves": moves}  # the run it is cut from
            self.phase(name, site_of_unit, t, **annealer.stats.to_json(), **cut,
                       budget_estimate=round(annealer.stats.moves * self.per_move, 3))
        return site_of_unit

    def windows(self, refiner: WindowRefiner, site_of_unit: np.ndarray, name: str, last: bool) -> tuple[np.ndarray, bool]:
        p = self.p
        t = time.perf_counter()
        refiner.reset(site_of_unit)
        dtime_before = refiner.stats.deterministic_time
        if self.small:
            rate = WHOLE_DTIME_PER_SECOND
            refiner.window_dtime = max((self.usable - self.spent) * rate, 0.05)
            columns, rows = p.site_at.shape
            outcome = refiner.solve(Window(0, 0, columns - 1, rows - 1), self.deadline)
            if outcome.bound is not None:
                whole = outcome.bound + _untouched_wirelength(p, refiner.site_of_unit)
                if whole > self.lower_bound + 1e-9:
                    self.lower_bound = whole
                    self.method = "CP-SAT bound on the whole netlist" + (" (proven optimal)" if outcome.optimal else "")
            converged = outcome.optimal
        else:
            rate = DTIME_PER_SECOND
            share = (self.usable - self.spent) * (1.0 if last else WINDOW_ROUND_SHARE)
            converged = refiner.refine(dtime_before + share * rate, self.deadline)
        used = refiner.stats.deterministic_time - dtime_before
        self.spent += used / rate
        site_of_unit = refiner.site_of_unit.copy()
        self.phase(name, site_of_unit, t, converged=converged, deterministic_time=round(used, 3),
                   budget_estimate=round(used / rate, 3))
        return site_of_unit, converged


def construct(problem: PlacementProblem, seed: int, global_start: str = "default") -> tuple[np.ndarray, str]:
    """The global start: the shorter of growth-and-fit and plain legalisation of the layout;
    with "bisection", that start then guides a recursive min-cut bisection (`bisection`). A kernel
    with more AGCUs than one chip edge holds starts stretched between the two AGCU edges instead
    (`edge_span`): growth packs it against one edge, where a cool annealing run keeps it."""
    if global_start == "analytic":  # the default start, smoothed by analytic placement rounds
        sites, kind = construct(problem, seed)
        xy = np.stack([problem.site_x[sites], problem.site_y[sites]], axis=1).astype(np.float64)
        return analytic_start(problem, seed, coords=xy)[0], kind + "+analytic"
    if global_start == "spectral" and needs_both_edges(problem):  # the layout knows no AGCU edges
        return construct(problem, seed, "analytic")
    if global_start == "spectral":  # the Laplacian's smoothest modes, spread and legalised, then the rounds
        sites = legalize(problem, embed(problem, seed, method="spectral").coords)
        xy = np.stack([problem.site_x[sites], problem.site_y[sites]], axis=1).astype(np.float64)
        return analytic_start(problem, seed, coords=xy)[0], "spectral+analytic"
    layout = embed(problem, seed)
    if global_start == "default" and needs_both_edges(problem):
        return edge_span_start(problem, layout.coords), "edge-span"
    grown = _grow_and_fit(problem, layout)
    direct = legalize(problem, layout.coords)
    best, kind = (direct, "layout") if wirelength(problem, direct) < wirelength(problem, grown) else (grown, "growth")
    if global_start == "bisection":
        guide = np.stack([problem.site_x[best], problem.site_y[best]], axis=1).astype(np.float64)
        return bisection_start(problem, seed, guide), kind + "+bisection"
    return best, kind


def _grow_and_fit(problem: PlacementProblem, layout) -> np.ndarray:
    p = problem
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


def _stalled(multilevel_stats: list[dict[str, Any]]) -> bool:
    """Whether the V's coarsening stopped above STALLED_CLUSTERS (its records go coarsest first)."""
    return bool(multilevel_stats) and multilevel_stats[0].get("clusters", 0) > multilevel_module.STALLED_CLUSTERS


def _untouched_wirelength(problem: PlacementProblem, site_of_unit: np.ndarray) -> float:
    """Wirelength of nets whose units are all pinned: a constant of every placement."""
    if problem.num_nets == 0:
        return 0.0
    free = problem.fixed_site[problem.net_pins] < 0
    touched = np.bitwise_or.reduceat(free, problem.net_ptr[:-1])
    return float(np.dot(problem.net_weight[~touched], net_hpwl(problem, site_of_unit)[~touched]))

