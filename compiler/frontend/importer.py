"""Import an exported, decomposed FX graph into the rgraph dialect.

Parameters, buffers and lifted constants become `rgraph.weight` ops whose bytes are module
resources (none when the model lives on the meta device; `ImportedGraph.weights` still lists them
for the backend); user inputs become function arguments. Each ATen op is translated by a converter
in `aten_converters`, built with the op's typed constructor and located at the model line that
produced it, inside a `NameLoc` naming the module path that ran it (reports and kernel names
speak the model's names: `model.layers.3.mlp.down_proj`); ops without a converter are collected
and reported together with that line.
"""

from __future__ import annotations

import operator
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch
from torch.export import ExportedProgram
from torch.export.graph_signature import InputKind, OutputKind
from xdsl.dialects import func
from xdsl.dialects.builtin import FileLineColLoc, IntAttr, ModuleOp, NameLoc, StringAttr
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue

from dialects.diagnostics import UnsupportedOpError
from compiler.frontend.capture import node_source_line
from compiler.frontend.source_lines import SourceLine, node_source
from dialects import rgraph
from dialects.resources import store_resource
from dialects.types import FLOAT_DTYPES, dtype_of, tensor_type

TORCH_DTYPES: dict[torch.dtype, str] = {
    torch.float32: "f32",
    torch.float16: "f16",
    torch.bfloat16: "bf16",
    torch.float64: "f64",
    torch.int64: "i64",
    torch.int32: "i32",
    torch.int16: "i16",
    torch.int8: "i8",
    torch.uint8: "u8",
    torch.bool: "i1",
}


OpT = TypeVar("OpT", bound=Operation)

# Ops torch.export leaves behind when a shape depends on tensor values.
DATA_DEPENDENT_MARKERS = ("sym_size", "_assert_scalar", "nonzero", "_local_scalar_dense", "sym_constrain_range")


@dataclass(frozen=True)
class WeightData:
    dtype: str
    shape: tuple[int, ...]
    data: bytes | None  # None: shapes-only (meta device)


@dataclass
class ImportedGraph:
    module: ModuleOp
    weights: dict[str, WeightData]
    input_names: list[str]
    output_spec: Any  # torch pytree spec of the model's outputs
    op_sources: dict[str, list[str]] = field(default_factory=dict)  # aten op -> source lines
    value_nodes: dict[SSAValue, str] = field(default_factory=dict)  # value -> the FX node it computes (bisect)
    source_files: dict[str, str] = field(default_factory=dict)  # file name in locations -> its path


def torch_dtype_name(dtype: torch.dtype, where: str = "") -> str:
    try:
        return TORCH_DTYPES[dtype]
    except KeyError:
        raise UnsupportedOpError(f"dtype {dtype} is not supported", where) from None


def weight_data(t: torch.Tensor) -> WeightData:
    dtype = torch_dtype_name(t.dtype)
    shape = tuple(t.shape)
    if t.device.type == "meta":
        return WeightData(dtype, shape, None)
    raw = t.detach().contiguous().cpu().reshape(-1)  # rank 0 cannot be viewed as bytes
    return WeightData(dtype, shape, raw.view(torch.uint8).numpy().tobytes() if raw.numel() else b"")


