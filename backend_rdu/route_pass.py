"""`rdu-route`: route every stream of every placed kernel over the chip's mesh, into the IR.

Each stream runs from its producer's first unit to each consumer stage's first unit: the path a
tile's head takes (the bandwidth of a stream's parallel paths is the simulator's business). The
negotiated-congestion router (`backend_rdu.routing`) routes a kernel's streams together, as
multicast trees, each flow demanding its rate of a link's bandwidth (`backend_rdu.stream_rates`: its
bytes per cycle at the kernel's pace). The result is a `#rdu.route<vector, rate R, hops [...],
links [...]>` per output stream of each stage (hops in consumer order; the rate printed below 1),
which bitstream emission copies and never recomputes. Kernels
of the same structure and placement are routed once.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ArrayAttr, ModuleOp
from xdsl.passes import ModulePass

from dialects.kernel_signature import kernel_structure
from chip_model import ChipSpec
from dialects import rdu
from backend_rdu.routing.errors import RoutingError
from dialects.diagnostics import PassOrderError
from dialects.rdu_attrs import RouteAttr
from passes.target import lowered_target_chip

Site = tuple[int, int]


class RouteError(RoutingError):
    """Streams of a kernel that the mesh cannot carry (the router's error, naming the kernel)."""


def _name(site: Site) -> str:
    return f"{site[0]}_{site[1]}"


def route_kernel(kernel: rdu.KernelOp, chip: ChipSpec) -> list[list[RouteAttr]]:
    """Per stage, per output stream: its route (hops per consumer stage, tree links)."""
    from backend_rdu.routing import Stream, route_streams
    from backend_rdu.stream_rates import stream_rates

    rates = stream_rates(kernel, chip)  # each flow's demand on its links, from the kernel's pace
    positions: dict[str, Site] = {}
    requests = []
    ends: dict[str, list[str]] = {}  # request name -> one endpoint name per consumer stage
    for i, stage in enumerate(kernel.stages()):
        for j, result in enumerate(stage.results):
            src = stage.site_list()
            dsts = [c.site_list() for c in stage.consumers(result)]
            if not src or not dsts:
                continue
            source = _name(src[0])
            positions[source] = src[0]
            targets = []
            for group in dsts:
                positions[_name(group[0])] = group[0]
                if _name(group[0]) != source and _name(group[0]) not in targets:
                    targets.append(_name(group[0]))
            name = f"s{i}_{j}"
            ends[name] = [_name(g[0]) for g in dsts]
            if targets:
                requests.append(Stream(name, source, tuple(targets), "vector", rates[i][j]))
    try:
        routes = route_streams(chip, positions, requests).routes if requests else {}
    except RoutingError as exc:
        raise RouteError(f"rdu-route: kernel {kernel.sym_name.data}: {exc}") from None
    out = []
    for i, stage in enumerate(kernel.stages()):
        per_result = []
        for j, result in enumerate(stage.results):
            name = f"s{i}_{j}"
            route = routes.get(name)
            consumers = stage.consumers(result)
            if route is None:  # every consumer on the source's site: no links, the rate still recorded
                per_result.append(RouteAttr.build([0] * len(consumers), [], rate=rates[i][j]))
            else:
                per_result.append(RouteAttr.build([route.hops.get(e, 0) for e in ends[name]], route.links,
                                                  rate=rates[i][j]))
        out.append(per_result)
    return out


@dataclass(frozen=True)
class RoutePass(ModulePass):
    """route every stream of the placed kernels; record each stream's route on its producer."""

    name = "rdu-route"

    def apply(self, ctx: Context, module: ModuleOp) -> None:
        chip = lowered_target_chip(module, "rdu-route")
        routed: dict[tuple, list[list[RouteAttr]]] = {}
        for kernel in rdu.kernels(module):
            unplaced = next((st for st in kernel.stages() if st.sites is None), None)
            if unplaced is not None:
                raise PassOrderError(f"rdu-route: {unplaced.name} in kernel {kernel.sym_name.data} has no sites: "
                                     "run rdu-place first")
            # the layers of a model differ only in off-chip addresses, which no route reads
            signature = (kernel_structure(kernel), tuple(tuple(st.site_list()) for st in kernel.stages()))
            if signature not in routed:
                routed[signature] = route_kernel(kernel, chip)
            for stage, routes in zip(kernel.stages(), routed[signature]):
                stage.routes = ArrayAttr(routes)
