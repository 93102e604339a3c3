"""`spread_heads` prices a join's candidate head by its producers' flows in, each counted once.

The producers' flows into the join are priced inside `assign`, from the unit each producer would
make its head. Adding the join's head-net length in from the producers' present heads as well
counts every producer-to-join distance twice, the second time from a head that is about to move;
that pulls the join's head towards where the producers' heads are now rather than where they go.
Likewise a producer's other head nets (from its own producers, to its other readers) are one set
of nets however many streams it sends the join, so they are priced once, with its first stream.
"""

from backend_rdu.cycle_placement import _dist, spread_heads
from tests.backend.test_cycle_congestion import Kernel, Stage, join_of


def test_a_joins_head_is_priced_by_the_producer_head_it_gets_not_also_by_the_present_one():
    # one producer of two units, one join of two units, one full-rate flow under the bandwidth
    # (no excess term): the producer's second unit lies 1 hop from the join's second unit, its
    # first (the present head) 3 hops from the join's first
    producer = [(0, 0), (10, 0)]
    join = [(0, 3), (10, 1)]
    # each join head with its best producer head: the true price of the one flow
    price = {h: min(_dist(p, h) for p in producer) for h in join}
    assert price == {(0, 3): 3, (10, 1): 1}
    # the double count adds the distance from the present head, unit 0: 3 + 3 = 6 against 1 + 11 = 12
    doubled = {h: price[h] + _dist(producer[0], h) for h in join}
    assert doubled == {(0, 3): 6, (10, 1): 12}

    new = spread_heads(join_of(1), [producer, join], {(0, 0)}, [[1.0], []], 4.0)
    assert new[1][0] == (10, 1)  # the cheaper join head, 1 hop from its producer ...
    assert new[0][0] == (10, 0)  # ... whose head moves next to it
    assert sorted(new[0]) == sorted(producer) and sorted(new[1]) == sorted(join)  # only heads change


def test_a_producers_other_head_nets_count_once_however_many_streams_it_sends_the_join():
    # source S (one unit) -> producer P (two units, both outputs read by the join J of two units).
    # P's net from S does not depend on how many streams P sends J, so it is priced once:
    # J's head at (0, 6) takes P's unit (0, 1): 2 flows x 5 hops + 1 hop from S = 11;
    # at (8, 0) it takes P's unit (7, 0): 2 x 1 + 7 = 9, the cheaper. Counting S's net once per
    # stream into J makes them 12 and 16 and picks the other.
    source, producer, join = Stage(), Stage(2), Stage(0)
    source.readers = {0: [producer]}
    producer.readers = {0: [join], 1: [join]}
    sites = [[(0, 0)], [(0, 1), (7, 0)], [(0, 6), (8, 0)]]
    for h, u, price, doubled in (((0, 6), (0, 1), 11, 12), ((8, 0), (7, 0), 9, 16)):
        flows, from_source = 2 * _dist(u, h), _dist((0, 0), u)
        assert (flows + from_source, flows + 2 * from_source) == (price, doubled)
    new = spread_heads(Kernel([source, producer, join]), sites, {(1, 0)}, [[1.0], [1.0, 1.0], []], 4.0)
    assert new[2][0] == (8, 0) and new[1][0] == (7, 0)
    assert new[0] == [(0, 0)]
