"""The shape of a user-facing error from the CLI, as the node tests check it."""

from __future__ import annotations


def one_error(result, *needles: str) -> None:
    """Exit 2, one `error:` line on stderr naming every needle, no traceback."""
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
