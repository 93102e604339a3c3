"""Negotiated-congestion routing (PathFinder, McMurchie and Ebeling 1995) of flows on a packet-switched mesh.

Every stream is a flow with a static route, a tree (`tree`) over link costs that price two
resources. A link's bandwidth (`Mesh.bandwidth`, in full-rate streams) is shared by the flows on
it: the router negotiates on their expected demand (`Stream.rate`, one full-rate stream unless the
caller knows less; rdu-route gives each stream its bytes per cycle at the kernel's pace,
`backend_rdu.stream_rates`), a link costing its base (latency in hops) plus its history, times a
present-congestion factor for the demand it would carry beyond its bandwidth. A switch's routing
table (`Mesh.table_entries`) holds a fixed number of flows: entering a switch whose table is full
costs the same way. After each round the history of overused links and switches grows, the present
factor rises, and the flows on an overused resource are ripped up and routed again, so flows with
alternatives move off and those without keep them.

Bandwidth is a soft limit: flows beyond it are slower, not wrong (the simulator charges the
slowdown), so when negotiation cannot clear it (`STALL_ROUNDS` rounds without less demand over
bandwidth, or rounds run out) the router keeps the round with the least such demand and returns
it. The routing table is a hard limit: if rounds run out with a table over its entries, the error
names the switch and its flows; hopeless inputs are caught before routing (`diagnosis`). What
negotiation leaves over bandwidth, `_even_out` spreads where a route with less excess exists (it
settles on stalls, not on the least excess), and `_straighten` shortens what no longer needs a detour.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chip_model import ChipSpec, load_chip

from backend_rdu.routing.diagnosis import check_tables
from backend_rdu.routing.errors import RoutingError, name_list
from backend_rdu.routing.mesh import NETWORKS, Mesh
from backend_rdu.routing.streams import ResolvedStream, Stream, resolve
from backend_rdu.routing.tree import route_tree, tree_depths

DEFAULT_ROUNDS = 50
STALL_ROUNDS = 10  # rounds without less demand over bandwidth before the router settles for it
PRESENT_START, PRESENT_GROWTH, HISTORY_STEP = 0.5, 1.6, 1.0
EPS = 1e-9


@dataclass(frozen=True)
class StreamRoute:
    name: str
    network: str
    source: str
    links: tuple[tuple[tuple[int, int], tuple[int, int]], ...]  # ((x, y) from, (x, y) to), tree order
    hops: dict[str, int]  # per destination unit
    latency_cycles: dict[str, int]  # per destination unit: hops x hop latency + die crossings

    def to_json(self) -> dict[str, Any]:
        return {
            "network": self.network,
            "source": self.source,
            "links": [[list(a), list(b)] for a, b in self.links],
            "hops": self.hops,
            "latency_cycles": self.latency_cycles,
        }


@dataclass(frozen=True)
class RoutingResult:
    chip: str
    routes: dict[str, StreamRoute]
    rounds: int
    seconds: float
    stats: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "chip": self.chip,
            "rounds": self.rounds,
            "seconds": round(self.seconds, 3),
            "stats": self.stats,
            "streams": {name: r.to_json() for name, r in self.routes.items()},
        }


def _excess(demand: dict[str, np.ndarray], bandwidth: dict[str, float]) -> float:
    """Expected demand beyond the links' bandwidth, summed over every link of both networks."""
    return sum(float(np.maximum(demand[n] - bandwidth[n], 0.0).sum()) for n in NETWORKS)


def _switches(source: int, tree: dict[int, int]) -> list[int]:
    """The switches whose routing tables hold a flow: its source and every switch its tree enters;
    none for a flow that never leaves its switch (it needs no route, as `diagnosis` counts)."""
    return [source, *tree] if tree else []


