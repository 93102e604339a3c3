"""`rdu-shard` on the graphs the frontend produces: every socket's outputs equal PyTorch's when the
sharded rgraph runs on all sockets with its collectives (before any lowering), and bad degrees
are refused with one line naming the figures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from compiler.compare import eager_leaves, to_numpy
from compiler.driver import import_named
from compiler.frontend.capture import capture
from compiler.frontend.model_file import load_model_file, run_eager
from dialects import make_context
from passes.registry import run_pipeline
from passes.shard import ShardError, tp_of
from tests.node.rgraph_node import interpret_node

EXAMPLES = Path(__file__).parents[2] / "examples"


def _imported(name: str):
    loaded = load_model_file(EXAMPLES / f"{name}.py")
    eager = [np.asarray(to_numpy(e)) for e in eager_leaves(run_eager(loaded))]
    return import_named(loaded, capture(loaded)).module, [to_numpy(t) for t in loaded.inputs], eager


def _sharded(module, tp: int):
    m = module.clone()
    run_pipeline(make_context(), m, f"rdu-shard{{tp={tp}}}")
    return m


@pytest.mark.parametrize(("name", "tps"), [("mlp", (2, 4, 8)), ("attention", (2, 4)), ("llama", (2, 4)),
                                           ("mixtral", (4,))])
def test_every_socket_matches_pytorch(name: str, tps: tuple[int, ...]) -> None:
    module, inputs, eager = _imported(name)
    for tp in tps:
        sharded = _sharded(module, tp)
        assert tp_of(sharded) == tp
        text = str(sharded)
        assert "rgraph.all_reduce" in text
        for outs in interpret_node(sharded, inputs, tp):
            for got, want in zip(outs, eager, strict=True):
                np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_llama_splits_attention_and_mlp_and_says_what_it_replicated() -> None:
    module, _, _ = _imported("llama")
    sharded = _sharded(module, 2)
    split = [s.data for s in sharded.attributes["rdu.shard.split"].data]
    replicated = [s.data for s in sharded.attributes["rdu.shard.replicated"].data]
    for layer in (0, 1):
        for proj in ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                     "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"):
            assert f"model.layers.{layer}.{proj}.weight" in split
        assert f"model.layers.{layer}.input_layernorm.weight" in replicated
    assert "lm_head.weight" in split and "model.embed_tokens.weight" in replicated
    # one all-reduce after each row-parallel projection, one all-gather of the vocab-split logits
    text = str(sharded)
    assert text.count("rgraph.all_reduce") == 4 and text.count("rgraph.all_gather") == 1


def test_mixtral_splits_each_experts_ffn_and_keeps_the_router_whole() -> None:
    module, _, _ = _imported("mixtral")
    sharded = _sharded(module, 2)
    split = [s.data for s in sharded.attributes["rdu.shard.split"].data]
    replicated = [s.data for s in sharded.attributes["rdu.shard.replicated"].data]
    assert "model.layers.0.mlp.experts.gate_up_proj" in split and "model.layers.0.mlp.experts.down_proj" in split
    assert "model.layers.0.mlp.gate.weight" in replicated  # the router: its columns feed softmax and top-k
    assert "shard = #rdu.shard<dim 1, parts 2, blocks 2>" in str(sharded)  # gate and up halves each split


def test_tp_not_dividing_heads_names_the_heads() -> None:
    module, _, _ = _imported("attention")
    with pytest.raises(ShardError, match=r"tp=8 does not divide the 4 heads of reshape 2x16x64 -> 2x16x4x16 \(at attention.py:36\)"):
        _sharded(module, 8)


def test_fewer_kv_heads_than_sockets_are_held_by_several() -> None:
    module, _, _ = _imported("llama")  # 4 query heads, 2 KV heads
    text = str(_sharded(module, 4))
    assert 'k_proj.weight_' in text and "shard = #rdu.shard<dim 0, parts 2>} : tensor<16x64xf32>" in text
    assert "shard = #rdu.shard<dim 0, parts 4>} : tensor<16x64xf32>" in text  # q_proj: one head per socket
    with pytest.raises(ShardError, match=r"tp=8 does not divide the 4 heads"):
        _sharded(module, 8)


def test_more_sockets_than_the_node_has() -> None:
    module, _, _ = _imported("mlp")
    m = module.clone()
    with pytest.raises(ShardError, match="tp=16 needs 16 sockets, but node small-node8 has 8"):
        run_pipeline(make_context(), m, "rdu-shard{tp=16 node=small-node8}")


def test_sharding_twice_is_refused() -> None:
    module, _, _ = _imported("mlp")
    m = _sharded(module, 2)
    with pytest.raises(ShardError, match="already sharded"):
        run_pipeline(make_context(), m, "rdu-shard{tp=2}")


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mistral", "gemma2", "phi3", "qwen3", "qwen2moe", "gpt2", "falcon"])
def test_hf_architectures_shard_and_match_pytorch(name: str) -> None:
    """The HF architecture tests' models at TP 2 and 4 (4 heads, 2 KV heads; Falcon's fused
    multi-query QKV only at 2), every socket against PyTorch, at the rgraph level."""
    import torch
    import transformers

    from compiler.frontend.model_file import LoadedModel
    from tests.test_hf_architectures import ARCHITECTURES

    config_cls, model_cls, kwargs = ARCHITECTURES[name]
    torch.manual_seed(0)
    model = getattr(transformers, model_cls)(getattr(transformers, config_cls)(**kwargs)).eval()
    ids = torch.randint(0, 256, (1, 16), generator=torch.Generator().manual_seed(1))
    loaded = LoadedModel(Path(f"{name}.py"), model, (ids,))
    eager = [np.asarray(to_numpy(e)) for e in eager_leaves(run_eager(loaded))]
    module = import_named(loaded, capture(loaded)).module
    for tp in (2,) if name == "falcon" else (2, 4):
        for outs in interpret_node(_sharded(module, tp), [ids.numpy()], tp):
            for got, want in zip(outs, eager, strict=True):
                np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
