"""bench.streaming's node mode on a tiny decoder over small-node8: each workload compiled whole
at TP4 (real rdu-shard), timed on the node with the all-reduces in its cycles, fused against
unfused and software against hardware launch; a compile error becomes the row's `error`."""

import pytest

import bench.streaming as streaming
from bench.workloads import DecoderShape

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
