"""Tiny CoE expert 1: a Llama (RMSNorm, rotary, grouped-query attention, SwiGLU), random weights,
a fixed window of SEQ tokens (causal: the logits at position t see only tokens up to t)."""

import torch
from transformers import LlamaConfig, LlamaForCausalLM

SEQ = 16


def model():
    torch.manual_seed(1)
    config = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                         attn_implementation="eager", use_cache=False)
    return LlamaForCausalLM(config).eval()


def example_inputs():
    return (torch.randint(0, 256, (1, SEQ), generator=torch.Generator().manual_seed(1)),)
