"""A kernel's structure, independent of which tensors it reads and writes.

The decoder layers of a model lower to kernels that differ only in their weights; kernels with
equal signatures are placed (and routed) once and the result reused for every copy.

`kernel_signature` keeps the off-chip addresses of the kernel's AGCU patterns (each layer's weights
live elsewhere in HBM), so the layers of a model are distinct kernels to it and each gets its own
share of the placer's budget. `kernel_structure` drops those addresses: what placement, routing and
the event timing read of a kernel is the same for every layer, so kernels of equal structure (and
equal budget) get equal placements, and the compile computes them once (`rdu-place`, `rdu-route`).
"""

from __future__ import annotations

from xdsl.dialects.builtin import ArrayAttr
from xdsl.ir import SSAValue

from dialects import rdu
from dialects.rdu_attrs import PatternAttr


PLACED = ("sites", "routes")  # what placement and routing decide, not part of the structure
OFF_CHIP = ("hbm", "ddr")  # pattern spaces whose offset says where a tensor lives, not how it streams


def kernel_signature(kernel: rdu.KernelOp) -> tuple:
    return _signature(kernel, str)


def kernel_structure(kernel: rdu.KernelOp) -> tuple:
    """`kernel_signature` without the off-chip offsets of address patterns: equal for the layers of
    a model, whose weights sit at different HBM addresses but stream in the same tiles."""
    return _signature(kernel, _without_off_chip_offsets)


def _without_off_chip_offsets(value) -> str:
    if isinstance(value, ArrayAttr) and value.data and all(isinstance(p, PatternAttr) for p in value.data):
        return str([(p.space.data, *(p.values()[1:] if p.space.data in OFF_CHIP else p.values())) for p in value.data])
    return str(value)


def _signature(kernel: rdu.KernelOp, text) -> tuple:
    stages = kernel.stages()
    position = {r: (i, j) for i, op in enumerate(stages) for j, r in enumerate(op.results)}
    parts = []
    for op in stages:
        attrs = tuple(sorted((k, text(v)) for k, v in {**op.properties, **op.attributes}.items() if k not in PLACED))
        operands = tuple(_operand_key(v, position) for v in op.operands)
        parts.append((op.name, attrs, operands, tuple(str(r.type) for r in op.results)))
    return tuple(parts)


def _operand_key(value: SSAValue, position: dict) -> tuple:
    if value in position:
        return ("stage", *position[value])
    return ("tensor", str(value.type))
