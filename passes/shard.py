"""`rdu-shard{tp=N}`: split an rgraph model Megatron-style over the N sockets of a tensor-parallel group.

The result is the program ONE socket runs (SPMD): every socket runs the same ops on its own part
of the weights, and collectives (`rgraph.all_reduce`, `rgraph.all_gather`) exchange values over
the node's peer-to-peer network where a socket needs what others computed. What differs between
sockets is data only: a split weight keeps its whole value and says how it is cut (`#rdu.shard`).

How values are split is propagated, not pattern-matched on names. Each value is either whole on
every socket (replicated) or `Split(dim, blocks)`: its `dim` cut into N parts (in `blocks` equal
blocks, each cut into N, for fused QKV / gate-up outputs that are sliced apart later). The rules:

- A linear (or an expert matmul reading `index(weight)`) on a replicated input is column-parallel:
  its weight's output rows are split and so is its result, unless the result feeds a softmax /
  top-k / argmax over those columns from a narrowing projection (a router: experts < hidden),
  which stays replicated. A widening one (a vocabulary projection before greedy sampling) is
  split, vocab-parallel, and its logits all-gathered before the argmax: the gather moves `in`
  times fewer bytes than every socket reading the whole weight (the LM head of Llama 3.1 is 1 GB).
- A linear (or matmul) whose contracted dim is split is row-parallel: its weight's input columns
  are split and the partial sums are added by an `all_reduce` (the bias is added after it).
- Shape ops carry the split: reshape (heads = the outermost factor of the split dim, which is
  where "TP must divide the heads" comes from), permute, expand (GQA's repeat of KV heads; with
  fewer KV heads than sockets each KV head is held by tp // kv sockets, `#rdu.shard<parts kv>`, and
  those sockets split its repeat, so every socket still gets tp-th of the query heads),
  slices and concats off the split dim, elementwise ops, reductions off the split dim, batched
  matmuls whose batch (heads) dims are split alike.
- Anything else gets its split operands made whole by an `all_gather` first and runs replicated;
  a returned value is made whole the same way.

The module records what it did: `rdu.tp`, and `rdu.shard.split` / `rdu.shard.replicated` list the
weights cut and the weights every socket holds whole (docs/node.md).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from math import prod

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, IntegerAttr, ModuleOp, StringAttr, TensorType, i64
from xdsl.ir import Attribute, BlockArgument, Operation, SSAValue
from xdsl.passes import ModulePass

from dialects import rgraph
from dialects.diagnostics import RduccError
from dialects.rgraph import int_attr
from dialects.shard_attr import ShardAttr
from dialects.types import dtype_of, shape_of

TP_ATTR = "rdu.tp"
NODE_ATTR = "rdu.node"
SPLIT_ATTR = "rdu.shard.split"
REPLICATED_ATTR = "rdu.shard.replicated"
ROUTER_OPS = (rgraph.SoftmaxOp, rgraph.LogSoftmaxOp, rgraph.TopkOp, rgraph.ArgmaxOp)


class ShardError(RduccError):
    """A model that cannot be split over the requested sockets (heads not divisible, too many sockets)."""


@dataclass(frozen=True)
class Split:
    dim: int
    blocks: int = 1
    parts: int = 0  # 0: one part per socket; fewer (KV heads < tp): each part held by tp // parts neighbours
    rep: tuple[int, int] | None = None  # (dim, factor): a duplicated part's expanded (GQA repeat) dim, cut among them

    def moved(self, dim: int, blocks: int | None = None) -> "Split":
        return replace(self, dim=dim, blocks=self.blocks if blocks is None else blocks)


Layout = Split | None  # None: whole on every socket


def tp_of(module: ModuleOp) -> int:
    """The tensor-parallel degree a module was sharded for (1 when it was not)."""
    attr = module.attributes.get(TP_ATTR)
    return attr.value.data if isinstance(attr, IntegerAttr) else 1


def node_of(module: ModuleOp) -> str | None:
    attr = module.attributes.get(NODE_ATTR)
    return attr.data if isinstance(attr, StringAttr) else None


def _where(op: Operation) -> str:
    scope = rgraph.GraphOp.source(op) if isinstance(op, rgraph.GraphOp) else ""
    from dialects.rdu import scope_of

    path = scope_of(op)
    return ", ".join(x for x in (path, scope) if x)


def _with_dim(t: Attribute, dim: int, size: int) -> TensorType:
    shape = list(shape_of(t))
    shape[dim] = size
    return TensorType(t.get_element_type(), shape)


class Sharder:
    """One walk over the function: rebuilds every op for one socket, in program order."""

    def __init__(self, fn: func.FuncOp, tp: int):
        self.fn = fn
        self.tp = tp
        self.block = fn.body.block
        self.layout: dict[SSAValue, Layout] = {}
        self.new: dict[SSAValue, SSAValue] = {}  # original value -> this socket's value
        self.whole_cache: dict[SSAValue, SSAValue] = {}
        self.back_cache: dict[tuple[SSAValue, int, int], SSAValue | None] = {}
        self.split_weights: set[str] = set()
        self.whole_states: set[SSAValue] = set()  # states an update (visited before its merge) keeps whole
        self.arg_shards: dict[BlockArgument, tuple[BlockArgument, ShardAttr]] = {}
        self.cursor: Operation | None = None  # new ops go before this one

    # --- building -------------------------------------------------------------------------------

    def insert(self, op: Operation, origin: Operation | None = None) -> Operation:
        if origin is not None:
            op.location = origin.location
        self.block.insert_op_before(op, self.cursor)
        return op

    def parts(self, lay: Split) -> int:
        return lay.parts or self.tp

    def local_type(self, t: Attribute, lay: Layout) -> Attribute:
        if lay is None:
            return t
        t = _with_dim(t, lay.dim, shape_of(t)[lay.dim] // self.parts(lay))
        if lay.rep is not None:
            t = _with_dim(t, lay.rep[0], shape_of(t)[lay.rep[0]] // lay.rep[1])
        return t

    def rebuild(self, op: Operation, operands: list[SSAValue], layouts: list[Layout],
                properties: dict[str, Attribute] | None = None, result_types: list[Attribute] | None = None) -> Operation:
        """`op` for one socket: new operands, results cut along their layouts."""
        types = result_types or [self.local_type(r.type, lay) for r, lay in zip(op.results, layouts)]
        new = type(op).create(operands=operands, result_types=types,
                              properties=dict(op.properties) if properties is None else properties,
                              attributes=dict(op.attributes))
        self.insert(new, op)
        for r, nr, lay in zip(op.results, new.results, layouts):
            self.new[r] = nr
            self.layout[r] = lay
        return new

    def whole(self, v: SSAValue) -> SSAValue:
        """The original value `v`, whole on this socket: all-gathered when it is split."""
        lay, local = self.layout.get(v), self.new[v]
        if lay is None:
            return local
        if v in self.whole_cache:
            return self.whole_cache[v]
        origin = v.owner if isinstance(v.owner, Operation) else None
        if lay.parts or lay.rep:
            raise ShardError(f"rdu-shard: a value split over {self.parts(lay)} KV heads (duplicated over {self.tp} sockets) "
                             f"is needed whole at {_where(origin) if origin else 'the return'}: this model needs a tp that "
                             f"divides its KV heads")
        shape = list(shape_of(local.type))
        d, b = lay.dim, lay.blocks
        if b == 1:
            out = self.insert(rgraph.AllGatherOp(local, d, self.tp, v.type), origin).result
        else:  # gather each block's parts: (.., b*L, ..) -> (.., b, L, ..) -> (.., b, tp*L, ..) -> whole
            el = v.type.get_element_type()
            blocked = shape[:d] + [b, shape[d] // b] + shape[d + 1:]
            r = self.insert(rgraph.ReshapeOp(local, TensorType(el, blocked)), origin).result
            gathered = blocked[:d + 1] + [blocked[d + 1] * self.tp] + blocked[d + 2:]
            g = self.insert(rgraph.AllGatherOp(r, d + 1, self.tp, TensorType(el, gathered)), origin).result
            out = self.insert(rgraph.ReshapeOp(g, v.type), origin).result
        self.whole_cache[v] = out
        return out

    def all_reduce(self, value: SSAValue, origin: Operation) -> SSAValue:
        return self.insert(rgraph.AllReduceOp(value, self.tp), origin).result

    def replicated(self, op: Operation) -> None:
        """Run `op` on whole operands, whole results."""
        self.rebuild(op, [self.whole(v) for v in op.operands], [None] * len(op.results))

    # --- splitting weights on demand --------------------------------------------------------------

    def shard_back(self, v: SSAValue, dim: int, blocks: int = 1, parts: int = 0) -> SSAValue | None:
        """This socket's part of the replicated value `v` cut along `dim`, when `v` is a weight or
        an index of one (an expert's weights); None otherwise."""
        key = (v, dim, blocks, parts)
        if key in self.back_cache:
            return self.back_cache[key]
        out = None
        owner = v.owner
        n = shape_of(v.type)[dim] if dim < len(shape_of(v.type)) else 0
        cut = parts or self.tp
        if n and n % (cut * blocks) == 0 and self.layout.get(v) is None:
            if isinstance(v, BlockArgument) and v.block is self.block and len({u.operation for u in v.uses}) == 1:
                out = self.split_argument(v, ShardAttr(dim, cut, blocks))
            elif isinstance(owner, rgraph.WeightOp) and owner.shard is None:
                w = rgraph.WeightOp(owner.sym_name.data, self.local_type(v.type, Split(dim, parts=parts)), owner.value,
                                    mutable=owner.is_mutable)
                w.shard = ShardAttr(dim, cut, blocks)
                w.location = owner.location
                self.block.insert_op_after(w, owner)
                self.split_weights.add(owner.sym_name.data)
                out = w.result
            elif isinstance(owner, rgraph.PermuteOp):  # a transposed weight (x @ w.T written out)
                dims = list(owner.dims.get_values())
                src = self.shard_back(owner.input, dims[dim], blocks, parts)
                if src is not None:
                    new = rgraph.PermuteOp(src, dims, self.local_type(v.type, Split(dim, parts=parts)))
                    new.location = owner.location
                    self.block.insert_op_after(new, self.new[v].owner)
                    out = new.result
            elif isinstance(owner, rgraph.ExpandOp) and blocks == 1 and not parts and self.layout.get(owner.input) is None:
                # a part of a broadcast is a smaller broadcast: every socket's part of a repeat is the same
                src = shape_of(owner.input.type)
                k = dim - (len(shape_of(v.type)) - len(src))
                if k < 0 or src[k] == 1:
                    out = self._after(rgraph.ExpandOp(self.new[owner.input], self.local_type(v.type, Split(dim))), v, owner)
            elif isinstance(owner, rgraph.ReshapeOp) and blocks == 1 and not parts:
                # a reshape that only adds or drops unit dims around `dim` (one KV head repeated for its
                # query heads, merged into them): its input's part along the matching dim, reshaped
                src, dst = shape_of(owner.input.type), shape_of(v.type)
                group = _group_of(dst, src, dim)
                big = [i for i in group[1] if src[i] != 1] if group else []
                if len(big) == 1 and src[big[0]] == n:
                    part = self.shard_back(owner.input, big[0])
                    if part is not None:
                        out = self._after(rgraph.ReshapeOp(part, self.local_type(v.type, Split(dim))), v, owner)
            elif isinstance(owner, rgraph.CastOp):  # a weight read in another dtype: the cast of its part
                part = self.shard_back(owner.input, dim, blocks, parts)
                if part is not None:
                    out = self._after(rgraph.CastOp(part, dtype_of(v.type)), v, owner)
            elif isinstance(owner, rgraph.IndexOp) and not owner.indices[0].type.get_shape() == ():
                k = _leading_indexed(owner)
                if k is not None:
                    m = len(shape_of(owner.indices[0].type))
                    src_dim = dim - m + k
                    if src_dim >= k:
                        src = self.shard_back(owner.input, src_dim, blocks, parts)
                        if src is not None:
                            idx = [self.new[i] for i in owner.indices]
                            new = rgraph.IndexOp(src, idx, list(owner.indexed_dims.get_values()),
                                                 self.local_type(v.type, Split(dim, parts=parts)))
                            new.location = owner.location
                            self.block.insert_op_after(new, self.new[v].owner)
                            out = new.result
        self.back_cache[key] = out
        return out

    def _after(self, new: Operation, v: SSAValue, origin: Operation) -> SSAValue:
        """`new` (a part of `v`) placed right after this socket's whole `v`."""
        new.location = origin.location
        self.block.insert_op_after(new, self.new[v].owner)
        return new.results[0]

    def split_argument(self, arg: BlockArgument, shard: ShardAttr) -> SSAValue:
        """An input read by one split op only (a layer's KV cache): each socket is given its part
        (the function's argument says how: `{rdu.shard = #rdu.shard<...>}`), so none holds the whole."""
        local = self.local_type(arg.type, Split(shard.dim, shard.blocks, 0 if shard.parts == self.tp else shard.parts))
        new = self.block.insert_arg(local, arg.index + 1)
        new.name_hint = arg.name_hint
        self.arg_shards[arg] = (new, shard)
        self.new[arg] = new
        return new

    # --- the walk -------------------------------------------------------------------------------------

    def run(self) -> None:
        for arg in self.block.args:
            self.new[arg], self.layout[arg] = arg, None
        old_ops = list(self.block.ops)
        ret = old_ops[-1]
        for op in old_ops[:-1]:
            self.cursor = op
            if isinstance(op, rgraph.CollectiveOp) or (isinstance(op, rgraph.WeightOp) and op.shard is not None):
                raise ShardError(f"rdu-shard: the module is already sharded ({op.name} at {_where(op) or 'unknown'})")
            self.visit(op)
        self.cursor = ret
        new_ret = func.ReturnOp(*[self.whole(v) for v in ret.operands])
        self.insert(new_ret, ret)
        for op in reversed(old_ops):
            op.detach()
            op.erase(safe_erase=False)
        self.replace_split_arguments()
        # drop what nobody reads any more: a split weight's replicated original, a whole value
        # whose part was taken instead (a repeat of one KV head); ops without results write memory
        for op in reversed(list(self.block.ops)):
            if isinstance(op, (rgraph.GraphOp, rgraph.WeightOp)) and op.results and not any(r.uses for r in op.results):
                op.detach()
                op.erase()

    def replace_split_arguments(self) -> None:
        shards = {}
        for old, (new, shard) in self.arg_shards.items():
            self.block.erase_arg(old, safe_erase=False)
            shards[new] = shard
        attrs = [DictionaryAttr({"rdu.shard": shards[a]} if a in shards else {}) for a in self.block.args]
        if shards:
            self.fn.arg_attrs = ArrayAttr(attrs)
        self.fn.update_function_type()

    def visit(self, op: Operation) -> None:
        lays = [self.layout.get(v) for v in op.operands]
        operands = [self.new[v] for v in op.operands]
        if isinstance(op, rgraph.LinearOp):
            return self.linear(op)
        if isinstance(op, rgraph.MatmulOp):
            return self.matmul(op)
        if isinstance(op, rgraph.UpdateRowsOp):
            return self.update_rows(op)
        if all(lay is None for lay in lays):
            return self.rebuild(op, operands, [None] * len(op.results))
        if any(lay is not None and lay.rep is not None for lay in lays) and not isinstance(op, rgraph.ReshapeOp):
            raise ShardError(f"rdu-shard: {op.name} reads repeated KV heads before they merge into the query heads "
                             f"(at {_where(op) or 'unknown'}); choose a tp that divides the KV heads")
        if isinstance(op, (rgraph.UnaryOp,)):
            return self.rebuild(op, operands, [lays[0]])
        if isinstance(op, (rgraph.BinaryOp, rgraph.WhereOp)):
            return self.elementwise(op)
        if isinstance(op, rgraph.ReshapeOp):
            return self.reshape(op)
        if isinstance(op, rgraph.ExpandOp):
            return self.expand(op)
        if isinstance(op, rgraph.PermuteOp):
            dims = list(op.dims.get_values())
            return self.rebuild(op, operands, [lays[0].moved(dims.index(lays[0].dim))])
        if isinstance(op, rgraph.SliceOp):
            return self.slice(op)
        if isinstance(op, rgraph.ConcatOp):
            return self.concat(op)
        if isinstance(op, rgraph.ReduceOp):
            return self.reduce(op)
        if isinstance(op, (rgraph.AlongDimOp, rgraph.TopkOp)):
            lay = lays[0]
            rank = len(shape_of(op.operands[0].type))
            if op.dim.value.data % max(rank, 1) != lay.dim:
                return self.rebuild(op, operands, [lay] * len(op.results))
        if isinstance(op, (rgraph.IndexPutOp, rgraph.SliceScatterOp)):
            return self.merge_rows(op)
        if isinstance(op, rgraph.IndexOp):
            k = _leading_indexed(op)
            if k is not None and lays[0] is not None and all(lay is None for lay in lays[1:]) and lays[0].dim >= k:
                m = len(shape_of(op.indices[0].type))
                return self.rebuild(op, operands, [lays[0].moved(lays[0].dim - k + m)])
        return self.replicated(op)

    # --- rules ----------------------------------------------------------------------------------------

    def elementwise(self, op: Operation) -> None:
        rank = len(shape_of(op.results[0].type))
        splits = set()
        for v in op.operands:
            lay = self.layout.get(v)
            if lay is not None:
                splits.add(lay.moved(lay.dim + rank - len(shape_of(v.type))))
        if len(splits) != 1:
            return self.replicated(op)
        (out,) = splits
        operands = []
        for v in op.operands:
            shape = shape_of(v.type)
            d = out.dim - (rank - len(shape))
            if self.layout.get(v) is not None or d < 0 or shape[d] == 1:
                operands.append(self.new[v])
                continue
            part = self.shard_back(v, d, out.blocks, out.parts)
            if part is None:
                return self.replicated(op)
            operands.append(part)
        self.rebuild(op, operands, [out])

    def merge_rows(self, op: rgraph.IndexPutOp | rgraph.SliceScatterOp) -> None:
        """New rows merged into a whole buffer (a KV cache's functional update): when the rows are
        split off the written dim (by KV head), the buffer is cut to match, so each socket merges
        its heads' rows into its heads' part of the cache and the merge stays split."""
        new = op.values if isinstance(op, rgraph.IndexPutOp) else op.src
        base, lay = op.input, self.layout.get(new)
        rank = len(shape_of(base.type))
        written = ({d % rank for d in op.indexed_dims.get_values()} if isinstance(op, rgraph.IndexPutOp)
                   else {op.dim.value.data % rank})
        others = [v for v in op.operands if v is not new and v is not base]
        if (lay is None or lay.rep is not None or self.layout.get(base) is not None or len(shape_of(new.type)) != rank
                or lay.dim in written or any(self.layout.get(v) is not None for v in others) or base in self.whole_states):
            return self.replicated(op)
        part = self.shard_back(base, lay.dim, lay.blocks, lay.parts)
        if part is None:
            return self.replicated(op)
        self.rebuild(op, [part if v is base else self.new[v] for v in op.operands], [lay])

    def update_rows(self, op: rgraph.UpdateRowsOp) -> None:
        """The in-place write of a state's rows (a KV cache append). Rows split by KV head: each
        socket writes its rows into its own part of the state, which lives in its own HBM (the
        merge next to it cut the state the same way, so both read one split weight). Rows whole:
        the state stays whole, every socket writes the same rows into its copy."""
        lay = self.layout.get(op.rows)
        if lay is None or lay.rep is not None or lay.dim == op.dim.value.data % len(shape_of(op.state.type)):
            return self.replicated(op)
        # a state is cut or whole on every socket, never both: follow the merge when it came first
        merged = any(u.operation is not op for u in op.state.uses)
        if merged and self.back_cache.get((op.state, lay.dim, lay.blocks, lay.parts)) is None:
            self.whole_states.add(op.state)
            return self.replicated(op)
        part = self.shard_back(op.state, lay.dim, lay.blocks, lay.parts)
        if part is None:
            return self.replicated(op)
        self.rebuild(op, [part, self.new[op.index], self.new[op.rows]], [])

    def linear(self, op: rgraph.LinearOp) -> None:
        x, w, b = op.input, op.weight, op.bias
        lay = self.layout.get(x)
        rank = len(shape_of(x.type))
        if any(self.layout.get(v) is not None for v in (w, b) if v is not None):
            return self.replicated(op)
        if lay is not None and lay.dim == rank - 1 and not lay.parts:
            wpart = self.shard_back(w, 1, lay.blocks)
            if wpart is None:
                return self.replicated(op)
            # row-parallel: partial sums, all-reduced; the bias is added once, after
            partial = self.insert(rgraph.LinearOp(self.new[x], wpart, None, op.result.type), op).result
            total = self.all_reduce(partial, op)
            if b is not None:
                total = self.insert(rgraph.AddOp(total, self.new[b], op.result.type), op).result
            self.new[op.result], self.layout[op.result] = total, None
            return
        if lay is not None:  # split on a row (batch) dim: every socket applies the whole weight to its rows
            return self.rebuild(op, [self.new[v] for v in op.operands], [lay])
        out = shape_of(op.result.type)[-1]
        blocks = _slice_blocks(op.result, len(shape_of(op.result.type)) - 1)
        parts = _duplicated_heads(op.result, self.tp) if blocks == 1 else 0
        if parts == 1:  # one KV head (multi-query): every socket computes it whole and holds its cache whole
            return self.rebuild(op, [self.new[v] for v in op.operands], [None])
        router = _feeds_router(op.result) and out < shape_of(x.type)[-1]  # a widening projection splits (docstring)
        if router or out % ((parts or self.tp) * blocks):
            return self.rebuild(op, [self.new[v] for v in op.operands], [None])
        wpart = self.shard_back(w, 0, blocks, parts)
        bpart = self.shard_back(b, 0, blocks, parts) if b is not None else None
        if wpart is None or (b is not None and bpart is None):
            return self.rebuild(op, [self.new[v] for v in op.operands], [None])
        operands = [self.new[x], wpart] + ([bpart] if bpart is not None else [])
        self.rebuild(op, operands, [Split(rank - 1, blocks, parts)])

    def matmul(self, op: rgraph.MatmulOp) -> None:
        a, b = op.lhs, op.rhs
        la, lb = self.layout.get(a), self.layout.get(b)
        ra, rb, ro = len(shape_of(a.type)), len(shape_of(b.type)), len(shape_of(op.result.type))
        if ra < 2 or rb < 2:
            return self.replicated(op) if (la or lb) else self.rebuild(op, [self.new[a], self.new[b]], [None])
        ka, kb = ra - 1, rb - 2  # contracted dims

        def out_dim(lay: Split, rank: int, is_lhs: bool) -> int | None:
            if lay.dim == rank - (1 if is_lhs else 2):
                return None  # contracted
            if is_lhs and lay.dim == rank - 2:
                return ro - 2
            if not is_lhs and lay.dim == rank - 1:
                return ro - 1
            return lay.dim + ro - rank  # a batch dim

        # contraction split on both sides, or on one side with a weight on the other: partial sums
        if la is not None and la.dim == ka and la.blocks == 1 and not la.parts and (
                lb is None or (lb.dim == kb and lb.blocks == 1 and not lb.parts)):
            bpart = self.new[b] if lb is not None else self.shard_back(b, kb)
            if bpart is not None:
                partial = self.insert(rgraph.MatmulOp(self.new[a], bpart, op.result.type), op).result
                self.new[op.result], self.layout[op.result] = self.all_reduce(partial, op), None
                return
        if lb is not None and lb.dim == kb and lb.blocks == 1 and not lb.parts and la is None:
            apart = self.shard_back(a, ka)
            if apart is not None:
                partial = self.insert(rgraph.MatmulOp(apart, self.new[b], op.result.type), op).result
                self.new[op.result], self.layout[op.result] = self.all_reduce(partial, op), None
                return
        if la is None and lb is None:
            # column-parallel expert matmul: a weight (or an index of one) against a replicated activation
            for side, rank, is_lhs in ((a, ra, True), (b, rb, False)):
                dim = rank - 2 if is_lhs else rank - 1
                od = ro - 2 if is_lhs else ro - 1
                if not _weight_derived(side) or _weight_derived(b if is_lhs else a):
                    continue
                blocks = _slice_blocks(op.result, od)
                if _feeds_router(op.result) or shape_of(side.type)[dim] % (self.tp * blocks):
                    continue
                part = self.shard_back(side, dim, blocks)
                if part is not None:
                    operands = [part, self.new[b]] if is_lhs else [self.new[a], part]
                    return self.rebuild(op, operands, [Split(od, blocks)])
            return self.rebuild(op, [self.new[a], self.new[b]], [None])
        outs = {out_dim(lay, r, lhs) for lay, r, lhs in ((la, ra, True), (lb, rb, False)) if lay is not None}
        blocks = {(lay.blocks, lay.parts) for lay in (la, lb) if lay is not None}
        if None in outs or len(outs) != 1 or len(blocks) != 1:
            return self.replicated(op)
        od, (bl, pa) = outs.pop(), blocks.pop()
        operands = []
        for v, lay, r, lhs in ((a, la, ra, True), (b, lb, rb, False)):
            if lay is not None:
                operands.append(self.new[v])
                continue
            d = od - (ro - r)
            if od >= ro - 2 or d < 0 or shape_of(v.type)[d] == 1:  # M/N of the other side, or a broadcast batch dim
                operands.append(self.new[v])
                continue
            part = self.shard_back(v, d, bl, pa)
            if part is None:
                return self.replicated(op)
            operands.append(part)
        self.rebuild(op, operands, [Split(od, bl, pa)])

    def reshape(self, op: rgraph.ReshapeOp) -> None:
        lay = self.layout[op.input]
        src, dst = shape_of(op.input.type), shape_of(op.result.type)
        group = _group_of(src, dst, lay.dim)
        if lay.rep is not None:  # repeated KV heads merging into query heads: (kv, rep) -> heads, one part per socket
            ins, outs = group or ([], [])
            big_in = [i for i in ins if src[i] != 1]
            big_out = [o for o in outs if dst[o] != 1]
            if big_in == [lay.dim, lay.rep[0]] and len(big_out) == 1 and lay.blocks == 1:
                return self.rebuild(op, [self.new[op.input]], [Split(big_out[0])])
            raise ShardError(f"rdu-shard: reshape {'x'.join(map(str, src))} -> {'x'.join(map(str, dst))} does not merge "
                             f"repeated KV heads into query heads (at {_where(op) or 'unknown'}); choose a tp that "
                             f"divides the KV heads")
        if group is None:
            return self.replicated(op)
        ins, outs = group
        cut = self.parts(lay)
        prefix = prod(src[i] for i in ins if i < lay.dim)
        blocks = prefix * lay.blocks
        cum = 1
        for o in outs:
            if dst[o] != 1 and blocks % cum == 0 and dst[o] % (blocks // cum) == 0 and (dst[o] // (blocks // cum)) % cut == 0:
                return self.rebuild(op, [self.new[op.input]], [lay.moved(o, blocks // cum)])
            cum *= dst[o]
            if cum > blocks:
                break
        heads = next((dst[o] for o in outs if dst[o] != 1), 0)
        raise ShardError(
            f"rdu-shard: tp={cut} does not divide the {heads} heads of reshape "
            f"{'x'.join(map(str, src))} -> {'x'.join(map(str, dst))} (at {_where(op) or 'unknown'}): "
            f"choose a tp that divides the attention heads (KV heads may be fewer: each is then held by several sockets)"
        )

    def expand(self, op: rgraph.ExpandOp) -> None:
        lay = self.layout[op.input]
        src, dst = shape_of(op.input.type), shape_of(op.result.type)
        d = lay.dim + len(dst) - len(src)
        if dst[d] != src[lay.dim]:
            return self.replicated(op)
        if lay.parts:  # a duplicated KV head repeated for its query heads: the sockets sharing it split the repeat
            factor = self.tp // lay.parts
            grown = [e for e in range(len(dst)) if e > d and dst[e] != 1 and dst[e] % factor == 0
                     and (e - len(dst) + len(src) < 0 or src[e - len(dst) + len(src)] == 1)]
            if not grown:
                return self.replicated(op)
            return self.rebuild(op, [self.new[op.input]], [replace(lay, dim=d, rep=(grown[0], factor))])
        self.rebuild(op, [self.new[op.input]], [lay.moved(d)])

    def slice(self, op: rgraph.SliceOp) -> None:
        lay = self.layout[op.input]
        shape = shape_of(op.input.type)
        dim = op.dim.value.data % len(shape)
        if dim != lay.dim:
            return self.rebuild(op, [self.new[op.input]], [lay])
        start, end, step = (p.value.data for p in (op.start, op.end, op.step))
        block = shape[dim] // lay.blocks
        if step != 1 or start % block or end % block or lay.parts:
            return self.replicated(op)
        props = dict(op.properties) | {"start": int_attr(start // self.tp), "end": int_attr(end // self.tp)}
        self.rebuild(op, [self.new[op.input]], [lay.moved(dim, (end - start) // block)], properties=props)

    def concat(self, op: rgraph.ConcatOp) -> None:
        rank = len(shape_of(op.result.type))
        dim = op.dim.value.data % rank
        lays = {self.layout.get(v) for v in op.operands} - {None}
        if len(lays) != 1:
            return self.replicated(op)
        (lay,) = lays
        if lay.dim == dim or lay.rep is not None:
            return self.replicated(op)
        operands = []
        for v in op.operands:  # a whole operand (a KV cache input, a weight) is cut to match
            part = self.new[v] if self.layout.get(v) is not None else self.shard_back(v, lay.dim, lay.blocks, lay.parts)
            if part is None:
                return self.replicated(op)
            operands.append(part)
        self.rebuild(op, operands, [lay])

    def reduce(self, op: rgraph.ReduceOp) -> None:
        lay = self.layout[op.input]
        rank = len(shape_of(op.input.type))
        dims = {d % rank for d in op.dims.get_values()} or set(range(rank))
        if lay.dim in dims:
            return self.replicated(op)
        keep = op.keepdim.value.data
        d = lay.dim if keep else lay.dim - sum(1 for x in dims if x < lay.dim)
        self.rebuild(op, [self.new[op.input]], [lay.moved(d)])


def _leading_indexed(op: rgraph.IndexOp) -> int | None:
    """k when `op` indexes dims 0..k-1 with one index tensor each (x[i] or x[i, j]), else None."""
    dims = list(op.indexed_dims.get_values())
    return len(dims) if dims == list(range(len(dims))) else None


def _weight_derived(v: SSAValue) -> bool:
    owner = v.owner
    if isinstance(owner, rgraph.WeightOp):
        return True
    if isinstance(owner, rgraph.PermuteOp):
        return _weight_derived(owner.input)
    return isinstance(owner, rgraph.IndexOp) and _leading_indexed(owner) is not None and _weight_derived(owner.input)


def _through_reshapes(v: SSAValue, dim: int):
    """(user op, dim of the value it reads) for the users of `v`, looking through reshapes that keep `dim`."""
    for use in v.uses:
        user = use.operation
        if isinstance(user, rgraph.ReshapeOp):
            src, dst = shape_of(user.input.type), shape_of(user.result.type)
            same = [o for o in range(len(dst)) if dst[o] == src[dim] and prod(dst[:o]) == prod(src[:dim])]
            if same:
                yield from _through_reshapes(user.result, same[0])
                continue
        yield user, dim


def _feeds_router(v: SSAValue) -> bool:
    """Whether `v`'s last dim is normalised or ranked (a router's logits), which a split would break."""
    dim = len(shape_of(v.type)) - 1
    for user, d in _through_reshapes(v, dim):
        if isinstance(user, ROUTER_OPS):
            rank = len(shape_of(user.operands[0].type))
            if user.dim is None or user.dim.value.data % rank == d:
                return True
    return False


def _duplicated_heads(v: SSAValue, tp: int) -> int:
    """When `v`'s columns are read as h heads (a reshape splitting its last dim into h x head_dim)
    and h is a proper divisor of tp (8 KV heads over 16 sockets): h, each head held by tp // h
    sockets; 1 for a single KV head (multi-query), which every socket holds whole. 0 otherwise
    (one part per socket)."""
    dim = len(shape_of(v.type)) - 1
    for user, d in _through_reshapes(v, dim):
        if isinstance(user, rgraph.ReshapeOp):
            src, dst = shape_of(user.input.type), shape_of(user.result.type)
            group = _group_of(src, dst, d)
            heads = next((dst[o] for o in group[1] if dst[o] != 1), 0) if group else 0
            if heads and heads < tp and tp % heads == 0 and _repeated_later(user.result):
                return heads
    for use in v.uses:  # a reshape adding only unit dims ((1, 1, d) -> (1, 1, 1, d)): one head (multi-query)
        user = use.operation
        if isinstance(user, rgraph.ReshapeOp) and _repeated_later(user.result):
            src, dst = shape_of(user.input.type), shape_of(user.result.type)
            if len(dst) > len(src) and [n for n in src if n != 1] == [n for n in dst if n != 1]:
                return 1
    return 0


def _repeated_later(v: SSAValue, budget: int = 64) -> bool:
    """Whether `v` reaches an expand (GQA's repeat of KV heads for their query heads) before any
    matmul: only KV heads may be fewer than the sockets, each then held by several."""
    seen, todo = set(), [v]
    while todo and budget > 0:
        value = todo.pop()
        for use in value.uses:
            user = use.operation
            if user in seen:
                continue
            seen.add(user)
            budget -= 1
            if isinstance(user, rgraph.ExpandOp):
                return True
            if isinstance(user, (rgraph.MatmulOp, rgraph.LinearOp)) or not isinstance(user, rgraph.GraphOp):
                continue
            todo.extend(user.results)
    return False


def _slice_blocks(v: SSAValue, dim: int) -> int:
    """How many equal blocks the readers of `v` slice `dim` into (3 for a fused QKV), else 1."""
    n = shape_of(v.type)[dim]
    pieces = set()
    for user, d in _through_reshapes(v, dim):
        if not (isinstance(user, rgraph.SliceOp) and user.dim.value.data % len(shape_of(user.input.type)) == d
                and user.step.value.data == 1):
            return 1
        pieces.add((user.start.value.data, user.end.value.data))
    sizes = {e - s for s, e in pieces}
    if len(sizes) != 1:
        return 1
    size = sizes.pop()
    if size <= 0 or n % size or any(s % size for s, _ in pieces):
        return 1
    return n // size


def _group_of(src: tuple[int, ...], dst: tuple[int, ...], dim: int) -> tuple[list[int], list[int]] | None:
    """The dims of `src` and `dst` a reshape maps onto each other as one block holding `src[dim]`."""
    i = j = 0
    while i < len(src) or j < len(dst):
        ins, outs = [], []
        pi = pj = 1
        # take at least one non-trivial dim on each side, then grow the smaller product
        while True:
            if pi == pj and (ins or outs) and (pi != 1 or (i >= len(src) or src[i] != 1) and (j >= len(dst) or dst[j] != 1)):
                if ins and outs:
                    break
            if pi <= pj and i < len(src):
                pi *= src[i]
                ins.append(i)
                i += 1
            elif j < len(dst):
                pj *= dst[j]
                outs.append(j)
                j += 1
            elif i < len(src):
                pi *= src[i]
                ins.append(i)
                i += 1
            else:
                break
        if dim in ins:
            return (ins, outs) if pi == pj else None
    return None


@dataclass(frozen=True)
class ShardPass(ModulePass):
    """split the model Megatron-style over `tp` sockets, one SPMD program (docs/node.md).
    `node` (optional) names the node, whose socket count bounds `tp`."""

    name = "rdu-shard"

    tp: int = 1
    node: str = ""

    def apply(self, ctx: Context, module: ModuleOp) -> None:
        if self.tp < 1:
            raise ShardError(f"rdu-shard: tp must be at least 1, got {self.tp}")
        if self.node:
            from chip_model.node import NodeSpecError, load_node

            try:
                spec = load_node(self.node)
            except NodeSpecError as exc:
                raise ShardError(f"rdu-shard: {exc}") from None
            if self.tp > spec.sockets:
                raise ShardError(f"rdu-shard: tp={self.tp} needs {self.tp} sockets, but node {spec.name} has {spec.sockets}")
            module.attributes[NODE_ATTR] = StringAttr(self.node)
        fn = next((op for op in module.ops if isinstance(op, func.FuncOp)), None)
        if fn is None:
            raise ShardError("rdu-shard runs on rgraph IR, before rdu-lower: the module has no func.func")
        if self.tp == 1:
            return
        if tp_of(module) != 1:
            raise ShardError(f"rdu-shard: the module is already sharded (tp={tp_of(module)})")
        sharder = Sharder(fn, self.tp)
        sharder.run()
        weights = [op.sym_name.data for op in fn.body.block.ops if isinstance(op, rgraph.WeightOp)]
        module.attributes[TP_ATTR] = IntegerAttr(self.tp, i64)
        module.attributes[SPLIT_ATTR] = ArrayAttr([StringAttr(w) for w in sorted(sharder.split_weights)])
        module.attributes[REPLICATED_ATTR] = ArrayAttr(
            [StringAttr(w) for w in sorted(set(weights) - sharder.split_weights)])
