"""The cycle placer's congestion term: streams that waited for a shared link, and the streams they
shared it with, get head nets weighted by the wait's share of the body (`add_congestion`); and the
heads of a join's producers (and the join's own) chosen so its flows come in evenly over its
links (`spread_heads`)."""

from collections import Counter

import pytest

from backend_rdu.cycle_feedback import KernelFeedback
from backend_rdu.cycle_placement import add_congestion, entry_sides, spread_heads, timing_netlist
from backend_rdu.place_pass import kernel_nets
from dialects import rdu
from tests.backend.test_placement_cycles import allocated


def feedback(body, link_wait=None, rivals=None, tier_wait=0.0):
    return KernelFeedback(body, False, {}, {}, {}, link_wait or {}, rivals or {}, tier_wait)


def test_a_links_wait_is_charged_to_the_waiting_stream_and_its_rivals_and_accumulates():
    congestion = {}
    add_congestion(congestion, feedback(1000.0, {(1, 0): 250.0}, {(1, 0): ((0, 0), (2, 0))}))
    assert congestion == pytest.approx({(1, 0): 0.25, (0, 0): 0.25, (2, 0): 0.25})
    add_congestion(congestion, feedback(500.0, {(0, 0): 50.0}, {(0, 0): ((1, 0),)}))
    assert congestion == pytest.approx({(1, 0): 0.35, (0, 0): 0.35, (2, 0): 0.25})  # history over candidates
    add_congestion(congestion, feedback(800.0))  # a candidate without waits changes nothing
    assert congestion == pytest.approx({(1, 0): 0.35, (0, 0): 0.35, (2, 0): 0.25})


def test_congested_streams_get_heavier_head_nets_in_proportion_and_none_without_congestion():
    kernel = rdu.kernels(allocated())[0]
    netlist, names, streams = kernel_nets(kernel)
    heads = sorted(set(streams))
    fb = feedback(100.0)
    plain = timing_netlist(netlist, names, streams, fb, {})
    assert timing_netlist(netlist, names, streams, fb, {}, {}).nets == plain.nets
    congested = timing_netlist(netlist, names, streams, fb, {}, {heads[0]: 0.5, heads[1]: 0.1})
    extra = {net.units: net.weight for net in congested.nets[len(netlist.nets):]}
    base = {net.units: net.weight for net in plain.nets[len(netlist.nets):]}
    assert len(extra) == 2 and not base  # no traffic, no criticality: only the congested streams get a net
    first, second = sorted(extra.values(), reverse=True)
    assert first == pytest.approx(5 * second, rel=1e-3)  # weight in proportion to the wait's share


class Stage:
    """Just what `spread_heads` reads of a stage: its results and their readers."""

    def __init__(self, outputs: int = 1):
        self.results = [object() for _ in range(outputs)]
        self.readers: dict[int, list] = {}

    def consumers(self, result):
        return self.readers.get(self.results.index(result), [])


class Kernel:
    def __init__(self, stages):
        self._stages = stages

    def stages(self):
        return self._stages


def join_of(producers: int):
    """`producers` one-output stages all read by one join stage (the last)."""
    stages = [Stage() for _ in range(producers)] + [Stage(0)]
    for st in stages[:-1]:
        st.readers[0] = [stages[-1]]
    return Kernel(stages)


def sides_of(sites, join: int) -> Counter:
    return Counter(entry_sides(group[0], sites[join][0]) for group in sites[:join])


def test_entry_sides_are_the_sides_a_shortest_route_can_enter_from():
    assert entry_sides((5, 10), (10, 10)) == (0,)  # west
    assert entry_sides((15, 12), (10, 10)) == (1, 3)  # east or north
    assert entry_sides((10, 10), (10, 10)) == ()


