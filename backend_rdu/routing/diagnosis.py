"""The check that explains an unroutable set of streams in hardware terms, before routing.

Links are packet-switched: a link carries any number of flows and shares its bandwidth among them,
so bandwidth never makes a set of streams unroutable (it makes them slow, which the simulator
charges). What a switch cannot exceed is its routing table: every flow that starts, ends or passes
at a switch needs an entry there ("static 'flow ID' routes ... Place-and-route sets the routing
tables"). Flows that start or end at a switch need its entry whatever their route, so more of them
than the table holds is a proof that no routing exists.
"""

from __future__ import annotations

from collections import defaultdict

from backend_rdu.routing.errors import RoutingError, name_list
from backend_rdu.routing.mesh import NETWORKS, Mesh
from backend_rdu.routing.streams import ResolvedStream


def check_tables(mesh: Mesh, streams: list[ResolvedStream], unit_at: dict[int, str]) -> None:
    entries = mesh.table_entries()
    for network in NETWORKS:
        ends: dict[int, list[str]] = defaultdict(list)
        for r in streams:
            if r.stream.network != network or all(d == r.source for d in r.destinations):
                continue  # a flow that never leaves its switch needs no route
            for switch in dict.fromkeys((r.source, *r.destinations)):
                ends[switch].append(r.stream.name)
        if not ends:
            continue
        switch = min(ends, key=lambda s: (-len(ends[s]), s))  # the busiest switch is the only one that can fail
        names = ends[switch]
        if len(names) > entries:
            x, y = mesh.xy(switch)
            unit = f" (unit {unit_at[switch]})" if switch in unit_at else ""
            raise RoutingError(
                f"routing: {len(names)} {network} flows start or end at switch ({x},{y}){unit} but its routing "
                f"table holds {entries} flows ({len(names) - entries} over): {name_list(names)}"
            )
