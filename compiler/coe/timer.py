"""How long an expert takes on the node: the one interface the serving simulator asks, and its
implementation from compiled, simulated programs.

`ExpertTimer` is all the server needs: `prefill_seconds(arch, tokens, batch)` (the prompt, up to
the first token) and `decode_step_seconds(arch, context, batch)` (one more token after `context`
tokens). `SimulatedTimer` answers from the real tensor-parallel programs, compiled with
`CompileOptions(node=<the CoE's node>, tp=<its tp>)` and timed by the node simulator
(functional_sim.node, timing only; compiler/coe/programs.py):

- a decoder runs tensor-parallel over the node's sockets (TP8 on sn40l-node8): `rdu-shard` gives
  each socket its share (heads, KV heads, FFN, vocabulary / TP) and the all-reduces between them,
  whose time on the peer links the simulator counts in the program's; the layer program
  (prefill at the length bucket, or one decode step against a KV cache of the context bucket) is
  compiled as a loop over the architecture's depth (its LOOP section: the file says how many
  layers and which values each has its own of), timed from the file with the head program (final
  norm, LM head) after it:
  `functional_sim.decode_step.decode_step_timing` with hardware (AGCU-orchestrated) launch, the
  paper's whole-decoder kernels: one launch per step, the layers overlapped in the event engine as
  far as the program's buffers allow. No analytic all-reduce is added
  (compiler/coe/collectives.py remains a documented cross-check: `breakdown` reports it next to
  the simulated figure);
- a MODEL.py expert runs whole on one socket: its fixed-length program's time is both its
  prefill and (without a KV cache) each decode step.

Lengths round up to a bucket (powers of two from 32, capped at the architecture's context) and
batches to a power of two, as a static dataflow compiler runs fixed-shape programs; every (architecture, options, part, bucket,
batch) is compiled and simulated once and cached (compiler/coe/programs.py), never per request.
"""

from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from chip_model.node import NodeSpec
from compiler.coe.architecture import Architecture, DecoderArchitecture
from compiler.coe.collectives import all_reduce_seconds
from compiler.coe.errors import CoEError
from compiler.coe.programs import ProgramCache, ProgramShape

MIN_BUCKET = 32
LAUNCH = "hardware"  # the SN40L's AGCU-orchestrated launch (paper §VI): layers run as one layer loop


class ExpertTimer(Protocol):
    def prefill_seconds(self, arch: Architecture, tokens: int, batch: int) -> float: ...

    def decode_step_seconds(self, arch: Architecture, context: int, batch: int) -> float: ...


def bucket(length: int, max_context: int) -> int:
    """The fixed length of the program that runs `length` tokens."""
    if length > max_context:
        raise CoEError(f"{length} tokens exceed the model's context of {max_context}")
    b = MIN_BUCKET
    while b < length:
        b *= 2
    return min(b, max_context)


def batch_bucket(batch: int) -> int:
    """Batches pad up to a power of two: 1, 2, 4, 8 ... (a router batch of 5 runs the 8 program)."""
    b = 1
    while b < batch:
        b *= 2
    return b


def buckets_between(first: int, last: int, max_context: int) -> list[int]:
    """Every bucket a run of lengths first..last passes through."""
    out = []
    b = bucket(first, max_context)
    while True:
        out.append(b)
        if b >= last or b >= max_context:
            return out
        b = min(b * 2, max_context)


def decode_seconds(timer: ExpertTimer, arch: Architecture, prompt: int, steps: int, batch: int) -> float:
    """Time of `steps` decode steps after a `prompt`-token prefill (contexts prompt .. prompt+steps-1),
    summed per bucket: a step's time depends on its context only through the bucket."""
    if steps <= 0:
        return 0.0
    contexts = np.arange(prompt, prompt + steps)
    total = 0.0
    for b in buckets_between(prompt, prompt + steps - 1, arch.max_context):
        lower = b // 2 if b > MIN_BUCKET else 0
        count = int(np.count_nonzero((contexts > lower) & (contexts <= b)))
        if count:
            total += count * timer.decode_step_seconds(arch, b, batch)
    return total


