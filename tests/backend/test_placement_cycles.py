"""Placement for simulated cycles: rdu-place{objective=cycles} and the feedback it reads."""

from pathlib import Path

import numpy as np
import pytest

from rducc_errors import UserError

from backend_rdu.cycle_feedback import KernelFeedback, simulate_placement
from backend_rdu.cycle_placement import add_criticality, timing_netlist
from backend_rdu.emit_bitstream import emit_bitstream
from backend_rdu.place_pass import PlaceOptionError, kernel_nets
from backend_rdu.placement import PlacementProblem, place, wirelength
from backend_rdu.placement.generators import generate
from compiler.driver import CompileOptions, compile_model
from dialects import make_context, rdu
from compiler.textual_ir import parse_ir
from functional_sim import simulate
from passes.registry import run_pipeline

EXAMPLES = Path(__file__).parents[2] / "examples"

FAN_OUT = """
func.func @forward(%x: tensor<64x64xf32>) -> tensor<64x64xf32> {
  %0 = rgraph.exp %x : tensor<64x64xf32> -> tensor<64x64xf32>
  %1 = rgraph.exp %0 : tensor<64x64xf32> -> tensor<64x64xf32>
  %2 = rgraph.add %0, %1 : (tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<64x64xf32>
  func.return %2 : tensor<64x64xf32>
}
"""
BEFORE_PLACE = "rdu-target{chip=small},rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units,rdu-size-fifos,rdu-tile"


def allocated():
    module = parse_ir(make_context(), FAN_OUT)
    run_pipeline(make_context(), module, BEFORE_PLACE)
    return module


def sites_of(module):
    return [[st.site_list() for st in k.stages()] for k in rdu.kernels(module)]


def body_cycles(bitstream) -> int:
    return sum(k.cycles - k.launch_cycles for k in simulate(bitstream, None, execute=False).kernels)


def test_cycle_driven_placement_is_deterministic_and_recorded():
    first, second = allocated(), allocated()
    for module in (first, second):
        run_pipeline(make_context(), module, "rdu-place{seed=2 objective=cycles rounds=2},rdu-route,rdu-section")
    assert sites_of(first) == sites_of(second)
    record = rdu.placement_summary(first).to_json()
    assert record["objective"] == "simulated-cycles"
    assert "wirelength" in record["method"] and "greedy" in record["method"] and "round 2" in record["method"]
    assert 0 < record["lower_bound"] <= record["wirelength"]


def test_cycle_driven_attention_is_no_slower_than_wirelength_and_the_feedback_is_what_the_chip_pays():
    wirelength_compile = compile_model(EXAMPLES / "attention.py", CompileOptions(placer="cpsat"))
    cycles_compile = compile_model(EXAMPLES / "attention.py", CompileOptions(placer="cycles"))
    chosen = body_cycles(cycles_compile.bitstream)
    assert chosen <= body_cycles(wirelength_compile.bitstream)
    # the method string records each candidate's simulated body cycles and the one kept
    method = rdu.placement_summary(cycles_compile.module).method.data
    kept = method.rsplit("-> ", 1)[1].rstrip(")")
    trail = dict(item.rsplit(" ", 1) for item in method.split(": ", 1)[1].split(" -> ")[0].split(", "))
    assert int(trail[kept]) == chosen == min(int(c) for c in trail.values())


def test_feedback_covers_every_stream_and_matches_the_simulator():
    module = allocated()
    run_pipeline(make_context(), module, "rdu-place{seed=0},rdu-route,rdu-size-fifos-for-routes,rdu-section")
    feedback = simulate_placement(module, {0: sites_of(module)[0]})[0]
    assert body_cycles(emit_bitstream(module)) == feedback.body
    assert not feedback.deadlocked
    kernel = rdu.kernels(module)[0]
    streams = {(i, r) for i, st in enumerate(kernel.stages()) for r, _ in enumerate(st.results)}
    assert set(feedback.stream_busy) == streams
    assert all(key in streams for key in feedback.critical)


TWO_LOADS = """
func.func @forward(%x: tensor<256x256xf32>, %y: tensor<256x256xf32>) -> tensor<256x256xf32> {
  %0 = rgraph.add %x, %y : (tensor<256x256xf32>, tensor<256x256xf32>) -> tensor<256x256xf32>
  func.return %0 : tensor<256x256xf32>
}
"""


