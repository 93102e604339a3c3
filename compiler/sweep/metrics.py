"""The figures a sweep keeps for each point, and the cost proxy of its Pareto front.

Metrics come from a timing-only simulation of the compiled bitstream (`execute=False`: cycles
depend only on the bitstream and the chip) and from the compile itself. A tensor-parallel point
(tp > 1 on a node) is timed by the node simulator (functional_sim/node.py): every socket runs the
same program on a symmetric network, so cycles are one socket's, collectives included, and HBM
figures are per socket.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

METRICS = {
    "cycles": "simulated cycles of one forward",
    "seconds": "modelled seconds of one forward (cycles / clock)",
    "tokens_per_second": "tokens of one forward / seconds (prefill: the prompt; decode: one token)",
    "bound": "what bounds the most cycles: compute, sram, hbm, ddr, network, peer (collectives) or launch",
    "hbm_bandwidth_fraction": "HBM bytes moved / seconds / the chip's HBM bandwidth",
    "pcus_used": "most PCUs any one kernel occupies",
    "pmus_used": "most PMUs any one kernel occupies",
    "kernels": "kernel calls in the program",
    "roofline_cycles": "the chip's lower bound: max(FLOPs / peak, compulsory bytes / HBM bandwidth)",
    "over_roofline": "cycles / roofline_cycles",
    "compile_seconds": "wall seconds of the compile (as first compiled, when cached)",
    "sockets": "sockets the program runs on (tp; 1 for a single-chip program)",
    "collective_cycles": "cycles the collective stages kept the peer links busy (per socket; 0 on one socket)",
    "socket_hbm_bytes": "one socket's resident HBM footprint (the memory plan's highest HBM address)",
}

CHIP_COSTS = {
    "pcu_count": lambda chip: chip.count("pcu"),
    "pmu_count": lambda chip: chip.count("pmu"),
    "sram_bytes": lambda chip: chip.tier("sram").capacity_bytes,
    "hbm_bytes_per_second": lambda chip: chip.tier("hbm").bytes_per_second,
    "ddr_bytes_per_second": lambda chip: chip.tier("ddr").bytes_per_second,
    "peak_flops": lambda chip: chip.peak_flops,
}
NODE_COSTS = {
    "link_bytes_per_second": lambda node: node.network.link_bytes_per_second,
    "socket_bytes_per_second": lambda node: node.network.socket_bytes_per_second,
    "ddr_to_hbm_bytes_per_second": lambda node: node.ddr_to_hbm_bytes_per_second,
}
COST_TERMS = [*CHIP_COSTS, *NODE_COSTS, "pcus_used", "pmus_used", "sockets"]


def point_metrics(meta: dict[str, Any], sim: Any, chip: Any, tokens: int | None, node: Any = None) -> dict[str, Any]:
    """`sim`: a single socket's `SimulationResult`; `node` the node simulator's result around it
    (`NodeSimulationResult`) for a tensor-parallel program, else None."""
    seconds = sim.cycles / chip.clock_hz
    roofline = meta["roofline_cycles"]
    by_bound = Counter()
    for k in sim.kernels:
        by_bound[k.bound] += k.cycles
    hbm = sim.tier_bytes.get("hbm", 0)
    return {
        "cycles": sim.cycles,
        "seconds": seconds,
        "tokens_per_second": tokens / seconds if tokens and seconds else None,
        "bound": max(sorted(by_bound), key=lambda b: by_bound[b]) if by_bound else "",
        "hbm_bandwidth_fraction": hbm / seconds / chip.tier("hbm").bytes_per_second if seconds else 0.0,
        "pcus_used": meta["pcus_used"],
        "pmus_used": meta["pmus_used"],
        "kernels": meta["kernels"],
        "roofline_cycles": roofline,
        "over_roofline": sim.cycles / roofline if roofline else None,
        "compile_seconds": meta["compile_seconds"],
        "sockets": node.sockets if node is not None else 1,
        "collective_cycles": node.collective_cycles if node is not None else 0,
        "socket_hbm_bytes": meta["socket_hbm_bytes"],
    }


def cost(weights: dict[str, float], chip: Any, metrics: dict[str, Any], node: Any = None) -> float:
    """The weighted sum the spec states, e.g. { sram_bytes = 1.0 } or { pcu_count = 1, hbm_bytes_per_second = 1e-9 }.
    Chip terms are one socket's; node terms need the point's `node` (a NodeSpec)."""
    total = 0.0
    for term, weight in weights.items():
        if term in CHIP_COSTS:
            value = CHIP_COSTS[term](chip)
        elif term in NODE_COSTS:
            value = NODE_COSTS[term](node)
        else:
            value = metrics.get(term)
        total += weight * float(value or 0)
    return total
