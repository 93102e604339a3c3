"""`rdu-size-fifos`: give every FIFO on a reconvergent path enough credits that no kernel deadlocks.

A kernel's stages run as one pipeline with credit-based FIFOs between them (docs/simulator.md,
"Event timing"). A stage of S steps whose output has T_out tiles emits its first tile at step
ceil(S / T_out) - 1, by which time it has taken ceil(ceil(S / T_out) · T_in / S) tiles of an input
of T_in tiles: its *lag* on that input. A reduction (an RMSNorm's mean, softmax's sum, a matmul
whose output is smaller than an operand) has a lag of many tiles. When a value reaches a stage C
along two paths (a fork F, e.g. the residual add or attention's softmax·V) and one path enters a
stage with a lag above one tile, C cannot take a tile from the long path until that stage has
seen many tiles from F; meanwhile F's tiles down the short path wait in its FIFOs. If those FIFOs
hold fewer tiles than the lag, F stalls on credits, the lagging stage starves, and the kernel
deadlocks.

So for every such (F, C) pair, every path from F to C that enters no lagging stage (a short path)
gets one FIFO deep enough to hold what the lagging stage takes before it emits, counted in that
stream's tiles, plus a double buffer of slack (at most its whole value: then nothing on the short
path ever stalls F). A reduction over trailing dims lags one input tile or two (rdu-allocate-units
gives its output as many tiles as its input); a reduction to one element lags the whole value. That FIFO is the stream out of a PMU stage on the
path where there is one (its tiles wait in that stage's SRAM: its `bytes` per PMU grow to hold
them, charged against the PMU's SRAM); where the path has no PMU stage, the FIFO at the join
(the consumer's input buffer, a PMU's worth of SRAM) holds it. When the SRAM cannot hold the
depth needed, a CapacityError names the fork, the lagging stage, the join, the stream and the
bytes needed vs available.

The lag is an estimate (rounding along a path can exceed it), so two more steps follow. `prefetch`
lets every PMU stage's FIFO hold what its SRAM holds and gives the buffers of memory streams the
PMUs the kernel leaves free (a load then runs ahead of the activations instead of stalling on
credits; deeper FIFOs never cause a deadlock). `prove_live` then plays the simulator's tile-step
rules untimed (`fifo_liveness`: deadlock there is independent of timing) and, where the play stops,
grows the full FIFO where the wait starts, so no compiled kernel deadlocks in the simulator; the
growth is charged to SRAM like the rest, or named in a CapacityError.

When the SRAM cannot hold a reconvergent path's depth, the branch goes through HBM instead
(`spill=true`, the default; `passes/spill.py` says why as a kernel split): the kernel is split at
the join, the halves get their units, tiles and depths from rdu-allocate-units' rules again (with
this pass's `tile-bytes` / `tile-scale`, which the driver passes as it passes them to that pass),
and each half is sized again, split again if it still cannot hold a branch. Memory planning then
gives the new spill tensors their addresses (rdu-plan-memory's rules, run again). `spill=false`
keeps the diagnosis: a CapacityError naming the cycle.

Whole-value stages (a tile program of kind `whole`, `bitstream_format.tiling.compute_loop`: a
gather, a transpose of the last axis) take their whole input before they emit anything, and the
FIFOs into and out of them hold all their tiles (their PMUs' SRAM holds the value; the event
engine's `fifo_credits`): the analysis counts them as one step with those FIFOs, so a residual
around one is given the whole value on its short path, or spilled.

`depth=N` (> 0) skips the analysis and forces every FIFO to N tiles (an experiment knob: N=1
deadlocks most programs on purpose; the simulator then names the wait-for cycle). The module
records it (`rdu.forced_fifo_depth`), so rdu-size-fifos-for-routes, which gives routed FIFOs the
credits their round trip needs after rdu-route, leaves the forced depths alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from math import ceil

from xdsl.context import Context
from xdsl.dialects.builtin import IntegerAttr, ModuleOp, i64
from xdsl.ir import SSAValue
from xdsl.passes import ModulePass

from bitstream_format.tiling import WINDOW_ORDERS, compute_loop
from chip_model import ChipSpec
from dialects import rdu
from dialects.diagnostics import CapacityError, PassOrderError
from dialects.types import specs_of, value_bytes
from passes.allocate_units import AllocateUnitsPass, stream_tiles
from passes.fifo_liveness import Game, play
from passes.row_order import attention_split, held_inputs, stream_plan
from passes.size_fifos_for_routes import mark_forced
from passes.spill import downstream, split_at_join
from passes.target import lowered_target_chip
from dialects.kernel_signature import kernel_structure  # the layers of a model are sized once

MAX_PATHS = 512  # paths enumerated per (fork, join) pair; beyond it every short-path edge is deepened


def stage_name(stage: rdu.StageOp) -> str:
    """How messages name a stage: its kernel, opcode and model line, as the bitstream labels it."""
    kernel = stage.parent_op()
    opcode = stage.opcode.data if isinstance(stage, rdu.ComputeOp) else stage.name.removeprefix("rdu.")
    where = rdu.source_text(stage) if isinstance(stage, rdu.ComputeOp) else ""
    return f"{kernel.sym_name.data}/{opcode}" + (f" @ {where}" if where else "")


def stream_name(value: SSAValue) -> str:
    stage = value.owner
    port = list(stage.results).index(value)
    hint = f"%{value.name_hint}" if value.name_hint else f"output {port}"
    return f"{hint} of {stage_name(stage)}"


class ReconvergenceError(CapacityError):
    """A reconvergent path whose FIFO the SRAM cannot hold: the cycle by name, and the join, where
    rdu-size-fifos splits the kernel when it may spill (`passes/spill.py`)."""

    def __init__(self, message: str, join: rdu.StageOp):
        super().__init__(message)
        self.join = join


def is_whole(stage: rdu.StageOp, chip: ChipSpec) -> bool:
    """Will rdu-tile give this stage a whole-value tile program (one tile: it takes its whole input
    before it emits)? For compute stages, the same rule rdu-tile applies (`compute_loop`), from the
    tiles chosen so far.

    An AGCU stage (a collective: an all-reduce fused into its kernel) is never whole, whatever its
    loop says: the event engine steps it tile by tile (`functional_sim.tile_timing.stage_tiling`),
    each tile reduced over the peer links as it arrives, as the paper's fused collectives stream.
    Counted whole here, the residual around a row-parallel projection's all-reduce looked like it
    had to hold the whole hidden state, and the 4K prefill layer at TP8 split at its last add
    (a third kernel of two loads, an add and a store) although the engine never waits for it."""
    if not isinstance(stage, rdu.ComputeOp) or not stage.inputs or not stage.tile_list() or stage.unit_kind == "agcu":
        return False
    return planned_loop(stage, chip).kind == "whole"


def planned_loop(stage: rdu.ComputeOp, chip: ChipSpec):
    """The tile loop rdu-tile will give a compute stage, from the tiles chosen so far."""
    producer = stage.inputs[0].owner
    tiles = producer.tile_list() if isinstance(producer, rdu.StageOp) else []
    in_tile = tiles[stage.inputs[0].index] if stage.inputs[0].index < len(tiles) else 0
    ins, outs = specs_of(stage.inputs), specs_of(stage.outputs)
    plan = stream_plan(stage, chip.pcu.lanes, chip.pmu.sram_bytes)  # a heads or output transpose that streams (passes/row_order.py)
    return compute_loop(stage.opcode.data, stage.param_values(), ins, outs, in_tile, stage.tile_list()[0],
                        chip.pcu.lanes, chip.pmu.sram_bytes, arrival=plan.arrival if plan is not None else None)


def window_count(stage: rdu.StageOp, chip: ChipSpec) -> int:
    """Windows of a stage rdu-tile will run a window at a time (a Kᵀ transpose, a GQA expand:
    `bitstream_format.tiling.window_loop`), one step each as in the event engine; 0 for others."""
    if not isinstance(stage, rdu.ComputeOp) or not stage.inputs or not stage.tile_list() or stage.unit_kind != "pmu":
        return 0
    loop = planned_loop(stage, chip)
    return loop.grid[0] if loop.order in WINDOW_ORDERS else 0


@dataclass
class _Kernel:
    """The kernel's streams as a graph: edges (value, consumer) with tile counts and lags."""

    stages: list[rdu.StageOp]
    inputs: dict[rdu.StageOp, list[SSAValue]]
    tiles: dict[SSAValue, int]
    whole: frozenset = frozenset()  # whole-value stages: one step, all tiles held at either end
    held: frozenset = frozenset()  # (value, stage): a resident operand, all its tiles before the stage's first step
    windows: dict = field(default_factory=dict)  # window stages: one step per window, two windows held at either end

    @staticmethod
    def of(kernel: rdu.KernelOp, chip: ChipSpec | None = None) -> "_Kernel":
        stages = kernel.stages()
        members = set(stages)
        tiles: dict[SSAValue, int] = {}
        for s in stages:
            if s.tiles is None:
                raise PassOrderError(f"{s.name} in kernel {kernel.sym_name.data} has no tile sizes: run rdu-allocate-units first")
            for r, t in zip(s.results, s.tile_list()):
                tiles[r] = stream_tiles(value_bytes(r.type), t)
        inputs = {s: list(dict.fromkeys(v for v in s.operands if v.owner in members)) for s in stages}
        whole = frozenset(s for s in stages if chip is not None and is_whole(s, chip))
        held = frozenset(held_inputs(kernel, chip.pcu.lanes, chip.pmu.sram_bytes)) if chip is not None else frozenset()
        windows = {s: n for s in stages if chip is not None and (n := window_count(s, chip))}
        return _Kernel(stages, inputs, tiles, whole, held, windows)

    def steps(self, s: rdu.StageOp) -> int:
        if s in self.whole:
            return 1
        most = max([self.tiles[v] for v in self.inputs[s]] + [self.tiles[r] for r in s.results] + [1])
        return min(most, self.windows[s]) if s in self.windows else most

    def needs(self, s: rdu.StageOp, v: SSAValue, j: int) -> int:
        """Tiles of input `v` stage `s` has taken by its `j`-th step (all of a held operand)."""
        return self.tiles[v] if (v, s) in self.held else ceil(j * self.tiles[v] / self.steps(s))

    def credits(self, s: rdu.StageOp, c: rdu.StageOp, v: SSAValue, depth: int) -> int:
        """The FIFO of `v` from `s` to `c` as the event engine counts it (`tile_timing.fifo_credits`)."""
        if s in self.whole or c in self.whole or (v, c) in self.held:
            return max(depth, self.tiles[v])
        count = self.windows.get(c) or self.windows.get(s)
        return max(depth, min(self.tiles[v], 2 * ceil(self.tiles[v] / count))) if count else depth

    def lag(self, s: rdu.StageOp, v: SSAValue) -> int:
        """Tiles of input `v` stage `s` takes before its first output tile (1 for a sink)."""
        if not s.results:
            return 1
        steps = self.steps(s)
        first = ceil(steps / max(self.tiles[r] for r in s.results))
        return self.needs(s, v, first)

    def path_lag(self, path: list[tuple[SSAValue, rdu.StageOp]]) -> int:
        """Tiles of the path's first stream taken in before its last stream hands the join one tile."""
        n = self.tiles[path[-1][0]] if path[-1] in self.held else 1  # a held operand: the join takes all of it
        for (v_in, _), (v_out, _) in zip(reversed(path[:-1]), reversed(path[1:])):
            s = v_out.owner
            n = self.needs(s, v_in, ceil(n * self.steps(s) / self.tiles[v_out]))
        return n

    def lag_from(self, fork: rdu.StageOp, v: SSAValue, n: int, reach: set, memo: dict) -> int:
        """Tiles of the fork's output taken in before value `v` has `n` tiles, along the slowest path."""
        if v.owner is fork:
            return n
        key = (v, n)
        if key not in memo:
            s = v.owner
            steps = self.steps(s)
            j = ceil(n * steps / self.tiles[v])
            memo[key] = max([self.lag_from(fork, u, self.needs(s, u, j), reach, memo)
                             for u in self.inputs[s] if u.owner is fork or u.owner in reach] or [0])
        return memo[key]

    def paths(self, fork: rdu.StageOp, join: rdu.StageOp, reach: set[rdu.StageOp]) -> list[list[tuple[SSAValue, rdu.StageOp]]]:
        """Every path fork -> join as (stream, consumer) edges, through stages in `reach` only."""
        out: list[list[tuple[SSAValue, rdu.StageOp]]] = []

        def walk(at: rdu.StageOp, path: list[tuple[SSAValue, rdu.StageOp]]) -> None:
            if len(out) >= MAX_PATHS:
                return
            for r in at.results:
                for c in at.consumers(r):
                    if c is join:
                        out.append(path + [(r, c)])
                    elif c in reach:
                        walk(c, path + [(r, c)])

        walk(fork, [])
        return out


