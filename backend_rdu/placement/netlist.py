"""The netlist: units of a kind (pcu, pmu, agcu), optionally pinned, joined by weighted nets.

This is both the standalone JSON format (`docs/placement.md`) and the in-memory form the compiler
driver builds. Parsing validates everything up front so the placer never sees a malformed input.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chip_model.spec import UNIT_KINDS

from backend_rdu.placement.errors import NetlistError, name_list


@dataclass(frozen=True)
class Unit:
    name: str
    kind: str
    fixed: tuple[int, int] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.fixed is not None:
            out["fixed"] = list(self.fixed)
        return out


@dataclass(frozen=True)
class Net:
    units: tuple[str, ...]
    weight: float = 1

    def to_json(self) -> dict[str, Any]:
        return {"units": list(self.units), "weight": self.weight}


@dataclass(frozen=True)
class Netlist:
    units: tuple[Unit, ...]
    nets: tuple[Net, ...]

    def __post_init__(self) -> None:
        _check_consistent(self.units, self.nets)

    @classmethod
    def from_json(cls, data: Any) -> Netlist:
        """Parse and validate the JSON form; raise NetlistError with a one-line reason."""
        if not isinstance(data, dict):
            raise NetlistError(f"netlist: expected a JSON object, got {type(data).__name__}")
        missing = [k for k in ("units", "nets") if k not in data]
        if missing:
            raise NetlistError(f"netlist: missing key {', '.join(repr(k) for k in missing)}")
        if not isinstance(data["units"], list) or not isinstance(data["nets"], list):
            raise NetlistError("netlist: 'units' and 'nets' must be lists")
        units = tuple(_parse_unit(i, u) for i, u in enumerate(data["units"]))
        nets = tuple(_parse_net(i, n) for i, n in enumerate(data["nets"]))
        return cls(units, nets)

    def to_json(self) -> dict[str, Any]:
        return {"units": [u.to_json() for u in self.units], "nets": [n.to_json() for n in self.nets]}


def load_netlist(path: str | Path) -> Netlist:
    """Read a netlist JSON file; unreadable or malformed files raise NetlistError."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as exc:
        raise NetlistError(f"netlist: cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise NetlistError(f"netlist: {path} is not valid JSON: {exc.msg} at line {exc.lineno}") from None
    return Netlist.from_json(data)


def _parse_unit(index: int, raw: Any) -> Unit:
    where = f"netlist: units[{index}]"
    if not isinstance(raw, dict):
        raise NetlistError(f"{where}: expected an object, got {type(raw).__name__}")
    for key in ("name", "kind"):
        if key not in raw:
            raise NetlistError(f"{where}: missing key {key!r}")
    name, kind = raw["name"], raw["kind"]
    if not isinstance(name, str) or not name:
        raise NetlistError(f"{where}: 'name' must be a non-empty string")
    if kind not in UNIT_KINDS:
        raise NetlistError(f"{where} ({name}): unknown kind {kind!r}; kinds are {', '.join(UNIT_KINDS)}")
    fixed = raw.get("fixed")
    if fixed is not None:
        if not (isinstance(fixed, list) and len(fixed) == 2 and all(_is_int(v) for v in fixed)):
            raise NetlistError(f"{where} ({name}): 'fixed' must be [x, y] integers, got {fixed!r}")
        fixed = (int(fixed[0]), int(fixed[1]))
    unknown = sorted(set(raw) - {"name", "kind", "fixed"})
    if unknown:
        raise NetlistError(f"{where} ({name}): unknown key {', '.join(repr(k) for k in unknown)}")
    return Unit(name, kind, fixed)


def _parse_net(index: int, raw: Any) -> Net:
    where = f"netlist: nets[{index}]"
    if not isinstance(raw, dict):
        raise NetlistError(f"{where}: expected an object, got {type(raw).__name__}")
    if "units" not in raw:
        raise NetlistError(f"{where}: missing key 'units'")
    names = raw["units"]
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise NetlistError(f"{where}: 'units' must be a non-empty list of unit names")
    weight = raw.get("weight", 1)
    if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight < 0:
        raise NetlistError(f"{where}: 'weight' must be a non-negative number, got {weight!r}")
    unknown = sorted(set(raw) - {"units", "weight"})
    if unknown:
        raise NetlistError(f"{where}: unknown key {', '.join(repr(k) for k in unknown)}")
    return Net(tuple(names), weight)


def _check_consistent(units: tuple[Unit, ...], nets: tuple[Net, ...]) -> None:
    seen: set[str] = set()
    duplicates = []
    for unit in units:
        if unit.kind not in UNIT_KINDS:
            raise NetlistError(f"netlist: unit {unit.name}: unknown kind {unit.kind!r}")
        if unit.name in seen:
            duplicates.append(unit.name)
        seen.add(unit.name)
    if duplicates:
        raise NetlistError(f"netlist: duplicate unit names: {name_list(sorted(set(duplicates)))}")
    for index, net in enumerate(nets):
        if not net.units:
            raise NetlistError(f"netlist: nets[{index}] names no unit")
        unknown = [n for n in net.units if n not in seen]
        if unknown:
            raise NetlistError(f"netlist: nets[{index}] names unknown unit(s): {name_list(unknown)}")
        if net.weight < 0:
            raise NetlistError(f"netlist: nets[{index}] has negative weight {net.weight}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
