"""Each stream's bandwidth demand, in full-rate streams, from the kernel's stage throughput: what
rdu-route tells the router a flow carries (`Stream.rate`) and records on the route
(`#rdu.route<vector, rate R, ...>`).

A kernel's stages run as one pipeline, paced by its slowest stage: the balance rdu-allocate-units
struck (`passes.allocate_units.single_unit_cycles` over each stage's units; the same model, so the
router's demand is the pace the units were sized for). A stream moves its value's bytes during that
pace, over its parallel paths (min(producer units, largest reader's units), each a link's rate, as
the event engine and rdu-size-fifos-for-routes count them), so on each link of its head route it
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

Rates are quantised up to `RATE_QUANTUM` so the printed IR is short and exact.
"""

from __future__ import annotations

from math import ceil

from chip_model import ChipSpec
from dialects import rdu
from dialects.types import value_bytes

RATE_QUANTUM = 1e-3  # rates are rounded up to thousandths of a full-rate stream
RATE_FLOOR = RATE_QUANTUM  # the router needs a positive demand; a flow of no bytes still takes a table entry


def kernel_pace(kernel: rdu.KernelOp, chip: ChipSpec) -> float:
    """Cycles of the kernel's slowest stage: its work on one unit over its units (the balance of
    rdu-allocate-units), the pipeline's pace."""
    from passes.allocate_units import single_unit_cycles

    return max((single_unit_cycles(s, chip) / max(1, s.unit_count) for s in kernel.stages()), default=0.0)


def quantise(rate: float) -> float:
    """Up to the next `RATE_QUANTUM`, within [RATE_FLOOR, 1]."""
    return min(1.0, max(RATE_FLOOR, ceil(rate / RATE_QUANTUM - 1e-9) * RATE_QUANTUM))


def stream_rate(stage: rdu.StageOp, port: int, pace: float, chip: ChipSpec) -> float:
    """Output `port` of `stage`: its bytes over its paths at the link's rate, per cycle of `pace`."""
    result = stage.results[port]
    readers = stage.consumers(result)
    if not readers or pace <= 0:
        return 1.0
    paths = max(1, min(stage.unit_count, max(c.unit_count for c in readers)))
    link = chip.network.vector_link_bytes_per_cycle  # every routed stream is a vector flow (rdu-route)
    return quantise(value_bytes(result.type) / (link * paths) / pace)


def stream_rates(kernel: rdu.KernelOp, chip: ChipSpec) -> list[list[float]]:
    """Per stage, per output stream: its rate in full-rate streams (`stream_rate`)."""
    pace = kernel_pace(kernel, chip)
    return [[stream_rate(stage, j, pace, chip) for j in range(len(stage.results))] for stage in kernel.stages()]
