"""The error a task backend reports to its user: Ray missing, or a cluster address that does not answer."""

from __future__ import annotations

from dialects.diagnostics import RduccError


class BackendError(RduccError):
    """A backend that cannot start; the CLI prints it as one `error:` line and exits 2."""
