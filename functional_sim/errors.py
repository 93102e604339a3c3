"""The one exception the simulator raises for anything wrong with a bitstream, its inputs or its run."""

from __future__ import annotations

from rducc_errors import UserError


class SimulationError(UserError, ValueError):
    """A bitstream that cannot be simulated as given; the message is one line and names the culprit."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class SimulatorBug(RuntimeError):
    """An exception inside a stage of a bitstream that passed every check: a bug in rducc (the
    compiler emitted it, or the simulator ran it wrong), never the user's fault, so it is not a
    UserError and the CLI keeps its traceback. The message names the stage."""

    def __init__(self, stage: str, exc: BaseException) -> None:
        first = (str(exc).strip().splitlines() or [""])[0]
        super().__init__(f"internal error in {stage}: {type(exc).__name__}: {first} "
                         f"(a bug in rducc, not in your model: please report it with the model)")
