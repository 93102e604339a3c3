"""The same model and options give byte-identical bitstreams; decoding and re-encoding is exact."""

from __future__ import annotations

from pathlib import Path

import bitstream_format
from compiler.driver import CompileOptions, compile_model

MODEL = Path(__file__).parents[1] / "examples" / "attention.py"


def test_same_model_same_bytes() -> None:
    a = compile_model(MODEL, CompileOptions(chip="small", opt_level=1)).data
    b = compile_model(MODEL, CompileOptions(chip="small", opt_level=1)).data
    assert a == b


def test_options_change_the_bytes() -> None:
    a = compile_model(MODEL, CompileOptions(chip="small", opt_level=0)).data
    b = compile_model(MODEL, CompileOptions(chip="small", opt_level=1)).data
    assert a != b


def test_decode_encode_round_trip() -> None:
    data = compile_model(MODEL, CompileOptions(chip="small")).data
    bs = bitstream_format.decode(data)
    assert bitstream_format.encode(bs) == data
    assert bs.manifest["model"] == "attention"
    assert bs.chip == "small"
    assert all(v is not None for v in bs.image.values())
