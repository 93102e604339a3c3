"""A residual MLP block small enough to be one kernel on the small chip (at TP2, its all-reduce
inside): the layer the layer-loop tests repeat."""

from __future__ import annotations

import torch
from torch import nn


class ResidualBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm, self.fc1, self.fc2 = nn.LayerNorm(64), nn.Linear(64, 128), nn.Linear(128, 64)

    def forward(self, x):
        return x + self.fc2(torch.relu(self.fc1(self.norm(x))))


def four_blocks() -> tuple[list[ResidualBlock], torch.Tensor, torch.Tensor]:
    """Four blocks with their own weights, an input, and the blocks' output run in turn."""
    torch.manual_seed(3)
    layers = [ResidualBlock().eval() for _ in range(4)]
    x = torch.randn(1, 4, 64)
    with torch.no_grad():
        want = x
        for layer in layers:
            want = layer(want)
    return layers, x, want
