"""Capacity checks that explain an unroutable set of streams in hardware terms, before routing.

Each is a necessary condition, so a violation is a proof that no routing exists:
- egress: every stream leaving a switch needs a track on one of the switch's outgoing links;
- ingress: every stream arriving at a switch needs a track on one of its incoming links;
- cuts: every stream with a destination across a straight cut of the mesh (between two columns or
  two rows, such as a die boundary) needs a track on one of the links crossing it that way.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from backend_rdu.routing.errors import RoutingError, name_list
from backend_rdu.routing.mesh import NETWORKS, Mesh
from backend_rdu.routing.streams import ResolvedStream


def check_capacity(mesh: Mesh, streams: list[ResolvedStream], unit_at: dict[int, str]) -> None:
    for network in NETWORKS:
        mine = [r for r in streams if r.stream.network == network]
        if mine:
            tracks = mesh.tracks(network)
            _check_switches(mesh, mine, unit_at, network, tracks)
            _check_cuts(mesh, mine, network, tracks)


def _check_switches(mesh, streams, unit_at, network, tracks) -> None:
    leaving: dict[int, list[str]] = defaultdict(list)
    arriving: dict[int, list[str]] = defaultdict(list)
    for r in streams:
        if any(d != r.source for d in r.destinations):
            leaving[r.source].append(r.stream.name)
        for d in set(r.destinations) - {r.source}:
            arriving[d].append(r.stream.name)
    for table, verb, side in ((leaving, "leave", "outgoing"), (arriving, "arrive at", "incoming")):
        for switch in sorted(table, key=lambda s: (-len(table[s]), s)):
            names = table[switch]
            links = len(mesh.out_links[switch])
            have = links * tracks
            if len(names) > have:
                x, y = mesh.xy(switch)
                unit = f" (unit {unit_at[switch]})" if switch in unit_at else ""
                raise RoutingError(
                    f"routing: {len(names)} {network} streams {verb} switch ({x},{y}){unit} but its {links} "
                    f"{side} links carry {have} {network} tracks ({len(names) - have} over): {name_list(names)}"
                )
            break  # the busiest switch is the only one that can fail


def _check_cuts(mesh, streams, network, tracks) -> None:
    die_rows = mesh.chip.grid.die_rows
    for axis, size, across in ((0, mesh.columns, mesh.rows), (1, mesh.rows, mesh.columns)):
        if size < 2:
            continue
        forward = np.zeros(size, dtype=np.int64)  # forward[c]: streams crossing from c to c+1
        backward = np.zeros(size, dtype=np.int64)  # backward[c]: from c+1 to c
        spans = []
        for r in streams:
            s = mesh.xy(r.source)[axis]
            ends = [mesh.xy(d)[axis] for d in r.destinations]
            hi, lo = max(ends), min(ends)
            if hi > s:
                forward[s] += 1
                forward[hi] -= 1
            if lo < s:
                backward[lo] += 1
                backward[s] -= 1
            spans.append((r.stream.name, s, lo, hi))
        forward, backward = np.cumsum(forward), np.cumsum(backward)
        have = across * tracks
        for counts, sign in ((forward, 1), (backward, -1)):
            if counts.max() <= have:
                continue
            worst = np.flatnonzero(counts == counts.max())
            at_die = [int(c) for c in worst if axis == 1 and (c + 1) % die_rows == 0]
            c = at_die[0] if at_die else int(worst[0])  # name the die boundary if it is among the worst
            if sign > 0:
                names = [n for n, s, lo, hi in spans if s <= c < hi]
                a, b = c, c + 1
            else:
                names = [n for n, s, lo, hi in spans if lo <= c < s]
                a, b = c + 1, c
            line = "column" if axis == 0 else "row"
            die = " (a die boundary)" if axis == 1 and (c + 1) % die_rows == 0 else ""
            raise RoutingError(
                f"routing: {counts[c]} {network} streams must cross from {line} {a} to {line} {b}{die} but the "
                f"{across} links there carry {have} {network} tracks ({counts[c] - have} over): {name_list(names)}"
            )
