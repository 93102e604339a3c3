"""A Hugging Face model left with its default use_cache=True returns a DynamicCache."""
import torch
from transformers import LlamaConfig, LlamaForCausalLM


def model():
    config = LlamaConfig(vocab_size=64, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, attn_implementation="eager")
    return LlamaForCausalLM(config).eval()


example_inputs = lambda: (torch.randint(0, 64, (1, 8)),)  # noqa: E731
