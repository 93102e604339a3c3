"""A fast, legal, locality-aware first placement of every kernel's stages.

Stages are taken in dataflow order; each takes the free sites of its kind nearest to the units
that feed it (loads start from the AGCUs nearest the grid's centre). `rdu-place{greedy=true}`
uses it instead of the CP-SAT placer: instant, legal, and a baseline for the placer.
"""

from __future__ import annotations

from chip_model import ChipSpec
from dialects import rdu


def _distance(a: tuple[float, float], b: tuple[int, int]) -> float:
    return abs(a[0] - b[0]) + abs(a[1] - b[1])


def place_kernel_greedy(kernel: rdu.KernelOp, chip: ChipSpec) -> dict[rdu.StageOp, list[tuple[int, int]]]:
    centre = ((chip.grid.columns - 1) / 2, (chip.grid.rows - 1) / 2)
    free = {kind: {(s.x, s.y) for s in sites} for kind, sites in chip.sites_by_kind.items()}
    placed: dict[rdu.StageOp, list[tuple[int, int]]] = {}
    site_of_value: dict = {}
    for stage in kernel.stages():
        feeders = [site for v in stage.operands if v in site_of_value for site in site_of_value[v]]
        if feeders:
            anchor = (sum(x for x, _ in feeders) / len(feeders), sum(y for _, y in feeders) / len(feeders))
        else:
            anchor = centre
        pool = free[stage.unit_kind]
        if len(pool) < stage.unit_count:
            raise ValueError(f"kernel {kernel.sym_name.data}: not enough free {stage.unit_kind} sites")
        chosen = sorted(pool, key=lambda s: (_distance(anchor, s), s[1], s[0]))[: stage.unit_count]
        pool.difference_update(chosen)
        placed[stage] = chosen
        for result in stage.results:
            site_of_value[result] = chosen
    return placed
