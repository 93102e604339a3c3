"""A tiny decode step (bench.workloads' decoder, real weights): one new token against a KV cache of
8 past tokens per layer, taken as inputs, so rdu-shard splits the caches by KV head."""

import torch

from bench.workloads import Decoder, DecoderShape

SHAPE = DecoderShape("tiny", hidden=64, intermediate=128, layers=2, heads=4, kv_heads=2, vocab=256, head_dim=16)
CONTEXT = 8


def model():
    torch.manual_seed(0)
    return Decoder(SHAPE, SHAPE.layers).eval()


def example_inputs():
    g = torch.Generator().manual_seed(1)
    s = SHAPE
    inputs = [torch.randn(1, 1, s.hidden, generator=g), torch.randn(1, 1, 1, s.head_dim, generator=g),
              torch.randn(1, 1, 1, s.head_dim, generator=g), torch.zeros(1, 1, 1, CONTEXT + 1)]
    inputs += [torch.randn(1, s.kv_heads, CONTEXT, s.head_dim, generator=g) for _ in range(2 * s.layers)]
    return tuple(inputs)
