"""A CoE on its node, ready to serve: the spec, the node, the memory plan, the program cache and
the timer, and the step that compiles every architecture's programs up front.

Compiling up front (not per request) is what keeps serving fast; it also lets an expert whose
program does not compile be named while every other expert is still compiled and counted.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Callable, Sequence

from chip_model.node import load_node
from compiler.coe.architecture import Architecture
from compiler.coe.config import CoESpec, load_coe
from compiler.coe.errors import CoEError
from compiler.coe.memory_plan import MemoryPlan, plan_memory
from compiler.coe.programs import ProgramCache, ProgramShape
from compiler.coe.requests import Request
from compiler.coe.serve import Platform
from compiler.coe.timer import SimulatedTimer, batch_bucket, bucket, buckets_between
from rducc_errors import UserError


def _chip_reference(node) -> str:
    """A bundled chip by its name (so `bench.coe` and `rducc coe` share cached programs), any
    other by its file."""
    from chip_model.spec import SPEC_DIR

    source = node.chip.source
    return node.chip.name if not source or Path(source).resolve().parent == SPEC_DIR.resolve() else source


class CoESession:
    def __init__(self, spec: CoESpec | str | Path, cache_dir: Path | None = None, cache_policy: str | None = None,
                 placer: str | None = None):
        """`cache_policy` overrides the COE.toml's HBM eviction policy (`--cache-policy`). `placer`
        is the default placer resolved elsewhere (a fleet worker gets its driver's: the default
        reads the environment, which a Ray worker does not share, and the program cache is keyed
        on it); the COE.toml's own `compile.placer` still wins."""
        from dataclasses import replace

        from compiler.coe.hbm_cache import POLICIES
        from compiler.driver import CompileOptions

        self.spec = spec if isinstance(spec, CoESpec) else load_coe(spec)
        if cache_policy is not None:
            if cache_policy not in POLICIES:
                raise CoEError(f"unknown cache policy {cache_policy!r}: choose one of {', '.join(POLICIES)}")
            self.spec = replace(self.spec, cache_policy=cache_policy)
        try:
            self.node = load_node(self.spec.node_name)
        except UserError as exc:
            raise CoEError(f"{self.spec.path.name}: {exc}") from None
        self.tp = self.spec.tp or self.node.sockets
        if self.tp > self.node.sockets:
            raise CoEError(f"{self.spec.path.name}: tp {self.tp} exceeds {self.node.name}'s {self.node.sockets} sockets")
        compile_options = ({"placer": placer} if placer else {}) | dict(self.spec.compile)
        self.options = CompileOptions(chip=_chip_reference(self.node), **compile_options)
        self.plan: MemoryPlan = plan_memory(self.spec, self.node, self.tp)
        self.programs = ProgramCache(self.node, self.tp, self.options, cache_dir)
        self.timer = SimulatedTimer(self.node, self.programs)

    def platform(self) -> Platform:
        return Platform(self.node.name, self.timer, self.plan.expert_cache_bytes, self.node.ddr_to_hbm_bytes_per_second,
                        self.plan.ddr_capacity)

    def needs(self, requests: Sequence[Request], batches: Sequence[int] = ()) -> list[tuple[Architecture, ProgramShape]]:
        """Every program serving `requests` may run: for each architecture that could be chosen,
        prefill at each prompt bucket and decode over each context bucket, at batch 1; the router's
        prefill at every batch it may run at."""
        by_arch: dict[Architecture, set[tuple[str, int]]] = defaultdict(set)
        possible = {e.architecture for e in self.spec.experts}
        for r in requests:
            archs = [self.spec.expert_for(r.category).architecture] if r.category is not None else possible
            for a in archs:
                by_arch[a].add(("prefill", r.prompt_tokens))
                if r.output_tokens > 1:
                    for b in buckets_between(r.prompt_tokens, r.prompt_tokens + r.output_tokens - 2, a.max_context):
                        by_arch[a].add(("decode", b))
        out: list[tuple[Architecture, ProgramShape]] = []
        for a, items in by_arch.items():
            for phase, length in sorted(items):
                out += [(a, s) for s in self.timer.shapes(a, phase, length, 1)]
        router = self.spec.router.architecture
        longest = max((r.prompt_tokens for r in requests), default=1)
        for batch in sorted({batch_bucket(b) for b in (batches or range(1, self.spec.batch + 1))}):
            for length in sorted({bucket(r.prompt_tokens, router.max_context) for r in requests} or {bucket(longest, router.max_context)}):
                out += [(router, s) for s in self.timer.shapes(router, "prefill", length, batch)]
        return list(dict.fromkeys(out))

    def every_need(self, max_length: int | None = None) -> list[tuple[Architecture, ProgramShape]]:
        """Every program any trace of prompts and contexts up to `max_length` tokens (default: each
        architecture's context) may run: `rducc coe compile` without a trace."""
        out: list[tuple[Architecture, ProgramShape]] = []
        router = self.spec.router.architecture
        for arch in self.spec.architectures.values():
            top = min(max_length or arch.max_context, arch.max_context)
            for length in buckets_between(1, top, arch.max_context):
                for phase in ("prefill", "decode"):
                    out += [(arch, s) for s in self.timer.shapes(arch, phase, length, 1)]
                    if arch.digest() == router.digest() and phase == "prefill":
                        for batch in sorted({batch_bucket(b) for b in range(2, self.spec.batch + 1)}):
                            out += [(arch, s) for s in self.timer.shapes(arch, phase, length, batch)]
        from compiler.coe.functional import can_generate, decode_shape

        expert_archs = {e.architecture.digest(): e.architecture for e in self.spec.experts}
        out += [(a, decode_shape(a)) for a in expert_archs.values() if can_generate(a)]  # `rducc coe generate`'s
        return list(dict.fromkeys(out))

    def compile_all(self, needs: Sequence[tuple[Architecture, ProgramShape]],
                    progress: Callable[[str], None] = lambda step: None) -> None:
        """Compile and time every needed program; an architecture that fails is named with the
        experts that use it, after every other architecture has been compiled."""
        failed: dict[str, str] = {}
        for arch, shape in needs:
            if arch.digest() in failed:
                continue
            try:
                if not self.programs.cached(arch, shape):
                    self.programs.timing(arch, shape, progress)
            except CoEError as exc:
                failed[arch.digest()] = str(exc)
        if failed:
            users = [e for e in [self.spec.router, *self.spec.experts] if e.architecture.digest() in failed]
            first = users[0]
            ok = len(self.spec.experts) + 1 - len(users)
            names = ", ".join(dict.fromkeys(f"{e.name} ({e.source})" for e in users[:5]))
            raise CoEError(f"{'experts' if len(users) > 1 else 'expert'} {names}{' ...' if len(users) > 5 else ''} "
                           f"{'do' if len(users) > 1 else 'does'} not compile: {failed[first.architecture.digest()].split(': ', 1)[-1]}; "
                           f"the other {ok} model(s) compile")
