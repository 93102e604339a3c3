"""The chip specs load into typed objects with the paper's figures, and bad specs are rejected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from chip_model import ChipSpecError, available_chips, load_chip
from compiler.cli import main


def test_bundled_chips() -> None:
    assert {"sn40l", "small"} <= set(available_chips())


def test_sn40l_matches_the_paper() -> None:
    chip = load_chip("sn40l")
    assert chip.count("pcu") == 1040 and chip.count("pmu") == 1040
    assert abs(chip.peak_flops - 638e12) / 638e12 < 0.01
    assert chip.tier("sram").capacity_bytes == 520_000_000
    assert chip.tier("hbm").bytes_per_second == 1.8e12
    assert chip.tier("ddr").bytes_per_second == 2.0e11
    assert chip.tier("hbm").capacity_bytes == 64 * 2**30


def test_every_unpublished_figure_is_marked_as_an_assumption() -> None:
    text = (Path(load_chip("sn40l").source)).read_text()
    for key in ("clock_hz", "lanes", "banks", "vector_link_bytes_per_cycle", "software_launch_cycles"):
        line = next(line for line in text.splitlines() if line.strip().startswith(key))
        assert "assumption" in line, line


def test_small_chip_is_a_checkerboard() -> None:
    chip = load_chip("small")
    kinds = {(s.x, s.y): s.kind for s in chip.grid.sites}
    for (x, y), kind in kinds.items():
        if kind in ("pcu", "pmu") and (x + 1, y) in kinds and kinds[(x + 1, y)] in ("pcu", "pmu"):
            assert kinds[(x + 1, y)] != kind


def test_chip_json_lists_sites() -> None:
    result = CliRunner().invoke(main, ["chip", "sn40l", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    kinds = [s["kind"] for s in data["sites"]]
    assert kinds.count("pcu") == 1040 and kinds.count("pmu") == 1040 and kinds.count("agcu") > 0
    assert set(data["sites"][0]) == {"x", "y", "kind"}


def test_chip_text_view() -> None:
    result = CliRunner().invoke(main, ["chip", "small"])
    assert result.exit_code == 0 and "24 PCUs" in result.output and "HBM" in result.output


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (("lanes = 16", "lanes = -16"), "must be positive"),
        (("lanes = 16", "lanes = 0"), "must be positive"),
        (("lanes = 16", "lanes = \"sixteen\""), "must be a number"),
        (("clock_hz = 1.0e9", "clock_hz = -1.0"), "clock_hz must be a positive number"),
        (('pattern = "checkerboard"', 'pattern = "spiral"'), "unknown region pattern"),
        (("x = [1, 8]", "x = [1, 12]"), "outside the grid"),
        (('tier = "ddr"', 'tier = "flash"'), "memory tiers must be exactly"),
        (("banks = 8\n", ""), "missing ['banks']"),
    ],
)
def test_invalid_specs_are_rejected(tmp_path: Path, patch: tuple[str, str], message: str) -> None:
    text = Path(load_chip("small").source).read_text()
    assert patch[0] in text
    spec = tmp_path / "bad.toml"
    spec.write_text(text.replace(patch[0], patch[1], 1))
    with pytest.raises(ChipSpecError, match=message.replace("[", r"\[").replace("]", r"\]")):
        load_chip(str(spec))
