"""The heads transpose streams: a projection tiled head-outer feeds a permute that keeps the last
axis, and the permute writes each arriving row where it belongs (passes/row_order.py). A wrong
order in the bitstream changes the outputs or stops the run naming the stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from bitstream_format import decode
from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from functional_sim import SimulationError, simulate
from functional_sim.event_graph import kernel_graph
from chip_model import load_chip

from tests.tiles.conftest import Compiled
from tests.tiles.heads_attention import HeadsAttention


def compiled(opt_level: int, tile_bytes: int = 0) -> tuple[Compiled, object]:
    torch.manual_seed(0)
    model = HeadsAttention(64).eval()
    x = torch.randn(2, 16, 64)
    result = compile_loaded(LoadedModel(Path("heads.py"), model, (x,)),
                            CompileOptions(chip="small", opt_level=opt_level, tile_bytes=tile_bytes))
    inputs = [x.numpy()]
    outputs = simulate(result.data, inputs).outputs
    with torch.no_grad():
        expected = model(x).numpy()
    return Compiled(result.data, inputs, outputs), expected


@pytest.fixture(scope="module")
def heads() -> tuple[Compiled, object]:
    return compiled(1, tile_bytes=256)


def changed(outputs, reference) -> bool:
    return any(not np.allclose(a, b, atol=1e-5) for a, b in zip(outputs, reference))


def streaming_permutes(bs):
    return [s for s in bs.stages if s.opcode == "permute" and bs.tile_program(s.id).order.startswith("rows@")]


def test_the_heads_transposes_stream_and_match_pytorch(heads):
    c, expected = heads
    assert np.allclose(c.outputs[0], expected, atol=1e-4)
    bs = c.fresh()
    streaming = streaming_permutes(bs)
    assert len(streaming) == 3  # q, k, v; attention's output transpose still waits (module docstring)
    for s in streaming:
        assert bs.tile_program(s.id).order == "rows@0,2,1"
        producer = bs.stage(bs.stream(bs.stage(bs.stream(s.inputs[0]).src).inputs[0]).src)
        while producer.opcode in ("reshape", "buffer"):
            producer = bs.stage(bs.stream(producer.inputs[0]).src)
        prog = bs.tile_program(producer.id)
        assert (producer.opcode, prog.order, prog.tile[1], prog.reuse) == ("linear", "b,n,m,k", 16, "b")


@pytest.mark.parametrize("opt_level", [0, 1])
def test_untiled_programs_match_pytorch(opt_level):
    c, expected = compiled(opt_level)
    assert np.allclose(c.outputs[0], expected, atol=1e-4)


class Heads(nn.Module):
    """One projection viewed as heads and transposed, nothing reconverging: no FIFO needs depth."""

    def __init__(self, dim: int = 64, heads: int = 4):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        return torch.tanh(self.q(x).view(b, t, self.heads, d // self.heads).transpose(1, 2))


def test_the_event_engine_steps_the_permute_tile_by_tile():
    torch.manual_seed(0)
    model, x = Heads().eval(), torch.randn(1, 64, 64)
    result = compile_loaded(LoadedModel(Path("heads.py"), model, (x,)), CompileOptions(chip="small", tile_bytes=256))
    with torch.no_grad():
        assert np.allclose(simulate(result.data, [x.numpy()]).outputs[0], model(x).numpy(), atol=1e-5)
    bs, chip = decode(result.data), load_chip("small")
    (s,) = streaming_permutes(bs)
    k = next(k for k in bs.kernels if s.id in k.stages)
    g = kernel_graph(bs, chip, k)
    assert s.id not in g.whole
    i = g.stage_ids.index(s.id)
    assert g.steps[i] == bs.tile_program(s.id).trip_count > 1  # a step per tile of rows, not one step
    prog = bs.tile_program(s.id)
    rows, width = prog.tile
    # its SRAM double-buffers tiles of rows, round-robin over its PMUs
    assert (prog.sram_slots, prog.sram_tile) == (-(-2 // len(s.sites)), rows * width * 4)
    assert prog.sram_tile < bs.stream(s.inputs[0]).nbytes


def test_a_producer_walking_rows_outer_scrambles_the_heads(heads):
    """The projection's loop order corrupted to the rows-outer `b,m,n,k`: its rows arrive in
    another order than the permute's write addresses assume."""
    c, _ = heads
    bs = c.fresh()
    s = streaming_permutes(bs)[0]
    producer = bs.stage(bs.stream(s.inputs[0]).src)
    while producer.opcode in ("reshape", "buffer"):
        producer = bs.stage(bs.stream(producer.inputs[0]).src)
    assert changed(simulate(c.with_program(bs, producer.id, order="b,m,n,k"), c.inputs).outputs, c.outputs)


def test_a_permute_assuming_another_arrival_order_scrambles_the_heads(heads):
    c, _ = heads
    bs = c.fresh()
    s = streaming_permutes(bs)[0]
    assert changed(simulate(c.with_program(bs, s.id, order="rows@0,1,2"), c.inputs).outputs, c.outputs)


def test_an_order_that_is_no_permutation_is_an_error_naming_the_stage(heads):
    c, _ = heads
    bs = c.fresh()
    s = streaming_permutes(bs)[0]
    with pytest.raises(SimulationError, match=rf"\(id {s.id}, permute\): its tile loop order 'rows@0,2,2' is not"):
        simulate(c.with_program(bs, s.id, order="rows@0,2,2"), c.inputs)


def test_a_matmul_order_no_matmul_runs_is_an_error_naming_the_stage(heads):
    c, _ = heads
    bs = c.fresh()
    linear = c.stage(bs, "linear")
    with pytest.raises(SimulationError, match=rf"\(id {linear.id}, linear\): its tile loop order 'b,k,m,n' is none"):
        simulate(c.with_program(bs, linear.id, order="b,k,m,n"), c.inputs)
