"""The paper's workloads as shapes-only PyTorch models (meta device: no weight memory).

A Llama-style decoder (RMSNorm, rotary embeddings, grouped-query attention, SwiGLU) written
directly in PyTorch, so that decode can take its KV cache as plain inputs: prefill runs a whole
prompt; decode runs one token against a cache of `context` past tokens. Weights are BF16, as served.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from compiler.coe.decoder_model import RMSNorm, rotate  # the CoE's decoder layer is built from the same two


@dataclass(frozen=True)
class DecoderShape:
    name: str
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int
    head_dim: int = 128


def tensor_parallel_shard(s: DecoderShape, ways: int) -> DecoderShape:
    """What one socket of a `ways`-socket tensor-parallel node computes: its share of the heads
    and of the MLP (the all-reduces between sockets are not modelled)."""
    return DecoderShape(f"{s.name}-tp{ways}", s.hidden, s.intermediate // ways, s.layers, s.heads // ways,
                        max(1, s.kv_heads // ways), s.vocab, s.head_dim)


LLAMA2_7B = DecoderShape("llama2-7b", 4096, 11008, 32, 32, 32, 32000)
MISTRAL_7B = DecoderShape("mistral-7b", 4096, 14336, 32, 32, 8, 32000)
LLAMA2_70B = DecoderShape("llama2-70b", 8192, 28672, 80, 64, 8, 32000)
LLAMA31_8B = DecoderShape("llama3.1-8b", 4096, 14336, 32, 32, 8, 128256)
LLAMA31_70B = DecoderShape("llama3.1-70b", 8192, 28672, 80, 64, 8, 128256)
LLAMA31_405B = DecoderShape("llama3.1-405b", 16384, 53248, 126, 128, 8, 128256)


class DecoderLayer(nn.Module):
    def __init__(self, s: DecoderShape):
        super().__init__()
        self.s = s
        self.norm1, self.norm2 = RMSNorm(s.hidden), RMSNorm(s.hidden)
        self.q = nn.Linear(s.hidden, s.heads * s.head_dim, bias=False)
        self.k = nn.Linear(s.hidden, s.kv_heads * s.head_dim, bias=False)
        self.v = nn.Linear(s.hidden, s.kv_heads * s.head_dim, bias=False)
        self.o = nn.Linear(s.heads * s.head_dim, s.hidden, bias=False)
        self.gate = nn.Linear(s.hidden, s.intermediate, bias=False)
        self.up = nn.Linear(s.hidden, s.intermediate, bias=False)
        self.down = nn.Linear(s.intermediate, s.hidden, bias=False)

    def forward(self, x, cos, sin, mask, past_k=None, past_v=None):
        q, k, v = self.qkv(x, cos, sin)
        if past_k is not None:
            k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
        return self.attend_and_mlp(x, q, k, v, mask)

    def qkv(self, x, cos, sin):
        """Queries, keys and values of the new tokens, rotated: (b, heads or kv_heads, t, head_dim)."""
        s = self.s
        b, t, _ = x.shape
        h = self.norm1(x)
        q = self.q(h).view(b, t, s.heads, s.head_dim).transpose(1, 2)
        k = self.k(h).view(b, t, s.kv_heads, s.head_dim).transpose(1, 2)
        v = self.v(h).view(b, t, s.kv_heads, s.head_dim).transpose(1, 2)
        return rotate(q, cos, sin), rotate(k, cos, sin), v

    def attention(self, q, k, v, mask):
        """softmax(q kᵀ / sqrt(d) + mask) v over the heads (KV heads expanded for GQA), heads
        transposed back to [b, t, heads * head_dim]."""
        s = self.s
        b, _, t, _ = q.shape
        groups = s.heads // s.kv_heads
        if groups > 1:
            k = k[:, :, None].expand(b, s.kv_heads, groups, k.shape[2], s.head_dim).reshape(b, s.heads, k.shape[2], s.head_dim)
            v = v[:, :, None].expand(b, s.kv_heads, groups, v.shape[2], s.head_dim).reshape(b, s.heads, v.shape[2], s.head_dim)
        scores = q @ k.transpose(-2, -1) / math.sqrt(s.head_dim) + mask
        return (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(b, t, s.heads * s.head_dim)

    def attend_and_mlp(self, x, q, k, v, mask):
        x = x + self.o(self.attention(q, k, v, mask))
        h = self.norm2(x)
        return x + self.down(nn.functional.silu(self.gate(h)) * self.up(h))


class Decoder(nn.Module):
    """`layers` decoder layers; decode takes each layer's past K and V as inputs."""

    def __init__(self, s: DecoderShape, layers: int):
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(s) for _ in range(layers))

    def forward(self, x, cos, sin, mask, *cache):
        for i, layer in enumerate(self.layers):
            past = (cache[2 * i], cache[2 * i + 1]) if cache else (None, None)
            x = layer(x, cos, sin, mask, *past)
        return x


