"""Token-by-token generation with a static KV cache in the simulated chip's HBM.

A Hugging Face causal LM is wrapped so that each layer's key and value caches are module buffers
(transformers' `StaticCache`, preallocated to `cache_len` rows) that the forward pass updates in
place with `index_copy_`. Exported, that is a graph whose buffers are mutated; the frontend turns
each mutation into an `rgraph.update_rows` (compiler/frontend/state_updates.py), which becomes a
`store_rows` stage writing only the new rows into the cache's own HBM range.

Two programs are compiled once: a prefill (the whole prompt at positions 0..P-1) and a decode
step (one token at a runtime position). Both hold the same cache tensors at the same addresses
(rdu-plan-memory puts state first), so one `functional_sim.Session` runs the prefill and then the
decode step N-1 times over the same memory, feeding back the greedy token each time. PyTorch runs
the same wrapper eagerly for the reference tokens.

Tensor parallel (`CompileOptions(node=..., tp=N)`): both programs are node programs; `rdu-shard`
splits each cache by KV head like the K and V projections that fill it (each KV head held by
tp / kv_heads sockets when tp exceeds the KV heads), so the session keeps each socket's heads in
that socket's HBM and every socket appends its own rows.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from backend_rdu.emit_bitstream import emit_bitstream
from bitstream_format import Bitstream
from compiler.driver import CompileOptions, import_named, lower_to_hardware
from compiler.frontend.capture import capture
from compiler.frontend.model_file import LoadedModel, load_model_file
from dialects.diagnostics import RduccError
from functional_sim.node import NodeSimulationResult
from functional_sim.session import Session


class GenerateError(RduccError):
    """The model cannot generate with a static cache, or the request does not fit the cache."""


@dataclass(frozen=True)
class GenerateOptions:
    """`cache_len`: rows of the static cache (0: prompt + new tokens, the least that works)."""

    compile: CompileOptions = field(default_factory=CompileOptions)
    cache_len: int = 0
    reference: bool = True  # also run PyTorch eagerly and compare the tokens


@dataclass
class GenerateReport:
    tokens: list[int]  # the new tokens, from the simulator
    reference_tokens: list[int] | None  # PyTorch's greedy tokens (None without a reference)
    prompt_len: int
    cache_len: int
    chip: str
    prefill_cycles: int
    step_cycles: list[int]  # one entry per decode step (event timing of the decode-step program)
    cache_bytes: int  # bytes of every layer's K and V cache together (HBM, resident between steps)
    row_bytes_per_step: int  # bytes a decode step writes into the cache (the new rows only)
    compile_seconds: float
    simulate_seconds: float
    clock_hz: float
    node: str | None = None  # the node a tensor-parallel decode ran on (None: one socket)
    sockets: int = 1
    socket_cache_bytes: int = 0  # what each socket holds of the cache in its HBM (its KV heads)
    collective_cycles: int = 0  # per decode step: cycles the collective stages kept the peer links busy

    @property
    def match(self) -> bool | None:
        return None if self.reference_tokens is None else self.tokens == self.reference_tokens

    def to_json(self) -> dict[str, Any]:
        steps = self.step_cycles
        return {
            "tokens": self.tokens,
            "reference_tokens": self.reference_tokens,
            "match": self.match,
            "prompt_len": self.prompt_len,
            "cache_len": self.cache_len,
            "chip": self.chip,
            "prefill_cycles": self.prefill_cycles,
            "step_cycles": steps,
            "decode_step_cycles": steps[0] if steps else None,
            "decode_tokens_per_second": (self.clock_hz / steps[0]) if steps else None,
            "cache_bytes": self.cache_bytes,
            "row_bytes_per_step": self.row_bytes_per_step,
            "node": self.node,
            "sockets": self.sockets,
            "socket_cache_bytes": self.socket_cache_bytes,
            "collective_cycles": self.collective_cycles,
            "compile_seconds": round(self.compile_seconds, 3),
            "simulate_seconds": round(self.simulate_seconds, 3),
        }

    def to_text(self) -> str:
        lines = [f"tokens: {' '.join(map(str, self.tokens))}"]
        if self.reference_tokens is not None:
            lines.append(f"pytorch: {' '.join(map(str, self.reference_tokens))}")
            lines.append(f"match: {'yes' if self.match else 'NO'}")
        where = f"{self.sockets} sockets of {self.node}" if self.node else self.chip
        lines.append(f"prefill: {self.prompt_len} tokens, {self.prefill_cycles:,} cycles on {where}")
        if self.step_cycles:
            per = self.step_cycles[0]
            lines.append(f"decode step: {per:,} cycles ({self.clock_hz / per:,.1f} tokens/s), "
                         f"{len(self.step_cycles)} steps: {', '.join(f'{c:,}' for c in self.step_cycles)}")
        if self.node:
            lines.append(f"KV cache: {self.cache_len} rows, {self.cache_bytes:,} bytes, {self.socket_cache_bytes:,} in each "
                         f"socket's HBM; {self.row_bytes_per_step:,} bytes written per step by each socket")
        else:
            lines.append(f"KV cache: {self.cache_len} rows, {self.cache_bytes:,} bytes in HBM; "
                         f"{self.row_bytes_per_step:,} bytes written per step")
        return "\n".join(lines)


# --- the model with its cache as buffers -----------------------------------------------------------


class CachedCausalLM(nn.Module):
    """A Hugging Face causal LM whose static KV cache lives in this module's buffers.

    `forward(input_ids, cache_position)` runs the tokens at those positions, appends their keys
    and values to the cache in place and returns the last position's logits (1, 1, vocab).
    The cache layers are pointed at this module's buffers on every call: torch.export swaps a
    module's buffers for traced ones, and only mutations of those are recorded as buffer
    mutations (a cache holding its own tensors would be a captured constant). The cumulative
    length a cache layer keeps is derived from `cache_position` instead of kept as a buffer: the
    positions come in with each call, so nothing but K and V is state."""

    def __init__(self, model: nn.Module, cache_len: int):
        super().__init__()
        from transformers import StaticCache

        self.model = model
        self.cache_len = cache_len
        config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
        self.cache = StaticCache(config=config, max_cache_len=cache_len)
        heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        dtype = next(model.parameters()).dtype
        self.cache.early_initialization(1, heads, head_dim, dtype, torch.device("cpu"))
        for i, layer in enumerate(self.cache.layers):
            self.register_buffer(f"key_cache_{i}", layer.keys, persistent=False)
            self.register_buffer(f"value_cache_{i}", layer.values, persistent=False)
        self._keep = {"logits_to_keep": 1} if "logits_to_keep" in inspect.signature(model.forward).parameters else {}

    def reset(self) -> None:
        for name, buffer in self.named_buffers(recurse=False):
            buffer.zero_()

    def forward(self, input_ids: torch.Tensor, cache_position: torch.Tensor) -> torch.Tensor:
        for i, layer in enumerate(self.cache.layers):
            layer.keys = getattr(self, f"key_cache_{i}")
            layer.values = getattr(self, f"value_cache_{i}")
            layer.cumulative_length = cache_position[0].clone()
        out = self.model(input_ids=input_ids, past_key_values=self.cache, cache_position=cache_position,
                         use_cache=True, **self._keep)
        return out.logits[:, -1:, :]


def cached_model(model: nn.Module, cache_len: int, name: str = "model") -> CachedCausalLM:
    """`model` wrapped with a static cache of `cache_len` rows; a GenerateError when it cannot be."""
    try:
        from transformers import GenerationMixin, PreTrainedModel
    except ImportError:  # pragma: no cover - transformers is an optional dependency (the `hf` extra)
        raise GenerateError("generate needs transformers (pip install -e '.[hf]')") from None
    if not isinstance(model, PreTrainedModel) or not isinstance(model, GenerationMixin):
        raise GenerateError(f"{name} is a {type(model).__name__}, not a Hugging Face causal LM (a ...ForCausalLM): "
                            f"generate needs a model that takes a KV cache")
    if not getattr(model.config, "is_decoder", True) or getattr(model.config, "is_encoder_decoder", False):
        raise GenerateError(f"{name} ({type(model).__name__}) is not a decoder-only causal LM")
    try:
        return CachedCausalLM(model, cache_len).eval()
    except Exception as exc:  # transformers raises many types for a config without a cache layout
        raise GenerateError(f"{name} ({type(model).__name__}) cannot hold a static KV cache: "
                            f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None


# --- compile, run, compare -------------------------------------------------------------------------


def compile_program(wrapper: CachedCausalLM, path: Path, ids: torch.Tensor, positions: torch.Tensor,
                    options: CompileOptions) -> Bitstream:
    """One program of the wrapper at these input shapes, captured from an all-zero cache (its image)."""
    wrapper.reset()
    loaded = LoadedModel(path, wrapper, (ids, positions))
    graph = import_named(loaded, capture(loaded))
    return emit_bitstream(lower_to_hardware(graph, options))


def _load(model_file_or_module: str | Path | nn.Module) -> tuple[nn.Module, Path, torch.Tensor | None]:
    if isinstance(model_file_or_module, nn.Module):
        return model_file_or_module.eval(), Path(f"{type(model_file_or_module).__name__}.py"), None
    loaded = load_model_file(model_file_or_module)
    ids = loaded.inputs[0] if loaded.inputs else None
    return loaded.module, loaded.path, ids


def _prompt(prompt_ids: Any, fallback: torch.Tensor | None, vocab: int) -> torch.Tensor:
    ids = fallback if prompt_ids is None else torch.as_tensor(prompt_ids)
    if ids is None:
        raise GenerateError("no prompt: pass prompt token ids (the model file's example_inputs[0] is used otherwise)")
    if ids.dtype not in (torch.int64, torch.int32) or ids.numel() == 0:
        raise GenerateError(f"the prompt must be integer token ids, got a {ids.dtype} tensor of shape {tuple(ids.shape)}")
    ids = ids.reshape(1, -1).to(torch.int64)
    if int(ids.min()) < 0 or int(ids.max()) >= vocab:
        raise GenerateError(f"the prompt holds token ids outside the vocabulary [0, {vocab})")
    return ids


def reference_tokens(wrapper: CachedCausalLM, prompt: torch.Tensor, max_new_tokens: int) -> list[int]:
    """PyTorch's greedy tokens through the same cache wrapper, eagerly."""
    wrapper.reset()
    tokens: list[int] = []
    with torch.no_grad():
        logits = wrapper(prompt, torch.arange(prompt.shape[1]))
        for step in range(max_new_tokens):
            tokens.append(int(logits[0, -1].argmax()))
            if step + 1 < max_new_tokens:
                position = prompt.shape[1] + step
                logits = wrapper(torch.tensor([[tokens[-1]]]), torch.tensor([position]))
    wrapper.reset()
    return tokens


