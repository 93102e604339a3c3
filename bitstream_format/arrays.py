"""Tensor bytes <-> numpy arrays for every bitstream dtype.

bf16 has no numpy type: it is computed in float32 and stored as the upper 16 bits, rounded to
nearest even, which is what hardware (and PyTorch) do.
"""

from __future__ import annotations

import numpy as np

NUMPY_DTYPES: dict[str, np.dtype] = {
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


def numpy_dtype(dtype: str) -> np.dtype:
    """The numpy dtype values of `dtype` are computed in (float32 for bf16)."""
    return NUMPY_DTYPES[dtype]


def round_to_bf16(values: np.ndarray) -> np.ndarray:
    """Round to the nearest bf16 (ties to even), keeping float32 storage and the input's shape.

    `np.array(..., order="C")` rather than `np.ascontiguousarray`, which turns a 0-d value (every
    scalar constant, every full reduction) into shape (1,)."""
    bits = np.array(values, dtype=np.float32, order="C").view(np.uint32)
    rounded = bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))
    rounded = np.where(np.isnan(values), bits | np.uint32(0x00400000), rounded)
    return (rounded & np.uint32(0xFFFF0000)).view(np.float32)


def array_to_bytes(values: np.ndarray, dtype: str) -> bytes:
    if dtype == "bf16":
        return (round_to_bf16(values).view(np.uint32) >> np.uint32(16)).astype("<u2").tobytes()
    return np.array(values, dtype=NUMPY_DTYPES[dtype].newbyteorder("<"), order="C").tobytes()


def bytes_to_array(data: bytes, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    if dtype == "bf16":
        halves = np.frombuffer(data, dtype="<u2").astype(np.uint32) << np.uint32(16)
        return halves.view(np.float32).reshape(shape)
    return np.frombuffer(data, dtype=NUMPY_DTYPES[dtype].newbyteorder("<")).astype(NUMPY_DTYPES[dtype]).reshape(shape)
