"""Run bitstreams one after another over one chip's memory: state persists between runs.

`simulate` starts every run from empty memory, which is right for one forward pass and wrong for
token-by-token generation: a decode step appends to a KV cache the previous steps filled. A
`Session` keeps the HBM and DDR contents between `run` calls. Tensors of role `state` (docs
bitstream.md) are written from the image only the first time the session sees them (by name);
afterwards only the program's `store_rows` stages change them. Several programs may share the
state (a prefill program and a decode-step program): each must place it at the same address, which
`rdu-plan-memory` guarantees (state goes first, in name order) and `run` checks.

A program's weights are written when the session switches to it (they may share addresses with
another program's activations), not on every step of the same program. Timing depends only on
the bitstream, so it is computed once per program and reused.

A node program (a NODE section: tensor-parallel over several sockets) runs on as many simulated
sockets, each with its own memory that persists like a lone chip's: socket s starts from its part
of every split weight and state (`NodeProgram.socket_image`), so a KV cache split by KV head lives
as each socket's heads in that socket's HBM and its `store_rows` stages write there; the sockets
meet at the collective stages (functional_sim.node). Programs sharing state must split it alike.
"""

from __future__ import annotations

from functools import partial
from typing import Sequence

import numpy as np

from bitstream_format import Bitstream, TensorEntry
from chip_model import ChipSpec

from functional_sim.checks import check_bitstream
from functional_sim.errors import SimulationError
from functional_sim.event_timing import event_kernel_timing
from functional_sim.memory import Memory
from functional_sim.node import NodeSimulationResult, node_result, run_sockets, socket_inputs
from functional_sim.result import SimulationResult
from functional_sim.simulator import FIFO_POLICIES, TIMING_ENGINES, Machine, TileMachine, _chip, _require_values, as_bitstream, bind_inputs
from functional_sim.timing import ProgramTiming, program_timing