def test_feedback_reports_the_critical_paths_wait_for_a_memory_tier():
    """Two loads and a store share the HBM tier: the critical path's wait for it is reported
    (`tier_wait`, what makes the cycle loop judge a scattered placement), and with the streams'
    and stages' cycles it adds up to the body (the critical path's segments telescope)."""
    module = parse_ir(make_context(), TWO_LOADS)
    run_pipeline(make_context(), module, BEFORE_PLACE + ",rdu-place{seed=0}")
    feedback = simulate_placement(module, {0: sites_of(module)[0]})[0]
    assert feedback.tier_wait >= 1.0
    parts = sum(feedback.critical.values()) + sum(feedback.stage_critical.values()) + feedback.tier_wait
    assert parts == pytest.approx(feedback.body, abs=1.0)


def test_head_nets_are_weighted_by_traffic_and_criticality():
    module = allocated()
    kernel = rdu.kernels(module)[0]
    netlist, names, streams = kernel_nets(kernel)
    heads = sorted({s for s in streams})
    busy = {s: 10.0 * (n + 1) for n, s in enumerate(heads)}
    plain = timing_netlist(netlist, names, streams, KernelFeedback(100.0, False, busy, {}), {})
    added = plain.nets[len(netlist.nets):]
    assert len(added) == len(heads)  # one head net per stream, from the producer's first unit
    assert all(all(u.endswith(".0") for u in net.units) for net in added)
    weights = [net.weight for net in added]
    assert weights == sorted(weights)  # more traffic, more weight
    # a stream seen on a critical path gets a head net far heavier than its traffic's
    criticality = {}
    add_criticality(criticality, KernelFeedback(100.0, False, busy, {heads[0]: 50.0, heads[1]: 0.5}))
    assert criticality == {heads[0]: 1.0}  # under a cycle on the path is no criticality
    add_criticality(criticality, KernelFeedback(90.0, False, busy, {heads[1]: 3.0}))
    assert criticality == {heads[0]: 1.0, heads[1]: 1.0}  # and it stays: history over candidates
    critical = timing_netlist(netlist, names, streams, KernelFeedback(100.0, False, busy, {}), {heads[0]: 1.0})
    assert critical.nets[len(netlist.nets)].weight > 10 * max(weights)


def test_place_refines_a_given_start_and_never_returns_worse():
    bench = generate("pins23", "small", 40, 3)
    problem = PlacementProblem.build("small", bench.netlist)
    start = place(problem, seconds=0.2, seed=1).site_of_unit.copy()
    rng = np.random.default_rng(0)
    # a legal but poor start: the units of each kind shuffled among their own sites
    for kind in np.unique(problem.unit_kind):
        members = np.flatnonzero(problem.unit_kind == kind)
        start[members] = rng.permutation(start[members])
    refined = place(problem, seconds=0.3, seed=4, start=start, wall_limit=60)  # work decides, not the clock
    assert refined.stats["phases"][0]["start"] == "given"
    assert refined.wirelength <= wirelength(problem, start)
    assert place(problem, seconds=0.3, seed=4, start=start, wall_limit=60).positions == refined.positions


