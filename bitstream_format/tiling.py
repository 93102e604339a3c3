"""How a stage's work is cut into tiles: the arithmetic shared by `rdu-tile` (which records the
result in the IR) and hand-built test bitstreams.

The tile's *bytes* are the compiler's earlier choice (rdu-allocate-units, per stream); this module
derives shapes and loops from them, never below one vector (`lanes` elements):

* `rows`: the value flattened to rows x last dim (for a reduction over trailing dims, rows x the
  reduced elements). A tile is a block of whole rows when a row fits the tile; otherwise one row
  cut into chunks of a multiple of `lanes` columns, and a reduction over the row runs across the
  chunks (running sum/max/argmax, online softmax then a normalising pass).
* `matmul`: output-stationary tiles of mt x nt outputs, K innermost in chunks of kt; the smaller
  operand is the one the PCU holds across a row of tiles (`reuse`), the other streams from its
  PMU buffer once per tile row. When neither operand fits the PMU buffer it arrives in, one of
  them is re-streamed from HBM (`reread_plan`: `restream`, `passes`). Order `b,m,n,k` walks M
  tiles outside N tiles; `b,n,m,k` (head-outer) walks N outside M with the B operand held down
  each column of tiles; `m,b,n,k` (query-block outer, attention's two matmuls) walks M tiles
  outside the batch, every head of a block of query rows before the next block.
* `rows` of layout ops that move whole rows: a slice or concat along the last axis (each output
  row is made from the same input rows), and a `permute` that keeps the last axis when its input
  rows *arrive* in the output's row order (`permute_loop`): order `rows@A` names that arrival
  order `A` (the input's leading dims, outermost first), the PMU writes the k-th arriving row at
  the address of the output row it becomes. Rows arrive in row-major order unless the producer is
  a matmul tiled head-outer (order `b,n,m,k`, `nt` = the head dim: all rows of head h, then head
  h+1), which rdu-tile chooses for the heads transpose (passes/row_order.py). A *blocked*
  arrival `rows@d/B,A` (`blocked`) comes from a matmul of order `m,b,n,k`: dim d in blocks of B
  outermost, so the permute (attention's output transpose) fills windows of consecutive output
  rows, one window per tile, and sends each whole.
* *windows* of layout ops whose output needs a bounded block of their input (`window_loop`, 3.5):
  a `permute` swapping the last two axes (`transpose`: attention's Kᵀ, one `[S, D]` matrix per
  window, written at transposed addresses) and an `expand` of size-1 dims ahead of a block
  (`repeat`: GQA's KV heads, one KV head per window, re-read once per query head of its group).
  The PMU holds two windows (one filling, one draining); its address patterns
  (`window_patterns`) do the layout: nothing is copied but by the addresses it is read at.
* `whole`: ops that cannot stream (other layout changes, gathers, sorts, scatters, reductions over
  leading dims...): one tile, the whole value, spread over the stage's PMUs.
* `stream`: loads, stores and buffers move the value in tiles of the stream's bytes.

It also holds the one cost of a tile loop (`loop_cycles`: `matmul_cycles`, `rows_cycles`), the
cycles a stage's units spend on its loop. The event simulator charges it
(functional_sim/tile_timing.py) and `rdu-allocate-units` chooses tile sizes by it
(`passes.allocate_units.program_tile`), so the compiler minimises the cost the simulator
charges, not a near-copy of it. `chip` is a `chip_model.ChipSpec` (read by attribute: this
package does not import the chip model).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import ceil, isqrt, prod
from typing import Any

from bitstream_format.opcodes import OPCODES

Spec = tuple[str, tuple[int, ...]]  # (dtype, shape)

ELEMENTWISE_FAMILIES = ("unary", "binary", "ternary")
ROW_REDUCTIONS = ("sum", "mean", "amax", "amin", "prod", "argmax")
ROW_SCANS = ("softmax", "log_softmax", "cumsum")
NOT_ROW_WISE = ("batch_norm",)  # per-channel operands on dim 1: not a trailing broadcast


@dataclass(frozen=True)
class TileLoop:
    kind: str
    grid: tuple[int, ...]
    tile: tuple[int, ...]
    order: str
    reduce: str = "none"
    reuse: str = ""
    restream: str = ""  # a matmul: the operand re-streamed from HBM once per block of the other ("a", "b")
    passes: int = 1  # a matmul: blocks of its stationary operand; a load: walks of its address pattern

    @property
    def trip_count(self) -> int:
        return prod(self.grid)


def _broadcasts_to(shape: tuple[int, ...], out: tuple[int, ...]) -> bool:
    if len(shape) > len(out):
        return False
    return all(s in (1, o) for s, o in zip(reversed(shape), reversed(out)))


def reduced_dims(opcode: str, attrs: dict[str, Any], rank: int) -> list[int] | None:
    """The input dims a row reduction or scan runs over (sorted, non-negative), or None."""
    if opcode in ("softmax", "log_softmax", "cumsum"):
        dim = attrs.get("dim")
        return None if dim is None or rank == 0 else [int(dim) % rank]
    if opcode == "argmax":
        dim = attrs.get("dim")
        return list(range(rank)) if dim is None else ([int(dim) % rank] if rank else [])
    dims = attrs.get("dims", [])
    dims = [dims] if isinstance(dims, int) else list(dims or [])
    return sorted({int(d) % rank for d in dims}) if dims and rank else list(range(rank))


def row_split(shape: tuple[int, ...], reduced: list[int] | None = None) -> tuple[int, int] | None:
    """(rows, columns) of a value flattened so that the reduced dims (default: the last) are the
    columns; None when they are not the trailing dims."""
    rank = len(shape)
    if reduced is None:
        reduced = [rank - 1] if rank else []
    if reduced != list(range(rank - len(reduced), rank)):
        return None
    lead = rank - len(reduced)
    return prod(shape[:lead]), prod(shape[lead:])


def rows_loop(rows: int, cols: int, itemsize: int, tile_bytes: int, lanes: int, reduce: str = "none") -> TileLoop:
    """Whole rows per tile when a row fits the tile bytes, else one row in lane-multiple chunks."""
    vector = lanes * itemsize
    tb = max(tile_bytes, vector)
    row_bytes = max(1, cols * itemsize)
    if row_bytes <= tb:
        r = min(rows, max(1, tb // row_bytes))
        return TileLoop("rows", (ceil(rows / r), 1), (r, cols), "rows", "none")
    chunk = min(cols, max(lanes, (tb // itemsize) // lanes * lanes))
    chunks = ceil(cols / chunk)
    return TileLoop("rows", (rows, chunks), (1, chunk), "rows", reduce if chunks > 1 else "none")


MATMUL_ORDERS = ("b,m,n,k", "b,n,m,k", "m,b,n,k")  # and `o{O},m,b,n,k` (`query_block_outer`)
QUERY_BLOCK_ORDER = "m,b,n,k"  # M tiles outside the batch: a block of query rows for every head, then the next


def query_block_order(outer: int) -> str:
    """The order of a matmul run query-block outer whose batch is `outer` entries (attention's
    batch) of heads: `m,b,n,k` at 1, else `o{outer},m,b,n,k` (the outer entries outermost, each run
    query-block outer over its heads)."""
    return QUERY_BLOCK_ORDER if outer <= 1 else f"o{outer},{QUERY_BLOCK_ORDER}"


def query_block_outer(order: str) -> int:
    """The outer batch entries of a query-block order (`query_block_order`), 0 for other orders."""
    if order == QUERY_BLOCK_ORDER:
        return 1
    head, _, rest = order.partition(",")
    return int(head[1:]) if rest == QUERY_BLOCK_ORDER and head[:1] == "o" and head[1:].isdigit() and int(head[1:]) > 1 \
        else 0


def matmul_loop(batch: int, m: int, n: int, k: int, itemsize: int, tile_bytes: int, lanes: int,
                sram_bytes: int, a_bytes: int, b_bytes: int, head_dim: int = 0, query_rows: int = 0,
                query_outer: int = 1) -> TileLoop:
    """Output-stationary mt x nt tiles of about `tile_bytes`, K in chunks whose A and B slabs fill
    at most half a PMU (the other half takes the next chunk). With `head_dim` (a divisor of n, at
    least one vector) the loop is head-outer: nt = head_dim and N tiles outside M tiles (order
    `b,n,m,k`), so the output leaves one head's rows at a time, each row whole, and B's slab is
    the one held (its column of tiles reuses it). With `query_rows` (attention run query-block
    outer, passes/row_order.py) the loop is `m,b,n,k`: M tiles of `query_rows` rows (-1: as the
    tile bytes give) outside the batch, so a block of rows leaves for every batch entry (head)
    before the next block; A's slab is held across its N tiles (`reuse` "a") and a batched B,
    needed by every block, stays resident in its PMU buffer and is read from there once per block
    (`matmul_operand_reads`; the event graph holds it whole, `tile_timing.held_operands`). With
    `query_outer` O > 1 (attention at batch O, the batch entries outermost) the order is
    `o{O},m,b,n,k`: every block of batch entry 0's heads, then batch entry 1's."""
    elements = max(lanes, tile_bytes // itemsize)
    if query_rows:
        nt = min(n, max(lanes, isqrt(elements) // lanes * lanes))
        mt = min(m, query_rows) if query_rows > 0 else min(m, max(1, elements // nt))
        kt = min(k, max(lanes, ((sram_bytes // 2) // max(1, (mt + nt) * itemsize)) // lanes * lanes))
        order = query_block_order(query_outer if query_outer > 1 and batch % query_outer == 0 else 1)
        return TileLoop("matmul", (batch, ceil(m / mt), ceil(n / nt), ceil(k / kt)), (mt, nt, kt), order,
                        "k-accumulate", "a")
    if head_dim:
        nt = head_dim
        mt = min(m, max(1, elements // nt))
    else:
        nt = min(n, max(lanes, isqrt(elements) // lanes * lanes))
        mt = min(m, max(1, elements // nt))
    kt = min(k, max(lanes, ((sram_bytes // 2) // max(1, (mt + nt) * itemsize)) // lanes * lanes))
    grid = (batch, ceil(m / mt), ceil(n / nt), ceil(k / kt))
    if head_dim:
        return TileLoop("matmul", grid, (mt, nt, kt), "b,n,m,k", "k-accumulate", "b")
    return TileLoop("matmul", grid, (mt, nt, kt), "b,m,n,k", "k-accumulate", "a" if a_bytes <= b_bytes else "b")


def keeps_last_axis(dims: list[int], rank: int) -> bool:
    """A permute whose last output axis is its input's last: it moves whole rows."""
    return rank >= 1 and len(dims) == rank and int(dims[-1]) % rank == rank - 1


