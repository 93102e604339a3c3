"""A sweep's points: every model against the axes' grid, or a seeded random sample of it.

Each point is plain data a worker can run: the model source, the chip spec (and on a node, the
node spec) as TOML text, the compile and simulation options, and two content hashes.
`compile_key` names the compiled artifact (model + chip or, for tp > 1, node with its chip +
compile options, `tp` among them + compiler version), so points that differ only in simulation options
share one compile; `point_key` adds the simulation options and the simulator's version and names
the point's result, so a re-run or an extended sweep does only new work.

Axis names are routed here. From a chip: a dotted name (or `clock_hz`) is a chip field, anything
else an option. From a node: `chip.<dotted name>` is a field of the node's chip, a name of the
node file's (`sockets`, `ddr_to_hbm_bytes_per_second`, `network.<field>`) a node field, anything
else an option.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from compiler.sweep.chip_overrides import OverriddenChip, base_chip_path, field_names, load_chip_data
from compiler.sweep.errors import SweepError
from compiler.sweep.models import fingerprint
from compiler.sweep.node_overrides import CHIP_PREFIX, OverriddenNode, base_node_path, node_chip_path, node_field_names
from compiler.sweep.options import check_option, compile_options, split_options
from compiler.sweep.spec import Range, SweepSpec

COMPILER_PACKAGES = ("compiler/frontend", "dialects", "passes", "backend_rdu", "bitstream_format", "chip_model")
COMPILER_FILES = ("compiler/driver.py",)
SIMULATOR_PACKAGES = ("functional_sim",)
SIMULATOR_FILES = ("compiler/sweep/worker.py", "compiler/sweep/metrics.py")
"""What turns a compiled artifact into a point's row: a changed timing model or metric re-runs points."""


@dataclass(frozen=True)
class Point:
    index: int
    model: dict[str, Any]
    values: dict[str, Any]  # axis name -> value, in the sweep file's axis order
    chip_name: str
    chip_text: str
    chip_digest: str
    compile_options: dict[str, Any]  # tp among them
    sim_options: dict[str, Any]
    compile_key: str
    point_key: str
    node_name: str | None = None  # on a node: its (overridden) spec as TOML, naming the chip ../chips/<chip_digest>.toml
    node_text: str | None = None
    node_digest: str | None = None

    @property
    def tp(self) -> int:
        return self.compile_options["tp"]

    @property
    def target_digest(self) -> str:
        """The chip or node the point runs on (a node's digest covers its chip)."""
        return self.node_digest or self.chip_digest

    def task(self, cache_dir: Path, reuse_results: bool = True) -> dict[str, Any]:
        """What a worker needs, as plain data."""
        return {"index": self.index, "model": self.model, "chip_text": self.chip_text, "chip_digest": self.chip_digest,
                "node_text": self.node_text, "node_digest": self.node_digest,
                "compile_options": self.compile_options, "sim_options": self.sim_options,
                "compile_key": self.compile_key, "point_key": self.point_key, "cache_dir": str(cache_dir),
                "reuse_results": reuse_results}


def _sources_digest(packages: tuple[str, ...], files: tuple[str, ...]) -> str:
    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    found = [f for pkg in packages for f in (root / pkg).rglob("*") if f.suffix in (".py", ".toml")]
    for f in sorted(found + [root / f for f in files]):
        digest.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@cache
def compiler_version() -> str:
    """The package version and a hash of the compiler's sources: a changed pass invalidates the
    cache without anyone remembering to bump a number."""
    from compiler.driver import COMPILER_VERSION

    return f"{COMPILER_VERSION}+{_sources_digest(COMPILER_PACKAGES, COMPILER_FILES)}"


@cache
def simulator_version() -> str:
    """A hash of the simulator's and the metrics' sources: part of a point's result key."""
    return _sources_digest(SIMULATOR_PACKAGES, SIMULATOR_FILES)


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _draw(axis: list[Any] | Range, rng: random.Random) -> Any:
    if isinstance(axis, list):
        return axis[rng.randrange(len(axis))]
    if axis.log:
        value = math.exp(rng.uniform(math.log(axis.low), math.log(axis.high)))
    else:
        value = rng.uniform(axis.low, axis.high)
    return round(value) if axis.integer else value


def axis_assignments(spec: SweepSpec) -> list[dict[str, Any]]:
    names = list(spec.axes)
    if spec.sample == "grid":
        return [dict(zip(names, combo)) for combo in itertools.product(*spec.axes.values())]
    rng = random.Random(spec.seed)
    if all(isinstance(a, list) for a in spec.axes.values()):
        # only lists: draw distinct points of the grid
        sizes = [len(a) for a in spec.axes.values()]
        total = math.prod(sizes)
        if spec.samples > total:
            raise SweepError(f"{spec.path.name}: samples = {spec.samples} but the axes have only {total} distinct "
                             "points; use sample = \"grid\" or add a { min, max } range")
        return [_grid_point(spec, names, sizes, i) for i in rng.sample(range(total), spec.samples)]
    return [{n: _draw(spec.axes[n], rng) for n in names} for _ in range(spec.samples)]