def workload(s: DecoderShape, phase: str, context: int, layers: int | None = None,
             dtype: torch.dtype = torch.bfloat16) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    """(model, example inputs) on the meta device; `phase` is "prefill" or "decode"."""
    layers = s.layers if layers is None else layers
    tokens = context if phase == "prefill" else 1
    total = context if phase == "prefill" else context + 1
    with torch.device("meta"):
        model = Decoder(s, layers).to(dtype).eval()
        inputs = [
            torch.empty(1, tokens, s.hidden, dtype=dtype),
            torch.empty(1, 1, tokens, s.head_dim, dtype=dtype),
            torch.empty(1, 1, tokens, s.head_dim, dtype=dtype),
            torch.empty(1, 1, tokens, total, dtype=dtype),
        ]
        if phase == "decode":
            for _ in range(layers):
                inputs += [torch.empty(1, s.kv_heads, context, s.head_dim, dtype=dtype) for _ in range(2)]
    return model, tuple(inputs)


class DecodeStep(nn.Module):
    """One whole decode step of a Llama-style model, token in, token out: the embedding lookup of
    the new token, `layers` decoder layers against their KV caches (inputs), the final norm, the
    untied LM head and greedy sampling (argmax). Compiled with `layers=1` and
    `CompileOptions(layers=L, loop_body="layers.0", per_layer=(4, 5))`, it is one bitstream: the
    embedding (prologue), layer 0's kernels run L times (the loop), norm, head and argmax (epilogue).

    `residual` is the dtype of the hidden state between layers: the paper serves "BF16 weights,
    mixed BF16/FP32 activations"; with `torch.float32` the embedding row, the residual adds, the
    norms' inputs and the row-parallel projections' outputs (so their all-reduces) are FP32, the
    weights and the matmuls' inputs BF16."""

    def __init__(self, s: DecoderShape, layers: int = 1, residual: torch.dtype | None = None):
        super().__init__()
        self.residual = residual
        self.embed = nn.Embedding(s.vocab, s.hidden)
        self.layers = nn.ModuleList((MixedLayer(s, residual) if residual is not None else DecoderLayer(s))
                                    for _ in range(layers))
        self.norm = RMSNorm(s.hidden)
        self.lm_head = nn.Linear(s.hidden, s.vocab, bias=False)

    def forward(self, token, cos, sin, mask, *cache):
        x = self.embed(token)
        if self.residual is not None:
            x = x.to(self.residual)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, mask, cache[2 * i], cache[2 * i + 1])
        h = self.norm(x)
        return self.lm_head(h.to(self.lm_head.weight.dtype)).argmax(-1)


class MixedLayer(DecoderLayer):
    """A decoder layer whose residual stream is `residual` (FP32) and whose weights are BF16: each
    projection reads its input cast to the weights' dtype, and the output and down projections
    compute in the residual's dtype (so a row-parallel split all-reduces FP32 partial sums)."""

    def __init__(self, s: DecoderShape, residual: torch.dtype):
        super().__init__(s)
        self.residual = residual

    def forward(self, x, cos, sin, mask, past_k=None, past_v=None):
        low = self.q.weight.dtype
        s = self.s
        b, t, _ = x.shape
        h = self.norm1(x).to(low)
        q = self.q(h).view(b, t, s.heads, s.head_dim).transpose(1, 2)
        k = self.k(h).view(b, t, s.kv_heads, s.head_dim).transpose(1, 2)
        v = self.v(h).view(b, t, s.kv_heads, s.head_dim).transpose(1, 2)
        q, k = rotate(q, cos, sin), rotate(k, cos, sin)
        if past_k is not None:
            k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
        attn = self.attention(q, k, v, mask)
        wide = self.residual
        x = x + nn.functional.linear(attn.to(wide), self.o.weight.to(wide))
        h = self.norm2(x).to(low)
        m = nn.functional.silu(self.gate(h)) * self.up(h)
        return x + nn.functional.linear(m.to(wide), self.down.weight.to(wide))


