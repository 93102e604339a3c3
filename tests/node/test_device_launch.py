"""Hardware launch on a node ([device_launch]): a kernel call of a tensor-parallel program on P > 1
sockets waits for a barrier of its sockets over the peer network before the AGCUs launch it (kernel
looping's "synchronization penalties at layer boundaries", arXiv 2410.23668); the iterations of a
looped kernel pay none."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from bench.workloads import Decoder
from chip_model import load_chip, load_node
from chip_model.node import NODE_DIR, DeviceLaunch, PeerNetwork
from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from functional_sim.decode_step import decode_step_timing
from functional_sim.node import simulate_node
from tests.node import decode_model
from tests.node.residual_block import four_blocks

NODE = "small-node8"
TP = 4
LAYERS = 3


def test_a_barrier_is_one_step_over_a_switch_and_p_minus_1_hops_on_a_ring() -> None:
    switch = PeerNetwork("switch", 5e10, 4, 5e-7)
    ring = replace(switch, topology="ring")
    on, off = DeviceLaunch(True), DeviceLaunch(False)
    assert on.barrier_seconds(switch, 8) == 5e-7 and on.barrier_seconds(switch, 16) == 5e-7
    assert on.barrier_seconds(ring, 4) == 3 * 5e-7
    assert on.barrier_seconds(switch, 1) == 0.0 and off.barrier_seconds(ring, 8) == 0.0
    chip = load_chip("sn40l")
    assert on.hardware_launch_cycles(chip, switch, 8) == chip.launch.hardware_launch_cycles + round(5e-7 * chip.clock_hz)
    node = load_node("sn40l-node8")  # the bundled node: one step of its network's latency
    assert node.to_json()["device_launch"]["hardware_launch_cycles"] == \
        chip.launch.hardware_launch_cycles + round(node.network.latency_seconds * chip.clock_hz)


def _compile(node: str, opt_level: int):
    model = Decoder(decode_model.SHAPE, 1).eval()
    inputs = decode_model.example_inputs()[:6]
    return compile_loaded(LoadedModel(Path("layer.py"), model, inputs), CompileOptions(node=node, tp=TP, opt_level=opt_level))


@pytest.fixture(scope="module")
def no_barrier(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("nodes") / "nobarrier-node8.toml"
    path.write_text((NODE_DIR / f"{NODE}.toml").read_text().replace("barrier_per_kernel = true", "barrier_per_kernel = false"))
    return str(path)


def _barrier_cycles(sockets: int = TP) -> int:
    node = load_node(NODE)
    return round(node.device_launch.barrier_seconds(node.network, sockets) * node.chip.clock_hz)


def test_every_hardware_launched_kernel_waits_for_the_barrier(no_barrier) -> None:
    """Kernels run one after another, each after its launch: K kernels pay K barriers; a software
    launch pays none of its own (the host already waits for every socket)."""
    with_barrier, without = _compile(NODE, 0), _compile(no_barrier, 0)
    kernels = len(with_barrier.bitstream.kernels)
    assert kernels > 1 and _barrier_cycles() > 0
    hw = [simulate_node(c.bitstream, None, chip=c.chip, execute=False, launch="hardware").cycles for c in (with_barrier, without)]
    assert hw[0] - hw[1] == kernels * _barrier_cycles()
    sw = [simulate_node(c.bitstream, None, chip=c.chip, execute=False, launch="software").cycles for c in (with_barrier, without)]
    assert sw[0] == sw[1]


def test_a_looped_kernel_pays_the_barrier_once_not_per_layer(no_barrier) -> None:
    """A residual block is one kernel: the hardware loop is one call whose layers pipeline."""
    blocks, x, _ = four_blocks()
    compiled = [compile_loaded(LoadedModel(Path("block.py"), blocks[0], (x,)), CompileOptions(node=n, tp=2))
                for n in (NODE, no_barrier)]
    assert len(compiled[0].bitstream.kernels) == 1
    steps = [decode_step_timing(c.bitstream, None, LAYERS, chip=c.chip, launch="hardware") for c in compiled]
    assert all(s.loop.overlapped for s in steps)
    assert steps[0].cycles - steps[1].cycles == _barrier_cycles(2) > 0
