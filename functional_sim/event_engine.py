"""The discrete-event run of one kernel: stages fire tile steps through bounded FIFOs with credits.

Each stage is a process with local time (`free`: when its unit group can start its next step).
Step `j` starts at the latest of: the stage being free, the arrival of the input tiles it needs,
a credit for every output tile it will produce (the destination has popped the tile `capacity`
places earlier, plus the credit's trip back, less the unit's own pipeline: a tile needs the
credit only when it leaves), and, for AGCUs, its memory tier serving the step's bytes
(`bandwidth`). Its tiles leave `interval + latency` after the start, queue for the stream's path
and the shared links on it, and arrive after the route's latency. A destination pops a tile when
the step that needs it starts.

Batching keeps the event count below the tile count: a stage that wakes computes up to `batch`
steps at once, as far as the arrivals and credits it depends on are already known. Those times
follow the same recurrence in any order, so without contended shared resources a batched run
equals the unbatched one exactly. An AGCU on a memory tier that another AGCU shares books each
step only when the clock reaches the time the reference would (`tier_shared`), so the tier serves
them in the same order; on a shared link, the order of requests within one bandwidth window may
still differ (`bandwidth`, `docs/simulator.md`). `batch=1` with `exact=True` is the reference:
every step commits at its own start time, in time order.

A memory tier (HBM, DDR) serves requests in the order the engine computes them (arrival order),
unless the graph ranks its users (`tier_rank`, `kernel_graph(..., tier_order="need")`): then a
step of an AGCU is booked on its tier only once every AGCU served before it (an earlier iteration
of a layer loop, else a lower rank: its reader comes earlier in the kernel's dependency order) has
asked for every window the step takes (`tier_horizon`); until then the step waits for the clock.
A window's capacity goes in booking order, so that is strict priority at window granularity.
With shares (`tier_share`, `tier_order="share"`) a step is booked at once, in arrival order,
while the stage has been served less than its share of the tier's time so far, and in need
order beyond it (docs/simulator.md, "Memory tiers: arrival order, and need order measured").

A layer loop (`functional_sim.layer_loop.repeat_graph`) is the same run with every stage's steps
repeated: a stage pays the graph's `iteration_gap` before the first step of each later iteration,
and a carried FIFO starts with its `edge_initial` tiles already arrived at time 0.

If the event queue runs dry while a stage has steps left, every unfinished stage is waiting on
another (data or credit): the wait-for cycle is named and the run stops (`deadlock`).
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from dataclasses import dataclass, field
from heapq import heappop, heappush

from functional_sim.bandwidth import Bandwidth
from functional_sim.critical_path import FREE, SHIFT, critical_path
from functional_sim.deadlock import deadlock_error, wait_cycle
from functional_sim.event_graph import KernelGraph

INF = float("inf")
MEMORY_TIERS = ("hbm", "ddr")  # resource kinds a need-order run arbitrates (`tier_horizon`); links and peer links: arrival order
DEFAULT_BATCH = 256
MAX_TRACE_SLICES = 2000  # per stage: busy and stall slices kept for the trace beyond this are merged
MAX_COUNTER_POINTS = 400  # per FIFO: occupancy samples kept for the trace


@dataclass
class KernelRun:
    """What the run of one kernel leaves behind, in cycles from the kernel body's start."""

    body: float
    busy: list[float]
    stall_input: list[float]
    stall_credit: list[float]
    stall_memory: list[float]
    first_start: list[float]
    last_end: list[float]
    stream_busy: list[float]
    resource_busy: list[float]
    events: int
    tile_events: int
    busy_slices: list[list[float]] = field(default_factory=list)  # per stage: flat start, end, ...
    stall_slices: list[list[tuple[float, float, str]]] = field(default_factory=list)
    occupancy: list[list[tuple[float, int]]] = field(default_factory=list)  # per edge: sampled (time, tiles held)
    grown: dict[int, tuple[int, int]] = field(default_factory=dict)  # local edge -> (configured, used) FIFO tiles
    critical: dict[tuple[str, int], float] = field(default_factory=dict)  # critical path cycles per resource (critical_path)
    link_wait: dict[int, float] = field(default_factory=dict)  # per stream: the part of its critical cycles that shared links added


