"""Malformed bitstreams and bad inputs fail early, with one-line messages naming the culprit."""

from dataclasses import replace

import numpy as np
import pytest

from functional_sim import SimulationError, simulate
from tests.sim.builder import ProgramBuilder


def unary_program(pb: ProgramBuilder, op: str = "neg", **stage_kw) -> ProgramBuilder:
    x = pb.tensor("x", "f32", (4, 8), role="input")
    y = pb.tensor("y", "f32", (4, 8), role="output")
    k = pb.kernel("k0")
    k.store(k.op(op, k.load(x), out=("f32", (4, 8)), **stage_kw), y)
    return pb


ONES = [np.ones((4, 8), np.float32)]


def test_sram_overflow_names_the_stage_its_bytes_and_capacity(pb):
    unary_program(pb, "buffer", buffer_bytes=70_000)
    with pytest.raises(SimulationError, match=r"^kernel 'k0': stage 'buffer1' \(id 1, buffer\) holds 70000 bytes of SRAM "
                                              r"on each of its 1 PMU\(s\), but a PMU holds 65536$"):
        simulate(pb.build(), ONES)


def test_sram_is_summed_over_stages_sharing_a_pmu(pb):
    x = pb.tensor("x", "f32", (4,), role="input")
    k = pb.kernel("k0")
    s = k.op("buffer", k.load(x), out=("f32", (4,)), buffer_bytes=40_000, sites=((1, 0),))
    k.op("buffer", s, out=("f32", (4,)), buffer_bytes=40_000, sites=((1, 0),))
    with pytest.raises(SimulationError, match=r"PMU \(1, 0\) is asked for 80000 bytes of SRAM but holds 65536 "
                                              r"\(stage 'buffer1' \(id 1, buffer\) 40000, stage 'buffer2' \(id 2, buffer\) 40000\)$"):
        simulate(pb.build(), [], execute=False)


def test_site_kind_mismatch(pb):
    unary_program(pb, sites=((1, 0),))  # (1, 0) is a PMU on the small chip
    with pytest.raises(SimulationError, match=r"stage 'neg1' \(id 1, neg\) is a pcu stage but site \(1, 0\) is a pmu"):
        simulate(pb.build(), ONES)


def test_site_off_the_chip(pb):
    unary_program(pb, sites=((99, 99),))
    with pytest.raises(SimulationError, match=r"claims site \(99, 99\), which does not exist on chip 'small'"):
        simulate(pb.build(), ONES)


def test_two_stages_of_a_kernel_cannot_share_a_site(pb):
    unary_program(pb, sites=((2, 0),))
    bs = pb.build()
    bs.stages[2] = replace(bs.stages[2], sites=bs.stages[0].sites)  # the store takes the load's AGCU
    with pytest.raises(SimulationError, match=r"site \(0, 0\) is claimed by both stage 0 and stage 2"):
        simulate(bs, ONES)


def test_stage_on_the_wrong_unit_for_its_opcode(pb):
    unary_program(pb, unit="pmu")
    with pytest.raises(SimulationError, match="runs on a pmu but opcode neg executes on a pcu"):
        simulate(pb.build(), ONES)


def test_stages_out_of_topological_order(pb):
    bs = unary_program(pb).build()
    bs.kernels[0] = replace(bs.kernels[0], stages=(1, 0, 2))
    with pytest.raises(SimulationError, match=r"input 0 \(stream 0\) holds no value when it runs: its producer, stage 0, runs later"):
        simulate(bs, ONES)


def test_output_shape_mismatch_names_stage_and_stream(pb):
    x = pb.tensor("x", "f32", (4, 8), role="input")
    y = pb.tensor("y", "f32", (8, 4), role="output")
    k = pb.kernel()
    k.store(k.op("neg", k.load(x), out=("f32", (8, 4))), y)
    with pytest.raises(SimulationError, match=r"stage 'neg1' \(id 1, neg\) produced shape \(4, 8\) on stream 1, which carries \(8, 4\)"):
        simulate(pb.build(), ONES)


def test_a_failing_op_is_reported_against_its_stage(pb):
    x = pb.tensor("x", "f32", (3,), role="input")
    i = pb.tensor("i", "i64", (2,), role="input")
    y = pb.tensor("y", "f32", (2,), role="output")
    k = pb.kernel()
    k.store(k.op("index_select", k.load(x), k.load(i), out=("f32", (2,)), attrs={"dim": 0}), y)
    with pytest.raises(SimulationError, match=r"stage 'index_select2' .* failed: IndexError: index 3 is out of range"):
        simulate(pb.build(), [np.ones(3, np.float32), np.array([0, 3])])


