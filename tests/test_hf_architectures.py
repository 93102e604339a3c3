"""More decoder-only Hugging Face architectures than the bundled examples, each a whole causal LM
at test size (random weights from a config, nothing downloaded), compiled and simulated against
PyTorch eager. Between them they cover LayerNorm and RMSNorm, tanh-GELU, soft-capping, sliding
windows, negative indices, scalar buffers, fused QKV and shared-expert MoE."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

transformers = pytest.importorskip("transformers")

from compiler.driver import CompileOptions, compile_loaded  # noqa: E402
from compiler.frontend.model_file import LoadedModel  # noqa: E402
from compiler.run_model import run_compiled  # noqa: E402

COMMON = dict(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, max_position_embeddings=128, attn_implementation="eager", use_cache=False)
ARCHITECTURES = {
    "mistral": ("MistralConfig", "MistralForCausalLM", dict(COMMON, sliding_window=8)),
    "gemma2": ("Gemma2Config", "Gemma2ForCausalLM", dict(COMMON, head_dim=16, sliding_window=8)),
    "phi3": ("Phi3Config", "Phi3ForCausalLM", dict(COMMON, pad_token_id=0, eos_token_id=0, bos_token_id=0)),
    "qwen3": ("Qwen3Config", "Qwen3ForCausalLM", dict(COMMON, head_dim=16)),
    "qwen2moe": ("Qwen2MoeConfig", "Qwen2MoeForCausalLM", dict(
        COMMON, num_experts=4, num_experts_per_tok=2, moe_intermediate_size=32,
        shared_expert_intermediate_size=64, experts_implementation="batched_mm")),
    "gpt2": ("GPT2Config", "GPT2LMHeadModel", dict(
        vocab_size=256, n_embd=64, n_layer=2, n_head=4, n_positions=64, attn_implementation="eager", use_cache=False)),
    "falcon": ("FalconConfig", "FalconForCausalLM", dict(
        vocab_size=256, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, attn_implementation="eager",
        use_cache=False)),
}


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_architecture_matches_pytorch(name: str) -> None:
    config_cls, model_cls, kwargs = ARCHITECTURES[name]
    torch.manual_seed(0)
    model = getattr(transformers, model_cls)(getattr(transformers, config_cls)(**kwargs)).eval()
    ids = torch.randint(0, 256, (1, 16), generator=torch.Generator().manual_seed(1))
    report = run_compiled(compile_loaded(LoadedModel(Path(f"{name}.py"), model, (ids,)), CompileOptions(chip="small")))
    assert report.allclose, report.to_text()
