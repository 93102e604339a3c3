"""The time of one decode step of a decoder on a node: L layers as a layer loop, then the head.

What benchmarks and the Composition-of-Experts server ask: how long does one more token take?
A step runs the compiled decoder layer `layers` times as a layer loop (functional_sim.layer_loop:
with hardware launch, one launch and the iterations overlapped in the event engine, as far as
the program's buffers let the next layer's weights stream while the previous layer drains; with
software launch, every layer its own host launch and run) and then the head program (final norm
and vocabulary projection). Both programs stay loaded (two kernels' configurations, within the
chip's `launch.config_slots`), so the program loads are setup, paid once, not per step.

Every figure comes out of the simulator (`simulate_node` and the event engine); nothing here is a
formula on top of it. The breakdown says where a layer's cycles go: its HBM time and the event
run's critical path by cause (`critical_causes`), the evidence for what bounds a layer in the loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from bitstream_format import Bitstream
from bitstream_format.node_program import COLLECTIVES
from chip_model import ChipSpec

from functional_sim.errors import SimulationError
from functional_sim.layer_loop import LayerLoop, LoopTiming, loop_hbm_bytes, loop_timing
from functional_sim.simulator import _chip, as_bitstream
from functional_sim.timing import program_timing


@dataclass(frozen=True)
class DecodeStepTiming:
    """One decode step on one socket of the node (every socket runs the same program)."""

    layers: int
    launch: str
    cycles: int  # the step: the layer loop, then the head
    clock_hz: float
    loop: LoopTiming
    head_cycles: int
    collective_cycles: int  # cycles collective stages kept the peer links busy (layers and head)
    hbm_bytes_moved: int  # HBM bytes a socket reads and writes in one step
    setup_cycles: int  # program loads, once, before the first step
    breakdown: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.cycles / self.clock_hz

    @property
    def tokens_per_second(self) -> float:
        return self.clock_hz / self.cycles if self.cycles else 0.0

    def to_json(self) -> dict[str, Any]:
        return {"layers": self.layers, "launch": self.launch, "cycles": self.cycles, "seconds": self.seconds,
                "tokens_per_second": self.tokens_per_second, "loop": self.loop.to_json(),
                "head_cycles": self.head_cycles, "collective_cycles": self.collective_cycles,
                "hbm_bytes_moved": self.hbm_bytes_moved, "setup_cycles": self.setup_cycles,
                "breakdown": self.breakdown}


def collective_cycles_of(kernels) -> int:
    return sum(s.cycles for k in kernels for s in k.stages if s.opcode in COLLECTIVES)


CRITICAL_CAUSES = ("program_load", "launch", "agcu", "tier", "compute", "sram", "network", "peer")
"""What a layer's cycles on the critical path are spent on (`critical_causes`): `program_load`
the section loads a program of several sections pays every run; `launch` the launches; `agcu` a
load's or store's own steps (its AGCUs' rate: rdu-allocate-units' share); `tier` a load or store
waiting for its memory tier's bandwidth (the tier's arbitration between AGCUs); `compute` /
`sram` a PCU / PMU stage's steps; `network` a tile's trip or a credit's return on a stream (a
FIFO's credits); `peer` a collective stage on the peer links."""


def critical_causes(bs: Bitstream, lt: LoopTiming) -> dict[str, float]:
    """Cycles per layer of the loop's critical path by cause (`CRITICAL_CAUSES`): the event run's
    chain of steps, tiles, credits and tier waits that set its finish (functional_sim.critical_path),
    whose segments add up to the body. Where the cycles above the HBM time of a layer's bytes go."""
    causes = dict.fromkeys(CRITICAL_CAUSES, 0.0)
    if not lt.setup_cycles:  # several sections: their loads are on the loop's timeline
        causes["program_load"] = float(sum(s.load_cycles for s in lt.sections))
    records = lt.kernels if not lt.overlapped else lt.kernels[:1]
    for record in records:
        causes["launch"] += record.launch_cycles
        if record.run is None:
            continue
        g, run = record.run
        for (kind, x), cycles in run.critical.items():
            if kind == "stage":
                stage = bs.stage(g.stage_ids[x])
                if stage.unit == "agcu":
                    cause = "agcu" if stage.tensor >= 0 else "peer"
                else:
                    cause = "compute" if stage.unit == "pcu" else "sram"
            elif kind == "resource":
                cause = {"hbm": "tier", "ddr": "tier", "peer": "peer"}.get(g.resource_kinds[x], "network")
            else:  # a stream's tiles or a FIFO's credits
                cause = "network"
            causes[cause] += cycles
    return {c: round(v / lt.layers, 1) for c, v in causes.items()}


