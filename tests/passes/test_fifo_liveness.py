"""The untimed play of the tile-step rules (`passes.fifo_liveness`) decides deadlock exactly as the
event simulator does, and growing where a wait starts makes a deadlocking kernel finish."""

from __future__ import annotations

import random

import pytest

from functional_sim import SimulationError
from functional_sim.event_engine import run_kernel
from functional_sim.event_graph import KernelGraph
from passes.fifo_liveness import Game, play
from tests.passes.residual_ir import RESIDUAL, UP_TO_SIZING


def residual(depth: int, tiles: int = 8) -> Game:
    """fork -> sum (emits one tile after all of x) -> add, and fork -> add directly."""
    g = Game([tiles, tiles, tiles])
    g.edge(0, 1, tiles, 2)  # fork -> sum
    g.edge(0, 2, tiles, depth)  # fork -> add: the short path
    g.edge(1, 2, 1, 2)  # sum -> add, one tile
    return g


def test_a_shallow_short_path_deadlocks_and_a_whole_value_does_not() -> None:
    assert not play(residual(2)).finished
    assert play(residual(8)).finished


def test_growing_deepens_only_the_short_path_and_just_enough() -> None:
    out = play(residual(2), grow=True)
    assert out.finished and set(out.grown) == {1}
    assert play(residual(out.depth[1])).finished and not play(residual(out.depth[1] - 1)).finished


def graph_of(game: Game) -> KernelGraph:
    """The same kernel for the event engine: one stream per edge, unit intervals, no resources."""
    n = len(game.steps)
    g = KernelGraph(stage_ids=list(range(n)), stage_names=[f"s{i}" for i in range(n)], stage_units=["pcu"] * n,
                    stage_sites=[((i, 0),) for i in range(n)], steps=list(game.steps), interval=[1.0] * n,
                    latency=[1.0] * n, tier_of=[-1] * n, tier_occupancy=[0.0] * n,
                    in_edges=[[] for _ in range(n)], out_streams=[[] for _ in range(n)])
    held = game.held or [False] * len(game.src)
    for e, (s, d, t, c) in enumerate(zip(game.src, game.dst, game.tiles, game.depth)):
        g.stream_ids.append(e)
        g.stream_tiles.append(t)
        g.stream_src.append(s)
        g.stream_edges.append([e])
        g.stream_occupancy.append(0.5)
        g.stream_shared.append([])
        g.out_streams[s].append(e)
        g.edge_stream.append(e)
        g.edge_dst.append(d)
        g.edge_tiles.append(t)
        g.edge_capacity.append(c)
        g.edge_held.append(held[e])
        g.edge_latency.append(2.0)
        g.in_edges[d].append(e)
    return g


def random_game(rng: random.Random, held: float = 0.0) -> Game:
    """A DAG of 3-7 stages, each reading one or two earlier stages; tile counts 1-12, depths 1-3;
    each edge a resident operand (its reader's first step needs all of it) with probability `held`.
    A stage's steps are the most tiles of any of its streams, as in the simulator."""
    n = rng.randint(3, 7)
    out_tiles = [rng.randint(1, 12) for _ in range(n)]
    reads = [[]] + [sorted(rng.sample(range(i), min(i, rng.randint(1, 2)))) for i in range(1, n)]
    steps = [max([out_tiles[i]] + [out_tiles[p] for p in reads[i]]) for i in range(n)]
    g = Game(steps)
    for i in range(1, n):
        for p in reads[i]:
            g.edge(p, i, out_tiles[p], rng.randint(1, 3), held=rng.random() < held)
    return g


def test_a_held_operand_lags_its_whole_value_and_its_fifo_holds_it() -> None:
    """fork -> matmul (holds the fork's value: its first step needs all 8 tiles) -> add, and fork ->
    add directly: the short path must hold every tile, as a residual around a whole-value sum."""
    def game(depth: int, held: bool) -> Game:
        g = Game([8, 8, 8])
        g.edge(0, 1, 8, 2, held=held)
        g.edge(0, 2, 8, depth)
        g.edge(1, 2, 8, 2)
        return g

    assert play(game(2, held=False)).finished  # tile for tile, two credits are enough
    assert not play(game(7, held=True)).finished and play(game(8, held=True)).finished
    assert game(2, held=True).depth[0] == 8  # the held FIFO holds every tile
    out = play(game(2, held=True), grow=True)
    assert out.finished and set(out.grown) == {1} and out.depth[1] == 8


@pytest.mark.parametrize("seed", range(60))
def test_the_play_deadlocks_exactly_when_the_event_engine_does(seed: int) -> None:
    game = random_game(random.Random(seed), held=0.3 if seed % 2 else 0.0)
    try:
        run_kernel(graph_of(game))
        simulated = True
    except SimulationError:
        simulated = False
    assert play(game).finished == simulated
    grown = play(game, grow=True)
    assert grown.finished
    game.depth = grown.depth
    run_kernel(graph_of(game))  # the grown depths run in the simulator too


DIAGNOSE = UP_TO_SIZING + "{spill=false}"  # name the cycle rather than spill the branch through HBM


def only_the_proof(monkeypatch) -> None:
    """rdu-size-fifos without its lag estimate and prefetch: the liveness play alone must size the FIFOs."""
    from passes.size_fifos import SizeFifosPass

    monkeypatch.setattr(SizeFifosPass, "size", lambda self, kernel, chip: None)
    monkeypatch.setattr(SizeFifosPass, "prefetch", lambda self, kernel, chip: None)


def test_the_proof_alone_deepens_the_residual_so_the_kernel_finishes(monkeypatch) -> None:
    from compiler.textual_ir import parse_ir
    from dialects import make_context, rdu
    from passes.registry import run_pipeline
    from passes.size_fifos import _Kernel

    only_the_proof(monkeypatch)
    ctx = make_context()
    module = parse_ir(ctx, RESIDUAL.format(n=256))
    run_pipeline(ctx, module, UP_TO_SIZING)
    kernel = next(op for op in module.body.block.ops if isinstance(op, rdu.KernelOp))
    k = _Kernel.of(kernel)
    fork = next(s for s in k.stages if isinstance(s, rdu.BufferOp) and len(s.consumers(s.results[0])) == 2)
    assert fork.depth_list()[0] > 2  # grown from the double-buffered default
    assert fork.bytes.value.data * fork.unit_count >= fork.depth_list()[0] * fork.tile_list()[0]  # and charged to SRAM


def test_a_depth_the_sram_cannot_hold_is_named(monkeypatch) -> None:
    from compiler.textual_ir import parse_ir
    from dialects import make_context
    from dialects.diagnostics import CapacityError
    from passes.registry import run_pipeline

    only_the_proof(monkeypatch)
    ctx = make_context()
    module = parse_ir(ctx, RESIDUAL.format(n=16384))
    with pytest.raises(CapacityError, match=r"rdu-size-fifos: deadlock cycle in kernel \w+: the join \S+/add waits for its "
                                            r"other input, so stream output 0 of \S+/buffer needs \d+ tiles x \d+ bytes = \d+ "
                                            r"bytes per PMU but a PMU has 65536 bytes of SRAM"):
        run_pipeline(ctx, module, DIAGNOSE)
