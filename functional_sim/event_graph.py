"""A kernel as the event engine sees it: stages that process tiles, FIFOs between them, shared resources.

Everything here is read from the bitstream as it is (docs/bitstream.md) and the chip spec; the
engine (`event_timing`) only walks these plain lists. Rules (docs/simulator.md, "Event timing"):

* A stream's value moves in `ceil(nbytes / tile_bytes)` tiles (one tile when `tile_bytes` is 0 or
  at least the value), `passes` times over when it is a load's re-streamed to a matmul
  (`rereads.stream_passes`: from the load, through its buffer, every pass's tiles cross the
  links, the buffer's PMUs and the tier). A stage takes `steps` = the most tiles of any of its streams; step `j`
  needs `ceil((j+1)·T/steps)` tiles of an input of `T` tiles and has produced
  `floor((j+1)·T/steps)` tiles of an output, so a reduction to one tile emits it at its last step.
* A step costs the stage's work today (`timing.stage_work_cycles`, already divided over its
  units) and the unit kind's per-tile overhead (each unit pays it for its own share of the tiles,
  `bitstream_format.tiling.tile_overhead_cycles`), divided by its steps: that is the initiation
  interval; the unit's latency is paid between a step's start and its tiles leaving.
* Every (stream, destination) pair is a FIFO. Its capacity in tiles is the stream's `fifo_depth`,
  the credits the compiler configured (rdu-allocate-units, deepened by rdu-size-fifos on
  reconvergent paths); checks reject a depth of zero before anything runs.
* A tile crosses the stream's path at `link bytes/cycle × paths` (`timing.stream_paths`: min(source
  units, largest destination units), as in the analytic model and the compiler) and reaches each destination after the
  route's latency (hops and die crossings); the credit takes the same latency back: credits are
  end to end (a tile enters the network only with a slot reserved at its destination; the RDN's
  per-hop flow control only guards switch buffers), so a FIFO must cover its route's round trip,
  which rdu-size-fifos-for-routes sizes it for (docs/simulator.md, "Credits are end to end").
* Shared resources: a routed link used by two or more streams of the kernel (each path of a stream
  carries `1/paths` of its bytes), each memory tier (all loads and stores of the kernel) and the
  socket's peer links (all collective stages of the kernel: two collectives at once share them;
  a step waits for its bytes' share, as a load waits for its tier).
* A memory tier serves its loads and stores in arrival order; with `tier_order="need"`, first the
  AGCU whose reader comes first: `tier_rank` orders a kernel's stages by how far their output
  still has to travel, in stages, to the kernel's end (the longest path to a sink; the longer,
  the earlier its reader needs it), read from the graph alone (`need_order`); with
  `tier_order="share"`, need order only beyond each AGCU's bytes' share of the tier (`tier_shares`;
  docs/simulator.md, "Memory tiers: arrival order, and need order measured").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import ceil

from bitstream_format import Bitstream, KernelEntry, StreamEntry
from bitstream_format.tiling import tile_overhead_cycles
from chip_model import ChipSpec

from functional_sim.bandwidth import MIN_WINDOW
from functional_sim.rereads import stream_passes
from functional_sim.tile_timing import fifo_credits, held_operands, stage_tiling
from functional_sim.timing import agcu_tier_bytes, stream_paths


@dataclass
class KernelGraph:
    """Plain parallel lists indexed by stage, edge, stream and resource; no per-tile objects."""

    stage_ids: list[int] = field(default_factory=list)
    stage_names: list[str] = field(default_factory=list)  # label, for messages and traces
    stage_units: list[str] = field(default_factory=list)
    stage_sites: list[tuple[tuple[int, int], ...]] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    interval: list[float] = field(default_factory=list)  # cycles per step (initiation interval)
    latency: list[float] = field(default_factory=list)
    tier_of: list[int] = field(default_factory=list)  # resource index of an AGCU's tier, else -1
    tier_occupancy: list[float] = field(default_factory=list)  # tier cycles per step
    # per stage, a memory tier's serving order, lower first (`need_order`); empty: arrival order
    tier_rank: list[int] = field(default_factory=list)
    # per stage, the part of its tier it is served in arrival order before need order applies
    # (`tier_shares`); empty: need order from the first byte
    tier_share: list[float] = field(default_factory=list)
    in_edges: list[list[int]] = field(default_factory=list)
    out_streams: list[list[int]] = field(default_factory=list)  # local stream indices

    stream_ids: list[int] = field(default_factory=list)
    stream_tiles: list[int] = field(default_factory=list)
    stream_src: list[int] = field(default_factory=list)  # local stage index
    stream_edges: list[list[int]] = field(default_factory=list)
    stream_occupancy: list[float] = field(default_factory=list)  # cycles a tile holds the stream's path
    stream_shared: list[list[tuple[int, float]]] = field(default_factory=list)  # (resource, cycles per tile)

    edge_stream: list[int] = field(default_factory=list)
    edge_dst: list[int] = field(default_factory=list)  # local stage index
    edge_tiles: list[int] = field(default_factory=list)
    edge_capacity: list[int] = field(default_factory=list)
    edge_latency: list[float] = field(default_factory=list)  # data one way, and the credit back
    # per edge, a resident operand (`tile_timing.held_operands`): its destination's first step needs
    # all its tiles, which its FIFO holds (a query-block matmul's K or V); empty: none
    edge_held: list[bool] = field(default_factory=list)

    resource_names: list[str] = field(default_factory=list)  # "hbm", "ddr", "link (x0, y0)->(x1, y1)"
    resource_kinds: list[str] = field(default_factory=list)  # hbm, ddr, network
    resource_window: list[float] = field(default_factory=list)  # bandwidth window (functional_sim.bandwidth)
    # per resource: the most of it one flow takes per cycle (a link: 1 / its bandwidth in full-rate
    # streams, `Bandwidth.flow`); 0 for a memory tier or the peer links, which serve whole requests
    resource_flow_cap: list[float] = field(default_factory=list)
    group: int = 1  # tiles per step group (1: every tile is its own step)
    whole: tuple[int, ...] = ()  # stage ids of whole-value stages, run as pipeline breaks (tile_timing)
    # A layer loop (functional_sim.layer_loop): the kernel's stages run `iterations` times over, each
    # stage's steps and each stream's tiles repeated; a stage pays `iteration_gap` cycles (its next
    # iteration's arguments) between its iterations; `edge_initial[e]` tiles wait in FIFO e at time 0
    # (a loop-carried value's first iteration, which the caller binds). Empty: no tile waits.
    iterations: int = 1
    iteration_gap: float = 0.0
    edge_initial: list[int] = field(default_factory=list)


def stream_tiles(st: StreamEntry) -> int:
    if st.nbytes == 0 or st.tile_bytes <= 0 or st.tile_bytes >= st.nbytes:
        return 1
    return ceil(st.nbytes / st.tile_bytes)


def fifo_capacity(st: StreamEntry) -> int:
    """Tiles a destination's FIFO for this stream holds: the depth the bitstream configures."""
    return st.fifo_depth


