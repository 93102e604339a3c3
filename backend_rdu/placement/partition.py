"""Min-cut bisection of a hypergraph with fixed terminals and per-kind capacities (multilevel FM).

The recursive-bisection start (`bisection`) cuts a chip region in two and must split the region's
units so that as few nets as possible cross the cut, while each side receives no more units of a
kind than it has sites of that kind. Nets that also reach units outside the region carry
*terminals*: a fixed pin on the side of the cut where those outside units lie (terminal
propagation), so each cut also pulls units towards the rest of their nets.

A flat Fiduccia-Mattheyses (FM) pass only finds the cut nearest its start. The multilevel scheme
(as in hMETIS) first coarsens the hypergraph by heavy-edge matching until a few dozen vertices
remain, bisects that small graph from several starts, and then projects the cut back level by
level with an FM pass at each: the coarse levels settle where the cut goes, the fine ones where
exactly it runs. Vertices carry a count per unit kind, so the capacities hold at every level
(loosened at the coarse ones by the heaviest vertex, exact at the finest).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sparse

COARSEST = 40  # stop coarsening at this many vertices
COARSEN_MIN_SHRINK = 0.9  # ... or when a round of matching shrinks the graph by less than 10%
MATCH_MAX_PINS = 16  # larger nets do not guide matching (their clique would dominate)
INITIAL_TRIES = 6  # starts for the bisection of the coarsest graph
EXHAUSTIVE = 10  # graphs of at most this many vertices are bisected by trying every split
FM_PASSES = 4
FM_PATIENCE = 40  # moves without a better cut before a pass gives up


@dataclass(frozen=True)
class Hypergraph:
    """Vertices with a count per unit kind; nets as CSR pin lists with weights and terminals."""

    weight: np.ndarray  # (n, 3) int64: units of each kind in the vertex
    net_ptr: np.ndarray
    net_pins: np.ndarray
    net_weight: np.ndarray  # float64
    terminal: np.ndarray  # (m, 2) int64: 1 if the net has a fixed pin on side 0 / side 1

    @property
    def num_vertices(self) -> int:
        return len(self.weight)

    @property
    def num_nets(self) -> int:
        return len(self.net_weight)

    def pin_net(self) -> np.ndarray:
        return np.repeat(np.arange(self.num_nets), np.diff(self.net_ptr))

    def cut(self, side: np.ndarray) -> float:
        """Weight of the nets with a pin (or terminal) on both sides."""
        count = self._side_counts(side)
        return float(self.net_weight[(count[:, 0] > 0) & (count[:, 1] > 0)].sum())

    def _side_counts(self, side: np.ndarray) -> np.ndarray:
        on_one = side[self.net_pins].astype(np.int64)
        ones = np.bincount(self.pin_net(), weights=on_one, minlength=self.num_nets).astype(np.int64)
        sizes = np.diff(self.net_ptr)
        return np.stack([sizes - ones, ones], axis=1) + self.terminal


def bisect(graph: Hypergraph, low: np.ndarray, high: np.ndarray, rng: np.random.Generator,
           initial: np.ndarray | None = None) -> np.ndarray:
    """Side (0 or 1) of every vertex: the side-0 count of each kind within [low, high] (if any
    split can meet them), and as few nets cut as the multilevel search finds. With `initial`
    (a side per vertex from a layout), FM refines that split instead: the cut stays near it."""
    if initial is not None:
        return _force_balance(graph, _fm(graph, initial, low, high), low, high)
    if graph.num_vertices <= EXHAUSTIVE:
        return _exhaustive(graph, low, high)
    levels, maps = [graph], []
    while levels[-1].num_vertices > COARSEST:
        cluster = _heavy_edge_matching(levels[-1], rng, _max_cluster(graph, COARSEST))
        coarse_n = int(cluster.max()) + 1
        if coarse_n > COARSEN_MIN_SHRINK * levels[-1].num_vertices:
            break
        levels.append(_contract(levels[-1], cluster, coarse_n))
        maps.append(cluster)
    coarsest = levels[-1]
    side = _initial(coarsest, *_loosened(coarsest, low, high), rng)
    for level in range(len(levels) - 1, -1, -1):
        g = levels[level]
        if level < len(levels) - 1:
            side = side[maps[level]]
        lo, hi = _loosened(g, low, high) if level else (low, high)
        side = _fm(g, side, lo, hi)
    return _force_balance(graph, side, low, high)


def _max_cluster(graph: Hypergraph, coarsest: int) -> int:
    return max(2, int(np.ceil(2.0 * graph.weight.sum() / coarsest)))


def _loosened(graph: Hypergraph, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    slack = graph.weight.max(axis=0) if graph.num_vertices else np.zeros(3, dtype=np.int64)
    return low - slack, high + slack


def _violation(count: np.ndarray, low: np.ndarray, high: np.ndarray) -> int:
    return int(np.maximum(low - count, 0).sum() + np.maximum(count - high, 0).sum())


# -- coarsening ---------------------------------------------------------------------------------

def _heavy_edge_matching(graph: Hypergraph, rng: np.random.Generator, max_weight: int) -> np.ndarray:
    """Cluster index of every vertex: each vertex joins the unmatched neighbour it shares the most
    net weight with (clique model, weight / (pins - 1), divided by the pair's size so clusters
    grow evenly)."""
    n = graph.num_vertices
    rows, cols, vals = [], [], []
    sizes = np.diff(graph.net_ptr)
    for s in np.unique(sizes):
        if s < 2 or s > MATCH_MAX_PINS:
            continue
        nets = np.flatnonzero(sizes == s)
        pins = graph.net_pins[graph.net_ptr[nets][:, None] + np.arange(s)[None, :]]
        w = np.repeat(graph.net_weight[nets] / (s - 1), s * s)
        a = np.repeat(pins, s, axis=1).ravel()
        b = np.tile(pins, (1, s)).ravel()
        rows.append(a), cols.append(b), vals.append(w)
    cluster = np.full(n, -1, dtype=np.int64)
    if not rows:
        return np.arange(n)
    a, b, w = np.concatenate(rows), np.concatenate(cols), np.concatenate(vals)
    off = a != b
    adjacency = sparse.csr_matrix((w[off], (a[off], b[off])), shape=(n, n))
    adjacency.sum_duplicates()
    indptr, indices, data = adjacency.indptr, adjacency.indices, adjacency.data
    total = graph.weight.sum(axis=1)
    next_id = 0
    for v in rng.permutation(n).tolist():
        if cluster[v] >= 0:
            continue
        cluster[v] = next_id
        lo, hi = indptr[v], indptr[v + 1]
        if hi > lo:
            nbr = indices[lo:hi]
            ok = (cluster[nbr] < 0) & (total[nbr] + total[v] <= max_weight)
            if ok.any():
                score = np.where(ok, data[lo:hi] / (total[nbr] * total[v]), -1.0)
                cluster[nbr[int(np.argmax(score))]] = next_id
        next_id += 1
    return cluster


def _contract(graph: Hypergraph, cluster: np.ndarray, coarse_n: int) -> Hypergraph:
    weight = np.zeros((coarse_n, 3), dtype=np.int64)
    np.add.at(weight, cluster, graph.weight)
    pin_net = graph.pin_net()
    key = np.unique(pin_net * coarse_n + cluster[graph.net_pins])
    net, pins = key // coarse_n, key % coarse_n
    size = np.bincount(net, minlength=graph.num_nets)
    keep = (size >= 2) | ((size == 1) & (graph.terminal.sum(axis=1) > 0))
    pick = keep[net]
    net, pins = net[pick], pins[pick]
    ptr = np.concatenate([[0], np.cumsum(size[keep])])
    return Hypergraph(weight, ptr, pins, graph.net_weight[keep], graph.terminal[keep])


def _exhaustive(graph: Hypergraph, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Every split of a small graph at once: the least violation, then the least cut."""
    n = graph.num_vertices
    bits = ((np.arange(2 ** n)[:, None] >> np.arange(n)[None, :]) & 1).astype(np.int64)
    count = (1 - bits) @ graph.weight
    violation = np.maximum(low - count, 0).sum(1) + np.maximum(count - high, 0).sum(1)
    incidence = np.zeros((n, graph.num_nets), dtype=np.int64)
    incidence[graph.net_pins, graph.pin_net()] = 1
    ones = bits @ incidence
    zeros = np.diff(graph.net_ptr)[None, :] - ones
    cut = (((zeros + graph.terminal[:, 0]) > 0) & ((ones + graph.terminal[:, 1]) > 0)) @ graph.net_weight
    best = np.lexsort((cut, violation))[0]
    return bits[best].astype(np.int8)


