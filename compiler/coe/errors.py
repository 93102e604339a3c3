"""The one error family of CoE input (COE.toml, experts, traces, a library that does not fit):
a UserError, so the CLI prints it as one `error:` line and exits 2."""

from rducc_errors import UserError


class CoEError(UserError):
    """Bad CoE input; the message names the file, the entry or the line."""
