"""Off-chip memory: sparse segments, later writes win, unwritten reads and capacity are errors."""

import numpy as np
import pytest

from functional_sim import SimulationError, simulate
from functional_sim.memory import AddressSpace


def test_overlapping_writes_split_segments_and_later_write_wins():
    mem = AddressSpace("hbm", 1 << 36)
    mem.write(100, b"a" * 10, "t0")
    mem.write(104, b"bb", "t1")
    assert mem.read(100, 10, "r") == b"aaaabbaaaa"
    assert mem.segments() == [(100, 4), (104, 2), (106, 4)]
    mem.write(90, b"c" * 30, "t2")  # swallows everything
    assert mem.segments() == [(90, 30)]
    mem.write(120, b"dd", "t3")  # adjacent segments read as one range
    assert mem.read(118, 4, "r") == b"ccdd"


def test_sparse_space_holds_far_apart_writes():
    mem = AddressSpace("hbm", 64 << 30)
    mem.write(0, b"x", "lo")
    mem.write((64 << 30) - 1, b"y", "hi")
    assert mem.read((64 << 30) - 1, 1, "r") == b"y"


def test_read_of_unwritten_bytes_names_the_address():
    mem = AddressSpace("ddr", 4096)
    mem.write(0, b"1234", "t")
    with pytest.raises(SimulationError, match=r"tensor 'h' \(id 3\) reads ddr address 0x4, which was never written"):
        mem.read(0, 8, "tensor 'h' (id 3)")


def test_write_beyond_capacity_is_refused():
    mem = AddressSpace("hbm", 16)
    with pytest.raises(SimulationError, match="exceed the 16-byte hbm capacity"):
        mem.write(12, b"12345", "t")


def test_load_of_never_written_tensor_is_an_error(pb):
    x = pb.tensor("x", "f32", (4,), role="input")
    scratch = pb.tensor("scratch", "f32", (4,))
    y = pb.tensor("y", "f32", (4,), role="output")
    k = pb.kernel()
    a, b = k.load(x), k.load(scratch)
    k.store(k.op("add", a, b, out=("f32", (4,))), y)
    with pytest.raises(SimulationError, match=r"tensor 'scratch' \(id 1\) reads hbm address 0x40, which was never written"):
        simulate(pb.build(), [np.ones(4, np.float32)])


def test_tensor_beyond_capacity_names_tensor_size_and_capacity(pb):
    pb.tensor("big", "f32", (1024,), role="weight", tier="hbm", offset=(256 << 20) - 1024)
    with pytest.raises(SimulationError, match=r"tensor 'big' \(id 0\) of 4096 bytes .* exceeds the hbm capacity of 268435456 bytes"):
        simulate(pb.build(), [], execute=False)


def test_tensors_sharing_an_address_in_sequence(pb):
    """The compiler reuses addresses for disjoint lifetimes: each load sees the latest store."""
    x = pb.tensor("x", "f32", (4,), role="input")
    a = pb.tensor("a", "f32", (4,), tier="ddr", offset=4096)
    b = pb.tensor("b", "f32", (4,), tier="ddr", offset=4096, role="output")  # same bytes as `a`
    out1 = pb.tensor("out1", "f32", (4,), role="output")
    k0 = pb.kernel("write_a")
    k0.store(k0.op("neg", k0.load(x), out=("f32", (4,))), a)
    k1 = pb.kernel("read_a")
    k1.store(k1.op("abs", k1.load(a), out=("f32", (4,))), out1)
    k2 = pb.kernel("write_b")
    xs = k2.load(x)
    k2.store(k2.op("add", xs, xs, out=("f32", (4,))), b)
    x_val = np.array([1, -2, 3, -4], np.float32)
    r = simulate(pb.build(), [x_val])
    np.testing.assert_array_equal(r.outputs[0], 2 * x_val)
    np.testing.assert_array_equal(r.outputs[1], np.abs(x_val))


def test_image_is_loaded_and_inputs_overwrite_it(pb):
    w = pb.tensor("w", "i32", (3,), role="weight", value=np.array([1, 2, 3], np.int32))
    x = pb.tensor("x", "i32", (3,), role="input", value=np.zeros(3, np.int32))
    y = pb.tensor("y", "i32", (3,), role="output")
    k = pb.kernel()
    k.store(k.op("mul", k.load(w), k.load(x), out=("i32", (3,))), y)
    (out,) = simulate(pb.build(), [np.array([5, 6, 7], np.int32)]).outputs
    assert out.tolist() == [5, 12, 21]
