"""The heavy components of a netlist, and the oracles that located `clustered`'s excess inside them.

Why (docs/placement.md, "Wave 13: clustered, where its excess is made"). Wave 12 read the
`clustered` generator's 1.12-1.15x at 2,000 units as blobs misarranged relative to each other.
The measurements here say otherwise:
- Each heavy component placed on exactly its own hidden sites, its units shuffled among them
  (`scrambled_within`), still anneals only to 1.11-1.12 (seeds 552299542 and 7; main from
  scratch: 1.151 and 1.113).
- A single heavy component of 161-181 units placed *alone* (`component_bench`) reaches only
  1.07-1.08 in 10 s.
So the excess is made inside the components: sparse puzzles of tight 2-6 pin nets. These functions
keep those measurements repeatable, and `component_bench` is a small, fast testbed for the next
attempt. Diagnosis only: the placer never calls them.
"""

from __future__ import annotations

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from backend_rdu.placement.generators import BenchNetlist
from backend_rdu.placement.netlist import Net, Netlist
from backend_rdu.placement.problem import PlacementProblem
from backend_rdu.placement.wirelength import wirelength_lower_bound


def heavy_nets(problem: PlacementProblem) -> np.ndarray:
    """Per net of `problem`, whether it is heavy: heavier than the lightest net weight. On
    `clustered` these are the weight-3 nets inside the blobs; the weight-1 nets only cross blob
    borders. The one definition of "heavy" for this module and `cluster_windows`, so that a whole
    heavy component means the same set of units in both.

    If all nets weigh the same, no net is heavy. Why not every net: heavy nets stand for the inside
    of a cluster, as against the nets between clusters, and equal weights say nothing about that;
    taking every net would make the whole (usually connected) netlist one "component", so
    `component_bench` would return the whole netlist and a whole-component window would hold every
    unit. Growing over every net is asked for explicitly (`cluster_windows.unit_adjacency(...,
    heavy_only=False)`)."""
    p = problem
    if not p.num_nets:
        return np.zeros(0, dtype=bool)
    return p.net_weight > float(np.min(p.net_weight))


def heavy_components(problem: PlacementProblem) -> np.ndarray:
    """Component index per unit over the heavy nets (`heavy_nets`); a unit on no heavy net is a
    component of its own. On `clustered` these are the pieces of its blobs. If all nets weigh the
    same, no net is heavy and every unit is its own component."""
    p = problem
    rows, cols = [], []
    for n in np.flatnonzero(heavy_nets(p)):
        pins = p.net_pins[p.net_ptr[n]:p.net_ptr[n + 1]]
        rows.extend([int(pins[0])] * (len(pins) - 1))
        cols.extend(int(v) for v in pins[1:])
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(p.num_units, p.num_units))
    return connected_components(graph, directed=False)[1].astype(np.int64)


def component_bench(bench: BenchNetlist, problem: PlacementProblem, component: np.ndarray, index: int) -> BenchNetlist:
    """The units of heavy component `index` and its heavy nets alone, as a benchmark netlist with its
    hidden placement and the placer's bound. On `clustered` every heavy net is tight, so the hidden
    placement is optimal (`optimum_known`)."""
    p = problem
    names = {p.unit_names[u] for u in np.flatnonzero(component == index)}
    units = tuple(u for u in bench.netlist.units if u.name in names)
    # the problem's heavy nets (`heavy_nets`), as nets of the netlist: a heavy net lies inside one
    # component, so its first pin says whether it is this one's
    nets = []
    for n in np.flatnonzero(heavy_nets(p)):
        pins = [p.unit_names[u] for u in p.net_pins[p.net_ptr[n]:p.net_ptr[n + 1]]]
        if pins[0] in names:
            nets.append(Net(tuple(pins), float(p.net_weight[n])))
    where = {name: bench.positions[name] for name in names}
    hidden = 0.0
    for net in nets:
        xs = [where[u][0] for u in net.units]
        ys = [where[u][1] for u in net.units]
        hidden += net.weight * (max(xs) - min(xs) + max(ys) - min(ys))
    netlist = Netlist(units, tuple(nets))
    bound = wirelength_lower_bound(PlacementProblem.build(p.chip, netlist))
    return BenchNetlist(f"{bench.generator}-component", netlist, float(hidden), bound, where)


def scrambled_within(problem: PlacementProblem, hidden: np.ndarray, component: np.ndarray,
                     rng: np.random.Generator) -> np.ndarray:
    """The oracle start: every component on exactly its own hidden sites, its units shuffled among
    them, each kind among its own kind's sites (so the result is legal as it is; pinned units stay).
    It keeps the arrangement of the components and throws away their insides."""
    p = problem
    start = np.asarray(hidden).copy()
    free = p.fixed_site < 0
    for index in np.unique(component):
        for kind in range(3):
            members = np.flatnonzero((component == index) & (p.unit_kind == kind) & free)
            start[members] = start[members][rng.permutation(len(members))]
    return start
