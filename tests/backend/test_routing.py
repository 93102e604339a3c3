"""Routing library: paths and latencies, capacities, negotiation, multicast sharing, diagnoses."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from backend_rdu.routing import RoutingError, Stream, route_streams
from chip_model import load_chip


def link_usage(result) -> Counter:
    """Streams per (network, link): a multicast tree counts once per link."""
    usage = Counter()
    for route in result.routes.values():
        for link in route.links:
            usage[route.network, link] += 1
    return usage


def assert_tree(route, positions) -> None:
    """Links form a tree from the source reaching every destination, each hop to a neighbour."""
    reached = {tuple(positions[route.source])}
    for a, b in route.links:  # links come in order of depth
        assert abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1
        assert a in reached and b not in reached
        reached.add(b)
    for unit in route.hops:
        assert tuple(positions[unit]) in reached


def test_single_stream_takes_a_shortest_path():
    positions = {"a": (1, 0), "b": (6, 3)}
    result = route_streams("small", positions, [Stream("s", "a", ("b",))])
    route = result.routes["s"]
    assert route.hops == {"b": 8} and route.latency_cycles == {"b": 8}  # small: 1 cycle per hop
    assert len(route.links) == 8
    assert_tree(route, positions)


def test_die_crossing_adds_latency_on_sn40l():
    chip = load_chip("sn40l")
    positions = {"a": (5, 24), "b": (5, 28)}  # rows 25 | 26 is the die boundary
    route = route_streams(chip, positions, [Stream("s", "a", ("b",))]).routes["s"]
    net = chip.network
    assert route.hops == {"b": 4}
    assert route.latency_cycles == {"b": 4 * net.hop_latency_cycles + net.die_crossing_latency_cycles}


def test_multicast_shares_links():
    positions = {"a": (1, 2), "b": (5, 2), "c": (6, 2), "d": (5, 4)}
    route = route_streams("small", positions, [Stream("m", "a", ("b", "c", "d"))]).routes["m"]
    assert route.hops == {"b": 4, "c": 5, "d": 6}
    assert len(route.links) == 4 + 1 + 2  # not 4 + 5 + 6: the branches share the trunk
    assert_tree(route, positions)


def test_congestion_negotiation_resolves_what_shortest_paths_overload():
    # three streams between the same two units in one row: the straight path is the only shortest
    # one and has 2 tracks on `small`, so shortest paths alone put 3 streams on it
    positions = {"a": (1, 2), "b": (5, 2)}
    streams = [Stream(f"s{i}", "a", ("b",)) for i in range(3)]
    with pytest.raises(RoutingError, match=r"is needed by 3 streams but has 2 tracks \(1 over\)"):
        route_streams("small", positions, streams, max_rounds=1)  # shortest paths, no negotiation
    result = route_streams("small", positions, streams)
    assert max(link_usage(result).values()) <= load_chip("small").network.vector_tracks
    assert sorted(r.hops["b"] for r in result.routes.values()) == [4, 4, 6]  # one detour, the rest straight
    for route in result.routes.values():
        assert_tree(route, positions)


def test_vector_and_scalar_networks_have_separate_tracks():
    positions = {"a": (1, 2), "b": (5, 2)}
    streams = [Stream(f"v{i}", "a", ("b",), "vector") for i in range(2)] + [
        Stream(f"q{i}", "a", ("b",), "scalar") for i in range(2)
    ]
    result = route_streams("small", positions, streams)
    assert all(r.hops["b"] == 4 for r in result.routes.values())


def test_many_random_streams_respect_capacities():
    chip = load_chip("small")
    rng = np.random.default_rng(0)
    positions = {f"u{i}": (s.x, s.y) for i, s in enumerate(chip.grid.sites)}
    names = list(positions)
    streams = []
    for i in range(30):
        ends = rng.choice(len(names), size=int(rng.integers(2, 4)), replace=False)
        streams.append(Stream(f"s{i}", names[ends[0]], tuple(names[j] for j in ends[1:]), "vector" if i % 3 else "scalar"))
    result = route_streams(chip, positions, streams)
    tracks = {"vector": chip.network.vector_tracks, "scalar": chip.network.scalar_tracks}
    for (network, _), used in link_usage(result).items():
        assert used <= tracks[network]
    for route in result.routes.values():
        assert_tree(route, positions)
        for unit, hops in route.hops.items():
            (sx, sy), (dx, dy) = positions[route.source], positions[unit]
            assert hops >= abs(sx - dx) + abs(sy - dy)
    assert result.to_json()["streams"]["s1"]["hops"]


# -- diagnoses ---------------------------------------------------------------------------------


def one_line_error(*args, **kwargs) -> str:
    with pytest.raises(RoutingError) as err:
        route_streams(*args, **kwargs)
    message = str(err.value)
    assert "\n" not in message and message.startswith("routing: ")
    assert isinstance(err.value, ValueError)
    return message


def test_too_many_streams_leaving_a_unit():
    positions = {"a": (1, 2), "b": (5, 2)}
    message = one_line_error("small", positions, [Stream(f"s{i}", "a", ("b",)) for i in range(9)])
    assert "9 vector streams leave switch (1,2) (unit a) but its 4 outgoing links carry 8 vector tracks (1 over)" in message
    assert "s0, s1" in message


def test_too_many_streams_arriving_at_a_corner_unit():
    positions = {"c": (1, 0)} | {f"u{i}": (3 + i % 5, 1 + i // 5) for i in range(7)}
    streams = [Stream(f"s{i}", f"u{i}", ("c",)) for i in range(7)]
    message = one_line_error("small", positions, streams)
    assert "7 vector streams arrive at switch (1,0) (unit c) but its 3 incoming links carry 6 vector tracks (1 over)" in message


def test_too_many_streams_across_a_die_boundary():
    chip = load_chip("sn40l")
    capacity = chip.grid.columns * chip.network.vector_tracks
    positions = {}
    streams = []
    for i in range(capacity + 3):  # distinct units so no single switch is the bottleneck
        positions[f"lo{i}"] = (i % chip.grid.columns, 20 - i // chip.grid.columns)
        positions[f"hi{i}"] = (i % chip.grid.columns, 30 + i // chip.grid.columns)
        streams.append(Stream(f"s{i}", f"lo{i}", (f"hi{i}",)))
    message = one_line_error(chip, positions, streams)
    assert f"{capacity + 3} vector streams must cross from row 25 to row 26 (a die boundary)" in message
    assert f"carry {capacity} vector tracks (3 over)" in message


def test_unresolvable_congestion_names_the_link_and_streams():
    positions = {"a": (1, 2), "b": (5, 2)}
    message = one_line_error("small", positions, [Stream(f"s{i}", "a", ("b",)) for i in range(3)], max_rounds=1)
    assert "vector link (1,2)->(2,2) is needed by 3 streams but has 2 tracks (1 over) after 1 negotiation round: s0, s1, s2" in message


@pytest.mark.parametrize(
    ("stream", "fragment"),
    [
        (Stream("s", "a", ("zz",)), "names unit zz, which has no placed position"),
        (Stream("s", "a", ("b",), "optical"), "unknown network 'optical'"),
        (Stream("s", "a", ()), "has no destination"),
        (Stream("s", "a", ("b", "b")), "lists a destination twice"),
    ],
)
def test_malformed_streams(stream, fragment):
    assert fragment in one_line_error("small", {"a": (1, 1), "b": (2, 1)}, [stream])
