"""The HBM expert cache: which experts' weights are resident in HBM, and which to evict.

Every expert lives in DDR; running one needs its weights in HBM. A miss copies the expert from
DDR to HBM (the switch) after evicting residents until its bytes fit: eviction is size-aware (as
many victims as the new expert needs, not one). Which victim goes first is a policy, pluggable by
name (`POLICIES`): `lru` (the paper's and the default), `fifo`, `largest` (frees the most bytes
per eviction, so fewer experts are disturbed). A policy is a class with `touch`, `admit`,
`forget` and `victim`; add one to `POLICIES` to make it selectable from COE.toml.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field


class LRU:
    """Least recently used first."""

    def __init__(self) -> None:
        self.order: OrderedDict[str, None] = OrderedDict()

    def admit(self, name: str) -> None:
        self.order[name] = None

    def touch(self, name: str) -> None:
        self.order.move_to_end(name)

    def forget(self, name: str) -> None:
        self.order.pop(name, None)

    def victim(self, resident: dict[str, int]) -> str:
        return next(iter(self.order))


class FIFO(LRU):
    """First admitted first, whatever was used since."""

    def touch(self, name: str) -> None:
        pass


class Largest(LRU):
    """Largest resident first (least recently used among equals)."""

    def victim(self, resident: dict[str, int]) -> str:
        biggest = max(resident.values())
        return next(n for n in self.order if resident[n] == biggest)


POLICIES = {"lru": LRU, "fifo": FIFO, "largest": Largest}


@dataclass
class Access:
    hit: bool
    copied_bytes: int
    evicted: list[str] = field(default_factory=list)


class HBMExpertCache:
    def __init__(self, capacity_bytes: int, policy: str = "lru"):
        self.capacity = capacity_bytes
        self.policy = POLICIES[policy]()
        self.resident: dict[str, int] = {}
        self.used = 0
        self.hits = self.misses = self.evictions = 0

    def access(self, name: str, size: int) -> Access:
        """Make `name` resident; a miss evicts until `size` bytes fit and copies it in."""
        if name in self.resident:
            self.hits += 1
            self.policy.touch(name)
            return Access(True, 0)
        if size > self.capacity:
            raise ValueError(f"expert {name} ({size} bytes) is larger than the HBM expert cache ({self.capacity} bytes)")
        self.misses += 1
        evicted = []
        while self.used + size > self.capacity:
            victim = self.policy.victim(self.resident)
            self.used -= self.resident.pop(victim)
            self.policy.forget(victim)
            evicted.append(victim)
        self.evictions += len(evicted)
        self.resident[name] = size
        self.used += size
        self.policy.admit(name)
        return Access(False, size, evicted)
