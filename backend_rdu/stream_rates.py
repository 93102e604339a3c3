"""Each stream's bandwidth demand, in full-rate streams, from the kernel's stage throughput: what
rdu-route tells the router a flow carries (`Stream.rate`) and records on the route
(`#rdu.route<vector, rate R, ...>`).

A kernel's stages run as one pipeline, paced by the slowest of its stages and its memory tiers:
rdu-allocate-units' own estimate (`passes.allocate_units.kernel_pace`: its slowest PCU stage, its
tiers' bytes at their bandwidth), or a PMU or AGCU stage if one is slower still (each at
`single_unit_cycles` over its units). Taking the slowest keeps a memory-bound kernel's streams at
the fraction of a link they can fill, not at a full link the kernel never feeds. A stream moves its value's bytes during that
pace, over its parallel paths (`dialects.rdu.stream_paths`: min(producer units, largest reader's
units), each a link's rate, as the event engine and rdu-size-fifos-for-routes count them), so on each link of its head route it
asks for

    rate = bytes / (link bytes per cycle x paths) / pace          (at most 1, at least RATE_FLOOR)

of one full-rate stream. A stream as fast as the pace (an elementwise branch of a pipeline its
slowest stage does not starve) is 1; a slow one (a small load, a reduction's output) a fraction,
so the router lets such flows share a link without a detour, and a link is over its bandwidth
only where the flows on it really ask for more than it carries. Before wave 11 every flow was 1:
on the join kernels of bench/link_heavy.py, 24 branches at 0.755 each, the router saw the join's
four incoming links 8 streams over whichever way the flows came in (so any split was as good),
while with the rates 7/7/5/5 flows per link are 2.6 over and 6/6/6/6 are 2.1 over: an even
ingress now costs less, which is what the cycle placer's `spread_heads` places for (the router
alone cannot reach it there: a flow moved to a lighter incoming link crosses other loaded links
on the way, so no single reroute lowers the total excess).

Rates are quantised up to `RATE_QUANTUM` (thousandths) so the printed IR is short and exact.
"""

from __future__ import annotations

from math import ceil

from chip_model import ChipSpec
from dialects import rdu
from dialects.types import value_bytes

RATE_QUANTUM = 1e-3  # rates are rounded up to thousandths of a full-rate stream
RATE_FLOOR = RATE_QUANTUM  # the router needs a positive demand; a flow of no bytes still takes a table entry


def kernel_pace(kernel: rdu.KernelOp, chip: ChipSpec) -> float:
    """Cycles per pass of the pipeline: the slowest of rdu-allocate-units' estimate (PCUs and memory
    tiers) and every stage's work on one unit over its units."""
    from passes.allocate_units import kernel_pace as allocated_pace, single_unit_cycles

    stages = kernel.stages()
    slowest_stage = max((single_unit_cycles(s, chip) / max(1, s.unit_count) for s in stages), default=0.0)
    return max(allocated_pace(stages, chip, {}), slowest_stage)


def quantise(rate: float) -> float:
    """Up to the next `RATE_QUANTUM`, within [RATE_FLOOR, 1]."""
    steps = round(1 / RATE_QUANTUM)
    return min(1.0, max(RATE_FLOOR, ceil(rate * steps - 1e-9) / steps))  # k / 1000 prints as 0.009, not 0.009000000000000001


def stream_rate(stage: rdu.StageOp, port: int, pace: float, chip: ChipSpec) -> float:
    """Output `port` of `stage`: its bytes over its paths at the link's rate, per cycle of `pace`."""
    result = stage.results[port]
    readers = stage.consumers(result)
    if not readers or pace <= 0:
        return 1.0
    paths = rdu.stream_paths(stage, readers)
    link = chip.network.vector_link_bytes_per_cycle  # every routed stream is a vector flow (rdu-route)
    return quantise(value_bytes(result.type) / (link * paths) / pace)


def stream_rates(kernel: rdu.KernelOp, chip: ChipSpec) -> list[list[float]]:
    """Per stage, per output stream: its rate in full-rate streams (`stream_rate`)."""
    pace = kernel_pace(kernel, chip)
    return [[stream_rate(stage, j, pace, chip) for j in range(len(stage.results))] for stage in kernel.stages()]
