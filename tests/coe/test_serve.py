"""The serving simulator: the paper's scheduling, switching, hits and misses, outputs, speed."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from compiler.coe.config import load_coe
from compiler.coe.gpu_baseline import GPUTimer, load_baseline
from compiler.coe.requests import Request
from compiler.coe.serve import Platform, serve
from compiler.coe.timer import decode_seconds
from tests.coe.conftest import FIVE, five_arch_requests


def platform(cache_bytes: float = 1e9):
    return Platform("test", GPUTimer(load_baseline("dgx-h100")), int(cache_bytes), 1e9, int(1e12))


def test_router_batch_then_each_pair_in_turn():
    spec = load_coe(FIVE)
    p = platform()
    reqs = [Request(0, 0.0, 20, 5, "a-0"), Request(1, 0.0, 20, 5, "a-0"), Request(2, 0.0, 10, 3, "b-0"),
            Request(3, 10.0, 20, 1, "b-0")]
    result = serve(spec, p, reqs)
    a, b = spec.expert("a-0").architecture, spec.expert("b-0").architecture
    router = p.timer.prefill_seconds(spec.router.architecture, 20, 3)
    switch_a = a.weight_bytes / 1e9
    r0, r1, r2, r3 = result.requests
    assert r0.first_token == pytest.approx(router + switch_a + p.timer.prefill_seconds(a, 20, 1))
    assert r0.done == pytest.approx(r0.first_token + decode_seconds(p.timer, a, 20, 4, 1))
    assert (r0.hit, r1.hit, r2.hit, r3.hit) == (False, True, False, True)
    assert r1.start == pytest.approx(r0.done) and r1.switch_seconds == 0
    assert r2.switch_seconds == pytest.approx(b.weight_bytes / 1e9)
    assert r3.start == pytest.approx(10.0 + p.timer.prefill_seconds(spec.router.architecture, 20, 1))  # idle node waits
    assert r3.first_token == r3.done  # one output token: no decode step
    s = result.summary()
    assert (s["hbm_hits"], s["hbm_misses"], s["requests"], s["output_tokens"]) == (2, 2, 4, 14)
    assert s["switch_seconds"] == pytest.approx(r0.switch_seconds + r2.switch_seconds)
    assert s["makespan_seconds"] == pytest.approx(r3.done)
    assert 0 < s["utilisation"]["busy"] < 1
    kinds = [e[0] for e in result.events]
    assert kinds[:3] == ["router", "switch", "expert"] and kinds.count("router") == 2


def test_small_hbm_cache_thrashes():
    spec = load_coe(FIVE)
    reqs = [Request(i, 0.0, 20, 2, ["a-0", "b-0"][i % 2]) for i in range(10)]
    big = serve(spec, platform(1e9), reqs).summary()
    small = serve(spec, platform(spec.expert("b-0").architecture.weight_bytes), reqs).summary()
    assert (big["hbm_misses"], small["hbm_misses"]) == (2, 10)
    assert small["latency_seconds"]["mean"] > big["latency_seconds"]["mean"]


def test_simulated_timer_serves_from_cache_without_compiling(five_cache):
    from compiler.coe.session import CoESession

    root, _ = five_cache
    session = CoESession(FIVE, root)
    result = serve(session.spec, session.platform(), five_arch_requests())
    assert sum(session.programs.compiles.values()) == 0
    s = result.summary()
    assert s["requests"] == 40 and s["hbm_misses"] == 30  # 5 architectures x 6 experts, 2 hits each (i % 30)
    assert all(r.first_token > r.arrival and r.done > r.first_token for r in result.requests)


def test_ten_thousand_azure_requests_over_150_experts_from_the_cli(five_cache, tmp_path):
    from compiler.cli import main

    from bench.coe import azure_trace

    root, _ = five_cache
    trace = tmp_path / "azure.csv"
    trace.write_text(azure_trace(10_000))  # the trace bench.coe's serving-speed row times
    result = CliRunner().invoke(main, ["coe", "serve", str(FIVE), "--requests", str(trace), "--cache-dir", str(root),
                                       "--json", "--trace", str(tmp_path / "t.json")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["summary"]["requests"] == 10_000 and len(out["requests"]) == 10_000
    assert out["programs"]["compiled"] == 0
    timeline = json.loads((tmp_path / "t.json").read_text())
    assert sum(e.get("cat") == "router" for e in timeline["traceEvents"]) >= 10_000 / 4
