"""Window stages (format 3.5): attention's Kᵀ (a transpose of the last two axes) and GQA's expand
stream a window at a time (one `[S, D]` matrix, one KV head), the layout done by their PMUs'
address patterns (bitstream_format.tiling.window_loop, passes/layout_windows.py). A corrupted
order, window or pattern in a bitstream changes the outputs or stops the run naming the stage."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from bench.workloads import Decoder, DecoderShape
from bitstream_format import Pattern
from chip_model import load_chip
from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from functional_sim import SimulationError, simulate
from functional_sim.event_graph import kernel_graph

from tests.tiles.conftest import Compiled
from tests.tiles.heads_attention import changed

GQA = DecoderShape("tiny-gqa", 128, 256, 1, 4, 2, 100, 32)  # 4 query heads, 2 KV heads of 32
CONTEXT = 16


def gqa_inputs(phase: str) -> list[torch.Tensor]:
    tokens = 1 if phase == "decode" else CONTEXT
    total = CONTEXT + 1 if phase == "decode" else CONTEXT
    xs = [torch.randn(1, tokens, GQA.hidden), torch.randn(1, 1, tokens, GQA.head_dim),
          torch.randn(1, 1, tokens, GQA.head_dim), torch.zeros(1, 1, tokens, total)]
    if phase == "decode":
        xs += [torch.randn(1, GQA.kv_heads, CONTEXT, GQA.head_dim) for _ in range(2)]
    return xs


def compiled(phase: str, opt_level: int) -> tuple[Compiled, np.ndarray]:
    torch.manual_seed(0)
    model = Decoder(GQA, 1).eval()
    xs = gqa_inputs(phase)
    result = compile_loaded(LoadedModel(Path("gqa.py"), model, tuple(xs)),
                            CompileOptions(chip="sn40l", opt_level=opt_level, tile_bytes=512))
    inputs = [x.numpy() for x in xs]
    with torch.no_grad():
        expected = model(*xs).numpy()
    return Compiled(result.data, inputs, simulate(result.data, inputs).outputs), expected


@pytest.fixture(scope="module")
def decode() -> tuple[Compiled, np.ndarray]:
    return compiled("decode", 1)


def windows(bs, order: str):
    return [s for s in bs.stages if bs.tile_program(s.id).order == order]


def test_kt_and_the_gqa_expand_stream_by_windows_and_match_pytorch(decode):
    c, expected = decode
    assert np.allclose(c.outputs[0], expected, atol=1e-4)
    bs = c.fresh()
    (kt,) = windows(bs, "transpose")
    repeats = windows(bs, "repeat")
    assert len(repeats) == 2  # K and V
    s, d = CONTEXT + 1, GQA.head_dim
    prog = bs.tile_program(kt.id)
    assert (prog.kind, prog.grid, prog.tile, prog.sram_slots) == ("rows", (GQA.heads, 1), (d, s), 2)
    assert [(p.offset, p.stride, p.count, p.tile) for p in prog.patterns] == [
        (0, 4, s, 4), (0, 4 * s, d, 4), (0, 4 * s, d, 4), (0, 4, s, 4)]
    for e in repeats:
        prog = bs.tile_program(e.id)
        groups = GQA.heads // GQA.kv_heads
        assert (prog.grid, prog.tile) == ((GQA.kv_heads, 1), (groups * s, d))
        assert [(p.offset, p.stride, p.count) for p in prog.patterns[2:]] == [(0, 0, groups), (0, 4, s * d)]
        assert prog.sram_slots * prog.sram_tile * len(e.sites) >= 2 * s * d * 4  # two windows, not the value
    assert not [x for x in bs.stages if x.opcode in ("permute", "expand") and bs.tile_program(x.id).kind == "whole"]


@pytest.mark.parametrize("phase,opt_level", [("decode", 0), ("prefill", 0), ("prefill", 1)])
def test_other_levels_and_prefill_match_pytorch(phase, opt_level):
    c, expected = compiled(phase, opt_level)
    assert np.allclose(c.outputs[0], expected, atol=1e-4)
    bs = c.fresh()
    assert windows(bs, "transpose") and windows(bs, "repeat")


def test_the_event_run_steps_a_window_at_a_time_and_no_window_stage_is_a_pipeline_break(decode):
    c, _ = decode
    bs, chip = c.fresh(), load_chip("sn40l")
    (kt,) = windows(bs, "transpose")
    k = next(k for k in bs.kernels if kt.id in k.stages)
    g = kernel_graph(bs, chip, k)
    i = g.stage_ids.index(kt.id)
    assert g.steps[i] == GQA.heads and kt.id not in g.whole
    for e in g.in_edges[i]:  # the FIFO into it holds two windows of tiles (its two SRAM slots)
        assert g.edge_capacity[e] >= 2 * -(-g.edge_tiles[e] // GQA.heads)


class KeysOut(nn.Module):
    """A projection to heads, Kᵀ of each head stored: the transpose between a producer and a store."""

    def __init__(self, dim: int = 128, heads: int = 4):
        super().__init__()
        self.heads, self.k = heads, nn.Linear(dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        return self.k(x).view(b, t, self.heads, d // self.heads).transpose(1, 2).transpose(-2, -1)


def test_kt_leaves_while_its_projection_still_runs():
    """Kᵀ of head 0 is complete once head 0's rows have come: the store starts before the
    projection (tiled head-outer) has finished, where a whole transpose would wait for all of it."""
    torch.manual_seed(0)
    model, x = KeysOut().eval(), torch.randn(1, 64, 128)
    result = compile_loaded(LoadedModel(Path("keys.py"), model, (x,)),
                            CompileOptions(chip="sn40l", opt_level=1, tile_bytes=512))
    with torch.no_grad():
        assert np.allclose(simulate(result.data, [x.numpy()]).outputs[0], model(x).numpy(), atol=1e-4)
    bs = result.bitstream
    (kt,) = windows(bs, "transpose")
    kernel = next(k for k in bs.kernels if kt.id in k.stages)
    record = next(r for r in simulate(bs, None, execute=False).kernels if r.id == kernel.id)
    timing = {t.id: t for t in record.stages}
    (linear,) = [s for s in bs.stages if s.opcode == "linear"]
    (store,) = [s for s in bs.stages if s.opcode == "store"]
    assert timing[kt.id].first_cycle < timing[linear.id].last_cycle
    assert timing[store.id].first_cycle < timing[linear.id].last_cycle


def with_patterns(c: Compiled, bs, stage, **changes) -> object:
    """The bitstream with one of the stage's patterns changed: `index` and Pattern fields."""
    prog = bs.tile_program(stage.id)
    index = changes.pop("index")
    patterns = list(prog.patterns)
    patterns[index] = replace(patterns[index], **changes)
    return c.with_program(bs, stage.id, patterns=tuple(patterns))


