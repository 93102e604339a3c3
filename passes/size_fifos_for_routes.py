"""`rdu-size-fifos-for-routes`: give every routed FIFO the credits its route's round trip needs.

A producer sends a tile only with a credit for it: a free slot in the destination's FIFO. The
credit comes back when the destination pops a tile, over the route the other way (end to end:
the RDN's per-hop flow control keeps the switches' buffers from overflowing, but a tile enters
the network only with a slot reserved at its destination, so a stalled reader never backs its
stream up into links other streams share; docs/simulator.md, "Credits"). So a FIFO of `D`
credits on a route of `L` cycles each way lets at most `D` tiles through per round trip: the
stream moves at most `D x tile / (2L + tile / rate)` bytes per cycle, whatever its paths carry.
rdu-allocate-units' two credits (a double buffer) assume the round trip is shorter than a tile's
transfer; on a long route (a weight crossing the chip, 50 hops and a die crossing) it is not,
and the stream runs at a fraction of its rate (the bandwidth-delay product).

Routes are known only after rdu-place and rdu-route, and rdu-size-fifos (liveness) runs before
placement, so this pass runs after rdu-route and raises each stream's depth to

    credits = ceil(2L x rate / tile) + 1

(`2L x rate` bytes are in flight over a round trip; the one more is the tile arriving while the
credit travels), where `L` is the route's latency to the farthest reader (hops x hop latency plus
die crossings, as the event engine charges it), `rate` the bytes per cycle of the stream's paths
(link rate x min(producer units, largest reader's units)), for a load no more than its share of
its memory tier (`memory_share`), and `tile` the stream's tile. A depth
already larger (liveness, prefetch) stays: it covers the round trip too. A FIFO never holds more
than its value's tiles.

The credits must fit SRAM: a PMU buffer's FIFO is its ring of tile slots on each of its PMUs (the
ring and the buffer's bytes are recomputed by rdu-tile's rule), any other stream's is the reader's
input buffer, one PMU's SRAM. Where SRAM holds fewer credits than the round trip needs, the FIFO
gets what it holds and the stage says so (`rdu.route_credits_sram_limited`): that stream stays
credit-bound, and the report names it.

The IR records, per stage with a routed output, `rdu.route_round_trip` (cycles, per result) and
`rdu.route_credits` (credits the round trip needs, per result; 0 for an unrouted result).

A forced depth (`rdu-size-fifos{depth=N}`, `--fifo-depth N`, recorded on the module as
`rdu.forced_fifo_depth`) is an experiment and wins: this pass then changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil

from xdsl.context import Context
from xdsl.dialects.builtin import DenseArrayBase, IntegerAttr, ModuleOp, i64
from xdsl.passes import ModulePass

from chip_model import ChipSpec
from dialects import rdu
from dialects.diagnostics import PassOrderError
from dialects.types import value_bytes
from passes.allocate_units import stream_tiles
from passes.target import lowered_target_chip

FORCED_DEPTH_ATTR = "rdu.forced_fifo_depth"  # set by rdu-size-fifos{depth=N}


def route_latency(chip: ChipSpec, route, reader: int) -> int:
    """Cycles a tile takes to `reader` (index among the stream's readers): hops and die crossings
    (every crossing link of the stream's tree, as the event graph charges them)."""
    hops = route.hops[reader] if reader < len(route.hops) else 0
    crossings = sum(chip.grid.die_of(a[1]) != chip.grid.die_of(b[1]) for a, b in route.links)
    return hops * chip.network.hop_latency_cycles + crossings * chip.network.die_crossing_latency_cycles


def link_rate(chip: ChipSpec, network: str) -> int:
    net = chip.network
    return net.vector_link_bytes_per_cycle if network == "vector" else net.scalar_link_bytes_per_cycle


def memory_share(chip: ChipSpec, stage: rdu.StageOp, nbytes: int) -> float:
    """Bytes per cycle a load streams at when its tier serves every load of the kernel at once:
    its part of the tier's rate, in proportion to its bytes (they all finish together when the
    tier bounds the kernel); unbounded for any other stage. Credits beyond this rate buy nothing
    but a head start, and a load that runs ahead of its share takes the tier from the loads the
    kernel needs first (the 70B decode layer lost 9,000 cycles of fill to it at link rate)."""
    if not isinstance(stage, rdu.LoadOp):
        return float("inf")
    tier = stage.tensor.owner.tier_name
    loads = [s for s in stage.parent_op().stages() if isinstance(s, rdu.LoadOp) and s.tensor.owner.tier_name == tier]
    total = sum(value_bytes(s.result.type) for s in loads) or 1
    return chip.tier(tier).bytes_per_second / chip.clock_hz * nbytes / total


@dataclass(frozen=True)
class RouteCredits:
    """One stream's round trip and the credits it needs (`needed`), and what SRAM holds (`limit`)."""

    round_trip: int
    needed: int
    limit: int


def route_credits(chip: ChipSpec, stage: rdu.StageOp, port: int) -> RouteCredits | None:
    """The bandwidth-delay product of output `port` of a routed stage, in its tiles; None when the
    stream has no reader or moves in one tile (nothing to overlap)."""
    result = stage.results[port]
    readers = stage.consumers(result)
    route = stage.routes.data[port] if stage.routes is not None and port < len(stage.routes.data) else None
    if not readers or route is None:
        return None
    nbytes = value_bytes(result.type)
    tile = stage.tile_list()[port] if port < len(stage.tile_list()) else 0
    tiles = stream_tiles(nbytes, tile)
    if tiles <= 1:
        return None
    tile_bytes = nbytes / tiles
    latency = max(route_latency(chip, route, i) for i in range(len(readers)))
    paths = rdu.stream_paths(stage, readers)
    rate = min(link_rate(chip, route.network) * paths, memory_share(chip, stage, nbytes))
    needed = min(tiles, ceil(2 * latency * rate / tile_bytes) + 1)
    sram = chip.pmu.sram_bytes
    if isinstance(stage, rdu.BufferOp):  # its ring: whole slots on each of its PMUs
        slot = min(tile or nbytes, nbytes)
        limit = stage.unit_count * (sram // slot) if slot <= sram else 0
    else:  # the reader's input buffer, one PMU
        limit = int(sram // tile_bytes)
    return RouteCredits(2 * latency, needed, min(tiles, max(1, limit)))


@dataclass(frozen=True)
class SizeFifosForRoutesPass(ModulePass):
    name = "rdu-size-fifos-for-routes"

    def apply(self, ctx: Context, module: ModuleOp) -> None:
        chip = lowered_target_chip(module, "rdu-size-fifos-for-routes")
        if FORCED_DEPTH_ATTR in module.attributes:
            return  # an experiment's forced depth wins
        from passes.tile import TilePass

        from passes.tile import plan_rereads

        tile_pass = TilePass()
        for kernel in rdu.kernels(module):
            for stage in kernel.stages():
                if not stage.results:
                    continue
                if stage.routes is None or stage.depths is None or stage.tiles is None:
                    raise PassOrderError(f"rdu-size-fifos-for-routes: {stage.name} in kernel {kernel.sym_name.data} "
                                         "has no routes: run rdu-route first")
                self.size(kernel, stage, chip, tile_pass)
            plan_rereads(kernel)  # a re-tiled buffer's ring may hold more: the matmuls' re-read plans again

    def size(self, kernel: rdu.KernelOp, stage: rdu.StageOp, chip: ChipSpec, tile_pass) -> None:
        depths = stage.depth_list()
        trips, needs, limited = [], [], []
        changed = False
        for port in range(len(stage.results)):
            credits = route_credits(chip, stage, port)
            if credits is None:  # no reader, or one tile: nothing to overlap
                credits = RouteCredits(0, 0, 0)
            trips.append(credits.round_trip)
            needs.append(credits.needed)
            depth = max(depths[port], min(credits.needed, credits.limit))
            limited.append(credits.limit if credits.needed > depth else 0)
            if depth > depths[port]:
                depths[port] = depth
                changed = True
        if not any(trips):
            return
        stage.attributes["rdu.route_round_trip"] = DenseArrayBase.from_list(i64, trips)
        stage.attributes["rdu.route_credits"] = DenseArrayBase.from_list(i64, needs)
        if any(limited):
            stage.attributes["rdu.route_credits_sram_limited"] = DenseArrayBase.from_list(i64, limited)
        if changed:
            stage.set_depths(depths)
            if isinstance(stage, rdu.BufferOp):  # its ring of slots holds the credits: rdu-tile's rule again
                tile_pass.tile_stage(kernel, stage, chip)


def mark_forced(module: ModuleOp, depth: int) -> None:
    """Record a forced FIFO depth on the module, so later FIFO passes leave it alone."""
    module.attributes[FORCED_DEPTH_ATTR] = IntegerAttr(depth, i64)
