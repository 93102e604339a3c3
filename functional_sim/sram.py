"""PMU scratchpads as real memory: one byte array per PMU site, bounded by the chip's SRAM size.

A buffer's tiles are written into, and read back from, the addresses its tile program gives, so a
wrong address, stride or slot count changes the bytes that come out (or is stopped here when it
leaves the PMU). The array grows to the highest address touched, so an idle 500 KB PMU costs
nothing. Contents survive from kernel to kernel, as SRAM does; nothing may rely on that.
"""

from __future__ import annotations

import numpy as np

from functional_sim.errors import SimulationError


class Scratchpad:
    """One PMU's SRAM: `capacity` bytes at addresses [0, capacity)."""

    def __init__(self, site: tuple[int, int], capacity: int) -> None:
        self.site = site
        self.capacity = capacity
        self.data = np.zeros(0, np.uint8)

    def reserve(self, end: int, what: str) -> np.ndarray:
        """The byte array, grown to hold address `end - 1`; an error past the PMU's capacity."""
        if end > self.capacity:
            raise SimulationError(f"{what} addresses byte {end - 1} of PMU {self.site}, which holds {self.capacity} bytes")
        if end > len(self.data):
            grown = np.zeros(max(end, min(self.capacity, 2 * len(self.data))), np.uint8)
            grown[: len(self.data)] = self.data
            self.data = grown
        return self.data


class SramBank:
    """Every PMU's scratchpad, created when first addressed."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.pads: dict[tuple[int, int], Scratchpad] = {}

    def pad(self, site: tuple[int, int]) -> Scratchpad:
        site = (int(site[0]), int(site[1]))
        if site not in self.pads:
            self.pads[site] = Scratchpad(site, self.capacity)
        return self.pads[site]