def test_a_transpose_writing_rows_in_order_scrambles_kt(decode):
    """The write patterns of a plain row-major fill (outer stride a row of D, inner one element):
    rows land as they came, untransposed, and the scores change."""
    c, _ = decode
    bs = c.fresh()
    (kt,) = windows(bs, "transpose")
    outer, inner = bs.tile_program(kt.id).patterns[:2]
    bad = with_patterns(c, bs, kt, index=0, stride=inner.count * inner.tile)
    bad = with_patterns(c, bad, kt, index=1, stride=inner.tile)
    assert changed(simulate(bad, c.inputs).outputs, c.outputs)


def test_an_expand_reading_the_next_window_is_an_error_naming_the_stage(decode):
    """The read's outer stride set to a window: the second query head of a group would read past
    the KV head, out of the window (the checks stop it before running)."""
    c, _ = decode
    bs = c.fresh()
    e = windows(bs, "repeat")[0]
    extent = bs.tile_program(e.id).patterns[2].extent
    with pytest.raises(SimulationError, match=rf"\(id {e.id}, expand\): its read (outer pattern reaches|patterns reach)"):
        simulate(with_patterns(c, bs, e, index=2, stride=extent), c.inputs)


def test_an_expand_reading_its_window_once_is_an_error_naming_the_stage(decode):
    c, _ = decode
    bs = c.fresh()
    e = windows(bs, "repeat")[0]
    with pytest.raises(SimulationError, match=rf"\(id {e.id}, expand\): its read patterns walk 1 x \d+ accesses"):
        simulate(with_patterns(c, bs, e, index=2, count=1), c.inputs)


