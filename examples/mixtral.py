"""A whole Mixtral causal LM (sparse mixture of experts: top-2 routing over 4 experts) at test
size, built from a config with random weights: nothing is downloaded."""

import torch
from transformers import MixtralConfig, MixtralForCausalLM

SEQ = 16


def model():
    torch.manual_seed(0)
    config = MixtralConfig(
        vocab_size=256,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        num_local_experts=4,
        num_experts_per_tok=2,
        max_position_embeddings=128,
        attn_implementation="eager",
        experts_implementation="batched_mm",
        use_cache=False,
    )
    return MixtralForCausalLM(config).eval()


def example_inputs():
    return (torch.randint(0, 256, (1, SEQ), generator=torch.Generator().manual_seed(1)),)
