"""The cycle placer's congestion term: streams that waited for a shared link, and the streams they
shared it with, get head nets weighted by the wait's share of the body (`add_congestion`)."""

import pytest

from backend_rdu.cycle_feedback import KernelFeedback
from backend_rdu.cycle_placement import add_congestion, timing_netlist
from backend_rdu.place_pass import kernel_nets
from dialects import rdu
from tests.backend.test_placement_cycles import allocated


def feedback(body, link_wait=None, rivals=None):
    return KernelFeedback(body, False, {}, {}, {}, link_wait or {}, rivals or {})


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
