"""`rducc coe compile`: one task per architecture on the sweep's backends (in-process and a local
Ray instance); the programs land in the cache a later serve reads, each compiled once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main

TWO = """node = "small-node8"
batch = 2
fallback = "general"

[compile]
placer = "greedy"

[router]
architecture = "a"

[architectures.a]
hidden = 64
intermediate = 128
layers = 2
heads = 8
kv_heads = 8
vocab = 256
max_context = 64

[architectures.b]
hidden = 64
intermediate = 192
layers = 3
heads = 8
kv_heads = 8
vocab = 256
max_context = 64

[map]
general = "a-0"

[[experts]]
name = "a"
architecture = "a"
count = 10
categories = ["a-{i}"]

[[experts]]
name = "b"
architecture = "b"
count = 10
categories = ["b-{i}"]
"""


@pytest.fixture
def two_archs(tmp_path: Path) -> Path:
    path = tmp_path / "COE.toml"
    path.write_text(TWO)
    return path


def invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_compile_local_one_task_per_architecture_then_all_cached(two_archs: Path, tmp_path: Path) -> None:
    from compiler.coe.session import CoESession

    cache = tmp_path / "cache"
    result = invoke("coe", "compile", str(two_archs), "--local", "--max-length", "32", "--cache-dir", str(cache), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    rows = out["architectures"]
    assert [r["architecture"] for r in rows] == ["a", "b"] and all(r["status"] == "ok" for r in rows)
    # b: prefill layer, decode layer, head; a (the router's) also its prefill at batch 2
    assert [r["compiled"] for r in rows] == [r["programs"] for r in rows] == [5, 3]
    session = CoESession(two_archs, cache)
    needs = session.every_need(32)
    assert all(session.programs.cached(a, s) for a, s in needs)
    again = json.loads(invoke("coe", "compile", str(two_archs), "--local", "--max-length", "32",
                              "--cache-dir", str(cache), "--json").stdout)
    assert (again["compiled"], again["cached"]) == (0, 8)


def test_compile_failure_is_one_error_line_after_the_others(two_archs: Path, tmp_path: Path, monkeypatch) -> None:
    import compiler.driver as driver
    from rducc_errors import UserError

    real = driver.compile_loaded

    def no_b(loaded, options):  # architecture b's programs do not compile, at any level
        if loaded.path.name.startswith("b-"):
            raise UserError("rdu-place: 3 units do not fit")
        return real(loaded, options)

    monkeypatch.setattr(driver, "compile_loaded", no_b)
    result = invoke("coe", "compile", str(two_archs), "--local", "--max-length", "32", "--cache-dir", str(tmp_path / "c"))
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "'b'" in lines[0] and "3 units do not fit" in lines[0], result.stderr
    assert "a: 5 compiled" in result.stderr and "Traceback" not in result.output


def test_local_and_ray_exclude_each_other(two_archs: Path) -> None:
    result = invoke("coe", "compile", str(two_archs), "--local", "--ray", "127.0.0.1:1")
    assert result.exit_code == 2 and "--local and --ray exclude each other" in result.stderr


@pytest.mark.slow
def test_compile_on_local_ray_matches_in_process(two_archs: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    from compiler.coe.fleet import compile_architecture, compile_fleet, fleet_tasks
    from compiler.coe.session import CoESession
    from compiler.tasks.backends import RayBackend

    cache = tmp_path / "ray-cache"
    session = CoESession(two_archs, cache)
    needs = session.every_need(32)
    backend = RayBackend(compile_architecture, workers=2)
    try:
        result = compile_fleet(fleet_tasks(two_archs, cache, needs, session.options.placer), backend)
    finally:
        backend.close()
    assert [r["status"] for r in result.rows] == ["ok", "ok"]
    assert all(session.programs.cached(a, s) for a, s in needs)
    local = CoESession(two_archs, tmp_path / "local-cache")
    for a, s in needs:
        assert local.programs.timing(a, s).cycles == session.programs.timing(a, s).cycles


def test_workers_compile_with_the_drivers_placer(two_archs: Path, tmp_path: Path, monkeypatch) -> None:
    """The default placer reads the environment, which a Ray worker does not share: each task carries
    the driver's resolved placer, and a session given one compiles (and keys its cache) with it."""
    from compiler.coe.fleet import fleet_tasks
    from compiler.coe.session import CoESession

    monkeypatch.setenv("RDUCC_PLACER", "greedy")
    driver = CoESession(two_archs, tmp_path / "cache")
    tasks = fleet_tasks(two_archs, tmp_path / "cache", driver.every_need(32), driver.options.placer)
    assert {t["placer"] for t in tasks} == {"greedy"}
    monkeypatch.setenv("RDUCC_PLACER", "cpsat")  # the worker's own environment differs
    worker = CoESession(tasks[0]["coe_file"], Path(tasks[0]["cache_dir"]), placer=tasks[0]["placer"])
    assert worker.options.placer == "greedy"
    assert worker.programs.options == driver.programs.options
