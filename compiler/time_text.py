"""How a report writes a modelled time: kept apart from the run report so `rducc sim`, which
imports no compiler, writes it the same way."""

from __future__ import annotations


def modeled_time(seconds: float) -> str:
    """A modelled time in the unit that reads best: "13.12 us", "232.27 ms", "1.50 s" (a 32-layer
    prefill in microseconds was "232273.83 us")."""
    if seconds < 1e-3:
        return f"{seconds * 1e6:.2f} us"
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"
