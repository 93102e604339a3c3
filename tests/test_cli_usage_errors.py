"""A command line click refuses is a user error like any other: one `error:` line naming the cause
and the command's --help, exit 2, no usage block, nothing written; `rducc` alone still shows the help."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from compiler.cli import main
from tests.test_cli_errors import assert_user_error

MLP = Path(__file__).parents[1] / "examples" / "mlp.py"


@pytest.mark.parametrize(("args", "needles"), [
    (["run", str(MLP), "--rtol", "-1"], ["invalid value for '--rtol'", "(see 'rducc run --help')"]),
    (["run", str(MLP), "--bogus"], ["no such option '--bogus'", "(see 'rducc run --help')"]),
    (["sim"], ["missing argument 'BITSTREAM'", "(see 'rducc sim --help')"]),
    (["frobnicate"], ["no such command 'frobnicate'", "(see 'rducc --help')"]),
    (["coe", "nosuch"], ["no such command 'nosuch'", "(see 'rducc coe --help')"]),
    (["compile", str(MLP), "-O", "3", "-o", "never.rbit"], ["invalid value for '-O'", "(see 'rducc compile --help')"]),
])
def test_a_refused_command_line_is_one_error_line(args, needles, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, args, prog_name="rducc", catch_exceptions=False)
    line = assert_user_error(result, *needles)
    assert "Usage:" not in result.output and line.count("error:") == 1
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_rducc_alone_shows_the_help() -> None:
    result = CliRunner().invoke(main, [], prog_name="rducc")
    assert "Usage: rducc [OPTIONS] COMMAND" in result.output and "error:" not in result.output


def test_a_known_pass_with_bad_options_is_not_told_the_pass_list(tmp_path) -> None:
    """Only an unknown pass name gets the list of known passes; bad options point to `rducc passes`."""
    ir = tmp_path / "m.mlir"
    ir.write_text("builtin.module {}\n")
    line = assert_user_error(CliRunner().invoke(main, ["opt", str(ir), "-p", "rdu-fuse{max-ops=x}"], catch_exceptions=False),
                             "bad pass pipeline 'rdu-fuse{max-ops=x}'", "(see `rducc passes` for each pass's options)")
    assert "known passes" not in line
    assert_user_error(CliRunner().invoke(main, ["opt", str(ir), "-p", "rdu-fuse,rdu-nosuch"], catch_exceptions=False),
                      "Unrecognized passes: ['rdu-nosuch']", "known passes: rdu-allocate-units")
