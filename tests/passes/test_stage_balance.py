"""Stage balancing (`passes.allocate_units.balance`): a kernel's pace is its slowest stage, so each
unit kind's units go to stages to minimise max(work_i / units_i), with 1 <= units_i <= cap_i and
the units of the chip as the total. Checked against brute force on every small case hypothesis
draws, and on cases small enough to reason about by hand."""

from __future__ import annotations

from itertools import product

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from passes.allocate_units import balance, spend_spare_on_early_loads


def pace(work: list[float], units: list[int]) -> float:
    return max(w / u for w, u in zip(work, units))


def best_pace(work: list[float], caps: list[int], total: int) -> float:
    """The optimum by trying every allocation."""
    ranges = [range(1, min(cap, total) + 1) for cap in caps]
    return min(pace(work, list(units)) for units in product(*ranges) if sum(units) <= total)


@st.composite
def balance_cases(draw):
    n = draw(st.integers(1, 4))
    total = draw(st.integers(n, 8))
    work = draw(st.lists(st.one_of(st.integers(0, 2000).map(float),
                                   st.floats(0.0, 1e4, allow_nan=False, allow_subnormal=False)),
                         min_size=n, max_size=n))
    caps = draw(st.lists(st.integers(1, 6), min_size=n, max_size=n))
    return work, caps, total


@settings(max_examples=150, deadline=None)
@given(balance_cases())
def test_balance_is_optimal_and_within_caps_and_total(case) -> None:
    work, caps, total = case
    units = balance(work, caps, total)
    assert len(units) == len(work)
    assert all(1 <= u <= cap for u, cap in zip(units, caps))
    assert sum(units) <= total
    assert pace(work, units) <= best_pace(work, caps, total) * (1 + 1e-9)


def test_units_follow_the_work() -> None:
    # 100 and 300 cycles over 4 units: 1 and 3 units give both stages a pace of 100.
    assert balance([100.0, 300.0], [8, 8], 4) == [1, 3]
    # A stage with three times the work gets three times the units.
    assert balance([10.0, 30.0, 20.0], [100, 100, 100], 12) == [2, 6, 4]


def test_a_stage_never_exceeds_its_cap_even_as_the_bottleneck() -> None:
    # The big stage may use only 2 units (more would each be busy too briefly), so its pace of
    # 500 is the kernel's although 8 units are left over.
    units = balance([1000.0, 100.0], [2, 10], 10)
    assert units[0] == 2
    assert pace([1000.0, 100.0], units) == 500.0


def test_every_stage_gets_its_cap_when_the_chip_has_units_to_spare() -> None:
    assert balance([5.0, 50.0, 0.0], [1, 3, 2], 24) == [1, 3, 2]


def test_a_stage_without_work_still_gets_one_unit() -> None:
    assert balance([0.0, 0.0], [4, 4], 2) == [1, 1]


def test_no_stages_no_units() -> None:
    assert balance([], [], 4) == []


def test_more_stages_than_units_is_refused() -> None:
    # AllocateUnitsPass reports this case as a CapacityError before balancing; balance itself
    # refuses rather than returning an allocation that breaks the total.
    with pytest.raises(ValueError, match="more stages than units"):
        balance([1.0, 1.0, 1.0], [1, 1, 1], 2)


def test_spare_agcus_go_to_the_loads_read_first() -> None:
    """Llama-2-7B decode's shape: 7 tiny loads (cap 1), six 33 MB loads and three 90 MB loads
    (cap 9 each: HBM feeds 9 AGCUs), a store, 26 AGCUs; balance leaves 4 over, and they go to
    the first big loads in program order (Q, K, V weights, then the K cache)."""
    work = [64, 64, 262144, 262144, 262144, 2, 2, 262144, 262144, 64, 262144, 64, 704512, 704512, 704512, 64]
    caps = [1, 1, 9, 9, 9, 1, 1, 9, 9, 1, 9, 1, 9, 9, 9, 1]
    is_load = [True] * 15 + [False]
    units = balance(work, caps, 26)
    assert units == [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3, 3, 3, 1]
    spent = spend_spare_on_early_loads(is_load, units, caps, 26)
    assert spent == [1, 1, 2, 2, 2, 1, 1, 2, 1, 1, 1, 1, 3, 3, 3, 1]


def test_spare_agcus_go_round_again_and_stop_at_caps_and_stores() -> None:
    spent = spend_spare_on_early_loads([True, True, False], [1, 1, 1], [3, 2, 9], 9)
    assert spent == [3, 2, 1]  # two rounds; the store is not grown; 3 AGCUs stay spare at the caps
    assert spend_spare_on_early_loads([True, True], [2, 2], [9, 9], 4) == [2, 2]  # nothing spare
