"""The `.rbit` bitstream: its data model, its binary codec and the instruction set it configures.

This package is the whole contract between the backend (which writes bitstreams) and the
functional simulator (which reads them); it imports nothing from the compiler.
"""

from bitstream_format.codec import MAGIC, VERSION, BitstreamError, decode, encode, read_sections
from bitstream_format.model import (
    DTYPES,
    Bitstream,
    KernelEntry,
    Pattern,
    SectionEntry,
    StageConfig,
    StreamEntry,
    TensorEntry,
    TileProgram,
    itemsize,
    nbytes_of,
)
from bitstream_format.opcodes import OPCODES, Opcode, opcode, work_flops
from bitstream_format.signatures import SignatureError, check_signature

__all__ = [
    "DTYPES", "MAGIC", "OPCODES", "VERSION", "Bitstream", "BitstreamError", "KernelEntry", "Opcode", "Pattern", "TileProgram",
    "SectionEntry", "SignatureError", "StageConfig", "StreamEntry", "TensorEntry", "decode", "encode", "itemsize",
    "check_signature", "nbytes_of", "opcode", "read_sections", "work_flops",
]
