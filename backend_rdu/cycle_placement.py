"""The cycle-driven placement loop of `rdu-place{objective=cycles}`: place for wirelength,
simulate, re-weigh the critical streams, re-place, keep each kernel's fastest.

What the event simulator charges a stream for is its route between stage heads (the producer's
first unit and each consumer stage's first unit): the hops and die crossings of that route are
latency every tile pays, and the links it shares are bandwidth it queues for. On the bundled
kernels the wirelength placement leaves the critical path ~10% in streams, and nearly all of it
route latency (long AGCU-to-centre routes, die crossings at 20 cycles each), so the weighting is
timing-driven first: every stream ever seen on a simulated critical path (of any candidate, so a
path once shortened cannot simply come back) gets a heavy head net; traffic (the cycles a stream
holds its route, what it loads onto shared links) adds a lighter one to every stream.

Congestion: where a critical stream waited for a shared link (`KernelFeedback.link_wait`, the part
of its critical cycles the link's other streams added), the waiting stream and every stream it
shared a link with (`link_rivals`) get a head net weighted by that wait's share of the body,
accumulated over rounds (PathFinder's history cost): shorter routes for exactly the streams that
load the congested links, so they cross fewer links and each other less. Links are packet-switched
(since wave 10): a link carries any number of flows and divides its bandwidth (4 full-rate streams
on sn40l) among them, so a stage joining more full-rate flows than its switch's links carry waits
on them. No bundled example does (the term is zero there and the loop is timing-driven); the
join kernels of bench/link_heavy.py do, and `CONGESTION_WEIGHT` is measured by ablation on
link:broadcast-join, link:outer-join and link:outer-join-large (docs/placement.md, "Links shared
by flows"): body cycles of the cycle-driven placement at weight 0 / 256 / 1024: 9,294 / 9,240 /
9,249, 5,532 / 5,507 / 5,520, 18,980 / 18,928 / 18,926 (wirelength 9,294, 5,614, 18,990); 256 has
the least total, 0.4% below weight 0. What wins there is mostly shorter critical routes, not less
link wait: the join's ingress is over its links' bandwidth at any placement.

Placing for link wait (wave 11, docs/placement.md "Wave 11: placing for link wait"): streams are
routed at their rates (`backend_rdu.stream_rates`), so a link is over its bandwidth only where its
flows ask for more than it carries, and where a kernel's critical streams waited on shared links
the loop adds candidates whose stage heads are chosen for an even ingress at the joins they feed
(`spread_heads`: which unit of a stage is its head, the one its flows are routed from and to, is a
choice the annealer never makes), from the wirelength and the greedy placement and, after the
rounds, from the best. Measured (`bench.placement --cycles link:outer-join,link:outer-join-large,
link:outer-join-wide --seed S`, medians of seeds 0-2, with a join's head priced by each producer
flow once): body cycles wirelength -> cycle-driven 5,577 -> 5,267, 18,977 -> 16,542, 10,056 ->
8,855; link wait on the critical path 1,741 -> 26, 7,733 -> 4,140, 3,638 -> 1,584. Single seeds
vary a lot (outer-join-large seed 0: 18,932 -> 18,911; outer-join-wide seed 2: 10,056 -> 8,839).

The simulator call itself (route, size FIFOs, section, emit, time) is `backend_rdu.cycle_feedback`.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects.builtin import ModuleOp

from backend_rdu.cycle_feedback import KernelFeedback, StreamKey, simulate_placement
from backend_rdu.place_pass import greedy_sites, kernel_nets, place_kernel_random, site_array
from backend_rdu.placement import Net, Netlist, PlacementProblem
from backend_rdu.routing.errors import RoutingError
from backend_rdu.stream_rates import stream_rates

TRAFFIC_SHARE = 1.0  # head nets' traffic part, in total, relative to the base nets' total weight
CRITICAL_WEIGHT = 64.0  # a critical stream's head net, in mean base-net weights (16: about half the gain on llama)
CONGESTION_WEIGHT = 256.0  # a stream's head net per unit of link-wait share of the body, in mean base-net weights (ablation 0 / 256 / 1024 in the docstring)
ROUND_SHARE = 0.5  # of a kernel's wirelength budget, for each re-placement
SIDES = ((-1, 0), (1, 0), (0, -1), (0, 1))  # a flow enters a switch from its west, east, south or north neighbour
EXCESS_HOPS = 1000.0  # `spread_heads`' price of one full-rate stream beyond a side's bandwidth, in hops of head-net length
# a kernel gets the scattered candidate (one more event run) where a candidate's critical path waited at least this
# long on a shared resource: the event times are fractional and a wait is any positive difference of them, so a
# whole cycle keeps waits too small to matter in a body of thousands from buying a run (heads-projection's: 2,721)
TIER_WAIT_MIN_CYCLES = 1.0


@dataclass
class Candidate:
    sites: list[list[tuple[int, int]]]
    feedback: KernelFeedback
    label: str


def stream_heads(netlist, names: list[list[str]], streams: list[StreamKey]) -> dict[StreamKey, tuple[str, ...]]:
    """Per stream, the units its simulated route joins: the producer's first unit and each
    consumer stage's first unit, from the kernel's nets (`place_pass.kernel_nets`)."""
    heads: dict[StreamKey, tuple[str, ...]] = {}
    for net, stream in zip(netlist.nets, streams):
        if net.units[0] == names[stream[0]][0]:  # the net of the producer's first unit
            heads[stream] = tuple(dict.fromkeys([net.units[0], *(names[int(u.split(".")[0])][0] for u in net.units[1:])]))
    return heads


def timing_netlist(netlist, names: list[list[str]], streams: list[StreamKey], feedback: KernelFeedback,
                   criticality: dict[StreamKey, float], congestion: dict[StreamKey, float] | None = None):
    """The kernel's netlist plus one head net per stream: its traffic's share of `TRAFFIC_SHARE` x
    the base nets' total weight, plus `CRITICAL_WEIGHT` mean base-net weights x its criticality
    (0 or 1: `add_criticality`), plus `CONGESTION_WEIGHT` mean base-net weights x its congestion
    (link-wait shares of the body, accumulated: `add_congestion`)."""
    congestion = congestion or {}

    heads = stream_heads(netlist, names, streams)
    if not heads or feedback.body <= 0:
        return netlist
    base = sum(n.weight for n in netlist.nets) or 1.0
    mean = base / max(1, len(netlist.nets))
    busy = {s: feedback.stream_busy.get(s, 0.0) for s in heads}
    total = sum(busy.values())
    extra = []
    for stream, units in heads.items():
        traffic = TRAFFIC_SHARE * base * busy[stream] / total if total > 0 else 0.0
        weight = round(traffic + CRITICAL_WEIGHT * mean * criticality.get(stream, 0.0)
                       + CONGESTION_WEIGHT * mean * congestion.get(stream, 0.0), 3)
        if weight > 0 and len(units) > 1:
            extra.append(Net(units, weight))
    return Netlist(netlist.units, netlist.nets + tuple(extra))


def add_criticality(criticality: dict[StreamKey, float], feedback: KernelFeedback) -> None:
    """Mark the streams (and credit returns) on this run's critical path. A stream once critical
    stays so for the later rounds (history, as PathFinder keeps it for congestion): shortening
    one path must not hand the kernel back to the path it replaced."""
    for stream, cycles in feedback.critical.items():
        if cycles >= 1.0:
            criticality[stream] = 1.0


def add_congestion(congestion: dict[StreamKey, float], feedback: KernelFeedback) -> None:
    """Charge each critical stream's link wait, as a share of the body, to it and to every stream
    it shared a link with: any of them taking a shorter route relieves the link. Accumulated over
    candidates, as PathFinder accumulates a congested link's history cost."""
    if feedback.body <= 0:
        return
    for stream, wait in feedback.link_wait.items():
        share = wait / feedback.body
        if share <= 0:
            continue
        for s in (stream, *feedback.link_rivals.get(stream, ())):
            congestion[s] = congestion.get(s, 0.0) + share


