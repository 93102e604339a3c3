"""Software launch on a node: the host issues each kernel to every socket of the program (the node
spec's `[host_launch]`), so a launch on P sockets costs more than the chip's one-socket figure
when the host issues serially; hardware launch does not go through the host."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.workloads import Decoder
from chip_model import load_node
from chip_model.node import NODE_DIR
from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from functional_sim.decode_step import decode_step_timing
from functional_sim.node import simulate_node
from tests.node import decode_model

NODE = "small-node8"
TP = 4


def _compile(node: str, opt_level: int = 1):
    model = Decoder(decode_model.SHAPE, 1).eval()
    inputs = decode_model.example_inputs()[:6]
    return compile_loaded(LoadedModel(Path("layer.py"), model, inputs), CompileOptions(node=node, tp=TP, opt_level=opt_level))


@pytest.fixture(scope="module")
def serial_and_parallel(tmp_path_factory):
    """One decoder layer at -O0 (several kernels) for small-node8, and for a copy of it whose host
    issues to the sockets in parallel."""
    parallel = tmp_path_factory.mktemp("nodes") / "parallel-node8.toml"
    parallel.write_text((NODE_DIR / f"{NODE}.toml").read_text().replace("serial_issue = true", "serial_issue = false"))
    return _compile(NODE, opt_level=0), _compile(str(parallel), opt_level=0)


def test_a_software_launch_pays_every_sockets_issue(serial_and_parallel) -> None:
    serial, parallel = serial_and_parallel
    node = load_node(NODE)
    chip = serial.chip
    per_kernel = node.host_launch.software_launch_cycles(chip, TP)
    extra = per_kernel - chip.launch.software_launch_cycles
    assert extra == round((TP - 1) * node.host_launch.issue_seconds_per_socket * chip.clock_hz) > 0
    s = simulate_node(serial.bitstream, None, chip=chip, execute=False, launch="software")
    p = simulate_node(parallel.bitstream, None, chip=chip, execute=False, launch="software")
    kernels = len(s.socket.kernels)
    assert kernels > 1
    assert [k.launch_cycles for k in s.socket.kernels] == [per_kernel] * kernels
    assert [k.launch_cycles for k in p.socket.kernels] == [chip.launch.software_launch_cycles] * kernels
    # kernels run one after another, each after its launch: the serial issue adds to every one
    assert s.cycles - p.cycles == kernels * extra


def test_hardware_launch_does_not_go_through_the_host(serial_and_parallel) -> None:
    """The AGCUs launch each kernel after the sockets' barrier ([device_launch]); the host's issue
    order changes nothing."""
    serial, parallel = serial_and_parallel
    chip, node = serial.chip, load_node(NODE)
    s = simulate_node(serial.bitstream, None, chip=chip, execute=False, launch="hardware")
    p = simulate_node(parallel.bitstream, None, chip=chip, execute=False, launch="hardware")
    per_kernel = node.device_launch.hardware_launch_cycles(chip, node.network, TP)
    assert {k.launch_cycles for k in s.socket.kernels} == {per_kernel}
    assert s.cycles == p.cycles


def test_a_decode_step_launches_every_layer_on_every_socket(serial_and_parallel) -> None:
    serial, _ = serial_and_parallel
    chip = serial.chip
    per_kernel = load_node(NODE).host_launch.software_launch_cycles(chip, TP)
    step = decode_step_timing(serial.bitstream, None, 3, chip=chip, launch="software")
    assert step.loop.launch_cycles == 3 * len(serial.bitstream.kernels) * per_kernel
