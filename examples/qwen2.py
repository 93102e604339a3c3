"""A whole Qwen2 causal LM (biased q/k/v projections, grouped-query attention) at test size,
built from a config with random weights: nothing is downloaded."""

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

SEQ = 16


def model():
    torch.manual_seed(0)
    config = Qwen2Config(
        vocab_size=256,
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        attn_implementation="eager",
        use_cache=False,
    )
    return Qwen2ForCausalLM(config).eval()


def example_inputs():
    return (torch.randint(0, 256, (1, SEQ), generator=torch.Generator().manual_seed(1)),)
