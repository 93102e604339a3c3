"""Run a looped bitstream (a LOOP section, format 3.3) from the one file: in time and functionally.

The file is one iteration (a decoder layer) plus its LOOP section: the trip count, the carried
tensors, each iteration's own copy of the weights and per-layer inputs and their images, and the
launch mode the compiler planned with its per-iteration cost. Nothing here is told the loop by
the caller.

* Time: `functional_sim.layer_loop.loop_timing` with the bitstream's loop (hardware launch: one
  launch, the iterations overlapped in the event engine, each unit paying the LOOP section's
  iteration launch cycles between iterations; software: every iteration its own host launch).
* Values: iteration i runs the program on iteration i's images (socket s's part of a split
  weight, as for iteration 0) and per-layer inputs, with the previous iteration's carried outputs;
  the program addresses its copies at iteration i's base addresses, which changes where bytes
  live, not what is computed, so each iteration runs at iteration 0's addresses.

Inputs: the program's inputs in IOMP order; a per-layer input (one the LOOP section gives each
iteration its own copy of, e.g. a KV cache) is given for all iterations at once, stacked on a new
leading axis of size `trips` (the whole value for a tensor-parallel program, as for any input).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

import numpy as np

from bitstream_format import Bitstream
from bitstream_format.loop_program import loop_hbm_bytes, loop_problem
from chip_model import ChipSpec

from functional_sim.errors import SimulationError
from functional_sim.layer_loop import LayerLoop, LoopTiming, loop_timing, run_layer_loop
from functional_sim.result import SimulationResult
from functional_sim.simulator import _chip, _require_values, as_bitstream


def check_loop(bs: Bitstream, chip: ChipSpec) -> None:
    """Refuse, before anything runs, a loop the chip could not run (`loop_problem`)."""
    if bs.loop is None:
        return
    problem = loop_problem(bs, {m.tier: m.capacity_bytes for m in chip.memories})
    if problem is not None:
        raise SimulationError(problem)


def layer_loop_of(bs: Bitstream) -> LayerLoop:
    """The runtime's view of the bitstream's loop: iterations, carries and per-layer inputs by
    IOMP position."""
    loop = bs.loop
    return LayerLoop(loop.trips, loop.carry_positions(bs.inputs, bs.outputs), loop.per_iteration_inputs(bs.inputs))


def iteration_program(bs: Bitstream, iteration: int) -> Bitstream:
    """The program iteration `iteration` runs: the file's, with that iteration's weight images."""
    loop = bs.loop
    if iteration == 0:
        return replace(bs, loop=None)
    image, wholes = dict(bs.image), dict(bs.node.wholes) if bs.node is not None else {}
    for a in loop.addresses:
        tid = a.tensor
        if bs.tensor(tid).role not in ("weight", "state"):
            continue
        data = loop.images.get((tid, iteration))
        if data is None:
            raise SimulationError(f"loop {loop.name!r} holds no image of {bs.tensor(tid).name!r} for iteration "
                                  f"{iteration} (a shapes-only program can be timed, not run)")
        if bs.node is not None and bs.node.shard_of(tid) is not None:
            wholes[tid] = data  # each socket takes its part, as for iteration 0
        else:
            image[tid] = data
    node = replace(bs.node, wholes=wholes) if bs.node is not None else None
    return replace(bs, image=image, node=node, loop=None)


def split_inputs(bs: Bitstream, inputs: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """The first iteration's inputs and every iteration's per-layer inputs, from the loop's inputs
    (per-layer ones stacked on a leading axis of `trips`)."""
    trips, per_layer = bs.loop.trips, layer_loop_of(bs).per_layer
    if len(inputs) != len(bs.inputs):
        raise SimulationError(f"the loop takes {len(bs.inputs)} input(s), got {len(inputs)}")
    first = [np.asarray(a) for a in inputs]
    for n in per_layer:
        if first[n].ndim == 0 or first[n].shape[0] != trips:
            raise SimulationError(f"input {bs.tensor(bs.inputs[n]).name!r} is per layer: give its {trips} layers' values "
                                  f"stacked on a leading axis, got shape {first[n].shape}")
    layers = [[first[n][i] for n in per_layer] for i in range(trips)]
    for n in per_layer:
        first[n] = first[n][0]
    return first, layers


def simulate_loop(bitstream: bytes | Bitstream, inputs: Sequence[np.ndarray] | None, *,
                  chip: ChipSpec | str | None = None, execute: bool = True, launch: str | None = None,
                  fifos: str = "configured"):
    """Time (and with `execute`, run) the bitstream's loop; a `SimulationResult` (one socket) or a
    `NodeSimulationResult` (a node program) whose cycles are the whole loop's, with `.loop` its
    `LoopTiming`. `launch` None: the mode the LOOP section plans."""
    from functional_sim.node import check_node_program, node_result, simulate_node

    bs = as_bitstream(bitstream)
    if bs.loop is None:
        raise SimulationError("not a loop: the bitstream has no LOOP section (compile with --layers)")
    spec = _chip(bs, chip)
    check_node_program(bs, spec)
    check_loop(bs, spec)
    launch = launch or bs.loop.launch
    if bs.loop.whole_step:  # prologue and epilogue kernels around the loop (format 3.4)
        from functional_sim.step_run import simulate_step

        return simulate_step(bs, spec, inputs, execute=execute, launch=launch, fifos=fifos)
    timing = loop_timing(bs, spec, None, launch, fifos)  # `_chip` gave a node program its host's software launch
    outputs: list[list[np.ndarray]] = []
    if execute or inputs:
        first, layers = split_inputs(bs, inputs or [])
    if execute:
        _require_values(bs)
        programs = [iteration_program(bs, i) for i in range(bs.loop.trips)]
        if bs.node is not None:
            def run(program: Bitstream, values: list[np.ndarray]) -> list[np.ndarray]:
                outputs[:] = simulate_node(program, values, chip=spec, launch=launch, fifos=fifos).socket_outputs
                return outputs[0]  # every socket ends an iteration with the same carried value
        else:
            from functional_sim.simulator import TileMachine, bind_inputs

            def run(program: Bitstream, values: list[np.ndarray]) -> list[np.ndarray]:
                outputs[:] = [TileMachine(program, spec).run(bind_inputs(program, values))]
                return outputs[0]

        run_layer_loop(programs, first, layers, layer_loop_of(bs), run)
    result = loop_result(bs, spec, timing, outputs[0] if outputs else [])
    if bs.node is None:
        return result
    node = node_result(bs, result, [list(o) for o in outputs])
    node.socket_hbm_bytes = [loop_hbm_bytes(bs)] * bs.node.sockets
    node.loop = timing
    return node


def loop_result(bs: Bitstream, spec: ChipSpec, timing: LoopTiming, outputs: list[np.ndarray]) -> SimulationResult:
    result = SimulationResult(outputs=list(outputs), cycles=timing.cycles, seconds=timing.cycles / spec.clock_hz,
                              kernels=list(timing.kernels), setup_cycles=timing.setup_cycles,
                              sections=list(timing.sections),
                              tier_bytes=dict(timing.tier_bytes), chip=spec.name, clock_hz=spec.clock_hz,
                              launch=timing.launch, timing="event")
    result.loop = timing
    return result
