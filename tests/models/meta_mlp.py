"""A small MLP built on the meta device: shapes only, no values."""

import torch
from torch import nn

with torch.device("meta"):
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 8))
example_inputs = (torch.empty(4, 32, device="meta"),)
