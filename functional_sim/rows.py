"""`store_rows`: write rows into a state tensor's own memory at runtime indices (a KV cache append);
`load_rows`: read only the rows at runtime indices of a tensor in memory (an embedding lookup).

Only the bytes of the written rows are touched: for a (B, H, L, D) cache and dim 2, each new
row is B*H contiguous runs of D elements. Every other byte of the tensor keeps what an earlier
run (or the image) put there, which is what lets a cache persist across decode steps.
"""

from __future__ import annotations

from math import prod

import numpy as np

from bitstream_format import TensorEntry, itemsize
from functional_sim.dtypes import from_bytes, to_bytes
from functional_sim.errors import SimulationError
from functional_sim.memory import Memory, describe


def store_rows(memory: Memory, t: TensorEntry, rows: np.ndarray, index: np.ndarray, dim: int, what: str) -> None:
    shape = tuple(t.shape)
    dim = dim % len(shape)
    index = np.asarray(index).reshape(-1)
    bad = index[(index < 0) | (index >= shape[dim])]
    if bad.size:
        raise SimulationError(f"{what} writes row {int(bad[0])} of {describe(t)}, which has {shape[dim]} rows along dim {dim}")
    rows = np.asarray(rows).reshape(shape[:dim] + (len(index),) + shape[dim + 1:])
    run = prod(shape[dim + 1:]) * itemsize(t.dtype)  # bytes of one row inside one outer slice
    space = memory.space(t)
    for outer in np.ndindex(*shape[:dim]):
        base = np.ravel_multi_index(outer, shape[:dim]) * shape[dim] if dim else 0
        for i, row in enumerate(index):
            data = to_bytes(np.ascontiguousarray(rows[outer + (i,)]), t.dtype)
            space.write(t.offset + (base + int(row)) * run, data, describe(t))


def load_rows(memory: Memory, t: TensorEntry, index: np.ndarray, dim: int, what: str) -> np.ndarray:
    """The rows `index` (any shape) along `dim` of `t`, read from its memory one row run at a time:
    only those rows' bytes are read (an embedding's token ids pick their rows out of the table).
    The index's shape replaces `dim` in the result's."""
    shape = tuple(t.shape)
    dim = dim % len(shape)
    index = np.asarray(index)
    flat = index.reshape(-1)
    bad = flat[(flat < 0) | (flat >= shape[dim])]
    if bad.size:
        raise SimulationError(f"{what} reads row {int(bad[0])} of {describe(t)}, which has {shape[dim]} rows along dim {dim}")
    run = prod(shape[dim + 1:]) * itemsize(t.dtype)
    space = memory.space(t)
    parts = []
    for outer in np.ndindex(*shape[:dim]):
        base = np.ravel_multi_index(outer, shape[:dim]) * shape[dim] if dim else 0
        parts += [space.read(t.offset + (base + int(row)) * run, run, describe(t)) for row in flat]
    value = from_bytes(b"".join(parts), t.dtype, shape[:dim] + (len(flat),) + shape[dim + 1:])
    return value.reshape(shape[:dim] + index.shape + shape[dim + 1:])
