"""A generated netlist with some units pinned, for tests that a pass never moves a pinned unit."""

from __future__ import annotations

from backend_rdu.placement import Netlist, PlacementProblem
from backend_rdu.placement.generators import BenchNetlist, generate


def every_third_pinned(generator: str, num_units: int, seed: int) -> tuple[PlacementProblem, BenchNetlist]:
    """`generate(generator, "sn40l", num_units, seed)` with every third unit pinned to its hidden
    site (so the pinned units sit where the optimum has them and the rest can still improve)."""
    bench = generate(generator, "sn40l", num_units, seed=seed)
    data = bench.netlist.to_json()
    for unit in data["units"][::3]:
        unit["fixed"] = list(bench.positions[unit["name"]])
    return PlacementProblem.build("sn40l", Netlist.from_json(data)), bench
