"""Attention's resident operands: rdu-allocate-units reserves the PMUs that hold Q, Kᵀ and V whole
for a query block (`AllocateUnitsPass.reserve_resident`) and sizes the other buffers around them,
rdu-tile only records the holding, and rdu-size-fifos knows that a matmul holding an operand
waits for all of it (`passes.row_order.held_inputs`, read by rdu-size-fifos), as the event timing does."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from chip_model import load_chip
from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from dialects import rdu
from dialects.types import value_bytes
from functional_sim import simulate
from passes.allocate_units import RESIDENT_ATTR
from passes.tile import TilePass


class GivenHeads(nn.Module):
    """Attention over Q, Kᵀ and V that arrive from memory (each through a PMU buffer the query-block
    matmuls hold whole), then two projections whose weights soak up PMUs."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.o = nn.Linear(dim, dim, bias=False)
        self.up = nn.Linear(dim, hidden, bias=False)

    def forward(self, q, kt, v):  # [heads, positions, head dim]: batch 1 without its axis
        h, s, d = q.shape
        attn = torch.softmax(q @ kt, dim=-1) @ v
        return self.up(self.o(attn.transpose(0, 1).reshape(s, h * d)))


class HeldResidual(nn.Module):
    """y = 2x reaches the add directly and through q = y·Wq, whose heads Q·Kᵀ holds resident."""

    def __init__(self, dim: int, heads: int = 4):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.o = nn.Linear(dim, dim, bias=False)

    def forward(self, x, kt, v):
        b, t, d = x.shape
        y = x * 2.0
        q = self.q(y).view(b, t, self.heads, d // self.heads).transpose(1, 2)
        attn = torch.softmax(q @ kt, dim=-1) @ v
        return y + self.o(attn.transpose(1, 2).reshape(b, t, d))


def compile_and_run(model: nn.Module, inputs: tuple, **options):
    result = compile_loaded(LoadedModel(Path("resident.py"), model.eval(), inputs),
                            CompileOptions(chip="small", opt_level=1, placer="greedy", **options))
    with torch.no_grad():
        expected = model(*inputs).numpy()
    return result, simulate(result.data, [x.numpy() for x in inputs]).outputs[0], expected


def test_the_allocation_reserves_the_resident_operands_pmus_and_attention_runs_query_block_outer():
    """Q, Kᵀ and V of 128 KB each need at least two of the small chip's 64 KB PMUs each (three when
    their tiles do not pack two PMUs exactly); without the reservation they had one each and the
    output transpose stayed whole."""
    torch.manual_seed(0)
    inputs = (torch.randn(2, 256, 64), torch.randn(2, 64, 256), torch.randn(2, 256, 64))
    result, out, expected = compile_and_run(GivenHeads(128, 1024), inputs)
    assert np.allclose(out, expected, atol=1e-4)
    chip = load_chip("small")
    kernel = next(k for k in rdu.kernels(result.module) if any(RESIDENT_ATTR in s.attributes for s in k.stages()))
    resident = [s for s in kernel.stages() if RESIDENT_ATTR in s.attributes]
    assert len(resident) == 3
    for buffer in resident:
        tiles = -(-value_bytes(buffer.input.type) // buffer.tile_list()[0])
        assert buffer.unit_count == TilePass.whole_units(buffer, chip) >= 2
        assert buffer.depth_list()[0] == tiles <= buffer.sram.slots.data * buffer.unit_count  # its ring holds every tile
    assert sum(s.unit_count for s in kernel.stages() if s.unit_kind == "pmu") <= chip.count("pmu")
    bs = result.bitstream
    assert [bs.tile_program(s.id).order for s in bs.stages if s.opcode == "matmul"][:2] == ["m,b,n,k", "m,b,n,k"]
    assert any(bs.tile_program(s.id).order.startswith("rows@") for s in bs.stages if s.opcode == "permute")


def test_a_residual_around_a_held_operand_is_sized_for_its_whole_value_and_runs():
    """Q·Kᵀ waits for every tile of Q, so for every tile of y: the short path (y's buffer) must hold
    all of y. Sized from tile counts alone, it held 64 of y's 128 tiles and the simulator stopped
    on a deadlock."""
    torch.manual_seed(0)
    inputs = (torch.randn(1, 512, 64), torch.randn(1, 4, 16, 512), torch.randn(1, 4, 512, 16))
    result, out, expected = compile_and_run(HeldResidual(64), inputs, tile_bytes=1024)
    assert np.allclose(out, expected, atol=1e-3)
    bs = result.bitstream
    assert [bs.tile_program(s.id).order for s in bs.stages if s.opcode == "matmul"] == ["m,b,n,k", "m,b,n,k"]
    (kernel,) = rdu.kernels(result.module)
    add = next(s for s in kernel.stages() if isinstance(s, rdu.ComputeOp) and s.opcode.data == "add")
    short = add.operands[0].owner
    assert isinstance(short, rdu.BufferOp) and short.depth_list()[0] == 128 == value_bytes(short.input.type) // 1024
