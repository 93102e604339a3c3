"""Human-readable and JSON views of a decoded bitstream, for `rducc inspect`."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict
from typing import Any

from bitstream_format import Bitstream, TileProgram


def to_json(bs: Bitstream, section: str | None = None) -> dict[str, Any]:
    full = {
        "chip": bs.chip,
        "manifest": bs.manifest,
        "tensors": [asdict(t) for t in bs.tensors],
        "kernels": [asdict(k) for k in bs.kernels],
        "stages": [asdict(s) for s in bs.stages],
        "streams": [asdict(s) for s in bs.streams],
        "sections": [asdict(s) for s in bs.sections],
        "tiles": [tile_json(bs, t) for t in bs.tiles],
        "image": {str(tid): (len(d) if d is not None else None) for tid, d in sorted(bs.image.items())},
        "inputs": bs.inputs,
        "outputs": bs.outputs,
    }
    from compiler.inspect_node import node_use

    if bs.node is not None:
        full["node"] = node_use(bs)
    if bs.loop is not None:
        full["loop"] = loop_json(bs)
    return {section: full[section]} if section else full


def loop_json(bs: Bitstream) -> dict[str, Any]:
    """The LOOP section: trip count, carries and every looped tensor's per-iteration addresses, by name."""
    from bitstream_format.loop_program import loop_hbm_bytes

    loop = bs.loop
    name = lambda tid: bs.tensor(tid).name  # noqa: E731
    return {"name": loop.name, "trips": loop.trips, "kernels": list(loop.kernels), "launch": loop.launch,
            "prologue": list(loop.prologue), "epilogue": list(loop.epilogue),
            "iteration_launch_cycles": loop.iteration_launch_cycles,
            "carries": [{"output": name(o), "input": name(n)} for o, n in loop.carries],
            "addresses": [{"tensor": name(a.tensor), "tier": bs.tensor(a.tensor).tier, "base": a.base, "stride": a.stride,
                           "images": sum(1 for (t, _) in loop.images if t == a.tensor)} for a in loop.addresses],
            "resident_hbm_bytes": loop_hbm_bytes(bs)}


def describe_loop(bs: Bitstream) -> list[str]:
    if bs.loop is None:
        return []
    j = loop_json(bs)
    carries = ", ".join(f"{c['output']} -> {c['input']}" for c in j["carries"])
    inputs = [bs.tensor(a.tensor).name for a in bs.loop.addresses if bs.tensor(a.tensor).role == "input"]
    names = {k.id: k.name for k in bs.kernels}
    return [f"  loop {j['name']!r}: {j['trips']} iterations of {len(j['kernels'])} kernel(s), {j['launch']} launch "
            f"({j['iteration_launch_cycles']:,} cycles per iteration); carries {carries}; per layer: "
            f"{len(j['addresses']) - len(inputs)} weights" + (f", inputs {', '.join(inputs)}" if inputs else "")
            + f"; {sum(a['images'] for a in j['addresses'])} images of later layers, resident HBM {_mb(j['resident_hbm_bytes'])}"
            + (f"; prologue {', '.join(names[k] for k in bs.loop.prologue) or '-'}, epilogue "
               f"{', '.join(names[k] for k in bs.loop.epilogue) or '-'} (run once)" if bs.loop.whole_step else "")]


def tile_json(bs: Bitstream, t: TileProgram) -> dict[str, Any]:
    """One stage's tile program with the stage it belongs to named (label, opcode, unit)."""
    s = bs.stage(t.stage)
    return {"stage": t.stage, "label": s.label, "opcode": s.opcode, "unit": s.unit, "units": len(s.sites),
            **{k: v for k, v in asdict(t).items() if k != "stage"}, "trip_count": t.trip_count,
            "sram_end": t.sram_base + t.sram_bytes}


def describe_tiles(bs: Bitstream) -> list[str]:
    """Per stage: the loop (kind, grid of tiles, tile shape, order, reduction, reused operand),
    the SRAM range each of its PMUs holds and its ring slots, then the address patterns."""
    lines = [f"tile programs: {len(bs.tiles)} stages"]
    for t in bs.tiles:
        s = bs.stage(t.stage)
        loop = f"{t.kind} grid={list(t.grid)} tile={list(t.tile)} order={t.order or '-'}"
        loop += f" reduce={t.reduce}" if t.reduce != "none" else ""
        loop += f" reuse={t.reuse}" if t.reuse else ""
        sram = (f"  sram=[{t.sram_base:#x}, {t.sram_base + t.sram_bytes:#x}) {t.sram_slots} slot(s) x {t.sram_tile} B"
                if t.sram_bytes else "")
        lines.append(f"  #{t.stage:<5} {s.unit:4} x{len(s.sites):<3} {s.opcode:12} {loop} ({t.trip_count} tiles){sram}"
                     f"  {s.label}")
        for p in t.patterns:
            lines.append(f"      {p.space}: offset {p.offset:#x} + j*{p.stride}, {p.count} x {p.tile} B within {p.extent} B")
    return lines


