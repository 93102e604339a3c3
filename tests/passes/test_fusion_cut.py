"""Fusion (`passes.fuse`): ops join the current kernel while it fits the chip; a full kernel ends at
the cut in its second half that sends the fewest bytes through HBM, provided the ops moved along
still fit one kernel with the op that did not fit. Graphs are small enough to predict every cut."""

from __future__ import annotations

from pathlib import Path

import pytest

from chip_model import load_chip
from compiler.textual_ir import parse_ir
from dialects import make_context, rdu, rgraph
from passes.fuse import FusePass, KernelDemand
from passes.registry import run_pipeline

SMALL_SPEC = Path(__file__).parents[2] / "chip_model" / "specs" / "small.toml"


def T(*shape: int) -> str:
    return "tensor<" + "x".join(map(str, shape)) + "xf32>"


def parse(text: str):
    ctx = make_context()
    return ctx, parse_ir(ctx, text)


def graph_ops(module) -> tuple[list[rgraph.GraphOp], set]:
    """The ops rdu-fuse partitions (in program order) and the values the function returns."""
    fn = next(iter(module.ops))
    ops = [op for op in fn.body.block.ops if isinstance(op, rgraph.GraphOp) and not isinstance(op, rgraph.FullOp)]
    return ops, set(fn.body.block.last_op.operands)


def opcode(stage: rdu.ComputeOp) -> str:
    data = stage.opcode.data
    return getattr(data, "value", data)


def kernels_of(text: str, fuse_options: str, chip: str = "small") -> list[list[str]]:
    """The model's operators in each kernel after rdu-fuse and rdu-lower (on-chip constants left out)."""
    ctx, module = parse(text)
    fuse = f"rdu-fuse{{{fuse_options}}}" if fuse_options else "rdu-fuse"
    run_pipeline(ctx, module, f"rdu-target{{chip={chip}}},{fuse},rdu-lower")
    kernels = [op for op in module.body.block.ops if isinstance(op, rdu.KernelOp)]
    return [[opcode(s) for s in k.stages() if isinstance(s, rdu.ComputeOp) and opcode(s) != "full"] for k in kernels]


# exp(x) is as large as x; its row sums are 64x smaller. Cutting right after the sum sends 256
# bytes through HBM; cutting after the mul would send 16 KiB.
REDUCE_THEN_SCALE = f"""
func.func @forward(%x: {T(64, 64)}) -> {T(64, 64)} {{
  %0 = rgraph.exp %x : {T(64, 64)} -> {T(64, 64)}
  %1 = rgraph.sum %0 {{dims = array<i64: 1>, keepdim = true}} : {T(64, 64)} -> {T(64, 1)}
  %2 = rgraph.mul %x, %1 : ({T(64, 64)}, {T(64, 1)}) -> {T(64, 64)}
  %3 = rgraph.exp %2 : {T(64, 64)} -> {T(64, 64)}
  func.return %3 : {T(64, 64)}
}}
"""


def test_a_full_kernel_ends_at_the_cheapest_cut() -> None:
    _, module = parse(REDUCE_THEN_SCALE)
    ops, returned = graph_ops(module)
    kept, moved = FusePass(max_ops=3).split(ops[:3], ops[3], load_chip("small"), returned)
    assert kept == ops[:2] and moved == [ops[2]]
    assert kernels_of(REDUCE_THEN_SCALE, "max-ops=3") == [["exp", "sum"], ["mul", "exp"]]


def test_the_cut_is_searched_only_in_the_second_half() -> None:
    # The 256-byte sum comes first: cutting after it would be cheapest, but it would leave a
    # one-op kernel behind, so the cut is searched among the last half only, where every cut
    # sends 16 KiB; the kernel stays whole.
    text = f"""
    func.func @forward(%x: {T(64, 64)}) -> {T(64, 64)} {{
      %0 = rgraph.sum %x {{dims = array<i64: 1>, keepdim = true}} : {T(64, 64)} -> {T(64, 1)}
      %1 = rgraph.mul %x, %0 : ({T(64, 64)}, {T(64, 1)}) -> {T(64, 64)}
      %2 = rgraph.exp %1 : {T(64, 64)} -> {T(64, 64)}
      %3 = rgraph.neg %2 : {T(64, 64)} -> {T(64, 64)}
      %4 = rgraph.exp %3 : {T(64, 64)} -> {T(64, 64)}
      func.return %4 : {T(64, 64)}
    }}
    """
    _, module = parse(text)
    ops, returned = graph_ops(module)
    kept, moved = FusePass(max_ops=4).split(ops[:4], ops[4], load_chip("small"), returned)
    assert kept == ops[:4] and moved == []
    assert kernels_of(text, "max-ops=4") == [["sum", "mul", "exp", "neg"], ["exp"]]


def test_equal_cuts_keep_the_kernel_whole() -> None:
    text = _chain(6)
    _, module = parse(text)
    ops, returned = graph_ops(module)
    kept, moved = FusePass(max_ops=5).split(ops[:5], ops[5], load_chip("small"), returned)
    assert kept == ops[:5] and moved == []


def _three_agcu_chip(tmp: Path) -> Path:
    """The small chip with three AGCUs (one column of three) instead of twelve."""
    text = SMALL_SPEC.read_text().replace('name = "small"', 'name = "three-agcus"')
    first = text.index('[[grid.region]]\npattern = "column"')
    text = text[:first] + '[[grid.region]]\npattern = "column"\nkind = "agcu"\nx = [0, 0]\ny = [0, 2]\n'
    path = tmp / "three_agcus.toml"
    path.write_text(text)
    return path


