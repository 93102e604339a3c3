"""Running sweeps in-process: metrics, failures that do not stop the sweep, the shared compile, the
warm cache and resuming an interrupted sweep."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.sweep import expand, load_sweep, run_sweep
from compiler.sweep.worker import evaluate
from compiler.sweep.results import mark_pareto, to_csv
from compiler.tasks.backends import LocalBackend
from tests.sweep.conftest import TINY


class CountingBackend(LocalBackend):
    """In-process, counting the points actually submitted; optionally interrupted after some."""

    def __init__(self, interrupt_after: int | None = None):
        super().__init__(evaluate)
        self.submitted: list[int] = []
        self.interrupt_after = interrupt_after

    def submit(self, task):
        if self.interrupt_after is not None and len(self.submitted) == self.interrupt_after:
            raise KeyboardInterrupt
        self.submitted.append(task["index"])
        super().submit(task)


AXES = '[axes]\n"memory.hbm.bytes_per_second" = [5.0e10, 1.0e11]\nlaunch = ["software", "hardware"]\n'


def test_a_sweep_runs_and_shares_compiles(sweep_file, tmp_path: Path) -> None:
    spec = load_sweep(sweep_file(TINY + AXES))
    backend = CountingBackend()
    outcome = run_sweep(spec, tmp_path / "cache", backend=backend)
    records = outcome.records
    assert [r["status"] for r in records] == ["ok"] * 4 and backend.submitted == [0, 1, 2, 3]
    # launch is a simulation option: the second point of each chip reuses the first one's compile
    assert [r["cached"] for r in records] == ["", "compile", "", "compile"]
    assert len(list((tmp_path / "cache" / "compiles").rglob("*.rbit"))) == 2
    for r in records:
        assert r["cycles"] > 0 and r["seconds"] == pytest.approx(r["cycles"] / 1e9)
        assert r["pcus_used"] >= 1 and r["kernels"] >= 1 and r["bound"]
        assert 0 < r["hbm_bandwidth_fraction"] <= 1
    soft, hard = records[0], records[1]
    assert hard["cycles"] < soft["cycles"]  # hardware launch is cheaper than software launch
    assert records[0]["compile_seconds"] > 0
    assert any(r["pareto"] for r in records)


def test_failed_point_records_its_error_and_the_sweep_goes_on(sweep_file, tmp_path: Path) -> None:
    spec = load_sweep(sweep_file(TINY + '[axes]\n"memory.hbm.capacity_bytes" = [64]\n'
                                          '"memory.ddr.capacity_bytes" = [64, 4294967296]\n'))
    outcome = run_sweep(spec, tmp_path / "cache", backend=LocalBackend(evaluate))
    failed, ok = outcome.records
    assert failed["status"] == "failed" and "needs 256 bytes" in failed["error"] and "\n" not in failed["error"]
    assert failed["cycles"] is None and failed["pareto"] is False
    assert ok["status"] == "ok" and ok["cycles"] > 0
    assert outcome.run.counts == {"done": 2, "failed": 1, "cached": 0}
    assert b"needs 256 bytes" in to_csv(outcome.records)


def test_warm_rerun_and_extended_sweep_do_only_new_work(sweep_file, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    run_sweep(load_sweep(sweep_file(TINY + '[axes]\nopt_level = [1]\n')), cache, backend=LocalBackend(evaluate))
    again = CountingBackend()
    warm = run_sweep(load_sweep(sweep_file(TINY + '[axes]\nopt_level = [1]\n')), cache, backend=again)
    assert again.submitted == [] and warm.records[0]["cached"] == "result"
    extended = CountingBackend()
    run_sweep(load_sweep(sweep_file(TINY + '[axes]\nopt_level = [1, 0]\n')), cache, backend=extended)
    assert extended.submitted == [1]


def test_an_interrupted_sweep_resumes(sweep_file, tmp_path: Path) -> None:
    spec = load_sweep(sweep_file(TINY + '[axes]\nopt_level = [1]\nseed = [0, 1, 2]\n'))
    with pytest.raises(KeyboardInterrupt):
        run_sweep(spec, tmp_path / "cache", backend=CountingBackend(interrupt_after=1))
    resumed = CountingBackend()
    outcome = run_sweep(spec, tmp_path / "cache", backend=resumed)
    assert resumed.submitted == [1, 2]
    assert [r["cached"] for r in outcome.records] == ["result", "", ""]
    assert all(r["status"] == "ok" for r in outcome.records)


def test_pareto_front_per_model() -> None:
    rows = [{"model": "a", "time": t, "cost": c} for t, c in [(5, 1), (3, 2), (4, 3), (1, 9), (3, 2.5)]]
    rows.append({"model": "b", "time": 10, "cost": 10})
    rows.append({"model": "a", "time": None, "cost": None})
    mark_pareto(rows)
    assert [r["pareto"] for r in rows] == [True, True, False, True, False, True, False]


def test_expand_is_what_runs(sweep_file, tmp_path: Path) -> None:
    spec = load_sweep(sweep_file(TINY + AXES))
    assert [p.point_key for p in expand(spec)] == [p.point_key for p in run_sweep(
        spec, tmp_path / "c", backend=LocalBackend(evaluate)).points]


def test_unit_counts_are_an_axis(sweep_file, tmp_path: Path) -> None:
    """`grid.columns` resizes the floor plan: the model compiles and runs on each chip, and the
    cost proxy sees the unit count."""
    text = TINY + '[axes]\n"grid.columns" = [6, 10, 14]\n[pareto]\ntime = "cycles"\ncost = { pcu_count = 1.0 }\n'
    records = run_sweep(load_sweep(sweep_file(text)), tmp_path / "cache", backend=LocalBackend(evaluate)).records
    assert [r["status"] for r in records] == ["ok"] * 3, [r.get("error") for r in records]
    assert [r["cost"] for r in records] == [12.0, 24.0, 36.0]  # (columns - 2) x 6 rows, half PCUs
