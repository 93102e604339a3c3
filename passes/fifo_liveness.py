"""Does a kernel finish with its FIFO depths? The simulator's tile-step rules played without time.

The event simulator (docs/simulator.md, "Event timing") fires step `k` of a stage of `N` steps
when every input edge of `T` tiles has delivered `ceil((k+1)·T/N)` tiles and, for every output
stream of `T` tiles, each reader has popped enough that `floor((k+1)·T/N)` tiles fit in its FIFO
of `depth` credits; a *held* edge (a resident operand, `functional_sim.tile_timing.held_operands`:
a query-block matmul's Q, Kᵀ or V) needs every one of its tiles before the reader's first step,
and its FIFO holds them all. Those conditions read only counts of tiles sent and popped, and a firing
never takes a tile or a credit from another stage: an enabled step stays enabled until it fires.
So whether a kernel deadlocks does not depend on timing or on the order stages fire in (the
firings are persistent, hence confluent), and playing the rules untimed, in any order, decides
it exactly. That lets rdu-size-fifos prove, before emission, that no compiled kernel deadlocks
in the simulator, and find the FIFO that must grow when one would.

`play` runs the game; on a deadlock, `grow=True` deepens each full FIFO that a stage waits on by
the credits its next step needs (the smallest step that unblocks it) and carries on, so the
depths it returns are enough for the whole run. Cost: one pass over every step of the kernel.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass
class Game:
    """A kernel's stages and FIFOs as counts: stage i takes `steps[i]`; edge e carries
    `tiles[e]` tiles of stream `stream[e]` from stage `src[e]` to stage `dst[e]`, with `depth[e]` credits."""

    steps: list[int]
    src: list[int] = field(default_factory=list)
    dst: list[int] = field(default_factory=list)
    tiles: list[int] = field(default_factory=list)
    depth: list[int] = field(default_factory=list)
    held: list[bool] = field(default_factory=list)  # a resident operand: its reader's first step takes every tile

    def edge(self, src: int, dst: int, tiles: int, depth: int, held: bool = False) -> int:
        self.src.append(src)
        self.dst.append(dst)
        self.tiles.append(tiles)
        self.depth.append(max(depth, tiles) if held else depth)
        self.held.append(held)
        return len(self.src) - 1


@dataclass
class Outcome:
    finished: bool
    depth: list[int]  # credits per edge at the end (grown where `grow` deepened them)
    grown: dict[int, int]  # edge -> credits it was given beyond its configured depth
    blocked: dict[int, tuple[str, int]]  # unfinished stage -> ("data" | "credit", edge), on a deadlock


def play(game: Game, grow: bool = False, prefer=None) -> Outcome:
    """Play the tile-step rules to the end or to a deadlock. `prefer(edge) -> bool` picks which
    full FIFOs to grow first when several wait on one another (e.g. those held in SRAM)."""
    n = len(game.steps)
    ins: list[list[int]] = [[] for _ in range(n)]
    outs: list[list[int]] = [[] for _ in range(n)]
    for e, (s, d) in enumerate(zip(game.src, game.dst)):
        outs[s].append(e)
        ins[d].append(e)
    depth = list(game.depth)
    held = list(game.held) + [False] * (len(depth) - len(game.held))
    sent = [0] * len(depth)  # tiles delivered on each edge
    popped = [0] * len(depth)
    done = [0] * n
    blocked: dict[int, tuple[str, int]] = {}

    def advance(i: int) -> bool:
        total, k, moved = game.steps[i], done[i], False
        while k < total:
            k1 = k + 1
            why = None
            for e in ins[i]:
                if (game.tiles[e] if held[e] else -(-k1 * game.tiles[e] // total)) > sent[e]:
                    why = ("data", e)
                    break
            if why is None:
                for e in outs[i]:
                    if k1 * game.tiles[e] // total - depth[e] > popped[e]:
                        why = ("credit", e)
                        break
            if why is not None:
                blocked[i] = why
                break
            for e in ins[i]:
                popped[e] = max(popped[e], game.tiles[e] if held[e] else -(-k1 * game.tiles[e] // total))
            for e in outs[i]:
                sent[e] = k1 * game.tiles[e] // total
            k += 1
            moved = True
        done[i] = k
        if k == total:
            blocked.pop(i, None)
        return moved

    todo = deque(range(n))
    queued = [True] * n
    grown: dict[int, int] = {}
    while True:
        while todo:
            i = todo.popleft()
            queued[i] = False
            if advance(i):
                for e in ins[i] + outs[i]:
                    for j in (game.src[e], game.dst[e]):
                        if not queued[j] and done[j] < game.steps[j]:
                            queued[j] = True
                            todo.append(j)
        waiting = {i: w for i, w in blocked.items() if done[i] < game.steps[i]}
        if not waiting or not grow:
            return Outcome(not waiting, depth, grown, waiting)
        # Grow where the wait starts: a full FIFO whose reader waits for a tile on another input
        # (a join whose other path lags), or, up the chain of full FIFOs feeding that one, the
        # first that `prefer` picks (say, one held in a PMU's SRAM).
        roots = [e for i, (kind, e) in waiting.items()
                 if kind == "credit" and waiting.get(game.dst[e], ("", e))[0] == "data" and waiting[game.dst[e]][1] != e]
        if not roots:
            return Outcome(False, depth, grown, waiting)
        feeding = {game.dst[e]: e for i, (kind, e) in waiting.items() if kind == "credit"}
        for root in roots:
            e, chain = root, [root]
            while game.src[e] in feeding and len(chain) < n:
                e = feeding[game.src[e]]
                chain.append(e)
            e = next((x for x in chain if prefer is not None and prefer(x)), root)
            i = game.src[e]
            need = (done[i] + 1) * game.tiles[e] // game.steps[i] - popped[e]
            grown[e] = grown.get(e, 0) + need - depth[e]
            depth[e] = need
            if not queued[i]:
                queued[i] = True
                todo.append(i)
