"""Turn a placed rdu module (plus the weight store) into a Bitstream.

Ids are assigned in program order, so the same module always gives the same bitstream. Every
stream is routed here, on the placed sites, and carries its routed hops and links.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from xdsl.dialects.builtin import FloatAttr, ModuleOp
from xdsl.ir import SSAValue

from bitstream_format import Bitstream, KernelEntry, SectionEntry, StageConfig, StreamEntry, TensorEntry
from bitstream_format.arrays import array_to_bytes
from bitstream_format.model import nbytes_of
from chip_model import ChipSpec
from dialects import rdu
from dialects.rgraph import attr_value
from dialects.types import dtype_of, shape_of

# (source sites, destination site groups, network) -> (hops per destination, links)
Router = Callable[[list[tuple[int, int]], list[list[tuple[int, int]]], str], tuple[list[int], list[tuple[int, int, int, int]]]]


def manhattan_router(src: list[tuple[int, int]], dsts: list[list[tuple[int, int]]], network: str):
    """Hop counts of dimension-order routes between the groups' nearest units; no link list."""
    a = np.asarray(src, dtype=np.int64).reshape(-1, 2)
    hops = []
    for group in dsts:
        b = np.asarray(group, dtype=np.int64).reshape(-1, 2)
        if len(a) * len(b) <= 4096:
            hops.append(int(np.abs(a[:, None, :] - b[None, :, :]).sum(-1).min()))
        else:  # the gap between bounding boxes: exact for the nearest pair when boxes do not overlap
            gap = np.maximum(0, np.maximum(a.min(0) - b.max(0), b.min(0) - a.max(0)))
            hops.append(int(gap.sum()))
    return hops, []


def emit_bitstream(module: ModuleOp, weights: dict[str, Any], chip: ChipSpec, manifest: dict[str, Any],
                   router: Router = manhattan_router, values: bool = True) -> Bitstream:
    """`weights` maps a weight's name to an object with `data` (bytes or None); `values=False`
    records sizes only (shapes-only compile)."""
    tensors: list[TensorEntry] = []
    tensor_id: dict[SSAValue, int] = {}
    image: dict[int, bytes | None] = {}
    inputs: dict[int, int] = {}
    outputs: dict[int, int] = {}
    stages: list[StageConfig] = []
    streams: list[StreamEntry] = []
    kernels: list[KernelEntry] = []

    for op in module.body.block.ops:
        if isinstance(op, rdu.TensorOp):
            tid = len(tensors)
            dtype, shape = dtype_of(op.result.type), shape_of(op.result.type)
            if op.offset is None:
                raise ValueError(f"tensor {op.sym_name.data} has no address: run rdu-plan-memory first")
            tensors.append(TensorEntry(
                tid, op.sym_name.data, dtype, shape, op.tier.data, op.offset.value.data,
                nbytes_of(dtype, shape), op.role.data, op.source.data if op.source else "",
            ))
            tensor_id[op.result] = tid
            role = op.role.data
            if role == "weight":
                data = weights[op.sym_name.data].data
                image[tid] = data if values else None
            elif role == "constant":
                fill = attr_value(op.value)
                image[tid] = array_to_bytes(np.full(shape, fill), dtype) if values else None
            elif role == "input":
                inputs[op.index.value.data] = tid
            elif role == "output":
                outputs[op.index.value.data] = tid
        elif isinstance(op, rdu.KernelOp):
            kid = len(kernels)
            stage_ids = _emit_kernel(op, kid, tensor_id, stages, streams, router, chip)
            section = op.section.value.data if op.section is not None else 0
            kernels.append(KernelEntry(kid, op.sym_name.data, section, tuple(stage_ids)))

    members: dict[int, list[int]] = {}
    for k in kernels:
        members.setdefault(k.section, []).append(k.id)
    sections = [SectionEntry(sid, f"section{sid}", tuple(ids)) for sid, ids in sorted(members.items())]
    return Bitstream(
        chip=chip.name,
        manifest=manifest,
        tensors=tensors,
        stages=stages,
        streams=streams,
        kernels=kernels,
        sections=sections,
        image=image,
        inputs=[inputs[i] for i in sorted(inputs)],
        outputs=[outputs[i] for i in sorted(outputs)],
    )


def _tile_bytes(producer: rdu.StageOp, consumers: list[rdu.StageOp], nbytes: int, chip: ChipSpec) -> int:
    """The unit a stream hands over in: a buffer's tile on either end, else half a PMU."""
    for op in [producer, *consumers]:
        if isinstance(op, rdu.BufferOp) and op.tile_bytes.value.data:
            return min(nbytes, op.tile_bytes.value.data)
    return min(nbytes, chip.pmu.sram_bytes // 2)


def _emit_kernel(kernel: rdu.KernelOp, kid: int, tensor_id: dict[SSAValue, int], stages: list[StageConfig],
                 streams: list[StreamEntry], router: Router, chip: ChipSpec) -> list[int]:
    stage_id: dict[rdu.StageOp, int] = {}
    stream_id: dict[SSAValue, int] = {}
    ops = kernel.stages()
    for op in ops:
        stage_id[op] = len(stages) + len(stage_id)
    first_stream = len(streams)
    for op in ops:
        for result in op.results:
            stream_id[result] = first_stream + len(stream_id)

    ids = []
    for op in ops:
        sid = stage_id[op]
        ids.append(sid)
        tensor, buffer_bytes, attrs = -1, 0, {}
        if isinstance(op, rdu.LoadOp):
            opcode, ins, tensor = "load", [], tensor_id[op.tensor]
        elif isinstance(op, rdu.StoreOp):
            opcode, ins, tensor = "store", [stream_id[op.value]], tensor_id[op.tensor]
        elif isinstance(op, rdu.BufferOp):
            opcode, ins, buffer_bytes = "buffer", [stream_id[op.input]], op.bytes.value.data
        else:
            assert isinstance(op, rdu.ComputeOp)
            opcode, ins, attrs = op.opcode.data, [stream_id[v] for v in op.inputs], op.param_values()
            buffer_bytes = op.bytes.value.data if op.bytes is not None else 0
        label = f"{kernel.sym_name.data}/{opcode}"
        if isinstance(op, rdu.ComputeOp) and op.source is not None:
            label += f" @ {op.source.data}"
        stages.append(StageConfig(
            sid, kid, op.unit_kind, opcode, tuple(op.site_list()), tuple(ins),
            tuple(stream_id[r] for r in op.results), attrs, tensor, buffer_bytes, label,
        ))

    op_of_id = {sid: op for op, sid in stage_id.items()}
    for op in ops:
        for result in op.results:
            consumers = sorted({stage_id[u.operation] for u in result.uses if u.operation in stage_id})
            dst_ops = [op_of_id[c] for c in consumers]
            hops, links = router(op.site_list(), [d.site_list() for d in dst_ops], "vector")
            dtype, shape = dtype_of(result.type), shape_of(result.type)
            streams.append(StreamEntry(
                stream_id[result], stage_id[op], tuple(consumers), dtype, shape, "vector",
                _tile_bytes(op, dst_ops, nbytes_of(dtype, shape), chip), tuple(hops), tuple(links),
            ))
    return ids
