"""How a memory tier arbitrates between loads: arrival order (the default) and need order.

In need order (`kernel_graph(..., tier_order="need")`) the tier serves first the load whose
reader comes first in the kernel's dependency order (`event_graph.need_order`), so a load that
runs ahead on spare credits no longer takes the bandwidth of one the kernel needs first.
"""

from dataclasses import replace

import pytest

from chip_model import load_chip
from functional_sim.bandwidth import Bandwidth
from functional_sim.event_engine import run_kernel
from functional_sim.event_graph import KernelGraph, kernel_graph, need_order, tier_shares
from functional_sim.event_timing import event_kernel_timing
from tests.sim.builder import ProgramBuilder


def two_loads(order: str) -> KernelGraph:
    """Stage 0 loads `w`, stage 1 loads `x` (8 tiles each, 10 tier cycles a tile, FIFOs that hold
    all 8); `sum` reduces x to one tile, and `add` takes that tile before any tile of w. So x's
    reader comes first. The engine computes stage 0 first: in arrival order w books the tier first."""
    g = KernelGraph(
        stage_ids=[0, 1, 2, 3], stage_names=["w", "x", "sum", "add"], stage_units=["agcu", "agcu", "pcu", "pcu"],
        stage_sites=[(), (), (), ()], steps=[8, 8, 8, 8], interval=[1.0] * 4, latency=[0.0] * 4,
        tier_of=[0, 0, -1, -1], tier_occupancy=[10.0, 10.0, 0.0, 0.0],
        in_edges=[[], [], [1], [2, 0]], out_streams=[[0], [1], [2], []],
        stream_ids=[0, 1, 2], stream_tiles=[8, 8, 1], stream_src=[0, 1, 2], stream_edges=[[0], [1], [2]],
        stream_occupancy=[0.0, 0.0, 0.0], stream_shared=[[], [], []],
        edge_stream=[0, 1, 2], edge_dst=[3, 2, 3], edge_tiles=[8, 8, 1], edge_capacity=[8, 8, 2],
        edge_latency=[0.0, 0.0, 0.0], resource_names=["hbm"], resource_kinds=["hbm"], resource_window=[64.0])
    if order == "need":
        g.tier_rank = need_order(g)
    return g


def test_need_order_ranks_a_load_by_its_readers_place():
    assert need_order(two_loads("arrival")) == [-1, -2, -1, 0]  # x (two stages from the end) before w


@pytest.mark.parametrize("exact", [False, True])
def test_the_load_whose_reader_comes_first_gets_the_tier_first(exact):
    kw = {"batch": 1, "exact": True} if exact else {}
    need = run_kernel(two_loads("need"), "two", **kw)
    assert need.last_end[1] <= 8 * 10  # x moves at the tier's full rate: 8 tiles x 10 cycles
    assert need.first_start[0] >= 7 * 10  # w is served from what x leaves: after it
    arrival = run_kernel(two_loads("arrival"), "two", **kw)
    assert arrival.last_end[1] > 2 * 7 * 10  # the same checks fail in arrival order: w booked first
    assert arrival.first_start[0] == 0
    assert need.body < arrival.body  # and add, which needs x's sum first, finishes earlier


def test_with_shares_each_load_keeps_its_share_and_need_order_settles_the_rest():
    """Each load moves half the bytes: w books its half of the tier in arrival order (from 0 on,
    never starved), and x, whose reader comes first, takes what w asks beyond its half."""
    g = two_loads("need")
    g.tier_share = tier_shares(g)
    assert g.tier_share == [0.5, 0.5, 0.0, 0.0]
    share = run_kernel(g, "two")
    need, arrival = run_kernel(two_loads("need"), "two"), run_kernel(two_loads("arrival"), "two")
    assert share.first_start[0] == 0 < need.first_start[0]  # strict need order made w wait for all of x
    assert need.last_end[1] < share.last_end[1] < arrival.last_end[1]
    assert share.body <= arrival.body


def test_without_ranks_the_run_is_unchanged():
    """Need order adds nothing to a run without ranks (every test and bench of arrival order)."""
    assert run_kernel(two_loads("arrival"), "two").body == run_kernel(replace(two_loads("arrival"), tier_rank=[]), "two").body


def test_finish_is_reserve_without_taking():
    bw = Bandwidth(64.0)
    for t, occ in [(0.0, 30.0), (10.0, 50.0), (100.0, 5.0), (0.0, 200.0)]:
        peek = bw.finish(t, occ)
        assert bw.finish(t, occ) == peek  # nothing taken
        assert bw.reserve(t, occ) == peek


def late_weight(credits: int):
    """x is summed to one value that the weight w's reader (`add`) needs first; the weight's FIFO to
    `add` has `credits` tiles. The result goes to DDR, so the load of w and x share HBM alone."""
    pb = ProgramBuilder()
    x = pb.tensor("x", "f32", (64, 64), role="input")
    w = pb.tensor("w", "f32", (64, 64), role="weight")
    k = pb.kernel("late")
    total = k.op("sum", k.load(x, label="x"), out=("f32", (1, 1)), attrs={"dims": [], "keepdim": True}, label="sum")
    for op in ("exp", "neg", "exp"):
        total = k.op(op, total, out=("f32", (1, 1)), label=op)
    added = k.op("add", k.load(w, label="w"), total, out=("f32", (64, 64)), label="add")
    for op in ("exp", "neg", "exp", "neg"):
        added = k.op(op, added, out=("f32", (64, 64)))
    k.store(added, pb.tensor("y", "f32", (64, 64), role="output", tier="ddr"))
    bs = pb.build()
    weight_stream = next(s.outputs[0] for s in bs.stages if s.label == "w")
    return replace(bs, streams=[replace(st, tile_bytes=1024, fifo_depth=credits if st.id == weight_stream else st.fifo_depth)
                                for st in bs.streams])


def test_in_need_order_more_credits_for_a_late_load_cost_no_cycles():
    """The regression of issue 12 in small: in arrival order the weight's 16 credits let it take HBM
    from x, which the kernel needs first; in need order they cost nothing."""
    chip = load_chip("small")

    def body(credits: int, order: str) -> int:
        bs = late_weight(credits)
        record = event_kernel_timing(bs, chip, bs.kernels[0], 0, "software", tier_order=order, reuse=False)
        return record.cycles - record.launch_cycles

    arrival = [body(c, "arrival") for c in (2, 16)]
    need = [body(c, "need") for c in (1, 2, 4, 8, 16)]
    assert arrival[1] > arrival[0]  # more credits, more cycles: the weight ran ahead of x
    assert all(deeper <= shallower for shallower, deeper in zip(need, need[1:])), need
    assert need[-1] < arrival[1]


def test_an_unknown_tier_order_is_refused():
    bs = late_weight(2)
    with pytest.raises(ValueError, match="tier order 'fifo' is not available"):
        kernel_graph(bs, load_chip("small"), bs.kernels[0], tier_order="fifo")