def generate(model_file_or_module: str | Path | nn.Module, prompt_ids: Any = None, max_new_tokens: int = 8,
             options: GenerateOptions = GenerateOptions()) -> tuple[list[int], GenerateReport]:
    """Greedy-decode `max_new_tokens` tokens after `prompt_ids` in the functional simulator: the
    prefill program once, then the decode-step program once per further token, with the KV cache
    persisting in the simulated HBM. Returns the tokens and a report (cycles, PyTorch's tokens)."""
    if max_new_tokens < 1:
        raise GenerateError(f"--tokens must be at least 1, got {max_new_tokens}")
    model, path, example_ids = _load(model_file_or_module)
    name = path.name
    vocab = getattr(getattr(model, "config", None), "vocab_size", None)
    if vocab is None:
        cached_model(model, 1, name)  # raises the reason it is not a causal LM
    prompt = _prompt(prompt_ids, example_ids, vocab)
    prompt_len = prompt.shape[1]
    needed = prompt_len + max_new_tokens - 1  # the last token is produced, never fed back
    cache_len = options.cache_len or needed
    if needed > cache_len:
        raise GenerateError(f"{prompt_len} prompt tokens + {max_new_tokens} new tokens need {needed} cache rows but the "
                            f"cache holds {cache_len} (--cache-len)")
    limit = getattr(model.config, "max_position_embeddings", None)
    if limit is not None and cache_len > limit:
        if options.cache_len:
            raise GenerateError(f"a cache of {cache_len} rows (--cache-len) exceeds the model's max_position_embeddings "
                                f"of {limit}")
        raise GenerateError(f"{prompt_len} prompt tokens + {max_new_tokens} new tokens need {needed} cache rows, beyond "
                            f"the model's max_position_embeddings of {limit}")
    wrapper = cached_model(model, cache_len, name)

    start = time.perf_counter()
    prefill = compile_program(wrapper, path.with_name(f"{path.stem}_prefill.py"), prompt, torch.arange(prompt_len),
                              options.compile)
    decode = None
    if max_new_tokens > 1:
        decode = compile_program(wrapper, path.with_name(f"{path.stem}_decode.py"), prompt[:, :1],
                                 torch.tensor([0]), options.compile)
    compile_seconds = time.perf_counter() - start

    start = time.perf_counter()
    session = Session(options.compile.target_chip())
    result = session.run(prefill, [prompt.numpy(), np.arange(prompt_len, dtype=np.int64)])
    tokens = [int(np.argmax(result.outputs[0][0, -1]))]
    prefill_cycles, step_cycles, collective_cycles = result.cycles, [], 0
    for step in range(max_new_tokens - 1):
        position = prompt_len + step
        result = session.run(decode, [np.array([[tokens[-1]]], dtype=np.int64), np.array([position], dtype=np.int64)])
        tokens.append(int(np.argmax(result.outputs[0][0, -1])))
        step_cycles.append(result.cycles)
        collective_cycles = result.collective_cycles if isinstance(result, NodeSimulationResult) else 0
    simulate_seconds = time.perf_counter() - start

    states = [t for t in prefill.tensors if t.role == "state"]
    rows = sum(s_.nbytes for s_ in decode.streams if any(decode.stage(d).opcode == "store_rows" and
                                                           decode.stage(d).inputs[0] == s_.id for d in s_.dsts)) if decode else 0
    reference = reference_tokens(wrapper, prompt, max_new_tokens) if options.reference else None
    node = prefill.node
    report = GenerateReport(tokens, reference, prompt_len, cache_len, session.chip.name, prefill_cycles, step_cycles,
                            sum(_whole_bytes(prefill, t) for t in states), rows, compile_seconds, simulate_seconds,
                            session.chip.clock_hz, node=node.node if node else None,
                            sockets=node.sockets if node else 1, socket_cache_bytes=sum(t.nbytes for t in states),
                            collective_cycles=collective_cycles)
    return tokens, report


def _whole_bytes(bs: Bitstream, t) -> int:
    """A tensor's bytes whole: a split state's whole shape (a node program holds a part per socket)."""
    sh = bs.node.shard_of(t.id) if bs.node is not None else None
    return t.nbytes if sh is None else t.nbytes * sh.parts
