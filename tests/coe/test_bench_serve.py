"""bench/coe.py's serving-speed row: it serves the 10,000-request trace from the CLI and judges its
wall against `coe.serve_10000_requests_seconds`. Nothing here is timed: the bench holds the target
(timing targets live in bench/, never in timed tests)."""

from __future__ import annotations

import json

from bench import coe as bench_coe
from bench.targets import target


def test_the_serve_row_is_served_and_judged(five_cache, capsys):
    root, _ = five_cache
    bench_coe.main(["--serve-only", "--json", "--repeats", "1", "--cache-dir", str(root)])
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"serve_speed"}  # --serve-only leaves Table V out
    row = out["serve_speed"]
    assert (row["requests"], row["experts"], row["node"]) == (10_000, 150, "small-node8")
    assert row["programs_compiled_first"] == 0  # the fixture's programs serve this trace
    assert len(row["wall_seconds_runs"]) == 1 and row["wall_seconds"] == row["wall_seconds_runs"][0] > 0
    assert row["requests_per_second"] == round(10_000 / row["wall_seconds"], 1)
    judged = row["target"]
    assert judged == target("coe.serve_10000_requests_seconds").judge(row["wall_seconds"])
    assert judged["target"] == "at most 60 s" and isinstance(judged["within_target"], bool)


def test_the_trace_is_the_serve_tests_azure_csv():
    lines = bench_coe.azure_trace().splitlines()
    assert lines[0] == "TIMESTAMP,ContextTokens,GeneratedTokens" and len(lines) == 10_001
    assert lines[1].startswith("2023-11-16 18:15:00.0000000,") and lines[-1].startswith("2023-11-16 18:16:39.9900000,")
    assert bench_coe.azure_trace() == bench_coe.azure_trace(seed=0) != bench_coe.azure_trace(seed=1)
