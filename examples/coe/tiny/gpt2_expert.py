"""Tiny CoE expert 2: a GPT-2 (LayerNorm, learned positions, GELU MLP), random weights, a fixed
window of SEQ tokens."""

import torch
from transformers import GPT2Config, GPT2LMHeadModel

SEQ = 16


def model():
    torch.manual_seed(2)
    config = GPT2Config(vocab_size=256, n_embd=64, n_layer=2, n_head=4, n_positions=64,
                        attn_implementation="eager", use_cache=False)
    return GPT2LMHeadModel(config).eval()


def example_inputs():
    return (torch.randint(0, 256, (1, SEQ), generator=torch.Generator().manual_seed(1)),)
