"""A layer loop: one compiled layer program run L times in a row, as the paper runs whole decoders.

The paper (§VI, §VIII) runs a whole decoder as one kernel: the identical layers are one
configuration that the units run again with each layer's weights and KV cache, launched by the
AGCUs (hardware-orchestrated), the program loaded once. rducc compiles one decoder layer; a
`LayerLoop` says how that program repeats: `layers` iterations, and which outputs feed which
inputs of the next iteration (`carry`: the hidden state). Every other input is the loop's
(`per_layer` inputs, e.g. a layer's KV cache, are given per iteration; the rest, e.g. the mask
and rotary tables, are the same for every layer), and weights are each layer's own (a layer's
memory image: same program, other base addresses).

Timing (`loop_timing`), by launch mode:

* `software` (host-orchestrated): the host launches every iteration after the previous one
  finished, so L iterations cost exactly L x (launch + the kernel's run): nothing is amortised.
* `hardware` (AGCU-orchestrated): one launch, then the event engine runs the repeated kernel
  (`repeat_graph`): every stage's tile steps and every stream's tiles run `layers` times over on
  the same units, FIFOs keep their configured depths, and the carried value is a FIFO from the
  store of the output to the load of the input (its first tile bound before the run). So a
  stage starts its next iteration as soon as it is done with this one and has credits: layer
  i+1's weights stream into their buffers while layer i drains, as far as the buffers allow, and
  the pipeline fill overlaps the previous drain. A stage pays `hardware_launch_cycles` between
  its iterations (its next arguments, the layer's base addresses); the program load is paid once,
  as setup. Cycles come out of that run, not a formula.

Overlap needs the iterations in one kernel: a program of several kernels (e.g. compiled at -O0)
runs its kernels in order every iteration, hardware-launched, with no overlap across kernels.

Functionally (`run_layer_loop`) each iteration runs the layer's program on its own weights, with
the carried outputs of the previous iteration bound to its inputs: what a loop of the same
configuration with per-layer base addresses computes.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Callable, Sequence

import numpy as np

from bitstream_format import Bitstream
from chip_model import ChipSpec
from chip_model.node import one_socket_hardware_launch_cycles

from functional_sim.errors import SimulationError
from functional_sim.event_graph import KernelGraph
from functional_sim.timing import KernelRecord, SectionRecord


@dataclass(frozen=True)
class LayerLoop:
    """`layers` iterations of one program; `carry` pairs (output index, input index), in the
    program's IOMP order: output o of iteration i is input n of iteration i + 1. `per_layer`:
    input indices each iteration is given its own value of (functional runs)."""

    layers: int
    carry: tuple[tuple[int, int], ...]
    per_layer: tuple[int, ...] = ()

    def check(self, bs: Bitstream) -> None:
        if self.layers < 1:
            raise SimulationError(f"a layer loop needs at least 1 layer, got {self.layers}")
        if not self.carry:
            raise SimulationError("a layer loop needs a carried value: an output that feeds the next layer's input")
        for o, n in self.carry:
            if not 0 <= o < len(bs.outputs):
                raise SimulationError(f"layer loop carries output {o}, but the program has {len(bs.outputs)} output(s)")
            if not 0 <= n < len(bs.inputs):
                raise SimulationError(f"layer loop carries into input {n}, but the program has {len(bs.inputs)} input(s)")
            out, inp = bs.tensor(bs.outputs[o]), bs.tensor(bs.inputs[n])
            if (out.dtype, tuple(out.shape)) != (inp.dtype, tuple(inp.shape)):
                raise SimulationError(
                    f"layer loop carries output {out.name!r} ({out.dtype} {tuple(out.shape)}) into input {inp.name!r} "
                    f"({inp.dtype} {tuple(inp.shape)}): a carried value must keep its dtype and shape")
        for n in self.per_layer:
            if not 0 <= n < len(bs.inputs):
                raise SimulationError(f"layer loop input {n} is per layer, but the program has {len(bs.inputs)} input(s)")
            if any(n == c for _, c in self.carry):
                raise SimulationError(f"layer loop input {n} is both carried and per layer")


def carry_stages(bs: Bitstream, stage_ids: Sequence[int], loop: LayerLoop) -> list[tuple[int, int]]:
    """(store stage, load stage) pairs, local indices in `stage_ids`, that carry the loop's values."""
    local = {sid: i for i, sid in enumerate(stage_ids)}
    pairs = []
    for o, n in loop.carry:
        out_t, in_t = bs.outputs[o], bs.inputs[n]
        stores = [local[s.id] for s in map(bs.stage, stage_ids) if s.opcode == "store" and s.tensor == out_t]
        loads = [local[s.id] for s in map(bs.stage, stage_ids) if s.opcode == "load" and s.tensor == in_t]
        if not stores or not loads:
            raise SimulationError(f"layer loop: the kernel does not both store output {bs.tensor(out_t).name!r} and "
                                  f"load input {bs.tensor(in_t).name!r}; cannot carry it to the next layer")
        pairs += [(stores[-1], ld) for ld in loads]
    return pairs


