"""Running independent tasks (sweep points, CoE architectures) in-process or on Ray: a local Ray
instance by default, an existing cluster by address.

Ray is an optional dependency (`pip install -e '.[ray]'`); `require_ray` turns its absence into a
one-line instruction. A local instance is sized for the sweep: `num_cpus` = workers, a small
object store (points return a few hundred bytes), no dashboard. Before joining a cluster the
address is probed with one call of a Ray gRPC method (`probe`), so an unreachable address, or one
where something else answers, fails in seconds instead of waiting out Ray's own connection retries.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from pathlib import Path
from typing import Any

from compiler.tasks.errors import BackendError

INSTALL_HINT = "Ray is not installed: pip install 'rducc[ray]' (or pip install 'ray==2.60.*'), or run with --local"
OBJECT_STORE_BYTES = 80 * 1024 * 1024  # Ray's floor is 75 MiB
PROBE_SECONDS = 3.0
GCS_METHOD = "/ray.rpc.NodeInfoGcsService/GetClusterId"  # HOST:PORT: a cluster's GCS
CLIENT_METHOD = "/ray.rpc.RayletDriver/ClusterInfo"     # ray://HOST:PORT: the Ray Client server


def require_ray():
    try:
        import ray
    except ImportError:
        raise BackendError(INSTALL_HINT) from None
    return ray


def _frame(kind: int, flags: int, stream: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "big") + bytes([kind, flags]) + stream.to_bytes(4, "big") + payload


def _header(name_index: int, value: str) -> bytes:
    """HPACK: a literal header field without indexing, its name from the static table (RFC 7541)."""
    data = value.encode()
    name = bytes([name_index]) if name_index < 15 else bytes([15, name_index - 15])
    return name + bytes([len(data)]) + data


def grpc_request(authority: str, method: str) -> bytes:
    """An HTTP/2 connection preface and one gRPC call of `method` with an empty message: POST
    (static index 3), http (6), :path (4), :authority (1), content-type (31), te: trailers."""
    block = b"\x83\x86" + _header(4, method) + _header(1, authority) + _header(31, "application/grpc") + b"\x00\x02te\x08trailers"
    return (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + _frame(4, 0, 0, b"") + _frame(1, 4, 1, block)
            + _frame(0, 1, 1, b"\x00\x00\x00\x00\x00"))


def _response_headers(conn: socket.socket, deadline: float) -> bytes | None:
    """The header block of the first HEADERS frame on stream 1, or None (closed, timed out)."""
    buf = b""
    while time.monotonic() < deadline:
        conn.settimeout(max(0.01, deadline - time.monotonic()))
        chunk = conn.recv(4096)
        if not chunk:
            return None
        buf += chunk
        while len(buf) >= 9 and len(buf) >= 9 + int.from_bytes(buf[:3], "big"):
            size, kind, stream = int.from_bytes(buf[:3], "big"), buf[3], int.from_bytes(buf[5:9], "big") & 0x7FFFFFFF
            payload, buf = buf[9:9 + size], buf[9 + size:]
            if kind == 1 and stream == 1:
                return payload
            if kind == 7:  # GOAWAY
                return None
    return None


def probe(address: str) -> None:
    """Fail fast unless Ray's gRPC service answers at host:port (`ray://host:port`: the Ray Client
    server; `host:port`: the GCS). Given anything else (nothing, a web server, another gRPC server,
    a proxy that answers every port), `ray.init` would retry for tens of seconds, logging each try.
    The probe makes one call of a Ray method and wants HTTP status 200 (HPACK static index 8, the
    first field of the answer) and not gRPC's UNIMPLEMENTED (12): Ray knows its own methods (an
    authenticated cluster answers UNAUTHENTICATED, which still shows Ray is there)."""
    if address == "auto":
        return
    client = address.startswith("ray://")
    target = address.split("://", 1)[-1]
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise BackendError(f"--ray {address}: expected HOST:PORT or ray://HOST:PORT")
    try:
        with socket.create_connection((host, int(port)), timeout=PROBE_SECONDS) as conn:
            conn.sendall(grpc_request(target, CLIENT_METHOD if client else GCS_METHOD))
            headers = _response_headers(conn, time.monotonic() + PROBE_SECONDS)
    except TimeoutError:
        headers = None
    except OSError as exc:
        raise BackendError(f"cannot reach a Ray cluster at {address}: {exc.strerror or exc}") from None
    if headers is None or not headers.startswith(b"\x88") or b"grpc-status\x0212" in headers:
        raise BackendError(f"cannot reach a Ray cluster at {address}: the server there does not answer as Ray (gRPC) does")


class RayBackend:
    """Submit tasks as Ray tasks (one CPU each); collect them as they finish."""

    def __init__(self, function: Any, workers: int | None = None, address: str | None = None):
        """`function`: what a task runs (a sweep point, compiler.sweep.worker.evaluate; an
        architecture's programs, compiler.coe.fleet.compile_architecture), a module-level function
        of one plain-data dict returning a dict with its `index`. `workers`: tasks at once; by
        default this machine's CPUs, or a cluster's."""
        ray = require_ray()
        self.ray = ray
        self.started = time.perf_counter()
        self.owns_instance = not ray.is_initialized()
        if self.owns_instance:
            if address is not None:
                # Ray's C++ core: errors only on stderr (a failed join otherwise logs every retry). Not
                # for a local instance: setting it prints a line of its own, and a local start is quiet.
                os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "error")
                probe(address)
                try:
                    ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
                except Exception as exc:  # Ray raises ConnectionError, RuntimeError, ... for a bad cluster
                    hint = "" if os.environ.get("RAY_AUTH_MODE") else (
                        " (a cluster with token authentication needs RAY_AUTH_MODE=token and its token)")
                    raise BackendError(f"cannot join the Ray cluster at {address}: {' '.join(str(exc).split())}{hint}") from None
            else:
                self._start_local(workers or os.cpu_count() or 1)
        self.workers = workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.init_seconds = time.perf_counter() - self.started
        self.remote = ray.remote(num_cpus=1, max_retries=0)(function)
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
    """`--local`: each task in this process, one at a time (for debugging: tracebacks, pdb)."""

    init_seconds = 0.0
    workers = 1

    def __init__(self, function: Any) -> None:
        self.queue: list[dict[str, Any]] = []
        self.function = function  # as RayBackend's

    @property
    def inflight(self) -> list[dict[str, Any]]:
        return self.queue

    def submit(self, task: dict[str, Any]) -> None:
        self.queue.append(task)

    def wait_one(self) -> dict[str, Any]:
        return self.function(self.queue.pop(0))

    def close(self) -> None:
        self.queue.clear()


def make_backend(function: Any, local: bool, workers: int | None, address: str | None):
    """In-process (`local`) or Ray, running `function` on each task."""
    return LocalBackend(function) if local else RayBackend(function, workers, address)
