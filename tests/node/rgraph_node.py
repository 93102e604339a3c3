"""Test helper: run a sharded rgraph module on every socket in lockstep, op by op, so a test can
check `rdu-shard` against PyTorch before any lowering (the simulator checks the bitstream)."""

from __future__ import annotations

import numpy as np
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp

from bitstream_format.node_program import shard_part
from compiler.interpret import _bytes_value, _run_opcode
from dialects import rgraph
from dialects.types import dtype_of, shape_of
from functional_sim.collective import collective_values
from functional_sim.dtypes import cast


def interpret_node(module: ModuleOp, inputs: list[np.ndarray], sockets: int) -> list[list[np.ndarray]]:
    """Each socket's outputs (socket order)."""
    fn = next(op for op in module.ops if isinstance(op, func.FuncOp))
    envs = [{} for _ in range(sockets)]
    for i, (arg, value) in enumerate(zip(fn.body.block.args, inputs, strict=True)):
        shard = fn.arg_attrs.data[i].data.get("rdu.shard") if fn.arg_attrs is not None else None
        for s, env in enumerate(envs):
            part = value if shard is None else shard_part(np.asarray(value), shard.dim, shard.parts, shard.blocks,
                                                          s // (sockets // shard.parts))
            env[arg] = cast(part, dtype_of(arg.type))
    for op in fn.body.block.ops:
        if isinstance(op, rgraph.WeightOp):
            whole_type = op.value.type if op.value is not None else op.result.type
            whole = _bytes_value(op.data(), whole_type, op.sym_name.data)
            for s, env in enumerate(envs):
                if op.shard is None:
                    env[op.result] = whole
                else:
                    group = sockets // op.shard.parts
                    env[op.result] = shard_part(whole, op.shard.dim, op.shard.parts, op.shard.blocks, s // group)
        elif isinstance(op, rgraph.CollectiveOp):
            outs = collective_values(op.OPCODE, op.params(), [env[op.input] for env in envs], dtype_of(op.result.type))
            for env, v in zip(envs, outs):
                env[op.result] = v
        elif isinstance(op, rgraph.GraphOp):
            for env in envs:
                env.update(zip(op.results, _run_opcode(op.OPCODE, [env[v] for v in op.operands], op.params(), list(op.results))))
        elif isinstance(op, func.ReturnOp):
            return [[env[v] for v in op.operands] for env in envs]
    raise AssertionError("no func.return")
