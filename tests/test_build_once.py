"""tests/conftest.py's `build_once`, which shares a session fixture's value between xdist workers:
one build, every caller the same value, and a failed build leaves nothing behind."""

from __future__ import annotations

import threading
import time

import pytest

from tests.conftest import build_once


def test_concurrent_callers_build_once_and_all_get_the_value(tmp_path):
    builds = []

    def build(folder):
        builds.append(folder)
        time.sleep(0.2)  # hold the lock while the other callers arrive
        (folder / "made").write_text("x")
        return {"folder": folder, "n": 7}

    values = []
    callers = [threading.Thread(target=lambda: values.append(build_once(tmp_path, "thing", build))) for _ in range(4)]
    for c in callers:
        c.start()
    for c in callers:
        c.join()
    assert builds == [tmp_path / "thing"] and (tmp_path / "thing" / "made").read_text() == "x"
    assert values == [{"folder": tmp_path / "thing", "n": 7}] * 4


def test_a_build_that_raised_is_built_again(tmp_path):
    def broken(folder):
        (folder / "half").write_text("")
        raise RuntimeError("compile failed")

    with pytest.raises(RuntimeError, match="compile failed"):
        build_once(tmp_path, "thing", broken)
    assert not (tmp_path / "thing.pickle").exists()
    assert build_once(tmp_path, "thing", lambda folder: sorted(p.name for p in folder.iterdir())) == []


def test_once_per_run_shares_through_the_lock_only_on_an_xdist_worker(once_per_run, pytestconfig, tmp_path_factory,
                                                                      monkeypatch):
    """A worker (its config has `workerinput`, as pytest-xdist documents) builds into the folder the
    run's workers share, under the lock; any other run builds into a fresh folder of its own, even
    with `PYTEST_XDIST_WORKER` in its environment (inherited from a worker, or set by hand)."""
    import uuid

    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw9")
    name = f"probe-{uuid.uuid4().hex}"
    folder = once_per_run(name, lambda folder: folder)
    base = tmp_path_factory.getbasetemp()
    if hasattr(pytestconfig, "workerinput"):
        assert folder == base.parent / name and (base.parent / f"{name}.pickle").exists()
    else:
        assert folder.parent == base and not (base.parent / f"{name}.pickle").exists()
