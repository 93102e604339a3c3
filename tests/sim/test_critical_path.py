"""The critical path through an event run, the bound it names, and identical kernels run once."""

from dataclasses import replace

import pytest

from chip_model import load_chip
from functional_sim.event_engine import run_kernel
from functional_sim.event_graph import kernel_graph
from functional_sim.event_timing import event_kernel_timing, kernel_signature
from tests.sim.builder import ProgramBuilder
from tests.sim.test_event_timing import chain, reconvergent, shared_link_program, timed, timed_two_loads

PROGRAMS = {
    "chain": lambda: chain((64, 64), tile_bytes=256),
    "reconvergent": lambda: reconvergent(),  # its FIFO is deepened during the run
    "buffered": lambda: reconvergent(buffer_bytes=64 * 16 * 4),
    "shared link": lambda: shared_link_program(True),
    "two loads": timed_two_loads,
}


def graph(bs, **changes):
    g = kernel_graph(bs, load_chip("small"), bs.kernels[0])
    for name, values in changes.items():
        setattr(g, name, values)
    return g


@pytest.mark.parametrize("program", sorted(PROGRAMS))
@pytest.mark.parametrize("exact", [False, True])
def test_the_critical_path_accounts_for_every_cycle_of_the_body(program, exact):
    """Its segments telescope from the last step's end back to cycle 0."""
    g = graph(PROGRAMS[program]())
    run = run_kernel(g, batch=1 if exact else 256, exact=exact, grow_fifos=True)
    assert run.critical
    assert sum(run.critical.values()) == pytest.approx(run.body, rel=1e-9)
    assert all(kind in ("stage", "stream", "credit", "resource") for kind, _ in run.critical)


def test_a_slow_stage_holds_the_critical_path():
    g = graph(chain((64, 64), tile_bytes=256))
    exp = g.stage_names.index("exp")
    g.interval[exp] *= 50
    run = run_kernel(g)
    (key, cycles), *_ = sorted(run.critical.items(), key=lambda kv: -kv[1])
    assert key == ("stage", exp) and cycles > 0.9 * run.body


def test_a_slow_stream_holds_the_critical_path():
    g = graph(chain((64, 64), tile_bytes=256))
    slow = g.out_streams[g.stage_names.index("exp")][0]
    g.stream_occupancy[slow] = 200.0
    run = run_kernel(g)
    assert max(run.critical, key=run.critical.get) == ("stream", slow)


def test_credits_on_long_routes_with_one_tile_fifos_show_as_backpressure():
    g = graph(chain((64, 64), tile_bytes=256))
    g.edge_capacity = [1] * len(g.edge_capacity)
    g.edge_latency = [300.0] * len(g.edge_latency)
    run = run_kernel(g)
    credit = sum(c for (kind, _), c in run.critical.items() if kind == "credit")
    trips = sum(c for (kind, _), c in run.critical.items() if kind in ("credit", "stream"))
    assert credit > 0.25 * run.body and trips > 0.75 * run.body  # every tile waits a round trip


def test_the_bound_is_the_critical_resource_with_its_share_in_the_summary():
    pb = ProgramBuilder()
    a = pb.tensor("a", "f32", (64, 64), role="input")
    c = pb.tensor("c", "f32", (64, 64), role="output")
    k = pb.kernel("mm")
    la = k.load(a)
    k.store(k.op("matmul", la, la, out=("f32", (64, 64)), label="mm"), c)
    result = timed(pb.build())
    rec = result.kernels[0]
    assert (rec.bound, rec.bound_by) == ("compute", "stage 'mm' (id 1)")
    assert 0.5 < rec.bound_share <= 1
    assert rec.critical_path[0] == ("compute", "stage 'mm' (id 1)", round(rec.bound_share * (rec.cycles - rec.launch_cycles)))
    assert f"bound by compute (stage 'mm' (id 1), {rec.bound_share:.0%} of its cycles)" in result.summary()


def test_a_tier_bound_kernel_names_its_memory():
    bs = chain((256, 256), ops=("neg",), tile_bytes=4096)
    rec = timed(bs).kernels[0]
    assert rec.bound == "hbm" and rec.bound_share > 0.5, rec.critical_path


def two_kernels(second_shape=(64, 64)):
    pb = ProgramBuilder()
    x = pb.tensor("x", "f32", (64, 64), role="input")
    y = pb.tensor("y", "f32", (64, 64))
    z = pb.tensor("z", "f32", second_shape, role="output")
    for name, src, dst, shape in (("first", x, y, (64, 64)), ("second", y, z, second_shape)):
        k = pb.kernel(name)
        v = k.load(src)
        if shape != (64, 64):
            v = k.op("reshape", v, out=("f32", shape), attrs={"shape": list(shape)})
        k.store(k.op("exp", v, out=("f32", shape), label="exp"), dst)
    return pb.build()


def test_identical_kernels_are_simulated_once_with_their_own_names():
    bs = two_kernels()
    chip = load_chip("small")
    first, second = (kernel_graph(bs, chip, k) for k in bs.kernels)
    assert kernel_signature(first) == kernel_signature(second) and first.stage_ids != second.stage_ids
    reused = [event_kernel_timing(bs, chip, k, 0, "software") for k in bs.kernels]
    fresh = [event_kernel_timing(bs, chip, k, 0, "software", reuse=False) for k in bs.kernels]
    assert reused[0].run[1] is reused[1].run[1]  # one run stands for both kernels
    for r, f in zip(reused, fresh):
        assert (r.cycles, r.stage_cycles, r.stream_cycles, r.bound_by, r.bound_share, r.critical_path) == \
            (f.cycles, f.stage_cycles, f.stream_cycles, f.bound_by, f.bound_share, f.critical_path)
    assert "stage 'exp' (id 4)" in {name for _, name, _ in reused[1].critical_path}  # the second kernel's own ids
    assert {s.id for s in reused[1].stages} == set(second.stage_ids)


def test_a_kernel_that_differs_in_one_number_is_simulated_on_its_own():
    bs = two_kernels()
    chip = load_chip("small")
    g = kernel_graph(bs, chip, bs.kernels[1])
    other = replace(g, edge_latency=[x + 1 for x in g.edge_latency])
    assert kernel_signature(other) != kernel_signature(g)