# -- initial bisection of the coarsest graph -------------------------------------------------------

def _initial(graph: Hypergraph, low: np.ndarray, high: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    n = graph.num_vertices
    if n == 0:
        return np.zeros(0, dtype=np.int8)
    target = 0.5 * (np.maximum(low, 0) + high)
    total = graph.weight.sum(axis=1)
    neighbours = _neighbour_lists(graph)
    pull = _terminal_pull(graph)
    best, best_key = None, None
    for attempt in range(INITIAL_TRIES):
        # grow side 0 from a seed vertex (the one pulled hardest to side 0 first), breadth first
        seed = int(np.argmin(pull)) if attempt == 0 else int(rng.integers(n))
        side = np.ones(n, dtype=np.int8)
        filled = 0.0
        goal = float(target.sum())
        order, seen, head = [seed], {seed}, 0
        while head < len(order) and filled + total[order[head]] <= goal + 0.5:
            v = order[head]
            head += 1
            side[v] = 0
            filled += total[v]
            for u in neighbours[v]:
                if u not in seen:
                    seen.add(u)
                    order.append(u)
            if head == len(order) and filled < goal:  # disconnected: jump to another vertex
                rest = [u for u in np.flatnonzero(side == 1).tolist() if u not in seen]
                if rest:
                    u = rest[int(rng.integers(len(rest)))]
                    seen.add(u)
                    order.append(u)
        side = _fm(graph, side, low, high)
        count = (graph.weight * (side == 0)[:, None]).sum(axis=0)
        key = (_violation(count, low, high), graph.cut(side))
        if best_key is None or key < best_key:
            best, best_key = side, key
    return best


def _neighbour_lists(graph: Hypergraph) -> list[list[int]]:
    pins = graph.net_pins.tolist()
    ptr = graph.net_ptr.tolist()
    out: list[list[int]] = [[] for _ in range(graph.num_vertices)]
    for i in range(graph.num_nets):
        members = pins[ptr[i]:ptr[i + 1]]
        for v in members:
            out[v].extend(u for u in members if u != v)
    return out


def _terminal_pull(graph: Hypergraph) -> np.ndarray:
    """Per vertex, net weight of its side-1 terminals minus that of its side-0 terminals."""
    toward = graph.net_weight * (graph.terminal[:, 1] - graph.terminal[:, 0])
    return np.bincount(graph.net_pins, weights=toward[graph.pin_net()], minlength=graph.num_vertices)


# -- Fiduccia-Mattheyses refinement -----------------------------------------------------------------

def _gains(graph: Hypergraph, side: np.ndarray, count: np.ndarray) -> np.ndarray:
    pin_net = graph.pin_net()
    own_side = side[graph.net_pins]
    own = count[pin_net, own_side]
    other = count[pin_net, 1 - own_side]
    contribution = graph.net_weight[pin_net] * ((own == 1).astype(np.float64) - (other == 0))
    return np.bincount(graph.net_pins, weights=contribution, minlength=graph.num_vertices)


def _fm(graph: Hypergraph, side: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """FM passes: move the best-gain vertex whose move keeps (or brings) the kinds within bounds,
    lock it, repeat; keep the best prefix of each pass (least violation, then least cut)."""
    n = graph.num_vertices
    if n == 0 or graph.num_nets == 0:
        return side
    side = side.astype(np.int8).copy()
    net_ptr, net_pins = graph.net_ptr.tolist(), graph.net_pins.tolist()
    order = np.argsort(graph.net_pins, kind="stable")
    vptr = np.concatenate([[0], np.cumsum(np.bincount(graph.net_pins, minlength=n))]).tolist()
    vnets = graph.pin_net()[order].tolist()
    nw = graph.net_weight.tolist()
    weight = graph.weight.tolist()
    low_l, high_l = low.tolist(), high.tolist()

    for _ in range(FM_PASSES):
        count_arr = graph._side_counts(side)
        gain = _gains(graph, side, count_arr).tolist()
        cnt = [count_arr[:, 0].tolist(), count_arr[:, 1].tolist()]
        sides = side.tolist()
        cur = (graph.weight * (side == 0)[:, None]).sum(axis=0).tolist()
        heaps: list[list] = [[], []]
        for v in range(n):
            heaps[sides[v]].append((-gain[v], v))
        heapq.heapify(heaps[0]), heapq.heapify(heaps[1])
        locked = [False] * n

        l0, l1, l2 = low_l
        h0, h1, h2 = high_l

        def viol(c0, c1, c2):
            return (max(l0 - c0, 0) + max(c0 - h0, 0) + max(l1 - c1, 0) + max(c1 - h1, 0)
                    + max(l2 - c2, 0) + max(c2 - h2, 0))

        def allowed(v, s, now):
            w0, w1, w2 = weight[v]
            if s == 0:
                after = viol(cur[0] - w0, cur[1] - w1, cur[2] - w2)
            else:
                after = viol(cur[0] + w0, cur[1] + w1, cur[2] + w2)
            return after == 0 or after < now

        cut_change = 0.0
        best_key, best_len = (viol(*cur), 0.0), 0
        moves: list[int] = []
        while len(moves) - best_len <= FM_PATIENCE:
            v_best, g_best = -1, 0.0
            now = viol(*cur)
            for s in (0, 1):
                heap, skipped = heaps[s], []
                found = -1
                while heap:
                    g, v = heap[0]
                    if locked[v] or sides[v] != s or -g != gain[v]:
                        heapq.heappop(heap)
                        continue
                    if allowed(v, s, now):
                        found = v
                        break
                    skipped.append(heapq.heappop(heap))
                    if len(skipped) > 16:
                        break
                if found >= 0 and (v_best < 0 or gain[found] > g_best):
                    v_best, g_best = found, gain[found]
                for entry in skipped:
                    heapq.heappush(heap, entry)
            if v_best < 0:
                break
            v = v_best
            frm = sides[v]
            to = 1 - frm
            locked[v] = True
            sign = -1 if frm == 0 else 1
            for k in range(3):
                cur[k] += sign * weight[v][k]
            cut_change -= g_best
            cf, ct = cnt[frm], cnt[to]
            for i in range(vptr[v], vptr[v + 1]):
                e = vnets[i]
                w = nw[e]
                lo_p, hi_p = net_ptr[e], net_ptr[e + 1]
                t = ct[e]
                if t == 0:
                    for j in range(lo_p, hi_p):
                        u = net_pins[j]
                        if not locked[u]:
                            gain[u] += w
                            heapq.heappush(heaps[sides[u]], (-gain[u], u))
                elif t == 1:
                    for j in range(lo_p, hi_p):
                        u = net_pins[j]
                        if sides[u] == to and not locked[u]:
                            gain[u] -= w
                            heapq.heappush(heaps[to], (-gain[u], u))
                cf[e] -= 1
                ct[e] += 1
                f = cf[e]
                if f == 0:
                    for j in range(lo_p, hi_p):
                        u = net_pins[j]
                        if not locked[u]:
                            gain[u] -= w
                            heapq.heappush(heaps[sides[u]], (-gain[u], u))
                elif f == 1:
                    for j in range(lo_p, hi_p):
                        u = net_pins[j]
                        if sides[u] == frm and u != v and not locked[u]:
                            gain[u] += w
                            heapq.heappush(heaps[frm], (-gain[u], u))
            sides[v] = to
            moves.append(v)
            key = (viol(*cur), cut_change)
            if key < best_key:
                best_key, best_len = key, len(moves)
        for v in moves[best_len:]:
            sides[v] = 1 - sides[v]
        side = np.array(sides, dtype=np.int8)
        if best_len == 0:
            break
    return side


def _force_balance(graph: Hypergraph, side: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Move the cheapest vertices of an over-full kind across until every bound holds (FM keeps
    them whenever it can; this catches a coarse start it could not repair)."""
    side = side.copy()
    for _ in range(graph.num_vertices):
        count = (graph.weight * (side == 0)[:, None]).sum(axis=0)
        if _violation(count, low, high) == 0:
            break
        gain = _gains(graph, side, graph._side_counts(side))
        sign = np.where(side == 0, -1, 1)[:, None]
        after = count[None, :] + sign * graph.weight
        better = np.maximum(low - after, 0).sum(1) + np.maximum(after - high, 0).sum(1) < _violation(count, low, high)
        if not better.any():
            break
        v = int(np.argmax(np.where(better, gain, -np.inf)))
        side[v] = 1 - side[v]
    return side
