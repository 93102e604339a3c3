"""Running sweep points on Ray: a local instance by default, an existing cluster by address.

Ray is an optional dependency (`pip install -e '.[ray]'`); `require_ray` turns its absence into a
one-line instruction. A local instance is sized for the sweep: `num_cpus` = workers, a small
object store (points return a few hundred bytes), no dashboard. Before joining a cluster the
address is probed with a plain TCP connection, so an unreachable one fails in seconds instead of
waiting out Ray's own connection retries.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from compiler.sweep.errors import SweepError

INSTALL_HINT = "Ray is not installed: pip install 'rducc[ray]' (or pip install 'ray==2.60.*'), or run with --local"
OBJECT_STORE_BYTES = 80 * 1024 * 1024  # Ray's floor is 75 MiB
PROBE_SECONDS = 3.0
# An HTTP/2 client preface and an empty SETTINGS frame: Ray's GCS and client servers (gRPC) answer
# with a SETTINGS frame of their own (frame type 4 in the 4th byte of the 9-byte frame header).
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def require_ray():
    try:
        import ray
    except ImportError:
        raise SweepError(INSTALL_HINT) from None
    return ray


def probe(address: str) -> None:
    """Fail fast unless a gRPC server listens at host:port (`ray://host:port` or `host:port`):
    given anything else (nothing, a web server), `ray.init` would retry for minutes."""
    if address == "auto":
        return
    target = address.split("://", 1)[-1]
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise SweepError(f"--ray {address}: expected HOST:PORT or ray://HOST:PORT")
    try:
        with socket.create_connection((host, int(port)), timeout=PROBE_SECONDS) as conn:
            conn.settimeout(PROBE_SECONDS)
            conn.sendall(HTTP2_PREFACE)
            header = b""
            while len(header) < 9:
                chunk = conn.recv(9 - len(header))
                if not chunk:
                    break
                header += chunk
    except TimeoutError:
        header = b""
    except OSError as exc:
        raise SweepError(f"cannot reach a Ray cluster at {address}: {exc.strerror or exc}") from None
    if len(header) < 9 or header[3] != 4:
        raise SweepError(f"cannot reach a Ray cluster at {address}: the server there does not answer as Ray (gRPC) does")


class RayBackend:
    """Submit points as Ray tasks (one CPU each); collect them as they finish."""

    def __init__(self, workers: int | None = None, address: str | None = None, function: Any = None):
        """`workers`: points at once; by default this machine's CPUs, or a cluster's. `function`:
        what a task runs (default: a sweep point, compiler.sweep.worker.evaluate; the CoE fleet
        passes its own, compiler/coe/fleet.py), a module-level function of one plain-data dict
        returning a dict with its `index`."""
        ray = require_ray()
        self.ray = ray
        self.started = time.perf_counter()
        self.owns_instance = not ray.is_initialized()
        if self.owns_instance:
            os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")  # Ray's C++ core: errors only on stderr
            if address is not None:
                probe(address)
                try:
                    ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
                except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ... for a bad cluster
                    hint = "" if os.environ.get("RAY_AUTH_MODE") else (
                        " (a cluster with token authentication needs RAY_AUTH_MODE=token and its token)")
                    raise SweepError(f"cannot join the Ray cluster at {address}: {' '.join(str(exc).split())}{hint}") from None
            else:
                self._start_local(workers or os.cpu_count() or 1)
        self.workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.init_seconds = time.perf_counter() - self.started
        from compiler.sweep.worker import evaluate

        self.remote = ray.remote(num_cpus=1, max_retries=0)(function or evaluate)
        self.inflight: dict[Any, dict[str, Any]] = {}

    def _start_local(self, workers: int) -> None:
        # Workers import rducc from the same tree as this process: put it first on their path.
        root = str(Path(__file__).resolve().parents[2])
        saved = os.environ.get("PYTHONPATH")
        os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (root, saved) if p)
        try:
            self.ray.init(num_cpus=workers, object_store_memory=OBJECT_STORE_BYTES, include_dashboard=False,
                          logging_level=logging.ERROR, log_to_driver=False)
        finally:
            if saved is None:
                os.environ.pop("PYTHONPATH", None)
            else:
                os.environ["PYTHONPATH"] = saved

    def submit(self, task: dict[str, Any]) -> None:
        self.inflight[self.remote.remote(task)] = task

    def wait_one(self) -> dict[str, Any]:
        ready, _ = self.ray.wait(list(self.inflight), num_returns=1)
        ref = ready[0]
        task = self.inflight.pop(ref)
        try:
            return self.ray.get(ref)
        except Exception as exc:  # the worker died (out of memory, killed): the point fails, the sweep goes on
            message = " ".join(str(exc).split())[:300]
            return {"index": task["index"], "status": "failed", "error": f"worker failed: {type(exc).__name__}: {message}",
                    "metrics": {}, "cached": "", "run_seconds": 0.0}

    def close(self) -> None:
        for ref in self.inflight:
            self.ray.cancel(ref, force=True)
        self.inflight.clear()
        if self.owns_instance:
            self.ray.shutdown()


class LocalBackend:
    """`--local`: each point in this process, one at a time (for debugging: tracebacks, pdb)."""

    init_seconds = 0.0
    workers = 1

    def __init__(self, function: Any = None) -> None:
        self.queue: list[dict[str, Any]] = []
        self.function = function  # as RayBackend's; default: a sweep point

    @property
    def inflight(self) -> list[dict[str, Any]]:
        return self.queue

    def submit(self, task: dict[str, Any]) -> None:
        self.queue.append(task)

    def wait_one(self) -> dict[str, Any]:
        from compiler.sweep.worker import evaluate

        return (self.function or evaluate)(self.queue.pop(0))

    def close(self) -> None:
        self.queue.clear()