Arrival = tuple  # input leading dims, outermost first; a blocked arrival holds one (dim, block): see `blocked`


def _block_at(arrival) -> int:
    return next((i for i, x in enumerate(arrival or ()) if isinstance(x, tuple)), -1)


def blocked(arrival) -> tuple[int, int] | None:
    """(dim, rows per block) of a blocked arrival, else None. A blocked arrival `(*O, (d, B), *A)`
    sends, for each index of its *outer* dims `O` (outermost first; usually none), dim `d` in
    blocks of `B` and, within a block, rows in order `A` (the other leading dims, `d` standing for
    the position within the block): attention run query-block outer at batch 1 sends
    `((S, B), batch, H, S)`, a block of B positions for every head, then the next block
    (`arrival_text`: `rows@S/B,0,1,S`); at batch N > 1 the batch is an outer loop, `(0, (S, B),
    1, S)` (`rows@0,S/B,1,S`), every block of batch entry 0 before batch entry 1."""
    i = _block_at(arrival)
    return tuple(arrival[i]) if i >= 0 else None


def outer_dims(arrival) -> tuple[int, ...]:
    """The outer dims of a blocked arrival (before its block), else ()."""
    i = _block_at(arrival)
    return tuple(int(x) for x in arrival[:i]) if i > 0 else ()


