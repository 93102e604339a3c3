"""What a sweep compiles: a MODEL.py file, one of the bench workloads (a Llama-style decoder
by shape name, phase, context and layer count, shapes only), a Hugging Face config (`hf_config =
"config.json"`: one decoder layer of that shape), or the expert architectures of a Composition of
Experts (`coe = "COE.toml"`: one model per distinct architecture). A decoder from an HF config or a
CoE is built as `rducc coe` builds it (compiler/coe/architecture.py: `DecoderArchitecture`,
`decoder_program`), shapes only.

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
MODEL_KEYS = {"path", "workload", "hf_config", "coe", "phase", "context", "layers", "batch", "tokens", "name"}
SOURCES = ("path", "workload", "hf_config", "coe")
DECODER_SOURCES = ("compiler/coe/architecture.py", "compiler/coe/decoder_model.py")
"""What builds a decoder architecture's program (HF config, CoE): part of its fingerprint."""


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
        raise SweepError(f"{where}: a [[model]] needs exactly one of `path` (a MODEL.py), `workload` (a bench workload), "
                         "`hf_config` (a Hugging Face config.json) or `coe` (a CoE file)")
    if "batch" in entry and "hf_config" not in entry:
        raise SweepError(f"{where}: `batch` is for an hf_config model (a CoE's batch is its own; a MODEL.py's is in its inputs)")
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
    if "coe" in entry or "hf_config" in entry:
        if "layers" in entry or tokens is not None:
            raise SweepError(f"{where}: a decoder from an HF config or a CoE compiles one layer (as `rducc coe` does) and "
                             "its tokens follow from its batch: drop `layers` and `tokens`")
        if "hf_config" in entry:
            return [_hf_model(entry, folder, where, phase, context)]
        return _coe_models(entry, folder, where, phase, context)
    shapes = workload_shapes()
    name = entry["workload"]
    if name not in shapes:
        raise SweepError(f"{where}: unknown workload {name!r}: choose one of {', '.join(sorted(shapes))}")
    default_name = f"{name} {phase} {context // 1024}k x{layers}" if context % 1024 == 0 else f"{name} {phase} {context} x{layers}"
    return [{"kind": "workload", "workload": name, "phase": phase, "context": context, "layers": layers,
             "name": entry.get("name", default_name), "tokens": tokens or (context if phase == "prefill" else 1)}]


def _decoder(arch: Any, name: str, phase: str, context: int, batch: int) -> dict[str, Any]:
    """A decoder architecture's model as plain data: its fields travel to the worker."""
    from dataclasses import asdict

    return {"kind": "decoder", "architecture": asdict(arch), "phase": phase, "context": context, "batch": batch,
            "name": name, "tokens": batch * (context if phase == "prefill" else 1)}


def _hf_model(entry: dict[str, Any], folder: Path, where: str, phase: str, context: int) -> dict[str, Any]:
    from compiler.coe.architecture import DecoderArchitecture
    from rducc_errors import UserError

    path = Path(entry["hf_config"])
    path = path if path.is_absolute() else folder / path
    batch = entry.get("batch", 1)
    if isinstance(batch, bool) or not isinstance(batch, int) or batch <= 0:
        raise SweepError(f"{where}: batch must be a positive integer, got {batch!r}")
    try:
        config = json.loads(path.read_text())
        arch = DecoderArchitecture.from_hf_config(path.stem, config, path.name)
    except FileNotFoundError:
        raise SweepError(f"{where}: HF config {entry['hf_config']} does not exist") from None
    except (OSError, ValueError) as exc:
        raise SweepError(f"{where}: cannot read HF config {entry['hf_config']}: {' '.join(str(exc).split())}") from None
    except UserError as exc:
        raise SweepError(f"{where}: {' '.join(str(exc).split())}") from None
    return _decoder(arch, entry.get("name", f"{path.stem} {phase} {context}"), phase, context, batch)


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
    for arch in coe.architectures.values():
        name = f"{prefix}/{arch.name}"
        if isinstance(arch, ModelFileArchitecture):
            models.append({"kind": "file", "path": str(arch.path), "name": name, "tokens": None})
        else:
            models.append(_decoder(arch, name, phase, context, coe.batch))
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
    """What decides the model's graph: the file's content; the workload's parameters and the
    source that builds it; a decoder's architecture (not its name), phase, context and batch and
    the source that builds it (tensor parallelism is a compile option, `tp`, not part of the model)."""
    if source["kind"] == "file":
        content = {"file": _file_digest(source["path"])}
    elif source["kind"] == "decoder":
        root = Path(__file__).resolve().parents[2]
        content = {k: source[k] for k in ("phase", "context", "batch")}
        content["architecture"] = {k: v for k, v in source["architecture"].items() if k != "name"}
        content["builder"] = [_file_digest(str(root / f)) for f in DECODER_SOURCES]
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
    if source["kind"] == "decoder":
        from compiler.coe.architecture import DecoderArchitecture, decoder_program

        arch = DecoderArchitecture(**source["architecture"])
        module, inputs = decoder_program(arch, "layer", source["phase"], source["context"], source["batch"])
        return LoadedModel(Path(f"{arch.name.replace('/', '_')}-layer.py"), module, inputs)
    module = _bench_workloads()
    shape = workload_shapes()[source["workload"]]
    model, inputs = module.workload(shape, source["phase"], source["context"], source["layers"])
    return LoadedModel(Path(f"{shape.name}-{source['phase']}.py"), model, inputs)