def grouped_capacity(tiles: int, group: int) -> int:
    """A FIFO of `tiles` tiles, counted in groups: rounded up, plus one group of slack when grouped,
    because branches of a reconvergent path round their grouped tile counts differently."""
    return tiles if group == 1 else -(-tiles // group) + 1


def _route_latency(chip: ChipSpec, st: StreamEntry, dst: int) -> int:
    hops = st.hops[st.dsts.index(dst)] if st.hops and dst in st.dsts else 0
    crossings = sum(chip.grid.die_of(y0) != chip.grid.die_of(y1) for _, y0, _, y1 in st.links)
    return hops * chip.network.hop_latency_cycles + crossings * chip.network.die_crossing_latency_cycles


def _link_rate(chip: ChipSpec, st: StreamEntry) -> int:
    net = chip.network
    return net.vector_link_bytes_per_cycle if st.network == "vector" else net.scalar_link_bytes_per_cycle


def _tracks(chip: ChipSpec, st: StreamEntry) -> int:
    net = chip.network
    return max(1, net.vector_tracks if st.network == "vector" else net.scalar_tracks)


TIER_ORDERS = ("arrival", "need", "share")


def kernel_graph(bs: Bitstream, chip: ChipSpec, k: KernelEntry, max_steps: int | None = None,
                 tier_order: str = "arrival") -> KernelGraph:
    """The kernel's stages, FIFOs and shared resources.

    `tier_order` is how a memory tier arbitrates: "arrival" serves requests in the order they come
    (the default); "need" first the AGCU whose reader comes first (`need_order`); "share" gives
    every AGCU its bytes' share of the tier in arrival order and what it asks beyond that in need
    order (`tier_shares`). docs/simulator.md, "Memory tiers: arrival order, and need order measured".

    By default every tile is a step. With `max_steps`, when some stream has more tiles, every stream of the kernel moves in groups
    of `G = ceil(most tiles / max_steps)` tiles: a step handles a group, its interval is G tiles'
    work and overheads (so busy time is unchanged), and a FIFO of C tiles holds `ceil(C / G) + 1`
    groups (`grouped_capacity`). What changes is granularity: a consumer starts after a group rather than a tile, so
    each stage on a path may start up to `(G - 1)` intervals later than with single tiles, and a
    FIFO shallower than one group behaves as one group deep (docs/simulator.md, "Error bounds")."""
    if tier_order not in TIER_ORDERS:
        raise ValueError(f"tier order {tier_order!r} is not available (choose from {', '.join(TIER_ORDERS)})")
    g = KernelGraph()
    local = {sid: i for i, sid in enumerate(k.stages)}
    stages = [bs.stage(sid) for sid in k.stages]
    tiers: dict[str, int] = {}

    def resource(name: str, kind: str) -> int:
        g.resource_names.append(name)
        g.resource_kinds.append(kind)
        g.resource_window.append(MIN_WINDOW)
        g.resource_flow_cap.append(0.0)
        return len(g.resource_names) - 1

    streams = [bs.stream(o) for s in stages for o in s.outputs]
    passes = {st.id: stream_passes(bs, st) for st in streams}  # a re-streamed load's tiles come `passes` times

    def carried(st: StreamEntry) -> int:
        return stream_tiles(st) * passes.get(st.id, 1)

    most = max((carried(st) for st in streams), default=1)
    group = max(1, ceil(most / max_steps)) if max_steps else 1
    g.group = group

    def tiles_of(st: StreamEntry) -> int:
        return ceil(carried(st) / group)

    stream_local = {st.id: i for i, st in enumerate(streams)}
    link_users: dict[tuple, list[int]] = {}
    for i, st in enumerate(streams):
        for link in st.links:
            users = link_users.setdefault((st.network, *link), [])
            if not users or users[-1] != i:
                users.append(i)
    # A link is packet-switched: its flows share its bandwidth, `_tracks` full-rate streams, and each
    # flow injects at most one stream's rate on it. So only a link with more flows than that can be
    # asked for more than it carries; it is a shared resource. Links with the same flows on them
    # carry the same traffic: one resource stands for them all.
    by_users: dict[tuple, list[tuple]] = {}
    for link, users in link_users.items():
        if len(users) > _tracks(chip, streams[users[0]]):
            by_users.setdefault(tuple(users), []).append(link)
    shared_links = {}
    for users, links in by_users.items():
        _, x0, y0, x1, y1 = links[0]
        more = f" and {len(links) - 1} more carrying the same streams" if len(links) > 1 else ""
        r = resource(f"link ({x0}, {y0})->({x1}, {y1}){more}", "network")
        g.resource_flow_cap[r] = 1.0 / _tracks(chip, streams[users[0]])
        shared_links.update({link: r for link in links})

    whole = set()
    windows: dict[int, int] = {}  # window stages (tile_timing): stage id -> windows, one step each
    for i, s in enumerate(stages):
        ins = [bs.stream(x) for x in s.inputs]
        outs = [bs.stream(x) for x in s.outputs]
        tiling = stage_tiling(bs, chip, s)  # the tile program's work and pipeline break (tile_timing)
        whole.update([s.id] if tiling.whole else [])
        windows.update({s.id: tiling.windows} if tiling.windows else {})
        steps = 1 if s.id in whole else max([tiles_of(st) for st in ins + outs] or [1])
        if tiling.windows:  # a step takes a window's input tiles and emits its output tiles
            steps = min(steps, tiling.windows)
        single = max([carried(st) for st in ins + outs] or [1])
        if s.unit == "pcu":
            overhead, latency = chip.pcu.tile_overhead_cycles, chip.pcu.latency_cycles
        elif s.unit == "pmu":
            overhead, latency = chip.pmu.tile_overhead_cycles, chip.pmu.latency_cycles
        else:
            overhead, latency = chip.agcu.tile_overhead_cycles, 0
        tier, occupancy = -1, 0.0
        if s.unit == "agcu" and s.tensor >= 0:
            t = bs.tensor(s.tensor)
            if t.tier not in tiers:
                tiers[t.tier] = resource(t.tier, t.tier)
            tier = tiers[t.tier]
            occupancy = agcu_tier_bytes(bs, s)[1] / chip.tier_bytes_per_cycle(t.tier) / steps
            g.resource_window[tier] = max(g.resource_window[tier], occupancy)
            latency = chip.tier(t.tier).latency_cycles
        if s.unit == "agcu" and s.tensor < 0:  # a collective: its bytes hold the socket's peer links
            from functional_sim.collective import collective_link_cycles

            if "peer" not in tiers:
                tiers["peer"] = resource("peer links", "peer")
            tier = tiers["peer"]
            occupancy = collective_link_cycles(bs, chip, s) / steps
            g.resource_window[tier] = max(g.resource_window[tier], occupancy)
        g.stage_ids.append(s.id)
        g.stage_names.append(s.label or s.opcode)
        g.stage_units.append(s.unit)
        g.stage_sites.append(tuple(s.sites))
        g.steps.append(steps)
        g.interval.append((tiling.work + tile_overhead_cycles(single, len(s.sites), overhead)) / steps)
        g.latency.append(float(latency))
        g.tier_of.append(tier)
        g.tier_occupancy.append(occupancy)
        g.in_edges.append([])
        g.out_streams.append([stream_local[x] for x in s.outputs])

    g.whole = tuple(sorted(whole))
    resident = {(st_id, s.id) for s in stages for st_id in held_operands(bs, s)}
    for i, st in enumerate(streams):
        tiles = tiles_of(st)
        paths = stream_paths(bs, st)
        rate = _link_rate(chip, st)
        tile_bytes = st.nbytes * passes[st.id] / tiles
        g.stream_ids.append(st.id)
        g.stream_tiles.append(tiles)
        g.stream_src.append(local[st.src])
        g.stream_occupancy.append(tile_bytes / (rate * paths))
        shared = []
        for link in st.links:
            r = shared_links.get((st.network, *link))
            if r is not None and all(r != x for x, _ in shared):
                # the flow carries 1/paths of the tile's bytes over this link at one stream's rate:
                # that part of a link whose bandwidth is `tracks` full-rate streams
                cost = tile_bytes / paths / rate / _tracks(chip, st)
                shared.append((r, cost))
        g.stream_shared.append(shared)
        edges = []
        for d in st.dsts:
            if d not in local:
                continue  # streams carry values only within a kernel (checks reject the rest)
            e = len(g.edge_stream)
            g.edge_stream.append(i)
            g.edge_dst.append(local[d])
            g.edge_tiles.append(tiles)
            keep = (st.id, d) in resident
            credits = carried(st) if keep else fifo_credits(bs, st, carried(st), whole, d, windows)
            g.edge_capacity.append(grouped_capacity(credits, group))
            g.edge_held.append(keep)
            g.edge_latency.append(float(_route_latency(chip, st, d)))
            g.in_edges[local[d]].append(e)
            edges.append(e)
        g.stream_edges.append(edges)
    if tier_order in ("need", "share"):
        g.tier_rank = need_order(g)
    if tier_order == "share":
        g.tier_share = tier_shares(g)
    return g


def need_order(g: KernelGraph) -> list[int]:
    """Per stage, minus the most stages between it and any sink of the kernel (its "height").

    A load's bytes are needed about as early as its reader's place in the kernel's dependency
    order: the q projection's weight before the attention, the attention's before the MLP's, the
    down projection's last. The height says so from the graph alone, and sees through the PMU
    buffers a weight waits in (every load has one in front of its reader). Stores are sinks
    (rank 0): the next kernel reads them, after everything this one loads."""
    n = len(g.steps)
    succ = [sorted({g.edge_dst[e] for s in g.out_streams[i] for e in g.stream_edges[s]}) for i in range(n)]
    height = [-1] * n  # -1: not seen, -2: on the current path (a cycle, which kernels do not have, ends there)
    for root in range(n):
        stack = [root]
        while stack:  # iterative depth-first post-order: kernels have thousands of stages
            i = stack[-1]
            if height[i] >= 0:
                stack.pop()
                continue
            pending = [d for d in succ[i] if height[d] == -1]
            height[i] = -2
            if pending:
                stack.extend(pending)
                continue
            height[i] = max((height[d] + 1 for d in succ[i] if height[d] >= 0), default=0)
            stack.pop()
    return [-h for h in height]


def tier_shares(g: KernelGraph) -> list[float]:
    """Per stage, its bytes' part of all the bytes its memory tier moves in the kernel (0 for a
    stage off the tiers). rdu-allocate-units gives a load the AGCUs to stream at about that part of
    the tier's rate for the whole kernel, so a load held below it early cannot catch up later."""
    total: dict[int, float] = {}
    for i, r in enumerate(g.tier_of):
        if r >= 0:
            total[r] = total.get(r, 0.0) + g.tier_occupancy[i] * g.steps[i]
    return [g.tier_occupancy[i] * g.steps[i] / total[r] if r >= 0 and total[r] > 0 else 0.0
            for i, r in enumerate(g.tier_of)]
