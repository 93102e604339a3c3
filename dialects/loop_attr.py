"""`#rdu.layer_loop<layers 3, carry [0 -> 0], per_layer [4, 5], launch hardware>`: the program runs as a loop.

The paper runs a whole decoder as one kernel (§VI, §VIII): the identical layers are one
configuration run L times, each time with that layer's weights. rducc compiles the one layer and
says so on the module (`rdu.layer_loop`, set by `rdu-layer-loop`): how many iterations, which
result of the function feeds which argument of the next iteration (`carry`: the hidden state),
which arguments every iteration has its own value of (`per_layer`: its KV cache) and how the loop
is launched. Every weight (and state) is per layer. The backend turns it into the bitstream's
LOOP section (backend_rdu/emit_loop.py).

With `body` (a module path, `layers.0`), the function is a whole model step and only the ops of
that module are the loop: what runs before them is the prologue (the embedding), what runs after
the epilogue (final norm, LM head, sampling); the carried value is the one that enters the body and
the one that leaves it (`carry` is then empty: it is derived, not given), and only the body's
weights are per layer: `#rdu.layer_loop<layers 32, carry [], per_layer [4, 5], launch hardware, body layers.0>`.
"""

from __future__ import annotations

from xdsl.dialects.builtin import ArrayAttr, IntAttr, ModuleOp, StringAttr
from xdsl.ir import Attribute, ParametrizedAttribute
from xdsl.irdl import irdl_attr_definition, param_def
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.utils.exceptions import VerifyException

LOOP_ATTR = "rdu.layer_loop"
LAUNCHES = ("hardware", "software")


@irdl_attr_definition
class LayerLoopAttr(ParametrizedAttribute):
    name = "rdu.layer_loop"

    layers_param: IntAttr = param_def()
    carry_param: ArrayAttr[IntAttr] = param_def()  # flattened (result, argument) pairs
    per_layer_param: ArrayAttr[IntAttr] = param_def()
    launch_param: StringAttr = param_def()
    body_param: StringAttr = param_def()  # "" : the whole function is the loop; else the body's module path

    def __init__(self, layers: int, carry: tuple[tuple[int, int], ...], per_layer: tuple[int, ...] = (),
                 launch: str = "hardware", body: str = ""):
        super().__init__(IntAttr(layers), ArrayAttr([IntAttr(v) for pair in carry for v in pair]),
                         ArrayAttr([IntAttr(v) for v in per_layer]), StringAttr(launch), StringAttr(body))

    @property
    def body(self) -> str:
        return self.body_param.data

    @property
    def layers(self) -> int:
        return self.layers_param.data

    @property
    def carry(self) -> tuple[tuple[int, int], ...]:
        flat = [a.data for a in self.carry_param.data]
        return tuple(zip(flat[::2], flat[1::2]))

    @property
    def per_layer(self) -> tuple[int, ...]:
        return tuple(a.data for a in self.per_layer_param.data)

    @property
    def launch(self) -> str:
        return self.launch_param.data

    def verify(self) -> None:
        if self.layers < 1:
            raise VerifyException(f"#rdu.layer_loop: needs at least 1 layer, got {self.layers}")
        if len(self.carry_param.data) % 2 or (not self.carry_param.data and not self.body):
            raise VerifyException("#rdu.layer_loop: needs carried (result -> argument) pairs (or a body)")
        if self.carry_param.data and self.body:
            raise VerifyException("#rdu.layer_loop: a loop with a body derives its carry: give carry []")
        if self.launch not in LAUNCHES:
            raise VerifyException(f"#rdu.layer_loop: launch {self.launch!r} is not one of {', '.join(LAUNCHES)}")
        both = set(self.per_layer) & {n for _, n in self.carry}
        if both:
            raise VerifyException(f"#rdu.layer_loop: argument {min(both)} is both carried and per layer")

    @classmethod
    def parse_parameters(cls, parser: AttrParser) -> list[Attribute]:
        with parser.in_angle_brackets():
            parser.parse_keyword("layers")
            layers = parser.parse_integer()
            parser.parse_punctuation(",")
            parser.parse_keyword("carry")
            flat: list[int] = []

            def pair() -> None:
                flat.append(parser.parse_integer())
                parser.parse_punctuation("->")
                flat.append(parser.parse_integer())

            parser.parse_comma_separated_list(parser.Delimiter.SQUARE, pair)  # [] for a body's loop
            parser.parse_punctuation(",")
            parser.parse_keyword("per_layer")
            per_layer = parser.parse_comma_separated_list(parser.Delimiter.SQUARE, parser.parse_integer)
            parser.parse_punctuation(",")
            parser.parse_keyword("launch")
            launch = parser.parse_identifier()
            body = ""
            if parser.parse_optional_punctuation(",") is not None:
                parser.parse_keyword("body")
                body = parser.parse_str_literal()
        return [IntAttr(layers), ArrayAttr([IntAttr(v) for v in flat]), ArrayAttr([IntAttr(v) for v in per_layer]),
                StringAttr(launch), StringAttr(body)]

    def print_parameters(self, printer: Printer) -> None:
        carry = ", ".join(f"{o} -> {n}" for o, n in self.carry)
        per_layer = ", ".join(map(str, self.per_layer))
        body = f", body {self.body!r}".replace("'", '"') if self.body else ""
        printer.print_string(f"<layers {self.layers}, carry [{carry}], per_layer [{per_layer}], launch {self.launch}{body}>")


def loop_of(module: ModuleOp) -> LayerLoopAttr | None:
    """The module's layer loop, None when it is not one."""
    attr = module.attributes.get(LOOP_ATTR)
    return attr if isinstance(attr, LayerLoopAttr) else None
