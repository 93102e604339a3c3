"""The product path: every stage runs the tile program its bitstream gives (format 3.0, TILE).

* A load walks its AGCU address pattern through HBM/DDR, a store writes by its pattern: a wrong
  offset, stride or count reads or writes other bytes, or fewer than the tensor holds (an error).
  A load re-streamed to a matmul (format 3.3 `passes`) walks it once per pass, and the buffer
  behind it rings every pass (`repeated`: the passes a stream carried, by stream id).
* A buffer writes each tile into the SRAM of one of its PMUs (tile j on PMU j mod units) at the
  slot its write pattern gives, a ring of `count` slots refilled wave after wave, and reads it back
  by its read pattern: the bytes really go through per-PMU memory (functional_sim/sram.py).
* A PMU compute stage spreads its whole input over its PMUs' SRAM ranges and reads it back.
* Layout stages that move whole rows run a rows loop: a slice or concat of the last axis row by
  row, and a heads transpose (a permute that keeps the last axis) as its PMU does it: rows are
  taken in the order the producer's tile loop sends them (a matmul tiled head-outer, `b,n,m,k`,
  through reshapes and buffers; any other producer sends row-major) and each is
  written at the output row its loop order `rows@A` says the k-th arriving row becomes. A
  producer order that disagrees with `A` puts rows in the wrong places (wrong outputs). A blocked
  order `rows@d/B,A` (attention's output transpose, fed by softmax·V tiled `m,b,n,k`) fills a
  window of output rows per block; a window that is not the loop's tile, or a row landing outside
  it, stops the run naming the stage (`windowed`). With outer dims (`rows@0,d/B,A`, attention at
  batch > 1 fed by `o{N},m,b,n,k` matmuls) the windows of batch entry 0 come first.
* Window stages (format 3.5: a transpose of the last two axes, `transpose`; an expand, `repeat`)
  fill one window of their input at a time into real per-PMU SRAM at the addresses their write
  patterns give and read it back by their read patterns, which is the layout: Kᵀ written down
  columns and read by rows, a KV head read once per query head (`windowed_layout`).
* Compute stages run their loop of tiles. Tiles of one loop are independent except along a
  reduction, so numpy runs whole batches of tiles at once (the speed of the simulator) and loops
  only where the hardware carries state from tile to tile: a matmul's K chunks accumulate, a
  reduction over chunks of a row keeps a running sum/max/argmax, a matmul re-streaming an operand
  runs block by block of the stationary one, each with its own pass of the re-streamed operand
  (`reread_blocks`), softmax makes an online pass
  (running max and rescaled sum) then a normalising pass. A loop that covers less than its
  value leaves the rest zero (wrong outputs, which tests see); one that runs past it is an error.

The whole-tensor interpreter (functional_sim.simulator.Machine) stays as a test oracle.
"""

from __future__ import annotations

from math import ceil, prod
from typing import Any

import numpy as np

from bitstream_format import Bitstream, Pattern, StageConfig, TileProgram, nbytes_of
from bitstream_format.tiling import (MATMUL_ORDERS, WINDOW_ORDERS, blocked, outer_dims, query_block_outer, keeps_last_axis, parse_arrival, reduced_dims, reread_blocks,
                                    row_split, streams_in_blocks, window_rows)
from chip_model import ChipSpec

from functional_sim.checks import stage_name
from functional_sim.dtypes import from_bytes, to_bytes
from functional_sim.errors import SimulationError, SimulatorBug
from functional_sim.kernels import KERNELS, AttributeMissing
from functional_sim.memory import describe
from functional_sim.sram import SramBank

OutSpec = tuple[str, tuple[int, ...]]


def _wide(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64) if np.issubdtype(x.dtype, np.floating) else x


def _floating64(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float64)


