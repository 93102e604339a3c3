"""What a collective stage computes across the sockets of a group, and what it costs on the links.

Values: every socket brings its value; an all-reduce gives each the sum (accumulated in float64 in
socket order, so every socket gets bit-identical results), an all-gather the values joined along
`dim` in socket order, a reduce-scatter socket s's part of the sum.

Time: the algorithm the compiler chose for each stage (ring, or direct over a switch; the NODE
section's peer streams) on the node's peer-to-peer network (`chip_model.node.PeerNetwork`). Each
socket sends `peer_traffic(...)` bytes in `steps` steps; a step pays the link latency once and
the bytes move at the socket's injection bandwidth (`switch`: all of a socket's links; `ring`: one
link to the next socket). The stage is
an AGCU stage inside a compute kernel, so the event engine overlaps it with the stages around it
tile by tile, as the paper's fused collectives do.
"""

from __future__ import annotations

from math import ceil
from typing import Any

import numpy as np

from bitstream_format.node_program import ALGORITHMS, collective_cost
from bitstream_format.node_program import collective_seconds as node_collective_seconds
from chip_model import ChipSpec
from chip_model.node import NodeSpec

from functional_sim.dtypes import cast
from functional_sim.errors import SimulationError


def collective_values(opcode: str, attrs: dict[str, Any], values: list[np.ndarray], dtype: str) -> list[np.ndarray]:
    """Each socket's output of one collective stage, from each socket's input (in socket order)."""
    n = len(values)
    if attrs.get("sockets") != n:
        raise SimulationError(f"{opcode} stage is for a group of {attrs.get('sockets')} sockets, run on {n}")
    if opcode == "all_reduce":
        total = cast(np.sum(np.stack([v.astype(np.float64) for v in values]), axis=0), dtype)
        return [total.copy() for _ in values]
    dim = attrs["dim"] % max(values[0].ndim, 1)
    if opcode == "all_gather":
        whole = np.concatenate(values, axis=dim)
        return [whole.copy() for _ in values]
    if opcode == "reduce_scatter":
        total = cast(np.sum(np.stack([v.astype(np.float64) for v in values]), axis=0), dtype)
        return [np.ascontiguousarray(p) for p in np.split(total, n, axis=dim)]
    raise SimulationError(f"{opcode!r} is not a collective")


def collective_seconds(node: NodeSpec, opcode: str, sockets: int, nbytes: int, algorithm: str = "ring") -> float:
    """Time of one collective on a per-socket value of `nbytes` (an all-gather's: the whole)."""
    net = node.network
    return node_collective_seconds(opcode, sockets, nbytes, algorithm, net.topology, net.link_bytes_per_second,
                                   net.links_per_socket, net.latency_seconds)


def collective_cycles(node: NodeSpec, chip: ChipSpec, opcode: str, sockets: int, nbytes: int,
                      algorithm: str = "ring") -> int:
    return ceil(collective_seconds(node, opcode, sockets, nbytes, algorithm) * chip.clock_hz)


def stage_node(bs) -> NodeSpec:
    """The node a bitstream's collective stages run on (its NODE section names it)."""
    from chip_model.node import NodeSpecError, load_node

    name = bs.node.node if bs.node is not None else ""
    if not name:
        raise SimulationError("the bitstream has collective stages but names no node to time them on "
                              "(compile with --node NODE)")
    try:
        return load_node(name)
    except NodeSpecError as exc:
        raise SimulationError(str(exc)) from None


def collective_bytes(bs, s) -> int:
    """The per-socket value a collective stage moves: its input, or an all-gather's output."""
    from bitstream_format.model import nbytes_of

    st = bs.stream(s.outputs[0] if s.opcode == "all_gather" else s.inputs[0])
    return nbytes_of(st.dtype, st.shape)


def stage_algorithm(bs, s) -> str:
    """The algorithm the compiler chose for a collective stage (its peer stream; ring without one)."""
    peer = next((p for p in bs.node.peer_streams if p.stage == s.id), None) if bs.node is not None else None
    algorithm = peer.algorithm if peer is not None else "ring"
    if algorithm not in ALGORITHMS:
        raise SimulationError(f"collective stage {s.label or s.opcode!r} (id {s.id}) names algorithm {algorithm!r}: "
                              f"choose one of {', '.join(ALGORITHMS)}")
    return algorithm


def collective_stage_cycles(bs, chip: ChipSpec, s) -> int:
    """A collective stage's time with the algorithm the compiler chose for it (its peer stream)."""
    return collective_cycles(stage_node(bs), chip, s.opcode, s.attrs["sockets"], collective_bytes(bs, s),
                             stage_algorithm(bs, s))


def collective_link_cycles(bs, chip: ChipSpec, s) -> float:
    """Of a collective stage's time, the cycles its bytes hold the socket's peer links (the rest is
    latency): what two collectives running at once must share."""
    node = stage_node(bs)
    net = node.network
    _, transfer = collective_cost(s.opcode, s.attrs["sockets"], collective_bytes(bs, s), stage_algorithm(bs, s),
                                  net.topology, net.link_bytes_per_second, net.links_per_socket, net.latency_seconds)
    return transfer * chip.clock_hz
