"""Errors the placer raises. Each message is one line in hardware terms, never a solver dump."""

from __future__ import annotations

from rducc_errors import UserError


class NetlistError(UserError, ValueError):
    """A netlist that is not well formed: missing keys, unknown kinds or units, duplicate names."""


class PlacementError(UserError, ValueError):
    """A netlist that cannot be placed on the chip: too many units of a kind, or bad pins."""


def name_list(names, limit: int = 8) -> str:
    """`a, b, c, ... (12 more)`: enough names to find the culprits, short enough for one line."""
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")
