"""Run a tensor-parallel bitstream on every socket of its node, functionally and in time.

Layered on the single-socket simulator, not beside it: each socket is a `Machine` over the same
program with its own memory image (socket s's part of every split weight, `NodeProgram.socket_image`),
and the only thing the node adds is the collective callback the machine calls at a collective
stage. The sockets run in lockstep: one thread per socket, and each collective stage is a barrier
where every socket leaves its value and takes its result (`functional_sim.collective`), so they
exchange values exactly where the program says and nowhere else.

Time: every socket runs the same program and the modelled network is symmetric, so one socket's
timeline (the event engine's, with collective stages costed on the peer links and overlapped with
the stages around them) is every socket's. A software launch is the node's host launching the
kernel on all the program's sockets (the node spec's `[host_launch]`), not the chip's one-socket
figure: `functional_sim.simulator._chip`, which resolves every program's chip, gives a node
program that launch, so no timing path here or elsewhere applies it itself. The result still
reports per socket (cycles, HBM bytes) and the trace has one process per socket.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np

from bitstream_format import Bitstream
from bitstream_format.node_program import COLLECTIVES, shard_part
from chip_model import ChipSpec
from chip_model.node import NodeSpec

from functional_sim.collective import collective_values, stage_node
from functional_sim.errors import SimulationError
from functional_sim.layer_loop import LayerLoop, LoopTiming, loop_timing, run_layer_loop
from functional_sim.result import SimulationResult
from functional_sim.simulator import TileMachine, _chip, _require_values, as_bitstream, bind_inputs, simulate

EXCHANGE_TIMEOUT_SECONDS = 600.0


class Exchange:
    """The rendezvous of a group's sockets at one collective stage at a time."""

    def __init__(self, sockets: int):
        self.barrier = threading.Barrier(sockets, timeout=EXCHANGE_TIMEOUT_SECONDS)
        self.slots: list[np.ndarray | None] = [None] * sockets
        self.results: list[np.ndarray] = []
        self.error: BaseException | None = None

    def run(self, socket: int, bs: Bitstream, stage, value: np.ndarray) -> np.ndarray:
        self.slots[socket] = value
        if self.barrier.wait() == 0:
            try:
                dtype = bs.stream(stage.outputs[0]).dtype
                self.results = collective_values(stage.opcode, stage.attrs, list(self.slots), dtype)
            except BaseException as exc:  # noqa: BLE001 - handed to every socket below
                self.error = exc
        self.barrier.wait()
        if self.error is not None:
            raise self.error
        out = self.results[socket]
        self.barrier.wait()  # every socket has its result before the slots are reused
        return out


@dataclass
class NodeSimulationResult:
    """One run of a node program: socket 0's timing stands for every socket's (same program,
    symmetric network); values and memory are per socket."""

    socket: SimulationResult
    node: str
    sockets: int
    socket_outputs: list[list[np.ndarray]] = field(default_factory=list)
    socket_hbm_bytes: list[int] = field(default_factory=list)  # each socket's resident HBM footprint
    collective_cycles: int = 0  # cycles the collective stages kept the peer links busy, per socket
    collective_stages: int = 0

    @property
    def outputs(self) -> list[np.ndarray]:
        return self.socket_outputs[0] if self.socket_outputs else []

    @property
    def cycles(self) -> int:
        return self.socket.cycles

    @property
    def seconds(self) -> float:
        return self.socket.seconds

    @property
    def socket_cycles(self) -> list[int]:
        return [self.socket.cycles] * self.sockets

    def chrome_trace(self) -> dict[str, Any]:
        """One process per socket (pid = socket + 1), each with the socket's kernel and stage tracks."""
        base = self.socket.chrome_trace()["traceEvents"]
        events = []
        for s in range(self.sockets):
            for e in base:
                e = dict(e, pid=s + 1)
                if e.get("ph") == "M" and e.get("name") == "process_name":
                    e["args"] = {"name": f"socket {s} of {self.node or 'node'} ({self.sockets} sockets)"}
                events.append(e)
        return {"traceEvents": events, "displayTimeUnit": "ns"}

    def to_json(self) -> dict[str, Any]:
        return {"node": self.node, "sockets": self.sockets, "cycles": self.cycles,
                "socket_cycles": self.socket_cycles, "collective_cycles": self.collective_cycles,
                "collective_stages": self.collective_stages, "socket_hbm_bytes": self.socket_hbm_bytes}


def is_node_program(bitstream: bytes | Bitstream) -> bool:
    return as_bitstream(bitstream).node is not None


def simulate_node(
    bitstream: bytes | Bitstream,
    inputs: Sequence[np.ndarray] | None,
    *,
    chip: ChipSpec | str | None = None,
    execute: bool = True,
    launch: str = "software",
    timing: str = "event",
    fifos: str = "configured",
) -> NodeSimulationResult:
    """Simulate a node program on all its sockets (every socket gets the same `inputs`)."""
    bs = as_bitstream(bitstream)
    if bs.node is None:
        raise SimulationError("not a node program: the bitstream has no NODE section (compile with --node/--tp)")
    node = stage_node(bs) if bs.node.node else None
    _check_fits(bs, node)
    spec = _chip(bs, chip)
    timed = simulate(bs, None, chip=spec, execute=False, launch=launch, timing=timing, fifos=fifos)
    outputs: list[list[np.ndarray]] = []
    if execute:
        _require_values(bs)
        bound = [bind_inputs(bs, socket_inputs(bs, inputs or [], s)) for s in range(bs.node.sockets)]
        outputs = _run_sockets(bs, spec, bound)
    elif inputs:
        bind_inputs(bs, socket_inputs(bs, inputs, 0))
    return node_result(bs, timed, outputs)


