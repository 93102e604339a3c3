"""A matmul whose operands both overflow their PMU buffers re-streams one from HBM (bitstream 3.3
passes): the tile machine runs it block by block and matches PyTorch, the event timing charges
every pass on the tier, and a pass count the matmul and its load disagree on is refused naming the
stage."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from bitstream_format import Bitstream, decode, encode
from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from functional_sim import SimulationError, simulate


class Projection(torch.nn.Module):
    """x (1024 x 512) @ W^T (512 x 512), f32: 2 MB and 1 MB against the small chip's 1.5 MB of SRAM."""

    def __init__(self) -> None:
        super().__init__()
        self.proj = torch.nn.Linear(512, 512, bias=False)

    def forward(self, x):
        return self.proj(x)


@pytest.fixture(scope="module")
def projection():
    torch.manual_seed(0)
    model, x = Projection().eval(), torch.randn(1024, 512)
    result = compile_loaded(LoadedModel(Path("projection.py"), model, (x,)), CompileOptions(chip="small", opt_level=0))
    with torch.no_grad():
        expected = model(x).numpy()
    return result.data, [x.numpy()], expected


def stages(bs: Bitstream):
    linear = next(s for s in bs.stages if s.opcode == "linear")
    weight_load = next(s for s in bs.stages if s.opcode == "load" and bs.tensor(s.tensor).role == "weight")
    return linear, weight_load


def with_passes(bs: Bitstream, by_stage: dict[int, dict]) -> bytes:
    bs.tiles = [replace(t, **by_stage[t.stage]) if t.stage in by_stage else t for t in bs.tiles]
    return encode(bs)


def test_the_weight_is_re_streamed_and_the_output_matches_pytorch(projection):
    data, inputs, expected = projection
    bs = decode(data)
    linear, weight_load = stages(bs)
    prog = bs.tile_program(linear.id)
    # the activation's row blocks stay in their buffer; the (smaller) weight comes once per block
    assert (prog.restream, bs.tile_program(weight_load.id).passes) == ("b", prog.passes) and prog.passes > 1
    out = simulate(data, inputs).outputs[0]
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(out, simulate(data, inputs, interpreter="whole").outputs[0], rtol=1e-5, atol=1e-5)


def test_every_pass_is_charged_on_the_tier(projection):
    data, _, _ = projection
    bs = decode(data)
    linear, weight_load = stages(bs)
    passes = bs.tile_program(linear.id).passes
    charged = simulate(data, None, execute=False)
    resident = with_passes(bs, {linear.id: dict(restream="", passes=1), weight_load.id: dict(passes=1)})
    assumed = simulate(resident, None, execute=False)  # the weight as if it stayed in its buffer
    weight = bs.tensor(weight_load.tensor).nbytes
    assert charged.tier_bytes["hbm"] - assumed.tier_bytes["hbm"] == (passes - 1) * weight
    busy = [{st.id: st.cycles for st in r.kernels[0].stages} for r in (charged, assumed)]
    assert busy[0][weight_load.id] == pytest.approx(passes * busy[1][weight_load.id], rel=0.01)  # its AGCUs, every pass
    hbm = [r.kernels[0].tier_cycles["hbm"] for r in (charged, assumed)]
    assert hbm[0] - hbm[1] == pytest.approx((passes - 1) * weight / 100, rel=0.01)  # the small chip's 100 B/cycle
    # (this kernel is compute-bound: its cycles need not move; the prefill DDR row of bench.sensitivity does)


@pytest.mark.parametrize("which", ["load", "linear"])
def test_a_corrupted_pass_count_is_refused_naming_the_stage(projection, which):
    data, inputs, _ = projection
    bs = decode(data)
    linear, weight_load = stages(bs)
    passes = bs.tile_program(linear.id).passes
    stage = weight_load if which == "load" else linear
    bs.tiles = [replace(t, passes=passes - 1) if t.stage == stage.id else t for t in bs.tiles]
    with pytest.raises(SimulationError, match=rf"stage .*\(id {weight_load.id}, load\): its address pattern is walked "
                                              rf"{passes - 1 if which == 'load' else passes} time\(s\), but the matmul "
                                              rf"it feeds re-streams it in {passes if which == 'load' else passes - 1}"):
        simulate(encode(bs), inputs)


def test_passes_on_a_matmul_that_re_streams_nothing_are_refused_naming_it(projection):
    data, inputs, _ = projection
    bs = decode(data)
    linear, weight_load = stages(bs)
    passes = bs.tile_program(linear.id).passes
    bs.tiles = [replace(t, restream="") if t.stage == linear.id else t for t in bs.tiles]
    with pytest.raises(SimulationError, match=rf"\(id {linear.id}, linear\): its tile program runs {passes} passes but "
                                              rf"re-streams no operand"):
        simulate(encode(bs), inputs)


def test_the_other_order_computes_the_same_product(projection):
    """Hold the weight in column blocks and re-stream the activation instead (edited): the tile
    machine runs that order too, and matches PyTorch."""
    data, inputs, expected = projection
    bs = decode(data)
    linear, weight_load = stages(bs)
    x_load = bs.stage(bs.stream(bs.stage(bs.stream(linear.inputs[0]).src).inputs[0]).src)
    assert x_load.opcode == "load" and x_load.id != weight_load.id
    edited = with_passes(bs, {linear.id: dict(restream="a", passes=3), weight_load.id: dict(passes=1),
                              x_load.id: dict(passes=3)})
    result = simulate(edited, inputs)
    np.testing.assert_allclose(result.outputs[0], expected, rtol=1e-4, atol=1e-4)
    assert result.tier_bytes["hbm"] == simulate(data, inputs).tier_bytes["hbm"] \
        - 3 * bs.tensor(weight_load.tensor).nbytes + 2 * bs.tensor(x_load.tensor).nbytes
