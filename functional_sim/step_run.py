"""Run a whole decode step from one file: prologue kernels, the layer loop, epilogue kernels (format 3.4).

A program compiled with `--layers L --loop-body MODULE` is one decode step of a whole model: the
embedding lookup (prologue), the layer run L times (the LOOP section's loop), the final norm, LM
head and argmax (epilogue). `bitstream_format.loop_program.loop_parts` cuts it into three ordinary
programs over the same tensors and memory plan; this runs them in turn.

* Time (`step_timing`): the prologue's kernels, then the loop as `functional_sim.layer_loop`
  times it (hardware launch: one repeated kernel in the event engine; software: every layer its
  own host launch and run), then the epilogue's kernels, each kernel launched in the step's launch
  mode. A program of one section stays loaded (its load is setup, paid once); with several
  sections, each run loads each of them. The host's work between tokens (`[host_token]` of the
  node: read the token back, feed it to every socket, launch the next step) is reported beside the
  step (`host_token_cycles`), not inside its cycles: the step is what the chip runs.
* Values (`run_step`): the prologue's output is the loop's carried input; the loop runs as a
  loop program (`run_layer_loop`, each iteration its own weights and per-layer inputs); its last
  output is the epilogue's input, whose outputs are the program's.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Callable, Sequence

import numpy as np

from bitstream_format import Bitstream
from bitstream_format.loop_program import loop_parts
from bitstream_format.node_program import COLLECTIVES
from chip_model import ChipSpec

from functional_sim.layer_loop import LoopTiming, loop_timing
from functional_sim.timing import KernelRecord, ProgramTiming, program_timing


@dataclass(frozen=True)
class StepTiming:
    """One whole step on one socket: `cycles` = prologue + loop + epilogue (+ program loads when
    the program has several sections); `host_token_cycles` the host's work before the next step."""

    launch: str
    cycles: int
    prologue_cycles: int
    loop: LoopTiming
    epilogue_cycles: int
    setup_cycles: int
    section_load_cycles: int  # program loads paid every run (a program of several sections)
    kernels: tuple[KernelRecord, ...]
    tier_bytes: dict[str, int]
    host_token: dict[str, int] = field(default_factory=dict)  # readback, feed, launch (cycles); {} without [host_token]
    epilogue_kernels: int = 0  # the last records of `kernels` that are the epilogue's

    @property
    def host_token_cycles(self) -> int:
        return sum(self.host_token.values())

    @property
    def collective_cycles(self) -> int:
        return sum(s.cycles for k in self.kernels for s in k.stages if s.opcode in COLLECTIVES)

    def part_collective_cycles(self, part: str) -> int:
        """Collective cycles of the prologue's, loop's or epilogue's kernels."""
        n, e = len(self.kernels), self.epilogue_kernels
        kernels = {"prologue": self.kernels[: n - e - len(self.loop.kernels)], "loop": self.loop.kernels,
                   "epilogue": self.kernels[n - e:] if e else ()}[part]
        return sum(s.cycles for k in kernels for s in k.stages if s.opcode in COLLECTIVES)

    def to_json(self) -> dict[str, Any]:
        return {"launch": self.launch, "cycles": self.cycles, "prologue_cycles": self.prologue_cycles,
                "loop_cycles": self.loop.cycles, "epilogue_cycles": self.epilogue_cycles,
                "setup_cycles": self.setup_cycles, "section_load_cycles": self.section_load_cycles,
                "collective_cycles": self.collective_cycles, "host_token": dict(self.host_token),
                "host_token_cycles": self.host_token_cycles, "token_cycles": self.cycles + self.host_token_cycles,
                "loop": self.loop.to_json()}


def _shifted(records: Sequence[KernelRecord], by: int) -> list[KernelRecord]:
    return [replace(k, start=k.start + by) for k in records]


def _part_timing(part: Bitstream | None, chip: ChipSpec, launch: str, timed: Callable) -> ProgramTiming | None:
    return None if part is None else program_timing(part, chip, launch, timed)


