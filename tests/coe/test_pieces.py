"""The CoE's pieces on their own: buckets, collectives, the HBM cache and its policies, traces,
the memory plan, the DGX model."""

from __future__ import annotations


import pytest

from chip_model.node import load_node
from compiler.coe.architecture import DecoderArchitecture
from compiler.coe.collectives import all_reduce_seconds
from compiler.coe.errors import CoEError
from compiler.coe.hbm_cache import HBMExpertCache
from compiler.coe.requests import read_requests
from compiler.coe.timer import batch_bucket, bucket, buckets_between
from tests.coe.conftest import EXAMPLES, FIVE

LLAMA2_7B = DecoderArchitecture("llama2-7b", 4096, 11008, 32, 32, 32, 32000)


def test_llama2_7b_size_and_tp8_shard():
    assert LLAMA2_7B.parameters == 6_738_415_616  # Llama-2-7B's published parameter count
    shard = LLAMA2_7B.shard(8)
    assert (shard.heads, shard.kv_heads, shard.intermediate, shard.vocab) == (4, 4, 1376, 4000)
    gqa = DecoderArchitecture("gqa", 4096, 14336, 32, 32, 4, 32000).shard(8)
    assert gqa.kv_heads == 1  # fewer KV heads than sockets: replicated
    with pytest.raises(CoEError, match="28 heads do not split over 8 sockets"):
        DecoderArchitecture("q", 3584, 18944, 28, 28, 4, 152064).shard(8)


def test_length_and_batch_buckets():
    assert [bucket(n, 4096) for n in (1, 32, 33, 200, 4096)] == [32, 32, 64, 256, 4096]
    assert bucket(3000, 3000) == 3000
    with pytest.raises(CoEError, match="5000 tokens exceed the model's context of 4096"):
        bucket(5000, 4096)
    assert buckets_between(200, 600, 4096) == [256, 512, 1024]
    assert [batch_bucket(b) for b in (1, 2, 3, 5, 8)] == [1, 2, 4, 8, 8]


def test_all_reduce_on_ring_and_switch():
    ring = load_node("small-node8")  # ring: 2(N-1)(alpha + S/N/B), B towards one neighbour
    net = ring.network
    size = 1 << 20
    b = net.link_bytes_per_second * max(1, net.links_per_socket // 2)
    assert all_reduce_seconds(ring, size) == pytest.approx(2 * 7 * (net.latency_seconds + size / 8 / b))
    switch = load_node("sn40l-node8")  # switch: two direct steps at the socket's bandwidth
    n = switch.network
    assert all_reduce_seconds(switch, size) == pytest.approx(2 * (n.latency_seconds + 7 * size / 8 / n.socket_bytes_per_second))
    assert all_reduce_seconds(switch, size, ways=1) == 0.0
    assert all_reduce_seconds(switch, 8192) < all_reduce_seconds(switch, 8 << 20)


def test_hbm_cache_lru_evicts_by_size():
    cache = HBMExpertCache(100)
    assert not cache.access("a", 40).hit
    assert not cache.access("b", 40).hit
    assert cache.access("a", 40).hit  # a is now most recent
    access = cache.access("c", 70)  # needs 70: evicts b (LRU), then a
    assert access.evicted == ["b", "a"] and access.copied_bytes == 70
    assert (cache.hits, cache.misses, cache.evictions) == (1, 3, 2)
    cache = HBMExpertCache(100)
    for name in "abcd":
        cache.access(name, 25)
    assert cache.access("e", 25).evicted == ["a"]  # one victim is enough


def test_hbm_cache_policies_differ():
    sizes = {"big": 60, "s1": 20, "s2": 20}
    lru, largest, fifo = HBMExpertCache(100, "lru"), HBMExpertCache(100, "largest"), HBMExpertCache(100, "fifo")
    for cache in (lru, largest, fifo):
        for name in ("s1", "big", "s2"):
            cache.access(name, sizes[name])
        cache.access("s1", 20)
    assert lru.access("new", 20).evicted == ["big"]
    assert largest.access("new", 20).evicted == ["big"]
    assert fifo.access("new", 20).evicted == ["s1"]
    with pytest.raises(ValueError, match="larger than the HBM expert cache"):
        HBMExpertCache(10).access("x", 11)


def test_jsonl_and_azure_traces(tmp_path):
    jsonl = tmp_path / "t.jsonl"
    jsonl.write_text('# comment\n{"arrival": 0.5, "prompt_tokens": 100, "output_tokens": 20, "category": "code"}\n\n'
                     '{"prompt": [1, 2, 3], "output_tokens": 2}\n')
    reqs = read_requests(jsonl)
    assert [(r.arrival, r.prompt_tokens, r.output_tokens, r.category, r.line) for r in reqs] == [
        (0.0, 3, 2, None, 4), (0.5, 100, 20, "code", 2)]
    azure = tmp_path / "azure.csv"
    azure.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n"
                     "2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:50.9951690,396,109\n")
    a = read_requests(azure)
    assert [r.prompt_tokens for r in a] == [374, 396] and [r.output_tokens for r in a] == [44, 109]
    assert a[0].arrival == 0.0 and a[1].arrival == pytest.approx(4.314579)


