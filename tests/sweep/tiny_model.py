"""A one-layer linear model: the cheapest thing to sweep in tests."""

import torch
from torch import nn

torch.manual_seed(0)
model = nn.Linear(16, 8)
example_inputs = (torch.randn(4, 16),)
