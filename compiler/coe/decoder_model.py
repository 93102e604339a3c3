"""The PyTorch module of a decoder layer, and of the final norm and LM head, in plain PyTorch so
the KV cache can be a plain input; built full-width and split by `rdu-shard{tp=N}`.

Kept apart from `architecture` because it imports torch (the plan and the serving simulator do
not need it once the timings are cached). Given a shard's dimensions (`DecoderArchitecture.shard`)
it is also one socket's share by hand; the program cache compiles the full-width module for the
node, so the all-reduces between sockets are compiled and simulated.
"""

from __future__ import annotations

import math

import torch
from torch import nn


class RMSNorm(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.weight


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return x * cos + torch.cat([-x[..., half:], x[..., :half]], dim=-1) * sin


class ShardLayer(nn.Module):
    """One decoder layer of the dimensions given (full width, or a shard's)."""

    def __init__(self, s):
        super().__init__()
        self.s = s
        self.input_norm, self.post_norm = RMSNorm(s.hidden), RMSNorm(s.hidden)
        self.q_proj = nn.Linear(s.hidden, s.heads * s.head_dim, bias=False)
        self.k_proj = nn.Linear(s.hidden, s.kv_heads * s.head_dim, bias=False)
        self.v_proj = nn.Linear(s.hidden, s.kv_heads * s.head_dim, bias=False)
        self.o_proj = nn.Linear(s.heads * s.head_dim, s.hidden, bias=False)
        self.gate_proj = nn.Linear(s.hidden, s.intermediate, bias=False)
        self.up_proj = nn.Linear(s.hidden, s.intermediate, bias=False)
        self.down_proj = nn.Linear(s.intermediate, s.hidden, bias=False)

    def forward(self, x, cos, sin, mask, past_k=None, past_v=None):
        s = self.s
        b, t, _ = x.shape
        h = self.input_norm(x)
        q = self.q_proj(h).view(b, t, s.heads, s.head_dim).transpose(1, 2)
        k = self.k_proj(h).view(b, t, s.kv_heads, s.head_dim).transpose(1, 2)
        v = self.v_proj(h).view(b, t, s.kv_heads, s.head_dim).transpose(1, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        if past_k is not None:
            k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
        groups = s.heads // s.kv_heads
        if groups > 1:
            n = k.shape[2]
            k = k[:, :, None].expand(b, s.kv_heads, groups, n, s.head_dim).reshape(b, s.heads, n, s.head_dim)
            v = v[:, :, None].expand(b, s.kv_heads, groups, n, s.head_dim).reshape(b, s.heads, n, s.head_dim)
        scores = q @ k.transpose(-2, -1) / math.sqrt(s.head_dim) + mask
        attn = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(b, t, s.heads * s.head_dim)
        x = x + self.o_proj(attn)  # the TP all-reduce of the attention output goes here
        h = self.post_norm(x)
        return x + self.down_proj(nn.functional.silu(self.gate_proj(h)) * self.up_proj(h))  # and here


class ShardHead(nn.Module):
    """The final norm and the LM head on the last position (the only logits a greedy step needs);
    split over the vocabulary by `rdu-shard`, which gathers the logits' shards (a simulated collective)."""

    def __init__(self, s):
        super().__init__()
        self.norm = RMSNorm(s.hidden)
        self.lm_head = nn.Linear(s.hidden, s.vocab, bias=False)

    def forward(self, x):
        return self.lm_head(self.norm(x))
