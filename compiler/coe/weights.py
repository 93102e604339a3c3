"""An expert's own weights: experts of one architecture share one compiled program and differ only
in its memory image.

A MODEL.py expert in COE.toml may name where its weights come from (docs/coe.md):

    [[experts]]
    name = "coder"
    model = "llama_expert.py"
    weights = "coder.pt"        # a checkpoint: a state dict (torch.save, or .safetensors)

    [[experts]]
    name = "storyteller"
    model = "llama_expert.py"
    seed = 7                    # random weights of this seed

Without either it runs the MODEL.py's own weights. The compiled program's key is the MODEL.py's
bytes, never its weights (compiler/coe/architecture.py), so every expert naming one file shares
one compile; running an expert writes ITS parameters over the program's weight image
(`image_with_weights`), the way a node copies a different expert into the same program's HBM
weight region on a switch.

`seed = N` draws each floating-point parameter from a normal distribution with that parameter's own
mean and standard deviation in the MODEL.py (so the scales stay sane), from a generator seeded N,
in parameter order; parameters with no spread (norm scales of one, zero biases) keep their values.
A checkpoint must give every parameter of the model (by its state-dict name) at its shape, and
nothing else the model does not have.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from compiler.coe.errors import CoEError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from bitstream_format import Bitstream
    from compiler.coe.architecture import ModelFileArchitecture

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors")


@dataclass(frozen=True)
class WeightSource:
    """Where an expert's weights come from: a checkpoint file, or a seed for random weights."""

    checkpoint: Path | None = None
    seed: int | None = None

    def describe(self) -> str:
        return f"weights {self.checkpoint.name}" if self.checkpoint is not None else f"seed {self.seed}"


@lru_cache(maxsize=None)
def _load(path: Path, digest: str) -> "nn.Module":
    from compiler.frontend.model_file import load_model_file

    return load_model_file(path).module.eval()


def pristine_module(arch: "ModelFileArchitecture") -> "nn.Module":
    """The MODEL.py's module with its own weights, loaded once per file content. Shared: never
    change it (`with_weights` copies)."""
    return _load(arch.path, arch.source_digest)


def read_checkpoint(path: Path, where: str) -> dict[str, "torch.Tensor"]:
    """A state dict from `path`: torch.save'd (.pt, .pth, .bin; loaded weights-only) or .safetensors."""
    import torch

    if not path.exists():
        raise CoEError(f"{where}: checkpoint {path} does not exist")
    if path.suffix not in CHECKPOINT_SUFFIXES:
        raise CoEError(f"{where}: checkpoint {path.name} is not one of {', '.join(CHECKPOINT_SUFFIXES)}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a corrupt or foreign file: torch and safetensors raise many types
        raise CoEError(f"{where}: cannot read checkpoint {path.name}: {' '.join(str(exc).split())[:200]}") from None
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise CoEError(f"{where}: checkpoint {path.name} is not a state dict (a mapping of names to tensors)")
    return state


def check_checkpoint(state: dict[str, "torch.Tensor"], module: "nn.Module", path: Path, where: str) -> None:
    """The checkpoint fits the model: every parameter, at its shape, and no name the model lacks."""
    own = module.state_dict()
    unknown = sorted(set(state) - set(own))
    if unknown:
        raise CoEError(f"{where}: checkpoint {path.name} has {len(unknown)} tensor(s) the model does not, first {unknown[0]!r}")
    for name, param in module.named_parameters():
        if name not in state:
            raise CoEError(f"{where}: checkpoint {path.name} lacks parameter {name!r}")
        if tuple(state[name].shape) != tuple(param.shape):
            raise CoEError(f"{where}: checkpoint {path.name}: {name} is {list(state[name].shape)}, "
                           f"the model's is {list(param.shape)}")


def expert_parameters(source: WeightSource | None, module: "nn.Module", where: str) -> dict[str, "torch.Tensor"]:
    """The parameters `source` gives `module` (its MODEL.py's own values), by every state-dict
    name that holds them (a tied parameter under each of its names); {} without a source."""
    import torch

    if source is None:
        return {}
    if source.checkpoint is not None:
        state = read_checkpoint(source.checkpoint, where)
        check_checkpoint(state, module, source.checkpoint, where)
        chosen = {name: state[name] for name, _ in module.named_parameters()}
    else:
        generator = torch.Generator().manual_seed(source.seed)
        chosen = {}
        with torch.no_grad():
            for name, p in module.named_parameters():
                if not p.is_floating_point() or p.numel() < 2:
                    continue
                values = p.detach().float()
                std = float(values.std())
                if std == 0.0:
                    continue
                chosen[name] = (torch.randn(p.shape, generator=generator) * std + float(values.mean())).to(p.dtype)
    owner = {id(p): name for name, p in module.named_parameters()}
    out = {}
    for name, tensor in module.state_dict(keep_vars=True).items():
        first = owner.get(id(tensor))
        if first is not None and first in chosen:
            out[name] = chosen[first]
    return out


def with_weights(module: "nn.Module", parameters: dict[str, "torch.Tensor"]) -> "nn.Module":
    """A copy of `module` holding `parameters` (the PyTorch reference of one expert)."""
    import torch

    out = copy.deepcopy(module)
    if parameters:
        with torch.no_grad():
            out.load_state_dict(parameters, strict=False)
    return out


def image_with_weights(program: "Bitstream", parameters: dict[str, "torch.Tensor"], prefix: str,
                       expert: str) -> "Bitstream":
    """`program` whose weight image holds `parameters` (state-dict names under `prefix` in the
    program): the same stages, streams and addresses; only the memory image differs."""
    from dataclasses import replace

    from bitstream_format.arrays import array_to_bytes

    if not parameters:
        return program
    image = dict(program.image)
    found = set()
    for t in program.tensors:
        if t.role == "state" or not t.name.startswith(prefix) or t.name[len(prefix):] not in parameters:
            continue
        name = t.name[len(prefix):]
        value = parameters[name]
        if tuple(value.shape) != tuple(t.shape):
            raise CoEError(f"expert {expert}: parameter {name} is {list(value.shape)} but the compiled program holds "
                           f"{list(t.shape)}")
        image[t.id] = array_to_bytes(value.detach().float().numpy(), t.dtype)
        found.add(name)
    missing = sorted(set(parameters) - found)
    # a tied parameter is held once by the program, under one of its names
    held = {id(parameters[n]) for n in found}
    missing = [n for n in missing if id(parameters[n]) not in held]
    if missing:
        raise CoEError(f"expert {expert}: the compiled program holds no tensor for parameter {missing[0]}, so it "
                       f"cannot run with this expert's weights")
    return replace(program, image=image)
