"""The compiler and the simulator count a stream's parallel paths the same way.

The compiler sizes a stream's tile, its route's rate and its FIFO credits for the bandwidth of
`dialects.rdu.stream_paths` paths (over the IR); the simulator times it with
`functional_sim.timing.stream_paths` (over the bitstream, which is all it reads). Two counts that
disagree would have the simulator time a bandwidth the compiler never sized for, so they are
compared stream by stream on a compiled program, the simulator's read back from the encoded bytes,
and on hand-made unit counts the examples do not reach (a multicast to readers of unequal width).
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

import bitstream_format
from compiler.driver import CompileOptions, compile_model
from dialects import rdu
from functional_sim.timing import stream_paths as simulator_paths

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture(scope="module")
def compiled():
    return compile_model(EXAMPLES / "attention.py", CompileOptions())  # sn40l: stages of 1 to 8 units


def compiler_paths(module) -> list[int]:
    """Per stream, in the bitstream's order (kernels, their stages, their results: emit_bitstream)."""
    return [rdu.stream_paths(stage, stage.consumers(result))
            for kernel in rdu.kernels(module) for stage in kernel.stages() for result in stage.results]


def test_compiler_and_simulator_count_the_same_paths_per_stream(compiled):
    bs = bitstream_format.decode(compiled.data)
    want = compiler_paths(compiled.module)
    assert [st.id for st in bs.streams] == list(range(len(want)))
    got = [simulator_paths(bs, st) for st in bs.streams]
    assert got == want
    # the comparison means something: streams of one path and of several, between stages of
    # unequal width (where the smaller side and the larger differ)
    widths = [(len(bs.stage(st.src).sites), max(len(bs.stage(d).sites) for d in st.dsts)) for st in bs.streams]
    assert any(p > 1 and n != m for p, (n, m) in zip(want, widths)) and any(p == 1 for p in want)


@pytest.mark.parametrize("producer, readers", [(1, [900]), (9, [9]), (16, [1, 1, 1]), (4, [2, 5]), (6, [2, 3]),
                                               (3, [])])
def test_the_two_counts_agree_on_unit_counts_alone(producer, readers):
    stages = [SimpleNamespace(unit_count=n, sites=[(0, 0)] * n) for n in (producer, *readers)]
    bs = SimpleNamespace(stage=lambda i: stages[i])
    stream = SimpleNamespace(src=0, dsts=tuple(range(1, len(stages))))
    assert rdu.stream_paths(stages[0], stages[1:]) == simulator_paths(bs, stream) == max(1, min(producer, max(readers, default=1)))