@pytest.mark.parametrize("options, message", [
    ("objective=area", "rdu-place: objective must be one of wirelength, cycles, got 'area'"),
    ("objective=cycles greedy=true", "rdu-place: objective=cycles places with the CP-SAT placer; drop greedy/random"),
    ("objective=cycles rounds=-1", "rdu-place: rounds must be at least 0, got -1"),
])
def test_bad_place_options_are_named(options, message):
    with pytest.raises(PlaceOptionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run_pipeline(make_context(), allocated(), f"rdu-place{{{options}}}")


def test_default_placer_is_cycles_and_the_variable_keeps_the_fast_path(monkeypatch):
    monkeypatch.delenv("RDUCC_PLACER", raising=False)
    assert CompileOptions().placer == "cycles"
    assert "rdu-place{seed=0 objective=cycles}" in CompileOptions().pipeline()
    monkeypatch.setenv("RDUCC_PLACER", "cpsat")
    assert "rdu-place{seed=0}," in CompileOptions().pipeline()
    assert CompileOptions(placer="cycles").placer == "cycles"  # an explicit placer wins
    monkeypatch.setenv("RDUCC_PLACER", " cpsat ")
    assert CompileOptions().placer == "cpsat"
    monkeypatch.setenv("RDUCC_PLACER", "annealing")
    with pytest.raises(UserError, match=r"RDUCC_PLACER='annealing' is not a placer \(choose from cpsat, cycles"):
        CompileOptions()
    assert CompileOptions(placer="cpsat").placer == "cpsat"  # an explicit placer never reads it


def test_a_bad_placer_variable_is_one_error_line(monkeypatch, tmp_path):
    from click.testing import CliRunner

    from compiler.cli import main

    monkeypatch.setenv("RDUCC_PLACER", "annealing")
    out = tmp_path / "mlp.rbit"
    result = CliRunner().invoke(main, ["compile", str(EXAMPLES / "mlp.py"), "-o", str(out)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: RDUCC_PLACER='annealing' is not a placer (choose from cpsat, cycles, greedy, random)"]
    assert not out.exists()


def test_rducc_compile_places_for_cycles_by_default(monkeypatch):
    from click.testing import CliRunner

    from compiler.cli import main

    monkeypatch.delenv("RDUCC_PLACER", raising=False)
    default = CliRunner().invoke(main, ["compile", str(EXAMPLES / "mlp.py"), "--print-pipeline"], catch_exceptions=False)
    assert default.exit_code == 0, default.output
    assert "rdu-place{seed=0 objective=cycles}" in default.output
    chosen = CliRunner().invoke(main, ["compile", str(EXAMPLES / "mlp.py"), "--print-pipeline", "--placer", "cpsat"],
                                catch_exceptions=False)
    assert "rdu-place{seed=0}," in chosen.output


def test_an_unroutable_wirelength_placement_is_the_users_routing_error(monkeypatch):
    """A candidate the mesh cannot route is dropped, but when the wirelength placement itself cannot
    be routed the user gets the router's error, as with `--placer cpsat` (not an internal KeyError)."""
    import backend_rdu.cycle_placement as cycle_placement
    from backend_rdu.routing.errors import RoutingError

    def unroutable(module, sites):
        raise RoutingError("routing: 9 vector streams leave switch (1,2) but its links carry 8 vector tracks")

    monkeypatch.setattr(cycle_placement, "simulate_placement", unroutable)
    with pytest.raises(RoutingError, match="9 vector streams leave switch"):
        run_pipeline(make_context(), allocated(), "rdu-place{objective=cycles rounds=1}")


def test_a_placement_simulated_before_is_not_simulated_again_and_gives_the_same_choice(monkeypatch):
    import backend_rdu.cycle_placement as cycle_placement
    import backend_rdu.place_pass as place_pass

    simulated = []
    simulate = cycle_placement.simulate_placement
    monkeypatch.setattr(cycle_placement, "simulate_placement",
                        lambda module, sites: simulated.append(sorted(sites)) or simulate(module, sites))
    run_placer = place_pass.PlacePass.run_placer

    def rounds_return_their_start(self, problem, seconds, netlist, start=None):
        import dataclasses

        result = run_placer(self, problem, seconds, netlist)
        # a round that finds nothing better returns its start's sites
        return result if start is None else dataclasses.replace(result, site_of_unit=np.asarray(start))

    monkeypatch.setattr(place_pass.PlacePass, "run_placer", rounds_return_their_start)
    module = allocated()
    run_pipeline(make_context(), module, "rdu-place{seed=2 objective=cycles rounds=2}")
    method = rdu.placement_summary(module).method.data
    assert simulated == [[0], [0]]  # wirelength and greedy; the rounds' placements were simulated already
    trail = dict(item.rsplit(" ", 1) for item in method.split(": ", 1)[1].split(" -> ")[0].split(", "))
    kept = method.rsplit("-> ", 1)[1].rstrip(")")
    assert trail["round 1"] == trail["round 2"] == trail[kept] == str(min(int(trail["wirelength"]), int(trail["greedy"])))