class GraphImporter:
    """Walks the FX graph once, emitting rgraph ops into a single `func.func @forward`."""

    def __init__(self, program: ExportedProgram):
        self.program = program
        self.block = Block()
        self.values: dict[torch.fx.Node, Any] = {}
        self.weights: dict[str, WeightData] = {}
        self.current_line: SourceLine | None = None  # the model line of the node being converted
        self.current_scope = ""  # the module path (`model.layers.3.mlp`) of the node being converted
        self.value_nodes: dict[SSAValue, str] = {}
        self.source_files: dict[str, str] = {}

    @property
    def current_source(self) -> str:
        """"model.py:LINE" of the node being converted, for error messages (empty when unknown)."""
        return self.current_line.short if self.current_line else ""

    # -- emission helpers used by converters ----------------------------------------------------

    def add_op(self, op: OpT) -> OpT:
        """Append `op` to the function body, located at the model line being converted, inside a
        `NameLoc` naming the module that ran it (absent for the root module)."""
        if self.current_line is not None:
            op.location = FileLineColLoc(StringAttr(Path(self.current_line.file).name), IntAttr(self.current_line.line), IntAttr(0))
            if self.current_scope:
                op.location = NameLoc(StringAttr(self.current_scope), op.location)
        self.block.add_op(op)
        return op

    def add(self, op: Operation) -> SSAValue:
        """Append a single-result `op`; its result."""
        return self.add_op(op).results[0]

    def full(self, value: float | int | bool, dtype: str, shape: tuple[int, ...] = ()) -> SSAValue:
        number = float(value) if dtype in FLOAT_DTYPES else int(value)
        return self.add(rgraph.FullOp(number, tensor_type(dtype, shape)))

    def cast(self, value: SSAValue, dtype: str) -> SSAValue:
        if dtype_of(value.type) == dtype:
            return value
        return self.add(rgraph.CastOp(value, dtype))

    def value(self, arg: Any, dtype: str) -> SSAValue:
        """An FX argument as an SSA value; Python scalars become rank-0 fulls of `dtype`."""
        if isinstance(arg, torch.fx.Node):
            return self.values[arg]
        if isinstance(arg, (bool, int, float)):
            return self.full(arg, dtype)
        raise UnsupportedOpError(f"argument {arg!r} of type {type(arg).__name__} is not supported", self.current_source)

    # -- the walk -------------------------------------------------------------------------------

    def run(self) -> ImportedGraph:
        from compiler.frontend.aten_converters import CONVERTERS

        sig = self.program.graph_signature
        kinds = {spec.arg.name: spec for spec in sig.input_specs}
        state = dict(self.program.state_dict) | dict(self.program.constants)
        input_names: list[str] = []
        arg_types: list[Attribute] = []
        graph = self.program.graph_module.graph

        missing = self._unsupported(graph, CONVERTERS)
        dynamic = [op for op in missing if any(k in op for k in DATA_DEPENDENT_MARKERS)]
        if dynamic:
            lines = missing[dynamic[0]]
            raise UnsupportedOpError(
                "the model makes a tensor whose shape depends on its values (boolean-mask indexing such as "
                "x[x > 0], nonzero, or .item()); rducc compiles static shapes only: use torch.where instead",
                lines[0] if lines else "")
        if missing:
            first_op, lines = next(iter(missing.items()))
            more = len(missing) - 1
            others = list(missing)[1:]
            listed = ", ".join(others[:4]) + (", ..." if len(others) > 4 else "")
            tail = f"; {more} more unsupported op(s): {listed}" if more else ""
            raise UnsupportedOpError(f"unsupported op {first_op}{tail} (run `rducc ops` for the full list)", lines[0] if lines else "")

        for node in graph.nodes:
            self.current_line = None
            self.current_scope = ""
            if node.op == "placeholder":
                spec = kinds[node.name]
                val = node.meta["val"]
                if spec.kind == InputKind.USER_INPUT:
                    if not isinstance(val, torch.Tensor):
                        raise UnsupportedOpError(f"model input {node.name!r} is a {type(val).__name__}; only tensors are supported")
                    ty = tensor_type(torch_dtype_name(val.dtype), tuple(val.shape))
                    arg = self.block.insert_arg(ty, len(self.block.args))
                    arg.name_hint = node.name
                    arg_types.append(ty)
                    input_names.append(node.name)
                    self.values[node] = arg
                else:
                    target = spec.target
                    data = state.get(target)
                    tensor = data if isinstance(data, torch.Tensor) else val
                    self.weights[target] = weight_data(tensor) if data is not None else WeightData(
                        torch_dtype_name(val.dtype), tuple(val.shape), None)
                    weight = self.weights[target]
                    ty = tensor_type(weight.dtype, weight.shape)
                    value = store_resource(target, weight.data, ty) if weight.data is not None else None
                    self.values[node] = self.add(rgraph.WeightOp(target, ty, value))
            elif node.op == "call_function":
                self.current_line = node_source(node.meta.get("stack_trace"))
                self.current_scope = module_path(node)
                if node.target is operator.getitem:
                    self.values[node] = self.values[node.args[0]][node.args[1]]
                    continue
                self.values[node] = CONVERTERS[node.target](self, node, *node.args, **node.kwargs)
                self._remember(node)
            elif node.op == "output":
                self._emit_return(node, sig)

        result_types = [v.type for v in self.block.last_op.operands]
        fn = func.FuncOp("forward", (arg_types, result_types), Region(self.block))
        return ImportedGraph(ModuleOp([fn]), self.weights, input_names, self.program.call_spec.out_spec,
                             value_nodes=self.value_nodes, source_files=self.source_files)

    def _remember(self, node: torch.fx.Node) -> None:
        """Which value computes which FX node, and where the model's files are (for bisect)."""
        value = self.values[node]
        values = value if isinstance(value, (tuple, list)) else [value]
        for i, v in enumerate(values):
            if isinstance(v, SSAValue) and v not in self.value_nodes:
                self.value_nodes[v] = node.name if len(values) == 1 else f"{node.name}[{i}]"
        if self.current_line is not None:
            self.source_files.setdefault(Path(self.current_line.file).name, self.current_line.file)

    def _emit_return(self, node: torch.fx.Node, sig) -> None:
        outputs = []
        for index, (spec, arg) in enumerate(zip(sig.output_specs, node.args[0])):
            if spec.kind == OutputKind.BUFFER_MUTATION and isinstance(arg, torch.fx.Node):
                from compiler.frontend.state_updates import emit_state_update

                emit_state_update(self, spec.target, arg)  # a static KV cache's in-place append
                continue
            if spec.kind != OutputKind.USER_OUTPUT:
                raise UnsupportedOpError(
                    f"the model mutates {spec.target!r} in place ({spec.kind.name}); rducc compiles pure functions only")
            if not isinstance(arg, torch.fx.Node):
                raise UnsupportedOpError(
                    f"model output #{index} is a {type(arg).__name__} ({arg!r}), not a tensor; return tensors only")
            outputs.append(self.values[arg])
        self.block.add_op(func.ReturnOp(*outputs))

    @staticmethod
    def _unsupported(graph: torch.fx.Graph, converters: dict) -> dict[str, list[str]]:
        missing: dict[str, list[str]] = {}
        for node in graph.nodes:
            if node.op == "call_function" and node.target not in converters and node.target is not operator.getitem:
                missing.setdefault(str(node.target), []).append(node_source_line(node))
        return missing


def module_path(node: torch.fx.Node) -> str:
    """The dotted path of the innermost nn.Module that ran `node` (`model.layers.3.mlp.down_proj`),
    from torch.export's `nn_module_stack`; "" for the root module."""
    stack = node.meta.get("nn_module_stack") or {}
    paths = [path for path, _ in stack.values() if isinstance(path, str)]
    return paths[-1] if paths else ""


def list_ops(program: ExportedProgram) -> list[tuple[str, bool, str]]:
    """Every call in the graph: (op name, supported, source line), for `rducc ops`."""
    from compiler.frontend.aten_converters import CONVERTERS

    rows = []
    for node in program.graph_module.graph.nodes:
        if node.op != "call_function" or node.target is operator.getitem:
            continue
        rows.append((str(node.target), node.target in CONVERTERS, node_source_line(node)))
    return rows


def import_program(program: ExportedProgram) -> ImportedGraph:
    return GraphImporter(program).run()
