"""Pictures of a sweep (matplotlib, optional): each metric against each axis, and the Pareto front
of time against cost, as PNG files in one folder, one series per model.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from compiler.sweep.errors import SweepError

NUMERIC_METRICS = ("cycles", "seconds", "tokens_per_second", "hbm_bandwidth_fraction", "pcus_used", "pmus_used",
                   "kernels", "over_roofline", "compile_seconds")


def require_matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise SweepError("plots need matplotlib: pip install 'rducc[plots]' (or pip install matplotlib)") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def _numeric(values: list[Any]) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def draw(records: list[dict[str, Any]], axes: list[str], metrics: list[str], time_metric: str, folder: Path) -> list[Path]:
    """Write the PNGs; returns their paths, in a deterministic order."""
    plt = require_matplotlib()
    folder.mkdir(parents=True, exist_ok=True)
    ok = [r for r in records if r["status"] == "ok"]
    models = list(dict.fromkeys(r["model"] for r in records))
    written = []
    for metric in [m for m in metrics if m in NUMERIC_METRICS]:
        for axis in axes:
            fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
            xs_all = [r[axis] for r in ok]
            categorical = not _numeric(xs_all)
            labels = sorted({str(x) for x in xs_all}) if categorical else []
            for model in models:
                pts = [(r[axis], r[metric]) for r in ok if r["model"] == model and r[metric] is not None]
                if not pts:
                    continue
                xs = [labels.index(str(x)) if categorical else x for x, _ in pts]
                ax.scatter(xs, [y for _, y in pts], label=model, s=24, alpha=0.8)
            if categorical:
                ax.set_xticks(range(len(labels)), labels)
            elif xs_all and min(xs_all) > 0 and max(xs_all) / min(xs_all) > 20:
                ax.set_xscale("log")
            elif xs_all and all(isinstance(x, int) for x in xs_all):  # opt_level 0/1: no tick at 0.2
                ax.set_xticks(sorted(set(xs_all)))
            ax.set_xlabel(axis)
            ax.set_ylabel(metric)
            ax.set_title(f"{metric} vs {axis}")
            written.append(_save(fig, ax, folder / f"{_slug(metric)}_vs_{_slug(axis)}.png", legend=len(models) > 1))
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    for model in models:
        pts = sorted((r["cost"], r["time"]) for r in ok if r["model"] == model and r["time"] is not None)
        if not pts:
            continue
        front = sorted((r["cost"], r["time"]) for r in ok if r["model"] == model and r["pareto"])
        dots = ax.scatter([c for c, _ in pts], [t for _, t in pts], s=18, alpha=0.5, label=model)
        ax.step([c for c, _ in front], [t for _, t in front], where="post", color=dots.get_facecolor()[0], linewidth=1.5)
    ax.set_xlabel("cost")
    ax.set_ylabel(time_metric)
    ax.set_title(f"Pareto front: {time_metric} vs cost (line: the front)")
    written.append(_save(fig, ax, folder / "pareto.png", legend=len(models) > 1))
    return written


def _save(fig, ax, path: Path, legend: bool) -> Path:
    """Finish a plot the same way for every picture: grid, legend when several models, PNG."""
    import matplotlib.pyplot as plt

    ax.grid(alpha=0.3)
    if legend:
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
