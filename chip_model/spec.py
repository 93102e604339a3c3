"""Typed chip specification and its loader.

A spec is a TOML file (stdlib `tomllib`: no dependency) so that figures can carry comments naming
their source or marking them as assumptions. Loading validates every field and expands the
declarative floor plan into the concrete list of sites.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache, cached_property
from pathlib import Path
from typing import Any

from rducc_errors import UserError

SPEC_DIR = Path(__file__).parent / "specs"
UNIT_KINDS = ("pcu", "pmu", "agcu")
OFF_CHIP_TIERS = ("hbm", "ddr")
ZERO_ALLOWED = {"die_crossing_latency_cycles", "tile_overhead_cycles", "latency_cycles"}


class ChipSpecError(UserError, ValueError):
    """A chip spec that is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Site:
    x: int
    y: int
    kind: str

    def to_json(self) -> dict[str, Any]:
        return {"x": self.x, "y": self.y, "kind": self.kind}


@dataclass(frozen=True)
class PcuSpec:
    lanes: int
    stages: int
    dtypes: tuple[str, ...]
    transcendentals_per_cycle: int
    tile_overhead_cycles: int  # event timing: fixed cost per tile (loop and control set-up)
    latency_cycles: int  # event timing: from a tile's start to its result leaving the pipeline

    @property
    def macs_per_cycle(self) -> int:
        """The systolic body is lanes x stages multiply-accumulators."""
        return self.lanes * self.stages

    @property
    def flops_per_cycle(self) -> int:
        return 2 * self.macs_per_cycle


@dataclass(frozen=True)
class PmuSpec:
    sram_bytes: int
    banks: int
    bytes_per_cycle: int
    addresses_per_cycle: int
    tile_overhead_cycles: int  # fixed cost a PMU pays per tile it hands over
    latency_cycles: int  # event timing: SRAM write-to-read latency of a tile


@dataclass(frozen=True)
class AgcuSpec:
    bytes_per_cycle: int
    tile_overhead_cycles: int  # event timing: fixed cost per tile (request set-up)


@dataclass(frozen=True)
class NetworkSpec:
    vector_link_bytes_per_cycle: int
    scalar_link_bytes_per_cycle: int
    vector_tracks: int  # a link's bandwidth in full-rate streams (packet-switched: any number of flows share it)
    scalar_tracks: int
    route_table_entries: int  # flows a switch's routing table holds, per network: the router's hard limit
    hop_latency_cycles: int
    die_crossing_latency_cycles: int
    fifo_tiles: int  # event timing: depth of a stream's FIFO at a consumer without a configured buffer


@dataclass(frozen=True)
class LaunchSpec:
    program_load_cycles: int
    software_launch_cycles: int
    hardware_launch_cycles: int
    config_slots: int  # configurations a unit holds at once: the kernels of one section


@dataclass(frozen=True)
class MemoryTier:
    tier: str
    capacity_bytes: int
    bytes_per_second: float
    latency_cycles: int  # event timing: from a request to its first bytes


@dataclass(frozen=True)
class GridSpec:
    columns: int
    rows: int
    die_rows: int
    sites: tuple[Site, ...]

    def die_of(self, y: int) -> int:
        return y // self.die_rows


@dataclass(frozen=True)
class ChipSpec:
    name: str
    description: str
    clock_hz: float
    pcu: PcuSpec
    pmu: PmuSpec
    agcu: AgcuSpec
    network: NetworkSpec
    launch: LaunchSpec
    memories: tuple[MemoryTier, ...]
    grid: GridSpec
    source: str = field(default="", compare=False)

    @cached_property
    def sites_by_kind(self) -> dict[str, tuple[Site, ...]]:
        return {k: tuple(s for s in self.grid.sites if s.kind == k) for k in UNIT_KINDS}

    def count(self, kind: str) -> int:
        return len(self.sites_by_kind[kind])

    def tier(self, name: str) -> MemoryTier:
        if name == "sram":
            return MemoryTier(
                "sram",
                self.count("pmu") * self.pmu.sram_bytes,
                self.count("pmu") * self.pmu.bytes_per_cycle * self.clock_hz,
                self.pmu.latency_cycles,
            )
        for mem in self.memories:
            if mem.tier == name:
                return mem
        raise ChipSpecError(f"chip {self.name!r} has no memory tier {name!r}")

    def tier_bytes_per_cycle(self, name: str) -> float:
        return self.tier(name).bytes_per_second / self.clock_hz

    @property
    def peak_flops(self) -> float:
        return self.count("pcu") * self.pcu.flops_per_cycle * self.clock_hz

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "clock_hz": self.clock_hz,
            "peak_flops": self.peak_flops,
            "counts": {k: self.count(k) for k in UNIT_KINDS},
            "pcu": vars(self.pcu) | {"dtypes": list(self.pcu.dtypes)},
            "pmu": vars(self.pmu),
            "agcu": vars(self.agcu),
            "network": vars(self.network),
            "launch": vars(self.launch),
            "memory": [vars(self.tier("sram"))] + [vars(m) for m in self.memories],
            "grid": {
                "columns": self.grid.columns,
                "rows": self.grid.rows,
                "die_rows": self.grid.die_rows,
                "switches": "one per grid point; mesh links join 4-neighbours",
            },
            "sites": [s.to_json() for s in self.grid.sites],
        }


def available_chips() -> list[str]:
    return sorted(p.stem for p in SPEC_DIR.glob("*.toml"))


