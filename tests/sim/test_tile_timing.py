"""Event timing reads the tile programs (functional_sim/tile_timing.py): tile shapes, reductions'
passes, whole-value stages and SRAM rings change cycles."""

from dataclasses import replace

import pytest

from bitstream_format import Bitstream
from chip_model import load_chip
from bitstream_format.tiling import default_tile_programs
from functional_sim import SimulationError, simulate
from functional_sim.tile_timing import stage_tiling
from tests.sim.builder import ProgramBuilder

SMALL = load_chip("small")


def timed(bs: Bitstream, **kw):
    return simulate(bs, [], execute=False, **kw)


def body(result) -> int:
    return sum(k.cycles - k.launch_cycles for k in result.kernels)


def with_program(bs: Bitstream, label: str, **changes) -> Bitstream:
    """The bitstream with the tile program of the stage labelled `label` edited."""
    sid = next(s.id for s in bs.stages if s.label == label)
    return replace(bs, tiles=[replace(t, **changes) if t.stage == sid else t for t in bs.tiles])


def program_of(bs: Bitstream, label: str):
    return bs.tile_program(next(s.id for s in bs.stages if s.label == label))


def matmul_program(m=64, k=64, n=64, sites=4) -> Bitstream:
    pb = ProgramBuilder()
    a = pb.tensor("a", "f32", (m, k), role="input")
    b = pb.tensor("b", "f32", (k, n), role="input")
    kb = pb.kernel("mm")
    c = kb.op("matmul", kb.load(a), kb.load(b), out=("f32", (m, n)), sites=sites, label="mm")
    kb.store(c, pb.tensor("c", "f32", (m, n), role="output"))
    return pb.build()


