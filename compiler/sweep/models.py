"""What a sweep compiles: a MODEL.py file, or one of the bench workloads (a Llama-style decoder
by shape name, phase, context and layer count, shapes only).

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
MODEL_KEYS = {"path", "workload", "phase", "context", "layers", "tokens", "name"}


def parse_model(entry: Any, folder: Path, where: str) -> dict[str, Any]:
    """One `[[model]]` table: `path = "MODEL.py"` (relative to the sweep file) or
    `workload = "llama2-7b"` with `phase`, `context`, `layers`; `tokens` per forward is optional
    for a MODEL.py (it gives the tokens_per_second metric)."""
    if not isinstance(entry, dict):
        raise SweepError(f"{where}: each [[model]] must be a table")
    unknown = sorted(set(entry) - MODEL_KEYS)
    if unknown:
        raise SweepError(f"{where}: unknown key(s) {', '.join(unknown)}; a model has {', '.join(sorted(MODEL_KEYS))}")
    if ("path" in entry) == ("workload" in entry):
        raise SweepError(f"{where}: a [[model]] needs exactly one of `path` (a MODEL.py) or `workload` (a bench workload)")
    tokens = entry.get("tokens")
    if tokens is not None and (isinstance(tokens, bool) or not isinstance(tokens, int) or tokens <= 0):
        raise SweepError(f"{where}: tokens must be a positive integer, got {tokens!r}")
    if "path" in entry:
        path = Path(entry["path"])
        path = path if path.is_absolute() else folder / path
        if not path.exists():
            raise SweepError(f"{where}: model file {entry['path']} does not exist")
        return {"kind": "file", "path": str(path.resolve()), "name": entry.get("name", path.stem), "tokens": tokens}
    shapes = workload_shapes()
    name = entry["workload"]
    if name not in shapes:
        raise SweepError(f"{where}: unknown workload {name!r}: choose one of {', '.join(sorted(shapes))}")
    phase = entry.get("phase", "decode")
    if phase not in PHASES:
        raise SweepError(f"{where}: phase must be one of {', '.join(PHASES)}, got {phase!r}")
    context, layers = entry.get("context", 4096), entry.get("layers", 1)
    for key, value in (("context", context), ("layers", layers)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise SweepError(f"{where}: {key} must be a positive integer, got {value!r}")
    default_name = f"{name} {phase} {context // 1024}k x{layers}" if context % 1024 == 0 else f"{name} {phase} {context} x{layers}"
    return {"kind": "workload", "workload": name, "phase": phase, "context": context, "layers": layers,
            "name": entry.get("name", default_name), "tokens": tokens or (context if phase == "prefill" else 1)}


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
    source that builds it (tensor parallelism is a compile option, `tp`, not part of the model)."""
    if source["kind"] == "file":
        content = {"file": _file_digest(source["path"])}
    else:
        content = {k: source[k] for k in ("workload", "phase", "context", "layers")}
        content["bench"] = _file_digest(_bench_workloads().__file__)
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def load(source: dict[str, Any]):
    """The model as the driver's `LoadedModel` (in the process that compiles it): whole, as the
    user wrote it; a tensor-parallel point splits it with `rdu-shard`."""
    from compiler.frontend.model_file import LoadedModel, load_model_file

    if source["kind"] == "file":
        return load_model_file(source["path"])
    module = _bench_workloads()
    shape = workload_shapes()[source["workload"]]
    model, inputs = module.workload(shape, source["phase"], source["context"], source["layers"])
    return LoadedModel(Path(f"{shape.name}-{source['phase']}.py"), model, inputs)
