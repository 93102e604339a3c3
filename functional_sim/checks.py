"""Static checks of a decoded bitstream against the chip, before anything runs or is timed.

A bitstream that references a missing site, puts a stage on the wrong kind of unit, overfills a
PMU, or places a tensor beyond a memory's capacity describes hardware that cannot exist; its
timing would be fiction, so these checks run whether or not the program is executed.
"""

from __future__ import annotations

from collections import defaultdict

from bitstream_format import DTYPES, OPCODES, Bitstream, KernelEntry, Pattern, StageConfig, StreamEntry, TileProgram, nbytes_of
from chip_model import ChipSpec

from functional_sim.errors import SimulationError
from functional_sim.memory import OFF_CHIP, describe


def stage_name(s: StageConfig) -> str:
    return f"stage {s.label or s.opcode!r} (id {s.id}, {s.opcode})"


def check_bitstream(bs: Bitstream, chip: ChipSpec) -> None:
    for what, items, index in (
        ("tensor", bs.tensors, bs._tensor_index),
        ("stage", bs.stages, bs._stage_index),
        ("stream", bs.streams, bs._stream_index),
    ):
        if len(index) != len(items):
            raise SimulationError(f"two {what} entries share an id")
    _check_tensors(bs, chip)
    _check_streams(bs)
    kinds = {(site.x, site.y): site.kind for site in chip.grid.sites}
    sections = {sec.id: sec for sec in bs.sections}
    owner: dict[int, int] = {}
    for k in bs.kernels:
        if k.section not in sections:
            raise SimulationError(f"kernel {k.name!r} (id {k.id}) names section {k.section}, which does not exist")
        if k.id not in sections[k.section].kernels:
            raise SimulationError(f"kernel {k.name!r} (id {k.id}) names section {k.section}, which does not list it")
        for sid in k.stages:
            if sid not in bs._stage_index:
                raise SimulationError(f"kernel {k.name!r} lists stage {sid}, which does not exist")
            if sid in owner:
                raise SimulationError(f"stage {sid} is listed by kernel {owner[sid]} and kernel {k.id}")
            owner[sid] = k.id
            _check_stage(bs, chip, kinds, k, bs.stage(sid))
        _check_kernel_sites(bs, chip, k)
        _check_order(bs, k)
    for s in bs.stages:
        _check_tile_program(bs, chip, s)
    from functional_sim.rereads import check_rereads  # (it names stages as this module does)

    check_rereads(bs)


def _check_tensors(bs: Bitstream, chip: ChipSpec) -> None:
    for t in bs.tensors:
        if t.tier not in OFF_CHIP:
            raise SimulationError(f"{describe(t)} lives in tier {t.tier!r}; tensors must live in hbm or ddr")
        if t.dtype not in DTYPES:
            raise SimulationError(f"{describe(t)} has unknown dtype {t.dtype!r}")
        size = nbytes_of(t.dtype, t.shape)
        if t.nbytes < size:
            raise SimulationError(f"{describe(t)} records {t.nbytes} bytes but its {t.dtype}{list(t.shape)} value needs {size}")
        capacity = chip.tier(t.tier).capacity_bytes
        if t.offset < 0 or t.offset + t.nbytes > capacity:
            raise SimulationError(
                f"{describe(t)} of {t.nbytes} bytes at {t.tier} offset {t.offset:#x} exceeds the "
                f"{t.tier} capacity of {capacity} bytes"
            )
    for what, ids in (("image", list(bs.image)), ("input", bs.inputs), ("output", bs.outputs)):
        for tid in ids:
            if tid not in bs._tensor_index:
                raise SimulationError(f"the {what} list names tensor {tid}, which does not exist")
    for tid, data in bs.image.items():
        if data is not None and len(data) != bs.tensor(tid).nbytes:
            t = bs.tensor(tid)
            raise SimulationError(f"memory image of {describe(t)} has {len(data)} bytes, expected {t.nbytes}")


def _check_streams(bs: Bitstream) -> None:
    for st in bs.streams:
        for sid in (st.src, *st.dsts):
            if sid not in bs._stage_index:
                raise SimulationError(f"stream {st.id} connects stage {sid}, which does not exist")
        if st.dtype not in DTYPES:
            raise SimulationError(f"stream {st.id} has unknown dtype {st.dtype!r}")
        if st.hops and len(st.hops) != len(st.dsts):
            raise SimulationError(f"stream {st.id} has {len(st.hops)} hop counts for {len(st.dsts)} destinations")
        _check_credits(bs, st)


