"""The compiled one-move-at-a-time annealer: exact incremental wirelength, legal moves, determinism
in moves, early stop at a bound, and that it anneals."""

from __future__ import annotations

import numpy as np
import pytest

from backend_rdu.placement import Netlist, PlacementProblem, net_hpwl, wirelength
from backend_rdu.placement.annealing import AnnealSchedule, anneal_baseline, random_placement
from backend_rdu.placement.generators import generate
from backend_rdu.placement.sequential_annealing import (
    CENTRE_PINS,
    SequentialAnnealer,
    all_boxes,
    compile_kernels,
    move_seconds,
)
from backend_rdu.placement.synthetic import hidden_optimum_netlist


def _with_wide_net_and_pins(generator: str, units: int, seed: int) -> PlacementProblem:
    """A generated netlist plus a net wider than CENTRE_PINS, AGCU units and a few pinned units:
    every path of the move and box code."""
    data = generate(generator, "sn40l", units, seed=seed).netlist.to_json()
    names = [u["name"] for u in data["units"]]
    data["units"] += [{"name": f"agcu{i}", "kind": "agcu"} for i in range(6)]
    data["nets"].append({"units": names[: CENTRE_PINS * 3] + ["agcu0"], "weight": 0.5})
    data["nets"] += [{"units": [f"agcu{i}", names[i * 7]], "weight": 2.0} for i in range(6)]
    problem = PlacementProblem.build("sn40l", Netlist.from_json(data))
    start = random_placement(problem, seed)
    for unit in data["units"][:4]:
        unit["fixed"] = [int(problem.site_x[start[names.index(unit["name"])]]),
                         int(problem.site_y[start[names.index(unit["name"])]])]
    return PlacementProblem.build("sn40l", Netlist.from_json(data))


@pytest.mark.parametrize("generator", ["multipin", "clustered", "geometric"])
def test_incremental_boxes_and_wirelength_stay_exact_and_moves_stay_legal(generator):
    problem = _with_wide_net_and_pins(generator, 300, seed=5)
    start = random_placement(problem, 5)
    annealer = SequentialAnnealer(problem, start, np.random.default_rng(0))
    # hot, then cold: large moves, swaps and (cold) mostly rejected moves that must be undone
    for t_start, t_end in ((50.0, 5.0), (1.0, 0.01)):
        annealer.run(AnnealSchedule(t_start=t_start, t_end=t_end, moves=60_000))
        problem.check(annealer.site_of_unit)
        assert np.array_equal(annealer.hpwl, net_hpwl(problem, annealer.site_of_unit))
        assert np.array_equal(annealer.boxes, all_boxes(problem.net_ptr, problem.net_pins, annealer.unit_xy))
        assert np.array_equal(annealer.unit_at_site[annealer.site_of_unit], np.arange(problem.num_units))
    pinned = problem.fixed_site >= 0
    assert pinned.sum() == 4 and np.array_equal(annealer.site_of_unit[pinned], problem.fixed_site[pinned])
    agcus = problem.unit_kind == 2
    assert not np.array_equal(annealer.site_of_unit[agcus], start[agcus])  # the few-site kind moves too
    assert annealer.stats.moves == 120_000 and 0 < annealer.stats.accepted < annealer.stats.proposed


def test_a_run_is_a_pure_function_of_the_seed_and_the_moves():
    problem = PlacementProblem.build("sn40l", generate("pins23", "sn40l", 200, seed=1).netlist)
    start = random_placement(problem, 1)

    def run(seed: int) -> np.ndarray:
        annealer = SequentialAnnealer(problem, start, np.random.default_rng(seed))
        return annealer.run(AnnealSchedule(t_start=8.0, t_end=0.05, moves=50_000)).copy()

    first, again, other = run(3), run(3), run(4)
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_anneals_a_neighbour_grid_from_a_random_start_to_near_its_optimum():
    hidden = hidden_optimum_netlist("sn40l", 120, seed=4)
    problem = PlacementProblem.build("sn40l", hidden.netlist)
    start = random_placement(problem, 0)
    annealer = SequentialAnnealer(problem, start, np.random.default_rng(0))
    t0 = annealer.initial_temperature()
    assert t0 > 1.0
    annealer.run(AnnealSchedule(t_start=t0, t_end=0.02, moves=1_500_000))
    assert wirelength(problem, start) > 10 * hidden.optimum
    assert wirelength(problem, annealer.site_of_unit) <= 1.25 * hidden.optimum


