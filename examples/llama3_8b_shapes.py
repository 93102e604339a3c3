"""Llama-3-8B shapes (hidden 4096, 32 layers, GQA 32/8 heads, vocab 128256, sequence 2048),
built on the meta device: the compiler sees every shape and no weight memory is allocated.
Compile it shapes-only (`rducc llama3_8b_shapes.py -o out.rbit --chip sn40l`); it cannot be run
numerically."""

import torch
from transformers import LlamaConfig, LlamaForCausalLM

SEQ = 2048


def model():
    config = LlamaConfig(
        vocab_size=128256,
        hidden_size=4096,
        intermediate_size=14336,
        num_hidden_layers=32,
        num_attention_heads=32,
        num_key_value_heads=8,
        max_position_embeddings=8192,
        rope_theta=500000.0,
        attn_implementation="eager",
        use_cache=False,
    )
    with torch.device("meta"):
        return LlamaForCausalLM(config).eval()


def example_inputs():
    return (torch.zeros((1, SEQ), dtype=torch.long, device="meta"),)
