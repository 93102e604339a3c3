"""The GPU baseline: a DGX (8 GPUs, TP8) serving the same CoE on the same trace.

The paper's GPU side of Table V is itself a model (published latencies plus switching from DGX
specifications); this is ours, from the figures in compiler/coe/baselines/*.toml, each with its
source or marked `assumption`. Experts stay in GPU HBM while they fit (the HBM expert cache, LRU
like the node's) and in host memory beyond; a switch copies host->GPU at the DGX's copy
bandwidth; a library larger than HBM plus host memory does not fit (out of memory).

Expert time, TP8 over the GPUs: a step streams each GPU's share of the weights (and, in decode,
of the KV cache) at `bandwidth_efficiency` of peak HBM bandwidth, or computes its share of the
FLOPs at `compute_efficiency` of peak, whichever is longer, plus `layer_overhead_seconds` per layer
(the all-reduces and kernel launches that do not shrink with TP).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.coe.architecture import Architecture, DecoderArchitecture
from compiler.coe.errors import CoEError

BASELINE_DIR = Path(__file__).parent / "baselines"
FIGURES = ("gpus", "hbm_bytes_per_gpu", "hbm_bytes_per_second", "peak_flops", "host_memory_bytes",
           "host_to_gpu_bytes_per_second", "bandwidth_efficiency", "compute_efficiency", "layer_overhead_seconds")


@dataclass(frozen=True)
class GPUSystem:
    name: str
    description: str
    gpus: int
    hbm_bytes_per_gpu: float
    hbm_bytes_per_second: float
    peak_flops: float
    host_memory_bytes: float
    host_to_gpu_bytes_per_second: float
    bandwidth_efficiency: float
    compute_efficiency: float
    layer_overhead_seconds: float
    sources: tuple[tuple[str, str], ...]

    @property
    def hbm_bytes(self) -> float:
        return self.gpus * self.hbm_bytes_per_gpu

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description,
                **{f: getattr(self, f) for f in FIGURES}, "sources": dict(self.sources)}


def available_baselines() -> list[str]:
    return sorted(p.stem for p in BASELINE_DIR.glob("*.toml"))


def load_baseline(name: str) -> GPUSystem:
    path = Path(name) if name.endswith(".toml") else BASELINE_DIR / f"{name}.toml"
    if not path.exists():
        raise CoEError(f"unknown GPU baseline {name!r}: choose one of {', '.join(available_baselines())} or give a .toml path")
    raw = tomllib.loads(path.read_text())
    sources = raw.get("sources", {})
    for f in FIGURES:
        if not isinstance(raw.get(f), (int, float)) or raw[f] <= 0:
            raise CoEError(f"{path.name}: {f} must be a positive number")
        if not sources.get(f):
            raise CoEError(f"{path.name}: figure {f} has no source (write one, or `assumption: why`, in [sources])")
    return GPUSystem(raw.get("name", path.stem), raw.get("description", ""), int(raw["gpus"]),
                     *(float(raw[f]) for f in FIGURES[1:]), tuple(sorted(sources.items())))


def _layers(arch: Architecture) -> int:
    return arch.layers if isinstance(arch, DecoderArchitecture) else 1


def _flops_per_token(arch: Architecture, context: int) -> float:
    """2 FLOPs per weight per token, plus attention's 4 x hidden per past token per layer."""
    params = arch.parameters
    if isinstance(arch, DecoderArchitecture):
        params -= arch.vocab * arch.hidden  # the embedding is a lookup
        return 2 * params + 4 * arch.layers * arch.heads * arch.head_dim * context
    return 2 * params


class GPUTimer:
    """An `ExpertTimer` for a DGX running every model TP over all its GPUs."""

    def __init__(self, system: GPUSystem):
        self.system = system

    def _step(self, arch: Architecture, flops: float, bytes_moved: float) -> float:
        s = self.system
        memory = bytes_moved / s.gpus / (s.hbm_bytes_per_second * s.bandwidth_efficiency)
        compute = flops / s.gpus / (s.peak_flops * s.compute_efficiency)
        return max(memory, compute) + _layers(arch) * s.layer_overhead_seconds

    def prefill_seconds(self, arch: Architecture, tokens: int, batch: int) -> float:
        flops = batch * sum(_flops_per_token(arch, c) for c in (tokens // 2,)) * tokens
        return self._step(arch, flops, arch.weight_bytes + batch * tokens * arch.kv_bytes_per_token)

    def decode_step_seconds(self, arch: Architecture, context: int, batch: int) -> float:
        return self._step(arch, batch * _flops_per_token(arch, context),
                          arch.weight_bytes + batch * context * arch.kv_bytes_per_token)


def gpu_platform(system: GPUSystem, router_bytes: int, kv_bytes: int):
    """The DGX as a serving platform: HBM less the router and KV caches caches experts; HBM plus
    host memory holds the library."""
    from compiler.coe.serve import Platform

    usable = system.hbm_bytes - router_bytes - kv_bytes
    return Platform(system.name, GPUTimer(system), int(usable), system.host_to_gpu_bytes_per_second,
                    int(usable + system.host_memory_bytes))
