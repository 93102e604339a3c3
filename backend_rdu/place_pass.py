"""`rdu-place`: bind every stage's units to sites of the right kind on the chip.

Kernels run one after another, so each kernel has the whole grid to itself. Each kernel becomes a
netlist (one unit per stage unit; a multi-pin net per source unit of every stream, modelling its
multicast tree) for the CP-SAT-centred placer in `backend_rdu.placement`. Kernels of the same structure (the layers of a
model) are placed once and share the placement. The placement summary (wirelength, lower bound,
gap, solver statistics, seed) is kept on the module (`#rdu.placement<...>`) for the bitstream manifest; it holds only
deterministic figures, so the same compile gives the same bytes.

`objective=cycles` then re-places for simulated cycles: candidates (the wirelength placement, the
greedy one, re-placements with stream head nets weighted by criticality and traffic) are routed
and timed by the event simulator, and each kernel keeps its fastest (`backend_rdu.cycle_placement`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from backend_rdu.initial_placement import place_kernel_greedy
from dialects.kernel_signature import kernel_signature, kernel_structure
from backend_rdu.placement import Net, Netlist, PlacementProblem, Unit, place, wirelength, wirelength_lower_bound
from chip_model import ChipSpec
from dialects import rdu
from dialects.diagnostics import RduccError
from dialects.rdu_attrs import CP_SAT_COUNTERS, PlacementSummaryAttr
from passes.target import lowered_target_chip


def kernel_netlist(kernel: rdu.KernelOp) -> tuple[Netlist, list[list[str]]]:
    """The kernel's placement netlist and its units' names per stage (`kernel_nets`)."""
    netlist, names, _ = kernel_nets(kernel)
    return netlist, names


def kernel_nets(kernel: rdu.KernelOp) -> tuple[Netlist, list[list[str]], list[tuple[int, int]]]:
    """Units named `stage.unit`; one net per source unit of every stream, as the stream routes.

    A stream from n units to consumer stages of m_1, m_2, ... units is wired as max(n, m_j) unit
    pairs to consumer j, pairing units evenly, so that every unit at both ends sits near a
    partner; only min(n, max m_j) of them carry data at once (`dialects.rdu.stream_paths`, the
    stream's bandwidth), but the placer keeps every unit's wire short, not just those. A source
    unit's wires to all consumers leave it on one
    multicast tree (`backend_rdu.routing` routes a stream with several destinations as a tree that
    shares its trunk), so they form one multi-pin net, whose half-perimeter is the Steiner length
    of the tree for up to three pins and a lower estimate beyond. Modelling the fan-out as one
    2-pin net per destination instead would charge the trunk once per destination and pull the
    placer towards star shapes the router never builds.

    The third item gives, per net, the stream it models: (stage index, result index)."""
    stages = kernel.stages()
    names = [[f"{i}.{u}" for u in range(st.unit_count)] for i, st in enumerate(stages)]
    units = [Unit(name, st.unit_kind) for st, group in zip(stages, names) for name in group]
    index = {st: i for i, st in enumerate(stages)}
    nets, streams = [], []
    for i, st in enumerate(stages):
        for r, result in enumerate(st.results):
            consumers = list(dict.fromkeys(j for use in result.uses if (j := index.get(use.operation)) is not None))
            if not consumers:
                continue
            n = len(names[i])
            trees: dict[int, list[str]] = {}  # source unit -> its destinations, in order
            for j in consumers:
                m = len(names[j])
                k = max(n, m)
                for t in range(k):
                    trees.setdefault(t * n // k, []).append(names[j][t * m // k])
            nets += [Net((names[i][s], *dict.fromkeys(dsts))) for s, dsts in sorted(trees.items())]
            streams += [(i, r)] * len(trees)
    return Netlist(tuple(units), tuple(nets)), names, streams


# What the summary's wirelength measures: weighted half-perimeter of each stream's multicast tree
# (one net per source unit, `kernel_netlist`).
OBJECTIVE = "multicast-hpwl"
OBJECTIVES = ("wirelength", "cycles")

class PlaceOptionError(RduccError):
    """An rdu-place option out of range."""


@dataclass(frozen=True)
class PlacePass(ModulePass):
    name = "rdu-place"

    seed: int = 0
    seconds: float = 1.0  # placer budget for the whole module, shared by its distinct kernels
    greedy: bool = False  # skip the placer: nearest free sites in dataflow order
    random: bool = False  # skip the placer: seeded random legal sites (a baseline for experiments)
    objective: str = "wirelength"  # or "cycles": re-place for simulated cycles (see above)
    rounds: int = 2  # cycle-driven re-placement rounds (a third won on none of the bundled examples)
    pool: bool = False  # a class's one placement gets its members' shares together, not one member's (`class_budgets`)

    def apply(self, ctx: Context, module: ModuleOp) -> None:
        if self.objective not in OBJECTIVES:
            raise PlaceOptionError(f"rdu-place: objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        if self.objective == "cycles" and (self.greedy or self.random):
            raise PlaceOptionError("rdu-place: objective=cycles places with the CP-SAT placer; drop greedy/random")
        if self.rounds < 0:
            raise PlaceOptionError(f"rdu-place: rounds must be at least 0, got {self.rounds}")
        chip = lowered_target_chip(module, "rdu-place")
        kernels = rdu.kernels(module)
        signatures = [kernel_signature(kernel) for kernel in kernels]  # once: ~20 ms a decoder layer's kernel
        first_kernel = {sig: k for k, sig in reversed(list(enumerate(signatures)))}  # index in module order
        distinct = {sig: kernels[k] for sig, k in sorted(first_kernel.items(), key=lambda item: item[1])}
        classes = placement_classes(distinct)
        budgets = class_budgets(distinct, classes, self.seconds, self.pool)
        summary = {"seed": self.seed, "method": "random" if self.random else "greedy" if self.greedy else "cp-sat windows", "kernels": len(kernels),
                   "distinct_kernels": len(distinct), "wirelength": 0, "lower_bound": 0,
                   "cp_sat": {c: 0 for c in CP_SAT_COUNTERS},
                   "objective": OBJECTIVE}
        placed: dict[tuple, list[list[tuple[int, int]]]] = {}
        for members in classes.values():  # one placement per class, with the class's budget
            sites, figures = self.place_kernel(distinct[members[0]], chip, budgets[members[0]])
            for signature in members:
                placed[signature] = sites
            # the class's CP-SAT work once (it was done once); its wirelength and bound per member
            # (each member holds the placement)
            add_figures(summary, {**figures, "wirelength": figures["wirelength"] * len(members),
                                  "lower_bound": figures["lower_bound"] * len(members)})
        if self.objective == "cycles" and distinct:
            placed = self.place_for_cycles(module, chip, distinct, classes, placed, budgets, summary, first_kernel)
        for kernel, signature in zip(kernels, signatures):
            for stage, sites in zip(kernel.stages(), placed[signature]):
                stage.set_sites(sites)
        wl, lb = summary["wirelength"], summary["lower_bound"]
        summary["gap"] = round((wl - lb) / wl, 6) if wl else 0.0
        first = {sig: members[0] for members in classes.values() for sig in members}
        searched = not (self.greedy or self.random)  # greedy and random sites spend no placer budget
        summary["budgets"] = [budgets[sig] if searched else 0.0 for sig in signatures]
        summary["placed_with"] = [first_kernel[first[sig]] for sig in signatures]
        module.attributes[rdu.PLACEMENT_ATTR] = PlacementSummaryAttr(**summary)

    def place_kernel(self, kernel: rdu.KernelOp, chip: ChipSpec,
                     seconds: float) -> tuple[list[list[tuple[int, int]]], dict]:
        """The kernel's sites and the summary figures its placement adds (`add_figures`)."""
        figures = {"wirelength": 0, "lower_bound": 0, "cp_sat": {}}
        if self.random:
            return place_kernel_random(kernel, chip, self.seed), figures
        netlist, names = kernel_netlist(kernel)
        if self.greedy:
            sites = greedy_sites(kernel, chip)
            # measured on the same objective as the placer's, so the two summaries compare
            problem = PlacementProblem.build(chip, netlist)
            figures["wirelength"] = wirelength(problem, site_array(problem, names, sites))
            figures["lower_bound"] = wirelength_lower_bound(problem)
            return sites, figures
        result = self.run_placer(PlacementProblem.build(chip, netlist), seconds, netlist)
        figures["wirelength"], figures["lower_bound"] = result.wirelength, result.lower_bound
        cp_sat = result.stats.get("cp_sat", {})
        figures["cp_sat"] = {counter: int(cp_sat.get(counter, 0)) for counter in CP_SAT_COUNTERS}
        positions = result.positions
        return [[positions[name] for name in group] for group in names], figures

    def run_placer(self, problem: PlacementProblem, seconds: float, netlist: Netlist, start=None):
        # The budget is counted in work (annealing batches, CP-SAT deterministic time), which
        # bounds every phase, so no wall clock may stop the placer: a loaded machine gives the same
        # placement and the same bitstream. (A limit of 20x the budget was reached at a 5% CPU
        # share, and CP-SAT's own per-solve limit sooner.)
        return place(problem, seconds=seconds, seed=self.seed, wall_limit=math.inf, start=start)

    def place_for_cycles(self, module: ModuleOp, chip: ChipSpec, distinct: dict[tuple, rdu.KernelOp],
                         classes: dict[tuple, list[tuple]], placed: dict[tuple, list[list[tuple[int, int]]]],
                         budgets: dict[tuple, float], summary: dict,
                         index_of: dict[tuple, int]) -> dict[tuple, list[list[tuple[int, int]]]]:
        """Each distinct kernel's fastest placement by simulated cycles (`cycle_placement.place_for_cycles`)."""
        from backend_rdu.cycle_placement import place_for_cycles  # it builds on this module's netlists

        # One kernel per placement class is placed for cycles and its result shared: equal netlists,
        # budgets and starts re-place alike, and equal structure simulates alike (kernels run one after
        # another from empty FIFOs, and no timing reads an off-chip address).
        rep = {sig: members[0] for members in classes.values() for sig in members}
        shown = {members[0]: distinct[members[0]] for members in classes.values()}
        best, trail, kept = place_for_cycles(module, chip, shown, {sig: placed[sig] for sig in shown},
                                             {sig: budgets[sig] for sig in shown}, self.run_placer, self.rounds,
                                             {sig: index_of[sig] for sig in shown}, self.seed)
        # the summary's wirelength and bound stay on the multicast objective, for the chosen sites
        measured: dict[tuple, float] = {}
        for sig in shown:
            netlist, names = kernel_netlist(distinct[sig])
            problem = PlacementProblem.build(chip, netlist)
            measured[sig] = wirelength(problem, site_array(problem, names, best[sig]))
        best, trail, kept = ({sig: of[rep[sig]] for sig in distinct} for of in (best, trail, kept))
        summary["wirelength"] = sum(measured[rep[sig]] for sig in distinct)
        summary["objective"] = "simulated-cycles"
        chosen = "; ".join(f"{distinct[sig].sym_name.data}: " + ", ".join(f"{label} {c}" for label, c in trail[sig])
                           + f" -> {kept[sig]}" for sig in distinct)
        rounds = f"{self.rounds} round" + ("" if self.rounds == 1 else "s")
        summary["method"] = f"cp-sat windows, cycle-driven ({rounds}; body cycles {chosen})"
        return best


MIN_SECONDS = 0.05  # the least budget a placement gets, however small its share


def placement_class(kernel: rdu.KernelOp) -> tuple:
    """Kernels of one class get the same placement: the placer sees the same netlist (and, with the
    class's one budget and seed, counted in work, places it deterministically), and the cycle-driven
    placer simulates the same timing (`kernel_structure`)."""
    return kernel_structure(kernel)


def placement_classes(distinct: dict[tuple, rdu.KernelOp]) -> dict[tuple, list[tuple]]:
    """The distinct kernels' signatures per placement class, in module order."""
    classes: dict[tuple, list[tuple]] = {}
    for signature, kernel in distinct.items():
        classes.setdefault(placement_class(kernel), []).append(signature)
    return classes


def class_budgets(distinct: dict[tuple, rdu.KernelOp], classes: dict[tuple, list[tuple]],
                  seconds: float, pool: bool) -> dict[tuple, float]:
    """Per distinct kernel, the budget of its class's one placement (`MIN_SECONDS` at least).

    The module's `seconds` is shared over the distinct kernels by unit count. A class is placed once
    and every member takes that placement: with `pool` it spends what its members were given
    together (the sum of their shares, so the compile spends about `seconds`), else one member's
    share. Pooling is not the default: on llama3_8b_shapes (64 kernels, 5 classes) it lengthened
    the layers' placements and cost 1.1% simulated cycles, since a 2,100-unit kernel's pooled
    0.48 s is still below what the placer's start costs (~1.3 s counted), so it buys no annealing
    (docs/placement.md, "A class's budget")."""
    units = {sig: sum(st.unit_count for st in kernel.stages()) for sig, kernel in distinct.items()}
    total = sum(units.values()) or 1
    budgets: dict[tuple, float] = {}
    for members in classes.values():
        shares = [seconds * units[sig] / total for sig in members]
        budgets.update(dict.fromkeys(members, max(MIN_SECONDS, sum(shares) if pool else shares[0])))
    return budgets


def add_figures(summary: dict, figures: dict) -> None:
    """Add one kernel's placement figures (wirelength, bound, CP-SAT counters) to the module's summary."""
    summary["wirelength"] += figures["wirelength"]
    summary["lower_bound"] += figures["lower_bound"]
    for counter, value in figures["cp_sat"].items():
        summary["cp_sat"][counter] += value


def greedy_sites(kernel: rdu.KernelOp, chip: ChipSpec) -> list[list[tuple[int, int]]]:
    greedy = place_kernel_greedy(kernel, chip)
    return [greedy[st] for st in kernel.stages()]


def site_array(problem: PlacementProblem, names: list[list[str]], sites: list[list[tuple[int, int]]]) -> np.ndarray:
    """`site_of_unit` of a placement given per stage, in the problem's unit order."""
    site_of = {name: xy for group, placed in zip(names, sites) for name, xy in zip(group, placed)}
    return np.array([problem.site_at[site_of[n]] for n in problem.unit_names], dtype=np.int64)


def place_kernel_random(kernel: rdu.KernelOp, chip: ChipSpec, seed: int) -> list[list[tuple[int, int]]]:
    """Each stage's units on sites of its kind drawn at random (seeded) without replacement:
    legal, and as bad as a placement may be, so what the placer buys can be measured."""
    import random

    rng = random.Random(seed)
    free = {kind: sorted((s.x, s.y) for s in sites) for kind, sites in chip.sites_by_kind.items()}
    for sites in free.values():
        rng.shuffle(sites)
    return [[free[st.unit_kind].pop() for _ in range(st.unit_count)] for st in kernel.stages()]
