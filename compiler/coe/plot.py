"""Latency against the number of experts, node against GPU baselines (PNG or SVG by suffix).

The sweep serves the same trace with the library cut to the first k experts (a request whose
expert falls outside takes expert index mod k), so more experts mean more switching; a platform
whose memory cannot hold k experts stops there (out of memory), as the DGX does past its host
memory in the paper.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

from compiler.coe.config import CoESpec
from compiler.coe.errors import CoEError
from compiler.coe.requests import Request
from compiler.coe.serve import Platform, Router, serve


def expert_counts(total: int) -> list[int]:
    steps = [1, 2, 5, 10, 20, 50, 100, 150, 200, 300, 500, 850, 1000]
    return sorted({k for k in steps if k < total} | {total})


def restrict(spec: CoESpec, k: int) -> CoESpec:
    """The CoE with only its first k experts; categories of the others map onto them mod k."""
    from dataclasses import replace

    index = {e.name: i for i, e in enumerate(spec.experts)}
    mapping = {c: spec.experts[index[n] % k].name for c, n in spec.category_map.items()}
    return replace(spec, experts=spec.experts[:k], category_map=mapping)


def latency_by_experts(spec: CoESpec, platforms: Sequence[Platform], requests: Sequence[Request],
                       router: Router | None = None, counts: Sequence[int] | None = None,
                       replicate: Callable[[CoESpec, int], CoESpec] = restrict) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {p.name: [] for p in platforms}
    for k in counts or expert_counts(len(spec.experts)):
        sub = replicate(spec, k)
        for p in platforms:
            try:
                s = serve(sub, p, requests, router, record_events=False).summary()
                out[p.name].append({"experts": k, "mean_latency_seconds": s["latency_seconds"]["mean"],
                                    "hbm_misses": s["hbm_misses"]})
            except CoEError:
                out[p.name].append({"experts": k, "mean_latency_seconds": None, "out_of_memory": True})
    return out


def draw(curves: dict[str, list[dict[str, Any]]], path: Path) -> None:
    try:
        import matplotlib
    except ImportError:
        raise CoEError("plots need matplotlib: pip install 'rducc[plots]' (or pip install matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, points in curves.items():
        ok = [p for p in points if p["mean_latency_seconds"] is not None]
        line = ax.plot([p["experts"] for p in ok], [p["mean_latency_seconds"] for p in ok], marker="o", label=name)
        oom = [p for p in points if p["mean_latency_seconds"] is None]
        if oom and ok:
            ax.axvline(oom[0]["experts"], color=line[0].get_color(), linestyle=":", alpha=0.6)
            ax.annotate(f"{name}: out of memory", (oom[0]["experts"], ok[-1]["mean_latency_seconds"]), fontsize=8)
    ax.set_xscale("log")
    ax.set_xlabel("experts in the library")
    ax.set_ylabel("mean request latency (s)")
    ax.set_title("CoE serving: latency against the number of experts")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
