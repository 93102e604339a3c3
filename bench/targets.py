"""The benches' targets and paper figures, read from `bench/targets.json`.

Why a JSON file: a target is a claim of an issue or a figure of the paper, not a property of the
code that measures it, so it lives in one place with its source and never in a timed test (the
project brief: "Timing targets live in `bench/` (JSON), never in timed tests"). Each bench asks
for its targets by literal key (`target("simulator.timing_only_seconds")`), so
tests/bench/test_targets.py can check, without running a bench, that every key read exists.

An entry carries exactly one judgement:
- `at_most` / `at_least`: a limit;
- `band` [low, high] (`above_ok`: in or above the band counts);
- `paper`: a published figure; with `tolerance`, within that relative distance counts, without
  it the figure is reported beside the measurement and never judged (`within` is None).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

TARGETS_PATH = Path(__file__).with_name("targets.json")
JUDGEMENTS = ("at_most", "at_least", "band", "paper")
FIELDS = {"what", "unit", "source", "above_ok", "tolerance", *JUDGEMENTS}


@dataclass(frozen=True)
class Target:
    key: str
    what: str
    unit: str
    source: str
    at_most: float | None = None
    at_least: float | None = None
    band: tuple[float, float] | None = None
    above_ok: bool = False
    paper: float | None = None
    tolerance: float | None = None

    def within(self, measured: float) -> bool | None:
        """Whether `measured` meets the target; None for a paper figure without a tolerance."""
        if self.at_most is not None:
            return measured <= self.at_most
        if self.at_least is not None:
            return measured >= self.at_least
        if self.band is not None:
            low, high = self.band
            return measured >= low and (self.above_ok or measured <= high)
        if self.tolerance is None:
            return None
        return abs(measured / self.paper - 1) <= self.tolerance

    def describe(self) -> str:
        """The target in words, as a JSON report shows it ("at most 60 s")."""
        unit = {"x": "x", "fraction": ""}.get(self.unit, f" {self.unit}")
        if self.at_most is not None:
            return f"at most {self.at_most:g}{unit}"
        if self.at_least is not None:
            return f"at least {self.at_least:g}{unit}"
        if self.band is not None:
            return f"{self.band[0]:g}-{self.band[1]:g}{unit}" + (" or above" if self.above_ok else "")
        spread = f" +-{self.tolerance:.0%}" if self.tolerance is not None else ""
        return f"paper {self.paper:g}{unit}{spread}"

    def judge(self, measured: float) -> dict[str, Any]:
        """The measurement next to its target, for a bench's JSON."""
        return {"measured": measured, "target": self.describe(), "within_target": self.within(measured),
                "source": self.source}


def parse_target(key: str, entry: dict[str, Any]) -> Target:
    """One entry of targets.json; a malformed one is a ValueError naming its key."""
    unknown = set(entry) - FIELDS
    if unknown:
        raise ValueError(f"bench/targets.json: {key}: unknown field(s) {sorted(unknown)}")
    missing = [f for f in ("what", "unit", "source") if not entry.get(f)]
    if missing:
        raise ValueError(f"bench/targets.json: {key}: missing {', '.join(missing)}")
    kinds = [j for j in JUDGEMENTS if j in entry]
    if len(kinds) != 1:
        raise ValueError(f"bench/targets.json: {key}: needs exactly one of {', '.join(JUDGEMENTS)}, has {kinds or 'none'}")
    if "tolerance" in entry and kinds != ["paper"]:
        raise ValueError(f"bench/targets.json: {key}: tolerance goes with a paper figure only")
    if "above_ok" in entry and kinds != ["band"]:
        raise ValueError(f"bench/targets.json: {key}: above_ok goes with a band only")
    band = entry.get("band")
    if band is not None and (len(band) != 2 or band[0] > band[1]):
        raise ValueError(f"bench/targets.json: {key}: band must be [low, high], is {band}")
    return Target(key, entry["what"], entry["unit"], entry["source"], entry.get("at_most"), entry.get("at_least"),
                  tuple(band) if band is not None else None, bool(entry.get("above_ok", False)), entry.get("paper"),
                  entry.get("tolerance"))


def load_targets(path: Path = TARGETS_PATH) -> dict[str, Target]:
    data = json.loads(path.read_text())
    return {key: parse_target(key, entry) for key, entry in data["targets"].items()}


@cache
def _targets() -> dict[str, Target]:
    return load_targets()


def target(key: str) -> Target:
    """The target under `key` in bench/targets.json (a KeyError names a key the file lacks)."""
    try:
        return _targets()[key]
    except KeyError:
        raise KeyError(f"bench/targets.json has no target {key!r}") from None
