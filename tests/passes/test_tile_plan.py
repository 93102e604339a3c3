"""Tile choice (`passes.allocate_units.tile_plan`): a PMU holding b bytes of a stream hands them on
in tiles of T bytes, paying c cycles per tile, and the consumer waits for the first tile (T / w
cycles), so the cost is T/w + (b/T)c, least at T = sqrt(b c w); T is clamped to at least one
vector, at most half the PMU's SRAM (double buffering) and at most the stream. The buffer
reserves 2T bytes per PMU."""

from __future__ import annotations

from dataclasses import replace
from math import ceil, isqrt

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chip_model import load_chip
from passes.allocate_units import tile_plan

SMALL = load_chip("small")  # 16 lanes (vector 64 B), 64 KiB SRAM, 64 B/cycle, 4 cycles per tile
SN40L = load_chip("sn40l")


def vector(chip) -> int:
    return chip.pcu.lanes * 4


def cost(tile: np.ndarray | int, per_unit: int, chip) -> np.ndarray | float:
    pmu = chip.pmu
    return tile / pmu.bytes_per_cycle + per_unit / tile * pmu.tile_overhead_cycles


def test_the_unclamped_tile_is_sqrt_b_c_w() -> None:
    # 16 KiB per PMU on the small chip: sqrt(16384 * 4 * 64) = 2048.
    assert tile_plan(16384, 1, SMALL) == (4096, 2048)
    # Spread over 4 PMUs, each holds 4 KiB: sqrt(4096 * 4 * 64) = 1024.
    assert tile_plan(16384, 4, SMALL) == (2048, 1024)


def test_a_tile_is_at_least_one_vector() -> None:
    # On both shipped chips c*w exceeds a vector, so sqrt(bcw) >= one vector whenever the stream
    # is: the floor binds only for PMUs with a narrow port and cheap tiles, as here (w=8, c=1):
    # sqrt(200 * 1 * 8) = 40 bytes, less than a 16-lane fp32 vector (64 bytes).
    narrow = replace(SMALL, pmu=replace(SMALL.pmu, bytes_per_cycle=8, tile_overhead_cycles=1))
    assert tile_plan(200, 1, narrow) == (128, vector(SMALL))
    assert vector(SMALL) == 64


def test_a_tile_is_never_larger_than_the_stream() -> None:
    # 40 bytes per PMU: less than a vector, so the whole stream is one tile.
    assert tile_plan(40, 1, SMALL) == (80, 40)
    assert tile_plan(400, 10, SMALL) == (80, 40)


def test_a_tile_is_at_most_half_the_sram() -> None:
    # sqrt(2**30 * 4 * 64) = 2**19 bytes, far beyond half of a 64 KiB PMU.
    per_pmu, tile = tile_plan(2**30, 1, SMALL)
    assert tile == SMALL.pmu.sram_bytes // 2
    assert per_pmu == SMALL.pmu.sram_bytes  # double buffered: two tiles fill the PMU exactly


def test_without_a_per_tile_cost_the_smallest_tile_wins() -> None:
    free_tiles = replace(SMALL, pmu=replace(SMALL.pmu, tile_overhead_cycles=0))
    assert tile_plan(16384, 1, free_tiles)[1] == vector(SMALL)


@settings(max_examples=200, deadline=None)
@given(nbytes=st.integers(1, 2**34), units=st.integers(1, 64), chip=st.sampled_from([SMALL, SN40L]),
       overhead=st.integers(0, 64))
def test_the_tile_minimises_the_documented_cost(nbytes: int, units: int, chip, overhead: int) -> None:
    chip = replace(chip, pmu=replace(chip.pmu, tile_overhead_cycles=overhead))
    per_pmu, tile = tile_plan(nbytes, units, chip)
    b = ceil(nbytes / units)
    lo, hi = min(vector(chip), b), min(b, chip.pmu.sram_bytes // 2)
    assert lo <= tile <= hi
    assert per_pmu == min(chip.pmu.sram_bytes, 2 * tile)
    # Every integer tile size the clamps allow (sampled where there are too many).
    grid = np.unique(np.concatenate([np.arange(lo, min(hi, lo + 4096) + 1),
                                     np.linspace(lo, hi, 20001).round(),
                                     [max(lo, min(hi, isqrt(b * overhead * chip.pmu.bytes_per_cycle) + d))
                                      for d in (-1, 0, 1, 2)]]))
    best = float(np.min(cost(grid.astype(np.float64), b, chip)))
    # sqrt(bcw) is truncated to whole bytes, so the best whole tile is this one or the next.
    assert min(cost(tile, b, chip), cost(min(tile + 1, hi), b, chip)) <= best * (1 + 1e-12)


@pytest.mark.parametrize("chip", [SMALL, SN40L], ids=["small", "sn40l"])
def test_reservation_always_fits_one_pmu(chip) -> None:
    for nbytes in (1, 63, 64, 4096, 10**6, 10**9, 10**12):
        per_pmu, tile = tile_plan(nbytes, 1, chip)
        assert 2 * tile <= chip.pmu.sram_bytes and per_pmu <= chip.pmu.sram_bytes
