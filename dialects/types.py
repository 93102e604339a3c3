"""Tensor types shared by both dialects, and their mapping to the bitstream's dtype names."""

from __future__ import annotations

from collections.abc import Iterable

from xdsl.dialects.builtin import (
    BFloat16Type,
    Float16Type,
    Float32Type,
    Float64Type,
    IntegerType,
    ShapedType,
    Signedness,
    TensorType,
)
from xdsl.ir import Attribute, SSAValue

_ELEMENT_TYPES: dict[str, Attribute] = {
    "f32": Float32Type(),
    "f16": Float16Type(),
    "bf16": BFloat16Type(),
    "f64": Float64Type(),
    "i64": IntegerType(64),
    "i32": IntegerType(32),
    "i16": IntegerType(16),
    "i8": IntegerType(8),
    "u8": IntegerType(8, Signedness.UNSIGNED),
    "i1": IntegerType(1),
}
_DTYPE_OF = {v: k for k, v in _ELEMENT_TYPES.items()}
FLOAT_DTYPES = ("f32", "f16", "bf16", "f64")


def element_type(dtype: str) -> Attribute:
    return _ELEMENT_TYPES[dtype]


def tensor_type(dtype: str, shape: tuple[int, ...] | list[int]) -> TensorType:
    return TensorType(_ELEMENT_TYPES[dtype], list(shape))


def dtype_of(t: Attribute) -> str:
    """The bitstream dtype name of a shaped type (tensor, rdu stream or memory) or an element type."""
    element = t.get_element_type() if isinstance(t, ShapedType) else t
    try:
        return _DTYPE_OF[element]
    except KeyError:
        raise ValueError(f"element type {element} is not supported") from None


def shape_of(t: Attribute) -> tuple[int, ...]:
    """The static shape of a tensor type or of an rdu stream or memory type."""
    assert isinstance(t, ShapedType)
    return tuple(t.get_shape())


def specs_of(values: Iterable[SSAValue]) -> list[tuple[str, tuple[int, ...]]]:
    """(dtype, shape) of each value: the operand lists `bitstream_format.tiling.compute_loop` and the
    opcode signature rules take (every pass that asks a stage's tile loop builds them)."""
    return [(dtype_of(v.type), shape_of(v.type)) for v in values]


def value_bytes(t: Attribute) -> int:
    """Bytes of a tensor of this type in memory."""
    from bitstream_format.model import nbytes_of

    return nbytes_of(dtype_of(t), shape_of(t))


def is_float(t: Attribute) -> bool:
    return dtype_of(t) in FLOAT_DTYPES
