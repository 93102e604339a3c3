"""Routing of streams over the on-chip mesh: negotiated congestion, multicast trees, diagnoses.

    result = route_streams(chip, positions, [Stream("s0", "u0", ("u1", "u2"), "vector"), ...])
    result.routes["s0"].links, .hops["u1"], .latency_cycles["u1"]
"""

from backend_rdu.routing.errors import RoutingError
from backend_rdu.routing.mesh import NETWORKS, Mesh
from backend_rdu.routing.router import RoutingResult, StreamRoute, route_streams
from backend_rdu.routing.streams import Stream

__all__ = ["NETWORKS", "Mesh", "RoutingError", "RoutingResult", "Stream", "StreamRoute", "route_streams"]
