"""The one error a sweep reports to its user: a bad sweep file, axis, value or cluster address."""

from __future__ import annotations

from dialects.diagnostics import RduccError


class SweepError(RduccError):
    """A sweep that cannot run as written; the CLI prints it as one `error:` line and exits 2."""
