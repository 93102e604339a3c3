"""The .npz helpers behind `rducc sim --inputs X.npz -o Y.npz`."""

import numpy as np
import pytest

from functional_sim import SimulationError, load_inputs_npz, save_outputs_npz, simulate
from tests.sim.builder import ProgramBuilder


def two_in_two_out():
    pb = ProgramBuilder()
    a = pb.tensor("a", "f32", (3,), role="input")
    b = pb.tensor("b", "bf16", (3,), role="input")
    k = pb.kernel()
    sa, sb = k.load(a), k.load(b)
    # `file` is a name np.savez could not take as a keyword
    k.store(k.op("add", sa, sb, out=("f32", (3,))), pb.tensor("file", "f32", (3,), role="output"))
    k.store(k.op("mul", sa, sb, out=("bf16", (3,))), pb.tensor("prod", "bf16", (3,), role="output"))
    return pb.build()


def test_inputs_by_name_or_position(tmp_path):
    bs = two_in_two_out()
    a, b = np.arange(3, dtype=np.float32), np.ones(3, np.float32)
    np.savez(tmp_path / "named.npz", b=b, a=a, extra=a)
    assert [g.tolist() for g in load_inputs_npz(tmp_path / "named.npz", bs)] == [a.tolist(), b.tolist()]
    np.savez(tmp_path / "partial.npz", a=a, arr_9=b)
    with pytest.raises(SimulationError, match="lacks input\\(s\\) 'b'"):
        load_inputs_npz(tmp_path / "partial.npz", bs)
    np.savez(tmp_path / "pos.npz", a, b)
    got = load_inputs_npz(tmp_path / "pos.npz", bs)
    assert [g.tolist() for g in got] == [a.tolist(), b.tolist()]


def test_outputs_saved_under_tensor_names_and_read_back(tmp_path):
    bs = two_in_two_out()
    a, b = np.arange(3, dtype=np.float32), np.full(3, 2, np.float32)
    result = simulate(bs, [a, b])
    save_outputs_npz(tmp_path / "out.npz", result, bs)
    with np.load(tmp_path / "out.npz") as out:
        assert sorted(out.files) == ["file", "prod"]
        assert out["file"].tolist() == [2, 3, 4] and out["prod"].dtype == np.float32
    # the saved file is itself a valid inputs file for a program whose inputs carry those names
    pb = ProgramBuilder()
    pb.tensor("prod", "f32", (3,), role="input")
    pb.tensor("file", "f32", (3,), role="input")
    assert [x.tolist() for x in load_inputs_npz(tmp_path / "out.npz", pb.build())] == [[0, 2, 4], [2, 3, 4]]


def test_timing_only_results_cannot_be_saved(tmp_path):
    bs = two_in_two_out()
    with pytest.raises(SimulationError, match="execute=False"):
        save_outputs_npz(tmp_path / "out.npz", simulate(bs, [], execute=False), bs)


def test_unreadable_inputs_file(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(SimulationError, match="cannot read inputs from"):
        load_inputs_npz(tmp_path / "bad.npz", two_in_two_out())
