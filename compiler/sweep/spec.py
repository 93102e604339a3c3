"""`SWEEP.toml`: the models, the base chip or node, the axes, grid or seeded random sampling, the metrics
and the Pareto cost. Parsing checks everything a user can get wrong before any work starts;
docs/sweep.md describes the format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.sweep.errors import SweepError
from compiler.sweep.metrics import COST_TERMS, METRICS, NODE_COSTS
from compiler.sweep.models import parse_models
from compiler.tasks.files import read_toml

SWEEP_KEYS = {"name", "chip", "node", "sample", "samples", "seed", "metrics"}
SAMPLES = ("grid", "random")


@dataclass(frozen=True)
class Range:
    """A continuous axis for random sampling: uniform in [low, high], or log-uniform; integers
    when both ends are integers."""

    low: float
    high: float
    log: bool = False

    @property
    def integer(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int)


@dataclass
class SweepSpec:
    path: Path
    name: str
    chip: str
    models: list[dict[str, Any]]
    axes: dict[str, list[Any] | Range]
    sample: str = "grid"
    samples: int = 0
    seed: int = 0
    metrics: list[str] = field(default_factory=lambda: list(METRICS))
    cost: dict[str, float] = field(default_factory=dict)
    time_metric: str = "seconds"
    node: str | None = None  # a node spec to start from (its chip is the base chip), or None: `chip` alone

    @property
    def folder(self) -> Path:
        return self.path.parent


def load_sweep(path: Path) -> SweepSpec:
    return parse_sweep(read_toml(path, SweepError, "sweep file"), path)


def _int(value: Any, what: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise SweepError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value


def parse_sweep(raw: dict[str, Any], path: Path) -> SweepSpec:
    where = path.name
    unknown = sorted(set(raw) - {"sweep", "model", "axes", "pareto"})
    if unknown:
        raise SweepError(f"{where}: unknown table(s) {', '.join(unknown)}; a sweep has [sweep], [[model]], [axes], [pareto]")
    head = raw.get("sweep", {})
    if not isinstance(head, dict):
        raise SweepError(f"{where}: [sweep] must be a table")
    bad = sorted(set(head) - SWEEP_KEYS)
    if bad:
        raise SweepError(f"{where}: unknown key(s) {', '.join(bad)} in [sweep]; it has {', '.join(sorted(SWEEP_KEYS))}")
    sample = head.get("sample", "grid")
    if sample not in SAMPLES:
        raise SweepError(f"{where}: sample must be one of {', '.join(SAMPLES)}, got {sample!r}")
    samples = _int(head.get("samples", 0), f"{where}: samples", 0)
    if sample == "random" and samples == 0:
        raise SweepError(f"{where}: a random sweep needs `samples` (how many points to draw)")
    seed = _int(head.get("seed", 0), f"{where}: seed", 0)
    if "chip" in head and "node" in head:
        raise SweepError(f"{where}: [sweep] names a chip and a node; give one (a node brings its chip: "
                         "sweep the chip's fields as chip.<field>)")
    chip = head.get("chip", "small")
    if not isinstance(chip, str):
        raise SweepError(f"{where}: chip must be a chip name or a .toml path, got {chip!r}")
    node = head.get("node")
    if node is not None and not isinstance(node, str):
        raise SweepError(f"{where}: node must be a node name or a .toml path, got {node!r}")

    models_raw = raw.get("model", [])
    if not isinstance(models_raw, list) or not models_raw:
        raise SweepError(f"{where}: no [[model]] to sweep")
    models = [m for i, entry in enumerate(models_raw) for m in parse_models(entry, path.parent, f"{where}: model {i + 1}")]
    names = [m["name"] for m in models]
    if len(set(names)) != len(names):
        raise SweepError(f"{where}: two models are named alike ({', '.join(sorted({n for n in names if names.count(n) > 1}))}); give each a `name`")

    axes = {name: _axis(name, values, sample, where) for name, values in raw.get("axes", {}).items()}

    metrics = head.get("metrics", list(METRICS))
    if not isinstance(metrics, list) or not metrics:
        raise SweepError(f"{where}: metrics must be a non-empty list of names")
    for m in metrics:
        if m not in METRICS:
            raise SweepError(f"{where}: unknown metric {m!r}; metrics are: {', '.join(METRICS)}")

    pareto = raw.get("pareto", {})
    if not isinstance(pareto, dict) or set(pareto) - {"time", "cost"}:
        raise SweepError(f"{where}: [pareto] has `time` (a metric) and `cost` (a table of weights)")
    time_metric = pareto.get("time", "seconds")
    if time_metric not in METRICS:
        raise SweepError(f"{where}: pareto time {time_metric!r} is not a metric")
    cost = pareto.get("cost", {"pcus_used": 1.0, "pmus_used": 1.0})
    if not isinstance(cost, dict) or not cost:
        raise SweepError(f"{where}: pareto cost must be a table of weights, e.g. {{ sram_bytes = 1.0 }}")
    for term, weight in cost.items():
        if term not in COST_TERMS:
            raise SweepError(f"{where}: unknown pareto cost term {term!r}; terms are: {', '.join(COST_TERMS)}")
        if term in NODE_COSTS and node is None:
            raise SweepError(f"{where}: pareto cost term {term} is a node's figure; start the sweep from a node (node = ...)")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)):
            raise SweepError(f"{where}: pareto cost weight of {term} must be a number, got {weight!r}")

    return SweepSpec(path=path, name=head.get("name", path.stem), chip=chip, models=models, axes=axes,
                     sample=sample, samples=samples, seed=seed, metrics=metrics, cost=dict(cost),
                     time_metric=time_metric, node=node)


def _axis(name: str, values: Any, sample: str, where: str) -> list[Any] | Range:
    if isinstance(values, list):
        if not values:
            raise SweepError(f"{where}: the sweep has no points: axis {name} has no values")
        return values
    if isinstance(values, dict):
        if sample != "random":
            raise SweepError(f"{where}: axis {name} is a range; ranges need sample = \"random\" (a grid takes a list of values)")
        if set(values) - {"min", "max", "log"} or not {"min", "max"} <= set(values):
            raise SweepError(f"{where}: axis {name}: a range is {{ min = ..., max = ..., log = true|false }}")
        low, high = values["min"], values["max"]
        for v in (low, high):
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise SweepError(f"{where}: axis {name}: range ends must be numbers, got {v!r}")
        if low > high or (values.get("log") and low <= 0):
            raise SweepError(f"{where}: axis {name}: need 0 < min <= max for a log range, min <= max otherwise")
        return Range(low, high, bool(values.get("log", False)))
    raise SweepError(f"{where}: axis {name} must be a list of values (or a {{min, max}} range for random sampling)")
