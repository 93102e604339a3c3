"""COE.toml: a Composition of Experts as a file (docs/coe.md has the format).

    node = "sn40l-node8"         # the node that serves it (a bundled node or a .toml path)
    batch = 8                    # the router's batch (the paper's scheduling)
    cache_policy = "lru"         # HBM expert-cache eviction: lru, fifo, largest, lfu, belady (compiler/coe/hbm_cache.py)
    categories = ["code", ...]   # optional: more come from [map] and the experts' `categories`
    fallback = "chat"            # where a category without an expert goes (the CoE paper's fallback)

    [router]                     # `model = "router.py"` (functional) or `architecture = "NAME"` (timing only)
    [architectures.NAME]         # `hf_config = "config.json"` or the figures (hidden, layers, ...)
    [map]                        # category = "expert name"
    [[experts]]                  # name, one of architecture / hf_config / model, optional count and categories;
                                 # a model expert may take weights = "ckpt.pt" or seed = N (compiler/coe/weights.py)

An expert table with `count = N` stands for N experts sharing its architecture (names
`NAME-0` .. `NAME-{N-1}`; `{i}` in its `categories` is replaced by the copy's index). Every path is
relative to the COE.toml's folder. Every way the file can be wrong is a CoEError naming the entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compiler.coe.architecture import Architecture, DecoderArchitecture, ModelFileArchitecture
from compiler.coe.errors import CoEError
from compiler.coe.weights import WeightSource
from compiler.tasks.files import read_toml

TOP_LEVEL = {"node", "batch", "tp", "cache_policy", "categories", "fallback", "router", "architectures", "map",
             "experts", "compile"}
EXPERT_FIELDS = {"name", "architecture", "hf_config", "model", "count", "categories", "weights", "seed"}
COMPILE_FIELDS = {"opt_level", "placer", "seed"}


@dataclass(frozen=True)
class Expert:
    name: str
    architecture: Architecture
    source: str  # what the COE.toml named: an architecture, an HF config or a MODEL.py
    weights: WeightSource | None = None  # a MODEL.py expert's own weights (None: the file's own)


@dataclass
class CoESpec:
    path: Path
    node_name: str
    batch: int
    tp: int | None
    cache_policy: str
    categories: list[str]
    fallback: str | None
    category_map: dict[str, str]
    router: Expert
    experts: list[Expert]
    compile: dict[str, Any] = field(default_factory=dict)

    @property
    def architectures(self) -> dict[str, Architecture]:
        """Distinct architectures by digest (what compiles), in first-use order."""
        out: dict[str, Architecture] = {}
        for e in [self.router, *self.experts]:
            out.setdefault(e.architecture.digest(), e.architecture)
        return out

    def expert(self, name: str) -> Expert:
        return self._by_name[name]

    def __post_init__(self) -> None:
        self._by_name = {e.name: e for e in self.experts}

    def expert_for(self, category: str) -> Expert:
        """Two-step routing's second step: category -> expert, else the fallback's expert."""
        name = self.category_map.get(category)
        if name is None and self.fallback is not None:
            name = self.category_map[self.fallback]
        if name is None:
            raise CoEError(f"category {category!r} has no expert and {self.path.name} names no fallback")
        return self._by_name[name]


def load_coe(path: str | Path) -> CoESpec:
    path = Path(path)
    raw = read_toml(path, CoEError, "CoE file")
    where = path.name
    unknown = sorted(set(raw) - TOP_LEVEL)
    if unknown:
        raise CoEError(f"{where}: unknown field(s) {', '.join(unknown)} (a CoE has {', '.join(sorted(TOP_LEVEL))})")
    folder = path.parent
    node_name = raw.get("node", "sn40l-node8")
    if isinstance(node_name, str) and node_name.endswith(".toml") and not Path(node_name).is_absolute():
        node_name = str(folder / node_name)
    batch = _positive(raw, "batch", 8, where)
    tp = _positive(raw, "tp", None, where)
    compile_options = raw.get("compile", {})
    if not isinstance(compile_options, dict) or set(compile_options) - COMPILE_FIELDS:
        raise CoEError(f"{where}: [compile] takes {', '.join(sorted(COMPILE_FIELDS))}")

    archs_raw = raw.get("architectures", {})
    if not isinstance(archs_raw, dict):
        raise CoEError(f"{where}: [architectures] must be a table of named architectures")
    named = {name: _architecture_table(name, table, folder, f"{where} [architectures.{name}]")
             for name, table in archs_raw.items()}

    router = _expert_entry(raw.get("router"), "router", named, folder, f"{where} [router]", router=True)[0]
    experts_raw = raw.get("experts")
    if not isinstance(experts_raw, list) or not experts_raw:
        raise CoEError(f"{where}: no experts (add [[experts]] tables)")
    experts: list[Expert] = []
    expert_categories: dict[str, str] = {}
    for i, entry in enumerate(experts_raw):
        for expert, cats in _expert_entries(entry, named, folder, f"{where} [[experts]] #{i + 1}"):
            if any(e.name == expert.name for e in experts):
                raise CoEError(f"{where}: two experts are named {expert.name!r}")
            experts.append(expert)
            for c in cats:
                expert_categories.setdefault(c, expert.name)

    mapping_raw = raw.get("map", {})
    if not isinstance(mapping_raw, dict) or not all(isinstance(v, str) for v in mapping_raw.values()):
        raise CoEError(f"{where}: [map] must map category names to expert names")
    names = {e.name for e in experts}
    for category, name in mapping_raw.items():
        if name not in names:
            raise CoEError(f"{where} [map]: category {category!r} maps to unknown expert {name!r}")
    category_map = expert_categories | dict(mapping_raw)
    listed = raw.get("categories", [])
    if not isinstance(listed, list) or not all(isinstance(c, str) for c in listed):
        raise CoEError(f"{where}: categories must be a list of names")
    categories = list(dict.fromkeys([*listed, *category_map]))
    fallback = raw.get("fallback")
    if fallback is not None:
        if not isinstance(fallback, str) or fallback not in category_map:
            raise CoEError(f"{where}: fallback category {fallback!r} has no expert in [map]")
        if fallback not in categories:
            categories.append(fallback)
    unmapped = [c for c in categories if c not in category_map]
    if unmapped and fallback is None:
        raise CoEError(f"{where}: category {unmapped[0]!r} has no expert and no fallback is given "
                       f"(map it in [map] or set fallback = \"CATEGORY\")")
    policy = raw.get("cache_policy", "lru")
    from compiler.coe.hbm_cache import POLICIES

    if policy not in POLICIES:
        raise CoEError(f"{where}: unknown cache_policy {policy!r}: choose one of {', '.join(POLICIES)}")
    return CoESpec(path, node_name, batch, tp, policy, categories, fallback, category_map, router, experts,
                   dict(compile_options))


def _positive(raw: dict[str, Any], key: str, default: Any, where: str) -> Any:
    value = raw.get(key, default)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
        raise CoEError(f"{where}: {key} must be a positive whole number, got {value!r}")
    return value


def _architecture_table(name: str, table: Any, folder: Path, where: str) -> Architecture:
    if not isinstance(table, dict):
        raise CoEError(f"{where}: must be a table")
    if "hf_config" in table:
        extra = sorted(set(table) - {"hf_config", "max_context"})
        if extra:
            raise CoEError(f"{where}: an hf_config architecture takes only max_context besides it, not {', '.join(extra)}")
        arch = _hf_config(name, folder / table["hf_config"], where)
        if "max_context" in table:
            arch = DecoderArchitecture(**{**arch.__dict__, "max_context": table["max_context"]})
        return arch
    return DecoderArchitecture.from_table(name, dict(table), where)


def _hf_config(name: str, path: Path, where: str) -> DecoderArchitecture:
    try:
        config = json.loads(path.read_text())
    except FileNotFoundError:
        raise CoEError(f"{where}: HF config {path} does not exist") from None
    except (OSError, ValueError) as exc:
        raise CoEError(f"{where}: cannot read HF config {path}: {exc}") from None
    return DecoderArchitecture.from_hf_config(name, config, f"{where} ({path.name})")


def _model_file(name: str, path: Path, where: str) -> ModelFileArchitecture:
    import hashlib

    from compiler.frontend.model_file import load_model_file

    if not path.exists():
        raise CoEError(f"{where}: model file {path} does not exist")
    try:
        loaded = load_model_file(path)
    except Exception as exc:  # a UserError from the loader, or the user's own code
        raise CoEError(f"{where}: expert {name!r} ({path.name}) does not load: {' '.join(str(exc).split())}") from None
    params = sum(p.numel() for p in loaded.module.parameters())
    dtype_bytes = max((p.element_size() for p in loaded.module.parameters()), default=4)
    length = loaded.inputs[0].shape[-1] if loaded.inputs and loaded.inputs[0].dim() else 1
    return ModelFileArchitecture(name, path.resolve(), hashlib.sha256(path.read_bytes()).hexdigest(),
                                 params, int(length), dtype_bytes)


def _expert_entry(entry: Any, name_default: str, named: dict[str, Architecture], folder: Path, where: str,
                  router: bool = False) -> tuple[Expert, list[str]]:
    if not isinstance(entry, dict):
        raise CoEError(f"{where}: missing (give `model`, `hf_config` or `architecture`)")
    allowed = {"model", "hf_config", "architecture"} if router else EXPERT_FIELDS
    unknown = sorted(set(entry) - allowed)
    if unknown:
        raise CoEError(f"{where}: unknown field(s) {', '.join(unknown)}")
    name = entry.get("name", name_default)
    sources = [k for k in ("model", "hf_config", "architecture") if k in entry]
    if len(sources) != 1:
        raise CoEError(f"{where}: give exactly one of model, hf_config, architecture (got {', '.join(sources) or 'none'})")
    kind = sources[0]
    value = entry[kind]
    if kind == "model":
        arch: Architecture = _model_file(name, folder / value, where)
    elif kind == "hf_config":
        arch = _hf_config(Path(value).stem, folder / value, where)
    else:
        if value not in named:
            raise CoEError(f"{where}: unknown architecture {value!r} (defined: {', '.join(named) or 'none'})")
        arch = named[value]
    cats = entry.get("categories", [])
    if not isinstance(cats, list) or not all(isinstance(c, str) for c in cats):
        raise CoEError(f"{where}: categories must be a list of names")
    return Expert(name, arch, f"{kind} {value}", _weight_source(entry, kind, folder, where)), cats


def _weight_source(entry: dict[str, Any], kind: str, folder: Path, where: str) -> WeightSource | None:
    """`weights = "file"` or `seed = N`: only a MODEL.py expert has weights to choose."""
    given = [k for k in ("weights", "seed") if k in entry]
    if not given:
        return None
    if len(given) == 2:
        raise CoEError(f"{where}: give weights or seed, not both")
    if kind != "model":
        raise CoEError(f"{where}: {given[0]} needs a MODEL.py expert (model = \"expert.py\"); a {kind} expert is shapes-only")
    if "seed" in entry:
        seed = entry["seed"]
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise CoEError(f"{where}: seed must be a whole number >= 0, got {seed!r}")
        return WeightSource(seed=seed)
    if not isinstance(entry["weights"], str):
        raise CoEError(f"{where}: weights must be a checkpoint path, got {entry['weights']!r}")
    return WeightSource(checkpoint=(folder / entry["weights"]).resolve())


def _check_weights(expert: Expert, where: str) -> None:
    """A checkpoint must fit its model: read it now, so a bad one fails before anything runs."""
    from compiler.coe.weights import check_checkpoint, pristine_module, read_checkpoint

    if expert.weights is None or expert.weights.checkpoint is None:
        return
    path = expert.weights.checkpoint
    check_checkpoint(read_checkpoint(path, f"{where} expert {expert.name!r}"), pristine_module(expert.architecture),
                     path, f"{where} expert {expert.name!r}")


def _expert_entries(entry: Any, named: dict[str, Architecture], folder: Path, where: str) -> list[tuple[Expert, list[str]]]:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise CoEError(f"{where}: every expert needs a name")
    count = _positive(entry, "count", None, where)
    expert, cats = _expert_entry(entry, entry["name"], named, folder, where)
    if count is None:
        _check_weights(expert, where)
        return [(expert, cats)]
    out = []
    for i in range(count):
        copy = Expert(f"{expert.name}-{i}", expert.architecture, expert.source, _copy_weights(expert.weights, i))
        _check_weights(copy, where)
        out.append((copy, [c.replace("{i}", str(i)) for c in cats]))
    return out


def _copy_weights(weights: WeightSource | None, i: int) -> WeightSource | None:
    """Copy i of a counted expert: `{i}` in a checkpoint's name is the index; a seed counts up."""
    if weights is None:
        return None
    if weights.seed is not None:
        return WeightSource(seed=weights.seed + i)
    return WeightSource(checkpoint=weights.checkpoint.with_name(weights.checkpoint.name.replace("{i}", str(i))))
