"""Two-head self-attention at toy size: the cheapest model with heads for tensor parallelism
(tp = 2 splits the heads; tp = 4 does not divide them)."""

import torch
from torch import nn


class TwoHeads(nn.Module):
    def __init__(self, dim: int = 16, heads: int = 2):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.proj = nn.Linear(dim, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, dim = x.shape
        q, k, v = self.qkv(x).split(dim, dim=-1)
        q, k, v = (t.view(batch, seq, self.heads, dim // self.heads).transpose(1, 2) for t in (q, k, v))
        attn = torch.softmax(q @ k.transpose(-2, -1), dim=-1) @ v
        return self.proj(attn.transpose(1, 2).reshape(batch, seq, dim))


torch.manual_seed(0)
model = TwoHeads()
example_inputs = (torch.randn(1, 8, 16),)
