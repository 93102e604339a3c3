"""The NODE section of a tensor-parallel program (issue 12), from a module `rdu-shard` split.

The program itself is emitted as for one socket (it is socket 0's: a split weight's image is part
0); this adds what the other sockets need: the node and socket count (`rdu.node`, `rdu.tp`), how
each split weight is cut and its whole bytes, and the peer-to-peer traffic of every collective
stage with the algorithm chosen for the node's network (ring or direct, whichever is faster for
its size), so `rducc inspect` and the simulator read the network use from the file.
"""

from __future__ import annotations


from xdsl.dialects.builtin import IntegerAttr, ModuleOp, StringAttr

from bitstream_format import Bitstream
from bitstream_format.arrays import array_to_bytes, bytes_to_array
from bitstream_format.model import nbytes_of
from bitstream_format.node_program import (COLLECTIVES, NodeProgram, PeerStream, TensorShard, choose_algorithm, peer_traffic,
                                           shard_part)
from chip_model.node import load_node
from dialects import rdu
from dialects.types import shape_of

TP_ATTR = "rdu.tp"
NODE_ATTR = "rdu.node"


def module_sockets(module: ModuleOp) -> int:
    attr = module.attributes.get(TP_ATTR)
    return attr.value.data if isinstance(attr, IntegerAttr) else 1


def split_weight_image(tensor: rdu.TensorOp, whole: bytes | None, dtype: str) -> bytes | None:
    """Socket 0's part of a split weight's whole bytes (the ordinary image holds socket 0's)."""
    if whole is None or tensor.shard is None:
        return whole
    sh = tensor.shard
    array = bytes_to_array(whole, dtype, tuple(shape_of(tensor.value.type)))
    return array_to_bytes(shard_part(array, sh.dim, sh.parts, sh.blocks, 0), dtype)


def node_program(module: ModuleOp, bs: Bitstream, tensor_ops: dict[int, rdu.TensorOp],
                 wholes: dict[int, bytes | None]) -> NodeProgram | None:
    sockets = module_sockets(module)
    if sockets == 1:
        return None
    node = module.attributes.get(NODE_ATTR)
    shards = []
    for tid, op in sorted(tensor_ops.items()):
        if op.shard is not None:
            whole_shape = tuple(shape_of(op.value.type)) if op.value is not None else \
                tuple(n * op.shard.parts if d == op.shard.dim else n for d, n in enumerate(shape_of(op.result.type)))
            shards.append(TensorShard(tid, op.shard.dim, op.shard.parts, op.shard.blocks, whole_shape))
    net = load_node(node.data).network if isinstance(node, StringAttr) else None
    peers = []
    for s in bs.stages:
        if s.opcode in COLLECTIVES:
            st = bs.stream(s.outputs[0]) if s.opcode == "all_gather" else bs.stream(s.inputs[0])
            n, nbytes = s.attrs["sockets"], nbytes_of(st.dtype, st.shape)
            algorithm = "ring" if net is None else choose_algorithm(
                s.opcode, n, nbytes, net.topology, net.link_bytes_per_second, net.links_per_socket, net.latency_seconds)
            sent, steps = peer_traffic(s.opcode, n, nbytes, algorithm)
            peers.append(PeerStream(s.id, s.opcode, n, sent, steps, algorithm))
    return NodeProgram(node.data if isinstance(node, StringAttr) else "", sockets, tuple(shards), tuple(peers),
                       {sh.tensor: wholes.get(sh.tensor) for sh in shards})



