"""Domain slides: find, by a minimum cut, the region of a placement that gains most from moving one
lattice step, move it, heal the seam by a short cool run, keep it only if the whole is shorter.

Why (docs/placement.md, "Wave 12: ... a mosaic of domains" and "Wave 13: domain slides"). At 2,000
units on sn40l the placer's result is globally right but a mosaic of domains: regions of hundreds of
units, each offset from the optimum by a small kind-preserving lattice step ((2,0), (1,1), ...),
with 92-98% of the excess on nets one or two sites too long across the walls between them. No
single-unit move can slide a domain, and straight cuts (halves, quadrants) do not follow the walls:
the region has to be found.

Finding it is a binary labelling that can be solved exactly. Translating a set R of units by a step
v changes a 2-pin net only when it is cut (one unit in R, the other not): by a = |d + v| - |d| when
the unit in R is the first of the pair (d the vector between them, L1 lengths), by b = |d - v| - |d|
the other way round. By the triangle inequality a + b >= 0, so the energy is submodular and its
minimum over all R is a minimum s-t cut (Kolmogorov and Zabih 2004). Nets of more pins enter as
cliques of pairs weighted 1/(k-1) (a model only: the verdict is exact). The units that R's leading
edge pushes out of their sites (a site s + v held by a unit not in R) and the units of R whose
target is no site of theirs must go elsewhere; each such case is charged DISPLACE_COST sites per unit
of its net weight, which keeps the cut's edges on vacancies and walls. The region found is moved, the
displaced units are legalised into the sites the move freed, and a short cool annealing run heals
the seam; the result is kept only if it is shorter than the placement it came from (the quarter
turn's rule: judged after a probe, never on the model).

The heal is local (wave 14): only the units within HEAL_REACH sites of the seam (`seam`: the units
of every net the slide changed, and those it pushed) are drawn to move, SLIDE_HEAL_MOVES each, so a
try costs in proportion to its wall, not to the chip (wave 13 annealed the whole chip, ~100k moves,
for a region of a few dozen units). The tries that buys are spent in sweeps (`slide_pass`): the 8
steps' cuts are found first and tried best model gain first, and a sweep that keeps nothing hands
over to the next of MODELS (another DISPLACE_COST, or steps of two lattice steps) instead of ending
the pass. At 2,000 units / 30 s, 7 seeds each (3 tuned on, 4 held out): mixed, multipin and
geometric 1.0493 -> 1.0413 (geometric mean), multipin within 1.05x on 7 of 7 (docs/placement.md,
"Wave 14 on main")."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import binary_dilation
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order, maximum_flow

from backend_rdu.placement.annealing import AnnealSchedule
from backend_rdu.placement.legalize import legalize
from backend_rdu.placement.problem import PlacementProblem
from backend_rdu.placement.sequential_annealing import MOVE_HEADROOM, SequentialAnnealer
from backend_rdu.placement.wirelength import json_number, net_hpwl

# the 8 nearest translations that keep a checkerboard's kinds (every site of sn40l's grid)
LATTICE_STEPS = ((2, 0), (-2, 0), (0, 2), (0, -2), (1, 1), (-1, -1), (1, -1), (-1, 1))
DISPLACE_COST = 2.0  # sites of net weight charged per unit pushed out of its site (or without a target)
MODEL_PINS = 16  # nets wider than this are left out of the cut model (their clique would be quadratic)
SCALE = 64  # the cut's capacities are integers: weights x SCALE, rounded
HEAL_FROM, HEAL_TO = 0.3, 0.02  # the healing run's heat, x the median net weight (cool: keep the slide)
HEAL_REACH = 2  # sites around a slide's seam that its local heal moves (1 / 2 / 4 replayed: 1.0362 / 1.0295 / 1.0316)
HEAL_RADIUS = 3.0  # the local heal's first move radius (the whole chip's run adapts down from the chip's size)
MODELS = ((2.0, 1), (1.0, 1), (4.0, 1), (2.0, 2))  # (DISPLACE_COST, step multiple) of the pass's sweeps, in turn:
# when a sweep under one keeps nothing the next is tried (a cheaper displacement lets the cut take walls across
# vacancies, a dearer one keeps it off crowded edges; steps of two lattice steps find domains two steps off).
# Adding (1.0, 2) and (4.0, 2) replayed 1.0294 against 1.0295: not kept


def _pairs(problem: PlacementProblem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every pin pair of every net of at most MODEL_PINS pins, weighted w / (k - 1)."""
    firsts, seconds, weights = [], [], []
    ptr, pins, weight = problem.net_ptr, problem.net_pins, problem.net_weight
    degree = np.diff(ptr)
    for k in range(2, MODEL_PINS + 1):
        nets = np.flatnonzero(degree == k)
        if len(nets) == 0:
            continue
        members = pins[ptr[nets][:, None] + np.arange(k)[None, :]]
        i, j = np.triu_indices(k, 1)
        firsts.append(members[:, i].ravel())
        seconds.append(members[:, j].ravel())
        weights.append(np.repeat(weight[nets] / (k - 1), len(i)))
    if not firsts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(firsts), np.concatenate(seconds), np.concatenate(weights)


