"""The analytic cycle model (`timing="analytic"`): formulas per unit kind, what bounds a kernel,
launches, sections, the trace. These pin the formula's numbers, so they select it explicitly; the
event engine, now the default, is tested in test_event_timing.py."""

import json
from dataclasses import replace

import numpy as np
import pytest

from functional_sim import simulate
from tests.sim.builder import ProgramBuilder

# small chip: PCU 16 lanes x 6 stages (192 flops/cycle), 16 transcendentals/cycle; PMU and AGCU
# 64 B/cycle; HBM 100 B/cycle, DDR 10 B/cycle at 1 GHz; vector links 64 B/cycle, scalar 4.


def matmul_program(pcus: int, n: int = 64, tier: str = "hbm") -> ProgramBuilder:
    pb = ProgramBuilder()
    a = pb.tensor("a", "f32", (n, n), role="input", tier=tier)
    b = pb.tensor("b", "f32", (n, n), role="input", tier=tier)
    c = pb.tensor("c", "f32", (n, n), role="output", tier=tier)
    k = pb.kernel("mm")
    k.store(k.op("matmul", k.load(a), k.load(b), out=("f32", (n, n)), sites=pcus, label="mm"), c)
    return pb


def unary_program(op: str, shape=(32, 32), tier: str = "hbm", kernels: int = 1, sections=None, **kw) -> ProgramBuilder:
    pb = ProgramBuilder()
    x = pb.tensor("x", "f32", shape, role="input", tier=tier)
    y = pb.tensor("y", "f32", shape, role="output", tier=tier)
    for i in range(kernels):
        k = pb.kernel(f"k{i}", section=sections[i] if sections else 0)
        k.store(k.op(op, k.load(x), out=("f32", shape), label=op, **kw), y)
    return pb


def stage(result, label):
    return next(s for k in result.kernels for s in k.stages if s.label == label)


def timed(pb, **kw):
    return simulate(pb.build(), [], execute=False, **({"timing": "analytic"} | kw))


