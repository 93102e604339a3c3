"""The serving simulator: a request trace through a router and an expert library on one platform.

The paper's scheduling is the default (and, for now, the only) policy: when the platform is free,
the waiting requests (up to the router batch B) form a batch; the router runs once at that batch;
then each (prompt, expert) pair runs in turn at batch 1: if the expert is not in HBM it is copied
in (the switch: its bytes at the platform's copy bandwidth, after size-aware eviction), then its
prefill gives the first token and its decode steps the rest.

A platform is what differs between the SN40L node and the DGX baseline: an `ExpertTimer`, the HBM
left for the expert cache, the copy bandwidth into HBM, and how many bytes of experts it can hold
at all (DDR, or GPU HBM plus host memory). Expert times come from the timer's cached programs:
nothing is compiled or simulated per request. Output: per-request TTFT and end-to-end latency,
throughput, HBM hits and misses, switch time, utilisation, and the timeline's events.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from compiler.coe.architecture import Architecture
from compiler.coe.config import CoESpec
from compiler.coe.errors import CoEError
from compiler.coe.hbm_cache import HBMExpertCache
from compiler.coe.requests import Request
from compiler.coe.timer import ExpertTimer, decode_seconds

Router = Callable[[Sequence[Request]], list[str]]


@dataclass
class Platform:
    name: str
    timer: ExpertTimer
    expert_cache_bytes: int
    copy_bytes_per_second: float
    library_capacity_bytes: int


@dataclass
class RequestResult:
    id: int
    expert: str
    category: str
    arrival: float
    start: float
    first_token: float
    done: float
    hit: bool
    switch_seconds: float

    @property
    def ttft(self) -> float:
        return self.first_token - self.arrival

    @property
    def latency(self) -> float:
        return self.done - self.arrival


@dataclass
class ServeResult:
    platform: str
    requests: list[RequestResult]
    output_tokens: int
    router_seconds: float
    switch_seconds: float
    expert_seconds: float
    makespan: float
    hits: int
    misses: int
    evictions: int
    events: list[tuple[str, str, float, float, dict[str, Any]]] = field(default_factory=list)
    cache_policy: str = "lru"

    def summary(self) -> dict[str, Any]:
        ttft = np.array([r.ttft for r in self.requests])
        lat = np.array([r.latency for r in self.requests])

        def stats(a: np.ndarray) -> dict[str, float]:
            return {"mean": float(a.mean()), "p50": float(np.percentile(a, 50)), "p99": float(np.percentile(a, 99)),
                    "max": float(a.max())}

        busy = self.router_seconds + self.switch_seconds + self.expert_seconds
        return {
            "platform": self.platform, "requests": len(self.requests), "output_tokens": self.output_tokens,
            "makespan_seconds": self.makespan,
            "throughput_requests_per_second": len(self.requests) / self.makespan if self.makespan else 0.0,
            "throughput_tokens_per_second": self.output_tokens / self.makespan if self.makespan else 0.0,
            "ttft_seconds": stats(ttft), "latency_seconds": stats(lat),
            "hbm_hits": self.hits, "hbm_misses": self.misses, "evictions": self.evictions,
            "cache_policy": self.cache_policy,
            "router_seconds": self.router_seconds, "switch_seconds": self.switch_seconds,
            "expert_seconds": self.expert_seconds,
            "utilisation": {"busy": busy / self.makespan if self.makespan else 0.0,
                            "computing": (self.router_seconds + self.expert_seconds) / self.makespan if self.makespan else 0.0,
                            "switching": self.switch_seconds / self.makespan if self.makespan else 0.0},
        }


def uniform_router(categories: Sequence[str], seed: int = 0) -> Router:
    """The shapes-only router's stand-in: a request's own category, else one drawn uniformly
    (seeded), since a shapes-only router has no weights to classify with."""
    rng = random.Random(seed)

    def route(batch: Sequence[Request]) -> list[str]:
        return [r.category if r.category is not None else rng.choice(categories) for r in batch]

    return route


def check_requests(spec: CoESpec, requests: Sequence[Request]) -> None:
    """Every request must fit the router's and every possible expert's context (a request with a
    category is checked against its expert; one without against the smallest context): its prompt
    and every generated token but the last, which is produced and never fed back, as
    compiler/generate.py's KV cache counts rows."""
    smallest = min(e.architecture.max_context for e in spec.experts)
    router_context = spec.router.architecture.max_context
    for r in requests:
        where = f"request at line {r.line}" if r.line else f"request {r.id}"
        if r.prompt_tokens > router_context:
            raise CoEError(f"{where}: its {r.prompt_tokens}-token prompt exceeds the router's context of {router_context}")
        if r.category is not None:
            try:
                expert = spec.expert_for(r.category)
            except CoEError as exc:
                raise CoEError(f"{where}: {exc}") from None
            limit, whose = expert.architecture.max_context, f"expert {expert.name}'s"
        else:
            limit, whose = smallest, "the smallest expert"
        if r.prompt_tokens + r.output_tokens - 1 > limit:  # the last token is produced, never fed back
            raise CoEError(f"{where}: {r.prompt_tokens} prompt + {r.output_tokens} output tokens exceed "
                           f"{whose} context of {limit}")


