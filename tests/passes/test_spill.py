"""rdu-size-fifos spills a reconvergent branch the SRAM cannot hold through HBM (passes/spill.py):
the kernel splits at the join, the result still equals PyTorch, and the cycles carry the round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from compiler.driver import CompileOptions, compile_model
from compiler.run_model import run_compiled
from compiler.textual_ir import parse_ir
from dialects import make_context, rdu
from dialects.diagnostics import CapacityError
from functional_sim import simulate
from passes.registry import run_pipeline
from passes.size_fifos import SizeFifosPass, _Kernel, is_whole
from passes.target import lowered_target_chip
from tests.passes.residual_ir import RESIDUAL, UP_TO_SIZING

ROOT = Path(__file__).parents[2]
AROUND_A_TRANSPOSE = """import torch


class M(torch.nn.Module):
    def forward(self, x):
        return x + torch.exp(x.transpose(0, 1)) * 0.5  # the transpose of the last axis is a pipeline break


model = M()
example_inputs = lambda: (torch.randn({n}, {n}),)  # noqa: E731
"""


def sized(n: int, options: str = ""):
    ctx = make_context()
    module = parse_ir(ctx, RESIDUAL.format(n=n))
    run_pipeline(ctx, module, UP_TO_SIZING + options)
    return module


def test_a_branch_no_fifo_can_hold_is_split_at_the_join_and_crosses_through_hbm() -> None:
    module = sized(16384)
    first, second = rdu.kernels(module)
    spills = [t for t in rdu.tensors(module) if t.role_name == "spill"]
    assert [t.result.type.get_shape() for t in spills] == [(1, 1)]  # only the sum crosses: x is in HBM already
    assert [s.name for s in first.stages()] == ["rdu.load", "rdu.buffer", "rdu.compute", "rdu.buffer", "rdu.store"]
    assert first.stages()[-1].tensor is spills[0].result
    loads = [s for s in second.stages() if isinstance(s, rdu.LoadOp)]
    x = next(t for t in rdu.tensors(module) if t.sym_name.data == "x")
    assert [ld.tensor for ld in loads] == [x.result, spills[0].result]  # x loaded again, the spill read back
    join = next(s for s in second.stages() if isinstance(s, rdu.ComputeOp) and s.opcode.data == "add")
    assert all(isinstance(v.owner, rdu.BufferOp) for v in join.inputs)  # each load staged in a PMU
    assert second.sym_name.data == f"{first.sym_name.data}.part1"
    assert spills[0].offset is not None  # memory planning placed it
    assert all(s.depths is not None and s.tiles is not None for k in (first, second) for s in k.stages())


def test_without_spilling_the_cycle_is_named() -> None:
    with pytest.raises(CapacityError, match=r"rdu-size-fifos: deadlock cycle in kernel \w+: \S+/buffer reaches \S+/add "
                                            r"through \S+/sum"):
        sized(16384, "{spill=false}")


def test_a_program_whose_branches_fit_is_not_split() -> None:
    module = sized(256)
    assert len(rdu.kernels(module)) == 1
    assert not [t for t in rdu.tensors(module) if t.role_name == "spill"]


def test_the_driver_passes_the_tile_knobs_the_halves_are_allocated_with() -> None:
    pipeline = CompileOptions(chip="small", tile_bytes=512, fifo_depth=0).pipeline()
    assert "rdu-size-fifos{tile-bytes=512}" in pipeline
    assert "rdu-size-fifos{tile-bytes=512 tile-scale=0.5}" in CompileOptions(chip="small", tile_bytes=512, tile_scale=0.5).pipeline()
    assert "rdu-size-fifos{depth=3}" in CompileOptions(chip="small", fifo_depth=3, tile_scale=0.5).pipeline()
    module = sized(16384, "{tile-bytes=4096}")
    x_load = next(s for s in rdu.kernels(module)[1].stages() if isinstance(s, rdu.LoadOp))
    assert x_load.tile_list() == [4096]


@pytest.fixture(scope="module")
def spilled():
    """A two-residual model on the small chip: both joins spill (tests/models/residual_spill.py)."""
    return run_compiled(compile_model(ROOT / "tests" / "models" / "residual_spill.py", CompileOptions(chip="small")))


def test_a_spilled_model_matches_pytorch(spilled) -> None:
    assert spilled.allclose, spilled.to_text()
    bs = spilled.compile.bitstream
    assert len(bs.kernels) == 3
    assert {t.role for t in bs.tensors} >= {"spill"}


def test_the_cycles_carry_the_hbm_round_trip(spilled) -> None:
    """Each spill tensor is written by an AGCU of one kernel and read by an AGCU of a later one;
    both are bound by HBM and take at least the tensor's bytes at its bandwidth, and the reading
    kernel starts after the writing one ends."""
    bs = spilled.compile.bitstream
    sim = simulate(bs, None, chip=spilled.compile.chip, execute=False)
    assert sim.cycles == spilled.cycles
    record = {k.id: k for k in sim.kernels}
    chip = spilled.compile.chip
    for t in (t for t in bs.tensors if t.role == "spill"):
        writers = [s for s in bs.stages if s.tensor == t.id and s.opcode == "store"]
        readers = [s for s in bs.stages if s.tensor == t.id and s.opcode == "load"]
        assert len(writers) == 1 and len(readers) == 1
        w, r = record[writers[0].kernel], record[readers[0].kernel]
        assert r.start >= w.start + w.cycles
        for kernel, stage in ((w, writers[0]), (r, readers[0])):
            timing = next(s for s in kernel.stages if s.id == stage.id)
            assert timing.bound == "hbm"
            assert timing.last_cycle - timing.first_cycle >= t.nbytes / chip.tier_bytes_per_cycle("hbm")
    spill_bytes = sum(t.nbytes for t in bs.tensors if t.role == "spill")
    moved = sum(bs.tensor(s.tensor).nbytes for s in bs.stages if s.unit == "agcu" and s.tensor >= 0)
    assert sim.tier_bytes["hbm"] == moved and spill_bytes > 0


def test_inspect_lists_the_spills(spilled, tmp_path) -> None:
    path = tmp_path / "m.rbit"
    path.write_bytes(spilled.compile.data)
    out = CliRunner().invoke(main, ["inspect", str(path)])
    assert out.exit_code == 0, out.output
    spills = [t for t in spilled.compile.bitstream.tensors if t.role == "spill"]
    total = sum(t.nbytes for t in spills)
    assert f"spills: {len(spills)} reconvergent branch(es) through HBM" in out.output
    assert f"{total / 1e6:,.3f} MB written and read back between kernels" in out.output
    assert sum(" spill " in line for line in out.output.splitlines()) == len(spills)


def test_a_residual_around_a_pipeline_break_gets_the_whole_value_or_a_spill(tmp_path) -> None:
    """A transpose of the last axis takes all of x before it emits: the residual around it needs
    all of x on its short path. Small enough, the FIFO holds it; too large, it spills; either way
    the event engine runs the compiled program without a deadlock (it no longer streams such
    stages to get around one)."""
    for n, kernels in ((96, 1), (512, 2)):
        model = tmp_path / f"around_{n}.py"
        model.write_text(AROUND_A_TRANSPOSE.format(n=n))
        compiled = compile_model(model, CompileOptions(chip="small"))
        assert len(compiled.bitstream.kernels) == kernels
        report = run_compiled(compiled)
        assert report.allclose, report.to_text()


def test_the_sizing_counts_a_whole_value_stage_as_one_step(tmp_path) -> None:
    model = tmp_path / "around.py"
    model.write_text(AROUND_A_TRANSPOSE.format(n=96))
    from compiler.driver import import_model

    ctx = make_context()
    module = import_model(model).module.clone()
    run_pipeline(ctx, module, "rdu-target{chip=small},canonicalize,rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units")
    chip = lowered_target_chip(module, "test")
    (kernel,) = rdu.kernels(module)
    permute = next(s for s in kernel.stages() if isinstance(s, rdu.ComputeOp) and s.opcode.data == "permute")
    k = _Kernel.of(kernel, chip)
    assert is_whole(permute, chip) and permute in k.whole and k.steps(permute) == 1
    SizeFifosPass().apply(ctx, module)
    x = permute.inputs[0]
    short = next(c for c in x.owner.consumers(x) if c is not permute)
    held = short if isinstance(short, rdu.BufferOp) else x.owner
    assert held.depth_list()[0] >= k.tiles[held.results[0]]  # the whole value on the short path


def test_a_value_loaded_from_a_tensor_the_kernel_writes_is_spilled_not_loaded_again() -> None:
    """Loading again is only for values whose tensor nothing in the kernel changes: a kernel that
    also writes the tensor (a KV cache's new row) would have the second kernel read the new value."""
    from passes.spill import split_at_join

    module = sized(256)
    (kernel,) = rdu.kernels(module)
    x = next(t for t in rdu.tensors(module) if t.sym_name.data == "x")
    store = next(s for s in kernel.stages() if isinstance(s, rdu.StoreOp))
    store.operands[1] = x.result  # the kernel now writes x too
    join = next(s for s in kernel.stages() if isinstance(s, rdu.ComputeOp) and s.opcode.data == "add")
    _, second, spills = split_at_join(module, kernel, join)
    assert [t.result.type.get_shape() for t in spills] == [(256, 512), (1, 1)]
    assert [ld.tensor for ld in second.stages() if isinstance(ld, rdu.LoadOp)] == [t.result for t in spills]