def _check_credits(bs: Bitstream, st: StreamEntry) -> None:
    """A FIFO needs at least one credit, and the credits of a stream a `buffer` stage holds are tiles
    in that stage's SRAM: more credits than its `buffer_bytes` hold describe memory that is not
    there; both are named before anything runs. (A PMU compute stage's output is not checked: its
    `buffer_bytes` is its working set, and the tile it hands over may be larger today.)"""
    src = bs.stage(st.src)
    if st.fifo_depth < 1:
        raise SimulationError(f"{stage_name(src)}: its output stream {st.id} has FIFO depth {st.fifo_depth}: "
                              f"a stream needs at least one credit (one tile)")
    if src.opcode == "buffer" and st.nbytes > 0:
        tile = min(st.tile_bytes, st.nbytes) if st.tile_bytes > 0 else st.nbytes
        held = min(st.fifo_depth, -(-st.nbytes // tile))  # credits beyond the value's tiles hold nothing
        need = -(-held * tile // max(1, len(src.sites)))
        if need > src.buffer_bytes:
            raise SimulationError(
                f"{stage_name(src)}: its output stream {st.id} has {st.fifo_depth} credits of {tile}-byte tiles, "
                f"{need} bytes per PMU, but the stage buffers {src.buffer_bytes} bytes per PMU"
            )


def _check_stage(
    bs: Bitstream, chip: ChipSpec, kinds: dict[tuple[int, int], str], k: KernelEntry, s: StageConfig
) -> None:
    name = stage_name(s)
    if s.kernel != k.id:
        raise SimulationError(f"{name} says it belongs to kernel {s.kernel} but kernel {k.id} lists it")
    op = OPCODES.get(s.opcode)
    if op is None:
        raise SimulationError(f"{name} has unknown opcode {s.opcode!r}")
    if s.unit != op.unit:
        raise SimulationError(f"{name} runs on a {s.unit} but opcode {s.opcode} executes on a {op.unit}")
    if not s.sites:
        raise SimulationError(f"{name} occupies no site")
    for xy in s.sites:
        kind = kinds.get(tuple(xy))
        if kind is None:
            raise SimulationError(f"{name} claims site {tuple(xy)}, which does not exist on chip {chip.name!r}")
        if kind != s.unit:
            raise SimulationError(f"{name} is a {s.unit} stage but site {tuple(xy)} is a {kind}")
    if s.opcode == "store_rows":
        if s.tensor not in bs._tensor_index:
            raise SimulationError(f"{name} names tensor {s.tensor}, which does not exist")
        if len(s.inputs) != 2 or s.outputs:
            raise SimulationError(f"{name} must have 2 inputs (rows, index) and 0 outputs")
        if bs.tensor(s.tensor).role != "state":
            raise SimulationError(f"{name} writes rows into tensor {bs.tensor(s.tensor).name!r} of role "
                                  f"{bs.tensor(s.tensor).role}; rows are written in place only into state")
    if s.opcode == "load_rows":
        if s.tensor not in bs._tensor_index:
            raise SimulationError(f"{name} names tensor {s.tensor}, which does not exist")
        if len(s.inputs) != 1 or len(s.outputs) != 1:
            raise SimulationError(f"{name} must have 1 input (index) and 1 output (the rows)")
        if bs.tensor(s.tensor).role not in ("weight", "state", "input"):
            raise SimulationError(f"{name} reads rows of tensor {bs.tensor(s.tensor).name!r} of role "
                                  f"{bs.tensor(s.tensor).role}; rows are read only from a weight, a state or an input")
    if s.opcode in ("load", "store"):
        if s.tensor not in bs._tensor_index:
            raise SimulationError(f"{name} names tensor {s.tensor}, which does not exist")
        want = (0, "at least 1") if s.opcode == "load" else (1, "0")
        if len(s.inputs) != want[0] or (s.opcode == "load" and not s.outputs) or (s.opcode == "store" and s.outputs):
            raise SimulationError(f"{name} must have {want[0]} input(s) and {want[1]} output(s)")
    for port, sid in enumerate(s.inputs):
        st = bs._stream_index.get(sid)
        if st is None:
            raise SimulationError(f"{name} input {port} is stream {sid}, which does not exist")
        if s.id not in st.dsts:
            raise SimulationError(f"{name} reads stream {sid}, but the stream does not list it as a destination")
    for port, sid in enumerate(s.outputs):
        st = bs._stream_index.get(sid)
        if st is None:
            raise SimulationError(f"{name} output {port} is stream {sid}, which does not exist")
        if st.src != s.id:
            raise SimulationError(f"{name} writes stream {sid}, whose source is stage {st.src}")


def _check_kernel_sites(bs: Bitstream, chip: ChipSpec, k: KernelEntry) -> None:
    """SRAM first by stage (a stage that alone overruns its PMUs is the one to name, e.g. a tile
    forced 16x larger), then by PMU, naming the stages that share it; then one stage per site."""
    claimed: dict[tuple[int, int], int] = {}
    sram: dict[tuple[int, int], list[StageConfig]] = defaultdict(list)
    capacity = chip.pmu.sram_bytes
    for sid in k.stages:
        s = bs.stage(sid)
        if s.unit == "pmu":
            if s.buffer_bytes > capacity:
                raise SimulationError(f"kernel {k.name!r}: {stage_name(s)} holds {s.buffer_bytes} bytes of SRAM on "
                                      f"each of its {len(s.sites)} PMU(s), but a PMU holds {capacity}")
            for xy in s.sites:
                sram[tuple(xy)].append(s)
    for xy, users in sram.items():
        used = sum(s.buffer_bytes for s in users)
        if used > capacity:
            by = ", ".join(f"{stage_name(s)} {s.buffer_bytes}" for s in users)
            raise SimulationError(f"kernel {k.name!r}: PMU {xy} is asked for {used} bytes of SRAM but holds "
                                  f"{capacity} ({by})")
    for sid in k.stages:
        for xy in bs.stage(sid).sites:
            xy = tuple(xy)
            if xy in claimed and claimed[xy] != sid:
                raise SimulationError(
                    f"kernel {k.name!r}: site {xy} is claimed by both stage {claimed[xy]} and stage {sid}"
                )
            claimed[xy] = sid


def _check_order(bs: Bitstream, k: KernelEntry) -> None:
    """Stages must be listed producers first: a stage runs once all its input streams hold values."""
    done: set[int] = set()
    for sid in k.stages:
        s = bs.stage(sid)
        for port, stream in enumerate(s.inputs):
            src = bs.stream(stream).src
            if src not in done:
                where = "runs later in this kernel" if src in k.stages else "is not in this kernel"
                raise SimulationError(
                    f"kernel {k.name!r}: {stage_name(s)} input {port} (stream {stream}) holds no value "
                    f"when it runs: its producer, stage {src}, {where}"
                )
        done.add(sid)


STREAM_STAGES = ("load", "load_rows", "store", "store_rows", "buffer")
WINDOW_OPCODES = {"transpose": ("permute",), "repeat": ("expand",)}  # bitstream_format.tiling.WINDOW_ORDERS: their opcode
PATTERNS = {"load": 1, "load_rows": 1, "store": 1, "store_rows": 1, "buffer": 2}


def _check_tile_program(bs: Bitstream, chip: ChipSpec, s: StageConfig) -> None:
    """The stage's tile program describes hardware that exists: a loop of at least one tile, SRAM
    inside its PMUs, a buffer ring of at least one slot, address patterns inside their tensor or
    SRAM range, as many accesses as the loop has tiles (docs/bitstream.md, TILE)."""
    name = stage_name(s)
    prog = bs.tile_program(s.id)
    if prog is None:
        raise SimulationError(f"{name} has no tile program (section TILE)")
    if not prog.grid or any(g < 1 for g in prog.grid) or not prog.tile or any(t < 1 for t in prog.tile):
        raise SimulationError(f"{name}: its tile loop has grid {list(prog.grid)} and tile {list(prog.tile)}; "
                              f"every trip count and tile dim must be at least 1")
    if (s.opcode in STREAM_STAGES) != (prog.kind == "stream") and s.opcode != "reshape":
        raise SimulationError(f"{name}: a {prog.kind} tile loop cannot run opcode {s.opcode}")
    want = 4 if prog.order in WINDOW_OPCODES else PATTERNS.get(s.opcode, 0)  # a window stage: SRAM write, read (3.5)
    if len(prog.patterns) != want:
        raise SimulationError(f"{name}: its tile program has {len(prog.patterns)} address pattern(s), {s.opcode} takes {want}")
    capacity = chip.pmu.sram_bytes
    if s.unit == "pmu":
        end = prog.sram_base + prog.sram_bytes
        if prog.sram_base < 0 or prog.sram_bytes < 0 or end > capacity:
            raise SimulationError(f"{name}: its tile program holds SRAM [{prog.sram_base}, {end}) on each PMU, "
                                  f"overrunning the PMU's {capacity} bytes")
    if s.opcode == "buffer":
        if prog.sram_slots < 1 or any(p.count < 1 for p in prog.patterns):
            raise SimulationError(f"{name}: its SRAM ring has FIFO depth 0 (no tile slots); a buffer holds at "
                                  f"least one tile")
        if prog.sram_slots * prog.sram_tile > prog.sram_bytes:
            raise SimulationError(f"{name}: its ring of {prog.sram_slots} tiles of {prog.sram_tile} bytes overruns "
                                  f"its {prog.sram_bytes}-byte SRAM range")
        for what, p in zip(("write", "read"), prog.patterns):
            _check_pattern(name, f"{what} pattern", p, prog.tile[0], "sram", prog.sram_base,
                           prog.sram_base + prog.sram_bytes, "its SRAM range")
    elif prog.order in WINDOW_OPCODES:
        _check_window(bs, name, s, prog)
    elif s.opcode in ("load", "load_rows", "store", "store_rows"):  # *_rows: the rows lie inside the whole tensor
        t = bs.tensor(s.tensor)
        (p,) = prog.patterns
        if t.nbytes == 0:  # an empty tensor (a zero-size dim): the AGCU moves nothing
            return
        if p.count != prog.grid[0]:
            raise SimulationError(f"{name}: its tile loop runs {prog.grid[0]} tiles but its address pattern makes "
                                  f"{p.count} accesses")
        _check_pattern(name, "address pattern", p, prog.tile[0], t.tier, t.offset, t.offset + t.nbytes,
                       f"tensor {t.name!r} (id {t.id})")


def _check_window(bs: Bitstream, name: str, s: StageConfig, prog) -> None:
    """A window stage (`transpose`, `repeat`): a layout stage of one input, two or more window
    slots whose shares fit its SRAM range, and write and read patterns in `sram` that stay inside
    one window (docs/bitstream.md, TILE, windows)."""
    if prog.kind != "rows" or s.unit != "pmu" or len(s.inputs) != 1 or s.opcode not in WINDOW_OPCODES[prog.order]:
        raise SimulationError(f"{name}: a {prog.kind} loop of order {prog.order!r} cannot run opcode {s.opcode} "
                              f"on a {s.unit}")
    if prog.sram_slots < 1 or prog.sram_tile < 1 or prog.sram_slots * prog.sram_tile > prog.sram_bytes:
        raise SimulationError(f"{name}: its {prog.sram_slots} window slot(s) of {prog.sram_tile} bytes per PMU do not "
                              f"fit its {prog.sram_bytes}-byte SRAM range")
    window = prog.sram_tile * max(1, len(s.sites))
    for what, p in zip(("write outer", "write inner", "read outer", "read inner"), prog.patterns):
        _check_pattern(name, f"{what} pattern", p, p.tile, "sram", 0, window, "its window")
    for what, (outer, inner) in (("write", prog.patterns[:2]), ("read", prog.patterns[2:])):
        end = outer.offset + (outer.count - 1) * outer.stride + inner.offset + (inner.count - 1) * inner.stride + inner.tile
        if end > window:
            raise SimulationError(f"{name}: its {what} patterns reach byte {end} of a window, which holds {window}")


def _check_pattern(name: str, what: str, p: Pattern, tile: int, space: str, lo: int, hi: int, within: str) -> None:
    if p.space != space:
        raise SimulationError(f"{name}: its {what} addresses {p.space}, but {within} is in {space}")
    if p.count < 1 or p.tile < 1 or p.stride < 0 or p.extent < 1:
        raise SimulationError(f"{name}: its {what} needs count, tile and extent of at least 1 and a stride of at "
                              f"least 0, got count {p.count} tile {p.tile} extent {p.extent} stride {p.stride}")
    if p.tile != tile:
        raise SimulationError(f"{name}: its {what} moves tiles of {p.tile} bytes, its tile loop {tile}")
    last = p.offset + (p.count - 1) * p.stride
    end = max(p.offset + p.extent, min(last + p.tile, p.offset + p.extent))
    if p.offset < lo or end > hi or last >= p.offset + p.extent:
        raise SimulationError(f"{name}: its {what} reaches [{p.offset:#x}, {max(end, last + 1):#x}) in {p.space}, "
                              f"leaving {within} at [{lo:#x}, {hi:#x})")