def repeat_graph(g: KernelGraph, iterations: int, carries: Sequence[tuple[int, int]], gap: float) -> KernelGraph:
    """`g` run `iterations` times over on the same units: steps and tiles repeated, FIFO depths
    kept, and for each (store, load) in `carries` a FIFO from the store to the load that holds one
    tile per iteration, the first bound before the run (the loop's input)."""
    r = replace(g, steps=[s * iterations for s in g.steps], stream_tiles=[t * iterations for t in g.stream_tiles],
                edge_tiles=[t * iterations for t in g.edge_tiles], out_streams=[list(x) for x in g.out_streams],
                in_edges=[list(x) for x in g.in_edges], stream_ids=list(g.stream_ids), stream_src=list(g.stream_src),
                stream_edges=[list(x) for x in g.stream_edges], stream_occupancy=list(g.stream_occupancy),
                stream_shared=[list(x) for x in g.stream_shared], edge_stream=list(g.edge_stream),
                edge_dst=list(g.edge_dst), edge_capacity=list(g.edge_capacity), edge_latency=list(g.edge_latency),
                iterations=iterations, iteration_gap=float(gap),
                edge_initial=list(g.edge_initial) or [0] * len(g.edge_tiles))
    for store, load in carries:
        s, e = len(r.stream_ids), len(r.edge_stream)
        r.stream_ids.append(-1 - s)  # not a bitstream stream: the carried value through memory
        r.stream_tiles.append(iterations)
        r.stream_src.append(store)
        r.stream_edges.append([e])
        r.stream_occupancy.append(0.0)  # the store's and the load's own steps move its bytes
        r.stream_shared.append([])
        r.out_streams[store].append(s)
        r.edge_stream.append(s)
        r.edge_dst.append(load)
        r.edge_tiles.append(iterations)
        r.edge_capacity.append(iterations + 1)  # never short of credits
        r.edge_latency.append(0.0)  # the store's write and the load's read latencies are their stages'
        r.edge_initial.append(1)
        r.in_edges[load].append(e)
    return r


@dataclass(frozen=True)
class LoopTiming:
    """A layer loop's time on one socket: `cycles` from the first launch to the last layer's last
    tile; `kernels` the records (one repeated kernel, or every kernel of every iteration run
    serially); what the loop saves over L separate runs is `serial_cycles - cycles`."""

    layers: int
    launch: str
    cycles: int
    serial_cycles: int  # L separate runs: L x (launch + one iteration), nothing amortised
    iteration_cycles: int  # one iteration on its own (launch + body), the single run
    launch_cycles: int  # launches paid by the loop
    setup_cycles: int  # program load, once (not per step and not per layer)
    kernels: tuple[KernelRecord, ...]
    tier_bytes: dict[str, int] = field(default_factory=dict)
    overlapped: bool = False  # the iterations ran as one repeated kernel in the event engine
    sections: tuple[SectionRecord, ...] = ()  # program loads on the loop's timeline

    def to_json(self) -> dict[str, Any]:
        return {"layers": self.layers, "launch": self.launch, "cycles": self.cycles, "serial_cycles": self.serial_cycles,
                "iteration_cycles": self.iteration_cycles, "launch_cycles": self.launch_cycles,
                "setup_cycles": self.setup_cycles, "overlapped": self.overlapped, "tier_bytes": self.tier_bytes}


