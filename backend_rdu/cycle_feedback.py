"""What a placement costs in simulated cycles, per kernel and per stream: the cycle-driven placer's feedback.

`rdu-place{objective=cycles}` needs to know, for a candidate placement, how many cycles each kernel
takes once its streams are routed and share the mesh's links, and which streams hold the kernel's
critical path. This module is the one narrow call from the compiler into the simulator: it routes,
sizes FIFOs for the routes and sections a copy of the module with the candidate sites, emits its bitstream and runs the
discrete-event timing (`functional_sim.simulate(..., execute=False)`: nothing is computed, tiles
move through bounded FIFOs and share link and memory bandwidth). The module itself is not touched.

`place_for_cycles` is the loop that uses it: candidates (the wirelength placement, the greedy one,
re-placements with timing-driven head nets) are simulated, and each kernel keeps its fastest.

Every figure is deterministic (the event run is), so a cycle-driven compile still gives the same
bytes for the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp

from dialects import rdu

StreamKey = tuple[int, int]  # (stage index in its kernel, result index of the stage)


@dataclass(frozen=True)
class KernelFeedback:
    """One kernel's simulated cost under a candidate placement."""

    body: float  # cycles of the kernel body (launch excluded: placement cannot change it)
    deadlocked: bool  # the configured FIFOs deadlocked; `body` is then measured with grown FIFOs
    stream_busy: dict[StreamKey, float] = field(default_factory=dict)  # cycles a stream holds its path
    critical: dict[StreamKey, float] = field(default_factory=dict)  # a stream's (and its credits') cycles on the critical path
    stage_critical: dict[int, float] = field(default_factory=dict)  # a stage's own cycles on the critical path

    @property
    def score(self) -> tuple[bool, float]:
        """Lower is better: a placement that deadlocks loses to any that does not."""
        return (self.deadlocked, self.body)


def simulate_placement(module: ModuleOp, sites: dict[int, list[list[tuple[int, int]]]]) -> dict[int, KernelFeedback]:
    """Per kernel index (module order) given in `sites` (its stages' sites), the kernel's simulated
    cycles with those kernels placed as given; the module's other kernels are left out. Raises
    the router's error if the placement cannot be routed."""
    from backend_rdu.emit_bitstream import emit_bitstream
    from backend_rdu.route_pass import RoutePass
    from backend_rdu.section_pass import SectionPass
    from functional_sim import SimulationError, simulate
    from passes.size_fifos_for_routes import SizeFifosForRoutesPass

    copy = module.clone()
    kept = sorted(sites)
    for k, kernel in enumerate(rdu.kernels(copy)):  # kernels run one after another from empty FIFOs:
        if k not in sites:  # the others change no kernel's cycles
            kernel.detach()
            kernel.erase()
    kernels = rdu.kernels(copy)
    for kernel, index in zip(kernels, kept):
        for stage, placed in zip(kernel.stages(), sites[index]):
            stage.set_sites(placed)
    ctx = Context()
    RoutePass().apply(ctx, copy)
    SizeFifosForRoutesPass().apply(ctx, copy)  # as the compile does next: credits for each route's round trip
    SectionPass().apply(ctx, copy)
    bitstream = emit_bitstream(copy)
    deadlocked = False
    try:
        sim = simulate(bitstream, None, execute=False)
    except SimulationError:  # a deadlock of the configured FIFOs: measure with grown ones, and say so
        deadlocked = True
        sim = simulate(bitstream, None, execute=False, fifos="grow")
    # global stream id -> (kernel, stage index, result index), as emit_bitstream numbers them
    stream_of: dict[int, tuple[int, int, int]] = {}
    for k, kernel in enumerate(kernels):
        for i, stage in enumerate(kernel.stages()):
            for j, _ in enumerate(stage.results):
                stream_of[len(stream_of)] = (k, i, j)
    stage_base, base = [], 0
    for kernel in kernels:
        stage_base.append(base)
        base += len(kernel.stages())
    out: dict[int, KernelFeedback] = {}
    for record in sim.kernels:
        if record.run is None:
            continue
        g, run = record.run
        busy, critical, stage_critical = {}, {}, {}
        for x, gid in enumerate(g.stream_ids):
            busy[stream_of[gid][1:]] = float(run.stream_busy[x])
        for (kind, x), cycles in run.critical.items():
            if kind == "stream":
                key = stream_of[g.stream_ids[x]][1:]
            elif kind == "credit":
                key = stream_of[g.stream_ids[g.edge_stream[x]]][1:]
            else:
                if kind == "stage":
                    local = g.stage_ids[x] - stage_base[record.id]
                    stage_critical[local] = stage_critical.get(local, 0.0) + float(cycles)
                continue
            critical[key] = critical.get(key, 0.0) + float(cycles)
        stuck = deadlocked and bool(record.fifo_growth)  # the kernels whose FIFOs had to grow
        out[kept[record.id]] = KernelFeedback(float(record.cycles - record.launch_cycles), stuck, busy, critical, stage_critical)
    return out