class Session:
    """One simulated chip (or one node's sockets) whose memory outlives each run."""

    def __init__(self, chip: ChipSpec | str | None = None, *, launch: str = "software", timing: str = "event",
                 fifos: str = "configured") -> None:
        if timing not in TIMING_ENGINES:
            raise SimulationError(f"timing must be one of {', '.join(TIMING_ENGINES)}, got {timing!r}")
        if fifos not in FIFO_POLICIES:
            raise SimulationError(f"fifos must be one of {', '.join(FIFO_POLICIES)}, got {fifos!r}")
        self._chip_arg = chip
        self.chip: ChipSpec | None = None
        self.memories: list[Memory] = []  # one per socket (one for a lone chip)
        self.launch, self.timing, self.fifos = launch, timing, fifos
        self.states: dict[str, tuple[TensorEntry, tuple | None]] = {}  # resident state tensors by name: (entry, split)
        self.runs = 0
        self._current: Bitstream | None = None  # the program whose image is in memory
        self._timings: dict[int, tuple[Bitstream, ProgramTiming]] = {}

    @property
    def memory(self) -> Memory | None:
        """Socket 0's memory (the chip's, for a lone chip)."""
        return self.memories[0] if self.memories else None

    @property
    def sockets(self) -> int:
        return len(self.memories)

    def run(self, bitstream: bytes | Bitstream, inputs: Sequence[np.ndarray]) -> SimulationResult | NodeSimulationResult:
        """Execute one program over the session's memory; its outputs and (cached) timing. A node
        program takes whole inputs (each socket is given its part) and returns a
        `NodeSimulationResult` (`.outputs` are socket 0's, which are whole)."""
        bs = as_bitstream(bitstream)
        spec = self._attach(bs)
        timing = self._timing(bs, spec)
        _require_values(bs)
        if bs is not self._current:
            self._load_image(bs)
        if bs.node is None:
            outputs = [TileMachine(bs, spec, memory=self.memory).execute(bind_inputs(bs, inputs))]
        else:
            bound = [bind_inputs(bs, socket_inputs(bs, inputs, s)) for s in range(bs.node.sockets)]
            outputs = run_sockets(bs, lambda s, collective: TileMachine(
                bs, spec, collective=collective, memory=self.memories[s]).execute(bound[s]))
        self.runs += 1
        result = SimulationResult(
            outputs=outputs[0], cycles=timing.cycles, seconds=timing.cycles / spec.clock_hz,
            setup_cycles=timing.setup_cycles, kernels=list(timing.kernels), sections=list(timing.sections),
            tier_bytes=dict(timing.tier_bytes), chip=spec.name, clock_hz=spec.clock_hz, launch=self.launch,
            timing=self.timing,
        )
        return result if bs.node is None else node_result(bs, result, outputs)

    def state(self, name: str, socket: int | None = None) -> np.ndarray:
        """The current value of a state tensor (e.g. a layer's key cache). On a node: socket
        `socket`'s part, or with `socket=None` the whole value joined from the sockets' parts."""
        if name not in self.states:
            known = ", ".join(sorted(self.states)) or "none"
            raise SimulationError(f"the session holds no state tensor {name!r} (it holds: {known})")
        entry, split = self.states[name]
        if socket is not None and not 0 <= socket < self.sockets:
            raise SimulationError(f"socket {socket} is not one of the session's {self.sockets}")

        def read(s: int) -> np.ndarray:
            return Machine(self._current, self.chip, memory=self.memories[s]).read(entry)

        if socket is not None or split is None:
            return read(socket or 0)
        dim, parts, blocks, _ = split
        group = self.sockets // parts
        return join_parts([read(p * group) for p in range(parts)], dim, blocks)

    def _attach(self, bs: Bitstream) -> ChipSpec:
        sockets = bs.node.sockets if bs.node is not None else 1
        if self.chip is None:
            self.chip = _chip(bs, self._chip_arg)
            self.memories = [Memory(self.chip) for _ in range(sockets)]
        elif bs.chip != self.chip.name and self._chip_arg is None:
            raise SimulationError(f"the bitstream targets chip {bs.chip!r} but the session simulates {self.chip.name!r}")
        if sockets != self.sockets:
            raise SimulationError(f"the bitstream runs on {sockets} socket(s) but the session simulates {self.sockets}")
        return self.chip

    def _timing(self, bs: Bitstream, spec: ChipSpec) -> ProgramTiming:
        cached = self._timings.get(id(bs))
        if cached is not None and cached[0] is bs:
            return cached[1]
        check_bitstream(bs, spec)
        kernel_timing = partial(event_kernel_timing, fifos=self.fifos) if self.timing == "event" else None
        program = program_timing(bs, spec, self.launch, kernel_timing)
        self._timings[id(bs)] = (bs, program)
        return program

    def _load_image(self, bs: Bitstream) -> None:
        """Weights and constants of `bs` into every socket's memory (socket s: its parts of split
        tensors); its state only where the session has none yet."""
        for t in bs.tensors:
            if t.role != "state" or t.name not in self.states:
                continue
            held, held_split = self.states[t.name]
            where, split = (t.tier, t.offset, t.dtype, tuple(t.shape)), _split(bs, t.id)
            if where != (held.tier, held.offset, held.dtype, tuple(held.shape)) or split != held_split:
                raise SimulationError(
                    f"state tensor {t.name!r} is {_describe(t, split)} in this program but {_describe(held, held_split)} "
                    f"in the session: programs sharing state must place and split it alike")
        dtypes = {t.id: t.dtype for t in bs.tensors}
        for socket, memory in enumerate(self.memories):
            image = bs.image if bs.node is None else bs.node.socket_image(bs.image, dtypes, socket)
            for tid, data in sorted(image.items()):
                t = bs.tensor(tid)
                if data is None or (t.role == "state" and t.name in self.states):
                    continue
                memory.write_tensor(t, data)
        for t in bs.tensors:
            if t.role == "state" and t.name not in self.states and bs.image.get(t.id) is not None:
                self.states[t.name] = (t, _split(bs, t.id))
        self._current = bs


def _split(bs: Bitstream, tid: int) -> tuple | None:
    """How a node program cuts tensor `tid` over its sockets: (dim, parts, blocks, whole shape)."""
    sh = bs.node.shard_of(tid) if bs.node is not None else None
    return None if sh is None else (sh.dim, sh.parts, sh.blocks, tuple(sh.whole_shape))


def _describe(t: TensorEntry, split: tuple | None) -> str:
    cut = f", split along dim {split[0]} into {split[1]} parts" if split else ""
    return f"{t.dtype}{list(t.shape)} at {t.tier} {t.offset:#x}{cut}"


def join_parts(parts: list[np.ndarray], dim: int, blocks: int = 1) -> np.ndarray:
    """The whole tensor from its parts in order (the inverse of `shard_part`): each part holds its
    slice of every one of `blocks` equal blocks along `dim`."""
    n = len(parts)
    shape = parts[0].shape
    local = shape[dim] // blocks
    blocked = [p.reshape(shape[:dim] + (blocks, 1, local) + shape[dim + 1:]) for p in parts]
    whole = np.concatenate(blocked, axis=dim + 1)
    return whole.reshape(shape[:dim] + (shape[dim] * n,) + shape[dim + 1:])