def test_plan_of_the_samba_like_example():
    from compiler.coe.session import CoESession

    plan = CoESession(EXAMPLES / "samba150" / "COE.toml", None).plan
    assert plan.experts == 150 and len(plan.architectures) == 5
    assert plan.ddr_used == sum(a["experts"] * a["bytes_each"] for a in plan.architectures.values())
    assert plan.hbm_capacity == plan.router_bytes + plan.kv_bytes + plan.expert_cache_bytes
    assert plan.kv_bytes == 8 * max(2 * 32 * kv * 128 * 2 * ctx for kv, ctx in ((32, 4096), (8, 32768), (8, 8192)))
    assert 800 < plan.experts_fitting_ddr < 900  # the paper: up to 850 experts on one node
    text = plan.to_text()
    assert "150 experts" in text and "expert cache" in text


def test_gpu_baselines_source_every_figure():
    from compiler.coe.gpu_baseline import FIGURES, GPUTimer, available_baselines, load_baseline

    assert available_baselines() == ["dgx-a100", "dgx-h100"]
    for name in available_baselines():
        system = load_baseline(name)
        sources = dict(system.sources)
        assert set(FIGURES) <= set(sources)
        assert system.gpus == 8 and system.hbm_bytes == 640e9
    h100, a100 = GPUTimer(load_baseline("dgx-h100")), GPUTimer(load_baseline("dgx-a100"))
    assert h100.decode_step_seconds(LLAMA2_7B, 256, 1) < a100.decode_step_seconds(LLAMA2_7B, 256, 1)
    assert h100.decode_step_seconds(LLAMA2_7B, 256, 1) < h100.decode_step_seconds(LLAMA2_7B, 4000, 8)
    assert load_baseline("dgx-h100").host_to_gpu_bytes_per_second == 2 * load_baseline("dgx-a100").host_to_gpu_bytes_per_second


def test_baseline_without_a_source_is_refused(tmp_path):
    from compiler.coe.gpu_baseline import BASELINE_DIR, load_baseline

    text = (BASELINE_DIR / "dgx-h100.toml").read_text().replace('peak_flops = "NVIDIA', 'ignored = "NVIDIA')
    (tmp_path / "x.toml").write_text(text)
    with pytest.raises(CoEError, match="figure peak_flops has no source"):
        load_baseline(str(tmp_path / "x.toml"))


def test_two_step_routing_with_fallback():
    from compiler.coe.config import load_coe

    spec = load_coe(FIVE)
    assert spec.expert_for("c-7").name == "c-7"
    assert spec.expert_for("no-such-topic").name == "a-0"  # the fallback's expert
    assert spec.expert_for("general").name == "a-0"
