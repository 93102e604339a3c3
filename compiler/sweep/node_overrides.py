"""Node specs with fields overridden by dotted name (`network.link_bytes_per_second`, `sockets`),
and their chip's fields by `chip.<dotted name>` (`chip.pmu.sram_bytes`).

The same machinery as a chip's (compiler/sweep/chip_overrides.py: overrides applied to the TOML
data, type-checked against the base value, the result checked by chip_model's own loader), with
the node's field names. Under a node the chip's fields carry a `chip.` prefix because both specs
have a `[network]` table: `network.link_bytes_per_second` is the node's peer link,
`chip.network.vector_tracks` the chip's on-die network.

A node file names its chip; the overridden node names the overridden chip's materialized file
relatively, `../chips/<chip hash>.toml`, so the node's text (and its hash, which therefore covers
the chip) does not depend on where the cache lives: `<cache>/nodes/<node hash>.toml`.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from chip_model import ChipSpecError
from chip_model.node import NODE_DIR, load_node_file

from compiler.sweep.chip_overrides import (OverriddenChip, apply_overrides, base_chip_path, base_spec_path,
                                           field_names, label_overridden, load_chip_data, spec_hash,
                                           to_toml)
from compiler.sweep.errors import SweepError

CHIP_PREFIX = "chip."
NOT_AXES = ("name", "description", "chip")
"""Node keys that are not figures: its names, and its chip (whose fields are `chip.*` axes)."""


def base_node_path(node: str, relative_to: Path | None = None) -> Path:
    """A bundled node's file (`sn40l-node8`, `small-node8`, ...), or a `.toml` path (relative to
    the sweep file's folder)."""
    return base_spec_path(node, NODE_DIR, "node", relative_to)


def node_field_names(data: dict[str, Any]) -> list[str]:
    """The node's own axes: its top-level figures and its `[network]` fields."""
    return [n for n in field_names(data) if n not in NOT_AXES]


def node_chip_path(data: dict[str, Any], node_path: Path) -> Path:
    """The chip a node file names: bundled, or a `.toml` path relative to the node file."""
    chip = data.get("chip")
    if not isinstance(chip, str):
        raise SweepError(f"node spec {node_path} names no chip (chip = \"sn40l\" or a .toml path)")
    return base_chip_path(chip, node_path.parent)


class OverriddenNode:
    """A base node with node and chip overrides applied, checked by chip_model's node loader."""

    def __init__(self, base: Path, overrides: dict[str, Any], chip_overrides: dict[str, Any]):
        raw = load_chip_data(base)
        self.chip = OverriddenChip(node_chip_path(raw, base), chip_overrides, prefix=CHIP_PREFIX)
        data = apply_overrides(raw, overrides, what="node spec", names=node_field_names(raw))
        data["chip"] = f"../chips/{self.chip.digest}.toml"
        self.digest = spec_hash(data)
        every = {**overrides, **{CHIP_PREFIX + k: v for k, v in chip_overrides.items()}}
        self.name = label_overridden(data, base, self.digest, every)
        self.text = to_toml(data)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "chips").mkdir()
            (Path(tmp) / "nodes").mkdir()
            (Path(tmp) / "chips" / f"{self.chip.digest}.toml").write_text(self.chip.text)
            path = Path(tmp) / "nodes" / "node.toml"
            path.write_text(self.text)
            try:
                self.spec = load_node_file(path)
            except ChipSpecError as exc:
                where = ", ".join(f"{k} = {v!r}" for k, v in every.items()) or str(base)
                raise SweepError(f"node with {where} is not valid: {str(exc).replace(str(path) + ': ', '')}") from None
