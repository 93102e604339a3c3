"""The node part of a bitstream: one program run by every socket of a tensor-parallel group (SPMD).

`rdu-shard` compiles the program one socket runs; sockets differ only in which part of each split
weight they hold. So a node bitstream is an ordinary bitstream plus one optional section, `NODE`
(docs/bitstream.md, format 3.1): the node it was compiled for, the number of sockets that run it,
for each split weight how it is cut (`TensorShard`: dim, parts, blocks; the memory image holds the
whole weight once), and the peer-to-peer streams its collective stages open (`PeerStream`: which
AGCU stage, which collective, how many bytes each socket sends per run). A reader gives socket `s`
its part with `socket_image`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

COLLECTIVES = ("all_reduce", "all_gather", "reduce_scatter")


@dataclass(frozen=True)
class TensorShard:
    """Tensor `tensor` holds one part of a whole `whole_shape` cut along `dim` into `parts`, in
    `blocks` equal blocks each cut into `parts` (fused QKV); socket s holds part s // (sockets // parts)."""

    tensor: int
    dim: int
    parts: int
    blocks: int
    whole_shape: tuple[int, ...]


@dataclass(frozen=True)
class PeerStream:
    """A collective stage's traffic on the peer-to-peer network: each socket of the group sends
    `bytes_per_socket` per run in `steps` steps of `algorithm` (`peer_traffic`), chosen by the
    compiler for the node's network."""

    stage: int
    collective: str
    sockets: int
    bytes_per_socket: int
    steps: int
    algorithm: str = "ring"


def collective_cost(collective: str, sockets: int, nbytes: int, algorithm: str, topology: str,
                    link_bytes_per_second: float, links_per_socket: int, latency_seconds: float) -> tuple[float, float]:
    """(latency seconds, transfer seconds) of one collective: every step pays the link latency
    once per hop its messages travel, and the bytes each socket sends move at what it can push
    (over a switch all its links, a message striped over them; on a ring one link to the next
    socket, and a message to a socket d hops away crosses d links, sharing them with the messages
    the other sockets send the same way)."""
    switch = topology == "switch"
    rate = link_bytes_per_second * (links_per_socket if switch else 1)
    if algorithm == "tree" and not switch:  # recursive doubling on a ring: step k's partner is 2^k hops away
        latency = transfer = 0.0
        for k, message in enumerate(tree_messages(collective, sockets, nbytes)):
            latency += (1 << k) * latency_seconds
            transfer += (1 << k) * message / rate
        return latency, transfer
    sent, steps = peer_traffic(collective, sockets, nbytes, algorithm)
    return steps * latency_seconds, sent / rate


def collective_seconds(collective: str, sockets: int, nbytes: int, algorithm: str, topology: str,
                       link_bytes_per_second: float, links_per_socket: int, latency_seconds: float) -> float:
    """Time of one collective: its latency plus its transfer (`collective_cost`)."""
    return sum(collective_cost(collective, sockets, nbytes, algorithm, topology, link_bytes_per_second,
                               links_per_socket, latency_seconds))


def algorithms_for(sockets: int, topology: str) -> tuple[str, ...]:
    """The algorithms a group can run: ring always; tree (recursive doubling / halving) when the
    sockets are a power of two; direct (one-shot) only over a switch, where every peer is one hop."""
    out = ["ring"]
    if sockets >= 2 and sockets & (sockets - 1) == 0:
        out.append("tree")
    if topology == "switch":
        out.append("direct")
    return tuple(out)


def choose_algorithm(collective: str, sockets: int, nbytes: int, topology: str, link_bytes_per_second: float,
                     links_per_socket: int, latency_seconds: float) -> str:
    """The fastest algorithm for this message on this network (ties: the name first in order), as
    collective libraries pick ring for bandwidth-bound messages and tree or one-shot for
    latency-bound ones."""
    figures = (topology, link_bytes_per_second, links_per_socket, latency_seconds)
    return min(algorithms_for(sockets, topology),
               key=lambda a: (collective_seconds(collective, sockets, nbytes, a, *figures), a))


