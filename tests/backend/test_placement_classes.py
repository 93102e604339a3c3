"""Kernels that differ only in off-chip addresses (the layers of a model) are placed and routed once.

`rdu-place` places each `placement_class` once (with one member's budget, or the members' budgets
pooled under `pool=true`), and `rdu-route` routes once per structure and sites; these tests check the
class path against every kernel placed on its own with the class's budget, for both placers, that the shortcut is taken, and the budgets."""

import pytest

import backend_rdu.place_pass as place_pass
from backend_rdu.emit_bitstream import emit_bitstream
from dialects.kernel_signature import kernel_signature, kernel_structure
from bitstream_format import encode
from compiler.textual_ir import parse_ir
from dialects import make_context, rdu
from passes.registry import run_pipeline

# two exps of one shape, each its own kernel (no rdu-fuse): the second reads and writes other HBM addresses
TWO_LAYERS = """
func.func @forward(%x: tensor<64x64xf32>) -> tensor<64x64xf32> {
  %0 = rgraph.exp %x : tensor<64x64xf32> -> tensor<64x64xf32>
  %1 = rgraph.exp %0 : tensor<64x64xf32> -> tensor<64x64xf32>
  func.return %1 : tensor<64x64xf32>
}
"""
BEFORE_PLACE = "rdu-target{chip=small},rdu-lower,rdu-plan-memory,rdu-allocate-units,rdu-size-fifos,rdu-tile"
AFTER_PLACE = "rdu-route,rdu-size-fifos-for-routes,rdu-section"


def compiled(place: str):
    module = parse_ir(make_context(), TWO_LAYERS)
    run_pipeline(make_context(), module, BEFORE_PLACE)
    run_pipeline(make_context(), module, f"rdu-place{{{place}}},{AFTER_PLACE}")
    return module


def test_layers_differ_in_hbm_offsets_only():
    module = parse_ir(make_context(), TWO_LAYERS)
    run_pipeline(make_context(), module, BEFORE_PLACE)
    first, second = rdu.kernels(module)
    assert kernel_signature(first) != kernel_signature(second)  # each its own share of the budget, as before
    assert kernel_structure(first) == kernel_structure(second)


def counted_placer(monkeypatch) -> list[float]:
    """The budgets rdu-place's placer runs are given, in call order."""
    calls = []
    run_placer = place_pass.PlacePass.run_placer

    def counted(self, problem, seconds, netlist, start=None):
        calls.append(seconds)
        return run_placer(self, problem, seconds, netlist, start=start)

    monkeypatch.setattr(place_pass.PlacePass, "run_placer", counted)
    return calls


def every_kernel_its_own_class(monkeypatch, budget=None) -> None:
    """The slow path: every signature its own class, as rdu-place placed before classes; with
    `budget`, every kernel's placement gets that budget instead of its own share."""
    monkeypatch.setattr(place_pass, "placement_class", kernel_signature)
    if budget is not None:
        monkeypatch.setattr(place_pass, "class_budgets", lambda distinct, classes, seconds, pool: dict.fromkeys(distinct, budget))


@pytest.mark.parametrize("place", ["seed=1", "seed=1 objective=cycles rounds=1", "seed=1 pool=true",
                                   "seed=1 pool=true objective=cycles rounds=1"])
def test_a_class_is_placed_once_and_gives_what_placing_each_member_with_its_budget_gives(place, monkeypatch):
    # A class is placed once with one budget (a member's share, or with pool=true all members'
    # shares), and each member takes that placement; it is the one each member gets when placed on
    # its own with that budget: placement is a function of (netlist, budget, seed), and the
    # members' netlists are equal. (With pool=true that is not the slow path of wave 9, where each
    # member was placed with its own share.)
    calls = counted_placer(monkeypatch)
    fast = compiled(place)
    shared = list(calls)
    pooled = shared[0]
    every_kernel_its_own_class(monkeypatch, budget=pooled)
    slow = compiled(place)
    assert calls[len(shared):] == sorted(shared * 2, key=shared.index)  # the slow path placed both kernels, each alike
    fast_bits, slow_bits = emit_bitstream(fast), emit_bitstream(slow)
    fast_record, slow_record = fast_bits.manifest.pop("placement"), slow_bits.manifest.pop("placement")
    assert encode(fast_bits) == encode(slow_bits)  # everything but the placement record
    # the record says what each path did: the same budgets and wirelength, one placement or two
    assert fast_record["budgets"] == slow_record["budgets"] == [pooled, pooled]
    assert (fast_record["placed_with"], slow_record["placed_with"]) == ([0, 0], [0, 1])
    assert fast_record["wirelength"] == slow_record["wirelength"] and fast_record["method"] == slow_record["method"]
    assert {c: 2 * n for c, n in fast_record["cp_sat"].items()} == slow_record["cp_sat"]  # the work done, once or twice
    assert [k.stages()[0].site_list() for k in rdu.kernels(fast)][0] == [k.stages()[0].site_list() for k in rdu.kernels(fast)][1]


