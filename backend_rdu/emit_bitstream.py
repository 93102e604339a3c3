"""Turn a placed, routed rdu module into a Bitstream, from the module alone.

Everything the bitstream holds is in the IR by now: the target chip (`rdu.target`), tensors with
their tiers, addresses and (for weights) their bytes as dense resources, stages with their sites,
tile sizes, FIFO depths and routes, kernels with their sections, the placement summary. Emission decides
nothing; it numbers things in program order (so the same module always gives the same bytes) and
copies. The manifest is the module's too: model name (the module's `sym_name`), chip, placement
summary, counts and versions, so `.mlir` -> `.rbit` gives the same bytes as a whole compile.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from xdsl.dialects.builtin import DenseResourceAttr, ModuleOp
from xdsl.ir import SSAValue

import bitstream_format
from bitstream_format import (Bitstream, KernelEntry, Pattern, SectionEntry, StageConfig, StreamEntry, TensorEntry,
                              TileProgram)
from bitstream_format.arrays import array_to_bytes
from bitstream_format.model import nbytes_of
from backend_rdu.emit_loop import loop_program
from backend_rdu.emit_node import node_program, split_weight_image
from chip_model import load_chip
from dialects import rdu
from dialects.diagnostics import PassOrderError
from dialects.rgraph import attr_value
from dialects.types import dtype_of, shape_of

COMPILER_VERSION = "0.1.0"


def weight_bytes(tensor: rdu.TensorOp) -> bytes | None:
    """A weight's bytes from its dense resource, or None if the module holds only its shape."""
    if not isinstance(tensor.value, DenseResourceAttr):
        return None
    from dialects.resources import resource_bytes

    return resource_bytes(tensor.value)


def emit_module(module: ModuleOp) -> bytes:
    """The encoded bitstream of a module that has been through the whole rdu pipeline."""
    return bitstream_format.encode(emit_bitstream(module))


def emit_bitstream(module: ModuleOp, layer_weights: Sequence[dict[str, bytes | None]] | None = None) -> Bitstream:
    """The bitstream of a placed, routed, sectioned module. A module holding only the shapes of
    its weights (no resource) records sizes only, for every tensor (shapes-only compile). A layer
    loop's iterations 1.. take their weights from `layer_weights` (emit_loop)."""
    rdu.require_lowered(module, "bitstream emission")
    chip = load_chip(rdu.chip_of(module, "bitstream emission"))
    weights = [t for t in rdu.tensors(module) if t.role_name in ("weight", "state")]
    values = all(isinstance(t.value, DenseResourceAttr) for t in weights)
    tensors: list[TensorEntry] = []
    tensor_id: dict[SSAValue, int] = {}
    image: dict[int, bytes | None] = {}
    inputs: dict[int, int] = {}
    outputs: dict[int, int] = {}
    stages: list[StageConfig] = []
    streams: list[StreamEntry] = []
    kernels: list[KernelEntry] = []
    tiles: list[TileProgram] = []
    wholes: dict[int, bytes | None] = {}
    tensor_ops: dict[int, rdu.TensorOp] = {}

    for op in module.body.block.ops:
        if isinstance(op, rdu.TensorOp):
            tid = len(tensors)
            dtype, shape = dtype_of(op.result.type), shape_of(op.result.type)
            if op.offset is None:
                raise PassOrderError(f"tensor {op.sym_name.data} has no address: run rdu-plan-memory first")
            role = op.role_name
            tensors.append(TensorEntry(
                tid, op.sym_name.data, dtype, shape, op.tier_name, op.offset.value.data,
                nbytes_of(dtype, shape), role, rdu.source_text(op),
            ))
            tensor_id[op.result] = tid
            if role in ("weight", "state"):  # a state's image is its value before the first run
                image[tid] = weight_bytes(op) if values else None
                if op.shard is not None:  # tensor parallel: the image holds socket 0's part (emit_node)
                    wholes[tid] = image[tid]
                    image[tid] = split_weight_image(op, image[tid], dtype)
            elif role == "constant":
                image[tid] = array_to_bytes(np.full(shape, attr_value(op.value)), dtype) if values else None
            elif role == "input":
                inputs[op.index.value.data] = tid
            if op.shard is not None:
                tensor_ops[tid] = op
            elif role == "output":
                outputs[op.index.value.data] = tid
        elif isinstance(op, rdu.KernelOp):
            kid = len(kernels)
            stage_ids = _emit_kernel(op, kid, tensor_id, stages, streams, tiles)
            section = op.section.value.data if op.section is not None else 0
            kernels.append(KernelEntry(kid, op.sym_name.data, section, tuple(stage_ids)))

    members: dict[int, list[int]] = {}
    for k in kernels:
        members.setdefault(k.section, []).append(k.id)
    sections = [SectionEntry(sid, f"section{sid}", tuple(ids)) for sid, ids in sorted(members.items())]
    bs = Bitstream(
        chip=chip.name,
        manifest={},
        tensors=tensors,
        stages=stages,
        streams=streams,
        kernels=kernels,
        sections=sections,
        image=image,
        inputs=[inputs[i] for i in sorted(inputs)],
        outputs=[outputs[i] for i in sorted(outputs)],
        tiles=tiles,
    )
    bs.node = node_program(module, bs, tensor_ops, wholes)
    bs.loop = loop_program(module, bs, chip, layer_weights)
    bs.manifest = manifest(module, chip.name, usage_counts(bs))
    if bs.node is not None:
        bs.manifest["sockets"] = bs.node.sockets
        bs.manifest["node"] = bs.node.node
    if bs.loop is not None:
        bs.manifest["loop_trips"] = bs.loop.trips
    return bs


