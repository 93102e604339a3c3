"""The sweep cache: compiled artifacts by compile key, point results by point key.

A directory of plain files (`compiles/ab/<key>.rbit` + `.json`, `results/ab/<key>.json`), each
written to a temporary name and renamed into place, so concurrent workers never see half a file
and an interrupted sweep leaves only whole entries behind: re-running the same command resumes.
On a cluster of several machines, point the cache at a shared filesystem to share it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from compiler.tasks.files import write_atomically


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rducc" / "sweep"


class SweepCache:
    def __init__(self, root: Path):
        self.root = root

    def _compile_paths(self, key: str) -> tuple[Path, Path]:
        folder = self.root / "compiles" / key[:2]
        return folder / f"{key}.rbit", folder / f"{key}.json"

    def _result_path(self, key: str) -> Path:
        return self.root / "results" / key[:2] / f"{key}.json"

    def get_compile(self, key: str) -> tuple[bytes, dict[str, Any]] | None:
        rbit, meta = self._compile_paths(key)
        try:
            return rbit.read_bytes(), json.loads(meta.read_text())
        except (OSError, ValueError):
            return None

    def put_compile(self, key: str, data: bytes, meta: dict[str, Any]) -> None:
        rbit, meta_path = self._compile_paths(key)
        write_atomically(rbit, data)
        write_atomically(meta_path, json.dumps(meta, sort_keys=True).encode())  # written last: it marks the entry whole

    def get_result(self, key: str) -> dict[str, Any] | None:
        try:
            return json.loads(self._result_path(key).read_text())
        except (OSError, ValueError):
            return None

    def put_result(self, key: str, row: dict[str, Any]) -> None:
        write_atomically(self._result_path(key), json.dumps(row, sort_keys=True).encode())
