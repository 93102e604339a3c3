"""Off-chip memories as sparse byte-addressed spaces with the chip's capacities.

A 64 GB HBM cannot be a bytearray, and the compiler reuses addresses for tensors with disjoint
lifetimes, so memory is a sorted set of written segments keyed by address: a write replaces
(and splits) whatever it overlaps, a read must be wholly covered by earlier writes.
"""

from __future__ import annotations

from bisect import bisect_right, insort

from bitstream_format import TensorEntry
from chip_model import ChipSpec

from functional_sim.errors import SimulationError

OFF_CHIP = ("hbm", "ddr")


class AddressSpace:
    """One tier: bytes at addresses [0, capacity), remembered only where written."""

    def __init__(self, tier: str, capacity: int) -> None:
        self.tier = tier
        self.capacity = capacity
        self._starts: list[int] = []
        self._data: dict[int, bytes] = {}

    def _check_range(self, addr: int, size: int, what: str) -> None:
        if addr < 0 or addr + size > self.capacity:
            raise SimulationError(
                f"{what}: {size} bytes at {self.tier} address {addr:#x} exceed the "
                f"{self.capacity}-byte {self.tier} capacity"
            )

    def write(self, addr: int, data: bytes, what: str) -> None:
        size = len(data)
        self._check_range(addr, size, what)
        if size == 0:
            return
        end = addr + size
        i = max(bisect_right(self._starts, addr) - 1, 0)
        while i < len(self._starts) and self._starts[i] < end:
            start = self._starts[i]
            old = self._data[start]
            old_end = start + len(old)
            if old_end <= addr:
                i += 1
                continue
            del self._starts[i], self._data[start]
            if start < addr:  # keep the part before the new write
                self._data[start] = old[: addr - start]
                self._starts.insert(i, start)
                i += 1
            if old_end > end:  # keep the part after it
                self._data[end] = old[end - start :]
                insort(self._starts, end)
        self._data[addr] = bytes(data)
        insort(self._starts, addr)

    def read(self, addr: int, size: int, what: str) -> bytes:
        self._check_range(addr, size, what)
        parts: list[bytes] = []
        pos, end = addr, addr + size
        while pos < end:
            i = bisect_right(self._starts, pos) - 1
            start = self._starts[i] if i >= 0 else -1
            seg = self._data.get(start, b"")
            if start < 0 or start + len(seg) <= pos:
                raise SimulationError(
                    f"{what} reads {self.tier} address {pos:#x}, which was never written "
                    f"(range {addr:#x}..{end:#x})"
                )
            take = min(start + len(seg), end)
            parts.append(seg[pos - start : take - start])
            pos = take
        return b"".join(parts)

    def segments(self) -> list[tuple[int, int]]:
        """(address, size) of every written segment, in address order (for tests and debugging)."""
        return [(s, len(self._data[s])) for s in self._starts]


def describe(t: TensorEntry) -> str:
    return f"tensor {t.name!r} (id {t.id})"


class Memory:
    """HBM and DDR of one chip; tensors are read and written at their (tier, offset)."""

    def __init__(self, chip: ChipSpec) -> None:
        self.tiers = {name: AddressSpace(name, chip.tier(name).capacity_bytes) for name in OFF_CHIP}

    def space(self, t: TensorEntry) -> AddressSpace:
        if t.tier not in self.tiers:
            raise SimulationError(f"{describe(t)} lives in tier {t.tier!r}; tensors must live in hbm or ddr")
        return self.tiers[t.tier]

    def write_tensor(self, t: TensorEntry, data: bytes) -> None:
        self.space(t).write(t.offset, data, describe(t))

    def read_tensor(self, t: TensorEntry, size: int) -> bytes:
        return self.space(t).read(t.offset, size, describe(t))
