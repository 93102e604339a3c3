"""The MODEL.py contract: a module-level `model` and `example_inputs`, each a value or a
zero-argument callable returning one. Every way a model file can break that contract becomes a
ModelLoadError naming the cause and the file's line.
"""

from __future__ import annotations

import runpy
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from compiler.frontend.source_lines import statement
from dialects.diagnostics import ModelLoadError

_TORCH_DIR = str(Path(torch.__file__).parent)
_RDUCC_DIR = str(Path(__file__).resolve().parents[1])  # compiler/: our own frames


@dataclass
class LoadedModel:
    path: Path
    module: torch.nn.Module
    inputs: tuple[torch.Tensor, ...]
    # optional `layer_model(i)`: layer i's module (a layer loop, `--layers`): `model` is layer 0
    layer_model: Callable[[int], torch.nn.Module] | None = None

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def shapes_only(self) -> bool:
        tensors = [*self.module.parameters(), *self.module.buffers(), *self.inputs]
        return any(t.device.type == "meta" for t in tensors)


def _frame_text(path: Path, lineno: int, line: str | None) -> str:
    return f"{path.name}:{lineno}: {statement(str(path), lineno, line or '')}"


def _user_line(exc: BaseException, path: Path) -> str:
    """`file.py:LINE: code` of the innermost traceback frame in the model file (the whole
    statement when it spans several lines)."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if Path(f.filename).resolve() == path]
    if not frames:
        return path.name
    f = frames[-1]
    return _frame_text(path, f.lineno or 0, f.line)


def _forward_line(exc: BaseException, path: Path) -> str | None:
    """Where the model's own code raised: the innermost frame in the model file, else the
    innermost frame outside torch and rducc (a library's forward, e.g. transformers'); None when
    only torch raised (the inputs did not fit a torch module)."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if Path(f.filename).resolve() == path]
    library = [f for f in frames if not f.filename.startswith((_TORCH_DIR, _RDUCC_DIR)) and f.filename != "<string>"]
    found = (own or library or [None])[-1]
    return None if found is None else _frame_text(Path(found.filename), found.lineno or 0, found.line)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _call(fn: Callable[[], Any], path: Path, what: str) -> Any:
    try:
        return fn()
    except Exception as exc:  # the user's code may raise anything; report it, don't crash
        raise ModelLoadError(f"{_user_line(exc, path)}: {what} raised {_describe(exc)}") from None


def load_model_file(path_like: str | Path) -> LoadedModel:
    path = Path(path_like).resolve()
    if not path.exists():
        raise ModelLoadError(f"model file {path_like} does not exist")
    if not path.is_file():
        raise ModelLoadError(f"model file {path_like} is not a file")
    try:
        source = path.read_text()
        compile(source, str(path), "exec")
    except SyntaxError as exc:
        raise ModelLoadError(f"{path.name}:{exc.lineno}: syntax error: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"cannot read model file {path_like}: {exc}") from None

    sys.path.insert(0, str(path.parent))
    try:
        namespace = _call(lambda: runpy.run_path(str(path), run_name="__rducc_model__"), path, "loading the file")
    finally:
        sys.path.remove(str(path.parent))

    for name in ("model", "example_inputs"):
        if name not in namespace:
            raise ModelLoadError(f"{path.name} defines no module-level `{name}` (the MODEL.py contract needs `model` and `example_inputs`)")

    model = namespace["model"]
    if not isinstance(model, torch.nn.Module):
        if not callable(model):
            raise ModelLoadError(
                f"{path.name}: `model` is a {type(model).__name__}, not a torch.nn.Module or a zero-argument callable returning one"
            )
        model = _call(model, path, "constructing `model`")
        if not isinstance(model, torch.nn.Module):
            raise ModelLoadError(f"{path.name}: calling `model` returned a {type(model).__name__}, not a torch.nn.Module")

    inputs = namespace["example_inputs"]
    if callable(inputs) and not isinstance(inputs, torch.Tensor):
        inputs = _call(inputs, path, "building `example_inputs`")
    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    if isinstance(inputs, list):
        inputs = tuple(inputs)
    if not isinstance(inputs, tuple) or not all(isinstance(t, torch.Tensor) for t in inputs):
        raise ModelLoadError(f"{path.name}: `example_inputs` must be a tuple of tensors (or a zero-argument callable returning one)")
    model.eval()
    layer_model = namespace.get("layer_model")
    if layer_model is not None and not callable(layer_model):
        raise ModelLoadError(f"{path.name}: `layer_model` is a {type(layer_model).__name__}, not a callable taking a layer index")
    if layer_model is not None:
        layer_model = _checked_layer_model(layer_model, path)
    return LoadedModel(path, model, inputs, layer_model)


def _checked_layer_model(fn: Callable[[int], Any], path: Path) -> Callable[[int], torch.nn.Module]:
    def layer(i: int) -> torch.nn.Module:
        module = _call(lambda: fn(i), path, f"`layer_model({i})`")
        if not isinstance(module, torch.nn.Module):
            raise ModelLoadError(f"{path.name}: `layer_model({i})` returned a {type(module).__name__}, not a torch.nn.Module")
        return module.eval()

    return layer


def run_eager(loaded: LoadedModel) -> Any:
    """Run the model in PyTorch eager mode. An exception raised by the model's own code (its
    `forward`, or a library's) is reported as such at that line; one raised by torch alone
    means the example inputs do not fit the model.

    A model on the meta device has shapes and no values: there is nothing to run (export still
    checks that the inputs fit)."""
    if loaded.shapes_only:
        return None
    with torch.no_grad():
        try:
            return loaded.module(*loaded.inputs)
        except Exception as exc:
            where = _forward_line(exc, loaded.path)
            if where is None:
                raise ModelLoadError(f"the example inputs do not fit the model: {_describe(exc)}") from None
            raise ModelLoadError(f"{where}: the model's forward raised {_describe(exc)}") from None
