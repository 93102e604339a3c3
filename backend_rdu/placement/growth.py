"""Constructive placement by cluster growth on an unbounded lattice.

Units are placed one at a time, always the one most strongly wired to units already placed, on the
free lattice point (of the right kind parity on a checkerboard) that adds the least wirelength;
ties go to the point the global layout (`embedding`) predicts. A unit with two placed neighbours
on different axes has exactly one good point, so a grid-like netlist is rebuilt almost exactly,
which is something rounding a continuous layout onto sites cannot do: small drifts in a layout
become dislocations that cost wirelength along a whole row. Growing on an unbounded lattice
(rather than on the chip) keeps the shape free of edge effects; `fitting` then puts it on the chip.
"""

from __future__ import annotations

import heapq

import numpy as np

from backend_rdu.placement.problem import KIND_INDEX, PlacementProblem

EMBEDDING_PULL = 0.25  # wirelength units per grid step away from the layout's prediction


def checkerboard_parity(problem: PlacementProblem) -> int | None:
    """(x + y) % 2 of PCU sites if PCUs and PMUs form a checkerboard, else None."""
    xs, ys, kinds = problem.site_x, problem.site_y, problem.site_kind
    pcu, pmu = kinds == KIND_INDEX["pcu"], kinds == KIND_INDEX["pmu"]
    parity = (xs + ys) % 2
    if pcu.any() and pmu.any() and np.ptp(parity[pcu]) == 0 and np.ptp(parity[pmu]) == 0 and parity[pcu][0] != parity[pmu][0]:
        return int(parity[pcu][0])
    return None


def grow(problem: PlacementProblem, members: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """Integer lattice points (len(members) x 2) for one connected component of the netlist.

    Pinned members start on their pins and growth proceeds from them, in chip coordinates;
    otherwise growth starts from the member nearest the middle of the layout, at the origin."""
    p = problem
    unit_ptr, unit_nets = p.unit_nets
    parity = checkerboard_parity(p)
    wanted_parity = {}
    if parity is not None:
        wanted_parity = {KIND_INDEX["pcu"]: parity, KIND_INDEX["pmu"]: 1 - parity}

    position: dict[int, tuple[int, int]] = {}
    occupied: set[tuple[int, int]] = set()
    # bounding box of the placed pins of each net: [min x, max x, min y, max y], empty if min > max
    box = np.tile(np.array([1 << 30, -(1 << 30), 1 << 30, -(1 << 30)], dtype=np.int64), (p.num_nets, 1))
    score = np.zeros(p.num_units)
    centre = coords[members].mean(axis=0)
    remoteness = np.abs(coords[:, 0] - centre[0]) + np.abs(coords[:, 1] - centre[1])
    pinned = [int(u) for u in members if p.fixed_site[u] >= 0]
    if pinned:
        heap = [(-np.inf, 0.0, u) for u in pinned]
    else:
        seed = int(members[np.argmin(remoteness[members])])
        heap = [(0.0, remoteness[seed], seed)]
    net_weight = p.net_weight
    net_share = net_weight / np.maximum(p.net_degree - 1, 1)

    while heap:
        _, _, u = heapq.heappop(heap)
        if u in position:
            continue
        nets = unit_nets[unit_ptr[u] : unit_ptr[u + 1]]
        if p.fixed_site[u] >= 0:
            spot = (int(p.site_x[p.fixed_site[u]]), int(p.site_y[p.fixed_site[u]]))
        else:
            parity = wanted_parity.get(int(p.unit_kind[u]))
            spot = _best_point(u, nets, box, net_weight, position, occupied, coords, parity, p)
        position[u] = spot
        occupied.add(spot)
        x, y = spot
        b = box[nets]
        box[nets] = np.stack([np.minimum(b[:, 0], x), np.maximum(b[:, 1], x), np.minimum(b[:, 2], y), np.maximum(b[:, 3], y)], axis=1)
        for n in nets:
            for v in p.net_pins[p.net_ptr[n] : p.net_ptr[n + 1]]:
                v = int(v)
                if v not in position:
                    score[v] += net_share[n]
                    heapq.heappush(heap, (-score[v], remoteness[v], v))
    return np.array([position[int(u)] for u in members], dtype=np.int64)


def _best_point(u, nets, box, net_weight, position, occupied, coords, parity, p) -> tuple[int, int]:
    placed_boxes = box[nets]
    live = placed_boxes[:, 0] <= placed_boxes[:, 1]
    if not live.any():
        target = np.rint(coords[u]).astype(np.int64)
        return _nearest_free(tuple(target), occupied, parity)
    b, w = placed_boxes[live], net_weight[nets[live]]
    # where the layout says u should be, relative to its placed neighbours
    neighbours = []
    for n in nets[live]:
        neighbours.extend(int(v) for v in p.net_pins[p.net_ptr[n] : p.net_ptr[n + 1]] if int(v) in position)
    anchor = np.array([position[v] for v in neighbours], dtype=np.float64)
    predicted = (anchor + (coords[u] - coords[neighbours])).mean(axis=0)
    cx = (b[:, 0] + b[:, 1]).mean() / 2
    cy = (b[:, 2] + b[:, 3]).mean() / 2
    for radius in (2, 4, 8, 16, 64):
        xs, ys = np.meshgrid(np.arange(-radius, radius + 1), np.arange(-radius, radius + 1), indexing="ij")
        cand = np.stack([xs.ravel() + int(round(cx)), ys.ravel() + int(round(cy))], axis=1)
        if parity is not None:
            cand = cand[(cand.sum(axis=1) % 2) == parity]
        cand = cand[[(int(a), int(c)) not in occupied for a, c in cand]]
        if len(cand):
            break
    grow_x = np.maximum(b[None, :, 0] - cand[:, None, 0], 0) + np.maximum(cand[:, None, 0] - b[None, :, 1], 0)
    grow_y = np.maximum(b[None, :, 2] - cand[:, None, 1], 0) + np.maximum(cand[:, None, 1] - b[None, :, 3], 0)
    cost = (grow_x + grow_y) @ w + EMBEDDING_PULL * np.abs(cand - predicted).sum(axis=1)
    best = cand[int(np.argmin(cost))]
    return int(best[0]), int(best[1])


def _nearest_free(target: tuple[int, int], occupied: set, parity: int | None) -> tuple[int, int]:
    tx, ty = target
    for radius in range(0, 1 << 16):
        for dx in range(-radius, radius + 1):
            for dy in {radius - abs(dx), abs(dx) - radius}:
                q = (tx + dx, ty + dy)
                if q not in occupied and (parity is None or (q[0] + q[1]) % 2 == parity):
                    return q
    raise AssertionError("unreachable")
