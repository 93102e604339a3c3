"""The Llama attention layout at batch 1, shared by the heads-transpose and query-block tests:
separate q/k/v projections, each viewed as heads and transposed, softmax(q kᵀ / sqrt(d)) v
transposed back and projected."""

from __future__ import annotations

import math

import torch
from torch import nn


class HeadsAttention(nn.Module):
    def __init__(self, dim: int, heads: int = 4):
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim, bias=False) for _ in range(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        hd = d // self.heads
        q, k, v = (p(x).view(b, t, self.heads, hd).transpose(1, 2) for p in (self.q, self.k, self.v))
        attn = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(hd), dim=-1) @ v
        return self.o(attn.transpose(1, 2).reshape(b, t, d))
