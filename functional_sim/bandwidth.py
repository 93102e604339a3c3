"""A shared resource (a routed link, a memory tier) as bandwidth per time window.

Each resource has `window` cycles of occupancy to give in every window of `window` cycles. A
transfer asking at time `t` for `occ` cycles takes the free capacity of the window holding `t`
and spills into later windows; it finishes where the capacity it took ends (and never before
`t + occ`). Two users of a resource therefore share its bandwidth, and unlike a single "free at"
pointer, a request for an earlier time is not queued behind reservations already made for later
times, so the engine may compute a stage's steps in batches ahead of other stages (on a link, the
order of requests inside one window is what batching can change: at most one window's worth of
delay; a memory tier that several AGCUs share is booked in the clock's order instead,
`event_engine.tier_shared`, because batches booked ahead there took windows from other AGCUs'
earlier requests: +1.6% to +4.4% on decode kernels).

Full windows are skipped with a union-find ("next window with room"), so a resource booked far
ahead costs nearly nothing per request. A memory tier's window is `MIN_WINDOW` cycles or the
largest tile occupancy among its users, whichever is larger; a link's is `MIN_WINDOW` (64 cycles).

A routed link is such a resource too, but its users are flows, each injecting at most one
stream's rate (`flow`): the link's bandwidth is `width` full-rate streams (`network.vector_tracks`),
and a flow's tile takes its part of each window only while it is in flight, at most `1/width` of
the link per cycle. So flows whose rates add up to at most the link's bandwidth never delay one
another (each finishes exactly when it would alone), and beyond it a window's capacity is handed
out packet-by-packet in booking order: the later flows' tiles spill into later windows, which is
the slowdown the link charges (docs/simulator.md, "Links are shared by flows").

The resource itself serves requests in the order they are booked. Which request a memory tier
serves first when several want the same windows is the engine's arbitration
(`event_engine.tier_horizon`, docs/simulator.md "Memory tiers serve the earliest reader first"):
it books a lower-priority load only once no higher-priority request can still ask for those
windows, using `finish` to see where a request would end without booking it.
"""

from __future__ import annotations

MIN_WINDOW = 64.0
EPS = 1e-9


class Bandwidth:
    __slots__ = ("window", "used", "skip", "busy")

    def __init__(self, window: float = MIN_WINDOW) -> None:
        self.window = window
        self.used: dict[int, float] = {}  # window index -> occupancy taken
        self.skip: dict[int, int] = {}  # full window -> a later window that may have room
        self.busy = 0.0

    def _room(self, w: int) -> int:
        skip = self.skip
        root = w
        while root in skip:
            root = skip[root]
        while w in skip and skip[w] != root:  # path compression
            skip[w], w = root, skip[w]
        return root

    def finish(self, t: float, occ: float) -> float:
        """When a transfer of `occ` cycles asked for at `t` would finish, without taking anything."""
        size, used = self.window, self.used
        w = int(t // size)
        if w in self.skip:
            w = self._room(w)
        remaining, end = occ, t + occ
        while True:  # reserve's walk, taking nothing
            have = used.get(w, 0.0)
            room = size - have
            take = room if room < remaining else remaining
            remaining -= take
            if remaining <= EPS:
                finish = w * size + have + take
                return finish if finish > end else end
            w = self._room(w + 1)

    def flow(self, t: float, cost: float, cap: float) -> float:
        """A flow's tile: take `cost` of the resource from `t` on, at most `cap` per cycle (one
        stream's rate as a part of the link's bandwidth); return when the tile is through. Alone, or
        while the link has room, that is exactly `t + cost / cap`, the tile's own transfer time."""
        self.busy += cost
        size, used = self.window, self.used
        w = int(t // size)
        if w in self.skip:
            w = self._room(w)
        remaining, alone = cost, t + cost / cap
        while True:
            start = t if t > w * size else w * size
            have = used.get(w, 0.0)
            room = size - have
            limit = ((w + 1) * size - start) * cap  # what the flow can inject in the rest of the window
            want = limit if limit < remaining else remaining
            take = room if room < want - EPS else want  # other flows hold the window: the tile falls behind
            used[w] = have + take
            remaining -= take
            if have + take >= size - EPS:
                self.skip[w] = w + 1
            if remaining <= EPS:
                # the last part leaves at the flow's rate from where it could start in its window, which
                # is later than alone when a window was squeezed or skipped because others filled it
                end = start + take / cap
                return end if end > alone + EPS else alone
            w = self._room(w + 1)

    def reserve(self, t: float, occ: float) -> float:
        """Take `occ` cycles of the resource from time `t` on; return when the transfer finishes."""
        self.busy += occ
        size, used = self.window, self.used
        w = int(t // size)
        if w in self.skip:
            w = self._room(w)
        remaining, end = occ, t + occ
        while True:
            have = used.get(w, 0.0)
            room = size - have
            take = room if room < remaining else remaining
            used[w] = have + take
            remaining -= take
            if have + take >= size - EPS:
                self.skip[w] = w + 1
            if remaining <= EPS:
                finish = w * size + have + take
                return finish if finish > end else end
            w = self._room(w + 1)
