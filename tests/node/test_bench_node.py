"""bench.node's method on a tiny decoder: one layer and the head compiled once each, the step
no faster than its roofline, the collectives a measured part of it."""

from bench.node import decode_head, decode_layer, measure, node_step_cycles, roofline_seconds
from bench.workloads import DecoderShape

TINY = DecoderShape("tiny", hidden=64, intermediate=128, layers=3, heads=4, kv_heads=2, vocab=256, head_dim=16)


def test_software_step_is_layers_times_a_layer_and_the_loop_is_no_slower(monkeypatch) -> None:
    import bench.node as node

    monkeypatch.setitem(node.PAPER_TOKENS_PER_SECOND, "tiny", 1000.0)
    monkeypatch.setitem(node.PAPER_SPECULATIVE, "tiny", False)
    row = measure(TINY, node="small-node8", tp=4, context=16, placer="cpsat")
    layer = node_step_cycles(decode_layer(TINY, 16), node="small-node8", tp=4)
    head = node_step_cycles(decode_head(TINY), node="small-node8", tp=4)
    assert row["step_cycles_software_launch"] == 3 * layer["cycles"] + head["cycles"]
    assert row["step_cycles"] <= 3 * layer["cycles_hardware_launch"] + head["cycles_hardware_launch"]
    assert row["head_cycles"] == head["cycles_hardware_launch"]
    assert 0 < row["collective_cycles"] < row["step_cycles"]
    assert row["tokens_per_second"] <= row["roofline_tokens_per_second"]
    assert row["tokens_per_second_software_launch"] <= row["tokens_per_second"]
    assert row["layer_breakdown"]["collective_stages"] == 2 and row["layer_breakdown"]["hbm_bytes"] > 0


def test_node_step_cycles_reports_collectives_per_compile() -> None:
    layer = node_step_cycles(decode_layer(TINY, 16), node="small-node8", tp=2)
    head = node_step_cycles(decode_head(TINY), node="small-node8", tp=2)
    assert layer["collective_stages"] == 2  # the attention output and the MLP down projection
    assert head["collective_stages"] == 1  # the vocab-split logits gathered
    assert roofline_seconds(TINY, 2, 16, 1e12, 1e15) > roofline_seconds(TINY, 4, 16, 1e12, 1e15)
