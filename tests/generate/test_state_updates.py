"""Buffers mutated in place (index_copy_, index_put_, slice assignment, copy_) compile to
`store_rows` stages into state tensors, and a Session runs the program repeatedly over the same
memory: the state after each run equals the PyTorch module's buffer after the same calls."""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from backend_rdu.emit_bitstream import emit_bitstream
from compiler.driver import CompileOptions, import_named, lower_to_hardware
from compiler.frontend.capture import capture
from compiler.frontend.model_file import LoadedModel
from dialects.diagnostics import UnsupportedOpError
from functional_sim import SimulationError
from functional_sim.session import Session
from functional_sim.simulator import simulate

H, L, D = 2, 6, 4


class Cache(nn.Module):
    """A (H, L, D) cache written at the rows `pos` and read back through the update."""

    def __init__(self, how: str):
        super().__init__()
        self.how = how
        self.register_buffer("cache", torch.zeros(H, L, D))

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        if self.how == "index_copy":
            self.cache.index_copy_(1, pos, x)
        elif self.how == "index_put":
            self.cache[:, pos] = x
        elif self.how == "slice":
            self.cache[:, 2:4] = x
        elif self.how == "copy":
            self.cache.copy_(x)
        elif self.how == "add":
            self.cache.add_(x)
        elif self.how == "read_old":
            old = self.cache.sum()
            self.cache.index_copy_(1, pos, x)
            return (self.cache * 2).sum(-1) + old
        return (self.cache * 2).sum(-1) + pos.sum()


def compile_module(module: nn.Module, inputs: tuple[torch.Tensor, ...], opt_level: int = 1):
    """The module's bitstream, captured without running it (its buffers keep their values)."""
    loaded = LoadedModel(Path("cache.py"), module, inputs)
    options = CompileOptions(chip="small", opt_level=opt_level)
    return emit_bitstream(lower_to_hardware(import_named(loaded, capture(loaded)), options))


CASES = {  # how -> the x of each call (rows as wide as the update), positions
    "index_copy": (lambda: torch.randn(H, 1, D), [[3], [0], [5]]),
    "index_put": (lambda: torch.randn(H, 2, D), [[1, 4], [2, 3]]),
    "slice": (lambda: torch.randn(H, 2, D), [[0], [0]]),
    "copy": (lambda: torch.randn(H, L, D), [[0], [0]]),
}


@pytest.mark.parametrize("how", sorted(CASES))
def test_in_place_updates_persist_across_runs(how: str) -> None:
    torch.manual_seed(0)
    make_x, positions = CASES[how]
    module = Cache(how).eval()
    calls = [(make_x(), torch.tensor(p)) for p in positions]
    bs = compile_module(copy.deepcopy(module), calls[0])
    state = next(t for t in bs.tensors if t.name == "cache")
    assert state.role == "state" and state.offset == 0
    assert bs.image[state.id] == bytes(H * L * D * 4)  # captured from the untouched, all-zero buffer
    assert not any(s.opcode == "store" and s.tensor == state.id for s in bs.stages)  # never the whole cache
    session = Session("small")
    for x, pos in calls:
        with torch.no_grad():
            want = module(x, pos).numpy()
        got = session.run(bs, [x.numpy(), pos.numpy()]).outputs[0]
        np.testing.assert_allclose(got, want, rtol=1e-6)
        np.testing.assert_array_equal(session.state("cache"), module.cache.numpy())


def test_store_rows_writes_only_the_rows() -> None:
    """A decode-sized update rewrites H runs of D elements; every other byte keeps its value."""
    module = Cache("index_copy").eval()
    x, pos = torch.ones(H, 1, D), torch.tensor([2])
    bs = compile_module(module, (x, pos))
    session = Session("small")
    session.run(bs, [x.numpy(), pos.numpy()])
    hbm = session.memory.tiers["hbm"]
    state = next(t for t in bs.tensors if t.name == "cache")
    inside = [(a, n) for a, n in hbm.segments() if state.offset <= a < state.offset + state.nbytes]
    row = D * 4
    written = sorted(a - state.offset for a, n in inside if n == row)
    assert written == [(h * L + 2) * row for h in range(H)]
    assert sum(n for _, n in inside) == state.nbytes  # the image's bytes around them are intact


def test_simulate_alone_starts_from_the_image() -> None:
    """`simulate` (no session) runs once from the image: calling it twice gives the same output."""
    module = Cache("index_copy").eval()
    x, pos = torch.randn(H, 1, D), torch.tensor([1])
    bs = compile_module(module, (x, pos))
    first = simulate(bs, [x.numpy(), pos.numpy()], execute=True).outputs[0]
    again = simulate(bs, [x.numpy(), pos.numpy()], execute=True).outputs[0]
    np.testing.assert_array_equal(first, again)


