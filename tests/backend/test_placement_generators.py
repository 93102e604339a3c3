"""The benchmark's netlist generators: each hides a placement and proves a bound on the optimum;
and the compiler's kernel netlists model a stream's fan-out as one multicast net."""

from __future__ import annotations

import numpy as np
import pytest

from backend_rdu.place_pass import kernel_netlist
from backend_rdu.placement import PlacementProblem, wirelength, wirelength_lower_bound
from backend_rdu.placement.generators import GENERATORS, generate
from compiler.textual_ir import parse_ir
from dialects import make_context, rdu
from passes.registry import run_pipeline

PINS = {"grid": (2, 2), "pins23": (2, 3), "multipin": (2, 8), "mixed": (2, 8), "clustered": (2, 6), "geometric": (2, 2)}


@pytest.mark.parametrize("generator", sorted(GENERATORS))
def test_hidden_placement_meets_the_reported_figures(generator):
    bench = generate(generator, "sn40l", 300, seed=5)
    problem = PlacementProblem.build("sn40l", bench.netlist)
    sites = bench.hidden_sites(problem)
    problem.check(sites)
    assert wirelength(problem, sites) == bench.hidden_wirelength
    assert wirelength_lower_bound(problem) == bench.lower_bound
    assert bench.optimum_known
    degrees = np.diff(problem.net_ptr)
    low, high = PINS[generator]
    assert degrees.min() >= low and degrees.max() <= high
    assert problem.num_nets >= 150


def test_multipin_generators_span_the_pin_range_and_mix_kinds():
    bench = generate("mixed", "sn40l", 600, seed=2)
    sizes = {len(net.units) for net in bench.netlist.nets}
    assert {2, 8} <= sizes
    kind = {u.name: u.kind for u in bench.netlist.units}
    unbalanced = [net for net in bench.netlist.nets
                  if abs(sum(kind[n] == "pcu" for n in net.units) - sum(kind[n] == "pmu" for n in net.units)) >= 2]
    assert unbalanced


def test_bound_only_geometric_multipin_netlists_have_a_gap_between_hidden_and_bound():
    bench = generate("geometric-multipin", "sn40l", 400, seed=1)
    assert bench.lower_bound < bench.hidden_wirelength and not bench.optimum_known
    assert "geometric-multipin" not in GENERATORS  # the benchmark draws only known optima


def test_generation_is_a_function_of_the_seed():
    first, again, other = (generate("clustered", "sn40l", 250, seed=s) for s in (3, 3, 4))
    assert first.netlist == again.netlist and first.positions == again.positions
    assert first.netlist != other.netlist


def test_unknown_generator_and_bad_size_are_refused():
    with pytest.raises(ValueError, match="unknown generator 'spiral'; known: grid, pins23"):
        generate("spiral", "sn40l", 100)
    with pytest.raises(ValueError, match="num_units must be in 2..2106 for chip 'sn40l', got 5000"):
        generate("multipin", "sn40l", 5000)


FAN_OUT = """
func.func @forward(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %0 = rgraph.exp %x : tensor<4x8xf32> -> tensor<4x8xf32>
  %1 = rgraph.exp %0 : tensor<4x8xf32> -> tensor<4x8xf32>
  %2 = rgraph.add %0, %1 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  func.return %2 : tensor<4x8xf32>
}
"""


def test_a_stream_to_several_consumers_is_one_multicast_net():
    module = parse_ir(make_context(), FAN_OUT)
    run_pipeline(make_context(), module, "rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units")
    kernel = rdu.kernels(module)[0]
    netlist, names = kernel_netlist(kernel)
    stages = kernel.stages()
    fanned = [(i, r) for i, st in enumerate(stages) for r in st.results
              if len({u.operation for u in r.uses if u.operation in stages}) >= 2]
    assert fanned, "the kernel should have a stream with two consumer stages"
    expected = sum(stages[i].unit_count for i, _ in
                   [(i, r) for i, st in enumerate(stages) for r in st.results
                    if any(u.operation in stages for u in r.uses)])
    assert len(netlist.nets) == expected
    i, result = fanned[0]
    consumers = {stages.index(u.operation) for u in result.uses if u.operation in stages}
    source_nets = [net for net in netlist.nets if net.units[0] in names[i]]
    assert any({n.split(".")[0] for n in net.units[1:]} == {str(j) for j in consumers} for net in source_nets)


