"""Latency against the number of experts, node against GPU baselines (PNG or SVG by suffix).

The sweep serves the same trace with libraries of k experts (the CoE's own, cycled past its size),
requests spread uniformly over them, so more experts mean more switching; a platform whose memory
cannot hold k experts stops there (out of memory), as the DGX does past its host memory in the paper.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from compiler.coe.config import CoESpec
from compiler.coe.errors import CoEError
from compiler.coe.requests import Request
from compiler.coe.serve import Platform, serve, uniform_router


def expert_counts(library: int) -> list[int]:
    """From one expert to past the library's size, up to 1000 (beyond the node's DDR for 7B experts)."""
    steps = [1, 2, 5, 10, 20, 50, 100, 150, 200, 300, 500, 850, 1000]
    return sorted(set(steps) | {library})


def scaled(spec: CoESpec, k: int) -> CoESpec:
    """A library of k experts used uniformly: the CoE's experts, cycled (same architectures) when
    k exceeds them; one category per expert."""
    from dataclasses import replace

    from compiler.coe.config import Expert

    n = len(spec.experts)
    experts = [spec.experts[j] if j < n else Expert(f"{spec.experts[j % n].name}~{j // n}", spec.experts[j % n].architecture,
                                                      spec.experts[j % n].source) for j in range(k)]
    categories = [f"expert-{j}" for j in range(k)]
    return replace(spec, experts=experts, categories=categories, fallback=None,
                   category_map={c: e.name for c, e in zip(categories, experts)})


def latency_by_experts(spec: CoESpec, platforms: Sequence[Platform], requests: Sequence[Request],
                       counts: Sequence[int] | None = None, seed: int = 0) -> dict[str, list[dict[str, Any]]]:
    """Mean latency of the trace on each platform with libraries of k experts, requests spread
    uniformly over them; a platform that cannot hold k experts is out of memory from there on."""
    from dataclasses import replace

    out: dict[str, list[dict[str, Any]]] = {p.name: [] for p in platforms}
    unlabelled = [replace(r, category=None, prompt=None) for r in requests]
    for k in counts or expert_counts(len(spec.experts)):
        sub = scaled(spec, k)
        for p in platforms:
            if out[p.name] and out[p.name][-1].get("out_of_memory"):
                out[p.name].append({"experts": k, "mean_latency_seconds": None, "out_of_memory": True})
                continue
            try:
                s = serve(sub, p, unlabelled, uniform_router(sub.categories, seed), record_events=False).summary()
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
