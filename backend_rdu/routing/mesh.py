"""The on-chip mesh as arrays: a switch at every grid point, directed links between 4-neighbours.

Each network (vector, scalar) is a separate set of links and switches. Both are packet-switched
(the paper: "Vector and scalar: packet-switched, credit flow control at every hop"): a link carries
any number of flows, and its bandwidth, `bandwidth(network)` full-rate streams (the spec's
`*_tracks`), is shared by them; a switch forwards a flow by its routing-table entry ("static 'flow
ID' routes ... Place-and-route sets the routing tables"), and its table holds
`route_table_entries` flows per network. A link's latency is the hop latency, plus the die
crossing latency if it joins rows on two dies. Switch `s` is at (s // rows, s % rows); link
`4 * s + d` leaves switch `s` in direction d (+x, -x, +y, -y).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from chip_model import ChipSpec

NETWORKS = ("vector", "scalar")
STEPS = ((1, 0), (-1, 0), (0, 1), (0, -1))


@dataclass(frozen=True, eq=False)
class Mesh:
    chip: ChipSpec

    @cached_property
    def columns(self) -> int:
        return self.chip.grid.columns

    @cached_property
    def rows(self) -> int:
        return self.chip.grid.rows

    @property
    def num_switches(self) -> int:
        return self.columns * self.rows

    def switch(self, x: int, y: int) -> int:
        return x * self.rows + y

    def xy(self, switch: int) -> tuple[int, int]:
        return divmod(switch, self.rows)

    @cached_property
    def link_to(self) -> np.ndarray:
        """Switch each link enters, -1 where the grid ends."""
        to = np.full(4 * self.num_switches, -1, dtype=np.int64)
        for s in range(self.num_switches):
            x, y = self.xy(s)
            for d, (dx, dy) in enumerate(STEPS):
                if 0 <= x + dx < self.columns and 0 <= y + dy < self.rows:
                    to[4 * s + d] = self.switch(x + dx, y + dy)
        return to

    @cached_property
    def out_links(self) -> list[list[tuple[int, int]]]:
        """Per switch, (link, next switch) for every link leaving it."""
        return [[(4 * s + d, int(self.link_to[4 * s + d])) for d in range(4) if self.link_to[4 * s + d] >= 0]
                for s in range(self.num_switches)]

    @cached_property
    def crosses_die(self) -> np.ndarray:
        rows_of = np.arange(4 * self.num_switches) // 4 % self.rows
        die_rows = self.chip.grid.die_rows
        y_to = np.where(self.link_to >= 0, self.link_to % self.rows, rows_of)
        return (self.link_to >= 0) & (rows_of // die_rows != y_to // die_rows)

    @cached_property
    def latency(self) -> np.ndarray:
        """Cycles to cross each link."""
        net = self.chip.network
        return net.hop_latency_cycles + np.where(self.crosses_die, net.die_crossing_latency_cycles, 0)

    @cached_property
    def base_cost(self) -> np.ndarray:
        """Routing cost of a free link: its latency in hops (at least 1), so die crossings cost more."""
        return np.maximum(self.latency / max(self.chip.network.hop_latency_cycles, 1), 1.0)

    def bandwidth(self, network: str) -> int:
        """A link's bandwidth in full-rate streams: flows whose rates add up to this share it freely."""
        net = self.chip.network
        return net.vector_tracks if network == "vector" else net.scalar_tracks

    def table_entries(self) -> int:
        """Flows a switch's routing table holds, per network."""
        return self.chip.network.route_table_entries

    def link_name(self, link: int) -> str:
        (x0, y0), (x1, y1) = self.xy(link // 4), self.xy(int(self.link_to[link]))
        return f"({x0},{y0})->({x1},{y1})"

    def link_ends(self, link: int) -> tuple[tuple[int, int], tuple[int, int]]:
        return self.xy(link // 4), self.xy(int(self.link_to[link]))
