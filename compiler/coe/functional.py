"""A functional CoE: the router's and the experts' compiled programs run in the simulator, the
router's outputs pick the expert, and the expert generates greedily, end to end.

Every model here is a MODEL.py with a fixed window of L token ids (its example input's length).
The router reads the prompt padded on the right with token 0 and returns one logit per category,
in the order COE.toml lists its categories. Until the KV-cache decode step (compiler/generate.py)
lands, an expert generates with its ONE compiled fixed-length program: the prompt padded on the
right to L; with causal attention the logits at position t depend only on tokens <= t, so N
simulator runs give N greedy tokens. `reference` runs the same CoE in PyTorch (the router on the
same padded window, the experts on the unpadded tokens), so a test can demand equal tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from compiler.coe.architecture import ModelFileArchitecture
from compiler.coe.config import CoESpec
from compiler.coe.errors import CoEError
from compiler.coe.programs import ProgramShape
from compiler.coe.requests import Request


@dataclass
class Generation:
    request: int
    category: str
    expert: str
    tokens: list[int]


def _window(tokens: Sequence[int], length: int, what: str) -> np.ndarray:
    if len(tokens) > length:
        raise CoEError(f"{len(tokens)} tokens exceed {what}'s context of {length}")
    return np.array([list(tokens) + [0] * (length - len(tokens))], dtype=np.int64)


def _logits(outputs) -> np.ndarray:
    first = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
    return np.asarray(first)


class FunctionalCoE:
    def __init__(self, session):
        self.session = session
        self.spec: CoESpec = session.spec
        for e in [self.spec.router, *self.spec.experts]:
            if not isinstance(e.architecture, ModelFileArchitecture):
                raise CoEError(f"{e.name} is shapes-only ({e.source}): a functional CoE needs MODEL.py files with weights")

    def _run(self, arch: ModelFileArchitecture, tokens: Sequence[int], what: str) -> np.ndarray:
        from functional_sim import simulate

        shape = ProgramShape("model", "fixed", arch.max_context, 1)
        data = self.session.programs.program_bytes(arch, shape)
        return _logits(simulate(data, [_window(tokens, arch.max_context, what)], chip=self.session.node.chip).outputs)

    def route(self, batch: Sequence[Request]) -> list[str]:
        out = []
        for r in batch:
            if r.category is not None:
                out.append(r.category)
                continue
            if r.prompt is None:
                raise CoEError(f"request at line {r.line} has neither a category nor a prompt for the router")
            logits = self._run(self.spec.router.architecture, r.prompt, "the router").reshape(-1)
            out.append(self._category(int(np.argmax(logits)), logits.size))
        return out

    def _category(self, index: int, count: int) -> str:
        if count != len(self.spec.categories):
            raise CoEError(f"the router returns {count} logits but {self.spec.path.name} lists "
                           f"{len(self.spec.categories)} categories")
        return self.spec.categories[index]

    def generate(self, request: Request, category: str) -> Generation:
        expert = self.spec.expert_for(category)
        tokens = list(request.prompt or ())
        start = len(tokens)
        for _ in range(request.output_tokens):
            logits = self._run(expert.architecture, tokens, f"expert {expert.name}")
            tokens.append(int(np.argmax(logits.reshape(-1, logits.shape[-1])[len(tokens) - 1])))
        return Generation(request.id, category, expert.name, tokens[start:])

    def run(self, requests: Sequence[Request]) -> list[Generation]:
        """Route in batches of the CoE's batch, then generate each (prompt, expert) pair in turn."""
        out = []
        for i in range(0, len(requests), self.spec.batch):
            batch = requests[i:i + self.spec.batch]
            out += [self.generate(r, c) for r, c in zip(batch, self.route(batch))]
        return out


def reference(spec: CoESpec, requests: Sequence[Request]) -> list[Generation]:
    """The same CoE in PyTorch: eager router on the padded window, eager experts on the tokens."""
    import torch

    from compiler.frontend.model_file import load_model_file

    models = {}

    def module(arch: ModelFileArchitecture):
        if arch.path not in models:
            models[arch.path] = load_model_file(arch.path).module
        return models[arch.path]

    out = []
    with torch.no_grad():
        for r in requests:
            category = r.category
            if category is None:
                router = spec.router.architecture
                logits = module(router)(torch.from_numpy(_window(r.prompt or (), router.max_context, "the router")))
                logits = _logits(logits if isinstance(logits, torch.Tensor) else logits[0]).reshape(-1)
                category = spec.categories[int(np.argmax(logits))]
            expert = spec.expert_for(category)
            tokens = list(r.prompt or ())
            start = len(tokens)
            for _ in range(r.output_tokens):
                result = module(expert.architecture)(torch.tensor([tokens]))
                logits = result if isinstance(result, torch.Tensor) else result[0]
                tokens.append(int(torch.argmax(logits[0, -1])))
            out.append(Generation(r.id, category, expert.name, tokens[start:]))
    return out
