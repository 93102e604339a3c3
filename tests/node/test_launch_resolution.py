"""A node program's software launch is resolved in one place: `functional_sim.simulator._chip`.

The node host launches every kernel on all the program's sockets (the node spec's
`[host_launch]`), which costs more than the chip's one-socket launch. Every timing path resolves
the chip of the program it times through `_chip`, so none can time a node program with the
one-socket figure. Each path below is timed with software launch; a path that resolved its chip
on its own (or forgot to) would report the chip's one-socket launch and fail here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from chip_model import load_chip, load_node
from chip_model.node import (HostLaunchSpec, node_launch_spec, one_socket_hardware_launch_cycles,
                             one_socket_launch_cycles)
from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from functional_sim import simulate
from functional_sim.decode_step import decode_step_timing
from functional_sim.layer_loop import LayerLoop, loop_timing
from functional_sim.loop_run import simulate_loop
from functional_sim.node import simulate_node, simulate_node_loop
from functional_sim.session import Session
from functional_sim.simulator import _chip
from tests.node import loop_decoder

NODE, TP = "small-node8", 2


@pytest.fixture(scope="module")
def programs():
    """The tiny decoder layer on 2 sockets of small-node8 (with weights, so it runs), and the same
    layer compiled as a 3-layer loop (a LOOP section)."""
    inputs = loop_decoder.example_inputs()
    layer = compile_loaded(LoadedModel(Path("layer.py"), loop_decoder.model(), inputs),
                           CompileOptions(node=NODE, tp=TP)).bitstream
    looped = compile_loaded(LoadedModel(Path("layer.py"), loop_decoder.model(), inputs,
                                        layer_model=loop_decoder.layer_model),
                            CompileOptions(node=NODE, tp=TP, layers=3, per_layer=(4, 5))).bitstream
    return layer, looped, [np.asarray(x) for x in inputs]


def host_launch_cycles() -> int:
    return load_node(NODE).host_launch.software_launch_cycles(load_chip("small"), TP)


def launches(kernels) -> set[int]:
    return {k.launch_cycles for k in kernels}


PATHS = {
    "simulate": lambda layer, looped, x: simulate(layer, None, execute=False, launch="software").kernels,
    "simulate_node": lambda layer, looped, x: simulate_node(layer, None, execute=False, launch="software").socket.kernels,
    "session": lambda layer, looped, x: Session(launch="software").run(layer, x).socket.kernels,
    "loop_timing": lambda layer, looped, x: loop_timing(layer, load_chip("small"), LayerLoop(2, ((0, 0),)),
                                                        "software").kernels,
    "simulate_node_loop": lambda layer, looped, x: simulate_node_loop(
        [layer, layer], x, [], LayerLoop(2, ((0, 0),)), launch="software")[1].kernels,
    "decode_step_timing": lambda layer, looped, x: decode_step_timing(layer, None, 2, launch="software").loop.kernels,
    "simulate_loop": lambda layer, looped, x: simulate_loop(looped, None, execute=False, launch="software").loop.kernels,
}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_every_timing_path_launches_a_node_program_from_the_node_host(programs, path) -> None:
    layer, looped, x = programs
    per_kernel = host_launch_cycles()
    assert per_kernel > load_chip("small").launch.software_launch_cycles  # the serial issue to the other socket
    kernels = PATHS[path](layer, looped, x)
    assert kernels and launches(kernels) == {per_kernel}


def test_a_decode_steps_head_is_launched_from_the_node_host_too(programs) -> None:
    layer, _, _ = programs
    alone = simulate_node(layer, None, execute=False, launch="software").cycles
    step = decode_step_timing(layer, layer, 1, launch="software")  # the layer again as the head
    assert step.head_cycles == alone and step.cycles == 2 * alone


def test_resolving_twice_adds_the_other_sockets_issue_once(programs) -> None:
    layer, _, _ = programs
    once = _chip(layer, None)
    assert isinstance(once.launch, HostLaunchSpec)
    assert once.launch.software_launch_cycles == host_launch_cycles()
    assert _chip(layer, once) == once
    assert _chip(layer, once).launch.software_launch_cycles == host_launch_cycles()
    assert one_socket_launch_cycles(once.launch) == load_chip("small").launch.software_launch_cycles
    node, sockets = load_node(NODE), layer.node.sockets
    barrier_once = node.device_launch.hardware_launch_cycles(load_chip("small"), node.network, sockets)
    assert once.launch.hardware_launch_cycles == _chip(layer, once).launch.hardware_launch_cycles == barrier_once
    assert one_socket_hardware_launch_cycles(once.launch) == load_chip("small").launch.hardware_launch_cycles


def test_a_spec_resolved_for_a_node_program_times_a_one_socket_program_with_the_chips_launch(programs) -> None:
    layer, _, _ = programs
    chip = load_chip("small")
    resolved = _chip(layer, None)
    assert node_launch_spec(resolved, None) == chip
    assert node_launch_spec(resolved, load_node(NODE), 4).launch.software_launch_cycles == \
        load_node(NODE).host_launch.software_launch_cycles(chip, 4)  # from the one-socket figure, not the resolved one
