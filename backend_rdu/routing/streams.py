"""Streams: what the router routes. A stream carries data from one unit to one or more units over
one network; a one-to-many stream is routed as a multicast tree."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from backend_rdu.routing.errors import RoutingError
from backend_rdu.routing.mesh import NETWORKS, Mesh


@dataclass(frozen=True)
class Stream:
    name: str
    source: str  # unit name
    destinations: tuple[str, ...]  # unit names
    network: str = "vector"
    rate: float = 1.0  # expected bandwidth demand on each link of its route, in full-rate streams (0, 1]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Stream:
        try:
            return cls(str(data["name"]), str(data["source"]), tuple(data["destinations"]), data.get("network", "vector"),
                       float(data.get("rate", 1.0)))
        except (KeyError, TypeError) as exc:
            raise RoutingError(f"routing: malformed stream {data!r}: {exc}") from None


@dataclass(frozen=True)
class ResolvedStream:
    """A stream with its endpoints as switch indices."""

    index: int
    stream: Stream
    source: int
    destinations: tuple[int, ...]  # parallel to stream.destinations


def resolve(mesh: Mesh, positions: Mapping[str, tuple[int, int]], streams: list[Stream]) -> list[ResolvedStream]:
    """Check names, networks and positions; map endpoints to switches."""
    seen: set[str] = set()
    resolved = []
    for i, stream in enumerate(streams):
        where = f"routing: stream {stream.name}"
        if stream.name in seen:
            raise RoutingError(f"routing: two streams are named {stream.name}")
        seen.add(stream.name)
        if stream.network not in NETWORKS:
            raise RoutingError(f"{where}: unknown network {stream.network!r}; networks are {', '.join(NETWORKS)}")
        if not 0 < stream.rate <= 1:
            raise RoutingError(f"{where}: rate must be in (0, 1] full-rate streams, got {stream.rate}")
        if not stream.destinations:
            raise RoutingError(f"{where} has no destination")
        if len(set(stream.destinations)) != len(stream.destinations):
            raise RoutingError(f"{where} lists a destination twice")
        ends = []
        for unit in (stream.source, *stream.destinations):
            if unit not in positions:
                raise RoutingError(f"{where} names unit {unit}, which has no placed position")
            x, y = positions[unit]
            if not (0 <= x < mesh.columns and 0 <= y < mesh.rows):
                raise RoutingError(f"{where}: unit {unit} at ({x}, {y}) is outside the {mesh.columns}x{mesh.rows} mesh")
            ends.append(mesh.switch(int(x), int(y)))
        resolved.append(ResolvedStream(i, stream, ends[0], tuple(ends[1:])))
    return resolved