def route_all(route: Router, requests: Sequence[Request], batch: int) -> list[str]:
    """Every request's category, in trace order. A request's category depends only on the request
    (a functional router classifies each prompt alone; the uniform stand-in draws in trace order),
    not on which batch it joins or on the cache, so routing first gives the same choices as routing
    batch by batch, and gives an offline eviction policy (`belady`) the future it needs."""
    out: list[str] = []
    for i in range(0, len(requests), batch):
        out += route(requests[i:i + batch])
    return out


def serve(spec: CoESpec, platform: Platform, requests: Sequence[Request], router: Router | None = None,
          policy: str | None = None, record_events: bool = True,
          progress: Callable[[int], None] = lambda done: None) -> ServeResult:
    library = sum(e.architecture.weight_bytes for e in spec.experts)
    if library > platform.library_capacity_bytes:
        raise CoEError(f"{platform.name} cannot hold the library: {len(spec.experts)} experts need "
                       f"{library / 1e12:.2f} TB, it holds {platform.library_capacity_bytes / 1e12:.2f} TB")
    route = router or uniform_router(spec.categories)
    chosen = route_all(route, requests, spec.batch)
    experts = [spec.expert_for(c) for c in chosen]
    policy = policy or spec.cache_policy
    cache = HBMExpertCache(platform.expert_cache_bytes, policy, [e.name for e in experts])
    timer = platform.timer
    prefill_memo: dict[tuple[Architecture, int, int], float] = {}
    decode_memo: dict[tuple[Architecture, int, int], float] = {}

    def prefill(arch: Architecture, tokens: int, batch: int) -> float:
        key = (arch, tokens, batch)
        if key not in prefill_memo:
            prefill_memo[key] = timer.prefill_seconds(arch, tokens, batch)
        return prefill_memo[key]

    def decode(arch: Architecture, prompt: int, steps: int) -> float:
        key = (arch, prompt, steps)
        if key not in decode_memo:
            decode_memo[key] = decode_seconds(timer, arch, prompt, steps, 1)
        return decode_memo[key]

    results: list[RequestResult] = []
    events: list[tuple[str, str, float, float, dict[str, Any]]] = []
    router_total = switch_total = expert_total = 0.0
    tokens_out = 0
    t = 0.0
    i = 0
    n = len(requests)
    router_arch = spec.router.architecture
    while i < n:
        t = max(t, requests[i].arrival)
        j = i + 1
        while j < n and j - i < spec.batch and requests[j].arrival <= t:
            j += 1
        batch = requests[i:j]
        r_seconds = prefill(router_arch, max(r.prompt_tokens for r in batch), len(batch))
        if record_events:
            events.append(("router", f"router x{len(batch)}", t, r_seconds, {"requests": [r.id for r in batch]}))
        t += r_seconds
        router_total += r_seconds
        for k, request in enumerate(batch, i):
            category, expert = chosen[k], experts[k]
            arch = expert.architecture
            start = t
            access = cache.access(expert.name, arch.weight_bytes)
            switch = access.copied_bytes / platform.copy_bytes_per_second
            if switch:
                if record_events:
                    events.append(("switch", f"load {expert.name}", t, switch,
                                   {"bytes": access.copied_bytes, "evicted": access.evicted}))
                t += switch
                switch_total += switch
            p = prefill(arch, request.prompt_tokens, 1)
            d = decode(arch, request.prompt_tokens, request.output_tokens - 1)
            if record_events:
                events.append(("expert", f"{expert.name} prefill", t, p, {"request": request.id, "tokens": request.prompt_tokens}))
                if d:
                    events.append(("expert", f"{expert.name} decode", t + p, d, {"request": request.id, "tokens": request.output_tokens - 1}))
            first = t + p
            t = first + d
            expert_total += p + d
            tokens_out += request.output_tokens
            results.append(RequestResult(request.id, expert.name, category, request.arrival, start, first, t,
                                         access.hit, switch))
        i = j
        progress(i)
    makespan = t - min(r.arrival for r in requests)
    return ServeResult(platform.name, results, tokens_out, router_total, switch_total, expert_total, makespan,
                       cache.hits, cache.misses, cache.evictions, events, policy)
