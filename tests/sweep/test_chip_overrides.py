"""Chip spec fields overridden by dotted name, validated by chip_model's own loader."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from chip_model import available_chips, load_chip, load_chip_file
from compiler.sweep.chip_overrides import OverriddenChip, base_chip_path, field_names, load_chip_data, to_toml
from compiler.sweep.errors import SweepError


@pytest.mark.parametrize("chip", available_chips())
def test_written_toml_loads_to_the_same_chip(chip: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chip.toml"
        path.write_text(to_toml(load_chip_data(base_chip_path(chip))))
        assert load_chip_file(path) == load_chip(chip)


def test_overrides_reach_the_loaded_spec() -> None:
    chip = OverriddenChip(base_chip_path("sn40l"), {"memory.hbm.bytes_per_second": 3.0e12, "pmu.sram_bytes": 1_000_000,
                                                    "pcu.lanes": 16, "clock_hz": 2.0e9})
    spec = chip.spec
    assert spec.tier("hbm").bytes_per_second == 3.0e12
    assert spec.tier("ddr").bytes_per_second == load_chip("sn40l").tier("ddr").bytes_per_second
    assert (spec.pmu.sram_bytes, spec.pcu.lanes, spec.clock_hz) == (1_000_000, 16, 2.0e9)
    assert spec.name.startswith("sn40l-") and spec.name == chip.name
    assert spec.count("pcu") == load_chip("sn40l").count("pcu")


def test_an_integer_is_accepted_for_a_float_field() -> None:
    assert OverriddenChip(base_chip_path("small"), {"memory.hbm.bytes_per_second": 200_000_000_000}).spec.tier(
        "hbm").bytes_per_second == 2e11


def test_same_overrides_same_digest_different_overrides_different() -> None:
    base = base_chip_path("small")
    a, b = OverriddenChip(base, {"pmu.sram_bytes": 4096}), OverriddenChip(base, {"pmu.sram_bytes": 4096})
    c = OverriddenChip(base, {"pmu.sram_bytes": 8192})
    assert a.digest == b.digest != c.digest
    assert OverriddenChip(base, {}).name == "small"


def test_field_names_cover_tables_and_memory_tiers() -> None:
    names = field_names(load_chip_data(base_chip_path("small")))
    assert {"pcu.lanes", "pmu.sram_bytes", "memory.hbm.bytes_per_second", "memory.ddr.capacity_bytes", "clock_hz"} <= set(names)
    assert [n for n in names if n.startswith("grid")] == ["grid.columns", "grid.rows"]


@pytest.mark.parametrize(("columns", "pcus"), [(22, 520), (42, 1040), (62, 1560)])
def test_grid_columns_set_the_unit_counts(columns: int, pcus: int) -> None:
    """A wider floor plan is a wider checkerboard with the AGCU columns still on both edges."""
    spec = OverriddenChip(base_chip_path("sn40l"), {"grid.columns": columns}).spec
    assert (spec.count("pcu"), spec.count("pmu"), spec.grid.columns) == (pcus, pcus, columns)
    agcu_x = {s.x for s in spec.sites_by_kind["agcu"]}
    assert agcu_x == {0, columns - 1} and spec.count("agcu") == load_chip("sn40l").count("agcu")


def test_grid_rows_keep_the_dies() -> None:
    spec = OverriddenChip(base_chip_path("sn40l"), {"grid.rows": 26}).spec
    assert (spec.count("pcu"), spec.grid.die_rows) == (520, 13)
    assert all(s.y < 26 for s in spec.grid.sites)


@pytest.mark.parametrize(("overrides", "needles"), [
    ({"pmu.sram": 1}, ["'pmu.sram' names no field of the chip spec", "pmu.sram_bytes"]),
    ({"memory.sram.bytes_per_second": 1.0}, ["names no field"]),
    ({"grid.columns": 12.5}, ["grid.columns: value 12.5 is a number", "is an integer"]),
    ({"grid.columns": 2}, ["axis grid.columns: a floor plan needs at least 3, got 2"]),
    ({"grid.region": 2}, ["names no field"]),
    ({"pmu.sram_bytes": 1.5}, ["pmu.sram_bytes: value 1.5 is a number", "is an integer"]),
    ({"memory.hbm.bytes_per_second": "fast"}, ["value 'fast' is a string", "is a number"]),
    ({"pcu.lanes": True}, ["is a boolean"]),
    ({"pmu.sram_bytes": -1}, ["pmu.sram_bytes = -1", "sram_bytes must be positive"]),
    ({"memory.hbm.bytes_per_second": float("inf")}, ["not a finite number"]),
])
def test_bad_overrides_are_named(overrides: dict, needles: list[str]) -> None:
    with pytest.raises(SweepError) as info:
        OverriddenChip(base_chip_path("small"), overrides)
    for needle in needles:
        assert needle in str(info.value)


def test_rows_must_split_into_the_dies() -> None:
    with pytest.raises(SweepError, match="27 rows do not split into the chip's 2 dies"):
        OverriddenChip(base_chip_path("sn40l"), {"grid.rows": 27})


def test_unknown_base_chip() -> None:
    with pytest.raises(SweepError, match="unknown chip 'nope'"):
        base_chip_path("nope")