def route_streams(
    chip: ChipSpec | str,
    positions: Mapping[str, tuple[int, int]],
    streams: list[Stream | Mapping[str, Any]],
    max_rounds: int = DEFAULT_ROUNDS,
) -> RoutingResult:
    """Route every stream between placed units as a flow; links share bandwidth, switch tables are bounded."""
    start = time.perf_counter()
    chip = load_chip(chip) if isinstance(chip, str) else chip
    mesh = Mesh(chip)
    streams = [s if isinstance(s, Stream) else Stream.from_json(s) for s in streams]
    resolved = resolve(mesh, positions, streams)
    unit_at = {mesh.switch(int(x), int(y)): name for name, (x, y) in positions.items()
               if 0 <= x < mesh.columns and 0 <= y < mesh.rows}
    check_tables(mesh, resolved, unit_at)

    bandwidth = {n: float(mesh.bandwidth(n)) for n in NETWORKS}
    entries = mesh.table_entries()
    demand = {n: np.zeros(len(mesh.link_to)) for n in NETWORKS}  # expected full-rate streams per link
    table = {n: np.zeros(mesh.num_switches, dtype=np.int64) for n in NETWORKS}  # flows per switch
    history = {n: np.zeros(len(mesh.link_to)) for n in NETWORKS}
    table_history = {n: np.zeros(mesh.num_switches) for n in NETWORKS}
    entered = np.maximum(mesh.link_to, 0)  # the switch each link enters (0 off the grid: never used)
    trees: dict[int, dict[int, int]] = {}
    present = PRESENT_START
    todo = sorted(resolved, key=lambda r: (-len(r.destinations), -_span(mesh, r), r.index))
    best, best_over, since_best = None, float("inf"), 0
    rounds = 0
    for rounds in range(1, max_rounds + 1):
        for r in todo:
            net, rate = r.stream.network, r.stream.rate
            if r.index in trees:
                demand[net][list(trees[r.index].values())] -= rate
                table[net][_switches(r.source, trees[r.index])] -= 1
            over = np.maximum(demand[net] + rate - bandwidth[net], 0.0)
            full = np.maximum(table[net] + 1 - entries, 0)[entered]
            cost = ((mesh.base_cost + history[net]) * (1.0 + present * over)
                    + (mesh.base_cost + table_history[net][entered]) * present * full).tolist()
            trees[r.index] = route_tree(mesh, r.source, r.destinations, cost)
            demand[net][list(trees[r.index].values())] += rate
            table[net][_switches(r.source, trees[r.index])] += 1
        overused = {n: demand[n] > bandwidth[n] + EPS for n in NETWORKS}
        overfull = {n: table[n] > entries for n in NETWORKS}
        if not any(o.any() for o in overused.values()) and not any(o.any() for o in overfull.values()):
            break
        if not any(o.any() for o in overfull.values()):  # only bandwidth is over: keep the least over
            excess = _excess(demand, bandwidth)
            if excess < best_over - EPS:
                best, best_over, since_best = dict(trees), excess, 0
            else:
                since_best += 1
                if since_best >= STALL_ROUNDS:
                    break
        for n in NETWORKS:
            history[n] += HISTORY_STEP * np.maximum(demand[n] - bandwidth[n], 0.0)
            table_history[n] += HISTORY_STEP * np.maximum(table[n] - entries, 0)
        present *= PRESENT_GROWTH
        todo = [r for r in sorted(resolved, key=lambda r: r.index)
                if overused[r.stream.network][list(trees[r.index].values())].any()
                or overfull[r.stream.network][_switches(r.source, trees[r.index])].any()]
    if any((table[n] > entries).any() for n in NETWORKS):
        if best is None:
            raise _table_error(mesh, resolved, trees, table, entries, rounds)
        trees = best  # a round with every table within its entries, and the least demand over bandwidth
    elif best is not None and best_over < _excess(demand, bandwidth) - EPS:
        trees = best
    for n in NETWORKS:  # recount for the routes kept
        demand[n][:] = 0.0
        table[n][:] = 0
    for r in resolved:
        demand[r.stream.network][list(trees[r.index].values())] += r.stream.rate
        table[r.stream.network][_switches(r.source, trees[r.index])] += 1
    evened = _even_out(mesh, resolved, trees, demand, bandwidth, table, entries)
    straightened = _straighten(mesh, resolved, trees, demand, bandwidth, table, entries)

    routes = {}
    for r in resolved:
        tree = trees[r.index]
        depth = tree_depths(mesh, r.source, tree, mesh.latency)
        s = r.stream
        ordered = sorted(tree.items(), key=lambda item: (depth[item[0]][0], item[0]))
        routes[s.name] = StreamRoute(
            name=s.name,
            network=s.network,
            source=s.source,
            links=tuple(mesh.link_ends(link) for _, link in ordered),
            hops={u: depth[d][0] for u, d in zip(s.destinations, r.destinations)},
            latency_cycles={u: depth[d][1] for u, d in zip(s.destinations, r.destinations)},
        )
    stats = {
        n: {
            "streams": sum(r.stream.network == n for r in resolved),
            "link_demand": round(float(demand[n].sum()), 3),
            "busiest_link_demand": round(float(demand[n].max()), 3) if len(demand[n]) else 0,
            "links_over_bandwidth": int((demand[n] > bandwidth[n] + EPS).sum()),
            "link_bandwidth_streams": bandwidth[n],
            "busiest_switch_flows": int(table[n].max()) if len(table[n]) else 0,
            "route_table_entries": entries,
        }
        for n in NETWORKS
    }
    stats["streams_straightened"] = straightened
    stats["streams_evened"] = evened
    return RoutingResult(chip.name, routes, rounds, time.perf_counter() - start, stats)


EVEN_PASSES = 4  # sweeps of `_even_out` over the flows; it stops earlier once a sweep moves none
EXCESS_COST = 1e4  # `_even_out`'s price of one full-rate stream over a link's bandwidth, in hops


