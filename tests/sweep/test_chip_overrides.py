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
    assert not any(n.startswith("grid") for n in names)


@pytest.mark.parametrize(("overrides", "needles"), [
    ({"pmu.sram": 1}, ["'pmu.sram' names no field of the chip spec", "pmu.sram_bytes"]),
    ({"memory.sram.bytes_per_second": 1.0}, ["names no field"]),
    ({"grid.columns": 12}, ["names no field"]),
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


def test_unknown_base_chip() -> None:
    with pytest.raises(SweepError, match="unknown chip 'nope'"):
        base_chip_path("nope")
