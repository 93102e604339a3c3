"""Layer loops: one compiled decoder layer run L times on a node (functional_sim.layer_loop), the
decode step built on it (functional_sim.decode_step), and the collective algorithms and link
sharing the node's timing uses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from bench.workloads import Decoder
from bitstream_format.node_program import algorithms_for, collective_seconds, peer_traffic, tree_messages
from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from functional_sim.decode_step import decode_step_timing
from functional_sim.errors import SimulationError
from functional_sim.event_engine import run_kernel
from functional_sim.event_graph import KernelGraph
from functional_sim.layer_loop import LayerLoop, loop_timing, repeat_graph
from functional_sim.node import simulate_node, simulate_node_loop
from functional_sim.simulator import _chip
from tests.node import decode_model
from tests.node.residual_block import four_blocks

LAYERS = 3
NODE = "small-node8"


def _layer_program(layer: nn.Module, inputs) -> object:
    one = Decoder(decode_model.SHAPE, 1).eval()
    one.layers[0].load_state_dict(layer.state_dict())
    return compile_loaded(LoadedModel(Path("layer.py"), one, inputs), CompileOptions(node=NODE, tp=2))


@pytest.fixture(scope="module")
def looped():
    """A 3-layer decoder's reference output, and its layers compiled one by one (same program,
    each layer's weights) for 2 sockets of small-node8."""
    torch.manual_seed(0)
    whole = Decoder(decode_model.SHAPE, LAYERS).eval()
    g = torch.Generator().manual_seed(1)
    s = decode_model.SHAPE
    shared = [torch.randn(1, 1, s.hidden, generator=g), torch.randn(1, 1, 1, s.head_dim, generator=g),
              torch.randn(1, 1, 1, s.head_dim, generator=g), torch.zeros(1, 1, 1, decode_model.CONTEXT + 1)]
    caches = [[torch.randn(1, s.kv_heads, decode_model.CONTEXT, s.head_dim, generator=g) for _ in range(2)]
              for _ in range(LAYERS)]
    with torch.no_grad():
        expected = whole(*shared, *[c for pair in caches for c in pair]).numpy()
    programs = [_layer_program(layer, (*shared, *caches[i])) for i, layer in enumerate(whole.layers)]
    return expected, programs, [t.numpy() for t in shared], [[c.numpy() for c in pair] for pair in caches]


def test_a_layer_loop_equals_the_whole_decoder(looped) -> None:
    expected, programs, shared, caches = looped
    loop = LayerLoop(LAYERS, carry=((0, 0),), per_layer=(4, 5))
    outputs, timing = simulate_node_loop([p.bitstream for p in programs], shared + caches[0], caches, loop,
                                         chip=programs[0].chip)
    assert len(outputs) == 2  # both sockets end with the same hidden state
    for socket in outputs:
        np.testing.assert_allclose(socket[0], expected, rtol=2e-4, atol=2e-4)
    # the small chip runs a layer as several kernels: they run in order every iteration
    assert timing.layers == LAYERS and not timing.overlapped and len(programs[0].bitstream.kernels) > 1
    assert timing.cycles == LAYERS * timing.iteration_cycles


@pytest.fixture(scope="module")
def blocks():
    """4 blocks with their own weights, each compiled alone (one program, four memory images)."""
    layers, x, expected = four_blocks()
    programs = [compile_loaded(LoadedModel(Path("block.py"), layer, (x,)), CompileOptions(node=NODE, tp=2))
                for layer in layers]
    return x.numpy(), expected.numpy(), programs


def test_a_one_kernel_loop_equals_the_layers_one_after_another(blocks) -> None:
    x, expected, programs = blocks
    assert len(programs[0].bitstream.kernels) == 1
    outputs, timing = simulate_node_loop([p.bitstream for p in programs], [x], [], LayerLoop(4, ((0, 0),)),
                                         chip=programs[0].chip)
    for socket in outputs:
        np.testing.assert_allclose(socket[0], expected, rtol=1e-5, atol=1e-5)
    assert timing.overlapped and timing.cycles < timing.serial_cycles