@dataclass(frozen=True)
class SizeFifosPass(ModulePass):
    name = "rdu-size-fifos"

    depth: int = 0  # > 0: force every FIFO to this many tiles
    spill: bool = True  # a branch the SRAM cannot hold goes through HBM (split at the join); false: a CapacityError
    tile_bytes: int = 0  # rdu-allocate-units' options, for the halves of a split kernel
    tile_scale: float = 1.0

    def apply(self, ctx: Context, module: ModuleOp) -> None:
        chip = lowered_target_chip(module, "rdu-size-fifos")
        todo = rdu.kernels(module)
        split: set[rdu.StageOp] = set()
        sized: dict[tuple, tuple[list[dict], list[dict]]] = {}  # per kernel structure: its settings before and after
        while todo:
            kernel = todo.pop(0)
            if self.depth > 0:
                mark_forced(module, self.depth)  # later FIFO passes (rdu-size-fifos-for-routes) leave it
                for s in kernel.stages():
                    s.set_depths([self.depth] * len(s.results))
                    self.charge_forced(s, chip)
                continue
            structure = kernel_structure(kernel)
            if replay(kernel, sized.get(structure)):  # a layer like one sized before
                continue
            before = stage_settings(kernel)
            try:
                self.size(kernel, chip)
                self.prefetch(kernel, chip)
                self.prove_live(kernel, chip)
                sized.setdefault(structure, (before, stage_settings(kernel)))
            except ReconvergenceError as e:
                join = attention_split(kernel, e.join)  # before attention when its resident operands are made here
                if not self.spill or join in split:  # a join split at once has only loads above it
                    raise
                split.add(join)
                first, second, _ = split_at_join(module, kernel, join)
                allocate = AllocateUnitsPass(tile_bytes=self.tile_bytes, tile_scale=self.tile_scale)
                allocate.allocate(first, chip)
                allocate.allocate(second, chip)
                todo[:0] = [first, second]
        if split:  # the spill tensors need addresses; the program's lifetimes changed with its kernels
            from passes.plan_memory import PlanMemoryPass

            PlanMemoryPass().apply(ctx, module)

    def charge_forced(self, s: rdu.StageOp, chip: ChipSpec) -> None:
        """A forced depth's tiles wait in the producing buffer's SRAM: grow its bytes, or name the overflow."""
        if not isinstance(s, rdu.BufferOp):
            return
        v = s.results[0]
        tile = min(s.tile_list()[0] or value_bytes(v.type), value_bytes(v.type))
        per_unit = ceil(min(self.depth, stream_tiles(value_bytes(v.type), tile)) * tile / s.unit_count)
        if per_unit > chip.pmu.sram_bytes:
            raise CapacityError(f"rdu-size-fifos{{depth={self.depth}}}: {stream_name(v)} needs {per_unit} bytes per PMU "
                                f"for {self.depth} tiles of {tile} bytes, but a PMU has {chip.pmu.sram_bytes} bytes of SRAM")
        if per_unit > s.bytes.value.data:
            s.bytes = IntegerAttr(per_unit, i64)

    def prefetch(self, kernel: rdu.KernelOp, chip: ChipSpec) -> None:
        """Let loads run ahead: every PMU stage's FIFO holds as many tiles as its PMUs' SRAM does
        (the stage owns those PMUs, and an idle byte of SRAM buys nothing), and a stage that
        buffers a stream from memory (a weight, a KV cache) gets PMUs the kernel leaves free until
        it holds its whole value, the latest in the kernel first (its reader starts last, so its
        load waits longest). A load that would otherwise stall on credits until its reader has the
        activations then streams while earlier stages run, and the kernel keeps the memory tier busy."""
        sram = chip.pmu.sram_bytes
        stages = kernel.stages()
        free = chip.count("pmu") - sum(s.unit_count for s in stages if s.unit_kind == "pmu")
        for s in reversed(stages):
            if s.unit_kind != "pmu" or getattr(s, "bytes", None) is None or len(s.results) != 1:
                continue
            v = s.results[0]
            nbytes = value_bytes(v.type)
            tile = min(s.tile_list()[0] or nbytes, nbytes)
            if tile > sram or tile == 0:  # an empty value (a zero-size dim) has no tiles to run ahead
                continue
            tiles = stream_tiles(nbytes, tile)
            from_memory = any(isinstance(x.owner, rdu.LoadOp) for x in s.operands)
            if from_memory and free > 0:
                extra = min(free, max(0, ceil(tiles / (sram // tile)) - s.unit_count))
                if extra:
                    s.set_units(s.unit_count + extra)
                    free -= extra
            depths = s.depth_list()
            depth = max(depths[0], min(tiles, s.unit_count * (sram // tile)))
            if depth > depths[0]:
                s.set_depths([depth])
                s.bytes = IntegerAttr(max(s.bytes.value.data, min(sram, ceil(depth / s.unit_count) * tile)), i64)

    def prove_live(self, kernel: rdu.KernelOp, chip: ChipSpec) -> None:
        """Play the simulator's tile-step rules untimed (`fifo_liveness`): where the depths above
        would still deadlock (the lag estimate is an estimate), grow the full FIFO where the wait
        starts, preferably one a PMU stage holds in its SRAM, until the kernel finishes; charge the
        growth to that SRAM, or name the cycle when the SRAM cannot hold it."""
        k = _Kernel.of(kernel, chip)
        index = {s: i for i, s in enumerate(k.stages)}
        game = Game([k.steps(s) for s in k.stages])
        edges: list[SSAValue] = []
        for s in k.stages:
            for r, depth in zip(s.results, s.depth_list()):
                for c in s.consumers(r):
                    # a whole-value or window stage's SRAM holds its tiles, as the event engine's `fifo_credits`
                    game.edge(index[s], index[c], k.tiles[r], k.credits(s, c, r, depth), held=(r, c) in k.held)
                    edges.append(r)
        held = lambda e: edges[e].owner.unit_kind == "pmu" and getattr(edges[e].owner, "bytes", None) is not None
        outcome = play(game, grow=True, prefer=held)
        if not outcome.finished:  # cannot happen in a DAG: every wait chain ends at a join
            raise CapacityError(f"rdu-size-fifos: kernel {kernel.sym_name.data} deadlocks whatever its FIFO depths")
        for e in outcome.grown:
            v = edges[e]
            producer = v.owner
            port = list(producer.results).index(v)
            depths = producer.depth_list()
            need = outcome.depth[e]
            if need <= depths[port]:
                continue
            reader = k.stages[game.dst[e]]
            self.charge(k, chip, v, need, reader)
            depths[port] = need
            producer.set_depths(depths)

    @staticmethod
    def hold(k: _Kernel, chip: ChipSpec, producer, held: bool, need: int, tile_bytes: int) -> tuple[int, str]:
        """Bytes per PMU that `need` tiles take: in the producing PMU stage (spread over more of the
        kernel's free PMUs if one cannot hold them) when `held`, else in the reader's one-PMU input
        buffer; and what limits it, for the CapacityError the caller raises when it does not fit."""
        sram = chip.pmu.sram_bytes
        if not held:
            return need * tile_bytes, f"the reader's input buffer is one PMU's {sram} bytes of SRAM"
        used = sum(s.unit_count for s in k.stages if s.unit_kind == "pmu")
        per_unit = ceil(need / producer.unit_count) * tile_bytes
        if per_unit > sram and tile_bytes <= sram:  # spread the FIFO over more PMUs, if the kernel leaves any free
            units = ceil(need / (sram // tile_bytes))
            if used - producer.unit_count + units <= chip.count("pmu"):
                producer.set_units(units)
                per_unit = ceil(need / units) * tile_bytes
        return per_unit, f"a PMU has {sram} bytes of SRAM ({chip.count('pmu') - used} PMUs free in the kernel)"

    def charge(self, k: _Kernel, chip: ChipSpec, v: SSAValue, need: int, join: rdu.StageOp) -> None:
        """Hold `need` tiles of stream `v` in SRAM: the producing PMU stage's (spread over more of
        the kernel's free PMUs if one PMU cannot), else the reader's input buffer (one PMU)."""
        producer = v.owner
        tile_bytes = min(producer.tile_list()[list(producer.results).index(v)] or value_bytes(v.type), value_bytes(v.type))
        sram = chip.pmu.sram_bytes
        held = producer.unit_kind == "pmu" and getattr(producer, "bytes", None) is not None
        per_unit, limit = self.hold(k, chip, producer, held, need, tile_bytes)
        if per_unit > sram:
            raise ReconvergenceError(
                f"rdu-size-fifos: deadlock cycle in kernel {producer.parent_op().sym_name.data}: the join {stage_name(join)} "
                f"waits for its other input, so stream {stream_name(v)} needs {need} tiles x {tile_bytes} bytes = "
                f"{per_unit} bytes per PMU but {limit}", join)
        if held and per_unit > producer.bytes.value.data:
            producer.bytes = IntegerAttr(per_unit, i64)

    def size(self, kernel: rdu.KernelOp, chip: ChipSpec) -> None:
        k = _Kernel.of(kernel, chip)
        for s in k.stages:
            if s.depths is None:
                raise PassOrderError(f"{s.name} in kernel {kernel.sym_name.data} has no FIFO depths: run rdu-allocate-units first")
        below = {s: downstream(s) - {s} for s in k.stages}
        for join in k.stages:
            if len(k.inputs[join]) < 2:
                continue
            forks = [f for f in k.stages if join in below[f]
                     and sum(1 for r in f.results for c in f.consumers(r) if c is join or join in below[c]) >= 2]
            for fork in forks:
                reach = {s for s in below[fork] if join in below[s]}
                paths = k.paths(fork, join, reach)
                lags = [k.path_lag(p) for p in paths]
                # The longest lag over every path (memoised, not enumerated: paths multiply).
                longest = max([lags and max(lags) or 1] + [k.lag_from(fork, v, k.tiles[v] if (v, join) in k.held else 1, reach, {})
                                                             for v in k.inputs[join] if v.owner is fork or v.owner in reach])
                slowest = paths[lags.index(max(lags))]
                for path, lag in zip(paths, lags):
                    if longest - lag > 1:
                        self.deepen(k, chip, path, fork, join, slowest, longest - lag)

    def deepen(self, k: _Kernel, chip: ChipSpec, path: list[tuple[SSAValue, rdu.StageOp]], fork: rdu.StageOp,
               join: rdu.StageOp, slowest: list[tuple[SSAValue, rdu.StageOp]], deficit: int) -> None:
        """Give one FIFO on a short path the `deficit` (tiles of the fork's stream the slowest path
        takes in before the join sees its first tile, beyond what this path takes), in its own
        tiles, plus a double buffer of slack: in a PMU stage's SRAM if the path has one, else at the
        join's input; a CapacityError naming the cycle if that SRAM cannot hold it."""
        held = [(v, c) for v, c in path if v.owner.unit_kind == "pmu" and getattr(v.owner, "bytes", None) is not None]
        v, _ = held[0] if held else path[-1]
        producer = v.owner
        port = list(producer.results).index(v)
        first = path[0][0]
        depths = producer.depth_list()
        lv, lc = max(slowest, key=lambda e: k.lag(e[1], e[0]))
        tile_bytes = min(producer.tile_list()[port] or value_bytes(v.type), value_bytes(v.type))
        sram = chip.pmu.sram_bytes
        # The whole value where the SRAM (spread over the kernel's free PMUs) holds it: safe whatever
        # the lag; else the lag estimate, which the event engine's rounding can exceed (docs/passes.md).
        used = sum(s.unit_count for s in k.stages if s.unit_kind == "pmu")
        whole = k.tiles[v]
        fits_whole = held and whole * tile_bytes <= sram * (chip.count("pmu") - used + producer.unit_count)
        need = whole if fits_whole else min(whole, ceil(deficit * whole / k.tiles[first]) + 2)
        held_now = sum(u.owner.depth_list()[list(u.owner.results).index(u)] * k.tiles[first] / k.tiles[u] for u, _ in path)
        if depths[port] >= need or (not fits_whole and held_now >= deficit + 2 * len(path)):
            return
        per_unit, limit = self.hold(k, chip, producer, bool(held), need, tile_bytes)
        if per_unit > sram:
            raise ReconvergenceError(
                f"rdu-size-fifos: deadlock cycle in kernel {producer.parent_op().sym_name.data}: "
                f"{stage_name(fork)} reaches {stage_name(join)} through {stage_name(lc)} (the long path takes {deficit} "
                f"more tiles of {stream_name(first)} before the join sees a tile) and through stream {stream_name(v)}, whose FIFO needs "
                f"{need} tiles x {tile_bytes} bytes = {per_unit} bytes per PMU but {limit}", join
            )
        if held and per_unit > producer.bytes.value.data:
            producer.bytes = IntegerAttr(per_unit, i64)
        depths[port] = need
        producer.set_depths(depths)


def stage_settings(kernel: rdu.KernelOp) -> list[dict[str, object]]:
    """Each stage's properties and attributes (what sizing reads and sets), by name."""
    return [{**st.properties, **st.attributes} for st in kernel.stages()]


def replay(kernel: rdu.KernelOp, recorded: tuple[list[dict], list[dict]] | None) -> bool:
    """Size `kernel` as a kernel of the same structure was sized (`recorded`: its stages' settings
    before and after), if every setting that sizing changed there holds the same value here
    beforehand: sizing reads only the kernel's structure and those settings, so it would set them
    alike (the layers of a model; their off-chip addresses, which sizing neither reads nor sets,
    differ). False, and nothing touched, otherwise."""
    if recorded is None:
        return False
    before, after = recorded
    stages = kernel.stages()
    changes = [{k: v for k, v in a.items() if b.get(k) != v} for b, a in zip(before, after)]
    if any(set(b) - set(a) for b, a in zip(before, after)):  # sizing removed a setting: compute it instead
        return False
    mine = stage_settings(kernel)
    if any(m.get(k) != b.get(k) for m, b, c in zip(mine, before, changes) for k in c):
        return False
    for st, c in zip(stages, changes):
        for k, v in c.items():
            if k in st.properties or k in type(st).get_irdl_definition().properties:
                st.properties[k] = v
            else:
                st.attributes[k] = v
    return True