def test_a_matmul_with_its_tile_shape_halved_costs_more_cycles():
    bs = matmul_program()
    prog = program_of(bs, "mm")
    assert prog.kind == "matmul"
    b, mg, ng, kg = prog.grid
    mt, nt, kt = prog.tile
    halved = with_program(bs, "mm", grid=(b, mg * 2, ng, kg), tile=(mt // 2, nt, kt))
    mm = next(s for s in bs.stages if s.label == "mm")
    # more tiles of the same MACs: each pays the PCU's fill/drain, and small tiles leave stages idle
    assert stage_tiling(halved, SMALL, mm).work > stage_tiling(bs, SMALL, mm).work
    assert body(timed(halved)) > body(timed(bs))


def test_matmul_work_counts_tiles_over_the_stage_pcus():
    """Twice the PCUs take about half the tiles each (the per-tile cost does not change)."""
    one, two = matmul_program(sites=2), matmul_program(sites=4)
    w1 = stage_tiling(one, SMALL, next(s for s in one.stages if s.label == "mm")).work
    w2 = stage_tiling(two, SMALL, next(s for s in two.stages if s.label == "mm")).work
    assert w2 < w1 <= 2 * w2 + 1e-9


def test_a_two_pass_softmax_pays_its_normalising_pass():
    pb = ProgramBuilder()
    x = pb.tensor("x", "f32", (8, 4096), role="input")
    kb = pb.kernel("sm")
    y = kb.op("softmax", kb.load(x), out=("f32", (8, 4096)), attrs={"dim": -1}, label="sm", sites=2)
    kb.store(y, pb.tensor("y", "f32", (8, 4096), role="output"))
    bs = pb.build()  # 256-byte tiles: a 16 KiB row runs in chunks, so the softmax is online + a second pass
    prog = program_of(bs, "sm")
    assert prog.kind == "rows" and prog.reduce == "two-pass"
    one_pass = with_program(bs, "sm", reduce="running")
    sm = next(s for s in bs.stages if s.label == "sm")
    assert stage_tiling(bs, SMALL, sm).work > stage_tiling(one_pass, SMALL, sm).work
    assert body(timed(bs)) > body(timed(one_pass))


def chain_program(shape=(64, 64), hops=1) -> Bitstream:
    pb = ProgramBuilder()
    x = pb.tensor("x", "f32", shape, role="input")
    kb = pb.kernel("chain")
    v = kb.load(x, label="x")
    v = kb.op("neg", v, out=("f32", shape), label="neg", hops=hops)
    v = kb.op("exp", v, out=("f32", shape), label="exp", hops=hops)
    kb.store(v, pb.tensor("y", "f32", shape, role="output"), label="y")
    return pb.build()


def test_a_whole_value_stage_breaks_the_pipeline():
    bs = chain_program()
    streaming = timed(bs).kernels[0]
    whole_bs = with_program(bs, "exp", kind="whole", grid=(1,), tile=(64, 64), order="whole", reduce="none")
    whole = timed(whole_bs).kernels[0]
    by = {s.label: s for s in whole.stages}
    # exp starts only once neg has produced its last tile, so the run is at least the two in series
    assert by["exp"].first_cycle >= by["neg"].last_cycle
    assert whole.cycles - whole.launch_cycles >= by["neg"].cycles + by["exp"].cycles
    assert whole.cycles > streaming.cycles
    s_by = {s.label: s for s in streaming.stages}
    assert s_by["exp"].first_cycle < s_by["neg"].last_cycle  # streaming overlaps them


def buffered_program(hops=12) -> Bitstream:
    """x -> buffer (a PMU ring) -> neg, with a long route: the ring's slots are the credits that hide
    the round trip."""
    pb = ProgramBuilder()
    shape = (64, 64)
    x = pb.tensor("x", "f32", shape, role="input")
    kb = pb.kernel("ring")
    v = kb.op("buffer", kb.load(x, label="x"), out=("f32", shape), buffer_bytes=4 * 256, label="buf")
    v = kb.op("neg", v, out=("f32", shape), label="neg", hops=hops)
    kb.store(v, pb.tensor("y", "f32", shape, role="output"), label="y")
    return pb.build()


def test_a_buffers_ring_slots_are_its_fifo_credits():
    bs = buffered_program()
    prog = program_of(bs, "buf")
    assert prog.sram_slots >= 2
    runs = [body(timed(with_program(bs, "buf", sram_slots=k))) for k in (1, 2, prog.sram_slots)]
    assert runs[0] > runs[1] >= runs[2]


@pytest.mark.parametrize("tile_bytes", [256, 1024, 4096, 16384])
def test_analytic_and_event_engines_agree_on_a_streaming_chain(tile_bytes):
    """docs/simulator.md, "Where the engines disagree": on a chain of elementwise ops the event run
    is the analytic figure plus the per-tile overheads of the slowest stage (an AGCU: the analytic
    engine counts none), within 12% (pipeline fill: a tile of each stage and the tier's latency)."""
    bs = chain_program(shape=(512, 512))
    bs = replace(bs, streams=[replace(st, tile_bytes=tile_bytes) for st in bs.streams])
    bs.tiles = default_tile_programs(bs, SMALL.pcu.lanes, SMALL.pmu.sram_bytes)
    tiles = 512 * 512 * 4 // tile_bytes
    event = body(timed(bs))
    analytic = body(timed(bs, timing="analytic"))
    expected = analytic + tiles * SMALL.agcu.tile_overhead_cycles
    assert abs(event - expected) <= 0.12 * analytic, (event, analytic, expected)


@pytest.mark.parametrize("kind", ["stream", "whole"])
def test_pmu_and_agcu_stages_keep_their_stream_rate(kind):
    """Only compute tiles and whole-value stages change a stage's work: loads and buffers move bytes."""
    bs = buffered_program()
    from functional_sim.timing import stage_work_cycles

    buf = next(s for s in bs.stages if s.label == "buf")
    x = next(s for s in bs.stages if s.label == "x")
    edited = with_program(bs, "buf", kind=kind)
    assert stage_tiling(edited, SMALL, buf).work == stage_work_cycles(bs, SMALL, buf)
    assert stage_tiling(edited, SMALL, buf).whole == (kind == "whole")
    assert stage_tiling(bs, SMALL, x).work == stage_work_cycles(bs, SMALL, x)


def test_inspect_lists_every_stages_tile_program(tmp_path):
    """`rducc inspect BS --section tiles [--json]`: loop, SRAM range and patterns per stage."""
    import json

    from click.testing import CliRunner

    from bitstream_format import encode
    from compiler.cli import main

    bs = buffered_program()
    path = tmp_path / "ring.rbit"
    path.write_bytes(encode(bs))
    text = CliRunner().invoke(main, ["inspect", str(path), "--section", "tiles"])
    assert text.exit_code == 0, text.output
    lines = text.output.splitlines()
    assert lines[0] == f"tile programs: {len(bs.tiles)} stages"
    buf = program_of(bs, "buf")
    row = next(line for line in lines if line.rstrip().endswith(" buf"))
    assert f"stream grid=[{buf.grid[0]}]" in row and f"{buf.sram_slots} slot(s) x {buf.sram_tile} B" in row
    assert sum(line.startswith("      sram: ") for line in lines) == 2  # the ring's write and read patterns
    assert sum(line.startswith("      hbm: ") for line in lines) == 2  # the load's and the store's
    doc = json.loads(CliRunner().invoke(main, ["inspect", str(path), "--section", "tiles", "--json"]).output)
    assert [t["stage"] for t in doc["tiles"]] == [s.id for s in bs.stages]
    ring = next(t for t in doc["tiles"] if t["label"] == "buf")
    assert (ring["kind"], ring["sram_slots"], ring["sram_end"]) == ("stream", buf.sram_slots, buf.sram_base + buf.sram_bytes)
    assert ring["patterns"][0]["space"] == "sram"


def residual_around_whole(depth: int) -> Bitstream:
    """x -> neg -> exp(whole) -> add, x -> add: the join needs x's FIFO to hold all of x when exp
    is a pipeline break."""
    pb = ProgramBuilder()
    shape = (64, 64)
    x = pb.tensor("x", "f32", shape, role="input")
    kb = pb.kernel("res")
    v = kb.load(x, label="x")
    e = kb.op("exp", kb.op("neg", v, out=("f32", shape), label="neg"), out=("f32", shape), label="exp")
    kb.store(kb.op("add", v, e, out=("f32", shape), label="add"), pb.tensor("y", "f32", shape, role="output"))
    bs = pb.build()
    bs = replace(bs, streams=[replace(st, fifo_depth=depth) for st in bs.streams])
    return with_program(bs, "exp", kind="whole", grid=(1,), tile=shape, order="whole", reduce="none")


def test_a_residual_too_shallow_for_a_pipeline_break_deadlocks_and_says_where():
    """A whole-value stage takes all of its input before it emits, so the residual around it needs
    the whole value on its short path. rdu-size-fifos gives it that or spills it through HBM
    (tests/passes/test_spill.py); a bitstream that does neither deadlocks, named, rather than
    being run as if the stage streamed."""
    tiles = 64 * 64 * 4 // 256
    with pytest.raises(SimulationError, match=r"deadlock in kernel 'res': stage 'x' .* waits for a credit on stream 0 FIFO 2/2 tiles to 'add'"):
        timed(residual_around_whole(2))
    deep = timed(residual_around_whole(tiles)).kernels[0]
    by = {s.label: s for s in deep.stages}
    assert by["exp"].first_cycle >= by["neg"].last_cycle


def test_only_the_reader_that_is_a_pipeline_break_holds_the_whole_stream():
    """x feeds a whole-value stage and, directly, the join: the break's SRAM holds all of x at its
    own input, but the join's FIFO of x keeps the configured credits, so too few deadlock."""
    def residual(depth: int) -> Bitstream:
        pb = ProgramBuilder()
        shape = (64, 64)
        x = pb.tensor("x", "f32", shape, role="input")
        kb = pb.kernel("res")
        v = kb.load(x, label="x")
        e = kb.op("exp", v, out=("f32", shape), label="exp")
        kb.store(kb.op("add", v, e, out=("f32", shape), label="add"), pb.tensor("y", "f32", shape, role="output"))
        bs = pb.build()
        bs = replace(bs, streams=[replace(st, fifo_depth=depth) for st in bs.streams])
        return with_program(bs, "exp", kind="whole", grid=(1,), tile=shape, order="whole", reduce="none")

    with pytest.raises(SimulationError, match=r"deadlock in kernel 'res': .*FIFO 2/2 tiles to 'add'"):
        timed(residual(2))
    assert timed(residual(64 * 64 * 4 // 256)).cycles > 0