class SimulatedTimer:
    """Expert times from tensor-parallel programs compiled for the node and simulated on it."""

    def __init__(self, node: NodeSpec, programs: ProgramCache, launch: str = LAUNCH):
        self.node = node
        self.programs = programs
        self.tp = programs.tp
        self.launch = launch
        self.steps: dict[tuple, Any] = {}  # (layer key, head key, layers) -> DecodeStepTiming, simulated once

    # -- the programs each question needs (a server compiles them all up front: session.compile_all) --
    def shapes(self, arch: Architecture, phase: str, length: int, batch: int) -> list[ProgramShape]:
        if not isinstance(arch, DecoderArchitecture):
            return [ProgramShape("model", "fixed", arch.max_context, 1)]
        batch = batch_bucket(batch)
        return [ProgramShape("layer", phase, bucket(length, arch.max_context), batch),
                ProgramShape("head", "any", 1, batch)]

    # -- the interface --
    def prefill_seconds(self, arch: Architecture, tokens: int, batch: int) -> float:
        if not isinstance(arch, DecoderArchitecture):
            return self._whole_program_seconds(arch, tokens, batch)
        return self.step(arch, "prefill", tokens, batch).seconds

    def decode_step_seconds(self, arch: Architecture, context: int, batch: int) -> float:
        if not isinstance(arch, DecoderArchitecture):
            return self._whole_program_seconds(arch, context + 1, batch)
        return self.step(arch, "decode", context, batch).seconds

    def step(self, arch: DecoderArchitecture, phase: str, length: int, batch: int):
        """The simulated step (`DecodeStepTiming`): the layer program at the length bucket, a loop
        of `arch.layers` iterations in its file, then the head; simulated once per programs and depth."""
        from functional_sim.decode_step import decode_step_timing

        b, batch = bucket(length, arch.max_context), batch_bucket(batch)
        layer, head = ProgramShape("layer", phase, b, batch), ProgramShape("head", "any", 1, batch)
        key = (self.programs.key(arch, layer), self.programs.key(arch, head), arch.layers, self.launch)
        if key not in self.steps:
            self.programs.timing(arch, layer), self.programs.timing(arch, head)  # compiled and cached once
            self.steps[key] = decode_step_timing(self.programs.program_bytes(arch, layer),  # its LOOP section
                                                 self.programs.program_bytes(arch, head), arch.layers,
                                                 chip=self.node.chip, launch=self.launch)
        return self.steps[key]

    def breakdown(self, arch: DecoderArchitecture, phase: str, length: int, batch: int) -> dict[str, float]:
        """Where a step's time goes: layers and head (the total), of which the peer links were busy
        with collectives (simulated), next to the analytic all-reduce estimate (a cross-check)."""
        b, batch = bucket(length, arch.max_context), batch_bucket(batch)
        layer = self.programs.timing(arch, ProgramShape("layer", phase, b, batch))
        head = self.programs.timing(arch, ProgramShape("head", "any", 1, batch))
        size = arch.activation_bytes(batch, b if phase == "prefill" else 1)
        step = self.step(arch, phase, length, batch)
        return {"layers": (step.cycles - step.head_cycles) / step.clock_hz, "head": step.head_cycles / step.clock_hz,
                "total": step.seconds, "launch": step.launch,
                "layer_alone": layer.seconds, "layers_as_separate_runs": arch.layers * layer.seconds,
                "collectives_simulated": step.collective_cycles / step.clock_hz,
                "collectives_analytic": arch.layers * 2 * all_reduce_seconds(self.node, size, self.tp),
                "layer_opt_level": layer.opt_level, "head_opt_level": head.opt_level}

    def whole_decoder_step_seconds(self, arch: DecoderArchitecture, phase: str, length: int, batch: int) -> float:
        """What-if formula (not the default, kept as a cross-check of the simulated layer loop):
        one launch and one pipeline fill serve every layer and only the one-layer run's steady
        state repeats per layer, as if every layer's fill hid completely."""
        b, batch = bucket(length, arch.max_context), batch_bucket(batch)
        t = self.programs.timing(arch, ProgramShape("layer", phase, b, batch))
        steady = t.seconds - t.launch_seconds - t.fill_seconds
        head = self.programs.timing(arch, ProgramShape("head", "any", 1, batch)).seconds
        return arch.layers * steady + t.fill_seconds + t.launch_seconds + head

    def _whole_program_seconds(self, arch: Architecture, tokens: int, batch: int) -> float:
        """A fixed-length program costs the same whatever the tokens in its window (the server
        checks beforehand that every request fits the window)."""
        return batch * self.programs.timing(arch, ProgramShape("model", "fixed", arch.max_context, 1)).seconds


class WholeDecoderTimer(SimulatedTimer):
    """The what-if formula of `whole_decoder_step_seconds` as a timer: the same cached programs,
    one launch and one fill per step, every layer's fill hidden. Not the default (the default
    simulates the layer loop)."""

    def prefill_seconds(self, arch: Architecture, tokens: int, batch: int) -> float:
        if not isinstance(arch, DecoderArchitecture):
            return super().prefill_seconds(arch, tokens, batch)
        return self.whole_decoder_step_seconds(arch, "prefill", tokens, batch)

    def decode_step_seconds(self, arch: Architecture, context: int, batch: int) -> float:
        if not isinstance(arch, DecoderArchitecture):
            return super().decode_step_seconds(arch, context, batch)
        return self.whole_decoder_step_seconds(arch, "decode", context, batch)