def test_store_rows_rejects_a_row_outside_the_cache() -> None:
    """(The merge next to the update rejects it first in a compiled program; the stage checks too.)"""
    from bitstream_format import TensorEntry
    from chip_model import load_chip
    from functional_sim.memory import Memory
    from functional_sim.rows import store_rows

    t = TensorEntry(0, "cache", "f32", (H, L, D), "hbm", 0, H * L * D * 4, "state")
    with pytest.raises(SimulationError, match=r"stage 's' writes row 6 of tensor 'cache' \(id 0\), which has 6 rows along dim 1"):
        store_rows(Memory(load_chip("small")), t, np.zeros((H, 1, D), np.float32), np.array([6]), 1, "stage 's'")


@pytest.mark.parametrize(("how", "message"), [
    ("add", "the model updates buffer 'cache' in place with aten.add.Tensor; rducc supports index_copy_ / index_put_ on "
            "one dim, slice assignment, or copy_ of the whole buffer"),
    ("read_old", "in-place update of buffer 'cache': buffer 'cache' is read by rgraph.sum, which does not replace the "
                 "rows this op writes"),
])
def test_unsupported_updates_are_user_errors(how: str, message: str) -> None:
    with pytest.raises(UnsupportedOpError, match=message.replace("(", r"\(").replace(")", r"\)")) as info:
        compile_module(Cache(how).eval(), (torch.randn(H, 1, D), torch.tensor([0])))
    assert "test_state_updates.py" in str(info.value)  # the model line that mutates the buffer


class Counter(nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("count", torch.zeros((), dtype=torch.int64))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.count.add_(1)
        return x + self.count


def test_rank0_buffer_update_is_a_user_error() -> None:
    with pytest.raises(UnsupportedOpError, match="updates the rank-0 buffer 'count' in place"):
        compile_module(Counter().eval(), (torch.ones(3, dtype=torch.int64),))


def test_programs_sharing_state_must_place_it_alike() -> None:
    module = Cache("index_copy").eval()
    x = torch.randn(H, 1, D)
    bs = compile_module(module, (x, torch.tensor([0])))
    session = Session("small")
    session.run(bs, [x.numpy(), np.array([0])])
    moved = copy.copy(bs)
    moved.tensors = [t if t.role != "state" else type(t)(**{**t.__dict__, "offset": t.offset + 4096}) for t in bs.tensors]
    moved.__dict__.pop("_tensor_index", None)
    # the tile programs walk the state where it now is, so only the session's own check can object
    state = {t.id for t in bs.tensors if t.role == "state"}
    on_state = {s.id for s in bs.stages if s.tensor in state}
    moved.tiles = [dataclasses.replace(p, patterns=tuple(dataclasses.replace(q, offset=q.offset + 4096)
                                                         for q in p.patterns)) if p.stage in on_state else p
                   for p in bs.tiles]
    moved.__dict__.pop("_tile_index", None)
    with pytest.raises(SimulationError, match=r"state tensor 'cache' is f32\[2, 6, 4\] at hbm 0x1000 in this program but "
                                              r"f32\[2, 6, 4\] at hbm 0x0 in the session"):
        session.run(moved, [x.numpy(), np.array([0])])
    with pytest.raises(SimulationError, match=r"the session holds no state tensor 'nope' \(it holds: cache\)"):
        session.state("nope")


def test_the_interpreters_run_the_update() -> None:
    """bisect's interpreters: rgraph (value semantics, the update writes nothing) and rdu (the
    store_rows changes the state's rows) both give PyTorch's output."""
    from compiler.interpret import interpret

    module = Cache("index_copy").eval()
    x, pos = torch.randn(H, 1, D), torch.tensor([4])
    loaded = LoadedModel(Path("cache.py"), copy.deepcopy(module), (x, pos))
    graph = import_named(loaded, capture(loaded))
    with torch.no_grad():
        want = module(x, pos).numpy()
    lowered = lower_to_hardware(graph, CompileOptions(chip="small"))
    for ir in (graph.module, lowered):
        np.testing.assert_allclose(interpret(ir, [x.numpy(), pos.numpy()]).outputs[0], want, rtol=1e-6)


def test_unfused_update_is_a_kernel_of_its_own() -> None:
    """-O0: the update loads its rows and index from HBM in a kernel of its own, after the merge."""
    module = Cache("index_copy").eval()
    calls = [(torch.randn(H, 1, D), torch.tensor([p])) for p in (2, 5)]
    bs = compile_module(copy.deepcopy(module), calls[0], opt_level=0)
    kernel = next(k for k in bs.kernels if any(bs.stage(i).opcode == "store_rows" for i in k.stages))
    assert sorted(bs.stage(i).opcode for i in kernel.stages) == ["load", "load", "store_rows"]
    session = Session("small")
    for x, pos in calls:
        with torch.no_grad():
            want = module(x, pos).numpy()
        np.testing.assert_allclose(session.run(bs, [x.numpy(), pos.numpy()]).outputs[0], want, rtol=1e-6)
    np.testing.assert_array_equal(session.state("cache"), module.cache.numpy())
