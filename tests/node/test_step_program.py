"""A whole decode step in one bitstream (format 3.4): `rducc MODEL.py --layers L --loop-body
layers.0` writes the embedding (prologue), the layer looped L times and the final norm, LM head
and argmax (epilogue) into one file; `rducc sim` runs and times the step from it, and its token is
PyTorch's greedy token."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import bitstream_format
from bitstream_format.loop_program import IterationAddress, loop_parts, loop_problem
from compiler.cli import main
from functional_sim.errors import SimulationError
from functional_sim.loop_run import simulate_loop
from functional_sim.simulator import _chip
from tests.node import decode_model, step_decoder
from tests.node.cli_errors import one_error

MODEL = Path(step_decoder.__file__)
LOOP = ("--layers", "3", "--per-layer", "4,5", "--loop-body", "layers.0")
TOKEN = 27  # a token whose greedy successor after 3 layers (3) differs from the one after layer 0 alone (181)


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module", params=["socket", "tp2"])
def step(request, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("step") / f"{request.param}.rbit"
    extra = ("--node", "small-node8", "--tp", "2") if request.param == "tp2" else ("--chip", "small")
    result = _invoke(str(MODEL), "-o", str(out), *LOOP, *extra)
    assert result.exit_code == 0, result.output
    return out


def _greedy(model: torch.nn.Module, token: int, caches: list[list[torch.Tensor]]) -> int:
    shared = step_decoder.example_inputs(token)[1:4]
    with torch.no_grad():
        return int(model(torch.tensor([[token]]), *shared, *[c for pair in caches for c in pair]).item())


def _caches() -> list[list[torch.Tensor]]:
    g = torch.Generator().manual_seed(3)
    s = decode_model.SHAPE
    return [[torch.randn(1, s.kv_heads, decode_model.CONTEXT, s.head_dim, generator=g) for _ in range(2)]
            for _ in range(step_decoder.LAYERS)]


def _inputs(bs, token: int, caches) -> dict[str, np.ndarray]:
    shared = [t.numpy() for t in step_decoder.example_inputs(token)[:4]]
    stacked = [np.stack([pair[k].numpy() for pair in caches]) for k in range(2)]
    return {bs.tensor(t).name: a for t, a in zip(bs.inputs, shared + stacked, strict=True)}


def test_the_loop_section_names_prologue_loop_and_epilogue(step: Path) -> None:
    bs = bitstream_format.decode(step.read_bytes())
    loop = bs.loop
    assert bs.manifest["format_version"] == ".".join(map(str, bitstream_format.codec.VERSION)) == "3.5"
    names = {k.id: k.name for k in bs.kernels}
    assert [names[k] for k in loop.prologue] == ["embed"] and [names[k] for k in loop.epilogue] == ["forward"]
    assert all(names[k].startswith("layers.0") for k in loop.kernels) and loop.trips == 3
    # the carry is the hidden state in HBM: stored by the prologue, loaded and stored by the loop
    (o, n), = loop.carries
    assert bs.tensor(o).role == bs.tensor(n).role == "activation" and o not in bs.outputs and n not in bs.inputs
    looped = {bs.tensor(a.tensor).name for a in loop.addresses}
    assert looped == {"cache", "cache_1"} | {t.name for t in bs.tensors if t.name.startswith("layers.0.")
                                             and t.role == "weight"}
    assert not looped & {"embed.weight", "lm_head.weight", "norm.weight"}  # once per step, not per layer
    prologue, body, epilogue = loop_parts(bs)
    assert body.inputs[0] == n and body.outputs == [o] and epilogue.outputs == bs.outputs
    assert bitstream_format.encode(bs) == step.read_bytes()
    shown = _invoke("inspect", str(step))
    assert "prologue embed, epilogue forward (run once)" in shown.output and "carries t" in shown.output
    assert json.loads(_invoke("inspect", str(step), "--json").output)["loop"]["prologue"] == list(loop.prologue)


def test_rducc_sim_gives_pytorchs_greedy_token(step: Path, tmp_path: Path) -> None:
    bs = bitstream_format.decode(step.read_bytes())
    caches = _caches()
    want = _greedy(step_decoder.whole(), TOKEN, caches)
    assert want != _greedy(step_decoder.model(), TOKEN, caches[:1])  # the loop's layers change the token
    np.savez(tmp_path / "in.npz", **_inputs(bs, TOKEN, caches))
    out = tmp_path / "out.npz"
    result = _invoke("sim", str(step), "--inputs", str(tmp_path / "in.npz"), "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    with np.load(out) as got:
        assert got[bs.tensor(bs.outputs[0]).name].tolist() == [[want]]
    report = json.loads(result.stdout)["step"]
    assert report["prologue_cycles"] > 0 and report["epilogue_cycles"] > 0 and report["loop"]["layers"] == 3
    assert json.loads(result.stdout)["cycles"] == report["cycles"] == (
        report["prologue_cycles"] + report["loop_cycles"] + report["epilogue_cycles"] + report["section_load_cycles"])


def test_greedy_generation_feeds_the_token_back(step: Path) -> None:
    """Three tokens, each step's argmax the next step's token id, as PyTorch's greedy decode (the
    caches held fixed: the step takes them as inputs)."""
    bs = bitstream_format.decode(step.read_bytes())
    caches, whole = _caches(), step_decoder.whole()
    token, got, want = TOKEN, [], []
    for _ in range(3):
        out = simulate_loop(bs, list(_inputs(bs, token, caches).values())).outputs[0]
        token = int(out.item())
        got.append(token)
        want.append(_greedy(whole, want[-1] if want else TOKEN, caches))
    assert got == want


def test_the_node_step_reports_the_hosts_work_per_token(step: Path) -> None:
    bs = bitstream_format.decode(step.read_bytes())
    if bs.node is None:
        assert simulate_loop(bs, None, execute=False).step.host_token == {}  # one socket: no node host
        return
    timing = simulate_loop(bs, None, execute=False, launch="hardware").step
    # small-node8's [host_token]: 2 us readback, 1 us per socket to feed, one host launch on the 2 sockets
    from chip_model.node import load_node

    node = load_node("small-node8")
    clock = node.chip.clock_hz
    assert timing.host_token == {"readback": round(2e-6 * clock), "feed": round(2 * 1e-6 * clock),
                                 "launch": node.host_launch.software_launch_cycles(node.chip, 2)}
    sw = simulate_loop(bs, None, execute=False, launch="software").step
    assert sw.cycles > timing.cycles and sw.host_token == timing.host_token
    assert timing.part_collective_cycles("loop") > 0 and timing.part_collective_cycles("epilogue") > 0  # the all-gather


def _chip_capacity(bs) -> dict[str, int]:
    return {m.tier: m.capacity_bytes for m in _chip(bs, None).memories}


@pytest.mark.parametrize("corrupt, needle", [
    (lambda bs: replace(bs.loop, epilogue=()), "must be the program's kernels"),
    (lambda bs: replace(bs.loop, prologue=bs.loop.prologue + bs.loop.prologue), "must be the program's kernels"),
    (lambda bs: replace(bs.loop, carries=((bs.loop.carries[0][0], bs.inputs[1]),)), "the loop must store the first"),
    (lambda bs: replace(bs.loop, addresses=bs.loop.addresses + (IterationAddress(
        next(t.id for t in bs.tensors if t.name == "lm_head.weight"), 1 << 27, 1 << 20),)),
     "'lm_head.weight' has a copy per iteration but the prologue or epilogue reads it"),
])
def test_a_bad_step_is_refused_naming_the_loop(step: Path, tmp_path: Path, corrupt, needle) -> None:
    bs = bitstream_format.decode(step.read_bytes())
    bad = replace(bs, loop=corrupt(bs))
    problem = loop_problem(bad, _chip_capacity(bs))
    assert problem is not None and problem.startswith("loop 'layers'") and needle in problem
    with pytest.raises(SimulationError, match="loop 'layers'"):
        simulate_loop(bad, None, execute=False)
    path = tmp_path / "bad.rbit"
    path.write_bytes(bitstream_format.encode(bad))
    one_error(_invoke("sim", str(path), "--timing-only"), "loop 'layers'", needle)


@pytest.mark.parametrize("args, needle", [
    (("--layers", "3", "--loop-body", "layers.7"), "no op of the function comes from module 'layers.7'"),
    (("--layers", "3", "--per-layer", "0", "--loop-body", "layers.0"), "argument 0 is per layer but is read outside"),
    (("--loop-body", "layers.0"), "--loop-body names the loop of --layers L"),
    (("--layers", "3", "--carry", "0:1", "--loop-body", "layers.0"), "--loop-body derives the carried value"),
])
def test_a_bad_loop_body_is_one_error(tmp_path: Path, args, needle) -> None:
    out = tmp_path / "x.rbit"
    one_error(_invoke(str(MODEL), "-o", str(out), "--chip", "small", *args), needle)
    assert not out.exists()


def test_rducc_run_compares_the_looped_step_with_pytorch() -> None:
    result = _invoke("run", str(MODEL), *LOOP, "--chip", "small", "--launch", "hardware", "--json")
    report = json.loads(result.stdout)
    assert result.exit_code == 0 and report["allclose"] is True and report["max_abs_error"] == 0.0


def test_an_fp32_residual_step_all_reduces_fp32_and_equals_pytorch() -> None:
    """The paper's mixed precision (BF16 weights, FP32 hidden state): the row-parallel projections
    read their BF16 weights through a cast, are still split, and all-reduce FP32 partial sums."""
    from compiler.driver import CompileOptions, compile_loaded
    from compiler.frontend.model_file import LoadedModel
    from compiler.run_model import run_compiled
    from bench.workloads import DecodeStep

    torch.manual_seed(0)
    model = DecodeStep(decode_model.SHAPE, 1, residual=torch.float32).to(torch.bfloat16).eval()
    inputs = tuple(t.to(torch.bfloat16) if t.is_floating_point() else t for t in step_decoder.example_inputs(TOKEN))
    loaded = LoadedModel(Path("fp32_step.py"), model, inputs)
    compiled = compile_loaded(loaded, CompileOptions(node="small-node8", tp=2, layers=2, per_layer=(4, 5),
                                                     loop_body="layers.0"))
    bs = compiled.bitstream
    reduces = [s for s in bs.stages if s.opcode == "all_reduce"]
    assert len(reduces) == 2 and all(bs.stream(s.inputs[0]).dtype == "f32" for s in reduces)
    assert {"layers.0.o.weight", "layers.0.down.weight"} <= {bs.tensor(t).name for t in bs.node.wholes}  # split
    report = run_compiled(compiled, "hardware")
    assert report.allclose is True


def test_a_looped_step_compiles_under_the_cycle_placer() -> None:
    """The cycle placer simulates candidate placements as programs; a candidate that re-placed only
    some kernels must still be simulated as a program whose loop body follows its prologue (a cache
    of earlier simulations once sent it the new kernels alone: "not one stretch after a prologue")."""
    from compiler.driver import CompileOptions, compile_loaded
    from compiler.frontend.model_file import LoadedModel
    from bench.workloads import DecodeStep

    torch.manual_seed(0)
    model = DecodeStep(decode_model.SHAPE, 1).eval()
    compiled = compile_loaded(LoadedModel(Path("step.py"), model, step_decoder.example_inputs(TOKEN)),
                              CompileOptions(node="small-node8", tp=2, layers=2, per_layer=(4, 5),
                                             loop_body="layers.0", placer="cycles"))
    assert compiled.bitstream.loop.trips == 2 and compiled.bitstream.kernels[0].name == "embed"
