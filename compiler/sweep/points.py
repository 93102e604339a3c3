"""A sweep's points: every model against the axes' grid, or a seeded random sample of it.

Each point is plain data a worker can run: the model source, the chip spec as TOML text, the
compile and simulation options, and two content hashes. `compile_key` names the compiled
artifact (model + chip + compile options + compiler version), so points that differ only in
simulation options share one compile; `point_key` adds the simulation options and names the
point's result, so a re-run or an extended sweep does only new work.
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

from compiler.sweep.chip_overrides import OverriddenChip, base_chip_path
from compiler.sweep.errors import SweepError
from compiler.sweep.models import fingerprint
from compiler.sweep.options import check_option, compile_options, split_options
from compiler.sweep.spec import Range, SweepSpec

COMPILER_PACKAGES = ("compiler/frontend", "dialects", "passes", "backend_rdu", "bitstream_format", "chip_model")
COMPILER_FILES = ("compiler/driver.py",)


@dataclass(frozen=True)
class Point:
    index: int
    model: dict[str, Any]
    values: dict[str, Any]  # axis name -> value, in the sweep file's axis order
    chip_name: str
    chip_text: str
    chip_digest: str
    compile_options: dict[str, Any]
    tp: int
    sim_options: dict[str, Any]
    compile_key: str
    point_key: str

    def task(self, cache_dir: Path, reuse_results: bool = True) -> dict[str, Any]:
        """What a worker needs, as plain data."""
        return {"index": self.index, "model": self.model, "chip_text": self.chip_text, "chip_digest": self.chip_digest,
                "compile_options": self.compile_options, "tp": self.tp, "sim_options": self.sim_options,
                "compile_key": self.compile_key, "point_key": self.point_key, "cache_dir": str(cache_dir),
                "reuse_results": reuse_results}


@cache
def compiler_version() -> str:
    """The package version and a hash of the compiler's sources: a changed pass invalidates the
    cache without anyone remembering to bump a number."""
    from compiler.driver import COMPILER_VERSION

    root = Path(__file__).resolve().parents[2]
    digest = hashlib.sha256()
    files = [f for pkg in COMPILER_PACKAGES for f in (root / pkg).rglob("*") if f.suffix in (".py", ".toml")]
    for f in sorted(files + [root / f for f in COMPILER_FILES]):
        digest.update(str(f.relative_to(root)).encode() + b"\0" + f.read_bytes() + b"\0")
    return f"{COMPILER_VERSION}+{digest.hexdigest()[:16]}"


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


def expand(spec: SweepSpec) -> list[Point]:
    """Every point, each chip checked by chip_model's loader and each option by the driver, so a
    bad axis or value fails here, before any work."""
    assignments = axis_assignments(spec)
    if not assignments:
        raise SweepError(f"{spec.path.name}: the sweep has no points")
    base = base_chip_path(spec.chip, spec.folder)
    chips: dict[str, OverriddenChip] = {}
    version = compiler_version()
    points = []
    for model in spec.models:
        for values in assignments:
            chip_axes = {k: v for k, v in values.items() if "." in k or k == "clock_hz"}
            opt_axes = {k: v for k, v in values.items() if k not in chip_axes}
            for name, value in opt_axes.items():
                check_option(name, value)
            chip_id = json.dumps(chip_axes, sort_keys=True)
            if chip_id not in chips:
                chips[chip_id] = OverriddenChip(base, chip_axes)
            chip = chips[chip_id]
            copts, tp, sim = split_options(opt_axes)
            try:
                compile_options(str(base), copts).pipeline()
            except ValueError as exc:
                raise SweepError(f"{', '.join(f'{k}={v}' for k, v in opt_axes.items())}: {exc}") from None
            compile_key = _hash({"model": fingerprint(model, tp), "chip": chip.digest, "options": copts, "compiler": version})
            point_key = _hash({"compile": compile_key, "sim": sim})
            points.append(Point(len(points), model, values, chip.name, chip.text, chip.digest, copts, tp, sim,
                                compile_key, point_key))
    return points
