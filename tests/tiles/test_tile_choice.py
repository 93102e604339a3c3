"""The compiler chooses tiles by the cost the simulator charges (one function,
`bitstream_format.tiling.loop_cycles`), matmul cycles follow the dataflow's operand reuse, and a
tile program that overruns a PMU's SRAM is refused at compile time naming the stage."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from bitstream_format import decode, encode, itemsize
from bitstream_format.tiling import TileLoop, matmul_cycles, matmul_operand_reads
from chip_model import load_chip
from compiler.cli import main
from compiler.driver import CompileOptions, compile_model
from functional_sim import simulate
from functional_sim.tile_timing import stage_tiling

SN40L = load_chip("sn40l")

WIDE = '''
import torch
from torch import nn


class Wide(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (torch.relu(x) * 2.0).reshape(-1, 64) + 1.0


model = Wide()
example_inputs = (torch.randn(64, 1024),)
'''

PROJECTION = '''
import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(1024, 1024, bias=False)
example_inputs = (torch.randn(1000, 1024),)
'''


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_tile_bytes_16x_the_chosen_tile_is_refused_at_compile_time_naming_the_stage(tmp_path):
    model = write(tmp_path, "wide.py", WIDE)
    chosen = compile_model(model, CompileOptions(chip="small")).bitstream
    reshape = next(s for s in chosen.stages if s.opcode == "reshape")
    tile = chosen.stream(reshape.inputs[0]).tile_bytes
    out = tmp_path / "wide.rbit"
    result = CliRunner().invoke(main, ["compile", str(model), "--chip", "small", "-o", str(out),
                                       "--tile-bytes", str(16 * tile)], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    # the first stage whose tiles overrun its PMUs is named, by rdu-allocate-units (a buffer's two
    # tiles) or rdu-tile (a buffer's ring, a stage that passes tiles through:
    # tests/ir/tile_stream_too_large.mlir)
    assert re.fullmatch(rf"error: (tile-bytes={16 * tile} tile-scale=1.0|rdu-tile): (buffer|reshape) stage in kernel "
                        rf"forward .*{16 * tile}.* bytes per PMU, but a PMU (of chip 'small' )?has 65536 bytes of SRAM",
                        lines[0]), lines[0]
    assert not out.exists()


def test_the_simulator_charges_a_matmul_what_the_compiler_priced(tmp_path):
    bs = compile_model(write(tmp_path, "proj.py", PROJECTION), CompileOptions(chip="sn40l")).bitstream
    linear = next(s for s in bs.stages if s.opcode == "linear")
    prog = bs.tile_program(linear.id)
    elem = itemsize(bs.stream(linear.inputs[0]).dtype)
    assert prog.kind == "matmul"
    assert stage_tiling(bs, SN40L, linear).work == matmul_cycles(prog, len(linear.sites), elem, SN40L)


def test_whole_rounds_of_tiles_over_the_pcus_cost_cycles():
    """598 tiles on 190 PCUs run in 4 rounds, the last a sixth full; 570 run in 3."""
    def loop(m_tiles: int, n_tiles: int) -> TileLoop:
        return TileLoop("matmul", (1, m_tiles, n_tiles, 8), (64, 64, 512), "b,m,n,k", "k-accumulate", "a")

    assert matmul_cycles(loop(23, 26), 190, 2, SN40L) == 4 / 3 * matmul_cycles(loop(19, 30), 190, 2, SN40L)


@pytest.mark.parametrize("m", [1, 256])
def test_operand_reuse_sets_the_bytes_read_and_the_cycles(m):
    """Output-stationary with the A slab held across a row of tiles reads B once per tile row and
    A once; without reuse both slabs are read for every tile. On an operand-bound tile (decode's
    one row) the missing reuse costs cycles, and it always costs PMU bytes."""
    held = TileLoop("matmul", (1, max(1, m // 64), 16, 4), (min(m, 64), 64, 256), "b,m,n,k", "k-accumulate", "a")
    none = replace(held, reuse="")
    a_held, b_held = matmul_operand_reads(held, 2)
    a_none, b_none = matmul_operand_reads(none, 2)
    assert (a_none, b_none) == (a_held * 16, b_held)
    assert matmul_cycles(none, 8, 2, SN40L) >= matmul_cycles(held, 8, 2, SN40L)
    if m == 1:  # one row: the operands, not the MACs, set the pace
        assert matmul_cycles(none, 8, 2, SN40L) > matmul_cycles(held, 8, 2, SN40L)


def test_a_matmul_without_operand_reuse_takes_longer_in_the_event_simulation(tmp_path):
    """The compiled 1000 x 1024 projection with its tile program set to narrow 4 x 32 output tiles
    (operand-bound: a K chunk's MACs take 683 cycles, its operands 1,028 with A's slab held and
    1,152 without), once with A's slab held across the row of tiles and once without reuse: the
    event simulation charges the missing reuse."""
    bs = compile_model(write(tmp_path, "proj.py", PROJECTION), CompileOptions(chip="sn40l")).bitstream
    linear = next(s for s in bs.stages if s.opcode == "linear")

    def cycles(reuse: str) -> int:
        edited = decode(encode(bs))
        edited.tiles = [replace(t, grid=(1, 250, 32, 1), tile=(4, 32, 1024), reuse=reuse) if t.stage == linear.id else t
                        for t in edited.tiles]
        return simulate(decode(encode(edited)), None, execute=False).cycles

    assert cycles("") > cycles("a")


def test_each_unit_pays_the_tile_overhead_for_its_own_tiles(tmp_path):
    """A buffer's ring spreads its tiles over its PMUs, each of which pays the per-tile overhead for
    its own: halving the PMUs doubles the overhead in the stage's initiation interval (the event
    graph charged every tile to the whole stage before, while the compiler's balanced tile and the
    analytic model counted tiles per PMU)."""
    from functional_sim.event_graph import kernel_graph

    bs = compile_model(write(tmp_path, "proj.py", PROJECTION), CompileOptions(chip="sn40l")).bitstream
    buffer = max((s for s in bs.stages if s.opcode == "buffer"), key=lambda s: len(s.sites))
    units, tiles = len(buffer.sites), -(-bs.stream(buffer.outputs[0]).nbytes // bs.stream(buffer.outputs[0]).tile_bytes)
    assert units >= 4 and tiles > units

    def overhead_in_interval(stage_sites) -> float:
        edited = replace(bs, stages=[replace(s, sites=stage_sites) if s.id == buffer.id else s for s in bs.stages])
        g = kernel_graph(edited, SN40L, edited.kernels[0])
        i = g.stage_ids.index(buffer.id)
        return g.interval[i] * g.steps[i] - stage_tiling(edited, SN40L, edited.stage(buffer.id)).work

    overhead = SN40L.pmu.tile_overhead_cycles
    assert overhead_in_interval(buffer.sites) == pytest.approx(overhead * -(-tiles // units))
    assert overhead_in_interval(buffer.sites[: units // 2]) == pytest.approx(overhead * -(-tiles // (units // 2)))