def entry_sides(source: tuple[int, int], head: tuple[int, int]) -> tuple[int, ...]:
    """The sides (indices into `SIDES`) from which a shortest route from `source` can enter the
    switch at `head`: west if the source lies west of it, and so on; none if they coincide."""
    dx, dy = source[0] - head[0], source[1] - head[1]
    return tuple(k for k, (sx, sy) in enumerate(SIDES) if (sx and sx * dx > 0) or (sy and sy * dy > 0))


def _dist(a: tuple[int, int], b: tuple[int, int]) -> int:
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


def spread_heads(kernel, sites: list[list[tuple[int, int]]], waited: set[StreamKey], rates: list[list[float]],
                 bandwidth: float) -> list[list[tuple[int, int]]]:
    """Choose which unit of each producer stage is its head, so that the flows into a stage whose
    incoming streams waited on shared links arrive over its head switch's four links evenly.

    A stream's flow runs between stage heads (the first unit of each, as the simulator charges
    it), so the head of a stage of many units is a choice placement never made: the annealer
    places units, and the first is the head by name. Where a join reads more flows than its head
    switch's links carry (bench/link_heavy.py: 24 branches at 0.755 of a stream each into 4 links
    of 4), how the flows split over the four incoming links decides how much they wait (7/7/5/5
    flows are 2.6 streams over bandwidth, 6/6/6/6 are 2.1), and the split follows from where the
    producers' heads are: a shortest route enters from the sides the source lies towards. So for
    every consumer of a stream that waited (`KernelFeedback.link_wait`: the simulator's measure of
    which streams shared links cost on the critical path), its producers' heads are chosen one
    stream at a time (fastest first, then stage order): each producer unit is priced by the
    excess its flow adds beyond `bandwidth` on the least loaded side it can enter from
    (`EXCESS_HOPS` hops per full-rate stream) plus the length of the head nets the choice moves
    (from the stage's own producers' heads, to its other consumers' heads), and the cheapest
    becomes the head (swapped with unit 0: the stage keeps its sites). The join's own head is the
    unit for which those producer prices plus its head nets out (to its readers) are least; its
    nets in are the producers' prices already, each counted once. Deterministic. Returns new
    sites; the caller simulates them as a candidate, so a choice that does not pay is not kept."""
    stages = kernel.stages()
    index = {st: i for i, st in enumerate(stages)}
    new = [list(group) for group in sites]
    readers = [[[index[c] for c in st.consumers(res) if c in index] for res in st.results] for st in stages]
    feeds = [[(i, j) for i in range(len(stages)) for j in range(len(stages[i].results)) if c in readers[i][j]]
             for c in range(len(stages))]
    joins = sorted({c for (i, j) in waited if i < len(stages) and j < len(readers[i]) for c in readers[i][j]})
    fixed: set[int] = set()

    def length(i: int, at: tuple[int, int], skip: int) -> int:
        """Head-net length of stage `i` with its head at `at`, but for its flows into `skip`."""
        return (sum(_dist(new[p][0], at) for (p, _) in feeds[i] if p not in (i, skip))
                + outflow(i, at, skip))

    def outflow(i: int, at: tuple[int, int], skip: int) -> int:
        """Length of the head nets from stage `i`, its head at `at`, to its readers but `skip`."""
        return sum(_dist(at, new[d][0]) for r in readers[i] for d in r if d not in (i, skip))

    def assign(c: int, head: tuple[int, int]) -> tuple[float, dict[int, int]]:
        """Greedy heads for the producers of `c` with its head at `head`: (price, stage -> unit
        chosen). A producer with several streams into `c` has one head: its first stream chooses it,
        the others are priced from there, each by its own flow into `c` only (the producer's other
        head nets are one set whatever number of streams it sends `c`: the first stream priced them)."""
        load = [0.0] * len(SIDES)
        total, chosen = 0.0, {}
        for (i, j) in sorted(feeds[c], key=lambda f: (-rates[f[0]][f[1]], f)):
            if i == c:
                continue
            rate = rates[i][j]
            if i in chosen:
                options = [chosen[i]]
            elif i in fixed or i in joins or len(new[i]) == 1:
                options = [0]
            else:
                options = range(len(new[i]))
            best = None
            others = i not in chosen  # the producer's other head nets, priced with its first stream
            for u in options:
                at = new[i][u]
                sides = entry_sides(at, head)
                side = min(sides, key=lambda k: (load[k], k)) if sides else -1
                over = (max(0.0, load[side] + rate - bandwidth) - max(0.0, load[side] - bandwidth)) if sides else 0.0
                cost = EXCESS_HOPS * over + _dist(at, head) + (length(i, at, c) if others else 0)
                if best is None or (cost, u) < best[:2]:
                    best = (cost, u, side)
            cost, u, side = best
            total += cost
            chosen[i] = u
            if side >= 0:
                load[side] += rate
        return total, chosen

    for c in joins:
        heads = range(len(new[c])) if c not in fixed else [0]
        # `assign` prices each producer's flow into `c` from the head it would choose: only the
        # join's flows out are left to add (its flows in, from the producers' present heads, again
        # would count every producer-to-join distance twice, once from a head about to change)
        h = min(heads, key=lambda h: (assign(c, new[c][h])[0] + outflow(c, new[c][h], -1), h))
        new[c][0], new[c][h] = new[c][h], new[c][0]
        fixed.add(c)
        for i, u in sorted(assign(c, new[c][0])[1].items()):
            new[i][0], new[i][u] = new[i][u], new[i][0]
            fixed.add(i)
    return new