def test_software_loop_pays_every_layer_and_hardware_loop_amortises(blocks) -> None:
    _, _, programs = blocks
    bs, chip = programs[0].bitstream, programs[0].chip
    single_sw = simulate_node(bs, None, chip=chip, execute=False, launch="software").cycles
    single_hw = simulate_node(bs, None, chip=chip, execute=False, launch="hardware").cycles
    loop = LayerLoop(LAYERS, ((0, 0),))
    sw = loop_timing(bs, chip, loop, "software")  # the node host's launch, as simulate_node's
    assert sw.cycles == LAYERS * single_sw and not sw.overlapped  # a host launch per layer, nothing amortised
    one = loop_timing(bs, chip, LayerLoop(1, ((0, 0),)), "hardware")
    assert one.cycles == single_hw  # one iteration is the program's own run
    hw = loop_timing(bs, chip, loop, "hardware")
    # one hardware launch: the chip's own after the sockets' barrier ([device_launch]); the iterations pay no barrier
    assert hw.serial_cycles == LAYERS * single_hw and hw.launch_cycles == _chip(bs, chip).launch.hardware_launch_cycles
    assert hw.cycles < hw.serial_cycles  # one launch, and a layer's fill overlaps the previous drain
    record = hw.kernels[0]
    per_layer = {s.id: s.cycles for s in one.kernels[0].stages}
    # every stage did each layer's work once more per layer, on the same units
    assert all(abs(s.cycles - LAYERS * per_layer[s.id]) <= LAYERS for s in record.stages)
    assert hw.tier_bytes["hbm"] == LAYERS * one.tier_bytes["hbm"]


def test_decode_step_is_the_loop_then_the_head(blocks) -> None:
    _, _, programs = blocks
    bs, chip = programs[0].bitstream, programs[0].chip
    step = decode_step_timing(bs, bs, LAYERS, chip=chip, launch="hardware")
    head = simulate_node(bs, None, chip=chip, execute=False, launch="hardware").cycles
    assert step.cycles == step.loop.cycles + head and step.head_cycles == head
    assert step.tokens_per_second == pytest.approx(chip.clock_hz / step.cycles)
    assert step.collective_cycles > 0 and step.breakdown["loop_saving_cycles"] == step.loop.serial_cycles - step.loop.cycles


def _chain(gap: float, extra: bool = False) -> KernelGraph:
    """load (10 cycles) -> store (5 cycles), one tile; with `extra`, a weight load (10 cycles) that
    feeds the store too and depends on nothing carried."""
    g = KernelGraph(stage_ids=[0, 1], stage_names=["load", "store"], stage_units=["agcu", "agcu"],
                    stage_sites=[(), ()], steps=[1, 1], interval=[10.0, 5.0], latency=[0.0, 0.0], tier_of=[-1, -1],
                    tier_occupancy=[0.0, 0.0], in_edges=[[], [0]], out_streams=[[0], []], stream_ids=[0],
                    stream_tiles=[1], stream_src=[0], stream_edges=[[0]], stream_occupancy=[0.0], stream_shared=[[]],
                    edge_stream=[0], edge_dst=[1], edge_tiles=[1], edge_capacity=[2], edge_latency=[0.0])
    if extra:
        g.stage_ids.append(2), g.stage_names.append("weights"), g.stage_units.append("agcu")
        g.stage_sites.append(()), g.steps.append(1), g.interval.append(10.0), g.latency.append(0.0)
        g.tier_of.append(-1), g.tier_occupancy.append(0.0), g.in_edges.append([]), g.out_streams.append([1])
        g.stream_ids.append(1), g.stream_tiles.append(1), g.stream_src.append(2), g.stream_edges.append([1])
        g.stream_occupancy.append(0.0), g.stream_shared.append([])
        g.edge_stream.append(1), g.edge_dst.append(1), g.edge_tiles.append(1), g.edge_capacity.append(2)
        g.edge_latency.append(0.0), g.in_edges[1].append(1)
    return g


@pytest.mark.parametrize(("gap", "layers", "body"), [(0, 1, 15), (0, 4, 60), (20, 4, 15 + 3 * 30)])
def test_a_carried_chain_repeats_exactly(gap: float, layers: int, body: float) -> None:
    """The next layer's load waits for this layer's store (the carry) and for its own gap: a
    chain of 15 cycles repeats every max(15, 10 + gap) cycles."""
    run = run_kernel(repeat_graph(_chain(gap), layers, [(1, 0)], gap), "chain")
    assert run.body == body


def test_loads_that_carry_nothing_run_ahead_into_their_fifo() -> None:
    """A weight load with 2 credits starts the next layers' tiles while the chain runs: its 4
    layers take 40 cycles of its own, hidden under the chain's 60."""
    run = run_kernel(repeat_graph(_chain(0, extra=True), 4, [(1, 0)], 0), "chain")
    assert run.body == 60 and run.last_end[2] <= 40


@pytest.mark.parametrize(("loop", "needle"), [
    (LayerLoop(0, ((0, 0),)), "at least 1 layer"),
    (LayerLoop(2, ()), "needs a carried value"),
    (LayerLoop(2, ((3, 0),)), "carries output 3, but the program has 1 output"),
    (LayerLoop(2, ((0, 9),)), "carries into input 9"),
    (LayerLoop(2, ((0, 1),)), "a carried value must keep its dtype and shape"),
    (LayerLoop(2, ((0, 0),), per_layer=(0,)), "both carried and per layer"),
])
def test_bad_layer_loops(looped, loop: LayerLoop, needle: str) -> None:
    _, programs, _, _ = looped  # the decoder layer: 6 inputs (x, cos, sin, mask, two caches), 1 output
    with pytest.raises(SimulationError, match=needle):
        loop_timing(programs[0].bitstream, programs[0].chip, loop, "hardware")


