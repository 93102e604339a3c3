"""Synthetic netlists with a known optimum, for benchmarks and tests.

A connected patch of sites is grown on the chip (random frontier growth from near the centre),
a unit is hidden on every site of the patch, and a unit-weight 2-pin net joins every pair of units
on 4-neighbouring sites. Every net joins two distinct units, so it costs at least 1 in any
placement, and the hidden placement makes each cost exactly 1: the optimum wirelength is the
number of nets. Unit names and net order are shuffled so nothing leaks the hidden answer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chip_model import ChipSpec, load_chip

from backend_rdu.placement.netlist import Net, Netlist, Unit


@dataclass(frozen=True)
class HiddenOptimum:
    netlist: Netlist
    optimum: int
    positions: dict[str, tuple[int, int]]  # the hidden placement that achieves `optimum`


def hidden_optimum_netlist(
    chip: ChipSpec | str, num_units: int, seed: int = 0, net_fraction: float = 1.0
) -> HiddenOptimum:
    """`num_units` units hidden on a connected patch, a net for every neighbouring pair (or for a
    random `net_fraction` of them: sparser netlists are less rigid, so harder to rebuild)."""
    chip = load_chip(chip) if isinstance(chip, str) else chip
    sites = {(s.x, s.y): s for s in chip.grid.sites}
    if not 1 <= num_units <= len(sites):
        raise ValueError(f"num_units must be in 1..{len(sites)} for chip {chip.name!r}, got {num_units}")
    rng = np.random.default_rng(seed)
    patch = _grow_patch(chip, sites, num_units, rng)

    names = [f"u{i}" for i in rng.permutation(num_units)]
    name_at = dict(zip(patch, names))
    units = [Unit(name_at[p], sites[p].kind) for p in patch]
    units = [units[i] for i in rng.permutation(num_units)]
    nets = []
    for (x, y) in patch:
        for q in ((x + 1, y), (x, y + 1)):
            if q in name_at and (net_fraction >= 1.0 or rng.random() < net_fraction):
                nets.append(Net((name_at[(x, y)], name_at[q]), 1))
    nets = [nets[i] for i in rng.permutation(len(nets))]
    if not nets and num_units > 1:
        raise ValueError("net_fraction left no net")
    return HiddenOptimum(Netlist(tuple(units), tuple(nets)), len(nets), {name_at[p]: p for p in patch})


def _grow_patch(chip: ChipSpec, sites: dict, count: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """Random frontier growth (Eden model): a compact, connected, irregular blob of sites."""
    cx, cy = chip.grid.columns / 2, chip.grid.rows / 2
    start = min(sites, key=lambda p: (abs(p[0] - cx) + abs(p[1] - cy), p))
    patch, inside = [start], {start}
    frontier: list[tuple[int, int]] = []
    in_frontier: set[tuple[int, int]] = set()

    def extend(p: tuple[int, int]) -> None:
        x, y = p
        for q in ((x + 1, y), (x - 1, y), (x, y + 1), (x, y - 1)):
            if q in sites and q not in inside and q not in in_frontier:
                frontier.append(q)
                in_frontier.add(q)

    extend(start)
    while len(patch) < count:
        if not frontier:
            raise ValueError(f"chip {chip.name!r}: no connected patch of {count} sites")
        i = int(rng.integers(len(frontier)))
        frontier[i], frontier[-1] = frontier[-1], frontier[i]
        p = frontier.pop()
        in_frontier.discard(p)
        patch.append(p)
        inside.add(p)
        extend(p)
    return patch
