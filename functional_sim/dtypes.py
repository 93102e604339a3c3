"""Stream values in numpy: the cast every produced value goes through, and memory bytes.

The byte layout (and bf16 emulation: float32 values rounded to nearest even, stored as the high
16 bits) is `bitstream_format.arrays`, shared with the backend that writes the memory image, so
the two sides cannot disagree about what a tensor's bytes mean.
"""

from __future__ import annotations

import numpy as np

from bitstream_format.arrays import NUMPY_DTYPES, array_to_bytes, bytes_to_array, round_to_bf16


def value_dtype(name: str) -> np.dtype:
    """The numpy dtype a value of bitstream dtype `name` is held in (float32 for bf16)."""
    return NUMPY_DTYPES[name]


def cast(value: np.ndarray, name: str) -> np.ndarray:
    """Cast a computed value to a bitstream dtype (C-style casts, like torch's `.to`)."""
    with np.errstate(all="ignore"):
        value = np.asarray(value)
        if name == "bf16":
            return round_to_bf16(value)
        return value.astype(NUMPY_DTYPES[name], copy=False)


def to_bytes(value: np.ndarray, name: str) -> bytes:
    """The memory image of a value of dtype `name` (little-endian, row-major)."""
    return array_to_bytes(cast(value, name), name)


def from_bytes(data: bytes, name: str, shape: tuple[int, ...]) -> np.ndarray:
    """Decode a memory image into a fresh, writable value array."""
    return bytes_to_array(data, name, shape)
