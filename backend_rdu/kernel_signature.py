"""A kernel's structure, independent of which tensors it reads and writes.

The decoder layers of a model lower to kernels that differ only in their weights; kernels with
equal signatures are placed (and routed) once and the result reused for every copy.
"""

from __future__ import annotations

from xdsl.ir import SSAValue

from dialects import rdu


PLACED = ("sites", "routes")  # what placement and routing decide, not part of the structure


def kernel_signature(kernel: rdu.KernelOp) -> tuple:
    stages = kernel.stages()
    position = {r: (i, j) for i, op in enumerate(stages) for j, r in enumerate(op.results)}
    parts = []
    for op in stages:
        attrs = tuple(sorted((k, str(v)) for k, v in {**op.properties, **op.attributes}.items() if k not in PLACED))
        operands = tuple(_operand_key(v, position) for v in op.operands)
        parts.append((op.name, attrs, operands, tuple(str(r.type) for r in op.results)))
    return tuple(parts)


def _operand_key(value: SSAValue, position: dict) -> tuple:
    if value in position:
        return ("stage", *position[value])
    return ("tensor", str(value.type))
