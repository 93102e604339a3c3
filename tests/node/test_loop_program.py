"""The layer loop in the bitstream (LOOP section, format 3.3): `rducc MODEL.py --layers L` writes
one layer plus its loop, and `rducc sim` times and runs the whole loop from that one file."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import bitstream_format
from bitstream_format.loop_program import IterationAddress
from compiler.cli import main
from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from functional_sim.decode_step import decode_step_hbm_bytes, decode_step_timing
from functional_sim.errors import SimulationError
from functional_sim.layer_loop import LayerLoop, loop_hbm_bytes, loop_timing
from functional_sim.loop_run import simulate_loop
from tests.node import loop_decoder
from tests.node.cli_errors import one_error as _error
from tests.node.residual_block import four_blocks

MODEL = Path(loop_decoder.__file__)
NODE = ("--node", "small-node8", "--tp", "2")


def _invoke(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture(scope="module", params=["socket", "tp2"])
def looped(request, tmp_path_factory) -> Path:
    """The tiny decoder compiled as a 3-layer loop, on one socket of the small chip or on 2 sockets of small-node8."""
    out = tmp_path_factory.mktemp("loop") / f"{request.param}.rbit"
    extra = NODE if request.param == "tp2" else ("--chip", "small")
    result = _invoke(str(MODEL), "-o", str(out), "--layers", "3", "--per-layer", "4,5", *extra)
    assert result.exit_code == 0, result.output
    assert "a loop of 3 layers" in result.output
    return out


def test_the_loop_section_says_what_repeats(looped: Path) -> None:
    bs = bitstream_format.decode(looped.read_bytes())
    loop = bs.loop
    assert bs.manifest["format_version"] == ".".join(map(str, bitstream_format.codec.VERSION)) and bs.manifest["loop_trips"] == 3
    assert loop.trips == 3 and loop.kernels == tuple(k.id for k in bs.kernels) and loop.launch == "hardware"
    assert loop.carries == ((bs.outputs[0], bs.inputs[0]),)  # the hidden state
    looped_ids = {a.tensor for a in loop.addresses}
    weights = {t.id for t in bs.tensors if t.role == "weight"}
    assert looped_ids == weights | {bs.inputs[4], bs.inputs[5]}  # every weight, and each layer's two caches
    hbm_end = max(t.offset + t.nbytes for t in bs.tensors if t.tier == "hbm")
    for a in loop.addresses:  # iterations 1.. each a block of every looped tensor, above the plan
        t = bs.tensor(a.tensor)
        assert a.base >= hbm_end and a.stride == sum(-(-bs.tensor(b.tensor).nbytes // 64) * 64 for b in loop.addresses)
        assert a.offset(0, t.offset) == t.offset and a.offset(2, t.offset) == a.base + a.stride
    # L weight images: iterations 1 and 2 hold layer 1's and layer 2's weights (whole ones when split)
    assert {(t, i) for t, i in loop.images} == {(t, i) for t in weights for i in (1, 2)}
    q = next(t for t in bs.tensors if t.name == "layers.0.q.weight")
    whole = loop_decoder.whole().layers[2].q.weight.detach().numpy()
    assert loop.images[(q.id, 2)] == whole.astype(np.float32).tobytes()
    assert bitstream_format.encode(bs) == looped.read_bytes()  # the reader written from the doc reads it back
    shown = _invoke("inspect", str(looped))
    assert "loop 'layers': 3 iterations" in shown.output and "carries output0 -> x" in shown.output
    assert json.loads(_invoke("inspect", str(looped), "--json").output)["loop"]["trips"] == 3


def _loop_inputs(bs) -> tuple[dict[str, np.ndarray], np.ndarray]:
    shared, caches = loop_decoder.loop_inputs()
    with torch.no_grad():
        want = loop_decoder.whole()(*shared, *[c for pair in caches for c in pair]).numpy()
    arrays = [t.numpy() for t in shared] + [np.stack([pair[k].numpy() for pair in caches]) for k in range(2)]
    return {bs.tensor(t).name: a for t, a in zip(bs.inputs, arrays, strict=True)}, want


def test_rducc_sim_runs_the_whole_loop_from_the_one_file(looped: Path, tmp_path: Path) -> None:
    bs = bitstream_format.decode(looped.read_bytes())
    inputs, want = _loop_inputs(bs)
    np.savez(tmp_path / "in.npz", **inputs)
    out = tmp_path / "out.npz"
    result = _invoke("sim", str(looped), "--inputs", str(tmp_path / "in.npz"), "-o", str(out), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    with np.load(out) as got:
        np.testing.assert_allclose(got[bs.tensor(bs.outputs[0]).name], want, rtol=2e-4, atol=2e-4)
    # timed as the runtime loop over the same program times it
    one = replace(bs, loop=None)
    hw = loop_timing(one, bitstream_format_chip(bs), LayerLoop(3, ((0, 0),), (4, 5)), "hardware")
    assert report["cycles"] == hw.cycles and report["loop"]["layers"] == 3 and report["loop"]["launch"] == "hardware"
    sw = _invoke("sim", str(looped), "--timing-only", "--launch", "software", "--json")
    assert json.loads(sw.stdout)["cycles"] == 3 * _invoke_cycles(looped) > report["cycles"]


def bitstream_format_chip(bs):
    from functional_sim.simulator import _chip

    return _chip(bs, None)


def _invoke_cycles(path: Path) -> int:
    """One iteration alone, software-launched (the program without its loop)."""
    from functional_sim.node import simulate_node
    from functional_sim.simulator import simulate

    bs = replace(bitstream_format.decode(path.read_bytes()), loop=None)
    run = simulate_node if bs.node is not None else simulate
    return run(bs, None, execute=False, launch="software").cycles


def test_resident_hbm_holds_every_layers_copies(looped: Path) -> None:
    bs = bitstream_format.decode(looped.read_bytes())
    # the runtime's count of the same copies, packed; the file's are each aligned to 64 bytes
    packed = loop_hbm_bytes(replace(bs, loop=None), LayerLoop(3, ((0, 0),), (4, 5)))
    assert packed <= loop_hbm_bytes(bs) < packed + 64 * (1 + 2 * len(bs.loop.addresses))
    assert decode_step_hbm_bytes(bs, None) == loop_hbm_bytes(bs)


@pytest.fixture(scope="module")
def blocks():
    """4 residual blocks with their own weights as a loop of one compiled block (one kernel, so the
    loop's iterations overlap), on 2 sockets."""
    layers, x, want = four_blocks()
    loaded = LoadedModel(Path("block.py"), layers[0], (x,), layer_model=lambda i: layers[i])
    compiled = compile_loaded(loaded, CompileOptions(node="small-node8", tp=2, layers=4))
    return x.numpy(), want.numpy(), compiled


def test_a_one_kernel_loop_overlaps_its_iterations_and_equals_the_blocks(blocks) -> None:
    x, want, compiled = blocks
    bs = compiled.bitstream
    assert len(bs.kernels) == 1 and bs.loop.trips == 4
    result = simulate_loop(bs, [x], chip=compiled.chip)
    for socket in result.socket_outputs:
        np.testing.assert_allclose(socket[0], want, rtol=1e-5, atol=1e-5)
    assert result.loop.overlapped and result.cycles < result.loop.serial_cycles
    runtime = loop_timing(replace(bs, loop=None), compiled.chip, LayerLoop(4, ((0, 0),)), "hardware")
    assert result.cycles == runtime.cycles  # the loop read from the file is the loop built at run time
    step = decode_step_timing(bs, None, chip=compiled.chip)
    assert step.layers == 4 and step.cycles == result.cycles
    with pytest.raises(SimulationError, match="is a loop of 4 layers, not 5"):
        decode_step_timing(bs, None, 5, chip=compiled.chip)


def test_the_loops_launch_cost_comes_from_the_file(blocks) -> None:
    _, _, compiled = blocks
    bs, chip = compiled.bitstream, compiled.chip
    assert bs.loop.iteration_launch_cycles == chip.launch.hardware_launch_cycles
    slower = replace(bs, loop=replace(bs.loop, iteration_launch_cycles=bs.loop.iteration_launch_cycles + 5000))
    assert loop_timing(slower, chip).cycles > loop_timing(bs, chip).cycles


def _rewritten(path: Path, tmp_path: Path, **changes) -> Path:
    bs = bitstream_format.decode(path.read_bytes())
    bs.loop = replace(bs.loop, **changes)
    out = tmp_path / "bad.rbit"
    out.write_bytes(bitstream_format.encode(bs))
    return out


def test_a_loop_the_chip_cannot_run_is_refused_before_running(looped: Path, tmp_path: Path) -> None:
    bs = bitstream_format.decode(looped.read_bytes())
    _error(_invoke("sim", str(_rewritten(looped, tmp_path, trips=0)), "--timing-only"),
           "loop 'layers' has trip count 0")
    cos = bs.inputs[1]
    _error(_invoke("sim", str(_rewritten(looped, tmp_path, carries=((bs.outputs[0], cos),)))),
           "loop 'layers' carries output 'output0'", "into input 'cos'", "must keep its dtype and shape")
    hbm = 256 * 2 ** 20  # the small chip's HBM
    a = bs.loop.addresses[-1]
    far = tuple(replace(b, base=hbm - 64) if b is a else b for b in bs.loop.addresses)
    _error(_invoke("sim", str(_rewritten(looped, tmp_path, addresses=far)), "--timing-only"),
           "loop 'layers': iteration 2's copy of", "beyond HBM (268,435,456 bytes)")
    tight = tuple(replace(b, stride=1) if b is a else b for b in bs.loop.addresses)
    _error(_invoke("sim", str(_rewritten(looped, tmp_path, addresses=tight)), "--timing-only"),
           "loop 'layers': the copies of", "one iteration's would overwrite the next's")


def test_a_shapes_only_loop_is_timed_not_run(tmp_path: Path) -> None:
    model = tmp_path / "meta.py"
    model.write_text("import torch\nfrom torch import nn\nwith torch.device('meta'):\n    model = nn.Linear(8, 8)\n"
                     "example_inputs = (torch.empty(2, 8, device='meta'),)\n")
    out = tmp_path / "meta.rbit"
    assert _invoke(str(model), "-o", str(out), "--chip", "small", "--layers", "4").exit_code == 0
    bs = bitstream_format.decode(out.read_bytes())
    assert bs.loop.trips == 4 and not bs.loop.images  # no values: nothing to hold for layers 1..3
    timed = _invoke("sim", str(out), "--timing-only", "--json")
    assert timed.exit_code == 0 and json.loads(timed.stdout)["loop"]["overlapped"]
    _error(_invoke("sim", str(out)), "cannot execute: the bitstream was compiled shapes-only")


def test_per_layer_inputs_are_given_stacked(looped: Path, tmp_path: Path) -> None:
    bs = bitstream_format.decode(looped.read_bytes())
    inputs, _ = _loop_inputs(bs)
    cache = bs.tensor(bs.inputs[4]).name
    inputs[cache] = inputs[cache][0]  # one layer's cache, not the 3 layers'
    np.savez(tmp_path / "in.npz", **inputs)
    _error(_invoke("sim", str(looped), "--inputs", str(tmp_path / "in.npz")),
           f"input '{cache}' is per layer: give its 3 layers' values stacked on a leading axis")


def test_loop_flags_are_checked(tmp_path: Path) -> None:
    _error(_invoke(str(MODEL), "-o", str(tmp_path / "x.rbit"), "--layers", "2", "--carry", "0"),
           "--carry takes RESULT:ARGUMENT pairs")
    _error(_invoke(str(MODEL), "-o", str(tmp_path / "x.rbit"), "--layers", "2", "--carry", "0:1"),
           "carries result 0 (f32 (1, 1, 64)) into argument 1 (f32 (1, 1, 1, 16))")
    assert not (tmp_path / "x.rbit").exists()


def test_the_reader_refuses_a_loop_naming_what_does_not_exist() -> None:
    from bitstream_format import BitstreamError
    from bitstream_format.loop_program import LoopProgram

    bs = bitstream_format.decode(bitstream_format.encode(_tiny()))
    bs.loop = LoopProgram("layers", 2, (0,), "hardware", 1600, ((9, 0),), (IterationAddress(0, 4096, 64),))
    with pytest.raises(BitstreamError, match="loop 'layers' names tensor 9, which does not exist"):
        bitstream_format.decode(bitstream_format.encode(bs))


def _tiny():
    from tests.sim.test_codec import sample

    return sample()


LAYER_FILE = '''
import torch
from torch import nn

model = nn.Linear(8, 8)
example_inputs = (torch.randn(2, 8),)
{layer_model}
'''


@pytest.mark.parametrize(("layer_model", "needle"), [
    ("layer_model = 3", "`layer_model` is a int, not a callable taking a layer index"),
    ("def layer_model(i):\n    return 'x'", "`layer_model(1)` returned a str, not a torch.nn.Module"),
    ("def layer_model(i):\n    return nn.Sequential(nn.Linear(8, 8))", "layer 1 has no weight 'weight'"),
    ("def layer_model(i):\n    return nn.Linear(8, 8, bias=False) if i == 2 else nn.Linear(8, 8)", "layer 2 has no weight 'bias'"),
    ("def layer_model(i):\n    m = nn.Linear(8, 8)\n    m.weight = nn.Parameter(torch.ones(8, 4))\n    return m",
     "layer 1's weight 'weight' has 128 bytes, layer 0's 256"),
])
def test_layer_weights_must_match_layer_zeros(tmp_path: Path, layer_model: str, needle: str) -> None:
    model = tmp_path / "layer.py"
    model.write_text(LAYER_FILE.format(layer_model=layer_model))
    _error(_invoke(str(model), "-o", str(tmp_path / "x.rbit"), "--chip", "small", "--layers", "3"), needle)
    assert not (tmp_path / "x.rbit").exists()


def test_rducc_run_compares_the_loop_with_the_layers_run_in_turn() -> None:
    result = _invoke("run", str(MODEL), "--layers", "3", "--per-layer", "4,5", "--chip", "small", "--launch", "hardware",
                     "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["allclose"] is True and report["loop"]["layers"] == 3 and report["loop"]["launch"] == "hardware"
    assert report["cycle_breakdown"]["total_cycles"] == report["cycles"] == report["loop"]["cycles"]
    assert len(report["kernel_report"]) == 3 * report["kernels"]  # every iteration's kernels, in order


def test_a_software_launched_loop_on_a_node_pays_the_hosts_launch(looped: Path) -> None:
    """Each layer of a software-launched loop is a host launch on every socket of the program
    (the node's `[host_launch]`), as a single layer's is; one socket pays the chip's own."""
    from chip_model import load_chip, load_node

    bs = bitstream_format.decode(looped.read_bytes())
    chip = load_chip(bs.chip)
    timed = simulate_loop(bs, None, execute=False, launch="software")
    per_launch = chip.launch.software_launch_cycles
    if bs.node is not None:
        per_launch = load_node(bs.node.node).host_launch.software_launch_cycles(chip, bs.node.sockets)
        assert per_launch > chip.launch.software_launch_cycles
    assert timed.loop.launch_cycles == bs.loop.trips * len(bs.loop.kernels) * per_launch  # every kernel of every layer
    assert timed.loop.cycles == decode_step_timing(bs, None, launch="software").cycles


def test_the_bundled_loop_example_matches_pytorch_run_in_turn() -> None:
    """examples/residual_loop.py, as the README runs it: 4 blocks with their own weights."""
    example = Path(__file__).parents[2] / "examples" / "residual_loop.py"
    result = _invoke("run", str(example), "--layers", "4", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["allclose"] is True and report["max_abs_error"] < 1e-4