def accesses(p: Pattern, count: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(start address, length) of each access of a linear pattern, clipped to its extent."""
    j = np.arange(p.count if count is None else count, dtype=np.int64)
    starts = p.offset + j * p.stride
    lengths = np.minimum(p.tile, p.offset + p.extent - starts)
    return starts, lengths


class TileExecutor:
    """Runs one stage's tile program; `machine` gives off-chip memory and the bitstream."""

    def __init__(self, bs: Bitstream, chip: ChipSpec, memory) -> None:
        self.bs = bs
        self.memory = memory
        self.sram = SramBank(chip.pmu.sram_bytes)
        self.repeated: dict[int, list[np.ndarray]] = {}  # stream id -> every pass it carried (passes > 1)

    def program(self, s: StageConfig) -> TileProgram:
        prog = self.bs.tile_program(s.id)
        if prog is None:
            raise SimulationError(f"{stage_name(s)} has no tile program (section TILE)")
        return prog

    # ------------------------------------------------------------------ AGCU: off-chip patterns

    def load(self, s: StageConfig) -> list[bytes]:
        """The bytes of each walk of the load's pattern, one per pass (`passes`, format 3.3)."""
        t, prog = self.bs.tensor(s.tensor), self.program(s)
        if nbytes_of(t.dtype, t.shape) == 0:  # an empty tensor: nothing to move
            return [b""] * max(1, prog.passes)
        return [self.walk(s) for _ in range(max(1, prog.passes))]

    def walk(self, s: StageConfig) -> bytes:
        t, prog = self.bs.tensor(s.tensor), self.program(s)
        (p,) = prog.patterns
        size = nbytes_of(t.dtype, t.shape)
        starts, lengths = accesses(p)
        moved = int(lengths[lengths > 0].sum())
        if np.any(lengths <= 0) or moved != size:
            raise SimulationError(f"{stage_name(s)}: its address pattern reads {moved} bytes of {describe(t)} in "
                                  f"{p.count} tiles, but the tensor holds {size}")
        space = self.memory.space(t)
        what = f"{stage_name(s)} reading {describe(t)}"
        if p.stride == p.tile:  # contiguous tiles: one read of the span they cover
            return space.read(p.offset, moved, what)
        lo, hi = int(starts.min()), int((starts + lengths).max())
        span = np.frombuffer(space.read(lo, hi - lo, what), np.uint8)
        return b"".join(span[a - lo: a - lo + n].tobytes() for a, n in zip(starts.tolist(), lengths.tolist()))

    def store(self, s: StageConfig, data: bytes) -> None:
        t, prog = self.bs.tensor(s.tensor), self.program(s)
        (p,) = prog.patterns
        if not data and nbytes_of(t.dtype, t.shape) == 0:  # an empty tensor: nothing to move
            return
        starts, lengths = accesses(p)
        moved = int(lengths[lengths > 0].sum())
        if np.any(lengths <= 0) or moved != len(data):
            raise SimulationError(f"{stage_name(s)}: its address pattern writes {moved} bytes of {describe(t)} in "
                                  f"{p.count} tiles, but the value holds {len(data)}")
        space = self.memory.space(t)
        what = f"{stage_name(s)} writing {describe(t)}"
        if p.stride == p.tile:
            space.write(p.offset, data, what)
            return
        pos = 0
        for a, n in zip(starts.tolist(), lengths.tolist()):
            space.write(a, data[pos: pos + n], what)
            pos += n

    # ------------------------------------------------------------------ PMU: SRAM

    def ring(self, s: StageConfig, data: bytes) -> bytes:
        """A buffer's round trip through its PMUs' SRAM, wave after wave of its ring."""
        prog = self.program(s)
        write, read = prog.patterns
        tile, tiles = prog.tile[0], prog.grid[0]
        n = len(data)
        if tiles * tile < n or (tiles - 1) * tile >= max(n, 1):
            raise SimulationError(f"{stage_name(s)}: its tile loop moves {tiles} tiles of {tile} bytes, but the "
                                  f"stream holds {n} bytes")
        padded = np.zeros(tiles * tile, np.uint8)
        padded[:n] = np.frombuffer(data, np.uint8)
        out = np.empty_like(padded)
        units = len(s.sites)
        pads = [self.sram.pad(site) for site in s.sites]
        lane = np.arange(tile, dtype=np.int64)
        wave = units * write.count
        what = stage_name(s)
        for first in range(0, tiles, wave):
            js = np.arange(first, min(first + wave, tiles), dtype=np.int64)
            for unit, pad in enumerate(pads):
                mine = js[js % units == unit]
                if not len(mine):
                    continue
                k = mine // units
                at_w = write.offset + (k % write.count) * write.stride
                at_r = read.offset + (k % read.count) * read.stride
                mem = pad.reserve(int(max(at_w.max(), at_r.max())) + tile, what)
                src = (mine * tile)[:, None] + lane
                mem[at_w[:, None] + lane] = padded[src]
                out[src] = mem[at_r[:, None] + lane]
        return out[:n].tobytes()

    def spread(self, s: StageConfig, args: list[np.ndarray]) -> list[np.ndarray]:
        """A PMU compute stage's whole input, back to back over its PMUs' SRAM ranges (in waves of
        units x range when it is larger than they hold), read back."""
        prog = self.program(s)
        dts = [(self.bs.stream(i).dtype, tuple(self.bs.stream(i).shape)) for i in s.inputs]
        blobs = [np.frombuffer(to_bytes(a, dt), np.uint8) for a, (dt, _) in zip(args, dts)]
        flat = np.concatenate(blobs) if blobs else np.zeros(0, np.uint8)
        chunk = prog.sram_tile
        if chunk < 1 or chunk > prog.sram_bytes:
            raise SimulationError(f"{stage_name(s)}: its {chunk}-byte share of the input does not fit its "
                                  f"{prog.sram_bytes}-byte SRAM range")
        back = np.empty_like(flat)
        base = prog.sram_base
        pads = [self.sram.pad(site) for site in s.sites]
        for start in range(0, len(flat), chunk):
            pad = pads[(start // chunk) % len(pads)]
            part = flat[start: start + chunk]
            mem = pad.reserve(base + len(part), stage_name(s))
            mem[base: base + len(part)] = part
            back[start: start + len(part)] = mem[base: base + len(part)]
        values, pos = [], 0
        for blob, (dt, shape) in zip(blobs, dts):
            values.append(from_bytes(back[pos: pos + len(blob)].tobytes(), dt, shape))
            pos += len(blob)
        return values

    # ------------------------------------------------------------------ PCU: loops of tiles

    def compute(self, s: StageConfig, args: list[np.ndarray], outs: list[OutSpec]) -> list[np.ndarray]:
        prog = self.program(s)
        if prog.kind == "stream":  # bytes pass through unchanged (reshape), tile after tile
            tiles, tile = prog.grid[0], prog.tile[0]
            n = nbytes_of(*outs[0])
            if tiles * tile < n or (tiles - 1) * tile >= max(n, 1):
                raise SimulationError(f"{stage_name(s)}: its tile loop moves {tiles} tiles of {tile} bytes, but the "
                                      f"stream holds {n} bytes")
            return list(KERNELS[s.opcode](args, s.attrs, outs))
        if s.unit == "pmu" and prog.kind == "whole":
            args = self.spread(s, args)
        if prog.kind == "rows" and prog.order in WINDOW_ORDERS:
            return [self.windowed_layout(s, prog, args[0], outs[0])]
        if prog.kind == "rows" and s.opcode == "permute":
            return [self.permute_rows(s, prog, args[0], outs[0])]
        if prog.kind == "rows" and s.opcode in ("slice", "concat"):
            return [self.row_layout(s, prog, args, outs[0])]
        if prog.kind == "rows":
            if s.opcode in ("sum", "mean", "amax", "amin", "prod", "argmax", "softmax", "log_softmax", "cumsum"):
                return [self.row_reduction(s, prog, args[0], outs[0])]
            return self.rows(s, prog, args, outs)
        if prog.kind == "matmul":
            return [self.matmul(s, prog, args, outs[0])]
        if prog.kind != "whole" or prog.trip_count != 1:
            raise SimulationError(f"{stage_name(s)}: a {prog.kind} tile loop of {prog.trip_count} tiles cannot run "
                                  f"opcode {s.opcode}")
        return list(KERNELS[s.opcode](args, s.attrs, outs))

    def _covered(self, s: StageConfig, prog: TileProgram, rows: int, cols: int) -> tuple[int, int]:
        r, c = prog.tile
        g_rows, g_cols = prog.grid
        need = (ceil(rows / r), ceil(cols / c))
        if g_rows > need[0] or g_cols > need[1]:
            raise SimulationError(f"{stage_name(s)}: its tile loop runs {g_rows}x{g_cols} tiles of {r}x{c}, past the "
                                  f"end of its {rows}x{cols} value ({need[0]}x{need[1]} tiles)")
        return min(rows, g_rows * r), min(cols, g_cols * c)

    def rows(self, s: StageConfig, prog: TileProgram, args: list[np.ndarray], outs: list[OutSpec]) -> list[np.ndarray]:
        dtype, shape = outs[0]
        rows, cols = row_split(shape)
        cr, cc = self._covered(s, prog, rows, cols)
        if (cr, cc) == (rows, cols):  # every tile runs: one numpy call over the batch of tiles
            return list(KERNELS[s.opcode](args, s.attrs, outs))
        views = [np.broadcast_to(a, shape).reshape(rows, cols)[:cr, :cc] for a in args]
        part = np.asarray(KERNELS[s.opcode](views, s.attrs, [(dtype, (cr, cc))])[0])
        full = np.zeros((rows, cols), part.dtype)
        full[:cr, :cc] = part
        return [full.reshape(shape)]

    def row_layout(self, s: StageConfig, prog: TileProgram, args: list[np.ndarray], out: OutSpec) -> np.ndarray:
        """A slice or concat of the last axis over the rows its loop covers (the rest stays zero)."""
        full = np.asarray(KERNELS[s.opcode](args, s.attrs, [out])[0])
        rows, cols = row_split(out[1])
        cr, cc = self._covered(s, prog, rows, cols)
        if (cr, cc) == (rows, cols):
            return full
        part = np.zeros((rows, cols), full.dtype)
        part[:cr, :cc] = full.reshape(rows, cols)[:cr, :cc]
        return part.reshape(out[1])

    def permute_rows(self, s: StageConfig, prog: TileProgram, x: np.ndarray, out: OutSpec) -> np.ndarray:
        """A heads transpose as the PMU runs it: the k-th row to arrive is written at the output row
        that the loop's arrival order `rows@A` says it is (see the module docstring)."""
        rank = x.ndim
        dims = [int(d) % max(1, rank) for d in (s.attrs.get("dims") or [])]
        arrival = parse_arrival(prog.order, rank)
        if not keeps_last_axis(dims, rank) or rank < 2:
            raise SimulationError(f"{stage_name(s)}: a rows tile loop cannot run permute {dims}, which moves the last axis")
        if arrival is None:
            raise SimulationError(f"{stage_name(s)}: its tile loop order {prog.order!r} is not 'rows@' and a "
                                  f"permutation of its input's {rank - 1} leading dims")
        lead, width = x.shape[:-1], x.shape[-1]
        out_lead = tuple(lead[d] for d in dims[:-1])
        rows = prod(lead)
        cr, cc = self._covered(s, prog, rows, width)
        sent = self.arrival_sequence(s.inputs[0], rows, width)  # input rows, in the order they come
        inverse = [dims.index(k) for k in range(rank - 1)]
        out_row_of_in = np.arange(rows).reshape(out_lead).transpose(inverse).ravel()
        if blocked(arrival):  # the order the write addresses assume
            assumed = self.windowed(s, prog, dims, arrival, lead, out_row_of_in)
        else:
            assumed = np.arange(rows).reshape(lead).transpose(arrival).ravel()
        result = np.zeros((rows, width), x.dtype)
        result[out_row_of_in[assumed]] = x.reshape(rows, width)[sent]
        result[cr:] = 0  # rows past the loop's tiles are never written
        result[:, cc:] = 0
        return result.reshape(out[1])

    def windowed_layout(self, s: StageConfig, prog: TileProgram, x: np.ndarray, out: OutSpec) -> np.ndarray:
        """A transpose of the last two axes or an expand as its PMUs run it (format 3.5, orders
        `transpose` and `repeat`, passes/layout_windows.py): the input's elements, in the order its
        rows arrive, fill one window after another; each is written into the per-PMU SRAM at the
        addresses its write patterns give (slot `w mod sram_slots`, window byte a on PMU
        `a div sram_tile`) and read back at those its read patterns give, which is the layout. A
        pattern that moves fewer or more elements than a window holds or emits, or a window that
        is not the loop's tile, stops the run naming the stage; a wrong stride scrambles the
        outputs."""
        name, dtype = stage_name(s), self.bs.stream(s.inputs[0]).dtype
        windows = prog.grid[0]
        total_in, total_out = x.size, prod(out[1])
        if windows < 1 or prog.grid[1:] != (1,) or total_in % windows or total_out % windows:
            raise SimulationError(f"{name}: its tile loop runs {list(prog.grid)} windows, which do not split its "
                                  f"{total_in}-element input and {total_out}-element output evenly")
        per_in, per_out = total_in // windows, total_out // windows
        if prod(prog.tile) != per_out or (out[1] and prog.tile[-1] != out[1][-1]):
            raise SimulationError(f"{name}: its tile loop emits tiles of {list(prog.tile)} per window, but a window of "
                                  f"its {list(out[1])} output is {per_out} elements of rows of {out[1][-1] if out[1] else 1}")
        size = len(to_bytes(np.zeros(1, x.dtype), dtype))
        write = self.window_walk(name, "write", prog.patterns[0], prog.patterns[1], per_in, size)
        read = self.window_walk(name, "read", prog.patterns[2], prog.patterns[3], per_out, size)
        width = x.shape[-1] if x.ndim else 1
        sent = self.arrival_sequence(s.inputs[0], total_in // max(1, width), width)
        arriving = np.frombuffer(to_bytes(x.reshape(-1, width)[sent], dtype), np.uint8).reshape(windows, per_in * size)
        share, slots, base = prog.sram_tile, max(1, prog.sram_slots), prog.sram_base
        pads = [self.sram.pad(site) for site in s.sites]
        lane = np.arange(size, dtype=np.int64)
        w_at, r_at = (write[:, None] + lane).ravel(), (read[:, None] + lane).ravel()
        if max(int(w_at.max()), int(r_at.max())) >= share * len(pads):
            raise SimulationError(f"{name}: its patterns address byte {max(int(w_at.max()), int(r_at.max()))} of a "
                                  f"window spread over {len(pads)} PMU(s) of {share} bytes")
        emitted = np.empty((windows, per_out * size), np.uint8)
        for w in range(windows):
            slot = base + (w % slots) * share
            for unit, pad in enumerate(pads):
                mine_w, mine_r = w_at // share == unit, r_at // share == unit
                if not (mine_w.any() or mine_r.any()):
                    continue
                mem = pad.reserve(slot + share, name)
                mem[slot + w_at[mine_w] % share] = arriving[w][mine_w]
                emitted[w][mine_r] = mem[slot + r_at[mine_r] % share]
        return from_bytes(emitted.tobytes(), dtype, out[1])

    @staticmethod
    def window_walk(name: str, what: str, outer: Pattern, inner: Pattern, elements: int, size: int) -> np.ndarray:
        """The byte address of each element of a window's write or read, from its outer and inner
        patterns: element e at `outer.offset + (e div inner.count) * outer.stride + inner.offset +
        (e mod inner.count) * inner.stride`."""
        if outer.count * inner.count != elements or inner.tile != size:
            raise SimulationError(f"{name}: its {what} patterns walk {outer.count} x {inner.count} accesses of "
                                  f"{inner.tile} bytes, but a window {what}s {elements} elements of {size} bytes")
        o = outer.offset + np.arange(outer.count, dtype=np.int64) * outer.stride
        i = inner.offset + np.arange(inner.count, dtype=np.int64) * inner.stride
        return (o[:, None] + i[None, :]).ravel()

    def windowed(self, s: StageConfig, prog: TileProgram, dims: list[int], arrival: tuple, lead: tuple[int, ...],
                 out_row_of_in: np.ndarray) -> np.ndarray:
        """The input rows in the order a blocked arrival `rows@d/B,A` assumes (block of dim d
        outermost, then order A, d counting within the block), after checking that its windows are
        what the PMU holds: `B x (the other dims)` consecutive output rows each, one tile of the
        loop, every arriving row landing in the window being filled."""
        d, block = blocked(arrival)
        shape = (*lead, 1)
        if not streams_in_blocks(dims, arrival, shape):
            raise SimulationError(f"{stage_name(s)}: its tile loop order {prog.order!r} does not fill its output window "
                                  f"by window (dim {d} is not the output's outermost)")
        window = window_rows(shape, arrival)
        if prog.tile[0] != window:
            raise SimulationError(f"{stage_name(s)}: its tile loop holds {prog.tile[0]} rows per window, but order "
                                  f"{prog.order!r} fills windows of {window} rows")
        coords = np.indices(lead).reshape(len(lead), -1)
        keys = ([coords[o] for o in outer_dims(arrival)] + [coords[d] // block]
                + [coords[k] % block if k == d else coords[k] for k in arrival[len(outer_dims(arrival)) + 1:]])
        assumed = np.lexsort(tuple(reversed(keys)))
        landing = out_row_of_in[assumed] // window
        if np.any(landing != np.arange(len(assumed)) // window):
            raise SimulationError(f"{stage_name(s)}: order {prog.order!r} sends rows outside the window its PMU is filling")
        return assumed

    def arrival_sequence(self, stream: int, rows: int, width: int) -> np.ndarray:
        """The row indices of a stream (rows of `width` elements, row-major) in the order its tiles
        are sent: back through reshapes and buffers (bytes in order) to the stage that makes them;
        a matmul tiled head-outer (`b,n,m,k`) sends its output tiles in that order, a row complete
        with its last tile; every other stream is row-major."""
        st = self.bs.stream(stream)
        src = self.bs.stage(st.src)
        while src.opcode in ("reshape", "buffer") and len(src.inputs) == 1:
            src = self.bs.stage(self.bs.stream(src.inputs[0]).src)
        prog = self.bs.tile_program(src.id)
        outer = query_block_outer(prog.order) if prog is not None else 0
        if (prog is None or prog.kind != "matmul" or not (prog.order == "b,n,m,k" or outer)
                or src.opcode not in ("matmul", "linear") or len(src.outputs) != 1):
            return np.arange(rows)  # a stream's tiles are its value's bytes in row-major order (docs/bitstream.md)
        shape = tuple(self.bs.stream(src.outputs[0]).shape)
        n = shape[-1] if shape else 1
        batch, gm, gn, _ = prog.grid
        m = prod(shape[:-1]) // max(1, batch)
        if prod(shape) != rows * width or batch * m * n != prod(shape):
            return np.arange(rows)
        mt, nt, _ = prog.tile
        b = np.arange(batch)[:, None, None]
        mi = (np.arange(m) // mt)[None, :, None]
        ni = (np.arange(n) // nt)[None, None, :]
        if prog.order == "b,n,m,k":
            key = (b * gn + ni) * gm + mi  # the tile's turn
        else:  # query-block outer: batch entries (o{O}) outermost, then blocks, then the heads of an entry
            inner = batch // max(1, outer)
            key = (((b // inner) * gm + mi) * inner + b % inner) * gn + ni
        row_key = np.broadcast_to(key, (b.shape[0], m, n)).reshape(rows, width).max(axis=1)
        return np.argsort(row_key, kind="stable")

    def row_reduction(self, s: StageConfig, prog: TileProgram, x: np.ndarray, out: OutSpec) -> np.ndarray:
        """A reduction or scan over trailing dims, chunk by chunk of each row (running state)."""
        dims = reduced_dims(s.opcode, s.attrs, x.ndim)
        rows, cols = row_split(x.shape, dims)
        cr, cc = self._covered(s, prog, rows, cols)
        chunk = prog.tile[1]
        mat = x.reshape(rows, cols)[:cr]
        pieces = [mat[:, j: min(j + chunk, cc)] for j in range(0, cc, chunk)]
        op = s.opcode
        if op in ("softmax", "log_softmax", "cumsum"):
            full = np.zeros((rows, cols), np.float64 if op != "cumsum" else _wide(mat[:0]).dtype)
            full[:cr, :cc] = self._scan(op, pieces, cr)
            return full.reshape(out[1])
        result = self._reduce(op, pieces, cols)
        full = np.zeros(rows, result.dtype)
        full[:cr] = result
        return full.reshape(out[1])

    @staticmethod
    def _reduce(op: str, pieces: list[np.ndarray], cols: int) -> np.ndarray:
        acc = None
        best = None
        for j, piece in enumerate(pieces):
            start = sum(p.shape[1] for p in pieces[:j])
            if op in ("sum", "mean"):
                part = np.sum(_wide(piece), axis=1)
                acc = part if acc is None else acc + part
            elif op == "prod":
                part = np.prod(_wide(piece), axis=1)
                acc = part if acc is None else acc * part
            elif op in ("amax", "amin"):
                part = (np.max if op == "amax" else np.min)(piece, axis=1)
                acc = part if acc is None else (np.maximum if op == "amax" else np.minimum)(acc, part)
            else:  # argmax: the first of the largest, a NaN beating any number (torch)
                idx = np.argmax(piece, axis=1)
                val = piece[np.arange(len(piece)), idx]
                if acc is None:
                    acc, best = idx + start, val
                else:
                    better = (val > best) | (np.isnan(val) & ~np.isnan(best)) if np.issubdtype(val.dtype, np.floating) \
                        else val > best
                    acc, best = np.where(better, idx + start, acc), np.where(better, val, best)
        if op == "mean":
            acc = acc / cols
        return acc

    @staticmethod
    def _scan(op: str, pieces: list[np.ndarray], rows: int) -> np.ndarray:
        if op == "cumsum":
            carry, parts = None, []
            for piece in pieces:
                part = np.cumsum(_wide(piece), axis=1)
                if carry is not None:
                    part = part + carry[:, None]
                carry = part[:, -1] if part.shape[1] else carry
                parts.append(part)
            return np.concatenate(parts, axis=1)
        # pass 1: running max and the sum of exponentials rescaled to it (online softmax)
        m = np.full(rows, -np.inf)
        total = np.zeros(rows)
        for piece in pieces:
            x = _floating64(piece)
            new = np.maximum(m, np.max(x, axis=1))
            with np.errstate(all="ignore"):
                scale = np.where(m == new, 1.0, np.exp(m - new))
                safe = np.where(np.isneginf(new), 0.0, new)
                total = total * scale + np.sum(np.exp(x - safe[:, None]), axis=1)
            m = new
        # pass 2: normalise each chunk
        safe = np.where(np.isneginf(m), 0.0, m)[:, None]
        parts = []
        for piece in pieces:
            x = _floating64(piece)
            parts.append(x - safe - np.log(total)[:, None] if op == "log_softmax" else np.exp(x - safe) / total[:, None])
        return np.concatenate(parts, axis=1)

    def matmul(self, s: StageConfig, prog: TileProgram, args: list[np.ndarray], out: OutSpec) -> np.ndarray:
        """Output-stationary mt x nt tiles, K innermost: each output tile accumulates its K chunks.
        With an operand re-streamed from HBM (`restream`), block by block of the stationary one,
        block p with the p-th pass of the re-streamed operand."""
        def operand(x: np.ndarray) -> np.ndarray:
            return x.astype(np.float32) if x.dtype == np.float16 else x

        def operands(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            if s.opcode == "linear":  # its leading dims are M, or a batch of M rows each when tiled head-outer
                x, w = operand(x), operand(w)
                rows = x.reshape(prog.grid[0], -1, x.shape[-1]) if prog.grid[0] > 1 else x.reshape(-1, x.shape[-1])
                return rows, w.T
            return operand(x), operand(w)

        a, b = operands(args[0], args[1])
        m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
        mt, nt, kt = prog.tile
        batch, gm, gn, gk = prog.grid
        if prog.order not in MATMUL_ORDERS and not (query_block_outer(prog.order) and batch % query_block_outer(prog.order) == 0):
            raise SimulationError(f"{stage_name(s)}: its tile loop order {prog.order!r} is none a matmul runs "
                                  f"({', '.join(MATMUL_ORDERS)})")
        need = (prod(out[1]) // max(1, m * n), ceil(m / mt), ceil(n / nt), ceil(k / kt))
        if batch != need[0] or gm > need[1] or gn > need[2] or gk > need[3]:
            raise SimulationError(f"{stage_name(s)}: its tile loop runs {batch}x{gm}x{gn}x{gk} tiles of {mt}x{nt}x{kt}, "
                                  f"but an {m}x{n} output with K={k} takes {need[0]}x{need[1]}x{need[2]}x{need[3]}")
        cm, cn, ck = min(m, gm * mt), min(n, gn * nt), min(k, gk * kt)

        def k_loop(x: np.ndarray, w: np.ndarray) -> np.ndarray:
            acc = None
            for start in range(0, ck, kt):
                part = np.matmul(x[..., start: start + kt], w[..., start: start + kt, :])
                acc = part if acc is None else acc + part
            if acc is None:
                acc = np.zeros((*np.broadcast_shapes(x.shape[:-2], w.shape[:-2]), x.shape[-2], w.shape[-1]),
                               np.result_type(x, w))
            return acc

        if prog.restream:
            acc = self.blocked(s, prog, args, a, b, k_loop, operands)[..., :cm, :cn]
        else:
            acc = k_loop(a[..., :cm, :], b[..., :cn])
        if s.opcode == "linear" and len(args) > 2:
            acc = acc + operand(args[2])[:cn]
        full = np.zeros((*acc.shape[:-2], m, n), acc.dtype)
        full[..., :cm, :cn] = acc
        return full.reshape(out[1])

    def blocked(self, s: StageConfig, prog: TileProgram, args: list[np.ndarray], a: np.ndarray, b: np.ndarray, k_loop,
                operands) -> np.ndarray:
        """The whole product, block by block of the stationary operand (A's rows, flattened over its
        leading dims, when B is re-streamed; B's columns when A is), each block with its own pass."""
        port = "ab".index(prog.restream)
        walks = self.repeated.get(s.inputs[port], [])
        if len(walks) != prog.passes:
            raise SimulationError(f"{stage_name(s)}: its loop runs {prog.passes} blocks re-streaming operand "
                                  f"{prog.restream!r} from HBM, but that operand arrived in {max(1, len(walks))} pass(es)")
        k, n = a.shape[-1], b.shape[-1]
        flat_a, flat_b = a.reshape(-1, k), b.reshape(k, n)
        rows = flat_a.shape[0]
        result = np.zeros((rows, n), np.result_type(flat_a, flat_b))
        for p, (lo, hi) in enumerate(reread_blocks(prog.restream, prog.passes, rows, n)):
            pa, pb = operands(walks[p], args[1]) if port == 0 else operands(args[0], walks[p])
            pa, pb = pa.reshape(-1, k), pb.reshape(k, n)
            if port == 1:  # A's rows [lo, hi) stay; B's p-th pass streams past them
                result[lo:hi] = k_loop(flat_a[lo:hi], pb)
            else:  # B's columns [lo, hi) stay; A's p-th pass streams past them
                result[:, lo:hi] = k_loop(pa, flat_b[:, lo:hi])
        return result.reshape(*a.shape[:-1], n)

def run_tile_stage(executor: TileExecutor, s: StageConfig, args: list[np.ndarray], outs: list[OutSpec],
                   attrs: dict[str, Any] | None = None) -> list[np.ndarray]:
    """One compute stage through its tile program, numpy errors reported against the stage."""
    try:
        with np.errstate(all="ignore"):
            return executor.compute(s, args, outs)
    except SimulationError:
        raise
    except (IndexError, AttributeMissing) as exc:  # an index out of range (the inputs'), a stage attribute missing (the bitstream's)
        raise SimulationError(f"{stage_name(s)} failed: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # the checks passed, so this is rducc's fault, not the user's
        raise SimulatorBug(stage_name(s), exc) from exc
