"""A functional CoE: the router's and the experts' compiled programs run in the simulator, the
router's outputs pick the expert, and the expert generates greedily through its KV cache, end to
end.

Every model here is a MODEL.py. The router reads a fixed window of L token ids (its example
input's length: the prompt padded on the right with token 0) and returns one logit per category,
in the order COE.toml lists its categories. An expert is a Hugging Face causal LM; it generates
with compiler/generate.py's KV-cache decode step (`DecodeStep` in compiler/coe/programs.py): a
static cache of L rows (its example input's length: the expert's context) held in HBM as program
state, one token in at a runtime position, the last logits out. The prompt goes in one token at a
time, then each greedy token is fed back: a `functional_sim.session.Session` keeps the cache in
the simulated HBM between runs, and a fresh Session per request is that request's cache.

Experts of one architecture share one compiled program; each runs it with its own weights written
into the program's weight image (compiler/coe/weights.py), as a node copies a different expert
into the same program's HBM region. `reference` runs the same CoE in PyTorch, independently of the
cache path: the router on the same padded window, each expert (with its own weights) over the
whole token sequence, no cache; a test demands equal tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from compiler.coe.architecture import ModelFileArchitecture
from compiler.coe.config import CoESpec, Expert
from compiler.coe.errors import CoEError
from compiler.coe.programs import ProgramShape
from compiler.coe.requests import Request
from compiler.coe.weights import expert_parameters, image_with_weights, pristine_module, with_weights

CACHE_WRAPPER_PREFIX = "model."  # compiler.generate.CachedCausalLM holds the LM as `model`


@dataclass
class Generation:
    request: int
    category: str
    expert: str
    tokens: list[int]


def _where(r: Request) -> str:
    return f"request at line {r.line}" if r.line else f"request {r.id}"


def _window(tokens: Sequence[int], length: int, what: str) -> np.ndarray:
    if len(tokens) > length:
        raise CoEError(f"{len(tokens)} tokens exceed {what}'s context of {length}")
    return np.array([list(tokens) + [0] * (length - len(tokens))], dtype=np.int64)


def _logits(outputs) -> np.ndarray:
    first = outputs[0] if isinstance(outputs, (list, tuple)) else outputs
    return np.asarray(first)


def _vocab(module) -> int | None:
    config = getattr(module, "config", None)
    if getattr(config, "vocab_size", None):
        return int(config.vocab_size)
    import torch

    embedding = next((m for m in module.modules() if isinstance(m, torch.nn.Embedding)), None)
    return embedding.num_embeddings if embedding is not None else None


def can_generate(arch) -> bool:
    """A MODEL.py expert that is a Hugging Face causal LM (it has a KV-cache decode step)."""
    if not isinstance(arch, ModelFileArchitecture):
        return False
    try:
        from transformers import GenerationMixin, PreTrainedModel
    except ImportError:  # pragma: no cover - transformers is the `hf` extra
        return False
    module = pristine_module(arch)
    return isinstance(module, PreTrainedModel) and isinstance(module, GenerationMixin)


def decode_shape(arch: ModelFileArchitecture) -> ProgramShape:
    """The expert's one program: the decode step over a cache of its context's rows."""
    return ProgramShape("model", "decode", arch.max_context, 1)


def check_generation(spec: CoESpec, request: Request, expert: Expert) -> list[int]:
    """The request's prompt ids, if the expert can generate them: ids within its vocabulary, and
    prompt + output tokens within its cache (the last token is produced, never fed back)."""
    arch = expert.architecture
    if not request.prompt:
        raise CoEError(f"{_where(request)}: no prompt token ids: a functional CoE generates from a \"prompt\" list")
    vocab = _vocab(pristine_module(arch))
    if vocab is not None and max(request.prompt) >= vocab:
        raise CoEError(f"{_where(request)}: token id {max(request.prompt)} is outside expert {expert.name}'s "
                       f"vocabulary of {vocab}")
    rows = len(request.prompt) + request.output_tokens - 1
    if rows > arch.max_context:
        raise CoEError(f"{_where(request)}: {len(request.prompt)} prompt + {request.output_tokens} output tokens exceed "
                       f"expert {expert.name}'s context of {arch.max_context}")
    return list(request.prompt)


class FunctionalCoE:
    def __init__(self, session):
        self.session = session
        self.spec: CoESpec = session.spec
        for e in [self.spec.router, *self.spec.experts]:
            if not isinstance(e.architecture, ModelFileArchitecture):
                raise CoEError(f"{e.name} is shapes-only ({e.source}): a functional CoE needs MODEL.py files with weights")
        self._programs: dict[str, object] = {}  # architecture digest -> the shared decode-step Bitstream
        self._experts: dict[str, object] = {}  # expert name -> that program with the expert's weights

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
                raise CoEError(f"{_where(r)} has neither a category nor a prompt for the router")
            logits = self._run(self.spec.router.architecture, r.prompt, "the router").reshape(-1)
            out.append(self._category(int(np.argmax(logits)), logits.size))
        return out

    def _category(self, index: int, count: int) -> str:
        if count != len(self.spec.categories):
            raise CoEError(f"the router returns {count} logits but {self.spec.path.name} lists "
                           f"{len(self.spec.categories)} categories")
        return self.spec.categories[index]

    def expert_program(self, expert: Expert):
        """The expert's architecture's decode-step program (compiled once per architecture, from
        the program cache), with this expert's weights in its image."""
        import bitstream_format

        if expert.name not in self._experts:
            arch = expert.architecture
            digest = arch.digest()
            if digest not in self._programs:
                self._programs[digest] = bitstream_format.decode(self.session.programs.program_bytes(arch, decode_shape(arch)))
            parameters = expert_parameters(expert.weights, pristine_module(arch), f"expert {expert.name}")
            self._experts[expert.name] = image_with_weights(self._programs[digest], parameters, CACHE_WRAPPER_PREFIX,
                                                            expert.name)
        return self._experts[expert.name]

    def generate(self, request: Request, category: str) -> Generation:
        from functional_sim.session import Session

        expert = self.spec.expert_for(category)
        prompt = check_generation(self.spec, request, expert)
        program = self.expert_program(expert)
        cache = Session(self.session.node.chip, timing="analytic")  # fresh HBM: this request's KV cache
        tokens: list[int] = []
        for position in range(len(prompt) + request.output_tokens - 1):
            token = prompt[position] if position < len(prompt) else tokens[-1]
            result = cache.run(program, [np.array([[token]], dtype=np.int64), np.array([position], dtype=np.int64)])
            if position >= len(prompt) - 1:
                tokens.append(int(np.argmax(np.asarray(result.outputs[0]).reshape(-1))))
        return Generation(request.id, category, expert.name, tokens)

    def compile_all(self, requests: Sequence[Request]) -> None:
        """Compile every program the requests may run, up front: the router's (when a request
        leaves the choice to it) and the decode step of each architecture an expert the requests
        can reach has. An expert that does not compile is named after every other one compiled."""
        reachable = {e.name: e for e in self.spec.experts}
        if all(r.category is not None for r in requests):
            reachable = {e.name: e for e in (self._expert(r, r.category) for r in requests)}
        needs = [(e.architecture, decode_shape(e.architecture)) for e in reachable.values()]
        if any(r.category is None for r in requests):
            router = self.spec.router.architecture
            needs.insert(0, (router, ProgramShape("model", "fixed", router.max_context, 1)))
        self.session.compile_all(list(dict.fromkeys(needs)))

    def _expert(self, request: Request, category: str) -> Expert:
        try:
            return self.spec.expert_for(category)
        except CoEError as exc:
            raise CoEError(f"{_where(request)}: {exc}") from None

    def run(self, requests: Sequence[Request]) -> list[Generation]:
        """Compile, route in batches of the CoE's batch, then generate each (prompt, expert) pair in
        turn. Every request is checked before anything is simulated."""
        for r in requests:
            if r.category is not None:
                check_generation(self.spec, r, self._expert(r, r.category))
            elif not r.prompt:
                raise CoEError(f"{_where(r)} has neither a category nor a prompt for the router")
        self.compile_all(requests)
        categories = []
        for i in range(0, len(requests), self.spec.batch):
            categories += self.route(requests[i:i + self.spec.batch])
        for r, c in zip(requests, categories):
            check_generation(self.spec, r, self._expert(r, c))
        return [self.generate(r, c) for r, c in zip(requests, categories)]


