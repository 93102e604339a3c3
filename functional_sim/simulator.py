"""Run a bitstream: decode, check against the chip, time it, and (optionally) execute it with numpy.

Execution follows the dataflow contract: memory is initialised from the image and the bound
inputs, kernels run in `bs.kernels` order, and inside a kernel each stage runs once its input
streams hold values. Only AGCU loads and stores touch off-chip memory; values never survive a
kernel boundary except through memory. The product path (`TileMachine`) runs every stage's tile
program (functional_sim/tile_machine.py): AGCU address patterns, buffers through per-PMU SRAM,
loops of tiles. `Machine` turns whole numpy arrays into whole numpy arrays, one opcode per stage:
it is kept as the test oracle (`interpreter="whole"`).
"""

from __future__ import annotations

from functools import partial
from math import prod
from typing import Sequence

import numpy as np

from bitstream_format import Bitstream, BitstreamError, KernelEntry, StageConfig, TensorEntry, decode, nbytes_of
from chip_model import ChipSpec, ChipSpecError, load_chip
from chip_model.node import node_launch_spec

from functional_sim.checks import check_bitstream, stage_name
from functional_sim.collective import stage_node
from functional_sim.dtypes import cast, from_bytes, to_bytes, value_dtype
from functional_sim.errors import SimulationError, SimulatorBug
from functional_sim.kernels import KERNELS, AttributeMissing
from functional_sim.memory import Memory, describe
from functional_sim.rows import load_rows, store_rows
from functional_sim.result import SimulationResult
from functional_sim.event_timing import event_kernel_timing
from functional_sim.tile_machine import TileExecutor, run_tile_stage
from functional_sim.timing import program_timing

TIMING_ENGINES = ("event", "analytic")
INTERPRETERS = ("tiles", "whole")
FIFO_POLICIES = ("grow", "configured")

# Friendly input casts: numpy's default float64 is accepted where the bitstream wants f32, and bf16
# (which numpy lacks) takes float32 or float64, rounded to nearest even.
_INPUT_CASTS = {"f32": ("float64",), "bf16": ("float32", "float64")}


def simulate(
    bitstream: bytes | Bitstream,
    inputs: Sequence[np.ndarray] | None,
    *,
    chip: ChipSpec | str | None = None,
    execute: bool = True,
    launch: str = "software",
    timing: str = "event",
    fifos: str = "configured",
    interpreter: str = "tiles",
) -> SimulationResult:
    """Simulate a bitstream on a chip; `execute=False` gives the timing without running any op.

    `timing="event"` (the default) runs the discrete-event simulation of tiles through bounded
    FIFOs and shared links and tiers; `timing="analytic"` is the pipelined-roofline formula.
    `fifos="configured"` (the default) holds every FIFO to the depth the bitstream gives (rdu-size-fifos
    sizes reconvergent paths so compiled programs do not deadlock) and reports a deadlock as an error;
    `fifos="grow"` (for experiments) deepens a FIFO of a deadlocked wait-for cycle to its whole value
    and records it per kernel. `interpreter="tiles"` (the default) executes the bitstream's tile
    programs; `"whole"` is the whole-tensor oracle, for tests."""
    if interpreter not in INTERPRETERS:
        raise SimulationError(f"interpreter must be one of {', '.join(INTERPRETERS)}, got {interpreter!r}")
    if timing not in TIMING_ENGINES:
        raise SimulationError(f"timing must be one of {', '.join(TIMING_ENGINES)}, got {timing!r}")
    if fifos not in FIFO_POLICIES:
        raise SimulationError(f"fifos must be one of {', '.join(FIFO_POLICIES)}, got {fifos!r}")
    bs = as_bitstream(bitstream)
    spec = _chip(bs, chip)
    check_bitstream(bs, spec)
    engine = "event" if timing == "event" else "analytic"
    kernel_timing = partial(event_kernel_timing, fifos=fifos) if engine == "event" else None
    program = program_timing(bs, spec, launch, kernel_timing)
    outputs: list[np.ndarray] = []
    if execute:
        _require_values(bs)
        machine = TileMachine if interpreter == "tiles" else Machine
        outputs = machine(bs, spec).run(bind_inputs(bs, inputs or []))
    elif inputs:
        bind_inputs(bs, inputs)  # still worth telling the caller their inputs would not fit
    return SimulationResult(
        outputs=outputs,
        cycles=program.cycles,
        seconds=program.cycles / spec.clock_hz,
        setup_cycles=program.setup_cycles,
        kernels=list(program.kernels),
        sections=list(program.sections),
        tier_bytes=dict(program.tier_bytes),
        chip=spec.name,
        clock_hz=spec.clock_hz,
        launch=launch,
        timing=engine,
    )


def as_bitstream(bitstream: bytes | Bitstream) -> Bitstream:
    if isinstance(bitstream, Bitstream):
        return bitstream
    if isinstance(bitstream, (bytes, bytearray, memoryview)):
        try:
            return decode(bytes(bitstream))
        except BitstreamError as exc:
            raise SimulationError(f"cannot decode bitstream: {exc}") from exc
    raise SimulationError(f"expected bitstream bytes or a Bitstream, got {type(bitstream).__name__}")


