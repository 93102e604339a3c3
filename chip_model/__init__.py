"""The chip as data: one declarative TOML spec per chip, loaded into a typed, validated ChipSpec.

Every pass, the backend and the functional simulator read chip facts from here, never from
constants of their own. The simulator may import this package (and the bitstream format) only.
"""

from chip_model.spec import (
    AgcuSpec,
    ChipSpec,
    ChipSpecError,
    GridSpec,
    LaunchSpec,
    MemoryTier,
    NetworkSpec,
    PcuSpec,
    PmuSpec,
    Site,
    available_chips,
    load_chip,
    load_chip_file,
)

__all__ = [
    "AgcuSpec",
    "ChipSpec",
    "ChipSpecError",
    "GridSpec",
    "LaunchSpec",
    "MemoryTier",
    "NetworkSpec",
    "PcuSpec",
    "PmuSpec",
    "Site",
    "available_chips",
    "load_chip",
    "load_chip_file",
]