@dataclass(frozen=True)
class NodeProgram:
    node: str  # the node spec it was compiled for (chip_model.node), "" when only a socket count was given
    sockets: int
    shards: tuple[TensorShard, ...] = ()
    peer_streams: tuple[PeerStream, ...] = field(default=())
    wholes: dict[int, bytes | None] = field(default_factory=dict, compare=False)  # split tensor -> whole bytes

    def socket_image(self, image: dict[int, bytes | None], dtypes: dict[int, str], socket: int) -> dict[int, bytes | None]:
        """The memory image socket `socket` starts from: `image` (socket 0's) with every split
        weight replaced by this socket's part of its whole."""
        from bitstream_format.arrays import array_to_bytes, bytes_to_array

        out = dict(image)
        for sh in self.shards:
            whole = self.wholes.get(sh.tensor)
            if whole is None:
                continue
            array = bytes_to_array(whole, dtypes[sh.tensor], sh.whole_shape)
            part = shard_part(array, sh.dim, sh.parts, sh.blocks, socket // (self.sockets // sh.parts))
            out[sh.tensor] = array_to_bytes(part, dtypes[sh.tensor])
        return out

    def shard_of(self, tensor: int) -> TensorShard | None:
        return next((s for s in self.shards if s.tensor == tensor), None)


def shard_part(whole: np.ndarray, dim: int, parts: int, blocks: int, index: int) -> np.ndarray:
    """Part `index` of `whole`: its slice of every block along `dim`, blocks kept in order."""
    shape = whole.shape
    n = shape[dim]
    split = whole.reshape(shape[:dim] + (blocks, parts, n // (blocks * parts)) + shape[dim + 1:])
    local = list(shape)
    local[dim] = n // parts
    return np.ascontiguousarray(split.take(index, axis=dim + 1).reshape(local))


ALGORITHMS = ("ring", "direct", "tree")


def tree_messages(collective: str, sockets: int, nbytes: int) -> list[int]:
    """Bytes a socket sends at each step of the tree algorithm: recursive doubling for an
    all-reduce (the whole value every step) and an all-gather (what it has gathered so far),
    recursive halving for a reduce-scatter (half of what it still holds)."""
    n, out, k = sockets, [], 0
    if n < 2 or n & (n - 1):
        raise ValueError(f"the tree algorithm needs a power-of-two group, got {n} sockets")
    while (1 << k) < n:
        if collective == "all_reduce":
            out.append(nbytes)
        elif collective == "all_gather":  # nbytes is the gathered (whole) value
            out.append((nbytes // n) << k)
        elif collective == "reduce_scatter":
            out.append(nbytes >> (k + 1))
        else:
            raise ValueError(f"{collective!r} is not a collective")
        k += 1
    return out


def peer_traffic(collective: str, sockets: int, nbytes: int, algorithm: str = "ring") -> tuple[int, int]:
    """(bytes each socket sends, steps) of a collective on a value of `nbytes` per socket (the
    input of an all-reduce or reduce-scatter, the output of an all-gather).

    `ring`: N-1 steps (2(N-1) for an all-reduce), each moving 1/N of the value to the next socket:
    bandwidth-optimal, latency paid per step. `direct` (one-shot, over a switch): one step in which
    every socket sends what each peer needs straight to it: an all-reduce sends its whole value to
    N-1 peers, which each add them up; latency paid once, N-1 times the bytes. `tree` (recursive
    doubling / halving, N a power of two): log2 N steps, each with one partner
    (`tree_messages`): an all-reduce sends its whole value log2 N times."""
    n = sockets
    if algorithm == "tree":
        messages = tree_messages(collective, n, nbytes)
        return sum(messages), len(messages)
    if algorithm == "direct":
        if collective == "all_reduce":
            return (n - 1) * nbytes, 1
        if collective in ("all_gather", "reduce_scatter"):
            return (n - 1) * nbytes // n, 1
        raise ValueError(f"{collective!r} is not a collective")
    if collective == "all_reduce":
        return 2 * (n - 1) * nbytes // n, 2 * (n - 1)
    if collective == "all_gather":  # nbytes is the gathered (whole) value
        return (n - 1) * nbytes // n, n - 1
    if collective == "reduce_scatter":
        return (n - 1) * nbytes // n, n - 1
    raise ValueError(f"{collective!r} is not a collective")


def encode_node(node: NodeProgram, writer_class) -> bytes:
    """The NODE section: node name, sockets, shards (each with its whole bytes, or none for a
    shapes-only program), peer streams. Layout in docs/bitstream.md."""
    w = writer_class()
    w.str(node.node)
    w.pack("I", node.sockets)
    w.pack("I", len(node.shards))
    for sh in node.shards:
        w.pack("IIII", sh.tensor, sh.dim, sh.parts, sh.blocks)
        w.ints(sh.whole_shape)
        whole = node.wholes.get(sh.tensor)
        w.pack("BQ", whole is not None, len(whole or b""))
        if whole is not None:
            w.parts.append(whole)
    w.pack("I", len(node.peer_streams))
    for p in node.peer_streams:
        w.pack("I", p.stage)
        w.str(p.collective)
        w.pack("IQI", p.sockets, p.bytes_per_socket, p.steps)
        w.str(p.algorithm)
    return w.bytes()


def decode_node(r) -> NodeProgram:
    name = r.str()
    sockets = r.one("I")
    shards, wholes = [], {}
    for _ in range(r.one("I")):
        tensor, dim, parts, blocks = r.unpack("IIII")
        shape = tuple(r.ints())
        has, size = r.unpack("BQ")
        if has:
            wholes[tensor] = r.data[r.pos : r.pos + size]
            r.pos += size
        shards.append(TensorShard(tensor, dim, parts, blocks, shape))
    peers = []
    for _ in range(r.one("I")):
        stage = r.one("I")
        collective = r.str()
        n, sent, steps = r.unpack("IQI")
        peers.append(PeerStream(stage, collective, n, sent, steps, r.str()))
    return NodeProgram(name, sockets, tuple(shards), tuple(peers), wholes)