def loop_timing(bs: Bitstream, chip: ChipSpec, loop: LayerLoop | None = None, launch: str = "hardware",
                fifos: str = "configured", kernel_timing: Callable[..., KernelRecord] | None = None) -> LoopTiming:
    """Time `loop.layers` iterations of `bs` (see the module doc for the two launch modes).
    `loop` None: the bitstream's own (its LOOP section, format 3.3), whose planned launch mode
    pays the section's iteration launch cycles between iterations."""
    from functional_sim.event_timing import event_kernel_timing
    from functional_sim.simulator import _chip
    from functional_sim.timing import LAUNCH_MODES, program_timing

    chip = _chip(bs, chip)  # a node program's software launch is its host's
    if launch not in LAUNCH_MODES:
        raise SimulationError(f"launch must be one of {', '.join(LAUNCH_MODES)}, got {launch!r}")
    gap = one_socket_hardware_launch_cycles(chip.launch)  # a looped kernel's iterations: no barrier (DeviceLaunch)
    if loop is None:
        if bs.loop is None:
            raise SimulationError("not a loop: the bitstream has no LOOP section (compile with --layers)")
        from functional_sim.loop_run import check_loop, layer_loop_of

        check_loop(bs, chip)
        loop = layer_loop_of(bs)
        if bs.loop.launch == "hardware":
            gap = bs.loop.iteration_launch_cycles
        bs = replace(bs, loop=None)
    loop.check(bs)
    timed = kernel_timing or partial(event_kernel_timing, fifos=fifos)
    single = program_timing(bs, chip, launch, timed)
    L = loop.layers
    serial = L * single.cycles
    setup = single.setup_cycles
    if launch == "software" or len(bs.kernels) != 1 or len(bs.sections) != 1:
        # software: a host launch per iteration; several kernels: each iteration runs them in order
        # (no overlap across a kernel boundary). Every iteration's records, one after another.
        kernels = tuple(replace(k, start=k.start + i * single.cycles) for i in range(L) for k in single.kernels)
        loads = single.sections if setup else tuple(
            replace(s, start=s.start + i * single.cycles) for i in range(L) for s in single.sections)
        return LoopTiming(L, launch, serial, serial, single.cycles, L * sum(k.launch_cycles for k in single.kernels),
                          setup, kernels, {t: L * b for t, b in single.tier_bytes.items()}, False, loads)
    k = bs.kernels[0]

    def transform(g: KernelGraph) -> KernelGraph:
        return repeat_graph(g, L, carry_stages(bs, g.stage_ids, loop), gap)

    record = timed(bs, chip, k, setup, launch, graph=transform)  # the program is loaded once, before the loop
    tiers = {t: b for t, b in record.tier_bytes.items()}
    return LoopTiming(L, launch, record.cycles, serial, single.cycles, record.launch_cycles, setup, (record,),
                      tiers, True, single.sections)


def loop_hbm_bytes(bs: Bitstream, loop: LayerLoop | None = None) -> int:
    """A socket's HBM footprint with every layer's weights and per-layer inputs resident: the
    program's plan, plus (layers - 1) more copies of what each layer has its own of (`loop` None:
    the bitstream's LOOP section says where each copy is)."""
    if loop is None:
        from bitstream_format.loop_program import loop_hbm_bytes as placed

        return placed(bs)
    own = {bs.inputs[n] for n in loop.per_layer} | {t.id for t in bs.tensors if t.role == "weight"}
    per_layer = sum(t.nbytes for t in bs.tensors if t.id in own and t.tier == "hbm")
    base = max((t.offset + t.nbytes for t in bs.tensors if t.tier == "hbm"), default=0)
    return base + (loop.layers - 1) * per_layer


def run_layer_loop(layer_programs: Sequence[Bitstream], inputs: Sequence[np.ndarray],
                   per_layer_inputs: Sequence[Sequence[np.ndarray]], loop: LayerLoop,
                   run: Callable[[Bitstream, list[np.ndarray]], list[np.ndarray]]) -> list[np.ndarray]:
    """Run iteration i on `layer_programs[i]` (the same program with layer i's weights) with
    `inputs`, layer i's `per_layer_inputs[i]` in the `loop.per_layer` slots, and the previous
    iteration's carried outputs; `run(program, inputs)` runs one iteration. The last
    iteration's outputs are the loop's."""
    if len(layer_programs) != loop.layers:
        raise SimulationError(f"a layer loop of {loop.layers} layers needs {loop.layers} layer programs "
                              f"(one memory image per layer), got {len(layer_programs)}")
    first = layer_programs[0]
    loop.check(first)
    for i, bs in enumerate(layer_programs[1:], 1):
        if not same_program(first, bs):
            raise SimulationError(f"layer {i}'s program differs from layer 0's beyond its weights: a layer loop runs "
                                  f"one configuration")
    if len(per_layer_inputs) != loop.layers and loop.per_layer:
        raise SimulationError(f"a layer loop of {loop.layers} layers needs per-layer inputs for each layer, "
                              f"got {len(per_layer_inputs)}")
    values = list(inputs)
    outputs: list[np.ndarray] = []
    for i, bs in enumerate(layer_programs):
        for slot, n in enumerate(loop.per_layer):
            values[n] = per_layer_inputs[i][slot]
        outputs = run(bs, list(values))
        for o, n in loop.carry:
            values[n] = outputs[o]
    return outputs


def same_program(a: Bitstream, b: Bitstream) -> bool:
    """Whether two bitstreams are one configuration (stages, streams, kernels, tensor plan, tile
    programs and node program agree); only their memory images may differ."""
    def plan(bs: Bitstream):
        return [(t.id, t.dtype, tuple(t.shape), t.tier, t.offset, t.nbytes, t.role) for t in bs.tensors]
    node = (lambda bs: None if bs.node is None else (bs.node.node, bs.node.sockets, bs.node.shards, bs.node.peer_streams))
    return (a.chip == b.chip and plan(a) == plan(b) and a.stages == b.stages and a.streams == b.streams
            and a.kernels == b.kernels and a.sections == b.sections and a.tiles == b.tiles
            and a.inputs == b.inputs and a.outputs == b.outputs and node(a) == node(b))
