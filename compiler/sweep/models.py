"""What a sweep compiles: a MODEL.py file, one of the bench workloads (a Llama-style decoder
by shape name, phase, context and layer count, shapes only), or the expert architectures of a
Composition of Experts (`coe = "COE.toml"`: one model per distinct architecture, each compiled as
`rducc coe` compiles it, compiler/coe/architecture.py's `decoder_program`, or its MODEL.py).

A source is plain data (a dict), so it travels to a Ray worker as is; `load` turns it into the
driver's `LoadedModel` inside the worker, and `fingerprint` names its content for the compile
cache (the file's bytes; for a workload its parameters and the source of `bench/workloads.py`).
"""

from __future__ import annotations

import hashlib
import importlib
import json
from functools import cache
from pathlib import Path
from typing import Any

from compiler.sweep.errors import SweepError

PHASES = ("prefill", "decode")
MODEL_KEYS = {"path", "workload", "coe", "phase", "context", "layers", "tokens", "name"}
SOURCES = ("path", "workload", "coe")
COE_SOURCES = ("compiler/coe/architecture.py", "compiler/coe/decoder_model.py")
"""What builds a CoE decoder architecture's program: part of its fingerprint."""


def parse_models(entry: Any, folder: Path, where: str) -> list[dict[str, Any]]:
    """One `[[model]]` table: `path = "MODEL.py"` (relative to the sweep file),
    `workload = "llama2-7b"` with `phase`, `context`, `layers`, or `coe = "COE.toml"` with `phase`
    and `context` (one model per architecture of the CoE); `tokens` per forward is optional for a
    MODEL.py (it gives the tokens_per_second metric)."""
    if not isinstance(entry, dict):
        raise SweepError(f"{where}: each [[model]] must be a table")
    unknown = sorted(set(entry) - MODEL_KEYS)
    if unknown:
        raise SweepError(f"{where}: unknown key(s) {', '.join(unknown)}; a model has {', '.join(sorted(MODEL_KEYS))}")
    if sum(k in entry for k in SOURCES) != 1:
        raise SweepError(f"{where}: a [[model]] needs exactly one of `path` (a MODEL.py), `workload` (a bench workload) "
                         "or `coe` (a CoE file)")
    tokens = entry.get("tokens")
    if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or tokens <= 0):
        raise SweepError(f"{where}: tokens must be a positive integer, got {tokens!r}")
    if "path" in entry:
        path = Path(entry["path"])
        path = path if path.is_absolute() else folder / path
        if not path.exists():
            raise SweepError(f"{where}: model file {entry['path']} does not exist")
        return [{"kind": "file", "path": str(path.resolve()), "name": entry.get("name", path.stem), "tokens": tokens}]
    phase = entry.get("phase", "decode")
    if phase not in PHASES:
        raise SweepError(f"{where}: phase must be one of {', '.join(PHASES)}, got {phase!r}")
    context, layers = entry.get("context", 4096), entry.get("layers", 1)
    for key, value in (("context", context), ("layers", layers)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise SweepError(f"{where}: {key} must be a positive integer, got {value!r}")
    if "coe" in entry:
        if "layers" in entry or tokens is not None:
            raise SweepError(f"{where}: a CoE's architectures compile one layer each (as `rducc coe` does) and their "
                             "tokens follow from the CoE's batch: drop `layers` and `tokens`")
        return _coe_models(entry, folder, where, phase, context)
    shapes = workload_shapes()
    name = entry["workload"]
    if name not in shapes:
        raise SweepError(f"{where}: unknown workload {name!r}: choose one of {', '.join(sorted(shapes))}")
    default_name = f"{name} {phase} {context // 1024}k x{layers}" if context % 1024 == 0 else f"{name} {phase} {context} x{layers}"
    return [{"kind": "workload", "workload": name, "phase": phase, "context": context, "layers": layers,
             "name": entry.get("name", default_name), "tokens": tokens or (context if phase == "prefill" else 1)}]


def _coe_models(entry: dict[str, Any], folder: Path, where: str, phase: str, context: int) -> list[dict[str, Any]]:
    """One model per distinct architecture of the CoE (by content: experts sharing one share the
    model), named `<name>/<architecture>`. A decoder architecture is one layer in `phase` at
    `context` for the CoE's batch; a MODEL.py expert is its file, at its own fixed shape."""
    from compiler.coe.architecture import ModelFileArchitecture
    from compiler.coe.config import load_coe
    from rducc_errors import UserError

    path = Path(entry["coe"])
    path = path if path.is_absolute() else folder / path
    if not path.exists():
        raise SweepError(f"{where}: CoE file {entry['coe']} does not exist")
    try:
        coe = load_coe(path)
    except UserError as exc:
        raise SweepError(f"{where}: {' '.join(str(exc).split())}") from None
    prefix = entry.get("name", path.parent.name if path.stem.upper() == "COE" else path.stem)
    models = []
    for digest, arch in coe.architectures.items():
        model = {"kind": "coe", "coe": str(path.resolve()), "architecture": arch.name, "digest": digest,
                 "name": f"{prefix}/{arch.name}"}
        if isinstance(arch, ModelFileArchitecture):
            models.append({**model, "path": str(arch.path), "tokens": None})
        else:
            models.append({**model, "phase": phase, "context": context, "batch": coe.batch,
                           "tokens": coe.batch * (context if phase == "prefill" else 1)})
    return models


def _bench_workloads():
    try:
        return importlib.import_module("bench.workloads")
    except ImportError:
        raise SweepError("bench workloads need the rducc source tree (the `bench` package) on the Python path") from None


@cache
def workload_shapes() -> dict[str, Any]:
    module = _bench_workloads()
    return {s.name: s for s in vars(module).values() if isinstance(s, module.DecoderShape)}


@cache
def _file_digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fingerprint(source: dict[str, Any]) -> str:
    """What decides the model's graph: the file's content, or the workload's parameters and the
    source that builds it, or a CoE architecture's content (its key, not its name), phase, context
    and batch and the source that builds it (tensor parallelism is a compile option, `tp`, not part
    of the model)."""
    if source["kind"] == "file" or (source["kind"] == "coe" and "path" in source):
        content = {"file": _file_digest(source["path"])}
    elif source["kind"] == "coe":
        root = Path(__file__).resolve().parents[2]
        content = {k: source[k] for k in ("digest", "phase", "context", "batch")}
        content["builder"] = [_file_digest(str(root / f)) for f in COE_SOURCES]
    else:
        content = {k: source[k] for k in ("workload", "phase", "context", "layers")}
        content["bench"] = _file_digest(_bench_workloads().__file__)
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def load(source: dict[str, Any]):
    """The model as the driver's `LoadedModel` (in the process that compiles it): whole, as the
    user wrote it; a tensor-parallel point splits it with `rdu-shard`."""
    from compiler.frontend.model_file import LoadedModel, load_model_file

    if source["kind"] == "file" or (source["kind"] == "coe" and "path" in source):
        return load_model_file(source["path"])
    if source["kind"] == "coe":
        from compiler.coe.architecture import decoder_program
        from compiler.coe.config import load_coe

        arch = load_coe(source["coe"]).architectures.get(source["digest"])
        if arch is None:
            raise SweepError(f"{Path(source['coe']).name} has changed: architecture {source['architecture']!r} is not "
                             "in it any more; run the sweep again")
        module, inputs = decoder_program(arch, "layer", source["phase"], source["context"], source["batch"])
        return LoadedModel(Path(f"{arch.name.replace('/', '_')}-layer.py"), module, inputs)
    module = _bench_workloads()
    shape = workload_shapes()[source["workload"]]
    model, inputs = module.workload(shape, source["phase"], source["context"], source["layers"])
    return LoadedModel(Path(f"{shape.name}-{source['phase']}.py"), model, inputs)