def decode_step_timing(layer: bytes | Bitstream, head: bytes | Bitstream | None, layers: int | None = None, *,
                       chip: ChipSpec | str | None = None, launch: str = "hardware",
                       carry: tuple[tuple[int, int], ...] = ((0, 0),), fifos: str = "configured") -> DecodeStepTiming:
    """Time one decode step: the `layer` program's loop (its LOOP section: iterations, carries, per-layer
    addresses), then the `head` program (None: no head). A layer program without a LOOP section is
    looped `layers` times here (output `o` feeding input `n` of the next layer for each (o, n) in `carry`)."""
    lbs = as_bitstream(layer)
    spec = _chip(lbs, chip)
    if lbs.loop is not None:
        if layers not in (None, lbs.loop.trips):
            raise SimulationError(f"the layer program is a loop of {lbs.loop.trips} layers, not {layers}")
        layers = lbs.loop.trips
    if layers is None or layers < 1:
        raise SimulationError(f"a decode step needs at least 1 layer, got {layers}")
    from functional_sim.event_timing import event_kernel_timing
    from functional_sim.node import check_node_program

    check_node_program(lbs, spec)  # `_chip` gave a node program its host's software launch, on every socket
    lt = loop_timing(lbs, spec, None if lbs.loop is not None else LayerLoop(layers, carry), launch, fifos)
    head_cycles = head_setup = head_collective = head_hbm = 0
    if head is not None:
        hbs = as_bitstream(head)
        head_spec = _chip(hbs, spec)  # the head's own sockets' launch
        check_node_program(hbs, head_spec)
        timed = partial(event_kernel_timing, fifos=fifos)
        ht = program_timing(hbs, head_spec, launch, timed)
        head_cycles, head_setup = ht.cycles, ht.setup_cycles
        head_collective = collective_cycles_of(ht.kernels)
        head_hbm = ht.tier_bytes.get("hbm", 0)
    single = lt.iteration_cycles
    body = lt.kernels[0].cycles - lt.kernels[0].launch_cycles if lt.overlapped else 0
    breakdown = {
        "layer_alone_cycles": single,  # one layer as its own launch and run
        "layer_launch_cycles": lt.kernels[0].launch_cycles if lt.kernels else 0,
        "layer_cycles_in_loop": (lt.cycles - lt.launch_cycles) / layers,
        "loop_saving_cycles": lt.serial_cycles - lt.cycles,  # launches and overlapped fill/drain
        "loop_body_cycles": body,
        "head_cycles": head_cycles,
        # where a layer's cycles go: the tier's busy time (the HBM time of its bytes) and the critical path by cause
        "layer_hbm_cycles": round(hbm_busy(lt) / layers, 1),
        "layer_critical_path": critical_causes(lbs, lt),
    }
    return DecodeStepTiming(
        layers=layers, launch=launch, cycles=lt.cycles + head_cycles, clock_hz=spec.clock_hz, loop=lt,
        head_cycles=head_cycles, collective_cycles=collective_cycles_of(lt.kernels)
        + head_collective, hbm_bytes_moved=lt.tier_bytes.get("hbm", 0) + head_hbm,
        setup_cycles=lt.setup_cycles + head_setup, breakdown=breakdown)


def hbm_busy(lt: LoopTiming) -> int:
    """Cycles the loop kept HBM busy (its bytes at the tier's bandwidth, as the event run served them)."""
    records = lt.kernels if not lt.overlapped else lt.kernels[:1]
    return sum(r.tier_cycles.get("hbm", 0) for r in records)


def decode_step_hbm_bytes(layer: Bitstream, head: Bitstream | None, layers: int | None = None,
                          per_layer: tuple[int, ...] = ()) -> int:
    """A socket's resident HBM for the whole decoder: every layer's weights (and per-layer inputs)
    plus the head's (a looped layer program: where its LOOP section puts every layer's copies)."""
    from functional_sim.node import hbm_bytes

    loop = None if layer.loop is not None else LayerLoop(layers, ((0, 0),), per_layer)
    return loop_hbm_bytes(layer, loop) + (hbm_bytes(head) if head is not None else 0)
