"""bench.node's method on a tiny decoder: the whole step compiled once into one bitstream, the step
no faster than its roofline, the collectives and the host a measured part of it."""

from bench.node import decode_head, decode_layer, measure, node_step_cycles, roofline_seconds
from bench.workloads import DecoderShape

TINY = DecoderShape("tiny", hidden=64, intermediate=128, layers=3, heads=4, kv_heads=2, vocab=256, head_dim=16)


def test_the_step_is_one_file_timed_by_parts(monkeypatch) -> None:
    """bench.node compiles the whole step into one bitstream and reads every figure from its run:
    prologue + loop + epilogue is the step, the host's work per token is beside it, a software
    loop is every layer run alone, and nothing beats the roofline."""
    from dataclasses import replace

    import bench.node as node
    from bench.targets import Target
    from bitstream_format.loop_program import loop_parts
    from functional_sim.node import simulate_node

    monkeypatch.setitem(node.PAPER_TOKENS_PER_SECOND, "tiny", Target("tiny", "tiny decode", "tokens/s", "test", paper=1000.0))
    monkeypatch.setitem(node.PAPER_SPECULATIVE, "tiny", False)
    row = measure(TINY, node="small-node8", tp=4, context=16, placer="cpsat")
    hw, sw = row["hardware_launch"], row["software_launch"]
    assert row["kernels"]["prologue"] == 1 and row["kernels"]["epilogue"] >= 1
    assert row["step_cycles"] == hw["prologue_cycles"] + hw["loop_cycles"] + hw["epilogue_cycles"] + hw["section_load_cycles"]
    assert row["token_cycles"] == row["step_cycles"] + hw["host_token_cycles"] and hw["host_token_cycles"] > 0
    assert abs(sum(hw["shares"][k] for k in ("prologue", "loop", "epilogue", "section_load", "host_token")) - 1) < 1e-9
    compiled = node.compile_step(TINY, "small-node8", 4, 16, "cpsat")
    _, body, _ = loop_parts(compiled.bitstream)
    alone = simulate_node(replace(body, loop=None), None, chip=compiled.chip, execute=False, launch="software")
    assert sw["loop_cycles"] == 3 * alone.cycles  # software: every layer its own host launch and run
    assert hw["collective_cycles"]["loop"] > 0 and hw["collective_cycles"]["epilogue"] > 0  # all-reduces, all-gather
    assert row["tokens_per_second"] <= row["tokens_per_second_device_loop"] <= row["roofline_tokens_per_second"]
    assert row["tokens_per_second_software_launch"] <= row["tokens_per_second"]
    assert row["layer_breakdown"]["collective_stages"] == 2 and row["layer_breakdown"]["hbm_bytes"] > 0
    assert row["within_target"] == {"tokens_per_second": None, "token_over_roofline": True}  # a figure without a tolerance


def test_node_step_cycles_reports_collectives_per_compile() -> None:
    layer = node_step_cycles(decode_layer(TINY, 16), node="small-node8", tp=2)
    head = node_step_cycles(decode_head(TINY), node="small-node8", tp=2)
    assert layer["collective_stages"] == 2  # the attention output and the MLP down projection
    assert head["collective_stages"] == 1  # the vocab-split logits gathered
    assert roofline_seconds(TINY, 2, 16, 1e12, 1e15) > roofline_seconds(TINY, 4, 16, 1e12, 1e15)