def step_timing(bs: Bitstream, chip: ChipSpec, launch: str, fifos: str = "configured") -> StepTiming:
    """Time the whole step (see the module doc). `chip` as `functional_sim.simulator._chip`
    resolves it: a node program's software launch is the node host's."""
    from functional_sim.event_timing import event_kernel_timing

    timed = partial(event_kernel_timing, fifos=fifos)
    prologue, body, epilogue = loop_parts(bs)
    pro = _part_timing(prologue, chip, launch, timed)
    loop = loop_timing(body, chip, None, launch, fifos, timed)
    epi = _part_timing(epilogue, chip, launch, timed)
    several = len(bs.sections) > 1
    # one section: loaded once before the first step (setup); several: every change of section in
    # the step's order is a load, less those a part of several sections already paid itself
    loads = 0
    if several:
        order = [k.section for part in (prologue, body, epilogue) if part is not None for k in part.kernels]
        changes = sum(1 for i, sec in enumerate(order) if i == 0 or sec != order[i - 1])
        paid = sum(len(p.sections) for p in (prologue, body, epilogue) if p is not None and len(p.sections) > 1)
        loads = max(0, changes - paid) * chip.launch.program_load_cycles
    setup = 0 if several else chip.launch.program_load_cycles
    pro_cycles = pro.cycles if pro is not None else 0
    epi_cycles = epi.cycles if epi is not None else 0
    records = _shifted(pro.kernels if pro else (), setup) + _shifted(loop.kernels, pro_cycles) \
        + _shifted(epi.kernels if epi else (), pro_cycles + loop.cycles)
    tiers: dict[str, int] = {}
    for part in (pro.tier_bytes if pro else {}, loop.tier_bytes, epi.tier_bytes if epi else {}):
        for tier, n in part.items():
            tiers[tier] = tiers.get(tier, 0) + n
    host: dict[str, int] = {}
    if bs.node is not None and bs.node.node:
        from functional_sim.collective import stage_node

        node = stage_node(bs)
        if node.host_token is not None:
            host = node.host_token.cycles(node.chip, bs.node.sockets, node.host_launch)  # the chip's own launch, not `chip`'s node launch
    return StepTiming(launch, pro_cycles + loop.cycles + epi_cycles + loads, pro_cycles, loop, epi_cycles, setup,
                      loads, tuple(records), tiers, host, len(epi.kernels) if epi else 0)


def run_step(bs: Bitstream, first: list[np.ndarray], run_part: Callable[[Bitstream, list[np.ndarray]], list[np.ndarray]],
             run_loop: Callable[[Bitstream, list[np.ndarray]], list[np.ndarray]]) -> list[np.ndarray]:
    """The step's outputs from the program's inputs `first` (IOMP order; per-layer ones stacked
    over the layers): `run_part(program, inputs)` runs an ordinary program, `run_loop(program,
    inputs)` a loop program (its inputs in its own IOMP order) and returns its carried output."""
    prologue, body, epilogue = loop_parts(bs)
    given = dict(zip(bs.inputs, first, strict=True))
    carried = run_part(prologue, [given[t] for t in prologue.inputs])[0]
    hidden = run_loop(body, [carried] + [given[t] for t in body.inputs[1:]])
    if epilogue is None:
        return [hidden]
    return run_part(epilogue, [hidden] + [given[t] for t in epilogue.inputs[1:]])


def simulate_step(bs: Bitstream, spec: ChipSpec, inputs: Sequence[np.ndarray] | None, *, execute: bool,
                  launch: str, fifos: str):
    """`functional_sim.loop_run.simulate_loop` for a whole step (checked by it already): a
    `SimulationResult`, or a `NodeSimulationResult` for a node program, whose cycles are the
    step's, with `.loop` the loop's `LoopTiming` and `.step` the `StepTiming`."""
    from functional_sim.loop_run import iteration_program, layer_loop_of, loop_result, split_inputs
    from functional_sim.layer_loop import run_layer_loop
    from functional_sim.node import node_result, simulate_node
    from functional_sim.simulator import TileMachine, _chip, _require_values, bind_inputs
    from bitstream_format.loop_program import loop_hbm_bytes

    timing = step_timing(bs, _chip(bs, spec), launch, fifos)
    socket_outputs: list[list[np.ndarray]] = []
    if execute:
        _require_values(bs)
        if bs.node is not None:
            def run(program: Bitstream, values: list[np.ndarray]) -> list[np.ndarray]:
                socket_outputs[:] = simulate_node(program, values, chip=spec, launch=launch, fifos=fifos).socket_outputs
                return socket_outputs[0]  # every socket ends a part with the same values
        else:
            def run(program: Bitstream, values: list[np.ndarray]) -> list[np.ndarray]:
                socket_outputs[:] = [TileMachine(program, spec).run(bind_inputs(program, values))]
                return socket_outputs[0]

        def run_loop(body: Bitstream, values: list[np.ndarray]) -> np.ndarray:
            first, layers = split_inputs(body, values)
            programs = [iteration_program(body, i) for i in range(body.loop.trips)]
            return run_layer_loop(programs, first, layers, layer_loop_of(body), run)[0]

        run_step(bs, list(inputs or []), run, run_loop)
    loop_like = replace(timing.loop, cycles=timing.cycles, kernels=timing.kernels, tier_bytes=timing.tier_bytes,
                        setup_cycles=timing.setup_cycles)
    result = loop_result(bs, spec, loop_like, socket_outputs[0] if socket_outputs else [])
    result.loop, result.step = timing.loop, timing
    if bs.node is None:
        return result
    node = node_result(bs, result, [list(o) for o in socket_outputs])
    node.socket_hbm_bytes = [loop_hbm_bytes(bs)] * bs.node.sockets
    node.loop, node.step = timing.loop, timing
    return node
