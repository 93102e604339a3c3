"""The Llama attention layout, shared by the heads-transpose and query-block tests: separate
q/k/v projections, each viewed as heads and transposed, softmax(q kᵀ / sqrt(d)) v transposed back
and projected; and how those tests compile, run and compare it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import nn

from compiler.driver import CompileOptions, compile_loaded
from compiler.frontend.model_file import LoadedModel
from functional_sim import simulate

from tests.tiles.conftest import Compiled


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


def compiled_attention(opt_level: int, batch: int = 1, heads: int = 4) -> tuple[Compiled, np.ndarray]:
    """`HeadsAttention(128, heads)` (one sn40l vector per head at 4 heads) on [batch, 32, 128],
    compiled for sn40l with 512-byte tiles and simulated; and PyTorch's output."""
    torch.manual_seed(0)
    model = HeadsAttention(128, heads).eval()
    x = torch.randn(batch, 32, 128)
    result = compile_loaded(LoadedModel(Path("attention.py"), model, (x,)),
                            CompileOptions(chip="sn40l", opt_level=opt_level, tile_bytes=512))
    inputs = [x.numpy()]
    with torch.no_grad():
        expected = model(x).numpy()
    return Compiled(result.data, inputs, simulate(result.data, inputs).outputs), expected


def changed(outputs, reference) -> bool:
    """Whether a corrupted bitstream's outputs differ from the good one's."""
    return any(not np.allclose(a, b, atol=1e-5) for a, b in zip(outputs, reference))