def _even_out(mesh, resolved, trees, demand, bandwidth, table, entries) -> int:
    """Negotiation stops when it cannot clear the demand over bandwidth, not when that demand is
    least: its costs are multiplicative on hops and grow with history, so a flow stays on a link
    over its bandwidth when moving it to a less loaded one (still over) costs a hop or two, and
    when rounds stall without less total excess it settles. Where flows converge on one switch
    beyond its links' bandwidth (a join of 24 branches at 0.755 of a stream each, 18 streams into
    16), the split of the flows over its incoming links is exactly what decides the slowdown:
    7/7/5/5 flows are 2.6 streams over, 6/6/6/6 are 2.1. So each flow on a link over its
    bandwidth is routed again at the exact price of what it adds beyond the bandwidth of each link
    (`EXCESS_COST` hops per full-rate stream: a detour of any length beats a link over its
    bandwidth, as in `_straighten`) plus the links' base cost, into no switch whose table is full;
    the new tree is kept if it costs less than the old at the same prices. Each move lowers the
    total demand over bandwidth or keeps it and shortens the flow, so the sweeps end."""
    def excess_price(net, rate, full):
        added = np.maximum(demand[net] + rate - bandwidth[net], 0.0) - np.maximum(demand[net] - bandwidth[net], 0.0)
        return mesh.base_cost + EXCESS_COST * added

    def over(r) -> bool:
        net = r.stream.network
        return bool((demand[net][list(trees[r.index].values())] > bandwidth[net] + EPS).any())

    changed = 0
    for _ in range(EVEN_PASSES):
        moved = _reroute(mesh, resolved, trees, demand, table, entries, excess_price, over)
        changed += moved
        if not moved:
            break
    return changed


def _straighten(mesh, resolved, trees, demand, bandwidth, table, entries) -> int:
    """After negotiation, history can leave flows on detours the final demand no longer forces:
    reroute each once over links with bandwidth to spare into switches with a free table entry,
    keeping the new tree only if it is cheaper and enters no switch whose table is full (the table
    is the hard limit; the flow's old tree already holds its entries). A detour of any length
    beats a link over its bandwidth: a hop costs a cycle of latency, a shared link a share of every
    tile's transfer time."""
    blocked = 1e9

    def spare_price(net, rate, full):
        free = (demand[net] + rate <= bandwidth[net] + EPS) & ~full
        return np.where(free, mesh.base_cost, blocked)

    return _reroute(mesh, resolved, trees, demand, table, entries, spare_price, lambda r: True)


def _reroute(mesh, resolved, trees, demand, table, entries, price, wanted) -> int:
    """One sweep over the flows `wanted` selects, in stream order: lift each off its tree, route it
    again over `price(network, rate, full)` (link costs with the other flows' demand in place;
    `full` marks links into switches whose routing table is full), and keep the new tree only if
    it enters no full switch and costs less than the old at the same prices. The flows moved."""
    changed = 0
    entered = np.maximum(mesh.link_to, 0)
    for r in sorted(resolved, key=lambda r: r.index):
        if not wanted(r):
            continue
        net, rate = r.stream.network, r.stream.rate
        old = list(trees[r.index].values())
        demand[net][old] -= rate
        table[net][_switches(r.source, trees[r.index])] -= 1
        full = table[net][entered] >= entries
        cost = price(net, rate, full)
        new = route_tree(mesh, r.source, r.destinations, cost.tolist())
        links = list(new.values())
        if not full[links].any() and cost[links].sum() < cost[old].sum() - 1e-6:
            trees[r.index] = new
            changed += 1
        demand[net][list(trees[r.index].values())] += rate
        table[net][_switches(r.source, trees[r.index])] += 1
    return changed


def _span(mesh: Mesh, r: ResolvedStream) -> int:
    pts = [mesh.xy(s) for s in (r.source, *r.destinations)]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return max(xs) - min(xs) + max(ys) - min(ys)


def _table_error(mesh, resolved, trees, table, entries, rounds) -> RoutingError:
    worst_net, worst_switch, worst_over, total_over = None, -1, 0, 0
    for n in NETWORKS:
        over = table[n] - entries
        total_over += int((over > 0).sum())
        switch = int(np.argmax(over))
        if over[switch] > worst_over:
            worst_net, worst_switch, worst_over = n, switch, int(over[switch])
    names = [r.stream.name for r in resolved
             if r.stream.network == worst_net and worst_switch in _switches(r.source, trees[r.index])]
    others = f"; {total_over - 1} other switches over their tables" if total_over > 1 else ""
    plural = "round" if rounds == 1 else "rounds"
    x, y = mesh.xy(worst_switch)
    return RoutingError(
        f"routing: {worst_net} switch ({x},{y}) must route {len(names)} flows but its routing table holds "
        f"{entries} ({worst_over} over) after {rounds} negotiation {plural}: {name_list(names)}{others}"
    )