def reference(spec: CoESpec, requests: Sequence[Request]) -> list[Generation]:
    """The same CoE in PyTorch: eager router on the padded window, eager experts (each with its own
    weights) over the whole sequence so far, without a KV cache."""
    import torch

    experts: dict[str, object] = {}

    def module(expert: Expert):
        if expert.name not in experts:
            base = pristine_module(expert.architecture)
            experts[expert.name] = with_weights(base, expert_parameters(expert.weights, base, f"expert {expert.name}"))
        return experts[expert.name]

    out = []
    with torch.no_grad():
        for r in requests:
            category = r.category
            if category is None:
                router = spec.router.architecture
                logits = pristine_module(router)(torch.from_numpy(_window(r.prompt or (), router.max_context, "the router")))
                logits = _logits(logits if isinstance(logits, torch.Tensor) else logits[0]).reshape(-1)
                category = spec.categories[int(np.argmax(logits))]
            expert = spec.expert_for(category)
            tokens = list(r.prompt or ())
            start = len(tokens)
            for _ in range(r.output_tokens):
                result = module(expert)(torch.tensor([tokens]))
                logits = result if isinstance(result, torch.Tensor) else result[0]
                tokens.append(int(torch.argmax(logits[0, -1])))
            out.append(Generation(r.id, category, expert.name, tokens[start:]))
    return out
