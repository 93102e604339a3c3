"""Capture a model with torch.export and decompose it to the op level rducc imports.

The default decomposition table lowers everything to core ATen; we take ops back out of it that a
dataflow compiler wants whole (linear runs on the systolic body with its bias epilogue).
"""

from __future__ import annotations

import io
import logging
import re
import warnings
from contextlib import contextmanager, redirect_stderr
from typing import Iterator

import torch
from torch.export import ExportedProgram

from dialects.diagnostics import ExportError
from compiler.frontend.model_file import LoadedModel
from compiler.frontend.source_lines import node_source

aten = torch.ops.aten

KEEP_COARSE = (aten.linear.default,)


def decomposition_table() -> dict:
    table = torch.export.default_decompositions()
    for op in KEEP_COARSE:
        table.pop(op, None)
    return table


def _export_failure(exc: Exception, loaded: LoadedModel) -> ExportError:
    text = str(exc)
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(exc).__name__)
    where = ""
    match = re.search(r'File "([^"]+)", line (\d+)', text)
    if match:
        where = f"{match[1].rsplit('/', 1)[-1]}:{match[2]}"
    data_dependent = any(
        key in text
        for key in ("data-dependent", "data dependent", "GuardOnDataDependentSymNode", "Could not guard on data-dependent")
    ) or "DataDependent" in type(exc).__name__
    if data_dependent:
        hint = (
            "the model has Python control flow that depends on tensor values; rewrite it with torch.where "
            "or torch.cond (for Hugging Face models, build with attn_implementation=\"eager\")"
        )
        return ExportError(f"torch.export failed: {hint}: {first}", where)
    if "Cache" in text and "pytree" in text:
        return ExportError("torch.export failed: the model returns a KV-cache object; build it with use_cache=False", where)
    return ExportError(f"torch.export failed: {type(exc).__name__}: {first}", where)


@contextmanager
def _quiet_torch() -> Iterator[None]:
    """torch.export logs guard failures and graph dumps on stderr; our error says it in one line."""
    previous = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with warnings.catch_warnings(), redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(previous)


def capture(loaded: LoadedModel) -> ExportedProgram:
    with _quiet_torch():
        try:
            program = torch.export.export(loaded.module, loaded.inputs, strict=False)
            program = program.run_decompositions(decomposition_table())
        except Exception as exc:  # torch.export raises many unrelated types
            raise _export_failure(exc, loaded) from None
    _drop_assertions(program)
    return program


def _drop_assertions(program: ExportedProgram) -> None:
    """torch.export leaves metadata assertions that carry no computation."""
    graph = program.graph_module.graph
    for node in list(graph.nodes):
        if node.op == "call_function" and node.target in (aten._assert_tensor_metadata.default,) and not node.users:
            graph.erase_node(node)


def node_source_line(node: torch.fx.Node) -> str:
    src = node_source(node.meta.get("stack_trace"))
    return str(src) if src else ""
