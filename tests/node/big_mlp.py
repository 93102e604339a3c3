"""Two 65536 x 65536 BF16 projections, shapes only (16 GiB of weights): at TP 2 each socket's
shard (8 GiB) fits no `small` chip's memories (256 MiB HBM + 4 GiB DDR)."""

import torch
from torch import nn


def model():
    with torch.device("meta"):
        return nn.Sequential(nn.Linear(65536, 65536, bias=False), nn.Linear(65536, 65536, bias=False)).to(torch.bfloat16)


def example_inputs():
    return (torch.empty(1, 65536, dtype=torch.bfloat16, device="meta"),)
