"""Turn a placed rdu module (plus the weight store) into a Bitstream.

Ids are assigned in program order, so the same module always gives the same bitstream. Every
stream is routed here, on the placed sites, and carries its routed hops and links.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import SSAValue

from bitstream_format import Bitstream, KernelEntry, SectionEntry, StageConfig, StreamEntry, TensorEntry
from bitstream_format.arrays import array_to_bytes
from bitstream_format.model import nbytes_of
from chip_model import ChipSpec
from dialects import rdu
from dialects.rgraph import attr_value
from dialects.types import dtype_of, shape_of

# (kernel's streams as (source sites, destination site groups)) -> per stream (hops per destination, links)
Router = Callable[[ChipSpec, list[tuple[list[tuple[int, int]], list[list[tuple[int, int]]]]]],
                  list[tuple[list[int], list[tuple[int, int, int, int]]]]]


def mesh_router(chip: ChipSpec, streams):
    """Route each stream over the mesh (negotiated congestion, multicast trees) between the
    producer's first unit and each consumer's first unit: the path a tile's head takes. The
    bandwidth of a stream's parallel paths is the simulator's business."""
    from backend_rdu.routing import Stream, route_streams

    positions: dict[str, tuple[int, int]] = {}
    requests = []
    for i, (src, dsts) in enumerate(streams):
        if not src or not dsts:
            continue
        source = f"{src[0][0]}_{src[0][1]}"
        positions[source] = tuple(src[0])
        targets = []
        for group in dsts:
            name = f"{group[0][0]}_{group[0][1]}"
            positions[name] = tuple(group[0])
            if name != source and name not in targets:
                targets.append(name)
        if targets:
            requests.append(Stream(f"s{i}", source, tuple(targets), "vector"))
    routes = route_streams(chip, positions, requests).routes if requests else {}
    out = []
    for i, (src, dsts) in enumerate(streams):
        route = routes.get(f"s{i}")
        if route is None:
            out.append(([0] * len(dsts), []))
            continue
        hops = [route.hops.get(f"{g[0][0]}_{g[0][1]}", 0) for g in dsts]
        links = [(a[0], a[1], b[0], b[1]) for a, b in route.links]
        out.append((hops, links))
    return out


def emit_bitstream(module: ModuleOp, weights: dict[str, Any], chip: ChipSpec, manifest: dict[str, Any],
                   router: Router = mesh_router, values: bool = True) -> Bitstream:
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
    pending = []
    for op in ops:
        for result in op.results:
            consumers = sorted({stage_id[u.operation] for u in result.uses if u.operation in stage_id})
            pending.append((op, result, [op_of_id[c] for c in consumers], consumers))
    routed = router(chip, [(op.site_list(), [d.site_list() for d in dsts]) for op, _, dsts, _ in pending])
    for (op, result, dst_ops, consumers), (hops, links) in zip(pending, routed):
        dtype, shape = dtype_of(result.type), shape_of(result.type)
        streams.append(StreamEntry(
            stream_id[result], stage_id[op], tuple(consumers), dtype, shape, "vector",
            _tile_bytes(op, dst_ops, nbytes_of(dtype, shape), chip), tuple(hops), tuple(links),
        ))
    return ids
