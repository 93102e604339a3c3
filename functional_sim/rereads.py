"""Matmul operands re-streamed from HBM (bitstream 3.3, TILE passes): who carries how many passes.

A matmul whose operands both overflow their PMU buffers holds one of them in blocks and takes the
other from HBM once per block (`bitstream_format.tiling.reread_plan`, docs/bitstream.md "passes
table"): its load walks its address pattern `passes` times and the buffer behind it passes every
pass on. Everything that moves those bytes pays for each pass: the memory tier and the AGCUs
(`timing.agcu_tier_bytes`), the links and the buffer's PMUs (a stream carries `passes` times its
tiles, `event_graph`). `stream_passes` is the one answer all of them use; `check_rereads`
rejects, before anything runs, a bitstream whose matmul and load disagree on the count.
"""

from __future__ import annotations

from bitstream_format import Bitstream, StageConfig, StreamEntry
from bitstream_format.tiling import matmul_dims

from functional_sim.checks import stage_name
from functional_sim.errors import SimulationError


def program_passes(bs: Bitstream, sid: int) -> int:
    prog = bs.tile_program(sid)
    return prog.passes if prog is not None else 1


def stream_passes(bs: Bitstream, st: StreamEntry) -> int:
    """How many times the stream carries its value: its load's passes, through a buffer too."""
    src = bs.stage(st.src)
    if src.opcode == "load":
        return max(1, program_passes(bs, src.id))
    if src.opcode == "buffer" and src.inputs:
        return stream_passes(bs, bs.stream(src.inputs[0]))
    return 1


def restreamed_load(bs: Bitstream, s: StageConfig, port: int) -> StageConfig | None:
    """The load behind a matmul's operand `port` through one buffer, each feeding only the next."""
    st = bs.stream(s.inputs[port])
    buffer = bs.stage(st.src)
    if buffer.opcode != "buffer" or st.dsts != (s.id,) or not buffer.inputs:
        return None
    into = bs.stream(buffer.inputs[0])
    load = bs.stage(into.src)
    return load if load.opcode == "load" and into.dsts == (buffer.id,) else None


def check_rereads(bs: Bitstream) -> None:
    """Every pass count agrees: a matmul re-streaming operand X in P passes gets X from a load
    walked P times (through a buffer feeding it alone), and a load walked more than once feeds
    exactly such a matmul. One `SimulationError` naming the stage otherwise."""
    fed: dict[int, int] = {}  # load stage id -> passes a matmul asks of it
    for s in bs.stages:
        prog = bs.tile_program(s.id)
        if prog is None:
            continue
        if prog.passes < 1:
            raise SimulationError(f"{stage_name(s)}: its tile program runs {prog.passes} passes; at least 1")
        if not prog.restream:
            if prog.passes != 1 and s.opcode != "load":
                raise SimulationError(f"{stage_name(s)}: its tile program runs {prog.passes} passes but re-streams "
                                      f"no operand; only a matmul re-streaming one, or a load, repeats")
            continue
        port = "ab".index(prog.restream)
        dims = None
        if prog.kind == "matmul" and len(s.inputs) >= 2:
            a, b = bs.stream(s.inputs[0]), bs.stream(s.inputs[1])
            dims = matmul_dims(s.opcode, tuple(a.shape), tuple(b.shape))
        load = restreamed_load(bs, s, port) if dims is not None else None
        if load is None:
            raise SimulationError(f"{stage_name(s)}: it re-streams operand {prog.restream!r} in {prog.passes} passes, "
                                  f"but that operand does not come from a load through a buffer feeding it alone")
        rows, cols, _ = dims
        if prog.passes > (rows if prog.restream == "b" else cols):
            raise SimulationError(f"{stage_name(s)}: {prog.passes} passes are more blocks than its stationary "
                                  f"operand's {rows if prog.restream == 'b' else cols} "
                                  f"{'rows' if prog.restream == 'b' else 'columns'}")
        fed[load.id] = prog.passes
    for s in bs.stages:
        if s.opcode != "load":
            continue
        walks, want = program_passes(bs, s.id), fed.get(s.id, 1)
        if walks != want:
            raise SimulationError(f"{stage_name(s)}: its address pattern is walked {walks} time(s), but the matmul it "
                                  f"feeds re-streams it in {want} pass(es)")
