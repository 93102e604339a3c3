"""Name the wait-for cycle of a kernel whose event queue ran dry with work left.

Every unfinished stage is then blocked: on data (it waits for a tile its producer has not sent) or
on a credit (its destination's FIFO is full and that destination has not popped). Following
"waits for" from any unfinished stage must come back to a stage already seen; that loop is the
deadlock, reported on one line by stage, unit site and stream with each FIFO's occupancy.
"""

from __future__ import annotations

from functional_sim.errors import SimulationError
from functional_sim.event_graph import KernelGraph


def _stage(g: KernelGraph, i: int) -> str:
    sites = g.stage_sites[i]
    where = f"{g.stage_units[i]} ({sites[0][0]}, {sites[0][1]})" if sites else g.stage_units[i]
    more = f" +{len(sites) - 1}" if len(sites) > 1 else ""
    return f"stage {g.stage_names[i]!r} (id {g.stage_ids[i]}, {where}{more})"


def wait_cycle(g: KernelGraph, unfinished: list[int], blocked: list[tuple[str, int] | None]) -> list[int]:
    """The stages of a wait-for loop reached from the first unfinished stage, in waiting order."""
    def waits_for(i: int) -> int | None:
        b = blocked[i]
        if b is None:
            return None
        kind, e = b
        return g.stream_src[g.edge_stream[e]] if kind == "data" else g.edge_dst[e]

    seen: dict[int, int] = {}
    path: list[int] = []
    i: int | None = unfinished[0]
    while i is not None and i not in seen:
        seen[i] = len(path)
        path.append(i)
        i = waits_for(i)
    return path[seen[i]:] if i is not None else path


def deadlock_error(g: KernelGraph, kernel: str, unfinished: list[int], blocked: list[tuple[str, int] | None],
                   arrivals: list[list[float]], pops: list[list[float]]) -> SimulationError:
    cycle = wait_cycle(g, unfinished, blocked)
    parts = []
    for s in cycle:
        kind, e = blocked[s] or ("?", -1)
        held = len(arrivals[e]) - len(pops[e]) if e >= 0 else 0
        fifo = f"stream {g.stream_ids[g.edge_stream[e]]} FIFO {held}/{g.edge_capacity[e]} tiles"
        if kind == "data":
            parts.append(f"{_stage(g, s)} waits for a tile on {fifo} "
                         f"(has {len(pops[e])} of {g.edge_tiles[e]})")
        else:
            parts.append(f"{_stage(g, s)} waits for a credit on {fifo} to {g.stage_names[g.edge_dst[e]]!r}")
    where = f"kernel {kernel!r}" if kernel else "a kernel"
    return SimulationError(f"deadlock in {where}: " + "; ".join(parts) + " (a FIFO on a reconvergent path is too shallow)")
