"""The one place a sweep point becomes the driver's `CompileOptions` (and simulation options).

Axes without a dot are options (under a node, its top-level figures such as `sockets` are node
fields instead; compiler/sweep/points.py routes names). Compile options are exactly the fields of
`compiler.driver.CompileOptions` other than `chip` and `node`, which the sweep's target sets (read
from the dataclass, so a field the driver gains becomes an axis with no change here): `opt_level`,
`seed`, `placer`, `fifo_depth`, `tile_bytes`, `tile_scale` and `tp`, the tensor-parallel degree
(`rdu-shard{tp=N}` over the sweep's node). `launch` is the simulator's launch mode, so points that
differ only in it share one compile.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from compiler.sweep.errors import SweepError

SIM_OPTIONS: dict[str, Any] = {"launch": "software"}
LAUNCH_MODES = ("software", "hardware")
TARGET_FIELDS = ("chip", "node")


def compile_option_defaults() -> dict[str, Any]:
    from compiler.driver import CompileOptions

    return {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()  # placer: a factory
            for f in dataclasses.fields(CompileOptions) if f.name not in TARGET_FIELDS}


def option_names() -> list[str]:
    return [*compile_option_defaults(), *SIM_OPTIONS]


def check_option(name: str, value: Any, node: bool) -> None:
    """`name` is an option and `value` has its type; `node`: whether the sweep has a node (tp > 1
    needs one: tensor parallelism runs over a node's sockets)."""
    defaults = {**compile_option_defaults(), **SIM_OPTIONS}
    if name not in defaults:
        fields = "a node spec field (e.g. sockets, network.link_bytes_per_second) or chip.<field>" if node else \
            "a chip spec field (dotted, e.g. pmu.sram_bytes)"
        raise SweepError(f"axis {name!r} is neither {fields} nor an option; options are: {', '.join(option_names())}")
    default = defaults[name]
    if type(value) is not type(default) and not (isinstance(default, float) and type(value) is int):
        raise SweepError(f"axis {name}: value {value!r} is {_kind(value)}, but {name} takes {_kind(default)} (e.g. {default!r})")
    if name == "launch" and value not in LAUNCH_MODES:
        raise SweepError(f"axis launch: {value!r} is not a launch mode ({', '.join(LAUNCH_MODES)})")
    if name == "tp" and value < 1:
        raise SweepError(f"axis tp: {value} is not a positive number of sockets")
    if name == "tp" and value > 1 and not node:
        raise SweepError(f"axis tp: tp={value} runs over the sockets of a node: start the sweep from one "
                         "(node = \"small-node8\" in [sweep] instead of chip)")


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(type(value), type(value).__name__)


def split_options(values: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(compile options, simulation options) of a point, defaults filled in."""
    compile_opts = {k: values.get(k, v) for k, v in compile_option_defaults().items()}
    sim = {k: values.get(k, v) for k, v in SIM_OPTIONS.items()}
    return compile_opts, sim


def compile_options(chip_path: str, options: dict[str, Any], node_path: str | None = None):
    """The driver's options for one point: the chip (a spec file path), or the node (a node file
    path, whose chip is compiled for), and the option axes."""
    from compiler.driver import CompileOptions

    return CompileOptions(chip=chip_path, node=node_path, **options)
