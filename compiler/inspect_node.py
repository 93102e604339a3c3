"""`rducc inspect` of a node program: what every socket holds and sends (issue 12)."""

from __future__ import annotations

from math import prod
from typing import Any

from bitstream_format import Bitstream
from bitstream_format.model import itemsize


def node_use(bs: Bitstream) -> dict[str, Any] | None:
    """Per-socket use of a tensor-parallel program: the same plan on every socket (SPMD), so one
    row per socket with its HBM bytes, its part of the split weights and the bytes it sends."""
    node = bs.node
    if node is None:
        return None
    hbm = max((t.offset + t.nbytes for t in bs.tensors if t.tier == "hbm"), default=0)
    weights = [s for s in node.shards if bs.tensor(s.tensor).role == "weight"]
    split_local = sum(bs.tensor(s.tensor).nbytes for s in weights)
    split_whole = sum(prod(s.whole_shape) * itemsize(bs.tensor(s.tensor).dtype) for s in weights)
    sent = sum(p.bytes_per_socket for p in node.peer_streams)
    counts: dict[str, int] = {}
    for p in node.peer_streams:
        counts[p.collective] = counts.get(p.collective, 0) + 1
    per_socket = [{"socket": s, "hbm_bytes": hbm, "split_weight_bytes": split_local, "peer_bytes_sent": sent}
                  for s in range(node.sockets)]
    return {"node": node.node, "sockets": node.sockets, "split_weights": len(weights),
            "split_inputs": sum(bs.tensor(s.tensor).role == "input" for s in node.shards),
            "split_states": sum(bs.tensor(s.tensor).role == "state" for s in node.shards),  # KV caches, by KV head
            "split_weight_bytes_whole": split_whole, "collectives": counts, "per_socket": per_socket}


def describe_node(bs: Bitstream) -> list[str]:
    use = node_use(bs)
    if use is None:
        return []
    collectives = ", ".join(f"{n} {c}" for c, n in sorted(use["collectives"].items())) or "no collectives"
    lines = [f"node: {use['node'] or '(unnamed)'}, {use['sockets']} sockets run this program (SPMD); "
             f"{use['split_weights']} split weights ({use['split_weight_bytes_whole']:,} B whole)"
             + (f", {use['split_inputs']} split inputs" if use["split_inputs"] else "")
             + (f", {use['split_states']} split states (KV cache)" if use["split_states"] else "") + f"; {collectives}"]
    for row in use["per_socket"]:
        lines.append(f"  socket {row['socket']}: HBM {row['hbm_bytes']:,} B, its part of the split weights "
                     f"{row['split_weight_bytes']:,} B, sends {row['peer_bytes_sent']:,} B per run over the peer links")
    return lines
