"""The wirelength lower bound is a bound: never above the exact optimum (CP-SAT on the whole chip,
small instances) nor above any generator's hidden placement; and it is tight where it is claimed."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chip_model import load_chip
from chip_model.spec import GridSpec, Site

from backend_rdu.placement import Net, Netlist, PlacementProblem, Unit, wirelength, wirelength_lower_bound
from backend_rdu.placement.generators import BOUND_ONLY_GENERATORS, GENERATORS, generate
from backend_rdu.placement.wirelength import net_lower_bounds, pair_share

KINDS = ("pcu", "pmu", "agcu")


def tiny_chip():
    """Chip 'small' cut to 6x4: AGCU columns 0 and 5 around a 4x4 PCU/PMU checkerboard (8 sites of
    each kind), small enough to try every placement."""
    chip = load_chip("small")
    sites = tuple(Site(x, y, "agcu" if x in (0, 5) else ("pcu" if (x + y) % 2 == 0 else "pmu"))
                  for y in range(4) for x in range(6))
    return dataclasses.replace(chip, name="tiny", grid=GridSpec(columns=6, rows=4, die_rows=4, sites=sites))


TINY = tiny_chip()


def exact_optimum(problem: PlacementProblem) -> float:
    """The optimum wirelength, by trying every legal placement (free units of each kind on every
    ordered choice of that kind's free sites)."""
    taken = set(problem.fixed_site[problem.fixed_site >= 0].tolist())
    choices = []  # per kind: (free units, array of their site tuples)
    for kind in range(3):
        units = np.flatnonzero((problem.unit_kind == kind) & (problem.fixed_site < 0))
        free = [s for s in problem.sites_of_kind(kind).tolist() if s not in taken]
        if len(units):
            choices.append((units, np.array(list(itertools.permutations(free, len(units))))))
    combos = int(np.prod([len(c) for _, c in choices]))
    assert combos <= 3_000_000, "instance too large to enumerate"
    sites = np.tile(problem.fixed_site, (combos, 1))
    repeat = combos
    for units, options in choices:
        repeat //= len(options)
        sites[:, units] = np.tile(np.repeat(options, repeat, axis=0), (combos // (len(options) * repeat), 1))
    x, y = problem.site_x[sites], problem.site_y[sites]
    best = np.zeros(combos)
    for n in range(problem.num_nets):
        pins = problem.net_pins[problem.net_ptr[n] : problem.net_ptr[n + 1]]
        px, py = x[:, pins], y[:, pins]
        best += problem.net_weight[n] * (px.max(1) - px.min(1) + py.max(1) - py.min(1))
    return float(best.min())


def per_net_bound(problem: PlacementProblem) -> float:
    return float(np.dot(problem.net_weight, net_lower_bounds(problem)))


@st.composite
def tiny_netlists(draw):
    """Up to 6 units on the tiny chip, hub-heavy 2-pin nets (where the neighbourhood bound beats
    the per-net one) plus some 3- and 4-pin nets, fractional weights, some pinned units."""
    count = draw(st.integers(3, 6))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=count, max_size=count))
    units, pinned = [], set()
    for i, kind in enumerate(kinds):
        fixed = None
        if draw(st.integers(0, 5)) == 0:  # about one unit in six is pinned
            free = [(s.x, s.y) for s in TINY.grid.sites if s.kind == kind and (s.x, s.y) not in pinned]
            fixed = draw(st.sampled_from(free))
            pinned.add(fixed)
        units.append(Unit(f"u{i}", kind, fixed))
    names = [u.name for u in units]
    hub = draw(st.sampled_from(names))
    weights = st.sampled_from([1, 1, 2, 3, 0.5])
    nets = [Net((hub, other), draw(weights)) for other in names if other != hub and draw(st.integers(0, 3))]
    for _ in range(draw(st.integers(0, 4))):
        pins = draw(st.lists(st.sampled_from(names), min_size=2, max_size=4, unique=True))
        nets.append(Net(tuple(pins), draw(weights)))
    if not nets:
        nets.append(Net((names[0], names[1]), 1))
    return Netlist(tuple(units), tuple(nets))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tiny_netlists())
def test_the_bound_never_exceeds_the_exact_optimum(netlist):
    problem = PlacementProblem.build(TINY, netlist)
    bound = wirelength_lower_bound(problem)
    assert per_net_bound(problem) <= bound + 1e-9
    assert bound <= exact_optimum(problem) + 1e-9


