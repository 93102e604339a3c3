"""Attention's output transpose streams: attention runs query-block outer (passes/row_order.py,
QueryBlock), both matmuls tiled `m,b,n,k` with one block of query rows, and the transpose fills
windows of output rows (`rows@d/B,A`). The operands every block needs (q, Kᵀ, V) stay resident,
so the first block waits for all of them. A wrong order, block or window in the bitstream changes
the outputs or stops the run naming the stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from chip_model import load_chip
from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from functional_sim import SimulationError, simulate
from functional_sim.event_graph import kernel_graph
from functional_sim.tile_timing import held_operands

from tests.tiles.conftest import Compiled
from tests.tiles.heads_attention import HeadsAttention, changed, compiled_attention


def compiled(opt_level: int) -> tuple[Compiled, np.ndarray]:
    return compiled_attention(opt_level)


@pytest.fixture(scope="module")
def attention() -> tuple[Compiled, np.ndarray]:
    return compiled(1)


def output_transpose(bs):
    (s,) = [s for s in bs.stages if s.opcode == "permute" and bs.tile_program(s.id).order.startswith("rows@2/")]
    return s


def query_matmuls(bs):
    return [s for s in bs.stages if s.opcode == "matmul" and bs.tile_program(s.id).order == "m,b,n,k"]


def test_attention_runs_query_block_outer_and_matches_pytorch(attention):
    c, expected = attention
    assert np.allclose(c.outputs[0], expected, atol=1e-4)
    bs = c.fresh()
    scores, product = query_matmuls(bs)
    block = bs.tile_program(product.id).tile[0]
    assert bs.tile_program(scores.id).tile[0] == block < 32  # the same blocks, several of them
    s = output_transpose(bs)
    prog = bs.tile_program(s.id)
    assert prog.order == f"rows@2/{block},0,1,2"
    assert prog.kind == "rows" and prog.tile == (block * 4, 32) and prog.grid == (-(-32 // block), 1)
    assert prog.sram_slots == 2 and prog.sram_tile * len(s.sites) >= block * 4 * 32 * 4  # two windows, spread


def test_unfused_attention_matches_pytorch():
    c, expected = compiled(0)
    assert np.allclose(c.outputs[0], expected, atol=1e-4)


def test_the_operands_every_block_needs_are_resident_and_the_first_block_waits_for_them(attention):
    c, _ = attention
    bs, chip = c.fresh(), load_chip("sn40l")
    scores, product = query_matmuls(bs)
    assert held_operands(bs, scores) == list(scores.inputs)  # q (arriving head by head) and Kᵀ
    assert held_operands(bs, product) == [product.inputs[1]]  # V; the probabilities come block by block
    k = next(k for k in bs.kernels if product.id in k.stages)
    g = kernel_graph(bs, chip, k)
    held = [e for e in range(len(g.edge_stream)) if g.edge_held[e]]
    assert {(g.stream_ids[g.edge_stream[e]], g.stage_ids[g.edge_dst[e]]) for e in held} == {
        (scores.inputs[0], scores.id), (scores.inputs[1], scores.id), (product.inputs[1], product.id)}
    assert all(g.edge_capacity[e] >= g.edge_tiles[e] for e in held)  # its FIFO holds every tile
    record = next(r for r in simulate(bs, None, execute=False).kernels if r.id == k.id)
    timing = {t.id: t for t in record.stages}
    v_maker = bs.stream(product.inputs[1]).src
    assert timing[product.id].first_cycle >= timing[v_maker].last_cycle  # the first block had all of V


def test_a_product_walking_heads_outer_scrambles_the_windows(attention):
    """softmax·V's order corrupted to `b,m,n,k`: its rows leave head by head, not block by block."""
    c, _ = attention
    bs = c.fresh()
    product = query_matmuls(bs)[1]
    assert changed(simulate(c.with_program(bs, product.id, order="b,m,n,k"), c.inputs).outputs, c.outputs)


def test_a_transpose_assuming_another_order_within_the_block_scrambles_the_rows(attention):
    c, _ = attention
    bs = c.fresh()
    s = output_transpose(bs)
    block = bs.tile_program(s.id).tile[0] // 4
    assert changed(simulate(c.with_program(bs, s.id, order=f"rows@2/{block},0,2,1"), c.inputs).outputs, c.outputs)


def test_a_block_other_than_the_window_is_an_error_naming_the_stage(attention):
    c, _ = attention
    bs = c.fresh()
    s = output_transpose(bs)
    block = bs.tile_program(s.id).tile[0] // 4
    with pytest.raises(SimulationError, match=rf"\(id {s.id}, permute\): its tile loop holds {4 * block} rows per "
                                              rf"window, but order 'rows@2/{block // 2},0,1,2' fills windows of"):
        simulate(c.with_program(bs, s.id, order=f"rows@2/{block // 2},0,1,2"), c.inputs)


