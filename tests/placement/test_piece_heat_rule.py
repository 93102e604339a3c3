"""The pieces of the small-kernel long run are lifted to the spread of random moves' deltas
(`placer.PIECE_HEAT_FLOOR`) only on netlists whose nets are all compact (`placer.heat_floor_suits`):
at most COMPACT_NET_PINS pins a net. A netlist with a wider net runs its pieces at the heat the
temperature trials chose, exactly as before the rule (mixtral, attention: docs/placement.md, wave 12)."""

import numpy as np
import pytest

from backend_rdu.placement import placer
from backend_rdu.placement.generators import generate
from backend_rdu.placement.netlist import Net, Netlist, Unit
from backend_rdu.placement.placer import heat_floor_suits, place
from backend_rdu.placement.problem import PlacementProblem


def _chain(units: int, wide: int = 0) -> PlacementProblem:
    """A chain of 2-pin nets over `units` PCUs and PMUs, and with `wide` > 0 one more net joining
    the first `wide` units (a fan-out like mixtral's 84-pin nets)."""
    names = [f"u{i}" for i in range(units)]
    nets = [Net((names[i], names[i + 1])) for i in range(units - 1)]
    if wide:
        nets.append(Net(tuple(names[:wide])))
    netlist = Netlist(tuple(Unit(n, "pcu" if i % 2 else "pmu") for i, n in enumerate(names)), tuple(nets))
    return PlacementProblem.build("sn40l", netlist)


@pytest.mark.parametrize("wide, suits", [(0, True), (placer.COMPACT_NET_PINS, True),
                                         (placer.COMPACT_NET_PINS + 1, False), (84, False)])
def test_the_floor_suits_only_netlists_of_compact_nets(wide, suits):
    assert heat_floor_suits(_chain(100, wide)) is suits


def test_a_netlist_without_nets_gets_no_floor():
    netlist = Netlist((Unit("a", "pcu"), Unit("b", "pmu")), ())
    assert heat_floor_suits(PlacementProblem.build("sn40l", netlist)) is False


def _phases(result):
    trials = next(ph for ph in result.stats["phases"] if ph["phase"] == "temperature trials")
    pieces = next(ph for ph in result.stats["phases"] if ph["phase"] == "anneal 1")
    return trials, pieces


def test_by_default_compact_nets_lift_the_pieces_to_the_spread():
    problem = PlacementProblem.build("sn40l", generate("clustered", "sn40l", 150, seed=4).netlist)
    assert heat_floor_suits(problem)
    trials, pieces = _phases(place(problem, seconds=0.5, seed=2, wall_limit=600.0))
    assert pieces["heat"] > trials["chosen"]  # the trials chose below the spread; the floor lifts them


def test_a_wide_net_keeps_the_default_path_bit_for_bit(monkeypatch):
    """On a netlist the rule does not select, the run is the one with the floor off everywhere:
    same heat, same placement, same budget spent (no spread sampled)."""
    base = generate("clustered", "sn40l", 150, seed=4).netlist
    wide = Net(tuple(u.name for u in base.units[:placer.COMPACT_NET_PINS + 3]))
    problem = PlacementProblem.build("sn40l", Netlist(base.units, base.nets + (wide,)))
    assert not heat_floor_suits(problem)
    ruled = place(problem, seconds=0.5, seed=0, wall_limit=600.0)
    monkeypatch.setattr(placer, "PIECE_HEAT_FLOOR", 0.0)
    off = place(problem, seconds=0.5, seed=0, wall_limit=600.0)
    trials, pieces = _phases(ruled)
    assert pieces["heat"] == trials["chosen"]
    assert np.array_equal(ruled.site_of_unit, off.site_of_unit)
    assert ruled.stats["budget_used_estimate"] == off.stats["budget_used_estimate"]
    assert [s["t_start"] for s in ruled.stats["anneal"]] == [s["t_start"] for s in off.stats["anneal"]]
    # and it is the rule that keeps the heat: selected, the same run's pieces would be lifted
    monkeypatch.setattr(placer, "PIECE_HEAT_FLOOR", 1.0)
    monkeypatch.setattr(placer, "heat_floor_suits", lambda problem: True)
    trials, pieces = _phases(place(problem, seconds=0.5, seed=0, wall_limit=600.0))
    assert pieces["heat"] > trials["chosen"]  # seed 0's trials choose 2x, below the spread (~75x)
