"""Kernels built to load the mesh's links: many wide streams at once, each searched for link
congestion by `bench.placement --cycles` (names `link:NAME`).

Why these shapes: on sn40l a link is 4 full-rate streams wide (`network.vector_tracks`; links are
packet-switched, so more flows share it) and HBM serves ~1,125 bytes/cycle, under three links'
worth; a kernel whose streams all start at HBM is bound by HBM before any link fills. So the
candidates either converge many HBM streams on a few consumers (every expert of a decode MoE at
once, heads of one projection), or multiply on chip what HBM delivered (an input broadcast to many
elementwise branches; an outer product expanded on chip), so that the mesh carries many times the
HBM bytes. Whether any of them queues on a link under the wirelength placement is what the bench
measures (`link_wait_share`), not assumed.

The first four (wave 9) never exceed a link's bandwidth: their flows converge in pairs (add
chains) or are slow (matmul outputs), and the router keeps every link within its bandwidth. The
join kernels (wave 10) are heavier on purpose: 24 full-rate elementwise branches into one stage,
more than the 16 full-rate streams the 4 links into its switch carry, so the join's incoming links
are shared beyond their bandwidth under any placement, and how the flows reach it (over which
links, past which other flows) is placement's to decide. Tried and dropped (no link wait under
any placement, sn40l, seed 0): the heads projection with 20 heads and 20 experts stacked (their
flows are slow matmul outputs), two HBM inputs into 20 joined branches (HBM-bound), the outer join
with 20 branches (65% of a link busy, no wait), the broadcast join with 32 branches of a 512x2048
input (HBM-bound).

Wave 11 (streams routed at their rates, `backend_rdu.stream_rates`; docs/placement.md "Wave 11:
placing for link wait"): `outer-join-wide` (512x4096) waits on the join's links on the critical
path as outer-join and outer-join-large do. Tried and dropped, no link over its bandwidth at the
rates under the wirelength placement (sn40l, seed 0): the outer join on 2048x1024 (17,639 body
cycles, no wait), with 20 branches on 1024x4096 (12,286), and two joins of 24 branches each of
one 512x2048 outer product, multiplied (45,714). broadcast-join no longer waits on a link under
the wirelength placement once its flows are routed at their rates.
"""

from __future__ import annotations

import torch
from torch import nn

UNARY = (torch.sigmoid, torch.tanh, torch.relu, torch.exp, torch.sin, torch.cos, torch.abs, torch.neg,
         torch.square, nn.functional.gelu, nn.functional.silu, torch.erf)


class ExpertsDecode(nn.Module):
    """One token through every expert of a MoE layer at once (dense routing): `experts` GEMVs whose
    weights stream from HBM together, summed."""

    def __init__(self, d: int = 1024, h: int = 2048, experts: int = 16):
        super().__init__()
        self.up = nn.ModuleList(nn.Linear(d, h, bias=False) for _ in range(experts))

    def forward(self, x):
        out = None
        for lin in self.up:
            y = nn.functional.silu(lin(x))
            out = y if out is None else out + y
        return out


class HeadsProjection(nn.Module):
    """One activation broadcast to `heads` projections, concatenated: a wide multicast and a wide join."""

    def __init__(self, d: int = 1024, heads: int = 16, head_dim: int = 256):
        super().__init__()
        self.proj = nn.ModuleList(nn.Linear(d, head_dim, bias=False) for _ in range(heads))

    def forward(self, x):
        return torch.cat([torch.relu(p(x)) for p in self.proj], dim=-1)


class BroadcastBranches(nn.Module):
    """One big input, `branches` elementwise branches of it, summed: every byte HBM delivers
    crosses the mesh once per branch."""

    def __init__(self, branches: int = 12):
        super().__init__()
        self.branches = branches

    def forward(self, x):
        out = None
        for i in range(self.branches):
            y = UNARY[i](x) * (i + 1.5)
            out = y if out is None else out + y
        return out


class OuterBranches(BroadcastBranches):
    """Two vectors expanded on chip (outer product) into `branches` elementwise branches, summed and
    reduced: little HBM traffic, every branch a full-rate stream of the expanded matrix."""

    def forward(self, a, b):
        return super().forward(a[:, None] * b[None, :]).sum(-1)


class BroadcastJoin(nn.Module):
    """One input from HBM broadcast to `branches` elementwise branches that one stage joins
    (concatenated, then reduced): every branch is a full-rate flow into the join's unit, more than
    the links into one switch carry (4 links x 4 full-rate streams on sn40l), so the join's incoming
    links are shared beyond their bandwidth wherever it is placed; how evenly the flows arrive over
    its links is what placement decides."""

    def __init__(self, branches: int = 24):
        super().__init__()
        self.branches = branches

    def forward(self, x):
        return torch.cat([UNARY[i % len(UNARY)](x) * (i + 1.5) for i in range(self.branches)], dim=-1).sum(-1)


class OuterJoin(BroadcastJoin):
    """`BroadcastJoin`'s join of two vectors expanded on chip (outer product) rather than an input
    from HBM: little HBM traffic either side."""

    def forward(self, a, b):
        return super().forward(a[:, None] * b[None, :])


def _seeded(make):
    def build():
        torch.manual_seed(0)
        return make()
    return build


KERNELS = {
    "experts-decode": _seeded(lambda: (ExpertsDecode().eval(), (torch.randn(1, 1024),))),
    "heads-projection": _seeded(lambda: (HeadsProjection().eval(), (torch.randn(64, 1024),))),
    "broadcast-branches": _seeded(lambda: (BroadcastBranches().eval(), (torch.randn(2048, 4096),))),
    "outer-branches": _seeded(lambda: (OuterBranches().eval(), (torch.randn(2048), torch.randn(8192)))),
    "broadcast-join": _seeded(lambda: (BroadcastJoin().eval(), (torch.randn(1024, 2048),))),
    "outer-join": _seeded(lambda: (OuterJoin().eval(), (torch.randn(512), torch.randn(2048)))),
    "outer-join-large": _seeded(lambda: (OuterJoin().eval(), (torch.randn(1024), torch.randn(4096)))),
    "outer-join-wide": _seeded(lambda: (OuterJoin().eval(), (torch.randn(512), torch.randn(4096)))),
}


def imported(name: str):
    """The kernel as rgraph IR, before any pass (as `compiler.driver.import_model` imports a model file)."""
    from pathlib import Path

    from compiler.driver import import_named
    from compiler.frontend.capture import capture
    from compiler.frontend.model_file import LoadedModel

    model, inputs = KERNELS[name]()
    loaded = LoadedModel(Path(f"{name}.py"), model, inputs)
    return import_named(loaded, capture(loaded))
