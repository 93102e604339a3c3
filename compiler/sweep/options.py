"""The one place a sweep point becomes the driver's `CompileOptions` (and simulation options).

Axes without a dot are options. Compile options are exactly the fields of
`compiler.driver.CompileOptions` other than `chip` (read from the dataclass, so a field the driver
gains becomes an axis with no change here); `tp` shards a bench workload; `launch` is the
simulator's launch mode, so points that differ only in it share one compile.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from compiler.sweep.errors import SweepError

SWEEP_OPTIONS: dict[str, Any] = {"tp": 1}
SIM_OPTIONS: dict[str, Any] = {"launch": "software"}
LAUNCH_MODES = ("software", "hardware")


def compile_option_defaults() -> dict[str, Any]:
    from compiler.driver import CompileOptions

    # node/tp (tensor-parallel compile, docs/node.md) are not sweep axes yet: the sweep's own `tp` shards bench shapes
    return {f.name: f.default for f in dataclasses.fields(CompileOptions) if f.name not in ("chip", "node", "tp")}


def option_names() -> list[str]:
    return [*compile_option_defaults(), *SWEEP_OPTIONS, *SIM_OPTIONS]


def check_option(name: str, value: Any) -> None:
    defaults = {**compile_option_defaults(), **SWEEP_OPTIONS, **SIM_OPTIONS}
    if name not in defaults:
        raise SweepError(f"axis {name!r} is neither a chip spec field (dotted, e.g. pmu.sram_bytes) nor an option; "
                         f"options are: {', '.join(option_names())}")
    default = defaults[name]
    if type(value) is not type(default) and not (isinstance(default, float) and type(value) is int):
        raise SweepError(f"axis {name}: value {value!r} is {_kind(value)}, but {name} takes {_kind(default)} (e.g. {default!r})")
    if name == "launch" and value not in LAUNCH_MODES:
        raise SweepError(f"axis launch: {value!r} is not a launch mode ({', '.join(LAUNCH_MODES)})")
    if name == "tp" and value < 1:
        raise SweepError(f"axis tp: {value} is not a positive number of sockets")


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(type(value), type(value).__name__)


def split_options(values: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, Any]]:
    """(compile options, tp, simulation options) of a point, defaults filled in."""
    compile_opts = {k: values.get(k, v) for k, v in compile_option_defaults().items()}
    sim = {k: values.get(k, v) for k, v in SIM_OPTIONS.items()}
    return compile_opts, values.get("tp", SWEEP_OPTIONS["tp"]), sim


def compile_options(chip_path: str, options: dict[str, Any]):
    """The driver's options for one point: the chip (a spec file path) and the option axes."""
    from compiler.driver import CompileOptions

    return CompileOptions(chip=chip_path, **options)
