"""The instruction set a bitstream configures units with.

Numbering is part of the format: a code, once shipped, keeps its meaning (append, never reorder).
Each opcode names the unit kind that executes it and its work per output element, which both the
compiler (roofline, stage balancing) and the simulator (cycle estimate) read from here so they can
never disagree about what an operation costs. Each compute opcode also carries its signature
(parameters and typing rule, `bitstream_format.signatures`), which the compiler's verifiers check
every operation against.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import ceil, log2, prod

from bitstream_format.signatures import SIGNATURES, Signature


@dataclass(frozen=True)
class Opcode:
    code: int
    name: str
    unit: str  # "pcu", "pmu" or "agcu"
    family: str  # collective, unary, binary, ternary, reduce, scan, matmul, layout, generate, memory, select
    flops_per_element: float = 1.0  # per output element (inputs for reductions); matmul is special
    transcendental: bool = False
    signature: Signature | None = field(default=None, repr=False)  # None for memory opcodes


_TABLE: list[tuple[str, str, str, float, bool]] = [
    # memory movement (AGCU) and buffering (PMU)
    ("load", "agcu", "memory", 0, False),
    ("store", "agcu", "memory", 0, False),
    ("buffer", "pmu", "memory", 0, False),
    # elementwise unary (PCU body; transcendentals in the tail)
    ("neg", "pcu", "unary", 1, False),
    ("abs", "pcu", "unary", 1, False),
    ("exp", "pcu", "unary", 1, True),
    ("log", "pcu", "unary", 1, True),
    ("sqrt", "pcu", "unary", 1, True),
    ("rsqrt", "pcu", "unary", 1, True),
    ("reciprocal", "pcu", "unary", 1, True),
    ("tanh", "pcu", "unary", 1, True),
    ("sigmoid", "pcu", "unary", 1, True),
    ("relu", "pcu", "unary", 1, False),
    ("silu", "pcu", "unary", 2, True),
    ("gelu", "pcu", "unary", 4, True),
    ("sin", "pcu", "unary", 1, True),
    ("cos", "pcu", "unary", 1, True),
    ("erf", "pcu", "unary", 1, True),
    ("floor", "pcu", "unary", 1, False),
    ("ceil", "pcu", "unary", 1, False),
    ("logical_not", "pcu", "unary", 1, False),
    ("bitwise_not", "pcu", "unary", 1, False),
    ("isnan", "pcu", "unary", 1, False),
    ("cast", "pcu", "unary", 1, False),
    # elementwise binary
    ("add", "pcu", "binary", 1, False),
    ("sub", "pcu", "binary", 1, False),
    ("mul", "pcu", "binary", 1, False),
    ("div", "pcu", "binary", 1, False),
    ("pow", "pcu", "binary", 1, True),
    ("maximum", "pcu", "binary", 1, False),
    ("minimum", "pcu", "binary", 1, False),
    ("remainder", "pcu", "binary", 1, False),
    ("floor_divide", "pcu", "binary", 1, False),
    ("eq", "pcu", "binary", 1, False),
    ("ne", "pcu", "binary", 1, False),
    ("lt", "pcu", "binary", 1, False),
    ("le", "pcu", "binary", 1, False),
    ("gt", "pcu", "binary", 1, False),
    ("ge", "pcu", "binary", 1, False),
    ("logical_and", "pcu", "binary", 1, False),
    ("logical_or", "pcu", "binary", 1, False),
    ("bitwise_and", "pcu", "binary", 1, False),
    ("bitwise_or", "pcu", "binary", 1, False),
    ("bitwise_xor", "pcu", "binary", 1, False),
    ("where", "pcu", "ternary", 1, False),
    # reductions and scans (PCU cross-lane reduction tree)
    ("sum", "pcu", "reduce", 1, False),
    ("mean", "pcu", "reduce", 1, False),
    ("amax", "pcu", "reduce", 1, False),
    ("amin", "pcu", "reduce", 1, False),
    ("prod", "pcu", "reduce", 1, False),
    ("argmax", "pcu", "reduce", 1, False),
    ("softmax", "pcu", "reduce", 5, True),
    ("log_softmax", "pcu", "reduce", 5, True),
    ("cumsum", "pcu", "scan", 1, False),
    ("topk", "pcu", "select", 1, False),
    # matrix multiply (systolic body): flops are 2*M*N*K, computed by work_flops
    ("matmul", "pcu", "matmul", 0, False),
    ("linear", "pcu", "matmul", 0, False),
    # data movement inside PMUs (address generators and the data-alignment unit)
    ("reshape", "pmu", "layout", 0, False),
    ("permute", "pmu", "layout", 0, False),
    ("expand", "pmu", "layout", 0, False),
    ("slice", "pmu", "layout", 0, False),
    ("concat", "pmu", "layout", 0, False),
    ("gather", "pmu", "layout", 0, False),
    ("index_select", "pmu", "layout", 0, False),
    ("embedding", "pmu", "layout", 0, False),
    # generators (PCU counters)
    ("full", "pcu", "generate", 0, False),
    ("arange", "pcu", "generate", 0, False),
    ("triu", "pmu", "layout", 0, False),
    ("tril", "pmu", "layout", 0, False),
    ("index", "pmu", "layout", 0, False),
    # vision, sorting and scatter (issue 10)
    ("im2col", "pmu", "layout", 0, False),
    ("batch_norm", "pcu", "unary", 2, False),
    ("sort", "pcu", "select", 1, False),
    ("slice_scatter", "pmu", "layout", 0, False),
    ("index_put", "pmu", "layout", 0, False),
    ("scatter", "pmu", "layout", 0, False),
    # collectives over the node's peer-to-peer network, run by AGCUs inside compute kernels (issue 12)
    ("all_reduce", "agcu", "collective", 1, False),
    ("all_gather", "agcu", "collective", 0, False),
    ("reduce_scatter", "agcu", "collective", 1, False),
    # in-place update of persistent state (a static KV cache): rows written at runtime indices
    ("store_rows", "agcu", "memory", 0, False),
    # elementwise functions of the PCU tail, selected by the `fn` parameter (OpInfo coverage, issue 10)
    ("math", "pcu", "unary", 1, True),
    # indexed row load (an embedding lookup): only the rows at runtime indices read from the tier
    ("load_rows", "agcu", "memory", 0, False),
]

OPCODES: dict[str, Opcode] = {
    name: Opcode(code, name, unit, family, flops, trans, SIGNATURES.get(name))
    for code, (name, unit, family, flops, trans) in enumerate(_TABLE)
}

BY_CODE: dict[int, Opcode] = {op.code: op for op in OPCODES.values()}


def opcode(name: str) -> Opcode:
    try:
        return OPCODES[name]
    except KeyError:
        raise KeyError(f"no opcode named {name!r}") from None


def work_flops(name: str, input_shapes: list[tuple[int, ...]], output_shapes: list[tuple[int, ...]]) -> float:
    """Arithmetic work of one operation, from its operand shapes.

    Matmul-like ops count 2*M*N*K; reductions count per input element; everything else per
    output element.
    """
    op = opcode(name)
    if op.family == "matmul":
        k = input_shapes[0][-1] if input_shapes[0] else 1
        out = prod(output_shapes[0])
        flops = 2.0 * out * k
        if name == "linear" and len(input_shapes) > 2:
            flops += out
        return flops
    if name == "sort":  # a merge network: log2(n) passes over every element, n the longest dim
        return op.flops_per_element * prod(input_shapes[0]) * max(1, ceil(log2(max(input_shapes[0], default=1))))
    if op.family in ("reduce", "scan", "select"):
        return op.flops_per_element * prod(input_shapes[0])
    return op.flops_per_element * sum(prod(s) for s in output_shapes)
