"""PlacementProblem: a netlist compiled against a chip into flat numpy arrays.

Every placement algorithm works on integer unit and site indices: `site_of_unit[u]` is the index
(into `chip.grid.sites`) of the site unit `u` occupies. Nets are stored CSR-style (`net_ptr`,
`net_pins`) so that wirelength and move deltas are a handful of vectorised numpy operations.
Building the problem is also where infeasible requests are diagnosed, before any solver runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from chip_model import ChipSpec, load_chip
from chip_model.spec import UNIT_KINDS

from backend_rdu.placement.errors import PlacementError, name_list
from backend_rdu.placement.netlist import Netlist

KIND_INDEX = {kind: i for i, kind in enumerate(UNIT_KINDS)}
KIND_LABEL = {"pcu": "PCU", "pmu": "PMU", "agcu": "AGCU"}


@dataclass(frozen=True, eq=False)
class PlacementProblem:
    chip: ChipSpec
    netlist: Netlist
    unit_names: tuple[str, ...]
    unit_kind: np.ndarray  # int8 index into UNIT_KINDS, per unit
    fixed_site: np.ndarray  # site index a unit is pinned to, -1 if free
    site_x: np.ndarray
    site_y: np.ndarray
    site_kind: np.ndarray
    site_at: np.ndarray  # [x, y] -> site index, -1 where the grid point has no unit site
    net_ptr: np.ndarray  # pins of net n are net_pins[net_ptr[n]:net_ptr[n + 1]]
    net_pins: np.ndarray
    net_weight: np.ndarray  # float64

    @classmethod
    def build(cls, chip: ChipSpec | str, netlist: Netlist) -> PlacementProblem:
        """Compile `netlist` for `chip`; raise PlacementError if it cannot fit."""
        chip = load_chip(chip) if isinstance(chip, str) else chip
        sites = chip.grid.sites
        site_x = np.array([s.x for s in sites], dtype=np.int64)
        site_y = np.array([s.y for s in sites], dtype=np.int64)
        site_kind = np.array([KIND_INDEX[s.kind] for s in sites], dtype=np.int8)
        site_at = np.full((chip.grid.columns, chip.grid.rows), -1, dtype=np.int64)
        site_at[site_x, site_y] = np.arange(len(sites))

        units = netlist.units
        index = {u.name: i for i, u in enumerate(units)}
        unit_kind = np.array([KIND_INDEX[u.kind] for u in units], dtype=np.int8)
        _check_capacity(chip, netlist)
        fixed_site = _resolve_pins(chip, netlist, site_at, site_kind)

        ptr, pins, weights = [0], [], []
        for net in netlist.nets:
            members = list(dict.fromkeys(index[n] for n in net.units))
            if len(members) < 2 or net.weight == 0:
                continue  # a net with one distinct unit or no weight never adds wirelength
            pins.extend(members)
            ptr.append(len(pins))
            weights.append(float(net.weight))
        return cls(
            chip=chip,
            netlist=netlist,
            unit_names=tuple(u.name for u in units),
            unit_kind=unit_kind,
            fixed_site=fixed_site,
            site_x=site_x,
            site_y=site_y,
            site_kind=site_kind,
            site_at=site_at,
            net_ptr=np.array(ptr, dtype=np.int64),
            net_pins=np.array(pins, dtype=np.int64),
            net_weight=np.array(weights, dtype=np.float64),
        )

    @property
    def num_units(self) -> int:
        return len(self.unit_names)

    @property
    def num_nets(self) -> int:
        return len(self.net_weight)

    @property
    def num_sites(self) -> int:
        return len(self.site_x)

    @cached_property
    def net_degree(self) -> np.ndarray:
        return np.diff(self.net_ptr)

    @cached_property
    def pin_net(self) -> np.ndarray:
        """The net each entry of `net_pins` belongs to."""
        return np.repeat(np.arange(self.num_nets), self.net_degree)

    @cached_property
    def unit_nets(self) -> tuple[np.ndarray, np.ndarray]:
        """CSR (ptr, nets) of the nets each unit is on: the nets a move of that unit changes."""
        order = np.argsort(self.net_pins, kind="stable")
        counts = np.bincount(self.net_pins, minlength=self.num_units)
        ptr = np.concatenate([[0], np.cumsum(counts)])
        return ptr, self.pin_net[order]

    @cached_property
    def integer_weights(self) -> tuple[np.ndarray, int]:
        """Net weights as integers for CP-SAT, with the scale applied (1 if already integral)."""
        w = self.net_weight
        if np.all(w == np.round(w)):
            return w.astype(np.int64), 1
        return np.maximum(np.round(w * 1000), 1).astype(np.int64), 1000

    @cached_property
    def free_units(self) -> np.ndarray:
        return np.flatnonzero(self.fixed_site < 0)

    def sites_of_kind(self, kind: int) -> np.ndarray:
        return np.flatnonzero(self.site_kind == kind)

    def check(self, site_of_unit: np.ndarray) -> None:
        """Assert a placement is legal: right kinds, no shared site, pins kept."""
        assert len(site_of_unit) == self.num_units
        assert np.all(self.site_kind[site_of_unit] == self.unit_kind), "unit on a site of another kind"
        assert len(np.unique(site_of_unit)) == self.num_units, "two units share a site"
        pinned = self.fixed_site >= 0
        assert np.all(site_of_unit[pinned] == self.fixed_site[pinned]), "a pinned unit moved"


def _check_capacity(chip: ChipSpec, netlist: Netlist) -> None:
    problems = []
    for kind in UNIT_KINDS:
        names = [u.name for u in netlist.units if u.kind == kind]
        have = chip.count(kind)
        if len(names) > have:
            label = KIND_LABEL[kind]
            problems.append(
                f"{len(names)} {label}s requested but chip {chip.name!r} has {have} {label} sites "
                f"({len(names) - have} over): {name_list(names)}"
            )
    if problems:
        raise PlacementError("placement: " + "; ".join(problems))


def _resolve_pins(chip: ChipSpec, netlist: Netlist, site_at: np.ndarray, site_kind: np.ndarray) -> np.ndarray:
    fixed = np.full(len(netlist.units), -1, dtype=np.int64)
    taken: dict[int, str] = {}
    for i, unit in enumerate(netlist.units):
        if unit.fixed is None:
            continue
        x, y = unit.fixed
        if not (0 <= x < chip.grid.columns and 0 <= y < chip.grid.rows):
            raise PlacementError(
                f"placement: unit {unit.name} is pinned to ({x}, {y}), outside chip {chip.name!r}'s "
                f"{chip.grid.columns}x{chip.grid.rows} grid"
            )
        site = int(site_at[x, y])
        if site < 0:
            raise PlacementError(f"placement: unit {unit.name} is pinned to ({x}, {y}), which holds no unit site")
        if UNIT_KINDS[site_kind[site]] != unit.kind:
            other = UNIT_KINDS[site_kind[site]]
            raise PlacementError(
                f"placement: unit {unit.name} ({unit.kind}) is pinned to ({x}, {y}), "
                f"which is {'an' if other[0] in 'aeiou' else 'a'} {other} site"
            )
        if site in taken:
            raise PlacementError(f"placement: units {taken[site]} and {unit.name} are both pinned to ({x}, {y})")
        taken[site] = unit.name
        fixed[i] = site
    return fixed


def csr_rows(ptr: np.ndarray, data: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Concatenation of data[ptr[r]:ptr[r+1]] for r in rows, without a Python loop."""
    starts, lengths = ptr[rows], ptr[rows + 1] - ptr[rows]
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=data.dtype)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return data[np.arange(total) + offsets]
