"""What a placement costs in simulated cycles, per kernel and per stream: the cycle-driven placer's feedback.

`rdu-place{objective=cycles}` needs to know, for a candidate placement, how many cycles each kernel
takes once its streams are routed and share the mesh's links, and which streams hold the kernel's
critical path. This module is the one narrow call from the compiler into the simulator: it routes,
sizes FIFOs for the routes and sections a copy of the module with the candidate sites, emits its bitstream and runs the
discrete-event timing (`functional_sim.simulate(..., execute=False)`: nothing is computed, tiles
move through bounded FIFOs and share link and memory bandwidth). The module itself is not touched.

`backend_rdu.cycle_placement.place_for_cycles` is the loop that uses it: candidates (the wirelength
placement, the greedy one, re-placements with timing-driven head nets) are simulated, and each
kernel keeps its fastest.

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
    link_wait: dict[StreamKey, float] = field(default_factory=dict)  # a stream's critical cycles that shared links added
    link_rivals: dict[StreamKey, tuple[StreamKey, ...]] = field(default_factory=dict)  # per waiting stream: the others on its shared links
    tier_wait: float = 0.0  # critical cycles waiting for a shared tier's bandwidth (a memory tier all loads and stores share; a collective's peer links)

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
        busy, critical, stage_critical, link_wait, rivals, tier_wait = {}, {}, {}, {}, {}, 0.0
        for x, cycles in run.link_wait.items():  # congestion: who waited, and with whom it shared the links
            key = stream_of[g.stream_ids[x]][1:]
            link_wait[key] = link_wait.get(key, 0.0) + float(cycles)
            mine = {r for r, _ in g.stream_shared[x]}
            rivals[key] = tuple(sorted({stream_of[g.stream_ids[y]][1:] for y in range(len(g.stream_ids))
                                        if y != x and mine.intersection(r for r, _ in g.stream_shared[y])}))
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
                elif kind == "resource":
                    tier_wait += float(cycles)
                continue
            critical[key] = critical.get(key, 0.0) + float(cycles)
        stuck = deadlocked and bool(record.fifo_growth)  # the kernels whose FIFOs had to grow
        out[kept[record.id]] = KernelFeedback(float(record.cycles - record.launch_cycles), stuck, busy, critical, stage_critical,
                                           link_wait, rivals, tier_wait)
    return out
