"""The results table: one row per point (model, axis values, status, metrics, cost, on the Pareto
front or not), written as CSV (stdlib) or Parquet (when pyarrow is installed), atomically.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from compiler.sweep.errors import SweepError
from compiler.sweep.metrics import cost
from compiler.sweep.points import Point
from compiler.sweep.spec import SweepSpec

FORMATS = (".csv", ".parquet")


def check_output(path: Path) -> None:
    """Before any work: the suffix names a format this installation can write."""
    if path.suffix not in FORMATS:
        raise SweepError(f"cannot write {path}: the results file must end in {' or '.join(FORMATS)}")
    if path.suffix == ".parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise SweepError(f"cannot write {path}: Parquet needs pyarrow (pip install pyarrow), or write .csv") from None


def table(spec: SweepSpec, points: list[Point], rows: list[dict[str, Any]], specs: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat records, in point order; `specs` maps a point's target digest to its (ChipSpec,
    NodeSpec or None), for the cost."""
    records = []
    for point, row in zip(points, rows):
        metrics = row.get("metrics", {})
        record: dict[str, Any] = {"point": point.index, "model": point.model["name"], **point.values,
                                  "status": row["status"], "error": row["error"], "cached": row["cached"]}
        record |= {m: metrics.get(m) for m in spec.metrics}
        ok = row["status"] == "ok"
        chip, node = specs[point.target_digest]
        record["cost"] = cost(spec.cost, chip, metrics, node) if ok else None
        record["time"] = metrics.get(spec.time_metric) if ok else None
        records.append(record)
    mark_pareto(records)
    return records


def mark_pareto(records: list[dict[str, Any]]) -> None:
    """`pareto` is true for a point no other point of the same model beats on both time and cost."""
    for r in records:
        r["pareto"] = False
    by_model: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        if isinstance(r["time"], (int, float)) and r["cost"] is not None:
            by_model.setdefault(r["model"], []).append(r)
    for group in by_model.values():
        best = math.inf
        for r in sorted(group, key=lambda r: (r["cost"], r["time"])):
            if r["time"] < best:
                r["pareto"] = True
                best = r["time"]


def to_csv(records: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    columns = list(records[0]) if records else []
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow({k: "" if v is None else v for k, v in r.items()})
    return out.getvalue().encode()


def to_parquet(records: list[dict[str, Any]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(records), sink)
    return sink.getvalue()


def encode(records: list[dict[str, Any]], path: Path) -> bytes:
    return to_parquet(records) if path.suffix == ".parquet" else to_csv(records)


def to_text(records: list[dict[str, Any]], axes: list[str]) -> str:
    """A terminal table: model, axes, time, bound, cost, front; failed points with their error."""
    head = ["point", "model", *axes, "status", "time", "bound", "cost", "pareto"]
    cells = [[_fmt(r.get(c)) if c != "status" or r["status"] == "ok" else f"failed: {r['error']}" for c in head] for r in records]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(head)]
    widths = [min(w, 60) for w in widths]
    lines = ["  ".join(h.ljust(w) for h, w in zip(head, widths))]
    lines += ["  ".join(c[:w].ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "*" if v else ""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
