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
from functional_sim.result import SimulationResult
from functional_sim.simulator import FIFO_POLICIES, TIMING_ENGINES, Machine, TileMachine, _chip, _require_values, as_bitstream, bind_inputs
from functional_sim.timing import ProgramTiming, program_timing


class Session:
    """One simulated chip whose memory outlives each run."""

    def __init__(self, chip: ChipSpec | str | None = None, *, launch: str = "software", timing: str = "event",
                 fifos: str = "configured") -> None:
        if timing not in TIMING_ENGINES:
            raise SimulationError(f"timing must be one of {', '.join(TIMING_ENGINES)}, got {timing!r}")
        if fifos not in FIFO_POLICIES:
            raise SimulationError(f"fifos must be one of {', '.join(FIFO_POLICIES)}, got {fifos!r}")
        self._chip_arg = chip
        self.chip: ChipSpec | None = None
        self.memory: Memory | None = None
        self.launch, self.timing, self.fifos = launch, timing, fifos
        self.states: dict[str, TensorEntry] = {}  # state tensors resident in memory, by name
        self.runs = 0
        self._current: Bitstream | None = None  # the program whose image is in memory
        self._timings: dict[int, tuple[Bitstream, ProgramTiming]] = {}

    def run(self, bitstream: bytes | Bitstream, inputs: Sequence[np.ndarray]) -> SimulationResult:
        """Execute one program over the session's memory; its outputs and (cached) timing."""
        bs = as_bitstream(bitstream)
        spec = self._attach(bs)
        timing = self._timing(bs, spec)
        _require_values(bs)
        bound = bind_inputs(bs, inputs)
        machine = TileMachine(bs, spec, memory=self.memory)
        if bs is not self._current:
            self._load_image(bs)
        outputs = machine.execute(bound)
        self.runs += 1
        return SimulationResult(
            outputs=outputs, cycles=timing.cycles, seconds=timing.cycles / spec.clock_hz,
            setup_cycles=timing.setup_cycles, kernels=list(timing.kernels), sections=list(timing.sections),
            tier_bytes=dict(timing.tier_bytes), chip=spec.name, clock_hz=spec.clock_hz, launch=self.launch,
            timing=self.timing,
        )

    def state(self, name: str) -> np.ndarray:
        """The current value of a state tensor (e.g. a layer's key cache)."""
        if name not in self.states:
            known = ", ".join(sorted(self.states)) or "none"
            raise SimulationError(f"the session holds no state tensor {name!r} (it holds: {known})")
        return Machine(self._current, self.chip, memory=self.memory).read(self.states[name])

    def _attach(self, bs: Bitstream) -> ChipSpec:
        if self.chip is None:
            self.chip = _chip(bs, self._chip_arg)
            self.memory = Memory(self.chip)
        elif bs.chip != self.chip.name and self._chip_arg is None:
            raise SimulationError(f"the bitstream targets chip {bs.chip!r} but the session simulates {self.chip.name!r}")
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
        """Weights and constants of `bs` into memory; its state only where the session has none yet."""
        for t in bs.tensors:
            if t.role != "state":
                continue
            held = self.states.get(t.name)
            if held is None:
                continue
            where = (t.tier, t.offset, t.dtype, tuple(t.shape))
            if where != (held.tier, held.offset, held.dtype, tuple(held.shape)):
                raise SimulationError(
                    f"state tensor {t.name!r} is {t.dtype}{list(t.shape)} at {t.tier} {t.offset:#x} in this program but "
                    f"{held.dtype}{list(held.shape)} at {held.tier} {held.offset:#x} in the session: programs sharing state "
                    f"must place it alike")
        for tid, data in sorted(bs.image.items()):
            t = bs.tensor(tid)
            if data is None or (t.role == "state" and t.name in self.states):
                continue
            self.memory.write_tensor(t, data)
            if t.role == "state":
                self.states[t.name] = t
        self._current = bs