def spec_path(name: str, directory: Path, kind: str, error: type[UserError]) -> Path:
    """The file of a bundled spec (`name` in `directory`) or of a spec file given by path.

    Chips and nodes are both named either way; one lookup keeps their rules and error messages
    the same."""
    path = Path(name)
    if path.suffix == ".toml" and path.exists():
        return path
    path = directory / f"{name}.toml"
    if not path.exists():
        choices = ", ".join(sorted(p.stem for p in directory.glob("*.toml")))
        raise error(f"unknown {kind} {name!r}: choose one of {choices} or give a .toml spec path")
    return path


def read_spec_toml(path: Path, kind: str, error: type[UserError]) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise error(f"cannot read {kind} spec {path}: {exc}") from None


@cache
def load_chip(name: str) -> ChipSpec:
    """Load a bundled chip by name (`sn40l`, `small`) or a spec file by path."""
    return load_chip_file(spec_path(name, SPEC_DIR, "chip", ChipSpecError))


def load_chip_file(path: Path) -> ChipSpec:
    """Load a spec file, uncached (sweeps rewrite files in place)."""
    return _build(read_spec_toml(path, "chip", ChipSpecError), str(path))


def _section(raw: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = raw.get(key)
    if not isinstance(value, dict):
        raise ChipSpecError(f"{where}: missing table [{key}]")
    return value


def _typed(cls: type, table: dict[str, Any], where: str) -> Any:
    names = [f for f in cls.__dataclass_fields__]
    missing = [n for n in names if n not in table]
    unknown = [k for k in table if k not in names]
    if missing or unknown:
        raise ChipSpecError(f"{where}: {cls.__name__} missing {missing} unknown {unknown}")
    values = {}
    hints = {f.name: str(f.type) for f in cls.__dataclass_fields__.values()}
    for n in names:
        v = table[n]
        if isinstance(v, list):
            v = tuple(v)
        elif hints[n] in ("int", "float"):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or (hints[n] == "int" and not isinstance(v, int)):
                raise ChipSpecError(f"{where}: {cls.__name__}.{n} must be a number ({hints[n]}), got {v!r}")
            if v < 0 or (v == 0 and n not in ZERO_ALLOWED):
                raise ChipSpecError(f"{where}: {n} must be {'positive' if n not in ZERO_ALLOWED else 'non-negative'}, got {v}")
        values[n] = v
    return cls(**values)


def _clock(raw: dict[str, Any], where: str) -> float:
    value = raw.get("clock_hz")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ChipSpecError(f"{where}: clock_hz must be a positive number, got {value!r}")
    return float(value)


def _expand_region(region: dict[str, Any], where: str) -> list[Site]:
    x0, x1 = region["x"]
    y0, y1 = region["y"]
    pattern = region.get("pattern")
    sites = []
    if pattern == "checkerboard":
        for y in range(y0, y1 + 1):
            for x in range(x0, x1 + 1):
                sites.append(Site(x, y, region["even"] if (x + y) % 2 == 0 else region["odd"]))
    elif pattern == "column":
        step = region.get("step", 1)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1, step):
                sites.append(Site(x, y, region["kind"]))
    else:
        raise ChipSpecError(f"{where}: unknown region pattern {pattern!r}")
    return sites


def _build(raw: dict[str, Any], source: str) -> ChipSpec:
    grid_raw = _section(raw, "grid", source)
    columns, rows = grid_raw.get("columns"), grid_raw.get("rows")
    sites: dict[tuple[int, int], Site] = {}
    for region in grid_raw.get("region", []):
        for site in _expand_region(region, source):
            if site.kind not in UNIT_KINDS:
                raise ChipSpecError(f"{source}: unknown unit kind {site.kind!r}")
            if not (0 <= site.x < columns and 0 <= site.y < rows):
                raise ChipSpecError(f"{source}: site ({site.x}, {site.y}) is outside the grid")
            if (site.x, site.y) in sites:
                raise ChipSpecError(f"{source}: two regions claim site ({site.x}, {site.y})")
            sites[(site.x, site.y)] = site
    ordered = tuple(sorted(sites.values(), key=lambda s: (s.y, s.x)))
    grid = GridSpec(columns, rows, grid_raw.get("die_rows", rows), ordered)

    memories = tuple(_typed(MemoryTier, m, source) for m in raw.get("memory", []))
    tiers = [m.tier for m in memories]
    if sorted(tiers) != sorted(OFF_CHIP_TIERS):
        raise ChipSpecError(f"{source}: memory tiers must be exactly {OFF_CHIP_TIERS}, got {tiers}")

    spec = ChipSpec(
        name=raw.get("name", Path(source).stem),
        description=raw.get("description", ""),
        clock_hz=_clock(raw, source),
        pcu=_typed(PcuSpec, _section(raw, "pcu", source), source),
        pmu=_typed(PmuSpec, _section(raw, "pmu", source), source),
        agcu=_typed(AgcuSpec, _section(raw, "agcu", source), source),
        network=_typed(NetworkSpec, _section(raw, "network", source), source),
        launch=_typed(LaunchSpec, _section(raw, "launch", source), source),
        memories=memories,
        grid=grid,
        source=source,
    )
    for kind in UNIT_KINDS:
        if spec.count(kind) == 0:
            raise ChipSpecError(f"{source}: the floor plan has no {kind} site")
    return spec
