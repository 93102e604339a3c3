"""The router's error: one line naming the resource, how far over it is, and the streams involved."""

from __future__ import annotations

from rducc_errors import UserError


class RoutingError(UserError, ValueError):
    """Streams that cannot be routed within the mesh's link capacities, or malformed stream input."""


def name_list(names, limit: int = 8) -> str:
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")
