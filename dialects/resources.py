"""Weights as module resources: tensor bytes stored with the IR, not beside it.

A module that carries its weights is the whole compile: `rducc import m.py` prints them in the
`{-# dialect_resources #-}` section and `rducc emit` reads them back, so text in the middle of a
pipeline loses nothing. The bytes live in xDSL's builtin-dialect blob storage (the
`OpAsmDialectInterface`), referenced from the IR by `dense_resource<key>` attributes.

Keys name their content: `<hint>_<16 hex digits of a SHA-256 of the blob>`. Storing the same
bytes twice under one hint gives the same key (repeated compiles in one process do not pile up
renamed copies), and parsing a module whose key is already stored reuses the entry instead of
renaming it to `key_0`, so print -> parse -> print is the identity within one process too. Keys
not of that form (hand-written IR) keep xDSL's behaviour: a second declaration is renamed.

Blob text is MLIR's: "0x", the alignment as 4 little-endian bytes, then the data, all in hex.
"""

from __future__ import annotations

import hashlib
import re

from xdsl.dialect_interfaces.op_asm import OpAsmDialectInterface
from xdsl.dialects.builtin import Builtin, DenseResourceAttr, TensorType

from dialects.diagnostics import RduccError

_HASH_DIGITS = 16
_CONTENT_KEY = re.compile(rf"^(?P<hint>.*)_(?P<digest>[0-9a-f]{{{_HASH_DIGITS}}})$")
_ALIGNMENT = 16  # bytes; every dtype's itemsize divides it


def _digest(blob: str) -> str:
    return hashlib.sha256(blob.encode()).hexdigest()[:_HASH_DIGITS]


def _is_content_key(key: str) -> bool:
    return _CONTENT_KEY.match(key) is not None


class ContentKeyedResources(OpAsmDialectInterface):
    """The builtin dialect's blob storage, where a content-hash key means one blob wherever it appears."""

    def declare_resource(self, key: str) -> str:
        if _is_content_key(key) and key in self._blob_storage:
            return key
        return super().declare_resource(key)

    def parse_resource(self, key: str, val: str) -> None:
        match = _CONTENT_KEY.match(key)
        if match is not None and _digest(val) != match["digest"]:
            raise ValueError(f"resource {key} does not hold the blob its key names (was it edited?)")
        super().parse_resource(key, val)


def _storage() -> OpAsmDialectInterface:
    """The builtin dialect's blob storage, made content-keyed once per process."""
    interfaces = Builtin._interfaces  # noqa: SLF001 - xDSL keeps a dialect's interfaces here
    for i, interface in enumerate(interfaces):
        if isinstance(interface, ContentKeyedResources):
            return interface
        if isinstance(interface, OpAsmDialectInterface):
            keyed = ContentKeyedResources()
            keyed._blob_storage.update(interface._blob_storage)  # noqa: SLF001
            interfaces[i] = keyed
            return keyed
    keyed = ContentKeyedResources()
    interfaces.append(keyed)
    return keyed


_STORAGE = _storage()


def _sanitise(hint: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.]", "_", hint) or "blob"
    return name if not name[0].isdigit() and name[0] != "." else f"_{name}"


def store_resource(key_hint: str, data: bytes, type: TensorType) -> DenseResourceAttr:  # noqa: A002 - MLIR's word
    """Put `data` in the module-resource storage and return the attribute that references it."""
    blob = "0x" + _ALIGNMENT.to_bytes(4, "little").hex() + data.hex()
    key = f"{_sanitise(key_hint)}_{_digest(blob)}"
    if _STORAGE.lookup(key) != blob:
        _STORAGE._blob_storage[key] = blob  # noqa: SLF001 - declare_resource would rename an existing key
    return DenseResourceAttr.from_params(key, type)


def resource_bytes(attr: DenseResourceAttr) -> bytes:
    """The data a `dense_resource` attribute references (without MLIR's alignment header)."""
    key = attr.resource_handle.data
    blob = _STORAGE.lookup(key)
    if not blob:
        raise RduccError(f"the module carries no data for resource {key!r} (its dialect_resources section is missing it)")
    return bytes.fromhex(blob[2 + 8:])
