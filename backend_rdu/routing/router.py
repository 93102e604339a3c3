"""Negotiated-congestion routing (PathFinder, McMurchie and Ebeling 1995) of streams on the mesh.

Every stream is routed as a tree (`tree`) over link costs that price congestion: a link costs its
base (latency in hops) plus its history, times a present-congestion factor for every track it
would be over capacity. After each round the history of overused links grows and the present
factor rises, and the streams that use an overused link are ripped up and routed again, so
streams with alternatives move off contested links and those without keep them. A round with no
overused link ends the negotiation. If rounds run out first, the error names the most overused
link and the streams on it; hopeless inputs are caught before routing (`diagnosis`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from chip_model import ChipSpec, load_chip

from backend_rdu.routing.diagnosis import check_capacity
from backend_rdu.routing.errors import RoutingError, name_list
from backend_rdu.routing.mesh import NETWORKS, Mesh
from backend_rdu.routing.streams import ResolvedStream, Stream, resolve
from backend_rdu.routing.tree import route_tree, tree_depths

DEFAULT_ROUNDS = 50
PRESENT_START, PRESENT_GROWTH, HISTORY_STEP = 0.5, 1.6, 1.0


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


def route_streams(
    chip: ChipSpec | str,
    positions: Mapping[str, tuple[int, int]],
    streams: list[Stream | Mapping[str, Any]],
    max_rounds: int = DEFAULT_ROUNDS,
) -> RoutingResult:
    """Route every stream between placed units within the mesh's track capacities."""
    start = time.perf_counter()
    chip = load_chip(chip) if isinstance(chip, str) else chip
    mesh = Mesh(chip)
    streams = [s if isinstance(s, Stream) else Stream.from_json(s) for s in streams]
    resolved = resolve(mesh, positions, streams)
    unit_at = {mesh.switch(int(x), int(y)): name for name, (x, y) in positions.items()
               if 0 <= x < mesh.columns and 0 <= y < mesh.rows}
    check_capacity(mesh, resolved, unit_at)

    capacity = {n: mesh.tracks(n) for n in NETWORKS}
    usage = {n: np.zeros(len(mesh.link_to), dtype=np.int64) for n in NETWORKS}
    history = {n: np.zeros(len(mesh.link_to)) for n in NETWORKS}
    trees: dict[int, dict[int, int]] = {}
    present = PRESENT_START
    todo = sorted(resolved, key=lambda r: (-len(r.destinations), -_span(mesh, r), r.index))
    rounds = 0
    for rounds in range(1, max_rounds + 1):
        for r in todo:
            net = r.stream.network
            if r.index in trees:
                usage[net][list(trees[r.index].values())] -= 1
            over = np.maximum(usage[net] + 1 - capacity[net], 0)
            cost = ((mesh.base_cost + history[net]) * (1.0 + present * over)).tolist()
            trees[r.index] = route_tree(mesh, r.source, r.destinations, cost)
            usage[net][list(trees[r.index].values())] += 1
        overused = {n: usage[n] > capacity[n] for n in NETWORKS}
        if not any(o.any() for o in overused.values()):
            break
        for n in NETWORKS:
            history[n] += HISTORY_STEP * np.maximum(usage[n] - capacity[n], 0)
        present *= PRESENT_GROWTH
        todo = [r for r in sorted(resolved, key=lambda r: r.index)
                if overused[r.stream.network][list(trees[r.index].values())].any()]
    else:
        raise _congestion_error(mesh, resolved, trees, usage, capacity, max_rounds)
    straightened = _straighten(mesh, resolved, trees, usage, capacity)

    routes = {}
    for r in resolved:
        entering = trees[r.index]
        depth = tree_depths(mesh, r.source, entering, mesh.latency)
        s = r.stream
        ordered = sorted(entering.items(), key=lambda item: (depth[item[0]][0], item[0]))
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
            "link_tracks_used": int(usage[n].sum()),
            "busiest_link_tracks": int(usage[n].max()) if len(usage[n]) else 0,
            "tracks_per_link": capacity[n],
        }
        for n in NETWORKS
    }
    stats["streams_straightened"] = straightened
    return RoutingResult(chip.name, routes, rounds, time.perf_counter() - start, stats)


def _straighten(mesh, resolved, trees, usage, capacity) -> int:
    """After negotiation, history can leave streams on detours the final usage no longer forces:
    reroute each once over links with a free track, keeping the new tree only if it is cheaper."""
    blocked = 1e9
    changed = 0
    for r in sorted(resolved, key=lambda r: r.index):
        net = r.stream.network
        old = list(trees[r.index].values())
        usage[net][old] -= 1
        cost = np.where(usage[net] < capacity[net], mesh.base_cost, blocked)
        new = route_tree(mesh, r.source, r.destinations, cost.tolist())
        if cost[list(new.values())].sum() < cost[old].sum() - 1e-9:
            trees[r.index] = new
            changed += 1
        usage[net][list(trees[r.index].values())] += 1
    return changed


def _span(mesh: Mesh, r: ResolvedStream) -> int:
    pts = [mesh.xy(s) for s in (r.source, *r.destinations)]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    return max(xs) - min(xs) + max(ys) - min(ys)


def _congestion_error(mesh, resolved, trees, usage, capacity, rounds) -> RoutingError:
    worst_net, worst_link, worst_over, total_over = None, -1, 0, 0
    for n in NETWORKS:
        over = usage[n] - capacity[n]
        total_over += int((over > 0).sum())
        link = int(np.argmax(over))
        if over[link] > worst_over:
            worst_net, worst_link, worst_over = n, link, int(over[link])
    names = [r.stream.name for r in resolved if r.stream.network == worst_net and worst_link in trees[r.index].values()]
    others = f"; {total_over - 1} other links over capacity" if total_over > 1 else ""
    plural = "round" if rounds == 1 else "rounds"
    return RoutingError(
        f"routing: {worst_net} link {mesh.link_name(worst_link)} is needed by {len(names)} streams but has "
        f"{capacity[worst_net]} tracks ({worst_over} over) after {rounds} negotiation {plural}: {name_list(names)}{others}"
    )
