"""The HBM expert cache: which experts' weights are resident in HBM, and which to evict.

Every expert lives in DDR; running one needs its weights in HBM. A miss copies the expert from
DDR to HBM (the switch) after evicting residents until its bytes fit: eviction is size-aware (as
many victims as the new expert needs, not one). Which victim goes first is a policy, pluggable by
name (`POLICIES`, selectable as `cache_policy` in COE.toml or `--cache-policy` on `rducc coe
serve`). A policy is any class with the `EvictionPolicy` protocol's four methods, built from the
trace's future accesses (`make_policy`); only an offline policy looks at them:

- `lru` (the paper's, and the default): least recently used first;
- `fifo`: first admitted first, whatever was used since;
- `largest`: largest resident first (frees the most bytes per eviction, so fewer experts are
  disturbed);
- `lfu`: fewest uses first, counted over the whole trace so far (a popular expert keeps its
  count while evicted), least recently used among equals: it keeps the few hot experts of a
  skewed trace that a burst of one-off experts would flush out of an LRU cache;
- `belady`: the offline optimum as a bound (Belady's MIN): the resident whose next use is
  farthest in the future, or never. It needs the whole access sequence, which the server knows
  because routing does not depend on the cache (compiler/coe/serve.py routes first). With
  experts of one size nothing online misses less; with mixed sizes it is a close bound.
"""

from __future__ import annotations

from collections import Counter, OrderedDict, defaultdict, deque
from dataclasses import dataclass, field
from typing import Protocol, Sequence


class EvictionPolicy(Protocol):
    """What the cache tells a policy, and the one question it asks. Every access is exactly one
    `touch` (a hit) or one `admit` (a miss, after the evictions it needed)."""

    def admit(self, name: str) -> None: ...

    def touch(self, name: str) -> None: ...

    def forget(self, name: str) -> None: ...

    def victim(self, resident: dict[str, int]) -> str: ...


class LRU:
    """Least recently used first."""

    def __init__(self, future: Sequence[str] | None = None) -> None:
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


class LFU(LRU):
    """Fewest uses over the trace so far first (least recently used among equals)."""

    def __init__(self, future: Sequence[str] | None = None) -> None:
        super().__init__(future)
        self.uses: Counter[str] = Counter()

    def admit(self, name: str) -> None:
        super().admit(name)
        self.uses[name] += 1

    def touch(self, name: str) -> None:
        super().touch(name)
        self.uses[name] += 1

    def victim(self, resident: dict[str, int]) -> str:
        fewest = min(self.uses[n] for n in self.order)
        return next(n for n in self.order if self.uses[n] == fewest)


class Belady(LRU):
    """Offline: the resident used again farthest in the future (or never) first."""

    def __init__(self, future: Sequence[str] | None = None) -> None:
        super().__init__(future)
        if future is None:
            raise ValueError("the belady policy needs the trace's future accesses")
        self.next_uses: dict[str, deque[int]] = defaultdict(deque)
        for i, name in enumerate(future):
            self.next_uses[name].append(i)

    def _advance(self, name: str) -> None:
        uses = self.next_uses.get(name)
        if not uses:
            raise ValueError(f"expert {name} is accessed beyond the future the belady policy was given")
        uses.popleft()

    def admit(self, name: str) -> None:
        super().admit(name)
        self._advance(name)

    def touch(self, name: str) -> None:
        super().touch(name)
        self._advance(name)

    def victim(self, resident: dict[str, int]) -> str:
        never = float("inf")
        return max(self.order, key=lambda n: self.next_uses[n][0] if self.next_uses.get(n) else never)


POLICIES: dict[str, type] = {"lru": LRU, "fifo": FIFO, "largest": Largest, "lfu": LFU, "belady": Belady}


def make_policy(name: str, future: Sequence[str] | None = None) -> EvictionPolicy:
    """The policy called `name`; `future` is the sequence of experts the trace will access."""
    return POLICIES[name](future)


@dataclass
class Access:
    hit: bool
    copied_bytes: int
    evicted: list[str] = field(default_factory=list)


class HBMExpertCache:
    def __init__(self, capacity_bytes: int, policy: str = "lru", future: Sequence[str] | None = None):
        self.capacity = capacity_bytes
        self.policy = make_policy(policy, future)
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