def _geometry(problem: PlacementProblem, site_of_unit: np.ndarray,
              pairs: tuple[np.ndarray, np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The part of the cut model that does not depend on the step: each pair's vector (dx, dy) and
    its L1 length. `slide_pass` computes it once per placement and shares it among the re-judges of
    a sweep's regions (each under its own step)."""
    u, w, _ = pairs
    x = problem.site_x[site_of_unit].astype(np.int64)
    y = problem.site_y[site_of_unit].astype(np.int64)
    dx, dy = x[u] - x[w], y[u] - y[w]
    return dx, dy, np.abs(dx) + np.abs(dy)


def _terms(problem: PlacementProblem, site_of_unit: np.ndarray, step: tuple[int, int],
           pairs: tuple[np.ndarray, np.ndarray, np.ndarray], displace_cost: float,
           geometry: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None):
    """The cut model's terms for translating by `step`: the pairs (u, w) with their changes a (u in
    R, w not) and b (w in R, u not), each unit's displacement penalty, whether its target is a site
    it may take (`ok`) and who holds that site (`held`, -1 if free). `geometry`: `_geometry` of
    this very placement, if already computed."""
    p = problem
    n = p.num_units
    u, w, pw = pairs
    dx, dy, here = _geometry(p, site_of_unit, pairs) if geometry is None else geometry
    vx, vy = step
    a = pw * (np.abs(dx + vx) + np.abs(dy + vy) - here)  # u in R, w not
    b = pw * (np.abs(dx - vx) + np.abs(dy - vy) - here)  # w in R, u not
    unit_weight = np.zeros(n)
    np.add.at(unit_weight, p.net_pins, p.net_weight[p.pin_net])
    penalty = displace_cost * unit_weight
    _, ok, held = _targets(p, site_of_unit, np.arange(n), step)
    return u, w, a, b, penalty, ok, held


def _targets(problem: PlacementProblem, site_of_unit: np.ndarray, units: np.ndarray,
             step: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each of `units`: the site one `step` on (-1 off the chip or where there is none), whether
    the unit may take it (`ok`: a site of its kind that no pinned unit holds) and who holds it
    (`held`: -1 when free or not `ok`). One rule for the cut model (`_terms`) and the move (`slide`)."""
    p = problem
    x = p.site_x[site_of_unit[units]].astype(np.int64) + step[0]
    y = p.site_y[site_of_unit[units]].astype(np.int64) + step[1]
    columns, rows = p.site_at.shape
    inside = (x >= 0) & (x < columns) & (y >= 0) & (y < rows)
    target = np.full(len(units), -1, dtype=np.int64)
    target[inside] = p.site_at[x[inside], y[inside]]
    ok = target >= 0
    ok[ok] = p.site_kind[target[ok]] == p.unit_kind[units[ok]]
    occupant = np.full(p.num_sites, -1, dtype=np.int64)
    occupant[site_of_unit] = np.arange(p.num_units)
    held = np.where(ok, occupant[np.maximum(target, 0)], -1)
    ok &= ~((held >= 0) & (p.fixed_site[np.maximum(held, 0)] >= 0))
    held[~ok] = -1
    return target, ok, held


def model_energy(problem: PlacementProblem, site_of_unit: np.ndarray, step: tuple[int, int], region: np.ndarray,
                 pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                 displace_cost: float = DISPLACE_COST,
                 geometry: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> float:
    """The cut model's change of wirelength when `region` is translated by `step` (what
    `find_region` minimises; the placer judges a slide by its exact wirelength, never by this).
    `geometry`: `_geometry(problem, site_of_unit, pairs)`, if already computed."""
    u, w, a, b, penalty, ok, held = _terms(problem, site_of_unit, step, _pairs(problem) if pairs is None else pairs,
                                           displace_cost, geometry)
    region = np.asarray(region, dtype=bool)
    pushes = region & ok & (held >= 0)
    pushed = held[pushes]
    return (float(a[region[u] & ~region[w]].sum() + b[region[w] & ~region[u]].sum())
            + float(penalty[region & ~ok].sum()) + float(penalty[pushed[~region[pushed]]].sum()))


def find_region(problem: PlacementProblem, site_of_unit: np.ndarray, step: tuple[int, int],
                pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                displace_cost: float = DISPLACE_COST) -> tuple[np.ndarray, float]:
    """The set of units (a boolean mask) whose translation by `step` the cut model says gains most,
    and the model's change of wirelength for it (`model_energy`: negative, a gain; 0 and an empty
    mask: none). Pinned units never belong to it."""
    p = problem
    n = p.num_units
    pairs = _pairs(p) if pairs is None else pairs
    u, w, a, b, penalty, ok, held = _terms(p, site_of_unit, step, pairs, displace_cost)
    theta = np.zeros(n)  # cost of a unit being in R, beyond the pairs
    heads, tails, caps = [], [], []  # pairwise edges: cut when tail in R and head not
    # reparametrise so that every pairwise capacity is a + b >= 0 (a or b may be negative)
    neg_a, neg_b = a < 0, b < 0
    np.add.at(theta, u[neg_a], a[neg_a])
    np.add.at(theta, w[neg_a], -a[neg_a])
    tails.append(w[neg_a]), heads.append(u[neg_a]), caps.append((a + b)[neg_a])
    np.add.at(theta, w[neg_b], b[neg_b])
    np.add.at(theta, u[neg_b], -b[neg_b])
    tails.append(u[neg_b]), heads.append(w[neg_b]), caps.append((a + b)[neg_b])
    plain = ~neg_a & ~neg_b
    tails.append(u[plain]), heads.append(w[plain]), caps.append(a[plain])
    tails.append(w[plain]), heads.append(u[plain]), caps.append(b[plain])
    theta[~ok] += penalty[~ok]  # no site of its own kind to go to: it is displaced itself
    pushes = ok & (held >= 0)  # a unit of R pushes the one on its target out, unless that one moves too
    tails.append(np.flatnonzero(pushes)), heads.append(held[pushes]), caps.append(penalty[held[pushes]])
    big = float(np.sum(np.abs(a)) + np.sum(np.abs(b)) + np.sum(penalty) + 1.0)
    theta[p.fixed_site >= 0] = big
    tail = np.concatenate(tails)
    head = np.concatenate(heads)
    cap = np.concatenate(caps)
    source, sink = n, n + 1
    pos, neg = theta > 0, theta < 0
    tail = np.concatenate([tail, np.flatnonzero(pos), np.full(int(neg.sum()), source)])
    head = np.concatenate([head, np.full(int(pos.sum()), sink), np.flatnonzero(neg)])
    cap = np.concatenate([cap, theta[pos], -theta[neg]])
    cap = np.minimum(np.rint(np.minimum(cap, big) * SCALE), 2**31 - 1).astype(np.int64)
    keep = (cap > 0) & (tail != head)
    graph = coo_matrix((cap[keep].astype(np.int32), (tail[keep], head[keep])), shape=(n + 2, n + 2)).tocsr()
    graph.sum_duplicates()
    flow = maximum_flow(graph, source, sink)
    residual = (graph - flow.flow).tocsr()
    residual.data[residual.data < 0] = 0
    residual.eliminate_zeros()
    reached = breadth_first_order(residual, source, directed=True, return_predecessors=False)
    region = np.zeros(n, dtype=bool)
    region[reached[reached < n]] = True
    return region, model_energy(p, site_of_unit, step, region, pairs, displace_cost)


def slide(problem: PlacementProblem, site_of_unit: np.ndarray, region: np.ndarray, step: tuple[int, int]) -> np.ndarray:
    """`site_of_unit` with the units of `region` moved by `step` where a free site of their kind is
    (pinned units never move); the units pushed out, and those of the region without such a site,
    are legalised near where they were into the sites left free."""
    p = problem
    n = p.num_units
    x = p.site_x[site_of_unit].astype(np.int64)
    y = p.site_y[site_of_unit].astype(np.int64)
    movers = np.flatnonzero(region & (p.fixed_site < 0))
    target, ok, _ = _targets(p, site_of_unit, movers, step)
    pinned = p.fixed_site >= 0
    placed = site_of_unit.copy()
    placed[movers] = -1
    placed[movers[ok]] = target[ok]
    taken = np.zeros(p.num_sites, dtype=bool)
    taken[target[ok]] = True
    pushed = ~region & (site_of_unit >= 0) & taken[site_of_unit] & ~pinned
    placed[pushed] = -1
    coords = np.full((n, 2), np.nan)
    lost = placed < 0
    coords[lost, 0], coords[lost, 1] = x[lost], y[lost]
    return legalize(p, coords, placed)


def heal(problem: PlacementProblem, site_of_unit: np.ndarray, moves: int, seed: int,
         movers: np.ndarray | None = None) -> np.ndarray:
    """A short cool annealing run (HEAL_FROM -> HEAL_TO x the median net weight) from `site_of_unit`.
    With `movers`, only those units are drawn to move (each may still swap with any free unit on
    the site it is aimed at), starting at HEAL_RADIUS sites: the local heal of a slide's seam."""
    weight = float(np.median(problem.net_weight)) if problem.num_nets else 1.0
    annealer = SequentialAnnealer(problem, site_of_unit, np.random.default_rng(seed))
    if movers is not None:
        annealer.movable = np.intersect1d(annealer.movable, movers).astype(np.int64)
        annealer.radius = min(annealer.radius, HEAL_RADIUS)
    return annealer.run(AnnealSchedule(t_start=HEAL_FROM * weight, t_end=HEAL_TO * weight, moves=moves)).copy()


def seam(problem: PlacementProblem, before: np.ndarray, after: np.ndarray, step: tuple[int, int],
         reach: int = HEAL_REACH, before_hpwl: np.ndarray | None = None) -> np.ndarray:
    """The free units within `reach` sites (Chebyshev) of a slide's seam: the units of every net
    whose length the slide changed, and every unit that moved other than by `step` (the pushed and
    legalised ones). Inside the slid region and far outside it nothing changed, so nothing there
    needs healing. `before_hpwl`: `net_hpwl(problem, before)`, if already computed (`slide_pass`
    keeps it from judging the placement, so a try measures its nets once, not twice)."""
    p = problem
    changed = (net_hpwl(p, before) if before_hpwl is None else before_hpwl) != net_hpwl(p, after)
    core = np.zeros(p.num_units, dtype=bool)
    core[p.net_pins[changed[p.pin_net]]] = True
    dx = p.site_x[after].astype(np.int64) - p.site_x[before]
    dy = p.site_y[after].astype(np.int64) - p.site_y[before]
    core |= (after != before) & ((dx != step[0]) | (dy != step[1]))
    mask = np.zeros(p.site_at.shape, dtype=bool)
    mask[p.site_x[after[core]], p.site_y[after[core]]] = True
    if reach > 0:
        mask = binary_dilation(mask, np.ones((3, 3), dtype=bool), iterations=reach)
    near = mask[p.site_x[after], p.site_y[after]] & (p.fixed_site < 0)
    return np.flatnonzero(near)


def step_seconds(num_units: int) -> float:
    """CPU time of one `find_region` or one `slide` (with its legalisation), counted, not timed:
    measured 0.004-0.018 s and 0.010-0.014 s at 2,000 units (pins23, multipin, geometric; load ~5 on
    2 cores), with the annealer's 25% headroom."""
    return MOVE_HEADROOM * (0.004 + 1e-5 * num_units)


# The pass's other work, counted like `step_seconds` (seconds: fixed, per unit; x MOVE_HEADROOM). Measured
# with time.process_time (min-max of 7 calls) at 1,000 / 2,000 units, on `generate(G, "sn40l", N, S)`'s hidden
# optimum with its right half slid (2, 0) and the cut's region slid back (mixed and pins23 552299542, multipin
# 114625533, geometric and clustered 7; load ~3.7 on 2 cores), in ms:
SETUP_RATE = (6e-4, 3.5e-7)  # the model's pairs and the start's wirelength, once a pass: 0.32-0.93 / 0.47-1.28
GEOMETRY_RATE = (6e-5, 7e-8)  # `_geometry` of a kept slide's placement, shared by its re-judges: 0.02-0.15 / 0.04-0.19
REJUDGE_RATE = (2.5e-4, 2e-7)  # one re-judge (`model_energy`, the geometry shared): 0.14-0.46 / 0.21-0.66
SEAM_RATE = (5e-4, 1.5e-7)  # `seam` (the slid placement's net lengths, the dilation): 0.21-0.70 / 0.33-0.73
JUDGE_RATE = (1e-4, 1.5e-7)  # a heal's verdict (its net lengths, kept for the next seam): 0.08-0.22 / 0.16-0.43


def work_seconds(rate: tuple[float, float], num_units: int) -> float:
    """The counted time of one step of the pass measured at `rate` (fixed, per unit), with the
    annealer's 25% headroom."""
    return MOVE_HEADROOM * (rate[0] + rate[1] * num_units)


def slide_pass(problem: PlacementProblem, site_of_unit: np.ndarray, seed: int, heal_moves: float,
               seconds: float, per_move: float, models: tuple[tuple[float, int], ...] = MODELS) -> tuple[np.ndarray, dict]:
    """Greedy domain slides within `seconds` of counted work. A sweep finds the cut's best region
    for each of the LATTICE_STEPS (times the model's step multiple) under one of `models`
    (DISPLACE_COST, step multiple) and tries them best model gain first: each is slid, its seam
    healed locally (`seam`, `heal`: `heal_moves` moves per unit of the seam, `per_move` seconds
    each) and kept if the whole placement is shorter; after a kept slide the regions still to try
    are re-judged by the model on the new placement. A sweep that keeps something is followed by
    one under the first model; one that keeps nothing by one under the next model; the pass ends
    when the last model's sweep keeps nothing or the budget cannot pay for the next step. Every
    step is charged before it runs, so the result is a function of the netlist, the placement, the
    budget and the seed, never of the machine's load: the setup (pairs, the start's wirelength)
    with the first sweep's cuts, each cut and slide (`step_seconds`), each re-judge and the
    geometry it shares (once per kept slide), each seam, and each heal with its verdict. Returns
    the placement and a record (tries, kept, sweeps, wirelength gained, "budget_estimate": the work
    counted)."""
    p = problem
    n = p.num_units
    current = np.asarray(site_of_unit, dtype=np.int64).copy()
    find_cost = step_seconds(n)
    setup_cost, geometry_cost, rejudge_cost, seam_cost, judge_cost = (
        work_seconds(rate, n) for rate in (SETUP_RATE, GEOMETRY_RATE, REJUDGE_RATE, SEAM_RATE, JUDGE_RATE))
    pairs = hpwl = None  # the setup, paid with the first sweep (a budget too small to sweep pays nothing)
    length = 0.0
    spent = 0.0
    tries = kept = sweeps = 0
    gained = 0.0
    model = 0
    out = False
    while (not out and model < len(models)
           and spent + (setup_cost if pairs is None else 0.0) + len(LATTICE_STEPS) * find_cost <= seconds):
        if pairs is None:
            spent += setup_cost
            pairs = _pairs(p)
            hpwl = net_hpwl(p, current)  # the nets' lengths of `current`, as `seam` compares them
            length = float(np.dot(p.net_weight, hpwl))  # = wirelength(p, current)
        cost, multiple = models[model]
        sweeps += 1
        candidates = []
        for vx, vy in LATTICE_STEPS:
            step = (vx * multiple, vy * multiple)
            region, energy = find_region(p, current, step, pairs, cost)
            spent += find_cost
            if region.any() and energy < 0:
                candidates.append((energy, len(candidates), step, region))
        candidates.sort(key=lambda c: c[:2])
        any_kept = False
        geometry = None  # `_geometry` of `current` once a slide is kept, shared by the re-judges until the next
        for _, _, step, region in candidates:
            if any_kept:  # an earlier slide of this sweep may have taken its gain away: the model, on the new placement
                charge = rejudge_cost + (geometry_cost if geometry is None else 0.0)
                if spent + charge > seconds:
                    out = True
                    break
                spent += charge
                if geometry is None:
                    geometry = _geometry(p, current, pairs)
                if model_energy(p, current, step, region, pairs, cost, geometry) >= 0:
                    continue
            if spent + find_cost + seam_cost > seconds:  # a slide whose seam cannot be found is not made
                out = True
                break
            slid = slide(p, current, region, step)
            movers = seam(p, current, slid, step, before_hpwl=hpwl)
            spent += find_cost + seam_cost
            moves = int(heal_moves * len(movers))
            if spent + moves * per_move + judge_cost > seconds:  # nor a heal that cannot be judged
                out = True
                break
            spent += moves * per_move + judge_cost
            tries += 1
            candidate = heal(p, slid, moves, seed + tries, movers)
            candidate_hpwl = net_hpwl(p, candidate)
            after = float(np.dot(p.net_weight, candidate_hpwl))  # = wirelength(p, candidate)
            if after < length - 1e-9:
                gained += length - after
                current, length, hpwl = candidate, after, candidate_hpwl
                geometry = None
                kept += 1
                any_kept = True
        model = 0 if any_kept else model + 1
    return current, {"tries": tries, "kept": kept, "sweeps": sweeps, "gained": json_number(gained),
                     "budget_estimate": round(spent, 3)}
