"""What an expert computes, apart from its weights: the key its compiled programs share.

Experts of one architecture differ only in their weights, so they share one compiled program and
differ only in their memory images (the paper's Samba-CoE: 150 experts of a handful of
architectures). An architecture is either a Llama-style decoder given by its dimensions (an HF
config or a table of figures; shapes-only) or a MODEL.py file (functional; its bytes are its key).

For a decoder, `decoder_program` builds one full-width decoder layer, or the final norm and LM
head, at a fixed batch and length, on the meta device (no weight memory); the program cache
compiles it tensor-parallel over the node (`rdu-shard{tp=N}`: each socket gets its heads, KV heads,
FFN and vocabulary share, and the all-reduces between them) and times it on the node; the serving
timer scales the layer to the architecture's depth (compiler/coe/timer.py). `shard(tp)` is one
socket's share, kept for the memory plan and its tests.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from compiler.coe.errors import CoEError

DECODER_FIELDS = ("hidden", "intermediate", "layers", "heads", "kv_heads", "vocab")
HF_FIELDS = {  # our name: the HF config keys that may hold it, first found wins
    "hidden": ("hidden_size", "n_embd", "d_model"),
    "intermediate": ("intermediate_size", "n_inner", "ffn_dim"),
    "layers": ("num_hidden_layers", "n_layer", "num_layers"),
    "heads": ("num_attention_heads", "n_head"),
    "kv_heads": ("num_key_value_heads",),
    "vocab": ("vocab_size",),
    "head_dim": ("head_dim",),
    "max_context": ("max_position_embeddings", "n_positions", "seq_length"),
}


@dataclass(frozen=True)
class DecoderArchitecture:
    """A Llama-style decoder (RMSNorm, rotary attention with grouped KV heads, SwiGLU MLP)."""

    name: str
    hidden: int
    intermediate: int
    layers: int
    heads: int
    kv_heads: int
    vocab: int
    head_dim: int = 0  # 0: hidden // heads
    max_context: int = 4096
    dtype_bytes: int = 2  # BF16, as served
    tied_embeddings: bool = False

    def __post_init__(self) -> None:
        if self.head_dim == 0:
            object.__setattr__(self, "head_dim", self.hidden // max(1, self.heads))
        for name in (*DECODER_FIELDS, "head_dim", "max_context"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise CoEError(f"architecture {self.name!r}: {name} must be a positive whole number, got {value!r}")
        if self.heads % self.kv_heads:
            raise CoEError(f"architecture {self.name!r}: heads ({self.heads}) must be a multiple of kv_heads ({self.kv_heads})")

    kind = "decoder"

    @property
    def parameters(self) -> int:
        attention = self.hidden * self.head_dim * (2 * self.heads + 2 * self.kv_heads)
        mlp = 3 * self.hidden * self.intermediate
        per_layer = attention + mlp + 2 * self.hidden
        embeddings = self.vocab * self.hidden * (1 if self.tied_embeddings else 2)
        return self.layers * per_layer + embeddings + self.hidden

    @property
    def weight_bytes(self) -> int:
        return self.parameters * self.dtype_bytes

    @property
    def kv_bytes_per_token(self) -> int:
        """K and V of every layer for one token of one sequence."""
        return 2 * self.layers * self.kv_heads * self.head_dim * self.dtype_bytes

    def activation_bytes(self, batch: int, tokens: int) -> int:
        """One hidden-state tensor: what each tensor-parallel all-reduce sums."""
        return batch * tokens * self.hidden * self.dtype_bytes

    def key(self) -> dict[str, Any]:
        """Everything that changes the compiled program (not the name: renaming shares programs)."""
        fields = asdict(self)
        fields.pop("name")
        return {"kind": self.kind, **fields}

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.key(), sort_keys=True).encode()).hexdigest()

    def shard(self, tp: int) -> "DecoderArchitecture":
        """One socket's share under tensor parallelism: heads, KV heads, FFN and vocabulary / tp
        (KV heads are replicated when there are fewer than sockets, as TP serving does)."""
        if tp == 1:
            return self
        if self.heads % tp:
            raise CoEError(f"architecture {self.name!r}: {self.heads} heads do not split over {tp} sockets")
        return DecoderArchitecture(
            f"{self.name}-tp{tp}", self.hidden, math.ceil(self.intermediate / tp), self.layers, self.heads // tp,
            max(1, self.kv_heads // tp), math.ceil(self.vocab / tp), self.head_dim, self.max_context,
            self.dtype_bytes, self.tied_embeddings)

    @classmethod
    def from_table(cls, name: str, table: dict[str, Any], where: str) -> "DecoderArchitecture":
        allowed = {*DECODER_FIELDS, "head_dim", "max_context", "dtype_bytes", "tied_embeddings"}
        unknown = sorted(set(table) - allowed)
        if unknown:
            raise CoEError(f"{where}: unknown field(s) {', '.join(unknown)} (an architecture has {', '.join(sorted(allowed))})")
        missing = [f for f in DECODER_FIELDS if f not in table]
        if missing:
            raise CoEError(f"{where}: missing {', '.join(missing)}")
        return cls(name=name, **table)

    @classmethod
    def from_hf_config(cls, name: str, config: dict[str, Any], where: str) -> "DecoderArchitecture":
        fields: dict[str, Any] = {}
        for ours, keys in HF_FIELDS.items():
            for key in keys:
                if config.get(key) is not None:
                    fields[ours] = config[key]
                    break
        fields.setdefault("kv_heads", fields.get("heads"))
        missing = [f for f in DECODER_FIELDS if f not in fields]
        if missing:
            raise CoEError(f"{where}: HF config lacks {', '.join(missing)} "
                           f"(looked for {', '.join(k for f in missing for k in HF_FIELDS[f])})")
        fields["tied_embeddings"] = bool(config.get("tie_word_embeddings", False))
        return cls(name=name, **fields)


@dataclass(frozen=True)
class ModelFileArchitecture:
    """A MODEL.py expert (functional): one fixed-shape program, run on one socket. Its file's
    bytes are its key, so two experts naming the same file share the program."""

    name: str
    path: Path
    source_digest: str
    parameters: int
    max_context: int  # the example input's sequence length: the program's fixed length
    dtype_bytes: int = 4

    kind = "model-file"

    @property
    def weight_bytes(self) -> int:
        return self.parameters * self.dtype_bytes

    @property
    def kv_bytes_per_token(self) -> int:
        return 0  # a fixed-length program recomputes the prefix: no KV cache

    def key(self) -> dict[str, Any]:
        return {"kind": self.kind, "source": self.source_digest}

    def digest(self) -> str:
        return hashlib.sha256(json.dumps(self.key(), sort_keys=True).encode()).hexdigest()


Architecture = DecoderArchitecture | ModelFileArchitecture


PARTS = ("layer", "head")


def decoder_program(arch: DecoderArchitecture, part: str, phase: str, length: int, batch: int, tp: int = 1):
    """(module, example inputs) on the meta device: the full-width program (`tp=1`, what
    `rdu-shard{tp=N}` splits), or one socket's hand-made share (`tp=N`). `part="layer"`: one
    decoder layer; `phase="prefill"` runs `length` prompt tokens, `"decode"` one new token against a
    KV cache of `length` past tokens. `part="head"`: the final norm and LM head on one position
    per sequence (the same for both phases). The timer scales the layer to the architecture's depth:
    compiling one layer, not 32, keeps a compile to seconds, and the layers are identical."""
    import torch

    from compiler.coe.decoder_model import ShardHead, ShardLayer

    shard = arch.shard(tp)
    dtype = {2: torch.bfloat16, 4: torch.float32}.get(arch.dtype_bytes, torch.bfloat16)
    with torch.device("meta"):
        if part == "head":
            return ShardHead(shard).to(dtype).eval(), (torch.empty(batch, 1, shard.hidden, dtype=dtype),)
        tokens = length if phase == "prefill" else 1
        total = length if phase == "prefill" else length + 1
        module = ShardLayer(shard).to(dtype).eval()
        inputs = [
            torch.empty(batch, tokens, shard.hidden, dtype=dtype),
            torch.empty(1, 1, tokens, shard.head_dim, dtype=dtype),
            torch.empty(1, 1, tokens, shard.head_dim, dtype=dtype),
            torch.empty(1, 1, tokens, total, dtype=dtype),
        ]
        if phase == "decode":
            inputs += [torch.empty(batch, shard.kv_heads, length, shard.head_dim, dtype=dtype) for _ in range(2)]
    return module, tuple(inputs)