def test_no_cut_when_the_moved_ops_would_not_fit_with_the_next(tmp_path: Path) -> None:
    # [exp, sum, mul, exp] loads x and y and stores one result: 3 AGCUs. The cheapest cut (after
    # the sum) would start the next kernel with loads of the sum, y and z and a store: 4 AGCUs,
    # more than the chip has, so the kernel ends where it filled instead.
    text = f"""
    func.func @forward(%x: {T(64, 64)}, %y: {T(64, 64)}, %z: {T(64, 64)}) -> {T(64, 64)} {{
      %0 = rgraph.exp %x : {T(64, 64)} -> {T(64, 64)}
      %1 = rgraph.sum %0 {{dims = array<i64: 1>, keepdim = true}} : {T(64, 64)} -> {T(64, 1)}
      %2 = rgraph.mul %y, %1 : ({T(64, 64)}, {T(64, 1)}) -> {T(64, 64)}
      %3 = rgraph.exp %2 : {T(64, 64)} -> {T(64, 64)}
      %4 = rgraph.mul %3, %z : ({T(64, 64)}, {T(64, 64)}) -> {T(64, 64)}
      func.return %4 : {T(64, 64)}
    }}
    """
    chip = load_chip(str(_three_agcu_chip(tmp_path)))
    assert chip.count("agcu") == 3
    _, module = parse(text)
    ops, returned = graph_ops(module)
    fuse = FusePass(max_ops=4)
    assert fuse.split(ops[:4], ops[4], chip, returned) == (ops[:4], [])
    # On the small chip (12 AGCUs) the same kernel does end at the cheapest cut.
    assert fuse.split(ops[:4], ops[4], load_chip("small"), returned) == (ops[:2], ops[2:4])


def _chain(n: int) -> str:
    body = "\n".join(f"  %{i + 1} = rgraph.exp %{i} : {T(64, 64)} -> {T(64, 64)}" for i in range(n))
    return f"func.func @forward(%0: {T(64, 64)}) -> {T(64, 64)} {{\n{body}\n  func.return %{n} : {T(64, 64)}\n}}\n"


def test_a_kernel_fills_until_its_buffers_outnumber_the_pmus() -> None:
    # n chained PCU ops need n PCUs and n + 1 PMUs (a buffer behind each result and one for the
    # loaded input): the small chip's 24 PMUs hold 23 of them.
    small = load_chip("small")
    assert small.count("pcu") == small.count("pmu") == 24
    _, module = parse(_chain(24))
    ops, returned = graph_ops(module)
    demand = KernelDemand()
    for op in ops[:23]:
        demand = demand.with_op(op)
    assert demand.fits(small, returned, 0)
    assert not demand.with_op(ops[23]).fits(small, returned, 0)
    assert [len(k) for k in kernels_of(_chain(30), "")] == [23, 7]


def decoder(layers: int, s: int = 64, d: int = 256, f: int = 512) -> str:
    """Pre-norm residual blocks: r' = r + W_b relu(W_a (r * rsqrt(mean(r * r)))); 8 ops a layer."""
    lines = [f"func.func @forward(%r0: {T(s, d)}) -> {T(s, d)} {{"]
    for i in range(layers):
        lines += [f'  %wa{i} = rgraph.weight "wa{i}" : {T(f, d)}', f'  %wb{i} = rgraph.weight "wb{i}" : {T(d, f)}']
    for i in range(layers):
        r = f"%r{i}"
        lines += [
            f"  %sq{i} = rgraph.mul {r}, {r} : ({T(s, d)}, {T(s, d)}) -> {T(s, d)}",
            f"  %ms{i} = rgraph.mean %sq{i} {{dims = array<i64: 1>, keepdim = true}} : {T(s, d)} -> {T(s, 1)}",
            f"  %rs{i} = rgraph.rsqrt %ms{i} : {T(s, 1)} -> {T(s, 1)}",
            f"  %nm{i} = rgraph.mul {r}, %rs{i} : ({T(s, d)}, {T(s, 1)}) -> {T(s, d)}",
            f"  %up{i} = rgraph.linear %nm{i}, %wa{i} : ({T(s, d)}, {T(f, d)}) -> {T(s, f)}",
            f"  %ac{i} = rgraph.relu %up{i} : {T(s, f)} -> {T(s, f)}",
            f"  %dn{i} = rgraph.linear %ac{i}, %wb{i} : ({T(s, f)}, {T(d, f)}) -> {T(s, d)}",
            f"  %r{i + 1} = rgraph.add {r}, %dn{i} : ({T(s, d)}, {T(s, d)}) -> {T(s, d)}",
        ]
    lines.append(f"  func.return %r{layers} : {T(s, d)}\n}}")
    return "\n".join(lines)


LAYER = ["mul", "mean", "rsqrt", "mul", "linear", "relu", "linear", "add"]


def test_a_model_that_fits_is_one_kernel() -> None:
    assert kernels_of(decoder(3), "", chip="sn40l") == [LAYER * 3]


def test_decoder_layers_become_one_kernel_each() -> None:
    # A kernel holds at most 10 ops, a layer 8: the first kernel fills two ops into layer 1.
    # Between layers only the residual stream crosses; after layer 1's mean, the mean and the
    # residual (read by layer 1's norm and its final add) both do.
    assert kernels_of(decoder(3), "max-ops=10", chip="sn40l") == [LAYER, LAYER, LAYER]