@pytest.mark.parametrize("inputs, message", [
    ([np.ones((3, 4), np.float32)], r"^input 0 'x' has shape \(3, 4\) but the bitstream expects \(4, 8\)$"),
    ([np.ones((4, 8), np.int32)], r"^input 0 'x' has dtype int32 but the bitstream expects f32$"),
    ([], r"^the bitstream takes 1 input\(s\) \('x'\), got 0$"),
])
def test_inputs_are_validated(pb, inputs, message):
    bs = unary_program(pb).build()
    with pytest.raises(SimulationError, match=message):
        simulate(bs, inputs)


def test_float64_inputs_are_accepted_for_f32(pb):
    (out,) = simulate(unary_program(pb).build(), [np.ones((4, 8))]).outputs
    assert out.dtype == np.float32 and (out == -1).all()


def test_shapes_only_bitstream_times_but_does_not_execute(pb):
    w = pb.tensor("w", "f32", (4, 8), role="weight", shapes_only=True)
    y = pb.tensor("y", "f32", (4, 8), role="output")
    k = pb.kernel()
    k.store(k.op("neg", k.load(w), out=("f32", (4, 8))), y)
    bs = pb.build()
    timed = simulate(bs, [], execute=False)
    assert timed.cycles > 0 and timed.outputs == []
    with pytest.raises(SimulationError, match=r"shapes-only \(tensor 'w' \(id 0\) has no initial values\); simulate for timing only"):
        simulate(bs, [])


def test_unknown_launch_mode_and_chip(pb):
    bs = unary_program(pb).build()
    with pytest.raises(SimulationError, match="launch must be one of software, hardware"):
        simulate(bs, ONES, launch="magic")
    bs.chip = "nosuchchip"
    with pytest.raises(SimulationError, match="unknown chip 'nosuchchip'"):
        simulate(bs, ONES)


def test_messages_are_one_line(pb):
    unary_program(pb, "buffer", buffer_bytes=1 << 20)
    with pytest.raises(SimulationError) as info:
        simulate(pb.build(), ONES)
    assert "\n" not in str(info.value)


def test_a_fifo_without_credits_is_rejected_naming_the_stage(pb):
    unary_program(pb)
    bs = pb.build()
    bs.streams[1] = replace(bs.streams[1], fifo_depth=0)
    with pytest.raises(SimulationError, match=r"^stage 'neg1' \(id 1, neg\): its output stream 1 has FIFO depth 0: "
                                              r"a stream needs at least one credit \(one tile\)$"):
        simulate(bs, ONES)


def test_buffer_credits_beyond_its_sram_are_rejected(pb):
    unary_program(pb, "buffer", buffer_bytes=64)
    bs = pb.build()
    bs.streams[1] = replace(bs.streams[1], tile_bytes=32, fifo_depth=3)
    with pytest.raises(SimulationError, match=r"stage 'buffer1' \(id 1, buffer\): its output stream 1 has 3 credits of "
                                              r"32-byte tiles, 96 bytes per PMU, but the stage buffers 64 bytes per PMU"):
        simulate(bs, ONES)
    bs.streams[1] = replace(bs.streams[1], fifo_depth=2)
    np.testing.assert_array_equal(simulate(bs, ONES).outputs[0], ONES[0])


def test_an_exception_inside_a_checked_stage_is_an_internal_error(pb, monkeypatch):
    """A bitstream that passed every check and still fails inside a stage is rducc's bug: reported
    as an internal error naming the stage, never as the user's fault (not a UserError)."""
    from functional_sim import tile_machine
    from functional_sim.errors import SimulatorBug
    from rducc_errors import UserError

    x = pb.tensor("x", "f32", (4, 8), role="input")
    y = pb.tensor("y", "f32", (4, 8), role="output")
    k = pb.kernel()
    k.store(k.op("neg", k.load(x), out=("f32", (4, 8))), y)

    def broken(self, s, args, outs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(tile_machine.TileExecutor, "compute", broken)
    with pytest.raises(SimulatorBug, match=r"^internal error in stage 'neg1' \(id 1, neg\): ZeroDivisionError: "
                                           r"division by zero \(a bug in rducc") as info:
        simulate(pb.build(), ONES)
    assert not isinstance(info.value, UserError)
