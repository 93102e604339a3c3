"""Suite-wide set-up.

The compiler's default placer is `cycles` (placement re-placed for simulated cycles: 1.5-2.6x
the compile time). The suite compiles hundreds of models whose tests are not about
placement, so it takes the fast path, wirelength-only placement (`RDUCC_PLACER=cpsat`, read by
`compiler.driver.default_placer`; subprocesses inherit it). The cycle-driven placer has its own
tests (tests/backend/test_placement_cycles.py), which ask for it explicitly and check the
default without the variable. `RDUCC_PLACER=cycles python -m pytest` runs the suite on the
default instead.
"""

import os

os.environ.setdefault("RDUCC_PLACER", "cpsat")

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two xdist workers share two cores: a worker's torch, numba and BLAS thread pools of two threads
    # each would put four busy threads on two cores. Set before any of them is imported.
    for variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS"):
        os.environ.setdefault(variable, "1")

from hypothesis import settings  # noqa: E402  (after the thread variables: it imports numpy's plugins lazily)

# No per-example deadline: examples that compile or simulate take what the machine gives them, and a
# deadline measured in wall time fails a correct test on a loaded CI machine (timing targets live in bench/).
settings.register_profile("rducc", deadline=None)
settings.load_profile("rducc")


import fcntl  # noqa: E402
import pickle  # noqa: E402
import shutil  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any, Callable  # noqa: E402

import pytest  # noqa: E402


def build_once(shared: Path, name: str, build: Callable[[Path], Any]) -> Any:
    """`build(shared / name)`'s value, built by the first caller that takes `shared / name.lock` and
    read back (unpickled) by every later one, in this process or another."""
    result, folder = shared / f"{name}.pickle", shared / name
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if result.exists():
            return pickle.loads(result.read_bytes())
        shutil.rmtree(folder, ignore_errors=True)  # a build that raised part way
        folder.mkdir()
        value = build(folder)
        partial = result.with_suffix(".partial")
        partial.write_bytes(pickle.dumps(value))
        partial.replace(result)
        return value


def xdist_worker(config: pytest.Config) -> bool:
    """Whether this process is a pytest-xdist worker: its config carries `workerinput` (what
    pytest-xdist documents for telling a worker from the controller or a plain run; the
    `PYTEST_XDIST_WORKER` variable can be inherited by a pytest run started inside a worker's test,
    or set by hand, where no workers share anything)."""
    return hasattr(config, "workerinput")


@pytest.fixture(scope="session")
def once_per_run(tmp_path_factory, pytestconfig) -> Callable[[str, Callable[[Path], Any]], Any]:
    """`once_per_run(name, build)`: `build(folder)`'s value, built once per test run and shared by
    the xdist workers (the pattern pytest-xdist documents: a file lock and an on-disk result in the
    folder all workers' temporary folders share, `build_once`).

    Why: a session fixture is built once per worker, and `--dist loadfile` spreads the files that
    use it over both workers, so both built tests/coe's 5-architecture program cache at the same
    time on the same two cores. Measured on the 7 files that use `five_cache` or `mlp`
    (`python -m pytest <them> -q -n 2`, load 4.7-5.5 from other processes): 47 passed in 217 s,
    114 s user CPU, before; 161 s, 76 s user CPU, with each built once. `build` writes anything
    it makes into `folder` and returns a picklable value. Without xdist (`xdist_worker`) it simply
    builds into a fresh temporary folder: a plain run's temporary folder's parent is shared by
    every run of the user, not by this run's workers. A build that raised leaves no result, so the
    next worker builds again (and fails the same way, in its own tests)."""
    def run(name: str, build: Callable[[Path], Any]) -> Any:
        if not xdist_worker(pytestconfig):
            return build(tmp_path_factory.mktemp(name))
        return build_once(tmp_path_factory.getbasetemp().parent, name, build)

    return run
