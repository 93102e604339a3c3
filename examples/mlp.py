"""A two-layer MLP with GELU: the smallest model that exercises matmul, bias and activation."""

import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self, features: int = 64, hidden: int = 128, classes: int = 16):
        super().__init__()
        self.fc1 = nn.Linear(features, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.nn.functional.gelu(self.fc1(x)))


torch.manual_seed(0)
model = MLP()
example_inputs = (torch.randn(8, 64),)
