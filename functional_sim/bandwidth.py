"""A shared resource (a routed link, a memory tier) as bandwidth per time window.

Each resource has `WINDOW` cycles of occupancy to give in every window of `WINDOW` cycles. A
transfer asking at time `t` for `occ` cycles takes the free capacity of the window holding `t`
and spills into later windows; it finishes where the capacity it took ends (and never before
`t + occ`). Two users of a resource therefore share its bandwidth, and unlike a single "free at"
pointer, a request for an earlier time is not queued behind reservations already made for later
times, so the engine may compute a stage's steps in batches ahead of other stages (the order of
requests inside one window is what batching can change: at most one window's worth of delay).
"""

from __future__ import annotations

WINDOW = 64.0


def reserve(used: dict[int, float], t: float, occ: float) -> float:
    """Take `occ` cycles of the resource from time `t` on; return when the transfer finishes."""
    w = int(t // WINDOW)
    remaining = occ
    end = t + occ
    while True:
        have = used.get(w, 0.0)
        room = WINDOW - have
        if room > 1e-12:
            take = remaining if remaining < room else room
            used[w] = have + take
            remaining -= take
            if remaining <= 1e-12:
                finish = w * WINDOW + have + take
                return finish if finish > end else end
        w += 1
