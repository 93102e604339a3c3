"""User-facing diagnostics shared by every stage: one line naming the cause (and the model line where there is one).

RduccError is the compiler's family of `rducc_errors.UserError`, the one base the CLI catches: it
prints `error: <message>` and exits 2; anything else is a bug in rducc and keeps its traceback.
"""

from __future__ import annotations

from rducc_errors import UserError


class RduccError(UserError):
    """An error in the user's input, reported in one line without a traceback."""

    def __init__(self, message: str, source: str = ""):
        self.source = source
        one_line = " ".join(message.split())
        super().__init__(f"{one_line} (at {source})" if source else one_line)


class ModelLoadError(RduccError):
    """MODEL.py is missing, does not run, or breaks the MODEL.py contract."""


class ExportError(RduccError):
    """torch.export could not capture the model."""


class UnsupportedOpError(RduccError):
    """The model uses an operator rducc cannot lower yet."""


class CapacityError(RduccError):
    """The model does not fit the chip's memories or units."""


class PassOrderError(RduccError):
    """A pass run on IR it does not apply to (e.g. rdu-plan-memory before rdu-lower)."""