def manifest(module: ModuleOp, chip_name: str, counts: dict[str, int]) -> dict[str, Any]:
    """What the bitstream says about itself, all of it read from the module."""
    summary = rdu.placement_summary(module)
    return {
        "placement": summary.to_json() if summary is not None else {},
        "compiler": "rducc",
        "compiler_version": COMPILER_VERSION,
        "format_version": ".".join(map(str, bitstream_format.VERSION)),
        "model": module.sym_name.data if module.sym_name is not None else "",
        "chip": chip_name,
        **counts,
    }


def usage_counts(bs: Bitstream) -> dict[str, int]:
    """Kernels run one at a time, so units used is the most any one kernel occupies."""
    per_kernel: dict[int, dict[str, int]] = {}
    for st in bs.stages:
        counts = per_kernel.setdefault(st.kernel, {"pcu": 0, "pmu": 0, "agcu": 0})
        counts[st.unit] += len(st.sites)
    peak = {k: max((c[k] for c in per_kernel.values()), default=0) for k in ("pcu", "pmu", "agcu")}
    return {
        "kernels": len(bs.kernels),
        "stages": len(bs.stages),
        "streams": len(bs.streams),
        "pcus_used": peak["pcu"],
        "pmus_used": peak["pmu"],
        "agcus_used": peak["agcu"],
    }


def tile_program(op: rdu.StageOp, sid: int) -> TileProgram:
    """A stage's tile program as rdu-tile recorded it."""
    loop = op.tile_loop
    sram = op.sram
    patterns = tuple(Pattern(p.space.data, *p.values()) for p in (op.patterns.data if op.patterns is not None else ()))
    return TileProgram(
        sid, loop.kind.data, loop.grid_values(), loop.tile_values(), loop.order.data, loop.reduce.data, loop.reuse.data,
        *((sram.base.data, sram.bytes.data, sram.slots.data, sram.tile.data) if sram is not None else (0, 0, 0, 0)),
        patterns, loop.restream.data, loop.passes.data,
    )


def _emit_kernel(kernel: rdu.KernelOp, kid: int, tensor_id: dict[SSAValue, int], stages: list[StageConfig],
                 streams: list[StreamEntry], tiles: list[TileProgram]) -> list[int]:
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
        if op.routes is None or op.tiles is None or op.depths is None:
            missing = "rdu-route" if op.routes is None else "rdu-allocate-units"
            what = "routes" if op.routes is None else "tile sizes" if op.tiles is None else "FIFO depths"
            raise PassOrderError(f"{op.name} in kernel {kernel.sym_name.data} has no {what}: run {missing} first")
        if op.tile_loop is None:
            raise PassOrderError(f"{op.name} in kernel {kernel.sym_name.data} has no tile program: run rdu-tile first")
        sid = stage_id[op]
        tiles.append(tile_program(op, sid))
        ids.append(sid)
        tensor, buffer_bytes, attrs = -1, 0, {}
        if isinstance(op, rdu.LoadOp):
            opcode, ins, tensor = "load", [], tensor_id[op.tensor]
        elif isinstance(op, rdu.StoreOp):
            opcode, ins, tensor = "store", [stream_id[op.value]], tensor_id[op.tensor]
        elif isinstance(op, rdu.StoreRowsOp):
            opcode, ins, tensor = "store_rows", [stream_id[op.value], stream_id[op.index]], tensor_id[op.tensor]
            attrs = {"dim": op.dim.value.data}
        elif isinstance(op, rdu.LoadRowsOp):
            opcode, ins, tensor = "load_rows", [stream_id[op.index]], tensor_id[op.tensor]
            attrs = {"dim": op.dim.value.data}
        elif isinstance(op, rdu.BufferOp):
            opcode, ins, buffer_bytes = "buffer", [stream_id[op.input]], op.bytes.value.data
        else:
            assert isinstance(op, rdu.ComputeOp)
            opcode, ins, attrs = op.opcode.data, [stream_id[v] for v in op.inputs], op.param_values()
            buffer_bytes = op.bytes.value.data if op.bytes is not None else 0
        scope = rdu.scope_of(op) if isinstance(op, rdu.ComputeOp) else None
        label = f"{scope or kernel.sym_name.data}/{opcode}"  # the module that ran the op, when known
        source = rdu.source_text(op) if isinstance(op, rdu.ComputeOp) else ""
        if source:
            label += f" @ {source}"
        stages.append(StageConfig(
            sid, kid, op.unit_kind, opcode, tuple(op.site_list()), tuple(ins),
            tuple(stream_id[r] for r in op.results), attrs, tensor, buffer_bytes, label,
        ))

    for op in ops:
        for result, tile, depth, route in zip(op.results, op.tile_list(), op.depth_list(), op.routes.data):
            consumers = tuple(stage_id[c] for c in op.consumers(result))
            links = tuple((a[0], a[1], b[0], b[1]) for a, b in route.links)
            streams.append(StreamEntry(
                stream_id[result], stage_id[op], consumers, dtype_of(result.type), shape_of(result.type), route.network,
                tile, route.hops, links, depth,
            ))
    return ids
