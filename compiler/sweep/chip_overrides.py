"""Chip specs with fields overridden by dotted name (`memory.hbm.bytes_per_second`, `pmu.sram_bytes`).

An override is applied to the spec's TOML *data*, not to a loaded `ChipSpec`, and the result is
validated by chip_model's own loader (`load_chip_file`), so a sweep can only build chips the
compiler would accept from a file, with the loader's messages for a bad value. chip_model has no
entry point that builds a spec from data, so this module writes the data back as TOML (a small
writer below: the stdlib reads TOML but does not write it) and names the file by its content hash;
`load_chip(path)` then works in any process that can see the file, as every pass expects.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import tempfile
import tomllib
from pathlib import Path
from typing import Any

from chip_model import ChipSpecError, load_chip_file
from chip_model.spec import SPEC_DIR

from compiler.sweep.errors import SweepError


def base_chip_path(chip: str, relative_to: Path | None = None) -> Path:
    """A bundled chip's spec file, or a `.toml` path (relative to the sweep file's folder)."""
    if chip.endswith(".toml"):
        path = Path(chip)
        if not path.is_absolute() and relative_to is not None:
            path = relative_to / path
        if not path.exists():
            raise SweepError(f"chip spec {chip} does not exist")
        return path
    bundled = SPEC_DIR / f"{chip}.toml"
    if not bundled.exists():
        names = ", ".join(sorted(p.stem for p in SPEC_DIR.glob("*.toml")))
        raise SweepError(f"unknown chip {chip!r}: choose one of {names} or give a .toml spec path")
    return bundled


def load_chip_data(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SweepError(f"cannot read chip spec {path}: {exc}") from None


def field_names(data: dict[str, Any]) -> list[str]:
    """Every dotted name an axis may override: scalars of the top level and of each table, and
    each memory tier's fields as `memory.<tier>.<field>`. The floor plan (`grid`) is not among
    them: its regions are a list, and unit counts follow from them."""
    names = [k for k, v in data.items() if _is_scalar(v)]
    for table, value in data.items():
        if isinstance(value, dict) and table != "grid":
            names += [f"{table}.{k}" for k, v in value.items() if _is_scalar(v) or _is_scalar_list(v)]
    for tier in data.get("memory", []):
        names += [f"memory.{tier.get('tier')}.{k}" for k in tier if k != "tier"]
    return names


def _is_scalar(v: Any) -> bool:
    return isinstance(v, (bool, int, float, str))


def _is_scalar_list(v: Any) -> bool:
    return isinstance(v, list) and all(_is_scalar(x) for x in v)


def _slot(data: dict[str, Any], name: str) -> tuple[dict[str, Any], str]:
    """The table holding the field `name`, and the field's key in it."""
    parts = name.split(".")
    if parts[0] == "memory" and len(parts) == 3:
        for tier in data.get("memory", []):
            if tier.get("tier") == parts[1]:
                return tier, parts[2]
        raise KeyError(name)
    table = data
    for part in parts[:-1]:
        table = table[part]
    return table, parts[-1]


def check_value(name: str, old: Any, new: Any) -> None:
    """The override must have the field's TOML type: an int field takes integers, a float field
    takes any number, a string a string; booleans are never numbers."""
    def kind(v: Any) -> str:
        if isinstance(v, bool):
            return "boolean"
        if isinstance(v, int):
            return "integer"
        if isinstance(v, float):
            return "number"
        if isinstance(v, str):
            return "string"
        if isinstance(v, list):
            return "list"
        return type(v).__name__

    want, got = kind(old), kind(new)
    if want == got or (want == "number" and got == "integer"):
        if got == "number" and not math.isfinite(new):
            raise SweepError(f"axis {name}: value {new!r} is not a finite number")
        return
    raise SweepError(f"axis {name}: value {new!r} is {_a(got)}, but the chip spec's {name} is {_a(want)} (e.g. {old!r})")


def _a(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(data)
    names = field_names(data)
    for name, value in overrides.items():
        if name not in names:
            raise SweepError(f"axis {name!r} names no field of the chip spec; fields are: {', '.join(names)}")
        table, key = _slot(out, name)
        check_value(name, table[key], value)
        table[key] = value
    return out


def spec_hash(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def to_toml(data: dict[str, Any]) -> str:
    """TOML text for chip-spec data: top-level scalars, tables, arrays of tables, nested ones."""
    lines: list[str] = []
    _write_table(lines, data, ())
    return "\n".join(lines) + "\n"


def _write_table(lines: list[str], table: dict[str, Any], path: tuple[str, ...]) -> None:
    for key, value in table.items():
        if not isinstance(value, dict) and not _is_table_list(value):
            lines.append(f"{_key(key)} = {_value(value)}")
    for key, value in table.items():
        if isinstance(value, dict):
            lines.append(f"\n[{'.'.join(_key(p) for p in (*path, key))}]")
            _write_table(lines, value, (*path, key))
        elif _is_table_list(value):
            for item in value:
                lines.append(f"\n[[{'.'.join(_key(p) for p in (*path, key))}]]")
                _write_table(lines, item, (*path, key))


def _is_table_list(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else json.dumps(k)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {v!r} as TOML")


class OverriddenChip:
    """A base spec with overrides applied, checked by chip_model's loader, as TOML text."""

    def __init__(self, base: Path, overrides: dict[str, Any]):
        data = apply_overrides(load_chip_data(base), overrides)
        self.digest = spec_hash(data)
        if overrides:
            data["name"] = f"{data.get('name', base.stem)}-{self.digest[:8]}"
            data["description"] = f"{data.get('description', '')} (sweep: " + ", ".join(
                f"{k}={v}" for k, v in overrides.items()) + ")"
        self.name = data.get("name", base.stem)
        self.text = to_toml(data)
        self.overrides = overrides
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "chip.toml"
            path.write_text(self.text)
            try:
                self.spec = load_chip_file(path)
            except ChipSpecError as exc:
                where = ", ".join(f"{k} = {v!r}" for k, v in overrides.items()) or str(base)
                raise SweepError(f"chip with {where} is not valid: {str(exc).replace(str(path) + ': ', '')}") from None


def materialize(text: str, digest: str, cache_dir: Path) -> Path:
    """The spec file `<cache>/chips/<hash>.toml` (written atomically if absent): a stable path, so
    `load_chip`'s per-path cache and the compile cache both see one chip as one name."""
    path = cache_dir / "chips" / f"{digest}.toml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    return path
