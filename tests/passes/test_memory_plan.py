"""Memory planning (`passes.plan_memory`): lifetimes are kernel-index intervals; `first_fit` gives
tensors whose lifetimes overlap disjoint, aligned address ranges and lets the others share; when
HBM is full, activations (inputs and outputs included) spill to DDR before any weight, smallest
first; a tensor no tier can hold is an error naming it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xdsl.dialects.builtin import StringAttr

from compiler.textual_ir import parse_ir
from dialects import make_context, rdu
from dialects.diagnostics import CapacityError
from passes.plan_memory import ALIGN, Lifetime, first_fit, lifetimes
from passes.registry import run_pipeline

SMALL_SPEC = Path(__file__).parents[2] / "chip_model" / "specs" / "small.toml"


# --- first_fit on bare intervals ----------------------------------------------------------------


@dataclass
class Named:
    """What first_fit reads of a tensor: its name, the last tie-break of the packing order."""

    sym_name: StringAttr


def interval(name: str, nbytes: int, first: int, last: int) -> Lifetime:
    return Lifetime(Named(StringAttr(name)), nbytes, first, last)  # type: ignore[arg-type]


@st.composite
def interval_sets(draw) -> list[Lifetime]:
    n = draw(st.integers(1, 12))
    items = []
    for i in range(n):
        first = draw(st.integers(-1, 8))
        last = draw(st.integers(first, 9))
        items.append(interval(f"t{i}", draw(st.integers(0, 5000)), first, last))
    return items


@settings(max_examples=300, deadline=None)
@given(interval_sets())
def test_overlapping_lifetimes_never_share_bytes(items: list[Lifetime]) -> None:
    offsets, peak = first_fit(items)
    assert set(offsets) == {id(i) for i in items}
    for i in items:
        assert offsets[id(i)] % ALIGN == 0
        assert offsets[id(i)] + i.nbytes <= peak
    assert peak == max((offsets[id(i)] + i.nbytes for i in items), default=0)
    for a in items:
        for b in items:
            if a is not b and a.overlaps(b) and a.nbytes and b.nbytes:
                a_lo, b_lo = offsets[id(a)], offsets[id(b)]
                assert a_lo + a.nbytes <= b_lo or b_lo + b.nbytes <= a_lo, (a, b)


@settings(max_examples=200, deadline=None)
@given(interval_sets())
def test_the_peak_is_no_worse_than_giving_every_tensor_its_own_range(items: list[Lifetime]) -> None:
    _, peak = first_fit(items)
    aligned = sum(-(-i.nbytes // ALIGN) * ALIGN for i in items)
    live_at = [sum(i.nbytes for i in items if i.first <= k <= i.last) for k in range(-1, 10)]
    assert max(live_at) <= peak <= aligned


def test_disjoint_lifetimes_share_an_address() -> None:
    a, b = interval("a", 1000, 0, 1), interval("b", 1000, 2, 3)
    offsets, peak = first_fit([a, b])
    assert offsets[id(a)] == offsets[id(b)] == 0
    assert peak == 1000


def test_lifetimes_meeting_in_one_kernel_overlap() -> None:
    # A kernel that reads one tensor and writes another needs both at once.
    a, b = interval("a", 1000, 0, 1), interval("b", 1000, 1, 2)
    offsets, peak = first_fit([a, b])
    assert {offsets[id(a)], offsets[id(b)]} == {0, 1024}  # the second starts at the next 64-byte boundary
    assert peak == 2024


def test_largest_first_and_lowest_free_address() -> None:
    # big lives throughout; small1 and small2 do not overlap each other, so both sit right after it.
    big, small1, small2 = interval("big", 4096, -1, 5), interval("s1", 100, 0, 1), interval("s2", 100, 3, 4)
    offsets, peak = first_fit([small1, small2, big])
    assert offsets[id(big)] == 0
    assert offsets[id(small1)] == offsets[id(small2)] == 4096
    assert peak == 4196


# --- lifetimes and spilling on lowered IR -------------------------------------------------------

# Three linears, one kernel each (-O0): sizes are all distinct, so which tensor spills is unambiguous.
#   x 8 KiB (input), t0 24 KiB, t1 12 KiB (activations), output 32 KiB; w1 12 MiB, w2 18 MiB, w3 24 MiB.
CHAIN = """
func.func @forward(%x: tensor<2x1024xf32>) -> tensor<2x4096xf32> {
  %w1 = rgraph.weight "w1" : tensor<3072x1024xf32>
  %w2 = rgraph.weight "w2" : tensor<1536x3072xf32>
  %w3 = rgraph.weight "w3" : tensor<4096x1536xf32>
  %0 = rgraph.linear %x, %w1 : (tensor<2x1024xf32>, tensor<3072x1024xf32>) -> tensor<2x3072xf32>
  %1 = rgraph.linear %0, %w2 : (tensor<2x3072xf32>, tensor<1536x3072xf32>) -> tensor<2x1536xf32>
  %2 = rgraph.linear %1, %w3 : (tensor<2x1536xf32>, tensor<4096x1536xf32>) -> tensor<2x4096xf32>
  func.return %2 : tensor<2x4096xf32>
}
"""
WEIGHTS = ("weight", "constant")
WEIGHT_NAMES = {"w1", "w2", "w3"}


def plain(attr) -> str:
    """A string attribute's value, or an enum attribute's."""
    data = attr.data
    return getattr(data, "value", data)


def lowered(text: str, chip: str = "small"):
    ctx = make_context()
    module = parse_ir(ctx, text)
    run_pipeline(ctx, module, f"rdu-target{{chip={json.dumps(chip)}}},rdu-lower")
    return ctx, module


def planned(text: str, chip: str):
    ctx, module = lowered(text, chip)
    run_pipeline(ctx, module, "rdu-plan-memory")
    return module


def tensor_ops(module) -> list[rdu.TensorOp]:
    return [op for op in module.body.block.ops if isinstance(op, rdu.TensorOp)]


def chip_with_hbm(tmp: Path, capacity: int) -> str:
    text = SMALL_SPEC.read_text()
    assert "capacity_bytes = 268_435_456" in text
    path = tmp / f"hbm{capacity}.toml"
    path.write_text(text.replace('name = "small"', f'name = "hbm{capacity}"')
                    .replace("capacity_bytes = 268_435_456", f"capacity_bytes = {capacity}"))
    return str(path)


def test_lifetimes_are_kernel_intervals() -> None:
    _, module = lowered(CHAIN)
    spans = {(plain(item.tensor.role), item.nbytes): (item.first, item.last) for item in lifetimes(module)}
    kernels = 3
    assert spans == {
        ("input", 8 * 1024): (-1, 0),  # live from the start, last read by kernel 0
        ("activation", 24 * 1024): (0, 1),  # written by kernel 0, last read by kernel 1
        ("activation", 12 * 1024): (1, 2),
        ("output", 32 * 1024): (2, kernels),  # the caller reads it after the last kernel
        ("weight", 12 * 2**20): (-1, kernels),  # weights stay for the next run
        ("weight", 18 * 2**20): (-1, kernels),
        ("weight", 24 * 2**20): (-1, kernels),
    }


def _ddr(module) -> set[str]:
    return {t.sym_name.data for t in tensor_ops(module) if plain(t.tier) == "ddr"}


def test_hbm_shrinking_spills_activations_first_and_keeps_what_fits(tmp_path: Path) -> None:
    weights = 54 * 2**20
    capacities = [weights + 128 * 1024, weights + 48 * 1024, weights + 24 * 1024, weights,
                  weights - 1, 30 * 2**20, 13 * 2**20, 2**20]
    seen_spills = set()
    for capacity in capacities:
        module = planned(CHAIN, chip_with_hbm(tmp_path, capacity))
        ddr = _ddr(module)
        items = {i.tensor.sym_name.data: i for i in lifetimes(module)}
        hbm = [t for t in tensor_ops(module) if plain(t.tier) == "hbm"]
        hbm_items = [items[t.sym_name.data] for t in hbm]
        for name in ddr:
            # Nothing in DDR would fit back into HBM beside what is there (no overshoot) ...
            assert first_fit([*hbm_items, items[name]])[1] > capacity, (capacity, name)
            # ... and a weight in DDR would not fit even if every activation left HBM for it.
            if name in WEIGHT_NAMES:
                weights_in_hbm = [i for i in hbm_items if i.tensor.sym_name.data in WEIGHT_NAMES]
                assert first_fit([*weights_in_hbm, items[name]])[1] > capacity, (capacity, name)
        seen_spills.add(len(ddr))
        weights_spilled = len(ddr & WEIGHT_NAMES)
        # The HBM plan fits HBM; overlapping tensors of one tier never share bytes.
        assert max((t.offset.value.data + items[t.sym_name.data].nbytes for t in hbm), default=0) <= capacity
        for tier in ("hbm", "ddr"):
            placed = [(items[t.sym_name.data], t.offset.value.data) for t in tensor_ops(module) if plain(t.tier) == tier]
            for a, a_off in placed:
                assert a_off % ALIGN == 0
                for b, b_off in placed:
                    if a is not b and a.overlaps(b):
                        assert a_off + a.nbytes <= b_off or b_off + b.nbytes <= a_off
    # The sweep went from nothing spilled, through activations only, to weights.
    assert 0 in seen_spills and 4 in seen_spills and weights_spilled == 3  # at 1 MiB no weight fits
    assert len(seen_spills) >= 5


def test_a_weight_that_fits_stays_in_hbm(tmp_path: Path) -> None:
    module = planned(CHAIN, chip_with_hbm(tmp_path, 13 * 2**20))
    assert "w1" not in _ddr(module)


def test_enough_hbm_spills_nothing(tmp_path: Path) -> None:
    assert _ddr(planned(CHAIN, "small")) == set()


def test_a_tensor_larger_than_every_tier_is_named_with_its_source() -> None:
    text = """
    func.func @forward(%x: tensor<4x1xf32>) -> tensor<4x1073741824xf32> {
      %0 = rgraph.expand %x : tensor<4x1xf32> -> tensor<4x1073741824xf32> loc("model.py":7:0)
      func.return %0 : tensor<4x1073741824xf32>
    }
    """
    with pytest.raises(CapacityError) as err:
        planned(text, "small")
    message = str(err.value)
    assert "needs 17,179,869,184 bytes but the largest tier holds 4,294,967,296" in message
    assert "(HBM 268,435,456, DDR 4,294,967,296)" in message
    assert message.endswith("(at model.py:7)")
    assert "\n" not in message


def test_tensors_that_fit_one_by_one_but_not_together(tmp_path: Path) -> None:
    # Two 64 KiB weights and a 16 KiB activation on a chip whose HBM and DDR hold 64 KiB each: each weight fits a tier,
    # the model does not.
    text = SMALL_SPEC.read_text().replace("capacity_bytes = 268_435_456", "capacity_bytes = 65_536") \
        .replace("capacity_bytes = 4_294_967_296", "capacity_bytes = 65_536").replace('name = "small"', 'name = "tiny"')
    chip = tmp_path / "tiny.toml"
    chip.write_text(text)
    graph = """
    func.func @forward(%x: tensor<2x8xf32>) -> tensor<2x8xf32> {
      %w1 = rgraph.weight "w1" : tensor<2048x8xf32>
      %w2 = rgraph.weight "w2" : tensor<8x2048xf32>
      %0 = rgraph.linear %x, %w1 : (tensor<2x8xf32>, tensor<2048x8xf32>) -> tensor<2x2048xf32>
      %1 = rgraph.linear %0, %w2 : (tensor<2x2048xf32>, tensor<8x2048xf32>) -> tensor<2x8xf32>
      func.return %1 : tensor<2x8xf32>
    }
    """
    with pytest.raises(CapacityError, match=r"the model needs [\d,]+ bytes of tensors .* but chip 'tiny' has "
                                            r"HBM 65,536 and DDR 65,536 bytes"):
        planned(graph, str(chip))
