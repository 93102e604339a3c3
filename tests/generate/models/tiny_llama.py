"""A one-layer Llama causal LM with a 3-token prompt: the smallest model `rducc generate` runs."""
import torch
from transformers import LlamaConfig, LlamaForCausalLM


def model():
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=16,
                         attn_implementation="eager")
    return LlamaForCausalLM(config).eval()


example_inputs = lambda: (torch.tensor([[5, 17, 42]]),)  # noqa: E731
