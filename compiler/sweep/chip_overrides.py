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
from chip_model.spec import SPEC_DIR, spec_path

from compiler.sweep.errors import SweepError


def base_spec_path(name: str, directory: Path, kind: str, relative_to: Path | None = None) -> Path:
    """A bundled spec's file (`name` in `directory`), or a `.toml` path (relative to the sweep
    file's folder); chip_model's own lookup, with a sweep's error and relative paths."""
    if name.endswith(".toml"):
        path = Path(name)
        if not path.is_absolute() and relative_to is not None:
            path = relative_to / path
        if not path.exists():
            raise SweepError(f"{kind} spec {name} does not exist")
        return path
    return spec_path(name, directory, kind, SweepError)


def base_chip_path(chip: str, relative_to: Path | None = None) -> Path:
    """A bundled chip's spec file, or a `.toml` path (relative to the sweep file's folder)."""
    return base_spec_path(chip, SPEC_DIR, "chip", relative_to)


def load_chip_data(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SweepError(f"cannot read chip spec {path}: {exc}") from None


GRID_FIELDS = ("grid.columns", "grid.rows")
"""The floor plan's size, and so its unit counts: sweeping these stretches the plan (below)."""


def field_names(data: dict[str, Any]) -> list[str]:
    """Every dotted name an axis may override: scalars of the top level and of each table, each
    memory tier's fields as `memory.<tier>.<field>`, and the floor plan's `grid.columns` and
    `grid.rows`, which set the unit counts (see `stretch_grid`)."""
    names = [k for k, v in data.items() if _is_scalar(v)]
    for table, value in data.items():
        if isinstance(value, dict) and table != "grid":
            names += [f"{table}.{k}" for k, v in value.items() if _is_scalar(v) or _is_scalar_list(v)]
    for tier in data.get("memory", []):
        names += [f"memory.{tier.get('tier')}.{k}" for k in tier if k != "tier"]
    if isinstance(data.get("grid"), dict):
        names += [f for f in GRID_FIELDS if f.split(".")[1] in data["grid"]]
    return names


def stretch_grid(grid: dict[str, Any], columns: int | None, rows: int | None) -> dict[str, Any]:
    """The floor plan at a new size: what touches the old right (top) edge moves to the new one.

    A region edge on the last column (row) or the one before it is the plan's border (the AGCU
    columns at the edges, the checkerboard between them), so it follows the border; every other
    coordinate stays. So sn40l at `grid.columns = 62` is a 60-column checkerboard (1,560 PCUs)
    with its AGCU columns on both edges. The number of dies is kept: `die_rows` becomes the new
    row count over the old number of dies, which must divide it."""
    out = copy.deepcopy(grid)
    old_c, old_r = grid["columns"], grid["rows"]
    new_c, new_r = columns or old_c, rows or old_r
    for value, name, least in ((new_c, "grid.columns", 3), (new_r, "grid.rows", 1)):
        if value < least:
            raise SweepError(f"axis {name}: a floor plan needs at least {least}, got {value}")
    dies = old_r // grid.get("die_rows", old_r)
    if new_r % dies:
        raise SweepError(f"axis grid.rows: {new_r} rows do not split into the chip's {dies} dies")
    out["columns"], out["rows"] = new_c, new_r
    if "die_rows" in grid:
        out["die_rows"] = new_r // dies

    def edge(v: int, old: int, new: int) -> int:
        return new - (old - v) if v >= old - 2 else v

    for region in out.get("region", []):
        region["x"] = [edge(v, old_c, new_c) for v in region["x"]]
        region["y"] = [edge(v, old_r, new_r) for v in region["y"]]
        if region["x"][0] > region["x"][1] or region["y"][0] > region["y"][1]:
            raise SweepError(f"axis grid: a {new_c} x {new_r} floor plan leaves a region of the chip empty")
    return out


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


def check_value(name: str, old: Any, new: Any, what: str = "chip spec") -> None:
    """The override must have the field's TOML type: an int field takes integers, a float field
    takes any number, a string a string; booleans are never numbers. `what` names the spec in the
    message (a chip spec, a node spec)."""
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
    raise SweepError(f"axis {name}: value {new!r} is {_a(got)}, but the {what}'s {name} is {_a(want)} (e.g. {old!r})")


def _a(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any], *, what: str = "chip spec",
                    names: list[str] | None = None, prefix: str = "") -> dict[str, Any]:
    """`data` with each dotted field replaced, type-checked against the field's value. A node spec
    uses the same machinery (compiler/sweep/node_overrides.py) with its own `names`; `prefix` is how
    the axis names a field (`chip.` for a node's chip), for the messages."""
    out = copy.deepcopy(data)
    names = field_names(data) if names is None else names
    for name, value in overrides.items():
        if name not in names:
            raise SweepError(f"axis {prefix + name!r} names no field of the {what}; fields are: "
                             f"{', '.join(prefix + n for n in names)}")
        table, key = _slot(out, name)
        check_value(prefix + name, table[key], value, what)
        if name not in GRID_FIELDS:
            table[key] = value
    size = {name.split(".")[1]: overrides[name] for name in GRID_FIELDS if name in overrides}
    if size:
        out["grid"] = stretch_grid(out["grid"], size.get("columns"), size.get("rows"))
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


def label_overridden(data: dict[str, Any], base: Path, digest: str, overrides: dict[str, Any]) -> str:
    """Name an overridden spec after its base and digest, and list the overrides in its
    description (in place), so two points' specs never share a name; returns the name."""
    if overrides:
        data["name"] = f"{data.get('name', base.stem)}-{digest[:8]}"
        data["description"] = f"{data.get('description', '')} (sweep: " + ", ".join(
            f"{k}={v}" for k, v in overrides.items()) + ")"
    return data.get("name", base.stem)


class OverriddenChip:
    """A base spec with overrides applied, checked by chip_model's loader, as TOML text."""

    def __init__(self, base: Path, overrides: dict[str, Any], prefix: str = ""):
        data = apply_overrides(load_chip_data(base), overrides, prefix=prefix)
        self.digest = spec_hash(data)
        self.name = label_overridden(data, base, self.digest, overrides)
        self.text = to_toml(data)
        self.overrides = overrides
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "chip.toml"
            path.write_text(self.text)
            try:
                self.spec = load_chip_file(path)
            except ChipSpecError as exc:
                where = ", ".join(f"{prefix}{k} = {v!r}" for k, v in overrides.items()) or str(base)
                raise SweepError(f"chip with {where} is not valid: {str(exc).replace(str(path) + ': ', '')}") from None


def materialize(text: str, digest: str, cache_dir: Path, folder: str = "chips") -> Path:
    """The spec file `<cache>/chips/<hash>.toml` (written atomically if absent): a stable path, so
    `load_chip`'s per-path cache and the compile cache both see one chip as one name. Node specs
    go to `<cache>/nodes/` (`folder`) and name their chip `../chips/<hash>.toml`."""
    path = cache_dir / folder / f"{digest}.toml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    return path
