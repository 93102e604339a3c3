"""A tiny whole decode step as one bitstream (`rducc step_decoder.py --layers 3 --per-layer 4,5
--loop-body layers.0`): `model` is a `bench.workloads.DecodeStep` with one layer, the loop body;
`layer_model(i)` the same step with layer i of a 3-layer step in `layers.0`. Token id in, greedy
token out: embedding (prologue), the layer looped, final norm, LM head and argmax (epilogue)."""

import torch

from bench.workloads import DecodeStep
from tests.node import decode_model

LAYERS = 3


def whole():
    torch.manual_seed(0)
    return DecodeStep(decode_model.SHAPE, LAYERS).eval()


def layer_model(i: int):
    one = DecodeStep(decode_model.SHAPE, 1).eval()
    full = whole()
    one.load_state_dict({k: v for k, v in full.state_dict().items() if not k.startswith("layers.")}, strict=False)
    one.layers[0].load_state_dict(full.layers[i].state_dict())
    return one


def model():
    return layer_model(0)


def example_inputs(token: int = 7):
    shared = decode_model.example_inputs()
    return (torch.tensor([[token]]), *shared[1:6])