def decode_step_workload(s: DecoderShape, context: int, residual: torch.dtype | None = None,
                         dtype: torch.dtype = torch.bfloat16) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    """(model, example inputs) on the meta device for one whole decode step with one layer (the
    loop body, `layers.0`): token id (1, 1), cos, sin, mask, then layer 0's K and V caches."""
    with torch.device("meta"):
        model = DecodeStep(s, 1, residual).to(dtype).eval()
        inputs = (torch.empty(1, 1, dtype=torch.int64),
                  torch.empty(1, 1, 1, s.head_dim, dtype=dtype), torch.empty(1, 1, 1, s.head_dim, dtype=dtype),
                  torch.empty(1, 1, 1, context + 1, dtype=dtype),
                  torch.empty(1, s.kv_heads, context, s.head_dim, dtype=dtype),
                  torch.empty(1, s.kv_heads, context, s.head_dim, dtype=dtype))
    return model, inputs


class CachedDecoder(nn.Module):
    """`layers` decoder layers whose K and V caches are buffers of `cache_len` rows, updated in place.

    `forward(x, cos, sin, mask, position)` runs one token (x: (1, 1, hidden)) at the runtime
    `position` (shape (1,), int64): each layer writes its new key and value row into its cache with
    `index_copy_` and attends over the whole cache under `mask` ((1, 1, 1, cache_len), additive:
    0 up to `position`, -inf after). rducc compiles each cache as a state tensor in HBM and each
    write as a `store_rows` of one row (docs/generate.md): the serving-time decode step, with the
    cache resident between steps instead of passed in and out."""

    def __init__(self, s: DecoderShape, layers: int, cache_len: int):
        super().__init__()
        self.layers = nn.ModuleList(DecoderLayer(s) for _ in range(layers))
        for i in range(layers):
            self.register_buffer(f"key_cache_{i}", torch.zeros(1, s.kv_heads, cache_len, s.head_dim))
            self.register_buffer(f"value_cache_{i}", torch.zeros(1, s.kv_heads, cache_len, s.head_dim))

    def forward(self, x, cos, sin, mask, position):
        for i, layer in enumerate(self.layers):
            q, k, v = layer.qkv(x, cos, sin)
            keys = getattr(self, f"key_cache_{i}")
            values = getattr(self, f"value_cache_{i}")
            keys.index_copy_(2, position, k)
            values.index_copy_(2, position, v)
            x = layer.attend_and_mlp(x, q, keys, values, mask)
        return x


def decode_with_cache_workload(s: DecoderShape, cache_len: int = 8192, layers: int | None = None,
                               dtype: torch.dtype = torch.bfloat16) -> tuple[nn.Module, tuple[torch.Tensor, ...]]:
    """(model, example inputs) on the meta device for one decode step against a static KV cache of
    `cache_len` rows held in HBM (e.g. `decode_with_cache_workload(LLAMA31_8B)`: Llama-3.1-8B shapes,
    an 8K cache, 32 layers, BF16). The step reads every cache (attention over `cache_len` rows) and
    writes one row per layer and per K/V; compile it shapes-only and simulate with execute=False."""
    layers = s.layers if layers is None else layers
    with torch.device("meta"):
        model = CachedDecoder(s, layers, cache_len).to(dtype).eval()
        inputs = (
            torch.empty(1, 1, s.hidden, dtype=dtype),
            torch.empty(1, 1, 1, s.head_dim, dtype=dtype),
            torch.empty(1, 1, 1, s.head_dim, dtype=dtype),
            torch.empty(1, 1, 1, cache_len, dtype=dtype),
            torch.empty(1, dtype=torch.int64),
        )
    return model, inputs