def test_spread_heads_splits_a_joins_flows_evenly_over_its_links_and_picks_the_join_head():
    # 8 full-rate flows into a join whose links carry 2 each: every producer's first unit lies west of the
    # join's centre unit, its second on one of the four sides; the join's first unit sits in a corner,
    # where flows can come in from two sides only
    centre = (10, 10)
    spots = [lambda k: (15 + k, 10), lambda k: (10, 5 - k), lambda k: (10, 15 + k), lambda k: (5 - k, 10)]
    sites = [[(4 - p, 10), spots[p % 4](p // 4)] for p in range(8)]
    sites.append([(0, 0), centre])
    kernel = join_of(8)
    rates = [[1.0]] * 8 + [[]]
    new = spread_heads(kernel, sites, {(p, 0) for p in range(8)}, rates, 2.0)
    assert new[8][0] == centre  # the join head from which flows can come from four sides
    assert sides_of(new, 8) == Counter({(0,): 2, (1,): 2, (2,): 2, (3,): 2})
    assert Counter(entry_sides(g[0], centre) for g in sites[:8]) == Counter({(0,): 8})  # before: all from the west
    assert all(sorted(a) == sorted(b) for a, b in zip(new, sites))  # each stage keeps its sites: only its head changes
    assert spread_heads(kernel, sites, {(p, 0) for p in range(8)}, rates, 2.0) == new  # deterministic


def test_a_producer_with_two_streams_into_the_join_gets_one_head():
    # its two outputs both read by the join (a topk's values and indices): each stream priced alone
    # would pick the unit east of the join, and swapping twice would put the head back where it was
    producer, join = Stage(2), Stage(0)
    producer.readers = {0: [join], 1: [join]}
    sites = [[(10, 0), (9, 10)], [(10, 10)]]
    new = spread_heads(Kernel([producer, join]), sites, {(0, 0)}, [[1.0, 1.0], []], 4.0)
    assert new[0] == [(9, 10), (10, 0)]  # moved to the unit next to the join, once
    one_output = join_of(1)
    assert spread_heads(one_output, sites, {(0, 0)}, [[1.0], []], 4.0)[0] == new[0]  # as a one-stream producer


def test_spread_heads_changes_nothing_without_a_wait():
    sites = [[(4, 10), (15, 10)] for _ in range(4)] + [[(10, 10)]]
    assert spread_heads(join_of(4), sites, set(), [[1.0]] * 4 + [[]], 2.0) == sites


@pytest.mark.parametrize("waits", [True, False])
def test_the_cycle_loop_simulates_spread_heads_only_where_links_made_streams_wait(monkeypatch, waits):
    import backend_rdu.cycle_placement as cp
    from chip_model import load_chip

    module = allocated()
    kernel = rdu.kernels(module)[0]
    placed = [[(1 + i, 1)] * st.unit_count for i, st in enumerate(kernel.stages())]
    mark = (9, 9)  # the fake spread puts stage 0's head here: a candidate the fake simulator finds faster

    def simulate(_module, sites):
        spread = sites[0][0][0] == mark
        return {0: feedback(50.0 if spread else 100.0, {} if spread or not waits else {(0, 0): 30.0})}

    seen = []

    def spread_heads(_kernel, sites, waited, rates, bandwidth):
        seen.append(waited)
        return [[mark, *sites[0][1:]], *sites[1:]]

    monkeypatch.setattr(cp, "simulate_placement", simulate)
    monkeypatch.setattr(cp, "spread_heads", spread_heads)
    best, trail, kept = cp.place_for_cycles(module, load_chip("small"), {"k": kernel}, {"k": placed}, {"k": 1.0},
                                            None, 0, {"k": 0})
    labels = [label for label, _ in trail["k"]]
    if waits:
        assert seen[0] == {(0, 0)} and "wirelength heads" in labels and kept["k"] == "wirelength heads"
        assert best["k"][0][0] == mark and dict(trail["k"])["wirelength heads"] == 50
    else:
        assert not seen and labels == ["wirelength", "greedy"] and kept["k"] == "wirelength"


def test_which_unit_is_a_stages_head_changes_no_value(monkeypatch):
    # spread_heads only reorders a stage's sites (another unit first); the compiled program must compute the same
    from pathlib import Path

    from backend_rdu.route_pass import RoutePass
    from compiler.driver import CompileOptions, compile_model
    from compiler.run_model import run_compiled

    route = RoutePass.apply
    moved = []

    def apply(self, ctx, module):
        for kernel in rdu.kernels(module):
            for stage in kernel.stages():
                sites = stage.site_list()
                if len(sites) > 1:
                    stage.set_sites([sites[-1], *sites[1:-1], sites[0]])
                    moved.append(stage.name)
        route(self, ctx, module)

    monkeypatch.setattr(RoutePass, "apply", apply)
    report = run_compiled(compile_model(Path(__file__).parents[2] / "examples" / "mlp.py", CompileOptions(chip="small")))
    assert moved and report.allclose, report.to_text()


@pytest.mark.parametrize("waits", [True, False])
def test_a_scattered_candidate_is_simulated_where_links_made_streams_wait_and_kept_when_faster(monkeypatch, waits):
    """Wave 13: on a kernel bound by a join's ingress, longer wires can be faster (link:outer-join-large,
    seed 0: random sites 16,849 body cycles, every earlier candidate at least 18,911), so where a
    stream waited on shared links the loop ends with the placement `rdu-place{random=true}` gives
    for its seed, and that placement's spread heads. Where no stream waited it adds nothing."""
    import backend_rdu.cycle_placement as cp
    from backend_rdu.place_pass import place_kernel_random
    from chip_model import load_chip

    chip = load_chip("small")
    module = allocated()
    kernel = rdu.kernels(module)[0]
    placed = [[(1 + i, 1)] * st.unit_count for i, st in enumerate(kernel.stages())]
    scattered = place_kernel_random(kernel, chip, 3)

    def simulate(_module, sites):
        fast = sites[0] == scattered  # the fake simulator finds the scattered sites fastest
        return {0: feedback(40.0 if fast else 100.0, {} if fast or not waits else {(0, 0): 30.0})}

    monkeypatch.setattr(cp, "simulate_placement", simulate)
    monkeypatch.setattr(cp, "spread_heads", lambda _kernel, sites, waited, rates, bandwidth: sites)
    best, trail, kept = cp.place_for_cycles(module, chip, {"k": kernel}, {"k": placed}, {"k": 1.0}, None, 0,
                                            {"k": 0}, seed=3)
    labels = [label for label, _ in trail["k"]]
    if waits:
        assert labels[-1] == "scattered" and kept["k"] == "scattered" and best["k"] == scattered
        assert dict(trail["k"])["scattered"] == 40
    else:
        assert "scattered" not in labels and kept["k"] == "wirelength" and best["k"] == placed


@pytest.mark.parametrize("tier_wait", [500.0, 0.5, 0.0])
def test_a_scattered_candidate_is_judged_where_a_memory_tier_made_the_critical_path_wait(monkeypatch, tier_wait):
    """Wave 14: link:heads-projection seed 2 never waits on a link, but its slowest weight load waits
    for the HBM tier it shares with 16 other loads and the store (2,721 critical cycles under the
    cycle-driven placement, 1,621 under the random one, which is faster: 14,025 against 14,874 body
    cycles). So a kernel whose critical path waited on a memory tier gets the scattered candidate as
    well, kept when faster; one that waited on nothing shared, or less than a cycle
    (`TIER_WAIT_MIN_CYCLES`), gets none. No link wait: no spread heads."""
    import backend_rdu.cycle_placement as cp
    from backend_rdu.place_pass import place_kernel_random
    from chip_model import load_chip

    chip = load_chip("small")
    module = allocated()
    kernel = rdu.kernels(module)[0]
    placed = [[(1 + i, 1)] * st.unit_count for i, st in enumerate(kernel.stages())]
    scattered = place_kernel_random(kernel, chip, 3)
    spread = []

    def simulate(_module, sites):
        fast = sites[0] == scattered  # the fake simulator finds the scattered sites fastest
        return {0: feedback(40.0 if fast else 100.0, tier_wait=0.0 if fast else tier_wait)}

    monkeypatch.setattr(cp, "simulate_placement", simulate)
    monkeypatch.setattr(cp, "spread_heads", lambda _kernel, sites, *_: spread.append(sites) or sites)
    best, trail, kept = cp.place_for_cycles(module, chip, {"k": kernel}, {"k": placed}, {"k": 1.0}, None, 0,
                                            {"k": 0}, seed=3)
    labels = [label for label, _ in trail["k"]]
    assert not spread
    if tier_wait >= cp.TIER_WAIT_MIN_CYCLES:
        assert labels == ["wirelength", "greedy", "scattered"] and dict(trail["k"])["scattered"] == 40
        assert kept["k"] == "scattered" and best["k"] == scattered
    else:
        assert labels == ["wirelength", "greedy"] and kept["k"] == "wirelength" and best["k"] == placed


def test_the_scattered_candidate_is_the_random_placement_of_the_same_seed():
    """The loop's scattered sites are what `rdu-place{seed=S random=true}` places (the bench's random
    mode), so the cycle-driven mode is never slower than that placement where links made streams wait."""
    from backend_rdu.place_pass import place_kernel_random
    from chip_model import load_chip
    from dialects import make_context
    from passes.registry import run_pipeline

    module = allocated()
    run_pipeline(make_context(), module, "rdu-place{seed=5 random=true}")
    kernel = rdu.kernels(module)[0]
    assert [st.site_list() for st in kernel.stages()] == place_kernel_random(kernel, load_chip("small"), 5)