def test_stops_at_the_bound_it_is_given():
    hidden = hidden_optimum_netlist("small", 20, seed=0)
    problem = PlacementProblem.build("small", hidden.netlist)
    annealer = SequentialAnnealer(problem, random_placement(problem, 0), np.random.default_rng(0))
    bound = 1.3 * hidden.optimum
    annealer.run(AnnealSchedule(t_start=2.0, t_end=0.02, moves=2_000_000, stop_at=bound))
    assert wirelength(problem, annealer.site_of_unit) <= bound
    assert annealer.stats.moves < 1_000_000  # of 2,000,000


def test_budget_must_be_moves_or_seconds():
    problem = PlacementProblem.build("sn40l", generate("pins23", "sn40l", 50, seed=1).netlist)
    annealer = SequentialAnnealer(problem, random_placement(problem, 1), np.random.default_rng(0))
    with pytest.raises(ValueError, match="counts its budget in moves"):
        annealer.run(AnnealSchedule(t_start=1.0, t_end=0.1, batches=10))


def test_move_cost_grows_with_the_nets_a_move_touches():
    sparse = PlacementProblem.build("sn40l", generate("pins23", "sn40l", 500, seed=1).netlist)
    dense = PlacementProblem.build("sn40l", generate("multipin", "sn40l", 500, seed=1).netlist)
    assert 1e-7 < move_seconds(sparse) < move_seconds(dense) < 2e-6


def test_the_baseline_runs_either_engine_for_its_budget():
    problem = PlacementProblem.build("sn40l", generate("clustered", "sn40l", 150, seed=2).netlist)
    random_wirelength = wirelength(problem, random_placement(problem, 2))
    batch_sites, batch_stats = anneal_baseline(problem, 1.0, 2, batches=60)
    moves_sites, moves_stats = anneal_baseline(problem, 1.0, 2, moves=200_000)
    for sites in (batch_sites, moves_sites):
        problem.check(sites)
        assert wirelength(problem, sites) < 0.5 * random_wirelength
    assert (batch_stats.batches, batch_stats.moves) == (60, 0)
    assert (moves_stats.batches, moves_stats.moves) == (0, 200_000)


def test_compiling_the_kernels_needs_no_problem_of_the_callers():
    compile_kernels()  # cached per process: the placer calls it before its clock starts
    compile_kernels()
    assert compile_kernels.cache_info().hits >= 1


@pytest.mark.parametrize("chunk", [20_000, None])  # the cut on a chunk's edge, and inside the default chunk
def test_a_run_cut_short_is_the_same_run_as_far_as_it_goes(monkeypatch, chunk):
    """`stop_after` cuts the run, not its schedule: the placer's large long run before the domain
    slides (`placer.LONG_RUN_STOP`) must be main's run up to the cut, so the cut can only drop a
    tail that runs frozen. The full run is observed after its first `cut` moves (its chunks made
    `cut` long); the cut run is made in chunks of `chunk` moves (None: the default, longer than
    `cut`). Within one compiled call a prefix of the moves does not depend on the call's length."""
    from backend_rdu.placement import sequential_annealing

    chunk = chunk or sequential_annealing.CHUNK_MOVES
    problem = PlacementProblem.build("sn40l", generate("pins23", "sn40l", 200, seed=1).netlist)
    start = random_placement(problem, 1)
    moves, cut = 60_000, 20_000
    monkeypatch.setattr(sequential_annealing, "CHUNK_MOVES", cut)
    schedule = dict(t_start=8.0, t_end=0.05, moves=moves)

    full = SequentialAnnealer(problem, start, np.random.default_rng(3))
    after_first_chunk: list[np.ndarray] = []
    kernel = full._kernel

    def observed(*args, **kwargs):
        made = kernel(*args, **kwargs)
        after_first_chunk.append(full.site_of_unit.copy())
        return made

    monkeypatch.setattr(full, "_kernel", observed)
    full.run(AnnealSchedule(**schedule))

    monkeypatch.setattr(sequential_annealing, "CHUNK_MOVES", chunk)
    cut_run = SequentialAnnealer(problem, start, np.random.default_rng(3))
    cut_run.run(AnnealSchedule(**schedule, stop_after=cut))
    restarted = SequentialAnnealer(problem, start, np.random.default_rng(3))
    restarted.run(AnnealSchedule(t_start=8.0, t_end=0.05, moves=cut))  # a run of `cut` moves cools faster

    assert cut_run.stats.moves == cut and full.stats.moves == moves
    assert np.array_equal(cut_run.site_of_unit, after_first_chunk[0])
    assert not np.array_equal(cut_run.site_of_unit, restarted.site_of_unit)
