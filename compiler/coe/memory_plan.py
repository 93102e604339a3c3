"""Where a CoE lives on a node: every expert in DDR across the sockets, the router's weights and
the KV caches resident in HBM, the rest of HBM an expert cache, SRAM for the running kernel.

Tensor parallelism splits every model evenly over the sockets (TP shards), so each socket holds
1/TP of every expert in its DDR and of every resident model in its HBM; the plan is given for the
node and per socket. KV caches are reserved for a whole router batch at the largest expert's full
context (the experts run one at a time, so one batch's caches suffice). A library larger than the
node's DDR, or an expert larger than the HBM left for the cache, fails with the figures.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from chip_model.node import NodeSpec
from compiler.coe.config import CoESpec
from compiler.coe.errors import CoEError


def gb(n: float) -> str:
    return f"{n / 1e12:.2f} TB" if n >= 1e12 else f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.2f} MB"


@dataclass
class MemoryPlan:
    node: NodeSpec
    tp: int
    experts: int
    architectures: dict[str, dict[str, Any]]  # name -> {experts, bytes_each, parameters}
    ddr_capacity: int
    ddr_used: int
    hbm_capacity: int
    router_bytes: int
    kv_bytes: int
    expert_cache_bytes: int
    largest_expert_bytes: int
    sram_per_socket: int
    policy: str
    batch: int

    @property
    def experts_fitting_ddr(self) -> int:
        """How many experts of the library's average size the node's DDR holds."""
        mean = self.ddr_used / max(1, self.experts)
        return int(self.ddr_capacity // mean) if mean else 0

    @property
    def experts_fitting_hbm_cache(self) -> int:
        mean = self.ddr_used / max(1, self.experts)
        return int(self.expert_cache_bytes // mean) if mean else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "node": self.node.name, "sockets": self.node.sockets, "tp": self.tp, "experts": self.experts,
            "architectures": self.architectures, "cache_policy": self.policy, "router_batch": self.batch,
            "ddr": {"capacity_bytes": self.ddr_capacity, "experts_bytes": self.ddr_used,
                    "per_socket_bytes": self.ddr_used // self.node.sockets,
                    "experts_that_fit": self.experts_fitting_ddr},
            "hbm": {"capacity_bytes": self.hbm_capacity, "router_bytes": self.router_bytes, "kv_cache_bytes": self.kv_bytes,
                    "expert_cache_bytes": self.expert_cache_bytes,
                    "experts_resident_at_once": self.experts_fitting_hbm_cache},
            "sram": {"per_socket_bytes": self.sram_per_socket, "holds": "the running kernel"},
        }

    def to_text(self) -> str:
        s = self.node.sockets
        lines = [f"CoE on {self.node.name}: {self.experts} experts, decoders TP{self.tp} over {s} sockets, "
                 f"router batch {self.batch}, HBM cache policy {self.policy}"]
        for name, a in self.architectures.items():
            params = a["parameters"]
            count = f"{params / 1e9:.2f} B" if params >= 1e8 else f"{params / 1e6:.2f} M"
            lines.append(f"  {name:24} {a['experts']:4} expert{'s' if a['experts'] != 1 else ' '} x {gb(a['bytes_each'])} "
                         f"({count} parameters)")
        lines += [
            f"DDR   {gb(self.ddr_used):>10} of {gb(self.ddr_capacity)} ({gb(self.ddr_used / s)} per socket): all experts; "
            f"room for {self.experts_fitting_ddr} experts of this mix",
            f"HBM   {gb(self.hbm_capacity):>10}: router {gb(self.router_bytes)}, KV caches {gb(self.kv_bytes)}, "
            f"expert cache {gb(self.expert_cache_bytes)} (about {self.experts_fitting_hbm_cache} experts at once)",
            f"SRAM  {gb(self.sram_per_socket):>10} per socket: the running kernel",
        ]
        return "\n".join(lines)


def plan_memory(spec: CoESpec, node: NodeSpec, tp: int) -> MemoryPlan:
    counts = Counter(e.architecture.digest() for e in spec.experts)
    archs: dict[str, dict[str, Any]] = {}
    for e in spec.experts:
        a = e.architecture
        archs.setdefault(a.name, {"experts": counts[a.digest()], "bytes_each": a.weight_bytes, "parameters": a.parameters})
    ddr_used = sum(e.architecture.weight_bytes for e in spec.experts)
    ddr = node.capacity_bytes("ddr")
    largest = max(spec.experts, key=lambda e: e.architecture.weight_bytes)
    if ddr_used > ddr:
        size = largest.architecture.weight_bytes
        raise CoEError(f"the library does not fit {node.name}: {len(spec.experts)} experts need {gb(ddr_used)} of DDR, "
                       f"the node has {gb(ddr)} ({node.sockets} x {gb(ddr / node.sockets)}): "
                       f"it holds {int(ddr // (ddr_used / len(spec.experts)))} experts of this mix, "
                       f"{int(ddr // size)} of the largest ({largest.name}, {gb(size)})")
    hbm = node.capacity_bytes("hbm")
    router = spec.router.architecture.weight_bytes
    kv = spec.batch * max(e.architecture.kv_bytes_per_token * e.architecture.max_context for e in spec.experts)
    cache = hbm - router - kv
    if cache < largest.architecture.weight_bytes:
        raise CoEError(f"the largest expert does not fit {node.name}'s HBM: {largest.name} needs {gb(largest.architecture.weight_bytes)}, "
                       f"HBM {gb(hbm)} less the router ({gb(router)}) and KV caches ({gb(kv)}) leaves {gb(max(0, cache))}")
    return MemoryPlan(node, tp, len(spec.experts), archs, ddr, ddr_used, hbm, router, kv, cache,
                      largest.architecture.weight_bytes, node.chip.tier("sram").capacity_bytes, spec.cache_policy, spec.batch)
