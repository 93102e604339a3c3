"""`rdu-layer-loop{layers=L carry=0,0 per-layer=4,5}`: compile the function as one layer of a loop.

The paper runs a whole decoder as one kernel launched once (§VI, §VIII): the identical layers are
one configuration that runs L times, each time on its own weights and KV cache. This pass marks
the module (`rdu.layer_loop`, `#rdu.layer_loop<...>`) so that every later stage knows: the
function is one iteration; result o of iteration i is argument n of iteration i + 1 for each
(o, n) in `carry` (flattened pairs); `per-layer` arguments are given per iteration; every weight
and state is per layer. Nothing else changes: the layer is compiled once, whatever L, and the
backend emits the LOOP section (iterations, carries, each iteration's base addresses).

It runs on rgraph IR, before rdu-shard (which keeps the function's signature), and checks the loop
against the signature: a carried value must keep its dtype and shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from dialects.diagnostics import RduccError
from dialects.loop_attr import LAUNCHES, LOOP_ATTR, LayerLoopAttr, loop_of
from dialects.types import dtype_of, shape_of


class LayerLoopError(RduccError):
    """A layer loop the function cannot be: no layer, a carry out of range or changing its type."""


@dataclass(frozen=True)
class LayerLoopPass(ModulePass):
    """Mark the function as one iteration of a `layers`-times loop (see the module docstring)."""

    name = "rdu-layer-loop"

    layers: int = 1
    carry: tuple[int, ...] = (0, 0)
    per_layer: tuple[int, ...] = ()
    launch: str = "hardware"

    def apply(self, ctx: Context, module: ModuleOp) -> None:
        who = f"rdu-layer-loop{{layers={self.layers}}}"
        if self.layers < 1:
            raise LayerLoopError(f"{who}: a layer loop runs at least 1 layer, got {self.layers}")
        if self.launch not in LAUNCHES:
            raise LayerLoopError(f"{who}: launch {self.launch!r} is not one of {', '.join(LAUNCHES)}")
        if not self.carry or len(self.carry) % 2:
            raise LayerLoopError(f"{who}: carry takes (result, argument) pairs, got {list(self.carry)}")
        fn = next((op for op in module.ops if isinstance(op, func.FuncOp)), None)
        if fn is None:
            raise LayerLoopError(f"{who} runs on rgraph IR, before rdu-lower: the module has no func.func")
        args, results = list(fn.function_type.inputs.data), list(fn.function_type.outputs.data)
        pairs = tuple(zip(self.carry[::2], self.carry[1::2]))
        for o, n in pairs:
            if not 0 <= o < len(results):
                raise LayerLoopError(f"{who}: carries result {o}, but the function has {len(results)} result(s)")
            if not 0 <= n < len(args):
                raise LayerLoopError(f"{who}: carries into argument {n}, but the function has {len(args)} argument(s)")
            out, arg = results[o], args[n]
            if (dtype_of(out), shape_of(out)) != (dtype_of(arg), shape_of(arg)):
                raise LayerLoopError(
                    f"{who}: carries result {o} ({dtype_of(out)} {tuple(shape_of(out))}) into argument {n} "
                    f"({dtype_of(arg)} {tuple(shape_of(arg))}): a carried value must keep its dtype and shape")
        for n in self.per_layer:
            if not 0 <= n < len(args):
                raise LayerLoopError(f"{who}: argument {n} is per layer, but the function has {len(args)} argument(s)")
            if any(n == c for _, c in pairs):
                raise LayerLoopError(f"{who}: argument {n} is both carried and per layer")
        if self.layers == 1:
            return  # one layer is the program itself
        current = loop_of(module)
        attr = LayerLoopAttr(self.layers, pairs, tuple(self.per_layer), self.launch)
        if current is not None and current != attr:
            raise LayerLoopError(f"{who}: the module is already a loop ({current.layers} layers)")
        module.attributes[LOOP_ATTR] = attr