def _chip(bs: Bitstream, chip: ChipSpec | str | None) -> ChipSpec:
    """The chip program `bs` runs on (`chip`: a spec, a name or path, or None for the bitstream's),
    with the software launch the program pays: a node program's is its node host's launch on all
    its sockets (`chip_model.node.node_launch_spec`), a one-socket program's the chip's own. Every
    timing path resolves its chip here, so none can time a node program with the one-socket launch."""
    if isinstance(chip, ChipSpec):
        spec = chip
    else:
        try:
            spec = load_chip(chip or bs.chip)
        except ChipSpecError as exc:
            raise SimulationError(str(exc)) from exc
    on_node = bs.node is not None and bool(bs.node.node)
    return node_launch_spec(spec, stage_node(bs) if on_node else None, bs.node.sockets if on_node else 1)


def _require_values(bs: Bitstream) -> None:
    bound = set(bs.inputs)
    for tid, data in sorted(bs.image.items()):
        if data is None and tid not in bound:
            raise SimulationError(
                f"cannot execute: the bitstream was compiled shapes-only ({describe(bs.tensor(tid))} has no "
                f"initial values); simulate for timing only (`rducc sim --timing-only`, or execute=False)"
            )


def bind_inputs(bs: Bitstream, inputs: Sequence[np.ndarray]) -> list[tuple[int, bytes]]:
    """Check the caller's arrays against the input tensors; return (tensor id, memory bytes) pairs."""
    names = ", ".join(repr(bs.tensor(t).name) for t in bs.inputs)
    if len(inputs) != len(bs.inputs):
        raise SimulationError(f"the bitstream takes {len(bs.inputs)} input(s) ({names}), got {len(inputs)}")
    bound = []
    for i, (tid, array) in enumerate(zip(bs.inputs, inputs)):
        t = bs.tensor(tid)
        array = np.asarray(array)
        if array.shape != tuple(t.shape):
            raise SimulationError(
                f"input {i} {t.name!r} has shape {array.shape} but the bitstream expects {tuple(t.shape)}"
            )
        have = array.dtype.newbyteorder("=")
        exact = t.dtype != "bf16" and have == value_dtype(t.dtype)
        if not exact and have.name not in _INPUT_CASTS.get(t.dtype, ()):
            raise SimulationError(f"input {i} {t.name!r} has dtype {array.dtype} but the bitstream expects {t.dtype}")
        bound.append((tid, to_bytes(array, t.dtype)))
    return bound


