"""A one-layer Llama causal LM with 8 query heads and 2 KV heads: the tiny model tensor-parallel
decode runs on all 8 sockets of a node (each KV head, and its cache, held by 4 sockets)."""
import torch
from transformers import LlamaConfig, LlamaForCausalLM


def model():
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=64, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=8, num_key_value_heads=2, max_position_embeddings=16,
                         attn_implementation="eager")
    return LlamaForCausalLM(config).eval()


example_inputs = lambda: (torch.tensor([[5, 17, 42]]),)  # noqa: E731