# ---------------------------------------------------------------------------------------------
# The cycle-driven placement loop (rdu-place{objective=cycles}).
#
# What the event simulator charges a stream for is its route between stage heads (the producer's
# first unit and each consumer stage's first unit): the hops and die crossings of that route are
# latency every tile pays, and the links it shares are bandwidth it queues for. On the bundled
# kernels the wirelength placement leaves the critical path ~10% in streams, and nearly all of it
# route latency (long AGCU-to-centre routes, die crossings at 20 cycles each), so the weighting is
# timing-driven first: every stream ever seen on a simulated critical path (of any candidate, so a
# path once shortened cannot simply come back) gets a heavy head net; traffic (the cycles a stream
# holds its route, what it loads onto shared links) adds a lighter one to every stream.

TRAFFIC_SHARE = 1.0  # head nets' traffic part, in total, relative to the base nets' total weight
CRITICAL_WEIGHT = 64.0  # a critical stream's head net, in mean base-net weights (16: about half the gain on llama)
ROUND_SHARE = 0.5  # of a kernel's wirelength budget, for each re-placement



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
                   criticality: dict[StreamKey, float]):
    """The kernel's netlist plus one head net per stream: its traffic's share of `TRAFFIC_SHARE` x
    the base nets' total weight, plus `CRITICAL_WEIGHT` mean base-net weights x its criticality
    (0 or 1: `add_criticality`)."""
    from backend_rdu.placement import Net, Netlist

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
        weight = round(traffic + CRITICAL_WEIGHT * mean * criticality.get(stream, 0.0), 3)
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


def place_for_cycles(module: ModuleOp, chip, distinct: dict, placed: dict, budgets: dict, run_placer,
                     rounds: int) -> tuple[dict, dict[tuple, list[tuple[str, object]]], dict[tuple, str]]:
    """Per distinct kernel (signature -> kernel), the placement with the fewest simulated body
    cycles among: the wirelength placement (`placed`), the greedy one, and `rounds` re-placements
    of the fastest so far under timing-driven head nets (`timing_netlist`, `run_placer(problem,
    seconds, netlist, start=...)` with `ROUND_SHARE` of the kernel's budget). The wirelength
    placement is a candidate, so the result is never slower than it; ties keep the earlier
    candidate. Returns (sites per signature, each signature's trail of (label, body cycles or
    "unroutable"), the label kept)."""
    from backend_rdu.kernel_signature import kernel_signature
    from backend_rdu.place_pass import greedy_sites, kernel_nets, site_array
    from backend_rdu.placement import PlacementProblem
    from backend_rdu.routing.errors import RoutingError

    index_of: dict[tuple, int] = {}
    for k, kernel in enumerate(rdu.kernels(module)):
        index_of.setdefault(kernel_signature(kernel), k)
    criticality: dict[tuple, dict[StreamKey, float]] = {sig: {} for sig in distinct}
    trail: dict[tuple, list[tuple[str, object]]] = {sig: [] for sig in distinct}
    best: dict[tuple, Candidate] = {}

    def keep(candidate: dict, label: str) -> None:
        try:
            feedback = simulate_placement(module, {index_of[sig]: sites for sig, sites in candidate.items()})
        except RoutingError:  # a candidate the mesh cannot route is no candidate
            for sig in candidate:
                trail[sig].append((label, "unroutable"))
            return
        for sig, sites in candidate.items():
            fb = feedback[index_of[sig]]
            trail[sig].append((label, round(fb.body)))
            add_criticality(criticality[sig], fb)
            if sig not in best or fb.score < best[sig].feedback.score:
                best[sig] = Candidate(sites, fb, label)

    keep(placed, "wirelength")  # routed by the compile anyway: it cannot be unroutable here
    keep({sig: greedy_sites(kernel, chip) for sig, kernel in distinct.items()}, "greedy")
    for r in range(rounds):
        candidate = {}
        for sig, kernel in distinct.items():
            netlist, names, streams = kernel_nets(kernel)
            weighted = timing_netlist(netlist, names, streams, best[sig].feedback, criticality[sig])
            problem = PlacementProblem.build(chip, weighted)
            result = run_placer(problem, ROUND_SHARE * budgets[sig], weighted,
                                start=site_array(problem, names, best[sig].sites))
            positions = result.positions
            candidate[sig] = [[positions[name] for name in group] for group in names]
        keep(candidate, f"round {r + 1}")
    return {sig: c.sites for sig, c in best.items()}, trail, {sig: c.label for sig, c in best.items()}
