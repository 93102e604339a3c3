"""The chip as data: one declarative TOML spec per chip (and per node of
sockets), loaded into a typed, validated ChipSpec (NodeSpec).

Every pass, the backend and the functional simulator read chip facts from here, never from
constants of their own. The simulator may import this package (and the bitstream format) only.
"""

from chip_model.node import NodeSpec, NodeSpecError, PeerNetwork, available_nodes, is_node, load_node, load_node_file
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
    "NodeSpec",
    "NodeSpecError",
    "PeerNetwork",
    "MemoryTier",
    "NetworkSpec",
    "PcuSpec",
    "PmuSpec",
    "Site",
    "available_chips",
    "available_nodes",
    "is_node",
    "load_chip",
    "load_chip_file",
    "load_node",
    "load_node_file",
]
