"""A user's files: written atomically (a temporary file in the same folder, then a rename); TOML
read whole or refused with one user error."""

from __future__ import annotations

import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from rducc_errors import UserError


def read_toml(path: Path, error: type[UserError], what: str) -> dict[str, Any]:
    """A TOML file the user named (`what`: "sweep file", "CoE file"), or `error` with one line
    naming it: missing, unreadable, or not TOML (with the parser's line and column)."""
    if not path.exists():
        raise error(f"{what} {path} does not exist")
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"cannot read {what} {path}: {exc}") from None


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file and a rename, creating missing folders, so a
    reader (another sweep worker, a later `rducc` run) never sees half a file. The file gets the
    usual permissions (mkstemp's are 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
