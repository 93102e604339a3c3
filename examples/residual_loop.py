"""A stack of residual MLP blocks as a layer loop: compile one block, run it `--layers` times.

    rducc examples/residual_loop.py -o blocks.rbit --layers 4     # one block + a LOOP section
    rducc run examples/residual_loop.py --layers 4 --json         # the loop against PyTorch

`model` is block 0; `layer_model(i)` is block i with its own weights, which the LOOP section gives
each iteration at its own HBM address. The hidden state (output 0) feeds the next block (input 0),
the loop's default carry. Without `--layers` this is one block, like any other example.
"""

import torch
from torch import nn


class ResidualBlock(nn.Module):
    def __init__(self, features: int = 64, hidden: int = 128):
        super().__init__()
        self.norm = nn.LayerNorm(features)
        self.fc1 = nn.Linear(features, hidden)
        self.fc2 = nn.Linear(hidden, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(torch.relu(self.fc1(self.norm(x))))


def layer_model(i: int) -> ResidualBlock:
    torch.manual_seed(i)
    return ResidualBlock().eval()


model = layer_model(0)
example_inputs = (torch.randn(1, 8, 64, generator=torch.Generator().manual_seed(100)),)