def test_a_pooled_class_spends_its_members_budgets_together_and_the_manifest_says_so(monkeypatch):
    calls = counted_placer(monkeypatch)
    pooled = compiled("seed=1 seconds=0.4 pool=true")
    shared = compiled("seed=1 seconds=0.4")
    every_kernel_its_own_class(monkeypatch)
    slow = compiled("seed=1 seconds=0.4")
    assert calls == [0.4, 0.2, 0.2, 0.2]  # pooled: both layers' shares; shared: one share; alone: each its own
    manifest = emit_bitstream(pooled).manifest["placement"]
    assert manifest["budgets"] == [0.4, 0.4] and manifest["placed_with"] == [0, 0]
    manifest = emit_bitstream(shared).manifest["placement"]
    assert manifest["budgets"] == [0.2, 0.2] and manifest["placed_with"] == [0, 0]
    manifest = emit_bitstream(slow).manifest["placement"]
    assert manifest["budgets"] == [0.2, 0.2] and manifest["placed_with"] == [0, 1]


THREE_KERNELS = """
func.func @forward(%x: tensor<64x64xf32>) -> tensor<64x64xf32> {
  %0 = rgraph.exp %x : tensor<64x64xf32> -> tensor<64x64xf32>
  %1 = rgraph.exp %0 : tensor<64x64xf32> -> tensor<64x64xf32>
  %2 = rgraph.add %0, %1 : (tensor<64x64xf32>, tensor<64x64xf32>) -> tensor<64x64xf32>
  func.return %2 : tensor<64x64xf32>
}
"""


@pytest.mark.parametrize("seconds", [3.0, 0.01])
def test_class_budgets_are_a_members_unit_share_or_pooled_ones_with_a_floor(seconds):
    module = parse_ir(make_context(), THREE_KERNELS)
    run_pipeline(make_context(), module, BEFORE_PLACE)
    distinct = {kernel_signature(k): k for k in rdu.kernels(module)}
    classes = place_pass.placement_classes(distinct)
    assert sorted(map(len, classes.values())) == [1, 2]  # the two exps, and the add
    units = [sum(st.unit_count for st in k.stages()) for k in rdu.kernels(module)]
    share = lambda *us: pytest.approx(max(place_pass.MIN_SECONDS, sum(seconds * u / sum(units) for u in us)), rel=1e-12)  # noqa: E731
    budgets = list(place_pass.class_budgets(distinct, classes, seconds, pool=True).values())
    assert budgets == [share(units[0], units[1])] * 2 + [share(units[2])]
    assert (budgets[0] > budgets[2]) == (seconds > 1)  # above the floor the pooled class of two gets more
    assert list(place_pass.class_budgets(distinct, classes, seconds, pool=False).values()) == [share(units[0])] * 2 + [share(units[2])]


def test_sizing_a_layer_like_one_sized_before_gives_the_slow_paths_bitstream(monkeypatch):
    import passes.size_fifos as size_fifos

    replayed = []
    replay = size_fifos.replay
    monkeypatch.setattr(size_fifos, "replay", lambda kernel, recorded: replayed.append(r := replay(kernel, recorded)) or r)
    fast = compiled("seed=1")
    assert replayed == [False, True]  # the second exp took the first one's FIFO depths
    monkeypatch.setattr(size_fifos, "replay", lambda kernel, recorded: False)
    slow = compiled("seed=1")
    assert encode(emit_bitstream(fast)) == encode(emit_bitstream(slow))


def test_a_recorded_sizing_is_not_replayed_onto_a_kernel_whose_settings_differ():
    import passes.size_fifos as size_fifos

    module = parse_ir(make_context(), TWO_LAYERS)
    run_pipeline(make_context(), module, BEFORE_PLACE)
    first, second = rdu.kernels(module)
    stage = second.stages()[-1]
    untouched = size_fifos.stage_settings(second)
    before = size_fifos.stage_settings(second)
    after = [dict(s) for s in before]
    key = next(iter(after[-1]))
    after[-1][key] = stage.properties.get(key, stage.attributes.get(key))  # a recorded change ...
    before[-1] = {**before[-1], key: None}  # ... from a value this kernel does not hold
    assert not size_fifos.replay(second, (before, after))
    assert size_fifos.stage_settings(second) == untouched