def test_a_window_that_is_not_the_loop_tile_is_an_error_naming_the_stage(decode):
    c, _ = decode
    bs = c.fresh()
    (kt,) = windows(bs, "transpose")
    prog = bs.tile_program(kt.id)
    with pytest.raises(SimulationError, match=rf"\(id {kt.id}, permute\): its tile loop emits tiles of"):
        simulate(c.with_program(bs, kt.id, tile=(prog.tile[0] // 2, prog.tile[1])), c.inputs)
    with pytest.raises(SimulationError, match=rf"\(id {kt.id}, permute\): its tile loop runs \[3, 1\] windows"):
        simulate(c.with_program(c.fresh(), kt.id, grid=(3, 1)), c.inputs)


def test_a_window_order_on_another_opcode_is_an_error_naming_the_stage(decode):
    c, _ = decode
    bs = c.fresh()
    e = windows(bs, "repeat")[0]
    with pytest.raises(SimulationError, match=rf"\(id {e.id}, expand\): a rows loop of order 'transpose' cannot run "
                                              "opcode expand"):
        simulate(c.with_program(bs, e.id, order="transpose"), c.inputs)


def test_a_window_stage_without_its_patterns_is_an_error_naming_the_stage(decode):
    c, _ = decode
    bs = c.fresh()
    (kt,) = windows(bs, "transpose")
    with pytest.raises(SimulationError, match=rf"\(id {kt.id}, permute\): its tile program has 2 address pattern\(s\), "
                                              "permute takes 4"):
        simulate(c.with_program(bs, kt.id, patterns=bs.tile_program(kt.id).patterns[:2]), c.inputs)


def test_patterns_outside_sram_are_an_error_naming_the_stage(decode):
    c, _ = decode
    bs = c.fresh()
    (kt,) = windows(bs, "transpose")
    with pytest.raises(SimulationError, match=rf"\(id {kt.id}, permute\): its write inner pattern addresses hbm"):
        simulate(with_patterns(c, bs, kt, index=1, space="hbm"), c.inputs)


def test_the_doc_formula_for_window_patterns_gives_kt(decode):
    """docs/bitstream.md, TILE, windows, read from the file the way the doc-driven reader does:
    element e of a window is written at outer.offset + (e div inner.count) outer.stride +
    inner.offset + (e mod inner.count) inner.stride and read likewise; applied to an [S, D] matrix,
    the transpose's patterns give its transpose, the expand's its window `repeats` times."""
    from tests.sim.test_format_doc import read_per_doc

    c, _ = decode
    doc = read_per_doc(c.data)
    bs = c.fresh()
    (kt,) = windows(bs, "transpose")
    e = windows(bs, "repeat")[0]
    by_stage = {fixed[0]: (grid, tile, order, patterns) for fixed, grid, tile, order, patterns in doc["tiles"]}

    def walk(outer, inner):
        o = outer[1] + np.arange(outer[3]) * outer[2]
        i = inner[1] + np.arange(inner[3]) * inner[2]
        return (o[:, None] + i[None, :]).ravel() // inner[4]  # element addresses

    s, d = CONTEXT + 1, GQA.head_dim
    matrix = np.arange(s * d, dtype=np.float32).reshape(s, d)
    for stage, want in ((kt, matrix.T), (e, np.concatenate([matrix] * (GQA.heads // GQA.kv_heads)))):
        _, _, order, patterns = by_stage[stage.id]
        assert order == bs.tile_program(stage.id).order
        sram = np.zeros(s * d, np.float32)
        sram[walk(*patterns[:2])] = matrix.ravel()
        assert np.array_equal(sram[walk(*patterns[2:])], want.ravel())