def place_for_cycles(module: ModuleOp, chip, distinct: dict, placed: dict, budgets: dict, run_placer,
                     rounds: int, index_of: dict[tuple, int],
                     seed: int = 0) -> tuple[dict, dict[tuple, list[tuple[str, object]]], dict[tuple, str]]:
    """Per distinct kernel (signature -> kernel), the placement with the fewest simulated body
    cycles among: the wirelength placement (`placed`), the greedy one, and `rounds` re-placements
    of the fastest so far under timing- and congestion-driven head nets (`timing_netlist`, `run_placer(problem,
    seconds, netlist, start=...)` with `ROUND_SHARE` of the kernel's budget). The wirelength
    placement is a candidate, so the result is never slower than it; ties keep the earlier
    candidate. Where a candidate's critical streams waited on shared links, `spread_heads` of the
    wirelength and greedy placements (before the rounds) and of the best (after them) are
    candidates too; and last, where a kernel's critical path waited on links or on a shared
    resource (a memory tier or a collective's peer links), a scattered placement (`scatter`, seeded
    by `seed`) and its spread heads. Returns (sites per signature, each signature's trail of
    (label, body cycles or "unroutable"), the label kept). `index_of` gives each signature's first
    kernel's index in the module (`simulate_placement` takes kernels by index)."""
    criticality: dict[tuple, dict[StreamKey, float]] = {sig: {} for sig in distinct}
    congestion: dict[tuple, dict[StreamKey, float]] = {sig: {} for sig in distinct}
    trail: dict[tuple, list[tuple[str, object]]] = {sig: [] for sig in distinct}
    best: dict[tuple, Candidate] = {}
    # kernels whose critical path waited on a shared resource (a memory tier or a collective's peer
    # links: the simulator's ("resource", r) segments, `KernelFeedback.tier_wait`) in some candidate
    tiered: set[tuple] = set()

    # A kernel's feedback depends only on its own sites (kernels run one after another from empty
    # FIFOs, each routed on its own), so a candidate simulated before is not simulated again: a
    # round that returns every kernel's start, or a candidate equal to an earlier one. (Only placements that
    # routed are kept: a candidate that did not route is simulated again if it comes back.)
    seen: dict[tuple, KernelFeedback] = {}

    def keep(candidate: dict, label: str, must_route: bool = False) -> None:
        keys = {sig: (sig, tuple(map(tuple, sites))) for sig, sites in candidate.items()}
        # all or nothing: a subset of the kernels is not a program a layer loop can be emitted for
        # (its body must follow a prologue), so a candidate with any new placement is simulated whole
        fresh = candidate if any(keys[sig] not in seen for sig in candidate) else {}
        try:
            feedback = simulate_placement(module, {index_of[sig]: sites for sig, sites in fresh.items()}) if fresh else {}
        except RoutingError:  # a candidate the mesh cannot route is no candidate ...
            if must_route:  # ... but the wirelength placement's error is the user's, as without this loop
                raise
            for sig in candidate:
                trail[sig].append((label, "unroutable"))
            return
        for sig in fresh:
            seen[keys[sig]] = feedback[index_of[sig]]
        for sig, sites in candidate.items():
            fb = seen[keys[sig]]
            trail[sig].append((label, round(fb.body)))
            add_criticality(criticality[sig], fb)
            add_congestion(congestion[sig], fb)
            if fb.tier_wait >= TIER_WAIT_MIN_CYCLES:
                tiered.add(sig)
            if sig not in best or fb.score < best[sig].feedback.score:
                best[sig] = Candidate(sites, fb, label)

    def spread(label: str, base: dict[tuple, Candidate]) -> None:
        """A candidate of each kernel's `base` placement with heads chosen for even ingress
        (`spread_heads`) where shared links made its critical streams wait; none if no kernel
        waited or no head moves."""
        candidate, moved = {}, False
        for sig, kernel in distinct.items():
            waited = {s for s, w in base[sig].feedback.link_wait.items() if w > 0}
            sites = base[sig].sites
            if waited:
                sites = spread_heads(kernel, sites, waited, stream_rates(kernel, chip), chip.network.vector_tracks)
                moved = moved or sites != base[sig].sites
            candidate[sig] = sites
        if moved:
            keep(candidate, label)

    def scatter() -> None:
        """A spread-out candidate for each kernel whose critical path waited on something shared
        in any candidate so far: on links (its `congestion` is not empty) or on a shared resource, a
        memory tier or a collective's peer links (`KernelFeedback.tier_wait`, in `tiered`). Every
        stage's units on seeded random sites of their kind (`place_kernel_random`, the placement
        `rdu-place{random=true}` gives for the same seed), then its heads spread for even ingress.
        Other kernels keep their best sites (simulated before, so not again).

        Why these two waits: they are the costs the loop's nets cannot express. Everything else a
        placement changes in the event run is route latency, where a scattered placement only
        pays more; but which flows share a link, and in what order a tier's loads ask for their
        bytes (a tier serves them in arrival order, and each load asks when its credits, paced by
        its route, let it), depend on the whole placement's timing, and there a placement with
        longer wires can be faster. Measured: link:outer-join-large seed 0 (links): random sites
        16,849 body cycles, every earlier candidate at least 18,911 (docs/placement.md "Wave 13: a
        spread-out candidate for cycles"); link:heads-projection seed 2 (tier, no link wait):
        forward_2's critical path is its slowest weight load (one AGCU, 10,560 cycles of its own
        steps) plus its wait for the HBM tier it shares with 16 other loads and the store: 2,721
        cycles under the cycle-driven placement, where the seven two-AGCU weight loads run in
        step and all end by cycle 9,810, and 1,621 under the random one, where they end spread
        over cycles 9,200-11,200 (body 14,025 against 14,874; docs/placement.md "Wave 14"). It
        comes after the rounds and the last spread, so it changes no earlier candidate nor the
        history they feed: the kept placement is the old one unless this one is faster. Nothing
        is added where no critical path waited on a link or a tier."""
        waited = [sig for sig in distinct if congestion[sig] or sig in tiered]
        if not waited:
            return
        candidate = {sig: place_kernel_random(kernel, chip, seed) if sig in waited else best[sig].sites
                     for sig, kernel in distinct.items()}
        keep(candidate, "scattered")
        keys = {sig: (sig, tuple(map(tuple, sites))) for sig, sites in candidate.items()}
        if all(keys[sig] in seen for sig in candidate):  # it routed
            spread("scattered heads", {sig: Candidate(sites, seen[keys[sig]], "scattered")
                                       for sig, sites in candidate.items()})

    keep(placed, "wirelength", must_route=True)
    wirelength = dict(best)
    keep({sig: greedy_sites(kernel, chip) for sig, kernel in distinct.items()}, "greedy")
    greedy = {sig: Candidate(sites, seen[(sig, tuple(map(tuple, sites)))], "greedy")
              for sig, sites in ((sig, greedy_sites(kernel, chip)) for sig, kernel in distinct.items())
              if (sig, tuple(map(tuple, sites))) in seen}
    # heads from both starting placements: which of them a spread ingress helps most is not which
    # is faster as placed (outer-join-large: greedy 18,929 < wirelength 18,990 as placed, but
    # spread 18,945 from greedy and 16,530 from wirelength)
    spread("wirelength heads", wirelength)
    if len(greedy) == len(distinct):
        spread("greedy heads", greedy)
    for r in range(rounds):
        candidate = {}
        for sig, kernel in distinct.items():
            netlist, names, streams = kernel_nets(kernel)
            weighted = timing_netlist(netlist, names, streams, best[sig].feedback, criticality[sig], congestion[sig])
            problem = PlacementProblem.build(chip, weighted)
            result = run_placer(problem, ROUND_SHARE * budgets[sig], weighted,
                                start=site_array(problem, names, best[sig].sites))
            positions = result.positions
            candidate[sig] = [[positions[name] for name in group] for group in names]
        keep(candidate, f"round {r + 1}")
    spread("heads after rounds", best)
    scatter()
    return {sig: c.sites for sig, c in best.items()}, trail, {sig: c.label for sig, c in best.items()}
