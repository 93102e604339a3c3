"""The wave-13 oracles on `clustered` (`heavy_components`): components, a component alone, the scrambled start."""

import numpy as np

from backend_rdu.placement import PlacementProblem
from backend_rdu.placement.generators import generate
from backend_rdu.placement.heavy_components import component_bench, heavy_components, heavy_nets, scrambled_within
from backend_rdu.placement.wirelength import wirelength


def _clustered(units=400, seed=3):
    bench = generate("clustered", "sn40l", units, seed)
    return bench, PlacementProblem.build("sn40l", bench.netlist)


def test_heavy_nets_stay_inside_a_component_and_light_nets_cross_them():
    bench, problem = _clustered()
    assert np.array_equal(heavy_nets(problem), problem.net_weight > 1)  # clustered weighs 1 and 3
    component = heavy_components(problem)
    heavy_inside = light_across = 0
    for n in range(problem.num_nets):
        ids = set(component[problem.net_pins[problem.net_ptr[n]:problem.net_ptr[n + 1]]].tolist())
        if problem.net_weight[n] > 1:
            assert len(ids) == 1
            heavy_inside += 1
        else:
            light_across += len(ids) > 1
    assert heavy_inside and light_across
    # the generator's light nets only join neighbours of different blobs, so every one crosses components
    assert light_across == np.count_nonzero(problem.net_weight == 1)


def test_one_weight_makes_every_unit_its_own_component():
    bench = generate("pins23", "sn40l", 200, seed=1)
    problem = PlacementProblem.build("sn40l", bench.netlist)
    assert not heavy_nets(problem).any()
    assert len(np.unique(heavy_components(problem))) == problem.num_units


def test_a_component_alone_is_a_benchmark_with_a_known_optimum():
    bench, problem = _clustered()
    component = heavy_components(problem)
    largest = int(np.argmax(np.bincount(component)))
    sub = component_bench(bench, problem, component, largest)
    assert len(sub.netlist.units) == np.count_nonzero(component == largest)
    assert sub.netlist.nets and all(net.weight == 3 for net in sub.netlist.nets)
    assert sub.optimum_known  # every heavy net is tight in the hidden placement
    sub_problem = PlacementProblem.build("sn40l", sub.netlist)
    assert wirelength(sub_problem, sub.hidden_sites(sub_problem)) == sub.hidden_wirelength


def test_scrambled_start_keeps_every_component_on_its_own_sites():
    bench, problem = _clustered()
    component = heavy_components(problem)
    hidden = bench.hidden_sites(problem)
    start = scrambled_within(problem, hidden, component, np.random.default_rng(0))
    problem.check(start)
    moved = start != hidden
    assert moved.mean() > 0.3  # the insides are thrown away ...
    for c in np.unique(component):  # ... but every component covers exactly its hidden sites
        assert set(start[component == c]) == set(hidden[component == c])
    assert wirelength(problem, start) > 1.5 * bench.lower_bound