def _inner_dims(arrival) -> tuple[int, ...]:
    i = _block_at(arrival)
    return tuple(int(x) for x in arrival[i + 1:]) if i >= 0 else tuple(arrival)


def arrival_text(arrival) -> str:
    head = blocked(arrival)
    if head is None:
        return ",".join(str(d) for d in arrival)
    return ",".join([str(d) for d in outer_dims(arrival)] + [f"{head[0]}/{head[1]}"] + [str(d) for d in _inner_dims(arrival)])


def streams_in_blocks(dims: list[int], arrival, in_shape: tuple[int, ...]) -> bool:
    """Do the rows of a blocked arrival fill the output one window after another? They do when the
    output's dims that order anything start with the outer dims, then the blocked dim: a block of
    B positions of one outer index is then B x (the other inner dims) consecutive output rows, a
    window the PMU fills in any order before it sends it."""
    head = blocked(arrival)
    if head is None:
        return False
    rank = len(in_shape)
    d, block = head
    lead = [int(x) % rank for x in dims[:-1]]
    outer, rest = list(outer_dims(arrival)), list(_inner_dims(arrival))
    if block < 1 or sorted(outer + rest) != list(range(rank - 1)) or not 0 <= d < rank - 1 or d not in rest:
        return False
    ordering = [x for x in lead if in_shape[x] != 1]
    outer = [x for x in outer if in_shape[x] != 1]
    return len(ordering) > len(outer) and ordering[:len(outer)] == outer and ordering[len(outer)] == d


def window_rows(in_shape: tuple[int, ...], arrival) -> int:
    """Output rows of one window of a blocked arrival: the block times the other inner dims."""
    d, block = blocked(arrival)
    outer = outer_dims(arrival)
    return min(block, in_shape[d]) * prod(in_shape[x] for x in range(len(in_shape) - 1) if x != d and x not in outer)


def streams_in_order(dims: list[int], arrival: tuple[int, ...], in_shape: tuple[int, ...]) -> bool:
    """Do input rows arriving in `arrival` order (input leading dims, outermost first) come in the
    output's row order? Dims of size 1 do not order anything."""
    lead = [int(d) % len(in_shape) for d in dims[:-1]]
    return [d for d in lead if in_shape[d] != 1] == [d for d in arrival if in_shape[d] != 1]