class Machine:
    """The chip's off-chip memories plus the rule for running kernels over them."""

    def __init__(self, bs: Bitstream, chip: ChipSpec, collective=None, memory: Memory | None = None) -> None:
        self.bs = bs
        self.memory = memory if memory is not None else Memory(chip)  # a Session passes the memory it keeps
        # collective stages exchange values with the other sockets of a node (functional_sim.node):
        # (stage, input values) -> output values; None on a lone socket
        self.collective = collective

    def run(self, inputs: list[tuple[int, bytes]]) -> list[np.ndarray]:
        for tid, data in sorted(self.bs.image.items()):
            if data is not None:
                self.memory.write_tensor(self.bs.tensor(tid), data)
        return self.execute(inputs)

    def execute(self, inputs: list[tuple[int, bytes]]) -> list[np.ndarray]:
        """Write the inputs and run every kernel over memory as it stands (the image already in)."""
        for tid, data in inputs:
            self.memory.write_tensor(self.bs.tensor(tid), data)
        for k in self.bs.kernels:
            self.run_kernel(k)
        return [self.read(self.bs.tensor(tid)) for tid in self.bs.outputs]

    def read(self, t: TensorEntry) -> np.ndarray:
        size = nbytes_of(t.dtype, t.shape)
        return from_bytes(self.memory.read_tensor(t, size), t.dtype, tuple(t.shape))

    def run_kernel(self, k: KernelEntry) -> None:
        values: dict[int, np.ndarray] = {}  # stream id -> value; streams do not outlive a kernel
        for sid in k.stages:
            s = self.bs.stage(sid)
            missing = [i for i in s.inputs if i not in values]
            if missing:
                raise SimulationError(f"kernel {k.name!r}: {stage_name(s)} runs before stream {missing[0]} holds a value")
            results = self.run_stage(s, [values[i] for i in s.inputs])
            if len(results) != len(s.outputs):
                raise SimulationError(f"{stage_name(s)} produced {len(results)} value(s) for {len(s.outputs)} output stream(s)")
            for stream_id, value in zip(s.outputs, results):
                values[stream_id] = self._conform(s, stream_id, value)

    def _conform(self, s: StageConfig, stream_id: int, value: np.ndarray) -> np.ndarray:
        st = self.bs.stream(stream_id)
        value = cast(value, st.dtype)
        if value.shape != tuple(st.shape):
            raise SimulationError(
                f"{stage_name(s)} produced shape {value.shape} on stream {stream_id}, which carries {tuple(st.shape)}"
            )
        return value

    def run_stage(self, s: StageConfig, args: list[np.ndarray]) -> list[np.ndarray]:
        if s.opcode == "load":
            return self._load(s)
        if s.opcode == "store":
            self._store(s, args[0])
            return []
        if s.opcode == "store_rows":
            store_rows(self.memory, self.bs.tensor(s.tensor), args[0], args[1], s.attrs["dim"], stage_name(s))
            return []
        if s.opcode == "load_rows":  # only the indexed rows' bytes come from the tier
            rows = load_rows(self.memory, self.bs.tensor(s.tensor), args[0], s.attrs["dim"], stage_name(s))
            return [rows.reshape(self.bs.stream(s.outputs[0]).shape)]
        if s.unit == "agcu" and s.tensor < 0:
            if self.collective is None:
                raise SimulationError(f"{stage_name(s)} is a collective: run the program on its node (functional_sim.node)")
            return self.collective(s, args)
        outs = [(self.bs.stream(i).dtype, tuple(self.bs.stream(i).shape)) for i in s.outputs]
        try:
            with np.errstate(all="ignore"):
                return list(KERNELS[s.opcode](args, s.attrs, outs))
        except SimulationError:
            raise
        except (IndexError, AttributeMissing) as exc:  # an index out of range (the inputs'), a stage attribute missing (the bitstream's)
            raise SimulationError(f"{stage_name(s)} failed: {type(exc).__name__}: {exc}") from exc
        except Exception as exc:  # the checks passed, so this is rducc's fault, not the user's
            raise SimulatorBug(stage_name(s), exc) from exc

    def _same_layout(self, s: StageConfig, stream_id: int) -> None:
        """A flat address range has no shape: a tensor streams as any shape with its dtype and size."""
        t, st = self.bs.tensor(s.tensor), self.bs.stream(stream_id)
        if st.dtype != t.dtype or prod(st.shape) != prod(t.shape):
            raise SimulationError(
                f"{stage_name(s)} moves {describe(t)} ({t.dtype}{list(t.shape)}) over stream {stream_id} "
                f"({st.dtype}{list(st.shape)}): dtype and element count must match"
            )

    def _load(self, s: StageConfig) -> list[np.ndarray]:
        value = self.read(self.bs.tensor(s.tensor))
        for i in s.outputs:
            self._same_layout(s, i)
        return [value.reshape(self.bs.stream(i).shape) for i in s.outputs]

    def _store(self, s: StageConfig, value: np.ndarray) -> None:
        self._same_layout(s, s.inputs[0])
        t = self.bs.tensor(s.tensor)
        self.memory.write_tensor(t, to_bytes(value.reshape(t.shape), t.dtype))



class TileMachine(Machine):
    """The product path: each stage runs its tile program (functional_sim/tile_machine.py)."""

    def __init__(self, bs: Bitstream, chip: ChipSpec, collective=None, memory: Memory | None = None) -> None:
        super().__init__(bs, chip, collective, memory)
        self.tiles = TileExecutor(bs, chip, self.memory)

    def run_stage(self, s: StageConfig, args: list[np.ndarray]) -> list[np.ndarray]:
        if s.opcode in ("store_rows", "load_rows") or (s.unit == "agcu" and s.tensor < 0):
            return super().run_stage(s, args)  # rows at runtime indices (functional_sim.rows); a collective (node.py)
        if s.opcode == "load":  # every walk of its pattern (one per pass of a re-streamed operand)
            t = self.bs.tensor(s.tensor)
            walks = [from_bytes(data, t.dtype, tuple(t.shape)) for data in self.tiles.load(s)]
            for i in s.outputs:
                self._same_layout(s, i)
                if len(walks) > 1:
                    self.tiles.repeated[i] = [w.reshape(self.bs.stream(i).shape) for w in walks]
            return [walks[0].reshape(self.bs.stream(i).shape) for i in s.outputs]
        if s.opcode == "store":
            self._same_layout(s, s.inputs[0])
            t = self.bs.tensor(s.tensor)
            self.tiles.store(s, to_bytes(args[0].reshape(t.shape), t.dtype))
            return []
        if s.opcode == "buffer":  # each pass of a re-streamed operand goes round the ring in turn
            st = self.bs.stream(s.inputs[0])
            passes = self.tiles.repeated.get(s.inputs[0], [args[0]])
            rung = [from_bytes(self.tiles.ring(s, to_bytes(v, st.dtype)), st.dtype, tuple(st.shape)) for v in passes]
            for i in s.outputs:
                if len(rung) > 1:
                    self.tiles.repeated[i] = rung
            return [rung[0] for _ in s.outputs]
        outs = [(self.bs.stream(i).dtype, tuple(self.bs.stream(i).shape)) for i in s.outputs]
        return run_tile_stage(self.tiles, s, args, outs)
