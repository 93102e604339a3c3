"""Compile once per architecture: compiled programs and their simulated timings, named by a
content hash and kept in an on-disk cache.

A program's key hashes everything that changes it: the architecture's dimensions (not its name,
not its weights: experts that share an architecture share the program and differ only in their
memory images), the part and shape (layer or head, phase, length bucket, batch), the tensor-
parallel degree and the node it runs on, the compile options, the chip spec, and the compiler's
version with a digest of its source (so a change to a pass never reuses a stale program).

A decoder's program is the REAL tensor-parallel one: the full-width layer (or head) compiled with
`CompileOptions(node=<the CoE's node>, tp=<its tp>)` (`rdu-shard{tp=N}`) and timed on the node by
`functional_sim.node.simulate_node` (timing only), so its all-reduces are stages the simulator
times on the peer links. A decoder's layer program is the whole decoder's layer loop
(`CompileOptions(layers=<its depth>)`, the LOOP section: hidden state carried, a decode layer's KV
cache its own per layer); its `ProgramTiming` is one layer alone (the loop's first iteration), and
the timer times the step from the file's loop. A program that does not compile at the asked level (e.g. a long prefill
that `rdu-size-fifos` cannot fit at -O1) is compiled at -O0 instead, one aten op per kernel
(`o0_granularity="aten"`: nothing to fit on the chip but one op, the most robust compile); its timing records
`opt_level` and the reason (`fallback`). The cache keeps the bitstream
(`<key>.rbit`) and its timing (`<key>.json`, written last: it marks the entry whole), so serving
never compiles or simulates per request, and a second `rducc coe serve` compiles nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any, Callable

from chip_model.node import NodeSpec
from compiler.coe.architecture import Architecture, DecoderArchitecture, ModelFileArchitecture
from compiler.coe.errors import CoEError
from compiler.tasks.files import write_atomically

SOURCE_PACKAGES = ("backend_rdu", "bitstream_format", "chip_model", "dialects", "functional_sim", "passes",
                   "compiler/frontend", "compiler/driver.py", "compiler/coe/decoder_model.py",
                   "compiler/coe/architecture.py", "compiler/generate.py")


TIMING_FORMAT = 3  # bump when ProgramTiming changes, so no stale entry lacks a field
# A decode layer's inputs: hidden state, rotary cos and sin, mask, then its K and V caches
# (architecture.decoder_program): in a layer loop the state is carried, the caches are each layer's own.
DECODE_LOOP_PER_LAYER = (4, 5)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rducc" / "coe"


@cache
def compiler_digest() -> str:
    """The compiler version and a digest of the source of everything that shapes a program or
    its timing."""
    from backend_rdu.emit_bitstream import COMPILER_VERSION

    root = Path(__file__).resolve().parents[2]
    h = hashlib.sha256(COMPILER_VERSION.encode())
    for name in SOURCE_PACKAGES:
        path = root / name
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            h.update(str(file.relative_to(root)).encode())
            h.update(file.read_bytes())
    return f"{COMPILER_VERSION}+{h.hexdigest()[:16]}"


@dataclass(frozen=True)
class ProgramShape:
    """Which program of an architecture: `part` layer | head | model, `phase` prefill | decode."""

    part: str
    phase: str
    length: int
    batch: int


@dataclass
class ProgramTiming:
    key: str
    seconds: float
    cycles: int
    kernels: int
    pcus_used: int
    pmus_used: int
    sram_bytes: int
    launch_seconds: float = 0.0  # of `seconds`: kernel launches
    fill_seconds: float = 0.0  # of `seconds`: pipeline fill (first tile through every stage)
    collective_seconds: float = 0.0  # of `seconds`: peer links busy with collectives (simulated)
    opt_level: int = 1  # the level it compiled at
    fallback: str = ""  # why it compiled at a lower level than asked ("" when it did not)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class ProgramCache:
    """Timings of compiled programs, in memory and (with a folder) on disk. `compiles` counts
    the compiles this process ran per architecture digest: the test of "150 experts of 5
    architectures compile 5 times"."""

    def __init__(self, node: NodeSpec, tp: int, options, root: Path | None = None):
        self.node = node
        self.tp = tp
        self.options = options
        self.root = root
        self.memory: dict[str, ProgramTiming] = {}
        self.compiles: Counter[str] = Counter()
        self.disk_hits = 0
        self.bitstreams: dict[str, bytes] = {}

    def key(self, arch: Architecture, shape: ProgramShape) -> str:
        text = json.dumps({"format": TIMING_FORMAT, "architecture": arch.key(), "shape": asdict(shape),
                           "options": asdict(self.compile_options(arch, shape)), "chip": _chip_fingerprint(self.node),
                           "compiler": compiler_digest(), "timing": "event"}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def compile_options(self, arch: Architecture, shape: ProgramShape | None = None):
        """A decoder compiles tensor-parallel for the node (`node`, `tp` in the options, so in the
        key), and its layer program (`shape.part == "layer"`) as a loop over its `layers`; a
        MODEL.py expert runs whole on one socket."""
        from dataclasses import replace

        options = self.options
        if isinstance(arch, DecoderArchitecture) and shape is not None and shape.part == "layer" and arch.layers > 1:
            options = replace(options, layers=arch.layers,
                              per_layer=DECODE_LOOP_PER_LAYER if shape.phase == "decode" else ())
        if isinstance(arch, DecoderArchitecture) and self.tp > 1:
            return replace(options, node=node_reference(self.node), tp=self.tp)
        return replace(options, node=None, tp=1)

    def _paths(self, key: str) -> tuple[Path, Path]:
        assert self.root is not None
        folder = self.root / "programs" / key[:2]
        return folder / f"{key}.rbit", folder / f"{key}.json"

    def cached(self, arch: Architecture, shape: ProgramShape) -> bool:
        key = self.key(arch, shape)
        return key in self.memory or (self.root is not None and self._paths(key)[1].exists())

    def timing(self, arch: Architecture, shape: ProgramShape,
               progress: Callable[[str], None] = lambda step: None) -> ProgramTiming:
        key = self.key(arch, shape)
        if key in self.memory:
            return self.memory[key]
        if self.root is not None:
            try:
                found = ProgramTiming(**json.loads(self._paths(key)[1].read_text()))
                self.disk_hits += 1
                self.memory[key] = found
                return found
            except (OSError, ValueError, TypeError):
                pass
        data, timing = self._compile_and_time(key, arch, shape, progress)
        self.compiles[arch.digest()] += 1
        if self.root is not None:
            rbit, meta = self._paths(key)
            write_atomically(rbit, data)
            write_atomically(meta, json.dumps(timing.to_json(), sort_keys=True).encode())
        self.memory[key] = timing
        self.bitstreams[key] = data
        return timing

    def program_bytes(self, arch: Architecture, shape: ProgramShape) -> bytes:
        """The compiled bitstream itself (for functional runs): from the cache, else compiled now."""
        key = self.key(arch, shape)
        if key in self.bitstreams:
            return self.bitstreams[key]
        if self.root is not None and self._paths(key)[0].exists() and self._paths(key)[1].exists():
            data = self._paths(key)[0].read_bytes()
        else:
            self.memory.pop(key, None)
            self.timing(arch, shape)
            data = self.bitstreams[key] if key in self.bitstreams else self._paths(key)[0].read_bytes()
        self.bitstreams[key] = data
        return data

    def _compile_and_time(self, key: str, arch: Architecture, shape: ProgramShape,
                          progress: Callable[[str], None]) -> tuple[bytes, ProgramTiming]:
        from dataclasses import replace

        from compiler.coe.architecture import decoder_program
        from compiler.frontend.model_file import LoadedModel, load_model_file
        from rducc_errors import UserError

        progress(f"compile {arch.name} {shape.part} {shape.phase} {shape.length} x{shape.batch}")
        try:
            if isinstance(arch, ModelFileArchitecture):
                loaded = load_model_file(arch.path)
                if shape.phase == "decode":
                    loaded = DecodeStep.of(loaded, shape.length)
            else:
                module, inputs = decoder_program(arch, shape.part, shape.phase, shape.length, shape.batch)
                loaded = LoadedModel(Path(f"{arch.name.replace('/', '_')}-{shape.part}.py"), module, inputs)
        except UserError as exc:
            raise CoEError(f"expert architecture {arch.name!r} does not compile: {' '.join(str(exc).split())}") from None
        options = self.compile_options(arch, shape)
        try:
            return self._compile_once(key, loaded, options, "")
        except UserError as exc:
            reason = " ".join(str(exc).split())
            if options.opt_level == 0:
                raise CoEError(f"expert architecture {arch.name!r} does not compile: {reason}") from None
        progress(f"  -O{options.opt_level} failed ({reason[:120]}); compiling at -O0, one op per kernel")
        try:
            return self._compile_once(key, loaded, replace(options, opt_level=0, o0_granularity="aten"),
                                      f"-O{options.opt_level}: {reason}")
        except UserError as exc:
            raise CoEError(f"expert architecture {arch.name!r} does not compile: {' '.join(str(exc).split())}") from None

    def _compile_once(self, key: str, loaded, options, fallback: str) -> tuple[bytes, ProgramTiming]:
        """Compile and time one program: on the node (collectives simulated) when it is sharded; a
        loop program's timing is its first iteration's (one layer alone)."""
        from compiler.driver import compile_loaded
        from functional_sim import simulate
        from functional_sim.loop_run import iteration_program
        from functional_sim.node import simulate_node

        if isinstance(loaded, DecodeStep):
            bitstream, data, chip = loaded.compile(options)
        else:
            compiled = compile_loaded(loaded, options)
            bitstream, data, chip = compiled.bitstream, compiled.data, compiled.chip
        if bitstream.loop is not None:
            bitstream = iteration_program(bitstream, 0)
        clock = chip.clock_hz
        if options.node:
            node_sim = simulate_node(bitstream, None, chip=chip, execute=False)
            sim, collective = node_sim.socket, node_sim.collective_cycles / clock
        else:
            sim, collective = simulate(bitstream, None, chip=chip, execute=False), 0.0
        m = bitstream.manifest
        timing = ProgramTiming(key=key, seconds=sim.seconds, cycles=sim.cycles, kernels=len(bitstream.kernels),
                               pcus_used=m.get("pcus_used", 0), pmus_used=m.get("pmus_used", 0),
                               sram_bytes=int(m.get("sram_bytes", 0) or 0),
                               launch_seconds=sum(k.launch_cycles for k in sim.kernels) / clock,
                               fill_seconds=sum(k.fill_cycles for k in sim.kernels) / clock,
                               collective_seconds=collective, opt_level=options.opt_level, fallback=fallback)
        return data, timing


@dataclass(frozen=True)
class DecodeStep:
    """A MODEL.py causal LM's KV-cache decode step (compiler/generate.py): one token at a runtime
    position against a static cache of `cache_len` rows held in HBM as program state. The
    functional CoE feeds the prompt and then each new token through it, so one program per
    architecture serves every prompt length (no prefill program per length)."""

    path: Path
    wrapper: Any  # compiler.generate.CachedCausalLM
    cache_len: int

    @classmethod
    def of(cls, loaded, cache_len: int) -> "DecodeStep":
        from compiler.generate import cached_model

        return cls(loaded.path, cached_model(loaded.module, cache_len, loaded.path.name), cache_len)

    def compile(self, options) -> tuple[Any, bytes, Any]:
        """(bitstream, its bytes, the chip)."""
        import torch

        import bitstream_format
        from chip_model import load_chip
        from compiler.generate import compile_program

        bs = compile_program(self.wrapper, self.path.with_name(f"{self.path.stem}_decode.py"), torch.tensor([[0]]),
                             torch.tensor([0]), options)
        return bs, bitstream_format.encode(bs), load_chip(options.target_chip())


def node_reference(node: NodeSpec) -> str:
    """A bundled node by its name (so `bench.coe` and `rducc coe` share cached programs), any other
    by its file."""
    from chip_model.node import NODE_DIR

    source = node.source
    return node.name if not source or Path(source).resolve().parent == NODE_DIR.resolve() else source


def _chip_fingerprint(node: NodeSpec) -> str:
    source = node.chip.source if getattr(node.chip, "source", "") else node.chip.name
    try:
        return hashlib.sha256(Path(source).read_bytes()).hexdigest()[:16]
    except OSError:
        return node.chip.name
