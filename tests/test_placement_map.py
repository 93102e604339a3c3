"""`rducc inspect --map K --svg F`: a kernel's placement drawn on the floor plan."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from compiler.cli import main

MODEL = Path(__file__).parents[1] / "examples" / "mlp.py"


def test_map_draws_every_site_and_the_kernel(tmp_path: Path) -> None:
    rbit, svg = tmp_path / "m.rbit", tmp_path / "m.svg"
    assert CliRunner().invoke(main, [str(MODEL), "-o", str(rbit)]).exit_code == 0
    result = CliRunner().invoke(main, ["inspect", str(rbit), "--map", "k0_linear_x3", "--svg", str(svg)])
    assert result.exit_code == 0, result.output
    text = svg.read_text()
    assert text.startswith("<svg") and "k0_linear_x3 on small" in text
    assert text.count("<rect") >= 60  # every site of the small chip, plus the legend
    assert "linear" in text and "<line" in text


def test_unknown_kernel_is_a_user_error(tmp_path: Path) -> None:
    rbit = tmp_path / "m.rbit"
    CliRunner().invoke(main, [str(MODEL), "-o", str(rbit)])
    result = CliRunner().invoke(main, ["inspect", str(rbit), "--map", "nope", "--svg", str(tmp_path / "x.svg")])
    assert result.exit_code == 2 and "no kernel named 'nope'" in result.stderr
    assert not (tmp_path / "x.svg").exists()
