"""The price of a tensor-parallel all-reduce on a node's peer-to-peer network.

A TP-N decoder layer all-reduces its hidden state twice (after the attention output projection
and after the MLP down projection); the argmax over the vocabulary shards is one more small
exchange per generated token. The figures come from the node spec (chip_model/nodes/*.toml),
never from constants here:

- `ring` topology: the ring algorithm (reduce-scatter then all-gather, 2(N-1) steps of S/N bytes),
  2(N-1)(alpha + S/N/B), with B the bandwidth towards one neighbour: half the socket's links
  (LLMCompass's formula, ../shared/reference/peers.md).
- `switch` topology: a two-step direct all-reduce: every socket sends its N-1 foreign shards of
  S/N bytes at once through its links into the non-blocking switch (reduce-scatter), then sends
  its reduced shard to the N-1 others (all-gather): 2(alpha + (N-1) S/N / B_socket). On a switch
  every pair talks at link rate, so the latency-bound small messages of decode pay 2 alphas
  instead of the ring's 2(N-1).

Not on the default timing path: the expert programs are compiled with `rdu-shard{tp=N}` and the node
simulator times their collectives (compiler/coe/programs.py). This formula stays as a cross-check
(`SimulatedTimer.breakdown` reports it next to the simulated figure, and bench.coe's JSON with it).
"""

from __future__ import annotations

from chip_model.node import NodeSpec


def all_reduce_seconds(node: NodeSpec, size_bytes: float, ways: int | None = None) -> float:
    """Time of one all-reduce of `size_bytes` (each socket's whole tensor) over `ways` sockets."""
    n = node.sockets if ways is None else ways
    if n <= 1 or size_bytes <= 0:
        return 0.0
    net = node.network
    if net.topology == "ring":
        toward_neighbour = net.link_bytes_per_second * max(1, net.links_per_socket // 2)
        return 2 * (n - 1) * (net.latency_seconds + size_bytes / n / toward_neighbour)
    return 2 * (net.latency_seconds + (n - 1) * size_bytes / n / net.socket_bytes_per_second)
