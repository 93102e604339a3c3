"""rducc's MLIR-style dialects, built on xDSL: `rgraph` (tensor graph) and `rdu` (hardware)."""

from xdsl.context import Context
from xdsl.dialects.builtin import Builtin
from xdsl.dialects.func import Func

from dialects.rdu import RDU
from dialects.rgraph import RGraph


def make_context() -> Context:
    """A context that knows every dialect rducc's IR can contain."""
    ctx = Context()
    for dialect in (Builtin, Func, RGraph, RDU):
        ctx.load_dialect(dialect)
    return ctx


__all__ = ["RDU", "RGraph", "make_context"]
