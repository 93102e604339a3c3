"""Where a decode step's layer cycles go: `decode_step_timing`'s breakdown gives, per layer, the
HBM time of its bytes and the critical path of the event run by cause (launch, a load's own AGCU
steps, waits for the tier, compute, SRAM, network, peer links), which add up to the layer's cycles."""

from __future__ import annotations

from pathlib import Path

import pytest

from chip_model import load_chip, load_node
from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from functional_sim.decode_step import CRITICAL_CAUSES, decode_step_timing
from tests.node import loop_decoder
from tests.node.residual_block import four_blocks

NODE, TP, LAYERS = "small-node8", 2, 3


@pytest.fixture(scope="module", params=["decoder", "block"])
def layer(request):
    """The tiny decoder layer (5 kernels in 2 sections on the small chip: a hardware loop runs them
    in order) and a residual block (one kernel: a hardware loop overlaps its iterations)."""
    if request.param == "decoder":
        loaded = LoadedModel(Path("layer.py"), loop_decoder.model(), loop_decoder.example_inputs())
    else:
        blocks, x, _ = four_blocks()
        loaded = LoadedModel(Path("block.py"), blocks[0], (x,))
    bs = compile_loaded(loaded, CompileOptions(node=NODE, tp=TP)).bitstream
    assert (len(bs.kernels) == 1) == (request.param == "block")
    return bs


@pytest.mark.parametrize("launch", ["software", "hardware"])
def test_the_critical_path_by_cause_adds_up_to_a_layers_cycles(layer, launch) -> None:
    step = decode_step_timing(layer, None, LAYERS, launch=launch)
    causes = step.breakdown["layer_critical_path"]
    assert set(causes) == set(CRITICAL_CAUSES)
    assert all(c >= 0 for c in causes.values())
    # the path's segments telescope to each kernel's body (a record rounds its body up to a whole cycle)
    assert sum(causes.values()) == pytest.approx(step.cycles / LAYERS, abs=len(layer.kernels) + 0.1 * len(causes))


def test_the_launch_cause_is_the_launches_a_layer_pays(layer) -> None:
    chip = load_chip("small")
    sw = decode_step_timing(layer, None, LAYERS, launch="software").breakdown["layer_critical_path"]
    hw = decode_step_timing(layer, None, LAYERS, launch="hardware").breakdown["layer_critical_path"]
    host = load_node(NODE).host_launch.software_launch_cycles(chip, TP)
    assert sw["launch"] == len(layer.kernels) * host  # every kernel of every layer, from the node host
    assert sw["program_load"] == len(layer.sections) * chip.launch.program_load_cycles * (len(layer.sections) > 1)
    if len(layer.kernels) == 1:
        assert decode_step_timing(layer, None, LAYERS, launch="hardware").loop.overlapped
        node = load_node(NODE)  # one launch per loop, after the sockets' barrier; the iterations pay none
        once = node.device_launch.hardware_launch_cycles(chip, node.network, TP)
        assert hw["launch"] == pytest.approx(once / LAYERS, abs=0.1)


def test_a_layers_hbm_time_is_its_bytes_at_the_tiers_bandwidth(layer) -> None:
    chip = load_chip("small")
    step = decode_step_timing(layer, None, LAYERS, launch="hardware")
    per_cycle = chip.tier("hbm").bytes_per_second / chip.clock_hz
    # each kernel rounds its tier's busy cycles up
    assert step.breakdown["layer_hbm_cycles"] == pytest.approx(step.loop.tier_bytes["hbm"] / LAYERS / per_cycle, abs=len(layer.kernels))
    assert step.breakdown["layer_hbm_cycles"] <= step.cycles / LAYERS
