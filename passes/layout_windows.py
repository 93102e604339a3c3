"""The SRAM program of a layout stage that streams by windows: a transpose of the last two axes
and an expand (`bitstream_format.tiling.window_loop`, orders `transpose` and `repeat`).

Why windows: attention's `k.transpose(-2, -1)` needs a whole `[S, D]` matrix before its first
output row (row d is column d of every position), and GQA's `expand` emits each KV head once per
query head of its group. Neither needs more than one matrix, one head, of its input at a time,
so instead of holding the whole value (a pipeline break that splits the kernel into phases) the
stage's PMUs hold two windows: one filling while the other drains. The layout is done by the
PMU's address decoders, as the paper's PMUs do: the transpose writes each arriving row down a
column of its window and reads the window row after row; the expand writes its window in order
and reads it `repeats` times from its start (a read stride of 0), so the KV head is never copied
in SRAM, only read once per query head.

A window's bytes spread over the stage's PMUs (`sram_tile` bytes each, the window's address a on
PMU a div sram_tile), two slots per PMU (`sram_slots` 2). rdu-tile calls `window_program` for
such a stage; the tile machine runs it through real per-PMU SRAM at those addresses
(`functional_sim.tile_machine.TileExecutor.windowed_layout`).
"""

from __future__ import annotations

from math import ceil, prod

from xdsl.dialects.builtin import ArrayAttr, IntegerAttr, i64

from bitstream_format.tiling import TileLoop, window_patterns
from chip_model import ChipSpec
from dialects import rdu
from dialects.rdu_attrs import PatternAttr, SramAttr
from dialects.types import shape_of
from dialects.types import value_bytes as type_bytes

WINDOW_SLOTS = 2  # one window filling, one draining


def window_bytes(stage: rdu.ComputeOp, loop: TileLoop) -> int:
    """Bytes of one window of the stage's input."""
    value = stage.inputs[0]
    return type_bytes(value.type) // max(1, loop.grid[0])


def window_program(kernel: rdu.KernelOp, stage: rdu.ComputeOp, loop: TileLoop, chip: ChipSpec) -> None:
    """Give a window stage the PMUs two windows need (as far as the kernel leaves PMUs free), its
    SRAM range and its four address patterns; `fits` names the stage when the PMUs cannot hold
    them."""
    from passes.tile import TilePass, fits

    window = window_bytes(stage, loop)
    TilePass.widen(kernel, stage, ceil(WINDOW_SLOTS * window / chip.pmu.sram_bytes), chip)
    share = ceil(window / stage.unit_count)
    held = WINDOW_SLOTS * share  # not the whole value rdu-allocate-units sized it for
    fits(kernel, stage, held, f"holds {WINDOW_SLOTS} {window}-byte windows over its {stage.unit_count} PMU(s)", chip)
    value, out = stage.inputs[0], stage.outputs[0]
    itemsize = type_bytes(value.type) // max(1, prod(shape_of(value.type)))
    stage.bytes = IntegerAttr(held, i64)
    stage.sram = SramAttr(0, held, WINDOW_SLOTS, share)
    stage.patterns = ArrayAttr([PatternAttr("sram", *p) for p in window_patterns(
        loop.order, shape_of(value.type), shape_of(out.type), max(1, itemsize))])
