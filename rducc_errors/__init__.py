"""The one base class of every error in the user's input.

Each layer keeps its own error family (RduccError for the compiler, BitstreamError, ChipSpecError,
SimulationError, NetlistError, PlacementError, RoutingError) so that callers can catch what they
mean, but all of them derive from `UserError`, so the CLI catches one class and prints its message
as one `error:` line (exit 2, no traceback). Anything else is a bug in rducc and keeps its
traceback. This package is a leaf that imports nothing, so that every layer may depend on it,
including the simulator, which may import only the bitstream format and the chip model.
"""

from __future__ import annotations


class UserError(Exception):
    """An error in the user's input (model, IR, options, chip spec, bitstream, netlist): its
    message names the cause in one line, and the CLI reports it without a traceback."""


__all__ = ["UserError"]
