"""Bitstream dtype names <-> numpy: value dtypes, byte encoding, and bf16 emulation.

numpy has no bfloat16, so bf16 values live in float32 arrays whose values are exactly
representable in bf16 (rounded to nearest even); in memory they take 2 bytes, the high half of
the float32 bit pattern. Every other dtype maps onto a numpy dtype; i1 is numpy bool.
"""

from __future__ import annotations

import numpy as np

# value dtype (what a stream value is in numpy) and storage dtype (its bytes in memory, little-endian)
VALUE_DTYPES: dict[str, np.dtype] = {
    "f32": np.dtype(np.float32),
    "f16": np.dtype(np.float16),
    "bf16": np.dtype(np.float32),
    "f64": np.dtype(np.float64),
    "i64": np.dtype(np.int64),
    "i32": np.dtype(np.int32),
    "i16": np.dtype(np.int16),
    "i8": np.dtype(np.int8),
    "u8": np.dtype(np.uint8),
    "i1": np.dtype(np.bool_),
}
STORAGE_DTYPES: dict[str, np.dtype] = {
    "f32": np.dtype("<f4"),
    "f16": np.dtype("<f2"),
    "bf16": np.dtype("<u2"),
    "f64": np.dtype("<f8"),
    "i64": np.dtype("<i8"),
    "i32": np.dtype("<i4"),
    "i16": np.dtype("<i2"),
    "i8": np.dtype("i1"),
    "u8": np.dtype("u1"),
    "i1": np.dtype("u1"),
}
_BF16_NAN = np.uint32(0x7FC00000)


def value_dtype(name: str) -> np.dtype:
    return VALUE_DTYPES[name]


def round_bf16(x: np.ndarray) -> np.ndarray:
    """Round to bf16 precision (round to nearest even), returned as float32.

    Adding 0x7FFF plus the lowest kept bit to the float32 pattern and truncating is exact
    round-to-nearest-even; NaNs are canonicalised first because the carry could turn them into
    infinities or flip the sign.
    """
    f = np.ascontiguousarray(x, dtype=np.float32)
    bits = f.view(np.uint32)
    rounded = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
    return np.where(np.isnan(f), _BF16_NAN, rounded).astype(np.uint32).view(np.float32)


def cast(value: np.ndarray, name: str) -> np.ndarray:
    """Cast a computed value to a bitstream dtype (C-style casts, like torch's `.to`)."""
    with np.errstate(all="ignore"):
        if name == "bf16":
            return round_bf16(np.asarray(value))
        return np.asarray(value).astype(VALUE_DTYPES[name], copy=False)


def to_bytes(value: np.ndarray, name: str) -> bytes:
    """The memory image of a value of dtype `name` (little-endian, row-major)."""
    value = cast(value, name)
    if name == "bf16":
        return (np.ascontiguousarray(value).view(np.uint32) >> np.uint32(16)).astype("<u2").tobytes()
    return np.ascontiguousarray(value).astype(STORAGE_DTYPES[name], copy=False).tobytes()


def from_bytes(data: bytes, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Decode a memory image into a fresh, writable value array."""
    raw = np.frombuffer(data, dtype=STORAGE_DTYPES[name])
    if name == "bf16":
        out = (raw.astype(np.uint32) << np.uint32(16)).view(np.float32)
    elif name == "i1":
        out = raw != 0
    else:
        out = raw.astype(VALUE_DTYPES[name])
    return out.reshape(shape)
