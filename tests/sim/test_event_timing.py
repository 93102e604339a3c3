"""The discrete-event timing engine: FIFOs with credits, shared links and tiers, deadlocks, batching, traces."""

import random
from dataclasses import replace

import pytest

from bitstream_format import Bitstream
from chip_model import load_chip
from functional_sim import SimulationError, simulate
from functional_sim.bandwidth import MIN_WINDOW
from functional_sim.event_timing import event_kernel_timing
from tests.sim.builder import ProgramBuilder


def timed(bs: Bitstream, **kw):
    return simulate(bs, [], execute=False, **kw)


def body(result) -> int:
    """Cycles of the kernels' bodies, without launches and program loads."""
    return sum(k.cycles - k.launch_cycles for k in result.kernels)


def with_streams(bs: Bitstream, **changes) -> Bitstream:
    """Every stream changed; a PMU buffer's stream keeps the credits its buffer holds at the new tile size."""
    def credits(st) -> dict:
        src = bs.stage(st.src)
        if "tile_bytes" not in changes or "fifo_depth" in changes or src.unit != "pmu" or not src.buffer_bytes:
            return {}
        tile = min(changes["tile_bytes"], st.nbytes) or st.nbytes
        return {"fifo_depth": max(1, src.buffer_bytes * len(src.sites) // tile)}
    return replace(bs, streams=[replace(st, **changes, **credits(st)) for st in bs.streams])


def chain(shape=(64, 64), ops=("neg", "exp", "neg"), tile_bytes: int | None = None, out_tier: str = "hbm",
          hops: int = 1) -> Bitstream:
    pb = ProgramBuilder()
    x = pb.tensor("x", "f32", shape, role="input")
    k = pb.kernel("chain")
    v = k.load(x)
    for op in ops:
        v = k.op(op, v, out=("f32", shape), label=op, hops=hops)
    if out_tier != "none":  # "none": the value stays on chip, so the load is the tier's only user
        k.store(v, pb.tensor("y", "f32", shape, role="output", tier=out_tier))
    bs = pb.build()
    return with_streams(bs, tile_bytes=tile_bytes) if tile_bytes else bs


def reconvergent(shape=(64, 16), buffer_bytes: int | None = None, out_tier: str = "hbm") -> Bitstream:
    """x -> sum -> add, x -> add: `add` needs the sum (all of x) before it takes x's first tile."""
    pb = ProgramBuilder()
    x = pb.tensor("x", "f32", shape, role="input")
    k = pb.kernel("residual")
    v = k.load(x, label="x")
    if buffer_bytes is not None:
        v = k.op("buffer", v, out=("f32", shape), buffer_bytes=buffer_bytes, label="xbuf")
    total = k.op("sum", v, out=("f32", (1, 1)), attrs={"dims": [], "keepdim": True}, label="a")
    added = k.op("add", v, total, out=("f32", shape), label="add")
    if out_tier != "none":
        k.store(added, pb.tensor("y", "f32", shape, role="output", tier=out_tier))
    return pb.build()


def test_event_timing_is_the_default_and_analytic_stays_available():
    bs = chain()
    event, analytic = timed(bs), timed(bs, timing="analytic")
    assert event.timing == "event" and analytic.timing == "analytic"
    assert event.kernels[0].timing == "event" and event.kernels[0].events > 0
    with pytest.raises(SimulationError, match="timing must be one of event, analytic, got 'roofline'"):
        timed(bs, timing="roofline")
    with pytest.raises(SimulationError, match="fifos must be one of grow, configured"):
        timed(bs, fifos="deep")


def test_record_has_busy_and_stall_per_stage_and_names_the_bound():
    pb = ProgramBuilder()
    a = pb.tensor("a", "f32", (64, 64), role="input")
    b = pb.tensor("b", "f32", (64, 64), role="input")
    c = pb.tensor("c", "f32", (64, 64), role="output")
    k = pb.kernel("mm")
    k.store(k.op("matmul", k.load(a), k.load(b), out=("f32", (64, 64)), label="mm"), c)
    rec = timed(pb.build()).kernels[0]
    mm = next(s for s in rec.stages if s.label == "mm")
    assert rec.bound == "compute" and rec.bound_by == "stage 'mm' (id 2)"
    assert mm.cycles >= -(-2 * 64**3 // 192)  # its work, plus per-tile overhead
    assert mm.stall_input_cycles > 0  # it waits for the loads' first tiles (HBM latency)
    assert rec.cycles == rec.launch_cycles + rec.fill_cycles + rec.steady_cycles


def two_chains() -> Bitstream:
    """Two load-neg-store chains: four AGCUs on one HBM tier."""
    pb = ProgramBuilder()
    xs = [pb.tensor(f"x{i}", "f32", (128, 128), role="input") for i in range(2)]
    ys = [pb.tensor(f"y{i}", "f32", (128, 128), role="output") for i in range(2)]
    k = pb.kernel("two")
    for x, y in zip(xs, ys):
        k.store(k.op("neg", k.load(x), out=("f32", (128, 128))), y)
    return with_streams(pb.build(), tile_bytes=4096)


def test_loads_and_stores_share_the_memory_tier():
    one = timed(chain((128, 128), ops=("neg",), tile_bytes=4096))
    two = timed(two_chains())
    tier = two.kernels[0]
    assert tier.bound == "hbm"
    assert tier.tier_cycles["hbm"] == -(-4 * 128 * 128 * 4 // 100)  # every byte through the tier once
    assert body(two) >= tier.tier_cycles["hbm"]  # no faster than the tier serves every byte
    assert body(two) > 1.5 * body(one)  # twice the traffic through one tier


def shared_link_program(same_link: bool, streams: int = 3) -> Bitstream:
    """`streams` buffer -> neg streams (the small chip's links have 2 scalar tracks), each on link
    (3, y)->(4, y): all on y = 2, or each on its own row."""
    pb = ProgramBuilder()
    shape = (128, 128)
    xs = [pb.tensor(f"x{i}", "f32", shape, role="input") for i in range(streams)]
    ys = [pb.tensor(f"y{i}", "f32", shape, role="output") for i in range(streams)]
    k = pb.kernel("links")
    mids = []
    for x, y in zip(xs, ys):
        v = k.op("buffer", k.load(x), out=("f32", shape), buffer_bytes=8192)
        mid = k.op("neg", v, out=("f32", shape))
        mids.append(mid - 1)  # the buffer's output stream, which crosses the mesh to `neg`
        k.store(mid, y)
    bs = with_streams(pb.build(), tile_bytes=4096)
    links = {m: ((3, 2, 4, 2),) if same_link else ((3, 2 + i, 4, 2 + i),) for i, m in enumerate(mids)}
    return replace(bs, streams=[replace(st, links=links[st.id], network="scalar") if st.id in links else st
                                for st in bs.streams])


def test_more_streams_than_tracks_on_one_link_take_longer_than_on_separate_links():
    apart, together = timed(shared_link_program(False)), timed(shared_link_program(True))
    assert body(together) > body(apart)
    assert together.kernels[0].bound == "network" and together.kernels[0].bound_by == "link (3, 2)->(4, 2)"


def test_streams_within_a_links_tracks_do_not_slow_each_other():
    apart, together = timed(shared_link_program(False, 2)), timed(shared_link_program(True, 2))
    assert body(together) == body(apart)


def xy_links(a: tuple[int, int], b: tuple[int, int]) -> tuple[list[tuple[int, int, int, int]], int]:
    """Dimension-ordered route: x first, then y; the links (x0, y0, x1, y1) and the hop count."""
    links, (x, y) = [], a
    while x != b[0]:
        nx = x + (1 if b[0] > x else -1)
        links.append((x, y, nx, y))
        x = nx
    while y != b[1]:
        ny = y + (1 if b[1] > y else -1)
        links.append((x, y, x, ny))
        y = ny
    return links, len(links)


def routed(bs: Bitstream, sites: dict[int, tuple[tuple[int, int], ...]]) -> Bitstream:
    stages = [replace(s, sites=sites.get(s.id, s.sites)) for s in bs.stages]
    by_id = {s.id: s for s in stages}
    streams = []
    for st in bs.streams:
        links, hops = [], []
        for d in st.dsts:
            ls, h = xy_links(by_id[st.src].sites[0], by_id[d].sites[0])
            links += ls
            hops.append(h)
        streams.append(replace(st, links=tuple(links), hops=tuple(hops)))
    return replace(bs, stages=stages, streams=streams)


def test_a_random_shuffle_of_sites_costs_cycles_on_a_link_heavy_kernel():
    """Six buffer -> compute pairs placed side by side use six private one-hop links; shuffled
    (seed 1), their dimension-ordered routes are longer and two full-rate scalar flows share a
    link, and the run takes longer (on the small chip with links one full-rate stream wide, so that
    two flows on a link exceed its bandwidth and divide it; seeds whose shuffle shares links only
    with the slower loads cost hop latency alone, as they should)."""
    pb = ProgramBuilder()
    shape = (64, 128)
    k = pb.kernel("wide")
    for i in range(6):
        x = pb.tensor(f"x{i}", "f32", shape, role="input")
        y = pb.tensor(f"y{i}", "f32", shape, role="output")
        v = k.op("buffer", k.load(x), out=("f32", shape), buffer_bytes=8192)
        k.store(k.op("neg", v, out=("f32", shape)), y)
    bs = pb.build()
    bs = replace(bs, streams=[replace(st, network="scalar", tile_bytes=4096, fifo_depth=2)
                              if bs.stage(st.src).opcode == "buffer"
                              else st for st in bs.streams])
    chip = pb.chip
    pairs = [(s, bs.stage(bs.stream(s.outputs[0]).dsts[0])) for s in bs.stages if s.opcode == "buffer"]
    compact = {}
    for row, (buf, neg) in enumerate(pairs):  # PMU at (x, y) with its PCU neighbour at (x + 1, y)
        pmu = next(s for s in chip.sites_by_kind["pmu"] if s.y == row and chip.grid.sites and s.x < 8)
        compact[buf.id], compact[neg.id] = ((pmu.x, pmu.y),), ((pmu.x + 1, pmu.y),)
    placed = routed(bs, compact)
    rng = random.Random(1)
    pmus = [(s.x, s.y) for s in chip.sites_by_kind["pmu"]]
    pcus = [(s.x, s.y) for s in chip.sites_by_kind["pcu"]]
    rng.shuffle(pmus)
    rng.shuffle(pcus)
    shuffled = routed(bs, {buf.id: (pmus[i],) for i, (buf, _) in enumerate(pairs)}
                      | {neg.id: (pcus[i],) for i, (_, neg) in enumerate(pairs)})
    one_track = replace(chip, network=replace(chip.network, scalar_tracks=1, vector_tracks=1))
    near, far = timed(placed, chip=one_track), timed(shuffled, chip=one_track)
    assert sum(len(st.links) for st in shuffled.streams) > sum(len(st.links) for st in placed.streams)
    assert body(far) > 1.05 * body(near)
    assert sum(far.kernels[0].run[1].link_wait.values()) > 0 and not near.kernels[0].run[1].link_wait
    analytic_near, analytic_far = timed(placed, timing="analytic"), timed(shuffled, timing="analytic")
    assert analytic_far.cycles - analytic_near.cycles < 0.01 * analytic_near.cycles  # hop latency only


def test_tile_size_changes_cycles_non_monotonically():
    """Tiny tiles pay the per-tile overhead many times; huge tiles leave nothing to overlap."""
    sizes = [16, 64, 256, 1024, 4096, 65536]
    cycles = {t: body(timed(chain((128, 128), tile_bytes=t))) for t in sizes}
    best = min(cycles, key=cycles.get)
    assert best not in (sizes[0], sizes[-1])
    assert cycles[sizes[0]] > 1.2 * cycles[best] and cycles[sizes[-1]] > 1.2 * cycles[best]


def fifo_program(program: str, out_tier: str) -> Bitstream:
    if program == "chain":
        return chain((64, 64), ops=("neg", "exp", "sigmoid", "neg"), tile_bytes=256, out_tier=out_tier, hops=10)
    if program == "buffered":
        return reconvergent((64, 64), buffer_bytes=64 * 64 * 4, out_tier=out_tier)
    pb = ProgramBuilder()
    a = pb.tensor("a", "f32", (64, 64), role="input")
    k = pb.kernel("mm")
    la = k.load(a)
    # 8 PCUs: the matmul's 64 tiles (tile_timing) run fast enough for the credit round trips to show
    c = k.op("matmul", la, k.op("exp", la, out=("f32", (64, 64)), hops=10), out=("f32", (64, 64)), sites=8, hops=10)
    if out_tier != "none":
        k.store(c, pb.tensor("c", "f32", (64, 64), role="output", tier=out_tier))
    return with_streams(pb.build(), tile_bytes=512)


def with_depth(bs: Bitstream, depth: int) -> Bitstream:
    """Every FIFO not held in a PMU stage's buffer configured `depth` tiles deep."""
    def held(st) -> bool:
        src = bs.stage(st.src)
        return src.unit == "pmu" and src.buffer_bytes > 0
    return replace(bs, streams=[st if held(st) else replace(st, fifo_depth=depth) for st in bs.streams])


def fifo_sweep(bs: Bitstream) -> list[int]:
    """Long routes (10 hops) put a credit round trip of 20 cycles on every FIFO: depth matters."""
    return [body(timed(with_depth(bs, d))) for d in range(1, 9)]


@pytest.mark.parametrize("program", ["chain", "buffered", "matmul"])
def test_a_deeper_fifo_never_makes_a_run_slower(program):
    """Without a contended resource every time is a max-plus expression that a deeper FIFO only
    relaxes, so the run cannot get slower (the result stays on chip: the load is the tier's only user)."""
    runs = fifo_sweep(fifo_program(program, "none"))
    assert all(deeper <= shallower for shallower, deeper in zip(runs, runs[1:])), runs
    assert runs[-1] < runs[0] or program == "buffered"


@pytest.mark.parametrize("program", ["chain", "buffered", "matmul"])
def test_with_a_shared_tier_a_deeper_fifo_is_slower_by_at_most_one_bandwidth_window(program):
    runs = fifo_sweep(fifo_program(program, "hbm"))
    assert all(deeper <= shallower + MIN_WINDOW for shallower, deeper in zip(runs, runs[1:])), runs
    assert runs[-1] <= runs[0]


def test_a_shallow_fifo_on_a_reconvergent_path_deadlocks_with_the_cycle_named():
    bs = reconvergent()
    with pytest.raises(SimulationError) as err:
        timed(bs, fifos="configured")
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("deadlock in kernel 'residual': ")
    assert "stage 'x' (id 0, agcu (0, 0)) waits for a credit on stream 0 FIFO 2/2 tiles to 'add'" in message
    assert "stage 'add' (id 2, pcu" in message and "waits for a tile on stream 1 FIFO 0/2 tiles (has 0 of 1)" in message
    assert "stage 'a' (id 1, pcu" in message and "(has 2 of 16)" in message
    with pytest.raises(SimulationError, match="deadlock in kernel 'residual'"):
        timed(bs)  # configured FIFOs are the default
    grown = timed(bs, fifos="grow")  # for experiments: deepen the FIFO and say so
    assert grown.kernels[0].fifo_growth == {0: (2, 16)}
    assert "FIFO of stream 0 deepened from 2 to 16 tiles" in grown.summary()
    assert timed(reconvergent(buffer_bytes=64 * 16 * 4), fifos="configured").cycles > 0  # a whole-value buffer is deep enough


def test_a_deadlock_through_a_shallow_pmu_buffer_names_it():
    with pytest.raises(SimulationError, match=r"stage 'xbuf' \(id 1, pmu \(\d, \d\)\) waits for a credit on stream 1 FIFO 4/4 tiles"):
        timed(reconvergent(buffer_bytes=4 * 256), fifos="configured")


def _both(bs: Bitstream):
    chip = load_chip("small")
    for k in bs.kernels:
        yield (event_kernel_timing(bs, chip, k, 0, "software"),
               event_kernel_timing(bs, chip, k, 0, "software", batch=1, exact=True))


@pytest.mark.parametrize("program", ["chain", "reconvergent", "tiny tiles"])
def test_batched_runs_equal_the_unbatched_reference_without_contention(program):
    """The results stay on chip, so the load is the only user of its tier and no resource is shared."""
    bs = {"chain": chain((64, 64), tile_bytes=256, out_tier="none"),
          "reconvergent": reconvergent(buffer_bytes=64 * 16 * 4, out_tier="none"),
          "tiny tiles": chain((32, 32), ops=("exp",), tile_bytes=16, out_tier="none")}[program]
    for batched, reference in _both(bs):
        assert batched.cycles == reference.cycles
        assert batched.stage_cycles == reference.stage_cycles
        assert batched.events < reference.events


def test_batched_runs_stay_within_the_bound_under_contention():
    """AGCUs sharing a tier book their steps in the clock's order, as the reference does; a batch
    booked ahead took the windows before another AGCU's earlier requests (two chains: +2.5%)."""
    for bs in (shared_link_program(True), timed_two_loads(), two_chains()):
        for batched, reference in _both(bs):
            assert abs(batched.cycles - reference.cycles) <= 0.01 * reference.cycles
            assert batched.events < reference.events


def timed_two_loads() -> Bitstream:
    pb = ProgramBuilder()
    xs = [pb.tensor(f"x{i}", "f32", (64, 64), role="input") for i in range(2)]
    k = pb.kernel("two")
    k.store(k.op("add", k.load(xs[0]), k.load(xs[1]), out=("f32", (64, 64))),
            pb.tensor("y", "f32", (64, 64), role="output"))
    return pb.build()


def test_trace_has_a_track_per_stage_fifo_counters_and_stall_slices():
    result = timed(reconvergent(buffer_bytes=64 * 16 * 4))
    events = result.chrome_trace()["traceEvents"]
    tracks = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"residual: x (agcu x1)", "residual: xbuf (pmu x1)", "residual: a (pcu x1)", "residual: add (pcu x1)"} <= tracks
    counters = {e["name"] for e in events if e["ph"] == "C"}
    assert "fifo stream 1 -> add (cap 16)" in counters
    assert max(e["args"]["tiles"] for e in events if e["ph"] == "C" and e["name"] == "fifo stream 1 -> add (cap 16)") == 16
    stalls = [e for e in events if e.get("cat") == "stall"]
    assert any(e["name"] == "stall: input" for e in stalls)
    assert all(e["dur"] >= 0 for e in events if e["ph"] == "X")
