"""rdu-size-fifos counts a collective as the event engine runs it: tile by tile, not whole.

The event engine steps an AGCU stage through its tiles (`functional_sim.tile_timing.stage_tiling`),
so an all-reduce fused behind a row-parallel projection hands the residual add its first tile as
soon as the projection's first rows are reduced. Counted as a whole-value stage, the residual
around it looked like it had to wait for the whole hidden state, and a kernel whose SRAM cannot
hold that was split at the add (the 4K Llama-2-7B prefill layer at TP8 took three kernels)."""

from __future__ import annotations

from compiler.textual_ir import parse_ir
from dialects import make_context, rdu
from passes.registry import run_pipeline
from passes.size_fifos import _Kernel, is_whole
from passes.target import lowered_target_chip
from tests.passes.residual_ir import UP_TO_SIZING

AROUND_AN_ALL_REDUCE = """
func.func @forward(%x: tensor<{n}x512xf32>) -> tensor<{n}x512xf32> {{
  %w = rgraph.weight "o.weight" {{shard = #rdu.shard<dim 1, parts 2>}} : tensor<512x512xf32>
  %p = rgraph.linear %x, %w : (tensor<{n}x512xf32>, tensor<512x512xf32>) -> tensor<{n}x512xf32>
  %s = rgraph.all_reduce %p {{sockets = 2 : i64}} : tensor<{n}x512xf32> -> tensor<{n}x512xf32>
  %y = rgraph.add %x, %s : (tensor<{n}x512xf32>, tensor<{n}x512xf32>) -> tensor<{n}x512xf32>
  func.return %y : tensor<{n}x512xf32>
}}
"""


def sized(n: int):
    ctx = make_context()
    module = parse_ir(ctx, AROUND_AN_ALL_REDUCE.format(n=n))
    run_pipeline(ctx, module, UP_TO_SIZING)
    return module


def test_a_residual_around_an_all_reduce_is_not_split_for_a_whole_value() -> None:
    # 16 MB of x: far more than the small chip's SRAM, so holding it whole would split the kernel
    module = sized(8192)
    chip = lowered_target_chip(module, "test")
    (kernel,) = rdu.kernels(module)
    assert not [t for t in rdu.tensors(module) if t.role_name == "spill"]
    reduce = next(s for s in kernel.stages() if isinstance(s, rdu.ComputeOp) and s.opcode.data == "all_reduce")
    assert not is_whole(reduce, chip)
    k = _Kernel.of(kernel, chip)
    assert k.steps(reduce) == max(k.tiles[v] for v in (*reduce.inputs, *reduce.results)) > 1  # a step per tile, as the event engine runs it
    x_buffer = next(s for s in kernel.stages() if isinstance(s, rdu.BufferOp) and isinstance(s.input.owner, rdu.LoadOp)
                    and s.input.owner.tensor.owner.sym_name.data == "x")
    # the residual's FIFO holds what the projection takes before its first reduced tile, not all of x
    assert x_buffer.depth_list()[0] < k.tiles[x_buffer.results[0]]


def test_a_residual_block_at_tp2_is_one_kernel_equal_to_pytorch_and_timed_without_deadlock() -> None:
    """End to end: the residual MLP block over a sequence whose hidden state the small chip's SRAM
    cannot hold, tensor-parallel on two sockets. The add reads the all-reduce tile by tile, so the
    block stays one kernel (it was split at the add, x and the reduced sum through HBM), the event
    timing runs it with the FIFOs rdu-size-fifos gave (a deadlock would stop the run), and every
    socket's output equals PyTorch's."""
    from pathlib import Path

    import torch

    from compiler.driver import CompileOptions, compile_loaded
    from compiler.frontend.model_file import LoadedModel
    from compiler.run_model import run_compiled
    from tests.node.residual_block import ResidualBlock

    torch.manual_seed(0)
    block = ResidualBlock().eval()
    loaded = LoadedModel(Path("residual_block.py"), block, (torch.randn(1, 8192, 64),))
    compiled = compile_loaded(loaded, CompileOptions(node="small-node8", tp=2))
    assert len(compiled.bitstream.kernels) == 1
    report = run_compiled(compiled).to_json()
    assert report["allclose"] is True and report["socket_outputs_agree"] is True
    assert report["collective_stages"] == 1 and report["cycles"] > report["collective_cycles"] > 0
