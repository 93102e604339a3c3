"""The chain of steps, tiles and credits that set a kernel's finish time, and what each link of it cost.

The event run records, for every step of every stage, its start and what set that start: the
stage becoming free (its previous step), an input tile's arrival, a credit coming back from a
destination, or (AGCUs) its memory tier serving the step's bytes. Walking back from the step that
finished last, through whichever of those set each start, gives the critical path; its segments
telescope, so their cycles add up to the kernel body exactly:

* a stage's own step (its interval) and, at the end of a hop, its pipeline latency: `("stage", i)`;
* a tile's trip from the producer's pipeline to the consumer (queueing on the stream's path and
  on links it shares, its occupancy, the route latency): `("stream", s)`;
* a credit's trip back from the destination (backpressure: the FIFO was full), from the pop to
  the moment the path leaves the producer's step (its own interval and latency overlapped the
  trip and are not charged; where its latency hid more than the trip, the stage's share shrinks
  by the difference): `("credit", e)`, the path then goes on through the destination's steps;
* the wait for a memory tier's bandwidth: `("resource", r)`.

Given each stream's per-tile link delay (`link_delay`, from the engine: how much later a tile left
than it would have on links of its own), the part of a stream's segment that shared links added is
also reported as `("link", s)`, inside the stream's cycles, not beside them (the engine splits it off
as `KernelRun.link_wait`): what congestion costs the critical path, the cycle placer's signal.

The resource with the most cycles on the path is what bounds the kernel (`event_timing`). The walk
touches each step of the path once, so it costs no more than the run's own step count.
"""

from __future__ import annotations

from array import array
from typing import Sequence

from functional_sim.event_graph import KernelGraph

FREE = -1  # a step started when its stage became free
SHIFT = 40  # otherwise `edge << SHIFT | tile`: input edge e, or credit edge `len(edges) + e`, and the tile
TILE = (1 << SHIFT) - 1


def critical_path(g: KernelGraph, last: Sequence[float], start: Sequence[array], why: Sequence[array],
                  unserved: Sequence[array | None],
                  link_delay: Sequence[array | None] | None = None) -> dict[tuple[str, int], float]:
    """Cycles per resource on the critical path of a finished run (keys: ("stage", i),
    ("stream", s), ("credit", e), ("resource", r), and with `link_delay` ("link", s), the shared
    links' part of ("stream", s)); empty for a kernel without steps."""
    n = len(g.steps)
    if n == 0 or not any(len(x) for x in start):
        return {}
    n_edges = len(g.edge_tiles)
    cycles: dict[tuple[str, int], float] = {}

    def add(key: tuple[str, int], c: float) -> None:
        cycles[key] = cycles.get(key, 0.0) + c

    i = max((k for k in range(n) if len(start[k])), key=lambda k: last[k])
    j = len(start[i]) - 1
    t = start[i][j]
    # `pending`: the time from this step's start to the moment the path leaves it (its tile left,
    # its last tile came out, or it ended and freed the unit); charged to the stage unless a credit
    # set the step's start: then that moment was set by the credit's return, and the whole wait
    # since the destination's pop is the credit's (less any latency of the unit that hid more).
    pending = last[i] - t
    for _ in range(sum(len(x) for x in start) + 1):  # each step is visited at most once
        before = unserved[i]
        if before is not None and before[j] < t:
            add(("stage", i), pending)
            add(("resource", g.tier_of[i]), t - before[j])
            t, pending = before[j], 0.0
        code = why[i][j]
        w, k = (code >> SHIFT, code & TILE) if code != FREE else (FREE, 0)
        if w >= n_edges:  # a credit: back to the destination's step that popped the tile `capacity` places earlier
            e = w - n_edges
            d = g.edge_dst[e]
            jd = k * g.steps[d] // g.edge_tiles[e]
            td = start[d][jd]
            waited = t + pending - td
            add(("credit", e), max(waited, 0.0))
            add(("stage", i), min(waited, 0.0))  # the unit's latency hid more than the credit's trip
            i, j, t, pending = d, jd, td, 0.0
            continue
        add(("stage", i), pending)
        if w == FREE:  # the previous step's end: its interval is pending
            if j == 0:
                break
            prev = start[i][j - 1]
            j, t, pending = j - 1, prev, t - prev
        else:  # an input tile's arrival: back to the producer's step that sent it
            e = w
            s = g.edge_stream[e]
            p = g.stream_src[s]
            k -= g.edge_initial[e] if g.edge_initial else 0
            if k < 0:  # a tile the loop's caller bound before the run: the path starts here
                break
            jp = -(-(k + 1) * g.steps[p] // g.stream_tiles[s]) - 1
            tp = start[p][jp]
            out = tp + g.interval[p] + g.latency[p]
            add(("stream", s), t - out)
            delays = link_delay[s] if link_delay is not None else None
            if delays is not None and k < len(delays) and delays[k] > 0:
                add(("link", s), min(delays[k], max(t - out, 0.0)))
            i, j, t, pending = p, jp, tp, out - tp
    return cycles
