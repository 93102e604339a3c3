"""rdu-size-fifos-for-routes: after routing, every FIFO holds its route's bandwidth-delay product."""

from __future__ import annotations

import pytest

from backend_rdu.emit_bitstream import emit_module
from bitstream_format import decode
from chip_model import load_chip
from compiler.driver import CompileOptions
from compiler.textual_ir import parse_ir
from dialects import make_context, rdu
from functional_sim.event_engine import run_kernel
from functional_sim.event_graph import kernel_graph
from passes.registry import run_pipeline
from passes.size_fifos_for_routes import route_credits

CHAIN = """
func.func @forward(%x: tensor<256x256xf32>) -> tensor<256x256xf32> {
  %0 = rgraph.exp %x : tensor<256x256xf32> -> tensor<256x256xf32>
  %1 = rgraph.neg %0 : tensor<256x256xf32> -> tensor<256x256xf32>
  %2 = rgraph.abs %1 : tensor<256x256xf32> -> tensor<256x256xf32>
  func.return %2 : tensor<256x256xf32>
}
"""
# random legal sites on the 42 x 52 socket: streams cross much of the chip (tens of hops)
BEFORE_ROUTE = ("rdu-target{{chip=sn40l}},rdu-lower,rdu-plan-memory,rdu-allocate-units{{tile-bytes=2048}},"
                "rdu-size-fifos{size},rdu-tile,rdu-place{{seed=1 random=true}},rdu-route")


def compiled(sized: bool, size: str = ""):
    module = parse_ir(make_context(), CHAIN)
    pipeline = BEFORE_ROUTE.format(size=size) + (",rdu-size-fifos-for-routes" if sized else "") + ",rdu-section"
    run_pipeline(make_context(), module, pipeline)
    return module


def timed(module):
    bs = decode(emit_module(module))
    return run_kernel(kernel_graph(bs, load_chip("sn40l"), bs.kernels[0]))


def long_routed(module):
    chip = load_chip("sn40l")
    return [(s, p, route_credits(chip, s, p)) for k in rdu.kernels(module) for s in k.stages()
            for p in range(len(s.results)) if route_credits(chip, s, p) is not None]


def test_the_pipeline_sizes_fifos_for_routes_after_routing():
    pipeline = CompileOptions(chip="small").pipeline()
    assert ",rdu-route,rdu-size-fifos-for-routes,rdu-section" in pipeline
    assert ",rdu-route,rdu-size-fifos-for-routes,rdu-section" in CompileOptions(chip="small", fifo_depth=3).pipeline()


def test_every_routed_fifo_holds_its_round_trip():
    module = compiled(sized=True)
    streams = long_routed(module)
    assert streams and max(c.round_trip for _, _, c in streams) >= 40  # the test means long routes
    for stage, port, credits in streams:
        assert stage.depth_list()[port] >= min(credits.needed, credits.limit)
        assert list(stage.attributes["rdu.route_credits"].get_values())[port] == credits.needed
        assert list(stage.attributes["rdu.route_round_trip"].get_values())[port] == credits.round_trip
        if isinstance(stage, rdu.BufferOp):  # its SRAM ring holds the credits
            assert stage.sram.slots.data * stage.unit_count >= stage.depth_list()[port]


def test_a_long_routes_stream_is_no_longer_credit_bound():
    before, after = timed(compiled(sized=False)), timed(compiled(sized=True))
    assert sum(before.stall_credit) > 0.2 * before.body  # double buffers on long routes wait for credits
    assert sum(after.stall_credit) < 0.25 * sum(before.stall_credit)
    assert after.body < 0.8 * before.body


def test_a_forced_depth_wins():
    module = compiled(sized=True, size="{depth=2}")
    depths = {d for k in rdu.kernels(module) for s in k.stages() for d in s.depth_list()}
    assert depths == {2}
    assert not any("rdu.route_credits" in s.attributes for k in rdu.kernels(module) for s in k.stages())


def test_sram_that_cannot_hold_the_round_trip_limits_the_credits_and_the_ir_says_so():
    from dataclasses import replace

    from passes.size_fifos_for_routes import SizeFifosForRoutesPass
    from passes.tile import TilePass

    module = compiled(sized=False)
    chip = load_chip("sn40l")
    kernel = rdu.kernels(module)[0]
    stage = next(s for s in kernel.stages() if isinstance(s, rdu.ComputeOp) and route_credits(chip, s, 0).needed > 5)
    tile = stage.tile_list()[0]
    small = replace(chip, pmu=replace(chip.pmu, sram_bytes=5 * tile))  # a reader's input buffer of 5 tiles
    needed = route_credits(small, stage, 0).needed
    SizeFifosForRoutesPass().size(kernel, stage, small, TilePass())
    assert stage.depth_list() == [5] and needed > 5
    assert list(stage.attributes["rdu.route_credits_sram_limited"].get_values()) == [5]
    assert list(stage.attributes["rdu.route_credits"].get_values()) == [needed]


def test_loads_stream_at_their_share_of_the_tier_and_the_shares_add_up_to_it():
    from dialects.types import value_bytes
    from passes.size_fifos_for_routes import memory_share

    chip = load_chip("sn40l")
    kernel = rdu.kernels(compiled(sized=True))[0]
    loads = [s for s in kernel.stages() if isinstance(s, rdu.LoadOp)]
    shares = [memory_share(chip, s, value_bytes(s.result.type)) for s in loads]
    assert sum(shares) == pytest.approx(chip.tier("hbm").bytes_per_second / chip.clock_hz)
    assert memory_share(chip, next(s for s in kernel.stages() if isinstance(s, rdu.ComputeOp)), 1) == float("inf")
