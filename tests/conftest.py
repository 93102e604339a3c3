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
