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

`rdu-layer-loop{layers=L body=layers.0 per-layer=4,5}`: the function is a whole model step (a
decode step: embedding, layer 0, final norm, LM head, argmax) and the loop is the ops of module
`body` only (by their locations). Those ops must run in one stretch; the one value that enters them
(the embedding's output) and the one that leaves them (the layer's output) are the carried value,
which must keep its dtype and shape; the body's weights are per layer and may not be read outside
it. rdu-fuse ends a kernel where the body starts and where it ends, so the loop is whole kernels:
the prologue's, the body's and the epilogue's (`body_ops`).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import ModulePass

from xdsl.ir import Operation, SSAValue

from dialects import rdu, rgraph
from dialects.diagnostics import RduccError
from dialects.loop_attr import LAUNCHES, LOOP_ATTR, LayerLoopAttr, loop_of
from dialects.types import dtype_of, shape_of


def in_body(op: Operation, body: str) -> bool:
    """Whether `op` was produced by module `body` or one of its submodules (its location)."""
    scope = rdu.scope_of(op)
    return scope is not None and (scope == body or scope.startswith(body + "."))


def body_ops(ops: list[Operation], body: str) -> tuple[int, int]:
    """[first, end) of the body's ops among `ops` (program order), (0, 0) when it has none."""
    where = [i for i, op in enumerate(ops) if in_body(op, body)]
    return (where[0], where[-1] + 1) if where else (0, 0)


class LayerLoopError(RduccError):
    """A layer loop the function cannot be: no layer, a carry out of range or changing its type."""


@dataclass(frozen=True)
class LayerLoopPass(ModulePass):
    """mark the function as one iteration of a `layers`-times loop, the LOOP section (docs/node.md)."""

    name = "rdu-layer-loop"

    layers: int = 1
    carry: tuple[int, ...] = (0, 0)
    per_layer: tuple[int, ...] = ()
    launch: str = "hardware"
    body: str = ""  # a module path: the loop is that module's ops, the rest prologue and epilogue

    def apply(self, ctx: Context, module: ModuleOp) -> None:
        who = f"rdu-layer-loop{{layers={self.layers}}}"
        if self.body:
            return self.apply_body(module, who)
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

    def apply_body(self, module: ModuleOp, who: str) -> None:
        """The loop is module `body`'s ops of a whole step (see the module docstring)."""
        if self.layers < 1:
            raise LayerLoopError(f"{who}: a layer loop runs at least 1 layer, got {self.layers}")
        if self.launch not in LAUNCHES:
            raise LayerLoopError(f"{who}: launch {self.launch!r} is not one of {', '.join(LAUNCHES)}")
        fn = next((op for op in module.ops if isinstance(op, func.FuncOp)), None)
        if fn is None:
            raise LayerLoopError(f"{who} runs on rgraph IR, before rdu-lower: the module has no func.func")
        ops = [op for op in fn.body.block.ops if isinstance(op, rgraph.GraphOp) and not isinstance(op, rgraph.FullOp)]
        first, end = body_ops(ops, self.body)
        if first == end:
            raise LayerLoopError(f"{who}: no op of the function comes from module {self.body!r} (the body)")
        stray = next((op for op in ops[first:end] if not in_body(op, self.body)), None)
        if stray is not None:
            raise LayerLoopError(f"{who}: the body {self.body!r} does not run in one stretch: "
                                 f"{stray.name} of {rdu.scope_of(stray) or 'the root module'!r} runs inside it")
        if first == 0:
            raise LayerLoopError(f"{who}: nothing runs before the body {self.body!r}: a loop without a prologue is "
                                 f"the function itself (use carry=RESULT,ARGUMENT)")
        inside = set(ops[first:end])
        args = list(fn.body.block.args)
        entering: list[SSAValue] = []
        leaving: list[SSAValue] = []
        for op in ops[first:end]:
            for v in op.operands:
                owner = v.owner
                if isinstance(owner, Operation) and owner not in inside and isinstance(owner, rgraph.GraphOp) \
                        and not isinstance(owner, rgraph.FullOp) and v not in entering:
                    entering.append(v)
            for r in op.results:
                if any(u.operation not in inside for u in r.uses) and r not in leaving:
                    leaving.append(r)
        for n, arg in enumerate(args):
            readers = {u.operation for u in arg.uses}
            if n in self.per_layer and readers - inside:
                raise LayerLoopError(f"{who}: argument {n} is per layer but is read outside the body {self.body!r}")
        for n in self.per_layer:
            if not 0 <= n < len(args):
                raise LayerLoopError(f"{who}: argument {n} is per layer, but the function has {len(args)} argument(s)")
        for w in (op for op in fn.body.block.ops if isinstance(op, rgraph.WeightOp)):
            readers = {u.operation for u in w.results[0].uses}
            if readers & inside and readers - inside:
                raise LayerLoopError(f"{who}: weight {w.sym_name.data!r} is read inside and outside the body "
                                     f"{self.body!r}: a per-layer weight must be the body's alone")
        if len(entering) != 1 or len(leaving) != 1:
            raise LayerLoopError(f"{who}: the body {self.body!r} takes {len(entering)} value(s) from the prologue and "
                                 f"gives {len(leaving)} to the epilogue: a loop carries exactly one (the hidden state)")
        a, b = entering[0], leaving[0]
        if (dtype_of(a.type), shape_of(a.type)) != (dtype_of(b.type), shape_of(b.type)):
            raise LayerLoopError(
                f"{who}: the body {self.body!r} takes {dtype_of(a.type)} {tuple(shape_of(a.type))} and gives "
                f"{dtype_of(b.type)} {tuple(shape_of(b.type))}: a carried value must keep its dtype and shape")
        if self.layers == 1:
            return
        attr = LayerLoopAttr(self.layers, (), tuple(self.per_layer), self.launch, self.body)
        current = loop_of(module)
        if current is not None and current != attr:
            raise LayerLoopError(f"{who}: the module is already a loop ({current.layers} layers)")
        module.attributes[LOOP_ATTR] = attr
