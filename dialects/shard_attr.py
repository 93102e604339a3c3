"""`#rdu.shard<dim 0, parts 4>`: which part of a whole tensor each socket of a node holds.

Tensor-parallel compilation (`rdu-shard`, issue 12) compiles one program that every socket runs
(SPMD); what differs between sockets is data. A weight split Megatron-style keeps its whole value
once in the IR and the bitstream, and this attribute says how it is cut: along `dim` into `parts`
equal slices, socket `s` holding slice `s // (sockets // parts)` (parts < sockets duplicates a
slice on neighbouring sockets). The op's result type is one slice; its `value` is the whole.
"""

from __future__ import annotations

from xdsl.dialects.builtin import IntAttr
from xdsl.ir import Attribute, ParametrizedAttribute
from xdsl.irdl import irdl_attr_definition, param_def
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException


@irdl_attr_definition
class ShardAttr(ParametrizedAttribute):
    name = "rdu.shard"

    dim_param: IntAttr = param_def()
    parts_param: IntAttr = param_def()
    blocks_param: IntAttr = param_def()

    def __init__(self, dim: int, parts: int, blocks: int = 1):
        super().__init__(IntAttr(dim), IntAttr(parts), IntAttr(blocks))

    @property
    def blocks(self) -> int:
        """`dim` is `blocks` equal blocks (a fused QKV or gate-up weight), each cut into `parts`:
        a socket holds its part of every block, in block order."""
        return self.blocks_param.data

    @property
    def dim(self) -> int:
        return self.dim_param.data

    @property
    def parts(self) -> int:
        return self.parts_param.data

    def verify(self) -> None:
        if self.dim < 0 or self.parts < 2 or self.blocks < 1:
            raise VerifyException(f"#rdu.shard: needs dim >= 0 and parts >= 2, got dim {self.dim}, parts {self.parts}")

    def local_shape(self, whole: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of one part of a whole of shape `whole`."""
        shape = list(whole)
        shape[self.dim] //= self.parts
        return tuple(shape)

    def check(self, whole: tuple[int, ...], local: tuple[int, ...], who: str) -> None:
        if self.dim >= len(whole):
            raise VerifyException(f"{who}: shard dim {self.dim} is out of range for a whole of shape {whole}")
        if whole[self.dim] % (self.parts * self.blocks):
            raise VerifyException(f"{who}: dim {self.dim} of size {whole[self.dim]} does not split into "
                                  f"{self.blocks} block(s) of {self.parts} parts")
        if self.local_shape(whole) != tuple(local):
            raise VerifyException(f"{who}: one of {self.parts} parts of {whole} along dim {self.dim} is "
                                  f"{self.local_shape(whole)}, not {tuple(local)}")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            parser.parse_keyword("dim")
            dim = parser.parse_integer()
            parser.parse_punctuation(",")
            parser.parse_keyword("parts")
            parts = parser.parse_integer()
            blocks = 1
            if parser.parse_optional_punctuation(","):
                parser.parse_keyword("blocks")
                blocks = parser.parse_integer()
        return [IntAttr(dim), IntAttr(parts), IntAttr(blocks)]

    def print_parameters(self, printer: Printer) -> None:
        blocks = f", blocks {self.blocks}" if self.blocks != 1 else ""
        printer.print_string(f"<dim {self.dim}, parts {self.parts}{blocks}>")
