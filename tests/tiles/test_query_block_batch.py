"""Attention's output transpose streams at batch > 1: both query-block matmuls take the batch as an
outer loop (`o{B},m,b,n,k`) and the transpose fills windows of one batch entry (`rows@0,S/B,1,S`),
passes/row_order.py. A wrong order in the bitstream changes the outputs or stops the run naming
the stage."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from functional_sim import SimulationError, simulate
from functional_sim.tile_timing import held_operands

from tests.tiles.conftest import Compiled
from tests.tiles.heads_attention import HeadsAttention, changed, compiled_attention

BATCH, POSITIONS, HEADS = 2, 32, 4


def compiled(opt_level: int) -> tuple[Compiled, np.ndarray]:
    return compiled_attention(opt_level, BATCH, HEADS)


@pytest.fixture(scope="module")
def attention() -> tuple[Compiled, np.ndarray]:
    return compiled(1)


def query_matmuls(bs):
    return [s for s in bs.stages if s.opcode == "matmul" and bs.tile_program(s.id).order == f"o{BATCH},m,b,n,k"]


def output_transpose(bs):
    (s,) = [s for s in bs.stages if s.opcode == "permute" and bs.tile_program(s.id).order.startswith("rows@0,2/")]
    return s


def test_the_output_transpose_streams_per_batch_entry_and_matches_pytorch(attention):
    c, expected = attention
    assert np.allclose(c.outputs[0], expected, atol=1e-4)
    bs = c.fresh()
    scores, product = query_matmuls(bs)
    block = bs.tile_program(product.id).tile[0]
    assert bs.tile_program(scores.id).tile[0] == block < POSITIONS
    assert bs.tile_program(product.id).grid[0] == BATCH * HEADS
    prog = bs.tile_program(output_transpose(bs).id)
    assert prog.order == f"rows@0,2/{block},1,2"
    assert prog.tile == (block * HEADS, 32) and prog.grid == (BATCH * -(-POSITIONS // block), 1)
    assert held_operands(bs, scores) == list(scores.inputs) and held_operands(bs, product) == [product.inputs[1]]


def test_unfused_batched_attention_matches_pytorch():
    c, expected = compiled(0)
    assert np.allclose(c.outputs[0], expected, atol=1e-4)


def test_a_product_with_the_batch_inside_the_blocks_scrambles_the_windows(attention):
    """softmax·V's order corrupted to `m,b,n,k`: block 0 of batch entry 1 arrives while the PMU
    fills batch entry 0's windows."""
    c, _ = attention
    bs = c.fresh()
    product = query_matmuls(bs)[1]
    assert changed(simulate(c.with_program(bs, product.id, order="m,b,n,k"), c.inputs).outputs, c.outputs)


def test_a_transpose_without_the_outer_batch_is_an_error_naming_the_stage(attention):
    c, _ = attention
    bs = c.fresh()
    s = output_transpose(bs)
    block = bs.tile_program(s.id).tile[0] // HEADS
    with pytest.raises(SimulationError, match=rf"\(id {s.id}, permute\): its tile loop order 'rows@2/{block},0,1,2' "
                                              "does not fill its output window by window"):
        simulate(c.with_program(bs, s.id, order=f"rows@2/{block},0,1,2"), c.inputs)


def test_an_outer_batch_that_does_not_divide_the_batch_is_an_error_naming_the_stage(attention):
    c, _ = attention
    bs = c.fresh()
    product = query_matmuls(bs)[1]
    with pytest.raises(SimulationError, match=rf"\(id {product.id}, matmul\): its tile loop order 'o3,m,b,n,k' is none"):
        simulate(c.with_program(bs, product.id, order="o3,m,b,n,k"), c.inputs)


def test_a_kernel_that_must_split_below_attention_splits_before_the_scores():
    """`row_order.attention_split`: q, Kᵀ and V are computed in this kernel (the projections), so a
    split asked at the `o` projection (say a residual the SRAM cannot hold) moves to the scores
    matmul: the projections then fill the first kernel instead of running in series with attention.
    A join above attention, or a kernel whose resident operands are only loaded, splits where asked."""
    from dialects import rdu
    from passes.row_order import attention_split, held_inputs

    torch.manual_seed(0)
    x = torch.randn(1, POSITIONS, 128)
    module = compile_loaded(LoadedModel(Path("attention.py"), HeadsAttention(128, HEADS).eval(), (x,)),
                            CompileOptions(chip="sn40l", opt_level=1, tile_bytes=512)).module
    (kernel,) = rdu.kernels(module)
    stages = kernel.stages()
    matmuls = [s for s in stages if isinstance(s, rdu.ComputeOp) and s.opcode.data == "matmul"]
    linears = [s for s in stages if isinstance(s, rdu.ComputeOp) and s.opcode.data == "linear"]
    scores, product = matmuls
    assert attention_split(kernel, linears[-1]) is scores
    assert attention_split(kernel, linears[0]) is linears[0]
    held = held_inputs(kernel, 32, 500_000)
    assert {(v, s) for v, s in held} == {(scores.inputs[0], scores), (scores.inputs[1], scores),
                                         (product.inputs[1], product)}
