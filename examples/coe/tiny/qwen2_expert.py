"""Tiny CoE expert 3: a Qwen2 (biased QKV projections, grouped-query attention), random weights,
a fixed window of SEQ tokens."""

import torch
from transformers import Qwen2Config, Qwen2ForCausalLM

SEQ = 16


def model():
    torch.manual_seed(3)
    config = Qwen2Config(vocab_size=256, hidden_size=64, intermediate_size=96, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                         attn_implementation="eager", use_cache=False)
    return Qwen2ForCausalLM(config).eval()


def example_inputs():
    return (torch.randint(0, 256, (1, SEQ), generator=torch.Generator().manual_seed(1)),)