def _mb(n: int) -> str:
    return f"{n / 1e6:,.3f} MB" if n >= 1e5 else f"{n:,} B"


def describe(bs: Bitstream, data: bytes, section: str | None = None) -> str:
    lines: list[str] = []
    m = bs.manifest
    if section in (None, "manifest"):
        lines.append(f"rducc bitstream v{m.get('format_version', '?')} for chip {bs.chip!r}: {len(data):,} bytes, checksum ok")
        placement = m.get("placement") or {}
        lines.append(f"  model {m.get('model')!r}, placed by {placement.get('method', '?')} (seed {placement.get('seed', '?')})")
        lines.append(f"  {len(bs.kernels)} kernels, {len(bs.stages)} stages, {len(bs.streams)} streams, "
                     f"{len(bs.sections)} section(s); peak use {m.get('pcus_used')} PCUs, {m.get('pmus_used')} PMUs, "
                     f"{m.get('agcus_used')} AGCUs")
        from compiler.inspect_node import describe_node

        lines += describe_node(bs)
        lines += describe_loop(bs)
    if section in (None, "tensors"):
        by_tier: Counter[str] = Counter()
        for t in bs.tensors:
            by_tier[t.tier] += t.nbytes
        lines.append("tensors: " + ", ".join(f"{tier.upper()} {_mb(n)}" for tier, n in sorted(by_tier.items())))
        spills = [t for t in bs.tensors if t.role == "spill"]
        if spills:  # rdu-size-fifos split a kernel at a join the SRAM could not buffer (passes/spill.py)
            lines.append(f"spills: {len(spills)} reconvergent branch(es) through {'/'.join(sorted({t.tier.upper() for t in spills}))}, "
                         f"{_mb(sum(t.nbytes for t in spills))} written and read back between kernels")
        shown = bs.tensors if section == "tensors" else [t for t in bs.tensors if t.role in ("input", "output", "spill")]
        for t in shown:
            lines.append(f"  #{t.id:<4} {t.role:10} {t.name:24} {t.dtype}{list(t.shape)}  {t.tier}@{t.offset:#x} "
                         f"({_mb(t.nbytes)}) {t.source}")
        if section is None and len(shown) < len(bs.tensors):
            lines.append(f"  ... {len(bs.tensors) - len(shown)} weights, constants and activations (--section tensors)")
    if section in (None, "kernels"):
        lines.append("kernels:")
        stages = {s.id: s for s in bs.stages}
        shown_k = bs.kernels if section == "kernels" else bs.kernels[:20]
        for k in shown_k:
            units = Counter()
            for sid in k.stages:
                units[stages[sid].unit] += len(stages[sid].sites)
            ops = [stages[sid].opcode for sid in k.stages if stages[sid].unit != "agcu" and stages[sid].opcode != "buffer"]
            lines.append(f"  {k.name:28} {units['pcu']:4} PCU {units['pmu']:4} PMU {units['agcu']:3} AGCU  {' '.join(ops)}")
        if len(shown_k) < len(bs.kernels):
            lines.append(f"  ... {len(bs.kernels) - len(shown_k)} more (--section kernels)")
    if section == "stages":
        for s in bs.stages:
            lines.append(f"  #{s.id:<5} k{s.kernel:<4} {s.unit:4} {s.opcode:12} sites={list(s.sites)} in={list(s.inputs)} "
                         f"out={list(s.outputs)} attrs={s.attrs} sram={s.buffer_bytes} {s.label}")
    if section == "streams":
        for s in bs.streams:
            lines.append(f"  #{s.id:<5} {s.src}->{list(s.dsts)} {s.dtype}{list(s.shape)} tile={s.tile_bytes} "
                         f"hops={list(s.hops)} links={len(s.links)}")
    if section == "tiles":
        lines += describe_tiles(bs)
    if section in (None, "image"):
        valued = sum(len(d) for d in bs.image.values() if d is not None)
        sized = sum(bs.tensor(t).nbytes for t, d in bs.image.items() if d is None)
        lines.append(f"memory image: {len(bs.image)} tensors, {_mb(valued)} of values"
                     + (f", {_mb(sized)} recorded by size only (shapes-only compile)" if sized else ""))
    return "\n".join(lines)