def run_kernel(g: KernelGraph, kernel_name: str = "", *, batch: int = DEFAULT_BATCH, exact: bool = False,
               grow_fifos: bool = False) -> KernelRun:
    n = len(g.steps)
    steps, interval, latency = g.steps, g.interval, g.latency
    in_edges, out_streams = g.in_edges, g.out_streams
    edge_tiles, edge_lat, edge_stream, edge_dst = g.edge_tiles, g.edge_latency, g.edge_stream, g.edge_dst
    edge_cap = list(g.edge_capacity)  # grown in place when `grow_fifos` resolves a deadlock
    stream_tiles, stream_edges, stream_occ, stream_shared, stream_src = (
        g.stream_tiles, g.stream_edges, g.stream_occupancy, g.stream_shared, g.stream_src)
    tier_of, tier_occ = g.tier_of, g.tier_occupancy
    rank = g.tier_rank
    rivals = tier_rivals(g)
    in_turn = [False] * n if exact else tier_shared(g)  # arrival order on a shared tier: book in the clock's order
    lead = [0.0] * len(g.resource_window)  # per tier: the most a step of its users starts before the clock
    for i, r in enumerate(tier_of):
        if rivals[i]:
            lead[r] = max([lead[r], interval[i] + latency[i]] + [interval[h] + latency[h] for h in rivals[i]])
    share = g.tier_share
    booked = [0.0] * n  # tier cycles each stage has been served
    iterations, gap = g.iterations, g.iteration_gap
    per_iteration = [st // iterations for st in steps]  # a layer loop's steps per iteration, per stage

    j = [0] * n
    free = [0.0] * n
    busy, st_in, st_cr, st_mem = [0.0] * n, [0.0] * n, [0.0] * n, [0.0] * n
    first, last = [INF] * n, [0.0] * n
    blocked: list[tuple[str, int] | None] = [None] * n
    busy_slices: list[list[float]] = [[] for _ in range(n)]
    stall_slices: list[list[tuple[float, float, str]]] = [[] for _ in range(n)]
    initial = g.edge_initial or [0] * len(edge_tiles)
    arr: list[list[float]] = [[0.0] * initial[e] for e in range(len(edge_tiles))]  # a loop's carried tiles
    pops: list[list[float]] = [[] for _ in edge_tiles]
    produced = [0] * len(stream_tiles)
    port_free = [0.0] * len(stream_tiles)
    # per stream on a shared link: when its port would be free had no link been shared, and per tile how
    # much later than that the tile left (`link_delay`: what congestion cost it, given its producer's times)
    alone_free = [0.0] * len(stream_tiles)
    link_delay = [array("d") if stream_shared[s] else None for s in range(len(stream_tiles))]
    stream_busy = [0.0] * len(stream_tiles)
    res = [Bandwidth(w) for w in g.resource_window]
    # per stage, what its steps touch: (edge, tiles, arrivals, pops) per input and
    # (stream, tiles, occupancy, [(resource, cycles)], [(edge, latency, pops, arrivals)]) per output
    # a resident operand's edge: all its tiles (this iteration's) before the first step; a layer loop's
    # carries (`layer_loop.repeat_graph`) append edges after the kernel's own, none of them resident
    held = list(g.edge_held) + [False] * (len(edge_tiles) - len(g.edge_held))
    in_spec = [[(e, edge_tiles[e], arr[e], pops[e], held[e]) for e in in_edges[i]] for i in range(n)]
    flow_cap = g.resource_flow_cap
    out_spec = [[(s, stream_tiles[s], stream_occ[s], [(res[r].flow, o, flow_cap[r]) for r, o in stream_shared[s]],
                  [(e, edge_lat[e], pops[e], arr[e]) for e in stream_edges[s]]) for s in out_streams[i]]
                for i in range(n)]
    # per step, for the critical path: its start, what set it (`critical_path.why_code`: FREE, an
    # input edge e or credit edge `len(edges) + e`, with the tile index waited for), and for AGCUs
    # the start before the tier's wait
    n_edges = len(edge_tiles)
    step_start = [array("d") for _ in range(n)]
    step_why = [array("q") for _ in range(n)]
    step_unserved = [array("d") if tier_of[i] >= 0 else None for i in range(n)]
    sched = [0.0] * n
    heap = [(0.0, i, i) for i in range(n)]
    seq = n
    events = tile_events = 0

    def wake(i: int, t: float) -> None:
        nonlocal seq
        if t < sched[i]:
            sched[i] = t
            seq += 1
            heappush(heap, (t, seq, i))

    while True:
        while heap:
            now, _, i = heappop(heap)
            if now != sched[i]:
                continue  # superseded by an earlier wake-up
            sched[i] = INF
            events += 1
            blocked[i] = None
            jj, total, done = j[i], steps[i], 0
            ii, lat, tr = interval[i], latency[i], tier_of[i]
            ins, outs = in_spec[i], out_spec[i]
            popped_from = [len(x[3]) for x in ins]
            sent_from = [produced[x[0]] for x in outs]
            stalls, slices = stall_slices[i], busy_slices[i]
            rec_start, rec_why, rec_unserved = step_start[i], step_why[i], step_unserved[i]
            blk = None
            every = per_iteration[i]
            mine = rivals[i]
            horizon_of, horizon, tier_wait = -1, INF, 0.0  # `horizon` holds for iteration `horizon_of`
            turn = in_turn[i]
            while jj < total and done < batch:
                ready, cause, why = free[i], "", FREE
                known = 0.0  # when the exact run learns the step: the latest pop returning one of its credits
                if gap and jj and jj % every == 0:  # a layer loop: the unit takes its next iteration's arguments
                    ready += gap
                k1 = jj + 1
                for e, t_e, a, _, h in ins:
                    need = (jj // every + 1) * (t_e // iterations) if h else -(-k1 * t_e // total)
                    if need > len(a):
                        blk = ("data", e)
                        break
                    if a[need - 1] > ready:
                        ready, cause, why = a[need - 1], "input", (e << SHIFT) | (need - 1)
                if blk is not None:
                    break
                for s, t_s, _, _, dests in outs:
                    m = k1 * t_s // total
                    if m > produced[s]:
                        for e, e_lat, p, _ in dests:
                            idx = m - 1 - edge_cap[e]
                            if idx >= 0:
                                if idx >= len(p):
                                    blk = ("credit", e)
                                    break
                                # the unit may run ahead by its own pipeline: the tile
                                # leaves `ii + lat` after the step starts, when the credit is back
                                c = p[idx] + e_lat - ii - lat
                                if p[idx] > known:
                                    known = p[idx]
                                if c > ready:
                                    ready, cause, why = c, "credit", ((n_edges + e) << SHIFT) | idx
                        if blk is not None:
                            break
                if blk is not None:
                    break
                if exact and ready > now:
                    wake(i, ready)
                    break
                if mine and (not share or booked[i] + tier_occ[i] > share[i] * (ready + res[tr].window)):
                    # need order (beyond the stage's share): book once whoever is served first has asked
                    it = jj // every
                    if it != horizon_of:
                        horizon_of, horizon = it, tier_horizon(i, it, mine, rank, j, steps, per_iteration, free, now,
                                                               interval, latency)
                    if ready + tier_occ[i] > horizon:
                        tier = res[tr]
                        last_window_end = -(-tier.finish(ready, tier_occ[i]) // tier.window) * tier.window
                        if last_window_end > horizon:
                            tier_wait = last_window_end + lead[tr]  # by then the clock says they have asked
                            break
                if turn:
                    # arrival order on a shared tier: book when the exact run would, at the clock
                    # that knows the step (its start, or the pop that returns its credit), so an
                    # earlier request of another AGCU is not served after this batch's later ones
                    if known < ready:
                        known = ready
                    if known > now:
                        tier_wait = known
                        break
                if tr >= 0:  # the tier serves this step's bytes from `ready` on; the step waits for them
                    booked[i] += tier_occ[i]
                    rec_unserved.append(ready)
                    served = res[tr].reserve(ready, tier_occ[i]) - tier_occ[i]
                    if served > ready + 1e-9:
                        ready, cause = served, "memory"
                # commit step jj at `ready`
                rec_start.append(ready)
                rec_why.append(why)
                end = ready + ii
                wait = ready - free[i]
                if wait > 0:
                    if cause == "input":
                        st_in[i] += wait
                    elif cause == "credit":
                        st_cr[i] += wait
                    elif cause == "memory":
                        st_mem[i] += wait
                    if len(stalls) < MAX_TRACE_SLICES:
                        stalls.append((free[i], ready, cause))
                if slices and ready <= slices[-1] + 1e-9:
                    slices[-1] = end
                elif len(slices) < 2 * MAX_TRACE_SLICES:
                    slices.append(ready)
                    slices.append(end)
                else:
                    slices[-1] = end
                if jj == 0:
                    first[i] = ready
                busy[i] += ii
                free[i] = end
                for e, t_e, _, p, h in ins:
                    need = (jj // every + 1) * (t_e // iterations) if h else -(-k1 * t_e // total)
                    while len(p) < need:
                        p.append(ready)
                        tile_events += 1
                out_t = end + lat
                for s, t_s, occ, shared, dests in outs:
                    m = k1 * t_s // total
                    while produced[s] < m:
                        start = out_t if out_t > port_free[s] else port_free[s]
                        fin = start + occ
                        for flow, o, cap in shared:  # each link over its bandwidth the tile crosses
                            done_r = flow(start, o, cap)
                            if done_r > fin:
                                fin = done_r
                        port_free[s] = fin
                        if shared:
                            alone = (out_t if out_t > alone_free[s] else alone_free[s]) + occ
                            alone_free[s] = alone
                            link_delay[s].append(fin - alone)
                        stream_busy[s] += occ
                        for _, e_lat, _, a in dests:
                            a.append(fin + e_lat)
                        produced[s] += 1
                        tile_events += 1
                last[i] = out_t
                jj += 1
                done += 1
            blocked[i] = blk
            j[i] = jj
            if tier_wait:
                wake(i, tier_wait)
            # wake whoever was waiting on what this firing made known
            # (only a stage blocked on this very FIFO, and only once the tile or credit it
            # needs exists: a wake-up that cannot make progress is an event wasted)
            for k, s in enumerate(out_streams[i]):
                if produced[s] > sent_from[k]:
                    for e in stream_edges[s]:
                        d = edge_dst[e]
                        if blocked[d] == ("data", e):
                            need = (j[d] // per_iteration[d] + 1) * (edge_tiles[e] // iterations) if held[e] \
                                else -(-(j[d] + 1) * edge_tiles[e] // steps[d])
                            if need <= len(arr[e]):
                                wake(d, max(now, arr[e][need - 1]))
            for k, e in enumerate(in_edges[i]):
                if len(pops[e]) > popped_from[k]:
                    s = edge_stream[e]
                    p = stream_src[s]
                    if blocked[p] == ("credit", e):
                        idx = (j[p] + 1) * stream_tiles[s] // steps[p] - 1 - edge_cap[e]
                        if idx < 0:  # a deepened FIFO: no credit needed any more
                            wake(p, now)
                        elif idx < len(pops[e]):
                            wake(p, max(now, pops[e][idx] + edge_lat[e] - interval[p] - latency[p]))
            if jj < total and blocked[i] is None and sched[i] == INF:
                wake(i, max(now, free[i]))

        unfinished = [i for i in range(n) if j[i] < steps[i]]
        if not unfinished:
            break
        if not grow_fifos:
            raise deadlock_error(g, kernel_name, unfinished, blocked, arr, pops)
        # Deepen every full FIFO on the wait-for loop to hold its whole value, and carry on.
        grown_any = False
        for i in wait_cycle(g, unfinished, blocked):
            kind, e = blocked[i] or ("", -1)
            if kind == "credit" and edge_cap[e] < edge_tiles[e]:
                edge_cap[e] = edge_tiles[e]
                grown_any = True
                wake(i, free[i])
        if not grown_any:
            raise deadlock_error(g, kernel_name, unfinished, blocked, arr, pops)
    grown = {e: (g.edge_capacity[e], edge_cap[e]) for e in range(len(edge_cap)) if edge_cap[e] != g.edge_capacity[e]}
    body = 0.0
    for i in range(n):
        body = max(body, last[i])
    for e in range(len(edge_tiles)):
        if arr[e]:
            body = max(body, arr[e][-1])
    occupancy = [fifo_occupancy(a, p) for a, p in zip(arr, pops)]
    critical = critical_path(g, last, step_start, step_why, step_unserved, link_delay)
    link_wait = {x: c for (kind, x), c in critical.items() if kind == "link"}
    critical = {key: c for key, c in critical.items() if key[0] != "link"}
    return KernelRun(body, busy, st_in, st_cr, st_mem, [0.0 if f == INF else f for f in first], last,
                     stream_busy, [r.busy for r in res], events, tile_events, busy_slices, stall_slices, occupancy,
                     grown, critical, link_wait)


def tier_rivals(g: KernelGraph) -> list[list[int]]:
    """Per stage, the other AGCUs on its memory tier that may be served before it in need order:
    those of lower `tier_rank`, or in a layer loop every other one (an earlier iteration comes
    first whatever its rank). All empty in arrival order (`tier_rank` empty), and for collectives
    (the peer links are a network)."""
    n = len(g.steps)
    rivals: list[list[int]] = [[] for _ in range(n)]
    if not g.tier_rank:
        return rivals
    users: dict[int, list[int]] = {}
    for i, r in enumerate(g.tier_of):
        if r >= 0 and g.resource_kinds[r] in MEMORY_TIERS:
            users.setdefault(r, []).append(i)
    for us in users.values():
        for i in us:
            rivals[i] = [h for h in us if h != i and (g.iterations > 1 or g.tier_rank[h] < g.tier_rank[i])]
    return rivals


def tier_shared(g: KernelGraph) -> list[bool]:
    """Per stage, whether it is an AGCU on a memory tier that serves in arrival order (`tier_rank`
    empty) and that another AGCU uses too. A batch books such a stage's steps on the tier only as
    the clock reaches them (`run_kernel`): booked ahead, a batch's later requests would take the
    windows before another AGCU's earlier ones (+1.6% to +4.4% on one-layer decode kernels,
    docs/simulator.md "Speed: batches"). A lone user keeps its batches: nothing competes with it."""
    users: dict[int, int] = {}
    for r in g.tier_of:
        if r >= 0 and g.resource_kinds[r] in MEMORY_TIERS:
            users[r] = users.get(r, 0) + 1
    return [not g.tier_rank and users.get(r, 0) > 1 for r in g.tier_of]


def tier_horizon(i: int, iteration: int, rivals: list[int], rank: list[int], j: list[int], steps: list[int],
                 per_iteration: list[int], free: list[float], now: float, interval: list[float],
                 latency: list[float]) -> float:
    """Until when the requests of every unfinished stage served before stage `i` (at `i`'s
    iteration) are known: a stage's next step starts no earlier than it is free, nor earlier than
    the clock less its own pipeline (`interval + latency`: a load issues a step that early for the
    credit a pop at the clock returns). INF when no such stage is left."""
    horizon = INF
    for h in rivals:
        jh = j[h]
        if jh >= steps[h]:
            continue
        ih = jh // per_iteration[h]
        if ih < iteration or (ih == iteration and rank[h] < rank[i]):
            t = now - interval[h] - latency[h]
            if free[h] > t:
                t = free[h]
            if t < horizon:
                horizon = t
    return horizon


def fifo_occupancy(arrivals: list[float], pops: list[float], points: int = MAX_COUNTER_POINTS) -> list[tuple[float, int]]:
    """Tiles held in a FIFO (arrived, not yet popped) at up to `points` evenly spaced times, by
    bisection of the two sorted time lists; the per-tile times themselves are dropped after the run."""
    if not arrivals:
        return []
    t0, t1 = arrivals[0], max(arrivals[-1], pops[-1] if pops else arrivals[-1])
    n = min(points, len(arrivals) + len(pops))
    times = sorted({t0 + (t1 - t0) * k / max(n - 1, 1) for k in range(n)} | {t1})
    return [(t, max(0, bisect_right(arrivals, t) - bisect_right(pops, t))) for t in times]