def node_result(bs: Bitstream, timed: SimulationResult, outputs: list[list[np.ndarray]]) -> NodeSimulationResult:
    """A node run's result from socket 0's timed run and every socket's outputs."""
    collective = [s for k in timed.kernels for s in k.stages if s.opcode in COLLECTIVES]
    return NodeSimulationResult(
        socket=replace(timed, outputs=outputs[0] if outputs else []),
        node=bs.node.node,
        sockets=bs.node.sockets,
        socket_outputs=outputs,
        socket_hbm_bytes=[hbm_bytes(bs)] * bs.node.sockets,
        collective_cycles=sum(s.cycles for s in collective),
        collective_stages=len(collective),
    )


def check_node_program(bs: Bitstream, spec: ChipSpec) -> None:
    """What `simulate_node` checks before it times a program: the bitstream against the chip and,
    for a node program, its sockets against the node's."""
    from functional_sim.checks import check_bitstream

    check_bitstream(bs, spec)
    if bs.node is not None and bs.node.node:
        _check_fits(bs, stage_node(bs))


def simulate_node_loop(
    layer_programs: Sequence[bytes | Bitstream],
    inputs: Sequence[np.ndarray],
    per_layer_inputs: Sequence[Sequence[np.ndarray]],
    loop: LayerLoop,
    *,
    chip: ChipSpec | str | None = None,
    launch: str = "hardware",
    fifos: str = "configured",
) -> tuple[list[list[np.ndarray]], LoopTiming]:
    """Run a layer loop on every socket (functional_sim.layer_loop): iteration i on
    `layer_programs[i]` (one program, layer i's weights), the carried outputs fed forward; returns
    each socket's outputs of the last iteration and the loop's timing."""
    programs = [as_bitstream(p) for p in layer_programs]
    if not programs:
        raise SimulationError("a layer loop needs at least one layer program")
    spec = _chip(programs[0], chip)
    check_node_program(programs[0], spec)
    timing = loop_timing(programs[0], spec, loop, launch, fifos)
    per_socket: list[list[np.ndarray]] = []

    def run(bs: Bitstream, values: list[np.ndarray]) -> list[np.ndarray]:
        per_socket[:] = simulate_node(bs, values, chip=spec, launch=launch, fifos=fifos).socket_outputs
        # every socket ends an iteration with the same carried value (the collectives made it whole)
        return per_socket[0]

    run_layer_loop(programs, inputs, per_layer_inputs, loop, run)
    return [list(o) for o in per_socket], timing


def socket_inputs(bs: Bitstream, inputs: Sequence[np.ndarray], socket: int) -> list[np.ndarray]:
    """What socket `socket` is given of the caller's (whole) inputs: its part of a split input."""
    out = []
    for tid, array in zip(bs.inputs, inputs):
        sh = bs.node.shard_of(tid)
        array = np.asarray(array)
        if sh is not None:
            if array.shape != sh.whole_shape:
                raise SimulationError(f"input {bs.tensor(tid).name!r} has shape {array.shape} but the node program "
                                      f"expects {sh.whole_shape} (split over its sockets)")
            array = shard_part(array, sh.dim, sh.parts, sh.blocks, socket // (bs.node.sockets // sh.parts))
        out.append(array)
    return out + list(inputs[len(bs.inputs):])


def hbm_bytes(bs: Bitstream) -> int:
    """A socket's HBM footprint: the end of the highest tensor homed there (the plan is the same on
    every socket; only the contents of split weights differ)."""
    return max((t.offset + t.nbytes for t in bs.tensors if t.tier == "hbm"), default=0)


def _check_fits(bs: Bitstream, node: NodeSpec | None) -> None:
    if node is not None and bs.node.sockets > node.sockets:
        raise SimulationError(f"the program runs on {bs.node.sockets} sockets, but node {node.name} has {node.sockets}")


def _run_sockets(bs: Bitstream, spec: ChipSpec, inputs: list[list[tuple[int, bytes]]]) -> list[list[np.ndarray]]:
    dtypes = {t.id: t.dtype for t in bs.tensors}

    def run(socket: int, collective) -> list[np.ndarray]:
        image = bs.node.socket_image(bs.image, dtypes, socket)
        return TileMachine(replace(bs, image=image), spec, collective=collective).run(inputs[socket])

    return run_sockets(bs, run)


def run_sockets(bs: Bitstream, run_socket: Callable[[int, Callable], list[np.ndarray]]) -> list[list[np.ndarray]]:
    """Every socket's outputs: `run_socket(socket, collective)` runs one socket's machine (built
    with that `collective` callback) on its own thread; the sockets meet at each collective stage.
    The caller decides whose memory each machine uses (a fresh image here, a `Session`'s resident
    memory for generation)."""
    n = bs.node.sockets
    exchange = Exchange(n)
    results: list[list[np.ndarray] | None] = [None] * n
    errors: list[BaseException | None] = [None] * n

    def run(socket: int) -> None:
        try:
            results[socket] = run_socket(socket, lambda stage, args: [exchange.run(socket, bs, stage, args[0])])
        except BaseException as exc:  # noqa: BLE001 - re-raised below, from the first socket that failed
            errors[socket] = exc
            exchange.barrier.abort()

    threads = [threading.Thread(target=run, args=(s,), name=f"socket{s}") for s in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    first = next((e for e in errors if e is not None and not isinstance(e, threading.BrokenBarrierError)), None)
    if first is None:
        first = next((e for e in errors if e is not None), None)
    if first is not None:
        if isinstance(first, SimulationError):
            raise first
        raise SimulationError(f"socket simulation failed: {type(first).__name__}: {first}") from first
    return [r for r in results if r is not None]
