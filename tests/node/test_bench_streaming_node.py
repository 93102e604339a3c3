"""bench.streaming's node mode on a tiny decoder over small-node8: each workload compiled whole
at TP4 (real rdu-shard), timed on the node with the all-reduces in its cycles, fused against
unfused and software against hardware launch; a compile error becomes the row's `error`; the
whole-model columns of a decode row are the bitstream's own layer loop (its LOOP section)."""

from dataclasses import replace

import pytest

import bench.streaming as streaming
from bench.workloads import DecoderShape
from functional_sim.decode_step import decode_step_timing
from functional_sim.layer_loop import LayerLoop, loop_timing
from functional_sim.loop_run import iteration_program

TINY = DecoderShape("tiny", hidden=64, intermediate=128, layers=2, heads=4, kv_heads=2, vocab=256, head_dim=16)


@pytest.fixture(scope="module")
def decode_row() -> dict:
    [row] = streaming.run_node([("tiny decode, 1 layer", TINY, "decode", 1)], "small-node8", 4, context=16)
    return row


def test_node_row_times_both_levels_and_launches_with_collectives(decode_row) -> None:
    assert decode_row["tp"] == 4 and decode_row["node"] == "small-node8"
    for level in ("O0", "O1"):
        for launch in ("software", "hardware"):
            m = decode_row[level][launch]
            assert m["collective_stages"] == 2  # the attention output and the MLP down projection
            assert 0 < m["collective_cycles"] < m["cycles"]
            assert m["collective_busy_ratio"] == m["collective_cycles"] / m["cycles"]
            assert 0 < m["hbm_bandwidth_fraction"] <= 1
        assert decode_row[level]["hardware_launch_gain"] >= 1
    assert decode_row["O0"]["software"]["kernels"] > decode_row["O1"]["software"]["kernels"]
    assert decode_row["speedup"]["software"] == (decode_row["O0"]["software"]["cycles"]
                                                 / decode_row["O1"]["software"]["cycles"])
    assert decode_row["speedup"]["software"] > 1


def test_a_compile_error_is_recorded_in_its_row() -> None:
    # 3 heads do not divide over 4 sockets: rdu-shard refuses, the row says why and has no speedup
    odd = DecoderShape("odd", hidden=48, intermediate=96, layers=1, heads=3, kv_heads=3, vocab=64, head_dim=16)
    [row] = streaming.run_node([("odd decode", odd, "decode", 1)], "small-node8", 4, context=16)
    assert "\n" not in row["O0"]["error"] and "head" in row["O0"]["error"]
    assert "error" in row["O1"] and "speedup" not in row


def test_whole_model_columns_are_the_files_loop(decode_row) -> None:
    """The decode layer compiles as a loop over the model's layers, each with its own KV cache
    (inputs 4 and 5); `model_layers` times the file's loop, and the figures are those of the same
    layer looped at run time to the cycle (what the columns were before the loop was in the file)."""
    compiled, _ = streaming.compile_node_workload(TINY, "decode", 1, 1, "small-node8", 4, context=16)
    bs = compiled.bitstream
    assert bs.loop is not None and bs.loop.trips == TINY.layers
    assert bs.loop.carry_positions(bs.inputs, bs.outputs) == ((0, 0),)
    assert bs.loop.per_iteration_inputs(bs.inputs) == streaming.DECODE_LOOP_PER_LAYER
    columns = streaming.model_layers(compiled)
    assert columns == decode_row["O1"]["model_layers"] and columns["layers"] == TINY.layers
    chip = compiled.chip  # the node host's launch is resolved from the program's NODE section
    one = iteration_program(bs, 0)
    for launch in ("software", "hardware"):
        at_run_time = loop_timing(one, chip, LayerLoop(TINY.layers, ((0, 0),)), launch)
        assert columns[launch] == at_run_time.cycles == decode_step_timing(bs, None, chip=compiled.chip, launch=launch).cycles
    # the one-layer columns time the loop's first iteration, a program without the LOOP section
    assert one.loop is None and replace(bs, loop=None) == one


def test_software_launch_window_is_what_the_simulator_gives_at_its_edges(decode_row) -> None:
    """The window's band edges are launch costs at which the simulated gain is the band's edge: the
    chip's one-socket software launch moved by the difference, the node's launch resolved from it
    again, and the layer simulated again (the window's linearity is checked against the simulator,
    not assumed)."""
    window = decode_row["O1"]["software_launch_window"]
    compiled, _ = streaming.compile_node_workload(TINY, "decode", 1, 1, "small-node8", 4, context=16)
    chip, one_layer = compiled.chip, iteration_program(compiled.bitstream, 0)
    software, hardware = decode_row["O1"]["software"], decode_row["O1"]["hardware"]
    assert window["calls"] == software["kernels"]
    assert window["assumed_us"] == pytest.approx(software["launch_cycles"] / window["calls"] / chip.clock_hz * 1e6,
                                                 abs=0.01)
    low, high = streaming.HARDWARE_LAUNCH_GAIN["decode"].band
    for edge_us, gain in ((window["low_us"], low), (window["high_us"], high)):
        extra = round((edge_us - window["assumed_us"]) * 1e-6 * chip.clock_hz)
        moved = replace(chip, launch=replace(chip.launch, software_launch_cycles=chip.launch.software_launch_cycles + extra))
        cycles = streaming.simulate_node(one_layer, None, chip=moved, execute=False, launch="software").cycles
        assert cycles != software["cycles"]
        assert cycles / hardware["cycles"] == pytest.approx(gain, rel=1e-3)


def test_launch_band_agreement_is_where_one_pair_of_launch_costs_meets_both_bands() -> None:
    """At a decode body of exactly `max_body_us` one software cost puts the decode gain at the
    decode band's low edge and the prefill gain at the prefill band's high edge; a longer decode
    body needs a cost no prefill row allows, a shorter one leaves a window."""
    clock, h, body_p = 1e9, 1_000, 400_000
    prefill = {"hardware": {"kernels": 2, "cycles": 2 * (body_p + h), "launch_cycles": 2 * h}}

    def decode(body: float) -> dict:
        return {"hardware": {"kernels": 1, "cycles": body + h, "launch_cycles": h}}

    edge = streaming.launch_band_agreement(decode(1.0), prefill, clock)["max_body_us"] * 1e-6 * clock
    low = streaming.HARDWARE_LAUNCH_GAIN["decode"].band[0]
    high = streaming.HARDWARE_LAUNCH_GAIN["prefill"].at_most
    s = h + (low - 1) * (edge + h)  # the least software cost per call that gives the decode row its band
    assert (edge + s) / (edge + h) == pytest.approx(low)
    assert (2 * body_p + 2 * s) / (2 * body_p + 2 * h) == pytest.approx(high, rel=1e-3)  # the most prefill allows
    assert streaming.launch_band_agreement(decode(edge * 0.99), prefill, clock)["agrees"]
    assert not streaming.launch_band_agreement(decode(edge * 1.01), prefill, clock)["agrees"]
    # a costlier hardware launch (device synchronization per call) only narrows it
    dearer = {"hardware": {"kernels": 2, "cycles": 2 * (body_p + 5 * h), "launch_cycles": 10 * h}}
    assert streaming.launch_band_agreement({"hardware": {"kernels": 1, "cycles": 6 * h + edge * 0.99,
                                                         "launch_cycles": 5 * h}}, dearer, clock)["agrees"] is False