@pytest.mark.parametrize("placer", ["rdu-place{greedy=true}", "rdu-place{seed=1}"])
def test_manifest_placement_records_objective_bound_and_gap(placer):
    module = parse_ir(make_context(), FAN_OUT)
    run_pipeline(make_context(), module, f"rdu-target{{chip=small}},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units,{placer}")
    record = rdu.placement_summary(module).to_json()
    assert record["objective"] == "multicast-hpwl"
    assert 0 < record["lower_bound"] <= record["wirelength"]
    assert record["gap"] == pytest.approx((record["wirelength"] - record["lower_bound"]) / record["wirelength"], abs=1e-6)


# -- the benchmark driver ------------------------------------------------------------------------


def test_bench_row_reports_the_bound_and_both_placers():
    from bench.placement import run_size, summarise

    rows = [run_size("small", 40, 0.3, seed, "multipin") for seed in (1, 2)]
    for row in rows:
        assert row["optimum_known"] and row["optimum"] == row["lower_bound"]
        assert row["placer"]["ratio"] >= 1.0 and row["annealing_baseline"]["ratio"] >= 1.0
        assert row["placer"]["ratio"] == round(row["placer"]["wirelength"] / row["lower_bound"], 4)
    (summary,) = summarise(rows)
    assert summary["seeds"] == [1, 2]
    ratios = sorted(r["placer"]["ratio"] for r in rows)
    assert summary["placer_median_ratio"] == pytest.approx(sum(ratios) / 2, abs=1e-4)
    assert summary["placer_worst_ratio"] == ratios[-1]


def test_bench_baseline_budget_in_work_is_deterministic_and_the_placers_conversion():
    """The baseline counted in work runs exactly budget / batch_seconds batches, whatever the
    load, so two runs give the same wirelength; the clock-bound baseline is still available."""
    from bench.placement import baseline_run
    from backend_rdu.placement.placer import batch_seconds

    problem = PlacementProblem.build("small", generate("multipin", "small", 40, 3).netlist)
    first, record = baseline_run(problem, 0.2, 0.0, 3, "work")
    again, _ = baseline_run(problem, 0.2, 0.0, 3, "work")
    assert first == again
    assert record["budget"] == "work" and record["batches"] == int(0.2 / batch_seconds(40)) > 0
    _, wall = baseline_run(problem, 0.05, 0.0, 3, "wall")
    assert wall["budget"] == "wall" and wall["seconds"] >= 0.05


def test_bench_baseline_on_the_placers_engine_runs_the_placers_conversion_in_moves():
    """The default baseline anneals on the placer's own compiled engine, for exactly
    budget / move_seconds moves, so placer and baseline differ in method, not in engine speed."""
    from bench.placement import baseline_run
    from backend_rdu.placement.sequential_annealing import move_seconds

    problem = PlacementProblem.build("small", generate("multipin", "small", 40, 3).netlist)
    first, record = baseline_run(problem, 0.2, 0.0, 3)
    again, _ = baseline_run(problem, 0.2, 0.0, 3, "moves")
    assert first == again
    assert record["budget"] == "moves" and record["moves"] == int(0.2 / move_seconds(problem)) > 0


def test_bench_refuses_an_unknown_generator(capsys):
    from bench.placement import main

    with pytest.raises(SystemExit) as exc:
        main(["--generators", "grid,spiral", "--example-seconds", "0", "--cycles", ""])
    assert exc.value.code == 2
    assert "unknown generator(s): spiral" in capsys.readouterr().err
