"""`load_rows`: an embedding lookup of a few rows reads only those rows of the table in HBM.

rdu-lower turns an embedding (or index_select) of fewer entries than the table's rows into an
AGCU `load_rows` stage whose index streams in at run time (tests/ir/load_rows.mlir); the tile
machine reads only the indexed rows' bytes, refuses an index outside the table naming the stage,
and the event timing charges the tier only the rows' bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from backend_rdu.emit_bitstream import emit_bitstream
from compiler.driver import CompileOptions, import_named, lower_to_hardware
from compiler.frontend.capture import capture
from compiler.frontend.model_file import LoadedModel
from functional_sim import SimulationError
from functional_sim.memory import AddressSpace
from functional_sim.simulator import simulate

HIDDEN = 64


class Lookup(nn.Module):
    """An embedding, then a norm-like op so the rows flow into a compute stage."""

    def __init__(self, vocab: int, how: str = "embedding") -> None:
        super().__init__()
        torch.manual_seed(0)
        self.emb = nn.Embedding(vocab, HIDDEN)
        self.how = how

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        rows = self.emb(ids) if self.how == "embedding" else torch.index_select(self.emb.weight, 0, ids)
        return rows * 2.0


def compile_lookup(vocab: int, ids: torch.Tensor, how: str = "embedding"):
    module = Lookup(vocab, how).eval()
    loaded = LoadedModel(Path("lookup.py"), module, (ids,))
    return module, emit_bitstream(lower_to_hardware(import_named(loaded, capture(loaded)), CompileOptions(chip="small")))


def table(bs):
    return next(t for t in bs.tensors if t.name == "emb.weight")


@pytest.mark.parametrize("how", ["embedding", "index_select"])
def test_a_lookup_reads_only_its_rows_and_equals_pytorch(how: str, monkeypatch) -> None:
    ids = torch.tensor([[5, 300, 5]]) if how == "embedding" else torch.tensor([7, 0])
    module, bs = compile_lookup(512, ids, how)
    (stage,) = [s for s in bs.stages if s.opcode == "load_rows"]
    t = table(bs)
    assert stage.tensor == t.id and stage.attrs == {"dim": 0}
    assert not any(s.opcode == "load" and s.tensor == t.id or s.opcode in ("embedding", "index_select") for s in bs.stages)
    reads: list[tuple[int, int]] = []
    original = AddressSpace.read

    def spy(self, addr: int, size: int, what: str) -> bytes:
        if t.offset <= addr < t.offset + t.nbytes and self.tier == t.tier:
            reads.append((addr - t.offset, size))
        return original(self, addr, size, what)

    monkeypatch.setattr(AddressSpace, "read", spy)
    out = simulate(bs, [ids.numpy()], execute=True, timing="analytic").outputs[0]
    np.testing.assert_array_equal(out, module(ids).detach().numpy())
    row = HIDDEN * 4
    assert reads == [(int(i) * row, row) for i in ids.reshape(-1)]  # the table's other 510 rows: never read


def test_a_token_id_outside_the_table_stops_the_run_naming_the_stage() -> None:
    _, bs = compile_lookup(512, torch.tensor([[1]]))
    with pytest.raises(SimulationError, match=r"stage 'forward/load_rows' \(id \d+, load_rows\) reads row 512 of tensor 'emb.weight' "
                                              r"\(id \d+\), which has 512 rows along dim 0"):
        simulate(bs, [np.array([[512]])], execute=True, timing="analytic")
    with pytest.raises(SimulationError, match="reads row -1 of tensor 'emb.weight'"):
        simulate(bs, [np.array([[-1]])], execute=True, timing="analytic")


def test_a_lookup_of_as_many_rows_as_the_table_stays_a_pmu_lookup() -> None:
    """Reading every row is what a whole-table load does: no gain, so the embedding stays."""
    _, bs = compile_lookup(4, torch.tensor([[0, 1, 2, 3]]))
    assert [s.opcode for s in bs.stages if s.opcode in ("load_rows", "embedding")] == ["embedding"]


def load_rows_timing(vocab: int, ids: torch.Tensor):
    _, bs = compile_lookup(vocab, ids)
    result = simulate(bs, None, execute=False)
    (kernel,) = [k for k in result.kernels if any(s.opcode == "load_rows" for s in k.stages)]
    stage = next(s for s in kernel.stages if s.opcode == "load_rows")
    return result, kernel, stage


def test_event_cycles_scale_with_the_rows_read_not_the_table() -> None:
    small, small_kernel, small_stage = load_rows_timing(256, torch.tensor([[3]]))
    big, big_kernel, big_stage = load_rows_timing(32768, torch.tensor([[3]]))  # a 128x larger table (8 MB)
    assert (big_stage.cycles, big_kernel.cycles) == (small_stage.cycles, small_kernel.cycles)
    assert big.tier_bytes["hbm"] == small.tier_bytes["hbm"]
    ids = torch.arange(64).reshape(1, 64) * 7
    many, many_kernel, many_stage = load_rows_timing(32768, ids)  # 64 rows of the same table
    assert many.tier_bytes["hbm"] - big.tier_bytes["hbm"] == 63 * HIDDEN * 4 + 63 * 8 + 63 * HIDDEN * 4  # rows, ids, output
    assert many_stage.cycles > big_stage.cycles and many_kernel.cycles > big_kernel.cycles


@pytest.mark.parametrize(("change", "message"), [
    ("role", r"stage 'forward/load_rows' \(id \d+, load_rows\) reads rows of tensor 'emb.weight' of role "
             r"activation; rows are read only from a weight, a state or an input"),
    ("arity", r"stage 'forward/load_rows' \(id \d+, load_rows\) must have 1 input \(index\) and 1 output \(the rows\)"),
    ("tensor", r"stage 'forward/load_rows' \(id \d+, load_rows\) names tensor 99, which does not exist"),
])
def test_a_load_rows_stage_the_chip_cannot_run_is_refused(change: str, message: str) -> None:
    from dataclasses import replace

    from bitstream_format import decode, encode

    _, compiled = compile_lookup(512, torch.tensor([[1]]))
    bs = decode(encode(compiled))  # a fresh copy (its indexes are cached)
    stage = next(s for s in bs.stages if s.opcode == "load_rows")
    if change == "role":
        bs.tensors = [replace(t, role="activation") if t.id == stage.tensor else t for t in bs.tensors]
    else:
        new = replace(stage, inputs=()) if change == "arity" else replace(stage, tensor=99)
        bs.stages = [new if s.id == stage.id else s for s in bs.stages]
    with pytest.raises(SimulationError, match=message):
        simulate(bs, [np.array([[1]])], execute=True, timing="analytic")
