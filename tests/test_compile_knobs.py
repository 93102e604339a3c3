"""The compile knobs (placer, tile size, FIFO depth): pass options in the pipeline, visible in the
bitstream, and a forced shallow FIFO deadlocks on purpose with the wait-for cycle named."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from compiler.driver import CompileOptions, compile_model
from functional_sim import simulate

EXAMPLES = Path(__file__).parent.parent / "examples"


def test_knobs_become_pass_options():
    assert CompileOptions().pipeline() == (
        "rdu-target{chip=sn40l},canonicalize,rdu-fuse,rdu-lower,rdu-plan-memory,rdu-allocate-units,rdu-size-fifos,"
        "rdu-tile,rdu-place{seed=0},rdu-route,rdu-size-fifos-for-routes,rdu-section")
    knobs = CompileOptions(opt_level=0, seed=3, placer="random", tile_bytes=512, fifo_depth=4).pipeline()
    assert "rdu-allocate-units{tile-bytes=512},rdu-size-fifos{depth=4},rdu-tile,rdu-place{seed=3 random=true}" in knobs
    assert "rdu-place{seed=0 greedy=true}" in CompileOptions(placer="greedy").pipeline()
    with pytest.raises(ValueError, match="placer 'annealing' is not available"):
        CompileOptions(placer="annealing").pipeline()


def test_print_pipeline_shows_the_knobs():
    result = CliRunner().invoke(main, ["compile", str(EXAMPLES / "mlp.py"), "--print-pipeline", "--placer", "greedy",
                                       "--tile-bytes", "256", "--fifo-depth", "3"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "rdu-allocate-units{tile-bytes=256},rdu-size-fifos{depth=3},rdu-tile,rdu-place{seed=0 greedy=true}" in result.output


def test_forced_tile_and_depth_are_in_the_bitstream_and_change_cycles():
    chosen = compile_model(EXAMPLES / "mlp.py", CompileOptions(placer="greedy")).bitstream
    forced = compile_model(EXAMPLES / "mlp.py", CompileOptions(placer="greedy", tile_bytes=256, fifo_depth=3)).bitstream
    assert all(st.tile_bytes == min(256, st.nbytes) for st in forced.streams)
    assert all(st.fifo_depth == 3 for st in forced.streams)
    assert {st.fifo_depth for st in chosen.streams} != {3}
    assert simulate(forced, None, execute=False).cycles != simulate(chosen, None, execute=False).cycles


def test_random_placement_is_legal_seeded_and_differs():
    def sites(**kw):
        bs = compile_model(EXAMPLES / "mlp.py", CompileOptions(**kw)).bitstream
        simulate(bs, None, execute=False)  # the static checks accept it
        return [st.sites for st in bs.stages], bs.manifest["placement"]["method"]

    first, method = sites(placer="random", seed=1)
    assert method == "random"
    assert sites(placer="random", seed=1)[0] == first
    assert sites(placer="random", seed=2)[0] != first
    assert sites(placer="greedy")[0] != first


def test_reconvergent_paths_are_sized_so_attention_runs_with_configured_fifos():
    compiled = compile_model(EXAMPLES / "attention.py", CompileOptions())
    deep = [st for st in compiled.bitstream.streams if st.fifo_depth > 2]
    assert deep, "the residual and softmax paths need FIFOs deeper than a double buffer"
    result = simulate(compiled.bitstream, None, execute=False, fifos="configured")
    assert all(not k.fifo_growth for k in result.kernels)


def test_fifo_depth_one_deadlocks_attention_with_the_cycle_named():
    result = CliRunner().invoke(main, ["run", str(EXAMPLES / "attention.py"), "--fifo-depth", "1"],
                                catch_exceptions=False)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output
    line = lines[0]
    assert line.startswith("error: deadlock in kernel '")
    assert "waits for a credit on stream" in line and "FIFO 1/1 tiles" in line
    assert "(id " in line and "pmu (" in line and "pcu (" in line  # stage, unit and site
    assert "(a FIFO on a reconvergent path is too shallow)" in line


def test_grow_stays_available_for_experiments():
    result = CliRunner().invoke(main, ["run", str(EXAMPLES / "attention.py"), "--fifo-depth", "1", "--fifos", "grow",
                                       "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