def test_a_loop_of_different_programs_is_refused(looped) -> None:
    _, programs, shared, caches = looped
    other = compile_loaded(LoadedModel(Path("mlp.py"), nn.Sequential(nn.Linear(64, 64)).eval(),
                                       (torch.randn(1, 1, 64),)), CompileOptions(node=NODE, tp=2))
    with pytest.raises(SimulationError, match="layer 1's program differs from layer 0's"):
        simulate_node_loop([programs[0].bitstream, other.bitstream], shared + caches[0], caches[:2],
                           LayerLoop(2, ((0, 0),), (4, 5)), chip=programs[0].chip)
    with pytest.raises(SimulationError, match="needs 3 layer programs"):
        simulate_node_loop([programs[0].bitstream], shared + caches[0], caches, LayerLoop(3, ((0, 0),), (4, 5)),
                           chip=programs[0].chip)


def test_tree_messages_and_algorithms() -> None:
    assert tree_messages("all_reduce", 8, 1024) == [1024] * 3
    assert tree_messages("all_gather", 8, 1024) == [128, 256, 512]  # what it has gathered so far
    assert tree_messages("reduce_scatter", 8, 1024) == [512, 256, 128]
    assert peer_traffic("all_reduce", 8, 1024, "tree") == (3072, 3)
    assert algorithms_for(8, "ring") == ("ring", "tree") and algorithms_for(6, "switch") == ("ring", "direct")
    with pytest.raises(ValueError, match="power-of-two group, got 6"):
        tree_messages("all_reduce", 6, 1024)
    # on a ring, recursive doubling's step k goes 2^k hops: 1 + 2 + 4 latencies, bytes over 1 + 2 + 4 links
    assert collective_seconds("all_reduce", 8, 1000, "tree", "ring", 1e9, 2, 1e-6) == pytest.approx(7e-6 + 7 * 1000 / 1e9)


class _TwoBranches(nn.Module):
    """Two row-parallel MLPs on one input: their all-reduces run at the same time in one kernel."""

    def __init__(self):
        super().__init__()
        self.a1, self.a2 = nn.Linear(64, 256), nn.Linear(256, 64)
        self.b1, self.b2 = nn.Linear(64, 256), nn.Linear(256, 64)

    def forward(self, x):
        return self.a2(torch.relu(self.a1(x))) + self.b2(torch.relu(self.b1(x)))


def test_concurrent_collectives_share_the_peer_links(tmp_path: Path) -> None:
    slow = tmp_path / "slow-node.toml"  # transfer-bound collectives: 1 MB/s links, no latency to speak of
    slow.write_text('name = "slow"\nchip = "small"\nsockets = 4\nddr_to_hbm_bytes_per_second = 1e11\n'
                    '[network]\ntopology = "switch"\nlink_bytes_per_second = 1.0e6\nlinks_per_socket = 1\n'
                    'latency_seconds = 1.0e-12\n[host_launch]\nissue_seconds_per_socket = 1e-6\nserial_issue = true\n'
                    '[device_launch]\nbarrier_per_kernel = true\n')
    torch.manual_seed(0)
    compiled = compile_loaded(LoadedModel(Path("two.py"), _TwoBranches().eval(), (torch.randn(1, 8, 64),)),
                              CompileOptions(node=str(slow), tp=4))
    result = simulate_node(compiled.bitstream, None, chip=compiled.chip, execute=False)
    kernels = [k for k in result.socket.kernels if sum(s.opcode == "all_reduce" for s in k.stages) == 2]
    assert kernels, "both all-reduces should be stages of one kernel"
    (k,) = kernels
    reduces = [s for s in k.stages if s.opcode == "all_reduce"]
    one = max(s.cycles for s in reduces)
    # alone each takes `one` cycles; sharing the links, the later cannot finish before both transfers
    assert max(s.last_cycle for s in reduces) >= 2 * one * 0.95
    assert any(s.stall_memory_cycles > 0 for s in reduces)


def test_a_collective_with_an_unknown_algorithm_is_refused(blocks) -> None:
    from dataclasses import replace

    _, _, programs = blocks
    bs = programs[0].bitstream
    peers = tuple(replace(p, algorithm="butterfly") for p in bs.node.peer_streams)
    bad = replace(bs, node=replace(bs.node, peer_streams=peers))
    with pytest.raises(SimulationError, match=r"names algorithm 'butterfly': choose one of ring, direct, tree"):
        simulate_node(bad, None, chip=programs[0].chip, execute=False)
