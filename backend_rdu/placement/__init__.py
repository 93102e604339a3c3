"""Placement of a configuration's units (PCU, PMU, AGCU) onto sites of their kind.

    netlist = Netlist.from_json({"units": [...], "nets": [...]})   # or load_netlist(path)
    result = place(PlacementProblem.build("sn40l", netlist), seconds=10, seed=0)
    result.positions, result.wirelength, result.lower_bound, result.gap, result.to_json()

    place_netlist(netlist_json, "sn40l", seconds=10, seed=0)  # the `rducc place --json` dict
"""

from backend_rdu.placement.annealing import anneal_baseline, random_placement
from backend_rdu.placement.errors import NetlistError, PlacementError
from backend_rdu.placement.netlist import Net, Netlist, Unit, load_netlist
from backend_rdu.placement.placer import DEFAULT_SECONDS, PlacementResult, place, place_netlist
from backend_rdu.placement.problem import PlacementProblem
from backend_rdu.placement.synthetic import HiddenOptimum, hidden_optimum_netlist
from backend_rdu.placement.wirelength import net_hpwl, wirelength, wirelength_lower_bound

__all__ = [
    "DEFAULT_SECONDS",
    "HiddenOptimum",
    "Net",
    "Netlist",
    "NetlistError",
    "PlacementError",
    "PlacementProblem",
    "PlacementResult",
    "Unit",
    "anneal_baseline",
    "hidden_optimum_netlist",
    "load_netlist",
    "net_hpwl",
    "place",
    "place_netlist",
    "random_placement",
    "wirelength",
    "wirelength_lower_bound",
]