def test_matmul_cycles_follow_flops_and_shrink_with_more_pcus():
    one, four = timed(matmul_program(1)), timed(matmul_program(4))
    assert stage(one, "mm").cycles == -(-2 * 64**3 // 192) == 2731
    assert stage(four, "mm").cycles == -(-2 * 64**3 // (192 * 4)) == 683
    assert four.cycles < one.cycles
    assert one.kernels[0].bound == "compute"


def test_elementwise_reduce_and_transcendental_cycles():
    assert stage(timed(unary_program("neg")), "neg").cycles == 1024 // 16
    pb = ProgramBuilder()
    x = pb.tensor("x", "f32", (64, 32), role="input")
    k = pb.kernel()
    k.op("sum", k.load(x), out=("f32", (64,)), attrs={"dims": [1]}, label="sum")
    assert stage(timed(pb), "sum").cycles == 64 * 32 // 16  # reductions count input elements
    slow_tail = replace(pb.chip, pcu=replace(pb.chip.pcu, transcendentals_per_cycle=4))
    exp = unary_program("exp")
    assert stage(timed(exp), "exp").cycles == 1024 // 16
    assert stage(timed(exp, chip=slow_tail), "exp").cycles == 1024 // 4


def test_pmu_stage_moves_input_and_output_bytes():
    """Bytes in and out at the PMU's rate, plus the per-tile overhead of every tile it hands over."""
    result = timed(unary_program("buffer", buffer_bytes=4096))
    bs = unary_program("buffer", buffer_bytes=4096).build()
    buffer = next(s for s in bs.stages if s.opcode == "buffer")
    out = bs.stream(buffer.outputs[0])
    tiles = -(-out.nbytes // out.tile_bytes) if out.tile_bytes else 1
    assert stage(result, "buffer").cycles == 2 * 4096 // 64 + tiles * 4


def test_memory_tier_bandwidth_bounds_kernels():
    hbm, ddr = timed(unary_program("neg", (256, 256))), timed(unary_program("neg", (256, 256), tier="ddr"))
    assert hbm.kernels[0].tier_cycles == {"hbm": -(-2 * 256 * 256 * 4 // 100)}
    assert ddr.kernels[0].tier_cycles == {"ddr": -(-2 * 256 * 256 * 4 // 10)}
    assert ddr.kernels[0].bound == "ddr" and hbm.kernels[0].bound == "hbm"
    assert hbm.tier_bytes == {"hbm": 2 * 256 * 256 * 4, "ddr": 0}


def test_scalar_network_streams_can_bound_a_kernel():
    bs = unary_program("neg", (64, 64)).build()
    bs.streams[1] = replace(bs.streams[1], network="scalar")
    result = simulate(bs, [], execute=False)
    assert result.kernels[0].stream_cycles[1] == 64 * 64 * 4 // 4
    assert result.kernels[0].bound == "network"


def test_tiny_kernels_are_launch_bound():
    assert timed(unary_program("neg", (2, 2))).kernels[0].bound == "launch"


def test_fill_adds_hop_latency_and_one_tile_per_stage():
    near, far = timed(unary_program("neg", hops=1)), timed(unary_program("neg", hops=5))
    assert far.kernels[0].fill_cycles - near.kernels[0].fill_cycles == 4  # hop_latency_cycles = 1
    k = near.kernels[0]
    # load -> neg -> store, 256-byte tiles of a 4096-byte value: each stage pays 1/16 of its cycles
    tiles = sum(-(-s.cycles // 16) for s in k.stages)
    assert k.fill_cycles == tiles + 2 * 1
    assert k.cycles == k.launch_cycles + k.fill_cycles + k.steady_cycles


def test_hardware_launch_is_cheaper_than_software():
    pb = unary_program("neg", kernels=3)
    soft, hard = timed(pb, launch="software"), timed(pb, launch="hardware")
    assert soft.cycles - hard.cycles == 3 * (2000 - 200)


def test_each_section_pays_a_program_load_and_kernels_follow_in_order():
    result = timed(unary_program("neg", kernels=3, sections=[0, 0, 1]))
    assert [(s.id, s.start) for s in result.sections] == [(0, 0), (1, 10_000 + 2 * result.kernels[0].cycles)]
    starts = [k.start for k in result.kernels]
    assert starts[0] == 10_000 and starts[1] == starts[0] + result.kernels[0].cycles
    assert result.cycles == 2 * 10_000 + sum(k.cycles for k in result.kernels)
    assert result.seconds == result.cycles / 1e9


def test_timing_does_not_depend_on_execution():
    pb = matmul_program(2)
    a = np.ones((64, 64), np.float32)
    assert simulate(pb.build(), [a, a], timing="analytic").cycles == timed(pb).cycles
    assert simulate(pb.build(), [a, a]).cycles == timed(pb, timing="event").cycles


def test_chrome_trace_structure_and_nesting():
    pb = unary_program("neg", kernels=2, sections=[0, 1])
    result = timed(pb)
    trace = json.loads(json.dumps(result.chrome_trace()))  # plain JSON
    events = trace["traceEvents"]
    spans = [e for e in events if e["ph"] == "X"]
    names = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"program load", "pcu stages", "pmu stages", "agcu stages", "kernel 0 k0", "kernel 1 k1"} <= names
    for e in spans:
        assert {"name", "ph", "ts", "dur", "pid", "tid"} <= e.keys() and e["dur"] >= 0
    kernels = [e for e in spans if e["cat"] == "kernel" and "bound" in e["args"]]
    assert [e["ts"] for e in kernels] == [k.start / 1e3 for k in result.kernels]  # microseconds at 1 GHz
    assert kernels[-1]["ts"] + kernels[-1]["dur"] == pytest.approx(result.seconds * 1e6)
    # slices on one track either nest or follow each other: Perfetto rejects partial overlaps
    for tid in {e["tid"] for e in spans}:
        stack: list[float] = []
        for e in [e for e in spans if e["tid"] == tid]:
            while stack and stack[-1] <= e["ts"] + 1e-9:
                stack.pop()
            end = e["ts"] + e["dur"]
            assert not stack or end <= stack[-1] + 1e-9
            stack.append(end)
