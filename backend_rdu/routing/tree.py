"""One stream's route: a tree of links from the source switch to every destination switch.

Destinations are joined nearest first, each by an A* search that starts from every switch already
in the tree at no cost, so later destinations branch off the existing tree and share its links
(a Prim-style Steiner heuristic, as in VPR's multi-sink routing). Link costs come from the
negotiation; every link costs at least 1 per hop, so Manhattan distance is an admissible estimate.
"""

from __future__ import annotations

import heapq

from backend_rdu.routing.mesh import Mesh


def route_tree(mesh: Mesh, source: int, destinations: tuple[int, ...], cost: list[float]) -> dict[int, int]:
    """Map from each tree switch other than the source to the link entering it."""
    rows = mesh.rows
    out_links = mesh.out_links
    entering: dict[int, int] = {}
    in_tree = {source}
    sx, sy = divmod(source, rows)
    order = sorted(set(destinations), key=lambda d: (abs(d // rows - sx) + abs(d % rows - sy), d))
    for target in order:
        if target in in_tree:
            continue
        tx, ty = divmod(target, rows)
        best = {n: 0.0 for n in in_tree}
        came: dict[int, int] = {}
        heap = []
        for n in in_tree:
            nx, ny = divmod(n, rows)
            heap.append((abs(nx - tx) + abs(ny - ty), 0.0, n))
        heapq.heapify(heap)
        while heap:
            _, g, n = heapq.heappop(heap)
            if n == target:
                break
            if g > best[n]:
                continue
            for link, m in out_links[n]:
                ng = g + cost[link]
                if ng < best.get(m, float("inf")):
                    best[m] = ng
                    came[m] = link
                    mx, my = divmod(m, rows)
                    # ties on the estimate go to the deeper node: fewer expansions on a grid
                    heapq.heappush(heap, (ng + abs(mx - tx) + abs(my - ty) - 1e-9 * ng, ng, m))
        n = target
        while n not in in_tree:
            link = came[n]
            entering[n] = link
            in_tree.add(n)
            n = link // 4
    return entering


def tree_depths(mesh: Mesh, source: int, entering: dict[int, int], latency) -> dict[int, tuple[int, int]]:
    """(hops, latency cycles) from the source to every switch of the tree."""
    depth: dict[int, tuple[int, int]] = {source: (0, 0)}

    for start in entering:
        chain, n = [], start
        while n not in depth:
            chain.append(n)
            n = entering[n] // 4
        hops, cycles = depth[n]
        for m in reversed(chain):
            hops, cycles = hops + 1, cycles + int(latency[entering[m]])
            depth[m] = (hops, cycles)
    return depth