def _grid_point(spec: SweepSpec, names: list[str], sizes: list[int], index: int) -> dict[str, Any]:
    """The grid's `index`-th point (last axis fastest, as in the grid's order)."""
    values = {}
    for name, size in zip(reversed(names), reversed(sizes)):
        index, i = divmod(index, size)
        values[name] = spec.axes[name][i]
    return {n: values[n] for n in names}


@cache
def bundled_node_fields() -> set[str]:
    """The node fields of the bundled node files (for the hint when a chip sweep names one)."""
    from chip_model.node import NODE_DIR

    return {n for f in NODE_DIR.glob("*.toml") for n in node_field_names(load_chip_data(f))}


class Targets:
    """The sweep's base chip or node, and the (overridden) chip or node of each point's axes."""

    def __init__(self, spec: SweepSpec):
        self.node_path = base_node_path(spec.node, spec.folder) if spec.node is not None else None
        if self.node_path is not None:
            node_data = load_chip_data(self.node_path)
            self.chip_path = node_chip_path(node_data, self.node_path)
            self.node_names = node_field_names(node_data)
        else:
            self.chip_path = base_chip_path(spec.chip, spec.folder)
            self.node_names = []
        self.chip_names = field_names(load_chip_data(self.chip_path))
        self.made: dict[str, OverriddenChip | OverriddenNode] = {}

    def split(self, values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """(chip fields, node fields, options) of one point's axis values."""
        chip, node, options = {}, {}, {}
        for name, value in values.items():
            if self.node_path is None:
                if name not in self.chip_names and name in bundled_node_fields():
                    raise SweepError(f"axis {name!r} is a node's field: start the sweep from a node "
                                     "(node = \"small-node8\" in [sweep] instead of chip)")
                (chip if "." in name or name == "clock_hz" else options)[name] = value
            elif name.startswith(CHIP_PREFIX):
                chip[name.removeprefix(CHIP_PREFIX)] = value
            elif name in self.node_names:
                node[name] = value
            elif "." in name or name in self.chip_names:
                hint = f" (the chip's {name} is chip.{name} under a node)" if name in self.chip_names else ""
                raise SweepError(f"axis {name!r} names no field of the node spec{hint}; fields are: "
                                 f"{', '.join(self.node_names)} and chip.<chip field>, e.g. chip.pmu.sram_bytes")
            else:
                options[name] = value
        return chip, node, options

    def get(self, chip: dict[str, Any], node: dict[str, Any]) -> OverriddenChip | OverriddenNode:
        key = json.dumps([chip, node], sort_keys=True)
        if key not in self.made:
            self.made[key] = OverriddenNode(self.node_path, node, chip) if self.node_path is not None \
                else OverriddenChip(self.chip_path, chip)
        return self.made[key]


def expand(spec: SweepSpec) -> list[Point]:
    """Every point, each chip and node checked by chip_model's loaders and each option by the
    driver, so a bad axis or value fails here, before any work. (A tp the model's heads or the
    node's sockets cannot take fails its own points when they compile.)"""
    assignments = axis_assignments(spec)
    if not assignments:
        raise SweepError(f"{spec.path.name}: the sweep has no points")
    targets = Targets(spec)
    on_node = targets.node_path is not None
    version, sim_version = compiler_version(), simulator_version()
    points = []
    for model in spec.models:
        for values in assignments:
            chip_axes, node_axes, opt_axes = targets.split(values)
            for name, value in opt_axes.items():
                check_option(name, value, on_node)
            target = targets.get(chip_axes, node_axes)
            chip = target.chip if isinstance(target, OverriddenNode) else target
            copts, sim = split_options(opt_axes)
            try:
                compile_options(str(targets.chip_path), copts, str(targets.node_path) if on_node else None).pipeline()
            except ValueError as exc:
                raise SweepError(f"{', '.join(f'{k}={v}' for k, v in opt_axes.items())}: {exc}") from None
            # tp = 1 is one socket's program: it does not depend on the node's figures, so those
            # points compile for the chip and share that compile across node axes
            compiled_for = target.digest if on_node and copts["tp"] > 1 else chip.digest
            compile_key = _hash({"model": fingerprint(model), "target": compiled_for, "options": copts, "compiler": version})
            point_key = _hash({"compile": compile_key, "sim": sim, "simulator": sim_version})
            node = (target.name, target.text, target.digest) if on_node else (None, None, None)
            points.append(Point(len(points), model, values, chip.name, chip.text, chip.digest, copts, sim,
                                compile_key, point_key, *node))
    return points
