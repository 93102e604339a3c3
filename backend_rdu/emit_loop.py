"""The LOOP section of a looped program (format 3.3), from a module `rdu-layer-loop` marked.

The program itself is emitted as one iteration (the layer); this adds what repeats it: the trip
count, the carried tensors, each iteration's own copy of every weight, state and per-layer input,
and the images of iterations 1.. of the weights.

Where the copies go is a fixed rule of the format's writer, not a choice (like the memory image's
alignment): iteration 0's copy is where rdu-plan-memory put the tensor; the copies of iteration
i >= 1 are one block per iteration above everything the plan uses in that tier, the block holding
every looped tensor of the tier in tensor order, each at a multiple of `ALIGN`. So every looped
tensor's stride is its tier's block size, and a socket's HBM holds L images of the layer's weights.

A loop with a body (a whole decode step, `rdu-layer-loop{body=...}`) loops only the body's kernels,
the ones named after the body module (rdu-fuse ended kernels at its bounds, and a kernel takes the
longest module path its ops share): the kernels before are the prologue, the ones after the
epilogue (format 3.4). Its carry is the one activation the prologue stores and the body loads, and
the one the body stores and the epilogue loads (the IR's carried value, checked by the pass); only
the weights and states the body's kernels read are per layer.
"""

from __future__ import annotations

import re
from typing import Sequence

from xdsl.dialects.builtin import ModuleOp

from bitstream_format import Bitstream
from bitstream_format.loop_program import IterationAddress, LoopProgram, tensors_of
from chip_model import ChipSpec
from chip_model.node import one_socket_hardware_launch_cycles
from dialects.diagnostics import RduccError
from dialects.loop_attr import loop_of

ALIGN = 64


def _aligned(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def loop_program(module: ModuleOp, bs: Bitstream, chip: ChipSpec,
                 layer_weights: Sequence[dict[str, bytes | None]] | None = None) -> LoopProgram | None:
    """The module's loop (None if it is not one). `layer_weights[i - 1]` holds iteration i's
    bytes of each weight and state by name (whole, before any tensor-parallel split); without
    it every iteration gets iteration 0's bytes (a shapes-only program: none)."""
    attr = loop_of(module)
    if attr is None:
        return None
    prologue, kernels, epilogue, carries = _parts(attr.body, bs) if attr.body else (
        (), tuple(k.id for k in bs.kernels), (), tuple((bs.outputs[o], bs.inputs[n]) for o, n in attr.carry))
    body_tensors = set().union(*tensors_of(bs, kernels))
    looped = [bs.tensor(bs.inputs[n]) for n in attr.per_layer]
    looped += [t for t in bs.tensors if t.role in ("weight", "state") and t.id in body_tensors]
    looped.sort(key=lambda t: t.id)
    addresses = []
    for tier in sorted({t.tier for t in looped}):
        mine = [t for t in looped if t.tier == tier]
        base = _aligned(max(t.offset + t.nbytes for t in bs.tensors if t.tier == tier))
        block = sum(_aligned(t.nbytes) for t in mine)
        at = base
        for t in mine:
            addresses.append(IterationAddress(t.id, at, block))
            at += _aligned(t.nbytes)
    images: dict[tuple[int, int], bytes] = {}
    wholes = bs.node.wholes if bs.node is not None else {}
    for t in looped:
        first = wholes.get(t.id, bs.image.get(t.id)) if t.role in ("weight", "state") else None
        if first is None:
            continue
        for i in range(1, attr.layers):
            data = first if layer_weights is None else layer_weights[i - 1].get(t.name)
            if data is None:
                raise RduccError(f"layer {i} has no weight {t.name!r} (the layer's weights must have the names and "
                                     f"shapes of layer 0's)")
            if len(data) != len(first):
                raise RduccError(f"layer {i}'s weight {t.name!r} has {len(data):,} bytes, layer 0's {len(first):,}")
            images[(t.id, i)] = data
    launch_cycles = one_socket_hardware_launch_cycles(chip.launch) if attr.launch == "hardware" else chip.launch.software_launch_cycles
    return LoopProgram("layers", attr.layers, kernels, attr.launch, launch_cycles, carries, tuple(addresses), images,
                       prologue, epilogue)


def _parts(body: str, bs: Bitstream) -> tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...], tuple[tuple[int, int]]]:
    """(prologue, body, epilogue kernels, carry) of a loop with a body, from the kernels' names."""
    def of_body(name: str) -> bool:
        base = re.sub(r"_\d+$", "", name)
        return base == body or base.startswith(body + ".")

    ids = [k.id for k in bs.kernels]
    mine = [i for i, k in enumerate(bs.kernels) if of_body(k.name)]
    if not mine or mine != list(range(mine[0], mine[-1] + 1)) or mine[0] == 0:
        raise RduccError(f"loop body {body!r}: its kernels {[bs.kernels[i].name for i in mine]} are not one stretch "
                         f"after a prologue among {[k.name for k in bs.kernels]}")
    prologue, kernels, epilogue = tuple(ids[: mine[0]]), tuple(ids[mine[0] : mine[-1] + 1]), tuple(ids[mine[-1] + 1 :])
    p_loads, p_stores = tensors_of(bs, prologue)
    b_loads, b_stores = tensors_of(bs, kernels)
    e_loads, _ = tensors_of(bs, epilogue)
    entering = sorted(b_loads & p_stores)
    leaving = sorted(t for t in b_stores if t in e_loads or t in bs.outputs)
    if len(entering) != 1 or len(leaving) != 1:
        names = lambda ts: [bs.tensor(t).name for t in ts]  # noqa: E731
        raise RduccError(f"loop body {body!r} loads {names(entering)} from the prologue and stores {names(leaving)} "
                         f"for the epilogue: a loop carries one value")
    return prologue, kernels, epilogue, ((leaving[0], entering[0]),)
