"""The same model and options give byte-identical bitstreams; decoding and re-encoding is exact."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import bitstream_format
from compiler.driver import CompileOptions, compile_model

MODEL = Path(__file__).parents[1] / "examples" / "attention.py"


def test_same_model_same_bytes() -> None:
    a = compile_model(MODEL, CompileOptions(chip="small", opt_level=1)).data
    b = compile_model(MODEL, CompileOptions(chip="small", opt_level=1)).data
    assert a == b


MOVES = {"load", "store", "buffer", "full"}  # data movement and on-chip constants, not the model's operators


def _model_ops(bs: bitstream_format.Bitstream) -> Counter:
    return Counter(s.opcode for s in bs.stages if s.opcode not in MOVES)


def test_opt_level_changes_what_the_chip_executes() -> None:
    """-O0 and -O1 run the same operators, but -O0 gives each framework operator its own kernel
    (and with `o0_granularity="aten"` each aten op) with its operands and result in HBM, and -O1
    fuses them into streaming kernels. Compared on the decoded kernels, stages and streams: the
    manifest records the options, so whole files always differ."""
    aten = bitstream_format.decode(compile_model(MODEL, CompileOptions(chip="small", opt_level=0, o0_granularity="aten")).data)
    o0 = bitstream_format.decode(compile_model(MODEL, CompileOptions(chip="small", opt_level=0)).data)
    o1 = bitstream_format.decode(compile_model(MODEL, CompileOptions(chip="small", opt_level=1)).data)
    assert _model_ops(aten) == _model_ops(o0) == _model_ops(o1)
    computes_per_kernel = [Counter(s.kernel for s in bs.stages if s.opcode not in MOVES) for bs in (o0, o1)]
    assert set(Counter(s.kernel for s in aten.stages if s.opcode not in MOVES).values()) == {1}
    assert len(aten.kernels) == sum(_model_ops(aten).values())
    assert len(o1.kernels) < len(o0.kernels) < len(aten.kernels)
    assert max(computes_per_kernel[1].values()) > 1
    activations = [sum(t.role == "activation" for t in bs.tensors) for bs in (o0, o1)]
    assert activations[1] < activations[0]


def test_decode_encode_round_trip() -> None:
    data = compile_model(MODEL, CompileOptions(chip="small")).data
    bs = bitstream_format.decode(data)
    assert bitstream_format.encode(bs) == data
    assert bs.manifest["model"] == "attention"
    assert bs.chip == "small"
    assert all(v is not None for v in bs.image.values())
