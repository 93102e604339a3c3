"""Run IR on numpy values, op by op: the rgraph level (a function of graph ops) and the rdu level
(kernels of load, buffer, compute and store stages over tensors).

Why a second way to run a model: `rducc bisect` asks, after every pass, whether the IR still
computes what PyTorch computes, and which op first stops doing so. Each op means what its opcode
means in the simulator: the values come from functional_sim's per-opcode table (`KERNELS`), fed
with the op's `OPCODE` and `params()`, and are cast to the result's dtype as the simulator casts a
stage's output to its stream. So the interpreter and the bitstream cannot disagree about an
opcode; they can only disagree about what the passes did to the graph.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import DenseResourceAttr, ModuleOp
from xdsl.ir import Operation, SSAValue

from dialects import rdu, rgraph
from dialects.rgraph import attr_value
from dialects.types import dtype_of, shape_of, specs_of
from functional_sim.dtypes import cast, from_bytes
from functional_sim.kernels import KERNELS


class NotInterpretable(Exception):
    """The IR holds something the interpreter cannot run (e.g. shapes-only weights)."""


@dataclass
class OpValues:
    """The values one op produced, with what identifies it across levels of the pipeline."""

    op: Operation
    opcode: str
    location: str  # "model.layers.0.mlp (llama.py:12)", or "" when unknown
    values: list[np.ndarray]


@dataclass
class Interpretation:
    outputs: list[np.ndarray]
    ops: list[OpValues]  # every computing op (not loads, stores, buffers, weights), in program order


def location_text(op: Operation) -> str:
    scope, line = rdu.scope_of(op), rdu.source_text(op)
    if scope:
        return f"{scope} ({line})" if line else scope
    return line


def _run_opcode(opcode: str, inputs: list[np.ndarray], params: dict[str, Any], results: list[SSAValue]) -> list[np.ndarray]:
    specs = specs_of(results)
    with np.errstate(all="ignore"):
        outs = KERNELS[opcode](inputs, params, specs)
    return [cast(v, dtype) for v, (dtype, _) in zip(outs, specs)]


def _bytes_value(data: bytes | None, ty: Any, what: str) -> np.ndarray:
    if data is None:
        raise NotInterpretable(f"{what} has no values (a shapes-only model)")
    return from_bytes(data, dtype_of(ty), shape_of(ty))


def interpret_rgraph(module: ModuleOp, inputs: list[np.ndarray]) -> Interpretation:
    """Run the module's `func.func` on `inputs` (numpy arrays in argument order)."""
    fn = next((op for op in module.ops if isinstance(op, func.FuncOp)), None)
    if fn is None:
        raise NotInterpretable("the module holds no func.func")
    env: dict[SSAValue, np.ndarray] = {}
    for arg, value in zip(fn.body.block.args, inputs, strict=True):
        env[arg] = cast(value, dtype_of(arg.type))
    record: list[OpValues] = []
    outputs: list[np.ndarray] = []
    for op in fn.body.block.ops:
        if isinstance(op, rgraph.WeightOp):
            env[op.result] = _bytes_value(op.data(), op.result.type, f"weight {op.sym_name.data}")
        elif isinstance(op, rgraph.UpdateRowsOp):
            continue  # writes memory only; the values the model reads come from its merge
        elif isinstance(op, rgraph.GraphOp):
            values = _run_opcode(op.OPCODE, [env[v] for v in op.operands], op.params(), list(op.results))
            env.update(zip(op.results, values))
            record.append(OpValues(op, op.OPCODE, location_text(op), values))
        elif isinstance(op, func.ReturnOp):
            outputs = [env[v] for v in op.operands]
        else:
            raise NotInterpretable(f"{op.name} is not an rgraph op")
    return Interpretation(outputs, record)


def _tensor_value(t: rdu.TensorOp, inputs: list[np.ndarray]) -> np.ndarray | None:
    role = t.role_name
    if role == "input":
        return cast(inputs[t.index.value.data], dtype_of(t.result.type))
    if role in ("weight", "state"):
        from dialects.resources import resource_bytes

        data = resource_bytes(t.value) if isinstance(t.value, DenseResourceAttr) else None
        return _bytes_value(data, t.result.type, f"weight {t.sym_name.data}")
    if role == "constant":
        return cast(np.full(shape_of(t.result.type), attr_value(t.value)), dtype_of(t.result.type))
    return None  # activations and outputs: written by a store


def interpret_rdu(module: ModuleOp, inputs: list[np.ndarray]) -> Interpretation:
    """Run the kernels in order; tensors are values keyed by their `rdu.tensor` (not by address:
    the simulator on the bitstream checks memory plans)."""
    memory: dict[SSAValue, np.ndarray] = {}
    outputs: dict[int, np.ndarray] = {}
    for t in rdu.tensors(module):
        value = _tensor_value(t, inputs)
        if value is not None:
            memory[t.result] = value
    record: list[OpValues] = []
    for kernel in rdu.kernels(module):
        streams: dict[SSAValue, np.ndarray] = {}
        for op in kernel.body.block.ops:
            if isinstance(op, rdu.LoadOp):
                if op.tensor not in memory:
                    raise NotInterpretable(f"kernel {kernel.sym_name.data} loads {op.tensor.owner.sym_name.data} before any store")
                streams[op.result] = memory[op.tensor].reshape(shape_of(op.result.type))
            elif isinstance(op, rdu.BufferOp):
                streams[op.result] = streams[op.input]
            elif isinstance(op, rdu.LoadRowsOp):  # the table's rows at the index
                table = memory[op.tensor]
                streams[op.result] = np.take(table, streams[op.index], axis=op.dim.value.data)
            elif isinstance(op, rdu.StoreRowsOp):  # the state's rows at the index, replaced
                dim = op.dim.value.data
                updated = np.array(memory[op.tensor])
                index = [slice(None)] * updated.ndim
                index[dim] = streams[op.index].reshape(-1)
                updated[tuple(index)] = streams[op.value]
                memory[op.tensor] = updated
            elif isinstance(op, rdu.StoreOp):
                value = streams[op.value].reshape(shape_of(op.tensor.type))
                memory[op.tensor] = value
                owner = op.tensor.owner
                if owner.role_name == "output":
                    outputs[owner.index.value.data] = value
            elif isinstance(op, rdu.ComputeOp):
                values = _run_opcode(op.opcode.data, [streams[v] for v in op.inputs], op.param_values(), list(op.outputs))
                streams.update(zip(op.outputs, values))
                record.append(OpValues(op, op.opcode.data, location_text(op), values))
            else:
                raise NotInterpretable(f"{op.name} inside a kernel is not an rdu stage")
    return Interpretation([outputs[i] for i in sorted(outputs)], record)


def interpret(module: ModuleOp, inputs: list[np.ndarray]) -> Interpretation:
    """The rgraph interpreter for a module still holding its function, else the rdu one."""
    if any(isinstance(op, func.FuncOp) for op in module.ops):
        return interpret_rgraph(module, inputs)
    return interpret_rdu(module, inputs)
