"""A tiny decoder as a layer loop (`rducc loop_decoder.py --layers 3 --per-layer 4,5`): `model` is
layer 0 of a 3-layer `bench.workloads.Decoder`, `layer_model(i)` layer i (its own weights); the
hidden state (input 0, output 0) is carried, each layer's KV cache (inputs 4, 5) is its own."""

import torch

from bench.workloads import Decoder
from tests.node import decode_model

LAYERS = 3


def whole():
    torch.manual_seed(0)
    return Decoder(decode_model.SHAPE, LAYERS).eval()


def layer_model(i: int):
    one = Decoder(decode_model.SHAPE, 1).eval()
    one.layers[0].load_state_dict(whole().layers[i].state_dict())
    return one


def model():
    return layer_model(0)


def example_inputs():
    return decode_model.example_inputs()[:6]


def loop_inputs():
    """The loop's inputs: x, cos, sin, mask, then each cache stacked over the layers (the whole
    decoder's inputs are x, cos, sin, mask, then layer 0's two caches, layer 1's, ...)."""
    g = torch.Generator().manual_seed(2)
    s = decode_model.SHAPE
    shared = list(decode_model.example_inputs()[:4])
    caches = [[torch.randn(1, s.kv_heads, decode_model.CONTEXT, s.head_dim, generator=g) for _ in range(2)]
              for _ in range(LAYERS)]
    return shared, caches
