"""Pluggable HBM eviction: the protocol, LFU and the offline Belady bound, chosen in COE.toml or on
the command line, and what they change when a trace is served."""

from __future__ import annotations

import json
import random

import pytest
from click.testing import CliRunner

from compiler.coe.config import load_coe
from compiler.coe.gpu_baseline import GPUTimer, load_baseline
from compiler.coe.hbm_cache import POLICIES, HBMExpertCache
from compiler.coe.requests import Request
from compiler.coe.serve import Platform, serve
from tests.coe.conftest import FIVE


def run(policy: str, names: list[str], capacity: int = 3, size: int = 1) -> HBMExpertCache:
    cache = HBMExpertCache(capacity, policy, names)
    for n in names:
        cache.access(n, size)
    return cache


def test_every_policy_follows_the_protocol():
    for name, cls in POLICIES.items():
        policy = cls(["a"])
        assert isinstance(policy, cls) and all(callable(getattr(policy, m)) for m in ("admit", "touch", "forget", "victim"))


def test_lfu_keeps_the_hot_expert_a_burst_of_one_off_experts_flushes_from_lru():
    names = ["hot", "hot", "hot", "x1", "x2", "x3", "hot"]
    lru, lfu = run("lru", names), run("lfu", names)
    assert lru.misses == 5  # x3 evicted hot, so its last access misses
    assert lfu.misses == 4  # x3 evicted x1 (one use) instead
    # a count survives eviction: hot (3 uses) loses to w (4), comes back with its history (4) and
    # outlives w on the next miss (equal counts: the least recent goes)
    lfu = run("lfu", ["hot", "hot", "hot", "w", "w", "w", "w", "z", "hot", "y"], capacity=2)
    assert set(lfu.resident) == {"hot", "y"} and lfu.policy.uses["hot"] == 4


def test_belady_is_the_offline_bound():
    rng = random.Random(0)
    names = [f"e{rng.randint(0, 9)}" for _ in range(400)]
    misses = {p: run(p, names, capacity=4).misses for p in POLICIES}
    assert misses["belady"] == min(misses.values())
    assert misses["belady"] < misses["lru"]
    # by hand: with a, b resident and c coming, belady evicts a (used again later than b)
    cache = run("belady", ["a", "b", "c", "b", "a"], capacity=2)
    assert (cache.hits, cache.misses) == (1, 4)
    with pytest.raises(ValueError, match="needs the trace's future"):
        HBMExpertCache(3, "belady")


def test_serving_with_each_policy_from_coe_toml_and_the_command_line(tmp_path):
    from dataclasses import replace

    spec = load_coe(FIVE)
    size = spec.expert("a-0").architecture.weight_bytes
    platform = Platform("test", GPUTimer(load_baseline("dgx-h100")), 4 * size, 1e9, int(1e12))
    rng = random.Random(1)
    hot = ["a-0", "a-1", "a-2"]
    requests = [Request(i, 0.0, 8, 2, rng.choice(hot) if rng.random() < 0.7 else f"a-{rng.randint(3, 29)}")
                for i in range(300)]
    out = {p: serve(replace(spec, cache_policy=p), platform, requests).summary() for p in POLICIES}
    assert {p: s["cache_policy"] for p, s in out.items()} == {p: p for p in POLICIES}
    misses = {p: s["hbm_misses"] for p, s in out.items()}
    assert misses["belady"] == min(misses.values()) and misses["lfu"] < misses["lru"]
    assert out["belady"]["switch_seconds"] < out["lru"]["switch_seconds"]
    # COE.toml's cache_policy, and --cache-policy over it
    coe = tmp_path / "COE.toml"
    coe.write_text(FIVE.read_text().replace('batch = 4\n', 'batch = 4\ncache_policy = "lfu"\n'))
    assert load_coe(coe).cache_policy == "lfu"
    bad = tmp_path / "bad.toml"
    bad.write_text(FIVE.read_text().replace('batch = 4\n', 'batch = 4\ncache_policy = "mru"\n'))
    from compiler.cli import main

    result = CliRunner().invoke(main, ["coe", "plan", str(bad)], catch_exceptions=False)
    assert result.exit_code == 2 and "unknown cache_policy 'mru': choose one of lru, fifo, largest, lfu, belady" in result.stderr
    plan = json.loads(CliRunner().invoke(main, ["coe", "plan", str(coe), "--json"]).stdout)
    assert plan["cache_policy"] == "lfu"


def test_cache_policy_option(five_cache, tmp_path):
    from compiler.cli import main

    root, _ = five_cache
    trace = tmp_path / "r.jsonl"
    trace.write_text("".join(json.dumps({"prompt_tokens": 20, "output_tokens": 5, "category": f"a-{i % 7}"}) + "\n"
                             for i in range(30)))
    runs = {}
    for policy in ("lru", "belady"):
        result = CliRunner().invoke(main, ["coe", "serve", str(FIVE), "--requests", str(trace), "--cache-dir", str(root),
                                           "--json", "--cache-policy", policy], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        runs[policy] = json.loads(result.stdout)["summary"]
    assert runs["belady"]["cache_policy"] == "belady" and runs["belady"]["hbm_misses"] <= runs["lru"]["hbm_misses"]
    result = CliRunner().invoke(main, ["coe", "serve", str(FIVE), "--requests", str(trace), "--cache-dir", str(root),
                                       "--cache-policy", "random"], catch_exceptions=False)
    assert result.exit_code == 2
    assert result.stderr.strip() == "error: unknown cache policy 'random': choose one of lru, fifo, largest, lfu, belady"
