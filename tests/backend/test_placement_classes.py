"""Kernels that differ only in off-chip addresses (the layers of a model) are placed and routed once.

`rdu-place` shares one placement per `placement_class` and `rdu-route` one routing per structure and
sites; these tests check the shortcut against the slow path (every kernel placed on its own), for
both placers, and that the shortcut is taken."""

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


@pytest.mark.parametrize("place", ["seed=1", "seed=1 objective=cycles rounds=1"])
def test_one_placement_per_class_gives_the_slow_paths_bitstream(place, monkeypatch):
    calls = []
    run_placer = place_pass.PlacePass.run_placer

    def counted(self, problem, seconds, netlist, start=None):
        calls.append(seconds)
        return run_placer(self, problem, seconds, netlist, start=start)

    monkeypatch.setattr(place_pass.PlacePass, "run_placer", counted)
    fast = compiled(place)
    shared = len(calls)
    # the slow path: every signature its own class, as rdu-place placed before classes
    monkeypatch.setattr(place_pass, "placement_class", lambda kernel, seconds: (kernel_signature(kernel), seconds))
    slow = compiled(place)
    assert len(calls) - shared == 2 * shared  # the shortcut placed one kernel where the slow path placed two
    assert encode(emit_bitstream(fast)) == encode(emit_bitstream(slow))
    assert [k.stages()[0].site_list() for k in rdu.kernels(fast)][0] == [k.stages()[0].site_list() for k in rdu.kernels(fast)][1]


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