def permute_loop(in_shape: tuple[int, ...], dims: list[int], itemsize: int, tile_bytes: int, lanes: int,
                 arrival: tuple[int, ...] | None = None) -> TileLoop:
    """A permute that keeps the last axis streams rows when its input rows arrive in the output's
    row order (`arrival`, default row-major); order `rows@A` records the arrival order the PMU's
    write addresses assume. Otherwise its first output row may need the input's last: whole."""
    rank = len(in_shape)
    arrival = tuple(range(rank - 1)) if arrival is None else tuple(arrival)
    out_shape = tuple(in_shape[int(d) % rank] for d in dims)
    if not keeps_last_axis(dims, rank) or rank < 2:
        return whole_loop(out_shape)
    rows, cols = row_split(out_shape)
    if blocked(arrival):  # a window of rows per block: the PMU fills it in arrival order, sends it in output order
        if not streams_in_blocks(dims, arrival, in_shape):
            return whole_loop(out_shape)
        r = window_rows(in_shape, arrival)
        return TileLoop("rows", (ceil(rows / r), 1), (r, cols), "rows@" + arrival_text(arrival))
    if not streams_in_order(dims, arrival, in_shape):
        return whole_loop(out_shape)
    loop = rows_loop(rows, cols, itemsize, tile_bytes, lanes)
    return TileLoop("rows", loop.grid, loop.tile, "rows@" + arrival_text(arrival))


WINDOW_ORDERS = ("transpose", "repeat")  # a PMU layout stage that holds one window of its input at a time


def swaps_last_two(dims: list[int], rank: int) -> bool:
    """A permute that swaps the last two axes and keeps the others in place (`k.transpose(-2, -1)`)."""
    return rank >= 2 and [int(d) % rank for d in dims] == [*range(rank - 2), rank - 1, rank - 2]


