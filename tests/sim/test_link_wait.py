"""Link wait on the critical path: the part of a stream's critical cycles that other streams on
its shared links added (`KernelRun.link_wait`), what the cycle placer weighs for congestion."""

import pytest

from bench.placement import link_congestion
from chip_model import load_chip
from functional_sim.event_engine import run_kernel
from functional_sim.event_graph import kernel_graph
from tests.sim.test_event_timing import shared_link_program, timed


def run_of(bs, **kwargs):
    return run_kernel(kernel_graph(bs, load_chip("small"), bs.kernels[0]), **kwargs)


@pytest.mark.parametrize("exact", [False, True])
def test_streams_over_a_links_tracks_wait_on_the_critical_path_and_the_wait_is_inside_their_stream_cycles(exact):
    run = run_of(shared_link_program(True), batch=1 if exact else 256, exact=exact)
    assert sum(run.link_wait.values()) > 0
    for stream, wait in run.link_wait.items():
        assert 0 < wait <= run.critical[("stream", stream)] + 1e-9
    # the split leaves the critical path whole: it still adds up to the body
    assert sum(run.critical.values()) == pytest.approx(run.body, rel=1e-9)
    assert all(kind != "link" for kind, _ in run.critical)


@pytest.mark.parametrize("same_link, streams", [(False, 3), (True, 2)])
def test_no_link_wait_on_separate_links_or_within_a_links_tracks(same_link, streams):
    assert run_of(shared_link_program(same_link, streams)).link_wait == {}


def test_the_bench_reports_the_wait_share_and_the_busiest_link_of_the_congested_placement_only():
    together, apart = link_congestion(timed(shared_link_program(True))), link_congestion(timed(shared_link_program(False)))
    assert together["link_wait_cycles"] > 0 and 0 < together["link_wait_share"] <= 1
    assert together["max_link_utilisation"] > 0.5 and "link (3, 2)->(4, 2)" in together["busiest_link"]
    assert apart["link_wait_cycles"] == 0 and apart["link_wait_share"] == 0
    assert apart["max_link_utilisation"] == 0  # no link is shared: no shared-link resource at all


def test_the_bench_counts_the_hops_a_critical_stream_takes_beyond_the_manhattan_distance():
    from dataclasses import replace

    bs = shared_link_program(False, 1)
    sites = {st.id: st.sites[0] for st in bs.stages}
    stream = next(st for st in bs.streams if st.links)  # the buffer -> neg stream, on the critical path
    (x0, y0), (x1, y1) = sites[stream.src], sites[stream.dsts[0]]
    manhattan = abs(x1 - x0) + abs(y1 - y0)
    for extra in (0, 6):
        routed = replace(bs, streams=[replace(st, hops=(manhattan + extra,)) if st.id == stream.id else st for st in bs.streams])
        sim = timed(routed)
        assert sim.kernels[0].run[1].critical[("stream", sim.kernels[0].run[0].stream_ids.index(stream.id))] > 0
        assert link_congestion(sim, routed)["critical_detour_hops"] == extra


# -- a packet-switched link: flows share its bandwidth (`Bandwidth.flow`) ----------------------


def test_a_flow_alone_on_a_link_takes_exactly_its_own_transfer_time():
    from functional_sim.bandwidth import Bandwidth

    link = Bandwidth(64.0)
    assert link.flow(10.0, 100.0 / 4, 1 / 4) == 110.0  # a 100-cycle tile on a link 4 streams wide
    assert link.flow(110.0, 1000.0 / 4, 1 / 4) == 1110.0  # across many windows, still its own rate


@pytest.mark.parametrize("tile", [100.0, 64.0, 128.0, 32.0])  # 100 never lines up with the 64-cycle windows, the rest do
@pytest.mark.parametrize("width", [1, 2, 4])
def test_flows_within_a_links_bandwidth_never_delay_each_other_and_beyond_it_divide_it(width, tile):
    from functional_sim.bandwidth import Bandwidth

    def run(flows: int) -> list[float]:
        link, port = Bandwidth(64.0), [0.0] * flows
        for _ in range(50):  # every flow keeps its port busy with tiles, booked in turn
            for f in range(flows):
                port[f] = link.flow(port[f], tile / width, 1 / width)
        return port

    alone = 50 * tile
    assert run(width) == [alone] * width  # full rate each: the link is exactly full
    over = run(width + 1)
    # beyond the bandwidth the link moves width streams' worth: all tiles through by (w+1)/w x alone
    assert max(over) == pytest.approx(alone * (width + 1) / width, rel=0.03)
    assert min(over) >= alone


def test_a_tile_behind_windows_other_flows_filled_leaves_when_the_link_has_room_again():
    from functional_sim.bandwidth import Bandwidth

    link = Bandwidth(64.0)
    assert [link.flow(0.0, 64.0, 1.0) for _ in range(3)] == [64.0, 128.0, 192.0]  # a link one stream wide
    link = Bandwidth(64.0)
    link.flow(64.0, 64.0, 1.0)  # window 1 is full
    assert link.flow(32.0, 64.0, 1.0) == 160.0  # half in window 0, the rest only in window 2


def test_a_join_wider_than_its_switchs_links_compiles_and_its_run_charges_the_shared_links():
    """bench.link_heavy's outer join on sn40l: 24 full-rate elementwise branches joined by one
    stage, more than the 16 full-rate streams the 4 links into its switch carry. The router used to
    refuse it ("24 vector streams arrive at switch"); as packet-switched flows it routes, links
    carry more flows than their bandwidth, and the run waits on them (on `small` the same shape
    splits into HBM-bound kernels)."""
    from pathlib import Path

    import torch

    from bench.link_heavy import OuterJoin
    from compiler.driver import CompileOptions, compile_loaded
    from compiler.frontend.model_file import LoadedModel
    from functional_sim import simulate

    torch.manual_seed(0)
    loaded = LoadedModel(Path("join.py"), OuterJoin().eval(), (torch.randn(512), torch.randn(2048)))
    compiled = compile_loaded(loaded, CompileOptions(chip="sn40l"))
    sim = simulate(compiled.bitstream, None, chip=compiled.chip, execute=False)
    runs = [k.run for k in sim.kernels if k.run is not None]
    shared = [name for g, _ in runs for name, kind in zip(g.resource_names, g.resource_kinds) if kind == "network"]
    assert shared  # a link with more flows than its bandwidth
    assert sum(sum(run.link_wait.values()) for _, run in runs) > 0