def test_blocks_of_a_dim_that_is_not_outermost_are_an_error_naming_the_stage(attention):
    c, _ = attention
    bs = c.fresh()
    s = output_transpose(bs)
    with pytest.raises(SimulationError, match=rf"\(id {s.id}, permute\): its tile loop order 'rows@1/2,0,1,2' does "
                                              "not fill its output window by window"):
        simulate(c.with_program(bs, s.id, order="rows@1/2,0,1,2"), c.inputs)


def test_a_malformed_block_is_an_error_naming_the_stage(attention):
    c, _ = attention
    bs = c.fresh()
    s = output_transpose(bs)
    with pytest.raises(SimulationError, match=rf"\(id {s.id}, permute\): its tile loop order 'rows@2/x,0,1,2' is not"):
        simulate(c.with_program(bs, s.id, order="rows@2/x,0,1,2"), c.inputs)




def test_a_kernel_that_cannot_hold_the_resident_operands_keeps_the_output_transpose_whole(monkeypatch):
    """When rdu-tile cannot give the resident operands their PMUs (a kernel whose PMUs the weight
    buffers hold, as a Llama-3-8B-shaped layer's are; this small kernel's operands need none, so
    the test says it cannot), attention's output transpose stays whole, as before query blocks:
    recorded on the transpose, FIFOs sized again for it, and the outputs still equal PyTorch's
    (rather than the compile failing on a resident buffer's SRAM)."""
    import passes.tile as tile

    asked = []
    real = tile.resident_buffers

    def resident(plans):
        found = real(plans)
        return found or [p for p in plans.values() if isinstance(p, tile.QueryBlock)][:1]

    monkeypatch.setattr(tile, "resident_buffers", resident)
    monkeypatch.setattr(tile.TilePass, "hold_all", lambda self, kernel, res, chip: asked.append(res) or False)
    c, expected = compiled(1)
    assert asked  # the query block's kernel asked, and was told no
    assert np.allclose(c.outputs[0], expected, atol=1e-4)
    bs = c.fresh()
    assert not query_matmuls(bs)
    assert not [s for s in bs.stages if s.opcode == "permute" and bs.tile_program(s.id).order.startswith("rows@2/")]


def test_hold_all_records_what_the_allocation_reserved_and_nothing_else():
    """`hold_all` only records the holding: on buffers rdu-allocate-units reserved (`resident`) it
    sets a FIFO depth of every tile; a buffer not reserved, or whose PMUs cannot hold its tiles (a
    chip whose PMUs hold one 512-byte tile each), is a no that changes nothing (the fallback)."""
    from dataclasses import replace as dc_replace

    from xdsl.dialects.builtin import UnitAttr

    from dialects import rdu
    from passes.allocate_units import RESIDENT_ATTR
    from passes.tile import TilePass

    torch.manual_seed(0)
    x = torch.randn(1, 32, 128)
    module = compile_loaded(LoadedModel(Path("attention.py"), HeadsAttention(128).eval(), (x,)),
                            CompileOptions(chip="sn40l", opt_level=1, tile_bytes=512)).module
    chip = load_chip("sn40l")
    (kernel, *_) = rdu.kernels(module)
    buffers = [s for s in kernel.stages() if isinstance(s, rdu.BufferOp) and s.tile_loop.grid_values()[0] > 2][:2]
    assert len(buffers) == 2
    for b in buffers:
        b.set_depths([2])
    state = lambda: {s: (s.unit_count, s.depth_list()) for s in kernel.stages()}  # noqa: E731
    before = state()
    assert not TilePass().hold_all(kernel, buffers, chip) and state() == before  # not reserved
    for b in buffers:
        b.attributes[RESIDENT_ATTR] = UnitAttr()

    class Tiny:
        """sn40l with 512 bytes (one tile) of SRAM per PMU."""
        pmu = dc_replace(chip.pmu, sram_bytes=512)
        count = chip.count

    assert TilePass.whole_units(buffers[0], Tiny()) > buffers[0].unit_count
    assert not TilePass().hold_all(kernel, buffers, Tiny()) and state() == before  # its PMUs cannot hold it
    assert TilePass().hold_all(kernel, buffers, chip)
    assert [b.depth_list()[0] for b in buffers] == [b.tile_loop.grid_values()[0] for b in buffers]
    assert all(s.unit_count == before[s][0] for s in kernel.stages())  # recorded, no PMU moved
