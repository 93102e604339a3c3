"""bench.workloads' decode step with a KV cache: the same code compiles shapes-only at any size
(Llama-3.1-8B with an 8K cache in bench) and, at test size with real weights, runs step after
step in a Session as PyTorch does."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import torch

from bench.workloads import CachedDecoder, DecoderShape, decode_with_cache_workload
from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from functional_sim import simulate
from functional_sim.session import Session
from functional_sim.timing import agcu_tier_bytes
from tests.generate.test_state_updates import compile_module

TINY = DecoderShape("tiny", hidden=32, intermediate=64, layers=2, heads=4, kv_heads=2, vocab=0, head_dim=8)
CACHE = 6


def step_inputs(position: int) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(position)
    mask = torch.where(torch.arange(CACHE) <= position, 0.0, -1e9).reshape(1, 1, 1, CACHE)
    return (torch.randn(1, 1, TINY.hidden, generator=g), torch.randn(1, 1, 1, TINY.head_dim, generator=g),
            torch.randn(1, 1, 1, TINY.head_dim, generator=g), mask, torch.tensor([position]))


def test_cached_decoder_steps_match_pytorch() -> None:
    torch.manual_seed(0)
    model = CachedDecoder(TINY, 2, CACHE).eval()
    bs = compile_module(copy.deepcopy(model), step_inputs(0))
    assert sorted(t.name for t in bs.tensors if t.role == "state") == [
        "key_cache_0", "key_cache_1", "value_cache_0", "value_cache_1"]
    session = Session("small")
    for position in range(4):
        inputs = step_inputs(position)
        with torch.no_grad():
            want = model(*inputs).numpy()
        got = session.run(bs, [t.numpy() for t in inputs]).outputs[0]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(session.state("value_cache_1"), model.value_cache_1.numpy(), rtol=1e-4, atol=1e-5)


def test_shapes_only_workload_times_a_one_row_append() -> None:
    model, inputs = decode_with_cache_workload(TINY, cache_len=64, layers=1)
    assert model.key_cache_0.shape == (1, TINY.kv_heads, 64, TINY.head_dim) and model.key_cache_0.dtype == torch.bfloat16
    bs = compile_loaded(LoadedModel(Path("tiny-decode.py"), model, inputs), CompileOptions(chip="small")).bitstream
    writes = [s for s in bs.stages if s.opcode == "store_rows"]
    assert len(writes) == 2
    assert all(agcu_tier_bytes(bs, s) == ("hbm", TINY.kv_heads * TINY.head_dim * 2) for s in writes)
    assert simulate(bs, None, execute=False).cycles > 0
