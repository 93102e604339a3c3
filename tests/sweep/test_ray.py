"""A small sweep on a local Ray instance (2 workers), shut down afterwards."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from compiler.sweep import load_sweep, run_sweep
from compiler.sweep.worker import evaluate
from compiler.tasks.backends import LocalBackend, RayBackend, probe
from tests.sweep.conftest import TINY

ray = pytest.importorskip("ray")


def test_sweep_on_local_ray_matches_in_process(sweep_file, tmp_path: Path) -> None:
    # two points, one compile: on two workers the second is held back until the first is cached
    spec = load_sweep(sweep_file(TINY + '[axes]\n"memory.hbm.bytes_per_second" = [5.0e10]\n'
                                        'launch = ["software", "hardware"]\n'))
    start = time.perf_counter()
    backend = RayBackend(evaluate, workers=2)
    try:
        assert ray.is_initialized()
        assert ray.cluster_resources()["CPU"] == 2
        probe(ray.get_runtime_context().gcs_address)  # a live GCS passes the --ray probe
        on_ray = run_sweep(spec, tmp_path / "ray-cache", backend=backend, workers=2)
    finally:
        backend.close()
    assert not ray.is_initialized()
    assert time.perf_counter() - start < 60
    in_process = run_sweep(spec, tmp_path / "local-cache", backend=LocalBackend(evaluate))
    assert [r["status"] for r in on_ray.records] == ["ok"] * 2
    assert [r["cached"] for r in on_ray.records] == ["", "compile"]
    for a, b in zip(on_ray.records, in_process.records):
        assert (a["cycles"], a["pcus_used"], a["bound"]) == (b["cycles"], b["pcus_used"], b["bound"])
