"""The one exception the simulator raises for anything wrong with a bitstream, its inputs or its run."""

from __future__ import annotations

from rducc_errors import UserError


class SimulationError(UserError, ValueError):
    """A bitstream that cannot be simulated as given; the message is one line and names the culprit."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))