def test_a_hub_with_more_neighbours_than_adjacent_sites_is_bounded_by_its_neighbourhood():
    """A PCU wired to six PMUs: each net alone could cost 1 (per-net bound 6), but only four PMU
    sites touch a PCU site; the next PMUs are at distance 3, so the optimum is 4 x 1 + 2 x 3 = 10.
    (CP-SAT's whole-chip model, per-net cuts and all, had only proven 6 after 60 units of
    deterministic time on chip 'small'.)"""
    units = (Unit("hub", "pcu"),) + tuple(Unit(f"m{i}", "pmu") for i in range(6))
    problem = PlacementProblem.build(TINY, Netlist(units, tuple(Net(("hub", f"m{i}")) for i in range(6))))
    assert per_net_bound(problem) == 6
    assert wirelength_lower_bound(problem) == 10 == exact_optimum(problem)


def test_three_pin_nets_become_exact_pair_terms():
    """Eight PMUs in pairs, each pair on a 3-pin net with one PCU: HPWL of 3 pins is half the sum
    of their pairwise distances, so the hub's crowding counts for 3-pin nets too."""
    units = (Unit("hub", "pcu"),) + tuple(Unit(f"m{i}", "pmu") for i in range(8))
    nets = tuple(Net(("hub", f"m{2 * i}", f"m{2 * i + 1}")) for i in range(4))
    problem = PlacementProblem.build(TINY, Netlist(units, nets))
    bound = wirelength_lower_bound(problem)
    assert per_net_bound(problem) < bound <= exact_optimum(problem)


def test_pinned_pairs_cost_their_exact_distance():
    units = (Unit("a", "pcu", (2, 0)), Unit("b", "pmu", (4, 3)), Unit("c", "pmu"))
    problem = PlacementProblem.build(TINY, Netlist(units, (Net(("a", "b")), Net(("a", "c"), 2))))
    assert wirelength_lower_bound(problem) == 5 + 2 == exact_optimum(problem)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), min_size=2, max_size=9))
def test_pair_share_bounds_the_half_perimeter_and_is_exact_up_to_three_pins(points):
    hpwl = max(x for x, _ in points) - min(x for x, _ in points) + max(y for _, y in points) - min(y for _, y in points)
    pairs = sum(abs(a[0] - b[0]) + abs(a[1] - b[1]) for a, b in itertools.combinations(points, 2))
    assert pair_share(len(points)) * pairs <= hpwl + 1e-9
    if len(points) <= 3:
        assert pair_share(len(points)) * pairs == hpwl


@pytest.mark.parametrize("generator", sorted(GENERATORS) + sorted(BOUND_ONLY_GENERATORS))
@pytest.mark.parametrize("seed", [1, 2])
def test_the_bound_never_exceeds_a_generators_hidden_placement(generator, seed):
    bench = generate(generator, "sn40l", 400, seed=seed)
    problem = PlacementProblem.build("sn40l", bench.netlist)
    sites = bench.hidden_sites(problem)
    assert wirelength_lower_bound(problem) == bench.lower_bound <= wirelength(problem, sites) == bench.hidden_wirelength
    assert bench.optimum_known == (generator in GENERATORS)


@pytest.mark.parametrize("seed", range(6))
def test_geometric_optimum_is_the_hidden_placement_on_an_exactly_solved_chip(seed):
    """On the tiny chip (AGCU columns, edges everywhere) the exact optimum equals the hidden
    placement's wirelength and the bound: the construction's proof holds off the chip interior too."""
    bench = generate("geometric", TINY, 7, seed=seed)
    problem = PlacementProblem.build(TINY, bench.netlist)
    assert bench.optimum_known and problem.num_nets >= 3
    assert exact_optimum(problem) == bench.hidden_wirelength == wirelength_lower_bound(problem)


def test_geometric_is_not_tight_per_net_and_its_nets_reach_past_neighbours():
    """The optimum is proven by neighbourhoods, not net by net: the per-net bound is well below it,
    and nets join units up to three sites apart."""
    bench = generate("geometric", "sn40l", 600, seed=7)
    problem = PlacementProblem.build("sn40l", bench.netlist)
    assert per_net_bound(problem) < 0.97 * bench.lower_bound
    where = bench.positions
    lengths = {abs(where[a][0] - where[b][0]) + abs(where[a][1] - where[b][1]) for a, b in (n.units for n in bench.netlist.nets)}
    assert lengths == {1, 2, 3}