def repeat_split(in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> tuple[int, int] | None:
    """(windows, repeats) of an expand that streams by windows, else None: the input (right-aligned
    to the output) has size-1 dims broadcast to the output, none of them the last, and every dim of
    size above 1 ahead of the innermost broadcast dim lies ahead of the outermost one. The output is
    then, in row-major order, each input block below the broadcast dims (a *window*, e.g. one KV
    head's `[S, D]`) `repeats` times before the next: GQA's `k[:, :, None].expand(b, kv, g, s, d)`."""
    rank = len(out_shape)
    if len(in_shape) > rank or rank < 2:
        return None
    padded = (1,) * (rank - len(in_shape)) + tuple(in_shape)
    if any(i not in (1, o) for i, o in zip(padded, out_shape)):
        return None
    spread = [d for d in range(rank) if padded[d] == 1 and out_shape[d] > 1]
    if not spread or spread[-1] >= rank - 1:
        return None
    lo, hi = spread[0], spread[-1]
    if any(padded[d] > 1 for d in range(lo, hi + 1)):
        return None
    return prod(padded[:lo]), prod(out_shape[d] for d in spread)


def window_loop(opcode: str, attrs: dict[str, Any], in_shape: tuple[int, ...],
                out_shape: tuple[int, ...]) -> TileLoop | None:
    """The window loop of a `transpose` or `repeat` layout stage (grid `[windows, 1]`, tile the
    output rows one window emits x the output's last dim), or None when the stage is neither.
    Rows arrive row-major (a permute fed by a head-outer or query-block matmul is a heads or
    output transpose, never this one: passes/row_order.py)."""
    rank = len(in_shape)
    if opcode == "permute" and rank >= 3 and swaps_last_two(list(attrs.get("dims") or []), rank):
        s, d = in_shape[-2:]
        return TileLoop("rows", (prod(in_shape[:-2]), 1), (d, s), "transpose")
    if opcode == "expand":
        split = repeat_split(in_shape, out_shape)
        if split is None:
            return None
        windows, _ = split
        rows = prod(out_shape[:-1]) // max(1, windows)
        return TileLoop("rows", (windows, 1), (rows, out_shape[-1]), "repeat")
    return None


def window_patterns(order: str, in_shape: tuple[int, ...], out_shape: tuple[int, ...],
                    itemsize: int) -> tuple[tuple[int, int, int, int, int], ...]:
    """The four SRAM address patterns (offset, stride, count, tile, extent) of a window stage:
    write outer, write inner, read outer, read inner, in bytes of the window's address space.
    Element e of what arrives for a window is written at `outer.offset + (e div inner.count) *
    outer.stride + inner.offset + (e mod inner.count) * inner.stride` (read likewise for element
    e of what the window emits). `transpose`: the k-th arriving row of D goes down column k of the
    `[D, S]` window (inner stride S elements), which is then read row after row; `repeat`: the
    window is written in order and read `repeats` times from its start (outer stride 0): the PMU's
    address decoders do the layout (the paper's PMU data alignment), no element is copied."""
    size = itemsize
    if order == "transpose":
        s, d = in_shape[-2:]
        extent = s * d * size
        return ((0, size, s, size, extent), (0, s * size, d, size, extent),
                (0, s * size, d, size, extent), (0, size, s, size, extent))
    windows, repeats = repeat_split(in_shape, out_shape)
    elements = prod(in_shape) // max(1, windows)
    row = out_shape[-1]
    extent = elements * size
    return ((0, row * size, elements // row, size, extent), (0, size, row, size, extent),
            (0, 0, repeats, size, extent), (0, size, elements, size, extent))


def parse_arrival(order: str, rank: int) -> tuple | None:
    """The arrival order of a permute's `rows@A` loop order, or None when it is not one (a
    permutation of the input's `rank - 1` leading dims, optionally led by `d/B`: dim d in blocks
    of B rows, outermost, `blocked`)."""
    if not order.startswith("rows@"):
        return None
    parts = order[5:].split(",") if rank > 1 else []
    at = next((i for i, x in enumerate(parts) if "/" in x), -1)
    try:
        head = tuple(int(x) for x in parts[at].split("/")) if at >= 0 else None
        outer = tuple(int(x) for x in parts[:max(0, at)])
        arrival = tuple(int(x) for x in parts[at + 1:])
    except ValueError:
        return None
    if head is not None and (len(head) != 2 or not (0 <= head[0] < rank - 1 and head[1] >= 1) or head[0] not in arrival):
        return None
    if sorted(outer + arrival) != list(range(rank - 1)):
        return None
    return (*outer, head, *arrival) if head else arrival


def reread_plan(rows: int, cols: int, k: int, itemsize: int, held_a: int, held_b: int, a_from_hbm: bool,
                b_from_hbm: bool, mt: int = 1, nt: int = 1) -> tuple[str, int]:
    """(re-streamed operand, passes) of a matmul `rows x K @ K x cols` whose operands arrive
    through PMU buffers holding `held_a` and `held_b` bytes (0: no buffer) and whose output tiles
    are `mt x nt`: ("", 1) when no operand is re-read.

    Why: the output-stationary loop reads the streamed operand once per row of output tiles from
    its PMU buffer, which is free only while the buffer holds the whole operand. When it does not
    (a prefill layer's 90 MB `gate` weight behind a 7 MB ring), a real compiler blocks the loop
    over one operand, the *stationary* one, in blocks its buffer holds, and re-streams the other
    from HBM once per block. Either order works: hold row blocks of A (`held_a // (K·size)` rows,
    at least the loop's `mt`, which the PCU holds anyway) and re-read B once per block, or hold
    column blocks of B (at least `nt`) and re-read A once per block; the plan takes the one that
    adds the fewest HBM bytes, `(passes - 1) x the re-read operand` (then fewer passes, then
    re-reading B). Only an operand loaded from HBM (`*_from_hbm`: an AGCU load feeding this matmul
    alone through its buffer) can be re-read; an operand made on chip cannot, so a matmul of two
    on-chip operands keeps the resident assumption (docs/streaming.md, section 4). A one-row
    decode matmul never re-reads: its single row is its block."""
    row_bytes = max(1, k * itemsize)
    a_bytes, b_bytes = rows * row_bytes, cols * row_bytes
    if held_a >= a_bytes or held_b >= b_bytes:
        return "", 1
    options = []
    if b_from_hbm:  # A stationary in row blocks, B re-read per block
        passes = ceil(rows / max(1, mt, held_a // row_bytes))
        options.append(((passes - 1) * b_bytes, passes, 0, "b"))
    if a_from_hbm:  # B stationary in column blocks, A re-read per block
        passes = ceil(cols / max(1, nt, held_b // row_bytes))
        options.append(((passes - 1) * a_bytes, passes, 1, "a"))
    if not options:
        return "", 1
    _, passes, _, operand = min(options)
    return (operand, passes) if passes > 1 else ("", 1)


def reread_blocks(restream: str, passes: int, rows: int, cols: int) -> list[tuple[int, int]]:
    """The [start, stop) ranges of the stationary operand's blocks, one per pass: rows of A when B
    is re-streamed, columns of B (output columns) when A is; `passes` blocks as equal as whole
    rows or columns allow (the simulator runs the matmul block by block, block p with pass p of
    the re-read operand)."""
    extent = rows if restream == "b" else cols
    n = max(1, passes)
    return [(p * extent // n, (p + 1) * extent // n) for p in range(n)]


def matmul_dims(opcode: str, a: tuple[int, ...], b: tuple[int, ...]) -> tuple[int, int, int] | None:
    """(rows, cols, K) of a matmul seen as `rows x K @ K x cols` with B one matrix (a weight,
    broadcast over A's leading dims): None when B is batched (per-batch operands, no re-read plan)."""
    if opcode == "linear" and len(a) >= 1 and len(b) == 2:
        return prod(a[:-1]), b[0], a[-1]
    if opcode == "matmul" and len(a) >= 2 and len(b) >= 2 and prod(b[:-2]) == 1:
        return prod(a[:-1]), b[-1], a[-1]
    return None


def whole_loop(shape: tuple[int, ...]) -> TileLoop:
    """One tile, the output's shape (an empty dim counts as 1: a tile is never empty)."""
    return TileLoop("whole", (1,), tuple(max(1, d) for d in shape) or (1,), "whole")


def stream_loop(nbytes: int, tile_bytes: int) -> TileLoop:
    tile = tile_bytes if 0 < tile_bytes < nbytes else max(1, nbytes)
    return TileLoop("stream", (max(1, ceil(nbytes / tile)),), (tile,), "tiles")


def _itemsize(dtype: str) -> int:
    from bitstream_format.model import itemsize

    return itemsize(dtype)


def row_layout(opcode: str, attrs: dict[str, Any], inputs: list[Spec], outputs: list[Spec]) -> bool:
    """A slice or concat along the last axis: output row i is made from input rows i alone."""
    if opcode not in ("slice", "concat") or len(outputs) != 1 or not inputs:
        return False
    rank = len(outputs[0][1])
    if rank < 1 or any(len(s) != rank for _, s in inputs):
        return False
    if opcode == "slice" and int(attrs.get("step", 1) or 1) < 1:
        return False
    return int(attrs.get("dim", 0)) % rank == rank - 1


def compute_loop(opcode: str, attrs: dict[str, Any], inputs: list[Spec], outputs: list[Spec], in_tile_bytes: int,
                 out_tile_bytes: int, lanes: int, sram_bytes: int, arrival: tuple | None = None,
                 head_dim: int = 0, query_rows: int = 0, query_outer: int = 1) -> TileLoop:
    """The tile loop of a compute stage (see the module docstring for the kinds). `arrival`: the
    order a permute's input rows arrive in (default row-major); `head_dim`: tile a matmul
    head-outer; `query_rows`: tile a batched matmul query-block outer (`m,b,n,k`, -1: the block
    its tile bytes give), with `query_outer` > 1 outer batch entries (`o{O},m,b,n,k`) (all chosen by
    rdu-tile, passes/row_order.py)."""
    op = OPCODES[opcode]
    out_dtype, out_shape = outputs[0] if outputs else ("f32", ())
    if not outputs or any(prod(s) == 0 for _, s in [*inputs, *outputs]):
        return whole_loop(out_shape)
    window = window_loop(opcode, attrs, inputs[0][1], out_shape) if len(inputs) == 1 and arrival is None else None
    if window is not None:  # a transpose of the last two axes, an expand: a window at a time (3.5)
        return window
    if opcode == "permute" and len(inputs) == 1:
        in_dtype, in_shape = inputs[0]
        dims = attrs.get("dims", [])
        tile = out_tile_bytes or prod(out_shape) * _itemsize(out_dtype)
        return permute_loop(in_shape, list(dims or []), _itemsize(in_dtype), tile, lanes, arrival)
    if row_layout(opcode, attrs, inputs, outputs):
        rows, cols = row_split(out_shape)
        tile = out_tile_bytes or prod(out_shape) * _itemsize(out_dtype)
        return rows_loop(rows, cols, _itemsize(out_dtype), tile, lanes)
    if opcode == "reshape" and len(inputs) == 1:  # row-major bytes unchanged: tiles pass through
        nbytes = prod(out_shape) * _itemsize(out_dtype)
        return stream_loop(nbytes, out_tile_bytes or nbytes)
    if (op.family in ELEMENTWISE_FAMILIES and opcode not in NOT_ROW_WISE and len(outputs) == 1 and inputs
            and all(_broadcasts_to(s, out_shape) for _, s in inputs)):
        rows, cols = row_split(out_shape)
        tile = out_tile_bytes or prod(out_shape) * _itemsize(out_dtype)
        return rows_loop(rows, cols, _itemsize(out_dtype), tile, lanes)
    if opcode in ROW_REDUCTIONS + ROW_SCANS and len(inputs) == 1:
        in_dtype, in_shape = inputs[0]
        dims = reduced_dims(opcode, attrs, len(in_shape))
        split = row_split(in_shape, dims) if dims is not None else None
        if split is not None:
            mode = "two-pass" if opcode in ("softmax", "log_softmax") else "running"
            tile = in_tile_bytes or prod(in_shape) * _itemsize(in_dtype)
            return rows_loop(*split, _itemsize(in_dtype), tile, lanes, mode)
    if opcode in ("matmul", "linear") and len(inputs) >= 2:
        (a_dtype, a), (_, b) = inputs[0], inputs[1]
        if opcode == "matmul" and len(a) >= 2 and len(b) >= 2:
            m, k, n = a[-2], a[-1], b[-1]
        elif opcode == "linear" and len(a) >= 1 and len(b) == 2:
            # all leading dims are M; head-outer, the dims before the last are a batch (rows of
            # one batch entry and head, then the next head), as for a matmul
            m, k, n = (a[-2] if head_dim and len(a) >= 3 else prod(a[:-1])), a[-1], b[0]
        else:
            return whole_loop(out_shape)
        batch = prod(out_shape) // max(1, m * n)
        tile = out_tile_bytes or prod(out_shape) * _itemsize(out_dtype)
        size = _itemsize(a_dtype)
        head = head_dim if head_dim and n % head_dim == 0 and head_dim >= lanes else 0
        return matmul_loop(batch, m, n, k, size, tile, lanes, sram_bytes, prod(a) * size, prod(b) * size, head,
                           query_rows if opcode == "matmul" and not head else 0, query_outer)
    return whole_loop(out_shape)


def matmul_cycles(loop, units: int, itemsize: int, chip) -> float:
    """Cycles of an output-stationary matmul tile loop (`TileLoop` or `TileProgram` of kind
    matmul) spread over `units` PCUs.

    The PCU's lanes x stages multiply-accumulators take a tile's `nt` columns on the lanes and its
    `mt x kt` (row, k) pairs down the stages (a dot product pipelined across the stages, so a
    one-row decode tile still fills them): a K chunk costs `ceil(nt/lanes) * ceil(mt*kt/stages)`
    cycles, or longer when its operands arrive slower. Operands come from PMU SRAM at the PMU's
    bytes per cycle, and the dataflow sets how many bytes: the streamed operand's `kt x (nt or
    mt)` slab every chunk; the reused operand (`reuse` "a" or "b") once per reuse window, the row
    of output tiles that shares it; with no reuse (`reuse` "") both slabs every chunk. A tile pays
    the PCU's fill/drain latency once (its K loop accumulates in place) and tiles run in whole
    rounds over the stage's PCUs, `ceil(tiles / units)`: a tile count just above a multiple of the
    PCUs leaves most of them idle in the last round, which is why the tile size matters here."""
    batch, m_tiles, n_tiles, k_tiles = (tuple(loop.grid) + (1, 1, 1, 1))[:4]
    mt, nt, kt = (tuple(loop.tile) + (1, 1, 1))[:3]
    pcu = chip.pcu
    macs = ceil(nt / pcu.lanes) * ceil(mt * kt / pcu.stages)  # one kt chunk
    per_chunk = operand_bytes_per_chunk(loop, itemsize)
    per_tile = k_tiles * max(macs, per_chunk / chip.pmu.bytes_per_cycle) + pcu.latency_cycles
    return ceil(batch * m_tiles * n_tiles / max(1, units)) * per_tile


def operand_bytes_per_chunk(loop, itemsize: int) -> float:
    """PMU bytes one K chunk of a matmul tile reads, averaged over the reuse window (see
    `matmul_cycles`)."""
    _, m_tiles, n_tiles, _ = (tuple(loop.grid) + (1, 1, 1, 1))[:4]
    mt, nt, kt = (tuple(loop.tile) + (1, 1, 1))[:3]
    if loop.reuse == "a":  # A's mt x kt slab held across the row of n tiles; B's streamed
        return (nt * kt + mt * kt / max(1, n_tiles)) * itemsize
    if loop.reuse == "b":
        return (mt * kt + nt * kt / max(1, m_tiles)) * itemsize
    return (mt + nt) * kt * itemsize


def matmul_operand_reads(loop, itemsize: int) -> tuple[int, int]:
    """(A, B) bytes the loop reads from its operand buffers in all: the held operand once, the
    streamed one once per output tile row (column) that needs it, both per tile without reuse."""
    batch, m_tiles, n_tiles, k_tiles = (tuple(loop.grid) + (1, 1, 1, 1))[:4]
    mt, nt, kt = (tuple(loop.tile) + (1, 1, 1))[:3]
    a_once = batch * m_tiles * mt * k_tiles * kt * itemsize  # (padded to whole tiles)
    b_once = batch * n_tiles * nt * k_tiles * kt * itemsize
    if loop.reuse == "a":
        return a_once, b_once * m_tiles
    if loop.reuse == "b":
        return a_once * n_tiles, b_once
    return a_once * n_tiles, b_once * m_tiles


def rows_cycles(loop, opcode_name: str, units: int, chip) -> float:
    """Cycles of a rows tile loop spread over `units` units: `ceil(r*c/lanes)` vectors per tile
    times the op's passes through the stage pipeline (one more for a two-pass reduction, which
    reads the row's chunks again to normalise), transcendentals at their own rate, in whole rounds
    of tiles over the units."""
    op, pcu = OPCODES[opcode_name], chip.pcu
    r, c = (tuple(loop.tile) + (1, 1))[:2]
    passes = max(1, ceil(op.flops_per_element / pcu.stages))
    if loop.reduce == "two-pass":
        passes += 1
    per_tile = ceil(r * c / pcu.lanes) * passes
    if op.transcendental and pcu.transcendentals_per_cycle:
        per_tile = max(per_tile, ceil(r * c / pcu.transcendentals_per_cycle))
    return ceil(prod(loop.grid) / max(1, units)) * per_tile


def tile_overhead_cycles(tiles: int, units: int, overhead: float) -> float:
    """What a stage's per-tile overhead (loop counter, credit check, DMA descriptor) costs it: each
    of its units runs its own share of the tiles (a buffer rings its tiles round-robin over its
    PMUs, a compute stage's tiles spread over its units, a load's over its AGCUs) and pays the
    overhead for those alone, in parallel with the others: `ceil(tiles / units) x overhead`. The
    event graph charges it (functional_sim/event_graph.py) and `rdu-allocate-units` prices tiles
    by it (its balanced tile is the optimum of this overhead against one tile's fill per path)."""
    return ceil(tiles / max(1, units)) * overhead


def loop_cycles(loop, opcode_name: str, units: int, itemsize: int, chip) -> float | None:
    """The cycles a compute stage's tile loop costs its `units` units, or None when the loop has
    no cost of its own (`stream`, `whole`, and generators: the per-stream rate applies)."""
    family = OPCODES[opcode_name].family
    if loop.kind == "matmul":
        return matmul_cycles(loop, units, itemsize, chip)
    if loop.kind == "rows" and family not in ("matmul", "generate"):
        return rows_cycles(loop, opcode_name, units, chip)
    return None


def default_tile_programs(bs, lanes: int, sram_bytes: int) -> list:
    """The tile programs rdu-tile would record, derived from a bitstream's stages and streams (for
    bitstreams built by hand, e.g. in tests; the compiler records its own in the IR)."""
    from bitstream_format.model import Pattern, TileProgram, nbytes_of

    programs = []
    streams = {st.id: st for st in bs.streams}  # (not bs.stream: its index is cached, and tests edit streams)
    tensors = {t.id: t for t in bs.tensors}
    for s in bs.stages:
        streams_in = [streams[i] for i in s.inputs]
        streams_out = [streams[i] for i in s.outputs]
        if s.opcode in ("load", "store"):
            t = tensors[s.tensor]
            nbytes = nbytes_of(t.dtype, t.shape)
            tile = (streams_out[0] if s.opcode == "load" else streams_in[0]).tile_bytes
            loop = stream_loop(nbytes, tile)
            pattern = Pattern(t.tier, t.offset, loop.tile[0], loop.grid[0], loop.tile[0], max(1, nbytes))
            programs.append(TileProgram(s.id, loop.kind, loop.grid, loop.tile, loop.order, patterns=(pattern,)))
        elif s.opcode == "buffer":
            st = streams_in[0]
            loop = stream_loop(st.nbytes, (streams_out[0] if streams_out else st).tile_bytes)
            tile, tiles = loop.tile[0], loop.grid[0]
            depth = min(streams_out[0].fifo_depth if streams_out else 1, tiles)
            slots = max(1, ceil(max(1, depth) / max(1, len(s.sites))))
            held = max(s.buffer_bytes, slots * tile)
            ring = Pattern("sram", 0, tile, slots, tile, slots * tile)
            programs.append(TileProgram(s.id, loop.kind, loop.grid, loop.tile, loop.order, sram_bytes=held,
                                        sram_slots=slots, sram_tile=tile, patterns=(ring, ring)))
        else:
            ins = [(st.dtype, tuple(st.shape)) for st in streams_in]
            outs = [(st.dtype, tuple(st.shape)) for st in streams_out]
            loop = compute_loop(s.opcode, s.attrs, ins, outs, streams_in[0].tile_bytes if streams_in else 0,
                                streams_out[0].tile_bytes if streams_out else 0, lanes, sram_bytes)
            extra = {}
            if s.unit == "pmu":
                spread = max(1, ceil(sum(st.nbytes for st in streams_in) / max(1, len(s.sites))))
                extra = dict(sram_bytes=max(s.buffer_bytes, spread), sram_slots=1, sram_tile=spread)
            programs.append(TileProgram(s.id, loop.kind, loop.grid, loop.tile, loop.order, loop.reduce, loop.reuse,
                                        **extra))
    return programs
